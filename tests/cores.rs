//! Several session cores behave as one server: a write answered on one core is seen
//! by a read on any other, as on a ZooKeeper server with its single tree.

mod common;

use common::{err, op, raw_connect, request, Jute, Reader, Server};

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
