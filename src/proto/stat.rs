//! `org.apache.zookeeper.data.Stat`: the metadata of a znode as clients see it.

use super::codec::jute_record;

jute_record! {
    /// jute `Stat`. Field order is the wire order.
    pub struct Stat {
        /// zxid of the txn that created the node.
        pub czxid: i64,
        /// zxid of the txn that last changed the data.
        pub mzxid: i64,
        /// creation time, ms since the epoch, taken from the creating txn.
        pub ctime: i64,
        /// last data change time, ms since the epoch.
        pub mtime: i64,
        /// number of data changes.
        pub version: i32,
        /// number of child changes (creates and deletes of children).
        pub cversion: i32,
        /// number of ACL changes.
        pub aversion: i32,
        /// owning session of an ephemeral, container/TTL marker, or 0.
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        /// zxid of the last change to the children.
        pub pzxid: i64,
    }
}
