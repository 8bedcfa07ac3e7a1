//! The FIFO queue recipe: an element is a persistent sequential znode
//! `/rkf/queue/e<element>-<seq>` (one create each, unique elements); a consumer does
//! `sync` + `getChildren`, sorts by sequence number and deletes the lowest child it can
//! (NoNode: someone took it, try the next). After the faults are healed, a final
//! `sync` + `getChildren` lists what is left. Checks:
//!
//! - **lost**: an acknowledged enqueue whose element was neither dequeued (a delete
//!   acknowledged or with unknown outcome) nor left in the final listing;
//! - **dequeued twice**: two acknowledged deletes of one element, or an acknowledged
//!   delete of an element that the final listing still holds;
//! - **phantom**: a dequeue or listing of an element never enqueued, whose create was
//!   refused, or whose create was invoked after the dequeue completed;
//! - **sequence**: two elements with one sequence number, or an enqueue that completed
//!   before another was invoked yet got the higher sequence number;
//! - **order**: an acknowledged dequeue of `b` whose listing was invoked after the
//!   enqueue of an older `a` (lower sequence) was acknowledged, while no dequeue of `a`
//!   was invoked before that delete of `b` completed: `a` was in the queue (it must
//!   have been in the listing, and the consumer tries children in order), yet the
//!   younger `b` was taken.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::anomalies::Anomalies;
use crate::textform::Line;

/// One enqueue (create) of `element`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue {
    pub element: u64,
    pub invoke_ns: u64,
    /// `None`: unknown outcome.
    pub complete_ns: Option<u64>,
    /// The server refused the create.
    pub failed: bool,
    /// The sequence number in the created name (acknowledged creates only).
    pub seq: Option<u64>,
}

/// One dequeue (delete) of `element`, taken from a listing invoked at `list_invoke_ns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dequeue {
    pub element: u64,
    pub seq: u64,
    pub list_invoke_ns: u64,
    pub invoke_ns: u64,
    /// `None`: unknown outcome (the delete may have happened).
    pub complete_ns: Option<u64>,
}

/// The listing after healing: element → sequence number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub invoke_ns: u64,
    pub complete_ns: u64,
    pub elements: BTreeMap<u64, u64>,
}

/// What the queue's history showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueReport {
    pub enqueues: usize,
    pub acknowledged: usize,
    pub dequeues: usize,
    pub left: usize,
    pub anomalies: Anomalies,
}

impl QueueReport {
    pub fn ok(&self) -> bool {
        self.anomalies.ok()
    }

    pub fn describe(&self) -> String {
        self.anomalies.describe(
            &format!(
                "queue: {} enqueues ({} acknowledged), {} dequeues, {} left",
                self.enqueues, self.acknowledged, self.dequeues, self.left
            ),
            "nothing lost, nothing twice, in order",
        )
    }
}

