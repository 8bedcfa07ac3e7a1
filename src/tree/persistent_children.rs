//! A znode's children as a persistent map `name → V`: sorted by name, cloned in O(1),
//! and changed by copy-on-write, so a clone is a version that later changes to either
//! map never reach (step 1 of `docs/versioned-tree.md`; `V` is a shared znode record).
//!
//! Owns only the map; `tree::node` keeps each znode's children in one. Names are
//! ordered as Rust `str`s, byte by byte, as ZooKeeper lists children.
//!
//! Shape, chosen for the common case of no or few children:
//! - empty: `None`, one null word and no allocation;
//! - up to [`SMALL_MAX`] entries: one shared, exactly sized sorted slice, copied
//!   whole on a change while shared (at most 32 × 24 bytes) and resized on every
//!   insert and remove (small maps change rarely relative to reads);
//! - above it: a persistent B+tree of our own (`Large`): entries in leaves of up to
//!   [`LEAF_MAX`], branches of up to [`BRANCH_MAX`] children, every node behind a
//!   `triomphe::Arc`. A change copies the root-to-leaf path only where a clone shares
//!   it, and works in place where this map alone holds a node. A large map shrinks
//!   back to a slice only at [`SMALL_MIN`] entries, so inserts and removes alternating
//!   at the bound do not convert every time.
//!
//! The B+tree keeps nodes full, since a directory may have millions of children:
//! - an insert past the end of the rightmost node of a level (an append: sequential
//!   znodes, the common way a big directory grows) splits unevenly, leaving the left
//!   node full and starting a new one, so appends build ~100% full nodes; any other
//!   insert into a full node splits it in half;
//! - a node's `Vec` grows and shrinks in steps of [`STEP`] slots rather than being
//!   allocated at full width, so half-split nodes cost what they hold, not their
//!   capacity;
//! - removes keep every node at least half full, by merging with or borrowing from a
//!   sibling, except the rightmost node of each level, which appends fill and which
//!   may hold as little as one entry (merged into its left sibling when they fit).
//!
//! Names of up to 15 bytes are stored inline in the 16-byte entry name (`EcoString`),
//! longer ones in a shared heap string, so copying an entry never copies name bytes.

use ecow::EcoString;
use triomphe::Arc;

/// Most entries in the slice form: a copy-on-write of a full slice is 768 bytes (32 ×
/// 24-byte entries), half a B+tree leaf, and a search is 5 steps.
const SMALL_MAX: usize = 32;

/// A large map at this many entries becomes a slice again: half of [`SMALL_MAX`], so
/// at least 16 removes separate two conversions.
const SMALL_MIN: usize = SMALL_MAX / 2;

/// Most entries in a B+tree leaf. Measured at 1M entries against 32 and 128 (bytes per
/// entry appended / random / in descending runs: 34 / 42 / 50 at 32, 33 / 37 / 40 at
/// 64, 33 / 34 / 35 at 128). A copy-on-write copies, and counts a reference of, every
/// entry of the leaf, and each doubling cost ~20% more per shared insert: 64 is where
/// the memory stops improving much.
const LEAF_MAX: usize = 64;

/// Most children of a branch (`(Name, Node)` = 32 bytes each). Branches are few (one
/// per 1,000–2,000 entries), so their width barely shows in memory, but a copy-on-write
/// copies one per level: 32 measured ~20% cheaper per shared insert than 64, with 1M
/// entries still four levels deep.
const BRANCH_MAX: usize = 32;

/// Slots a node's `Vec` grows or shrinks by: a node holding `n` items has room for at
/// most about `n + 2 × STEP`, and a run of inserts reallocates once per `STEP`.
const STEP: usize = 8;

// `room` relies on it: no node's capacity is rounded past its width.
const _: () = assert!(LEAF_MAX.is_multiple_of(STEP) && BRANCH_MAX.is_multiple_of(STEP));

/// A child's name: 16 bytes, inline up to 15 bytes (`n` + 10 digits, `lock-` + a
/// sequence number), else a reference-counted heap string, so a clone never allocates
/// (copy-on-write clones every entry of a slice or a node). `SmolStr`'s 24 bytes
/// inline up to 23 bytes, but cost 8 more in every entry.
type Name = EcoString;

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

/// The B+tree form. `len` is kept here so `len()` is O(1); nodes keep no counts, as
/// nothing needs ranks.
#[derive(Clone)]
struct Large<V> {
    len: usize,
    root: Node<V>,
}

