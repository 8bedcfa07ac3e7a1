//! ZooKeeper's ZAB sync bugs (shared/reference/fault-testing.md §2.3) replayed on real
//! three-member ringkeeper ensembles: processes killed, paused and restarted, and
//! crashed inside a sync window by a failpoint (`FAILPOINTS`, the `failpoints`
//! feature, src/server/failpoints.rs) where no signal can hit it. tests/zab_sync_sim.rs
//! runs the same bugs in the simulator; these run the real driver, log and epoch files.
//!
//! After each schedule every member holds every acknowledged write (`sync` + read on
//! each), nothing the fix says must be gone is there, and every member's tree is the
//! same node for node (data, zxids, version, ephemeral owner).
//!
//! Each test can fail: `SYNC_BUGS_REINJECT=1` puts the bug it guards against back
//! (a `zab.canary` failpoint, the simulator's deliberate bugs in the ZAB machines) on
//! the member the schedule breaks, and the test must then fail:
//! `SYNC_BUGS_REINJECT=1 cargo test --release --test sync_bugs` (every test fails).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::ensemble::{
    connect, create, exists, others, synced_get, wait_for, Ensemble, EPHEMERAL, SETTLE,
};
use common::{op, request, try_four_letter, Jute, Reader};

const SYNC: i32 = 9;

/// The bug a test guards against, as `FAILPOINTS` text for the member it breaks, when
/// `SYNC_BUGS_REINJECT` asks for it; "" otherwise.
fn reinject(canary: &str) -> String {
    if std::env::var_os("SYNC_BUGS_REINJECT").is_some() {
        format!(";zab.canary=return({canary})")
    } else {
        String::new()
    }
}

/// Starts all three members and waits for a leader; its index.
fn start_all(e: &mut Ensemble) -> usize {
    for m in &mut e.members {
        m.start_clean();
    }
    e.settled()
}

/// A create through member `i`, acknowledged.
fn write(e: &Ensemble, i: usize, path: &str, data: &[u8]) {
    let mut c = connect(&e.members[i].addr(), 10_000);
    assert_eq!(create(&mut c, 1, path, data, 0), 0, "create {path} on {i}");
}

/// The member crashed at `point` (the failpoint's log line) within 30 s.
fn crashed_at(e: &mut Ensemble, i: usize, point: &str) {
    let st = e.members[i].wait_exit(Duration::from_secs(30));
    let log = e.members[i].log();
    assert!(st.is_some(), "member {i} did not crash at {point}:\n{log}");
    assert!(
        log.contains(&format!("failpoint {point}: crashing")),
        "member {i} ended otherwise than at {point}:\n{log}"
    );
}

/// Member `i` rejoined with a txn the new history lacks: the leader cut its log
/// (TRUNC) or replaced it (SNAP), either of which takes the txn away; a DIFF would not.
fn assert_history_cut(e: &Ensemble, i: usize) {
    let log = e.members[i].log();
    assert!(
        log.contains("TRUNC: cutting the log after")
            || log.contains("SNAP: loading the leader's snapshot"),
        "member {i} kept its history past the new leader's:\n{log}"
    );
}

/// One znode as every member must hold it.
#[derive(Debug, PartialEq, Eq)]
struct Node {
    data: Vec<u8>,
    czxid: i64,
    mzxid: i64,
    version: i32,
    ephemeral_owner: i64,
    pzxid: i64,
}

