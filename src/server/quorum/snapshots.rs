//! When the quorum task snapshots and how: every `snapCount` txns (each interval drawn
//! as ZooKeeper draws it), a walk of one frozen tree version on the blocking pool, so
//! the snapshot is exact and the pipeline never waits for it; and the purge of old
//! snapshots and log segments (`autopurge.*`). The same kind of walk writes the SNAP
//! body a leader streams to a learner (`stream_snap_body`).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::wire_io::StreamChunk;
use crate::config::Config;
use crate::server::stats::ServerStats;
use crate::storage;
use crate::tree::TreeVersion;

pub struct Snapshots {
    cfg: Arc<Config>,
    stats: Arc<ServerStats>,
    /// Txns committed since the last snapshot, and the count that triggers the next.
    since: Cell<u64>,
    at: Cell<u64>,
    /// A snapshot is being written; the next waits for it.
    running: Rc<Cell<bool>>,
}

impl Snapshots {
    pub fn new(cfg: Arc<Config>, stats: Arc<ServerStats>) -> Self {
        let at = snapshot_interval(cfg.snap_count);
        Self {
            cfg,
            stats,
            since: Cell::new(0),
            at: Cell::new(at),
            running: Rc::new(Cell::new(false)),
        }
    }

    /// Counts `txns` more committed; true if a snapshot should start now (none is
    /// running and the interval is reached), which starts the next interval.
    pub fn due(&self, txns: u64) -> bool {
        self.since.set(self.since.get() + txns);
        if self.since.get() < self.at.get() || self.running.get() {
            return false;
        }
        self.since.set(0);
        self.at.set(snapshot_interval(self.cfg.snap_count));
        true
    }

    /// Writes `version` (every txn through `zxid`) and `sessions` as a snapshot, on
    /// the blocking pool. A failure is logged, not fatal: the log still holds
    /// everything, so it costs only recovery time.
    pub fn start(&self, version: TreeVersion, zxid: i64, sessions: Vec<(i64, i32)>) {
        let (cfg, stats, running) = (self.cfg.clone(), self.stats.clone(), self.running.clone());
        running.set(true);
        glommio::spawn_local(async move {
            let started = Instant::now();
            let dir = cfg.data_dir.clone();
            let nodes = version.node_count().saturating_sub(1);
            let written = super::blocking(move || {
                // A thread of its own, so its lowered priority goes with it.
                let write = || storage::write_snapshot(&dir, &version, &sessions, zxid);
                let written = std::thread::scope(|scope| {
                    let spawned = std::thread::Builder::new()
                        .name("rk-snapshot".into())
                        .spawn_scoped(scope, || {
                            Niceness::lower(SNAPSHOT_NICENESS);
                            write()
                        });
                    match spawned {
                        Ok(t) => t.join().unwrap_or_else(|_| {
                            let e = std::io::Error::other("the snapshot thread panicked");
                            Err(storage::StorageError::io(&dir, "write snapshot", e))
                        }),
                        Err(e) => {
                            tracing::warn!("no snapshot thread ({e}); writing it here");
                            write()
                        }
                    }
                });
                let written = written.map_err(|e| {
                    let advice =
                        storage::snapshot::failure_advice(&dir, &e, &version, sessions.len());
                    (e, advice)
                });
                // The version is dropped here, not on the executor: the nodes the
                // writer replaced while the snapshot held it are freed with it (tens
                // of thousands under a write load on a large tree).
                drop(version);
                written
            })
            .await;
            match written {
                Ok(path) => {
                    stats
                        .quorum()
                        .snapshots
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(
                        "snapshot 0x{zxid:x} ({nodes} nodes) written to {} in {} ms",
                        path.display(),
                        started.elapsed().as_millis()
                    );
                }
                // The log still holds everything; a failed snapshot only costs
                // recovery time, so it is logged, not fatal (its partial file is
                // removed: see `SnapshotFile`).
                Err((e, advice)) => tracing::error!(
                    "snapshot 0x{zxid:x} failed: {e}; the txn log holds every txn, and \
                     the next snapshot is tried after snapCount more; {advice}"
                ),
            }
            running.set(false);
        })
        .detach();
    }
}

/// How many bytes of a SNAP body go to the connection at a time, and how many such
/// chunks may wait for it: the body's memory on the leader is bounded by their product
/// (plus the chunk being filled), whatever the tree's size.
const SNAP_CHUNK: usize = 512 << 10;
const SNAP_CHUNKS_QUEUED: usize = 4;

