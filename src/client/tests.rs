//! Client tests against a live server: `RINGKEEPER_TEST_ADDR=127.0.0.1:2181 cargo test
//! client -- --ignored`. They run against Apache ZooKeeper 3.8/3.9 or ringkeeper and
//! create their nodes under a unique prefix. TTL nodes need `extendedTypesEnabled=true`.

use std::future::Future;

use bytes::Bytes;

use super::*;
use crate::proto::{perms, Acl, CreateMode, Encode, ErrorCode, GetDataRequest, OpCode, OpResult};

fn addr() -> String {
    std::env::var("RINGKEEPER_TEST_ADDR").expect("set RINGKEEPER_TEST_ADDR=host:port")
}

fn run<F: Future<Output = ()> + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(f)
        .expect("executor")
        .join()
        .expect("join");
}

async fn connect() -> Client {
    Client::connect(&addr(), 10_000, Options::default())
        .await
        .expect("connect")
}

/// A fresh root for one test, so reruns and parallel tests do not collide.
async fn root(c: &Client, name: &str) -> String {
    let p = format!("/rk-client-{name}-{:x}", c.session_id());
    c.create(&p, None, &Acl::open_unsafe(), CreateMode::Persistent)
        .await
        .expect("create root");
    p
}

fn keeper(e: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    match e {
        Err(ClientError::Keeper(c)) => c,
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[test]
#[ignore]
fn crud_and_stat() {
    run(|| async {
        let c = connect().await;
        assert!(c.session_id() != 0);
        assert!(c.session_timeout_ms() > 0);
        let r = root(&c, "crud").await;
        let a = format!("{r}/a");
        let (p, st) = c
            .create(
                &a,
                Some(b"one"),
                &Acl::open_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .unwrap();
        assert_eq!(p, a);
        assert_eq!(st.data_length, 3);
        assert_eq!(
            keeper(
                c.create(&a, None, &Acl::open_unsafe(), CreateMode::Persistent)
                    .await
            ),
            ErrorCode::NodeExists
        );
        let (d, st) = c.get_data(&a, false).await.unwrap();
        assert_eq!(d.as_deref(), Some(&b"one"[..]));
        assert_eq!(st.version, 0);
        let st = c.set_data(&a, Some(b"two"), 0).await.unwrap();
        assert_eq!(st.version, 1);
        assert_eq!(
            keeper(c.set_data(&a, Some(b"x"), 0).await),
            ErrorCode::BadVersion
        );
        assert_eq!(c.exists(&a, false).await.unwrap().unwrap().version, 1);
        assert_eq!(c.exists(&format!("{r}/none"), false).await.unwrap(), None);
        let (seq, _) = c
            .create(
                &format!("{r}/s-"),
                None,
                &Acl::open_unsafe(),
                CreateMode::EphemeralSequential,
            )
            .await
            .unwrap();
        assert!(seq.starts_with(&format!("{r}/s-00000")), "{seq}");
        let mut kids = c.get_children(&r, false).await.unwrap();
        kids.sort();
        assert_eq!(kids.len(), 2);
        let (kids2, st) = c.get_children2(&r, false).await.unwrap();
        assert_eq!(kids2.len(), 2);
        assert_eq!(st.num_children, 2);
        assert_eq!(c.get_all_children_number(&r).await.unwrap(), 2);
        assert_eq!(c.get_ephemerals(&r).await.unwrap(), vec![seq.clone()]);
        assert_eq!(c.sync(&r).await.unwrap(), r);
        assert_eq!(keeper(c.delete(&r, -1).await), ErrorCode::NotEmpty);
        c.delete(&a, 1).await.unwrap();
        c.delete(&seq, -1).await.unwrap();
        c.delete(&r, -1).await.unwrap();
        assert_eq!(keeper(c.get_data(&r, false).await), ErrorCode::NoNode);
        c.close().await.unwrap();
        assert!(c.is_closed());
        assert!(matches!(
            c.get_data("/", false).await,
            Err(ClientError::ConnectionLoss)
        ));
    });
}

#[test]
#[ignore]
fn null_data_container_and_ttl() {
    run(|| async {
        let c = connect().await;
        let r = root(&c, "modes").await;
        let n = format!("{r}/null");
        c.create(&n, None, &Acl::open_unsafe(), CreateMode::Persistent)
            .await
            .unwrap();
        assert_eq!(c.get_data(&n, false).await.unwrap().0, None);
        let e = format!("{r}/empty");
        c.create(&e, Some(b""), &Acl::open_unsafe(), CreateMode::Persistent)
            .await
            .unwrap();
        assert_eq!(c.get_data(&e, false).await.unwrap().0, Some(Bytes::new()));
        let k = format!("{r}/cont");
        // ZooKeeper 3.8 reports ephemeralOwner 0 for containers, 3.9 Long.MIN_VALUE.
        c.create(&k, None, &Acl::open_unsafe(), CreateMode::Container)
            .await
            .unwrap();
        let t = format!("{r}/ttl");
        let (_, st) = c
            .create_ttl(
                &t,
                None,
                &Acl::open_unsafe(),
                CreateMode::Persistent,
                60_000,
            )
            .await
            .unwrap();
        assert!(st.ephemeral_owner == 0 || (st.ephemeral_owner as u64) >> 56 == 0xff);
        for p in [&n, &e, &k, &t, &r] {
            c.delete(p, -1).await.unwrap();
        }
        c.close().await.unwrap();
    });
}

#[test]
#[ignore]
fn pipelined_requests_complete_in_order() {
    run(|| async {
        // Room for all 2000 at once, so the send order is the spawn order.
        let opts = Options {
            in_flight_max: 4096,
            ..Options::default()
        };
        let c = Client::connect(&addr(), 10_000, opts).await.unwrap();
        let r = root(&c, "pipe").await;
        let n = 2000;
        // Tasks run in spawn order, so the requests go out in this order, all in flight.
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let c = c.clone();
                let p = format!("{r}/n{i}");
                glommio::spawn_local(async move {
                    c.create(&p, Some(b"x"), &Acl::open_unsafe(), CreateMode::Persistent)
                        .await
                        .unwrap()
                        .1
                        .czxid
                })
            })
            .collect();
        let mut zxids = Vec::new();
        for t in tasks {
            zxids.push(t.await);
        }
        assert!(zxids.windows(2).all(|w| w[0] < w[1]), "FIFO order");
        assert_eq!(c.get_all_children_number(&r).await.unwrap(), n);
        // A small window: calls beyond it wait for replies, and all complete.
        let narrow = Options {
            in_flight_max: 8,
            ..Options::default()
        };
        let c2 = Client::connect(&addr(), 10_000, narrow).await.unwrap();
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let c2 = c2.clone();
                let p = format!("{r}/n{i}");
                glommio::spawn_local(async move { c2.exists(&p, false).await.unwrap().is_some() })
            })
            .collect();
        for t in tasks {
            assert!(t.await);
        }
        c2.close().await.unwrap();
        let ops: Vec<_> = (0..n)
            .map(|i| ops::delete(&format!("{r}/n{i}"), -1))
            .collect();
        assert_eq!(c.multi(ops).await.unwrap().len(), n as usize);
        c.delete(&r, -1).await.unwrap();
    });
}

