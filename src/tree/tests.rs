//! DataTree behaviour tests; expected values are derived from ZooKeeper 3.9's
//! `DataTree` / `DataNode` source, with the reasoning next to each.

use super::*;
use crate::proto::{perms, Acl, ErrorCode, NodeData, Stat};

fn b(s: &str) -> Option<NodeData> {
    Some(NodeData::new(s.as_bytes()))
}

fn create(t: &mut DataTree, path: &str, owner: i64, zxid: i64, time: i64) -> Stat {
    let mut tr = Vec::new();
    t.create_node(
        path,
        b("d"),
        &Acl::open_unsafe(),
        owner,
        -1,
        zxid,
        time,
        &mut tr,
    )
    .expect("create")
}

#[test]
fn fresh_tree_matches_zookeeper() {
    let t = DataTree::new();
    t.validate();
    // DataTree(): root, /zookeeper, /zookeeper/quota built with `new StatPersisted()`
    // (all zero) and data `new byte[0]`; root.addChild("zookeeper").
    let root = t.get("/").expect("root");
    let s = root.stat();
    assert_eq!(s.num_children, 1);
    // copyStat: cversion = 0 * 2 - 1.
    assert_eq!(s.cversion, -1);
    assert_eq!(
        (s.czxid, s.mzxid, s.pzxid, s.ctime, s.version, s.aversion),
        (0, 0, 0, 0, 0, 0)
    );
    assert_eq!(root.data().map(|d| &d[..]), Some(&b""[..]));
    assert_eq!(&**root.acl(), &Acl::open_unsafe()[..]);
    assert_eq!(t.get("").map(|n| n.stat()), Some(s));
    let zk = t.get("/zookeeper").expect("zk").stat();
    assert_eq!((zk.num_children, zk.cversion), (2, -2));
    // addConfigNode: setACL(CONFIG_NODE, READ_ACL_UNSAFE, -1) leaves aversion −1.
    let cfg = t.get("/zookeeper/config").expect("config");
    assert_eq!(cfg.stat().aversion, -1);
    assert_eq!(&**cfg.acl(), &Acl::read_unsafe()[..]);
    assert_eq!(t.get("/zookeeper/quota").expect("quota").stat().aversion, 0);
    // nodes.size() with the root under "" and "/".
    assert_eq!(t.node_count(), 5);
    // 0 ("") + 1 ("/") + 10 + 16 + 17.
    assert_eq!(t.approximate_data_size(), 44);
    assert_eq!(t.count_descendants("/"), Some(3));
    assert_eq!(t.count_descendants("/zookeeper"), Some(2));
    assert_eq!(t.count_descendants("/nope"), None);
    assert_eq!(t.acl_count(), 2);
}

#[test]
fn create_sets_stat_and_parent() {
    let mut t = DataTree::new();
    let s = create(&mut t, "/a", 0, 5, 1000);
    // createStat: czxid = mzxid = pzxid = zxid, ctime = mtime = time.
    assert_eq!(
        s,
        Stat {
            czxid: 5,
            mzxid: 5,
            ctime: 1000,
            mtime: 1000,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 1,
            num_children: 0,
            pzxid: 5,
        }
    );
    let root = t.get("/").expect("root").stat();
    // Stored cversion 1 (one create), 2 children → 1*2 - 2 = 0; pzxid = 5.
    assert_eq!((root.cversion, root.num_children, root.pzxid), (0, 2, 5));
    create(&mut t, "/a/b", 0, 6, 1001);
    let a = t.get("/a").expect("a").stat();
    assert_eq!((a.cversion, a.num_children, a.pzxid, a.mzxid), (1, 1, 6, 5));
    t.validate();
}

