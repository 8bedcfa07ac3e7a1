//! Purge (`autopurge`, ZooKeeper's `PurgeTxnLog`): keep the newest snapshots and the
//! log segments needed to replay from the oldest kept one; delete the rest.
//!
//! Never deletes the newest snapshot or a segment that may hold a record after the
//! oldest kept snapshot's zxid.

use std::path::Path;

use super::log::remove_segments_before;
use super::names::{self, SNAPSHOT_PREFIX};
use super::{Result, StorageError};

/// What a purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    pub snapshots: usize,
    pub segments: usize,
}

/// Keeps the `retain_snapshots` newest snapshots (at least 1) in `data_dir` and the
/// segments of `log_dir` that replay from the oldest of them; removes the others and
/// fsyncs the directories (blocking: run it off the quorum core or rarely). Without a
/// snapshot nothing is removed.
pub fn purge(data_dir: &Path, log_dir: &Path, retain_snapshots: usize) -> Result<Purged> {
    let snaps = names::list(data_dir, SNAPSHOT_PREFIX)?;
    let keep = retain_snapshots.max(1);
    if snaps.is_empty() {
        return Ok(Purged::default());
    }
    let cut = snaps.len().saturating_sub(keep);
    let oldest_kept_zxid = snaps[cut].0;
    // Segments first: if we crash in between, the extra snapshots are harmless.
    let segments = remove_segments_before(log_dir, oldest_kept_zxid)?;
    for (_, path) in &snaps[..cut] {
        std::fs::remove_file(path).map_err(|e| StorageError::io(path, "remove snapshot", e))?;
    }
    if cut > 0 {
        names::sync_dir(data_dir)?;
    }
    Ok(Purged {
        snapshots: cut,
        segments,
    })
}
