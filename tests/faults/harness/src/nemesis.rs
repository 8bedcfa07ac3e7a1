//! Faults and their schedule. A schedule is drawn from a seed alone (the same seed
//! gives the same faults, targets and durations), as a list of steps: stay quiet, apply
//! one fault, hold it, heal it. [`run`] plays it against a [`Cluster`] within a
//! deadline and returns a log of what it did, with times. Link faults act on the
//! client's TCP proxy ([`crate::proxy`]).

use std::fmt;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::cluster::{Cluster, Started, FAKETIME_CACHE_S, SESSION_TIMEOUT_MS, SYNC_LIMIT, TICK_MS};
use crate::disk;
use crate::ephemeral::Window;
use crate::net::Node;
use crate::proxy::{LinkFault, Proxy};

/// A family of faults, as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// SIGKILL a server, restart it after a while.
    Kill,
    /// SIGSTOP a server, shorter or longer than the session timeout, then SIGCONT.
    Pause,
    /// Drop packets between the client and a server (both ways or one way), or, in
    /// an ensemble, between a server and its peers.
    Partition,
    /// Through the client's TCP proxy to a server: delay, slow or stall the link.
    Link,
    /// Step a server's clock (libfaketime) by ±10 s..10 min, then back.
    Clock,
    /// Fill the tmpfs under a server's `dataLogDir`, then empty it (restarting the
    /// server if it stopped).
    Disk,
    /// SIGKILL a server, cut its newest log segment after the last record and append
    /// a prefix of that record (a torn append), restart it.
    Torn,
    /// As `torn`, with random bytes appended instead of a record's prefix.
    Garbage,
    /// SIGKILL a server, flip a byte in a record in the middle of its newest log
    /// segment: the start must be refused; then put the byte back and restart.
    Corrupt,
}

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Kill {
        server: u32,
    },
    Pause {
        server: u32,
    },
    /// Packets from `from` to `to` are dropped; `both` drops the reverse direction too.
    Partition {
        from: Node,
        to: Node,
        both: bool,
    },
    /// A server cut off from every other server, both ways (ensembles only).
    Isolate {
        server: u32,
    },
    /// Ensembles: SIGKILL whichever member leads when the fault starts (`fallback`
    /// when none does), restart it after the hold.
    KillLeader {
        fallback: u32,
    },
    /// Ensembles: SIGKILL every member, restart them all after the hold.
    KillAll,
    /// Ensembles: SIGSTOP whichever member leads (`fallback` when none does).
    PauseLeader {
        fallback: u32,
    },
    /// Ensembles: cut the leader (`fallback` when none leads) off its peers.
    IsolateLeader {
        fallback: u32,
    },
    /// Ensembles: the members in the bit set `minority` (bit n for server n) and the
    /// rest cannot reach each other, both ways; the client stays with the minority
    /// (`client_with_minority`) or with the majority, and cannot reach the other side.
    Halves {
        minority: u32,
        client_with_minority: bool,
    },
    /// Ensembles: packets from member `from` to member `to` are dropped, the other
    /// direction flows (TCP between them stalls, each side sees it differently).
    PeerOneWay {
        from: u32,
        to: u32,
    },
    /// The proxied link to a server: each chunk `delay_ms` late.
    Delay {
        server: u32,
        delay_ms: u64,
    },
    /// The proxied link to a server at `rate` bytes per second.
    Slow {
        server: u32,
        rate: u64,
    },
    /// The proxied link to a server forwards nothing until healed.
    Stall {
        server: u32,
    },
    /// The server's wall clock (and monotonic clock, unless realtime only) shifted.
    Clock {
        server: u32,
        offset_s: i64,
    },
    DiskFull {
        server: u32,
    },
    /// After the last record: the first `len` bytes of a copy of it (a torn append:
    /// a plausible header, the payload cut short), or, with `garbage`, `len` random
    /// bytes from `seed`.
    Torn {
        server: u32,
        len: usize,
        seed: u64,
        garbage: bool,
    },
    Corrupt {
        server: u32,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill { server } => write!(f, "kill s{server}"),
            Fault::Pause { server } => write!(f, "pause s{server}"),
            Fault::Partition { from, to, both } => {
                write!(
                    f,
                    "partition {from} {} {to}",
                    if *both { "<->" } else { "->" }
                )
            }
            Fault::Delay { server, delay_ms } => write!(f, "delay link s{server} {delay_ms} ms"),
            Fault::Slow { server, rate } => write!(f, "slow link s{server} {rate} B/s"),
            Fault::Stall { server } => write!(f, "stall link s{server}"),
            Fault::Isolate { server } => write!(f, "isolate s{server} from its peers"),
            Fault::KillLeader { .. } => write!(f, "kill the leader"),
            Fault::KillAll => write!(f, "kill every member"),
            Fault::PauseLeader { .. } => write!(f, "pause the leader"),
            Fault::IsolateLeader { .. } => write!(f, "isolate the leader from its peers"),
            Fault::Halves {
                minority,
                client_with_minority,
            } => {
                let m: Vec<String> = (1..32)
                    .filter(|n| minority & (1 << n) != 0)
                    .map(|n| format!("s{n}"))
                    .collect();
                write!(
                    f,
                    "halves: {{{}}} | the rest, client with the {}",
                    m.join(","),
                    if *client_with_minority {
                        "minority"
                    } else {
                        "majority"
                    }
                )
            }
            Fault::PeerOneWay { from, to } => write!(f, "partition s{from} -> s{to}"),
            Fault::Clock { server, offset_s } => write!(f, "clock s{server} {offset_s:+} s"),
            Fault::DiskFull { server } => write!(f, "fill the log disk of s{server}"),
            Fault::Torn {
                server,
                len,
                garbage,
                ..
            } => write!(
                f,
                "kill s{server}, tear its log tail ({len} bytes of {})",
                if *garbage {
                    "garbage"
                } else {
                    "a record's prefix"
                }
            ),
            Fault::Corrupt { server } => write!(f, "kill s{server}, corrupt a mid-log record"),
        }
    }
}

