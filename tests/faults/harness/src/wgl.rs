//! Linearizability of CAS-register histories: the Wing–Gong search with Lowe's
//! memoisation (a cache of (linearized set, state) already explored), written from
//! Lowe, "Testing for linearizability" (2017), and split per znode (P-compositionality:
//! a history is linearizable iff each key's sub-history is).
//!
//! The model is a ZooKeeper znode's data: state = (data version, value). Reads, writes
//! and CAS results carry the version, so a history is checked against versions as well
//! as values. Info ops (unknown outcome) have no return event: the search may
//! linearize them anywhere after their invocation, or never (they did not take
//! effect); reads with an unknown outcome say nothing and are dropped.
//!
//! Info writes are first resolved from the version chain ([`resolve_info`]): most
//! never took effect and are dropped, which keeps the search near linear on long runs.
//! Every search is bounded by [`Limits`]: past it the verdict is `Unknown`, never a pass.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::chain::{self, Anomaly};
use crate::history::{Call, Op, Ret};

/// The register's state: data version and value. A run creates each znode with value 0,
/// so every key starts at (0, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    pub version: i32,
    pub value: u64,
}

pub const INITIAL: State = State {
    version: 0,
    value: 0,
};

/// The state after `op` if `op` can take effect in `s` with the result it returned.
/// For an info op: the state if it took effect (not taking effect is the search's
/// choice of never linearizing it).
pub fn step(s: State, call: Call, ret: Ret) -> Option<State> {
    let applied = |value| State {
        version: s.version.wrapping_add(1),
        value,
    };
    match (call, ret) {
        (Call::Read, Ret::Read { version, value }) => (s == State { version, value }).then_some(s),
        (Call::Read, _) => None,
        (Call::Write { value }, Ret::Written { version }) => {
            (version == s.version.wrapping_add(1)).then(|| applied(value))
        }
        (Call::Write { value }, Ret::Unknown) => Some(applied(value)),
        (
            Call::Cas {
                expect_version,
                value,
            },
            Ret::Written { version },
        ) => (s.version == expect_version && version == expect_version.wrapping_add(1))
            .then(|| applied(value)),
        (Call::Cas { expect_version, .. }, Ret::CasMismatch) => {
            (s.version != expect_version).then_some(s)
        }
        (
            Call::Cas {
                expect_version,
                value,
            },
            Ret::Unknown,
        ) => (s.version == expect_version).then(|| applied(value)),
        (Call::Write { .. } | Call::Cas { .. }, _) => None,
    }
}

/// Bounds on one key's search.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Memo entries (linearized set + state) at most before giving up with `Unknown`.
    pub cache_entries_max: usize,
    /// Bytes of memo at most (an entry holds a fingerprint of the linearized set and
    /// the state).
    pub cache_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cache_entries_max: 2_000_000,
            // 1 GiB: the machines this runs on have a few GiB and run builds beside.
            cache_bytes_max: 1 << 30,
        }
    }
}

/// One memo entry: the linearized set's fingerprint, the state, and the hash set's
/// bookkeeping (an estimate).
const MEMO_ENTRY_BYTES: usize = 64;

/// A random 128-bit key per op (fixed seed, so a verdict is reproducible): a linearized
/// set's fingerprint is the XOR of its ops' keys (Zobrist hashing), updated in O(1) as
/// ops are linearized and undone. Storing the fingerprint instead of the set's bitset
/// keeps a memo entry at a few words whatever the history's length (a 138,000-op key
/// made 17 KiB entries, and the memo bound stopped the search at 61,000 of them). Two
/// sets sharing a fingerprint (odds about entries² / 2^128) could only prune a branch,
/// never make a linearization up: a collision can turn a pass into a failure, never a
/// failure into a pass.
fn zobrist_keys(ops: usize) -> Vec<u128> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5a0b_7157);
    (0..ops).map(|_| rng.gen()).collect()
}

/// Where an info write or CAS may take effect, from the versions the history reveals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Not an info write: its result says where.
    Any,
    /// A read saw its (unique) value at this version: it made exactly that version.
    At(i32),
    /// Nobody saw its value: it can only have made a version that no other op
    /// accounts for (a gap below the highest version seen).
    Gap,
}

