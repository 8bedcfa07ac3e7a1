//! `WatchRegistry`: every watch of the sessions of one session core, with ZooKeeper 3.9
//! semantics (`DataTree` + two `WatchManager`s).
//!
//! Like ZooKeeper it keeps two tables:
//! * the data table: one-shot data watches (getData, and exists whether or not the node
//!   exists), persistent watches and persistent-recursive watches;
//! * the child table: one-shot child watches (getChildren/getChildren2) and persistent
//!   watches (a persistent watch is in both tables; a recursive one only in the data
//!   table, which is why recursive watches never see NodeChildrenChanged, ZOOKEEPER-4475).
//!
//! All modes coexist per (session, path) (ZOOKEEPER-4466). A table entry holds a bit set
//! of modes; a trigger clears the one-shot bit and keeps the persistent ones.
//!
//! It never reads the tree: callers tell it which change was applied (`on_create`,
//! `on_delete`, `on_set_data`). setACL fires no watch in ZooKeeper, so there is no
//! `on_acl_change`. It never filters by ACL (see `WatchEvent`).

use super::modes::Modes;
use super::table::{parent, WatchTable};
use super::{
    AddWatchMode, EventType, SessionId, WatchError, WatchEvent, WatchSummary, WatcherType,
    WATCHES_PER_SESSION_MAX,
};

/// The watch registry. Invariant: every session holds at most `WATCHES_PER_SESSION_MAX`
/// entries summed over both tables (an entry is one (path, table) pair, whatever modes).
#[derive(Debug, Default)]
pub struct WatchRegistry {
    data: WatchTable,
    child: WatchTable,
    /// Reused buffers for `on_*` so a trigger allocates nothing in steady state.
    fired: Vec<SessionId>,
    fired_child: Vec<SessionId>,
}

