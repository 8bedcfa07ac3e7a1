//! A deterministic simulation of ZAB after the election: discovery, synchronization
//! and broadcast, with `zab::leader::Leader` and `zab::learner::Learner` for 3 or 5
//! voters in one thread; everything drawn from one `u64` seed.
//!
//! The network carries each packet as quorum-port bytes through `zab::wire`, over one
//! TCP-like link per learner connection: in order on the link, delayed 1–30 ms, and
//! lost only as a whole (a closed link, a partition, a crash). The disk keeps a log with
//! a durable prefix: `Persist` completes after 1–20 ms, in order; a crash keeps only the
//! durable prefix; epoch files, truncation and snapshot loads are synchronous.
//!
//! The election is an oracle standing in for FLE (`tests/zab_fle_sim.rs` tests FLE
//! itself): a looking server that can reach a leader follows it; otherwise a quorum of
//! looking servers that reach each other elects the best of them by `(currentEpoch,
//! last logged zxid, sid)`, which is what FLE guarantees.
//!
//! Faults for `CHAOS_MS`: crashes and restarts, partitions into random groups, single
//! links closed. Clients write to every leader in broadcast. Then everything heals and
//! a quorum must converge on one leader holding every acknowledged write.
//!
//! One checker per invariant (names from `Zab.tla` and the system spec; the reference
//! `fault-testing.md` §2): `Integrity`, `Agreement` (prefix consistency of delivered
//! txns), `TotalOrder`, `LocalPrimaryOrder`, `Leadership1`, `LeaderHasAllCommitted`
//! (PrimaryIntegrity / LeaderLogCompleteness), `NoAckedWriteLost`,
//! `CommittedLogDurability` (no truncation or snapshot removes a delivered txn),
//! `ApplyOnlyDurable`, and `Liveness` after healing. A failure prints the seed and the
//! last events; replay with `SYNC_SIM_SEED=<seed> cargo test --release --test
//! zab_sync_sim -- --nocapture`, soak with `SYNC_SIM_SEEDS=<n>`.
//!
//! Canaries run the same harness with a deliberate bug (`Bugs`) and pass only if a
//! checker catches it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Instant;

mod sim;
use sim::{seeds, Rng};

use bytes::{Bytes, BytesMut};
use ringkeeper::zab::history::{Canary, Txn, ZabConfig};
use ringkeeper::zab::leader::{self, Leader};
use ringkeeper::zab::learner::{self, Learner};
use ringkeeper::zab::quorum::{QuorumMaj, QuorumServer};
use ringkeeper::zab::vote::LearnerType;
use ringkeeper::zab::wire::payload::LearnerKind;
use ringkeeper::zab::wire::quorum_packet::{PacketType, QuorumPacket, DEFAULT_MAX_BUFFER_LEN};
use ringkeeper::zab::wire::Decoded;
use ringkeeper::zab::{counter_of, epoch_of, Sid, Zxid};

const CHAOS_MS: u64 = 8_000;
/// Writes stop this long after the chaos, then the ensemble must have converged.
const WRITES_AFTER_HEAL_MS: u64 = 3_000;
const SETTLE_MS: u64 = 12_000;
const ELECTION_EVERY_MS: u64 = 50;
const MAX_EVENTS: u64 = 2_000_000;
const ZAB: ZabConfig = ZabConfig {
    tick_ms: 100,
    init_limit: 10,
    sync_limit: 5,
    // Small, so that learners fall below the window and get SNAP.
    commit_log_count: 8,
    canary: Canary::None,
};

/// Deliberate mistakes for the canary tests.
#[derive(Debug, Clone, Copy, Default)]
struct Bugs {
    /// The disk reports a write durable at once while it becomes durable later: every
    /// ACK (a learner's, the leader's own, the NEWLEADER ACK) goes out before the
    /// persist it vouches for (ZOOKEEPER-4646 and kin).
    ack_before_persist: bool,
    /// The election picks the worst of the quorum instead of the best. Alone this is
    /// no bug: the leader drops learners ahead of it and never gets a quorum of epoch
    /// acks (the `worse_leaders_are_refused` test); with `canary` it is.
    elect_worst: bool,
    /// A deliberate bug in the machines.
    canary: Canary,
}

/// The disk of one server; survives crashes up to `durable`.
#[derive(Debug, Clone, Default)]
struct Disk {
    log: Vec<Txn>,
    /// How many entries of `log` are durable.
    durable: usize,
    accepted_epoch: i64,
    current_epoch: i64,
    /// Bumped whenever the log is rewritten, so stale completions are dropped.
    gen: u64,
    /// When the last pending write completes (completions are in order).
    last_completion_ms: u64,
}

impl Disk {
    fn last_zxid(&self) -> Zxid {
        self.log.last().map_or(0, |t| t.zxid)
    }
    fn flush(&mut self) {
        self.durable = self.log.len();
        self.gen += 1;
    }
}

enum Role {
    Down,
    Looking,
    Leading(Box<Leader>),
    Following {
        leader: Sid,
        machine: Box<Learner>,
        link: Option<u64>,
        /// A SNAP packet waiting for its body.
        snap: Option<QuorumPacket>,
        /// The body just received, for `LoadSnapshot`.
        body: Option<Vec<Txn>>,
    },
}

struct Node {
    sid: Sid,
    /// Bumped at each restart; events of older incarnations are dropped.
    inc: u64,
    /// Bumped at each role change; timers of older roles are dropped.
    role_gen: u64,
    role: Role,
    disk: Disk,
    /// What this incarnation delivered (applied), in order.
    delivered: Vec<(Zxid, Bytes)>,
    timer_at: Option<u64>,
    /// The partition group; links exist only within one.
    group: u32,
}

impl Node {
    fn up(&self) -> bool {
        !matches!(self.role, Role::Down)
    }
}

#[derive(Debug, Clone)]
enum Msg {
    Packet(Bytes),
    SnapBody(Vec<Txn>),
}