/// Checks the queue's history against the final listing.
pub fn check(enqueues: &[Enqueue], dequeues: &[Dequeue], fin: &Listing) -> QueueReport {
    let mut report = QueueReport {
        enqueues: enqueues.len(),
        acknowledged: enqueues
            .iter()
            .filter(|e| e.complete_ns.is_some() && !e.failed)
            .count(),
        dequeues: dequeues.len(),
        left: fin.elements.len(),
        ..QueueReport::default()
    };
    let mut note = |line: String| report.anomalies.note(line);
    let by_element: HashMap<u64, &Enqueue> = enqueues.iter().map(|e| (e.element, e)).collect();
    let mut deqs: HashMap<u64, Vec<&Dequeue>> = HashMap::new();
    for d in dequeues {
        deqs.entry(d.element).or_default().push(d);
    }

    // Phantoms: dequeued or listed, never (successfully) enqueued, or before it was.
    let seen = dequeues
        .iter()
        .map(|d| (d.element, d.complete_ns.unwrap_or(u64::MAX), "dequeued"))
        .chain(
            fin.elements
                .keys()
                .map(|e| (*e, fin.complete_ns, "in the final listing")),
        );
    for (e, at, how) in seen {
        match by_element.get(&e) {
            None => note(format!("phantom: element {e} {how}, never enqueued")),
            Some(q) if q.failed => note(format!(
                "phantom: element {e} {how}, but its enqueue was refused"
            )),
            Some(q) if q.invoke_ns > at => note(format!(
                "phantom: element {e} {how} by {at} ns, before its enqueue was invoked at {} ns",
                q.invoke_ns
            )),
            Some(_) => {}
        }
    }

    // Lost, and dequeued twice.
    for q in enqueues.iter().filter(|q| !q.failed) {
        let ds = deqs.get(&q.element).map_or(&[][..], Vec::as_slice);
        let acked = ds.iter().filter(|d| d.complete_ns.is_some()).count();
        let left = fin.elements.contains_key(&q.element);
        if q.complete_ns.is_some() && ds.is_empty() && !left {
            note(format!(
                "lost: element {e} (enqueue acknowledged at {c} ns, seq {s}) was never dequeued \
                 and is not in the final listing",
                e = q.element,
                c = q.complete_ns.unwrap_or(0),
                s = q.seq.map_or("?".into(), |s| s.to_string())
            ));
        }
        if acked > 1 {
            note(format!(
                "dequeued twice: element {} had {acked} acknowledged deletes",
                q.element
            ));
        }
        if acked > 0 && left {
            note(format!(
                "dequeued twice: element {} was deleted (acknowledged) yet is in the final listing",
                q.element
            ));
        }
    }

    // Sequence numbers: the known sequence of each element (from its create's reply,
    // or, for unknown creates, from where it was seen).
    let mut seq_of: HashMap<u64, u64> = HashMap::new();
    for q in enqueues {
        if let Some(s) = q.seq {
            seq_of.insert(q.element, s);
        }
    }
    for d in dequeues {
        seq_of.entry(d.element).or_insert(d.seq);
    }
    for (e, s) in &fin.elements {
        seq_of.entry(*e).or_insert(*s);
    }
    let mut owner: HashMap<u64, u64> = HashMap::new();
    for (e, s) in &seq_of {
        if let Some(other) = owner.insert(*s, *e) {
            note(format!(
                "sequence: elements {other} and {e} both got sequence number {s}"
            ));
        }
    }
    // Real-time order of acknowledged enqueues: sweep by invocation, keeping the
    // highest sequence among enqueues completed before it.
    let mut acked: Vec<(&Enqueue, u64, u64)> = enqueues
        .iter()
        .filter(|q| !q.failed)
        .filter_map(|q| Some((q, q.complete_ns?, q.seq?)))
        .collect();
    let mut by_invoke = acked.clone();
    by_invoke.sort_by_key(|(q, _, _)| q.invoke_ns);
    acked.sort_by_key(|(_, c, _)| *c);
    let mut i = 0;
    let mut best: Option<(&Enqueue, u64)> = None;
    for (b, _, sb) in &by_invoke {
        while i < acked.len() && acked[i].1 < b.invoke_ns {
            if best.is_none_or(|(_, s)| acked[i].2 > s) {
                best = Some((acked[i].0, acked[i].2));
            }
            i += 1;
        }
        if let Some((a, sa)) = best {
            if sa >= *sb {
                note(format!(
                    "sequence: element {} (enqueued by {} ns, seq {sa}) precedes element {} \
                     (invoked at {} ns) in real time but not in sequence ({sb})",
                    a.element,
                    a.complete_ns.unwrap_or(0),
                    b.element,
                    b.invoke_ns
                ));
            }
        }
    }

    // Order: for each acknowledged dequeue of b, an older a acknowledged before its
    // listing must have had a dequeue invoked before this one completed.
    let first_deq: HashMap<u64, u64> = deqs
        .iter()
        .map(|(e, ds)| (*e, ds.iter().map(|d| d.invoke_ns).min().unwrap_or(u64::MAX)))
        .collect();
    // Acknowledged enqueues sorted by completion, for a prefix scan per dequeue.
    let mut done: Vec<(u64, u64, u64)> =
        acked.iter().map(|(q, c, s)| (*c, *s, q.element)).collect();
    done.sort_unstable();
    for d in dequeues {
        let Some(dc) = d.complete_ns else { continue };
        let upto = done.partition_point(|(c, _, _)| *c < d.list_invoke_ns);
        let older = done[..upto]
            .iter()
            .find(|(_, sa, a)| *sa < d.seq && first_deq.get(a).copied().unwrap_or(u64::MAX) > dc);
        if let Some((ca, sa, a)) = older {
            note(format!(
                "order: element {} (seq {}) dequeued at {}..{dc} ns from a listing invoked at {} ns, \
                 while the older element {a} (seq {sa}, enqueued by {ca} ns) was still queued",
                d.element, d.seq, d.invoke_ns, d.list_invoke_ns
            ));
        }
    }
    report
}

