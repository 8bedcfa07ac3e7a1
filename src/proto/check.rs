//! `CheckVersionRequest` (op check 13, in multi and on its own).

use super::codec::jute_record;

jute_record! {
    /// jute `CheckVersionRequest`.
    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }
}
