//! A deterministic simulation of fast leader election: 3 or 5 voters and an observer,
//! each a `zab::fle::Fle`, in one thread, over a simulated network that delays,
//! reorders, drops and partitions, with crashes and restarts; everything drawn from one
//! `u64` seed.
//!
//! The network behaves as ZooKeeper's election connections do: each link is a TCP
//! connection, in order on itself, so messages reorder only between links; a lost
//! message is a reset connection, and the reconnection sends the newest message again
//! (`lastMessageSent`); what cannot leave waits in a queue of one per peer, the newest
//! replacing the older, and goes out when the link comes up (a peer starts, a partition
//! heals). A failure prints the seed and the run's last events; replay it with
//! `FLE_SIM_SEED=<seed> cargo test --release --test zab_fle_sim -- --nocapture`.
//! `FLE_SIM_SEEDS=<n>` runs n seeds per ensemble instead of the default (a soak).
//!
//! FLE only decides; ZooKeeper then runs discovery, which this harness stands in for
//! until `zab` has it: a follower "connects" to its leader (retrying 5 times, 100 ms
//! apart, as `Learner.connectToLeader`), a leader that gathers a voter quorum within
//! `initLimit` is established with epoch `max(acceptedEpoch) + 1` and every member gets
//! `Synced` (`updateElectionVote`); a leader that does not, or that loses its quorum
//! (checked every `syncLimit`), and followers that lose their leader, look again.
//! Messages travel as election-port bytes through `zab::wire`.
//!
//! Runs come in three kinds:
//! - calm: everyone starts within 50 ms, delays ≤ 50 ms, nothing lost; every decision
//!   must name the best voter by `(currentEpoch, lastZxid, sid)`;
//! - chaos: staggered starts, delays up to 300 ms (beyond the finalize wait), up to 30 %
//!   loss, partitions, crashes and restarts for 15 s, then everything heals;
//! - joiner: a calm start without one server, which joins once a leader is established
//!   and must follow it (through `checkLeader` on LEADING/FOLLOWING replies) without
//!   unseating it.
//!
//! Checked in every run: at most one leader established per epoch (`Leadership1`), only
//! voters are ever elected, a server deciding by its own round never settles for a vote
//! worse than its own, an established leader is not behind any member of its founding
//! quorum; and after healing, within 3 simulated minutes, all servers agree on one
//! established leader and stay so for 10 s. The canary tests run the same harness with a
//! deliberate bug each (`Bugs`) and pass only if a check catches it.
//! `FLE_SIM_TRACE=1` adds every delivered notification and action to the log.
//!
//! The `_fast_failover` tests run the same seeds with FLE as ringkeeper's driver runs
//! it (`FleConfig::fast_failover`): a server that ran and is down refuses connections
//! (`Input::Reachable`), which may end a finalize wait early, and LOOKING votes heard
//! while following are read when the next election starts.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Instant;

mod sim;
use sim::{seeds, Rng};

use bytes::BytesMut;
use ringkeeper::zab::fle::{Action, DecidedBy, Decision, Fle, FleConfig, Input};
use ringkeeper::zab::quorum::{QuorumMaj, QuorumServer};
use ringkeeper::zab::vote::{LearnerType, Proposal};
use ringkeeper::zab::wire::election::{decode_frame, Notification};
use ringkeeper::zab::wire::Decoded;
use ringkeeper::zab::{make_zxid, Sid, Zxid};

// ZooKeeper timing for the stand-in discovery: tickTime 200 ms, initLimit 10, syncLimit 5.
const INIT_LIMIT_MS: u64 = 2_000;
const SYNC_LIMIT_MS: u64 = 1_000;
const CONNECT_TRIES: u32 = 5;
const CONNECT_RETRY_MS: u64 = 100;
const CHAOS_MS: u64 = 15_000;
const SETTLE_LIMIT_MS: u64 = 180_000;
const STABLE_MS: u64 = 10_000;
/// A run that exceeds this many events is a livelock, not a slow run.
const MAX_EVENTS: u64 = 3_000_000;

/// Deliberate mistakes for the canary tests, which prove that the checks catch them.
#[derive(Debug, Clone, Copy, Default)]
struct Bugs {
    /// FLE without its 200 ms finalize wait.
    no_finalize_wait: bool,
    /// A leader that never calls `updateElectionVote` (ZOOKEEPER-1732).
    leader_skips_synced: bool,
    /// A leader that counts itself established without a quorum of followers.
    establish_alone: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Calm,
    Chaos,
    Joiner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Down,
    Looking,
    Leading {
        /// The epoch once established.
        established: Option<i64>,
        /// Learners registered with this leader (observers too).
        followers: BTreeSet<Sid>,
    },
    Following {
        leader: Sid,
        registered: bool,
        synced: bool,
    },
}

struct Peer {
    sid: Sid,
    learner_type: LearnerType,
    fle: Option<Fle>,
    role: Role,
    /// Bumped on every role change; delayed role events carry it and go stale.
    gen: u64,
    // What survives a crash (the epoch files and the log).
    last_zxid: Zxid,
    current_epoch: i64,
    accepted_epoch: i64,
    /// This server's own vote in its current election round.
    init_vote: Option<Proposal>,
    /// Started at least once: once down, its election port refuses connections.
    ever_started: bool,
}

