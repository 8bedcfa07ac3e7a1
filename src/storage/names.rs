//! File names: `log.<zxid>` and `snapshot.<zxid>`, the zxid as 16 lower-case hex
//! digits (so names sort by zxid), as ZooKeeper names its files; and
//! `log.prealloc.<n>`, a preallocated log segment not yet named after a record (see
//! the `//!` block of `log.rs`), which no listing of segments ever returns.

use std::path::{Path, PathBuf};

use super::{Result, StorageError};

pub(crate) const LOG_PREFIX: &str = "log.";
pub(crate) const SNAPSHOT_PREFIX: &str = "snapshot.";
/// Not `log.` + 16 hex digits, so [`list`] never takes it for a segment.
pub(crate) const PREALLOC_PREFIX: &str = "log.prealloc.";

pub(crate) fn file_name(prefix: &str, zxid: i64) -> String {
    format!("{prefix}{:016x}", zxid as u64)
}

/// The zxid in `name` if it is `<prefix><16 hex digits>` exactly.
pub(crate) fn parse_name(prefix: &str, name: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

/// Files named `<prefix><zxid>` in `dir`, sorted by zxid ascending. Other files
/// (temp files, ZooKeeper's `version-2`, ...) are ignored.
pub(crate) fn list(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, "read_dir", e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io(dir, "read_dir", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(zxid) = parse_name(prefix, name) {
            out.push((zxid, entry.path()));
        }
    }
    out.sort_by_key(|(z, _)| *z as u64);
    Ok(out)
}

/// `log.prealloc.<n>`.
pub(crate) fn prealloc_name(n: u64) -> String {
    format!("{PREALLOC_PREFIX}{n}")
}

/// Preallocated segment files (`log.prealloc.*`) in `dir`, in no particular order.
pub(crate) fn list_preallocated(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| StorageError::io(dir, "read_dir", e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io(dir, "read_dir", e))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREALLOC_PREFIX))
        {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// fsync of a directory, so a created, renamed or removed entry is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(|e| StorageError::io(dir, "open dir", e))?;
    f.sync_all()
        .map_err(|e| StorageError::io(dir, "fsync dir", e))
}

pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, "create_dir_all", e))
}