/// Sends SNAP's body at `zxid` on `sink` (connection `conn`, the log's `whom`, e.g.
/// "learner connection 3"): the tree as it is now, which must have applied exactly
/// through `zxid`, frozen, with the sessions its txns opened and closed, streamed by
/// [`stream_snap_body`]. A tree at any other zxid would be a body that is not the
/// snapshot announced, so the connection is closed instead.
pub fn send_snap(
    q: &super::Quorum,
    sink: &super::wire_io::PacketSink,
    zxid: i64,
    conn: u64,
    whom: &str,
) {
    if q.applied.get() != zxid {
        tracing::error!(
            "SNAP at 0x{zxid:x} for {whom} but the tree is at 0x{:x}; closing it",
            q.applied.get()
        );
        sink.close();
        return;
    }
    // Both taken now, at the SNAP zxid: the version is frozen, and the sessions are
    // the ones the tree's txns opened and closed.
    let version = q.tree.borrow().version();
    let sessions = q.sessions.list();
    tracing::info!(
        "sending a snapshot at 0x{zxid:x} ({} nodes, {} sessions) to {whom}",
        version.node_count().saturating_sub(1),
        sessions.len()
    );
    sink.send_stream(stream_snap_body(version, sessions, zxid, conn));
}

/// Starts writing `version` (the tree at a SNAP's zxid) and `sessions` as ZooKeeper's
/// SNAP body on a thread of its own, and returns the chunks as they are produced for
/// the learner connection's writer (`PacketSink::send_stream`). The thread waits while
/// the connection has `SNAP_CHUNKS_QUEUED` chunks unsent, and stops when the
/// connection drops the receiver.
pub fn stream_snap_body(
    version: TreeVersion,
    sessions: Vec<(i64, i32)>,
    zxid: i64,
    conn: u64,
) -> async_channel::Receiver<StreamChunk> {
    stream_zk_snapshot(
        version,
        sessions,
        storage::zk::SnapshotForm::SnapStream,
        format!("SNAP 0x{zxid:x} to learner connection {conn}"),
    )
}

/// Writes `version` and `sessions` in ZooKeeper's serialization, framed as `form`, on
/// a thread of its own, as bounded chunks for a connection's writer (a learner's SNAP
/// body, the AdminServer's `snapshot`). `what` names the stream in the log.
pub fn stream_zk_snapshot(
    version: TreeVersion,
    sessions: Vec<(i64, i32)>,
    form: storage::zk::SnapshotForm,
    what: String,
) -> async_channel::Receiver<StreamChunk> {
    let (tx, rx) = async_channel::bounded(SNAP_CHUNKS_QUEUED);
    // At the executors' priority, unlike our own snapshots: the learner must be
    // synced within initLimit, and at nice 10 on a busy machine a 1,000,000-node body
    // took 18 s instead of 2.
    let thread_what = what.clone();
    let write = move || {
        let what = thread_what;
        let started = Instant::now();
        let mut out = ChunkSender {
            tx: &tx,
            buf: Vec::with_capacity(SNAP_CHUNK),
            sent: 0,
        };
        let written = storage::zk::write_zk_snapshot(&mut out, &version, &sessions, form)
            .and_then(|()| out.send_buffered());
        let last = match written {
            Ok(()) => {
                tracing::info!(
                    "{what}: {} nodes, {} bytes written in {} ms",
                    version.node_count().saturating_sub(1),
                    out.sent,
                    started.elapsed().as_millis()
                );
                StreamChunk::Done
            }
            Err(e) => StreamChunk::Failed(format!("{what} failed: {e}")),
        };
        // Refused only when the connection is gone already, which is what it would say.
        let _ = tx.send_blocking(last);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("rk-snap-send".into())
        .spawn(write)
    {
        // The closure (and its sender) is gone: the writer sees the stream end early
        // and closes the connection; the learner retries.
        tracing::error!("no thread for {what}: {e}");
    }
    rx
}

/// A `Write` that hands `SNAP_CHUNK`-sized pieces to a connection's writer, waiting
/// while its channel is full.
struct ChunkSender<'a> {
    tx: &'a async_channel::Sender<StreamChunk>,
    buf: Vec<u8>,
    sent: u64,
}

