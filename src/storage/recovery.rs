//! Recovery on start: the newest valid snapshot, then every log record after its zxid
//! applied with `txn::apply`. The log it hands back appends to a new segment, never to
//! one written before the start (as ZooKeeper starts a new log file after each start):
//! the newest segment is cut after its last valid record instead.
//!
//! Segments are read with `read`, never through a map: a page fault that fails (an
//! I/O error; a hole on a full tmpfs) would be a SIGBUS instead of an error naming
//! the file, and repairs are `ftruncate` + `fsync`, which need no free block.
//!
//! What is repaired, and nothing else: a torn last record of the newest segment (cut
//! off, with a warning naming the file and offset; the preallocated zeros after the
//! last record go with it, as when a segment is left), a newest segment whose header or
//! first record never reached the disk (removed, with a warning), and preallocated
//! segments never named after a record (`log.prealloc.*`: removed; no acknowledged
//! record can be in one, see the `//!` block of `log.rs`). A snapshot that fails its
//! checks is skipped with a warning for the next older one, as ZooKeeper does,
//! provided the log still covers it. Every other defect is a `StorageError` naming the
//! file and offset; nothing is skipped silently.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::log::{
    check_header, first_needed_segment, scan_records, HeaderState, TxnLog, HEADER_BYTES,
    PREALLOC_BYTES_DEFAULT,
};
use super::names::{self, LOG_PREFIX, SNAPSHOT_PREFIX};
use super::snapshot::read_snapshot;
use super::{Result, StorageError};
use crate::tree::DataTree;
use crate::txn::{apply, Txn, TxnHeader};

/// Settings recovery needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoverOptions {
    /// `zookeeper.extendedTypesEnabled`.
    pub extended_types: bool,
    /// Size of new log segments (`preAllocSize`).
    pub prealloc_bytes: u64,
    /// `digest.enabled`: whether the recovered tree keeps its digest.
    pub digest: bool,
}

impl Default for RecoverOptions {
    fn default() -> Self {
        RecoverOptions {
            extended_types: false,
            prealloc_bytes: PREALLOC_BYTES_DEFAULT,
            digest: true,
        }
    }
}

/// The state recovered from disk.
pub struct Recovered {
    pub tree: DataTree,
    /// Live sessions: (id, negotiated timeout in ms), sorted by id.
    pub sessions: Vec<(i64, i32)>,
    /// The last zxid applied (snapshot's or last log record's).
    pub last_zxid: i64,
    /// The log, whose first append starts a new segment after the last valid record.
    pub log: TxnLog,
    /// The snapshot the tree started from, if any.
    pub snapshot: Option<PathBuf>,
    /// Log records applied on top of the snapshot.
    pub replayed: u64,
}

/// [`recover_with`] with the default segment size.
pub fn recover(data_dir: &Path, log_dir: &Path, extended_types: bool) -> Result<Recovered> {
    recover_with(
        data_dir,
        log_dir,
        &RecoverOptions {
            extended_types,
            ..RecoverOptions::default()
        },
    )
}