struct Link {
    learner: Sid,
    leader: Sid,
    learner_inc: u64,
    leader_inc: u64,
    open: bool,
    /// FIFO per direction: the time of the last delivery scheduled.
    last_to_leader_ms: u64,
    last_to_learner_ms: u64,
}

#[derive(Debug, Clone)]
enum Event {
    Deliver {
        link: u64,
        to_leader: bool,
        msg: Msg,
    },
    LinkDown {
        link: u64,
        to_leader: bool,
    },
    Persisted {
        sid: Sid,
        inc: u64,
        gen: u64,
        count: usize,
    },
    Timer {
        sid: Sid,
        inc: u64,
        role_gen: u64,
        at: u64,
    },
    Connect {
        sid: Sid,
        inc: u64,
        role_gen: u64,
    },
    Election,
    ClientWrite,
    Crash,
    Restart {
        sid: Sid,
    },
    Partition,
    Heal,
    StartWrites,
    StopWrites,
    KillLink,
}

struct Sim {
    rng: Rng,
    bugs: Bugs,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    payloads: Vec<Option<Event>>,
    nodes: BTreeMap<Sid, Node>,
    quorum: QuorumMaj,
    links: BTreeMap<u64, Link>,
    next_link: u64,
    next_write: u64,
    events: u64,
    log: Vec<String>,
    trace: bool,
    failure: Option<String>,
    // What the checkers know.
    /// Every zxid a leader proposed, with its data (Integrity).
    proposed: BTreeMap<Zxid, BTreeSet<Bytes>>,
    /// The longest delivered sequence so far (Agreement).
    global: Vec<(Zxid, Bytes)>,
    /// Epoch → the leader established in it (Leadership1).
    established: BTreeMap<i64, Sid>,
    /// Client writes a leader acknowledged (applied), by data.
    acked: BTreeMap<Bytes, Zxid>,
    /// Client writes, by data, to the leader that proposed them.
    client_writes: BTreeMap<Bytes, Sid>,
    faults_on: bool,
    writes_on: bool,
    /// Sync packets learners received: DIFF, TRUNC, SNAP (coverage).
    syncs: [u64; 3],
}

impl Sim {
    /// `voters` voters, sids 1..=voters, and with `observer` one observer after them.
    fn new(seed: u64, voters: usize, observer: bool, bugs: Bugs) -> Sim {
        let all = voters as Sid + Sid::from(observer);
        let servers: Vec<QuorumServer> = (1..=all)
            .map(|id| QuorumServer {
                id,
                host: format!("10.0.0.{id}"),
                quorum_port: 2888,
                election_port: 3888,
                learner_type: if id <= voters as Sid {
                    LearnerType::Participant
                } else {
                    LearnerType::Observer
                },
                client: None,
            })
            .collect();
        let quorum = match QuorumMaj::new(servers, 0) {
            Ok(q) => q,
            Err(e) => panic!("config: {e}"),
        };
        let nodes = (1..=all)
            .map(|sid| {
                (
                    sid,
                    Node {
                        sid,
                        inc: 0,
                        role_gen: 0,
                        role: Role::Looking,
                        disk: Disk::default(),
                        delivered: Vec::new(),
                        timer_at: None,
                        group: 0,
                    },
                )
            })
            .collect();
        let mut sim = Sim {
            rng: Rng(seed),
            bugs,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            payloads: Vec::new(),
            nodes,
            quorum,
            links: BTreeMap::new(),
            next_link: 1,
            next_write: 0,
            events: 0,
            log: Vec::new(),
            trace: std::env::var("SYNC_SIM_TRACE").is_ok(),
            failure: None,
            proposed: BTreeMap::new(),
            global: Vec::new(),
            established: BTreeMap::new(),
            acked: BTreeMap::new(),
            client_writes: BTreeMap::new(),
            faults_on: true,
            writes_on: true,
            syncs: [0; 3],
        };
        let first = sim.rng.range(0, 50);
        sim.at(first, Event::Election);
        let w = sim.rng.range(100, 200);
        sim.at(w, Event::ClientWrite);
        for ev in [Event::Crash, Event::Partition, Event::KillLink] {
            let t = sim.rng.range(200, 1500);
            sim.at(t, ev);
        }
        sim.at(CHAOS_MS, Event::Heal);
        sim
    }

    fn at(&mut self, time: u64, ev: Event) {
        self.seq += 1;
        self.payloads.push(Some(ev));
        self.queue
            .push(Reverse((time, self.seq, self.payloads.len() - 1)));
    }

    fn note(&mut self, s: String) {
        self.log.push(format!("{:>6} {s}", self.now));
    }

    fn fail(&mut self, invariant: &str, what: String) {
        if self.failure.is_none() {
            let msg = format!("{invariant} violated: {what}");
            self.note(msg.clone());
            self.failure = Some(msg);
        }
    }

