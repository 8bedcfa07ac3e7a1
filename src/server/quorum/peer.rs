//! This server's part in its ensemble: the ZAB driver. It runs the election
//! (`server::election`), then leads or follows with the pure machines (`zab::leader`,
//! `zab::learner`) on the quorum port's sockets (`wire_io`), and carries out their
//! actions on the quorum task's state: the log (`LogWriter`, truncation, a snapshot
//! loaded from the leader), the epoch files, the tree and the pipeline's role.
//!
//! What happens to client work in each role is the pipeline's (`mod.rs`, `Role`); the
//! sessions part of the quorum protocol is here: forwarded requests (REQUEST), session
//! touches in PING replies, REVALIDATE, and SYNC answers.
//!
//! Between roles (`end_role`) nobody is served: the session cores close their client
//! connections (sessions live on; clients reconnect elsewhere), queued work is dropped,
//! and txns that are in the log but were never applied are applied, as ZooKeeper
//! reloads its database from its log when it leaves a role.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::ops::ControlFlow;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use glommio::net::TcpStream;

use super::observer_master::Mastering;
use super::proposals::{decode_proposal, proposal_data, read_log_for_sync};
use super::snapshots;
use super::ticker::spawn_ticker;
use super::wire_io::{self, PacketSink};
use super::{fatal, Origin, Quorum, Role, SyncMarker, Via, Work};
use crate::config::QuorumConfig;
use crate::ops::histogram::AtomicHistogram;
use crate::proto::codec::Encode;
use crate::proto::{ConnectRequest, ErrorCode, Id, OpCode, Request, SyncRequest};
use crate::server::acceptor::Acceptor;
use crate::server::election::Election;
use crate::server::failpoints as fp;
use crate::server::messages::{Committed, ConnId, CoreIdx, ToSession};
use crate::server::peer_tls::{PeerStream, PeerTls};
use crate::server::session_core::wall_clock_ms;
use crate::server::signal::Signal;
use crate::server::stats::{ServerMode, Stage, ZabMetrics};
use crate::session;
use crate::storage::{self, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
use crate::txn::Outstanding;
use crate::zab::fle::Decision;
use crate::zab::history::{self, ZabConfig};
use crate::zab::leader::{self, Leader};
use crate::zab::learner::{self, Learner};
use crate::zab::observer_master;
use crate::zab::wire::payload::{
    Bare, ForwardedRequest, LearnerKind, Ping, Revalidate, RevalidateReply, SessionTouch,
};
use crate::zab::wire::quorum_packet::{PacketType, QuorumPacket};
use crate::zab::Sid;

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}:{port} has no address"))
}

/// Runs this member's ensemble life: elect, lead or follow, and again, until the
/// process ends.
pub(super) async fn run(q: Rc<Quorum>, qcfg: QuorumConfig) {
    let zab = ZabConfig {
        tick_ms: qcfg.tick_time_ms,
        init_limit: qcfg.init_limit,
        sync_limit: qcfg.sync_limit,
        log_sync: q.cfg.snapshot_size_factor >= 0.0,
        ..ZabConfig::default()
    };
    // Tests only: a deliberate bug asked for through FAILPOINTS (tests/sync_bugs.rs).
    #[cfg(all(feature = "failpoints", feature = "zab-canary"))]
    let zab = ZabConfig {
        canary: fp::canary(),
        ..zab
    };
    let dir = q.cfg.data_dir.clone();
    let epochs = match storage::load_epochs(&dir, q.log.last_zxid()) {
        Ok(e) => e,
        Err(e) => fatal(&format!("cannot read the epoch files: {e}")),
    };
    tracing::info!(
        "ensemble member {}: acceptedEpoch {}, currentEpoch {}, last zxid 0x{:x}",
        qcfg.myid,
        epochs.accepted,
        epochs.current,
        q.log.last_zxid()
    );
    load_window(&q);
    set_config_node(&q, &qcfg).await;
    let tls = match PeerTls::new(&qcfg) {
        Ok(t) => t,
        Err(e) => fatal(&format!("sslQuorum: {e}")),
    };
    match &qcfg.tls {
        Some(t) if !t.accept_plaintext => {
            tracing::info!("sslQuorum: the election, quorum and observer master ports speak TLS")
        }
        Some(t) => tracing::info!(
            "portUnification: the election, quorum and observer master ports take TLS and \
             plaintext; connections to peers are opened {}",
            if t.dial_tls {
                "with TLS (sslQuorum)"
            } else {
                "in plaintext"
            }
        ),
        None => {}
    }
    *q.peer_tls.borrow_mut() = tls.clone();
    let election = match Election::start(&qcfg, tls, q.log.last_zxid(), epochs.current).await {
        Ok(e) => Rc::new(e),
        Err(e) => fatal(&format!("cannot start the election: {e}")),
    };
    let voters = election.quorum().voters().count() as u64;
    q.stats.zab.quorum_size.store(voters, Relaxed);
    let Some(me) = qcfg.me() else {
        fatal(&format!("myid {} is not in the server list", qcfg.myid))
    };
    let own = match resolve(&me.host, me.quorum_port) {
        Ok(a) => a,
        Err(e) => fatal(&format!("the quorum port: {e}")),
    };
    let listen = if qcfg.listen_on_all_ips {
        SocketAddr::new(
            if own.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            },
            own.port(),
        )
    } else {
        own
    };
    // Bound for the whole process (a learner that reaches it while this server does
    // not lead is closed at once), so a new leadership never waits for a port.
    let listener = match std::net::TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => fatal(&format!("cannot listen on the quorum port {listen}: {e}")),
    };
    let mut acceptor = match Acceptor::spawn_named("quorum port", "rk-accept-quorum", listener) {
        Ok(a) => a,
        Err(e) => fatal(&format!("cannot start the quorum port's acceptor: {e}")),
    };
    tracing::info!("listening on {listen} for the quorum port");
    let accepting = q.clone();
    let hold = Duration::from_millis(zab.init_limit_ms().max(1));
    glommio::spawn_local(async move {
        while let Some(stream) = acceptor.next().await {
            let q = accepting.clone();
            glommio::spawn_local(hand_to_leader(q, stream, hold)).detach();
        }
    })
    .detach();

    // Counts elections, so a read-only start meant for one is not taken by the next.
    let looking = Rc::new(Cell::new(0u64));
    // Syncs with a leader that failed in a row: a learner that cannot take what its
    // leader sends (a TRUNC it cannot do, say) must not reconnect at once forever,
    // flooding both logs; a Java learner exits there (13) and waits for a restart.
    let mut sync_failures = 0u32;
    loop {
        looking.set(looking.get() + 1);
        if q.cfg.read_only_mode {
            spawn_read_only_start(&q, &looking);
        }
        if sync_failures >= 2 {
            let pause = Duration::from_millis(50 << sync_failures.min(5));
            tracing::warn!(
                "{sync_failures} syncs with a leader failed in a row; pausing {pause:?}"
            );
            glommio::timer::sleep(pause).await;
        }
        let last = q.log.last_zxid();
        let current = match storage::epochs::read_epoch(&dir, CURRENT_EPOCH_FILE) {
            Ok(e) => e.unwrap_or(epochs.current),
            Err(e) => fatal(&format!("cannot read {CURRENT_EPOCH_FILE}: {e}")),
        };
        let looking_since = Instant::now();
        q.stats.zab.looking_count.fetch_add(1, Relaxed);
        let d = election.look(last, current).await;
        let took = looking_since.elapsed();
        q.stats.zab.election_time.record(took.as_micros() as u64);
        let took = took.as_millis();
        tracing::info!(
            "election: {} in {took} ms (leader {}, zxid 0x{:x}, epoch {})",
            match d.decision {
                Decision::Leading => "LEADING".to_owned(),
                Decision::Following { leader } => format!("FOLLOWING {leader}"),
                Decision::Observing { leader } => format!("OBSERVING {leader}"),
            },
            d.vote.id,
            d.vote.zxid,
            d.vote.peer_epoch
        );
        let followed = match d.decision {
            Decision::Leading => {
                lead(&q, &qcfg, zab, &election).await;
                Followed::NotReached
            }
            Decision::Following { leader } => {
                follow(&q, &qcfg, zab, &election, leader, LearnerKind::Follower).await
            }
            Decision::Observing { leader } => {
                follow(&q, &qcfg, zab, &election, leader, LearnerKind::Observer).await
            }
        };
        sync_failures = match followed {
            Followed::FailedInSync => sync_failures + 1,
            _ => 0,
        };
        end_role(&q).await;
    }
}

