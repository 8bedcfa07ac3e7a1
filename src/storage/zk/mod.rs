//! Apache ZooKeeper 3.8's data directory: reading its snapshots and txn logs, for
//! `ringkeeper import-zk`, and writing a snapshot in its serialization
//! (`snap_write`), for `ringkeeper export-zk` and a ZAB leader's SNAP. The reader
//! never writes into a ZooKeeper directory; the exporter writes only into a new one.
//!
//! Facts from Apache ZooKeeper 3.8 (`zookeeper-server/src/main/java/org/apache/zookeeper/`
//! `server/persistence/FileSnap.java`, `SnapStream.java`, `FileTxnLog.java`, `Util.java`;
//! `server/util/SerializeUtils.java`; `server/DataTree.java`, `DataNode.java`,
//! `ReferenceCountedACLCache.java`; `zookeeper-jute/src/main/resources/zookeeper.jute`),
//! and ../shared/reference/zookeeper-protocol.md §5.1. The code is our own.
//!
//! # Files
//!
//! `<dataDir>/version-2/snapshot.<zxid>` and `<dataLogDir>/version-2/log.<zxid>`, the
//! zxid in `Long.toHexString` form (lower-case hex, *no* zero padding: `snapshot.0`,
//! `log.1`). `snapshot.<zxid>.gz` / `.snappy` (`snapshot.compression.method`) are
//! refused with a message; 3.8's default is uncompressed.
//!
//! # Snapshot (all integers big-endian, strings and buffers as jute)
//!
//! ```text
//! FileHeader   int magic = "ZKSN" (0x5a4b534e) | int version = 2 | long dbid
//! sessions     int count, then per session: long id | int timeout_ms
//!              (SerializeUtils.serializeSnapshot)
//! ACL cache    int n, then per entry: long ref | vector<ACL> (int count; per ACL:
//!              int perms | ustring scheme | ustring id)   (ReferenceCountedACLCache;
//!              ref −1 = OPEN_ACL_UNSAFE is never stored; a null vector is an error)
//! nodes        per node, depth first, parents before children:
//!              ustring path | DataNode{ buffer data (−1 = null) | long aclRef
//!              | StatPersisted{ long czxid | long mzxid | long ctime | long mtime
//!              | int version | int cversion | int aversion | long ephemeralOwner
//!              | long pzxid } }
//!              ended by the path "/". The root is stored under the path "" (surprise
//!              vs the reference page: DataTree keys the root as ""), so "/zookeeper"'s
//!              parent is "". cversion is the stored count of child creates, as ours.
//! seal         long Adler32 | ustring "/"  (SnapStream.sealStream)
//! [digest]     ZxidDigest{ long zxid | int digestVersion | long digest } | seal
//!              (when zookeeper.digest.enabled, the default; a reader takes EOF as
//!              "no digest")
//! [last zxid]  long lastProcessedZxid | seal   (3.9's serializeLastProcessedZxid)
//! ```
//!
//! Every seal's checksum is the Adler32 (java.util.zip.Adler32) of *all* bytes of the
//! file before it: `CheckedOutputStream` runs one checksum over the whole stream, so a
//! later seal also covers the earlier seals. A file that does not end with `int 1, '/'`
//! is an incomplete snapshot (`SnapStream.isValidSnapshot`) and is skipped for the next
//! older one, as ZooKeeper skips it; a complete-looking one that fails any check is an
//! error here (ZooKeeper would fall back to an older snapshot; an import refuses).
//!
//! Mapping into our tree: every node as stored (null vs empty data, every
//! StatPersisted field, ephemeralOwner including the container marker
//! `0x8000000000000000` and TTL owners), ACL through the cache ref. The snapshot's
//! `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config` are taken as stored; one
//! that is missing is added as `DataTree::new` makes it. Sessions as stored.
//!
//! # Txn log
//!
//! ```text
//! FileHeader   int magic = "ZKLG" (0x5a4b4c47) | int version = 2 | long dbid
//! record*      long checksum | int len | byte[len] txn | byte 0x42 ('B')
//!              txn = TxnHeader{ long clientId | int cxid | long zxid | long time
//!                    | int type } | body (the jute record `type` names; multi =
//!                    MultiTxn) | [TxnDigest{ int version | long treeDigest }]
//! padding      zeros to the preallocated size (64 MiB blocks)
//! ```
//!
//! The checksum is Adler32 over the `len` txn bytes only. Like `FileTxnIterator.next`
//! and `Util.readTxnBytes`: a zero `len` is the end of the file (padding); a file that
//! ends inside a record, or a record not followed by 'B', is a torn tail: the end of
//! that file. ZooKeeper then goes on with the next log file, so we do too (after a
//! crash ZooKeeper starts a new log and the torn zxid is reused); every torn tail is
//! reported. A complete record with a wrong checksum, a negative length, or a body
//! that does not decode is an error naming the file and the record's offset.
//!
//! # Which files (FileTxnSnapLog.restore)
//!
//! The newest complete snapshot, then the logs from the newest one whose start zxid is
//! ≤ the snapshot's zxid onwards (`FileTxnLog.getLogFiles`); txns with zxid ≤ the
//! snapshot's are skipped, the rest applied in order through `txn::apply`
//! (`createSession` adds a session, `closeSession` removes it). Logs but no snapshot is
//! an error, as in ZooKeeper ("No snapshot found, but there are log entries").

