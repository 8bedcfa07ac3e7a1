//! Sessions with client traffic, marked by the session cores and taken by the quorum
//! task when it needs them: before it expires sessions (standalone or leader) and when
//! it answers a leader's PING (follower), as ZooKeeper's session tracker and a
//! learner's touch table are read. No timer stands between a packet and its touch, so
//! a session core whose timers stall (a clock stepped back, a paused thread) cannot
//! make a session with traffic look idle.
//!
//! One slot per session core, each on its own cache lines: a core's marks touch only
//! its slot, uncontended except for the moment the quorum task drains it.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use super::messages::CoreIdx;

#[repr(align(128))]
#[derive(Default)]
struct Slot(Mutex<HashSet<i64>>);

pub struct TouchBoard {
    slots: Box<[Slot]>,
}

impl TouchBoard {
    pub fn new(session_cores: usize) -> Self {
        TouchBoard {
            slots: (0..session_cores.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// Session `id`, attached to session core `core`, had client traffic.
    pub fn mark(&self, core: CoreIdx, id: i64) {
        if let Some(slot) = self.slots.get(core) {
            slot.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id);
        }
    }

    /// Every session marked since the last take, once each.
    pub fn take(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        for slot in self.slots.iter() {
            let mut set = slot.0.lock().unwrap_or_else(PoisonError::into_inner);
            ids.extend(set.drain());
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_from_every_core_are_taken_once() {
        let b = TouchBoard::new(2);
        b.mark(0, 7);
        b.mark(1, 8);
        b.mark(0, 7);
        b.mark(5, 9); // no such core: ignored
        let mut ids = b.take();
        ids.sort_unstable();
        assert_eq!(ids, vec![7, 8]);
        assert!(b.take().is_empty());
    }
}
