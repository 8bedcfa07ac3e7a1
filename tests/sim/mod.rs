//! Support shared by the seeded simulations (`zab_fle_sim`, `zab_sync_sim`): the
//! random source every choice is drawn from, and which seeds a run covers.
#![allow(dead_code)]

/// splitmix64: small, fast, and the same sequence everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
    pub fn chance_per_mille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }
}

/// The seeds of one run: `<PREFIX>_SEED=<s>` replays one seed (`single`),
/// `<PREFIX>_SEEDS=<n>` runs n seeds from `base` instead of `default_count`.
pub struct Seeds {
    pub list: Vec<u64>,
    pub single: bool,
}

pub fn seeds(prefix: &str, base: u64, default_count: u64) -> Seeds {
    let var = |name: &str| -> Option<u64> {
        std::env::var(format!("{prefix}_{name}"))
            .ok()
            .and_then(|s| s.parse().ok())
    };
    match var("SEED") {
        Some(s) => Seeds {
            list: vec![s],
            single: true,
        },
        None => Seeds {
            list: (0..var("SEEDS").unwrap_or(default_count))
                .map(|i| base + i)
                .collect(),
            single: false,
        },
    }
}