/// A node, shared between versions by reference count. Every leaf is at the same
/// depth, so the two children of any branch are of the same kind.
enum Node<V> {
    Leaf(Arc<Items<V>>),
    Branch(Arc<Items<Node<V>>>),
}

impl<V> Clone for Node<V> {
    fn clone(&self) -> Self {
        match self {
            Node::Leaf(l) => Node::Leaf(l.clone()),
            Node::Branch(b) => Node::Branch(b.clone()),
        }
    }
}

/// A node's contents, sorted by name: a leaf's entries `(name, value)`, or a branch's
/// children `(separator, child)`. In a branch, every name in child `i` is at least
/// separator `i` and below separator `i + 1`. Separator 0 is never compared; it
/// repeats the one the branch's parent holds for it (unused at the root), so a branch
/// split passes its right half's first separator up as it is.
struct Items<T> {
    items: Vec<(Name, T)>,
}

impl<T: Clone> Clone for Items<T> {
    /// A copy-on-write copy, with room for the insert that usually follows.
    fn clone(&self) -> Self {
        let mut items = Vec::with_capacity(room(self.items.len() + 1));
        items.extend(self.items.iter().cloned());
        Items { items }
    }
}

/// The capacity for `n` items: rounded up to a whole [`STEP`] (never above the widest
/// node, as [`LEAF_MAX`] and [`BRANCH_MAX`] are multiples of it).
fn room(n: usize) -> usize {
    n.next_multiple_of(STEP).min(LEAF_MAX.max(BRANCH_MAX))
}

/// Makes room for `n` items, in whole steps: `Vec`'s own growth doubles, which would
/// leave a node up to half empty.
fn reserve<T>(items: &mut Vec<T>, n: usize) {
    if items.capacity() < n {
        items.reserve_exact(room(n) - items.len());
    }
}

/// Gives back capacity after items left: only past two steps of slack, so a remove
/// and an insert alternating at a step boundary do not reallocate every time.
fn trim<T>(items: &mut Vec<(Name, T)>) {
    if items.capacity() > room(items.len() + 1) + STEP {
        items.shrink_to(room(items.len() + 1));
    }
}

/// Where `name` is in the sorted slice (`Ok`) or would go (`Err`).
fn search<T>(entries: &[(Name, T)], name: &str) -> Result<usize, usize> {
    entries.binary_search_by(|(n, _)| n.as_str().cmp(name))
}

/// The child of a branch whose range holds `name`: the last whose separator is at most
/// `name` (separator 0 not counted).
fn child_index<T>(children: &[(Name, T)], name: &str) -> usize {
    children[1..].partition_point(|(k, _)| k.as_str() <= name)
}

/// Inserts `item` at `at` in a node of at most `max` items. When full, splits and
/// returns the right part, whose first name is the separator for the parent: unevenly
/// (a new node of just `item`) when `item` goes past the end of the rightmost node of
/// its level, else in half.
fn insert_item<T>(
    items: &mut Vec<(Name, T)>,
    at: usize,
    item: (Name, T),
    max: usize,
    rightmost: bool,
) -> Option<Vec<(Name, T)>> {
    if items.len() < max {
        reserve(items, items.len() + 1);
        items.insert(at, item);
        return None;
    }
    if rightmost && at == items.len() {
        let mut right = Vec::with_capacity(STEP);
        right.push(item);
        return Some(right);
    }
    let mid = max / 2;
    let mut right = Vec::with_capacity(room(max - mid + 1));
    right.extend(items.drain(mid..));
    if at <= mid {
        items.insert(at, item);
    } else {
        right.insert(at - mid, item);
    }
    items.shrink_to(room(items.len() + 1));
    Some(right)
}

/// What an insert below a node did.
enum Put<V> {
    /// `name` was there: its old value.
    Replaced(V),
    /// A new entry, and the right node if the node split.
    Added(Option<Node<V>>),
}