    fn run(&mut self) {
        let end = CHAOS_MS + SETTLE_MS;
        while let Some(Reverse((time, _, idx))) = self.queue.pop() {
            if time > end || self.failure.is_some() {
                break;
            }
            self.events += 1;
            if self.events > MAX_EVENTS {
                self.fail("Liveness", "event budget exhausted (livelock)".into());
                break;
            }
            self.now = time;
            if let Some(ev) = self.payloads[idx].take() {
                self.handle(ev);
            }
        }
        if self.failure.is_none() {
            self.check_converged();
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Deliver {
                link,
                to_leader,
                msg,
            } => self.deliver(link, to_leader, msg),
            Event::LinkDown { link, to_leader } => self.link_down(link, to_leader),
            Event::Persisted {
                sid,
                inc,
                gen,
                count,
            } => self.persisted(sid, inc, gen, count),
            Event::Timer {
                sid,
                inc,
                role_gen,
                at,
            } => {
                let Some(n) = self.nodes.get(&sid) else {
                    return;
                };
                if n.inc == inc && n.role_gen == role_gen && n.timer_at == Some(at) {
                    self.tick(sid);
                }
            }
            Event::Connect { sid, inc, role_gen } => self.connect(sid, inc, role_gen),
            Event::Election => {
                self.election();
                let next = self.now + self.rng.range(ELECTION_EVERY_MS / 2, ELECTION_EVERY_MS);
                self.at(next, Event::Election);
            }
            Event::ClientWrite => {
                if self.writes_on {
                    self.client_write();
                }
                let next = self.now + self.rng.range(5, 40);
                self.at(next, Event::ClientWrite);
            }
            Event::Crash => {
                if self.faults_on {
                    let sid = self.random_sid();
                    if self.nodes[&sid].up() {
                        self.crash(sid);
                        let back = self.now + self.rng.range(50, 1500);
                        self.at(back, Event::Restart { sid });
                    }
                    let next = self.now + self.rng.range(200, 1200);
                    self.at(next, Event::Crash);
                }
            }
            Event::Restart { sid } => self.restart(sid),
            Event::Partition => {
                if self.faults_on {
                    self.partition();
                    let next = self.now + self.rng.range(300, 2500);
                    self.at(next, Event::Partition);
                }
            }
            Event::KillLink => {
                if self.faults_on {
                    let open: Vec<u64> = self
                        .links
                        .iter()
                        .filter(|(_, l)| l.open)
                        .map(|(&id, _)| id)
                        .collect();
                    if !open.is_empty() {
                        let id = open[self.rng.below(open.len() as u64) as usize];
                        self.note(format!("kill link {id}"));
                        self.close_link(id);
                    }
                    let next = self.now + self.rng.range(200, 1500);
                    self.at(next, Event::KillLink);
                }
            }
            Event::Heal => self.heal(),
            Event::StopWrites => self.writes_on = false,
            Event::StartWrites => self.writes_on = true,
        }
    }

    fn random_sid(&mut self) -> Sid {
        let n = self.nodes.len() as u64;
        self.rng.below(n) as Sid + 1
    }

    // ---- faults ----

    fn crash(&mut self, sid: Sid) {
        self.note(format!("crash {sid}"));
        let n = self.nodes.get_mut(&sid).expect("node");
        n.disk.log.truncate(n.disk.durable);
        n.disk.gen += 1;
        n.disk.last_completion_ms = 0;
        n.role = Role::Down;
        n.role_gen += 1;
        n.timer_at = None;
        self.close_links_of(sid);
    }

    fn restart(&mut self, sid: Sid) {
        let n = self.nodes.get_mut(&sid).expect("node");
        if n.up() {
            return;
        }
        n.inc += 1;
        n.role_gen += 1;
        n.role = Role::Looking;
        // The state machine is rebuilt from what the protocol delivers again.
        n.delivered.clear();
        self.note(format!("restart {sid}"));
    }

