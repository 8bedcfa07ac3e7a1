//! The grow-only set: elements are znodes created under one parent (one create per
//! element, unique names), reads are `sync` then `getChildren`, and after the faults
//! are healed a final read. Checks, per element (Jepsen's "set-full" rules):
//!
//! - **lost**: an element whose create was acknowledged, or that a read already
//!   returned, is missing from a read invoked after that;
//! - **phantom**: a read returns an element that was never added, or whose create was
//!   invoked only after the read completed;
//! - every acknowledged create is in the final read.
//!
//! A create with an unknown outcome may be present or not, but once seen it must stay.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::anomalies::Anomalies;

/// One create of element `element`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Add {
    pub element: u64,
    pub invoke_ns: u64,
    /// `None`: unknown outcome (or a definite failure, kept in `failed`).
    pub complete_ns: Option<u64>,
    /// The server refused the create (it did not happen).
    pub failed: bool,
}

/// One read of the whole set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub invoke_ns: u64,
    pub complete_ns: u64,
    /// Element names that did not parse are `u64::MAX` (always a phantom).
    pub elements: BTreeSet<u64>,
}

/// What the set's history showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetReport {
    pub adds: usize,
    pub acknowledged: usize,
    pub reads: usize,
    /// One per lost element, one per phantom element and read.
    pub anomalies: Anomalies,
}

/// Reads that missed one element known to be in.
struct Lost {
    since_ns: u64,
    reads: usize,
    first_ns: u64,
    last_ns: u64,
}

impl SetReport {
    pub fn ok(&self) -> bool {
        self.anomalies.ok()
    }

    pub fn describe(&self) -> String {
        self.anomalies.describe(
            &format!(
                "set: {} adds ({} acknowledged), {} reads",
                self.adds, self.acknowledged, self.reads
            ),
            "no element lost, none unexpected",
        )
    }
}

/// Checks the set history; `final_read` is the read after healing (required: without
/// it nothing says the acknowledged elements survived).
pub fn check(adds: &[Add], reads: &[Read], final_read: &Read) -> SetReport {
    let mut report = SetReport {
        adds: adds.len(),
        acknowledged: adds
            .iter()
            .filter(|a| a.complete_ns.is_some() && !a.failed)
            .count(),
        reads: reads.len() + 1,
        ..SetReport::default()
    };
    let mut note = |line: String| report.anomalies.note(line);
    let by_element: HashMap<u64, &Add> = adds.iter().map(|a| (a.element, a)).collect();
    // When each element became known to be in: its ack, or the first read showing it.
    let mut known_at: BTreeMap<u64, u64> = BTreeMap::new();
    let mut lost: BTreeMap<u64, Lost> = BTreeMap::new();
    for a in adds {
        if let (Some(c), false) = (a.complete_ns, a.failed) {
            known_at.insert(a.element, c);
        }
    }
    let all_reads: Vec<&Read> = reads.iter().chain(std::iter::once(final_read)).collect();
    for r in &all_reads {
        for e in &r.elements {
            let t = known_at.entry(*e).or_insert(r.complete_ns);
            *t = (*t).min(r.complete_ns);
        }
    }
    for r in &all_reads {
        for e in &r.elements {
            match by_element.get(e) {
                None => note(format!(
                    "phantom: element {e} was never added (read at {} ns)",
                    r.invoke_ns
                )),
                Some(a) if a.failed => note(format!(
                    "phantom: element {e}'s create was refused, yet a read at {} ns returned it",
                    r.invoke_ns
                )),
                Some(a) if a.invoke_ns > r.complete_ns => note(format!(
                    "phantom: element {e} read at {}..{} ns before its create was invoked at {} ns",
                    r.invoke_ns, r.complete_ns, a.invoke_ns
                )),
                Some(_) => {}
            }
        }
        for (e, t) in &known_at {
            if *t < r.invoke_ns && !r.elements.contains(e) {
                let l = lost.entry(*e).or_insert(Lost {
                    since_ns: *t,
                    reads: 0,
                    first_ns: r.invoke_ns,
                    last_ns: r.invoke_ns,
                });
                l.reads += 1;
                l.first_ns = l.first_ns.min(r.invoke_ns);
                l.last_ns = l.last_ns.max(r.invoke_ns);
            }
        }
    }
    // One line per lost element. Every acknowledged element is covered: the final read
    // is invoked after every create returned.
    for (e, l) in &lost {
        let end = if final_read.elements.contains(e) {
            "back in the final read"
        } else {
            "missing from the final read too"
        };
        note(format!(
            "lost: element {e}, in since {} ns, missing from {} reads invoked {}..{} ns; {end}",
            l.since_ns, l.reads, l.first_ns, l.last_ns
        ));
    }
    report
}

/// The set history as text, to keep beside `history.txt` and check again
/// (`ringkeeper-faults check-set`). One line per op: `add ELEMENT INVOKE COMPLETE|- ok|fail|?`,
/// `read INVOKE COMPLETE RANGES`, and last `final INVOKE COMPLETE RANGES`; RANGES lists
/// the elements read as `a-b` runs and single values, comma-separated (`-` if none):
/// elements of one session are consecutive numbers, so a read of thousands is a few runs.
pub fn to_text(adds: &[Add], reads: &[Read], final_read: &Read) -> String {
    let mut out = String::new();
    for a in adds {
        let c = a.complete_ns.map_or("-".to_string(), |c| c.to_string());
        let r = match (a.complete_ns, a.failed) {
            (_, true) => "fail",
            (Some(_), false) => "ok",
            (None, false) => "?",
        };
        let _ = writeln!(out, "add {} {} {c} {r}", a.element, a.invoke_ns);
    }
    for (kind, r) in reads
        .iter()
        .map(|r| ("read", r))
        .chain(std::iter::once(("final", final_read)))
    {
        let _ = writeln!(
            out,
            "{kind} {} {} {}",
            r.invoke_ns,
            r.complete_ns,
            ranges(&r.elements)
        );
    }
    out
}

