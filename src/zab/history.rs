//! What the discovery, synchronization and broadcast machines know of the transaction
//! log, kept abstract: a [`Txn`] is a zxid and the PROPOSAL data (`TxnHeader · txn ·
//! [digest]`, opaque here), the leader's [`CommittedLog`] is ZooKeeper's in-memory
//! `committedLog` window, and [`sync_follower`] is `LearnerHandler.syncFollower`'s
//! choice of DIFF, TRUNC, TRUNC+DIFF or SNAP over that window.
//!
//! The real log (`txn/`) stays outside: a driver loads the window's txns at startup
//! and executes the machines' persist, truncate and snapshot actions on it.

use std::collections::VecDeque;

use bytes::Bytes;

use super::wire::payload::Bare;
use super::wire::quorum_packet::{PacketType, QuorumPacket};
use super::{counter_of, epoch_of, Zxid};

/// `zookeeper.commitLogCount`: how many committed proposals the leader keeps in memory
/// for DIFF syncs.
pub const DEFAULT_COMMIT_LOG_COUNT: usize = 500;

/// Timing and sizes shared by the leader and learner machines; ZooKeeper's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZabConfig {
    /// `tickTime`.
    pub tick_ms: u64,
    /// `initLimit`, in ticks: discovery and sync must finish within it.
    pub init_limit: u64,
    /// `syncLimit`, in ticks: in broadcast, a peer silent this long is gone.
    pub sync_limit: u64,
    /// `zookeeper.commitLogCount`.
    pub commit_log_count: usize,
    /// Whether a learner below the window may be synced from the on-disk log
    /// (`txnLogSyncEnabled`: `zookeeper.snapshotSizeFactor` ≥ 0). The driver reads the
    /// log ([`crate::zab::leader::Action::ReadLog`]); off, such learners get SNAP.
    pub log_sync: bool,
    /// A deliberate bug, for the simulator's canaries only; [`Canary::None`] otherwise.
    /// Only with the `zab-canary` feature, which only tests turn on.
    #[cfg(feature = "zab-canary")]
    #[doc(hidden)]
    pub canary: Canary,
}

/// Deliberate bugs the simulator (`tests/zab_sync_sim.rs`) switches on to prove its
/// checkers catch them, several of them ZooKeeper's own sync bugs put back (the table
/// in `docs/zab.md`). Compiled only with the `zab-canary` feature (tests); the machines
/// test them through `canary!` (`zab/mod.rs`), which is `false` without it.
#[cfg(feature = "zab-canary")]
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Canary {
    #[default]
    None,
    /// The learner ACKs NEWLEADER without waiting for its log to be durable
    /// (ZOOKEEPER-3911, ZOOKEEPER-4646).
    LearnerAcksNewLeaderBeforePersist,
    /// The leader syncs a learner whose `(currentEpoch, lastZxid)` is ahead of its own
    /// instead of dropping it (`waitForEpochAck`'s check).
    LeaderSyncsLearnerAhead,
    /// The leader syncs learners without waiting for a quorum of ACKEPOCHs.
    LeaderSkipsEpochAckQuorum,
    /// The leader sends DIFF where TRUNC (or SNAP) is due: a learner holding txns the
    /// leader never committed keeps them (ZOOKEEPER-1154).
    LeaderDiffsInsteadOfTrunc,
    /// The learner writes `currentEpoch` on NEWLEADER before the synced txns are
    /// durable; a crash in between leaves a high epoch over a short log
    /// (ZOOKEEPER-4643).
    LearnerWritesEpochBeforePersist,
    /// The learner ACKs synced proposals before its NEWLEADER ACK (ZOOKEEPER-4685).
    LearnerAcksProposalBeforeNewLeader,
    /// The learner gives up on a COMMIT that arrives between its NEWLEADER ACK and
    /// UPTODATE (ZOOKEEPER-4394, where Java's learner threw a NullPointerException).
    LearnerFailsOnCommitAfterNewLeader,
}

