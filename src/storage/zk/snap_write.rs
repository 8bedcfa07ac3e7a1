//! Writing a tree in ZooKeeper 3.8's snapshot serialization (layout in the parent
//! module's docs): the body a ZAB leader streams to a learner after SNAP (with the
//! "BenWasHere" signature instead of a seal, `snap_stream`), and a
//! `snapshot.<zxid>` file a ZooKeeper server starts from (`ringkeeper export-zk`, the
//! way back from ringkeeper to ZooKeeper).
//!
//! It walks one frozen version, so what it writes is exact at `zxid`. The ACL cache
//! comes before the nodes in ZooKeeper's layout, so the walk runs twice: once to number
//! the distinct ACL lists, once to write the nodes. Nodes go depth first, each parent
//! before its children, the root under the path "" as ZooKeeper keys it. A file then
//! has the tree's `ZxidDigest` and a second seal, as `FileSnap` writes them with
//! `digest.enabled`, so the ZooKeeper that starts from it checks its own digest of the
//! tree against ours; the SNAP body has none (3.8's learner computes its own).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use super::snap::{SNAP_MAGIC, SNAP_VERSION};
use super::ZkError;
use crate::proto::codec::Encode;
use crate::proto::Acl;
use crate::tree::{Node, TreeVersion};

/// `FileSnap`'s dbid: always −1.
const DBID: i64 = -1;
/// Bytes gathered before they go to the writer.
const CHUNK: usize = 64 << 10;

/// A writer that keeps the Adler-32 of everything written through it, as ZooKeeper's
/// `CheckedOutputStream` does for the whole snapshot stream.
struct Checked<W> {
    inner: W,
    sum: adler2::Adler32,
}

impl<W: Write> Checked<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sum.write_slice(bytes);
        self.inner.write_all(bytes)
    }
}

/// Which of ZooKeeper's two framings of the snapshot serialization to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotForm {
    /// A `snapshot.<zxid>` file of the tree at `zxid`: file header, body, seal
    /// (Adler-32 of every byte before it, then "/"), then the digest and a seal.
    File { zxid: i64 },
    /// A file as ZooKeeper 3.9 writes it with `serializeLastProcessedZxid.enabled` (its
    /// default): `File`, then `zxid` as the last processed zxid and a third seal. What
    /// the AdminServer's `snapshot` streams, so that 3.9's `restore` (which has no file
    /// name to take the zxid from) reads it.
    FileWithLastZxid { zxid: i64 },
    /// The body a leader sends after SNAP: no header, no seal, then "BenWasHere".
    SnapStream,
}

/// Writes `tree` and `sessions` to `out` in ZooKeeper's snapshot serialization:
/// sessions, ACL cache, nodes and the end path "/", framed as `form` says.
pub fn write_zk_snapshot(
    out: impl Write,
    tree: &TreeVersion,
    sessions: &[(i64, i32)],
    form: SnapshotForm,
) -> std::io::Result<()> {
    let mut out = Checked {
        inner: out,
        sum: adler2::Adler32::new(),
    };
    let mut buf = BytesMut::with_capacity(CHUNK + 1024);
    if let SnapshotForm::File { .. } | SnapshotForm::FileWithLastZxid { .. } = form {
        buf.put_i32(SNAP_MAGIC);
        buf.put_i32(SNAP_VERSION);
        buf.put_i64(DBID);
    }
    buf.put_i32(sessions.len() as i32);
    for (id, timeout_ms) in sessions {
        buf.put_i64(*id);
        buf.put_i32(*timeout_ms);
    }
    let Some(root) = tree.get("/") else {
        return Err(std::io::Error::other("the tree has no root"));
    };
    // The ACL cache: each distinct list (by the tree's interned allocation) numbered
    // from 1, as ReferenceCountedACLCache numbers them.
    let mut refs: HashMap<*const Acl, (i64, Arc<[Acl]>)> = HashMap::new();
    walk(root, |_, node| {
        let next = refs.len() as i64 + 1;
        refs.entry(Arc::as_ptr(node.acl()) as *const Acl)
            .or_insert_with(|| (next, node.acl().clone()));
        Ok(())
    })?;
    let mut cache: Vec<&(i64, Arc<[Acl]>)> = refs.values().collect();
    cache.sort_by_key(|(r, _)| *r);
    buf.put_i32(cache.len() as i32);
    for (r, acl) in cache {
        buf.put_i64(*r);
        acl.to_vec().encode(&mut buf);
    }
    walk(root, |path, node| {
        path.encode(&mut buf);
        node.data().cloned().encode(&mut buf);
        let r = refs
            .get(&(Arc::as_ptr(node.acl()) as *const Acl))
            .map_or(-1, |(r, _)| *r);
        buf.put_i64(r);
        node.persisted().encode(&mut buf);
        if buf.len() >= CHUNK {
            out.put(&buf)?;
            buf.clear();
        }
        Ok(())
    })?;
    "/".encode(&mut buf);
    out.put(&buf)?;
    buf.clear();
    match form {
        SnapshotForm::File { zxid } | SnapshotForm::FileWithLastZxid { zxid } => {
            seal(&mut out, &mut buf)?;
            // `DataTree.serializeZxidDigest`: written only with the digest on.
            if tree.digest_enabled() {
                buf.put_i64(zxid);
                buf.put_i32(crate::tree::digest::DIGEST_VERSION);
                buf.put_i64(tree.digest() as i64);
                seal(&mut out, &mut buf)?;
            }
            // `DataTree.serializeLastProcessedZxid`.
            if let SnapshotForm::FileWithLastZxid { .. } = form {
                buf.put_i64(zxid);
                seal(&mut out, &mut buf)?;
            }
        }
        SnapshotForm::SnapStream => {
            super::SIGNATURE.encode(&mut buf);
            out.put(&buf)?;
        }
    }
    out.inner.flush()
}

