//! The AdminServer: ZooKeeper's HTTP interface to the four-letter words, as JSON
//! (`admin.serverAddress`:`admin.serverPort`, `admin.commandURL`).
//!
//! `GET <commandURL>` lists the commands as links; `GET <commandURL>/<name>` runs
//! one, by its primary name or an alias, and answers a JSON object holding the
//! command's fields, `command` (the primary name) and `error` (`null`, or why it
//! failed), with the names and types of ZooKeeper 3.8/3.9's `Commands`. An unknown
//! name answers 200 with `error` set, as ZooKeeper does. Only the commands that mean
//! something for ringkeeper are served; ZooKeeper's trace-mask commands are not.
//! 3.9's `snapshot` and `restore`, the only ones it guards with auth, are
//! [`admin_snapshot`]'s.
//!
//! The values come from [`report`], the same source as the four-letter words. The
//! server runs on session core 0's low-priority operator queue (see
//! [`crate::ops::serve`]); the JSON text is written on the blocking pool.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncWrite};

use serde_json::{json, Map, Value};

use crate::ops::admin_snapshot::{self, Limits, RateLimiter, Requester};
use crate::ops::http;
use crate::ops::report::{self, ConnInfo, Metric};
use crate::server::Core;
use crate::tree::digest::DIGEST_VERSION;

/// Admin requests served at once; more get 503.
const CONCURRENT_MAX: usize = 64;

/// Every command: its primary name first, then its aliases (ZooKeeper's names).
pub const COMMANDS: &[&[&str]] = &[
    &["connection_stat_reset", "crst"],
    &["configuration", "conf", "config"],
    &["connections", "cons"],
    &["hash"],
    &["dirs"],
    &["dump"],
    &["environment", "env", "envi"],
    &["initial_configuration", "icfg"],
    &["is_read_only", "isro"],
    &["last_snapshot", "lsnp"],
    &["leader", "lead"],
    &["monitor", "mntr"],
    &["observer_connection_stat_reset", "orst"],
    &["observers", "obsr"],
    &["restore", "rest"],
    &["ruok"],
    &["server_stats", "srvr"],
    &["snapshot", "snap"],
    &["stat_reset", "srst"],
    &["stats", "stat"],
    &["system_properties", "sysp"],
    &["voting_view"],
    &["watch_summary", "wchs"],
    &["watches", "wchc"],
    &["watches_by_path", "wchp"],
    &["zabstate"],
];

/// The primary name of the command called `name`.
pub fn primary_name(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|names| names.contains(&name))
        .map(|names| names[0])
}

/// The HTML page `GET <commandURL>` answers: a link per primary name, sorted.
pub fn links(command_url: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|n| n[0]).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{command_url}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