impl WatchRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// One-shot data watch: getData (only when the node exists — ZooKeeper fails with
    /// NONODE before registering) and exists (always, so it can fire NodeCreated).
    pub fn add_data_watch(&mut self, session: SessionId, path: &str) -> Result<(), WatchError> {
        self.add(session, path, Modes::STANDARD, Modes::NONE)
    }

    /// One-shot child watch: getChildren/getChildren2 (only when the node exists).
    pub fn add_child_watch(&mut self, session: SessionId, path: &str) -> Result<(), WatchError> {
        self.add(session, path, Modes::NONE, Modes::STANDARD)
    }

    /// addWatch. The node need not exist. Persistent goes into both tables, recursive
    /// into the data table only (`DataTree.addWatch`).
    pub fn add_watch(
        &mut self,
        session: SessionId,
        path: &str,
        mode: AddWatchMode,
    ) -> Result<(), WatchError> {
        match mode {
            AddWatchMode::Persistent => {
                self.add(session, path, Modes::PERSISTENT, Modes::PERSISTENT)
            }
            AddWatchMode::PersistentRecursive => {
                self.add(session, path, Modes::RECURSIVE, Modes::NONE)
            }
        }
    }

    /// Adds `data_mode` to the data table and `child_mode` to the child table (either may
    /// be empty), all or nothing with respect to the per-session limit.
    pub(super) fn add(
        &mut self,
        session: SessionId,
        path: &str,
        data_mode: Modes,
        child_mode: Modes,
    ) -> Result<(), WatchError> {
        let new_entries =
            usize::from(!data_mode.is_empty() && self.data.modes(session, path).is_empty())
                + usize::from(!child_mode.is_empty() && self.child.modes(session, path).is_empty());
        if self.session_watch_count(session) + new_entries > WATCHES_PER_SESSION_MAX {
            return Err(WatchError::TooManyWatches {
                session,
                max: WATCHES_PER_SESSION_MAX,
            });
        }
        if !data_mode.is_empty() {
            self.data.add(session, path, data_mode);
        }
        if !child_mode.is_empty() {
            self.child.add(session, path, child_mode);
        }
        Ok(())
    }

    /// A node was created at `path` (`DataTree.createNode`): NodeCreated to the data table
    /// at `path` (one-shot, persistent, recursive there, and recursive on ancestors), then
    /// NodeChildrenChanged to the child table at the parent (one-shot child and
    /// persistent watchers of the parent). Events are appended in that order; within one
    /// event, sessions are in ascending order.
    pub fn on_create(&mut self, path: &str, out: &mut Vec<WatchEvent>) {
        self.fire_data(path, EventType::NodeCreated, out);
        self.fire_parent(path, out);
    }

    /// The node at `path` was deleted (`DataTree.deleteNode`): NodeDeleted to the data
    /// table at `path` (+ recursive ancestors), then NodeDeleted to the child table at
    /// `path` for sessions not already notified (their one-shot child watches are
    /// consumed either way), then NodeChildrenChanged to the child table at the parent.
    pub fn on_delete(&mut self, path: &str, out: &mut Vec<WatchEvent>) {
        self.fired.clear();
        self.data.trigger(path, &mut self.fired);
        self.fired_child.clear();
        self.child.trigger(path, &mut self.fired_child);
        // Both lists are sorted: merge them so each session appears once, in order.
        let mut merged = Vec::with_capacity(self.fired.len() + self.fired_child.len());
        merged.extend_from_slice(&self.fired);
        merged.extend_from_slice(&self.fired_child);
        merged.sort_unstable();
        merged.dedup();
        out.extend(
            merged
                .into_iter()
                .map(|s| WatchEvent::new(s, EventType::NodeDeleted, path)),
        );
        self.fire_parent(path, out);
    }

    /// The data of `path` changed (`DataTree.setData`): NodeDataChanged to the data table
    /// at `path` (+ recursive ancestors).
    pub fn on_set_data(&mut self, path: &str, out: &mut Vec<WatchEvent>) {
        self.fire_data(path, EventType::NodeDataChanged, out);
    }

    fn fire_data(&mut self, path: &str, event_type: EventType, out: &mut Vec<WatchEvent>) {
        self.fired.clear();
        self.data.trigger(path, &mut self.fired);
        out.extend(
            self.fired
                .iter()
                .map(|&s| WatchEvent::new(s, event_type, path)),
        );
    }

    fn fire_parent(&mut self, path: &str, out: &mut Vec<WatchEvent>) {
        let Some(parent) = parent(path) else {
            return;
        };
        self.fired.clear();
        self.child.trigger(parent, &mut self.fired);
        out.extend(
            self.fired
                .iter()
                .map(|&s| WatchEvent::new(s, EventType::NodeChildrenChanged, parent)),
        );
    }

    /// checkWatches (`DataTree.containsWatcher`): Children → one-shot child watch;
    /// Data → one-shot data watch (persistent ones do not count); Persistent /
    /// PersistentRecursive → that mode; Any → any mode in either table.
    /// False maps to NOWATCHER (−121).
    pub fn contains(&self, session: SessionId, path: &str, watcher_type: WatcherType) -> bool {
        match watcher_type {
            WatcherType::Children => self.child.modes(session, path).has(Modes::STANDARD),
            WatcherType::Data => self.data.modes(session, path).has(Modes::STANDARD),
            WatcherType::Persistent => self.data.modes(session, path).has(Modes::PERSISTENT),
            WatcherType::PersistentRecursive => {
                self.data.modes(session, path).has(Modes::RECURSIVE)
            }
            WatcherType::Any => {
                !self.child.modes(session, path).is_empty()
                    || !self.data.modes(session, path).is_empty()
            }
        }
    }

    /// removeWatches (`DataTree.removeWatch`), same matching as `contains`; Persistent is
    /// removed from both tables, Any removes every mode from both tables. Returns whether
    /// anything was removed (false maps to NOWATCHER). The server sends no event for a
    /// removal: DataWatchRemoved etc. are produced by the client library.
    pub fn remove(&mut self, session: SessionId, path: &str, watcher_type: WatcherType) -> bool {
        match watcher_type {
            WatcherType::Children => self.child.remove(session, path, Modes::STANDARD),
            WatcherType::Data => self.data.remove(session, path, Modes::STANDARD),
            WatcherType::Persistent => {
                let child = self.child.remove(session, path, Modes::PERSISTENT);
                let data = self.data.remove(session, path, Modes::PERSISTENT);
                child || data
            }
            WatcherType::PersistentRecursive => self.data.remove(session, path, Modes::RECURSIVE),
            WatcherType::Any => {
                let child = self.child.remove(session, path, Modes::ALL);
                let data = self.data.remove(session, path, Modes::ALL);
                child || data
            }
        }
    }

    /// The session closed, expired or moved to another core: drop all its watches.
    pub fn remove_session(&mut self, session: SessionId) {
        self.data.remove_session(session);
        self.child.remove_session(session);
    }

    /// Entries `session` holds over both tables (what `WATCHES_PER_SESSION_MAX` bounds).
    pub fn session_watch_count(&self, session: SessionId) -> usize {
        self.data.session_paths(session) + self.child.session_paths(session)
    }

    /// mntr `zk_watch_count`: (path, session) pairs in the data table plus those in the
    /// child table (`DataTree.getWatchCount`), so a persistent watch counts twice.
    pub fn watch_count(&self) -> usize {
        self.data.entry_count() + self.child.entry_count()
    }

    /// `wchs` (data table only, like ZooKeeper; see `WatchSummary`).
    pub fn summary(&self) -> WatchSummary {
        WatchSummary {
            sessions: self.data.session_count(),
            paths: self.data.path_count(),
            watches: self.data.entry_count(),
        }
    }

    /// `wchc`: per session (ascending), its watched paths (sorted). Data table only,
    /// like ZooKeeper's `dumpWatches(byPath=false)`.
    pub fn by_session(&self) -> Vec<(SessionId, Vec<&str>)> {
        self.data.by_session()
    }

    /// `wchp`: per path (sorted), the sessions watching it (ascending). Data table only,
    /// like ZooKeeper's `dumpWatches(byPath=true)`.
    pub fn by_path(&self) -> Vec<(&str, Vec<SessionId>)> {
        self.data.by_path()
    }

    #[cfg(test)]
    pub(super) fn validate(&self) {
        self.data.validate();
        self.child.validate();
    }
}
