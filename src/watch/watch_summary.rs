//! `WatchSummary`: the numbers of the `wchs` four-letter word.

/// `wchs` prints "{sessions} connections watching {paths} paths\nTotal watches:{watches}".
/// Like ZooKeeper (`DataTree.getWatchesSummary`), these count the data table only: child
/// watches (getChildren) do not appear; persistent watches appear because they live in
/// both tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WatchSummary {
    /// Sessions with at least one data-table watch.
    pub sessions: usize,
    /// Distinct paths in the data table.
    pub paths: usize,
    /// `(session, path)` pairs in the data table.
    pub watches: usize,
}
