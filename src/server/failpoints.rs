//! Crash points in the ensemble driver, for tests only (the `failpoints` feature, which
//! only the test build turns on): tests/sync_bugs.rs replays ZooKeeper's sync bugs by
//! crashing a member inside a window no signal can hit. Each point is a `fail` crate
//! fail point, configured at start from `FAILPOINTS` (`name=actions;...`, fail-rs's
//! syntax). Without the feature every function here is a no-op, and a set `FAILPOINTS`
//! only earns a warning.
//!
//! The points (their action is `return`, or `return(MS)`):
//! - crash points exit the process at once with `_exit` (nothing flushed, no
//!   destructors: a crash, not a stop), `MS` milliseconds after being reached if given
//!   (other tasks, such as the sender of a queued ACK, run meanwhile);
//! - delay points hold the task that reaches them `MS` milliseconds;
//! - `zab.canary`, `return(NAME)`: puts the simulator's deliberate bug NAME
//!   (`zab::history::Canary`) into this member's ZAB machines, to show a script fails
//!   on the bug it guards against.
//!
//! | point | where |
//! |---|---|
//! | `learner.delay_log_append` (delay) | the learner's syncer, before appending a batch |
//! | `learner.before_log_append` (crash) | the same place: synced txns never logged |
//! | `learner.after_log_sync` (crash) | after a batch is durable, before it is reported (no ACK) |
//! | `learner.after_epoch_write` (crash) | right after `currentEpoch` is written |
//! | `learner.after_newleader_ack` (crash) | after the ACK of NEWLEADER is queued, before UPTODATE |
//! | `leader.delay_newleader_ack` (delay) | a learner connection's reader, holding the NEWLEADER ACK (and all after it) before the leader sees it: the leader goes on sending COMMITs before UPTODATE |
//! | `leader.before_log_append` (crash) | after proposing a txn, before the leader's own append: followers may log it, the leader never does |
//! | `leader.before_commit` (crash) | evaluated once per proposal; when it fires, the leader exits before that txn's COMMIT leaves |
//! | `leader.skip_tick` (skip) | evaluated at each of the leader's ticks; when it fires, that tick does not run (no pings, no quorum check): a leader whose timer is late |
//! | `leader.trust_quorum` (skip) | evaluated when a `sync` is due; when it fires, the leader skips its check that a quorum was heard within `syncLimit` (`Leader::holds_quorum`): a leader whose clock runs slow |

use std::time::Duration;

pub const LEARNER_DELAY_LOG_APPEND: &str = "learner.delay_log_append";
pub const LEARNER_BEFORE_LOG_APPEND: &str = "learner.before_log_append";
pub const LEARNER_AFTER_LOG_SYNC: &str = "learner.after_log_sync";
pub const LEARNER_AFTER_EPOCH_WRITE: &str = "learner.after_epoch_write";
pub const LEARNER_AFTER_NEWLEADER_ACK: &str = "learner.after_newleader_ack";
pub const LEADER_DELAY_NEWLEADER_ACK: &str = "leader.delay_newleader_ack";
pub const LEADER_BEFORE_LOG_APPEND: &str = "leader.before_log_append";
pub const LEADER_BEFORE_COMMIT: &str = "leader.before_commit";
pub const LEADER_SKIP_TICK: &str = "leader.skip_tick";
pub const LEADER_TRUST_QUORUM: &str = "leader.trust_quorum";

/// Configures the fail points `FAILPOINTS` names and logs each one set.
pub fn setup() {
    let Ok(spec) = std::env::var("FAILPOINTS") else {
        return;
    };
    #[cfg(feature = "failpoints")]
    for item in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, actions)) = item.split_once('=') else {
            tracing::warn!("FAILPOINTS: `{item}` is not name=actions; ignored");
            continue;
        };
        match fail::cfg(name.trim(), actions.trim()) {
            Ok(()) => tracing::warn!("failpoint {} active: {}", name.trim(), actions.trim()),
            Err(e) => tracing::warn!("FAILPOINTS: `{item}`: {e}; ignored"),
        }
    }
    #[cfg(not(feature = "failpoints"))]
    tracing::warn!("FAILPOINTS={spec} ignored: this build has no failpoints");
}

/// `Some(ms)` when the point `name` fires (`return` is 0 ms).
fn fired(name: &str) -> Option<u64> {
    #[cfg(feature = "failpoints")]
    {
        fail::eval(name, |arg| {
            arg.and_then(|a| a.trim().parse().ok()).unwrap_or(0)
        })
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        None
    }
}

fn crash_now(name: &str) -> ! {
    tracing::error!("failpoint {name}: crashing");
    // SAFETY: `_exit` ends the process without running anything of ours; that is the
    // point (no flush, no destructor, as a power cut or SIGKILL would).
    unsafe { libc::_exit(86) }
}

/// A crash point in synchronous code: exits now, or after its delay on a task of its own
/// (the caller goes on meanwhile).
pub fn crash_point(name: &'static str) {
    match fired(name) {
        None => {}
        Some(0) => crash_now(name),
        Some(ms) => {
            tracing::warn!("failpoint {name}: crashing in {ms} ms");
            glommio::spawn_local(async move {
                glommio::timer::sleep(Duration::from_millis(ms)).await;
                crash_now(name)
            })
            .detach();
        }
    }
}

/// A crash point in a task: it exits after its delay, and the task never goes on.
pub async fn crash_point_async(name: &'static str) {
    if let Some(ms) = fired(name) {
        if ms > 0 {
            tracing::warn!("failpoint {name}: crashing in {ms} ms");
            glommio::timer::sleep(Duration::from_millis(ms)).await;
        }
        crash_now(name)
    }
}

/// Holds the task its delay.
pub async fn delay_point(name: &'static str) {
    if let Some(ms) = fired(name) {
        tracing::warn!("failpoint {name}: holding {ms} ms");
        glommio::timer::sleep(Duration::from_millis(ms)).await;
    }
}

/// Whether a leader's crash point fires for this proposal (evaluated once per proposal,
/// so fail-rs's counts, `2*off->return`, pick which).
pub fn fires(name: &'static str) -> bool {
    fired(name).is_some()
}

/// Exits at a point that [`fires`] chose earlier.
pub fn crash(name: &'static str) -> ! {
    crash_now(name)
}

/// The deliberate ZAB bug `zab.canary=return(NAME)` asks for, if any.
#[cfg(all(feature = "failpoints", feature = "zab-canary"))]
pub fn canary() -> crate::zab::history::Canary {
    use crate::zab::history::Canary as C;
    let Some(Some(name)) = fail::eval("zab.canary", |arg| arg) else {
        return C::None;
    };
    let all = [
        C::LearnerAcksNewLeaderBeforePersist,
        C::LeaderSyncsLearnerAhead,
        C::LeaderSkipsEpochAckQuorum,
        C::LeaderDiffsInsteadOfTrunc,
        C::LearnerWritesEpochBeforePersist,
        C::LearnerAcksProposalBeforeNewLeader,
        C::LearnerFailsOnCommitAfterNewLeader,
    ];
    match all.into_iter().find(|c| format!("{c:?}") == name.trim()) {
        Some(c) => {
            tracing::warn!("zab.canary: running with the deliberate bug {c:?}");
            c
        }
        None => {
            tracing::warn!("zab.canary: no deliberate bug is called `{name}`; ignored");
            C::None
        }
    }
}
