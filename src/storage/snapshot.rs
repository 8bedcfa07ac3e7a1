//! Snapshots: the whole data tree and session table at a zxid, in `dataDir`, named
//! `snapshot.<zxid, 16 hex digits>`.
//!
//! # Byte layout (all integers big-endian; strings and buffers as jute)
//!
//! ```text
//! header     magic "RKSN" [u8; 4] | version u32 = 2 | zxid i64
//! sessions   count u32, then per session: id i64 | timeout_ms i32
//! records    tag u8, then by tag:
//!            1  ACL list: jute vector<ACL> (count i32, then per ACL: perms i32
//!               | scheme ustring | id ustring); lists are numbered 0, 1, ... in
//!               the order they appear, and each appears before its first use
//!            2  node: path ustring | data buffer (length −1 = null, 0 = empty)
//!               | acl index u32 | StatPersisted: czxid i64 | mzxid i64 | ctime i64
//!               | mtime i64 | version i32 | cversion i32 (stored: child creates)
//!               | aversion i32 | ephemeral_owner i64 | pzxid i64
//!            0  end of records
//! trailer    crc32c u32 over every byte before it (header included)
//! ```
//!
//! Nodes come parents before children, `/` first. Children lists, the
//! ephemeral/container/TTL sets and the data size are rebuilt from the nodes. A reader
//! refuses a wrong magic or an unknown version, a crc mismatch, a short or long file,
//! a zxid that differs from the file name, an unknown tag, and any node that does not
//! fit the tree (duplicate, missing parent, bad ACL index). Version 1 (counts up
//! front instead of tags: ACL table count u32 + lists, then node count u64 + nodes) is
//! still read.
//!
//! # Exact and fuzzy snapshots, and atomicity
//!
//! `zxid` is the last zxid applied to the tree the walk starts from. The server walks
//! a frozen version (`tree::TreeVersion`), so its files hold exactly the txns up to
//! `zxid`. [`SnapshotEncoder`] can also walk a tree that changes between its steps
//! (ZooKeeper's fuzzy snapshot; files of earlier builds were written that way), and
//! recovery replays the log from `zxid + 1`, which `txn::apply` tolerates as
//! ZooKeeper's `processTxn` does. Two rules keep such a walk replayable: it resumes in
//! a children set by name (so a node is written at most once), and it leaves a subtree
//! whose root was deleted or recreated since the walk entered it (every node under a
//! recreated parent was created after `zxid`, so the log creates it again; without the
//! rule a file could hold a child of one incarnation under another).
//! The caller must not finish a file before the log holds every txn the walk could
//! have seen. The file is written as `<name>.tmp`, fsynced, renamed, and the directory
//! fsynced, so a crash leaves either no snapshot or a complete one.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::names::{self, SNAPSHOT_PREFIX};
use super::space::{self, FreeSpace};
use super::{Result, StorageError};
use crate::proto::codec::{Decode, DecodeError, Encode, Reader};
use crate::proto::{Acl, NodeData};
use crate::tree::{DataTree, Node, StatPersisted, TreeVersion};

/// Snapshot file magic.
pub const MAGIC: [u8; 4] = *b"RKSN";
/// The format version this build writes; it reads this one and version 1.
pub const VERSION: u32 = 2;
const VERSION_1: u32 = 1;
const HEADER_BYTES: usize = 16;
const TRAILER_BYTES: usize = 4;
const TAG_END: u8 = 0;
const TAG_ACL: u8 = 1;
const TAG_NODE: u8 = 2;

/// One level of the walk: a node being descended, the incarnation entered (its
/// czxid), and the last child name written.
struct Frame {
    path: String,
    czxid: i64,
    last: Option<Box<str>>,
}

/// Encodes a snapshot a few nodes at a time, from a frozen version or from a tree that
/// may change between calls (see "Exact and fuzzy snapshots" above). Pure: bytes out,
/// no I/O.
pub struct SnapshotEncoder {
    stack: Vec<Frame>,
    /// ACL lists written so far by the identity of the tree's interned `Arc`; the
    /// `Arc` is kept so its address cannot be reused by another list mid-walk.
    acls: HashMap<*const u8, (u32, Arc<[Acl]>)>,
    started: bool,
    done: bool,
    nodes: u64,
}

