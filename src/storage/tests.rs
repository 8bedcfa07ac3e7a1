//! Storage tests: log round trips, torn tails at every byte, bit flips, garbage,
//! empty and missing files, snapshot fallback, rollover, fuzzy snapshots, purge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::log::{HEADER_BYTES, PREALLOC_BYTES_DEFAULT};
use super::snapshot::{SnapshotEncoder, SnapshotFile};
use super::*;
use crate::proto::codec::Encode;
use crate::proto::{Acl, ErrorCode, Id, NodeData};
use crate::tree::{path::split_parent, DataTree, CONTAINER_EPHEMERAL_OWNER};
use crate::txn::{
    apply, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTxn, DeleteTxn, SetAclTxn,
    SetDataTxn, Txn, TxnHeader,
};

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "rk-storage-{}-{tag}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    fn data(&self) -> PathBuf {
        self.0.join("data")
    }

    fn log(&self) -> PathBuf {
        self.0.join("log")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `f` with tracing output captured; returns its result and the output.
fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8_lossy(&buf.0.lock().expect("lock")).into_owned();
    (out, text)
}

/// A live replica: txns are applied here as they are logged, so recovery can be
/// compared with it.
struct Live {
    tree: DataTree,
    sessions: BTreeMap<i64, i32>,
    zxid: i64,
    records: Vec<(TxnHeader, Txn)>,
}

fn data(s: &str) -> Option<NodeData> {
    Some(NodeData::new(s.as_bytes()))
}

impl Live {
    fn new() -> Live {
        Live {
            tree: DataTree::new(),
            sessions: BTreeMap::new(),
            zxid: 0,
            records: Vec::new(),
        }
    }

    /// Gives `txn` the next zxid, applies it, records it.
    fn push(&mut self, client: i64, txn: Txn) -> (TxnHeader, Txn) {
        self.zxid += 1;
        let hdr = TxnHeader::for_txn(client, self.zxid as i32, self.zxid, 1_000 + self.zxid, &txn);
        match &txn {
            Txn::CreateSession(t) => {
                self.sessions.insert(client, t.time_out);
            }
            Txn::CloseSession(_) => {
                self.sessions.remove(&client);
            }
            _ => {}
        }
        let _ = apply(&mut self.tree, &hdr, &txn);
        self.records.push((hdr.clone(), txn.clone()));
        (hdr, txn)
    }

    fn parent_cversion(&self, path: &str) -> i32 {
        let parent = split_parent(path).map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        self.tree
            .get(parent)
            .map_or(0, |n| n.persisted().cversion + 1)
    }

    fn create(&self, path: &str, d: Option<NodeData>, ephemeral: bool) -> Txn {
        Txn::Create(CreateTxn {
            path: path.into(),
            data: d,
            acl: Acl::open_unsafe(),
            ephemeral,
            parent_cversion: self.parent_cversion(path),
        })
    }

    fn set(&self, path: &str, d: Option<NodeData>) -> Txn {
        let v = self.tree.get(path).map_or(0, |n| n.persisted().version + 1);
        Txn::SetData(SetDataTxn {
            path: path.into(),
            data: d,
            version: v,
        })
    }