impl<V: Clone> Node<V> {
    /// Sets `name` to `value` below this node, in one descent (a hit or a miss both
    /// change the leaf, so the path is copied either way).
    fn insert(&mut self, name: &str, value: V, rightmost: bool) -> Put<V> {
        match self {
            Node::Leaf(leaf) => {
                let leaf = Arc::make_mut(leaf);
                let at = match search(&leaf.items, name) {
                    Ok(at) => {
                        return Put::Replaced(std::mem::replace(&mut leaf.items[at].1, value))
                    }
                    Err(at) => at,
                };
                let item = (Name::from(name), value);
                let right = insert_item(&mut leaf.items, at, item, LEAF_MAX, rightmost);
                Put::Added(right.map(|items| Node::Leaf(Arc::new(Items { items }))))
            }
            Node::Branch(branch) => {
                let branch = Arc::make_mut(branch);
                let i = child_index(&branch.items, name);
                let last = i + 1 == branch.items.len();
                let split = match branch.items[i].1.insert(name, value, rightmost && last) {
                    Put::Added(Some(split)) => split,
                    done => return done,
                };
                let item = (split.first_name().clone(), split);
                let right = insert_item(&mut branch.items, i + 1, item, BRANCH_MAX, rightmost);
                Put::Added(right.map(|items| Node::Branch(Arc::new(Items { items }))))
            }
        }
    }

    /// Removes `name`, known to be present, below this node; its value. Leaves this
    /// node possibly underfull, for its parent to fix.
    fn remove(&mut self, name: &str, rightmost: bool) -> Option<V> {
        match self {
            Node::Leaf(leaf) => {
                let leaf = Arc::make_mut(leaf);
                let at = search(&leaf.items, name).ok()?;
                let (_, value) = leaf.items.remove(at);
                trim(&mut leaf.items);
                Some(value)
            }
            Node::Branch(branch) => {
                let branch = Arc::make_mut(branch);
                let i = child_index(&branch.items, name);
                let last = i + 1 == branch.items.len();
                let value = branch.items[i].1.remove(name, rightmost && last)?;
                rebalance(&mut branch.items, i, rightmost && last);
                Some(value)
            }
        }
    }

    /// The value of `name`, copying the path to it where it is shared.
    fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        let mut node = self;
        loop {
            match node {
                Node::Leaf(leaf) => {
                    let leaf = Arc::make_mut(leaf);
                    let at = search(&leaf.items, name).ok()?;
                    return Some(&mut leaf.items[at].1);
                }
                Node::Branch(branch) => {
                    let branch = Arc::make_mut(branch);
                    let i = child_index(&branch.items, name);
                    node = &mut branch.items[i].1;
                }
            }
        }
    }
}

impl<V> Node<V> {
    /// Items in this node (entries of a leaf, children of a branch).
    fn width(&self) -> usize {
        match self {
            Node::Leaf(l) => l.items.len(),
            Node::Branch(b) => b.items.len(),
        }
    }

    /// The name in this node's first item (for a branch, its separator 0, which a
    /// split has just set to the first name below it).
    fn first_name(&self) -> &Name {
        match self {
            Node::Leaf(l) => &l.items[0].0,
            Node::Branch(b) => &b.items[0].0,
        }
    }

    fn get(&self, name: &str) -> Option<&V> {
        let mut node = self;
        loop {
            match node {
                Node::Leaf(leaf) => {
                    return search(&leaf.items, name).ok().map(|i| &leaf.items[i].1)
                }
                Node::Branch(branch) => node = &branch.items[child_index(&branch.items, name)].1,
            }
        }
    }
}

/// After a remove below child `i` of a branch: if the child fell under half full,
/// merges it with a neighbour when both fit in one node, else evens the two out. The
/// rightmost node of a level (`spine`) may stay underfull, since appends refill it
/// and evening would split a full left neighbour; it is merged when it fits, and so
/// never left empty unless it is its branch's only child (then the branch is empty,
/// and its own parent merges it away).
fn rebalance<V: Clone>(children: &mut Vec<(Name, Node<V>)>, i: usize, spine: bool) {
    let (width, max) = match &children[i].1 {
        Node::Leaf(l) => (l.items.len(), LEAF_MAX),
        Node::Branch(b) => (b.items.len(), BRANCH_MAX),
    };
    if width >= max / 2 {
        return;
    }
    if children.len() == 1 {
        if width == 0 {
            children.clear();
        }
        return;
    }
    let left = if i > 0 { i - 1 } else { i };
    let total = children[left].1.width() + children[left + 1].1.width();
    if spine && total > max {
        return;
    }
    let (a, b) = children.split_at_mut(left + 1);
    let (separator, right) = &mut b[0];
    let merged = match (&mut a[left].1, right) {
        (Node::Leaf(l), Node::Leaf(r)) => pair(l, r, separator, max, false),
        (Node::Branch(l), Node::Branch(r)) => pair(l, r, separator, max, true),
        // Every leaf is at the same depth.
        _ => unreachable!("siblings of different kinds"),
    };
    if merged {
        children.remove(left + 1);
        trim(children);
    }
}

