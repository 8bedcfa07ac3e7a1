//! The election port after the handshake: frames of `i32 length` + payload, each payload
//! one FLE notification (`FastLeaderElection.buildMsg` and the parsing in
//! `WorkerReceiver.run`).
//!
//! ```text
//! offset size field
//!  0      4   state          ServerState ordinal of the sender
//!  4      8   leader         proposed leader's sid
//! 12      8   zxid           proposed leader's last zxid
//! 20      8   electionEpoch  sender's logicalclock (round)
//! 28      8   peerEpoch      proposed leader's epoch
//! 36      4   version        2
//! 40      4   C              config length
//! 44      C   config         sender's committed config text, UTF-8
//! ```
//!
//! Two kinds of failure differ: a bad frame length closes the connection
//! ([`FrameError`]); a bad notification inside a good frame is dropped and the connection
//! kept ([`NotificationError`]), as Java does.

use bytes::{BufMut, Bytes, BytesMut};

use super::{be_i32, be_i64, Decoded};
use crate::zab::vote::ServerState;
use crate::zab::{epoch_of, Sid, Zxid};

/// `QuorumCnxManager.PACKETMAXSIZE`: the largest election frame, 512 KiB.
pub const MAX_ELECTION_FRAME_LEN: usize = 512 * 1024;

/// `Notification.CURRENTVERSION`: the format with the config text.
pub const NOTIFICATION_VERSION: i32 = 2;

/// A frame length outside `1..=512 KiB`: Java drops the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("election frame length {len} outside 1..={MAX_ELECTION_FRAME_LEN}")]
pub struct FrameError {
    pub len: i32,
}

/// Takes one frame's payload off the front of `buf`.
pub fn decode_frame(buf: &[u8]) -> Result<Decoded<Bytes>, FrameError> {
    let Some(len) = be_i32(buf, 0) else {
        return Ok(Decoded::Incomplete);
    };
    if len <= 0 || len as usize > MAX_ELECTION_FRAME_LEN {
        return Err(FrameError { len });
    }
    let end = 4 + len as usize;
    match buf.get(4..end) {
        None => Ok(Decoded::Incomplete),
        Some(payload) => Ok(Decoded::Complete {
            value: Bytes::copy_from_slice(payload),
            consumed: end,
        }),
    }
}

/// Writes `payload` as one frame.
pub fn encode_frame(payload: &[u8], out: &mut BytesMut) {
    out.put_i32(payload.len() as i32);
    out.put_slice(payload);
}

/// A notification Java would drop without closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Fewer than 28 bytes ("Got a short response").
    #[error("notification of {len} bytes is shorter than 28")]
    TooShort { len: usize },
    /// A length between the known forms: a field runs past the end
    /// ("Skipping the processing of a partial / malformed response message").
    #[error("notification of {len} bytes ends inside a field that needs {needed}")]
    Truncated { len: usize, needed: usize },
    #[error("config length {config_len} does not fit a notification of {len} bytes")]
    ConfigLength { config_len: i32, len: usize },
    #[error("unknown server state {0}")]
    UnknownState(i32),
}

/// One FLE notification: a vote and the state of the server that sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub state: ServerState,
    pub leader: Sid,
    pub zxid: Zxid,
    pub election_epoch: i64,
    pub peer_epoch: i64,
    /// The format version: 0 for the 28- and 40-byte forms (3.4 and older), else as
    /// sent. Versions above 1 carry a config. Encoding always writes
    /// [`NOTIFICATION_VERSION`].
    pub version: i32,
    /// The sender's committed config text; `None` in formats without one.
    pub config: Option<Bytes>,
}

