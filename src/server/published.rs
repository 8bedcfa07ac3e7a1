//! The chain of published tree versions: how committed batches reach the session
//! cores once the quorum core has applied them (`docs/versioned-tree.md`, step 3).
//!
//! The quorum core is the tree's one writer. After a batch is synced it applies the
//! batch once and appends a [`Published`] entry: the batch, what applying each txn
//! produced, and the tree version after it. Each session core keeps the entry it has
//! caught up to and walks `next` from there. Setting `next` is the only write another
//! core sees, once per batch; a reader checks it with one atomic load.
//!
//! Owns the entry type and the chain's upkeep (linking, dropping without recursion);
//! what a session core does with an entry is `session_core`'s.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::messages::Committed;
use crate::tree::TreeVersion;
use crate::txn::ApplyOutcome;

/// Entries alive in this process (mntr `rk_published_versions`). A handful is normal:
/// the newest and the ones cores are still taking. Growth means something holds an
/// old entry, and with it every version after it.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many published entries are alive (see [`LIVE`]).
pub fn live_entries() -> usize {
    LIVE.load(Relaxed)
}

/// Where a session core sends the entries it has moved past, for the writer to drop.
/// The last holder of an entry frees the tree records that only its version used, and
/// the writer allocated them: freed on the writer's thread, they go back to its own
/// allocator caches instead of crossing threads (a remote free ends in a lock on the
/// allocating thread's arena once the freeing thread's cache for that size is full:
/// measured with glibc's malloc, and jemalloc, the server's allocator now, does the same).
pub type Retire = std::sync::mpsc::Sender<Arc<Published>>;

/// One committed batch, applied.
pub struct Published {
    /// The tree after this batch.
    pub tree: TreeVersion,
    /// zxid of the last txn applied to `tree` (for the first entry, the recovered one).
    pub zxid: i64,
    /// The batch in zxid order, with what applying each txn produced.
    pub batch: Vec<(Committed, ApplyOutcome)>,
    /// The entry after this one, set once by the writer.
    next: OnceLock<Arc<Published>>,
}

impl Published {
    /// The head of a chain: the recovered tree, with no batch.
    pub fn first(tree: TreeVersion, zxid: i64) -> Arc<Published> {
        LIVE.fetch_add(1, Relaxed);
        Arc::new(Published {
            tree,
            zxid,
            batch: Vec::new(),
            next: OnceLock::new(),
        })
    }

    /// Links a new entry after this one and returns it. The writer calls it on the
    /// newest entry only, so `next` is always unset here; were it set, the chain would
    /// fork, so that is refused loudly rather than ignored.
    pub fn append(
        &self,
        tree: TreeVersion,
        zxid: i64,
        batch: Vec<(Committed, ApplyOutcome)>,
    ) -> Arc<Published> {
        LIVE.fetch_add(1, Relaxed);
        let entry = Arc::new(Published {
            tree,
            zxid,
            batch,
            next: OnceLock::new(),
        });
        if self.next.set(entry.clone()).is_err() {
            tracing::error!("a published entry was appended to twice; the later one is lost");
        }
        entry
    }

    /// The entry after this one, if the writer has published it.
    pub fn next(&self) -> Option<&Arc<Published>> {
        self.next.get()
    }
}

impl Drop for Published {
    /// Unlinks the entries after this one that nothing else holds, one at a time: a
    /// long chain dropped recursively could overflow the stack (a core that stopped
    /// while far behind drops every entry after its own).
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Relaxed);
        let mut next = self.next.take();
        while let Some(entry) = next {
            next = match Arc::try_unwrap(entry) {
                // `e` drops here with its `next` taken: no recursion.
                Ok(mut e) => e.next.take(),
                Err(_) => None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::DataTree;

    #[test]
    fn a_reader_walks_the_chain_in_order() {
        let tree = DataTree::new();
        let head = Published::first(tree.version(), 0);
        let mut newest = head.clone();
        for z in 1..=3 {
            newest = newest.append(tree.version(), z, Vec::new());
        }
        let mut seen = vec![head.zxid];
        let mut at = head;
        while let Some(n) = at.next().cloned() {
            seen.push(n.zxid);
            at = n;
        }
        assert_eq!(seen, vec![0, 1, 2, 3]);
        assert!(Arc::ptr_eq(&at, &newest));
    }

    /// A million entries held only through the head drop on a small stack.
    #[test]
    fn a_long_chain_drops_without_recursion() {
        let tree = DataTree::new();
        let head = Published::first(tree.version(), 0);
        let mut newest = head.clone();
        for z in 1..=1_000_000 {
            newest = newest.append(tree.version(), z, Vec::new());
        }
        drop(newest);
        let dropper = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || drop(head))
            .expect("spawn");
        assert!(dropper.join().is_ok());
    }
}
