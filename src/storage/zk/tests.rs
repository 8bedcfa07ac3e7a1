//! Hand-built ZooKeeper snapshot and log bytes, laid out as the module docs say.

use std::path::{Path, PathBuf};

use bytes::{BufMut, BytesMut};

use super::*;
use crate::proto::codec::Encode;
use crate::proto::{Acl, NodeData};
use crate::tree::{StatPersisted, CONFIG_PATH, CONTAINER_EPHEMERAL_OWNER};
use crate::txn::{CloseSessionTxn, CreateSessionTxn, CreateTxn, SetDataTxn, TxnHeader};

const SID: i64 = 0x0100_0000_0000_0001;

fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i32(s.len() as i32);
    b.put_slice(s.as_bytes());
}

fn put_stat(b: &mut BytesMut, s: &StatPersisted) {
    b.put_i64(s.czxid);
    b.put_i64(s.mzxid);
    b.put_i64(s.ctime);
    b.put_i64(s.mtime);
    b.put_i32(s.version);
    b.put_i32(s.cversion);
    b.put_i32(s.aversion);
    b.put_i64(s.ephemeral_owner);
    b.put_i64(s.pzxid);
}

fn put_seal(b: &mut BytesMut) {
    let sum = adler32(b);
    b.put_i64(i64::from(sum));
    put_str(b, "/");
}

fn stat(czxid: i64, version: i32, owner: i64) -> StatPersisted {
    StatPersisted {
        czxid,
        mzxid: czxid + 1,
        ctime: 1000 + czxid,
        mtime: 2000 + czxid,
        version,
        cversion: 3,
        aversion: 2,
        ephemeral_owner: owner,
        pzxid: czxid + 2,
    }
}

fn digest_acl() -> Vec<Acl> {
    vec![
        Acl::new(31, "digest", "user:hash="),
        Acl::new(1, "world", "anyone"),
    ]
}

/// A snapshot: root "", /zookeeper, /zookeeper/quota (no /zookeeper/config), /a (null
/// data, digest ACL via ref 7, ephemeral of SID), /b (empty data, ref −1), /c
/// (container), /c/d; then the digest section.
fn tiny_snapshot() -> BytesMut {
    let mut b = BytesMut::new();
    b.put_slice(b"ZKSN");
    b.put_i32(2);
    b.put_i64(99);
    b.put_i32(1);
    b.put_i64(SID);
    b.put_i32(30_000);
    b.put_i32(1);
    b.put_i64(7);
    b.put_i32(2);
    for a in digest_acl() {
        b.put_i32(a.perms);
        put_str(&mut b, &a.id.scheme);
        put_str(&mut b, &a.id.id);
    }
    let nodes: Vec<(&str, Option<&[u8]>, i64, StatPersisted)> = vec![
        ("", Some(b""), -1, StatPersisted::default()),
        ("/zookeeper", Some(b""), -1, StatPersisted::default()),
        ("/zookeeper/quota", Some(b""), -1, StatPersisted::default()),
        ("/a", None, 7, stat(3, 1, SID)),
        ("/b", Some(b""), -1, stat(4, 0, 0)),
        ("/c", Some(b"cc"), -1, stat(5, 0, CONTAINER_EPHEMERAL_OWNER)),
        ("/c/d", Some(b"dd"), 7, stat(6, 5, 0)),
    ];
    for (p, data, aref, st) in nodes {
        put_str(&mut b, p);
        match data {
            Some(d) => {
                b.put_i32(d.len() as i32);
                b.put_slice(d);
            }
            None => b.put_i32(-1),
        }
        b.put_i64(aref);
        put_stat(&mut b, &st);
    }
    put_str(&mut b, "/");
    put_seal(&mut b);
    b.put_i64(6);
    b.put_i32(2);
    b.put_i64(0x1234);
    put_seal(&mut b);
    b
}

fn p() -> PathBuf {
    PathBuf::from("snapshot.6")
}

