//! Fast Leader Election (`electionAlg=3`) as ZooKeeper 3.8's `FastLeaderElection`
//! runs it, as a pure state machine: [`Fle::step`] takes one [`Input`] and the time,
//! and pushes [`Action`]s (send a notification, set the timer, decide).
//!
//! Java runs FLE on three threads around two queues: a receiving thread answers some
//! notifications at once and queues the rest, and `lookForLeader` polls the queue. Here
//! one `step` does both, in that order, for one received notification; the queue is
//! always empty between steps, so "re-queue and continue" becomes "handle it now".
//!
//! Spec names (`zookeeper-specifications/system-spec/zk-3.7`):
//! - `FLEReceiveNotmsg`: `Fle::receive` ([`Input::Received`]), the receiving thread's
//!   rules.
//! - `FLEHandleNotmsg`: `Fle::handle_notification`, one pass of the election loop.
//! - `FLENotmsgTimeout`: `Fle::notification_timeout` ([`Input::Tick`]), the empty poll
//!   that re-sends.
//! - `FLEWaitNewNotmsg`: `Fle::finalize_wait`, the 200 ms wait once a quorum agrees.
//!
//! Two deviations, off in [`FleConfig::default`] and on in ringkeeper's driver
//! ([`FleConfig::fast_failover`]); together they were most of a failover's time:
//! - Once some voter is known unreachable ([`Input::Reachable`]: its election port
//!   refused a connection; the driver reports that only for a peer it was connected
//!   with before, since one that never came up may come up within the wait), the
//!   finalize wait ends at once when every other voter has voted this round. The wait
//!   only lets a better vote arrive; none can.
//! - A LOOKING notification that arrives while we still follow (a peer noticed the
//!   leader's death a moment before us) is answered as Java answers it, and also kept:
//!   our next election reads it at its start. Java drops it, so both wait for the
//!   200 ms notification timeout to hear each other again.
//!
//! Safety never rested on either: ZAB's discovery refuses a leader a quorum does not
//! follow, and a member that comes back later is synchronized by whoever leads.
//!
//! The machine keeps what the receiving thread needs between elections (the state, the
//! current vote, the round) so that a LEADING or FOLLOWING server keeps answering
//! LOOKING servers, with the post-sync epoch after [`Input::Synced`] (ZOOKEEPER-1732).
//!
//! Never here: sockets, connection management (`connectAll`, who keeps which
//! connection), queue capacities, the observer's random delay before LOOKING, and
//! reconfiguration. Those belong to the driver.

use std::collections::BTreeMap;

use super::quorum::QuorumMaj;
use super::vote::{total_order_predicate, LearnerType, Proposal, ServerState, Vote};
use super::wire::election::{Notification, NOTIFICATION_VERSION};
use super::{Sid, Zxid};

#[cfg(test)]
mod tests;

/// FLE's timing, ZooKeeper's defaults in [`FleConfig::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleConfig {
    /// `finalizeWait`: how long a quorum must stay unchallenged before deciding.
    pub finalize_wait_ms: u64,
    /// `zookeeper.fastleader.minNotificationInterval`: the first poll timeout.
    pub min_notification_interval_ms: u64,
    /// `zookeeper.fastleader.maxNotificationInterval`: the poll timeout's ceiling.
    pub max_notification_interval_ms: u64,
    /// End the finalize wait as soon as no voter is left to hear from (see the module
    /// doc). Java has no such rule; false is its behaviour.
    pub fast_failover: bool,
}

impl Default for FleConfig {
    fn default() -> Self {
        FleConfig {
            finalize_wait_ms: 200,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
            fast_failover: false,
        }
    }
}

/// What happens to the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start an election (`lookForLeader`): at startup, and whenever the server stops
    /// leading, following or observing. `last_zxid` is the last logged zxid of the loaded
    /// database, `current_epoch` the `currentEpoch` file.
    StartLooking { last_zxid: Zxid, current_epoch: i64 },
    /// A notification arrived from `from` (the sid its connection announced). The
    /// driver also delivers the notifications this machine sends to itself this way.
    Received {
        from: Sid,
        notification: Notification,
    },
    /// Time passed; a timer set by [`Action::SetTimer`] may have expired. Harmless at
    /// any time.
    Tick,
    /// The server finished synchronizing as leader (`startZkServer`) or learner
    /// (UPTODATE) in `new_epoch`: `updateElectionVote`. Replies to LOOKING servers carry
    /// this epoch from now on.
    Synced { new_epoch: i64 },
    /// The driver learned whether `sid` can be reached: false when its election port
    /// refused a connection (nobody listens there), true when a connection to it came
    /// up. Only [`FleConfig::fast_failover`] reads it.
    Reachable { sid: Sid, reachable: bool },
}

