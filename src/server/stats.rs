//! Server counters for the four-letter words and metrics. Each core writes only its
//! own cache-line-aligned slot (relaxed atomics, never contended); readers sum slots.
//! The one count shared by all cores is connections per client IP (`maxClientCnxns`),
//! taken under a lock at accept and close only.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Instant;

use crate::ops::histogram::{AtomicHistogram, Summary};

/// The stages a request passes through, each with its own latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Session core: a frame taken off the socket buffer until its request is decoded.
    Decode,
    /// Quorum core: a write waiting in the inbox until its batch takes it.
    Queue,
    /// Quorum core: validating one request and turning it into a txn.
    Prep,
    /// Quorum core: appending one batch to the mapped log.
    Append,
    /// Quorum core: the group commit's fdatasync of one batch.
    Fsync,
    /// Quorum core: handing one committed batch to every session core.
    Commit,
    /// Quorum core: applying one synced batch to the tree and publishing it.
    Apply,
    /// Session core: taking one published batch (its watch events, its answers).
    Deliver,
    /// Session core: a read from arrival to its reply being queued.
    Read,
    /// Session core: a write from arrival to its reply being queued (end to end).
    Write,
    /// Leader: a txn from its PROPOSAL to its commit by a quorum's ACKs.
    QuorumAck,
    /// Learner: a PROPOSAL from its arrival until it is durable here (its ACK leaves).
    LearnerPersist,
    /// Learner: a PROPOSAL from its arrival until the leader's COMMIT for it arrives.
    LearnerCommit,
    /// Leader: a txn from its PROPOSAL to one learner's ACK of it, one sample per ACK
    /// (ZooKeeper's `ack_latency`).
    LearnerAck,
    /// Leader: a txn from its PROPOSAL until it is durable in the leader's own log.
    LeaderPersist,
}

impl Stage {
    pub const ALL: [Stage; 15] = [
        Stage::Decode,
        Stage::Queue,
        Stage::Prep,
        Stage::Append,
        Stage::Fsync,
        Stage::Commit,
        Stage::Apply,
        Stage::Deliver,
        Stage::Read,
        Stage::Write,
        Stage::QuorumAck,
        Stage::LearnerPersist,
        Stage::LearnerCommit,
        Stage::LearnerAck,
        Stage::LeaderPersist,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Queue => "queue",
            Stage::Prep => "prep",
            Stage::Append => "append",
            Stage::Fsync => "fsync",
            Stage::Commit => "commit",
            Stage::Apply => "apply",
            Stage::Deliver => "deliver",
            Stage::Read => "read",
            Stage::Write => "write",
            Stage::QuorumAck => "quorum_ack",
            Stage::LearnerPersist => "learner_persist",
            Stage::LearnerCommit => "learner_commit",
            Stage::LearnerAck => "learner_ack",
            Stage::LeaderPersist => "leader_persist",
        }
    }
}

/// One core's counters.
#[repr(align(128))]
#[derive(Default)]
pub struct CoreStats {
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub latency_sum_us: AtomicU64,
    pub latency_count: AtomicU64,
    pub latency_min_us: AtomicU64,
    pub latency_max_us: AtomicU64,
    pub connections: AtomicI64,
    pub outstanding: AtomicI64,
    pub auth_failed: AtomicU64,
    pub sessions_expired: AtomicU64,
    /// Txns whose digest from the leader differed from our tree's after applying them
    /// (ZooKeeper's `digest_mismatches_count`).
    pub digest_mismatches: AtomicU64,
    pub batches: AtomicU64,
    pub batched_txns: AtomicU64,
    /// Group commits: one sync (fdatasync) of the log per batch.
    pub fsyncs: AtomicU64,
    pub fsync_us_sum: AtomicU64,
    pub fsync_us_max: AtomicU64,
    pub fsync_threshold_exceeded: AtomicU64,
    pub fsynced_txns: AtomicU64,
    pub fsynced_bytes: AtomicU64,
    pub snapshots: AtomicU64,
    /// Watches a session core holds, stored whenever they change: `mntr` on any core
    /// sums them, as ZooKeeper's one watch manager counts them.
    pub watches: AtomicU64,
    /// Sessions the quorum's tracker holds (quorum slot), stored whenever it changes.
    pub sessions: AtomicU64,
    /// One latency histogram per `Stage`, indexed by `Stage as usize`.
    pub stages: [AtomicHistogram; Stage::ALL.len()],
}

