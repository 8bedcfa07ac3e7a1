//! `ErrorResponse` and `MultiHeader`: the pieces of multi framing.

use super::codec::jute_record;

jute_record! {
    /// jute `ErrorResponse`: a failed (or rolled back) op inside a multi response.
    pub struct ErrorResponse {
        pub err: i32,
    }
}

jute_record! {
    /// jute `MultiHeader`: precedes each op of a multi request and response; the list
    /// ends with `{type: -1, done: true, err: -1}`.
    pub struct MultiHeader {
        pub op: i32,
        pub done: bool,
        pub err: i32,
    }
}

impl MultiHeader {
    pub fn end() -> MultiHeader {
        MultiHeader {
            op: -1,
            done: true,
            err: -1,
        }
    }
}
