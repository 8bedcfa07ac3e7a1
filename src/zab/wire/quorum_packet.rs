//! `QuorumPacket` (zookeeper.jute, module `org.apache.zookeeper.server.quorum`), the only
//! record on the quorum port, written back to back with **no length prefix**:
//!
//! ```text
//! i32 type · i64 zxid · buffer data (i32 len, −1 = null) · vector<Id> authinfo (i32 count, −1 = null)
//! Id = ustring scheme · ustring id
//! ```
//!
//! Without a length prefix a reader must walk the fields to know where a packet ends, so
//! [`QuorumPacket::decode`] first measures the packet on the bytes at hand (bounding every
//! length before waiting for its bytes) and only then decodes it with `proto::codec`.
//! Null and empty stay apart in both `data` and `authinfo`: Java distinguishes them
//! (a PING reply with null data kills the leader's handler).

use bytes::{BufMut, Bytes, BytesMut};

use super::{be_i32, Decoded};
use crate::proto::codec::{put_buffer, Decode, DecodeError, Encode, Reader};
use crate::proto::Id;
use crate::zab::Zxid;

/// Java's default bound on one buffer or string: `jute.maxbuffer` (0xfffff) plus
/// `zookeeper.jute.maxbuffer.extrasize` (another 0xfffff). Larger lengths fail the
/// read ("Unreasonable length").
pub const DEFAULT_MAX_BUFFER_LEN: usize = 0xfffff + 0xfffff;

/// The packet types of `Leader.java`, with ZooKeeper's numbers. A number outside 1..=19
/// decodes as [`PacketType::Unknown`]: the leader logs and ignores such packets, it does
/// not drop the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Request,
    Proposal,
    Ack,
    Commit,
    Ping,
    Revalidate,
    Sync,
    Inform,
    CommitAndActivate,
    NewLeader,
    FollowerInfo,
    UpToDate,
    Diff,
    Trunc,
    Snap,
    ObserverInfo,
    LeaderInfo,
    AckEpoch,
    InformAndActivate,
    Unknown(i32),
}

impl PacketType {
    const KNOWN: [PacketType; 19] = [
        PacketType::Request,
        PacketType::Proposal,
        PacketType::Ack,
        PacketType::Commit,
        PacketType::Ping,
        PacketType::Revalidate,
        PacketType::Sync,
        PacketType::Inform,
        PacketType::CommitAndActivate,
        PacketType::NewLeader,
        PacketType::FollowerInfo,
        PacketType::UpToDate,
        PacketType::Diff,
        PacketType::Trunc,
        PacketType::Snap,
        PacketType::ObserverInfo,
        PacketType::LeaderInfo,
        PacketType::AckEpoch,
        PacketType::InformAndActivate,
    ];

    /// The number on the wire (`Leader.REQUEST` = 1 … `Leader.INFORMANDACTIVATE` = 19).
    pub fn code(self) -> i32 {
        match self {
            PacketType::Unknown(code) => code,
            known => {
                // KNOWN lists the types in wire order from 1; the position is the code.
                let index = Self::KNOWN.iter().position(|k| *k == known).unwrap_or(0);
                index as i32 + 1
            }
        }
    }

    pub fn from_code(code: i32) -> PacketType {
        match usize::try_from(code) {
            Ok(i @ 1..=19) => Self::KNOWN[i - 1],
            _ => PacketType::Unknown(code),
        }
    }
}

/// A packet that makes the reader close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumPacketError {
    #[error("negative {field} length {len}")]
    NegativeLength { field: &'static str, len: i32 },
    #[error("{field} length {len} exceeds the limit {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("malformed packet: {0}")]
    Malformed(#[from] DecodeError),
}

/// `QuorumPacket{int type; long zxid; buffer data; vector<Id> authinfo}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPacket {
    /// `type` in Java.
    pub kind: PacketType,
    pub zxid: Zxid,
    /// `None` is jute's null (length −1), which differs from an empty buffer.
    pub data: Option<Bytes>,
    /// `None` is a null vector (count −1), which the leader's own packets carry; a
    /// forwarded REQUEST carries the client's list, possibly empty.
    pub authinfo: Option<Vec<Id>>,
}

impl QuorumPacket {
    /// A packet with null data and null authinfo (ACK, COMMIT, UPTODATE, SYNC, DIFF,
    /// TRUNC, SNAP, the leader's PING).
    pub fn bare(kind: PacketType, zxid: Zxid) -> QuorumPacket {
        QuorumPacket {
            kind,
            zxid,
            data: None,
            authinfo: None,
        }
    }

    /// A packet with `data` and null authinfo.
    pub fn with_data(kind: PacketType, zxid: Zxid, data: impl Into<Bytes>) -> QuorumPacket {
        QuorumPacket {
            kind,
            zxid,
            data: Some(data.into()),
            authinfo: None,
        }
    }