impl CoreStats {
    pub fn new() -> Self {
        let s = CoreStats::default();
        s.latency_min_us.store(u64::MAX, Relaxed);
        s
    }

    pub fn packet_received(&self) {
        self.packets_received.fetch_add(1, Relaxed);
    }

    pub fn record_latency(&self, us: u64) {
        self.packets_sent.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(us, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_min_us.fetch_min(us, Relaxed);
        self.latency_max_us.fetch_max(us, Relaxed);
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Relaxed);
    }

    pub fn auth_failed(&self) {
        self.auth_failed.fetch_add(1, Relaxed);
    }

    pub fn session_expired(&self) {
        self.sessions_expired.fetch_add(1, Relaxed);
    }

    pub fn digest_mismatch(&self) {
        self.digest_mismatches.fetch_add(1, Relaxed);
    }

    pub fn batch_committed(&self, txns: usize) {
        self.batches.fetch_add(1, Relaxed);
        self.batched_txns.fetch_add(txns as u64, Relaxed);
    }

    pub fn stage(&self, stage: Stage, us: u64) {
        self.stages[stage as usize].record(us);
    }

    /// A log sync took longer than `fsync.warningthresholdms` (ZooKeeper's
    /// `fsync_threshold_exceed_count`; `srst` leaves it, as ZooKeeper's reset does).
    pub fn fsync_slow(&self) {
        self.fsync_threshold_exceeded.fetch_add(1, Relaxed);
    }

    pub fn fsync_done(&self, us: u64, txns: u64, bytes: u64) {
        self.fsyncs.fetch_add(1, Relaxed);
        self.fsync_us_sum.fetch_add(us, Relaxed);
        self.fsync_us_max.fetch_max(us, Relaxed);
        self.fsynced_txns.fetch_add(txns, Relaxed);
        self.fsynced_bytes.fetch_add(bytes, Relaxed);
    }

    /// `srst`'s share of this core: ZooKeeper's `ServerStats.reset` (latency, packet
    /// counts) and the `ServerMetrics` it resets (`digest_mismatches_count`, the
    /// summaries); `fsync_threshold_exceed_count` and the auth failures stay, as there.
    pub fn reset(&self) {
        self.digest_mismatches.store(0, Relaxed);
        self.packets_received.store(0, Relaxed);
        self.packets_sent.store(0, Relaxed);
        self.latency_sum_us.store(0, Relaxed);
        self.latency_count.store(0, Relaxed);
        self.latency_min_us.store(u64::MAX, Relaxed);
        self.latency_max_us.store(0, Relaxed);
        for h in &self.stages {
            h.reset();
        }
    }
}

/// All cores' counters. Slot 0 is the quorum core; slot `i + 1` is session core `i`.
pub struct ServerStats {
    pub slots: Vec<CoreStats>,
    pub started: Instant,
    /// Open connections per client IP and in all, over every session core.
    open_conns: Mutex<OpenConns>,
    /// What this server is in its ensemble (`ServerMode`), as `srvr` and `mntr` say it.
    mode: std::sync::atomic::AtomicU8,
    /// A leader's view of its learners, for `mntr`.
    pub leader: LeaderStats,
    /// ZooKeeper's quorum metrics.
    pub zab: ZabMetrics,
    /// TLS handshakes on the client ports and the AdminServer's plaintext requests.
    pub tls: TlsStats,
}

