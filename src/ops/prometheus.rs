//! The Prometheus metrics endpoint (`metricsProvider.httpHost`:`httpPort`, ZooKeeper's
//! default 7000): `GET /metrics` in the Prometheus text format (0.0.4), with the
//! names, types and labels ZooKeeper's `PrometheusMetricsProvider` exports, so its
//! dashboards and alert rules work unchanged:
//!
//! - the gauges `ZooKeeperServer.registerMetrics` registers (`znode_count`,
//!   `num_alive_connections`, ...), from the same rows as `mntr`;
//! - the summaries `readlatency` and `updatelatency` (quantiles 0.5, 0.9, 0.99) and
//!   `fsynctime` (0.5), in ms, with `_count` and `_sum`;
//! - the `process_*` metrics the Prometheus client's standard exports give
//!   (what `exportJvmInfo` adds besides the `jvm_*` ones, which have no meaning here).
//!
//! What ZooKeeper exports and ringkeeper cannot measure is left out, not faked (see
//! docs/design.md). ringkeeper's own values are named `ringkeeper_*`: the stage
//! latency histograms, and the `rk_` rows of `mntr`.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use crate::ops::histogram::Summary;
use crate::ops::http;
use crate::ops::report::{self, Metric};
use crate::server::stats::{Stage, ZOOKEEPER_QUORUM_SUMMARIES};
use crate::server::Core;

/// How long a scraper may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Scrapes served at once.
const CONCURRENT_MAX: usize = 16;

/// The `mntr` rows ZooKeeper registers as gauges of the same name less `zk_`.
pub const ZOOKEEPER_GAUGES: &[&str] = &[
    "avg_latency",
    "max_latency",
    "min_latency",
    "packets_received",
    "packets_sent",
    "num_alive_connections",
    "outstanding_requests",
    "uptime",
    "znode_count",
    "watch_count",
    "ephemerals_count",
    "approximate_data_size",
    "global_sessions",
    "local_sessions",
    "open_file_descriptor_count",
    "max_file_descriptor_count",
    "connection_drop_probability",
    "auth_failed_count",
    "outstanding_tls_handshake",
    // QuorumZooKeeperServer's, then LeaderZooKeeperServer's (a leader's only).
    "quorum_size",
    "leader_uptime",
    "learners",
    "synced_followers",
    "synced_non_voting_followers",
    "synced_observers",
    "pending_syncs",
    "last_proposal_size",
    "max_proposal_size",
    "min_proposal_size",
];

/// The `mntr` rows ZooKeeper registers as counters of the same name less `zk_`.
pub const ZOOKEEPER_COUNTERS: &[&str] = &[
    "digest_mismatches_count",
    "tls_handshake_exceeded",
    "unsuccessful_handshake",
    "insecure_admin_count",
];

