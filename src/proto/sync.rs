//! `SyncRequest` / `SyncResponse` (op 9).

use super::codec::jute_record;

jute_record! {
    /// jute `SyncRequest`.
    pub struct SyncRequest {
        pub path: String,
    }
}

jute_record! {
    /// jute `SyncResponse`.
    pub struct SyncResponse {
        pub path: String,
    }
}
