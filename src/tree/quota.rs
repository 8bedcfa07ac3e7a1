//! Quotas as ZooKeeper 3.8 keeps them: the node names under `/zookeeper/quota`
//! (`Quotas`), the text format of their data (`StatsTrack`), and the index of quota
//! roots a write looks itself up in (`DataTree.pTrie`, a `PathTrie`).
//!
//! A quota on `/app` is two ordinary znodes, `/zookeeper/quota/app/zookeeper_limits`
//! (the limits, written by clients such as zkCli's `setquota`) and
//! `/zookeeper/quota/app/zookeeper_stats` (the usage, which the tree keeps current).
//! This module owns the names, the format and the index; the upkeep itself (which
//! write changes which stats node) is in `DataTree`, and the enforcement of the limits
//! (`enforceQuota`) in `txn::prep`. Pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::fmt;

use super::data_tree::{QUOTA_PATH, ZOOKEEPER_PATH};

/// `Quotas.limitNode`: the child of a quota's node that holds its limits.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// `Quotas.statNode`: the child of a quota's node that holds its usage.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `Quotas.limitPath`: the limits node of a quota on `path` (a plain concatenation,
/// as ZooKeeper's: `app` gives `/zookeeper/quotaapp/zookeeper_limits`).
pub fn limit_path(path: &str) -> String {
    format!("{QUOTA_PATH}{path}/{LIMIT_NODE}")
}

/// `Quotas.statPath`: the stats node of a quota on `path`.
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA_PATH}{path}/{STAT_NODE}")
}

/// `StatsTrack`: `key=value` pairs of longs, the data of both quota nodes. `count`
/// and `bytes` are the soft limits (limits node) or the usage (stats node);
/// `countHardLimit` and `byteHardLimit` are hard limits. A missing key reads as −1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    /// Every pair as parsed or set; a key given twice keeps its last value (Java's
    /// `HashMap.put`). Sorted, which is the order `toString` prints extra keys in.
    stats: BTreeMap<String, i64>,
}

/// Why data is not a `StatsTrack` (ZooKeeper would throw from the constructor).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsParseError {
    #[error("quota pair {0:?} has no '=value'")]
    NoValue(String),
    #[error("quota value {0:?} is not a long")]
    NotALong(String),
}

pub const COUNT: &str = "count";
pub const BYTES: &str = "bytes";
pub const COUNT_HARD_LIMIT: &str = "countHardLimit";
pub const BYTE_HARD_LIMIT: &str = "byteHardLimit";

impl StatsTrack {
    /// `new StatsTrack(String)`: pairs separated by runs of ',' or ';', each split at
    /// '=' with Java's `String.split` rules (trailing empty parts dropped, so
    /// `bytes=5=` is `bytes` = 5); an empty value reads as −1.
    pub fn parse(s: &str) -> Result<StatsTrack, StatsParseError> {
        let mut stats = BTreeMap::new();
        if s.is_empty() {
            return Ok(StatsTrack { stats });
        }
        for pair in java_split_pairs(s) {
            let kv = java_split_eq(pair);
            let (Some(key), Some(value)) = (kv.first(), kv.get(1)) else {
                return Err(StatsParseError::NoValue(pair.to_owned()));
            };
            let v = if value.is_empty() {
                -1
            } else {
                value
                    .parse::<i64>()
                    .map_err(|_| StatsParseError::NotALong((*value).to_owned()))?
            };
            stats.insert((*key).to_owned(), v);
        }
        Ok(StatsTrack { stats })
    }

    /// `new StatsTrack(byte[])`: the bytes as UTF-8 (invalid sequences replaced, as
    /// Java's decoder does).
    pub fn parse_bytes(b: &[u8]) -> Result<StatsTrack, StatsParseError> {
        StatsTrack::parse(&String::from_utf8_lossy(b))
    }

    /// The value of `key`, −1 when absent.
    pub fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.stats.insert(key.to_owned(), value);
    }

    pub fn count(&self) -> i64 {
        self.get(COUNT)
    }

    pub fn bytes(&self) -> i64 {
        self.get(BYTES)
    }

    pub fn count_hard_limit(&self) -> i64 {
        self.get(COUNT_HARD_LIMIT)
    }

    pub fn byte_hard_limit(&self) -> i64 {
        self.get(BYTE_HARD_LIMIT)
    }
}

