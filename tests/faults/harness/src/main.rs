//! `ringkeeper-faults`: runs a fault schedule against real servers and checks the
//! history (`run`), re-checks a saved history (`check`), or deletes what killed runs
//! left behind (`sweep`). See tests/faults/README.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ringkeeper_faults::cluster::ServerSpec;
use ringkeeper_faults::nemesis::Kind;
use ringkeeper_faults::run::{self, RunConfig};
use ringkeeper_faults::{history, net, wgl};

#[derive(Parser)]
#[command(
    name = "ringkeeper-faults",
    about = "Fault harness with a linearizability checker"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    Ringkeeper,
    Zookeeper,
}

/// One member's implementation in a mixed ensemble (`--members`).
#[derive(Clone, Copy, ValueEnum)]
enum Member {
    /// ringkeeper (`--bin`).
    Rk,
    /// Apache ZooKeeper 3.8 (Debian's package).
    Zk,
}

// Parsed once per process: the size of the `run` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Start servers in network namespaces, load them under faults, check the history.
    Run {
        #[arg(long, value_enum, default_value = "ringkeeper")]
        target: Target,
        /// ringkeeper's binary (for --target ringkeeper).
        #[arg(long, default_value = "target/release/ringkeeper")]
        bin: PathBuf,
        /// Any server command instead ({cfg}, {dir}, {id} are filled in).
        #[arg(long)]
        server_cmd: Option<String>,
        /// Extra zoo.cfg lines (key=value), repeatable.
        #[arg(long = "prop")]
        props: Vec<String>,
        #[arg(long, default_value_t = 1)]
        servers: u32,
        /// A mixed ensemble: each member's implementation in myid order, e.g.
        /// `rk,zk,zk` (sets --servers; overrides --target).
        #[arg(long, value_enum, value_delimiter = ',')]
        members: Vec<Member>,
        /// Ensembles: the last this many members are observers.
        #[arg(long, default_value_t = 0)]
        observers: u32,
        /// Seed of the fault schedule and of the clients' op choices (random if absent).
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds of load (the faults play inside it).
        #[arg(long, default_value_t = 45)]
        duration_s: u64,
        /// Fault kinds, comma-separated; empty for none.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            num_args = 0..,
            default_value = "kill,pause,partition"
        )]
        nemesis: Vec<Kind>,
        #[arg(long, default_value_t = 4)]
        keys: u32,
        #[arg(long, default_value_t = 3)]
        workers_per_key: u32,
        /// Read the registers without `sync` first (ZooKeeper followers may answer
        /// stale: not linearizable on an ensemble).
        #[arg(long)]
        plain_reads: bool,
        /// Sessions adding to and reading the grow-only set (0: none).
        #[arg(long, default_value_t = 2)]
        set_workers: u32,
        /// Sessions enqueueing and dequeueing on the FIFO queue (0: none).
        #[arg(long, default_value_t = 2)]
        queue_workers: u32,
        /// Sessions each holding an ephemeral, life after life (0: none; one reader
        /// session comes with them).
        #[arg(long, default_value_t = 3)]
        eph_workers: u32,
        /// Sessions taking the lock recipe's lock in turn (0: none).
        #[arg(long, default_value_t = 3)]
        lock_workers: u32,
        /// Longest pause between a worker's calls, ms.
        #[arg(long, default_value_t = 40)]
        think_ms: u64,
        /// A call unanswered this long is recorded as unknown, ms.
        #[arg(long, default_value_t = 3_000)]
        op_timeout_ms: u64,
        /// Where data dirs, logs and the history go (kept when the run fails).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Keep the directory after a passing run too.
        #[arg(long)]
        keep: bool,
        /// Run the servers under libfaketime with this clock (`+3600`, `-600`, `x2`,
        /// `x0.5`, `+3600 x1.5`; libfaketime's FAKETIME syntax). The `clock` nemesis
        /// steps it while running.
        #[arg(long)]
        clock: Option<String>,
        /// With --clock or the clock nemesis: skew the wall clock only, not
        /// CLOCK_MONOTONIC.
        #[arg(long)]
        clock_realtime_only: bool,
        /// Start the servers as independent standalones (a broken "ensemble"; canary).
        #[arg(long)]
        independent: bool,
        /// Succeed only if the checker finds a violation (the canaries).
        #[arg(long)]
        expect_violation: bool,
        /// Succeed only if the members' trees differ after healing, both by the dump
        /// and by the `hash` digests (the digest canary; implies --expect-violation).
        #[arg(long)]
        expect_divergence: bool,
    },
    /// Time leader failover: SIGKILL or SIGSTOP the leader, measure until the first
    /// write invoked after it is acknowledged; median and max over the rounds.
    Failover {
        #[arg(long, value_enum, default_value = "ringkeeper")]
        target: Target,
        #[arg(long, default_value = "target/release/ringkeeper")]
        bin: PathBuf,
        #[arg(long, default_value_t = 3)]
        servers: u32,
        #[arg(long, value_enum, default_value = "kill")]
        fault: ringkeeper_faults::failover::Fault,
        /// Rounds (one leader fault each) on one cluster.
        #[arg(long, default_value_t = 10)]
        runs: u32,
        /// Extra zoo.cfg lines (key=value), repeatable.
        #[arg(long = "prop")]
        props: Vec<String>,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Check a saved history (history.txt of a run).
    Check { file: PathBuf },
    /// Check a saved set history (set.txt of a run).
    CheckSet { file: PathBuf },
    /// Check a saved queue history (queue.txt of a run).
    CheckQueue { file: PathBuf },
    /// Check a saved sessions-and-ephemerals history (eph.txt of a run).
    CheckEph { file: PathBuf },
    /// Check a saved lock history (lock.txt of a run).
    CheckLock { file: PathBuf },
    /// Delete namespaces left by runs that were killed.
    Sweep,
}

