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
    /// digest off. `tree` is the committed tree through `applied`, `unapplied` the
    /// prepared txns after it that are logged (the rest of the batch `c` is in was
    /// applied here already).
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
