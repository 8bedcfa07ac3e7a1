//! Exact-action tests: each feeds inputs and compares the whole action list. Names
//! follow the TLA+ actions they exercise.
//!
//! The ensemble: voters 1, 2, 3 and observer 4; a majority is 2 voters.

use super::*;
use crate::zab::quorum::QuorumServer;
use crate::zab::vote::LearnerType::{Observer, Participant};
use crate::zab::vote::ServerState::{Following, Leading, Looking, Observing};

const Z1: Zxid = 0x1_0000_0003;
const T0: u64 = 1_000;

fn quorum() -> QuorumMaj {
    let servers = (1..=4)
        .map(|id| QuorumServer {
            id,
            host: "127.0.0.1".into(),
            quorum_port: 2880 + id as u16,
            election_port: 3880 + id as u16,
            learner_type: if id == 4 { Observer } else { Participant },
            client: None,
        })
        .collect();
    QuorumMaj::new(servers, 0).unwrap()
}

/// Server `myid` with last zxid `Z1` and current epoch 1, election started at `T0`;
/// the start's actions are checked elsewhere and dropped here.
fn looking(myid: Sid) -> Fle {
    started(fresh(myid))
}

/// `f` after `Input::StartLooking` at `T0` (its actions dropped).
fn started(mut f: Fle) -> Fle {
    let mut out = Vec::new();
    f.step(
        Input::StartLooking {
            last_zxid: Z1,
            current_epoch: 1,
        },
        T0,
        &mut out,
    );
    f
}

fn fresh(myid: Sid) -> Fle {
    let t = if myid == 4 { Observer } else { Participant };
    Fle::new(myid, t, quorum(), FleConfig::default(), Z1, 1)
}

fn n(
    state: ServerState,
    leader: Sid,
    zxid: Zxid,
    election_epoch: i64,
    peer_epoch: i64,
) -> Notification {
    Notification {
        state,
        leader,
        zxid,
        election_epoch,
        peer_epoch,
        version: NOTIFICATION_VERSION,
        config: Some(quorum().text().clone()),
    }
}

fn send(to: Sid, notification: Notification) -> Action {
    Action::Send { to, notification }
}

/// `sendNotifications`: the same LOOKING vote to voters 1, 2, 3.
fn to_voters(leader: Sid, zxid: Zxid, election_epoch: i64, peer_epoch: i64) -> Vec<Action> {
    (1..=3)
        .map(|to| send(to, n(Looking, leader, zxid, election_epoch, peer_epoch)))
        .collect()
}

fn timer(at_ms: u64) -> Action {
    Action::SetTimer { at_ms }
}

fn step(f: &mut Fle, input: Input, now: u64) -> Vec<Action> {
    let mut out = Vec::new();
    f.step(input, now, &mut out);
    out
}

fn recv(f: &mut Fle, from: Sid, notification: Notification, now: u64) -> Vec<Action> {
    step(f, Input::Received { from, notification }, now)
}

fn cat(parts: Vec<Vec<Action>>) -> Vec<Action> {
    parts.into_iter().flatten().collect()
}

#[test]
fn start_looking_sends_own_vote_to_every_voter_and_itself() {
    let mut f = fresh(2);
    let out = step(
        &mut f,
        Input::StartLooking {
            last_zxid: Z1,
            current_epoch: 1,
        },
        T0,
    );
    assert_eq!(
        out,
        cat(vec![to_voters(2, Z1, 1, 1), vec![timer(T0 + 200)]])
    );
    assert_eq!(f.logical_clock(), 1);
    assert_eq!(f.state(), Looking);
    assert_eq!(f.deadline_ms(), Some(T0 + 200));
}

#[test]
fn an_observer_proposes_min_and_sends_only_to_voters() {
    let mut f = fresh(4);
    let out = step(
        &mut f,
        Input::StartLooking {
            last_zxid: Z1,
            current_epoch: 1,
        },
        T0,
    );
    let min = i64::MIN;
    assert_eq!(
        out,
        cat(vec![to_voters(min, min, 1, min), vec![timer(T0 + 200)]])
    );
}

