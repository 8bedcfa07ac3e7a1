//! The leader side of ZAB after the election, as ZooKeeper 3.8/3.9's `Leader` and its
//! `LearnerHandler`s run it, as a pure state machine: [`Leader::step`] takes one
//! [`Input`] and the time and pushes [`Action`]s.
//!
//! One `Leader` lives for one leadership: from the election's decision to the first
//! failure, which ends it with [`Action::GoLooking`]. Each learner connection is a
//! [`ConnId`] the driver chose; the machine keeps what Java keeps in that connection's
//! `LearnerHandler` (its stage, its sid, when it was last heard).
//!
//! Phases, each bounded by `initLimit` ticks before broadcast:
//! discovery (gather a voter quorum's FOLLOWERINFO, pick `max(acceptedEpoch) + 1`),
//! epoch acks (a voter quorum's ACKEPOCH), NEWLEADER acks (a voter quorum synced and
//! durable), then broadcast (propose, count ACKs, commit in zxid order).
//!
//! The driver executes actions in order. [`Action::WriteAcceptedEpoch`] and
//! [`Action::WriteCurrentEpoch`] are durable before the next action;
//! [`Action::Persist`] is asynchronous and completes as [`Input::Persisted`], in log
//! order. The leader counts its own ACK of a proposal only then, and applies a commit
//! only once it is durable here.
//!
//! Spec names (`zookeeper-specifications/system-spec/zk-3.7`):
//! - `LeaderProcessFOLLOWERINFO`: `Leader::process_follower_info` (`getEpochToPropose`).
//! - `LeaderProcessACKEPOCH`: `Leader::process_ack_epoch` (`waitForEpochAck`).
//! - `LeaderSyncFollower`: `Leader::sync_follower` (`syncFollower`, `startForwarding`,
//!   NEWLEADER).
//! - `LeaderProcessACKLD`: `Leader::process_ack_ld` (`waitForNewLeaderAck`).
//! - `StartZkServer`, `LeaderTurnToBroadcast`: `Leader::start_zk_server`.
//! - `LeaderProcessRequest`: [`Input::Propose`] → `Leader::propose`.
//! - `LeaderProcessACK`: `Leader::process_ack` and `Leader::try_to_commit`.
//! - (Java only) `LearnerHandler.ping`'s `SyncLimitCheck`: `SyncLimitCheck`, checked at
//!   each tick of broadcast.
//!
//! Never here: sockets, the SNAP body's bytes, sessions and forwarded REQUESTs,
//! REVALIDATE, SYNC, reconfiguration, `forceSnapshotSync`, reading the on-disk log for a
//! learner below the in-memory window ([`Action::ReadLog`]: the driver reads, the
//! machine decides), and the concurrent-snapshot-sync throttle.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use super::history::{
    pair_packets, sync_follower, sync_follower_from_log, CommittedLog, SyncPlan, Txn, ZabConfig,
};
use super::quorum::QuorumMaj;
use super::wire::payload::{
    AckEpoch, Bare, LeaderInfo, LearnerInfo, LearnerKind, NewLeader, Ping, LEARNER_PROTOCOL_VERSION,
};
use super::wire::quorum_packet::{PacketType, QuorumPacket};
use super::{counter_of, epoch_of, make_zxid, zxid_of_epoch, Sid, Zxid};

#[cfg(test)]
mod tests;

/// A learner connection, named by the driver.
pub type ConnId = u64;

/// The counter that may never be used: proposing it forces a new election
/// (ZOOKEEPER-1277), so that the next epoch starts the counter afresh.
pub const COUNTER_ROLLOVER: i64 = 0xffff_ffff;