/// Merges `right` into `left` if their items fit in one node (true: the caller drops
/// `right`), else moves items so each holds half; `separator` is the parent's for
/// `right`, updated. In a branch, `right`'s separator 0 is set from the parent's
/// first (it should already equal it), as the child it heads may move into `left`,
/// where its separator is compared.
fn pair<T: Clone>(
    left: &mut Arc<Items<T>>,
    right: &mut Arc<Items<T>>,
    separator: &mut Name,
    max: usize,
    branch: bool,
) -> bool {
    let total = left.items.len() + right.items.len();
    if branch && !right.items.is_empty() {
        Arc::make_mut(right).items[0].0 = separator.clone();
    }
    let l = &mut Arc::make_mut(left).items;
    if total <= max {
        let moved = match Arc::get_mut(right) {
            Some(r) => std::mem::take(&mut r.items),
            None => right.items.clone(),
        };
        reserve(l, total);
        l.extend(moved);
        return true;
    }
    let r = &mut Arc::make_mut(right).items;
    let half = total / 2;
    if l.len() > half {
        let moved: Vec<_> = l.drain(half..).collect();
        reserve(r, total - half);
        r.splice(0..0, moved);
        trim(l);
    } else {
        reserve(l, half);
        l.extend(r.drain(..half - l.len()));
        trim(r);
    }
    *separator = r[0].0.clone();
    false
}

/// Packs sorted, distinct entries into full leaves and full branches above them (the
/// rightmost node of each level takes what is left); `None` for no entries.
fn build<V>(entries: impl Iterator<Item = (Name, V)>) -> Option<Large<V>> {
    let mut level: Vec<(Name, Node<V>)> = Vec::new();
    let mut len = 0;
    let mut leaf: Vec<(Name, V)> = Vec::new();
    let flush = |leaf: Vec<(Name, V)>, level: &mut Vec<_>| {
        let name = leaf[0].0.clone();
        level.push((name, Node::Leaf(Arc::new(Items { items: leaf }))));
    };
    for entry in entries {
        len += 1;
        if leaf.len() == LEAF_MAX {
            flush(std::mem::take(&mut leaf), &mut level);
        }
        let n = leaf.len() + 1;
        reserve(&mut leaf, n);
        leaf.push(entry);
    }
    if leaf.is_empty() {
        return None;
    }
    flush(leaf, &mut level);
    while level.len() > 1 {
        let mut up = Vec::with_capacity(level.len().div_ceil(BRANCH_MAX));
        let mut rest = level.into_iter().peekable();
        while rest.peek().is_some() {
            let mut items = Vec::with_capacity(room(BRANCH_MAX.min(rest.len())));
            items.extend(rest.by_ref().take(BRANCH_MAX));
            let name = items[0].0.clone();
            up.push((name, Node::Branch(Arc::new(Items { items }))));
        }
        level = up;
    }
    let (_, root) = level.pop()?;
    Some(Large { len, root })
}

impl<V: Clone> Large<V> {
    fn insert(&mut self, name: &str, value: V) -> Option<V> {
        let right = match self.root.insert(name, value, true) {
            Put::Replaced(old) => return Some(old),
            Put::Added(right) => right,
        };
        self.len += 1;
        if let Some(right) = right {
            let separator = right.first_name().clone();
            let items = vec![(Name::default(), self.root.clone()), (separator, right)];
            self.root = Node::Branch(Arc::new(Items { items }));
        }
        None
    }

