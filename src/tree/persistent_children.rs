//! A znode's children as a persistent map `name → V`: sorted by name, cloned in O(1),
//! and changed by copy-on-write, so a clone is a version that later changes to either
//! map never reach (step 1 of `docs/versioned-tree.md`; `V` will be `Arc<NodeRec>`).
//!
//! Owns only the map; nothing in the tree uses it yet. Names are ordered as Rust
//! `str`s, byte by byte, as `children.rs` orders its paths and ZooKeeper lists
//! children.
//!
//! Shape, chosen for the common case of no or few children:
//! - empty: `None`, one null word and no allocation;
//! - up to [`SMALL_MAX`] entries: one shared, exactly sized sorted slice, copied
//!   whole on a change while shared (at most 32 × 32 bytes) and resized on every
//!   insert and remove (small maps change rarely relative to reads);
//! - above it: an `imbl` persistent B-tree, whose changes copy one root-to-leaf path.
//!   A large map shrinks back to a slice only at [`SMALL_MIN`] entries, so inserts and
//!   removes alternating at the bound do not convert every time.
//!
//! Names of up to 23 bytes are stored inline in the entry (`SmolStr`), longer ones in a
//! shared heap string, so copying an entry never copies name bytes.

use std::ops::Bound::{Excluded, Unbounded};

use imbl::shared_ptr::ArcTK;
use imbl::GenericOrdMap;
use smol_str::SmolStr;
use triomphe::Arc;

/// Most entries in the slice form: a copy-on-write of a full slice is ~1 KiB (32 ×
/// 32-byte entries), about two of imbl's 16-entry leaves, and a search is 5 steps.
const SMALL_MAX: usize = 32;

/// A large map at this many entries becomes a slice again: half of [`SMALL_MAX`], so
/// at least 16 removes separate two conversions.
const SMALL_MIN: usize = SMALL_MAX / 2;

/// A child's name: inline up to 23 bytes, else a reference-counted heap string, so a
/// clone never allocates (copy-on-write clones every entry of a slice or a B-tree node).
type Name = SmolStr;

/// The B-tree of a large map; `ArcTK` is triomphe's `Arc` (atomic count, no weak
/// count), so the map is `Send + Sync` when `V` is.
type Large<V> = GenericOrdMap<Name, V, ArcTK>;

/// Both non-empty forms, behind one `Arc` so the map is one word and a clone is one
/// count increment.
///
/// Invariants: `Small` is sorted by name with no duplicates, has 1 to [`SMALL_MAX`]
/// entries, and is exactly sized; `Large` has more than [`SMALL_MIN`] entries.
#[derive(Clone)]
enum Repr<V> {
    Small(Box<[(Name, V)]>),
    Large(Large<V>),
}

/// A persistent sorted map from child name to `V`. See the module docs.
pub(crate) struct PersistentChildren<V>(Option<Arc<Repr<V>>>);

impl<V> Clone for PersistentChildren<V> {
    /// O(1): shares everything; the next change to either map copies what it touches.
    fn clone(&self) -> Self {
        PersistentChildren(self.0.clone())
    }
}

