//! Exact-action tests of the leader, one or more per spec action, named after it.

use crate::zab::quorum::QuorumServer;
use crate::zab::vote::LearnerType;

use super::*;

const CONFIG: ZabConfig = ZabConfig {
    tick_ms: 100,
    init_limit: 10,
    sync_limit: 5,
    commit_log_count: 3,
    log_sync: false,
    #[cfg(feature = "zab-canary")]
    canary: crate::zab::history::Canary::None,
};

fn quorum(voters: i64, observers: i64) -> QuorumMaj {
    let servers = (1..=voters + observers)
        .map(|id| QuorumServer {
            id,
            host: format!("10.0.0.{id}"),
            quorum_port: 2888,
            election_port: 3888,
            learner_type: if id <= voters {
                LearnerType::Participant
            } else {
                LearnerType::Observer
            },
            client: None,
        })
        .collect();
    match QuorumMaj::new(servers, 0) {
        Ok(q) => q,
        Err(e) => panic!("{e}"),
    }
}

fn txn(e: i64, c: i64) -> Txn {
    Txn {
        zxid: make_zxid(e, c),
        data: Bytes::from(format!("t{e}.{c}")),
    }
}

/// Server 1 of `voters` (+ one observer, sid voters+1), accepted and current epoch 1,
/// log (1,1)..(1,5), started at time 0.
fn leader(voters: i64) -> Leader {
    leader_with(voters, CONFIG)
}

fn leader_with(voters: i64, config: ZabConfig) -> Leader {
    let mut l = Leader::new(
        1,
        quorum(voters, 1),
        config,
        1,
        1,
        make_zxid(1, 5),
        (1..=5).map(|c| txn(1, c)),
    );
    let mut out = Vec::new();
    l.step(Input::Start, 0, &mut out);
    assert_eq!(out, vec![Action::SetTimer { at_ms: 50 }]);
    l
}

fn step(l: &mut Leader, input: Input) -> Vec<Action> {
    let mut out = Vec::new();
    l.step(input, 100, &mut out);
    out
}

fn rx(l: &mut Leader, conn: ConnId, packet: QuorumPacket) -> Vec<Action> {
    step(l, Input::Received { conn, packet })
}

fn info(sid: Sid, accepted_epoch: i64) -> QuorumPacket {
    LearnerInfo {
        sid,
        protocol_version: 0x10000,
        config_version: 0,
    }
    .packet(LearnerKind::Follower, accepted_epoch)
}

fn ack_epoch(last_zxid: Zxid, current_epoch: i32) -> QuorumPacket {
    AckEpoch {
        last_zxid,
        current_epoch,
    }
    .packet()
}

fn send(conn: ConnId, packet: QuorumPacket) -> Action {
    Action::Send { conn, packet }
}

fn new_leader(l: &Leader, epoch: i64) -> Action {
    send(
        10,
        NewLeader {
            new_epoch: epoch,
            config: Some(l.quorum.text().clone()),
        }
        .packet(),
    )
}

fn pair(conn: ConnId, t: Txn) -> [Action; 2] {
    [
        send(
            conn,
            QuorumPacket::with_data(PacketType::Proposal, t.zxid, t.data),
        ),
        send(conn, Bare::commit(t.zxid)),
    ]
}

