//! An exclusive lock on a data directory for the life of the process.
//!
//! Two servers on one `dataDir` destroy each other's data: the second one's recovery
//! removes the first one's preallocated segment and each appends its own zxids to the
//! same log. So every command that writes a data directory (`server`, `import-zk`)
//! first takes [`DirLock`] on it: an `flock` on `ringkeeper.lock` inside, held by an
//! open file until the process ends — the kernel releases it however the process ends
//! (SIGKILL included), so a stale lock never needs cleaning up. The file holds who
//! took it (pid and command line), which the next taker names when it is refused.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{names, Result, StorageError};

/// The lock file's name inside a locked directory.
pub const LOCK_FILE: &str = "ringkeeper.lock";

/// A held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    dir: PathBuf,
}

impl DirLock {
    /// Locks `dir` (created if missing) for this process, or fails with
    /// [`StorageError::Locked`] naming the holder if another process has it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        names::create_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StorageError::io(&path, "open lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "a process that did not say who it is".into());
                return Err(StorageError::Locked {
                    dir: dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(StorageError::io(&path, "flock", e)),
        }
        // Who holds it, for the message a refused process prints. Informational only:
        // the flock is the lock, so this needs no fsync.
        let me = format!(
            "pid {}: {}\n",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0)
            .and_then(|()| file.write_all(me.as_bytes()))
            .map_err(|e| StorageError::io(&path, "write lock file", e))?;
        Ok(DirLock {
            _file: file,
            dir: dir.to_owned(),
        })
    }

    /// Locks `data_dir` and, if it is another directory, `log_dir`.
    pub fn acquire_both(data_dir: &Path, log_dir: &Path) -> Result<Vec<DirLock>> {
        let mut locks = vec![DirLock::acquire(data_dir)?];
        if !same_dir(data_dir, log_dir) {
            locks.push(DirLock::acquire(log_dir)?);
        }
        Ok(locks)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Whether two paths name one directory (after both exist).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_and_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("rk-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = DirLock::acquire(&dir).expect("first lock");
        // flock locks belong to an open file description, so a second open in the
        // same process conflicts just as another process would.
        match DirLock::acquire(&dir) {
            Err(StorageError::Locked { holder, .. }) => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                )
            }
            other => panic!("second lock: {other:?}"),
        }
        drop(first);
        let again = DirLock::acquire(&dir).expect("lock after release");
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn one_dir_for_data_and_log_is_locked_once() {
        let dir = std::env::temp_dir().join(format!("rk-lock-both-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let locks = DirLock::acquire_both(&dir, &dir.join(".")).expect("locks");
        assert_eq!(locks.len(), 1);
        drop(locks);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