    fn sessions(&self) -> Vec<(i64, i32)> {
        self.sessions.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Many kinds of txn: sessions, creates (null/empty data, ephemeral, container),
    /// setData, setACL, delete, multi (ok and failed), error; a closeSession last.
    fn many_kinds(&mut self) {
        self.push(1, Txn::CreateSession(CreateSessionTxn { time_out: 30_000 }));
        self.push(2, Txn::CreateSession(CreateSessionTxn { time_out: 10_000 }));
        let t = self.create("/a", data("alpha"), false);
        self.push(1, t);
        let t = self.create("/a/null", None, false);
        self.push(1, t);
        let t = self.create("/a/empty", Some(NodeData::new(b"")), false);
        self.push(1, t);
        let t = self.create("/e1", data("eph"), true);
        self.push(2, t);
        let t = self.create("/e2", data("eph"), true);
        self.push(1, t);
        let t = self.set("/a", data("beta"));
        self.push(1, t);
        let digest = vec![Acl {
            perms: 31,
            id: Id::new("digest", "u:abc"),
        }];
        self.push(
            1,
            Txn::SetAcl(SetAclTxn {
                path: "/a/null".into(),
                acl: digest,
                version: 1,
            }),
        );
        let t = Txn::CreateContainer(CreateContainerTxn {
            path: "/c".into(),
            data: data("box"),
            acl: Acl::open_unsafe(),
            parent_cversion: self.parent_cversion("/c"),
        });
        self.push(1, t);
        let m1 = self.create("/m", data("m"), false);
        let m2 = self.set("/a", data("gamma"));
        self.push(1, Txn::Multi(vec![m1, m2]));
        self.push(
            1,
            Txn::Multi(vec![
                Txn::error(ErrorCode::Ok),
                Txn::error(ErrorCode::NoNode),
            ]),
        );
        self.push(1, Txn::error(ErrorCode::NodeExists));
        self.push(
            1,
            Txn::Delete(DeleteTxn {
                path: "/a/empty".into(),
            }),
        );
        let t = self.create("/big", Some(NodeData::new(&vec![7u8; 3000])), false);
        self.push(1, t);
        self.push(
            2,
            Txn::CloseSession(CloseSessionTxn {
                paths2_delete: vec!["/e1".into()],
            }),
        );
    }

    /// A random valid txn over a three-level path space, where whole subtrees get
    /// emptied, deleted and created again (what a fuzzy walk must survive). ACLs
    /// change too, so the walk meets new ACL lists midway.
    fn random_deep(&mut self, rng: &mut StdRng) -> (TxnHeader, Txn) {
        let depth = rng.gen_range(1..=3);
        let mut path = String::new();
        for level in 0..depth {
            let names = ["a", "b", "c", "d", "e"];
            path.push('/');
            path.push_str(names[rng.gen_range(0..names.len() - level)]);
        }
        let exists = self.tree.get(&path).is_some();
        let parent_ok =
            split_parent(&path).is_some_and(|(p, _)| p.is_empty() || self.tree.get(p).is_some());
        let leaf = self.tree.get(&path).is_some_and(|n| n.num_children() == 0);
        let txn = match rng.gen_range(0..6) {
            0 | 1 if !exists && parent_ok => {
                self.create(&path, data(&format!("{}", self.zxid)), false)
            }
            2 | 3 if leaf => Txn::Delete(DeleteTxn { path }),
            4 if exists => {
                let v = self
                    .tree
                    .get(&path)
                    .map_or(0, |n| n.persisted().aversion + 1);
                Txn::SetAcl(SetAclTxn {
                    path,
                    acl: vec![Acl {
                        perms: rng.gen_range(1..32),
                        id: Id::new("world", "anyone"),
                    }],
                    version: v,
                })
            }
            _ if exists => self.set(&path, data(&format!("v{}", self.zxid))),
            _ => Txn::error(ErrorCode::NoNode),
        };
        self.push(9, txn)
    }

    /// A random valid txn over a small path space.
    fn random(&mut self, rng: &mut StdRng) -> (TxnHeader, Txn) {
        let names = ["/r", "/r/x", "/r/y", "/q", "/q/z"];
        let path = names[rng.gen_range(0..names.len())];
        let exists = self.tree.get(path).is_some();
        let parent_ok =
            split_parent(path).is_some_and(|(p, _)| p.is_empty() || self.tree.get(p).is_some());
        let txn = match rng.gen_range(0..4) {
            0 | 1 if !exists && parent_ok => {
                self.create(path, data(&format!("{}", self.zxid)), false)
            }
            2 if exists => self.set(path, data(&format!("v{}", self.zxid))),
            3 if exists && self.tree.get(path).is_some_and(|n| n.num_children() == 0) => {
                Txn::Delete(DeleteTxn { path: path.into() })
            }
            _ if exists => self.set(path, None),
            _ => Txn::error(ErrorCode::NoNode),
        };
        self.push(9, txn)
    }
}

fn assert_same(r: &Recovered, tree: &DataTree, sessions: &[(i64, i32)], zxid: i64) {
    assert!(r.tree == *tree, "recovered tree differs");
    r.tree.validate();
    assert_eq!(r.sessions, sessions);
    assert_eq!(r.last_zxid, zxid);
    assert_eq!(r.log.last_zxid(), zxid);
}

fn write_log(dir: &Path, prealloc: u64, records: &[(TxnHeader, Txn)]) -> Vec<usize> {
    let mut log = TxnLog::create(dir, prealloc, 0).expect("create");
    let mut offsets = Vec::new();
    for (h, t) in records {
        offsets.push(HEADER_BYTES + log.bytes_appended() as usize);
        log.append(h, t).expect("append");
    }
    log.sync().expect("sync");
    offsets.push(HEADER_BYTES + log.bytes_appended() as usize);
    offsets
}

fn only_segment(dir: &Path) -> PathBuf {
    let segs = names::list(dir, names::LOG_PREFIX).expect("list");
    assert_eq!(segs.len(), 1);
    segs[0].1.clone()
}

/// The tree after applying the first `n` of `records` to a fresh tree.
fn replayed(records: &[(TxnHeader, Txn)], n: usize) -> (DataTree, Vec<(i64, i32)>) {
    let mut live = Live::new();
    for (h, t) in &records[..n] {
        live.push(h.client_id, t.clone());
    }
    let sessions = live.sessions();
    (live.tree, sessions)
}

#[test]
fn append_recover_round_trip_many_kinds() {
    let d = TempDir::new("roundtrip");
    let mut live = Live::new();
    live.many_kinds();
    let mut log = TxnLog::create(&d.log(), 1 << 20, 0).expect("create");
    let (first, rest) = live.records.split_at(3);
    for (h, t) in first {
        log.append(h, t).expect("append");
    }
    log.append_batch(rest.iter().map(|(h, t)| (h, t)))
        .expect("batch");
    // No segment yet: the records wait in memory for the segment the job creates.
    assert!(log.pending_sync().is_empty());
    log.run_jobs().expect("jobs");
    let pending = log.pending_sync();
    assert_eq!(pending.len(), 2, "segment and directory: {pending:?}");
    assert!(pending.iter().any(|t| t.full_fsync));
    assert_eq!(log.synced_zxid(), 0);
    log.sync().expect("sync");
    assert!(log.pending_sync().is_empty());
    assert_eq!(log.synced_zxid(), live.zxid);
    drop(log);

    let mut r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    assert_eq!(r.replayed, live.records.len() as u64);
    assert_eq!(r.sessions, vec![(1, 30_000)]);
    assert!(r.tree.get("/a/null").is_some_and(|n| n.data().is_none()));
    assert!(r.tree.get("/a/empty").is_none());
    assert_eq!(r.tree.ephemerals(1).collect::<Vec<_>>(), vec!["/e2"]);
    assert_eq!(
        r.tree.get("/c").map(|n| n.persisted().ephemeral_owner),
        Some(CONTAINER_EPHEMERAL_OWNER)
    );

    // Recovery cut the segment after its last record (no preallocated zeros left)...
    let first = only_segment(&d.log());
    let len = std::fs::metadata(&first).expect("stat").len();
    assert!(len < 1 << 20, "segment of 1 MiB cut to {len} bytes");
    assert_ne!(std::fs::read(&first).expect("read").last(), Some(&0));
    // ...and the recovered log appends to a new segment, named after its first record,
    // as ZooKeeper starts a new log file after each start.
    let (h, t) = live.push(1, Txn::Delete(DeleteTxn { path: "/m".into() }));
    r.log.append(&h, &t).expect("append after recovery");
    r.log.sync().expect("sync");
    drop(r);
    assert_eq!(std::fs::metadata(&first).expect("stat").len(), len);
    let r = recover(&d.data(), &d.log(), false).expect("recover again");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
    let firsts: Vec<i64> = segs.iter().map(|(z, _)| *z).collect();
    assert_eq!(firsts, vec![1, h.zxid]);
}

#[test]
fn missing_and_empty_dirs_give_a_fresh_tree() {
    let d = TempDir::new("fresh");
    let r = recover(&d.data(), &d.log(), true).expect("missing dirs");
    assert!(d.data().is_dir() && d.log().is_dir());
    assert!(r.tree == DataTree::with_extended_types(true));
    assert!(r.tree.extended_types_enabled());
    assert_eq!(
        (r.last_zxid, r.sessions.len(), r.snapshot.is_none()),
        (0, 0, true)
    );
    drop(r);
    let r = recover(&d.data(), &d.log(), false).expect("empty dirs");
    assert_eq!(r.last_zxid, 0);
}

/// The directories storage creates survive a power cut right after: lossyfs (the
/// test file system of tests/faults/lossyfs) drops every directory entry no fsync
/// of its directory made durable, and the cut leaves its backing directory holding
/// only what is durable. Needs root and /dev/fuse, as tests/power_loss.rs does.
#[test]
fn created_directories_survive_a_power_cut() {
    let d = TempDir::new("mkdir-cut");
    let (backing, mnt) = (d.0.join("backing"), d.0.join("mnt"));
    std::fs::create_dir_all(&backing).expect("mkdir");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let mount = lossyfs::Mount::new(&backing, &mnt)
        .unwrap_or_else(|e| panic!("{e}: this test needs root and /dev/fuse"));
    names::create_dir(&mnt.join("a/b/c")).expect("create_dir");
    // Made (by a run that died before its parent's fsync) and not durable yet.
    std::fs::create_dir(mnt.join("old")).expect("mkdir");
    names::create_dir(&mnt.join("old")).expect("create_dir");
    assert!(!mount.unsynced().is_empty(), "a plain mkdir is not durable");
    names::create_dir_synced(&mnt.join("old")).expect("create_dir_synced");
    mount.cut(lossyfs::Cut::DropAll).expect("cut");
    assert!(
        backing.join("a/b/c").is_dir(),
        "create_dir's directories lost"
    );
    assert!(
        backing.join("old").is_dir(),
        "create_dir_synced left it unsynced"
    );
}

#[test]
fn last_record_cut_at_every_byte_offset() {
    let d = TempDir::new("torn");
    let mut live = Live::new();
    live.many_kinds();
    let records = live.records.clone();
    let n = records.len();
    let offsets = write_log(&d.log(), 8192, &records);
    let seg = only_segment(&d.log());
    let name = seg.file_name().expect("name").to_owned();
    let full = std::fs::read(&seg).expect("read");
    let (start, end) = (offsets[n - 1], offsets[n]);
    let (prefix_tree, prefix_sessions) = replayed(&records, n - 1);
    for cut in start..end {
        let case = TempDir::new("torn-case");
        std::fs::create_dir_all(case.log()).expect("mkdir");
        let mut bytes = full.clone();
        bytes[cut..end].fill(0);
        let path = case.log().join(&name);
        std::fs::write(&path, &bytes).expect("write");
        let whole = full[cut..end].iter().all(|b| *b == 0);
        let wrote_something = bytes[start..end].iter().any(|b| *b != 0);
        let (r, logs) = capture_logs(|| recover(&case.data(), &case.log(), false));
        let mut r = r.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        if whole {
            assert_same(&r, &live.tree, &live.sessions(), live.zxid);
            continue;
        }
        assert_same(&r, &prefix_tree, &prefix_sessions, records[n - 2].0.zxid);
        if wrote_something {
            assert!(
                logs.contains("torn"),
                "cut at {cut}: no warning in {logs:?}"
            );
            assert!(logs.contains(&format!("offset={start}")), "{logs}");
            assert!(logs.contains(&*name.to_string_lossy()), "{logs}");
        }
        // The torn bytes are gone: appending again and recovering gives everything.
        let (h, t) = records[n - 1].clone();
        r.log.append(&h, &t).expect("re-append");
        r.log.sync().expect("sync");
        drop(r);
        let r = recover(&case.data(), &case.log(), false).expect("recover after re-append");
        assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    }
}

#[test]
fn bit_flip_mid_segment_is_refused_with_file_and_offset() {
    let d = TempDir::new("flip");
    let mut live = Live::new();
    live.many_kinds();
    let offsets = write_log(&d.log(), 8192, &live.records);
    let seg = only_segment(&d.log());
    let full = std::fs::read(&seg).expect("read");
    let victim = 5;
    let (start, end) = (offsets[victim], offsets[victim + 1]);
    for at in start..end {
        for bit in [0x01u8, 0x80] {
            let mut bytes = full.clone();
            bytes[at] ^= bit;
            std::fs::write(&seg, &bytes).expect("write");
            let err = match recover(&d.data(), &d.log(), false) {
                Ok(_) => panic!("flip at {at} accepted"),
                Err(e) => e,
            };
            match &err {
                StorageError::CorruptRecord { path, offset, .. } => {
                    assert_eq!((path, *offset), (&seg, start as u64), "flip at {at}: {err}");
                }
                other => panic!("flip at {at}: unexpected {other}"),
            }
            let msg = err.to_string();
            assert!(
                msg.contains(&seg.display().to_string())
                    && msg.contains(&format!("offset {start}"))
            );
        }
    }
    // A flip in the file header.
    let mut bytes = full.clone();
    bytes[1] ^= 0x04;
    std::fs::write(&seg, &bytes).expect("write");
    assert!(matches!(
        recover(&d.data(), &d.log(), false),
        Err(StorageError::BadHeader { offset: 0, .. })
    ));
    // A wrong version.
    let mut bytes = full.clone();
    bytes[7] = 9;
    std::fs::write(&seg, &bytes).expect("write");
    let err = recover(&d.data(), &d.log(), false)
        .err()
        .expect("version refused");
    assert!(err.to_string().contains("version 9"), "{err}");
}

#[test]
fn garbage_after_the_tail_is_refused_unless_it_is_a_torn_record() {
    let d = TempDir::new("garbage");
    let mut live = Live::new();
    live.many_kinds();
    let offsets = write_log(&d.log(), 8192, &live.records);
    let seg = only_segment(&d.log());
    let full = std::fs::read(&seg).expect("read");
    let end = *offsets.last().expect("end");
    // Non-zero bytes well after the end marker.
    let mut bytes = full.clone();
    bytes[end + 100] = 0x5a;
    std::fs::write(&seg, &bytes).expect("write");
    match recover(&d.data(), &d.log(), false) {
        Err(StorageError::CorruptRecord { offset, .. }) => assert_eq!(offset, end as u64),
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("garbage accepted"),
    }
    // A second, complete-looking record after a garbage one: refused.
    let mut bytes = full.clone();
    bytes[end..end + 8].copy_from_slice(&[0, 0, 0, 40, 1, 2, 3, 4]);
    let rec = &full[offsets[2]..offsets[3]];
    let later = end + 8 + 40;
    bytes[later..later + rec.len()].copy_from_slice(rec);
    std::fs::write(&seg, &bytes).expect("write");
    assert!(matches!(
        recover(&d.data(), &d.log(), false),
        Err(StorageError::CorruptRecord { offset, .. }) if offset == end as u64
    ));
    // Garbage shaped like a partial last record: a torn tail, truncated.
    let mut bytes = full.clone();
    bytes[end..end + 7].copy_from_slice(&[0, 0, 0, 40, 9, 9, 9]);
    std::fs::write(&seg, &bytes).expect("write");
    let r = recover(&d.data(), &d.log(), false).expect("torn tail");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    drop(r);
    let cut = std::fs::read(&seg).expect("read");
    assert!(
        cut[..] == full[..end],
        "the segment is cut after its last record: {} bytes, expected {end}",
        cut.len()
    );
}

#[test]
fn empty_and_short_files() {
    let d = TempDir::new("empty");
    let mut live = Live::new();
    live.many_kinds();
    write_log(&d.log(), 8192, &live.records);
    // An empty newest segment (crash right after creating it): removed.
    let empty = d
        .log()
        .join(names::file_name(names::LOG_PREFIX, live.zxid + 1));
    std::fs::write(&empty, b"").expect("write");
    let r = recover(&d.data(), &d.log(), false).expect("empty newest segment");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    drop(r);
    assert!(!empty.exists());
    // A newest segment holding only its header: removed.
    let mut header = b"RKLG\0\0\0\x01".to_vec();
    header.resize(4096, 0);
    std::fs::write(&empty, &header).expect("write");
    let r = recover(&d.data(), &d.log(), false).expect("header-only segment");
    assert_eq!(r.last_zxid, live.zxid);
    drop(r);
    assert!(!empty.exists());
    // An empty segment that is not the newest: refused.
    let rolled = TempDir::new("empty-older");
    write_log(&rolled.log(), 1024, &live.records);
    let segs = names::list(&rolled.log(), names::LOG_PREFIX).expect("list");
    assert!(segs.len() > 2);
    let older = segs[0].1.clone();
    std::fs::write(&older, b"").expect("write");
    let err = recover(&rolled.data(), &rolled.log(), false)
        .err()
        .expect("refused");
    assert!(
        matches!(&err, StorageError::BadHeader { path, .. } if *path == older),
        "{err}"
    );
    // A segment that is not the newest, cut short: refused (no torn tail there).
    let second = segs[1].1.clone();
    let bytes = std::fs::read(&second).expect("read");
    std::fs::write(&second, &bytes[..bytes.len() - 3]).expect("write");
    std::fs::remove_file(&older).expect("rm");
    let err = recover(&rolled.data(), &rolled.log(), false)
        .err()
        .expect("refused");
    assert!(
        matches!(&err, StorageError::CorruptRecord { path, .. } if *path == second),
        "{err}"
    );
    // An empty snapshot file, the only one: refused (never written by us: rename is atomic).
    let snap = d.data().join(names::file_name(names::SNAPSHOT_PREFIX, 3));
    std::fs::create_dir_all(d.data()).expect("mkdir");
    std::fs::write(&snap, b"").expect("write");
    let err = recover(&d.data(), &d.log(), false).err().expect("refused");
    assert!(
        matches!(err, StorageError::NoUsableSnapshot { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&snap.display().to_string()),
        "{err}"
    );
}

#[test]
fn zxid_going_backwards_across_segments_is_refused() {
    let d = TempDir::new("backwards");
    let other = TempDir::new("backwards-src");
    let mut live = Live::new();
    live.many_kinds();
    write_log(&d.log(), 8192, &live.records);
    write_log(&other.log(), 8192, &live.records[2..4]);
    let src = only_segment(&other.log());
    let dst = d.log().join(src.file_name().expect("name"));
    std::fs::copy(&src, &dst).expect("copy");
    let err = recover(&d.data(), &d.log(), false).err().expect("refused");
    assert!(
        matches!(&err, StorageError::ZxidOrder { path, zxid: 3, .. } if *path == dst),
        "{err}"
    );
}

#[test]
fn rollover_across_segments() {
    let d = TempDir::new("roll");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(7);
    let mut log = TxnLog::create(&d.log(), 2048, 0).expect("create");
    for i in 0..300 {
        let (h, t) = if i == 150 {
            // Bigger than a segment: a segment of its own.
            let t = live.create("/huge", Some(NodeData::new(&vec![1u8; 5000])), false);
            live.push(3, t)
        } else {
            live.random(&mut rng)
        };
        log.append(&h, &t).expect("append");
        if i == 200 {
            log.roll();
        }
        if i % 37 == 0 {
            log.sync().expect("sync");
        }
    }
    log.sync().expect("sync");
    drop(log);
    let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
    assert!(segs.len() > 10, "{} segments", segs.len());
    assert!(
        segs.iter().any(|(z, _)| *z == 202),
        "explicit roll starts a segment at 202"
    );
    for (_, p) in &segs[..segs.len() - 1] {
        let len = std::fs::metadata(p).expect("stat").len();
        assert!(len <= 2048 || len > 5000, "rolled segment truncated: {len}");
    }
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    assert_eq!(r.replayed, 300);
}

#[test]
fn sync_targets_cover_retired_segments() {
    let d = TempDir::new("targets");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(1);
    let mut log = TxnLog::create(&d.log(), 1024, 0).expect("create");
    for _ in 0..60 {
        let (h, t) = live.random(&mut rng);
        log.append(&h, &t).expect("append");
    }
    log.run_jobs().expect("jobs");
    let targets = log.pending_sync();
    let segments = targets.iter().filter(|t| !t.full_fsync).count();
    assert!(segments > 1, "retired segments stay pending: {targets:?}");
    assert_eq!(targets.iter().filter(|t| t.full_fsync).count(), 1);
    assert!(targets.iter().all(|t| t.covers_zxid == live.zxid));
    assert_eq!(
        log.sync_fd(),
        targets.iter().rev().find(|t| !t.full_fsync).map(|t| t.fd)
    );
    log.mark_synced(&targets);
    assert!(log.pending_sync().is_empty());
    assert_eq!(log.synced_zxid(), live.zxid);
}

/// The log's background jobs, run here (the server runs them on its blocking pool).
fn run_background(log: &mut TxnLog) {
    for job in log.background_jobs() {
        job.run();
    }
}

fn spares(dir: &Path) -> Vec<PathBuf> {
    names::list_preallocated(dir).expect("list spares")
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("stat").ino()
}

/// Appends random records, syncing after each while `sync_each`, until one lands in
/// a different segment than the one before; returns how many records were appended.
fn append_until_rollover(
    log: &mut TxnLog,
    live: &mut Live,
    rng: &mut StdRng,
    sync_each: bool,
) -> usize {
    let fd = log.sync_fd();
    for n in 1..10_000 {
        let (h, t) = live.random(rng);
        log.append(&h, &t).expect("append");
        if log.sync_fd() != fd {
            return n;
        }
        if sync_each {
            log.sync().expect("sync");
        }
    }
    panic!("no rollover");
}

/// A log of 4096-byte segments with one synced record and its spare made.
fn log_with_spare(tag: &str, seed: u64) -> (TempDir, Live, StdRng, TxnLog) {
    let d = TempDir::new(tag);
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = TxnLog::create(&d.log(), 4096, 0).expect("create");
    let (h, t) = live.random(&mut rng);
    log.append(&h, &t).expect("append");
    // No spare yet: the first segment is made by a job of the sync.
    log.sync().expect("sync");
    assert!(spares(&d.log()).is_empty());
    run_background(&mut log);
    (d, live, rng, log)
}

/// Bytes of `file` in extents flagged unwritten (reserved by `fallocate`, never
/// written), from the `FS_IOC_FIEMAP` ioctl; `None` where the file system has no FIEMAP.
fn unwritten_bytes(file: &std::fs::File) -> Option<u64> {
    use std::os::unix::io::AsRawFd;
    // linux/fiemap.h: `struct fiemap` (32 bytes) then `struct fiemap_extent`s (56).
    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    const FIEMAP_EXTENT_LAST: u32 = 0x1;
    const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
    const EXTENTS: usize = 64;
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Extent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }
    #[repr(C)]
    struct Fiemap {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [Extent; EXTENTS],
    }
    let mut unwritten = 0;
    let mut start = 0u64;
    loop {
        let mut m = Fiemap {
            start,
            length: u64::MAX - start,
            flags: 0,
            mapped_extents: 0,
            extent_count: EXTENTS as u32,
            reserved: 0,
            extents: [Extent::default(); EXTENTS],
        };
        // SAFETY: FS_IOC_FIEMAP on an fd we own, with a buffer of the layout the
        // kernel expects and room for `extent_count` extents.
        if unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut m) } != 0 {
            return None;
        }
        let got = &m.extents[..(m.mapped_extents as usize).min(EXTENTS)];
        for e in got {
            if e.flags & FIEMAP_EXTENT_UNWRITTEN != 0 {
                unwritten += e.length;
            }
        }
        match got.last() {
            Some(e) if e.flags & FIEMAP_EXTENT_LAST == 0 => start = e.logical + e.length,
            _ => return Some(unwritten),
        }
    }
}

