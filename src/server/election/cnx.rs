//! The election port's connections, as ZooKeeper's `QuorumCnxManager` keeps them.
//!
//! - Every connection starts with the initiator's initial message (protocol V1, as
//!   Java 3.8 sends it); the receiver answers nothing.
//! - The connection that survives is the one opened by the larger sid: an initiator
//!   with the smaller sid only "knocks" (connects, says who it is, hangs up) and the
//!   receiver dials back (§1.2 of the quorum reference).
//! - One connection per peer; a new one replaces the old. Each has a reader task
//!   (frames → `Fle`) and a writer task draining the peer's send queue, which holds one
//!   message: a newer notification replaces an unsent one, and a new connection first
//!   re-sends the last message sent, as Java's `SendWorker` does.
//! - Connecting is bounded by `cnxTimeout`, the initial message by
//!   `quorumCnxnTimeoutMs` (tickTime × syncLimit), frames by 512 KiB, and handshakes in
//!   progress by [`MAX_HANDSHAKES`]. A peer that sends garbage is closed with a log line.
//! - With `sslQuorum` each connection is TLS from its first byte (`super::super::peer_tls`):
//!   the handshake counts in the initial message's time on the receiving side and in
//!   `cnxTimeout` on the initiating side.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::future::or;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::super::acceptor::Acceptor;
use super::super::peer_tls::{PeerStream, PeerTls};
use super::super::signal::Signal;
use super::{Core, ElectionError};
use crate::zab::fle::Input;
use crate::zab::wire::election::{decode_frame, Notification};
use crate::zab::wire::handshake::{InitialMessage, LEGACY_OBSERVER_SID, MAX_ADDRESS_LEN};
use crate::zab::wire::Decoded;
use crate::zab::Sid;

/// Connections still in their initial message at once; more are closed at once (Java
/// bounds them with its connection thread pool).
pub const MAX_HANDSHAKES: usize = 32;
/// The longest initial message: two longs, the length, the address.
const MAX_HELLO: usize = 20 + MAX_ADDRESS_LEN;
/// Connections kept at once from sids outside the configuration (observers of an old
/// config, tools); Java answers them too, but without a bound.
pub const MAX_UNKNOWN_PEERS: usize = 64;

/// One peer as the connection manager sees it.
#[derive(Default)]
pub(super) struct Peer {
    /// The send queue (`queueSendMap`), capacity 1.
    queued: Option<Bytes>,
    /// `lastMessageSent`, re-sent first on a new connection.
    last_sent: Option<Bytes>,
    conn: Option<Rc<Conn>>,
    /// A connection attempt is under way (`inprogressConnections`).
    connecting: bool,
    /// When a broken connection was last dialed again at once (see `redial`).
    redialed_at: Option<std::time::Instant>,
    /// We were connected with it once: a refusal now means it went away. A peer never
    /// reached may just not have started yet, so its refusal is not reported.
    ever_connected: bool,
}

/// One live connection: its tasks stop when `closed` is set.
pub(super) struct Conn {
    id: u64,
    closed: Cell<bool>,
    wake_reader: Signal,
    wake_writer: Signal,
}

impl Conn {
    fn close(&self) {
        self.closed.set(true);
        self.wake_reader.raise();
        self.wake_writer.raise();
    }
}

thread_local! {
    static NEXT_CONN: Cell<u64> = const { Cell::new(1) };
}

