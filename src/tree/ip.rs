//! The `ip` ACL scheme: `IPAuthenticationProvider.isValid` / `matches` of ZooKeeper 3.9
//! (IPv4 and IPv6 addresses, optional `/bits` prefix length).
//!
//! Pure string parsing with Java's quirks kept (`Integer.parseInt` accepts a sign, an
//! IPv6 segment may be "-1"); never resolves names, never touches a socket.

/// Bytes in an IPv6 address.
const IPV6_BYTES: usize = 16;
/// Segments in a full IPv6 address.
const IPV6_SEGMENTS: usize = 8;
/// Hex digits in one IPv6 segment at most.
const IPV6_SEGMENT_HEX_MAX: usize = 4;

/// `addr2Bytes`: a ':' makes it IPv6, else a '.' makes it IPv4, else nothing.
fn addr_bytes(addr: &str) -> Option<Vec<u8>> {
    if addr.contains(':') {
        v6_bytes(addr)
    } else if addr.contains('.') {
        v4_bytes(addr)
    } else {
        None
    }
}

fn v4_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = Vec::with_capacity(4);
    for p in parts {
        let v: i32 = p.parse().ok()?;
        out.push(u8::try_from(v).ok()?);
    }
    Some(out)
}

fn v6_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split("::").collect();
    let (head, tail): (Vec<&str>, Vec<&str>) = match parts.as_slice() {
        [full] => {
            let segs: Vec<&str> = full.split(':').collect();
            if segs.len() != IPV6_SEGMENTS {
                return None;
            }
            (segs, Vec::new())
        }
        [a, b] => {
            let head = if a.is_empty() {
                Vec::new()
            } else {
                a.split(':').collect()
            };
            let tail = if b.is_empty() {
                Vec::new()
            } else {
                b.split(':').collect()
            };
            if head.len() + tail.len() >= IPV6_SEGMENTS {
                return None;
            }
            (head, tail)
        }
        _ => return None,
    };
    let mut out = vec![0u8; IPV6_BYTES];
    put_segments(&mut out, 0, &head)?;
    put_segments(&mut out, IPV6_BYTES - tail.len() * 2, &tail)?;
    Some(out)
}

fn put_segments(out: &mut [u8], start: usize, segs: &[&str]) -> Option<()> {
    let mut i = start;
    for seg in segs {
        if seg.is_empty() || seg.len() > IPV6_SEGMENT_HEX_MAX {
            return None;
        }
        let v = i32::from_str_radix(seg, 16).ok()?;
        *out.get_mut(i)? = ((v >> 8) & 0xff) as u8;
        *out.get_mut(i + 1)? = (v & 0xff) as u8;
        i += 2;
    }
    Some(())
}

/// Keeps the first `bits` bits, zeroes the rest (`mask`).
fn mask(b: &mut [u8], bits: usize) {
    let mut start = bits / 8;
    let mut keep: u8 = !((1u16 << (8 - bits % 8)) - 1) as u8;
    while start < b.len() {
        b[start] &= keep;
        keep = 0;
        start += 1;
    }
}

/// Splits "addr/bits" and checks the prefix length: `None` when invalid.
fn parse_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let mut it = expr.splitn(2, '/');
    let addr = addr_bytes(it.next().unwrap_or(""))?;
    let max_bits = addr.len() * 8;
    let bits = match it.next() {
        None => max_bits,
        Some(b) => {
            let v: i32 = b.parse().ok()?;
            let v = usize::try_from(v).ok()?;
            if v > max_bits {
                return None;
            }
            v
        }
    };
    Some((addr, bits))
}

/// `IPAuthenticationProvider.isValid`: an address with an optional prefix length.
pub fn ip_is_valid(id: &str) -> bool {
    parse_expr(id).is_some()
}

/// `IPAuthenticationProvider.matches(clientAddress, aclExpr)`.
pub fn ip_matches(client: &str, acl_expr: &str) -> bool {
    let Some((mut acl, bits)) = parse_expr(acl_expr) else {
        return false;
    };
    mask(&mut acl, bits);
    let Some(mut remote) = addr_bytes(client) else {
        return false;
    };
    mask(&mut remote, bits);
    remote == acl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_validity() {
        assert!(ip_is_valid("10.0.0.1"));
        assert!(ip_is_valid("10.0.0.0/8"));
        assert!(ip_is_valid("10.0.0.0/0"));
        assert!(!ip_is_valid("10.0.0.0/33"));
        assert!(!ip_is_valid("10.0.0.256"));
        assert!(!ip_is_valid("10.0.0"));
        assert!(!ip_is_valid("10.0.0.1."));
        assert!(!ip_is_valid("localhost"));
        assert!(!ip_is_valid("10.0.0.1/x"));
        // Java's parseInt takes a sign.
        assert!(ip_is_valid("+10.0.0.1"));
    }

    #[test]
    fn ipv6_validity() {
        assert!(ip_is_valid("::1"));
        assert!(ip_is_valid("::"));
        assert!(ip_is_valid("fe80::1/64"));
        assert!(ip_is_valid("1:2:3:4:5:6:7:8"));
        assert!(!ip_is_valid("1:2:3:4:5:6:7"));
        assert!(!ip_is_valid("1:2:3:4::5:6:7:8"));
        assert!(!ip_is_valid("1::2::3"));
        assert!(!ip_is_valid(":::"));
        assert!(!ip_is_valid("12345::"));
        assert!(!ip_is_valid("::1/129"));
    }

    #[test]
    fn cidr_matching() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(ip_matches("10.1.2.3", "10.1.2.0/23"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(ip_matches("fe80::abcd", "fe80::/16"));
        assert!(!ip_matches("fe81::abcd", "fe80::/16"));
        assert!(ip_matches("0:0:0:0:0:0:0:1", "::1"));
        // Different families never match.
        assert!(!ip_matches("127.0.0.1", "::/0"));
        assert!(!ip_matches("127.0.0.1", "bogus"));
    }
}