fn persisted(l: &mut Leader, epoch: i64, counter: i64) -> Vec<Action> {
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

/// Three voters; server 2 on conn 10 sent FOLLOWERINFO and got LEADERINFO(2).
fn awaiting_ack_epoch() -> Leader {
    awaiting_ack_epoch_with(CONFIG)
}

fn awaiting_ack_epoch_with(config: ZabConfig) -> Leader {
    let mut l = leader_with(3, config);
    step(&mut l, Input::Accepted { conn: 10 });
    rx(&mut l, 10, info(2, 1));
    l
}

/// Three voters; server 2 on conn 10 up to its NEWLEADER (DIFF, nothing missing).
fn syncing() -> Leader {
    let mut l = awaiting_ack_epoch();
    rx(&mut l, 10, ack_epoch(make_zxid(1, 5), 1));
    l
}

/// Established in epoch 2 with server 2 on conn 10.
fn broadcasting() -> Leader {
    let mut l = syncing();
    rx(&mut l, 10, Bare::ack(2 << 32));
    assert!(l.is_broadcasting());
    l
}

/// `voters` voters, established in epoch 2 with the followers given as (conn, sid),
/// each synced by DIFF from (1,5).
fn broadcasting_among(voters: i64, followers: &[(ConnId, Sid)]) -> Leader {
    let mut l = leader(voters);
    for &(conn, sid) in followers {
        step(&mut l, Input::Accepted { conn });
        rx(&mut l, conn, info(sid, 1));
    }
    for &(conn, _) in followers {
        rx(&mut l, conn, ack_epoch(make_zxid(1, 5), 1));
    }
    for &(conn, _) in followers {
        rx(&mut l, conn, Bare::ack(2 << 32));
    }
    assert!(l.is_broadcasting());
    l
}

#[test]
fn leader_process_followerinfo_decides_the_epoch_with_a_quorum() {
    let mut l = leader(3);
    step(&mut l, Input::Accepted { conn: 10 });
    assert_eq!(
        rx(&mut l, 10, info(2, 1)),
        vec![
            Action::WriteAcceptedEpoch { epoch: 2 },
            send(10, LeaderInfo::new(2).packet()),
        ]
    );
    assert_eq!(l.epoch(), Some(2));
}

#[test]
fn leader_process_followerinfo_takes_one_above_the_highest_accepted_epoch() {
    let mut l = leader(5);
    step(&mut l, Input::Accepted { conn: 10 });
    step(&mut l, Input::Accepted { conn: 11 });
    step(&mut l, Input::Accepted { conn: 12 });
    // An observer's accepted epoch raises the epoch but does not count to the quorum.
    let observer = LearnerInfo {
        sid: 6,
        protocol_version: 0x10000,
        config_version: 0,
    }
    .packet(LearnerKind::Observer, 7);
    assert_eq!(rx(&mut l, 12, observer), vec![]);
    assert_eq!(rx(&mut l, 10, info(2, 4)), vec![]);
    assert_eq!(
        rx(&mut l, 11, info(3, 1)),
        vec![
            Action::WriteAcceptedEpoch { epoch: 8 },
            send(10, LeaderInfo::new(8).packet()),
            send(11, LeaderInfo::new(8).packet()),
            send(12, LeaderInfo::new(8).packet()),
        ]
    );
}

#[test]
fn leader_process_followerinfo_closes_on_anything_else() {
    let mut l = leader(3);
    step(&mut l, Input::Accepted { conn: 10 });
    assert_eq!(
        rx(&mut l, 10, Bare::ack(0)),
        vec![Action::Close {
            conn: 10,
            reason: "first packet: expected a FollowerInfo packet, got Ack".into()
        }]
    );
    // A newer config than ours, and a pre-0x10000 protocol, are refused too.
    step(&mut l, Input::Accepted { conn: 11 });
    let newer = LearnerInfo {
        sid: 2,
        protocol_version: 0x10000,
        config_version: 5,
    }
    .packet(LearnerKind::Follower, 1);
    assert!(matches!(
        &rx(&mut l, 11, newer)[..],
        [Action::Close { conn: 11, .. }]
    ));
}

#[test]
fn leader_process_ackepoch_with_a_quorum_writes_the_epoch_and_syncs() {
    let mut l = awaiting_ack_epoch();
    let out = rx(&mut l, 10, ack_epoch(make_zxid(1, 5), 1));
    assert_eq!(
        out,
        vec![
            Action::WriteCurrentEpoch { epoch: 2 },
            send(10, Bare::diff(make_zxid(1, 5))),
            new_leader(&l, 2),
        ]
    );
}

#[test]
fn leader_process_ackepoch_drops_a_learner_ahead_of_the_leader() {
    let mut l = awaiting_ack_epoch();
    assert_eq!(
        rx(&mut l, 10, ack_epoch(make_zxid(1, 6), 1)),
        vec![Action::Close {
            conn: 10,
            reason: "follower 2 is ahead of the leader: (1, 4294967302) > (1, 4294967301)".into()
        }]
    );
}

#[test]
fn leader_process_ackepoch_of_an_already_accepted_epoch_does_not_count() {
    let mut l = awaiting_ack_epoch();
    assert_eq!(rx(&mut l, 10, ack_epoch(make_zxid(1, 5), -1)), vec![]);
    // Nor does one with no log (zxid -1).
    step(&mut l, Input::Accepted { conn: 11 });
    rx(&mut l, 11, info(3, 1));
    assert_eq!(rx(&mut l, 11, ack_epoch(-1, 1)), vec![]);
}

#[test]
fn leader_sync_follower_diff_sends_the_missing_pairs() {
    let mut l = awaiting_ack_epoch();
    let out = rx(&mut l, 10, ack_epoch(make_zxid(1, 3), 1));
    let mut want = vec![
        Action::WriteCurrentEpoch { epoch: 2 },
        send(10, Bare::diff(make_zxid(1, 5))),
    ];
    want.extend(pair(10, txn(1, 4)));
    want.extend(pair(10, txn(1, 5)));
    want.push(new_leader(&l, 2));
    assert_eq!(out, want);
}

#[test]
fn leader_sync_follower_trunc_cuts_a_learner_ahead_in_the_epoch() {
    // Learner at (1,7): not "ahead" at ACKEPOCH because its current epoch is 0.
    let mut l = awaiting_ack_epoch();
    let out = rx(&mut l, 10, ack_epoch(make_zxid(1, 7), 0));
    assert_eq!(
        out,
        vec![
            Action::WriteCurrentEpoch { epoch: 2 },
            send(10, Bare::trunc(make_zxid(1, 5))),
            new_leader(&l, 2),
        ]
    );
}

#[test]
fn leader_sync_follower_snap_below_the_window() {
    // The window holds (1,3)..(1,5); a learner at (1,1) gets SNAP.
    let mut l = awaiting_ack_epoch();
    let out = rx(&mut l, 10, ack_epoch(make_zxid(1, 1), 1));
    assert_eq!(
        out,
        vec![
            Action::WriteCurrentEpoch { epoch: 2 },
            send(10, Bare::snap(make_zxid(1, 5))),
            Action::SendSnapshot {
                conn: 10,
                zxid: make_zxid(1, 5)
            },
            new_leader(&l, 2),
        ]
    );
}

/// Like `awaiting_ack_epoch`, with syncs from the on-disk log allowed.
fn awaiting_ack_epoch_log_sync() -> Leader {
    awaiting_ack_epoch_with(ZabConfig {
        log_sync: true,
        ..CONFIG
    })
}

#[test]
fn leader_sync_follower_below_the_window_reads_the_log_then_diffs() {
    // The window holds (1,3)..(1,5); a learner at (1,1) waits for the log on disk,
    // which holds (1,1)..(1,5): DIFF with (1,2)..(1,5), the older ones from the log.
    let mut l = awaiting_ack_epoch_log_sync();
    let out = rx(&mut l, 10, ack_epoch(make_zxid(1, 1), 1));
    assert_eq!(
        out,
        vec![
            Action::WriteCurrentEpoch { epoch: 2 },
            Action::ReadLog {
                conn: 10,
                from: make_zxid(1, 1)
            },
        ]
    );
    let txns = (1..=5).map(|c| txn(1, c)).collect();
    let out = step(&mut l, Input::LogRead { conn: 10, txns });
    let mut want = vec![send(10, Bare::diff(make_zxid(1, 5)))];
    for c in 2..=5 {
        want.extend(pair(10, txn(1, c)));
    }
    want.push(new_leader(&l, 2));
    assert_eq!(out, want);
    // A second answer for the same learner is stale and ignored.
    let again = step(
        &mut l,
        Input::LogRead {
            conn: 10,
            txns: Vec::new(),
        },
    );
    assert_eq!(again, vec![]);
}

#[test]
fn leader_sync_follower_from_a_log_that_cannot_serve_is_snap() {
    let snap = |l: &Leader| {
        vec![
            send(10, Bare::snap(make_zxid(1, 5))),
            Action::SendSnapshot {
                conn: 10,
                zxid: make_zxid(1, 5),
            },
            new_leader(l, 2),
        ]
    };
    // Nothing read (over the size limit, unreadable, purged).
    let mut l = awaiting_ack_epoch_log_sync();
    rx(&mut l, 10, ack_epoch(make_zxid(1, 1), 1));
    let out = step(
        &mut l,
        Input::LogRead {
            conn: 10,
            txns: Vec::new(),
        },
    );
    assert_eq!(out, snap(&l));
    // The log does not hold the learner's own zxid: it starts after it.
    let mut l = awaiting_ack_epoch_log_sync();
    rx(&mut l, 10, ack_epoch(make_zxid(1, 1), 1));
    let txns = (2..=5).map(|c| txn(1, c)).collect();
    let out = step(&mut l, Input::LogRead { conn: 10, txns });
    assert_eq!(out, snap(&l));
    // The log stops short of the window's first txn (1,3): a gap, so SNAP.
    let mut l = awaiting_ack_epoch_log_sync();
    rx(&mut l, 10, ack_epoch(make_zxid(1, 1), 1));
    let txns = (1..=2).map(|c| txn(1, c)).collect();
    let out = step(&mut l, Input::LogRead { conn: 10, txns });
    assert_eq!(out, snap(&l));
}

#[test]
fn leader_sync_follower_inside_the_window_reads_no_log() {
    let mut l = awaiting_ack_epoch_log_sync();
    let out = rx(&mut l, 10, ack_epoch(make_zxid(1, 3), 1));
    assert!(
        !out.iter().any(|a| matches!(a, Action::ReadLog { .. })),
        "{out:?}"
    );
    assert_eq!(out[1], send(10, Bare::diff(make_zxid(1, 5))));
}

#[test]
fn leader_process_ackld_with_a_quorum_starts_the_server() {
    let mut l = syncing();
    assert_eq!(
        rx(&mut l, 10, Bare::ack(2 << 32)),
        vec![
            apply(1, 5),
            Action::Established { epoch: 2 },
            send(10, Bare::up_to_date()),
        ]
    );
}

#[test]
fn leader_process_ackld_requires_an_ack() {
    let mut l = syncing();
    assert_eq!(
        rx(&mut l, 10, Ping::packet(0)),
        vec![Action::Close {
            conn: 10,
            reason: "next packet was supposed to be an ACK, got Ping".into()
        }]
    );
    // An ACK of another zxid is read but does not count.
    let mut l = syncing();
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(1, 5))), vec![]);
    assert!(!l.is_broadcasting());
}

