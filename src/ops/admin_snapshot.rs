//! ZooKeeper 3.9's AdminServer `snapshot` (`snap`) and `restore` (`rest`): the only
//! commands 3.9 guards with auth, and the only ones that move a whole tree.
//!
//! As 3.9's `Commands.runCommand` and `SnapshotCommand`/`RestoreCommand` decide, in
//! this order: a server not serving answers 200 with an error; no `Authorization`
//! header answers 401 "Auth info is missing for the command"; a header whose
//! `scheme [credentials]` gives no id answers 401 "Not authenticated" (`digest
//! user:password`, `ip`, and `x509` from the HTTPS client certificate give ids, as
//! their providers' `handleAuthentication(HttpServletRequest, ..)`); ids that do not
//! hold every permission (ALL) on `/` by its ACL answer 403 "Not authorized"; a
//! command turned off (`admin.snapshot.enabled`, `admin.restore.enabled`, both on by
//! default) answers 503; `serializeLastProcessedZxid.enabled=false` 500; more than one call per `admin.rateLimiterIntervalInMS` (5
//! minutes) answers 429. The last three carry `"error": null`, as ZooKeeper's do.
//!
//! `snapshot` (GET) writes the committed tree in ZooKeeper's snapshot file format
//! (with 3.9's last-processed-zxid section), with the headers `last_zxid` (`0x` and
//! hex) and `snapshot_size`; `?streaming=false` answers the JSON and headers only. The
//! quorum task hands over a frozen version, and the walk runs on a thread, so
//! neither the session cores nor the writer wait for it. The size is counted by a
//! first walk, as the header comes before the body (ZooKeeper writes a file first).
//!
//! `restore` (POST) takes such a file as the body (at most [`RESTORE_BYTES_MAX`]),
//! reads and checks it with the import-zk reader on the blocking pool, and has the
//! quorum task serve it (`server::quorum::restore`); it answers `last_zxid`, the
//! snapshot's zxid, as a JSON number. A body that does not read answers 500 with the
//! reason, and nothing changes.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use serde_json::{json, Map, Value};

use crate::ops::http::{self, ReadError, Request};
use crate::proto::{perms, Id};
use crate::server::messages::{AdminSnapshot, Restore, ToQuorum};
use crate::server::{Core, StreamChunk};
use crate::storage::zk::{self, SnapshotForm};
use crate::tree::acl::{check_acl, digest_of};

/// The largest `restore` body read: the whole snapshot is held in memory while it is
/// read into a tree.
pub const RESTORE_BYTES_MAX: u64 = 1 << 30;

/// Who sent a request: what `ip` and `x509` authenticate from.
pub struct Requester {
    pub peer: SocketAddr,
    /// The ids a verified HTTPS client certificate gives (`admin.needClientAuth`).
    pub cert_ids: Vec<Id>,
}

/// ZooKeeper's `RateLimiter(1, interval)`: one call per interval, the first at once.
pub struct RateLimiter {
    interval: Duration,
    reset_at: Cell<Instant>,
    left: Cell<u32>,
}

impl RateLimiter {
    pub fn new(interval_ms: u64) -> Self {
        RateLimiter {
            interval: Duration::from_millis(interval_ms),
            reset_at: Cell::new(Instant::now()),
            left: Cell::new(1),
        }
    }

    fn allow(&self) -> bool {
        let now = Instant::now();
        if now > self.reset_at.get() + self.interval {
            self.left.set(1);
            self.reset_at.set(now);
        }
        let left = self.left.get();
        self.left.set(left.saturating_sub(1));
        left > 0
    }
}

/// One limiter per command, as each of ZooKeeper's commands has its own.
pub struct Limits {
    pub snapshot: RateLimiter,
    pub restore: RateLimiter,
}

/// A JSON answer in ZooKeeper's order: the command's fields, `command`, `error`.
async fn answer_json<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    headers: &[(&str, String)],
    command: &str,
    error: Option<&str>,
    fields: Map<String, Value>,
) {
    let mut m = fields;
    m.insert("command".into(), json!(command));
    m.insert("error".into(), json!(error));
    let body = serde_json::to_vec_pretty(&Value::Object(m)).unwrap_or_default();
    http::respond_with(stream, status, "application/json", headers, &body).await
}