    fn partition(&mut self) {
        let groups = self.rng.range(1, 3) as u32;
        let sids: Vec<Sid> = self.nodes.keys().copied().collect();
        for sid in sids {
            let g = self.rng.below(u64::from(groups)) as u32;
            self.nodes.get_mut(&sid).expect("node").group = g;
        }
        let groups: Vec<(Sid, u32)> = self.nodes.values().map(|n| (n.sid, n.group)).collect();
        self.note(format!("partition {groups:?}"));
        let cut: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| l.open && self.nodes[&l.learner].group != self.nodes[&l.leader].group)
            .map(|(&id, _)| id)
            .collect();
        for id in cut {
            self.close_link(id);
        }
    }

    fn heal(&mut self) {
        self.note("heal".into());
        self.faults_on = false;
        for n in self.nodes.values_mut() {
            n.group = 0;
        }
        let down: Vec<Sid> = self
            .nodes
            .values()
            .filter(|n| !n.up())
            .map(|n| n.sid)
            .collect();
        for sid in down {
            self.restart(sid);
        }
        self.at(self.now + WRITES_AFTER_HEAL_MS, Event::StopWrites);
    }

    // ---- links ----

    fn open_link(&mut self, learner: Sid, leader: Sid) -> u64 {
        let id = self.next_link;
        self.next_link += 1;
        self.links.insert(
            id,
            Link {
                learner,
                leader,
                learner_inc: self.nodes[&learner].inc,
                leader_inc: self.nodes[&leader].inc,
                open: true,
                last_to_leader_ms: 0,
                last_to_learner_ms: 0,
            },
        );
        id
    }

    fn send(&mut self, link: u64, to_leader: bool, msg: Msg) {
        let delay = self.rng.range(1, 30);
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.open {
            return;
        }
        let last = if to_leader {
            &mut l.last_to_leader_ms
        } else {
            &mut l.last_to_learner_ms
        };
        let at = (self.now + delay).max(*last);
        *last = at;
        self.at(
            at,
            Event::Deliver {
                link,
                to_leader,
                msg,
            },
        );
    }

    /// Closes `link`; each end that is still up learns it after a short delay.
    fn close_link(&mut self, link: u64) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.open {
            return;
        }
        l.open = false;
        for to_leader in [true, false] {
            let d = self.rng.range(1, 20);
            self.at(self.now + d, Event::LinkDown { link, to_leader });
        }
    }

    fn close_links_of(&mut self, sid: Sid) {
        let mine: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| l.open && (l.learner == sid || l.leader == sid))
            .map(|(&id, _)| id)
            .collect();
        for id in mine {
            self.close_link(id);
        }
    }

    /// The end of `link` toward `to_leader`, if that incarnation is still there.
    fn end_of(&self, link: u64, to_leader: bool) -> Option<Sid> {
        let l = self.links.get(&link)?;
        let (sid, inc) = if to_leader {
            (l.leader, l.leader_inc)
        } else {
            (l.learner, l.learner_inc)
        };
        (self.nodes[&sid].inc == inc && self.nodes[&sid].up()).then_some(sid)
    }

    fn link_down(&mut self, link: u64, to_leader: bool) {
        let Some(sid) = self.end_of(link, to_leader) else {
            return;
        };
        if to_leader {
            if matches!(self.nodes[&sid].role, Role::Leading(_)) {
                self.step_leader(sid, leader::Input::Disconnected { conn: link });
            }
        } else if let Role::Following { link: Some(l), .. } = self.nodes[&sid].role {
            if l == link {
                self.step_learner(sid, learner::Input::Disconnected);
            }
        }
    }

    fn deliver(&mut self, link: u64, to_leader: bool, msg: Msg) {
        if !self.links.get(&link).is_some_and(|l| l.open) {
            return;
        }
        let Some(sid) = self.end_of(link, to_leader) else {
            return;
        };
        let packet = match msg {
            Msg::Packet(bytes) => match QuorumPacket::decode(&bytes, DEFAULT_MAX_BUFFER_LEN) {
                Ok(Decoded::Complete { value, consumed }) if consumed == bytes.len() => value,
                other => {
                    self.fail("Wire", format!("undecodable packet {other:?}"));
                    return;
                }
            },
            Msg::SnapBody(body) => {
                // The driver reads the body right after its SNAP packet, then hands the
                // packet to the machine, whose LoadSnapshot takes the body.
                let n = self.nodes.get_mut(&sid).expect("node");
                if let Role::Following { snap, body: b, .. } = &mut n.role {
                    if let Some(p) = snap.take() {
                        *b = Some(body);
                        self.step_learner(sid, learner::Input::Received(p));
                    }
                }
                return;
            }
        };
        if self.trace {
            self.note(format!(
                "{} {sid} <- {:?} {:#x}",
                if to_leader { "leader" } else { "learner" },
                packet.kind,
                packet.zxid
            ));
        }
        match packet.kind {
            PacketType::Diff => self.syncs[0] += 1,
            PacketType::Trunc => self.syncs[1] += 1,
            PacketType::Snap => self.syncs[2] += 1,
            _ => {}
        }
        if to_leader {
            if matches!(self.nodes[&sid].role, Role::Leading(_)) {
                self.step_leader(sid, leader::Input::Received { conn: link, packet });
            }
        } else {
            let n = self.nodes.get_mut(&sid).expect("node");
            if let Role::Following {
                link: Some(l),
                snap,
                ..
            } = &mut n.role
            {
                if *l != link {
                    return;
                }
                if packet.kind == PacketType::Snap {
                    *snap = Some(packet);
                    return;
                }
                self.step_learner(sid, learner::Input::Received(packet));
            }
        }
    }

    // ---- election (the FLE stand-in) ----

    fn election(&mut self) {
        // Looking servers that can reach a leader follow it.
        let looking: Vec<Sid> = self
            .nodes
            .values()
            .filter(|n| matches!(n.role, Role::Looking))
            .map(|n| n.sid)
            .collect();
        let mut still_looking = Vec::new();
        for sid in looking {
            let g = self.nodes[&sid].group;
            let leader = self
                .nodes
                .values()
                .find(|n| n.group == g && matches!(&n.role, Role::Leading(l) if !l.is_done()));
            match leader.map(|n| n.sid) {
                Some(l) => self.follow(sid, l),
                None => still_looking.push(sid),
            }
        }
        // A quorum of looking servers in one group elects its best.
        let mut by_group: BTreeMap<u32, Vec<Sid>> = BTreeMap::new();
        for sid in still_looking {
            // Observers only join a leader.
            if !self.quorum.is_voter(sid) {
                continue;
            }
            by_group
                .entry(self.nodes[&sid].group)
                .or_default()
                .push(sid);
        }
        for (_, sids) in by_group {
            if !self.quorum.contains_quorum(&sids) {
                continue;
            }
            let key = |n: &Node| (n.disk.current_epoch, n.disk.last_zxid(), n.sid);
            let pick = if self.bugs.elect_worst {
                sids.iter().min_by_key(|s| key(&self.nodes[s]))
            } else {
                sids.iter().max_by_key(|s| key(&self.nodes[s]))
            };
            let Some(&leader) = pick else { continue };
            self.lead(leader);
            for &s in &sids {
                if s != leader {
                    self.follow(s, leader);
                }
            }
        }
    }

    fn zab(&self) -> ZabConfig {
        ZabConfig {
            canary: self.bugs.canary,
            ..ZAB
        }
    }

    fn lead(&mut self, sid: Sid) {
        let zab = self.zab();
        let n = self.nodes.get_mut(&sid).expect("node");
        n.disk.flush();
        let tail_from = n.disk.log.len().saturating_sub(ZAB.commit_log_count);
        let machine = Leader::new(
            sid,
            self.quorum.clone(),
            zab,
            n.disk.accepted_epoch,
            n.disk.current_epoch,
            n.disk.last_zxid(),
            n.disk.log[tail_from..].iter().cloned(),
        );
        n.role = Role::Leading(Box::new(machine));
        n.role_gen += 1;
        n.timer_at = None;
        self.note(format!("{sid} leads"));
        self.step_leader(sid, leader::Input::Start);
    }

    fn follow(&mut self, sid: Sid, leader: Sid) {
        let zab = self.zab();
        let kind = if self.quorum.is_voter(sid) {
            LearnerKind::Follower
        } else {
            LearnerKind::Observer
        };
        let n = self.nodes.get_mut(&sid).expect("node");
        n.disk.flush();
        let machine = Learner::new(
            sid,
            kind,
            zab,
            0,
            n.disk.accepted_epoch,
            n.disk.current_epoch,
            n.disk.last_zxid(),
        );
        n.role = Role::Following {
            leader,
            machine: Box::new(machine),
            link: None,
            snap: None,
            body: None,
        };
        n.role_gen += 1;
        n.timer_at = None;
        let (inc, role_gen) = (n.inc, n.role_gen);
        let d = self.rng.range(1, 20);
        self.at(self.now + d, Event::Connect { sid, inc, role_gen });
    }

    fn connect(&mut self, sid: Sid, inc: u64, role_gen: u64) {
        let n = &self.nodes[&sid];
        if n.inc != inc || n.role_gen != role_gen {
            return;
        }
        let Role::Following { leader, .. } = n.role else {
            return;
        };
        let l = &self.nodes[&leader];
        let reachable = l.group == n.group && matches!(&l.role, Role::Leading(m) if !m.is_done());
        if !reachable {
            self.step_learner(sid, learner::Input::Disconnected);
            return;
        }
        let link = self.open_link(sid, leader);
        if let Role::Following { link: l, .. } = &mut self.nodes.get_mut(&sid).expect("node").role {
            *l = Some(link);
        }
        self.step_leader(leader, leader::Input::Accepted { conn: link });
        self.step_learner(sid, learner::Input::Connected);
    }

    fn client_write(&mut self) {
        let leaders: Vec<Sid> = self
            .nodes
            .values()
            .filter(|n| matches!(&n.role, Role::Leading(l) if l.is_broadcasting()))
            .map(|n| n.sid)
            .collect();
        for sid in leaders {
            self.next_write += 1;
            let data = Bytes::from(format!("w{}", self.next_write));
            self.client_writes.insert(data.clone(), sid);
            self.step_leader(sid, leader::Input::Propose { data });
        }
    }

    // ---- stepping machines and executing their actions ----

    fn tick(&mut self, sid: Sid) {
        match self.nodes[&sid].role {
            Role::Leading(_) => self.step_leader(sid, leader::Input::Tick),
            Role::Following { .. } => self.step_learner(sid, learner::Input::Tick),
            _ => {}
        }
    }

    fn step_leader(&mut self, sid: Sid, input: leader::Input) {
        let mut out = Vec::new();
        if let Role::Leading(m) = &mut self.nodes.get_mut(&sid).expect("node").role {
            m.step(input, self.now, &mut out);
        }
        for a in out {
            if !matches!(self.nodes[&sid].role, Role::Leading(_)) {
                break;
            }
            self.leader_action(sid, a);
        }
    }

    fn step_learner(&mut self, sid: Sid, input: learner::Input) {
        let mut out = Vec::new();
        if let Role::Following { machine, .. } = &mut self.nodes.get_mut(&sid).expect("node").role {
            machine.step(input, self.now, &mut out);
        }
        for a in out {
            if !matches!(self.nodes[&sid].role, Role::Following { .. }) {
                break;
            }
            self.learner_action(sid, a);
        }
    }

    fn leader_action(&mut self, sid: Sid, a: leader::Action) {
        match a {
            leader::Action::Send { conn, packet } => self.send(conn, false, encode(&packet)),
            leader::Action::SendSnapshot { conn, zxid } => {
                let body: Vec<Txn> = self.nodes[&sid]
                    .disk
                    .log
                    .iter()
                    .take_while(|t| t.zxid <= zxid)
                    .cloned()
                    .collect();
                self.send(conn, false, Msg::SnapBody(body));
            }
            leader::Action::Close { conn, reason } => {
                self.note(format!("leader {sid} closes {conn}: {reason}"));
                self.close_link(conn);
            }
            leader::Action::WriteAcceptedEpoch { epoch } => {
                self.nodes.get_mut(&sid).expect("node").disk.accepted_epoch = epoch;
            }
            leader::Action::WriteCurrentEpoch { epoch } => {
                self.nodes.get_mut(&sid).expect("node").disk.current_epoch = epoch;
            }
            leader::Action::Persist(txn) => {
                self.proposed
                    .entry(txn.zxid)
                    .or_default()
                    .insert(txn.data.clone());
                self.persist(sid, txn);
            }
            leader::Action::Apply { through } => self.apply(sid, through, true),
            leader::Action::SetTimer { at_ms } => self.set_timer(sid, at_ms),
            leader::Action::Established { epoch } => self.established(sid, epoch),
            leader::Action::GoLooking { reason } => {
                self.note(format!("leader {sid} goes looking: {reason}"));
                self.go_looking(sid);
            }
        }
    }

    fn learner_action(&mut self, sid: Sid, a: learner::Action) {
        match a {
            learner::Action::Send(packet) => {
                if let Role::Following { link: Some(l), .. } = self.nodes[&sid].role {
                    self.send(l, true, encode(&packet));
                }
            }
            learner::Action::WriteAcceptedEpoch { epoch } => {
                self.nodes.get_mut(&sid).expect("node").disk.accepted_epoch = epoch;
            }
            learner::Action::WriteCurrentEpoch { epoch } => {
                self.nodes.get_mut(&sid).expect("node").disk.current_epoch = epoch;
            }
            learner::Action::Truncate { zxid } => {
                let n = &self.nodes[&sid];
                if let Some(&(last, _)) = n.delivered.last() {
                    if last > zxid {
                        let what =
                            format!("{sid} truncated to {zxid:#x} below delivered {last:#x}");
                        self.fail("CommittedLogDurability", what);
                    }
                }
                let n = self.nodes.get_mut(&sid).expect("node");
                n.disk.log.retain(|t| t.zxid <= zxid);
                n.disk.durable = n.disk.durable.min(n.disk.log.len());
                n.disk.gen += 1;
                n.disk.last_completion_ms = 0;
                self.note(format!("{sid} truncates to {zxid:#x}"));
            }
            learner::Action::LoadSnapshot { zxid } => {
                let n = self.nodes.get_mut(&sid).expect("node");
                let body = match &mut n.role {
                    Role::Following { body, .. } => body.take(),
                    _ => None,
                };
                let Some(body) = body else {
                    self.fail("Wire", format!("{sid}: LoadSnapshot without a body"));
                    return;
                };
                let ends_right = body.last().map_or(0, |t| t.zxid) == zxid;
                let prefix_ok = n.delivered.len() <= body.len()
                    && n.delivered
                        .iter()
                        .zip(&body)
                        .all(|((z, d), t)| *z == t.zxid && *d == t.data);
                n.disk.log = body;
                n.disk.flush();
                n.disk.last_completion_ms = 0;
                if !ends_right {
                    self.fail(
                        "Wire",
                        format!("{sid}: snapshot body does not end at {zxid:#x}"),
                    );
                }
                if !prefix_ok {
                    self.fail(
                        "CommittedLogDurability",
                        format!("{sid}: a snapshot drops delivered txns"),
                    );
                }
                self.note(format!("{sid} loads snapshot at {zxid:#x}"));
            }
            learner::Action::Persist(txn) => self.persist(sid, txn),
            learner::Action::Apply { through } => self.apply(sid, through, false),
            learner::Action::SetTimer { at_ms } => self.set_timer(sid, at_ms),
            learner::Action::Synced { epoch } => {
                self.note(format!("{sid} synced in epoch {epoch}"));
            }
            learner::Action::GoLooking { reason } => {
                self.note(format!("learner {sid} goes looking: {reason}"));
                self.go_looking(sid);
            }
        }
    }

    fn go_looking(&mut self, sid: Sid) {
        let n = self.nodes.get_mut(&sid).expect("node");
        n.role = Role::Looking;
        n.role_gen += 1;
        n.timer_at = None;
        n.disk.flush();
        self.close_links_of(sid);
    }

    fn set_timer(&mut self, sid: Sid, at: u64) {
        let n = self.nodes.get_mut(&sid).expect("node");
        n.timer_at = Some(at);
        let (inc, role_gen) = (n.inc, n.role_gen);
        self.at(
            at,
            Event::Timer {
                sid,
                inc,
                role_gen,
                at,
            },
        );
    }

    fn persist(&mut self, sid: Sid, txn: Txn) {
        let d = self.rng.range(1, 20);
        let n = self.nodes.get_mut(&sid).expect("node");
        let zxid = txn.zxid;
        n.disk.log.push(txn);
        let count = n.disk.log.len();
        let at = (self.now + d).max(n.disk.last_completion_ms);
        n.disk.last_completion_ms = at;
        let (inc, gen) = (n.inc, n.disk.gen);
        self.at(
            at,
            Event::Persisted {
                sid,
                inc,
                gen,
                count,
            },
        );
        if self.bugs.ack_before_persist {
            // The lie: report it durable now.
            match self.nodes[&sid].role {
                Role::Leading(_) => {
                    self.step_leader(sid, leader::Input::Persisted { through: zxid })
                }
                Role::Following { .. } => {
                    self.step_learner(sid, learner::Input::Persisted { through: zxid })
                }
                _ => {}
            }
        }
    }

    fn persisted(&mut self, sid: Sid, inc: u64, gen: u64, count: usize) {
        let n = self.nodes.get_mut(&sid).expect("node");
        if n.inc != inc || n.disk.gen != gen || !n.up() || count > n.disk.log.len() {
            return;
        }
        n.disk.durable = n.disk.durable.max(count);
        let through = n.disk.log[count - 1].zxid;
        if self.bugs.ack_before_persist {
            return;
        }
        match self.nodes[&sid].role {
            Role::Leading(_) => self.step_leader(sid, leader::Input::Persisted { through }),
            Role::Following { .. } => self.step_learner(sid, learner::Input::Persisted { through }),
            _ => {}
        }
    }

    // ---- checkers ----

    /// Delivers the logged txns up to `through` on `sid` and checks each.
    fn apply(&mut self, sid: Sid, through: Zxid, is_leader: bool) {
        let n = &self.nodes[&sid];
        let last = n.delivered.last().map_or(-1, |d| d.0);
        let new: Vec<(usize, Txn)> = n
            .disk
            .log
            .iter()
            .enumerate()
            .filter(|(_, t)| t.zxid > last && t.zxid <= through)
            .map(|(i, t)| (i, t.clone()))
            .collect();
        let durable = n.disk.durable;
        for (i, t) in new {
            // ApplyOnlyDurable: never apply what a crash could take back.
            if i >= durable && !self.bugs.ack_before_persist {
                self.fail(
                    "ApplyOnlyDurable",
                    format!("{sid} applies {:#x}, not durable", t.zxid),
                );
            }
            self.deliver_txn(sid, t, is_leader);
        }
    }

    fn deliver_txn(&mut self, sid: Sid, t: Txn, is_leader: bool) {
        let z = t.zxid;
        // Integrity: delivered only what some leader proposed.
        if !self.proposed.get(&z).is_some_and(|s| s.contains(&t.data)) {
            self.fail(
                "Integrity",
                format!("{sid} delivers {z:#x} {:?}, never proposed", t.data),
            );
        }
        let prev = self.nodes[&sid].delivered.last().cloned();
        let i = self.nodes[&sid].delivered.len();
        // TotalOrder: strictly increasing zxids on each server.
        if let Some((p, _)) = &prev {
            if *p >= z {
                self.fail("TotalOrder", format!("{sid} delivers {z:#x} after {p:#x}"));
            }
        }
        // LocalPrimaryOrder: a primary's txns in its order, none skipped: (e, n > 1)
        // right after (e, n - 1); (e, 1) after an older epoch.
        let ok = match &prev {
            _ if counter_of(z) == 1 => prev
                .as_ref()
                .is_none_or(|(p, _)| epoch_of(*p) < epoch_of(z)),
            Some((p, _)) => *p == z - 1,
            None => false,
        };
        if !ok {
            self.fail(
                "LocalPrimaryOrder",
                format!("{sid} delivers {z:#x} after {:?}", prev.map(|p| p.0)),
            );
        }
        // Agreement (prefix consistency): the i-th delivery is the same everywhere.
        match self.global.get(i) {
            Some(g) if *g != (z, t.data.clone()) => {
                let what = format!(
                    "{sid} delivers {z:#x} {:?} at {i}, others {:#x} {:?}",
                    t.data, g.0, g.1
                );
                self.fail("Agreement", what);
            }
            Some(_) => {}
            None => self.global.push((z, t.data.clone())),
        }
        if is_leader && self.client_writes.get(&t.data) == Some(&sid) {
            self.acked.insert(t.data.clone(), z);
        }
        self.nodes
            .get_mut(&sid)
            .expect("node")
            .delivered
            .push((z, t.data));
    }

    fn established(&mut self, sid: Sid, epoch: i64) {
        self.note(format!("{sid} established in epoch {epoch}"));
        if let Some(other) = self.established.insert(epoch, sid) {
            if other != sid {
                self.fail(
                    "Leadership1",
                    format!("{other} and {sid} both lead epoch {epoch}"),
                );
            }
        }
        let log = self.nodes[&sid].disk.log.clone();
        // LeaderHasAllCommitted (PrimaryIntegrity): every txn of an earlier epoch that
        // was delivered anywhere is in the new leader's history. A later epoch's txns
        // need not be: a leader of epoch 3 may still establish (and soon fail) after
        // epoch 4 committed, with NEWLEADER acks from servers that moved on since.
        let missing = self
            .global
            .iter()
            .take_while(|g| epoch_of(g.0) < epoch)
            .zip(
                log.iter()
                    .map(|t| (t.zxid, &t.data))
                    .chain(std::iter::repeat((-1, &Bytes::new()))),
            )
            .find(|(g, (z, d))| g.0 != *z || g.1 != **d)
            .map(|(g, _)| g.0);
        if let Some(z) = missing {
            self.fail(
                "LeaderHasAllCommitted",
                format!("leader {sid} of epoch {epoch} lacks committed {z:#x}"),
            );
        }
        // NoAckedWriteLost: every write of an earlier epoch a client saw acknowledged
        // is in the history.
        let lost = self
            .acked
            .iter()
            .filter(|(_, z)| epoch_of(**z) < epoch)
            .find(|(d, z)| !log.iter().any(|t| t.zxid == **z && t.data == **d))
            .map(|(d, z)| (d.clone(), *z));
        if let Some((d, z)) = lost {
            self.fail(
                "NoAckedWriteLost",
                format!("leader {sid} of epoch {epoch} lacks acknowledged {d:?} at {z:#x}"),
            );
        }
    }

    /// After healing: one leader in broadcast with a quorum following it in broadcast,
    /// all of them with the same delivered history, holding every acknowledged write.
    fn check_converged(&mut self) {
        let leaders: Vec<Sid> = self
            .nodes
            .values()
            .filter(|n| matches!(&n.role, Role::Leading(l) if l.is_broadcasting()))
            .map(|n| n.sid)
            .collect();
        let [leader] = leaders[..] else {
            return self.fail(
                "Liveness",
                format!("leaders in broadcast after healing: {leaders:?}"),
            );
        };
        let mut synced = vec![leader];
        for n in self.nodes.values() {
            if let Role::Following {
                leader: l, machine, ..
            } = &n.role
            {
                if *l == leader && machine.is_broadcasting() {
                    synced.push(n.sid);
                }
            }
        }
        if !self.quorum.contains_quorum(&synced) {
            return self.fail("Liveness", format!("only {synced:?} synced with {leader}"));
        }
        let reference = self.nodes[&leader].delivered.clone();
        for sid in &synced {
            let d = &self.nodes[sid].delivered;
            if d.last() != reference.last() {
                let what = format!(
                    "{sid} delivered up to {:?}, leader {leader} up to {:?}",
                    d.last().map(|x| x.0),
                    reference.last().map(|x| x.0)
                );
                return self.fail("Liveness", what);
            }
        }
        let have: BTreeSet<&Bytes> = reference.iter().map(|(_, d)| d).collect();
        if let Some((d, z)) = self.acked.iter().find(|(d, _)| !have.contains(d)) {
            let what = format!("acknowledged {d:?} at {z:#x} missing after healing");
            self.fail("NoAckedWriteLost", what);
        }
    }
}

