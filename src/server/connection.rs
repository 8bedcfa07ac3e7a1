//! A client connection's tasks: the reader (frames in, handshake, requests dispatched
//! in order) and the writer (the outbox drained to the socket).
//!
//! Bad input closes this connection with a log line and touches nothing else: an
//! oversized or negative length prefix, a malformed handshake or request header, a
//! malformed auth or SASL record (as ZooKeeper), a handshake from a client that has
//! seen a newer zxid than this server.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncWrite};

use super::acceptor::Accepted;
use super::conn::{Conn, Handshake, Pending, PENDING_PER_CONN_MAX};
use super::frame_out;
use super::messages::ToQuorum;
use super::session_core::Core;
use super::signal::Oneshot;
use super::stats::{ConnLimit, Stage};
use crate::proto::frame::{self, FrameError};
use crate::proto::{
    ConnectRequest, ConnectResponse, Decode, ErrorCode, OpCode, Request, RequestError,
    RequestHeader,
};

/// How long a new connection may take to send its handshake before it is dropped:
/// a client that connects and never speaks must not hold a slot forever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket read size; frames larger than this are assembled over several reads.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// One read buffer per core, used only inside a poll (never across an await).
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; READ_CHUNK].into_boxed_slice());
}

/// The stream shared by the reader and writer tasks. Each poll borrows it only for
/// the duration of the call, so the two tasks never hold it across an await.
/// Generic: a plaintext connection is served over glommio's `TcpStream` itself, a
/// TLS one over futures-rustls's stream around it (see `tls`).
struct Shared<S>(Rc<RefCell<S>>);

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Shared<S> {
    /// Reads what the socket has into `buf`. The bytes land in this core's scratch
    /// buffer first and only what arrived is appended, so an idle connection holds no
    /// read buffer and no read pays for zeroing a whole chunk.
    async fn read_into(&self, buf: &mut BytesMut) -> io::Result<usize> {
        poll_fn(|cx| {
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let mut s = self.0.borrow_mut();
                match Pin::new(&mut *s).poll_read(cx, &mut scratch[..]) {
                    Poll::Ready(Ok(n)) => {
                        buf.extend_from_slice(&scratch[..n]);
                        Poll::Ready(Ok(n))
                    }
                    other => other,
                }
            })
        })
        .await
    }

    async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| {
                let mut s = self.0.borrow_mut();
                Pin::new(&mut *s).poll_write(cx, data)
            })
            .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    async fn close(&self) {
        let _ = poll_fn(|cx| {
            let mut s = self.0.borrow_mut();
            Pin::new(&mut *s).poll_close(cx)
        })
        .await;
    }
}

