//! Building reply frames: length prefix, `ReplyHeader`, body (also used by the
//! floor instrument in bench/loadgen/floor.rs).

use bytes::{BufMut, Bytes, BytesMut};

use crate::proto::{Encode, ReplyHeader, REPLY_HEADER_LEN};

/// A reply frame. The body is written only when `err == 0`, as ZooKeeper does.
pub fn reply(xid: i32, zxid: i64, err: i32, body: Option<&dyn EncodeDyn>) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + REPLY_HEADER_LEN + 64);
    out.put_i32(0);
    ReplyHeader { xid, zxid, err }.encode(&mut out);
    if err == 0 {
        if let Some(b) = body {
            b.encode_dyn(&mut out);
        }
    }
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// A reply frame whose body is written whatever `err` is: ZooKeeper's answer to a
/// failed SASL exchange carries a `SetSASLResponse` with a null token.
pub fn reply_with_body(xid: i32, zxid: i64, err: i32, body: &dyn EncodeDyn) -> Bytes {
    let mut out = BytesMut::with_capacity(4 + REPLY_HEADER_LEN + 64);
    out.put_i32(0);
    ReplyHeader { xid, zxid, err }.encode(&mut out);
    body.encode_dyn(&mut out);
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// A frame holding one record with no reply header (the handshake answer).
pub fn bare(record: &dyn EncodeDyn) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(0);
    record.encode_dyn(&mut out);
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.freeze()
}

/// Object-safe view of [`Encode`], so replies of different record types share one path.
pub trait EncodeDyn {
    fn encode_dyn(&self, out: &mut BytesMut);
}

impl<T: Encode> EncodeDyn for T {
    fn encode_dyn(&self, out: &mut BytesMut) {
        self.encode(out)
    }
}
