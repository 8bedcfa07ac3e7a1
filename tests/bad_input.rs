//! Bad input never hurts other sessions (DESIGN.md guarantee 7): malformed frames,
//! oversized packets, invalid paths and ACLs get ZooKeeper's error code or a closed
//! connection; the server keeps serving everyone else and never dies.
//!
//! Every expectation is what Apache ZooKeeper 3.8 does; run against it with
//! `RINGKEEPER_TEST_SERVER=zk cargo test --test bad_input`.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{
    assert_fresh_session_works, err, op, raw_connect, request, send_frame, wait_closed, Jute,
    Server,
};

/// How long a server may take to drop a connection after protocol-level garbage.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

fn tcp(addr: &str) -> TcpStream {
    let sa: SocketAddr = addr.parse().unwrap();
    let s = TcpStream::connect_timeout(&sa, Duration::from_secs(10)).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn create_body(path: &str, acl: Jute) -> Vec<u8> {
    Jute::new()
        .string(path)
        .buffer(b"")
        .raw(&acl.into_vec())
        .int(0)
        .into_vec()
}

#[test]
fn truncated_frames_then_close() {
    let mut server = Server::start("");
    let addr = server.addr();

    // Truncated handshake: the length promises 45 bytes, 10 arrive, then close.
    let mut s = tcp(&addr);
    let hs = common::connect_request();
    let mut partial = (hs.len() as i32).to_be_bytes().to_vec();
    partial.extend_from_slice(&hs[..10]);
    s.write_all(&partial).unwrap();
    drop(s);
    assert_fresh_session_works(&mut server, "trunc-handshake");

    // Truncated request after a good handshake, then close.
    let mut s = raw_connect(&addr);
    let req = Jute::new()
        .int(1)
        .int(op::CREATE)
        .raw(&create_body("/trunc", Jute::new().open_acl()))
        .into_vec();
    let mut partial = (req.len() as i32).to_be_bytes().to_vec();
    partial.extend_from_slice(&req[..req.len() / 2]);
    s.write_all(&partial).unwrap();
    drop(s);
    assert_fresh_session_works(&mut server, "trunc-request");

    // Only half a length prefix, then close.
    let mut s = raw_connect(&addr);
    s.write_all(&[0, 0]).unwrap();
    drop(s);
    assert_fresh_session_works(&mut server, "trunc-length");

    // The half-sent create was never applied.
    let mut s = raw_connect(&addr);
    let r = request(
        &mut s,
        1,
        op::EXISTS,
        &Jute::new().string("/trunc").boolean(false).into_vec(),
    )
    .unwrap();
    assert_eq!(r.err, err::NONODE);
}

#[test]
fn oversized_and_negative_lengths_close_the_connection() {
    let mut server = Server::start("");
    let addr = server.addr();
    // jute.maxbuffer defaults to 0xfffff (1 MiB - 1) in ZooKeeper 3.8.
    for len in [
        0x7fff_ffffu32,
        2 << 20,
        0xffff_ffff, /* -1 */
        0x8000_0000, /* i32::MIN */
    ] {
        // After a good handshake.
        let mut s = raw_connect(&addr);
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 64]);
        s.write_all(&bytes).unwrap();
        assert!(
            wait_closed(&mut s, CLOSE_TIMEOUT),
            "length {len:#x} after handshake: connection left open"
        );
        assert_fresh_session_works(&mut server, "len-after-handshake");

        // As the very first frame (instead of a ConnectRequest).
        let mut s = tcp(&addr);
        s.write_all(&bytes).unwrap();
        assert!(
            wait_closed(&mut s, CLOSE_TIMEOUT),
            "length {len:#x} as first frame: connection left open"
        );
        assert_fresh_session_works(&mut server, "len-first-frame");
    }

    // A 2 MiB frame actually sent in full is refused the same way.
    let mut s = raw_connect(&addr);
    let body = vec![b'x'; 2 << 20];
    let mut req = Jute::new()
        .int(1)
        .int(op::SET_DATA)
        .string("/big")
        .buffer(&body)
        .int(-1)
        .into_vec();
    let mut frame = (req.len() as i32).to_be_bytes().to_vec();
    frame.append(&mut req);
    // The server may close while we are still writing; that is fine.
    let _ = s.write_all(&frame);
    assert!(
        wait_closed(&mut s, CLOSE_TIMEOUT),
        "2 MiB frame: connection left open"
    );
    assert_fresh_session_works(&mut server, "big-frame");
}