/// Takes a new connection: enforces the per-IP limit, then (after the TLS handshake,
/// on the secure port) starts its tasks.
pub fn accept(core: Rc<Core>, accepted: Accepted) {
    // The TLS context, and whether the first byte decides (port unification).
    let (stream, tls) = match accepted {
        Accepted::Plain(s) => (s, None),
        Accepted::Tls(s, ctx) => (s, Some((ctx, false))),
        Accepted::Either(s, ctx) => (s, Some((ctx, true))),
    };
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return,
    };
    let ip = peer.ip();
    let (per_ip, total) = (core.cfg.max_client_cnxns, core.cfg.max_cnxns);
    match core.stats.conn_opened_from(ip, per_ip, total) {
        Ok(()) => {}
        Err(ConnLimit::PerIp) => {
            tracing::warn!("too many connections from {ip} - max is {per_ip}; closing the new one");
            return;
        }
        Err(ConnLimit::Total) => {
            tracing::warn!(
                "too many connections - max is {total} (maxCnxns); closing the new one from {ip}"
            );
            return;
        }
    }
    let _ = stream.set_nodelay(true);
    let Some((tls, sniff)) = tls else {
        return serve(core, peer, stream, Vec::new());
    };
    glommio::spawn_local(async move {
        if sniff {
            match first_byte(&stream, HANDSHAKE_TIMEOUT).await {
                Ok(b) if b != TLS_HANDSHAKE_RECORD => return serve(core, peer, stream, Vec::new()),
                Ok(_) => {}
                Err(reason) => {
                    tracing::info!("closing connection from {peer}: {reason}");
                    core.stats.conn_closed_from(ip);
                    return;
                }
            }
        }
        let limit = core.cfg.tls.as_ref().and_then(|t| t.handshake_limit);
        if !core.stats.tls.handshake_started(limit) {
            tracing::warn!(
                "closing TLS connection from {peer}: {} handshakes are under way \
                 (netty.server.outstandingHandshake.limit)",
                limit.unwrap_or(0)
            );
            core.stats.conn_closed_from(ip);
            return;
        }
        let current = tls.current();
        let handshake = async {
            Some(
                futures_rustls::TlsAcceptor::from(current.config)
                    .accept(stream)
                    .await,
            )
        };
        let late = async {
            glommio::timer::sleep(HANDSHAKE_TIMEOUT).await;
            None
        };
        // Uncounted however the handshake ends, this task dropped at shutdown included.
        let mut counted = Handshaking {
            stats: &core.stats.tls,
            ok: false,
        };
        let mut done = futures_lite::future::or(handshake, late).await;
        // `ssl.ocsp`: the client's chain is checked before its first request is read
        // (see `super::ocsp`), as part of the handshake in its outcome and counters.
        if let (Some(Ok(s)), Some(ocsp), Some(verifier)) = (&done, tls.ocsp(), &current.verifier) {
            if let Some(peer_certs) = s.get_ref().1.peer_certificates() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                let checked = match verifier.revocation_path(peer_certs, now) {
                    Ok(path) => ocsp.check(path, now, &core.stats.tls.ocsp).await,
                    Err(e) => Err(format!("its chain no longer verifies: {e:?}")),
                };
                if let Err(why) = checked {
                    tracing::warn!("refusing client certificate from {peer} (ssl.ocsp): {why}");
                    done = Some(Err(std::io::Error::other(
                        "client certificate refused by the OCSP check",
                    )));
                }
            }
        }
        // As ZooKeeper's handshake listener: a failure (timeout included) counts in
        // `unsuccessful_handshake` and `auth_failed_count`.
        counted.ok = matches!(done, Some(Ok(_)));
        let failed = !counted.ok;
        drop(counted);
        if failed {
            core.my_stats().auth_failed();
        }
        match done {
            Some(Ok(s)) => {
                let super_user = core
                    .cfg
                    .tls
                    .as_ref()
                    .and_then(|t| t.x509_super_user.as_deref());
                let ids = super::tls::auth_ids(s.get_ref().1.peer_certificates(), super_user);
                for id in &ids {
                    tracing::info!(
                        "authenticated id '{}' for scheme '{}' from {peer}",
                        id.id,
                        id.scheme
                    );
                }
                serve(core, peer, s, ids)
            }
            Some(Err(e)) => {
                tracing::info!("closing TLS connection from {peer}: handshake failed: {e}");
                core.stats.conn_closed_from(ip);
            }
            None => {
                tracing::info!(
                    "closing TLS connection from {peer}: no handshake within {HANDSHAKE_TIMEOUT:?}"
                );
                core.stats.conn_closed_from(ip);
            }
        }
    })
    .detach();
}

/// A TLS handshake counted in `outstanding_tls_handshake` until this is dropped.
struct Handshaking<'a> {
    stats: &'a super::stats::TlsStats,
    ok: bool,
}

impl Drop for Handshaking<'_> {
    fn drop(&mut self) {
        self.stats.handshake_ended(self.ok);
    }
}