/// Member `addr`'s whole tree after a `sync`, node by node.
fn tree(addr: &str) -> BTreeMap<String, Node> {
    let mut c = connect(addr, 10_000);
    let r = request(&mut c, 1, SYNC, &Jute::new().string("/").into_vec()).expect("sync");
    assert_eq!(r.err, 0, "sync on {addr}");
    let mut out = BTreeMap::new();
    let mut todo = vec!["/".to_owned()];
    let mut xid = 2;
    while let Some(path) = todo.pop() {
        xid += 2;
        let body = Jute::new().string(&path).boolean(false).into_vec();
        let r = request(&mut c, xid, op::GET_DATA, &body).expect("getData");
        if r.err == -101 {
            continue; // gone between the listing and now (a session expiring)
        }
        assert_eq!(r.err, 0, "getData {path} on {addr}");
        let mut rd = Reader(&r.body);
        let data = rd.buffer();
        let (czxid, mzxid, _ctime, _mtime) = (rd.long(), rd.long(), rd.long(), rd.long());
        let (version, _cversion, _aversion) = (rd.int(), rd.int(), rd.int());
        let ephemeral_owner = rd.long();
        let (_len, _children, pzxid) = (rd.int(), rd.int(), rd.long());
        let r = request(&mut c, xid + 1, op::GET_CHILDREN, &body).expect("getChildren");
        if r.err == 0 {
            let mut rd = Reader(&r.body);
            let n = rd.int();
            for _ in 0..n.max(0) {
                let child = rd.string();
                todo.push(if path == "/" {
                    format!("/{child}")
                } else {
                    format!("{path}/{child}")
                });
            }
        }
        let node = Node {
            data,
            czxid,
            mzxid,
            version,
            ephemeral_owner,
            pzxid,
        };
        out.insert(path, node);
    }
    out
}

/// Every running member: each of `present` readable with its data after `sync`, none
/// of `absent`, the same tree node for node, and no digest mismatch logged.
fn check(e: &Ensemble, present: &[(&str, &[u8])], absent: &[&str]) {
    let running: Vec<usize> = (0..e.members.len())
        .filter(|&i| e.members[i].child.is_some())
        .collect();
    for &i in &running {
        let mut c = connect(&e.members[i].addr(), 10_000);
        for (k, (path, data)) in present.iter().enumerate() {
            assert_eq!(
                synced_get(&mut c, 10 + 2 * k as i32, path).as_deref(),
                Some(*data),
                "member {i} lost the acknowledged {path}"
            );
        }
        for (k, path) in absent.iter().enumerate() {
            assert!(
                !exists(&mut c, 100 + k as i32, path),
                "member {i} holds {path}, which was never committed"
            );
        }
    }
    let trees: Vec<(usize, BTreeMap<String, Node>)> = running
        .iter()
        .map(|&i| (i, tree(&e.members[i].addr())))
        .collect();
    for (i, t) in &trees[1..] {
        assert_eq!(
            t, &trees[0].1,
            "member {i}'s tree differs from member {}'s",
            trees[0].0
        );
    }
    for &i in &running {
        let mntr = try_four_letter(&e.members[i].addr(), "mntr", Duration::from_secs(5))
            .unwrap_or_default();
        assert!(
            mntr.lines().any(|l| l == "zk_digest_mismatches_count\t0"),
            "member {i} saw a digest mismatch:\n{mntr}"
        );
    }
}

/// The common prefix of ZK-4785, ZK-4643 and ZK-3911/4646: the leader L commits z0
/// with both followers, then z1 with B only (A is down), then B dies; A restarts with
/// `failpoints` (L syncs it by DIFF of z1, L alone being no quorum) and must crash at
/// `point`. Returns (L, A, B).
fn behind_by_one_then_crash_in_sync(
    e: &mut Ensemble,
    failpoints: &str,
    point: &str,
) -> (usize, usize, usize) {
    let l = start_all(e);
    let f = others(3, l);
    let (a, b) = (f[0], f[1]);
    write(e, l, "/z0", b"0");
    e.members[a].kill9();
    write(e, l, "/z1", b"1");
    e.members[b].kill9();
    e.members[a].start_with_failpoints(failpoints);
    crashed_at(e, a, point);
    (l, a, b)
}