/// `/zookeeper/config` holds the ensemble's config text (`server.N=...` lines and
/// `version=0`), as ZooKeeper writes it when it loads its database: outside any txn,
/// data version −1 and mzxid the config's version. Set again after a reload.
async fn set_config_node(q: &Rc<Quorum>, qcfg: &QuorumConfig) {
    write_config_node(q, &config_text(qcfg));
    q.publish_tree();
    q.notify_cores().await;
}

fn config_text(qcfg: &QuorumConfig) -> String {
    crate::zab::quorum::config_text(&qcfg.servers, 0)
}

/// Writes `text` into the tree's `/zookeeper/config` (not published yet).
fn write_config_node(q: &Quorum, text: &str) {
    let mut triggers = Vec::new();
    let res = q.tree.borrow_mut().set_data(
        crate::tree::CONFIG_PATH,
        Some(crate::proto::NodeData::from(text.as_bytes())),
        -1,
        0,
        crate::server::session_core::wall_clock_ms(),
        &mut triggers,
    );
    if let Err(e) = res {
        tracing::warn!("cannot write the ensemble's config into /zookeeper/config: {e:?}");
    }
}

/// Fills the in-memory window of committed txns (`committedLog`) from the log at a
/// start, as ZooKeeper's `loadDataBase` does: without it a leader that restarted sent
/// SNAP to every learner behind it, where a Java leader sends DIFF. Only the newest
/// epoch's last `DEFAULT_COMMIT_LOG_COUNT` txns are read (zxids are contiguous within an
/// epoch), so a start reads a bounded part of the log.
fn load_window(q: &Quorum) {
    let last = q.log.last_zxid();
    let count = history::DEFAULT_COMMIT_LOG_COUNT as i64;
    let epoch_start = crate::zab::make_zxid(crate::zab::epoch_of(last), 0);
    let after = (last - count).max(epoch_start);
    if last <= after || !q.window.borrow().is_empty() {
        return;
    }
    let mut txns = VecDeque::new();
    let read = storage::read_log_after(&q.cfg.data_log_dir, after, |hdr, txn| {
        if hdr.zxid <= last {
            txns.push_back(history::Txn {
                zxid: hdr.zxid,
                data: proposal_data(&Committed { hdr, txn }, None),
            });
        }
        Ok(ControlFlow::Continue(()))
    });
    match read {
        // Only a gap-free run ending at our last zxid is a window.
        Ok(_) if txns.back().map(|t| t.zxid) == Some(last) => {
            tracing::info!(
                "committed log: {} txns from the log (0x{:x}..0x{last:x})",
                txns.len(),
                txns.front().map_or(last, |t| t.zxid)
            );
            *q.window.borrow_mut() = txns;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!("committed log: cannot read the log: {e}; learners behind get SNAP")
        }
    }
}

