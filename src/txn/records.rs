//! The txn records of `zookeeper.jute` (module `org.apache.zookeeper.txn`, 3.9), field
//! for field and in ZooKeeper's order, so a ZooKeeper txn log can be read later.

use crate::proto::codec::jute_record;
use crate::proto::{Acl, NodeData};

jute_record! {
    /// jute `TxnHeader`: `client_id` is the session, `time_ms` the leader's wall
    /// clock when it prepared the txn, `op` the `OpCode` number (−1 for an error).
    pub struct TxnHeader {
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        pub time_ms: i64,
        pub op: i32,
    }
}

jute_record! {
    /// jute `CreateTxn` (ops create 1 and create2 15). `parent_cversion` is the
    /// parent's stored cversion after this create.
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<NodeData>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// jute `CreateContainerTxn` (op 19).
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<NodeData>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

jute_record! {
    /// jute `CreateTTLTxn` (op 21); `ttl` in ms.
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<NodeData>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

jute_record! {
    /// jute `DeleteTxn` (ops delete 2 and deleteContainer 20).
    pub struct DeleteTxn {
        pub path: String,
    }
}

jute_record! {
    /// jute `SetDataTxn` (op 5, and reconfig 16); `version` is the new version.
    pub struct SetDataTxn {
        pub path: String,
        pub data: Option<NodeData>,
        pub version: i32,
    }
}

jute_record! {
    /// jute `CheckVersionTxn` (op 13); `version` is the checked version + 1, as
    /// ZooKeeper writes it (unused on apply).
    pub struct CheckVersionTxn {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    /// jute `SetACLTxn` (op 7); `version` is the new aversion.
    pub struct SetAclTxn {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    /// jute `CreateSessionTxn` (op −10); the negotiated timeout in ms.
    pub struct CreateSessionTxn {
        pub time_out: i32,
    }
}

jute_record! {
    /// jute `CloseSessionTxn` (op −11): the ephemerals to delete.
    pub struct CloseSessionTxn {
        pub paths2_delete: Vec<String>,
    }
}

jute_record! {
    /// jute `ErrorTxn` (op −1): a write that failed validation still takes a zxid.
    pub struct ErrorTxn {
        pub err: i32,
    }
}
