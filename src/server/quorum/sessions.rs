//! The quorum task's authority on sessions: which sessions live, when each expires
//! (from the touches the session cores send), and which core and connection each is
//! attached to, so a session that reconnects elsewhere is moved and its old
//! connection closed. The txns that open and close sessions are prepared by the
//! pipeline; this table follows them.
//!
//! A leader also keeps, as ZooKeeper's `SessionTrackerImpl` does, the server each
//! session's requests come through (its "owner"): this leader, or one learner
//! connection. A write from anywhere else is stale (the client has moved on) and is
//! logged as a SESSIONMOVED error, which closes the connection it came from.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::server::messages::{ConnId, CoreIdx};
use crate::server::stats::ServerStats;
use crate::session::{self, SessionError, SessionTracker};
use crate::txn::{Txn, TxnHeader};

pub struct Sessions {
    tracker: RefCell<SessionTracker>,
    /// Where each live session is attached (core, connection).
    owners: RefCell<HashMap<i64, (CoreIdx, ConnId)>>,
    /// Where each session's requests reach the leader from; unset until its first
    /// request after a new leadership (ZooKeeper's owner starts as null).
    via: RefCell<HashMap<i64, Via>>,
    stats: Arc<ServerStats>,
}

/// Where a session's requests reach the leader from (ZooKeeper's session owner:
/// `ServerCnxn.me` for the leader's own clients, the `LearnerHandler` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A client of this server.
    Here,
    /// A learner connection on the quorum port (a new connection is a new owner).
    Learner(crate::zab::leader::ConnId),
}

/// The outcome of a reconnect with a session id.
pub struct Revalidation {
    pub alive: bool,
    /// The connection (on another core) the session was attached to before.
    pub moved_from: Option<(CoreIdx, ConnId)>,
}

impl Sessions {
    pub fn new(tracker: SessionTracker, stats: Arc<ServerStats>) -> Self {
        let s = Self {
            tracker: RefCell::new(tracker),
            owners: RefCell::new(HashMap::new()),
            via: RefCell::new(HashMap::new()),
            stats,
        };
        s.publish_count();
        s
    }

    /// Activity of `ids` moves their deadlines.
    pub fn touch(&self, ids: Vec<i64>, now_ms: u64) {
        let mut t = self.tracker.borrow_mut();
        for id in ids {
            t.touch(id, now_ms);
        }
    }

    /// A client reconnects with session `id` and `passwd` on `(core, conn)`: alive if
    /// the password is the session's and the session is live (which touches it); then
    /// it is attached there.
    pub fn revalidate(
        &self,
        id: i64,
        passwd: &[u8],
        core: CoreIdx,
        conn: ConnId,
        now_ms: u64,
    ) -> Revalidation {
        let alive =
            session::check_password(id, passwd) && self.tracker.borrow_mut().touch(id, now_ms);
        let moved_from = if alive {
            // ZooKeeper's `LeaderZooKeeperServer.revalidateSession`: the leader owns it.
            self.via.borrow_mut().insert(id, Via::Here);
            self.owners.borrow_mut().insert(id, (core, conn))
        } else {
            None
        };
        Revalidation {
            alive,
            moved_from: moved_from.filter(|(c, _)| *c != core),
        }
    }

    /// A connection ended without closing its session.
    pub fn disconnected(&self, core: CoreIdx, conn: ConnId, session: i64) {
        let mut owners = self.owners.borrow_mut();
        if owners.get(&session) == Some(&(core, conn)) {
            owners.remove(&session);
        }
    }

    /// Tracks a new session a core (or a learner) asked for; a core's is attached to
    /// its connection.
    pub fn open(
        &self,
        id: i64,
        timeout_ms: i32,
        origin: super::Origin,
        now_ms: u64,
    ) -> Result<(), SessionError> {
        self.tracker
            .borrow_mut()
            .add_new(id, timeout_ms.max(0) as u32, now_ms)?;
        let via = match origin {
            super::Origin::Local { core, conn } => {
                self.owners.borrow_mut().insert(id, (core, conn));
                Via::Here
            }
            super::Origin::Learner(c) => Via::Learner(c),
        };
        self.via.borrow_mut().insert(id, via);
        self.publish_count();
        Ok(())
    }

    /// A committed txn's effect on the table of a server that did not prepare it (a
    /// learner): sessions open and close as the leader committed them.
    pub fn follow_committed(&self, hdr: &TxnHeader, txn: &Txn, now_ms: u64) {
        match txn {
            Txn::CreateSession(t) => {
                let mut tr = self.tracker.borrow_mut();
                if !tr.contains(hdr.client_id) {
                    if let Err(e) = tr.add_existing(hdr.client_id, t.time_out.max(0) as u32, now_ms)
                    {
                        tracing::warn!("session 0x{:x} not tracked: {e}", hdr.client_id);
                    }
                }
            }
            Txn::CloseSession(_) => {
                self.tracker.borrow_mut().remove(hdr.client_id);
                self.owners.borrow_mut().remove(&hdr.client_id);
                self.via.borrow_mut().remove(&hdr.client_id);
            }
            _ => return,
        }
        self.publish_count();
    }