/// ZooKeeper's TLS counters (`ServerMetrics`, `NettyServerCnxnFactory`), server-wide:
/// touched once per TLS connection, never on the plaintext path.
#[derive(Default)]
pub struct TlsStats {
    /// `outstanding_tls_handshake` (a gauge): client-port handshakes under way.
    pub outstanding: AtomicI64,
    /// `tls_handshake_exceeded`: connections closed because
    /// `netty.server.outstandingHandshake.limit` handshakes were under way.
    pub exceeded: AtomicU64,
    /// `unsuccessful_handshake`: client-port handshakes that failed or timed out.
    pub unsuccessful: AtomicU64,
    /// `insecure_admin_count`: plaintext HTTP connections taken by the AdminServer
    /// under `admin.portUnification`.
    pub insecure_admin: AtomicU64,
    /// `ssl.ocsp`'s lookups (`rk_ocsp_*` in `mntr`).
    pub ocsp: super::ocsp::OcspStats,
}

impl TlsStats {
    /// Counts a handshake starting unless `limit` (if any) are under way already,
    /// as ZooKeeper's handshake throttling does; `false`: the connection is to be
    /// closed, counted in `tls_handshake_exceeded`.
    pub fn handshake_started(&self, limit: Option<u32>) -> bool {
        let now = self.outstanding.fetch_add(1, Relaxed) + 1;
        if limit.is_some_and(|l| now > i64::from(l)) {
            self.outstanding.fetch_sub(1, Relaxed);
            self.exceeded.fetch_add(1, Relaxed);
            return false;
        }
        true
    }

    /// A handshake counted by [`TlsStats::handshake_started`] ended.
    pub fn handshake_ended(&self, ok: bool) {
        self.outstanding.fetch_sub(1, Relaxed);
        if !ok {
            self.unsuccessful.fetch_add(1, Relaxed);
        }
    }
}

/// ZooKeeper's quorum metrics (`ServerMetrics`), each recorded where ZooKeeper records
/// it, by the ensemble driver (`server::quorum::peer`) on the quorum core only. The
/// latencies are µs histograms; those ZooKeeper measures from a txn header's time
/// (leader's wall clock, ms) hold whole ms × 1000. `quorum_ack_latency` is the
/// leader's `Stage::QuorumAck`.
#[derive(Default)]
pub struct ZabMetrics {
    /// `looking_count`: times this server started looking for a leader.
    pub looking_count: AtomicU64,
    /// `proposal_count`: txns this server proposed as leader.
    pub proposal_count: AtomicU64,
    /// `commit_count`: txns this server committed as leader (one COMMIT each).
    pub commit_count: AtomicU64,
    /// `learner_proposal_received_count`: PROPOSALs a synced follower took.
    pub learner_proposal_received_count: AtomicU64,
    /// `learner_commit_received_count`: COMMITs (follower) and INFORMs (observer).
    pub learner_commit_received_count: AtomicU64,
    /// `diff_count`: learners this leader synced by DIFF or TRUNC (ZooKeeper counts
    /// every sync that is not a SNAP here).
    pub diff_count: AtomicU64,
    /// `snap_count`: learners this leader synced by SNAP.
    pub snap_count: AtomicU64,
    /// `quorum_size`: the voting members in the ensemble's config.
    pub quorum_size: AtomicU64,
    /// `election_time`: from starting to look until the election's decision.
    pub election_time: AtomicHistogram,
    /// `follower_sync_time`: a follower's ACKEPOCH to the leader's UPTODATE.
    pub follower_sync_time: AtomicHistogram,
    /// `proposal_latency`: txn header time to its PROPOSAL's arrival on a follower.
    pub proposal_latency: AtomicHistogram,
    /// `proposal_ack_creation_latency`: until the txn is durable here and its ACK is
    /// due (leader: from its PROPOSAL; learner: from its txn header time).
    pub proposal_ack_creation_latency: AtomicHistogram,
    /// `commit_propagation_latency`: txn header time to its COMMIT (or INFORM) here.
    pub commit_propagation_latency: AtomicHistogram,
    /// `propagation_latency`: txn header time to its apply here (every server).
    pub propagation_latency: AtomicHistogram,
    /// `ack_latency`, keyed by the acking server's sid (the leader's own included):
    /// PROPOSAL to that ACK. A sid's histogram is added on its first ACK.
    ack_latency: RwLock<BTreeMap<i64, AtomicHistogram>>,
}

