//! `ExistsRequest` / `ExistsResponse` (op 3).

use super::codec::jute_record;
use super::Stat;

jute_record! {
    /// jute `ExistsRequest`.
    pub struct ExistsRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// jute `ExistsResponse`.
    pub struct ExistsResponse {
        pub stat: Stat,
    }
}