    fn remove(&mut self, name: &str) -> Option<V> {
        let value = self.root.remove(name, true)?;
        self.len -= 1;
        // A root branch with one child gives way to it (after merges, or when an
        // uneven split left the rightmost branch with one child and that became the
        // root's only one).
        while let Node::Branch(b) = &self.root {
            if b.items.len() != 1 {
                break;
            }
            let child = b.items[0].1.clone();
            self.root = child;
        }
        Some(value)
    }
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
            Repr::Large(_) => PersistentChildren(Some(repr.clone()))
                .iter()
                .map(|(n, v)| (Name::from(n), v.clone()))
                .collect(),
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
            Some(Repr::Large(map)) => map.len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value of child `name`. Borrows: no reference count changes.
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        match self.0.as_deref()? {
            Repr::Small(entries) => search(entries, name).ok().map(|i| &entries[i].1),
            Repr::Large(map) => map.root.get(name),
        }
    }

    /// A map of `entries`, which a snapshot gives in name order: leaves and branches
    /// are packed full, as appends would leave them. Entries out of order or repeated
    /// are inserted one by one after the sorted prefix (a repeat replaces).
    // For snapshot loads; the restore still inserts one child at a time.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn from_sorted<'a>(entries: impl IntoIterator<Item = (&'a str, V)>) -> Self
    where
        V: Clone,
    {
        let mut entries = entries.into_iter().peekable();
        let mut last: Option<Name> = None;
        let sorted = std::iter::from_fn(|| {
            let (name, _) = entries.peek()?;
            if last.as_deref().is_some_and(|l| l >= *name) {
                return None;
            }
            let (name, value) = entries.next()?;
            let name = Name::from(name);
            last = Some(name.clone());
            Some((name, value))
        });
        let mut map = match build(sorted) {
            None => PersistentChildren(None),
            Some(large) if large.len > SMALL_MAX => {
                PersistentChildren(Some(Arc::new(Repr::Large(large))))
            }
            Some(large) => {
                let small = PersistentChildren(Some(Arc::new(Repr::Large(large))));
                let entries: Box<[_]> = small
                    .iter()
                    .map(|(n, v)| (Name::from(n), v.clone()))
                    .collect();
                PersistentChildren(Some(Arc::new(Repr::Small(entries))))
            }
        };
        for (name, value) in entries {
            map.insert(name, value);
        }
        map
    }
}

impl<V: Clone> PersistentChildren<V> {
    /// The value of child `name`, to change. Copies whatever this map shares with a
    /// clone on the way (the slice, or the B+tree path), and nothing on a miss.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        // Looked up first, shared, so that a miss copies nothing.
        let at = match self.0.as_deref()? {
            Repr::Small(entries) => search(entries, name).ok()?,
            Repr::Large(map) => {
                map.root.get(name)?;
                0
            }
        };
        match Arc::make_mut(self.0.as_mut()?) {
            Repr::Small(entries) => entries.get_mut(at).map(|(_, v)| v),
            Repr::Large(map) => map.root.get_mut(name),
        }
    }

    /// Sets child `name` to `value`; the value it replaces, if any.
    pub(crate) fn insert(&mut self, name: &str, value: V) -> Option<V> {
        // The B+tree finds and changes in one descent.
        if let Some(repr) = self.0.as_mut() {
            if let Repr::Large(_) = &**repr {
                if let Repr::Large(map) = Arc::make_mut(repr) {
                    return map.insert(name, value);
                }
            }
        }
        if let Some(slot) = self.get_mut(name) {
            return Some(std::mem::replace(slot, value));
        }
        let Some(repr) = self.0.as_mut() else {
            let one: Box<[(Name, V)]> = Box::new([(Name::from(name), value)]);
            self.0 = Some(Arc::new(Repr::Small(one)));
            return None;
        };
        match &**repr {
            Repr::Small(entries) if entries.len() < SMALL_MAX => {
                let at = search(entries, name).err().unwrap_or(entries.len());
                let mut v = take_entries(repr, 1);
                v.insert(at, (Name::from(name), value));
                replace(repr, Repr::Small(v.into_boxed_slice()));
            }
            Repr::Small(entries) => {
                let at = search(entries, name).err().unwrap_or(entries.len());
                let mut v = take_entries(repr, 1);
                v.insert(at, (Name::from(name), value));
                if let Some(large) = build(v.into_iter()) {
                    replace(repr, Repr::Large(large));
                }
            }
            // Changed above.
            Repr::Large(_) => {}
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
                // Looked up first, shared, so that a miss copies nothing.
                map.root.get(name)?;
                let Repr::Large(map) = Arc::make_mut(repr) else {
                    return None;
                };
                let old = map.remove(name);
                if map.len <= SMALL_MIN {
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
            Ok(Repr::Large(map)) => {
                // Only nodes this map alone holds give up their entries; shared ones
                // stay with their other holders.
                let mut values = Vec::new();
                let mut stack = vec![map.root];
                while let Some(node) = stack.pop() {
                    match node {
                        Node::Leaf(leaf) => {
                            if let Ok(leaf) = Arc::try_unwrap(leaf) {
                                values.extend(leaf.items.into_iter().map(|(_, v)| v));
                            }
                        }
                        Node::Branch(branch) => {
                            if let Ok(branch) = Arc::try_unwrap(branch) {
                                stack.extend(branch.items.into_iter().map(|(_, c)| c));
                            }
                        }
                    }
                }
                values
            }
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
    /// `Node::child_after` does. Seeks: O(log n) to the first entry, then O(1) each.
    pub(crate) fn range_after(&self, after: Option<&str>) -> Iter<'_, V> {
        let from = |entries: &[(Name, V)]| match after {
            None => 0,
            Some(a) => entries.partition_point(|(n, _)| n.as_str() <= a),
        };
        match self.0.as_deref() {
            None => Iter {
                up: Vec::new(),
                leaf: [].iter(),
            },
            Some(Repr::Small(entries)) => Iter {
                up: Vec::new(),
                leaf: entries[from(entries)..].iter(),
            },
            Some(Repr::Large(map)) => {
                let mut up = Vec::new();
                let mut node = &map.root;
                loop {
                    match node {
                        Node::Branch(b) => {
                            let i = after.map_or(0, |a| child_index(&b.items, a));
                            up.push(b.items[i + 1..].iter());
                            node = &b.items[i].1;
                        }
                        Node::Leaf(l) => {
                            let leaf = l.items[from(&l.items)..].iter();
                            return Iter { up, leaf };
                        }
                    }
                }
            }
        }
    }

    /// An estimate of the heap bytes this map alone holds, for the memory report:
    /// nothing for storage it shares with a clone (the clone's owner counts it, or
    /// nobody does until one side changes), so a B+tree counts only the nodes no other
    /// version holds. Values' own heap is not counted (the tree counts its records);
    /// allocator overhead is not either.
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
        header
            + match &**repr {
                Repr::Small(e) => {
                    let names: usize = e.iter().map(|(n, _)| name_heap_bytes(n)).sum();
                    std::mem::size_of_val::<[(Name, V)]>(e) + names
                }
                Repr::Large(map) => node_heap_bytes(&map.root),
            }
    }
}