/// The most sids `ack_latency` keeps a summary for.
const ACK_LATENCY_KEYS_MAX: usize = 256;

impl ZabMetrics {
    /// Records in `h` the ms from `created_ms` (a txn header's time, the leader's
    /// wall clock) to `now_ms`, skipping a negative one (our clock behind the
    /// leader's) as ZooKeeper's `Request.logLatency` does.
    pub fn since_created(h: &AtomicHistogram, now_ms: i64, created_ms: i64) {
        if let Ok(ms) = u64::try_from(now_ms - created_ms) {
            h.record(ms.saturating_mul(1000));
        }
    }

    /// One ACK from server `sid`, `us` after its PROPOSAL.
    pub fn ack(&self, sid: i64, us: u64) {
        let known = self
            .ack_latency
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = known.get(&sid) {
            h.record(us);
            return;
        }
        drop(known);
        let mut all = self
            .ack_latency
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Learners name their own sid: a peer making up new ones must not grow this
        // without end.
        if all.len() < ACK_LATENCY_KEYS_MAX {
            all.entry(sid).or_default().record(us);
        }
    }

    fn reset(&self) {
        for c in [
            &self.looking_count,
            &self.proposal_count,
            &self.commit_count,
            &self.learner_proposal_received_count,
            &self.learner_commit_received_count,
            &self.diff_count,
            &self.snap_count,
        ] {
            c.store(0, Relaxed);
        }
        for h in [
            &self.election_time,
            &self.follower_sync_time,
            &self.proposal_latency,
            &self.proposal_ack_creation_latency,
            &self.commit_propagation_latency,
            &self.propagation_latency,
        ] {
            h.reset();
        }
        // A set keeps its keys, each reset (ZooKeeper's `AvgMinMaxCounterSet`).
        let acks = self
            .ack_latency
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for h in acks.values() {
            h.reset();
        }
    }

    /// `ack_latency` per sid, ascending.
    pub fn ack_latency(&self) -> Vec<(i64, Summary)> {
        self.ack_latency
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(sid, h)| (*sid, AtomicHistogram::summarize([h])))
            .collect()
    }
}

/// What a leader's `mntr` adds (ZooKeeper's names without `zk_`), set by the ensemble
/// driver after each step of the leader; `synced_observers` also by a follower's
/// observer master (`observer_master` set while it runs), as ZooKeeper's follower
/// reports its own observers under that name.
#[derive(Default)]
pub struct LeaderStats {
    /// When this server last became an established leader, in ms since its start
    /// (`leader_uptime` counts from there).
    pub established_ms: AtomicU64,
    pub learners: AtomicU64,
    pub synced_followers: AtomicU64,
    pub synced_non_voting_followers: AtomicU64,
    pub synced_observers: AtomicU64,
    pub observer_master: std::sync::atomic::AtomicBool,
    pub pending_syncs: AtomicU64,
    pub last_proposal_size: AtomicU64,
    pub min_proposal_size: AtomicU64,
    pub max_proposal_size: AtomicU64,
}

/// A server's part in its ensemble, as ZooKeeper's `srvr` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    Standalone = 0,
    /// An ensemble member that is electing or synchronizing: it serves no client.
    NotServing = 1,
    Leader = 2,
    Follower = 3,
    Observer = 4,
    /// Cut off from its quorum with `readonlymode.enabled`: reads for read-only clients.
    ReadOnly = 5,
}

impl ServerMode {
    /// The name `srvr` prints after `Mode:` and `mntr` as `zk_server_state`.
    pub fn name(self) -> &'static str {
        match self {
            ServerMode::Standalone => "standalone",
            ServerMode::NotServing => "looking",
            ServerMode::Leader => "leader",
            ServerMode::Follower => "follower",
            ServerMode::Observer => "observer",
            ServerMode::ReadOnly => "read-only",
        }
    }

    /// Whether clients are served.
    pub fn serves(self) -> bool {
        self != ServerMode::NotServing
    }
}