impl ChunkSender<'_> {
    fn send_buffered(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(SNAP_CHUNK));
        self.sent += chunk.len() as u64;
        self.tx
            .send_blocking(StreamChunk::Bytes(chunk.into()))
            .map_err(|_| std::io::Error::other("the connection is gone"))
    }
}

impl std::io::Write for ChunkSender<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= SNAP_CHUNK {
            self.send_buffered()?;
        }
        Ok(bytes.len())
    }

    /// Nothing: chunks leave when full, and the last one after the walk, so a flush
    /// (the writer's at the end) does not send a runt chunk.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Removes snapshots and log segments older than the newest `autopurge.snapRetainCount`
/// snapshots need, on the blocking pool.
pub fn purge(cfg: &Config) {
    let (data, logs, keep) = (
        cfg.data_dir.clone(),
        cfg.data_log_dir.clone(),
        cfg.snap_retain_count,
    );
    glommio::spawn_local(async move {
        let res = super::blocking(move || storage::purge(&data, &logs, keep)).await;
        match res {
            Ok(p) => tracing::info!("purge: {p:?}"),
            Err(e) => tracing::error!("purge failed: {e}"),
        }
    })
    .detach();
}

/// ZooKeeper draws each snapshot interval from [snapCount/2 + 1, snapCount].
fn snapshot_interval(snap_count: u64) -> u64 {
    use rand::Rng;
    let lo = snap_count / 2 + 1;
    rand::thread_rng().gen_range(lo..=snap_count.max(lo))
}

/// How far a snapshot's thread steps back for the executors (nice 10: about a tenth of
/// a CPU against one busy executor). The pipeline never waits for a snapshot, so on a
/// saturated machine it should yield to the threads that answer clients; on an idle
/// one the niceness costs nothing.
const SNAPSHOT_NICENESS: i32 = 10;

/// Raises the calling thread's nice value (Linux gives each thread its own). A failure
/// only logs: the snapshot then competes as an equal.
struct Niceness;

impl Niceness {
    fn lower(to: i32) {
        // SAFETY: plain syscalls on the calling thread's own id.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, to.max(before)) } != 0 {
            tracing::debug!(
                "cannot lower the snapshot thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Acl, NodeData};
    use crate::tree::{DataTree, StatPersisted};

    /// A tree of `n` nodes of 100 bytes under `/big`.
    fn tree(n: u32) -> DataTree {
        let mut t = DataTree::new();
        let acl = Acl::open_unsafe();
        let data = Some(NodeData::new(&[b'd'; 100]));
        let stat = StatPersisted::created(1, 0, 0);
        t.insert_restored("/big", None, &acl, stat).expect("/big");
        for k in 0..n {
            t.insert_restored(&format!("/big/n{k}"), data.clone(), &acl, stat)
                .expect("node");
        }
        t
    }

    #[test]
    fn a_streamed_snap_body_is_the_written_one_in_bounded_chunks() {
        let version = tree(20_000).version();
        let sessions = vec![(7, 4000), (9, 30_000)];
        let mut whole = Vec::new();
        storage::zk::write_zk_snapshot(
            &mut whole,
            &version,
            &sessions,
            storage::zk::SnapshotForm::SnapStream,
        )
        .expect("write");
        let rx = stream_snap_body(version, sessions, 1, 0);
        // The producer stops at the channel's bound until chunks are taken.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(rx.len(), SNAP_CHUNKS_QUEUED);
        let mut streamed = Vec::new();
        let mut chunks = 0;
        loop {
            match rx.recv_blocking().expect("the stream ended without Done") {
                StreamChunk::Bytes(b) => {
                    // A chunk is cut once it reaches SNAP_CHUNK: at most one write of
                    // the serializer (64 KiB and a node) past it.
                    assert!(b.len() < SNAP_CHUNK + (80 << 10), "chunk of {}", b.len());
                    streamed.extend_from_slice(&b);
                    chunks += 1;
                }
                StreamChunk::Done => break,
                StreamChunk::Failed(why) => panic!("{why}"),
            }
        }
        assert!(chunks > SNAP_CHUNKS_QUEUED, "{chunks} chunks");
        // Not assert_eq: a difference would print megabytes.
        assert!(
            streamed == whole,
            "the streamed body ({} bytes) differs from the written one ({} bytes)",
            streamed.len(),
            whole.len()
        );
    }
}