/// Writes what is in `buf`, then a seal: the Adler-32 of every byte written so far
/// and "/" (`SnapStream.sealStream`); the seal counts in the sum that follows.
fn seal<W: Write>(out: &mut Checked<W>, buf: &mut BytesMut) -> std::io::Result<()> {
    out.put(buf)?;
    buf.clear();
    buf.put_i64(i64::from(out.sum.checksum()));
    "/".encode(buf);
    out.put(buf)?;
    buf.clear();
    Ok(())
}

/// Visits every node under `root` depth first, parents before children, with its
/// path in ZooKeeper's form ("" for the root). Iterative: a deep tree cannot
/// overflow the stack.
fn walk<'a>(
    root: &'a Node,
    mut visit: impl FnMut(&str, &'a Node) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut stack: Vec<(String, &'a Node)> = vec![(String::new(), root)];
    while let Some((path, node)) = stack.pop() {
        visit(&path, node)?;
        for name in node.children() {
            if let Some(child) = node.child(name) {
                stack.push((format!("{path}/{name}"), child));
            }
        }
    }
    Ok(())
}

/// Writes `<dir>/version-2/snapshot.<zxid hex>` as ZooKeeper 3.8 names and lays it
/// out, fsynced (the directory too). `dir` is the ZooKeeper dataDir to create; it
/// must not hold ZooKeeper files already.
pub fn export_snapshot(
    dir: &Path,
    tree: &TreeVersion,
    sessions: &[(i64, i32)],
    zxid: i64,
) -> Result<PathBuf, ZkError> {
    let v2 = dir.join("version-2");
    let io = |path: &Path, op: &'static str| {
        let path = path.to_owned();
        move |source| ZkError::Io { path, op, source }
    };
    std::fs::create_dir_all(&v2).map_err(io(&v2, "create directory"))?;
    if std::fs::read_dir(&v2)
        .map_err(io(&v2, "read directory"))?
        .next()
        .is_some()
    {
        return Err(ZkError::TargetNotEmpty { dir: v2 });
    }
    let path = v2.join(format!("snapshot.{zxid:x}"));
    let file = std::fs::File::create(&path).map_err(io(&path, "create snapshot"))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    write_zk_snapshot(&mut w, tree, sessions, SnapshotForm::File { zxid })
        .map_err(io(&path, "write snapshot"))?;
    let file = w
        .into_inner()
        .map_err(|e| e.into_error())
        .map_err(io(&path, "write snapshot"))?;
    file.sync_all().map_err(io(&path, "fsync snapshot"))?;
    for d in [&v2, dir] {
        std::fs::File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(io(d, "fsync directory"))?;
    }
    Ok(path)
}
