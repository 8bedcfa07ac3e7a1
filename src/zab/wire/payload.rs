//! Typed builders and readers for the `data` (and `zxid`) of quorum packets, as
//! `Learner.java`, `LearnerHandler.java` and `Leader.java` write and read them
//! (reference §3.2–§3.3, §4).
//!
//! Builders produce exactly Java's packets, null fields included. Readers are as
//! tolerant as the Java reader they stand in for and no more: where Java would throw
//! (and drop the connection) they return a [`PayloadError`]; where Java ignores trailing
//! bytes, so do they. The SNAP body (a raw stream after the SNAP packet) is not here yet.

use bytes::{BufMut, Bytes, BytesMut};

use super::quorum_packet::{PacketType, QuorumPacket};
use super::{be_i32, be_i64};
use crate::proto::codec::decode_java_utf8;
use crate::proto::Id;
use crate::zab::{epoch_of, zxid_of_epoch, Sid, Zxid};

/// The learner protocol version every server since 3.4 sends (`0x10000`) in
/// LearnerInfo and LEADERINFO.
pub const LEARNER_PROTOCOL_VERSION: i32 = 0x10000;

/// What a reader found wrong with a packet's payload. Java's reader would throw; the
/// connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("expected a {expected:?} packet, got {got:?}")]
    WrongType {
        expected: PacketType,
        got: PacketType,
    },
    #[error("{kind:?} packet has null data")]
    NullData { kind: PacketType },
    #[error("{kind:?} data is {len} bytes, needs at least {min}")]
    TooShort {
        kind: PacketType,
        len: usize,
        min: usize,
    },
    #[error("{kind:?} data is {len} bytes, not a whole number of {unit}-byte entries")]
    Ragged {
        kind: PacketType,
        len: usize,
        unit: usize,
    },
}

fn expect_kind(p: &QuorumPacket, expected: PacketType) -> Result<(), PayloadError> {
    if p.kind != expected {
        return Err(PayloadError::WrongType {
            expected,
            got: p.kind,
        });
    }
    Ok(())
}

/// The data of `p`, at least `min` bytes of it.
fn data_at_least(p: &QuorumPacket, min: usize) -> Result<&[u8], PayloadError> {
    let data = p
        .data
        .as_deref()
        .ok_or(PayloadError::NullData { kind: p.kind })?;
    if data.len() < min {
        return Err(PayloadError::TooShort {
            kind: p.kind,
            len: data.len(),
            min,
        });
    }
    Ok(data)
}

/// Which first packet a learner sends: FOLLOWERINFO (a voter, or a "non-voting
/// follower") or OBSERVERINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerKind {
    Follower,
    Observer,
}

impl LearnerKind {
    pub fn packet_type(self) -> PacketType {
        match self {
            LearnerKind::Follower => PacketType::FollowerInfo,
            LearnerKind::Observer => PacketType::ObserverInfo,
        }
    }
}

/// `LearnerInfo{long serverid; int protocolVersion; long configVersion}` (zookeeper.jute),
/// the body of FOLLOWERINFO and OBSERVERINFO (`Learner.registerWithLeader`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfo {
    pub sid: Sid,
    pub protocol_version: i32,
    /// The learner's committed config version; a leader drops a learner whose version
    /// is above its own.
    pub config_version: i64,
}

/// A FOLLOWERINFO/OBSERVERINFO as the leader reads it (`LearnerHandler.run`): the sid
/// from a body of at least 8 bytes, the protocol version from 12, the config version
/// from 20. Shorter bodies leave fields out rather than failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedLearnerInfo {
    pub kind: LearnerKind,
    /// The learner's `acceptedEpoch` (`zxid >> 32`).
    pub accepted_epoch: i64,
    /// `None` for a null body (the leader makes up a negative sid) or one under 8 bytes
    /// (the handler keeps its default, 0).
    pub sid: Option<Sid>,
    /// `None` under 12 bytes; the leader then assumes the old protocol 1.
    pub protocol_version: Option<i32>,
    pub config_version: Option<i64>,
}