/// What happens to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The election chose us (`Leader.lead`). `now_ms` starts the discovery deadline.
    Start,
    /// A learner connected to the quorum port.
    Accepted { conn: ConnId },
    /// A packet arrived on `conn`, decoded by `wire::quorum_packet`.
    Received { conn: ConnId, packet: QuorumPacket },
    /// `conn` broke.
    Disconnected { conn: ConnId },
    /// Every [`Action::Persist`] up to and including `through` is durable.
    Persisted { through: Zxid },
    /// A write to replicate (the PROPOSAL data: TxnHeader, txn, digest). Only in
    /// broadcast ([`Leader::is_broadcasting`]); otherwise ignored.
    Propose { data: Bytes },
    /// Time passed; a timer set by [`Action::SetTimer`] may have expired.
    Tick,
    /// The answer to [`Action::ReadLog`] for `conn`: the log's records from the
    /// learner's zxid on, or nothing where the log cannot serve it (it does not reach
    /// back that far, it is over the size limit, or it could not be read).
    LogRead { conn: ConnId, txns: Vec<Txn> },
    /// A `sync` arrived (one request may stand for several that arrived before it):
    /// prove that we still lead before it is answered. PINGs go to the voters now;
    /// [`Action::LeadershipConfirmed`] with this `id` follows once a quorum has
    /// answered something sent from here on. `id`s must increase.
    ConfirmLeadership { id: u64 },
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `packet` to `conn`.
    Send { conn: ConnId, packet: QuorumPacket },
    /// Right after the SNAP packet just sent on `conn`, stream the database as of
    /// `zxid` (the SNAP body, §4.5 of the reference).
    SendSnapshot { conn: ConnId, zxid: Zxid },
    /// Read the on-disk log from the txn `from` on (`getProposalsFromTxnLog`) for a
    /// learner below the in-memory window, and report it as [`Input::LogRead`]; the
    /// learner's sync waits for it.
    ReadLog { conn: ConnId, from: Zxid },
    /// Close `conn`; its handler is gone.
    Close { conn: ConnId, reason: String },
    /// Durably write the `acceptedEpoch` file before the next action.
    WriteAcceptedEpoch { epoch: i64 },
    /// Durably write the `currentEpoch` file before the next action.
    WriteCurrentEpoch { epoch: i64 },
    /// Append `txn` to the log; report [`Input::Persisted`] when durable.
    Persist(Txn),
    /// The txns up to `through` are committed and durable here: apply those not yet in
    /// the database, in zxid order, and answer their clients.
    Apply { through: Zxid },
    /// Deliver [`Input::Tick`] at or after `at_ms`. Replaces any earlier timer.
    SetTimer { at_ms: u64 },
    /// A quorum acked NEWLEADER (`startZkServer`): serve clients, accept proposals, and
    /// report `epoch` to the election (`Fle` `Input::Synced`).
    Established { epoch: i64 },
    /// Stop leading; the machine is done. The driver closes every learner connection
    /// and starts an election.
    GoLooking { reason: String },
    /// Every [`Input::ConfirmLeadership`] up to `id` is proven: a quorum of voters
    /// still followed us after it arrived, so no other leader had committed anything
    /// then. It comes before any COMMIT of a txn proposed after that request, so a
    /// learner's SYNC, due at that COMMIT, is never held behind it.
    LeadershipConfirmed { id: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// `getEpochToPropose`: waiting for a voter quorum of FOLLOWERINFO.
    Discovery,
    /// `waitForEpochAck`.
    WaitEpochAcks,
    /// `waitForNewLeaderAck`.
    WaitNewLeaderAcks,
    /// `startZkServer` done.
    Broadcast,
    /// Gone looking; every input is ignored.
    Done,
}

/// Where one learner connection is (`LearnerHandler.run`'s position).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Waiting for FOLLOWERINFO or OBSERVERINFO.
    WaitInfo,
    /// Blocked in `getEpochToPropose` until the epoch is decided.
    WaitEpoch,
    /// LEADERINFO sent; the next packet must be ACKEPOCH.
    WaitAckEpoch,
    /// Blocked in `waitForEpochAck`; `peer_last_zxid` known.
    WaitEpochQuorum,
    /// Its sync waits for the on-disk log ([`Action::ReadLog`]).
    WaitLogRead,
    /// Synced and NEWLEADER queued (forwarding); the next packet must be an ACK.
    WaitNewLeaderAck,
    /// Its NEWLEADER ACK read; blocked until the leader is established.
    WaitEstablished,
    /// UPTODATE sent.
    Broadcast,
}

#[derive(Debug, Clone)]
struct Handler {
    stage: Stage,
    sid: Sid,
    kind: LearnerKind,
    /// The ACKEPOCH zxid.
    peer_last_zxid: Zxid,
    last_heard_ms: u64,
    /// `tickOfNextAckDeadline`: the learner counts as synced until then.
    synced_until_ms: u64,
    /// Its proposals in broadcast not yet acked, as Java tracks them.
    sync_check: SyncLimitCheck,
    /// PINGs sent in broadcast, and the PING replies received. A learner answers each
    /// PING that comes after UPTODATE, once and in order (Java's `Learner.ping`; a
    /// PING before UPTODATE is dropped unanswered), so reply number n answers the n-th
    /// PING sent in broadcast.
    pings_sent: u64,
    pongs: u64,
    /// The highest zxid it acked in broadcast.
    last_ack: Zxid,
}

/// `LearnerHandler.SyncLimitCheck`: the oldest PROPOSAL sent to a follower in broadcast
/// that it has not acked, and the newest one sent since. At each ping a follower whose
/// oldest is `syncLimit` ticks old is closed, even while it answers pings: its log has
/// stopped. Java keeps these two slots only (when the oldest is acked the newest takes
/// its place, skipping those between), and so does this, to close exactly when it does.
#[derive(Debug, Clone, Default)]
struct SyncLimitCheck {
    current: Option<(Zxid, u64)>,
    next: Option<(Zxid, u64)>,
}

impl SyncLimitCheck {
    fn proposed(&mut self, zxid: Zxid, now: u64) {
        if self.current.is_none() {
            self.current = Some((zxid, now));
        } else {
            self.next = Some((zxid, now));
        }
    }

    fn acked(&mut self, zxid: Zxid) {
        if self.current.is_some_and(|(z, _)| z == zxid) {
            self.current = self.next.take();
        } else if self.next.is_some_and(|(z, _)| z == zxid) {
            self.next = None;
        }
    }

    fn within(&self, now: u64, limit_ms: u64) -> bool {
        self.current
            .is_none_or(|(_, sent)| now.saturating_sub(sent) < limit_ms)
    }
}

impl Handler {
    /// A voter that sent FOLLOWERINFO: its acks count (an observer, or a configured
    /// observer sending FOLLOWERINFO, never counts).
    fn participant(&self, quorum: &QuorumMaj) -> bool {
        self.follower() && quorum.is_voter(self.sid)
    }

