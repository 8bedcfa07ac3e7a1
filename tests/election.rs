//! `ringkeeper election` on real sockets: three processes elect the best
//! `(epoch, zxid, sid)`, re-elect when the leader dies, and a restarted server learns
//! the current leader; the election port's connection rule seen from outside; bad input
//! on the election port closes that connection with a log line and the process goes on
//! electing. Everything on 127.0.0.1 with free ports; each wait is bounded.

#[path = "election_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use support::{free_ports, server_lines, test_dir, Node};

const DECIDE: Duration = Duration::from_secs(15);

/// tickTime 100 ms, syncLimit 3: a follower gives its leader 300 ms, a peer 300 ms for
/// its initial message.
fn ensemble_cfg(ports: &[support::Ports]) -> String {
    format!(
        "tickTime=100\ninitLimit=5\nsyncLimit=3\ncnxTimeout=1000\n{}",
        server_lines(ports)
    )
}

#[test]
fn three_servers_elect_the_best_vote_reelect_and_a_restarted_one_follows() {
    let root = test_dir("election-three");
    let ports = free_ports(4);
    // Three voters and an observer (server 4), which follows every decision.
    let cfg = format!(
        "{}server.4=127.0.0.1:{}:{}:observer\n",
        ensemble_cfg(&ports[..3]),
        ports[3].quorum,
        ports[3].election
    );
    // The best vote is server 1's (highest epoch), then 2's (higher zxid than 3's): a
    // rule that looked at sids alone would pick 3.
    let votes: [&[&str]; 3] = [
        &["--current-epoch", "2", "--last-zxid", "0x200000005"],
        &["--current-epoch", "1", "--last-zxid", "0x100000009"],
        &["--current-epoch", "1", "--last-zxid", "0x100000003"],
    ];
    // Server 1 listens before the others start: two of them alone are a quorum and
    // would not wait for it.
    let mut nodes = vec![Node::start(&root, 1, &cfg, votes[0])];
    nodes[0].wait_log("listening on", DECIDE);
    nodes.extend((1..3).map(|i| Node::start(&root, i as i64 + 1, &cfg, votes[i])));
    let mut observer = Node::start(&root, 4, &cfg, &[]);
    let first: Vec<String> = nodes.iter_mut().map(|n| n.next_decision(DECIDE)).collect();
    let seen = observer.next_decision(DECIDE);
    assert!(seen.starts_with("OBSERVING 1 leader=1"), "{seen}");
    assert!(
        first[0].starts_with("LEADING leader=1 zxid=0x200000005 peerEpoch=2"),
        "{first:?}"
    );
    assert!(first[1].starts_with("FOLLOWING 1 leader=1"), "{first:?}");
    assert!(first[2].starts_with("FOLLOWING 1 leader=1"), "{first:?}");

    // The leader dies: the other two lose its connection and elect 2 (higher zxid).
    nodes[0].kill9();
    let second: Vec<String> = nodes[1..]
        .iter_mut()
        .map(|n| n.next_decision(DECIDE))
        .collect();
    assert!(
        second[0].starts_with("LEADING leader=2 zxid=0x100000009"),
        "{second:?}"
    );
    assert!(second[1].starts_with("FOLLOWING 2 leader=2"), "{second:?}");
    // The observer may first pick the dead leader again: voters still LOOKING answer a
    // non-voter with their last election's vote, as Java's WorkerReceiver does. With no
    // connection to it, it looks again and finds 2.
    let deadline = std::time::Instant::now() + DECIDE;
    loop {
        let seen = observer.next_decision(DECIDE);
        if seen.starts_with("OBSERVING 2 leader=2") {
            break;
        }
        assert!(seen.starts_with("OBSERVING 1"), "{seen}");
        assert!(
            std::time::Instant::now() < deadline,
            "the observer never found 2"
        );
    }

    // Back with the best vote, server 1 still follows the leader in place: the others
    // answer it from outside the election with their votes and 2's LEADING one.
    nodes[0].restart();
    let third = nodes[0].next_decision(DECIDE);
    assert!(third.starts_with("FOLLOWING 2 leader=2"), "{third}");
    std::thread::sleep(Duration::from_millis(500));
    for n in &nodes[1..] {
        assert_eq!(
            n.printed().len(),
            3,
            "server {} moved: {:?}",
            n.sid,
            n.printed()
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The initial message as Java 3.8 sends it: V1, sid, `host:port`.
fn hello(sid: i64, addr: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(-65536i64).to_be_bytes());
    b.extend_from_slice(&sid.to_be_bytes());
    b.extend_from_slice(&(addr.len() as i32).to_be_bytes());
    b.extend_from_slice(addr.as_bytes());
    b
}

/// A LOOKING notification frame (version 2, empty config).
fn looking(leader: i64, zxid: i64, round: i64, epoch: i64) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&0i32.to_be_bytes());
    p.extend_from_slice(&leader.to_be_bytes());
    p.extend_from_slice(&zxid.to_be_bytes());
    p.extend_from_slice(&round.to_be_bytes());
    p.extend_from_slice(&epoch.to_be_bytes());
    p.extend_from_slice(&2i32.to_be_bytes());
    p.extend_from_slice(&0i32.to_be_bytes());
    let mut f = (p.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(&p);
    f
}

/// (state, leader, zxid, round, peerEpoch) of the next frame.
fn read_notification(s: &mut TcpStream) -> (i32, i64, i64, i64, i64) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("frame length");
    let len = i32::from_be_bytes(len) as usize;
    assert!((44..=4096).contains(&len), "frame of {len} bytes");
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).expect("frame");
    let i32_at = |at: usize| i32::from_be_bytes(p[at..at + 4].try_into().expect("4"));
    let i64_at = |at: usize| i64::from_be_bytes(p[at..at + 8].try_into().expect("8"));
    assert_eq!(i32_at(36), 2, "notification version");
    (i32_at(0), i64_at(4), i64_at(12), i64_at(20), i64_at(28))
}

