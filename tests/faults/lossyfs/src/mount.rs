//! A lossyfs mounted by the process that uses it (tests): mount it, see what is
//! unsynced, cut the power, unmount. Owns the FUSE session's thread and the mount;
//! must never leave the mount behind when dropped (a failing test included).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fuser::BackgroundSession;

use crate::fuse::{config, lock, LossyFs};
use crate::model::{Cut, CutReport, Fs, Unsynced};

/// How long an unmount retries while the mount is busy. A process killed with
/// SIGKILL can hold its files a little longer: files an io_uring holds are
/// released when the kernel tears the ring down, after the process was reaped.
const UNMOUNT_BUSY_WAIT: Duration = Duration::from_secs(5);
const UNMOUNT_RETRY: Duration = Duration::from_millis(20);

/// A mounted lossyfs; see the crate's `//!` block.
pub struct Mount {
    mountpoint: PathBuf,
    fs: Arc<Mutex<Fs>>,
    /// `None` once unmounted.
    session: Option<BackgroundSession>,
}

/// How an unmount went.
enum Unmounted {
    /// Gone, and the session thread ended.
    Clean,
    /// Still busy after [`UNMOUNT_BUSY_WAIT`]: detached (`umount -l`); it goes when
    /// its last user lets go.
    Detached,
}

impl Mount {
    /// Mounts a lossyfs over `backing` (the disk) at `mountpoint` (an existing
    /// directory). Needs /dev/fuse and root (fuser mounts with mount(2) as root; as
    /// another user it would need fusermount3).
    pub fn new(backing: &Path, mountpoint: &Path) -> io::Result<Mount> {
        let fs = Fs::open(backing).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("lossyfs: backing directory {}: {e}", backing.display()),
            )
        })?;
        let mountpoint = mountpoint.canonicalize().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("lossyfs: mount point {}: {e}", mountpoint.display()),
            )
        })?;
        let shared = Arc::new(Mutex::new(fs));
        let session = fuser::Session::new(LossyFs { fs: shared.clone() }, &mountpoint, &config())
            .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "lossyfs: cannot mount on {}: {e} (FUSE needs /dev/fuse and root)",
                    mountpoint.display()
                ),
            )
        })?;
        let session = session.spawn()?;
        Ok(Mount {
            mountpoint,
            fs: shared,
            session: Some(session),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// What a cut would drop now.
    pub fn unsynced(&self) -> Unsynced {
        lock(&self.fs).unsynced()
    }

    /// Cuts the power: the volatile state goes (see [`Cut`]), every request from now
    /// on fails with EIO, and the file system is unmounted, so the kernel's page
    /// cache of it goes too. Mount the backing directory again to power on. Stop the
    /// processes using it first, or the unmount waits for them (and detaches it
    /// lazily after a few seconds).
    pub fn cut(mut self, how: Cut) -> io::Result<CutReport> {
        let report = lock(&self.fs).cut(how);
        self.unmount_session()?;
        Ok(report)
    }

    /// A clean unmount: the kernel writes back what it holds, and everything becomes
    /// durable (as when a real file system is unmounted). Fails if the mount stays
    /// busy; it is then detached and synced when its last user lets go.
    pub fn unmount(mut self) -> io::Result<()> {
        match self.unmount_session()? {
            Unmounted::Clean => Ok(()),
            Unmounted::Detached => Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "lossyfs: {} stayed busy; detached it instead",
                    self.mountpoint.display()
                ),
            )),
        }
    }

    fn unmount_session(&mut self) -> io::Result<Unmounted> {
        let Some(session) = self.session.take() else {
            return Ok(Unmounted::Clean);
        };
        let path = CString::new(self.mountpoint.as_os_str().as_bytes())?;
        let deadline = Instant::now() + UNMOUNT_BUSY_WAIT;
        let busy = loop {
            // SAFETY: `path` is a valid NUL-terminated string; umount2 reads only it.
            if unsafe { libc::umount2(path.as_ptr(), 0) } == 0 {
                // The kernel ends the connection with the mount; the session thread
                // sees that, runs `destroy` and returns.
                session.join()?;
                return Ok(Unmounted::Clean);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EBUSY) {
                // Not joined: whatever unmounted it may have left the connection up.
                drop(session);
                return Err(io::Error::new(
                    err.kind(),
                    format!("lossyfs: umount {}: {err}", self.mountpoint.display()),
                ));
            }
            if Instant::now() >= deadline {
                break err;
            }
            std::thread::sleep(UNMOUNT_RETRY);
        };
        // SAFETY: as above.
        let rc = unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        let detach_err = (rc != 0).then(io::Error::last_os_error);
        // The session thread ends with the detached mount; not waited for. (fuser's
        // own unmount when the handle drops finds nothing mounted there any more.)
        drop(session);
        match detach_err {
            None => {
                eprintln!(
                    "lossyfs: {} still busy after {UNMOUNT_BUSY_WAIT:?} ({busy}); detached it \
                     (umount -l)",
                    self.mountpoint.display()
                );
                Ok(Unmounted::Detached)
            }
            Some(e) => Err(io::Error::new(
                e.kind(),
                format!(
                    "lossyfs: umount {} was busy ({busy}); umount -l failed too: {e}",
                    self.mountpoint.display()
                ),
            )),
        }
    }
}

impl Drop for Mount {
    /// Neither cut nor unmounted (a test failed on its way there): cut the power, so
    /// nothing unsynced reaches the backing directory by accident, and unmount.
    fn drop(&mut self) {
        if self.session.is_none() {
            return;
        }
        lock(&self.fs).cut(Cut::DropAll);
        if let Err(e) = self.unmount_session() {
            eprintln!("{e}");
        }
    }
}