mod adler;
mod log;
mod snap;
mod snap_stream;
mod snap_write;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

pub use adler::adler32;
pub use log::{read_log_bytes, LogEnd, ZkLog, ZkRecord, LOG_MAGIC};
pub use snap::SnapBody;
pub use snap::{looks_complete, read_snapshot_bytes, ZkSnapshot, ZxidDigest, SNAP_MAGIC};
pub use snap_stream::{read_snap_body, SnapBodyScanner, SIGNATURE};
pub use snap_write::{export_snapshot, write_zk_snapshot, SnapshotForm};

use crate::tree::digest::DIGEST_VERSION;
use crate::tree::DataTree;
use crate::txn::{apply, Txn};

/// Why a ZooKeeper data directory could not be read or imported.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("{path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path}: compressed snapshots are not supported; restart ZooKeeper with snapshot.compression.method unset so it writes an uncompressed one")]
    Compressed { path: PathBuf },
    #[error(
        "no ZooKeeper snapshot.* or log.* files in {dir} (expected a dataDir holding version-2/)"
    )]
    NoData { dir: PathBuf },
    #[error("{dir}: no complete snapshot, but there are log files (ZooKeeper refuses this too)")]
    LogsWithoutSnapshot { dir: PathBuf },
    #[error("{path} offset {offset}: zxid {zxid:#x} does not follow {prev:#x}")]
    ZxidOrder {
        path: PathBuf,
        offset: u64,
        zxid: i64,
        prev: i64,
    },
    #[error("{dir} is not empty; import-zk writes only into a new or empty directory")]
    TargetNotEmpty { dir: PathBuf },
    #[error("writing the ringkeeper snapshot: {0}")]
    Write(#[from] crate::storage::StorageError),
    #[error("reading the ringkeeper data: {0}")]
    Ringkeeper(crate::storage::StorageError),
    #[error("no ringkeeper data (snapshot or txn log) in {dir}")]
    NoRingkeeperData { dir: PathBuf },
}

/// What [`load`] read: the tree and sessions at `last_zxid`, and from which files.
pub struct Loaded {
    pub tree: DataTree,
    /// (id, timeout ms), sorted by id.
    pub sessions: Vec<(i64, i32)>,
    pub last_zxid: i64,
    pub snapshot: PathBuf,
    pub snapshot_zxid: i64,
    /// Nodes stored in the snapshot.
    pub snapshot_nodes: usize,
    /// Log files read, in order.
    pub logs: Vec<PathBuf>,
    /// Txns applied from the logs.
    pub replayed: u64,
    /// Snapshots skipped because they are incomplete (a crash while writing).
    pub skipped_snapshots: Vec<PathBuf>,
    /// Torn tails met: (file, offset, why).
    pub torn: Vec<(PathBuf, u64, String)>,
    /// System nodes the snapshot lacked and that were added.
    pub added_system_nodes: Vec<&'static str>,
    /// ZooKeeper's digests (the snapshot's and each logged txn's) compared with the
    /// tree's, as ZooKeeper checks them when it loads (`FileTxnSnapLog`).
    pub digests_checked: u64,
    /// zxids whose digest differed from ZooKeeper's.
    pub digest_mismatches: Vec<i64>,
}

