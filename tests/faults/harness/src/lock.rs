//! The lock recipe: a session creates an ephemeral sequential `/rkf/lock/l-<seq>`,
//! lists the parent (`sync` + `getChildren`) until its node is the lowest, then holds
//! the lock: reads the counter `/rkf/counter` and writes it + 1 with the version it
//! read (a fenced write), and releases by deleting its node. Checks, per *hold*:
//!
//! - **two holders**: hold B's listing was invoked after hold A learned it held the
//!   lock, and B learned it held before A's release was invoked, while A's release
//!   was acknowledged (A's session lived, so its node was there all along, lower than
//!   any node created after A's listing, and B could not have been lowest);
//! - **fence**: two acknowledged counter writes from the same value (an update lost
//!   to a second holder), or the fenced write of a hold whose release was
//!   acknowledged refused with BadVersion (someone wrote the counter during the hold:
//!   only holders write it, and a holder's requests cannot land after its session's
//!   node is gone).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::anomalies::Anomalies;
use crate::textform::Line;

/// The fenced write's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fence {
    /// Written: the counter went from `from` to `from + 1`.
    Written { from: u64 },
    /// Refused: the counter's version was not the one read.
    Refused,
    /// Not attempted (the read failed) or unknown outcome.
    Unknown,
}

/// One hold of the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub seq: u64,
    /// The listing that showed this node lowest was invoked here...
    pub list_invoke_ns: u64,
    /// ...and answered here.
    pub acquired_ns: u64,
    pub release_invoke_ns: u64,
    /// The delete of the node was acknowledged.
    pub release_ok: bool,
    pub fence: Fence,
}

/// What the lock's history showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockReport {
    pub holds: usize,
    pub writes: usize,
    pub anomalies: Anomalies,
}

impl LockReport {
    pub fn ok(&self) -> bool {
        self.anomalies.ok()
    }

    pub fn describe(&self) -> String {
        self.anomalies.describe(
            &format!(
                "lock: {} holds, {} fenced writes acknowledged",
                self.holds, self.writes
            ),
            "one holder at a time, no fenced write lost",
        )
    }
}

pub fn check(holds: &[Hold]) -> LockReport {
    let mut report = LockReport {
        holds: holds.len(),
        writes: holds
            .iter()
            .filter(|h| matches!(h.fence, Fence::Written { .. }))
            .count(),
        ..LockReport::default()
    };
    let mut note = |line: String| report.anomalies.note(line);
    // Two holders: sorted by acquisition, each B against the A's whose hold it may
    // overlap (A acquired before B's listing was invoked).
    let mut by_acq: Vec<&Hold> = holds.iter().collect();
    by_acq.sort_by_key(|h| h.acquired_ns);
    for b in &by_acq {
        let overlapping = by_acq
            .iter()
            .take_while(|a| a.acquired_ns < b.list_invoke_ns)
            .filter(|a| a.release_ok && a.seq != b.seq && b.acquired_ns < a.release_invoke_ns);
        for a in overlapping {
            note(format!(
                "two holders: seq {} held {}..{} ns (released, acknowledged) while seq {} \
                 listed at {} ns and held from {} ns",
                a.seq, a.acquired_ns, a.release_invoke_ns, b.seq, b.list_invoke_ns, b.acquired_ns
            ));
        }
    }
    let mut from_value: HashMap<u64, &Hold> = HashMap::new();
    for h in holds {
        match h.fence {
            Fence::Written { from } => {
                if let Some(other) = from_value.insert(from, h) {
                    note(format!(
                        "fence: holds seq {} and seq {} both wrote the counter from {from}",
                        other.seq, h.seq
                    ));
                }
            }
            Fence::Refused if h.release_ok => note(format!(
                "fence: the counter changed during the hold of seq {} ({}..{} ns)",
                h.seq, h.acquired_ns, h.release_invoke_ns
            )),
            _ => {}
        }
    }
    report
}

/// One line per hold: `hold SEQ LIST_INVOKE ACQUIRED RELEASE_INVOKE ok|? FENCE` with
/// FENCE `w FROM`, `refused` or `?` (`ringkeeper-faults check-lock`).
pub fn to_text(holds: &[Hold]) -> String {
    let mut out = String::new();
    for h in holds {
        let fence = match h.fence {
            Fence::Written { from } => format!("w {from}"),
            Fence::Refused => "refused".into(),
            Fence::Unknown => "?".into(),
        };
        let _ = writeln!(
            out,
            "hold {} {} {} {} {} {fence}",
            h.seq,
            h.list_invoke_ns,
            h.acquired_ns,
            h.release_invoke_ns,
            if h.release_ok { "ok" } else { "?" }
        );
    }
    out
}

pub fn parse_text(text: &str) -> Result<Vec<Hold>, String> {
    let mut holds = Vec::new();
    for l in Line::all(text) {
        if l.kind() != "hold" {
            return Err(l.bad("unknown line"));
        }
        holds.push(Hold {
            seq: l.num(1)?,
            list_invoke_ns: l.num(2)?,
            acquired_ns: l.num(3)?,
            release_invoke_ns: l.num(4)?,
            release_ok: match l.word(5) {
                Some("ok") => true,
                Some("?") => false,
                _ => return Err(l.bad("ok or ?")),
            },
            fence: match l.word(6) {
                Some("w") => Fence::Written { from: l.num(7)? },
                Some("refused") => Fence::Refused,
                Some("?") => Fence::Unknown,
                _ => return Err(l.bad("unknown fence")),
            },
        });
    }
    Ok(holds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(seq: u64, list: u64, acq: u64, rel: u64, fence: Fence) -> Hold {
        Hold {
            seq,
            list_invoke_ns: list,
            acquired_ns: acq,
            release_invoke_ns: rel,
            release_ok: true,
            fence,
        }
    }

    /// Three holds one after another, counter 0 → 3; a fourth whose release was
    /// unknown, overlapped by the next (its session may have expired).
    fn good() -> Vec<Hold> {
        let mut lost = hold(4, 35, 40, 50, Fence::Unknown);
        lost.release_ok = false;
        vec![
            hold(1, 0, 5, 10, Fence::Written { from: 0 }),
            hold(2, 8, 12, 20, Fence::Written { from: 1 }),
            hold(3, 15, 22, 30, Fence::Written { from: 2 }),
            lost,
            hold(5, 42, 45, 60, Fence::Written { from: 3 }),
        ]
    }

    #[test]
    fn a_good_history_passes_and_round_trips() {
        let h = good();
        let r = check(&h);
        assert!(r.ok(), "{r:?}");
        assert_eq!(parse_text(&to_text(&h)).unwrap(), h);
    }

    #[test]
    fn two_holders_at_once_are_found() {
        let mut h = good();
        // Seq 3 listed after seq 2 acquired and held before seq 2 released.
        h[2] = hold(3, 13, 15, 30, Fence::Written { from: 2 });
        let r = check(&h);
        assert_eq!(r.anomalies.count, 1, "{r:?}");
        assert!(
            r.anomalies.listed[0].starts_with("two holders: seq 2"),
            "{r:?}"
        );
    }

    #[test]
    fn a_broken_fence_is_found() {
        let mut h = good();
        h[2].fence = Fence::Written { from: 1 };
        let r = check(&h);
        assert!(r
            .anomalies
            .listed
            .iter()
            .any(|a| a.contains("both wrote the counter from 1")));
        let mut h = good();
        h[1].fence = Fence::Refused;
        let r = check(&h);
        assert!(r
            .anomalies
            .listed
            .iter()
            .any(|a| a.starts_with("fence: the counter changed")));
    }
}
