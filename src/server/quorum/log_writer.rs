//! The quorum task's txn log writer: appends prepared txns to the mapped log and
//! makes them durable in group commits (`fdatasync` through io_uring, or inline on a
//! dedicated quorum core: `syncInline`). A failed append or sync stops the server:
//! nothing it would acknowledge afterwards could be trusted to be durable.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, SyncInline};
use crate::server::messages::Committed;
use crate::server::stats::{ServerStats, Stage};
use crate::storage::{self, SyncTarget, TxnLog};

pub struct LogWriter {
    cfg: Arc<Config>,
    stats: Arc<ServerStats>,
    log: RefCell<TxnLog>,
    /// `bytes_appended` at the last sync, to report bytes per sync.
    synced_bytes: Cell<u64>,
    /// Core 0's answered reads when the previous batch was synced.
    reads_at_last_sync: Cell<u64>,
}

impl LogWriter {
    pub fn new(cfg: Arc<Config>, stats: Arc<ServerStats>, log: TxnLog) -> Self {
        Self {
            cfg,
            stats,
            log: RefCell::new(log),
            synced_bytes: Cell::new(0),
            reads_at_last_sync: Cell::new(0),
        }
    }

    /// The zxid of the last txn appended (durable once the next sync returns).
    pub fn last_zxid(&self) -> i64 {
        self.log.borrow().last_zxid()
    }

    /// Takes `log` in place of the current one (a learner that truncated its log or
    /// loaded a snapshot recovered it again); the old one is dropped. No append or sync
    /// may be in flight.
    pub fn replace(&self, log: TxnLog) {
        let old = std::mem::replace(&mut *self.log.borrow_mut(), log);
        drop(old);
        self.synced_bytes.set(self.log.borrow().bytes_appended());
    }

    /// Bytes appended since the start (for the batch's byte bound).
    pub fn bytes_appended(&self) -> u64 {
        self.log.borrow().bytes_appended()
    }

    /// Ends the current segment: the next append starts a new one (so a snapshot's
    /// zxid starts a segment, as ZooKeeper rolls its log at a snapshot).
    pub fn roll(&self) {
        self.log.borrow_mut().roll();
    }

    /// Hands the log's file work nothing waits for (the next spare, closing left
    /// segments) to the blocking pool.
    pub fn start_background_jobs(&self) {
        for job in self.log.borrow_mut().background_jobs() {
            glommio::spawn_local(super::blocking(move || job.run())).detach();
        }
    }

    /// Appends the batch's txns to the log (memcpy into the mapped segment).
    pub fn append(&self, committed: &[Committed]) {
        let mut log = self.log.borrow_mut();
        for Committed { hdr, txn } in committed {
            if let Err(e) = log.append(hdr, txn) {
                super::fatal(&format!("cannot append to the txn log: {e}"));
            }
        }
    }