    /// Sent FOLLOWERINFO (Java's `LearnerType.PARTICIPANT` handler): gets PROPOSAL and
    /// COMMIT, even as a "non-voting follower" whose acks never count.
    fn follower(&self) -> bool {
        self.kind == LearnerKind::Follower
    }

    /// Registered by `startForwarding`: live proposals and commits go to it.
    fn forwarding(&self) -> bool {
        self.stage >= Stage::WaitNewLeaderAck
    }
}

/// An [`Input::ConfirmLeadership`] waiting for its quorum.
#[derive(Debug, Clone)]
struct Confirmation {
    id: u64,
    /// What we had proposed when it arrived: an ACK of anything later was sent after it.
    proposed: Zxid,
    /// Per learner connection, the number of PINGs it had been sent with this one's.
    pings: BTreeMap<ConnId, u64>,
}

/// A proposal waiting for its quorum.
#[derive(Debug, Clone)]
struct Outstanding {
    data: Bytes,
    /// Voters that acked; the leader only once its own persist is done.
    acks: BTreeSet<Sid>,
}

/// One leadership.
#[derive(Debug, Clone)]
pub struct Leader {
    myid: Sid,
    quorum: QuorumMaj,
    config: ZabConfig,
    phase: Phase,
    /// Deadline of the current pre-broadcast phase.
    phase_deadline_ms: u64,
    accepted_epoch: i64,
    current_epoch: i64,
    /// `leaderStateSummary`: `(currentEpoch, lastZxid)` when leadership began.
    summary: (i64, Zxid),
    /// The epoch to propose; decided when the discovery phase ends.
    epoch: i64,
    /// `connectingFollowers`: voters (and us) that sent FOLLOWERINFO.
    connecting: BTreeSet<Sid>,
    /// `electingFollowers`: voters (and us) whose ACKEPOCH counts.
    electing: BTreeSet<Sid>,
    /// `newLeaderProposal`'s ackers: voters (and us) that acked NEWLEADER.
    new_leader_acks: BTreeSet<Sid>,
    /// The committed and applied proposals (`committedLog`, `lastProcessedZxid`).
    history: CommittedLog,
    /// Committed, waiting for our own persist before they are applied (`toBeApplied`).
    to_be_applied: VecDeque<Txn>,
    /// `outstandingProposals`, by zxid.
    outstanding: BTreeMap<Zxid, Outstanding>,
    last_proposed: Zxid,
    last_committed: Zxid,
    /// Our own log is durable up to here.
    persisted: Zxid,
    handlers: BTreeMap<ConnId, Handler>,
    /// Leadership checks not yet proven, oldest first.
    confirmations: VecDeque<Confirmation>,
}

impl Leader {
    /// A leader over a loaded database: `last_zxid` is the end of the (durable) log and
    /// `history_tail` its newest txns, at most `commit_log_count` of which are kept for
    /// DIFF syncs. Feed [`Input::Start`] to begin.
    pub fn new(
        myid: Sid,
        quorum: QuorumMaj,
        config: ZabConfig,
        accepted_epoch: i64,
        current_epoch: i64,
        last_zxid: Zxid,
        history_tail: impl IntoIterator<Item = Txn>,
    ) -> Leader {
        let history = CommittedLog::new(config.commit_log_count, last_zxid, history_tail);
        Leader {
            myid,
            quorum,
            config,
            phase: Phase::Discovery,
            phase_deadline_ms: 0,
            accepted_epoch,
            current_epoch,
            summary: (current_epoch, last_zxid),
            epoch: -1,
            connecting: BTreeSet::new(),
            electing: BTreeSet::new(),
            new_leader_acks: BTreeSet::new(),
            history,
            to_be_applied: VecDeque::new(),
            outstanding: BTreeMap::new(),
            last_proposed: last_zxid,
            last_committed: last_zxid,
            persisted: last_zxid,
            handlers: BTreeMap::new(),
            confirmations: VecDeque::new(),
        }
    }

    /// The epoch being established, once decided.
    pub fn epoch(&self) -> Option<i64> {
        (self.phase > Phase::Discovery).then_some(self.epoch)
    }

    pub fn is_broadcasting(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn last_proposed(&self) -> Zxid {
        self.last_proposed
    }

    /// The sid a learner connection said it has (once its FOLLOWERINFO came).
    pub fn sid_of(&self, conn: ConnId) -> Option<Sid> {
        self.handlers
            .get(&conn)
            .map(|h| h.sid)
            .filter(|sid| *sid >= 0)
    }

    /// The learners connected now, for `mntr`: `(learners, synced followers that
    /// vote, synced followers that do not, synced observers)`; synced means in
    /// broadcast.
    pub fn learner_counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (self.handlers.len(), 0, 0, 0);
        for h in self.handlers.values() {
            if h.stage != Stage::Broadcast {
                continue;
            }
            if h.participant(&self.quorum) {
                c.1 += 1;
            } else if h.follower() {
                c.2 += 1;
            } else {
                c.3 += 1;
            }
        }
        c
    }

    /// The zxid the next [`Input::Propose`] gets (the driver builds the txn header with
    /// it before proposing); meaningful while broadcasting.
    pub fn next_zxid(&self) -> Zxid {
        make_zxid(self.epoch, counter_of(self.last_proposed) + 1)
    }

