//! The quorum task: the single writer. Its pipeline takes the work the session cores
//! send (writes, syncs, new sessions) and the server's own (session expiry, container
//! and TTL reaping), prepares each write against the committed tree seen through the
//! changes of txns prepared but not yet applied (ZooKeeper's "outstanding changes"),
//! gives it a zxid, appends the batch to the log and syncs it (`log_writer`), then
//! applies it to the tree, once for the process, and publishes the batch with the new
//! version (`published.rs`); the session cores take it from there and answer their own
//! clients. With `quorumCore` shared the task runs on session core 0's executor.
//!
//! The other jobs live beside it: the session table and who holds each session
//! (`sessions`), snapshots and purge (`snapshots`). Standalone is a quorum of one: the
//! same pipeline.
//!
//! In an ensemble (`peer`) the task also plays this server's part in ZAB. Its `Role`
//! says what the pipeline does with work: a leader prepares it as above and proposes
//! each txn to its followers, applying a txn once a quorum has it durable; a follower
//! forwards work to its leader (REQUEST) and applies what the leader commits; between
//! leaders no work is taken and no client is served. Either way a txn is applied only
//! through `apply_through`, in zxid order, and reaches the session cores the same way.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};

mod digests;
mod log_writer;
mod observer_master;
mod peer;
mod proposals;
mod restore;
mod sessions;
mod snapshots;
mod ticker;
mod wire_io;

use log_writer::LogWriter;
use sessions::{Sessions, Via};
pub(crate) use snapshots::stream_zk_snapshot;
use snapshots::Snapshots;
pub(crate) use wire_io::StreamChunk;

use super::messages::{Committed, ConnId, CoreIdx, ToQuorum, ToSession};
use super::published::Published;
use super::session_core::wall_clock_ms;
use super::shutdown::StopNotice;
use super::signal::Signal;
use super::stats::{ServerStats, Stage, ZabMetrics};
use super::touches::TouchBoard;
use crate::config::Config;
use crate::proto::{ErrorCode, Id, OpCode, Request};
use crate::session::{self, SessionTracker};
use crate::storage::TxnLog;
use crate::tree::DataTree;
use crate::txn::{self, CreateSessionTxn, Outstanding, PrepContext, Txn, TxnHeader, WriteRequest};

/// What recovery hands the quorum core: the tree, the zxid of its last txn, the log to
/// append to and the sessions that were live when the server stopped (they expire
/// normally unless clients return).
pub struct Durable {
    pub tree: DataTree,
    pub last_zxid: i64,
    pub log: TxnLog,
    pub sessions: Vec<(i64, i32)>,
}

/// Where a unit of work came from: a connection of a session core here, or (on a
/// leader) a learner's connection on the quorum port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Local { core: CoreIdx, conn: ConnId },
    Learner(crate::zab::leader::ConnId),
}

/// Work waiting for the pipeline, in arrival order.
enum Work {
    Write {
        session: i64,
        xid: i32,
        request: Request,
        /// The body as the client sent it (what a follower forwards).
        body: bytes::Bytes,
        auth: Arc<[Id]>,
        /// Where it reached this server from (checked against the session's owner).
        via: Via,
    },
    /// A forwarded request whose body did not decode: logged as an error txn, so the
    /// learner's client gets its answer (ZooKeeper proposes failed requests too).
    Failed {
        session: i64,
        xid: i32,
        code: ErrorCode,
    },
    Sync(SyncMarker),
    CreateSession {
        origin: Origin,
        session: i64,
        timeout_ms: i32,
    },
    /// The server's own closeSession for an expired session.
    Expire(i64),
    /// The server's own delete of an empty container or expired TTL node.
    Reap(String),
}

/// A `sync` waiting for everything prepared before it to be applied and published.
enum SyncMarker {
    /// A client of session core `core`.
    Local {
        core: CoreIdx,
        conn: ConnId,
        session: i64,
        xid: i32,
        path: String,
    },
    /// A learner forwarded it: answered with a SYNC packet on its connection.
    Learner(crate::zab::leader::ConnId),
    /// An observer of this follower (`observerMasterPort`) forwarded it: the leader's
    /// SYNC is relayed to it on its connection.
    Observer(crate::zab::observer_master::ConnId),
}

/// What the pipeline does with work (see the module doc).
#[derive(Clone)]
enum Role {
    Standalone,
    /// An ensemble member electing, or synchronizing with its leader.
    NotServing,
    Leading(Rc<peer::Leading>),
    Following(Rc<peer::Following>),
}

