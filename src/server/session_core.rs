//! A session core: owns client connections (its own `SO_REUSEPORT` listener), the tree
//! version it has caught up to, and the watches of its sessions.
//!
//! Reads are answered from that version with no lock and no cross-core hop. Writes go
//! to the quorum core, which applies each synced batch once and publishes it
//! (`published.rs`); a core takes published batches in order: it fires their watch
//! events, answers its own writes, then switches to the version after them. Before a
//! read it catches up with the newest published batch, so a read started after any
//! write was answered, on any core, sees it. Everything here runs on one thread: state
//! is `Rc`/`RefCell`, and no borrow is held across an `.await`.

use std::cell::{Cell, Ref, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};

use super::conn::{Conn, Handshake, Pending};
use super::frame_out;
use super::messages::{Committed, ConnId, CoreIdx, GatherKind, GatherPart, ToQuorum, ToSession};
use super::published::{Published, Retire};
use super::replies;
use super::shutdown::{Drained, StopNotice, DRAIN_WAIT, FLUSH_WAIT};
use super::signal::Signal;
use super::stats::{ServerStats, Stage};
use super::touches::TouchBoard;
use crate::config::Config;
use crate::proto::{keeper_state, perms, xid, ErrorCode, WatcherEvent};
use crate::session::{self, SessionIdGen};
use crate::tree::check_acl;
use crate::tree::TreeVersion;
use crate::tree::WatchTrigger;
use crate::tree::{NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED};
use crate::txn::{OpOutcome, Txn, TxnHeader};
use crate::watch::{WatchEvent, WatchRegistry};

/// State of one session core. Shared by its tasks through `Rc`.
pub struct Core {
    pub idx: CoreIdx,
    pub cfg: Arc<Config>,
    /// The published batch this core has caught up to; its tree is what reads see.
    published: RefCell<Arc<Published>>,
    /// Entries this core moved past go back to the writer (see [`Retire`]).
    retire: Retire,
    pub watches: RefCell<WatchRegistry>,
    pub conns: RefCell<HashMap<ConnId, Rc<Conn>>>,
    /// Which connection of this core a session is attached to.
    pub by_session: RefCell<HashMap<i64, ConnId>>,
    /// Ids for the sessions this core asks the quorum to create.
    pub session_ids: RefCell<SessionIdGen>,
    /// Handshakes waiting for their createSession txn, by the session id asked for.
    pub awaiting_session: RefCell<HashMap<i64, ConnId>>,
    /// zxid of the last txn this core has taken: what its replies carry.
    pub last_zxid: Cell<i64>,
    pub to_quorum: ConnectedSender<ToQuorum>,
    /// Where this core marks sessions with traffic (see `touches`).
    pub touches: Arc<TouchBoard>,
    pub next_conn: Cell<ConnId>,
    pub stats: Arc<ServerStats>,
    pub started: Instant,
    /// Writes of this core's sessions in the pipeline; bounded by this core's share of
    /// `globalOutstandingLimit`.
    pub outstanding: Cell<usize>,
    pub outstanding_max: usize,
    /// Readers paused at the outstanding bound.
    pub room_waiters: RefCell<Vec<std::task::Waker>>,
    /// This core's gathers in progress (four-letter words), by id.
    gathers: RefCell<HashMap<u64, Rc<Gathering>>>,
    next_gather: Cell<u64>,
    /// The server is stopping: connections take no new request (see `stop_connections`).
    pub draining: Cell<bool>,
}

/// The shares of one gather received so far.
#[derive(Default)]
struct Gathering {
    parts: RefCell<Vec<GatherPart>>,
    arrived: Signal,
}

/// How long a four-letter word waits for the other cores' shares; it answers with
/// what arrived, so a stuck core cannot hang a monitoring script.
const GATHER_TIMEOUT: Duration = Duration::from_secs(2);

impl Core {
    pub fn my_stats(&self) -> &crate::server::stats::CoreStats {
        self.stats.core(self.idx)
    }

