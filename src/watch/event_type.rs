//! `EventType`: the kind of change a watch notification reports, with ZooKeeper's wire
//! numbers (`Watcher.Event.EventType`). These are protocol values sent in
//! `WatcherEvent.type`; never renumber them.

/// What happened to the watched path. `#[repr(i32)]` so `as i32` is the wire value.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// Connection state changes only (never produced by the registry).
    None = -1,
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
    /// Client-local: reported by the client library after removeWatches, never sent by
    /// the server.
    DataWatchRemoved = 5,
    /// Client-local, like `DataWatchRemoved`.
    ChildWatchRemoved = 6,
    /// Client-local, like `DataWatchRemoved`.
    PersistentWatchRemoved = 7,
}

impl TryFrom<i32> for EventType {
    /// The unknown wire value.
    type Error = i32;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        Ok(match value {
            -1 => Self::None,
            1 => Self::NodeCreated,
            2 => Self::NodeDeleted,
            3 => Self::NodeDataChanged,
            4 => Self::NodeChildrenChanged,
            5 => Self::DataWatchRemoved,
            6 => Self::ChildWatchRemoved,
            7 => Self::PersistentWatchRemoved,
            other => return Err(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        for v in [-1, 1, 2, 3, 4, 5, 6, 7] {
            let t = EventType::try_from(v).expect("known value");
            assert_eq!(t as i32, v);
        }
        assert_eq!(EventType::try_from(0), Err(0));
        assert_eq!(EventType::try_from(8), Err(8));
    }
}
