//! Durable storage: the txn log (`log`), snapshots (`snapshot`), crash recovery
//! (`recovery`), purge (`purge`), and for replication the log read and cut by zxid
//! (`log_edit`) and the epoch files (`epochs`). ZooKeeper's `FileTxnLog`, `FileSnap` and
//! `FileTxnSnapLog`, with our own formats (documented in `log` and `snapshot`).
//!
//! Owns files in `dataDir` (snapshots) and `dataLogDir` (log segments) and nothing
//! else. Synchronous std code: the server calls it from its quorum core and issues the
//! `fdatasync` of each batch itself (io_uring) from [`TxnLog::pending_sync`]. Never
//! skips corruption silently: the only damage repaired is a torn last record of the
//! newest log segment (logged with `tracing::warn!`); everything else is a
//! [`StorageError`] naming the file and offset.
//!
//! # Use (the quorum core)
//!
//! - Start: [`recover_with`] → tree, sessions, `last_zxid`, and the [`TxnLog`] to
//!   append to; the next zxid must exceed `last_zxid`. Then
//!   [`TxnLog::make_spare_now`] before serving: its [`StorageError::NoSpace`] says
//!   the disk has no room for the log to grow.
//! - Each batch: [`TxnLog::append_batch`] (memcpy only) → each [`TxnLog::next_job`]
//!   awaited through [`TxnLog::start_job`], its result to [`TxnLog::finish_job`] →
//!   `let t = log.pending_sync()` → `fdatasync` each `t[i].fd` (`fsync` where
//!   `full_fsync`, the directory after a segment was named) through io_uring → when
//!   all succeeded, [`TxnLog::mark_synced`]`(&t)` → commit, apply, reply; and each
//!   [`TxnLog::background_jobs`] on a blocking thread, not waited for. A failed sync
//!   or job is fatal: stop serving, never retry. (`forceSync=no`: skip the syncs,
//!   still `mark_synced`.)
//! - Every `snapCount` txns: [`write_snapshot`] of a frozen tree version (exact: every
//!   txn up to its zxid, none after), off the cores, then [`purge`] with
//!   `autopurge.snapRetainCount`. Optionally [`TxnLog::roll`] first
//!   so purge can free the older segments sooner.
//! - Blocking syscalls: only in the jobs the log hands out (creating, renaming,
//!   truncating segments), [`TxnLog::sync`] and [`TxnLog::run_jobs`] (tests, tools),
//!   [`TxnLog::remove_segments_before`] and [`purge`] (unlink + directory fsync: run
//!   purge off the core). `append` and `roll` make none.

pub mod epochs;
mod error;
mod lock;
pub mod log;
pub mod log_edit;
mod names;
mod purge;
pub mod recovery;
pub mod snapshot;
pub mod space;
pub mod zk;

pub use epochs::{load_epochs, write_epoch, Epochs, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
pub use error::{is_no_space_io, StorageError};
pub use lock::{DirLock, LOCK_FILE};
pub use log::{write_zeros, SyncTarget, TxnLog, PREALLOC_BYTES_DEFAULT};
pub use log_edit::{
    newest_snapshot_bytes, read_log_after, remove_log, remove_snapshots_after, truncate_log_after,
    Truncated,
};
pub use purge::{purge, Purged};
pub use recovery::{recover, recover_with, RecoverOptions, Recovered};
pub use snapshot::{
    read_snapshot, write_snapshot, SnapshotContents, SnapshotEncoder, SnapshotFile,
};

/// Result of every storage operation.
pub type Result<T> = std::result::Result<T, StorageError>;

#[cfg(test)]
mod tests;