/// A learner's connection goes to the current leadership. One that arrives before this
/// server leads (learners may decide sooner than their leader) is held for up to
/// `hold` (initLimit), then closed: Java's leader opens its port only when it starts
/// leading, and its learners retry; here the port stays bound, so the wait is ours.
async fn hand_to_leader(q: Rc<Quorum>, stream: TcpStream, hold: Duration) {
    let deadline = std::time::Instant::now() + hold;
    let tls = q.peer_tls.borrow().clone();
    let from = stream.peer_addr().ok();
    let stream = match PeerTls::accept(tls.as_deref(), stream, hold).await {
        Ok(s) => s,
        Err(why) => {
            tracing::warn!("quorum port: closing the connection from {from:?}: {why}");
            return;
        }
    };
    loop {
        let role = q.role.borrow().clone();
        match role {
            Role::Leading(l) if !l.done.get() => return l.accept(&q, stream),
            Role::Following(_) => {
                // We follow another: this learner chose a leader that is not. Closing
                // now sends it back to its election at once, not after initLimit.
                tracing::info!(
                    "quorum port: a learner connected, but this server follows another; \
                     closing"
                );
                return;
            }
            _ => {}
        }
        if std::time::Instant::now() >= deadline {
            tracing::info!(
                "quorum port: a learner connected, but this server does not lead; closing"
            );
            return;
        }
        // Short: the learner waits on this for its sync, which is on a failover's
        // path; a held learner is rare enough that the polling costs nothing.
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// With `readonlymode.enabled`: once this member has been without a leader for
/// max(2 s, tickTime), as ZooKeeper's QuorumPeer waits, it serves read-only clients.
fn spawn_read_only_start(q: &Rc<Quorum>, looking: &Rc<Cell<u64>>) {
    let (q, looking) = (q.clone(), looking.clone());
    let this = looking.get();
    let delay = Duration::from_millis(u64::from(q.cfg.tick_time_ms).max(2000));
    glommio::spawn_local(async move {
        glommio::timer::sleep(delay).await;
        if looking.get() == this && q.stats.mode() == ServerMode::NotServing {
            tracing::info!(
                "no leader for {} ms: serving read-only clients",
                delay.as_millis()
            );
            q.stats.set_mode(ServerMode::ReadOnly);
        }
    })
    .detach();
}

/// Leaves read-only mode before serving as a member again: its clients' sessions were
/// this server's alone, so their connections close, as ZooKeeper shuts its read-only
/// server down.
fn leave_read_only(q: &Rc<Quorum>) {
    if q.stats.mode() != ServerMode::ReadOnly {
        return;
    }
    q.stats.set_mode(ServerMode::NotServing);
    let q = q.clone();
    glommio::spawn_local(async move {
        for out in &q.outs {
            let _ = out.send(ToSession::StopServing).await;
        }
    })
    .detach();
}

fn epochs_now(q: &Quorum) -> (i64, i64) {
    let dir = &q.cfg.data_dir;
    let read = |name| match storage::epochs::read_epoch(dir, name) {
        Ok(e) => e.unwrap_or(0),
        Err(e) => fatal(&format!("cannot read {name}: {e}")),
    };
    (read(ACCEPTED_EPOCH_FILE), read(CURRENT_EPOCH_FILE))
}

fn write_epoch(q: &Quorum, name: &str, epoch: i64) {
    if let Err(e) = storage::write_epoch(&q.cfg.data_dir, name, epoch) {
        // Going on could vote with an epoch this server never made durable.
        fatal(&format!("cannot write {name}: {e}"));
    }
}

/// Leaves a role: stop serving, drop queued work, apply what the log holds.
pub(super) async fn end_role(q: &Rc<Quorum>) {
    *q.role.borrow_mut() = Role::NotServing;
    q.stats.set_mode(ServerMode::NotServing);
    for out in &q.outs {
        let _ = out.send(ToSession::StopServing).await;
    }
    // Its clients' connections are closed: nobody waits for these answers.
    q.inbox.borrow_mut().clear();
    q.waiting_syncs.borrow_mut().clear();
    while q.batch_in_flight.get() || q.syncing.get() || q.unsynced_txns.get() > 0 {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    // Durable in our log: applied now, as a restart would replay them. If the next
    // leader does not have them, it sends TRUNC and the tree is reloaded.
    let last = q.log.last_zxid();
    q.apply_now(last);
    q.after_apply().await;
    *q.outstanding.borrow_mut() = Outstanding::new();
    q.digests.reset();
    q.last_zxid.set(q.applied.get());
}

// ---------------------------------------------------------------------------------
// Leading

/// One leadership: the machine, and one sink per learner connection.
pub(super) struct Leading {
    machine: RefCell<Leader>,
    conns: RefCell<HashMap<leader::ConnId, Rc<PacketSink>>>,
    next_conn: Cell<leader::ConnId>,
    done: Cell<bool>,
    wake: Signal,
    election: Rc<Election>,
    /// This server's sid: the key of its own ACKs in `ack_latency`.
    myid: Sid,
    /// When each recent txn was proposed (bounded), for the write-path stages: its
    /// commit (`Stage::QuorumAck`), each learner's ACK (`Stage::LearnerAck`) and our own
    /// sync (`Stage::LeaderPersist`).
    sent_at: RefCell<VecDeque<(i64, Instant)>>,
    /// The last zxid counted in `Stage::QuorumAck`.
    commit_counted: Cell<i64>,
    /// The last zxid counted in `Stage::LeaderPersist`.
    persist_counted: Cell<i64>,
    /// Learners' `sync`s waiting for the commit of the txn proposed before them and
    /// for proof that we still lead: (that zxid, the confirmation request standing for
    /// it, the learner's connection), in order.
    learner_syncs: RefCell<VecDeque<(i64, u64, leader::ConnId)>>,
    /// The last `ConfirmLeadership` id requested, and the last one proven.
    last_confirm: Cell<u64>,
    confirmed: Cell<u64>,
    /// Tests only: the txn before whose COMMIT the `leader.before_commit` failpoint
    /// crashes this server.
    crash_before_commit: Cell<Option<i64>>,
}

/// Proposals remembered for `Leading::sent_at`: a learner slower than this many txns
/// has its ACKs go unmeasured.
const SENT_AT_KEPT: usize = 1 << 16;

async fn lead(q: &Rc<Quorum>, qcfg: &QuorumConfig, zab: ZabConfig, election: &Rc<Election>) {
    let (accepted, current) = epochs_now(q);
    let last = q.log.last_zxid();
    let tail: Vec<history::Txn> = q.window.borrow().iter().cloned().collect();
    let machine = Leader::new(
        qcfg.myid,
        election.quorum(),
        zab,
        accepted,
        current,
        last,
        tail,
    );
    let l = Rc::new(Leading {
        machine: RefCell::new(machine),
        conns: RefCell::new(HashMap::new()),
        next_conn: Cell::new(1),
        done: Cell::new(false),
        wake: Signal::default(),
        election: election.clone(),
        myid: qcfg.myid,
        sent_at: RefCell::new(VecDeque::new()),
        commit_counted: Cell::new(0),
        persist_counted: Cell::new(0),
        learner_syncs: RefCell::new(VecDeque::new()),
        last_confirm: Cell::new(0),
        confirmed: Cell::new(0),
        crash_before_commit: Cell::new(None),
    });
    *q.role.borrow_mut() = Role::Leading(l.clone());
    l.step(q, leader::Input::Start);
    let (ticking, tq) = (l.clone(), q.clone());
    spawn_ticker(move || {
        if !fp::fires(fp::LEADER_SKIP_TICK) {
            ticking.step(&tq, leader::Input::Tick);
        }
        !ticking.done.get()
    });
    while !l.done.get() {
        l.wake.wait().await;
    }
    for (_, sink) in l.conns.borrow_mut().drain() {
        sink.close();
    }
}

impl Leading {
    /// Records, as `stage`, how long ago each txn after `*counted` and through
    /// `through` was proposed, calls `also` with each of those times, moves
    /// `*counted` to `through`, and says how many txns it recorded.
    fn record_since(
        &self,
        q: &Quorum,
        counted: &Cell<i64>,
        through: i64,
        stage: Stage,
        also: impl Fn(u64),
    ) -> u64 {
        let sent = self.sent_at.borrow();
        let from = sent.partition_point(|(z, _)| *z <= counted.get());
        let mut n = 0;
        for (z, t) in sent.range(from..) {
            if *z > through {
                break;
            }
            let us = t.elapsed().as_micros() as u64;
            q.stats.quorum().stage(stage, us);
            also(us);
            n += 1;
        }
        counted.set(counted.get().max(through));
        n
    }

    /// When `zxid` was proposed, if it is still remembered.
    fn sent_time(&self, zxid: i64) -> Option<Instant> {
        let sent = self.sent_at.borrow();
        let i = sent.partition_point(|(z, _)| *z < zxid);
        sent.get(i).filter(|(z, _)| *z == zxid).map(|(_, t)| *t)
    }

    pub(super) fn is_broadcasting(&self) -> bool {
        !self.done.get() && self.machine.borrow().is_broadcasting()
    }

    pub(super) fn next_zxid(&self) -> i64 {
        self.machine.borrow().next_zxid()
    }

    /// Proposes a prepared txn (the pipeline appends it to our own log).
    pub(super) fn propose(&self, q: &Rc<Quorum>, c: &Committed) {
        let digest = q
            .digests
            .predict(&q.tree.borrow(), q.applied.get(), &q.unapplied.borrow(), c);
        let data = proposal_data(c, digest);
        {
            let s = &q.stats.leader;
            let size = data.len() as u64;
            s.last_proposal_size.store(size, Relaxed);
            s.max_proposal_size.fetch_max(size, Relaxed);
            let min = s.min_proposal_size.load(Relaxed);
            if min == 0 || size < min {
                s.min_proposal_size.store(size, Relaxed);
            }
        }
        q.stats.zab.proposal_count.fetch_add(1, Relaxed);
        if fp::fires(fp::LEADER_BEFORE_COMMIT) && self.crash_before_commit.get().is_none() {
            self.crash_before_commit.set(Some(c.hdr.zxid));
        }
        {
            let mut sent = self.sent_at.borrow_mut();
            if sent.len() >= SENT_AT_KEPT {
                sent.pop_front();
            }
            sent.push_back((c.hdr.zxid, Instant::now()));
        }
        let mut out = Vec::new();
        self.machine
            .borrow_mut()
            .step(leader::Input::Propose { data }, q.now_ms(), &mut out);
        for a in &out {
            if let leader::Action::Persist(t) = a {
                if t.zxid != c.hdr.zxid {
                    fatal(&format!(
                        "proposed zxid 0x{:x} for a txn prepared as 0x{:x}",
                        t.zxid, c.hdr.zxid
                    ));
                }
            }
        }
        self.execute(q, out);
    }

    /// Our log is durable through `through`.
    pub(super) async fn persisted(&self, q: &Rc<Quorum>, through: i64) {
        // ZooKeeper's AckRequestProcessor: the leader's own ACK of each txn.
        let z = &q.stats.zab;
        self.record_since(
            q,
            &self.persist_counted,
            through,
            Stage::LeaderPersist,
            |us| {
                z.proposal_ack_creation_latency.record(us);
                z.ack(self.myid, us);
            },
        );
        self.step(q, leader::Input::Persisted { through });
        q.after_apply().await;
    }

    /// A learner forwarded a `sync` after the txn `after` was proposed. Its SYNC goes
    /// right after that txn's COMMIT, before any later one, as ZooKeeper's leader sends
    /// it (`processSync`, `tryToCommit`): a ZooKeeper learner matches the commits of
    /// its forwarded requests, syncs included, to those requests in the order it sent
    /// them, and one that comes out of order is never answered, nor is any request of
    /// that learner after it.
    ///
    /// `confirm` is the leadership check it waits for too ([`Leading::confirm`]): the
    /// machine proves it before any COMMIT of a txn proposed after it, so the SYNC is
    /// never held behind such a COMMIT.
    pub(super) fn learner_sync(
        &self,
        q: &Rc<Quorum>,
        conn: leader::ConnId,
        after: i64,
        confirm: u64,
    ) {
        if after <= self.machine.borrow().last_committed()
            && confirm <= self.confirmed.get()
            && self.learner_syncs.borrow().is_empty()
        {
            // Answered now only while we still lead (see `holds_quorum_now`); a SYNC
            // sent later would come after COMMITs, out of order. Once given up, the
            // learner's connection is closed: its sync is never answered.
            if self.holds_quorum_now(q) {
                self.send_sync(conn);
            }
        } else {
            self.learner_syncs
                .borrow_mut()
                .push_back((after, confirm, conn));
        }
    }

    /// Asks the machine to prove that we still lead, for the `sync`s that arrived
    /// before now (`leader::Input::ConfirmLeadership`); returns the request's id, which
    /// [`Leading::confirmed`] reaches once it is proven.
    pub(super) fn confirm(&self, q: &Rc<Quorum>) -> u64 {
        // A leader that sees at once that its quorum is stale gives up now, not at
        // its next tick (the check is on our clock; the PING round is the proof).
        self.holds_quorum_now(q);
        let id = self.last_confirm.get() + 1;
        self.last_confirm.set(id);
        self.step(q, leader::Input::ConfirmLeadership { id });
        id
    }

    /// The newest leadership check proven.
    pub(super) fn confirmed(&self) -> u64 {
        self.confirmed.get()
    }

    /// Whether this leader still counts a quorum as synced (`Leader::holds_quorum`),
    /// checked when a `sync` arrives and again when it is answered. If not, its tick
    /// runs at once and gives the leadership up, as the next timer would: a leader
    /// resumed after a pause longer than `syncLimit`, or cut off that long, steps down
    /// as soon as a `sync` comes instead of leaving it waiting for a PING round no
    /// quorum will answer. This reads our clock; the round ([`Leading::confirm`]) is
    /// what proves a `sync` safe.
    pub(super) fn holds_quorum_now(&self, q: &Rc<Quorum>) -> bool {
        if fp::fires(fp::LEADER_TRUST_QUORUM) || self.machine.borrow().holds_quorum(q.now_ms()) {
            return true;
        }
        tracing::warn!("leader: a sync arrived after the quorum was last heard; ticking now");
        self.step(q, leader::Input::Tick);
        false
    }

    /// Sends the SYNCs due once everything through `committed` is committed.
    fn flush_learner_syncs(&self, committed: i64) {
        loop {
            let due = {
                let mut w = self.learner_syncs.borrow_mut();
                match w.front() {
                    Some((after, confirm, _))
                        if *after <= committed && *confirm <= self.confirmed.get() =>
                    {
                        w.pop_front()
                    }
                    _ => None,
                }
            };
            let Some((_, _, conn)) = due else { break };
            self.send_sync(conn);
        }
    }

    /// A learner's forwarded sync is done: everything before it is committed.
    pub(super) fn send_sync(&self, conn: leader::ConnId) {
        match self.conns.borrow().get(&conn) {
            Some(s) => {
                tracing::debug!("learner connection {conn}: SYNC answered");
                s.send(&Bare::sync());
            }
            None => tracing::debug!("learner connection {conn}: gone; its SYNC is dropped"),
        }
    }

    fn step(&self, q: &Rc<Quorum>, input: leader::Input) {
        if self.done.get() {
            return;
        }
        let mut out = Vec::new();
        self.machine.borrow_mut().step(input, q.now_ms(), &mut out);
        self.execute(q, out);
        self.publish_counts(q);
    }

    /// The learner counts `mntr` shows.
    fn publish_counts(&self, q: &Quorum) {
        let (learners, voting, non_voting, observers) = self.machine.borrow().learner_counts();
        let s = &q.stats.leader;
        s.learners.store(learners as u64, Relaxed);
        s.synced_followers.store(voting as u64, Relaxed);
        s.synced_non_voting_followers
            .store(non_voting as u64, Relaxed);
        s.synced_observers.store(observers as u64, Relaxed);
        // ZooKeeper's `pendingSyncs` map: the zxids learners' syncs wait on the
        // commit of (in order here, so a new zxid starts each run).
        let mut last = None;
        let mut zxids = 0;
        for (after, _, _) in self.learner_syncs.borrow().iter() {
            if last != Some(*after) {
                zxids += 1;
                last = Some(*after);
            }
        }
        let pending = zxids
            + q.waiting_syncs
                .borrow()
                .iter()
                .filter(|(_, _, m)| matches!(m, SyncMarker::Learner(_)))
                .count();
        s.pending_syncs.store(pending as u64, Relaxed);
    }

    fn execute(&self, q: &Rc<Quorum>, actions: Vec<leader::Action>) {
        use leader::Action as A;
        let mut applied = false;
        let mut confirmed = false;
        for a in actions {
            match a {
                A::LeadershipConfirmed { id } => {
                    self.confirmed.set(id);
                    confirmed = true;
                }
                A::Send { conn, packet } => {
                    if matches!(packet.kind, PacketType::Commit | PacketType::Inform) {
                        let doomed = self.crash_before_commit.get();
                        if doomed.is_some_and(|z| packet.zxid >= z) {
                            fp::crash(fp::LEADER_BEFORE_COMMIT);
                        }
                        // Commits go in zxid order: every sync waiting for an earlier
                        // txn is due, and goes before this COMMIT.
                        self.flush_learner_syncs(packet.zxid - 1);
                    }
                    // LearnerHandler.syncFollower counts every sync: SNAP or not.
                    match packet.kind {
                        PacketType::Diff | PacketType::Trunc => {
                            q.stats.zab.diff_count.fetch_add(1, Relaxed);
                        }
                        PacketType::Snap => {
                            q.stats.zab.snap_count.fetch_add(1, Relaxed);
                        }
                        _ => {}
                    }
                    if let Some(s) = self.conns.borrow().get(&conn) {
                        s.send(&packet);
                    }
                }
                A::SendSnapshot { conn, zxid } => self.send_snapshot(q, conn, zxid),
                A::ReadLog { conn, from } => self.read_log_for(q, conn, from),
                A::Close { conn, reason } => {
                    tracing::info!("quorum port: closing learner connection {conn}: {reason}");
                    if let Some(s) = self.conns.borrow_mut().remove(&conn) {
                        s.close();
                    }
                }
                A::WriteAcceptedEpoch { epoch } => write_epoch(q, ACCEPTED_EPOCH_FILE, epoch),
                A::WriteCurrentEpoch { epoch } => write_epoch(q, CURRENT_EPOCH_FILE, epoch),
                // The pipeline appended it already (checked in `propose`).
                A::Persist(_) => {}
                A::Apply { through } => {
                    if self.crash_before_commit.get().is_some_and(|z| through >= z) {
                        fp::crash(fp::LEADER_BEFORE_COMMIT);
                    }
                    let n = self.record_since(
                        q,
                        &self.commit_counted,
                        through,
                        Stage::QuorumAck,
                        |_| {},
                    );
                    // One COMMIT per txn this leader proposed (ZooKeeper's Leader.commit).
                    q.stats.zab.commit_count.fetch_add(n, Relaxed);
                    q.apply_now(through);
                    applied = true;
                }
                A::SetTimer { .. } => {}
                A::Established { epoch } => {
                    tracing::info!(
                        "LEADING epoch {epoch}: a quorum is synchronized; serving clients"
                    );
                    self.election.synced(epoch);
                    q.sessions.restart_deadlines(q.now_ms());
                    leave_read_only(q);
                    let up = q.stats.started.elapsed().as_millis() as u64;
                    q.stats.leader.established_ms.store(up, Relaxed);
                    q.stats.set_mode(ServerMode::Leader);
                    q.inbox_ready.raise();
                }
                A::GoLooking { reason } => {
                    tracing::warn!("leader: going back to LOOKING: {reason}");
                    self.done.set(true);
                    self.wake.raise();
                }
            }
        }
        let committed = self.machine.borrow().last_committed();
        self.flush_learner_syncs(committed);
        if applied {
            let q = q.clone();
            glommio::spawn_local(async move { q.after_apply().await }).detach();
        } else if confirmed {
            // Local clients' syncs waiting for this proof only.
            let q = q.clone();
            glommio::spawn_local(async move { q.answer_due_syncs().await }).detach();
        }
    }

    /// A learner below the in-memory window: read our log from its zxid on, on the
    /// blocking pool, and let the machine choose DIFF/TRUNC from it or SNAP. The
    /// leadership goes on meanwhile; the answer is dropped if it ended.
    fn read_log_for(&self, q: &Rc<Quorum>, conn: leader::ConnId, from: i64) {
        let me: *const Leading = self;
        let q = q.clone();
        glommio::spawn_local(async move {
            let whom = format!("learner connection {conn}");
            let txns = read_log_for_sync(&q, whom, from).await;
            let role = q.role.borrow().clone();
            if let Role::Leading(l) = role {
                if std::ptr::eq(Rc::as_ptr(&l), me) {
                    l.step(&q, leader::Input::LogRead { conn, txns });
                }
            }
        })
        .detach();
    }

    /// The SNAP body: our tree, which has applied exactly what SNAP's zxid says, as a
    /// frozen version written on a thread of its own and streamed to the learner; what
    /// the machine sends the learner after this (queued proposals, NEWLEADER, ...)
    /// leaves after the body's last byte.
    fn send_snapshot(&self, q: &Rc<Quorum>, conn: leader::ConnId, zxid: i64) {
        let Some(sink) = self.conns.borrow().get(&conn).cloned() else {
            return;
        };
        snapshots::send_snap(q, &sink, zxid, conn, &format!("learner connection {conn}"));
    }

    fn accept(self: &Rc<Self>, q: &Rc<Quorum>, stream: PeerStream) {
        let conn = self.next_conn.get();
        self.next_conn.set(conn + 1);
        let peer = stream.peer_addr();
        let (mut reader, sink) = wire_io::open(stream);
        self.conns.borrow_mut().insert(conn, sink.clone());
        tracing::info!("quorum port: learner connection {conn} from {peer:?}");
        self.step(q, leader::Input::Accepted { conn });
        let l = self.clone();
        let q = q.clone();
        glommio::spawn_local(async move {
            let mut epoch_acked = false;
            let why = loop {
                if l.done.get() || sink.is_closed() {
                    break "closed".to_owned();
                }
                match reader.next().await {
                    Ok(p) => {
                        // The learner's first epoch ACK is its NEWLEADER ACK.
                        let epoch_ack = p.kind == PacketType::Ack && p.zxid & 0xffff_ffff == 0;
                        if epoch_ack && !std::mem::replace(&mut epoch_acked, true) {
                            fp::delay_point(fp::LEADER_DELAY_NEWLEADER_ACK).await;
                        }
                        l.received(&q, conn, p)
                    }
                    Err(e) => break e,
                }
            };
            tracing::info!("quorum port: learner connection {conn} ended: {why}");
            sink.close();
            l.conns.borrow_mut().remove(&conn);
            l.step(&q, leader::Input::Disconnected { conn });
        })
        .detach();
    }

    /// One packet from a learner: the sessions part here, then the machine.
    fn received(&self, q: &Rc<Quorum>, conn: leader::ConnId, p: QuorumPacket) {
        match p.kind {
            PacketType::Request if self.is_broadcasting() => self.forwarded(q, conn, &p),
            PacketType::Request => tracing::warn!(
                "learner connection {conn}: REQUEST before this leader broadcasts; dropped"
            ),
            PacketType::Revalidate if self.is_broadcasting() => match Revalidate::read(&p) {
                Ok(r) => {
                    let (valid, moved) =
                        q.sessions.revalidate_remote(r.session_id, conn, q.now_ms());
                    if let Some((core, old)) = moved {
                        let q = q.clone();
                        glommio::spawn_local(async move {
                            let _ = q.outs[core]
                                .send(ToSession::CloseConnection {
                                    conn: old,
                                    session: r.session_id,
                                })
                                .await;
                        })
                        .detach();
                    }
                    let reply = RevalidateReply {
                        session_id: r.session_id,
                        valid,
                    };
                    if let Some(s) = self.conns.borrow().get(&conn) {
                        s.send(&reply.packet(&p));
                    }
                }
                Err(e) => tracing::warn!("learner connection {conn}: bad REVALIDATE: {e}"),
            },
            PacketType::Ack => {
                if let Some(t) = self.sent_time(p.zxid) {
                    let us = t.elapsed().as_micros() as u64;
                    q.stats.quorum().stage(Stage::LearnerAck, us);
                    if let Some(sid) = self.machine.borrow().sid_of(conn) {
                        q.stats.zab.ack(sid, us);
                    }
                }
            }
            PacketType::Ping => {
                if let Ok(touches) = Ping::read_reply(&p) {
                    q.sessions
                        .touch(touches.iter().map(|t| t.session_id).collect(), q.now_ms());
                }
            }
            _ => {}
        }
        self.step(q, leader::Input::Received { conn, packet: p });
    }

    /// A learner's REQUEST becomes work for the pipeline, as a local client's would.
    fn forwarded(&self, q: &Rc<Quorum>, conn: leader::ConnId, p: &QuorumPacket) {
        let r = match ForwardedRequest::read(p) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("learner connection {conn}: bad REQUEST: {e}");
                return;
            }
        };
        tracing::debug!(
            "learner connection {conn}: REQUEST op {} session 0x{:x} cxid {}",
            r.op,
            r.session_id,
            r.cxid
        );
        let auth: Arc<[Id]> = r.authinfo.clone().into();
        let work = match OpCode::from_i32(r.op) {
            Some(OpCode::CreateSession) => {
                let timeout_ms = r
                    .body
                    .get(..4)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                Work::CreateSession {
                    origin: Origin::Learner(conn),
                    session: r.session_id,
                    timeout_ms,
                }
            }
            Some(OpCode::Sync) => Work::Sync(SyncMarker::Learner(conn)),
            Some(OpCode::CloseSession) => Work::Write {
                session: r.session_id,
                xid: r.cxid,
                request: Request::CloseSession,
                body: Bytes::new(),
                auth,
                via: Via::Learner(conn),
            },
            _ => match Request::decode(r.op, r.body.clone()) {
                Ok(request) if request.op_code().is_write() => Work::Write {
                    session: r.session_id,
                    xid: r.cxid,
                    request,
                    body: r.body,
                    auth,
                    via: Via::Learner(conn),
                },
                Ok(_) | Err(_) => {
                    tracing::warn!(
                        "learner connection {conn}: REQUEST of type {} from session 0x{:x} \
                         is not a write this server can decode",
                        r.op,
                        r.session_id
                    );
                    Work::Failed {
                        session: r.session_id,
                        xid: r.cxid,
                        code: ErrorCode::MarshallingError,
                    }
                }
            },
        };
        q.push(work);
    }
}

// ---------------------------------------------------------------------------------
// Following (and observing)

/// A session reconnecting here, waiting for the leader's REVALIDATE answer.
enum Reconnect {
    /// A client of session core `core` on `conn`, with its timeout.
    Client(CoreIdx, ConnId, i32),
    /// An observer of this follower (`observerMasterPort`) asked on `conn`.
    Observer(crate::zab::observer_master::ConnId, i32),
}

/// One connection to a leader.
/// How a connection to a leader went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Followed {
    NotReached,
    FailedInSync,
    Synced,
}

