use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

type Model = BTreeMap<String, u64>;

/// Checks that `m` holds exactly `model`, and the shape invariants of `Repr`.
fn check(m: &PersistentChildren<u64>, model: &Model) {
    assert_eq!(m.len(), model.len());
    assert_eq!(m.is_empty(), model.is_empty());
    assert!(m.iter().eq(model.iter().map(|(k, v)| (k.as_str(), v))));
    match m.0.as_deref() {
        None => assert!(model.is_empty()),
        Some(Repr::Small(e)) => {
            assert!(!e.is_empty() && e.len() <= SMALL_MAX);
            assert!(e.windows(2).all(|w| w[0].0 < w[1].0));
        }
        Some(Repr::Large(map)) => assert!(map.len() > SMALL_MIN),
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
    assert_eq!(size_of::<(Name, triomphe::Arc<u64>)>(), 32);
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
    for (n, most_per_entry) in [(0, 0), (1, 128), (4, 64), (32, 48), (1_000_000, 100)] {
        let mut m = PersistentChildren::<V>::new();
        for k in 0..n {
            m.insert(&format!("n{k:07}"), value.clone());
        }
        let bytes = word + m.heap_bytes();
        let per = bytes.checked_div(n).unwrap_or(bytes);
        println!("{n} entries: {bytes} bytes, {per} per entry (map word {word})");
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