/// Heap bytes of the nodes under `node` (itself included) that no other version holds.
fn node_heap_bytes<V>(node: &Node<V>) -> usize {
    fn items<T>(node: &Arc<Items<T>>) -> usize {
        std::mem::size_of::<usize>()
            + std::mem::size_of::<Items<T>>()
            + node.items.capacity() * std::mem::size_of::<(Name, T)>()
    }
    match node {
        Node::Leaf(l) if l.is_unique() => {
            // Separators share their heap strings with the leaves': counted here only.
            items(l)
                + l.items
                    .iter()
                    .map(|(n, _)| name_heap_bytes(n))
                    .sum::<usize>()
        }
        Node::Branch(b) if b.is_unique() => {
            items(b)
                + b.items
                    .iter()
                    .map(|(_, c)| node_heap_bytes(c))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

/// Heap bytes of a name stored out of line: the shared string's counts and bytes.
#[cfg_attr(not(test), allow(dead_code))]
fn name_heap_bytes(name: &str) -> usize {
    if name.len() > EcoString::INLINE_LIMIT {
        2 * std::mem::size_of::<usize>() + name.len()
    } else {
        0
    }
}

/// Iterator over `(name, value)` in name order; borrows the map. `up` holds, for each
/// branch above the current leaf, the children still to visit.
pub(crate) struct Iter<'a, V> {
    up: Vec<std::slice::Iter<'a, (Name, Node<V>)>>,
    leaf: std::slice::Iter<'a, (Name, V)>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a str, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((n, v)) = self.leaf.next() {
                return Some((n.as_str(), v));
            }
            // This leaf is done: the next child of the nearest branch with children
            // left; a branch's children are then visited from its first.
            let child = loop {
                let children = self.up.last_mut()?;
                match children.next() {
                    Some((_, child)) => break child,
                    None => {
                        self.up.pop();
                    }
                }
            };
            match child {
                Node::Branch(b) => self.up.push(b.items.iter()),
                Node::Leaf(l) => self.leaf = l.items.iter(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
