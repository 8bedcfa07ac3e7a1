//! `SetACLRequest` / `SetACLResponse` (op 7).

use super::codec::jute_record;
use super::{Acl, Stat};

jute_record! {
    /// jute `SetACLRequest`; version is matched against `aversion`.
    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    /// jute `SetACLResponse`.
    pub struct SetAclResponse {
        pub stat: Stat,
    }
}