fn main() -> ExitCode {
    match Args::parse().command {
        Cmd::Check { file } => check(&file),
        Cmd::CheckSet { file } => check_text(&file, |t| {
            let (adds, reads, final_read) = ringkeeper_faults::set::parse_text(t)?;
            let r = ringkeeper_faults::set::check(&adds, &reads, &final_read);
            Ok((r.describe(), r.ok()))
        }),
        Cmd::CheckQueue { file } => check_text(&file, |t| {
            let (e, d, f) = ringkeeper_faults::queue::parse_text(t)?;
            let r = ringkeeper_faults::queue::check(&e, &d, &f);
            Ok((r.describe(), r.ok()))
        }),
        Cmd::CheckLock { file } => check_text(&file, |t| {
            let r = ringkeeper_faults::lock::check(&ringkeeper_faults::lock::parse_text(t)?);
            Ok((r.describe(), r.ok()))
        }),
        Cmd::CheckEph { file } => check_text(&file, |t| {
            let (l, r, w) = ringkeeper_faults::ephemeral::parse_text(t)?;
            let r = ringkeeper_faults::ephemeral::check(&l, &r, &w);
            Ok((r.describe(), r.ok()))
        }),
        Cmd::Failover {
            target,
            bin,
            servers,
            fault,
            runs,
            props,
            dir,
        } => {
            let Some(mut spec) = target_spec(target, &bin) else {
                return ExitCode::FAILURE;
            };
            spec.props = props;
            let cfg = ringkeeper_faults::failover::FailoverConfig {
                spec,
                servers,
                runs,
                fault,
                dir: dir.unwrap_or_else(run::default_dir),
            };
            failover(&cfg)
        }
        Cmd::Sweep => match net::sweep_stale() {
            Ok(n) => {
                println!("deleted {n} stale namespaces");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sweep: {e}");
                ExitCode::FAILURE
            }
        },
        Cmd::Run {
            target,
            bin,
            server_cmd,
            props,
            mut servers,
            members,
            observers,
            seed,
            duration_s,
            nemesis,
            keys,
            workers_per_key,
            set_workers,
            queue_workers,
            eph_workers,
            lock_workers,
            plain_reads,
            think_ms,
            op_timeout_ms,
            dir,
            keep,
            independent,
            expect_violation,
            expect_divergence,
            clock,
            clock_realtime_only,
        } => {
            // With --members, the target is "ringkeeper" when any member is.
            let target = match members.first() {
                Some(_) if members.iter().any(|m| matches!(m, Member::Rk)) => Target::Ringkeeper,
                Some(_) => Target::Zookeeper,
                None => target,
            };
            let mut spec = match target {
                // A custom command needs no binary.
                Target::Ringkeeper if server_cmd.is_some() => ServerSpec::ringkeeper(&bin),
                t => match target_spec(t, &bin) {
                    Some(spec) => spec,
                    None => return ExitCode::FAILURE,
                },
            };
            if let Some(t) = server_cmd.clone() {
                spec.name = "custom".into();
                spec.template = t;
            }
            if !members.is_empty() {
                if servers != 1 && servers as usize != members.len() {
                    eprintln!(
                        "--servers {servers} and {} --members disagree",
                        members.len()
                    );
                    return ExitCode::FAILURE;
                }
                if members.len() < 2 || server_cmd.is_some() {
                    eprintln!("--members needs two or more members and no --server-cmd");
                    return ExitCode::FAILURE;
                }
                servers = members.len() as u32;
                // A ringkeeper member runs the (absolute) binary of `spec` above.
                let (rk, zk) = (spec.clone(), ServerSpec::zookeeper());
                spec.members = members
                    .iter()
                    .map(|m| match m {
                        Member::Rk => (rk.name.clone(), rk.template.clone()),
                        Member::Zk => (zk.name.clone(), zk.template.clone()),
                    })
                    .collect();
                spec.name = format!(
                    "mixed ({})",
                    members
                        .iter()
                        .map(|m| match m {
                            Member::Rk => "rk",
                            Member::Zk => "zk",
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
            if observers > 0 && (servers < 2 || observers >= servers || independent) {
                eprintln!("--observers {observers} needs an ensemble with a voter left over");
                return ExitCode::FAILURE;
            }
            spec.observers = observers;
            spec.props = props;
            spec.independent = independent;
            // libfaketime ignores a rate without an offset in its timestamp file
            // ("x2" does nothing, "+0 x2" works).
            spec.clock = clock.map(|c| {
                if c.trim_start().starts_with('x') {
                    format!("+0 {}", c.trim())
                } else {
                    c
                }
            });
            spec.clock_realtime_only = clock_realtime_only;
            let cfg = RunConfig {
                spec,
                servers,
                seed: seed.unwrap_or_else(rand::random),
                duration: Duration::from_secs(duration_s),
                nemeses: nemesis,
                keys,
                workers_per_key,
                set_workers,
                queue_workers,
                eph_workers,
                lock_workers,
                plain_reads,
                think_ms_max: think_ms,
                op_timeout: Duration::from_millis(op_timeout_ms),
                dir: dir.unwrap_or_else(run::default_dir),
                keep,
            };
            play(
                &cfg,
                expect_violation || expect_divergence,
                expect_divergence,
            )
        }
    }
}

/// A flag set by SIGINT, SIGTERM or SIGHUP (the loops poll it, cleanup still runs);
/// `None`, said on stderr, when a handler cannot be installed.
fn stop_on_signals() -> Option<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            eprintln!("ringkeeper-faults: cannot handle signal {sig}: {e}");
            return None;
        }
    }
    Some(stop)
}

/// The target's spec; ringkeeper's binary made absolute (each server runs in its own
/// directory), `None` (said on stderr) when it is missing.
fn target_spec(target: Target, bin: &std::path::Path) -> Option<ServerSpec> {
    match target {
        Target::Ringkeeper => match bin.canonicalize() {
            Ok(b) => Some(ServerSpec::ringkeeper(&b)),
            Err(e) => {
                eprintln!("{}: {e} (build it: cargo build --release)", bin.display());
                None
            }
        },
        Target::Zookeeper => Some(ServerSpec::zookeeper()),
    }
}

fn play(cfg: &RunConfig, expect_violation: bool, expect_divergence: bool) -> ExitCode {
    let Some(stop) = stop_on_signals() else {
        return ExitCode::FAILURE;
    };
    println!(
        "ringkeeper-faults: seed {} (replay with --seed {})",
        cfg.seed, cfg.seed
    );
    let report = match run::run(cfg, stop.clone()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringkeeper-faults: run failed: {e}");
            eprintln!("kept {}", cfg.dir.display());
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.text);
    print!("{}", run::describe(&report.check, &report.ops));
    if let Some(set) = &report.set {
        print!("{}", set.describe());
    }
    if let Some(q) = &report.queue {
        print!("{}", q.describe());
    }
    if let Some(e) = &report.eph {
        print!("{}", e.describe());
    }
    if let Some(l) = &report.lock {
        print!("{}", l.describe());
    }
    if let Some(t) = &report.trees {
        print!("{}", t.describe());
    }
    for f in &report.findings {
        println!("FAULT FINDING: {f}");
    }
    println!(
        "checked in {:.2} s; history in {}",
        report.check_time.as_secs_f64(),
        report.history_file.display()
    );
    let stopped = stop.load(std::sync::atomic::Ordering::Relaxed);
    let others_ok = report.set.as_ref().is_none_or(|s| s.ok())
        && report.queue.as_ref().is_none_or(|q| q.ok())
        && report.eph.as_ref().is_none_or(|e| e.ok())
        && report.lock.as_ref().is_none_or(|l| l.ok())
        && report.trees.as_ref().is_none_or(|t| t.ok())
        && report.findings.is_empty();
    let ok = report.check.all_linearizable() && others_ok;
    let has_violation = report
        .check
        .keys
        .values()
        .any(|v| matches!(v, wgl::Verdict::NotLinearizable { .. }))
        || !report.check.anomalies.is_empty()
        || !others_ok;
    let diverged = report
        .trees
        .as_ref()
        .is_some_and(|t| !t.diffs.is_empty() && !t.hash_diffs.is_empty());
    let pass = !stopped
        && if expect_violation {
            has_violation && (diverged || !expect_divergence)
        } else {
            ok && report.ops.iter().any(|o| !o.is_info())
        };
    if pass && !cfg.keep {
        let _ = std::fs::remove_dir_all(&cfg.dir);
    } else {
        println!("kept {}", cfg.dir.display());
    }
    if stopped {
        println!("stopped by a signal before the end: not a pass");
    }
    match (pass, expect_violation) {
        (true, false) => println!("PASS: linearizable, and every other checker passed"),
        (true, true) => println!("PASS: the checker found the expected violation"),
        (false, false) => println!("FAIL (seed {})", cfg.seed),
        (false, true) if expect_divergence && has_violation => {
            println!("FAIL: the members' trees did not differ by both dump and digest")
        }
        (false, true) => println!("FAIL: no violation found where one was expected"),
    }
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn failover(cfg: &ringkeeper_faults::failover::FailoverConfig) -> ExitCode {
    let Some(stop) = stop_on_signals() else {
        return ExitCode::FAILURE;
    };
    match ringkeeper_faults::failover::run(cfg, &stop) {
        Ok(summary) => {
            print!("{}", summary.describe(cfg));
            let _ = std::fs::remove_dir_all(&cfg.dir);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringkeeper-faults failover: {e}");
            eprintln!("kept {}", cfg.dir.display());
            ExitCode::FAILURE
        }
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    let ops = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|t| history::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let report = wgl::check(&ops, wgl::Limits::default());
    print!("{}", run::describe(&report, &ops));
    if report.all_linearizable() {
        println!("linearizable");
        ExitCode::SUCCESS
    } else {
        println!("NOT linearizable (or unknown)");
        ExitCode::FAILURE
    }
}

/// Reads `file` and runs `check` on its text, which returns the report and whether it
/// passed.
fn check_text(
    file: &std::path::Path,
    check: impl FnOnce(&str) -> Result<(String, bool), String>,
) -> ExitCode {
    match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|t| check(&t))
    {
        Ok((text, ok)) => {
            print!("{text}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}