/// The history as text, to keep beside `history.txt` and check again
/// (`ringkeeper-faults check-queue`). Lines: `enq ELEMENT INVOKE COMPLETE|- ok SEQ|fail|?`,
/// `deq ELEMENT SEQ LIST_INVOKE INVOKE COMPLETE|-`, and last
/// `final INVOKE COMPLETE ELEMENT:SEQ,...` (`-` if empty).
pub fn to_text(enqueues: &[Enqueue], dequeues: &[Dequeue], fin: &Listing) -> String {
    let mut out = String::new();
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for q in enqueues {
        let r = match (q.failed, q.complete_ns, q.seq) {
            (true, _, _) => "fail".to_string(),
            (false, Some(_), Some(s)) => format!("ok {s}"),
            _ => "?".to_string(),
        };
        let _ = writeln!(
            out,
            "enq {} {} {} {r}",
            q.element,
            q.invoke_ns,
            opt(q.complete_ns)
        );
    }
    for d in dequeues {
        let _ = writeln!(
            out,
            "deq {} {} {} {} {}",
            d.element,
            d.seq,
            d.list_invoke_ns,
            d.invoke_ns,
            opt(d.complete_ns)
        );
    }
    let list: Vec<String> = fin
        .elements
        .iter()
        .map(|(e, s)| format!("{e}:{s}"))
        .collect();
    let _ = writeln!(
        out,
        "final {} {} {}",
        fin.invoke_ns,
        fin.complete_ns,
        if list.is_empty() {
            "-".to_string()
        } else {
            list.join(",")
        }
    );
    out
}

/// Parses [`to_text`]'s form.
pub fn parse_text(text: &str) -> Result<(Vec<Enqueue>, Vec<Dequeue>, Listing), String> {
    let mut enqueues = Vec::new();
    let mut dequeues = Vec::new();
    let mut fin = None;
    for l in Line::all(text) {
        match l.kind() {
            "enq" => {
                let complete_ns = l.opt(3)?;
                let (failed, seq) = match l.word(4) {
                    Some("fail") => (true, None),
                    Some("ok") => (false, Some(l.num(5)?)),
                    Some("?") => (false, None),
                    _ => return Err(l.bad("unknown result")),
                };
                if seq.is_some() != complete_ns.is_some() && !failed {
                    return Err(l.bad("an acknowledged enqueue needs a completion and a seq"));
                }
                enqueues.push(Enqueue {
                    element: l.num(1)?,
                    invoke_ns: l.num(2)?,
                    complete_ns,
                    failed,
                    seq,
                });
            }
            "deq" => dequeues.push(Dequeue {
                element: l.num(1)?,
                seq: l.num(2)?,
                list_invoke_ns: l.num(3)?,
                invoke_ns: l.num(4)?,
                complete_ns: l.opt(5)?,
            }),
            "final" => {
                let mut elements = BTreeMap::new();
                let spec = l.word(3).ok_or_else(|| l.bad("no elements"))?;
                for part in spec.split(',').filter(|p| *p != "-") {
                    let (e, s) = part.split_once(':').ok_or_else(|| l.bad("bad element"))?;
                    elements.insert(
                        e.parse().map_err(|_| l.bad("bad element"))?,
                        s.parse().map_err(|_| l.bad("bad sequence"))?,
                    );
                }
                fin = Some(Listing {
                    invoke_ns: l.num(1)?,
                    complete_ns: l.num(2)?,
                    elements,
                });
            }
            _ => return Err(l.bad("unknown line")),
        }
    }
    let fin = fin.ok_or("no final listing")?;
    Ok((enqueues, dequeues, fin))
}