#[test]
fn leader_process_request_persists_and_proposes() {
    let mut l = broadcasting();
    let out = step(
        &mut l,
        Input::Propose {
            data: Bytes::from_static(b"t2.1"),
        },
    );
    assert_eq!(
        out,
        vec![
            Action::Persist(txn(2, 1)),
            send(
                10,
                QuorumPacket::with_data(PacketType::Proposal, make_zxid(2, 1), "t2.1")
            ),
        ]
    );
}

#[test]
fn leader_process_request_before_broadcast_is_ignored() {
    let mut l = syncing();
    let data = Bytes::from_static(b"x");
    assert_eq!(step(&mut l, Input::Propose { data }), vec![]);
}

#[test]
fn leader_process_request_at_the_counter_rollover_forces_an_election() {
    let mut l = broadcasting();
    l.last_proposed = make_zxid(2, COUNTER_ROLLOVER - 1);
    let data = Bytes::from_static(b"x");
    assert_eq!(
        step(&mut l, Input::Propose { data }),
        vec![Action::GoLooking {
            reason: "zxid lower 32 bits have rolled over, forcing re-election".into()
        }]
    );
}

#[test]
fn leader_process_ack_commits_with_a_quorum_and_applies_once_durable() {
    let mut l = broadcasting();
    step(
        &mut l,
        Input::Propose {
            data: "t2.1".into(),
        },
    );
    // The follower's ACK and ours form the quorum of 2; ours only once durable.
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 1))), vec![]);
    assert_eq!(
        persisted(&mut l, 2, 1),
        vec![send(10, Bare::commit(make_zxid(2, 1))), apply(2, 1),]
    );
    assert_eq!(l.last_committed(), make_zxid(2, 1));
    // ACKs of committed, unknown, and epoch zxids are ignored.
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 1))), vec![]);
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 9))), vec![]);
    assert_eq!(rx(&mut l, 10, Bare::ack(2 << 32)), vec![]);
}

