//! The `ringkeeper` command: `server` runs a server; the other subcommands are tools
//! around it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ringkeeper::config::Config;

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
    /// Run a server. Without --config: standalone on 127.0.0.1:2181, data in ./ringkeeper-data.
    Server {
        /// A ZooKeeper zoo.cfg.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// A setting as ZooKeeper's `-Dzookeeper.KEY=VALUE` system property; applied after
        /// the config file. Repeatable.
        #[arg(short = 'D', value_name = "KEY=VALUE")]
        props: Vec<String>,
    },
    /// A zkCli-compatible shell: interactive without a command, one-shot with one.
    Cli(ringkeeper::cli::CliArgs),
    /// A load generator for any ZooKeeper-protocol server (see bench/).
    Bench(Box<ringkeeper::bench::BenchArgs>),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // zkCli spells its options `-server host:port`; accept that after `cli` too.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "cli") {
        let tail = ringkeeper::cli::normalize_zkcli_args(argv.split_off(1));
        argv.extend(tail);
    }
    let args = Args::parse_from(argv);
    match args.command {
        Command::Bench(bench) => ringkeeper::bench::main(*bench),
        Command::Cli(cli) => match ringkeeper::cli::run(cli) {
            Ok(()) => ExitCode::SUCCESS,
            // Its own message is already printed, as zkCli prints it.
            Err(ringkeeper::cli::CliError::CommandFailed) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Server { config, props } => {
            let cfg = match config {
                Some(path) => match Config::from_file_with(&path, &props) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("ringkeeper: {e}");
                        return ExitCode::from(2);
                    }
                },
                None if props.is_empty() => Config::embedded_default(),
                None => {
                    eprintln!("ringkeeper: -D settings need a --config file");
                    return ExitCode::from(2);
                }
            };
            match ringkeeper::server::run(cfg) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ringkeeper: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
