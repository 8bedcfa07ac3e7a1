//! Outstanding changes: what prepared-but-not-yet-applied txns will do to the tree
//! (ZooKeeper's `outstandingChanges` / `ChangeRecord`). Prep reads the tree through
//! them, so a pipelined request sees the effect of the ones before it, and the ops of
//! one multi see the earlier ops of the same multi.
//!
//! Owns only this overlay; holds no data bytes (only their lengths, for quotas) and no
//! times (validation needs neither). The caller bounds its size by bounding proposals
//! in flight. With `enforceQuota`, it also holds what the pending txns add to each
//! quota's usage, and the soft-limit warnings prep found (for the caller to log).

use std::collections::HashMap;
use std::sync::Arc;

use crate::proto::Acl;
use crate::tree::path::parent_key;
use crate::tree::DataTree;

/// What prep needs to know of a node. `cversion` is the stored (creates) count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub child_count: i32,
    pub acl: Arc<[Acl]>,
    /// The data's length (0 for null), what a quota's `bytes` counts.
    pub data_len: i64,
}

/// The latest pending change of one path; `node: None` means "deleted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// zxid of the txn that made this change.
    pub zxid: i64,
    pub node: Option<NodeView>,
}

/// What one pending txn adds to the usage of the quota on `root` (as the committed
/// tree's quota index named it when the txn was prepared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QuotaDelta {
    pub zxid: i64,
    pub root: String,
    pub count: i64,
    pub bytes: i64,
}

impl QuotaDelta {
    /// What `deltas` add to the quota on `root`: (count, bytes).
    pub(super) fn sum(deltas: &[QuotaDelta], root: &str) -> (i64, i64) {
        deltas
            .iter()
            .filter(|d| d.root == root)
            .fold((0, 0), |(c, b), d| {
                (c.wrapping_add(d.count), b.wrapping_add(d.bytes))
            })
    }
}

/// Pending changes by path (root under "/").
#[derive(Debug, Clone, Default)]
pub struct Outstanding {
    by_path: HashMap<String, ChangeRecord>,
    /// Only kept with `enforceQuota` and only for paths under a quota.
    quota: Vec<QuotaDelta>,
    /// Soft-limit messages prep produced, in order, until the caller takes them.
    quota_warnings: Vec<String>,
}

impl Outstanding {
    pub fn new() -> Outstanding {
        Outstanding::default()
    }

    /// Forgets the changes of txns up to `zxid`: the tree passed to prep now has them.
    pub fn commit_up_to(&mut self, zxid: i64) {
        self.by_path.retain(|_, c| c.zxid > zxid);
        self.quota.retain(|d| d.zxid > zxid);
    }

    /// Forgets everything (new leader epoch, resync).
    pub fn clear(&mut self) {
        self.by_path.clear();
        self.quota.clear();
    }

    /// The soft-limit warnings of the requests prepared since the last call
    /// (`Quota exceeded: /app [current count=4, softCountLimit=3]`), for the caller to
    /// log: ZooKeeper logs them at WARN and serves the request.
    pub fn take_quota_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.quota_warnings)
    }

    /// What pending txns add to the usage of the quota on `root`: (count, bytes).
    pub(super) fn quota_pending(&self, root: &str) -> (i64, i64) {
        QuotaDelta::sum(&self.quota, root)
    }

    pub(super) fn add_quota_deltas(&mut self, deltas: Vec<QuotaDelta>) {
        self.quota.extend(deltas);
    }

    pub(super) fn add_quota_warnings(&mut self, warnings: Vec<String>) {
        self.quota_warnings.extend(warnings);
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    pub(super) fn get(&self, path: &str) -> Option<&ChangeRecord> {
        self.by_path.get(path)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &ChangeRecord)> {
        self.by_path.iter().map(|(p, c)| (p.as_str(), c))
    }

    pub(super) fn merge(&mut self, changes: HashMap<String, ChangeRecord>) {
        self.by_path.extend(changes);
    }
}

/// The tree as prep sees it: committed tree, then outstanding changes, then the
/// changes of the request being prepared (kept apart so a failed multi drops them).
pub(super) struct View<'a> {
    pub tree: &'a DataTree,
    pub base: &'a Outstanding,
    pub scratch: HashMap<String, ChangeRecord>,
    /// The quota usage changes of the request being prepared.
    pub quota_scratch: Vec<QuotaDelta>,
    pub quota_warnings: Vec<String>,
    pub zxid: i64,
}

impl<'a> View<'a> {
    pub fn new(tree: &'a DataTree, base: &'a Outstanding, zxid: i64) -> View<'a> {
        View {
            tree,
            base,
            scratch: HashMap::new(),
            quota_scratch: Vec::new(),
            quota_warnings: Vec::new(),
            zxid,
        }
    }

    /// `getRecordForPath`: the node as it will be once pending txns apply.
    pub fn get(&self, path: &str) -> Option<NodeView> {
        let key = parent_key(path);
        if let Some(c) = self.scratch.get(key).or_else(|| self.base.get(key)) {
            return c.node.clone();
        }
        let n = self.tree.get(key)?;
        let s = n.persisted();
        Some(NodeView {
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            child_count: n.num_children() as i32,
            acl: n.acl().clone(),
            data_len: n.data().map_or(0, |d| d.len() as i64),
        })
    }

    pub fn put(&mut self, path: &str, node: Option<NodeView>) {
        let zxid = self.zxid;
        self.scratch
            .insert(parent_key(path).to_owned(), ChangeRecord { zxid, node });
    }
}