struct Quorum {
    cfg: Arc<Config>,
    /// The committed tree: every synced batch applied, and nothing else.
    tree: RefCell<DataTree>,
    /// The newest published entry, which the next batch is linked after.
    newest: RefCell<Arc<Published>>,
    /// Entries the session cores moved past, dropped here (see `published::Retire`).
    retired: std::sync::mpsc::Receiver<Arc<Published>>,
    /// Sessions the session cores marked as having traffic (`gather_touches`).
    touches: Arc<TouchBoard>,
    /// Changes of txns prepared but not yet applied to the committed tree.
    outstanding: RefCell<Outstanding>,
    /// zxid of the last txn applied to the committed tree.
    applied: Cell<i64>,
    sessions: Sessions,
    last_zxid: Cell<i64>,
    /// Work with the time it arrived (for the queue-stage histogram).
    inbox: RefCell<VecDeque<(Instant, Work)>>,
    /// Connections of sessions expired while preparing a batch, closed before the
    /// batch is logged (`ToSession::SessionExpiring`).
    expiring: RefCell<Vec<((CoreIdx, ConnId), i64)>>,
    /// Handshakes refused while preparing a batch (session table full), answered
    /// after the batch.
    refused: RefCell<Vec<(CoreIdx, ConnId, i64)>>,
    inbox_ready: Signal,
    outs: Vec<ConnectedSender<ToSession>>,
    /// Monotonic clock anchored at the wall clock, for session expiry.
    clock_base_ms: i64,
    clock_base: Instant,
    stats: Arc<ServerStats>,
    log: LogWriter,
    /// Txns committed since the last snapshot, and the (randomised) count that
    /// triggers the next one.
    snapshots: Snapshots,
    /// The server is stopping (see `shutdown`).
    stopping: Cell<bool>,
    role: RefCell<Role>,
    /// `sslQuorum`: the TLS of the quorum and observer master ports and of the
    /// connections this member opens to them; `None`: plaintext. Set once, when the
    /// ensemble task starts.
    peer_tls: RefCell<Option<Rc<super::peer_tls::PeerTls>>>,
    /// Txns in the log and not yet applied, in zxid order.
    unapplied: RefCell<VecDeque<Committed>>,
    /// Syncs waiting for the tree to reach a zxid, in order, and (a leader's) for the
    /// proof that it still leads: (that zxid, the `Leading::confirm` id or 0, who asked).
    waiting_syncs: RefCell<VecDeque<(i64, u64, SyncMarker)>>,
    /// The newest applied txns as PROPOSAL data, for a leader's DIFF syncs
    /// (`committedLog`); at most `commitLogCount`.
    window: RefCell<VecDeque<crate::zab::history::Txn>>,
    /// The pipeline is preparing a batch, or a learner's batch is between its append
    /// and its sync (a role change waits for it).
    batch_in_flight: Cell<bool>,
    /// Txns a leader or standalone pipeline appended that no sync has taken yet; the
    /// syncer takes them all at once (group commit).
    unsynced_txns: Cell<u64>,
    /// The syncer is syncing (a role change waits for it).
    syncing: Cell<bool>,
    /// Raised when txns are appended for the syncer.
    sync_ready: Signal,
    /// Raised when the syncer finishes a sync (the pipeline's backpressure).
    sync_done: Signal,
    /// The newest durable zxid the syncer has not reported yet, with the role it was
    /// synced under; the reporter takes it (a later sync's report supersedes it).
    durable: RefCell<Option<(Role, i64)>>,
    /// Raised when the syncer leaves a report in `durable`.
    durable_ready: Signal,
    /// The txn digest: a leader's predictions, a learner's checks.
    digests: digests::Digests,
}

impl Quorum {
    fn now_ms(&self) -> u64 {
        (self.clock_base_ms + self.clock_base.elapsed().as_millis() as i64).max(0) as u64
    }

    fn push(&self, w: Work) {
        self.inbox.borrow_mut().push_back((Instant::now(), w));
        self.inbox_ready.raise();
    }

