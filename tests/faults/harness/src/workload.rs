//! The CAS-register workload: `keys` znodes, each driven by its own `workers_per_key`
//! sessions (ringkeeper's client on one glommio executor, on a thread inside the
//! client namespace), every call recorded as an [`Op`].
//!
//! Ops: read = `sync` then `getData` (`getData` alone with `sync_reads` off); write = `setData` with version −1; CAS =
//! `setData` with the version this worker saw last. Values are unique per run, so a
//! read names the write it saw. A call that fails with anything but a definite answer
//! (connection loss, timeout, expired session) is recorded as info and the worker
//! takes a new process id, because the old call may still be in flight. Calls are not
//! made while the client is disconnected (they would fail without being sent).
//!
//! Beside them, `set_workers` sessions add unique elements to a grow-only set (one
//! create each) and read it (`sync` then `getChildren`); see [`crate::set`].
//! `queue_workers` sessions enqueue and dequeue on a FIFO queue ([`crate::queue`]);
//! `eph_workers` sessions each live a while holding an ephemeral, watched by one
//! reader session ([`crate::ephemeral`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::future;
use rand::{Rng, SeedableRng};
use ringkeeper::client::keeper_state as event;
use ringkeeper::client::{Client, ClientError, Options};
use ringkeeper::proto::{Acl, CreateMode, ErrorCode, OpCode};

use crate::cluster::SESSION_TIMEOUT_MS;
use crate::ephemeral::{self, End, Life};
use crate::history::{Call, Op, Ret};
use crate::net;
use crate::set;
use crate::{lock, queue};

/// Parent of the registers.
pub const ROOT: &str = "/rkf";

/// Parent of the grow-only set's elements.
pub const SET_PATH: &str = "/rkf/set";

/// Parent of the queue's elements.
pub const QUEUE_PATH: &str = "/rkf/queue";

/// Parent of the sessions' ephemerals.
pub const EPH_PATH: &str = "/rkf/eph";

/// Parent of the lock recipe's nodes, and the counter its holders write.
pub const LOCK_PATH: &str = "/rkf/lock";
pub const COUNTER_PATH: &str = "/rkf/counter";

/// How long a lock worker waits in line before giving up its place.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Enqueues at most per run (then the queue sessions only dequeue).
pub const QUEUE_ENQUEUES_MAX: usize = 5_000;

/// Children of one listing a consumer tries (in sequence order) before listing again.
const QUEUE_TRIES_MAX: usize = 8;

/// Elements added at most per run: bounds the set checker's work (reads × elements)
/// and the getChildren replies; past it the set workers only read.
pub const SET_ELEMENTS_MAX: usize = 5_000;

/// How long the load waits for the nemesis to heal before the set's final read.
const HEAL_WAIT: Duration = Duration::from_secs(180);

/// The load's parameters.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server addresses; worker i starts its list at server i mod n, so workers spread
    /// over the members.
    pub servers: Vec<String>,
    pub keys: u32,
    pub workers_per_key: u32,
    pub seed: u64,
    pub duration: Duration,
    /// A call not answered within this is info.
    pub op_timeout: Duration,
    /// Reads of the registers `sync` first (the linearizable recipe); false makes
    /// plain reads, which ZooKeeper serves from a follower's possibly stale copy.
    pub sync_reads: bool,
    /// Sessions adding to and reading the grow-only set.
    pub set_workers: u32,
    /// Sessions enqueueing and dequeueing on the FIFO queue.
    pub queue_workers: u32,
    /// Sessions holding an ephemeral each, one life after another (plus one reader).
    pub eph_workers: u32,
    /// Sessions taking the lock recipe's lock in turn.
    pub lock_workers: u32,
    /// Create the registers on each server on its own (for independent standalones,
    /// which share nothing); otherwise once, through the first.
    pub setup_each_server: bool,
    /// Pause between a worker's calls, drawn from 0..think_ms_max (bounds the history).
    pub think_ms_max: u64,
}

/// What the load recorded.
#[derive(Debug)]
pub struct LoadResult {
    pub ops: Vec<Op>,
    /// Failures by kind ("ConnectionLoss", "timeout", ...), for the report.
    pub errors: BTreeMap<String, usize>,
    /// Sessions opened (first and after expiry).
    pub sessions: usize,
    pub set_adds: Vec<set::Add>,
    pub set_reads: Vec<set::Read>,
    /// The set read after healing (an error when there was none).
    pub final_read: Result<set::Read, String>,
    pub enqueues: Vec<queue::Enqueue>,
    pub dequeues: Vec<queue::Dequeue>,
    /// The queue listed after healing.
    pub queue_final: Result<queue::Listing, String>,
    pub lives: Vec<Life>,
    /// Reads of the ephemerals' parent, the one after healing last.
    pub eph_reads: Vec<ephemeral::Read>,
    /// Whether the final read of the ephemerals happened.
    pub eph_final: Result<(), String>,
    pub holds: Vec<lock::Hold>,
}