#[test]
fn unknown_opcode_gets_unimplemented_then_the_connection_is_closed() {
    // Surprise: ZooKeeper answers an unknown opcode with UNIMPLEMENTED and then closes the
    // connection (UnimplementedRequestProcessor.processRequest calls cnxn.sendCloseSession();
    // zookeeper-server/src/main/java/org/apache/zookeeper/server/UnimplementedRequestProcessor.java).
    let mut server = Server::start("");
    let addr = server.addr();
    for opcode in [999, 10, 500, -999, 0] {
        for body in [&b"whatever"[..], &b""[..]] {
            let mut s = raw_connect(&addr);
            let r = request(&mut s, 5, opcode, body).unwrap();
            assert_eq!(r.err, err::UNIMPLEMENTED, "opcode {opcode}");
            assert!(r.body.is_empty(), "error replies carry no body");
            // A request pipelined behind it is not answered: the connection closes.
            let _ = send_frame(
                &mut s,
                &Jute::new()
                    .int(6)
                    .int(op::EXISTS)
                    .string("/")
                    .boolean(false)
                    .into_vec(),
            );
            assert!(
                wait_closed(&mut s, CLOSE_TIMEOUT),
                "opcode {opcode}: connection left open"
            );
        }
    }
    assert_fresh_session_works(&mut server, "unknown-op");
}

#[test]
fn malformed_records_get_marshallingerror_and_the_connection_stays_usable() {
    // A complete frame whose record cannot be decoded: ZooKeeper answers MARSHALLINGERROR
    // (-5) with the request's xid and keeps the connection (observed on 3.8).
    let mut server = Server::start("");
    let addr = server.addr();
    let m = err::MARSHALLINGERROR;
    let cases: Vec<(&str, Vec<u8>, i32)> = vec![
        (
            "getData, path longer than the frame",
            Jute::new().int(100).raw(b"/ab").into_vec(),
            m,
        ),
        ("getData, no body", vec![], m),
        (
            "getData, null path",
            Jute::new().int(-1).boolean(false).into_vec(),
            m,
        ),
        ("create, no body", vec![], m),
        (
            "create, ACL vector cut short",
            Jute::new().string("/x").buffer(b"").int(3).into_vec(),
            m,
        ),
        (
            "create, null path",
            Jute::new().int(-1).buffer(b"").open_acl().int(0).into_vec(),
            m,
        ),
        (
            "create, ACL count 2^31-1",
            Jute::new()
                .string("/y")
                .buffer(b"")
                .int(i32::MAX)
                .into_vec(),
            m,
        ),
        // Unknown create flags are BADARGUMENTS (CreateMode.fromFlag throws).
        (
            "create, flags 99",
            Jute::new()
                .string("/z")
                .buffer(b"")
                .open_acl()
                .int(99)
                .into_vec(),
            err::BADARGUMENTS,
        ),
        // A null data buffer is accepted as empty data.
        (
            "setData, null data",
            Jute::new().string("/").int(-1).int(-1).into_vec(),
            err::OK,
        ),
        // multi with an op type that is not allowed inside multi.
        (
            "multi, op 77",
            Jute::new().int(77).boolean(false).int(0).into_vec(),
            m,
        ),
    ];
    let opcodes = [
        op::GET_DATA,
        op::GET_DATA,
        op::GET_DATA,
        op::CREATE,
        op::CREATE,
        op::CREATE,
        op::CREATE,
        op::CREATE,
        op::SET_DATA,
        14,
    ];
    let mut s = raw_connect(&addr);
    let mut xid = 0;
    for ((what, body, expected), opcode) in cases.into_iter().zip(opcodes) {
        xid += 1;
        let r = request(&mut s, xid, opcode, &body).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.err, expected, "{what}");
        // Same connection, next request answered normally.
        xid += 1;
        let r = request(
            &mut s,
            xid,
            op::EXISTS,
            &Jute::new().string("/").boolean(false).into_vec(),
        )
        .unwrap_or_else(|e| panic!("after {what}: {e}"));
        assert_eq!(r.err, err::OK, "after {what}");
    }
    for path in ["/x", "/y", "/z"] {
        xid += 1;
        let r = request(
            &mut s,
            xid,
            op::EXISTS,
            &Jute::new().string(path).boolean(false).into_vec(),
        )
        .unwrap();
        assert_eq!(r.err, err::NONODE, "{path} must not exist");
    }
    assert_fresh_session_works(&mut server, "marshalling");
}

