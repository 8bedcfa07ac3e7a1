//! [`Client`]: one ZooKeeper session over one TCP connection, driven by three tasks
//! on the current glommio executor.
//!
//! - Callers encode their request straight into the shared output buffer, push
//!   `(xid, reply slot)` on the FIFO of pending requests, and await the slot. Many
//!   requests may be in flight: the writer task sends whatever accumulated in one
//!   `write`, and the server answers in order, so the reader matches each reply to
//!   the front of the FIFO (a reply with any other xid is a protocol violation and
//!   drops the connection).
//! - The reader task splits frames, completes pending requests with the reply
//!   header and the body (a slice of the read buffer, not a copy), and queues watch
//!   notifications (xid −1) as [`WatchedEvent`]s.
//! - The ping task sends a ping (xid −2) when nothing was sent for a third of the
//!   negotiated timeout, and drops the connection when nothing was received for two
//!   thirds of it (the Java client's read timeout).
//!
//! Single-threaded: `Rc`/`RefCell`, no lock; a `Client` is `!Send`.
//!
//! Reconnection ([`Options::reconnect`], on by default): when the connection is
//! lost, pending calls fail with [`ClientError::ConnectionLoss`], a `Disconnected`
//! event is queued, and a task tries the servers again (backing off up to a second)
//! with the session's id and password. Calls made while disconnected fail at once
//! with `ConnectionLoss` (the Java client queues them instead). On success the
//! watches the session held are set again (setWatches2, sent before anything else)
//! and `SyncConnected` is queued; if the server says the session expired, `Expired`
//! is queued and the client is closed for good. With `reconnect: false` a lost
//! connection closes the client.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;

use super::error::ClientError;
use super::event::{self, event_type, keeper_state, Events, SharedEvents, WatchedEvent};
use super::event::{AddWatchMode, WatcherType};
use super::oneshot;
use super::watches::{Kind, WatchSet};
use crate::proto::frame::take_frame;
use crate::proto::{
    xid, Acl, ClientInfo, ConnectRequest, ConnectResponse, Create2Response, CreateMode, Decode,
    Encode, ErrorCode, GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response,
    GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, MultiOp, MultiRequest,
    MultiResponse, OpCode, OpResult, Reader, ReplyHeader, Stat, SyncResponse, WatcherEvent,
    WhoAmIResponse,
};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// How a [`Client`] connects.
#[derive(Debug, Clone)]
pub struct Options {
    /// Ask for a read-only session (the handshake's trailing `readOnly` byte).
    pub read_only: bool,
    /// Per-address bound on TCP connect plus handshake.
    pub connect_timeout_ms: u64,
    /// Resume this session (id, password) instead of creating one.
    pub session: Option<(i64, Bytes)>,
    /// `lastZxidSeen` sent in the handshake; a server behind it refuses us.
    pub last_zxid_seen: i64,
    /// Largest reply frame accepted; a bigger one drops the connection.
    pub reply_bytes_max: u32,
    /// Requests in flight at most; a call beyond waits for a reply (backpressure
    /// instead of an unbounded queue and output buffer).
    pub in_flight_max: usize,
    /// Reconnect (same session, watches re-set) when the connection is lost.
    pub reconnect: bool,
    /// Speak TLS with this configuration (a server's secure client port); `None`:
    /// plaintext. The server's name checked is its IP address.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            read_only: false,
            connect_timeout_ms: 10_000,
            session: None,
            last_zxid_seen: 0,
            // Above ZooKeeper's 1 MiB jute.maxbuffer so that a maximal znode plus
            // its Stat and header still fits.
            reply_bytes_max: 4 * 1024 * 1024,
            // ZooKeeper's own per-connection throttle is 1000 outstanding
            // requests (`globalOutstandingLimit`); pipelining deeper gains nothing.
            in_flight_max: 1000,
            reconnect: true,
            tls: None,
        }
    }
}

/// A connection to a server: a TCP stream, or TLS over one.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<futures_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }

    async fn write_all(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(b).await,
            Stream::Tls(s) => {
                s.write_all(b).await?;
                s.flush().await
            }
        }
    }

    async fn read_some(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => read_some(s, buf).await,
            Stream::Tls(s) => read_some(s, buf).await,
        }
    }
}

/// A request waiting for its reply. `tx` is `None` for pings (nobody waits).
struct Pending {
    xid: i32,
    tx: Option<oneshot::Sender<(ReplyHeader, Bytes)>>,
}