pub fn path(key: u32) -> String {
    format!("{ROOT}/r{key}")
}

/// Starts the load on its own thread in the client namespace. The thread sends on
/// `ready` once the registers exist; its load then runs `cfg.duration` from that moment.
/// The set's final read waits for a message on `healed` (at most [`HEAL_WAIT`]).
pub fn spawn(
    cfg: LoadConfig,
    ns: File,
    start: Instant,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
    healed: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<Result<LoadResult, String>> {
    net::spawn_executor(ns, move || async move {
        setup(&cfg).await?;
        // The receiver may be gone if the harness is stopping; the load then ends
        // at once on `stop`.
        let _ = ready.send(());
        Ok(load(cfg, start, stop, healed).await)
    })
}

/// Creates the parent and every register with value 0 (version 0): the checker's
/// initial state. A register that exists already would break that, so it is an error.
async fn setup(cfg: &LoadConfig) -> Result<(), String> {
    if cfg.setup_each_server {
        for s in &cfg.servers {
            setup_on(cfg, s).await?;
        }
        Ok(())
    } else {
        setup_on(cfg, &cfg.servers.join(",")).await
    }
}

async fn setup_on(cfg: &LoadConfig, servers: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match Client::connect(servers, SESSION_TIMEOUT_MS as i32, options()).await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => return Err(format!("setup connect: {e}")),
            Err(_) => glommio::timer::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut paths = vec![
        ROOT.to_owned(),
        SET_PATH.to_owned(),
        QUEUE_PATH.to_owned(),
        EPH_PATH.to_owned(),
        LOCK_PATH.to_owned(),
        COUNTER_PATH.to_owned(),
    ];
    paths.extend((0..cfg.keys).map(path));
    for p in paths {
        client
            .create(&p, Some(b"0"), &Acl::open_unsafe(), CreateMode::Persistent)
            .await
            .map_err(|e| format!("setup: create {p}: {e}"))?;
    }
    // Each worker's first read then starts from a state every member has.
    client
        .sync(ROOT)
        .await
        .map_err(|e| format!("setup: sync: {e}"))?;
    let _ = client.close().await;
    Ok(())
}

fn options() -> Options {
    Options {
        // Short, so a worker cut off by a partition or pause tries again soon.
        connect_timeout_ms: 1_000,
        ..Options::default()
    }
}

struct Shared {
    ops: RefCell<Vec<Op>>,
    set_adds: RefCell<Vec<set::Add>>,
    set_reads: RefCell<Vec<set::Read>>,
    enqueues: RefCell<Vec<queue::Enqueue>>,
    dequeues: RefCell<Vec<queue::Dequeue>>,
    lives: RefCell<Vec<Life>>,
    eph_reads: RefCell<Vec<ephemeral::Read>>,
    holds: RefCell<Vec<lock::Hold>>,
    errors: RefCell<BTreeMap<String, usize>>,
    next_process: Cell<u64>,
    sessions: Cell<usize>,
    start: Instant,
    deadline: Instant,
    stop: Arc<AtomicBool>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn new_process(&self) -> u64 {
        let p = self.next_process.get();
        self.next_process.set(p + 1);
        p
    }

    fn count(&self, what: String) {
        *self.errors.borrow_mut().entry(what).or_default() += 1;
    }

    fn done(&self) -> bool {
        Instant::now() >= self.deadline || self.stop.load(Ordering::Relaxed)
    }
}

async fn load(
    cfg: LoadConfig,
    start: Instant,
    stop: Arc<AtomicBool>,
    healed: mpsc::Receiver<()>,
) -> LoadResult {
    let shared = Rc::new(Shared {
        ops: RefCell::new(Vec::new()),
        set_adds: RefCell::new(Vec::new()),
        set_reads: RefCell::new(Vec::new()),
        enqueues: RefCell::new(Vec::new()),
        dequeues: RefCell::new(Vec::new()),
        lives: RefCell::new(Vec::new()),
        eph_reads: RefCell::new(Vec::new()),
        holds: RefCell::new(Vec::new()),
        errors: RefCell::new(BTreeMap::new()),
        next_process: Cell::new(0),
        sessions: Cell::new(0),
        start,
        deadline: Instant::now() + cfg.duration,
        stop,
    });
    let mut tasks = Vec::new();
    let mut roles: Vec<Role> = (0..cfg.keys)
        .flat_map(|key| (0..cfg.workers_per_key).map(move |_| Role::Register { key }))
        .collect();
    roles.extend((0..cfg.set_workers).map(|_| Role::Set));
    roles.extend((0..cfg.queue_workers).map(|_| Role::Queue));
    roles.extend((0..cfg.eph_workers).map(|_| Role::EphHolder));
    if cfg.eph_workers > 0 {
        roles.push(Role::EphReader);
    }
    roles.extend((0..cfg.lock_workers).map(|_| Role::Lock));
    for (index, role) in roles.into_iter().enumerate() {
        let index = index as u32;
        let n = cfg.servers.len().max(1);
        let first = index as usize % n;
        let servers: Vec<String> = (0..n)
            .map(|i| cfg.servers[(first + i) % n].clone())
            .collect();
        let worker = Worker {
            role,
            index,
            servers: servers.join(","),
            rng: rand::rngs::StdRng::seed_from_u64(
                cfg.seed ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
            cfg: cfg.clone(),
            shared: shared.clone(),
            process: 0,
            last_version: 0,
            counter: 0,
        };
        tasks.push(glommio::spawn_local(worker.run()));
    }
    for t in tasks {
        t.await;
    }
    let mut ops = shared.ops.take();
    ops.sort_by_key(|o| (o.key, o.invoke_ns));
    // The final read of the set waits until the faults are healed (or the harness
    // gave up: then there is none, and the set is not checked).
    // The final reads wait until the faults are healed (or the harness gave up: then
    // there are none, and those checkers do not run).
    let is_healed = healed.recv_timeout(HEAL_WAIT).is_ok() && !shared.stop.load(Ordering::Relaxed);
    fn not_healed<T>() -> Result<T, String> {
        Err("no final read: the faults were not healed".to_string())
    }
    let final_read = if cfg.set_workers > 0 && is_healed {
        final_set_read(&cfg, &shared).await
    } else {
        not_healed()
    };
    let queue_final = if cfg.queue_workers > 0 && is_healed {
        final_queue_read(&cfg, &shared).await
    } else {
        not_healed()
    };
    let eph_final = if cfg.eph_workers > 0 && is_healed {
        // Every ended session's ephemeral must be gone by the heal plus one timeout
        // and the margin (see `ephemeral::gone_by`); read after that.
        let wait = Duration::from_millis(SESSION_TIMEOUT_MS)
            + Duration::from_nanos(ephemeral::EXPIRY_MARGIN_NS)
            + Duration::from_secs(1);
        glommio::timer::sleep(wait).await;
        final_eph_read(&cfg, &shared).await
    } else {
        not_healed()
    };
    LoadResult {
        ops,
        errors: shared.errors.take(),
        sessions: shared.sessions.get(),
        set_adds: shared.set_adds.take(),
        set_reads: shared.set_reads.take(),
        final_read,
        enqueues: shared.enqueues.take(),
        dequeues: shared.dequeues.take(),
        queue_final,
        lives: shared.lives.take(),
        eph_reads: shared.eph_reads.take(),
        eph_final,
        holds: shared.holds.take(),
    }
}

/// One read after healing: a fresh session, retried for up to 30 s. Returns the
/// read's result with its invocation and completion times.
async fn final_read<T, F, Fut>(
    cfg: &LoadConfig,
    shared: &Shared,
    what: &str,
    read: F,
) -> Result<(u64, u64, T), String>
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    let servers = cfg.servers.join(",");
    let mut last = String::new();
    while Instant::now() < deadline {
        let c = match Client::connect(&servers, SESSION_TIMEOUT_MS as i32, options()).await {
            Ok(c) => c,
            Err(e) => {
                last = e.to_string();
                glommio::timer::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let invoke_ns = shared.now_ns();
        let r = read(c.clone()).await;
        let complete_ns = shared.now_ns();
        let _ = c.close().await;
        match r {
            Ok(v) => return Ok((invoke_ns, complete_ns, v)),
            Err(e) => last = e,
        }
    }
    Err(format!("final read of the {what} failed for 30 s: {last}"))
}

async fn final_set_read(cfg: &LoadConfig, shared: &Shared) -> Result<set::Read, String> {
    let (invoke_ns, complete_ns, elements) = final_read(cfg, shared, "set", |c| async move {
        read_elements(&c, SET_PATH).await
    })
    .await?;
    Ok(set::Read {
        invoke_ns,
        complete_ns,
        elements,
    })
}

async fn final_queue_read(cfg: &LoadConfig, shared: &Shared) -> Result<queue::Listing, String> {
    let (invoke_ns, complete_ns, children) =
        final_read(
            cfg,
            shared,
            "queue",
            |c| async move { read_queue(&c).await },
        )
        .await?;
    Ok(queue::Listing {
        invoke_ns,
        complete_ns,
        elements: children.into_iter().collect(),
    })
}

/// The member (1-based, as in `servers`) whose address `c` is connected to.
fn member_of(servers: &[String], c: &Client) -> Option<u32> {
    let addr = c.server_addr().to_string();
    servers
        .iter()
        .position(|s| *s == addr)
        .map(|i| i as u32 + 1)
}

/// Appends the read after healing to the ephemeral reads.
async fn final_eph_read(cfg: &LoadConfig, shared: &Shared) -> Result<(), String> {
    let (invoke_ns, complete_ns, (elements, server)) =
        final_read(cfg, shared, "ephemerals", |c| async move {
            let elements = read_elements(&c, EPH_PATH).await?;
            Ok((elements, member_of(&cfg.servers, &c)))
        })
        .await?;
    shared.eph_reads.borrow_mut().push(ephemeral::Read {
        invoke_ns,
        complete_ns,
        elements,
        server,
    });
    Ok(())
}

/// `sync` then `getChildren` of `parent`. A parent that is gone (NoNode, which no
/// workload causes) lists as empty: its children are gone too, and the checkers then
/// report each of them.
async fn list(c: &Client, parent: &str) -> Result<Vec<String>, String> {
    c.sync(parent).await.map_err(|e| e.code().to_string())?;
    match c.get_children(parent, false).await {
        Ok(names) => Ok(names),
        Err(ClientError::Keeper(ErrorCode::NoNode)) => Ok(Vec::new()),
        Err(e) => Err(e.code().to_string()),
    }
}

/// The queue: (element, sequence), sorted by sequence. A name that does not parse is
/// element `u64::MAX` (a phantom to the checker).
async fn read_queue(c: &Client) -> Result<Vec<(u64, u64)>, String> {
    let mut children: Vec<(u64, u64)> = list(c, QUEUE_PATH)
        .await?
        .iter()
        .map(|n| queue::parse_child(n).unwrap_or((u64::MAX, u64::MAX)))
        .collect();
    children.sort_by_key(|(_, seq)| *seq);
    Ok(children)
}

/// The elements `e<n>` under `parent` (the set, the ephemerals); names that do not
/// parse read as `u64::MAX` (a phantom to the checkers).
async fn read_elements(c: &Client, parent: &str) -> Result<BTreeSet<u64>, String> {
    Ok(list(c, parent)
        .await?
        .iter()
        .map(|n| {
            n.strip_prefix('e')
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX)
        })
        .collect())
}

/// What a worker drives.
#[derive(Debug, Clone, Copy)]
enum Role {
    Register {
        key: u32,
    },
    Set,
    Queue,
    /// Runs its own loop of sessions ([`Worker::eph_lives`]).
    EphHolder,
    EphReader,
    Lock,
}

struct Worker {
    role: Role,
    index: u32,
    servers: String,
    rng: rand::rngs::StdRng,
    cfg: LoadConfig,
    shared: Rc<Shared>,
    /// The logical process of the register history (renewed after an info op).
    process: u64,
    /// The version this worker saw last on its register (the next CAS expects it).
    last_version: i32,
    counter: u64,
}

/// What a call gave back.
enum Outcome {
    Done(Ret),
    Failed(String),
}

impl Worker {
    async fn run(mut self) {
        if let Role::EphHolder = self.role {
            return self.eph_lives().await;
        }
        let mut client: Option<Client> = None;
        let mut disconnected_since: Option<Instant> = None;
        self.process = self.shared.new_process();
        while !self.shared.done() {
            let c = match &client {
                Some(c) if !c.is_closed() => c.clone(),
                _ => match Client::connect(&self.servers, SESSION_TIMEOUT_MS as i32, options())
                    .await
                {
                    Ok(c) => {
                        self.shared.sessions.set(self.shared.sessions.get() + 1);
                        client = Some(c.clone());
                        c
                    }
                    Err(e) => {
                        self.shared.count(format!("connect: {}", e.code()));
                        glommio::timer::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            if !c.is_connected() {
                // A client that cannot get its session back within a session timeout
                // (a server that lost its state refuses, forever, a client that saw
                // a higher zxid) is dropped for a new session, as an application
                // would after expiry: the load then sees what the server has. No call
                // is in flight, so nothing is lost from the history.
                let since = *disconnected_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(SESSION_TIMEOUT_MS) {
                    self.shared.count("stuck reconnecting: new session".into());
                    client = None;
                    disconnected_since = None;
                }
                glommio::timer::sleep(Duration::from_millis(50)).await;
                continue;
            }
            disconnected_since = None;
            self.counter += 1;
            match self.role {
                Role::Register { key } => self.register_op(&c, key).await,
                Role::Set => self.set_op(&c).await,
                Role::Queue => self.queue_op(&c).await,
                Role::EphReader => self.eph_read(&c).await,
                Role::EphHolder => {}
                Role::Lock => {
                    if !self.lock_op(&c).await {
                        // A node of ours may be left (an unknown create or release):
                        // end the session, which removes it, rather than block the
                        // others until the session expires.
                        let _ = self
                            .timed(async { c.close().await.map_err(|e| e.to_string()) })
                            .await;
                        client = None;
                    }
                }
            }
            let think = self.rng.gen_range(0..=self.cfg.think_ms_max);
            glommio::timer::sleep(Duration::from_millis(think)).await;
        }
        if let Some(c) = client {
            // Bounded: a server still cut off must not hold the run.
            let _ = future::or(async { c.close().await.map(|_| ()) }, async {
                glommio::timer::sleep(Duration::from_millis(500)).await;
                Ok(())
            })
            .await;
        }
    }

    /// Runs `f` within the op timeout; `Err` names why the outcome is unknown.
    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        future::or(f, async {
            glommio::timer::sleep(self.cfg.op_timeout).await;
            Err("timeout".to_string())
        })
        .await
    }

    async fn register_op(&mut self, c: &Client, key: u32) {
        // Unique per run: worker index in the high bits.
        let value = (u64::from(self.index) + 1) << 32 | self.counter;
        let call = match self.rng.gen_range(0..10) {
            0..=3 => Call::Read,
            4..=5 => Call::Write { value },
            _ => Call::Cas {
                expect_version: self.last_version,
                value,
            },
        };
        let path = path(key);
        let invoke_ns = self.shared.now_ns();
        let outcome = self
            .timed(async {
                match self.call(c, &path, call).await {
                    Outcome::Done(r) => Ok(r),
                    Outcome::Failed(why) => Err(why),
                }
            })
            .await;
        let complete_ns = self.shared.now_ns();
        let (ret, complete_ns) = match outcome {
            Ok(ret) => (ret, Some(complete_ns)),
            Err(why) => {
                self.shared.count(why);
                (Ret::Unknown, None)
            }
        };
        match ret {
            Ret::Read { version, .. } | Ret::Written { version } => self.last_version = version,
            // Refused: try a later version next time.
            Ret::CasMismatch => self.last_version = self.last_version.wrapping_add(1),
            Ret::Unknown | Ret::Error { .. } => {}
        }
        let server = complete_ns.and_then(|_| member_of(&self.cfg.servers, c));
        self.shared.ops.borrow_mut().push(Op {
            key,
            process: self.process,
            invoke_ns,
            complete_ns,
            call,
            ret,
            server,
        });
        if ret == Ret::Unknown {
            self.process = self.shared.new_process();
        }
    }

    /// One add (create of a new element) or, one time in five, one read of the set.
    async fn set_op(&mut self, c: &Client) {
        let adds_so_far = self.shared.set_adds.borrow().len();
        if self.rng.gen_range(0..5) == 0 || adds_so_far >= SET_ELEMENTS_MAX {
            let invoke_ns = self.shared.now_ns();
            match self.timed(read_elements(c, SET_PATH)).await {
                Ok(elements) => self.shared.set_reads.borrow_mut().push(set::Read {
                    invoke_ns,
                    complete_ns: self.shared.now_ns(),
                    elements,
                }),
                Err(why) => self.shared.count(why),
            }
            return;
        }
        let element = (u64::from(self.index) + 1) << 32 | self.counter;
        let invoke_ns = self.shared.now_ns();
        let path = format!("{SET_PATH}/e{element}");
        let r = self.timed(create(c, &path, CreateMode::Persistent)).await;
        let (complete_ns, failed) = match r {
            Ok(name) => (Some(self.shared.now_ns()), name.is_none()),
            Err(why) => {
                self.shared.count(why);
                (None, false)
            }
        };
        self.shared.set_adds.borrow_mut().push(set::Add {
            element,
            invoke_ns,
            complete_ns,
            failed,
        });
    }

    /// One enqueue or, about half the time, one dequeue.
    async fn queue_op(&mut self, c: &Client) {
        let enqueues_so_far = self.shared.enqueues.borrow().len();
        if self.rng.gen_bool(0.5) && enqueues_so_far < QUEUE_ENQUEUES_MAX {
            let element = (u64::from(self.index) + 1) << 32 | self.counter;
            let invoke_ns = self.shared.now_ns();
            let path = format!("{QUEUE_PATH}/e{element}-");
            let r = self
                .timed(create(c, &path, CreateMode::PersistentSequential))
                .await;
            let (complete_ns, failed, seq) = match r {
                Ok(Some(name)) => {
                    // The created name carries the sequence; one that does not parse
                    // gets a sequence no other element has, and the checker's order
                    // checks will show it.
                    let seq = name
                        .rsplit('/')
                        .next()
                        .and_then(queue::parse_child)
                        .map_or(u64::MAX - u64::from(self.index), |(_, s)| s);
                    (Some(self.shared.now_ns()), false, Some(seq))
                }
                Ok(None) => (Some(self.shared.now_ns()), true, None),
                Err(why) => {
                    self.shared.count(why);
                    (None, false, None)
                }
            };
            self.shared.enqueues.borrow_mut().push(queue::Enqueue {
                element,
                invoke_ns,
                complete_ns,
                failed,
                seq,
            });
            return;
        }
        let list_invoke_ns = self.shared.now_ns();
        let children = match self.timed(read_queue(c)).await {
            Ok(ch) => ch,
            Err(why) => return self.shared.count(why),
        };
        // In sequence order: the lowest this session can take.
        for (element, seq) in children.into_iter().take(QUEUE_TRIES_MAX) {
            let invoke_ns = self.shared.now_ns();
            let path = format!("{QUEUE_PATH}/e{element}-{seq:010}");
            let r = self
                .timed(async {
                    match c.delete(&path, -1).await {
                        Ok(()) => Ok(true),
                        Err(ClientError::Keeper(ErrorCode::NoNode)) => Ok(false),
                        Err(e) => match classify(e) {
                            Outcome::Failed(why) => Err(why),
                            Outcome::Done(_) => Err("delete refused".to_string()),
                        },
                    }
                })
                .await;
            let complete_ns = match r {
                // Someone else took it: the next one.
                Ok(false) => continue,
                Ok(true) => Some(self.shared.now_ns()),
                Err(why) => {
                    self.shared.count(why);
                    None
                }
            };
            self.shared.dequeues.borrow_mut().push(queue::Dequeue {
                element,
                seq,
                list_invoke_ns,
                invoke_ns,
                complete_ns,
            });
            return;
        }
    }

    /// One turn at the lock: queue, hold (one fenced counter write), release. Returns
    /// false when a node of this session may be left behind.
    async fn lock_op(&mut self, c: &Client) -> bool {
        let name = match self
            .timed(create(
                c,
                &format!("{LOCK_PATH}/l-"),
                CreateMode::EphemeralSequential,
            ))
            .await
        {
            Ok(Some(name)) => name,
            Ok(None) => return true,
            Err(why) => {
                self.shared.count(why);
                return false;
            }
        };
        let Some(mine) = name.rsplit('-').next().and_then(|s| s.parse::<u64>().ok()) else {
            return false;
        };
        let until = Instant::now() + LOCK_WAIT;
        let (list_invoke_ns, acquired_ns) = loop {
            if Instant::now() > until || self.shared.done() {
                return self.release(c, &name).await.is_ok();
            }
            let list_invoke_ns = self.shared.now_ns();
            let seqs: Vec<u64> = match self.timed(list(c, LOCK_PATH)).await {
                Ok(names) => names
                    .iter()
                    .filter_map(|n| n.rsplit('-').next().and_then(|s| s.parse().ok()))
                    .collect(),
                Err(why) => {
                    self.shared.count(why);
                    return false;
                }
            };
            let acquired_ns = self.shared.now_ns();
            match seqs.iter().min() {
                // Our node is gone: the session ended under us.
                _ if !seqs.contains(&mine) => return false,
                Some(low) if *low == mine => break (list_invoke_ns, acquired_ns),
                _ => glommio::timer::sleep(Duration::from_millis(20)).await,
            }
        };
        let fence = self.fenced_increment(c).await;
        let think = self.rng.gen_range(0..50);
        glommio::timer::sleep(Duration::from_millis(think)).await;
        let release_invoke_ns = self.shared.now_ns();
        let released = self.release(c, &name).await;
        self.shared.holds.borrow_mut().push(lock::Hold {
            seq: mine,
            list_invoke_ns,
            acquired_ns,
            release_invoke_ns,
            release_ok: released.is_ok(),
            fence,
        });
        released.is_ok()
    }

    /// Reads the counter (after `sync`: a follower's stale copy would make the
    /// fenced write fail for no fault of the lock) and writes it + 1 with the
    /// version read.
    async fn fenced_increment(&mut self, c: &Client) -> lock::Fence {
        let read = self
            .timed(async {
                c.sync(COUNTER_PATH).await.map_err(|e| e.to_string())?;
                c.get_data(COUNTER_PATH, false)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        let (value, version) = match read {
            Ok((data, stat)) => match data
                .as_deref()
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(v) => (v, stat.version),
                None => return lock::Fence::Unknown,
            },
            Err(why) => {
                self.shared.count(why);
                return lock::Fence::Unknown;
            }
        };
        match self
            .timed(async { Ok(set(c, COUNTER_PATH, value + 1, version).await) })
            .await
        {
            Ok(Outcome::Done(Ret::Written { .. })) => lock::Fence::Written { from: value },
            Ok(Outcome::Done(Ret::CasMismatch)) => lock::Fence::Refused,
            Ok(Outcome::Failed(why)) | Err(why) => {
                self.shared.count(why);
                lock::Fence::Unknown
            }
            Ok(Outcome::Done(_)) => lock::Fence::Unknown,
        }
    }

    /// Deletes this session's lock node.
    async fn release(&self, c: &Client, name: &str) -> Result<(), String> {
        let r = self
            .timed(async { c.delete(name, -1).await.map_err(|e| e.code().to_string()) })
            .await;
        if let Err(why) = &r {
            self.shared.count(format!("release: {why}"));
        }
        r
    }

    /// One read of the ephemerals' parent.
    async fn eph_read(&mut self, c: &Client) {
        let invoke_ns = self.shared.now_ns();
        match self.timed(read_elements(c, EPH_PATH)).await {
            Ok(elements) => self.shared.eph_reads.borrow_mut().push(ephemeral::Read {
                invoke_ns,
                complete_ns: self.shared.now_ns(),
                elements,
                server: member_of(&self.cfg.servers, c),
            }),
            Err(why) => self.shared.count(why),
        }
    }

    /// Lives, one after another until the end of the load: a fresh session creates
    /// its ephemeral, checks it with `exists` every 100–400 ms for 1–6 s, then closes
    /// the session or goes silent (drops the connection), half and half.
    async fn eph_lives(mut self) {
        while !self.shared.done() {
            self.counter += 1;
            let element = (u64::from(self.index) + 1) << 32 | self.counter;
            let c = match Client::connect(&self.servers, SESSION_TIMEOUT_MS as i32, options()).await
            {
                Ok(c) => c,
                Err(e) => {
                    self.shared.count(format!("connect: {}", e.code()));
                    glommio::timer::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            self.shared.sessions.set(self.shared.sessions.get() + 1);
            let events = c.events();
            let expired = || {
                let mut seen = false;
                while let Some(ev) = events.as_ref().and_then(|e| e.try_next()) {
                    seen |= ev.state == event::EXPIRED;
                }
                seen
            };
            let path = format!("{EPH_PATH}/e{element}");
            let c_ref = &c;
            let create_invoke_ns = self.shared.now_ns();
            let r = self
                .timed(create(c_ref, &path, CreateMode::Ephemeral))
                .await;
            let (create_complete_ns, create_failed) = match r {
                Ok(name) => (Some(self.shared.now_ns()), name.is_none()),
                Err(why) => {
                    self.shared.count(why);
                    (None, false)
                }
            };
            let mut life = Life {
                element,
                timeout_ms: u64::try_from(c.session_timeout_ms()).unwrap_or(0),
                create_invoke_ns,
                create_complete_ns,
                create_failed,
                checks: Vec::new(),
                end: End::Silent { at_ns: 0 },
            };
            let until = Instant::now() + Duration::from_millis(self.rng.gen_range(1_000..6_000));
            let mut end = None;
            while end.is_none() && Instant::now() < until && !self.shared.done() {
                if expired() || c.is_closed() {
                    end = Some(End::Expired {
                        at_ns: self.shared.now_ns(),
                    });
                    break;
                }
                if c.is_connected() {
                    let invoke_ns = self.shared.now_ns();
                    let r = self
                        .timed(async {
                            c.exists(&path, false)
                                .await
                                .map_err(|e| e.code().to_string())
                        })
                        .await;
                    match r {
                        Ok(stat) => life.checks.push(ephemeral::Check {
                            invoke_ns,
                            complete_ns: self.shared.now_ns(),
                            present: stat.is_some(),
                        }),
                        Err(why) => self.shared.count(why),
                    }
                }
                let nap = self.rng.gen_range(100..400);
                glommio::timer::sleep(Duration::from_millis(nap)).await;
            }
            if end.is_none() && (expired() || c.is_closed()) {
                end = Some(End::Expired {
                    at_ns: self.shared.now_ns(),
                });
            }
            life.end = match end {
                Some(e) => e,
                None if self.rng.gen_bool(0.5) => {
                    // closeSession by hand: `Client::close` also returns Ok when it
                    // could not tell any server (disconnected, connection lost), and
                    // only a reply says the session ended.
                    let invoke_ns = self.shared.now_ns();
                    let closed = self
                        .timed(async {
                            match c.submit(OpCode::CloseSession, Bytes::new()).await {
                                Ok((h, _)) if h.err == 0 => Ok(()),
                                Ok((h, _)) => Err(ErrorCode::from_code(h.err).to_string()),
                                Err(e) => Err(e.code().to_string()),
                            }
                        })
                        .await;
                    let _ = future::or(async { c.close().await.map(|_| ()) }, async {
                        glommio::timer::sleep(Duration::from_millis(500)).await;
                        Ok(())
                    })
                    .await;
                    match closed {
                        Ok(()) => End::Closed {
                            invoke_ns,
                            complete_ns: self.shared.now_ns(),
                        },
                        Err(why) => {
                            self.shared.count(format!("close: {why}"));
                            End::Silent { at_ns: invoke_ns }
                        }
                    }
                }
                None => End::Silent {
                    at_ns: self.shared.now_ns(),
                },
            };
            // Dropping the last handle shuts the connection without closing the
            // session: the server must expire it.
            drop(c);
            self.shared.lives.borrow_mut().push(life);
        }
    }

    async fn call(&self, c: &Client, path: &str, call: Call) -> Outcome {
        let failed = classify;
        match call {
            Call::Read => {
                if self.cfg.sync_reads {
                    if let Err(e) = c.sync(path).await {
                        return failed(e);
                    }
                }
                match c.get_data(path, false).await {
                    Ok((data, stat)) => {
                        // A value that does not parse matches no write: the checker
                        // rejects it, which is what it deserves.
                        let value = data
                            .as_deref()
                            .and_then(|d| std::str::from_utf8(d).ok())
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(u64::MAX);
                        Outcome::Done(Ret::Read {
                            version: stat.version,
                            value,
                        })
                    }
                    Err(e) => failed(e),
                }
            }
            Call::Write { value } => set(c, path, value, -1).await,
            Call::Cas {
                expect_version,
                value,
            } => set(c, path, value, expect_version).await,
        }
    }
}

/// A create without data: `Ok(Some(created name))`, `Ok(None)` when the server
/// refused it (a definite answer), `Err(why)` when the outcome is unknown.
async fn create(c: &Client, path: &str, mode: CreateMode) -> Result<Option<String>, String> {
    match c.create(path, None, &Acl::open_unsafe(), mode).await {
        Ok((name, _)) => Ok(Some(name)),
        Err(e) => match classify(e) {
            Outcome::Failed(why) => Err(why),
            Outcome::Done(_) => Ok(None),
        },
    }
}

async fn set(c: &Client, path: &str, value: u64, version: i32) -> Outcome {
    match c
        .set_data(path, Some(value.to_string().as_bytes()), version)
        .await
    {
        Ok(stat) => Outcome::Done(Ret::Written {
            version: stat.version,
        }),
        Err(ClientError::Keeper(ErrorCode::BadVersion)) if version >= 0 => {
            Outcome::Done(Ret::CasMismatch)
        }
        Err(e) => classify(e),
    }
}

/// Unknown outcome for transport failures and for the codes that say "maybe"
/// (connection loss, expiry, operation timeout); any other code is a definite answer.
fn classify(e: ClientError) -> Outcome {
    let code = e.code();
    match code {
        ErrorCode::ConnectionLoss
        | ErrorCode::SessionExpired
        | ErrorCode::OperationTimeout
        | ErrorCode::SessionMoved
        | ErrorCode::MarshallingError => Outcome::Failed(code.to_string()),
        _ => Outcome::Done(Ret::Error { code: code as i32 }),
    }
}