fn encode(p: &QuorumPacket) -> Msg {
    let mut b = BytesMut::new();
    p.encode(&mut b);
    Msg::Packet(b.freeze())
}

struct Totals {
    runs: u64,
    events: u64,
    sim_ms: u64,
    delivered: u64,
    acked: u64,
    epochs: u64,
    syncs: [u64; 3],
}

fn run_seeds(voters: usize, observer: bool, base: u64, default_seeds: u64) {
    let seeds = seeds("SYNC_SIM", base, default_seeds);
    let single = seeds.single;
    let started = Instant::now();
    let mut t = Totals {
        runs: 0,
        events: 0,
        sim_ms: 0,
        delivered: 0,
        acked: 0,
        epochs: 0,
        syncs: [0; 3],
    };
    for seed in seeds.list {
        let mut sim = Sim::new(seed, voters, observer, Bugs::default());
        sim.run();
        if let Some(why) = &sim.failure {
            let tail = if single {
                0
            } else {
                sim.log.len().saturating_sub(120)
            };
            panic!(
                "ZAB sync simulation failed: {why}\nseed {seed} ({voters} voters); replay with \
                 SYNC_SIM_SEED={seed} cargo test --release --test zab_sync_sim -- --nocapture\n\
                 last events:\n{}",
                sim.log[tail..].join("\n")
            );
        }
        if single {
            println!("{}", sim.log.join("\n"));
        }
        t.runs += 1;
        t.events += sim.events;
        t.sim_ms += sim.now;
        t.delivered += sim.global.len() as u64;
        t.acked += sim.acked.len() as u64;
        t.epochs += sim.established.len() as u64;
        for (a, b) in t.syncs.iter_mut().zip(sim.syncs) {
            *a += b;
        }
    }
    println!(
        "{voters} voters{}: {} seeds, {} events, {} simulated s, {} txns committed, {} writes \
         acknowledged, {} epochs established, syncs DIFF/TRUNC/SNAP {:?}, {:.2} s wall",
        if observer { " + observer" } else { "" },
        t.runs,
        t.events,
        t.sim_ms / 1000,
        t.delivered,
        t.acked,
        t.epochs,
        t.syncs,
        started.elapsed().as_secs_f64()
    );
}

