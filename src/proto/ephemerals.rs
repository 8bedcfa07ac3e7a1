//! `GetEphemeralsRequest`/`Response` (op 103) and `GetAllChildrenNumberRequest`/`Response`
//! (op 104).

use super::codec::jute_record;

jute_record! {
    /// jute `GetEphemeralsRequest`: ephemerals of this session under a path prefix.
    pub struct GetEphemeralsRequest {
        pub prefix_path: String,
    }
}

jute_record! {
    /// jute `GetEphemeralsResponse`.
    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }
}

jute_record! {
    /// jute `GetAllChildrenNumberRequest`.
    pub struct GetAllChildrenNumberRequest {
        pub path: String,
    }
}

jute_record! {
    /// jute `GetAllChildrenNumberResponse`: descendants, not counting the node itself.
    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }
}
