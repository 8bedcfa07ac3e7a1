//! Sessions with ephemerals: each *life* is one session that creates one ephemeral
//! `/rkf/eph/e<element>`, heartbeats with `exists` on it for a while, then ends by
//! `close` or by going silent (the client drops the connection: the server must expire
//! the session). Observer sessions read the parent (`sync` + `getChildren`); after the
//! faults are healed and one session timeout has passed, a final read. Checks:
//!
//! - **vanished**: the holder's own `exists` answered "no node" after its create was
//!   acknowledged: the ephemeral went while its session was alive (it answered);
//! - **missing**: a read invoked after the create was acknowledged, completed before
//!   a call of the holder that the server answered later: the session was alive all
//!   along, so the ephemeral must be in the read;
//! - **survived**: a read invoked after the session's end still lists the ephemeral.
//!   The end is the reply to `close`; the "session expired" notice plus a margin; or,
//!   for a silent session, when it went silent plus its timeout plus a margin, pushed
//!   past any kill or pause of a server (a restarted server gives restored sessions a
//!   fresh timeout, a paused one expires nothing) and, if it went silent inside a
//!   network fault, counted from when its last bytes can have arrived (see
//!   [`gone_by`]);
//! - **phantom**: a read lists an ephemeral never created, refused, or created after
//!   the read;
//! - **wrongful expiry**: a session told "expired" although no fault at all was active
//!   between its last answered call and the notice (it was heartbeating through a
//!   healthy link to a healthy server). This is what clock skew would break.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::anomalies::Anomalies;
use crate::textform::Line;

/// Added to the session timeout before an ended session's ephemeral must be gone:
/// servers expire on tick boundaries (ZooKeeper rounds the deadline up to the next
/// tick; `tickTime` is 500 ms here), and the close txn takes a moment to apply.
pub const EXPIRY_MARGIN_NS: u64 = 2_000_000_000;

/// One successful `exists` of the holder on its own ephemeral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub invoke_ns: u64,
    pub complete_ns: u64,
    pub present: bool,
}

/// How a life ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// `close` acknowledged.
    Closed { invoke_ns: u64, complete_ns: u64 },
    /// The client went silent at `at_ns` (dropped the connection, or a `close` whose
    /// outcome is unknown): the server must expire it.
    Silent { at_ns: u64 },
    /// The server answered "session expired" at `at_ns`.
    Expired { at_ns: u64 },
}

/// One session and its ephemeral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Life {
    pub element: u64,
    /// The negotiated session timeout.
    pub timeout_ms: u64,
    pub create_invoke_ns: u64,
    /// `None`: unknown outcome.
    pub create_complete_ns: Option<u64>,
    /// The server refused the create.
    pub create_failed: bool,
    pub checks: Vec<Check>,
    pub end: End,
}

/// One read of the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub invoke_ns: u64,
    pub complete_ns: u64,
    pub elements: BTreeSet<u64>,
    /// The member that answered (its id), when known: a stale listing names it.
    pub server: Option<u32>,
}

/// A fault's span, from the nemesis log (same clock as the history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ns: u64,
    pub end_ns: u64,
    /// The server itself stopped (kill, pause, a full disk that stopped it): its
    /// session clocks did not run.
    pub server_down: bool,
    /// How much later than the restarted wait a session may expire: a step of the
    /// server's monotonic clock by X moves its session deadlines by up to X (back
    /// when the step is undone, or when it steps back), so a silent session may live
    /// X longer. 0 for every other fault.
    pub defer_ns: u64,
}

/// What the history showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EphReport {
    pub lives: usize,
    pub closed: usize,
    pub silent: usize,
    pub expired: usize,
    pub reads: usize,
    pub anomalies: Anomalies,
}

impl EphReport {
    pub fn ok(&self) -> bool {
        self.anomalies.ok()
    }

