//! The data tree: znodes, their Stat, ACL checks, path rules, node types (ZooKeeper
//! 3.9's `DataTree`, `DataNode`, `PathUtils`, `EphemeralType`, ACL providers).
//!
//! Quotas (`quota`): ZooKeeper's stats nodes under `/zookeeper/quota` are kept
//! current by the tree; `txn::prep` enforces the limits (with `enforceQuota`).
//!
//! Pure: no I/O, no clock, no RNG, no async. Time and zxids arrive as arguments. A
//! `DataTree` is `Send` so a replica can be built on one thread and moved to its core.
//! Never panics on client input; validation that produces error codes lives in
//! `txn::prep`, which reads this tree.

pub mod acl;
mod acl_table;
mod data_tree;
pub mod digest;
mod ephemeral_type;
mod ephemerals;
mod ip;
mod node;
pub mod path;
mod persistent_children;
mod quota;
mod trigger;

pub use acl::{
    check_acl, digest_of, mask_digests_for_get_acl, validate_and_fixup_acl, AuthProviders,
};
pub use acl_table::AclTable;
pub use data_tree::{DataTree, TreeVersion, CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};
pub use ephemeral_type::{EphemeralType, CONTAINER_EPHEMERAL_OWNER, TTL_MAX_MS};
pub use ip::{ip_is_valid, ip_matches};
pub use node::{Node, StatPersisted};
pub use path::{validate_path, validate_path_sequential, PathError};
pub use quota::{
    limit_path, stat_path, StatsParseError, StatsTrack, BYTES, BYTE_HARD_LIMIT, COUNT,
    COUNT_HARD_LIMIT, LIMIT_NODE, STAT_NODE,
};
pub use trigger::{
    WatchTrigger, NODE_CHILDREN_CHANGED, NODE_CREATED, NODE_DATA_CHANGED, NODE_DELETED,
};

#[cfg(test)]
mod tests;
