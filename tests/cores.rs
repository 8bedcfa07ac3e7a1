//! Several session cores behave as one server: a write answered on one core is seen
//! by a read on any other, as on a ZooKeeper server with its single tree.

mod common;

use common::{err, op, raw_connect, read_frame, request, send_frame, Jute, Reader, Server};

#[test]
fn a_write_answered_on_one_core_is_read_on_every_core() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("cores=2\nquorumCore=dedicated");
    // Connections are spread over the cores by the kernel (SO_REUSEPORT): with six,
    // some pairs sit on different cores.
    let mut conns: Vec<_> = (0..6).map(|_| raw_connect(&server.addr())).collect();
    let mut xid = 1;
    for round in 0..200 {
        let writer = round % conns.len();
        let path = format!("/seen-{round}");
        let create = Jute::new()
            .string(&path)
            .buffer(b"v")
            .open_acl()
            .int(0)
            .into_vec();
        xid += 1;
        let r = request(&mut conns[writer], xid, op::CREATE, &create).expect("create");
        assert_eq!(r.err, err::OK, "create {path}");
        // The create is answered: every other connection must see the node at once.
        for (i, c) in conns.iter_mut().enumerate() {
            if i == writer {
                continue;
            }
            let get = Jute::new().string(&path).boolean(false).into_vec();
            xid += 1;
            let r = request(c, xid, op::GET_DATA, &get).expect("getData");
            assert_eq!(
                r.err,
                err::OK,
                "round {round}: connection {i} does not see {path}"
            );
            assert_eq!(Reader(&r.body).buffer(), b"v");
        }
    }
}

/// A watch event reaches its client before any read of the data that fired it, also
/// when the write came through another core: a client that set a data watch, then
/// reads right after another client's setData was answered, gets the
/// NodeDataChanged event first and then the new data, as from one ZooKeeper server.
#[test]
fn a_watch_event_comes_before_the_data_that_fired_it_across_cores() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("cores=2\nquorumCore=dedicated");
    let mut conns: Vec<_> = (0..6).map(|_| raw_connect(&server.addr())).collect();
    let mut xid = 1;
    let create = Jute::new()
        .string("/w")
        .buffer(b"0")
        .open_acl()
        .int(0)
        .into_vec();
    let r = request(&mut conns[0], xid, op::CREATE, &create).expect("create");
    assert_eq!(r.err, err::OK);
    for round in 1..200 {
        let watcher = round % conns.len();
        let writer = (round / conns.len() + watcher + 1) % conns.len();
        if writer == watcher {
            continue;
        }
        xid += 1;
        let watch = Jute::new().string("/w").boolean(true).into_vec();
        let r = request(&mut conns[watcher], xid, op::GET_DATA, &watch).expect("watch");
        assert_eq!(r.err, err::OK);
        let value = round.to_string();
        let set = Jute::new()
            .string("/w")
            .buffer(value.as_bytes())
            .int(-1)
            .into_vec();
        xid += 1;
        let r = request(&mut conns[writer], xid, op::SET_DATA, &set).expect("setData");
        assert_eq!(r.err, err::OK);
        // The write is answered: the watcher's next read must come after the event.
        xid += 1;
        let get = Jute::new().string("/w").boolean(false).into_vec();
        let payload = Jute::new().int(xid).int(op::GET_DATA).raw(&get).into_vec();
        send_frame(&mut conns[watcher], &payload).expect("send");
        let first = read_frame(&mut conns[watcher]).expect("frame");
        let mut r = Reader(&first);
        assert_eq!(
            r.int(),
            -1,
            "round {round}: the read was answered before the watch event"
        );
        let (_zxid, _err, event_type) = (r.long(), r.int(), r.int());
        assert_eq!(event_type, 3, "round {round}: NodeDataChanged expected");
        let reply = read_frame(&mut conns[watcher]).expect("reply");
        let mut r = Reader(&reply);
        assert_eq!(r.int(), xid);
        let (_zxid, e) = (r.long(), r.int());
        assert_eq!(e, err::OK);
        assert_eq!(r.buffer(), value.as_bytes(), "round {round}: stale data");
    }
}

