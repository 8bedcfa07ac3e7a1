//! The learner side of ZAB after the election, as ZooKeeper 3.8/3.9's `Learner` and
//! `Follower` (and `Observer`, which differs only in never ACKing proposals and in
//! taking INFORM) run it, as a pure state machine: [`Learner::step`] takes one
//! [`Input`] and the time and pushes [`Action`]s.
//!
//! One `Learner` lives for one connection to one leader: from the connection to the
//! first error, which ends it with [`Action::GoLooking`]. It owns the protocol's
//! decisions (which epoch to accept, how to sync, when an ACK may go out, what may be
//! applied); the driver owns the socket, the log, the epoch files and the database.
//!
//! The driver executes actions in order. [`Action::WriteAcceptedEpoch`],
//! [`Action::WriteCurrentEpoch`], [`Action::Truncate`] and [`Action::LoadSnapshot`]
//! are durable before the next action runs (Java writes them synchronously too);
//! [`Action::Persist`] is asynchronous and its completion comes back as
//! [`Input::Persisted`], in log order. Acknowledged means durable: an ACK of a proposal,
//! and the ACK of NEWLEADER, leave only after the persist they vouch for is reported
//! done, and nothing is applied before it is both durable here and committed.
//!
//! Spec names (`zookeeper-specifications/system-spec/zk-3.7`):
//! - `ConnectAndFollowerSendFOLLOWERINFO`: [`Input::Connected`].
//! - `FollowerProcessLEADERINFO`: `Learner::process_leader_info`.
//! - `FollowerProcessSyncMessage`: `Learner::process_sync_message` (DIFF, TRUNC, SNAP).
//! - `FollowerProcessPROPOSALInSync`, `FollowerProcessPROPOSAL`:
//!   `Learner::process_proposal`.
//! - `FollowerProcessCOMMITInSync`, `FollowerProcessCOMMIT`: `Learner::process_commit`.
//! - `FollowerProcessNEWLEADER`: `Learner::process_new_leader` and
//!   `Learner::ack_new_leader` (persist, then currentEpoch, then the ACK).
//! - `FollowerProcessUPTODATE`: `Learner::process_up_to_date`.
//!
//! Never here: sockets, connecting and its retries, the SNAP body's bytes, sessions
//! (touch tables, REVALIDATE), forwarded requests and SYNC replies, reconfiguration.

use std::collections::VecDeque;

use super::history::{Txn, ZabConfig};
use super::wire::payload::{
    AckEpoch, Bare, LeaderInfo, LearnerInfo, LearnerKind, NewLeader, Ping, LEARNER_PROTOCOL_VERSION,
};
use super::wire::quorum_packet::{PacketType, QuorumPacket};
use super::{zxid_of_epoch, Sid, Zxid};

#[cfg(test)]
mod tests;

/// What happens to the learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The connection to the leader is up (after any SASL exchange).
    Connected,
    /// A packet arrived from the leader, decoded by `wire::quorum_packet`.
    Received(QuorumPacket),
    /// The connection to the leader broke, or could not be made.
    Disconnected,
    /// Every [`Action::Persist`] up to and including `through` is durable.
    Persisted { through: Zxid },
    /// Time passed; a timer set by [`Action::SetTimer`] may have expired.
    Tick,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `packet` to the leader.
    Send(QuorumPacket),
    /// Durably write the `acceptedEpoch` file before the next action.
    WriteAcceptedEpoch { epoch: i64 },
    /// Durably write the `currentEpoch` file before the next action.
    WriteCurrentEpoch { epoch: i64 },
    /// Cut the log after `zxid` (the log ends at it), durably, before the next action.
    Truncate { zxid: Zxid },
    /// Read the snapshot body that follows the SNAP packet on the connection, make it
    /// the database and the log's new start at `zxid`, durably, before the next action.
    LoadSnapshot { zxid: Zxid },
    /// Append `txn` to the log; report [`Input::Persisted`] when durable.
    Persist(Txn),
    /// Apply the logged txns up to `through` to the state machine, in zxid order; each
    /// is committed and durable here.
    Apply { through: Zxid },
    /// Deliver [`Input::Tick`] at or after `at_ms`. Replaces any earlier timer.
    SetTimer { at_ms: u64 },
    /// UPTODATE: in sync with the leader in `epoch`; serve clients, and report `epoch`
    /// to the election (`Fle` `Input::Synced`, `updateElectionVote`).
    Synced { epoch: i64 },
    /// Stop following; the machine is done. The driver closes the connection and starts
    /// an election.
    GoLooking { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the connection.
    Connecting,
    /// FOLLOWERINFO sent.
    WaitLeaderInfo,
    /// ACKEPOCH sent; the next packet must be DIFF, TRUNC or SNAP.
    WaitSync,
    /// In sync: PROPOSAL/COMMIT pairs and live traffic, up to UPTODATE.
    Syncing,
    /// UPTODATE processed.
    Broadcast,
    /// Gone looking; every input is ignored.
    Done,
}

