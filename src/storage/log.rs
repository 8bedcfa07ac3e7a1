//! The txn log: segment files of framed txn records in `dataLogDir`, written by memcpy
//! into a shared memory map and made durable by one `fdatasync` per batch.
//!
//! # Names
//!
//! A segment is named `log.<zxid of its first record, 16 hex digits>`, so names sort
//! by zxid. A preallocated segment that holds no record yet is named
//! `log.prealloc.<n>` (`n` counts spares made since the log was opened); no listing of
//! segments returns it, and recovery deletes it (see *Durability*).
//!
//! # Byte layout (all integers big-endian, as jute)
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
//! A segment file is `prealloc_bytes` long (zoo.cfg `preAllocSize`, in KiB; default
//! 64 MiB), except a spare made after a [`TxnLog::roll`] (the server rolls at each
//! snapshot): that one is twice what the rolled segment held, between a sixteenth
//! of `prealloc_bytes` and all of it (`TxnLog::spare_bytes`). Its blocks are
//! reserved with `fallocate`, written with zeros and its header
//! with `pwrite`, the file fsynced, and only then is it mapped `MAP_SHARED`: a full
//! disk is an error at creation, and no store through the map ever needs a block the
//! file system might not have (that page fault could only fail as a SIGBUS; see
//! `create_segment_file`). A failed creation removes its partial file. It reads as
//! zeros after the header, so the zero `len` after the last record marks the end
//! without a separate size field; the written zeros also make each later sync of
//! records cheaper (see `write_zeros`).
//!
//! Creating one (open, `fallocate`, zero-fill, header, `fsync`, `mmap`) is blocking
//! work `append` never does: [`TxnLog::background_jobs`] hands out a job that makes the
//! next segment ahead of need, as the *spare* `log.prealloc.<n>`, on whatever thread
//! the caller runs it (the server: glommio's blocking pool). When a record does not
//! fit in the active segment, the ready spare becomes the active segment, named after
//! that record. If no spare is ready (or the record is bigger than it), the record is
//! staged in memory and [`TxnLog::next_job`] asks for a segment `log.<zxid>` of
//! `max(prealloc_bytes, the record)` bytes, made before the next sync. A segment that
//! is left (full, or at [`TxnLog::roll`]) is unmapped and truncated to its used size
//! by a background job once it is synced. The segment that was active when the server
//! stopped is truncated by recovery (see `recovery`): a log never appends to a segment
//! written before it was opened; its first append starts a new one.
//!
//! # Durability
//!
//! Appends only dirty pages. Before a sync, the caller runs every [`TxnLog::next_job`]
//! (a segment for staged records; the rename of each spare taken into use to
//! `log.<zxid>`) — on the log's own thread with [`TxnLog::start_job`], or here with
//! [`TxnLog::run_jobs`] — and hands the results to [`TxnLog::finish_job`]. Then
//! [`TxnLog::pending_sync`] names the file descriptors whose sync makes everything
//! appended so far durable: the segments with unsynced bytes (`fdatasync`; on Linux
//! it writes pages dirtied through a shared map) and, after a segment got its name
//! (created or renamed), the log directory (`fsync`). The caller syncs them all, then
//! calls [`TxnLog::mark_synced`]. [`TxnLog::sync`] does it all, blocking.
//!
//! So a record is acknowledged only after its segment's rename completed and a
//! directory fsync that started after it succeeded: a file still named
//! `log.prealloc.<n>` after a crash never held an acknowledged record, and recovery
//! deletes it. (Its spare was fsynced empty; any record in it was appended but not
//! acknowledged, exactly like a torn tail.)
//!
//! Synced pages behind the append position are handed back to the kernel
//! (`MADV_DONTNEED`, at least [`RELEASE_MIN_BYTES`] at a time), so the log does not
//! stay resident in the process: on a `MAP_SHARED` file mapping that only drops the
//! page table entries; the data stays in the file and the page cache.
//!
//! # Never
//!
//! Never reuses or overwrites a byte that was handed to a sync; never appends a zxid
//! that does not exceed the last one (an `assert!`, kept in release).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use memmap2::{MmapMut, MmapOptions, UncheckedAdvice};

use super::names::{self, LOG_PREFIX};
use super::space::FreeSpace;
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
/// Synced pages are released from the map in steps of at least this many bytes: one
/// `madvise` (and TLB flush) per MiB of log rather than per batch.
pub const RELEASE_MIN_BYTES: usize = 1 << 20;
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

fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
    })
}

/// One file descriptor to sync. Keep the `TxnLog` alive and do not call `mark_synced`
/// for it until its sync has completed: the log keeps the fd open until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    pub fd: RawFd,
    pub path: PathBuf,
    /// `true` for the log directory: use `fsync`; `false`: `fdatasync` suffices.
    pub full_fsync: bool,
    /// Once every target of one `pending_sync` call is synced, everything up to this
    /// zxid is durable: the log's last zxid when the jobs of `next_job` were all
    /// finished first, as they must be.
    pub covers_zxid: i64,
    what: Covered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Covered {
    /// Bytes `..end` of the segment whose first zxid is given.
    Segment { first_zxid: i64, end: usize },
    /// The directory as of this count of named segments.
    Dir { generation: u64 },
}

/// One open segment.
struct Segment {
    /// Its name: `log.<first_zxid>`.
    path: PathBuf,
    /// The name it still has on disk while its rename to `path` is pending (a spare
    /// taken into use); `None` once it is named `path`.
    temp: Option<PathBuf>,
    file: File,
    /// The shared map of the whole file, unmapped when the segment is closed.
    map: MmapMut,
    first_zxid: i64,
    /// Invariant: `HEADER_BYTES <= synced_pos <= write_pos <= capacity <= map.len()`.
    write_pos: usize,
    synced_pos: usize,
    /// Where appends must stop: `map.len()`, or `write_pos` once the segment is left.
    capacity: usize,
    /// Bytes `..released` of the map were released with `MADV_DONTNEED`; a multiple of
    /// the page size, never past the page holding `synced_pos`.
    released: usize,
}

impl Segment {
    /// A segment whose header is written and that holds no record yet.
    fn fresh(
        path: PathBuf,
        temp: Option<PathBuf>,
        file: File,
        map: MmapMut,
        first_zxid: i64,
    ) -> Segment {
        Segment {
            path,
            temp,
            file,
            capacity: map.len(),
            map,
            first_zxid,
            write_pos: HEADER_BYTES,
            // The header is not necessarily synced yet, but it is synced with the
            // first record (or was, with the spare).
            synced_pos: HEADER_BYTES,
            released: 0,
        }
    }

    fn has_room(&self, record_len: usize) -> bool {
        self.write_pos + record_len <= self.capacity
    }

    /// Copies `parts` after the last record (the caller checked `has_room`).
    fn put(&mut self, parts: &[&[u8]]) {
        let mut at = self.write_pos;
        for p in parts {
            self.map[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.write_pos = at;
    }

    /// Releases the whole pages below `synced_pos` not yet released, if they are at
    /// least `min_bytes`. Never the page holding `synced_pos`: appends still write it.
    /// No I/O (page table entries and a TLB flush), so it may run on an executor.
    fn release_synced(&mut self, min_bytes: usize) {
        let page = page_size();
        let end = self.synced_pos / page * page;
        if end <= self.released || end - self.released < min_bytes {
            return;
        }
        self.advise_dont_need(self.released, end - self.released);
        self.released = end;
    }

    /// `madvise(MADV_DONTNEED)` on `len` bytes of the map from `offset`.
    fn advise_dont_need(&self, offset: usize, len: usize) {
        // SAFETY: MADV_DONTNEED on a MAP_SHARED file mapping only drops page table
        // entries: a later access faults the page back in from the page cache / the
        // file, which hold what was written (a dirty page keeps its dirty state, so
        // even unsynced bytes would not be lost; callers pass synced or unwritten
        // pages). No reference into the map outlives a call of `put`, so no Rust
        // reference sees the pages go.
        let res = unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len)
        };
        if let Err(e) = res {
            // Only memory is at stake.
            tracing::warn!(file = %self.path.display(), "txn log: madvise(DONTNEED): {e}");
        }
    }
}

/// A preallocated segment under its temporary name, header written, fsynced.
struct Spare {
    temp: PathBuf,
    file: File,
    map: MmapMut,
}

