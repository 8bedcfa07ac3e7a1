//! `ExpiryQueue`: sessions grouped into tick-aligned expiry buckets (ZooKeeper's
//! `ExpiryQueue`). Rounding every deadline up to the next tick boundary gives a grace
//! period and lets the driver expire a whole bucket per timer wake-up.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::SessionId;

/// Deadline buckets. Invariants: every bucket key is a multiple of `tick_ms`; no bucket
/// is empty (unlike ZooKeeper, which leaves empty sets until polled, so the earliest key
/// is always a real deadline); `deadline_of[s] == t` iff `s ∈ buckets[t]`.
#[derive(Debug)]
pub struct ExpiryQueue {
    tick_ms: u64,
    buckets: BTreeMap<u64, HashSet<SessionId>>,
    deadline_of: HashMap<SessionId, u64>,
}

impl ExpiryQueue {
    /// # Panics
    /// If `tick_ms` is 0 (configuration must reject `tickTime=0`).
    pub fn new(tick_ms: u64) -> Self {
        assert!(tick_ms > 0, "tick_ms must be positive");
        Self {
            tick_ms,
            buckets: BTreeMap::new(),
            deadline_of: HashMap::new(),
        }
    }

    /// `roundToNextInterval`: the first tick boundary strictly after `time_ms`, so a
    /// deadline already on a boundary still moves to the next one.
    pub fn round_up(&self, time_ms: u64) -> u64 {
        (time_ms / self.tick_ms)
            .saturating_add(1)
            .saturating_mul(self.tick_ms)
    }

    /// Sets `session`'s deadline to `round_up(now_ms + timeout_ms)`, moving it between
    /// buckets. Returns the new deadline.
    pub fn update(&mut self, session: SessionId, now_ms: u64, timeout_ms: u64) -> u64 {
        let deadline = self.round_up(now_ms.saturating_add(timeout_ms));
        let old = self.deadline_of.insert(session, deadline);
        if old == Some(deadline) {
            return deadline;
        }
        if let Some(old) = old {
            self.take_from_bucket(old, session);
        }
        self.buckets.entry(deadline).or_default().insert(session);
        deadline
    }

    /// Removes `session`; returns its deadline if it was queued.
    pub fn remove(&mut self, session: SessionId) -> Option<u64> {
        let deadline = self.deadline_of.remove(&session)?;
        self.take_from_bucket(deadline, session);
        Some(deadline)
    }

    /// Removes every bucket whose deadline is `<= now_ms` (a session is due exactly at its
    /// bucket time) and appends their sessions to `out`, earliest bucket first, ascending
    /// id within a bucket.
    pub fn poll_due(&mut self, now_ms: u64, out: &mut Vec<SessionId>) {
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() > now_ms {
                break;
            }
            let start = out.len();
            out.extend(entry.remove());
            out[start..].sort_unstable();
            for s in &out[start..] {
                self.deadline_of.remove(s);
            }
        }
    }

    /// The earliest deadline, for the driver's timer; `None` when nothing is queued.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.buckets.keys().next().copied()
    }

    pub fn deadline_of(&self, session: SessionId) -> Option<u64> {
        self.deadline_of.get(&session).copied()
    }

    /// Buckets in deadline order with their sessions ascending (for the `dump` word).
    pub fn buckets(&self) -> Vec<(u64, Vec<SessionId>)> {
        self.buckets
            .iter()
            .map(|(&t, set)| {
                let mut ids: Vec<SessionId> = set.iter().copied().collect();
                ids.sort_unstable();
                (t, ids)
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.deadline_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deadline_of.is_empty()
    }

    fn take_from_bucket(&mut self, deadline: u64, session: SessionId) {
        if let Some(set) = self.buckets.get_mut(&deadline) {
            set.remove(&session);
            if set.is_empty() {
                self.buckets.remove(&deadline);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_next_tick() {
        let q = ExpiryQueue::new(2000);
        assert_eq!(q.round_up(0), 2000);
        assert_eq!(q.round_up(1999), 2000);
        assert_eq!(q.round_up(2000), 4000);
        assert_eq!(q.round_up(u64::MAX), u64::MAX);
    }

    #[test]
    fn update_moves_between_buckets_and_drops_empty_ones() {
        let mut q = ExpiryQueue::new(1000);
        assert_eq!(q.update(1, 100, 5000), 6000);
        assert_eq!(q.update(2, 100, 5000), 6000);
        assert_eq!(q.update(1, 2500, 5000), 8000);
        assert_eq!(q.buckets(), vec![(6000, vec![2]), (8000, vec![1])]);
        assert_eq!(q.remove(2), Some(6000));
        assert_eq!(q.remove(2), None);
        assert_eq!(q.buckets(), vec![(8000, vec![1])]);
        assert_eq!(q.next_deadline_ms(), Some(8000));
    }

    #[test]
    fn poll_due_takes_every_due_bucket_at_the_boundary() {
        let mut q = ExpiryQueue::new(1000);
        q.update(3, 0, 1000); // 2000
        q.update(1, 0, 1500); // 2000
        q.update(2, 0, 2000); // 3000
        let mut out = Vec::new();
        q.poll_due(1999, &mut out);
        assert!(out.is_empty());
        q.poll_due(2000, &mut out);
        assert_eq!(out, vec![1, 3]);
        q.poll_due(10_000, &mut out);
        assert_eq!(out, vec![1, 3, 2]);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline_ms(), None);
    }
}
