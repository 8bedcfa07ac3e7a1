//! The initial message on the election port (`QuorumCnxManager.InitialMessage`), sent
//! once by the server that connects, right after the TCP (and TLS) handshake; the
//! receiver sends nothing back.
//!
//! ```text
//! i64 protocol version   -65536 (V1) or -65535 (V2, multiAddress only)
//! i64 sid                the sender's myid
//! i32 N                  1..=2048
//! N bytes                UTF-8 "host:port" (V2: "h1:p1|h2:p2"), IPv6 as "[addr]:port"
//! ```
//!
//! A 3.4 server sends only its sid as the first long; any first long ≥ 0 is read that
//! way. We send V1, which every version since 3.5 accepts (V2 breaks 3.5 peers,
//! ZOOKEEPER-3720). The whole message must leave in one write: Java reads the address
//! with a single `read`, and a short read fails the connection.

use bytes::{BufMut, BytesMut};

use super::{be_i32, be_i64, java_host_string, Decoded};
use crate::zab::Sid;

/// `QuorumCnxManager.PROTOCOL_VERSION_V1`.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// `QuorumCnxManager.PROTOCOL_VERSION_V2`: several addresses joined by `|`.
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// The longest address string a 3.8 receiver accepts (`QuorumCnxManager.maxBuffer`).
pub const MAX_ADDRESS_LEN: usize = 2048;
/// The sid old observers announced (`QuorumPeer.OBSERVER_ID`); a receiver gives each
/// such connection its own negative id instead (−1, −2, …).
pub const LEGACY_OBSERVER_SID: Sid = i64::MAX;

/// Which form of the initial message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeForm {
    /// A 3.4 server: the sid alone, no address.
    BareSid,
    V1,
    V2,
}

/// An election address as a peer announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionAddress {
    /// A hostname or IP literal; IPv6 without brackets.
    pub host: String,
    pub port: u16,
}

impl ElectionAddress {
    /// `NetUtils.formatInetAddr`: `host:port`, IP literals in Java's form, IPv6 ones
    /// in brackets.
    pub fn to_wire_string(&self) -> String {
        let host = java_host_string(&self.host);
        if host.contains(':') {
            format!("[{}]:{}", host, self.port)
        } else {
            format!("{}:{}", host, self.port)
        }
    }

    /// A wildcard address (`0.0.0.0`, `::`), which a receiver does not dial back.
    /// Only literals are recognised: a hostname would need DNS, which pure code cannot
    /// do (Java resolves it).
    pub fn is_wildcard(&self) -> bool {
        self.host == "0.0.0.0"
            || (self.host.contains(':') && self.host.chars().all(|c| c == '0' || c == ':'))
    }
}

/// A decoded initial message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialMessage {
    pub form: HandshakeForm,
    pub sid: Sid,
    /// The addresses to dial back, wildcards left out as Java leaves them out; empty for
    /// a 3.4 peer (dial the configured address instead).
    pub addresses: Vec<ElectionAddress>,
}

/// A handshake that makes the receiver close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("unknown election protocol version {0}")]
    UnknownVersion(i64),
    #[error("address length {len} outside 1..={MAX_ADDRESS_LEN}")]
    AddressLength { len: i32 },
    #[error("badly formed address {0:?}")]
    BadAddress(String),
    #[error("bad port in address {0:?}")]
    BadPort(String),
}

impl InitialMessage {
    /// Reads the initial message at the front of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Decoded<InitialMessage>, HandshakeError> {
        let Some(first) = be_i64(buf, 0) else {
            return Ok(Decoded::Incomplete);
        };
        if first >= 0 {
            return Ok(Decoded::Complete {
                value: InitialMessage {
                    form: HandshakeForm::BareSid,
                    sid: first,
                    addresses: Vec::new(),
                },
                consumed: 8,
            });
        }
        let form = match first {
            PROTOCOL_VERSION_V1 => HandshakeForm::V1,
            PROTOCOL_VERSION_V2 => HandshakeForm::V2,
            other => return Err(HandshakeError::UnknownVersion(other)),
        };
        let (Some(sid), Some(len)) = (be_i64(buf, 8), be_i32(buf, 16)) else {
            return Ok(Decoded::Incomplete);
        };
        if len <= 0 || len as usize > MAX_ADDRESS_LEN {
            return Err(HandshakeError::AddressLength { len });
        }
        let end = 20 + len as usize;
        let Some(raw) = buf.get(20..end) else {
            return Ok(Decoded::Incomplete);
        };
        let text = String::from_utf8_lossy(raw);
        let mut addresses = Vec::new();
        for one in java_split(&text, '|') {
            let addr = parse_host_and_port(one)?;
            if !addr.is_wildcard() {
                addresses.push(addr);
            }
        }
        Ok(Decoded::Complete {
            value: InitialMessage {
                form,
                sid,
                addresses,
            },
            consumed: end,
        })
    }

    /// The V1 message announcing `sid` at `address`, in one buffer to write at once.
    pub fn encode_v1(
        sid: Sid,
        address: &ElectionAddress,
        out: &mut BytesMut,
    ) -> Result<(), HandshakeError> {
        let text = address.to_wire_string();
        if text.len() > MAX_ADDRESS_LEN {
            return Err(HandshakeError::AddressLength {
                len: i32::try_from(text.len()).unwrap_or(i32::MAX),
            });
        }
        out.put_i64(PROTOCOL_VERSION_V1);
        out.put_i64(sid);
        out.put_i32(text.len() as i32);
        out.put_slice(text.as_bytes());
        Ok(())
    }
}

/// Java's `String.split` with a one-character separator: trailing empty pieces are
/// dropped (so `"a:1|"` is one address and `"h:"` has no port).
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    // Java turns an input made only of separators into no pieces at all.
    if parts.len() == 1 && parts[0].is_empty() && !s.is_empty() {
        parts.pop();
    }
    parts
}