#[test]
#[ignore]
fn multi_and_multi_read() {
    run(|| async {
        let c = connect().await;
        let r = root(&c, "multi").await;
        let a = format!("{r}/a");
        let res = c
            .multi(vec![
                ops::create(
                    &a,
                    Some(Bytes::from_static(b"v")),
                    Acl::open_unsafe(),
                    CreateMode::Persistent,
                ),
                ops::set_data(&a, Some(Bytes::from_static(b"w")), 0),
                ops::check(&a, 1),
            ])
            .await
            .unwrap();
        // ZooKeeper 3.8 answers a create2 inside multi as a plain create (path only).
        assert!(
            matches!(&res[0], OpResult::Create2 { resp, .. } if resp.path == a)
                || matches!(&res[0], OpResult::Create(resp) if resp.path == a),
            "{res:?}"
        );
        assert!(matches!(&res[1], OpResult::SetData(s) if s.stat.version == 1));
        assert_eq!(res[2], OpResult::Check);
        match c
            .multi(vec![
                ops::check(&a, 1),
                ops::delete(&format!("{r}/none"), -1),
                ops::delete(&a, -1),
            ])
            .await
        {
            Err(ClientError::MultiFailed {
                index: 1,
                code: ErrorCode::NoNode,
            }) => {}
            other => panic!("{other:?}"),
        }
        let res = c
            .multi_read(vec![
                ops::get_data(&a),
                ops::get_children(&r),
                ops::get_data(&format!("{r}/none")),
            ])
            .await
            .unwrap();
        assert!(matches!(&res[0], OpResult::GetData(g) if g.data.as_deref() == Some(&b"w"[..])));
        assert!(matches!(&res[1], OpResult::GetChildren(g) if g.children == vec!["a".to_string()]));
        assert_eq!(res[2], OpResult::Error(ErrorCode::NoNode.code()));
        c.multi(vec![ops::delete(&a, -1), ops::delete(&r, -1)])
            .await
            .unwrap();
    });
}