#[test]
fn delete_moves_pzxid_not_stored_cversion() {
    let mut t = DataTree::new();
    create(&mut t, "/a", 0, 5, 1);
    create(&mut t, "/a/b", 0, 6, 2);
    let mut tr = Vec::new();
    t.delete_node("/a/b", 7, &mut tr).expect("delete");
    assert_eq!(
        tr,
        vec![
            WatchTrigger::new("/a/b", NODE_DELETED),
            WatchTrigger::new("/a", NODE_CHILDREN_CHANGED)
        ]
    );
    let a = t.get("/a").expect("a");
    // Stored cversion stays 1 (creates), visible 1*2 - 0 = 2 changes.
    assert_eq!(a.persisted().cversion, 1);
    assert_eq!((a.stat().cversion, a.stat().pzxid), (2, 7));
    // pzxid never falls.
    t.delete_node("/a/zz", 3, &mut tr).expect_err("missing");
    assert_eq!(t.get("/a").expect("a").stat().pzxid, 7);
    t.validate();
}

#[test]
fn parent_cversion_from_txn_only_raises() {
    let mut t = DataTree::new();
    let mut tr = Vec::new();
    t.create_node("/a", None, &Acl::open_unsafe(), 0, 10, 5, 1, &mut tr)
        .expect("c");
    assert_eq!(t.get("/").expect("r").persisted().cversion, 10);
    // A lower parentCVersion leaves cversion and pzxid alone.
    t.create_node("/b", None, &Acl::open_unsafe(), 0, 3, 6, 1, &mut tr)
        .expect("c");
    let r = t.get("/").expect("r").persisted();
    assert_eq!((r.cversion, r.pzxid), (10, 5));
    assert_eq!(t.get("/b").expect("b").stat().data_length, 0);
    assert_eq!(t.get("/b").expect("b").data(), None);
}

#[test]
fn set_data_and_set_acl() {
    let mut t = DataTree::new();
    create(&mut t, "/a", 0, 5, 1);
    let mut tr = Vec::new();
    let s = t
        .set_data("/a", b("hello"), 1, 9, 50, &mut tr)
        .expect("set");
    assert_eq!(
        (s.version, s.mzxid, s.mtime, s.ctime, s.czxid, s.data_length),
        (1, 9, 50, 1, 5, 5)
    );
    assert_eq!(tr, vec![WatchTrigger::new("/a", NODE_DATA_CHANGED)]);
    let s = t.set_acl("/a", &Acl::read_unsafe(), 1).expect("acl");
    assert_eq!((s.aversion, s.mzxid, s.version), (1, 9, 1));
    assert_eq!(
        t.set_acl("/x", &Acl::read_unsafe(), 1),
        Err(crate::proto::ErrorCode::NoNode)
    );
    // "/" with data "": 44 + 5 ("hello") + 2 ("/a").
    assert_eq!(t.approximate_data_size(), 51);
    t.validate();
}

#[test]
fn create_errors() {
    let mut t = DataTree::new();
    let mut tr = Vec::new();
    let open = Acl::open_unsafe();
    assert_eq!(
        t.create_node("/x/y", None, &open, 0, -1, 1, 1, &mut tr),
        Err(crate::proto::ErrorCode::NoNode)
    );
    create(&mut t, "/a", 0, 2, 1);
    // NODEEXISTS: the existing node takes the txn's ACL (fuzzy snapshot replay rule).
    let read = Acl::read_unsafe();
    assert_eq!(
        t.create_node("/a", None, &read, 0, -1, 3, 1, &mut tr),
        Err(crate::proto::ErrorCode::NodeExists)
    );
    assert_eq!(&**t.get("/a").expect("a").acl(), &read[..]);
    assert!(tr.is_empty());
    t.validate();
}