#[test]
fn frames_shorter_than_a_request_header_close_the_connection() {
    let mut server = Server::start("");
    let addr = server.addr();
    for frame in [vec![], vec![0u8, 0, 0, 5, 0, 0]] {
        let mut s = raw_connect(&addr);
        send_frame(&mut s, &frame).unwrap();
        assert!(
            wait_closed(&mut s, CLOSE_TIMEOUT),
            "{}-byte frame: connection left open",
            frame.len()
        );
        assert_fresh_session_works(&mut server, "short-frame");
    }
    server.stop();
    assert!(!server.is_running(), "server did not exit on SIGTERM");
}

#[test]
fn trailing_garbage_after_a_record_is_ignored() {
    // ZooKeeper deserializes the record from the front of the frame and never checks that the
    // whole frame was consumed (ByteBufferInputStream.byteBuffer2Record in
    // zookeeper-server/src/main/java/org/apache/zookeeper/server/ByteBufferInputStream.java),
    // so bytes after the record are silently ignored.
    let mut server = Server::start("");
    let addr = server.addr();
    let mut s = raw_connect(&addr);
    let mut body = create_body("/trail", Jute::new().open_acl());
    body.extend_from_slice(b"GARBAGE-GARBAGE-GARBAGE");
    let r = request(&mut s, 1, op::CREATE, &body).unwrap();
    assert_eq!(r.err, err::OK);
    let mut body = Jute::new().string("/trail").boolean(false).into_vec();
    body.extend_from_slice(&[0xff; 100]);
    let r = request(&mut s, 2, op::GET_DATA, &body).unwrap();
    assert_eq!(r.err, err::OK);
    // The connection still works for a clean request.
    let r = request(
        &mut s,
        3,
        op::EXISTS,
        &Jute::new().string("/trail").boolean(false).into_vec(),
    )
    .unwrap();
    assert_eq!(r.err, err::OK);
    assert_fresh_session_works(&mut server, "trailing");
}

const B: i32 = err::BADARGUMENTS;
const N: i32 = err::NONODE;
const O: i32 = err::OK;

/// What ZooKeeper 3.8 answers for malformed paths, per operation:
/// (path, [create, create2, sequential create, setData, delete, getData, exists, getChildren]).
///
/// Surprise: ZooKeeper does *not* simply answer BADARGUMENTS for every malformed path; the
/// code depends on the order of its checks (read in zookeeper-server/src/main/java/org/apache/
/// zookeeper/server/PrepRequestProcessor.java and FinalRequestProcessor.java, release-3.8):
/// * create/create2: BADARGUMENTS if the path has no '/' or contains NUL; otherwise the parent
///   (everything before the last '/') is looked up first (NONODE if missing); only then is the
///   full path (with the sequence suffix appended, for sequential nodes) run through
///   PathUtils.validatePath -> BADARGUMENTS. So "/a//b" is NONODE (parent "/a/" does not
///   exist), "/a/" is BADARGUMENTS, and a *sequential* create of "/a/" or "/." succeeds
///   ("/a/0000000000", "/.0000000001" are valid paths).
/// * setData: validatePath first -> always BADARGUMENTS.
/// * delete: BADARGUMENTS only without '/' or with NUL; otherwise NONODE (the path is simply
///   not found).
/// * getData/getChildren: no validation at all: the path is looked up as given -> NONODE;
///   "" is the root's key in DataTree, so "" reads the root (OK).
/// * exists: like getData, except a NUL character is BADARGUMENTS.
const PATH_TABLE: &[(&str, [i32; 8])] = &[
    ("", [B, B, B, B, B, O, O, O]),
    ("a", [B, B, B, B, B, N, N, N]),
    ("a/b", [N, N, N, B, N, N, N, N]),
    ("/a/", [B, B, O, B, N, N, N, N]),
    ("/a//b", [N, N, N, B, N, N, N, N]),
    ("//", [B, B, B, B, N, N, N, N]),
    ("/a/./b", [N, N, N, B, N, N, N, N]),
    ("/a/../b", [N, N, N, B, N, N, N, N]),
    ("/.", [B, B, O, B, N, N, N, N]),
    ("/..", [B, B, O, B, N, N, N, N]),
    ("/a/.", [B, B, O, B, N, N, N, N]),
    ("/a\u{0}b", [B, B, B, B, B, N, B, N]),
    ("/b\u{0}", [B, B, B, B, B, N, B, N]),
    ("/a\u{1}b", [B, B, B, B, N, N, N, N]),
    ("/nope/", [N, N, N, B, N, N, N, N]),
    ("/nope//x", [N, N, N, B, N, N, N, N]),
];

