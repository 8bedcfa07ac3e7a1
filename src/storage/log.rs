//! The txn log: segment files of framed txn records in `dataLogDir`, written by memcpy
//! into a shared memory map and made durable by one `fdatasync` per batch.
//!
//! # Byte layout (all integers big-endian, as jute)
//!
//! A segment is named `log.<zxid of its first record, 16 hex digits>`:
//!
//! ```text
//! offset 0   file header, 16 bytes
//!            magic    [u8; 4] = "RKLG"
//!            version  u32     = 1
//!            dbid     u64     (reserved, 0)
//! offset 16  record*, back to back, no padding:
//!            len      u32     payload bytes; 0 = end of the log (preallocated zeros)
//!            crc      u32     crc32c over the 4 `len` bytes followed by the payload
//!            payload  [u8; len] = jute TxnHeader (client_id, cxid, zxid, time, op)
//!                               + jute txn body for `op` (`Txn::encode`)
//! then       zeros to the end of the file
//! ```
//!
//! The crc covers `len` and the payload, not itself; so a record is valid only as a
//! whole. Zxids increase strictly from record to record and from segment to segment,
//! and a segment's first record has the zxid in its name.
//!
//! # Preallocation
//!
//! A new segment is `set_len` to `prealloc_bytes` (zoo.cfg `preAllocSize`, in KiB;
//! default 64 MiB) and its blocks reserved with `fallocate` (so a full disk is an
//! error at creation, not a SIGBUS inside the map); it reads as zeros, so the zero `len`
//! after the last record marks the end without a separate size field. It is mapped
//! `MAP_SHARED`. When a record does not
//! fit, the segment is truncated to its used size and a new segment starts with that
//! record; a record bigger than `prealloc_bytes` gets a segment of its own size.
//!
//! # Durability
//!
//! Appends only dirty pages. [`TxnLog::pending_sync`] names the file descriptors whose
//! sync makes everything appended so far durable: the segments with unsynced bytes
//! (`fdatasync`; on Linux it writes pages dirtied through a shared map) and, after a
//! segment was created, the log directory (`fsync`). The caller syncs them all, then
//! calls [`TxnLog::mark_synced`]. [`TxnLog::sync`] does both, blocking.
//!
//! # Never
//!
//! Never reuses or overwrites a byte that was handed to a sync; never appends a zxid
//! that does not exceed the last one (an `assert!`, kept in release).

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use memmap2::{MmapMut, MmapOptions};

use super::names::{self, LOG_PREFIX};
use super::{Result, StorageError};
use crate::proto::codec::{Decode, Encode, Reader};
use crate::txn::{Txn, TxnHeader};

/// Segment file magic.
pub const MAGIC: [u8; 4] = *b"RKLG";
/// Segment format version; a reader refuses any other.
pub const VERSION: u32 = 1;
/// Bytes of the segment file header (magic, version, dbid).
pub const HEADER_BYTES: usize = 16;
/// Bytes of a record's frame before its payload (len, crc).
pub const FRAME_BYTES: usize = 8;
/// ZooKeeper's default `preAllocSize` (64 MiB).
pub const PREALLOC_BYTES_DEFAULT: u64 = 64 << 20;
/// Largest record payload accepted, written or read. ZooKeeper's `jute.maxbuffer` is
/// 1 MiB per request; a multi of many of them stays far below this, and a `len` above
/// it can only be damage.
pub const RECORD_PAYLOAD_MAX: usize = 256 << 20;
/// Smallest payload: a jute TxnHeader is 8 + 4 + 8 + 8 + 4 bytes.
const TXN_HEADER_BYTES: usize = 32;
/// Offset of the zxid inside a payload (after client_id and cxid).
const ZXID_OFFSET: usize = 12;

/// The 16 header bytes of a segment.
fn header_bytes(dbid: u64) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&VERSION.to_be_bytes());
    h[8..].copy_from_slice(&dbid.to_be_bytes());
    h
}

/// crc32c over the `len` bytes then the payload.
pub(crate) fn record_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&len_bytes), payload)
}