#[test]
fn ephemerals_and_kill_session() {
    let mut t = DataTree::new();
    create(&mut t, "/e1", 7, 2, 1);
    create(&mut t, "/e2", 7, 3, 1);
    create(&mut t, "/ab", 7, 4, 1);
    create(&mut t, "/o", 8, 5, 1);
    let s = t.get("/e1").expect("e1").stat();
    assert_eq!(s.ephemeral_owner, 7);
    assert_eq!(t.ephemerals_count(), 4);
    assert_eq!(
        t.ephemerals(7).collect::<Vec<_>>(),
        vec!["/ab", "/e1", "/e2"]
    );
    // Plain string prefix, "/" and blanks mean all.
    assert_eq!(t.ephemerals_under(7, Some("/e")), vec!["/e1", "/e2"]);
    assert_eq!(t.ephemerals_under(7, Some(" / ")).len(), 3);
    assert_eq!(t.ephemerals_under(7, None).len(), 3);
    assert_eq!(t.ephemerals_under(7, Some("/a")), vec!["/ab"]);
    let mut tr = Vec::new();
    // The txn lists one path; the rest of the session's ephemerals go too.
    let deleted = t.kill_session(7, 9, &["/e2".to_owned(), "/gone".to_owned()], &mut tr);
    assert_eq!(deleted, vec!["/e2", "/ab", "/e1"]);
    assert_eq!(tr.len(), 6);
    assert_eq!(t.ephemerals_count(), 1);
    assert_eq!(t.get("/").expect("r").stat().pzxid, 9);
    t.validate();
}

#[test]
fn containers_ttls_and_reaping() {
    let mut t = DataTree::with_extended_types(true);
    let ttl_owner = EphemeralType::ttl_owner(100).expect("ttl");
    let mut tr = Vec::new();
    let open = Acl::open_unsafe();
    let c = t
        .create_node(
            "/c",
            None,
            &open,
            CONTAINER_EPHEMERAL_OWNER,
            -1,
            2,
            1000,
            &mut tr,
        )
        .expect("c");
    // Containers and TTL nodes show ephemeralOwner 0 to clients.
    assert_eq!(c.ephemeral_owner, 0);
    t.create_node("/t", None, &open, ttl_owner, -1, 3, 1000, &mut tr)
        .expect("t");
    assert_eq!(t.get("/t").expect("t").stat().ephemeral_owner, 0);
    assert_eq!(
        t.get("/t").expect("t").persisted().ephemeral_owner,
        ttl_owner
    );
    t.create_node(
        "/n",
        None,
        &open,
        CONTAINER_EPHEMERAL_OWNER,
        -1,
        4,
        1000,
        &mut tr,
    )
    .expect("n");
    // Never-used container: kept unless maxNeverUsedIntervalMs is set and exceeded.
    assert_eq!(t.expired_containers_and_ttls(1100, 0), Vec::<String>::new());
    // TTL: elapsed must exceed the ttl strictly.
    assert_eq!(t.expired_containers_and_ttls(1101, 0), vec!["/t"]);
    assert_eq!(
        t.expired_containers_and_ttls(1101, 100),
        vec!["/c", "/n", "/t"]
    );
    // A container whose child came and went is a candidate at once.
    t.create_node("/c/x", None, &open, 0, -1, 5, 1000, &mut tr)
        .expect("x");
    assert_eq!(t.expired_containers_and_ttls(1000, 0), Vec::<String>::new());
    t.delete_node("/c/x", 6, &mut tr).expect("del");
    assert_eq!(t.expired_containers_and_ttls(1000, 0), vec!["/c"]);
    t.delete_node("/c", 7, &mut tr).expect("del");
    assert_eq!(t.containers().count(), 1);
    t.validate();
    // Without extended types the same owner is an ordinary session.
    let mut plain = DataTree::new();
    plain
        .create_node("/t", None, &open, ttl_owner, -1, 3, 1000, &mut tr)
        .expect("t");
    assert_eq!(plain.ephemerals_count(), 1);
    assert_eq!(
        plain.expired_containers_and_ttls(1_000_000, 0),
        Vec::<String>::new()
    );
}

#[test]
fn acl_table_shares_and_frees() {
    let mut t = DataTree::new();
    create(&mut t, "/a", 0, 2, 1);
    create(&mut t, "/b", 0, 3, 1);
    let a = t.get("/a").expect("a").acl().clone();
    assert!(std::sync::Arc::ptr_eq(&a, t.get("/b").expect("b").acl()));
    drop(a);
    let digest = vec![Acl::new(perms::ALL, "digest", "u:x")];
    t.set_acl("/a", &digest, 1).expect("acl");
    assert_eq!(t.acl_count(), 3);
    let mut tr = Vec::new();
    t.delete_node("/a", 4, &mut tr).expect("del");
    assert_eq!(t.acl_count(), 2);
}

