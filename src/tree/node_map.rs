//! The node store of one tree: every node in one dense `Vec`, found by path through
//! a hash table of positions in it.
//!
//! Owns placement only (no ZooKeeper rules). Why not `HashMap<path, Node>`: a
//! hashbrown table keeps the whole (key, value) in each bucket and has up to twice as
//! many buckets as entries, so at 1M nodes that map is ~340 B per node before any
//! node data. Here a bucket is a 4-byte position and a control byte, the path is
//! stored once in its node, and the `Vec` has no per-node allocation.

use std::fmt;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::node::Node;

#[derive(Clone)]
pub(super) struct NodeMap {
    /// Every node, in no particular order: a removal moves the last node into the hole.
    nodes: Vec<Node>,
    /// Positions in `nodes`, hashed by the node's path. Invariant: one entry per node.
    index: HashTable<u32>,
    /// Keyed at random as std's `HashMap` is (clients choose paths, so they must not
    /// be able to choose collisions); a cloned tree keeps it, as its cloned table was
    /// built with it. Nothing observable depends on it: `nodes` is in op order.
    hasher: RandomState,
}

impl NodeMap {
    pub(super) fn new() -> NodeMap {
        NodeMap {
            nodes: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    fn position(&self, path: &str) -> Option<usize> {
        let nodes = &self.nodes;
        self.index
            .find(self.hasher.hash_one(path), |&i| {
                nodes.get(i as usize).is_some_and(|n| *n.path == *path)
            })
            .map(|&i| i as usize)
    }

    pub(super) fn get(&self, path: &str) -> Option<&Node> {
        self.position(path).and_then(|i| self.nodes.get(i))
    }

    pub(super) fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.position(path).and_then(|i| self.nodes.get_mut(i))
    }

    pub(super) fn contains_key(&self, path: &str) -> bool {
        self.position(path).is_some()
    }

    /// Whether another node fits: positions are `u32` (2^32 nodes would take over
    /// 800 GiB, so no server reaches this bound; it is checked so no op can overflow).
    pub(super) fn is_full(&self) -> bool {
        u32::try_from(self.nodes.len()).is_err()
    }

    /// Adds `node` under its path. Returns false, changing nothing, when a node with
    /// that path exists or the store [`is_full`](Self::is_full).
    pub(super) fn insert(&mut self, node: Node) -> bool {
        let Ok(pos) = u32::try_from(self.nodes.len()) else {
            return false;
        };
        let (nodes, hasher) = (&self.nodes, &self.hasher);
        let entry = self.index.entry(
            hasher.hash_one(&*node.path),
            |&i| nodes.get(i as usize).is_some_and(|n| n.path == node.path),
            |&i| {
                nodes
                    .get(i as usize)
                    .map_or(0, |n| hasher.hash_one(&*n.path))
            },
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(pos);
                self.nodes.push(node);
                true
            }
        }
    }

    /// Removes and returns the node at `path`. The last node moves into its place, so
    /// its one index entry is repointed (found by position, not by comparing paths).
    pub(super) fn remove(&mut self, path: &str) -> Option<Node> {
        let nodes = &self.nodes;
        let entry = self
            .index
            .find_entry(self.hasher.hash_one(path), |&i| {
                nodes.get(i as usize).is_some_and(|n| *n.path == *path)
            })
            .ok()?;
        let (pos, _) = entry.remove();
        let pos = pos as usize;
        if pos >= self.nodes.len() {
            return None;
        }
        let node = self.nodes.swap_remove(pos);
        if let Some(moved) = self.nodes.get(pos) {
            // `moved` was last, at the position `len` now has.
            let old = self.nodes.len() as u32;
            if let Some(slot) = self
                .index
                .find_mut(self.hasher.hash_one(&*moved.path), |&i| i == old)
            {
                *slot = pos as u32;
            }
        }
        Some(node)
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Checks that the index and the nodes agree (O(n)); for tests.
    #[cfg(test)]
    pub(super) fn validate(&self) {
        assert_eq!(self.index.len(), self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate() {
            assert_eq!(self.position(&n.path), Some(i), "{}", n.path);
        }
    }
}

impl PartialEq for NodeMap {
    /// The same nodes under the same paths, wherever they sit.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|n| other.get(&n.path) == Some(n))
    }
}

impl fmt::Debug for NodeMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.nodes).finish()
    }
}
