//! `ringkeeper bench`: a load generator for any ZooKeeper-protocol server
//! (ringkeeper, Apache ZooKeeper, ClickHouse Keeper), built on [`ringkeeper::client`].
//!
//! Closed loop (`--sessions S --depth D`: D requests in flight per session) or open
//! loop (`--rate R` ops/s in total, latency from the *intended* send time, so a server
//! that falls behind shows its queue). Sessions are spread over `--threads` glommio
//! executors and over the `--servers` of an ensemble. Output: one line for people,
//! `--json`, `--hdr-log`, `--plot FILE.svg`, and a progress line per second on stderr.
//!
//! The pure parts (schedule, summary, SVG) are in [`schedule`] and [`report`].

pub mod floor;
pub mod report;
pub mod schedule;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hdrhistogram::Histogram;

use report::{Interval, Summary};
use ringkeeper::client::{self, event_type, Client, ClientError, Options};
use ringkeeper::proto::{Acl, CreateMode, ErrorCode};
use schedule::{parse_duration, Rng, Schedule};

/// Arguments of `ringkeeper bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Servers, "host:port,host:port"; sessions are spread over them.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub servers: String,
    /// get, exists, children, set, create-delete, multi, mix, session-churn,
    /// watch-fanout, load (create --znodes nodes), cleanup; or a profile: read,
    /// read-unloaded, write, write-unloaded, children-small, children-large, mix-90,
    /// mix-50, seq, churn, fanout.
    #[arg(long, short, default_value = "get")]
    pub workload: String,
    /// Sessions (connections). Default 8, or the profile's.
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Requests in flight per session (closed loop). Default 4, or the profile's.
    #[arg(long)]
    pub depth: Option<usize>,
    /// Open loop: this many ops/s in total, latency from the intended send time.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Measured time ("10s", "500ms", "1m").
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Time run but not measured before the measured time.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Bytes of data per znode written.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// glommio executors (threads); sessions are spread across them.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Percentage of reads (getData) in `mix`; the rest are setData.
    #[arg(long)]
    pub read_pct: Option<u32>,
    /// Children of the parent read by `children` (default 10, children-large 10000).
    #[arg(long)]
    pub children: Option<usize>,
    /// Znodes read and written by get/exists/set/mix.
    #[arg(long, default_value_t = 1000)]
    pub nodes: usize,
    /// Watching sessions of `watch-fanout` (default 100).
    #[arg(long)]
    pub watchers: Option<usize>,
    /// Znodes created by `load`.
    #[arg(long, default_value_t = 100_000)]
    pub znodes: u64,
    /// Everything the benchmark creates lives under this path.
    #[arg(long, default_value = "/rkbench")]
    pub prefix: String,
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout_ms: i32,
    /// Speak TLS (to a secure client port), trusting the CA certificates in this PEM
    /// file; the server's certificate must name its IP address (subjectAltName).
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
    /// The TLS client configuration made from `tls_ca` by [`run`].
    #[arg(skip)]
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Leave the znodes in place at the end (no cleanup).
    #[arg(long)]
    pub keep: bool,
    /// Print the summary as one JSON object instead of the line for people.
    #[arg(long)]
    pub json: bool,
    /// Write an HdrHistogram interval log (one interval per second, then "total").
    #[arg(long)]
    pub hdr_log: Option<PathBuf>,
    /// Write a latency-percentile plot (SVG).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Server process ids: report their CPU (utime+stime) per measured op.
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What the workload does per op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Get,
    Exists,
    Children,
    Set,
    CreateDelete,
    Multi,
    Mix,
    SessionChurn,
    WatchFanout,
    Load,
    Cleanup,
}

impl Workload {
    pub fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "get" => Workload::Get,
            "exists" => Workload::Exists,
            "children" => Workload::Children,
            "set" => Workload::Set,
            "create-delete" => Workload::CreateDelete,
            "multi" => Workload::Multi,
            "mix" => Workload::Mix,
            "session-churn" => Workload::SessionChurn,
            "watch-fanout" => Workload::WatchFanout,
            "load" => Workload::Load,
            "cleanup" => Workload::Cleanup,
            _ => return None,
        })
    }
}

/// The arguments with profile and defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub workload: Workload,
    pub sessions: usize,
    pub depth: usize,
    pub children: usize,
    pub watchers: usize,
    pub read_pct: u32,
}

