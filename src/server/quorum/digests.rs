//! The txn digest on the quorum core (`digest.enabled`, `tree::digest`): what a leader
//! sends after each txn in PROPOSAL/INFORM, and a learner's check of what it received
//! against its own tree once it applied the txn (ZooKeeper's `TxnDigest`,
//! `DataTree.compareDigest`).
//!
//! A leader proposes a txn before its tree applies it, so it predicts the digest on
//! a second tree, `ahead`: the committed tree with every prepared txn applied. It
//! shares all but the changed paths with the committed tree (both are persistent) and
//! is rebased on it whenever every prepared txn is applied (O(1)), or every
//! `REBASE_EVERY` txns at the start of a batch, so the two do not drift apart in
//! memory under a steady load.

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::{Buf, BufMut, BytesMut};

use crate::server::messages::Committed;
use crate::server::stats::CoreStats;
use crate::tree::digest::DIGEST_VERSION;
use crate::tree::DataTree;
use crate::txn;

/// Prepared txns applied to `ahead` before a rebase that re-applies the unapplied ones.
const REBASE_EVERY: u32 = 4096;

/// jute `TxnDigest` as it follows the txn in PROPOSAL data and ZooKeeper's log:
/// `int version, long treeDigest`.
pub(super) fn encode(digest: u64, out: &mut BytesMut) {
    out.put_i32(DIGEST_VERSION);
    out.put_u64(digest);
}

/// The `TxnDigest` after a txn, from the bytes left after it. `None` when there is
/// none, it is cut short (ZooKeeper reads that as no digest) or its version is not
/// ours (ZooKeeper skips comparing it).
pub(super) fn decode(mut rest: &[u8]) -> Option<u64> {
    if rest.len() < 12 {
        return None;
    }
    let version = rest.get_i32();
    let digest = rest.get_u64();
    (version == DIGEST_VERSION).then_some(digest)
}

#[derive(Default)]
struct Ahead {
    tree: Option<DataTree>,
    /// zxid of the last txn `tree` applied.
    through: i64,
    since_rebase: u32,
}

/// A member's digest state: the leader's `ahead` tree, the learner's expectations.
#[derive(Default)]
pub(super) struct Digests {
    ahead: RefCell<Ahead>,
    /// (zxid, digest the leader sent) for received txns not yet applied, in order.
    expected: RefCell<VecDeque<(i64, u64)>>,
    /// Mismatches logged so far (the log line is rate limited).
    logged: std::cell::Cell<u64>,
}

impl Digests {
    /// Forgets everything: the tree was replaced or the role changed.
    pub(super) fn reset(&self) {
        *self.ahead.borrow_mut() = Ahead::default();
        self.expected.borrow_mut().clear();
    }

    /// Leader: the tree digest once `c` is applied, for its PROPOSAL; `None` with the
    /// digest off. `tree` is the committed tree through `applied`, `unapplied` every
    /// txn prepared before `c` (appended to the log, synced or not) and not applied.
    pub(super) fn predict(
        &self,
        tree: &DataTree,
        applied: i64,
        unapplied: &VecDeque<Committed>,
        c: &Committed,
    ) -> Option<u64> {
        if !tree.digest_enabled() {
            return None;
        }
        let mut a = self.ahead.borrow_mut();
        let logged_through = unapplied
            .back()
            .map_or(applied, |u| u.hdr.zxid.max(applied));
        let rebase = match a.tree {
            None => true,
            // Nothing prepared is unapplied: the committed tree is the same tree.
            Some(_) if a.through <= applied => true,
            // Every prepared txn is logged: a rebase can re-apply them all.
            Some(_) => a.since_rebase >= REBASE_EVERY && a.through == logged_through,
        };
        if rebase {
            let mut t = tree.clone();
            for u in unapplied.iter().filter(|u| u.hdr.zxid > applied) {
                txn::apply(&mut t, &u.hdr, &u.txn);
            }
            a.tree = Some(t);
            a.since_rebase = 0;
        }
        let Ahead {
            tree: Some(t),
            through,
            since_rebase,
        } = &mut *a
        else {
            return None;
        };
        txn::apply(t, &c.hdr, &c.txn);
        *through = c.hdr.zxid;
        *since_rebase += 1;
        Some(t.digest())
    }

    /// Learner: the leader's digest for the txn `zxid`, to check once it is applied.
    pub(super) fn expect(&self, zxid: i64, digest: Option<u64>) {
        if let Some(d) = digest {
            self.expected.borrow_mut().push_back((zxid, d));
        }
    }