pub(super) struct Following {
    machine: RefCell<Learner>,
    kind: LearnerKind,
    sink: Rc<PacketSink>,
    done: Cell<bool>,
    wake: Signal,
    election: Rc<Election>,
    /// The SNAP body read (and parsed) after a SNAP packet, until the machine loads it.
    snap_body: RefCell<Option<storage::zk::SnapBody>>,
    /// Proposals to append and make durable (the syncer's queue).
    to_persist: RefCell<VecDeque<Committed>>,
    persist_ready: Signal,
    /// Sessions with client traffic since the last PING reply, with their timeouts.
    touches: RefCell<HashMap<i64, i32>>,
    /// Syncs forwarded to the leader, answered in order by its SYNC packets.
    pending_syncs: RefCell<VecDeque<SyncMarker>>,
    /// Reconnects asked of the leader (REVALIDATE), per session, in order.
    revalidating: RefCell<HashMap<i64, VecDeque<Reconnect>>>,
    /// The newest zxid the leader said is committed.
    committed: Cell<i64>,
    /// The ensemble's config text, written into `/zookeeper/config` after a reload.
    config_text: String,
    /// Whether the leader ever said UPTODATE on this connection.
    synced: Cell<bool>,
    /// Each proposal not yet durable, and each not yet committed (for
    /// `Stage::LearnerPersist` and `Stage::LearnerCommit`, and ZooKeeper's
    /// `proposal_ack_creation_latency` and `commit_propagation_latency`).
    persist_at: RefCell<VecDeque<Arrival>>,
    commit_at: RefCell<VecDeque<Arrival>>,
    /// When this follower sent ACKEPOCH (`follower_sync_time` runs to UPTODATE).
    sync_started: Cell<Option<Instant>>,
    /// Whether the ACK of NEWLEADER went out (the first epoch ACK; UPTODATE's is the
    /// second), for the `learner.after_newleader_ack` failpoint.
    new_leader_acked: Cell<bool>,
    /// Where to serve observers once synced (`observerMasterPort`, followers only).
    om_listen: Option<SocketAddr>,
    zab: ZabConfig,
    /// The ensemble's config text, as NEWLEADER carries it to observers.
    config_bytes: Bytes,
    /// With an observer master port: each PROPOSAL not yet committed, in zxid order,
    /// so its COMMIT can go to observers as an INFORM (`ObserverMaster.proposedPkts`).
    proposed: RefCell<VecDeque<history::Txn>>,
    /// The observer master while synced.
    om: RefCell<Option<Rc<Mastering>>>,
    /// Whom this learner syncs from, for its log lines: the leader, or a follower's
    /// observer master port.
    upstream: &'static str,
}

