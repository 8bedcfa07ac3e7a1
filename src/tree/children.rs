//! A node's children: the set of its child nodes, in name order.
//!
//! Each entry is the child's path, the very allocation its node holds (`SharedPath`,
//! 8 bytes), so a name is not stored a second time; the name is the part after the
//! last '/'. The set is ordered and searched by whole paths: siblings share their
//! parent's prefix, so path order is name order, and a comparison is a plain `memcmp`.
//! Owns only the set; the tree keeps it in step with its nodes.
//!
//! The set is sorted chunks of up to [`CHUNK`] paths, found through a `BTreeMap`, not
//! a `BTreeSet` of paths: std's B-tree leaves hold 11 entries and a split leaves 6, so
//! names that arrive in order (sequential nodes, bulk loads) fill them about half, and
//! a child would cost about twice its 8-byte entry. Chunks grow a few slots at a time
//! and a name past the end of a full chunk starts the next one, so a child costs ~9
//! bytes whatever the order names arrive in, and a small set is one short `Vec`.
//! Operations stay O(log n): a B-tree search for the chunk, then at most [`CHUNK`]
//! entries moved within it.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included, Unbounded};

/// Most paths in one chunk (1 KiB of entries): an insert or remove moves at most that
/// much, and the map over chunks has 1/100 as many entries as the set.
const CHUNK: usize = 128;

/// A node's path, shared by the node, its parent's `Children` and the tree's
/// ephemeral, container and TTL sets: one pointer to one allocation (count, length,
/// bytes), where an `Arc<str>` is a pointer and a length in every holder.
pub(super) type SharedPath = arcstr::ArcStr;

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
/// Boxed, and `None` when empty: most nodes are leaves, and this way a leaf spends 8
/// bytes on its children.
#[derive(Debug, Clone, Default)]
pub(super) struct Children(Option<Box<Chunks>>);

/// Up to [`CHUNK`] sorted paths.
type Chunk = Vec<SharedPath>;

/// A non-empty set: sorted chunks of at most [`CHUNK`] paths. The first chunk is
/// `head` (all of a small set, which then needs no map); the others are in `rest`,
/// each under its first path (the same allocation), so finding a chunk is a B-tree search.
///
/// Invariants: no chunk is empty or longer than [`CHUNK`]; `rest` is `None` or not
/// empty, and keys each chunk by its first path; `head`, then `rest`'s chunks in key
/// order, each in order, are strictly increasing; `len` is their total length.
#[derive(Debug, Clone)]
struct Chunks {
    head: Chunk,
    /// Boxed so that a small set's `Chunks` is 40 bytes (a 48-byte allocation).
    #[allow(clippy::box_collection)]
    rest: Option<Box<BTreeMap<SharedPath, Chunk>>>,
    len: usize,
}

/// Most slots a chunk grows by at once. Chunks grow by a quarter of their length up
/// to this, not by doubling, so spare capacity stays under a quarter of a small chunk
/// and under `GROW` slots a large one (copies of ≤ 1 KiB, rarely, pay for it).
const GROW: usize = 16;

/// Inserts into a chunk, growing it by at most [`GROW`] slots.
fn insert_at(chunk: &mut Chunk, pos: usize, path: SharedPath) {
    if chunk.len() == chunk.capacity() {
        let room = CHUNK.saturating_sub(chunk.len()).max(1);
        chunk.reserve_exact((chunk.len() / 4).clamp(1, GROW).min(room));
    }
    chunk.insert(pos, path);
}

/// Where `path` is in `chunk` (`Ok`) or would go (`Err`).
///
/// Scans every 16th entry, then the 16 before the first that is not less. Not a binary
/// search: there each step waits for the string of the step before (a cache miss
/// each in a large set), while the loads of a scan overlap, which measured 1.5x
/// faster on 1M children in random order.
fn search(chunk: &[SharedPath], path: &str) -> Result<usize, usize> {
    const S: usize = 16;
    let mut lo = 0;
    let mut i = S - 1;
    while let Some(p) = chunk.get(i) {
        if **p >= *path {
            break;
        }
        lo = i + 1;
        i += S;
    }
    while let Some(p) = chunk.get(lo) {
        if **p >= *path {
            return if **p == *path { Ok(lo) } else { Err(lo) };
        }
        lo += 1;
    }
    Err(lo)
}

impl Chunks {
    fn new(path: SharedPath) -> Chunks {
        Chunks {
            head: vec![path],
            rest: None,
            len: 1,
        }
    }

    /// The chunk whose range holds `path` (the last one starting at or before it, or
    /// `head`), with its key (`None` for `head`).
    fn chunk_for(&self, path: &str) -> (Option<&str>, &Chunk) {
        let at = (Unbounded, Included(path));
        let found = self
            .rest
            .as_deref()
            .and_then(|m| m.range::<str, _>(at).next_back());
        match found {
            Some((key, chunk)) => (Some(&**key), chunk),
            None => (None, &self.head),
        }
    }