/// One file descriptor to sync. Keep the `TxnLog` alive and do not call `mark_synced`
/// for it until its sync has completed: the log keeps the fd open until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    pub fd: RawFd,
    pub path: PathBuf,
    /// `true` for the log directory: use `fsync`; `false`: `fdatasync` suffices.
    pub full_fsync: bool,
    /// The log's last zxid when this target was taken: once every target of one
    /// `pending_sync` call is synced, everything up to this zxid is durable.
    pub covers_zxid: i64,
    what: Covered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Covered {
    /// Bytes `..end` of the segment whose first zxid is given.
    Segment { first_zxid: i64, end: usize },
    /// The directory as of this creation count.
    Dir { generation: u64 },
}

/// One open segment.
pub(crate) struct Segment {
    path: PathBuf,
    file: File,
    /// The shared map; `None` once the segment is retired (truncated to `write_pos`).
    map: Option<MmapMut>,
    first_zxid: i64,
    /// Invariant: `HEADER_BYTES <= synced_pos <= write_pos <= capacity`.
    write_pos: usize,
    synced_pos: usize,
    capacity: usize,
}

impl Segment {
    /// Wraps a segment opened by recovery: `map` holds the whole file and
    /// `write_pos` is the end of its last valid record.
    pub(crate) fn reopened(
        path: PathBuf,
        file: File,
        map: MmapMut,
        first_zxid: i64,
        write_pos: usize,
    ) -> Segment {
        assert!(write_pos >= HEADER_BYTES && write_pos <= map.len());
        Segment {
            path,
            file,
            capacity: map.len(),
            map: Some(map),
            first_zxid,
            write_pos,
            synced_pos: write_pos,
        }
    }
}

/// The txn log of one server: appends, sync bookkeeping, rollover and removal.
pub struct TxnLog {
    dir: PathBuf,
    prealloc_bytes: u64,
    dbid: u64,
    /// The segment appends go to; `None` before the first append and after `roll`
    /// (a segment is named after its first record, so it is created with it).
    active: Option<Segment>,
    /// Rolled segments whose last bytes are not yet synced (their fds stay open).
    retired: Vec<Segment>,
    /// The log directory, for the fsync that makes a new segment's entry durable.
    dir_file: File,
    /// Segments created so far; the directory is clean when it equals `dir_synced`.
    dir_generation: u64,
    dir_synced: u64,
    /// Invariant: strictly increasing over appends.
    last_zxid: i64,
    synced_zxid: i64,
    bytes_appended: u64,
    scratch: BytesMut,
}

impl TxnLog {
    /// A log in `dir` (created if missing), which must hold no segment yet: use
    /// `recovery::recover` to continue an existing log. `last_zxid` is what the first
    /// append must exceed (e.g. a snapshot's zxid).
    pub fn create(dir: &Path, prealloc_bytes: u64, last_zxid: i64) -> Result<TxnLog> {
        names::create_dir(dir)?;
        if let Some((_, path)) = names::list(dir, LOG_PREFIX)?.into_iter().next() {
            return Err(StorageError::BadHeader {
                path,
                offset: 0,
                reason: "TxnLog::create on a directory that already holds segments".into(),
            });
        }
        TxnLog::with_active(dir, prealloc_bytes, None, last_zxid)
    }