/// Binds the election port, one try a second, `retries` tries (0: until it works).
pub(super) async fn bind(
    addr: SocketAddr,
    retries: u32,
) -> Result<std::net::TcpListener, ElectionError> {
    let mut tries = 0u32;
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(source) => {
                tries = tries.saturating_add(1);
                if retries != 0 && tries >= retries {
                    return Err(ElectionError::Listen { addr, source });
                }
                tracing::warn!("election: cannot bind {addr} ({source}); retrying in 1 s");
                glommio::timer::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Accepts connections on the election port for as long as the process runs.
pub(super) fn spawn_listener(
    core: Rc<Core>,
    listener: std::net::TcpListener,
) -> std::io::Result<()> {
    core.listen_fd
        .set(Some(std::os::fd::AsRawFd::as_raw_fd(&listener)));
    let mut acceptor = Acceptor::spawn_named("election port", "rk-election-accept", listener)?;
    let in_handshake = Rc::new(Cell::new(0usize));
    glommio::spawn_local(async move {
        while let Some(stream) = acceptor.next().await {
            if core.stopped.get() {
                // `close_all` has shut the listener down already.
                return;
            }
            let from = stream.peer_addr().ok();
            if in_handshake.get() >= MAX_HANDSHAKES {
                tracing::warn!(
                    "election: closing a connection from {from:?}: {MAX_HANDSHAKES} \
                     handshakes already in progress"
                );
                continue;
            }
            in_handshake.set(in_handshake.get() + 1);
            let core = core.clone();
            let count = in_handshake.clone();
            glommio::spawn_local(async move {
                let hello = read_hello(&core, stream, from).await;
                count.set(count.get() - 1);
                if let Some((msg, stream, rest)) = hello {
                    received_hello(&core, msg, stream, rest, from);
                }
            })
            .detach();
        }
    })
    .detach();
    Ok(())
}

/// Reads a peer's initial message within the handshake timeout. Returns it with the
/// stream and any bytes that followed it; `None` (connection dropped, logged) on
/// garbage, a timeout or EOF.
async fn read_hello(
    core: &Core,
    stream: TcpStream,
    from: Option<SocketAddr>,
) -> Option<(InitialMessage, PeerStream, Vec<u8>)> {
    let read = async {
        // Bounded by the timeout below, with the initial message.
        let mut stream =
            PeerTls::accept(core.tls.as_deref(), stream, core.handshake_timeout).await?;
        let mut buf = Vec::with_capacity(64);
        let mut chunk = [0u8; 512];
        loop {
            match InitialMessage::decode(&buf) {
                Err(e) => return Err(format!("bad initial message: {e}")),
                Ok(Decoded::Complete { value, consumed }) => {
                    return Ok((value, stream, buf.split_off(consumed)));
                }
                Ok(Decoded::Incomplete) if buf.len() >= MAX_HELLO => {
                    return Err("initial message too long".into());
                }
                Ok(Decoded::Incomplete) => {}
            }
            let want = (MAX_HELLO - buf.len()).min(chunk.len());
            match stream.read(&mut chunk[..want]).await {
                Ok(0) => return Err("closed before its initial message".into()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("reading its initial message: {e}")),
            }
        }
    };
    let timeout = async {
        glommio::timer::sleep(core.handshake_timeout).await;
        Err(format!(
            "no initial message within {} ms",
            core.handshake_timeout.as_millis()
        ))
    };
    match or(read, timeout).await {
        Ok((msg, stream, rest)) => Some((msg, stream, rest)),
        Err(why) => {
            tracing::warn!("election: closing the connection from {from:?}: {why}");
            None
        }
    }
}

/// The receiver's half of the connection rule.
fn received_hello(
    core: &Rc<Core>,
    msg: InitialMessage,
    stream: PeerStream,
    rest: Vec<u8>,
    from: Option<SocketAddr>,
) {
    let sid = msg.sid;
    if sid == LEGACY_OBSERVER_SID {
        tracing::warn!(
            "election: closing the connection from {from:?}: it announces the legacy \
             observer id, which is not supported"
        );
        return;
    }
    if sid == core.myid {
        // ZOOKEEPER-2164: two servers configured with one id.
        tracing::error!(
            "election: a server at {from:?} connected with my own id {sid}; closing it \
             (check myid on every server)"
        );
        return;
    }
    if !core.addrs.contains_key(&sid) {
        let unknown = core
            .peers
            .borrow()
            .iter()
            .filter(|(id, p)| !core.addrs.contains_key(id) && p.conn.is_some())
            .count();
        if unknown >= MAX_UNKNOWN_PEERS {
            tracing::warn!(
                "election: closing the connection from {from:?} (server {sid}, not in the \
                 configuration): {MAX_UNKNOWN_PEERS} such connections already open"
            );
            return;
        }
    }
    if sid < core.myid {
        // The smaller sid knocked: drop this one and any old connection, and dial back
        // where it says it listens (Java too, for this one dial-back). Only an IP
        // literal is taken: resolving a name would block the executor, and the
        // configured address serves as well.
        let announced = msg.addresses.first().and_then(|a| {
            let ip: std::net::IpAddr = a.host.parse().ok()?;
            Some(SocketAddr::new(ip, a.port))
        });
        tracing::debug!("election: server {sid} connected; dialing it back");
        drop(stream);
        drop_conn(core, sid);
        connect_one(core, sid, announced);
    } else {
        install(core, sid, stream, rest);
    }
}

/// Queues `frame` for `to` (replacing an unsent one) and makes sure a connection is
/// on its way (`QuorumCnxManager.toSend` → `connectOne`).
pub(super) fn send(core: &Rc<Core>, to: Sid, frame: Bytes) {
    let conn = {
        let mut peers = core.peers.borrow_mut();
        let peer = peers.entry(to).or_default();
        peer.queued = Some(frame);
        peer.conn.clone()
    };
    match conn {
        Some(c) => c.wake_writer.raise(),
        None => connect_one(core, to, None),
    }
}

/// Opens a connection to `sid` (at `addr`, else its configured address) unless one
/// exists or is being opened.
fn connect_one(core: &Rc<Core>, sid: Sid, addr: Option<SocketAddr>) {
    let addr = {
        let mut peers = core.peers.borrow_mut();
        let peer = peers.entry(sid).or_default();
        if peer.conn.is_some() || peer.connecting || core.stopped.get() {
            return;
        }
        let Some(addr) = addr.or_else(|| core.addrs.get(&sid).copied()) else {
            tracing::debug!("election: no address for server {sid}; not connecting");
            return;
        };
        peer.connecting = true;
        addr
    };
    let core = core.clone();
    glommio::spawn_local(async move {
        let result = initiate(&core, sid, addr).await;
        if let Some(peer) = core.peers.borrow_mut().get_mut(&sid) {
            peer.connecting = false;
        }
        match result {
            Ok(Some(stream)) => install(&core, sid, stream, Vec::new()),
            Ok(None) => tracing::debug!("election: knocked at server {sid}; it dials back"),
            Err(Dial { refused, why }) => {
                tracing::debug!("election: cannot connect to server {sid} at {addr}: {why}");
                let went_away = core
                    .peers
                    .borrow()
                    .get(&sid)
                    .is_some_and(|p| p.ever_connected);
                if refused && went_away {
                    // It was up and nobody listens there now: the election need not
                    // wait to hear from it. A server of a starting ensemble that is not
                    // up yet refuses too, and may come up within the finalize wait:
                    // deciding without it made a member follow a server that did not
                    // lead, and sit out initLimit.
                    core.feed(Input::Reachable {
                        sid,
                        reachable: false,
                    });
                }
            }
        }
    })
    .detach();
}

/// Connects to `addr` and sends our initial message in one write. Returns the stream
/// to keep when our sid is the larger, else `None` (the peer dials back).
/// Why a connection attempt failed, and whether the peer's port refused it.
struct Dial {
    refused: bool,
    why: String,
}

impl From<String> for Dial {
    fn from(why: String) -> Self {
        Dial {
            refused: false,
            why,
        }
    }
}

async fn initiate(core: &Core, sid: Sid, addr: SocketAddr) -> Result<Option<PeerStream>, Dial> {
    let tcp = TcpStream::connect_timeout(addr, core.cnx_timeout)
        .await
        .map_err(|e| Dial {
            refused: connection_refused(&e),
            why: e.to_string(),
        })?;
    let _ = tcp.set_nodelay(true);
    let host = core
        .hosts
        .get(&sid)
        .cloned()
        .unwrap_or_else(|| addr.ip().to_string());
    let write = async {
        let mut stream = PeerTls::dial(core.tls.as_deref(), tcp, &host, core.cnx_timeout).await?;
        stream
            .write_all(&core.hello)
            .await
            .map_err(|e| e.to_string())?;
        // TLS may hold the record back until a flush.
        stream.flush().await.map_err(|e| e.to_string())?;
        Ok(stream)
    };
    let timeout = async {
        glommio::timer::sleep(core.cnx_timeout).await;
        Err("timed out sending the initial message".to_owned())
    };
    let mut stream = or(write, timeout).await?;
    if sid > core.myid {
        let _ = stream.close().await;
        return Ok(None);
    }
    Ok(Some(stream))
}

/// Whether a failed connect was refused (glommio reports io_uring's errno as an OS
/// error or wraps it).
fn connection_refused(e: &glommio::GlommioError<()>) -> bool {
    match e {
        glommio::GlommioError::IoError(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        other => other.to_string().contains("Connection refused"),
    }
}

/// Makes `stream` the connection to `sid`, replacing any old one, and starts its
/// reader and writer. `rest`: bytes already read after the initial message.
fn install(core: &Rc<Core>, sid: Sid, stream: PeerStream, rest: Vec<u8>) {
    if core.stopped.get() {
        return;
    }
    stream.set_nodelay(true);
    let id = NEXT_CONN.with(|n| n.replace(n.get() + 1));
    let conn = Rc::new(Conn {
        id,
        closed: Cell::new(false),
        wake_reader: Signal::default(),
        wake_writer: Signal::default(),
    });
    {
        let mut peers = core.peers.borrow_mut();
        let peer = peers.entry(sid).or_default();
        peer.ever_connected = true;
        if let Some(old) = peer.conn.replace(conn.clone()) {
            old.close();
        }
        // SendWorker: with nothing queued, re-send the last message (the peer may
        // not have got it before the old connection broke).
        if peer.queued.is_none() {
            peer.queued = peer.last_sent.clone();
        }
    }
    tracing::info!("election: connected with server {sid}");
    core.feed(Input::Reachable {
        sid,
        reachable: true,
    });
    let (reader, writer) = futures_lite::io::split(stream);
    glommio::spawn_local(read_loop(core.clone(), sid, conn.clone(), reader, rest)).detach();
    glommio::spawn_local(write_loop(core.clone(), sid, conn, writer)).detach();
}

/// Frames from `sid` → `Fle`. A bad frame length or a frame cut by the end of the
/// stream closes the connection; a bad notification in a good frame is dropped, as
/// Java drops it.
async fn read_loop(
    core: Rc<Core>,
    sid: Sid,
    conn: Rc<Conn>,
    mut reader: futures_lite::io::ReadHalf<PeerStream>,
    mut buf: Vec<u8>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    let why = loop {
        loop {
            match decode_frame(&buf) {
                Err(_) => break,
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Complete { value, consumed }) => {
                    buf.drain(..consumed);
                    match Notification::decode(&value) {
                        Ok(n) => core.feed(Input::Received {
                            from: sid,
                            notification: n,
                        }),
                        Err(e) => tracing::warn!(
                            "election: dropping a bad notification from server {sid}: {e}"
                        ),
                    }
                }
            }
        }
        if let Err(e) = decode_frame(&buf) {
            break format!("bad frame: {e}");
        }
        if conn.closed.get() {
            return;
        }
        let read = async { Some(reader.read(&mut chunk).await) };
        let closed = async {
            conn.wake_reader.wait().await;
            None
        };
        match or(read, closed).await {
            None => continue,
            Some(Ok(0)) if buf.is_empty() => break "closed by the peer".to_owned(),
            Some(Ok(0)) => {
                break format!(
                    "closed by the peer inside a frame ({} bytes of it unread)",
                    buf.len()
                )
            }
            Some(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Some(Err(e)) => break format!("read failed: {e}"),
        }
    };
    let broken = !conn.closed.get();
    if broken {
        if why == "closed by the peer" {
            tracing::info!("election: connection with server {sid} {why}");
        } else {
            tracing::warn!("election: closing the connection with server {sid}: {why}");
        }
    }
    end(&core, sid, &conn);
    if broken {
        redial(&core, sid);
    }
}

/// While electing, a connection the peer broke is dialed again at once (at most once
/// per 100 ms per peer), not at the next notification timeout as Java does: a vote
/// written into a dying connection is re-sent on the new one, and a refusal tells the
/// election that peer is gone (`Input::Reachable`). Both are on a failover's path.
fn redial(core: &Rc<Core>, sid: Sid) {
    if !core.fle.borrow().in_election() || !core.addrs.contains_key(&sid) {
        return;
    }
    let now = std::time::Instant::now();
    {
        let mut peers = core.peers.borrow_mut();
        let Some(p) = peers.get_mut(&sid) else {
            return;
        };
        if p.redialed_at
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
        {
            return;
        }
        p.redialed_at = Some(now);
    }
    connect_one(core, sid, None);
}

/// Drains `sid`'s send queue into the connection.
async fn write_loop(
    core: Rc<Core>,
    sid: Sid,
    conn: Rc<Conn>,
    mut writer: futures_lite::io::WriteHalf<PeerStream>,
) {
    loop {
        if conn.closed.get() {
            return;
        }
        let next = core
            .peers
            .borrow_mut()
            .get_mut(&sid)
            .and_then(|p| p.queued.take());
        let Some(frame) = next else {
            conn.wake_writer.wait().await;
            continue;
        };
        // Flushed: TLS may hold a record back until then.
        let write = async {
            let written = writer.write_all(&frame).await;
            Some(match written {
                Ok(()) => writer.flush().await,
                e => e,
            })
        };
        let closed = async {
            while !conn.closed.get() {
                conn.wake_writer.wait().await;
            }
            None
        };
        match or(write, closed).await {
            None => return,
            Some(Ok(())) => {
                if let Some(p) = core.peers.borrow_mut().get_mut(&sid) {
                    p.last_sent = Some(frame);
                }
            }
            Some(Err(e)) => {
                tracing::warn!(
                    "election: closing the connection with server {sid}: write failed: {e}"
                );
                end(&core, sid, &conn);
                redial(&core, sid);
                return;
            }
        }
    }
}

/// Closes `conn` and forgets it if it is still `sid`'s connection. A sid outside the
/// configuration is forgotten altogether, so peers inventing ids cannot grow the map.
fn end(core: &Core, sid: Sid, conn: &Rc<Conn>) {
    conn.close();
    let mut peers = core.peers.borrow_mut();
    if let Some(p) = peers.get_mut(&sid) {
        if p.conn.as_ref().is_some_and(|c| c.id == conn.id) {
            p.conn = None;
            if !core.addrs.contains_key(&sid) && !p.connecting {
                peers.remove(&sid);
            }
        }
    }
}

/// Closes the connection to `sid`, if any.
fn drop_conn(core: &Core, sid: Sid) {
    let conn = core
        .peers
        .borrow_mut()
        .get_mut(&sid)
        .and_then(|p| p.conn.take());
    if let Some(c) = conn {
        c.close();
    }
}

pub(super) fn close_all(core: &Core) {
    if let Some(fd) = core.listen_fd.take() {
        // SAFETY: a plain syscall on the listening socket, which the accepting thread
        // keeps open until this shutdown ends its `accept` (taken once, so never
        // repeated on a reused descriptor).
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
    let conns: Vec<Rc<Conn>> = core
        .peers
        .borrow_mut()
        .values_mut()
        .filter_map(|p| p.conn.take())
        .collect();
    for c in conns {
        c.close();
    }
}

impl Core {
    pub(super) fn connected(&self, sid: Sid) -> bool {
        self.peers
            .borrow()
            .get(&sid)
            .is_some_and(|p| p.conn.is_some())
    }
}