    /// [`Chunks::chunk_for`], to change the chunk (the key is a copy, so the map can
    /// be changed afterwards).
    fn chunk_for_mut(&mut self, path: &str) -> (Option<SharedPath>, &mut Chunk) {
        let at = (Unbounded, Included(path));
        let found = self
            .rest
            .as_deref_mut()
            .and_then(|m| m.range_mut::<str, _>(at).next_back());
        match found {
            Some((key, chunk)) => (Some(SharedPath::clone(key)), chunk),
            None => (None, &mut self.head),
        }
    }

    /// The chunk after the one at `key` (`None`: `head`), with its key.
    fn next_chunk(&self, key: Option<&str>) -> Option<(&SharedPath, &Chunk)> {
        let rest = self.rest.as_deref()?;
        match key {
            None => rest.iter().next(),
            Some(k) => rest.range::<str, _>((Excluded(k), Unbounded)).next(),
        }
    }

    /// Files `chunk` in `rest` under its first path.
    fn file(&mut self, chunk: Chunk) {
        if let Some(first) = chunk.first() {
            let rest = self.rest.get_or_insert_with(Box::default);
            rest.insert(SharedPath::clone(first), chunk);
        }
    }

    /// Takes the chunk at `key` out of `rest`.
    fn unfile(&mut self, key: &str) -> Option<Chunk> {
        let rest = self.rest.as_deref_mut()?;
        let chunk = rest.remove(key);
        if rest.is_empty() {
            self.rest = None;
        }
        chunk
    }

    fn insert(&mut self, path: SharedPath) -> bool {
        let (key, chunk) = self.chunk_for_mut(&path);
        let Err(pos) = search(chunk, &path) else {
            return false;
        };
        if chunk.len() < CHUNK {
            // Never at 0 of a chunk in `rest` (its key is ≤ `path`): no key changes.
            insert_at(chunk, pos, path);
        } else if pos == CHUNK {
            // Past the end of a full chunk: the next chunk's front if it has room,
            // else a chunk of its own, so an ascending run fills chunks completely.
            let next = self.next_chunk(key.as_deref());
            let roomy = next
                .filter(|(_, c)| c.len() < CHUNK)
                .map(|(k, _)| SharedPath::clone(k));
            let mut chunk = roomy.and_then(|k| self.unfile(&k)).unwrap_or_default();
            insert_at(&mut chunk, 0, path);
            self.file(chunk);
        } else if pos == 0 && key.is_none() {
            // Before everything (only `head` can have names after `path`): a chunk of
            // its own, so a descending run fills chunks completely too.
            let old = std::mem::replace(&mut self.head, vec![path]);
            self.file(old);
        } else {
            let mut right = chunk.split_off(CHUNK / 2);
            chunk.shrink_to_fit();
            if pos <= CHUNK / 2 {
                insert_at(chunk, pos, path);
            } else {
                insert_at(&mut right, pos - CHUNK / 2, path);
            }
            self.file(right);
        }
        self.len += 1;
        true
    }

    fn remove(&mut self, path: &str) -> bool {
        let (key, chunk) = self.chunk_for_mut(path);
        let Ok(pos) = search(chunk, path) else {
            return false;
        };
        chunk.remove(pos);
        if chunk.capacity() - chunk.len() > 2 * GROW {
            // Deletes give memory back, as a B-tree's merges would.
            chunk.shrink_to(chunk.len() + GROW);
        }
        let emptied = chunk.is_empty();
        self.len -= 1;
        match key {
            // An empty head takes the next chunk's place (or the set is empty).
            None if emptied => {
                let next = self.rest.as_deref().and_then(|m| m.keys().next().cloned());
                if let Some(next) = next.and_then(|k| self.unfile(&k)) {
                    self.head = next;
                }
            }
            // A chunk in `rest` is refiled under its new first path, or dropped.
            Some(k) if emptied || pos == 0 => {
                if let Some(chunk) = self.unfile(&k) {
                    self.file(chunk);
                }
            }
            _ => {}
        }
        true
    }

    #[cfg(test)]
    fn contains(&self, path: &str) -> bool {
        search(self.chunk_for(path).1, path).is_ok()
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let rest = self.rest.iter().flat_map(|m| m.values());
        self.head.iter().chain(rest.flatten()).map(|p| &**p)
    }

    /// The first path after `after`.
    fn after(&self, after: &str) -> Option<&str> {
        let (key, chunk) = self.chunk_for(after);
        let pos = match search(chunk, after) {
            Ok(p) => p + 1,
            Err(p) => p,
        };
        let next = || self.next_chunk(key).and_then(|(_, c)| c.first());
        chunk.get(pos).or_else(next).map(|p| &**p)
    }
}