/// `ConfigUtils.getHostAndPort` plus the checks of `InitialMessage.parse`: exactly a host
/// and a port, IPv6 in brackets.
fn parse_host_and_port(s: &str) -> Result<ElectionAddress, HandshakeError> {
    let bad = || HandshakeError::BadAddress(s.to_owned());
    let parts: Vec<&str> = if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']').ok_or_else(bad)?;
        let host = &rest[..close];
        // Java skips the character after ']' without looking at it.
        let after = close + 2;
        if after >= rest.len() {
            return Err(bad());
        }
        let mut v = vec![host];
        v.extend(java_split(&rest[after..], ':'));
        v
    } else {
        java_split(s, ':')
    };
    let [host, port] = parts[..] else {
        return Err(bad());
    };
    // Integer.parseInt accepts a leading sign; InetSocketAddress then refuses ports
    // outside 0..=65535.
    let port = port
        .parse::<i32>()
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| HandshakeError::BadPort(s.to_owned()))?;
    Ok(ElectionAddress {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(sid: i64, addr: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&PROTOCOL_VERSION_V1.to_be_bytes());
        b.extend_from_slice(&sid.to_be_bytes());
        b.extend_from_slice(&(addr.len() as i32).to_be_bytes());
        b.extend_from_slice(addr);
        b
    }

    #[test]
    fn golden_v1_message() {
        let mut out = BytesMut::new();
        InitialMessage::encode_v1(
            3,
            &ElectionAddress {
                host: "10.0.0.3".into(),
                port: 3888,
            },
            &mut out,
        )
        .unwrap();
        let mut expect = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00];
        expect.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        expect.extend_from_slice(&[0, 0, 0, 13]);
        expect.extend_from_slice(b"10.0.0.3:3888");
        assert_eq!(&out[..], &expect[..]);
        assert_eq!(
            InitialMessage::decode(&out),
            Ok(Decoded::Complete {
                value: InitialMessage {
                    form: HandshakeForm::V1,
                    sid: 3,
                    addresses: vec![ElectionAddress {
                        host: "10.0.0.3".into(),
                        port: 3888
                    }],
                },
                consumed: 33,
            })
        );
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let msg = v1(7, b"[0:0:0:0:0:0:0:1]:3888");
        for cut in 0..msg.len() {
            assert_eq!(InitialMessage::decode(&msg[..cut]), Ok(Decoded::Incomplete));
        }
        let whole = InitialMessage::decode(&msg).unwrap().into_value().unwrap();
        assert_eq!(
            whole.addresses,
            vec![ElectionAddress {
                host: "0:0:0:0:0:0:0:1".into(),
                port: 3888
            }]
        );
        let mut out = BytesMut::new();
        InitialMessage::encode_v1(7, &whole.addresses[0], &mut out).unwrap();
        assert_eq!(&out[..], &msg[..]);
    }

    #[test]
    fn a_34_server_sends_only_its_sid() {
        let mut b = 5i64.to_be_bytes().to_vec();
        b.extend_from_slice(b"trailing bytes belong to the next message");
        assert_eq!(
            InitialMessage::decode(&b),
            Ok(Decoded::Complete {
                value: InitialMessage {
                    form: HandshakeForm::BareSid,
                    sid: 5,
                    addresses: vec![]
                },
                consumed: 8
            })
        );
    }

    #[test]
    fn v2_lists_several_addresses_and_drops_wildcards() {
        let mut b = v1(2, b"a:1|0.0.0.0:2|[::]:3|b:4");
        b[7] = 0x01; // -65535
        let m = InitialMessage::decode(&b).unwrap().into_value().unwrap();
        assert_eq!(m.form, HandshakeForm::V2);
        let hosts: Vec<_> = m.addresses.iter().map(|a| a.to_wire_string()).collect();
        assert_eq!(hosts, ["a:1", "b:4"]);
    }

    #[test]
    fn invalid_messages_close_the_connection() {
        let mut other = v1(1, b"a:1");
        other[7] = 0x02;
        assert_eq!(
            InitialMessage::decode(&other),
            Err(HandshakeError::UnknownVersion(-65534))
        );
        let mut zero = v1(1, b"");
        zero.truncate(20);
        assert_eq!(
            InitialMessage::decode(&zero),
            Err(HandshakeError::AddressLength { len: 0 })
        );
        let mut long = v1(1, b"");
        long[16..20].copy_from_slice(&2049i32.to_be_bytes());
        assert_eq!(
            InitialMessage::decode(&long),
            Err(HandshakeError::AddressLength { len: 2049 })
        );
        // 2048 is allowed, and waits for its bytes.
        long[16..20].copy_from_slice(&2048i32.to_be_bytes());
        assert_eq!(InitialMessage::decode(&long), Ok(Decoded::Incomplete));
        for bad in [&b"nohost"[..], b"h:1:2", b"h:", b"[::1]", b"[::1]:"] {
            assert!(
                matches!(
                    InitialMessage::decode(&v1(1, bad)),
                    Err(HandshakeError::BadAddress(_))
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in [&b"h:x"[..], b"h:70000", b"h:-1"] {
            assert!(matches!(
                InitialMessage::decode(&v1(1, bad)),
                Err(HandshakeError::BadPort(_))
            ));
        }
    }

    #[test]
    fn java_split_drops_trailing_empties() {
        assert_eq!(java_split("a:1|", '|'), ["a:1"]);
        assert_eq!(java_split("h:", ':'), ["h"]);
        assert_eq!(java_split("|", '|'), Vec::<&str>::new());
        assert_eq!(java_split("|a", '|'), ["", "a"]);
    }
}
