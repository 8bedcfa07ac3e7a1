//! `ringkeeper cli` run as a script runs it: one command per process, against a live
//! server (ringkeeper, or Apache ZooKeeper 3.8 with `RINGKEEPER_TEST_SERVER=zk`).
//!
//! - One-shot stdout is the command's answer and nothing else; the connection lines
//!   go to stderr.

mod common;

use std::process::Command;

use common::Server;

/// One `ringkeeper cli -server ADDR args...` run.
struct Run {
    out: String,
    err: String,
    ok: bool,
}

fn cli(server: &Server, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_ringkeeper"))
        .arg("cli")
        .arg("-server")
        .arg(server.addr())
        .args(args)
        .output()
        .expect("run ringkeeper cli");
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        ok: o.status.success(),
    }
}

/// Runs `args`, expects success, returns stdout.
fn out(server: &Server, args: &[&str]) -> String {
    let r = cli(server, args);
    assert!(r.ok, "{args:?} failed: {}", r.err);
    r.out
}

/// Stderr without the connection preamble (`Connecting to`, the SyncConnected event).
fn err_of(r: &Run) -> String {
    let mut s = String::new();
    for line in r.err.lines() {
        if line.is_empty()
            || line.starts_with("Connecting to ")
            || line == "WATCHER::"
            || line.starts_with("WatchedEvent state:SyncConnected type:None")
        {
            continue;
        }
        s.push_str(line);
        s.push('\n');
    }
    s
}

#[test]
fn one_shot_stdout_is_the_answer_only() {
    let server = Server::start("");
    let r = cli(&server, &["create", "/x", "hello world"]);
    assert!(r.ok, "{}", r.err);
    assert_eq!(r.out, "");
    // zkCli prints these first on stdout; here they are stderr's.
    assert!(r
        .err
        .starts_with(&format!("Connecting to {}\n", server.addr())));
    // (ZooKeeper 3.9's event text, with the zxid.)
    assert!(r
        .err
        .contains("\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null"));
    assert!(r.err.ends_with("Created /x\n"), "{}", r.err);

    let r = cli(&server, &["get", "/x"]);
    assert!(r.ok, "{}", r.err);
    assert_eq!(r.out, "hello world\n");
    assert_eq!(out(&server, &["ls", "/x"]), "[]\n");
    // A failure: nothing on stdout, the message on stderr, a non-zero exit.
    let r = cli(&server, &["get", "/nope"]);
    assert!(!r.ok);
    assert_eq!(r.out, "");
    assert_eq!(err_of(&r), "Node does not exist: /nope\n");
}