impl<V> Default for PersistentChildren<V> {
    fn default() -> Self {
        PersistentChildren(None)
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for PersistentChildren<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Where `name` is in the sorted slice (`Ok`) or would go (`Err`).
fn search<V>(entries: &[(Name, V)], name: &str) -> Result<usize, usize> {
    entries.binary_search_by(|(n, _)| n.as_str().cmp(name))
}

/// Takes the entries out of a slice this map alone holds (moved), or copies them
/// from a shared one, into a `Vec` with room for `extra` more.
fn take_entries<V: Clone>(repr: &mut Arc<Repr<V>>, extra: usize) -> Vec<(Name, V)> {
    match Arc::get_mut(repr) {
        Some(Repr::Small(entries)) => {
            let mut v = Vec::with_capacity(entries.len() + extra);
            v.extend(std::mem::take(entries));
            v
        }
        _ => match &**repr {
            Repr::Small(entries) => {
                let mut v = Vec::with_capacity(entries.len() + extra);
                v.extend(entries.iter().cloned());
                v
            }
            Repr::Large(map) => map.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
        },
    }
}

/// Puts `new` in `repr`: in place if this map alone holds it (no allocation), else in
/// a new `Arc`, leaving the shared one to its other holders.
fn replace<V>(repr: &mut Arc<Repr<V>>, new: Repr<V>) {
    match Arc::get_mut(repr) {
        Some(r) => *r = new,
        None => *repr = Arc::new(new),
    }
}

impl<V> PersistentChildren<V> {
    pub(crate) fn new() -> Self {
        PersistentChildren(None)
    }

    pub(crate) fn len(&self) -> usize {
        match self.0.as_deref() {
            None => 0,
            Some(Repr::Small(entries)) => entries.len(),
            Some(Repr::Large(map)) => map.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value of child `name`. Borrows: no reference count changes.
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        match self.0.as_deref()? {
            Repr::Small(entries) => search(entries, name).ok().map(|i| &entries[i].1),
            Repr::Large(map) => map.get(name),
        }
    }
}

impl<V: Clone> PersistentChildren<V> {
    /// The value of child `name`, to change. Copies whatever this map shares with a
    /// clone on the way (the slice, or the B-tree path), and nothing on a miss.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        // Looked up first, shared, so that a miss copies nothing.
        let at = match self.0.as_deref()? {
            Repr::Small(entries) => search(entries, name).ok()?,
            Repr::Large(map) => {
                map.get(name)?;
                0
            }
        };
        match Arc::make_mut(self.0.as_mut()?) {
            Repr::Small(entries) => entries.get_mut(at).map(|(_, v)| v),
            Repr::Large(map) => map.get_mut(name),
        }
    }

    /// Sets child `name` to `value`; the value it replaces, if any.
    pub(crate) fn insert(&mut self, name: &str, value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(name) {
            return Some(std::mem::replace(slot, value));
        }
        let Some(repr) = self.0.as_mut() else {
            let one: Box<[(Name, V)]> = Box::new([(Name::new(name), value)]);
            self.0 = Some(Arc::new(Repr::Small(one)));
            return None;
        };
        match &**repr {
            Repr::Small(entries) if entries.len() < SMALL_MAX => {
                let at = search(entries, name).err().unwrap_or(entries.len());
                let mut v = take_entries(repr, 1);
                v.insert(at, (Name::new(name), value));
                replace(repr, Repr::Small(v.into_boxed_slice()));
            }
            Repr::Small(_) => {
                let mut map: Large<V> = take_entries(repr, 0).into_iter().collect();
                map.insert(Name::new(name), value);
                replace(repr, Repr::Large(map));
            }
            Repr::Large(_) => {
                if let Repr::Large(map) = Arc::make_mut(repr) {
                    map.insert(Name::new(name), value);
                }
            }
        }
        None
    }

    /// Removes child `name`; its value, if it was there.
    pub(crate) fn remove(&mut self, name: &str) -> Option<V> {
        let repr = self.0.as_mut()?;
        match &**repr {
            Repr::Small(entries) => {
                let at = search(entries, name).ok()?;
                let mut v = take_entries(repr, 0);
                let (_, old) = v.remove(at);
                // The last child gone: back to the null word.
                if v.is_empty() {
                    self.0 = None;
                } else {
                    replace(repr, Repr::Small(v.into_boxed_slice()));
                }
                Some(old)
            }
            Repr::Large(map) => {
                map.get(name)?;
                let Repr::Large(map) = Arc::make_mut(repr) else {
                    return None;
                };
                let old = map.remove(name);
                if map.len() <= SMALL_MIN {
                    let v = take_entries(repr, 0);
                    replace(repr, Repr::Small(v.into_boxed_slice()));
                }
                old
            }
        }
    }
}

impl<V: Clone> PersistentChildren<V> {
    /// The values, moved out, if this map alone holds its storage; none otherwise
    /// (the storage stays with its other holders). Lets a deep tree be dropped with a
    /// heap stack instead of recursion.
    pub(crate) fn into_unique_values(mut self) -> Vec<V> {
        let Some(repr) = self.0.take() else {
            return Vec::new();
        };
        match Arc::try_unwrap(repr) {
            Ok(Repr::Small(entries)) => entries.into_vec().into_iter().map(|(_, v)| v).collect(),
            Ok(Repr::Large(map)) => map.into_iter().map(|(_, v)| v).collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl<V> PersistentChildren<V> {
    /// Every entry, in name order.
    pub(crate) fn iter(&self) -> Iter<'_, V> {
        self.range_after(None)
    }

    /// The entries after `after` in name order (all of them for `None`), whether or
    /// not `after` is a child: a walk resumes where it stopped, as
    /// `Node::child_after` does.
    pub(crate) fn range_after(&self, after: Option<&str>) -> Iter<'_, V> {
        let inner = match self.0.as_deref() {
            None => IterRepr::Small([].iter()),
            Some(Repr::Small(entries)) => {
                let from = match after.map(|a| search(entries, a)) {
                    None => 0,
                    Some(Ok(i)) => i + 1,
                    Some(Err(i)) => i,
                };
                IterRepr::Small(entries[from..].iter())
            }
            Some(Repr::Large(map)) => match after {
                None => IterRepr::Large(map.range::<_, str>(..)),
                Some(a) => IterRepr::Large(map.range::<_, str>((Excluded(a), Unbounded))),
            },
        };
        Iter(inner)
    }

    /// An estimate of the heap bytes this map alone holds, for the memory report:
    /// nothing if its storage is shared with a clone (the clone's owner counts it,
    /// or nobody does until one side changes). Values' own heap is not counted (the
    /// tree counts its records). For the large form the estimate assumes B-tree
    /// leaves half full ([`LEAF_FILL`]), and counts the whole tree, as imbl does not
    /// tell which of its nodes another version shares.
    // For memory reports; only tests measure it so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn heap_bytes(&self) -> usize {
        let Some(repr) = self.0.as_ref() else {
            return 0;
        };
        if !repr.is_unique() {
            return 0;
        }
        // The Arc's count and the enum.
        let header = std::mem::size_of::<usize>() + std::mem::size_of::<Repr<V>>();
        let entry = std::mem::size_of::<(Name, V)>();
        let names: usize = self.iter().map(|(n, _)| name_heap_bytes(n)).sum();
        let entries = match &**repr {
            Repr::Small(e) => e.len() * entry,
            // Leaves hold 16 entries and two cursors, plus the count; branches add
            // about one key and one pointer per leaf.
            Repr::Large(map) => {
                let leaves = map.len().div_ceil(LEAF_FILL);
                leaves * (16 * entry + 3 * 8) + leaves * (std::mem::size_of::<Name>() + 8)
            }
        };
        header + entries + names
    }
}

/// Entries per imbl leaf in the estimate: half its 16 slots. imbl splits a full leaf
/// at the median; counting allocations of 1M names measured ~76 B per entry
/// inserted in order and ~71 B in scattered order (leaves ~half full, plus
/// branches), which this reproduces within a few percent.
#[cfg_attr(not(test), allow(dead_code))]
const LEAF_FILL: usize = 8;

/// Heap bytes of a name stored out of line: the shared string's counts and bytes.
#[cfg_attr(not(test), allow(dead_code))]
fn name_heap_bytes(name: &str) -> usize {
    if name.len() > SmolStr::INLINE_CAP {
        2 * std::mem::size_of::<usize>() + name.len()
    } else {
        0
    }
}

/// Iterator over `(name, value)` in name order; borrows the map.
pub(crate) struct Iter<'a, V>(IterRepr<'a, V>);

enum IterRepr<'a, V> {
    Small(std::slice::Iter<'a, (Name, V)>),
    Large(imbl::ordmap::RangedIter<'a, Name, V, ArcTK>),
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a str, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next().map(|(n, v)| (n.as_str(), v)),
            IterRepr::Large(it) => it.next().map(|(n, v)| (n.as_str(), v)),
        }
    }
}

#[cfg(test)]
mod tests;
