//! `ringkeeper import-zk` against the real Apache ZooKeeper 3.8: write a known tree into
//! ZooKeeper (nested, sequential, ephemeral from a session left alive, container, ACLs,
//! null and empty data, 1 MB of data, deletes, setData, setACL, a multi), with snapCount
//! low so there are snapshots and a log tail after the newest one; read every node back
//! (getData and getACL reply bytes: data, every Stat field, every ACL), stop ZooKeeper,
//! import (checking ZooKeeper's own digests of the snapshot and of every logged txn
//! against ours), start ringkeeper on the result and compare byte for byte.
//!
//! Skips (printing why) only when `java` or the ZooKeeper jars are missing.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{op, request, Jute, Reader, Server};

const ALL: i32 = 31;
const READ: i32 = 1;
const EPHEMERAL: i32 = 1;
const SEQUENTIAL: i32 = 2;
const OP_DELETE: i32 = 2;
const OP_GET_ACL: i32 = 6;
const OP_SET_ACL: i32 = 7;
const OP_MULTI: i32 = 14;
const OP_CREATE_CONTAINER: i32 = 19;
const OP_AUTH: i32 = 100;
const OP_SET_DATA: i32 = 5;

struct Zk {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

impl Zk {
    fn start(dir: &Path) -> Zk {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fs::create_dir_all(dir.join("data")).unwrap();
        let cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
             snapCount=10\n",
            dir.join("data").display()
        );
        fs::write(dir.join("zoo.cfg"), cfg).unwrap();
        let child = common::zk_java::quorum_peer_main(
            dir,
            &dir.join("zoo.cfg"),
            &["-Xmx256m", "-Dzookeeper.snapCount=10"],
        )
        .unwrap()
        .spawn()
        .expect("spawn java");
        let mut zk = Zk {
            child: Some(child),
            dir: dir.to_owned(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(st) = zk.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("ZooKeeper exited ({st}): {}", zk.logs());
            }
            if ready(&zk.addr()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper not up in 60 s: {}",
                zk.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        zk
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["zk.log", "zk.out", "zk.err"] {
            let t = fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = t.lines().collect();
            s += &format!(
                "\n--- {f} ---\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        s
    }

    /// SIGTERM, wait up to 20 s, then SIGKILL.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Zk {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("ZooKeeper logs at failure:{}", self.logs());
        }
    }
}

/// ZooKeeper answers before its database is loaded; a full handshake proves it is up.
fn ready(addr: &str) -> bool {
    std::panic::catch_unwind(|| {
        let sa: std::net::SocketAddr = addr.parse().unwrap();
        let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(1)).ok()?;
        common::send_frame(&mut s, &common::connect_request()).ok()?;
        let r = common::read_frame_timeout(&mut s, Duration::from_secs(2)).ok()?;
        (r.len() >= 36).then_some(())
    })
    .ok()
    .flatten()
    .is_some()
}

/// A raw session with `digest user:pw` added.
struct Conn {
    s: TcpStream,
    sid: i64,
    xid: i32,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let (s, sid) = common::raw_connect_session(addr);
        let mut c = Conn { s, sid, xid: 0 };
        let body = Jute::new()
            .int(0)
            .string("digest")
            .buffer(b"user:pw")
            .into_vec();
        let r = request(&mut c.s, -4, OP_AUTH, &body).expect("auth");
        assert_eq!(r.err, 0, "auth");
        c
    }

    fn call(&mut self, op: i32, body: Vec<u8>) -> common::Reply {
        self.xid += 1;
        request(&mut self.s, self.xid, op, &body).expect("request")
    }

    fn ok(&mut self, what: &str, op: i32, body: Vec<u8>) -> common::Reply {
        let r = self.call(op, body);
        assert_eq!(r.err, 0, "{what}: error {}", r.err);
        r
    }