/// The first byte of a TLS client's stream (a handshake record's content type).
/// ZooKeeper's plaintext frames start with a 4-byte big-endian length, whose first
/// byte is 0x16 only for frames of 352 MiB or more, far past `jute.maxbuffer`; a
/// four-letter word starts with a letter. So one byte tells, as in ZooKeeper's
/// `DualModeSslHandler`, which also decides on a first byte other than 0x16.
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The connection's first byte, left in the socket for whoever reads it next (one
/// `MSG_PEEK`); an error if none comes within `timeout`. Also the AdminServer's
/// choice under `admin.portUnification`.
pub(crate) async fn first_byte(
    stream: &glommio::net::TcpStream,
    timeout: Duration,
) -> Result<u8, String> {
    let mut b = [0u8; 1];
    let peek = async { Some(stream.peek(&mut b).await) };
    let late = async {
        glommio::timer::sleep(timeout).await;
        None
    };
    match futures_lite::future::or(peek, late).await {
        Some(Ok(1)) => Ok(b[0]),
        Some(Ok(_)) => Err("closed before sending anything".into()),
        Some(Err(e)) => Err(format!("reading its first byte failed: {e}")),
        None => Err(format!("nothing sent within {timeout:?}")),
    }
}

/// Serves a connection (its handshake done, for TLS): registers it and starts its
/// reader and writer. `auth` are the ids it has besides `ip` (a TLS client's `x509`).
fn serve<S: AsyncRead + AsyncWrite + Unpin + 'static>(
    core: Rc<Core>,
    peer: std::net::SocketAddr,
    stream: S,
    auth: Vec<crate::proto::Id>,
) {
    let ip = peer.ip();
    let id = core.next_conn.get();
    core.next_conn.set(id + 1);
    let conn = Rc::new(Conn::new(id, peer, core.now_ms()));
    for a in auth {
        conn.add_auth(a);
    }
    core.conns.borrow_mut().insert(id, conn.clone());
    core.my_stats().connection_opened();
    let shared = Shared(Rc::new(RefCell::new(stream)));

    let writer_conn = conn.clone();
    let writer_stream = shared.clone();
    glommio::spawn_local(async move {
        write_loop(&writer_conn, &writer_stream).await;
        writer_conn.outbox.mark_closed();
    })
    .detach();

    glommio::spawn_local(async move {
        if let Err(reason) = read_loop(&core, &conn, &shared).await {
            tracing::debug!("closing connection from {}: {reason}", conn.peer);
        }
        conn.outbox.close_after_flush();
        core.detach_session(&conn);
        if conn.session.get() != 0 {
            let _ = core
                .to_quorum
                .send(ToQuorum::Disconnected {
                    core: core.idx,
                    conn: conn.id,
                    session: conn.session.get(),
                })
                .await;
        }
        core.conns.borrow_mut().remove(&conn.id);
        // Writes still in the pipeline will find no connection to answer; release
        // their share of the outstanding bound now.
        let in_flight = conn
            .pending
            .borrow_mut()
            .drain(..)
            .filter(|p| matches!(p, Pending::Write { .. }))
            .count();
        for _ in 0..in_flight {
            core.outstanding_dec();
        }
        core.stats.conn_closed_from(ip);
        core.my_stats().connection_closed();
    })
    .detach();
}

async fn write_loop<S: AsyncRead + AsyncWrite + Unpin>(conn: &Conn, stream: &Shared<S>) {
    let mut buf = BytesMut::new();
    loop {
        match conn.outbox.next().await {
            super::outbox::Next::Write(frames) => {
                // Coalesce small frames into one write; send big ones as they are.
                for f in frames {
                    if f.len() >= 16 * 1024 {
                        if !buf.is_empty() {
                            if stream.write_all(&buf).await.is_err() {
                                return stream.close().await;
                            }
                            buf.clear();
                        }
                        if stream.write_all(&f).await.is_err() {
                            return stream.close().await;
                        }
                    } else {
                        buf.extend_from_slice(&f);
                    }
                }
                if !buf.is_empty() {
                    if stream.write_all(&buf).await.is_err() {
                        return stream.close().await;
                    }
                    buf.clear();
                }
                conn.outbox.batch_written();
            }
            super::outbox::Next::Close => return stream.close().await,
        }
    }
}

/// Why the reader stopped (logged at debug level; the important ones at warn).
type Closed = String;