    /// Every session core's share of `kind` (this core's included), for a four-letter
    /// word. With one core, this core's share at once; otherwise asked through the
    /// quorum, waiting at most `GATHER_TIMEOUT`.
    pub async fn gather(self: &Rc<Self>, kind: GatherKind) -> Vec<GatherPart> {
        let cores = self.cfg.session_cores.max(1);
        if cores == 1 {
            return vec![crate::ops::four_letter::local_part(self, kind)];
        }
        let id = self.next_gather.get();
        self.next_gather.set(id + 1);
        let g = Rc::new(Gathering::default());
        self.gathers.borrow_mut().insert(id, g.clone());
        let ask = ToQuorum::Gather {
            asker: self.idx,
            id,
            kind,
        };
        if self.to_quorum.send(ask).await.is_ok() {
            let deadline = Instant::now() + GATHER_TIMEOUT;
            while g.parts.borrow().len() < cores {
                let left = deadline.saturating_duration_since(Instant::now());
                let arrived = futures_lite::future::or(
                    async {
                        g.arrived.wait().await;
                        true
                    },
                    async {
                        glommio::timer::sleep(left).await;
                        false
                    },
                )
                .await;
                if !arrived {
                    tracing::warn!(
                        "four-letter word: {} of {cores} cores answered in time",
                        g.parts.borrow().len()
                    );
                    break;
                }
            }
        }
        self.gathers.borrow_mut().remove(&id);
        g.parts.take()
    }

    /// Stores this core's watch count for `mntr` (see `CoreStats::watches`); call
    /// after any change to `watches`.
    pub fn publish_watch_count(&self) {
        let n = self.watches.borrow().watch_count() as u64;
        self.my_stats().watches.store(n, Relaxed);
    }