/// A proposal a learner took: its zxid, when it arrived, and its txn header's time
/// (the leader's wall clock, ms), which ZooKeeper's learner latencies start from.
#[derive(Clone, Copy)]
struct Arrival {
    zxid: i64,
    at: Instant,
    created_ms: i64,
}

async fn follow(
    q: &Rc<Quorum>,
    qcfg: &QuorumConfig,
    zab: ZabConfig,
    election: &Rc<Election>,
    leader_sid: Sid,
    kind: LearnerKind,
) -> Followed {
    let (stream, upstream) = match (kind, qcfg.observer_master_port) {
        (LearnerKind::Observer, Some(port)) => (
            connect_observer_master(q, qcfg, port).await,
            "its observer master",
        ),
        _ => (connect_leader(q, qcfg, leader_sid).await, "the leader"),
    };
    let Some(stream) = stream else {
        return Followed::NotReached;
    };
    let (mut reader, sink) = wire_io::open(stream);
    let (accepted, current) = epochs_now(q);
    let machine = Learner::new(
        qcfg.myid,
        kind,
        zab,
        0,
        accepted,
        current,
        q.log.last_zxid(),
    );
    let f = Rc::new(Following {
        machine: RefCell::new(machine),
        kind,
        sink,
        done: Cell::new(false),
        wake: Signal::default(),
        election: election.clone(),
        snap_body: RefCell::new(None),
        to_persist: RefCell::new(VecDeque::new()),
        persist_ready: Signal::default(),
        touches: RefCell::new(HashMap::new()),
        pending_syncs: RefCell::new(VecDeque::new()),
        revalidating: RefCell::new(HashMap::new()),
        committed: Cell::new(-1),
        config_text: config_text(qcfg),
        synced: Cell::new(false),
        persist_at: RefCell::new(VecDeque::new()),
        commit_at: RefCell::new(VecDeque::new()),
        sync_started: Cell::new(None),
        new_leader_acked: Cell::new(false),
        om_listen: match (kind, qcfg.observer_master_port) {
            (LearnerKind::Follower, Some(port)) => observer_master_listen(qcfg, port),
            _ => None,
        },
        zab,
        config_bytes: election.quorum().text().clone(),
        proposed: RefCell::new(VecDeque::new()),
        om: RefCell::new(None),
        upstream,
    });
    *q.role.borrow_mut() = Role::Following(f.clone());
    glommio::spawn_local(syncer(q.clone(), f.clone())).detach();
    let (ticking, tq) = (f.clone(), q.clone());
    spawn_ticker(move || {
        ticking.step(&tq, learner::Input::Tick);
        !ticking.done.get()
    });
    f.step(q, learner::Input::Connected);
    let reading = async {
        loop {
            let p = match reader.next().await {
                Ok(p) => p,
                Err(e) => return e,
            };
            if p.kind == PacketType::Snap {
                let body = match reader.snap_body().await {
                    Ok(body) => body,
                    Err(e) => return e,
                };
                // Parsed on the blocking pool, so a large tree does not stall this
                // core; the raw body is freed as soon as the tree is built from it.
                let extended = q.cfg.extended_types_enabled;
                let parsed =
                    super::blocking(move || storage::zk::read_snap_body(body, extended)).await;
                match parsed {
                    Ok(snap) => *f.snap_body.borrow_mut() = Some(snap),
                    Err(e) => return format!("bad SNAP body: {e}"),
                }
            }
            f.received(q, p);
        }
    };
    let ended = async {
        while !f.done.get() {
            f.wake.wait().await;
        }
        String::from("the learner ended")
    };
    let why = futures_lite::future::or(reading, ended).await;
    if !f.done.get() {
        tracing::warn!(
            "connection to {} (leader {leader_sid}) ended: {why}",
            f.upstream
        );
        f.step(q, learner::Input::Disconnected);
        f.done.set(true);
    }
    f.sink.close();
    f.persist_ready.raise();
    if let Some(m) = f.om.borrow_mut().take() {
        m.stop(q);
    }
    if f.synced.get() {
        Followed::Synced
    } else {
        Followed::FailedInSync
    }
}