/// `StatsTrack.toString`: `count=N,bytes=M` first (3.4's parser reads only those),
/// then, if there are other keys, a '=' (so that old parser ignores the rest) and
/// `;key=value` for each in sorted order: `count=4,bytes=5=;countHardLimit=10`.
impl fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{COUNT}={},{BYTES}={}", self.count(), self.bytes())?;
        let mut others = self
            .stats
            .iter()
            .filter(|(k, _)| k.as_str() != COUNT && k.as_str() != BYTES)
            .peekable();
        if others.peek().is_some() {
            f.write_str("=")?;
            for (k, v) in others {
                write!(f, ";{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// Java's `s.split("[,;]+")`: a leading separator gives a leading empty part, runs of
/// separators count as one, trailing empty parts are dropped.
fn java_split_pairs(s: &str) -> Vec<&str> {
    let mut parts = s.split([',', ';']);
    let mut out: Vec<&str> = parts.next().into_iter().collect();
    out.extend(parts.filter(|p| !p.is_empty()));
    while out.last().is_some_and(|p| p.is_empty()) {
        out.pop();
    }
    out
}

/// Java's `s.split("=")`: every '=' splits (no merging), trailing empty parts dropped;
/// a string without '=' is one part, even when empty.
fn java_split_eq(s: &str) -> Vec<&str> {
    if !s.contains('=') {
        return vec![s];
    }
    let mut out: Vec<&str> = s.split('=').collect();
    while out.last().is_some_and(|p| p.is_empty()) {
        out.pop();
    }
    out
}

/// The quota roots, as `PathTrie` holds them: by path component, where a component
/// that is empty or blank (after Java's `trim`, which drops chars up to ' ') is
/// skipped. `max_prefix` walks a path's components, so its cost grows with the path's
/// depth, not with the number of quotas; with no quota at all it is one comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct QuotaIndex {
    root: TrieNode,
    /// Nodes with `quota` set.
    len: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TrieNode {
    /// A quota is set on the path that leads here (`TrieNode.property`).
    quota: bool,
    /// Ordered, so the index is deterministic and needs no hasher seed.
    children: BTreeMap<Box<str>, TrieNode>,
}

/// `PathTrie.split`: the components of `path` that are not blank.
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter(|c| !c.trim_matches(|ch: char| ch <= ' ').is_empty())
}

impl QuotaIndex {
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `PathTrie.addPath`. A path without components (ZooKeeper throws for "" and
    /// never reports the trie's root) adds nothing.
    pub(super) fn add(&mut self, path: &str) {
        let mut node = &mut self.root;
        let mut depth = 0;
        for c in components(path) {
            node = node.children.entry(c.into()).or_default();
            depth += 1;
        }
        if depth > 0 && !node.quota {
            node.quota = true;
            self.len += 1;
        }
    }

    /// `PathTrie.deletePath`: the quota on `path` goes; nodes left with neither a
    /// quota nor children are dropped (ZooKeeper keeps its inner ones, which changes
    /// no answer).
    pub(super) fn remove(&mut self, path: &str) {
        let comps: Vec<&str> = components(path).collect();
        if !comps.is_empty() && remove_at(&mut self.root, &comps) {
            self.len -= 1;
        }
    }

    /// `DataTree.getMaxPrefixWithQuota`: the deepest quota root that is `path` or an
    /// ancestor of it, as the trie spells it (blank components dropped), except
    /// `/zookeeper`, which ZooKeeper never counts for.
    pub(super) fn max_prefix(&self, path: &str) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut node = &self.root;
        let mut deepest = 0;
        let mut depth = 0;
        for c in components(path) {
            let Some(next) = node.children.get(c) else {
                break;
            };
            node = next;
            depth += 1;
            if node.quota {
                deepest = depth;
            }
        }
        if deepest == 0 {
            return None;
        }
        let mut prefix = String::new();
        for c in components(path).take(deepest) {
            prefix.push('/');
            prefix.push_str(c);
        }
        (prefix != ZOOKEEPER_PATH).then_some(prefix)
    }
}

/// Clears the quota at `comps` below `node`; true if one was set. Prunes nodes that
/// end up with no quota and no children.
fn remove_at(node: &mut TrieNode, comps: &[&str]) -> bool {
    let Some((first, rest)) = comps.split_first() else {
        return false;
    };
    let Some(child) = node.children.get_mut(*first) else {
        return false;
    };
    let removed = if rest.is_empty() {
        std::mem::replace(&mut child.quota, false)
    } else {
        remove_at(child, rest)
    };
    if !child.quota && child.children.is_empty() {
        node.children.remove(*first);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(s: &str) -> StatsTrack {
        StatsTrack::parse(s).expect(s)
    }

    #[test]
    fn stats_track_prints_as_zookeeper() {
        // SetQuotaCommand: all four set to −1, then -n 10.
        let mut q = StatsTrack::default();
        for k in [COUNT, BYTES, COUNT_HARD_LIMIT, BYTE_HARD_LIMIT] {
            q.set(k, -1);
        }
        q.set(COUNT, 10);
        assert_eq!(
            q.to_string(),
            "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        // Only count and bytes: no trailing '='.
        let mut s = StatsTrack::default();
        s.set(COUNT, 4);
        s.set(BYTES, 28);
        assert_eq!(s.to_string(), "count=4,bytes=28");
        // Absent keys print as −1.
        assert_eq!(StatsTrack::default().to_string(), "count=-1,bytes=-1");
    }

    #[test]
    fn stats_track_parses_as_zookeeper() {
        let t = st("count=10,bytes=-1=;byteHardLimit=5;countHardLimit=-1");
        assert_eq!(
            (
                t.count(),
                t.bytes(),
                t.byte_hard_limit(),
                t.count_hard_limit()
            ),
            (10, -1, 5, -1)
        );
        // It prints back the same.
        assert_eq!(
            t.to_string(),
            "count=10,bytes=-1=;byteHardLimit=5;countHardLimit=-1"
        );
        // Runs of separators are one; trailing ones vanish; "," alone is no pair.
        assert_eq!(st("count=1,,;bytes=2;;").bytes(), 2);
        assert_eq!(st(","), StatsTrack::default());
        assert_eq!(st(""), StatsTrack::default());
        // An empty value is −1 ("a==5" splits into a, "", 5), the last of a key wins.
        assert_eq!(st("count==5").count(), -1);
        assert_eq!(st("count=1,count=2").count(), 2);
        // Extra keys keep their values and come out sorted.
        assert_eq!(
            st("z=1,bytes=3,a=2").to_string(),
            "count=-1,bytes=3=;a=2;z=1"
        );
        // What ZooKeeper's constructor throws on.
        assert_eq!(
            StatsTrack::parse("count"),
            Err(StatsParseError::NoValue("count".into()))
        );
        assert_eq!(
            StatsTrack::parse(",count=1"),
            Err(StatsParseError::NoValue("".into()))
        );
        assert_eq!(
            StatsTrack::parse("count=x"),
            Err(StatsParseError::NotALong("x".into()))
        );
    }

    #[test]
    fn the_index_finds_the_deepest_quota_root() {
        let mut q = QuotaIndex::default();
        assert_eq!(q.max_prefix("/app/a"), None);
        q.add("/app");
        q.add("/app/b/c");
        assert_eq!(q.max_prefix("/app").as_deref(), Some("/app"));
        assert_eq!(q.max_prefix("/app/a/x").as_deref(), Some("/app"));
        assert_eq!(q.max_prefix("/app/b").as_deref(), Some("/app"));
        assert_eq!(q.max_prefix("/app/b/c/d").as_deref(), Some("/app/b/c"));
        // By component, not by string prefix.
        assert_eq!(q.max_prefix("/apple"), None);
        assert_eq!(q.max_prefix("/"), None);
        q.remove("/app");
        assert_eq!(q.max_prefix("/app/a"), None);
        assert_eq!(q.max_prefix("/app/b/c").as_deref(), Some("/app/b/c"));
        q.remove("/app/b/c");
        assert!(q.is_empty());
        assert_eq!(q, QuotaIndex::default());
    }

    #[test]
    fn the_index_skips_blank_components_and_never_counts_zookeeper() {
        let mut q = QuotaIndex::default();
        q.add("");
        q.add("/");
        assert!(q.is_empty());
        q.add("/zookeeper");
        assert_eq!(q.max_prefix("/zookeeper/x"), None);
        q.add("/a/ /b");
        assert_eq!(q.max_prefix("/a/b/c").as_deref(), Some("/a/b"));
        // Adding twice counts once; removing what is not there changes nothing.
        q.add("/a/b");
        q.remove("/nope");
        q.remove("/a");
        q.remove("/a/b");
        q.remove("/zookeeper");
        assert!(q.is_empty());
    }
}