#[test]
fn fle_receive_notmsg_answers_a_non_voter_at_once_with_the_current_vote() {
    let mut f = looking(1);
    // Observer 4 asks; it gets our current vote (our own, never cast: round −1) with
    // our round and state, and its message goes no further: no timer restart.
    let out = recv(
        &mut f,
        4,
        n(Looking, i64::MIN, i64::MIN, 1, i64::MIN),
        T0 + 5,
    );
    let mut reply = n(Looking, 1, Z1, 1, 1);
    reply.election_epoch = 1;
    assert_eq!(out, vec![send(4, reply)]);
    // An unknown sid is treated the same way.
    let out = recv(&mut f, 99, n(Looking, 99, 0, 1, 0), T0 + 6);
    assert_eq!(out, vec![send(99, n(Looking, 1, Z1, 1, 1))]);
}

#[test]
fn fle_receive_notmsg_answers_a_lagging_looking_voter_with_the_proposal() {
    let mut f = looking(1);
    // Move to round 3 via voter 2.
    recv(&mut f, 2, n(Looking, 2, Z1, 3, 1), T0 + 1);
    assert_eq!(f.logical_clock(), 3);
    // Voter 3 still in round 1: it gets our proposal for round 3; the loop then drops
    // its stale vote and polls again.
    let out = recv(&mut f, 3, n(Looking, 3, 0, 1, 0), T0 + 10);
    assert_eq!(
        out,
        vec![send(3, n(Looking, 2, Z1, 3, 1)), timer(T0 + 10 + 200)]
    );
}

#[test]
fn fle_receive_notmsg_out_of_election_answers_only_looking_senders() {
    let mut f = decided_follower_of_3();
    // A LOOKING server learns our leader, our election's round and our state.
    let out = recv(&mut f, 2, n(Looking, 2, Z1, 7, 1), T0 + 500);
    assert_eq!(out, vec![send(2, n(Following, 3, Z1, 1, 1))]);
    // Servers out of the election are not answered.
    assert_eq!(recv(&mut f, 3, n(Leading, 3, Z1, 1, 1), T0 + 501), vec![]);
    assert_eq!(recv(&mut f, 2, n(Following, 3, Z1, 1, 1), T0 + 502), vec![]);
    // Ticks do nothing out of the election.
    assert_eq!(step(&mut f, Input::Tick, T0 + 100_000), vec![]);
}

/// Server 1 decides to follow 3 in round 1 by quorum {1, 3}.
fn decided_follower_of_3() -> Fle {
    let mut f = looking(1);
    recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 1);
    recv(&mut f, 1, n(Looking, 3, Z1, 1, 1), T0 + 2);
    let out = step(&mut f, Input::Tick, T0 + 202);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Following { leader: 3 },
            vote: Vote::new(3, Z1, 1, 1),
            by: DecidedBy::Round,
        }]
    );
    f
}

#[test]
fn synced_updates_the_epoch_replies_carry() {
    // ZOOKEEPER-1732: after sync in epoch 2, replies report peerEpoch 2.
    let mut f = decided_follower_of_3();
    assert_eq!(
        step(&mut f, Input::Synced { new_epoch: 2 }, T0 + 600),
        vec![]
    );
    let out = recv(&mut f, 2, n(Looking, 2, Z1, 7, 1), T0 + 700);
    assert_eq!(out, vec![send(2, n(Following, 3, Z1, 1, 2))]);
    // Observers asking get it too, with our round.
    let out = recv(
        &mut f,
        4,
        n(Looking, i64::MIN, i64::MIN, 9, i64::MIN),
        T0 + 701,
    );
    assert_eq!(out, vec![send(4, n(Following, 3, Z1, 1, 2))]);
}

#[test]
fn fle_handle_notmsg_joins_a_newer_round_with_the_better_vote() {
    let mut f = looking(1);
    let better = Z1 + 1;
    let out = recv(&mut f, 2, n(Looking, 2, better, 4, 1), T0 + 3);
    assert_eq!(
        out,
        cat(vec![to_voters(2, better, 4, 1), vec![timer(T0 + 3 + 200)]])
    );
    assert_eq!(f.logical_clock(), 4);
}

#[test]
fn fle_handle_notmsg_a_newer_round_with_a_worse_vote_restores_our_own() {
    let mut f = looking(1);
    // Adopt 3's better vote in round 1...
    recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 1);
    assert_eq!(f.proposal().leader, 3);
    // ...then round 2 brings a worse vote: the proposal is the better of it and our
    // initial vote, not the old proposal.
    let out = recv(&mut f, 2, n(Looking, 2, Z1 - 1, 2, 1), T0 + 2);
    assert_eq!(
        out,
        cat(vec![to_voters(1, Z1, 2, 1), vec![timer(T0 + 2 + 200)]])
    );
}

