//! Crash test: concurrent writers, the server SIGKILLed at random moments and restarted
//! on the same dataDir and port, and after every restart a check that
//! - every acknowledged write is there,
//! - no multi is half-applied,
//! - data and Stat agree with what was applied.
//!
//! Each writer task `t` loops on one multi per sequence number `s` (0, 1, 2, …):
//! `create /crash/w-t-s` (data "s") + `setData /crash/c-t` to "s" with expected version `s`.
//! The counter starts at "-1" version 0, so after applying 0..=c its data is "c" and its
//! version c + 1, and the nodes w-t-0..=w-t-c exist and no other w-t-k. A multi with no
//! reply (connection lost when the server died) may or may not be applied, but only whole.
//! The multi's txn zxid (reply header) is both the czxid of w-t-s and the counter's mzxid.
//!
//! Run (release; the default is 20 kill/restart cycles per case, ~10-15 s in all):
//!     cargo test --release --test crash -- --nocapture
//! Hundreds mode (a soak; 300 cycles took ~7 min on 2 cores, the log-only case slowing as
//! its log grows, since every restart replays all of it):
//!     RINGKEEPER_CRASH_CYCLES=300 cargo test --release --test crash -- --nocapture
//! Replay a seed (the kill moments follow the seed; thread timing does not, so a replay
//! reproduces the schedule, not necessarily the exact interleaving):
//!     RINGKEEPER_CRASH_SEED=<seed> cargo test --release --test crash <case>
//! Keep the dataDir of a failing run: RINGKEEPER_TEST_KEEP_DIR=1.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{err, op, read_reply, send_frame, Jute, Reader, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MULTI: i32 = 14;
const TASKS: usize = 8;
const DEFAULT_CYCLES: u32 = 20;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

#[derive(Debug, Clone, Copy, Default)]
struct Stat {
    czxid: i64,
    mzxid: i64,
    version: i32,
    cversion: i32,
    ephemeral_owner: i64,
    data_length: i32,
    num_children: i32,
    pzxid: i64,
}

fn read_stat(r: &mut Reader) -> Stat {
    let czxid = r.long();
    let mzxid = r.long();
    let _ctime = r.long();
    let _mtime = r.long();
    let version = r.int();
    let cversion = r.int();
    let _aversion = r.int();
    let ephemeral_owner = r.long();
    let data_length = r.int();
    let num_children = r.int();
    let pzxid = r.long();
    Stat {
        czxid,
        mzxid,
        version,
        cversion,
        ephemeral_owner,
        data_length,
        num_children,
        pzxid,
    }
}

/// Handshake by hand (session timeout 4 s so sessions of killed runs expire soon); errors
/// instead of panics, since the server may die at any moment.
fn connect(addr: &str) -> std::io::Result<TcpStream> {
    common::try_connect(addr, 4000, Duration::from_secs(5))
}

fn w_path(task: usize, seq: i64) -> String {
    format!("/crash/w-{task}-{seq}")
}

fn c_path(task: usize) -> String {
    format!("/crash/c-{task}")
}

/// multi { create w-task-seq = "seq"; setData c-task = "seq" (expected version seq) }.
fn multi_body(task: usize, seq: i64) -> Vec<u8> {
    let data = seq.to_string();
    Jute::new()
        .int(op::CREATE)
        .boolean(false)
        .int(-1)
        .string(&w_path(task, seq))
        .buffer(data.as_bytes())
        .open_acl()
        .int(0)
        .int(op::SET_DATA)
        .boolean(false)
        .int(-1)
        .string(&c_path(task))
        .buffer(data.as_bytes())
        .int(seq as i32)
        .int(-1)
        .boolean(true)
        .int(-1)
        .into_vec()
}

/// Checks a MultiResponse body for a successful create + setData; returns the counter's
/// new version.
fn parse_multi_ok(task: usize, seq: i64, body: &[u8]) -> Result<i32, String> {
    let mut r = Reader(body);
    let mut types = Vec::new();
    let mut version = None;
    loop {
        let ty = r.int();
        let done = r.0[0] != 0;
        r.0 = &r.0[1..];
        let e = r.int();
        if done {
            break;
        }
        types.push((ty, e));
        match ty {
            1 => {
                let p = r.string();
                if p != w_path(task, seq) {
                    return Err(format!("multi create result path {p}"));
                }
            }
            5 => version = Some(read_stat(&mut r).version),
            -1 => {
                let _ = r.int();
            }
            _ => return Err(format!("unexpected multi result types {types:?}")),
        }
    }
    match (types.as_slice(), version) {
        ([(1, 0), (5, 0)], Some(v)) => Ok(v),
        _ => Err(format!(
            "multi results {types:?}, expected [create, setData]"
        )),
    }
}