impl Default for ZabConfig {
    fn default() -> Self {
        ZabConfig {
            tick_ms: 3000,
            init_limit: 10,
            sync_limit: 5,
            commit_log_count: DEFAULT_COMMIT_LOG_COUNT,
            log_sync: false,
            #[cfg(feature = "zab-canary")]
            canary: Canary::None,
        }
    }
}

impl ZabConfig {
    pub fn init_limit_ms(&self) -> u64 {
        self.tick_ms.saturating_mul(self.init_limit)
    }
    pub fn sync_limit_ms(&self) -> u64 {
        self.tick_ms.saturating_mul(self.sync_limit)
    }
    /// The leader pings every half tick (`Leader.lead`'s loop).
    pub fn ping_interval_ms(&self) -> u64 {
        (self.tick_ms / 2).max(1)
    }
}

/// A txn as a sync sends it: its PROPOSAL, then its COMMIT.
pub fn pair_packets(t: &Txn) -> [QuorumPacket; 2] {
    [
        QuorumPacket::with_data(PacketType::Proposal, t.zxid, t.data.clone()),
        Bare::commit(t.zxid),
    ]
}

/// One transaction: its zxid and the PROPOSAL data that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub zxid: Zxid,
    pub data: Bytes,
}

/// The leader's window of its most recent committed proposals (`ZKDatabase.committedLog`)
/// and the last zxid its database processed (`getDataTreeLastProcessedZxid`).
///
/// Invariant: zxids strictly increase; at most `max` entries; when non-empty the last
/// entry's zxid is `last_processed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedLog {
    txns: VecDeque<Txn>,
    max: usize,
    last_processed: Zxid,
}

impl CommittedLog {
    /// A window over `tail`, the end of a loaded log (older entries beyond `max` are
    /// dropped). `last_processed` is the database's last zxid, which may lie above the
    /// window when the log was empty but a snapshot was loaded.
    pub fn new(max: usize, last_processed: Zxid, tail: impl IntoIterator<Item = Txn>) -> Self {
        let mut log = CommittedLog {
            txns: VecDeque::new(),
            max,
            last_processed,
        };
        for t in tail {
            log.push(t);
        }
        log.last_processed = log.last_processed.max(last_processed);
        log
    }

    /// `addCommittedProposal`: a txn was applied.
    pub fn push(&mut self, txn: Txn) {
        assert!(
            self.txns.back().is_none_or(|b| b.zxid < txn.zxid),
            "committed log out of order"
        );
        self.last_processed = self.last_processed.max(txn.zxid);
        if self.max == 0 {
            return;
        }
        if self.txns.len() == self.max {
            self.txns.pop_front();
        }
        self.txns.push_back(txn);
    }

    /// `getminCommittedLog`, or the last processed zxid when the window is empty.
    pub fn min_zxid(&self) -> Zxid {
        self.txns.front().map_or(self.last_processed, |t| t.zxid)
    }

    /// `getmaxCommittedLog`, or the last processed zxid when the window is empty.
    pub fn max_zxid(&self) -> Zxid {
        self.txns.back().map_or(self.last_processed, |t| t.zxid)
    }

    pub fn last_processed(&self) -> Zxid {
        self.last_processed
    }

    pub fn txns(&self) -> impl Iterator<Item = &Txn> {
        self.txns.iter()
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }
}

/// What the leader sends a learner to bring its log to the leader's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncPlan {
    /// `DIFF(zxid)`, then each txn as PROPOSAL + COMMIT. The learner's log up to its
    /// last zxid is a prefix of the leader's.
    Diff { zxid: Zxid, txns: Vec<Txn> },
    /// `TRUNC(zxid)`, then each txn as PROPOSAL + COMMIT ("TRUNC+DIFF" when there are
    /// any; no DIFF packet follows a TRUNC on the wire).
    Trunc { zxid: Zxid, txns: Vec<Txn> },
    /// `SNAP(zxid)` and the leader's database as of `zxid`.
    Snap { zxid: Zxid },
}