    fn create(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acls: &[(i32, &str, &str)],
        flags: i32,
    ) -> String {
        let j = Jute::new().string(path);
        let j = match data {
            Some(d) => j.buffer(d),
            None => j.int(-1),
        };
        let r = self.ok(
            &format!("create {path}"),
            op::CREATE,
            j.acls(acls).int(flags).into_vec(),
        );
        Reader(&r.body).string()
    }

    fn set_data(&mut self, path: &str, data: &[u8]) -> i64 {
        let r = self.ok(
            &format!("setData {path}"),
            OP_SET_DATA,
            Jute::new().string(path).buffer(data).int(-1).into_vec(),
        );
        r.zxid
    }

    fn delete(&mut self, path: &str) {
        self.ok(
            &format!("delete {path}"),
            OP_DELETE,
            Jute::new().string(path).int(-1).into_vec(),
        );
    }

    fn children(&mut self, path: &str) -> Vec<String> {
        let r = self.ok(
            &format!("getChildren {path}"),
            op::GET_CHILDREN,
            Jute::new().string(path).boolean(false).into_vec(),
        );
        let mut rd = Reader(&r.body);
        let n = rd.int();
        (0..n).map(|_| rd.string()).collect()
    }

    /// Every node under `/`: (getData reply body, getACL reply body).
    fn dump(&mut self) -> BTreeMap<String, (Vec<u8>, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let mut stack = vec!["/".to_owned()];
        while let Some(p) = stack.pop() {
            for c in self.children(&p) {
                stack.push(if p == "/" {
                    format!("/{c}")
                } else {
                    format!("{p}/{c}")
                });
            }
            let data = self
                .ok(
                    &format!("getData {p}"),
                    op::GET_DATA,
                    Jute::new().string(&p).boolean(false).into_vec(),
                )
                .body;
            let acl = self
                .ok(
                    &format!("getACL {p}"),
                    OP_GET_ACL,
                    Jute::new().string(&p).into_vec(),
                )
                .body;
            out.insert(p, (data, acl));
        }
        out
    }
}

/// Newest snapshot zxid in a ZooKeeper version-2 dir.
fn newest_snapshot_zxid(v2: &Path) -> Option<i64> {
    fs::read_dir(v2)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            i64::from_str_radix(n.strip_prefix("snapshot.")?, 16).ok()
        })
        .max()
}

/// The Stat at the end of a getData reply body: (ephemeralOwner, dataLength).
fn stat_tail(get_data_body: &[u8]) -> (i64, i32) {
    let s = &get_data_body[get_data_body.len() - 68..];
    let owner = i64::from_be_bytes(s[44..52].try_into().unwrap());
    let len = i32::from_be_bytes(s[52..56].try_into().unwrap());
    (owner, len)
}

fn ringkeeper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
}

