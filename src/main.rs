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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match args.command {
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
