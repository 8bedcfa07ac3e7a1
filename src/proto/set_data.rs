//! `SetDataRequest` / `SetDataResponse` (op 5).

use bytes::Bytes;

use super::codec::jute_record;
use super::Stat;

jute_record! {
    /// jute `SetDataRequest`; version −1 matches any version.
    pub struct SetDataRequest {
        pub path: String,
        pub data: Option<Bytes>,
        pub version: i32,
    }
}

jute_record! {
    /// jute `SetDataResponse`.
    pub struct SetDataResponse {
        pub stat: Stat,
    }
}
