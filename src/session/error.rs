//! Errors of the session tracker.

/// A session could not be tracked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// `SESSIONS_MAX` sessions are already tracked. ZooKeeper has no such limit; the
    /// server should refuse the connect (close the connection) rather than queue it.
    #[error("the tracker already holds the maximum of {max} sessions")]
    TooManySessions { max: usize },
    /// A new session's id is already tracked (or is reserved).
    #[error("session id 0x{id:x} is already in use")]
    IdInUse { id: i64 },
}