/// The body of `GET /metrics`.
pub fn render(core: &Rc<Core>) -> String {
    let mut out = String::new();
    let mut info = Vec::new();
    let quorum_counters = report::zookeeper_quorum_counters(core).map(|(n, _)| n);
    for (k, v) in report::monitor(core) {
        let value = match v {
            Metric::Int(i) => i as f64,
            Metric::Float(f, _) | Metric::Double(f) => f,
            Metric::Text(t) => {
                info.push((k.trim_start_matches("zk_").to_owned(), t));
                continue;
            }
        };
        let counter = |zk: &str| ZOOKEEPER_COUNTERS.contains(&zk) || quorum_counters.contains(&zk);
        let kind = match k.strip_prefix("zk_") {
            Some(zk) if counter(zk) => "counter",
            _ => "gauge",
        };
        let name = match k.strip_prefix("zk_") {
            // The quorum summaries' rows are the summaries below.
            Some(zk) if is_summary_row(zk) => continue,
            Some(zk) if ZOOKEEPER_GAUGES.contains(&zk) || counter(zk) => zk.to_owned(),
            // The stage rows are the summary below.
            _ if k.starts_with("rk_stage_") => continue,
            _ => format!(
                "ringkeeper_{}",
                k.trim_start_matches("zk_").trim_start_matches("rk_")
            ),
        };
        family(&mut out, &name, kind);
        let _ = writeln!(out, "{name} {}", sample(value));
    }
    let stats = &core.stats;
    zookeeper_summary(
        &mut out,
        "readlatency",
        &stats.stage_summary(Stage::Read),
        ADVANCED,
    );
    zookeeper_summary(
        &mut out,
        "updatelatency",
        &stats.stage_summary(Stage::Write),
        ADVANCED,
    );
    zookeeper_summary(
        &mut out,
        "fsynctime",
        &stats.stage_summary(Stage::Fsync),
        BASIC,
    );
    for &(name, advanced, of) in ZOOKEEPER_QUORUM_SUMMARIES {
        let qs = if advanced { ADVANCED } else { BASIC };
        zookeeper_summary(&mut out, name, &of(stats), qs);
    }
    // A SummarySet: one series per acking server, labelled `key` as ZooKeeper's
    // provider labels its sets.
    family(&mut out, "ack_latency", "summary");
    for (sid, s) in stats.zab.ack_latency() {
        summary_samples(
            &mut out,
            "ack_latency",
            &format!("key=\"{sid}\","),
            &s,
            ADVANCED,
        );
    }
    process_metrics(&mut out);
    family(&mut out, "ringkeeper_info", "gauge");
    let labels: Vec<String> = info
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let _ = writeln!(out, "ringkeeper_info{{{}}} 1.0", labels.join(","));
    stage_summaries(&mut out, core);
    out
}

fn family(out: &mut String, name: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {name}\n# TYPE {name} {kind}");
}

