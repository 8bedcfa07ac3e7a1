//! Reading and cutting a closed txn log by zxid, for replication: a ZAB leader sends a
//! learner the txns after the learner's last zxid (DIFF), and a learner whose log
//! holds txns the leader never committed cuts them off (TRUNC), as ZooKeeper's
//! `FileTxnLog.read` and `FileTxnLog.truncate` do.
//!
//! Both work on the segment files with `read`, like recovery, on a log no `TxnLog`
//! is appending to: truncation happens before a learner appends anything of a new
//! leadership, and reading from a live log sees unsynced records, which must not be
//! sent to anyone.

use std::fs::OpenOptions;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::log::{check_header, first_needed_segment, scan_records};
use super::names::{self, LOG_PREFIX};
use super::recovery::{check_no_missing_segment, read_segment};
use super::{Result, StorageError};
use crate::txn::{Txn, TxnHeader};

/// What `truncate_log_after` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Truncated {
    /// The segment cut, and the offset it was cut at.
    pub cut: Option<(PathBuf, u64)>,
    /// Segments removed whole (every record in them was after the zxid).
    pub removed: Vec<PathBuf>,
}

/// The size in bytes of the newest snapshot in `data_dir`, if there is one
/// (`FileTxnSnapLog.findMostRecentSnapshot().length()`).
pub fn newest_snapshot_bytes(data_dir: &Path) -> Result<Option<u64>> {
    let snaps = names::list(data_dir, names::SNAPSHOT_PREFIX)?;
    let Some((_, path)) = snaps.last() else {
        return Ok(None);
    };
    let meta = std::fs::metadata(path).map_err(|e| StorageError::io(path, "stat", e))?;
    Ok(Some(meta.len()))
}

/// Calls `each` with every record of the log in `log_dir` whose zxid is above
/// `after`, in zxid order, until it answers `Break` (no later segment is read then).
/// Returns the zxid of the last record given to `each` (`after` if none). A segment
/// missing in the middle is an error, as in recovery.
pub fn read_log_after(
    log_dir: &Path,
    after: i64,
    mut each: impl FnMut(TxnHeader, Txn) -> Result<ControlFlow<()>>,
) -> Result<i64> {
    let segs = names::list(log_dir, LOG_PREFIX)?;
    let start = first_needed_segment(&segs, after);
    let mut bytes = Vec::new();
    let mut prev = i64::MIN;
    let mut last = after;
    let newest = segs.len().saturating_sub(1);
    let mut stopped = false;
    for (i, (first, path)) in segs.iter().enumerate().skip(start) {
        check_no_missing_segment(path, prev, *first)?;
        read_segment(path, &mut bytes)?;
        check_header(path, &bytes, i == newest)?;
        let end = scan_records(path, &bytes, i == newest, *first, prev, |_, hdr, txn| {
            if !stopped && hdr.zxid > after {
                last = hdr.zxid;
                stopped = each(hdr, txn)?.is_break();
            }
            Ok(())
        })?;
        if stopped {
            break;
        }
        if let Some(z) = end.last_zxid {
            prev = z;
        }
    }
    Ok(last)
}

/// Removes every record after `zxid` from the log in `log_dir`: the segment holding
/// the next record is cut before it (`ftruncate` + `fsync`), later segments are
/// removed, and the directory is fsynced. The log must hold the record `zxid` itself,
/// or nothing after it: cutting at a zxid the log never had would leave a history
/// that is neither ours nor the leader's (ZooKeeper's learner exits on a failed
/// truncation; here it is an error for the caller to act on).
pub fn truncate_log_after(log_dir: &Path, zxid: i64) -> Result<Truncated> {
    let segs = names::list(log_dir, LOG_PREFIX)?;
    let mut done = Truncated::default();
    let mut bytes = Vec::new();
    let mut prev = i64::MIN;
    let mut found = zxid == 0;
    let newest = segs.len().saturating_sub(1);
    // From the segment holding `zxid` (the last one starting at or before it).
    let start = first_needed_segment(&segs, zxid.saturating_sub(1));
    for (i, (first, path)) in segs.iter().enumerate().skip(start) {
        if *first > zxid {
            if !found {
                return Err(not_in_log(path, zxid));
            }
            std::fs::remove_file(path).map_err(|e| StorageError::io(path, "remove segment", e))?;
            done.removed.push(path.clone());
            continue;
        }
        check_no_missing_segment(path, prev, *first)?;
        read_segment(path, &mut bytes)?;
        check_header(path, &bytes, i == newest)?;
        let mut cut_at = None;
        let end = scan_records(path, &bytes, i == newest, *first, prev, |offset, hdr, _| {
            if hdr.zxid == zxid {
                found = true;
            } else if hdr.zxid > zxid && cut_at.is_none() {
                cut_at = Some(offset);
            }
            Ok(())
        })?;
        if let Some(z) = end.last_zxid {
            prev = z;
        }
        if let Some(offset) = cut_at {
            if !found {
                return Err(not_in_log(path, zxid));
            }
            cut(path, offset)?;
            done.cut = Some((path.clone(), offset));
        }
    }
    if !done.removed.is_empty() {
        names::sync_dir(log_dir)?;
    }
    Ok(done)
}

/// Removes every segment of the log in `log_dir` and fsyncs the directory; returns how
/// many were removed. For a learner that received a SNAP: the snapshot replaces its
/// whole history, and a record the log kept after the snapshot's zxid would be
/// replayed on top of it at the next start.
pub fn remove_log(log_dir: &Path) -> Result<usize> {
    let segs = names::list(log_dir, LOG_PREFIX)?;
    for (_, path) in &segs {
        std::fs::remove_file(path).map_err(|e| StorageError::io(path, "remove segment", e))?;
    }
    if !segs.is_empty() {
        names::sync_dir(log_dir)?;
    }
    Ok(segs.len())
}

fn not_in_log(path: &Path, zxid: i64) -> StorageError {
    StorageError::CorruptRecord {
        path: path.to_owned(),
        offset: 0,
        reason: format!("cannot truncate after zxid {zxid:#x}: the log holds no such txn"),
    }
}

fn cut(path: &Path, offset: u64) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, "open segment", e))?;
    file.set_len(offset)
        .map_err(|e| StorageError::io(path, "truncate segment", e))?;
    file.sync_all()
        .map_err(|e| StorageError::io(path, "fsync truncated segment", e))
}

/// Removes every snapshot in `snap_dir` taken after `zxid` and fsyncs the directory;
/// returns how many were removed. TRUNC's other half: a snapshot written while this
/// server held txns the leader never committed (at a start, say) holds them too, and
/// recovery would start from it and undo the cut.
pub fn remove_snapshots_after(snap_dir: &Path, zxid: i64) -> Result<usize> {
    let snaps = names::list(snap_dir, names::SNAPSHOT_PREFIX)?;
    let mut removed = 0;
    for (at, path) in snaps.iter().filter(|(at, _)| *at > zxid) {
        std::fs::remove_file(path).map_err(|e| StorageError::io(path, "remove snapshot", e))?;
        tracing::info!("TRUNC: removed snapshot 0x{at:x}, taken after 0x{zxid:x}");
        removed += 1;
    }
    if removed > 0 {
        names::sync_dir(snap_dir)?;
    }
    Ok(removed)
}
