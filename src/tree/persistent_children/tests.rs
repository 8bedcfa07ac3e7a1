use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

type Model = BTreeMap<String, u64>;

/// Checks that `m` holds exactly `model`, and the shape invariants.
fn check(m: &PersistentChildren<u64>, model: &Model) {
    assert_eq!(m.len(), model.len());
    assert_eq!(m.is_empty(), model.is_empty());
    assert!(m.iter().eq(model.iter().map(|(k, v)| (k.as_str(), v))));
    check_shape(m);
}

/// The invariants of `Repr`: a sorted, bounded slice, or a B+tree whose leaves are all
/// at one depth, whose names are sorted and within their separators' bounds, whose
/// nodes are at least half full except on the right spine (and the root), hold at most
/// their width, have no more than two steps of spare capacity, and add up to `len`.
fn check_shape<V>(m: &PersistentChildren<V>) {
    match m.0.as_deref() {
        None => {}
        Some(Repr::Small(e)) => {
            assert!(!e.is_empty() && e.len() <= SMALL_MAX);
            assert!(e.windows(2).all(|w| w[0].0 < w[1].0));
        }
        Some(Repr::Large(map)) => {
            assert!(map.len > SMALL_MIN);
            let mut leaf_depth = None;
            let count = check_node(&map.root, 0, true, true, (None, None), &mut leaf_depth);
            assert_eq!(count, map.len);
        }
    }
}

/// Checks the subtree at `node` (names within `[lo, hi)`); its entry count.
fn check_node<V>(
    node: &Node<V>,
    depth: usize,
    root: bool,
    spine: bool,
    (lo, hi): (Option<&str>, Option<&str>),
    leaf_depth: &mut Option<usize>,
) -> usize {
    fn width(len: usize, capacity: usize, max: usize, root: bool, spine: bool) {
        assert!((1..=max).contains(&len), "{len} items (max {max})");
        if !root && !spine {
            assert!(len >= max / 2, "{len} items off the spine (max {max})");
        }
        assert!(
            capacity <= room(len + 1) + STEP,
            "capacity {capacity} for {len}"
        );
    }
    let within = |n: &str| lo.is_none_or(|lo| lo <= n) && hi.is_none_or(|hi| n < hi);
    match node {
        Node::Leaf(l) => {
            assert_eq!(
                *leaf_depth.get_or_insert(depth),
                depth,
                "leaves at one depth"
            );
            width(l.items.len(), l.items.capacity(), LEAF_MAX, root, spine);
            assert!(l.items.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(l.items.iter().all(|(n, _)| within(n)));
            l.items.len()
        }
        Node::Branch(b) => {
            let items = &b.items;
            width(items.len(), items.capacity(), BRANCH_MAX, root, spine);
            if root {
                assert!(items.len() >= 2, "a root branch of one child");
            }
            assert!(items[1..].windows(2).all(|w| w[0].0 < w[1].0));
            assert!(items[1..].iter().all(|(n, _)| within(n)));
            let mut count = 0;
            for (k, (_, child)) in items.iter().enumerate() {
                let last = k + 1 == items.len();
                let lo = if k == 0 {
                    lo
                } else {
                    Some(items[k].0.as_str())
                };
                let hi = if last {
                    hi
                } else {
                    Some(items[k + 1].0.as_str())
                };
                // A branch's separator 0 repeats the one its parent holds for it.
                if let (Node::Branch(c), true) = (child, k > 0) {
                    assert_eq!(c.items[0].0, items[k].0);
                }
                count += check_node(child, depth + 1, false, spine && last, (lo, hi), leaf_depth);
            }
            count
        }
    }
}

/// Asserts that every node off the right spine is full, to its capacity.
fn check_full<V>(node: &Node<V>, spine: bool) {
    match node {
        Node::Leaf(l) if !spine => {
            assert_eq!((l.items.len(), l.items.capacity()), (LEAF_MAX, LEAF_MAX))
        }
        Node::Leaf(_) => {}
        Node::Branch(b) => {
            if !spine {
                assert_eq!(b.items.len(), BRANCH_MAX);
            }
            for (k, (_, child)) in b.items.iter().enumerate() {
                check_full(child, spine && k + 1 == b.items.len());
            }
        }
    }
}

fn large<V>(m: &PersistentChildren<V>) -> &Large<V> {
    match m.0.as_deref() {
        Some(Repr::Large(map)) => map,
        _ => panic!("not in the large form"),
    }
}

/// `range_after` from `after` against the model.
fn check_range(m: &PersistentChildren<u64>, model: &Model, after: Option<&str>) {
    let want: Vec<(&str, &u64)> = match after {
        None => model.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Some(a) => model
            .range::<str, _>((Excluded(a), Unbounded))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
    };
    assert!(m.range_after(after).eq(want), "range_after({after:?})");
}

/// Key `k` of a key space: mostly short (inline) names, every 7th one long (on the
/// heap), in an order that is not numeric.
fn key(k: u64) -> String {
    if k.is_multiple_of(7) {
        format!("a-long-name-that-does-not-fit-inline-{k}")
    } else {
        format!("n{k}")
    }
}

#[test]
fn sorted_by_bytes_and_resumable() {
    let mut m = PersistentChildren::new();
    for (i, n) in ["b", "a0", "a", "B", "é", "z", "ab"].iter().enumerate() {
        assert_eq!(m.insert(n, i as u64), None);
    }
    let names: Vec<&str> = m.iter().map(|(n, _)| n).collect();
    // Byte order: upper case before lower, a prefix before its extensions, non-ASCII last.
    assert_eq!(names, ["B", "a", "a0", "ab", "b", "z", "é"]);
    let after: Vec<&str> = m.range_after(Some("a")).map(|(n, _)| n).collect();
    assert_eq!(after, ["a0", "ab", "b", "z", "é"]);
    let after: Vec<&str> = m.range_after(Some("aa")).map(|(n, _)| n).collect();
    assert_eq!(after, ["ab", "b", "z", "é"]);
    assert_eq!(m.range_after(Some("é")).next(), None);
    assert_eq!(m.insert("a", 10), Some(2));
    assert_eq!(m.get("a"), Some(&10));
    assert_eq!(m.get("c"), None);
    assert_eq!(m.remove("c"), None);
    assert_eq!(m.get_mut("c"), None);
    for n in ["b", "a0", "a", "B", "é", "z", "ab"] {
        assert!(m.remove(n).is_some());
    }
    assert!(m.is_empty() && m.0.is_none());
    assert_eq!(m.range_after(Some("a")).next(), None);
}

#[test]
fn one_word_and_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PersistentChildren<triomphe::Arc<u64>>>();
    assert_eq!(size_of::<PersistentChildren<triomphe::Arc<u64>>>(), 8);
    assert_eq!(size_of::<(Name, triomphe::Arc<u64>)>(), 24);
}

