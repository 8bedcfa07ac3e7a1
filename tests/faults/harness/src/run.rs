//! One run, start to end: sweep what killed runs left, start the cluster, start the
//! load, play the nemesis schedule, heal, check the history, clean up. The command
//! (`src/main.rs`) and the tests call [`run`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::cluster::{log_tmpfs_mib, Cluster, ServerSpec, CLIENT_PORT};
use crate::history::Op;
use crate::nemesis::{self, Kind};
use crate::net::{self, Net, Node};
use crate::proxy::{Proxy, PROXY_PORT_BASE};
use crate::set;
use crate::wgl::{self, Verdict};
use crate::workload::{self, LoadConfig};
use crate::{digest, ephemeral, lock, queue};

/// Ops listed around a violation in the report.
const DESCRIBE_OPS_MAX: usize = 40;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub spec: ServerSpec,
    pub servers: u32,
    pub seed: u64,
    pub duration: Duration,
    pub nemeses: Vec<Kind>,
    pub keys: u32,
    pub workers_per_key: u32,
    /// Sessions on the grow-only set (0: no set).
    pub set_workers: u32,
    /// Sessions on the FIFO queue (0: no queue).
    pub queue_workers: u32,
    /// Sessions holding ephemerals (0: none).
    pub eph_workers: u32,
    /// Sessions taking the lock in turn (0: none).
    pub lock_workers: u32,
    /// Register reads without `sync` (not linearizable on a ZooKeeper ensemble).
    pub plain_reads: bool,
    pub think_ms_max: u64,
    pub op_timeout: Duration,
    /// Where the servers' directories and the history go; removed after a passing
    /// run unless `keep`.
    pub dir: PathBuf,
    pub keep: bool,
}

/// What a run found.
pub struct RunReport {
    pub ops: Vec<Op>,
    pub check: wgl::Report,
    /// The grow-only set's verdict, when the run had set workers.
    pub set: Option<set::SetReport>,
    pub queue: Option<queue::QueueReport>,
    pub eph: Option<ephemeral::EphReport>,
    pub lock: Option<lock::LockReport>,
    /// Ensembles: how the members' trees compare after healing.
    pub trees: Option<digest::DigestReport>,
    /// What the faults showed on their own (see `nemesis::Played::findings`).
    pub findings: Vec<String>,
    pub check_time: Duration,
    /// The nemesis log, and counts of client failures by kind.
    pub text: String,
    pub history_file: PathBuf,
}

/// A default run directory under /tmp, named after this process.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ringkeeper-faults-{}", std::process::id()))
}

