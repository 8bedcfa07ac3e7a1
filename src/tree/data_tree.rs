//! `DataTree`: the znode tree, as ZooKeeper 3.9's `DataTree` keeps it: nodes by path,
//! per-session ephemerals, the container and TTL sets, an ACL table, the approximate
//! data size, and the quota index with the upkeep of each quota's stats node
//! (`updateQuotaStat`, `updateQuotaForPath`, `setupQuota`).
//!
//! Persistent (`docs/versioned-tree.md`, step 2): the nodes are shared records
//! (`node.rs`) reached from the root through each node's children, and the indexes sit
//! behind `Arc`s, so `clone()` is O(1) and yields a version that later changes to
//! either tree never reach. A change copies only what the changed tree shares with a
//! clone: the records from the root to the node, and an index the first time it moves.
//!
//! Pure and deterministic: mutations take zxid and time as arguments and report the
//! watch triggers they fire; the tree never reads a clock, never does I/O, never
//! panics on what a txn contains. Validation belongs to `txn::prep`; the mutations
//! here only do what `DataTree.createNode/deleteNode/setData/setACL` do.

#[cfg(test)]
use std::collections::HashMap;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use super::acl_table::AclTable;
use super::digest::node_digest;
use super::ephemeral_type::EphemeralType;
use super::ephemerals::{Ephemerals, SharedPath};
use super::node::{Node, NodeRef, NodeStat, StatPersisted};
use super::path::{parent_key, split_parent};
use super::quota::{stat_path, QuotaIndex, StatsTrack, BYTES, COUNT, LIMIT_NODE, STAT_NODE};
use super::trigger::{
    WatchTrigger, NODE_CHILDREN_CHANGED, NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED,
};
use crate::proto::{Acl, ErrorCode, NodeData, Stat};

/// `/zookeeper`: the reserved subtree.
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
/// `Quotas.quotaZookeeper`.
pub const QUOTA_PATH: &str = "/zookeeper/quota";
/// `ZooDefs.CONFIG_NODE`.
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// Java's `String.length()`: UTF-16 units, which is what ZooKeeper's size counts.
fn java_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

fn data_len(d: Option<&NodeData>) -> i64 {
    d.map_or(0, |b| b.len() as i64)
}

/// The path of the child `name` of the node at `parent`.
fn child_path(parent: &str, name: &str) -> String {
    let base = if parent == "/" { "" } else { parent };
    let mut p = String::with_capacity(base.len() + 1 + name.len());
    p.push_str(base);
    p.push('/');
    p.push_str(name);
    p
}

/// The names from the root to the node at `path` ("/" has none); `None` for a path
/// that is not absolute. A name that is empty ("//", a trailing '/') matches no child.
fn names_of(path: &str) -> Option<impl Iterator<Item = &str>> {
    let rest = path.strip_prefix('/')?;
    Some(rest.split('/').filter(move |_| !rest.is_empty()))
}

/// The node at `path` under `root`, to change: the records on the way that the tree
/// shares with a clone are copied first. Callers look the node up with
/// [`DataTree::get`] before, so a miss here (which would have copied part of the way)
/// does not happen in practice. A free function so the tree's other fields stay free
/// to change while the node is borrowed.
fn node_mut<'a>(root: &'a mut Option<NodeRef>, path: &str) -> Option<&'a mut Node> {
    let names = names_of(parent_key(path))?;
    let mut node = triomphe::Arc::make_mut(root.as_mut()?);
    for name in names {
        node = triomphe::Arc::make_mut(node.children.get_mut(name)?);
    }
    Some(node)
}

/// What readers need of the tree: the nodes, the counts and the ephemerals. O(1) to
/// clone, and a clone never changes: session cores serve reads and watches from one,
/// and snapshots walk one. The writer's own indexes stay in [`DataTree`].
#[derive(Debug, Clone)]
pub struct TreeVersion {
    /// The node "/", through which every node is reached; `None` only in a tree made
    /// by [`DataTree::empty_for_restore`] before "/" is restored. ZooKeeper also keeps
    /// the root under "" — lookups map "" to "/" and the counters add the alias back.
    root: Option<NodeRef>,
    /// Nodes reachable from `root`, the root included.
    nodes: usize,
    /// Paths of ephemerals per owning session (persistent: see `ephemerals.rs`).
    ephemerals: Ephemerals,
    /// `zookeeper.extendedTypesEnabled`: whether owner values with the top byte 0xff
    /// mean TTL nodes.
    extended_types_enabled: bool,
    /// Sum over nodes of path length + data length (see `approximate_data_size`).
    data_size: i64,
    /// ZooKeeper's tree digest (`digest.rs`): the wrapping sum of every node's digest,
    /// kept by each change; 0 while `digest_enabled` is off, as in ZooKeeper.
    digest: u64,
    /// `digest.enabled`: whether `digest` is kept.
    digest_enabled: bool,
    /// ZooKeeper's digest history (`DataTree.digestLog`, what `hash` shows): (zxid,
    /// digest after it) for each txn whose zxid is a multiple of 128, the newest 1024.
    digest_log: Arc<VecDeque<(i64, u64)>>,
}

