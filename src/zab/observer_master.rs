//! A follower serving observers (`observerMasterPort`, ZooKeeper's `ObserverMaster`), as
//! a pure state machine: [`ObserverMaster::step`] takes one [`Input`] and the time and
//! pushes [`Action`]s.
//!
//! With `observerMasterPort` set, an observer syncs from, and is fed by, a follower
//! instead of the leader, which then carries only its voters. One `ObserverMaster` lives
//! for one following: from the follower's UPTODATE until it leaves its leader. It runs
//! the observer side of a `LearnerHandler` with the follower as `LearnerMaster`:
//! - the handshake needs no quorum: OBSERVERINFO (anything else is refused, as Java's
//!   "Non observer attempting to connect to ObserverMaster"), LEADERINFO with the
//!   follower's current epoch, ACKEPOCH;
//! - the sync is chosen from what this follower has *applied* (its committed window,
//!   or its log on disk, or SNAP of its tree), exactly as a leader chooses it; then
//!   what it has been told is committed but not yet applied (`startForwarding`'s
//!   retained commits), as PROPOSAL + COMMIT pairs; then NEWLEADER; the ACK of
//!   NEWLEADER gets UPTODATE at once (nothing to wait for: the epoch is established);
//! - in broadcast each COMMIT the follower receives goes to every observer as an
//!   INFORM carrying the proposal (`proposalCommitted`), in zxid order, before the
//!   follower applies it; every half tick a PING with the last zxid informed.
//!
//! Never here: the observers' REQUESTs, REVALIDATEs and PING touches, which the
//! driver relays over the follower's own link to the leader, and the SNAP body's bytes.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use super::history::{
    pair_packets, sync_follower, sync_follower_from_log, CommittedLog, SyncPlan, Txn, ZabConfig,
};
use super::wire::payload::{
    AckEpoch, Bare, LeaderInfo, LearnerInfo, LearnerKind, NewLeader, Ping, LEARNER_PROTOCOL_VERSION,
};
use super::wire::quorum_packet::{PacketType, QuorumPacket};
use super::{counter_of, Sid, Zxid};

/// An observer's connection, named by the driver.
pub type ConnId = u64;

/// What happens to the observer master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An observer connected to the observer master port.
    Accepted { conn: ConnId },
    /// A packet arrived on `conn`.
    Received { conn: ConnId, packet: QuorumPacket },
    /// `conn` broke.
    Disconnected { conn: ConnId },
    /// The leader committed this proposal (its COMMIT reached the follower, which holds
    /// the PROPOSAL): observers get it as an INFORM.
    Committed(Txn),
    /// The follower applied these txns, in zxid order; `through` is its tree's last
    /// zxid after them.
    Applied { txns: Vec<Txn>, through: Zxid },
    /// Time passed: pings and read timeouts.
    Tick,
    /// The answer to [`Action::ReadLog`]: the log's records from the observer's zxid
    /// on, or nothing where the log cannot serve it.
    LogRead { conn: ConnId, txns: Vec<Txn> },
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `packet` to `conn`.
    Send { conn: ConnId, packet: QuorumPacket },
    /// Right after the SNAP packet just sent on `conn`, stream the follower's database
    /// as of `zxid` (its tree has applied exactly that far).
    SendSnapshot { conn: ConnId, zxid: Zxid },
    /// Read the on-disk log from `from` on for an observer below the window, and report
    /// it as [`Input::LogRead`].
    ReadLog { conn: ConnId, from: Zxid },
    /// Close `conn`; its handler is gone.
    Close { conn: ConnId, reason: String },
}

/// Where one observer connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Waiting for OBSERVERINFO.
    WaitInfo,
    /// LEADERINFO sent; the next packet must be ACKEPOCH.
    WaitAckEpoch,
    /// Its sync waits for the on-disk log.
    WaitLogRead,
    /// Synced and NEWLEADER queued: INFORMs go to it; the next packet must be an ACK.
    WaitNewLeaderAck,
    /// UPTODATE sent.
    Broadcast,
}

#[derive(Debug, Clone)]
struct Handler {
    stage: Stage,
    sid: Sid,
    peer_last_zxid: Zxid,
    last_heard_ms: u64,
}

/// One following's observer master.
#[derive(Debug, Clone)]
pub struct ObserverMaster {
    config: ZabConfig,
    /// The follower's current epoch: the established leader's.
    epoch: i64,
    /// The ensemble's config text, sent with NEWLEADER.
    config_text: Option<Bytes>,
    /// What the follower applied (its `committedLog` and last processed zxid).
    history: CommittedLog,
    /// Committed and informed, not yet applied here (`committedPkts` past the tree).
    informed: VecDeque<Txn>,
    /// The last zxid informed or applied (`getLastProposed`).
    last_informed: Zxid,
    handlers: BTreeMap<ConnId, Handler>,
    next_ping_ms: u64,
}