/// Connects to the elected leader's quorum port.
async fn connect_leader(q: &Quorum, qcfg: &QuorumConfig, leader_sid: Sid) -> Option<PeerStream> {
    let Some(server) = qcfg.servers.iter().find(|s| s.id == leader_sid) else {
        tracing::warn!("the elected leader {leader_sid} is not in the server list");
        return None;
    };
    let addr = match resolve(&server.host, server.quorum_port) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("leader {leader_sid}: {e}");
            return None;
        }
    };
    // As Java's learner: a few tries, a moment apart (the leader may not be listening
    // on its quorum port yet).
    for attempt in 1..=5 {
        let why = match TcpStream::connect(addr).await {
            Ok(s) => match dial(q, qcfg, s, &server.host).await {
                Ok(s) => return Some(s),
                Err(why) => why,
            },
            Err(e) => e.to_string(),
        };
        tracing::info!("connecting to leader {leader_sid} at {addr} (try {attempt}): {why}");
        glommio::timer::sleep(Duration::from_millis(200 * attempt)).await;
    }
    tracing::warn!("cannot reach leader {leader_sid} at {addr}; looking again");
    None
}

/// An observer with `observerMasterPort`: a voting member's observer master port, as
/// ZooKeeper's observer picks one (`QuorumPeer.findLearnerMaster`): every voter's
/// quorum address with that port, tried in turn from a place that differs per
/// observer and per attempt. The leader and members between roles refuse (only a
/// synced follower listens), so the first that accepts is a follower.
async fn connect_observer_master(q: &Quorum, qcfg: &QuorumConfig, port: u16) -> Option<PeerStream> {
    thread_local! {
        static ATTEMPT: Cell<usize> = const { Cell::new(0) };
    }
    let voters: Vec<&crate::zab::quorum::QuorumServer> = qcfg
        .servers
        .iter()
        .filter(|s| s.learner_type == crate::zab::vote::LearnerType::Participant)
        .collect();
    if voters.is_empty() {
        return None;
    }
    let start = ATTEMPT.with(|a| {
        let n = a.get();
        a.set(n + 1);
        (n + qcfg.myid.unsigned_abs() as usize) % voters.len()
    });
    for k in 0..voters.len() {
        let server = voters[(start + k) % voters.len()];
        let addr = match resolve(&server.host, port) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("observer master {}: {e}", server.id);
                continue;
            }
        };
        let connected = match TcpStream::connect(addr).await {
            Ok(s) => dial(q, qcfg, s, &server.host).await,
            Err(e) => Err(e.to_string()),
        };
        match connected {
            Ok(s) => {
                tracing::info!("observing through observer master {} at {addr}", server.id);
                return Some(s);
            }
            Err(why) => tracing::info!("observer master {} at {addr}: {why}", server.id),
        }
    }
    tracing::warn!("no observer master accepted (port {port}); looking again");
    glommio::timer::sleep(Duration::from_millis(200)).await;
    None
}

/// A connection just opened to a member's quorum or observer master port, with TLS
/// under `sslQuorum`: the handshake may take `cnxTimeout`, as the election's does.
async fn dial(
    q: &Quorum,
    qcfg: &QuorumConfig,
    stream: TcpStream,
    host: &str,
) -> Result<PeerStream, String> {
    let tls = q.peer_tls.borrow().clone();
    let limit = Duration::from_millis(qcfg.cnx_timeout_ms.max(1));
    PeerTls::dial(tls.as_deref(), stream, host, limit).await
}

/// Where a follower listens for observers: its quorum address with `port` (the
/// wildcard address with `quorumListenOnAllIPs`).
fn observer_master_listen(qcfg: &QuorumConfig, port: u16) -> Option<SocketAddr> {
    let me = qcfg.me()?;
    let own = match resolve(&me.host, port) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("the observer master port: {e}");
            return None;
        }
    };
    Some(if qcfg.listen_on_all_ips {
        let any: std::net::IpAddr = if own.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        SocketAddr::new(any, port)
    } else {
        own
    })
}

/// Records, as `stage`, how long each arrival up to `through` waited, and in
/// `since_created` (if any) how long ago its txn was created, and forgets it.
fn record_arrivals(
    q: &Quorum,
    arrivals: &RefCell<VecDeque<Arrival>>,
    through: i64,
    stage: Stage,
    since_created: Option<&AtomicHistogram>,
) {
    let mut at = arrivals.borrow_mut();
    let now_ms = wall_clock_ms();
    while let Some(&a) = at.front() {
        if a.zxid > through {
            break;
        }
        at.pop_front();
        q.stats
            .quorum()
            .stage(stage, a.at.elapsed().as_micros() as u64);
        if let Some(h) = since_created {
            ZabMetrics::since_created(h, now_ms, a.created_ms);
        }
    }
}

/// Appends and syncs the learner's proposals in group commits, and reports them.
async fn syncer(q: Rc<Quorum>, f: Rc<Following>) {
    loop {
        while f.to_persist.borrow().is_empty() && !f.done.get() {
            f.persist_ready.wait().await;
        }
        if f.done.get() {
            return;
        }
        fp::delay_point(fp::LEARNER_DELAY_LOG_APPEND).await;
        fp::crash_point_async(fp::LEARNER_BEFORE_LOG_APPEND).await;
        let batch: Vec<Committed> = f.to_persist.borrow_mut().drain(..).collect();
        let Some(last) = batch.last().map(|c| c.hdr.zxid) else {
            continue;
        };
        q.batch_in_flight.set(true);
        q.log.append(&batch);
        let _ = q.log.sync(batch.len() as u64).await;
        fp::crash_point_async(fp::LEARNER_AFTER_LOG_SYNC).await;
        q.unapplied.borrow_mut().extend(batch);
        q.batch_in_flight.set(false);
        record_arrivals(
            &q,
            &f.persist_at,
            last,
            Stage::LearnerPersist,
            // An observer sends no ACK, so ZooKeeper's observer records none.
            (f.kind != LearnerKind::Observer).then_some(&q.stats.zab.proposal_ack_creation_latency),
        );
        f.step(&q, learner::Input::Persisted { through: last });
    }
}

impl Following {
    pub(super) fn is_broadcasting(&self) -> bool {
        !self.done.get() && self.machine.borrow().is_broadcasting()
    }

    fn step(&self, q: &Rc<Quorum>, input: learner::Input) {
        if self.done.get() {
            return;
        }
        let mut out = Vec::new();
        self.machine.borrow_mut().step(input, q.now_ms(), &mut out);
        self.execute(q, out);
    }

