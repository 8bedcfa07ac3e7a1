//! What the operator surfaces report, computed once: the four-letter words format it
//! as text, the AdminServer as JSON, the Prometheus endpoint as samples.
//!
//! Values a session core holds alone (connections, watches, attached sessions) are
//! gathered from every core ([`Core::gather`]); the rest comes from the summed
//! counters and the core's replica of the tree.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use crate::server::messages::{GatherKind, GatherPart};
use crate::server::stats::{ServerMode, Stage, ZOOKEEPER_QUORUM_SUMMARIES};
use crate::server::Core;

/// The version string clients read (kazoo parses it from `envi`): the ZooKeeper
/// protocol level ringkeeper implements, then ringkeeper's own version.
pub fn version_string() -> String {
    format!(
        "3.9.3-ringkeeper-{}, built on {}",
        env!("CARGO_PKG_VERSION"),
        "ringkeeper release build"
    )
}

/// One client connection, as `cons` and `stat` report it (ZooKeeper's
/// `ServerCnxn.getConnectionInfo`). Latencies in ms, times as ZooKeeper's.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub outstanding: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub session_id: i64,
    pub last_operation: &'static str,
    /// Wall-clock ms when the connection was accepted.
    pub established_ms: i64,
    pub session_timeout_ms: i32,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub avg_latency_ms: u64,
    pub max_latency_ms: u64,
}

/// A session attached to a connection, for `dump`.
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo {
    pub id: i64,
    /// When it expires if nothing more is heard from it: its last answered request
    /// plus its timeout, rounded up to a tick as ZooKeeper's expiry buckets are
    /// (wall-clock ms; the quorum core keeps the authoritative deadline).
    pub expiry_ms: i64,
}

/// This core's share of a gather (see [`Core::gather`]).
pub fn local_part(core: &Rc<Core>, kind: GatherKind) -> GatherPart {
    match kind {
        GatherKind::Connections => GatherPart::Connections(
            core.conns
                .borrow()
                .values()
                .map(|c| {
                    let st = &c.stats;
                    let n = st.latency_count.get();
                    let (min, avg, max) = match st.latency_sum_us.get().checked_div(n) {
                        None => (0, 0, 0),
                        Some(avg) => (
                            st.latency_min_us.get() / 1000,
                            avg / 1000,
                            st.latency_max_us.get() / 1000,
                        ),
                    };
                    ConnInfo {
                        remote: c.peer,
                        outstanding: c.pending.borrow().len() as u64,
                        packets_received: st.packets_received.get(),
                        packets_sent: st.packets_sent.get(),
                        session_id: c.session.get(),
                        last_operation: st.last_op.get(),
                        established_ms: st.established_ms,
                        session_timeout_ms: c.timeout_ms.get(),
                        last_cxid: st.last_cxid.get(),
                        last_zxid: st.last_zxid.get(),
                        last_response_ms: st.last_response_ms.get(),
                        last_latency_ms: st.last_latency_us.get() / 1000,
                        min_latency_ms: min,
                        avg_latency_ms: avg,
                        max_latency_ms: max,
                    }
                })
                .collect(),
        ),
        GatherKind::WatchesBySession => GatherPart::BySession(
            core.watches
                .borrow()
                .by_session()
                .into_iter()
                .map(|(s, paths)| (s, paths.into_iter().map(str::to_owned).collect()))
                .collect(),
        ),
        GatherKind::WatchesByPath => GatherPart::ByPath(
            core.watches
                .borrow()
                .by_path()
                .into_iter()
                .map(|(p, ids)| (p.to_owned(), ids))
                .collect(),
        ),
        GatherKind::Sessions => {
            let tick = i64::from(core.cfg.tick_time_ms.max(1));
            let conns = core.conns.borrow();
            let sessions = core
                .by_session
                .borrow()
                .iter()
                .map(|(id, conn)| {
                    let expiry_ms = conns.get(conn).map_or(0, |c| {
                        let last = c.stats.last_response_ms.get().max(c.stats.established_ms);
                        let due = last + i64::from(c.timeout_ms.get());
                        (due / tick + 1) * tick
                    });
                    SessionInfo { id: *id, expiry_ms }
                })
                .collect();
            GatherPart::Sessions(sessions)
        }
        GatherKind::ResetConns => {
            for c in core.conns.borrow().values() {
                c.stats.reset();
            }
            GatherPart::Done
        }
    }
}

