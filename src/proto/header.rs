//! `RequestHeader` and `ReplyHeader`: the frame headers of every request and reply
//! after the handshake.

use super::codec::jute_record;

jute_record! {
    /// jute `RequestHeader`: the client's xid and the request type.
    pub struct RequestHeader {
        pub xid: i32,
        pub op: i32,
    }
}

jute_record! {
    /// jute `ReplyHeader`: the xid answered, the server's zxid, and the error code
    /// (the body is omitted when `err != 0`).
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        pub err: i32,
    }
}

/// Encoded size of a `ReplyHeader`.
pub const REPLY_HEADER_LEN: usize = 16;