/// Runs the command called `name` and answers its JSON object.
pub async fn run(core: &Rc<Core>, name: &str) -> Map<String, Value> {
    let Some(primary) = primary_name(name) else {
        let mut m = Map::new();
        m.insert("command".into(), json!(name));
        m.insert("error".into(), json!(format!("Unknown command: {name}")));
        return m;
    };
    let mut m = Map::new();
    let mut error: Option<String> = None;
    match primary {
        "connection_stat_reset" => report::reset_connections(core).await,
        "configuration" => {
            let c = &core.cfg;
            // ZooKeeperServerConf: -1 without a plaintext port.
            let port = if c.plaintext_port {
                i32::from(c.client_addr.port())
            } else {
                -1
            };
            m.insert("client_port".into(), json!(port));
            m.insert("data_dir".into(), json!(c.data_dir.display().to_string()));
            m.insert(
                "data_log_dir".into(),
                json!(c.data_log_dir.display().to_string()),
            );
            m.insert("tick_time".into(), json!(c.tick_time_ms));
            m.insert("max_client_cnxns".into(), json!(c.max_client_cnxns));
            m.insert(
                "min_session_timeout".into(),
                json!(c.min_session_timeout_ms),
            );
            m.insert(
                "max_session_timeout".into(),
                json!(c.max_session_timeout_ms),
            );
            m.insert("server_id".into(), json!(c.server_id));
            m.insert(
                "client_port_listen_backlog".into(),
                json!(c.listen_backlog.unwrap_or(-1)),
            );
        }
        "connections" => {
            let conns: Vec<Value> = report::connections(core)
                .await
                .iter()
                .map(|c| connection(c, true))
                .collect();
            m.insert("connections".into(), Value::Array(conns));
            m.insert("secure_connections".into(), json!([]));
        }
        // `DataTree.getDigestLog`, each entry as Jackson writes a `ZxidDigest`.
        "hash" => {
            let digests: Vec<Value> = core
                .tree()
                .digest_log()
                .map(|(zxid, digest)| {
                    json!({"zxid": zxid, "digestVersion": DIGEST_VERSION, "digest": digest as i64})
                })
                .collect();
            m.insert("digests".into(), Value::Array(digests));
        }
        "dirs" => {
            let (data, log) = report::dir_sizes(core).await;
            m.insert("datadir_size".into(), json!(data));
            m.insert("logdir_size".into(), json!(log));
        }
        "dump" => {
            let mut by_expiry: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for s in report::sessions(core).await {
                by_expiry.entry(s.expiry_ms).or_default().push(s.id);
            }
            let expiry: Map<String, Value> = by_expiry
                .into_iter()
                .map(|(t, ids)| (t.to_string(), json!(ids)))
                .collect();
            let tree = core.tree();
            let mut owners: Vec<i64> = tree.sessions_with_ephemerals().collect();
            owners.sort_unstable();
            let ephemerals: Map<String, Value> = owners
                .into_iter()
                .map(|id| {
                    let paths: Vec<&str> = tree.ephemerals(id).collect();
                    (id.to_string(), json!(paths))
                })
                .collect();
            drop(tree);
            m.insert("expiry_time_to_session_ids".into(), Value::Object(expiry));
            m.insert(
                "session_id_to_ephemeral_paths".into(),
                Value::Object(ephemerals),
            );
        }
        "environment" => {
            for (k, v) in report::environment(core) {
                m.insert(k.into(), json!(v));
            }
        }
        "initial_configuration" => {
            m.insert(
                "initial_configuration".into(),
                json!(core.cfg.initial_config),
            );
        }
        "is_read_only" => {
            let ro = core.stats.mode() == crate::server::stats::ServerMode::ReadOnly;
            m.insert("read_only".into(), json!(ro));
        }
        "last_snapshot" => {
            let dir = core.cfg.data_dir.clone();
            let last = glommio::executor()
                .spawn_blocking(move || report::last_snapshot(&dir))
                .await;
            // ZooKeeper: the zxid in hex, the file's time in seconds; -1 for none.
            let (zxid, secs) = last.map_or((-1, -1), |(z, ms)| (z, ms / 1000));
            m.insert("zxid".into(), json!(format!("{zxid:x}")));
            m.insert("timestamp".into(), json!(secs));
        }
        // A standalone ZooKeeper answers just this error.
        "leader" => error = Some("server is not initialized".into()),
        "monitor" => {
            for (k, v) in report::monitor(core) {
                let key = k.strip_prefix("zk_").unwrap_or(&k).to_owned();
                m.insert(key, metric(v));
            }
        }
        "observer_connection_stat_reset" | "ruok" => {}
        "observers" => {
            m.insert("synced_observers".into(), json!(0));
            m.insert("observers".into(), json!([]));
        }
        "server_stats" | "stats" => {
            server_stats(core, &mut m).await;
            if primary == "stats" {
                let conns: Vec<Value> = report::connections(core)
                    .await
                    .iter()
                    .map(|c| connection(c, false))
                    .collect();
                m.insert("connections".into(), Value::Array(conns));
                m.insert("secure_connections".into(), json!([]));
            }
        }
        "stat_reset" => core.stats.reset(),
        "system_properties" => {
            for (k, v) in system_properties() {
                m.insert(k.into(), json!(v));
            }
        }
        "voting_view" => {
            m.insert("current_config".into(), json!({}));
        }
        "watch_summary" => {
            let (sessions, paths, watches) =
                report::watch_totals(&report::watches_by_path(core).await);
            m.insert("num_connections".into(), json!(sessions));
            m.insert("num_paths".into(), json!(paths));
            m.insert("num_total_watches".into(), json!(watches));
        }
        "watches" => {
            let w: Map<String, Value> = report::watches_by_session(core)
                .await
                .into_iter()
                .map(|(id, paths)| (id.to_string(), json!(paths)))
                .collect();
            m.insert("session_id_to_watched_paths".into(), Value::Object(w));
        }
        "watches_by_path" => {
            let w: Map<String, Value> = report::watches_by_path(core)
                .await
                .into_iter()
                .map(|(path, ids)| (path, json!(ids)))
                .collect();
            m.insert("path_to_session_ids".into(), Value::Object(w));
        }
        "zabstate" => {
            m.insert("voting".into(), json!(false));
            m.insert("zabstate".into(), json!(""));
        }
        // Streams and bodies, with auth: `answer` serves them (`admin_snapshot`).
        "snapshot" | "restore" => error = Some(format!("{primary} is served over HTTP only")),
        other => error = Some(format!("Unknown command: {other}")),
    }
    match error {
        // ZooKeeper's commands that fail put `error` before `command`.
        Some(e) => {
            let mut out = Map::new();
            out.insert("error".into(), json!(e));
            out.insert("command".into(), json!(primary));
            out.extend(m);
            out
        }
        None => {
            m.insert("command".into(), json!(primary));
            m.insert("error".into(), Value::Null);
            m
        }
    }
}

