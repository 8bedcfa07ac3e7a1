//! `AddWatchMode`: the `mode` field of `AddWatchRequest` (`ZooDefs.AddWatchModes`).

/// Which kind of persistent watch addWatch installs.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddWatchMode {
    /// Fires for the path itself (data, create, delete, children) until removed.
    Persistent = 0,
    /// Fires for the path and every descendant, but never NodeChildrenChanged
    /// (ZOOKEEPER-4475), until removed.
    PersistentRecursive = 1,
}

impl TryFrom<i32> for AddWatchMode {
    /// The unknown wire value; ZooKeeper rejects it (`WatcherMode.fromZooDef` throws).
    type Error = i32;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        match value {
            0 => Ok(Self::Persistent),
            1 => Ok(Self::PersistentRecursive),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip() {
        assert_eq!(AddWatchMode::try_from(0), Ok(AddWatchMode::Persistent));
        assert_eq!(
            AddWatchMode::try_from(1),
            Ok(AddWatchMode::PersistentRecursive)
        );
        assert_eq!(AddWatchMode::try_from(2), Err(2));
        assert_eq!(AddWatchMode::PersistentRecursive as i32, 1);
    }
}