/// A spare's blocks hold written zeros, not only reserved ones. Reserved-only blocks
/// are unwritten extents: the first sync of a record in one also commits its
/// conversion to the file system's journal (see `write_zeros` in log.rs).
#[test]
fn spare_segment_blocks_are_written() {
    let d = TempDir::new("zero-fill");
    let mut log = TxnLog::create(&d.log(), 1 << 20, 0).expect("create");
    run_background(&mut log);
    let spare = spares(&d.log());
    assert_eq!(spare.len(), 1, "one spare made");
    let f = std::fs::File::open(&spare[0]).expect("open spare");
    match unwritten_bytes(&f) {
        Some(n) => assert_eq!(n, 0, "{n} bytes of the spare are unwritten extents"),
        None => eprintln!("no FIEMAP on {}: not checked", d.log().display()),
    }
}

/// A segment made on demand (no spare was ready) is written like a spare before it is
/// mapped: a store through the map into an unwritten extent or a hole needs the file
/// system to find blocks at page-fault time, where a full disk can only be a SIGBUS.
#[test]
fn on_demand_segment_blocks_are_written_before_use() {
    let d = TempDir::new("on-demand");
    let mut live = Live::new();
    let mut log = TxnLog::create(&d.log(), 1 << 20, 0).expect("create");
    let (h, t) = live.random(&mut StdRng::seed_from_u64(3));
    log.append(&h, &t).expect("append");
    // No spare was made: the sync's job creates the segment.
    log.sync().expect("sync");
    assert!(spares(&d.log()).is_empty());
    let f = std::fs::File::open(only_segment(&d.log())).expect("open segment");
    match unwritten_bytes(&f) {
        Some(n) => assert_eq!(n, 0, "{n} bytes of the segment are unwritten extents"),
        None => eprintln!("no FIEMAP on {}: not checked", d.log().display()),
    }
}