struct State {
    /// Encoded frames not yet handed to the writer task.
    out: BytesMut,
    writer_waker: Option<Waker>,
    /// Requests sent and not answered, in send order (= reply order).
    pending: VecDeque<Pending>,
    next_xid: i32,
    /// The client is finished (closed, expired, or lost without reconnection).
    closed: bool,
    /// A connection is up (false while reconnecting).
    connected: bool,
    /// Authentication failed: the end of this connection ends the client.
    no_reconnect: bool,
    /// `close()` was called: the end of the connection is a `Closed` event.
    closing: bool,
    last_zxid: i64,
    last_send: Instant,
    last_recv: Instant,
    /// Calls waiting for room under `in_flight_max`, woken one per reply.
    room_waiters: VecDeque<Waker>,
}

struct Inner {
    session_id: i64,
    passwd: Bytes,
    /// Negotiated at each (re)connection.
    timeout_ms: Cell<i32>,
    read_only: Cell<bool>,
    /// The current socket, for `shutdown` (which wakes its reader with EOF).
    fd: Cell<RawFd>,
    /// Bumped per connection; the tasks of an older connection see it and stop.
    generation: Cell<u64>,
    addrs: Vec<SocketAddr>,
    /// The server of the current (or last) connection.
    server: Cell<SocketAddr>,
    /// The timeout asked for, and the options, for reconnecting.
    requested_timeout_ms: i32,
    options: Options,
    reply_bytes_max: u32,
    in_flight_max: usize,
    watches: RefCell<WatchSet>,
    st: RefCell<State>,
    events: SharedEvents,
    events_taken: Cell<bool>,
}

/// A ZooKeeper session. Clones share it (cheap `Rc`). Dropping the last clone shuts
/// the connection (the session then expires on the server); call [`Client::close`]
/// to end the session at once.
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