/// `srvr`'s fields (ZooKeeper's `ServerStats` as Jackson writes it). Left out, as
/// ringkeeper does not measure them: the response-size statistics
/// (`client_response_stats`, `client_response`).
async fn server_stats(core: &Rc<Core>, m: &mut Map<String, Value>) {
    let (data, log) = report::dir_sizes(core).await;
    let f = report::server_facts(core);
    m.insert("version".into(), json!(f.version));
    m.insert("read_only".into(), json!(false));
    m.insert(
        "server_stats".into(),
        json!({
            "packets_sent": f.packets_sent,
            "packets_received": f.packets_received,
            "fsync_threshold_exceed_count": f.fsync_threshold_exceeded,
            "data_dir_size": data,
            "log_dir_size": log,
            "provider_null": false,
            "server_state": core.stats.mode().name(),
            "last_processed_zxid": f.last_zxid,
            "outstanding_requests": f.outstanding,
            "avg_latency": f.avg_latency_ms,
            "max_latency": f.max_latency_ms,
            "min_latency": f.min_latency_ms,
            "num_alive_client_connections": f.connections,
            "auth_failed_count": f.auth_failed,
            // ZooKeeper counts these on TLS ports only; ringkeeper has none.
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
            "uptime": f.uptime_ms,
        }),
    );
    m.insert("node_count".into(), json!(f.node_count));
}

/// One connection as `ServerCnxn.getConnectionInfo(brief)` describes it.
fn connection(c: &ConnInfo, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("remote_socket_address".into(), json!(c.remote.to_string()));
    // Reading, as a ZooKeeper connection that is not throttled (OP_READ).
    m.insert("interest_ops".into(), json!(1));
    m.insert("outstanding_requests".into(), json!(c.outstanding));
    m.insert("packets_received".into(), json!(c.packets_received));
    m.insert("packets_sent".into(), json!(c.packets_sent));
    if full {
        m.insert("session_id".into(), json!(c.session_id));
        m.insert("last_operation".into(), json!(c.last_operation));
        m.insert("established".into(), json!(c.established_ms));
        m.insert("session_timeout".into(), json!(c.session_timeout_ms));
        m.insert("last_cxid".into(), json!(c.last_cxid));
        m.insert("last_zxid".into(), json!(c.last_zxid));
        m.insert("last_response_time".into(), json!(c.last_response_ms));
        m.insert("last_latency".into(), json!(c.last_latency_ms));
        m.insert("min_latency".into(), json!(c.min_latency_ms));
        m.insert("avg_latency".into(), json!(c.avg_latency_ms));
        m.insert("max_latency".into(), json!(c.max_latency_ms));
    }
    Value::Object(m)
}

fn metric(v: Metric) -> Value {
    match v {
        Metric::Int(i) => json!(i),
        Metric::Float(f, _) | Metric::Double(f) => json!(f),
        Metric::Text(t) => json!(t),
    }
}

/// ringkeeper has no JVM: the properties that describe its process and platform,
/// under the names Java gives them.
fn system_properties() -> Vec<(&'static str, String)> {
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    vec![
        ("file.separator", "/".into()),
        ("line.separator", "\n".into()),
        ("os.arch", report::environment_os().1.into()),
        ("os.name", report::environment_os().0.into()),
        ("os.version", release.trim().to_owned()),
        ("path.separator", ":".into()),
        ("user.dir", dir),
        ("user.home", report::user().1),
        ("user.name", report::user().0),
    ]
}