    pub fn describe(&self) -> String {
        self.anomalies.describe(
            &format!(
                "ephemerals: {} sessions ({} closed, {} went silent, {} told expired), {} reads",
                self.lives, self.closed, self.silent, self.expired, self.reads
            ),
            "each ephemeral lived exactly as long as its session",
        )
    }
}

/// When `life`'s ephemeral must be gone by (reads invoked after it must not list it).
pub fn gone_by(life: &Life, windows: &[Window]) -> u64 {
    let timeout = life.timeout_ms * 1_000_000;
    match life.end {
        End::Closed { complete_ns, .. } => complete_ns,
        End::Expired { at_ns } => at_ns + EXPIRY_MARGIN_NS,
        End::Silent { at_ns } => {
            let mut d = at_ns + timeout + EXPIRY_MARGIN_NS;
            // What the client sent before it went silent waits out a network fault
            // on the way (a partition's drops are retransmitted after the heal, with
            // TCP's backoff: the next try comes up to about as long after the heal as
            // the drops had lasted; a stalled or slowed link lets its bytes go on
            // heal), and the server hears from the session only then.
            for w in windows.iter().filter(|w| !w.server_down) {
                if w.start_ns <= at_ns && at_ns < w.end_ns {
                    let heard = w.end_ns + (w.end_ns - w.start_ns);
                    d = d.max(heard + timeout + EXPIRY_MARGIN_NS);
                }
            }
            // Each server outage overlapping the wait restarts it; bounded by the
            // number of windows. A step of the monotonic clock reaches past its
            // window: when it is undone (the clock steps back by `defer`), every timer
            // the server had armed, its session expiry tick among them, waits
            // `defer` longer (glommio's timers are absolute instants), so a session
            // that goes silent up to `defer` after the heal may live that long too
            // (seed 9104: silent 4.6 s after a 207-s step was undone).
            for _ in 0..=windows.len() {
                let before = d;
                for w in windows.iter().filter(|w| w.server_down) {
                    if w.start_ns < d && w.end_ns + w.defer_ns > at_ns {
                        d = d.max(w.end_ns + timeout + EXPIRY_MARGIN_NS + w.defer_ns);
                    }
                }
                if d == before {
                    break;
                }
            }
            d
        }
    }
}