/// Quiet, then `fault` for `hold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub quiet: Duration,
    pub fault: Fault,
    pub hold: Duration,
}

/// Steps filling `total` (the last may end after it; [`run`] cuts it at the deadline).
pub fn schedule(seed: u64, kinds: &[Kind], servers: u32, total: Duration) -> Vec<Step> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut steps = Vec::new();
    let mut t = Duration::ZERO;
    if kinds.is_empty() || servers == 0 {
        return steps;
    }
    let session = Duration::from_millis(SESSION_TIMEOUT_MS);
    while t < total {
        let quiet = Duration::from_millis(rng.gen_range(1_000..3_000));
        let server = rng.gen_range(1..=servers);
        let (fault, hold) = match kinds[rng.gen_range(0..kinds.len())] {
            Kind::Kill if servers > 1 => {
                let hold = Duration::from_millis(rng.gen_range(200..3_000));
                let fault = match rng.gen_range(0..10) {
                    0..=4 => Fault::Kill { server },
                    5..=7 => Fault::KillLeader { fallback: server },
                    _ => Fault::KillAll,
                };
                (fault, hold)
            }
            Kind::Kill => (
                Fault::Kill { server },
                Duration::from_millis(rng.gen_range(200..3_000)),
            ),
            Kind::Pause if servers > 1 => {
                // A third shorter than syncLimit × tickTime (the leader keeps its
                // followers), a third between it and the session timeout (followers
                // drop the leader or the leader its quorum; sessions survive), a
                // third longer (sessions expire).
                let sync = Duration::from_millis(SYNC_LIMIT * TICK_MS);
                let hold = match rng.gen_range(0..3) {
                    0 => sync.mul_f64(rng.gen_range(0.3..0.9)),
                    1 => sync + (session - sync).mul_f64(rng.gen_range(0.1..0.9)),
                    _ => session.mul_f64(rng.gen_range(1.2..1.8)),
                };
                let fault = if rng.gen_bool(0.5) {
                    Fault::Pause { server }
                } else {
                    Fault::PauseLeader { fallback: server }
                };
                (fault, hold)
            }
            Kind::Pause => {
                // Half shorter than the session timeout (sessions survive), half
                // longer (the server expires them when it wakes).
                let hold = if rng.gen_bool(0.5) {
                    session.mul_f64(rng.gen_range(0.2..0.8))
                } else {
                    session.mul_f64(rng.gen_range(1.2..1.8))
                };
                (Fault::Pause { server }, hold)
            }
            Kind::Partition => {
                let s = Node::Server(server);
                let hold = session.mul_f64(rng.gen_range(0.25..1.75));
                let client_server = |rng: &mut rand::rngs::StdRng| {
                    let (from, to, both) = match rng.gen_range(0..3) {
                        0 => (Node::Client, s, true),
                        1 => (Node::Client, s, false),
                        _ => (s, Node::Client, false),
                    };
                    Fault::Partition { from, to, both }
                };
                // With an ensemble, most partitions cut between members: one member
                // off its peers, the leader off its peers, a minority from a majority
                // (the client on either side), one direction between two members.
                let fault = if servers > 1 {
                    match rng.gen_range(0..5) {
                        0 => client_server(&mut rng),
                        1 => Fault::Isolate { server },
                        2 => Fault::IsolateLeader { fallback: server },
                        3 => {
                            let mut ids: Vec<u32> = (1..=servers).collect();
                            ids.shuffle(&mut rng);
                            let minority = ids[..(servers as usize - 1) / 2]
                                .iter()
                                .fold(0, |m, id| m | (1 << id));
                            Fault::Halves {
                                minority,
                                client_with_minority: rng.gen_bool(0.5),
                            }
                        }
                        _ => {
                            let to = (server % servers) + 1;
                            Fault::PeerOneWay { from: server, to }
                        }
                    }
                } else {
                    client_server(&mut rng)
                };
                (fault, hold)
            }
            Kind::Link => {
                let fault = match rng.gen_range(0..3) {
                    // Up to a quarter of the session timeout: slow, not dead.
                    0 => Fault::Delay {
                        server,
                        delay_ms: rng.gen_range(20..SESSION_TIMEOUT_MS / 4),
                    },
                    // A few KiB/s: a getChildren of the set takes seconds.
                    1 => Fault::Slow {
                        server,
                        rate: rng.gen_range(2_000..20_000),
                    },
                    _ => Fault::Stall { server },
                };
                (fault, session.mul_f64(rng.gen_range(0.25..1.75)))
            }
            Kind::Clock => {
                let magnitude = rng.gen_range(10..600);
                let offset_s = if rng.gen_bool(0.5) {
                    magnitude
                } else {
                    -magnitude
                };
                (
                    Fault::Clock { server, offset_s },
                    session.mul_f64(rng.gen_range(0.25..1.75)),
                )
            }
            Kind::Disk => (
                Fault::DiskFull { server },
                session.mul_f64(rng.gen_range(0.25..1.75)),
            ),
            kind @ (Kind::Torn | Kind::Garbage) => (
                Fault::Torn {
                    server,
                    len: rng.gen_range(1..=64),
                    seed: rng.gen(),
                    garbage: kind == Kind::Garbage,
                },
                Duration::from_millis(rng.gen_range(200..3_000)),
            ),
            Kind::Corrupt => (
                Fault::Corrupt { server },
                Duration::from_millis(rng.gen_range(200..1_000)),
            ),
        };
        steps.push(Step { quiet, fault, hold });
        t += quiet + hold;
    }
    steps
}