    fn received(&self, q: &Rc<Quorum>, p: QuorumPacket) {
        match p.kind {
            // Which way the leader syncs us is what an operator asks first.
            PacketType::Diff | PacketType::Trunc | PacketType::Snap => {
                let kind = match p.kind {
                    PacketType::Diff => "DIFF",
                    PacketType::Trunc => "TRUNC",
                    _ => "SNAP",
                };
                tracing::info!("sync from the leader: {kind} 0x{:x}", p.zxid);
            }
            PacketType::Commit | PacketType::Inform => {
                self.committed.set(self.committed.get().max(p.zxid));
                if p.kind == PacketType::Commit {
                    self.inform_observers(q, p.zxid);
                }
                if self.synced.get() {
                    // ZooKeeper's Follower and Observer count these once synced.
                    let z = &q.stats.zab;
                    z.learner_commit_received_count.fetch_add(1, Relaxed);
                }
                record_arrivals(
                    q,
                    &self.commit_at,
                    p.zxid,
                    Stage::LearnerCommit,
                    Some(&q.stats.zab.commit_propagation_latency),
                );
            }
            PacketType::Proposal if self.synced.get() => {
                let z = &q.stats.zab;
                z.learner_proposal_received_count.fetch_add(1, Relaxed);
            }
            PacketType::Sync => {
                let marker = self.pending_syncs.borrow_mut().pop_front();
                if let Some(SyncMarker::Observer(conn)) = marker {
                    // Behind the INFORMs of every COMMIT before it, as Java relays it.
                    if let Some(m) = self.observer_master() {
                        m.send(conn, &p);
                    }
                } else if let Some(m) = marker {
                    // Answered once everything the leader committed before it is applied.
                    q.waiting_syncs
                        .borrow_mut()
                        .push_back((self.committed.get(), 0, m));
                    let q = q.clone();
                    glommio::spawn_local(async move { q.answer_due_syncs().await }).detach();
                }
            }
            PacketType::Revalidate => match RevalidateReply::read(&p) {
                Ok(r) => self.revalidated(q, r, &p),
                Err(e) => tracing::warn!("bad REVALIDATE answer from the leader: {e}"),
            },
            _ => {}
        }
        self.step(q, learner::Input::Received(p));
    }

    fn execute(&self, q: &Rc<Quorum>, actions: Vec<learner::Action>) {
        use learner::Action as A;
        let mut applied = false;
        for a in actions {
            if self.done.get() {
                break;
            }
            match a {
                A::Send(p) => {
                    let p = if p.kind == PacketType::Ping {
                        // The machine answers PING; the touch table is ours to fill,
                        // with every session marked up to this moment.
                        q.gather_touches();
                        let touches: Vec<SessionTouch> = self
                            .touches
                            .borrow_mut()
                            .drain()
                            .map(|(session_id, timeout_ms)| SessionTouch {
                                session_id,
                                timeout_ms,
                            })
                            .collect();
                        Ping::reply(&p, &touches)
                    } else {
                        p
                    };
                    if p.kind == PacketType::AckEpoch && self.kind == LearnerKind::Follower {
                        self.sync_started.set(Some(Instant::now()));
                    }
                    self.sink.send(&p);
                    let epoch_ack = p.kind == PacketType::Ack && p.zxid & 0xffff_ffff == 0;
                    if epoch_ack && !self.new_leader_acked.replace(true) {
                        fp::crash_point(fp::LEARNER_AFTER_NEWLEADER_ACK);
                    }
                }
                A::WriteAcceptedEpoch { epoch } => write_epoch(q, ACCEPTED_EPOCH_FILE, epoch),
                A::WriteCurrentEpoch { epoch } => {
                    write_epoch(q, CURRENT_EPOCH_FILE, epoch);
                    fp::crash_point(fp::LEARNER_AFTER_EPOCH_WRITE);
                }
                A::Truncate { zxid } => {
                    tracing::info!("TRUNC: cutting the log after 0x{zxid:x}");
                    let res = storage::truncate_log_after(&q.cfg.data_log_dir, zxid)
                        .and_then(|_| storage::remove_snapshots_after(&q.cfg.data_dir, zxid))
                        .map_err(|e| e.to_string())
                        .and_then(|_| reload(q, zxid, Some(&self.config_text)));
                    if let Err(e) = res {
                        self.fail(format!("TRUNC to 0x{zxid:x} failed: {e}"));
                    }
                }
                A::LoadSnapshot { zxid } => {
                    if let Err(e) = self.load_snapshot(q, zxid) {
                        self.fail(format!("SNAP at 0x{zxid:x} failed: {e}"));
                    }
                }
                A::Persist(t) => match decode_proposal(&t.data) {
                    Ok((c, digest)) if c.hdr.zxid == t.zxid => {
                        if self.om_listen.is_some() {
                            self.proposed.borrow_mut().push_back(t.clone());
                        }
                        q.digests.expect(c.hdr.zxid, digest);
                        let a = Arrival {
                            zxid: t.zxid,
                            at: Instant::now(),
                            created_ms: c.hdr.time_ms,
                        };
                        self.persist_at.borrow_mut().push_back(a);
                        let z = &q.stats.zab;
                        if self.kind == LearnerKind::Observer {
                            // An INFORM is its own commit: it propagated now.
                            let now = wall_clock_ms();
                            ZabMetrics::since_created(
                                &z.commit_propagation_latency,
                                now,
                                a.created_ms,
                            );
                        } else {
                            self.commit_at.borrow_mut().push_back(a);
                            if self.synced.get() {
                                let now = wall_clock_ms();
                                ZabMetrics::since_created(&z.proposal_latency, now, a.created_ms);
                            }
                        }
                        self.to_persist.borrow_mut().push_back(c);
                        self.persist_ready.raise();
                    }
                    Ok((c, _)) => self.fail(format!(
                        "PROPOSAL 0x{:x} carries a txn of zxid 0x{:x}",
                        t.zxid, c.hdr.zxid
                    )),
                    Err(e) => self.fail(format!("PROPOSAL 0x{:x}: {e}", t.zxid)),
                },
                A::Apply { through } => {
                    let txns = q.apply_now(through);
                    if let Some(m) = self.observer_master() {
                        let through = q.applied.get();
                        m.step(q, observer_master::Input::Applied { txns, through });
                    }
                    applied = true;
                }
                A::SetTimer { .. } => {}
                A::Synced { epoch } => {
                    if let Some(listen) = self.om_listen {
                        let m = Mastering::start(
                            q,
                            listen,
                            self.zab,
                            epoch,
                            Some(self.config_bytes.clone()),
                            observer_packet,
                        );
                        *self.om.borrow_mut() = m;
                    }
                    let mode = match self.kind {
                        LearnerKind::Observer => ServerMode::Observer,
                        _ => ServerMode::Follower,
                    };
                    tracing::info!(
                        "{} epoch {epoch}: synchronized with {}; serving clients",
                        mode.name(),
                        self.upstream
                    );
                    self.synced.set(true);
                    if let Some(t) = self.sync_started.take() {
                        let us = t.elapsed().as_micros() as u64;
                        q.stats.zab.follower_sync_time.record(us);
                    }
                    self.election.synced(epoch);
                    leave_read_only(q);
                    q.stats.set_mode(mode);
                    q.inbox_ready.raise();
                }
                A::GoLooking { reason } => self.fail(reason),
            }
        }
        if applied {
            let q = q.clone();
            glommio::spawn_local(async move { q.after_apply().await }).detach();
        }
    }

    fn fail(&self, reason: String) {
        if !self.done.get() {
            tracing::warn!("learner: going back to LOOKING: {reason}");
        }
        self.done.set(true);
        self.wake.raise();
        self.persist_ready.raise();
    }

    /// SNAP: the leader's tree replaces ours, and its history our log.
    fn load_snapshot(&self, q: &Rc<Quorum>, zxid: i64) -> Result<(), String> {
        let snap = self
            .snap_body
            .borrow_mut()
            .take()
            .ok_or("no SNAP body was read")?;
        tracing::info!(
            "SNAP: loading the leader's snapshot at 0x{zxid:x} ({} nodes, {} sessions)",
            snap.nodes,
            snap.sessions.len()
        );
        // The log first: a crash between the two steps leaves an older snapshot and
        // no log after it, which the next leader syncs again; the other order could
        // replay our old records on top of the leader's snapshot.
        storage::remove_log(&q.cfg.data_log_dir).map_err(|e| e.to_string())?;
        storage::write_snapshot(&q.cfg.data_dir, &snap.tree.version(), &snap.sessions, zxid)
            .map_err(|e| e.to_string())?;
        reload(q, zxid, Some(&self.config_text))
    }

