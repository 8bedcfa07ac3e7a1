//! The election driver: fast leader election on real sockets, on the glommio executor
//! it is started on. It plays ZooKeeper's `QuorumCnxManager` (in `cnx`: the election
//! port, the connection rule, one capacity-1 send queue per peer) and the I/O half of
//! `FastLeaderElection` (here: feeding [`Fle`] what arrives, carrying out what it
//! decides, its timer).
//!
//! The pure machine keeps answering peers between elections (the receiving thread's
//! rules), so an [`Election`] answers LOOKING servers while its owner leads, follows or
//! observes, and a restarted peer learns the current leader from it. The owner calls
//! [`Election::look`] whenever it needs a leader and [`Election::synced`] once it has
//! synchronized in a new epoch (ZOOKEEPER-1732).
//!
//! `diagnostic` runs it alone (`ringkeeper election`) until the quorum port exists.

mod cnx;
pub mod diagnostic;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::signal::Signal;
use crate::config::QuorumConfig;
use crate::zab::fle::{Action, DecidedBy, Decision, Fle, FleConfig, Input};
use crate::zab::quorum::QuorumMaj;
use crate::zab::vote::{ServerState, Vote};
use crate::zab::wire::handshake::{ElectionAddress, InitialMessage};
use crate::zab::{Sid, Zxid};

/// Why the election cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("{0}")]
    Config(String),
    #[error("cannot resolve {what} {host}: {reason}")]
    Resolve {
        what: String,
        host: String,
        reason: String,
    },
    #[error("cannot listen on the election port {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// An election's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    pub decision: Decision,
    pub vote: Vote,
    pub by: DecidedBy,
}

/// One server's leader election on its election port. Single-threaded (`!Send`): it
/// lives on the executor that started it.
pub struct Election {
    core: Rc<Core>,
}

/// What the tasks of one election share.
struct Core {
    myid: Sid,
    fle: RefCell<Fle>,
    /// The epoch for `now_ms`.
    start: Instant,
    /// Configured election addresses of the other members.
    addrs: BTreeMap<Sid, SocketAddr>,
    /// Their hosts as `server.N` writes them: what a TLS peer's certificate may name.
    hosts: BTreeMap<Sid, String>,
    /// `sslQuorum`: the TLS every connection speaks; `None`: plaintext.
    tls: Option<Rc<super::peer_tls::PeerTls>>,
    /// The initial message we send on each connection we open, encoded once.
    hello: Bytes,
    cnx_timeout: Duration,
    handshake_timeout: Duration,
    /// Per peer: its send queue and connection.
    peers: RefCell<BTreeMap<Sid, cnx::Peer>>,
    /// The FLE timer (`Action::SetTimer`); the timer task sleeps until it.
    timer_at: Cell<Option<u64>>,
    timer_wake: Signal,
    /// The last decision not yet taken by [`Election::look`].
    decided: RefCell<Option<Decided>>,
    decided_wake: Signal,
    stopped: Cell<bool>,
    /// The election port's listening socket, for [`Election::stop`] (the accepting
    /// thread owns and closes it).
    listen_fd: Cell<Option<std::os::fd::RawFd>>,
}