#[test]
fn leader_process_ack_commits_in_zxid_order() {
    let mut l = broadcasting();
    step(
        &mut l,
        Input::Propose {
            data: "t2.1".into(),
        },
    );
    step(
        &mut l,
        Input::Propose {
            data: "t2.2".into(),
        },
    );
    step(
        &mut l,
        Input::Persisted {
            through: make_zxid(2, 2),
        },
    );
    // (2,2) has a quorum first but waits for (2,1).
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 2))), vec![]);
    assert_eq!(
        rx(&mut l, 10, Bare::ack(make_zxid(2, 1))),
        vec![
            send(10, Bare::commit(make_zxid(2, 1))),
            send(10, Bare::commit(make_zxid(2, 2))),
            apply(2, 2),
        ]
    );
}

#[test]
fn leader_commit_defers_apply_until_its_own_persist() {
    // Five voters: three followers commit it before our write is durable.
    let mut l = broadcasting_among(5, &[(10, 2), (11, 3), (12, 4)]);
    step(
        &mut l,
        Input::Propose {
            data: "t2.1".into(),
        },
    );
    rx(&mut l, 10, Bare::ack(make_zxid(2, 1)));
    rx(&mut l, 11, Bare::ack(make_zxid(2, 1)));
    assert_eq!(
        rx(&mut l, 12, Bare::ack(make_zxid(2, 1))),
        vec![
            send(10, Bare::commit(make_zxid(2, 1))),
            send(11, Bare::commit(make_zxid(2, 1))),
            send(12, Bare::commit(make_zxid(2, 1))),
        ]
    );
    assert_eq!(persisted(&mut l, 2, 1), vec![apply(2, 1)]);
}