#[test]
fn snapshot_maps_every_field() {
    let bytes = tiny_snapshot().freeze();
    assert!(looks_complete(&bytes));
    let s = read_snapshot_bytes(&p(), bytes, false).expect("reads");
    assert_eq!(s.dbid, 99);
    assert_eq!(s.sessions, vec![(SID, 30_000)]);
    assert_eq!(s.nodes, 7);
    assert_eq!(s.acl_lists, 1);
    assert_eq!(
        s.zxid_digest,
        Some(ZxidDigest {
            zxid: 6,
            digest_version: 2,
            digest: 0x1234
        })
    );
    assert_eq!(s.added_system_nodes, vec![CONFIG_PATH]);
    let t = &s.tree;
    let a = t.get("/a").expect("/a");
    assert_eq!(a.data(), None, "null data stays null");
    assert_eq!(&**a.acl(), digest_acl().as_slice());
    assert_eq!(a.persisted(), stat(3, 1, SID));
    assert_eq!(t.ephemerals(SID).collect::<Vec<_>>(), vec!["/a"]);
    let b = t.get("/b").expect("/b");
    assert_eq!(
        b.data().map(|d| &d[..]),
        Some(&b""[..]),
        "empty data stays empty"
    );
    assert_eq!(&**b.acl(), Acl::open_unsafe().as_slice());
    assert_eq!(t.containers().collect::<Vec<_>>(), vec!["/c"]);
    assert_eq!(t.get("/c/d").map(|n| n.persisted().version), Some(5));
    assert_eq!(t.get("/").map(|n| n.num_children()), Some(4));
    let cfg = t.get(CONFIG_PATH).expect("config added");
    assert_eq!(&**cfg.acl(), Acl::read_unsafe().as_slice());
    assert_eq!(cfg.persisted().aversion, -1);
    t.validate();
}

#[test]
fn snapshot_without_digest_section_reads() {
    let mut b = tiny_snapshot();
    b.truncate(b.len() - 20 - 13);
    let s = read_snapshot_bytes(&p(), b.freeze(), false).expect("reads");
    assert_eq!(s.zxid_digest, None);
}

fn corrupt_at(r: Result<ZkSnapshot, ZkError>) -> (u64, String) {
    match r {
        Err(ZkError::Corrupt { offset, reason, .. }) => (offset, reason),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("corruption not detected"),
    }
}

#[test]
fn snapshot_bad_checksum_names_the_seal() {
    let good = tiny_snapshot();
    let first_seal = good.len() - 13 - 20 - 13;
    let mut bad = good.clone();
    bad[70] ^= 0x01; // inside an ACL id string of the cache
    let (off, why) = corrupt_at(read_snapshot_bytes(&p(), bad.freeze(), false));
    assert_eq!(off as usize, first_seal);
    assert!(why.contains("Adler32"), "{why}");
    // The second seal covers the first one and the digest.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 14] ^= 0x01; // last byte of the digest
    let (off, _) = corrupt_at(read_snapshot_bytes(&p(), bad.freeze(), false));
    assert_eq!(off as usize, n - 13);
    // Trailing garbage.
    let mut bad = good.clone();
    bad.put_u8(0);
    corrupt_at(read_snapshot_bytes(&p(), bad.freeze(), false));
}

#[test]
fn snapshot_bad_acl_ref_and_magic() {
    let mut b = tiny_snapshot();
    // The first "7" ACL ref of a node is /a's; find it after the cache (offset > 60).
    let pos = (60..b.len() - 8)
        .find(|&i| b[i..i + 8] == 7i64.to_be_bytes())
        .expect("ref");
    b[pos + 7] = 8;
    let (off, why) = corrupt_at(read_snapshot_bytes(&p(), b.freeze(), false));
    assert_eq!(off as usize, pos);
    assert!(why.contains("ACL ref 8"), "{why}");
    let mut b = tiny_snapshot();
    b[0] = b'X';
    let (off, _) = corrupt_at(read_snapshot_bytes(&p(), b.freeze(), false));
    assert_eq!(off, 0);
    // Cut short: no final seal, and a reader fails cleanly on it anyway.
    let b = tiny_snapshot();
    for cut in [10, 30, b.len() / 2, b.len() - 1] {
        let short = b.clone().freeze().slice(..cut);
        assert!(!looks_complete(&short) || cut == b.len() - 1);
        assert!(read_snapshot_bytes(&p(), short, false).is_err());
    }
}

