//! The four-letter words: plain-text commands sent on the client port instead of a
//! handshake. Output formats follow ZooKeeper's `server/command/*Command.java`, since
//! monitoring scripts parse them.
//!
//! The values come from [`report`], which the AdminServer shares; this module only
//! formats them. Words about connections and watches (`cons`, `stat`, `crst`, `wchs`,
//! `wchc`, `wchp`, `dump`) cover every session core, as ZooKeeper's answer covers
//! the whole server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::ops::report::{self, ConnInfo, SessionInfo};
use crate::server::Core;

pub use crate::ops::report::{local_part, version_string};

/// Words ringkeeper recognises but does not answer (trace masks, leader info).
const UNSUPPORTED: &[&str] = &["gtmk", "stmk", "lead"];

/// The full answer to `word`; the connection closes after it is written.
pub async fn answer(core: &Rc<Core>, word: &str) -> String {
    if !core.cfg.four_letter_words.allows(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    match word {
        "dirs" => {
            let (data, log) = report::dir_sizes(core).await;
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        "cons" => {
            let mut s = String::new();
            for c in report::connections(core).await {
                cons_line(&mut s, &c);
            }
            s.push('\n');
            s
        }
        "stat" => {
            let mut clients = String::new();
            for c in report::connections(core).await {
                let _ = writeln!(
                    clients,
                    " /{}[1](queued={},recved={},sent={})",
                    c.remote, c.outstanding, c.packets_received, c.packets_sent
                );
            }
            srvr(core, Some(clients))
        }
        "crst" => {
            report::reset_connections(core).await;
            "Connection stats reset.\n".to_owned()
        }
        "wchc" => wchc(&report::watches_by_session(core).await),
        "wchs" => {
            let (sessions, paths, watches) =
                report::watch_totals(&report::watches_by_path(core).await);
            format!("{sessions} connections watching {paths} paths\nTotal watches:{watches}\n")
        }
        "wchp" => wchp(&report::watches_by_path(core).await),
        "dump" => dump(core, &report::sessions(core).await),
        _ => answer_in_memory(core, word),
    }
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
        // `DigestCommand`: the digest history, "<zxid in hex>: <digest>" per line.
        "hash" => {
            let mut s = String::new();
            for (zxid, digest) in core.tree().digest_log() {
                let _ = writeln!(s, "{zxid:x}: {}", digest as i64);
            }
            s
        }
        "isro" => match core.stats.mode() {
            crate::server::stats::ServerMode::ReadOnly => "ro".to_owned(),
            _ => "rw".to_owned(),
        },
        w if UNSUPPORTED.contains(&w) => format!("{w} is not supported by ringkeeper\n"),
        w => format!("{w} is not executed because it is not in the whitelist.\n"),
    }
}

/// `srvr`, or `stat` when given every core's client lines.
fn srvr(core: &Rc<Core>, clients: Option<String>) -> String {
    let f = report::server_facts(core);
    let mut s = String::new();
    let _ = writeln!(s, "Zookeeper version: {}", f.version);
    if let Some(clients) = clients {
        s.push_str("Clients:\n");
        s.push_str(&clients);
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Latency min/avg/max: {}/{:.4}/{}",
        f.min_latency_ms, f.avg_latency_ms, f.max_latency_ms
    );
    let _ = writeln!(s, "Received: {}", f.packets_received);
    let _ = writeln!(s, "Sent: {}", f.packets_sent);
    let _ = writeln!(s, "Connections: {}", f.connections);
    let _ = writeln!(s, "Outstanding: {}", f.outstanding);
    let _ = writeln!(s, "Zxid: 0x{:x}", f.last_zxid);
    let _ = writeln!(s, "Mode: {}", core.stats.mode().name());
    let _ = writeln!(s, "Node count: {}", f.node_count);
    s
}

fn mntr(core: &Rc<Core>) -> String {
    let mut s = String::new();
    for (k, v) in report::monitor(core) {
        let _ = writeln!(s, "{k}\t{v}");
    }
    s
}

fn conf(core: &Rc<Core>) -> String {
    let c = &core.cfg;
    let mut s = String::new();
    // ZooKeeper's dumpConf: each port, or -1 when it is not served.
    if c.plaintext_port {
        let _ = writeln!(s, "clientPort={}", c.client_addr.port());
        let _ = writeln!(s, "clientPortAddress={}", c.client_addr.ip());
    } else {
        let _ = writeln!(s, "clientPort=-1");
    }
    let _ = writeln!(s, "secureClientPort={}", c.secure_client_port());
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

/// `cons`' line for one connection.
fn cons_line(s: &mut String, c: &ConnInfo) {
    let _ = writeln!(
        s,
        " /{}[1](queued={},recved={},sent={},sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={})",
        c.remote,
        c.outstanding,
        c.packets_received,
        c.packets_sent,
        c.session_id,
        c.last_operation,
        c.established_ms,
        c.session_timeout_ms,
        c.last_cxid,
        c.last_zxid,
        c.last_response_ms,
        c.last_latency_ms,
        c.min_latency_ms,
        c.avg_latency_ms,
        c.max_latency_ms
    );
}

fn envi(core: &Rc<Core>) -> String {
    let mut s = String::from("Environment:\n");
    for (k, v) in report::environment(core) {
        let _ = writeln!(s, "{k}={v}");
    }
    s
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
fn wchp(by_path: &BTreeMap<String, Vec<i64>>) -> String {
    let mut s = String::new();
    for (path, sessions) in by_path {
        let _ = writeln!(s, "{path}");
        for id in sessions {
            let _ = writeln!(s, "\t0x{id:x}");
        }
    }
    s
}

/// `dump`, given the sessions attached to every core's connections (ascending).
fn dump(core: &Rc<Core>, sessions: &[SessionInfo]) -> String {
    let tree = core.tree();
    let mut s = String::from("SessionTracker dump:\n");
    let _ = writeln!(s, "Global Sessions({}):", sessions.len());
    for info in sessions {
        let _ = writeln!(s, "0x{:x}", info.id);
    }
    s.push_str("ephemeral nodes dump:\n");
    let with: Vec<(i64, Vec<String>)> = sessions
        .iter()
        .map(|info| {
            (
                info.id,
                tree.ephemerals(info.id)
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
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
