//! Snapshots: the whole data tree and session table at a zxid, in `dataDir`, named
//! `snapshot.<zxid, 16 hex digits>`.
//!
//! # Byte layout (all integers big-endian; strings and buffers as jute)
//!
//! ```text
//! header     magic "RKSN" [u8; 4] | version u32 = 1 | zxid i64
//! sessions   count u32, then per session: id i64 | timeout_ms i32
//! acl table  count u32, then per list: jute vector<ACL> (count i32, then per ACL:
//!            perms i32 | scheme ustring | id ustring)
//! nodes      count u64, then per node, parents before children (`/` first):
//!            path ustring | data buffer (length −1 = null, 0 = empty)
//!            | acl index u32 (into the table) | StatPersisted: czxid i64 | mzxid i64
//!            | ctime i64 | mtime i64 | version i32 | cversion i32 (stored: child
//!            creates) | aversion i32 | ephemeral_owner i64 | pzxid i64
//! trailer    crc32c u32 over every byte before it (header included)
//! ```
//!
//! Children lists, the ephemeral/container/TTL sets and the data size are rebuilt from
//! the nodes. A reader refuses a wrong magic or version, a crc mismatch, a short or
//! long file, a zxid that differs from the file name, and any node that does not fit
//! the tree (duplicate, missing parent, bad ACL index).
//!
//! # Fuzzy snapshots and atomicity
//!
//! `zxid` is the last zxid applied when the snapshot *started*; the tree given may
//! already contain later txns (ZooKeeper's fuzzy snapshot). Recovery replays the log
//! from `zxid + 1`, which `txn::apply` tolerates as ZooKeeper's `processTxn` does.
//! The file is written as `<name>.tmp`, fsynced, renamed, and the directory fsynced,
//! so a crash leaves either no snapshot or a complete one.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::names::{self, SNAPSHOT_PREFIX};
use super::{Result, StorageError};
use crate::proto::codec::{Decode, DecodeError, Encode, Reader};
use crate::proto::Acl;
use crate::tree::{DataTree, Node, StatPersisted};

/// Snapshot file magic.
pub const MAGIC: [u8; 4] = *b"RKSN";
/// Snapshot format version; a reader refuses any other.
pub const VERSION: u32 = 1;
const HEADER_BYTES: usize = 16;
const TRAILER_BYTES: usize = 4;

/// A writer that keeps the crc32c of everything written through it.
struct CrcWriter<W: Write> {
    inner: W,
    crc: u32,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Every node, parents before children (depth first from `/`).
fn nodes_in_order(tree: &DataTree) -> Vec<(String, &Node)> {
    let mut out = Vec::with_capacity(tree.node_count());
    let mut stack = vec!["/".to_owned()];
    while let Some(path) = stack.pop() {
        let Some(node) = tree.get(&path) else {
            continue;
        };
        let base = if path == "/" { "" } else { path.as_str() };
        for child in node.children() {
            stack.push(format!("{base}/{child}"));
        }
        out.push((path, node));
    }
    out
}

/// Writes `snapshot.<last_zxid>` into `dir` (created if missing) atomically and
/// durably; returns its path. `last_zxid` is the last zxid applied when the snapshot
/// started (the tree may hold later ones: fuzzy).
pub fn write_snapshot(
    dir: &Path,
    tree: &DataTree,
    sessions: &[(i64, i32)],
    last_zxid: i64,
) -> Result<PathBuf> {
    names::create_dir(dir)?;
    let name = names::file_name(SNAPSHOT_PREFIX, last_zxid);
    let path = dir.join(&name);
    let tmp = dir.join(format!("{name}.tmp"));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| StorageError::io(&tmp, "create snapshot", e))?;
    let mut w = CrcWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        crc: 0,
    };
    write_body(&mut w, tree, sessions, last_zxid)
        .map_err(|e| StorageError::io(&tmp, "write snapshot", e))?;
    let crc = w.crc;
    let mut inner = w.inner;
    inner
        .write_all(&crc.to_be_bytes())
        .and_then(|()| inner.flush())
        .map_err(|e| StorageError::io(&tmp, "write snapshot", e))?;
    let file: File = inner
        .into_inner()
        .map_err(|e| StorageError::io(&tmp, "write snapshot", e.into_error()))?;
    file.sync_all()
        .map_err(|e| StorageError::io(&tmp, "fsync snapshot", e))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, "rename snapshot", e))?;
    names::sync_dir(dir)?;
    Ok(path)
}

fn write_body(
    w: &mut impl Write,
    tree: &DataTree,
    sessions: &[(i64, i32)],
    last_zxid: i64,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(64 << 10);
    buf.put_slice(&MAGIC);
    buf.put_u32(VERSION);
    buf.put_i64(last_zxid);
    buf.put_u32(sessions.len() as u32);
    for (id, timeout_ms) in sessions {
        buf.put_i64(*id);
        buf.put_i32(*timeout_ms);
    }
    let nodes = nodes_in_order(tree);
    // ACL lists by identity of the tree's interned Arc, in first-use order.
    let mut acl_index: HashMap<*const Acl, u32> = HashMap::new();
    let mut acl_lists: Vec<&Arc<[Acl]>> = Vec::new();
    for (_, node) in &nodes {
        let key = node.acl().as_ptr();
        acl_index.entry(key).or_insert_with(|| {
            acl_lists.push(node.acl());
            (acl_lists.len() - 1) as u32
        });
    }
    buf.put_u32(acl_lists.len() as u32);
    for list in &acl_lists {
        list.to_vec().encode(&mut buf);
    }
    buf.put_u64(nodes.len() as u64);
    for (path, node) in &nodes {
        path.encode(&mut buf);
        node.data().cloned().encode(&mut buf);
        buf.put_u32(acl_index[&node.acl().as_ptr()]);
        node.persisted().encode(&mut buf);
        if buf.len() >= 32 << 10 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)
}