/// `start` and every node below it, in no particular order (depth first, iterative:
/// a deep tree does not deepen the call stack).
fn subtree(start: Option<&Node>) -> impl Iterator<Item = &Node> {
    let mut stack: Vec<&Node> = start.into_iter().collect();
    std::iter::from_fn(move || {
        let n = stack.pop()?;
        stack.extend(n.child_nodes().map(|(_, c)| c));
        Some(n)
    })
}

/// A node's share of the tree digest, or 0 with the digest off.
fn share(enabled: bool, path: &str, node: &Node) -> u64 {
    if !enabled {
        return 0;
    }
    node_digest(path, node.data.as_deref(), &node.persisted())
}

/// The tree as its one writer holds it: the current [`TreeVersion`] (which it derefs
/// to for reads) and the indexes only the writer uses. `clone()` is O(1) too (the
/// indexes sit behind `Arc`s, copied the first time a clone changes them).
#[derive(Debug, Clone)]
pub struct DataTree {
    v: TreeVersion,
    acls: Arc<AclTable>,
    containers: Arc<BTreeSet<SharedPath>>,
    ttls: Arc<BTreeSet<SharedPath>>,
    /// The quota roots (`pTrie`): a path is in it while its limits node exists, from
    /// the create of that node (or its restore) to its delete, and after
    /// [`DataTree::recompute_quotas`] exactly the leaf limits nodes. Derived from the
    /// nodes, so not part of equality.
    quotas: Arc<QuotaIndex>,
    /// The tree holds changes of txns up to this zxid that are replayed again after it
    /// (it came from a fuzzy snapshot: see [`DataTree::mark_fuzzy_after`]); 0 when it
    /// does not. Digests of those zxids are of a tree no other replica held there.
    fuzzy_through: i64,
}

impl std::ops::Deref for DataTree {
    type Target = TreeVersion;

    fn deref(&self) -> &TreeVersion {
        &self.v
    }
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl PartialEq for DataTree {
    /// Same content: nodes (with stats, data, ACL values and children), ephemerals,
    /// containers and TTL sets, and the digest (which a restore must rebuild). Children
    /// order and ACL sharing do not matter.
    fn eq(&self, other: &Self) -> bool {
        self.v.nodes == other.v.nodes
            && same_nodes(self.v.root.as_ref(), other.v.root.as_ref())
            && self.v.ephemerals == other.v.ephemerals
            && self.containers == other.containers
            && self.ttls == other.ttls
            && self.v.data_size == other.v.data_size
            && self.v.digest == other.v.digest
            && self.acls.len() == other.acls.len()
    }
}

impl TreeVersion {
    pub fn extended_types_enabled(&self) -> bool {
        self.extended_types_enabled
    }

    /// The node at `path`; "" is the root as in ZooKeeper's node map. Borrows all the
    /// way: no reference count changes.
    pub fn get(&self, path: &str) -> Option<&Node> {
        let mut node = &**self.root.as_ref()?;
        for name in names_of(parent_key(path))? {
            node = node.child(name)?;
        }
        Some(node)
    }

    fn contains(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// The classification of an owner value on this tree.
    pub fn ephemeral_type(&self, owner: i64) -> EphemeralType {
        EphemeralType::of(owner, self.extended_types_enabled)
    }

    /// Paths of the ephemerals `session` owns, sorted.
    pub fn ephemerals(&self, session: i64) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(session)
            .into_iter()
            .flat_map(|s| s.iter().map(|p| &**p))
    }

    /// getEphemerals: a null, blank (after Java's `trim`) or "/" prefix means all;
    /// otherwise a plain string prefix match (not per path component: "/a" matches
    /// "/ab"), as `FinalRequestProcessor` does.
    pub fn ephemerals_under(&self, session: i64, prefix: Option<&str>) -> Vec<String> {
        let trimmed = prefix.map(|p| p.trim_matches(|c: char| c <= ' '));
        let all = matches!(trimmed, None | Some("") | Some("/"));
        self.ephemerals(session)
            .filter(|p| all || prefix.is_some_and(|pre| p.starts_with(pre)))
            .map(str::to_owned)
            .collect()
    }

    /// Sessions owning at least one ephemeral.
    pub fn sessions_with_ephemerals(&self) -> impl Iterator<Item = i64> + '_ {
        self.ephemerals.sessions()
    }

    /// getAllChildrenNumber: all descendants (not the node itself); `None` if absent.
    /// For "/" this includes the `/zookeeper` subtree, as ZooKeeper's `nodes.size() - 2`.
    pub fn count_descendants(&self, path: &str) -> Option<usize> {
        let start = self.get(path)?;
        Some(subtree(Some(start)).map(Node::num_children).sum())
    }

    /// mntr `zk_znode_count`: ZooKeeper's `nodes.size()`, which counts the root twice
    /// ("" and "/"), so a fresh server reports 5.
    pub fn node_count(&self) -> usize {
        self.nodes + 1
    }

