//! The watches this session holds at the server, as far as the client can tell, kept
//! only to set them again (setWatches2) after a reconnection.
//!
//! One-shot watches are added when a watching read succeeds and dropped when their
//! event arrives; persistent ones stay until removed.

use std::collections::HashSet;

use super::event::{event_type, WatcherType};
use crate::proto::SetWatches2;

#[derive(Debug, Default)]
pub(crate) struct WatchSet {
    data: HashSet<String>,
    exist: HashSet<String>,
    child: HashSet<String>,
    persistent: HashSet<String>,
    recursive: HashSet<String>,
}

/// Which kind of watch a successful request left.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Data,
    Exist,
    Child,
    Persistent,
    Recursive,
}

impl WatchSet {
    pub(crate) fn add(&mut self, kind: Kind, path: &str) {
        let set = match kind {
            Kind::Data => &mut self.data,
            Kind::Exist => &mut self.exist,
            Kind::Child => &mut self.child,
            Kind::Persistent => &mut self.persistent,
            Kind::Recursive => &mut self.recursive,
        };
        if !set.contains(path) {
            set.insert(path.to_owned());
        }
    }

    /// A notification fired: the one-shot watches it consumed are gone.
    pub(crate) fn on_event(&mut self, t: i32, path: &str) {
        match t {
            event_type::NODE_CREATED => {
                self.exist.remove(path);
            }
            event_type::NODE_DATA_CHANGED => {
                self.data.remove(path);
                self.exist.remove(path);
            }
            event_type::NODE_DELETED => {
                self.data.remove(path);
                self.exist.remove(path);
                self.child.remove(path);
            }
            event_type::NODE_CHILDREN_CHANGED => {
                self.child.remove(path);
            }
            _ => {}
        }
    }

    /// removeWatches succeeded for `kind`.
    pub(crate) fn remove(&mut self, kind: WatcherType, path: &str) {
        let (data, child, persistent, recursive) = match kind {
            WatcherType::Children => (false, true, false, false),
            WatcherType::Data => (true, false, false, false),
            WatcherType::Persistent => (false, false, true, false),
            WatcherType::PersistentRecursive => (false, false, false, true),
            WatcherType::Any => (true, true, true, true),
        };
        if data {
            self.data.remove(path);
            self.exist.remove(path);
        }
        if child {
            self.child.remove(path);
        }
        if persistent {
            self.persistent.remove(path);
        }
        if recursive {
            self.recursive.remove(path);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    /// The record that re-sets every watch, for changes after `relative_zxid`.
    pub(crate) fn to_set_watches2(&self, relative_zxid: i64) -> SetWatches2 {
        let v = |s: &HashSet<String>| s.iter().cloned().collect::<Vec<_>>();
        SetWatches2 {
            relative_zxid,
            data_watches: v(&self.data),
            exist_watches: v(&self.exist),
            child_watches: v(&self.child),
            persistent_watches: v(&self.persistent),
            persistent_recursive_watches: v(&self.recursive),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_go_with_their_event_persistent_ones_stay() {
        let mut w = WatchSet::default();
        w.add(Kind::Data, "/a");
        w.add(Kind::Child, "/a");
        w.add(Kind::Exist, "/b");
        w.add(Kind::Recursive, "/");
        w.on_event(event_type::NODE_DATA_CHANGED, "/a");
        w.on_event(event_type::NODE_CREATED, "/b");
        let s = w.to_set_watches2(7);
        assert!(s.data_watches.is_empty() && s.exist_watches.is_empty());
        assert_eq!(s.child_watches, vec!["/a".to_string()]);
        w.on_event(event_type::NODE_DELETED, "/a");
        w.on_event(event_type::NODE_DELETED, "/");
        assert!(!w.is_empty());
        w.remove(WatcherType::Any, "/");
        assert!(w.is_empty());
    }
}