    /// Messages from one session core.
    async fn on_message(self: &Rc<Self>, msg: ToQuorum) {
        match msg {
            ToQuorum::AdminSnapshot { reply } => {
                // Nobody waiting is no error: the AdminServer's client went away.
                let _ = reply.try_send(super::messages::AdminSnapshot {
                    version: self.tree.borrow().version(),
                    zxid: self.applied.get(),
                    sessions: self.sessions.list(),
                });
            }
            ToQuorum::Restore { restore, reply } => {
                let q = self.clone();
                glommio::spawn_local(async move {
                    let answer = q.restore(*restore).await;
                    let _ = reply.send(answer).await;
                })
                .detach();
            }
            // Four-letter words are rare: routed here, as cores only talk to the quorum.
            ToQuorum::Gather { asker, id, kind } => {
                for out in &self.outs {
                    let _ = out.send(ToSession::GatherAsk { asker, id, kind }).await;
                }
            }
            ToQuorum::GatherPart { asker, id, part } => {
                if let Some(out) = self.outs.get(asker) {
                    let _ = out.send(ToSession::GatherPart { id, part }).await;
                }
            }
            ToQuorum::Write {
                session,
                xid,
                request,
                body,
                auth,
            } => self.push(Work::Write {
                session,
                xid,
                request,
                body,
                auth,
                via: Via::Here,
            }),
            ToQuorum::Sync {
                core,
                conn,
                session,
                xid,
                path,
            } => self.push(Work::Sync(SyncMarker::Local {
                core,
                conn,
                session,
                xid,
                path,
            })),
            ToQuorum::CreateSession {
                core,
                conn,
                session,
                timeout_ms,
            } => self.push(Work::CreateSession {
                origin: Origin::Local { core, conn },
                session,
                timeout_ms,
            }),
            ToQuorum::Revalidate { core, conn, req } if self.is_following() => {
                let role = self.role.borrow().clone();
                if let Role::Following(f) = role {
                    f.revalidate(self, core, conn, req).await;
                }
            }
            ToQuorum::Revalidate { core, conn, req } => {
                let id = req.session_id;
                let r = self
                    .sessions
                    .revalidate(id, &req.passwd, core, conn, self.now_ms());
                if let Some((old_core, old_conn)) = r.moved_from {
                    let _ = self.outs[old_core]
                        .send(ToSession::CloseConnection {
                            conn: old_conn,
                            session: id,
                        })
                        .await;
                }
                let alive = r.alive;
                let _ = self.outs[core]
                    .send(ToSession::Revalidated {
                        conn,
                        session: id,
                        timeout_ms: alive.then_some(req.timeout_ms),
                        passwd: session::password(id),
                    })
                    .await;
            }
            ToQuorum::Disconnected {
                core,
                conn,
                session,
            } => self.sessions.disconnected(core, conn, session),
        }
    }

    fn next_header(&self, client_id: i64, cxid: i32, op: OpCode) -> TxnHeader {
        let zxid = match &*self.role.borrow() {
            Role::Leading(l) => l.next_zxid(),
            _ => self.last_zxid.get() + 1,
        };
        self.last_zxid.set(zxid);
        TxnHeader {
            client_id,
            cxid,
            zxid,
            time_ms: wall_clock_ms(),
            op: op as i32,
        }
    }

    /// Turns one unit of work into a txn, prepared against the quorum core's tree
    /// and the outstanding changes, which then include it. A `sync` is not work for
    /// the log: the pipeline keeps it aside (see `pipeline`).
    fn prepare(&self, w: Work) -> Option<Committed> {
        match w {
            Work::Write {
                session,
                xid,
                request,
                auth,
                via,
                ..
            } => {
                let op = request.op_code();
                let mut hdr = self.next_header(session, xid, op);
                let txn = self.prep_checked(session, via, &auth, &request, hdr.zxid);
                // The header names the txn actually logged (error, multi, ...), as
                // ZooKeeper's does.
                hdr.op = txn.op_code() as i32;
                self.commit_sessions(&hdr, &txn);
                Some(Committed { hdr, txn })
            }
            Work::Failed { session, xid, code } => {
                let txn = Txn::error(code);
                let hdr = self.next_header(session, xid, OpCode::Error);
                Some(Committed { hdr, txn })
            }
            Work::Sync(_) => None,
            Work::CreateSession {
                origin,
                session: id,
                timeout_ms,
            } => {
                let opened = self.sessions.open(id, timeout_ms, origin, self.now_ms());
                if let Err(e) = opened {
                    match origin {
                        Origin::Local { core, conn } => {
                            tracing::warn!("refusing a new session: {e}");
                            self.refused.borrow_mut().push((core, conn, id));
                            return None;
                        }
                        // A learner waits for this txn: ZooKeeper's learners match
                        // commits to their requests in order, so one never answered
                        // would stall every later request of theirs. ZooKeeper's
                        // leader always logs createSession; so does this one.
                        Origin::Learner(conn) => tracing::warn!(
                            "a new session 0x{id:x} from learner connection {conn}: {e}; \
                             logged all the same"
                        ),
                    }
                }
                let hdr = self.next_header(id, 0, OpCode::CreateSession);
                let txn = Txn::CreateSession(CreateSessionTxn {
                    time_out: timeout_ms,
                });
                Some(Committed { hdr, txn })
            }
            Work::Expire(id) => {
                if !self.sessions.contains(id) {
                    return None;
                }
                tracing::info!("expiring session 0x{id:x}");
                self.stats.quorum().session_expired();
                if let Some(owner) = self.sessions.owner_of(id) {
                    self.expiring.borrow_mut().push((owner, id));
                }
                let mut hdr = self.next_header(id, 0, OpCode::CloseSession);
                self.sessions.set_closing(id);
                let ctx = PrepContext {
                    session_id: id,
                    auth_ids: &[],
                    providers: &self.cfg.auth_providers,
                    extended_types_enabled: self.cfg.extended_types_enabled,
                    enforce_quota: self.cfg.enforce_quota,
                };
                let txn = self.prep(&ctx, hdr.zxid, &WriteRequest::CloseSession);
                hdr.op = txn.op_code() as i32;
                self.commit_sessions(&hdr, &txn);
                Some(Committed { hdr, txn })
            }
            Work::Reap(path) => {
                let ctx = PrepContext {
                    session_id: 0,
                    auth_ids: &[],
                    providers: &self.cfg.auth_providers,
                    extended_types_enabled: self.cfg.extended_types_enabled,
                    enforce_quota: self.cfg.enforce_quota,
                };
                let req = WriteRequest::DeleteContainer { path };
                // Prepared as the next zxid, which is taken only if the delete goes
                // ahead (a failed prep leaves the outstanding changes as they were).
                let txn = self.prep(&ctx, self.last_zxid.get() + 1, &req);
                // The node changed since it was picked (a child came back): skip it,
                // as ZooKeeper's ContainerManager ignores such failures.
                if let Txn::Error(_) = txn {
                    return None;
                }
                let hdr = self.next_header(0, 0, OpCode::DeleteContainer);
                Some(Committed { hdr, txn })
            }
        }
    }

