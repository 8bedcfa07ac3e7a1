//! `DeleteRequest` (op delete 2; deleteContainer 20 is internal).

use super::codec::jute_record;

jute_record! {
    /// jute `DeleteRequest`; version −1 matches any version.
    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }
}
