//! One client connection's state on its session core, shared by the connection's
//! reader task, its writer task and the core's apply loop (all on one thread).
//!
//! Invariant: replies leave in the order requests arrived (FIFO per session). A read
//! that arrives while a write of the same session is in flight waits in `pending`
//! behind it and is served when the write's answer has been queued, so it sees the
//! write's effect.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::messages::ConnId;
use super::outbox::Outbox;
use super::signal::{Oneshot, Signal};
use crate::proto::{Id, OpCode, Request};

/// Requests of one connection that may wait in the server before reading pauses.
pub const PENDING_PER_CONN_MAX: usize = 1024;

/// The outcome of a handshake that had to ask the quorum core.
#[derive(Debug, Clone, Copy)]
pub enum Handshake {
    /// The session (new or revalidated) is live on this connection.
    Live {
        session: i64,
        timeout_ms: i32,
        passwd: [u8; 16],
    },
    /// Unknown or expired session, or a wrong password.
    Expired,
}

/// A request waiting for its turn to be answered.
pub enum Pending {
    /// Sent to the quorum core; `reply` is set when its commit is applied here.
    Write {
        xid: i32,
        op: OpCode,
        reply: Option<Bytes>,
        started: Instant,
    },
    /// A read (or any locally answered request) queued behind a write.
    Local {
        xid: i32,
        request: Request,
        started: Instant,
    },
    /// A request answered with an error code alone, kept in order.
    Error {
        xid: i32,
        op: Option<OpCode>,
        err: i32,
        started: Instant,
    },
}

/// Per-connection counters for `cons` and `crst`.
pub struct ConnStats {
    pub established_ms: i64,
    pub packets_received: Cell<u64>,
    pub packets_sent: Cell<u64>,
    pub latency_min_us: Cell<u64>,
    pub latency_max_us: Cell<u64>,
    pub latency_sum_us: Cell<u64>,
    pub latency_count: Cell<u64>,
    /// The latest request's latency (`cons`' `llat`).
    pub last_latency_us: Cell<u64>,
    pub last_op: Cell<&'static str>,
    pub last_cxid: Cell<i32>,
    pub last_zxid: Cell<i64>,
    pub last_response_ms: Cell<i64>,
}

impl ConnStats {
    pub fn new(established_ms: i64) -> Self {
        ConnStats {
            established_ms,
            packets_received: Cell::new(0),
            packets_sent: Cell::new(0),
            latency_min_us: Cell::new(u64::MAX),
            latency_max_us: Cell::new(0),
            latency_sum_us: Cell::new(0),
            latency_count: Cell::new(0),
            last_latency_us: Cell::new(0),
            last_op: Cell::new("NA"),
            last_cxid: Cell::new(0),
            last_zxid: Cell::new(0),
            last_response_ms: Cell::new(0),
        }
    }

    pub fn record(&self, latency_us: u64) {
        self.latency_min_us
            .set(self.latency_min_us.get().min(latency_us));
        self.latency_max_us
            .set(self.latency_max_us.get().max(latency_us));
        self.latency_sum_us
            .set(self.latency_sum_us.get() + latency_us);
        self.latency_count.set(self.latency_count.get() + 1);
        self.last_latency_us.set(latency_us);
    }

    pub fn reset(&self) {
        self.packets_received.set(0);
        self.packets_sent.set(0);
        self.latency_min_us.set(u64::MAX);
        self.latency_max_us.set(0);
        self.latency_sum_us.set(0);
        self.latency_count.set(0);
        self.last_latency_us.set(0);
    }
}

pub struct Conn {
    pub id: ConnId,
    pub peer: SocketAddr,
    /// 0 until the handshake completes.
    pub session: Cell<i64>,
    pub timeout_ms: Cell<i32>,
    /// The identities this connection has authenticated as; always starts with `ip`.
    pub auth: RefCell<Arc<[Id]>>,
    pub outbox: Outbox,
    pub pending: RefCell<VecDeque<Pending>>,
    /// Raised when `pending` shrinks, so a paused reader can go on.
    pub pending_space: Signal,
    /// Set while the handshake waits for the quorum core.
    pub handshake: RefCell<Option<Rc<Oneshot<Handshake>>>>,
    pub stats: ConnStats,
    /// The connection's SASL exchange, from its first SASL request on (ZooKeeper
    /// gives each connection one SaslServer, so a second exchange fails).
    pub sasl: RefCell<Option<crate::sasl::digest_md5::DigestMd5Server>>,
}

impl Conn {
    pub fn new(id: ConnId, peer: SocketAddr, now_ms: i64) -> Conn {
        let ip = Id::new("ip", &peer.ip().to_string());
        Conn {
            id,
            peer,
            session: Cell::new(0),
            timeout_ms: Cell::new(0),
            auth: RefCell::new(Arc::from(vec![ip])),
            outbox: Outbox::default(),
            pending: RefCell::new(VecDeque::new()),
            pending_space: Signal::default(),
            handshake: RefCell::new(None),
            stats: ConnStats::new(now_ms),
            sasl: RefCell::new(None),
        }
    }

    /// Whether write `xid` was sent to the quorum and waits for its commit here.
    pub fn has_write_in_flight(&self, xid: i32) -> bool {
        self.pending
            .borrow()
            .iter()
            .any(|p| matches!(p, Pending::Write { xid: x, reply: None, .. } if *x == xid))
    }

    /// Queues a frame for the client and counts it.
    pub fn send(&self, frame: Bytes) {
        self.stats
            .packets_sent
            .set(self.stats.packets_sent.get() + 1);
        if !self.outbox.push(frame) {
            tracing::warn!(
                "closing connection from {} (session 0x{:x}): client is not reading its replies",
                self.peer,
                self.session.get()
            );
        }
    }

    pub fn add_auth(&self, id: Id) {
        let mut auth = self.auth.borrow_mut();
        if auth.contains(&id) {
            return;
        }
        let mut v: Vec<Id> = auth.to_vec();
        v.push(id);
        *auth = Arc::from(v);
    }
}