    /// The packet's size on the wire.
    pub fn encoded_len(&self) -> usize {
        let data = self.data.as_ref().map_or(0, |d| d.len());
        let auth = self.authinfo.as_ref().map_or(0, |ids| {
            ids.iter()
                .map(|id| 8 + id.scheme.len() + id.id.len())
                .sum::<usize>()
        });
        4 + 8 + 4 + data + 4 + auth
    }

    /// Appends the packet as `BinaryOutputArchive.writeRecord` writes it.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_i32(self.kind.code());
        out.put_i64(self.zxid);
        put_buffer(out, self.data.as_deref());
        match &self.authinfo {
            None => out.put_i32(-1),
            Some(ids) => ids.encode(out),
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }

    /// Reads the packet at the front of `buf`. Every length (data, each Id string) is
    /// checked against `max_buffer_len` as Java checks it, and the authinfo count
    /// against what that allows, before any of its bytes are awaited; so a reader
    /// holding at most one packet's worth of bytes never waits on a lie.
    pub fn decode(
        buf: &[u8],
        max_buffer_len: usize,
    ) -> Result<Decoded<QuorumPacket>, QuorumPacketError> {
        let Some(total) = measure(buf, max_buffer_len)? else {
            return Ok(Decoded::Incomplete);
        };
        let mut r = Reader::new(Bytes::copy_from_slice(&buf[..total]));
        let kind = PacketType::from_code(r.read_i32()?);
        let zxid = r.read_i64()?;
        let data = r.read_buffer()?;
        let count = r.read_i32()?;
        let authinfo = if count == -1 {
            None
        } else {
            let mut ids = Vec::with_capacity(count.max(0) as usize);
            for _ in 0..count {
                ids.push(Id::decode(&mut r)?);
            }
            Some(ids)
        };
        r.finish()?;
        Ok(Decoded::Complete {
            value: QuorumPacket {
                kind,
                zxid,
                data,
                authinfo,
            },
            consumed: total,
        })
    }
}

/// The length of the packet at the front of `buf`, `None` if its bytes are not all
/// there yet.
fn measure(buf: &[u8], max: usize) -> Result<Option<usize>, QuorumPacketError> {
    // type and zxid
    let mut at = 12;
    let Some(data_len) = length_at(buf, at, "data", max)? else {
        return Ok(None);
    };
    at += 4 + data_len;
    let Some(count) = be_i32(buf, at) else {
        return Ok(None);
    };
    at += 4;
    if count < -1 {
        return Err(QuorumPacketError::NegativeLength {
            field: "authinfo",
            len: count,
        });
    }
    // An Id takes at least 8 bytes (two lengths); more Ids than `max` bytes could hold
    // is not a packet Java would send.
    let max_ids = max / 8;
    if count > 0 && count as usize > max_ids {
        return Err(QuorumPacketError::TooLong {
            field: "authinfo",
            len: count as usize,
            max: max_ids,
        });
    }
    for _ in 0..count.max(0) {
        for field in ["scheme", "id"] {
            let Some(len) = length_at(buf, at, field, max)? else {
                return Ok(None);
            };
            at += 4 + len;
        }
    }
    if buf.len() < at {
        return Ok(None);
    }
    Ok(Some(at))
}

