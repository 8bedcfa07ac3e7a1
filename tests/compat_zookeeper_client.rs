//! Compatibility with a Rust client nobody on the team wrote: kezhuw's `zookeeper-client`.
//! Every assertion is what Apache ZooKeeper 3.8 does; run against it with
//! `RINGKEEPER_TEST_SERVER=zk cargo test --test compat_zookeeper_client`.

mod common;

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use common::{Jute, Server};
use sha1::Digest;
use zookeeper_client as zk;

/// Upper bound for any single client operation or awaited event.
const T: Duration = Duration::from_secs(20);

async fn t<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(T, f)
        .await
        .expect("operation timed out")
}

async fn connect(server: &Server) -> zk::Client {
    t(zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&server.addr()))
    .await
    .expect("connect")
}

async fn connect_auth(server: &Server, user_pw: &str) -> zk::Client {
    t(zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_auth("digest", user_pw.as_bytes())
        .connect(&server.addr()))
    .await
    .expect("connect with auth")
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn mode(m: zk::CreateMode) -> zk::CreateOptions<'static> {
    m.with_acls(zk::Acls::anyone_all())
}

/// `user:base64(sha1("user:password"))`, ZooKeeper's DigestAuthenticationProvider.
fn digest_id(user: &str, password: &str) -> String {
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_modes_and_stat_fields() {
    let server = Server::start("");
    let c = connect(&server).await;

    // Persistent node: a fresh Stat.
    let (st, seq) = t(c.create("/p", b"hello", &persistent())).await.unwrap();
    assert_eq!(seq.into_i64(), -1, "non-sequential create has no sequence");
    assert!(st.czxid > 0);
    assert_eq!(st.czxid, st.mzxid);
    assert_eq!(st.czxid, st.pzxid, "a new node's pzxid is its czxid");
    assert_eq!(st.ctime, st.mtime);
    assert_eq!((st.version, st.cversion, st.aversion), (0, 0, 0));
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 5);
    assert_eq!(st.num_children, 0);
    let (data, st_get) = t(c.get_data("/p")).await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(st_get, st, "create2's Stat equals getData's Stat");

    // A child changes the parent's cversion, numChildren and pzxid, not its mzxid/version.
    let (child, _) = t(c.create("/p/c", b"", &persistent())).await.unwrap();
    assert_eq!(child.data_length, 0);
    let (_, parent) = t(c.get_data("/p")).await.unwrap();
    assert_eq!(parent.cversion, 1);
    assert_eq!(parent.num_children, 1);
    assert_eq!(parent.pzxid, child.czxid);
    assert_eq!(parent.mzxid, st.mzxid);
    assert_eq!(parent.version, 0);
    assert!(child.czxid > st.czxid, "zxids increase");

    // setData: version +1, mzxid moves, czxid/pzxid do not.
    let st2 = t(c.set_data("/p", b"hi", None)).await.unwrap();
    assert_eq!(st2.version, 1);
    assert_eq!(st2.data_length, 2);
    assert_eq!(st2.czxid, st.czxid);
    assert!(st2.mzxid > child.czxid);
    assert_eq!(st2.pzxid, child.czxid);
    assert_eq!(st2.cversion, 1);
    assert!(st2.mtime >= st.mtime);

    // Deleting the child: cversion +1 again, pzxid = the delete's zxid (> everything before).
    t(c.delete("/p/c", None)).await.unwrap();
    let (_, st3) = t(c.get_data("/p")).await.unwrap();
    assert_eq!(st3.cversion, 2);
    assert_eq!(st3.num_children, 0);
    assert!(st3.pzxid > st2.mzxid);
    assert_eq!(st3.mzxid, st2.mzxid);

    // Ephemeral: ephemeralOwner is the session id.
    let (eph, _) = t(c.create("/p/e", b"x", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(eph.ephemeral_owner, c.session_id().0);
    assert_ne!(eph.ephemeral_owner, 0);

    // Ephemerals cannot have children.
    let e = t(c.create("/p/e/kid", b"", &persistent()))
        .await
        .unwrap_err();
    assert_eq!(e, zk::Error::NoChildrenForEphemerals);

    // Container. Surprise: internally ZooKeeper stores ephemeralOwner = Long.MIN_VALUE
    // (EphemeralType.CONTAINER_EPHEMERAL_OWNER), but every Stat sent to clients goes through
    // DataNode.copyStat -> getClientEphemeralOwner, which reports 0 for any non-NORMAL
    // ephemeral type (zookeeper-server/src/main/java/org/apache/zookeeper/server/DataNode.java).
    let (cont, _) = t(c.create("/cont", b"", &mode(zk::CreateMode::Container)))
        .await
        .unwrap();
    assert_eq!(cont.ephemeral_owner, 0);
    assert_eq!(t(c.get_data("/cont")).await.unwrap().1.ephemeral_owner, 0);
    assert_eq!(t(c.check_stat("/cont")).await.unwrap().unwrap(), cont);
    // A container can have children (it is not ephemeral).
    t(c.create("/cont/kid", b"", &persistent())).await.unwrap();

    // NODEEXISTS / NONODE on create.
    let e = t(c.create("/p", b"", &persistent())).await.unwrap_err();
    assert_eq!(e, zk::Error::NodeExists);
    let e = t(c.create("/missing/child", b"", &persistent()))
        .await
        .unwrap_err();
    assert_eq!(e, zk::Error::NoNode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_suffix_is_ten_digits_and_increases() {
    let server = Server::start("");
    let c = connect(&server).await;
    t(c.create("/s", b"", &persistent())).await.unwrap();
    // One plain child first: the suffix is the parent's cversion, shared by all children.
    t(c.create("/s/plain", b"", &persistent())).await.unwrap();
    let mut seqs = Vec::new();
    for m in [
        zk::CreateMode::PersistentSequential,
        zk::CreateMode::EphemeralSequential,
        zk::CreateMode::PersistentSequential,
    ] {
        let (st, seq) = t(c.create("/s/n-", b"", &mode(m))).await.unwrap();
        if m == zk::CreateMode::EphemeralSequential {
            assert_eq!(st.ephemeral_owner, c.session_id().0);
        }
        seqs.push(seq.into_i64());
    }
    assert_eq!(seqs, vec![1, 2, 3], "suffix = parent cversion at creation");
    let mut children = t(c.list_children("/s")).await.unwrap();
    children.sort();
    assert_eq!(
        children,
        vec!["n-0000000001", "n-0000000002", "n-0000000003", "plain"]
    );
    // A sequential name that sorts as a sibling of the parent path.
    let (_, seq) = t(c.create("/s/", b"", &mode(zk::CreateMode::PersistentSequential)))
        .await
        .unwrap();
    assert_eq!(seq.into_i64(), 4);
    assert!(t(c.list_children("/s"))
        .await
        .unwrap()
        .contains(&"0000000004".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_error_codes() {
    let server = Server::start("");
    let c = connect(&server).await;
    t(c.create("/v", b"0", &persistent())).await.unwrap();

    // setData with a version.
    assert_eq!(
        t(c.set_data("/v", b"1", Some(5))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    let st = t(c.set_data("/v", b"1", Some(0))).await.unwrap();
    assert_eq!(st.version, 1);
    let st = t(c.set_data("/v", b"2", None)).await.unwrap();
    assert_eq!(st.version, 2);
    assert_eq!(
        t(c.set_data("/v", b"3", Some(1))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    assert_eq!(
        t(c.get_data("/v")).await.unwrap().0,
        b"2",
        "failed setData changed nothing"
    );

    // exists / check_stat.
    let st_exists = t(c.check_stat("/v")).await.unwrap().expect("exists");
    assert_eq!(st_exists, t(c.get_data("/v")).await.unwrap().1);
    assert_eq!(t(c.check_stat("/nope")).await.unwrap(), None);

    // NONODE everywhere.
    assert_eq!(t(c.get_data("/nope")).await.unwrap_err(), zk::Error::NoNode);
    assert_eq!(
        t(c.set_data("/nope", b"", None)).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        t(c.delete("/nope", None)).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(
        t(c.list_children("/nope")).await.unwrap_err(),
        zk::Error::NoNode
    );
    assert_eq!(t(c.get_acl("/nope")).await.unwrap_err(), zk::Error::NoNode);

    // delete with version, NOTEMPTY.
    t(c.create("/v/child", b"", &persistent())).await.unwrap();
    assert_eq!(
        t(c.delete("/v", None)).await.unwrap_err(),
        zk::Error::NotEmpty
    );
    assert_eq!(
        t(c.delete("/v/child", Some(3))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    t(c.delete("/v/child", Some(0))).await.unwrap();
    assert_eq!(
        t(c.delete("/v", Some(0))).await.unwrap_err(),
        zk::Error::BadVersion
    );
    t(c.delete("/v", Some(2))).await.unwrap();
    assert_eq!(t(c.check_stat("/v")).await.unwrap(), None);

    // Children listing with Stat.
    t(c.create("/l", b"", &persistent())).await.unwrap();
    for name in ["b", "a", "c"] {
        t(c.create(&format!("/l/{name}"), b"", &persistent()))
            .await
            .unwrap();
    }
    let (mut kids, st) = t(c.get_children("/l")).await.unwrap();
    kids.sort();
    assert_eq!(kids, vec!["a", "b", "c"]);
    assert_eq!(st.num_children, 3);
    assert_eq!(st.cversion, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemerals_vanish_when_session_closes() {
    let server = Server::start("");
    let owner = connect(&server).await;
    let observer = connect(&server).await;
    t(owner.create("/eph", b"", &persistent())).await.unwrap();
    t(owner.create("/eph/a", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    t(owner.create("/eph/b", b"", &mode(zk::CreateMode::EphemeralSequential)))
        .await
        .unwrap();
    t(observer.create("/eph/mine", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();

    // getEphemerals lists only the caller's own ephemerals, as full paths.
    let mut mine = t(owner.list_ephemerals("/eph")).await.unwrap();
    mine.sort();
    assert_eq!(mine, vec!["/eph/a", "/eph/b0000000001"]);
    assert_eq!(t(owner.list_ephemerals("/")).await.unwrap().len(), 2);
    assert_eq!(
        t(observer.list_ephemerals("/eph")).await.unwrap(),
        vec!["/eph/mine"]
    );
    assert!(t(owner.list_ephemerals("/nothing-here"))
        .await
        .unwrap()
        .is_empty());

    let (_, watcher) = t(observer.check_and_watch_stat("/eph/a")).await.unwrap();
    let (_, _, child_watcher) = t(observer.get_and_watch_children("/eph")).await.unwrap();
    drop(owner); // closes the session (closeSession request)

    let ev = t(watcher.changed()).await;
    assert_eq!(ev.event_type, zk::EventType::NodeDeleted);
    assert_eq!(ev.path, "/eph/a");
    let ev = t(child_watcher.changed()).await;
    assert_eq!(ev.event_type, zk::EventType::NodeChildrenChanged);
    assert_eq!(ev.path, "/eph");
    // Both of the owner's ephemerals are gone in the same close; the observer's stays.
    assert_eq!(
        t(observer.list_children("/eph")).await.unwrap(),
        vec!["mine"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemerals_vanish_when_session_expires() {
    let server = Server::start("");
    let observer = connect(&server).await;
    // A detached client drops its connection without closeSession: the session must expire.
    // The requested 4 s is the minimum the server allows (2 * tickTime).
    let owner = t(zk::Client::connector()
        .with_session_timeout(Duration::from_secs(4))
        .with_detached()
        .connect(&server.addr()))
    .await
    .expect("connect");
    assert_eq!(owner.session_timeout(), Duration::from_secs(4));
    let owner_id = owner.session_id().0;
    let (st, _) = t(owner.create("/expiring", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(st.ephemeral_owner, owner_id);
    let (st, w) = t(observer.check_and_watch_stat("/expiring")).await.unwrap();
    assert_eq!(st.unwrap().ephemeral_owner, owner_id);
    drop(owner);
    let ev = t(w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeDeleted, "/expiring")
    );
    assert_eq!(t(observer.check_stat("/expiring")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneshot_watches() {
    let server = Server::start("");
    let c = connect(&server).await;
    let other = connect(&server).await;

    // exists watch on a missing node fires NodeCreated.
    let (st, w) = t(c.check_and_watch_stat("/w")).await.unwrap();
    assert!(st.is_none());
    t(other.create("/w", b"", &persistent())).await.unwrap();
    let ev = t(w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeCreated, "/w")
    );

    // data watch fires NodeDataChanged.
    let (_, _, w) = t(c.get_and_watch_data("/w")).await.unwrap();
    t(other.set_data("/w", b"1", None)).await.unwrap();
    let ev = t(w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeDataChanged, "/w")
    );

    // child watch fires NodeChildrenChanged on the parent path (not on setData of the parent).
    let (_, _, w) = t(c.get_and_watch_children("/w")).await.unwrap();
    t(other.set_data("/w", b"2", None)).await.unwrap();
    t(other.create("/w/k", b"", &persistent())).await.unwrap();
    let ev = t(w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeChildrenChanged, "/w")
    );

    // exists watch on an existing node fires NodeDataChanged; data watch fires NodeDeleted.
    let (_, w) = t(c.check_and_watch_stat("/w/k")).await.unwrap();
    t(other.set_data("/w/k", b"x", None)).await.unwrap();
    let ev = t(w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeDataChanged, "/w/k")
    );
    let (_, _, w) = t(c.get_and_watch_data("/w/k")).await.unwrap();
    let (_, _, cw) = t(c.get_and_watch_children("/w/k")).await.unwrap();
    t(other.delete("/w/k", None)).await.unwrap();
    let ev = t(w.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeDeleted, "/w/k")
    );
    let ev = t(cw.changed()).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (zk::EventType::NodeDeleted, "/w/k")
    );
}

/// One-shot means once: two changes, one notification. Checked on the wire, where the
/// client library cannot hide a duplicate.
#[test]
fn oneshot_watch_fires_once_on_the_wire() {
    use common::{op, read_frame, send_frame, Reader};
    let server = Server::start("");
    let addr = server.addr();
    let mut writer = common::raw_connect(&addr);
    let mut watcher = common::raw_connect(&addr);
    let body = Jute::new()
        .string("/once")
        .buffer(b"")
        .open_acl()
        .int(0)
        .into_vec();
    assert_eq!(
        common::request(&mut writer, 1, op::CREATE, &body)
            .unwrap()
            .err,
        0
    );
    // getData with watch=true.
    let r = common::request(
        &mut watcher,
        1,
        op::GET_DATA,
        &Jute::new().string("/once").boolean(true).into_vec(),
    )
    .unwrap();
    assert_eq!(r.err, 0);
    for (i, v) in [b"1", b"2"].iter().enumerate() {
        let body = Jute::new().string("/once").buffer(*v).int(-1).into_vec();
        assert_eq!(
            common::request(&mut writer, 2 + i as i32, op::SET_DATA, &body)
                .unwrap()
                .err,
            0
        );
    }
    // Both writes are answered; now a read on the watcher's session. Everything queued
    // for it before that read's reply is the complete set of notifications.
    let req = Jute::new()
        .int(7)
        .int(op::EXISTS)
        .string("/once")
        .boolean(false)
        .into_vec();
    send_frame(&mut watcher, &req).unwrap();
    let mut events = Vec::new();
    loop {
        let f = read_frame(&mut watcher).unwrap();
        let mut r = Reader(&f);
        let xid = r.int();
        let _zxid = r.long();
        let err = r.int();
        if xid == -1 {
            let ty = r.int();
            let state = r.int();
            events.push((ty, state, r.string()));
            continue;
        }
        assert_eq!((xid, err), (7, 0));
        break;
    }
    assert_eq!(
        events,
        vec![(3, 3, "/once".to_string())],
        "exactly one NodeDataChanged, SyncConnected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_and_recursive_watches() {
    let server = Server::start("");
    let c = connect(&server).await;
    let other = connect(&server).await;

    // Persistent: node, data and child events on that one path, repeatedly.
    let mut w = t(c.watch("/pw", zk::AddWatchMode::Persistent))
        .await
        .unwrap();
    t(other.create("/pw", b"", &persistent())).await.unwrap();
    t(other.set_data("/pw", b"1", None)).await.unwrap();
    t(other.set_data("/pw", b"2", None)).await.unwrap();
    t(other.create("/pw/a", b"", &persistent())).await.unwrap();
    t(other.create("/pw/a/deep", b"", &persistent()))
        .await
        .unwrap(); // not a child of /pw: no event
    t(other.set_data("/pw/a", b"", None)).await.unwrap(); // child data: no event
    t(other.delete("/pw/a/deep", None)).await.unwrap();
    t(other.delete("/pw/a", None)).await.unwrap();
    t(other.delete("/pw", None)).await.unwrap();
    use zk::EventType::*;
    let expected = [
        (NodeCreated, "/pw"),
        (NodeDataChanged, "/pw"),
        (NodeDataChanged, "/pw"),
        (NodeChildrenChanged, "/pw"),
        (NodeChildrenChanged, "/pw"),
        (NodeDeleted, "/pw"),
    ];
    for (ty, path) in expected {
        let ev = t(w.changed()).await;
        assert_eq!((ev.event_type, ev.path.as_str()), (ty, path));
    }

    // Recursive: the whole subtree, and never NodeChildrenChanged (ZOOKEEPER-4475 semantics).
    let mut r = t(c.watch("/rw", zk::AddWatchMode::PersistentRecursive))
        .await
        .unwrap();
    t(other.create("/rw", b"", &persistent())).await.unwrap();
    t(other.create("/rw/a", b"", &persistent())).await.unwrap();
    t(other.create("/rw/a/b", b"", &persistent()))
        .await
        .unwrap();
    t(other.set_data("/rw/a/b", b"x", None)).await.unwrap();
    t(other.delete("/rw/a/b", None)).await.unwrap();
    t(other.create("/rwx", b"", &persistent())).await.unwrap(); // a sibling with a common prefix: no event
    t(other.set_data("/rw", b"end", None)).await.unwrap();
    let expected = [
        (NodeCreated, "/rw"),
        (NodeCreated, "/rw/a"),
        (NodeCreated, "/rw/a/b"),
        (NodeDataChanged, "/rw/a/b"),
        (NodeDeleted, "/rw/a/b"),
        (NodeDataChanged, "/rw"),
    ];
    for (ty, path) in expected {
        let ev = t(r.changed()).await;
        assert_eq!((ev.event_type, ev.path.as_str()), (ty, path));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_write_and_read() {
    let server = Server::start("");
    let c = connect(&server).await;
    t(c.create("/m", b"", &persistent())).await.unwrap();

    // Success: every op's result in order.
    let mut w = c.new_multi_writer();
    w.add_create("/m/a", b"A", &persistent()).unwrap();
    w.add_create("/m/s-", b"", &mode(zk::CreateMode::PersistentSequential))
        .unwrap();
    w.add_set_data("/m/a", b"AA", Some(0)).unwrap();
    w.add_check_version("/m", 0).unwrap();
    w.add_delete("/m/a", Some(1)).unwrap();
    let results = t(w.commit()).await.unwrap();
    assert_eq!(results.len(), 5);
    // The client sends plain `create` (op 1) inside multi, whose result carries no Stat.
    match &results[0] {
        zk::MultiWriteResult::Create { path, .. } => assert_eq!(path, "/m/a"),
        other => panic!("{other:?}"),
    }
    match &results[1] {
        zk::MultiWriteResult::Create { path, .. } => assert_eq!(path, "/m/s-0000000001"),
        other => panic!("{other:?}"),
    }
    match &results[2] {
        zk::MultiWriteResult::SetData { stat } => {
            assert_eq!(stat.version, 1);
            assert_eq!(stat.data_length, 2);
            assert_eq!(stat.czxid, stat.mzxid, "all ops of a multi share one zxid");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(results[3], zk::MultiWriteResult::Check);
    assert_eq!(results[4], zk::MultiWriteResult::Delete);
    let (_, m) = t(c.get_data("/m")).await.unwrap();
    assert_eq!(m.cversion, 3);
    assert_eq!(m.num_children, 1);

    // Failure: nothing applied, the error names the failing op.
    let mut w = c.new_multi_writer();
    w.add_create("/m/x", b"", &persistent()).unwrap();
    w.add_set_data("/m/missing", b"", None).unwrap();
    w.add_create("/m/y", b"", &persistent()).unwrap();
    let e = t(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NoNode
        }
    );
    assert_eq!(
        t(c.check_stat("/m/x")).await.unwrap(),
        None,
        "a failed multi applies nothing"
    );
    assert_eq!(t(c.check_stat("/m/y")).await.unwrap(), None);

    let mut w = c.new_multi_writer();
    w.add_create("/m/x", b"", &persistent()).unwrap();
    // check compares the data version (0 here), not cversion.
    w.add_check_version("/m", 5).unwrap();
    let e = t(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::BadVersion
        }
    );
    assert_eq!(t(c.check_stat("/m/x")).await.unwrap(), None);

    let mut w = c.new_multi_writer();
    w.add_create("/m/x", b"", &persistent()).unwrap();
    w.add_create("/m/x", b"", &persistent()).unwrap();
    let e = t(w.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::MultiWriteError::OperationFailed {
            index: 1,
            source: zk::Error::NodeExists
        }
    );
    let (_, m2) = t(c.get_data("/m")).await.unwrap();
    assert_eq!(m2, m, "failed multis did not touch /m");

    // CheckWriter: the check failing is reported as such.
    let mut cw = c.new_check_writer("/m", Some(7)).unwrap();
    cw.add_create("/m/z", b"", &persistent()).unwrap();
    let e = t(cw.commit()).await.unwrap_err();
    assert_eq!(
        e,
        zk::CheckWriteError::CheckFailed {
            source: zk::Error::BadVersion
        }
    );

    // multiRead: per-op results, errors inline.
    let mut r = c.new_multi_reader();
    r.add_get_data("/m").unwrap();
    r.add_get_children("/m").unwrap();
    r.add_get_data("/m/missing").unwrap();
    r.add_get_children("/nothing").unwrap();
    let results = t(r.commit()).await.unwrap();
    assert_eq!(results.len(), 4);
    match &results[0] {
        zk::MultiReadResult::Data { data, stat } => {
            assert!(data.is_empty());
            assert_eq!(*stat, m);
        }
        other => panic!("{other:?}"),
    }
    match &results[1] {
        zk::MultiReadResult::Children { children } => {
            assert_eq!(children, &vec!["s-0000000001".to_string()])
        }
        other => panic!("{other:?}"),
    }
    for res in &results[2..] {
        match res {
            zk::MultiReadResult::Error { err } => assert_eq!(*err, zk::Error::NoNode),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_acls_and_who_am_i() {
    let server = Server::start("");
    let alice = connect_auth(&server, "alice:secret").await;
    let anon = connect(&server).await;
    let alice2 = connect_auth(&server, "alice:secret").await;

    // creator_all = auth:: → stored as the session's digest id.
    t(alice.create(
        "/secret",
        b"s",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
    ))
    .await
    .unwrap();
    let (acl, st) = t(alice.get_acl("/secret")).await.unwrap();
    assert_eq!(
        acl,
        vec![zk::Acl::new(
            zk::Permission::ALL,
            zk::AuthId::new("digest", &digest_id("alice", "secret"))
        )]
    );
    assert_eq!(st.aversion, 0);

    // Another session has no permission at all: NOAUTH for reads, writes, and getACL.
    assert_eq!(
        t(anon.get_data("/secret")).await.unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        t(anon.set_data("/secret", b"", None)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        t(anon.list_children("/secret")).await.unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        t(anon.create("/secret/x", b"", &persistent()))
            .await
            .unwrap_err(),
        zk::Error::NoAuth
    );
    t(alice.create("/secret/kid", b"", &persistent()))
        .await
        .unwrap();
    // DELETE is checked on the parent: /secret grants anon nothing.
    assert_eq!(
        t(anon.delete("/secret/kid", None)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        t(anon.list_children("/secret")).await.unwrap_err(),
        zk::Error::NoAuth
    );
    // exists needs no permission.
    assert!(t(anon.check_stat("/secret")).await.unwrap().is_some());
    // A second session with the same credentials may read.
    assert_eq!(t(alice2.get_data("/secret")).await.unwrap().0, b"s");

    // Adding auth later works too.
    t(anon.auth("digest", b"alice:secret")).await.unwrap();
    assert_eq!(t(anon.get_data("/secret")).await.unwrap().0, b"s");

    // A read-only world ACL set by digest: setACL bumps aversion, version checked.
    let acls = [
        zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone()),
        zk::Acl::new(
            zk::Permission::ALL,
            zk::AuthId::new("digest", &digest_id("alice", "secret")),
        ),
    ];
    assert_eq!(
        t(alice.set_acl("/secret", &acls, Some(3)))
            .await
            .unwrap_err(),
        zk::Error::BadVersion
    );
    let st = t(alice.set_acl("/secret", &acls, Some(0))).await.unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(st.version, 0);
    let bob = connect_auth(&server, "bob:pw").await;
    assert_eq!(t(bob.get_data("/secret")).await.unwrap().0, b"s");
    assert_eq!(
        t(bob.set_data("/secret", b"", None)).await.unwrap_err(),
        zk::Error::NoAuth
    );
    // READ suffices for getACL; without ADMIN, digest ids are masked ("x" after the colon).
    let (acl, _) = t(bob.get_acl("/secret")).await.unwrap();
    assert_eq!(acl.len(), 2);
    assert_eq!(acl[1].scheme(), "digest");
    assert_eq!(acl[1].id(), "alice:x");
    let (acl, _) = t(alice.get_acl("/secret")).await.unwrap();
    assert_eq!(acl[1].id(), digest_id("alice", "secret"));

    // whoAmI: every session has its ip identity; digest sessions also the user.
    let mut users = t(alice.list_auth_users()).await.unwrap();
    users.sort_by(|a, b| a.scheme().cmp(b.scheme()));
    assert_eq!(
        users,
        vec![
            zk::AuthUser::new("digest", "alice"),
            zk::AuthUser::new("ip", "127.0.0.1")
        ]
    );
    let bob_users = t(bob.list_auth_users()).await.unwrap();
    assert!(bob_users.contains(&zk::AuthUser::new("digest", "bob")));
    let plain = connect(&server).await;
    assert_eq!(
        t(plain.list_auth_users()).await.unwrap(),
        vec![zk::AuthUser::new("ip", "127.0.0.1")]
    );

    // Deleting a node needs DELETE on its *parent* (PrepRequestProcessor checks the parent's
    // ACL), so a session with no rights on /secret may still delete it once it is childless,
    // because / is world:anyone ALL.
    t(alice.delete("/secret/kid", None)).await.unwrap();
    t(plain.delete("/secret", None)).await.unwrap();
    assert_eq!(t(alice.check_stat("/secret")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_counts_and_the_zookeeper_node() {
    let server = Server::start("");
    let c = connect(&server).await;
    t(c.sync("/")).await.unwrap();
    assert!(
        t(c.check_stat("/zookeeper")).await.unwrap().is_some(),
        "/zookeeper exists"
    );
    let mut zkkids = t(c.list_children("/zookeeper")).await.unwrap();
    zkkids.sort();
    assert!(zkkids.contains(&"quota".to_string()), "{zkkids:?}");
    assert!(t(c.list_children("/"))
        .await
        .unwrap()
        .contains(&"zookeeper".to_string()));

    t(c.create("/cnt", b"", &persistent())).await.unwrap();
    t(c.create("/cnt/a", b"", &persistent())).await.unwrap();
    t(c.create("/cnt/a/b", b"", &persistent())).await.unwrap();
    t(c.create("/cnt/c", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(
        t(c.count_descendants_number("/cnt")).await.unwrap(),
        3,
        "descendants, not counting itself"
    );
    assert_eq!(t(c.count_descendants_number("/cnt/a/b")).await.unwrap(), 0);
    assert_eq!(
        t(c.count_descendants_number("/nothing")).await.unwrap_err(),
        zk::Error::NoNode
    );
    t(c.sync("/cnt")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_nodes_with_extended_types() {
    let server = Server::start("extendedTypesEnabled=true");
    let c = connect(&server).await;
    let opts = persistent().with_ttl(Duration::from_secs(60));
    let (st, _) = t(c.create("/ttl", b"x", &opts)).await.unwrap();
    // Internally EphemeralType.TTL stores 0xFF in the high byte and the TTL in milliseconds in
    // the low bits, but clients see ephemeralOwner 0 (DataNode.getClientEphemeralOwner, see
    // create_modes_and_stat_fields).
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 1);
    assert_eq!(t(c.get_data("/ttl")).await.unwrap(), (b"x".to_vec(), st));
    let opts = mode(zk::CreateMode::PersistentSequential).with_ttl(Duration::from_millis(1234));
    let (st, seq) = t(c.create("/ttl/s-", b"", &opts)).await.unwrap();
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(seq.into_i64(), 0);
    assert_eq!(
        t(c.list_children("/ttl")).await.unwrap(),
        vec!["s-0000000000"]
    );
    // A TTL node is not ephemeral: it may have plain children.
    t(c.create("/ttl/plain", b"", &persistent())).await.unwrap();
    // With extended types on (server id 0 in standalone), ephemeral owners are still session ids.
    let (st, _) = t(c.create("/ttl-e", b"", &mode(zk::CreateMode::Ephemeral)))
        .await
        .unwrap();
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    // An existing path is still NODEEXISTS for a TTL create.
    let opts = persistent().with_ttl(Duration::from_secs(5));
    assert_eq!(
        t(c.create("/ttl", b"", &opts)).await.unwrap_err(),
        zk::Error::NodeExists
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_nodes_without_extended_types_are_refused() {
    let server = Server::start("");
    let c = connect(&server).await;
    let opts = persistent().with_ttl(Duration::from_secs(60));
    let e = t(c.create("/ttl", b"", &opts)).await.unwrap_err();
    assert_eq!(e, zk::Error::Unimplemented);
    assert_eq!(t(c.check_stat("/ttl")).await.unwrap(), None);
}

/// Old clients send a 44-byte ConnectRequest without the trailing readOnly byte and expect a
/// 36-byte ConnectResponse; newer ones send 45 and get 37. ZooKeeper 3.8 mirrors what the
/// client sent (ServerCnxn.isOldClient, set while reading the ConnectRequest).
#[test]
fn handshake_mirrors_the_read_only_byte() {
    use common::{op, read_frame, send_frame};
    let server = Server::start("");
    let sa: std::net::SocketAddr = server.addr().parse().unwrap();
    for (req_len, resp_len) in [(45, 37), (44, 36)] {
        let mut s = std::net::TcpStream::connect_timeout(&sa, T).unwrap();
        let hs = common::connect_request();
        send_frame(&mut s, &hs[..req_len]).unwrap();
        let resp = read_frame(&mut s).unwrap();
        assert_eq!(
            resp.len(),
            resp_len,
            "ConnectResponse length for a {req_len}-byte ConnectRequest"
        );
        // The session works either way.
        let r = common::request(
            &mut s,
            1,
            op::EXISTS,
            &Jute::new().string("/").boolean(false).into_vec(),
        )
        .unwrap();
        assert_eq!(r.err, 0);
    }
}