/// `maxClientCnxns` counts a client IP's connections over the whole server, as in
/// ZooKeeper, not per session core (where two cores would let twice as many in).
#[test]
fn max_client_cnxns_counts_over_all_cores() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("cores=2\nquorumCore=dedicated\nmaxClientCnxns=3");
    // Eight attempts, spread over both cores by SO_REUSEPORT; all kept open.
    let attempts: Vec<_> = (0..8).map(|_| try_session(&server.addr())).collect();
    let mut open: Vec<_> = attempts.into_iter().flatten().collect();
    assert_eq!(
        open.len(),
        3,
        "sessions opened from one IP with maxClientCnxns=3 on two cores"
    );
    // A closed connection gives its place back (once the server has seen it close).
    drop(open.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while try_session(&server.addr()).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no place given back after a close"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A connection with its session handshake done, or `None` if the server closed it.
fn try_session(addr: &str) -> Option<std::net::TcpStream> {
    let mut s = std::net::TcpStream::connect(addr).expect("tcp connect");
    common::send_frame(&mut s, &common::connect_request()).expect("send");
    match common::read_frame_timeout(&mut s, std::time::Duration::from_secs(5)) {
        Ok(resp) if resp.len() >= 36 => Some(s),
        _ => None,
    }
}

/// `mntr` counts the watches of every core and every session, whichever core answers
/// it, as ZooKeeper's single watch manager and session tracker do.
#[test]
fn mntr_counts_watches_and_sessions_of_every_core() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("cores=2\nquorumCore=dedicated");
    // Six sessions, spread over both cores; each sets one data watch (exists on a
    // missing node).
    let mut conns: Vec<_> = (0..6).map(|_| raw_connect(&server.addr())).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let exists = Jute::new()
            .string(&format!("/w{i}"))
            .boolean(true)
            .into_vec();
        let r = request(c, 1, op::EXISTS, &exists).expect("exists");
        assert_eq!(r.err, err::NONODE);
    }
    // Each four-letter word is a new connection, answered by either core.
    for _ in 0..4 {
        let m = common::four_letter(&server.addr(), "mntr");
        assert!(m.contains("zk_watch_count\t6\n"), "{m}");
        assert!(m.contains("zk_global_sessions\t6\n"), "{m}");
    }
}

/// The words about connections and watches (`cons`, `stat`, `wchs`, `wchc`, `wchp`,
/// `dump`) list every core's, whichever core answers.
#[test]
fn four_letter_words_list_every_core() {
    if common::against_zookeeper() {
        return;
    }
    let server = Server::start("cores=2\nquorumCore=dedicated");
    let mut sessions = Vec::new();
    let mut conns = Vec::new();
    for i in 0..6 {
        let (mut c, id) = common::raw_connect_session(&server.addr());
        let exists = Jute::new()
            .string(&format!("/w{i}"))
            .boolean(true)
            .into_vec();
        let r = request(&mut c, 1, op::EXISTS, &exists).expect("exists");
        assert_eq!(r.err, err::NONODE);
        sessions.push(id);
        conns.push(c);
    }
    let addr = server.addr();
    for _ in 0..4 {
        let wchs = common::four_letter(&addr, "wchs");
        assert_eq!(wchs, "6 connections watching 6 paths\nTotal watches:6\n");
        let wchc = common::four_letter(&addr, "wchc");
        let wchp = common::four_letter(&addr, "wchp");
        let cons = common::four_letter(&addr, "cons");
        let dump = common::four_letter(&addr, "dump");
        let stat = common::four_letter(&addr, "stat");
        assert!(dump.contains("Global Sessions(6):"), "{dump}");
        for (i, id) in sessions.iter().enumerate() {
            let hex = format!("0x{id:x}");
            assert!(wchc.contains(&format!("{hex}\n\t/w{i}\n")), "{wchc}");
            assert!(wchp.contains(&format!("/w{i}\n\t{hex}\n")), "{wchp}");
            assert!(cons.contains(&format!("sid={hex},")), "{cons}");
            assert!(dump.contains(&format!("{hex}\n")), "{dump}");
        }
        // Six sessions' connections, and the one asking (ZooKeeper lists it too).
        let clients = stat.lines().filter(|l| l.starts_with(" /")).count();
        assert_eq!(clients, 7, "{stat}");
    }
}

/// A `getData` sent right behind a `sync`, without waiting for the sync's answer (as an
/// asynchronous client does), is answered right after it, on one core and on two. It
/// waited for the connection's next request (the client's next ping) before.
#[test]
fn a_read_pipelined_behind_a_sync_is_answered_with_it() {
    let layouts: &[&str] = if common::against_zookeeper() {
        &[""]
    } else {
        &["", "cores=2\nquorumCore=dedicated"]
    };
    for cfg in layouts {
        let server = Server::start(cfg);
        let mut c = raw_connect(&server.addr());
        std::io::Write::write_all(&mut c, &common::sync_then_get(10, "/"))
            .expect("send sync + getData");
        c.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .expect("read timeout");
        for want in [10, 11] {
            let f = read_frame(&mut c)
                .unwrap_or_else(|e| panic!("{cfg:?}: no answer for xid {want}: {e}"));
            let mut r = Reader(&f);
            assert_eq!(
                (r.int(), r.long() >= 0, r.int()),
                (want, true, err::OK),
                "{cfg:?}"
            );
        }
    }
}