impl ObserverMaster {
    /// An observer master over a follower in broadcast: `applied` is its tree's last
    /// zxid and `window` its newest applied txns (the DIFF window).
    pub fn new(
        config: ZabConfig,
        epoch: i64,
        config_text: Option<Bytes>,
        applied: Zxid,
        window: impl IntoIterator<Item = Txn>,
    ) -> ObserverMaster {
        let history = CommittedLog::new(config.commit_log_count, applied, window);
        ObserverMaster {
            config,
            epoch,
            config_text,
            last_informed: history.last_processed(),
            history,
            informed: VecDeque::new(),
            handlers: BTreeMap::new(),
            next_ping_ms: 0,
        }
    }

    /// Observers connected, and those of them in broadcast.
    pub fn observer_counts(&self) -> (usize, usize) {
        let synced = self
            .handlers
            .values()
            .filter(|h| h.stage == Stage::Broadcast)
            .count();
        (self.handlers.len(), synced)
    }

    /// The sid an observer connection said it has.
    pub fn sid_of(&self, conn: ConnId) -> Option<Sid> {
        self.handlers.get(&conn).map(|h| h.sid).filter(|s| *s >= 0)
    }

    /// Whether `conn` is synced (UPTODATE sent): its REQUESTs and REVALIDATEs count.
    pub fn is_broadcasting(&self, conn: ConnId) -> bool {
        self.handlers
            .get(&conn)
            .is_some_and(|h| h.stage == Stage::Broadcast)
    }

    pub fn step(&mut self, input: Input, now_ms: u64, out: &mut Vec<Action>) {
        match input {
            Input::Accepted { conn } => {
                self.handlers.insert(
                    conn,
                    Handler {
                        stage: Stage::WaitInfo,
                        sid: -1,
                        peer_last_zxid: -1,
                        last_heard_ms: now_ms,
                    },
                );
            }
            Input::Received { conn, packet } => self.received(conn, packet, now_ms, out),
            Input::Disconnected { conn } => {
                self.handlers.remove(&conn);
            }
            Input::Committed(txn) => self.proposal_committed(txn, out),
            Input::Applied { txns, through } => self.applied(txns, through),
            Input::Tick => self.tick(now_ms, out),
            Input::LogRead { conn, txns } => self.log_read(conn, &txns, out),
        }
    }

    fn received(&mut self, conn: ConnId, p: QuorumPacket, now: u64, out: &mut Vec<Action>) {
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        h.last_heard_ms = now;
        match h.stage {
            Stage::WaitInfo => self.process_observer_info(conn, &p, out),
            Stage::WaitAckEpoch => self.process_ack_epoch(conn, &p, out),
            Stage::WaitLogRead => self.close(
                conn,
                format!("unexpected {:?} while its sync is prepared", p.kind),
                out,
            ),
            Stage::WaitNewLeaderAck => self.process_ack_ld(conn, &p, out),
            Stage::Broadcast => {
                // ObserverMaster.processAck: the ACK of UPTODATE (an epoch zxid) is
                // ignored; an observer acking a proposal is a protocol error.
                if p.kind == PacketType::Ack && counter_of(p.zxid) != 0 {
                    self.close(
                        conn,
                        format!("observers shouldn't send ACKs (0x{:x})", p.zxid),
                        out,
                    );
                }
                // PING replies, REQUEST and REVALIDATE are the driver's; Java logs
                // and ignores anything else.
            }
        }
    }

    /// OBSERVERINFO: its sid; LEADERINFO with our epoch goes back at once.
    fn process_observer_info(&mut self, conn: ConnId, p: &QuorumPacket, out: &mut Vec<Action>) {
        if p.kind != PacketType::ObserverInfo {
            return self.close(
                conn,
                format!(
                    "non observer attempting to connect to ObserverMaster: {:?}",
                    p.kind
                ),
                out,
            );
        }
        let info = match LearnerInfo::read(p) {
            Ok(info) => info,
            Err(e) => return self.close(conn, format!("first packet: {e}"), out),
        };
        debug_assert_eq!(info.kind, LearnerKind::Observer);
        let Some(sid) = info.sid else {
            return self.close(conn, "learner info without a server id".into(), out);
        };
        if info.protocol_version.unwrap_or(0) < LEARNER_PROTOCOL_VERSION {
            return self.close(conn, "learner protocol older than 0x10000".into(), out);
        }
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        h.sid = sid;
        h.stage = Stage::WaitAckEpoch;
        out.push(Action::Send {
            conn,
            packet: LeaderInfo::new(self.epoch).packet(),
        });
    }

    /// ACKEPOCH: the observer's last zxid; sync it now (no quorum to wait for).
    fn process_ack_epoch(&mut self, conn: ConnId, p: &QuorumPacket, out: &mut Vec<Action>) {
        let ack = match AckEpoch::read(p) {
            Ok(ack) => ack,
            Err(e) => return self.close(conn, format!("expected ACKEPOCH: {e}"), out),
        };
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        h.peer_last_zxid = ack.last_zxid;
        if self.config.log_sync && ack.last_zxid < self.history.min_zxid() {
            h.stage = Stage::WaitLogRead;
            out.push(Action::ReadLog {
                conn,
                from: ack.last_zxid,
            });
            return;
        }
        let plan = sync_follower(ack.last_zxid, &self.history);
        self.send_sync_plan(conn, plan, out);
    }