impl SyncPlan {
    /// The plan on the wire: the packet that opens it (DIFF, TRUNC or SNAP), the zxid of
    /// the database to stream right after it for SNAP, and the txns that follow as
    /// PROPOSAL + COMMIT pairs ([`pair_packets`]).
    pub fn into_wire(self) -> (QuorumPacket, Option<Zxid>, Vec<Txn>) {
        match self {
            SyncPlan::Diff { zxid, txns } => (Bare::diff(zxid), None, txns),
            SyncPlan::Trunc { zxid, txns } => (Bare::trunc(zxid), None, txns),
            SyncPlan::Snap { zxid } => (Bare::snap(zxid), Some(zxid), Vec::new()),
        }
    }

    /// The last zxid the plan brings the learner to (`currentZxid`, from which
    /// `startForwarding` queues outstanding proposals).
    pub fn last_queued(&self, peer_last_zxid: Zxid) -> Zxid {
        match self {
            SyncPlan::Diff { txns, .. } => txns.last().map_or(peer_last_zxid, |t| t.zxid),
            SyncPlan::Trunc { zxid, txns } => txns.last().map_or(*zxid, |t| t.zxid),
            SyncPlan::Snap { zxid } => *zxid,
        }
    }
}

/// `LearnerHandler.syncFollower` over the in-memory window, without
/// `forceSnapshotSync`; a peer below the window gets SNAP here, and
/// [`sync_follower_from_log`] is the on-disk log fallback (row 4 of §4.4 of the
/// reference). `peer` is the learner's last zxid from its ACKEPOCH.
pub fn sync_follower(peer: Zxid, log: &CommittedLog) -> SyncPlan {
    let new_epoch_peer = counter_of(peer) == 0;
    let (min, max) = (log.min_zxid(), log.max_zxid());
    if peer == log.last_processed() {
        return SyncPlan::Diff {
            zxid: peer,
            txns: Vec::new(),
        };
    }
    if peer > max && !new_epoch_peer {
        return SyncPlan::Trunc {
            zxid: max,
            txns: Vec::new(),
        };
    }
    if min <= peer && peer <= max {
        if let Some(plan) = queue_committed_proposals(peer, log) {
            return plan;
        }
    }
    SyncPlan::Snap {
        zxid: log.last_processed(),
    }
}

/// `syncFollower`'s row 4, for a learner below the window: `disk` is the leader's log
/// from the learner's own txn on, in zxid order, as `getProposalsFromTxnLog` reads it
/// (empty where that gives up: the log does not hold the learner's zxid, or is larger
/// than the size limit). The log is used only if it reaches the window (its records
/// include the window's first zxid: no gap between the two), and then the plan is the
/// window's plan over the log followed by the window; anything else is SNAP.
pub fn sync_follower_from_log(peer: Zxid, disk: &[Txn], window: &CommittedLog) -> SyncPlan {
    let snap = SyncPlan::Snap {
        zxid: window.last_processed(),
    };
    let min = window.min_zxid();
    let reaches_peer = disk.first().is_some_and(|t| t.zxid == peer);
    let reaches_window = disk.iter().any(|t| t.zxid == min);
    if !reaches_peer || !reaches_window {
        return snap;
    }
    let older = disk.iter().filter(|t| t.zxid < min).cloned();
    // The window's entries, or, when it is empty, the one txn it stands for.
    let newer: Vec<Txn> = if window.is_empty() {
        disk.iter().filter(|t| t.zxid == min).cloned().collect()
    } else {
        window.txns().cloned().collect()
    };
    let merged = CommittedLog::new(usize::MAX, window.last_processed(), older.chain(newer));
    sync_follower(peer, &merged)
}

