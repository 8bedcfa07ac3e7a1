//! The four-letter words: plain-text commands sent on the client port instead of a
//! handshake. Output formats follow ZooKeeper's `server/command/*Command.java`, since
//! monitoring scripts parse them.
//!
//! A session core answers from its replica of the tree and the summed counters of
//! every core; words about connections and watches (`cons`, `stat`, `crst`, `wchs`,
//! `wchc`, `wchp`, `dump`) gather every core's share first ([`Core::gather`]), so the
//! answer covers the whole server as ZooKeeper's does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use crate::server::messages::{GatherKind, GatherPart};
use crate::server::stats::Stage;
use crate::server::Core;
use crate::watch::WatchSummary;

/// The version string clients read (kazoo parses it from `envi`): the ZooKeeper
/// protocol level ringkeeper implements, then ringkeeper's own version.
pub fn version_string() -> String {
    format!(
        "3.9.3-ringkeeper-{}, built on {}",
        env!("CARGO_PKG_VERSION"),
        "ringkeeper release build"
    )
}

/// Words ringkeeper recognises but does not answer (trace masks, digests, leader info).
const UNSUPPORTED: &[&str] = &["gtmk", "stmk", "hash", "lead"];

/// The full answer to `word`; the connection closes after it is written.
pub async fn answer(core: &Rc<Core>, word: &str) -> String {
    if !core.cfg.four_letter_words.allows(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    if word == "dirs" {
        // The one word that reads the disk (directory entries and their metadata), so
        // it runs on the blocking pool, not on the session core. The others read only
        // this process's memory or /proc, which the kernel serves without disk I/O.
        let (data, log) = (core.cfg.data_dir.clone(), core.cfg.data_log_dir.clone());
        return glommio::executor()
            .spawn_blocking(move || dirs(&data, &log))
            .await;
    }
    match word {
        "cons" => {
            let mut s = texts(core.gather(GatherKind::Cons).await);
            s.push('\n');
            s
        }
        "stat" => srvr(core, Some(texts(core.gather(GatherKind::Clients).await))),
        "crst" => {
            core.gather(GatherKind::ResetConns).await;
            "Connection stats reset.\n".to_owned()
        }
        "wchc" => {
            let mut by_session = BTreeMap::new();
            for p in core.gather(GatherKind::WatchesBySession).await {
                if let GatherPart::BySession(w) = p {
                    by_session.extend(w);
                }
            }
            wchc(&by_session)
        }
        "wchs" | "wchp" => {
            let mut by_path: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for p in core.gather(GatherKind::WatchesByPath).await {
                if let GatherPart::ByPath(w) = p {
                    for (path, ids) in w {
                        by_path.entry(path).or_default().extend(ids);
                    }
                }
            }
            if word == "wchs" {
                wchs(&by_path)
            } else {
                wchp(&mut by_path)
            }
        }
        "dump" => {
            let mut ids: Vec<i64> = core
                .gather(GatherKind::Sessions)
                .await
                .into_iter()
                .flat_map(|p| match p {
                    GatherPart::Sessions(ids) => ids,
                    _ => Vec::new(),
                })
                .collect();
            ids.sort_unstable();
            dump(core, &ids)
        }
        _ => answer_in_memory(core, word),
    }
}

/// This core's share of a gather (see [`Core::gather`]).
pub fn local_part(core: &Rc<Core>, kind: GatherKind) -> GatherPart {
    match kind {
        GatherKind::Cons => GatherPart::Text(cons_lines(core)),
        GatherKind::Clients => GatherPart::Text(client_lines(core)),
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
            GatherPart::Sessions(core.by_session.borrow().keys().copied().collect())
        }
        GatherKind::ResetConns => {
            for c in core.conns.borrow().values() {
                c.stats.reset();
            }
            GatherPart::Text(String::new())
        }
    }
}