/// A segment that cannot be made (here: larger than any file system allows) leaves no
/// partial file behind: on a full disk the blocks a failed `fallocate` got would stay
/// taken, and the next attempt (or the snapshot) would find even less room.
#[test]
fn a_failed_segment_leaves_no_file() {
    let d = TempDir::new("too-big");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(4);
    let huge = 1u64 << 52;
    let mut log = TxnLog::create(&d.log(), huge, 0).expect("create");
    run_background(&mut log);
    assert!(spares(&d.log()).is_empty(), "a failed spare is removed");
    let (h, t) = live.random(&mut rng);
    log.append(&h, &t).expect("append");
    let err = log.run_jobs().expect_err("a 4 PiB segment cannot be made");
    assert!(err.to_string().contains("log.0000000000000001"), "{err}");
    let left: Vec<_> = std::fs::read_dir(d.log())
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn spare_segment_is_used_on_rollover() {
    let (d, mut live, mut rng, mut log) = log_with_spare("spare", 11);
    let spare = spares(&d.log());
    assert_eq!(spare.len(), 1, "one spare made ahead of need");
    assert_eq!(std::fs::metadata(&spare[0]).expect("stat").len(), 4096);
    let spare_inode = inode(&spare[0]);
    assert!(log.background_jobs().is_empty(), "one spare at a time");

    append_until_rollover(&mut log, &mut live, &mut rng, true);
    let first = live.zxid;
    let new_path = d.log().join(names::file_name(names::LOG_PREFIX, first));
    // The record is in the spare, which still has its temporary name: no sync may
    // cover it before the rename.
    assert!(spares(&d.log()).len() == 1 && !new_path.exists());
    let targets = log.pending_sync();
    assert!(!targets.is_empty());
    assert!(
        targets.iter().all(|t| t.covers_zxid == first - 1),
        "{targets:?}"
    );
    // As the server does: the rename runs on the log's own thread, awaited.
    while let Some(job) = log.next_job() {
        let done = futures_lite::future::block_on(log.start_job(job)).expect("job thread");
        log.finish_job(done).expect("rename");
    }
    assert!(spares(&d.log()).is_empty());
    assert_eq!(inode(&new_path), spare_inode, "the spare became log.<zxid>");
    let targets = log.pending_sync();
    assert!(
        targets.iter().any(|t| t.full_fsync),
        "directory fsync after rename"
    );
    assert!(targets.iter().all(|t| t.covers_zxid == first));
    log.sync().expect("sync");

    // The left segment is truncated (blocking sync closes it); the next spare comes
    // from the background jobs again.
    let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
    assert_eq!(segs.len(), 2);
    assert!(std::fs::metadata(&segs[0].1).expect("stat").len() < 4096);
    run_background(&mut log);
    assert_eq!(spares(&d.log()).len(), 1);
    drop(log);
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    assert!(
        spares(&d.log()).is_empty(),
        "recovery removes the unused spare"
    );
}

/// At start the server makes the first spare before it serves (so a disk without room
/// for one fails the start, not the first write); the first append after recovery
/// then takes it, and no segment is made while a client waits.
#[test]
fn the_spare_made_at_start_takes_the_first_append() {
    let d = TempDir::new("spare-now");
    let mut live = Live::new();
    live.many_kinds();
    write_log(&d.log(), 8192, &live.records);
    let mut r = recover(&d.data(), &d.log(), false).expect("recover");
    r.log.set_prealloc_bytes(4096);
    r.log.make_spare_now().expect("spare");
    r.log
        .make_spare_now()
        .expect("a second call keeps the ready spare");
    let spare = spares(&d.log());
    assert_eq!(spare.len(), 1, "one spare: {spare:?}");
    let spare_inode = inode(&spare[0]);
    let (h, t) = live.push(1, Txn::Delete(DeleteTxn { path: "/m".into() }));
    r.log.append(&h, &t).expect("append");
    r.log.sync().expect("sync");
    let new_path = d.log().join(names::file_name(names::LOG_PREFIX, h.zxid));
    assert_eq!(inode(&new_path), spare_inode, "the spare became log.<zxid>");
    assert!(spares(&d.log()).is_empty());
    drop(r);
    let r = recover(&d.data(), &d.log(), false).expect("recover again");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
}

#[test]
fn leftover_spares_are_removed_with_the_durable_prefix_recovered() {
    let (d, mut live, mut rng, mut log) = log_with_spare("leftover", 12);
    // Synced up to the record before the one that goes into the spare.
    append_until_rollover(&mut log, &mut live, &mut rng, true);
    let durable = live.records.len() - 1;
    for _ in 0..5 {
        let (h, t) = live.random(&mut rng);
        log.append(&h, &t).expect("append");
    }
    // A second spare, never used.
    run_background(&mut log);
    let left = spares(&d.log());
    assert_eq!(left.len(), 2);
    // Crash before the rename: the records are in the page cache, so the spare that
    // was taken really holds them.
    drop(log);
    let holds_records = left.iter().any(|p| {
        std::fs::read(p).expect("read")[HEADER_BYTES..]
            .iter()
            .any(|b| *b != 0)
    });
    assert!(
        holds_records,
        "a leftover spare holds unacknowledged records"
    );

    let (r, logs) = capture_logs(|| recover(&d.data(), &d.log(), false).expect("recover"));
    let (tree, sessions) = replayed(&live.records, durable);
    let durable_zxid = live.records[durable - 1].0.zxid;
    assert_same(&r, &tree, &sessions, durable_zxid);
    assert!(spares(&d.log()).is_empty());
    assert!(logs.contains("log.prealloc."), "{logs}");
    assert_eq!(only_segment(&d.log()), d.log().join("log.0000000000000001"));

    // The lost records are logged again (as clients would retry them).
    let mut log = r.log;
    log.append_batch(live.records[durable..].iter().map(|(h, t)| (h, t)))
        .expect("append again");
    log.sync().expect("sync");
    drop(log);
    let r = recover(&d.data(), &d.log(), false).expect("recover again");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
}

#[test]
fn segment_names_follow_first_zxids_with_spares_staging_and_rolls() {
    for seed in 0..4u64 {
        let d = TempDir::new("names");
        let mut live = Live::new();
        let mut rng = StdRng::seed_from_u64(100 + seed);
        let mut log = TxnLog::create(&d.log(), 1024, 0).expect("create");
        for i in 0..400 {
            let (h, t) = if rng.gen_ratio(1, 40) {
                // Bigger than a segment (and than any spare): a segment of its own.
                let t = live.create(
                    &format!("/big{i}"),
                    Some(NodeData::new(&vec![7u8; 1500])),
                    false,
                );
                live.push(4, t)
            } else {
                live.random(&mut rng)
            };
            log.append(&h, &t).expect("append");
            match rng.gen_range(0..10) {
                0..=2 => log.sync().expect("sync"),
                3 | 4 => run_background(&mut log),
                5 => log.roll(),
                6 => log.run_jobs().expect("jobs"),
                _ => {}
            }
        }
        log.sync().expect("sync");
        drop(log);
        let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
        assert!(segs.len() > 20, "seed {seed}: {} segments", segs.len());
        for w in segs.windows(2) {
            assert!(w[0].0 < w[1].0);
        }
        for (first, path) in &segs {
            let bytes = std::fs::read(path).expect("read");
            let len = u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes")) as usize;
            let payload = Bytes::copy_from_slice(&bytes[24..24 + len]);
            let (hdr, _) = super::log::decode_payload(payload).expect("first record");
            assert_eq!(hdr.zxid, *first, "seed {seed}: {}", path.display());
        }
        let r = recover(&d.data(), &d.log(), false).expect("recover");
        assert_same(&r, &live.tree, &live.sessions(), live.zxid);
        assert_eq!(r.replayed, 400);
    }
}

/// Resident KiB of this process's mapping of `path` (from /proc/self/smaps).
fn mapped_rss_kib(path: &Path) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let name = path.to_str().expect("utf-8 path");
    let mut lines = smaps.lines();
    while let Some(line) = lines.next() {
        if line.ends_with(name) {
            for l in lines.by_ref() {
                if let Some(v) = l.strip_prefix("Rss:") {
                    return v.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
    }
    None
}

#[test]
fn synced_pages_are_released_from_memory() {
    let d = TempDir::new("release");
    let mut live = Live::new();
    let mut log = TxnLog::create(&d.log(), 8 << 20, 0).expect("create");
    for i in 0..3000 {
        let t = live.create(
            &format!("/n{i}"),
            Some(NodeData::new(&vec![b'x'; 1000])),
            false,
        );
        let (h, t) = live.push(2, t);
        log.append(&h, &t).expect("append");
    }
    log.run_jobs().expect("jobs");
    let path = only_segment(&d.log());
    let written = mapped_rss_kib(&path).expect("mapped");
    assert!(written >= 2900, "written pages are resident: {written} KiB");
    log.sync().expect("sync");
    let synced = mapped_rss_kib(&path).expect("mapped");
    assert!(synced <= 4, "synced pages released: {synced} KiB");
    // Appends continue on the page that was kept, and after the released ones.
    for i in 0..10 {
        let t = live.set(&format!("/n{i}"), data("after"));
        let (h, t) = live.push(2, t);
        log.append(&h, &t).expect("append");
    }
    log.sync().expect("sync");
    drop(log);
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    // Recovery reads with `read` (a failed page fault would be a SIGBUS) and keeps
    // nothing open: the next append starts a new segment.
    assert_eq!(mapped_rss_kib(&path), None, "recovery maps the segment");
}

/// A snapshot that fails (here: its rename, onto a directory) removes its partial
/// file: on a nearly full disk a leftover `.tmp` would hold the space the log needs.
#[test]
fn a_failed_snapshot_leaves_no_partial_file() {
    let d = TempDir::new("snap-fail");
    let mut live = Live::new();
    live.many_kinds();
    let target = d
        .data()
        .join(names::file_name(names::SNAPSHOT_PREFIX, live.zxid));
    std::fs::create_dir_all(target.join("in-the-way")).expect("mkdir");
    let err = write_snapshot(&d.data(), &live.tree, &live.sessions(), live.zxid)
        .expect_err("rename onto a directory fails");
    assert!(err.to_string().contains("rename snapshot"), "{err}");
    let tmp: Vec<_> = std::fs::read_dir(d.data())
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "partial snapshot left: {tmp:?}");
}

/// The size the messages quote for a snapshot is close to what one takes.
#[test]
fn snapshot_size_estimate_is_close() {
    let d = TempDir::new("snap-size");
    let mut live = Live::new();
    live.many_kinds();
    for i in 0..2000 {
        let t = live.create(&format!("/n{i}"), Some(NodeData::new(&[7u8; 100])), false);
        live.push(2, t);
    }
    let sessions = live.sessions();
    let path = write_snapshot(&d.data(), &live.tree, &sessions, live.zxid).expect("write");
    let actual = std::fs::metadata(&path).expect("stat").len();
    let estimate = snapshot::estimated_bytes(&live.tree, sessions.len());
    assert!(
        estimate.abs_diff(actual) * 20 < actual,
        "estimate {estimate}, actual {actual}"
    );
}

#[test]
fn snapshot_round_trip_and_corruption() {
    let d = TempDir::new("snap");
    let mut live = Live::new();
    live.many_kinds();
    let sessions = live.sessions();
    let path = write_snapshot(&d.data(), &live.tree, &sessions, live.zxid).expect("write");
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some("snapshot.0000000000000010")
    );
    let (tree, s, z) = read_snapshot(&path, false).expect("read");
    assert!(tree == live.tree);
    assert_eq!((s, z), (sessions, live.zxid));
    assert!(tree.get("/a/null").is_some_and(|n| n.data().is_none()));
    assert_eq!(
        tree.get("/a").map(|n| n.stat()),
        live.tree.get("/a").map(|n| n.stat())
    );
    let full = std::fs::read(&path).expect("read");
    for at in 0..full.len() {
        let mut bytes = full.clone();
        bytes[at] ^= 0x20;
        std::fs::write(&path, &bytes).expect("write");
        assert!(
            matches!(
                read_snapshot(&path, false),
                Err(StorageError::CorruptSnapshot { .. })
            ),
            "flip at {at} accepted"
        );
    }
    for len in [0, 5, 19, full.len() / 2, full.len() - 1] {
        std::fs::write(&path, &full[..len]).expect("write");
        assert!(
            read_snapshot(&path, false).is_err(),
            "cut at {len} accepted"
        );
    }
    let mut longer = full.clone();
    longer.push(0);
    std::fs::write(&path, &longer).expect("write");
    assert!(read_snapshot(&path, false).is_err());
}

#[test]
fn snapshot_plus_later_log_equals_live_tree() {
    let d = TempDir::new("snaplog");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(3);
    live.many_kinds();
    let mut log = TxnLog::create(&d.log(), 4096, 0).expect("create");
    log.append_batch(live.records.iter().map(|(h, t)| (h, t)))
        .expect("append");
    write_snapshot(&d.data(), &live.tree, &live.sessions(), live.zxid).expect("snapshot");
    let snap_zxid = live.zxid;
    for _ in 0..100 {
        let (h, t) = live.random(&mut rng);
        log.append(&h, &t).expect("append");
    }
    log.sync().expect("sync");
    drop(log);
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    assert_eq!(r.replayed, 100);
    assert_eq!(
        r.snapshot
            .as_deref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str()),
        Some(names::file_name(names::SNAPSHOT_PREFIX, snap_zxid).as_str())
    );
}

