//! A real ensemble of ringkeeper processes for tests: one `zoo.cfg` per member on free
//! 127.0.0.1 ports, started, killed and restarted by the test (`Ensemble`, `Member`),
//! and the raw-socket requests the ensemble tests make of them (`synced_get`, `digests`).
//! Used by tests/ensemble.rs and tests/sync_bugs.rs.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{request, try_connect, try_four_letter, Jute, Reader};

pub const SETTLE: Duration = Duration::from_secs(20);

pub struct Member {
    pub sid: u32,
    pub dir: PathBuf,
    pub client_port: u16,
    pub quorum_port: u16,
    /// ZooKeeper's Prometheus endpoint (`metricsProvider.httpPort`), if configured.
    pub metrics_port: Option<u16>,
    pub child: Option<Child>,
    /// Extra environment for the next start (e.g. `FAILPOINTS`); `start` keeps it,
    /// `start_clean` clears it first.
    pub env: Vec<(String, String)>,
}

impl Member {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn start(&mut self) {
        std::fs::create_dir_all(self.data_dir()).expect("data dir");
        std::fs::write(self.data_dir().join("myid"), format!("{}\n", self.sid)).expect("myid");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
            .args(["server", "-c"])
            .arg(self.dir.join("zoo.cfg"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ringkeeper");
        self.child = Some(child);
    }

    /// Starts with `FAILPOINTS` set to `failpoints` (tests/sync_bugs.rs).
    pub fn start_with_failpoints(&mut self, failpoints: &str) {
        self.env = vec![("FAILPOINTS".into(), failpoints.into())];
        self.start();
    }

    /// Starts without the extra environment of an earlier start.
    pub fn start_clean(&mut self) {
        self.env.clear();
        self.start();
    }

    /// Waits (bounded) for a process that should end by itself (a failpoint's crash);
    /// its exit status, or `None` if it was still running at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.child.as_mut()?;
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// This member was synced by the leader's snapshot.
    pub fn assert_took_snap(&self) {
        let log = self.log();
        assert!(log.contains("SNAP: loading the leader's snapshot"), "{log}");
    }

    /// `srvr`'s Mode line, or "" while the server does not answer.
    pub fn mode(&self) -> String {
        let out = try_four_letter(&self.addr(), "srvr", Duration::from_secs(2)).unwrap_or_default();
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .unwrap_or("")
            .to_owned()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub struct Ensemble {
    pub members: Vec<Member>,
    pub root: PathBuf,
}

impl Drop for Ensemble {
    /// The members stop; their directories go unless the test failed (kept to look at).
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill9();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

impl Ensemble {
    pub fn start(name: &str, n: u32) -> Ensemble {
        Ensemble::start_with(name, n, 0)
    }

    /// `voters` participants, then `observers` observers.
    pub fn start_with(name: &str, voters: u32, observers: u32) -> Ensemble {
        Ensemble::start_cfg(name, voters, observers, 20)
    }

    /// As `start_with`, with `initLimit` (in ticks of 100 ms) set: the time a learner
    /// has to sync, which a large SNAP needs more of.
    pub fn start_cfg(name: &str, voters: u32, observers: u32, init_limit: u32) -> Ensemble {
        Ensemble::start_full(name, voters, observers, init_limit, false, false)
    }

    /// `client_in_lines`: each member's client port on the `server.N` lines
    /// (`;127.0.0.1:port`, ZooKeeper 3.5's form) instead of `clientPort`; with
    /// `prometheus`, each member serves ZooKeeper's metrics endpoint on a port of its own.
    pub fn start_full(
        name: &str,
        voters: u32,
        observers: u32,
        init_limit: u32,
        client_in_lines: bool,
        prometheus: bool,
    ) -> Ensemble {
        Ensemble::configure(
            name,
            voters,
            observers,
            init_limit,
            client_in_lines,
            prometheus,
            true,
            false,
        )
    }

    /// Started as `start_with`, each member's quorum and election ports on an address
    /// of its own (server N on 127.0.0.N) and `observerMasterPort` set, so every
    /// follower can listen on it: observers sync from followers.
    pub fn start_observer_masters(name: &str, voters: u32, observers: u32) -> Ensemble {
        Ensemble::configure(name, voters, observers, 20, false, false, true, true)
    }

    /// `voters` members configured and not started: a test starts each (with its own
    /// environment) in the order its schedule needs.
    pub fn configured(name: &str, voters: u32) -> Ensemble {
        Ensemble::configure(name, voters, 0, 20, false, false, false, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn configure(
        name: &str,
        voters: u32,
        observers: u32,
        init_limit: u32,
        client_in_lines: bool,
        prometheus: bool,
        start: bool,
        observer_masters: bool,
    ) -> Ensemble {
        let n = voters + observers;
        let root = std::env::temp_dir().join(format!("rk-ensemble-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let ports: Vec<(u16, u16, u16)> = super::free_ports(3 * n as usize)
            .chunks(3)
            .map(|c| (c[0], c[1], c[2]))
            .collect();
        let mut lines = String::new();
        if observer_masters {
            lines.push_str(&format!("observerMasterPort={}\n", super::free_ports(1)[0]));
        }
        for (i, (c, q, e)) in ports.iter().enumerate() {
            let host = if observer_masters {
                format!("127.0.0.{}", i + 1)
            } else {
                "127.0.0.1".to_owned()
            };
            let kind = if i as u32 >= voters { ":observer" } else { "" };
            let client = if client_in_lines {
                format!(";127.0.0.1:{c}")
            } else {
                String::new()
            };
            lines.push_str(&format!("server.{}={host}:{q}:{e}{kind}{client}\n", i + 1));
        }
        let mut members = Vec::new();
        for (i, (client, quorum, _)) in ports.iter().enumerate() {
            let dir = root.join(format!("s{}", i + 1));
            std::fs::create_dir_all(&dir).expect("member dir");
            let client_keys = if client_in_lines {
                String::new()
            } else {
                format!("clientPort={client}\nclientPortAddress=127.0.0.1\n")
            };
            let metrics_port = prometheus.then(|| super::free_ports(1)[0]);
            let metrics = metrics_port.map_or(String::new(), |port| {
                format!(
                    "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.\
                     PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.1\n\
                     metricsProvider.httpPort={port}\n"
                )
            });
            let cfg = metrics
                + &format!(
                    "tickTime=100\ninitLimit={init_limit}\nsyncLimit=10\ndataDir={}\n{client_keys}\
                     admin.enableServer=false\n4lw.commands.whitelist=*\npreAllocSize=1024\n{lines}",
                dir.join("data").display()
            );
            std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
            let mut m = Member {
                sid: i as u32 + 1,
                dir,
                client_port: *client,
                quorum_port: *quorum,
                metrics_port,
                child: None,
                env: Vec::new(),
            };
            if start {
                m.start();
            }
            members.push(m);
        }
        Ensemble { members, root }
    }

    /// Waits until the running members are one leader, followers and observers;
    /// returns the leader's index.
    pub fn settled(&self) -> usize {
        let deadline = Instant::now() + SETTLE;
        loop {
            let modes: Vec<String> = self
                .members
                .iter()
                .map(|m| {
                    if m.child.is_some() {
                        m.mode()
                    } else {
                        "down".into()
                    }
                })
                .collect();
            let leaders: Vec<usize> = (0..modes.len()).filter(|&i| modes[i] == "leader").collect();
            let all_up = modes
                .iter()
                .all(|m| ["leader", "follower", "observer", "down"].contains(&m.as_str()));
            if leaders.len() == 1 && all_up {
                return leaders[0];
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self.members.iter().map(|m| m.log()).collect();
                panic!("no settled ensemble: {modes:?}\n{}", logs.join("\n-----\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the running members to agree on a leader while a stopped (SIGSTOP)
    /// member cannot answer `srvr`; the leader's index.
    pub fn settled_without(&self, stopped: usize) -> usize {
        let deadline = Instant::now() + SETTLE;
        loop {
            let modes: Vec<(usize, String)> = others(self.members.len(), stopped)
                .into_iter()
                .map(|i| (i, self.members[i].mode()))
                .collect();
            let leader = modes.iter().find(|(_, m)| m == "leader").map(|(i, _)| *i);
            if let Some(l) = leader {
                if modes.iter().all(|(_, m)| m == "leader" || m == "follower") {
                    return l;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no leader without {stopped}: {modes:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `sig` (SIGSTOP, SIGCONT, ...) to member `i`'s process.
    pub fn signal(&self, i: usize, sig: i32) {
        let pid = self.members[i].child.as_ref().expect("running").id();
        // SAFETY: a signal to a child process this test started and still holds.
        let rc = unsafe { libc::kill(pid as i32, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig})");
    }
}

pub fn connect(addr: &str, timeout_ms: i32) -> TcpStream {
    let deadline = Instant::now() + SETTLE;
    loop {
        match try_connect(addr, timeout_ms, Duration::from_secs(2)) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("cannot connect to {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

pub const CREATE: i32 = 1;
pub const EXISTS: i32 = 3;
pub const GET_DATA: i32 = 4;
pub const SET_DATA: i32 = 5;
pub const PING: i32 = 11;
pub const SYNC: i32 = 9;
pub const EPHEMERAL: i32 = 1;

pub fn create(s: &mut TcpStream, xid: i32, path: &str, data: &[u8], flags: i32) -> i32 {
    let body = Jute::new()
        .string(path)
        .buffer(data)
        .open_acl()
        .int(flags)
        .into_vec();
    request(s, xid, CREATE, &body).expect("create").err
}

/// `sync` then `getData`: what a linearizable read of `path` returns on this server.
pub fn synced_get(s: &mut TcpStream, xid: i32, path: &str) -> Option<Vec<u8>> {
    let r = request(s, xid, SYNC, &Jute::new().string(path).into_vec()).expect("sync");
    assert_eq!(r.err, 0, "sync of {path}");
    let r = request(
        s,
        xid + 1,
        GET_DATA,
        &Jute::new().string(path).boolean(false).into_vec(),
    )
    .expect("getData");
    match r.err {
        0 => Some(Reader(&r.body).buffer()),
        -101 => None,
        e => panic!("getData {path}: error {e}"),
    }
}

pub fn exists(s: &mut TcpStream, xid: i32, path: &str) -> bool {
    let r = request(
        s,
        xid,
        EXISTS,
        &Jute::new().string(path).boolean(false).into_vec(),
    )
    .expect("exists");
    r.err == 0
}

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn others(n: usize, not: usize) -> Vec<usize> {
    (0..n).filter(|&i| i != not).collect()
}

/// `hash`'s history as (zxid, digest) rows.
pub fn digests(addr: &str) -> std::collections::BTreeMap<String, String> {
    try_four_letter(addr, "hash", Duration::from_secs(5))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(z, d)| (z.trim().to_owned(), d.trim().to_owned()))
        .collect()
}
