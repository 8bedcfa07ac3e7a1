//! Registry behaviour tests: each rule of `DataTree` / `WatchManager` as an exact event
//! list.

use super::*;
use EventType::{NodeChildrenChanged, NodeCreated, NodeDataChanged, NodeDeleted};

fn ev(session: SessionId, event_type: EventType, path: &str) -> WatchEvent {
    WatchEvent::new(session, event_type, path)
}

fn create(r: &mut WatchRegistry, path: &str) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    r.on_create(path, &mut out);
    r.validate();
    out
}

fn delete(r: &mut WatchRegistry, path: &str) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    r.on_delete(path, &mut out);
    r.validate();
    out
}

fn set_data(r: &mut WatchRegistry, path: &str) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    r.on_set_data(path, &mut out);
    r.validate();
    out
}

#[test]
fn exists_watch_fires_node_created_once() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(1, "/a").unwrap();
    assert_eq!(create(&mut r, "/a"), vec![ev(1, NodeCreated, "/a")]);
    assert_eq!(create(&mut r, "/a"), vec![]);
    assert_eq!(r.watch_count(), 0);
}

#[test]
fn data_watch_fires_on_set_data_and_delete_once() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(1, "/a").unwrap();
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
    assert_eq!(set_data(&mut r, "/a"), vec![]);
    r.add_data_watch(1, "/a").unwrap();
    assert_eq!(delete(&mut r, "/a"), vec![ev(1, NodeDeleted, "/a")]);
    assert_eq!(delete(&mut r, "/a"), vec![]);
}

#[test]
fn child_watch_fires_on_child_create_and_delete() {
    let mut r = WatchRegistry::new();
    r.add_child_watch(1, "/p").unwrap();
    assert_eq!(
        create(&mut r, "/p/c"),
        vec![ev(1, NodeChildrenChanged, "/p")]
    );
    assert_eq!(create(&mut r, "/p/d"), vec![]);
    r.add_child_watch(1, "/p").unwrap();
    assert_eq!(
        delete(&mut r, "/p/c"),
        vec![ev(1, NodeChildrenChanged, "/p")]
    );
}

#[test]
fn child_watch_does_not_fire_on_set_data() {
    let mut r = WatchRegistry::new();
    r.add_child_watch(1, "/p").unwrap();
    assert_eq!(set_data(&mut r, "/p"), vec![]);
    assert!(r.contains(1, "/p", WatcherType::Children));
}

#[test]
fn root_child_watch_sees_top_level_create() {
    let mut r = WatchRegistry::new();
    r.add_child_watch(1, "/").unwrap();
    assert_eq!(create(&mut r, "/a"), vec![ev(1, NodeChildrenChanged, "/")]);
}

#[test]
fn create_events_in_order_node_then_parent() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(2, "/p/c").unwrap();
    r.add_data_watch(1, "/p/c").unwrap();
    r.add_child_watch(1, "/p").unwrap();
    assert_eq!(
        create(&mut r, "/p/c"),
        vec![
            ev(1, NodeCreated, "/p/c"),
            ev(2, NodeCreated, "/p/c"),
            ev(1, NodeChildrenChanged, "/p"),
        ]
    );
}

#[test]
fn delete_dedups_data_and_child_watchers_of_path() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(1, "/a").unwrap();
    r.add_child_watch(1, "/a").unwrap();
    r.add_child_watch(2, "/a").unwrap();
    r.add_data_watch(3, "/a").unwrap();
    assert_eq!(
        delete(&mut r, "/a"),
        vec![
            ev(1, NodeDeleted, "/a"),
            ev(2, NodeDeleted, "/a"),
            ev(3, NodeDeleted, "/a")
        ]
    );
    // Both one-shot watches of session 1 were consumed.
    assert_eq!(r.session_watch_count(1), 0);
    assert_eq!(r.watch_count(), 0);
}