    /// The log as recovery leaves it: `active` is the newest segment, if any.
    pub(crate) fn with_active(
        dir: &Path,
        prealloc_bytes: u64,
        active: Option<Segment>,
        last_zxid: i64,
    ) -> Result<TxnLog> {
        let dir_file = File::open(dir).map_err(|e| StorageError::io(dir, "open dir", e))?;
        Ok(TxnLog {
            dir: dir.to_owned(),
            prealloc_bytes: prealloc_bytes.max(HEADER_BYTES as u64 + 1),
            dbid: 0,
            active,
            retired: Vec::new(),
            dir_file,
            dir_generation: 0,
            dir_synced: 0,
            last_zxid,
            synced_zxid: last_zxid,
            bytes_appended: 0,
            scratch: BytesMut::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Zxid of the last appended record (or what the log started after).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Zxid up to which appends are known durable (see [`TxnLog::mark_synced`]).
    pub fn synced_zxid(&self) -> i64 {
        self.synced_zxid
    }

    /// Record bytes (frames included) appended since this log was opened.
    pub fn bytes_appended(&self) -> u64 {
        self.bytes_appended
    }

    /// Sets the size of segments created from now on (zoo.cfg `preAllocSize`).
    pub fn set_prealloc_bytes(&mut self, prealloc_bytes: u64) {
        self.prealloc_bytes = prealloc_bytes.max(HEADER_BYTES as u64 + 1);
    }

    /// The active segment's fd, if a segment is open.
    pub fn sync_fd(&self) -> Option<RawFd> {
        self.active.as_ref().map(|s| s.file.as_raw_fd())
    }

    /// Appends one record. Panics if `hdr.zxid` does not exceed the last zxid or
    /// `hdr.op` is not `txn`'s op (caller bugs). Not durable until synced.
    pub fn append(&mut self, hdr: &TxnHeader, txn: &Txn) -> Result<()> {
        assert!(
            hdr.zxid > self.last_zxid,
            "txn log: zxid {:#x} appended after {:#x}",
            hdr.zxid,
            self.last_zxid
        );
        assert_eq!(hdr.op, txn.op_code() as i32, "txn log: header op mismatch");
        self.scratch.clear();
        hdr.encode(&mut self.scratch);
        txn.encode(&mut self.scratch);
        let payload_len = self.scratch.len();
        if payload_len > RECORD_PAYLOAD_MAX {
            return Err(StorageError::RecordTooLarge {
                path: self.dir.clone(),
                len: payload_len,
                max: RECORD_PAYLOAD_MAX,
            });
        }
        #[cfg(test)]
        validate_payload(&self.scratch, hdr, txn);
        let record_len = FRAME_BYTES + payload_len;
        let fits = self
            .active
            .as_ref()
            .is_some_and(|s| s.write_pos + record_len <= s.capacity);
        if !fits {
            self.roll()?;
            self.active = Some(self.create_segment(hdr.zxid, record_len)?);
        }
        let Some(seg) = self.active.as_mut() else {
            unreachable!("a segment was just created");
        };
        let Some(map) = seg.map.as_mut() else {
            unreachable!("the active segment is mapped");
        };
        let len_bytes = (payload_len as u32).to_be_bytes();
        let crc = record_crc(len_bytes, &self.scratch);
        let at = seg.write_pos;
        map[at..at + 4].copy_from_slice(&len_bytes);
        map[at + 4..at + 8].copy_from_slice(&crc.to_be_bytes());
        map[at + 8..at + record_len].copy_from_slice(&self.scratch);
        seg.write_pos += record_len;
        self.last_zxid = hdr.zxid;
        self.bytes_appended += record_len as u64;
        Ok(())
    }

    /// Appends records in order (one batch, to be covered by one sync).
    pub fn append_batch<'a>(
        &mut self,
        records: impl IntoIterator<Item = (&'a TxnHeader, &'a Txn)>,
    ) -> Result<()> {
        for (hdr, txn) in records {
            self.append(hdr, txn)?;
        }
        Ok(())
    }

    /// Everything to sync so that all appended records are durable: segments with
    /// unsynced bytes (fdatasync) and the directory after a segment was created (fsync).
    pub fn pending_sync(&self) -> Vec<SyncTarget> {
        let mut out = Vec::new();
        for seg in self.retired.iter().chain(self.active.as_ref()) {
            if seg.synced_pos < seg.write_pos {
                out.push(SyncTarget {
                    fd: seg.file.as_raw_fd(),
                    path: seg.path.clone(),
                    full_fsync: false,
                    covers_zxid: self.last_zxid,
                    what: Covered::Segment {
                        first_zxid: seg.first_zxid,
                        end: seg.write_pos,
                    },
                });
            }
        }
        if self.dir_synced < self.dir_generation {
            out.push(SyncTarget {
                fd: self.dir_file.as_raw_fd(),
                path: self.dir.clone(),
                full_fsync: true,
                covers_zxid: self.last_zxid,
                what: Covered::Dir {
                    generation: self.dir_generation,
                },
            });
        }
        out
    }

    /// Records that `targets` — all of one `pending_sync` call — were synced
    /// successfully. Closes retired segments that are now fully synced. (A failed sync
    /// is fatal: never call this for it, never retry it.)
    pub fn mark_synced(&mut self, targets: &[SyncTarget]) {
        let mut covers = self.synced_zxid;
        for t in targets {
            covers = covers.max(t.covers_zxid);
            match t.what {
                Covered::Segment { first_zxid, end } => {
                    for seg in self.retired.iter_mut().chain(self.active.as_mut()) {
                        if seg.first_zxid == first_zxid {
                            seg.synced_pos = seg.synced_pos.max(end);
                        }
                    }
                }
                Covered::Dir { generation } => {
                    self.dir_synced = self.dir_synced.max(generation);
                }
            }
        }
        self.retired.retain(|s| s.synced_pos < s.write_pos);
        self.synced_zxid = covers;
    }

    /// Blocking sync of everything pending (tests, tools, shutdown): `fdatasync` of
    /// each segment, `fsync` of the directory.
    pub fn sync(&mut self) -> Result<()> {
        let targets = self.pending_sync();
        for t in &targets {
            // SAFETY: `t.fd` belongs to a File this log owns and keeps open until
            // `mark_synced` below.
            let rc = unsafe {
                if t.full_fsync {
                    libc::fsync(t.fd)
                } else {
                    libc::fdatasync(t.fd)
                }
            };
            if rc != 0 {
                let op = if t.full_fsync { "fsync" } else { "fdatasync" };
                return Err(StorageError::io(
                    &t.path,
                    op,
                    std::io::Error::last_os_error(),
                ));
            }
        }
        self.mark_synced(&targets);
        Ok(())
    }

    /// Ends the active segment (truncated to its used size); the next append starts
    /// a new one. Its unsynced bytes stay in `pending_sync` until synced.
    pub fn roll(&mut self) -> Result<()> {
        let Some(mut seg) = self.active.take() else {
            return Ok(());
        };
        // Unmap before shrinking: touching a mapped page past the end is SIGBUS. The
        // dirty pages stay in the page cache; the fdatasync still writes them.
        seg.map = None;
        seg.file
            .set_len(seg.write_pos as u64)
            .map_err(|e| StorageError::io(&seg.path, "truncate segment", e))?;
        seg.capacity = seg.write_pos;
        if seg.synced_pos < seg.write_pos {
            self.retired.push(seg);
        }
        Ok(())
    }

    /// Deletes the segment files whose records all precede `zxid` (every segment
    /// followed by one whose first zxid is ≤ `zxid`), then fsyncs the directory
    /// (blocking). Returns how many were removed.
    pub fn remove_segments_before(&mut self, zxid: i64) -> Result<usize> {
        remove_segments_before(&self.dir, zxid)
    }

    fn create_segment(&mut self, first_zxid: i64, record_len: usize) -> Result<Segment> {
        let path = self.dir.join(names::file_name(LOG_PREFIX, first_zxid));
        let size = self.prealloc_bytes.max((HEADER_BYTES + record_len) as u64);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, "create segment", e))?;
        file.set_len(size)
            .map_err(|e| StorageError::io(&path, "preallocate segment", e))?;
        reserve_blocks(&file, &path, size)?;
        // SAFETY: the file was just created by us and is only resized by this log
        // (in `roll`, after the map is dropped); no other process writes it.
        let mut map = unsafe { MmapOptions::new().map_mut(&file) }
            .map_err(|e| StorageError::io(&path, "mmap segment", e))?;
        map[..HEADER_BYTES].copy_from_slice(&header_bytes(self.dbid));
        self.dir_generation += 1;
        Ok(Segment {
            path,
            file,
            capacity: map.len(),
            map: Some(map),
            first_zxid,
            write_pos: HEADER_BYTES,
            // The header is not synced yet, but it is synced with the first record.
            synced_pos: HEADER_BYTES,
        })
    }
}

