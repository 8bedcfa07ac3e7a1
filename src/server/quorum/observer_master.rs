//! A follower's observer master port (`observerMasterPort`): the driver of the pure
//! `zab::observer_master` for one following. It owns the listener (bound at the
//! follower's UPTODATE, closed when it leaves its leader, so a leader or a member
//! between roles refuses observers as ZooKeeper's does), one connection per observer,
//! and the INFORMs, pings and syncs the machine asks for.
//!
//! What an observer asks of the ensemble goes over the follower's own link to the
//! leader (`peer::Following`): its REQUESTs as they came (the leader answers a `sync`
//! with SYNC, relayed back in order), its REVALIDATEs (the answer relayed back), and
//! the session touches of its PING replies, which join the follower's own.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;

use super::proposals::read_log_for_sync;
use super::snapshots;
use super::ticker::spawn_ticker;
use super::wire_io::{self, PacketSink};
use super::Quorum;
use crate::server::acceptor::{Acceptor, Stopper};
use crate::server::peer_tls::{PeerStream, PeerTls};
use crate::zab::history::{Txn, ZabConfig};
use crate::zab::observer_master::{self as om, ConnId, ObserverMaster};
use crate::zab::wire::quorum_packet::QuorumPacket;

/// What the follower does with each packet from an observer (`peer::observer_packet`):
/// its relaying, then the machine's step.
pub(super) type OnPacket = fn(&Rc<Quorum>, &Rc<Mastering>, ConnId, QuorumPacket);

/// One following's observer master.
pub(super) struct Mastering {
    machine: RefCell<ObserverMaster>,
    conns: RefCell<HashMap<ConnId, Rc<PacketSink>>>,
    next_conn: Cell<ConnId>,
    acceptor: Stopper,
    done: Cell<bool>,
}