impl SnapshotEncoder {
    /// Writes the header and session table into `out`.
    pub fn new(sessions: &[(i64, i32)], last_zxid: i64, out: &mut BytesMut) -> SnapshotEncoder {
        out.put_slice(&MAGIC);
        out.put_u32(VERSION);
        out.put_i64(last_zxid);
        out.put_u32(sessions.len() as u32);
        for (id, timeout_ms) in sessions {
            out.put_i64(*id);
            out.put_i32(*timeout_ms);
        }
        SnapshotEncoder {
            stack: Vec::new(),
            acls: HashMap::new(),
            started: false,
            done: false,
            nodes: 0,
        }
    }

    /// Nodes written so far.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    /// Appends up to `budget` more nodes of `tree` to `out`; true once the walk is
    /// complete and the end record written (the trailer is the file writer's).
    pub fn encode_some(&mut self, tree: &TreeVersion, budget: usize, out: &mut BytesMut) -> bool {
        if self.done {
            return true;
        }
        let mut left = budget.max(1);
        if !self.started {
            self.started = true;
            if let Some(root) = tree.get("/") {
                self.emit("/", root, out);
                left -= 1;
                self.stack.push(Frame {
                    path: "/".to_owned(),
                    czxid: root.persisted().czxid,
                    last: None,
                });
            }
        }
        while left > 0 {
            let Some(top) = self.stack.last_mut() else {
                out.put_u8(TAG_END);
                self.done = true;
                return true;
            };
            let next = tree
                .get(&top.path)
                .filter(|n| n.persisted().czxid == top.czxid)
                .and_then(|n| n.child_after(top.last.as_deref()));
            let Some(name) = next else {
                self.stack.pop();
                continue;
            };
            let path = if top.path == "/" {
                format!("/{name}")
            } else {
                format!("{}/{name}", top.path)
            };
            top.last = Some(name.into());
            let Some(child) = tree.get(&path) else {
                continue;
            };
            self.emit(&path, child, out);
            left -= 1;
            if child.num_children() > 0 {
                self.stack.push(Frame {
                    czxid: child.persisted().czxid,
                    path,
                    last: None,
                });
            }
        }
        false
    }

    fn emit(&mut self, path: &str, node: &Node, out: &mut BytesMut) {
        let key = Arc::as_ptr(node.acl()) as *const u8;
        let next = self.acls.len() as u32;
        let index = match self.acls.get(&key) {
            Some((i, _)) => *i,
            None => {
                out.put_u8(TAG_ACL);
                node.acl().to_vec().encode(out);
                self.acls.insert(key, (next, node.acl().clone()));
                next
            }
        };
        out.put_u8(TAG_NODE);
        path.encode(out);
        node.data().cloned().encode(out);
        out.put_u32(index);
        node.persisted().encode(out);
        self.nodes += 1;
    }
}

/// A snapshot file being written: `<name>.tmp` until [`SnapshotFile::finish`]
/// makes it durable and renames it. Blocking std I/O: call it off the executors.
pub struct SnapshotFile {
    dir: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
    out: BufWriter<File>,
    crc: u32,
    /// Bytes handed to `out`, and how many of them writeback was started for.
    written: u64,
    kicked: u64,
}

/// Writeback of a snapshot is started every this many bytes (`sync_file_range`), so
/// its dirty pages never pile up: a snapshot of a large tree left to the final fsync
/// flushes hundreds of MiB at once, and the txn log's fdatasyncs, which share the
/// disk and the file system's journal, stall behind it (setData p99 during a
/// snapshot). RocksDB's `bytes_per_sync` does the same.
const WRITEBACK_EVERY: u64 = 8 << 20;

impl SnapshotFile {
    /// Creates `snapshot.<last_zxid>.tmp` in `dir` (created if missing).
    pub fn create(dir: &Path, last_zxid: i64) -> Result<SnapshotFile> {
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
        Ok(SnapshotFile {
            dir: dir.to_owned(),
            tmp,
            path,
            out: BufWriter::with_capacity(1 << 20, file),
            crc: 0,
            written: 0,
            kicked: 0,
        })
    }