/// `queueCommittedProposals` over the whole window: find where the learner's history
/// leaves the leader's. `None` means SNAP (the learner diverged into another epoch, or
/// no DIFF or TRUNC point was found).
fn queue_committed_proposals(peer: Zxid, log: &CommittedLog) -> Option<SyncPlan> {
    let new_epoch_peer = counter_of(peer) == 0;
    let max = log.max_zxid();
    // The opening packet once decided: (is TRUNC, its zxid).
    let mut op: Option<(bool, Zxid)> = None;
    let mut prev: Zxid = -1;
    let mut txns = Vec::new();
    for t in log.txns() {
        if t.zxid < peer {
            prev = t.zxid;
            continue;
        }
        if op.is_none() {
            if t.zxid == peer {
                op = Some((false, max));
                continue;
            }
            if new_epoch_peer {
                op = Some((false, max));
            } else {
                // The learner holds txns the leader does not have after `prev`; within
                // one epoch they are cut, across epochs only a snapshot is safe.
                if epoch_of(t.zxid) != epoch_of(peer) {
                    return None;
                }
                op = Some((true, prev));
            }
        }
        txns.push(t.clone());
    }
    if op.is_none() && new_epoch_peer {
        op = Some((false, max));
    }
    match op? {
        (false, zxid) => Some(SyncPlan::Diff { zxid, txns }),
        (true, zxid) => Some(SyncPlan::Trunc { zxid, txns }),
    }
}

