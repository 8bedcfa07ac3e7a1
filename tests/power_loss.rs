//! Power loss on the real binary (issue 13 item 3): acknowledged means durable.
//!
//! The server's dataDir and dataLogDir live on lossyfs (`tests/faults/lossyfs`), a
//! FUSE file system that keeps every write, size change and directory entry not yet
//! made durable by fsync/fdatasync (of the file, or of the directory for an entry) in
//! memory, and drops it on a power cut. SIGKILL alone cannot test this: the kernel's
//! page cache outlives the process.
//!
//! Each round: writers on several sessions create znodes and set counters, each write
//! recorded only once its reply arrived (with the reply's zxid); the server is
//! SIGKILLed in the middle of it; the power is cut (unsynced state dropped, the file
//! system unmounted, so the kernel's page cache goes too) and the file system mounted
//! again; the server restarts on the same directories; every write acknowledged in
//! any round so far must be there with its data, and every counter at or past its
//! last acknowledged value. The 4 rounds pair each cut (drop everything / a torn
//! ordered writeback) with each sync path (`syncInline=no`: fdatasync through
//! io_uring; `yes`: the fdatasync syscall).
//!
//! First a canary: the same round with `forceSync=no` (acknowledge without fsync)
//! must lose acknowledged writes. If it does not, the file system keeps what it
//! should drop and the test fails: a passing run means something only with a
//! canary that failed.
//!
//! Needs root and /dev/fuse (CI runs as root); without them it fails saying so.
//! Run: `cargo test --release --test power_loss -- --nocapture` (~20-40 s).
//! Replay the cuts' seeds: `RINGKEEPER_POWERLOSS_SEED=<seed>`. Keep the directories
//! of a failed run: `RINGKEEPER_TEST_KEEP_DIR=1`.

mod common;

use std::collections::VecDeque;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{err, op, read_reply, send_frame, Jute, Reader, Server};
use lossyfs::{Cut, CutReport, Mount};

/// Sessions writing at once.
const WRITERS: usize = 6;
/// Requests in flight per session, so batches hold several txns.
const DEPTH: usize = 4;
/// Rounds of load, kill, cut, restart, check after the canary.
const ROUNDS: u32 = 4;
/// How long each round writes before the kill.
const LOAD: Duration = Duration::from_millis(1200);
/// Bytes of each znode's data: enough that a round fills several 256 KiB segments.
const PAYLOAD_BYTES: usize = 300;
/// getData requests in flight while checking.
const CHECK_DEPTH: usize = 256;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

/// The lossyfs mount the server's directories live on, over a backing directory (the
/// disk). Dropping it cuts the power and unmounts (a failing test included).
struct Disk {
    dir: PathBuf,
    mount: Option<Mount>,
}