impl LearnerInfo {
    /// The 20-byte jute record.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(20);
        b.put_i64(self.sid);
        b.put_i32(self.protocol_version);
        b.put_i64(self.config_version);
        b.freeze()
    }

    /// FOLLOWERINFO or OBSERVERINFO: zxid `acceptedEpoch << 32`, data this record.
    pub fn packet(&self, kind: LearnerKind, accepted_epoch: i64) -> QuorumPacket {
        QuorumPacket::with_data(
            kind.packet_type(),
            zxid_of_epoch(accepted_epoch),
            self.encode(),
        )
    }

    /// Reads a learner's first packet as the leader does.
    pub fn read(p: &QuorumPacket) -> Result<ReceivedLearnerInfo, PayloadError> {
        let kind = match p.kind {
            PacketType::FollowerInfo => LearnerKind::Follower,
            PacketType::ObserverInfo => LearnerKind::Observer,
            got => {
                return Err(PayloadError::WrongType {
                    expected: PacketType::FollowerInfo,
                    got,
                })
            }
        };
        let data = p.data.as_deref().unwrap_or(&[]);
        Ok(ReceivedLearnerInfo {
            kind,
            accepted_epoch: epoch_of(p.zxid),
            sid: be_i64(data, 0),
            protocol_version: be_i32(data, 8),
            config_version: be_i64(data, 12),
        })
    }
}

/// LEADERINFO (`LearnerHandler.run`): zxid `newEpoch << 32`, data `i32 0x10000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderInfo {
    pub new_epoch: i64,
    pub protocol_version: i32,
}

impl LeaderInfo {
    pub fn new(new_epoch: i64) -> LeaderInfo {
        LeaderInfo {
            new_epoch,
            protocol_version: LEARNER_PROTOCOL_VERSION,
        }
    }

    pub fn packet(&self) -> QuorumPacket {
        QuorumPacket::with_data(
            PacketType::LeaderInfo,
            zxid_of_epoch(self.new_epoch),
            self.protocol_version.to_be_bytes().to_vec(),
        )
    }

    /// As `Learner.registerWithLeader` reads it: the first 4 bytes of data.
    pub fn read(p: &QuorumPacket) -> Result<LeaderInfo, PayloadError> {
        expect_kind(p, PacketType::LeaderInfo)?;
        let data = data_at_least(p, 4)?;
        Ok(LeaderInfo {
            new_epoch: epoch_of(p.zxid),
            protocol_version: be_i32(data, 0).unwrap_or_default(),
        })
    }
}

/// ACKEPOCH (`Learner.registerWithLeader`): zxid the learner's last logged zxid, data
/// `i32 currentEpoch`, or −1 when the new epoch equals the learner's accepted epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEpoch {
    pub last_zxid: Zxid,
    /// The learner's `currentEpoch`, cast to 32 bits as Java casts it; or
    /// [`AckEpoch::ALREADY_ACCEPTED`].
    pub current_epoch: i32,
}

impl AckEpoch {
    /// The learner had already accepted the new epoch: the ack does not count toward
    /// the leader's epoch quorum.
    pub const ALREADY_ACCEPTED: i32 = -1;

    pub fn packet(&self) -> QuorumPacket {
        QuorumPacket::with_data(
            PacketType::AckEpoch,
            self.last_zxid,
            self.current_epoch.to_be_bytes().to_vec(),
        )
    }

    /// As `LearnerHandler.run` reads it (`ByteBuffer.getInt` on the data).
    pub fn read(p: &QuorumPacket) -> Result<AckEpoch, PayloadError> {
        expect_kind(p, PacketType::AckEpoch)?;
        let data = data_at_least(p, 4)?;
        Ok(AckEpoch {
            last_zxid: p.zxid,
            current_epoch: be_i32(data, 0).unwrap_or_default(),
        })
    }

    /// Whether the leader's `waitForEpochAck` counts this ack.
    pub fn counts(&self) -> bool {
        self.current_epoch != Self::ALREADY_ACCEPTED && self.last_zxid != -1
    }
}

/// NEWLEADER: zxid `newEpoch << 32`, data the leader's last-seen config text (UTF-8), or
/// null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeader {
    pub new_epoch: i64,
    pub config: Option<Bytes>,
}