/// After a clone, `get_mut`, `insert` and `remove` on one map never show in the other,
/// in both forms.
#[test]
fn a_clone_is_a_version() {
    for n in [3u64, 100] {
        let mut a = PersistentChildren::new();
        let mut model = Model::new();
        for k in 0..n {
            a.insert(&key(k), k);
            model.insert(key(k), k);
        }
        let mut b = a.clone();
        *a.get_mut(&key(1)).unwrap() = 1000;
        a.insert("new", 5);
        a.remove(&key(2));
        check(&b, &model);
        *b.get_mut(&key(0)).unwrap() = 77;
        b.remove(&key(1));
        assert_eq!(a.get(&key(0)), Some(&0));
        assert_eq!(a.get(&key(1)), Some(&1000));
    }
}

/// Random inserts, removes, get_muts and reads over key spaces that cross the
/// small/large bounds many times, checked against a `BTreeMap` after every step;
/// clones taken at random points (and sometimes changed themselves) must keep their
/// contents whatever happens to the original afterwards.
#[test]
fn matches_a_btreemap_and_clones_stay_put() {
    let mut rng = StdRng::seed_from_u64(0x5eed_c41d);
    let mut m = PersistentChildren::new();
    let mut model = Model::new();
    let mut versions: Vec<(PersistentChildren<u64>, Model)> = Vec::new();
    let mut conversions = 0;
    // Key spaces around the bounds (16, 32) and well above them; each phase drifts
    // between mostly inserting and mostly removing so sizes sweep up and down.
    for (phase, space) in [10u64, 24, 40, 70, 300, 40, 100, 20, 500, 50]
        .iter()
        .enumerate()
    {
        // Keys outside this phase's space go first, so a small space means a small map.
        for k in *space..500 {
            assert_eq!(m.remove(&key(k)), model.remove(&key(k)));
        }
        check(&m, &model);
        for step in 0..4000u64 {
            let k = key(rng.gen_range(0..*space));
            let inserting = (step / 300 + phase as u64).is_multiple_of(2);
            let was_large = matches!(m.0.as_deref(), Some(Repr::Large(_)));
            match rng.gen_range(0..100) {
                // Inserting phases settle ~7/8 full, removing ones ~1/8 full, so
                // the spaces from 40 to 100 cross both bounds on every swing.
                r if r < (if inserting { 70 } else { 10 }) => {
                    let v = rng.gen();
                    assert_eq!(m.insert(&k, v), model.insert(k, v));
                }
                r if r < 80 => assert_eq!(m.remove(&k), model.remove(&k)),
                r if r < 92 => {
                    let got = m.get_mut(&k).map(|v| {
                        *v += 1;
                        *v
                    });
                    let want = model.get_mut(&k).map(|v| {
                        *v += 1;
                        *v
                    });
                    assert_eq!(got, want);
                }
                _ => assert_eq!(m.get(&k), model.get(&k)),
            }
            if was_large != matches!(m.0.as_deref(), Some(Repr::Large(_))) {
                conversions += 1;
            }
            check(&m, &model);
            if rng.gen_range(0..20) == 0 {
                let after = rng.gen_range(0..*space + 3);
                check_range(&m, &model, Some(&key(after)));
                check_range(&m, &model, None);
            }
            // Keep up to 40 versions: new ones replace old ones at random.
            if rng.gen_range(0..50) == 0 {
                let v = (m.clone(), model.clone());
                if versions.len() < 40 {
                    versions.push(v);
                } else {
                    let i = rng.gen_range(0..versions.len());
                    versions[i] = v;
                }
            }
            // Now and then change a version: the original must not see it.
            if !versions.is_empty() && rng.gen_range(0..100) == 0 {
                let i = rng.gen_range(0..versions.len());
                let (vm, vmodel) = &mut versions[i];
                let k = key(rng.gen_range(0..*space));
                assert_eq!(vm.insert(&k, 9), vmodel.insert(k.clone(), 9));
                if let (Some(a), Some(b)) = (vm.get_mut(&k), vmodel.get_mut(&k)) {
                    *a += 3;
                    *b += 3;
                }
                let k = key(rng.gen_range(0..*space));
                assert_eq!(vm.remove(&k), vmodel.remove(&k));
                check(vm, vmodel);
                check(&m, &model);
            }
            if step % 250 == 0 {
                for (vm, vmodel) in &versions {
                    check(vm, vmodel);
                }
            }
        }
    }
    for (vm, vmodel) in &versions {
        check(vm, vmodel);
    }
    // The run must actually have crossed the bound both ways, many times.
    assert!(conversions > 50, "only {conversions} conversions");
}