impl Client {
    /// Connects to the first server of `servers` ("host:port,host:port", tried in
    /// order) that accepts a session. Host names are resolved with the blocking
    /// resolver. A chroot suffix ("/app") is not supported.
    pub async fn connect(
        servers: &str,
        session_timeout_ms: i32,
        options: Options,
    ) -> Result<Client, ClientError> {
        let mut addrs = Vec::new();
        for s in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            addrs.extend(s.to_socket_addrs()?);
        }
        Self::connect_to(&addrs, session_timeout_ms, options).await
    }

    /// Connects to the first of `addrs` that accepts a session.
    pub async fn connect_to(
        addrs: &[SocketAddr],
        session_timeout_ms: i32,
        options: Options,
    ) -> Result<Client, ClientError> {
        let mut last = ClientError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no server address",
        ));
        for addr in addrs {
            let r = handshake(
                *addr,
                session_timeout_ms,
                &options,
                options.session.clone(),
                options.last_zxid_seen,
            )
            .await;
            let (stream, resp, buf) = match r {
                Ok(x) => x,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            if resp.timeout_ms <= 0 {
                return Err(ClientError::SessionExpired);
            }
            let now = Instant::now();
            let inner = Rc::new(Inner {
                session_id: resp.session_id,
                passwd: resp.passwd.clone(),
                timeout_ms: Cell::new(resp.timeout_ms),
                read_only: Cell::new(resp.read_only.unwrap_or(false)),
                fd: Cell::new(-1),
                generation: Cell::new(0),
                addrs: addrs.to_vec(),
                server: Cell::new(*addr),
                requested_timeout_ms: session_timeout_ms,
                reply_bytes_max: options.reply_bytes_max,
                in_flight_max: options.in_flight_max.max(1),
                options,
                watches: RefCell::default(),
                st: RefCell::new(State {
                    out: BytesMut::with_capacity(16 * 1024),
                    writer_waker: None,
                    pending: VecDeque::new(),
                    next_xid: 1,
                    closed: false,
                    connected: false,
                    no_reconnect: false,
                    closing: false,
                    last_zxid: 0,
                    last_send: now,
                    last_recv: now,
                    room_waiters: VecDeque::new(),
                }),
                events: Rc::default(),
                events_taken: Cell::new(false),
            });
            inner.st.borrow_mut().last_zxid = inner.options.last_zxid_seen;
            inner.start_io(*addr, stream, buf, &resp)?;
            return Ok(Client { inner });
        }
        Err(last)
    }

    pub fn session_id(&self) -> i64 {
        self.inner.session_id
    }

    pub fn session_password(&self) -> &Bytes {
        &self.inner.passwd
    }

    /// The timeout the server granted.
    pub fn session_timeout_ms(&self) -> i32 {
        self.inner.timeout_ms.get()
    }

    /// The server accepted us as a read-only client.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only.get()
    }

    /// A connection is up (false while reconnecting, and once closed).
    pub fn is_connected(&self) -> bool {
        let st = self.inner.st.borrow();
        st.connected && !st.closed
    }

    /// Shuts the current connection as a network failure would (for tests of
    /// reconnection).
    #[doc(hidden)]
    pub fn break_connection(&self) {
        // SAFETY: shutdown on our socket; a stale descriptor only yields EBADF.
        unsafe { libc::shutdown(self.inner.fd.get(), libc::SHUT_RDWR) };
    }

    /// The server of the current connection (the last one while reconnecting): which
    /// member of an ensemble answered a call, for a history that attributes reads.
    pub fn server_addr(&self) -> SocketAddr {
        self.inner.server.get()
    }

    /// The highest zxid seen in any reply.
    pub fn last_zxid(&self) -> i64 {
        self.inner.st.borrow().last_zxid
    }

    /// The connection is gone (lost or closed).
    pub fn is_closed(&self) -> bool {
        self.inner.st.borrow().closed
    }

    /// Takes the event receiver; `None` after the first call. Events are queued from
    /// the connect on (the first is `SyncConnected`), whether taken or not.
    pub fn events(&self) -> Option<Events> {
        if self.inner.events_taken.replace(true) {
            return None;
        }
        Some(Events(self.inner.events.clone()))
    }

    /// Sends one raw request (`body` is the record after the RequestHeader) and
    /// returns the reply header and body as received, whatever the error code.
    pub async fn submit(
        &self,
        op: OpCode,
        body: Bytes,
    ) -> Result<(ReplyHeader, Bytes), ClientError> {
        self.call(None, op, |out| out.put_slice(&body)).await
    }

    /// Sends a request; `encode` writes its body. `xid` is the next xid unless given.
    async fn call(
        &self,
        fixed_xid: Option<i32>,
        op: OpCode,
        encode: impl FnOnce(&mut BytesMut),
    ) -> Result<(ReplyHeader, Bytes), ClientError> {
        self.inner.room().await;
        let rx = self.inner.enqueue(fixed_xid, op, encode, true)?;
        match rx {
            Some(rx) => rx.await.ok_or(ClientError::ConnectionLoss),
            None => Err(ClientError::ConnectionLoss),
        }
    }

    /// Like `call`, turning a non-zero error code into `ClientError::Keeper`.
    async fn call_ok(
        &self,
        op: OpCode,
        encode: impl FnOnce(&mut BytesMut),
    ) -> Result<Bytes, ClientError> {
        let (h, body) = self.call(None, op, encode).await?;
        if h.err != 0 {
            return Err(ClientError::Keeper(ErrorCode::from_code(h.err)));
        }
        Ok(body)
    }

    async fn call_decode<R: Decode>(
        &self,
        op: OpCode,
        encode: impl FnOnce(&mut BytesMut),
    ) -> Result<R, ClientError> {
        Ok(R::from_bytes(self.call_ok(op, encode).await?)?)
    }

    /// create2 (or createContainer): returns the created path (with its sequence
    /// suffix) and Stat. TTL modes need [`Client::create_ttl`].
    pub async fn create(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat), ClientError> {
        if mode.is_ttl() {
            return Err(ClientError::Keeper(ErrorCode::BadArguments));
        }
        let op = if mode.is_container() {
            OpCode::CreateContainer
        } else {
            OpCode::Create2
        };
        let r: Create2Response = self
            .call_decode(op, |out| {
                put_str(out, path);
                put_data(out, data);
                put_acl(out, acl);
                out.put_i32(mode.flags());
            })
            .await?;
        Ok((r.path, r.stat))
    }

    /// createTTL: `mode` is a TTL mode, or a persistent one (turned into its TTL form).
    pub async fn create_ttl(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: i64,
    ) -> Result<(String, Stat), ClientError> {
        let mode = match mode {
            CreateMode::Persistent => CreateMode::PersistentWithTtl,
            CreateMode::PersistentSequential => CreateMode::PersistentSequentialWithTtl,
            m if m.is_ttl() => m,
            _ => return Err(ClientError::Keeper(ErrorCode::BadArguments)),
        };
        let r: Create2Response = self
            .call_decode(OpCode::CreateTtl, |out| {
                put_str(out, path);
                put_data(out, data);
                put_acl(out, acl);
                out.put_i32(mode.flags());
                out.put_i64(ttl_ms);
            })
            .await?;
        Ok((r.path, r.stat))
    }

    /// `version` −1 matches any version.
    pub async fn delete(&self, path: &str, version: i32) -> Result<(), ClientError> {
        self.call_ok(OpCode::Delete, |out| {
            put_str(out, path);
            out.put_i32(version);
        })
        .await?;
        Ok(())
    }

    /// `None` when the node does not exist (the watch, if asked, is then set for its
    /// creation).
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>, ClientError> {
        match self
            .call_ok(OpCode::Exists, |out| put_path_watch(out, path, watch))
            .await
        {
            Ok(body) => {
                self.watched(watch, Kind::Data, path);
                Ok(Some(Stat::from_bytes(body)?))
            }
            Err(ClientError::Keeper(ErrorCode::NoNode)) => {
                self.watched(watch, Kind::Exist, path);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Data (`None` when the node holds null, as zkCli's "null") and Stat.
    pub async fn get_data(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Bytes>, Stat), ClientError> {
        let r: GetDataResponse = self
            .call_decode(OpCode::GetData, |out| put_path_watch(out, path, watch))
            .await?;
        self.watched(watch, Kind::Data, path);
        Ok((r.data, r.stat))
    }

    pub async fn set_data(
        &self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
    ) -> Result<Stat, ClientError> {
        self.call_decode(OpCode::SetData, |out| {
            put_str(out, path);
            put_data(out, data);
            out.put_i32(version);
        })
        .await
    }

    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat), ClientError> {
        let r: GetAclResponse = self
            .call_decode(OpCode::GetAcl, |out| put_str(out, path))
            .await?;
        Ok((r.acl, r.stat))
    }

    pub async fn set_acl(
        &self,
        path: &str,
        acl: &[Acl],
        version: i32,
    ) -> Result<Stat, ClientError> {
        self.call_decode(OpCode::SetAcl, |out| {
            put_str(out, path);
            put_acl(out, acl);
            out.put_i32(version);
        })
        .await
    }

    pub async fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>, ClientError> {
        let r: GetChildrenResponse = self
            .call_decode(OpCode::GetChildren, |out| put_path_watch(out, path, watch))
            .await?;
        self.watched(watch, Kind::Child, path);
        Ok(r.children)
    }

    pub async fn get_children2(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), ClientError> {
        let r: GetChildren2Response = self
            .call_decode(OpCode::GetChildren2, |out| put_path_watch(out, path, watch))
            .await?;
        self.watched(watch, Kind::Child, path);
        Ok((r.children, r.stat))
    }

    /// Returns the path the server echoes.
    pub async fn sync(&self, path: &str) -> Result<String, ClientError> {
        let r: SyncResponse = self
            .call_decode(OpCode::Sync, |out| put_str(out, path))
            .await?;
        Ok(r.path)
    }

    /// The standalone check op (ZooKeeper 3.9; older servers answer UNIMPLEMENTED).
    pub async fn check(&self, path: &str, version: i32) -> Result<(), ClientError> {
        self.call_ok(OpCode::Check, |out| {
            put_str(out, path);
            out.put_i32(version);
        })
        .await?;
        Ok(())
    }

    /// An atomic multi of write ops (see [`super::ops`]). On failure returns
    /// [`ClientError::MultiFailed`] naming the first op that failed.
    pub async fn multi(&self, ops: Vec<MultiOp>) -> Result<Vec<OpResult>, ClientError> {
        let req = MultiRequest { ops };
        let (h, body) = self
            .call(None, OpCode::Multi, |out| req.encode(out))
            .await?;
        if h.err != 0 && body.is_empty() {
            return Err(ClientError::Keeper(ErrorCode::from_code(h.err)));
        }
        let results = MultiResponse::from_bytes(body)?.results;
        let failed = results.iter().enumerate().find_map(|(i, r)| match r {
            OpResult::Error(e) if *e != 0 && *e != ErrorCode::RuntimeInconsistency.code() => {
                Some((i, *e))
            }
            _ => None,
        });
        if let Some((index, e)) = failed {
            return Err(ClientError::MultiFailed {
                index,
                code: ErrorCode::from_code(e),
            });
        }
        if h.err != 0 {
            return Err(ClientError::Keeper(ErrorCode::from_code(h.err)));
        }
        Ok(results)
    }

    /// A multiRead of getData / getChildren ops; each op fails or succeeds on its own
    /// (`OpResult::Error`).
    pub async fn multi_read(&self, ops: Vec<MultiOp>) -> Result<Vec<OpResult>, ClientError> {
        let req = MultiRequest { ops };
        let body = self
            .call_ok(OpCode::MultiRead, |out| req.encode(out))
            .await?;
        Ok(MultiResponse::from_bytes(body)?.results)
    }

    /// Adds an identity to the session ("digest", "user:password"). Unlike the Java
    /// client this waits for the answer; a rejected one (AUTHFAILED) also ends the
    /// connection, as the server closes it.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<(), ClientError> {
        let (h, _) = self
            .call(Some(xid::AUTH), OpCode::Auth, |out| {
                out.put_i32(0);
                put_str(out, scheme);
                put_buf(out, auth);
            })
            .await?;
        if h.err != 0 {
            return Err(ClientError::Keeper(ErrorCode::from_code(h.err)));
        }
        Ok(())
    }

    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<(), ClientError> {
        self.call_ok(OpCode::AddWatch, |out| {
            put_str(out, path);
            out.put_i32(mode as i32);
        })
        .await?;
        let kind = match mode {
            AddWatchMode::Persistent => Kind::Persistent,
            AddWatchMode::PersistentRecursive => Kind::Recursive,
        };
        self.watched(true, kind, path);
        Ok(())
    }

    /// Removes this session's watches of `kind` on `path` at the server (NOWATCHER
    /// when there is none).
    pub async fn remove_watches(&self, path: &str, kind: WatcherType) -> Result<(), ClientError> {
        self.call_ok(OpCode::RemoveWatches, |out| {
            put_str(out, path);
            out.put_i32(kind as i32);
        })
        .await?;
        self.inner.watches.borrow_mut().remove(kind, path);
        Ok(())
    }

    /// Fails with NOWATCHER when this session has no watch of `kind` on `path`.
    pub async fn check_watches(&self, path: &str, kind: WatcherType) -> Result<(), ClientError> {
        self.call_ok(OpCode::CheckWatches, |out| {
            put_str(out, path);
            out.put_i32(kind as i32);
        })
        .await?;
        Ok(())
    }

    /// This session's ephemeral nodes whose path starts with `prefix` ("/" for all).
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>, ClientError> {
        let r: GetEphemeralsResponse = self
            .call_decode(OpCode::GetEphemerals, |out| put_str(out, prefix))
            .await?;
        Ok(r.ephemerals)
    }

    /// The number of descendants of `path` (not counting itself).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32, ClientError> {
        let r: GetAllChildrenNumberResponse = self
            .call_decode(OpCode::GetAllChildrenNumber, |out| put_str(out, path))
            .await?;
        Ok(r.total_number)
    }

    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>, ClientError> {
        let r: WhoAmIResponse = self.call_decode(OpCode::WhoAmI, |_| {}).await?;
        Ok(r.client_info)
    }

    /// Records a watch the server now holds, to set it again after a reconnection.
    fn watched(&self, watch: bool, kind: Kind, path: &str) {
        if watch {
            self.inner.watches.borrow_mut().add(kind, path);
        }
    }

    /// Ends the session (closeSession), then the connection. Ephemeral nodes go now.
    pub async fn close(&self) -> Result<(), ClientError> {
        if self.is_closed() {
            return Ok(());
        }
        self.inner.st.borrow_mut().closing = true;
        if !self.is_connected() {
            // Reconnecting: nothing to tell a server; stop here.
            self.inner.finish(keeper_state::CLOSED);
            return Ok(());
        }
        let r = self.call_ok(OpCode::CloseSession, |_| {}).await;
        self.inner.finish(keeper_state::CLOSED);
        match r {
            Ok(_) | Err(ClientError::ConnectionLoss) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Inner {
    /// Waits until fewer than `in_flight_max` requests are pending (or the
    /// connection is gone, which `enqueue` then reports).
    async fn room(&self) {
        poll_fn(|cx| {
            let mut st = self.st.borrow_mut();
            if st.closed || st.pending.len() < self.in_flight_max {
                // Pass the wake on while room remains, so a waiter that was woken
                // and then dropped cannot leave the others asleep.
                if st.closed || st.pending.len() + 1 < self.in_flight_max {
                    if let Some(w) = st.room_waiters.pop_front() {
                        w.wake();
                    }
                }
                return Poll::Ready(());
            }
            st.room_waiters.push_back(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Appends one request frame to the output buffer and registers its reply slot.
    /// `want_reply` false (pings) registers no slot.
    fn enqueue(
        &self,
        fixed_xid: Option<i32>,
        op: OpCode,
        encode: impl FnOnce(&mut BytesMut),
        want_reply: bool,
    ) -> Result<Option<oneshot::Receiver<(ReplyHeader, Bytes)>>, ClientError> {
        let waker = {
            let mut st = self.st.borrow_mut();
            if st.closed || !st.connected {
                return Err(ClientError::ConnectionLoss);
            }
            let xid = match fixed_xid {
                Some(x) => x,
                None => {
                    let x = st.next_xid;
                    // Positive xids only: negative ones are reserved for special packets.
                    st.next_xid = if x == i32::MAX { 1 } else { x + 1 };
                    x
                }
            };
            let start = st.out.len();
            st.out.put_i32(0);
            st.out.put_i32(xid);
            st.out.put_i32(op as i32);
            encode(&mut st.out);
            let len = (st.out.len() - start - 4) as i32;
            st.out[start..start + 4].copy_from_slice(&len.to_be_bytes());
            let (tx, rx) = if want_reply {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            } else {
                (None, None)
            };
            st.pending.push_back(Pending { xid, tx });
            st.last_send = Instant::now();
            (st.writer_waker.take(), rx)
        };
        if let Some(w) = waker.0 {
            w.wake();
        }
        Ok(waker.1)
    }

    /// Handles one reply frame. An error drops the connection.
    fn dispatch(&self, frame: Bytes) -> Result<(), ClientError> {
        let mut r = Reader::new(frame);
        let h = ReplyHeader::decode(&mut r)?;
        let body = r.rest();
        let done = {
            let mut st = self.st.borrow_mut();
            st.last_recv = Instant::now();
            if h.zxid > st.last_zxid {
                st.last_zxid = h.zxid;
            }
            if h.xid == xid::NOTIFICATION {
                None
            } else if st.pending.front().map(|p| p.xid) == Some(h.xid) {
                if let Some(w) = st.room_waiters.pop_front() {
                    w.wake();
                }
                st.pending.pop_front()
            } else if h.xid == xid::PING {
                return Ok(());
            } else {
                tracing::warn!(xid = h.xid, "reply out of order, dropping the connection");
                return Err(ClientError::ConnectionLoss);
            }
        };
        match done {
            None => {
                let ev = WatcherEvent::from_bytes(body)?;
                self.watches.borrow_mut().on_event(ev.event_type, &ev.path);
                event::push(
                    &self.events,
                    WatchedEvent {
                        event_type: ev.event_type,
                        state: ev.state,
                        path: Some(ev.path),
                        zxid: h.zxid,
                    },
                );
            }
            Some(p) => {
                if h.xid == xid::AUTH && h.err == ErrorCode::AuthFailed.code() {
                    // The server closes the connection next; the Java client then
                    // stops for good, and so do we.
                    self.st.borrow_mut().no_reconnect = true;
                    event::push(
                        &self.events,
                        WatchedEvent {
                            event_type: event_type::NONE,
                            state: keeper_state::AUTH_FAILED,
                            path: None,
                            zxid: -1,
                        },
                    );
                }
                if let Some(tx) = p.tx {
                    tx.send((h, body));
                }
            }
        }
        Ok(())
    }

    /// Takes a fresh connection into use: a new generation of reader, writer and
    /// ping tasks, the watches set again, `SyncConnected` queued.
    fn start_io(
        self: &Rc<Self>,
        server: SocketAddr,
        stream: Stream,
        buf: BytesMut,
        resp: &ConnectResponse,
    ) -> Result<(), ClientError> {
        let fd = stream.tcp().as_raw_fd();
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        self.fd.set(fd);
        self.server.set(server);
        self.timeout_ms.set(resp.timeout_ms);
        self.read_only.set(resp.read_only.unwrap_or(false));
        {
            let mut st = self.st.borrow_mut();
            st.connected = true;
            st.out.clear();
            let now = Instant::now();
            st.last_send = now;
            st.last_recv = now;
        }
        // Before any other request on this connection, so that no change slips
        // between the reconnection and the watches.
        let watches = self.watches.borrow();
        if !watches.is_empty() {
            let record = watches.to_set_watches2(self.st.borrow().last_zxid);
            self.enqueue(
                Some(xid::SET_WATCHES),
                OpCode::SetWatches2,
                |out| record.encode(out),
                false,
            )?;
        }
        drop(watches);
        let state = if self.read_only.get() {
            keeper_state::CONNECTED_READ_ONLY
        } else {
            keeper_state::SYNC_CONNECTED
        };
        self.push_state(state);
        let weak = Rc::downgrade(self);
        match stream {
            Stream::Plain(stream) => {
                // The reader and the writer each own a stream on the same socket; dup
                // keeps them independent without a lock around one stream.
                // SAFETY: `dup` returns a new descriptor that only the writer owns.
                let wfd = unsafe { libc::dup(fd) };
                if wfd < 0 {
                    return Err(std::io::Error::last_os_error().into());
                }
                // SAFETY: `wfd` is a fresh, open socket descriptor owned by nobody else.
                let writer = unsafe { TcpStream::from_raw_fd(wfd) };
                glommio::spawn_local(read_loop(weak.clone(), generation, stream, buf)).detach();
                glommio::spawn_local(write_loop(weak.clone(), generation, writer)).detach();
            }
            Stream::Tls(stream) => {
                // One TLS session's state serves both directions: split it (a lock
                // per read or write, on this client's TLS path only).
                let (reader, writer) = futures_lite::io::split(stream);
                glommio::spawn_local(read_loop(weak.clone(), generation, reader, buf)).detach();
                glommio::spawn_local(write_loop(weak.clone(), generation, writer)).detach();
            }
        }
        let timeout_ms = resp.timeout_ms as u64;
        glommio::spawn_local(ping_loop(
            weak,
            generation,
            Duration::from_millis((timeout_ms / 3).max(1)),
            Duration::from_millis((timeout_ms * 2 / 3).max(1)),
        ))
        .detach();
        Ok(())
    }

    fn push_state(&self, state: i32) {
        event::push(
            &self.events,
            WatchedEvent {
                event_type: event_type::NONE,
                state,
                path: None,
                zxid: -1,
            },
        );
    }

    /// Connection `generation` is gone: fail everything pending, then reconnect or
    /// finish. A stale generation (already replaced) is ignored.
    fn lost(self: &Rc<Self>, generation: u64) {
        if generation != self.generation.get() {
            return;
        }
        let (pending, waker, waiters, closing, no_reconnect) = {
            let mut st = self.st.borrow_mut();
            if st.closed || !st.connected {
                return;
            }
            st.connected = false;
            st.out.clear();
            (
                std::mem::take(&mut st.pending),
                st.writer_waker.take(),
                std::mem::take(&mut st.room_waiters),
                st.closing,
                st.no_reconnect,
            )
        };
        // Dropping the reply senders resolves every waiting call to ConnectionLoss.
        drop(pending);
        for w in waiters {
            w.wake();
        }
        if let Some(w) = waker {
            w.wake();
        }
        // SAFETY: shutdown on our socket; a stale descriptor only yields EBADF.
        unsafe { libc::shutdown(self.fd.get(), libc::SHUT_RDWR) };
        if closing {
            self.finish(keeper_state::CLOSED);
        } else if no_reconnect || !self.options.reconnect {
            self.finish(keeper_state::DISCONNECTED);
        } else {
            self.push_state(keeper_state::DISCONNECTED);
            glommio::spawn_local(reconnect_loop(Rc::downgrade(self))).detach();
        }
    }

    /// The client is done for good: queue the last event, end the queue, drop the
    /// connection if one is up.
    fn finish(&self, state: i32) {
        let (pending, waker, waiters) = {
            let mut st = self.st.borrow_mut();
            if st.closed {
                return;
            }
            st.closed = true;
            st.connected = false;
            (
                std::mem::take(&mut st.pending),
                st.writer_waker.take(),
                std::mem::take(&mut st.room_waiters),
            )
        };
        drop(pending);
        for w in waiters {
            w.wake();
        }
        if let Some(w) = waker {
            w.wake();
        }
        // SAFETY: shutdown on our socket; a stale descriptor only yields EBADF.
        unsafe { libc::shutdown(self.fd.get(), libc::SHUT_RDWR) };
        self.push_state(state);
        event::close(&self.events);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.finish(keeper_state::CLOSED);
    }
}

/// Performs the handshake with one server, bounded by `connect_timeout_ms`.
async fn handshake(
    addr: SocketAddr,
    session_timeout_ms: i32,
    options: &Options,
    session: Option<(i64, Bytes)>,
    last_zxid_seen: i64,
) -> Result<(Stream, ConnectResponse, BytesMut), ClientError> {
    let timeout = Duration::from_millis(options.connect_timeout_ms.max(1));
    let exchange = async {
        let tcp = TcpStream::connect_timeout(addr, timeout)
            .await
            .map_err(std::io::Error::from)?;
        tcp.set_nodelay(true).map_err(std::io::Error::from)?;
        let mut stream = match &options.tls {
            None => Stream::Plain(tcp),
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let tls = futures_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await?;
                Stream::Tls(Box::new(tls))
            }
        };
        let (session_id, passwd) = session.unwrap_or_else(|| (0, Bytes::from_static(&[0; 16])));
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout_ms: session_timeout_ms,
            session_id,
            passwd,
            read_only: Some(options.read_only),
        };
        let mut out = BytesMut::new();
        out.put_i32(0);
        req.encode(&mut out);
        let len = (out.len() - 4) as i32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        stream.write_all(&out).await?;
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let frame = loop {
            if let Some(f) = take_frame(&mut buf, options.reply_bytes_max)
                .map_err(|_| ClientError::ConnectionLoss)?
            {
                break f;
            }
            if stream.read_some(&mut buf).await? == 0 {
                return Err(ClientError::ConnectionLoss);
            }
        };
        let resp = ConnectResponse::from_bytes(frame)?;
        Ok::<_, ClientError>((stream, resp, buf))
    };
    let timed_out = async {
        glommio::timer::sleep(timeout).await;
        Err(ClientError::ConnectionLoss)
    };
    futures_lite::future::or(exchange, timed_out).await
}

/// Backoff between rounds over all servers while reconnecting.
const RECONNECT_BACKOFF_MS_MIN: u64 = 50;
const RECONNECT_BACKOFF_MS_MAX: u64 = 1000;

/// Tries the servers until one takes the session back, the server says it expired,
/// or the client is closed or dropped.
async fn reconnect_loop(weak: Weak<Inner>) {
    let mut backoff_ms = RECONNECT_BACKOFF_MS_MIN;
    loop {
        let (addrs, timeout_ms, options, session, last_zxid) = {
            let Some(inner) = weak.upgrade() else { return };
            let st = inner.st.borrow();
            if st.closed || st.closing {
                return;
            }
            (
                inner.addrs.clone(),
                inner.requested_timeout_ms,
                inner.options.clone(),
                (inner.session_id, inner.passwd.clone()),
                st.last_zxid,
            )
        };
        for addr in addrs {
            let r = handshake(addr, timeout_ms, &options, Some(session.clone()), last_zxid).await;
            let Some(inner) = weak.upgrade() else { return };
            if inner.st.borrow().closed {
                return;
            }
            let Ok((stream, resp, buf)) = r else { continue };
            if resp.timeout_ms <= 0 {
                inner.finish(keeper_state::EXPIRED);
                return;
            }
            if let Err(e) = inner.start_io(addr, stream, buf, &resp) {
                tracing::debug!(error = %e, "reconnection failed");
                continue;
            }
            return;
        }
        glommio::timer::sleep(Duration::from_millis(backoff_ms)).await;
        backoff_ms = (backoff_ms * 2).min(RECONNECT_BACKOFF_MS_MAX);
    }
}

async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    let start = buf.len();
    buf.resize(start + READ_CHUNK, 0);
    let r = stream.read(&mut buf[start..]).await;
    let n = *r.as_ref().unwrap_or(&0);
    buf.truncate(start + n);
    r
}

async fn read_loop<S: AsyncRead + Unpin>(
    weak: Weak<Inner>,
    generation: u64,
    mut stream: S,
    mut buf: BytesMut,
) {
    let max = match weak.upgrade() {
        Some(i) => i.reply_bytes_max,
        None => return,
    };
    loop {
        match take_frame(&mut buf, max) {
            Ok(Some(frame)) => {
                let Some(inner) = weak.upgrade() else { return };
                if inner.generation.get() != generation {
                    return;
                }
                if let Err(e) = inner.dispatch(frame) {
                    tracing::debug!(error = %e, "bad reply");
                    inner.lost(generation);
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "bad reply frame");
                break;
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK);
        }
        match read_some(&mut stream, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if let Some(inner) = weak.upgrade() {
        inner.lost(generation);
    }
}

async fn write_loop<S: AsyncWrite + Unpin>(weak: Weak<Inner>, generation: u64, mut stream: S) {
    let mut chunk = BytesMut::with_capacity(16 * 1024);
    loop {
        let more = poll_fn(|cx| {
            let Some(inner) = weak.upgrade() else {
                return Poll::Ready(false);
            };
            if inner.generation.get() != generation {
                return Poll::Ready(false);
            }
            let mut st = inner.st.borrow_mut();
            if st.closed || !st.connected {
                return Poll::Ready(false);
            }
            if st.out.is_empty() {
                st.writer_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            // Double buffering: callers keep appending to the other buffer while this
            // one is written; both keep their capacity.
            std::mem::swap(&mut st.out, &mut chunk);
            Poll::Ready(true)
        })
        .await;
        if !more {
            return;
        }
        // `flush` hands a TLS writer's records to the socket; a TCP stream's is a no-op.
        if stream.write_all(&chunk).await.is_err() || stream.flush().await.is_err() {
            if let Some(inner) = weak.upgrade() {
                inner.lost(generation);
            }
            return;
        }
        chunk.clear();
    }
}

async fn ping_loop(
    weak: Weak<Inner>,
    generation: u64,
    ping_every: Duration,
    read_timeout: Duration,
) {
    loop {
        let wait = {
            let Some(inner) = weak.upgrade() else { return };
            if inner.generation.get() != generation {
                return;
            }
            let (idle_send, idle_recv) = {
                let st = inner.st.borrow();
                if st.closed || !st.connected {
                    return;
                }
                (st.last_send.elapsed(), st.last_recv.elapsed())
            };
            if idle_recv >= read_timeout {
                tracing::debug!(
                    session = inner.session_id,
                    "server silent, dropping the connection"
                );
                inner.lost(generation);
                return;
            }
            if idle_send >= ping_every {
                if inner
                    .enqueue(Some(xid::PING), OpCode::Ping, |_| {}, false)
                    .is_err()
                {
                    return;
                }
                ping_every
            } else {
                ping_every - idle_send
            }
        };
        glommio::timer::sleep(wait).await;
    }
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_i32(s.len() as i32);
    out.put_slice(s.as_bytes());
}

fn put_buf(out: &mut BytesMut, b: &[u8]) {
    out.put_i32(b.len() as i32);
    out.put_slice(b);
}

/// A jute buffer that may be null (−1): znode data keeps null apart from empty.
fn put_data(out: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        Some(b) => put_buf(out, b),
        None => out.put_i32(-1),
    }
}

fn put_path_watch(out: &mut BytesMut, path: &str, watch: bool) {
    put_str(out, path);
    out.put_u8(u8::from(watch));
}

fn put_acl(out: &mut BytesMut, acl: &[Acl]) {
    out.put_i32(acl.len() as i32);
    for a in acl {
        a.encode(out);
    }
}
