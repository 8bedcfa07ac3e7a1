//! The AdminServer's `snapshot` and `restore` (ZooKeeper 3.9's commands, which Debian's
//! 3.8 lacks): their auth, flags and rate limit answered as 3.9's `Commands` answers,
//! a streamed snapshot read back by ZooKeeper 3.8's own `SnapshotFormatter` (when java
//! and Debian's jars are there) and by import-zk's reader, and a restore that clients
//! see, that survives a restart, and that bad bodies cannot start; in an ensemble,
//! restore refused.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{create_children, raw_connect, request, Jute, Server};
use ringkeeper::tree::acl::digest_of;
use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A server with its AdminServer on `port`, plus `extra` zoo.cfg lines.
fn server(port: u16, extra: &str) -> Server {
    Server::start(&format!(
        "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={port}\n{extra}"
    ))
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Map<String, Value> {
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(m)) => m,
            other => panic!(
                "not a JSON object: {other:?}: {}",
                String::from_utf8_lossy(&self.body)
            ),
        }
    }
}

/// One HTTP/1.1 exchange (the server closes after it).
fn http(port: u16, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\n");
    if let Some(a) = auth {
        head += &format!("Authorization: {a}\r\n");
    }
    if method == "POST" {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    head += "\r\n";
    s.write_all(head.as_bytes()).expect("send head");
    // The server may answer (and close) before taking all of a refused body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head: {}", String::from_utf8_lossy(&raw)));
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

/// getData by hand: (error code, data).
fn get(addr: &str, path: &str) -> (i32, Vec<u8>) {
    let mut s = raw_connect(addr);
    let body = Jute::new().string(path).boolean(false).into_vec();
    let r = request(&mut s, 1, 4, &body).expect("getData");
    if r.err != 0 {
        return (r.err, Vec::new());
    }
    (0, common::Reader(&r.body).buffer())
}

fn create(addr: &str, path: &str, data: &[u8]) {
    let mut s = raw_connect(addr);
    let body = Jute::new()
        .string(path)
        .buffer(data)
        .open_acl()
        .int(0)
        .into_vec();
    assert_eq!(
        request(&mut s, 1, 1, &body).expect("create").err,
        0,
        "{path}"
    );
}

/// `auth` then setACL on `/`: only `digest admin:secret` may do anything there.
fn lock_root(addr: &str) {
    let mut s = raw_connect(addr);
    let auth = Jute::new()
        .int(0)
        .string("digest")
        .buffer(b"admin:secret")
        .into_vec();
    assert_eq!(request(&mut s, -4, 100, &auth).expect("auth").err, 0);
    let body = Jute::new()
        .string("/")
        .acls(&[(31, "digest", &digest_of("admin:secret"))])
        .int(-1)
        .into_vec();
    assert_eq!(request(&mut s, 2, 7, &body).expect("setACL").err, 0);
}

const ADMIN: Option<&str> = Some("digest admin:secret");

#[test]
fn snapshot_and_restore_ask_auth_flags_and_rate_as_zookeeper_3_9() {
    if common::against_zookeeper() {
        return;
    }
    let port = free_port();
    let rk = server(port, "");
    lock_root(&rk.addr());
    // 3.9's answers, in its order: no header, no id, no permission on `/`.
    for (auth, status, error) in [
        (None, 401, "Auth info is missing for the command"),
        (Some("digest"), 401, "Not authenticated"),
        (Some("nosuch x"), 401, "Not authenticated"),
        (Some("digest a b c"), 401, "Not authenticated"),
        (Some("digest admin:wrong"), 403, "Not authorized"),
        (Some("ip"), 403, "Not authorized"),
    ] {
        let a = http(port, "GET", "/commands/snap", auth, b"");
        assert_eq!(a.status, status, "{auth:?}");
        let m = a.json();
        assert_eq!(m["command"], "snap", "{auth:?}: {m:?}");
        assert_eq!(m["error"], error, "{auth:?}");
        let a = http(port, "POST", "/commands/restore", auth, b"garbage");
        assert_eq!(
            (a.status, a.json()["error"].clone()),
            (status, error.into())
        );
    }
    // The right password: a snapshot, once; the next within the interval is 429.
    let a = http(
        port,
        "GET",
        "/commands/snapshot?streaming=false",
        ADMIN,
        b"",
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["command"], "snapshot");
    assert_eq!(a.json()["error"], Value::Null);
    assert!(a.header("last_zxid").is_some_and(|z| z.starts_with("0x")));
    assert!(a.header("snapshot_size").is_some());
    let a = http(port, "GET", "/commands/snapshot", ADMIN, b"");
    assert_eq!(a.status, 429);
    assert_eq!(a.json()["error"], Value::Null);
    // A command of GET asked with POST (and the other way round).
    assert_eq!(
        http(port, "POST", "/commands/snapshot", ADMIN, b"").status,
        405
    );
    assert_eq!(
        http(port, "GET", "/commands/restore", ADMIN, b"").status,
        405
    );

    // Turned off: 503 after auth.
    let off = free_port();
    let _rk_off = server(
        off,
        "admin.snapshot.enabled=false\nzookeeper.admin.restore.enabled=false\n",
    );
    for (method, cmd) in [("GET", "snapshot"), ("POST", "restore")] {
        let a = http(off, method, &format!("/commands/{cmd}"), ADMIN, b"x");
        assert_eq!(a.status, 503, "{cmd}");
        assert_eq!(a.json()["command"], cmd);
        assert_eq!(a.json()["error"], Value::Null);
    }
    // Without 3.9's zxid section: 500, as 3.9 answers.
    let no_zxid = free_port();
    let _rk_no_zxid = server(no_zxid, "serializeLastProcessedZxid.enabled=false\n");
    for (method, cmd) in [("GET", "snapshot"), ("POST", "restore")] {
        let a = http(no_zxid, method, &format!("/commands/{cmd}"), ADMIN, b"x");
        assert_eq!(a.status, 500, "{cmd}");
        assert_eq!(a.json()["error"], Value::Null);
    }
}

/// Runs ZooKeeper 3.8's `SnapshotFormatter -d` on `file`: its output, or `None`
/// without java or the jars.
fn snapshot_formatter(file: &Path) -> Option<String> {
    if common::zk_java::java_missing().is_some() {
        eprintln!("java or ZooKeeper's jars missing: SnapshotFormatter not run");
        return None;
    }
    let jars = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar"]
        .map(|j| format!("{}/{j}", common::zk_java::JARS))
        .join(":");
    let out = Command::new("java")
        .args([
            "-cp",
            &jars,
            "org.apache.zookeeper.server.SnapshotFormatter",
            "-d",
        ])
        .arg(file)
        .output()
        .expect("run java");
    assert!(
        out.status.success(),
        "SnapshotFormatter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_streamed_snapshot_is_zookeepers_format_and_restores_onto_another_server() {
    if common::against_zookeeper() {
        return;
    }
    // The source: 2,000 znodes and one with data of its own.
    let (src_port, dst_port) = (free_port(), free_port());
    let src = server(src_port, "admin.rateLimiterIntervalInMS=0\n");
    let mut s = raw_connect(&src.addr());
    create(&src.addr(), "/app", b"v1");
    create_children(&mut s, 10, "/app", 2_000, b"x");
    let a = http(src_port, "GET", "/commands/snapshot", ADMIN, b"");
    assert_eq!(a.status, 200, "{}", src.output());
    assert_eq!(a.header("content-type"), Some("application/octet-stream"));
    let size: usize = a
        .header("snapshot_size")
        .and_then(|v| v.parse().ok())
        .expect("snapshot_size");
    assert_eq!(a.body.len(), size);
    let zxid = a.header("last_zxid").expect("last_zxid").to_owned();
    let zxid = i64::from_str_radix(zxid.trim_start_matches("0x"), 16).expect("hex zxid");
    assert!(zxid > 0);
    let snap = a.body;

    // Read back by ZooKeeper's own tool and by import-zk's reader.
    let dir = src.dir().join("zk-export/version-2");
    fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join(format!("snapshot.{zxid:x}"));
    fs::write(&file, &snap).expect("write");
    if let Some(out) = snapshot_formatter(&file) {
        assert!(
            out.contains("/app/n1999"),
            "{}",
            &out[..out.len().min(2000)]
        );
        // `-d` prints each node's data in base64: "v1" is "djE=".
        assert!(out.contains("data = djE="), "the data of /app");
    }
    let read = ringkeeper::storage::zk::read_snapshot_bytes(&file, snap.clone().into(), false)
        .expect("import-zk reads it");
    assert_eq!(read.last_processed_zxid, Some(zxid));
    assert!(read.tree.get("/app/n1999").is_some());

    // The destination has other data. Bad bodies: errors, and its data stays.
    let mut dst = server(dst_port, "admin.rateLimiterIntervalInMS=0\n");
    create(&dst.addr(), "/other", b"mine");
    for (what, body) in [
        ("garbage", b"not a snapshot at all".to_vec()),
        ("truncated", snap[..snap.len() / 2].to_vec()),
        ("empty", Vec::new()),
    ] {
        let a = http(dst_port, "POST", "/commands/restore", ADMIN, &body);
        assert_eq!(a.status, 500, "{what}");
        let m = a.json();
        assert!(
            m["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {m:?}"
        );
        assert_eq!(get(&dst.addr(), "/other"), (0, b"mine".to_vec()), "{what}");
    }
    // `Expect: 100-continue` (curl's, for a body over 1 KiB) gets its interim answer
    // once the request passed auth, before the body is sent.
    let mut c = TcpStream::connect(("127.0.0.1", dst_port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = b"garbage after the interim answer";
    c.write_all(
        format!(
            "POST /commands/restore HTTP/1.1\r\nAuthorization: digest admin:secret\r\n\
             Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .expect("send head");
    let mut interim = [0u8; 25];
    c.read_exact(&mut interim).expect("an interim answer");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(body).expect("send body");
    let mut rest = String::new();
    let _ = c.read_to_string(&mut rest);
    assert!(rest.starts_with("HTTP/1.1 500"), "{rest}");
    // A session connected before the restore is disconnected by it.
    let mut before = raw_connect(&dst.addr());
    let a = http(dst_port, "POST", "/commands/restore", ADMIN, &snap);
    assert_eq!(a.status, 200, "{}", dst.output());
    let m = a.json();
    assert_eq!(m["last_zxid"], zxid, "{m:?}");
    assert_eq!(m["command"], "restore");
    assert_eq!(m["error"], Value::Null);
    assert!(common::wait_closed(&mut before, Duration::from_secs(10)));
    // Clients see the restored tree, and nothing of the old one.
    assert_eq!(get(&dst.addr(), "/app"), (0, b"v1".to_vec()));
    assert_eq!(get(&dst.addr(), "/app/n1999"), (0, b"x".to_vec()));
    assert_eq!(get(&dst.addr(), "/other").0, -101, "NONODE");
    // Writes go on after it, and all of it survives a restart.
    create(&dst.addr(), "/after", b"a");
    dst.restart();
    assert_eq!(get(&dst.addr(), "/app/n0"), (0, b"x".to_vec()));
    assert_eq!(get(&dst.addr(), "/after"), (0, b"a".to_vec()));
    assert_eq!(get(&dst.addr(), "/other").0, -101);
}

/// Three ringkeeper members, each with its AdminServer; killed on drop.
struct Trio {
    children: Vec<std::process::Child>,
    root: std::path::PathBuf,
}

impl Drop for Trio {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// In an ensemble `snapshot` is served by every member and `restore` refused with the
/// reason (ringkeeper's choice: ZooKeeper 3.9 would replace one member's tree behind
/// ZAB), the data untouched.
#[test]
fn in_an_ensemble_snapshot_is_served_and_restore_refused() {
    if common::against_zookeeper() {
        return;
    }
    let root = std::env::temp_dir().join(format!("rk-admin-snap-trio-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let ports = common::free_ports(12);
    let lines: String = (0..3)
        .map(|i| {
            format!(
                "server.{}=127.0.0.1:{}:{}\n",
                i + 1,
                ports[4 * i + 1],
                ports[4 * i + 2]
            )
        })
        .collect();
    let mut trio = Trio {
        children: Vec::new(),
        root: root.clone(),
    };
    for i in 0..3 {
        let dir = root.join(format!("s{}", i + 1));
        fs::create_dir_all(dir.join("data")).expect("mkdir");
        fs::write(dir.join("data/myid"), format!("{}\n", i + 1)).expect("myid");
        fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=100\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\nadmin.serverAddress=127.0.0.1\n\
                 admin.serverPort={}\npreAllocSize=1024\n{lines}",
                dir.join("data").display(),
                ports[4 * i],
                ports[4 * i + 3]
            ),
        )
        .expect("zoo.cfg");
        let log = fs::File::create(dir.join("log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
            .args(["server", "-c"])
            .arg(dir.join("zoo.cfg"))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ringkeeper");
        trio.children.push(child);
    }
    let (addr, admin) = (format!("127.0.0.1:{}", ports[0]), ports[3]);
    // A member's snapshot once it serves (before, its AdminServer may not listen yet,
    // then answers that it is not serving, which does not count in the rate limit).
    let snapshot_of = |admin: u16| -> Answer {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", admin)).is_ok() {
                let a = http(admin, "GET", "/commands/snapshot", ADMIN, b"");
                if a.header("content-type") == Some("application/octet-stream") {
                    return a;
                }
            }
            assert!(std::time::Instant::now() < deadline, "no ensemble");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let a = snapshot_of(admin);
    assert_eq!(a.status, 200);
    create(&addr, "/kept", b"k");
    // The limiter: the answer above took this interval's call.
    assert_eq!(
        http(admin, "GET", "/commands/snapshot", ADMIN, b"").status,
        429
    );
    let snap = snapshot_of(ports[4 + 3]).body;
    assert!(snap.starts_with(b"ZKSN"));
    let a = http(admin, "POST", "/commands/restore", ADMIN, &snap);
    assert_eq!(a.status, 500);
    let m = a.json();
    assert!(
        m["error"]
            .as_str()
            .is_some_and(|e| e.contains("standalone")),
        "{m:?}"
    );
    assert_eq!(get(&addr, "/kept"), (0, b"k".to_vec()));
}