/// Sleeps `d` in slices, stopping early at `deadline` or when `stop` is set. Checks the
/// servers are alive in between. Returns false when it stopped early.
fn nap(
    cluster: &mut Cluster,
    d: Duration,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<bool, String> {
    let end = (Instant::now() + d).min(deadline);
    while Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        for s in &mut cluster.servers {
            s.check_alive()?;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Instant::now() < deadline)
}

/// What [`run`] did: log lines (ms since `start`, what happened) and each fault's span.
#[derive(Debug, Default)]
pub struct Played {
    pub log: Vec<String>,
    pub windows: Vec<Window>,
    /// What a fault showed wrong on its own (a server that started on a corrupted
    /// log, died of a signal on a full disk): each fails the run.
    pub findings: Vec<String>,
    /// Ensembles: which kind of server ("ringkeeper", "zookeeper") led when each
    /// fault began ("none" when no single member said leader), in order.
    pub leaders: Vec<String>,
}

impl Fault {
    /// The server itself stops (its session clocks stop too).
    fn server_down(&self) -> bool {
        matches!(
            self,
            Fault::Kill { .. }
                | Fault::KillLeader { .. }
                | Fault::KillAll
                | Fault::Pause { .. }
                | Fault::PauseLeader { .. }
                | Fault::DiskFull { .. }
                | Fault::Torn { .. }
                | Fault::Corrupt { .. }
        )
    }
}

fn ns_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Plays `steps` until `deadline` (or `stop`), healing each fault before the next and
/// everything at the end. An error carries the log so far.
pub fn run(
    cluster: &mut Cluster,
    proxy: Option<&Proxy>,
    steps: &[Step],
    start: Instant,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<Played, String> {
    let mut played = Played::default();
    match play(cluster, proxy, steps, start, deadline, stop, &mut played) {
        Ok(()) => Ok(played),
        Err(e) => Err(format!("{e}\nnemesis log:\n  {}", played.log.join("\n  "))),
    }
}

fn play(
    cluster: &mut Cluster,
    proxy: Option<&Proxy>,
    steps: &[Step],
    start: Instant,
    deadline: Instant,
    stop: &AtomicBool,
    played: &mut Played,
) -> Result<(), String> {
    let Played {
        log,
        windows,
        findings,
        leaders,
    } = played;
    let io = |e: io::Error| e.to_string();
    for step in steps {
        if !nap(cluster, step.quiet, deadline, stop)? {
            break;
        }
        let at = start.elapsed().as_millis();
        let start_ns = ns_since(start);
        log.push(format!("{at:>7} ms  {} for {:?}", step.fault, step.hold));
        // Which kind leads matters in a mixed ensemble: every window says so.
        let leader = if cluster.is_ensemble() {
            let l = cluster.leader().map_err(io)?;
            let kind = l.map_or("none", |l| cluster.kind(l)).to_owned();
            log.push(format!(
                "           leading: {}",
                l.map_or("no single member".to_owned(), |l| format!("s{l} ({kind})"))
            ));
            leaders.push(kind);
            l
        } else {
            None
        };
        let fault = resolve(step.fault, leader, log);
        let link = |server: u32| -> Result<&LinkFault, String> {
            let i = server.checked_sub(1).ok_or("no server 0")? as usize;
            proxy
                .and_then(|p| p.links.get(i))
                .map(|l| &**l)
                .ok_or_else(|| format!("{fault}: no proxy for s{server}"))
        };
        match fault {
            Fault::Delay { server, delay_ms } => link(server)?.delay_ms.store(delay_ms, Relaxed),
            Fault::Slow { server, rate } => link(server)?.rate.store(rate, Relaxed),
            Fault::Stall { server } => link(server)?.stall.store(true, Relaxed),
            Fault::Kill { server } => cluster.server(server).map_err(io)?.kill().map_err(io)?,
            Fault::Pause { server } => cluster.server(server).map_err(io)?.pause().map_err(io)?,
            Fault::Partition { from, to, both } => {
                cluster.net.block(from, to).map_err(io)?;
                if both {
                    cluster.net.block(to, from).map_err(io)?;
                }
            }
            Fault::Isolate { server } => {
                let s = Node::Server(server);
                for other in (1..=cluster.net.servers()).filter(|o| *o != server) {
                    cluster.net.block(s, Node::Server(other)).map_err(io)?;
                    cluster.net.block(Node::Server(other), s).map_err(io)?;
                }
            }
            Fault::KillAll => {
                for s in &mut cluster.servers {
                    s.kill().map_err(io)?;
                }
            }
            Fault::Halves {
                minority,
                client_with_minority,
            } => {
                let n = cluster.net.servers();
                let (small, big): (Vec<u32>, Vec<u32>) =
                    (1..=n).partition(|id| minority & (1 << id) != 0);
                let away = if client_with_minority { &big } else { &small };
                let mut cuts: Vec<(Node, Node)> = Vec::new();
                for a in &small {
                    cuts.extend(big.iter().map(|b| (Node::Server(*a), Node::Server(*b))));
                }
                cuts.extend(away.iter().map(|a| (Node::Client, Node::Server(*a))));
                for (a, b) in cuts {
                    cluster.net.block(a, b).map_err(io)?;
                    cluster.net.block(b, a).map_err(io)?;
                }
            }
            Fault::PeerOneWay { from, to } => cluster
                .net
                .block(Node::Server(from), Node::Server(to))
                .map_err(io)?,
            Fault::KillLeader { .. } | Fault::PauseLeader { .. } | Fault::IsolateLeader { .. } => {
                return Err(format!("{fault}: not resolved to a member"));
            }
            Fault::Clock { server, offset_s } => {
                let s = cluster.server(server).map_err(io)?;
                let f = s
                    .clock_file
                    .as_ref()
                    .ok_or("clock fault on a server not under libfaketime")?;
                std::fs::write(f, format!("{offset_s:+}\n")).map_err(io)?;
            }
            Fault::DiskFull { server } => {
                let s = cluster.server(server).map_err(io)?;
                s.may_exit = true;
                let t = s.tmpfs.as_ref().ok_or("disk fault without a log tmpfs")?;
                let n = t.fill().map_err(io)?;
                log.push(format!("           filler: {} KiB", n / 1024));
            }
            Fault::Torn {
                server,
                len,
                seed,
                garbage,
            } => {
                let s = cluster.server(server).map_err(io)?;
                s.kill().map_err(io)?;
                let what = match disk::newest_segment(&s.log_dir).map_err(io)? {
                    Some(p) => {
                        let seg = disk::walk(&p).map_err(io)?;
                        let tail = if garbage {
                            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                            (0..len).map(|_| rng.gen()).collect()
                        } else {
                            disk::record_prefix(&seg, len).map_err(io)?
                        };
                        disk::tear(&seg, &tail).map_err(io)?;
                        format!(
                            "{}: {} records, cut at {} and {} bytes appended",
                            p.display(),
                            seg.records.len(),
                            seg.end,
                            tail.len()
                        )
                    }
                    None => "no log segment yet".to_string(),
                };
                log.push(format!("           {what}"));
            }
            Fault::Corrupt { server } => {
                corrupt(cluster, server, log, findings)?;
            }
        }
        // The fault is held to its end even past the deadline's slice; heal follows.
        let held = nap(cluster, step.hold, deadline + step.hold, stop);
        match fault {
            Fault::Kill { server } | Fault::Torn { server, .. } | Fault::Corrupt { server } => {
                cluster.restart(server).map_err(io)?;
                settle(cluster, &format!("restart of s{server}"), start, log)?;
            }
            Fault::KillAll => {
                for id in 1..=cluster.net.servers() {
                    cluster.restart(id).map_err(io)?;
                }
                settle(cluster, "restart of every member", start, log)?;
            }
            Fault::Pause { server } => cluster.server(server).map_err(io)?.resume().map_err(io)?,
            Fault::Partition { .. }
            | Fault::Isolate { .. }
            | Fault::Halves { .. }
            | Fault::PeerOneWay { .. } => cluster.net.heal().map_err(io)?,
            Fault::KillLeader { .. } | Fault::PauseLeader { .. } | Fault::IsolateLeader { .. } => {}
            Fault::Delay { server, .. } | Fault::Slow { server, .. } | Fault::Stall { server } => {
                link(server)?.heal()
            }
            Fault::Clock { server, .. } => {
                let base = cluster.spec.clock.clone().unwrap_or_else(|| "+0".into());
                let s = cluster.server(server).map_err(io)?;
                if let Some(f) = &s.clock_file {
                    std::fs::write(f, format!("{base}\n")).map_err(io)?;
                }
            }
            Fault::DiskFull { server } => {
                let s = cluster.server(server).map_err(io)?;
                // A stop seen only now (after the hold) is recorded as well.
                s.check_alive()?;
                if let Some(t) = &s.tmpfs {
                    t.drain().map_err(io)?;
                }
                s.may_exit = false;
                if let Some(why) = s.exited.take() {
                    log.push(format!("           s{server} stopped: {why}"));
                    // Stopping with an error is the design; a signal or a panic is not.
                    if why.contains("signal") || why.contains("exit status: 101") {
                        findings.push(format!(
                            "s{server} did not stop cleanly on a full disk: {why}"
                        ));
                    }
                    cluster.restart(server).map_err(io)?;
                    settle(
                        cluster,
                        &format!("restart of s{server} after the full disk"),
                        start,
                        log,
                    )?;
                }
            }
        }
        log.push(format!("{:>7} ms  healed", start.elapsed().as_millis()));
        // A step of the wall clock alone must disturb nothing: no window excuses what
        // happens during it. A step of the monotonic clock too moves the server's
        // session deadlines, as an outage does. In an ensemble a cut between members
        // may cost the leader its quorum, and a new leader gives every session a full
        // timeout from its start (ZooKeeper's does): the same as an outage.
        let clock = matches!(fault, Fault::Clock { .. });
        let peers_cut = cluster.is_ensemble()
            && matches!(
                fault,
                Fault::Isolate { .. } | Fault::Halves { .. } | Fault::PeerOneWay { .. }
            );
        // The server re-reads its clock file only every `FAKETIME_CACHE_S`: a clock
        // fault ends there up to that long after the heal was written (seed 9105: a
        // leader's clock, 438 s behind, caught up 0.9 s after the heal was written,
        // and at once expired two sessions it had last answered 0.6 s after it).
        let lag_ns = if clock {
            (FAKETIME_CACHE_S * 1_000 + 250) * 1_000_000
        } else {
            0
        };
        if !(clock && cluster.spec.clock_realtime_only) {
            windows.push(Window {
                start_ns,
                end_ns: ns_since(start) + lag_ns,
                server_down: clock || peers_cut || fault.server_down(),
                defer_ns: match fault {
                    Fault::Clock { offset_s, .. } => offset_s.unsigned_abs() * 1_000_000_000,
                    _ => 0,
                },
            });
        }
        if !held? {
            break;
        }
    }
    cluster.heal_all().map_err(io)?;
    if let Some(p) = proxy {
        p.heal();
    }
    // Everything healed, an ensemble must form again: the final reads need it, and
    // one that never does is a finding of its own (a hang).
    if cluster.is_ensemble() {
        settle(cluster, "the final heal", start, log)?;
    }
    Ok(())
}

/// Turns a fault aimed at "the leader" into one aimed at `leader`, the member that
/// leads now (asked with `srvr`), or at the fallback member when none or several say
/// "leader"; logs which. Other faults pass through.
fn resolve(fault: Fault, leader: Option<u32>, log: &mut Vec<String>) -> Fault {
    let fallback = match fault {
        Fault::KillLeader { fallback }
        | Fault::PauseLeader { fallback }
        | Fault::IsolateLeader { fallback } => fallback,
        other => return other,
    };
    let server = match leader {
        Some(l) => {
            log.push(format!("           the leader is s{l}"));
            l
        }
        None => {
            log.push(format!(
                "           no single leader answers srvr; s{fallback} instead"
            ));
            fallback
        }
    };
    match fault {
        Fault::KillLeader { .. } => Fault::Kill { server },
        Fault::PauseLeader { .. } => Fault::Pause { server },
        _ => Fault::Isolate { server },
    }
}

/// Waits (at most 60 s) until every member serves again, an ensemble with one
/// leader; logs how long that took. Not settling in time fails the run as `what`.
fn settle(
    cluster: &mut Cluster,
    what: &str,
    start: Instant,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let t = Instant::now();
    let leader = cluster
        .wait_ready(Duration::from_secs(60))
        .map_err(|e| format!("{what}: {e}"))?;
    if cluster.is_ensemble() {
        let l = leader.map_or("none".to_owned(), |l| format!("s{l}, {}", cluster.kind(l)));
        log.push(format!(
            "{:>7} ms  {what}: one leader ({l}) and followers after {} ms",
            start.elapsed().as_millis(),
            t.elapsed().as_millis()
        ));
    }
    Ok(())
}

/// Kills `server`, flips a byte in the middle record of its newest log segment and
/// starts it: it must refuse to start. Then puts the byte back (the server is down
/// again; the heal restarts it).
fn corrupt(
    cluster: &mut Cluster,
    server: u32,
    log: &mut Vec<String>,
    findings: &mut Vec<String>,
) -> Result<(), String> {
    let io = |e: io::Error| e.to_string();
    let s = cluster.server(server).map_err(io)?;
    s.kill().map_err(io)?;
    let Some(p) = disk::newest_segment(&s.log_dir).map_err(io)? else {
        log.push("           no log segment yet: nothing corrupted".into());
        return Ok(());
    };
    let seg = disk::walk(&p).map_err(io)?;
    // The middle record, with records after it: damage, not a torn tail.
    if seg.records.len() < 3 {
        log.push(format!(
            "           {}: {} records, too few to corrupt one in the middle",
            p.display(),
            seg.records.len()
        ));
        return Ok(());
    }
    let k = seg.records.len() / 2;
    let (a, b) = seg.records[k];
    let offset = (a + b) / 2;
    let old = disk::flip(&p, offset).map_err(io)?;
    let what = format!(
        "{} record {k} of {} (bytes {a}..{b}) flipped at {offset}",
        p.display(),
        seg.records.len()
    );
    let started = cluster.probe_start(server, Duration::from_secs(30));
    let s = cluster.server(server).map_err(io)?;
    match started {
        Ok(Started::Exited(why)) => log.push(format!("           {what}; start refused: {why}")),
        Ok(Started::Serving) => {
            s.kill().map_err(io)?;
            findings.push(format!("s{server} started on a corrupted log: {what}"));
            log.push(format!("           {what}; THE SERVER STARTED"));
        }
        Err(e) => {
            s.kill().map_err(io)?;
            findings.push(format!("s{server} on a corrupted log: {e}; {what}"));
        }
    }
    match disk::restore(&p, offset, old) {
        // The server (a broken one) removed the segment itself.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r.map_err(io),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_schedule() {
        let k = [Kind::Kill, Kind::Pause, Kind::Partition];
        let a = schedule(7, &k, 1, Duration::from_secs(60));
        assert_eq!(a, schedule(7, &k, 1, Duration::from_secs(60)));
        assert_ne!(a, schedule(8, &k, 1, Duration::from_secs(60)));
        let total: Duration = a.iter().map(|s| s.quiet + s.hold).sum();
        assert!(total >= Duration::from_secs(60));
        assert!(a.iter().all(|s| s.hold < Duration::from_secs(8)));
    }

    #[test]
    fn ensembles_get_peer_partitions_and_standalones_do_not() {
        let three = schedule(3, &[Kind::Partition], 3, Duration::from_secs(300));
        let has = |f: fn(&Fault) -> bool| three.iter().any(|s| f(&s.fault));
        assert!(has(|f| matches!(f, Fault::Isolate { .. })));
        assert!(has(|f| matches!(f, Fault::IsolateLeader { .. })));
        assert!(has(|f| matches!(f, Fault::Partition { .. })));
        assert!(has(
            |f| matches!(f, Fault::PeerOneWay { from, to } if from != to)
        ));
        // A minority of one out of three, the client on either side.
        assert!(has(
            |f| matches!(f, Fault::Halves { minority, client_with_minority: true }
            if minority.count_ones() == 1 && minority & 1 == 0 && *minority < 16)
        ));
        assert!(has(|f| matches!(
            f,
            Fault::Halves {
                client_with_minority: false,
                ..
            }
        )));
        let five = schedule(3, &[Kind::Partition], 5, Duration::from_secs(300));
        assert!(five.iter().all(|s| match s.fault {
            Fault::Halves { minority, .. } => minority.count_ones() == 2,
            _ => true,
        }));
        let one = schedule(3, &[Kind::Partition], 1, Duration::from_secs(300));
        assert!(one
            .iter()
            .all(|s| matches!(s.fault, Fault::Partition { .. })));
    }

    #[test]
    fn ensembles_kill_and_pause_members_the_leader_and_everyone() {
        let s = schedule(4, &[Kind::Kill, Kind::Pause], 3, Duration::from_secs(600));
        let has = |f: fn(&Fault) -> bool| s.iter().any(|s| f(&s.fault));
        assert!(has(|f| matches!(f, Fault::Kill { .. })));
        assert!(has(|f| matches!(f, Fault::KillLeader { .. })));
        assert!(has(|f| matches!(f, Fault::KillAll)));
        assert!(has(|f| matches!(f, Fault::Pause { .. })));
        assert!(has(|f| matches!(f, Fault::PauseLeader { .. })));
        // Pauses below syncLimit × tickTime, between it and the session timeout,
        // and above the session timeout.
        let sync = Duration::from_millis(SYNC_LIMIT * TICK_MS);
        let session = Duration::from_millis(SESSION_TIMEOUT_MS);
        let pauses: Vec<Duration> = s
            .iter()
            .filter(|s| matches!(s.fault, Fault::Pause { .. } | Fault::PauseLeader { .. }))
            .map(|s| s.hold)
            .collect();
        assert!(pauses.iter().any(|h| *h < sync));
        assert!(pauses.iter().any(|h| *h > sync && *h < session));
        assert!(pauses.iter().any(|h| *h > session));
        // A standalone server gets none of the ensemble faults.
        let one = schedule(4, &[Kind::Kill, Kind::Pause], 1, Duration::from_secs(600));
        assert!(one
            .iter()
            .all(|s| matches!(s.fault, Fault::Kill { .. } | Fault::Pause { .. })));
    }

    #[test]
    fn pauses_straddle_the_session_timeout() {
        let s = schedule(1, &[Kind::Pause], 3, Duration::from_secs(600));
        let session = Duration::from_millis(SESSION_TIMEOUT_MS);
        assert!(s.iter().any(|s| s.hold < session));
        assert!(s.iter().any(|s| s.hold > session));
        assert!(s.iter().all(|s| matches!(s.fault,
            Fault::Pause { server } | Fault::PauseLeader { fallback: server }
                if (1..=3).contains(&server))));
    }
}