/// A sample value as the Prometheus Java client prints it (always with a fraction).
fn sample(v: f64) -> String {
    format!("{v:?}")
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The quantiles of ZooKeeper's ADVANCED and BASIC summaries.
const ADVANCED: &[f64] = &[0.5, 0.9, 0.99];
const BASIC: &[f64] = &[0.5];

/// Whether `zk_NAME` is one of the `mntr` rows of a quorum summary (`avg_X`, ...,
/// `p999_X`), which Prometheus gets as the summary itself.
fn is_summary_row(name: &str) -> bool {
    let Some((_, metric)) = name.split_once('_') else {
        return false;
    };
    let prefixed = [
        "avg_", "min_", "max_", "cnt_", "sum_", "p50_", "p95_", "p99_", "p999_",
    ]
    .iter()
    .any(|p| name.starts_with(p));
    prefixed
        && (ZOOKEEPER_QUORUM_SUMMARIES
            .iter()
            .any(|(n, _, _)| *n == metric)
            || metric.ends_with("_ack_latency"))
}

/// One of ZooKeeper's `ServerMetrics` summaries, in ms, from a histogram (µs).
/// ZooKeeper's quantiles cover a rotating 60 s window; these cover the time since
/// the start (or the last `srst`).
fn zookeeper_summary(out: &mut String, name: &str, s: &Summary, qs: &[f64]) {
    family(out, name, "summary");
    summary_samples(out, name, "", s, qs);
}

/// The samples of one summary series; `labels` (if any) end with a comma.
fn summary_samples(out: &mut String, name: &str, labels: &str, s: &Summary, qs: &[f64]) {
    for q in qs {
        let us = match *q {
            0.5 => s.p50_us,
            0.9 => s.p90_us,
            _ => s.p99_us,
        };
        let _ = writeln!(
            out,
            "{name}{{{labels}quantile=\"{q}\"}} {}",
            sample(us as f64 / 1000.0)
        );
    }
    let plain = labels.trim_end_matches(',');
    let labels = if plain.is_empty() {
        String::new()
    } else {
        format!("{{{plain}}}")
    };
    let _ = writeln!(out, "{name}_count{labels} {}", sample(s.count as f64));
    let _ = writeln!(
        out,
        "{name}_sum{labels} {}",
        sample(s.sum_us as f64 / 1000.0)
    );
}

/// ringkeeper's per-stage latency histograms, in µs.
fn stage_summaries(out: &mut String, core: &Rc<Core>) {
    let _ = writeln!(
        out,
        "# HELP ringkeeper_stage_latency_us Latency of each request stage in microseconds.\n\
         # TYPE ringkeeper_stage_latency_us summary"
    );
    for stage in Stage::ALL {
        let s = core.stats.stage_summary(stage);
        let name = stage.name();
        for (q, v) in [
            ("0.5", s.p50_us),
            ("0.9", s.p90_us),
            ("0.99", s.p99_us),
            ("0.999", s.p999_us),
        ] {
            let _ = writeln!(
                out,
                "ringkeeper_stage_latency_us{{stage=\"{name}\",quantile=\"{q}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "ringkeeper_stage_latency_us_sum{{stage=\"{name}\"}} {}\n\
             ringkeeper_stage_latency_us_count{{stage=\"{name}\"}} {}",
            (s.mean_us * s.count as f64).round(),
            s.count
        );
    }
}

/// The Prometheus client's standard process metrics, from /proc (omitted where
/// /proc cannot be read).
fn process_metrics(out: &mut String) {
    let (open, max) = report::fd_counts();
    family(out, "process_open_fds", "gauge");
    let _ = writeln!(out, "process_open_fds {}", sample(open as f64));
    family(out, "process_max_fds", "gauge");
    let _ = writeln!(out, "process_max_fds {}", sample(max as f64));
    let Some(p) = ProcStat::read() else {
        return;
    };
    family(out, "process_cpu_seconds_total", "counter");
    let _ = writeln!(out, "process_cpu_seconds_total {}", sample(p.cpu_seconds));
    family(out, "process_start_time_seconds", "gauge");
    let _ = writeln!(
        out,
        "process_start_time_seconds {}",
        sample(p.start_time_seconds)
    );
    family(out, "process_virtual_memory_bytes", "gauge");
    let _ = writeln!(
        out,
        "process_virtual_memory_bytes {}",
        sample(p.virtual_bytes)
    );
    family(out, "process_resident_memory_bytes", "gauge");
    let _ = writeln!(
        out,
        "process_resident_memory_bytes {}",
        sample(p.resident_bytes)
    );
}

/// What `/proc/self/stat` (with `/proc/stat`'s boot time) says about this process.
struct ProcStat {
    cpu_seconds: f64,
    start_time_seconds: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
}

impl ProcStat {
    fn read() -> Option<ProcStat> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces and parentheses).
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if ticks <= 0 || page <= 0 {
            return None;
        }
        let ticks = ticks as f64;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| {
                l.strip_prefix("btime ")
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })?;
        // Fields 14, 15, 22, 23, 24 of proc(5), counted from `state` (field 3) here.
        Some(ProcStat {
            cpu_seconds: (num(11)? + num(12)?) / ticks,
            start_time_seconds: boot + num(19)? / ticks,
            virtual_bytes: num(20)?,
            resident_bytes: num(21)? * page as f64,
        })
    }
}

/// Serves the endpoint on `listener` (bound by `server::run`, exclusively) until the
/// process ends.
pub async fn serve(core: Rc<Core>, listener: std::net::TcpListener) {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    tracing::info!("metrics endpoint on http://{addr}/metrics");
    http::serve(
        listener,
        "metrics endpoint",
        CONCURRENT_MAX,
        move |mut stream| {
            let core = core.clone();
            async move {
                let req = match http::read_request(&mut stream, REQUEST_TIMEOUT).await {
                    Ok(r) => r,
                    Err(http::ReadError::Malformed(_)) => {
                        return http::respond_error(&mut stream, 400).await
                    }
                    Err(http::ReadError::TooLarge) => {
                        return http::respond_error(&mut stream, 431).await
                    }
                    Err(_) => return,
                };
                if req.path != "/metrics" {
                    return http::respond_error(&mut stream, 404).await;
                }
                if req.method != "GET" {
                    return http::respond_error(&mut stream, 405).await;
                }
                let body = render(&core);
                http::respond(
                    &mut stream,
                    200,
                    "text/plain; version=0.0.4; charset=utf-8",
                    body.as_bytes(),
                )
                .await;
            }
        },
    )
    .await;
}