/// Reads until EOF, which must come within `within`.
fn assert_closed(s: &mut TcpStream, within: Duration, what: &str) {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut sink = [0u8; 4096];
    loop {
        match s.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: connection not closed within {within:?}: {e}"),
        }
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the election port");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s
}

#[test]
fn the_larger_sid_keeps_the_connection_and_a_smaller_one_is_dialed_back() {
    let root = test_dir("election-rule");
    let ports = free_ports(3);
    let node = Node::start(&root, 2, &ensemble_cfg(&ports), &["--last-zxid", "0x7"]);
    node.wait_log("listening on", DECIDE);

    // As server 3 (larger): the connection is kept and 2's LOOKING vote arrives on it.
    let mut big = connect(ports[1].election);
    big.write_all(&hello(3, &format!("127.0.0.1:{}", ports[2].election)))
        .expect("hello");
    let (state, leader, zxid, _, _) = read_notification(&mut big);
    assert_eq!((state, leader, zxid), (0, 2, 7));

    // As server 1 (smaller), announcing an address other than server.1's: 2 closes our
    // connection and dials us back there, with its own V1 initial message.
    let back = TcpListener::bind("127.0.0.1:0").expect("bind");
    let back_port = back.local_addr().expect("addr").port();
    let mut small = connect(ports[1].election);
    small
        .write_all(&hello(1, &format!("127.0.0.1:{back_port}")))
        .expect("hello");
    assert_closed(
        &mut small,
        Duration::from_secs(5),
        "a smaller sid's connection",
    );
    let (mut dialed, _) = back.accept().expect("dial-back");
    dialed
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = [0u8; 20];
    dialed.read_exact(&mut head).expect("initial message");
    let version = i64::from_be_bytes(head[0..8].try_into().expect("8"));
    let sid = i64::from_be_bytes(head[8..16].try_into().expect("8"));
    let len = i32::from_be_bytes(head[16..20].try_into().expect("4")) as usize;
    let mut addr = vec![0u8; len];
    dialed.read_exact(&mut addr).expect("address");
    assert_eq!((version, sid), (-65536, 2));
    assert_eq!(
        String::from_utf8_lossy(&addr),
        format!("127.0.0.1:{}", ports[1].election)
    );
    let (state, leader, ..) = read_notification(&mut dialed);
    assert_eq!((state, leader), (0, 2));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_input_on_the_election_port_closes_that_connection_and_election_goes_on() {
    let root = test_dir("election-bad");
    let ports = free_ports(3);
    let cfg = ensemble_cfg(&ports);
    let node = Node::start(&root, 1, &cfg, &[]);
    node.wait_log("listening on", DECIDE);
    let port = ports[0].election;
    let me3 = format!("127.0.0.1:{}", ports[2].election);

    // An unknown protocol version.
    let mut s = connect(port);
    s.write_all(&[0xde; 24]).expect("write");
    assert_closed(&mut s, Duration::from_secs(5), "garbage initial message");
    node.wait_log(
        "bad initial message: unknown election protocol version",
        DECIDE,
    );

    // An address length past 2048.
    let mut s = connect(port);
    let mut h = hello(3, &me3);
    h[16..20].copy_from_slice(&100_000i32.to_be_bytes());
    s.write_all(&h).expect("write");
    assert_closed(&mut s, Duration::from_secs(5), "huge address length");
    node.wait_log("address length 100000", DECIDE);

    // Silence: the initial message must come within tickTime × syncLimit.
    let mut s = connect(port);
    assert_closed(&mut s, Duration::from_secs(5), "no initial message");
    node.wait_log("no initial message within 300 ms", DECIDE);

    // A frame longer than 512 KiB, after a good initial message.
    let mut s = connect(port);
    s.write_all(&hello(3, &me3)).expect("hello");
    s.write_all(&(600_000i32).to_be_bytes()).expect("write");
    assert_closed(&mut s, Duration::from_secs(5), "oversized frame");
    node.wait_log("bad frame: election frame length 600000", DECIDE);

    // A notification cut short by the end of the stream.
    let mut s = connect(port);
    s.write_all(&hello(3, &me3)).expect("hello");
    let frame = looking(3, 0, 1, 0);
    s.write_all(&frame[..30]).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    assert_closed(&mut s, Duration::from_secs(5), "truncated notification");
    node.wait_log("closed by the peer inside a frame", DECIDE);

    // A frame too short to be a notification is dropped, as Java drops it; the
    // connection stays and a good notification after it is answered.
    let mut s = connect(port);
    s.write_all(&hello(3, &me3)).expect("hello");
    let (_, leader, ..) = read_notification(&mut s);
    assert_eq!(leader, 1, "server 1's own vote");
    s.write_all(&[0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        .expect("write");
    node.wait_log("dropping a bad notification from server 3", DECIDE);
    // A better vote in server 1's round: it adopts it and sends it (re-sends of its
    // old vote may come first).
    s.write_all(&looking(3, 0x100, 1, 0)).expect("write");
    let adopted = (0..20).any(|_| read_notification(&mut s).1 == 3);
    assert!(
        adopted,
        "server 1 never proposed 3 after a bad notification"
    );
    drop(s);

    // Ids outside the configuration are answered, but only 64 connections of them
    // are kept at once.
    let mut strangers: Vec<TcpStream> = (100..164)
        .map(|sid| {
            let mut s = connect(port);
            s.write_all(&hello(sid, "127.0.0.1:1")).expect("hello");
            s.write_all(&looking(sid, 0, 1, 0)).expect("notification");
            let (state, ..) = read_notification(&mut s);
            // Server 1 may follow "3" by now: 3 voted for itself and 2's port refuses,
            // so nobody was left to hear from (`fast_failover`).
            assert!(
                state == 0 || state == 1,
                "the answer to server {sid}: LOOKING or FOLLOWING, not {state}"
            );
            s
        })
        .collect();
    let mut one_more = connect(port);
    one_more
        .write_all(&hello(200, "127.0.0.1:1"))
        .expect("hello");
    assert_closed(&mut one_more, Duration::from_secs(5), "the 65th stranger");
    node.wait_log("64 such connections already open", DECIDE);
    strangers.clear();

    // The election went on through all of it: server 1 decided for 3, the best vote
    // it heard (FLE never asks whether the proposed leader is alive), as soon as
    // server 2's port refused it (fast failover: nobody left to hear from). With
    // server 2 up and "3" gone, the pair elects again and decides.
    let mut two = Node::start(&root, 2, &cfg, &[]);
    let mut node = node;
    let d1 = node.next_decision(DECIDE);
    assert!(d1.starts_with("FOLLOWING 3 leader=3 zxid=0x100"), "{d1}");
    let d2 = two.next_decision(DECIDE);
    assert!(
        d2.starts_with("LEADING") || d2.starts_with("FOLLOWING"),
        "{d2}"
    );
    assert!(node.is_running());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_bad_ensemble_config_is_refused_with_a_message() {
    let root = test_dir("election-config");
    let ports = free_ports(3);
    let cfg_path = root.join("zoo.cfg");
    std::fs::write(
        &cfg_path,
        format!("dataDir={}\n{}", root.display(), ensemble_cfg(&ports)),
    )
    .expect("zoo.cfg");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
            .args(["election", "-c"])
            .arg(&cfg_path)
            .output()
            .expect("run")
    };
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read myid"), "{err}");
    std::fs::write(root.join("myid"), "7\n").expect("myid");
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("myid 7 is not in the server list"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_busy_election_port_is_retried_then_refused() {
    let root = test_dir("election-bind");
    let mut ports = free_ports(3);
    // The busy port is held from the moment it is chosen: picking a free port and
    // binding it later let a test running beside this one take it in between.
    let busy = TcpListener::bind(("127.0.0.1", 0)).expect("occupy");
    ports[0].election = busy.local_addr().expect("addr").port();
    std::fs::write(root.join("myid"), "1\n").expect("myid");
    let cfg_path = root.join("zoo.cfg");
    std::fs::write(
        &cfg_path,
        format!(
            "dataDir={}\nelectionPortBindRetry=2\n{}",
            root.display(),
            ensemble_cfg(&ports)
        ),
    )
    .expect("zoo.cfg");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .args(["election", "-c"])
        .arg(&cfg_path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("retrying in 1 s"), "{err}");
    assert!(err.contains("cannot listen on the election port"), "{err}");
    // Two tries, one second apart.
    assert!(started.elapsed() >= Duration::from_millis(900), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}
