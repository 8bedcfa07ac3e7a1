//! `ringkeeper cli` run as a script runs it: one command per process, against a live
//! server (ringkeeper, or Apache ZooKeeper 3.8 with `RINGKEEPER_TEST_SERVER=zk`).
//!
//! - One-shot stdout is the command's answer and nothing else; the connection lines
//!   go to stderr.
//! - The quota commands print what zkCli 3.8 prints against ZooKeeper 3.8 (the
//!   expected strings were checked by running this file against ZooKeeper), and the
//!   server keeps the stats node current, across a crash and restart too.

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

fn listquota(server: &Server, path: &str) -> (String, String) {
    let r = cli(server, &["listquota", path]);
    assert!(r.ok, "{}", r.err);
    let err = err_of(&r);
    (r.out, err)
}

fn quota_lines(path: &str, limits: &str, stats: &str) -> (String, String) {
    (
        format!("Output quota for {path} {limits}\nOutput stat for {path} {stats}\n"),
        format!("absolute path is /zookeeper/quota{path}/zookeeper_limits\n"),
    )
}

const LIMIT_N10: &str = "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";

#[test]
fn quota_commands_and_stats_match_zookeeper() {
    // A snapshot every few txns, so the restart below recovers from one.
    let mut server = Server::start("snapCount=4\n");
    for (p, d) in [
        ("/app", "a1"),
        ("/app/a", "12345"),
        ("/app/b", "xyz"),
        ("/app/b/c", "1234567890"),
    ] {
        assert!(cli(&server, &["create", p, d]).ok);
    }
    assert_eq!(out(&server, &["setquota", "-n", "10", "/app"]), "");
    // The quota root counts itself: 4 nodes, 2 + 5 + 3 + 10 bytes.
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines("/app", LIMIT_N10, "count=4,bytes=20")
    );
    // The stats node's data moves, its version does not.
    let stats = "/zookeeper/quota/app/zookeeper_stats";
    assert!(out(&server, &["stat", stats]).contains("\ndataVersion = 0\n"));

    assert!(cli(&server, &["create", "/app/d", "12"]).ok);
    assert!(cli(&server, &["create", "-s", "/app/s-", "seq"]).ok);
    assert!(cli(&server, &["set", "/app/a", "1"]).ok);
    assert!(cli(&server, &["delete", "/app/b/c"]).ok);
    // 4 + 2 - 1 nodes; 20 + 2 + 3 - 4 - 10 bytes.
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines("/app", LIMIT_N10, "count=5,bytes=11")
    );
    let s = out(&server, &["stat", stats]);
    assert!(s.contains("\ndataVersion = 0\n") && s.contains("\ndataLength = 16\n"));

    // Lowering the limit below the usage warns (on stdout) and sets it anyway.
    let r = cli(&server, &["setquota", "-B", "5", "/app"]);
    assert!(r.ok, "{}", r.err);
    assert_eq!(
        r.out,
        "[Warning]: the bytes quota you create is less than the existing bytes:11\n"
    );
    let limit_b5 = "count=10,bytes=-1=;byteHardLimit=5;countHardLimit=-1";
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines("/app", limit_b5, "count=5,bytes=11")
    );
    // Not enforced: a write over the limit succeeds.
    assert!(cli(&server, &["create", "/app/big", "0123456789"]).ok);

    // Crash and restart: the stats come back as they were.
    server.restart();
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines("/app", limit_b5, "count=6,bytes=21")
    );
    assert!(cli(&server, &["delete", "/app/big"]).ok);
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines("/app", limit_b5, "count=5,bytes=11")
    );

    // Nested quotas are refused by the client.
    let r = cli(&server, &["setquota", "-n", "3", "/app/b"]);
    assert!(!r.ok);
    assert_eq!(err_of(&r), "/app/b has a parent /app which has a quota\n");

    // delquota -B clears one limit, delquota the whole quota.
    assert_eq!(out(&server, &["delquota", "-B", "/app"]), "");
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines("/app", LIMIT_N10, "count=5,bytes=11")
    );
    assert_eq!(out(&server, &["delquota", "/app"]), "");
    let (o, e) = listquota(&server, "/app");
    assert_eq!(o, "");
    assert_eq!(
        e,
        "absolute path is /zookeeper/quota/app/zookeeper_limits\nquota for /app does not exist.\n"
    );
    // The quota's nodes are gone, /zookeeper/quota stays.
    assert_eq!(out(&server, &["ls", "/zookeeper/quota"]), "[]\n");
    assert_eq!(
        out(&server, &["delquota", "/app"]),
        "Quota does not exist for /app\n"
    );
    // And writes no longer count: a new quota starts from a fresh count.
    assert!(cli(&server, &["create", "/app/e", "e"]).ok);
    assert_eq!(out(&server, &["setquota", "-b", "100", "/app"]), "");
    assert_eq!(
        listquota(&server, "/app"),
        quota_lines(
            "/app",
            "count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=-1",
            "count=6,bytes=12"
        )
    );
}

#[test]
fn config_prints_the_config_node() {
    let server = Server::start("");
    // Standalone: /zookeeper/config is empty, so an empty line.
    assert_eq!(out(&server, &["config"]), "\n");
    // -c: ConfigUtils.getClientConfigStr of "" is the empty version and a space.
    assert_eq!(out(&server, &["config", "-c"]), " \n");
    let s = out(&server, &["config", "-s"]);
    assert!(s.starts_with("\ncZxid = 0x0\n"), "{s}");
    assert!(s.contains("\naclVersion = -1\n"), "{s}");
}

#[test]
fn stats_are_recounted_when_the_server_starts() {
    let mut server = Server::start("");
    for (p, d) in [("/q", "1"), ("/q/a", "22"), ("/q/b", "333")] {
        assert!(cli(&server, &["create", p, d]).ok);
    }
    assert_eq!(out(&server, &["setquota", "-b", "100", "/q"]), "");
    let limits = "count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=-1";
    assert_eq!(
        listquota(&server, "/q"),
        quota_lines("/q", limits, "count=3,bytes=6")
    );
    // Any client may write the stats node; the server's count is then off.
    let stats = "/zookeeper/quota/q/zookeeper_stats";
    assert!(cli(&server, &["set", stats, "count=99,bytes=99"]).ok);
    assert!(cli(&server, &["create", "/q/c", "4444"]).ok);
    assert_eq!(
        listquota(&server, "/q"),
        quota_lines("/q", limits, "count=100,bytes=103")
    );
    // Starting from a snapshot, the stats are counted afresh (ZooKeeper's setupQuota).
    // ZooKeeper snapshots right after loading, so its second start loads one; the
    // first may replay the log alone, where ringkeeper recounts already.
    server.restart();
    server.restart();
    assert_eq!(
        listquota(&server, "/q"),
        quota_lines("/q", limits, "count=4,bytes=10")
    );
}