impl NewLeader {
    pub fn packet(&self) -> QuorumPacket {
        QuorumPacket {
            kind: PacketType::NewLeader,
            zxid: zxid_of_epoch(self.new_epoch),
            data: self.config.clone(),
            authinfo: None,
        }
    }

    pub fn read(p: &QuorumPacket) -> Result<NewLeader, PayloadError> {
        expect_kind(p, PacketType::NewLeader)?;
        Ok(NewLeader {
            new_epoch: epoch_of(p.zxid),
            config: p.data.clone(),
        })
    }

    /// The config as text, decoded as Java decodes it.
    pub fn config_text(&self) -> Option<String> {
        self.config.as_deref().map(decode_java_utf8)
    }
}

/// One entry of a learner's session touch table: a session that saw traffic and its
/// timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTouch {
    pub session_id: i64,
    pub timeout_ms: i32,
}

/// The PING exchange (`Leader` pings, `Learner.ping` replies).
pub struct Ping;

impl Ping {
    /// The leader's PING: zxid its last proposed zxid, null data.
    pub fn packet(last_proposed: Zxid) -> QuorumPacket {
        QuorumPacket::bare(PacketType::Ping, last_proposed)
    }

    /// The learner's reply to `ping`: the same type, zxid and authinfo, data the touched
    /// sessions as `(i64, i32)` pairs with no count. The data is never null, even when
    /// empty: the leader reads it without a null check and its handler dies on null.
    pub fn reply(ping: &QuorumPacket, touches: &[SessionTouch]) -> QuorumPacket {
        let mut data = BytesMut::with_capacity(touches.len() * 12);
        for t in touches {
            data.put_i64(t.session_id);
            data.put_i32(t.timeout_ms);
        }
        QuorumPacket {
            kind: ping.kind,
            zxid: ping.zxid,
            data: Some(data.freeze()),
            authinfo: ping.authinfo.clone(),
        }
    }

    /// The touches of a PING reply, as `LearnerHandler` reads them (pairs until the data
    /// ends; a partial pair throws there).
    pub fn read_reply(p: &QuorumPacket) -> Result<Vec<SessionTouch>, PayloadError> {
        expect_kind(p, PacketType::Ping)?;
        let data = data_at_least(p, 0)?;
        if !data.len().is_multiple_of(12) {
            return Err(PayloadError::Ragged {
                kind: p.kind,
                len: data.len(),
                unit: 12,
            });
        }
        Ok(data
            .chunks_exact(12)
            .map(|c| SessionTouch {
                session_id: be_i64(c, 0).unwrap_or_default(),
                timeout_ms: be_i32(c, 8).unwrap_or_default(),
            })
            .collect())
    }
}

/// REVALIDATE from a learner: a client reconnected to it with a session it does not own.
/// Zxid −1, data `i64 sessionId · i32 timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revalidate {
    pub session_id: i64,
    pub timeout_ms: i32,
}

impl Revalidate {
    pub fn packet(&self) -> QuorumPacket {
        let mut data = BytesMut::with_capacity(12);
        data.put_i64(self.session_id);
        data.put_i32(self.timeout_ms);
        QuorumPacket::with_data(PacketType::Revalidate, -1, data.freeze())
    }

    /// As `Leader.revalidateSession` reads it; trailing bytes are ignored.
    pub fn read(p: &QuorumPacket) -> Result<Revalidate, PayloadError> {
        expect_kind(p, PacketType::Revalidate)?;
        let data = data_at_least(p, 12)?;
        Ok(Revalidate {
            session_id: be_i64(data, 0).unwrap_or_default(),
            timeout_ms: be_i32(data, 8).unwrap_or_default(),
        })
    }
}

/// The leader's answer to REVALIDATE: the request packet with its data replaced by
/// `i64 sessionId · bool valid` (9 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevalidateReply {
    pub session_id: i64,
    pub valid: bool,
}