/// A profile: (name, workload, sessions, depth, children, watchers, read_pct).
type Profile = (&'static str, Workload, usize, usize, usize, usize, u32);
const PROFILES: &[Profile] = &[
    ("read", Workload::Get, 16, 16, 10, 100, 90),
    ("read-unloaded", Workload::Get, 1, 1, 10, 100, 90),
    ("write", Workload::Set, 16, 16, 10, 100, 90),
    ("write-unloaded", Workload::Set, 1, 1, 10, 100, 90),
    ("children-small", Workload::Children, 8, 4, 10, 100, 90),
    ("children-large", Workload::Children, 4, 2, 10_000, 100, 90),
    ("mix-90", Workload::Mix, 16, 16, 10, 100, 90),
    ("mix-50", Workload::Mix, 16, 16, 10, 100, 50),
    ("seq", Workload::CreateDelete, 8, 8, 10, 100, 90),
    ("churn", Workload::SessionChurn, 4, 1, 10, 100, 90),
    ("fanout", Workload::WatchFanout, 100, 1, 10, 100, 90),
];

impl BenchArgs {
    pub fn plan(&self) -> Result<Plan, String> {
        let (workload, sessions, depth, children, watchers, read_pct) =
            if let Some(w) = Workload::parse(&self.workload) {
                (w, 8, 4, 10, 100, 90)
            } else if let Some(p) = PROFILES.iter().find(|p| p.0 == self.workload) {
                (p.1, p.2, p.3, p.4, p.5, p.6)
            } else {
                return Err(format!("unknown workload or profile {:?}", self.workload));
            };
        let watchers = self.watchers.unwrap_or(watchers).max(1);
        let plan = Plan {
            name: self.workload.clone(),
            workload,
            sessions: if workload == Workload::WatchFanout {
                watchers
            } else {
                self.sessions.unwrap_or(sessions).max(1)
            },
            depth: self.depth.unwrap_or(depth).max(1),
            children: self.children.unwrap_or(children),
            watchers,
            read_pct: self.read_pct.unwrap_or(read_pct).min(100),
        };
        if self.threads == 0 {
            return Err("--threads must be at least 1".into());
        }
        if !self.prefix.starts_with('/') || self.prefix.len() < 2 || self.prefix.ends_with('/') {
            return Err(format!(
                "--prefix {:?} must be an absolute path",
                self.prefix
            ));
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err("--rate must be positive".into());
            }
        }
        Ok(plan)
    }

    fn servers(&self) -> Vec<String> {
        self.servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Why a bench run failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Args(String),
    #[error("glommio executor: {0}")]
    Executor(String),
    #[error("{what}: {err}")]
    Client { what: String, err: ClientError },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

fn cerr(what: impl Into<String>) -> impl FnOnce(ClientError) -> BenchError {
    let what = what.into();
    move |err| BenchError::Client { what, err }
}

/// State shared by all executors of one run.
struct Shared {
    ready: AtomicUsize,
    start: OnceLock<Instant>,
    finished: AtomicUsize,
    failed: AtomicBool,
    /// Per-thread histogram of the current second (swapped out by the progress thread).
    interval: Vec<Mutex<Histogram<u64>>>,
    errors: AtomicU64,
    ops_total: AtomicU64,
    /// `load`: next znode index to create.
    next_index: AtomicU64,
    /// `watch-fanout`: watchers armed for the next write; the write's send time.
    armed: AtomicUsize,
    sent_ns: AtomicU64,
}

/// What one executor measured.
struct ThreadResult {
    hist: Histogram<u64>,
    errors: HashMap<i32, u64>,
    ops_total: u64,
    last_done: Option<Instant>,
}

/// Per-executor context.
struct Ctx {
    args: BenchArgs,
    plan: Plan,
    thread: usize,
    shared: Arc<Shared>,
    servers: Vec<String>,
    value: Bytes,
    start: Cell<Option<Instant>>,
    local: RefCell<ThreadResult>,
}

impl Ctx {
    fn warmup_end(&self) -> Instant {
        self.start.get().expect("started") + self.warmup()
    }
    fn warmup(&self) -> Duration {
        if self.plan.workload == Workload::Load {
            Duration::ZERO
        } else {
            self.args.warmup
        }
    }
    fn end(&self) -> Instant {
        if self.plan.workload == Workload::Load {
            self.start.get().expect("started") + Duration::from_secs(365 * 86400)
        } else {
            self.warmup_end() + self.args.duration
        }
    }

    fn record(&self, sent: Instant, done: Instant, r: Result<(), ClientError>) {
        let measured = sent >= self.warmup_end() && sent < self.end();
        let mut l = self.local.borrow_mut();
        l.ops_total += 1;
        l.last_done = Some(done);
        self.shared.ops_total.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(()) => {
                let us = done.saturating_duration_since(sent).as_micros() as u64;
                if let Ok(mut h) = self.shared.interval[self.thread].lock() {
                    h.saturating_record(us.max(1));
                }
                if measured {
                    l.hist.saturating_record(us.max(1));
                }
            }
            Err(e) => {
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                if measured {
                    *l.errors.entry(e.code().code()).or_default() += 1;
                }
            }
        }
    }

    /// The servers list starting at the one for session `g`.
    fn servers_for(&self, g: usize) -> String {
        let n = self.servers.len();
        (0..n)
            .map(|i| self.servers[(g + i) % n].as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn path(&self, rest: &str) -> String {
        format!("{}/{rest}", self.args.prefix)
    }
}

fn options(args: &BenchArgs) -> Options {
    Options {
        reply_bytes_max: 64 * 1024 * 1024,
        tls: args.tls.clone(),
        ..Options::default()
    }
}

/// A rustls client configuration trusting the CA certificates of `ca` (PEM).
fn tls_client_config(ca: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let what = |e: &dyn std::fmt::Display| format!("--tls-ca {}: {e}", ca.display());
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).map_err(|e| what(&e))? {
        roots.add(c.map_err(|e| what(&e))?).map_err(|e| what(&e))?;
    }
    if roots.is_empty() {
        return Err(what(&"no certificate in it"));
    }
    #[allow(deprecated)] // ring, as the server uses (see src/server/tls.rs)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| what(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// One session slot of a run.
struct Session {
    g: usize,
    client: Option<Client>,
    created: RefCell<VecDeque<String>>,
    seq: Cell<u64>,
}

/// Runs the benchmark and prints its summary.
pub fn run(mut args: BenchArgs) -> Result<Summary, BenchError> {
    let plan = args.plan().map_err(BenchError::Args)?;
    if let Some(ca) = &args.tls_ca {
        args.tls = Some(tls_client_config(ca).map_err(BenchError::Args)?);
    }
    let mut rng = Rng::new(args.seed);
    let value: Bytes = (0..args.value_size)
        .map(|_| b'a' + rng.below(26) as u8)
        .collect::<Vec<u8>>()
        .into();
    let servers = args.servers();
    if servers.is_empty() {
        return Err(BenchError::Args("--servers is empty".into()));
    }

    // Setup (and the cleanup workload) on one executor of its own.
    {
        let (a, p, v, s) = (args.clone(), plan.clone(), value.clone(), servers.join(","));
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .map_err(|e| BenchError::Executor(e.to_string()))?
            .run(async move { setup(&a, &p, &v, &s).await })?;
    }
    if plan.workload == Workload::Cleanup {
        let s = Summary::from_histogram("cleanup", "-", &report::new_histogram(), Duration::ZERO);
        return Ok(s);
    }

    let shared = Arc::new(Shared {
        ready: AtomicUsize::new(0),
        start: OnceLock::new(),
        finished: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        interval: (0..args.threads)
            .map(|_| Mutex::new(report::new_histogram()))
            .collect(),
        errors: AtomicU64::new(0),
        ops_total: AtomicU64::new(0),
        next_index: AtomicU64::new(0),
        armed: AtomicUsize::new(0),
        sent_ns: AtomicU64::new(0),
    });
    let wall_start = SystemTime::now();
    let mut handles = Vec::new();
    for t in 0..args.threads {
        let (a, p, v, sh, sv) = (
            args.clone(),
            plan.clone(),
            value.clone(),
            shared.clone(),
            servers.clone(),
        );
        let h = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .name(&format!("bench-{t}"))
            .spawn(move || async move {
                let ctx = Rc::new(Ctx {
                    args: a,
                    plan: p,
                    thread: t,
                    shared: sh.clone(),
                    servers: sv,
                    value: v,
                    start: Cell::new(None),
                    local: RefCell::new(ThreadResult {
                        hist: report::new_histogram(),
                        errors: HashMap::new(),
                        ops_total: 0,
                        last_done: None,
                    }),
                });
                let r = worker(ctx.clone()).await;
                if r.is_err() {
                    sh.failed.store(true, Ordering::SeqCst);
                }
                sh.finished.fetch_add(1, Ordering::SeqCst);
                r.map(|()| {
                    ctx.local.replace(ThreadResult {
                        hist: report::new_histogram(),
                        errors: HashMap::new(),
                        ops_total: 0,
                        last_done: None,
                    })
                })
            })
            .map_err(|e| BenchError::Executor(e.to_string()))?;
        handles.push(h);
    }

    // Progress, intervals and CPU use, on this thread.
    let mut intervals: Vec<Interval> = Vec::new();
    let mut cpu_at_warmup: Option<CpuSample> = None;
    let mut cpu_at_end: Option<CpuSample> = None;
    let mut last_tick = Instant::now();
    let mut last_ops = 0u64;
    let mut last_err = 0u64;
    while shared.finished.load(Ordering::SeqCst) < args.threads {
        std::thread::sleep(Duration::from_millis(20));
        let Some(&start) = shared.start.get() else {
            last_tick = Instant::now();
            continue;
        };
        let warm = if plan.workload == Workload::Load {
            Duration::ZERO
        } else {
            args.warmup
        };
        let now = Instant::now();
        if cpu_at_warmup.is_none() && now >= start + warm {
            cpu_at_warmup = Some(CpuSample::take(&args.server_pid));
        }
        if cpu_at_end.is_none()
            && plan.workload != Workload::Load
            && now >= start + warm + args.duration
        {
            cpu_at_end = Some(CpuSample::take(&args.server_pid));
        }
        if now.duration_since(last_tick) >= Duration::from_secs(1) {
            let mut h = report::new_histogram();
            for m in &shared.interval {
                if let Ok(mut m) = m.lock() {
                    let _ = h.add(&*m);
                    m.reset();
                }
            }
            let len = now.duration_since(last_tick);
            let ops = shared.ops_total.load(Ordering::Relaxed);
            let errs = shared.errors.load(Ordering::Relaxed);
            if !args.quiet {
                let phase = if now < start + warm { "warmup" } else { "run" };
                eprintln!(
                    "[{:>4.0}s] {phase:<6} {:>9.0} ops/s  p50 {}  p99 {}  max {}  errors {}",
                    now.duration_since(start).as_secs_f64(),
                    (ops - last_ops) as f64 / len.as_secs_f64(),
                    report::fmt_us(h.value_at_quantile(0.5)),
                    report::fmt_us(h.value_at_quantile(0.99)),
                    report::fmt_us(h.max()),
                    errs - last_err,
                );
            }
            intervals.push(Interval {
                start: last_tick.saturating_duration_since(start),
                length: len,
                hist: h,
            });
            last_tick = now;
            last_ops = ops;
            last_err = errs;
        }
    }
    if cpu_at_end.is_none() {
        cpu_at_end = Some(CpuSample::take(&args.server_pid));
    }

    let mut hist = report::new_histogram();
    let mut errors: HashMap<i32, u64> = HashMap::new();
    let mut ops_total = 0;
    let mut last_done: Option<Instant> = None;
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => {
                let _ = hist.add(&r.hist);
                for (k, v) in r.errors {
                    *errors.entry(k).or_default() += v;
                }
                ops_total += r.ops_total;
                last_done = last_done.max(r.last_done);
            }
            Ok(Err(e)) => first_err = first_err.or(Some(e)),
            Err(e) => first_err = first_err.or(Some(BenchError::Executor(e.to_string()))),
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let start = *shared.start.get().expect("started");
    let measured = if plan.workload == Workload::Load {
        last_done.unwrap_or(start).saturating_duration_since(start)
    } else {
        args.duration
    };
    let mode = match args.rate {
        Some(r) => format!("open rate={r} sessions={}", plan.sessions),
        None if plan.workload == Workload::WatchFanout => {
            format!("watchers={}", plan.watchers)
        }
        None => format!("closed sessions={} depth={}", plan.sessions, plan.depth),
    };
    let mut summary = Summary::from_histogram(&plan.name, &mode, &hist, measured);
    summary.ops_total = ops_total;
    summary.errors = errors
        .into_iter()
        .map(|(k, v)| (ErrorCode::from_code(k).name().to_owned(), v))
        .collect::<BTreeMap<_, _>>();
    if let (Some(a), Some(b)) = (cpu_at_warmup, cpu_at_end) {
        if summary.ops > 0 {
            // SAFETY: sysconf only reads a constant of the system.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
            let per_op = |ticks: u64| ticks as f64 * 1e6 / hz / summary.ops as f64;
            if !args.server_pid.is_empty() {
                summary.server_cpu_us_per_op = Some(per_op(b.server.saturating_sub(a.server)));
            }
            summary.client_cpu_us_per_op = Some(per_op(b.client.saturating_sub(a.client)));
        }
        summary.machine_busy_pct = b.machine_busy_pct_since(&a);
    }

    if let Some(path) = &args.hdr_log {
        report::write_hdr_log(
            path,
            wall_start,
            &intervals,
            &hist,
            if plan.workload == Workload::Load {
                Duration::ZERO
            } else {
                args.warmup
            },
            measured,
        )?;
    }
    if let Some(path) = &args.plot {
        let title = format!("{} {} ({})", plan.name, summary.mode, args.servers);
        let svg = report::svg_plot(
            &title,
            &[(plan.name.clone(), report::percentile_points(&hist, 200))],
        );
        std::fs::write(path, svg)?;
    }

    if !args.keep {
        let (a, p, s) = (args.clone(), plan.clone(), servers.join(","));
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .map_err(|e| BenchError::Executor(e.to_string()))?
            .run(async move { cleanup(&a, &p, &s).await })?;
    }
    Ok(summary)
}

/// CPU use at one moment, in clock ticks: the servers', this load generator's and the
/// whole machine's. The load generator usually shares the machine with the server, and
/// a ratio between servers means little once the machine is saturated; these say so.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    server: u64,
    client: u64,
    /// (busy, total) over all CPUs from /proc/stat; None where it cannot be read.
    machine: Option<(u64, u64)>,
}

impl CpuSample {
    fn take(server_pid: &[u32]) -> CpuSample {
        CpuSample {
            server: cpu_ticks(server_pid),
            client: cpu_ticks(&[std::process::id()]),
            machine: std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| parse_proc_stat_busy(&s)),
        }
    }

    fn machine_busy_pct_since(&self, earlier: &CpuSample) -> Option<f64> {
        let ((b1, t1), (b0, t0)) = (self.machine?, earlier.machine?);
        let total = t1.checked_sub(t0).filter(|&t| t > 0)?;
        Some(b1.saturating_sub(b0) as f64 * 100.0 / total as f64)
    }
}

/// (busy, total) ticks of all CPUs from the text of /proc/stat: its first line is
/// `cpu user nice system idle iowait irq softirq steal guest guest_nice`; idle and
/// iowait are not busy, and guest time is already counted in user.
pub fn parse_proc_stat_busy(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if f.len() < 5 {
        return None;
    }
    let total: u64 = f.iter().sum();
    let idle = f[3] + f[4];
    Some((total - idle, total))
}

/// Sum of utime+stime, in clock ticks, of these processes (0 for one that is gone).
pub fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| parse_stat_cpu(&s))
        .sum()
}