/// Alternating insert and remove at the bound converts once, not every time.
#[test]
fn hysteresis_at_the_bound() {
    let mut m = PersistentChildren::new();
    for k in 0..SMALL_MAX as u64 + 1 {
        m.insert(&key(k), k);
    }
    assert!(matches!(m.0.as_deref(), Some(Repr::Large(_))));
    for _ in 0..10 {
        m.remove(&key(0));
        assert!(matches!(m.0.as_deref(), Some(Repr::Large(_))));
        m.insert(&key(0), 0);
    }
    // 33 entries down to SMALL_MIN: the 17th removal converts.
    for k in 0..=(SMALL_MAX - SMALL_MIN) as u64 {
        m.remove(&key(k));
    }
    assert!(matches!(m.0.as_deref(), Some(Repr::Small(_))));
    for _ in 0..10 {
        m.insert(&key(0), 0);
        assert!(matches!(m.0.as_deref(), Some(Repr::Small(_))));
        m.remove(&key(0));
    }
}

/// A million children: insert in scattered order, find each, remove a third, iterate,
/// and change a clone. Runs in a few seconds in release.
#[test]
fn a_million_children() {
    const N: u64 = 1_000_000;
    let name = |k: u64| format!("node{k:07}");
    let mut m = PersistentChildren::new();
    // 999_983 is prime and coprime with N: k ↦ k·p mod N visits every key once.
    for i in 0..N {
        let k = i * 999_983 % N;
        assert_eq!(m.insert(&name(k), k), None);
    }
    assert_eq!(m.len(), N as usize);
    for k in 0..N {
        assert_eq!(m.get(&name(k)), Some(&k));
    }
    let before = m.clone();
    for k in (0..N).step_by(3) {
        assert_eq!(m.remove(&name(k)), Some(k));
    }
    *m.get_mut(&name(1)).unwrap() = 0;
    let mut count = 0;
    let mut last = String::new();
    for (n, _) in m.iter() {
        assert!(*n > *last);
        last = n.to_string();
        count += 1;
    }
    assert_eq!(count, m.len());
    assert_eq!(m.len() as u64, N - N.div_ceil(3));
    assert_eq!(
        m.range_after(Some(&name(0))).next().map(|(n, _)| n),
        Some("node0000001")
    );
    // The clone taken before the removals still has them all.
    assert_eq!(before.len(), N as usize);
    assert_eq!(before.get(&name(1)), Some(&1));
    assert!(before.iter().map(|(_, v)| *v).eq(0..N));
}

