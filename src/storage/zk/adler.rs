//! Adler-32 as `java.util.zip.Adler32` computes it (RFC 1950 §8.2): `a` starts at 1,
//! `b` at 0, both modulo 65521; the value is `b << 16 | a`, which Java returns as a
//! non-negative `long` and ZooKeeper writes with `writeLong`. The `adler2` crate
//! computes it; the tests pin it to Java's values.

/// Adler-32 of `bytes` (initial state 1).
pub fn adler32(bytes: &[u8]) -> u32 {
    adler2::adler32_slice(bytes)
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