fn record(hdr: &TxnHeader, txn: &Txn, digest: bool) -> BytesMut {
    let mut t = BytesMut::new();
    hdr.encode(&mut t);
    txn.encode(&mut t);
    if digest {
        t.put_i32(2);
        t.put_i64(0x55);
    }
    let mut b = BytesMut::new();
    b.put_i64(i64::from(adler32(&t)));
    b.put_i32(t.len() as i32);
    b.put_slice(&t);
    b.put_u8(0x42);
    b
}

fn hdr(zxid: i64, txn: &Txn) -> TxnHeader {
    TxnHeader::for_txn(SID, zxid as i32, zxid, 5000 + zxid, txn)
}

fn create(path: &str) -> Txn {
    Txn::Create(CreateTxn {
        path: path.into(),
        data: Some(NodeData::new(b"v")),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: 1,
    })
}

/// Header, createSession (7), create /x (8), setData /b (9), closeSession (10), padding.
fn tiny_log() -> (BytesMut, Vec<usize>) {
    let mut b = BytesMut::new();
    b.put_slice(b"ZKLG");
    b.put_i32(2);
    b.put_i64(99);
    let txns = [
        (7, Txn::CreateSession(CreateSessionTxn { time_out: 4000 })),
        (8, create("/x")),
        (
            9,
            Txn::SetData(SetDataTxn {
                path: "/b".into(),
                data: None,
                version: 1,
            }),
        ),
        (
            10,
            Txn::CloseSession(CloseSessionTxn {
                paths2_delete: vec!["/a".into()],
            }),
        ),
    ];
    let mut starts = Vec::new();
    for (i, (z, t)) in txns.iter().enumerate() {
        starts.push(b.len());
        b.extend_from_slice(&record(&hdr(*z, t), t, i % 2 == 0));
    }
    starts.push(b.len());
    (b, starts)
}

fn lp() -> PathBuf {
    PathBuf::from("log.7")
}

#[test]
fn log_reads_records_digests_and_padding() {
    let (mut b, starts) = tiny_log();
    let end = b.len();
    b.put_bytes(0, 4096);
    let log = read_log_bytes(&lp(), b.freeze()).expect("reads");
    assert_eq!(log.dbid, 99);
    assert_eq!(log.records.len(), 4);
    assert_eq!(log.records[1].hdr.zxid, 8);
    assert_eq!(log.records[1].offset as usize, starts[1]);
    assert_eq!(log.records[0].digest, Some((2, 0x55)));
    assert_eq!(log.records[1].digest, None);
    assert_eq!(log.records[1].txn, create("/x"));
    assert_eq!(log.end, LogEnd::Clean { offset: end as u64 });
}

#[test]
fn log_torn_tail_at_every_byte() {
    let (b, starts) = tiny_log();
    let last = starts[3];
    for cut in last..b.len() {
        let log = read_log_bytes(&lp(), b.clone().freeze().slice(..cut)).expect("torn is fine");
        assert_eq!(log.records.len(), 3, "cut {cut}");
        if cut == last {
            assert_eq!(log.end, LogEnd::Clean { offset: cut as u64 });
        } else {
            assert!(
                matches!(log.end, LogEnd::Torn { offset, .. } if offset as usize == last),
                "cut {cut}: {:?}",
                log.end
            );
        }
    }
    // Zero-filled preallocation over a partial record: no 'B' → torn.
    let mut z = BytesMut::from(&b[..last + 20]);
    z.put_bytes(0, 200);
    let log = read_log_bytes(&lp(), z.freeze()).expect("torn is fine");
    assert!(matches!(log.end, LogEnd::Torn { .. }));
}

