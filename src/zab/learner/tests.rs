//! Exact-action tests of the learner, one or more per spec action, named after it.

use bytes::Bytes;

use super::*;
use crate::zab::make_zxid;

const CONFIG: ZabConfig = ZabConfig {
    tick_ms: 100,
    init_limit: 10,
    sync_limit: 5,
    commit_log_count: 8,
    log_sync: false,
    #[cfg(feature = "zab-canary")]
    canary: crate::zab::history::Canary::None,
};

/// Server 2, accepted and current epoch 1, log ending at (1,3).
fn learner(kind: LearnerKind) -> Learner {
    Learner::new(2, kind, CONFIG, 0, 1, 1, make_zxid(1, 3))
}

fn step(l: &mut Learner, input: Input) -> Vec<Action> {
    let mut out = Vec::new();
    l.step(input, 1000, &mut out);
    out
}

fn rx(l: &mut Learner, p: QuorumPacket) -> Vec<Action> {
    step(l, Input::Received(p))
}

fn proposal(e: i64, c: i64) -> QuorumPacket {
    QuorumPacket::with_data(PacketType::Proposal, make_zxid(e, c), format!("t{e}.{c}"))
}

fn txn(e: i64, c: i64) -> Txn {
    Txn {
        zxid: make_zxid(e, c),
        data: Bytes::from(format!("t{e}.{c}")),
    }
}

fn persisted(l: &mut Learner, epoch: i64, counter: i64) -> Vec<Action> {
    step(
        l,
        Input::Persisted {
            through: make_zxid(epoch, counter),
        },
    )
}

fn apply(epoch: i64, counter: i64) -> Action {
    Action::Apply {
        through: make_zxid(epoch, counter),
    }
}

fn looking(out: &[Action]) -> bool {
    matches!(out.last(), Some(Action::GoLooking { .. }))
}

/// Connected, LEADERINFO(2) answered: waiting for the sync packet.
fn at_sync(kind: LearnerKind) -> Learner {
    let mut l = learner(kind);
    step(&mut l, Input::Connected);
    rx(&mut l, LeaderInfo::new(2).packet());
    l
}

/// Synced by DIFF with (1,4) committed and (1,5) outstanding, NEWLEADER received and
/// everything durable: the NEWLEADER ACK is out.
fn acked_new_leader() -> Learner {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 4)));
    rx(&mut l, proposal(1, 4));
    rx(&mut l, Bare::commit(make_zxid(1, 4)));
    rx(&mut l, proposal(1, 5));
    rx(
        &mut l,
        NewLeader {
            new_epoch: 2,
            config: None,
        }
        .packet(),
    );
    step(
        &mut l,
        Input::Persisted {
            through: make_zxid(1, 5),
        },
    );
    l
}

fn broadcasting() -> Learner {
    let mut l = acked_new_leader();
    rx(&mut l, Bare::up_to_date());
    l
}

#[test]
fn connect_and_follower_send_followerinfo() {
    let mut l = learner(LearnerKind::Follower);
    let out = step(&mut l, Input::Connected);
    let info = LearnerInfo {
        sid: 2,
        protocol_version: 0x10000,
        config_version: 0,
    };
    assert_eq!(
        out,
        vec![
            Action::Send(info.packet(LearnerKind::Follower, 1)),
            Action::SetTimer { at_ms: 2000 },
        ]
    );
    // 40 bytes on the wire, zxid acceptedEpoch << 32.
    let Action::Send(p) = &out[0] else {
        unreachable!()
    };
    assert_eq!(p.to_bytes().len(), 40);
    assert_eq!(p.zxid, 1 << 32);
}

#[test]
fn observer_sends_observerinfo() {
    let mut l = learner(LearnerKind::Observer);
    let out = step(&mut l, Input::Connected);
    assert!(matches!(&out[0], Action::Send(p) if p.kind == PacketType::ObserverInfo));
}

#[test]
fn follower_process_leaderinfo_accepts_a_newer_epoch_durably_before_ackepoch() {
    let mut l = learner(LearnerKind::Follower);
    step(&mut l, Input::Connected);
    let out = rx(&mut l, LeaderInfo::new(2).packet());
    let ack = AckEpoch {
        last_zxid: make_zxid(1, 3),
        current_epoch: 1,
    };
    assert_eq!(
        out,
        vec![
            Action::WriteAcceptedEpoch { epoch: 2 },
            Action::Send(ack.packet()),
        ]
    );
    assert_eq!(l.accepted_epoch(), 2);
}

