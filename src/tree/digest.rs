//! ZooKeeper's data-tree digest (`DigestCalculator`, `NodeHashMapImpl`, `AdHash`,
//! digest version 2): each znode hashes to the CRC32 (IEEE, as `java.util.zip.CRC32`)
//! of its path, its data and 60 bytes of its persisted stat; the tree's digest is the
//! wrapping sum of those over every node. Members of an ensemble compare it after each
//! txn to catch replicas that diverged.
//!
//! Pure: the tree keeps the sum current as it applies changes (`data_tree.rs`).

use super::node::StatPersisted;

/// `DigestCalculator.DIGEST_VERSION`: a digest of another version is not compared.
pub const DIGEST_VERSION: i32 = 2;

/// Nodes below this prefix count 0: ZooKeeper updates quota nodes locally on each
/// member, so it leaves the whole `/zookeeper/` subtree out (`/zookeeper` itself counts).
const EXCLUDED_PREFIX: &str = "/zookeeper/";

/// Whether the node at `path` takes part in the digest.
pub fn digested(path: &str) -> bool {
    !path.starts_with(EXCLUDED_PREFIX)
}

/// `DigestCalculator.calculateDigest`: the node's share of the tree digest. "/" and ""
/// (the two names ZooKeeper keeps the root under) both hash as "".
pub fn node_digest(path: &str, data: Option<&[u8]>, stat: &StatPersisted) -> u64 {
    if !digested(path) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut fields = [0u8; 60];
    let longs_then_ints = [
        (0, stat.czxid),
        (8, stat.mzxid),
        (16, stat.pzxid),
        (24, stat.ctime),
        (32, stat.mtime),
    ];
    for (at, v) in longs_then_ints {
        fields[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }
    fields[40..44].copy_from_slice(&stat.version.to_be_bytes());
    fields[44..48].copy_from_slice(&stat.cversion.to_be_bytes());
    fields[48..52].copy_from_slice(&stat.aversion.to_be_bytes());
    fields[52..60].copy_from_slice(&stat.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(d) = data {
        crc.update(d);
    }
    crc.update(&fields);
    u64::from(crc.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_subtree_and_root_alias() {
        let s = StatPersisted::default();
        assert_eq!(node_digest("/zookeeper/quota", Some(b""), &s), 0);
        assert_ne!(node_digest("/zookeeper", Some(b""), &s), 0);
        assert_eq!(node_digest("/", None, &s), node_digest("", None, &s));
        // Null and empty data hash alike, as in ZooKeeper.
        assert_eq!(
            node_digest("/a", None, &s),
            node_digest("/a", Some(b""), &s)
        );
    }
}
