//! The AdminServer against Apache ZooKeeper 3.8's (Debian's package, with the Jetty
//! jars it depends on): the same state on both, every command fetched from both, and
//! the answers compared field by field (names and JSON types everywhere, values
//! where they must agree). Then bad HTTP: each gets an error or a closed connection
//! and the server keeps serving.
//!
//! Skips (printing why) only when `java` or the ZooKeeper or Jetty jars are missing.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Map, Value};
use zookeeper_client as zk;

/// The jars ZooKeeper 3.8's JettyAdminServer needs besides those `zk_java` puts on
/// the classpath.
const ADMIN_JARS: &[&str] = &[
    "zookeeper-jute.jar",
    "jetty9-server.jar",
    "jetty9-servlet.jar",
    "jetty9-util.jar",
    "jetty9-http.jar",
    "jetty9-io.jar",
    "jetty9-security.jar",
    "servlet-api.jar",
    "jackson-databind.jar",
    "jackson-core.jar",
    "jackson-annotations.jar",
];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn java_missing() -> Option<String> {
    common::zk_java::java_missing().or_else(|| {
        ADMIN_JARS
            .iter()
            .map(|j| Path::new(common::zk_java::JARS).join(j))
            .find(|p| !p.exists())
            .map(|p| format!("{} is missing", p.display()))
    })
}

/// Apache ZooKeeper 3.8 with its AdminServer on.
struct Zk {
    child: Child,
    dir: PathBuf,
    client_port: u16,
    admin_port: u16,
}