impl Peer {
    fn alive(&self) -> bool {
        self.role != Role::Down
    }
    fn is_voter(&self) -> bool {
        self.learner_type == LearnerType::Participant
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: Sid,
        to: Sid,
        frame: Vec<u8>,
    },
    FleTick {
        peer: Sid,
    },
    Connect {
        from: Sid,
        to: Sid,
        gen: u64,
        tries: u32,
    },
    LeaderDeadline {
        peer: Sid,
        gen: u64,
    },
    Look {
        peer: Sid,
        gen: u64,
    },
    Check,
    Fault,
    Heal,
    Reconnect {
        from: Sid,
        to: Sid,
    },
    /// `from` tried to connect to `to`, which is down: refused (fast failover only).
    Refused {
        from: Sid,
        to: Sid,
    },
    Start {
        peer: Sid,
    },
}

struct Scheduled {
    at: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest event, ties in scheduling order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Sim {
    kind: Kind,
    bugs: Bugs,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    peers: BTreeMap<Sid, Peer>,
    quorum: QuorumMaj,
    /// Symmetric cuts, stored as (smaller, larger).
    cut: BTreeSet<(Sid, Sid)>,
    /// Per directed link, the newest message that could not leave (QuorumCnxManager's
    /// send queue of one), sent when the link comes up.
    pending: BTreeMap<(Sid, Sid), Vec<u8>>,
    /// Per directed link, the last message put on it, which a new connection sends
    /// again when nothing is pending (`lastMessageSent`).
    last_sent: BTreeMap<(Sid, Sid), Vec<u8>>,
    /// Per directed link, when its last message arrives: later ones arrive after it.
    link_clock: BTreeMap<(Sid, Sid), u64>,
    drop_per_mille: u64,
    max_delay_ms: u64,
    healed_at: Option<u64>,
    /// epoch -> leader, for Leadership1.
    established: BTreeMap<i64, Sid>,
    best_voter: Sid,
    joiner: Option<Sid>,
    /// The (leader, epoch) established when the joiner was started.
    before_join: Option<(Sid, i64)>,
    converged_since: Option<(u64, Sid, i64)>,
    done: bool,
    events: u64,
    /// FLE as ringkeeper's driver runs it (`FleConfig::fast_failover`), with refusals.
    fast: bool,
    log: Vec<String>,
    /// Log every delivered notification and action too (`FLE_SIM_TRACE=1`).
    trace: bool,
    failure: Option<String>,
}

impl Sim {
    fn new(seed: u64, voters: usize, observer: bool, bugs: Bugs) -> Sim {
        let mut rng = Rng(seed);
        let kind = match seed % 4 {
            0 => Kind::Calm,
            1 => Kind::Joiner,
            _ => Kind::Chaos,
        };
        let n = voters + usize::from(observer);
        let servers: Vec<QuorumServer> = (1..=n as Sid)
            .map(|id| QuorumServer {
                id,
                host: format!("127.0.0.{id}"),
                quorum_port: 2888,
                election_port: 3888,
                learner_type: if id as usize > voters {
                    LearnerType::Observer
                } else {
                    LearnerType::Participant
                },
                client: None,
            })
            .collect();
        let quorum = QuorumMaj::new(servers.clone(), 0).expect("valid config");
        let joiner = (kind == Kind::Joiner).then(|| rng.range(1, n as u64) as Sid);
        let mut peers = BTreeMap::new();
        for s in &servers {
            let current_epoch = rng.range(1, 3) as i64;
            let zxid_epoch = current_epoch - rng.below(2) as i64;
            let last_zxid = make_zxid(zxid_epoch, rng.below(4) as i64);
            peers.insert(
                s.id,
                Peer {
                    sid: s.id,
                    learner_type: s.learner_type,
                    fle: None,
                    role: Role::Down,
                    gen: 0,
                    last_zxid,
                    current_epoch,
                    accepted_epoch: current_epoch,
                    init_vote: None,
                    ever_started: false,
                },
            );
        }
        // A server that was away has no newer history than those that stayed.
        if let Some(j) = joiner {
            let oldest = peers
                .values()
                .filter(|p| p.sid != j)
                .map(|p| (p.current_epoch, p.last_zxid))
                .min()
                .expect("others exist");
            let p = peers.get_mut(&j).expect("joiner exists");
            p.current_epoch = oldest.0;
            p.accepted_epoch = oldest.0;
            p.last_zxid = oldest.1.min(p.last_zxid);
        }
        // The best voter among those that start together.
        let best_voter = peers
            .values()
            .filter(|p| p.is_voter() && Some(p.sid) != joiner)
            .max_by_key(|p| (p.current_epoch, p.last_zxid, p.sid))
            .map(|p| p.sid)
            .expect("voters exist");
        let (drop_per_mille, max_delay_ms) = match kind {
            Kind::Calm | Kind::Joiner => (0, 50),
            Kind::Chaos => (rng.below(301), rng.range(1, 300)),
        };
        let mut sim = Sim {
            kind,
            bugs,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            peers,
            quorum,
            cut: BTreeSet::new(),
            pending: BTreeMap::new(),
            last_sent: BTreeMap::new(),
            link_clock: BTreeMap::new(),
            drop_per_mille,
            max_delay_ms,
            healed_at: None,
            established: BTreeMap::new(),
            best_voter,
            joiner,
            before_join: None,
            converged_since: None,
            done: false,
            events: 0,
            fast: false,
            log: Vec::new(),
            trace: std::env::var_os("FLE_SIM_TRACE").is_some(),
            failure: None,
        };
        sim.log(format!(
            "seed {seed} kind {kind:?} voters {voters} observer {observer} drop {}‰ delay ≤{} ms best {best_voter} joiner {joiner:?}",
            sim.drop_per_mille, sim.max_delay_ms
        ));
        let ids: Vec<Sid> = sim.peers.keys().copied().collect();
        for id in ids {
            let p = &sim.peers[&id];
            let line = format!(
                "server {id} {:?} currentEpoch {} lastZxid {:#x}",
                p.learner_type, p.current_epoch, p.last_zxid
            );
            sim.log(line);
            if Some(id) == joiner {
                continue;
            }
            let at = match kind {
                Kind::Chaos => sim.rng.below(2_000),
                _ => sim.rng.below(50),
            };
            sim.schedule(at, Event::Start { peer: id });
        }
        if kind == Kind::Chaos {
            sim.plan_chaos();
        } else {
            sim.healed_at = Some(0);
        }
        sim.schedule(SYNC_LIMIT_MS, Event::Check);
        sim
    }

