//! The glommio runtime: the only module that knows about executors, sockets and
//! timers. It turns them into inputs for the pure modules and carries out what they
//! decide.
//!
//! Layout (DESIGN.md): one quorum core and N session cores, each a glommio executor
//! pinned to a CPU with core_affinity. Cores share nothing mutable; they talk over
//! bounded shared channels: session core → quorum core (`ToQuorum`), quorum core →
//! session core (`ToSession`, carrying the committed-txn stream).

mod acceptor;
mod auth;
mod conn;
mod connection;
mod crl;
pub mod election;
mod failpoints;
pub mod frame_out;
mod jks;
mod listeners;
pub mod messages;
mod ocsp;
mod outbox;
pub mod peer_tls;
mod published;
pub use published::live_entries as published_versions;
mod quorum;
mod quota_log;
mod reads;
mod replies;
mod session_core;
mod shutdown;
mod signal;
pub mod stats;
mod tls;
mod touches;

pub(crate) use connection::{first_byte, TLS_HANDSHAKE_RECORD};
pub(crate) use quorum::{stream_zk_snapshot, StreamChunk};
pub use session_core::Core;
pub(crate) use tls::auth_ids;

use std::sync::Arc;

use glommio::channels::shared_channel;
use std::time::Duration;

use glommio::{LocalExecutorBuilder, Placement};

use crate::config::Config;

/// Messages in flight on one channel between two cores before the sender waits.
pub const CHANNEL_DEPTH: usize = 4096;
/// io_uring registered-buffer memory per executor. glommio's default (10 MiB) is more
/// than a core serving small requests needs, and locked memory is a scarce limit.
const IO_MEMORY_BYTES: usize = 2 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Listen {
        addr: std::net::SocketAddr,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{0}")]
    Locked(crate::storage::StorageError),
    #[error("cannot set up signal handling: {0}")]
    Signals(std::io::Error),
    #[error("cannot start an executor: {0}")]
    Executor(String),
    #[error(
        "{dir} is an Apache ZooKeeper data directory ({found} exists); import it with \
         `ringkeeper import-zk {dir} --to <new dataDir>` and point dataDir at the result"
    )]
    ZooKeeperDataDir {
        dir: std::path::PathBuf,
        found: std::path::PathBuf,
    },
    #[error("cannot resolve the data directory {dir}: {source}")]
    DataDir {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot recover the data directory: {0}")]
    Recovery(#[from] crate::storage::StorageError),
    #[error("cannot start: {0}")]
    LogCannotGrow(crate::storage::StorageError),
    #[error("cannot serve the secure client port: {0}")]
    Tls(String),
    #[error(
        "cannot serve the AdminServer over HTTPS (admin.forceHttps / admin.portUnification): {0}"
    )]
    AdminTls(String),
}