impl Zk {
    fn start() -> Zk {
        let dir = std::env::temp_dir().join(format!("ringkeeper-admin-zk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("data")).expect("mkdir");
        let (client_port, admin_port) = (free_port(), free_port());
        fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
                 admin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n",
                dir.join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let child = common::zk_java::quorum_peer_main_with(
            &dir,
            &dir.join("zoo.cfg"),
            &["-Xmx256m"],
            ADMIN_JARS,
        )
        .and_then(|mut c| c.spawn())
        .expect("spawn java");
        let mut zk = Zk {
            child,
            dir,
            client_port,
            admin_port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = zk.child.try_wait() {
                panic!("ZooKeeper exited ({st}): {}", zk.log());
            }
            if try_get(zk.admin_port, "/commands/ruok").is_some() {
                return zk;
            }
            assert!(Instant::now() < deadline, "ZooKeeper not up: {}", zk.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("zk.log")).unwrap_or_default()
    }
}

impl Drop for Zk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// One HTTP/1.0 exchange (so no chunked answer): (status, body).
fn try_get(port: u16, path: &str) -> Option<(u16, String)> {
    exchange(
        port,
        format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

fn exchange(port: u16, request: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    s.write_all(request).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

fn command(port: u16, name: &str) -> Map<String, Value> {
    let (status, body) =
        try_get(port, &format!("/commands/{name}")).unwrap_or_else(|| panic!("GET {name}"));
    assert_eq!(status, 200, "{name}: {body}");
    match serde_json::from_str(&body) {
        Ok(Value::Object(m)) => m,
        other => panic!("{name}: not a JSON object: {other:?}\n{body}"),
    }
}

/// A JSON value's type, with ints and floats apart (Jackson writes a double as
/// `0.0`, a long as `0`).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every path of `v` with its type (`a.b` for objects, `a[]` for array elements;
/// keys that are ids, paths or times become `*`).
fn shape(v: &Value, at: &str, out: &mut BTreeSet<String>, data_keys: bool) {
    out.insert(format!("{at}: {}", kind(v)));
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if data_keys { "*" } else { k.as_str() };
                // Maps from ids/paths/times to values.
                let inner_data = matches!(
                    k.as_str(),
                    "expiry_time_to_session_ids"
                        | "session_id_to_ephemeral_paths"
                        | "session_id_to_watched_paths"
                        | "path_to_session_ids"
                        | "current_config"
                );
                shape(v, &format!("{at}.{key}"), out, inner_data);
            }
        }
        Value::Array(a) => {
            for e in a {
                shape(e, &format!("{at}[]"), out, false);
            }
        }
        _ => {}
    }
}

fn shape_of(m: &Map<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(&Value::Object(m.clone()), "", &mut out, false);
    out
}

/// Fields ZooKeeper has that ringkeeper leaves out, each with why (README, docs).
const ABSENT: &[(&str, &[&str])] = &[
    // Response sizes are not measured.
    (
        "server_stats",
        &[".server_stats.client_response_stats", ".client_response"],
    ),
    (
        "stats",
        &[".server_stats.client_response_stats", ".client_response"],
    ),
];

/// Commands whose field sets are open (one field per metric, variable, property):
/// only the fields both have are compared, plus the ones ringkeeper must have.
const OPEN: &[(&str, &[&str])] = &[
    (
        "monitor",
        &[
            "version",
            "server_state",
            "avg_latency",
            "max_latency",
            "min_latency",
            "packets_received",
            "packets_sent",
            "num_alive_connections",
            "outstanding_requests",
            "znode_count",
            "watch_count",
            "ephemerals_count",
            "approximate_data_size",
            "open_file_descriptor_count",
            "max_file_descriptor_count",
            "uptime",
            "global_sessions",
            "local_sessions",
            "connection_drop_probability",
            "auth_failed_count",
            "outstanding_tls_handshake",
            "tls_handshake_exceeded",
            "unsuccessful_handshake",
            "insecure_admin_count",
        ],
    ),
    (
        "environment",
        &[
            "zookeeper.version",
            "host.name",
            "os.name",
            "os.arch",
            "os.version",
            "user.name",
            "user.home",
            "user.dir",
        ],
    ),
    (
        "system_properties",
        &[
            "file.separator",
            "line.separator",
            "path.separator",
            "os.name",
            "os.arch",
            "user.name",
        ],
    ),
];

fn compare(name: &str, rk: &Map<String, Value>, zk: &Map<String, Value>) {
    assert_eq!(rk.get("command"), zk.get("command"), "{name}: command");
    assert_eq!(rk.get("error"), zk.get("error"), "{name}: error");
    if let Some((_, required)) = OPEN.iter().find(|(n, _)| *n == name) {
        for k in *required {
            assert!(rk.contains_key(*k), "{name}: ringkeeper lacks {k}");
            assert!(zk.contains_key(*k), "{name}: ZooKeeper lacks {k}");
        }
        for (k, v) in rk {
            if let Some(z) = zk.get(k) {
                assert_eq!(kind(v), kind(z), "{name}.{k}: {v} vs ZooKeeper's {z}");
            }
        }
        return;
    }
    let absent: &[&str] = ABSENT
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[], |(_, a)| a);
    let rk_shape = shape_of(rk);
    let zk_shape: BTreeSet<String> = shape_of(zk)
        .into_iter()
        .filter(|s| {
            !absent
                .iter()
                .any(|a| s.starts_with(&format!("{a}:")) || s.starts_with(&format!("{a}.")))
        })
        .collect();
    assert_eq!(
        rk_shape,
        zk_shape,
        "{name}: fields and types differ\nringkeeper: {}\nZooKeeper: {}",
        Value::Object(rk.clone()),
        Value::Object(zk.clone())
    );
}

/// The same state on a server: a node, an ephemeral under it, a data and a child
/// watch on it; the returned client holds the session.
async fn make_state(addr: &str) -> (zk::Client, zk::OneshotWatcher, zk::OneshotWatcher) {
    let c = tokio::time::timeout(
        Duration::from_secs(20),
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(addr),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    c.create("/a", b"hello", &opts).await.expect("create /a");
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    c.create("/a/eph", b"x", &eph).await.expect("create /a/eph");
    let (_, _, w1) = c.get_and_watch_data("/a").await.expect("watch data");
    let (_, _, w2) = c
        .get_and_watch_children("/a")
        .await
        .expect("watch children");
    (c, w1, w2)
}

/// The commands fetched from both servers (ZooKeeper's 4lw names: the aliases).
const COMPARED: &[&str] = &[
    "ruok",
    "srvr",
    "stat",
    "mntr",
    "conf",
    "cons",
    "dump",
    "envi",
    "wchs",
    "wchc",
    "wchp",
    "dirs",
    "isro",
    "hash",
    "leader",
    "voting_view",
    "observers",
    "system_properties",
    "last_snapshot",
    "initial_configuration",
    "zabstate",
    "orst",
    "crst",
    "srst",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_as_zookeeper_38_does() {
    if common::against_zookeeper() {
        return;
    }
    if let Some(why) = java_missing() {
        eprintln!("skipped: {why}");
        return;
    }
    let admin = free_port();
    let rk = Server::start(&format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n"
    ));
    let zk = tokio::task::spawn_blocking(Zk::start)
        .await
        .expect("start ZooKeeper");
    let (rk_client, _w1, _w2) = make_state(&rk.addr()).await;
    let (zk_client, _w3, _w4) = make_state(&format!("127.0.0.1:{}", zk.client_port)).await;
    let zk_admin = zk.admin_port;

    for name in COMPARED {
        let name = *name;
        let (r, z) =
            tokio::task::spawn_blocking(move || (command(admin, name), command(zk_admin, name)))
                .await
                .expect("fetch");
        let primary = z
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_owned();
        compare(&primary, &r, &z);
        // Values that must agree for the same state.
        let same = |keys: &[&str]| {
            for k in keys {
                assert_eq!(r.get(*k), z.get(*k), "{name}.{k}\n{r:?}\n{z:?}");
            }
        };
        match name {
            "srvr" | "stat" => same(&["node_count", "read_only"]),
            "mntr" => same(&[
                "server_state",
                "znode_count",
                "ephemerals_count",
                "watch_count",
                "num_alive_connections",
                "global_sessions",
                "local_sessions",
            ]),
            "conf" => same(&[
                "tick_time",
                "max_client_cnxns",
                "min_session_timeout",
                "max_session_timeout",
                "server_id",
                "client_port_listen_backlog",
            ]),
            "wchs" => same(&["num_connections", "num_paths", "num_total_watches"]),
            "isro" => same(&["read_only"]),
            "zabstate" => same(&["voting", "zabstate"]),
            "observers" | "voting_view" => {
                same(&["synced_observers", "observers", "current_config"])
            }
            // Not host.name: Java's is the canonical name of a reverse lookup,
            // ringkeeper's the kernel's host name.
            "envi" => same(&["os.name", "os.arch", "user.name", "user.home"]),
            "system_properties" => same(&["file.separator", "os.name", "os.arch", "user.name"]),
            _ => {}
        }
        // The session's own entries: one session, its ephemeral and its watch.
        let sid = |client: &zk::Client| client.session_id().0.to_string();
        match name {
            "dump" => {
                for (m, c) in [(&r, &rk_client), (&z, &zk_client)] {
                    let eph = &m["session_id_to_ephemeral_paths"];
                    assert_eq!(eph[sid(c)], serde_json::json!(["/a/eph"]), "{m:?}");
                    let expiry = m["expiry_time_to_session_ids"].as_object().expect("map");
                    let ids: Vec<&Value> = expiry
                        .values()
                        .flat_map(|v| v.as_array().into_iter().flatten())
                        .collect();
                    assert_eq!(ids.len(), 1, "{m:?}");
                }
            }
            "wchc" => {
                for (m, c) in [(&r, &rk_client), (&z, &zk_client)] {
                    let w = &m["session_id_to_watched_paths"];
                    assert_eq!(w[sid(c)], serde_json::json!(["/a"]), "{m:?}");
                }
            }
            "wchp" => {
                for (m, c) in [(&r, &rk_client), (&z, &zk_client)] {
                    let w = &m["path_to_session_ids"];
                    assert_eq!(w["/a"], serde_json::json!([c.session_id().0]), "{m:?}");
                }
            }
            "cons" => {
                for (m, c) in [(&r, &rk_client), (&z, &zk_client)] {
                    let conns = m["connections"].as_array().expect("list");
                    assert_eq!(conns.len(), 1, "{m:?}");
                    assert_eq!(conns[0]["session_id"], serde_json::json!(c.session_id().0));
                }
            }
            _ => {}
        }
    }

    // Aliases answer as the primary name.
    for (alias, primary) in [
        ("monitor", "monitor"),
        ("config", "configuration"),
        ("lead", "leader"),
    ] {
        let r = tokio::task::spawn_blocking(move || command(admin, alias))
            .await
            .expect("fetch");
        assert_eq!(r["command"], serde_json::json!(primary));
    }

    // An unknown command: the same answer.
    let (r, z) = tokio::task::spawn_blocking(move || {
        (command(admin, "nosuch"), command(zk_admin, "nosuch"))
    })
    .await
    .expect("fetch");
    assert_eq!(r, z);

    // The listing: ZooKeeper's links, less the trace-mask commands ringkeeper has no
    // trace mask for, plus 3.9's `restore` and `snapshot` (3.8 has neither).
    let links = |port: u16| -> BTreeSet<String> {
        let (status, body) = try_get(port, "/commands").expect("listing");
        assert_eq!(status, 200);
        body.split("<a href=\"")
            .skip(1)
            .filter_map(|l| l.split('"').next().map(str::to_owned))
            .collect()
    };
    let (rl, zl) = tokio::task::spawn_blocking(move || (links(admin), links(zk_admin)))
        .await
        .expect("listing");
    let missing: Vec<&String> = zl.difference(&rl).collect();
    assert_eq!(
        missing,
        vec!["/commands/get_trace_mask", "/commands/set_trace_mask"],
        "ringkeeper: {rl:?}"
    );
    let added: Vec<&String> = rl.difference(&zl).collect();
    assert_eq!(
        added,
        vec!["/commands/restore", "/commands/snapshot"],
        "{rl:?} vs {zl:?}"
    );
    drop(rk_client);
    drop(zk_client);
}

#[test]
fn bad_http_gets_an_error_and_the_server_keeps_serving() {
    if common::against_zookeeper() {
        return;
    }
    let admin = free_port();
    let mut rk = Server::start(&format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n\
         admin.idleTimeout=1000\n"
    ));
    // Not HTTP at all.
    let (status, _) = exchange(admin, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n").expect("an answer");
    assert_eq!(status, 400);
    // A head bigger than any request line and headers need be.
    let mut big = b"GET /commands/ruok HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    if let Some((status, _)) = exchange(admin, &big) {
        assert_eq!(status, 431);
    }
    // A 100 MB JSON body: refused after the head, the body never read.
    let mut s = TcpStream::connect(("127.0.0.1", admin)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(
        b"POST /commands/restore HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{\"a\":",
    )
    .expect("send head");
    let chunk = vec![b'1'; 1 << 20];
    let mut sent = 0;
    while sent < 100 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += 1;
    }
    assert!(sent < 100, "the server read a 100 MB body");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    // `restore` without an `Authorization` header: 401, as ZooKeeper 3.9 answers,
    // before any of the body is read. The answer may be lost to the reset that closing
    // on unread bytes causes.
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 401"),
        "{answer}"
    );
    // Silence: closed after admin.idleTimeout.
    let mut idle = TcpStream::connect(("127.0.0.1", admin)).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = idle.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "an idle connection stayed open"
    );
    // Other paths and methods.
    assert_eq!(try_get(admin, "/elsewhere").map(|a| a.0), Some(404));
    assert_eq!(try_get(admin, "/commandsx").map(|a| a.0), Some(404));
    let (status, _) = exchange(admin, b"DELETE /commands/ruok HTTP/1.0\r\n\r\n").expect("answer");
    assert_eq!(status, 405);
    // A peer that goes away mid-request.
    for cut in [3usize, 10, 20] {
        let mut s = TcpStream::connect(("127.0.0.1", admin)).expect("connect");
        let _ = s.write_all(&b"GET /commands/mntr HTTP/1.1\r\n"[..cut]);
    }
    // Still serving, on both ports.
    let r = command(admin, "ruok");
    assert_eq!(r["error"], Value::Null);
    rk.assert_alive();
    let mut c = TcpStream::connect(rk.addr()).expect("client port");
    c.write_all(b"ruok").expect("4lw");
    let mut out = String::new();
    c.read_to_string(&mut out).expect("read");
    assert_eq!(out, "imok");
}

