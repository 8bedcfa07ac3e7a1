//! Per-tree interning of ACL lists (ZooKeeper's `ReferenceCountedACLCache`): nodes
//! with equal ACLs share one list, and an entry lives while nodes use it.
//!
//! Owns only the table; the tree calls `intern` on create/setACL and `release` on
//! delete/setACL so reference counts stay exact.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::proto::Acl;

/// What a node holds: a thin (8-byte) pointer to the shared list. The list itself is
/// an `Arc<[Acl]>` so that `Node::acl` can hand it out to be kept cheaply.
pub(super) type SharedAcl = Arc<Arc<[Acl]>>;

/// One shared list and the number of nodes using it (always ≥ 1).
type Entry = (SharedAcl, u32);

/// The shared ACL lists of one tree.
#[derive(Debug, Default, Clone)]
pub struct AclTable {
    /// content hash → lists with that hash and how many nodes use each.
    /// Invariant: every count is ≥ 1.
    by_hash: HashMap<u64, Vec<Entry>>,
}

/// A content hash (the proto records do not derive `Hash`). `DefaultHasher::new()`
/// uses fixed keys, so the value is the same on every replica.
fn hash_acl(acl: &[Acl]) -> u64 {
    let mut h = DefaultHasher::new();
    acl.len().hash(&mut h);
    for a in acl {
        a.perms.hash(&mut h);
        a.id.scheme.hash(&mut h);
        a.id.id.hash(&mut h);
    }
    h.finish()
}

impl AclTable {
    /// Returns the shared list equal to `acl`, adding one use.
    pub fn intern(&mut self, acl: &[Acl]) -> SharedAcl {
        let bucket = self.by_hash.entry(hash_acl(acl)).or_default();
        if let Some((shared, count)) = bucket.iter_mut().find(|(s, _)| ***s == *acl) {
            *count += 1;
            return shared.clone();
        }
        let shared: SharedAcl = Arc::new(Arc::from(acl.to_vec()));
        bucket.push((shared.clone(), 1));
        shared
    }

    /// Drops one use of a list returned by `intern`.
    pub fn release(&mut self, acl: &SharedAcl) {
        let h = hash_acl(acl);
        let Some(bucket) = self.by_hash.get_mut(&h) else {
            return;
        };
        if let Some(i) = bucket.iter().position(|(s, _)| Arc::ptr_eq(s, acl)) {
            bucket[i].1 -= 1;
            if bucket[i].1 == 0 {
                bucket.swap_remove(i);
            }
        }
        if bucket.is_empty() {
            self.by_hash.remove(&h);
        }
    }

    /// Distinct lists in use (`aclCacheSize`).
    pub fn len(&self) -> usize {
        self.by_hash.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_counts() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe());
        let b = t.intern(&Acl::open_unsafe());
        assert!(Arc::ptr_eq(&a, &b));
        let c = t.intern(&Acl::read_unsafe());
        assert_eq!(t.len(), 2);
        t.release(&a);
        assert_eq!(t.len(), 2);
        t.release(&b);
        assert_eq!(t.len(), 1);
        t.release(&c);
        assert!(t.is_empty());
    }
}
