//! `ReconfigRequest` (op 16) and the SASL records (op 102). ringkeeper answers
//! reconfig with RECONFIGDISABLED and sasl with UNIMPLEMENTED, but decodes both so the
//! rest of the frame is validated.

use bytes::Bytes;

use super::codec::jute_record;

jute_record! {
    /// jute `ReconfigRequest`.
    pub struct ReconfigRequest {
        pub joining_servers: String,
        pub leaving_servers: String,
        pub new_members: String,
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// jute `GetSASLRequest`.
    pub struct GetSaslRequest {
        pub token: Bytes,
    }
}