#[derive(Debug, Default)]
struct WriterOutcome {
    /// Highest acknowledged seq and its reply zxid.
    acked: Option<(i64, i64)>,
    acked_count: u64,
    /// Highest seq sent (acknowledged or not).
    sent_max: Option<i64>,
    /// A protocol-level failure (error reply, bad result): a bug, not a crash effect.
    error: Option<String>,
}

/// Writes multis for `task` from `start_seq` with up to `depth` in flight on one session
/// until the connection breaks (the server was killed).
fn writer(
    addr: String,
    task: usize,
    start_seq: i64,
    depth: usize,
    zxid_floor: i64,
) -> WriterOutcome {
    let mut out = WriterOutcome::default();
    let Ok(mut s) = connect(&addr) else {
        return out;
    };
    let mut inflight: VecDeque<(i32, i64)> = VecDeque::new();
    let mut next = start_seq;
    let mut xid = 1;
    let mut last_zxid = zxid_floor;
    loop {
        while inflight.len() < depth {
            let payload = Jute::new()
                .int(xid)
                .int(MULTI)
                .raw(&multi_body(task, next))
                .into_vec();
            if send_frame(&mut s, &payload).is_err() {
                return out;
            }
            out.sent_max = Some(next);
            inflight.push_back((xid, next));
            xid += 1;
            next += 1;
        }
        let Ok(reply) = read_reply(&mut s) else {
            return out;
        };
        let (x, seq) = inflight.pop_front().unwrap();
        if reply.xid != x {
            out.error = Some(format!(
                "task {task}: reply xid {} for request xid {x} (seq {seq})",
                reply.xid
            ));
            return out;
        }
        if reply.err != err::OK {
            out.error = Some(format!(
                "task {task}: multi seq {seq} failed with err {} (body {:?})",
                reply.err, reply.body
            ));
            return out;
        }
        match parse_multi_ok(task, seq, &reply.body) {
            Ok(v) if v as i64 == seq + 1 => {}
            Ok(v) => {
                out.error = Some(format!(
                    "task {task}: multi seq {seq} left the counter at version {v}, expected {}",
                    seq + 1
                ));
                return out;
            }
            Err(e) => {
                out.error = Some(format!("task {task}: multi seq {seq}: {e}"));
                return out;
            }
        }
        if reply.zxid <= last_zxid {
            out.error = Some(format!(
                "task {task}: multi seq {seq} acknowledged with zxid {:#x}, not above {:#x} \
                 (the previous ack on this session or the highest zxid seen before the restart)",
                reply.zxid, last_zxid
            ));
            return out;
        }
        last_zxid = reply.zxid;
        out.acked = Some((seq, reply.zxid));
        out.acked_count += 1;
    }
}

/// What the test knows about one task across cycles.
#[derive(Debug, Clone, Copy)]
struct TaskState {
    /// Highest acknowledged seq ever and its zxid.
    acked: Option<(i64, i64)>,
    /// Highest seq ever sent.
    sent_max: i64,
    /// Counter value the previous check saw (already durable: must never go back).
    applied: i64,
}

/// A raw session for the checker, with request/reply by xid.
struct Checker {
    s: TcpStream,
    xid: i32,
}