#[test]
fn fuzzy_snapshot_replays_to_the_live_tree() {
    for seed in 0..40u64 {
        let d = TempDir::new("fuzzy");
        let mut live = Live::new();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut log = TxnLog::create(&d.log(), 1 << 16, 0).expect("create");
        for _ in 0..rng.gen_range(5..40) {
            let (h, t) = live.random(&mut rng);
            log.append(&h, &t).expect("append");
        }
        // The snapshot starts here (zxid), while more txns land in the tree it reads.
        let start_zxid = live.zxid;
        let start_sessions = live.sessions();
        for _ in 0..rng.gen_range(1..20) {
            let (h, t) = live.random(&mut rng);
            log.append(&h, &t).expect("append");
        }
        write_snapshot(&d.data(), &live.tree, &start_sessions, start_zxid).expect("snapshot");
        for _ in 0..rng.gen_range(0..20) {
            let (h, t) = live.random(&mut rng);
            log.append(&h, &t).expect("append");
        }
        log.sync().expect("sync");
        drop(log);
        let r = recover(&d.data(), &d.log(), false).expect("recover");
        assert!(r.tree == live.tree, "seed {seed}: fuzzy replay differs");
        assert_eq!(r.last_zxid, live.zxid);
    }
}

/// A snapshot announced at 200 that holds the creates up to 260 (as a ZooKeeper
/// leader's SNAP can): replaying 201..260 over it leaves the tree ahead of each zxid,
/// so the digest history (`hash`) must not take 256 (ZooKeeper logs none while fuzzy),
/// and takes 384 again, equal to the digest of the tree that applied every txn once.
#[test]
fn a_fuzzy_snapshot_logs_no_digest_until_the_replay_passes_its_newest_change() {
    let d = TempDir::new("fuzzy-digest");
    let mut live = Live::new();
    let mut digests = BTreeMap::new();
    let mut ahead = None;
    for i in 1..=400 {
        let t = live.create(&format!("/n{i}"), data("x"), false);
        live.push(1, t);
        if live.zxid % 128 == 0 {
            digests.insert(live.zxid, live.tree.digest());
        }
        if live.zxid == 260 {
            ahead = Some((live.tree.clone(), live.sessions()));
        }
    }
    write_log(&d.log(), 1 << 20, &live.records);
    let (tree260, sessions) = ahead.expect("zxid 260 was reached");
    write_snapshot(&d.data(), &tree260, &sessions, 200).expect("snapshot");
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert!(r.tree == live.tree, "the replay converges");
    let logged: Vec<(i64, u64)> = r.tree.digest_log().collect();
    assert_eq!(
        logged,
        vec![(384, digests[&384])],
        "256 is fuzzy; 384 is exact"
    );
    // What would have been logged at 256 is not the digest of the tree at 256.
    let mut fuzzy = tree260.clone();
    for (h, t) in &live.records[200..256] {
        let _ = apply(&mut fuzzy, h, t);
    }
    assert_ne!(fuzzy.digest(), digests[&256]);
    assert!(!fuzzy.is_fuzzy_at(256), "a tree not marked is never fuzzy");
    assert_eq!(fuzzy.mark_fuzzy_after(256), Some(260));
    assert!(fuzzy.is_fuzzy_at(259) && !fuzzy.is_fuzzy_at(260));
    assert_eq!(live.tree.clone().mark_fuzzy_after(400), None);
}