#[test]
fn import_from_real_zookeeper() {
    if let Some(why) = common::zk_java::java_missing() {
        eprintln!("SKIPPED import_from_real_zookeeper: {why} (needs Debian's zookeeper package)");
        return;
    }
    let base = std::env::temp_dir().join(format!("ringkeeper-import-zk-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).unwrap();
    let mut zk = Zk::start(&base.join("zk"));
    let addr = zk.addr();

    let digest_id = {
        use base64::Engine;
        use sha1::Digest;
        let h = sha1::Sha1::digest(b"user:pw");
        format!(
            "user:{}",
            base64::engine::general_purpose::STANDARD.encode(h)
        )
    };
    let open: &[(i32, &str, &str)] = &[(ALL, "world", "anyone")];
    let mut c = Conn::open(&addr);
    // Nested, with data, null data and empty data.
    c.create("/app", Some(b"root of app"), open, 0);
    c.create("/app/a", Some(b"a0"), open, 0);
    c.create("/app/a/b", None, open, 0);
    c.create("/app/a/b/c", Some(b""), open, 0);
    c.create("/app/a/b/c/d", Some(b"deep"), open, 0);
    // Sequential, some deleted.
    c.create("/app/seq", Some(b"s"), open, 0);
    let mut seqs = Vec::new();
    for i in 0..6 {
        seqs.push(c.create(
            "/app/seq/item-",
            Some(format!("{i}").as_bytes()),
            open,
            SEQUENTIAL,
        ));
    }
    c.delete(&seqs[1]);
    c.delete(&seqs[4]);
    // setData several times, setACL: non-trivial versions.
    for i in 1..=4 {
        c.set_data("/app/a", format!("a{i}").as_bytes());
    }
    c.ok(
        "setACL",
        OP_SET_ACL,
        Jute::new()
            .string("/app/a/b")
            .acls(&[(ALL, "digest", &digest_id), (READ, "world", "anyone")])
            .int(-1)
            .into_vec(),
    );
    // ACLs: digest via the auth scheme, world read-only, mixed.
    c.create("/secure", Some(b"secret"), &[(ALL, "auth", "")], 0);
    c.create("/readonly", Some(b"look"), &[(READ, "world", "anyone")], 0);
    c.create(
        "/mixed",
        Some(b"m"),
        &[(ALL, "digest", &digest_id), (READ | 2, "world", "anyone")],
        0,
    );
    // 1 MB of data (under jute.maxbuffer's default 0xfffff with the request around it).
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    c.create("/big", Some(&big), open, 0);
    // A container with a child.
    c.ok(
        "createContainer",
        OP_CREATE_CONTAINER,
        Jute::new()
            .string("/cont")
            .buffer(b"c")
            .open_acl()
            .int(4)
            .into_vec(),
    );
    c.create("/cont/x", Some(b"x"), open, 0);
    // A multi: create + setData + delete.
    let multi = Jute::new()
        .int(op::CREATE)
        .boolean(false)
        .int(-1)
        .string("/app/m")
        .buffer(b"from multi")
        .open_acl()
        .int(0)
        .int(OP_SET_DATA)
        .boolean(false)
        .int(-1)
        .string("/app/seq")
        .buffer(b"s2")
        .int(-1)
        .int(OP_DELETE)
        .boolean(false)
        .int(-1)
        .string(&seqs[5])
        .int(-1)
        .int(-1)
        .boolean(true)
        .int(-1)
        .into_vec();
    c.ok("multi", OP_MULTI, multi);
    // Churn past snapCount so ZooKeeper snapshots, then an ephemeral from a session that
    // stays open until ZooKeeper stops, then make sure some txns follow the newest snapshot.
    c.create("/churn", None, open, 0);
    for i in 0..25 {
        c.set_data("/churn", format!("{i}").as_bytes());
    }
    let mut eph = Conn::open(&addr);
    let eph_path = eph.create("/app/eph-", Some(b"alive"), open, EPHEMERAL | SEQUENTIAL);
    let v2 = base.join("zk/data/version-2");
    let mut last = c.set_data("/churn", b"tail");
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(300));
        if newest_snapshot_zxid(&v2).is_some_and(|s| s < last) {
            break;
        }
        last = c.set_data("/churn", b"tail");
    }
    let snap_zxid = newest_snapshot_zxid(&v2).expect("ZooKeeper wrote no snapshot");
    assert!(
        snap_zxid < last,
        "no txn after the newest snapshot {snap_zxid:#x}"
    );
    assert!(snap_zxid > 0, "only the initial snapshot.0 was written");

    let before = c.dump();
    assert!(before.contains_key(&eph_path));
    assert_eq!(stat_tail(&before[&eph_path].0).0, eph.sid);
    assert_eq!(stat_tail(&before["/big"].0).1, 1_000_000);
    drop(c);
    zk.stop();
    let eph_sid = eph.sid;
    drop(eph); // only now: the session was alive when ZooKeeper stopped

    // The server refuses a ZooKeeper data dir and names the command.
    let refuse_cfg = base.join("refuse.cfg");
    fs::write(
        &refuse_cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort=1\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n",
            base.join("zk/data").display()
        ),
    )
    .unwrap();
    let out = ringkeeper()
        .arg("server")
        .arg("--config")
        .arg(&refuse_cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "server started on a ZooKeeper dir");
    assert!(stderr.contains("ringkeeper import-zk"), "message: {stderr}");

    // Import.
    let target = base.join("rk");
    let import = || {
        ringkeeper()
            .arg("import-zk")
            .arg(base.join("zk/data"))
            .arg("--to")
            .arg(&target)
            .output()
            .unwrap()
    };
    let out = import();
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "import-zk failed: {}\n{summary}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{summary}");
    assert!(
        summary.contains(&format!("last zxid 0x{last:x}")),
        "{summary}"
    );
    assert!(!summary.contains(" 0 txns replayed"), "{summary}");
    // ZooKeeper's digests (the snapshot's and each logged txn's) equal ours.
    let checked: u64 = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        checked > 0 && summary.contains("all equal to ours"),
        "{summary}"
    );
    // A second import into the same dir is refused.
    let again = import();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // Start ringkeeper on the import and compare every node, Stat and ACL.
    let rk = Server::start(&format!("dataDir={}", target.display()));
    let mut c = Conn::open(&rk.addr());
    let after = c.dump();
    let bk: Vec<&String> = before.keys().collect();
    let ak: Vec<&String> = after.keys().collect();
    assert_eq!(ak, bk, "the node sets differ");
    for (p, (data, acl)) in &before {
        let (d2, a2) = &after[p];
        assert!(
            d2 == data,
            "{p}: getData differs (data or Stat):\n zk {:?}\n rk {:?}",
            &data[data.len().saturating_sub(68)..],
            &d2[d2.len().saturating_sub(68)..]
        );
        assert_eq!(a2, acl, "{p}: getACL differs (ACL or Stat)");
    }
    assert_eq!(stat_tail(&after[&eph_path].0).0, eph_sid, "ephemeralOwner");

    // The way back: ringkeeper's data exported as a ZooKeeper snapshot, and ZooKeeper
    // 3.8 started on it serves the same nodes, Stats and ACLs byte for byte, the
    // ephemeral of the session left open included.
    drop(c);
    drop(rk);
    let export = || {
        ringkeeper()
            .arg("export-zk")
            .arg(&target)
            .arg("--to")
            .arg(base.join("back/data"))
            .output()
            .unwrap()
    };
    let out = export();
    assert!(
        out.status.success(),
        "export-zk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    // Never over an existing ZooKeeper snapshot.
    let again = export();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    let mut zk_back = Zk::start(&base.join("back"));
    let mut c = Conn::open(&zk_back.addr());
    let back = c.dump();
    // The export carries the tree's digest (ZxidDigest after the seal); ZooKeeper
    // compares it with its own digest of the nodes it loaded, and logs a mismatch.
    let zk_log = fs::read_to_string(base.join("back/zk.log")).unwrap_or_default();
    assert!(
        zk_log.contains("The digest in the snapshot has digest version of 2"),
        "ZooKeeper read no digest from the export: {}",
        zk_back.logs()
    );
    assert!(
        !zk_log.contains("Digests are not matching"),
        "ZooKeeper's digest of the export differs from ours: {}",
        zk_back.logs()
    );
    let kk: Vec<&String> = back.keys().collect();
    assert_eq!(kk, bk, "the node sets differ after the way back");
    for (p, (data, acl)) in &before {
        let (d2, a2) = &back[p];
        assert!(
            d2 == data,
            "{p}: getData differs after the way back (data or Stat):\n before {:?}\n back   {:?}",
            &data[data.len().saturating_sub(68)..],
            &d2[d2.len().saturating_sub(68)..]
        );
        assert_eq!(a2, acl, "{p}: getACL differs after the way back");
    }
    drop(c);
    zk_back.stop();
    let _ = fs::remove_dir_all(&base);
}
