//! Adler-32 as `java.util.zip.Adler32` computes it (RFC 1950 §8.2): `a` starts at 1,
//! `b` at 0, both modulo 65521; the value is `b << 16 | a`, which Java returns as a
//! non-negative `long` and ZooKeeper writes with `writeLong`.

const MOD: u32 = 65_521;
/// The most bytes that can be summed before `b` could overflow a `u32` (zlib's NMAX).
const NMAX: usize = 5552;

/// Adler-32 of `bytes` (initial state 1).
pub fn adler32(bytes: &[u8]) -> u32 {
    let mut a: u32 = 1;
    let mut b: u32 = 0;
    for chunk in bytes.chunks(NMAX) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::adler32;

    #[test]
    fn known_values() {
        assert_eq!(adler32(b""), 1);
        // RFC 1950 / Wikipedia example.
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long input crosses the NMAX boundary: 100 000 bytes of 0xff.
        let big = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }
}