/// What a snapshot holds: the tree, the sessions (id, timeout in ms), its zxid.
pub type SnapshotContents = (DataTree, Vec<(i64, i32)>, i64);

/// Reads and fully checks a snapshot; the tree is built with
/// `zookeeper.extendedTypesEnabled` = `extended_types`. Returns the tree, the
/// sessions and the snapshot's zxid.
pub fn read_snapshot(path: &Path, extended_types: bool) -> Result<SnapshotContents> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path, "read snapshot", e))?;
    let corrupt = |offset: usize, reason: String| StorageError::CorruptSnapshot {
        path: path.to_owned(),
        offset: offset as u64,
        reason,
    };
    if bytes.len() < HEADER_BYTES + TRAILER_BYTES {
        return Err(corrupt(0, format!("file is only {} bytes", bytes.len())));
    }
    if bytes[..4] != MAGIC {
        return Err(corrupt(
            0,
            format!("magic {:02x?}, expected \"RKSN\"", &bytes[..4]),
        ));
    }
    let version = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != VERSION {
        return Err(corrupt(
            4,
            format!("format version {version}, this build reads {VERSION}"),
        ));
    }
    let body_end = bytes.len() - TRAILER_BYTES;
    let mut trailer = [0u8; 4];
    trailer.copy_from_slice(&bytes[body_end..]);
    let stored = u32::from_be_bytes(trailer);
    let actual = crc32c::crc32c(&bytes[..body_end]);
    if stored != actual {
        return Err(corrupt(
            body_end,
            format!("crc {stored:#010x}, computed {actual:#010x} over the file"),
        ));
    }
    // Node data are slices of this one buffer (no copy per node).
    let mut r = Reader::new(Bytes::from(bytes).slice(8..body_end));
    // Offsets in errors are file offsets: the reader starts at byte 8.
    let at = |r: &Reader| 8 + r.offset();
    let decode_err = |e: DecodeError, off: usize| corrupt(off, e.to_string());
    let zxid = r.read_i64().map_err(|e| decode_err(e, 8))?;
    if let Some(named) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| names::parse_name(SNAPSHOT_PREFIX, n))
    {
        if named != zxid {
            return Err(corrupt(
                8,
                format!("zxid {zxid:#x}, the file name says {named:#x}"),
            ));
        }
    }
    let (tree, sessions) =
        restore(&mut r, extended_types).map_err(|(e, off)| corrupt(8 + off, e))?;
    if r.remaining() != 0 {
        return Err(corrupt(
            at(&r),
            format!("{} bytes after the last node", r.remaining()),
        ));
    }
    #[cfg(test)]
    tree.validate();
    Ok((tree, sessions, zxid))
}

type Restored = (DataTree, Vec<(i64, i32)>);

/// Sessions, ACL table and nodes; errors carry the reader offset.
fn restore(r: &mut Reader, extended_types: bool) -> std::result::Result<Restored, (String, usize)> {
    let err = |e: DecodeError, r: &Reader| (e.to_string(), r.offset());
    let count = |r: &mut Reader, each: usize| -> std::result::Result<usize, (String, usize)> {
        let off = r.offset();
        let n = r.read_i32().map_err(|e| err(e, r))? as u32 as usize;
        if n > r.remaining() / each {
            return Err((format!("count {n} exceeds the remaining bytes"), off));
        }
        Ok(n)
    };
    let n_sessions = count(r, 12)?;
    let mut sessions = Vec::with_capacity(n_sessions);
    for _ in 0..n_sessions {
        let id = r.read_i64().map_err(|e| err(e, r))?;
        let timeout = r.read_i32().map_err(|e| err(e, r))?;
        sessions.push((id, timeout));
    }
    let n_acls = count(r, 4)?;
    let mut acls: Vec<Vec<Acl>> = Vec::with_capacity(n_acls);
    for _ in 0..n_acls {
        acls.push(Vec::<Acl>::decode(r).map_err(|e| err(e, r))?);
    }
    let off = r.offset();
    let n_nodes = r.read_i64().map_err(|e| err(e, r))? as u64;
    // A node takes at least 4 + 4 + 4 + 60 bytes.
    if n_nodes > (r.remaining() / 72) as u64 || n_nodes == 0 {
        return Err((format!("node count {n_nodes} does not fit the file"), off));
    }
    let mut tree = DataTree::empty_for_restore(extended_types);
    for i in 0..n_nodes {
        let off = r.offset();
        let path = String::decode(r).map_err(|e| err(e, r))?;
        let data = Option::<Bytes>::decode(r).map_err(|e| err(e, r))?;
        let acl_off = r.offset();
        let acl_ix = r.read_i32().map_err(|e| err(e, r))? as u32 as usize;
        let stat = StatPersisted::decode(r).map_err(|e| err(e, r))?;
        let Some(acl) = acls.get(acl_ix) else {
            return Err((format!("acl index {acl_ix} of {n_acls}"), acl_off));
        };
        if i == 0 && path != "/" {
            return Err((format!("first node is {path:?}, not \"/\""), off));
        }
        tree.insert_restored(&path, data, acl, stat)
            .map_err(|code| {
                (
                    format!("node {path:?} does not fit the tree: {code:?}"),
                    off,
                )
            })?;
    }
    Ok((tree, sessions))
}
