//! The quorum core: the single writer. It validates write requests against the
//! committed tree seen through the changes of txns prepared but not yet applied
//! (ZooKeeper's "outstanding changes"), turns them into txns with zxids, appends them
//! as one batch, syncs the batch, then commits it: the batch is fanned out to every
//! session core, which applies it and answers its clients.
//!
//! The quorum core is the tree's one writer: after a batch's sync it applies the batch
//! to its tree, once for the whole process, and publishes the batch with the new
//! version (`published.rs`); the session cores take it from there. With `quorumCore`
//! shared the task runs on session core 0's executor, with the same tree of its own.
//!
//! It is also the authority on sessions: it creates them, revalidates reconnects,
//! tracks their expiry from the touches the session cores send, and closes expired
//! ones with a closeSession txn. Standalone is a quorum of one: the same pipeline.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};

use super::messages::{Committed, ConnId, CoreIdx, Origin, ToQuorum, ToSession};
use super::published::Published;
use super::session_core::wall_clock_ms;
use super::shutdown::StopNotice;
use super::signal::Signal;
use super::stats::{ServerStats, Stage};
use crate::config::{Config, SyncInline};
use crate::proto::{ErrorCode, Id, OpCode, Request};
use crate::session::{self, SessionTracker};
use crate::storage::{self, SyncTarget, TxnLog};
use crate::tree::DataTree;
use crate::txn::{self, CreateSessionTxn, Outstanding, PrepContext, Txn, TxnHeader, WriteRequest};
use std::sync::atomic::Ordering::Relaxed;

/// What recovery hands the quorum core: the tree, the zxid of its last txn, the log to
/// append to and the sessions that were live when the server stopped (they expire
/// normally unless clients return).
pub struct Durable {
    pub tree: DataTree,
    pub last_zxid: i64,
    pub log: TxnLog,
    pub sessions: Vec<(i64, i32)>,
}

/// Work waiting for the pipeline, in arrival order.
enum Work {
    Write {
        origin: Origin,
        request: Request,
        auth: Arc<[Id]>,
    },
    Sync {
        origin: Origin,
        path: String,
    },
    CreateSession {
        core: CoreIdx,
        conn: ConnId,
        timeout_ms: i32,
    },
    /// The server's own closeSession for an expired session.
    Expire(i64),
    /// The server's own delete of an empty container or expired TTL node.
    Reap(String),
}