impl Checker {
    fn new(addr: &str) -> Result<Checker, String> {
        let mut last = None;
        for _ in 0..20 {
            match connect(addr) {
                Ok(s) => return Ok(Checker { s, xid: 1 }),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("checker cannot connect: {last:?}"))
    }

    fn call(&mut self, opc: i32, body: &[u8]) -> Result<common::Reply, String> {
        self.xid += 1;
        let payload = Jute::new().int(self.xid).int(opc).raw(body).into_vec();
        send_frame(&mut self.s, &payload).map_err(|e| format!("send: {e}"))?;
        let r = read_reply(&mut self.s).map_err(|e| format!("read reply: {e}"))?;
        if r.xid != self.xid {
            return Err(format!("reply xid {} for {}", r.xid, self.xid));
        }
        Ok(r)
    }

    fn get_data(&mut self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, String> {
        let r = self.call(
            op::GET_DATA,
            &Jute::new().string(path).boolean(false).into_vec(),
        )?;
        match r.err {
            err::OK => {
                let mut rd = Reader(&r.body);
                let data = rd.buffer();
                Ok(Some((data, read_stat(&mut rd))))
            }
            err::NONODE => Ok(None),
            e => Err(format!("getData {path}: err {e}")),
        }
    }

    fn children(&mut self, path: &str) -> Result<Vec<String>, String> {
        let r = self.call(
            op::GET_CHILDREN,
            &Jute::new().string(path).boolean(false).into_vec(),
        )?;
        if r.err != err::OK {
            return Err(format!("getChildren {path}: err {}", r.err));
        }
        let mut rd = Reader(&r.body);
        let n = rd.int();
        Ok((0..n).map(|_| rd.string()).collect())
    }

    fn close(mut self) {
        let _ = self.call(op::CLOSE_SESSION, &[]);
    }
}

/// Verifies the tree against `tasks`; returns the counters seen and the highest zxid seen,
/// or every violation found.
fn check(addr: &str, tasks: &[TaskState]) -> Result<(Vec<i64>, i64), Vec<String>> {
    let mut c = Checker::new(addr).map_err(|e| vec![e])?;
    let mut bad = Vec::new();
    let mut max_zxid = 0i64;

    let names = c.children("/crash").map_err(|e| vec![e])?;
    let (_, root) = c
        .get_data("/crash")
        .map_err(|e| vec![e])?
        .ok_or_else(|| vec!["/crash is missing".to_string()])?;
    max_zxid = max_zxid.max(root.pzxid).max(root.mzxid);
    if root.num_children as usize != names.len() {
        bad.push(format!(
            "/crash numChildren {} but getChildren lists {}",
            root.num_children,
            names.len()
        ));
    }
    // Only creates under /crash: cversion counts them.
    if root.cversion as usize != names.len() {
        bad.push(format!(
            "/crash cversion {} but it has {} children (all created, none deleted)",
            root.cversion,
            names.len()
        ));
    }

    let mut nodes: BTreeMap<usize, BTreeSet<i64>> = BTreeMap::new();
    let mut counters_listed = BTreeSet::new();
    for n in &names {
        let parsed = if let Some(t) = n.strip_prefix("c-") {
            t.parse::<usize>().ok().map(|t| {
                counters_listed.insert(t);
            })
        } else if let Some(rest) = n.strip_prefix("w-") {
            rest.split_once('-').and_then(|(t, k)| {
                let t = t.parse::<usize>().ok()?;
                let k = k.parse::<i64>().ok()?;
                nodes.entry(t).or_default().insert(k);
                Some(())
            })
        } else {
            None
        };
        if parsed.is_none() {
            bad.push(format!("unexpected child /crash/{n}"));
        }
    }

    let mut counters = Vec::new();
    for (t, st) in tasks.iter().enumerate() {
        let cp = c_path(t);
        let Some((data, cs)) = c.get_data(&cp).map_err(|e| vec![e])? else {
            bad.push(format!("{cp} is missing"));
            counters.push(st.applied);
            continue;
        };
        if !counters_listed.contains(&t) {
            bad.push(format!(
                "{cp} exists but getChildren /crash does not list it"
            ));
        }
        max_zxid = max_zxid.max(cs.mzxid);
        let text = String::from_utf8_lossy(&data).into_owned();
        let Ok(cv) = text.parse::<i64>() else {
            bad.push(format!("{cp} data {text:?} is not a number"));
            counters.push(st.applied);
            continue;
        };
        counters.push(cv);
        if cs.version as i64 != cv + 1 {
            bad.push(format!(
                "{cp} = {cv} at version {}, expected version {} (one set per applied multi)",
                cs.version,
                cv + 1
            ));
        }
        if cs.data_length as usize != data.len() || cs.ephemeral_owner != 0 {
            bad.push(format!("{cp} Stat {cs:?} does not match its data {text:?}"));
        }
        if let Some((a, azxid)) = st.acked {
            if cv < a {
                bad.push(format!(
                    "LOST ACKNOWLEDGED WRITE: {cp} = {cv} but multi seq {a} (zxid {azxid:#x}) \
                     was acknowledged"
                ));
            }
        }
        if cv < st.applied {
            bad.push(format!(
                "{cp} = {cv} went back: a previous check already saw {}",
                st.applied
            ));
        }
        if cv > st.sent_max {
            bad.push(format!(
                "{cp} = {cv} but the highest seq ever sent is {}",
                st.sent_max
            ));
        }
        // Half-applied multis: the nodes must be exactly w-t-0..=w-t-cv.
        let ks = nodes.remove(&t).unwrap_or_default();
        let missing: Vec<i64> = (0..=cv).filter(|k| !ks.contains(k)).collect();
        let extra: Vec<i64> = ks.iter().copied().filter(|&k| k < 0 || k > cv).collect();
        if !missing.is_empty() {
            bad.push(format!(
                "HALF-APPLIED/LOST: {cp} = {cv} but w-{t}-k missing for k in {}",
                summarize(&missing)
            ));
        }
        if !extra.is_empty() {
            bad.push(format!(
                "HALF-APPLIED: {cp} = {cv} but w-{t}-k exists for k in {}",
                summarize(&extra)
            ));
        }
        // The newest node and the counter came from one txn.
        if cv >= 0 {
            let wp = w_path(t, cv);
            match c.get_data(&wp).map_err(|e| vec![e])? {
                None => bad.push(format!("{wp} is missing (counter {cv})")),
                Some((wd, ws)) => {
                    if wd != cv.to_string().as_bytes() || ws.version != 0 {
                        bad.push(format!(
                            "{wp} data {:?} version {}, expected {cv:?} version 0",
                            String::from_utf8_lossy(&wd),
                            ws.version
                        ));
                    }
                    if ws.czxid != cs.mzxid {
                        bad.push(format!(
                            "HALF-APPLIED: {wp} czxid {:#x} != {cp} mzxid {:#x} (one multi, one txn)",
                            ws.czxid, cs.mzxid
                        ));
                    }
                }
            }
        }
        if let Some((a, azxid)) = st.acked {
            if a <= cv {
                let wp = w_path(t, a);
                if let Some((_, ws)) = c.get_data(&wp).map_err(|e| vec![e])? {
                    if ws.czxid != azxid {
                        bad.push(format!(
                            "{wp} czxid {:#x} but its multi was acknowledged with zxid {azxid:#x}",
                            ws.czxid
                        ));
                    }
                }
            }
        }
    }
    for (t, ks) in nodes {
        bad.push(format!(
            "nodes w-{t}-k for an unknown task, k in {}",
            summarize(&ks.into_iter().collect::<Vec<_>>())
        ));
    }
    c.close();
    if bad.is_empty() {
        Ok((counters, max_zxid))
    } else {
        Err(bad)
    }
}

fn summarize(v: &[i64]) -> String {
    if v.len() <= 12 {
        format!("{v:?}")
    } else {
        format!(
            "{:?} … {:?} ({} in all)",
            &v[..6],
            &v[v.len() - 6..],
            v.len()
        )
    }
}

/// One crash-test case: `extra_cfg` for zoo.cfg, `salt` to give each case its own kill
/// schedule from the same seed.
fn crash_case(name: &str, extra_cfg: &str, salt: u64, expect_snapshots: bool) {
    let seed = env_u64("RINGKEEPER_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let cycles = env_u64("RINGKEEPER_CRASH_CYCLES").unwrap_or(DEFAULT_CYCLES as u64) as u32;
    let mut rng = StdRng::seed_from_u64(seed ^ salt);
    let replay = format!("RINGKEEPER_CRASH_SEED={seed} cargo test --release --test crash {name}");
    eprintln!("[{name}] seed {seed}, {cycles} cycles (replay: {replay})");

    let mut server = Server::start(extra_cfg);
    let addr = server.addr();
    macro_rules! fail {
        ($cycle:expr, $what:expr $(,)?) => {
            panic!(
                "[{name}] seed {seed}, cycle {}/{cycles} (server start #{}): {}\n\
                 replay: {replay}\n{}",
                $cycle,
                server.starts(),
                $what,
                server.output()
            )
        };
    }

    // Setup: /crash and the counters at "-1" version 0, all acknowledged.
    {
        let mut c = Checker::new(&addr).unwrap_or_else(|e| fail!(0, &e));
        for p in std::iter::once("/crash".to_string()).chain((0..TASKS).map(c_path)) {
            let body = Jute::new()
                .string(&p)
                .buffer(if p == "/crash" { &b""[..] } else { &b"-1"[..] })
                .open_acl()
                .int(0)
                .into_vec();
            let r = c.call(op::CREATE, &body).unwrap_or_else(|e| fail!(0, &e));
            if r.err != err::OK {
                fail!(0, &format!("setup create {p}: err {}", r.err));
            }
        }
        c.close();
    }

    let mut tasks = vec![
        TaskState {
            acked: None,
            sent_max: -1,
            applied: -1,
        };
        TASKS
    ];
    let mut zxid_floor = 0i64;
    let mut total_acked = 0u64;
    let mut recovery_kills = 0u32;
    let started = Instant::now();

    for cycle in 1..=cycles {
        let handles: Vec<_> = (0..TASKS)
            .map(|t| {
                let addr = addr.clone();
                let start = tasks[t].applied + 1;
                let depth = 1 + t % 3;
                std::thread::spawn(move || writer(addr, t, start, depth, zxid_floor))
            })
            .collect();
        let delay = rng.gen_range(5..400u64);
        std::thread::sleep(Duration::from_millis(delay));
        if !server.kill9() {
            fail!(cycle, "the server had exited by itself before the kill",);
        }
        let mut errors = Vec::new();
        let mut cycle_acked = 0;
        for (t, h) in handles.into_iter().enumerate() {
            let o = h.join().expect("writer thread panicked");
            if let Some(e) = o.error {
                errors.push(e);
            }
            if let Some(a) = o.acked {
                tasks[t].acked = Some(a);
            }
            if let Some(s) = o.sent_max {
                tasks[t].sent_max = tasks[t].sent_max.max(s);
            }
            cycle_acked += o.acked_count;
        }
        total_acked += cycle_acked;
        if !errors.is_empty() {
            fail!(
                cycle,
                &format!(
                    "writers saw errors before the kill:\n  {}",
                    errors.join("\n  ")
                ),
            );
        }
        // Now and then kill it again while it recovers.
        if rng.gen_range(0..5) == 0 {
            let d = rng.gen_range(0..40u64);
            server.restart_no_wait();
            std::thread::sleep(Duration::from_millis(d));
            server.kill9();
            recovery_kills += 1;
        }
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.restart()))
        {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            fail!(cycle, format!("THE SERVER DID NOT RESTART: {msg}"));
        }
        match check(&addr, &tasks) {
            Ok((counters, max_zxid)) => {
                for (t, cv) in counters.into_iter().enumerate() {
                    tasks[t].applied = cv;
                    tasks[t].sent_max = cv;
                }
                zxid_floor = zxid_floor.max(max_zxid);
            }
            Err(bad) => fail!(
                cycle,
                &format!(
                    "after a SIGKILL {delay} ms into the writes and a restart:\n  {}\n\
                     acknowledged per task (seq, zxid): {:?}",
                    bad.join("\n  "),
                    tasks.iter().map(|t| t.acked).collect::<Vec<_>>()
                ),
            ),
        }
        let applied: i64 = tasks.iter().map(|t| t.applied + 1).sum();
        eprintln!(
            "[{name}] cycle {cycle}: killed after {delay} ms, {cycle_acked} acked, \
             {applied} multis applied in all"
        );
    }
    eprintln!(
        "[{name}] {cycles} cycles ({recovery_kills} extra kills during recovery), \
         {total_acked} acknowledged multis, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (snaps, logs) = count_files(&server.data_dir());
    eprintln!(
        "[{name}] dataDir holds {snaps} snapshot(s) and {logs} log segment(s); the port still \
         accepted after {} of {} kills",
        server.lingering_listeners(),
        server.starts() - 1
    );
    if expect_snapshots && (snaps == 0 || logs < 2) {
        fail!(
            cycles,
            format!("expected snapshots and several log segments, found {snaps} and {logs}")
        );
    }
    server.stop();
}

/// (snapshot.*, log.*) files anywhere under `dir`.
fn count_files(dir: &std::path::Path) -> (usize, usize) {
    let (mut snaps, mut logs) = (0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let (s, l) = count_files(&e.path());
            snaps += s;
            logs += l;
        } else if name.starts_with("snapshot.") {
            snaps += 1;
        } else if name.starts_with("log.") {
            logs += 1;
        }
    }
    (snaps, logs)
}

/// Recovery from the txn log alone (default snapCount: no snapshot in a short run).
#[test]
fn crash_recovery_from_log() {
    crash_case("crash_recovery_from_log", "", 0x6c6f67, false);
}

/// snapCount 100 (a snapshot every 51..=100 txns, taken while writes go on) and 64 KiB log
/// segments: recovery goes snapshot + log, across segment boundaries.
#[test]
fn crash_recovery_from_snapshot_and_log() {
    crash_case(
        "crash_recovery_from_snapshot_and_log",
        "snapCount=100\npreAllocSize=64",
        0x736e6170,
        true,
    );
}
