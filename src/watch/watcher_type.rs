//! `WatcherType`: which watches a checkWatches / removeWatches request names
//! (`Watcher.WatcherType` in ZooKeeper). Wire values are protocol numbers.

/// The `type` field of `CheckWatchesRequest` / `RemoveWatchesRequest`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatcherType {
    /// One-shot child watches (getChildren).
    Children = 1,
    /// One-shot data watches (getData, exists).
    Data = 2,
    /// Every watch mode of the session on the path.
    Any = 3,
    /// Persistent (addWatch mode 0) watches.
    Persistent = 4,
    /// Persistent-recursive (addWatch mode 1) watches.
    PersistentRecursive = 5,
}

impl TryFrom<i32> for WatcherType {
    /// The unknown wire value.
    type Error = i32;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        Ok(match value {
            1 => Self::Children,
            2 => Self::Data,
            3 => Self::Any,
            4 => Self::Persistent,
            5 => Self::PersistentRecursive,
            other => return Err(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        for v in 1..=5 {
            let t = WatcherType::try_from(v).expect("known value");
            assert_eq!(t as i32, v);
        }
        assert_eq!(WatcherType::try_from(0), Err(0));
        assert_eq!(WatcherType::try_from(6), Err(6));
    }
}
