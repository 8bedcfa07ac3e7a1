//! What an operator does in the first week, each as a test: two servers on one data
//! directory or one metrics port, an ensemble `zoo.cfg`, settings that are read but
//! not honoured, SIGTERM from systemd under load, log files, and the first-run
//! conveniences (`server zoo.cfg`, `--port`, `-D` without a file, host names,
//! `clientPort=0`).

mod common;

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{err, op, raw_connect_session, request, Jute, Reader, Server};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scratch directory for one test's own processes, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("rk-operator-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).expect("write file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Runs `ringkeeper args...` in `cwd` until it exits or `timeout` passes (then it is
/// killed): its exit status (`None`: it was still running) and its stderr + stdout.
fn run_until_exit(args: &[&str], cwd: &Path, timeout: Duration) -> (Option<ExitStatus>, String) {
    let out = cwd.join(format!(
        "run-{}.log",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let log = fs::File::create(&out).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn ringkeeper");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, fs::read_to_string(&out).unwrap_or_default())
}

/// A server process started by hand (not the fixture), killed on drop.
struct Proc {
    child: std::process::Child,
    log: PathBuf,
}

impl Proc {
    fn start(args: &[&str], cwd: &Path) -> Proc {
        let log = cwd.join(format!(
            "proc-{}.log",
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let f = fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
            .args(args)
            .current_dir(cwd)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn ringkeeper");
        Proc { child, log }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until a line of the log contains `what`.
    fn wait_for_line(&mut self, what: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| l.contains(what)) {
                return line.to_owned();
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("server exited ({status}) before logging {what:?}:\n{out}");
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the log within {timeout:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_body(path: &str, data: &[u8], flags: i32) -> Vec<u8> {
    Jute::new()
        .string(path)
        .buffer(data)
        .open_acl()
        .int(flags)
        .into_vec()
}

/// Whether `path` exists, asked on a new session.
fn exists(addr: &str, path: &str) -> bool {
    let (mut s, _) = raw_connect_session(addr);
    let r = request(
        &mut s,
        1,
        op::EXISTS,
        &Jute::new().string(path).boolean(false).into_vec(),
    )
    .expect("exists");
    let _ = request(&mut s, 2, op::CLOSE_SESSION, &[]);
    r.err == err::OK
}

/// Creates `n` nodes `/{prefix}-i` on one session; every one must be acknowledged.
fn create_nodes(addr: &str, prefix: &str, n: usize) {
    let (mut s, _) = raw_connect_session(addr);
    for i in 0..n {
        let path = format!("/{prefix}-{i}");
        let r = request(
            &mut s,
            i as i32 + 1,
            op::CREATE,
            &create_body(&path, b"x", 0),
        )
        .expect("create");
        assert_eq!(r.err, err::OK, "create {path}");
    }
    let _ = request(&mut s, n as i32 + 1, op::CLOSE_SESSION, &[]);
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_and_loses_nothing() {
    let mut first = Server::start("preAllocSize=1024\n");
    let pid = first.pid().expect("running");
    create_nodes(&first.addr(), "acked", 50);
    let spares_before = spare_segments(&first.data_dir());
    let scratch = Scratch::new("same-dir");
    // Same dataDir, another client port: what the operator started by mistake.
    let cfg = scratch.write(
        "zoo.cfg",
        &format!(
            "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            first.data_dir().display(),
            free_port()
        ),
    );
    let (status, out) = run_until_exit(
        &["server", "--config", cfg.to_str().expect("utf-8")],
        scratch.path(),
        Duration::from_secs(10),
    );
    let status = status.unwrap_or_else(|| panic!("the second server kept running:\n{out}"));
    assert!(!status.success(), "the second server started:\n{out}");
    assert!(
        out.contains("is in use by another process") && out.contains(&format!("pid {pid}")),
        "the refusal names the holder:\n{out}"
    );
    assert_eq!(
        spare_segments(&first.data_dir()),
        spares_before,
        "the second server touched the first one's log"
    );
    // Its dataDir elsewhere but its dataLogDir on the first one's: refused as well.
    let cfg = scratch.write(
        "zoo2.cfg",
        &format!(
            "dataDir={}\ndataLogDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            scratch.path().join("own").display(),
            first.data_dir().display(),
            free_port()
        ),
    );
    let (status, out) = run_until_exit(
        &["server", "--config", cfg.to_str().expect("utf-8")],
        scratch.path(),
        Duration::from_secs(10),
    );
    assert!(
        status.is_some_and(|s| !s.success()) && out.contains("is in use by another process"),
        "a server on the first one's log directory:\n{out}"
    );
    // Everything the first server acknowledged is still there after its restart.
    first.restart();
    for i in 0..50 {
        assert!(
            exists(&first.addr(), &format!("/acked-{i}")),
            "/acked-{i} lost"
        );
    }
}

fn spare_segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dataDir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("log.prealloc"))
        .collect();
    names.sort();
    names
}

#[test]
fn import_zk_refuses_a_data_dir_a_server_holds() {
    let server = Server::start("");
    let scratch = Scratch::new("import");
    fs::create_dir_all(scratch.path().join("zk/version-2")).expect("mkdir");
    let (status, out) = run_until_exit(
        &[
            "import-zk",
            scratch.path().join("zk").to_str().expect("utf-8"),
            "--to",
            server.data_dir().to_str().expect("utf-8"),
        ],
        scratch.path(),
        Duration::from_secs(10),
    );
    assert!(status.is_some_and(|s| !s.success()), "import ran:\n{out}");
    assert!(out.contains("is in use by another process"), "{out}");
}

#[test]
fn a_second_server_cannot_share_the_metrics_port() {
    let metrics = free_port();
    let first = Server::start(&format!(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={metrics}\n"
    ));
    let scratch = Scratch::new("metrics");
    let cfg = scratch.write(
        "zoo.cfg",
        &format!(
            "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={metrics}\n",
            scratch.path().join("data").display(),
            free_port()
        ),
    );
    let (status, out) = run_until_exit(
        &["server", "--config", cfg.to_str().expect("utf-8")],
        scratch.path(),
        Duration::from_secs(10),
    );
    let status = status.unwrap_or_else(|| panic!("the second server kept running:\n{out}"));
    assert!(!status.success(), "{out}");
    assert!(
        out.contains(&format!(
            "cannot listen on 127.0.0.1:{metrics} (the metrics port"
        )),
        "{out}"
    );
    drop(first);
}

#[test]
fn an_ensemble_member_without_myid_is_refused_and_forced_standalone_runs_alone() {
    let scratch = Scratch::new("ensemble");
    let port = free_port();
    let text = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
         clientPortAddress=127.0.0.1\nadmin.enableServer=false\nserver.1=10.0.0.1:2888:3888\n\
         server.2=10.0.0.2:2888:3888\nserver.3=10.0.0.3:2888:3888\n",
        scratch.path().join("data").display()
    );
    let cfg = scratch.write("zoo.cfg", &text);
    let (status, out) = run_until_exit(
        &["server", "--config", cfg.to_str().expect("utf-8")],
        scratch.path(),
        Duration::from_secs(10),
    );
    let status = status.unwrap_or_else(|| panic!("it ran without myid:\n{out}"));
    assert_eq!(status.code(), Some(2), "{out}");
    assert!(
        out.contains("cannot read myid, which an ensemble member needs"),
        "{out}"
    );
    assert!(!scratch.path().join("data").exists(), "it wrote a data dir");

    let mut forced = Proc::start(
        &[
            "server",
            "--config",
            cfg.to_str().expect("utf-8"),
            "-D",
            "forceStandalone=true",
        ],
        scratch.path(),
    );
    forced.wait_for_line("serving on", Duration::from_secs(20));
    let out = forced.output();
    assert!(
        out.contains("WARN") && out.contains("forceStandalone is set"),
        "{out}"
    );
}

#[test]
fn keys_read_but_not_honoured_are_named_at_start() {
    let scratch = Scratch::new("warn");
    let port = free_port();
    let cfg = scratch.write(
        "zoo.cfg",
        &format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             admin.httpVersion=2\n\
             skipACL=yes\n\
             syncEnabled=true\n\
             authProvider.1=com.example.CustomAuthenticationProvider\n",
            scratch.path().join("data").display(),
        ),
    );
    let mut p = Proc::start(
        &[
            "server",
            "--config",
            cfg.to_str().expect("utf-8"),
            "-D",
            "noSuchSetting=1",
        ],
        scratch.path(),
    );
    p.wait_for_line("serving on", Duration::from_secs(20));
    let out = p.output();
    for (key, why) in [
        (
            "syncEnabled",
            "an ensemble setting ringkeeper does not implement",
        ),
        ("admin.httpVersion", "the AdminServer serves HTTP/1.1"),
        ("skipACL", "ACLs are always checked"),
        ("authProvider.1", "no other provider class is loaded"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("{key} is read but not honoured")))
            .unwrap_or_else(|| panic!("no warning for {key}:\n{out}"));
        assert!(line.contains("WARN") && line.contains(why), "{line}");
        assert!(line.contains("zoo.cfg:"), "the line names the file: {line}");
    }
    let flag = out
        .lines()
        .find(|l| l.contains("noSuchSetting"))
        .unwrap_or_else(|| panic!("no warning for the unknown -D:\n{out}"));
    assert!(
        flag.contains("-D noSuchSetting: unknown setting ignored") && !flag.contains("zoo.cfg"),
        "{flag}"
    );
    // Logs written to a file carry no colour codes.
    assert!(
        !out.contains('\u{1b}'),
        "escape codes in a log file:\n{out}"
    );
}

#[test]
fn sigterm_under_a_write_load_exits_zero_and_keeps_every_acknowledged_write() {
    let mut server = Server::start("");
    let addr = server.addr();
    // An ephemeral node of a session that outlives the stop.
    let (mut owner, owner_session) = raw_connect_session(&addr);
    let r = request(&mut owner, 1, op::CREATE, &create_body("/eph", b"e", 1)).expect("create");
    assert_eq!(r.err, err::OK);

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let go = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, acked, go) = (addr.clone(), acked.clone(), go.clone());
            std::thread::spawn(move || {
                let (mut s, _) = raw_connect_session(&addr);
                let mut closed_by_server = false;
                for i in 0.. {
                    if !go.load(Ordering::Relaxed) {
                        break;
                    }
                    let path = format!("/w{w}-{i}");
                    match request(&mut s, i + 1, op::CREATE, &create_body(&path, b"d", 0)) {
                        Ok(r) if r.err == err::OK => acked.lock().expect("lock").push(path),
                        Ok(r) => panic!("create {path}: error {}", r.err),
                        Err(_) => {
                            closed_by_server = true;
                            break;
                        }
                    }
                }
                closed_by_server
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let before = acked.lock().expect("lock").len();
    assert!(before > 0, "no write was acknowledged before the stop");
    let t0 = Instant::now();
    let status = server
        .signal_and_wait(libc::SIGTERM, Duration::from_secs(15))
        .expect("the server did not exit within 15 s of SIGTERM");
    let took = t0.elapsed();
    go.store(false, Ordering::Relaxed);
    for w in writers {
        assert!(
            w.join().expect("writer"),
            "a writer's connection was not closed by the stop"
        );
    }
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.output()
    );
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    let out = server.output();
    assert!(out.contains("SIGTERM: stopping"), "{out}");
    assert!(out.contains("stopped in"), "{out}");

    server.start_again();
    let acked = acked.lock().expect("lock").clone();
    let (mut s, _) = raw_connect_session(&server.addr());
    for (i, path) in acked.iter().enumerate() {
        let r = request(
            &mut s,
            i as i32 + 1,
            op::EXISTS,
            &Jute::new().string(path).boolean(false).into_vec(),
        )
        .expect("exists");
        assert_eq!(r.err, err::OK, "{path} was acknowledged and is gone");
    }
    // The session was not closed by the stop: its ephemeral node is still there.
    let r = request(
        &mut s,
        acked.len() as i32 + 1,
        op::EXISTS,
        &Jute::new().string("/eph").boolean(false).into_vec(),
    )
    .expect("exists");
    assert_eq!(r.err, err::OK, "the session's ephemeral went with the stop");
    let mut stat = Reader(&r.body);
    let _czxid = stat.long();
    let _mzxid = stat.long();
    let _ctime = stat.long();
    let _mtime = stat.long();
    let _version = stat.int();
    let _cversion = stat.int();
    let _aversion = stat.int();
    assert_eq!(stat.long(), owner_session, "ephemeral owner");
}

#[test]
fn sigint_stops_an_idle_server_cleanly() {
    let mut server = Server::start("");
    let status = server
        .signal_and_wait(libc::SIGINT, Duration::from_secs(10))
        .expect("the server did not exit within 10 s of SIGINT");
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.output()
    );
    assert!(server.output().contains("SIGINT: stopping"));
}

#[test]
fn first_run_needs_no_config_file_to_move_the_port() {
    let scratch = Scratch::new("first-run");
    // `--port` with the embedded default (data in ./ringkeeper-data).
    let port = free_port();
    // The embedded default's AdminServer would take 127.0.0.1:8080, which parallel
    // tests (and the machine) may hold.
    let mut p = Proc::start(
        &[
            "server",
            "--port",
            &port.to_string(),
            "-D",
            "admin.enableServer=false",
        ],
        scratch.path(),
    );
    p.wait_for_line(
        &format!("serving on 127.0.0.1:{port}"),
        Duration::from_secs(20),
    );
    create_nodes(&format!("127.0.0.1:{port}"), "via-port", 1);
    assert!(scratch.path().join("ringkeeper-data").is_dir());
    drop(p);

    // `-D` without a file.
    let port = free_port();
    let dir = scratch.path().join("d-data");
    let mut p = Proc::start(
        &[
            "server",
            "-D",
            "admin.enableServer=false",
            "-D",
            &format!("clientPort={port}"),
            "-D",
            &format!("dataDir={}", dir.display()),
        ],
        scratch.path(),
    );
    p.wait_for_line(
        &format!("serving on 127.0.0.1:{port}"),
        Duration::from_secs(20),
    );
    assert!(dir.is_dir(), "-D dataDir was not used");
    drop(p);

    // The config file as a positional argument (zkServer.sh's habit), with a host
    // name for clientPortAddress and clientPort=0: the log names the real port.
    let cfg = scratch.write(
        "zoo.cfg",
        &format!(
            "dataDir={}\nclientPort=0\nclientPortAddress=localhost\nadmin.enableServer=false\n",
            scratch.path().join("cfg-data").display()
        ),
    );
    let mut p = Proc::start(&["server", cfg.to_str().expect("utf-8")], scratch.path());
    let line = p.wait_for_line("serving on", Duration::from_secs(20));
    let addr: SocketAddr = line
        .split("serving on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    assert_ne!(addr.port(), 0, "{line}");
    assert!(addr.ip().is_loopback(), "{line}");
    create_nodes(&addr.to_string(), "via-cfg", 1);
}

#[test]
fn max_cnxns_bounds_the_whole_server() {
    let server = Server::start("maxCnxns=2\nmaxClientCnxns=0\n");
    let (_a, _) = raw_connect_session(&server.addr());
    let (_b, _) = raw_connect_session(&server.addr());
    let sa: SocketAddr = server.addr().parse().expect("addr");
    let mut third = TcpStream::connect_timeout(&sa, Duration::from_secs(5)).expect("connect");
    assert!(
        common::wait_closed(&mut third, Duration::from_secs(5)),
        "a third connection was kept with maxCnxns=2"
    );
}

#[test]
fn a_container_that_never_had_a_child_is_reaped_after_max_never_used_interval() {
    let server = Server::start(
        "znode.container.checkIntervalMs=100\nznode.container.maxNeverUsedIntervalMs=200\n",
    );
    let (mut s, _) = raw_connect_session(&server.addr());
    // CREATE_CONTAINER (19) with the container flag (4).
    let r = request(&mut s, 1, 19, &create_body("/never-used", b"", 4)).expect("create");
    assert_eq!(r.err, err::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while exists(&server.addr(), "/never-used") {
        assert!(
            Instant::now() < deadline,
            "the never-used container is still there after 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_slow_log_sync_is_logged_above_the_threshold() {
    let server = Server::start("fsync.warningthresholdms=0\n");
    create_nodes(&server.addr(), "slow", 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.output().contains("syncing the txn log took") {
        assert!(Instant::now() < deadline, "{}", server.output());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_server_stops_accepting_at_once() {
    // After SIGKILL, an io_uring accept in flight used to keep the listener accepting
    // for some milliseconds (in about one start out of four here): connections made
    // then were accepted by nobody and reset. Ten kills make a miss all but certain.
    for round in 0..10 {
        let mut server = Server::start("");
        let (_client, _) = raw_connect_session(&server.addr());
        let sa: SocketAddr = server.addr().parse().expect("addr");
        let pid = server.pid().expect("running") as libc::pid_t;
        let status = server
            .signal_and_wait(libc::SIGKILL, Duration::from_secs(10))
            .expect("reaped");
        assert!(!status.success(), "pid {pid}");
        match TcpStream::connect_timeout(&sa, Duration::from_secs(1)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            other => panic!("round {round}: a connection to the dead server's port: {other:?}"),
        }
    }
}
