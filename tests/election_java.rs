//! `ringkeeper election` in one election with Apache ZooKeeper 3.8 servers (Debian's
//! `zookeeper` package, started with java and the jars under /usr/share/java, admin
//! server off): the same bytes on the election port, the same decisions.
//!
//! - Java servers 2 and 3 with empty data and ringkeeper as server 1: all agree on 3;
//!   the Java pair forms its ensemble (`srvr`: leader and follower) while ringkeeper
//!   reports FOLLOWING 3, and Java server 2, started last, learns the leader partly
//!   from ringkeeper's answer.
//! - ringkeeper with the best vote: it reports LEADING, and both Java servers decode its
//!   vote and follow it, which their logs show as attempts to reach its quorum port
//!   (nothing listens there yet); they then go back to LOOKING.
//!
//! Fails, naming the package, when java or the ZooKeeper jar is missing.

#[path = "election_support/mod.rs"]
mod support;
#[path = "common/zk_java.rs"]
mod zk_java;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use support::{free_ports, server_lines, test_dir, Node, Ports};

/// A JVM on a loaded 2-CPU machine can take a while to start.
const JAVA_UP: Duration = Duration::from_secs(90);

fn require_java() {
    if let Some(why) = zk_java::java_missing() {
        panic!("{why}: apt-get install -y zookeeper default-jre-headless");
    }
}

/// tickTime 500 ms and a long initLimit: the Java leader waits 15 s for followers, so
/// the Java server started last has time to start its JVM.
fn ensemble_cfg(ports: &[Ports]) -> String {
    format!(
        "tickTime=500\ninitLimit=30\nsyncLimit=5\ncnxTimeout=2000\n{}",
        server_lines(ports)
    )
}

struct JavaZk {
    sid: i64,
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

impl JavaZk {
    fn start(root: &Path, sid: i64, cfg: &str, client_port: u16) -> JavaZk {
        let dir = root.join(format!("zk{sid}"));
        fs::create_dir_all(dir.join("data")).expect("mkdir");
        fs::write(dir.join("data").join("myid"), format!("{sid}\n")).expect("myid");
        fs::write(
            dir.join("zoo.cfg"),
            format!(
                "dataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=*\n{cfg}",
                dir.join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let child = zk_java::quorum_peer_main(&dir, &dir.join("zoo.cfg"), &["-Xmx128m"])
            .expect("java command")
            .spawn()
            .expect("spawn java");
        JavaZk {
            sid,
            dir,
            client_port,
            child: Some(child),
        }
    }

    /// Panics with its log if the JVM has exited.
    fn assert_running(&mut self) {
        if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
            panic!(
                "ZooKeeper {} exited ({st}):\n{}",
                self.sid,
                tail(&self.log())
            );
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("zk.log")).unwrap_or_default()
    }

    /// The `Mode:` line of `srvr`, if the server answers.
    fn mode(&self) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.client_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
    }

    fn wait_mode(&mut self, want: &str) {
        let deadline = Instant::now() + JAVA_UP;
        loop {
            self.assert_running();
            let mode = self.mode();
            if mode.as_deref() == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper {}: mode {mode:?}, not {want}, after {JAVA_UP:?}\n{}",
                self.sid,
                tail(&self.log())
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_log(&mut self, needle: &str) {
        self.wait_log_any(&[needle]);
    }

    fn wait_log_any(&mut self, needles: &[&str]) {
        let deadline = Instant::now() + JAVA_UP;
        let needle = needles.join(" | ");
        while !needles.iter().any(|n| self.log().contains(n)) {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "ZooKeeper {}: no {needle:?} in its log\n{}",
                self.sid,
                tail(&self.log())
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for JavaZk {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- ZooKeeper {} log ---\n{}", self.sid, tail(&self.log()));
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

#[test]
fn java_servers_and_ringkeeper_agree_on_the_java_leader() {
    require_java();
    let root = test_dir("election-java-follow");
    let ports = free_ports(3);
    let cfg = ensemble_cfg(&ports);
    let mut rk = Node::start(&root, 1, &cfg, &[]);
    rk.wait_log("listening on", JAVA_UP);
    let mut zk3 = JavaZk::start(&root, 3, &cfg, ports[2].client);
    // Two of three agree: ringkeeper and Java 3 elect 3, in ZooKeeper's notifications.
    let d = rk.next_decision(JAVA_UP);
    assert!(
        d.starts_with("FOLLOWING 3 leader=3 zxid=0x0 peerEpoch=0"),
        "{d}"
    );
    // Java 2, started last, finds 3 LEADING and ringkeeper FOLLOWING 3: a quorum out of
    // the election, so it follows 3, and the Java pair serves.
    let mut zk2 = JavaZk::start(&root, 2, &cfg, ports[1].client);
    zk3.wait_mode("leader");
    zk2.wait_mode("follower");
    // ringkeeper's answer as Java 2 read it: FOLLOWING, leader 3.
    zk2.wait_log("n.sid:1, n.state:FOLLOWING, n.leader:3,");
    // ringkeeper still follows 3 (its election connection to 3 stays up).
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(rk.printed(), vec![d.clone()], "ringkeeper moved");
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn java_servers_vote_for_ringkeeper_when_its_vote_is_best() {
    require_java();
    let root = test_dir("election-java-lead");
    let ports = free_ports(3);
    let cfg = ensemble_cfg(&ports);
    let mut rk = Node::start(
        &root,
        1,
        &cfg,
        &["--current-epoch", "5", "--last-zxid", "0x500000001"],
    );
    // Up before either JVM: two Java servers alone are a quorum and would elect 3.
    rk.wait_log("listening on", JAVA_UP);
    let mut zk2 = JavaZk::start(&root, 2, &cfg, ports[1].client);
    let mut zk3 = JavaZk::start(&root, 3, &cfg, ports[2].client);
    let d = rk.next_decision(JAVA_UP);
    assert!(
        d.starts_with("LEADING leader=1 zxid=0x500000001 peerEpoch=5"),
        "{d}"
    );
    // The Java servers read ringkeeper's vote as sent: LOOKING, or already LEADING to a
    // JVM that started late (with server 3 refusing, ringkeeper decides as soon as 2
    // has voted). Server 2 followed 1, tried its quorum port (nothing listens there
    // yet) and went back to LOOKING.
    let vote = |state: &str| {
        format!(
            "n.sid:1, n.state:{state}, n.leader:1, n.round:0x1, n.peerEpoch:0x5, \
             n.zxid:0x500000001, message format version:0x2, n.config version:0x0"
        )
    };
    let (looking, leading) = (vote("LOOKING"), vote("LEADING"));
    let quorum_port = format!("connecting to /127.0.0.1:{}", ports[0].quorum);
    zk2.wait_log(&looking);
    zk2.wait_log("FOLLOWING - LEADER ELECTION TOOK");
    zk2.wait_log(&quorum_port);
    zk2.wait_log("Peer state changed: looking");
    // Server 3's JVM may start after that: it follows 1 only if it hears 2 still
    // following, so only its reading of the vote is certain.
    zk3.wait_log_any(&[&looking, &leading]);
    // What comes next depends on timing, in Java's own rules: ringkeeper's LEADING
    // answer and the other Java server's FOLLOWING 1 (if it still follows) are a
    // quorum out of the election, so they may follow 1 again, or they elect 3 among
    // themselves. ringkeeper cannot see either and still says LEADING.
    assert_eq!(rk.printed(), vec![d.clone()], "ringkeeper moved");
    let _ = fs::remove_dir_all(&root);
}