impl Mastering {
    /// Opens the observer master port at `listen` for a follower in broadcast at
    /// `epoch`; `None` (logged) if it cannot be bound, and the follower goes on
    /// without serving observers.
    pub(super) fn start(
        q: &Rc<Quorum>,
        listen: SocketAddr,
        zab: ZabConfig,
        epoch: i64,
        config_text: Option<Bytes>,
        on_packet: OnPacket,
    ) -> Option<Rc<Mastering>> {
        let listener = match std::net::TcpListener::bind(listen) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(
                    "cannot listen on the observer master port {listen}: {e}; observers \
                     sync from the other members"
                );
                return None;
            }
        };
        let mut acceptor =
            match Acceptor::spawn_named("observer master port", "rk-accept-om", listener) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("cannot start the observer master port's acceptor: {e}");
                    return None;
                }
            };
        let window: Vec<Txn> = q.window.borrow().iter().cloned().collect();
        let machine = ObserverMaster::new(zab, epoch, config_text, q.applied.get(), window);
        let m = Rc::new(Mastering {
            machine: RefCell::new(machine),
            conns: RefCell::new(HashMap::new()),
            next_conn: Cell::new(1),
            acceptor: acceptor.stopper(),
            done: Cell::new(false),
        });
        tracing::info!("observer master: listening on {listen}");
        q.stats.leader.synced_observers.store(0, Relaxed);
        q.stats.leader.observer_master.store(true, Relaxed);
        let (accepting, aq) = (m.clone(), q.clone());
        // `sslQuorum`: an observer's handshake may take initLimit, as it may on the
        // leader's quorum port.
        let limit = Duration::from_millis(zab.init_limit_ms().max(1));
        glommio::spawn_local(async move {
            while let Some(stream) = acceptor.next().await {
                if accepting.done.get() {
                    break;
                }
                let tls = aq.peer_tls.borrow().clone();
                let (m, q) = (accepting.clone(), aq.clone());
                glommio::spawn_local(async move {
                    let from = stream.peer_addr().ok();
                    match PeerTls::accept(tls.as_deref(), stream, limit).await {
                        Ok(s) if !m.done.get() => m.accept(&q, s, on_packet),
                        Ok(_) => {}
                        Err(why) => tracing::warn!(
                            "observer master: closing the connection from {from:?}: {why}"
                        ),
                    }
                })
                .detach();
            }
        })
        .detach();
        let (ticking, tq) = (m.clone(), q.clone());
        spawn_ticker(move || {
            ticking.step(&tq, om::Input::Tick);
            !ticking.done.get()
        });
        Some(m)
    }

    /// The following ended: the port closes, and so does every observer's connection
    /// (they go looking for a master again).
    pub(super) fn stop(&self, q: &Quorum) {
        if self.done.replace(true) {
            return;
        }
        self.acceptor.stop();
        q.stats.leader.observer_master.store(false, Relaxed);
        for (_, sink) in self.conns.borrow_mut().drain() {
            sink.close();
        }
        tracing::info!("observer master: stopped");
    }

    pub(super) fn step(self: &Rc<Self>, q: &Rc<Quorum>, input: om::Input) {
        if self.done.get() {
            return;
        }
        let mut out = Vec::new();
        self.machine.borrow_mut().step(input, q.now_ms(), &mut out);
        self.execute(q, out);
        let (_, synced) = self.machine.borrow().observer_counts();
        q.stats
            .leader
            .synced_observers
            .store(synced as u64, Relaxed);
    }

    /// Whether `conn` is a synced observer (its requests are relayed).
    pub(super) fn is_broadcasting(&self, conn: ConnId) -> bool {
        self.machine.borrow().is_broadcasting(conn)
    }

    /// Writes `packet` to observer `conn`, if it is still connected.
    pub(super) fn send(&self, conn: ConnId, packet: &QuorumPacket) {
        if let Some(s) = self.conns.borrow().get(&conn) {
            s.send(packet);
        }
    }

    fn execute(self: &Rc<Self>, q: &Rc<Quorum>, actions: Vec<om::Action>) {
        for a in actions {
            match a {
                om::Action::Send { conn, packet } => self.send(conn, &packet),
                om::Action::SendSnapshot { conn, zxid } => self.send_snapshot(q, conn, zxid),
                om::Action::ReadLog { conn, from } => self.read_log_for(q, conn, from),
                om::Action::Close { conn, reason } => {
                    tracing::info!("observer master: closing observer connection {conn}: {reason}");
                    if let Some(s) = self.conns.borrow_mut().remove(&conn) {
                        s.close();
                    }
                }
            }
        }
    }

    /// SNAP: our tree, which has applied exactly `zxid`, streamed from a frozen version.
    fn send_snapshot(&self, q: &Rc<Quorum>, conn: ConnId, zxid: i64) {
        let Some(sink) = self.conns.borrow().get(&conn).cloned() else {
            return;
        };
        let whom = format!("observer connection {conn} (observer master)");
        snapshots::send_snap(q, &sink, zxid, conn, &whom);
    }

    /// An observer below the window: our log from its zxid on, read on the blocking
    /// pool; the answer is dropped if this master stopped meanwhile (`step` does).
    fn read_log_for(self: &Rc<Self>, q: &Rc<Quorum>, conn: ConnId, from: i64) {
        let me = self.clone();
        let q = q.clone();
        glommio::spawn_local(async move {
            let whom = format!("observer connection {conn}");
            let txns = read_log_for_sync(&q, whom, from).await;
            me.step(&q, om::Input::LogRead { conn, txns });
        })
        .detach();
    }

    fn accept(self: &Rc<Self>, q: &Rc<Quorum>, stream: PeerStream, on_packet: OnPacket) {
        let conn = self.next_conn.get();
        self.next_conn.set(conn + 1);
        let peer = stream.peer_addr();
        let (mut reader, sink) = wire_io::open(stream);
        self.conns.borrow_mut().insert(conn, sink.clone());
        tracing::info!("observer master: observer connection {conn} from {peer:?}");
        self.step(q, om::Input::Accepted { conn });
        let (m, q) = (self.clone(), q.clone());
        glommio::spawn_local(async move {
            let why = loop {
                if m.done.get() || sink.is_closed() {
                    break "closed".to_owned();
                }
                match reader.next().await {
                    Ok(p) => on_packet(&q, &m, conn, p),
                    Err(e) => break e,
                }
            };
            tracing::info!("observer master: observer connection {conn} ended: {why}");
            sink.close();
            m.conns.borrow_mut().remove(&conn);
            m.step(&q, om::Input::Disconnected { conn });
        })
        .detach();
    }
}