/// Reserves the disk blocks of a new segment. A write through the map into a sparse
/// hole on a full disk would be a SIGBUS at page fault; with the blocks allocated up
/// front, a full disk is an error here, when the segment is created.
fn reserve_blocks(file: &File, path: &Path, size: u64) -> Result<()> {
    let Ok(len) = libc::off_t::try_from(size) else {
        return Err(StorageError::io(
            path,
            "fallocate segment",
            std::io::Error::from(std::io::ErrorKind::InvalidInput),
        ));
    };
    // SAFETY: plain syscall on an fd we own. Linux `fallocate`, not glibc's
    // `posix_fallocate`, which would emulate it by writing every block.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        // Filesystems without fallocate keep the sparse file (as ZooKeeper does).
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(()),
        _ => Err(StorageError::io(path, "fallocate segment", err)),
    }
}

/// After encoding, before writing: the payload must decode back to what was given.
#[cfg(test)]
fn validate_payload(payload: &[u8], hdr: &TxnHeader, txn: &Txn) {
    let (h, t) = decode_payload(Bytes::copy_from_slice(payload)).expect("own record decodes");
    assert_eq!(&h, hdr);
    assert_eq!(&t, txn);
}

/// A payload as header + body, rejecting trailing bytes.
pub(crate) fn decode_payload(
    payload: Bytes,
) -> std::result::Result<(TxnHeader, Txn), crate::proto::codec::DecodeError> {
    let mut r = Reader::new(payload);
    let hdr = TxnHeader::decode(&mut r)?;
    let txn = Txn::decode_body(hdr.op, &mut r)?;
    r.finish()?;
    Ok((hdr, txn))
}

