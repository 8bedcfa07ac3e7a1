//! CPU cost of the txn digest on the write path, through the public API.
//!
//! `cargo run --release --example digest_cost [N]` (default 100,000 znodes of 100
//! bytes under `/bench`): times N setData txns applied with `txn::apply` on a tree
//! with `digest.enabled` off, on, and on twice (what a leader does: the committed tree
//! and the tree `ahead` it predicts the PROPOSAL's digest on), each on a version
//! shared with a reader as the server's trees are, and prints ns per txn.

use std::time::Instant;

use ringkeeper::proto::{Acl, NodeData};
use ringkeeper::tree::DataTree;
use ringkeeper::txn::{apply, SetDataTxn, Txn, TxnHeader};

fn build(n: usize) -> DataTree {
    let mut t = DataTree::new();
    let mut triggers = Vec::new();
    let payload = NodeData::new(&[7u8; 100]);
    let acl = Acl::open_unsafe();
    let _ = t.create_node("/bench", None, &acl, 0, -1, 1, 0, &mut triggers);
    for i in 0..n {
        let path = format!("/bench/n{i:010}");
        let _ = t.create_node(
            &path,
            Some(payload.clone()),
            &acl,
            0,
            -1,
            2,
            0,
            &mut triggers,
        );
        triggers.clear();
    }
    t
}

fn txns(n: usize) -> Vec<(TxnHeader, Txn)> {
    let data = NodeData::new(&[9u8; 100]);
    (0..n)
        .map(|i| {
            let txn = Txn::SetData(SetDataTxn {
                path: format!("/bench/n{:010}", (i * 7919) % n),
                data: Some(data.clone()),
                version: 1,
            });
            (TxnHeader::for_txn(1, 0, 100 + i as i64, 0, &txn), txn)
        })
        .collect()
}

/// ns per txn of applying `txns` to `trees` copies of `base` (each kept shared with a
/// reader's version, so every change copies its path as in the server).
fn run(base: &DataTree, trees: usize, txns: &[(TxnHeader, Txn)]) -> f64 {
    let mut ts: Vec<DataTree> = (0..trees).map(|_| base.clone()).collect();
    let _readers: Vec<_> = ts.iter().map(|t| t.version()).collect();
    let start = Instant::now();
    for (hdr, txn) in txns {
        for t in ts.iter_mut() {
            apply(t, hdr, txn);
        }
    }
    start.elapsed().as_nanos() as f64 / txns.len() as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut off = build(n);
    off.set_digest_enabled(false);
    let on = build(n);
    let txns = txns(n);
    for round in 1..=3 {
        let a = run(&off, 1, &txns);
        let b = run(&on, 1, &txns);
        let c = run(&on, 2, &txns);
        println!(
            "round {round}: setData apply, digest off {a:.0} ns, on {b:.0} ns (+{:.0}), \
             on + the leader's ahead tree {c:.0} ns (+{:.0})",
            b - a,
            c - a
        );
    }
}