    /// One group commit: every segment written since the last sync is made durable
    /// with fdatasync through io_uring (the directory with fsync after a new
    /// segment). A failed sync is fatal: the page cache state is unknown, so the
    /// server stops rather than retry or acknowledge.
    ///
    /// First the log's file jobs (naming a spare segment taken into use, or creating
    /// one if no spare was ready), awaited on the log's own thread (glommio's blocking
    /// pool may be busy writing a snapshot): the directory fsync must follow them.
    /// The next spare and the closing of synced, left segments go to the blocking
    /// pool, not waited for.
    ///
    /// Appends may go on while it awaits (the leader's pipeline prepares the next
    /// batch meanwhile): what it covers is fixed when it starts, and it returns the
    /// zxid through which the log is durable.
    pub async fn sync(&self, txns: u64) -> i64 {
        loop {
            let Some(job) = self.log.borrow_mut().next_job() else {
                break;
            };
            let running = self.log.borrow_mut().start_job(job);
            let done = running.await;
            if let Err(e) = done.and_then(|d| self.log.borrow_mut().finish_job(d)) {
                self.log_fatal(format!("txn log: {e}"), e.is_no_space());
            }
        }
        self.start_background_jobs();
        // No await since the jobs finished: every record appended so far is in a
        // named segment, so these targets cover the log through its last zxid.
        let (targets, covers): (Vec<SyncTarget>, i64) = {
            let log = self.log.borrow();
            (log.pending_sync(), log.last_zxid())
        };
        if targets.is_empty() {
            return self.log.borrow().synced_zxid();
        }
        let bytes_before = self.log.borrow().bytes_appended();
        let started = Instant::now();
        if self.cfg.force_sync {
            let inline = match self.cfg.sync_inline() {
                SyncInline::Always => true,
                SyncInline::Never => false,
                SyncInline::WhenNoReads => {
                    // Core 0's read-stage samples: one per read it answered (an
                    // `srst` in between only makes one batch go through io_uring).
                    let reads = self.stats.core(0).stages[Stage::Read as usize].count();
                    reads == self.reads_at_last_sync.replace(reads)
                }
            };
            for t in &targets {
                let res = if inline && !t.full_fsync {
                    fdatasync_here(t)
                } else {
                    sync_target(t).await
                };
                if let Err(e) = res {
                    let no_space = storage::is_no_space_io(&e);
                    self.log_fatal(
                        format!("fsync of {} failed: {e}", t.path.display()),
                        no_space,
                    );
                }
            }
        }
        self.log.borrow_mut().mark_synced(&targets);
        // What this returns is acknowledged: a record it should have covered and
        // did not (its segment not yet named) must stop the server, not be
        // acknowledged or silently left out.
        let synced = self.log.borrow().synced_zxid();
        if synced < covers {
            super::fatal(&format!(
                "txn log synced to 0x{synced:x}, appended to 0x{covers:x} before the sync"
            ));
        }
        if self.cfg.force_sync {
            let took = started.elapsed();
            self.stats
                .quorum()
                .stage(Stage::Fsync, took.as_micros() as u64);
            if took > Duration::from_millis(self.cfg.fsync_warning_threshold_ms) {
                self.stats.quorum().fsync_slow();
                tracing::warn!(
                    "syncing the txn log took {} ms (fsync.warningthresholdms={}): every \
                     write of the batch waited for it; see tuning/README.md on the log device",
                    took.as_millis(),
                    self.cfg.fsync_warning_threshold_ms
                );
            }
        }
        let bytes = bytes_before.saturating_sub(self.synced_bytes.replace(bytes_before));
        self.stats
            .quorum()
            .fsync_done(started.elapsed().as_micros() as u64, txns, bytes);
        synced
    }

    /// Stops the server after a txn log failure, saying what to do. Nothing in the
    /// failed batch was acknowledged; everything acknowledged before it was synced.
    fn log_fatal(&self, what: String, no_space: bool) -> ! {
        let advice = if no_space {
            format!(
                "the file system of {} is full: free space there (a new log segment needs \
                 {} KiB, preAllocSize), then restart; every acknowledged write is in the log",
                self.cfg.data_log_dir.display(),
                self.cfg.prealloc_bytes >> 10
            )
        } else {
            "every acknowledged write is in the log; fix the cause, then restart".to_owned()
        };
        super::fatal(&format!("{what}; {advice}"))
    }
}

/// Makes one segment durable with an fdatasync on this thread, which blocks the
/// executor for the flush: no io_uring worker to wake, no completion to wait for.
/// Used where nothing else waits on this executor (`syncInline`).
fn fdatasync_here(t: &SyncTarget) -> std::io::Result<()> {
    // SAFETY: fdatasync reads no memory; `t.fd` is a segment fd the log keeps open
    // until the sync is marked done.
    if unsafe { libc::fdatasync(t.fd) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes one sync target durable through io_uring. The log keeps its fds; the sync
/// goes through a duplicate so glommio can own (and close) it.
async fn sync_target(t: &SyncTarget) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    if t.full_fsync {
        let dir = glommio::io::Directory::open(&t.path).await?;
        dir.sync().await?;
        dir.close().await?;
        return Ok(());
    }
    // SAFETY: `dup` returns a new fd (checked below) that nothing else owns; the
    // BufferedFile takes ownership and closes it.
    let fd = unsafe { libc::dup(t.fd) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let f = unsafe { glommio::io::BufferedFile::from_raw_fd(fd) };
    let res = f.fdatasync().await;
    // Closing the duplicate has nothing to do with durability: it is not waited for,
    // so it costs the batch no extra ring round trip before the acknowledgment.
    glommio::spawn_local(async move {
        let _ = f.close().await;
    })
    .detach();
    res.map_err(Into::into)
}
