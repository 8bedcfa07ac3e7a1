//! A node's children: the set of its child nodes, in name order.
//!
//! Each entry is the child's path, the very allocation its node holds (`Arc<str>`), so
//! a name is not stored a second time; the name is the part after the last '/'. The
//! set is ordered and searched by whole paths: siblings share their parent's prefix,
//! so path order is name order, and a comparison is a plain `memcmp`. Owns only the
//! set; the tree keeps it in step with its nodes.

use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

/// The name of the node at `path`: what follows its last '/' ('/' is ASCII, so a
/// byte search cannot split a character).
pub(super) fn name_of(path: &str) -> &str {
    let start = path.bytes().rposition(|b| b == b'/').map_or(0, |i| i + 1);
    &path[start..]
}

/// The path of the child `name` of the node at `parent`.
pub(super) fn child_path(parent: &str, name: &str) -> String {
    let base = if parent == "/" { "" } else { parent };
    let mut p = String::with_capacity(base.len() + 1 + name.len());
    p.push_str(base);
    p.push('/');
    p.push_str(name);
    p
}

/// The children of one node. Invariant: every path is a child of that node, i.e. its
/// path and '/' and the child's name (paths are valid, so no empty names).
///
/// Boxed, and `None` when empty: most nodes are leaves, and this way a leaf spends
/// 8 bytes on it rather than the 24 of an empty `BTreeSet`.
#[allow(clippy::box_collection)] // the box is the point: 8 bytes in every node
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Children(Option<Box<BTreeSet<Arc<str>>>>);

impl Children {
    fn set(&self) -> impl Iterator<Item = &BTreeSet<Arc<str>>> {
        self.0.as_deref().into_iter()
    }

    /// Adds the child at `path`; false if it is there already (the entry stays).
    pub(super) fn insert(&mut self, path: Arc<str>) -> bool {
        self.0.get_or_insert_with(Box::default).insert(path)
    }

    /// Removes the child at `path`; false if there is none.
    pub(super) fn remove(&mut self, path: &str) -> bool {
        let Some(set) = self.0.as_deref_mut() else {
            return false;
        };
        let removed = set.remove(path);
        if set.is_empty() {
            self.0 = None;
        }
        removed
    }

    #[cfg(test)]
    pub(super) fn contains(&self, path: &str) -> bool {
        self.set().any(|s| s.contains(path))
    }

    pub(super) fn len(&self) -> usize {
        self.set().map(BTreeSet::len).sum()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Child names, sorted.
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.paths().map(name_of)
    }

    /// Child paths, in name order.
    pub(super) fn paths(&self) -> impl Iterator<Item = &str> {
        self.set().flatten().map(|p| &**p)
    }

    /// The first child path after `after` (or the first of all).
    pub(super) fn path_after(&self, after: Option<&str>) -> Option<&str> {
        let set = self.0.as_deref()?;
        match after {
            None => set.first(),
            Some(a) => set.range::<str, _>((Excluded(a), Unbounded)).next(),
        }
        .map(|p| &**p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_and_found_by_name() {
        let mut c = Children::default();
        for p in ["/a/m", "/a/b", "/a/z", "/a/bb"] {
            assert!(c.insert(p.into()));
        }
        assert!(!c.insert("/a/m".into()));
        assert_eq!(c.names().collect::<Vec<_>>(), ["b", "bb", "m", "z"]);
        assert_eq!(c.paths().next(), Some("/a/b"));
        assert_eq!(c.path_after(Some("/a/bc")), Some("/a/m"));
        assert_eq!(c.path_after(Some("/a/z")), None);
        assert!(c.contains("/a/bb") && !c.contains("bb"));
        assert!(c.remove("/a/bb") && !c.remove("/a/bb"));
        assert_eq!(c.len(), 3);
        for p in ["/a/b", "/a/m", "/a/z"] {
            assert!(c.remove(p));
        }
        assert!(c.is_empty() && c == Children::default());
        assert_eq!((c.path_after(None), c.len()), (None, 0));
        assert_eq!(child_path("/", "zookeeper"), "/zookeeper");
        assert_eq!(child_path("/a", "b"), "/a/b");
        assert_eq!((name_of("/a/b"), name_of("/")), ("b", ""));
    }
}