#[test]
fn a_taken_admin_port_stops_the_start_with_a_clear_error() {
    if common::against_zookeeper() {
        return;
    }
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = std::env::temp_dir().join(format!("ringkeeper-admin-taken-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    let cfg = dir.join("zoo.cfg");
    fs::write(
        &cfg,
        format!(
            "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\nadmin.serverAddress=127.0.0.1\n\
             admin.serverPort={port}\n",
            dir.join("data").display(),
            free_port()
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .arg("server")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "started beside a taken admin port:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "cannot listen on 127.0.0.1:{port} (the AdminServer port"
        )) && text.contains("admin.enableServer=false"),
        "{text}"
    );
    drop(taken);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn srvr_counts_the_log_syncs_slower_than_the_warning_threshold() {
    if common::against_zookeeper() {
        return;
    }
    for (threshold, slow) in [("0", true), ("60000", false)] {
        let admin = free_port();
        let server = Server::start(&format!(
            "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n\
             fsync.warningthresholdms={threshold}\n"
        ));
        let mut s = common::raw_connect(&server.addr());
        let create = common::Jute::new()
            .string("/slow")
            .buffer(b"x")
            .open_acl()
            .int(0)
            .into_vec();
        let r = common::request(&mut s, 1, 1, &create).expect("create");
        assert_eq!(r.err, 0);
        let stats = command(admin, "srvr");
        let n = stats["server_stats"]["fsync_threshold_exceed_count"]
            .as_u64()
            .expect("a count");
        assert_eq!(n > 0, slow, "threshold {threshold} ms: {n}");
    }
}

#[test]
fn a_killed_server_restarts_on_its_admin_port() {
    if common::against_zookeeper() {
        return;
    }
    let admin = free_port();
    let mut server = Server::start(&format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n"
    ));
    // The killed process's listening socket is released by the kernel after the
    // process is reaped (io_uring); the next start waits for it instead of failing.
    for round in 0..5 {
        assert_eq!(
            command(admin, "ruok")["error"],
            Value::Null,
            "round {round}"
        );
        server.restart();
    }
    assert_eq!(command(admin, "ruok")["error"], Value::Null);
}

#[test]
fn the_command_url_moves_the_commands_and_enable_server_false_binds_nothing() {
    if common::against_zookeeper() {
        return;
    }
    let admin = free_port();
    let _server = Server::start(&format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n\
         admin.commandURL=/zk/\n"
    ));
    let (status, body) = try_get(admin, "/zk/mntr").expect("answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"command\": \"monitor\""), "{body}");
    let (status, page) = try_get(admin, "/zk").expect("listing");
    assert_eq!(status, 200);
    assert!(
        page.contains("<a href=\"/zk/monitor\">monitor</a>"),
        "{page}"
    );
    assert_eq!(try_get(admin, "/commands/mntr").map(|a| a.0), Some(404));

    // Off: the port stays free (the common zoo.cfg says admin.enableServer=false).
    let off = free_port();
    let _quiet = Server::start(&format!(
        "admin.serverAddress=127.0.0.1\nadmin.serverPort={off}\n"
    ));
    assert!(
        TcpListener::bind(("127.0.0.1", off)).is_ok(),
        "something listens on {off}"
    );
}