/// Recovers the tree, sessions and log from `data_dir` (snapshots) and `log_dir`
/// (segments); both are created if missing, and their entries made durable.
pub fn recover_with(data_dir: &Path, log_dir: &Path, opts: &RecoverOptions) -> Result<Recovered> {
    names::create_dir_synced(data_dir)?;
    names::create_dir_synced(log_dir)?;
    remove_preallocated(log_dir)?;
    let mut segs = names::list(log_dir, LOG_PREFIX)?;
    // One buffer for every segment read (a segment is `preAllocSize` at most, or one
    // record larger than that).
    let mut bytes = Vec::new();
    drop_unwritten_newest(log_dir, &mut segs, &mut bytes)?;

    let (mut tree, sessions, snap_zxid, snapshot) = load_snapshot(data_dir, &segs, opts)?;
    if let Some(through) = tree.mark_fuzzy_after(snap_zxid) {
        tracing::info!(
            "the snapshot at 0x{snap_zxid:x} holds changes up to 0x{through:x} (a leader's \
             fuzzy SNAP): no digest is logged or compared before that zxid"
        );
    }
    let mut sessions: HashMap<i64, i32> = sessions.into_iter().collect();

    let start = first_needed_segment(&segs, snap_zxid);
    let mut prev_zxid = i64::MIN;
    let mut replayed = 0u64;
    let last = segs.len().saturating_sub(1);
    for (i, (first_zxid, path)) in segs.iter().enumerate().skip(start) {
        check_no_missing_segment(path, prev_zxid, *first_zxid)?;
        let mut replay = |_offset: u64, hdr: TxnHeader, txn: Txn| -> Result<()> {
            if hdr.zxid > snap_zxid {
                replay_one(&mut tree, &mut sessions, &hdr, &txn);
                replayed += 1;
            }
            Ok(())
        };
        read_segment(path, &mut bytes)?;
        let newest = i == last;
        check_header(path, &bytes, newest)?;
        let end = scan_records(path, &bytes, newest, *first_zxid, prev_zxid, &mut replay)?;
        if !newest {
            let Some(last_zxid) = end.last_zxid else {
                return Err(StorageError::CorruptRecord {
                    path: path.clone(),
                    offset: HEADER_BYTES as u64,
                    reason: "segment holds no record and is not the newest".into(),
                });
            };
            prev_zxid = last_zxid;
            continue;
        }
        if let Some(torn) = &end.torn {
            tracing::warn!(
                file = %path.display(),
                offset = end.end,
                torn_bytes = torn.torn_end - end.end,
                reason = %torn.reason,
                "txn log: truncating a torn last record"
            );
        }
        match end.last_zxid {
            Some(z) => {
                prev_zxid = z;
                cut_after_last_record(path, end.end as u64, bytes.len() as u64)?;
            }
            None => {
                // Its first record was torn: the segment never held a durable record.
                remove_unwritten(log_dir, path, "its only record was torn")?;
            }
        }
    }
    // Nothing read stays in memory.
    drop(bytes);
    let last_zxid = snap_zxid.max(prev_zxid).max(0);
    let log = TxnLog::open_after_recovery(log_dir, opts.prealloc_bytes, last_zxid)?;
    let mut sessions: Vec<(i64, i32)> = sessions.into_iter().collect();
    sessions.sort_unstable();
    if !opts.digest {
        tree.set_digest_enabled(false);
    }
    Ok(Recovered {
        tree,
        sessions,
        last_zxid,
        log,
        snapshot,
        replayed,
    })
}

/// Applies one replayed txn to the tree and the session table.
fn replay_one(tree: &mut DataTree, sessions: &mut HashMap<i64, i32>, hdr: &TxnHeader, txn: &Txn) {
    match txn {
        Txn::CreateSession(t) => {
            sessions.insert(hdr.client_id, t.time_out);
        }
        Txn::CloseSession(_) => {
            sessions.remove(&hdr.client_id);
        }
        _ => {}
    }
    // Errors are expected on replay over a fuzzy snapshot (NODEEXISTS, NONODE) and are
    // what ZooKeeper's processTxn returns too; the tree stays consistent.
    let _ = apply(tree, hdr, txn);
}

type Base = (DataTree, Vec<(i64, i32)>, i64, Option<PathBuf>);

/// The newest snapshot that reads back and that the log covers; an unreadable one is
/// skipped with a warning. No snapshot at all: a fresh tree at zxid 0.
fn load_snapshot(data_dir: &Path, segs: &[(i64, PathBuf)], opts: &RecoverOptions) -> Result<Base> {
    let snaps = names::list(data_dir, SNAPSHOT_PREFIX)?;
    if snaps.is_empty() {
        return Ok((
            DataTree::with_extended_types(opts.extended_types),
            Vec::new(),
            0,
            None,
        ));
    }
    let mut newest_error = None;
    for (_, path) in snaps.iter().rev() {
        match read_snapshot(path, opts.extended_types) {
            Ok((tree, sessions, zxid)) => {
                check_log_covers(data_dir, path, zxid, segs)?;
                if let Some(e) = &newest_error {
                    tracing::warn!(
                        file = %path.display(),
                        error = %e,
                        "recovering from an older snapshot: a newer one is unusable"
                    );
                }
                return Ok((tree, sessions, zxid, Some(path.clone())));
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "snapshot unusable");
                newest_error.get_or_insert(e);
            }
        }
    }
    Err(StorageError::NoUsableSnapshot {
        dir: data_dir.to_owned(),
        newest: Box::new(
            newest_error.unwrap_or_else(|| StorageError::CorruptSnapshot {
                path: data_dir.to_owned(),
                offset: 0,
                reason: "no snapshot".into(),
            }),
        ),
    })
}

