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

/// Creates `dir` and its missing ancestors, fsyncing the parent of each one it
/// creates. A new directory's entry is durable only once its parent is fsynced
/// (POSIX; ext4 usually commits it with the first fsync of a file inside, other file
/// systems need not): without it a power cut can take the directory away with every
/// segment and snapshot synced into it. No system call beyond a stat when `dir`
/// exists, so the snapshot writer may call it each time.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty()) {
        if std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            // Made by someone else in between; its entry still wants the fsync below.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StorageError::io(d, "create_dir", e)),
        }
        sync_dir(parent_of(d))?;
    }
    Ok(())
}

/// [`create_dir`], then an fsync of `dir`'s parent even when `dir` existed: recovery
/// calls it once per start, so a directory made by a run that died between its
/// mkdir and that fsync (or by a build without it) is durable before anything in it
/// is acknowledged.
pub(crate) fn create_dir_synced(dir: &Path) -> Result<()> {
    create_dir(dir)?;
    sync_dir(parent_of(dir))
}

/// The directory holding `path`'s entry ("." for a bare relative name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
