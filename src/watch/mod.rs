//! Watch registry of one session core: which of its sessions watch which paths, and
//! which notifications one applied tree change produces (ZooKeeper 3.9 semantics).
//!
//! Owns: one-shot data/child watches, persistent and persistent-recursive watches,
//! setWatches replay, removeWatches/checkWatches matching, the `wchs`/`wchc`/`wchp`
//! dumps and mntr's watch count.
//!
//! Must never: do I/O, read a clock, touch the tree (the caller passes what changed and,
//! for setWatches, a lookup of node zxids), or check ACLs (the server filters events).
//! Paths are taken as given; the server validates them first.

mod add_watch_mode;
mod error;
mod event_type;
mod modes;
mod registry;
mod set_watches;
mod table;
mod watch_event;
mod watch_summary;
mod watcher_type;

#[cfg(test)]
mod tests;

pub use add_watch_mode::AddWatchMode;
pub use error::WatchError;
pub use event_type::EventType;
pub use registry::WatchRegistry;
pub use set_watches::{NodeZxids, SetWatches};
pub use watch_event::WatchEvent;
pub use watch_summary::WatchSummary;
pub use watcher_type::WatcherType;

/// A ZooKeeper session id (a Java `long`).
pub type SessionId = i64;

/// Most watch entries one session may hold, summed over the data and child tables (a
/// persistent watch takes one entry in each). ZooKeeper has no limit; 2^20 is far above
/// real use (Curator caches rarely exceed tens of thousands) while bounding the memory
/// one misbehaving client can pin (~100 MB at ~100 bytes an entry).
pub const WATCHES_PER_SESSION_MAX: usize = 1 << 20;