#[test]
fn invalid_paths_get_zookeepers_error_codes() {
    let mut server = Server::start("");
    let addr = server.addr();
    let mut s = raw_connect(&addr);
    assert_eq!(
        request(
            &mut s,
            1,
            op::CREATE,
            &create_body("/a", Jute::new().open_acl())
        )
        .unwrap()
        .err,
        0
    );
    let names = [
        "create",
        "create2",
        "sequential create",
        "setData",
        "delete",
        "getData",
        "exists",
        "getChildren",
    ];
    let mut xid = 10;
    for (path, expected) in PATH_TABLE {
        let bodies = [
            (op::CREATE, create_body(path, Jute::new().open_acl())),
            (op::CREATE2, create_body(path, Jute::new().open_acl())),
            (
                op::CREATE,
                Jute::new()
                    .string(path)
                    .buffer(b"")
                    .open_acl()
                    .int(2)
                    .into_vec(),
            ),
            (
                op::SET_DATA,
                Jute::new().string(path).buffer(b"").int(-1).into_vec(),
            ),
            (op::DELETE, Jute::new().string(path).int(-1).into_vec()),
            (
                op::GET_DATA,
                Jute::new().string(path).boolean(false).into_vec(),
            ),
            (
                op::EXISTS,
                Jute::new().string(path).boolean(false).into_vec(),
            ),
            (
                op::GET_CHILDREN,
                Jute::new().string(path).boolean(false).into_vec(),
            ),
        ];
        for (i, (opcode, body)) in bodies.iter().enumerate() {
            xid += 1;
            let r = request(&mut s, xid, *opcode, body)
                .unwrap_or_else(|e| panic!("{} {path:?}: connection failed: {e}", names[i]));
            assert_eq!(r.err, expected[i], "{} {path:?}", names[i]);
        }
    }
    // The connection is still good, and only the sequential child of "/a/" was created under /a.
    xid += 1;
    let r = request(
        &mut s,
        xid,
        op::GET_CHILDREN,
        &Jute::new().string("/a").boolean(false).into_vec(),
    )
    .unwrap();
    assert_eq!(r.err, err::OK);
    let mut rd = common::Reader(&r.body);
    let n = rd.int();
    let mut kids: Vec<String> = (0..n).map(|_| rd.string()).collect();
    kids.sort();
    assert_eq!(
        kids,
        vec![".0000000001".to_string(), "0000000000".to_string()]
    );
    assert_fresh_session_works(&mut server, "paths");
}

#[test]
fn invalid_acls_get_invalidacl() {
    let mut server = Server::start("");
    let addr = server.addr();
    let mut s = raw_connect(&addr);
    let bad: Vec<(&str, Jute)> = vec![
        ("empty list", Jute::new().acls(&[])),
        (
            "digest without colon",
            Jute::new().acls(&[(31, "digest", "nocolon")]),
        ),
        ("world:bogus", Jute::new().acls(&[(31, "world", "bogus")])),
        (
            "unknown scheme",
            Jute::new().acls(&[(31, "nosuchscheme", "x")]),
        ),
        (
            "auth without authenticated ids",
            Jute::new().acls(&[(31, "auth", "")]),
        ),
        (
            "ip not an address",
            Jute::new().acls(&[(31, "ip", "not-an-ip")]),
        ),
        (
            "one good one bad",
            Jute::new().acls(&[(31, "world", "anyone"), (1, "digest", "nocolon")]),
        ),
    ];
    let mut xid = 0;
    for (what, acl) in bad {
        xid += 1;
        let path = format!("/acl{xid}");
        let r = request(&mut s, xid, op::CREATE, &create_body(&path, acl)).unwrap();
        assert_eq!(r.err, err::INVALIDACL, "{what}");
        xid += 1;
        let r = request(
            &mut s,
            xid,
            op::EXISTS,
            &Jute::new().string(&path).boolean(false).into_vec(),
        )
        .unwrap();
        assert_eq!(r.err, err::NONODE, "{what}: node must not exist");
    }
    // setACL with a bad ACL on an existing node.
    xid += 1;
    assert_eq!(
        request(
            &mut s,
            xid,
            op::CREATE,
            &create_body("/aclok", Jute::new().open_acl())
        )
        .unwrap()
        .err,
        0
    );
    xid += 1;
    let body = Jute::new()
        .string("/aclok")
        .acls(&[(31, "world", "bogus")])
        .int(-1)
        .into_vec();
    assert_eq!(
        request(&mut s, xid, 7, &body).unwrap().err,
        err::INVALIDACL,
        "setACL world:bogus"
    );
    xid += 1;
    let body = Jute::new().string("/aclok").acls(&[]).int(-1).into_vec();
    assert_eq!(
        request(&mut s, xid, 7, &body).unwrap().err,
        err::INVALIDACL,
        "setACL empty"
    );
    assert_fresh_session_works(&mut server, "acls");
}