/// See [`TxnLog::remove_segments_before`].
pub(crate) fn remove_segments_before(dir: &Path, zxid: i64) -> Result<usize> {
    let segs = names::list(dir, LOG_PREFIX)?;
    let keep_from = first_needed_segment(&segs, zxid);
    for (_, path) in &segs[..keep_from] {
        std::fs::remove_file(path).map_err(|e| StorageError::io(path, "remove segment", e))?;
    }
    if keep_from > 0 {
        names::sync_dir(dir)?;
    }
    Ok(keep_from)
}

/// Index of the first segment that may hold a record > `zxid`: the last one whose
/// first zxid is ≤ `zxid + 1` (0 if none).
pub(crate) fn first_needed_segment(segs: &[(i64, PathBuf)], zxid: i64) -> usize {
    let next = zxid.saturating_add(1);
    segs.iter()
        .rposition(|(first, _)| *first <= next)
        .unwrap_or(0)
}

// ----- reading (recovery) -----

/// What the header of a segment says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderState {
    Valid,
    /// Newest segment only: the header was not (fully) written and nothing follows.
    Unwritten,
}

/// Checks a segment's header. An all-zero file, or one whose header bytes are the
/// expected ones or zeros and that holds nothing else, is `Unwritten` if `newest`.
pub(crate) fn check_header(path: &Path, bytes: &[u8], newest: bool) -> Result<HeaderState> {
    let expected = header_bytes(0);
    if bytes.len() >= HEADER_BYTES && bytes[..8] == expected[..8] {
        return Ok(HeaderState::Valid);
    }
    let head = &bytes[..bytes.len().min(8)];
    let torn_prefix = head
        .iter()
        .zip(&expected[..8])
        .all(|(b, e)| b == e || *b == 0);
    let rest_zero = bytes
        .get(HEADER_BYTES..)
        .is_none_or(|r| r.iter().all(|b| *b == 0));
    if newest && torn_prefix && rest_zero {
        return Ok(HeaderState::Unwritten);
    }
    let reason = if bytes.len() < HEADER_BYTES {
        format!("file is {} bytes, shorter than the header", bytes.len())
    } else if bytes[..4] != MAGIC {
        format!(
            "magic {:02x?}, expected {:02x?} (\"RKLG\")",
            &bytes[..4],
            MAGIC
        )
    } else {
        let v = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        format!("format version {v}, this build reads {VERSION}")
    };
    Err(StorageError::BadHeader {
        path: path.to_owned(),
        offset: 0,
        reason,
    })
}

/// How a segment's records end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Offset just after the last valid record: where appends continue.
    pub end: usize,
    /// Zxid of the last valid record, if any.
    pub last_zxid: Option<i64>,
    /// A torn last record: its bytes `end..torn_end` are to be zeroed.
    pub torn: Option<Torn>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Torn {
    pub torn_end: usize,
    pub reason: String,
}

/// Offset just after the last non-zero byte (at least `from`).
fn written_end(bytes: &[u8], from: usize) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .rposition(|b| *b != 0)
        .map_or(from, |i| from + i + 1)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// The payload range of a valid frame at `at`, or why it is not one.