#[test]
fn tree_is_send() {
    fn is_send<T: Send>() {}
    is_send::<DataTree>();
}

#[test]
fn child_after_resumes_a_walk_across_changes() {
    let mut t = DataTree::new();
    for (i, name) in ["b", "d", "f"].iter().enumerate() {
        create(&mut t, &format!("/{name}"), 0, 10 + i as i64, 1);
    }
    let root = |t: &DataTree| t.get("/").expect("root").clone();
    assert_eq!(root(&t).child_after(None), Some("b"));
    assert_eq!(root(&t).child_after(Some("b")), Some("d"));
    // The cursor's last name is gone and a name before it appeared: the walk goes on
    // after where it was, not from the start.
    let mut tr = Vec::new();
    t.delete_node("/d", 20, &mut tr).expect("delete");
    create(&mut t, "/a", 0, 21, 1);
    assert_eq!(root(&t).child_after(Some("d")), Some("f"));
    assert_eq!(root(&t).child_after(Some("f")), Some("zookeeper"));
    assert_eq!(root(&t).child_after(Some("zookeeper")), None);
}

/// The record's size is what every znode pays (see `examples/tree_rss.rs`): 88 bytes
/// with the shared record's one-word count, the most that fits a 96-byte size class
/// (glibc's chunk and jemalloc's class alike; 96 would take 112); a field that grows it
/// should be a choice, not an accident.
#[cfg(target_pointer_width = "64")]
#[test]
fn node_record_is_80_bytes() {
    assert_eq!(std::mem::size_of::<Node>(), 80);
}

/// The ephemeral owner is interned with the ACL: a setACL, and a create that finds
/// the node (replay), change the ACL and keep the owner, which the stat, the
/// persisted stat and session close still see; ephemerals of different sessions
/// share one ACL list.
#[test]
fn an_acl_change_keeps_the_ephemeral_owner() {
    let mut t = DataTree::new();
    create(&mut t, "/e", 0x51, 2, 1);
    create(&mut t, "/f", 0x52, 3, 1);
    create(&mut t, "/p", 0, 4, 1);
    let lists = t.acl_count();
    let read = Acl::read_unsafe();
    assert_eq!(
        t.set_acl("/e", &read, 1).map(|s| s.ephemeral_owner),
        Ok(0x51)
    );
    let mut tr = Vec::new();
    let again = t.create_node("/f", None, &read, 0, -1, 5, 1, &mut tr);
    assert_eq!(again, Err(ErrorCode::NodeExists));
    for (p, owner) in [("/e", 0x51), ("/f", 0x52), ("/p", 0)] {
        let n = t.get(p).expect("node");
        assert_eq!(n.stat().ephemeral_owner, owner, "{p}");
        assert_eq!(n.persisted().ephemeral_owner, owner, "{p}");
    }
    let (e, f) = (t.get("/e").expect("e"), t.get("/f").expect("f"));
    assert!(std::sync::Arc::ptr_eq(e.acl(), f.acl()));
    assert_eq!(t.acl_count(), lists);
    assert_eq!(t.kill_session(0x51, 6, &[], &mut tr), vec!["/e".to_owned()]);
    assert!(t.get("/e").is_none() && t.get("/f").is_some());
    t.validate();
}