/// Every connection of the server.
pub async fn connections(core: &Rc<Core>) -> Vec<ConnInfo> {
    let mut all = Vec::new();
    for p in core.gather(GatherKind::Connections).await {
        if let GatherPart::Connections(c) = p {
            all.extend(c);
        }
    }
    all
}

/// Every data watch by path, each path's sessions ascending.
pub async fn watches_by_path(core: &Rc<Core>) -> BTreeMap<String, Vec<i64>> {
    let mut by_path: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for p in core.gather(GatherKind::WatchesByPath).await {
        if let GatherPart::ByPath(w) = p {
            for (path, ids) in w {
                by_path.entry(path).or_default().extend(ids);
            }
        }
    }
    for ids in by_path.values_mut() {
        ids.sort_unstable();
    }
    by_path
}

/// Every data watch by session (a session's watches are all on one core).
pub async fn watches_by_session(core: &Rc<Core>) -> BTreeMap<i64, Vec<String>> {
    let mut by_session = BTreeMap::new();
    for p in core.gather(GatherKind::WatchesBySession).await {
        if let GatherPart::BySession(w) = p {
            by_session.extend(w);
        }
    }
    by_session
}

/// `wchs`: (sessions watching, paths watched, watches), from the watches by path.
pub fn watch_totals(by_path: &BTreeMap<String, Vec<i64>>) -> (usize, usize, usize) {
    let sessions: std::collections::HashSet<i64> = by_path.values().flatten().copied().collect();
    (
        sessions.len(),
        by_path.len(),
        by_path.values().map(Vec::len).sum(),
    )
}

/// The sessions attached to every core's connections, ascending by id.
pub async fn sessions(core: &Rc<Core>) -> Vec<SessionInfo> {
    let mut all: Vec<SessionInfo> = core
        .gather(GatherKind::Sessions)
        .await
        .into_iter()
        .flat_map(|p| match p {
            GatherPart::Sessions(s) => s,
            _ => Vec::new(),
        })
        .collect();
    all.sort_unstable_by_key(|s| s.id);
    all
}

/// Resets every connection's counters (`crst`).
pub async fn reset_connections(core: &Rc<Core>) {
    core.gather(GatherKind::ResetConns).await;
}

/// The server-wide counters of `srvr` (ZooKeeper's `ServerStats`).
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub version: String,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub avg_latency_ms: f64,
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
    pub connections: i64,
    pub outstanding: i64,
    pub last_zxid: i64,
    pub node_count: usize,
    pub auth_failed: u64,
    pub uptime_ms: u64,
    /// Log syncs slower than `fsync.warningthresholdms`.
    pub fsync_threshold_exceeded: u64,
}

pub fn server_facts(core: &Rc<Core>) -> ServerFacts {
    let t = core.stats.totals();
    ServerFacts {
        version: version_string(),
        packets_received: t.packets_received,
        packets_sent: t.packets_sent,
        avg_latency_ms: t.latency_avg_us as f64 / 1000.0,
        min_latency_ms: t.latency_min_us / 1000,
        max_latency_ms: t.latency_max_us / 1000,
        connections: t.connections,
        outstanding: t.outstanding,
        last_zxid: core.last_zxid.get(),
        node_count: core.tree().node_count(),
        auth_failed: t.auth_failed,
        uptime_ms: core.stats.started.elapsed().as_millis() as u64,
        fsync_threshold_exceeded: core.stats.quorum().fsync_threshold_exceeded.load(Relaxed),
    }
}

/// A `mntr` value, typed so JSON and Prometheus keep ZooKeeper's number types.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Int(i64),
    /// A value and the decimals the text form shows.
    Float(f64, usize),
    /// A Java `double` as ZooKeeper's `mntr` prints it (`Double.toString`: the
    /// shortest form that reads back the same, `0.0`, `1.5`).
    Double(f64),
    Text(String),
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metric::Int(v) => write!(f, "{v}"),
            Metric::Float(v, d) => write!(f, "{v:.d$}"),
            Metric::Double(v) => write!(f, "{v:?}"),
            Metric::Text(s) => f.write_str(s),
        }
    }
}

