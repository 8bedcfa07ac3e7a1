//! `AuthPacket` (op auth 100, xid −4) and `WhoAmIResponse` (op 107).

use bytes::Bytes;

use super::codec::jute_record;

jute_record! {
    /// jute `AuthPacket`: `type` is unused by the server; scheme and credentials.
    pub struct AuthPacket {
        pub auth_type: i32,
        pub scheme: String,
        pub auth: Bytes,
    }
}

jute_record! {
    /// jute `ClientInfo`: one identity the session holds.
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }
}

jute_record! {
    /// jute `WhoAmIResponse`.
    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}