/// Serves `snapshot` or `restore` (`primary`), asked for as `name`.
#[allow(clippy::too_many_arguments)]
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    core: &Rc<Core>,
    primary: &'static str,
    name: &str,
    req: &mut Request,
    who: &Requester,
    limits: &Limits,
    idle: Duration,
    stream: &mut S,
) {
    let restore = primary == "restore";
    // 3.9 runs `snapshot` for a GET and `restore` for a POST; the other way round its
    // command answers nothing and the servlet fails.
    if req.method != if restore { "POST" } else { "GET" } {
        return http::respond_error(stream, 405).await;
    }
    let no_fields = Map::new;
    if core.stats.mode() == crate::server::stats::ServerMode::NotServing {
        let why = "This ZooKeeper instance is not currently serving requests";
        return answer_json(stream, 200, &[], name, Some(why), no_fields()).await;
    }
    let Some(auth_info) = req.authorization.as_deref() else {
        let why = "Auth info is missing for the command";
        return answer_json(stream, 401, &[], name, Some(why), no_fields()).await;
    };
    let Some(ids) = authenticate(core, auth_info, who) else {
        tracing::warn!("AdminServer {primary}: {} is not authenticated", who.peer);
        return answer_json(
            stream,
            401,
            &[],
            name,
            Some("Not authenticated"),
            no_fields(),
        )
        .await;
    };
    if !authorized(core, &ids) {
        tracing::warn!("AdminServer {primary}: {} is not authorized", who.peer);
        return answer_json(stream, 403, &[], name, Some("Not authorized"), no_fields()).await;
    }
    let cfg = core.cfg.admin.as_ref();
    let (enabled, limiter) = if restore {
        (cfg.is_some_and(|a| a.restore_enabled), &limits.restore)
    } else {
        (cfg.is_some_and(|a| a.snapshot_enabled), &limits.snapshot)
    };
    if !enabled {
        tracing::warn!("AdminServer: the {primary} command is disabled");
        return answer_json(stream, 503, &[], primary, None, no_fields()).await;
    }
    if !cfg.is_some_and(|a| a.serialize_last_processed_zxid) {
        tracing::warn!(
            "AdminServer: the {primary} command needs serializeLastProcessedZxid.enabled=true"
        );
        return answer_json(stream, 500, &[], primary, None, no_fields()).await;
    }
    if !limiter.allow() {
        tracing::warn!(
            "AdminServer: {primary} request from {} rate limited",
            who.peer
        );
        return answer_json(stream, 429, &[], primary, None, no_fields()).await;
    }
    if restore {
        restore_from(core, req, who, idle, stream).await
    } else {
        let streaming = req
            .query
            .iter()
            .find(|(k, _)| k == "streaming")
            .is_none_or(|(_, v)| v.eq_ignore_ascii_case("true"));
        snapshot(core, who, streaming, stream).await
    }
}

/// The ids `auth_info` (`scheme[ credentials]`, ZooKeeper's `Authorization` header)
/// authenticates, or `None` (ZooKeeper's `handleAuthentication`).
fn authenticate(core: &Core, auth_info: &str, who: &Requester) -> Option<Vec<Id>> {
    // Java's `String.split(" ")`: trailing empty parts are dropped.
    let mut parts: Vec<&str> = auth_info.split(' ').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.is_empty() || parts.len() > 2 {
        return None;
    }
    let providers = &core.cfg.auth_providers;
    let ids = match parts[0] {
        "digest" if providers.digest => {
            let digest = digest_of(parts.get(1)?);
            let mut ids = Vec::with_capacity(2);
            if core.cfg.super_digest.as_deref() == Some(digest.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", &digest));
            ids
        }
        "ip" => vec![Id::new("ip", &who.peer.ip().to_string())],
        "x509" if providers.x509 => who.cert_ids.clone(),
        // `sasl` has no HTTP authentication; other schemes no provider.
        _ => Vec::new(),
    };
    (!ids.is_empty()).then_some(ids)
}

/// Whether `ids` hold each permission of ALL on `/` (ZooKeeper's
/// `handleAuthorization`, one bit at a time).
fn authorized(core: &Core, ids: &[Id]) -> bool {
    let tree = core.tree();
    let Some(root) = tree.get("/") else {
        return false;
    };
    [
        perms::READ,
        perms::WRITE,
        perms::CREATE,
        perms::DELETE,
        perms::ADMIN,
    ]
    .into_iter()
    .all(|bit| check_acl(root.acl(), bit, ids, &core.cfg.auth_providers))
}

/// Counts what is written through it.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn snapshot<S: AsyncWrite + Unpin>(
    core: &Rc<Core>,
    who: &Requester,
    streaming: bool,
    stream: &mut S,
) {
    let (tx, rx) = async_channel::bounded(1);
    let asked = core
        .to_quorum
        .send(ToQuorum::AdminSnapshot { reply: tx })
        .await;
    let Some(snap) = asked.ok().and(rx.recv().await.ok()) else {
        return answer_json(stream, 500, &[], "snapshot", None, Map::new()).await;
    };
    let AdminSnapshot {
        version,
        zxid,
        sessions,
    } = snap;
    let form = SnapshotForm::FileWithLastZxid { zxid };
    let (v, s) = (version.clone(), sessions.clone());
    let size = glommio::executor()
        .spawn_blocking(move || {
            let mut c = Counter(0);
            zk::write_zk_snapshot(&mut c, &v, &s, form).map(|()| c.0)
        })
        .await;
    let size = match size {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("AdminServer snapshot failed: {e}");
            return answer_json(stream, 500, &[], "snapshot", None, Map::new()).await;
        }
    };
    let headers = [
        ("last_zxid", format!("0x{zxid:x}")),
        ("snapshot_size", size.to_string()),
    ];
    if !streaming {
        return answer_json(stream, 200, &headers, "snapshot", None, Map::new()).await;
    }
    let head = http::head(200, "application/octet-stream", &headers, size);
    let what = format!("AdminServer snapshot 0x{zxid:x} to {}", who.peer);
    let chunks = crate::server::stream_zk_snapshot(version, sessions, form, what);
    let sent = async {
        stream.write_all(head.as_bytes()).await?;
        loop {
            match chunks.recv().await {
                Ok(StreamChunk::Bytes(b)) => stream.write_all(&b).await?,
                Ok(StreamChunk::Done) => break,
                Ok(StreamChunk::Failed(why)) => return Err(std::io::Error::other(why)),
                Err(_) => return Err(std::io::Error::other("the writer stopped")),
            }
        }
        stream.flush().await
    }
    .await;
    // A short body (and the closed connection) is what the client sees of a failure.
    if let Err(e) = sent {
        tracing::warn!("AdminServer snapshot to {} not delivered: {e}", who.peer);
    }
    let _ = stream.close().await;
}

