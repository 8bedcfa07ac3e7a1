//! `GetChildrenRequest` / `GetChildrenResponse` (op 8) and `GetChildren2Request` /
//! `GetChildren2Response` (op 12).

use super::codec::jute_record;
use super::Stat;

jute_record! {
    /// jute `GetChildrenRequest` (the same shape as `GetChildren2Request`).
    pub struct GetChildrenRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// jute `GetChildrenResponse`.
    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }
}

jute_record! {
    /// jute `GetChildren2Response`.
    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }
}