fn int(v: impl TryInto<i64>) -> Metric {
    Metric::Int(v.try_into().unwrap_or(i64::MAX))
}

/// The `mntr` rows (ZooKeeper's names with `zk_`, ringkeeper's own with `rk_`): the
/// 4lw prints them, the AdminServer's `monitor` and the Prometheus gauges use them.
pub fn monitor(core: &Rc<Core>) -> Vec<(String, Metric)> {
    let f = server_facts(core);
    let tree = core.tree();
    let q = core.stats.quorum();
    let (open_fds, max_fds) = fd_counts();
    let batches = q.batches.load(Relaxed);
    let batched = q.batched_txns.load(Relaxed);
    let fsyncs = q.fsyncs.load(Relaxed);
    let rows: Vec<(&str, Metric)> = vec![
        ("zk_version", Metric::Text(f.version)),
        (
            "zk_server_state",
            Metric::Text(core.stats.mode().name().into()),
        ),
        ("zk_avg_latency", Metric::Float(f.avg_latency_ms, 4)),
        ("zk_max_latency", int(f.max_latency_ms)),
        ("zk_min_latency", int(f.min_latency_ms)),
        ("zk_packets_received", int(f.packets_received)),
        ("zk_packets_sent", int(f.packets_sent)),
        ("zk_num_alive_connections", int(f.connections)),
        ("zk_outstanding_requests", int(f.outstanding)),
        ("zk_znode_count", int(f.node_count)),
        ("zk_watch_count", int(core.stats.watch_count())),
        ("zk_ephemerals_count", int(tree.ephemerals_count())),
        (
            "zk_approximate_data_size",
            int(tree.approximate_data_size()),
        ),
        ("zk_open_file_descriptor_count", int(open_fds)),
        ("zk_max_file_descriptor_count", int(max_fds)),
        ("zk_uptime", int(f.uptime_ms)),
        ("zk_global_sessions", int(q.sessions.load(Relaxed))),
        // Every session is global: there are no local sessions to count.
        ("zk_local_sessions", Metric::Int(0)),
        // ringkeeper never drops connections at random.
        ("zk_connection_drop_probability", Metric::Float(0.0, 1)),
        ("zk_auth_failed_count", int(f.auth_failed)),
        ("zk_sessions_expired", int(q.sessions_expired.load(Relaxed))),
        (
            "zk_digest_mismatches_count",
            int(q.digest_mismatches.load(Relaxed)),
        ),
        (
            "zk_outstanding_tls_handshake",
            int(core.stats.tls.outstanding.load(Relaxed)),
        ),
        (
            "zk_tls_handshake_exceeded",
            int(core.stats.tls.exceeded.load(Relaxed)),
        ),
        (
            "zk_unsuccessful_handshake",
            int(core.stats.tls.unsuccessful.load(Relaxed)),
        ),
        (
            "zk_insecure_admin_count",
            int(core.stats.tls.insecure_admin.load(Relaxed)),
        ),
        // ssl.ocsp: client certificates shown good by a fetched or a cached answer,
        // refused as revoked, without an OCSP answer, and of those saved by a CRL.
        ("rk_ocsp_good", int(core.stats.tls.ocsp.good.load(Relaxed))),
        (
            "rk_ocsp_cached",
            int(core.stats.tls.ocsp.cached.load(Relaxed)),
        ),
        (
            "rk_ocsp_revoked",
            int(core.stats.tls.ocsp.revoked.load(Relaxed)),
        ),
        (
            "rk_ocsp_failed",
            int(core.stats.tls.ocsp.failed.load(Relaxed)),
        ),
        (
            "rk_ocsp_crl_fallback",
            int(core.stats.tls.ocsp.crl_fallback.load(Relaxed)),
        ),
        ("zk_fsync_count", int(fsyncs)),
        (
            "zk_avg_fsynctime",
            Metric::Float(ratio(q.fsync_us_sum.load(Relaxed), fsyncs) / 1000.0, 3),
        ),
        // Whole ms, as ZooKeeper's summary maxima are.
        ("zk_max_fsynctime", int(q.fsync_us_max.load(Relaxed) / 1000)),
        (
            "rk_txns_per_fsync",
            Metric::Float(ratio(q.fsynced_txns.load(Relaxed), fsyncs), 2),
        ),
        (
            "rk_bytes_per_fsync",
            Metric::Float(ratio(q.fsynced_bytes.load(Relaxed), fsyncs), 0),
        ),
        ("rk_snapshots", int(q.snapshots.load(Relaxed))),
        ("rk_session_cores", int(core.cfg.session_cores)),
        (
            "rk_published_versions",
            int(crate::server::published_versions()),
        ),
        ("rk_commit_batches", int(batches)),
        ("rk_committed_txns", int(batched)),
        (
            "rk_txns_per_batch",
            Metric::Float(ratio(batched, batches), 2),
        ),
    ];
    drop(tree);
    let mut rows: Vec<(String, Metric)> =
        rows.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    quorum_rows(core, &mut rows);
    if core.cfg.ensemble && core.stats.mode().serves() && core.stats.mode() != ServerMode::ReadOnly
    {
        // QuorumZooKeeperServer's gauge: a leader's, follower's or observer's.
        let size = core.stats.zab.quorum_size.load(Relaxed);
        rows.push(("zk_quorum_size".to_owned(), int(size)));
    }
    if core.stats.mode() == ServerMode::Leader {
        // What ZooKeeper's leader adds to `mntr`.
        let l = &core.stats.leader;
        let up = core.stats.started.elapsed().as_millis() as u64;
        let since = l.established_ms.load(Relaxed);
        rows.push(("zk_leader_uptime".to_owned(), int(up.saturating_sub(since))));
        for (k, v) in [
            ("zk_learners", &l.learners),
            ("zk_synced_followers", &l.synced_followers),
            (
                "zk_synced_non_voting_followers",
                &l.synced_non_voting_followers,
            ),
            ("zk_synced_observers", &l.synced_observers),
            ("zk_pending_syncs", &l.pending_syncs),
            ("zk_last_proposal_size", &l.last_proposal_size),
            ("zk_max_proposal_size", &l.max_proposal_size),
            ("zk_min_proposal_size", &l.min_proposal_size),
        ] {
            rows.push((k.to_owned(), int(v.load(Relaxed))));
        }
    }
    let l = &core.stats.leader;
    if core.stats.mode() == ServerMode::Follower && l.observer_master.load(Relaxed) {
        // FollowerZooKeeperServer's gauge, while its ObserverMaster runs.
        let n = l.synced_observers.load(Relaxed);
        rows.push(("zk_synced_observers".to_owned(), int(n)));
    }
    for stage in Stage::ALL {
        let sum = core.stats.stage_summary(stage);
        let name = stage.name();
        rows.push((format!("rk_stage_{name}_count"), int(sum.count)));
        rows.push((format!("rk_stage_{name}_us_p50"), int(sum.p50_us)));
        rows.push((format!("rk_stage_{name}_us_p99"), int(sum.p99_us)));
        rows.push((format!("rk_stage_{name}_us_p999"), int(sum.p999_us)));
        rows.push((format!("rk_stage_{name}_us_max"), int(sum.max_us)));
    }
    rows
}