#[test]
fn follower_process_leaderinfo_of_the_accepted_epoch_acks_with_minus_one() {
    let mut l = Learner::new(2, LearnerKind::Follower, CONFIG, 0, 2, 1, make_zxid(1, 3));
    step(&mut l, Input::Connected);
    let out = rx(&mut l, LeaderInfo::new(2).packet());
    let ack = AckEpoch {
        last_zxid: make_zxid(1, 3),
        current_epoch: -1,
    };
    assert_eq!(out, vec![Action::Send(ack.packet())]);
}

#[test]
fn follower_process_leaderinfo_of_an_older_epoch_goes_looking() {
    let mut l = Learner::new(2, LearnerKind::Follower, CONFIG, 0, 3, 1, make_zxid(1, 3));
    step(&mut l, Input::Connected);
    let out = rx(&mut l, LeaderInfo::new(2).packet());
    assert_eq!(
        out,
        vec![Action::GoLooking {
            reason: "leader's epoch 2 is less than our accepted epoch 3".into()
        }]
    );
    assert!(l.is_done());
    assert_eq!(rx(&mut l, Bare::diff(0)), vec![]);
}

#[test]
fn follower_process_leaderinfo_rejects_anything_else() {
    let mut l = learner(LearnerKind::Follower);
    step(&mut l, Input::Connected);
    assert!(looking(&rx(&mut l, Bare::diff(0))));
    let mut l = learner(LearnerKind::Follower);
    step(&mut l, Input::Connected);
    // LEADERINFO with null data: Java's reader throws.
    assert!(looking(&rx(
        &mut l,
        QuorumPacket::bare(PacketType::LeaderInfo, 2 << 32)
    )));
}

#[test]
fn follower_process_sync_message_diff_keeps_the_log() {
    let mut l = at_sync(LearnerKind::Follower);
    assert_eq!(rx(&mut l, Bare::diff(make_zxid(1, 3))), vec![]);
}

#[test]
fn follower_process_sync_message_trunc_cuts_the_log() {
    let mut l = at_sync(LearnerKind::Follower);
    assert_eq!(
        rx(&mut l, Bare::trunc(make_zxid(1, 2))),
        vec![Action::Truncate {
            zxid: make_zxid(1, 2)
        }]
    );
    assert_eq!(l.last_logged(), make_zxid(1, 2));
    // TRUNC+DIFF: the pairs follow directly.
    assert_eq!(rx(&mut l, proposal(1, 3)), vec![Action::Persist(txn(1, 3))]);
}

#[test]
fn follower_process_sync_message_trunc_above_our_log_goes_looking() {
    // Java cannot truncate to a zxid it does not have and exits (13).
    let mut l = at_sync(LearnerKind::Follower);
    assert!(looking(&rx(&mut l, Bare::trunc(make_zxid(1, 9)))));
}

#[test]
fn follower_process_sync_message_snap_loads_the_snapshot() {
    let mut l = at_sync(LearnerKind::Follower);
    assert_eq!(
        rx(&mut l, Bare::snap(make_zxid(1, 7))),
        vec![Action::LoadSnapshot {
            zxid: make_zxid(1, 7)
        }]
    );
    assert_eq!(l.last_logged(), make_zxid(1, 7));
}

#[test]
fn follower_process_sync_message_anything_else_goes_looking() {
    // A Java learner calls System.exit(13) here.
    for p in [proposal(1, 4), Bare::up_to_date(), Ping::packet(0)] {
        let mut l = at_sync(LearnerKind::Follower);
        let out = rx(&mut l, p.clone());
        assert!(looking(&out), "{p:?}");
        assert_eq!(out.len(), 1);
    }
}

#[test]
fn follower_process_proposal_in_sync_logs_without_acking() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 4)));
    assert_eq!(rx(&mut l, proposal(1, 4)), vec![Action::Persist(txn(1, 4))]);
    // Durable, but no ACK before the NEWLEADER ACK (ZOOKEEPER-4685).
    assert_eq!(persisted(&mut l, 1, 4), vec![]);
}