    /// `prep` behind the session check ZooKeeper's PrepRequestProcessor does first.
    fn prep_checked(
        &self,
        session: i64,
        via: Via,
        auth: &[Id],
        request: &Request,
        zxid: i64,
    ) -> Txn {
        if !self.sessions.is_live(session) {
            return Txn::error(ErrorCode::SessionExpired);
        }
        // ZooKeeper checks the owner of every write but closeSession (which expiry
        // also sends). A multi fails whole here, where ZooKeeper fails its first op;
        // either way its client's connection is closed and nothing changes.
        if !matches!(request, Request::CloseSession) && !self.sessions.check_via(session, via) {
            tracing::debug!(
                "session 0x{session:x}: a write through {via:?}, which no longer owns it"
            );
            return Txn::error(ErrorCode::SessionMoved);
        }
        let Some(req) = WriteRequest::from_request(request.clone()) else {
            return Txn::error(ErrorCode::Unimplemented);
        };
        if let Request::CloseSession = request {
            self.sessions.set_closing(session);
        }
        let ctx = PrepContext {
            session_id: session,
            auth_ids: auth,
            providers: &self.cfg.auth_providers,
            extended_types_enabled: self.cfg.extended_types_enabled,
            enforce_quota: self.cfg.enforce_quota,
        };
        self.prep(&ctx, zxid, &req)
    }

    /// Prepares `req` as the txn `zxid` against the committed tree and the
    /// outstanding changes, which then include its own.
    fn prep(&self, ctx: &PrepContext<'_>, zxid: i64, req: &WriteRequest) -> Txn {
        let tree = self.tree.borrow();
        let mut outstanding = self.outstanding.borrow_mut();
        let txn = txn::prep_with(&tree, &mut outstanding, ctx, zxid, req);
        super::quota_log::log(outstanding.take_quota_warnings());
        txn
    }

    /// A prepared txn's effect on the session table (the tree gets it once committed).
    fn commit_sessions(&self, hdr: &TxnHeader, txn: &Txn) {
        if let Txn::CloseSession(_) = txn {
            self.sessions.closed(hdr.client_id);
        }
    }

    /// Starts a snapshot when enough txns were committed since the last one, of the
    /// version just committed: the pipeline is between batches, so every prepared
    /// txn is applied and the snapshot is exact.
    fn maybe_snapshot(&self, txns: u64) {
        if !self.snapshots.due(txns) {
            return;
        }
        self.log.roll();
        self.snapshots.start(
            self.tree.borrow().version(),
            self.applied.get(),
            self.sessions.list(),
        );
    }

    /// Whether the pipeline takes work now (see `Role`).
    fn takes_work(&self) -> bool {
        match &*self.role.borrow() {
            Role::Standalone => true,
            Role::NotServing => false,
            Role::Leading(l) => l.is_broadcasting(),
            Role::Following(f) => f.is_broadcasting(),
        }
    }

    fn is_following(&self) -> bool {
        matches!(&*self.role.borrow(), Role::Following(_))
    }

    /// Whether this server expires sessions and reaps nodes: standalone, or a leader.
    fn is_authority(&self) -> bool {
        match &*self.role.borrow() {
            Role::Standalone => true,
            Role::Leading(l) => l.is_broadcasting(),
            _ => false,
        }
    }