    /// A fault every 0.2–1.5 s during the first `CHAOS_MS`, then a heal. Which server a
    /// fault hits is drawn when it happens, so that faults can aim at the leader of the
    /// moment.
    fn plan_chaos(&mut self) {
        let mut t = self.rng.range(200, 1_500);
        while t < CHAOS_MS {
            self.schedule(t, Event::Fault);
            t += self.rng.range(200, 1_500);
        }
        self.schedule(CHAOS_MS, Event::Heal);
    }

    fn fault(&mut self) {
        let ids: Vec<Sid> = self.peers.keys().copied().collect();
        let any = ids[self.rng.below(ids.len() as u64) as usize];
        let leader = self.established_leader().map(|(l, _)| l).unwrap_or(any);
        match self.rng.below(100) {
            0..=19 => self.isolate(any),
            20..=34 => self.isolate(leader),
            35..=49 => {
                let side: BTreeSet<Sid> = ids
                    .iter()
                    .copied()
                    .filter(|_| self.rng.below(2) == 0)
                    .collect();
                let mut cut = BTreeSet::new();
                for &a in &side {
                    for &b in ids.iter().filter(|b| !side.contains(b)) {
                        cut.insert((a.min(b), a.max(b)));
                    }
                }
                self.log(format!("partition {side:?} from the rest"));
                self.set_cut(cut);
            }
            50..=64 => {
                self.log("heal partitions".into());
                self.set_cut(BTreeSet::new());
            }
            65..=79 => self.crash(any),
            80..=89 => self.crash(leader),
            _ => {
                let down: Vec<Sid> = self
                    .peers
                    .values()
                    .filter(|p| !p.alive())
                    .map(|p| p.sid)
                    .collect();
                if !down.is_empty() {
                    let peer = down[self.rng.below(down.len() as u64) as usize];
                    self.log(format!("restart {peer}"));
                    self.boot(peer);
                }
            }
        }
    }

    fn isolate(&mut self, lone: Sid) {
        self.log(format!("isolate {lone}"));
        let cut = self
            .peers
            .keys()
            .filter(|&&o| o != lone)
            .map(|&o| (lone.min(o), lone.max(o)))
            .collect();
        self.set_cut(cut);
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
    }

    fn log(&mut self, line: String) {
        self.log.push(format!("{:>7} {line}", self.now));
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.log(format!("FAILED: {why}"));
            self.failure = Some(why);
        }
    }

    fn linked(&self, a: Sid, b: Sid) -> bool {
        a == b || !self.cut.contains(&(a.min(b), a.max(b)))
    }

    fn alive(&self, sid: Sid) -> bool {
        self.peers.get(&sid).is_some_and(Peer::alive)
    }

    fn delay(&mut self) -> u64 {
        self.rng.range(1, self.max_delay_ms)
    }