/// One learner's view of one leader.
#[derive(Debug, Clone)]
pub struct Learner {
    myid: Sid,
    kind: LearnerKind,
    config: ZabConfig,
    config_version: i64,
    phase: Phase,
    accepted_epoch: i64,
    current_epoch: i64,
    /// The epoch of LEADERINFO, once received.
    new_epoch: Option<i64>,
    /// The last zxid in the log, durable or not.
    last_logged: Zxid,
    /// Invariant: `persisted <= last_logged`.
    persisted: Zxid,
    /// The last zxid known committed by the leader.
    committed: Zxid,
    /// The last zxid handed to [`Action::Apply`]. Invariant: `applied <= committed`
    /// and `applied <= persisted`.
    applied: Zxid,
    /// Proposals logged and not yet committed, in zxid order; a COMMIT names the front.
    pending: VecDeque<Zxid>,
    /// Proposals waiting for their ACK (followers only), in zxid order.
    unacked: VecDeque<Zxid>,
    /// Set at NEWLEADER: the log must be durable up to here before its ACK.
    new_leader_needs: Option<Zxid>,
    /// Whether the NEWLEADER ACK went out.
    new_leader_acked: bool,
    /// What was known committed when the NEWLEADER ACK went out: proposals up to here
    /// were committed in sync and get no ACK. Every later one does, even if its COMMIT
    /// overtook our fsync: a Java leader's `SyncLimitCheck` waits for each proposal it
    /// sent after that ACK and drops a learner that skips one ("transaction timeout").
    committed_in_sync: Zxid,
    last_heard_ms: u64,
}

impl Learner {
    /// A learner about to connect to its leader. `last_zxid` is the end of the log and
    /// all of it is durable (the driver lets in-flight writes of an earlier role finish
    /// first); the epochs are the files' values.
    pub fn new(
        myid: Sid,
        kind: LearnerKind,
        config: ZabConfig,
        config_version: i64,
        accepted_epoch: i64,
        current_epoch: i64,
        last_zxid: Zxid,
    ) -> Learner {
        Learner {
            myid,
            kind,
            config,
            config_version,
            phase: Phase::Connecting,
            accepted_epoch,
            current_epoch,
            new_epoch: None,
            last_logged: last_zxid,
            persisted: last_zxid,
            committed: -1,
            applied: -1,
            pending: VecDeque::new(),
            unacked: VecDeque::new(),
            new_leader_needs: None,
            new_leader_acked: false,
            committed_in_sync: -1,
            last_heard_ms: 0,
        }
    }

    pub fn accepted_epoch(&self) -> i64 {
        self.accepted_epoch
    }

    pub fn current_epoch(&self) -> i64 {
        self.current_epoch
    }

    pub fn last_logged(&self) -> Zxid {
        self.last_logged
    }