/// Bytes per entry at a few sizes (printed; `--nocapture` shows them), with loose
/// bounds that catch a blow-up, not a few bytes.
#[test]
fn memory_per_entry() {
    type V = triomphe::Arc<u64>;
    let word = size_of::<PersistentChildren<V>>();
    let value = V::new(0);
    for (n, most_per_entry) in [(0, 0), (1, 128), (4, 64), (32, 48), (1_000_000, 40)] {
        let mut m = PersistentChildren::<V>::new();
        for k in 0..n {
            m.insert(&format!("n{k:07}"), value.clone());
        }
        let bytes = word + m.heap_bytes();
        let per = bytes.checked_div(n).unwrap_or(bytes);
        println!("{n} entries: {bytes} bytes, {per} per entry (map word {word})");
        check_shape(&m);
        if n == 0 {
            assert_eq!(m.heap_bytes(), 0);
        } else {
            assert!(per <= most_per_entry, "{n} entries: {per} B per entry");
        }
        // A clone owns nothing exclusively until it changes.
        let c = m.clone();
        assert_eq!(c.heap_bytes(), 0);
    }
}

/// Appending (sequential znodes) leaves every node but the rightmost of each level
/// full, with no spare capacity, and a clone taken midway keeps its contents.
#[test]
fn appends_fill_every_node() {
    const N: u64 = 300_000;
    let mut m = PersistentChildren::new();
    let mut half = PersistentChildren::new();
    for k in 0..N {
        m.insert(&format!("seq-{k:010}"), k);
        if k == N / 2 {
            half = m.clone();
        }
    }
    check_shape(&m);
    check_full(&large(&m).root, true);
    assert_eq!(m.len(), N as usize);
    assert!(m.iter().map(|(_, v)| *v).eq(0..N));
    assert!(half.iter().map(|(_, v)| *v).eq(0..=N / 2));
    check_shape(&half);
    // Removing from the front (a queue's consumers) keeps nodes at least half full.
    for k in 0..N - 100 {
        assert_eq!(m.remove(&format!("seq-{k:010}")), Some(k));
        if k.is_multiple_of(997) {
            check_shape(&m);
        }
    }
    check_shape(&m);
    assert!(m.iter().map(|(_, v)| *v).eq(N - 100..N));
}