#[test]
fn a_late_learner_gets_the_epoch_outstanding_proposals_and_uptodate() {
    let mut l = broadcasting();
    step(
        &mut l,
        Input::Propose {
            data: "t2.1".into(),
        },
    );
    step(&mut l, Input::Accepted { conn: 11 });
    assert_eq!(
        rx(&mut l, 11, info(3, 1)),
        vec![send(11, LeaderInfo::new(2).packet())]
    );
    // Synced without the freshness check, NEWLEADER, then the outstanding proposal:
    // its COMMIT will come after NEWLEADER, and a ZooKeeper 3.8.0 learner takes a
    // COMMIT after NEWLEADER only for a proposal sent after it (ZOOKEEPER-4394).
    let out = rx(&mut l, 11, ack_epoch(make_zxid(1, 5), 1));
    assert_eq!(
        out,
        vec![
            send(11, Bare::diff(make_zxid(1, 5))),
            send(
                11,
                NewLeader {
                    new_epoch: 2,
                    config: Some(l.quorum.text().clone()),
                }
                .packet()
            ),
            send(
                11,
                QuorumPacket::with_data(PacketType::Proposal, make_zxid(2, 1), "t2.1")
            ),
        ]
    );
    assert_eq!(
        rx(&mut l, 11, Bare::ack(2 << 32)),
        vec![send(11, Bare::up_to_date())]
    );
}