#[test]
fn log_bad_checksum_is_an_error_naming_the_record() {
    let (mut b, starts) = tiny_log();
    b[starts[1] + 30] ^= 0x10;
    match read_log_bytes(&lp(), b.freeze()) {
        Err(ZkError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset as usize, starts[1]);
            assert!(reason.contains("Adler32"), "{reason}");
        }
        other => panic!("{other:?}", other = other.map(|l| l.records.len())),
    }
    let (mut b, _) = tiny_log();
    b[1] = b'X';
    assert!(matches!(
        read_log_bytes(&lp(), b.freeze()),
        Err(ZkError::Corrupt { offset: 0, .. })
    ));
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rk-zk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(name), bytes).expect("write");
}

#[test]
fn load_replays_the_log_after_the_snapshot() {
    let d = tmp("load");
    let v2 = d.join("version-2");
    // An older incomplete snapshot with a higher zxid would be skipped; here a newer
    // incomplete one is skipped for snapshot.6.
    write(&v2, "snapshot.6", &tiny_snapshot());
    write(&v2, "snapshot.a", b"ZKSN\0\0\0\x02partial");
    let (log, _) = tiny_log();
    write(&v2, "log.7", &log);
    write(&v2, "log.1", b"not read at all");
    write(&v2, "log.2", b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\x63");
    assert!(zookeeper_files_in(&d).is_some());
    let l = load(&d, None, false).expect("loads");
    assert_eq!(l.snapshot_zxid, 6);
    assert_eq!(l.skipped_snapshots.len(), 1);
    // From the newest log starting at or before zxid 6 (log.2); log.1 is not read.
    assert_eq!(l.logs, vec![v2.join("log.2"), v2.join("log.7")]);
    assert_eq!(l.replayed, 4);
    assert_eq!(l.last_zxid, 10);
    // createSession 7 re-added SID, closeSession 10 removed it and its ephemeral /a.
    assert!(l.sessions.is_empty(), "{:?}", l.sessions);
    assert!(l.tree.get("/a").is_none());
    assert_eq!(l.tree.get("/b").map(|n| n.data().is_none()), Some(true));
    assert!(l.tree.get("/x").is_some());

    // import: writes our snapshot; refuses a non-empty target.
    let to = d.join("out");
    let (_, written) = import(&d, None, &to, false).expect("imports");
    let (tree, sessions, zxid) =
        crate::storage::read_snapshot(&written, false).expect("our snapshot reads");
    assert_eq!(zxid, 10);
    assert!(sessions.is_empty());
    assert_eq!(tree.node_count(), l.tree.node_count());
    assert!(matches!(
        import(&d, None, &to, false),
        Err(ZkError::TargetNotEmpty { .. })
    ));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn load_refuses_logs_without_snapshot_and_empty_dirs() {
    let d = tmp("nosnap");
    let (log, _) = tiny_log();
    write(&d.join("version-2"), "log.7", &log);
    assert!(matches!(
        load(&d, None, false),
        Err(ZkError::LogsWithoutSnapshot { .. })
    ));
    let e = tmp("empty");
    std::fs::create_dir_all(&e).expect("mkdir");
    assert!(zookeeper_files_in(&e).is_none());
    assert!(matches!(load(&e, None, false), Err(ZkError::NoData { .. })));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&e);
}

/// What our writer makes of a tree reads back, through the reader that checks every
/// seal and field, as the very same tree: every node, Stat field, ACL, null vs empty
/// data, ephemeral and container, and the sessions.
#[test]
fn written_snapshots_read_back_as_the_same_tree() {
    let original = read_snapshot_bytes(&p(), tiny_snapshot().freeze(), false).expect("reads");
    let mut tree = original.tree.clone();
    // A deeper, wider tree than the hand-made file, with a second shared ACL list.
    let mut tr = Vec::new();
    for i in 0..300 {
        let parent = format!("/w{}", i % 3);
        if tree.get(&parent).is_none() {
            tree.create_node(&parent, None, &Acl::read_unsafe(), 0, -1, 10, 1, &mut tr)
                .expect("parent");
        }
        let data = NodeData::new(format!("v{i}").as_bytes());
        tree.create_node(
            &format!("{parent}/n{i}"),
            Some(data),
            &digest_acl(),
            0,
            -1,
            11 + i,
            2,
            &mut tr,
        )
        .expect("child");
    }
    let mut bytes = Vec::new();
    write_zk_snapshot(
        &mut bytes,
        &tree.version(),
        &original.sessions,
        SnapshotForm::File { zxid: 0x30 },
    )
    .expect("write");
    assert!(looks_complete(&bytes));
    let back = read_snapshot_bytes(&p(), bytes.into(), false).expect("reads back");
    assert!(back.tree == tree, "the tree changed on the way");
    // The digest section ZooKeeper checks its own digest against.
    let d = back.zxid_digest.expect("a ZxidDigest after the seal");
    assert_eq!((d.zxid, d.digest_version), (0x30, 2));
    assert_eq!(d.digest, tree.digest() as i64);
    assert_eq!(back.sessions, original.sessions);
    // node_count counts the root twice, as ZooKeeper's does (under "" and "/").
    assert_eq!(back.nodes, tree.node_count() - 1);
    assert_eq!(
        back.acl_lists, 3,
        "open, read-only and the digest list, each once"
    );
    assert!(back.added_system_nodes.is_empty());
    back.tree.validate();
}

/// A SNAP body as a leader writes it, received in pieces with the next packet behind
/// it: the scanner asks for more until the signature is in, then names exactly the
/// body's length, and the body reads back as the same tree and sessions.
#[test]
fn a_snap_body_is_found_in_a_stream_and_reads_back() {
    let original = read_snapshot_bytes(&p(), tiny_snapshot().freeze(), false).expect("reads");
    let tree = original.tree.clone();
    let mut body = Vec::new();
    write_zk_snapshot(
        &mut body,
        &tree.version(),
        &original.sessions,
        SnapshotForm::SnapStream,
    )
    .expect("write");
    assert!(body.ends_with(b"\0\0\0\x0aBenWasHere"));
    let mut stream = body.clone();
    stream.extend_from_slice(b"\0\0\0\x05next packet");
    let mut scanner = SnapBodyScanner::new();
    for end in 0..body.len() {
        assert_eq!(
            scanner.scan(&stream[..end]).expect("scan"),
            None,
            "complete at {end}?"
        );
    }
    assert_eq!(scanner.scan(&stream).expect("scan"), Some(body.len()));
    // A fresh scanner given everything at once agrees.
    assert_eq!(
        SnapBodyScanner::new().scan(&stream).expect("scan"),
        Some(body.len())
    );
    let back = read_snap_body(bytes::Bytes::from(body.clone()), false).expect("reads");
    assert!(back.tree == tree, "the tree changed on the way");
    assert_eq!(back.sessions, original.sessions);

    // A wrong signature, a negative count, a length past the bound: errors, not waits.
    let mut wrong = body.clone();
    let n = wrong.len();
    wrong[n - 1] = b'X';
    assert!(SnapBodyScanner::new().scan(&wrong).is_err());
    assert!(read_snap_body(bytes::Bytes::from(wrong), false).is_err());
    assert!(SnapBodyScanner::new().scan(&(-5i32).to_be_bytes()).is_err());
    let mut huge = Vec::new();
    huge.extend_from_slice(&0i32.to_be_bytes()); // no sessions
    huge.extend_from_slice(&0i32.to_be_bytes()); // no ACL lists
    huge.extend_from_slice(&i32::MAX.to_be_bytes()); // a path of 2 GiB
    assert!(SnapBodyScanner::new().scan(&huge).is_err());
}