#[test]
fn snapshot_walked_while_the_tree_changes_replays_to_the_live_tree() {
    for seed in 0..60u64 {
        let d = TempDir::new("walk");
        let mut live = Live::new();
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..rng.gen_range(20..200) {
            live.random_deep(&mut rng);
        }
        // The walk starts at this zxid and takes a few nodes at a time; between
        // steps the tree keeps changing, as on the quorum core.
        let start_zxid = live.zxid;
        let mut file = SnapshotFile::create(&d.data(), start_zxid).expect("create");
        let mut buf = bytes::BytesMut::new();
        let mut enc = SnapshotEncoder::new(&live.sessions(), start_zxid, &mut buf);
        while !enc.encode_some(&live.tree, rng.gen_range(1..4), &mut buf) {
            for _ in 0..rng.gen_range(0..6) {
                live.random_deep(&mut rng);
            }
        }
        file.write(&buf).expect("write");
        file.finish().expect("finish");
        for _ in 0..rng.gen_range(0..20) {
            live.random_deep(&mut rng);
        }
        write_log(&d.log(), 1 << 20, &live.records);
        let r = recover(&d.data(), &d.log(), false).expect("recover");
        assert!(r.snapshot.is_some(), "seed {seed}: snapshot not used");
        assert!(
            r.tree == live.tree,
            "seed {seed}: walked snapshot + log differs"
        );
        assert_eq!(r.last_zxid, live.zxid);
    }
}

