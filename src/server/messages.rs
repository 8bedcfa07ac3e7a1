//! The typed messages that cross cores. Cores share nothing else: every message is
//! `Send`, travels over a bounded glommio shared channel, and is owned by its receiver.

use std::sync::Arc;

use crate::proto::{ConnectRequest, Id, Request};
use crate::txn::{Txn, TxnHeader};

/// Index of a session core (0-based).
pub type CoreIdx = usize;
/// A connection's id, unique within its session core.
pub type ConnId = u64;

/// Who sent a request, so the committed stream can route the answer back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub core: CoreIdx,
    pub conn: ConnId,
    pub session: i64,
    pub xid: i32,
}

/// Session core → quorum core.
#[derive(Debug)]
pub enum ToQuorum {
    /// A write request (create, delete, setData, setACL, check, multi, closeSession).
    Write {
        origin: Origin,
        request: Request,
        /// The identities the session has authenticated as, for ACL checks in prep.
        auth: Arc<[Id]>,
    },
    /// `sync`: answered once every txn committed before it has been applied.
    Sync { origin: Origin, path: String },
    /// A handshake without a session id: create a session.
    CreateSession {
        core: CoreIdx,
        conn: ConnId,
        timeout_ms: i32,
    },
    /// A handshake with a session id: check it is alive and its password matches, and
    /// move it to this connection.
    Revalidate {
        core: CoreIdx,
        conn: ConnId,
        req: ConnectRequest,
    },
    /// Sessions that showed activity since the last batch; keeps them from expiring.
    Touch(Vec<i64>),
    /// A connection ended without closing its session (the session lives on until
    /// its timeout).
    Disconnected {
        core: CoreIdx,
        conn: ConnId,
        session: i64,
    },
    /// A four-letter word on core `asker` needs every core's share: ask them all.
    Gather {
        asker: CoreIdx,
        id: u64,
        kind: GatherKind,
    },
    /// One core's share of gather `id`, for core `asker`.
    GatherPart {
        asker: CoreIdx,
        id: u64,
        part: GatherPart,
    },
}

/// What a four-letter word or AdminServer command needs from every session core,
/// where ZooKeeper has one connection table and one watch manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatherKind {
    /// `cons`, `stat`: each connection's counters.
    Connections,
    /// `wchc`: data watches by session.
    WatchesBySession,
    /// `wchs`, `wchp`: data watches by path.
    WatchesByPath,
    /// `dump`: the sessions attached to the core's connections.
    Sessions,
    /// `crst`: each connection's stats reset (the share is empty).
    ResetConns,
}

/// One session core's share of a gather.
#[derive(Debug)]
pub enum GatherPart {
    Connections(Vec<crate::ops::report::ConnInfo>),
    /// Per session, its watched paths (`WatchRegistry::by_session`).
    BySession(Vec<(i64, Vec<String>)>),
    /// Per path, the sessions watching it (`WatchRegistry::by_path`).
    ByPath(Vec<(String, Vec<i64>)>),
    /// The sessions attached here, each with when it expires without activity.
    Sessions(Vec<crate::ops::report::SessionInfo>),
    /// A reset was done.
    Done,
}

/// A committed entry of a batch, as published to the session cores, which answer
/// their own clients' parts of it.
#[derive(Debug, Clone)]
pub enum Committed {
    /// A txn, applied to the tree. `origin` is `None` for the server's own txns
    /// (session expiry, container reaping).
    Txn {
        origin: Option<Origin>,
        hdr: TxnHeader,
        txn: Txn,
    },
    /// A new session: the originating connection gets its ConnectResponse.
    SessionCreated {
        core: CoreIdx,
        conn: ConnId,
        hdr: TxnHeader,
        txn: Txn,
        timeout_ms: i32,
        passwd: [u8; 16],
    },
    /// A `sync` marker: everything before it is applied when it is reached.
    Sync { origin: Origin, path: String },
}

/// Quorum core → session core.
#[derive(Debug)]
pub enum ToSession {
    /// A batch was published (`published.rs`): catch up. Carries nothing, as the
    /// chain itself says what is new; a core that caught up on a read finds nothing.
    Published,
    /// The answer to `Revalidate`: `Some(timeout)` if the session lives.
    Revalidated {
        conn: ConnId,
        session: i64,
        timeout_ms: Option<i32>,
        passwd: [u8; 16],
    },
    /// The session moved to another connection: close this one without closing the session.
    CloseConnection { conn: ConnId, session: i64 },
    /// Core `asker` gathers `kind` (see `ToQuorum::Gather`): send this core's share.
    GatherAsk {
        asker: CoreIdx,
        id: u64,
        kind: GatherKind,
    },
    /// A core's share of this core's gather `id`.
    GatherPart { id: u64, part: GatherPart },
}