/// Everything a client or a snapshot can see of a tree, as plain values.
fn dump(t: &DataTree) -> Vec<String> {
    let mut out = vec![format!(
        "count={} size={} acls={} eph={}",
        t.node_count(),
        t.approximate_data_size(),
        t.acl_count(),
        t.ephemerals_count()
    )];
    let mut stack = vec!["/".to_owned()];
    while let Some(p) = stack.pop() {
        let n = t.get(&p).expect("listed node exists");
        out.push(format!("{p} {:?} {:?} {:?}", n.stat(), n.data(), n.acl()));
        for c in n.children() {
            stack.push(if p == "/" {
                format!("/{c}")
            } else {
                format!("{p}/{c}")
            });
        }
    }
    for s in t
        .sessions_with_ephemerals()
        .collect::<std::collections::BTreeSet<_>>()
    {
        out.push(format!(
            "session {s}: {:?}",
            t.ephemerals(s).collect::<Vec<_>>()
        ));
    }
    out.push(format!(
        "containers {:?}",
        t.containers().collect::<Vec<_>>()
    ));
    out.push(format!("ttls {:?}", t.ttls().collect::<Vec<_>>()));
    out
}

/// A clone is a version: whatever the original goes through afterwards (creates,
/// deletes, data and ACL changes, ephemerals, session kills), every clone taken along
/// the way reads exactly what it read when taken, and so does a clone changed on its
/// own. This is what snapshots and learner sync will rely on.
#[test]
fn clones_are_versions_later_changes_never_reach() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(7);
    let mut t = DataTree::with_extended_types(true);
    let mut versions: Vec<(DataTree, Vec<String>)> = Vec::new();
    let names = ["a", "b", "c", "d"];
    let acls = [Acl::open_unsafe(), Acl::read_unsafe()];
    let mut tr = Vec::new();
    for step in 0..3000i64 {
        let depth = rng.gen_range(1..=3);
        let path: String = (0..depth)
            .map(|_| format!("/{}", names[rng.gen_range(0..names.len())]))
            .collect();
        let zxid = 100 + step;
        match rng.gen_range(0..10) {
            0..=3 => {
                let owner =
                    [0, 0, 1, 2, crate::tree::CONTAINER_EPHEMERAL_OWNER][rng.gen_range(0..5)];
                let _ = t.create_node(
                    &path,
                    b("x"),
                    &acls[step as usize % 2],
                    owner,
                    -1,
                    zxid,
                    step,
                    &mut tr,
                );
            }
            4..=5 => {
                if t.get(&path).is_some_and(|n| n.num_children() == 0) {
                    let _ = t.delete_node(&path, zxid, &mut tr);
                }
            }
            6..=7 => {
                let _ = t.set_data(
                    &path,
                    b(&step.to_string()),
                    step as i32,
                    zxid,
                    step,
                    &mut tr,
                );
            }
            8 => {
                let _ = t.set_acl(&path, &acls[rng.gen_range(0..2)], step as i32);
            }
            _ => {
                t.kill_session(rng.gen_range(1..3), zxid, &[], &mut tr);
            }
        }
        if step % 97 == 0 {
            t.validate();
            versions.push((t.clone(), dump(&t)));
        }
        // A clone changed on its own leaves the original and the other clones alone.
        if step % 503 == 0 {
            let mut fork = t.clone();
            let before = dump(&t);
            for p in ["/a", "/b", "/a/c"] {
                let _ = fork.set_data(p, b("fork"), 1, zxid, step, &mut tr);
                let _ = fork.create_node(
                    &format!("{p}/fork"),
                    None,
                    &acls[0],
                    1,
                    -1,
                    zxid,
                    step,
                    &mut tr,
                );
            }
            fork.kill_session(2, zxid, &[], &mut tr);
            fork.validate();
            assert_eq!(
                dump(&t),
                before,
                "step {step}: a fork's changes reached the original"
            );
        }
    }
    for (i, (v, seen)) in versions.iter().enumerate() {
        v.validate();
        assert_eq!(&dump(v), seen, "version {i} changed after it was taken");
    }
}