#[test]
fn fle_handle_notmsg_same_round_better_vote_is_adopted_and_sent() {
    let mut f = looking(1);
    let out = recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 1);
    assert_eq!(
        out,
        cat(vec![to_voters(3, Z1, 1, 1), vec![timer(T0 + 1 + 200)]])
    );
    // A higher epoch beats a higher zxid.
    let out = recv(&mut f, 2, n(Looking, 2, 0, 1, 2), T0 + 2);
    assert_eq!(
        out,
        cat(vec![to_voters(2, 0, 1, 2), vec![timer(T0 + 2 + 200)]])
    );
}

#[test]
fn fle_handle_notmsg_same_round_worse_vote_is_only_recorded() {
    let mut f = looking(3);
    let out = recv(&mut f, 1, n(Looking, 1, Z1, 1, 1), T0 + 1);
    assert_eq!(out, vec![timer(T0 + 1 + 200)]);
    assert_eq!(f.proposal().leader, 3);
}

#[test]
fn fle_handle_notmsg_ignores_minus_one_zxids_observers_and_non_voters() {
    let mut f = looking(1);
    for (from, notification) in [
        (2, n(Looking, 2, -1, 5, 9)),
        (2, n(Observing, 2, Z1 + 9, 5, 9)),
        // A vote for a server that is not a voter (observer 4, unknown 9).
        (2, n(Looking, 4, Z1 + 9, 5, 9)),
        (2, n(Following, 9, Z1 + 9, 5, 9)),
    ] {
        assert_eq!(
            recv(&mut f, from, notification, T0 + 7),
            vec![timer(T0 + 7 + 200)]
        );
    }
    assert_eq!(f.logical_clock(), 1);
    assert_eq!(f.proposal().leader, 1);
}

#[test]
fn a_quorum_starts_the_finalize_wait_and_silence_decides() {
    let mut f = looking(3);
    // Our own vote comes back: one voter of three is no quorum.
    assert_eq!(
        recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 1),
        vec![timer(T0 + 201)]
    );
    // Voter 1 adopts us: two of three agree, wait 200 ms for anything better.
    let out = recv(&mut f, 1, n(Looking, 3, Z1, 1, 1), T0 + 10);
    assert_eq!(out, vec![timer(T0 + 210)]);
    assert_eq!(step(&mut f, Input::Tick, T0 + 209), vec![]);
    let out = step(&mut f, Input::Tick, T0 + 210);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Leading,
            vote: Vote::new(3, Z1, 1, 1),
            by: DecidedBy::Round,
        }]
    );
    assert_eq!(f.state(), Leading);
    assert!(!f.in_election());
    assert_eq!(f.current_vote(), Vote::new(3, Z1, 1, 1));
}

#[test]
fn fle_wait_new_notmsg_consumes_worse_votes_and_restarts_the_wait() {
    let mut f = looking(3);
    recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 1);
    recv(&mut f, 1, n(Looking, 3, Z1, 1, 1), T0 + 10);
    // Voter 2's worse vote is consumed unread: no reply, no recvset entry, a new 200 ms.
    let out = recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 150);
    assert_eq!(out, vec![timer(T0 + 350)]);
    assert_eq!(step(&mut f, Input::Tick, T0 + 210), vec![]);
    let out = step(&mut f, Input::Tick, T0 + 350);
    assert!(matches!(
        out.as_slice(),
        [Action::Decide {
            decision: Decision::Leading,
            ..
        }]
    ));
}

#[test]
fn fle_wait_new_notmsg_a_better_vote_reenters_the_loop() {
    let mut f = looking(2);
    recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 1);
    recv(&mut f, 1, n(Looking, 2, Z1, 1, 1), T0 + 2);
    // Finalizing for 2; voter 3 arrives with a better vote: adopt it, send it, and
    // poll again (the quorum for 3 is not there yet).
    let out = recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 50);
    assert_eq!(
        out,
        cat(vec![to_voters(3, Z1, 1, 1), vec![timer(T0 + 250)]])
    );
    // Our own new vote returns: {2, 3} agree on 3, finalize again.
    let out = recv(&mut f, 2, n(Looking, 3, Z1, 1, 1), T0 + 51);
    assert_eq!(out, vec![timer(T0 + 251)]);
    let out = step(&mut f, Input::Tick, T0 + 251);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Following { leader: 3 },
            vote: Vote::new(3, Z1, 1, 1),
            by: DecidedBy::Round,
        }]
    );
}