    fn log_read(&mut self, conn: ConnId, disk: &[Txn], out: &mut Vec<Action>) {
        let Some(h) = self.handlers.get(&conn) else {
            return;
        };
        if h.stage != Stage::WaitLogRead {
            return;
        }
        let plan = sync_follower_from_log(h.peer_last_zxid, disk, &self.history);
        self.send_sync_plan(conn, plan, out);
    }

    /// The plan, the commits informed past it, then NEWLEADER.
    fn send_sync_plan(&mut self, conn: ConnId, plan: SyncPlan, out: &mut Vec<Action>) {
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        let last_queued = plan.last_queued(h.peer_last_zxid);
        let (opening, snapshot, pairs) = plan.into_wire();
        out.push(Action::Send {
            conn,
            packet: opening,
        });
        if let Some(zxid) = snapshot {
            out.push(Action::SendSnapshot { conn, zxid });
        }
        // `startForwarding`: what was committed but is not yet applied here follows
        // what the sync brought.
        let forwarded = self.informed.iter().filter(|t| t.zxid > last_queued);
        for t in pairs.iter().chain(forwarded) {
            for packet in pair_packets(t) {
                out.push(Action::Send { conn, packet });
            }
        }
        h.stage = Stage::WaitNewLeaderAck;
        out.push(Action::Send {
            conn,
            packet: NewLeader {
                new_epoch: self.epoch,
                config: self.config_text.clone(),
            }
            .packet(),
        });
    }

    /// The one packet after NEWLEADER must be an ACK; UPTODATE follows at once.
    fn process_ack_ld(&mut self, conn: ConnId, p: &QuorumPacket, out: &mut Vec<Action>) {
        if p.kind != PacketType::Ack {
            return self.close(
                conn,
                format!("next packet was supposed to be an ACK, got {:?}", p.kind),
                out,
            );
        }
        if let Some(h) = self.handlers.get_mut(&conn) {
            h.stage = Stage::Broadcast;
            out.push(Action::Send {
                conn,
                packet: Bare::up_to_date(),
            });
        }
    }

    /// `proposalCommitted`: an INFORM to every observer past its sync.
    fn proposal_committed(&mut self, txn: Txn, out: &mut Vec<Action>) {
        if txn.zxid <= self.last_informed {
            return;
        }
        self.last_informed = txn.zxid;
        let packet = QuorumPacket::with_data(PacketType::Inform, txn.zxid, txn.data.clone());
        for (&conn, h) in &self.handlers {
            if h.stage >= Stage::WaitNewLeaderAck {
                out.push(Action::Send {
                    conn,
                    packet: packet.clone(),
                });
            }
        }
        self.informed.push_back(txn);
    }

    fn applied(&mut self, txns: Vec<Txn>, through: Zxid) {
        for t in txns {
            if t.zxid > self.history.last_processed() {
                self.history.push(t);
            }
        }
        if through > self.history.last_processed() {
            // Applied without a txn this machine saw (none in practice: the driver
            // hands over every applied txn): the window no longer reaches the tree,
            // so a sync from here must be SNAP.
            self.history = CommittedLog::new(self.config.commit_log_count, through, []);
        }
        let done = self.history.last_processed();
        while self.informed.front().is_some_and(|t| t.zxid <= done) {
            self.informed.pop_front();
        }
        self.last_informed = self.last_informed.max(done);
    }

    fn tick(&mut self, now: u64, out: &mut Vec<Action>) {
        let init = self.config.init_limit_ms();
        let sync = self.config.sync_limit_ms();
        let silent: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| {
                let limit = match h.stage {
                    Stage::WaitInfo | Stage::WaitAckEpoch | Stage::WaitNewLeaderAck => init,
                    Stage::Broadcast => sync,
                    Stage::WaitLogRead => return false,
                };
                now.saturating_sub(h.last_heard_ms) > limit
            })
            .map(|(&c, _)| c)
            .collect();
        for conn in silent {
            self.close(conn, "read timeout".into(), out);
        }
        if now < self.next_ping_ms {
            return;
        }
        self.next_ping_ms = now + self.config.ping_interval_ms();
        // LearnerHandler.ping: only once its packets flow (after the sync).
        let ping = Ping::packet(self.last_informed);
        for (&conn, h) in &self.handlers {
            if h.stage >= Stage::WaitNewLeaderAck {
                out.push(Action::Send {
                    conn,
                    packet: ping.clone(),
                });
            }
        }
    }

    fn close(&mut self, conn: ConnId, reason: String, out: &mut Vec<Action>) {
        self.handlers.remove(&conn);
        out.push(Action::Close { conn, reason });
    }
}

#[cfg(test)]
mod tests;
