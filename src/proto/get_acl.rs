//! `GetACLRequest` / `GetACLResponse` (op 6).

use super::codec::jute_record;
use super::{Acl, Stat};

jute_record! {
    /// jute `GetACLRequest`.
    pub struct GetAclRequest {
        pub path: String,
    }
}

jute_record! {
    /// jute `GetACLResponse`.
    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }
}
