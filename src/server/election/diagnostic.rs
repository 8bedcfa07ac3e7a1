//! `ringkeeper election`: the election driver alone, as a diagnostic until ZAB's quorum
//! port is wired in. It elects, prints each decision as one line on stdout, and keeps
//! answering peers until it is killed (SIGTERM's default action).
//!
//! Without a quorum port nothing tells a follower that its leader died, or a leader
//! that its followers left. As a stand-in, a decision is held while the election
//! connections say it still can be: a follower or observer looks again once it has had
//! no connection to its leader for tickTime × syncLimit (Java's follower read timeout);
//! a leader once fewer than a quorum of voters (itself included) have been connected
//! for as long. Java servers that elected this one cannot follow it (nothing listens on
//! its quorum port) and go back to LOOKING after initLimit; this process cannot see that
//! and stays LEADING.

use std::time::{Duration, Instant};

use super::{Decided, Election, ElectionError};
use crate::config::QuorumConfig;
use crate::zab::fle::Decision;
use crate::zab::Zxid;

/// How often the held decision is checked.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// Runs the election on a glommio executor of its own and never returns unless the
/// election cannot start.
pub fn run(cfg: QuorumConfig, last_zxid: Zxid, current_epoch: i64) -> Result<(), ElectionError> {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let handle = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("rk-election")
        .io_memory(1 << 20)
        .spawn(move || async move { serve(cfg, last_zxid, current_epoch).await })
        .map_err(|e| ElectionError::Config(format!("cannot start an executor: {e}")))?;
    handle
        .join()
        .map_err(|e| ElectionError::Config(format!("the election executor failed: {e}")))?
}

async fn serve(
    cfg: QuorumConfig,
    last_zxid: Zxid,
    current_epoch: i64,
) -> Result<(), ElectionError> {
    let tls = super::super::peer_tls::PeerTls::new(&cfg).map_err(ElectionError::Config)?;
    let election = Election::start(&cfg, tls, last_zxid, current_epoch).await?;
    let grace = Duration::from_millis(cfg.tick_time_ms.saturating_mul(cfg.sync_limit));
    loop {
        let d = election.look(last_zxid, current_epoch).await;
        println!("{}", decision_line(&d));
        hold(&election, d.decision, grace).await;
        tracing::info!("election: the decision no longer holds; looking again");
        println!("LOOKING");
    }
}

/// `LEADING`, `FOLLOWING <sid>` or `OBSERVING <sid>`, then the vote.
pub fn decision_line(d: &Decided) -> String {
    let role = match d.decision {
        Decision::Leading => "LEADING".to_owned(),
        Decision::Following { leader } => format!("FOLLOWING {leader}"),
        Decision::Observing { leader } => format!("OBSERVING {leader}"),
    };
    format!(
        "{role} leader={} zxid={:#x} peerEpoch={} round={} by={:?}",
        d.vote.id, d.vote.zxid, d.vote.peer_epoch, d.vote.election_epoch, d.by
    )
}

/// Returns once the decision has looked dead for `grace` (see the module doc).
async fn hold(election: &Election, decision: Decision, grace: Duration) {
    let quorum = election.quorum();
    let myid = election.myid();
    let mut bad_since: Option<Instant> = None;
    loop {
        glommio::timer::sleep(CHECK_EVERY).await;
        let holds = match decision {
            Decision::Leading => {
                let up: Vec<_> = quorum
                    .voters()
                    .filter(|v| *v == myid || election.connected(*v))
                    .collect();
                quorum.contains_quorum(&up)
            }
            Decision::Following { leader } | Decision::Observing { leader } => {
                election.connected(leader)
            }
        };
        match (holds, bad_since) {
            (true, _) => bad_since = None,
            (false, None) => bad_since = Some(Instant::now()),
            (false, Some(t)) if t.elapsed() >= grace => return,
            (false, Some(_)) => {}
        }
    }
}