/// A jute buffer/string length at `at` (−1, null, counts as 0 bytes), bounded by `max`.
fn length_at(
    buf: &[u8],
    at: usize,
    field: &'static str,
    max: usize,
) -> Result<Option<usize>, QuorumPacketError> {
    let Some(len) = be_i32(buf, at) else {
        return Ok(None);
    };
    if len == -1 {
        return Ok(Some(0));
    }
    if len < 0 {
        return Err(QuorumPacketError::NegativeLength { field, len });
    }
    let len = len as usize;
    if len > max {
        return Err(QuorumPacketError::TooLong { field, len, max });
    }
    // The bytes themselves are checked by the caller once the whole packet is measured.
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_type_numbers_are_zookeepers() {
        let names = [
            (PacketType::Request, 1),
            (PacketType::Proposal, 2),
            (PacketType::Ack, 3),
            (PacketType::Commit, 4),
            (PacketType::Ping, 5),
            (PacketType::Revalidate, 6),
            (PacketType::Sync, 7),
            (PacketType::Inform, 8),
            (PacketType::CommitAndActivate, 9),
            (PacketType::NewLeader, 10),
            (PacketType::FollowerInfo, 11),
            (PacketType::UpToDate, 12),
            (PacketType::Diff, 13),
            (PacketType::Trunc, 14),
            (PacketType::Snap, 15),
            (PacketType::ObserverInfo, 16),
            (PacketType::LeaderInfo, 17),
            (PacketType::AckEpoch, 18),
            (PacketType::InformAndActivate, 19),
        ];
        for (t, code) in names {
            assert_eq!(t.code(), code);
            assert_eq!(PacketType::from_code(code), t);
        }
        for code in [0, 20, -1, i32::MAX, i32::MIN] {
            assert_eq!(PacketType::from_code(code), PacketType::Unknown(code));
            assert_eq!(PacketType::Unknown(code).code(), code);
        }
    }

    #[test]
    fn golden_ack_is_20_bytes() {
        let p = QuorumPacket::bare(PacketType::Ack, 0x2_0000_0001);
        let b = p.to_bytes();
        assert_eq!(
            &b[..],
            &[
                0, 0, 0, 3, // ACK
                0, 0, 0, 2, 0, 0, 0, 1, // zxid
                0xff, 0xff, 0xff, 0xff, // null data
                0xff, 0xff, 0xff, 0xff, // null authinfo
            ]
        );
        assert_eq!(p.encoded_len(), 20);
        assert_eq!(
            QuorumPacket::decode(&b, DEFAULT_MAX_BUFFER_LEN),
            Ok(Decoded::Complete {
                value: p,
                consumed: 20
            })
        );
    }

    #[test]
    fn round_trip_with_data_and_authinfo_keeps_null_and_empty_apart() {
        let cases = [
            QuorumPacket::with_data(PacketType::Ping, 7, Bytes::new()),
            QuorumPacket {
                kind: PacketType::Request,
                zxid: -1,
                data: Some(Bytes::from_static(b"0123456789abcdefbody")),
                authinfo: Some(vec![Id::new("digest", "u:p"), Id::new("ip", "1.2.3.4")]),
            },
            QuorumPacket {
                kind: PacketType::Request,
                zxid: -1,
                data: Some(Bytes::from_static(&[0; 16])),
                authinfo: Some(vec![]),
            },
            QuorumPacket::bare(PacketType::Unknown(42), 9),
        ];
        for p in cases {
            let b = p.to_bytes();
            assert_eq!(b.len(), p.encoded_len());
            // Every strict prefix waits for more bytes.
            for cut in 0..b.len() {
                assert_eq!(
                    QuorumPacket::decode(&b[..cut], DEFAULT_MAX_BUFFER_LEN),
                    Ok(Decoded::Incomplete),
                    "{p:?} cut at {cut}"
                );
            }
            // Two packets back to back: the first is read, the second left.
            let mut two = BytesMut::from(&b[..]);
            two.extend_from_slice(&b);
            assert_eq!(
                QuorumPacket::decode(&two, DEFAULT_MAX_BUFFER_LEN),
                Ok(Decoded::Complete {
                    value: p.clone(),
                    consumed: b.len()
                })
            );
        }
    }

    #[test]
    fn lengths_are_bounded_before_their_bytes_arrive() {
        let mut b = BytesMut::new();
        b.put_i32(2);
        b.put_i64(1);
        b.put_i32(1000);
        assert_eq!(
            QuorumPacket::decode(&b, 999),
            Err(QuorumPacketError::TooLong {
                field: "data",
                len: 1000,
                max: 999
            })
        );
        assert_eq!(QuorumPacket::decode(&b, 1000), Ok(Decoded::Incomplete));

        let mut neg = BytesMut::new();
        neg.put_i32(2);
        neg.put_i64(1);
        neg.put_i32(-2);
        assert_eq!(
            QuorumPacket::decode(&neg, 1000),
            Err(QuorumPacketError::NegativeLength {
                field: "data",
                len: -2
            })
        );

        let mut ids = BytesMut::new();
        ids.put_i32(1);
        ids.put_i64(-1);
        ids.put_i32(-1);
        ids.put_i32(126);
        assert_eq!(
            QuorumPacket::decode(&ids, 1000),
            Err(QuorumPacketError::TooLong {
                field: "authinfo",
                len: 126,
                max: 125
            })
        );
        let mut scheme = BytesMut::new();
        scheme.put_i32(1);
        scheme.put_i64(-1);
        scheme.put_i32(-1);
        scheme.put_i32(1);
        scheme.put_i32(5000);
        assert_eq!(
            QuorumPacket::decode(&scheme, 1000),
            Err(QuorumPacketError::TooLong {
                field: "scheme",
                len: 5000,
                max: 1000
            })
        );
        let mut neg_count = BytesMut::new();
        neg_count.put_i32(1);
        neg_count.put_i64(-1);
        neg_count.put_i32(-1);
        neg_count.put_i32(-3);
        assert_eq!(
            QuorumPacket::decode(&neg_count, 1000),
            Err(QuorumPacketError::NegativeLength {
                field: "authinfo",
                len: -3
            })
        );
    }

    #[test]
    fn a_null_scheme_is_malformed() {
        let mut b = BytesMut::new();
        b.put_i32(1);
        b.put_i64(-1);
        b.put_i32(-1);
        b.put_i32(1);
        b.put_i32(-1);
        b.put_i32(0);
        assert!(matches!(
            QuorumPacket::decode(&b, 1000),
            Err(QuorumPacketError::Malformed(DecodeError::NullString { .. }))
        ));
    }
}