#[test]
fn persistent_watch_stays_and_sees_everything_on_its_path() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    assert_eq!(create(&mut r, "/a"), vec![ev(1, NodeCreated, "/a")]);
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
    assert_eq!(
        create(&mut r, "/a/c"),
        vec![ev(1, NodeChildrenChanged, "/a")]
    );
    assert_eq!(
        delete(&mut r, "/a/c"),
        vec![ev(1, NodeChildrenChanged, "/a")]
    );
    // Delete: in both tables, but one NodeDeleted.
    assert_eq!(delete(&mut r, "/a"), vec![ev(1, NodeDeleted, "/a")]);
    assert!(r.contains(1, "/a", WatcherType::Persistent));
    // Not recursive: grandchildren and child data do not fire.
    assert_eq!(set_data(&mut r, "/a/c"), vec![]);
}

#[test]
fn recursive_watch_sees_subtree_but_no_children_changed() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    assert_eq!(create(&mut r, "/a"), vec![ev(1, NodeCreated, "/a")]);
    assert_eq!(create(&mut r, "/a/b"), vec![ev(1, NodeCreated, "/a/b")]);
    assert_eq!(create(&mut r, "/a/b/c"), vec![ev(1, NodeCreated, "/a/b/c")]);
    assert_eq!(
        set_data(&mut r, "/a/b/c"),
        vec![ev(1, NodeDataChanged, "/a/b/c")]
    );
    assert_eq!(delete(&mut r, "/a/b/c"), vec![ev(1, NodeDeleted, "/a/b/c")]);
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
    // Siblings with a common prefix are not descendants.
    assert_eq!(create(&mut r, "/ab"), vec![]);
    assert!(r.contains(1, "/a", WatcherType::PersistentRecursive));
}

#[test]
fn recursive_on_root_sees_everything() {
    let mut r = WatchRegistry::new();
    r.add_watch(7, "/", AddWatchMode::PersistentRecursive)
        .unwrap();
    assert_eq!(create(&mut r, "/x/y"), vec![ev(7, NodeCreated, "/x/y")]);
}

#[test]
fn one_event_per_session_per_trigger_across_modes_and_ancestors() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/", AddWatchMode::PersistentRecursive)
        .unwrap();
    r.add_watch(1, "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    r.add_watch(1, "/a/b", AddWatchMode::Persistent).unwrap();
    r.add_data_watch(1, "/a/b").unwrap();
    assert_eq!(
        set_data(&mut r, "/a/b"),
        vec![ev(1, NodeDataChanged, "/a/b")]
    );
    // The one-shot was consumed, persistent ones stay.
    assert!(!r.contains(1, "/a/b", WatcherType::Data));
    assert!(r.contains(1, "/a/b", WatcherType::Persistent));
}

#[test]
fn one_shot_and_persistent_coexist_on_same_path() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(1, "/a").unwrap();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    r.add_watch(1, "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    assert!(r.contains(1, "/a", WatcherType::Data));
    assert!(r.contains(1, "/a", WatcherType::Persistent));
    assert!(r.contains(1, "/a", WatcherType::PersistentRecursive));
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
    assert!(!r.contains(1, "/a", WatcherType::Data));
    assert!(r.remove(1, "/a", WatcherType::Persistent));
    assert!(r.contains(1, "/a", WatcherType::PersistentRecursive));
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
}

#[test]
fn recursive_parent_and_child_watch_both_get_create_of_grandchild_path() {
    // Session 1 recursive on /a, session 2 child watch on /a: create /a/b gives
    // NodeCreated(/a/b) to 1 and NodeChildrenChanged(/a) to 2, never NCC to 1.
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    r.add_child_watch(2, "/a").unwrap();
    assert_eq!(
        create(&mut r, "/a/b"),
        vec![ev(1, NodeCreated, "/a/b"), ev(2, NodeChildrenChanged, "/a")]
    );
}

