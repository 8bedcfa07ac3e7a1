//! `StorageError`: fatal storage errors (STYLE item 7c). Every variant names the file
//! and, where there is one, the byte offset. The server stops serving on any of them;
//! an fsync failure is never retried.

use std::path::PathBuf;

use super::space::{kib, FreeSpace};
use crate::proto::codec::DecodeError;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} offset {offset}: bad file header: {reason}")]
    BadHeader {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path} offset {offset}: corrupt log record: {reason}")]
    CorruptRecord {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path} offset {offset}: log record does not decode: {source}")]
    Decode {
        path: PathBuf,
        offset: u64,
        #[source]
        source: DecodeError,
    },
    #[error("{path} offset {offset}: zxid {zxid:#x} does not follow {prev:#x}")]
    ZxidOrder {
        path: PathBuf,
        offset: u64,
        zxid: i64,
        prev: i64,
    },
    #[error("{path} offset {offset}: corrupt snapshot: {reason}")]
    CorruptSnapshot {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "{dir}: snapshot {snapshot:?} (zxid {snapshot_zxid:#x}) is not followed by the log: \
         the oldest segment starts at zxid {first_log_zxid:#x}"
    )]
    LogGap {
        dir: PathBuf,
        snapshot: PathBuf,
        snapshot_zxid: i64,
        first_log_zxid: i64,
    },
    #[error("no usable snapshot in {dir}: newest error: {newest}")]
    NoUsableSnapshot {
        dir: PathBuf,
        newest: Box<StorageError>,
    },
    #[error(
        "{dir} is in use by another process ({holder}); two servers on one data \
         directory destroy each other's log. Stop that process first, or give this one a \
         dataDir (and dataLogDir) of its own"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error("{path}: log record of {len} bytes exceeds the limit of {max}")]
    RecordTooLarge {
        path: PathBuf,
        len: usize,
        max: usize,
    },
    /// The log cannot make its next segment for lack of space: what an operator must
    /// free, or how to need less.
    #[error(
        "the txn log in {dir} cannot grow: a new log segment needs {} KiB (preAllocSize) and \
         {}; free space there, or lower preAllocSize (in KiB) in zoo.cfg ({source})",
        kib(*needed_bytes),
        describe_space(space)
    )]
    NoSpace {
        dir: PathBuf,
        needed_bytes: u64,
        space: Option<FreeSpace>,
        #[source]
        source: Box<StorageError>,
    },
}

fn describe_space(space: &Option<FreeSpace>) -> String {
    match space {
        Some(s) => format!(
            "the file system has {} KiB free ({} KiB counting the blocks reserved for root)",
            kib(s.available_bytes),
            kib(s.free_bytes)
        ),
        None => "statvfs cannot say how much is free".to_owned(),
    }
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// Whether this is a file system out of space (ENOSPC) or over its quota (EDQUOT):
    /// an operator can fix it by freeing space, and nothing else is wrong.
    pub fn is_no_space(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => is_no_space_io(source),
            StorageError::NoSpace { .. } => true,
            _ => false,
        }
    }
}

/// ENOSPC or EDQUOT.
pub fn is_no_space_io(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}
