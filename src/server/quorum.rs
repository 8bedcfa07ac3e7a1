//! The quorum core: the single writer. It validates write requests against its own
//! copy of the tree (which already includes every earlier txn, so it doubles as
//! ZooKeeper's "outstanding changes"), turns them into txns with zxids, appends them
//! as one batch, syncs the batch, then commits it: the batch is fanned out to every
//! session core, which applies it and answers its clients.
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
use super::session_core::wall_clock_ms;
use super::signal::Signal;
use super::stats::ServerStats;
use crate::config::Config;
use crate::proto::{ErrorCode, Id, OpCode, Request};
use crate::session::{self, SessionTracker};
use crate::tree::DataTree;
use crate::txn::{self, CreateSessionTxn, PrepContext, Txn, TxnHeader, WriteRequest};

/// Upper bound on requests taken into one batch (one log append, one sync).
pub const BATCH_TXNS_MAX: usize = 4096;

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
    tree: RefCell<DataTree>,
    sessions: RefCell<SessionTracker>,
    /// Where each live session is attached (core, connection).
    owners: RefCell<HashMap<i64, (CoreIdx, ConnId)>>,
    last_zxid: Cell<i64>,
    inbox: RefCell<VecDeque<Work>>,
    /// Handshakes refused while preparing a batch (session table full), answered
    /// after the batch.
    refused: RefCell<Vec<(CoreIdx, ConnId)>>,
    inbox_ready: Signal,
    outs: Vec<ConnectedSender<ToSession>>,
    /// Monotonic clock anchored at the wall clock, for session expiry.
    clock_base_ms: i64,
    clock_base: Instant,
    stats: Arc<ServerStats>,
}

impl Quorum {
    fn now_ms(&self) -> u64 {
        (self.clock_base_ms + self.clock_base.elapsed().as_millis() as i64).max(0) as u64
    }

    fn push(&self, w: Work) {
        self.inbox.borrow_mut().push_back(w);
        self.inbox_ready.raise();
    }

    /// Messages from one session core.
    async fn on_message(&self, msg: ToQuorum) {
        match msg {
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
                let hdr = self.next_header(origin.session, origin.xid, op);
                let txn = self.prep_checked(origin.session, &auth, &request);
                self.commit_local(&hdr, &txn);
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
                let hdr = self.next_header(id, 0, OpCode::CreateSession);
                let txn = Txn::CreateSession(CreateSessionTxn {
                    time_out: timeout_ms,
                });
                self.commit_local(&hdr, &txn);
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
                let hdr = self.next_header(id, 0, OpCode::CloseSession);
                self.sessions.borrow_mut().set_closing(id);
                let ctx = PrepContext {
                    session_id: id,
                    auth_ids: &[],
                    extended_types_enabled: self.cfg.extended_types_enabled,
                };
                let txn = txn::prep(&self.tree.borrow(), &ctx, &WriteRequest::CloseSession);
                self.commit_local(&hdr, &txn);
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
                let txn = txn::prep(&self.tree.borrow(), &ctx, &req);
                // The node changed since it was picked (a child came back): skip it,
                // as ZooKeeper's ContainerManager ignores such failures.
                if let Txn::Error(_) = txn {
                    return None;
                }
                let hdr = self.next_header(0, 0, OpCode::DeleteContainer);
                self.commit_local(&hdr, &txn);
                Some(Committed::Txn {
                    origin: None,
                    hdr,
                    txn,
                })
            }
        }
    }

    /// `prep` behind the session check ZooKeeper's PrepRequestProcessor does first.
    fn prep_checked(&self, session: i64, auth: &[Id], request: &Request) -> Txn {
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
        txn::prep(&self.tree.borrow(), &ctx, &req)
    }

    /// Applies a txn to the quorum core's tree and session table.
    fn commit_local(&self, hdr: &TxnHeader, txn: &Txn) {
        let _ = txn::apply(&mut self.tree.borrow_mut(), hdr, txn);
        if let Txn::CloseSession(_) = txn {
            self.sessions.borrow_mut().remove(hdr.client_id);
            self.owners.borrow_mut().remove(&hdr.client_id);
        }
    }

    /// The pipeline: take a batch, prepare it, append, sync, commit (fan out).
    async fn pipeline(&self) {
        loop {
            while self.inbox.borrow().is_empty() {
                self.inbox_ready.wait().await;
            }
            let work: Vec<Work> = {
                let mut inbox = self.inbox.borrow_mut();
                let n = inbox.len().min(BATCH_TXNS_MAX);
                inbox.drain(..n).collect()
            };
            let committed: Vec<Committed> =
                work.into_iter().filter_map(|w| self.prepare(w)).collect();
            if committed.is_empty() {
                continue;
            }
            // append → sync: durability slots in here (the txn log); in this build the
            // log is memory only, so the batch is durable once prepared.
            self.stats.quorum().batch_committed(committed.len());
            let batch = Arc::new(committed);
            for out in &self.outs {
                if out.send(ToSession::Committed(batch.clone())).await.is_err() {
                    tracing::error!("a session core went away; stopping the pipeline");
                    return;
                }
            }
        }
    }

    /// Session expiry and container reaping, on the tick.
    async fn timers(&self) {
        let tick = Duration::from_millis(u64::from(self.cfg.tick_time_ms.max(1)));
        let reap_every = Duration::from_millis(self.cfg.container_check_interval_ms.max(1));
        let mut last_reap = Instant::now();
        loop {
            glommio::timer::sleep(tick.min(Duration::from_millis(500))).await;
            let now = self.now_ms();
            let expired = self.sessions.borrow_mut().expire_due(now);
            for id in expired {
                self.push(Work::Expire(id));
            }
            if last_reap.elapsed() >= reap_every {
                last_reap = Instant::now();
                let paths = self
                    .tree
                    .borrow()
                    .expired_containers_and_ttls(wall_clock_ms(), 0);
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

/// Runs the quorum core until the process ends.
pub async fn run(
    cfg: Arc<Config>,
    tree: DataTree,
    last_zxid: i64,
    outs: Vec<SharedSender<ToSession>>,
    ins: Vec<SharedReceiver<ToQuorum>>,
    stats: Arc<ServerStats>,
) {
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
    let q = Rc::new(Quorum {
        sessions: RefCell::new(SessionTracker::new(
            cfg.server_id,
            clock_base_ms.max(0) as u64,
            u64::from(cfg.tick_time_ms.max(1)),
        )),
        cfg,
        tree: RefCell::new(tree),
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
    let t = q.clone();
    glommio::spawn_local(async move { t.timers().await }).detach();
    q.pipeline().await;
}