fn frame_at(bytes: &[u8], at: usize) -> std::result::Result<(usize, usize), String> {
    if at + FRAME_BYTES > bytes.len() {
        return Err(format!(
            "{} bytes left, a frame needs {FRAME_BYTES}",
            bytes.len() - at
        ));
    }
    let len = be_u32(bytes, at) as usize;
    if len == 0 {
        return Err("zero length (end marker) followed by non-zero bytes".into());
    }
    if len > RECORD_PAYLOAD_MAX {
        return Err(format!("length {len} exceeds {RECORD_PAYLOAD_MAX}"));
    }
    let start = at + FRAME_BYTES;
    if start + len > bytes.len() {
        return Err(format!("length {len} runs past the end of the file"));
    }
    let crc = be_u32(bytes, at + 4);
    let len_bytes = (len as u32).to_be_bytes();
    let actual = record_crc(len_bytes, &bytes[start..start + len]);
    if crc != actual {
        return Err(format!("crc {crc:#010x}, computed {actual:#010x}"));
    }
    Ok((start, start + len))
}

/// Whether a valid record with a zxid above `prev_zxid` starts anywhere in
/// `from..end`: if so, a failed record before it is damage, not a torn tail (e.g. a
/// bit flip in a `len` that makes it claim the rest of the file).
fn valid_record_in(bytes: &[u8], from: usize, end: usize, prev_zxid: i64) -> bool {
    let mut at = from;
    while at + FRAME_BYTES + TXN_HEADER_BYTES <= end {
        let len = be_u32(bytes, at) as usize;
        let plausible = (TXN_HEADER_BYTES..=RECORD_PAYLOAD_MAX).contains(&len)
            && at + FRAME_BYTES + len <= end
            && be_i64(bytes, at + FRAME_BYTES + ZXID_OFFSET) > prev_zxid;
        if plausible && frame_at(bytes, at).is_ok() {
            return true;
        }
        at += 1;
    }
    false
}

/// Reads the records of a segment (header already checked), calling `each` with the
/// offset, header and body of every valid record in order. Zxids must rise strictly
/// above `prev_zxid` and the first must be `first_zxid`. On the newest segment a torn
/// last record is reported in `ScanEnd::torn` (not repaired here); anything else
/// that is not a valid record or trailing zeros is an error naming the offset.
pub(crate) fn scan_records(
    path: &Path,
    bytes: &[u8],
    newest: bool,
    first_zxid: i64,
    mut prev_zxid: i64,
    mut each: impl FnMut(u64, TxnHeader, Txn) -> Result<()>,
) -> Result<ScanEnd> {
    let w_end = written_end(bytes, HEADER_BYTES);
    let mut at = HEADER_BYTES;
    let mut last_zxid = None;
    while at < w_end {
        let (start, end) = match frame_at(bytes, at) {
            Ok(range) => range,
            Err(reason) => {
                let claimed_end = if at + FRAME_BYTES > bytes.len() {
                    bytes.len()
                } else {
                    at + FRAME_BYTES + be_u32(bytes, at) as usize
                };
                let last =
                    claimed_end >= w_end && !valid_record_in(bytes, at + 1, w_end, prev_zxid);
                if newest && last {
                    return Ok(ScanEnd {
                        end: at,
                        last_zxid,
                        torn: Some(Torn {
                            torn_end: w_end,
                            reason,
                        }),
                    });
                }
                let why = if newest {
                    format!("{reason}; non-zero data follows, so this is not a torn tail")
                } else {
                    format!("{reason}; in a segment that is not the newest")
                };
                return Err(StorageError::CorruptRecord {
                    path: path.to_owned(),
                    offset: at as u64,
                    reason: why,
                });
            }
        };
        let payload = Bytes::copy_from_slice(&bytes[start..end]);
        let (hdr, txn) = decode_payload(payload).map_err(|source| StorageError::Decode {
            path: path.to_owned(),
            offset: at as u64,
            source,
        })?;
        if hdr.zxid <= prev_zxid {
            return Err(StorageError::ZxidOrder {
                path: path.to_owned(),
                offset: at as u64,
                zxid: hdr.zxid,
                prev: prev_zxid,
            });
        }
        if last_zxid.is_none() && hdr.zxid != first_zxid {
            return Err(StorageError::CorruptRecord {
                path: path.to_owned(),
                offset: at as u64,
                reason: format!(
                    "first record has zxid {:#x}, the file name says {first_zxid:#x}",
                    hdr.zxid
                ),
            });
        }
        prev_zxid = hdr.zxid;
        last_zxid = Some(hdr.zxid);
        each(at as u64, hdr, txn)?;
        at = end;
    }
    Ok(ScanEnd {
        end: at,
        last_zxid,
        torn: None,
    })
}