    /// The pipeline: take a batch, prepare it, propose it (as a leader) and append it
    /// to the log, then hand it to the `syncer` and go on with the next batch while
    /// that one syncs; as a follower, forward the work to the leader instead.
    async fn pipeline(self: &Rc<Self>) {
        loop {
            while self.inbox.borrow().is_empty() || !self.takes_work() {
                self.inbox_ready.wait().await;
            }
            let role = self.role.borrow().clone();
            if let Role::Following(f) = &role {
                let work: Vec<_> = self.inbox.borrow_mut().drain(..).collect();
                for (_, w) in work {
                    f.forward(self, w);
                }
                continue;
            }
            // At most one batch waits behind the sync in flight: past that the log
            // device is the bottleneck, and waiting makes the next group commit larger.
            let max_txns = self.cfg.commit_batch_max_txns;
            if self.unsynced_txns.get() >= max_txns as u64 {
                self.sync_done.wait().await;
                continue;
            }
            self.batch_in_flight.set(true);
            // A batch takes what is queued, up to the txn and byte bounds.
            let max_bytes = self.cfg.commit_batch_max_bytes;
            let start_bytes = self.log.bytes_appended();
            // What the committed tree has applied needs no overlay any more.
            self.outstanding
                .borrow_mut()
                .commit_up_to(self.applied.get());
            let mut txns = 0usize;
            let mut append_us = 0u64;
            // One leadership check stands for every sync this batch takes: each of
            // them arrived before it was asked.
            let mut confirm: Option<u64> = None;
            loop {
                if txns >= max_txns || self.log.bytes_appended() - start_bytes >= max_bytes {
                    break;
                }
                // A sync may have ended the leadership just now (its quorum check
                // ticks at once): the machine proposes nothing more, so nothing more
                // of this batch may be prepared (it would reuse a zxid). What is left
                // in the inbox goes with the role.
                if matches!(&role, Role::Leading(l) if !l.is_broadcasting()) {
                    break;
                }
                let next = self.inbox.borrow_mut().pop_front();
                let Some((arrived, w)) = next else { break };
                let w = match w {
                    Work::Sync(marker) => {
                        let after = self.last_zxid.get();
                        let id = match &role {
                            Role::Leading(l) => *confirm.get_or_insert_with(|| l.confirm(self)),
                            _ => 0,
                        };
                        match (&marker, &role) {
                            // A learner's: answered in order with the COMMITs.
                            (SyncMarker::Learner(conn), Role::Leading(l)) => {
                                l.learner_sync(self, *conn, after, id)
                            }
                            // A local client's: once everything prepared before it
                            // is applied here (and, leading, we are proven to lead).
                            _ => self
                                .waiting_syncs
                                .borrow_mut()
                                .push_back((after, id, marker)),
                        }
                        continue;
                    }
                    w => w,
                };
                let qs = self.stats.quorum();
                let t0 = Instant::now();
                qs.stage(Stage::Queue, t0.duration_since(arrived).as_micros() as u64);
                let prepared = self.prepare(w);
                let t1 = Instant::now();
                qs.stage(Stage::Prep, t1.duration_since(t0).as_micros() as u64);
                if let Some(c) = prepared {
                    if let Role::Leading(l) = &role {
                        // Followers get the PROPOSAL while our own append and sync run.
                        l.propose(self, &c);
                        crate::server::failpoints::crash_point_async(
                            crate::server::failpoints::LEADER_BEFORE_LOG_APPEND,
                        )
                        .await;
                    }
                    self.log.append(std::slice::from_ref(&c));
                    append_us += t1.elapsed().as_micros() as u64;
                    // Logged (durable once the syncer's sync returns): the leader's
                    // digest prediction counts it as prepared from here on.
                    self.unapplied.borrow_mut().push_back(c);
                    txns += 1;
                }
            }
            if txns > 0 {
                self.stats.quorum().stage(Stage::Append, append_us);
                self.unsynced_txns
                    .set(self.unsynced_txns.get() + txns as u64);
                self.sync_ready.raise();
            }
            self.batch_in_flight.set(false);
            let expiring: Vec<_> = self.expiring.borrow_mut().drain(..).collect();
            for ((core, conn), session) in expiring {
                let _ = self.outs[core]
                    .send(ToSession::SessionExpiring { conn, session })
                    .await;
            }
            let refused: Vec<_> = self.refused.borrow_mut().drain(..).collect();
            for (core, conn, session) in refused {
                let _ = self.outs[core]
                    .send(ToSession::Revalidated {
                        conn,
                        session,
                        timeout_ms: None,
                        passwd: [0; 16],
                    })
                    .await;
            }
            if txns == 0 {
                // Everything prepared before these syncs may be applied already.
                self.answer_due_syncs().await;
            }
            // A steady stream never empties the inbox: let the syncer, the learners'
            // ACKs and the session cores' messages in between batches.
            futures_lite::future::yield_now().await;
        }
    }

    /// Makes what the pipeline appended durable, in group commits, one sync at a time;
    /// then the txns are applied (standalone) or reported to the leader's machine,
    /// which applies them once a quorum has them. Whatever is appended while a sync
    /// runs goes in the next.
    async fn syncer(self: &Rc<Self>) {
        loop {
            while self.unsynced_txns.get() == 0 {
                self.sync_ready.wait().await;
            }
            let txns = self.unsynced_txns.replace(0);
            let role = self.role.borrow().clone();
            self.syncing.set(true);
            let through = self.log.sync(txns).await;
            self.stats.quorum().batch_committed(txns as usize);
            self.syncing.set(false);
            self.sync_done.raise();
            // The reporter commits and applies while the next sync already runs: the
            // device flushes batch k+1 while this thread applies batch k, where a
            // report inline would hold every later txn behind batch k's apply.
            *self.durable.borrow_mut() = Some((role, through));
            self.durable_ready.raise();
        }
    }