fn ranges(elements: &BTreeSet<u64>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut it = elements.iter().copied().peekable();
    while let Some(a) = it.next() {
        let mut b = a;
        while it.peek() == Some(&(b.wrapping_add(1))) {
            b += 1;
            it.next();
        }
        parts.push(if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        });
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(",")
    }
}

/// Elements read at most per line of the text form (a guard on hostile input; a run
/// adds at most `workload::SET_ELEMENTS_MAX`).
const ELEMENTS_PER_READ_MAX: u64 = 10_000_000;

/// Parses [`to_text`]'s form.
pub fn parse_text(text: &str) -> Result<(Vec<Add>, Vec<Read>, Read), String> {
    let mut adds = Vec::new();
    let mut reads = Vec::new();
    let mut final_read = None;
    for (n, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", n + 1);
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let num = |j: usize| -> Result<u64, String> {
            f.get(j)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("not a number"))
        };
        match f[0] {
            "add" => adds.push(Add {
                element: num(1)?,
                invoke_ns: num(2)?,
                complete_ns: if f.get(3) == Some(&"-") {
                    None
                } else {
                    Some(num(3)?)
                },
                failed: match f.get(4) {
                    Some(&"fail") => true,
                    Some(&"ok") | Some(&"?") => false,
                    _ => return Err(bad("unknown result")),
                },
            }),
            "read" | "final" => {
                let mut elements = BTreeSet::new();
                let spec = f.get(3).ok_or_else(|| bad("no elements"))?;
                for part in spec.split(',').filter(|p| *p != "-") {
                    let (a, b) = match part.split_once('-') {
                        Some((a, b)) => (a, b),
                        None => (part, part),
                    };
                    let (a, b): (u64, u64) = (
                        a.parse().map_err(|_| bad("bad range"))?,
                        b.parse().map_err(|_| bad("bad range"))?,
                    );
                    if b < a || b - a >= ELEMENTS_PER_READ_MAX {
                        return Err(bad("bad range"));
                    }
                    elements.extend(a..=b);
                }
                let r = Read {
                    invoke_ns: num(1)?,
                    complete_ns: num(2)?,
                    elements,
                };
                if f[0] == "final" {
                    final_read = Some(r);
                } else {
                    reads.push(r);
                }
            }
            _ => return Err(bad("unknown line")),
        }
    }
    let final_read = final_read.ok_or("no final read")?;
    Ok((adds, reads, final_read))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(element: u64, invoke_ns: u64, complete_ns: Option<u64>) -> Add {
        Add {
            element,
            invoke_ns,
            complete_ns,
            failed: false,
        }
    }

    fn read(invoke_ns: u64, complete_ns: u64, elements: &[u64]) -> Read {
        Read {
            invoke_ns,
            complete_ns,
            elements: elements.iter().copied().collect(),
        }
    }

    #[test]
    fn a_good_history_passes() {
        let adds = [add(1, 0, Some(10)), add(2, 5, None), add(3, 20, Some(30))];
        let reads = [read(11, 12, &[1]), read(25, 35, &[1, 2, 3])];
        let r = check(&adds, &reads, &read(100, 110, &[1, 2, 3]));
        assert!(r.ok(), "{r:?}");
        // An unknown create may also never appear.
        let r = check(&adds[..1], &[], &read(100, 110, &[1]));
        assert!(r.ok(), "{r:?}");
    }

    #[test]
    fn an_acknowledged_element_missing_later_is_lost() {
        let adds = [add(1, 0, Some(10))];
        let r = check(&adds, &[read(20, 30, &[])], &read(100, 110, &[1]));
        assert_eq!(r.anomalies.count, 1, "{r:?}");
        let r = check(&adds, &[], &read(100, 110, &[]));
        assert!(!r.ok());
    }

    #[test]
    fn an_element_seen_then_gone_is_lost() {
        // Unknown create, seen once, then missing.
        let adds = [add(1, 0, None)];
        let r = check(
            &adds,
            &[read(10, 20, &[1]), read(30, 40, &[])],
            &read(100, 110, &[1]),
        );
        assert_eq!(r.anomalies.count, 1, "{r:?}");
    }

    #[test]
    fn text_form_round_trips() {
        let adds = [
            add(1, 0, Some(10)),
            add(2, 5, None),
            Add {
                failed: true,
                ..add(9, 6, Some(7))
            },
        ];
        let reads = [read(11, 12, &[1]), read(25, 35, &[])];
        let fin = read(100, 110, &[1, 2, 3, 5, 6, 7]);
        let text = to_text(&adds, &reads, &fin);
        assert!(text.contains("final 100 110 1-3,5-7\n"), "{text}");
        let (a, r, f) = parse_text(&text).unwrap();
        assert_eq!(
            (a.as_slice(), r.as_slice(), &f),
            (&adds[..], &reads[..], &fin)
        );
        assert!(parse_text("read 1 2 5-1\nfinal 1 2 -\n").is_err());
    }

    #[test]
    fn phantoms_are_found() {
        let r = check(&[], &[], &read(100, 110, &[7]));
        assert!(!r.ok());
        let r = check(
            &[add(1, 50, Some(60))],
            &[read(10, 20, &[1])],
            &read(100, 110, &[1]),
        );
        assert!(!r.ok());
    }
}
