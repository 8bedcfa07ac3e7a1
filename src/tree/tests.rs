//! DataTree behaviour tests; expected values are derived from ZooKeeper 3.9's
//! `DataTree` / `DataNode` source, with the reasoning next to each.

use super::*;
use crate::proto::{perms, Acl, NodeData, Stat};

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

/// The node's size is what several replicas per process pay per znode (see
/// `examples/tree_rss.rs`); a field that grows it should be a choice, not an accident.
#[cfg(target_pointer_width = "64")]
#[test]
fn node_is_96_bytes() {
    assert_eq!(std::mem::size_of::<Node>(), 96);
}