/// Starts the server and blocks until it stops.
pub fn run(
    mut cfg: Config,
    ensemble: Option<crate::config::QuorumConfig>,
) -> Result<(), ServerError> {
    // Relative directories (the embedded default's `ringkeeper-data` is one) are
    // resolved once against the directory the server started in: io_uring opens and
    // blocking-pool jobs must not depend on a relative path.
    for dir in [&mut cfg.data_dir, &mut cfg.data_log_dir] {
        *dir = std::path::absolute(&*dir).map_err(|source| ServerError::DataDir {
            dir: dir.clone(),
            source,
        })?;
    }
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    failpoints::setup();
    for dir in [&cfg.data_dir, &cfg.data_log_dir] {
        if let Some(found) = crate::storage::zk::zookeeper_files_in(dir) {
            return Err(ServerError::ZooKeeperDataDir {
                dir: dir.clone(),
                found,
            });
        }
    }
    // Held until the process ends: a second server on these directories is refused.
    let _locks = crate::storage::DirLock::acquire_both(&cfg.data_dir, &cfg.data_log_dir)
        .map_err(ServerError::Locked)?;
    // Key material is checked before any port is bound: a bad store fails the start.
    let tls_config = match &cfg.tls {
        None => None,
        Some(t) => {
            let ctx = tls::TlsContext::new(t).map_err(ServerError::Tls)?;
            if t.cert_reload {
                tls::watch(&ctx, t.clone()).map_err(|e| {
                    ServerError::Tls(format!("client.certReload: cannot start its thread: {e}"))
                })?;
            }
            Some(ctx)
        }
    };
    let admin_tls = match cfg.admin.as_ref().and_then(|a| a.tls.as_ref()) {
        None => None,
        Some(a) => Some(tls::admin_server_config(a).map_err(ServerError::AdminTls)?),
    };
    let listeners = listeners::Listeners::bind(&cfg)?;
    cfg.client_addr = listeners.client_addr;
    if let (Some(t), Some(a)) = (cfg.tls.as_mut(), listeners.secure_addr) {
        t.addr = Some(a);
        tracing::info!("serving TLS on the secure client port {a}");
    }
    if !cfg.plaintext_port {
        tracing::info!("clientPort is not set: serving TLS clients only");
    } else if cfg.tls.as_ref().is_some_and(|t| t.port_unification) {
        tracing::info!(
            "client.portUnification: the client port {} takes TLS and plaintext clients",
            cfg.client_addr
        );
    }
    let cfg = Arc::new(cfg);
    let n = cfg.session_cores;
    let stats = Arc::new(stats::ServerStats::new(n));
    let touches = Arc::new(touches::TouchBoard::new(n));
    if cfg.ensemble {
        // Nobody is served until this member has a leader and is synchronized.
        stats.set_mode(stats::ServerMode::NotServing);
    }
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let cpu_for = |slot: usize| cpus.get(slot % cpus.len().max(1)).copied();

    let mut to_quorum_tx = Vec::with_capacity(n);
    let mut to_quorum_rx = Vec::with_capacity(n);
    let mut to_session_tx = Vec::with_capacity(n);
    let mut to_session_rx = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = shared_channel::new_bounded(CHANNEL_DEPTH);
        to_quorum_tx.push(tx);
        to_quorum_rx.push(rx);
        let (tx, rx) = shared_channel::new_bounded(CHANNEL_DEPTH);
        to_session_tx.push(tx);
        to_session_rx.push(rx);
    }

    let opts = crate::storage::RecoverOptions {
        extended_types: cfg.extended_types_enabled,
        prealloc_bytes: cfg.prealloc_bytes,
        digest: cfg.digest_enabled,
    };
    let mut recovered = crate::storage::recover_with(&cfg.data_dir, &cfg.data_log_dir, &opts)?;
    recovered.tree.recompute_quotas();
    tracing::info!(
        "recovered zxid 0x{:x} ({} nodes, {} sessions) from {} and {} log txns",
        recovered.last_zxid,
        recovered.tree.node_count(),
        recovered.sessions.len(),
        recovered
            .snapshot
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "no snapshot".into()),
        recovered.replayed
    );
    // Before the server says it serves: the log must be able to grow by one segment,
    // or a full (or too small) disk would stop it at the first write.
    recovered
        .log
        .make_spare_now()
        .map_err(ServerError::LogCannotGrow)?;
    // As ZooKeeper does after loading, a snapshot of what was replayed: the next start
    // then replays only what comes after, however short each run is. Not needed to
    // serve (the log holds every txn replayed), so on a nearly full disk its failure
    // is an error line, not a refused start.
    if recovered.replayed > 0 {
        match crate::storage::write_snapshot(
            &cfg.data_dir,
            &recovered.tree,
            &recovered.sessions,
            recovered.last_zxid,
        ) {
            Ok(path) => tracing::info!("snapshot after recovery: {}", path.display()),
            Err(e) => tracing::error!(
                "snapshot after recovery failed: {e}; starting without it (the txn log \
                 holds every txn; the next start replays them again); {}",
                crate::storage::snapshot::failure_advice(
                    &cfg.data_dir,
                    &e,
                    &recovered.tree,
                    recovered.sessions.len()
                )
            ),
        }
    }
    let last_zxid = recovered.last_zxid;
    let first = published::Published::first(recovered.tree.version(), last_zxid);
    let (retire, retired) = std::sync::mpsc::channel();
    let durable = quorum::Durable {
        tree: recovered.tree,
        last_zxid,
        log: recovered.log,
        sessions: recovered.sessions,
    };
    // From here on SIGTERM and SIGINT wait for the main thread (every executor thread
    // inherits the blocked mask), which stops the server in order: `shutdown`.
    let signals = shutdown::SignalSet::block().map_err(ServerError::Signals)?;
    let mut stopper = shutdown::Stopper::new(n);
    let stop_notice = |s: &mut shutdown::Stopper| s.notice().map_err(ServerError::Signals);
    let quorum_stop = stop_notice(&mut stopper)?;
    let mut handles = Vec::with_capacity(n + 1);
    // Each executor says it runs before it takes its task, so readiness waits for
    // every io_uring ring to exist (an executor that cannot make its rings, say under
    // a too-small memlock limit, never says so and the process never reports ready).
    let (started_tx, started_rx) = std::sync::mpsc::channel::<usize>();
    let spin = Duration::from_micros(cfg.spin_before_park_us);
    // With a shared quorum core the quorum task runs on session core 0's executor:
    // the write path then crosses no thread (no eventfd wake-up, no membarrier when an
    // executor parks), which is what a machine with few CPUs wants.
    let shared = cfg.quorum_shared();
    // The quorum core owns the tree and is its one writer; every session core starts
    // from the same published version of it.
    let quorum_task = {
        let cfg = cfg.clone();
        let stats = stats.clone();
        let first = first.clone();
        let touches = touches.clone();
        move || {
            quorum::run(
                cfg,
                durable,
                first,
                quorum::Channels {
                    outs: to_session_tx,
                    ins: to_quorum_rx,
                    retired,
                    touches,
                },
                stats,
                quorum_stop,
                ensemble,
            )
        }
    };
    let mut shared_quorum = None;
    if shared {
        shared_quorum = Some(quorum_task);
    } else {
        {
            let cpu = cpu_for(0);
            let (started, slot) = (started_tx.clone(), handles.len());
            let h = LocalExecutorBuilder::new(Placement::Unbound)
                .name("rk-quorum")
                .io_memory(IO_MEMORY_BYTES)
                .spin_before_park(spin)
                .spawn(move || async move {
                    pin(cpu);
                    let _ = started.send(slot);
                    drop(started);
                    quorum_task().await
                })
                .map_err(|e| ServerError::Executor(e.to_string()))?;
            handles.push(h);
        }
    }
    let first_cpu = usize::from(!shared);
    let channels = to_quorum_tx.into_iter().zip(to_session_rx);
    let mut client_listeners = listeners.client.into_iter();
    // Empty with TLS through `client.portUnification` alone (no secureClientPort).
    let listeners_secure_empty = listeners.secure.is_empty();
    let mut secure_listeners = listeners.secure.into_iter();
    // Session core 0 serves the operator ports, on a low-priority task queue.
    let mut ops_listeners = Some(crate::ops::OpsListeners {
        metrics: listeners.metrics,
        admin: listeners.admin,
        admin_tls,
    });
    for (i, (tx, rx)) in channels.enumerate() {
        let start = session_core::CoreStart {
            idx: i,
            cfg: cfg.clone(),
            touches: touches.clone(),
            last_zxid,
            stats: stats.clone(),
            listener: acceptor::ClientListener {
                // None on a TLS-only server (no clientPort).
                plain: if cfg.plaintext_port {
                    Some(client_listeners.next().ok_or_else(|| {
                        ServerError::Executor("a listener per session core".into())
                    })?)
                } else {
                    None
                },
                unified: tls_config
                    .as_ref()
                    .filter(|_| cfg.tls.as_ref().is_some_and(|t| t.port_unification))
                    .cloned(),
                secure: match &tls_config {
                    None => None,
                    Some(_) if listeners_secure_empty => None,
                    Some(t) => Some((
                        secure_listeners.next().ok_or_else(|| {
                            ServerError::Executor("a secure listener per session core".into())
                        })?,
                        t.clone(),
                    )),
                },
            },
            ops: ops_listeners.take().unwrap_or_default(),
            stop: stop_notice(&mut stopper)?,
            report: stopper.reporter(),
            retire: retire.clone(),
        };
        let cpu = cpu_for(i + first_cpu);
        let quorum_here = if i == 0 { shared_quorum.take() } else { None };
        let first = first.clone();
        let (started, slot) = (started_tx.clone(), handles.len());
        let h = LocalExecutorBuilder::new(Placement::Unbound)
            .name(&format!("rk-session-{i}"))
            .io_memory(IO_MEMORY_BYTES)
            .spin_before_park(spin)
            .spawn(move || async move {
                pin(cpu);
                let _ = started.send(slot);
                drop(started);
                if let Some(q) = quorum_here {
                    glommio::spawn_local(q()).detach();
                }
                session_core::run(start, first, tx, rx).await
            })
            .map_err(|e| ServerError::Executor(e.to_string()))?;
        handles.push(h);
    }
    // Every executor running, on a tree recovered and ports bound: a client's
    // request is answered from here on (a connection made earlier waits in the
    // listen backlog). A sender dropped unsent is an executor that failed to start.
    drop(started_tx);
    let mut running = vec![false; handles.len()];
    for slot in started_rx.iter().take(handles.len()) {
        running[slot] = true;
    }
    if let Some(failed) = running.iter().position(|r| !r) {
        let why = match handles.swap_remove(failed).join() {
            Err(e) => e.to_string(),
            Ok(()) => "it stopped at once".into(),
        };
        return Err(ServerError::Executor(why));
    }
    let serving_on = match cfg.tls.as_ref().and_then(|t| t.addr) {
        Some(secure) if !cfg.plaintext_port => secure,
        _ => cfg.client_addr,
    };
    tracing::info!(
        "ringkeeper {} serving on {serving_on} with {n} session core(s) and {}",
        env!("CARGO_PKG_VERSION"),
        if cfg.quorum_shared() {
            "the quorum task on session core 0"
        } else {
            "a dedicated quorum core"
        }
    );
    // For systemd (`Type=notify`, packaging/ringkeeper.service): started now. A
    // no-op without NOTIFY_SOCKET; a failed send is logged, as the service then
    // times out its start and says why.
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!("could not tell the service manager the server is ready: {e}");
    }
    // The executors run until the process exits; this thread waits for a stop.
    drop(handles);
    // The chain's head: held by this thread, which waits for the stop, it would keep
    // every version published since the start.
    drop(first);
    stopper.run(&signals);
    Ok(())
}

fn pin(cpu: Option<core_affinity::CoreId>) {
    if let Some(c) = cpu {
        if !core_affinity::set_for_current(c) {
            tracing::warn!("could not pin to CPU {}", c.id);
        }
    }
}