/// Plays one run. `stop` (set by SIGINT/SIGTERM) ends it early; cleanup still runs.
pub fn run(cfg: &RunConfig, stop: Arc<AtomicBool>) -> Result<RunReport, String> {
    let swept = net::sweep_stale().map_err(|e| format!("sweeping stale namespaces: {e}"))?;
    let mut text = String::new();
    if swept > 0 {
        let _ = writeln!(text, "swept {swept} namespaces of killed runs");
    }
    std::fs::create_dir_all(&cfg.dir).map_err(|e| format!("{}: {e}", cfg.dir.display()))?;
    let steps = nemesis::schedule(cfg.seed, &cfg.nemeses, cfg.servers, cfg.duration);
    let _ = writeln!(
        text,
        "target {} x{}, seed {}, {:?} of load on {} keys x {} workers, a set x {}, a queue x {}, \
         ephemerals x {}, lock x {}, dir {}",
        cfg.spec.name,
        cfg.servers,
        cfg.seed,
        cfg.duration,
        cfg.keys,
        cfg.workers_per_key,
        cfg.set_workers,
        cfg.queue_workers,
        cfg.eph_workers,
        cfg.lock_workers,
        cfg.dir.display()
    );

    let mut spec = cfg.spec.clone();
    if cfg.nemeses.contains(&Kind::Disk) && spec.log_tmpfs_mib.is_none() {
        spec.log_tmpfs_mib = Some(log_tmpfs_mib(cfg.duration));
    }
    if cfg.nemeses.contains(&Kind::Clock) && spec.clock.is_none() {
        spec.clock = Some("+0".into());
    }
    let mut cluster = Cluster::start(spec, cfg.servers, &cfg.dir)
        .map_err(|e| format!("starting the cluster: {e}"))?;
    cluster
        .wait_ready(Duration::from_secs(60))
        .map_err(|e| format!("cluster not ready: {e}"))?;

    let upstreams: Vec<SocketAddr> = (1..=cfg.servers)
        .map(|id| SocketAddr::new(Net::addr(Node::Server(id)).into(), CLIENT_PORT))
        .collect();
    // Link faults need the clients behind the proxy; other runs connect directly.
    let proxy = if cfg.nemeses.contains(&Kind::Link) {
        let ns = cluster
            .net
            .ns_file(Node::Client)
            .map_err(|e| format!("client namespace: {e}"))?;
        Some(Proxy::start(&ns, &upstreams, PROXY_PORT_BASE).map_err(|e| format!("proxy: {e}"))?)
    } else {
        None
    };
    let servers = match &proxy {
        Some(p) => p.addrs.iter().map(SocketAddr::to_string).collect(),
        None => upstreams.iter().map(SocketAddr::to_string).collect(),
    };
    let start = Instant::now();
    let load_cfg = LoadConfig {
        servers,
        keys: cfg.keys,
        workers_per_key: cfg.workers_per_key,
        seed: cfg.seed,
        duration: cfg.duration,
        op_timeout: cfg.op_timeout,
        setup_each_server: cfg.spec.independent,
        set_workers: cfg.set_workers,
        queue_workers: cfg.queue_workers,
        eph_workers: cfg.eph_workers,
        lock_workers: cfg.lock_workers,
        sync_reads: !cfg.plain_reads,
        think_ms_max: cfg.think_ms_max,
    };
    let ns = cluster
        .net
        .ns_file(Node::Client)
        .map_err(|e| format!("client namespace: {e}"))?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let (healed_tx, healed_rx) = mpsc::channel();
    let load = workload::spawn(load_cfg, ns, start, stop.clone(), ready_tx, healed_rx);
    // The registers exist before the first fault; a load that cannot set up ends
    // its thread, which drops the sender.
    if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        stop.store(true, Ordering::Relaxed);
        let why = match load.join() {
            Ok(Err(e)) => e,
            _ => "the load did not start within 60 s".into(),
        };
        return Err(why);
    }
    let deadline = Instant::now() + cfg.duration;
    let played = nemesis::run(&mut cluster, proxy.as_ref(), &steps, start, deadline, &stop);
    if played.is_ok() {
        // Healed: the set's final read may go.
        let _ = healed_tx.send(());
    } else {
        // The run has failed (a server exited on its own, a fault could not be
        // applied): the load stops now, not at the deadline an hour away.
        stop.store(true, Ordering::Relaxed);
    }
    drop(healed_tx);
    let loaded = load
        .join()
        .map_err(|_| "the load thread panicked".to_string())?;
    let (played, loaded) = match (played, loaded) {
        (Ok(p), loaded) => (p, loaded?),
        // A failed run still checks what it recorded: a liveness failure (a server
        // that would not come back) says nothing about safety, and an hour's history
        // should not go unread because of it.
        (Err(e), Ok(loaded)) => {
            // The servers are of no more use to the check.
            drop(proxy);
            drop(cluster);
            return Err(format!("{e}\n{}", partial_verdict(cfg, &loaded)));
        }
        (Err(e), Err(le)) => return Err(format!("{e}\n(no history: {le})")),
    };
    let log = &played.log;
    for s in &mut cluster.servers {
        s.check_alive()?;
    }
    // Healed and quiet (the load's sessions are closed or expired): every member must
    // hold the same tree. Independent servers (the canary) must fail this too.
    // A member that cannot be read (or asked for its digests) is a finding of its own;
    // the histories are still checked.
    let mut findings = played.findings.clone();
    let trees = if cfg.servers > 1 {
        let ns = cluster
            .net
            .ns_file(Node::Client)
            .map_err(|e| format!("client namespace: {e}"))?;
        let members = upstreams
            .iter()
            .zip(1..)
            .map(|(a, id)| (id, a.to_string()))
            .collect();
        let read = digest::check(ns, members, workload::ROOT).and_then(|mut report| {
            let mut logs = Vec::new();
            for id in 1..=cfg.servers {
                let answer = cluster
                    .ask(id, "hash")
                    .map_err(|e| format!("asking s{id} for its digests (hash): {e}"))?;
                logs.push((id, digest::parse_hash(&answer)));
            }
            digest::compare_hashes(&logs, &mut report);
            Ok(report)
        });
        match read {
            Ok(report) => Some(report),
            Err(e) => {
                findings.push(format!("trees not compared: {e}"));
                None
            }
        }
    } else {
        None
    };
    let _ = writeln!(text, "nemesis:");
    for l in log {
        let _ = writeln!(text, "  {l}");
    }
    if !played.leaders.is_empty() {
        let mut led = std::collections::BTreeMap::new();
        for k in &played.leaders {
            *led.entry(k.as_str()).or_insert(0u32) += 1;
        }
        let _ = writeln!(text, "leading when a fault began: {led:?}");
    }
    let _ = writeln!(
        text,
        "client: {} sessions, failures {:?}",
        loaded.sessions, loaded.errors
    );
    let restarts: u32 = cluster.servers.iter().map(|s| s.starts - 1).sum();
    let _ = writeln!(text, "server restarts: {restarts}");
    drop(proxy);
    drop(cluster);

    let save = |name: &str, text: String| -> Result<PathBuf, String> {
        let file = cfg.dir.join(name);
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(file)
    };
    let history_file = save("history.txt", history_text(&loaded.ops))?;

    let t = Instant::now();
    let check = wgl::check(&loaded.ops, wgl::Limits::default());
    let set = if cfg.set_workers > 0 {
        let fin = loaded.final_read?;
        save(
            "set.txt",
            set::to_text(&loaded.set_adds, &loaded.set_reads, &fin),
        )?;
        Some(set::check(&loaded.set_adds, &loaded.set_reads, &fin))
    } else {
        None
    };
    let queue = if cfg.queue_workers > 0 {
        let fin = loaded.queue_final?;
        save(
            "queue.txt",
            queue::to_text(&loaded.enqueues, &loaded.dequeues, &fin),
        )?;
        Some(queue::check(&loaded.enqueues, &loaded.dequeues, &fin))
    } else {
        None
    };
    let eph = if cfg.eph_workers > 0 {
        loaded.eph_final?;
        let (lives, reads, windows) = (&loaded.lives, &loaded.eph_reads, &played.windows);
        save("eph.txt", ephemeral::to_text(lives, reads, windows))?;
        Some(ephemeral::check(lives, reads, windows))
    } else {
        None
    };
    let lock = if cfg.lock_workers > 0 {
        save("lock.txt", lock::to_text(&loaded.holds))?;
        Some(lock::check(&loaded.holds))
    } else {
        None
    };
    let check_time = t.elapsed();
    Ok(RunReport {
        ops: loaded.ops,
        check,
        set,
        queue,
        eph,
        lock,
        trees,
        findings,
        check_time,
        text,
        history_file,
    })
}

