//! A latency histogram that one core writes and any core reads, without locks.
//!
//! Log-linear buckets (8 per power of two, so about 12 % relative error) over µs,
//! each an `AtomicU64` updated with relaxed ordering: a reader may see a recording
//! half-done across buckets, which only blurs a percentile by one sample. Each core
//! owns its histograms (no contention); readers merge them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Sub-buckets per power of two.
const SUB: u64 = 8;
const SUB_BITS: u32 = 3;
/// Buckets up to 2^44 µs (about 200 days): every duration a server can measure.
pub const BUCKETS: usize = (SUB as usize) * 42;

pub struct AtomicHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    /// `u64::MAX` while empty.
    min: AtomicU64,
    max: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }
}

fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let p = 63 - v.leading_zeros();
    let m = (v >> (p - SUB_BITS)) & (SUB - 1);
    let i = SUB + u64::from(p - SUB_BITS) * SUB + m;
    (i as usize).min(BUCKETS - 1)
}

/// The largest value that falls in bucket `i` (what percentiles report).
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let p = (i - SUB) / SUB + u64::from(SUB_BITS);
    let m = (i - SUB) % SUB;
    ((SUB + m + 1) << (p - u64::from(SUB_BITS))) - 1
}

/// Percentiles of one or more merged histograms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub mean_us: f64,
    /// The exact sum and minimum (0 when empty), for ZooKeeper's `sum_`/`min_` rows.
    pub sum_us: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl AtomicHistogram {
    pub fn record(&self, us: u64) {
        self.buckets[index(us)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum.fetch_add(us, Relaxed);
        self.min.fetch_min(us, Relaxed);
        self.max.fetch_max(us, Relaxed);
    }

    /// Samples recorded since the last reset.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Relaxed);
        }
        self.count.store(0, Relaxed);
        self.sum.store(0, Relaxed);
        self.min.store(u64::MAX, Relaxed);
        self.max.store(0, Relaxed);
    }

    /// Percentiles over all of `hists` together.
    pub fn summarize<'a>(hists: impl IntoIterator<Item = &'a AtomicHistogram>) -> Summary {
        let mut merged = vec![0u64; BUCKETS];
        let (mut count, mut sum, mut min, mut max) = (0u64, 0u64, u64::MAX, 0u64);
        for h in hists {
            for (m, b) in merged.iter_mut().zip(h.buckets.iter()) {
                *m += b.load(Relaxed);
            }
            count += h.count.load(Relaxed);
            sum += h.sum.load(Relaxed);
            min = min.min(h.min.load(Relaxed));
            max = max.max(h.max.load(Relaxed));
        }
        let total: u64 = merged.iter().sum();
        if total == 0 {
            return Summary::default();
        }
        let at = |q: f64| -> u64 {
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (i, n) in merged.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return upper(i).min(max);
                }
            }
            max
        };
        Summary {
            count,
            mean_us: sum as f64 / count.max(1) as f64,
            sum_us: sum,
            min_us: if min == u64::MAX { 0 } else { min },
            p50_us: at(0.50),
            p90_us: at(0.90),
            p95_us: at(0.95),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order() {
        let mut last = 0;
        for v in [0u64, 1, 7, 8, 9, 15, 16, 100, 1000, 123_456, 10_000_000] {
            let i = index(v);
            assert!(i >= last, "index must not decrease");
            assert!(upper(i) >= v, "bucket {i} upper {} below {v}", upper(i));
            // Relative error bound of the log-linear layout.
            assert!((upper(i) - v) as f64 <= (v as f64 / 8.0).max(1.0) + 1.0);
            last = i;
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let h = AtomicHistogram::default();
        for v in 1..=1000u64 {
            h.record(v);
        }
        let s = AtomicHistogram::summarize([&h]);
        assert_eq!(s.count, 1000);
        assert_eq!(s.max_us, 1000);
        assert!((480..=560).contains(&s.p50_us), "p50 {}", s.p50_us);
        assert!((980..=1000).contains(&s.p99_us), "p99 {}", s.p99_us);
        assert!((s.mean_us - 500.5).abs() < 1e-9);
    }

    #[test]
    fn merging_sums_histograms() {
        let a = AtomicHistogram::default();
        let b = AtomicHistogram::default();
        a.record(10);
        b.record(1_000_000);
        let s = AtomicHistogram::summarize([&a, &b]);
        assert_eq!(s.count, 2);
        assert_eq!(s.max_us, 1_000_000);
        assert!(s.p50_us <= 11);
    }
}