/// ZooKeeper's quorum counters ringkeeper counts, with their values.
pub fn zookeeper_quorum_counters(core: &Core) -> [(&'static str, u64); 7] {
    let z = &core.stats.zab;
    [
        ("looking_count", z.looking_count.load(Relaxed)),
        ("proposal_count", z.proposal_count.load(Relaxed)),
        ("commit_count", z.commit_count.load(Relaxed)),
        (
            "learner_proposal_received_count",
            z.learner_proposal_received_count.load(Relaxed),
        ),
        (
            "learner_commit_received_count",
            z.learner_commit_received_count.load(Relaxed),
        ),
        ("diff_count", z.diff_count.load(Relaxed)),
        ("snap_count", z.snap_count.load(Relaxed)),
    ]
}

/// The rows ZooKeeper's default metrics provider prints for its quorum metrics. They
/// are server-wide in ZooKeeper, so every server prints them (0 where unused).
fn quorum_rows(core: &Rc<Core>, rows: &mut Vec<(String, Metric)>) {
    for (name, v) in zookeeper_quorum_counters(core) {
        rows.push((format!("zk_{name}"), int(v)));
    }
    for &(name, advanced, of) in ZOOKEEPER_QUORUM_SUMMARIES {
        summary_rows(rows, name, &of(&core.stats), advanced);
    }
    for (sid, s) in core.stats.zab.ack_latency() {
        summary_rows(rows, &format!("{sid}_ack_latency"), &s, true);
    }
}

/// `zk_avg_NAME` ... `zk_sum_NAME` (an `AvgMinMaxCounter`), and with `percentiles`
/// `zk_p50_NAME` ... `zk_p999_NAME` (an `AvgMinMaxPercentileCounter`), in ms.
fn summary_rows(
    rows: &mut Vec<(String, Metric)>,
    name: &str,
    s: &crate::ops::histogram::Summary,
    percentiles: bool,
) {
    let ms = |us: u64| int(us / 1000);
    rows.push((format!("zk_avg_{name}"), Metric::Double(s.mean_us / 1000.0)));
    rows.push((format!("zk_min_{name}"), ms(s.min_us)));
    rows.push((format!("zk_max_{name}"), ms(s.max_us)));
    rows.push((format!("zk_cnt_{name}"), int(s.count)));
    rows.push((format!("zk_sum_{name}"), ms(s.sum_us)));
    if percentiles {
        for (p, us) in [
            ("p50", s.p50_us),
            ("p95", s.p95_us),
            ("p99", s.p99_us),
            ("p999", s.p999_us),
        ] {
            rows.push((format!("zk_{p}_{name}"), ms(us)));
        }
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// (open, max) file descriptors of this process, from /proc.
pub fn fd_counts() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (open, max)
}

/// The bytes of the regular files directly in `p` (`dirs`), 0 if unreadable. Reads
/// the disk: call it on the blocking pool.
pub fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// (dataDir, dataLogDir) sizes, computed on the blocking pool.
pub async fn dir_sizes(core: &Rc<Core>) -> (u64, u64) {
    let (data, log) = (core.cfg.data_dir.clone(), core.cfg.data_log_dir.clone());
    glommio::executor()
        .spawn_blocking(move || (dir_size(&data), dir_size(&log)))
        .await
}

/// The environment `envi` lists (ZooKeeper's `Environment.list`, less the JVM's).
pub fn environment(core: &Rc<Core>) -> Vec<(&'static str, String)> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let user = user();
    vec![
        ("zookeeper.version", version_string()),
        ("host.name", host.trim().to_owned()),
        (
            "server.implementation",
            format!("ringkeeper {}", env!("CARGO_PKG_VERSION")),
        ),
        ("os.name", environment_os().0.to_owned()),
        ("os.arch", environment_os().1.to_owned()),
        ("os.version", release.trim().to_owned()),
        ("user.name", user.0),
        ("user.home", user.1),
        ("user.dir", dir),
        ("session.cores", core.cfg.session_cores.to_string()),
    ]
}

/// (`user.name`, `user.home`) as Java finds them: the process's user in the
/// password database, not the environment (which a service may not have).
pub fn user() -> (String, String) {
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() }.to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2] == uid).then(|| (f[0].to_owned(), f[5].to_owned()))
            })
        })
        .unwrap_or_else(|| {
            (
                std::env::var("USER").unwrap_or_default(),
                std::env::var("HOME").unwrap_or_default(),
            )
        })
}

/// (`os.name`, `os.arch`) as Java spells them.
pub fn environment_os() -> (&'static str, &'static str) {
    let name = match std::env::consts::OS {
        "linux" => "Linux",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    };
    (name, arch)
}

/// The newest snapshot in dataDir: (zxid, modification time in ms since the epoch).
/// Reads the disk: call it on the blocking pool.
pub fn last_snapshot(data_dir: &std::path::Path) -> Option<(i64, i64)> {
    std::fs::read_dir(data_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let zxid = name
                .to_str()?
                .strip_prefix("snapshot.")
                .and_then(|hex| i64::from_str_radix(hex, 16).ok())?;
            let modified = e.metadata().ok()?.modified().ok()?;
            let ms = modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            Some((zxid, ms))
        })
        .max_by_key(|(zxid, _)| *zxid)
}