/// The history file's text: one op per line (format in `history.rs`).
fn history_text(ops: &[Op]) -> String {
    let mut h = String::new();
    for op in ops {
        let _ = writeln!(h, "{op}");
    }
    h
}

/// For a run that failed before its end: the history recorded until then, saved and
/// checked by the checkers that need no final read (registers, lock). The set, queue
/// and ephemeral checkers need a read after healing, which a failed run did not get.
fn partial_verdict(cfg: &RunConfig, loaded: &workload::LoadResult) -> String {
    let mut out = String::new();
    let file = cfg.dir.join("history.txt");
    match std::fs::write(&file, history_text(&loaded.ops)) {
        Ok(()) => {
            let _ = writeln!(out, "history until the failure: {}", file.display());
        }
        Err(e) => {
            let _ = writeln!(out, "history not saved ({}: {e})", file.display());
        }
    }
    let check = wgl::check(&loaded.ops, wgl::Limits::default());
    out.push_str(&describe(&check, &loaded.ops));
    if cfg.lock_workers > 0 {
        out.push_str(&lock::check(&loaded.holds).describe());
    }
    let _ = writeln!(
        out,
        "not checked (they need a read after healing): the set, the queue, the ephemerals, \
         the members' trees"
    );
    out
}

/// The verdicts as text; for a violation, the ops of that key around the stuck op.
pub fn describe(report: &wgl::Report, ops: &[Op]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "history: {} ops ({} with unknown outcome) on {} keys",
        report.ops,
        report.info_ops,
        report.keys.len()
    );
    for (key, a) in &report.anomalies {
        let _ = writeln!(out, "  key {key}: ANOMALY: {}", a.what);
        for o in &a.ops {
            let _ = writeln!(out, "      {o}");
        }
    }
    for (key, v) in &report.keys {
        let n = ops.iter().filter(|o| o.key == *key).count();
        match v {
            Verdict::Linearizable => {
                let _ = writeln!(out, "  key {key}: linearizable ({n} ops)");
            }
            Verdict::Anomalous => {
                let _ = writeln!(
                    out,
                    "  key {key}: NOT LINEARIZABLE ({n} ops; the anomaly above)"
                );
            }
            Verdict::Unknown { reason } => {
                let _ = writeln!(out, "  key {key}: UNKNOWN ({reason})");
            }
            Verdict::NotLinearizable { stuck, linearized } => {
                let _ = writeln!(
                    out,
                    "  key {key}: NOT LINEARIZABLE ({n} ops); the deepest order placed \
                     {linearized} ops and could not place: {stuck}"
                );
                let _ = writeln!(out, "    ops of key {key} overlapping it or just before:");
                let lo = stuck.invoke_ns.saturating_sub(2_000_000_000);
                let hi = stuck.complete_ns.unwrap_or(stuck.invoke_ns);
                let near: Vec<&Op> = ops
                    .iter()
                    .filter(|o| o.key == *key)
                    .filter(|o| o.complete_ns.unwrap_or(u64::MAX) >= lo && o.invoke_ns <= hi)
                    .collect();
                // The last ones matter most (the stuck op is among them); the whole
                // history is in the history file.
                for o in &near[near.len().saturating_sub(DESCRIBE_OPS_MAX)..] {
                    let _ = writeln!(out, "      {o}");
                }
            }
        }
    }
    out
}