#[test]
fn observers_get_inform_not_proposals() {
    let mut l = broadcasting();
    step(&mut l, Input::Accepted { conn: 12 });
    let observer = LearnerInfo {
        sid: 4,
        protocol_version: 0x10000,
        config_version: 0,
    }
    .packet(LearnerKind::Observer, 1);
    rx(&mut l, 12, observer);
    rx(&mut l, 12, ack_epoch(make_zxid(1, 5), 1));
    rx(&mut l, 12, Bare::ack(2 << 32));
    let out = step(
        &mut l,
        Input::Propose {
            data: "t2.1".into(),
        },
    );
    assert_eq!(
        out.len(),
        2,
        "persist and the follower's PROPOSAL only: {out:?}"
    );
    step(
        &mut l,
        Input::Persisted {
            through: make_zxid(2, 1),
        },
    );
    assert_eq!(
        rx(&mut l, 10, Bare::ack(make_zxid(2, 1))),
        vec![
            send(10, Bare::commit(make_zxid(2, 1))),
            send(
                12,
                QuorumPacket::with_data(PacketType::Inform, make_zxid(2, 1), "t2.1")
            ),
            apply(2, 1),
        ]
    );
}

#[test]
fn a_leader_holds_its_quorum_until_the_tick_that_would_give_it_up() {
    let mut l = broadcasting();
    // Server 2 was last heard at 100: synced through 100 + syncLimit (500 ms).
    assert!(l.holds_quorum(600));
    assert!(!l.holds_quorum(601));
    let mut out = Vec::new();
    l.step(Input::Tick, 601, &mut out);
    assert!(looking(&out), "{out:?}");
    // A leader that gave up holds nothing, whatever it hears afterwards.
    assert!(!l.holds_quorum(601));
    assert!(!leader(3).holds_quorum(0), "not before broadcast");
}

#[test]
fn broadcast_ticks_ping_and_give_up_without_a_synced_quorum() {
    let mut l = broadcasting();
    let mut out = Vec::new();
    l.step(Input::Tick, 150, &mut out);
    assert_eq!(
        out,
        vec![
            send(10, Ping::packet(2 << 32)),
            Action::SetTimer { at_ms: 200 }
        ]
    );
    // Silent beyond syncLimit (500 ms after its last packet at 100): closed, and the
    // leader alone is no quorum.
    out.clear();
    l.step(Input::Tick, 601, &mut out);
    assert_eq!(
        out,
        vec![
            Action::Close {
                conn: 10,
                reason: "read timeout".into()
            },
            Action::GoLooking {
                reason: "not sufficient followers synced, only synced with sids: {1}".into()
            },
        ]
    );
}

#[test]
fn a_follower_that_answers_pings_but_acks_no_proposal_is_closed_after_sync_limit() {
    let at = |l: &mut Leader, now: u64, input: Input| {
        let mut out = Vec::new();
        l.step(input, now, &mut out);
        out
    };
    let ping_reply = |l: &mut Leader, now: u64| {
        at(
            l,
            now,
            Input::Received {
                conn: 10,
                packet: Ping::reply(&Ping::packet(0), &[]),
            },
        )
    };
    let mut l = broadcasting();
    at(
        &mut l,
        200,
        Input::Propose {
            data: Bytes::from_static(b"p1"),
        },
    );
    // It answers every ping, so it is never silent; but the PROPOSAL of time 200 stays
    // unacked: closed at the first ping syncLimit (500 ms) after it.
    for now in [300, 500, 650] {
        assert_eq!(ping_reply(&mut l, now), vec![]);
        let out = at(&mut l, now, Input::Tick);
        assert!(
            !out.iter().any(|a| matches!(a, Action::Close { .. })),
            "{now}: {out:?}"
        );
    }
    assert_eq!(ping_reply(&mut l, 700), vec![]);
    let out = at(&mut l, 700, Input::Tick);
    assert_eq!(
        out[0],
        Action::Close {
            conn: 10,
            reason: "transaction timeout: a proposal unacked for syncLimit".into()
        }
    );

    // The same follower acking its proposal stays.
    let mut l = broadcasting();
    at(
        &mut l,
        200,
        Input::Propose {
            data: Bytes::from_static(b"p1"),
        },
    );
    at(
        &mut l,
        300,
        Input::Received {
            conn: 10,
            packet: Bare::ack(make_zxid(2, 1)),
        },
    );
    assert_eq!(ping_reply(&mut l, 700), vec![]);
    let out = at(&mut l, 700, Input::Tick);
    assert!(
        !out.iter().any(|a| matches!(a, Action::Close { .. })),
        "{out:?}"
    );
}

