//! `JavaRandom`: a bit-exact port of `java.util.Random` (the 48-bit linear congruential
//! generator of Knuth TAOCP 3.2.1, as specified in the `java.util.Random` javadoc), used
//! only to reproduce ZooKeeper's session passwords. Not a source of randomness for
//! anything else: it is fully determined by its seed.

/// LCG multiplier, from the `java.util.Random` specification.
const MULTIPLIER: u64 = 0x5_DEEC_E66D;
/// LCG increment, from the same specification.
const ADDEND: u64 = 0xB;
/// The generator state is 48 bits.
const STATE_MASK: u64 = (1 << 48) - 1;

/// State of a `java.util.Random`. Invariant: `state <= STATE_MASK`.
#[derive(Clone, Debug)]
pub struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    /// `new Random(seed)`: the seed is scrambled by XOR with the multiplier.
    pub fn new(seed: i64) -> Self {
        Self {
            state: (seed as u64 ^ MULTIPLIER) & STATE_MASK,
        }
    }

    /// `next(bits)`: advance the LCG and return its top `bits` bits (1..=32).
    fn next(&mut self, bits: u32) -> i32 {
        debug_assert!((1..=32).contains(&bits));
        self.state = self.state.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & STATE_MASK;
        // Java's `(int)(seed >>> (48 - bits))`: keep the low 32 bits, reinterpret signed.
        (self.state >> (48 - bits)) as u32 as i32
    }

    /// `nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextBytes(bytes)`: each `nextInt()` supplies up to four bytes, low byte first; a
    /// partial last group discards the unused high bytes.
    pub fn next_bytes(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(4) {
            let word = self.next_int().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Derivation for seed 0: state0 = 0 ^ 0x5DEECE66D = 0x5DEECE66D;
    /// state1 = (0x5DEECE66D² + 0xB) mod 2^48 = 0xBB20B4600A74, top 32 bits 0xBB20B460
    /// = −1155484576 (the well-known first `new Random(0).nextInt()`);
    /// state2 = (state1·0x5DEECE66D + 0xB) mod 2^48 = 0xD4D95138AB6F → 0xD4D95138.
    #[test]
    fn seed_zero_matches_java() {
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_int(), -1_155_484_576);
        assert_eq!(r.next_int() as u32, 0xD4D9_5138);
    }

    #[test]
    fn next_bytes_is_little_endian_per_int_and_truncates() {
        let mut r = JavaRandom::new(0);
        let mut b = [0u8; 6];
        r.next_bytes(&mut b);
        // 0xBB20B460 low byte first, then the two low bytes of 0xD4D95138.
        assert_eq!(b, [0x60, 0xb4, 0x20, 0xbb, 0x38, 0x51]);
    }
}