/// Parses a child name `e<element>-<seq>`; `None` for anything else.
pub fn parse_child(name: &str) -> Option<(u64, u64)> {
    let (e, s) = name.strip_prefix('e')?.split_once('-')?;
    Some((e.parse().ok()?, s.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enq(element: u64, invoke_ns: u64, complete_ns: Option<u64>, seq: u64) -> Enqueue {
        Enqueue {
            element,
            invoke_ns,
            complete_ns,
            failed: false,
            seq: complete_ns.map(|_| seq),
        }
    }

    fn deq(element: u64, seq: u64, list: u64, invoke: u64, complete: Option<u64>) -> Dequeue {
        Dequeue {
            element,
            seq,
            list_invoke_ns: list,
            invoke_ns: invoke,
            complete_ns: complete,
        }
    }

    fn listing(at: u64, elements: &[(u64, u64)]) -> Listing {
        Listing {
            invoke_ns: at,
            complete_ns: at + 1,
            elements: elements.iter().copied().collect(),
        }
    }

    /// Three enqueues in order, two dequeued in order, one left; an unknown enqueue
    /// that never showed up; an unknown dequeue.
    fn good() -> (Vec<Enqueue>, Vec<Dequeue>, Listing) {
        let e = vec![
            enq(1, 0, Some(10), 1),
            enq(2, 11, Some(20), 2),
            enq(3, 21, Some(30), 4),
            enq(4, 22, None, 0),
            enq(5, 31, Some(40), 6),
        ];
        let d = vec![
            deq(1, 1, 41, 45, Some(50)),
            deq(2, 2, 51, 55, None),
            deq(3, 4, 60, 61, Some(70)),
        ];
        (e, d, listing(100, &[(5, 6)]))
    }

    #[test]
    fn a_good_history_passes_and_round_trips() {
        let (e, d, f) = good();
        let r = check(&e, &d, &f);
        assert!(r.ok(), "{r:?}");
        let text = to_text(&e, &d, &f);
        assert_eq!(parse_text(&text).unwrap(), (e, d, f));
        assert_eq!(parse_child("e42-0000000007"), Some((42, 7)));
        assert_eq!(parse_child("x"), None);
    }

    #[test]
    fn a_lost_element_is_found() {
        let (e, d, _) = good();
        let r = check(&e, &d, &listing(100, &[]));
        assert_eq!(r.anomalies.count, 1, "{r:?}");
        assert!(
            r.anomalies.listed[0].starts_with("lost: element 5"),
            "{r:?}"
        );
    }

    #[test]
    fn an_element_dequeued_twice_is_found() {
        let (e, mut d, f) = good();
        d.push(deq(3, 4, 71, 72, Some(80)));
        let r = check(&e, &d, &f);
        assert!(
            r.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("dequeued twice: element 3")),
            "{r:?}"
        );
        // Deleted, acknowledged, and still there.
        let (e, d, _) = good();
        let r = check(&e, &d, &listing(100, &[(5, 6), (1, 1)]));
        assert!(
            r.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("dequeued twice: element 1")),
            "{r:?}"
        );
    }

    #[test]
    fn a_younger_element_taken_first_is_out_of_order() {
        let (e, mut d, f) = good();
        // Element 3 dequeued from a listing invoked after 1 and 2 were acknowledged,
        // before any dequeue of 1 or 2 was invoked.
        d[2] = deq(3, 4, 31, 32, Some(35));
        let r = check(&e, &d, &f);
        assert!(
            r.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("order: element 3")),
            "{r:?}"
        );
        // Not observable when the listing was invoked before the older enqueue was
        // acknowledged (it may not have been in the queue yet).
        let e = vec![enq(1, 0, Some(33), 1), enq(3, 21, Some(30), 4)];
        let d = vec![deq(3, 4, 31, 32, Some(35)), deq(1, 1, 40, 41, Some(42))];
        let r = check(&e, &d, &listing(100, &[]));
        assert!(r.ok(), "{r:?}");
    }

    #[test]
    fn sequence_anomalies_and_phantoms_are_found() {
        let (mut e, d, f) = good();
        e[2].seq = Some(2);
        let r = check(&e, &d, &f);
        assert!(
            r.anomalies
                .listed
                .iter()
                .any(|a| a.contains("both got sequence number 2")),
            "{r:?}"
        );
        assert!(
            r.anomalies
                .listed
                .iter()
                .any(|a| a.contains("not in sequence")),
            "{r:?}"
        );
        let (e, mut d, f) = good();
        d.push(deq(99, 9, 90, 91, Some(92)));
        let r = check(&e, &d, &f);
        assert!(
            r.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("phantom: element 99")),
            "{r:?}"
        );
    }
}