#[test]
#[ignore]
fn watches_fire_once_and_persistent_ones_stay() {
    run(|| async {
        let c = connect().await;
        let ev = c.events().unwrap();
        assert!(c.events().is_none());
        let first = ev.next().await.unwrap();
        assert_eq!(first.state, keeper_state::SYNC_CONNECTED);
        assert_eq!(first.event_type, event_type::NONE);
        let r = root(&c, "watch").await;
        let a = format!("{r}/a");
        assert_eq!(c.exists(&a, true).await.unwrap(), None);
        c.create(&a, Some(b"1"), &Acl::open_unsafe(), CreateMode::Persistent)
            .await
            .unwrap();
        let e = ev.next().await.unwrap();
        assert_eq!(
            (e.event_type, e.path.as_deref()),
            (event_type::NODE_CREATED, Some(&a[..]))
        );
        c.get_data(&a, true).await.unwrap();
        c.get_children(&r, true).await.unwrap();
        c.check_watches(&a, WatcherType::Data).await.unwrap();
        let st = c.set_data(&a, Some(b"2"), -1).await.unwrap();
        let e = ev.next().await.unwrap();
        assert_eq!(e.event_type, event_type::NODE_DATA_CHANGED);
        // ZooKeeper 3.9 puts the firing zxid in the header, 3.8 puts −1.
        assert!(e.zxid == st.mzxid || e.zxid == -1, "{e}");
        assert_eq!(
            keeper(c.check_watches(&a, WatcherType::Data).await),
            ErrorCode::NoWatcher
        );
        // The server sends no event for a removed watch (Java's client makes one).
        c.remove_watches(&r, WatcherType::Children).await.unwrap();
        assert_eq!(
            keeper(c.remove_watches(&r, WatcherType::Any).await),
            ErrorCode::NoWatcher
        );
        c.add_watch(&r, AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        c.set_data(&a, Some(b"3"), -1).await.unwrap();
        c.set_data(&a, Some(b"4"), -1).await.unwrap();
        c.delete(&a, -1).await.unwrap();
        for t in [
            event_type::NODE_DATA_CHANGED,
            event_type::NODE_DATA_CHANGED,
            event_type::NODE_DELETED,
        ] {
            let e = ev.next().await.unwrap();
            assert_eq!((e.event_type, e.path.as_deref()), (t, Some(&a[..])));
        }
        c.delete(&r, -1).await.unwrap();
        assert_eq!(
            ev.next().await.unwrap().event_type,
            event_type::NODE_DELETED
        );
        c.close().await.unwrap();
        let e = ev.next().await.unwrap();
        assert_eq!(e.state, keeper_state::CLOSED);
        assert_eq!(
            e.to_string(),
            "WatchedEvent state:Closed type:None path:null zxid: -1"
        );
        assert_eq!(ev.next().await, None);
    });
}

#[test]
#[ignore]
fn acl_auth_and_who_am_i() {
    run(|| async {
        let c = connect().await;
        let r = root(&c, "acl").await;
        let ro = format!("{r}/ro");
        let read_admin = vec![Acl::new(perms::READ | perms::ADMIN, "world", "anyone")];
        c.create(&ro, None, &read_admin, CreateMode::Persistent)
            .await
            .unwrap();
        assert_eq!(
            keeper(c.set_data(&ro, Some(b"x"), -1).await),
            ErrorCode::NoAuth
        );
        let (acl, st) = c.get_acl(&ro).await.unwrap();
        assert_eq!(acl, read_admin);
        assert_eq!(st.aversion, 0);
        c.add_auth("digest", b"alice:secret").await.unwrap();
        let who = c.who_am_i().await.unwrap();
        assert!(
            who.iter()
                .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
            "{who:?}"
        );
        let mine = format!("{r}/mine");
        c.create(
            &mine,
            None,
            &[Acl::new(perms::ALL, "auth", "")],
            CreateMode::Persistent,
        )
        .await
        .unwrap();
        let (acl, _) = c.get_acl(&mine).await.unwrap();
        assert_eq!(acl[0].id.scheme, "digest");
        let other = connect().await;
        assert_eq!(
            keeper(other.get_data(&mine, false).await),
            ErrorCode::NoAuth
        );
        let st = c.set_acl(&ro, &Acl::open_unsafe(), 0).await.unwrap();
        assert_eq!(st.aversion, 1);
        assert_eq!(
            keeper(c.set_acl(&ro, &Acl::open_unsafe(), 0).await),
            ErrorCode::BadVersion
        );
        for p in [&ro, &mine, &r] {
            c.delete(p, -1).await.unwrap();
        }
        // An unknown scheme fails authentication and the server closes the connection.
        assert_eq!(
            keeper(other.add_auth("nosuch", b"x").await),
            ErrorCode::AuthFailed
        );
    });
}

#[test]
#[ignore]
fn raw_submit_and_ephemerals_end_with_the_session() {
    run(|| async {
        let c = connect().await;
        let r = root(&c, "raw").await;
        let e = format!("{r}/e");
        let other = connect().await;
        other
            .create(&e, None, &Acl::open_unsafe(), CreateMode::Ephemeral)
            .await
            .unwrap();
        let body = GetDataRequest {
            path: e.clone(),
            watch: false,
        }
        .to_bytes();
        let (h, body) = c.submit(OpCode::GetData, body).await.unwrap();
        assert_eq!(h.err, 0);
        assert!(h.zxid > 0 && !body.is_empty());
        let (h, _) = c
            .submit(OpCode::Reconfig, Bytes::from_static(&[1, 2]))
            .await
            .unwrap();
        assert_ne!(h.err, 0);
        other.close().await.unwrap();
        assert_eq!(c.exists(&e, false).await.unwrap(), None);
        c.delete(&r, -1).await.unwrap();
    });
}

#[test]
#[ignore]
fn resume_session_and_four_letter_words() {
    run(|| async {
        // Without reconnection, or `c` would take its session back from `again`.
        let no_reconnect = Options {
            reconnect: false,
            ..Options::default()
        };
        let c = Client::connect(&addr(), 10_000, no_reconnect)
            .await
            .unwrap();
        let opts = Options {
            session: Some((c.session_id(), c.session_password().clone())),
            ..Options::default()
        };
        let again = Client::connect(&addr(), 10_000, opts.clone())
            .await
            .unwrap();
        assert_eq!(again.session_id(), c.session_id());
        again.close().await.unwrap();
        let bad = Options {
            session: Some((c.session_id(), c.session_password().clone())),
            ..Options::default()
        };
        assert!(matches!(
            Client::connect(&addr(), 10_000, bad).await,
            Err(ClientError::SessionExpired)
        ));
        assert_eq!(four_letter_word(&addr(), "ruok").await.unwrap(), "imok");
        assert!(four_letter_word(&addr(), "srvr")
            .await
            .unwrap()
            .contains("Mode:"));
    });
}

#[test]
#[ignore]
fn idle_session_is_kept_alive_by_pings() {
    run(|| async {
        let c = Client::connect(&addr(), 4_000, Options::default())
            .await
            .unwrap();
        glommio::timer::sleep(std::time::Duration::from_millis(
            c.session_timeout_ms() as u64 * 2,
        ))
        .await;
        assert!(!c.is_closed());
        c.exists("/", false).await.unwrap().unwrap();
        c.close().await.unwrap();
    });
}

#[test]
#[ignore]
fn server_addr_names_the_server_that_took_the_session() {
    run(|| async {
        // Nothing listens on port 1: the client goes on to the real server.
        let real: std::net::SocketAddr = addr().parse().expect("RINGKEEPER_TEST_ADDR ip:port");
        let c = Client::connect(&format!("127.0.0.1:1,{real}"), 10_000, Options::default())
            .await
            .unwrap();
        assert_eq!(c.server_addr(), real);
        c.close().await.unwrap();
    });
}

#[test]
#[ignore]
fn reconnects_to_the_same_session_and_sets_watches_again() {
    run(|| async {
        let c = connect().await;
        let ev = c.events().unwrap();
        assert_eq!(ev.next().await.unwrap().state, keeper_state::SYNC_CONNECTED);
        let r = root(&c, "reconnect").await;
        let e = format!("{r}/e");
        c.create(&e, None, &Acl::open_unsafe(), CreateMode::Ephemeral)
            .await
            .unwrap();
        c.get_data(&r, true).await.unwrap();
        c.get_children(&r, true).await.unwrap();
        c.add_watch(&e, AddWatchMode::Persistent).await.unwrap();
        let id = c.session_id();

        c.break_connection();
        let d = ev.next().await.unwrap();
        assert_eq!(d.state, keeper_state::DISCONNECTED);
        assert!(matches!(
            c.get_data(&r, false).await,
            Err(ClientError::ConnectionLoss)
        ));
        let s = ev.next().await.unwrap();
        assert_eq!(s.state, keeper_state::SYNC_CONNECTED);
        assert!(c.is_connected());
        assert_eq!(c.session_id(), id);
        assert!(
            c.exists(&e, false).await.unwrap().is_some(),
            "ephemeral kept"
        );

        // Changes made by another session fire the watches set before the break.
        let other = connect().await;
        other.set_data(&r, Some(b"x"), -1).await.unwrap();
        other.set_data(&e, Some(b"y"), -1).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            let x = ev.next().await.unwrap();
            got.push((x.event_type, x.path.unwrap()));
        }
        got.sort();
        assert_eq!(
            got,
            vec![
                (event_type::NODE_DATA_CHANGED, r.clone()),
                (event_type::NODE_DATA_CHANGED, e.clone()),
            ]
        );
        other
            .create(
                &format!("{r}/k"),
                None,
                &Acl::open_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .unwrap();
        let x = ev.next().await.unwrap();
        assert_eq!(x.event_type, event_type::NODE_CHILDREN_CHANGED);
        other.delete(&format!("{r}/k"), -1).await.unwrap();
        c.delete(&e, -1).await.unwrap();
        let x = ev.next().await.unwrap();
        assert_eq!(
            (x.event_type, x.path.as_deref()),
            (event_type::NODE_DELETED, Some(&e[..]))
        );
        c.delete(&r, -1).await.unwrap();
        other.close().await.unwrap();
        c.close().await.unwrap();
        assert_eq!(ev.next().await.unwrap().state, keeper_state::CLOSED);
        assert_eq!(ev.next().await, None);
    });
}

#[test]
#[ignore]
fn without_reconnect_a_lost_connection_closes_the_client() {
    run(|| async {
        let opts = Options {
            reconnect: false,
            ..Options::default()
        };
        let c = Client::connect(&addr(), 10_000, opts).await.unwrap();
        let ev = c.events().unwrap();
        ev.next().await.unwrap();
        c.break_connection();
        assert_eq!(ev.next().await.unwrap().state, keeper_state::DISCONNECTED);
        assert_eq!(ev.next().await, None);
        assert!(c.is_closed());
    });
}