/// The next segment, shared with the background job that makes it.
#[derive(Default)]
struct SpareSlot {
    ready: Option<Spare>,
    /// A job to make one was handed out and has not finished.
    in_flight: bool,
    /// The last attempt failed: no new attempt until a segment was created again
    /// (so a full disk does not mean one failed job per batch).
    failed: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No holder of these locks can leave the value half updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A record appended while no segment had room for it.
struct Staged {
    zxid: i64,
    /// The framed record, as it goes into the file.
    record: Vec<u8>,
    /// `roll` was called just before it: it starts a segment.
    new_segment: bool,
}

/// Blocking file work the log needs before its next sync: see [`TxnLog::next_job`].
#[derive(Debug)]
pub struct LogJob(JobKind);

#[derive(Debug)]
enum JobKind {
    /// A segment for staged records, created under its final name.
    Create {
        path: PathBuf,
        first_zxid: i64,
        size: u64,
        dbid: u64,
    },
    /// A spare taken into use gets its segment name.
    Rename { from: PathBuf, to: PathBuf },
}

/// What a [`LogJob`] did, for [`TxnLog::finish_job`].
pub struct LogJobDone(DoneKind);

enum DoneKind {
    Created {
        path: PathBuf,
        first_zxid: i64,
        made: Result<(File, MmapMut)>,
    },
    Renamed {
        to: PathBuf,
        done: Result<()>,
    },
}

impl LogJob {
    /// Does the work (blocking: run it off an executor).
    pub fn run(self) -> LogJobDone {
        LogJobDone(match self.0 {
            JobKind::Create {
                path,
                first_zxid,
                size,
                dbid,
            } => DoneKind::Created {
                // A client waits for this one, but it is made like a spare: a
                // segment is never mapped before its blocks are written (see
                // `create_segment_file`).
                made: create_segment_file(&path, size, dbid),
                path,
                first_zxid,
            },
            JobKind::Rename { from, to } => DoneKind::Renamed {
                done: rename_no_replace(&from, &to),
                to,
            },
        })
    }
}

/// File work nothing waits for: see [`TxnLog::background_jobs`].
pub struct BackgroundJob(BgKind);

enum BgKind {
    /// Makes the next spare and leaves it in the slot.
    Spare {
        slot: Arc<Mutex<SpareSlot>>,
        temp: PathBuf,
        size: u64,
        dbid: u64,
    },
    /// Unmaps, truncates and closes a left, fully synced segment.
    Close(Segment),
}

impl BackgroundJob {
    /// Does the work (blocking: run it off an executor). Failures are logged: a
    /// missing spare only means the next segment is made when needed, and an
    /// untruncated segment only holds zeros after its last record.
    pub fn run(self) {
        match self.0 {
            BgKind::Spare {
                slot,
                temp,
                size,
                dbid,
            } => {
                let made = make_spare(temp, size, dbid);
                let mut s = lock(&slot);
                s.in_flight = false;
                match made {
                    Ok(spare) => s.ready = Some(spare),
                    Err(e) => {
                        s.failed = true;
                        drop(s);
                        let advice = if e.is_no_space() {
                            "; free space on that file system: once the active segment is \
                             full the server stops (acknowledged writes stay in the log)"
                        } else {
                            ""
                        };
                        tracing::warn!("txn log: cannot preallocate the next segment: {e}{advice}");
                    }
                }
            }
            BgKind::Close(seg) => {
                if let Err(e) = close_segment(seg) {
                    tracing::warn!("txn log: {e}");
                }
            }
        }
    }
}

/// The log's own thread for the jobs a sync waits for ([`TxnLog::start_job`]).
///
/// Not glommio's blocking pool: an executor has one blocking thread, which also
/// writes snapshots, and a rename queued behind a snapshot held the batch (and so the
/// whole write pipeline) for 0.4-1.2 s after each snapshot of a 300k-create run.
struct JobThread {
    tx: mpsc::Sender<(LogJob, Reply)>,
}

#[derive(Default)]
struct ReplySlot {
    done: Option<Result<LogJobDone>>,
    waker: Option<Waker>,
}

/// The sending half: the job thread fills the slot and wakes the awaiting task
/// (glommio accepts wakes from other threads). Dropped unsent (the thread panicked
/// or is gone), it reports that instead, so the awaiting task never hangs.
struct Reply {
    slot: Arc<Mutex<ReplySlot>>,
    dir: PathBuf,
    sent: bool,
}

impl Reply {
    fn send(mut self, done: Result<LogJobDone>) {
        self.deliver(done);
        self.sent = true;
    }