    pub fn outstanding_inc(&self) {
        self.outstanding.set(self.outstanding.get() + 1);
        self.my_stats().outstanding.store(
            self.outstanding.get() as i64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn outstanding_dec(&self) {
        self.outstanding
            .set(self.outstanding.get().saturating_sub(1));
        self.my_stats().outstanding.store(
            self.outstanding.get() as i64,
            std::sync::atomic::Ordering::Relaxed,
        );
        if self.outstanding.get() < self.outstanding_max {
            for w in self.room_waiters.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }

    /// Waits while this core has its share of `globalOutstandingLimit` in flight:
    /// readers stop reading sockets instead of queueing more.
    pub async fn wait_for_room(&self) {
        std::future::poll_fn(|cx| {
            if self.outstanding.get() < self.outstanding_max {
                std::task::Poll::Ready(())
            } else {
                self.room_waiters.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }

    pub fn now_ms(&self) -> i64 {
        wall_clock_ms()
    }

    /// The stop (see `shutdown`): no new request is taken (readers check `draining`),
    /// the ones in flight are answered (at most `DRAIN_WAIT`), then every connection
    /// is flushed and closed (at most `FLUSH_WAIT`). Sessions stay open.
    async fn stop_connections(&self) -> Drained {
        self.draining.set(true);
        let in_flight = || -> usize {
            self.conns
                .borrow()
                .values()
                .map(|c| c.pending.borrow().len())
                .sum()
        };
        let deadline = Instant::now() + DRAIN_WAIT;
        while in_flight() > 0 && Instant::now() < deadline {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        let unanswered = in_flight();
        let conns: Vec<Rc<Conn>> = self.conns.borrow().values().cloned().collect();
        for c in &conns {
            c.outbox.close_after_flush();
        }
        let deadline = Instant::now() + FLUSH_WAIT;
        while !conns.iter().all(|c| c.outbox.is_closed()) && Instant::now() < deadline {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        Drained {
            connections: conns.len(),
            unanswered,
        }
    }

    /// The tree version this core serves.
    pub fn tree(&self) -> Ref<'_, TreeVersion> {
        Ref::map(self.published.borrow(), |p| &p.tree)
    }

    /// Takes every batch published since the one this core is at. Called on the
    /// quorum core's wake-up and before each read; costs one atomic load when there is
    /// nothing new. Must not be called with a borrow of the core's cells held.
    pub fn catch_up(&self) {
        loop {
            let next = self.published.borrow().next().cloned();
            let Some(entry) = next else { break };
            let t = Instant::now();
            self.take(entry);
            self.my_stats()
                .stage(Stage::Deliver, t.elapsed().as_micros() as u64);
        }
    }

    /// Takes one published batch, in three steps that keep ZooKeeper's orders:
    /// 1. txn by txn: fire its watch events, queue its answer if it is this core's
    ///    (a txn whose client id is a session attached here and whose cxid is a write
    ///    that session has pending, as ZooKeeper's CommitProcessor matches commits),
    ///    and send the answers now at the front of their connection unless a read
    ///    waits before them (so a client sees a write's answer before the events of
    ///    later txns, as on ZooKeeper);
    /// 2. switch to the batch's version: every watch event of the batch is sent, so
    ///    no read can see data before the event it fired;
    /// 3. serve the reads that were queued behind this batch's answers.
    fn take(&self, entry: Arc<Published>) {
        let mut answered: Vec<ConnId> = Vec::new();
        for (Committed { hdr, txn }, outcome) in &entry.batch {
            self.last_zxid.set(hdr.zxid);
            if let Txn::CreateSession(t) = txn {
                self.session_created(hdr, t.time_out);
                continue;
            }
            self.fire_watches(hdr.zxid, &outcome.triggers, &entry.tree);
            let conn = self
                .by_session
                .borrow()
                .get(&hdr.client_id)
                .and_then(|id| self.conns.borrow().get(id).cloned());
            if let Some(c) = conn {
                if is_session_moved(&outcome.result) && c.has_write_in_flight(hdr.cxid) {
                    // ZooKeeper's FinalRequestProcessor: a connection-level error, so
                    // the connection is closed unanswered and the client reconnects to
                    // where its session now is (ZOOKEEPER-710).
                    self.close_session_conn(c.id, hdr.client_id, "moved to another server");
                    continue;
                }
                let answer = || replies::write_reply(hdr.cxid, hdr.zxid, outcome);
                if self.answer_write(&c, hdr.cxid, answer) {
                    answered.push(c.id);
                }
            }
            // After the closeSession answer is queued, so the client gets it.
            if let (Txn::CloseSession(_), OpOutcome::SessionClosed { .. }) = (txn, &outcome.result)
            {
                self.session_closed(hdr.client_id);
            }
        }
        self.last_zxid.set(entry.zxid);
        let old = std::mem::replace(&mut *self.published.borrow_mut(), entry);
        // If the writer is gone the entry is dropped here instead.
        let _ = self.retire.send(old);
        answered.dedup();
        for conn in answered {
            let c = self.conns.borrow().get(&conn).cloned();
            if let Some(c) = c {
                self.drain(&c);
            }
        }
    }

    /// A createSession txn is committed: if this core asked for it, its handshake is
    /// answered.
    fn session_created(&self, hdr: &TxnHeader, timeout_ms: i32) {
        let session = hdr.client_id;
        let Some(conn) = self.awaiting_session.borrow_mut().remove(&session) else {
            return;
        };
        self.finish_handshake(
            conn,
            Handshake::Live {
                session,
                timeout_ms,
                passwd: session::password(session),
            },
        );
    }

    /// A `sync` of connection `conn` is done: every txn before it is published.
    fn synced(&self, conn: ConnId, xid: i32, path: String) {
        self.catch_up();
        let frame = frame_out::reply(
            xid,
            self.last_zxid.get(),
            0,
            Some(&crate::proto::SyncResponse { path }),
        );
        self.answer_sync(conn, xid, frame);
    }

    pub fn on_message(self: &Rc<Self>, msg: ToSession) {
        match msg {
            ToSession::Published => self.catch_up(),
            ToSession::Synced { conn, xid, path } => self.synced(conn, xid, path),
            ToSession::Revalidated {
                conn,
                session,
                timeout_ms,
                passwd,
            } => {
                self.awaiting_session.borrow_mut().remove(&session);
                let hs = match timeout_ms {
                    Some(t) => Handshake::Live {
                        session,
                        timeout_ms: t,
                        passwd,
                    },
                    None => Handshake::Expired,
                };
                self.finish_handshake(conn, hs);
            }
            ToSession::GatherAsk { asker, id, kind } => {
                let part = crate::ops::four_letter::local_part(self, kind);
                let core = self.clone();
                glommio::spawn_local(async move {
                    let _ = core
                        .to_quorum
                        .send(ToQuorum::GatherPart { asker, id, part })
                        .await;
                })
                .detach();
            }
            ToSession::GatherPart { id, part } => {
                let g = self.gathers.borrow().get(&id).cloned();
                if let Some(g) = g {
                    g.parts.borrow_mut().push(part);
                    g.arrived.raise();
                }
            }
            ToSession::StopServing => self.stop_serving(),
            ToSession::SessionExpiring { conn, session } => {
                self.close_session_conn(conn, session, "expired")
            }
            ToSession::CloseConnection { conn, session } => {
                self.close_session_conn(conn, session, "moved to another connection")
            }
        }
    }

    /// Closes connection `conn` if `session` is still the one on it, leaving the
    /// session to the quorum task (moved elsewhere, or expiring).
    fn close_session_conn(&self, conn: ConnId, session: i64, why: &str) {
        let c = self.conns.borrow().get(&conn).cloned();
        if let Some(c) = c {
            if c.session.get() == session {
                tracing::info!("session 0x{session:x} {why}; closing {}", c.peer);
                self.detach_session(&c);
                c.outbox.close_after_flush();
            }
        }
    }

    /// Closes every connection, leaving its session open (`ToSession::StopServing`).
    fn stop_serving(&self) {
        let conns: Vec<Rc<Conn>> = self.conns.borrow().values().cloned().collect();
        if !conns.is_empty() {
            tracing::info!(
                "session core {}: not serving; closing {} connection(s)",
                self.idx,
                conns.len()
            );
        }
        self.awaiting_session.borrow_mut().clear();
        for c in conns {
            self.detach_session(&c);
            c.outbox.close_after_flush();
        }
    }

    fn finish_handshake(&self, conn: ConnId, hs: Handshake) {
        let c = self.conns.borrow().get(&conn).cloned();
        if let Some(c) = c {
            if let Some(slot) = c.handshake.borrow_mut().take() {
                slot.set(hs);
            }
        }
    }

    /// Delivers the watch events of one txn to the sessions of this core.
    /// The registry expands a create or delete into the parent's NodeChildrenChanged
    /// itself, so only the primary triggers are fed to it.
    ///
    /// `tree` is the version after the txn's batch: the ACL a delivery is checked
    /// against is the node's at the end of the batch (ZooKeeper checks it right after
    /// the txn; the two differ only if the same batch also changes that ACL).
    fn fire_watches(&self, zxid: i64, triggers: &[WatchTrigger], tree: &TreeVersion) {
        if triggers.is_empty() {
            return;
        }
        let mut events: Vec<WatchEvent> = Vec::new();
        {
            let mut w = self.watches.borrow_mut();
            for t in triggers {
                match t.event_type {
                    NODE_CREATED => w.on_create(&t.path, &mut events),
                    NODE_DELETED => w.on_delete(&t.path, &mut events),
                    NODE_DATA_CHANGED => w.on_set_data(&t.path, &mut events),
                    _ => {}
                }
            }
        }
        self.publish_watch_count();
        if events.is_empty() {
            return;
        }
        let conns = self.conns.borrow();
        let by_session = self.by_session.borrow();
        for ev in events {
            let Some(conn) = by_session.get(&ev.session).and_then(|id| conns.get(id)) else {
                continue;
            };
            // ZooKeeper delivers an event only to sessions that may read the node it
            // names (the parent, for NodeChildrenChanged). A deleted node's ACL is gone
            // with it, so its NodeDeleted goes to every watcher.
            if let Some(node) = tree.get(&ev.path) {
                if !check_acl(
                    node.acl(),
                    perms::READ,
                    &conn.auth.borrow(),
                    &self.cfg.auth_providers,
                ) {
                    continue;
                }
            }
            let ev = WatcherEvent {
                event_type: ev.event_type as i32,
                state: keeper_state::SYNC_CONNECTED,
                path: ev.path,
            };
            conn.send(frame_out::reply(xid::NOTIFICATION, zxid, 0, Some(&ev)));
        }
    }

    /// A session was closed or expired: its connection on this core (if any) closes,
    /// after the closeSession answer when the client asked for it.
    fn session_closed(&self, session: i64) {
        self.watches.borrow_mut().remove_session(session);
        self.publish_watch_count();
        let conn_id = self.by_session.borrow_mut().remove(&session);
        if let Some(id) = conn_id {
            let c = self.conns.borrow().get(&id).cloned();
            if let Some(c) = c {
                c.outbox.close_after_flush();
            }
        }
    }

    /// Detaches a connection from its session without closing the session.
    pub fn detach_session(&self, c: &Conn) {
        let s = c.session.get();
        if s == 0 {
            return;
        }
        let mut by = self.by_session.borrow_mut();
        if by.get(&s) == Some(&c.id) {
            by.remove(&s);
            self.watches.borrow_mut().remove_session(s);
            self.publish_watch_count();
        }
    }

    /// Answers `conn`'s `sync` `xid` with `frame`, then serves the reads queued behind
    /// it: the caller has caught up, so they see everything the sync waited for.
    fn answer_sync(&self, conn: ConnId, xid: i32, frame: bytes::Bytes) {
        let c = self.conns.borrow().get(&conn).cloned();
        let Some(c) = c else { return };
        if !self.answer_write(&c, xid, || frame) {
            tracing::error!(
                "answer for xid {xid} on connection {} matches no pending write",
                c.peer
            );
        }
        // `answer_write` stops at a queued read (inside `take` the version is not
        // switched yet); without this a read pipelined behind a sync waited for the
        // connection's next request (a ping, a third of the session timeout later).
        self.drain(&c);
    }

    /// If `c` has a write `xid` in flight, gives it its answer (built only then) and
    /// sends what is ready at the front of the queue; false if no such write waits
    /// (a committed txn of this session from before it came to this connection).
    fn answer_write(&self, c: &Rc<Conn>, xid: i32, frame: impl FnOnce() -> bytes::Bytes) -> bool {
        {
            let mut pending = c.pending.borrow_mut();
            let slot = pending
                .iter_mut()
                .find(|p| matches!(p, Pending::Write { xid: x, reply: None, .. } if *x == xid));
            match slot {
                Some(Pending::Write { reply, .. }) => *reply = Some(frame()),
                _ => return false,
            }
        }
        self.drain_answers(c, false);
        true
    }

    /// Sends the answers at the front of `pending` in order, serving queued reads when
    /// they reach the front; stops at a write still in flight.
    pub fn drain(&self, c: &Rc<Conn>) {
        self.drain_answers(c, true);
    }

    /// As [`Core::drain`]; without `serve_reads` it also stops at a queued read.
    fn drain_answers(&self, c: &Rc<Conn>, serve_reads: bool) {
        let mut sent_any = false;
        loop {
            let front = {
                let mut pending = c.pending.borrow_mut();
                match pending.front() {
                    Some(Pending::Write { reply: None, .. }) | None => break,
                    Some(Pending::Local { .. }) if !serve_reads => break,
                    _ => pending.pop_front(),
                }
            };
            let Some(p) = front else { break };
            sent_any = true;
            match p {
                Pending::Write {
                    reply: Some(frame),
                    op,
                    started,
                    xid,
                } => {
                    self.note_answer(c, op.short_name(), true, xid, started);
                    c.send(frame);
                    self.outstanding_dec();
                }
                Pending::Write { reply: None, .. } => unreachable!("checked above"),
                Pending::Local {
                    xid,
                    request,
                    started,
                } => {
                    let op = request.op_code();
                    let frame = self.serve_local(c, xid, request);
                    self.note_answer(c, op.short_name(), false, xid, started);
                    c.send(frame);
                }
                Pending::Error {
                    xid,
                    op,
                    err,
                    started,
                } => {
                    self.note_answer(
                        c,
                        op.map(|o| o.short_name()).unwrap_or("NA"),
                        false,
                        xid,
                        started,
                    );
                    c.send(frame_out::reply(xid, self.last_zxid.get(), err, None));
                }
            }
        }
        if sent_any {
            c.pending_space.raise();
        }
    }

    pub fn note_answer(&self, c: &Conn, op: &'static str, write: bool, xid: i32, started: Instant) {
        let us = started.elapsed().as_micros() as u64;
        self.my_stats()
            .stage(if write { Stage::Write } else { Stage::Read }, us);
        c.stats.record(us);
        c.stats.last_op.set(op);
        c.stats.last_cxid.set(xid);
        c.stats.last_zxid.set(self.last_zxid.get());
        c.stats.last_response_ms.set(self.now_ms());
        self.my_stats().record_latency(us);
    }
}

/// Milliseconds since the Unix epoch (txn and connection times, as ZooKeeper uses).
pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What a session core is given at start besides its tree and channels.
pub struct CoreStart {
    pub idx: CoreIdx,
    pub cfg: Arc<Config>,
    pub last_zxid: i64,
    pub stats: Arc<ServerStats>,
    /// Its client listeners (bound by `server::run`, in the cores' SO_REUSEPORT groups).
    pub listener: super::acceptor::ClientListener,
    /// The operator ports (metrics, AdminServer) this core serves, if any.
    pub ops: crate::ops::OpsListeners,
    pub stop: StopNotice,
    pub report: mpsc::Sender<Drained>,
    pub retire: Retire,
    pub touches: Arc<TouchBoard>,
}

/// Runs a session core until the server stops.
pub async fn run(
    start: CoreStart,
    published: Arc<Published>,
    to_quorum: SharedSender<ToQuorum>,
    from_quorum: SharedReceiver<ToSession>,
) {
    let CoreStart {
        idx,
        cfg,
        touches,
        last_zxid,
        stats,
        listener,
        ops,
        stop,
        report,
        retire,
    } = start;
    // Each end's connect waits for its peer, so both are connected at once.
    let (to_quorum, from_quorum) =
        futures_lite::future::zip(to_quorum.connect(), from_quorum.connect()).await;
    let outstanding_max = (cfg.global_outstanding_limit as usize / cfg.session_cores.max(1)).max(1);
    let core = Rc::new(Core {
        idx,
        cfg: cfg.clone(),
        published: RefCell::new(published),
        retire,
        watches: RefCell::new(WatchRegistry::new()),
        conns: RefCell::new(HashMap::new()),
        by_session: RefCell::new(HashMap::new()),
        session_ids: RefCell::new(SessionIdGen::new(
            cfg.server_id,
            wall_clock_ms().max(0) as u64,
            idx,
            cfg.session_cores.max(1),
        )),
        awaiting_session: RefCell::new(HashMap::new()),
        last_zxid: Cell::new(last_zxid),
        to_quorum,
        touches,
        next_conn: Cell::new(1),
        stats,
        started: Instant::now(),
        outstanding: Cell::new(0),
        outstanding_max,
        room_waiters: RefCell::new(Vec::new()),
        gathers: RefCell::new(HashMap::new()),
        next_gather: Cell::new(0),
        draining: Cell::new(false),
    });
    // Batches published before this core connected are taken now.
    core.catch_up();

    let applier = core.clone();
    glommio::spawn_local(async move {
        while let Some(msg) = from_quorum.recv().await {
            applier.on_message(msg);
        }
        tracing::error!("session core {}: quorum core went away", applier.idx);
    })
    .detach();

    crate::ops::serve(&core, ops);
    let mut acceptor = match super::acceptor::ClientAcceptor::spawn(idx, listener) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("session core {idx}: cannot start its acceptor thread: {e}; stopping");
            std::process::exit(1);
        }
    };
    let accepting = async {
        while let Some(stream) = acceptor.next().await {
            super::connection::accept(core.clone(), stream);
        }
        tracing::error!("session core {idx}: its acceptor thread ended; no new connections");
        std::future::pending::<()>().await;
    };
    futures_lite::future::or(accepting, stop.wait()).await;
    // No new connection reaches this core from here on.
    acceptor.stop();
    let drained = core.stop_connections().await;
    let _ = report.send(drained);
}

/// A write the leader refused because its session had moved to another server: an
/// error txn, or a multi whose first failed op says so (as a ZooKeeper leader logs it).
fn is_session_moved(result: &OpOutcome) -> bool {
    matches!(
        result,
        OpOutcome::Failed(ErrorCode::SessionMoved)
            | OpOutcome::Multi {
                err: ErrorCode::SessionMoved,
                ..
            }
    )
}