/// Random inserts and removes on maps of up to 30,000 entries (three levels), in
/// phases that grow and shrink it across the small/large bound, with the structure
/// checked as it goes and old versions checked at the end.
#[test]
fn deep_random_ops_keep_the_invariants() {
    let mut rng = StdRng::seed_from_u64(0xb7ee);
    let mut m = PersistentChildren::new();
    let mut model = Model::new();
    let mut versions: Vec<(PersistentChildren<u64>, Model)> = Vec::new();
    // (keys drawn from, steps, percent inserts): grow, shrink to a few, regrow, drain.
    let phases = [
        (30_000, 60_000, 90),
        (30_000, 60_000, 15),
        (30_000, 40_000, 60),
        (5_000, 40_000, 5),
        (40_000, 40_000, 80),
        (40_000, 80_000, 0),
    ];
    for (space, steps, inserts) in phases {
        for step in 0..steps {
            // Runs of neighbouring keys now and then, as sequential names arrive.
            let k = key(rng.gen_range(0..space));
            if rng.gen_range(0..100) < inserts {
                let v = rng.gen();
                assert_eq!(m.insert(&k, v), model.insert(k, v));
            } else {
                assert_eq!(m.remove(&k), model.remove(&k));
            }
            if step % 2000 == 0 {
                check_shape(&m);
                assert_eq!(m.len(), model.len());
                let after = key(rng.gen_range(0..space));
                check_range(&m, &model, Some(&after));
            }
            if rng.gen_range(0..10_000) == 0 {
                versions.push((m.clone(), model.clone()));
            }
        }
        check(&m, &model);
    }
    assert!(versions.len() > 10);
    for (vm, vmodel) in &versions {
        check(vm, vmodel);
    }
}

/// Clones of a large map, each then changed many times, never see each other's
/// changes, and both keep their invariants.
#[test]
fn large_clones_are_isolated_both_ways() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut a = PersistentChildren::new();
    let mut model_a = Model::new();
    for k in 0..20_000 {
        a.insert(&key(k), k);
        model_a.insert(key(k), k);
    }
    let mut b = a.clone();
    let mut model_b = model_a.clone();
    for _ in 0..30_000 {
        for (m, model) in [(&mut a, &mut model_a), (&mut b, &mut model_b)] {
            let k = key(rng.gen_range(0..25_000));
            match rng.gen_range(0..3) {
                0 => assert_eq!(m.remove(&k), model.remove(&k)),
                1 => assert_eq!(m.insert(&k, 1), model.insert(k, 1)),
                _ => {
                    if let (Some(x), Some(y)) = (m.get_mut(&k), model.get_mut(&k)) {
                        *x += 1;
                        *y += 1;
                    }
                }
            }
        }
    }
    check(&a, &model_a);
    check(&b, &model_b);
    assert_ne!(model_a, model_b);
}

/// Listing page by page with `range_after(last name of the previous page)` gives every
/// entry once, in order, also when the page boundary is a name that is not a child.
#[test]
fn range_after_pages_through() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut m = PersistentChildren::new();
    let mut model = Model::new();
    for _ in 0..50_000 {
        let k = key(rng.gen_range(0..100_000));
        m.insert(&k, 0);
        model.insert(k, 0);
    }
    for page in [1, 7, 64, 500] {
        let mut seen: Vec<&str> = Vec::new();
        loop {
            let after = seen.last().copied();
            let before = seen.len();
            seen.extend(m.range_after(after).take(page).map(|(n, _)| n));
            if seen.len() == before {
                break;
            }
        }
        assert!(seen.iter().copied().eq(model.keys().map(String::as_str)));
    }
    // Boundaries that are not children: every gap, and past either end.
    for k in (0..100_000).step_by(997) {
        check_range(&m, &model, Some(&key(k)));
        check_range(&m, &model, Some(&format!("{}!", key(k))));
    }
    check_range(&m, &model, Some(""));
    check_range(&m, &model, Some("\u{10ffff}"));
}

/// `from_sorted` packs leaves full as appends do, falls back to inserts for entries out
/// of order (a repeat replaces), and picks the form by size.
#[test]
fn from_sorted_packs_full_nodes() {
    for n in [0u64, 1, 16, 32, 33, 64, 65, 4_096, 4_097, 100_000] {
        let names: Vec<String> = (0..n).map(|k| format!("n{k:07}")).collect();
        let m = PersistentChildren::from_sorted(names.iter().map(String::as_str).zip(0..));
        let model: Model = names.iter().cloned().zip(0..).collect();
        check(&m, &model);
        if n > SMALL_MAX as u64 {
            check_full(&large(&m).root, true);
        }
    }
    let entries = [("a", 1), ("c", 2), ("b", 3), ("c", 4), ("d", 5)];
    let m = PersistentChildren::from_sorted(entries);
    let model: Model = entries.iter().map(|&(n, v)| (n.to_string(), v)).collect();
    check(&m, &model);
    assert_eq!(m.get("c"), Some(&4));
}
