//! White-box checks of one register's history from the data versions in the replies,
//! in O(n log n): necessary conditions of linearizability that name the anomaly
//! (lost write, stale read, a value nobody wrote) and still answer when the WGL search
//! ([`crate::wgl`]) hits its limit. They do not replace it: WGL also checks that one
//! order explains every result at once.
//!
//! For a znode created at version 0 with value 0 whose every change is a setData:
//! 1. Each version is made by one write: two acknowledged writes returning the same
//!    version mean one of them was lost.
//! 2. A read of (version v, value x) names the write of x (values are unique): that
//!    write must not have been acknowledged with another version, and x must have been
//!    written by someone (or be the initial 0 at version 0).
//! 3. Versions never go back in real time: an op invoked after another op completed
//!    sees at least that op's version (a write or CAS, strictly more).

use std::collections::HashMap;

use crate::history::{Call, Op, Ret};

/// The first anomaly found, with the ops involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub what: String,
    pub ops: Vec<Op>,
}

/// The version an op observed or made, if it completed with one.
fn version_of(op: &Op) -> Option<i32> {
    match op.ret {
        Ret::Read { version, .. } | Ret::Written { version } => Some(version),
        _ => None,
    }
}

fn value_of(call: Call) -> Option<u64> {
    match call {
        Call::Read => None,
        Call::Write { value } | Call::Cas { value, .. } => Some(value),
    }
}

/// Checks one key's ops; `None` when no anomaly is found.
pub fn check_register(ops: &[Op]) -> Option<Anomaly> {
    // 1. One write per version.
    let mut made: HashMap<i32, &Op> = HashMap::new();
    for op in ops {
        if let (Ret::Written { version }, Some(_)) = (op.ret, value_of(op.call)) {
            if let Some(other) = made.insert(version, op) {
                return Some(Anomaly {
                    what: format!("two acknowledged writes both made version {version}"),
                    ops: vec![other.clone(), op.clone()],
                });
            }
        }
    }
    // 2. Reads name a write that fits.
    let mut writer: HashMap<u64, &Op> = HashMap::new();
    for op in ops {
        if let Some(v) = value_of(op.call) {
            writer.insert(v, op);
        }
    }
    for op in ops {
        let Ret::Read { version, value } = op.ret else {
            continue;
        };
        if version == 0 && value == 0 {
            continue;
        }
        let Some(w) = writer.get(&value) else {
            return Some(Anomaly {
                what: format!("a read saw value {value} at version {version}, which nobody wrote"),
                ops: vec![op.clone()],
            });
        };
        let fits = match w.ret {
            Ret::Written { version: wv } => wv == version,
            Ret::Unknown => made.get(&version).is_none_or(|m| std::ptr::eq(*m, *w)),
            _ => false,
        };
        if !fits || w.invoke_ns > op.complete_ns.unwrap_or(u64::MAX) {
            return Some(Anomaly {
                what: format!(
                    "a read saw value {value} at version {version}, which its write does not explain"
                ),
                ops: vec![(*w).clone(), op.clone()],
            });
        }
    }
    // 3. Versions do not go back in real time: sweep invocations in time order against
    // the largest version of the ops completed before them.
    let mut done: Vec<(u64, i32, usize)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((o.complete_ns?, version_of(o)?, i)))
        .collect();
    done.sort_unstable();
    let mut by_invoke: Vec<usize> = (0..ops.len())
        .filter(|&i| version_of(&ops[i]).is_some())
        .collect();
    by_invoke.sort_unstable_by_key(|&i| ops[i].invoke_ns);
    let mut j = 0;
    let mut max: Option<(i32, usize)> = None;
    for i in by_invoke {
        while j < done.len() && done[j].0 < ops[i].invoke_ns {
            if max.is_none_or(|(v, _)| done[j].1 > v) {
                max = Some((done[j].1, done[j].2));
            }
            j += 1;
        }
        let (Some((before, b)), Some(v)) = (max, version_of(&ops[i])) else {
            continue;
        };
        let writes = matches!(ops[i].ret, Ret::Written { .. });
        if v < before || (writes && v == before) {
            return Some(Anomaly {
                what: format!(
                    "version went back: {} at version {v} after version {before} was acknowledged",
                    if writes {
                        "a write landed"
                    } else {
                        "a read saw"
                    }
                ),
                ops: vec![ops[b].clone(), ops[i].clone()],
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse;

    fn check(text: &str) -> Option<Anomaly> {
        check_register(&parse(text).unwrap())
    }

    #[test]
    fn a_linearizable_history_has_no_anomaly() {
        assert_eq!(
            check("0 1 0 10 w 5 ok 1\n0 2 5 30 r ok 0 0\n0 3 20 40 r ok 1 5\n0 1 50 60 cas 1 6 ok 2\n0 4 55 - w 7 ?\n0 2 70 80 r ok 3 7\n"),
            None
        );
    }

    #[test]
    fn stale_read_is_found() {
        let a = check("0 1 0 10 w 5 ok 1\n0 2 20 30 r ok 0 0\n").unwrap();
        assert!(a.what.starts_with("version went back"), "{a:?}");
    }

    #[test]
    fn lost_write_is_found() {
        let a = check("0 1 0 10 w 5 ok 1\n0 2 20 30 w 6 ok 1\n").unwrap();
        assert!(a.what.starts_with("two acknowledged writes"), "{a:?}");
    }

    #[test]
    fn phantom_and_misplaced_values_are_found() {
        assert!(check("0 2 20 30 r ok 1 9\n")
            .unwrap()
            .what
            .contains("nobody wrote"));
        assert!(check("0 1 0 10 w 5 ok 2\n0 2 20 30 r ok 1 5\n")
            .unwrap()
            .what
            .contains("does not explain"));
        // Seen before its write was invoked.
        assert!(check("0 2 0 10 r ok 1 5\n0 1 20 - w 5 ?\n")
            .unwrap()
            .what
            .contains("does not explain"));
    }
}