/// A CA (`ca.pem`), the AdminServer's PEM key store `server.pem` (a v3 certificate
/// for 127.0.0.1, so curl checks it without `-k`) and a client certificate
/// `client.crt`/`client.key`, made by `openssl` in a fresh directory.
fn admin_pki(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rk-admin-tls-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    let script = "set -e
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem -subj /CN=AdminCA
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext
        for who in server client; do
          openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who
        done
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
          -extfile san.ext -out server.crt
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
          -out client.crt
        cat server.key server.crt > server.pem";
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(&dir)
        .output()
        .expect("run sh and openssl (the HTTPS tests need openssl on the PATH)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// `GET path` over HTTPS with curl, trusting `ca.pem` (and with `client.crt` when
/// `with_cert`): the body, or `None` when curl got no answer.
fn curl(pki: &Path, port: u16, path: &str, with_cert: bool) -> Option<String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail", "--max-time", "10", "--cacert"])
        .arg(pki.join("ca.pem"));
    if with_cert {
        cmd.arg("--cert")
            .arg(pki.join("client.crt"))
            .arg("--key")
            .arg(pki.join("client.key"));
    }
    let out = cmd
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl (the HTTPS tests need it on the PATH)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `GET path` over HTTPS with curl, the client certificate and `Authorization: auth`:
/// (status, body).
fn curl_auth(pki: &Path, port: u16, path: &str, auth: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-w",
            "\n%{http_code}",
            "--cacert",
        ])
        .arg(pki.join("ca.pem"))
        .arg("--cert")
        .arg(pki.join("client.crt"))
        .arg("--key")
        .arg(pki.join("client.key"))
        .args(["-H", &format!("Authorization: {auth}")])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl (the HTTPS tests need it on the PATH)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// zoo.cfg lines for an AdminServer on `port` with the quorum stores of `pki`.
fn https_cfg(pki: &Path, port: u16, extra: &str) -> String {
    format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={port}\n\
         ssl.quorum.keyStore.location={}\nssl.quorum.trustStore.location={}\n{extra}\n",
        pki.join("server.pem").display(),
        pki.join("ca.pem").display()
    )
}