#[test]
fn contains_matches_each_watcher_type() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/p", AddWatchMode::Persistent).unwrap();
    // Persistent watches are not "Data" or "Children" watches.
    assert!(!r.contains(1, "/p", WatcherType::Data));
    assert!(!r.contains(1, "/p", WatcherType::Children));
    assert!(r.contains(1, "/p", WatcherType::Persistent));
    assert!(!r.contains(1, "/p", WatcherType::PersistentRecursive));
    assert!(r.contains(1, "/p", WatcherType::Any));
    assert!(!r.contains(2, "/p", WatcherType::Any));

    r.add_child_watch(1, "/c").unwrap();
    assert!(r.contains(1, "/c", WatcherType::Children));
    assert!(!r.contains(1, "/c", WatcherType::Data));
    assert!(r.contains(1, "/c", WatcherType::Any));

    r.add_watch(1, "/r", AddWatchMode::PersistentRecursive)
        .unwrap();
    assert!(r.contains(1, "/r", WatcherType::PersistentRecursive));
    assert!(!r.contains(1, "/r", WatcherType::Persistent));
    assert!(r.contains(1, "/r", WatcherType::Any));
    // A recursive watch on an ancestor is not a watch on the path.
    assert!(!r.contains(1, "/r/x", WatcherType::Any));
}

#[test]
fn remove_children_only_touches_one_shot_child() {
    let mut r = WatchRegistry::new();
    r.add_child_watch(1, "/a").unwrap();
    r.add_data_watch(1, "/a").unwrap();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    assert!(r.remove(1, "/a", WatcherType::Children));
    assert!(!r.remove(1, "/a", WatcherType::Children));
    assert!(r.contains(1, "/a", WatcherType::Data));
    assert!(r.contains(1, "/a", WatcherType::Persistent));
    r.validate();
}

#[test]
fn remove_data_only_touches_one_shot_data() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    assert!(!r.remove(1, "/a", WatcherType::Data));
    r.add_data_watch(1, "/a").unwrap();
    assert!(r.remove(1, "/a", WatcherType::Data));
    assert!(r.contains(1, "/a", WatcherType::Persistent));
    r.validate();
}

#[test]
fn remove_persistent_clears_both_tables() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    assert_eq!(r.watch_count(), 2);
    assert!(r.remove(1, "/a", WatcherType::Persistent));
    assert_eq!(r.watch_count(), 0);
    assert!(!r.remove(1, "/a", WatcherType::Persistent));
    assert_eq!(create(&mut r, "/a/b"), vec![]);
}

#[test]
fn remove_recursive_keeps_persistent() {
    let mut r = WatchRegistry::new();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    r.add_watch(1, "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    assert!(r.remove(1, "/a", WatcherType::PersistentRecursive));
    assert!(!r.remove(1, "/a", WatcherType::PersistentRecursive));
    assert_eq!(set_data(&mut r, "/a/b"), vec![]);
    assert_eq!(set_data(&mut r, "/a"), vec![ev(1, NodeDataChanged, "/a")]);
    r.validate();
}

#[test]
fn remove_any_clears_every_mode() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(1, "/a").unwrap();
    r.add_child_watch(1, "/a").unwrap();
    r.add_watch(1, "/a", AddWatchMode::Persistent).unwrap();
    r.add_watch(1, "/a", AddWatchMode::PersistentRecursive)
        .unwrap();
    r.add_data_watch(2, "/a").unwrap();
    assert!(r.remove(1, "/a", WatcherType::Any));
    assert!(!r.remove(1, "/a", WatcherType::Any));
    assert_eq!(r.session_watch_count(1), 0);
    assert_eq!(set_data(&mut r, "/a"), vec![ev(2, NodeDataChanged, "/a")]);
    r.validate();
}

#[test]
fn remove_session_drops_everything() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(1, "/a").unwrap();
    r.add_child_watch(1, "/a").unwrap();
    r.add_watch(1, "/", AddWatchMode::PersistentRecursive)
        .unwrap();
    r.add_watch(1, "/b", AddWatchMode::Persistent).unwrap();
    r.add_data_watch(2, "/a").unwrap();
    r.remove_session(1);
    r.validate();
    assert_eq!(r.session_watch_count(1), 0);
    assert_eq!(r.watch_count(), 1);
    assert_eq!(set_data(&mut r, "/a"), vec![ev(2, NodeDataChanged, "/a")]);
    assert_eq!(create(&mut r, "/b/c"), vec![]);
    r.remove_session(1);
}