/// A change copies the records on its path and shares the rest with the clone: a
/// sibling subtree is the very same record in both versions, so a version costs
/// memory only for what changed since.
#[test]
fn a_change_copies_its_path_and_shares_the_rest() {
    let mut t = DataTree::new();
    for p in ["/a", "/a/x", "/b", "/b/y"] {
        create(&mut t, p, 0, 5, 1);
    }
    let old = t.clone();
    let mut tr = Vec::new();
    t.set_data("/a/x", b("new"), 1, 6, 2, &mut tr).expect("set");
    let same = |p: &str| std::ptr::eq(t.get(p).expect("t"), old.get(p).expect("old"));
    assert!(same("/b") && same("/b/y") && same("/zookeeper"));
    assert!(!same("/") && !same("/a") && !same("/a/x"));
    assert_eq!(
        old.get("/a/x").and_then(|n| n.data()).map(|d| d.to_vec()),
        Some(b"d".to_vec())
    );
}

// ----- quotas: what ZooKeeper 3.8's DataTree does to `zookeeper_stats` -----

/// Creates `path` with `data` (None is null) as zxid `zxid`.
fn put(t: &mut DataTree, path: &str, data: Option<&str>, owner: i64, zxid: i64) {
    let mut tr = Vec::new();
    t.create_node(
        path,
        data.and_then(b),
        &Acl::open_unsafe(),
        owner,
        -1,
        zxid,
        zxid * 10,
        &mut tr,
    )
    .expect(path);
}

fn data_of(t: &DataTree, path: &str) -> String {
    let d = t.get(path).and_then(|n| n.data().cloned());
    String::from_utf8_lossy(d.as_deref().unwrap_or(b"<null>")).into_owned()
}

const STATS: &str = "/zookeeper/quota/app/zookeeper_stats";

/// What zkCli's `setquota -n 10 /app` makes, in its order: the quota path's nodes
/// with null data, the limits node, then the stats node holding zeros.
fn set_quota(t: &mut DataTree, zxid: i64) {
    put(t, "/zookeeper/quota/app", None, 0, zxid);
    put(
        t,
        "/zookeeper/quota/app/zookeeper_limits",
        Some("count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"),
        0,
        zxid + 1,
    );
    put(t, STATS, Some("count=0,bytes=0"), 0, zxid + 2);
}

/// /app "a1", /app/a "12345", /app/b "xyz", /app/b/c "1234567890": 4 nodes, 20 bytes.
fn app_tree() -> DataTree {
    let mut t = DataTree::new();
    put(&mut t, "/app", Some("a1"), 0, 1);
    put(&mut t, "/app/a", Some("12345"), 0, 2);
    put(&mut t, "/app/b", Some("xyz"), 0, 3);
    put(&mut t, "/app/b/c", Some("1234567890"), 0, 4);
    t
}

#[test]
fn quota_on_an_existing_subtree_counts_it_when_the_stats_node_is_made() {
    let mut t = app_tree();
    set_quota(&mut t, 5);
    // updateQuotaForPath on the stats node's create: the quota root counts itself.
    // (ZooKeeper 3.8 answers listquota with exactly this for the same tree.)
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    // The data changed, the Stat did not: still as created by zxid 7, version 0;
    // dataLength follows the data.
    let s = t.get(STATS).expect("stats").stat();
    assert_eq!((s.mzxid, s.version, s.mtime), (7, 0, 70));
    assert_eq!(s.data_length, 16);
    t.validate();
}

