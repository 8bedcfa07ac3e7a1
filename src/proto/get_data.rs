//! `GetDataRequest` / `GetDataResponse` (op 4).

use bytes::Bytes;

use super::codec::jute_record;
use super::Stat;

jute_record! {
    /// jute `GetDataRequest`.
    pub struct GetDataRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// jute `GetDataResponse`; data is null when the node was created with null data.
    pub struct GetDataResponse {
        pub data: Option<Bytes>,
        pub stat: Stat,
    }
}