/// `<prefix><hex>` as ZooKeeper names its files (`Util.getZxidFromName`); `Some(None)`
/// for a compressed snapshot suffix is signalled separately by the caller.
fn zxid_from_name(prefix: &str, name: &str) -> Option<i64> {
    let hex = name.strip_prefix(prefix)?;
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|z| z as i64)
}

/// The directory holding the files: `<dir>/version-2` when it exists, else `dir`
/// itself (so `version-2` can be given directly).
fn files_dir(dir: &Path) -> PathBuf {
    let v2 = dir.join("version-2");
    if v2.is_dir() {
        v2
    } else {
        dir.to_owned()
    }
}

struct Listing {
    snapshots: Vec<(i64, PathBuf)>,
    compressed: Vec<(i64, PathBuf)>,
    logs: Vec<(i64, PathBuf)>,
}

fn list(dir: &Path) -> Result<Listing, ZkError> {
    let io = |e| ZkError::Io {
        path: dir.to_owned(),
        op: "read_dir",
        source: e,
    };
    let mut out = Listing {
        snapshots: Vec::new(),
        compressed: Vec::new(),
        logs: Vec::new(),
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(z) = zxid_from_name("snapshot.", name) {
            out.snapshots.push((z, entry.path()));
        } else if let Some(z) = zxid_from_name("log.", name) {
            out.logs.push((z, entry.path()));
        } else if let Some(base) = name
            .strip_suffix(".gz")
            .or_else(|| name.strip_suffix(".snappy"))
        {
            if let Some(z) = zxid_from_name("snapshot.", base) {
                out.compressed.push((z, entry.path()));
            }
        }
    }
    for v in [&mut out.snapshots, &mut out.compressed, &mut out.logs] {
        v.sort_by_key(|(z, _)| *z as u64);
    }
    Ok(out)
}

/// The first ZooKeeper `snapshot.*` or `log.*` file in `<dir>/version-2`, if any: a
/// ringkeeper server refuses to start on such a directory.
pub fn zookeeper_files_in(dir: &Path) -> Option<PathBuf> {
    let v2 = dir.join("version-2");
    let entries = std::fs::read_dir(&v2).ok()?;
    entries.flatten().map(|e| e.path()).find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("snapshot.") || n.starts_with("log."))
    })
}

fn read_file(path: &Path) -> Result<Bytes, ZkError> {
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|e| ZkError::Io {
            path: path.to_owned(),
            op: "read",
            source: e,
        })
}

