//! Memory and speed of the `DataTree` with many znodes, through the public API.
//!
//! `cargo run --release --example tree_rss [N] [plain|shuffled|tens]` (default
//! 1,000,000): makes N payloads of 100 bytes (as prep makes a txn's, shared by the
//! versions that hold it), then builds a tree of
//! `/bench/n<10 digits>` (see `Names` for the others) with those payloads and reports
//! VmRSS growth per znode for the payloads and the tree, then for a version that a
//! setData on every tenth znode made diverge, the CPU time of dropping the older
//! version, then of a create, a get, a setData on a shared version and a delete.
//! Linux only (reads /proc/self/status).

use ringkeeper::proto::{Acl, NodeData};
use ringkeeper::tree::DataTree;

fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// This thread's CPU time in ns: the machine may be shared, and wall time would count
/// the waits for a CPU.
fn cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// How names are made from the create's sequence number `i` (of `n`).
#[derive(PartialEq)]
enum Names {
    /// `n<i, 10 digits>`: arrive in sorted order.
    Padded,
    /// `<i>`, as `ringkeeper bench --workload load` names them.
    Plain,
    /// `n<10 digits>` of a permutation of `i`: arrive in scattered order.
    Shuffled,
    /// `g<i / 10, 7 digits>/n<i % 10>`: small parents (made as needed, no data), as
    /// many trees are.
    Tens,
}

static NAMES: std::sync::LazyLock<Names> =
    std::sync::LazyLock::new(|| match std::env::args().nth(2).as_deref() {
        Some("plain") => Names::Plain,
        Some("shuffled") => Names::Shuffled,
        Some("tens") => Names::Tens,
        _ => Names::Padded,
    });

fn path(buf: &mut String, i: usize, n: usize) -> &str {
    use std::fmt::Write;
    buf.clear();
    let _ = match *NAMES {
        Names::Plain => write!(buf, "/bench/{i}"),
        Names::Padded => write!(buf, "/bench/n{i:010}"),
        // 2,654,435,761 is prime, so i -> i * it mod n is a permutation unless n is
        // one of its multiples.
        Names::Shuffled => write!(buf, "/bench/n{:010}", (i as u64 * 2_654_435_761) % n as u64),
        Names::Tens => write!(buf, "/bench/g{:07}/n{}", i / 10, i % 10),
    };
    buf
}

fn build(n: usize, payloads: &[NodeData], acl: &[Acl]) -> DataTree {
    let mut t = DataTree::new();
    let mut tr = Vec::new();
    let mut buf = String::new();
    let _ = t.create_node("/bench", None, acl, 0, -1, 1, 1, &mut tr);
    for (i, d) in payloads.iter().enumerate().take(n) {
        if *NAMES == Names::Tens && i % 10 == 0 {
            let g = format!("/bench/g{:07}", i / 10);
            let r = t.create_node(&g, None, acl, 0, -1, 2 + i as i64, 1, &mut tr);
            assert!(r.is_ok(), "create {g}");
        }
        let p = path(&mut buf, i, n);
        let r = t.create_node(p, Some(d.clone()), acl, 0, -1, 2 + i as i64, 1, &mut tr);
        assert!(r.is_ok(), "create {p}");
        tr.clear();
    }
    t
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let per = |bytes: i64| bytes as f64 / n as f64;
    // Per node of the tree, parents included.
    let parents = if *NAMES == Names::Tens {
        n.div_ceil(10)
    } else {
        0
    };
    let per_node = |bytes: i64| bytes as f64 / (n + parents) as f64;
    let acl = Acl::open_unsafe();

    println!(
        "size_of Node {} B, of a znode's data handle (Option<NodeData>) {} B",
        std::mem::size_of::<ringkeeper::tree::Node>(),
        std::mem::size_of::<Option<NodeData>>()
    );
    let r0 = rss_bytes();
    let payloads: Vec<NodeData> = (0..n)
        .map(|i| NodeData::new(&[(i % 251) as u8; 100]))
        .collect();
    let r1 = rss_bytes();
    let payload_vec = (n * std::mem::size_of::<NodeData>()) as i64;
    println!(
        "payloads: {:.1} B/znode (of which {:.1} the Vec<NodeData> of this tool)",
        per(r1 - r0 - payload_vec) + per(payload_vec),
        per(payload_vec)
    );

    let t0 = cpu_ns();
    let a = build(n, &payloads, &acl);
    let build_ns = (cpu_ns() - t0) / n as f64;
    let r2 = rss_bytes();
    println!("tree: {:.1} B/znode", per_node(r2 - r1));

    // Gets in a scattered order (stride coprime with n), so caches do not help.
    let mut buf = String::new();
    let stride = 1_000_003 % n.max(1);
    let t0 = cpu_ns();
    let mut found = 0usize;
    let mut i = 0;
    for _ in 0..n {
        i = (i + stride) % n;
        found += a
            .get(path(&mut buf, i, n))
            .map_or(0, |x| x.stat().data_length as usize);
    }
    let get_ns = (cpu_ns() - t0) / n as f64;
    assert_eq!(found, n * 100);

    // A version: a clone (O(1)) that then diverges by a setData on every tenth znode
    // copies only the records on those paths (and the children map's nodes there).
    let mut b = a.clone();
    let mut tr = Vec::new();
    let changed = n.div_ceil(10);
    let t0 = cpu_ns();
    for i in (0..n).step_by(10) {
        let d = payloads.get(i).cloned();
        let r = b.set_data(path(&mut buf, i, n), d, 1, 5_000_000 + i as i64, 2, &mut tr);
        assert!(r.is_ok());
        tr.clear();
    }
    let set_ns = (cpu_ns() - t0) / changed as f64;
    let r3 = rss_bytes();
    println!(
        "a version diverged by {changed} setData: {:.1} B per changed znode",
        (r3 - r2) as f64 / changed as f64
    );
    // Dropping the older version frees what only it still holds: the records the
    // setData replaced (what a snapshot's pinned version frees when it ends).
    let t0 = cpu_ns();
    drop(a);
    println!(
        "dropping the older version (freeing the {changed} records it alone held): {:.1} ms",
        (cpu_ns() - t0) / 1e6
    );
    let t0 = cpu_ns();
    for i in 0..n {
        let r = b.delete_node(path(&mut buf, i, n), 10_000_000 + i as i64, &mut tr);
        assert!(r.is_ok());
        tr.clear();
    }
    let del_ns = (cpu_ns() - t0) / n as f64;
    println!(
        "CPU per op: create {build_ns:.0} ns, get {get_ns:.0} ns, setData on a shared \
         version {set_ns:.0} ns, delete {del_ns:.0} ns"
    );
    println!("VmRSS at its peak {:.1} MiB", r3 as f64 / 1048576.0);
}