#[test]
fn fle_notmsg_timeout_resends_and_doubles_up_to_a_minute() {
    let mut f = looking(1);
    let mut now = T0 + 200;
    let mut expected_interval = 400;
    for _ in 0..12 {
        let out = step(&mut f, Input::Tick, now);
        assert_eq!(
            out,
            cat(vec![
                to_voters(1, Z1, 1, 1),
                vec![timer(now + expected_interval)]
            ])
        );
        now += expected_interval;
        expected_interval = (expected_interval * 2).min(60_000);
    }
    assert_eq!(expected_interval, 60_000);
    // An early tick does nothing.
    assert_eq!(step(&mut f, Input::Tick, now - 1), vec![]);
}

#[test]
fn a_notification_restarts_the_poll_without_doubling() {
    let mut f = looking(1);
    step(&mut f, Input::Tick, T0 + 200); // notTimeout is now 400
    let out = recv(&mut f, 2, n(Looking, 1, Z1, 1, 1), T0 + 300);
    assert_eq!(out, vec![timer(T0 + 700)]);
}

#[test]
fn joining_an_established_ensemble_needs_the_leaders_own_vote() {
    // Server 1 starts late (round 1) while 2 follows 3 and 3 leads, both from round 5.
    let mut f = looking(1);
    // A quorum {2} + {3}? First only the follower: a quorum needs 2 voters.
    assert_eq!(
        recv(&mut f, 2, n(Following, 3, Z1, 5, 2), T0 + 1),
        vec![timer(T0 + 201)]
    );
    // Server 3's LEADING vote completes the quorum and passes checkLeader.
    let out = recv(&mut f, 3, n(Leading, 3, Z1, 5, 2), T0 + 2);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Following { leader: 3 },
            vote: Vote::new(3, Z1, 5, 2),
            by: DecidedBy::OutOfElection,
        }]
    );
    assert_eq!(f.logical_clock(), 5);
    assert_eq!(f.state(), Following);
}

#[test]
fn check_leader_refuses_a_quorum_without_the_leaders_vote() {
    // 1 and 2 both say they follow 3, but 3 never says it leads (it crashed).
    let mut f = looking(1);
    recv(&mut f, 2, n(Following, 3, Z1, 5, 2), T0 + 1);
    let out = recv(&mut f, 1, n(Following, 3, Z1, 5, 2), T0 + 2);
    assert_eq!(out, vec![timer(T0 + 202)]);
    // A LOOKING vote from 3 is no LEADING vote either.
    let out = recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 3);
    assert_eq!(
        out,
        cat(vec![to_voters(3, Z1, 1, 1), vec![timer(T0 + 203)]])
    );
    assert!(f.in_election());
}

#[test]
fn this_rounds_following_and_leading_votes_decide_in_recvset() {
    let mut f = looking(1);
    // Both in our round 1: the recvset entries are stored with version 0, so against
    // the versioned notification only the leader ids are compared.
    recv(&mut f, 2, n(Following, 3, Z1, 1, 1), T0 + 1);
    let out = recv(&mut f, 3, n(Leading, 3, Z1, 1, 1), T0 + 2);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Following { leader: 3 },
            vote: Vote::new(3, Z1, 1, 1),
            by: DecidedBy::RoundEstablished,
        }]
    );
}

#[test]
fn out_of_election_votes_must_agree_on_the_peer_epoch() {
    let mut f = looking(1);
    // Same leader, different peer epochs (2 synced in epoch 3, 3 not yet updated).
    recv(&mut f, 2, n(Following, 3, Z1, 5, 3), T0 + 1);
    let out = recv(&mut f, 3, n(Leading, 3, Z1, 5, 2), T0 + 2);
    assert_eq!(out, vec![timer(T0 + 202)]);
    // Once 3 reports the synced epoch, they agree.
    let out = recv(&mut f, 3, n(Leading, 3, Z1, 5, 3), T0 + 3);
    assert!(matches!(
        out.as_slice(),
        [Action::Decide {
            by: DecidedBy::OutOfElection,
            ..
        }]
    ));
}

