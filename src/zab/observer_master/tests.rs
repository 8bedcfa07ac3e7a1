//! Exact-action tests of a follower's observer master.

use super::*;
use crate::zab::make_zxid;

const CONFIG: ZabConfig = ZabConfig {
    tick_ms: 100,
    init_limit: 10,
    sync_limit: 5,
    commit_log_count: 3,
    log_sync: false,
    #[cfg(feature = "zab-canary")]
    canary: crate::zab::history::Canary::None,
};

const OBSERVER: ConnId = 7;

fn txn(e: i64, c: i64) -> Txn {
    Txn {
        zxid: make_zxid(e, c),
        data: Bytes::from(format!("t{e}.{c}")),
    }
}

/// A follower of epoch 2 that applied (2,1)..(2,5); its window keeps the last 3.
fn master() -> ObserverMaster {
    ObserverMaster::new(
        CONFIG,
        2,
        Some(Bytes::from_static(b"server.1=a:1:2\nversion=0")),
        make_zxid(2, 5),
        (1..=5).map(|c| txn(2, c)),
    )
}

fn step(m: &mut ObserverMaster, input: Input) -> Vec<Action> {
    let mut out = Vec::new();
    m.step(input, 1000, &mut out);
    out
}

fn rx(m: &mut ObserverMaster, packet: QuorumPacket) -> Vec<Action> {
    step(
        m,
        Input::Received {
            conn: OBSERVER,
            packet,
        },
    )
}

fn send(packet: QuorumPacket) -> Action {
    Action::Send {
        conn: OBSERVER,
        packet,
    }
}

fn info(kind: LearnerKind) -> QuorumPacket {
    LearnerInfo {
        sid: 4,
        protocol_version: 0x10000,
        config_version: 0,
    }
    .packet(kind, 1)
}

fn ack_epoch(last_zxid: Zxid) -> QuorumPacket {
    AckEpoch {
        last_zxid,
        current_epoch: 1,
    }
    .packet()
}

fn pair(t: Txn) -> [Action; 2] {
    [
        send(QuorumPacket::with_data(
            PacketType::Proposal,
            t.zxid,
            t.data,
        )),
        send(Bare::commit(t.zxid)),
    ]
}

fn new_leader() -> Action {
    send(
        NewLeader {
            new_epoch: 2,
            config: Some(Bytes::from_static(b"server.1=a:1:2\nversion=0")),
        }
        .packet(),
    )
}

/// OBSERVERINFO answered with LEADERINFO of the follower's epoch.
fn handshaken() -> ObserverMaster {
    let mut m = master();
    assert!(step(&mut m, Input::Accepted { conn: OBSERVER }).is_empty());
    assert_eq!(
        rx(&mut m, info(LearnerKind::Observer)),
        vec![send(LeaderInfo::new(2).packet())]
    );
    m
}

#[test]
fn an_observer_in_step_gets_an_empty_diff_newleader_then_uptodate_and_informs() {
    let mut m = handshaken();
    assert_eq!(
        rx(&mut m, ack_epoch(make_zxid(2, 5))),
        vec![send(Bare::diff(make_zxid(2, 5))), new_leader()]
    );
    assert_eq!(m.observer_counts(), (1, 0));
    assert_eq!(
        rx(&mut m, Bare::ack(make_zxid(2, 0))),
        vec![send(Bare::up_to_date())]
    );
    assert_eq!(m.observer_counts(), (1, 1));
    assert!(m.is_broadcasting(OBSERVER));
    // A COMMIT reaching the follower is an INFORM with the proposal's data.
    let t = txn(2, 6);
    assert_eq!(
        step(&mut m, Input::Committed(t.clone())),
        vec![send(QuorumPacket::with_data(
            PacketType::Inform,
            t.zxid,
            t.data.clone()
        ))]
    );
    // Told twice (a COMMIT seen again after a reconnect), informed once.
    assert!(step(&mut m, Input::Committed(t.clone())).is_empty());
    // The ACK of UPTODATE is ignored; PINGs carry the last zxid informed.
    assert!(rx(&mut m, Bare::ack(make_zxid(2, 0))).is_empty());
    assert_eq!(
        step(&mut m, Input::Tick),
        vec![send(Ping::packet(make_zxid(2, 6)))]
    );
}