#[test]
fn per_session_limit_is_all_or_nothing() {
    let mut r = WatchRegistry::new();
    // Fill to one below the limit cheaply is impractical at 2^20 in a unit test; use
    // the arithmetic: the check counts entries over both tables.
    for i in 0..3 {
        r.add_data_watch(1, &format!("/n{i}")).unwrap();
    }
    assert_eq!(r.session_watch_count(1), 3);
    r.add_watch(1, "/n0", AddWatchMode::Persistent).unwrap();
    // /n0 already had a data entry, so only the child entry is new.
    assert_eq!(r.session_watch_count(1), 4);
    // Re-adding an existing mode adds nothing.
    r.add_data_watch(1, "/n1").unwrap();
    assert_eq!(r.session_watch_count(1), 4);
}

#[test]
fn per_session_limit_errors_at_the_bound() {
    let mut r = WatchRegistry::new();
    for i in 0..WATCHES_PER_SESSION_MAX - 1 {
        r.add_data_watch(1, &format!("/{i}")).unwrap();
    }
    // Persistent needs two new entries but only one is left: nothing is added.
    let err = r
        .add_watch(1, "/new", AddWatchMode::Persistent)
        .unwrap_err();
    assert_eq!(
        err,
        WatchError::TooManyWatches {
            session: 1,
            max: WATCHES_PER_SESSION_MAX
        }
    );
    assert!(!r.contains(1, "/new", WatcherType::Any));
    r.add_child_watch(1, "/new").unwrap();
    assert!(r.add_data_watch(1, "/other").is_err());
    // Adding a mode to an existing entry is still fine at the limit.
    r.add_watch(1, "/0", AddWatchMode::PersistentRecursive)
        .unwrap();
    // Other sessions are unaffected.
    r.add_data_watch(2, "/other").unwrap();
}

fn zxids(mzxid: i64, pzxid: i64) -> Option<NodeZxids> {
    Some(NodeZxids { mzxid, pzxid })
}

fn replay(r: &mut WatchRegistry, req: &SetWatches) -> Vec<WatchEvent> {
    // Tree: /old (mzxid 5, pzxid 5), /new (mzxid 20, pzxid 20), /kids (mzxid 5, pzxid 20).
    let lookup = |p: &str| match p {
        "/old" => zxids(5, 5),
        "/new" => zxids(20, 20),
        "/kids" => zxids(5, 20),
        _ => None,
    };
    let mut out = Vec::new();
    r.set_watches(1, req, lookup, &mut out).unwrap();
    r.validate();
    out
}