#[test]
fn a_server_named_leader_by_others_leads_only_in_its_own_round() {
    let mut f = looking(3);
    // 1 and 2 follow 3 in round 5, but we are in round 1: checkLeader for ourselves
    // needs our round to equal theirs.
    recv(&mut f, 1, n(Following, 3, Z1, 5, 2), T0 + 1);
    let out = recv(&mut f, 2, n(Following, 3, Z1, 5, 2), T0 + 2);
    assert_eq!(out, vec![timer(T0 + 202)]);
    // In round 5 it does.
    let mut g = looking(3);
    recv(&mut g, 1, n(Looking, 1, 0, 5, 0), T0 + 1);
    recv(&mut g, 1, n(Following, 3, Z1, 5, 2), T0 + 2);
    let out = recv(&mut g, 2, n(Following, 3, Z1, 5, 2), T0 + 3);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Leading,
            vote: Vote::new(3, Z1, 5, 2),
            by: DecidedBy::RoundEstablished,
        }]
    );
}

#[test]
fn an_observer_observes_what_a_quorum_of_voters_proposes() {
    let mut f = looking(4);
    let min = i64::MIN;
    // Voter 3 in round 2: the observer joins the round and adopts 3's vote.
    let out = recv(&mut f, 3, n(Looking, 3, Z1, 2, 1), T0 + 1);
    assert_eq!(
        out,
        cat(vec![to_voters(3, Z1, 2, 1), vec![timer(T0 + 201)]])
    );
    let _ = min;
    let out = recv(&mut f, 2, n(Looking, 3, Z1, 2, 1), T0 + 2);
    assert_eq!(out, vec![timer(T0 + 202)]);
    let out = step(&mut f, Input::Tick, T0 + 202);
    assert_eq!(
        out,
        vec![Action::Decide {
            decision: Decision::Observing { leader: 3 },
            vote: Vote::new(3, Z1, 2, 1),
            by: DecidedBy::Round,
        }]
    );
    assert_eq!(f.state(), Observing);
}

#[test]
fn a_voter_ignores_the_observers_own_votes() {
    // The observer's notification never reaches the loop: only the direct answer.
    let mut f = looking(1);
    let out = recv(&mut f, 4, n(Observing, 3, Z1, 9, 9), T0 + 1);
    assert_eq!(out, vec![send(4, n(Looking, 1, Z1, 1, 1))]);
    assert_eq!(f.logical_clock(), 1);
}

#[test]
fn restarting_the_election_opens_a_new_round_with_the_new_history() {
    let mut f = decided_follower_of_3();
    let out = step(
        &mut f,
        Input::StartLooking {
            last_zxid: Z1 + 5,
            current_epoch: 2,
        },
        T0 + 5_000,
    );
    assert_eq!(
        out,
        cat(vec![to_voters(1, Z1 + 5, 2, 2), vec![timer(T0 + 5_200)]])
    );
    // Until this election ends, non-voters still hear the previous result.
    let out = recv(
        &mut f,
        4,
        n(Looking, i64::MIN, i64::MIN, 1, i64::MIN),
        T0 + 5_001,
    );
    assert_eq!(out, vec![send(4, n(Looking, 3, Z1, 2, 1))]);
}

/// Server `myid` as ringkeeper's driver runs it: the finalize wait ends once nobody is
/// left to hear from.
fn looking_decide_early(myid: Sid) -> Fle {
    let config = FleConfig {
        fast_failover: true,
        ..FleConfig::default()
    };
    started(Fle::new(myid, Participant, quorum(), config, Z1, 1))
}

fn unreachable(sid: Sid) -> Input {
    Input::Reachable {
        sid,
        reachable: false,
    }
}

#[test]
fn fast_failover_a_refused_voter_ends_the_finalize_wait() {
    // The leader (3) died: its port refuses us. 1 and 2 agree on 2.
    let mut f = looking_decide_early(2);
    recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 1);
    assert_eq!(step(&mut f, unreachable(3), T0 + 2), vec![]);
    let out = recv(&mut f, 1, n(Looking, 2, Z1, 1, 1), T0 + 5);
    assert_eq!(
        out,
        vec![
            timer(T0 + 205),
            Action::Decide {
                decision: Decision::Leading,
                vote: Vote::new(2, Z1, 1, 1),
                by: DecidedBy::Round,
            }
        ]
    );

    // The same when the refusal comes during the wait.
    let mut f = looking_decide_early(1);
    recv(&mut f, 1, n(Looking, 1, Z1, 1, 1), T0 + 1);
    recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 2);
    let out = recv(&mut f, 1, n(Looking, 2, Z1, 1, 1), T0 + 3);
    assert_eq!(out, vec![timer(T0 + 203)]);
    assert_eq!(
        step(&mut f, unreachable(3), T0 + 50),
        vec![Action::Decide {
            decision: Decision::Following { leader: 2 },
            vote: Vote::new(2, Z1, 1, 1),
            by: DecidedBy::Round,
        }]
    );
}

