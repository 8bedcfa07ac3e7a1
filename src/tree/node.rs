//! One znode as the tree stores it: a record with its data, shared ACL, persisted
//! stat and its children, each child a shared record under its name.
//!
//! Records are immutable once shared: the tree is persistent (`docs/versioned-tree.md`).
//! A change copies the records on the path from the root to the node it changes
//! (`triomphe::Arc::make_mut`), so a clone of the tree is a version that later changes
//! never reach. A record does not know its own path: a name is stored once, in its
//! parent's children. Compact on purpose (a million znodes is a common size): data,
//! ACL (interned with the ephemeral owner) and children are one pointer each: 80
//! bytes. Owns no behaviour beyond turning its
//! persisted stat into the `Stat` clients see, and dropping a deep subtree without
//! recursion.

use std::sync::Arc;

use bytes::BytesMut;

use super::acl_table::SharedAcl;
use super::ephemeral_type::EphemeralType;
use super::persistent_children::PersistentChildren;
use crate::proto::{Acl, Decode, DecodeError, Encode, NodeData, Reader, Stat};

/// `StatPersisted`: the stat fields ZooKeeper stores. `cversion` here counts child
/// *creates* only; clients see `cversion * 2 - numChildren` (see [`Node::stat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

/// jute `StatPersisted`, in its field order: ringkeeper's snapshots store it this way
/// and ZooKeeper's snapshots hold it this way.
impl Encode for StatPersisted {
    fn encode(&self, out: &mut BytesMut) {
        self.czxid.encode(out);
        self.mzxid.encode(out);
        self.ctime.encode(out);
        self.mtime.encode(out);
        self.version.encode(out);
        self.cversion.encode(out);
        self.aversion.encode(out);
        self.ephemeral_owner.encode(out);
        self.pzxid.encode(out);
    }
}

impl Decode for StatPersisted {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(StatPersisted {
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            pzxid: r.read_i64()?,
        })
    }
}

impl StatPersisted {
    /// `DataTree.createStat`: every zxid field is the creating zxid, both times the
    /// txn time, versions 0.
    pub fn created(zxid: i64, time_ms: i64, ephemeral_owner: i64) -> StatPersisted {
        StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        }
    }
}

/// `StatPersisted` as a node keeps it, less `ephemeral_owner` (interned with the ACL:
/// see `acl_table`), with the node's kind in the padding after the fields: 56 bytes,
/// so that `Node` is 80 and a record with its count takes a 96-byte malloc chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NodeStat {
    pub(super) czxid: i64,
    pub(super) mzxid: i64,
    pub(super) ctime: i64,
    pub(super) mtime: i64,
    pub(super) version: i32,
    pub(super) cversion: i32,
    pub(super) aversion: i32,
    pub(super) pzxid: i64,
    /// Set once at create from `ephemeral_owner` and the tree's extended-types flag.
    pub(super) kind: EphemeralType,
}

impl NodeStat {
    /// `s` without its `ephemeral_owner`, which the caller interns with the ACL.
    pub(super) fn new(s: StatPersisted, kind: EphemeralType) -> NodeStat {
        let StatPersisted {
            czxid,
            mzxid,
            ctime,
            mtime,
            version,
            cversion,
            aversion,
            ephemeral_owner: _,
            pzxid,
        } = s;
        NodeStat {
            czxid,
            mzxid,
            ctime,
            mtime,
            version,
            cversion,
            aversion,
            pzxid,
            kind,
        }
    }
}

/// A shared znode record: what a parent's children map holds and a tree's root is.
/// `triomphe::Arc` has no weak count, so the header is one word.
pub(super) type NodeRef = triomphe::Arc<Node>;

/// A znode.
#[derive(Debug, Clone)]
pub struct Node {
    /// `None` is ZooKeeper's null data, distinct from empty.
    pub(super) data: Option<NodeData>,
    /// The ACL and the stored `ephemeral_owner`, interned together.
    pub(super) acl: SharedAcl,
    pub(super) stat: NodeStat,
    /// Child name → child record, in name order.
    pub(super) children: PersistentChildren<NodeRef>,
}

impl Node {
    pub(super) fn new(data: Option<NodeData>, acl: SharedAcl, stat: NodeStat) -> Node {
        Node {
            data,
            acl,
            stat,
            children: PersistentChildren::new(),
        }
    }

    /// The `Stat` clients see (`DataNode.copyStat`): cversion counts changes (creates
    /// and deletes: `2 * creates - children`), containers and TTL nodes show owner 0.
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        Stat {
            czxid: self.stat.czxid,
            mzxid: self.stat.mzxid,
            ctime: self.stat.ctime,
            mtime: self.stat.mtime,
            version: self.stat.version,
            cversion: self
                .stat
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            aversion: self.stat.aversion,
            ephemeral_owner: match self.stat.kind {
                EphemeralType::Normal => self.acl.owner,
                _ => 0,
            },
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children,
            pzxid: self.stat.pzxid,
        }
    }

    /// The stored stat, as snapshots and prep see it.
    pub fn persisted(&self) -> StatPersisted {
        let s = &self.stat;
        StatPersisted {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: self.acl.owner,
            pzxid: s.pzxid,
        }
    }

    pub fn data(&self) -> Option<&NodeData> {
        self.data.as_ref()
    }

    pub fn acl(&self) -> &Arc<[Acl]> {
        &self.acl.acl
    }

    /// The stored `ephemeral_owner` (a container's marker or a TTL node's TTL too).
    pub(super) fn owner(&self) -> i64 {
        self.acl.owner
    }

    /// Child names in sorted order.
    pub fn children(&self) -> impl Iterator<Item = &str> {
        self.children.iter().map(|(name, _)| name)
    }

    /// The child called `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.get(name).map(|c| &**c)
    }

    /// Children as (name, node) in name order.
    pub fn child_nodes(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.children.iter().map(|(name, c)| (name, &**c))
    }

    /// The first child name after `after` (or the first of all), in sorted order: lets
    /// a walk resume where it stopped even though the set changed in between.
    pub fn child_after(&self, after: Option<&str>) -> Option<&str> {
        self.children
            .range_after(after)
            .next()
            .map(|(name, _)| name)
    }

    pub fn num_children(&self) -> usize {
        self.children.len()
    }

    pub fn kind(&self) -> EphemeralType {
        self.stat.kind
    }
}

impl Drop for Node {
    /// Dismantles the subtree this record alone holds with a heap stack: dropping a
    /// chain of records recursively would take stack per level, and a chain can be
    /// as deep as clients create it (a path of 1 MB has 500,000 levels). Records
    /// shared with another version are only released.
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let mut stack = vec![std::mem::take(&mut self.children)];
        while let Some(children) = stack.pop() {
            for child in children.into_unique_values() {
                if let Ok(mut node) = triomphe::Arc::try_unwrap(child) {
                    if !node.children.is_empty() {
                        stack.push(std::mem::take(&mut node.children));
                    }
                }
            }
        }
    }
}
