//! The ephemeral index: the paths of the ephemerals each session owns, which session
//! close and getEphemerals walk instead of the whole tree.
//!
//! Persistent like the tree (`docs/versioned-tree.md`): sessions are keys of a
//! [`PersistentChildren`] map and each session's paths a shared set, so a version
//! shares the index and a change copies one root-to-leaf path and one session's set,
//! not every session's (10,000 sessions with ephemerals are common under Kafka or
//! service discovery). Owns only the index; the tree keeps it in step with its nodes.

use std::collections::BTreeSet;

use triomphe::Arc;

use super::persistent_children::PersistentChildren;

/// A path held by the index: one pointer to one allocation (count, length, bytes).
pub(super) type SharedPath = arcstr::ArcStr;

/// The key of a session: its id as 16 hex digits, so keys sort as the ids do as
/// unsigned numbers and fit a child name's inline storage.
struct Key([u8; 16]);

impl Key {
    fn of(session: i64) -> Key {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut k = [0u8; 16];
        let v = session as u64;
        for (i, b) in k.iter_mut().enumerate() {
            *b = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
        }
        Key(k)
    }

    fn as_str(&self) -> &str {
        // Only ASCII hex digits were written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The session id a key was made from (`None` for a key this index did not make).
fn session_of(key: &str) -> Option<i64> {
    u64::from_str_radix(key, 16).ok().map(|v| v as i64)
}

/// Session → the paths of its ephemerals. Invariant: no empty sets; `count` is the
/// number of paths over all sessions.
#[derive(Clone, Default)]
pub(super) struct Ephemerals {
    by_session: PersistentChildren<Arc<BTreeSet<SharedPath>>>,
    count: usize,
}

impl Ephemerals {
    /// The paths `session` owns, if any.
    pub(super) fn get(&self, session: i64) -> Option<&BTreeSet<SharedPath>> {
        self.by_session.get(Key::of(session).as_str()).map(|s| &**s)
    }

    pub(super) fn insert(&mut self, session: i64, path: &str) {
        let key = Key::of(session);
        match self.by_session.get_mut(key.as_str()) {
            Some(set) => {
                if Arc::make_mut(set).insert(path.into()) {
                    self.count += 1;
                }
            }
            None => {
                self.by_session
                    .insert(key.as_str(), Arc::new(BTreeSet::from([path.into()])));
                self.count += 1;
            }
        }
    }

    /// Removes `path` from `session`'s set, and the set once it is empty.
    pub(super) fn remove(&mut self, session: i64, path: &str) {
        let key = Key::of(session);
        let Some(set) = self.by_session.get_mut(key.as_str()) else {
            return;
        };
        if !set.contains(path) {
            return;
        }
        let set = Arc::make_mut(set);
        set.remove(path);
        self.count -= 1;
        if set.is_empty() {
            self.by_session.remove(key.as_str());
        }
    }

    /// Takes every path of `session` out of the index.
    pub(super) fn take_session(&mut self, session: i64) -> BTreeSet<SharedPath> {
        let Some(set) = self.by_session.remove(Key::of(session).as_str()) else {
            return BTreeSet::new();
        };
        self.count -= set.len();
        Arc::try_unwrap(set).unwrap_or_else(|shared| (*shared).clone())
    }

    /// Sessions owning at least one ephemeral, in unsigned id order.
    pub(super) fn sessions(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_session.iter().filter_map(|(k, _)| session_of(k))
    }

    /// Every (session, paths), in unsigned id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (i64, &BTreeSet<SharedPath>)> {
        self.by_session
            .iter()
            .filter_map(|(k, s)| session_of(k).map(|id| (id, &**s)))
    }

    /// Paths over all sessions.
    pub(super) fn count(&self) -> usize {
        self.count
    }
}

impl PartialEq for Ephemerals {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Ephemerals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_as_unsigned_ids() {
        for id in [0i64, 1, 0x1234_5678_9abc_def0, -1, i64::MIN, i64::MAX] {
            assert_eq!(session_of(Key::of(id).as_str()), Some(id));
        }
        assert!(Key::of(1).as_str() < Key::of(2).as_str());
        assert!(Key::of(i64::MAX).as_str() < Key::of(-1).as_str());
    }

    #[test]
    fn sets_counts_and_versions() {
        let mut e = Ephemerals::default();
        for s in 0..100i64 {
            e.insert(s << 56 | s, &format!("/e{s}"));
            e.insert(s << 56 | s, &format!("/f{s}"));
        }
        e.insert(5 << 56 | 5, "/e5");
        assert_eq!(e.count(), 200);
        let old = e.clone();
        e.remove(5 << 56 | 5, "/e5");
        e.remove(5 << 56 | 5, "/nope");
        let taken = e.take_session(7 << 56 | 7);
        assert_eq!(taken.len(), 2);
        e.remove(5 << 56 | 5, "/f5");
        assert!(e.get(5 << 56 | 5).is_none());
        assert_eq!(e.count(), 196);
        assert_eq!(e.sessions().count(), 98);
        // The clone taken before is a version: none of that reached it.
        assert_eq!(old.count(), 200);
        assert_eq!(old.get(5 << 56 | 5).map(BTreeSet::len), Some(2));
        assert_eq!(old.get(7 << 56 | 7).map(BTreeSet::len), Some(2));
        assert!(old != e);
    }
}