async fn read_loop<S: AsyncRead + AsyncWrite + Unpin>(
    core: &Rc<Core>,
    conn: &Rc<Conn>,
    stream: &Shared<S>,
) -> Result<(), Closed> {
    let mut buf = BytesMut::new();
    let max = core.cfg.jute_max_buffer;

    // The handshake (or a four-letter word) must arrive in time.
    let first = glommio::timer::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if buf.len() >= 4 {
                let first4 = [buf[0], buf[1], buf[2], buf[3]];
                if let Some(word) = frame::four_letter_word(first4) {
                    return Ok(Err(word));
                }
                if first4 == frame::TELNET_CLOSE {
                    return Ok(Err("telnet close"));
                }
            }
            match frame::take_frame(&mut buf, max) {
                Ok(Some(f)) => return Ok(Ok(f)),
                Ok(None) => {}
                Err(e) => return Err(glommio::GlommioError::IoError(io::Error::other(e))),
            }
            match stream.read_into(&mut buf).await {
                Ok(0) => {
                    return Err(glommio::GlommioError::IoError(
                        io::ErrorKind::UnexpectedEof.into(),
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(glommio::GlommioError::IoError(e)),
            }
        }
    })
    .await;
    let frame = match first {
        Ok(Ok(f)) => f,
        Ok(Err(word)) => {
            if word != "telnet close" {
                let out = crate::ops::four_letter::answer(core, word).await;
                conn.send(Bytes::from(out));
            }
            return Ok(());
        }
        Err(e) => {
            tracing::info!(
                "closing connection from {} before handshake: {e}",
                conn.peer
            );
            return Ok(());
        }
    };
    handshake(core, conn, frame).await?;
    // Like ZooKeeper (which stops reading until the session is set up), requests that
    // came with the handshake are answered only after the ConnectResponse is on the
    // wire: some clients cannot take both answers in one read.
    conn.outbox.flushed().await;

    loop {
        loop {
            let f = match frame::take_frame(&mut buf, max) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(FrameError::PacketTooLarge { len, max }) => {
                    tracing::warn!(
                        "closing connection from {} (session 0x{:x}): packet length {len} exceeds jute.maxbuffer {max}",
                        conn.peer,
                        conn.session.get()
                    );
                    return Ok(());
                }
                Err(e) => return Err(format!("bad frame: {e}")),
            };
            if core.draining.get() {
                // The server is stopping: this request is not taken. The connection
                // is closed once the earlier ones are answered (`Core::stop_connections`); the
                // client sees a connection loss, and its request was never applied.
                std::future::pending::<()>().await;
            }
            conn.stats
                .packets_received
                .set(conn.stats.packets_received.get() + 1);
            core.my_stats().packet_received();
            handle_frame(core, conn, f).await?;
            if conn.outbox.is_closing() {
                return Ok(());
            }
            // Backpressure: stop reading while this connection has too much in flight.
            while conn.pending.borrow().len() >= PENDING_PER_CONN_MAX {
                conn.pending_space.wait().await;
                if conn.outbox.is_closing() {
                    return Ok(());
                }
            }
            core.wait_for_room().await;
        }
        match stream.read_into(&mut buf).await {
            Ok(0) => return Err("client closed the connection".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
        if conn.outbox.is_closing() {
            return Ok(());
        }
    }
}

async fn handshake(core: &Rc<Core>, conn: &Rc<Conn>, frame: Bytes) -> Result<(), Closed> {
    let req = match ConnectRequest::from_bytes(frame) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                "closing connection from {}: bad ConnectRequest: {e}",
                conn.peer
            );
            return Err("bad handshake".into());
        }
    };
    // An ensemble member between leaders serves nobody (ZooKeeper: "ZooKeeperServer
    // not running"); the client tries another server.
    if !core.stats.mode().serves() {
        tracing::info!(
            "closing connection from {}: not serving (no leader synchronized yet)",
            conn.peer
        );
        return Err("not serving".into());
    }
    let last = core.last_zxid.get();
    if req.last_zxid_seen > last {
        tracing::warn!(
            "refusing session request from {}: client has seen zxid 0x{:x}, our last zxid is 0x{:x}",
            conn.peer,
            req.last_zxid_seen,
            last
        );
        return Err("client ahead of server".into());
    }
    let timeout_ms = req
        .timeout_ms
        .max(core.cfg.min_session_timeout_ms as i32)
        .min(core.cfg.max_session_timeout_ms as i32);
    let slot = Oneshot::new();
    *conn.handshake.borrow_mut() = Some(slot.clone());
    let mode_ro = core.stats.mode() == crate::server::stats::ServerMode::ReadOnly;
    let read_only = req.read_only.map(|_| mode_ro);
    if mode_ro {
        // Cut off from the quorum (`readonlymode.enabled`): only clients that allow a
        // read-only server, with a session of this server alone, as ZooKeeper's
        // ReadOnlyZooKeeperServer; it ends when the member rejoins (all connections
        // close then).
        if req.read_only != Some(true) {
            tracing::info!(
                "refusing session request from {}: this server is read-only and the client                  does not allow that",
                conn.peer
            );
            return Err("not a read-only client".into());
        }
        let session = if req.session_id == 0 {
            core.session_ids.borrow_mut().next_id()
        } else if crate::session::check_password(req.session_id, &req.passwd) {
            req.session_id
        } else {
            0
        };
        slot.set(if session == 0 {
            Handshake::Expired
        } else {
            Handshake::Live {
                session,
                timeout_ms,
                passwd: crate::session::password(session),
            }
        });
    }
    let msg = if mode_ro {
        None
    } else if req.session_id == 0 {
        let session = core.session_ids.borrow_mut().next_id();
        core.awaiting_session.borrow_mut().insert(session, conn.id);
        Some(ToQuorum::CreateSession {
            core: core.idx,
            conn: conn.id,
            session,
            timeout_ms,
        })
    } else {
        let mut req = req;
        req.timeout_ms = timeout_ms;
        Some(ToQuorum::Revalidate {
            core: core.idx,
            conn: conn.id,
            req,
        })
    };
    if let Some(msg) = msg {
        if core.to_quorum.send(msg).await.is_err() {
            return Err("quorum core gone".into());
        }
    }
    match slot.wait().await {
        Handshake::Live {
            session,
            timeout_ms,
            passwd,
        } => {
            conn.session.set(session);
            conn.timeout_ms.set(timeout_ms);
            // A session lives on at most one connection of this core.
            let previous = core.by_session.borrow_mut().insert(session, conn.id);
            if let Some(prev) = previous.filter(|p| *p != conn.id) {
                let old = core.conns.borrow().get(&prev).cloned();
                if let Some(old) = old {
                    old.session.set(0);
                    old.outbox.close_after_flush();
                }
            }
            core.touches.mark(core.idx, session);
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id: session,
                passwd: Bytes::copy_from_slice(&passwd),
                read_only,
            };
            conn.send(frame_out::bare(&resp));
            tracing::debug!(
                "session 0x{session:x} established for {} with timeout {timeout_ms} ms",
                conn.peer
            );
            Ok(())
        }
        Handshake::Expired => {
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                passwd: Bytes::from_static(&[0; 16]),
                read_only,
            };
            conn.send(frame_out::bare(&resp));
            tracing::info!("invalid or expired session from {}", conn.peer);
            Err("session expired".into())
        }
    }
}

