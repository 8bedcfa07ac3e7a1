//! The typed messages that cross cores. Cores share nothing else: every message is
//! `Send`, travels over a bounded glommio shared channel, and is owned by its receiver.

use std::sync::Arc;

use crate::proto::{ConnectRequest, Id, Request};
use crate::txn::{Txn, TxnHeader};

/// Index of a session core (0-based).
pub type CoreIdx = usize;
/// A connection's id, unique within its session core.
pub type ConnId = u64;

/// Session core → quorum core.
#[derive(Debug)]
pub enum ToQuorum {
    /// A write request (create, delete, setData, setACL, check, multi, closeSession).
    /// Its txn carries `session` and `xid` (as client id and cxid): that is how the
    /// session's core finds it again in the committed stream, as ZooKeeper's
    /// CommitProcessor matches a commit to its pending request.
    Write {
        session: i64,
        xid: i32,
        request: Request,
        /// The request's body as the client sent it, without its header: what a
        /// follower forwards to its leader (REQUEST), which decodes it again.
        body: bytes::Bytes,
        /// The identities the session has authenticated as, for ACL checks in prep.
        auth: Arc<[Id]>,
    },
    /// `sync`: answered (`ToSession::Synced`) once every txn committed before it
    /// reached the quorum task is published.
    Sync {
        core: CoreIdx,
        conn: ConnId,
        /// The client's session: a follower forwards the sync under it, and a Java
        /// leader checks the session of what it is forwarded.
        session: i64,
        xid: i32,
        path: String,
    },
    /// A handshake without a session id: create session `session`, an id the core
    /// chose (`session::SessionIdGen`), as a ZooKeeper server picks the id of a
    /// session it is asked for before proposing it. The core answers the handshake
    /// when the createSession txn of that id is committed; a refusal comes back as
    /// `ToSession::Revalidated` with no timeout.
    CreateSession {
        core: CoreIdx,
        conn: ConnId,
        session: i64,
        timeout_ms: i32,
    },
    /// A handshake with a session id: check it is alive and its password matches, and
    /// move it to this connection.
    Revalidate {
        core: CoreIdx,
        conn: ConnId,
        req: ConnectRequest,
    },
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
    /// The AdminServer's `snapshot`: the committed tree, its zxid and the sessions,
    /// taken together so they agree.
    AdminSnapshot {
        reply: async_channel::Sender<AdminSnapshot>,
    },
    /// The AdminServer's `restore`: the tree and sessions to serve from now on; the
    /// answer is the restored snapshot's zxid, or why nothing changed.
    Restore {
        restore: Box<Restore>,
        reply: async_channel::Sender<Result<i64, String>>,
    },
}

/// What `ToQuorum::AdminSnapshot` answers.
pub struct AdminSnapshot {
    pub version: crate::tree::TreeVersion,
    /// zxid of the last txn applied to `version`.
    pub zxid: i64,
    pub sessions: Vec<(i64, i32)>,
}

impl std::fmt::Debug for AdminSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminSnapshot(0x{:x})", self.zxid)
    }
}

/// A ZooKeeper snapshot read by the AdminServer's `restore`.
pub struct Restore {
    pub tree: crate::tree::DataTree,
    pub sessions: Vec<(i64, i32)>,
    /// The snapshot's last processed zxid (3.9's section, else its digest's zxid).
    pub zxid: i64,
}

impl std::fmt::Debug for Restore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Restore(0x{:x})", self.zxid)
    }
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

/// A committed txn as every server of an ensemble receives it: the header (whose
/// client id and cxid name the request it came from, if any) and the txn. Nothing in it
/// says which core or connection asked; each session core recognises its own requests
/// by session id and cxid.
#[derive(Debug, Clone)]
pub struct Committed {
    pub hdr: TxnHeader,
    pub txn: Txn,
}

/// Quorum core → session core.
#[derive(Debug)]
pub enum ToSession {
    /// A batch was published (`published.rs`): catch up. Carries nothing, as the
    /// chain itself says what is new; a core that caught up on a read finds nothing.
    Published,
    /// A `sync` of this core's connection `conn` is done: every txn committed before
    /// it is published (catch up, then answer).
    Synced {
        conn: ConnId,
        xid: i32,
        path: String,
    },
    /// The answer to `Revalidate`: `Some(timeout)` if the session lives (also the
    /// refusal of a `CreateSession`, with no timeout).
    Revalidated {
        conn: ConnId,
        session: i64,
        timeout_ms: Option<i32>,
        passwd: [u8; 16],
    },
    /// The session moved to another connection: close this one without closing the session.
    CloseConnection { conn: ConnId, session: i64 },
    /// The session is expiring (its closeSession is being logged): close its connection
    /// now, so no request of it is answered from here on, as ZooKeeper fails every
    /// request of a closing session.
    SessionExpiring { conn: ConnId, session: i64 },
    /// The server stopped serving clients (an ensemble member that lost its leader or
    /// quorum): close every connection without closing its session, as ZooKeeper's
    /// server shutdown on LOOKING does; clients reconnect to another member.
    StopServing,
    /// Core `asker` gathers `kind` (see `ToQuorum::Gather`): send this core's share.
    GatherAsk {
        asker: CoreIdx,
        id: u64,
        kind: GatherKind,
    },
    /// A core's share of this core's gather `id`.
    GatherPart { id: u64, part: GatherPart },
}