#[test]
fn follower_process_commit_in_sync_applies_nothing_before_uptodate() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 4)));
    rx(&mut l, proposal(1, 4));
    step(
        &mut l,
        Input::Persisted {
            through: make_zxid(1, 4),
        },
    );
    assert_eq!(rx(&mut l, Bare::commit(make_zxid(1, 4))), vec![]);
}

#[test]
fn follower_process_commit_in_sync_must_name_the_next_proposal() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 5)));
    rx(&mut l, proposal(1, 4));
    rx(&mut l, proposal(1, 5));
    assert!(looking(&rx(&mut l, Bare::commit(make_zxid(1, 5)))));
}

#[test]
fn follower_process_newleader_persists_then_writes_the_epoch_then_acks() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 4)));
    rx(&mut l, proposal(1, 4));
    rx(&mut l, Bare::commit(make_zxid(1, 4)));
    rx(&mut l, proposal(1, 5));
    let nl = NewLeader {
        new_epoch: 2,
        config: Some(Bytes::from_static(b"server.1=a:1:2:participant\nversion=0")),
    };
    // Nothing is durable yet: no epoch, no ACK.
    assert_eq!(rx(&mut l, nl.packet()), vec![]);
    assert_eq!(persisted(&mut l, 1, 4), vec![]);
    // (1,4) was committed in sync and needs no ACK; (1,5) gets one after the NEWLEADER
    // ACK, never before.
    assert_eq!(
        persisted(&mut l, 1, 5),
        vec![
            Action::WriteCurrentEpoch { epoch: 2 },
            Action::Send(Bare::ack(2 << 32)),
            Action::Send(Bare::ack(make_zxid(1, 5))),
        ]
    );
    assert_eq!(l.current_epoch(), 2);
}

#[test]
fn follower_process_newleader_with_everything_durable_acks_at_once() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 3)));
    assert_eq!(
        rx(
            &mut l,
            NewLeader {
                new_epoch: 2,
                config: None
            }
            .packet()
        ),
        vec![
            Action::WriteCurrentEpoch { epoch: 2 },
            Action::Send(Bare::ack(2 << 32)),
        ]
    );
}

#[test]
fn follower_process_newleader_of_another_epoch_goes_looking() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 3)));
    assert!(looking(&rx(
        &mut l,
        NewLeader {
            new_epoch: 3,
            config: None
        }
        .packet()
    )));
}

#[test]
fn follower_ignores_ping_in_sync() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 3)));
    assert_eq!(rx(&mut l, Ping::packet(make_zxid(1, 3))), vec![]);
}

#[test]
fn follower_process_uptodate_acks_serves_and_applies() {
    let mut l = acked_new_leader();
    assert_eq!(
        rx(&mut l, Bare::up_to_date()),
        vec![
            Action::Send(Bare::ack(2 << 32)),
            Action::Synced { epoch: 2 },
            apply(1, 4),
        ]
    );
    assert!(l.is_broadcasting());
}

#[test]
fn follower_process_uptodate_before_our_newleader_ack_goes_looking() {
    let mut l = at_sync(LearnerKind::Follower);
    rx(&mut l, Bare::diff(make_zxid(1, 4)));
    rx(&mut l, proposal(1, 4));
    rx(
        &mut l,
        NewLeader {
            new_epoch: 2,
            config: None,
        }
        .packet(),
    );
    assert!(looking(&rx(&mut l, Bare::up_to_date())));
}

#[test]
fn follower_process_proposal_acks_after_persist() {
    let mut l = broadcasting();
    assert_eq!(rx(&mut l, proposal(2, 1)), vec![Action::Persist(txn(2, 1))]);
    assert_eq!(
        persisted(&mut l, 2, 1),
        vec![Action::Send(Bare::ack(make_zxid(2, 1)))]
    );
}

#[test]
fn follower_process_proposal_rejects_null_data_and_old_zxids() {
    let mut l = broadcasting();
    assert!(looking(&rx(
        &mut l,
        QuorumPacket::bare(PacketType::Proposal, make_zxid(2, 1))
    )));
    let mut l = broadcasting();
    assert!(looking(&rx(&mut l, proposal(1, 5))));
}

