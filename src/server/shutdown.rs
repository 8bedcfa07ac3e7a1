//! An orderly stop on SIGTERM or SIGINT, within a bounded time.
//!
//! The signals are blocked in every thread (set before the executors start, so
//! their threads inherit it) and taken by the main thread with `sigwaitinfo`: no
//! handler runs at an arbitrary point of a core's work. On a signal the main thread
//! tells every core through a socket pair (a glommio task awaits the other end):
//! each session core stops accepting and stops taking new requests, waits until the
//! requests already in the pipeline are answered (at most [`DRAIN_WAIT`]), flushes
//! and closes its connections, and reports; the quorum core stops expiring sessions.
//! Then the process exits 0. Sessions are not closed: as in ZooKeeper they live on
//! in the log and snapshot, and their clients reconnect to the restarted server.
//! Nothing needs a final sync: a write is answered only after its batch's fsync,
//! and a batch cut short was answered to nobody.

use std::io::Write;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a session core waits for the requests in flight to be answered.
pub const DRAIN_WAIT: Duration = Duration::from_secs(5);
/// How long it then waits for the answers to be written out.
pub const FLUSH_WAIT: Duration = Duration::from_secs(2);
/// How long the main thread waits for every core's report.
const REPORT_WAIT: Duration = Duration::from_secs(10);

/// What a session core reports once it has closed its connections.
#[derive(Debug, Clone, Copy)]
pub struct Drained {
    pub connections: usize,
    /// Requests still unanswered when [`DRAIN_WAIT`] ran out (their clients see the
    /// connection close, as on any connection loss).
    pub unanswered: usize,
}

/// One core's end: resolves when the stop begins.
pub struct StopNotice(OwnedFd);

impl StopNotice {
    /// Waits for the stop (run it in a task of the core's executor).
    pub async fn wait(self) {
        use futures_lite::AsyncReadExt;
        use std::os::fd::FromRawFd;
        // SAFETY: the fd is one end of a socket pair this module made and moved here;
        // the glommio stream takes it over and closes it.
        let mut s = unsafe { glommio::net::UnixStream::from_raw_fd(self.0.into_raw_fd()) };
        let mut byte = [0u8; 1];
        // A byte or EOF (the main thread gone): either way, stop.
        let _ = s.read(&mut byte).await;
    }
}

/// The main thread's side.
pub struct Stopper {
    ends: Vec<UnixStream>,
    reports: mpsc::Receiver<Drained>,
    report_tx: mpsc::Sender<Drained>,
    session_cores: usize,
}

impl Stopper {
    pub fn new(session_cores: usize) -> Stopper {
        let (report_tx, reports) = mpsc::channel();
        Stopper {
            ends: Vec::new(),
            reports,
            report_tx,
            session_cores,
        }
    }

    /// A notice for one core (each session core and the quorum core take one).
    pub fn notice(&mut self) -> std::io::Result<StopNotice> {
        let (mine, theirs) = UnixStream::pair()?;
        self.ends.push(mine);
        Ok(StopNotice(theirs.into()))
    }

    /// Where session cores send their [`Drained`] report.
    pub fn reporter(&self) -> mpsc::Sender<Drained> {
        self.report_tx.clone()
    }

    /// Blocks until SIGTERM or SIGINT, then stops the cores and waits for them
    /// (bounded; a second signal stops waiting). Returns when the process may exit.
    pub fn run(self, signals: &SignalSet) {
        let Stopper {
            ends,
            reports: incoming,
            report_tx,
            session_cores,
        } = self;
        // Only the cores hold senders now: if every core is gone, `Disconnected` ends
        // the wait instead of the deadline.
        drop(report_tx);
        let sig = signals.wait_forever();
        // Tells systemd the stop has begun even when the signal came from elsewhere
        // than `systemctl stop` (a no-op without NOTIFY_SOCKET).
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        tracing::info!(
            "{}: stopping: no new connections or requests; answering those in flight \
             (at most {} s), then closing connections (sessions stay: clients \
             reconnect to the restarted server)",
            signal_name(sig),
            DRAIN_WAIT.as_secs()
        );
        let started = Instant::now();
        for mut end in ends {
            // Dropping the end would do too (EOF); the byte says it on purpose.
            let _ = end.write_all(&[1]);
        }
        let deadline = started + REPORT_WAIT;
        let mut reports = Vec::new();
        while reports.len() < session_cores {
            match incoming.try_recv() {
                Ok(r) => {
                    reports.push(r);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "{} of {} session cores finished closing in time; stopping anyway",
                    reports.len(),
                    session_cores
                );
                break;
            }
            if let Some(again) = signals.wait(Some(Duration::from_millis(20))) {
                tracing::warn!("{}: stopping at once", signal_name(again));
                break;
            }
        }
        let connections: usize = reports.iter().map(|r| r.connections).sum();
        let unanswered: usize = reports.iter().map(|r| r.unanswered).sum();
        tracing::info!(
            "stopped in {} ms: {connections} connections closed, {unanswered} requests \
             unanswered",
            started.elapsed().as_millis()
        );
    }
}

/// SIGTERM and SIGINT, blocked in the calling thread (and so in every thread it
/// starts afterwards) and waited for with `sigtimedwait`.
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// Blocks SIGTERM and SIGINT in this thread. Call before starting any thread
    /// that must not take them.
    pub fn block() -> std::io::Result<SignalSet> {
        // SAFETY: sigemptyset/sigaddset initialise a sigset_t we own;
        // pthread_sigmask only changes this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            Ok(SignalSet(set))
        }
    }

    /// The next of the signals.
    fn wait_forever(&self) -> i32 {
        loop {
            if let Some(sig) = self.wait(None) {
                return sig;
            }
        }
    }

    /// The next of the signals, or `None` after `timeout`.
    fn wait(&self, timeout: Option<Duration>) -> Option<i32> {
        loop {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
            });
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: the set is initialised; the info pointer may be null; the
            // timespec (when given) lives across the call.
            let sig = unsafe { libc::sigtimedwait(&self.0, std::ptr::null_mut(), ts_ptr) };
            if sig > 0 {
                return Some(sig);
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // EAGAIN: the timeout passed.
                _ => return None,
            }
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "a stop signal",
    }
}
