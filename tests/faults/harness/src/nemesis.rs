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

use rand::{Rng, SeedableRng};

use crate::cluster::{Cluster, SESSION_TIMEOUT_MS};
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
            Kind::Kill => (
                Fault::Kill { server },
                Duration::from_millis(rng.gen_range(200..3_000)),
            ),
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
                // With an ensemble, half the partitions cut a member off its peers
                // (the clients still reach it).
                if servers > 1 && rng.gen_bool(0.5) {
                    (Fault::Isolate { server }, hold)
                } else {
                    let (from, to, both) = match rng.gen_range(0..3) {
                        0 => (Node::Client, s, true),
                        1 => (Node::Client, s, false),
                        _ => (s, Node::Client, false),
                    };
                    (Fault::Partition { from, to, both }, hold)
                }
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
}

impl Fault {
    /// The server itself stops (its session clocks stop too).
    fn server_down(&self) -> bool {
        matches!(self, Fault::Kill { .. } | Fault::Pause { .. })
    }
}

fn ns_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Plays `steps` until `deadline` (or `stop`), healing each fault before the next and
/// everything at the end.
pub fn run(
    cluster: &mut Cluster,
    proxy: Option<&Proxy>,
    steps: &[Step],
    start: Instant,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<Played, String> {
    let mut log = Vec::new();
    let mut windows = Vec::new();
    let io = |e: io::Error| e.to_string();
    for step in steps {
        if !nap(cluster, step.quiet, deadline, stop)? {
            break;
        }
        let at = start.elapsed().as_millis();
        let start_ns = ns_since(start);
        log.push(format!("{at:>7} ms  {} for {:?}", step.fault, step.hold));
        let link = |server: u32| -> Result<&LinkFault, String> {
            let i = server.checked_sub(1).ok_or("no server 0")? as usize;
            proxy
                .and_then(|p| p.links.get(i))
                .map(|l| &**l)
                .ok_or_else(|| format!("{}: no proxy for s{server}", step.fault))
        };
        match step.fault {
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
        }
        // The fault is held to its end even past the deadline's slice; heal follows.
        let held = nap(cluster, step.hold, deadline + step.hold, stop);
        match step.fault {
            Fault::Kill { server } => {
                cluster.restart(server).map_err(io)?;
                cluster
                    .wait_ready(Duration::from_secs(60))
                    .map_err(|e| format!("restart of s{server}: {e}"))?;
            }
            Fault::Pause { server } => cluster.server(server).map_err(io)?.resume().map_err(io)?,
            Fault::Partition { .. } | Fault::Isolate { .. } => cluster.net.heal().map_err(io)?,
            Fault::Delay { server, .. } | Fault::Slow { server, .. } | Fault::Stall { server } => {
                link(server)?.heal()
            }
        }
        log.push(format!("{:>7} ms  healed", start.elapsed().as_millis()));
        windows.push(Window {
            start_ns,
            end_ns: ns_since(start),
            server_down: step.fault.server_down(),
        });
        if !held? {
            break;
        }
    }
    cluster.heal_all().map_err(io)?;
    if let Some(p) = proxy {
        p.heal();
    }
    Ok(Played { log, windows })
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
        assert!(three
            .iter()
            .any(|s| matches!(s.fault, Fault::Isolate { .. })));
        assert!(three
            .iter()
            .any(|s| matches!(s.fault, Fault::Partition { .. })));
        let one = schedule(3, &[Kind::Partition], 1, Duration::from_secs(300));
        assert!(!one.iter().any(|s| matches!(s.fault, Fault::Isolate { .. })));
    }

    #[test]
    fn pauses_straddle_the_session_timeout() {
        let s = schedule(1, &[Kind::Pause], 3, Duration::from_secs(600));
        let session = Duration::from_millis(SESSION_TIMEOUT_MS);
        assert!(s.iter().any(|s| s.hold < session));
        assert!(s.iter().any(|s| s.hold > session));
        assert!(s
            .iter()
            .all(|s| matches!(s.fault, Fault::Pause { server } if (1..=3).contains(&server))));
    }
}
