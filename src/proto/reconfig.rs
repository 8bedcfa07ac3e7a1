//! `ReconfigRequest` (op 16) and the SASL records (op 102). ringkeeper answers
//! reconfig with RECONFIGDISABLED (decoded all the same, so the rest of the frame is
//! validated); SASL tokens go to the server's DIGEST-MD5 exchange.

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
    /// jute `SetSASLResponse`: the server's next SASL token (null after a failure).
    pub struct SetSaslResponse {
        pub token: Option<Bytes>,
    }
}

jute_record! {
    /// jute `GetSASLRequest`.
    pub struct GetSaslRequest {
        pub token: Bytes,
    }
}
