//! Watch management records: `SetWatches` (op 101), `SetWatches2` (105),
//! `AddWatchRequest` (106), `RemoveWatchesRequest` (18), `CheckWatchesRequest` (17),
//! and the `WatcherEvent` the server pushes with xid −1.

use super::codec::jute_record;

jute_record! {
    /// jute `SetWatches`: watches to re-register after a reconnect.
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    /// jute `SetWatches2`: `SetWatches` plus persistent watches (3.6).
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    /// jute `AddWatchRequest`; mode 0 persistent, 1 persistent recursive.
    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }
}

jute_record! {
    /// jute `RemoveWatchesRequest`; `watcher_type` is a `WatcherType` number.
    pub struct RemoveWatchesRequest {
        pub path: String,
        pub watcher_type: i32,
    }
}

jute_record! {
    /// jute `CheckWatchesRequest`.
    pub struct CheckWatchesRequest {
        pub path: String,
        pub watcher_type: i32,
    }
}

jute_record! {
    /// jute `WatcherEvent`: `event_type` is an `EventType`, `state` a `KeeperState`.
    pub struct WatcherEvent {
        pub event_type: i32,
        pub state: i32,
        pub path: String,
    }
}

/// `Watcher.Event.KeeperState` values the server sends.
pub mod keeper_state {
    pub const SYNC_CONNECTED: i32 = 3;
    pub const EXPIRED: i32 = -112;
}