impl Notification {
    /// Reads a notification from one frame's payload, accepting every form a 3.8 server
    /// accepts: 28 bytes (no peerEpoch: it is `zxid >> 32`), 40 bytes (peerEpoch, no
    /// version), and 44 + C bytes. Bytes after the config are ignored, as Java ignores
    /// them.
    pub fn decode(payload: &[u8]) -> Result<Notification, NotificationError> {
        let len = payload.len();
        let need = |needed: usize| NotificationError::Truncated { len, needed };
        if len < 28 {
            return Err(NotificationError::TooShort { len });
        }
        let field_i64 = |at: usize| be_i64(payload, at).ok_or(need(at + 8));
        let field_i32 = |at: usize| be_i32(payload, at).ok_or(need(at + 4));
        let state_code = field_i32(0)?;
        let leader = field_i64(4)?;
        let zxid = field_i64(12)?;
        let election_epoch = field_i64(20)?;
        let (peer_epoch, version) = if len == 28 {
            (epoch_of(zxid), 0)
        } else if len == 40 {
            (field_i64(28)?, 0)
        } else {
            (field_i64(28)?, field_i32(36)?)
        };
        let config = if version > 1 {
            let config_len = field_i32(40)?;
            if config_len < 0 || config_len as usize > len {
                return Err(NotificationError::ConfigLength { config_len, len });
            }
            let end = 44 + config_len as usize;
            let text = payload.get(44..end).ok_or(need(end))?;
            Some(Bytes::copy_from_slice(text))
        } else {
            None
        };
        let state = ServerState::from_code(state_code)
            .ok_or(NotificationError::UnknownState(state_code))?;
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            version,
            config,
        })
    }

    /// The payload in the current form (44 + C bytes, version 2); a missing config is
    /// sent as an empty one.
    pub fn encode(&self, out: &mut BytesMut) {
        let config: &[u8] = self.config.as_deref().unwrap_or(&[]);
        out.reserve(44 + config.len());
        out.put_i32(self.state.code());
        out.put_i64(self.leader);
        out.put_i64(self.zxid);
        out.put_i64(self.election_epoch);
        out.put_i64(self.peer_epoch);
        out.put_i32(NOTIFICATION_VERSION);
        out.put_i32(config.len() as i32);
        out.put_slice(config);
    }

    /// The payload framed for the election socket.
    pub fn encode_frame(&self, out: &mut BytesMut) {
        let config_len = self.config.as_ref().map_or(0, |c| c.len());
        out.put_i32((44 + config_len) as i32);
        self.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Notification {
        Notification {
            state: ServerState::Looking,
            leader: 3,
            zxid: 0x1_0000_0005,
            election_epoch: 2,
            peer_epoch: 1,
            version: NOTIFICATION_VERSION,
            config: Some(Bytes::from_static(b"version=0")),
        }
    }

    #[test]
    fn golden_notification_bytes() {
        let mut out = BytesMut::new();
        sample().encode_frame(&mut out);
        let expect: Vec<u8> = [
            &[0u8, 0, 0, 53][..],      // frame length 44 + 9
            &[0, 0, 0, 0],             // LOOKING
            &[0, 0, 0, 0, 0, 0, 0, 3], // leader
            &[0, 0, 0, 1, 0, 0, 0, 5], // zxid
            &[0, 0, 0, 0, 0, 0, 0, 2], // electionEpoch
            &[0, 0, 0, 0, 0, 0, 0, 1], // peerEpoch
            &[0, 0, 0, 2],             // version
            &[0, 0, 0, 9],             // config length
            b"version=0",
        ]
        .concat();
        assert_eq!(&out[..], &expect[..]);
        let frame = decode_frame(&out).unwrap();
        let Decoded::Complete { value, consumed } = frame else {
            panic!("incomplete")
        };
        assert_eq!(consumed, 57);
        assert_eq!(Notification::decode(&value), Ok(sample()));
    }

    #[test]
    fn old_forms_are_accepted() {
        let mut out = BytesMut::new();
        sample().encode(&mut out);
        // 40 bytes: 3.4's form, version 1 at offset 36 but not read.
        let n40 = Notification::decode(&out[..40]).unwrap();
        assert_eq!((n40.peer_epoch, n40.version, n40.config), (1, 0, None));
        // 28 bytes: no peerEpoch, taken from the zxid.
        let n28 = Notification::decode(&out[..28]).unwrap();
        assert_eq!((n28.peer_epoch, n28.version), (1, 0));
        // Version 1 in a longer message: no config read.
        let mut v1 = out.to_vec();
        v1[36..40].copy_from_slice(&1i32.to_be_bytes());
        assert_eq!(Notification::decode(&v1).unwrap().config, None);
        // Trailing bytes after the config are ignored.
        let mut long = out.to_vec();
        long.extend_from_slice(b"xyz");
        assert_eq!(Notification::decode(&long), Ok(sample()));
    }

    #[test]
    fn malformed_notifications_are_dropped_with_a_reason() {
        let mut out = BytesMut::new();
        sample().encode(&mut out);
        assert_eq!(
            Notification::decode(&out[..27]),
            Err(NotificationError::TooShort { len: 27 })
        );
        assert_eq!(
            Notification::decode(&out[..30]),
            Err(NotificationError::Truncated {
                len: 30,
                needed: 36
            })
        );
        assert_eq!(
            Notification::decode(&out[..38]),
            Err(NotificationError::Truncated {
                len: 38,
                needed: 40
            })
        );
        assert_eq!(
            Notification::decode(&out[..42]),
            Err(NotificationError::Truncated {
                len: 42,
                needed: 44
            })
        );
        assert_eq!(
            Notification::decode(&out[..50]),
            Err(NotificationError::Truncated {
                len: 50,
                needed: 53
            })
        );
        let mut neg = out.to_vec();
        neg[40..44].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            Notification::decode(&neg),
            Err(NotificationError::ConfigLength {
                config_len: -1,
                len: 53
            })
        );
        let mut state = out.to_vec();
        state[0..4].copy_from_slice(&4i32.to_be_bytes());
        assert_eq!(
            Notification::decode(&state),
            Err(NotificationError::UnknownState(4))
        );
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(decode_frame(&[0, 0, 0]), Ok(Decoded::Incomplete));
        assert_eq!(decode_frame(&[0, 0, 0, 2, 9]), Ok(Decoded::Incomplete));
        assert_eq!(decode_frame(&[0, 0, 0, 0]), Err(FrameError { len: 0 }));
        assert_eq!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff]),
            Err(FrameError { len: -1 })
        );
        assert_eq!(
            decode_frame(&[0, 8, 0, 1]),
            Err(FrameError { len: 0x80001 })
        );
        // Exactly 512 KiB is allowed: it waits for its bytes.
        assert_eq!(decode_frame(&[0, 8, 0, 0]), Ok(Decoded::Incomplete));
    }
}