/// The checkers that catch a lost committed or acknowledged write.
const LOSS: &[&str] = &[
    "NoAckedWriteLost",
    "LeaderHasAllCommitted",
    "Agreement",
    "CommittedLogDurability",
];

/// Runs seeds with `bugs` until one fails naming `expected`; panics if none does within
/// `limit` seeds (the checkers would have missed the bug).
fn expect_caught(voters: usize, base: u64, limit: u64, bugs: Bugs, expected: &[&str]) {
    for seed in base..base + limit {
        let mut sim = Sim::new(seed, voters, false, bugs);
        sim.run();
        if let Some(why) = sim.failure {
            if expected.iter().any(|e| why.starts_with(e)) {
                println!(
                    "{bugs:?} caught at seed {seed} ({} tried): {why}",
                    seed - base + 1
                );
                return;
            }
        }
    }
    panic!("{bugs:?} went unnoticed in {limit} seeds (expected one of {expected:?})");
}

#[test]
fn three_voters_and_an_observer() {
    run_seeds(3, true, 0x3000_0000, 3_000);
}

#[test]
fn five_voters() {
    run_seeds(5, false, 0x5000_0000, 2_000);
}

#[test]
fn canary_acks_before_persist_lose_committed_writes() {
    let bugs = Bugs {
        ack_before_persist: true,
        ..Bugs::default()
    };
    // Since late learners get outstanding proposals after NEWLEADER (not before), a
    // learner that ACKs before persisting shows up later in the schedule: seed 372
    // of this range, where it was 53.
    expect_caught(3, 0xca_0000, 1_000, bugs, LOSS);
}

