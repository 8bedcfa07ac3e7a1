//! `TimeoutBounds`: session timeout negotiation (`ZooKeeperServer.processConnectRequest`).

/// Default minimum session timeout, in ticks (`minSessionTimeout` unset → 2 × tickTime).
pub const TIMEOUT_MIN_TICKS_DEFAULT: u32 = 2;
/// Default maximum session timeout, in ticks (`maxSessionTimeout` unset → 20 × tickTime).
pub const TIMEOUT_MAX_TICKS_DEFAULT: u32 = 20;

/// The negotiable range of session timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutBounds {
    pub min_ms: u32,
    pub max_ms: u32,
}

impl TimeoutBounds {
    /// Bounds from configuration: `None` (ZooKeeper's −1) takes the tick default.
    /// Configuration should reject `min_ms > max_ms` (ZooKeeper's `QuorumPeerConfig` does);
    /// if it gets through, `negotiate` lets the maximum win, as ZooKeeper would.
    pub fn new(tick_ms: u32, min_ms: Option<u32>, max_ms: Option<u32>) -> Self {
        Self {
            min_ms: min_ms.unwrap_or(tick_ms.saturating_mul(TIMEOUT_MIN_TICKS_DEFAULT)),
            max_ms: max_ms.unwrap_or(tick_ms.saturating_mul(TIMEOUT_MAX_TICKS_DEFAULT)),
        }
    }

    /// The timeout granted for a client's requested `ConnectRequest.timeOut`: raised to
    /// the minimum, then lowered to the maximum (in that order, like ZooKeeper).
    pub fn negotiate(&self, requested_ms: i32) -> u32 {
        let mut t = u32::try_from(requested_ms).unwrap_or(0);
        if t < self.min_ms {
            t = self.min_ms;
        }
        if t > self.max_ms {
            t = self.max_ms;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_two_and_twenty_ticks() {
        let b = TimeoutBounds::new(2000, None, None);
        assert_eq!(
            b,
            TimeoutBounds {
                min_ms: 4000,
                max_ms: 40_000
            }
        );
    }

    #[test]
    fn negotiation_clamps() {
        let b = TimeoutBounds::new(2000, None, None);
        assert_eq!(b.negotiate(1), 4000);
        assert_eq!(b.negotiate(-5), 4000);
        assert_eq!(b.negotiate(4000), 4000);
        assert_eq!(b.negotiate(30_000), 30_000);
        assert_eq!(b.negotiate(40_000), 40_000);
        assert_eq!(b.negotiate(i32::MAX), 40_000);
        let odd = TimeoutBounds::new(2000, Some(10_000), Some(5000));
        assert_eq!(odd.negotiate(7000), 5000);
    }
}