/// Reads a ZooKeeper data directory (`data_dir`, and `log_dir` when the logs live
/// apart, ZooKeeper's `dataLogDir`) into a tree built with
/// `zookeeper.extendedTypesEnabled` = `extended_types`.
pub fn load(
    data_dir: &Path,
    log_dir: Option<&Path>,
    extended_types: bool,
) -> Result<Loaded, ZkError> {
    let snap_dir = files_dir(data_dir);
    let snaps = list(&snap_dir)?;
    let logs = match log_dir {
        Some(d) => list(&files_dir(d))?.logs,
        None => snaps.logs.clone(),
    };

    // Newest complete snapshot.
    let newest_compressed = snaps.compressed.last().map(|(z, _)| *z);
    let mut skipped = Vec::new();
    let mut chosen = None;
    for (zxid, path) in snaps.snapshots.iter().rev() {
        if newest_compressed.is_some_and(|c| c as u64 >= *zxid as u64) {
            break;
        }
        let bytes = read_file(path)?;
        if !looks_complete(&bytes) {
            tracing::warn!(
                "{}: incomplete snapshot (no final seal), skipped",
                path.display()
            );
            skipped.push(path.clone());
            continue;
        }
        chosen = Some((*zxid, path.clone(), bytes));
        break;
    }
    let Some((snap_zxid, snap_path, bytes)) = chosen else {
        if let Some((_, p)) = snaps.compressed.last() {
            return Err(ZkError::Compressed { path: p.clone() });
        }
        if !logs.is_empty() {
            return Err(ZkError::LogsWithoutSnapshot { dir: snap_dir });
        }
        return Err(ZkError::NoData {
            dir: data_dir.to_owned(),
        });
    };
    let snap = read_snapshot_bytes(&snap_path, bytes, extended_types)?;
    let mut tree = snap.tree;
    let mut sessions: BTreeMap<i64, i32> = snap.sessions.iter().copied().collect();

    // Logs from the newest one starting at or before the snapshot's zxid.
    let first = logs
        .iter()
        .rposition(|(z, _)| *z as u64 <= snap_zxid as u64)
        .unwrap_or(0);
    let mut check = DigestCheck::new(&snap.zxid_digest, snap_zxid);
    check.after(&tree, snap_zxid, None);
    let mut last_zxid = snap_zxid;
    let mut replayed = 0u64;
    let mut read_logs = Vec::new();
    let mut torn = Vec::new();
    for (_, path) in &logs[first..] {
        let bytes = read_file(path)?;
        read_logs.push(path.clone());
        if bytes.is_empty() {
            torn.push((path.clone(), 0, "empty file".to_owned()));
            continue;
        }
        let log = read_log_bytes(path, bytes)?;
        for rec in &log.records {
            let zxid = rec.hdr.zxid;
            if zxid as u64 <= snap_zxid as u64 {
                continue;
            }
            if zxid as u64 <= last_zxid as u64 {
                return Err(ZkError::ZxidOrder {
                    path: path.clone(),
                    offset: rec.offset,
                    zxid,
                    prev: last_zxid,
                });
            }
            match &rec.txn {
                Txn::CreateSession(t) => {
                    sessions.insert(rec.hdr.client_id, t.time_out);
                }
                Txn::CloseSession(_) => {
                    sessions.remove(&rec.hdr.client_id);
                }
                _ => {}
            }
            let _ = apply(&mut tree, &rec.hdr, &rec.txn);
            check.after(&tree, zxid, rec.digest);
            last_zxid = zxid;
            replayed += 1;
        }
        if let LogEnd::Torn { offset, reason } = &log.end {
            tracing::warn!(
                "{} offset {offset}: torn tail ({reason}); the rest of this file is ignored, as ZooKeeper ignores it",
                path.display()
            );
            torn.push((path.clone(), *offset, reason.clone()));
        }
    }
    tree.recompute_quotas();
    Ok(Loaded {
        tree,
        sessions: sessions.into_iter().collect(),
        last_zxid,
        snapshot: snap_path,
        snapshot_zxid: snap_zxid,
        snapshot_nodes: snap.nodes,
        logs: read_logs,
        replayed,
        skipped_snapshots: skipped,
        torn,
        added_system_nodes: snap.added_system_nodes,
        digests_checked: check.checked,
        digest_mismatches: check.mismatches,
    })
}

/// ZooKeeper's digest checks on load: a snapshot is fuzzy until the txn its
/// `ZxidDigest` names is replayed (compared then; none before it); after that each
/// logged `TxnDigest` is compared with the tree once its txn is applied. Digests of
/// another version are not compared, as in ZooKeeper.
struct DigestCheck {
    /// The snapshot's digest while the replay has not reached its zxid.
    fuzzy_until: Option<ZxidDigest>,
    checked: u64,
    mismatches: Vec<i64>,
}