    /// ZooKeeper's tree digest (`DataTree.getTreeDigest`): 0 with `digest.enabled` off.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub fn digest_enabled(&self) -> bool {
        self.digest_enabled
    }

    /// The digest history, oldest first: (zxid, tree digest after that txn).
    pub fn digest_log(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.digest_log.iter().copied()
    }

    /// mntr `zk_ephemerals_count`.
    pub fn ephemerals_count(&self) -> usize {
        self.ephemerals.count()
    }

    /// mntr `zk_approximate_data_size`: over ZooKeeper's node map, path length (UTF-16
    /// units) + data length; the root is in that map twice ("" and "/"), so its data
    /// counts twice and "/" adds 1. A fresh server reports 44.
    pub fn approximate_data_size(&self) -> i64 {
        let root_alias = self.get("/").map_or(0, |r| data_len(r.data.as_ref()));
        self.data_size + root_alias
    }
}

impl DataTree {
    /// The tree of a fresh ZooKeeper 3.9 server: `/`, `/zookeeper`,
    /// `/zookeeper/quota` (world:anyone ALL) and `/zookeeper/config` (world:anyone
    /// READ, set through setACL with version −1, so its aversion is −1). All stats are
    /// zero, all data empty (not null). `/` has one child, so clients see its cversion
    /// as −1 (`0 * 2 - 1`).
    pub fn new() -> DataTree {
        DataTree::with_extended_types(false)
    }

    /// As [`DataTree::new`], with `zookeeper.extendedTypesEnabled` as given.
    pub fn with_extended_types(extended_types_enabled: bool) -> DataTree {
        let mut t = DataTree::empty_for_restore(extended_types_enabled);
        let open = Acl::open_unsafe();
        // Parents first, so each node can be listed in its parent as it is made.
        for path in ["/", ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH] {
            let added = t.insert_restored(
                path,
                Some(NodeData::new(b"")),
                &open,
                StatPersisted::default(),
            );
            debug_assert!(added.is_ok());
        }
        let _ = t.set_acl(CONFIG_PATH, &Acl::read_unsafe(), -1);
        t
    }

    /// Turns the digest on (computing it over the whole tree, O(n)) or off (it reads
    /// 0 then, as ZooKeeper's does with `digest.enabled=false`). On by default.
    pub fn set_digest_enabled(&mut self, on: bool) {
        self.v.digest_enabled = on;
        self.v.digest = if on { self.full_digest() } else { 0 };
    }

    /// After the txn `zxid` is applied (`DataTree.logZxidDigest`): every 128th zxid's
    /// digest joins the history, which keeps the newest 1024.
    /// Not while the tree is fuzzy at `zxid` (ZooKeeper: "only start recording digest
    /// when we're not in fuzzy state").
    pub fn log_digest(&mut self, zxid: i64) {
        const INTERVAL: i64 = 128;
        const LIMIT: usize = 1024;
        if !self.v.digest_enabled || zxid % INTERVAL != 0 || self.is_fuzzy_at(zxid) {
            return;
        }
        let log = Arc::make_mut(&mut self.v.digest_log);
        log.push_back((zxid, self.v.digest));
        if log.len() > LIMIT {
            log.pop_front();
        }
    }

    /// A tree just read from a snapshot taken at `snap_zxid`: if its nodes carry a
    /// later zxid (czxid, mzxid or pzxid), the snapshot was written while txns after
    /// `snap_zxid` were being applied (ZooKeeper's leader serializes SNAP from its live
    /// tree), and re-applying those txns leaves the tree ahead of the zxid applied.
    /// Until the replay passes the newest zxid the nodes carry, the tree is fuzzy: no
    /// digest is logged, and [`DataTree::is_fuzzy_at`] tells a replica not to compare
    /// its leader's. O(n) once, on load. (A setACL is the one change that leaves no
    /// zxid on a node; a trailing run of them past the newest carried zxid is not seen.)
    /// Returns that newest zxid when it is above `snap_zxid`.
    pub fn mark_fuzzy_after(&mut self, snap_zxid: i64) -> Option<i64> {
        let newest = subtree(self.v.root.as_deref())
            .map(|n| n.stat.czxid.max(n.stat.mzxid).max(n.stat.pzxid))
            .max()
            .unwrap_or(0);
        self.fuzzy_through = if newest > snap_zxid { newest } else { 0 };
        (self.fuzzy_through != 0).then_some(newest)
    }

    /// Whether the tree after the txn `zxid` holds changes of later txns (see
    /// [`DataTree::mark_fuzzy_after`]), so its digest there is not the one the
    /// replicas that applied the txns in order computed.
    pub fn is_fuzzy_at(&self, zxid: i64) -> bool {
        zxid < self.fuzzy_through
    }