#[test]
fn a_follower_info_on_the_observer_master_port_is_refused() {
    let mut m = master();
    step(&mut m, Input::Accepted { conn: OBSERVER });
    let out = rx(&mut m, info(LearnerKind::Follower));
    assert!(
        matches!(&out[..], [Action::Close { conn: OBSERVER, reason }] if reason.contains("non observer")),
        "{out:?}"
    );
    assert_eq!(m.observer_counts(), (0, 0));
}

#[test]
fn an_observer_behind_within_the_window_gets_diff_then_the_informed_commits_not_yet_applied() {
    let mut m = handshaken();
    // Committed, informed, not applied here yet: (2,6) and (2,7).
    step(&mut m, Input::Committed(txn(2, 6)));
    step(&mut m, Input::Committed(txn(2, 7)));
    let mut want = vec![send(Bare::diff(make_zxid(2, 5)))];
    for t in [txn(2, 4), txn(2, 5), txn(2, 6), txn(2, 7)] {
        want.extend(pair(t));
    }
    want.push(new_leader());
    assert_eq!(rx(&mut m, ack_epoch(make_zxid(2, 3))), want);
    // Applied here now: nothing is sent again; the next commit is an INFORM.
    step(
        &mut m,
        Input::Applied {
            txns: vec![txn(2, 6), txn(2, 7)],
            through: make_zxid(2, 7),
        },
    );
    assert_eq!(
        step(&mut m, Input::Committed(txn(2, 8))),
        vec![send(QuorumPacket::with_data(
            PacketType::Inform,
            make_zxid(2, 8),
            txn(2, 8).data
        ))]
    );
}

#[test]
fn an_observer_below_the_window_gets_the_followers_snapshot() {
    let mut m = handshaken();
    assert_eq!(
        rx(&mut m, ack_epoch(make_zxid(2, 1))),
        vec![
            send(Bare::snap(make_zxid(2, 5))),
            Action::SendSnapshot {
                conn: OBSERVER,
                zxid: make_zxid(2, 5)
            },
            new_leader()
        ]
    );
}

#[test]
fn an_observer_below_the_window_with_log_sync_waits_for_the_log_and_diffs_from_it() {
    let mut m = ObserverMaster::new(
        ZabConfig {
            log_sync: true,
            ..CONFIG
        },
        2,
        Some(Bytes::from_static(b"server.1=a:1:2\nversion=0")),
        make_zxid(2, 5),
        (1..=5).map(|c| txn(2, c)),
    );
    step(&mut m, Input::Accepted { conn: OBSERVER });
    rx(&mut m, info(LearnerKind::Observer));
    assert_eq!(
        rx(&mut m, ack_epoch(make_zxid(2, 1))),
        vec![Action::ReadLog {
            conn: OBSERVER,
            from: make_zxid(2, 1)
        }]
    );
    let disk = (1..=5).map(|c| txn(2, c)).collect();
    let mut want = vec![send(Bare::diff(make_zxid(2, 5)))];
    for c in 2..=5 {
        want.extend(pair(txn(2, c)));
    }
    want.push(new_leader());
    assert_eq!(
        step(
            &mut m,
            Input::LogRead {
                conn: OBSERVER,
                txns: disk
            }
        ),
        want
    );
}

#[test]
fn an_observer_ahead_of_the_follower_is_truncated() {
    let mut m = handshaken();
    assert_eq!(
        rx(&mut m, ack_epoch(make_zxid(2, 9))),
        vec![send(Bare::trunc(make_zxid(2, 5))), new_leader()]
    );
}