    /// Reports what the syncer made durable: the leader's own ACK (which may commit),
    /// or a standalone server's apply. Reports are cumulative, so the newest one
    /// stands for any it replaced.
    async fn reporter(self: &Rc<Self>) {
        loop {
            let report = self.durable.borrow_mut().take();
            let Some((role, through)) = report else {
                self.durable_ready.wait().await;
                continue;
            };
            // A role change waits for the sync (`peer::end_role`) and applies what the
            // log holds; a leadership that ended meanwhile gets no report.
            let still = self.role.borrow().clone();
            match (&role, &still) {
                (Role::Leading(l), Role::Leading(now)) if Rc::ptr_eq(l, now) => {
                    l.persisted(self, through).await
                }
                (Role::Standalone, _) => self.apply_through(through).await,
                _ => {}
            }
        }
    }

    /// Applies every logged txn up to `through` and tells the session cores.
    async fn apply_through(self: &Rc<Self>, through: i64) {
        self.apply_now(through);
        self.after_apply().await;
    }

    /// Applies, in zxid order, every logged txn up to `through` that is not applied
    /// yet, and publishes them: the only way a txn reaches the tree. Synchronous, so
    /// the tree and `applied` agree with whoever asked (a SNAP sent right after an
    /// apply sends this tree). `after_apply` then tells the session cores.
    ///
    /// Returns the applied txns as the DIFF window holds them (empty outside an
    /// ensemble), for a follower's observer master.
    fn apply_now(&self, through: i64) -> Vec<crate::zab::history::Txn> {
        let batch: Vec<Committed> = {
            let mut u = self.unapplied.borrow_mut();
            let mut b = Vec::new();
            while u.front().is_some_and(|c| c.hdr.zxid <= through) {
                if let Some(c) = u.pop_front() {
                    if c.hdr.zxid > self.applied.get() {
                        b.push(c);
                    }
                }
            }
            b
        };
        if batch.is_empty() {
            return Vec::new();
        }
        if !self.is_authority() {
            // A leader tracks sessions as it prepares their txns; everyone else as
            // they are committed.
            let now = self.now_ms();
            for c in &batch {
                self.sessions.follow_committed(&c.hdr, &c.txn, now);
            }
        }
        let txns = batch.len() as u64;
        // ZooKeeper's `propagation_latency` (its FinalRequestProcessor): each txn
        // from its header's time to being applied here.
        let wall = wall_clock_ms();
        for c in &batch {
            ZabMetrics::since_created(&self.stats.zab.propagation_latency, wall, c.hdr.time_ms);
        }
        let applying = Instant::now();
        let windowed = self.apply_and_publish(batch);
        self.stats
            .quorum()
            .stage(Stage::Apply, applying.elapsed().as_micros() as u64);
        self.maybe_snapshot(txns);
        windowed
    }

    /// After `apply_now`: wakes the session cores and answers the syncs now due.
    async fn after_apply(self: &Rc<Self>) {
        let fanout = Instant::now();
        self.notify_cores().await;
        self.stats
            .quorum()
            .stage(Stage::Commit, fanout.elapsed().as_micros() as u64);
        self.answer_due_syncs().await;
    }

    /// Tells every session core a new entry is published.
    async fn notify_cores(&self) {
        for out in &self.outs {
            if out.send(ToSession::Published).await.is_err() {
                fatal("a session core went away");
            }
        }
    }

    /// Answers the syncs whose txns are all applied and published; a leader, only
    /// once it has proven that it still led when they arrived (`Leading::confirm`) and
    /// while it still counts its quorum (`Leading::holds_quorum_now`); otherwise they
    /// wait for the role's end, which closes their connections.
    async fn answer_due_syncs(self: &Rc<Self>) {
        // Called after every apply; most of the time no sync waits.
        if self.waiting_syncs.borrow().is_empty() {
            return;
        }
        let role = self.role.borrow().clone();
        // Outside a leadership nothing waits for a check (ids are 0).
        let confirmed = match &role {
            Role::Leading(l) => l.confirmed(),
            _ => u64::MAX,
        };
        let is_due = |(after, confirm, _): &(i64, u64, SyncMarker)| {
            *after <= self.applied.get() && *confirm <= confirmed
        };
        let due_now = self.waiting_syncs.borrow().front().is_some_and(is_due);
        if due_now {
            if let Role::Leading(l) = &role {
                if !l.holds_quorum_now(self) {
                    return;
                }
            }
        }
        loop {
            let due = {
                let mut w = self.waiting_syncs.borrow_mut();
                match w.front() {
                    Some(s) if is_due(s) => w.pop_front(),
                    _ => None,
                }
            };
            let Some((_, _, marker)) = due else { break };
            match marker {
                SyncMarker::Local {
                    core,
                    conn,
                    xid,
                    path,
                    ..
                } => {
                    if let Some(out) = self.outs.get(core) {
                        let _ = out.send(ToSession::Synced { conn, xid, path }).await;
                    }
                }
                SyncMarker::Learner(conn) => {
                    let role = self.role.borrow().clone();
                    if let Role::Leading(l) = role {
                        l.send_sync(conn);
                    }
                }
                // Relayed as soon as the leader's SYNC came (`Following::received`).
                SyncMarker::Observer(_) => {}
            }
        }
    }