impl Election {
    /// Binds the election port (retrying as `electionPortBindRetry` says) and starts
    /// answering peers. Call [`Election::look`] to run an election. Must run inside a
    /// glommio executor.
    pub async fn start(
        cfg: &QuorumConfig,
        tls: Option<Rc<super::peer_tls::PeerTls>>,
        last_zxid: Zxid,
        current_epoch: i64,
    ) -> Result<Election, ElectionError> {
        let quorum = cfg
            .quorum()
            .map_err(|e| ElectionError::Config(e.to_string()))?;
        let me = cfg
            .me()
            .ok_or_else(|| ElectionError::Config(format!("myid {} is not listed", cfg.myid)))?;
        let mut addrs = BTreeMap::new();
        let mut hosts = BTreeMap::new();
        for s in quorum.servers().filter(|s| s.id != cfg.myid) {
            hosts.insert(s.id, s.host.clone());
            addrs.insert(
                s.id,
                resolve(&format!("server.{}", s.id), &s.host, s.election_port)?,
            );
        }
        let own = resolve("my election address", &me.host, me.election_port)?;
        let listen = if cfg.listen_on_all_ips {
            let any: std::net::IpAddr = if own.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            };
            SocketAddr::new(any, own.port())
        } else {
            own
        };
        let mut hello = BytesMut::new();
        let advertised = ElectionAddress {
            host: me.host.clone(),
            port: me.election_port,
        };
        InitialMessage::encode_v1(cfg.myid, &advertised, &mut hello)
            .map_err(|e| ElectionError::Config(format!("my election address: {e}")))?;
        let listener = cnx::bind(listen, cfg.election_port_bind_retry).await?;
        let fle = Fle::new(
            cfg.myid,
            me.learner_type,
            quorum,
            FleConfig {
                fast_failover: true,
                ..FleConfig::default()
            },
            last_zxid,
            current_epoch,
        );
        let core = Rc::new(Core {
            myid: cfg.myid,
            fle: RefCell::new(fle),
            start: Instant::now(),
            addrs,
            hosts,
            tls,
            hello: hello.freeze(),
            cnx_timeout: Duration::from_millis(cfg.cnx_timeout_ms),
            handshake_timeout: Duration::from_millis(cfg.handshake_timeout_ms().max(1)),
            peers: RefCell::new(BTreeMap::new()),
            timer_at: Cell::new(None),
            timer_wake: Signal::default(),
            decided: RefCell::new(None),
            decided_wake: Signal::default(),
            stopped: Cell::new(false),
            listen_fd: Cell::new(None),
        });
        tracing::info!(
            "election: server {} listening on {listen} for the election port",
            cfg.myid
        );
        cnx::spawn_listener(core.clone(), listener).map_err(|source| ElectionError::Listen {
            addr: listen,
            source,
        })?;
        glommio::spawn_local(timer_task(core.clone())).detach();
        Ok(Election { core })
    }

    /// Runs one election (`lookForLeader`) with this server's last logged zxid and
    /// `currentEpoch`, and returns its outcome. Peers keep being answered afterwards.
    pub async fn look(&self, last_zxid: Zxid, current_epoch: i64) -> Decided {
        self.core.decided.borrow_mut().take();
        self.core.feed(Input::StartLooking {
            last_zxid,
            current_epoch,
        });
        loop {
            if let Some(d) = self.core.decided.borrow_mut().take() {
                return d;
            }
            self.core.decided_wake.wait().await;
        }
    }

    /// The server synchronized in `new_epoch` (leader: `startZkServer`; learner:
    /// UPTODATE): replies to LOOKING peers carry it from now on.
    pub fn synced(&self, new_epoch: i64) {
        self.core.feed(Input::Synced { new_epoch });
    }

    pub fn myid(&self) -> Sid {
        self.core.myid
    }

    pub fn state(&self) -> ServerState {
        self.core.fle.borrow().state()
    }

    pub fn quorum(&self) -> QuorumMaj {
        self.core.fle.borrow().quorum().clone()
    }

    /// Whether an election connection to `sid` is up now.
    pub fn connected(&self, sid: Sid) -> bool {
        self.core.connected(sid)
    }

    /// Stops answering: the election port stops listening and every connection is
    /// closed. A [`Election::look`] in progress never returns.
    pub fn stop(&self) {
        self.core.stopped.set(true);
        self.core.timer_wake.raise();
        cnx::close_all(&self.core);
    }
}

impl Core {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Steps the machine with `input` and carries out its actions, looping messages to
    /// ourselves back in (Java puts them straight into its own receive queue).
    fn feed(self: &Rc<Self>, input: Input) {
        if self.stopped.get() {
            return;
        }
        let mut inputs = VecDeque::from([input]);
        let mut actions = Vec::new();
        while let Some(input) = inputs.pop_front() {
            actions.clear();
            self.fle
                .borrow_mut()
                .step(input, self.now_ms(), &mut actions);
            for action in actions.drain(..) {
                match action {
                    Action::Send { to, notification } if to == self.myid => {
                        inputs.push_back(Input::Received {
                            from: to,
                            notification,
                        });
                    }
                    Action::Send { to, notification } => {
                        let mut frame = BytesMut::new();
                        notification.encode_frame(&mut frame);
                        cnx::send(self, to, frame.freeze());
                    }
                    Action::SetTimer { at_ms } => {
                        self.timer_at.set(Some(at_ms));
                        self.timer_wake.raise();
                    }
                    Action::Decide { decision, vote, by } => {
                        tracing::info!(
                            "election: server {} decided {decision:?} (vote for {} zxid \
                             {:#x} epoch {}, round {}, by {by:?})",
                            self.myid,
                            vote.id,
                            vote.zxid,
                            vote.peer_epoch,
                            vote.election_epoch
                        );
                        *self.decided.borrow_mut() = Some(Decided { decision, vote, by });
                        self.decided_wake.raise();
                    }
                }
            }
        }
    }
}

/// Delivers `Input::Tick` when the machine's timer runs out.
async fn timer_task(core: Rc<Core>) {
    use futures_lite::future::or;
    while !core.stopped.get() {
        match core.timer_at.get() {
            None => core.timer_wake.wait().await,
            Some(at) => {
                let now = core.now_ms();
                if now >= at {
                    core.timer_at.set(None);
                    core.feed(Input::Tick);
                } else {
                    or(
                        glommio::timer::sleep(Duration::from_millis(at - now)),
                        core.timer_wake.wait(),
                    )
                    .await;
                }
            }
        }
    }
}

/// One address for `host:port` (an IPv4 one first, as Java's resolver prefers).
fn resolve(what: &str, host: &str, port: u16) -> Result<SocketAddr, ElectionError> {
    let err = |reason: String| ElectionError::Resolve {
        what: what.to_owned(),
        host: host.to_owned(),
        reason,
    };
    let all: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| err("no address".into()))
}