impl RevalidateReply {
    /// The reply to `request`, keeping its type, zxid and authinfo as Java does.
    pub fn packet(&self, request: &QuorumPacket) -> QuorumPacket {
        let mut data = BytesMut::with_capacity(9);
        data.put_i64(self.session_id);
        data.put_u8(u8::from(self.valid));
        QuorumPacket {
            kind: request.kind,
            zxid: request.zxid,
            data: Some(data.freeze()),
            authinfo: request.authinfo.clone(),
        }
    }

    /// As `Learner.revalidate` reads it (`readLong`, `readBoolean`: any non-zero byte is
    /// true).
    pub fn read(p: &QuorumPacket) -> Result<RevalidateReply, PayloadError> {
        expect_kind(p, PacketType::Revalidate)?;
        let data = data_at_least(p, 9)?;
        Ok(RevalidateReply {
            session_id: be_i64(data, 0).unwrap_or_default(),
            valid: data[8] != 0,
        })
    }
}

/// REQUEST: a write (or sync, createSession, closeSession) a learner forwards to the
/// leader. Zxid −1, data `i64 sessionId · i32 cxid · i32 type · body` where the body is
/// the client's request record without its RequestHeader, authinfo the client
/// connection's Ids (a list, possibly empty, never null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: i64,
    pub cxid: i32,
    /// The ZooKeeper opcode (`OpCode`), e.g. 1 create, −10 createSession.
    pub op: i32,
    pub body: Bytes,
    pub authinfo: Vec<Id>,
}

impl ForwardedRequest {
    pub fn packet(&self) -> QuorumPacket {
        let mut data = BytesMut::with_capacity(16 + self.body.len());
        data.put_i64(self.session_id);
        data.put_i32(self.cxid);
        data.put_i32(self.op);
        data.put_slice(&self.body);
        QuorumPacket {
            kind: PacketType::Request,
            zxid: -1,
            data: Some(data.freeze()),
            authinfo: Some(self.authinfo.clone()),
        }
    }

    /// As `LearnerHandler` reads it: 16 header bytes, the rest is the body. A null
    /// authinfo reads as empty.
    pub fn read(p: &QuorumPacket) -> Result<ForwardedRequest, PayloadError> {
        expect_kind(p, PacketType::Request)?;
        let data = data_at_least(p, 16)?;
        Ok(ForwardedRequest {
            session_id: be_i64(data, 0).unwrap_or_default(),
            cxid: be_i32(data, 8).unwrap_or_default(),
            op: be_i32(data, 12).unwrap_or_default(),
            body: p.data.as_ref().map(|d| d.slice(16..)).unwrap_or_default(),
            authinfo: p.authinfo.clone().unwrap_or_default(),
        })
    }
}

/// The packets with no payload, with the zxids Java gives them.
pub struct Bare;