struct Quorum {
    cfg: Arc<Config>,
    /// The committed tree: every synced batch applied, and nothing else.
    tree: RefCell<DataTree>,
    /// The newest published entry, which the next batch is linked after.
    newest: RefCell<Arc<Published>>,
    /// Entries the session cores moved past, dropped here (see `published::Retire`).
    retired: std::sync::mpsc::Receiver<Arc<Published>>,
    /// Changes of txns prepared but not yet applied to the committed tree.
    outstanding: RefCell<Outstanding>,
    /// zxid of the last txn applied to the committed tree.
    applied: Cell<i64>,
    sessions: RefCell<SessionTracker>,
    /// Where each live session is attached (core, connection).
    owners: RefCell<HashMap<i64, (CoreIdx, ConnId)>>,
    last_zxid: Cell<i64>,
    /// Work with the time it arrived (for the queue-stage histogram).
    inbox: RefCell<VecDeque<(Instant, Work)>>,
    /// Handshakes refused while preparing a batch (session table full), answered
    /// after the batch.
    refused: RefCell<Vec<(CoreIdx, ConnId)>>,
    inbox_ready: Signal,
    outs: Vec<ConnectedSender<ToSession>>,
    /// Monotonic clock anchored at the wall clock, for session expiry.
    clock_base_ms: i64,
    clock_base: Instant,
    stats: Arc<ServerStats>,
    log: RefCell<TxnLog>,
    /// `bytes_appended` at the last sync, to report bytes per sync.
    synced_bytes: Cell<u64>,
    /// Txns committed since the last snapshot, and the (randomised) count that
    /// triggers the next one.
    since_snapshot: Cell<u64>,
    snapshot_at: Cell<u64>,
    snapshot_running: Rc<Cell<bool>>,
    /// Core 0's answered reads when the previous batch was synced.
    reads_at_last_sync: Cell<u64>,
    /// The server is stopping (see `shutdown`).
    stopping: Cell<bool>,
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
    async fn on_message(&self, msg: ToQuorum) {
        match msg {
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
                origin,
                request,
                auth,
            } => self.push(Work::Write {
                origin,
                request,
                auth,
            }),
            ToQuorum::Sync { origin, path } => self.push(Work::Sync { origin, path }),
            ToQuorum::CreateSession {
                core,
                conn,
                timeout_ms,
            } => self.push(Work::CreateSession {
                core,
                conn,
                timeout_ms,
            }),
            ToQuorum::Touch(ids) => {
                let now = self.now_ms();
                let mut s = self.sessions.borrow_mut();
                for id in ids {
                    s.touch(id, now);
                }
            }
            ToQuorum::Revalidate { core, conn, req } => {
                let id = req.session_id;
                let now = self.now_ms();
                let alive = session::check_password(id, &req.passwd)
                    && self.sessions.borrow_mut().touch(id, now);
                let moved_from = if alive {
                    self.owners.borrow_mut().insert(id, (core, conn))
                } else {
                    None
                };
                if let Some((old_core, old_conn)) = moved_from.filter(|o| *o != (core, conn)) {
                    if old_core != core {
                        let _ = self.outs[old_core]
                            .send(ToSession::CloseConnection {
                                conn: old_conn,
                                session: id,
                            })
                            .await;
                    }
                }
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
            } => {
                let mut owners = self.owners.borrow_mut();
                if owners.get(&session) == Some(&(core, conn)) {
                    owners.remove(&session);
                }
            }
        }
    }

    fn next_header(&self, client_id: i64, cxid: i32, op: OpCode) -> TxnHeader {
        let zxid = self.last_zxid.get() + 1;
        self.last_zxid.set(zxid);
        TxnHeader {
            client_id,
            cxid,
            zxid,
            time_ms: wall_clock_ms(),
            op: op as i32,
        }
    }

    /// Turns one unit of work into a committed entry, applying it to the quorum
    /// core's own tree so the next request is validated against it.
    fn prepare(&self, w: Work) -> Option<Committed> {
        match w {
            Work::Write {
                origin,
                request,
                auth,
            } => {
                let op = request.op_code();
                let mut hdr = self.next_header(origin.session, origin.xid, op);
                let txn = self.prep_checked(origin.session, &auth, &request, hdr.zxid);
                // The header names the txn actually logged (error, multi, ...), as
                // ZooKeeper's does.
                hdr.op = txn.op_code() as i32;
                self.commit_sessions(&hdr, &txn);
                Some(Committed::Txn {
                    origin: Some(origin),
                    hdr,
                    txn,
                })
            }
            Work::Sync { origin, path } => Some(Committed::Sync { origin, path }),
            Work::CreateSession {
                core,
                conn,
                timeout_ms,
            } => {
                let now = self.now_ms();
                let id = match self
                    .sessions
                    .borrow_mut()
                    .create(timeout_ms.max(0) as u32, now)
                {
                    Ok(id) => id,
                    Err(e) => {
                        tracing::warn!("refusing a new session: {e}");
                        self.refused.borrow_mut().push((core, conn));
                        return None;
                    }
                };
                self.owners.borrow_mut().insert(id, (core, conn));
                self.publish_session_count();
                let hdr = self.next_header(id, 0, OpCode::CreateSession);
                let txn = Txn::CreateSession(CreateSessionTxn {
                    time_out: timeout_ms,
                });
                Some(Committed::SessionCreated {
                    core,
                    conn,
                    hdr,
                    txn,
                    timeout_ms,
                    passwd: session::password(id),
                })
            }
            Work::Expire(id) => {
                if !self.sessions.borrow().contains(id) {
                    return None;
                }
                tracing::info!("expiring session 0x{id:x}");
                self.stats.quorum().session_expired();
                let mut hdr = self.next_header(id, 0, OpCode::CloseSession);
                self.sessions.borrow_mut().set_closing(id);
                let ctx = PrepContext {
                    session_id: id,
                    auth_ids: &[],
                    extended_types_enabled: self.cfg.extended_types_enabled,
                };
                let txn = self.prep(&ctx, hdr.zxid, &WriteRequest::CloseSession);
                hdr.op = txn.op_code() as i32;
                self.commit_sessions(&hdr, &txn);
                Some(Committed::Txn {
                    origin: None,
                    hdr,
                    txn,
                })
            }
            Work::Reap(path) => {
                let ctx = PrepContext {
                    session_id: 0,
                    auth_ids: &[],
                    extended_types_enabled: self.cfg.extended_types_enabled,
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
                Some(Committed::Txn {
                    origin: None,
                    hdr,
                    txn,
                })
            }
        }
    }

    /// `prep` behind the session check ZooKeeper's PrepRequestProcessor does first.
    fn prep_checked(&self, session: i64, auth: &[Id], request: &Request, zxid: i64) -> Txn {
        let live = {
            let s = self.sessions.borrow();
            s.contains(session) && s.is_closing(session) == Some(false)
        };
        if !live {
            return Txn::error(ErrorCode::SessionExpired);
        }
        let Some(req) = WriteRequest::from_request(request.clone()) else {
            return Txn::error(ErrorCode::Unimplemented);
        };
        if let Request::CloseSession = request {
            self.sessions.borrow_mut().set_closing(session);
        }
        let ctx = PrepContext {
            session_id: session,
            auth_ids: auth,
            extended_types_enabled: self.cfg.extended_types_enabled,
        };
        self.prep(&ctx, zxid, &req)
    }

    /// Prepares `req` as the txn `zxid` against the committed tree and the
    /// outstanding changes, which then include its own.
    fn prep(&self, ctx: &PrepContext<'_>, zxid: i64, req: &WriteRequest) -> Txn {
        let tree = self.tree.borrow();
        txn::prep_with(&tree, &mut self.outstanding.borrow_mut(), ctx, zxid, req)
    }

    /// Hands the log's file work nothing waits for (the next spare, closing left
    /// segments) to the blocking pool.
    fn start_background_jobs(&self) {
        for job in self.log.borrow_mut().background_jobs() {
            glommio::spawn_local(blocking(move || job.run())).detach();
        }
    }

    /// Stores the session count for `mntr`'s `zk_global_sessions` (any core answers it).
    fn publish_session_count(&self) {
        let n = self.sessions.borrow().len() as u64;
        self.stats.quorum().sessions.store(n, Relaxed);
    }

    /// A prepared txn's effect on the session table (the tree gets it once committed).
    fn commit_sessions(&self, hdr: &TxnHeader, txn: &Txn) {
        if let Txn::CloseSession(_) = txn {
            self.sessions.borrow_mut().remove(hdr.client_id);
            self.owners.borrow_mut().remove(&hdr.client_id);
            self.publish_session_count();
        }
    }

    /// Appends the batch's txns to the log (memcpy into the mapped segment).
    fn append(&self, committed: &[Committed]) {
        let mut log = self.log.borrow_mut();
        for c in committed {
            let (hdr, txn) = match c {
                Committed::Txn { hdr, txn, .. } | Committed::SessionCreated { hdr, txn, .. } => {
                    (hdr, txn)
                }
                Committed::Sync { .. } => continue,
            };
            if let Err(e) = log.append(hdr, txn) {
                fatal(&format!("cannot append to the txn log: {e}"));
            }
        }
    }

    /// One group commit: every segment written since the last sync is made durable
    /// with fdatasync through io_uring (the directory with fsync after a new
    /// segment). A failed sync is fatal: the page cache state is unknown, so the
    /// server stops rather than retry or acknowledge.
    ///
    /// First the log's file jobs (naming a spare segment taken into use, or creating
    /// one if no spare was ready), awaited on the log's own thread (glommio's blocking
    /// pool may be busy writing a snapshot): the directory fsync must follow them.
    /// The next spare and the closing of synced, left segments go to the blocking
    /// pool, not waited for.
    async fn sync(&self, txns: u64) {
        loop {
            let Some(job) = self.log.borrow_mut().next_job() else {
                break;
            };
            let running = self.log.borrow_mut().start_job(job);
            let done = running.await;
            if let Err(e) = done.and_then(|d| self.log.borrow_mut().finish_job(d)) {
                self.log_fatal(format!("txn log: {e}"), e.is_no_space());
            }
        }
        self.start_background_jobs();
        let targets: Vec<SyncTarget> = self.log.borrow().pending_sync();
        if targets.is_empty() {
            return;
        }
        let bytes_before = self.log.borrow().bytes_appended();
        let started = Instant::now();
        if self.cfg.force_sync {
            let inline = match self.cfg.sync_inline() {
                SyncInline::Always => true,
                SyncInline::Never => false,
                SyncInline::WhenNoReads => {
                    // Core 0's read-stage samples: one per read it answered (an
                    // `srst` in between only makes one batch go through io_uring).
                    let reads = self.stats.core(0).stages[Stage::Read as usize].count();
                    reads == self.reads_at_last_sync.replace(reads)
                }
            };
            for t in &targets {
                let res = if inline && !t.full_fsync {
                    fdatasync_here(t)
                } else {
                    sync_target(t).await
                };
                if let Err(e) = res {
                    let no_space = storage::is_no_space_io(&e);
                    self.log_fatal(
                        format!("fsync of {} failed: {e}", t.path.display()),
                        no_space,
                    );
                }
            }
        }
        self.log.borrow_mut().mark_synced(&targets);
        // The batch is acknowledged after this returns: a record not covered (its
        // segment not yet named) must stop the server, not be acknowledged.
        let (synced, last) = {
            let log = self.log.borrow();
            (log.synced_zxid(), log.last_zxid())
        };
        if synced != last {
            fatal(&format!(
                "txn log synced to 0x{synced:x}, appended to 0x{last:x}"
            ));
        }
        if self.cfg.force_sync {
            let took = started.elapsed();
            self.stats
                .quorum()
                .stage(Stage::Fsync, took.as_micros() as u64);
            if took > Duration::from_millis(self.cfg.fsync_warning_threshold_ms) {
                self.stats.quorum().fsync_slow();
                tracing::warn!(
                    "syncing the txn log took {} ms (fsync.warningthresholdms={}): every \
                     write of the batch waited for it; see tuning/README.md on the log device",
                    took.as_millis(),
                    self.cfg.fsync_warning_threshold_ms
                );
            }
        }
        let bytes = bytes_before.saturating_sub(self.synced_bytes.replace(bytes_before));
        self.stats
            .quorum()
            .fsync_done(started.elapsed().as_micros() as u64, txns, bytes);
    }

    /// Stops the server after a txn log failure, saying what to do. Nothing in the
    /// failed batch was acknowledged; everything acknowledged before it was synced.
    fn log_fatal(&self, what: String, no_space: bool) -> ! {
        let advice = if no_space {
            format!(
                "the file system of {} is full: free space there (a new log segment needs \
                 {} KiB, preAllocSize), then restart; every acknowledged write is in the log",
                self.cfg.data_log_dir.display(),
                self.cfg.prealloc_bytes >> 10
            )
        } else {
            "every acknowledged write is in the log; fix the cause, then restart".to_owned()
        };
        fatal(&format!("{what}; {advice}"))
    }

    /// Starts a snapshot when enough txns were committed since the last one: a walk
    /// of the version just committed, on the blocking pool, so the snapshot is exact
    /// (it holds every txn up to its zxid and none after) and the pipeline never
    /// waits for it.
    fn maybe_snapshot(self: &Rc<Self>, txns: u64) {
        self.since_snapshot.set(self.since_snapshot.get() + txns);
        if self.since_snapshot.get() < self.snapshot_at.get() || self.snapshot_running.get() {
            return;
        }
        self.since_snapshot.set(0);
        self.snapshot_at.set(snapshot_interval(self.cfg.snap_count));
        self.log.borrow_mut().roll();
        let sessions: Vec<(i64, i32)> = self
            .sessions
            .borrow()
            .sessions()
            .into_iter()
            .map(|s| (s.id, s.timeout_ms as i32))
            .collect();
        // The pipeline is between batches: every prepared txn is applied.
        let zxid = self.applied.get();
        let version = self.tree.borrow().version();
        self.snapshot_running.set(true);
        let q = self.clone();
        glommio::spawn_local(async move {
            let started = Instant::now();
            let dir = q.cfg.data_dir.clone();
            let (version, sessions, written) = blocking(move || {
                let written = storage::write_snapshot(&dir, &version, &sessions, zxid);
                (version, sessions, written)
            })
            .await;
            match written {
                Ok(path) => {
                    q.stats
                        .quorum()
                        .snapshots
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(
                        "snapshot 0x{zxid:x} ({} nodes) written to {} in {} ms",
                        version.node_count().saturating_sub(1),
                        path.display(),
                        started.elapsed().as_millis()
                    );
                }
                // The log still holds everything; a failed snapshot only costs
                // recovery time, so it is logged, not fatal (its partial file is
                // removed: see `SnapshotFile`).
                Err(e) => tracing::error!(
                    "snapshot 0x{zxid:x} failed: {e}; the txn log holds every txn, and \
                     the next snapshot is tried after snapCount more; {}",
                    storage::snapshot::failure_advice(
                        &q.cfg.data_dir,
                        &e,
                        &version,
                        sessions.len()
                    )
                ),
            }
            q.snapshot_running.set(false);
        })
        .detach();
    }

    /// The pipeline: take a batch, prepare it, append, sync, commit (fan out).
    async fn pipeline(self: &Rc<Self>) {
        loop {
            while self.inbox.borrow().is_empty() {
                self.inbox_ready.wait().await;
            }
            // A batch takes what is queued, up to the txn and byte bounds; whatever
            // arrives while it syncs forms the next batch (group commit).
            let max_txns = self.cfg.commit_batch_max_txns;
            let max_bytes = self.cfg.commit_batch_max_bytes;
            let start_bytes = self.log.borrow().bytes_appended();
            // What the committed tree has applied needs no overlay any more.
            self.outstanding
                .borrow_mut()
                .commit_up_to(self.applied.get());
            let mut committed: Vec<Committed> = Vec::new();
            let mut append_us = 0u64;
            loop {
                if committed.len() >= max_txns
                    || self.log.borrow().bytes_appended() - start_bytes >= max_bytes
                {
                    break;
                }
                let next = self.inbox.borrow_mut().pop_front();
                let Some((arrived, w)) = next else { break };
                let qs = self.stats.quorum();
                let t0 = Instant::now();
                qs.stage(Stage::Queue, t0.duration_since(arrived).as_micros() as u64);
                let prepared = self.prepare(w);
                let t1 = Instant::now();
                qs.stage(Stage::Prep, t1.duration_since(t0).as_micros() as u64);
                if let Some(c) = prepared {
                    self.append(std::slice::from_ref(&c));
                    append_us += t1.elapsed().as_micros() as u64;
                    committed.push(c);
                }
            }
            let refused: Vec<(CoreIdx, ConnId)> = self.refused.borrow_mut().drain(..).collect();
            for (core, conn) in refused {
                let _ = self.outs[core]
                    .send(ToSession::Revalidated {
                        conn,
                        session: 0,
                        timeout_ms: None,
                        passwd: [0; 16],
                    })
                    .await;
            }
            if committed.is_empty() {
                continue;
            }
            let txns = committed
                .iter()
                .filter(|c| !matches!(c, Committed::Sync { .. }))
                .count() as u64;
            self.stats.quorum().stage(Stage::Append, append_us);
            self.sync(txns).await;
            self.stats.quorum().batch_committed(committed.len());
            let applying = Instant::now();
            self.apply_and_publish(committed);
            let fanout = Instant::now();
            self.stats.quorum().stage(
                Stage::Apply,
                fanout.duration_since(applying).as_micros() as u64,
            );
            for out in &self.outs {
                if out.send(ToSession::Published).await.is_err() {
                    tracing::error!("a session core went away; stopping the pipeline");
                    return;
                }
            }
            self.stats
                .quorum()
                .stage(Stage::Commit, fanout.elapsed().as_micros() as u64);
            self.maybe_snapshot(txns);
        }
    }

    /// Applies a synced batch to the committed tree, once for the whole process, and
    /// publishes it with the version after it.
    fn apply_and_publish(&self, batch: Vec<Committed>) {
        let mut applied = Vec::with_capacity(batch.len());
        {
            let mut tree = self.tree.borrow_mut();
            for c in batch {
                let outcome = match &c {
                    Committed::Txn { hdr, txn, .. }
                    | Committed::SessionCreated { hdr, txn, .. } => {
                        self.applied.set(hdr.zxid);
                        Some(txn::apply(&mut tree, hdr, txn))
                    }
                    Committed::Sync { .. } => None,
                };
                applied.push((c, outcome));
            }
        }
        let version = self.tree.borrow().version();
        let next = self
            .newest
            .borrow()
            .append(version, self.applied.get(), applied);
        *self.newest.borrow_mut() = next;
        self.drop_retired();
    }

    /// Drops the entries the session cores have moved past: on this thread, which
    /// allocated what they alone hold.
    fn drop_retired(&self) {
        while let Ok(entry) = self.retired.try_recv() {
            drop(entry);
        }
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
            let now = self.now_ms();
            let expired = self.sessions.borrow_mut().expire_due(now);
            for id in expired {
                self.push(Work::Expire(id));
            }
            if self.cfg.purge_interval_hours > 0 && last_purge.elapsed() >= purge_every {
                last_purge = Instant::now();
                let (data, logs, keep) = (
                    self.cfg.data_dir.clone(),
                    self.cfg.data_log_dir.clone(),
                    self.cfg.snap_retain_count,
                );
                glommio::spawn_local(async move {
                    let res = blocking(move || storage::purge(&data, &logs, keep)).await;
                    match res {
                        Ok(p) => tracing::info!("purge: {p:?}"),
                        Err(e) => tracing::error!("purge failed: {e}"),
                    }
                })
                .detach();
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
}

/// Runs the quorum core until the process ends.
pub async fn run(
    cfg: Arc<Config>,
    durable: Durable,
    newest: Arc<Published>,
    Channels { outs, ins, retired }: Channels,
    stats: Arc<ServerStats>,
    stop: StopNotice,
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
        sessions: RefCell::new(tracker),
        log: RefCell::new(durable.log),
        synced_bytes: Cell::new(0),
        since_snapshot: Cell::new(0),
        snapshot_at: Cell::new(snapshot_interval(cfg.snap_count)),
        snapshot_running: Rc::new(Cell::new(false)),
        reads_at_last_sync: Cell::new(0),
        stopping: Cell::new(false),
        cfg,
        tree: RefCell::new(durable.tree),
        newest: RefCell::new(newest),
        retired,
        outstanding: RefCell::new(Outstanding::new()),
        applied: Cell::new(last_zxid),
        owners: RefCell::new(HashMap::new()),
        last_zxid: Cell::new(last_zxid),
        inbox: RefCell::new(VecDeque::new()),
        refused: RefCell::new(Vec::new()),
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
    q.publish_session_count();
    // The first spare was made before the server said it serves (`server::run`); this
    // closes nothing yet, and makes a spare only if that one is gone.
    q.start_background_jobs();
    let t = q.clone();
    glommio::spawn_local(async move { t.timers().await }).detach();
    let t = q.clone();
    glommio::spawn_local(async move {
        stop.wait().await;
        t.stopping.set(true);
    })
    .detach();
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

/// ZooKeeper draws each snapshot interval from [snapCount/2 + 1, snapCount].
fn snapshot_interval(snap_count: u64) -> u64 {
    use rand::Rng;
    let lo = snap_count / 2 + 1;
    rand::thread_rng().gen_range(lo..=snap_count.max(lo))
}

/// Makes one segment durable with an fdatasync on this thread, which blocks the
/// executor for the flush: no io_uring worker to wake, no completion to wait for.
/// Used where nothing else waits on this executor (`syncInline`).
fn fdatasync_here(t: &SyncTarget) -> std::io::Result<()> {
    // SAFETY: fdatasync reads no memory; `t.fd` is a segment fd the log keeps open
    // until the sync is marked done.
    if unsafe { libc::fdatasync(t.fd) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes one sync target durable through io_uring. The log keeps its fds; the sync
/// goes through a duplicate so glommio can own (and close) it.
async fn sync_target(t: &SyncTarget) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    if t.full_fsync {
        let dir = glommio::io::Directory::open(&t.path).await?;
        dir.sync().await?;
        dir.close().await?;
        return Ok(());
    }
    // SAFETY: `dup` returns a new fd (checked below) that nothing else owns; the
    // BufferedFile takes ownership and closes it.
    let fd = unsafe { libc::dup(t.fd) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let f = unsafe { glommio::io::BufferedFile::from_raw_fd(fd) };
    let res = f.fdatasync().await;
    // Closing the duplicate has nothing to do with durability: it is not waited for,
    // so it costs the batch no extra ring round trip before the acknowledgment.
    glommio::spawn_local(async move {
        let _ = f.close().await;
    })
    .detach();
    res.map_err(Into::into)
}