#[test]
fn walk_leaves_a_subtree_whose_root_was_recreated() {
    let d = TempDir::new("recreated");
    let mut live = Live::new();
    for p in ["/a", "/a/b", "/a/c"] {
        let t = live.create(p, data(p), false);
        live.push(1, t);
    }
    let start_zxid = live.zxid;
    let mut buf = bytes::BytesMut::new();
    let mut enc = SnapshotEncoder::new(&[], start_zxid, &mut buf);
    // "/" and "/a": the walk is now inside /a.
    assert!(!enc.encode_some(&live.tree, 2, &mut buf));
    for p in ["/a/b", "/a/c", "/a"] {
        live.push(1, Txn::Delete(DeleteTxn { path: p.into() }));
    }
    for p in ["/a", "/a/x"] {
        let t = live.create(p, data("new"), false);
        live.push(1, t);
    }
    while !enc.encode_some(&live.tree, 1, &mut buf) {}
    let mut file = SnapshotFile::create(&d.data(), start_zxid).expect("create");
    file.write(&buf).expect("write");
    let path = file.finish().expect("finish");
    // The new /a/x is not under the old /a in the file; the log creates both.
    let (snap, _, _) = read_snapshot(&path, false).expect("read");
    assert!(snap.get("/a/x").is_none());
    assert!(snap.get("/a").is_some_and(|n| n.persisted().czxid == 1));
    write_log(&d.log(), 1 << 20, &live.records);
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert!(
        r.tree == live.tree,
        "recovered tree differs from the live one"
    );
}

#[test]
fn version_1_snapshots_are_still_read() {
    use bytes::BufMut;
    let d = TempDir::new("v1");
    let mut live = Live::new();
    live.many_kinds();
    // Version 1 by hand: counts up front, no tags.
    let mut nodes: Vec<String> = vec!["/".into()];
    let mut i = 0;
    while i < nodes.len() {
        let p = nodes[i].clone();
        let base = if p == "/" { String::new() } else { p.clone() };
        if let Some(n) = live.tree.get(&p) {
            nodes.extend(n.children().map(|c| format!("{base}/{c}")));
        }
        i += 1;
    }
    let mut acls: Vec<Vec<Acl>> = Vec::new();
    let mut b = bytes::BytesMut::new();
    b.put_slice(b"RKSN");
    b.put_u32(1);
    b.put_i64(live.zxid);
    let sessions = live.sessions();
    b.put_u32(sessions.len() as u32);
    for (id, t) in &sessions {
        b.put_i64(*id);
        b.put_i32(*t);
    }
    let mut body = bytes::BytesMut::new();
    for p in &nodes {
        let n = live.tree.get(p).expect("node");
        let acl = n.acl().to_vec();
        let ix = acls.iter().position(|a| *a == acl).unwrap_or_else(|| {
            acls.push(acl);
            acls.len() - 1
        });
        p.encode(&mut body);
        n.data().cloned().encode(&mut body);
        body.put_u32(ix as u32);
        n.persisted().encode(&mut body);
    }
    b.put_u32(acls.len() as u32);
    for a in &acls {
        a.encode(&mut b);
    }
    b.put_u64(nodes.len() as u64);
    b.put_slice(&body);
    let crc = crc32c::crc32c(&b);
    b.put_u32(crc);
    std::fs::create_dir_all(d.data()).expect("mkdir");
    let path = d
        .data()
        .join(names::file_name(names::SNAPSHOT_PREFIX, live.zxid));
    std::fs::write(&path, &b).expect("write");
    let (tree, s, z) = read_snapshot(&path, false).expect("read v1");
    assert!(tree == live.tree);
    assert_eq!((s, z), (sessions, live.zxid));
}