#[test]
fn follower_process_commit_applies_once_durable() {
    let mut l = broadcasting();
    rx(&mut l, Bare::commit(make_zxid(1, 5)));
    rx(&mut l, proposal(2, 1));
    // Committed by the others before our write finished: apply only when durable, and
    // ACK it all the same (a Java leader's SyncLimitCheck waits for every ACK).
    assert_eq!(rx(&mut l, Bare::commit(make_zxid(2, 1))), vec![]);
    assert_eq!(
        persisted(&mut l, 2, 1),
        vec![Action::Send(Bare::ack(make_zxid(2, 1))), apply(2, 1)]
    );
}

#[test]
fn follower_process_commit_of_the_outstanding_sync_proposal() {
    let mut l = broadcasting();
    assert_eq!(rx(&mut l, Bare::commit(make_zxid(1, 5))), vec![apply(1, 5)]);
}

#[test]
fn follower_process_commit_not_matching_the_head_goes_looking() {
    // Java calls System.exit(12) on an unmatched COMMIT.
    let mut l = broadcasting();
    rx(&mut l, proposal(2, 1));
    let out = rx(&mut l, Bare::commit(make_zxid(2, 1)));
    assert_eq!(
        out,
        vec![Action::GoLooking {
            reason: "COMMIT 0x200000001 but the next pending proposal is 0x100000005".into()
        }]
    );
}

#[test]
fn follower_ignores_a_commit_with_nothing_pending() {
    let mut l = broadcasting();
    rx(&mut l, Bare::commit(make_zxid(1, 5)));
    assert_eq!(rx(&mut l, Bare::commit(make_zxid(1, 6))), vec![]);
}

#[test]
fn follower_answers_ping_with_empty_not_null_data() {
    let mut l = broadcasting();
    let out = rx(&mut l, Ping::packet(make_zxid(2, 0)));
    let Some(Action::Send(reply)) = out.first() else {
        panic!("{out:?}")
    };
    // Null data would kill the Java leader's handler (NPE).
    assert_eq!(reply.data, Some(Bytes::new()));
    assert_eq!(reply.zxid, make_zxid(2, 0));
    assert_eq!(reply.to_bytes().len(), 20);
}

#[test]
fn observer_takes_inform_and_never_acks() {
    let mut l = at_sync(LearnerKind::Observer);
    rx(&mut l, Bare::diff(make_zxid(1, 3)));
    rx(
        &mut l,
        NewLeader {
            new_epoch: 2,
            config: None,
        }
        .packet(),
    );
    rx(&mut l, Bare::up_to_date());
    let inform = QuorumPacket::with_data(PacketType::Inform, make_zxid(2, 1), "t2.1");
    assert_eq!(rx(&mut l, inform), vec![Action::Persist(txn(2, 1))]);
    assert_eq!(persisted(&mut l, 2, 1), vec![apply(2, 1)]);
    // PROPOSAL is not for observers in broadcast.
    assert_eq!(rx(&mut l, proposal(2, 2)), vec![]);
}

#[test]
fn silence_beyond_the_read_timeout_goes_looking() {
    let mut l = learner(LearnerKind::Follower);
    let mut out = Vec::new();
    l.step(Input::Connected, 0, &mut out);
    out.clear();
    l.step(Input::Tick, 999, &mut out);
    assert_eq!(out, vec![Action::SetTimer { at_ms: 1000 }]);
    out.clear();
    l.step(Input::Tick, 1000, &mut out);
    assert!(looking(&out));
    // After NEWLEADER the timeout is syncLimit (last heard at 1000).
    let mut l = acked_new_leader();
    let mut out = Vec::new();
    l.step(Input::Tick, 1499, &mut out);
    assert_eq!(out, vec![Action::SetTimer { at_ms: 1500 }]);
    out.clear();
    l.step(Input::Tick, 1500, &mut out);
    assert!(looking(&out));
}

#[test]
fn a_closed_connection_goes_looking() {
    let mut l = broadcasting();
    assert_eq!(
        step(&mut l, Input::Disconnected),
        vec![Action::GoLooking {
            reason: "connection to the leader closed".into()
        }]
    );
}
