//! A watch trigger produced by applying a txn: the path and ZooKeeper's
//! `Watcher.Event.EventType` number. The watch registry turns these into events.

/// `EventType.NodeCreated`.
pub const NODE_CREATED: i32 = 1;
/// `EventType.NodeDeleted`.
pub const NODE_DELETED: i32 = 2;
/// `EventType.NodeDataChanged`.
pub const NODE_DATA_CHANGED: i32 = 3;
/// `EventType.NodeChildrenChanged`.
pub const NODE_CHILDREN_CHANGED: i32 = 4;

/// One trigger, in the order `DataTree` fires them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger {
    pub path: String,
    /// An `EventType` number (the constants above).
    pub event_type: i32,
}

impl WatchTrigger {
    pub fn new(path: &str, event_type: i32) -> WatchTrigger {
        WatchTrigger {
            path: path.to_owned(),
            event_type,
        }
    }
}