/// Checks the lives against the reads (the final read last among them).
pub fn check(lives: &[Life], reads: &[Read], windows: &[Window]) -> EphReport {
    let mut report = EphReport {
        lives: lives.len(),
        closed: lives
            .iter()
            .filter(|l| matches!(l.end, End::Closed { .. }))
            .count(),
        silent: lives
            .iter()
            .filter(|l| matches!(l.end, End::Silent { .. }))
            .count(),
        expired: lives
            .iter()
            .filter(|l| matches!(l.end, End::Expired { .. }))
            .count(),
        reads: reads.len(),
        ..EphReport::default()
    };
    let mut note = |line: String| report.anomalies.note(line);
    let by_element: HashMap<u64, &Life> = lives.iter().map(|l| (l.element, l)).collect();
    for l in lives {
        let acked = l.create_complete_ns.filter(|_| !l.create_failed);
        // Vanished while the holder's session answered.
        if let Some(c) = acked {
            if let Some(k) = l.checks.iter().find(|k| !k.present && k.invoke_ns > c) {
                note(format!(
                    "vanished: ephemeral {} (created by {c} ns) was gone at {}..{} ns while its \
                     session answered",
                    l.element, k.invoke_ns, k.complete_ns
                ));
            }
        }
        // Missing from reads while the session provably lived.
        let alive_until = l.checks.iter().map(|k| k.invoke_ns).max();
        if let (Some(c), Some(alive)) = (acked, alive_until) {
            let missed: Vec<&Read> = reads
                .iter()
                .filter(|r| r.invoke_ns > c && r.complete_ns < alive)
                .filter(|r| !r.elements.contains(&l.element))
                .collect();
            if let Some(r) = missed.first() {
                let by: BTreeSet<String> = missed
                    .iter()
                    .map(|r| r.server.map_or("?".into(), |s| format!("s{s}")))
                    .collect();
                note(format!(
                    "missing: ephemeral {} (created by {c} ns; its session answered a call \
                     invoked at {alive} ns) absent from {} reads, first at {}..{} ns, \
                     answered by {}",
                    l.element,
                    missed.len(),
                    r.invoke_ns,
                    r.complete_ns,
                    by.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        // Survived its session.
        let by = gone_by(l, windows);
        let survived: Vec<&Read> = reads
            .iter()
            .filter(|r| r.invoke_ns > by && r.elements.contains(&l.element))
            .collect();
        if let Some(r) = survived.first() {
            note(format!(
                "survived: ephemeral {} of a session that ended ({:?}) was listed by {} reads \
                 invoked after {by} ns, first at {}..{} ns",
                l.element,
                l.end,
                survived.len(),
                r.invoke_ns,
                r.complete_ns
            ));
        }
        // Expired with no fault in sight.
        if let End::Expired { at_ns } = l.end {
            let last = l
                .checks
                .iter()
                .map(|k| k.complete_ns)
                .chain(l.create_complete_ns)
                .filter(|t| *t <= at_ns)
                .max()
                .unwrap_or(l.create_invoke_ns);
            if !windows
                .iter()
                .any(|w| w.start_ns <= at_ns && w.end_ns >= last)
            {
                note(format!(
                    "wrongful expiry: session of ephemeral {} told expired at {at_ns} ns; its \
                     last answered call was at {last} ns and no fault was active in between",
                    l.element
                ));
            }
        }
    }
    for r in reads {
        for e in &r.elements {
            match by_element.get(e) {
                None => note(format!(
                    "phantom: ephemeral {e} listed at {} ns was never created",
                    r.invoke_ns
                )),
                Some(l) if l.create_failed => note(format!(
                    "phantom: ephemeral {e} listed at {} ns, but its create was refused",
                    r.invoke_ns
                )),
                Some(l) if l.create_invoke_ns > r.complete_ns => note(format!(
                    "phantom: ephemeral {e} listed at {}..{} ns before its create at {} ns",
                    r.invoke_ns, r.complete_ns, l.create_invoke_ns
                )),
                Some(_) => {}
            }
        }
    }
    report
}

/// The history as text (`ringkeeper-faults check-eph`). Lines:
/// `life ELEMENT TIMEOUT_MS CREATE_INVOKE CREATE_COMPLETE|- ok|fail|? END` with END
/// `closed INVOKE COMPLETE`, `silent AT` or `expired AT`; `check ELEMENT INVOKE
/// COMPLETE yes|no` (after its life); `read INVOKE COMPLETE E,E,...|-`;
/// `window START END down|net DEFER_NS`.
pub fn to_text(lives: &[Life], reads: &[Read], windows: &[Window]) -> String {
    let mut out = String::new();
    for l in lives {
        let c = l.create_complete_ns.map_or("-".into(), |c| c.to_string());
        let r = match (l.create_failed, l.create_complete_ns) {
            (true, _) => "fail",
            (false, Some(_)) => "ok",
            (false, None) => "?",
        };
        let end = match l.end {
            End::Closed {
                invoke_ns,
                complete_ns,
            } => format!("closed {invoke_ns} {complete_ns}"),
            End::Silent { at_ns } => format!("silent {at_ns}"),
            End::Expired { at_ns } => format!("expired {at_ns}"),
        };
        let _ = writeln!(
            out,
            "life {} {} {} {c} {r} {end}",
            l.element, l.timeout_ms, l.create_invoke_ns
        );
        for k in &l.checks {
            let _ = writeln!(
                out,
                "check {} {} {} {}",
                l.element,
                k.invoke_ns,
                k.complete_ns,
                if k.present { "yes" } else { "no" }
            );
        }
    }
    for r in reads {
        let list: Vec<String> = r.elements.iter().map(u64::to_string).collect();
        let _ = write!(
            out,
            "read {} {} {}",
            r.invoke_ns,
            r.complete_ns,
            if list.is_empty() {
                "-".into()
            } else {
                list.join(",")
            }
        );
        match r.server {
            Some(s) => {
                let _ = writeln!(out, " s{s}");
            }
            None => out.push('\n'),
        }
    }
    for w in windows {
        let _ = writeln!(
            out,
            "window {} {} {} {}",
            w.start_ns,
            w.end_ns,
            if w.server_down { "down" } else { "net" },
            w.defer_ns
        );
    }
    out
}

/// A parsed history: lives, reads, fault windows.
pub type History = (Vec<Life>, Vec<Read>, Vec<Window>);

/// Parses [`to_text`]'s form.
pub fn parse_text(text: &str) -> Result<History, String> {
    let mut lives: Vec<Life> = Vec::new();
    let mut reads = Vec::new();
    let mut windows = Vec::new();
    for l in Line::all(text) {
        match l.kind() {
            "life" => {
                let complete = if l.word(4) == Some("-") {
                    None
                } else {
                    Some(l.num(4)?)
                };
                let failed = match l.word(5) {
                    Some("fail") => true,
                    Some("ok") | Some("?") => false,
                    _ => return Err(l.bad("unknown create result")),
                };
                let end = match l.word(6) {
                    Some("closed") => End::Closed {
                        invoke_ns: l.num(7)?,
                        complete_ns: l.num(8)?,
                    },
                    Some("silent") => End::Silent { at_ns: l.num(7)? },
                    Some("expired") => End::Expired { at_ns: l.num(7)? },
                    _ => return Err(l.bad("unknown end")),
                };
                lives.push(Life {
                    element: l.num(1)?,
                    timeout_ms: l.num(2)?,
                    create_invoke_ns: l.num(3)?,
                    create_complete_ns: complete,
                    create_failed: failed,
                    checks: Vec::new(),
                    end,
                });
            }
            "check" => {
                let element = l.num(1)?;
                let life = lives
                    .iter_mut()
                    .rev()
                    .find(|l| l.element == element)
                    .ok_or_else(|| l.bad("a check before its life"))?;
                life.checks.push(Check {
                    invoke_ns: l.num(2)?,
                    complete_ns: l.num(3)?,
                    present: match l.word(4) {
                        Some("yes") => true,
                        Some("no") => false,
                        _ => return Err(l.bad("yes or no")),
                    },
                });
            }
            "read" => {
                let mut elements = BTreeSet::new();
                let spec = l.word(3).ok_or_else(|| l.bad("no elements"))?;
                for part in spec.split(',').filter(|p| *p != "-") {
                    elements.insert(part.parse().map_err(|_| l.bad("bad element"))?);
                }
                let server = match l.word(4) {
                    None => None,
                    Some(w) => Some(
                        w.strip_prefix('s')
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| l.bad("server as sN"))?,
                    ),
                };
                reads.push(Read {
                    invoke_ns: l.num(1)?,
                    complete_ns: l.num(2)?,
                    elements,
                    server,
                });
            }
            "window" => windows.push(Window {
                start_ns: l.num(1)?,
                end_ns: l.num(2)?,
                server_down: match l.word(3) {
                    Some("down") => true,
                    Some("net") => false,
                    _ => return Err(l.bad("down or net")),
                },
                defer_ns: if l.word(4).is_some() { l.num(4)? } else { 0 },
            }),
            _ => return Err(l.bad("unknown line")),
        }
    }
    Ok((lives, reads, windows))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn life(element: u64, created: u64, checks: &[(u64, bool)], end: End) -> Life {
        Life {
            element,
            timeout_ms: 4_000,
            create_invoke_ns: created - 1,
            create_complete_ns: Some(created),
            create_failed: false,
            checks: checks
                .iter()
                .map(|(t, present)| Check {
                    invoke_ns: *t,
                    complete_ns: t + 1,
                    present: *present,
                })
                .collect(),
            end,
        }
    }

    fn read(at: u64, elements: &[u64]) -> Read {
        Read {
            invoke_ns: at,
            complete_ns: at + 10,
            elements: elements.iter().copied().collect(),
            server: Some(1 + (at % 3) as u32),
        }
    }

    /// Life 1 closed at 3 s; life 2 silent at 2 s (gone by 8 s); life 3 told expired
    /// at 9 s during a pause.
    fn good() -> (Vec<Life>, Vec<Read>, Vec<Window>) {
        let lives = vec![
            life(
                1,
                S,
                &[(S + 100, true), (2 * S, true)],
                End::Closed {
                    invoke_ns: 3 * S,
                    complete_ns: 3 * S + 5,
                },
            ),
            life(2, S, &[(S + 200, true)], End::Silent { at_ns: 2 * S }),
            life(3, S, &[(2 * S, true)], End::Expired { at_ns: 9 * S }),
        ];
        let reads = vec![
            read(S + 50, &[1, 2, 3]),
            read(3 * S + 10, &[2, 3]),
            read(7 * S, &[2, 3]),
            read(20 * S, &[]),
        ];
        let windows = vec![Window {
            start_ns: 3 * S,
            end_ns: 8 * S,
            server_down: false,
            defer_ns: 0,
        }];
        (lives, reads, windows)
    }

    #[test]
    fn a_good_history_passes_and_round_trips() {
        let (l, r, w) = good();
        let rep = check(&l, &r, &w);
        assert!(rep.ok(), "{rep:?}");
        let text = to_text(&l, &r, &w);
        assert_eq!(parse_text(&text).unwrap(), (l, r, w));
    }

    #[test]
    fn an_ephemeral_outliving_its_closed_session_is_found() {
        let (l, mut r, w) = good();
        r.push(read(3 * S + 100, &[1]));
        let rep = check(&l, &r, &w);
        assert_eq!(rep.anomalies.count, 1, "{rep:?}");
        assert!(
            rep.anomalies.listed[0].starts_with("survived: ephemeral 1"),
            "{rep:?}"
        );
    }

    #[test]
    fn an_ephemeral_outliving_its_expiry_is_found_unless_the_server_was_down() {
        let (l, mut r, mut w) = good();
        r.push(read(9 * S, &[2]));
        let rep = check(&l, &r, &w);
        assert!(
            rep.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("survived: ephemeral 2")),
            "{rep:?}"
        );
        // A kill from 5 s to 6 s restarts the wait: gone by 12 s.
        w.push(Window {
            start_ns: 5 * S,
            end_ns: 6 * S,
            server_down: true,
            defer_ns: 0,
        });
        assert_eq!(gone_by(&l[1], &w), 12 * S);
        assert!(check(&l, &r, &w).ok());
        // A monotonic clock step of 100 s in between defers it by as much.
        w[1].defer_ns = 100 * S;
        assert_eq!(gone_by(&l[1], &w), 112 * S);
        // The final read is after everything.
        let (l, mut r, w) = good();
        r.push(read(30 * S, &[3]));
        assert!(!check(&l, &r, &w).ok());
    }

    /// Seed 9104 (`--servers 3 --nemesis kill,clock`): the leader's clocks ran 207 s
    /// ahead until 25.5 s; the heal stepped its monotonic clock back, and its expiry
    /// tick, armed on the stepped clock, slept 207 s more. A session that went silent
    /// at 30.06 s, after the window, lived on: it is deferred, one silent after the
    /// stall is not.
    #[test]
    fn a_session_silent_after_a_monotonic_step_is_deferred_until_the_stall_ends() {
        let (l, _, _) = good();
        let mut after = l[1].clone();
        after.end = End::Silent { at_ns: 30 * S };
        let step = Window {
            start_ns: 20 * S,
            end_ns: 25 * S,
            server_down: true,
            defer_ns: 207 * S,
        };
        let plain = 30 * S + 4 * S + EXPIRY_MARGIN_NS;
        let w = vec![step];
        assert_eq!(
            gone_by(&after, &w),
            25 * S + 4 * S + EXPIRY_MARGIN_NS + 207 * S
        );
        let reads = vec![read(plain + S, &[2]), read(300 * S, &[])];
        assert!(check(&[after.clone()], &reads, &w).ok());
        // Without the step's deferral the same read is a survivor.
        let no_defer = vec![Window {
            defer_ns: 0,
            ..step
        }];
        assert!(!check(&[after.clone()], &reads, &no_defer).ok());
        // Silent once the stall is over: waited for as usual.
        let mut later = after;
        later.end = End::Silent { at_ns: 240 * S };
        assert_eq!(gone_by(&later, &w), 240 * S + 4 * S + EXPIRY_MARGIN_NS);
    }

    /// Seed 4242 (standalone, `link,kill,partition`): a client went silent inside a
    /// 4.3-s partition of its link, the requests it had sent reached the server after
    /// the heal and kept the session alive a timeout longer.
    #[test]
    fn a_session_silent_inside_a_network_fault_is_waited_for_from_the_heal() {
        let (l, _, w) = good();
        // Life 2 went silent at 2 s, before the window (3 s to 8 s): not moved.
        assert_eq!(gone_by(&l[1], &w), 2 * S + 4 * S + EXPIRY_MARGIN_NS);
        let mut inside = l[1].clone();
        inside.end = End::Silent { at_ns: 4 * S };
        // Heard as late as 8 s + 5 s of backoff, then its timeout and the margin.
        assert_eq!(gone_by(&inside, &w), 13 * S + 4 * S + EXPIRY_MARGIN_NS);
        let reads = vec![read(12 * S, &[2]), read(30 * S, &[])];
        assert!(check(&[inside.clone()], &reads, &w).ok());
        let late = vec![read(20 * S, &[2]), read(30 * S, &[])];
        assert!(!check(&[inside], &late, &w).ok());
    }

    #[test]
    fn an_ephemeral_gone_while_its_session_lives_is_found() {
        let (mut l, r, w) = good();
        l[0].checks.push(Check {
            invoke_ns: 2 * S + 10,
            complete_ns: 2 * S + 20,
            present: false,
        });
        let rep = check(&l, &r, &w);
        assert!(
            rep.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("vanished: ephemeral 1")),
            "{rep:?}"
        );
        // Missing from another session's read while the holder answered later; the
        // report names the member that answered the stale listing.
        let (l, mut r, w) = good();
        r.push(Read {
            server: Some(2),
            ..read(S + 300, &[2, 3])
        });
        let rep = check(&l, &r, &w);
        assert_eq!(rep.anomalies.count, 1, "{rep:?}");
        assert!(
            rep.anomalies.listed[0].starts_with("missing: ephemeral 1")
                && rep.anomalies.listed[0].ends_with("answered by s2"),
            "{rep:?}"
        );
        // Which member answered survives the text form; an unknown one too.
        r.push(Read {
            server: None,
            ..read(S + 400, &[1, 2, 3])
        });
        assert_eq!(parse_text(&to_text(&l, &r, &w)), Ok((l, r, w)));
    }

    #[test]
    fn expiry_without_a_fault_and_phantoms_are_found() {
        let (l, r, _) = good();
        let rep = check(&l, &r, &[]);
        assert!(
            rep.anomalies
                .listed
                .iter()
                .any(|a| a.starts_with("wrongful expiry")),
            "{rep:?}"
        );
        let (l, mut r, w) = good();
        r.push(read(S, &[77]));
        assert!(!check(&l, &r, &w).ok());
    }
}
