//! `WatchEvent`: one notification the registry decided to deliver.

use super::{EventType, SessionId};

/// "Send `event_type` for `path` to `session`".
///
/// The server turns it into a `WatcherEvent{type, state: SyncConnected(3), path}` frame
/// with xid −1. For events from a tree change, ZooKeeper 3.9 puts the txn zxid in the
/// reply header and first checks that the session may READ the event path (the ACL of
/// the created/deleted/changed node, or of the parent for NodeChildrenChanged, as it was
/// when the txn applied); if not, the event is silently dropped (the one-shot watch is
/// still consumed). Events from setWatches carry zxid −1 and skip the ACL check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub session: SessionId,
    pub event_type: EventType,
    pub path: String,
}

impl WatchEvent {
    pub fn new(session: SessionId, event_type: EventType, path: &str) -> Self {
        Self {
            session,
            event_type,
            path: path.to_owned(),
        }
    }
}