/// The role an election ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Leading,
    Following { leader: Sid },
    Observing { leader: Sid },
}

impl Decision {
    pub fn leader(&self, myid: Sid) -> Sid {
        match *self {
            Decision::Leading => myid,
            Decision::Following { leader } | Decision::Observing { leader } => leader,
        }
    }
}

/// Which rule of `lookForLeader` ended the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// A quorum of LOOKING votes of this round agreed with our proposal and nothing
    /// better arrived during the finalize wait.
    Round,
    /// A quorum of this round's FOLLOWING/LEADING notifications named the leader,
    /// confirmed by `checkLeader`.
    RoundEstablished,
    /// A quorum of FOLLOWING/LEADING notifications from any round (`outofelection`)
    /// named the leader, confirmed by `checkLeader`: joining an established ensemble.
    OutOfElection,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `notification` to server `to` over the election port (to ourselves: feed
    /// it back as [`Input::Received`]).
    Send { to: Sid, notification: Notification },
    /// Deliver [`Input::Tick`] at or after `at_ms`. Replaces any earlier timer.
    SetTimer { at_ms: u64 },
    /// The election is over: take `decision`. `vote` becomes the current vote.
    Decide {
        decision: Decision,
        vote: Vote,
        by: DecidedBy,
    },
}

/// Where the election loop is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// `recvqueue.poll(notTimeout)`; the deadline restarts after each notification.
    Polling { deadline_ms: u64 },
    /// `recvqueue.poll(finalizeWait)` after a quorum agreed with our proposal.
    Finalizing { deadline_ms: u64 },
}

impl Wait {
    fn deadline_ms(self) -> u64 {
        match self {
            Wait::Polling { deadline_ms } | Wait::Finalizing { deadline_ms } => deadline_ms,
        }
    }
}

/// The state of one `lookForLeader` call.
#[derive(Debug, Clone)]
struct Round {
    /// Our own vote for this round (`getInitId`, `getInitLastLoggedZxid`,
    /// `getPeerEpoch`).
    init: Proposal,
    /// Votes of this round, by sender (voters only, so bounded by the config).
    recvset: BTreeMap<Sid, Vote>,
    /// FOLLOWING/LEADING votes of any round, by sender (voters only). Never cleared
    /// within a round.
    outofelection: BTreeMap<Sid, Vote>,
    /// Voters whose LOOKING notification of this round the finalize wait consumed
    /// unread (for [`FleConfig::fast_failover`]; Java keeps no such set).
    heard: std::collections::BTreeSet<Sid>,
    /// `notTimeout`: doubles on each empty poll up to the maximum, never reset.
    not_timeout_ms: u64,
    wait: Wait,
}

/// One server's leader election.
#[derive(Debug, Clone)]
pub struct Fle {
    myid: Sid,
    learner_type: LearnerType,
    quorum: QuorumMaj,
    config: FleConfig,
    /// `QuorumPeer.getPeerState()`.
    state: ServerState,
    /// The round; survives between elections (the receiving thread reports it).
    logicalclock: i64,
    /// `proposedLeader`, `proposedZxid`, `proposedEpoch`.
    proposal: Proposal,
    /// `QuorumPeer.getCurrentVote()`: the last election's result, or our own vote before
    /// the first.
    current_vote: Vote,
    /// `Some` while `lookForLeader` runs.
    round: Option<Round>,
    /// Voters whose election port refused us and who have not been heard from since.
    unreachable: std::collections::BTreeSet<Sid>,
    /// The newest LOOKING notification per voter received out of the election since
    /// the last decision ([`FleConfig::fast_failover`]), read when the next one starts.
    early: BTreeMap<Sid, Notification>,
}