    /// Appends encoded bytes (from a [`SnapshotEncoder`]).
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.out
            .write_all(bytes)
            .map_err(|e| StorageError::io(&self.tmp, "write snapshot", e))?;
        self.written += bytes.len() as u64;
        if self.written - self.kicked >= WRITEBACK_EVERY {
            self.start_writeback()?;
        }
        Ok(())
    }

    /// Starts writeback of what was written since the last call, without waiting for
    /// it (durability still comes from the fsync in `finish`).
    fn start_writeback(&mut self) -> Result<()> {
        use std::os::fd::AsRawFd;
        self.out
            .flush()
            .map_err(|e| StorageError::io(&self.tmp, "write snapshot", e))?;
        let (from, len) = (self.kicked, self.written - self.kicked);
        // SAFETY: sync_file_range reads no memory of ours; the fd is the open file
        // `out` owns for as long as this call lasts.
        let rc = unsafe {
            libc::sync_file_range(
                self.out.get_ref().as_raw_fd(),
                from as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        if rc != 0 {
            // Only a hint: the final fsync makes the file durable either way.
            tracing::debug!(
                "sync_file_range on {}: {}",
                self.tmp.display(),
                std::io::Error::last_os_error()
            );
        }
        self.kicked = self.written;
        Ok(())
    }

    /// Writes the trailer, fsyncs, renames into place and fsyncs the directory;
    /// returns the snapshot's path. On failure before the rename the temporary file is
    /// removed: a partial snapshot on a nearly full disk would hold the space the log
    /// needs.
    pub fn finish(self) -> Result<PathBuf> {
        let SnapshotFile {
            dir,
            tmp,
            path,
            out,
            crc,
            ..
        } = self;
        if let Err(e) = seal(out, crc, &tmp) {
            remove_tmp(&tmp);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&tmp, &path) {
            remove_tmp(&tmp);
            return Err(StorageError::io(&path, "rename snapshot", e));
        }
        // Failing here leaves a complete, fsynced snapshot whose name may not be
        // durable yet: it is reported, and it reads back if it is there.
        names::sync_dir(&dir)?;
        Ok(path)
    }

    /// Gives up on the file: removes the temporary (a leftover `.tmp` is never read
    /// as a snapshot, but it holds disk space).
    pub fn abandon(self) {
        remove_tmp(&self.tmp);
    }
}

/// The trailer, flushed and fsynced.
fn seal(mut out: BufWriter<File>, crc: u32, tmp: &Path) -> Result<()> {
    out.write_all(&crc.to_be_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| StorageError::io(tmp, "write snapshot", e))?;
    let file: File = out
        .into_inner()
        .map_err(|e| StorageError::io(tmp, "write snapshot", e.into_error()))?;
    file.sync_all()
        .map_err(|e| StorageError::io(tmp, "fsync snapshot", e))
}

/// Removes a snapshot's temporary file; a failure is logged with the file to remove.
fn remove_tmp(tmp: &Path) {
    match std::fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            file = %tmp.display(),
            "cannot remove a partial snapshot ({e}); remove it by hand"
        ),
    }
}

/// Bytes a snapshot of `tree` with `sessions` sessions takes, give or take its ACL
/// lists: per node a tag, three length or index fields and the 60-byte
/// StatPersisted (73 bytes) besides its path and data
/// (`DataTree::approximate_data_size`); per session 12 bytes; header, counts, end tag
/// and trailer 25 bytes.
pub fn estimated_bytes(tree: &TreeVersion, sessions: usize) -> u64 {
    const PER_NODE: u64 = 1 + 4 + 4 + 4 + 60;
    const PER_SESSION: u64 = 12;
    const FIXED: u64 = HEADER_BYTES as u64 + 4 + 1 + TRAILER_BYTES as u64;
    FIXED
        + PER_SESSION * sessions as u64
        + PER_NODE * tree.node_count() as u64
        + tree.approximate_data_size().max(0) as u64
}

/// What an operator should do after a snapshot of `tree` in `dir` failed with `err`:
/// on a full disk, how much a snapshot needs and how much is free.
pub fn failure_advice(
    dir: &Path,
    err: &StorageError,
    tree: &TreeVersion,
    sessions: usize,
) -> String {
    if !err.is_no_space() {
        return format!("check {} and its device", dir.display());
    }
    let free = match FreeSpace::of(dir) {
        Some(s) => format!("{} are free", space::mib(s.available_bytes)),
        None => "statvfs cannot say how much is free".to_owned(),
    };
    format!(
        "free space in {}: a snapshot of this tree needs about {}, {free}",
        dir.display(),
        space::mib(estimated_bytes(tree, sessions))
    )
}