/// Refuses a snapshot whose successor records were purged: the oldest segment starts
/// after `zxid + 1` within the same epoch. (A new epoch may start a segment after a
/// snapshot of the previous epoch's last zxid: that is no gap.)
fn check_log_covers(
    data_dir: &Path,
    snapshot: &Path,
    zxid: i64,
    segs: &[(i64, PathBuf)],
) -> Result<()> {
    let Some((first, _)) = segs.first() else {
        return Ok(());
    };
    let next = zxid.saturating_add(1);
    if *first > next && (*first >> 32) == (next >> 32) {
        return Err(StorageError::LogGap {
            dir: data_dir.to_owned(),
            snapshot: snapshot.to_owned(),
            snapshot_zxid: zxid,
            first_log_zxid: *first,
        });
    }
    Ok(())
}

/// Refuses a segment that starts after a hole: within one epoch zxids are
/// consecutive, so a segment starting past `prev_zxid + 1` means a missing segment.
pub(super) fn check_no_missing_segment(path: &Path, prev_zxid: i64, first_zxid: i64) -> Result<()> {
    if prev_zxid == i64::MIN {
        return Ok(());
    }
    let next = prev_zxid.saturating_add(1);
    if first_zxid > next && (first_zxid >> 32) == (next >> 32) {
        return Err(StorageError::CorruptRecord {
            path: path.to_owned(),
            offset: HEADER_BYTES as u64,
            reason: format!(
                "the previous segment ends at zxid {prev_zxid:#x} and this one starts at \
                 {first_zxid:#x} in the same epoch: a segment is missing"
            ),
        });
    }
    Ok(())
}

/// Removes the newest segment if its header, or everything after its header, never
/// reached the disk (a crash right after it was created).
fn drop_unwritten_newest(
    log_dir: &Path,
    segs: &mut Vec<(i64, PathBuf)>,
    bytes: &mut Vec<u8>,
) -> Result<()> {
    let Some((_, path)) = segs.last() else {
        return Ok(());
    };
    let path = path.clone();
    read_segment(&path, bytes)?;
    let unwritten = check_header(&path, bytes, true)? == HeaderState::Unwritten
        || bytes[HEADER_BYTES.min(bytes.len())..]
            .iter()
            .all(|b| *b == 0);
    if unwritten {
        remove_unwritten(log_dir, &path, "it holds no record")?;
        segs.pop();
    }
    Ok(())
}

/// Cuts the newest segment after its last valid record (`end`): a torn record and the
/// preallocated zeros go, as when a segment is left. Nothing is appended to it again
/// (the log's next append starts a new segment), so they are only wasted space, and a
/// torn record must be gone before a newer segment exists: only the newest segment
/// may end in one. `ftruncate` frees blocks and needs none, so this works on a full
/// disk; the `fsync` makes the cut durable before anything is appended after it.
fn cut_after_last_record(path: &Path, end: u64, len: u64) -> Result<()> {
    if len <= end {
        return Ok(());
    }
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, "open segment", e))?;
    file.set_len(end)
        .map_err(|e| StorageError::io(path, "truncate segment", e))?;
    file.sync_all()
        .map_err(|e| StorageError::io(path, "fsync truncated segment", e))
}

/// Removes the spares a previous run left (`log.prealloc.*`). Their records, if any,
/// were never acknowledged: a record is acknowledged only after its segment was
/// renamed to `log.<zxid>` and the directory fsynced after that.
fn remove_preallocated(log_dir: &Path) -> Result<()> {
    let spares = names::list_preallocated(log_dir)?;
    for path in &spares {
        tracing::info!(file = %path.display(), "txn log: removing an unused preallocated segment");
        std::fs::remove_file(path)
            .map_err(|e| StorageError::io(path, "remove spare segment", e))?;
    }
    if !spares.is_empty() {
        names::sync_dir(log_dir)?;
    }
    Ok(())
}

fn remove_unwritten(log_dir: &Path, path: &Path, why: &str) -> Result<()> {
    tracing::warn!(file = %path.display(), offset = 0, "txn log: removing the newest segment: {why}");
    std::fs::remove_file(path).map_err(|e| StorageError::io(path, "remove segment", e))?;
    names::sync_dir(log_dir)
}

/// Reads a whole segment into `bytes` (cleared first) with `read`: an I/O error is an
/// error naming the file, where a read through a map would be a SIGBUS.
pub(super) fn read_segment(path: &Path, bytes: &mut Vec<u8>) -> Result<()> {
    bytes.clear();
    File::open(path)
        .and_then(|mut f| f.read_to_end(bytes))
        .map_err(|e| StorageError::io(path, "read segment", e))?;
    Ok(())
}
