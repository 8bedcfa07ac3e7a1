//! `ringkeeper cli`: a ZooKeeper shell with zkCli's commands, options, output and
//! error messages, on [`crate::client`].
//!
//! With a command it runs it and exits (non-zero when it fails); without one it is
//! interactive, with line editing and history (rustyline). zkCli's single-dash long
//! options (`-server host:port`, `-timeout ms`) are accepted: call
//! [`normalize_zkcli_args`] on argv before clap parses it. Unlike zkCli, one-shot
//! mode closes its session on exit, so its ephemeral nodes go at once, and its stdout
//! carries only the command's answer (`get /x` prints the data and nothing else): the
//! `Connecting to` line and the connection and watch events that zkCli prints first
//! go to stderr, so a script can take stdout as it is.
//!
//! Threads: the client runs on a glommio executor on the calling thread; in
//! interactive mode a second thread reads lines (rustyline blocks) and hands them
//! over a channel, so watch events print while the prompt waits.

mod config;
mod format;
mod quota;
mod shell;

pub use format::{java_date, perm_string};
pub use shell::{parse_acl, split_line, validate_path, Output, Shell};

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

/// How often the executor looks for a line typed at the prompt.
const LINE_POLL_MS: u64 = 10;

/// `ringkeeper cli [-s host:port] [-t timeout_ms] [-r] [cmd args...]`.
#[derive(Debug, Clone, clap::Args)]
pub struct CliArgs {
    /// Servers, "host:port[,host:port...]" (zkCli's `-server`).
    #[arg(short = 's', long = "server", default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Session timeout in milliseconds (zkCli's `-timeout`).
    #[arg(short = 't', long = "timeout", default_value_t = 30000)]
    pub timeout: i32,
    /// Ask for a read-only session (zkCli's `-r`).
    #[arg(short = 'r', long = "readonly")]
    pub read_only: bool,
    /// The command and its arguments; none starts the interactive shell.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Why `run` failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("could not connect to {server}: {reason}")]
    Connect { server: String, reason: String },
    /// A one-shot command failed (its message was printed).
    #[error("command failed")]
    CommandFailed,
    #[error("executor: {0}")]
    Executor(String),
    #[error("terminal: {0}")]
    Terminal(String),
}

/// Rewrites zkCli's `-server X` and `-timeout X` into `--server X` / `--timeout X`,
/// up to the first word that is not an option (the command, whose own options must
/// stay as they are).
pub fn normalize_zkcli_args<I, S>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut out = Vec::new();
    let mut in_options = true;
    let mut expect_value = false;
    for (i, a) in args.into_iter().map(Into::into).enumerate() {
        if i == 0 || !in_options {
            out.push(a);
            continue;
        }
        if expect_value {
            expect_value = false;
            out.push(a);
            continue;
        }
        match a.to_str() {
            Some("-server") => {
                out.push("--server".into());
                expect_value = true;
            }
            Some("-timeout") => {
                out.push("--timeout".into());
                expect_value = true;
            }
            Some("-s" | "--server" | "-t" | "--timeout") => {
                out.push(a);
                expect_value = true;
            }
            Some(s) if s.starts_with('-') => out.push(a),
            // The subcommand name ("cli") and then the shell command.
            Some("cli") => out.push(a),
            _ => {
                in_options = false;
                out.push(a);
            }
        }
    }
    out
}

/// Runs the shell: one command when `args.command` is set, else interactive.
pub fn run(args: CliArgs) -> Result<(), CliError> {
    let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .map_err(|e| CliError::Executor(e.to_string()))?;
    if args.command.is_empty() {
        ex.run(interactive(args))
    } else {
        ex.run(one_shot(args))
    }
}

fn emit(o: &Output) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(o.out.as_bytes());
    let _ = out.flush();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(o.err.as_bytes());
    let _ = err.flush();
}

async fn one_shot(args: CliArgs) -> Result<(), CliError> {
    let mut sh = Shell::new(&args.server, args.timeout, args.read_only);
    sh.print_events_to_stderr();
    let mut o = Output::default();
    use std::fmt::Write as _;
    let _ = writeln!(o.err, "Connecting to {}", args.server);
    let connected = sh.connect(&args.server, &mut o.err).await;
    emit(&o);
    if let Err(e) = connected {
        return Err(CliError::Connect {
            server: args.server,
            reason: e.to_string(),
        });
    }
    let o = sh.exec_args(&args.command).await;
    emit(&o);
    sh.close_quietly().await;
    if o.failed {
        return Err(CliError::CommandFailed);
    }
    Ok(())
}

async fn interactive(args: CliArgs) -> Result<(), CliError> {
    let mut sh = Shell::new(&args.server, args.timeout, args.read_only);
    let mut o = Output::default();
    use std::fmt::Write as _;
    let _ = writeln!(o.out, "Connecting to {}", args.server);
    let _ = writeln!(o.out, "Welcome to ringkeeper (ZooKeeper shell)!");
    if let Err(e) = sh.connect(&args.server, &mut o.out).await {
        // zkCli keeps the shell open when the server is down; so do we.
        let _ = writeln!(o.err, "{e}");
    }
    emit(&o);

    let (prompt_tx, prompt_rx) = crossbeam_channel::bounded::<String>(1);
    let (line_tx, line_rx) = crossbeam_channel::bounded::<Option<String>>(1);
    let reader = std::thread::Builder::new()
        .name("cli-readline".into())
        .spawn(move || read_lines(prompt_rx, line_tx))
        .map_err(|e| CliError::Terminal(e.to_string()))?;
    let result = loop {
        if prompt_tx.send(sh.prompt()).is_err() {
            break Ok(());
        }
        let line = loop {
            match line_rx.try_recv() {
                Ok(l) => break l,
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    glommio::timer::sleep(Duration::from_millis(LINE_POLL_MS)).await;
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => break None,
            }
        };
        let Some(line) = line else { break Ok(()) };
        let o = sh.exec_line(line.trim()).await;
        emit(&o);
        if o.quit {
            break Ok(());
        }
    };
    drop(prompt_tx);
    let _ = reader.join();
    sh.close_quietly().await;
    result
}

/// The line-reading thread: shows each prompt it is sent, returns the line typed,
/// `None` at end of input (Ctrl-D) or interrupt (Ctrl-C).
fn read_lines(
    prompts: crossbeam_channel::Receiver<String>,
    lines: crossbeam_channel::Sender<Option<String>>,
) {
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("line editing unavailable: {e}");
            let _ = lines.send(None);
            return;
        }
    };
    while let Ok(prompt) = prompts.recv() {
        match rl.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                if lines.send(Some(line)).is_err() {
                    return;
                }
            }
            Err(_) => {
                let _ = lines.send(None);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
