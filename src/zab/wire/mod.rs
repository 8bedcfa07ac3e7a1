//! The bytes of ZooKeeper's server-to-server protocol, byte for byte as Apache ZooKeeper
//! 3.8/3.9 writes and reads them (reference: `zookeeper-quorum-protocol.md` §1–§3).
//!
//! - `handshake`: the initial message a server sends after connecting to an election
//!   port.
//! - `election`: the election port's length-prefixed frames and the FLE notification
//!   they carry.
//! - `quorum_packet`: `QuorumPacket`, which the quorum port carries back to back with no
//!   length prefix, and a streaming decoder for it.
//! - `payload`: typed builders and readers for the `data` of each packet type.
//!
//! Decoders never panic on input. Streaming decoders say apart "wait for more bytes"
//! ([`Decoded::Incomplete`]) from "this connection sends garbage, close it" (an error
//! that names the reason). Jute primitives come from `proto::codec`.

pub mod election;
pub mod handshake;
pub mod payload;
pub mod quorum_packet;

/// What a streaming decoder found at the front of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// Not enough bytes yet; nothing was consumed. Read more and call again.
    Incomplete,
    /// One whole item, which took the first `consumed` bytes of the input.
    Complete { value: T, consumed: usize },
}

impl<T> Decoded<T> {
    /// The item, dropping the count; `None` when incomplete.
    pub fn into_value(self) -> Option<T> {
        match self {
            Decoded::Incomplete => None,
            Decoded::Complete { value, .. } => Some(value),
        }
    }
}

/// Big-endian reads at fixed offsets of a slice the caller has checked is long enough.
/// They exist to keep the fixed layouts (handshake, notification) readable; a short
/// slice yields `None` rather than a panic.
pub(crate) fn be_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

pub(crate) fn be_i64(buf: &[u8], at: usize) -> Option<i64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(i64::from_be_bytes(a))
}

/// How Java prints a host given as an IP literal (`InetSocketAddress.getHostString` after
/// `InetAddress.getByName`): IPv6 in full form, eight lowercase groups without leading
/// zeros and without `::`; an IPv4-mapped IPv6 address as the IPv4 address. Hostnames,
/// IPv4 literals and anything not parsed (zone ids) come back unchanged.
pub fn java_host_string(host: &str) -> String {
    match parse_ipv6(host) {
        Some([0, 0, 0, 0, 0, 0xffff, hi, lo]) => {
            format!("{}.{}.{}.{}", hi >> 8, hi & 0xff, lo >> 8, lo & 0xff)
        }
        Some(groups) => groups
            .iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":"),
        None => host.to_owned(),
    }
}

/// The eight groups of an IPv6 literal (with `::` and a trailing dotted IPv4 part).
fn parse_ipv6(s: &str) -> Option<[u16; 8]> {
    if !s.contains(':') {
        return None;
    }
    let (head, tail) = match s.find("::") {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let head = parse_groups(head, tail.is_none())?;
    let mut groups = [0u16; 8];
    match tail {
        None => {
            if head.len() != 8 {
                return None;
            }
            groups.copy_from_slice(&head);
        }
        Some(t) => {
            let tail = parse_groups(t, true)?;
            if head.len() + tail.len() > 7 {
                return None;
            }
            groups[..head.len()].copy_from_slice(&head);
            groups[8 - tail.len()..].copy_from_slice(&tail);
        }
    }
    Some(groups)
}

/// Colon-separated hex groups; the last may be a dotted IPv4 address when `last_part`.
fn parse_groups(part: &str, last_part: bool) -> Option<Vec<u16>> {
    if part.is_empty() {
        return Some(Vec::new());
    }
    let pieces: Vec<&str> = part.split(':').collect();
    let mut groups = Vec::with_capacity(8);
    for (i, p) in pieces.iter().enumerate() {
        if last_part && i + 1 == pieces.len() && p.contains('.') {
            let octets: Vec<u8> = p
                .split('.')
                .map(|o| o.parse::<u8>().ok())
                .collect::<Option<_>>()?;
            let [a, b, c, d] = octets[..] else {
                return None;
            };
            groups.push(u16::from(a) << 8 | u16::from(b));
            groups.push(u16::from(c) << 8 | u16::from(d));
        } else {
            if p.is_empty() || p.len() > 4 {
                return None;
            }
            groups.push(u16::from_str_radix(p, 16).ok()?);
        }
    }
    Some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_print_as_java_prints_them() {
        assert_eq!(java_host_string("::1"), "0:0:0:0:0:0:0:1");
        assert_eq!(java_host_string("::"), "0:0:0:0:0:0:0:0");
        assert_eq!(java_host_string("FE80::0001:2"), "fe80:0:0:0:0:0:1:2");
        assert_eq!(java_host_string("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
        assert_eq!(java_host_string("::ffff:10.0.0.1"), "10.0.0.1");
        assert_eq!(
            java_host_string("64:ff9b::10.0.0.1"),
            "64:ff9b:0:0:0:0:a00:1"
        );
        for unchanged in [
            "zk1.example.com",
            "10.0.0.1",
            "fe80::1%eth0",
            "1:2",
            "1::2::3",
            ":::",
        ] {
            assert_eq!(java_host_string(unchanged), unchanged);
        }
    }
}