/// The common end: L dies too; A and B (no failpoints) form a quorum on their own
/// files, z3 is written, L comes back; z0, z1 and z3 must be everywhere.
fn new_quorum_without_the_leader(e: &mut Ensemble, (l, a, b): (usize, usize, usize)) {
    e.members[l].kill9();
    e.members[a].start_clean();
    e.members[b].start_clean();
    let second = e.settled();
    write(e, second, "/z3", b"3");
    e.members[l].start_clean();
    e.settled();
    check(e, &[("/z0", b"0"), ("/z1", b"1"), ("/z3", b"3")], &[]);
}

/// ZOOKEEPER-4785 (DIFFSyncTest `testTxnLoss_FailToPersistAndCommitTxns`): leader S2
/// writes z0; kill S0; write z1; kill S1; restart S0, which writes currentEpoch 2,
/// ACKs NEWLEADER and fails to persist z1; kill S2; start S1 (S0 wins on its epoch and
/// truncates S1's z1); write z3; restart S2; z0, z1, z3 must be everywhere.
///
/// Here S0 = A crashes at `learner.before_log_append` (1 s after reaching it, so the
/// NEWLEADER that follows the DIFF arrives first): z1 is never logged. Fixed, A has
/// written no epoch and sent no ACK by then, so A and B elect B, which holds z1.
/// Re-injected: `LearnerAcksNewLeaderBeforePersist`.
#[test]
fn zk_4785_a_learner_that_fails_to_persist_its_diff_loses_no_committed_txn() {
    let mut e = Ensemble::configured("zk4785", 3);
    let fp = format!(
        "learner.before_log_append=return(1000){}",
        reinject("LearnerAcksNewLeaderBeforePersist")
    );
    let s = behind_by_one_then_crash_in_sync(&mut e, &fp, "learner.before_log_append");
    new_quorum_without_the_leader(&mut e, s);
}

/// ZOOKEEPER-4643: A, one txn behind, DIFF-syncs, writes currentEpoch=2 and crashes
/// before logging; the next election prefers A (higher epoch) over B holding z1, so B
/// is truncated and z1 lost.
///
/// Here A's log append is held 1 s (`learner.delay_log_append`) and A crashes right
/// after writing currentEpoch (`learner.after_epoch_write`). Fixed, the epoch is
/// written only after z1 is durable, so the crash leaves A with z1. Re-injected:
/// `LearnerWritesEpochBeforePersist` (the epoch on NEWLEADER, before the log).
#[test]
fn zk_4643_a_learner_that_crashes_after_its_epoch_write_has_logged_its_diff() {
    let mut e = Ensemble::configured("zk4643", 3);
    let fp = format!(
        "learner.delay_log_append=return(1000);learner.after_epoch_write=return{}",
        reinject("LearnerWritesEpochBeforePersist")
    );
    let s = behind_by_one_then_crash_in_sync(&mut e, &fp, "learner.after_epoch_write");
    new_quorum_without_the_leader(&mut e, s);
}

/// ZOOKEEPER-3911 / ZOOKEEPER-4646: a follower ACKs NEWLEADER before the DIFF's txns are
/// on disk (3911: they were logged at UPTODATE; 4646: the log was still async on the
/// SyncThread); the leader serves on that ACK; the quorum crashes; a new quorum forms
/// without the leader and the follower's missing txns are lost.
///
/// Here A's log append is held 0.8 s (inside initLimit, 2 s) and A crashes 0.3 s
/// after its NEWLEADER ACK (`learner.after_newleader_ack`). Fixed, the ACK waits for
/// the append, so the leader serves only on a follower that holds z1. Re-injected:
/// `LearnerAcksNewLeaderBeforePersist` (the ACK, and the crash, come before the log).
#[test]
fn zk_3911_zk_4646_a_learner_acks_newleader_only_once_its_diff_is_durable() {
    let mut e = Ensemble::configured("zk3911", 3);
    let fp = format!(
        "learner.delay_log_append=return(800);learner.after_newleader_ack=return(300){}",
        reinject("LearnerAcksNewLeaderBeforePersist")
    );
    let s = behind_by_one_then_crash_in_sync(&mut e, &fp, "learner.after_newleader_ack");
    // The leader established its epoch on that ACK (as ZooKeeper's did): it served.
    let leader_log = e.members[s.0].log();
    assert!(
        leader_log.matches("a quorum is synchronized").count() >= 2,
        "the leader never served on A's ACK:\n{leader_log}"
    );
    new_quorum_without_the_leader(&mut e, s);
}