#[derive(Default)]
struct OpenConns {
    by_ip: HashMap<IpAddr, u32>,
    total: u32,
}

/// Which connection limit a new connection hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnLimit {
    /// `maxClientCnxns`, per client IP.
    PerIp,
    /// `maxCnxns`, for the whole server.
    Total,
}

/// Sums over the session cores, as the four-letter words print them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency_min_us: u64,
    pub latency_max_us: u64,
    pub latency_avg_us: u64,
    pub connections: i64,
    pub outstanding: i64,
    pub auth_failed: u64,
}

impl ServerStats {
    pub fn new(session_cores: usize) -> Self {
        ServerStats {
            slots: (0..=session_cores).map(|_| CoreStats::new()).collect(),
            started: Instant::now(),
            open_conns: Mutex::new(OpenConns::default()),
            mode: std::sync::atomic::AtomicU8::new(ServerMode::Standalone as u8),
            leader: LeaderStats::default(),
            zab: ZabMetrics::default(),
            tls: TlsStats::default(),
        }
    }

    pub fn mode(&self) -> ServerMode {
        match self.mode.load(std::sync::atomic::Ordering::Acquire) {
            0 => ServerMode::Standalone,
            2 => ServerMode::Leader,
            3 => ServerMode::Follower,
            4 => ServerMode::Observer,
            5 => ServerMode::ReadOnly,
            _ => ServerMode::NotServing,
        }
    }

    pub fn set_mode(&self, mode: ServerMode) {
        self.mode
            .store(mode as u8, std::sync::atomic::Ordering::Release);
    }

    /// Counts a new connection from `ip` unless `per_ip` connections from it, or
    /// `total` in all, are open on the whole server (0: no limit), as ZooKeeper's
    /// `maxClientCnxns` and `maxCnxns` count; at a limit it counts nothing.
    pub fn conn_opened_from(&self, ip: IpAddr, per_ip: u32, total: u32) -> Result<(), ConnLimit> {
        let mut conns = self
            .open_conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if total != 0 && conns.total >= total {
            return Err(ConnLimit::Total);
        }
        let n = conns.by_ip.entry(ip).or_insert(0);
        if per_ip != 0 && *n >= per_ip {
            return Err(ConnLimit::PerIp);
        }
        *n += 1;
        conns.total += 1;
        Ok(())
    }

    /// Uncounts a connection from `ip` that [`ServerStats::conn_opened_from`] counted.
    pub fn conn_closed_from(&self, ip: IpAddr) {
        let mut conns = self
            .open_conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let OpenConns { by_ip, total } = &mut *conns;
        if let Some(n) = by_ip.get_mut(&ip) {
            *n -= 1;
            *total -= 1;
            if *n == 0 {
                by_ip.remove(&ip);
            }
        }
    }

    pub fn quorum(&self) -> &CoreStats {
        &self.slots[0]
    }