    pub fn last_committed(&self) -> Zxid {
        self.last_committed
    }

    /// Feeds one input at time `now_ms`; the actions it causes are appended to `out`.
    pub fn step(&mut self, input: Input, now_ms: u64, out: &mut Vec<Action>) {
        if self.phase == Phase::Done {
            return;
        }
        match input {
            Input::Start => self.lead(now_ms, out),
            Input::Accepted { conn } => {
                self.handlers.insert(
                    conn,
                    Handler {
                        stage: Stage::WaitInfo,
                        sid: -1,
                        kind: LearnerKind::Follower,
                        peer_last_zxid: -1,
                        last_heard_ms: now_ms,
                        synced_until_ms: now_ms
                            + self.config.init_limit_ms()
                            + self.config.sync_limit_ms(),
                        sync_check: SyncLimitCheck::default(),
                        pings_sent: 0,
                        pongs: 0,
                        last_ack: 0,
                    },
                );
            }
            Input::Received { conn, packet } => self.received(conn, packet, now_ms, out),
            Input::Disconnected { conn } => {
                self.handlers.remove(&conn);
            }
            Input::Persisted { through } => self.persisted(through, out),
            Input::Propose { data } => self.propose(data, now_ms, out),
            Input::Tick => self.tick(now_ms, out),
            Input::LogRead { conn, txns } => self.log_read(conn, &txns, out),
            Input::ConfirmLeadership { id } => self.confirm_leadership(id, out),
        }
        #[cfg(test)]
        self.validate();
    }

    /// The O(n) invariants, checked after every step in unit tests.
    #[cfg(test)]
    fn validate(&self) {
        assert!(self.history.last_processed() <= self.last_committed);
        assert!(self.last_committed <= self.last_proposed || self.phase < Phase::WaitNewLeaderAcks);
        let mut prev = self.history.last_processed();
        for t in &self.to_be_applied {
            assert!(t.zxid > prev && t.zxid <= self.last_committed && t.zxid > self.persisted);
            prev = t.zxid;
        }
        for (&zxid, p) in &self.outstanding {
            assert!(zxid > self.last_committed && zxid <= self.last_proposed);
            assert!(p
                .acks
                .iter()
                .all(|s| *s == self.myid || self.quorum.is_voter(*s)));
        }
    }

    /// `Leader.lead`'s start: our own FOLLOWERINFO, so to speak.
    fn lead(&mut self, now: u64, out: &mut Vec<Action>) {
        self.phase_deadline_ms = now + self.config.init_limit_ms();
        out.push(Action::SetTimer {
            at_ms: now + self.config.ping_interval_ms(),
        });
        self.epoch = self.accepted_epoch + 1;
        self.connecting.insert(self.myid);
        self.check_epoch_quorum(now, out);
    }

    fn received(&mut self, conn: ConnId, p: QuorumPacket, now: u64, out: &mut Vec<Action>) {
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        h.last_heard_ms = now;
        h.synced_until_ms = now + self.config.sync_limit_ms();
        match h.stage {
            Stage::WaitInfo => self.process_follower_info(conn, &p, now, out),
            Stage::WaitAckEpoch => self.process_ack_epoch(conn, &p, now, out),
            Stage::WaitNewLeaderAck => self.process_ack_ld(conn, &p, out),
            Stage::WaitEpoch | Stage::WaitEpochQuorum | Stage::WaitLogRead => {
                // Java's handler is blocked and does not read; a learner that talks
                // out of turn breaks the protocol.
                self.close(
                    conn,
                    format!("unexpected {:?} during discovery", p.kind),
                    out,
                )
            }
            Stage::WaitEstablished | Stage::Broadcast => self.process_in_broadcast(conn, &p, out),
        }
    }

    /// `LeaderProcessFOLLOWERINFO`: learn the learner's sid and accepted epoch; the new
    /// epoch is one above every accepted epoch seen (observers' too) until a voter
    /// quorum, us included, has connected.
    fn process_follower_info(
        &mut self,
        conn: ConnId,
        p: &QuorumPacket,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let info = match LearnerInfo::read(p) {
            Ok(info) => info,
            Err(e) => return self.close(conn, format!("first packet: {e}"), out),
        };
        let Some(sid) = info.sid else {
            return self.close(conn, "learner info without a server id".into(), out);
        };
        if info.protocol_version.unwrap_or(0) < LEARNER_PROTOCOL_VERSION {
            return self.close(conn, "learner protocol older than 0x10000".into(), out);
        }
        if info.config_version.unwrap_or(0) > self.quorum.version() {
            return self.close(conn, "learner's config is newer than ours".into(), out);
        }
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        h.sid = sid;
        h.kind = info.kind;
        let participant = h.participant(&self.quorum);
        if self.phase == Phase::Discovery {
            h.stage = Stage::WaitEpoch;
            if info.accepted_epoch >= self.epoch {
                self.epoch = info.accepted_epoch + 1;
            }
            if participant {
                self.connecting.insert(sid);
            }
            self.check_epoch_quorum(now, out);
        } else {
            // The epoch is decided; late learners get it as is.
            h.stage = Stage::WaitAckEpoch;
            out.push(Action::Send {
                conn,
                packet: LeaderInfo::new(self.epoch).packet(),
            });
        }
    }