/// Resolves info writes from the version chain, as etcd patches its history: each
/// version up to the highest one seen is accounted for by an acknowledged write that
/// returned it or by a read that saw it. An info write whose value was read made that
/// version. One whose value nobody read cannot have made an accounted version (two
/// writes would share it, or a read would have seen its value), and taking effect after
/// every version seen is the same, to the checker, as never; so it is dropped when there
/// is no gap, and otherwise may only fill a gap. Returns the ops kept, their places, and
/// the gaps.
fn resolve_info(ops: Vec<Op>) -> (Vec<Op>, Vec<Place>, HashSet<i32>) {
    let mut accounted: HashSet<i32> = HashSet::new();
    let mut seen_at: HashMap<u64, i32> = HashMap::new();
    for op in &ops {
        match op.ret {
            Ret::Written { version } => {
                accounted.insert(version);
            }
            Ret::Read { version, value } => {
                accounted.insert(version);
                seen_at.entry(value).or_insert(version);
            }
            _ => {}
        }
    }
    let max = accounted.iter().copied().max().unwrap_or(0);
    let gaps: HashSet<i32> = (1..=max).filter(|v| !accounted.contains(v)).collect();
    let mut kept = Vec::with_capacity(ops.len());
    let mut places = Vec::with_capacity(ops.len());
    for op in ops {
        let place = match (op.ret, op.call) {
            (Ret::Unknown, Call::Write { value } | Call::Cas { value, .. }) => {
                match seen_at.get(&value) {
                    Some(v) => Place::At(*v),
                    None if gaps.is_empty() => continue,
                    None => Place::Gap,
                }
            }
            _ => Place::Any,
        };
        kept.push(op);
        places.push(place);
    }
    (kept, places, gaps)
}

/// One key's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No linearization exists. `stuck` is the op whose completion the deepest
    /// attempt could not get past (no order puts it after everything it must follow);
    /// `linearized` is how many ops that attempt had placed.
    NotLinearizable {
        stuck: Op,
        linearized: usize,
    },
    /// The search hit a limit.
    Unknown {
        reason: String,
    },
    /// Not linearizable, shown by a white-box anomaly ([`chain`]); the search was not
    /// run (on bad histories with many info ops it is the slow one).
    Anomalous,
}

/// The verdict of every key of a history, the white-box anomalies ([`chain`]), and
/// counts for the report.
#[derive(Debug, Clone)]
pub struct Report {
    pub keys: BTreeMap<u32, Verdict>,
    pub anomalies: BTreeMap<u32, Anomaly>,
    pub ops: usize,
    pub info_ops: usize,
}

impl Report {
    /// True when every key is linearizable and no white-box check found an anomaly
    /// (which, with a linearizable verdict, would be a bug in one of the checkers:
    /// either way not a pass).
    pub fn all_linearizable(&self) -> bool {
        self.anomalies.is_empty() && self.keys.values().all(|v| *v == Verdict::Linearizable)
    }
}

/// Checks every key of `ops` on its own.
pub fn check(ops: &[Op], limits: Limits) -> Report {
    let mut by_key: BTreeMap<u32, Vec<Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key).or_default().push(op.clone());
    }
    let anomalies: BTreeMap<u32, Anomaly> = by_key
        .iter()
        .filter_map(|(k, ops)| Some((*k, chain::check_register(ops)?)))
        .collect();
    let keys = by_key
        .iter()
        .map(|(k, ops)| {
            let v = if anomalies.contains_key(k) {
                Verdict::Anomalous
            } else {
                check_register(ops, limits)
            };
            (*k, v)
        })
        .collect();
    Report {
        keys,
        anomalies,
        ops: ops.len(),
        info_ops: ops.iter().filter(|o| o.is_info()).count(),
    }
}

/// The doubly linked list of call and return events the search walks. Index 0 is the
/// head sentinel; `END` marks the end.
struct Events {
    /// For each node: the op it belongs to, and whether it is the op's call.
    op: Vec<usize>,
    is_call: Vec<bool>,
    /// For a call node: its return node, if the op completed.
    ret_of: Vec<Option<usize>>,
    prev: Vec<usize>,
    next: Vec<usize>,
}