/// The [`Canary::LeaderDiffsInsteadOfTrunc`] plan: where `plan` would cut the learner's
/// log (TRUNC) or replace it (SNAP although the learner is inside the window), DIFF
/// the txns above its zxid instead, so it keeps whatever it holds that we do not.
#[cfg(feature = "zab-canary")]
#[doc(hidden)]
pub fn diff_instead_of_trunc(peer: Zxid, log: &CommittedLog, plan: SyncPlan) -> SyncPlan {
    let keep = match &plan {
        SyncPlan::Trunc { .. } => true,
        SyncPlan::Snap { .. } => peer >= log.min_zxid(),
        SyncPlan::Diff { .. } => false,
    };
    if !keep {
        return plan;
    }
    SyncPlan::Diff {
        zxid: log.max_zxid(),
        txns: log.txns().filter(|t| t.zxid > peer).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zab::make_zxid;

    fn txn(e: i64, c: i64) -> Txn {
        Txn {
            zxid: make_zxid(e, c),
            data: Bytes::from(format!("{e}:{c}")),
        }
    }

    fn window(zxids: &[(i64, i64)]) -> CommittedLog {
        let last = zxids.last().map_or(0, |&(e, c)| make_zxid(e, c));
        CommittedLog::new(100, last, zxids.iter().map(|&(e, c)| txn(e, c)))
    }

    #[test]
    fn window_keeps_the_newest_max() {
        let mut log = CommittedLog::new(2, 0, [txn(1, 1), txn(1, 2), txn(1, 3)]);
        assert_eq!(log.len(), 2);
        assert_eq!(log.min_zxid(), make_zxid(1, 2));
        log.push(txn(2, 1));
        assert_eq!(log.min_zxid(), make_zxid(1, 3));
        assert_eq!(log.max_zxid(), make_zxid(2, 1));
        assert_eq!(log.last_processed(), make_zxid(2, 1));
        let empty = CommittedLog::new(5, make_zxid(3, 9), []);
        assert_eq!(
            (empty.min_zxid(), empty.max_zxid()),
            (make_zxid(3, 9), make_zxid(3, 9))
        );
    }

    #[test]
    fn learner_equal_to_leader_gets_an_empty_diff() {
        let log = window(&[(1, 1), (1, 2)]);
        assert_eq!(
            sync_follower(make_zxid(1, 2), &log),
            SyncPlan::Diff {
                zxid: make_zxid(1, 2),
                txns: vec![]
            }
        );
    }

    #[test]
    fn learner_ahead_in_the_same_epoch_is_truncated_to_the_max() {
        let log = window(&[(1, 1), (1, 2)]);
        assert_eq!(
            sync_follower(make_zxid(1, 5), &log),
            SyncPlan::Trunc {
                zxid: make_zxid(1, 2),
                txns: vec![]
            }
        );
        // A learner ahead at a new epoch's zero zxid is not truncated, and lies outside
        // the window: SNAP.
        assert_eq!(
            sync_follower(make_zxid(2, 0), &log),
            SyncPlan::Snap {
                zxid: make_zxid(1, 2)
            }
        );
    }

    #[test]
    fn learner_behind_inside_the_window_gets_a_diff_of_the_rest() {
        let log = window(&[(1, 1), (1, 2), (1, 3)]);
        assert_eq!(
            sync_follower(make_zxid(1, 1), &log),
            SyncPlan::Diff {
                zxid: make_zxid(1, 3),
                txns: vec![txn(1, 2), txn(1, 3)]
            }
        );
    }

    #[test]
    fn learner_diverged_in_the_same_epoch_gets_trunc_then_pairs() {
        // The learner logged (2,2), which the leader never had; the first leader txn
        // above it is (3,1), of another epoch, so only a snapshot is safe.
        let log = window(&[(2, 1), (3, 1)]);
        assert_eq!(
            sync_follower(make_zxid(2, 2), &log),
            SyncPlan::Snap {
                zxid: make_zxid(3, 1)
            }
        );
        // Within one epoch the learner's (2,2) is cut back to (2,1), then (2,3) follows.
        let log = window(&[(2, 1), (2, 3)]);
        assert_eq!(
            sync_follower(make_zxid(2, 2), &log),
            SyncPlan::Trunc {
                zxid: make_zxid(2, 1),
                txns: vec![txn(2, 3)]
            }
        );
    }

    #[test]
    fn learner_below_the_window_gets_snap() {
        let log = window(&[(1, 5), (1, 6)]);
        assert_eq!(
            sync_follower(make_zxid(1, 2), &log),
            SyncPlan::Snap {
                zxid: make_zxid(1, 6)
            }
        );
        assert_eq!(
            sync_follower(0, &log),
            SyncPlan::Snap {
                zxid: make_zxid(1, 6)
            }
        );
    }

    #[test]
    fn new_epoch_peer_inside_the_window_gets_a_diff() {
        // A learner whose last zxid is (2,0) (it accepted epoch 2 but logged nothing in
        // it) while the leader has (1,9), (2,1), (2,2).
        let log = window(&[(1, 9), (2, 1), (2, 2)]);
        assert_eq!(
            sync_follower(make_zxid(2, 0), &log),
            SyncPlan::Diff {
                zxid: make_zxid(2, 2),
                txns: vec![txn(2, 1), txn(2, 2)]
            }
        );
    }

    #[test]
    fn zk_1154_an_old_leader_with_an_uncommitted_txn_is_not_diffed() {
        // A logged (1,4) alone and crashed; B led epoch 2 from (1,3) and committed
        // (2,1). A must not get DIFF (which would keep (1,4)); the next txn above its
        // zxid is of another epoch, so it gets a snapshot.
        let log = window(&[(1, 1), (1, 2), (1, 3), (2, 1)]);
        assert_eq!(
            sync_follower(make_zxid(1, 4), &log),
            SyncPlan::Snap {
                zxid: make_zxid(2, 1)
            }
        );
    }

    #[test]
    fn last_queued_is_where_forwarding_starts() {
        let p = SyncPlan::Diff {
            zxid: 7,
            txns: vec![],
        };
        assert_eq!(p.last_queued(5), 5);
        let p = SyncPlan::Trunc {
            zxid: 3,
            txns: vec![],
        };
        assert_eq!(p.last_queued(5), 3);
    }
}
