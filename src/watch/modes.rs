//! `Modes`: the set of watch modes one session holds on one path in one table
//! (ZooKeeper's `WatchStats`). A tiny bit set so one map entry carries every mode.

/// Bit set of {standard, persistent, persistent-recursive}.
///
/// Invariant: a `Modes` stored in a table is never empty; an empty set means "no entry".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Modes(u8);

impl Modes {
    pub const NONE: Modes = Modes(0);
    /// One-shot watch: removed when it fires.
    pub const STANDARD: Modes = Modes(1);
    /// Stays after firing; fires only for the path itself.
    pub const PERSISTENT: Modes = Modes(2);
    /// Stays after firing; fires for the path and its descendants.
    pub const RECURSIVE: Modes = Modes(4);
    /// Every mode: used for "remove whatever the session has" (WatcherType::Any).
    pub const ALL: Modes = Modes(7);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when any mode of `other` is in `self`.
    pub fn has(self, other: Modes) -> bool {
        self.0 & other.0 != 0
    }

    pub fn with(self, other: Modes) -> Modes {
        Modes(self.0 | other.0)
    }

    pub fn without(self, other: Modes) -> Modes {
        Modes(self.0 & !other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let m = Modes::STANDARD.with(Modes::RECURSIVE);
        assert!(m.has(Modes::STANDARD));
        assert!(!m.has(Modes::PERSISTENT));
        assert!(m.has(Modes::ALL));
        assert_eq!(m.without(Modes::STANDARD), Modes::RECURSIVE);
        assert!(m.without(Modes::ALL).is_empty());
        assert!(Modes::NONE.is_empty());
    }
}