    /// The end of `getEpochToPropose`: with a quorum connected, the epoch is ours.
    fn check_epoch_quorum(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.phase != Phase::Discovery || !self.quorum.contains_quorum(&self.connecting) {
            return;
        }
        self.phase = Phase::WaitEpochAcks;
        self.phase_deadline_ms = now + self.config.init_limit_ms();
        self.accepted_epoch = self.epoch;
        out.push(Action::WriteAcceptedEpoch { epoch: self.epoch });
        let leader_info = LeaderInfo::new(self.epoch).packet();
        for (&conn, h) in self.handlers.iter_mut() {
            if h.stage == Stage::WaitEpoch {
                h.stage = Stage::WaitAckEpoch;
                out.push(Action::Send {
                    conn,
                    packet: leader_info.clone(),
                });
            }
        }
        // The leader's own epoch ack (`waitForEpochAck(self.getId(), ...)`).
        self.electing.insert(self.myid);
        self.check_epoch_ack_quorum(now, out);
    }

    /// `LeaderProcessACKEPOCH`: a learner ahead of us must not be synced by us; an ack
    /// counts when the learner had not accepted the epoch before, has a log, and votes.
    fn process_ack_epoch(
        &mut self,
        conn: ConnId,
        p: &QuorumPacket,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        let ack = match AckEpoch::read(p) {
            Ok(ack) => ack,
            Err(e) => return self.close(conn, format!("expected ACKEPOCH: {e}"), out),
        };
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        h.peer_last_zxid = ack.last_zxid;
        h.stage = Stage::WaitEpochQuorum;
        if self.phase != Phase::WaitEpochAcks {
            // `electionFinished`: sync at once, without the freshness check (a learner
            // synced earlier in this epoch is ahead of the old summary).
            return self.sync_follower(conn, out);
        }
        let participant = h.participant(&self.quorum);
        let sid = h.sid;
        if ack.current_epoch != AckEpoch::ALREADY_ACCEPTED {
            let theirs = (i64::from(ack.current_epoch), ack.last_zxid);
            if theirs > self.summary && !canary!(self.config, LeaderSyncsLearnerAhead) {
                return self.close(
                    conn,
                    format!(
                        "follower {sid} is ahead of the leader: {theirs:?} > {:?}",
                        self.summary
                    ),
                    out,
                );
            }
            if ack.last_zxid != -1 && participant {
                self.electing.insert(sid);
            }
        }
        self.check_epoch_ack_quorum(now, out);
    }

