//! Where the server keeps its data: a relative `dataDir` (the embedded default's is
//! one) resolves against the directory the server starts in, and writes there are
//! durable like any others.

mod common;

use common::{err, op, raw_connect, request, Jute, Reader, Server};

#[test]
fn a_relative_data_dir_holds_acknowledged_writes_across_a_restart() {
    // The common zoo.cfg names an absolute dataDir; a later line wins.
    let mut server = Server::start("dataDir=relative-data");
    let mut s = raw_connect(&server.addr());
    let create = Jute::new()
        .string("/kept")
        .buffer(b"still here")
        .open_acl()
        .int(0)
        .into_vec();
    // The first write makes the first log segment and syncs the directory.
    let r = request(&mut s, 1, op::CREATE, &create).expect("create");
    assert_eq!(r.err, err::OK, "create");
    server.assert_alive();
    server.restart();
    let mut s = raw_connect(&server.addr());
    let get = Jute::new().string("/kept").boolean(false).into_vec();
    let r = request(&mut s, 1, op::GET_DATA, &get).expect("getData");
    assert_eq!(r.err, err::OK, "getData after restart");
    assert_eq!(Reader(&r.body).buffer(), b"still here");
    if !common::against_zookeeper() {
        assert!(
            server.dir().join("relative-data").is_dir(),
            "the relative dataDir was not made in the server's directory"
        );
    }
}