impl Disk {
    fn new(tag: &str) -> Disk {
        let dir =
            std::env::temp_dir().join(format!("ringkeeper-powerloss-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("backing")).expect("create backing dir");
        fs::create_dir_all(dir.join("mnt")).expect("create mount point");
        let mut disk = Disk { dir, mount: None };
        disk.power_on();
        disk
    }

    fn power_on(&mut self) {
        let m = Mount::new(&self.dir.join("backing"), &self.dir.join("mnt")).unwrap_or_else(|e| {
            panic!(
                "cannot mount lossyfs: {e}\nThe power-loss test needs root and /dev/fuse \
                 (CI runs as root); it does not pass without them."
            )
        });
        self.mount = Some(m);
    }

    fn mnt(&self) -> PathBuf {
        self.dir.join("mnt")
    }

    /// Cuts the power (the server must be dead) and mounts the disk again.
    fn cut(&mut self, how: Cut) -> CutReport {
        let m = self.mount.take().expect("mounted");
        let report = m
            .cut(how)
            .unwrap_or_else(|e| panic!("cutting the power: {e}"));
        self.power_on();
        report
    }

    /// The files on the disk with their sizes, for failure messages.
    fn listing(&self) -> String {
        let mut out = Vec::new();
        list_files(&self.dir.join("backing"), &mut out);
        out.sort();
        out.join("\n  ")
    }
}

fn list_files(dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match e.metadata() {
            Ok(m) if m.is_dir() => list_files(&p, out),
            Ok(m) => out.push(format!("{} ({} bytes)", p.display(), m.len())),
            Err(_) => out.push(format!("{} (unreadable)", p.display())),
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        drop(self.mount.take());
        if std::thread::panicking() && std::env::var_os("RINGKEEPER_TEST_KEEP_DIR").is_some() {
            eprintln!("kept the disk (backing directory) {}", self.dir.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The data of write `seq` of writer `t` in `round`: says what it is, padded.
fn payload(round: u32, t: usize, seq: u64) -> Vec<u8> {
    let mut d = format!("r{round} t{t} s{seq} ").into_bytes();
    let fill = (round as usize * 31 + t * 7 + seq as usize) % 26;
    d.resize(PAYLOAD_BYTES, b'a' + fill as u8);
    d
}

/// (round, seq) of a counter's data, if it is a payload of writer `t`.
fn parse_counter(t: usize, data: &[u8]) -> Option<(u32, u64)> {
    let text = std::str::from_utf8(data.get(..data.len().min(40))?).ok()?;
    let mut it = text.split(' ');
    let round = it.next()?.strip_prefix('r')?.parse().ok()?;
    let writer: usize = it.next()?.strip_prefix('t')?.parse().ok()?;
    let seq = it.next()?.strip_prefix('s')?.parse().ok()?;
    (writer == t && payload(round, t, seq) == data).then_some((round, seq))
}

fn counter_path(t: usize) -> String {
    format!("/pl/c{t}")
}

/// One acknowledged create.
#[derive(Debug, Clone)]
struct Created {
    path: String,
    data: Vec<u8>,
    zxid: i64,
    round: u32,
}

/// What the test knows of one writer's counter.
#[derive(Debug, Clone, Copy)]
struct Counter {
    /// The highest (round, seq) acknowledged, or seen after a restart, and its zxid
    /// (0 if only seen).
    acked: (u32, u64),
    acked_zxid: i64,
    /// The highest (round, seq) ever sent.
    sent_max: (u32, u64),
}

/// Everything acknowledged so far.
struct Expected {
    creates: Vec<Created>,
    counters: Vec<Counter>,
}

#[derive(Default)]
struct WriterOutcome {
    creates: Vec<Created>,
    last_set: Option<(u64, i64)>,
    sent_max: Option<u64>,
    acked: u64,
    error: Option<String>,
}

/// A handshake by hand; session timeout 4 s, so the killed runs' sessions go soon.
fn connect(addr: &str) -> std::io::Result<TcpStream> {
    common::try_connect(addr, 4000, Duration::from_secs(5))
}

fn create_body(path: &str, data: &[u8]) -> Vec<u8> {
    Jute::new()
        .string(path)
        .buffer(data)
        .open_acl()
        .int(0)
        .into_vec()
}

enum Pending {
    Create { path: String, data: Vec<u8> },
    Set { seq: u64 },
}

/// Writes until the connection breaks (the server was killed): odd seqs set the
/// writer's counter, even ones create a znode. Records a write only when its reply
/// arrived.
fn writer(addr: String, t: usize, round: u32) -> WriterOutcome {
    let mut out = WriterOutcome::default();
    let Ok(mut s) = connect(&addr) else {
        return out;
    };
    let mut inflight: VecDeque<(i32, Pending)> = VecDeque::new();
    let mut seq = 1u64;
    let mut xid = 1i32;
    loop {
        while inflight.len() < DEPTH {
            let data = payload(round, t, seq);
            let (opcode, body, pending) = if seq.is_multiple_of(2) {
                let path = format!("/pl/r{round}-t{t}-s{seq}");
                let body = create_body(&path, &data);
                (op::CREATE, body, Pending::Create { path, data })
            } else {
                let body = Jute::new()
                    .string(&counter_path(t))
                    .buffer(&data)
                    .int(-1)
                    .into_vec();
                (op::SET_DATA, body, Pending::Set { seq })
            };
            let frame = Jute::new().int(xid).int(opcode).raw(&body).into_vec();
            if send_frame(&mut s, &frame).is_err() {
                return out;
            }
            out.sent_max = Some(seq);
            inflight.push_back((xid, pending));
            xid += 1;
            seq += 1;
        }
        let Ok(reply) = read_reply(&mut s) else {
            return out;
        };
        let Some((x, pending)) = inflight.pop_front() else {
            unreachable!("a reply is read only with requests in flight");
        };
        if reply.xid != x || reply.err != err::OK {
            out.error = Some(format!(
                "writer {t}: reply xid {} err {} for request xid {x}",
                reply.xid, reply.err
            ));
            return out;
        }
        out.acked += 1;
        match pending {
            Pending::Create { path, data } => out.creates.push(Created {
                path,
                data,
                zxid: reply.zxid,
                round,
            }),
            Pending::Set { seq } => out.last_set = Some((seq, reply.zxid)),
        }
    }
}

/// getData of every path, `CHECK_DEPTH` in flight: `None` where the node is missing.
fn get_all(addr: &str, paths: &[&str]) -> Result<Vec<Option<Vec<u8>>>, String> {
    let mut s = connect(addr).map_err(|e| format!("checker cannot connect: {e}"))?;
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(CHECK_DEPTH) {
        for (i, p) in chunk.iter().enumerate() {
            let body = Jute::new().string(p).boolean(false).into_vec();
            let frame = Jute::new()
                .int(i as i32 + 1)
                .int(op::GET_DATA)
                .raw(&body)
                .into_vec();
            send_frame(&mut s, &frame).map_err(|e| format!("checker send: {e}"))?;
        }
        for (i, p) in chunk.iter().enumerate() {
            let r = read_reply(&mut s).map_err(|e| format!("checker read: {e}"))?;
            if r.xid != i as i32 + 1 {
                return Err(format!("checker: reply xid {} for {}", r.xid, i + 1));
            }
            match r.err {
                err::OK => out.push(Some(Reader(&r.body).buffer())),
                err::NONODE => out.push(None),
                e => return Err(format!("getData {p}: err {e}")),
            }
        }
    }
    let close = Jute::new().int(0).int(op::CLOSE_SESSION).into_vec();
    let _ = send_frame(&mut s, &close);
    Ok(out)
}

/// Every acknowledged write must be there. Returns the violations; on success moves
/// each counter's floor up to what it now holds (it came back from the disk, so it
/// must never go back).
fn check(addr: &str, exp: &mut Expected) -> Result<Vec<String>, String> {
    let mut paths: Vec<&str> = exp.creates.iter().map(|c| c.path.as_str()).collect();
    let counter_paths: Vec<String> = (0..WRITERS).map(counter_path).collect();
    paths.extend(counter_paths.iter().map(String::as_str));
    let got = get_all(addr, &paths)?;
    let mut bad = Vec::new();
    for (c, g) in exp.creates.iter().zip(&got) {
        match g {
            None => bad.push(format!(
                "LOST: create {} (round {}, acknowledged with zxid {:#x})",
                c.path, c.round, c.zxid
            )),
            Some(d) if *d != c.data => bad.push(format!(
                "WRONG DATA: {} holds {:?}, acknowledged {:?} (zxid {:#x})",
                c.path,
                String::from_utf8_lossy(&d[..d.len().min(24)]),
                String::from_utf8_lossy(&c.data[..24]),
                c.zxid
            )),
            Some(_) => {}
        }
    }
    let mut seen = Vec::new();
    for (t, g) in got[exp.creates.len()..].iter().enumerate() {
        let c = exp.counters[t];
        let Some(d) = g else {
            bad.push(format!(
                "LOST: {} is missing (last setData acknowledged: round {} seq {}, zxid {:#x})",
                counter_path(t),
                c.acked.0,
                c.acked.1,
                c.acked_zxid
            ));
            continue;
        };
        let Some(v) = parse_counter(t, d) else {
            bad.push(format!(
                "{} holds data no writer sent: {:?}",
                counter_path(t),
                String::from_utf8_lossy(&d[..d.len().min(24)])
            ));
            continue;
        };
        if v < c.acked {
            bad.push(format!(
                "LOST: {} holds round {} seq {}, but round {} seq {} was acknowledged \
                 (zxid {:#x})",
                counter_path(t),
                v.0,
                v.1,
                c.acked.0,
                c.acked.1,
                c.acked_zxid
            ));
        }
        if v > c.sent_max {
            bad.push(format!(
                "{} holds round {} seq {}, never sent (highest sent: round {} seq {})",
                counter_path(t),
                v.0,
                v.1,
                c.sent_max.0,
                c.sent_max.1
            ));
        }
        seen.push(v);
    }
    if bad.is_empty() {
        for (c, v) in exp.counters.iter_mut().zip(seen) {
            if v > c.acked {
                c.acked = v;
                c.acked_zxid = 0;
            }
        }
    }
    Ok(bad)
}

/// zoo.cfg lines for the server on `disk`.
fn server_cfg(disk: &Disk, force_sync: bool, sync_inline: bool) -> String {
    let mnt = disk.mnt();
    // Small segments and snapshots: each round rolls segments (spare renamed, the
    // directory fsynced) and writes snapshots (temp file, fsync, rename, directory
    // fsync), so every sync the server relies on is exercised.
    format!(
        "dataDir={data}\n\
         dataLogDir={log}\n\
         preAllocSize=256\n\
         snapCount=2000\n\
         forceSync={fs}\n\
         syncInline={si}\n",
        data = mnt.join("data").display(),
        log = mnt.join("log").display(),
        fs = if force_sync { "yes" } else { "no" },
        si = if sync_inline { "yes" } else { "no" },
    )
}

/// Replaces the syncInline line of the server's zoo.cfg (for its next start).
fn set_sync_inline(server: &Server, sync_inline: bool) {
    let path = server.config_path();
    let text = fs::read_to_string(path).expect("read zoo.cfg");
    let want = if sync_inline {
        "syncInline=yes"
    } else {
        "syncInline=no"
    };
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("syncInline=") {
                want
            } else {
                l
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(path, text).expect("write zoo.cfg");
}

/// Creates /pl and the counters (at round 0 seq 0); all acknowledged.
fn setup(addr: &str) -> Expected {
    let mut s = connect(addr).expect("setup: connect");
    let mut exp = Expected {
        creates: Vec::new(),
        counters: Vec::new(),
    };
    let pl = Jute::new()
        .int(1)
        .int(op::CREATE)
        .raw(&create_body("/pl", b""))
        .into_vec();
    send_frame(&mut s, &pl).expect("setup: send");
    let r = read_reply(&mut s).expect("setup: create /pl");
    assert_eq!(r.err, err::OK, "setup: create /pl");
    exp.creates.push(Created {
        path: "/pl".into(),
        data: Vec::new(),
        zxid: r.zxid,
        round: 0,
    });
    for t in 0..WRITERS {
        let body = create_body(&counter_path(t), &payload(0, t, 0));
        let frame = Jute::new()
            .int(t as i32 + 2)
            .int(op::CREATE)
            .raw(&body)
            .into_vec();
        send_frame(&mut s, &frame).expect("setup: send");
        let r = read_reply(&mut s).expect("setup: create counter");
        assert_eq!(r.err, err::OK, "setup: create {}", counter_path(t));
        exp.counters.push(Counter {
            acked: (0, 0),
            acked_zxid: r.zxid,
            sent_max: (0, 0),
        });
    }
    exp
}

/// One round's writers, for `LOAD`, then SIGKILL; folds what they got acknowledged
/// into `exp` and returns how many writes were acknowledged.
fn load_and_kill(server: &mut Server, exp: &mut Expected, round: u32) -> u64 {
    let addr = server.addr();
    let handles: Vec<_> = (0..WRITERS)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || writer(addr, t, round))
        })
        .collect();
    std::thread::sleep(LOAD);
    assert!(
        server.kill9(),
        "round {round}: the server had exited by itself before the kill:\n{}",
        server.output()
    );
    let mut acked = 0;
    let mut errors = Vec::new();
    for (t, h) in handles.into_iter().enumerate() {
        let o = h.join().expect("writer thread panicked");
        acked += o.acked;
        errors.extend(o.error);
        exp.creates.extend(o.creates);
        let c = &mut exp.counters[t];
        if let Some((seq, zxid)) = o.last_set {
            c.acked = (round, seq);
            c.acked_zxid = zxid;
        }
        if let Some(seq) = o.sent_max {
            c.sent_max = (round, seq);
        }
    }
    assert!(
        errors.is_empty(),
        "round {round}: writers saw errors before the kill:\n  {}",
        errors.join("\n  ")
    );
    assert!(
        acked > 0,
        "round {round}: no write was acknowledged in {LOAD:?}; output:\n{}",
        server.output()
    );
    acked
}

/// What the last start's recovery said: its "recovered ..." line and how many torn
/// tails it repaired (from the server's stderr after the last start marker).
fn recovery_summary(server: &Server) -> String {
    let log = fs::read_to_string(server.dir().join("stderr.log")).unwrap_or_default();
    let last = log.rsplit("=== start").next().unwrap_or("");
    let recovered = last
        .lines()
        .find_map(|l| l.find("recovered zxid").map(|i| l[i..].to_owned()))
        .unwrap_or_else(|| "no recovery line".into());
    let torn = last.matches("truncating a torn last record").count();
    format!("{recovered}; torn tails repaired: {torn}")
}

fn summarize(bad: &[String]) -> String {
    let shown: Vec<&str> = bad.iter().take(15).map(String::as_str).collect();
    let more = bad.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!("\n  … and {more} more")
    } else {
        String::new()
    };
    format!("  {}{tail}", shown.join("\n  "))
}

/// forceSync=no acknowledges before anything is durable: one round must lose
/// acknowledged writes, or lossyfs is not losing what it should.
fn canary() {
    let started = Instant::now();
    let mut disk = Disk::new("canary");
    let mut server = Server::start(&server_cfg(&disk, false, false));
    let mut exp = setup(&server.addr());
    let acked = load_and_kill(&mut server, &mut exp, 1);
    let report = disk.cut(Cut::DropAll);
    server.restart();
    let bad = check(&server.addr(), &mut exp).unwrap_or_else(|e| panic!("canary check: {e}"));
    eprintln!(
        "[canary forceSync=no] {acked} writes acknowledged; the cut dropped {:?}; \
         {} of {} acknowledged writes lost after the restart ({:.1} s):\n{}",
        report.dropped,
        bad.len(),
        exp.creates.len() + WRITERS,
        started.elapsed().as_secs_f64(),
        summarize(&bad)
    );
    assert!(
        !bad.is_empty(),
        "CANARY FAILED: with forceSync=no every acknowledged write survived the power \
         cut, so lossyfs keeps what it should drop and this test proves nothing.\n\
         The cut reported dropping {:?}; disk:\n  {}",
        report.dropped,
        disk.listing()
    );
    server.stop();
}

#[test]
fn acknowledged_writes_survive_power_loss() {
    let started = Instant::now();
    canary();

    let seed = env_u64("RINGKEEPER_POWERLOSS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let replay = format!(
        "RINGKEEPER_POWERLOSS_SEED={seed} cargo test --release --test power_loss -- --nocapture"
    );
    eprintln!("[power loss] seed {seed} (replay: {replay})");
    let mut disk = Disk::new("main");
    let mut server = Server::start(&server_cfg(&disk, true, false));
    let mut exp = setup(&server.addr());
    for round in 1..=ROUNDS {
        // Every pairing: odd rounds sync through io_uring, even rounds with the
        // fdatasync syscall; rounds 2 and 3 tear the writeback, 1 and 4 drop it all.
        let sync_inline = round % 2 == 0;
        let how = if matches!(round % 4, 2 | 3) {
            Cut::Torn {
                seed: seed.wrapping_add(u64::from(round)),
            }
        } else {
            Cut::DropAll
        };
        let acked = load_and_kill(&mut server, &mut exp, round);
        let report = disk.cut(how);
        set_sync_inline(&server, round % 2 == 1);
        server.restart();
        let bad = check(&server.addr(), &mut exp)
            .unwrap_or_else(|e| panic!("round {round}: check: {e}\n{}", server.output()));
        if !bad.is_empty() {
            panic!(
                "round {round} ({how:?}, syncInline={}): ACKNOWLEDGED WRITES LOST after the \
                 power cut with forceSync=yes ({} of {}):\n{}\n\
                 the cut dropped {:?}, torn bytes kept: {}\n\
                 disk after the cut and the restart:\n  {}\nreplay: {replay}\n{}",
                if sync_inline { "yes" } else { "no" },
                bad.len(),
                exp.creates.len() + WRITERS,
                summarize(&bad),
                report.dropped,
                report.torn_bytes_kept,
                disk.listing(),
                server.output()
            );
        }
        eprintln!(
            "[power loss] round {round} ({how:?}, syncInline={}): {acked} writes acknowledged, \
             the cut dropped {} dirty bytes in {} files and {} directory entries \
             (torn bytes kept: {}); {}; all {} acknowledged writes so far present",
            if sync_inline { "yes" } else { "no" },
            report.dropped.dirty_bytes,
            report.dropped.files,
            report.dropped.entries,
            report.torn_bytes_kept,
            recovery_summary(&server),
            exp.creates.len() + WRITERS,
        );
    }
    server.stop();
    eprintln!(
        "[power loss] canary + {ROUNDS} rounds in {:.1} s; disk at the end:\n  {}",
        started.elapsed().as_secs_f64(),
        disk.listing()
    );
}
