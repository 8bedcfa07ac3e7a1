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