/// ZOOKEEPER-2845 (`testFailedTxnAsPartOfQuorumLoss`): both followers die; the
/// isolated leader logs (fsyncs) a create no quorum will have; the followers come back
/// and elect a new leader, which commits more; the old leader rejoins without a
/// restart (in ZooKeeper it kept the uncommitted txn in its in-memory database), then
/// restarts. The uncommitted create must be on no member, before or after the restart.
///
/// Here the old leader is paused (SIGSTOP) while the others elect, so it rejoins as
/// the same process. Re-injected on the new leader: `LeaderDiffsInsteadOfTrunc`.
#[test]
fn zk_2845_an_isolated_leaders_uncommitted_txn_is_gone_when_it_rejoins_and_restarts() {
    let mut e = Ensemble::configured("zk2845", 3);
    let l = start_all(&mut e);
    let f = others(3, l);
    write(&e, l, "/base", b"b");
    // Connected first: a leader that lost its quorum serves no new client.
    let mut c = connect(&e.members[l].addr(), 10_000);
    for &i in &f {
        e.members[i].kill9();
    }
    // The create is proposed and logged on the leader; it never gets an answer.
    let ghost = Jute::new()
        .int(2)
        .int(op::CREATE)
        .string("/ghost")
        .buffer(b"g")
        .open_acl()
        .int(0)
        .into_vec();
    common::send_frame(&mut c, &ghost).expect("send the create");
    std::thread::sleep(Duration::from_millis(500));
    e.signal(l, libc::SIGSTOP);
    let canary = reinject("LeaderDiffsInsteadOfTrunc");
    for &i in &f {
        e.members[i].start_with_failpoints(canary.trim_start_matches(';'));
    }
    let second = e.settled_without(l);
    write(&e, second, "/after", b"a");
    e.signal(l, libc::SIGCONT);
    drop(c);
    // Back as the same process: it must follow the new leader, its txn cut away.
    wait_for("the old leader to follow", SETTLE, || {
        e.members[l].mode() == "follower"
    });
    check(&e, &[("/base", b"b"), ("/after", b"a")], &["/ghost"]);
    assert_history_cut(&e, l);
    e.members[l].kill9();
    e.members[l].start_clean();
    e.settled();
    check(&e, &[("/base", b"b"), ("/after", b"a")], &["/ghost"]);
}