#[test]
fn silent_clients_do_not_block_others_and_are_closed() {
    let mut server = Server::start("");
    let addr = server.addr();
    // Never sends a byte.
    let mut silent = tcp(&addr);
    // Sends half a handshake and stalls.
    let mut stalled = tcp(&addr);
    let hs = common::connect_request();
    let mut partial = (hs.len() as i32).to_be_bytes().to_vec();
    partial.extend_from_slice(&hs[..20]);
    stalled.write_all(&partial).unwrap();

    assert_fresh_session_works(&mut server, "silent-1");
    assert_eq!(common::four_letter(&addr, "ruok"), "imok");

    // ZooKeeper closes connections without a session after
    // zookeeper.nio.sessionlessCnxnTimeout (10 s, NIOServerCnxnFactory.java), checked on
    // its expiry-queue ticks; ringkeeper's handshake timeout is 10 s. Allow generous slack.
    assert!(
        wait_closed(&mut silent, Duration::from_secs(40)),
        "silent connection never closed"
    );
    assert!(
        wait_closed(&mut stalled, Duration::from_secs(40)),
        "stalled handshake never closed"
    );
    assert_fresh_session_works(&mut server, "silent-2");
}

fn raise_nofile(want: u64) {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn thousands_of_connections_while_a_session_keeps_working() {
    const N: usize = 2000;
    // Raised before the server starts so that the server process inherits it too.
    raise_nofile(3 * N as u64 + 1000);
    let mut server = Server::start("maxClientCnxns=0");
    let addr = server.addr();

    let worker_addr = addr.clone();
    let worker = std::thread::spawn(move || {
        let mut s = raw_connect(&worker_addr);
        let mut xid = 0;
        for i in 0..300 {
            let path = format!("/busy-{i}");
            xid += 1;
            let r = request(
                &mut s,
                xid,
                op::CREATE,
                &create_body(&path, Jute::new().open_acl()),
            )
            .unwrap();
            assert_eq!(r.err, 0, "create {path}");
            xid += 1;
            let r = request(
                &mut s,
                xid,
                op::GET_DATA,
                &Jute::new().string(&path).boolean(false).into_vec(),
            )
            .unwrap();
            assert_eq!(r.err, 0, "getData {path}");
        }
    });

    let mut conns = Vec::with_capacity(N);
    for i in 0..N {
        let mut c = tcp(&addr);
        c.set_nodelay(true).unwrap();
        // Half of them complete a session handshake, half stay silent.
        if i % 2 == 0 {
            send_frame(&mut c, &common::connect_request()).unwrap();
        }
        conns.push(c);
    }
    for (i, c) in conns.iter_mut().enumerate().step_by(2) {
        let resp = common::read_frame(c)
            .unwrap_or_else(|e| panic!("handshake reply on connection {i}: {e}"));
        assert_eq!(
            resp.len(),
            37,
            "ConnectResponse with readOnly byte, as sent"
        );
    }
    worker
        .join()
        .expect("the busy session failed while thousands of connections were open");
    assert_fresh_session_works(&mut server, "many");
    drop(conns);
    assert_fresh_session_works(&mut server, "many-after");
}