async fn handle_frame(core: &Rc<Core>, conn: &Rc<Conn>, frame: Bytes) -> Result<(), Closed> {
    let started = Instant::now();
    if frame.len() < 8 {
        return Err(format!("request of {} bytes has no header", frame.len()));
    }
    let header = match RequestHeader::decode(&mut crate::proto::Reader::new(frame.slice(..8))) {
        Ok(h) => h,
        Err(e) => return Err(format!("bad request header: {e}")),
    };
    if !super::auth::enforce(core, conn, header.xid, header.op) {
        return Ok(());
    }
    let body = frame.slice(8..);
    let session = conn.session.get();
    core.touches.mark(core.idx, session);

    let request = match Request::decode(header.op, body.clone()) {
        Ok(r) => r,
        Err(RequestError::Unimplemented(op)) => {
            // ZooKeeper's UnimplementedRequestProcessor answers, then closes.
            tracing::info!(
                "unimplemented request type {op} from {}; closing",
                conn.peer
            );
            enqueue_error(
                core,
                conn,
                header.xid,
                None,
                ErrorCode::Unimplemented,
                started,
            );
            conn.outbox.close_after_flush();
            return Ok(());
        }
        Err(e @ RequestError::Malformed { .. })
            if header.op == OpCode::Auth as i32 || header.op == OpCode::Sasl as i32 =>
        {
            // ZooKeeper reads these two records as the packet arrives (`processPacket`),
            // and a record it cannot read closes the connection without an answer.
            tracing::info!(
                "closing connection from {}: malformed auth or SASL request: {e}",
                conn.peer
            );
            return Err("malformed auth or SASL request".into());
        }
        Err(e @ RequestError::Malformed { .. }) => {
            tracing::info!("malformed request from {}: {e}", conn.peer);
            let op = OpCode::from_i32(header.op);
            enqueue_error(
                core,
                conn,
                header.xid,
                op,
                ErrorCode::MarshallingError,
                started,
            );
            return Ok(());
        }
    };

    core.my_stats()
        .stage(Stage::Decode, started.elapsed().as_micros() as u64);

    // Authentication is answered at once, out of band, as ZooKeeper does.
    if let Request::Auth(auth) = &request {
        return super::auth::handle(core, conn, header.xid, auth);
    }
    if let Request::Sasl(s) = &request {
        return super::auth::sasl(core, conn, header.xid, &s.token);
    }

    let op = request.op_code();
    if core.stats.mode() == crate::server::stats::ServerMode::ReadOnly {
        if let Request::CloseSession = request {
            // The session was this server's alone: nothing to log.
            conn.send(frame_out::reply(header.xid, core.last_zxid.get(), 0, None));
            conn.outbox.close_after_flush();
            return Ok(());
        }
        if op.is_write() || matches!(request, Request::Sync(_)) {
            // ZooKeeper's ReadOnlyRequestProcessor answers these at once.
            enqueue_error(
                core,
                conn,
                header.xid,
                Some(op),
                ErrorCode::NotReadOnly,
                started,
            );
            return Ok(());
        }
    }
    match request {
        Request::Sync(s) => {
            conn.pending.borrow_mut().push_back(Pending::Write {
                xid: header.xid,
                op,
                reply: None,
                started,
            });
            core.outstanding_inc();
            send_quorum(
                core,
                ToQuorum::Sync {
                    core: core.idx,
                    conn: conn.id,
                    session: conn.session.get(),
                    xid: header.xid,
                    path: s.path,
                },
            )
            .await
        }
        r if op.is_write() && !matches!(r, Request::Reconfig(_)) => {
            conn.pending.borrow_mut().push_back(Pending::Write {
                xid: header.xid,
                op,
                reply: None,
                started,
            });
            core.outstanding_inc();
            let auth = conn.auth.borrow().clone();
            send_quorum(
                core,
                ToQuorum::Write {
                    session: conn.session.get(),
                    xid: header.xid,
                    request: r,
                    body,
                    auth,
                },
            )
            .await
        }
        r => {
            // Whatever was published before this read arrived is visible to it, even
            // if this core has not had the quorum core's wake-up yet: a write another
            // core has answered is in it (read-your-writes across cores).
            core.catch_up();
            let queued = !conn.pending.borrow().is_empty();
            if queued {
                conn.pending.borrow_mut().push_back(Pending::Local {
                    xid: header.xid,
                    request: r,
                    started,
                });
            } else {
                let frame = core.serve_local(conn, header.xid, r);
                core.note_answer(conn, op.short_name(), false, header.xid, started);
                conn.send(frame);
            }
            Ok(())
        }
    }
}

async fn send_quorum(core: &Rc<Core>, msg: ToQuorum) -> Result<(), Closed> {
    core.to_quorum
        .send(msg)
        .await
        .map_err(|_| "quorum core gone".to_string())
}

/// Answers with an error code alone, in FIFO order with the connection's other requests.
fn enqueue_error(
    core: &Rc<Core>,
    conn: &Rc<Conn>,
    xid: i32,
    op: Option<OpCode>,
    err: ErrorCode,
    started: Instant,
) {
    conn.pending.borrow_mut().push_back(Pending::Error {
        xid,
        op,
        err: err.code(),
        started,
    });
    core.drain(conn);
}
