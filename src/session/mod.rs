//! Session tracking for the quorum core, the authority on expiry: session ids,
//! passwords, timeout negotiation and tick-bucketed expiry (ZooKeeper's
//! `SessionTrackerImpl`, `ExpiryQueue`, `ZooKeeperServer.generatePasswd`).
//!
//! Must never: do I/O, read a clock (time arrives as `now_ms`), or use a random source
//! (passwords are a deterministic function of the id, as in ZooKeeper). It does not own
//! ephemeral nodes or connections; the driver turns expiries into closeSession txns.

mod error;
mod expiry_queue;
mod java_random;
mod password;
mod timeout_bounds;
mod tracker;

pub use error::SessionError;
pub use expiry_queue::ExpiryQueue;
pub use java_random::JavaRandom;
pub use password::{check_password, password, PASSWORD_LEN, SUPER_SECRET};
pub use timeout_bounds::{TimeoutBounds, TIMEOUT_MAX_TICKS_DEFAULT, TIMEOUT_MIN_TICKS_DEFAULT};
pub use tracker::{
    initial_session_id, SessionIdGen, SessionInfo, SessionTracker, CONTAINER_EPHEMERAL_OWNER,
};

pub use crate::watch::SessionId;

/// Most sessions one tracker holds. ZooKeeper has no limit (only per-host
/// `maxClientCnxns`); 2^20 sessions is far above what an ensemble serves while bounding
/// the table (~100 MB worst case). At the limit `create` fails and the connect is refused.
pub const SESSIONS_MAX: usize = 1 << 20;