impl Fle {
    /// A server that has not started an election yet (state LOOKING, round 0). Its
    /// current vote is for itself, as `QuorumPeer.startLeaderElection` sets it; feed
    /// [`Input::StartLooking`] to begin.
    pub fn new(
        myid: Sid,
        learner_type: LearnerType,
        quorum: QuorumMaj,
        config: FleConfig,
        last_zxid: Zxid,
        current_epoch: i64,
    ) -> Fle {
        Fle {
            myid,
            learner_type,
            quorum,
            config,
            state: ServerState::Looking,
            logicalclock: 0,
            // FastLeaderElection.starter.
            proposal: Proposal {
                leader: -1,
                zxid: -1,
                peer_epoch: 0,
            },
            current_vote: Vote::new(myid, last_zxid, -1, current_epoch),
            round: None,
            unreachable: std::collections::BTreeSet::new(),
            early: BTreeMap::new(),
        }
    }

    pub fn myid(&self) -> Sid {
        self.myid
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    /// `logicalclock`.
    pub fn logical_clock(&self) -> i64 {
        self.logicalclock
    }

    /// The vote this server proposes in the current (or last) round.
    pub fn proposal(&self) -> Proposal {
        self.proposal
    }

    /// The vote this server reports when out of the election.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    pub fn quorum(&self) -> &QuorumMaj {
        &self.quorum
    }

    /// Whether `lookForLeader` is running.
    pub fn in_election(&self) -> bool {
        self.round.is_some()
    }