    pub fn core(&self, idx: usize) -> &CoreStats {
        &self.slots[idx + 1]
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            latency_min_us: u64::MAX,
            ..Totals::default()
        };
        let mut sum = 0u64;
        let mut count = 0u64;
        for s in &self.slots[1..] {
            t.packets_received += s.packets_received.load(Relaxed);
            t.packets_sent += s.packets_sent.load(Relaxed);
            t.latency_min_us = t.latency_min_us.min(s.latency_min_us.load(Relaxed));
            t.latency_max_us = t.latency_max_us.max(s.latency_max_us.load(Relaxed));
            sum += s.latency_sum_us.load(Relaxed);
            count += s.latency_count.load(Relaxed);
            t.connections += s.connections.load(Relaxed);
            t.outstanding += s.outstanding.load(Relaxed);
            t.auth_failed += s.auth_failed.load(Relaxed);
        }
        if t.latency_min_us == u64::MAX {
            t.latency_min_us = 0;
        }
        t.latency_avg_us = sum.checked_div(count).unwrap_or(0);
        t
    }

    /// `srst`: ZooKeeper's `ServerStats.reset`, which resets every `ServerMetrics`
    /// value too (the quorum metrics; `quorum_size` is a gauge and stays).
    pub fn reset(&self) {
        for s in &self.slots {
            s.reset();
        }
        self.zab.reset();
    }

    /// Watches held over every session core.
    pub fn watch_count(&self) -> u64 {
        self.slots[1..]
            .iter()
            .map(|s| s.watches.load(Relaxed))
            .sum()
    }

    /// Percentiles of one stage over every core.
    pub fn stage_summary(&self, stage: Stage) -> Summary {
        AtomicHistogram::summarize(self.slots.iter().map(|s| &s.stages[stage as usize]))
    }
}

/// ZooKeeper's quorum summaries ringkeeper measures (`ServerMetrics`), each with
/// whether it is ADVANCED there (percentile rows in `mntr`, quantiles 0.5/0.9/0.99 in
/// Prometheus) rather than BASIC (avg/min/max/cnt/sum, the median), and where its
/// samples are: the one table `mntr`, `monitor` and Prometheus read.
pub const ZOOKEEPER_QUORUM_SUMMARIES: &[(&str, bool, SummaryOf)] = &[
    ("election_time", false, |s| one(&s.zab.election_time)),
    ("follower_sync_time", false, |s| {
        one(&s.zab.follower_sync_time)
    }),
    ("proposal_latency", true, |s| one(&s.zab.proposal_latency)),
    ("proposal_ack_creation_latency", true, |s| {
        one(&s.zab.proposal_ack_creation_latency)
    }),
    ("commit_propagation_latency", true, |s| {
        one(&s.zab.commit_propagation_latency)
    }),
    ("propagation_latency", true, |s| {
        one(&s.zab.propagation_latency)
    }),
    ("quorum_ack_latency", true, |s| {
        s.stage_summary(Stage::QuorumAck)
    }),
];

/// Reads one summary's samples out of the server's stats.
pub type SummaryOf = fn(&ServerStats) -> Summary;

fn one(h: &AtomicHistogram) -> Summary {
    AtomicHistogram::summarize([h])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srst_resets_what_zookeepers_reset_does_and_keeps_the_rest() {
        let c = CoreStats::new();
        c.digest_mismatch();
        c.fsync_slow();
        c.auth_failed();
        c.packet_received();
        c.reset();
        assert_eq!(c.digest_mismatches.load(Relaxed), 0);
        assert_eq!(c.packets_received.load(Relaxed), 0);
        assert_eq!(c.fsync_threshold_exceeded.load(Relaxed), 1);
        assert_eq!(c.auth_failed.load(Relaxed), 1);
    }

    #[test]
    fn ack_latency_keeps_one_summary_per_sid_up_to_a_bound() {
        let z = ZabMetrics::default();
        z.ack(2, 1500);
        z.ack(2, 500);
        z.ack(3, 700);
        let acks = z.ack_latency();
        assert_eq!(acks.len(), 2);
        assert_eq!((acks[0].0, acks[0].1.count, acks[0].1.sum_us), (2, 2, 2000));
        assert_eq!((acks[0].1.min_us, acks[0].1.max_us), (500, 1500));
        for sid in 0..1000 {
            z.ack(sid, 1);
        }
        assert_eq!(z.ack_latency().len(), ACK_LATENCY_KEYS_MAX);
        // A known sid is still counted; reset keeps the keys, empty.
        let before = z.ack_latency()[0].1.count;
        z.ack(0, 1);
        assert_eq!(z.ack_latency()[0].1.count, before + 1);
        z.reset();
        assert!(z.ack_latency().iter().all(|(_, s)| s.count == 0));
        assert_eq!(z.ack_latency().len(), ACK_LATENCY_KEYS_MAX);
    }
}
