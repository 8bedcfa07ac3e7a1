//! `StorageError`: fatal storage errors (STYLE item 7c). Every variant names the file
//! and, where there is one, the byte offset. The server stops serving on any of them;
//! an fsync failure is never retried.

use std::path::PathBuf;

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
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}