    /// The core and connection a session is attached to here, if any.
    pub fn owner_of(&self, id: i64) -> Option<(CoreIdx, ConnId)> {
        self.owners.borrow().get(&id).copied()
    }

    /// The timeout of a live session.
    pub fn timeout_of(&self, id: i64) -> Option<i32> {
        self.tracker
            .borrow()
            .timeout_ms(id)
            .map(|t| t.min(i32::MAX as u32) as i32)
    }

    /// A learner's REVALIDATE on learner connection `from` (ZooKeeper's
    /// `Leader.revalidateSession`): alive if the session lives (which touches it), and
    /// then its requests come through `from`. A local connection holding it is
    /// returned, to be closed: the session moved to the learner.
    pub fn revalidate_remote(
        &self,
        id: i64,
        from: crate::zab::leader::ConnId,
        now_ms: u64,
    ) -> (bool, Option<(CoreIdx, ConnId)>) {
        let alive = self.tracker.borrow_mut().touch(id, now_ms);
        let moved = if alive {
            self.via.borrow_mut().insert(id, Via::Learner(from));
            self.owners.borrow_mut().remove(&id)
        } else {
            None
        };
        (alive, moved)
    }

    /// Replaces the table with `sessions` (a learner that loaded a leader's snapshot, or
    /// reloaded its own data), their deadlines counted from `now_ms`.
    pub fn replace_all(&self, sessions: &[(i64, i32)], now_ms: u64) {
        {
            let mut tr = self.tracker.borrow_mut();
            for s in tr.sessions() {
                tr.remove(s.id);
            }
            for (id, timeout) in sessions {
                if let Err(e) = tr.add_existing(*id, (*timeout).max(0) as u32, now_ms) {
                    tracing::warn!("session 0x{id:x} not tracked: {e}");
                }
            }
        }
        self.owners.borrow_mut().clear();
        self.via.borrow_mut().clear();
        self.publish_count();
    }

    /// A new leader gives every session a full timeout from now, as ZooKeeper's does:
    /// their clients had no leader to touch them meanwhile. Closing flags left by an
    /// earlier leadership of this server whose closeSessions never committed are
    /// dropped, or those sessions would never expire (`SessionTracker::restart_all`).
    /// Owners are forgotten too: the learner connections they named belong to an
    /// older leadership, and each session's next request names its owner again.
    pub fn restart_deadlines(&self, now_ms: u64) {
        self.tracker.borrow_mut().restart_all(now_ms);
        self.via.borrow_mut().clear();
    }

    /// Whether a request of session `id` arriving through `via` may be prepared
    /// (ZooKeeper's `checkSession` owner test): the first request names the owner;
    /// one from another owner is stale and gets SESSIONMOVED.
    pub fn check_via(&self, id: i64, via: Via) -> bool {
        *self.via.borrow_mut().entry(id).or_insert(via) == via
    }

    /// Whether requests of `id` may be prepared: tracked and not closing.
    pub fn is_live(&self, id: i64) -> bool {
        let t = self.tracker.borrow();
        t.contains(id) && t.is_closing(id) == Some(false)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.tracker.borrow().contains(id)
    }

    /// A closeSession for `id` is being prepared: no touch revives it.
    pub fn set_closing(&self, id: i64) {
        self.tracker.borrow_mut().set_closing(id);
    }

    /// A closeSession for `id` was prepared: the session is gone.
    pub fn closed(&self, id: i64) {
        self.tracker.borrow_mut().remove(id);
        self.owners.borrow_mut().remove(&id);
        self.via.borrow_mut().remove(&id);
        self.publish_count();
    }

    /// The sessions whose deadline passed; they are closing from now on.
    pub fn expire_due(&self, now_ms: u64) -> Vec<i64> {
        self.tracker.borrow_mut().expire_due(now_ms)
    }

    /// Every live session with its timeout, for a snapshot.
    pub fn list(&self) -> Vec<(i64, i32)> {
        self.tracker
            .borrow()
            .sessions()
            .into_iter()
            .map(|s| (s.id, s.timeout_ms as i32))
            .collect()
    }

    /// Stores the session count for `mntr`'s `zk_global_sessions` (any core answers it).
    fn publish_count(&self) {
        let n = self.tracker.borrow().len() as u64;
        self.stats.quorum().sessions.store(n, Relaxed);
    }
}
