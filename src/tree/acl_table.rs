//! Per-tree interning of ACL lists (ZooKeeper's `ReferenceCountedACLCache`): nodes
//! with equal ACLs share one list, and an entry lives while nodes use it. A node's
//! ephemeral owner is interned with its ACL: the pair is one 8-byte pointer in the
//! node instead of a pointer and an 8-byte owner, which keeps `Node` at 80 bytes, so
//! a record with its count fits the allocator's 96-byte size class rather than the
//! 112-byte one.
//! Almost every node has owner 0 and one of a few lists, so the pairs are few: one
//! per list for persistent nodes, one per list and session for ephemerals.
//!
//! Owns only the table; the tree calls `intern` on create/setACL and `release` on
//! delete/setACL so reference counts stay exact.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::proto::Acl;

/// What a node holds: a thin (8-byte) pointer to its ACL and ephemeral owner.
pub(super) type SharedAcl = Arc<AclOwner>;

/// A shared ACL list with one ephemeral owner (0 for persistent nodes; containers
/// and TTL nodes keep their marker or TTL here, as `ephemeralOwner` does).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct AclOwner {
    /// An `Arc<[Acl]>` so that `Node::acl` can hand it out to be kept cheaply; one
    /// per distinct list whatever the owners (snapshots number lists by this pointer).
    pub(super) acl: Arc<[Acl]>,
    pub(super) owner: i64,
}

/// One distinct list and, per owner, the shared pair and how many nodes use it
/// (always ≥ 1; a list with no owner left is removed).
#[derive(Debug, Clone)]
struct Entry {
    acl: Arc<[Acl]>,
    owners: HashMap<i64, (SharedAcl, u32)>,
}

/// The shared ACL lists of one tree.
#[derive(Debug, Default, Clone)]
pub struct AclTable {
    /// content hash → lists with that hash.
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
    /// Returns the shared pair of the list equal to `acl` and `owner`, adding one use.
    pub(super) fn intern(&mut self, acl: &[Acl], owner: i64) -> SharedAcl {
        let bucket = self.by_hash.entry(hash_acl(acl)).or_default();
        let at = match bucket.iter().position(|e| *e.acl == *acl) {
            Some(at) => at,
            None => {
                bucket.push(Entry {
                    acl: Arc::from(acl.to_vec()),
                    owners: HashMap::new(),
                });
                bucket.len() - 1
            }
        };
        let entry = &mut bucket[at];
        let (shared, count) = entry.owners.entry(owner).or_insert_with(|| {
            let pair = AclOwner {
                acl: entry.acl.clone(),
                owner,
            };
            (Arc::new(pair), 0)
        });
        *count += 1;
        shared.clone()
    }

    /// Drops one use of a pair returned by `intern`.
    pub(super) fn release(&mut self, shared: &SharedAcl) {
        let h = hash_acl(&shared.acl);
        let Some(bucket) = self.by_hash.get_mut(&h) else {
            return;
        };
        if let Some(i) = bucket.iter().position(|e| Arc::ptr_eq(&e.acl, &shared.acl)) {
            let owners = &mut bucket[i].owners;
            if let Some((s, count)) = owners.get_mut(&shared.owner) {
                if Arc::ptr_eq(s, shared) {
                    *count -= 1;
                    if *count == 0 {
                        owners.remove(&shared.owner);
                    }
                }
            }
            if owners.is_empty() {
                bucket.swap_remove(i);
            }
        }
        if bucket.is_empty() {
            self.by_hash.remove(&h);
        }
    }

    /// Distinct lists in use (`aclCacheSize`), whatever their owners.
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
        let a = t.intern(&Acl::open_unsafe(), 0);
        let b = t.intern(&Acl::open_unsafe(), 0);
        assert!(Arc::ptr_eq(&a, &b));
        let c = t.intern(&Acl::read_unsafe(), 0);
        assert_eq!(t.len(), 2);
        t.release(&a);
        assert_eq!(t.len(), 2);
        t.release(&b);
        assert_eq!(t.len(), 1);
        t.release(&c);
        assert!(t.is_empty());
    }

    /// Owners get their own pairs but share the list, which counts once until its
    /// last owner's last use is released.
    #[test]
    fn owners_share_the_list() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe(), 0);
        let e = t.intern(&Acl::open_unsafe(), 7);
        let f = t.intern(&Acl::open_unsafe(), 7);
        assert!(!Arc::ptr_eq(&a, &e) && Arc::ptr_eq(&e, &f));
        assert!(Arc::ptr_eq(&a.acl, &e.acl));
        assert_eq!((a.owner, e.owner), (0, 7));
        assert_eq!(t.len(), 1);
        t.release(&a);
        t.release(&e);
        assert_eq!(t.len(), 1);
        let g = t.intern(&Acl::open_unsafe(), 7);
        assert!(Arc::ptr_eq(&g, &f));
        t.release(&f);
        t.release(&g);
        assert!(t.is_empty());
    }
}
