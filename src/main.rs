//! The `ringkeeper` command: `server` runs a server; the other subcommands are tools
//! around it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use ringkeeper::config::Config;

/// jemalloc rather than glibc's malloc: a tree of a million znodes built under load
/// keeps about a tenth less memory (see the dependency's note in Cargo.toml).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// The load generator is a tool of the binary, not part of the server library.
#[path = "../bench/loadgen/mod.rs"]
mod bench;

#[derive(Parser)]
#[command(
    name = "ringkeeper",
    version,
    about = "A ZooKeeper-compatible coordination service"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the version (the same as `--version`).
    Version,
    /// Run a server. Without a config file: standalone on 127.0.0.1:2181, data in
    /// ./ringkeeper-data.
    Server {
        /// A ZooKeeper zoo.cfg (as `zkServer.sh start zoo.cfg` takes it).
        #[arg(value_name = "ZOO_CFG", conflicts_with = "config")]
        config_file: Option<PathBuf>,
        /// A ZooKeeper zoo.cfg.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// A setting as ZooKeeper's `-Dzookeeper.KEY=VALUE` system property; applied after
        /// the config file (or the embedded default). Repeatable.
        #[arg(short = 'D', value_name = "KEY=VALUE")]
        props: Vec<String>,
        /// The client port; the same as `-D clientPort=PORT` (0: any free port).
        #[arg(long, short)]
        port: Option<u16>,
    },
    /// A zkCli-compatible shell: interactive without a command, one-shot with one.
    Cli(ringkeeper::cli::CliArgs),
    /// Import an Apache ZooKeeper 3.8 data directory (version-2/snapshot.* and log.*)
    /// into a new ringkeeper data directory.
    ImportZk {
        /// ZooKeeper's dataDir (the directory holding version-2/).
        zk_data_dir: PathBuf,
        /// ZooKeeper's dataLogDir, when its logs live apart from dataDir.
        #[arg(long)]
        zk_log_dir: Option<PathBuf>,
        /// The ringkeeper dataDir to create; must be missing or empty.
        #[arg(long, default_value = "./ringkeeper-data")]
        to: PathBuf,
        /// Read owners as zookeeper.extendedTypesEnabled=true does (TTL nodes).
        #[arg(long)]
        extended_types: bool,
    },
    /// Diagnostic until ZAB is wired into the server: take part in an ensemble's
    /// leader election (ZooKeeper's fast leader election on the election port, Java
    /// peers included) and print each decision as one line; keeps answering peers until
    /// killed. It has no quorum port: nobody can follow it.
    Election {
        /// The ensemble's zoo.cfg (server.N lines; myid in dataDir).
        #[arg(long, short)]
        config: PathBuf,
        /// A setting as `-D KEY=VALUE`, applied after the file. Repeatable.
        #[arg(short = 'D', value_name = "KEY=VALUE")]
        props: Vec<String>,
        /// The last logged zxid to vote with (decimal or 0x hex).
        #[arg(long, default_value = "0", value_parser = parse_i64)]
        last_zxid: i64,
        /// The currentEpoch to vote with.
        #[arg(long, default_value = "0", value_parser = parse_i64)]
        current_epoch: i64,
    },
    /// Write a ringkeeper data directory as a ZooKeeper 3.8 snapshot, for an Apache
    /// ZooKeeper server to start from: the way back from ringkeeper. The server must
    /// be stopped (its directories are locked).
    ExportZk {
        /// ringkeeper's dataDir.
        data_dir: PathBuf,
        /// ringkeeper's dataLogDir, when the log lives apart from dataDir.
        #[arg(long)]
        log_dir: Option<PathBuf>,
        /// The ZooKeeper dataDir to write (version-2/snapshot.<zxid> goes in it);
        /// its version-2/ must be missing or empty.
        #[arg(long)]
        to: PathBuf,
    },
    /// A load generator for any ZooKeeper-protocol server (see bench/).
    Bench(Box<bench::BenchArgs>),
    /// A measuring instrument for bench/compare, not a server: answers getData at
    /// once with a fixed reply and setData with one write + fdatasync, to show the
    /// machine's own unloaded latency floor (bench/loadgen/floor.rs).
    FloorServer {
        #[arg(long, default_value = "127.0.0.1:2181")]
        listen: std::net::SocketAddr,
        /// Bytes of data in each getData reply.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// Answer setData by writing it to this file (made, 64 MiB) and fdatasync.
        #[arg(long)]
        sync_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // Colour only on a terminal: escape codes in a log file or journal are noise.
    // NO_COLOR (no-color.org) turns it off on a terminal too.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
    // zkCli spells its options `-server host:port`; accept that after `cli` too.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "cli") {
        let tail = ringkeeper::cli::normalize_zkcli_args(argv.split_off(1));
        argv.extend(tail);
    }
    let version = version();
    let args = Args::command().version(version).get_matches_from(argv);
    let args = Args::from_arg_matches(&args).unwrap_or_else(|e| e.exit());
    // A panic is a bug (bad input gets an error code, never a panic). In a server a
    // panicking core would leave the others waiting on it forever, so the process
    // stops at once instead; recovery on restart comes from the log.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("ringkeeper: internal error (a bug); stopping");
        std::process::abort();
    }));
    match args.command {
        Command::Version => {
            println!("ringkeeper {version}");
            ExitCode::SUCCESS
        }
        Command::ImportZk {
            zk_data_dir,
            zk_log_dir,
            to,
            extended_types,
        } => import_zk(&zk_data_dir, zk_log_dir.as_deref(), &to, extended_types),
        Command::Election {
            config,
            props,
            last_zxid,
            current_epoch,
        } => {
            let cfg = match ringkeeper::config::QuorumConfig::load(&config, &props) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("ringkeeper election: {e}");
                    return ExitCode::from(2);
                }
            };
            match ringkeeper::server::election::diagnostic::run(cfg, last_zxid, current_epoch) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ringkeeper election: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::ExportZk {
            data_dir,
            log_dir,
            to,
        } => match ringkeeper::storage::zk::export(&data_dir, log_dir.as_deref(), &to) {
            Ok(e) => {
                println!(
                    "exported {}: {} nodes, {} sessions, zxid 0x{:x}\n  written   {}",
                    data_dir.display(),
                    e.nodes,
                    e.sessions,
                    e.zxid,
                    e.snapshot.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ringkeeper export-zk: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Bench(bench) => bench::main(*bench),
        Command::FloorServer {
            listen,
            value_size,
            sync_file,
        } => match bench::floor::serve(listen, value_size, sync_file.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ringkeeper: floor server on {listen}: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Cli(cli) => match ringkeeper::cli::run(cli) {
            Ok(()) => ExitCode::SUCCESS,
            // Its own message is already printed, as zkCli prints it.
            Err(ringkeeper::cli::CliError::CommandFailed) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Server {
            config_file,
            config,
            mut props,
            port,
        } => {
            if let Some(p) = port {
                props.push(format!("clientPort={p}"));
            }
            // zkServer.sh passes the JAAS file as a JVM flag in these variables.
            let jvm = ringkeeper::config::jvm_flag_props(
                std::env::var("SERVER_JVMFLAGS").ok().as_deref(),
                std::env::var("JVMFLAGS").ok().as_deref(),
            );
            let file = config_file.or(config);
            let mut cfg = match Config::load_with_jvm_flags(file.as_deref(), &props, &jvm) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("ringkeeper: {e}");
                    return ExitCode::from(2);
                }
            };
            // An ensemble member also needs the ensemble part: server lines and myid.
            let ensemble = match (&file, cfg.ensemble) {
                (Some(path), true) => match ringkeeper::config::QuorumConfig::load(path, &props)
                    .and_then(|q| cfg.take_client_address(&q).map(|()| q))
                {
                    Ok(q) => Some(q),
                    Err(e) => {
                        eprintln!("ringkeeper: {e}");
                        return ExitCode::from(2);
                    }
                },
                _ => None,
            };
            match ringkeeper::server::run(cfg, ensemble) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ringkeeper: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The crate version, and the commit when the build was given one in
/// RINGKEEPER_GIT_COMMIT (packaging/build-deb.sh does). An environment variable and not
/// a build script running git: read here, a new commit rebuilds only this binary's
/// crate, where a build script's output would rebuild the library on every commit.
fn version() -> &'static str {
    match option_env!("RINGKEEPER_GIT_COMMIT") {
        Some(commit) if !commit.is_empty() => {
            Box::leak(format!("{} (commit {commit})", env!("CARGO_PKG_VERSION")).into_boxed_str())
        }
        _ => env!("CARGO_PKG_VERSION"),
    }
}

fn import_zk(
    zk_data_dir: &std::path::Path,
    zk_log_dir: Option<&std::path::Path>,
    to: &std::path::Path,
    extended_types: bool,
) -> ExitCode {
    use ringkeeper::storage::zk;
    match zk::import(zk_data_dir, zk_log_dir, to, extended_types) {
        Ok((l, written)) => {
            println!("imported {}", zk_data_dir.display());
            println!(
                "  snapshot  {} (zxid 0x{:x}, {} nodes)",
                l.snapshot.display(),
                l.snapshot_zxid,
                l.snapshot_nodes
            );
            for p in &l.skipped_snapshots {
                println!("  skipped   {} (incomplete)", p.display());
            }
            for p in &l.logs {
                println!("  log       {}", p.display());
            }
            for (p, off, why) in &l.torn {
                println!(
                    "  torn tail {} at offset {off}: {why} (ignored)",
                    p.display()
                );
            }
            for p in &l.added_system_nodes {
                println!("  added     {p} (missing from the snapshot)");
            }
            println!(
                "  result    {} nodes, {} sessions, {} txns replayed, last zxid 0x{:x}",
                l.tree.node_count(),
                l.sessions.len(),
                l.replayed,
                l.last_zxid
            );
            match l.digest_mismatches.first() {
                None => println!(
                    "  digest    {} of ZooKeeper's digests checked, all equal to ours",
                    l.digests_checked
                ),
                Some(first) => println!(
                    "  digest    {} of {} of ZooKeeper's digests differ from ours (first at \
                     zxid 0x{first:x}): the imported tree is not the one ZooKeeper had",
                    l.digest_mismatches.len(),
                    l.digests_checked
                ),
            }
            println!("  written   {}", written.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringkeeper import-zk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A number as decimal or `0x` hex (zxids are usually written in hex).
fn parse_i64(s: &str) -> Result<i64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).map(|v| v as i64),
        None => s.parse::<i64>(),
    };
    r.map_err(|e| format!("{s:?}: {e}"))
}