/// The text shares of a gather, concatenated.
fn texts(parts: Vec<GatherPart>) -> String {
    parts
        .into_iter()
        .filter_map(|p| match p {
            GatherPart::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// The whitelisted words that need nothing from the other cores.
fn answer_in_memory(core: &Rc<Core>, word: &str) -> String {
    match word {
        "ruok" => "imok".to_owned(),
        "srvr" => srvr(core, None),
        "mntr" => mntr(core),
        "conf" => conf(core),
        "srst" => {
            core.stats.reset();
            "Server stats reset.\n".to_owned()
        }
        "envi" => envi(core),
        "isro" => "rw".to_owned(),
        w if UNSUPPORTED.contains(&w) => format!("{w} is not supported by ringkeeper\n"),
        w => format!("{w} is not executed because it is not in the whitelist.\n"),
    }
}

/// `stat`'s line for each of this core's connections.
fn client_lines(core: &Rc<Core>) -> String {
    let mut s = String::new();
    for c in core.conns.borrow().values() {
        let _ = writeln!(
            s,
            " /{}[1](queued={},recved={},sent={})",
            c.peer,
            c.pending.borrow().len(),
            c.stats.packets_received.get(),
            c.stats.packets_sent.get()
        );
    }
    s
}

/// `srvr`, or `stat` when given every core's client lines.
fn srvr(core: &Rc<Core>, clients: Option<String>) -> String {
    let t = core.stats.totals();
    let mut s = String::new();
    let _ = writeln!(s, "Zookeeper version: {}", version_string());
    if let Some(clients) = clients {
        s.push_str("Clients:\n");
        s.push_str(&clients);
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Latency min/avg/max: {}/{:.4}/{}",
        t.latency_min_us / 1000,
        t.latency_avg_us as f64 / 1000.0,
        t.latency_max_us / 1000
    );
    let _ = writeln!(s, "Received: {}", t.packets_received);
    let _ = writeln!(s, "Sent: {}", t.packets_sent);
    let _ = writeln!(s, "Connections: {}", t.connections);
    let _ = writeln!(s, "Outstanding: {}", t.outstanding);
    let _ = writeln!(s, "Zxid: 0x{:x}", core.last_zxid.get());
    s.push_str("Mode: standalone\n");
    let _ = writeln!(s, "Node count: {}", core.tree().node_count());
    s
}

/// The `mntr` rows (key, value), also served as Prometheus gauges.
pub fn mntr_rows(core: &Rc<Core>) -> Vec<(String, String)> {
    let t = core.stats.totals();
    let tree = core.tree();
    let q = core.stats.quorum();
    let (open_fds, max_fds) = fd_counts();
    let batches = q.batches.load(Relaxed);
    let batched = q.batched_txns.load(Relaxed);
    let rows: Vec<(&str, String)> = vec![
        ("zk_version", version_string()),
        ("zk_server_state", "standalone".into()),
        (
            "zk_avg_latency",
            format!("{:.4}", t.latency_avg_us as f64 / 1000.0),
        ),
        ("zk_max_latency", (t.latency_max_us / 1000).to_string()),
        ("zk_min_latency", (t.latency_min_us / 1000).to_string()),
        ("zk_packets_received", t.packets_received.to_string()),
        ("zk_packets_sent", t.packets_sent.to_string()),
        ("zk_num_alive_connections", t.connections.to_string()),
        ("zk_outstanding_requests", t.outstanding.to_string()),
        ("zk_znode_count", tree.node_count().to_string()),
        ("zk_watch_count", core.stats.watch_count().to_string()),
        ("zk_ephemerals_count", tree.ephemerals_count().to_string()),
        (
            "zk_approximate_data_size",
            tree.approximate_data_size().to_string(),
        ),
        ("zk_open_file_descriptor_count", open_fds.to_string()),
        ("zk_max_file_descriptor_count", max_fds.to_string()),
        (
            "zk_uptime",
            core.stats.started.elapsed().as_millis().to_string(),
        ),
        ("zk_global_sessions", q.sessions.load(Relaxed).to_string()),
        ("zk_local_sessions", "0".into()),
        ("zk_connection_drop_probability", "0.0".into()),
        ("zk_auth_failed_count", t.auth_failed.to_string()),
        (
            "zk_sessions_expired",
            q.sessions_expired.load(Relaxed).to_string(),
        ),
        ("zk_fsync_count", q.fsyncs.load(Relaxed).to_string()),
        (
            "zk_avg_fsynctime",
            format!(
                "{:.3}",
                ratio(q.fsync_us_sum.load(Relaxed), q.fsyncs.load(Relaxed)) / 1000.0
            ),
        ),
        (
            "zk_max_fsynctime",
            format!("{:.3}", q.fsync_us_max.load(Relaxed) as f64 / 1000.0),
        ),
        (
            "rk_txns_per_fsync",
            format!(
                "{:.2}",
                ratio(q.fsynced_txns.load(Relaxed), q.fsyncs.load(Relaxed))
            ),
        ),
        (
            "rk_bytes_per_fsync",
            format!(
                "{:.0}",
                ratio(q.fsynced_bytes.load(Relaxed), q.fsyncs.load(Relaxed))
            ),
        ),
        ("rk_snapshots", q.snapshots.load(Relaxed).to_string()),
        ("rk_session_cores", core.cfg.session_cores.to_string()),
        (
            "rk_published_versions",
            crate::server::published_versions().to_string(),
        ),
        ("rk_commit_batches", batches.to_string()),
        ("rk_committed_txns", batched.to_string()),
        (
            "rk_txns_per_batch",
            format!(
                "{:.2}",
                if batches == 0 {
                    0.0
                } else {
                    batched as f64 / batches as f64
                }
            ),
        ),
    ];
    let mut rows: Vec<(String, String)> =
        rows.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for stage in Stage::ALL {
        let sum = core.stats.stage_summary(stage);
        let name = stage.name();
        rows.push((format!("rk_stage_{name}_count"), sum.count.to_string()));
        rows.push((format!("rk_stage_{name}_us_p50"), sum.p50_us.to_string()));
        rows.push((format!("rk_stage_{name}_us_p99"), sum.p99_us.to_string()));
        rows.push((format!("rk_stage_{name}_us_p999"), sum.p999_us.to_string()));
        rows.push((format!("rk_stage_{name}_us_max"), sum.max_us.to_string()));
    }
    rows
}

fn mntr(core: &Rc<Core>) -> String {
    let mut s = String::new();
    for (k, v) in mntr_rows(core) {
        let _ = writeln!(s, "{k}\t{v}");
    }
    s
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn conf(core: &Rc<Core>) -> String {
    let c = &core.cfg;
    let mut s = String::new();
    let _ = writeln!(s, "clientPort={}", c.client_addr.port());
    let _ = writeln!(s, "clientPortAddress={}", c.client_addr.ip());
    let _ = writeln!(s, "secureClientPort=-1");
    let _ = writeln!(s, "dataDir={}", c.data_dir.display());
    let _ = writeln!(s, "dataLogDir={}", c.data_log_dir.display());
    let _ = writeln!(s, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(s, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(s, "minSessionTimeout={}", c.min_session_timeout_ms);
    let _ = writeln!(s, "maxSessionTimeout={}", c.max_session_timeout_ms);
    let _ = writeln!(s, "clientPortListenBacklog=-1");
    let _ = writeln!(s, "serverId={}", c.server_id);
    let _ = writeln!(s, "snapCount={}", c.snap_count);
    let _ = writeln!(s, "preAllocSize={}", c.prealloc_bytes / 1024);
    let _ = writeln!(s, "forceSync={}", if c.force_sync { "yes" } else { "no" });
    let _ = writeln!(s, "autopurge.snapRetainCount={}", c.snap_retain_count);
    let _ = writeln!(s, "autopurge.purgeInterval={}", c.purge_interval_hours);
    let _ = writeln!(s, "commitBatchMaxTxns={}", c.commit_batch_max_txns);
    let _ = writeln!(s, "commitBatchMaxBytes={}", c.commit_batch_max_bytes);
    let _ = writeln!(s, "cores={}", c.session_cores);
    let layout = if c.quorum_shared() {
        "shared"
    } else {
        "dedicated"
    };
    let _ = writeln!(s, "quorumCore={layout}");
    let inline = match c.sync_inline() {
        crate::config::SyncInline::Always => "yes",
        crate::config::SyncInline::Never => "no",
        crate::config::SyncInline::WhenNoReads => "auto (when no reads)",
    };
    let _ = writeln!(s, "syncInline={inline}");
    s
}

/// `cons`' line for each of this core's connections.
fn cons_lines(core: &Rc<Core>) -> String {
    let mut s = String::new();
    for c in core.conns.borrow().values() {
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
        let _ = writeln!(
            s,
            " /{}[1](queued={},recved={},sent={},sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={})",
            c.peer,
            c.pending.borrow().len(),
            st.packets_received.get(),
            st.packets_sent.get(),
            c.session.get(),
            st.last_op.get(),
            st.established_ms,
            c.timeout_ms.get(),
            st.last_cxid.get(),
            st.last_zxid.get(),
            st.last_response_ms.get(),
            0,
            min,
            avg,
            max
        );
    }
    s
}

fn envi(core: &Rc<Core>) -> String {
    let mut s = String::from("Environment:\n");
    let _ = writeln!(s, "zookeeper.version={}", version_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let _ = writeln!(s, "host.name={}", host.trim());
    let _ = writeln!(
        s,
        "server.implementation=ringkeeper {}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s, "os.name={}", std::env::consts::OS);
    let _ = writeln!(s, "os.arch={}", std::env::consts::ARCH);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(s, "os.version={}", release.trim());
    let _ = writeln!(s, "user.name={}", std::env::var("USER").unwrap_or_default());
    let _ = writeln!(s, "user.home={}", std::env::var("HOME").unwrap_or_default());
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let _ = writeln!(s, "user.dir={dir}");
    let _ = writeln!(s, "session.cores={}", core.cfg.session_cores);
    s
}

/// `WatchRegistry::summary` over every core, from their data watches by path (a
/// session's watches are all on the one core its connection is on).
fn wchs(by_path: &BTreeMap<String, Vec<i64>>) -> String {
    let sessions: std::collections::HashSet<i64> = by_path.values().flatten().copied().collect();
    let sum = WatchSummary {
        sessions: sessions.len(),
        paths: by_path.len(),
        watches: by_path.values().map(Vec::len).sum(),
    };
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        sum.sessions, sum.paths, sum.watches
    )
}

/// Sessions ascending, as `WatchRegistry::by_session` sorts them.
fn wchc(by_session: &BTreeMap<i64, Vec<String>>) -> String {
    let mut s = String::new();
    for (session, paths) in by_session {
        let _ = writeln!(s, "0x{session:x}");
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s
}

/// Each path's sessions ascending, as `WatchRegistry::by_path` sorts them.
fn wchp(by_path: &mut BTreeMap<String, Vec<i64>>) -> String {
    let mut s = String::new();
    for (path, sessions) in by_path {
        sessions.sort_unstable();
        let _ = writeln!(s, "{path}");
        for id in sessions {
            let _ = writeln!(s, "\t0x{id:x}");
        }
    }
    s
}

/// `dump`, given the sessions attached to every core's connections (ascending).
fn dump(core: &Rc<Core>, ids: &[i64]) -> String {
    let tree = core.tree();
    let mut s = String::from("SessionTracker dump:\n");
    let _ = writeln!(s, "Global Sessions({}):", ids.len());
    for id in ids {
        let _ = writeln!(s, "0x{id:x}");
    }
    s.push_str("ephemeral nodes dump:\n");
    let with: Vec<(i64, Vec<String>)> = ids
        .iter()
        .map(|id| {
            (
                *id,
                tree.ephemerals(*id).map(str::to_owned).collect::<Vec<_>>(),
            )
        })
        .filter(|(_, e)| !e.is_empty())
        .collect();
    let _ = writeln!(s, "Sessions with Ephemerals ({}):", with.len());
    for (id, paths) in with {
        let _ = writeln!(s, "0x{id:x}:");
        for p in paths {
            let _ = writeln!(s, "\t{p}");
        }
    }
    s
}

fn dirs(data_dir: &std::path::Path, data_log_dir: &std::path::Path) -> String {
    format!(
        "datadir_size: {}\nlogdir_size: {}\n",
        dir_size(data_dir),
        dir_size(data_log_dir)
    )
}

fn dir_size(p: &std::path::Path) -> u64 {
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

fn fd_counts() -> (u64, u64) {
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