    /// After the txn `zxid` is applied to `tree`: compares the leader's digest, if it
    /// sent one, with the tree's; a mismatch is counted and logged with the zxid.
    pub(super) fn check(&self, zxid: i64, tree: &DataTree, stats: &CoreStats) {
        let mut expected = self.expected.borrow_mut();
        while expected.front().is_some_and(|(z, _)| *z < zxid) {
            expected.pop_front();
        }
        if expected.front().is_none_or(|(z, _)| *z != zxid) {
            return;
        }
        let Some((_, sent)) = expected.pop_front() else {
            return;
        };
        if !tree.digest_enabled() || sent == tree.digest() {
            return;
        }
        stats.digest_mismatch();
        let n = self.logged.get() + 1;
        self.logged.set(n);
        // The first, then every power of two: a diverged replica mismatches on every
        // txn after, and the count is in `mntr`.
        if n.is_power_of_two() {
            tracing::error!(
                "digest mismatch on txn 0x{zxid:x}: the leader's tree digest is {}, ours is {} \
                 ({n} mismatches so far): this replica's tree differs from the leader's",
                sent as i64,
                tree.digest() as i64
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Acl, NodeData};
    use crate::txn::{CreateTxn, SetDataTxn, Txn, TxnHeader};

    fn committed(zxid: i64, txn: Txn) -> Committed {
        Committed {
            hdr: TxnHeader::for_txn(1, 0, zxid, 0, &txn),
            txn,
        }
    }

    fn create(path: &str) -> Txn {
        Txn::Create(CreateTxn {
            path: path.into(),
            data: Some(NodeData::new(b"x")),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: -1,
        })
    }

    #[test]
    fn trailer_round_trips_and_odd_ones_read_as_none() {
        let mut b = BytesMut::new();
        encode(0xdead_beef_0000_0001, &mut b);
        assert_eq!(b.len(), 12);
        assert_eq!(decode(&b), Some(0xdead_beef_0000_0001));
        assert_eq!(decode(&b[..11]), None, "cut short");
        assert_eq!(decode(&[]), None, "none");
        let mut other = BytesMut::new();
        other.put_i32(1);
        other.put_u64(7);
        assert_eq!(decode(&other), None, "another version");
    }

    /// The leader's prediction is the digest the committed tree has once it applies
    /// the same txns, across batches, applies that lag, and rebases.
    #[test]
    fn predictions_equal_the_committed_trees_digests() {
        let d = Digests::default();
        let mut tree = DataTree::new();
        let mut unapplied: VecDeque<Committed> = VecDeque::new();
        let mut applied = 0i64;
        let mut zxid = 0i64;
        let mut predicted = Vec::new();
        for batch in 0..250i64 {
            // A batch of 50 proposals, each logged as it is prepared (the pipeline
            // pushes it to `unapplied` then), then part of what is unapplied commits.
            for i in 0..50 {
                zxid += 1;
                let txn = if i % 2 == 0 {
                    create(&format!("/n{zxid}"))
                } else {
                    Txn::SetData(SetDataTxn {
                        path: format!("/n{}", zxid - 1),
                        data: Some(NodeData::new(&batch.to_be_bytes())),
                        version: 1,
                    })
                };
                let c = committed(zxid, txn);
                predicted.push((zxid, d.predict(&tree, applied, &unapplied, &c)));
                unapplied.push_back(c);
            }
            // Lagging applies, so `ahead` is rebased with txns to re-apply every
            // REBASE_EVERY; once everything is applied, so it rebases for free.
            let through = if batch == 199 { zxid } else { zxid - 30 };
            while unapplied.front().is_some_and(|c| c.hdr.zxid <= through) {
                let Some(c) = unapplied.pop_front() else {
                    break;
                };
                txn::apply(&mut tree, &c.hdr, &c.txn);
                applied = c.hdr.zxid;
                let (z, p) = predicted.remove(0);
                assert_eq!(z, applied);
                assert_eq!(p, Some(tree.digest()), "txn 0x{z:x}");
            }
        }
        assert!(predicted.len() < 60);
    }

    #[test]
    fn a_learner_counts_only_a_differing_digest_of_the_txn_applied() {
        let d = Digests::default();
        let stats = CoreStats::new();
        let mut tree = DataTree::new();
        let c = committed(1, create("/a"));
        txn::apply(&mut tree, &c.hdr, &c.txn);
        d.expect(1, Some(tree.digest()));
        d.expect(2, Some(12345));
        d.check(1, &tree, &stats);
        assert_eq!(
            stats
                .digest_mismatches
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        d.check(2, &tree, &stats);
        assert_eq!(
            stats
                .digest_mismatches
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // A txn without a digest is not checked.
        d.expect(3, None);
        d.check(3, &tree, &stats);
        assert_eq!(
            stats
                .digest_mismatches
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}
