//! `SessionTracker`: the table of live sessions and their expiry deadlines
//! (`SessionTrackerImpl`). It issues session ids, refreshes deadlines on activity and
//! reports which sessions are due to expire; the quorum core turns those into
//! closeSession txns.

use std::collections::HashMap;

use super::expiry_queue::ExpiryQueue;
use super::{SessionError, SessionId, SESSIONS_MAX};

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`: the ephemeralOwner value that marks a
/// container node, so it can never be a session id.
pub const CONTAINER_EPHEMERAL_OWNER: SessionId = i64::MIN;

/// One tracked session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    timeout_ms: u32,
    /// Set by closeSession or expiry; a closing session cannot be touched back to life.
    closing: bool,
}

/// A session as reported by `sessions()` (for `cons`/`dump`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub timeout_ms: u32,
    pub closing: bool,
    /// The bucket deadline; `None` once the session has been handed out by `expire_due`.
    pub deadline_ms: Option<u64>,
}

/// The session table. Invariants: `sessions.len() <= SESSIONS_MAX`; every queued id is in
/// `sessions`; `next_id` is the next candidate id (ids are issued in increasing order,
/// wrapping, skipping 0, `CONTAINER_EPHEMERAL_OWNER` and ids already tracked).
#[derive(Debug)]
pub struct SessionTracker {
    sessions: HashMap<SessionId, Session>,
    queue: ExpiryQueue,
    next_id: SessionId,
}

/// `SessionTrackerImpl.initializeNextSessionId`: the top byte is the server id, the next
/// five bytes the low 40 bits of the time in ms, the low two bytes zero. The logical
/// right shift (">>> 8", ZOOKEEPER-1622) keeps the time from spilling into the server
/// byte. ZooKeeper feeds it `Time.currentElapsedTime()`; the driver should pass
/// wall-clock ms so ids differ across restarts.
pub fn initial_session_id(server_id: u64, now_ms: u64) -> SessionId {
    let id = ((now_ms << 24) >> 8) | (server_id << 56);
    let id = id as SessionId;
    if id == CONTAINER_EPHEMERAL_OWNER {
        id + 1
    } else {
        id
    }
}

/// Issues the ids of new sessions for one session core. A ZooKeeper server picks the
/// id of a session it is asked for before it proposes the createSession txn, so the
/// server can recognise the txn as its own when it is committed; ringkeeper's session
/// cores do the same. Core `k` of `n` takes every `n`th id from
/// `initial_session_id + k`, so the cores of one server never issue the same id and
/// every id keeps ZooKeeper's layout (server id in the top byte).
#[derive(Debug, Clone)]
pub struct SessionIdGen {
    next: SessionId,
    stride: SessionId,
}

impl SessionIdGen {
    /// The generator of core `core` (0-based) of `cores`.
    pub fn new(server_id: u64, now_ms: u64, core: usize, cores: usize) -> Self {
        let stride = cores.max(1) as SessionId;
        Self {
            next: initial_session_id(server_id, now_ms).wrapping_add(core as SessionId % stride),
            stride,
        }
    }

    /// The next id: never 0 nor `CONTAINER_EPHEMERAL_OWNER`. Whether it is still free
    /// is the tracker's to say (`SessionTracker::add_new`).
    pub fn next_id(&mut self) -> SessionId {
        loop {
            let id = self.next;
            self.next = self.next.wrapping_add(self.stride);
            if id != 0 && id != CONTAINER_EPHEMERAL_OWNER {
                return id;
            }
        }
    }
}

impl SessionTracker {
    /// A tracker issuing ids from `initial_session_id(server_id, now_ms)`.
    ///
    /// # Panics
    /// If `tick_ms` is 0 (configuration must reject `tickTime=0`).
    pub fn new(server_id: u64, now_ms: u64, tick_ms: u64) -> Self {
        Self {
            sessions: HashMap::new(),
            queue: ExpiryQueue::new(tick_ms),
            next_id: initial_session_id(server_id, now_ms),
        }
    }

    /// `createSession`: a new id with its first deadline. `timeout_ms` must already be
    /// negotiated (see `TimeoutBounds`).
    pub fn create(&mut self, timeout_ms: u32, now_ms: u64) -> Result<SessionId, SessionError> {
        self.check_room()?;
        // Bounded: at most `sessions.len() + 2` candidates can be skipped.
        let mut id = self.next_id;
        while id == 0 || id == CONTAINER_EPHEMERAL_OWNER || self.sessions.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        self.insert(id, timeout_ms, now_ms);
        Ok(id)
    }

    /// Tracks a new session whose id a session core chose (`SessionIdGen`). Refused if
    /// the table is full or the id is already tracked (a wall clock set back across a
    /// restart can make a core repeat an id of a session restored from the snapshot).
    pub fn add_new(
        &mut self,
        id: SessionId,
        timeout_ms: u32,
        now_ms: u64,
    ) -> Result<(), SessionError> {
        self.check_room()?;
        if id == 0 || id == CONTAINER_EPHEMERAL_OWNER || self.sessions.contains_key(&id) {
            return Err(SessionError::IdInUse { id });
        }
        self.insert(id, timeout_ms, now_ms);
        Ok(())
    }

    /// `trackSession`: track a session known from a snapshot, a createSession txn or the
    /// leader. An already tracked session keeps its timeout and closing flag and only gets
    /// a fresh deadline computed from `timeout_ms` (as ZooKeeper does). Returns whether it
    /// was added.
    pub fn add_existing(
        &mut self,
        id: SessionId,
        timeout_ms: u32,
        now_ms: u64,
    ) -> Result<bool, SessionError> {
        if self.sessions.contains_key(&id) {
            self.queue.update(id, now_ms, u64::from(timeout_ms));
            return Ok(false);
        }
        self.check_room()?;
        self.insert(id, timeout_ms, now_ms);
        Ok(true)
    }

    /// `touchSession`: activity from the client moves the deadline to
    /// `now_ms + timeout` (rounded up). False if the session is unknown or closing.
    pub fn touch(&mut self, id: SessionId, now_ms: u64) -> bool {
        match self.sessions.get(&id) {
            Some(s) if !s.closing => {
                self.queue.update(id, now_ms, u64::from(s.timeout_ms));
                true
            }
            _ => false,
        }
    }

    /// `setSessionClosing`: no more touches. The deadline stays, so a close that never
    /// completes still expires (ZooKeeper behaves the same). False if unknown.
    pub fn set_closing(&mut self, id: SessionId) -> bool {
        match self.sessions.get_mut(&id) {
            Some(s) => {
                s.closing = true;
                true
            }
            None => false,
        }
    }

    /// `removeSession`: the closeSession txn was applied. False if unknown.
    pub fn remove(&mut self, id: SessionId) -> bool {
        self.queue.remove(id);
        self.sessions.remove(&id).is_some()
    }

    /// Sessions whose bucket deadline is `<= now_ms`, earliest bucket first. Each is marked
    /// closing and leaves the queue (it stays tracked until `remove`). Sessions already
    /// closing are returned too, like ZooKeeper; the driver may skip those whose close
    /// is already in flight.
    pub fn expire_due(&mut self, now_ms: u64) -> Vec<SessionId> {
        let mut due = Vec::new();
        self.queue.poll_due(now_ms, &mut due);
        for id in &due {
            if let Some(s) = self.sessions.get_mut(id) {
                s.closing = true;
            }
        }
        due
    }

    /// A new leader's start: every tracked session gets a full timeout from `now_ms`
    /// and is no longer closing. A closing flag was set by a previous leadership (its
    /// own expiry, or a closeSession it prepared) whose closeSession never committed
    /// (a committed one removes the session); kept, it would never expire again, since
    /// `expire_due` took it out of the queue and `touch` skips it. ZooKeeper's new
    /// leader builds a fresh tracker from its tree, with no closing flags.
    pub fn restart_all(&mut self, now_ms: u64) {
        for (id, s) in self.sessions.iter_mut() {
            s.closing = false;
            self.queue.update(*id, now_ms, u64::from(s.timeout_ms));
        }
    }

    /// The earliest bucket deadline, when the driver's timer should next call
    /// `expire_due`; `None` when no session is queued.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.queue.next_deadline_ms()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// The negotiated timeout of a tracked session.
    pub fn timeout_ms(&self, id: SessionId) -> Option<u32> {
        self.sessions.get(&id).map(|s| s.timeout_ms)
    }

    /// Whether a tracked session is closing (`None` if unknown). A request on a closing
    /// session gets SESSIONEXPIRED; on an unknown one, ZooKeeper's `checkSession` says
    /// UNKNOWNSESSION (global sessions map it to SESSIONEXPIRED).
    pub fn is_closing(&self, id: SessionId) -> Option<bool> {
        self.sessions.get(&id).map(|s| s.closing)
    }

    /// Every session, ascending id (for `cons`, `dump`, snapshots).
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let mut out: Vec<SessionInfo> = self
            .sessions
            .iter()
            .map(|(&id, s)| SessionInfo {
                id,
                timeout_ms: s.timeout_ms,
                closing: s.closing,
                deadline_ms: self.queue.deadline_of(id),
            })
            .collect();
        out.sort_unstable_by_key(|s| s.id);
        out
    }

    /// Expiry buckets in deadline order (ZooKeeper's `dump` "Session Sets").
    pub fn expiry_buckets(&self) -> Vec<(u64, Vec<SessionId>)> {
        self.queue.buckets()
    }

    fn check_room(&self) -> Result<(), SessionError> {
        if self.sessions.len() >= SESSIONS_MAX {
            return Err(SessionError::TooManySessions { max: SESSIONS_MAX });
        }
        Ok(())
    }

    fn insert(&mut self, id: SessionId, timeout_ms: u32, now_ms: u64) {
        let s = Session {
            timeout_ms,
            closing: false,
        };
        self.sessions.insert(id, s);
        self.queue.update(id, now_ms, u64::from(timeout_ms));
        assert!(self.sessions.len() <= SESSIONS_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: u64 = 2000;

    #[test]
    fn initial_id_layout() {
        // 1700000000123 ms, server 3: cross-checked against the Java expression
        // `((now << 24) >>> 8) | (3L << 56)`.
        assert_eq!(
            initial_session_id(3, 1_700_000_000_123) as u64,
            0x038b_cfe5_687b_0000
        );
        let id = initial_session_id(0xff, u64::MAX) as u64;
        assert_eq!(id >> 56, 0xff);
        assert_eq!(id & 0xffff, 0);
        // Server id 0x80 with a zero time would be the container marker.
        assert_eq!(initial_session_id(0x80, 0), CONTAINER_EPHEMERAL_OWNER + 1);
    }

    #[test]
    fn the_cores_of_a_server_issue_disjoint_ids_in_zookeepers_layout() {
        let now = 1_700_000_000_000;
        let mut seen = std::collections::HashSet::new();
        for core in 0..3 {
            let mut g = SessionIdGen::new(7, now, core, 3);
            for _ in 0..1000 {
                let id = g.next_id();
                assert_eq!(id >> 56, 7);
                assert!(seen.insert(id), "core {core} repeated 0x{id:x}");
            }
        }
        // One core: ZooKeeper's own sequence.
        let mut g = SessionIdGen::new(7, now, 0, 1);
        assert_eq!(g.next_id(), initial_session_id(7, now));
        assert_eq!(g.next_id(), initial_session_id(7, now) + 1);
    }

    #[test]
    fn a_session_expired_by_a_deposed_leader_expires_again_under_the_next() {
        let mut t = SessionTracker::new(1, 0, TICK);
        t.add_new(5, 4000, 0).unwrap();
        t.add_new(6, 4000, 0).unwrap();
        // Leadership 1 expires both; its closeSessions never commit (it loses the
        // quorum), so both stay tracked, closing.
        assert_eq!(t.expire_due(10_000).len(), 2);
        // This server leads again at 20 s: both get a full timeout and expire then.
        t.restart_all(20_000);
        assert!(t.expire_due(22_000).is_empty());
        assert!(t.touch(6, 22_000), "no longer closing");
        let mut due = t.expire_due(26_000);
        due.sort();
        assert_eq!(due, vec![5]);
        assert_eq!(t.expire_due(28_000), vec![6]);
    }

    #[test]
    fn a_new_session_with_an_id_in_use_is_refused() {
        let mut t = SessionTracker::new(1, 0, TICK);
        t.add_new(5, 4000, 0).unwrap();
        assert_eq!(t.add_new(5, 4000, 0), Err(SessionError::IdInUse { id: 5 }));
        assert_eq!(t.add_new(0, 4000, 0), Err(SessionError::IdInUse { id: 0 }));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn create_increments_ids() {
        let mut t = SessionTracker::new(1, 1_700_000_000_000, TICK);
        let a = t.create(4000, 0).unwrap();
        let b = t.create(4000, 0).unwrap();
        assert_eq!(a, initial_session_id(1, 1_700_000_000_000));
        assert_eq!(b, a + 1);
        assert_eq!(a >> 56, 1);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn create_skips_taken_zero_and_container_ids() {
        let mut t = SessionTracker::new(0, 0, TICK);
        assert_eq!(t.create(4000, 0).unwrap(), 1);
        t.add_existing(2, 4000, 0).unwrap();
        assert_eq!(t.create(4000, 0).unwrap(), 3);
        let mut t = SessionTracker::new(0x80, 0, TICK);
        assert_eq!(t.create(4000, 0).unwrap(), CONTAINER_EPHEMERAL_OWNER + 1);
    }

    #[test]
    fn deadline_is_rounded_up_to_next_tick() {
        let mut t = SessionTracker::new(1, 0, TICK);
        let id = t.create(4000, 1000).unwrap();
        // (1000 + 4000) / 2000 + 1 = 3 ticks → 6000.
        assert_eq!(t.next_expiry_ms(), Some(6000));
        assert_eq!(t.sessions()[0].deadline_ms, Some(6000));
        assert_eq!(t.expire_due(5999), Vec::<SessionId>::new());
        assert_eq!(t.expire_due(6000), vec![id]);
        assert_eq!(t.is_closing(id), Some(true));
        assert!(t.contains(id));
        assert_eq!(t.next_expiry_ms(), None);
    }

    #[test]
    fn touch_moves_bucket() {
        let mut t = SessionTracker::new(1, 0, TICK);
        let a = t.create(4000, 0).unwrap(); // 6000
        let b = t.create(4000, 0).unwrap(); // 6000
        assert!(t.touch(a, 3000)); // 7000 → 8000
        assert_eq!(t.expiry_buckets(), vec![(6000, vec![b]), (8000, vec![a])]);
        assert_eq!(t.expire_due(6000), vec![b]);
        assert!(t.touch(a, 5000)); // 9000 → 10000
        assert_eq!(t.expire_due(8000), Vec::<SessionId>::new());
        assert_eq!(t.expire_due(10_000), vec![a]);
    }

    #[test]
    fn closing_and_unknown_sessions_are_not_touchable() {
        let mut t = SessionTracker::new(1, 0, TICK);
        let a = t.create(4000, 0).unwrap();
        assert!(!t.touch(12345, 0));
        assert!(t.set_closing(a));
        assert!(!t.touch(a, 100));
        assert!(!t.set_closing(12345));
        // The deadline stays: a stuck close still expires.
        assert_eq!(t.expire_due(6000), vec![a]);
        let b = t.create(4000, 0).unwrap();
        t.expire_due(6000);
        assert!(!t.touch(b, 6000));
    }

    #[test]
    fn remove_forgets_session_and_deadline() {
        let mut t = SessionTracker::new(1, 0, TICK);
        let a = t.create(4000, 0).unwrap();
        assert!(t.remove(a));
        assert!(!t.remove(a));
        assert!(t.is_empty());
        assert_eq!(t.next_expiry_ms(), None);
        assert_eq!(t.expire_due(u64::MAX), Vec::<SessionId>::new());
        assert_eq!(t.timeout_ms(a), None);
    }

    #[test]
    fn add_existing_keeps_original_timeout() {
        let mut t = SessionTracker::new(1, 0, TICK);
        assert_eq!(t.add_existing(42, 4000, 0), Ok(true));
        assert_eq!(t.add_existing(42, 10_000, 0), Ok(false));
        assert_eq!(t.timeout_ms(42), Some(4000));
        // ... but the deadline came from the call's timeout: (0 + 10000)/2000 + 1 → 12000.
        assert_eq!(t.next_expiry_ms(), Some(12_000));
        assert!(t.touch(42, 0));
        assert_eq!(t.next_expiry_ms(), Some(6000));
    }

    #[test]
    fn sessions_are_listed_in_id_order() {
        let mut t = SessionTracker::new(1, 0, TICK);
        t.add_existing(9, 4000, 0).unwrap();
        t.add_existing(3, 6000, 0).unwrap();
        t.set_closing(9);
        let ids: Vec<(SessionId, u32, bool)> = t
            .sessions()
            .iter()
            .map(|s| (s.id, s.timeout_ms, s.closing))
            .collect();
        assert_eq!(ids, vec![(3, 6000, false), (9, 4000, true)]);
    }

    #[test]
    fn limit_refuses_new_sessions() {
        let mut t = SessionTracker::new(1, 0, TICK);
        for id in 1..=SESSIONS_MAX as SessionId {
            t.add_existing(id, 4000, 0).unwrap();
        }
        let full = Err(SessionError::TooManySessions { max: SESSIONS_MAX });
        assert_eq!(t.create(4000, 0), full);
        assert_eq!(
            t.add_existing(-7, 4000, 0),
            Err(SessionError::TooManySessions { max: SESSIONS_MAX })
        );
        // Re-tracking a known session is not growth.
        assert_eq!(t.add_existing(1, 4000, 0), Ok(false));
        t.remove(1);
        assert!(t.create(4000, 0).is_ok());
    }
}