    /// Whether UPTODATE was processed (the learner serves).
    pub fn is_broadcasting(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// Whether the machine ended with [`Action::GoLooking`].
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Feeds one input at time `now_ms`; the actions it causes are appended to `out`.
    pub fn step(&mut self, input: Input, now_ms: u64, out: &mut Vec<Action>) {
        if self.phase == Phase::Done {
            return;
        }
        match input {
            Input::Connected => self.connected(now_ms, out),
            Input::Received(p) => {
                self.last_heard_ms = now_ms;
                self.received(p, out);
            }
            Input::Disconnected => self.go_looking("connection to the leader closed", out),
            Input::Persisted { through } => self.persisted(through, out),
            Input::Tick => self.tick(now_ms, out),
        }
        #[cfg(test)]
        self.validate();
    }

    /// The O(n) invariants, checked after every step in unit tests.
    #[cfg(test)]
    fn validate(&self) {
        assert!(self.persisted <= self.last_logged);
        assert!(self.applied <= self.committed && self.applied <= self.persisted);
        assert!(self
            .pending
            .iter()
            .zip(self.pending.iter().skip(1))
            .all(|(a, b)| a < b));
        assert!(self.pending.back().is_none_or(|z| *z <= self.last_logged));
        assert!(self
            .unacked
            .iter()
            .zip(self.unacked.iter().skip(1))
            .all(|(a, b)| a < b));
        assert!(self.kind == LearnerKind::Follower || self.unacked.is_empty());
    }

    /// Java's socket read timeout: `initLimit` ticks until NEWLEADER, `syncLimit` after.
    fn read_timeout_ms(&self) -> u64 {
        if self.new_leader_needs.is_some() {
            self.config.sync_limit_ms()
        } else {
            self.config.init_limit_ms()
        }
    }

    /// `ConnectAndFollowerSendFOLLOWERINFO`: `registerWithLeader`'s first packet.
    fn connected(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.phase != Phase::Connecting {
            return;
        }
        self.last_heard_ms = now;
        let info = LearnerInfo {
            sid: self.myid,
            protocol_version: LEARNER_PROTOCOL_VERSION,
            config_version: self.config_version,
        };
        out.push(Action::Send(info.packet(self.kind, self.accepted_epoch)));
        self.phase = Phase::WaitLeaderInfo;
        out.push(Action::SetTimer {
            at_ms: now + self.read_timeout_ms(),
        });
    }

    fn tick(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.phase == Phase::Connecting {
            return;
        }
        let deadline = self.last_heard_ms + self.read_timeout_ms();
        if now >= deadline {
            self.go_looking("read timeout: the leader went silent", out);
        } else {
            out.push(Action::SetTimer { at_ms: deadline });
        }
    }

    fn received(&mut self, p: QuorumPacket, out: &mut Vec<Action>) {
        match self.phase {
            Phase::Connecting => self.go_looking("packet before the connection", out),
            Phase::WaitLeaderInfo => self.process_leader_info(&p, out),
            Phase::WaitSync => self.process_sync_message(&p, out),
            Phase::Syncing => self.process_in_sync(p, out),
            Phase::Broadcast => self.process_in_broadcast(p, out),
            Phase::Done => {}
        }
    }

    /// `FollowerProcessLEADERINFO`: accept the new epoch (durably) unless it is older
    /// than one already accepted, and answer ACKEPOCH with our last zxid.
    fn process_leader_info(&mut self, p: &QuorumPacket, out: &mut Vec<Action>) {
        let info = match LeaderInfo::read(p) {
            Ok(info) => info,
            Err(e) => return self.go_looking(&format!("first packet from the leader: {e}"), out),
        };
        let new_epoch = info.new_epoch;
        let current_epoch = if new_epoch > self.accepted_epoch {
            self.accepted_epoch = new_epoch;
            out.push(Action::WriteAcceptedEpoch { epoch: new_epoch });
            // Java casts the long epoch to the packet's int.
            self.current_epoch as i32
        } else if new_epoch == self.accepted_epoch {
            // Already accepted (an earlier attempt with this leader): the ack does not
            // count toward the leader's epoch quorum.
            AckEpoch::ALREADY_ACCEPTED
        } else {
            return self.go_looking(
                &format!(
                    "leader's epoch {new_epoch} is less than our accepted epoch {}",
                    self.accepted_epoch
                ),
                out,
            );
        };
        self.new_epoch = Some(new_epoch);
        let ack = AckEpoch {
            last_zxid: self.last_logged,
            current_epoch,
        };
        out.push(Action::Send(ack.packet()));
        self.phase = Phase::WaitSync;
    }

    /// `FollowerProcessSyncMessage`: the first packet after ACKEPOCH says how our log
    /// relates to the leader's history. Anything else makes a Java learner exit (13).
    fn process_sync_message(&mut self, p: &QuorumPacket, out: &mut Vec<Action>) {
        match p.kind {
            PacketType::Diff => {
                // Our whole log is a prefix of the leader's history.
                self.committed = self.last_logged;
            }
            PacketType::Trunc => {
                if p.zxid > self.last_logged {
                    return self.go_looking(
                        &format!(
                            "TRUNC to {:#x} above our last zxid {:#x}",
                            p.zxid, self.last_logged
                        ),
                        out,
                    );
                }
                out.push(Action::Truncate { zxid: p.zxid });
                self.last_logged = p.zxid;
                self.persisted = self.persisted.min(p.zxid);
                self.committed = p.zxid;
            }
            PacketType::Snap => {
                out.push(Action::LoadSnapshot { zxid: p.zxid });
                self.last_logged = p.zxid;
                self.persisted = p.zxid;
                self.committed = p.zxid;
            }
            other => {
                return self
                    .go_looking(&format!("expected DIFF, TRUNC or SNAP, got {other:?}"), out)
            }
        }
        self.phase = Phase::Syncing;
    }

    /// Between the sync packet and UPTODATE.
    fn process_in_sync(&mut self, p: QuorumPacket, out: &mut Vec<Action>) {
        match p.kind {
            PacketType::Proposal => self.process_proposal(p, out),
            PacketType::Commit
                if self.new_leader_acked
                    && canary!(self.config, LearnerFailsOnCommitAfterNewLeader) =>
            {
                self.go_looking("NullPointerException on a COMMIT after NEWLEADER", out)
            }
            PacketType::Commit => self.process_commit(p.zxid, out),
            PacketType::NewLeader => self.process_new_leader(&p, out),
            PacketType::UpToDate => self.process_up_to_date(out),
            PacketType::Inform if self.kind == LearnerKind::Observer => self.process_inform(p, out),
            // PING and anything else: ignored, no reply, as Java's sync loop does.
            _ => {}
        }
    }

    fn process_in_broadcast(&mut self, p: QuorumPacket, out: &mut Vec<Action>) {
        match p.kind {
            PacketType::Proposal if self.kind == LearnerKind::Follower => {
                self.process_proposal(p, out)
            }
            PacketType::Commit if self.kind == LearnerKind::Follower => {
                self.process_commit(p.zxid, out)
            }
            PacketType::Inform if self.kind == LearnerKind::Observer => self.process_inform(p, out),
            PacketType::Ping => out.push(Action::Send(Ping::reply(&p, &[]))),
            // SYNC answers a client's sync (sessions are not here yet); a second
            // UPTODATE, unknown types and the rest are logged and ignored by Java.
            _ => {}
        }
    }

    /// `FollowerProcessPROPOSALInSync` / `FollowerProcessPROPOSAL`: log it; ACK it once
    /// durable (followers, and only after the NEWLEADER ACK).
    fn process_proposal(&mut self, p: QuorumPacket, out: &mut Vec<Action>) {
        let Some(data) = p.data else {
            return self.go_looking("PROPOSAL with null data", out);
        };
        if p.zxid <= self.last_logged {
            return self.go_looking(
                &format!(
                    "PROPOSAL {:#x} not above our last logged zxid {:#x}",
                    p.zxid, self.last_logged
                ),
                out,
            );
        }
        self.last_logged = p.zxid;
        self.pending.push_back(p.zxid);
        if self.kind == LearnerKind::Follower {
            self.unacked.push_back(p.zxid);
        }
        out.push(Action::Persist(Txn { zxid: p.zxid, data }));
    }

    /// INFORM, an observer's committed proposal: log it and count it committed.
    fn process_inform(&mut self, p: QuorumPacket, out: &mut Vec<Action>) {
        let zxid = p.zxid;
        self.process_proposal(p, out);
        if self.phase != Phase::Done {
            self.process_commit(zxid, out);
        }
    }

    /// `FollowerProcessCOMMITInSync` / `FollowerProcessCOMMIT`: a COMMIT names the
    /// oldest pending proposal; Java exits (12) on any other.
    fn process_commit(&mut self, zxid: Zxid, out: &mut Vec<Action>) {
        match self.pending.front() {
            // Java warns and ignores a COMMIT with nothing pending.
            None => {}
            Some(&head) if head == zxid => {
                self.pending.pop_front();
                self.committed = zxid;
                if self.phase == Phase::Broadcast {
                    self.apply(out);
                }
            }
            Some(&head) => self.go_looking(
                &format!("COMMIT {zxid:#x} but the next pending proposal is {head:#x}"),
                out,
            ),
        }
    }

    /// `FollowerProcessNEWLEADER`: everything received so far must be durable, then
    /// `currentEpoch` written, then the ACK sent, and nothing before the ACK.
    fn process_new_leader(&mut self, p: &QuorumPacket, out: &mut Vec<Action>) {
        let nl = match NewLeader::read(p) {
            Ok(nl) => nl,
            Err(e) => return self.go_looking(&format!("NEWLEADER: {e}"), out),
        };
        if Some(nl.new_epoch) != self.new_epoch || self.new_leader_needs.is_some() {
            return self.go_looking(
                &format!(
                    "NEWLEADER for epoch {} after LEADERINFO for {:?}",
                    nl.new_epoch, self.new_epoch
                ),
                out,
            );
        }
        self.new_leader_needs = Some(self.last_logged);
        if canary!(self.config, LearnerWritesEpochBeforePersist)
            && self.current_epoch != nl.new_epoch
        {
            self.current_epoch = nl.new_epoch;
            out.push(Action::WriteCurrentEpoch {
                epoch: nl.new_epoch,
            });
        }
        self.ack_new_leader(out);
    }

    /// The second half of `FollowerProcessNEWLEADER`, once the log is durable.
    fn ack_new_leader(&mut self, out: &mut Vec<Action>) {
        let (Some(needs), Some(epoch)) = (self.new_leader_needs, self.new_epoch) else {
            return;
        };
        let canary = canary!(self.config, LearnerAcksNewLeaderBeforePersist);
        if self.new_leader_acked || (self.persisted < needs && !canary) {
            return;
        }
        if self.current_epoch != epoch {
            self.current_epoch = epoch;
            out.push(Action::WriteCurrentEpoch { epoch });
        }
        out.push(Action::Send(Bare::ack(zxid_of_epoch(epoch))));
        self.new_leader_acked = true;
        self.committed_in_sync = self.committed;
        self.send_acks(out);
    }

    /// `FollowerProcessUPTODATE`: the leader has a quorum; ACK, serve, apply.
    fn process_up_to_date(&mut self, out: &mut Vec<Action>) {
        let Some(epoch) = self.new_epoch else {
            return self.go_looking("UPTODATE before LEADERINFO", out);
        };
        if !self.new_leader_acked {
            return self.go_looking("UPTODATE before our NEWLEADER ACK", out);
        }
        out.push(Action::Send(Bare::ack(zxid_of_epoch(epoch))));
        out.push(Action::Synced { epoch });
        self.phase = Phase::Broadcast;
        self.apply(out);
    }

    fn persisted(&mut self, through: Zxid, out: &mut Vec<Action>) {
        let through = through.min(self.last_logged);
        if through <= self.persisted {
            return;
        }
        self.persisted = through;
        if canary!(self.config, LearnerAcksProposalBeforeNewLeader) {
            self.send_acks(out);
        }
        self.ack_new_leader(out);
        self.send_acks(out);
        if self.phase == Phase::Broadcast {
            self.apply(out);
        }
    }

    /// One ACK per durable proposal, in zxid order (`SendAckRequestProcessor`), once the
    /// NEWLEADER ACK is out. Proposals committed during sync need none; later ones get
    /// one even when already committed (a leader ignores those ACKs).
    fn send_acks(&mut self, out: &mut Vec<Action>) {
        if !self.new_leader_acked && !canary!(self.config, LearnerAcksProposalBeforeNewLeader) {
            return;
        }
        while let Some(&zxid) = self.unacked.front() {
            if zxid > self.persisted {
                break;
            }
            self.unacked.pop_front();
            if zxid > self.committed_in_sync {
                out.push(Action::Send(Bare::ack(zxid)));
            }
        }
    }

    /// Apply what is both committed and durable.
    fn apply(&mut self, out: &mut Vec<Action>) {
        let through = self.committed.min(self.persisted);
        if through > self.applied {
            self.applied = through;
            out.push(Action::Apply { through });
        }
    }

    fn go_looking(&mut self, reason: &str, out: &mut Vec<Action>) {
        self.phase = Phase::Done;
        out.push(Action::GoLooking {
            reason: reason.to_owned(),
        });
    }
}