const END: usize = usize::MAX;
const HEAD: usize = 0;

impl Events {
    /// Calls and returns in time order; at equal times calls first, so that ops that
    /// touch are treated as concurrent (never a false "must follow").
    fn new(ops: &[Op]) -> Events {
        let mut evs: Vec<(u64, u8, usize)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            evs.push((op.invoke_ns, 0, i));
            if let Some(c) = op.complete_ns {
                evs.push((c, 1, i));
            }
        }
        evs.sort_unstable();
        let n = evs.len() + 1;
        let mut e = Events {
            op: vec![usize::MAX; n],
            is_call: vec![false; n],
            ret_of: vec![None; n],
            prev: vec![END; n],
            next: vec![END; n],
        };
        let mut call_node = vec![0usize; ops.len()];
        for (j, &(_, kind, i)) in evs.iter().enumerate() {
            let node = j + 1;
            e.op[node] = i;
            e.is_call[node] = kind == 0;
            if kind == 0 {
                call_node[i] = node;
            } else {
                e.ret_of[call_node[i]] = Some(node);
            }
            e.prev[node] = node - 1;
            e.next[node - 1] = node;
        }
        e
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != END {
            self.prev[n] = p;
        }
    }

    /// Undoes `unlink(node)`; valid when the unlinks after it were undone first.
    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != END {
            self.prev[n] = node;
        }
    }

    /// Takes a linearized op's call and return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if let Some(r) = self.ret_of[call] {
            self.unlink(r);
        }
    }

    fn unlift(&mut self, call: usize) {
        if let Some(r) = self.ret_of[call] {
            self.relink(r);
        }
        self.relink(call);
    }
}