    /// When the machine next wants a [`Input::Tick`], if it is in an election.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.round.as_ref().map(|r| r.wait.deadline_ms())
    }

    /// Feeds one input at time `now_ms`; the actions it causes are appended to `out`.
    pub fn step(&mut self, input: Input, now_ms: u64, out: &mut Vec<Action>) {
        match input {
            Input::StartLooking {
                last_zxid,
                current_epoch,
            } => self.look_for_leader(last_zxid, current_epoch, now_ms, out),
            Input::Received { from, notification } => self.receive(from, notification, now_ms, out),
            Input::Tick => self.tick(now_ms, out),
            Input::Synced { new_epoch } => self.update_election_vote(new_epoch),
            Input::Reachable { sid, reachable } => {
                if reachable {
                    self.unreachable.remove(&sid);
                } else if self.quorum.is_voter(sid) && sid != self.myid {
                    self.unreachable.insert(sid);
                    self.decide_if_none_left(out);
                }
            }
        }
    }

    /// While finalizing with [`FleConfig::fast_failover`]: decide now if every
    /// voter has voted this round or is unreachable, and the proposed leader is not
    /// among the unreachable (then the wait and what follows it are Java's).
    fn decide_if_none_left(&mut self, out: &mut Vec<Action>) {
        if !self.config.fast_failover {
            return;
        }
        let Some(round) = self.round.as_ref() else {
            return;
        };
        // Only once some voter is known gone: with everyone up, votes queued before a
        // server started can all be stale, and the wait lets the current leader's
        // LEADING reply (a newer epoch) win, as in Java.
        if !matches!(round.wait, Wait::Finalizing { .. })
            || self.unreachable.is_empty()
            || self.unreachable.contains(&self.proposal.leader)
        {
            return;
        }
        let none_left = self.quorum.voters().all(|v| {
            round.recvset.contains_key(&v)
                || round.heard.contains(&v)
                || self.unreachable.contains(&v)
        });
        if none_left {
            self.decide_by_round(out);
        }
    }

    /// `lookForLeader`'s start: a new round with our own vote, sent to every voter
    /// (ourselves included when we vote).
    fn look_for_leader(
        &mut self,
        last_zxid: Zxid,
        current_epoch: i64,
        now: u64,
        out: &mut Vec<Action>,
    ) {
        self.state = ServerState::Looking;
        self.logicalclock += 1;
        let init = self.init_vote(last_zxid, current_epoch);
        self.proposal = init;
        let not_timeout_ms = self.config.min_notification_interval_ms;
        let deadline_ms = now + not_timeout_ms;
        self.round = Some(Round {
            init,
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            heard: std::collections::BTreeSet::new(),
            not_timeout_ms,
            wait: Wait::Polling { deadline_ms },
        });
        self.send_notifications(out);
        out.push(Action::SetTimer { at_ms: deadline_ms });
        // What peers said while we were still following, as if it arrived now; what
        // belongs to an older round than ours is ignored by the loop as usual.
        let early = std::mem::take(&mut self.early);
        for (from, n) in early {
            if self.round.is_some() && n.election_epoch >= self.logicalclock {
                self.finalize_wait(from, n, now, out);
            }
        }
    }

    /// `getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch`: an observer's vote is
    /// `(MIN, MIN, MIN)`, which every voter's vote beats.
    fn init_vote(&self, last_zxid: Zxid, current_epoch: i64) -> Proposal {
        let leader = if self.quorum.is_voter(self.myid) {
            self.myid
        } else {
            i64::MIN
        };
        match self.learner_type {
            LearnerType::Participant => Proposal {
                leader,
                zxid: last_zxid,
                peer_epoch: current_epoch,
            },
            LearnerType::Observer => Proposal {
                leader,
                ..Proposal::OBSERVER
            },
        }
    }

    /// `sendNotifications`: our proposal in this round, as LOOKING, to every voter.
    fn send_notifications(&self, out: &mut Vec<Action>) {
        for to in self.quorum.voters() {
            out.push(Action::Send {
                to,
                notification: self.notification(
                    ServerState::Looking,
                    self.proposal,
                    self.logicalclock,
                ),
            });
        }
    }

    fn notification(&self, state: ServerState, p: Proposal, election_epoch: i64) -> Notification {
        Notification {
            state,
            leader: p.leader,
            zxid: p.zxid,
            election_epoch,
            peer_epoch: p.peer_epoch,
            version: NOTIFICATION_VERSION,
            config: Some(self.quorum.text().clone()),
        }
    }

    /// `FLEReceiveNotmsg`: the receiving thread (`WorkerReceiver.run`).
    ///
    /// - A sender that is not a voter (an observer, an unknown sid) gets our current
    ///   vote, round and state at once; its message goes no further.
    /// - While LOOKING, the message goes to the election loop, and a LOOKING sender of
    ///   an older round also gets our proposal back.
    /// - Out of the election, a LOOKING sender gets our current vote (with its own
    ///   election's round) and our real state; others get nothing.
    fn receive(&mut self, from: Sid, n: Notification, now: u64, out: &mut Vec<Action>) {
        self.unreachable.remove(&from);
        if !self.quorum.is_voter(from) {
            let reply =
                self.notification(self.state, self.current_vote.proposal(), self.logicalclock);
            out.push(Action::Send {
                to: from,
                notification: reply,
            });
            return;
        }
        if self.state == ServerState::Looking {
            if n.state == ServerState::Looking && n.election_epoch < self.logicalclock {
                let reply = self.notification(self.state, self.proposal, self.logicalclock);
                out.push(Action::Send {
                    to: from,
                    notification: reply,
                });
            }
            // Before the first StartLooking there is no loop to queue for.
            if self.round.is_some() {
                self.finalize_wait(from, n, now, out);
            }
        } else if n.state == ServerState::Looking {
            if self.config.fast_failover {
                self.early.insert(from, n.clone());
            }
            let reply = self.notification(
                self.state,
                self.current_vote.proposal(),
                self.current_vote.election_epoch,
            );
            out.push(Action::Send {
                to: from,
                notification: reply,
            });
        }
    }

    /// `FLEWaitNewNotmsg`: while finalizing, a notification that beats our proposal is
    /// put back and handled by the loop (which leaves the wait); any other is consumed
    /// unread, and the 200 ms start over. When not finalizing, the loop handles it.
    fn finalize_wait(&mut self, from: Sid, n: Notification, now: u64, out: &mut Vec<Action>) {
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if let Wait::Finalizing { .. } = round.wait {
            let theirs = Proposal {
                leader: n.leader,
                zxid: n.zxid,
                peer_epoch: n.peer_epoch,
            };
            if !total_order_predicate(theirs, self.quorum.weight(n.leader), self.proposal) {
                let deadline_ms = now + self.config.finalize_wait_ms;
                round.wait = Wait::Finalizing { deadline_ms };
                out.push(Action::SetTimer { at_ms: deadline_ms });
                if n.state == ServerState::Looking && n.election_epoch == self.logicalclock {
                    round.heard.insert(from);
                }
                self.decide_if_none_left(out);
                return;
            }
        }
        self.handle_notification(from, n, now, out);
    }

    /// `FLEHandleNotmsg`: one notification taken from the queue by `lookForLeader`.
    fn handle_notification(&mut self, from: Sid, n: Notification, now: u64, out: &mut Vec<Action>) {
        if self.quorum.is_voter(from) && self.quorum.is_voter(n.leader) {
            let done = match n.state {
                ServerState::Looking => self.handle_looking(from, &n, now, out),
                ServerState::Observing => false,
                ServerState::Following | ServerState::Leading => {
                    self.handle_out_of_election(from, &n, out)
                }
            };
            if done {
                return;
            }
        }
        // The next poll starts now.
        self.poll_again(now, out);
    }

    fn poll_again(&mut self, now: u64, out: &mut Vec<Action>) {
        if let Some(round) = self.round.as_mut() {
            let deadline_ms = now + round.not_timeout_ms;
            round.wait = Wait::Polling { deadline_ms };
            out.push(Action::SetTimer { at_ms: deadline_ms });
        }
    }

    /// The LOOKING case of the loop. Returns true when it set its own wait (finalizing).
    fn handle_looking(
        &mut self,
        from: Sid,
        n: &Notification,
        now: u64,
        out: &mut Vec<Action>,
    ) -> bool {
        let weight = self.quorum.weight(n.leader);
        let Some(round) = self.round.as_mut() else {
            return false;
        };
        // A database that never loaded, or a sender whose did not, has no say.
        if round.init.zxid == -1 || n.zxid == -1 {
            return false;
        }
        let theirs = Proposal {
            leader: n.leader,
            zxid: n.zxid,
            peer_epoch: n.peer_epoch,
        };
        if n.election_epoch > self.logicalclock {
            // A newer round: join it, forget this round's votes, and propose the better
            // of theirs and our own initial vote.
            self.logicalclock = n.election_epoch;
            round.recvset.clear();
            round.heard.clear();
            self.proposal = if total_order_predicate(theirs, weight, round.init) {
                theirs
            } else {
                round.init
            };
            self.send_notifications(out);
        } else if n.election_epoch < self.logicalclock {
            return false;
        } else if total_order_predicate(theirs, weight, self.proposal) {
            self.proposal = theirs;
            self.send_notifications(out);
        }
        let Some(round) = self.round.as_mut() else {
            return false;
        };
        round.recvset.insert(
            from,
            Vote::new(n.leader, n.zxid, n.election_epoch, n.peer_epoch),
        );
        let ours = Vote::new(
            self.proposal.leader,
            self.proposal.zxid,
            self.logicalclock,
            self.proposal.peer_epoch,
        );
        if has_quorum_for(&self.quorum, &round.recvset, &ours) {
            let deadline_ms = now + self.config.finalize_wait_ms;
            round.wait = Wait::Finalizing { deadline_ms };
            out.push(Action::SetTimer { at_ms: deadline_ms });
            self.decide_if_none_left(out);
            return true;
        }
        false
    }

    /// The FOLLOWING and LEADING cases (`receivedFollowingNotification`; the LEADING
    /// case's oracle applies only to `QuorumOracleMaj`). Returns true when it decided.
    fn handle_out_of_election(
        &mut self,
        from: Sid,
        n: &Notification,
        out: &mut Vec<Action>,
    ) -> bool {
        let myid = self.myid;
        let logicalclock = self.logicalclock;
        let Some(round) = self.round.as_mut() else {
            return false;
        };
        let theirs = Vote {
            version: n.version,
            id: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: n.state,
        };
        let end_vote = Vote::new(n.leader, n.zxid, n.election_epoch, n.peer_epoch);
        if n.election_epoch == logicalclock {
            // Java stores these with version 0, so against a versioned notification
            // only the ids are compared.
            round.recvset.insert(
                from,
                Vote {
                    version: 0,
                    ..theirs
                },
            );
            if has_quorum_for(&self.quorum, &round.recvset, &theirs)
                && check_leader(
                    myid,
                    logicalclock,
                    &round.recvset,
                    n.leader,
                    n.election_epoch,
                )
            {
                self.decide(n.leader, end_vote, DecidedBy::RoundEstablished, out);
                return true;
            }
        }
        round.outofelection.insert(from, theirs);
        if has_quorum_for(&self.quorum, &round.outofelection, &theirs)
            && check_leader(
                myid,
                logicalclock,
                &round.outofelection,
                n.leader,
                n.election_epoch,
            )
        {
            self.logicalclock = n.election_epoch;
            self.decide(n.leader, end_vote, DecidedBy::OutOfElection, out);
            return true;
        }
        false
    }

    fn tick(&mut self, now: u64, out: &mut Vec<Action>) {
        let Some(round) = self.round.as_ref() else {
            return;
        };
        match round.wait {
            Wait::Polling { deadline_ms } if now >= deadline_ms => {
                self.notification_timeout(now, out)
            }
            Wait::Finalizing { deadline_ms } if now >= deadline_ms => self.decide_by_round(out),
            _ => {}
        }
    }

    /// `FLENotmsgTimeout`: nothing arrived within `notTimeout`. Send our proposal again
    /// and double the timeout, up to the maximum.
    ///
    /// Java re-sends only if some peer's send queue is empty and otherwise asks its
    /// connection manager to reconnect; the machine cannot see queues, so it always
    /// re-sends and leaves reconnecting to the driver (whose per-peer queue of one
    /// replaces an unsent message, as Java's does).
    fn notification_timeout(&mut self, now: u64, out: &mut Vec<Action>) {
        self.send_notifications(out);
        let max = self.config.max_notification_interval_ms;
        if let Some(round) = self.round.as_mut() {
            round.not_timeout_ms = round.not_timeout_ms.saturating_mul(2).min(max);
            let deadline_ms = now + round.not_timeout_ms;
            round.wait = Wait::Polling { deadline_ms };
            out.push(Action::SetTimer { at_ms: deadline_ms });
        }
    }

    /// The end of a finalize wait: our proposal, in this round, is the decision.
    fn decide_by_round(&mut self, out: &mut Vec<Action>) {
        let end_vote = Vote::new(
            self.proposal.leader,
            self.proposal.zxid,
            self.logicalclock,
            self.proposal.peer_epoch,
        );
        self.decide(self.proposal.leader, end_vote, DecidedBy::Round, out);
    }

    /// `setPeerState` and the end of `lookForLeader`: leading if the leader is us,
    /// otherwise following or observing by our learner type.
    fn decide(&mut self, leader: Sid, vote: Vote, by: DecidedBy, out: &mut Vec<Action>) {
        let (state, decision) = if leader == self.myid {
            (ServerState::Leading, Decision::Leading)
        } else {
            match self.learner_type {
                LearnerType::Participant => {
                    (ServerState::Following, Decision::Following { leader })
                }
                LearnerType::Observer => (ServerState::Observing, Decision::Observing { leader }),
            }
        };
        self.state = state;
        self.current_vote = vote;
        self.round = None;
        self.early.clear();
        out.push(Action::Decide { decision, vote, by });
    }

    /// `QuorumPeer.updateElectionVote` (ZOOKEEPER-1732): after sync, report the new
    /// epoch so that joining servers find a consistent quorum.
    fn update_election_vote(&mut self, new_epoch: i64) {
        self.current_vote = Vote {
            version: 0,
            peer_epoch: new_epoch,
            ..self.current_vote
        };
    }
}

/// `getVoteTracker(votes, vote).hasAllQuorums()`: the voters whose vote agrees with
/// `vote` form a quorum.
fn has_quorum_for(quorum: &QuorumMaj, votes: &BTreeMap<Sid, Vote>, vote: &Vote) -> bool {
    quorum.contains_quorum(
        votes
            .iter()
            .filter(|(_, v)| vote.agrees_with(v))
            .map(|(sid, _)| sid),
    )
}

/// `checkLeader`: another server is leader only if its own vote says LEADING; we are
/// leader only if the votes are of our current round. This keeps servers from
/// electing, over and over, a leader that crashed.
fn check_leader(
    myid: Sid,
    logicalclock: i64,
    votes: &BTreeMap<Sid, Vote>,
    leader: Sid,
    election_epoch: i64,
) -> bool {
    if leader != myid {
        votes
            .get(&leader)
            .is_some_and(|v| v.state == ServerState::Leading)
    } else {
        logicalclock == election_epoch
    }
}