    /// The digest computed from scratch over every node.
    fn full_digest(&self) -> u64 {
        let Some(root) = self.v.root.as_deref() else {
            return 0;
        };
        let mut sum = 0u64;
        let mut stack = vec![("/".to_owned(), root)];
        while let Some((path, node)) = stack.pop() {
            sum = sum.wrapping_add(share(true, &path, node));
            stack.extend(node.child_nodes().map(|(n, c)| (child_path(&path, n), c)));
        }
        sum
    }

    /// The version readers get: O(1), and later changes to this tree never reach it.
    pub fn version(&self) -> TreeVersion {
        self.v.clone()
    }

    /// Distinct ACL lists in use.
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }

    pub fn containers(&self) -> impl Iterator<Item = &str> {
        self.containers.iter().map(|p| &**p)
    }

    pub fn ttls(&self) -> impl Iterator<Item = &str> {
        self.ttls.iter().map(|p| &**p)
    }

    /// `ContainerManager.getCandidates` at `now_ms`: containers with no children that
    /// have had one (stored cversion > 0) or, when `max_never_used_interval_ms` is not
    /// 0, were last modified more than that long ago; TTL nodes with no children whose
    /// `now - mtime` exceeds their TTL. The caller preps a deleteContainer (op 20) for
    /// each — ZooKeeper deletes TTL nodes with that op too and ignores its errors.
    pub fn expired_containers_and_ttls(
        &self,
        now_ms: i64,
        max_never_used_interval_ms: i64,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for path in self.containers.iter() {
            let Some(n) = self.get(path) else {
                continue;
            };
            if !n.children.is_empty() {
                continue;
            }
            let elapsed = now_ms.wrapping_sub(n.stat.mtime);
            if n.stat.cversion > 0
                || (max_never_used_interval_ms != 0 && elapsed > max_never_used_interval_ms)
            {
                out.push(path.to_string());
            }
        }
        for path in self.ttls.iter() {
            let Some(n) = self.get(path) else {
                continue;
            };
            if !n.children.is_empty() || n.stat.kind != EphemeralType::Ttl {
                continue;
            }
            let ttl = EphemeralType::ttl_of(n.owner());
            if ttl != 0 && now_ms.wrapping_sub(n.stat.mtime) > ttl {
                out.push(path.to_string());
            }
        }
        out
    }

    // ----- mutations: what `DataTree` does when a txn is applied -----

    /// `createNode`. A `parent_cversion` of −1 means "parent's + 1". The parent's
    /// cversion and pzxid change only when `parent_cversion` is greater than its
    /// cversion. On NODEEXISTS the existing node takes the txn's ACL (ZooKeeper's
    /// fuzzy-snapshot replay rule) and nothing else changes.
    #[allow(clippy::too_many_arguments)]
    pub fn create_node(
        &mut self,
        path: &str,
        data: Option<NodeData>,
        acl: &[Acl],
        ephemeral_owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time_ms: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<Stat, ErrorCode> {
        let (parent_name, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        // One walk to the parent answers both checks.
        let exists = match self.get(parent_name) {
            Some(parent) if !name.is_empty() => parent.child(name).is_some(),
            _ => return Err(ErrorCode::NoNode),
        };
        if exists {
            if let Some(existing) = node_mut(&mut self.v.root, path) {
                let shared = Arc::make_mut(&mut self.acls).intern(acl, existing.owner());
                let old = std::mem::replace(&mut existing.acl, shared);
                Arc::make_mut(&mut self.acls).release(&old);
            }
            return Err(ErrorCode::NodeExists);
        }
        let kind = self.ephemeral_type(ephemeral_owner);
        let acl = Arc::make_mut(&mut self.acls).intern(acl, ephemeral_owner);
        let data_bytes = data_len(data.as_ref());
        let node = Node::new(
            data,
            acl,
            NodeStat::new(StatPersisted::created(zxid, time_ms, ephemeral_owner), kind),
        );
        let stat = node.stat();
        let on = self.v.digest_enabled;
        let child_share = share(on, path, &node);
        let Some(parent) = node_mut(&mut self.v.root, parent_name) else {
            return Err(ErrorCode::NoNode);
        };
        let before = share(on, parent_name, parent);
        raise_cversion(&mut parent.stat, parent_cversion, zxid);
        let after = share(on, parent_name, parent);
        parent.children.insert(name, triomphe::Arc::new(node));
        self.v.digest = self
            .v
            .digest
            .wrapping_sub(before)
            .wrapping_add(after)
            .wrapping_add(child_share);
        self.v.nodes += 1;
        self.v.data_size += java_len(path) + data_bytes;
        self.index_kind(path, kind, ephemeral_owner);
        self.quota_on_create(path, parent_name, data_bytes);
        triggers.push(WatchTrigger::new(path, NODE_CREATED));
        triggers.push(WatchTrigger::new(
            parent_key(parent_name),
            NODE_CHILDREN_CHANGED,
        ));
        Ok(stat)
    }

    /// `deleteNode`. The parent loses the child and its pzxid rises to `zxid` (never
    /// falls) even when the node itself is missing; the parent's cversion does not
    /// change (it counts creates).
    pub fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<(), ErrorCode> {
        let (parent_name, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        if !self.contains(parent_name) {
            return Err(ErrorCode::NoNode);
        }
        let on = self.v.digest_enabled;
        let Some(parent) = node_mut(&mut self.v.root, parent_name) else {
            return Err(ErrorCode::NoNode);
        };
        let before = share(on, parent_name, parent);
        let removed = parent.children.remove(name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let after = share(on, parent_name, parent);
        self.v.digest = self.v.digest.wrapping_sub(before).wrapping_add(after);
        let Some(node) = removed else {
            return Err(ErrorCode::NoNode);
        };
        let data_bytes = data_len(node.data.as_ref());
        self.forget(path, &node);
        // Prep refuses to delete a node with children, so this walk finds nothing in
        // a server's own txns; it keeps the counts exact whatever a log holds.
        let mut stack: Vec<(String, &Node)> = node
            .child_nodes()
            .map(|(n, c)| (child_path(path, n), c))
            .collect();
        while let Some((p, n)) = stack.pop() {
            self.forget(&p, n);
            stack.extend(n.child_nodes().map(|(name, c)| (child_path(&p, name), c)));
        }
        self.quota_on_delete(path, parent_name, data_bytes);
        triggers.push(WatchTrigger::new(path, NODE_DELETED));
        triggers.push(WatchTrigger::new(
            parent_key(parent_name),
            NODE_CHILDREN_CHANGED,
        ));
        Ok(())
    }

    /// `setData`: data, mtime, mzxid and version (taken from the txn) change.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<NodeData>,
        version: i32,
        zxid: i64,
        time_ms: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<Stat, ErrorCode> {
        if !self.contains(path) {
            return Err(ErrorCode::NoNode);
        }
        let on = self.v.digest_enabled;
        let node = node_mut(&mut self.v.root, path).ok_or(ErrorCode::NoNode)?;
        let before = share(on, path, node);
        let bytes_diff = data_len(data.as_ref()) - data_len(node.data.as_ref());
        self.v.data_size += bytes_diff;
        node.data = data;
        node.stat.mtime = time_ms;
        node.stat.mzxid = zxid;
        node.stat.version = version;
        let stat = node.stat();
        let after = share(on, path, node);
        self.v.digest = self.v.digest.wrapping_sub(before).wrapping_add(after);
        self.update_quota_stat_of(path, bytes_diff, 0);
        triggers.push(WatchTrigger::new(path, NODE_DATA_CHANGED));
        Ok(stat)
    }

    /// `setACL`: the ACL and aversion (taken from the txn) change; no watch fires.
    pub fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        if !self.contains(path) {
            return Err(ErrorCode::NoNode);
        }
        let on = self.v.digest_enabled;
        let node = node_mut(&mut self.v.root, path).ok_or(ErrorCode::NoNode)?;
        let before = share(on, path, node);
        let shared = Arc::make_mut(&mut self.acls).intern(acl, node.owner());
        node.stat.aversion = version;
        let old = std::mem::replace(&mut node.acl, shared);
        let stat = node.stat();
        let after = share(on, path, node);
        self.v.digest = self.v.digest.wrapping_sub(before).wrapping_add(after);
        Arc::make_mut(&mut self.acls).release(&old);
        Ok(stat)
    }

    /// `setCversionPzxid`: used when replaying a create that finds its node present.
    pub fn set_cversion_pzxid(
        &mut self,
        path: &str,
        new_cversion: i32,
        zxid: i64,
    ) -> Result<(), ErrorCode> {
        let path = path.strip_suffix('/').unwrap_or(path);
        if !self.contains(path) {
            return Err(ErrorCode::NoNode);
        }
        let on = self.v.digest_enabled;
        let node = node_mut(&mut self.v.root, path).ok_or(ErrorCode::NoNode)?;
        let before = share(on, path, node);
        raise_cversion(&mut node.stat, new_cversion, zxid);
        let after = share(on, path, node);
        self.v.digest = self.v.digest.wrapping_sub(before).wrapping_add(after);
        Ok(())
    }

    /// `killSession`: deletes the txn's paths (missing ones ignored), then whatever
    /// ephemerals of the session the txn did not list. Returns the deleted paths.
    pub fn kill_session(
        &mut self,
        session: i64,
        zxid: i64,
        paths_in_txn: &[String],
        triggers: &mut Vec<WatchTrigger>,
    ) -> Vec<String> {
        let mut local = self.v.ephemerals.take_session(session);
        let mut deleted = Vec::new();
        for p in paths_in_txn {
            if self.delete_node(p, zxid, triggers).is_ok() {
                deleted.push(p.clone());
            }
            local.remove(p.as_str());
        }
        for p in local {
            if self.delete_node(&p, zxid, triggers).is_ok() {
                deleted.push(p.to_string());
            }
        }
        deleted
    }

    // ----- restore: what a snapshot reader needs (`storage::snapshot`) -----

    /// A tree with no nodes at all, not even `/`, to be filled by
    /// [`DataTree::insert_restored`] from a snapshot, parents before children.
    /// Not a valid tree until `/` has been inserted.
    pub fn empty_for_restore(extended_types_enabled: bool) -> DataTree {
        DataTree {
            v: TreeVersion {
                root: None,
                nodes: 0,
                ephemerals: Ephemerals::default(),
                extended_types_enabled,
                data_size: 0,
                digest: 0,
                digest_enabled: true,
                digest_log: Arc::default(),
            },
            acls: Arc::default(),
            containers: Arc::default(),
            ttls: Arc::default(),
            quotas: Arc::default(),
            fuzzy_through: 0,
        }
    }

    /// Inserts a node exactly as a snapshot stored it: data, ACL and stored stat
    /// (including cversion as stored and `ephemeral_owner`), with no watch triggers and
    /// no change to the parent's stat. `/` must come first and every other node after
    /// its parent. Fails with NODEEXISTS for a duplicate, NONODE for a missing parent,
    /// BADARGUMENTS for a path that is not absolute.
    pub fn insert_restored(
        &mut self,
        path: &str,
        data: Option<NodeData>,
        acl: &[Acl],
        stat: StatPersisted,
    ) -> Result<(), ErrorCode> {
        let kind = self.ephemeral_type(stat.ephemeral_owner);
        let data_bytes = data_len(data.as_ref());
        // "" is the root too (`parent_key`).
        if parent_key(path) == "/" {
            if self.v.root.is_some() {
                return Err(ErrorCode::NodeExists);
            }
            if path != "/" {
                return Err(ErrorCode::BadArguments);
            }
            let acl = Arc::make_mut(&mut self.acls).intern(acl, stat.ephemeral_owner);
            let root = Node::new(data, acl, NodeStat::new(stat, kind));
            let root_share = share(self.v.digest_enabled, path, &root);
            self.v.digest = self.v.digest.wrapping_add(root_share);
            self.v.root = Some(triomphe::Arc::new(root));
        } else {
            let (parent_name, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
            match self.get(parent_name) {
                Some(parent) if parent.child(name).is_some() => return Err(ErrorCode::NodeExists),
                Some(_) if !name.is_empty() => {}
                _ => return Err(ErrorCode::NoNode),
            }
            let acl = Arc::make_mut(&mut self.acls).intern(acl, stat.ephemeral_owner);
            let node = Node::new(data, acl, NodeStat::new(stat, kind));
            let node_share = share(self.v.digest_enabled, path, &node);
            let parent = node_mut(&mut self.v.root, parent_name).ok_or(ErrorCode::NoNode)?;
            self.v.digest = self.v.digest.wrapping_add(node_share);
            parent.children.insert(name, triomphe::Arc::new(node));
        }
        self.v.nodes += 1;
        self.v.data_size += java_len(path) + data_bytes;
        self.index_kind(path, kind, stat.ephemeral_owner);
        // So that txns replayed on top of a snapshot find their quota; the stats they
        // add to are recomputed once the tree is complete (`recompute_quotas`).
        if let Some((parent, LIMIT_NODE)) = split_parent(path) {
            if let Some(quoted) = parent.strip_prefix(QUOTA_PATH) {
                Arc::make_mut(&mut self.quotas).add(quoted);
            }
        }
        Ok(())
    }

    /// Records a new node in the index of its kind (containers, TTL nodes, a session's
    /// ephemerals), which reaping and session close walk instead of the whole tree.
    fn index_kind(&mut self, path: &str, kind: EphemeralType, ephemeral_owner: i64) {
        match kind {
            EphemeralType::Container => {
                Arc::make_mut(&mut self.containers).insert(path.into());
            }
            EphemeralType::Ttl => {
                Arc::make_mut(&mut self.ttls).insert(path.into());
            }
            EphemeralType::Normal => self.v.ephemerals.insert(ephemeral_owner, path),
            EphemeralType::Void => {}
        }
    }

    /// Takes a node that left the tree out of the counts, the ACL table and the
    /// index of its kind.
    fn forget(&mut self, path: &str, node: &Node) {
        let gone = share(self.v.digest_enabled, path, node);
        self.v.digest = self.v.digest.wrapping_sub(gone);
        Arc::make_mut(&mut self.acls).release(&node.acl);
        self.v.nodes = self.v.nodes.saturating_sub(1);
        self.v.data_size -= java_len(path) + data_len(node.data.as_ref());
        match node.stat.kind {
            EphemeralType::Container => {
                Arc::make_mut(&mut self.containers).remove(path);
            }
            EphemeralType::Ttl => {
                Arc::make_mut(&mut self.ttls).remove(path);
            }
            EphemeralType::Normal => {
                self.v.ephemerals.remove(node.owner(), path);
            }
            EphemeralType::Void => {}
        }
    }

    // ----- quotas: ZooKeeper's stats-node upkeep -----

    /// `setupQuota` for a finished tree (after a snapshot and the log after it are
    /// applied, or an import): the index is rebuilt from the limits nodes under
    /// `/zookeeper/quota` that have no children, and each such quota's stats node is
    /// set to a fresh count of its subtree. Replaying txns over a fuzzy snapshot can
    /// count a write twice (or miss it), so the stats a replay leaves are not trusted.
    /// Cost: the `/zookeeper/quota` subtree plus each quota's subtree.
    pub fn recompute_quotas(&mut self) {
        self.quotas = Arc::default();
        let suffix = format!("/{LIMIT_NODE}");
        let mut roots = Vec::new();
        let mut stack = vec![QUOTA_PATH.to_owned()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.get(&p) else {
                continue;
            };
            if n.num_children() > 0 {
                stack.extend(n.children().map(|name| child_path(&p, name)));
                continue;
            }
            // `traverseNode`: the quota root is what lies between `/zookeeper/quota`
            // and the first "/zookeeper_limits" (the path ends with one).
            if p.ends_with(&suffix) {
                let root = p.find(&suffix).and_then(|i| p.get(QUOTA_PATH.len()..i));
                if let Some(root) = root {
                    roots.push(root.to_owned());
                }
            }
        }
        for root in roots {
            self.update_quota_for_path(&root);
            Arc::make_mut(&mut self.quotas).add(&root);
        }
    }

    /// The quota side of `createNode`: a limits node makes its parent's path (under
    /// `/zookeeper/quota`) a quota root; a stats node gets that path's current count
    /// (this is how `setquota` on an existing subtree starts from the right numbers);
    /// then the new node counts for its own quota, if it has one.
    fn quota_on_create(&mut self, path: &str, parent: &str, data_bytes: i64) {
        // ZooKeeper tests `parentName.startsWith(quotaZookeeper)`: a plain string
        // prefix, so "/zookeeper/quotax/y" names the root "x/y", which its trie (and
        // the index) reads as "/x/y".
        if let Some(quoted) = parent.strip_prefix(QUOTA_PATH) {
            match split_parent(path).map(|(_, name)| name) {
                Some(LIMIT_NODE) => Arc::make_mut(&mut self.quotas).add(quoted),
                Some(STAT_NODE) => self.update_quota_for_path(quoted),
                _ => {}
            }
        }
        self.update_quota_stat_of(path, data_bytes, 1);
    }

    /// The quota side of `deleteNode`: deleting a limits node ends its quota; the
    /// node stops counting for its own quota.
    ///
    /// ZooKeeper tests `parentName.startsWith("/zookeeper")` and then cuts 16 chars
    /// off, so a limits node deleted elsewhere under `/zookeeper` would end an
    /// unrelated quota (and a parent shorter than 16 chars throws). Only parents
    /// under `/zookeeper/quota` are taken here, which is the same for every path
    /// `setquota` and `delquota` use.
    fn quota_on_delete(&mut self, path: &str, parent: &str, data_bytes: i64) {
        if let Some(quoted) = parent.strip_prefix(QUOTA_PATH) {
            if split_parent(path).map(|(_, name)| name) == Some(LIMIT_NODE) {
                Arc::make_mut(&mut self.quotas).remove(quoted);
            }
        }
        self.update_quota_stat_of(path, -data_bytes, -1);
    }

    /// `getMaxPrefixWithQuota`: the quota root `path` counts for, if any (never
    /// `/zookeeper`). With no quota anywhere this is one comparison.
    pub fn quota_root(&self, path: &str) -> Option<String> {
        self.quotas.max_prefix(path)
    }

    /// If `path` is under a quota root, adds the diffs to that root's stats node.
    /// With no quota anywhere this is one comparison, whatever the tree's size.
    fn update_quota_stat_of(&mut self, path: &str, bytes_diff: i64, count_diff: i64) {
        if self.quotas.is_empty() {
            return;
        }
        if let Some(root) = self.quotas.max_prefix(path) {
            self.update_quota_stat(&root, bytes_diff, count_diff);
        }
    }

    /// `updateQuotaStat`: the stats node of the quota on `root` gets count and bytes
    /// moved by the diffs; its other keys stay. Only the data changes: no version,
    /// mzxid or mtime moves and no watch fires, as in ZooKeeper. A missing stats node
    /// is skipped (ZooKeeper logs it); so is one whose data ZooKeeper could not parse
    /// (its constructor would throw in the middle of applying the txn).
    fn update_quota_stat(&mut self, root: &str, bytes_diff: i64, count_diff: i64) {
        let path = stat_path(root);
        let Some(node) = self.get(&path) else {
            return;
        };
        let Some(Ok(mut stats)) = node.data.as_deref().map(StatsTrack::parse_bytes) else {
            return;
        };
        stats.set(COUNT, stats.count().wrapping_add(count_diff));
        stats.set(BYTES, stats.bytes().wrapping_add(bytes_diff));
        self.replace_quota_data(&path, stats);
    }

    /// `updateQuotaForPath`: the stats node of the quota on `root` is set to
    /// `count=N,bytes=M` for the subtree at `root` (the root itself counts, bytes are
    /// data lengths), whatever it held. A root that is no node counts 0.
    fn update_quota_for_path(&mut self, root: &str) {
        let path = stat_path(root);
        if !self.contains(&path) {
            return;
        }
        let (mut count, mut bytes) = (0i64, 0i64);
        for n in subtree(self.get(root)) {
            count += 1;
            bytes += data_len(n.data.as_ref());
        }
        let mut stats = StatsTrack::default();
        stats.set(COUNT, count);
        stats.set(BYTES, bytes);
        self.replace_quota_data(&path, stats);
    }

    /// Sets a quota node's data to `stats`, keeping its Stat as it is.
    fn replace_quota_data(&mut self, path: &str, stats: StatsTrack) {
        if !self.contains(path) {
            return;
        }
        let on = self.v.digest_enabled;
        let Some(node) = node_mut(&mut self.v.root, path) else {
            return;
        };
        // Quota nodes are out of the digest (`digest.rs`); kept general all the same.
        let before = share(on, path, node);
        let data = NodeData::new(stats.to_string().as_bytes());
        // Kept exact here; ZooKeeper leaves its approximate size alone for this
        // change and recounts it on the next start.
        self.v.data_size += data_len(Some(&data)) - data_len(node.data.as_ref());
        node.data = Some(data);
        let after = share(on, path, node);
        self.v.digest = self.v.digest.wrapping_sub(before).wrapping_add(after);
    }

    /// Checks every structural invariant (O(n)); for tests.
    #[cfg(test)]
    pub fn validate(&self) {
        let Some(root) = self.v.root.as_deref() else {
            assert_eq!(self.v.nodes, 0);
            return;
        };
        let (mut size, mut count) = (0, 0);
        let mut kinds = (BTreeSet::new(), BTreeSet::new(), HashMap::new());
        let mut stack = vec![("/".to_owned(), root)];
        while let Some((path, node)) = stack.pop() {
            count += 1;
            size += java_len(&path) + data_len(node.data.as_ref());
            let names: Vec<&str> = node.children().collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{path}: order");
            assert!(names.iter().all(|n| !n.is_empty() && !n.contains('/')));
            let owner = node.owner();
            match node.stat.kind {
                EphemeralType::Normal => {
                    let set: &mut BTreeSet<String> = kinds.2.entry(owner).or_default();
                    set.insert(path.clone());
                }
                EphemeralType::Container => {
                    kinds.0.insert(path.clone());
                }
                EphemeralType::Ttl => {
                    kinds.1.insert(path.clone());
                }
                EphemeralType::Void => assert_eq!(owner, 0),
            }
            stack.extend(node.child_nodes().map(|(n, c)| (child_path(&path, n), c)));
        }
        assert_eq!(count, self.v.nodes);
        assert_eq!(size, self.v.data_size);
        let digest = if self.v.digest_enabled {
            self.full_digest()
        } else {
            0
        };
        assert_eq!(digest, self.v.digest, "digest kept by the changes");
        let strs = |s: &BTreeSet<SharedPath>| -> BTreeSet<String> {
            s.iter().map(|p| p.to_string()).collect()
        };
        assert_eq!(strs(&self.containers), kinds.0);
        assert_eq!(strs(&self.ttls), kinds.1);
        let ephemerals: HashMap<i64, BTreeSet<String>> = self
            .v
            .ephemerals
            .iter()
            .map(|(k, v)| (k, strs(v)))
            .collect();
        assert_eq!(ephemerals, kinds.2);
    }
}

/// Whether two subtrees hold the same content (stats, data, ACL values, children by
/// name), with a heap stack rather than recursion (trees can be deep). Shared records
/// compare equal without a look inside.
fn same_nodes(a: Option<&NodeRef>, b: Option<&NodeRef>) -> bool {
    let (a, b) = match (a, b) {
        (None, None) => return true,
        (Some(a), Some(b)) => (a, b),
        _ => return false,
    };
    let mut stack: Vec<(&NodeRef, &NodeRef)> = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        if triomphe::Arc::ptr_eq(a, b) {
            continue;
        }
        if a.stat != b.stat
            || a.data != b.data
            || *a.acl != *b.acl
            || a.children.len() != b.children.len()
        {
            return false;
        }
        for ((na, ca), (nb, cb)) in a.children.iter().zip(b.children.iter()) {
            if na != nb {
                return false;
            }
            stack.push((ca, cb));
        }
    }
    true
}

/// ZooKeeper's parent update on create (and `setCversionPzxid` on replay): the txn's
/// cversion (−1 means "one more") is taken only if it is newer, and pzxid with it.
fn raise_cversion(stat: &mut NodeStat, cversion: i32, zxid: i64) {
    let v = if cversion == -1 {
        stat.cversion.wrapping_add(1)
    } else {
        cversion
    };
    if v > stat.cversion {
        stat.cversion = v;
        stat.pzxid = zxid;
    }
}