/// Checks one register's history (all ops of one key).
pub fn check_register(ops: &[Op], limits: Limits) -> Verdict {
    // A read whose outcome is unknown constrains nothing.
    let ops: Vec<Op> = ops
        .iter()
        .filter(|o| !(o.call == Call::Read && o.is_info()))
        .cloned()
        .collect();
    let (ops, places, gaps) = resolve_info(ops);
    let entries_max = limits
        .cache_entries_max
        .min(limits.cache_bytes_max / MEMO_ENTRY_BYTES);
    let keys = zobrist_keys(ops.len());
    let mut ev = Events::new(&ops);
    let mut linearized: u128 = 0;
    let mut cache: HashSet<(u128, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = INITIAL;
    let mut ok_left = ops.iter().filter(|o| !o.is_info()).count();
    let mut entry = ev.next[HEAD];
    // The deepest attempt, for the failure report.
    let mut deepest = (0usize, None::<usize>);

    loop {
        if ok_left == 0 {
            return Verdict::Linearizable;
        }
        if entry != END && ev.is_call[entry] {
            let i = ev.op[entry];
            let placed = |n: State| match places[i] {
                Place::Any => true,
                Place::At(v) => n.version == v,
                Place::Gap => gaps.contains(&n.version),
            };
            if let Some(next) = step(state, ops[i].call, ops[i].ret).filter(|n| placed(*n)) {
                linearized ^= keys[i];
                if cache.insert((linearized, next)) {
                    if cache.len() > entries_max {
                        return Verdict::Unknown {
                            reason: format!(
                                "{} memo entries explored ({} ops)",
                                cache.len(),
                                ops.len()
                            ),
                        };
                    }
                    stack.push((entry, state));
                    state = next;
                    if !ops[i].is_info() {
                        ok_left -= 1;
                    }
                    ev.lift(entry);
                    entry = ev.next[HEAD];
                    continue;
                }
                linearized ^= keys[i];
            }
            entry = ev.next[entry];
            continue;
        }
        // A return of an op not yet linearized (or the end): this order fails here.
        if entry != END && stack.len() >= deepest.0 {
            deepest = (stack.len(), Some(ev.op[entry]));
        }
        let Some((call, prev_state)) = stack.pop() else {
            let stuck = deepest.1.unwrap_or(0);
            return Verdict::NotLinearizable {
                stuck: ops[stuck].clone(),
                linearized: deepest.0,
            };
        };
        let i = ev.op[call];
        linearized ^= keys[i];
        if !ops[i].is_info() {
            ok_left += 1;
        }
        state = prev_state;
        ev.unlift(call);
        entry = ev.next[call];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse;
    use rand::{Rng, SeedableRng};

    fn verdict(text: &str) -> Verdict {
        check_register(&parse(text).unwrap(), Limits::default())
    }

    fn rejects(text: &str) -> bool {
        matches!(verdict(text), Verdict::NotLinearizable { .. })
    }

    #[test]
    fn sequential_history_is_linearizable() {
        assert_eq!(
            verdict("0 1 0 1 w 5 ok 1\n0 1 2 3 r ok 1 5\n0 1 4 5 cas 1 6 ok 2\n0 1 6 7 cas 1 7 mismatch\n0 1 8 9 r ok 2 6\n"),
            Verdict::Linearizable
        );
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert_eq!(verdict(""), Verdict::Linearizable);
    }

    /// The canary: a read that returns the old value after a write was acknowledged.
    #[test]
    fn stale_read_after_acknowledged_write_is_rejected() {
        let v = verdict("0 1 0 10 w 5 ok 1\n0 2 20 30 r ok 0 0\n");
        match v {
            Verdict::NotLinearizable { stuck, .. } => assert_eq!(stuck.call, Call::Read),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn concurrent_read_may_see_either_value() {
        assert_eq!(
            verdict("0 1 0 10 w 5 ok 1\n0 2 5 30 r ok 0 0\n0 3 6 31 r ok 1 5\n"),
            Verdict::Linearizable
        );
        // ...but not old after new when the reads are ordered.
        assert!(rejects(
            "0 1 0 100 w 5 ok 1\n0 2 5 30 r ok 1 5\n0 3 40 50 r ok 0 0\n"
        ));
    }

    #[test]
    fn lost_acknowledged_write_is_rejected() {
        // Two acknowledged writes both claim version 1: one of them was lost.
        assert!(rejects("0 1 0 10 w 5 ok 1\n0 2 20 30 w 6 ok 1\n"));
    }

    #[test]
    fn a_definite_error_is_rejected() {
        assert!(rejects("0 1 0 10 r err -101\n"));
    }

    #[test]
    fn cas_mismatch_must_see_another_version() {
        assert!(rejects("0 1 0 10 cas 0 5 mismatch\n"));
        assert_eq!(
            verdict("0 1 0 10 w 4 ok 1\n0 2 20 30 cas 0 5 mismatch\n"),
            Verdict::Linearizable
        );
    }

    #[test]
    fn info_write_may_take_effect_late_or_never() {
        // Took effect after a later read: the second read sees it.
        assert_eq!(
            verdict("0 1 0 - w 5 ?\n0 2 10 20 r ok 0 0\n0 2 30 40 r ok 1 5\n"),
            Verdict::Linearizable
        );
        // Never took effect.
        assert_eq!(
            verdict("0 1 0 - w 5 ?\n0 2 10 20 r ok 0 0\n"),
            Verdict::Linearizable
        );
        // A value nobody wrote is still rejected.
        assert!(rejects("0 1 0 - w 5 ?\n0 2 10 20 r ok 1 6\n"));
        // ...and so is a value seen before its write was invoked.
        assert!(rejects("0 2 0 5 r ok 1 5\n0 1 10 - w 5 ?\n"));
    }

    #[test]
    fn info_writes_are_placed_by_the_version_chain() {
        // Unseen, but version 1 is nobody else's: it made it.
        assert_eq!(
            verdict("0 1 0 - w 5 ?\n0 2 10 20 w 6 ok 2\n"),
            Verdict::Linearizable
        );
        // Unseen and no gap: it never took effect (or after everything).
        assert_eq!(
            verdict("0 1 0 - w 5 ?\n0 2 10 20 w 6 ok 1\n0 2 30 40 r ok 1 6\n"),
            Verdict::Linearizable
        );
        // Seen at version 2: it made version 2, after the acknowledged write.
        assert_eq!(
            verdict("0 1 0 - w 5 ?\n0 2 10 20 w 6 ok 1\n0 3 30 40 r ok 2 5\n"),
            Verdict::Linearizable
        );
        // Seen at version 1, which an acknowledged write also made.
        assert!(rejects(
            "0 1 0 - w 5 ?\n0 2 10 20 r ok 1 5\n0 3 30 40 w 6 ok 1\n"
        ));
        // A gap nobody can fill.
        assert!(rejects("0 1 0 10 w 5 ok 1\n0 2 20 30 w 6 ok 3\n"));
    }

    #[test]
    fn info_cas_takes_effect_only_on_its_version() {
        assert!(rejects("0 1 0 - cas 3 5 ?\n0 2 10 20 r ok 1 5\n"));
        assert_eq!(
            verdict("0 1 0 - cas 0 5 ?\n0 2 10 20 r ok 1 5\n"),
            Verdict::Linearizable
        );
    }

    #[test]
    fn keys_are_checked_apart() {
        let ops = parse("0 1 0 10 w 5 ok 1\n1 2 20 30 r ok 0 0\n0 3 40 50 r ok 1 5\n").unwrap();
        let r = check(&ops, Limits::default());
        assert!(r.all_linearizable());
        let ops = parse("0 1 0 10 w 5 ok 1\n1 2 20 30 r ok 1 5\n").unwrap();
        let r = check(&ops, Limits::default());
        assert_eq!(r.keys[&0], Verdict::Linearizable);
        assert_eq!(r.keys[&1], Verdict::Anomalous);
        assert!(!r.all_linearizable());
    }

    #[test]
    fn the_limit_gives_unknown_not_a_pass() {
        let text =
            "0 1 0 100 w 5 ok 1\n0 2 1 100 w 6 ok 2\n0 3 2 100 w 7 ok 3\n0 4 200 300 r ok 9 9\n";
        let v = check_register(
            &parse(text).unwrap(),
            Limits {
                cache_entries_max: 2,
                cache_bytes_max: 1 << 20,
            },
        );
        assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
    }

    /// A soak's key: 200,000 ops, a few of them crashed. The memo must not grow with the
    /// history's length per entry (a bitset of every op made this Unknown at 42,000
    /// entries, under the default 1 GiB).
    #[test]
    fn a_soaks_long_history_is_checked_whole_under_the_default_limits() {
        let ops = generated(7, 5, 40_000, 0.001);
        assert_eq!(ops.len(), 200_000);
        assert_eq!(
            check_register(&ops, Limits::default()),
            Verdict::Linearizable
        );
    }

    /// Builds a history from a real linearization: `clients` processes run ops whose
    /// effects happen at a random point inside their interval, some crash (info), and
    /// every result is computed from the true order. It must pass; then one read is
    /// corrupted to a value nobody wrote, or made stale, and it must fail.
    fn generated(seed: u64, clients: usize, ops_per_client: usize, crash_p: f64) -> Vec<Op> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Each op: (invoke, linearization point, complete), then apply in point order.
        struct Plan {
            process: u64,
            invoke: u64,
            point: u64,
            complete: u64,
            call: Call,
            crashed: bool,
            applies: bool,
        }
        let mut plans = Vec::new();
        let mut value = 1u64;
        for c in 0..clients {
            let mut t = rng.gen_range(0..50u64);
            for _ in 0..ops_per_client {
                let invoke = t;
                let complete = invoke + rng.gen_range(1..200u64);
                let point = rng.gen_range(invoke..=complete);
                let call = match rng.gen_range(0..3) {
                    0 => Call::Read,
                    1 => {
                        value += 1;
                        Call::Write { value }
                    }
                    _ => {
                        value += 1;
                        Call::Cas {
                            expect_version: rng.gen_range(0..(plans.len() as i32 / 3 + 2)),
                            value,
                        }
                    }
                };
                let crashed = rng.gen_bool(crash_p);
                plans.push(Plan {
                    process: c as u64,
                    invoke,
                    point,
                    complete,
                    call,
                    crashed,
                    applies: !crashed || rng.gen_bool(0.5),
                });
                t = complete + rng.gen_range(1..30u64);
            }
        }
        let mut order: Vec<usize> = (0..plans.len()).collect();
        order.sort_by_key(|&i| plans[i].point);
        let mut s = INITIAL;
        let mut ops = vec![None; plans.len()];
        for i in order {
            let p = &plans[i];
            let ret = match p.call {
                Call::Read => Ret::Read {
                    version: s.version,
                    value: s.value,
                },
                Call::Write { value } => {
                    if p.applies {
                        s = State {
                            version: s.version + 1,
                            value,
                        };
                    }
                    Ret::Written { version: s.version }
                }
                Call::Cas {
                    expect_version,
                    value,
                } => {
                    if s.version == expect_version {
                        if p.applies {
                            s = State {
                                version: s.version + 1,
                                value,
                            };
                        }
                        Ret::Written { version: s.version }
                    } else {
                        Ret::CasMismatch
                    }
                }
            };
            ops[i] = Some(Op {
                key: 0,
                process: p.process,
                invoke_ns: p.invoke,
                complete_ns: (!p.crashed).then_some(p.complete),
                call: p.call,
                ret: if p.crashed { Ret::Unknown } else { ret },
                server: None,
            });
        }
        ops.into_iter().flatten().collect()
    }

    #[test]
    fn generated_linearizable_histories_pass_and_corrupted_ones_fail() {
        for seed in 0..60 {
            // A third of the seeds crash many ops: the info resolution must stay sound.
            let crash_p = if seed % 3 == 0 { 0.3 } else { 0.05 };
            // Where the search alone may give up, it should do so fast.
            let limits = if crash_p < 0.1 {
                Limits::default()
            } else {
                Limits {
                    cache_entries_max: 20_000,
                    ..Limits::default()
                }
            };
            let ops = generated(seed, 5, 60, crash_p);
            assert_eq!(
                check_register(&ops, Limits::default()),
                Verdict::Linearizable,
                "seed {seed}"
            );
            // A read of a value nobody wrote.
            let mut bad = ops.clone();
            let r = bad
                .iter()
                .rposition(|o| o.call == Call::Read && !o.is_info())
                .unwrap();
            bad[r].ret = Ret::Read {
                version: 1_000,
                value: 999_999,
            };
            assert!(chain::check_register(&ops).is_none(), "seed {seed}");
            assert!(chain::check_register(&bad).is_some(), "seed {seed}");
            assert!(!check(&bad, Limits::default()).all_linearizable());
            // Never a pass from the search alone; with few info ops, a definite no.
            let v = check_register(&bad, limits);
            assert_ne!(v, Verdict::Linearizable, "seed {seed}");
            if crash_p < 0.1 {
                assert!(
                    matches!(v, Verdict::NotLinearizable { .. }),
                    "seed {seed}: {v:?}"
                );
            }
            // A stale read: the initial state, long after acknowledged writes.
            let mut stale = ops.clone();
            let end = stale
                .iter()
                .filter_map(|o| o.complete_ns)
                .max()
                .unwrap_or(0);
            if stale
                .iter()
                .any(|o| matches!(o.ret, Ret::Written { .. }) && o.complete_ns.is_some())
            {
                stale.push(Op {
                    key: 0,
                    process: 99,
                    invoke_ns: end + 10,
                    complete_ns: Some(end + 20),
                    call: Call::Read,
                    ret: Ret::Read {
                        version: 0,
                        value: 0,
                    },
                    server: None,
                });
                // The search alone, where info ops are few (with many, a bad history
                // can exhaust its memo: `check` then relies on the chain's anomaly).
                let v = check_register(&stale, limits);
                assert_ne!(v, Verdict::Linearizable, "seed {seed}");
                if crash_p < 0.1 {
                    assert!(
                        matches!(v, Verdict::NotLinearizable { .. }),
                        "seed {seed}: {v:?}"
                    );
                }
                assert!(!check(&stale, Limits::default()).all_linearizable());
                assert!(chain::check_register(&stale).is_some(), "seed {seed}");
            }
        }
    }
}