#[test]
fn an_observer_that_acks_a_proposal_is_closed() {
    let mut m = handshaken();
    rx(&mut m, ack_epoch(make_zxid(2, 5)));
    rx(&mut m, Bare::ack(make_zxid(2, 0)));
    let out = rx(&mut m, Bare::ack(make_zxid(2, 5)));
    assert!(matches!(&out[..], [Action::Close { .. }]), "{out:?}");
}

#[test]
fn a_packet_other_than_ack_after_newleader_closes_the_observer() {
    let mut m = handshaken();
    rx(&mut m, ack_epoch(make_zxid(2, 5)));
    let out = rx(&mut m, Bare::sync());
    assert!(matches!(&out[..], [Action::Close { .. }]), "{out:?}");
}

#[test]
fn an_observer_silent_past_the_limits_is_closed_and_only_synced_ones_are_pinged() {
    let mut m = master();
    step(&mut m, Input::Accepted { conn: 1 });
    step(&mut m, Input::Accepted { conn: 2 });
    let mut out = Vec::new();
    m.step(Input::Tick, 1000 + 1000, &mut out);
    // Neither is synced: no ping; initLimit (1 s) not yet passed.
    assert!(out.is_empty(), "{out:?}");
    m.step(Input::Tick, 1000 + 1001, &mut out);
    assert_eq!(
        out,
        vec![
            Action::Close {
                conn: 1,
                reason: "read timeout".into()
            },
            Action::Close {
                conn: 2,
                reason: "read timeout".into()
            }
        ]
    );
    // A synced one is closed after syncLimit (500 ms) of silence.
    let mut m = handshaken();
    rx(&mut m, ack_epoch(make_zxid(2, 5)));
    rx(&mut m, Bare::ack(make_zxid(2, 0)));
    let mut out = Vec::new();
    m.step(Input::Tick, 1000 + 400, &mut out);
    assert_eq!(out, vec![send(Ping::packet(make_zxid(2, 5)))]);
    out.clear();
    m.step(Input::Tick, 1000 + 501, &mut out);
    assert!(
        matches!(&out[..], [Action::Close { conn: OBSERVER, .. }]),
        "{out:?}"
    );
}

#[test]
fn applied_txns_move_the_window_so_a_later_observer_diffs_from_them() {
    let mut m = master();
    for c in 6..=8 {
        step(&mut m, Input::Committed(txn(2, c)));
    }
    step(
        &mut m,
        Input::Applied {
            txns: (6..=8).map(|c| txn(2, c)).collect(),
            through: make_zxid(2, 8),
        },
    );
    step(&mut m, Input::Accepted { conn: OBSERVER });
    rx(&mut m, info(LearnerKind::Observer));
    let mut want = vec![send(Bare::diff(make_zxid(2, 8)))];
    for c in 7..=8 {
        want.extend(pair(txn(2, c)));
    }
    want.push(new_leader());
    assert_eq!(rx(&mut m, ack_epoch(make_zxid(2, 6))), want);
    // An apply the machine never saw the txn of leaves no window: SNAP.
    step(
        &mut m,
        Input::Applied {
            txns: Vec::new(),
            through: make_zxid(2, 10),
        },
    );
    step(&mut m, Input::Accepted { conn: 9 });
    step(
        &mut m,
        Input::Received {
            conn: 9,
            packet: info(LearnerKind::Observer),
        },
    );
    let out = step(
        &mut m,
        Input::Received {
            conn: 9,
            packet: ack_epoch(make_zxid(2, 8)),
        },
    );
    assert_eq!(
        out[..2],
        [
            Action::Send {
                conn: 9,
                packet: Bare::snap(make_zxid(2, 10))
            },
            Action::SendSnapshot {
                conn: 9,
                zxid: make_zxid(2, 10)
            }
        ]
    );
}