/// A log `(1,1)..=(1,n)` with epochs `(accepted, current)`, all durable.
fn disk(n: i64, accepted_epoch: i64, current_epoch: i64) -> Disk {
    let log: Vec<Txn> = (1..=n)
        .map(|c| Txn {
            zxid: ringkeeper::zab::make_zxid(1, c),
            data: Bytes::from(format!("old{c}")),
        })
        .collect();
    Disk {
        durable: log.len(),
        log,
        accepted_epoch,
        current_epoch,
        ..Disk::default()
    }
}

#[test]
fn scripted_every_kind_of_sync() {
    // Five voters, no faults. 3 and 5 hold (1,1)..(1,5) and 5 leads epoch 2; 3 gets an
    // empty DIFF, 2 holding (1,1)..(1,3) a DIFF with pairs, 4 holding nothing a SNAP
    // (its zxid 0 lies below the window's first txn). Server 1,
    // an old follower holding an uncommitted (1,6), starts late and joins the
    // established leader before any write of epoch 2: TRUNC to (1,5), without the
    // freshness check that would refuse it during discovery.
    let disks = [
        (1, disk(6, 1, 1)),
        (2, disk(3, 1, 1)),
        (3, disk(5, 1, 1)),
        (4, Disk::default()),
        (5, disk(5, 1, 1)),
    ];
    let mut sim = Sim::new(0x5c_0000, 5, false, Bugs::default());
    sim.faults_on = false;
    sim.writes_on = false;
    for (sid, d) in disks {
        sim.nodes.get_mut(&sid).expect("node").disk = d;
    }
    sim.nodes.get_mut(&1).expect("node").role = Role::Down;
    for t in 1..=6 {
        let z = ringkeeper::zab::make_zxid(1, t);
        sim.proposed
            .entry(z)
            .or_default()
            .insert(Bytes::from(format!("old{t}")));
    }
    sim.at(400, Event::Restart { sid: 1 });
    sim.at(1_000, Event::StartWrites);
    sim.run();
    assert_eq!(sim.failure, None, "{}", sim.log.join("\n"));
    let [diffs, truncs, snaps] = sim.syncs;
    assert!(
        diffs >= 2 && truncs >= 1 && snaps >= 1,
        "syncs {:?}",
        sim.syncs
    );
    assert!(sim
        .log
        .iter()
        .any(|l| l.ends_with(" 5 established in epoch 2")));
    assert!(sim
        .log
        .iter()
        .any(|l| l.contains("1 truncates to 0x100000005")));
    assert!(sim
        .log
        .iter()
        .any(|l| l.contains("4 loads snapshot at 0x100000005")));
    // Everyone ends with the old history, without (1,6), and the new writes.
    for n in sim.nodes.values() {
        assert_eq!(n.delivered.len(), sim.global.len(), "server {}", n.sid);
    }
    assert!(sim.global.len() > 5 && sim.global[4].0 == ringkeeper::zab::make_zxid(1, 5));
    assert!(sim.global[5].0 >> 32 == 2);
}