    /// The end of `waitForEpochAck`: the epoch becomes current and learners are synced.
    fn check_epoch_ack_quorum(&mut self, now: u64, out: &mut Vec<Action>) {
        let skip = canary!(self.config, LeaderSkipsEpochAckQuorum);
        if self.phase != Phase::WaitEpochAcks
            || !(skip || self.quorum.contains_quorum(&self.electing))
        {
            return;
        }
        self.phase = Phase::WaitNewLeaderAcks;
        self.phase_deadline_ms = now + self.config.init_limit_ms();
        self.current_epoch = self.epoch;
        out.push(Action::WriteCurrentEpoch { epoch: self.epoch });
        // `zk.setZxid(makeZxid(epoch, 0))`: proposals of this epoch count from 1.
        self.last_proposed = zxid_of_epoch(self.epoch);
        let waiting: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage == Stage::WaitEpochQuorum)
            .map(|(&c, _)| c)
            .collect();
        for conn in waiting {
            self.sync_follower(conn, out);
        }
        // Our own NEWLEADER ack.
        self.new_leader_acks.insert(self.myid);
        self.check_new_leader_quorum(out);
    }

    /// `LeaderSyncFollower`: DIFF/TRUNC and the missing pairs, or SNAP; then what was
    /// proposed meanwhile (`startForwarding`); then NEWLEADER.
    fn sync_follower(&mut self, conn: ConnId, out: &mut Vec<Action>) {
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        let peer = h.peer_last_zxid;
        if self.config.log_sync && peer < self.history.min_zxid() {
            h.stage = Stage::WaitLogRead;
            out.push(Action::ReadLog { conn, from: peer });
            return;
        }
        let plan = sync_follower(peer, &self.history);
        self.send_sync_plan(conn, plan, out);
    }

    /// The on-disk log a learner below the window waited for: the sync it allows.
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

    /// Sends a sync plan, what was proposed meanwhile, and NEWLEADER.
    fn send_sync_plan(&mut self, conn: ConnId, plan: SyncPlan, out: &mut Vec<Action>) {
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        let peer = h.peer_last_zxid;
        let follower = h.follower();
        #[cfg(feature = "zab-canary")]
        let plan = if canary!(self.config, LeaderDiffsInsteadOfTrunc) {
            super::history::diff_instead_of_trunc(peer, &self.history, plan)
        } else {
            plan
        };
        let last_queued = plan.last_queued(peer);
        // Its ACKs of outstanding proposals from an earlier connection no longer
        // stand: this sync may TRUNC them away (to what we have committed) before it
        // gets them again, below, and ACKs them again. Counted still, they could
        // commit a txn that only a minority holds (found by the simulator: 5 voters,
        // a follower TRUNCed below a proposal it had acked, then crashed).
        let sid = h.sid;
        for p in self.outstanding.values_mut() {
            p.acks.remove(&sid);
        }
        let (opening, snapshot, pairs) = plan.into_wire();
        out.push(Action::Send {
            conn,
            packet: opening,
        });
        if let Some(zxid) = snapshot {
            out.push(Action::SendSnapshot { conn, zxid });
        }
        for t in &pairs {
            Self::send_pair(conn, t, out);
        }
        // `startForwarding`: committed but not yet applied, each above what the sync
        // brought.
        if self.last_proposed > last_queued {
            for t in self.to_be_applied.iter().filter(|t| t.zxid > last_queued) {
                Self::send_pair(conn, t, out);
            }
        }
        h.stage = Stage::WaitNewLeaderAck;
        let new_leader = NewLeader {
            new_epoch: self.epoch,
            config: Some(self.quorum.text().clone()),
        };
        out.push(Action::Send {
            conn,
            packet: new_leader.packet(),
        });
        // Then (followers only) the still outstanding proposals: after NEWLEADER, where
        // Java queues them before it. A ZooKeeper 3.8.0 learner empties its queue of
        // proposals at NEWLEADER, so a COMMIT arriving after NEWLEADER for one sent
        // before it throws an NPE and the learner syncs again (ZOOKEEPER-4394, fixed in
        // the learner in 3.9.3); and the proposals it logs at NEWLEADER may be ACKed
        // before NEWLEADER is (ZOOKEEPER-4685). Sent after it, each is a live proposal,
        // which every learner version takes; their COMMITs come later still.
        if follower && self.last_proposed > last_queued {
            for (&zxid, p) in self.outstanding.range(last_queued + 1..) {
                out.push(Action::Send {
                    conn,
                    packet: QuorumPacket::with_data(PacketType::Proposal, zxid, p.data.clone()),
                });
            }
        }
    }

    fn send_pair(conn: ConnId, t: &Txn, out: &mut Vec<Action>) {
        for packet in pair_packets(t) {
            out.push(Action::Send { conn, packet });
        }
    }

    /// `LeaderProcessACKLD`: the one packet after NEWLEADER must be an ACK; it counts
    /// when it names the new epoch and comes from a voter.
    fn process_ack_ld(&mut self, conn: ConnId, p: &QuorumPacket, out: &mut Vec<Action>) {
        if p.kind != PacketType::Ack {
            return self.close(
                conn,
                format!("next packet was supposed to be an ACK, got {:?}", p.kind),
                out,
            );
        }
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        if p.zxid == zxid_of_epoch(self.epoch) && h.participant(&self.quorum) {
            self.new_leader_acks.insert(h.sid);
        }
        if self.phase == Phase::Broadcast {
            h.stage = Stage::Broadcast;
            out.push(Action::Send {
                conn,
                packet: Bare::up_to_date(),
            });
        } else {
            h.stage = Stage::WaitEstablished;
            self.check_new_leader_quorum(out);
        }
    }

    fn check_new_leader_quorum(&mut self, out: &mut Vec<Action>) {
        if self.phase == Phase::WaitNewLeaderAcks
            && self.quorum.contains_quorum(&self.new_leader_acks)
        {
            self.start_zk_server(out);
        }
    }

    /// `StartZkServer` / `LeaderTurnToBroadcast`: the history is committed by a quorum;
    /// apply it, serve, and release the learners waiting for UPTODATE.
    fn start_zk_server(&mut self, out: &mut Vec<Action>) {
        self.phase = Phase::Broadcast;
        out.push(Action::Apply {
            through: self.history.last_processed(),
        });
        out.push(Action::Established { epoch: self.epoch });
        for (&conn, h) in self.handlers.iter_mut() {
            if h.stage == Stage::WaitEstablished {
                h.stage = Stage::Broadcast;
                out.push(Action::Send {
                    conn,
                    packet: Bare::up_to_date(),
                });
            }
        }
    }

    fn process_in_broadcast(&mut self, conn: ConnId, p: &QuorumPacket, out: &mut Vec<Action>) {
        // A learner's newest connection speaks for its ACKs: what an older one still
        // delivers describes its log before the newer one's sync.
        let superseded = p.kind == PacketType::Ack
            && self.handlers.get(&conn).is_some_and(|h| {
                self.handlers
                    .range(conn + 1..)
                    .any(|(_, other)| other.sid == h.sid)
            });
        let Some(h) = self.handlers.get_mut(&conn) else {
            return;
        };
        if p.kind == PacketType::Ack {
            h.sync_check.acked(p.zxid);
            if counter_of(p.zxid) != 0 {
                h.last_ack = h.last_ack.max(p.zxid);
            }
        }
        match p.kind {
            PacketType::Ack if h.participant(&self.quorum) && !superseded => {
                let sid = h.sid;
                // Before the ACK can commit: a COMMIT of a txn proposed after a
                // confirmation request must find that request proven.
                self.check_confirmations(out);
                self.process_ack(sid, p.zxid, out);
            }
            PacketType::Ping => {
                if let Err(e) = Ping::read_reply(p) {
                    self.close(conn, format!("PING reply: {e}"), out);
                } else {
                    // A reply to no PING (a learner answering twice) must not stand
                    // for a later one.
                    h.pongs = (h.pongs + 1).min(h.pings_sent);
                    self.check_confirmations(out);
                }
            }
            // REQUEST and REVALIDATE need sessions (not here yet); unknown types are
            // logged and ignored by Java.
            _ => {}
        }
    }

    /// `LeaderProcessRequest`: the next zxid of the epoch, unless its counter would
    /// roll over, which forces a new epoch.
    fn propose(&mut self, data: Bytes, now: u64, out: &mut Vec<Action>) {
        if self.phase != Phase::Broadcast {
            return;
        }
        let zxid = make_zxid(self.epoch, counter_of(self.last_proposed) + 1);
        if counter_of(zxid) == COUNTER_ROLLOVER {
            return self.go_looking(
                "zxid lower 32 bits have rolled over, forcing re-election".into(),
                out,
            );
        }
        assert!(zxid > self.last_proposed && epoch_of(zxid) == self.epoch);
        self.last_proposed = zxid;
        out.push(Action::Persist(Txn {
            zxid,
            data: data.clone(),
        }));
        let packet = QuorumPacket::with_data(PacketType::Proposal, zxid, data.clone());
        for (&conn, h) in self.handlers.iter_mut() {
            if h.forwarding() && h.follower() {
                if h.stage == Stage::Broadcast {
                    h.sync_check.proposed(zxid, now);
                }
                out.push(Action::Send {
                    conn,
                    packet: packet.clone(),
                });
            }
        }
        self.outstanding.insert(
            zxid,
            Outstanding {
                data,
                acks: BTreeSet::new(),
            },
        );
    }

    /// Our own log is durable to `through`: our ACK for each proposal up to it.
    fn persisted(&mut self, through: Zxid, out: &mut Vec<Action>) {
        if through <= self.persisted {
            return;
        }
        self.persisted = through;
        let mine: Vec<Zxid> = self
            .outstanding
            .range(..=through)
            .map(|(&z, _)| z)
            .collect();
        for zxid in mine {
            self.process_ack(self.myid, zxid, out);
        }
        self.apply(out);
    }

    /// `LeaderProcessACK` (`processAck`): ACKs of epoch packets, of committed or
    /// unknown zxids are ignored.
    fn process_ack(&mut self, sid: Sid, zxid: Zxid, out: &mut Vec<Action>) {
        if counter_of(zxid) == 0 || zxid <= self.last_committed {
            return;
        }
        let Some(p) = self.outstanding.get_mut(&zxid) else {
            return;
        };
        p.acks.insert(sid);
        self.try_to_commit(out);
    }

    /// `tryToCommit`, repeated: commit the oldest outstanding proposal while it has a
    /// quorum, so commits go strictly in zxid order.
    fn try_to_commit(&mut self, out: &mut Vec<Action>) {
        let mut committed = false;
        while let Some(entry) = self.outstanding.first_entry() {
            if !self.quorum.contains_quorum(&entry.get().acks) {
                break;
            }
            let (zxid, p) = entry.remove_entry();
            assert!(zxid > self.last_committed, "commits out of order");
            self.last_committed = zxid;
            for (&conn, h) in &self.handlers {
                if !h.forwarding() {
                    continue;
                }
                let packet = if h.follower() {
                    Bare::commit(zxid)
                } else {
                    QuorumPacket::with_data(PacketType::Inform, zxid, p.data.clone())
                };
                out.push(Action::Send { conn, packet });
            }
            self.to_be_applied.push_back(Txn { zxid, data: p.data });
            committed = true;
        }
        if committed {
            self.apply(out);
        }
    }

    /// Apply the committed txns that are durable here.
    fn apply(&mut self, out: &mut Vec<Action>) {
        let mut through = None;
        while let Some(t) = self.to_be_applied.front() {
            if t.zxid > self.persisted {
                break;
            }
            through = Some(t.zxid);
            if let Some(t) = self.to_be_applied.pop_front() {
                self.history.push(t);
            }
        }
        if let Some(through) = through {
            out.push(Action::Apply { through });
        }
    }

    fn tick(&mut self, now: u64, out: &mut Vec<Action>) {
        let timeout = match self.phase {
            Phase::Discovery => Some("timeout while waiting for epoch from quorum"),
            Phase::WaitEpochAcks => Some("timeout while waiting for epoch to be acked by quorum"),
            Phase::WaitNewLeaderAcks => {
                Some("timeout while waiting for NEWLEADER to be acked by quorum")
            }
            Phase::Broadcast | Phase::Done => None,
        };
        if let Some(reason) = timeout {
            if now >= self.phase_deadline_ms {
                return self.go_looking(reason.into(), out);
            }
        }
        self.close_silent_handlers(now, out);
        if self.phase == Phase::Broadcast {
            let synced = self.synced_voters(now);
            if !self.quorum.contains_quorum(&synced) {
                return self.go_looking(
                    format!("not sufficient followers synced, only synced with sids: {synced:?}"),
                    out,
                );
            }
            // `LearnerHandler.ping`: a follower that has not acked a proposal for
            // `syncLimit` ticks is closed instead.
            let limit = self.config.sync_limit_ms();
            let stalled: Vec<ConnId> = self
                .handlers
                .iter()
                .filter(|(_, h)| h.stage == Stage::Broadcast && !h.sync_check.within(now, limit))
                .map(|(&c, _)| c)
                .collect();
            for conn in stalled {
                self.close(
                    conn,
                    "transaction timeout: a proposal unacked for syncLimit".into(),
                    out,
                );
            }
            let ping = Ping::packet(self.last_proposed);
            for (&conn, h) in self.handlers.iter_mut() {
                if h.forwarding() {
                    if h.stage == Stage::Broadcast {
                        h.pings_sent += 1;
                    }
                    out.push(Action::Send {
                        conn,
                        packet: ping.clone(),
                    });
                }
            }
        }
        out.push(Action::SetTimer {
            at_ms: now + self.config.ping_interval_ms(),
        });
    }

    /// The voters that count as synced at `now`, this leader included: those heard from
    /// within `syncLimit` ticks (`Leader.lead`'s `syncedAckSet`).
    fn synced_voters(&self, now: u64) -> BTreeSet<Sid> {
        let mut synced: BTreeSet<Sid> = self
            .handlers
            .values()
            .filter(|h| h.forwarding() && h.participant(&self.quorum) && now <= h.synced_until_ms)
            .map(|h| h.sid)
            .collect();
        synced.insert(self.myid);
        synced
    }

    /// `Input::ConfirmLeadership`: a PING to every voter in broadcast; proven once a
    /// quorum answers one sent from now on (or acks a txn proposed from now on).
    ///
    /// Why: ZooKeeper's leader answers a `sync` from its own tree (`processSync`). A
    /// leader that lost its followers to a newer leader but has not noticed yet (its
    /// timer late, its clock slow, or a pause) answers `sync` + read with old data.
    /// The followers that answer this PING were still ours after the `sync` arrived;
    /// any quorum that elected another leader since shares one of them, so nothing was
    /// committed elsewhere before that. (etcd's ReadIndex makes the same round.)
    fn confirm_leadership(&mut self, id: u64, out: &mut Vec<Action>) {
        if self.phase != Phase::Broadcast {
            return;
        }
        let ping = Ping::packet(self.last_proposed);
        let mut pings = BTreeMap::new();
        for (&conn, h) in self.handlers.iter_mut() {
            if h.stage == Stage::Broadcast && h.participant(&self.quorum) {
                h.pings_sent += 1;
                pings.insert(conn, h.pings_sent);
                out.push(Action::Send {
                    conn,
                    packet: ping.clone(),
                });
            }
        }
        self.confirmations.push_back(Confirmation {
            id,
            proposed: self.last_proposed,
            pings,
        });
        self.check_confirmations(out);
    }

    /// Reports the confirmation requests a quorum has proven, in order (a later
    /// request's PINGs went after an earlier one's, so it is never proven first).
    fn check_confirmations(&mut self, out: &mut Vec<Action>) {
        while let Some(c) = self.confirmations.front() {
            let mut heard: BTreeSet<Sid> = self
                .handlers
                .iter()
                .filter(|(conn, h)| {
                    h.stage == Stage::Broadcast
                        && h.participant(&self.quorum)
                        && (c.pings.get(conn).is_some_and(|&n| h.pongs >= n)
                            || h.last_ack > c.proposed)
                })
                .map(|(_, h)| h.sid)
                .collect();
            heard.insert(self.myid);
            if !self.quorum.contains_quorum(&heard) {
                break;
            }
            out.push(Action::LeadershipConfirmed { id: c.id });
            self.confirmations.pop_front();
        }
    }

    /// Whether this leader, in broadcast, still counts a quorum as synced at `now`:
    /// what its next tick checks before it leads on. When a `sync` arrives and when it
    /// is answered, the driver ticks at once if this fails (the tick then gives up), so
    /// a leader resumed after a pause longer than `syncLimit` steps down as soon as a
    /// `sync` comes. What makes the `sync` safe is the PING round
    /// ([`Input::ConfirmLeadership`]), which reads no clock.
    pub fn holds_quorum(&self, now: u64) -> bool {
        self.phase == Phase::Broadcast && self.quorum.contains_quorum(&self.synced_voters(now))
    }

    /// The handlers' socket timeouts: `initLimit` ticks while the handler reads during
    /// discovery and sync, `syncLimit` in broadcast. Blocked handlers do not read, so
    /// the leader's phase deadline bounds them instead.
    fn close_silent_handlers(&mut self, now: u64, out: &mut Vec<Action>) {
        let init = self.config.init_limit_ms();
        let sync = self.config.sync_limit_ms();
        let silent: Vec<ConnId> = self
            .handlers
            .iter()
            .filter(|(_, h)| {
                let limit = match h.stage {
                    Stage::WaitInfo | Stage::WaitAckEpoch | Stage::WaitNewLeaderAck => init,
                    Stage::Broadcast => sync,
                    Stage::WaitEpoch
                    | Stage::WaitEpochQuorum
                    | Stage::WaitLogRead
                    | Stage::WaitEstablished => return false,
                };
                now.saturating_sub(h.last_heard_ms) > limit
            })
            .map(|(&c, _)| c)
            .collect();
        for conn in silent {
            self.close(conn, "read timeout".into(), out);
        }
    }

    fn close(&mut self, conn: ConnId, reason: String, out: &mut Vec<Action>) {
        self.handlers.remove(&conn);
        out.push(Action::Close { conn, reason });
    }

    fn go_looking(&mut self, reason: String, out: &mut Vec<Action>) {
        self.phase = Phase::Done;
        self.handlers.clear();
        out.push(Action::GoLooking { reason });
    }
}
