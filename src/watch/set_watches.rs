//! `SetWatches`: the watch lists a reconnecting client re-sends (setWatches, opcode 101,
//! and setWatches2, opcode 105), and their replay against this replica
//! (`DataTree.setWatches`).

use super::modes::Modes;
use super::{EventType, SessionId, WatchError, WatchEvent, WatchRegistry};

/// What the replica knows about a node, for the replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeZxids {
    /// zxid of the last change to the node's data (`Stat.mzxid`).
    pub mzxid: i64,
    /// zxid of the last change to the node's children (`Stat.pzxid`).
    pub pzxid: i64,
}

/// The body of a SetWatches / SetWatches2 request. setWatches (v1) has empty
/// `persistent` and `persistent_recursive` lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetWatches {
    /// The last zxid the client saw; changes after it were missed while disconnected.
    pub relative_zxid: i64,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
}

impl WatchRegistry {
    /// Replays a reconnecting session's watches, exactly as `DataTree.setWatches`:
    /// * data: node missing → NodeDeleted; mzxid > relative_zxid → NodeDataChanged;
    ///   else register a one-shot data watch;
    /// * exist: node present → NodeCreated; else register a one-shot data watch;
    /// * child: node missing → NodeDeleted; pzxid > relative_zxid → NodeChildrenChanged;
    ///   else register a one-shot child watch;
    /// * persistent / persistent-recursive: always re-registered, no event, whether or
    ///   not the node exists (so changes missed while disconnected are not reported).
    ///
    /// Events are appended to `out` in list order (data, exist, child) and are not
    /// deduplicated across lists (ZooKeeper sends one per list entry). They go out with
    /// zxid −1 and no ACL check.
    ///
    /// On `TooManyWatches` the replay stops: entries before the failing one are registered
    /// or reported in `out`, later ones are not.
    pub fn set_watches(
        &mut self,
        session: SessionId,
        request: &SetWatches,
        lookup: impl Fn(&str) -> Option<NodeZxids>,
        out: &mut Vec<WatchEvent>,
    ) -> Result<(), WatchError> {
        let since = request.relative_zxid;
        for path in &request.data {
            match lookup(path) {
                None => out.push(WatchEvent::new(session, EventType::NodeDeleted, path)),
                Some(z) if z.mzxid > since => {
                    out.push(WatchEvent::new(session, EventType::NodeDataChanged, path))
                }
                Some(_) => self.add(session, path, Modes::STANDARD, Modes::NONE)?,
            }
        }
        for path in &request.exist {
            match lookup(path) {
                Some(_) => out.push(WatchEvent::new(session, EventType::NodeCreated, path)),
                None => self.add(session, path, Modes::STANDARD, Modes::NONE)?,
            }
        }
        for path in &request.child {
            match lookup(path) {
                None => out.push(WatchEvent::new(session, EventType::NodeDeleted, path)),
                Some(z) if z.pzxid > since => out.push(WatchEvent::new(
                    session,
                    EventType::NodeChildrenChanged,
                    path,
                )),
                Some(_) => self.add(session, path, Modes::NONE, Modes::STANDARD)?,
            }
        }
        for path in &request.persistent {
            self.add(session, path, Modes::PERSISTENT, Modes::PERSISTENT)?;
        }
        for path in &request.persistent_recursive {
            self.add(session, path, Modes::RECURSIVE, Modes::NONE)?;
        }
        Ok(())
    }
}
