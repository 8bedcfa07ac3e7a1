//! Durable storage: the txn log (`log`), snapshots (`snapshot`), crash recovery
//! (`recovery`) and purge (`purge`). ZooKeeper's `FileTxnLog`, `FileSnap` and
//! `FileTxnSnapLog`, with our own formats (documented in `log` and `snapshot`).
//!
//! Owns files in `dataDir` (snapshots) and `dataLogDir` (log segments) and nothing
//! else. Synchronous std code: the server calls it from its quorum core and issues the
//! `fdatasync` of each batch itself (io_uring) from [`TxnLog::pending_sync`]. Never
//! skips corruption silently: the only damage repaired is a torn last record of the
//! newest log segment (logged with `tracing::warn!`); everything else is a
//! [`StorageError`] naming the file and offset.

mod error;
pub mod log;
mod names;
mod purge;
pub mod recovery;
pub mod snapshot;

pub use error::StorageError;
pub use log::{SyncTarget, TxnLog, PREALLOC_BYTES_DEFAULT};
pub use purge::{purge, Purged};
pub use recovery::{recover, recover_with, RecoverOptions, Recovered};
pub use snapshot::{read_snapshot, write_snapshot, SnapshotContents};

/// Result of every storage operation.
pub type Result<T> = std::result::Result<T, StorageError>;

#[cfg(test)]
mod tests;
