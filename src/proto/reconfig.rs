//! `ReconfigRequest` (op 16) and the SASL records (op 102). ringkeeper answers
//! reconfig with RECONFIGDISABLED and sasl with UNIMPLEMENTED, but decodes both so the
//! rest of the frame is validated.

use bytes::Bytes;

use super::codec::jute_record;

jute_record! {
    /// jute `ReconfigRequest`; each server list may be null.
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// jute `GetSASLRequest`.
    pub struct GetSaslRequest {
        pub token: Bytes,
    }
}