    fn deliver(&self, done: Result<LogJobDone>) {
        let mut s = lock(&self.slot);
        s.done = Some(done);
        let waker = s.waker.take();
        drop(s);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.sent {
            let gone = std::io::Error::other("the log's job thread stopped");
            self.deliver(Err(StorageError::io(&self.dir, "run log job", gone)));
        }
    }
}

/// A job running on the log's thread; resolves to its result for
/// [`TxnLog::finish_job`].
pub struct StartedJob(Arc<Mutex<ReplySlot>>);

impl Future for StartedJob {
    type Output = Result<LogJobDone>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = lock(&self.0);
        match s.done.take() {
            Some(done) => Poll::Ready(done),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// The txn log of one server: appends, sync bookkeeping, rollover and removal.
pub struct TxnLog {
    dir: PathBuf,
    prealloc_bytes: u64,
    dbid: u64,
    /// The segment appends go to; `None` before the first append and after `roll`
    /// (a segment is named after its first record, so it is started with it).
    active: Option<Segment>,
    /// Left segments not yet synced or renamed (their fds stay open).
    retired: Vec<Segment>,
    /// Left segments fully synced and named, to close in a background job.
    closing: Vec<Segment>,
    /// Records appended while no segment had room, in order; nothing appended after
    /// them goes to a segment before them.
    staged: VecDeque<Staged>,
    /// `roll` was called while records were staged: the next record starts a segment.
    roll_pending: bool,
    spare: Arc<Mutex<SpareSlot>>,
    spares_made: u64,
    /// Bytes the segment left at the last [`TxnLog::roll`] held, which sizes the next
    /// spare (see [`TxnLog::spare_bytes`]); `None` before any roll and after a segment
    /// filled up.
    rolled_bytes: Option<u64>,
    /// Started with the first [`TxnLog::start_job`].
    job_thread: Option<JobThread>,
    /// The log directory, for the fsync that makes a new segment's entry durable.
    dir_file: File,
    /// Segments named so far (created or renamed); the directory is clean when it
    /// equals `dir_synced`.
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
        TxnLog::open_after_recovery(dir, prealloc_bytes, last_zxid)
    }

    /// The log as recovery leaves it: segments up to `last_zxid` may exist, but none is
    /// open; the first append starts a new segment (see `recovery`).
    pub(crate) fn open_after_recovery(
        dir: &Path,
        prealloc_bytes: u64,
        last_zxid: i64,
    ) -> Result<TxnLog> {
        let dir_file = File::open(dir).map_err(|e| StorageError::io(dir, "open dir", e))?;
        Ok(TxnLog {
            dir: dir.to_owned(),
            prealloc_bytes: prealloc_bytes.max(HEADER_BYTES as u64 + 1),
            dbid: 0,
            active: None,
            retired: Vec::new(),
            closing: Vec::new(),
            staged: VecDeque::new(),
            roll_pending: false,
            spare: Arc::default(),
            spares_made: 0,
            rolled_bytes: None,
            job_thread: None,
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
    /// `hdr.op` is not `txn`'s op (caller bugs). Not durable until synced. Makes no
    /// system call: a full segment is replaced by the ready spare, or the record waits
    /// in memory for [`TxnLog::next_job`].
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
        let len_bytes = (payload_len as u32).to_be_bytes();
        let crc = record_crc(len_bytes, &self.scratch).to_be_bytes();
        self.last_zxid = hdr.zxid;
        self.bytes_appended += record_len as u64;
        let new_segment = std::mem::take(&mut self.roll_pending);
        if self.staged.is_empty() {
            if new_segment {
                self.retire_rolled();
            }
            if self.make_room(hdr.zxid, record_len) {
                let Some(seg) = self.active.as_mut() else {
                    unreachable!("make_room leaves an active segment");
                };
                seg.put(&[&len_bytes, &crc, &self.scratch]);
                return Ok(());
            }
        }
        let mut record = Vec::with_capacity(record_len);
        record.extend_from_slice(&len_bytes);
        record.extend_from_slice(&crc);
        record.extend_from_slice(&self.scratch);
        self.staged.push_back(Staged {
            zxid: hdr.zxid,
            record,
            new_segment,
        });
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

    /// The next blocking job to run before [`TxnLog::pending_sync`]: the rename of a
    /// spare taken into use, or the creation of a segment for staged records. Run it
    /// (off the executor), give the result to [`TxnLog::finish_job`], and ask again
    /// until `None`; nothing appended is durable before that.
    pub fn next_job(&mut self) -> Option<LogJob> {
        // A spare may have become ready since the records were staged.
        self.place_staged();
        for seg in self.retired.iter().chain(self.active.as_ref()) {
            if let Some(temp) = &seg.temp {
                return Some(LogJob(JobKind::Rename {
                    from: temp.clone(),
                    to: seg.path.clone(),
                }));
            }
        }
        let front = self.staged.front()?;
        Some(LogJob(JobKind::Create {
            path: self.segment_path(front.zxid),
            first_zxid: front.zxid,
            size: self
                .prealloc_bytes
                .max((HEADER_BYTES + front.record.len()) as u64),
            dbid: self.dbid,
        }))
    }

    /// Takes the result of a [`LogJob`]. An error is the job's (create or rename
    /// failed): fatal for a server, as a failed sync is.
    pub fn finish_job(&mut self, done: LogJobDone) -> Result<()> {
        match done.0 {
            DoneKind::Created {
                path,
                first_zxid,
                made,
            } => {
                let (file, map) = made?;
                assert_eq!(
                    self.staged.front().map(|s| s.zxid),
                    Some(first_zxid),
                    "txn log: a segment was created for a record no longer staged"
                );
                // No spare had room (none ready, or the load outgrew it): spares go
                // back to full size.
                self.rolled_bytes = None;
                self.retire_active();
                self.active = Some(Segment::fresh(path, None, file, map, first_zxid));
                self.dir_generation += 1;
                // Creating files works again: spares may be tried again.
                lock(&self.spare).failed = false;
                self.place_staged();
            }
            DoneKind::Renamed { to, done } => {
                done?;
                for seg in self.retired.iter_mut().chain(self.active.as_mut()) {
                    if seg.path == to {
                        seg.temp = None;
                    }
                }
                self.dir_generation += 1;
                self.collect_closing();
            }
        }
        Ok(())
    }

    /// Runs `job` on the log's own thread (started on first use); await the result
    /// and give it to [`TxnLog::finish_job`]. For callers that must not block (the
    /// server's quorum executor).
    pub fn start_job(&mut self, job: LogJob) -> StartedJob {
        let slot = Arc::new(Mutex::new(ReplySlot::default()));
        let reply = Reply {
            slot: slot.clone(),
            dir: self.dir.clone(),
            sent: false,
        };
        if self.job_thread.is_none() {
            match spawn_job_thread() {
                Ok(t) => self.job_thread = Some(t),
                Err(e) => {
                    reply.send(Err(StorageError::io(&self.dir, "start log job thread", e)));
                    return StartedJob(slot);
                }
            }
        }
        if let Some(t) = &self.job_thread {
            if t.tx.send((job, reply)).is_err() {
                // The thread is gone (the dropped `Reply` said so): a new one next time.
                self.job_thread = None;
            }
        }
        StartedJob(slot)
    }

    /// Runs every [`TxnLog::next_job`] here, blocking (tests, tools, shutdown).
    pub fn run_jobs(&mut self) -> Result<()> {
        while let Some(job) = self.next_job() {
            self.finish_job(job.run())?;
        }
        Ok(())
    }

    /// Everything to sync so that all appended records are durable: segments with
    /// unsynced bytes (fdatasync) and the directory after a segment was named (fsync).
    /// Run the jobs of [`TxnLog::next_job`] first: records in a segment whose rename
    /// is pending, or staged, are not covered (`covers_zxid` stops before them).
    pub fn pending_sync(&self) -> Vec<SyncTarget> {
        let covers_zxid = self.coverable_zxid();
        let mut out = Vec::new();
        for seg in self.retired.iter().chain(self.active.as_ref()) {
            if seg.synced_pos < seg.write_pos {
                out.push(SyncTarget {
                    fd: seg.file.as_raw_fd(),
                    path: seg.path.clone(),
                    full_fsync: false,
                    covers_zxid,
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
                covers_zxid,
                what: Covered::Dir {
                    generation: self.dir_generation,
                },
            });
        }
        out
    }

    /// The last zxid a sync can make durable now: every record before the first one
    /// that is staged or in a segment still under its temporary name.
    fn coverable_zxid(&self) -> i64 {
        let unnamed = self
            .retired
            .iter()
            .chain(self.active.as_ref())
            .filter(|s| s.temp.is_some())
            .map(|s| s.first_zxid);
        let first_uncovered = unnamed.chain(self.staged.front().map(|s| s.zxid)).min();
        match first_uncovered {
            Some(z) => self.last_zxid.min(z - 1),
            None => self.last_zxid,
        }
    }

    /// Records that `targets` — all of one `pending_sync` call — were synced
    /// successfully. Hands left segments that are now fully synced to
    /// [`TxnLog::background_jobs`], and releases synced pages of the active segment
    /// from memory. (A failed sync is fatal: never call this for it, never retry
    /// it.)
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
        self.collect_closing();
        if let Some(seg) = self.active.as_mut() {
            seg.release_synced(RELEASE_MIN_BYTES);
        }
        self.synced_zxid = covers;
    }

    /// File work off the append path, to run on a blocking thread without waiting:
    /// closing the left segments that are fully synced, and making the next spare
    /// when none is ready or being made. Call it after each sync.
    pub fn background_jobs(&mut self) -> Vec<BackgroundJob> {
        let mut jobs: Vec<BackgroundJob> = self
            .closing
            .drain(..)
            .map(|s| BackgroundJob(BgKind::Close(s)))
            .collect();
        let mut slot = lock(&self.spare);
        if slot.ready.is_none() && !slot.in_flight && !slot.failed {
            slot.in_flight = true;
            let temp = self.dir.join(names::prealloc_name(self.spares_made));
            self.spares_made += 1;
            jobs.push(BackgroundJob(BgKind::Spare {
                slot: self.spare.clone(),
                temp,
                size: self.spare_bytes(),
                dbid: self.dbid,
            }));
        }
        jobs
    }

    /// The size of the next spare. The server rolls the log at each snapshot, so a
    /// spare made after a roll will hold about one snapshot interval's records, as
    /// the rolled segment did: it gets twice what that segment used, at least a
    /// sixteenth of `prealloc_bytes` and at most all of it. Zero-filling is the cost of
    /// a spare, and a 64 MiB one for an interval that writes 15 MiB wrote 49 MiB of
    /// zeros to truncate away at the next roll. After a segment filled up (the load
    /// outgrew the estimate), and before the first roll, spares are `prealloc_bytes`.
    fn spare_bytes(&self) -> u64 {
        let Some(used) = self.rolled_bytes else {
            return self.prealloc_bytes;
        };
        let floor = (self.prealloc_bytes / 16)
            .max(HEADER_BYTES as u64 + 1)
            .min(self.prealloc_bytes);
        used.saturating_mul(2)
            .next_multiple_of(4096)
            .clamp(floor, self.prealloc_bytes)
    }

    /// Makes the next segment (the spare) now, on this thread, blocking. The server
    /// calls it at start, before it says it is serving: a log that cannot grow by one
    /// segment would stop the server at its first write instead. A file system without
    /// room for it is [`StorageError::NoSpace`], which says how much is free and how
    /// much is needed.
    pub fn make_spare_now(&mut self) -> Result<()> {
        let mut slot = lock(&self.spare);
        if slot.ready.is_some() {
            return Ok(());
        }
        assert!(
            !slot.in_flight,
            "txn log: make_spare_now while a spare job runs"
        );
        let temp = self.dir.join(names::prealloc_name(self.spares_made));
        self.spares_made += 1;
        match make_spare(temp, self.prealloc_bytes, self.dbid) {
            Ok(spare) => {
                slot.ready = Some(spare);
                slot.failed = false;
                Ok(())
            }
            Err(e) if e.is_no_space() => Err(StorageError::NoSpace {
                space: FreeSpace::of(&self.dir),
                dir: self.dir.clone(),
                needed_bytes: self.prealloc_bytes,
                source: Box::new(e),
            }),
            Err(e) => Err(e),
        }
    }

    /// Blocking sync of everything pending (tests, tools, shutdown): the jobs of
    /// [`TxnLog::next_job`], `fdatasync` of each segment, `fsync` of the directory,
    /// then the left segments closed. Makes no spare.
    pub fn sync(&mut self) -> Result<()> {
        self.run_jobs()?;
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
        for seg in std::mem::take(&mut self.closing) {
            close_segment(seg)?;
        }
        Ok(())
    }

    /// Ends the active segment; the next append starts a new one. No system call: the
    /// segment is truncated to its used size by a background job once it is synced,
    /// and its unsynced bytes stay in `pending_sync` until then.
    pub fn roll(&mut self) {
        if self.staged.is_empty() {
            self.retire_rolled();
        } else {
            self.roll_pending = true;
        }
    }

    /// Leaves the active segment at a roll, noting what it held for the next spare.
    fn retire_rolled(&mut self) {
        if let Some(seg) = &self.active {
            self.rolled_bytes = Some(seg.write_pos as u64);
        }
        self.retire_active();
    }

    /// Deletes the segment files whose records all precede `zxid` (every segment
    /// followed by one whose first zxid is ≤ `zxid`), then fsyncs the directory
    /// (blocking). Returns how many were removed.
    pub fn remove_segments_before(&mut self, zxid: i64) -> Result<usize> {
        remove_segments_before(&self.dir, zxid)
    }

    fn segment_path(&self, first_zxid: i64) -> PathBuf {
        self.dir.join(names::file_name(LOG_PREFIX, first_zxid))
    }

    /// Whether the active segment has room for `record_len` bytes, after taking the
    /// ready spare (named for `zxid`) if it had not.
    fn make_room(&mut self, zxid: i64, record_len: usize) -> bool {
        if self.active.as_ref().is_some_and(|s| s.has_room(record_len)) {
            return true;
        }
        let spare = {
            let mut slot = lock(&self.spare);
            let fits = slot
                .ready
                .as_ref()
                .is_some_and(|s| HEADER_BYTES + record_len <= s.map.len());
            if !fits {
                return false;
            }
            slot.ready.take()
        };
        let Some(spare) = spare else {
            return false;
        };
        if self.active.is_some() {
            // The active segment is full: spares go back to full size.
            self.rolled_bytes = None;
        }
        self.retire_active();
        let path = self.segment_path(zxid);
        self.active = Some(Segment::fresh(
            path,
            Some(spare.temp),
            spare.file,
            spare.map,
            zxid,
        ));
        true
    }

    /// Moves staged records into segments while there is room (the active segment,
    /// then the ready spare).
    fn place_staged(&mut self) {
        while let Some(front) = self.staged.front_mut() {
            if std::mem::take(&mut front.new_segment) {
                self.retire_rolled();
                continue;
            }
            let (zxid, len) = (front.zxid, front.record.len());
            if !self.make_room(zxid, len) {
                return;
            }
            let (Some(st), Some(seg)) = (self.staged.pop_front(), self.active.as_mut()) else {
                unreachable!("a staged record and the active segment with room for it");
            };
            seg.put(&[&st.record]);
        }
    }

    /// Leaves the active segment: no more appends to it.
    fn retire_active(&mut self) {
        let Some(mut seg) = self.active.take() else {
            return;
        };
        seg.capacity = seg.write_pos;
        self.retired.push(seg);
        self.collect_closing();
    }

    /// Moves left segments that are fully synced and named to `closing`.
    fn collect_closing(&mut self) {
        let mut i = 0;
        while i < self.retired.len() {
            let s = &self.retired[i];
            if s.synced_pos >= s.write_pos && s.temp.is_none() {
                self.closing.push(self.retired.remove(i));
            } else {
                i += 1;
            }
        }
    }
}

/// The thread behind [`TxnLog::start_job`]; it ends when the log (the sender) does.
/// It inherits the CPU affinity of the thread that starts it (the quorum core's),
/// which is fine: that thread waits for it.
fn spawn_job_thread() -> std::io::Result<JobThread> {
    let (tx, rx) = mpsc::channel::<(LogJob, Reply)>();
    std::thread::Builder::new()
        .name("rk-log-jobs".into())
        .spawn(move || {
            for (job, reply) in rx {
                reply.send(Ok(job.run()));
            }
        })?;
    Ok(JobThread { tx })
}

/// Creates a segment file at `path` (which must not exist): `size` bytes, every block
/// allocated and written (zeros, then the header), fsynced, and only then mapped.
/// Blocking. On failure the partial file is removed, so a failed attempt on a full disk
/// does not keep the blocks it got (a failed `fallocate` keeps what it allocated).
///
/// Why written before mapped: a store through a shared map into a block the file system
/// still has to allocate is a page fault that can only fail as SIGBUS (a hole on a full
/// disk; any page of a tmpfs that is full). `fallocate` alone leaves *unwritten* extents
/// whose conversion also happens behind the map. After `write` and `fsync` the blocks
/// are allocated, written and durable: a store into the map only dirties a page.
fn create_segment_file(path: &Path, size: u64, dbid: u64) -> Result<(File, MmapMut)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StorageError::io(path, "create segment", e))?;
    let made = fill_segment(&file, path, size, dbid).and_then(|()| {
        // SAFETY: the file was just created by us and is only resized by this log (in
        // `close_segment`, after the map is dropped); no other process writes it. Every
        // page is backed by written blocks (above).
        unsafe { MmapOptions::new().map_mut(&file) }
            .map_err(|e| StorageError::io(path, "mmap segment", e))
    });
    match made {
        Ok(map) => Ok((file, map)),
        Err(e) => {
            drop(file);
            if let Err(rm) = std::fs::remove_file(path) {
                tracing::warn!(
                    file = %path.display(),
                    "txn log: cannot remove a segment that failed to be made ({rm}); \
                     remove it by hand"
                );
            }
            Err(e)
        }
    }
}

/// Reserves `size` bytes of blocks for a new segment file, writes zeros over them and
/// the header at offset 0, and fsyncs it: a full disk is an error here, never later.
fn fill_segment(file: &File, path: &Path, size: u64, dbid: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    reserve_blocks(file, path, size)?;
    write_zeros(file, path, size)?;
    file.write_all_at(&header_bytes(dbid), 0)
        .map_err(|e| StorageError::io(path, "write segment header", e))?;
    file.sync_all()
        .map_err(|e| StorageError::io(path, "fsync new segment", e))
}

/// A spare: a segment file under its temporary name, made (and fsynced) by
/// [`create_segment_file`] ahead of need.
fn make_spare(temp: PathBuf, size: u64, dbid: u64) -> Result<Spare> {
    let (file, map) = create_segment_file(&temp, size, dbid)?;
    Ok(Spare { temp, file, map })
}

/// `rename`, refusing to replace an existing file (a segment is never overwritten).
fn rename_no_replace(from: &Path, to: &Path) -> Result<()> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(StorageError::io(
            to,
            "rename spare segment",
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
    std::fs::rename(from, to).map_err(|e| StorageError::io(to, "rename spare segment", e))
}

/// Unmaps a left segment, truncates it to its used size, closes it. Blocking.
fn close_segment(seg: Segment) -> Result<()> {
    let Segment {
        path,
        file,
        map,
        write_pos,
        ..
    } = seg;
    // Unmap before shrinking: touching a mapped page past the end is SIGBUS.
    drop(map);
    file.set_len(write_pos as u64)
        .map_err(|e| StorageError::io(&path, "truncate segment", e))
}

/// Zero bytes written at a time by [`write_zeros`]: one page.
const ZERO_FILL_CHUNK: usize = 4096;
/// Zero bytes [`write_zeros`] writes between syncs: the log's own syncs queue behind
/// at most this much of the spare's writeback on a shared device.
const ZERO_FILL_SYNC_BYTES: u64 = 4 << 20;

/// Writes zeros over a new segment's reserved blocks, so that no store through the map
/// needs a block allocated or converted, and the syncs of its records only write data.
/// Blocks from `fallocate` are *unwritten* extents: the first sync of a record in one
/// must also commit the extent's conversion to the file system's journal. ZooKeeper's sparse log has the same cost (block allocation); PostgreSQL
/// zero-fills WAL segments (`wal_init_zero`) for this reason. One page per write:
/// the page cache sizes its folios by the write, and a store through the map dirties
/// a whole folio, so after 1 MiB writes each `fdatasync` wrote back a large folio.
/// Measured on this project's ext4 VM, 3 KiB appended through the map + `fdatasync`:
/// p50 ≈ 200–240 µs on a spare filled this way, 300–430 µs on fallocated blocks,
/// 530–630 µs after 1 MiB zero writes. Costs one extra write of each segment, off
/// the append path for a spare (a 64 MiB spare takes ~0.1 s on the blocking pool; a
/// segment made on demand costs its batch that wait), synced a few MiB at a time so
/// that it never puts a long flush ahead of the log's own syncs.
pub fn write_zeros(file: &File, path: &Path, size: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let zeros = [0u8; ZERO_FILL_CHUNK];
    let mut at = 0u64;
    while at < size {
        let n = (size - at).min(ZERO_FILL_CHUNK as u64) as usize;
        file.write_all_at(&zeros[..n], at)
            .map_err(|e| StorageError::io(path, "zero-fill segment", e))?;
        at += n as u64;
        if at.is_multiple_of(ZERO_FILL_SYNC_BYTES) {
            file.sync_data()
                .map_err(|e| StorageError::io(path, "fsync zero-filled segment", e))?;
        }
    }
    Ok(())
}

/// Reserves the disk blocks of a new segment (and sets its size) in one call, so a
/// disk without room fails here at once, before megabytes of zeros are written.
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
        // File systems without fallocate: `write_zeros` allocates the blocks as it
        // writes them (and fails there on a full disk).
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
