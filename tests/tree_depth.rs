//! The tree's limits that only a thread of its own can show (the pure modules' own
//! tests may not start threads: `tests/tidy.rs`).

use ringkeeper::proto::{Acl, NodeData};
use ringkeeper::tree::DataTree;

fn create(t: &mut DataTree, path: &str, zxid: i64) {
    let mut tr = Vec::new();
    t.create_node(
        path,
        Some(NodeData::new(b"d")),
        &Acl::open_unsafe(),
        0,
        -1,
        zxid,
        1,
        &mut tr,
    )
    .expect("create");
}

/// A chain of nodes as deep as clients may make it is dropped (and compared) without
/// recursion. Run on a thread with a 64 KiB stack, which a recursive drop of 3,000
/// levels overflows (a 1 MB path has 500,000 levels, enough for any stack).
#[test]
fn a_deep_chain_drops_without_overflowing_the_stack() {
    let mut t = DataTree::new();
    let mut path = String::new();
    for i in 0..3_000 {
        path.push_str("/a");
        create(&mut t, &path, 10 + i);
    }
    let copy = t.clone();
    let mut tr = Vec::new();
    t.set_data(&path, Some(NodeData::new(b"leaf")), 1, 99_999, 2, &mut tr)
        .expect("set");
    assert_eq!(t.count_descendants("/a"), Some(2_999));
    let small_stack = std::thread::Builder::new().stack_size(64 * 1024);
    let dropper = small_stack
        .spawn(move || {
            assert!(copy != t);
            drop(copy);
            drop(t);
        })
        .expect("spawn");
    assert!(dropper.join().is_ok(), "dropping the tree failed");
}