/// utime+stime from the text of /proc/PID/stat.
pub fn parse_stat_cpu(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is f[0]; utime is field 14, stime field 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Runs `f(i)` for `i` in `0..n` with at most `window` in flight; returns the errors
/// other than those `ok_code` accepts.
async fn bulk<F, Fut>(n: u64, window: usize, f: F, ok_code: ErrorCode) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>> + 'static,
{
    let mut q = VecDeque::new();
    let mut errors = 0;
    let mut check = |r: Result<(), ClientError>| {
        if let Err(e) = r {
            if e.code() != ok_code {
                errors += 1;
            }
        }
    };
    for i in 0..n {
        if q.len() >= window {
            check(q.pop_front().expect("nonempty").await);
        }
        q.push_back(glommio::spawn_local(f(i)));
    }
    for t in q {
        check(t.await);
    }
    errors
}

async fn ensure(c: &Client, path: &str, data: &[u8]) -> Result<(), BenchError> {
    match c
        .create(
            path,
            Some(data),
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code() == ErrorCode::NodeExists => Ok(()),
        Err(e) => Err(cerr(format!("create {path}"))(e)),
    }
}

async fn setup(
    args: &BenchArgs,
    plan: &Plan,
    value: &Bytes,
    servers: &str,
) -> Result<(), BenchError> {
    if plan.workload == Workload::Cleanup {
        return cleanup(args, plan, servers).await;
    }
    // A server that has just started may accept and then drop the first sessions
    // (ZooKeeper: "ZooKeeperServer not running"); try for a few seconds.
    let mut tries = 0;
    let c = loop {
        match Client::connect(servers, args.session_timeout_ms, options(args)).await {
            Ok(c) => break c,
            Err(e) if tries < 25 && e.code() == ErrorCode::ConnectionLoss => {
                tries += 1;
                glommio::timer::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(cerr(format!("connect {servers}"))(e)),
        }
    };
    let p = &args.prefix;
    ensure(&c, p, b"").await?;
    let leaves = |dir: &str, data: Bytes| {
        let (c, dir) = (c.clone(), format!("{p}/{dir}"));
        move |i: u64| {
            let (c, path, data) = (c.clone(), format!("{dir}/{i}"), data.clone());
            async move {
                c.create(
                    &path,
                    Some(&data),
                    &Acl::open_unsafe(),
                    CreateMode::Persistent,
                )
                .await
                .map(|_| ())
            }
        }
    };
    let errs = match plan.workload {
        Workload::Get | Workload::Exists | Workload::Set | Workload::Mix => {
            ensure(&c, &format!("{p}/n"), b"").await?;
            let f = leaves("n", value.clone());
            bulk(args.nodes as u64, 256, f, ErrorCode::NodeExists).await
        }
        Workload::Children => {
            ensure(&c, &format!("{p}/c"), b"").await?;
            let f = leaves("c", Bytes::new());
            bulk(plan.children as u64, 256, f, ErrorCode::NodeExists).await
        }
        Workload::CreateDelete => ensure(&c, &format!("{p}/cd"), b"").await.map(|_| 0)?,
        Workload::Multi => ensure(&c, &format!("{p}/m"), b"").await.map(|_| 0)?,
        Workload::SessionChurn => ensure(&c, &format!("{p}/e"), b"").await.map(|_| 0)?,
        Workload::WatchFanout => ensure(&c, &format!("{p}/w"), value).await.map(|_| 0)?,
        Workload::Load => ensure(&c, &format!("{p}/load"), b"").await.map(|_| 0)?,
        Workload::Cleanup => 0,
    };
    let _ = c.close().await;
    if errs > 0 {
        return Err(BenchError::Args(format!("setup: {errs} creates failed")));
    }
    Ok(())
}

/// Deletes everything under the prefix (two levels deep, as the workloads create).
async fn cleanup(args: &BenchArgs, _plan: &Plan, servers: &str) -> Result<(), BenchError> {
    let c = Client::connect(servers, args.session_timeout_ms, options(args))
        .await
        .map_err(cerr(format!("connect {servers}")))?;
    let p = &args.prefix;
    let dirs = match c.get_children(p, false).await {
        Ok(d) => d,
        Err(e) if e.code() == ErrorCode::NoNode => return Ok(()),
        Err(e) => return Err(cerr(format!("getChildren {p}"))(e)),
    };
    for d in dirs {
        let dir = format!("{p}/{d}");
        if d == "load" {
            // Too many to list in one reply: delete by name first.
            let c2 = c.clone();
            let dir2 = dir.clone();
            bulk(
                args.znodes,
                512,
                move |i| {
                    let (c, path) = (c2.clone(), format!("{dir2}/{i}"));
                    async move { c.delete(&path, -1).await }
                },
                ErrorCode::NoNode,
            )
            .await;
        }
        let kids = match c.get_children(&dir, false).await {
            Ok(k) => k,
            Err(e) if e.code() == ErrorCode::NoNode => continue,
            Err(e) => return Err(cerr(format!("getChildren {dir}"))(e)),
        };
        let kids = Rc::new(kids);
        let (c2, dir2, k2) = (c.clone(), dir.clone(), kids.clone());
        bulk(
            kids.len() as u64,
            512,
            move |i| {
                let (c, path) = (c2.clone(), format!("{dir2}/{}", k2[i as usize]));
                async move { c.delete(&path, -1).await }
            },
            ErrorCode::NoNode,
        )
        .await;
        let _ = c.delete(&dir, -1).await;
    }
    let _ = c.delete(p, -1).await;
    let _ = c.close().await;
    Ok(())
}

/// One executor: connect its sessions, wait for the others, run, close.
async fn worker(ctx: Rc<Ctx>) -> Result<(), BenchError> {
    let threads = ctx.args.threads;
    let mut sessions = Vec::new();
    for g in (ctx.thread..ctx.plan.sessions).step_by(threads) {
        let client = if ctx.plan.workload == Workload::SessionChurn {
            None
        } else {
            let s = ctx.servers_for(g);
            Some(
                Client::connect(&s, ctx.args.session_timeout_ms, options(&ctx.args))
                    .await
                    .map_err(cerr(format!("connect {s}")))?,
            )
        };
        sessions.push(Rc::new(Session {
            g,
            client,
            created: RefCell::new(VecDeque::new()),
            seq: Cell::new(0),
        }));
    }
    let writer = if ctx.plan.workload == Workload::WatchFanout && ctx.thread == 0 {
        let s = ctx.servers_for(0);
        Some(
            Client::connect(&s, ctx.args.session_timeout_ms, options(&ctx.args))
                .await
                .map_err(cerr(format!("connect {s}")))?,
        )
    } else {
        None
    };
    ctx.shared.ready.fetch_add(1, Ordering::SeqCst);
    while ctx.shared.ready.load(Ordering::SeqCst) < threads {
        if ctx.shared.failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    ctx.start
        .set(Some(*ctx.shared.start.get_or_init(Instant::now)));

    let mut tasks = Vec::new();
    if ctx.plan.workload == Workload::WatchFanout {
        for s in &sessions {
            tasks.push(glommio::spawn_local(watcher(ctx.clone(), s.clone())));
        }
        if let Some(w) = writer {
            tasks.push(glommio::spawn_local(fanout_writer(ctx.clone(), w)));
        }
    } else if let Some(rate) = ctx.args.rate {
        for s in &sessions {
            tasks.push(glommio::spawn_local(open_loop(
                ctx.clone(),
                s.clone(),
                rate,
            )));
        }
    } else {
        for s in &sessions {
            for d in 0..ctx.plan.depth {
                let seed = ctx.args.seed ^ ((s.g as u64) << 32) ^ d as u64;
                tasks.push(glommio::spawn_local(closed_loop(
                    ctx.clone(),
                    s.clone(),
                    seed,
                )));
            }
        }
    }
    for t in tasks {
        t.await;
    }
    for s in &sessions {
        if let Some(c) = &s.client {
            let _ = c.close().await;
        }
    }
    Ok(())
}

async fn closed_loop(ctx: Rc<Ctx>, s: Rc<Session>, seed: u64) {
    let mut rng = Rng::new(seed);
    let end = ctx.end();
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let k = if ctx.plan.workload == Workload::Load {
            let k = ctx.shared.next_index.fetch_add(1, Ordering::Relaxed);
            if k >= ctx.args.znodes {
                break;
            }
            k
        } else {
            let k = s.seq.get();
            s.seq.set(k + 1);
            k
        };
        let r = op(&ctx, &s, &mut rng, k).await;
        ctx.record(sent, Instant::now(), r);
    }
}

async fn open_loop(ctx: Rc<Ctx>, s: Rc<Session>, rate: f64) {
    let sched = Schedule::new(rate, ctx.plan.sessions, s.g);
    let start = ctx.start.get().expect("started");
    let end = ctx.end();
    let outstanding = Rc::new(Cell::new(0usize));
    let mut k = 0u64;
    loop {
        let due = start + sched.at(k);
        if due >= end {
            break;
        }
        if ctx.plan.workload == Workload::Load
            && ctx.shared.next_index.fetch_add(1, Ordering::Relaxed) >= ctx.args.znodes
        {
            break;
        }
        let now = Instant::now();
        if due > now {
            glommio::timer::sleep(due - now).await;
        }
        outstanding.set(outstanding.get() + 1);
        let (c, s2, o) = (ctx.clone(), s.clone(), outstanding.clone());
        let seed = ctx.args.seed ^ ((s.g as u64) << 32) ^ k;
        glommio::spawn_local(async move {
            let mut rng = Rng::new(seed);
            let seq = s2.seq.get();
            s2.seq.set(seq + 1);
            let r = op(&c, &s2, &mut rng, seq).await;
            // Latency from the intended send time, not from when it went out.
            c.record(due, Instant::now(), r);
            o.set(o.get() - 1);
        })
        .detach();
        k += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while outstanding.get() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// One request (or, for session-churn, one connect/create/close cycle).
async fn op(ctx: &Ctx, s: &Session, rng: &mut Rng, k: u64) -> Result<(), ClientError> {
    let c = s.client.as_ref();
    let node = |rng: &mut Rng| ctx.path(&format!("n/{}", rng.below(ctx.args.nodes.max(1) as u64)));
    let open = Acl::open_unsafe();
    match ctx.plan.workload {
        Workload::Get => c
            .expect("client")
            .get_data(&node(rng), false)
            .await
            .map(|_| ()),
        Workload::Exists => c
            .expect("client")
            .exists(&node(rng), false)
            .await
            .map(|_| ()),
        Workload::Children => c
            .expect("client")
            .get_children(&ctx.path("c"), false)
            .await
            .map(|_| ()),
        Workload::Set => c
            .expect("client")
            .set_data(&node(rng), Some(&ctx.value), -1)
            .await
            .map(|_| ()),
        Workload::Mix => {
            let c = c.expect("client");
            if rng.percent(ctx.plan.read_pct) {
                c.get_data(&node(rng), false).await.map(|_| ())
            } else {
                c.set_data(&node(rng), Some(&ctx.value), -1)
                    .await
                    .map(|_| ())
            }
        }
        Workload::CreateDelete => {
            let c = c.expect("client");
            let victim = s.created.borrow_mut().pop_front();
            match victim {
                Some(p) => c.delete(&p, -1).await,
                None => {
                    let (p, _) = c
                        .create(
                            &ctx.path("cd/s-"),
                            Some(&ctx.value),
                            &open,
                            CreateMode::PersistentSequential,
                        )
                        .await?;
                    s.created.borrow_mut().push_back(p);
                    Ok(())
                }
            }
        }
        Workload::Multi => {
            let path = ctx.path(&format!("m/{}-{k}", s.g));
            c.expect("client")
                .multi(vec![
                    client::ops::create(
                        &path,
                        Some(ctx.value.clone()),
                        open,
                        CreateMode::Ephemeral,
                    ),
                    client::ops::set_data(&path, Some(ctx.value.clone()), -1),
                ])
                .await
                .map(|_| ())
        }
        Workload::SessionChurn => {
            let servers = ctx.servers_for(s.g + k as usize);
            let o = Options {
                reconnect: false,
                ..options(&ctx.args)
            };
            let c = Client::connect(&servers, ctx.args.session_timeout_ms, o).await?;
            let r = c
                .create(
                    &ctx.path(&format!("e/{}-{k}", s.g)),
                    Some(&ctx.value),
                    &open,
                    CreateMode::Ephemeral,
                )
                .await;
            let closed = c.close().await;
            r.map(|_| ()).and(closed)
        }
        Workload::Load => c
            .expect("client")
            .create(
                &ctx.path(&format!("load/{k}")),
                Some(&ctx.value),
                &open,
                CreateMode::Persistent,
            )
            .await
            .map(|_| ()),
        Workload::WatchFanout | Workload::Cleanup => Ok(()),
    }
}

/// A watch-fanout watcher: arm a data watch, count it armed, wait for the event,
/// record its delay from the writer's send time, repeat.
async fn watcher(ctx: Rc<Ctx>, s: Rc<Session>) {
    let c = s.client.clone().expect("client");
    let Some(events) = c.events() else { return };
    let path = ctx.path("w");
    let start = ctx.start.get().expect("started");
    let end = ctx.end();
    while Instant::now() < end {
        if let Err(e) = c.get_data(&path, true).await {
            let now = Instant::now();
            ctx.record(now, now, Err(e));
            glommio::timer::sleep(Duration::from_millis(10)).await;
            continue;
        }
        ctx.shared.armed.fetch_add(1, Ordering::SeqCst);
        let wait_end = end + Duration::from_secs(1);
        let ev = futures_lite::future::or(async { events.next().await }, async {
            glommio::timer::sleep(wait_end.saturating_duration_since(Instant::now())).await;
            None
        })
        .await;
        match ev {
            Some(e) if e.event_type == event_type::NODE_DATA_CHANGED => {
                let sent = start + Duration::from_nanos(ctx.shared.sent_ns.load(Ordering::SeqCst));
                ctx.record(sent, Instant::now(), Ok(()));
            }
            Some(_) => {}
            None => break,
        }
    }
}

/// The watch-fanout writer: once every watcher is armed, one setData.
async fn fanout_writer(ctx: Rc<Ctx>, c: Client) {
    let path = ctx.path("w");
    let start = ctx.start.get().expect("started");
    let end = ctx.end();
    let n = ctx.plan.watchers;
    'outer: while Instant::now() < end {
        while ctx.shared.armed.load(Ordering::SeqCst) < n {
            if Instant::now() >= end {
                break 'outer;
            }
            glommio::timer::sleep(Duration::from_micros(50)).await;
        }
        ctx.shared.armed.store(0, Ordering::SeqCst);
        let sent = Instant::now();
        ctx.shared.sent_ns.store(
            sent.duration_since(start).as_nanos() as u64,
            Ordering::SeqCst,
        );
        if let Err(e) = c.set_data(&path, Some(&ctx.value), -1).await {
            ctx.record(sent, Instant::now(), Err(e));
        }
    }
    let _ = c.close().await;
}

/// Entry point of the subcommand: runs, prints, returns the process status.
pub fn main(args: BenchArgs) -> std::process::ExitCode {
    let json = args.json;
    match run(args) {
        Ok(s) => {
            println!("{}", if json { s.json() } else { s.line() });
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringkeeper bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