impl DigestCheck {
    fn new(snap: &Option<ZxidDigest>, snap_zxid: i64) -> DigestCheck {
        let fuzzy_until = snap
            .filter(|d| d.zxid > 0 && d.zxid >= snap_zxid && d.digest_version == DIGEST_VERSION);
        DigestCheck {
            fuzzy_until,
            checked: 0,
            mismatches: Vec::new(),
        }
    }

    /// After the tree reached `zxid` (the snapshot's, then each replayed txn's, with
    /// the digest ZooKeeper logged for it).
    fn after(&mut self, tree: &DataTree, zxid: i64, logged: Option<(i32, i64)>) {
        let expected = match self.fuzzy_until {
            Some(d) if d.zxid == zxid => {
                self.fuzzy_until = None;
                d.digest
            }
            Some(_) => return,
            None => match logged {
                Some((DIGEST_VERSION, digest)) => digest,
                _ => return,
            },
        };
        if !tree.digest_enabled() {
            return;
        }
        self.checked += 1;
        if expected != tree.digest() as i64 {
            self.mismatches.push(zxid);
        }
    }
}

/// [`load`]s a ZooKeeper data directory and writes it as a ringkeeper snapshot at the
/// last zxid into `to` (created if missing; refused unless empty). Returns what was
/// loaded and the snapshot written.
pub fn import(
    zk_data_dir: &Path,
    zk_log_dir: Option<&Path>,
    to: &Path,
    extended_types: bool,
) -> Result<(Loaded, PathBuf), ZkError> {
    // Locked first, so a server cannot start on it while it is being written (and
    // two imports cannot write it at once); held until the import returns.
    let _lock = crate::storage::DirLock::acquire(to)?;
    let entries = std::fs::read_dir(to).map_err(|e| ZkError::Io {
        path: to.to_owned(),
        op: "read_dir",
        source: e,
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| ZkError::Io {
            path: to.to_owned(),
            op: "read_dir",
            source: e,
        })?;
        if entry.file_name() != crate::storage::LOCK_FILE {
            return Err(ZkError::TargetNotEmpty { dir: to.to_owned() });
        }
    }
    let loaded = load(zk_data_dir, zk_log_dir, extended_types)?;
    let written =
        crate::storage::write_snapshot(to, &loaded.tree, &loaded.sessions, loaded.last_zxid)?;
    Ok((loaded, written))
}

/// What [`export`] wrote.
pub struct Exported {
    pub snapshot: PathBuf,
    pub zxid: i64,
    /// Nodes in the tree, as `mntr`'s `zk_znode_count` counts them.
    pub nodes: usize,
    pub sessions: usize,
}

/// Recovers a ringkeeper data directory (`data_dir`, with its log in `log_dir` or in
/// `data_dir`) and writes it as a ZooKeeper 3.8 snapshot at its last zxid into `to`
/// (a ZooKeeper dataDir: `to/version-2/snapshot.<zxid>`), so a ZooKeeper server
/// started on `to` serves the same tree and sessions: the way back from ringkeeper.
/// Both ringkeeper directories are locked: no server may be running on them.
pub fn export(data_dir: &Path, log_dir: Option<&Path>, to: &Path) -> Result<Exported, ZkError> {
    let log_dir = log_dir.unwrap_or(data_dir);
    for d in [data_dir, log_dir] {
        if !d.is_dir() {
            return Err(ZkError::NoRingkeeperData { dir: d.to_owned() });
        }
    }
    let _locks =
        crate::storage::DirLock::acquire_both(data_dir, log_dir).map_err(ZkError::Ringkeeper)?;
    let r = crate::storage::recover(data_dir, log_dir, false).map_err(ZkError::Ringkeeper)?;
    if r.snapshot.is_none() && r.last_zxid == 0 {
        return Err(ZkError::NoRingkeeperData {
            dir: data_dir.to_owned(),
        });
    }
    let snapshot = snap_write::export_snapshot(to, &r.tree.version(), &r.sessions, r.last_zxid)?;
    Ok(Exported {
        snapshot,
        zxid: r.last_zxid,
        nodes: r.tree.node_count(),
        sessions: r.sessions.len(),
    })
}