fn strings(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

#[test]
fn set_watches_data_branches() {
    let mut r = WatchRegistry::new();
    let req = SetWatches {
        relative_zxid: 10,
        data: strings(&["/gone", "/new", "/old"]),
        ..SetWatches::default()
    };
    assert_eq!(
        replay(&mut r, &req),
        vec![ev(1, NodeDeleted, "/gone"), ev(1, NodeDataChanged, "/new")]
    );
    assert!(r.contains(1, "/old", WatcherType::Data));
    assert!(!r.contains(1, "/gone", WatcherType::Any));
    assert!(!r.contains(1, "/new", WatcherType::Any));
    // mzxid == relative_zxid is not "changed".
    let req = SetWatches {
        relative_zxid: 20,
        data: strings(&["/new"]),
        ..SetWatches::default()
    };
    assert_eq!(replay(&mut r, &req), vec![]);
    assert!(r.contains(1, "/new", WatcherType::Data));
}

#[test]
fn set_watches_exist_branches() {
    let mut r = WatchRegistry::new();
    let req = SetWatches {
        relative_zxid: 10,
        exist: strings(&["/old", "/gone"]),
        ..SetWatches::default()
    };
    assert_eq!(replay(&mut r, &req), vec![ev(1, NodeCreated, "/old")]);
    assert!(r.contains(1, "/gone", WatcherType::Data));
    assert!(!r.contains(1, "/old", WatcherType::Any));
}

#[test]
fn set_watches_child_branches() {
    let mut r = WatchRegistry::new();
    let req = SetWatches {
        relative_zxid: 10,
        child: strings(&["/gone", "/kids", "/old"]),
        ..SetWatches::default()
    };
    assert_eq!(
        replay(&mut r, &req),
        vec![
            ev(1, NodeDeleted, "/gone"),
            ev(1, NodeChildrenChanged, "/kids")
        ]
    );
    assert!(r.contains(1, "/old", WatcherType::Children));
    assert!(!r.contains(1, "/kids", WatcherType::Any));
}

#[test]
fn set_watches_persistent_always_registered_without_events() {
    let mut r = WatchRegistry::new();
    let req = SetWatches {
        relative_zxid: 10,
        persistent: strings(&["/new", "/gone"]),
        persistent_recursive: strings(&["/kids", "/gone2"]),
        ..SetWatches::default()
    };
    assert_eq!(replay(&mut r, &req), vec![]);
    assert!(r.contains(1, "/new", WatcherType::Persistent));
    assert!(r.contains(1, "/gone", WatcherType::Persistent));
    assert!(r.contains(1, "/kids", WatcherType::PersistentRecursive));
    assert!(r.contains(1, "/gone2", WatcherType::PersistentRecursive));
    // The persistent watch is in both tables.
    assert_eq!(
        create(&mut r, "/new/x"),
        vec![ev(1, NodeChildrenChanged, "/new")]
    );
}

#[test]
fn set_watches_does_not_dedup_across_lists() {
    let mut r = WatchRegistry::new();
    let req = SetWatches {
        relative_zxid: 10,
        data: strings(&["/gone"]),
        child: strings(&["/gone"]),
        ..SetWatches::default()
    };
    assert_eq!(
        replay(&mut r, &req),
        vec![ev(1, NodeDeleted, "/gone"), ev(1, NodeDeleted, "/gone")]
    );
}

#[test]
fn dumps_report_data_table_only_and_count_both() {
    let mut r = WatchRegistry::new();
    r.add_data_watch(2, "/b").unwrap();
    r.add_data_watch(1, "/b").unwrap();
    r.add_data_watch(1, "/a").unwrap();
    r.add_child_watch(3, "/c").unwrap();
    r.add_watch(4, "/d", AddWatchMode::Persistent).unwrap();
    assert_eq!(
        r.summary(),
        WatchSummary {
            sessions: 3,
            paths: 3,
            watches: 4
        }
    );
    assert_eq!(r.watch_count(), 6);
    assert_eq!(
        r.by_session(),
        vec![(1, vec!["/a", "/b"]), (2, vec!["/b"]), (4, vec!["/d"])]
    );
    assert_eq!(
        r.by_path(),
        vec![("/a", vec![1]), ("/b", vec![1, 2]), ("/d", vec![4])]
    );
}

/// A seeded random workload keeps both tables consistent and obeys "one-shot fires at
/// most once".
#[test]
fn random_workload_keeps_invariants() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let paths = ["/", "/a", "/a/b", "/a/b/c", "/d", "/d/e"];
    let mut r = WatchRegistry::new();
    let mut out = Vec::new();
    for _ in 0..5_000 {
        let s: SessionId = rng.gen_range(1..5);
        let p = paths[rng.gen_range(0..paths.len())];
        match rng.gen_range(0..10) {
            0 => r.add_data_watch(s, p).unwrap(),
            1 => r.add_child_watch(s, p).unwrap(),
            2 => r.add_watch(s, p, AddWatchMode::Persistent).unwrap(),
            3 => r
                .add_watch(s, p, AddWatchMode::PersistentRecursive)
                .unwrap(),
            4 => {
                let t = WatcherType::try_from(rng.gen_range(1..6)).unwrap();
                r.remove(s, p, t);
            }
            5 => r.remove_session(s),
            6 => r.on_create(p, &mut out),
            7 => r.on_delete(p, &mut out),
            _ => r.on_set_data(p, &mut out),
        }
        r.validate();
        out.clear();
    }
}