#[test]
fn corrupt_newest_snapshot_falls_back_to_an_older_one() {
    let d = TempDir::new("fallback");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(11);
    let mut log = TxnLog::create(&d.log(), 2048, 0).expect("create");
    let mut snaps = Vec::new();
    for round in 0..3 {
        for _ in 0..40 {
            let (h, t) = live.random(&mut rng);
            log.append(&h, &t).expect("append");
        }
        if round < 2 {
            snaps.push(
                write_snapshot(&d.data(), &live.tree, &live.sessions(), live.zxid).expect("snap"),
            );
        }
    }
    log.sync().expect("sync");
    drop(log);
    let newest = snaps[1].clone();
    let mut bytes = std::fs::read(&newest).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&newest, &bytes).expect("write");
    let (r, logs) = capture_logs(|| recover(&d.data(), &d.log(), false));
    let r = r.expect("fallback");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    assert_eq!(r.snapshot.as_ref(), Some(&snaps[0]));
    assert_eq!(r.replayed, 80);
    assert!(
        logs.contains("older snapshot") && logs.contains("snapshot.0000000000000050"),
        "{logs}"
    );
    drop(r);
    // If the log no longer covers the older snapshot, recovery refuses.
    super::log::remove_segments_before(&d.log(), 60).expect("remove");
    let err = recover(&d.data(), &d.log(), false)
        .err()
        .expect("gap refused");
    assert!(
        matches!(
            err,
            StorageError::LogGap {
                snapshot_zxid: 40,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn purge_keeps_newest_snapshots_and_the_log_they_need() {
    let d = TempDir::new("purge");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(5);
    let mut log = TxnLog::create(&d.log(), 1024, 0).expect("create");
    let mut snap_zxids = Vec::new();
    for _ in 0..4 {
        for _ in 0..50 {
            let (h, t) = live.random(&mut rng);
            log.append(&h, &t).expect("append");
        }
        log.sync().expect("sync");
        write_snapshot(&d.data(), &live.tree, &live.sessions(), live.zxid).expect("snap");
        snap_zxids.push(live.zxid);
    }
    for _ in 0..10 {
        let (h, t) = live.random(&mut rng);
        log.append(&h, &t).expect("append");
    }
    log.sync().expect("sync");
    let before = names::list(&d.log(), names::LOG_PREFIX)
        .expect("list")
        .len();
    let purged = purge(&d.data(), &d.log(), 2).expect("purge");
    assert_eq!(purged.snapshots, 2);
    assert!(purged.segments > 0 && purged.segments < before);
    let snaps: Vec<i64> = names::list(&d.data(), names::SNAPSHOT_PREFIX)
        .expect("list")
        .into_iter()
        .map(|(z, _)| z)
        .collect();
    assert_eq!(snaps, snap_zxids[2..]);
    let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
    assert!(
        segs[0].0 <= snap_zxids[2] + 1,
        "oldest kept snapshot replayable"
    );
    assert_eq!(log.remove_segments_before(snap_zxids[2]).expect("again"), 0);
    drop(log);
    // Recovery from the oldest kept snapshot still works once the newest is lost.
    std::fs::remove_file(
        d.data()
            .join(names::file_name(names::SNAPSHOT_PREFIX, snap_zxids[3])),
    )
    .expect("rm");
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
    assert_eq!(PREALLOC_BYTES_DEFAULT, 64 << 20);
}

#[test]
fn a_missing_middle_segment_is_refused() {
    let d = TempDir::new("hole");
    let mut live = Live::new();
    live.many_kinds();
    write_log(&d.log(), 1024, &live.records);
    let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
    assert!(segs.len() > 2, "{segs:?}");
    std::fs::remove_file(&segs[1].1).expect("rm");
    let err = recover(&d.data(), &d.log(), false)
        .err()
        .expect("hole refused");
    assert!(
        matches!(&err, StorageError::CorruptRecord { path, .. } if *path == segs[2].1),
        "{err}"
    );
    assert!(err.to_string().contains("a segment is missing"), "{err}");
}

#[test]
fn ttl_nodes_survive_snapshot_and_log_with_extended_types() {
    let d = TempDir::new("ttl");
    let mut tree = DataTree::with_extended_types(true);
    let ttl = Txn::CreateTtl(crate::txn::CreateTtlTxn {
        path: "/t".into(),
        data: data("ttl"),
        acl: Acl::open_unsafe(),
        parent_cversion: 1,
        ttl: 5_000,
    });
    let h1 = TxnHeader::for_txn(1, 1, 1, 100, &ttl);
    let _ = apply(&mut tree, &h1, &ttl);
    assert_eq!(tree.ttls().collect::<Vec<_>>(), vec!["/t"]);
    write_snapshot(&d.data(), &tree, &[], 1).expect("snapshot");
    let mut log = TxnLog::create(&d.log(), 4096, 1).expect("create");
    let ttl2 = Txn::CreateTtl(crate::txn::CreateTtlTxn {
        path: "/t2".into(),
        data: None,
        acl: Acl::open_unsafe(),
        parent_cversion: 2,
        ttl: 7_000,
    });
    let h2 = TxnHeader::for_txn(1, 2, 2, 200, &ttl2);
    let _ = apply(&mut tree, &h2, &ttl2);
    log.append(&h2, &ttl2).expect("append");
    log.sync().expect("sync");
    drop(log);
    let r = recover(&d.data(), &d.log(), true).expect("recover");
    assert!(r.tree == tree);
    assert_eq!(r.tree.ttls().collect::<Vec<_>>(), vec!["/t", "/t2"]);
    assert_eq!(r.replayed, 1);
}

/// A closed log of `n` creates (zxids 1..=n) spread over several segments.
fn log_of_creates(dir: &Path, n: usize, per_segment: usize) -> Live {
    let mut live = Live::new();
    let mut log = TxnLog::create(dir, 4096, 0).expect("create");
    for i in 1..=n {
        let t = live.create(&format!("/n{i}"), data("x"), false);
        let (h, t) = live.push(1, t);
        log.append(&h, &t).expect("append");
        if i % per_segment == 0 {
            log.roll();
        }
        log.run_jobs().expect("jobs");
    }
    log.sync().expect("sync");
    live
}

fn zxids_after(dir: &Path, after: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    let last = read_log_after(dir, after, |h, _| {
        seen.push(h.zxid);
        Ok(std::ops::ControlFlow::Continue(()))
    })
    .expect("read");
    assert_eq!(last, seen.last().copied().unwrap_or(after));
    seen
}

#[test]
fn the_log_reads_back_from_any_zxid_across_segments() {
    let d = TempDir::new("readafter");
    log_of_creates(&d.log(), 30, 7);
    assert!(
        names::list(&d.log(), names::LOG_PREFIX)
            .expect("list")
            .len()
            >= 4
    );
    assert_eq!(zxids_after(&d.log(), 0), (1..=30).collect::<Vec<_>>());
    assert_eq!(zxids_after(&d.log(), 7), (8..=30).collect::<Vec<_>>());
    assert_eq!(zxids_after(&d.log(), 23), (24..=30).collect::<Vec<_>>());
    assert!(zxids_after(&d.log(), 30).is_empty());
}

#[test]
fn a_read_of_the_log_that_stops_reads_no_later_segment() {
    let d = TempDir::new("readstop");
    log_of_creates(&d.log(), 30, 7);
    let segs = names::list(&d.log(), names::LOG_PREFIX).expect("list");
    assert!(segs.len() >= 4);
    // A segment missing in the middle: a reader that got that far would refuse the log.
    std::fs::remove_file(&segs[2].1).expect("remove a middle segment");
    let mut seen = Vec::new();
    let last = read_log_after(&d.log(), 0, |h, _| {
        seen.push(h.zxid);
        Ok(if h.zxid == 3 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        })
    })
    .expect("a read that stops before the gap");
    assert_eq!((seen, last), (vec![1, 2, 3], 3));
    read_log_after(&d.log(), 0, |_, _| Ok(std::ops::ControlFlow::Continue(())))
        .expect_err("a read through the gap");
}

#[test]
fn truncation_keeps_exactly_the_prefix_and_recovery_agrees() {
    for cut_after in [30, 21, 14, 8, 7, 1, 0] {
        let d = TempDir::new("truncate");
        let live = log_of_creates(&d.log(), 30, 7);
        let t = truncate_log_after(&d.log(), cut_after).expect("truncate");
        assert_eq!(
            zxids_after(&d.log(), 0),
            (1..=cut_after).collect::<Vec<_>>(),
            "cut after {cut_after}: {t:?}"
        );
        if cut_after == 30 {
            assert_eq!(t.removed.len(), 0);
        }
        let r = recover(&d.data(), &d.log(), false).expect("recover");
        assert_eq!(r.last_zxid, cut_after);
        let (tree, _) = replayed(&live.records, cut_after as usize);
        assert!(r.tree == tree, "cut after {cut_after}: tree differs");
    }
}

#[test]
fn truncation_at_a_zxid_the_log_never_had_is_refused() {
    let d = TempDir::new("truncgap");
    log_of_creates(&d.log(), 10, 4);
    // An epoch the log never reached: nothing after it, nothing to cut.
    assert_eq!(
        truncate_log_after(&d.log(), 5 << 32).expect("past"),
        Truncated::default()
    );
    // Below the first record (zxids here are 1..=10): not a txn of this log.
    let err = truncate_log_after(&d.log(), -5).expect_err("not in the log");
    assert!(err.to_string().contains("holds no such txn"), "{err}");
    assert_eq!(zxids_after(&d.log(), 0), (1..=10).collect::<Vec<_>>());
}

/// After a roll (the server rolls at each snapshot) the next spare is sized for what
/// the rolled segment held: twice that, rounded up to 4 KiB, between a sixteenth of
/// `preAllocSize` and all of it. A segment that fills up brings full-size spares back.
#[test]
fn a_spare_after_a_roll_is_sized_by_what_the_rolled_segment_held() {
    let d = TempDir::new("spare-size");
    let mut live = Live::new();
    let mut rng = StdRng::seed_from_u64(21);
    let prealloc: u64 = 1 << 20;
    let floor = prealloc / 16;
    let mut log = TxnLog::create(&d.log(), prealloc, 0).expect("create");
    let spare_len = |log: &mut TxnLog| {
        run_background(log);
        let s = spares(&d.log());
        assert_eq!(s.len(), 1, "one spare: {s:?}");
        std::fs::metadata(&s[0]).expect("stat").len()
    };
    // One record into a new segment (the ready spare), synced: the rename done and
    // the left segment closed, truncated to what it held. Returns the new one's path.
    let start_segment = |log: &mut TxnLog, live: &mut Live, rng: &mut StdRng| {
        let (h, t) = live.random(rng);
        log.append(&h, &t).expect("append");
        log.sync().expect("sync");
        d.log().join(names::file_name(names::LOG_PREFIX, h.zxid))
    };
    let (h, t) = live.random(&mut rng);
    log.append(&h, &t).expect("append");
    log.sync().expect("sync");
    assert_eq!(spare_len(&mut log), prealloc, "no roll yet: full size");

    // The roll of a segment that held one record: the floor.
    log.roll();
    let mid = start_segment(&mut log, &mut live, &mut rng);
    assert_eq!(spare_len(&mut log), floor);

    // The roll of one that held more than half the floor: twice what it held.
    let from = log.bytes_appended();
    while log.bytes_appended() - from < floor {
        let (h, t) = live.random(&mut rng);
        log.append(&h, &t).expect("append");
        log.sync().expect("sync");
    }
    log.roll();
    start_segment(&mut log, &mut live, &mut rng);
    let held = std::fs::metadata(&mid).expect("stat").len();
    assert!(held > floor / 2, "{held}");
    assert_eq!(spare_len(&mut log), (2 * held).next_multiple_of(4096));

    // Appends past the end of that spare, now the active segment: full size again.
    append_until_rollover(&mut log, &mut live, &mut rng, true);
    log.sync().expect("sync");
    assert_eq!(spare_len(&mut log), prealloc);
    drop(log);
    let r = recover(&d.data(), &d.log(), false).expect("recover");
    assert_same(&r, &live.tree, &live.sessions(), live.zxid);
}
