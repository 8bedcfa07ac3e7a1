//! `WatchTable`: one of the two watch tables of a registry (ZooKeeper keeps a "data"
//! and a "child" `WatchManager`). It maps path → session → modes and session → paths,
//! and knows how one trigger consumes one-shot watches.
//!
//! It owns only bookkeeping: it never decides which table an operation touches (that is
//! `WatchRegistry`'s job, mirroring `DataTree`) and never enforces limits.

use std::collections::{HashMap, HashSet};

use super::modes::Modes;
use super::SessionId;

/// Watches of one kind, indexed both ways.
///
/// Invariants: `by_path[p][s]` exists iff `p ∈ by_session[s]`; no stored `Modes` is empty;
/// no inner map or set is empty; `recursive` equals the number of `(path, session)`
/// entries whose modes contain `Modes::RECURSIVE`.
#[derive(Debug, Default)]
pub struct WatchTable {
    by_path: HashMap<Box<str>, HashMap<SessionId, Modes>>,
    by_session: HashMap<SessionId, HashSet<Box<str>>>,
    /// Lets `trigger` skip the ancestor walk when no recursive watch exists.
    recursive: usize,
}

impl WatchTable {
    /// Modes `session` holds on `path` (empty if none).
    pub fn modes(&self, session: SessionId, path: &str) -> Modes {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&session))
            .copied()
            .unwrap_or(Modes::NONE)
    }

    /// Number of paths `session` watches in this table.
    pub fn session_paths(&self, session: SessionId) -> usize {
        self.by_session.get(&session).map_or(0, HashSet::len)
    }

    /// Adds `mode` for `session` on `path`. Returns true if the modes changed.
    pub fn add(&mut self, session: SessionId, path: &str, mode: Modes) -> bool {
        let sessions = self.by_path.entry(path.into()).or_default();
        let old = sessions.get(&session).copied().unwrap_or(Modes::NONE);
        let new = old.with(mode);
        if new == old {
            return false;
        }
        sessions.insert(session, new);
        if old.is_empty() {
            self.by_session
                .entry(session)
                .or_default()
                .insert(path.into());
        }
        if new.has(Modes::RECURSIVE) && !old.has(Modes::RECURSIVE) {
            self.recursive += 1;
        }
        true
    }

    /// Removes the modes in `mode` for `session` on `path`. Returns true if any was held.
    pub fn remove(&mut self, session: SessionId, path: &str, mode: Modes) -> bool {
        let Some(sessions) = self.by_path.get_mut(path) else {
            return false;
        };
        let old = sessions.get(&session).copied().unwrap_or(Modes::NONE);
        let new = old.without(mode);
        if new == old {
            return false;
        }
        if old.has(Modes::RECURSIVE) && !new.has(Modes::RECURSIVE) {
            self.recursive -= 1;
        }
        if !new.is_empty() {
            sessions.insert(session, new);
            return true;
        }
        sessions.remove(&session);
        if sessions.is_empty() {
            self.by_path.remove(path);
        }
        Self::forget_path(&mut self.by_session, session, path);
        true
    }

    /// Drops every watch of `session`.
    pub fn remove_session(&mut self, session: SessionId) {
        let Some(paths) = self.by_session.remove(&session) else {
            return;
        };
        for path in paths.iter() {
            let Some(sessions) = self.by_path.get_mut(path) else {
                continue;
            };
            if let Some(modes) = sessions.remove(&session) {
                if modes.has(Modes::RECURSIVE) {
                    self.recursive -= 1;
                }
            }
            if sessions.is_empty() {
                self.by_path.remove(path);
            }
        }
    }

    /// Fires the table for a change at `path` (ZooKeeper `WatchManager.triggerWatch`):
    /// every session with any mode on `path` itself fires and loses its one-shot mode;
    /// sessions with a recursive watch on a proper ancestor fire and keep it.
    /// Appends the fired sessions to `fired`, sorted and without duplicates.
    pub fn trigger(&mut self, path: &str, fired: &mut Vec<SessionId>) {
        let start = fired.len();
        if let Some(sessions) = self.by_path.get_mut(path) {
            sessions.retain(|&session, modes| {
                fired.push(session);
                *modes = modes.without(Modes::STANDARD);
                if modes.is_empty() {
                    Self::forget_path(&mut self.by_session, session, path);
                }
                !modes.is_empty()
            });
            if sessions.is_empty() {
                self.by_path.remove(path);
            }
        }
        if self.recursive > 0 {
            let mut ancestor = parent(path);
            while let Some(p) = ancestor {
                if let Some(sessions) = self.by_path.get(p) {
                    let recursive = sessions.iter().filter(|(_, m)| m.has(Modes::RECURSIVE));
                    fired.extend(recursive.map(|(&s, _)| s));
                }
                ancestor = parent(p);
            }
        }
        fired[start..].sort_unstable();
        let mut tail = fired.split_off(start);
        tail.dedup();
        fired.append(&mut tail);
    }

    /// Number of distinct sessions with at least one watch here.
    pub fn session_count(&self) -> usize {
        self.by_session.len()
    }

    /// Number of distinct watched paths.
    pub fn path_count(&self) -> usize {
        self.by_path.len()
    }

    /// Number of `(path, session)` entries (ZooKeeper `WatchManager.size()`).
    pub fn entry_count(&self) -> usize {
        self.by_session.values().map(HashSet::len).sum()
    }

    /// Sessions and the paths each watches, both sorted.
    pub fn by_session(&self) -> Vec<(SessionId, Vec<&str>)> {
        let mut out: Vec<(SessionId, Vec<&str>)> = self
            .by_session
            .iter()
            .map(|(&s, paths)| {
                let mut paths: Vec<&str> = paths.iter().map(|p| &**p).collect();
                paths.sort_unstable();
                (s, paths)
            })
            .collect();
        out.sort_unstable_by_key(|(s, _)| *s);
        out
    }

    /// Paths and the sessions watching each, both sorted.
    pub fn by_path(&self) -> Vec<(&str, Vec<SessionId>)> {
        let mut out: Vec<(&str, Vec<SessionId>)> = self
            .by_path
            .iter()
            .map(|(p, sessions)| {
                let mut ids: Vec<SessionId> = sessions.keys().copied().collect();
                ids.sort_unstable();
                (&**p, ids)
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out
    }

    fn forget_path(
        by_session: &mut HashMap<SessionId, HashSet<Box<str>>>,
        session: SessionId,
        path: &str,
    ) {
        if let Some(paths) = by_session.get_mut(&session) {
            paths.remove(path);
            if paths.is_empty() {
                by_session.remove(&session);
            }
        }
    }

    /// O(n) consistency check of the struct invariants, for tests.
    #[cfg(test)]
    pub fn validate(&self) {
        let mut recursive = 0;
        for (path, sessions) in &self.by_path {
            assert!(!sessions.is_empty(), "empty session map for {path}");
            for (s, modes) in sessions {
                assert!(!modes.is_empty());
                assert!(self.by_session[s].contains(path));
                recursive += usize::from(modes.has(Modes::RECURSIVE));
            }
        }
        for (s, paths) in &self.by_session {
            assert!(!paths.is_empty());
            for p in paths {
                assert!(self.by_path[p].contains_key(s));
            }
        }
        assert_eq!(recursive, self.recursive);
    }
}

/// Parent of an absolute ZooKeeper path: "/a/b" → "/a", "/a" → "/", "/" → none.
/// Paths without a '/' (invalid; the server validates paths first) have no parent.
pub fn parent(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&path[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_paths() {
        assert_eq!(parent("/a/b/c"), Some("/a/b"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(parent("nope"), None);
    }

    #[test]
    fn add_remove_keeps_indexes_consistent() {
        let mut t = WatchTable::default();
        assert!(t.add(1, "/a", Modes::STANDARD));
        assert!(!t.add(1, "/a", Modes::STANDARD));
        assert!(t.add(1, "/a", Modes::RECURSIVE));
        assert!(t.add(2, "/a", Modes::PERSISTENT));
        t.validate();
        assert_eq!(t.entry_count(), 2);
        assert!(t.remove(1, "/a", Modes::RECURSIVE));
        assert!(!t.remove(1, "/a", Modes::RECURSIVE));
        assert!(t.remove(1, "/a", Modes::ALL));
        t.validate();
        assert_eq!(t.session_count(), 1);
        t.remove_session(2);
        t.validate();
        assert_eq!(t.path_count(), 0);
    }

    #[test]
    fn trigger_consumes_one_shot_and_walks_ancestors() {
        let mut t = WatchTable::default();
        t.add(1, "/a/b", Modes::STANDARD);
        t.add(2, "/a/b", Modes::PERSISTENT);
        t.add(3, "/a", Modes::RECURSIVE);
        t.add(4, "/a", Modes::STANDARD);
        t.add(3, "/", Modes::RECURSIVE);
        let mut fired = vec![99];
        t.trigger("/a/b", &mut fired);
        assert_eq!(fired, vec![99, 1, 2, 3]);
        t.validate();
        assert!(t.modes(1, "/a/b").is_empty());
        assert_eq!(t.modes(4, "/a"), Modes::STANDARD);
    }
}