impl Children {
    /// Adds the child at `path`; false if it is there already (the entry stays).
    pub(super) fn insert(&mut self, path: SharedPath) -> bool {
        match &mut self.0 {
            Some(set) => set.insert(path),
            None => {
                self.0 = Some(Box::new(Chunks::new(path)));
                true
            }
        }
    }

    /// Removes the child at `path`; false if there is none.
    pub(super) fn remove(&mut self, path: &str) -> bool {
        let Some(set) = self.0.as_deref_mut() else {
            return false;
        };
        let removed = set.remove(path);
        if set.len == 0 {
            self.0 = None;
        }
        removed
    }

    #[cfg(test)]
    pub(super) fn contains(&self, path: &str) -> bool {
        self.0.as_deref().is_some_and(|s| s.contains(path))
    }

    pub(super) fn len(&self) -> usize {
        self.0.as_deref().map_or(0, |s| s.len)
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
        self.0.as_deref().into_iter().flat_map(Chunks::iter)
    }

    /// The first child path after `after` (or the first of all).
    pub(super) fn path_after(&self, after: Option<&str>) -> Option<&str> {
        let set = self.0.as_deref()?;
        match after {
            None => set.iter().next(),
            Some(a) => set.after(a),
        }
    }
}

impl PartialEq for Children {
    /// The same children, however they are chunked.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.paths().eq(other.paths())
    }
}

impl Eq for Children {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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

    /// Checks every invariant of `c` and that it holds exactly `model`.
    fn check(c: &Children, model: &BTreeSet<String>) {
        assert_eq!(c.len(), model.len());
        assert!(c.paths().eq(model.iter().map(String::as_str)));
        let Some(set) = c.0.as_deref() else {
            assert!(model.is_empty());
            return;
        };
        assert!(!set.head.is_empty() && set.head.capacity() <= CHUNK);
        assert!(set.rest.as_ref().is_none_or(|m| !m.is_empty()));
        for (key, chunk) in set.rest.iter().flat_map(|m| m.iter()) {
            assert!(!chunk.is_empty() && chunk.capacity() <= CHUNK);
            assert!(SharedPath::ptr_eq(key, &chunk[0]));
        }
        // path_after from every member and from a key between members.
        let all: Vec<&str> = model.iter().map(String::as_str).collect();
        for (i, p) in all.iter().enumerate() {
            assert_eq!(c.path_after(Some(p)), all.get(i + 1).copied());
            let between = format!("{p}!");
            assert_eq!(c.path_after(Some(&between)), all.get(i + 1).copied());
        }
        assert_eq!(c.path_after(Some("")), all.first().copied());
    }

    /// Runs of ascending, descending and scattered inserts and removes against a
    /// `BTreeSet` model; chunks split, fill, empty and shrink along the way.
    #[test]
    fn matches_a_btreeset_through_splits_and_removals() {
        let mut c = Children::default();
        let mut model = BTreeSet::new();
        let mut x: u64 = 7;
        fn step(c: &mut Children, model: &mut BTreeSet<String>, k: u64, add: bool) {
            let p = format!("/p/n{k:05}");
            if add {
                assert_eq!(c.insert(p.as_str().into()), model.insert(p));
            } else {
                assert_eq!(c.remove(&p), model.remove(&p));
            }
        }
        for k in 0..700 {
            step(&mut c, &mut model, 2 * k, true);
        }
        check(&c, &model);
        for k in (0..700).rev() {
            step(&mut c, &mut model, 2 * k + 1, true);
        }
        check(&c, &model);
        for k in (2000..2400).rev() {
            step(&mut c, &mut model, k, true);
        }
        check(&c, &model);
        for round in 0..6 {
            for _ in 0..1500 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let k = (x >> 33) % 3000;
                // Rounds alternate between mostly adding and mostly removing.
                let add = !(x >> 20).is_multiple_of(4);
                step(&mut c, &mut model, k, add == (round % 2 == 0));
            }
            check(&c, &model);
        }
        for k in 0..3000 {
            step(&mut c, &mut model, k, false);
        }
        check(&c, &model);
        assert!(c.0.is_none());
    }

    /// Names that arrive in order fill chunks completely.
    #[test]
    fn ascending_runs_fill_chunks() {
        let mut c = Children::default();
        for k in 0..10 * CHUNK {
            c.insert(format!("/p/n{k:05}").into());
        }
        let set =
            c.0.as_deref()
                .map_or(0, |s| 1 + s.rest.as_ref().map_or(0, |m| m.len()));
        assert_eq!(set, 10);
    }
}