    /// Applies a synced batch to the committed tree, once for the whole process, and
    /// publishes it with the version after it.
    fn apply_and_publish(&self, batch: Vec<Committed>) -> Vec<crate::zab::history::Txn> {
        let mut applied = Vec::with_capacity(batch.len());
        let mut windowed = Vec::new();
        {
            let mut tree = self.tree.borrow_mut();
            let mut window = self.window.borrow_mut();
            for c in batch {
                self.applied.set(c.hdr.zxid);
                let outcome = txn::apply(&mut tree, &c.hdr, &c.txn);
                // Over a fuzzy SNAP the tree is ahead of this txn: its digest is not
                // the leader's here, and a learner synced from us must not get it.
                let exact = !tree.is_fuzzy_at(c.hdr.zxid);
                if exact {
                    self.digests.check(c.hdr.zxid, &tree, self.stats.quorum());
                }
                if self.cfg.ensemble {
                    // With the digest after it, as ZooKeeper's committedLog has it.
                    let digest = (exact && tree.digest_enabled()).then(|| tree.digest());
                    let t = crate::zab::history::Txn {
                        zxid: c.hdr.zxid,
                        data: proposals::proposal_data(&c, digest),
                    };
                    windowed.push(t.clone());
                    window.push_back(t);
                }
                applied.push((c, outcome));
            }
            while window.len() > crate::zab::history::DEFAULT_COMMIT_LOG_COUNT {
                window.pop_front();
            }
        }
        let version = self.tree.borrow().version();
        let next = self
            .newest
            .borrow()
            .append(version, self.applied.get(), applied);
        *self.newest.borrow_mut() = next;
        self.drop_retired();
        windowed
    }

    /// Publishes the tree as it is now with no batch: a change made outside any txn
    /// (a reload from disk, `/zookeeper/config`). The session cores still need waking.
    fn publish_tree(&self) {
        let version = self.tree.borrow().version();
        let next = self
            .newest
            .borrow()
            .append(version, self.applied.get(), Vec::new());
        *self.newest.borrow_mut() = next;
    }

    /// Drops the entries the session cores have moved past: on this thread, which
    /// allocated what they alone hold.
    fn drop_retired(&self) {
        while let Ok(entry) = self.retired.try_recv() {
            drop(entry);
        }
    }

    /// Takes the sessions the session cores marked: they are alive now here, and a
    /// follower reports them in its next PING reply.
    fn gather_touches(&self) {
        let ids = self.touches.take();
        if ids.is_empty() {
            return;
        }
        let role = self.role.borrow().clone();
        if let Role::Following(f) = role {
            f.touched(self, &ids);
        }
        self.sessions.touch(ids, self.now_ms());
    }

    /// Session expiry and container reaping, on the tick.
    async fn timers(&self) {
        let tick = Duration::from_millis(u64::from(self.cfg.tick_time_ms.max(1)));
        let reap_every = Duration::from_millis(self.cfg.container_check_interval_ms.max(1));
        let mut last_reap = Instant::now();
        let mut last_purge = Instant::now();
        let purge_every = Duration::from_secs(self.cfg.purge_interval_hours.saturating_mul(3600));
        loop {
            glommio::timer::sleep(tick.min(Duration::from_millis(500))).await;
            // Idle, no batch drops them: what the cores retired since goes now.
            self.drop_retired();
            if self.stopping.get() {
                // Sessions outlive a stop (their clients reconnect to the restarted
                // server): none is expired, nothing reaped while connections close.
                continue;
            }
            if self.cfg.purge_interval_hours > 0 && last_purge.elapsed() >= purge_every {
                last_purge = Instant::now();
                snapshots::purge(&self.cfg);
            }
            // Before any expiry: a session with traffic since the last tick is alive.
            self.gather_touches();
            if !self.is_authority() {
                // Only the leader expires sessions and reaps nodes; the others follow
                // the txns it commits.
                continue;
            }
            let now = self.now_ms();
            let expired = self.sessions.expire_due(now);
            for id in expired {
                self.push(Work::Expire(id));
            }
            if last_reap.elapsed() >= reap_every {
                last_reap = Instant::now();
                let paths = self.tree.borrow().expired_containers_and_ttls(
                    wall_clock_ms(),
                    self.cfg.container_max_never_used_interval_ms,
                );
                let per_pass = (self.cfg.container_max_per_minute as u64
                    * self.cfg.container_check_interval_ms
                    / 60_000)
                    .max(1) as usize;
                for p in paths.into_iter().take(per_pass) {
                    self.push(Work::Reap(p));
                }
            }
        }
    }
}