    /// A session's client reconnected here: the leader says whether it lives.
    pub(super) async fn revalidate(
        &self,
        q: &Quorum,
        core: CoreIdx,
        conn: ConnId,
        req: ConnectRequest,
    ) {
        let id = req.session_id;
        if !session::check_password(id, &req.passwd) {
            let _ = q.outs[core]
                .send(ToSession::Revalidated {
                    conn,
                    session: id,
                    timeout_ms: None,
                    passwd: session::password(id),
                })
                .await;
            return;
        }
        self.revalidating
            .borrow_mut()
            .entry(id)
            .or_default()
            .push_back(Reconnect::Client(core, conn, req.timeout_ms));
        self.sink.send(
            &Revalidate {
                session_id: id,
                timeout_ms: req.timeout_ms,
            }
            .packet(),
        );
    }

    fn revalidated(&self, q: &Rc<Quorum>, r: RevalidateReply, p: &QuorumPacket) {
        let waiting = {
            let mut m = self.revalidating.borrow_mut();
            let w = m.get_mut(&r.session_id).and_then(|v| v.pop_front());
            if m.get(&r.session_id).is_some_and(|v| v.is_empty()) {
                m.remove(&r.session_id);
            }
            w
        };
        let Some(waiting) = waiting else {
            return;
        };
        let (Reconnect::Client(_, _, timeout) | Reconnect::Observer(_, timeout)) = waiting;
        if r.valid {
            q.sessions.touch(vec![r.session_id], q.now_ms());
            self.touches.borrow_mut().insert(r.session_id, timeout);
        }
        let (core, conn) = match waiting {
            Reconnect::Client(core, conn, _) => (core, conn),
            Reconnect::Observer(conn, _) => {
                // ObserverMaster.revalidateLearnerSession: the leader's answer as is.
                if let Some(m) = self.observer_master() {
                    m.send(conn, p);
                }
                return;
            }
        };
        let q = q.clone();
        glommio::spawn_local(async move {
            let _ = q.outs[core]
                .send(ToSession::Revalidated {
                    conn,
                    session: r.session_id,
                    timeout_ms: r.valid.then_some(timeout),
                    passwd: session::password(r.session_id),
                })
                .await;
        })
        .detach();
    }

    /// The observer master, while this follower serves observers.
    pub(super) fn observer_master(&self) -> Option<Rc<Mastering>> {
        self.om.borrow().clone()
    }

    /// The leader committed `zxid`: its proposal goes to the observers as an INFORM
    /// (`ObserverMaster.proposalCommitted`), before this follower applies it.
    fn inform_observers(&self, q: &Rc<Quorum>, zxid: i64) {
        if self.om_listen.is_none() {
            return;
        }
        let txn = {
            let mut proposed = self.proposed.borrow_mut();
            while proposed.front().is_some_and(|t| t.zxid < zxid) {
                proposed.pop_front();
            }
            if proposed.front().is_some_and(|t| t.zxid == zxid) {
                proposed.pop_front()
            } else {
                None
            }
        };
        if let (Some(txn), Some(m)) = (txn, self.observer_master()) {
            m.step(q, observer_master::Input::Committed(txn));
        }
    }

    /// Client traffic of `ids`: reported to the leader with the next PING reply.
    pub(super) fn touched(&self, q: &Quorum, ids: &[i64]) {
        let mut t = self.touches.borrow_mut();
        for id in ids {
            if let Some(timeout) = q.sessions.timeout_of(*id) {
                t.insert(*id, timeout);
            }
        }
    }

    /// Work from this server's clients goes to the leader.
    pub(super) fn forward(&self, _q: &Rc<Quorum>, w: Work) {
        let req = match w {
            Work::Write {
                session,
                xid,
                request,
                body,
                auth,
                ..
            } => ForwardedRequest {
                session_id: session,
                cxid: xid,
                op: request.op_code() as i32,
                body,
                authinfo: auth.to_vec(),
            },
            Work::CreateSession {
                session,
                timeout_ms,
                ..
            } => {
                let mut body = BytesMut::with_capacity(4);
                body.put_i32(timeout_ms);
                ForwardedRequest {
                    session_id: session,
                    cxid: 0,
                    op: OpCode::CreateSession as i32,
                    body: body.freeze(),
                    authinfo: Vec::new(),
                }
            }
            Work::Sync(marker) => {
                let (session, xid, path) = match &marker {
                    SyncMarker::Local {
                        session, xid, path, ..
                    } => (*session, *xid, path.clone()),
                    SyncMarker::Learner(_) | SyncMarker::Observer(_) => return,
                };
                self.pending_syncs.borrow_mut().push_back(marker);
                ForwardedRequest {
                    // A Java leader checks the session (and its owner) in prep.
                    session_id: session,
                    cxid: xid,
                    op: OpCode::Sync as i32,
                    body: SyncRequest { path }.to_bytes(),
                    authinfo: Vec::new(),
                }
            }
            // Only the leader expires sessions and reaps nodes.
            Work::Failed { .. } | Work::Expire(_) | Work::Reap(_) => return,
        };
        self.sink.send(&req.packet());
    }
}

/// A packet from an observer of this follower: what it asks of the ensemble goes to
/// the leader over our link (REQUEST as it came, a `sync`'s SYNC answer relayed back in
/// order; REVALIDATE, its answer relayed back), its PING reply's session touches join
/// ours; then the observer master's machine.
fn observer_packet(
    q: &Rc<Quorum>,
    m: &Rc<Mastering>,
    conn: crate::zab::observer_master::ConnId,
    p: QuorumPacket,
) {
    let role = q.role.borrow().clone();
    let Role::Following(f) = role else {
        return;
    };
    let synced = m.is_broadcasting(conn);
    match p.kind {
        PacketType::Request if synced => match ForwardedRequest::read(&p) {
            Ok(r) => {
                if r.op == OpCode::Sync as i32 {
                    f.pending_syncs
                        .borrow_mut()
                        .push_back(SyncMarker::Observer(conn));
                }
                f.sink.send(&p);
            }
            Err(e) => tracing::warn!("observer connection {conn}: bad REQUEST: {e}"),
        },
        PacketType::Revalidate if synced => match Revalidate::read(&p) {
            Ok(r) => {
                f.revalidating
                    .borrow_mut()
                    .entry(r.session_id)
                    .or_default()
                    .push_back(Reconnect::Observer(conn, r.timeout_ms));
                f.sink.send(&p);
            }
            Err(e) => tracing::warn!("observer connection {conn}: bad REVALIDATE: {e}"),
        },
        PacketType::Request | PacketType::Revalidate => tracing::warn!(
            "observer connection {conn}: {:?} before its sync; dropped",
            p.kind
        ),
        PacketType::Ping => {
            if let Ok(touches) = Ping::read_reply(&p) {
                q.sessions
                    .touch(touches.iter().map(|t| t.session_id).collect(), q.now_ms());
                let mut mine = f.touches.borrow_mut();
                for t in touches {
                    mine.insert(t.session_id, t.timeout_ms);
                }
            }
        }
        _ => {}
    }
    m.step(q, observer_master::Input::Received { conn, packet: p });
}

/// Rebuilds the quorum task's state from the data directory after the log was cut
/// (TRUNC) or replaced by a leader's snapshot (SNAP): recovery as at a start, then the
/// new tree is published to the session cores (no client is connected meanwhile).
pub(super) fn reload(
    q: &Rc<Quorum>,
    expect_zxid: i64,
    config_text: Option<&str>,
) -> Result<(), String> {
    let opts = storage::RecoverOptions {
        extended_types: q.cfg.extended_types_enabled,
        prealloc_bytes: q.cfg.prealloc_bytes,
        digest: q.cfg.digest_enabled,
    };
    let mut rec = storage::recover_with(&q.cfg.data_dir, &q.cfg.data_log_dir, &opts)
        .map_err(|e| format!("recovery: {e}"))?;
    if rec.last_zxid != expect_zxid {
        return Err(format!(
            "recovered to 0x{:x}, expected 0x{expect_zxid:x}",
            rec.last_zxid
        ));
    }
    rec.tree.recompute_quotas();
    rec.log.make_spare_now().map_err(|e| e.to_string())?;
    q.log.replace(rec.log);
    *q.tree.borrow_mut() = rec.tree;
    if let Some(text) = config_text {
        write_config_node(q, text);
    }
    q.applied.set(rec.last_zxid);
    q.last_zxid.set(rec.last_zxid);
    q.unapplied.borrow_mut().clear();
    q.window.borrow_mut().clear();
    load_window(q);
    *q.outstanding.borrow_mut() = Outstanding::new();
    q.digests.reset();
    q.sessions.replace_all(&rec.sessions, q.now_ms());
    q.publish_tree();
    let q = q.clone();
    glommio::spawn_local(async move { q.notify_cores().await }).detach();
    Ok(())
}
