//! Failover timing (issue 13, item 6): how long after the leader is SIGKILLed or
//! SIGSTOPped the ensemble acknowledges a write again, measured by the harness on real
//! processes in their namespaces, the same way for ringkeeper and Apache ZooKeeper.
//!
//! One cluster serves every round. A writer session per member sits on that member
//! alone and calls `setData` on one znode in a loop (each call bounded by
//! [`CALL_TIMEOUT`], errors retried after [`RETRY_PAUSE`]). A round lets the writes
//! flow for [`STEADY`], takes the leader down, and records the time from the signal to
//! the first acknowledgement of a write *invoked after* the signal (a write the old
//! leader committed just before does not count). Then the old leader is restarted or
//! resumed and the ensemble left to form again before the next round.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::future;
use ringkeeper::client::{Client, Options};
use ringkeeper::proto::{Acl, CreateMode};

use crate::cluster::{Cluster, ServerSpec, CLIENT_PORT, SESSION_TIMEOUT_MS};
use crate::net::{self, Net, Node};

/// The znode every writer sets.
const PATH: &str = "/rkf-failover";

/// Writes flow this long before each fault (sessions up, the pipeline warm).
const STEADY: Duration = Duration::from_secs(2);

/// A write unanswered this long counts as failed and is tried again.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Pause between a failed write (or connect) and the next try.
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// A round whose first write after the fault takes longer than this fails the run.
const ROUND_MAX: Duration = Duration::from_secs(60);

/// Which fault takes the leader down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// SIGKILL the leader; restarted after the round.
    Kill,
    /// SIGSTOP the leader (its peers must notice silence); SIGCONT after the round.
    Pause,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Kill => "SIGKILL",
            Fault::Pause => "SIGSTOP",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FailoverConfig {
    pub spec: ServerSpec,
    pub servers: u32,
    pub runs: u32,
    pub fault: Fault,
    pub dir: PathBuf,
}

/// One round: which member led and how long until the first write after the fault
/// was acknowledged.
#[derive(Debug, Clone)]
pub struct Round {
    pub leader: u32,
    pub leader_kind: String,
    pub to_first_write: Duration,
}

/// The rounds, and the median and max of their times.
#[derive(Debug, Default)]
pub struct Summary {
    pub rounds: Vec<Round>,
}

impl Summary {
    pub fn median(&self) -> Option<Duration> {
        let mut t: Vec<Duration> = self.rounds.iter().map(|r| r.to_first_write).collect();
        t.sort();
        t.get(t.len() / 2).copied()
    }

    pub fn max(&self) -> Option<Duration> {
        self.rounds.iter().map(|r| r.to_first_write).max()
    }

    pub fn describe(&self, cfg: &FailoverConfig) -> String {
        let mut out = String::new();
        for (i, r) in self.rounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "  round {:>2}: leader s{} ({}) {} -> first acknowledged write after {} ms",
                i + 1,
                r.leader,
                r.leader_kind,
                cfg.fault.name(),
                r.to_first_write.as_millis()
            );
        }
        let ms = |d: Option<Duration>| d.map_or("-".into(), |d| d.as_millis().to_string());
        let _ = writeln!(
            out,
            "failover {} x{} leader {}: {} rounds, median {} ms, max {} ms",
            cfg.spec.name,
            cfg.servers,
            cfg.fault.name(),
            self.rounds.len(),
            ms(self.median()),
            ms(self.max())
        );
        out
    }
}

/// Acknowledged writes: (invoked, acknowledged), shared by the writers and the rounds.
type Acks = Arc<Mutex<Vec<(Instant, Instant)>>>;

/// Runs `cfg.runs` rounds on one cluster. `stop` (a signal) ends it early with an error.
pub fn run(cfg: &FailoverConfig, stop: &AtomicBool) -> Result<Summary, String> {
    if cfg.servers < 3 {
        return Err("failover needs an ensemble of 3 or more".into());
    }
    net::sweep_stale().map_err(|e| format!("sweeping stale namespaces: {e}"))?;
    std::fs::create_dir_all(&cfg.dir).map_err(|e| format!("{}: {e}", cfg.dir.display()))?;
    let mut cluster = Cluster::start(cfg.spec.clone(), cfg.servers, &cfg.dir)
        .map_err(|e| format!("starting the cluster: {e}"))?;
    cluster
        .wait_ready(Duration::from_secs(60))
        .map_err(|e| format!("cluster not ready: {e}"))?;

    let acks: Acks = Arc::default();
    let writers_stop = Arc::new(AtomicBool::new(false));
    let members: Vec<String> = (1..=cfg.servers)
        .map(|id| format!("{}:{CLIENT_PORT}", Net::addr(Node::Server(id))))
        .collect();
    let ns = cluster
        .net
        .ns_file(Node::Client)
        .map_err(|e| format!("client namespace: {e}"))?;
    let writers = {
        let (acks, stop) = (acks.clone(), writers_stop.clone());
        net::spawn_executor(ns, move || writers(members, acks, stop))
    };
    let rounds = rounds(cfg, &mut cluster, &acks, stop);
    writers_stop.store(true, Ordering::Relaxed);
    let written = writers
        .join()
        .map_err(|_| "the writers panicked".to_string())?;
    let rounds = rounds?;
    written?;
    Ok(Summary { rounds })
}