/// Writes `snapshot.<last_zxid>` of a tree that does not change meanwhile, in one go,
/// atomically and durably; returns its path.
pub fn write_snapshot(
    dir: &Path,
    tree: &TreeVersion,
    sessions: &[(i64, i32)],
    last_zxid: i64,
) -> Result<PathBuf> {
    let mut file = SnapshotFile::create(dir, last_zxid)?;
    let mut buf = BytesMut::with_capacity(64 << 10);
    let mut enc = SnapshotEncoder::new(sessions, last_zxid, &mut buf);
    loop {
        let done = enc.encode_some(tree, 256, &mut buf);
        if done || buf.len() >= 32 << 10 {
            if let Err(e) = file.write(&buf) {
                file.abandon();
                return Err(e);
            }
            buf.clear();
        }
        if done {
            return file.finish();
        }
    }
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
    if version != VERSION && version != VERSION_1 {
        return Err(corrupt(
            4,
            format!("format version {version}, this build reads {VERSION_1} and {VERSION}"),
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
        restore(&mut r, version, extended_types).map_err(|(e, off)| corrupt(8 + off, e))?;
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
type Failed = (String, usize);

fn decode_err(e: DecodeError, r: &Reader) -> Failed {
    (e.to_string(), r.offset())
}

/// A count that must fit the remaining bytes at `each` bytes per item.
fn count(r: &mut Reader, each: usize) -> std::result::Result<usize, Failed> {
    let off = r.offset();
    let n = r.read_i32().map_err(|e| decode_err(e, r))? as u32 as usize;
    if n > r.remaining() / each {
        return Err((format!("count {n} exceeds the remaining bytes"), off));
    }
    Ok(n)
}

/// Sessions, then the ACL lists and nodes (by version); errors carry the reader
/// offset.
fn restore(
    r: &mut Reader,
    version: u32,
    extended_types: bool,
) -> std::result::Result<Restored, Failed> {
    let n_sessions = count(r, 12)?;
    let mut sessions = Vec::with_capacity(n_sessions);
    for _ in 0..n_sessions {
        let id = r.read_i64().map_err(|e| decode_err(e, r))?;
        let timeout = r.read_i32().map_err(|e| decode_err(e, r))?;
        sessions.push((id, timeout));
    }
    let mut tree = DataTree::empty_for_restore(extended_types);
    let mut acls: Vec<Vec<Acl>> = Vec::new();
    let mut nodes = 0u64;
    if version == VERSION_1 {
        for _ in 0..count(r, 4)? {
            acls.push(Vec::<Acl>::decode(r).map_err(|e| decode_err(e, r))?);
        }
        let off = r.offset();
        let n_nodes = r.read_i64().map_err(|e| decode_err(e, r))? as u64;
        // A node takes at least 4 + 4 + 4 + 60 bytes.
        if n_nodes > (r.remaining() / 72) as u64 || n_nodes == 0 {
            return Err((format!("node count {n_nodes} does not fit the file"), off));
        }
        for _ in 0..n_nodes {
            restore_node(r, &mut tree, &acls, &mut nodes)?;
        }
        return Ok((tree, sessions));
    }
    loop {
        let off = r.offset();
        match r.read_u8().map_err(|e| decode_err(e, r))? {
            TAG_END => break,
            TAG_ACL => acls.push(Vec::<Acl>::decode(r).map_err(|e| decode_err(e, r))?),
            TAG_NODE => restore_node(r, &mut tree, &acls, &mut nodes)?,
            tag => return Err((format!("unknown record tag {tag}"), off)),
        }
    }
    if nodes == 0 {
        return Err(("no nodes (not even \"/\")".to_owned(), r.offset()));
    }
    Ok((tree, sessions))
}

/// One node record (after its tag in version 2); `seen` counts nodes so far.
fn restore_node(
    r: &mut Reader,
    tree: &mut DataTree,
    acls: &[Vec<Acl>],
    seen: &mut u64,
) -> std::result::Result<(), Failed> {
    let off = r.offset();
    let path = String::decode(r).map_err(|e| decode_err(e, r))?;
    let data = Option::<NodeData>::decode(r).map_err(|e| decode_err(e, r))?;
    let acl_off = r.offset();
    let acl_ix = r.read_i32().map_err(|e| decode_err(e, r))? as u32 as usize;
    let stat = StatPersisted::decode(r).map_err(|e| decode_err(e, r))?;
    let Some(acl) = acls.get(acl_ix) else {
        return Err((format!("acl index {acl_ix} of {}", acls.len()), acl_off));
    };
    if *seen == 0 && path != "/" {
        return Err((format!("first node is {path:?}, not \"/\""), off));
    }
    *seen += 1;
    tree.insert_restored(&path, data, acl, stat)
        .map_err(|code| {
            (
                format!("node {path:?} does not fit the tree: {code:?}"),
                off,
            )
        })
}