async fn restore_from<S: AsyncRead + AsyncWrite + Unpin>(
    core: &Rc<Core>,
    req: &mut Request,
    who: &Requester,
    idle: Duration,
    stream: &mut S,
) {
    let body = match http::read_body(stream, req, RESTORE_BYTES_MAX, idle).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            let why = format!(
                "the snapshot ({} bytes) is larger than the {RESTORE_BYTES_MAX} bytes a \
                 restore reads",
                req.content_length
            );
            return answer_json(stream, 413, &[], "restore", Some(&why), Map::new()).await;
        }
        Err(e) => {
            tracing::warn!(
                "AdminServer restore from {}: no whole body: {e:?}",
                who.peer
            );
            let why = "the request body ended before its Content-Length";
            return answer_json(stream, 400, &[], "restore", Some(why), Map::new()).await;
        }
    };
    let extended = core.cfg.extended_types_enabled;
    let read = glommio::executor()
        .spawn_blocking(move || {
            let name = std::path::Path::new("the restore request's body");
            zk::read_snapshot_bytes(name, Bytes::from(body), extended).map(|s| {
                // 3.9 takes the zxid from its own section; an older file's digest
                // names the zxid it was written at.
                let zxid = s
                    .last_processed_zxid
                    .or(s.zxid_digest.map(|d| d.zxid))
                    .unwrap_or(0);
                Restore {
                    tree: s.tree,
                    sessions: s.sessions,
                    zxid,
                }
            })
        })
        .await;
    let restore = match read {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("AdminServer restore from {} refused: {e}", who.peer);
            let why = format!("not a ZooKeeper snapshot: {e}");
            return answer_json(stream, 500, &[], "restore", Some(&why), Map::new()).await;
        }
    };
    tracing::info!(
        "AdminServer restore from {}: a snapshot at 0x{:x}",
        who.peer,
        restore.zxid
    );
    let (tx, rx) = async_channel::bounded(1);
    let asked = core
        .to_quorum
        .send(ToQuorum::Restore {
            restore: Box::new(restore),
            reply: tx,
        })
        .await;
    let answer = match asked {
        Ok(()) => rx
            .recv()
            .await
            .unwrap_or_else(|_| Err("the server is stopping".into())),
        Err(_) => Err("the server is stopping".into()),
    };
    match answer {
        Ok(zxid) => {
            let mut m = Map::new();
            m.insert("last_zxid".into(), json!(zxid));
            answer_json(stream, 200, &[], "restore", None, m).await
        }
        Err(why) => answer_json(stream, 500, &[], "restore", Some(&why), Map::new()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limiter_allows_one_call_per_interval_the_first_at_once() {
        let l = RateLimiter::new(60_000);
        assert!(l.allow());
        assert!(!l.allow());
        assert!(!l.allow());
        let l = RateLimiter::new(0);
        assert!(l.allow());
        std::thread::sleep(Duration::from_millis(2));
        assert!(l.allow());
    }
}
