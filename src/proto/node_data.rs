//! `NodeData`: a znode's data as txns and replicas hold it.
//!
//! One allocation (reference count, length, bytes) behind one pointer. A `Bytes` costs
//! 32 bytes in every node plus, once it has been cloned, a 32-byte shared header of its
//! own: at a million 100-byte znodes that was ~56 MiB of the tree's ~350 MiB. Cloning
//! is a reference-count increment, so every replica applying a txn shares its bytes.

use std::fmt;
use std::ops::Deref;

use bytes::{Bytes, BytesMut};
use triomphe::ThinArc;

use super::codec::{put_buffer, Decode, DecodeError, Encode, Reader};

/// Immutable znode data (a setData replaces it whole).
#[derive(Clone, PartialEq, Eq)]
pub struct NodeData(ThinArc<(), u8>);

impl NodeData {
    pub fn new(bytes: &[u8]) -> NodeData {
        NodeData(ThinArc::from_header_and_slice((), bytes))
    }

    /// A `Bytes` over the same allocation (for a reply), without copying the data.
    pub fn shared_bytes(&self) -> Bytes {
        Bytes::from_owner(self.clone())
    }
}

impl Deref for NodeData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0.slice
    }
}

impl AsRef<[u8]> for NodeData {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<&[u8]> for NodeData {
    fn from(bytes: &[u8]) -> NodeData {
        NodeData::new(bytes)
    }
}

impl fmt::Debug for NodeData {
    /// As `Bytes` prints: a byte string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self), f)
    }
}

/// A jute buffer; `None` is null data (−1), distinct from empty.
impl Encode for Option<NodeData> {
    fn encode(&self, out: &mut BytesMut) {
        put_buffer(out, self.as_deref());
    }
}

/// Copied out of the frame, as `Option<Bytes>` is.
impl Decode for Option<NodeData> {
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(r.read_buffer()?.map(|b| NodeData::new(&b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_empty_and_data_round_trip_as_jute_buffers() {
        for d in [None, Some(NodeData::new(b"")), Some(NodeData::new(b"abc"))] {
            assert_eq!(Option::<NodeData>::from_bytes(d.to_bytes()), Ok(d));
        }
        assert_eq!(&None::<NodeData>.to_bytes()[..], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&Some(NodeData::new(b"")).to_bytes()[..], &[0, 0, 0, 0]);
    }

    #[test]
    fn a_reply_bytes_shares_the_data_and_outlives_the_node() {
        let d = NodeData::new(b"payload");
        let b = d.shared_bytes();
        drop(d);
        assert_eq!(&b[..], b"payload");
        assert_eq!(std::mem::size_of::<Option<NodeData>>(), 8);
    }
}