/// Serves the AdminServer on `listener` (bound by `server::run`) until the process
/// ends: plain HTTP, or with `tls` (`admin.forceHttps`) HTTPS only, or (under
/// `admin.portUnification`) HTTPS for a connection whose first byte starts a TLS
/// record and plain HTTP for the rest, as ZooKeeper's `UnifiedConnectionFactory`
/// decides; each plaintext one there counts in `insecure_admin_count`.
pub async fn serve(
    core: Rc<Core>,
    listener: std::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let Some(cfg) = core.cfg.admin.clone() else {
        return;
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    let force_https = cfg.tls.as_ref().is_some_and(|t| t.force_https);
    let scheme = match (&tls, force_https) {
        (None, _) => "http",
        (Some(_), true) => "https",
        (Some(_), false) => "http(s)",
    };
    tracing::info!("AdminServer on {scheme}://{addr}{}", cfg.command_url);
    let idle = Duration::from_millis(cfg.idle_timeout_ms);
    let url: Rc<str> = cfg.command_url.into();
    let limits = Rc::new(Limits {
        snapshot: RateLimiter::new(cfg.rate_limit_interval_ms),
        restore: RateLimiter::new(cfg.rate_limit_interval_ms),
    });
    http::serve(listener, "AdminServer", CONCURRENT_MAX, move |stream| {
        let core = core.clone();
        let url = url.clone();
        let tls = tls.clone();
        let limits = limits.clone();
        async move {
            let Ok(peer_addr) = stream.peer_addr() else {
                return;
            };
            let mut who = Requester {
                peer: peer_addr,
                cert_ids: Vec::new(),
            };
            let site = Site {
                core: &core,
                url: &url,
                idle,
                limits: &limits,
            };
            let Some(tls) = tls else {
                return answer(&site, &who, stream).await;
            };
            let peer = peer_addr.to_string();
            if !force_https {
                match crate::server::first_byte(&stream, idle).await {
                    Ok(crate::server::TLS_HANDSHAKE_RECORD) => {}
                    Ok(_) => {
                        core.stats.tls.insecure_admin.fetch_add(1, Relaxed);
                        return answer(&site, &who, stream).await;
                    }
                    Err(why) => {
                        return tracing::debug!("AdminServer: connection from {peer}: {why}")
                    }
                }
            }
            let accept = futures_rustls::TlsAcceptor::from(tls).accept(stream);
            match glommio::timer::timeout(idle, async { Ok(accept.await) }).await {
                Ok(Ok(s)) => {
                    let super_user = core
                        .cfg
                        .tls
                        .as_ref()
                        .and_then(|t| t.x509_super_user.as_deref());
                    who.cert_ids =
                        crate::server::auth_ids(s.get_ref().1.peer_certificates(), super_user);
                    answer(&site, &who, s).await
                }
                Ok(Err(e)) => {
                    tracing::info!("AdminServer: TLS handshake with {peer} failed: {e}")
                }
                Err(_) => {
                    tracing::info!("AdminServer: no TLS handshake from {peer} within {idle:?}")
                }
            }
        }
    })
    .await;
}

/// What every request of one AdminServer shares.
struct Site<'a> {
    core: &'a Rc<Core>,
    url: &'a str,
    idle: Duration,
    limits: &'a Limits,
}

/// Reads one request from `stream` and answers it.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    site: &Site<'_>,
    who: &Requester,
    mut stream: S,
) {
    let (core, url, idle) = (site.core, site.url, site.idle);
    let stream = &mut stream;
    let mut req = match http::read_request(stream, idle).await {
        Ok(r) => r,
        Err(http::ReadError::Malformed(why)) => {
            tracing::debug!("AdminServer: bad request: {why}");
            return http::respond_error(stream, 400).await;
        }
        Err(http::ReadError::TooLarge) => return http::respond_error(stream, 431).await,
        Err(http::ReadError::TimedOut) => return http::respond_error(stream, 408).await,
        Err(http::ReadError::Closed) => return,
    };
    let Some(rest) = req.path.strip_prefix(url) else {
        return http::respond_error(stream, 404).await;
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return http::respond_error(stream, 404).await;
    }
    let name = rest.strip_prefix('/').unwrap_or("").to_owned();
    let name = name.as_str();
    if let Some(p @ ("snapshot" | "restore")) = primary_name(name) {
        let limits = site.limits;
        return admin_snapshot::serve(core, p, name, &mut req, who, limits, idle, stream).await;
    }
    // ZooKeeper serves GET (3.9's POST is for `restore`).
    if req.method != "GET" {
        return http::respond_error(stream, 405).await;
    }
    if name.is_empty() {
        let page = links(url);
        return http::respond(stream, 200, "text/html; charset=utf-8", page.as_bytes()).await;
    }
    let answer = run(core, name).await;
    // Big answers (a million watches) are written off the session core.
    let body = glommio::executor()
        .spawn_blocking(move || serde_json::to_vec_pretty(&Value::Object(answer)))
        .await;
    match body {
        Ok(body) => http::respond(stream, 200, "application/json", &body).await,
        Err(e) => {
            tracing::warn!("AdminServer: cannot write {name}'s answer: {e}");
            http::respond_error(stream, 500).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_zookeepers() {
        assert_eq!(primary_name("mntr"), Some("monitor"));
        assert_eq!(primary_name("config"), Some("configuration"));
        assert_eq!(primary_name("stat"), Some("stats"));
        assert_eq!(primary_name("srvr"), Some("server_stats"));
        assert_eq!(primary_name("gtmk"), None);
        let mut all: Vec<&str> = COMMANDS.iter().flat_map(|n| n.iter().copied()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a name used twice");
    }

    #[test]
    fn the_listing_links_every_primary_name_sorted() {
        let page = links("/commands");
        assert!(page.starts_with("<a href=\"/commands/configuration\">configuration</a>\n<br/>\n"));
        assert_eq!(page.matches("<a href").count(), COMMANDS.len());
    }
}