fn rounds(
    cfg: &FailoverConfig,
    cluster: &mut Cluster,
    acks: &Acks,
    stop: &AtomicBool,
) -> Result<Vec<Round>, String> {
    let io = |e: std::io::Error| e.to_string();
    let mut rounds = Vec::new();
    for round in 1..=cfg.runs {
        std::thread::sleep(STEADY);
        let since = Instant::now() - STEADY;
        let flowing = lock(acks).iter().any(|(i, _)| *i >= since);
        if !flowing {
            return Err(format!(
                "round {round}: no write acknowledged in the {STEADY:?} before the fault"
            ));
        }
        let leader = cluster
            .leader()
            .map_err(io)?
            .ok_or_else(|| format!("round {round}: no single leader answers srvr"))?;
        let mut t0 = Instant::now();
        match cfg.fault {
            Fault::Kill => cluster.server(leader).map_err(io)?.kill().map_err(io)?,
            Fault::Pause => {
                let s = cluster.server(leader).map_err(io)?;
                s.pause().map_err(io)?;
                // SIGSTOP reaches each thread in its own time (one round once saw
                // a write acknowledged 4 ms after the signal to a JVM leader): the
                // clock starts once every thread has stopped.
                let pid = s.pid().ok_or("the leader is not running")?;
                wait_stopped(pid)?;
                t0 = Instant::now();
            }
        }
        let first = loop {
            if stop.load(Ordering::Relaxed) {
                return Err("stopped by a signal".into());
            }
            let first = lock(acks)
                .iter()
                .filter(|(invoked, _)| *invoked >= t0)
                .map(|(_, acked)| *acked)
                .min();
            if let Some(a) = first {
                break a;
            }
            if t0.elapsed() > ROUND_MAX {
                return Err(format!(
                    "round {round}: no write acknowledged within {ROUND_MAX:?} of the fault"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        rounds.push(Round {
            leader,
            leader_kind: cluster.kind(leader).to_owned(),
            to_first_write: first.duration_since(t0),
        });
        match cfg.fault {
            Fault::Kill => cluster.restart(leader).map_err(io)?,
            Fault::Pause => cluster.server(leader).map_err(io)?.resume().map_err(io)?,
        }
        cluster
            .wait_ready(Duration::from_secs(60))
            .map_err(|e| format!("round {round}: the ensemble did not form again: {e}"))?;
        // Old acknowledgements are of no more use.
        lock(acks).retain(|(i, _)| *i >= t0);
    }
    Ok(rounds)
}

/// Waits (at most 2 s) until every thread of `pid` is stopped ('T' in its stat).
fn wait_stopped(pid: u32) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map_err(|e| format!("/proc/{pid}/task: {e}"))?;
        let mut all = true;
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // The state follows the command name's closing parenthesis.
            let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
            if !matches!(state, Some('T' | 't')) {
                all = false;
                break;
            }
        }
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("pid {pid}: not every thread stopped within 2 s"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn lock(acks: &Acks) -> std::sync::MutexGuard<'_, Vec<(Instant, Instant)>> {
    // A writer never panics while holding it; a poisoned lock still holds good data.
    acks.lock().unwrap_or_else(|p| p.into_inner())
}

/// One writer per member, each on that member alone, until `stop`.
async fn writers(members: Vec<String>, acks: Acks, stop: Arc<AtomicBool>) -> Result<(), String> {
    setup(&members.join(",")).await?;
    let tasks: Vec<_> = members
        .into_iter()
        .map(|m| {
            let (acks, stop) = (acks.clone(), stop.clone());
            glommio::spawn_local(writer(m, acks, stop))
        })
        .collect();
    for t in tasks {
        t.await;
    }
    Ok(())
}

/// Creates the znode (bounded: 60 s).
async fn setup(servers: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = async {
            let c = Client::connect(servers, SESSION_TIMEOUT_MS as i32, options())
                .await
                .map_err(|e| e.to_string())?;
            let made = c
                .create(
                    PATH,
                    Some(b"0"),
                    &Acl::open_unsafe(),
                    CreateMode::Persistent,
                )
                .await;
            let _ = c.close().await;
            match made {
                Ok(_) => Ok(()),
                Err(e) if e.to_string().contains("NODEEXISTS") => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        .await;
        match r {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("setup: {e}")),
            Err(_) => glommio::timer::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn options() -> Options {
    Options {
        connect_timeout_ms: 1_000,
        ..Options::default()
    }
}

async fn writer(member: String, acks: Acks, stop: Arc<AtomicBool>) {
    let mut client: Option<Client> = None;
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let c = match &client {
            Some(c) if !c.is_closed() => c.clone(),
            _ => match Client::connect(&member, SESSION_TIMEOUT_MS as i32, options()).await {
                Ok(c) => {
                    client = Some(c.clone());
                    c
                }
                Err(_) => {
                    glommio::timer::sleep(RETRY_PAUSE).await;
                    continue;
                }
            },
        };
        if !c.is_connected() {
            glommio::timer::sleep(RETRY_PAUSE).await;
            continue;
        }
        n += 1;
        let value = n.to_string();
        let invoked = Instant::now();
        let done = future::or(
            async { c.set_data(PATH, Some(value.as_bytes()), -1).await.is_ok() },
            async {
                glommio::timer::sleep(CALL_TIMEOUT).await;
                false
            },
        )
        .await;
        if done {
            lock(&acks).push((invoked, Instant::now()));
        } else {
            glommio::timer::sleep(RETRY_PAUSE).await;
        }
    }
    if let Some(c) = client {
        let _ = c.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(ms: u64) -> Round {
        Round {
            leader: 1,
            leader_kind: "ringkeeper".into(),
            to_first_write: Duration::from_millis(ms),
        }
    }

    #[test]
    fn median_and_max() {
        let s = Summary {
            rounds: [900, 300, 500, 4_000, 700].map(round).to_vec(),
        };
        assert_eq!(s.median(), Some(Duration::from_millis(700)));
        assert_eq!(s.max(), Some(Duration::from_millis(4_000)));
        assert_eq!(Summary::default().median(), None);
    }
}