#[test]
fn worse_leaders_are_refused() {
    // Not a canary: an election that picks the worst of a quorum only costs liveness,
    // because a leader drops learners ahead of it at ACKEPOCH.
    let bugs = Bugs {
        elect_worst: true,
        ..Bugs::default()
    };
    for seed in 0xcb_0000..0xcb_0000 + 200 {
        let mut sim = Sim::new(seed, 5, false, bugs);
        sim.run();
        if let Some(why) = &sim.failure {
            assert!(why.starts_with("Liveness"), "seed {seed}: {why}");
        }
    }
}

#[test]
fn canary_a_learner_acking_newleader_before_persisting_loses_writes() {
    let bugs = Bugs {
        canary: Canary::LearnerAcksNewLeaderBeforePersist,
        ..Bugs::default()
    };
    expect_caught(3, 0xcc_0000, 3_000, bugs, LOSS);
}

#[test]
fn canary_a_leader_syncing_a_learner_ahead_of_it_loses_writes() {
    let bugs = Bugs {
        canary: Canary::LeaderSyncsLearnerAhead,
        elect_worst: true,
        ..Bugs::default()
    };
    expect_caught(5, 0xcd_0000, 300, bugs, LOSS);
}

#[test]
fn canary_a_leader_skipping_the_epoch_ack_quorum_loses_writes() {
    // With the best-of-quorum election alone this bug went unnoticed in 1,000 seeds:
    // the NEWLEADER quorum still keeps one established leader per epoch, and the best
    // leader has no learner ahead of it. Skipping the quorum also skips the freshness
    // check for every ACKEPOCH, which a worse leader then exposes.
    let bugs = Bugs {
        canary: Canary::LeaderSkipsEpochAckQuorum,
        elect_worst: true,
        ..Bugs::default()
    };
    expect_caught(5, 0xce_0000, 300, bugs, LOSS);
}