#[test]
fn create_set_data_delete_keep_the_stats_current() {
    let mut t = app_tree();
    set_quota(&mut t, 5);
    let mut tr = Vec::new();
    put(&mut t, "/app/d", Some("12"), 0, 8);
    assert_eq!(data_of(&t, STATS), "count=5,bytes=22");
    // Null data counts 0 bytes; a sequential name is just a name by now.
    put(&mut t, "/app/b/s0000000003", None, 0, 9);
    assert_eq!(data_of(&t, STATS), "count=6,bytes=22");
    // setData: the difference in length.
    t.set_data("/app/a", b("1"), 1, 10, 100, &mut tr)
        .expect("set");
    assert_eq!(data_of(&t, STATS), "count=6,bytes=18");
    t.set_data("/app", None, 1, 11, 110, &mut tr).expect("set");
    assert_eq!(data_of(&t, STATS), "count=6,bytes=16");
    // delete: one node and its bytes.
    t.delete_node("/app/b/c", 12, &mut tr).expect("delete");
    assert_eq!(data_of(&t, STATS), "count=5,bytes=6");
    // Outside the quota nothing moves, and the stats node fired no watch.
    put(&mut t, "/other", Some("zzz"), 0, 13);
    t.set_data("/other", b("zzzz"), 1, 14, 140, &mut tr)
        .expect("set");
    assert_eq!(data_of(&t, STATS), "count=5,bytes=6");
    assert!(
        tr.iter().all(|w| !w.path.contains("zookeeper_stats")),
        "{tr:?}"
    );
    // Still version 0, mzxid of its create.
    let s = t.get(STATS).expect("stats").stat();
    assert_eq!((s.mzxid, s.version), (7, 0));
    // Deleting the quota root itself counts too.
    t.delete_node("/app/d", 15, &mut tr).expect("delete");
    t.delete_node("/app/b/s0000000003", 16, &mut tr)
        .expect("delete");
    t.delete_node("/app/b", 17, &mut tr).expect("delete");
    t.delete_node("/app/a", 18, &mut tr).expect("delete");
    t.delete_node("/app", 19, &mut tr).expect("delete");
    assert_eq!(data_of(&t, STATS), "count=0,bytes=0");
    t.validate();
}

#[test]
fn an_ephemeral_counts_until_its_session_goes() {
    let mut t = app_tree();
    set_quota(&mut t, 5);
    put(&mut t, "/app/e", Some("eph"), 0x77, 8);
    assert_eq!(data_of(&t, STATS), "count=5,bytes=23");
    let mut tr = Vec::new();
    let gone = t.kill_session(0x77, 9, &[], &mut tr);
    assert_eq!(gone, vec!["/app/e".to_owned()]);
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    t.validate();
}

#[test]
fn nested_quotas_update_only_the_deepest() {
    let mut t = app_tree();
    set_quota(&mut t, 5);
    // A second quota below the first (zkCli refuses this; a client can do it).
    put(&mut t, "/zookeeper/quota/app/b", None, 0, 8);
    put(
        &mut t,
        "/zookeeper/quota/app/b/zookeeper_limits",
        Some(""),
        0,
        9,
    );
    let inner = "/zookeeper/quota/app/b/zookeeper_stats";
    put(&mut t, inner, Some(""), 0, 10);
    assert_eq!(data_of(&t, inner), "count=2,bytes=13");
    // getMaxPrefixWithQuota: a write under /app/b counts for /app/b only.
    put(&mut t, "/app/b/x", Some("1"), 0, 11);
    assert_eq!(data_of(&t, inner), "count=3,bytes=14");
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    put(&mut t, "/app/y", Some("1"), 0, 12);
    assert_eq!(data_of(&t, STATS), "count=5,bytes=21");
    t.validate();
}

#[test]
fn deleting_the_limits_node_ends_the_upkeep_and_keeps_other_keys() {
    let mut t = app_tree();
    set_quota(&mut t, 5);
    // Keys other than count and bytes survive an update, sorted, after a '='.
    let mut tr = Vec::new();
    t.set_data(STATS, b("count=4,bytes=20=;z=1;a=2"), 1, 8, 80, &mut tr)
        .expect("set");
    put(&mut t, "/app/d", Some("1"), 0, 9);
    assert_eq!(data_of(&t, STATS), "count=5,bytes=21=;a=2;z=1");
    // Data ZooKeeper could not parse is left alone.
    t.set_data(STATS, b("count=x"), 2, 10, 100, &mut tr)
        .expect("set");
    put(&mut t, "/app/e", Some("1"), 0, 11);
    assert_eq!(data_of(&t, STATS), "count=x");
    t.set_data(STATS, b("count=5,bytes=21"), 3, 12, 120, &mut tr)
        .expect("set");
    t.delete_node("/zookeeper/quota/app/zookeeper_limits", 13, &mut tr)
        .expect("delete");
    put(&mut t, "/app/f", Some("1"), 0, 14);
    assert_eq!(data_of(&t, STATS), "count=5,bytes=21");
    t.validate();
}