    fn run(&mut self) {
        while let Some(Scheduled { at, event, .. }) = self.queue.pop() {
            if self.done || self.failure.is_some() {
                break;
            }
            self.now = at;
            self.events += 1;
            if self.events > MAX_EVENTS {
                self.fail(format!("more than {MAX_EVENTS} events: a message storm"));
                break;
            }
            self.handle(event);
            if let Some(h) = self.healed_at {
                if self.now > h + SETTLE_LIMIT_MS {
                    let state = self.describe();
                    self.fail(format!(
                        "no stable leader {} s after healing: {state}",
                        SETTLE_LIMIT_MS / 1000
                    ));
                }
            }
        }
        if !self.done && self.failure.is_none() {
            self.fail("the event queue ran dry before the run ended".into());
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, frame } => self.deliver(from, to, &frame),
            Event::FleTick { peer } => {
                if let Some(fle) = self.peers.get_mut(&peer).and_then(|p| p.fle.as_mut()) {
                    let mut out = Vec::new();
                    fle.step(Input::Tick, self.now, &mut out);
                    self.apply(peer, out);
                }
            }
            Event::Connect {
                from,
                to,
                gen,
                tries,
            } => self.connect(from, to, gen, tries),
            Event::LeaderDeadline { peer, gen } => {
                let p = &self.peers[&peer];
                if p.gen == gen
                    && matches!(
                        p.role,
                        Role::Leading {
                            established: None,
                            ..
                        }
                    )
                {
                    self.log(format!("{peer} gathered no quorum within initLimit"));
                    self.go_looking(peer);
                }
            }
            Event::Look { peer, gen } => {
                if self.peers[&peer].gen == gen && self.alive(peer) {
                    self.go_looking(peer);
                }
            }
            Event::Check => {
                self.check_links();
                self.check_convergence();
                self.schedule(self.now + SYNC_LIMIT_MS, Event::Check);
            }
            Event::Fault => self.fault(),
            Event::Refused { from, to } => {
                if self.alive(from) && !self.alive(to) {
                    let mut out = Vec::new();
                    if let Some(fle) = self.peers.get_mut(&from).and_then(|p| p.fle.as_mut()) {
                        let input = Input::Reachable {
                            sid: to,
                            reachable: false,
                        };
                        fle.step(input, self.now, &mut out);
                    }
                    self.apply(from, out);
                }
            }
            Event::Reconnect { from, to } => {
                if self.alive(from) && self.alive(to) && self.linked(from, to) {
                    self.link_up(from, to);
                }
            }
            Event::Heal => {
                self.set_cut(BTreeSet::new());
                if self.healed_at.is_none() {
                    self.log("heal: no more loss, partitions or crashes".into());
                    self.drop_per_mille = 0;
                    self.healed_at = Some(self.now);
                    let down: Vec<Sid> = self
                        .peers
                        .values()
                        .filter(|p| !p.alive())
                        .map(|p| p.sid)
                        .collect();
                    for peer in down {
                        self.boot(peer);
                    }
                }
            }
            Event::Start { peer } => {
                if !self.alive(peer) {
                    self.log(format!("start {peer}"));
                    self.boot(peer);
                }
            }
        }
    }

    /// Starts a server from what it has on disk (a running one is left alone).
    fn boot(&mut self, sid: Sid) {
        if self.alive(sid) {
            return;
        }
        let quorum = self.quorum.clone();
        let p = self.peers.get_mut(&sid).expect("peer exists");
        let config = FleConfig {
            finalize_wait_ms: if self.bugs.no_finalize_wait { 0 } else { 200 },
            fast_failover: self.fast,
            ..FleConfig::default()
        };
        p.ever_started = true;
        p.fle = Some(Fle::new(
            sid,
            p.learner_type,
            quorum,
            config,
            p.last_zxid,
            p.current_epoch,
        ));
        p.role = Role::Looking;
        // Its peers connect to it and send what they hold for it.
        let others: Vec<Sid> = self
            .peers
            .keys()
            .copied()
            .filter(|&o| o != sid && self.alive(o) && self.linked(o, sid))
            .collect();
        for o in others {
            self.link_up(o, sid);
        }
        self.go_looking(sid);
    }

    fn crash(&mut self, sid: Sid) {
        if !self.alive(sid) {
            return;
        }
        self.log(format!("crash {sid}"));
        self.leave_role(sid);
        let p = self.peers.get_mut(&sid).expect("peer exists");
        p.role = Role::Down;
        p.fle = None;
        p.gen += 1;
        // Its queues die with it.
        self.pending.retain(|(from, _), _| *from != sid);
        self.last_sent.retain(|(from, _), _| *from != sid);
    }

    /// Undoes the links of `sid`'s current role: a follower leaves its leader's set; a
    /// leader's followers lose their connection (they look again shortly).
    fn leave_role(&mut self, sid: Sid) {
        let role = self.peers[&sid].role.clone();
        match role {
            Role::Following { leader, .. } => {
                if let Some(Role::Leading { followers, .. }) =
                    self.peers.get_mut(&leader).map(|l| &mut l.role)
                {
                    followers.remove(&sid);
                }
            }
            Role::Leading { followers, .. } => {
                for f in followers {
                    let gen = self.peers[&f].gen;
                    let at = self.now + self.delay();
                    self.schedule(at, Event::Look { peer: f, gen });
                }
            }
            Role::Down | Role::Looking => {}
        }
    }

    /// Back to LOOKING: `lookForLeader` with the history on disk.
    fn go_looking(&mut self, sid: Sid) {
        self.leave_role(sid);
        let now = self.now;
        let p = self.peers.get_mut(&sid).expect("peer exists");
        p.role = Role::Looking;
        p.gen += 1;
        let input = Input::StartLooking {
            last_zxid: p.last_zxid,
            current_epoch: p.current_epoch,
        };
        // Its own vote (`getInitId` and kin), not the proposal after the start: with
        // fast failover the start also reads votes heard while following.
        p.init_vote = p.is_voter().then_some(Proposal {
            leader: sid,
            zxid: p.last_zxid,
            peer_epoch: p.current_epoch,
        });
        let mut out = Vec::new();
        let Some(fle) = p.fle.as_mut() else { return };
        fle.step(input, now, &mut out);
        self.apply(sid, out);
    }

    fn apply(&mut self, sid: Sid, actions: Vec<Action>) {
        for a in actions {
            if self.trace {
                self.log(format!("{sid} does {a:?}"));
            }
            match a {
                Action::Send { to, notification } => self.send(sid, to, &notification),
                Action::SetTimer { at_ms } => {
                    self.schedule(at_ms.max(self.now), Event::FleTick { peer: sid })
                }
                Action::Decide { decision, vote, by } => {
                    self.decided(sid, decision, vote.proposal(), by)
                }
            }
        }
    }

    fn send(&mut self, from: Sid, to: Sid, n: &Notification) {
        let mut frame = BytesMut::new();
        n.encode_frame(&mut frame);
        let frame = frame.to_vec();
        if from == to {
            // A message to oneself skips the network.
            self.schedule(self.now, Event::Deliver { from, to, frame });
            return;
        }
        if !self.alive(to) || !self.linked(from, to) {
            // No connection: it waits in the queue of one, replacing an older message.
            self.pending.insert((from, to), frame);
            // A server that ran and is down refuses the connection at once (a
            // partition only times out, and tells nothing).
            if self.fast && !self.alive(to) && self.peers[&to].ever_started {
                self.schedule(self.now + 1, Event::Refused { from, to });
            }
            return;
        }
        self.transmit(from, to, frame);
    }

    /// Puts `frame` on a live link. A link is a TCP connection: delays vary, but what
    /// it carries arrives in order, so reordering happens only between links. A loss
    /// is a reset connection: this message is gone, and the reconnection a moment later
    /// sends the newest message again.
    fn transmit(&mut self, from: Sid, to: Sid, frame: Vec<u8>) {
        self.last_sent.insert((from, to), frame.clone());
        if self.rng.chance_per_mille(self.drop_per_mille) {
            let at = self.now + self.rng.range(50, 500);
            self.schedule(at, Event::Reconnect { from, to });
            return;
        }
        let at =
            (self.now + self.delay()).max(self.link_clock.get(&(from, to)).copied().unwrap_or(0));
        self.link_clock.insert((from, to), at);
        self.schedule(at, Event::Deliver { from, to, frame });
    }

    /// A connection from `from` to `to` (re)opens: the pending message goes out, or
    /// else the last one again.
    fn link_up(&mut self, from: Sid, to: Sid) {
        let frame = match self.pending.remove(&(from, to)) {
            Some(f) => Some(f),
            None => self.last_sent.get(&(from, to)).cloned(),
        };
        if let Some(frame) = frame {
            self.transmit(from, to, frame);
        }
    }

    /// Changes the partition; links that come back reconnect.
    fn set_cut(&mut self, cut: BTreeSet<(Sid, Sid)>) {
        let healed: Vec<(Sid, Sid)> = self.cut.difference(&cut).copied().collect();
        self.cut = cut;
        for (a, b) in healed {
            if self.alive(a) && self.alive(b) {
                self.link_up(a, b);
                self.link_up(b, a);
            }
        }
    }

    fn deliver(&mut self, from: Sid, to: Sid, frame: &[u8]) {
        if !self.alive(to) || !self.linked(from, to) {
            return;
        }
        let payload = match decode_frame(frame) {
            Ok(Decoded::Complete { value, consumed }) if consumed == frame.len() => value,
            other => {
                self.fail(format!("undecodable frame from {from}: {other:?}"));
                return;
            }
        };
        let notification = match Notification::decode(&payload) {
            Ok(n) => n,
            Err(e) => {
                self.fail(format!("undecodable notification from {from}: {e}"));
                return;
            }
        };
        if self.trace {
            self.log(format!("{from} -> {to}: {notification:?}"));
        }
        let mut out = Vec::new();
        if let Some(fle) = self.peers.get_mut(&to).and_then(|p| p.fle.as_mut()) {
            fle.step(Input::Received { from, notification }, self.now, &mut out);
        }
        self.apply(to, out);
    }

    fn decided(&mut self, sid: Sid, decision: Decision, vote: Proposal, by: DecidedBy) {
        let leader = decision.leader(sid);
        self.log(format!("{sid} decides {decision:?} by {by:?} on {vote:?}"));
        if !self.quorum.is_voter(leader) {
            self.fail(format!("{sid} elected non-voter {leader}"));
        }
        let p = &self.peers[&sid];
        if by == DecidedBy::Round && p.is_voter() {
            if let Some(own) = p.init_vote {
                if (own.peer_epoch, own.zxid, own.leader)
                    > (vote.peer_epoch, vote.zxid, vote.leader)
                {
                    self.fail(format!(
                        "{sid} settled for {vote:?}, worse than its own vote {own:?}"
                    ));
                }
            }
        }
        if self.kind != Kind::Chaos && leader != self.best_voter && self.before_join.is_none() {
            self.fail(format!(
                "{sid} chose {leader} in a calm start, not the best voter {}",
                self.best_voter
            ));
        }
        if let (Some(j), Some((l, _))) = (self.joiner, self.before_join) {
            if sid == j && leader != l {
                self.fail(format!(
                    "joiner {j} chose {leader}, not the established {l}"
                ));
            }
            // Nobody else is LOOKING: only LEADING/FOLLOWING replies can tell it.
            if sid == j && by == DecidedBy::Round {
                self.fail(format!("joiner {j} decided by a round of LOOKING votes"));
            }
        }
        let gen = {
            let p = self.peers.get_mut(&sid).expect("peer exists");
            p.gen += 1;
            p.role = match decision {
                Decision::Leading => Role::Leading {
                    established: None,
                    followers: BTreeSet::new(),
                },
                Decision::Following { leader } | Decision::Observing { leader } => {
                    Role::Following {
                        leader,
                        registered: false,
                        synced: false,
                    }
                }
            };
            p.gen
        };
        match decision {
            Decision::Leading => {
                self.schedule(
                    self.now + INIT_LIMIT_MS,
                    Event::LeaderDeadline { peer: sid, gen },
                );
                if self.bugs.establish_alone {
                    self.maybe_establish(sid);
                }
            }
            Decision::Following { leader } | Decision::Observing { leader } => {
                let at = self.now + self.delay();
                self.schedule(
                    at,
                    Event::Connect {
                        from: sid,
                        to: leader,
                        gen,
                        tries: 1,
                    },
                );
            }
        }
    }

    /// A learner's connection to its leader's quorum port, FOLLOWERINFO to ACKEPOCH in
    /// one step.
    fn connect(&mut self, from: Sid, to: Sid, gen: u64, tries: u32) {
        if self.peers[&from].gen != gen || !self.alive(from) {
            return;
        }
        let leader_ready = self.alive(to)
            && self.linked(from, to)
            && matches!(self.peers[&to].role, Role::Leading { .. });
        if !leader_ready {
            if tries < CONNECT_TRIES {
                self.schedule(
                    self.now + CONNECT_RETRY_MS,
                    Event::Connect {
                        from,
                        to,
                        gen,
                        tries: tries + 1,
                    },
                );
            } else {
                self.log(format!("{from} cannot reach leader {to}"));
                self.go_looking(from);
            }
            return;
        }
        let (f_summary, l_summary) = {
            let f = &self.peers[&from];
            let l = &self.peers[&to];
            (
                (f.current_epoch, f.last_zxid),
                (l.current_epoch, l.last_zxid),
            )
        };
        let established = match &self.peers[&to].role {
            Role::Leading { established, .. } => *established,
            _ => None,
        };
        // waitForEpochAck: before the epoch is settled, a learner ahead of the leader
        // is refused.
        if established.is_none() && f_summary > l_summary {
            self.log(format!(
                "{to} refuses {from}: follower is ahead of the leader"
            ));
            let at = self.now + self.delay();
            self.schedule(at, Event::Look { peer: from, gen });
            return;
        }
        if let Role::Leading { followers, .. } =
            &mut self.peers.get_mut(&to).expect("leader exists").role
        {
            followers.insert(from);
        }
        if let Role::Following { registered, .. } =
            &mut self.peers.get_mut(&from).expect("learner exists").role
        {
            *registered = true;
        }
        match established {
            Some(epoch) => self.sync(to, from, epoch),
            None => self.maybe_establish(to),
        }
    }

    fn sync(&mut self, leader: Sid, learner: Sid, epoch: i64) {
        let follows = matches!(
            self.peers[&learner].role,
            Role::Following { leader: l, .. } if l == leader
        );
        if !follows {
            self.fail(format!(
                "harness: {leader} syncs {learner}, which does not follow it"
            ));
            return;
        }
        let last_zxid = self.peers[&leader].last_zxid;
        let now = self.now;
        let p = self.peers.get_mut(&learner).expect("learner exists");
        p.accepted_epoch = epoch;
        p.current_epoch = epoch;
        p.last_zxid = last_zxid;
        if let Role::Following { synced, .. } = &mut p.role {
            *synced = true;
        }
        let mut out = Vec::new();
        if let Some(fle) = p.fle.as_mut() {
            fle.step(Input::Synced { new_epoch: epoch }, now, &mut out);
        }
        self.apply(learner, out);
    }

    fn maybe_establish(&mut self, leader: Sid) {
        let followers = match &self.peers[&leader].role {
            Role::Leading {
                established: None,
                followers,
            } => followers.clone(),
            _ => return,
        };
        let mut voters: BTreeSet<Sid> = followers
            .iter()
            .copied()
            .filter(|f| self.quorum.is_voter(*f))
            .collect();
        voters.insert(leader);
        if !self.quorum.contains_quorum(&voters) && !self.bugs.establish_alone {
            return;
        }
        let epoch = followers
            .iter()
            .chain(std::iter::once(&leader))
            .map(|s| self.peers[s].accepted_epoch)
            .max()
            .unwrap_or(0)
            + 1;
        let l_summary = {
            let l = &self.peers[&leader];
            (l.current_epoch, l.last_zxid)
        };
        for f in &voters {
            let p = &self.peers[f];
            if (p.current_epoch, p.last_zxid) > l_summary {
                self.fail(format!(
                    "leader {leader} established behind founding member {f}"
                ));
            }
        }
        if let Some(other) = self.established.insert(epoch, leader) {
            self.fail(format!(
                "two leaders established in epoch {epoch}: {other} and {leader}"
            ));
        }
        self.log(format!(
            "{leader} established in epoch {epoch} with {followers:?}"
        ));
        {
            let now = self.now;
            let p = self.peers.get_mut(&leader).expect("leader exists");
            p.accepted_epoch = epoch;
            p.current_epoch = epoch;
            if let Role::Leading { established, .. } = &mut p.role {
                *established = Some(epoch);
            }
            let mut out = Vec::new();
            if let (Some(fle), false) = (p.fle.as_mut(), self.bugs.leader_skips_synced) {
                fle.step(Input::Synced { new_epoch: epoch }, now, &mut out);
            }
            self.apply(leader, out);
        }
        for f in followers {
            self.sync(leader, f, epoch);
        }
    }

    /// `syncLimit`: a leader without a quorum of connected, synced voters, and a
    /// learner cut from its leader, look again.
    fn check_links(&mut self) {
        let mut lost = Vec::new();
        for p in self.peers.values() {
            match &p.role {
                Role::Leading {
                    established: Some(_),
                    followers,
                } => {
                    let mut with: BTreeSet<Sid> = followers
                        .iter()
                        .copied()
                        .filter(|f| {
                            self.alive(*f)
                                && self.linked(p.sid, *f)
                                && matches!(
                                    self.peers[f].role,
                                    Role::Following { leader, synced: true, .. } if leader == p.sid
                                )
                        })
                        .collect();
                    with.insert(p.sid);
                    if !self.quorum.contains_quorum(&with) {
                        lost.push((p.sid, "leader lost its quorum"));
                    }
                }
                Role::Following {
                    leader,
                    registered: true,
                    ..
                } => {
                    let leader_has_us = matches!(
                        self.peers.get(leader).map(|l| &l.role),
                        Some(Role::Leading { followers, .. }) if followers.contains(&p.sid)
                    );
                    if !self.alive(*leader) || !self.linked(p.sid, *leader) || !leader_has_us {
                        lost.push((p.sid, "learner lost its leader"));
                    }
                }
                _ => {}
            }
        }
        for (sid, why) in lost {
            // An earlier entry may have changed this one's role already.
            if self.peers[&sid].role != Role::Looking && self.alive(sid) {
                self.log(format!("{sid}: {why}"));
                if self.peers[&sid].learner_type == LearnerType::Observer {
                    // Observer.waitForObserverElectionDelay: a random pause first.
                    let gen = self.peers[&sid].gen;
                    let at = self.now + self.rng.below(200);
                    self.schedule(at, Event::Look { peer: sid, gen });
                } else {
                    self.go_looking(sid);
                }
            }
        }
    }

    /// One established leader that every server follows, synced.
    fn converged(&self) -> Option<(Sid, i64)> {
        let mut leader = None;
        for p in self.peers.values() {
            match &p.role {
                Role::Leading {
                    established: Some(e),
                    ..
                } => {
                    if leader.is_some() {
                        return None;
                    }
                    leader = Some((p.sid, *e));
                }
                Role::Following { synced: true, .. } => {}
                _ => return None,
            }
        }
        let (l, e) = leader?;
        let all_follow = self.peers.values().all(|p| match &p.role {
            Role::Following { leader, .. } => *leader == l,
            _ => p.sid == l,
        });
        all_follow.then_some((l, e))
    }

    fn check_convergence(&mut self) {
        let Some(healed) = self.healed_at else {
            return;
        };
        if self.now < healed {
            return;
        }
        // The joiner waits until the others have an established leader.
        if let Some(j) = self.joiner {
            if self.before_join.is_none() {
                let others_agree = self.peers.values().filter(|p| p.sid != j).all(|p| {
                    matches!(
                        p.role,
                        Role::Leading {
                            established: Some(_),
                            ..
                        } | Role::Following { synced: true, .. }
                    )
                });
                if let (true, Some((l, e))) = (others_agree, self.established_leader()) {
                    self.before_join = Some((l, e));
                    let at = self.now + self.rng.below(1_000);
                    self.schedule(at, Event::Start { peer: j });
                }
                return;
            }
        }
        match (self.converged(), self.converged_since) {
            (Some((l, e)), Some((since, l0, e0))) => {
                if (l, e) != (l0, e0) {
                    self.fail(format!(
                        "leader changed from {l0}/{e0} to {l}/{e} while healthy"
                    ));
                } else if self.now >= since + STABLE_MS {
                    if let Some((bl, be)) = self.before_join {
                        if (bl, be) != (l, e) {
                            self.fail(format!(
                                "the join unseated {bl} (epoch {be}); now {l} (epoch {e})"
                            ));
                        }
                    }
                    self.log(format!("stable: {l} leads epoch {e}"));
                    self.done = true;
                }
            }
            (Some((l, e)), None) => self.converged_since = Some((self.now, l, e)),
            (None, Some((_, l0, e0))) => {
                let state = self.describe();
                self.fail(format!(
                    "lost the stable leader {l0}/{e0} on a healthy network: {state}"
                ));
            }
            (None, None) => {}
        }
    }

    fn established_leader(&self) -> Option<(Sid, i64)> {
        self.peers.values().find_map(|p| match p.role {
            Role::Leading {
                established: Some(e),
                ..
            } => Some((p.sid, e)),
            _ => None,
        })
    }

    fn describe(&self) -> String {
        self.peers
            .values()
            .map(|p| format!("{}:{:?}", p.sid, p.role))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

struct Totals {
    runs: u64,
    events: u64,
    sim_ms: u64,
    kinds: BTreeMap<String, u64>,
}

/// Seeds per ensemble in a normal run (`FLE_SIM_SEEDS` overrides).
const DEFAULT_SEEDS: u64 = 5_000;

fn run_seeds(voters: usize, base: u64, fast: bool) {
    let seeds = seeds("FLE_SIM", base, DEFAULT_SEEDS);
    let single = seeds.single;
    let started = Instant::now();
    let mut totals = Totals {
        runs: 0,
        events: 0,
        sim_ms: 0,
        kinds: BTreeMap::new(),
    };
    for seed in seeds.list {
        let mut sim = Sim::new(seed, voters, true, Bugs::default());
        sim.fast = fast;
        sim.run();
        if let Some(why) = &sim.failure {
            // A replayed seed shows its whole log, a batch only the end.
            let tail = if single {
                0
            } else {
                sim.log.len().saturating_sub(80)
            };
            panic!(
                "FLE simulation failed: {why}\nseed {seed} ({voters} voters + observer, fast \
                 failover {fast}); replay with FLE_SIM_SEED={seed} cargo test --release --test \
                 zab_fle_sim -- --nocapture\n\
                 last events:\n{}",
                sim.log[tail..].join("\n")
            );
        }
        if single {
            println!("{}", sim.log.join("\n"));
        }
        totals.runs += 1;
        totals.events += sim.events;
        totals.sim_ms += sim.now;
        *totals.kinds.entry(format!("{:?}", sim.kind)).or_default() += 1;
    }
    println!(
        "{voters} voters + observer, fast failover {fast}: {} seeds {:?}, {} events, {} simulated s, {:.2} s wall",
        totals.runs,
        totals.kinds,
        totals.events,
        totals.sim_ms / 1000,
        started.elapsed().as_secs_f64()
    );
}

/// Runs seeds with `bugs` until one fails with a reason containing `expected`; panics if
/// none does within `limit` seeds (the checks would have missed the bug).
fn expect_caught(voters: usize, base: u64, limit: u64, bugs: Bugs, expected: &str) {
    for seed in base..base + limit {
        let mut sim = Sim::new(seed, voters, true, bugs);
        sim.run();
        if let Some(why) = sim.failure {
            if why.contains(expected) {
                println!(
                    "{bugs:?} caught at seed {seed} ({} tried): {why}",
                    seed - base + 1
                );
                return;
            }
        }
    }
    panic!("{bugs:?} went unnoticed in {limit} seeds (expected a failure containing {expected:?})");
}

#[test]
fn three_voters_and_an_observer() {
    run_seeds(3, 0x3000_0000, false);
}

/// The same runs with FLE as ringkeeper's driver runs it: the finalize wait cut short
/// when every other voter has voted or refused, and LOOKING votes heard while
/// following read at the next election's start.
#[test]
fn three_voters_and_an_observer_fast_failover() {
    run_seeds(3, 0x3f00_0000, true);
}

#[test]
fn five_voters_and_an_observer_fast_failover() {
    run_seeds(5, 0x5f00_0000, true);
}

#[test]
fn five_voters_and_an_observer() {
    run_seeds(5, 0x5000_0000, false);
}

#[test]
fn canary_without_the_finalize_wait_a_calm_start_elects_a_worse_leader() {
    let bugs = Bugs {
        no_finalize_wait: true,
        ..Bugs::default()
    };
    expect_caught(5, 0xca_0000, 2_000, bugs, "not the best voter");
}

#[test]
fn canary_a_leader_that_skips_update_election_vote_strands_a_joiner() {
    // ZOOKEEPER-1732: the followers report the new epoch, the leader the old one, and
    // a joiner never sees a quorum agree.
    let bugs = Bugs {
        leader_skips_synced: true,
        ..Bugs::default()
    };
    expect_caught(3, 0xcb_0000, 2_000, bugs, "no stable leader");
}

#[test]
fn canary_a_leader_established_without_a_quorum_breaks_leadership() {
    let bugs = Bugs {
        establish_alone: true,
        ..Bugs::default()
    };
    expect_caught(3, 0xcc_0000, 2_000, bugs, "two leaders established");
}
