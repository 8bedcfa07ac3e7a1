//! The log of quota checks (`enforceQuota`): prep leaves its messages in the
//! outstanding changes and the quorum task hands them here. Rate-limited as
//! ZooKeeper's `RateLogger` does: a new message is logged at once; the same message
//! again within 100 ms is only counted, and the count is logged with the next message
//! that is different or comes later.

use std::cell::RefCell;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(100);

#[derive(Default)]
struct RateLogger {
    last: Option<(String, Instant)>,
    /// Repeats of `last` not logged yet.
    repeats: u32,
}

impl RateLogger {
    /// The line that reports the repeats not logged yet, if any.
    fn flush(&mut self) -> Option<String> {
        let line = match &self.last {
            Some((msg, _)) if self.repeats > 0 => Some(format!("[{} times] {msg}", self.repeats)),
            _ => None,
        };
        self.repeats = 0;
        line
    }

    /// Takes `msg` at `now`; returns the lines to log.
    fn take(&mut self, msg: String, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        match &self.last {
            Some((last, at)) if *last == msg => {
                self.repeats += 1;
                if now.duration_since(*at) >= INTERVAL {
                    out.extend(self.flush());
                    self.last = Some((msg, now));
                }
            }
            _ => {
                out.extend(self.flush());
                out.push(msg.clone());
                self.last = Some((msg, now));
            }
        }
        out
    }
}

thread_local! {
    // One quorum task per server, on one thread.
    static LOGGER: RefCell<RateLogger> = RefCell::new(RateLogger::default());
}

/// Logs (WARN) what `Outstanding::take_quota_warnings` returned.
pub fn log(messages: Vec<String>) {
    if messages.is_empty() {
        return;
    }
    let now = Instant::now();
    LOGGER.with(|l| {
        let mut l = l.borrow_mut();
        for m in messages {
            for line in l.take(m, now) {
                tracing::warn!("{line}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_interval_are_counted_not_logged() {
        let mut l = RateLogger::default();
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(l.take("a".into(), t0), ["a"]);
        assert!(l.take("a".into(), ms(10)).is_empty());
        assert!(l.take("a".into(), ms(20)).is_empty());
        // A different message reports the repeats, then itself.
        assert_eq!(l.take("b".into(), ms(30)), ["[2 times] a", "b"]);
        // The same message after the interval reports the count (itself included).
        assert!(l.take("b".into(), ms(50)).is_empty());
        assert_eq!(l.take("b".into(), ms(200)), ["[2 times] b"]);
        assert_eq!(l.take("c".into(), ms(210)), ["c"]);
    }
}
