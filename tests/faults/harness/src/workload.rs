//! The CAS-register workload: `keys` znodes, each driven by its own `workers_per_key`
//! sessions (ringkeeper's client on one glommio executor, on a thread inside the
//! client namespace), every call recorded as an [`Op`].
//!
//! Ops: read = `sync` then `getData`; write = `setData` with version −1; CAS =
//! `setData` with the version this worker saw last. Values are unique per run, so a
//! read names the write it saw. A call that fails with anything but a definite answer
//! (connection loss, timeout, expired session) is recorded as info and the worker
//! takes a new process id, because the old call may still be in flight. Calls are not
//! made while the client is disconnected (they would fail without being sent).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fs::File;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures_lite::future;
use rand::{Rng, SeedableRng};
use ringkeeper::client::{Client, ClientError, Options};
use ringkeeper::proto::{Acl, CreateMode, ErrorCode};

use crate::cluster::SESSION_TIMEOUT_MS;
use crate::history::{Call, Op, Ret};
use crate::net;

/// Parent of the registers.
pub const ROOT: &str = "/rkf";

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
    /// Create the registers on each server on its own (for independent standalones,
    /// which share nothing); otherwise once, through the first.
    pub setup_each_server: bool,
    /// Pause between a worker's calls, drawn from 0..think_ms_max (bounds the history).
    pub think_ms_max: u64,
}

/// What the load recorded.
#[derive(Debug, Default)]
pub struct LoadResult {
    pub ops: Vec<Op>,
    /// Failures by kind ("ConnectionLoss", "timeout", ...), for the report.
    pub errors: BTreeMap<String, usize>,
    /// Sessions opened (first and after expiry).
    pub sessions: usize,
}

pub fn path(key: u32) -> String {
    format!("{ROOT}/r{key}")
}

/// Starts the load on its own thread in the client namespace. The thread sends on
/// `ready` once the registers exist; its load then runs `cfg.duration` from that moment.
pub fn spawn(
    cfg: LoadConfig,
    ns: File,
    start: Instant,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
) -> std::thread::JoinHandle<Result<LoadResult, String>> {
    std::thread::spawn(move || {
        net::enter(&ns).map_err(|e| format!("entering the client namespace: {e}"))?;
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .map_err(|e| format!("glommio executor: {e}"))?;
        ex.run(async move {
            setup(&cfg).await?;
            // The receiver may be gone if the harness is stopping; the load then ends
            // at once on `stop`.
            let _ = ready.send(());
            Ok(load(cfg, start, stop).await)
        })
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
    let mut paths = vec![ROOT.to_owned()];
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

async fn load(cfg: LoadConfig, start: Instant, stop: Arc<AtomicBool>) -> LoadResult {
    let shared = Rc::new(Shared {
        ops: RefCell::new(Vec::new()),
        errors: RefCell::new(BTreeMap::new()),
        next_process: Cell::new(0),
        sessions: Cell::new(0),
        start,
        deadline: Instant::now() + cfg.duration,
        stop,
    });
    let mut tasks = Vec::new();
    for key in 0..cfg.keys {
        for w in 0..cfg.workers_per_key {
            let index = key * cfg.workers_per_key + w;
            let n = cfg.servers.len().max(1);
            let first = index as usize % n;
            let servers: Vec<String> = (0..n)
                .map(|i| cfg.servers[(first + i) % n].clone())
                .collect();
            let worker = Worker {
                key,
                index,
                servers: servers.join(","),
                rng: rand::rngs::StdRng::seed_from_u64(
                    cfg.seed ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
                cfg: cfg.clone(),
                shared: shared.clone(),
            };
            tasks.push(glommio::spawn_local(worker.run()));
        }
    }
    for t in tasks {
        t.await;
    }
    let mut ops = shared.ops.take();
    ops.sort_by_key(|o| (o.key, o.invoke_ns));
    LoadResult {
        ops,
        errors: shared.errors.take(),
        sessions: shared.sessions.get(),
    }
}

struct Worker {
    key: u32,
    index: u32,
    servers: String,
    rng: rand::rngs::StdRng,
    cfg: LoadConfig,
    shared: Rc<Shared>,
}

/// What a call gave back.
enum Outcome {
    Done(Ret),
    Failed(String),
}

impl Worker {
    async fn run(mut self) {
        let mut client: Option<Client> = None;
        let mut process = self.shared.new_process();
        let mut last_version = 0i32;
        let mut counter = 0u64;
        let path = path(self.key);
        while !self.shared.done() {
            let c = match &client {
                Some(c) if !c.is_closed() => c.clone(),
                _ => {
                    match Client::connect(&self.servers, SESSION_TIMEOUT_MS as i32, options()).await
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
                    }
                }
            };
            if !c.is_connected() {
                glommio::timer::sleep(Duration::from_millis(50)).await;
                continue;
            }
            counter += 1;
            // Unique per run: worker index in the high bits.
            let value = (u64::from(self.index) + 1) << 32 | counter;
            let call = match self.rng.gen_range(0..10) {
                0..=3 => Call::Read,
                4..=5 => Call::Write { value },
                _ => Call::Cas {
                    expect_version: last_version,
                    value,
                },
            };
            let invoke_ns = self.shared.now_ns();
            let outcome = future::or(self.call(&c, &path, call), async {
                glommio::timer::sleep(self.cfg.op_timeout).await;
                Outcome::Failed("timeout".into())
            })
            .await;
            let complete_ns = self.shared.now_ns();
            let (ret, complete_ns) = match outcome {
                Outcome::Done(ret) => (ret, Some(complete_ns)),
                Outcome::Failed(why) => {
                    self.shared.count(why);
                    (Ret::Unknown, None)
                }
            };
            match ret {
                Ret::Read { version, .. } | Ret::Written { version } => last_version = version,
                // Refused: re-read before the next CAS, by trying a later version.
                Ret::CasMismatch => last_version = last_version.wrapping_add(1),
                Ret::Unknown | Ret::Error { .. } => {}
            }
            self.shared.ops.borrow_mut().push(Op {
                key: self.key,
                process,
                invoke_ns,
                complete_ns,
                call,
                ret,
            });
            if ret == Ret::Unknown {
                process = self.shared.new_process();
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

    async fn call(&self, c: &Client, path: &str, call: Call) -> Outcome {
        let failed = classify;
        match call {
            Call::Read => {
                if let Err(e) = c.sync(path).await {
                    return failed(e);
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