/// ZOOKEEPER-5010: the leader crashes right after proposing an ephemeral create that
/// only some followers logged; the new leader, which never had it, DIFF-syncs them
/// and they keep the ephemeral, absent on the leader, for good.
///
/// Here sid 3 leads (it starts with sid 1 and wins on its sid); sid 2 is down; sid 3
/// crashes 0.5 s after proposing its second txn (the session's createSession is the
/// first), before its own append (`leader.before_log_append`): only sid 1 logged the
/// ephemeral /e. sid 1 goes down, sids 2 and 3 elect and commit /after, sid 1 comes
/// back: /e must be cut from it (TRUNC) and be on no member. Re-injected on the new
/// leader: `LeaderDiffsInsteadOfTrunc`.
#[test]
fn zk_5010_an_uncommitted_ephemeral_of_a_crashed_leader_is_on_no_member() {
    let mut e = Ensemble::configured("zk5010", 3);
    e.members[2].start_with_failpoints("leader.before_log_append=1*off->return(500)");
    e.members[0].start_clean();
    assert_eq!(e.settled(), 2, "sid 3 should lead");
    e.members[1].start_clean();
    e.settled();
    e.members[1].kill9();
    let mut c = connect(&e.members[0].addr(), 10_000);
    let body = Jute::new()
        .string("/e")
        .buffer(b"eph")
        .open_acl()
        .int(EPHEMERAL)
        .into_vec();
    // No answer is due: the leader dies before anything commits it.
    common::send_frame(
        &mut c,
        &Jute::new().int(1).int(op::CREATE).raw(&body).into_vec(),
    )
    .expect("send the create");
    crashed_at(&mut e, 2, "leader.before_log_append");
    drop(c);
    e.members[0].kill9();
    let canary = reinject("LeaderDiffsInsteadOfTrunc");
    for i in [1, 2] {
        e.members[i].start_with_failpoints(canary.trim_start_matches(';'));
    }
    let second = e.settled();
    write(&e, second, "/after", b"a");
    e.members[0].start_clean();
    e.settled();
    check(&e, &[("/after", b"a")], &["/e"]);
    assert_history_cut(&e, 0);
}

/// ZOOKEEPER-4394: a follower receives DIFF, PROPOSAL, COMMIT, ..., NEWLEADER, then a
/// COMMIT after its NEWLEADER ACK and before UPTODATE; Java's learner threw a
/// NullPointerException there and dropped out of the ensemble.
///
/// Here A rejoins a leader that three clients keep writing to, and the leader reads
/// A's NEWLEADER ACK 0.3 s late (`leader.delay_newleader_ack`, which holds the
/// connection's reader, so nothing of A's overtakes it): COMMITs stream to A between
/// its ACK and UPTODATE. A must sync at its first try (no fall back to LOOKING), and
/// every member end with the same tree. Re-injected on A:
/// `LearnerFailsOnCommitAfterNewLeader`.
#[test]
fn zk_4394_a_commit_between_the_newleader_ack_and_uptodate_is_taken() {
    let mut e = Ensemble::configured("zk4394", 3);
    for m in &mut e.members {
        m.start_with_failpoints("leader.delay_newleader_ack=return(300)");
    }
    let l = e.settled();
    let a = others(3, l)[0];
    let la = e.members[l].addr();
    let mut c = connect(&la, 10_000);
    for k in 0..3 {
        assert_eq!(create(&mut c, k + 1, &format!("/w{k}"), b"", 0), 0);
    }
    e.members[a].kill9();
    // A SteadyWriter keeps one request in flight: three of them keep COMMITs coming.
    let writers: Vec<common::SteadyWriter> = (0..3)
        .map(|k| common::SteadyWriter::start(connect(&la, 10_000), &format!("/w{k}")))
        .collect();
    wait_for("writes", SETTLE, || writers.iter().all(|w| w.acked() > 50));
    // A's log goes on from its first start: only what it writes from here counts.
    let before = e.members[a].log().len();
    e.members[a].start_with_failpoints(
        reinject("LearnerFailsOnCommitAfterNewLeader").trim_start_matches(';'),
    );
    let since = |e: &Ensemble| e.members[a].log().get(before..).unwrap_or("").to_owned();
    wait_for("A to sync", SETTLE, || {
        since(&e).contains("synchronized with the leader")
    });
    // More writes once A serves, then quiet.
    let synced: Vec<usize> = writers.iter().map(|w| w.acked()).collect();
    wait_for("writes after the sync", SETTLE, || {
        writers.iter().zip(&synced).all(|(w, s)| w.acked() > s + 50)
    });
    for w in writers {
        w.stop().expect("a writer failed");
    }
    let log = since(&e);
    assert!(
        !log.contains("going back to LOOKING"),
        "A dropped out while syncing:\n{log}"
    );
    check(&e, &[], &[]);
}