#[test]
fn https_with_force_https_port_unification_and_need_client_auth() {
    if common::against_zookeeper() {
        return;
    }
    let pki = admin_pki("modes");
    let ruok = "\"command\": \"ruok\"";

    // admin.forceHttps: HTTPS only; a plain HTTP request gets no HTTP answer.
    let port = free_port();
    let server = Server::start(&https_cfg(&pki, port, "admin.forceHttps=true"));
    let body = curl(&pki, port, "/commands/ruok", false)
        .unwrap_or_else(|| panic!("no HTTPS answer\n{}", server.output()));
    assert!(body.contains(ruok), "{body}");
    assert_eq!(try_get(port, "/commands/ruok"), None, "plain HTTP answered");
    assert!(server.output().contains("AdminServer on https://"));

    // admin.portUnification: both, and each plain connection is insecure_admin_count.
    let port = free_port();
    let server = Server::start(&https_cfg(&pki, port, "admin.portUnification=true"));
    let body = curl(&pki, port, "/commands/monitor", false)
        .unwrap_or_else(|| panic!("no HTTPS answer\n{}", server.output()));
    assert!(body.contains("\"insecure_admin_count\": 0"), "{body}");
    let m = command(port, "monitor");
    assert_eq!(m["insecure_admin_count"], Value::from(1), "{m:?}");
    let body = curl(&pki, port, "/commands/ruok", false).expect("HTTPS again");
    assert!(body.contains(ruok), "{body}");
    assert_eq!(
        command(port, "monitor")["insecure_admin_count"],
        Value::from(2)
    );

    // admin.needClientAuth: HTTPS needs a certificate the quorum trust store trusts.
    let port = free_port();
    let server = Server::start(&https_cfg(
        &pki,
        port,
        "admin.forceHttps=true\nadmin.needClientAuth=true",
    ));
    assert_eq!(
        curl(&pki, port, "/commands/ruok", false),
        None,
        "served without a certificate"
    );
    let body = curl(&pki, port, "/commands/ruok", true)
        .unwrap_or_else(|| panic!("refused a trusted certificate\n{}", server.output()));
    assert!(body.contains(ruok), "{body}");
    // ZooKeeper 3.9's `x509` auth of `snapshot`: the client certificate's id, once the
    // x509 provider is registered; without it, no id.
    let snap = "/commands/snapshot?streaming=false";
    let (code, body) = curl_auth(&pki, port, snap, "x509");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("Not authenticated"), "{body}");
    let port = free_port();
    let server = Server::start(&https_cfg(
        &pki,
        port,
        "admin.forceHttps=true\nadmin.needClientAuth=true\n\
         authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
    ));
    let (code, body) = curl_auth(&pki, port, snap, "x509");
    assert_eq!(code, 200, "{body}\n{}", server.output());
    assert!(body.contains("\"command\": \"snapshot\""), "{body}");

    // Without the flags the same stores change nothing: plain HTTP.
    let port = free_port();
    let _server = Server::start(&https_cfg(&pki, port, ""));
    assert!(command(port, "ruok")["error"].is_null());
    assert_eq!(curl(&pki, port, "/commands/ruok", false), None);
}