impl Bare {
    /// ACK of a proposal, of NEWLEADER (`newEpoch << 32`) or of UPTODATE.
    pub fn ack(zxid: Zxid) -> QuorumPacket {
        QuorumPacket::bare(PacketType::Ack, zxid)
    }
    pub fn commit(zxid: Zxid) -> QuorumPacket {
        QuorumPacket::bare(PacketType::Commit, zxid)
    }
    /// UPTODATE: zxid −1.
    pub fn up_to_date() -> QuorumPacket {
        QuorumPacket::bare(PacketType::UpToDate, -1)
    }
    /// The leader's answer to a forwarded sync: zxid 0.
    pub fn sync() -> QuorumPacket {
        QuorumPacket::bare(PacketType::Sync, 0)
    }
    pub fn diff(zxid: Zxid) -> QuorumPacket {
        QuorumPacket::bare(PacketType::Diff, zxid)
    }
    pub fn trunc(zxid: Zxid) -> QuorumPacket {
        QuorumPacket::bare(PacketType::Trunc, zxid)
    }
    /// SNAP: zxid the leader tree's last processed zxid; the snapshot stream follows.
    pub fn snap(zxid: Zxid) -> QuorumPacket {
        QuorumPacket::bare(PacketType::Snap, zxid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zab::wire::quorum_packet::DEFAULT_MAX_BUFFER_LEN;
    use crate::zab::wire::Decoded;

    fn wire(p: &QuorumPacket) -> Vec<u8> {
        let b = p.to_bytes();
        assert_eq!(
            QuorumPacket::decode(&b, DEFAULT_MAX_BUFFER_LEN),
            Ok(Decoded::Complete {
                value: p.clone(),
                consumed: b.len()
            })
        );
        b.to_vec()
    }

    #[test]
    fn golden_followerinfo_is_40_bytes() {
        let info = LearnerInfo {
            sid: 2,
            protocol_version: LEARNER_PROTOCOL_VERSION,
            config_version: 0,
        };
        let p = info.packet(LearnerKind::Follower, 1);
        let expect: Vec<u8> = [
            &[0u8, 0, 0, 11][..],
            &[0, 0, 0, 1, 0, 0, 0, 0],
            &[0, 0, 0, 20],
            &[0, 0, 0, 0, 0, 0, 0, 2],
            &[0, 1, 0, 0],
            &[0, 0, 0, 0, 0, 0, 0, 0],
            &[0xff, 0xff, 0xff, 0xff],
        ]
        .concat();
        assert_eq!(wire(&p), expect);
        assert_eq!(
            LearnerInfo::read(&p),
            Ok(ReceivedLearnerInfo {
                kind: LearnerKind::Follower,
                accepted_epoch: 1,
                sid: Some(2),
                protocol_version: Some(0x10000),
                config_version: Some(0),
            })
        );
    }

    #[test]
    fn short_learner_info_bodies_are_tolerated() {
        let mut p =
            QuorumPacket::with_data(PacketType::ObserverInfo, 0, 9i64.to_be_bytes().to_vec());
        let r = LearnerInfo::read(&p).unwrap();
        assert_eq!(
            (r.kind, r.sid, r.protocol_version, r.config_version),
            (LearnerKind::Observer, Some(9), None, None)
        );
        p.data = Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1]));
        let r = LearnerInfo::read(&p).unwrap();
        assert_eq!((r.protocol_version, r.config_version), (Some(1), None));
        p.data = None;
        assert_eq!(LearnerInfo::read(&p).unwrap().sid, None);
        p.data = Some(Bytes::from_static(&[1, 2, 3]));
        assert_eq!(LearnerInfo::read(&p).unwrap().sid, None);
        assert!(LearnerInfo::read(&Bare::ack(0)).is_err());
    }

    #[test]
    fn golden_leaderinfo_is_24_bytes() {
        let p = LeaderInfo::new(3).packet();
        assert_eq!(
            wire(&p),
            [0, 0, 0, 17, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(LeaderInfo::read(&p), Ok(LeaderInfo::new(3)));
        let short = QuorumPacket::with_data(PacketType::LeaderInfo, 0, vec![0, 1]);
        assert_eq!(
            LeaderInfo::read(&short),
            Err(PayloadError::TooShort {
                kind: PacketType::LeaderInfo,
                len: 2,
                min: 4
            })
        );
    }

    #[test]
    fn ackepoch_carries_the_current_epoch_or_minus_one() {
        let fresh = AckEpoch {
            last_zxid: 0x1_0000_0007,
            current_epoch: 1,
        };
        let p = fresh.packet();
        assert_eq!(
            wire(&p),
            [0, 0, 0, 18, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(AckEpoch::read(&p), Ok(fresh));
        assert!(fresh.counts());
        let same = AckEpoch {
            last_zxid: 5,
            current_epoch: AckEpoch::ALREADY_ACCEPTED,
        };
        assert_eq!(&wire(&same.packet())[16..20], &[0xff, 0xff, 0xff, 0xff]);
        assert!(!same.counts());
    }

    #[test]
    fn newleader_with_and_without_config() {
        let with = NewLeader {
            new_epoch: 2,
            config: Some(Bytes::from_static(b"server.1=a:1:2:participant\nversion=0")),
        };
        let p = with.packet();
        assert_eq!(p.zxid, 0x2_0000_0000);
        wire(&p);
        assert_eq!(NewLeader::read(&p), Ok(with.clone()));
        assert_eq!(
            with.config_text().as_deref(),
            Some("server.1=a:1:2:participant\nversion=0")
        );
        let null = NewLeader {
            new_epoch: 2,
            config: None,
        };
        assert_eq!(&wire(&null.packet())[12..16], &[0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn ping_reply_data_is_never_null() {
        let ping = Ping::packet(0x1_0000_0009);
        assert_eq!(ping.data, None);
        let empty = Ping::reply(&ping, &[]);
        assert_eq!(empty.data, Some(Bytes::new()));
        assert_eq!(&wire(&empty)[12..16], &[0, 0, 0, 0]);
        let touches = [
            SessionTouch {
                session_id: 0x0100_0000_0000_0001,
                timeout_ms: 30000,
            },
            SessionTouch {
                session_id: 2,
                timeout_ms: 4000,
            },
        ];
        let reply = Ping::reply(&ping, &touches);
        assert_eq!(reply.zxid, ping.zxid);
        assert_eq!(reply.data.as_ref().map(|d| d.len()), Some(24));
        assert_eq!(Ping::read_reply(&reply), Ok(touches.to_vec()));
        let ragged = QuorumPacket::with_data(PacketType::Ping, 0, vec![0; 13]);
        assert!(matches!(
            Ping::read_reply(&ragged),
            Err(PayloadError::Ragged { len: 13, .. })
        ));
        assert_eq!(
            Ping::read_reply(&ping),
            Err(PayloadError::NullData {
                kind: PacketType::Ping
            })
        );
    }

    #[test]
    fn revalidate_request_and_reply() {
        let req = Revalidate {
            session_id: 0x0200_0000_0000_0005,
            timeout_ms: 10000,
        };
        let p = req.packet();
        assert_eq!(p.zxid, -1);
        assert_eq!(p.data.as_ref().map(|d| d.len()), Some(12));
        assert_eq!(Revalidate::read(&p), Ok(req));
        let reply = RevalidateReply {
            session_id: req.session_id,
            valid: true,
        }
        .packet(&p);
        let bytes = wire(&reply);
        assert_eq!(&bytes[12..16], &[0, 0, 0, 9]);
        assert_eq!(bytes[24], 1);
        assert_eq!(
            RevalidateReply::read(&reply),
            Ok(RevalidateReply {
                session_id: req.session_id,
                valid: true
            })
        );
    }

    #[test]
    fn forwarded_request_layout() {
        let r = ForwardedRequest {
            session_id: 0x0100_0000_0000_0001,
            cxid: 7,
            op: 1,
            body: Bytes::from_static(b"body"),
            authinfo: vec![Id::new("ip", "127.0.0.1")],
        };
        let p = r.packet();
        let bytes = wire(&p);
        assert_eq!(&bytes[0..4], &[0, 0, 0, 1]);
        assert_eq!(&bytes[4..12], &[0xff; 8]);
        assert_eq!(&bytes[12..16], &[0, 0, 0, 20]);
        assert_eq!(&bytes[16..24], &[1, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&bytes[24..28], &[0, 0, 0, 7]);
        assert_eq!(&bytes[28..32], &[0, 0, 0, 1]);
        assert_eq!(&bytes[32..36], b"body");
        assert_eq!(&bytes[36..40], &[0, 0, 0, 1]);
        assert_eq!(ForwardedRequest::read(&p), Ok(r));
        let short = QuorumPacket::with_data(PacketType::Request, -1, vec![0; 15]);
        assert!(ForwardedRequest::read(&short).is_err());
    }

    #[test]
    fn bare_packets_have_javas_zxids() {
        assert_eq!(Bare::up_to_date().zxid, -1);
        assert_eq!(Bare::sync().zxid, 0);
        assert_eq!(Bare::sync().kind.code(), 7);
        assert_eq!(Bare::ack(zxid_of_epoch(2)).zxid, 0x2_0000_0000);
        for p in [
            Bare::commit(1),
            Bare::diff(2),
            Bare::trunc(3),
            Bare::snap(4),
            Bare::up_to_date(),
        ] {
            assert_eq!(p.encoded_len(), 20);
            wire(&p);
        }
    }
}