#[test]
fn discovery_phases_time_out_after_init_limit() {
    let mut l = leader(3);
    let mut out = Vec::new();
    l.step(Input::Tick, 999, &mut out);
    assert_eq!(out, vec![Action::SetTimer { at_ms: 1049 }]);
    out.clear();
    l.step(Input::Tick, 1000, &mut out);
    assert!(looking(&out));
    // Once done, nothing more happens.
    assert_eq!(step(&mut l, Input::Accepted { conn: 10 }), vec![]);
}

#[test]
fn a_bad_ping_reply_closes_the_connection() {
    let mut l = broadcasting();
    // A PING reply with null data kills a Java handler; we close the connection.
    assert!(matches!(
        &rx(&mut l, 10, Ping::packet(0))[..],
        [Action::Close { conn: 10, .. }]
    ));
}

#[test]
fn a_non_voting_follower_gets_proposals_but_its_acks_do_not_count() {
    // Server 4 is configured as an observer but sends FOLLOWERINFO.
    let mut l = broadcasting();
    step(&mut l, Input::Accepted { conn: 12 });
    rx(&mut l, 12, info(4, 1));
    rx(&mut l, 12, ack_epoch(make_zxid(1, 5), 1));
    rx(&mut l, 12, Bare::ack(2 << 32));
    let out = step(
        &mut l,
        Input::Propose {
            data: "t2.1".into(),
        },
    );
    let proposal = QuorumPacket::with_data(PacketType::Proposal, make_zxid(2, 1), "t2.1");
    assert_eq!(
        out,
        vec![
            Action::Persist(txn(2, 1)),
            send(10, proposal.clone()),
            send(12, proposal),
        ]
    );
    persisted(&mut l, 2, 1);
    // Leader + server 4 are not a voter quorum of {1, 2, 3}.
    assert_eq!(rx(&mut l, 12, Bare::ack(make_zxid(2, 1))), vec![]);
    assert_eq!(
        rx(&mut l, 10, Bare::ack(make_zxid(2, 1))),
        vec![
            send(10, Bare::commit(make_zxid(2, 1))),
            send(12, Bare::commit(make_zxid(2, 1))),
            apply(2, 1),
        ]
    );
}

fn propose(l: &mut Leader, data: &'static str) -> Vec<Action> {
    step(l, Input::Propose { data: data.into() })
}

fn pong() -> QuorumPacket {
    Ping::reply(&Ping::packet(0), &[])
}

#[test]
fn leader_confirms_leadership_once_a_quorum_answers_a_ping_sent_after_the_request() {
    let mut l = broadcasting();
    // Server 2 and we are a quorum of 3: its answer to this PING proves the request.
    assert_eq!(
        step(&mut l, Input::ConfirmLeadership { id: 1 }),
        vec![send(10, Ping::packet(l.last_proposed()))]
    );
    assert_eq!(
        rx(&mut l, 10, pong()),
        vec![Action::LeadershipConfirmed { id: 1 }]
    );
    // Not again for a later answer; a later request needs an answer of its own.
    assert_eq!(rx(&mut l, 10, pong()), vec![]);
    assert_eq!(step(&mut l, Input::ConfirmLeadership { id: 2 }).len(), 1);
    assert_eq!(
        rx(&mut l, 10, pong()),
        vec![Action::LeadershipConfirmed { id: 2 }]
    );
}