/// A fuzzy snapshot of `live`: every node as `live` holds it, parents first, except
/// the stats node, which holds `stats` (what it held when the walk passed it).
fn fuzzy_restore(live: &DataTree, stats: &str) -> DataTree {
    let mut t = DataTree::empty_for_restore(false);
    let mut stack = vec!["/".to_owned()];
    while let Some(p) = stack.pop() {
        let n = live.get(&p).expect("node");
        let data = if p == STATS {
            b(stats)
        } else {
            n.data().cloned()
        };
        t.insert_restored(&p, data, n.acl(), n.persisted())
            .expect("restore");
        for c in n.children() {
            stack.push(if p == "/" {
                format!("/{c}")
            } else {
                format!("{p}/{c}")
            });
        }
    }
    t
}

#[test]
fn recompute_fixes_what_a_replay_over_a_fuzzy_snapshot_miscounted() {
    let mut live = app_tree();
    set_quota(&mut live, 5);
    // Snapshot from zxid 7; the walk passed the stats node before zxid 8 created
    // /app/d and reached /app/d after. Replaying zxid 8 finds /app/d (NODEEXISTS),
    // so nothing counts it: one node short.
    put(&mut live, "/app/d", Some("12"), 0, 8);
    let mut t = fuzzy_restore(&live, "count=4,bytes=20");
    let mut tr = Vec::new();
    let again = t.create_node(
        "/app/d",
        b("12"),
        &Acl::open_unsafe(),
        0,
        -1,
        8,
        80,
        &mut tr,
    );
    assert_eq!(again, Err(ErrorCode::NodeExists));
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    t.recompute_quotas();
    assert_eq!(data_of(&t, STATS), data_of(&live, STATS));
    assert_eq!(data_of(&t, STATS), "count=5,bytes=22");

    // Snapshot from zxid 8; the walk reached /app/d before zxid 9 deleted it and the
    // stats node after. Replaying zxid 9 deletes /app/d again from the stats: the
    // delete counts twice.
    let mut t = fuzzy_restore(&live, "count=4,bytes=20");
    live.delete_node("/app/d", 9, &mut tr).expect("delete");
    t.delete_node("/app/d", 9, &mut tr)
        .expect("replayed delete");
    assert_eq!(data_of(&t, STATS), "count=3,bytes=18");
    t.recompute_quotas();
    assert_eq!(data_of(&t, STATS), data_of(&live, STATS));
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    // The index is rebuilt too: writes count after recompute.
    put(&mut t, "/app/z", Some("1"), 0, 10);
    assert_eq!(data_of(&t, STATS), "count=5,bytes=21");
    t.validate();
}

#[test]
fn recompute_takes_only_leaf_limits_nodes_and_skips_quotas_without_stats() {
    let mut t = app_tree();
    set_quota(&mut t, 5);
    let mut tr = Vec::new();
    t.set_data(STATS, b("count=99,bytes=99"), 0, 7, 70, &mut tr)
        .expect("set");
    // A quota on /app/b with no stats node: indexed, nothing to write.
    put(&mut t, "/zookeeper/quota/app/b", None, 0, 8);
    put(
        &mut t,
        "/zookeeper/quota/app/b/zookeeper_limits",
        Some(""),
        0,
        9,
    );
    t.recompute_quotas();
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    put(&mut t, "/app/b/x", Some("1"), 0, 10);
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    // A limits node with a child is not a quota after recompute (setupQuota only
    // looks at leaves).
    put(
        &mut t,
        "/zookeeper/quota/app/zookeeper_limits/k",
        None,
        0,
        11,
    );
    t.recompute_quotas();
    put(&mut t, "/app/y", Some("1"), 0, 12);
    assert_eq!(data_of(&t, STATS), "count=4,bytes=20");
    t.validate();
}
