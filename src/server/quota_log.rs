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
    fn flush(&mut self) {
        if let Some((msg, _)) = &self.last {
            if self.repeats > 0 {
                tracing::warn!("[{} times] {msg}", self.repeats);
            }
        }
        self.repeats = 0;
    }

    fn log(&mut self, msg: String, now: Instant) {
        match &self.last {
            Some((last, at)) if *last == msg => {
                self.repeats += 1;
                if now.duration_since(*at) >= INTERVAL {
                    self.flush();
                    self.last = Some((msg, now));
                }
            }
            _ => {
                self.flush();
                tracing::warn!("{msg}");
                self.last = Some((msg, now));
            }
        }
    }
}

thread_local! {
    // One quorum task per server, on one thread.
    static LOGGER: RefCell<RateLogger> = RefCell::new(RateLogger::default());
}

/// Logs what `Outstanding::take_quota_warnings` returned.
pub fn log(messages: Vec<String>) {
    if messages.is_empty() {
        return;
    }
    let now = Instant::now();
    LOGGER.with(|l| {
        let mut l = l.borrow_mut();
        for m in messages {
            l.log(m, now);
        }
    });
}