#[test]
fn fast_failover_waits_while_a_voter_may_still_speak() {
    // Nobody refused: Java's 200 ms wait.
    let mut f = looking_decide_early(2);
    recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 1);
    let out = recv(&mut f, 1, n(Looking, 2, Z1, 1, 1), T0 + 5);
    assert_eq!(out, vec![timer(T0 + 205)]);
    // Voter 3 refused once but has spoken since: still reachable, still waiting.
    let mut f = looking_decide_early(2);
    step(&mut f, unreachable(3), T0);
    recv(&mut f, 3, n(Looking, 2, Z1, 1, 1), T0 + 1);
    recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 2);
    // Quorum {2, 3}; voter 1 not heard and not refused.
    assert_eq!(f.deadline_ms(), Some(T0 + 202));
    assert!(f.in_election());
    // The proposed leader itself refused: no early decision (it cannot lead).
    let mut f = looking_decide_early(1);
    recv(&mut f, 1, n(Looking, 1, Z1, 1, 1), T0 + 1);
    recv(&mut f, 2, n(Looking, 3, Z1, 1, 1), T0 + 2);
    recv(&mut f, 1, n(Looking, 3, Z1, 1, 1), T0 + 3);
    step(&mut f, unreachable(3), T0 + 4);
    assert!(f.in_election());
    // And Java's default never decides early.
    let mut f = looking(2);
    recv(&mut f, 2, n(Looking, 2, Z1, 1, 1), T0 + 1);
    step(&mut f, unreachable(3), T0 + 2);
    assert_eq!(
        recv(&mut f, 1, n(Looking, 2, Z1, 1, 1), T0 + 5),
        vec![timer(T0 + 205)]
    );
}

#[test]
fn fast_failover_a_looking_vote_heard_while_following_is_read_when_the_election_starts() {
    // Server 1 follows 3 (round 1).
    let mut f = looking_decide_early(1);
    recv(&mut f, 1, n(Looking, 1, Z1, 1, 1), T0 + 1);
    recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 2);
    recv(&mut f, 1, n(Looking, 3, Z1, 1, 1), T0 + 3);
    step(&mut f, Input::Tick, T0 + 203);
    assert_eq!(f.state(), Following);

    // 3 dies; 2 notices first and votes in round 2 while 1 still follows: answered
    // with 1's current vote, as Java answers it.
    let out = recv(&mut f, 2, n(Looking, 2, Z1, 2, 1), T0 + 1000);
    assert_eq!(out, vec![send(2, n(Following, 3, Z1, 1, 1))]);

    // 1's election starts: 2's vote is read at once (no 200 ms notification timeout),
    // 1 adopts it, and with 3 refused nobody is left to hear from.
    let out = step(
        &mut f,
        Input::StartLooking {
            last_zxid: Z1,
            current_epoch: 1,
        },
        T0 + 1001,
    );
    assert_eq!(
        out,
        cat(vec![
            to_voters(1, Z1, 2, 1),
            vec![timer(T0 + 1201)],
            to_voters(2, Z1, 2, 1),
            vec![timer(T0 + 1201)],
        ])
    );
    step(&mut f, unreachable(3), T0 + 1002);
    let out = recv(&mut f, 1, n(Looking, 2, Z1, 2, 1), T0 + 1003);
    assert_eq!(
        out.last(),
        Some(&Action::Decide {
            decision: Decision::Following { leader: 2 },
            vote: Vote::new(2, Z1, 2, 1),
            by: DecidedBy::Round,
        })
    );

    // Java's default keeps nothing: the same start sends only its own vote.
    let mut f = looking(1);
    recv(&mut f, 1, n(Looking, 1, Z1, 1, 1), T0 + 1);
    recv(&mut f, 3, n(Looking, 3, Z1, 1, 1), T0 + 2);
    recv(&mut f, 1, n(Looking, 3, Z1, 1, 1), T0 + 3);
    step(&mut f, Input::Tick, T0 + 203);
    recv(&mut f, 2, n(Looking, 2, Z1, 2, 1), T0 + 1000);
    let start = Input::StartLooking {
        last_zxid: Z1,
        current_epoch: 1,
    };
    assert_eq!(
        step(&mut f, start, T0 + 1001),
        cat(vec![to_voters(1, Z1, 2, 1), vec![timer(T0 + 1201)]])
    );
}