/// The quorum core's channels: one pair per session core, and the entries the
/// session cores retire (`published::Retire`).
pub struct Channels {
    pub outs: Vec<SharedSender<ToSession>>,
    pub ins: Vec<SharedReceiver<ToQuorum>>,
    pub retired: std::sync::mpsc::Receiver<Arc<Published>>,
    /// Sessions with client traffic, marked by the session cores.
    pub touches: Arc<TouchBoard>,
}

/// Runs the quorum core until the process ends.
pub async fn run(
    cfg: Arc<Config>,
    durable: Durable,
    newest: Arc<Published>,
    Channels {
        outs,
        ins,
        retired,
        touches,
    }: Channels,
    stats: Arc<ServerStats>,
    stop: StopNotice,
    ensemble: Option<crate::config::QuorumConfig>,
) {
    let last_zxid = durable.last_zxid;
    // A channel end's connect waits for its peer; the receivers connect in their own
    // tasks so session cores can connect both their ends at once.
    let ins: Vec<_> = ins
        .into_iter()
        .map(|rx| glommio::spawn_local(rx.connect()))
        .collect();
    let mut connected_outs = Vec::with_capacity(outs.len());
    for o in outs {
        connected_outs.push(o.connect().await);
    }
    let mut connected_ins = Vec::with_capacity(ins.len());
    for t in ins {
        connected_ins.push(t.await);
    }
    let clock_base_ms = wall_clock_ms();
    let mut tracker = SessionTracker::new(
        cfg.server_id,
        clock_base_ms.max(0) as u64,
        u64::from(cfg.tick_time_ms.max(1)),
    );
    for (id, timeout) in &durable.sessions {
        if let Err(e) =
            tracker.add_existing(*id, (*timeout).max(0) as u32, clock_base_ms.max(0) as u64)
        {
            tracing::warn!("session 0x{id:x} not restored: {e}");
        }
    }
    let q = Rc::new(Quorum {
        sessions: Sessions::new(tracker, stats.clone()),
        log: LogWriter::new(cfg.clone(), stats.clone(), durable.log),
        snapshots: Snapshots::new(cfg.clone(), stats.clone()),
        stopping: Cell::new(false),
        peer_tls: RefCell::new(None),
        role: RefCell::new(if ensemble.is_some() {
            Role::NotServing
        } else {
            Role::Standalone
        }),
        unapplied: RefCell::new(VecDeque::new()),
        waiting_syncs: RefCell::new(VecDeque::new()),
        window: RefCell::new(VecDeque::new()),
        digests: Default::default(),
        batch_in_flight: Cell::new(false),
        unsynced_txns: Cell::new(0),
        syncing: Cell::new(false),
        sync_ready: Signal::default(),
        sync_done: Signal::default(),
        durable: RefCell::new(None),
        durable_ready: Signal::default(),
        cfg,
        tree: RefCell::new(durable.tree),
        newest: RefCell::new(newest),
        retired,
        touches,
        outstanding: RefCell::new(Outstanding::new()),
        applied: Cell::new(last_zxid),
        last_zxid: Cell::new(last_zxid),
        inbox: RefCell::new(VecDeque::new()),
        refused: RefCell::new(Vec::new()),
        expiring: RefCell::new(Vec::new()),
        inbox_ready: Signal::default(),
        outs: connected_outs,
        clock_base_ms,
        clock_base: Instant::now(),
        stats,
    });
    for rx in connected_ins {
        let q = q.clone();
        glommio::spawn_local(async move {
            while let Some(msg) = rx.recv().await {
                q.on_message(msg).await;
            }
        })
        .detach();
    }
    // The first spare was made before the server said it serves (`server::run`); this
    // closes nothing yet, and makes a spare only if that one is gone.
    q.log.start_background_jobs();
    let t = q.clone();
    glommio::spawn_local(async move { t.timers().await }).detach();
    let t = q.clone();
    glommio::spawn_local(async move {
        stop.wait().await;
        t.stopping.set(true);
    })
    .detach();
    if let Some(qcfg) = ensemble {
        let t = q.clone();
        glommio::spawn_local(async move { peer::run(t, qcfg).await }).detach();
    }
    let t = q.clone();
    glommio::spawn_local(async move { t.syncer().await }).detach();
    let t = q.clone();
    glommio::spawn_local(async move { t.reporter().await }).detach();
    q.pipeline().await;
}

/// Runs blocking work (file I/O) on this executor's blocking pool.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    glommio::executor().spawn_blocking(f).await
}

/// Stops the process: used where continuing could acknowledge a write that is not
/// durable (a failed fsync or append). Recovery on restart takes it from the log.
fn fatal(msg: &str) -> ! {
    tracing::error!("fatal: {msg}; stopping");
    eprintln!("ringkeeper: fatal: {msg}");
    std::process::exit(70)
}
