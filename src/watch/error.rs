//! Errors of the watch registry.

use super::SessionId;

/// A watch could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// The session already holds `max` watch entries (`WATCHES_PER_SESSION_MAX`). Nothing
    /// was registered. ZooKeeper has no such limit, so no error code exists for it; the
    /// server should fail the request that asked for the watch rather than silently drop
    /// the watch.
    #[error("session {session:#x} holds the maximum of {max} watches")]
    TooManyWatches { session: SessionId, max: usize },
}
