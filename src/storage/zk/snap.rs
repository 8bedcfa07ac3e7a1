//! ZooKeeper 3.8 snapshot reader (`snapshot.<hex zxid>`, uncompressed). Layout in the
//! parent module's docs.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;

use super::adler::adler32;
use super::ZkError;
use crate::proto::codec::{Decode, DecodeError, Reader};
use crate::proto::{Acl, NodeData};
use crate::tree::{DataTree, StatPersisted, CONFIG_PATH, QUOTA_PATH, ZOOKEEPER_PATH};

/// `"ZKSN"` read as a big-endian int (`FileSnap.SNAP_MAGIC`).
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// `FileSnap.VERSION`.
pub const SNAP_VERSION: i32 = 2;
/// `ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`: the ref of `OPEN_ACL_UNSAFE`, never
/// stored in the cache.
pub const OPEN_UNSAFE_ACL_REF: i64 = -1;
/// A seal: `long checksum` + ustring `"/"` (length 1, one byte).
const SEAL_BYTES: usize = 8 + 4 + 1;
/// `ZxidDigest`: `long zxid; int digestVersion; long digest`.
const ZXID_DIGEST_BYTES: usize = 8 + 4 + 8;
/// 3.9's `lastProcessedZxid` section: one long.
const LAST_ZXID_BYTES: usize = 8;

/// `DataTree.ZxidDigest` as the snapshot stores it after the first seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub digest_version: i32,
    pub digest: i64,
}

/// A ZooKeeper snapshot, read and checked.
pub struct ZkSnapshot {
    pub dbid: i64,
    /// Sessions in the snapshot: (id, timeout ms), in file order.
    pub sessions: Vec<(i64, i32)>,
    pub tree: DataTree,
    /// Nodes stored in the file (the root included).
    pub nodes: usize,
    /// Lists in the ACL cache.
    pub acl_lists: usize,
    pub zxid_digest: Option<ZxidDigest>,
    /// 3.9's last processed zxid section, when present.
    pub last_processed_zxid: Option<i64>,
    /// System nodes (`/zookeeper`, `/zookeeper/quota`, `/zookeeper/config`) the file
    /// lacked and that were added as `DataTree::new` has them.
    pub added_system_nodes: Vec<&'static str>,
}

/// True when `bytes` ends with a seal's `"/"` (ZooKeeper's `SnapStream.isValidSnapshot`
/// check: at least 10 bytes, the last five are `int 1` and `'/'`). A snapshot cut short
/// by a crash fails it and ZooKeeper falls back to an older one.
pub fn looks_complete(bytes: &[u8]) -> bool {
    bytes.len() >= 10 && bytes[bytes.len() - 5..] == [0, 0, 0, 1, b'/']
}

fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> ZkError {
    ZkError::Corrupt {
        path: path.to_owned(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn dec(path: &Path, at: usize) -> impl Fn(DecodeError) -> ZkError + '_ {
    move |e| corrupt(path, at, format!("does not decode: {e}"))
}

/// Reads a seal at the reader's position and checks it against the Adler-32 of every
/// byte before it (the checksum runs on across seals, as `CheckedInputStream` keeps
/// it).
fn check_seal(path: &Path, bytes: &[u8], r: &mut Reader) -> Result<(), ZkError> {
    let at = r.offset();
    let stored = r.read_i64().map_err(dec(path, at))?;
    let slash_at = r.offset();
    let slash = String::decode(r).map_err(dec(path, slash_at))?;
    if slash != "/" {
        return Err(corrupt(
            path,
            slash_at,
            format!("seal is followed by {slash:?}, not \"/\""),
        ));
    }
    let computed = i64::from(adler32(&bytes[..at]));
    if stored != computed {
        return Err(corrupt(
            path,
            at,
            format!(
                "Adler32 mismatch: stored {stored:#x}, computed {computed:#x} over bytes 0..{at}"
            ),
        ));
    }
    Ok(())
}

/// Reads a ZooKeeper snapshot held in `bytes` (the contents of `path`, named for
/// errors) into a tree built with `zookeeper.extendedTypesEnabled` = `extended_types`.
pub fn read_snapshot_bytes(
    path: &Path,
    bytes: Bytes,
    extended_types: bool,
) -> Result<ZkSnapshot, ZkError> {
    let all = bytes.clone();
    let mut r = Reader::new(bytes);

    // FileHeader {int magic; int version; long dbid}
    let magic = r.read_i32().map_err(dec(path, 0))?;
    if magic != SNAP_MAGIC {
        return Err(corrupt(
            path,
            0,
            format!("magic {magic:#010x} is not \"ZKSN\" (a compressed snapshot?)"),
        ));
    }
    let version = r.read_i32().map_err(dec(path, 4))?;
    if version != SNAP_VERSION {
        return Err(corrupt(
            path,
            4,
            format!("snapshot version {version}, expected 2"),
        ));
    }
    let dbid = r.read_i64().map_err(dec(path, 8))?;

    let SnapBody {
        sessions,
        mut tree,
        nodes,
        acl_lists,
    } = read_body_from(path, &mut r, extended_types)?;
    check_seal(path, &all, &mut r)?;

    // Optional sections, each followed by its own seal: ZxidDigest (when
    // zookeeper.digest.enabled, the default) and 3.9's lastProcessedZxid. ZooKeeper
    // reads the digest unless it hits EOF; so do we, going by the bytes left.
    let mut zxid_digest = None;
    let mut last_processed_zxid = None;
    if r.remaining() >= ZXID_DIGEST_BYTES + SEAL_BYTES {
        let at = r.offset();
        zxid_digest = Some(ZxidDigest {
            zxid: r.read_i64().map_err(dec(path, at))?,
            digest_version: r.read_i32().map_err(dec(path, at))?,
            digest: r.read_i64().map_err(dec(path, at))?,
        });
        check_seal(path, &all, &mut r)?;
    }
    if r.remaining() == LAST_ZXID_BYTES + SEAL_BYTES {
        let at = r.offset();
        last_processed_zxid = Some(r.read_i64().map_err(dec(path, at))?);
        check_seal(path, &all, &mut r)?;
    }
    if r.remaining() != 0 {
        return Err(corrupt(
            path,
            r.offset(),
            format!("{} unexpected bytes after the last seal", r.remaining()),
        ));
    }

    let added_system_nodes = add_missing_system_nodes(&mut tree);
    Ok(ZkSnapshot {
        dbid,
        sessions,
        tree,
        nodes,
        acl_lists,
        zxid_digest,
        last_processed_zxid,
        added_system_nodes,
    })
}

/// What a snapshot's body holds: the part a file and a SNAP stream share.
pub struct SnapBody {
    pub sessions: Vec<(i64, i32)>,
    pub tree: DataTree,
    /// Nodes stored (the root included).
    pub nodes: usize,
    pub acl_lists: usize,
}

/// Sessions, ACL cache and nodes up to the end path "/" (`SerializeUtils
/// .deserializeSnapshot`), into a tree built with `extended_types`.
pub(super) fn read_body_from(
    path: &Path,
    r: &mut Reader,
    extended_types: bool,
) -> Result<SnapBody, ZkError> {
    // sessions: int count; (long id; int timeout)*
    let at = r.offset();
    let count = r.read_i32().map_err(dec(path, at))?;
    if count < 0 || count as usize > r.remaining() / 12 {
        return Err(corrupt(path, at, format!("session count {count}")));
    }
    let mut sessions = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let at = r.offset();
        let id = r.read_i64().map_err(dec(path, at))?;
        let timeout = r.read_i32().map_err(dec(path, at))?;
        sessions.push((id, timeout));
    }

    // ACL cache: int n; (long ref; vector<ACL>)*
    let at = r.offset();
    let n = r.read_i32().map_err(dec(path, at))?;
    if n < 0 || n as usize > r.remaining() / 12 {
        return Err(corrupt(path, at, format!("ACL cache size {n}")));
    }
    let mut acl_cache: HashMap<i64, Vec<Acl>> = HashMap::with_capacity(n as usize);
    for _ in 0..n {
        let at = r.offset();
        let aref = r.read_i64().map_err(dec(path, at))?;
        let vat = r.offset();
        let len = r.read_i32().map_err(dec(path, vat))?;
        // ZooKeeper throws on a null vector here ("missing acls").
        if len < 0 || len as usize > r.remaining() / 12 {
            return Err(corrupt(path, vat, format!("ACL list of {len} entries")));
        }
        let mut list = Vec::with_capacity(len as usize);
        for _ in 0..len {
            let aat = r.offset();
            list.push(Acl::decode(r).map_err(dec(path, aat))?);
        }
        if acl_cache.insert(aref, list).is_some() {
            return Err(corrupt(path, at, format!("ACL ref {aref} appears twice")));
        }
    }

    // nodes: (ustring path; buffer data; long aclRef; StatPersisted)* until path "/"
    let mut tree = DataTree::empty_for_restore(extended_types);
    let mut nodes = 0usize;
    let open = Acl::open_unsafe();
    loop {
        let at = r.offset();
        let zk_path = String::decode(r).map_err(dec(path, at))?;
        if zk_path == "/" {
            break;
        }
        let data_at = r.offset();
        let data = r
            .read_buffer()
            .map_err(dec(path, data_at))?
            .map(|b| NodeData::new(&b));
        let ref_at = r.offset();
        let aref = r.read_i64().map_err(dec(path, ref_at))?;
        let stat_at = r.offset();
        let stat = StatPersisted::decode(r).map_err(dec(path, stat_at))?;
        let acl: &[Acl] = if aref == OPEN_UNSAFE_ACL_REF {
            &open
        } else {
            acl_cache.get(&aref).map(Vec::as_slice).ok_or_else(|| {
                corrupt(
                    path,
                    ref_at,
                    format!("node {zk_path:?}: ACL ref {aref} is not in the ACL cache"),
                )
            })?
        };
        // The root is stored under "" (DataTree keys it so); "/zookeeper"'s parent is "".
        let ours = if zk_path.is_empty() {
            "/"
        } else {
            zk_path.as_str()
        };
        if nodes == 0 && ours != "/" {
            return Err(corrupt(
                path,
                at,
                format!("first node is {zk_path:?}, not the root \"\""),
            ));
        }
        tree.insert_restored(ours, data, acl, stat).map_err(|e| {
            corrupt(path, at, format!("node {zk_path:?} does not fit the tree: {e:?} (duplicate, missing parent or bad path)"))
        })?;
        nodes += 1;
    }
    if nodes == 0 {
        return Err(corrupt(path, r.offset(), "snapshot holds no nodes"));
    }
    Ok(SnapBody {
        sessions,
        tree,
        nodes,
        acl_lists: acl_cache.len(),
    })
}

/// ZooKeeper 3.8 snapshots hold `/zookeeper`, `/zookeeper/quota` and
/// `/zookeeper/config`, and they are taken as stored. A file without one of them
/// (older ZooKeeper: no `/zookeeper/config`) gets it as `DataTree::new` makes it: empty
/// data, zero stat, OPEN_ACL_UNSAFE (config: READ_ACL_UNSAFE, aversion −1).
fn add_missing_system_nodes(tree: &mut DataTree) -> Vec<&'static str> {
    let mut added = Vec::new();
    for p in [ZOOKEEPER_PATH, QUOTA_PATH, CONFIG_PATH] {
        if tree.get(p).is_some() {
            continue;
        }
        let (acl, aversion) = if p == CONFIG_PATH {
            (Acl::read_unsafe(), -1)
        } else {
            (Acl::open_unsafe(), 0)
        };
        let stat = StatPersisted {
            aversion,
            ..StatPersisted::default()
        };
        if tree
            .insert_restored(p, Some(NodeData::new(b"")), &acl, stat)
            .is_ok()
        {
            added.push(p);
        }
    }
    added
}