#[test]
fn an_answer_to_a_ping_sent_before_the_request_proves_nothing() {
    let mut l = broadcasting();
    let mut out = Vec::new();
    l.step(Input::Tick, 50, &mut out);
    assert!(out.contains(&send(10, Ping::packet(l.last_proposed()))));
    step(&mut l, Input::ConfirmLeadership { id: 1 });
    // This answers the tick's PING: server 2 may have left us before the request.
    assert_eq!(rx(&mut l, 10, pong()), vec![]);
    assert_eq!(
        rx(&mut l, 10, pong()),
        vec![Action::LeadershipConfirmed { id: 1 }]
    );
}

#[test]
fn an_ack_of_a_txn_proposed_after_the_request_proves_it_before_that_txn_commits() {
    let mut l = broadcasting();
    propose(&mut l, "t2.1");
    step(&mut l, Input::ConfirmLeadership { id: 1 });
    // (2,1) was proposed before the request: its ACK proves nothing.
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 1))), vec![]);
    assert_eq!(
        persisted(&mut l, 2, 1),
        vec![send(10, Bare::commit(make_zxid(2, 1))), apply(2, 1)]
    );
    propose(&mut l, "t2.2");
    persisted(&mut l, 2, 2);
    // (2,2)'s ACK proves it, and the proof comes before (2,2)'s COMMIT: a learner's
    // SYNC due before that COMMIT is not held behind it.
    assert_eq!(
        rx(&mut l, 10, Bare::ack(make_zxid(2, 2))),
        vec![
            Action::LeadershipConfirmed { id: 1 },
            send(10, Bare::commit(make_zxid(2, 2))),
            apply(2, 2),
        ]
    );
}

#[test]
fn leadership_is_not_proven_without_a_quorum_in_broadcast() {
    // Five voters: server 2 alone answering is not a quorum.
    let mut l = broadcasting_among(5, &[(10, 2), (11, 3)]);
    assert_eq!(step(&mut l, Input::ConfirmLeadership { id: 1 }).len(), 2);
    assert_eq!(rx(&mut l, 10, pong()), vec![]);
    assert_eq!(
        rx(&mut l, 11, pong()),
        vec![Action::LeadershipConfirmed { id: 1 }]
    );
}

#[test]
fn a_follower_resynced_after_acking_a_proposal_acks_it_again_before_it_counts() {
    let mut l = broadcasting();
    propose(&mut l, "t2.1");
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 1))), vec![]);
    // Server 2 connects again (its first connection not closed yet) with (2,1) in its
    // log; we have committed only (1,5), so its sync TRUNCs (2,1) away before it gets
    // it again. Its first ACK must not count any more.
    step(&mut l, Input::Accepted { conn: 11 });
    rx(&mut l, 11, info(2, 2));
    let resync = rx(&mut l, 11, ack_epoch(make_zxid(2, 1), 2));
    assert!(
        resync.contains(&send(11, Bare::trunc(make_zxid(1, 5)))),
        "{resync:?}"
    );
    assert_eq!(persisted(&mut l, 2, 1), vec![]);
    // Nor an ACK that comes late on the old connection.
    assert_eq!(rx(&mut l, 10, Bare::ack(make_zxid(2, 1))), vec![]);
    rx(&mut l, 11, Bare::ack(2 << 32));
    assert_eq!(
        rx(&mut l, 11, Bare::ack(make_zxid(2, 1))),
        vec![
            send(10, Bare::commit(make_zxid(2, 1))),
            send(11, Bare::commit(make_zxid(2, 1))),
            apply(2, 1),
        ]
    );
}
