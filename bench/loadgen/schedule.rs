//! Pure pieces of the load generator: the open-loop send schedule, a seeded RNG,
//! and the duration syntax of the command line. No clock, no I/O.

use std::time::Duration;

/// When each request of one session is due in an open-loop run.
///
/// The total rate is split evenly over `sessions_total` sessions; session `index`
/// is shifted by `index / rate` so that the sessions interleave instead of sending
/// in bursts. Latency is measured from [`Schedule::at`], the *intended* send time,
/// so a server that falls behind shows its queueing (no coordinated omission).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Time between two requests of this session, in nanoseconds.
    pub interval_ns: f64,
    /// Offset of this session's first request from the start, in nanoseconds.
    pub offset_ns: f64,
}

impl Schedule {
    /// `rate_total` requests per second over all sessions; `index < sessions_total`.
    pub fn new(rate_total: f64, sessions_total: usize, index: usize) -> Schedule {
        let sessions = sessions_total.max(1) as f64;
        let rate = rate_total.max(1e-9);
        Schedule {
            interval_ns: 1e9 * sessions / rate,
            offset_ns: 1e9 * (index as f64) / rate,
        }
    }

    /// The intended send time of request `k` (0-based), from the start.
    pub fn at(&self, k: u64) -> Duration {
        Duration::from_nanos((self.offset_ns + self.interval_ns * k as f64) as u64)
    }

    /// The first request due at or after `t` (pins the schedule's arithmetic in tests).
    #[cfg(test)]
    pub fn first_at_or_after(&self, t: Duration) -> u64 {
        let t = t.as_nanos() as f64;
        if t <= self.offset_ns {
            return 0;
        }
        ((t - self.offset_ns) / self.interval_ns).ceil() as u64
    }
}

/// splitmix64: small, seeded, deterministic; enough for picking keys.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `pct`/100.
    pub fn percent(&mut self, pct: u32) -> bool {
        self.below(100) < pct as u64
    }
}

/// Parses "10s", "500ms", "2m", "1.5s", "250us" or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (try 10s, 500ms, 2m)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (s, ms, us, m)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}
