//! The two epoch files of a quorum member, as ZooKeeper keeps them beside its
//! snapshots: `acceptedEpoch` (the newest epoch this server acknowledged in
//! discovery, LEADERINFO/NEWEPOCH) and `currentEpoch` (the newest epoch whose
//! NEWLEADER it acknowledged). Each holds the number in decimal. They are written as
//! ZooKeeper's `AtomicFileOutputStream` writes them: a `.tmp` file, fsynced, renamed
//! over the old one, then the directory fsynced; a write is durable when it returns.
//!
//! At start (`load_epochs`, ZooKeeper's `QuorumPeer.loadDataBase`): a missing file
//! is created from the epoch of the last zxid (a data dir from a standalone server or
//! an older version); a current epoch older than the last zxid's epoch is an error
//! unless `currentEpoch.tmp` holds the epoch being written when the server stopped;
//! an accepted epoch below the current one is an error.

use std::io::Write;
use std::path::Path;

use super::names;
use super::{Result, StorageError};

pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";
pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";

/// The epochs a member starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: i64,
    pub current: i64,
}

/// Reads or creates both files in `dir`, checked against `last_zxid` (the newest txn
/// recovered).
pub fn load_epochs(dir: &Path, last_zxid: i64) -> Result<Epochs> {
    let of_zxid = last_zxid >> 32;
    let mut current = match read_epoch(dir, CURRENT_EPOCH_FILE)? {
        Some(e) => e,
        None => {
            tracing::info!("{CURRENT_EPOCH_FILE} not found: setting it to {of_zxid}, the epoch of the last zxid");
            write_epoch(dir, CURRENT_EPOCH_FILE, of_zxid)?;
            of_zxid
        }
    };
    if of_zxid > current {
        let tmp = format!("{CURRENT_EPOCH_FILE}.tmp");
        match read_epoch(dir, &tmp)? {
            Some(e) => {
                tracing::info!("{tmp} found: setting the current epoch to {e}");
                write_epoch(dir, CURRENT_EPOCH_FILE, e)?;
                current = e;
            }
            None => {
                return Err(StorageError::CorruptRecord {
                    path: dir.join(CURRENT_EPOCH_FILE),
                    offset: 0,
                    reason: format!(
                        "the current epoch, {current}, is older than the last zxid, {last_zxid:#x}"
                    ),
                })
            }
        }
    }
    let accepted = match read_epoch(dir, ACCEPTED_EPOCH_FILE)? {
        Some(e) => e,
        None => {
            tracing::info!("{ACCEPTED_EPOCH_FILE} not found: setting it to {of_zxid}, the epoch of the last zxid");
            write_epoch(dir, ACCEPTED_EPOCH_FILE, of_zxid)?;
            of_zxid
        }
    };
    if accepted < current {
        return Err(StorageError::CorruptRecord {
            path: dir.join(ACCEPTED_EPOCH_FILE),
            offset: 0,
            reason: format!(
                "the accepted epoch, {accepted}, is less than the current epoch, {current}"
            ),
        });
    }
    Ok(Epochs { accepted, current })
}

/// The number in `dir/name`; `None` if the file does not exist. Anything but a
/// decimal number (surrounding whitespace allowed) is an error naming the file.
pub fn read_epoch(dir: &Path, name: &str) -> Result<Option<i64>> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(&path, "read epoch file", e)),
    };
    text.trim()
        .parse::<i64>()
        .map(Some)
        .map_err(|e| StorageError::CorruptRecord {
            path,
            offset: 0,
            reason: format!("not an epoch number ({e}): {:?}", text.trim()),
        })
}

/// Writes `value` to `dir/name` durably (tmp file, fsync, rename, directory fsync).
pub fn write_epoch(dir: &Path, name: &str, value: i64) -> Result<()> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(value.to_string().as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| StorageError::io(&tmp, "write epoch file", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, "rename epoch file", e))?;
    names::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rk-epochs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    #[test]
    fn missing_files_start_at_the_epoch_of_the_last_zxid_and_persist() {
        let d = dir("missing");
        let e = load_epochs(&d, (3 << 32) | 7).expect("load");
        assert_eq!(
            e,
            Epochs {
                accepted: 3,
                current: 3
            }
        );
        assert_eq!(
            std::fs::read_to_string(d.join(CURRENT_EPOCH_FILE)).expect("read"),
            "3"
        );
        write_epoch(&d, ACCEPTED_EPOCH_FILE, 5).expect("write");
        let e = load_epochs(&d, (3 << 32) | 7).expect("load");
        assert_eq!(
            e,
            Epochs {
                accepted: 5,
                current: 3
            }
        );
        assert!(!d.join("acceptedEpoch.tmp").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_current_epoch_behind_the_log_is_refused_unless_its_write_was_under_way() {
        let d = dir("behind");
        write_epoch(&d, CURRENT_EPOCH_FILE, 2).expect("write");
        write_epoch(&d, ACCEPTED_EPOCH_FILE, 4).expect("write");
        let err = load_epochs(&d, 4 << 32).expect_err("behind");
        assert!(
            err.to_string().contains("older than the last zxid"),
            "{err}"
        );
        // The server stopped between writing the tmp file and renaming it.
        std::fs::write(d.join("currentEpoch.tmp"), "4").expect("write tmp");
        let e = load_epochs(&d, 4 << 32).expect("load");
        assert_eq!(
            e,
            Epochs {
                accepted: 4,
                current: 4
            }
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_accepted_epoch_below_the_current_or_garbage_is_refused() {
        let d = dir("bad");
        write_epoch(&d, CURRENT_EPOCH_FILE, 4).expect("write");
        write_epoch(&d, ACCEPTED_EPOCH_FILE, 3).expect("write");
        let err = load_epochs(&d, 0).expect_err("accepted < current");
        assert!(
            err.to_string().contains("less than the current epoch"),
            "{err}"
        );
        std::fs::write(d.join(ACCEPTED_EPOCH_FILE), "four\n").expect("write");
        let err = load_epochs(&d, 0).expect_err("garbage");
        assert!(err.to_string().contains("not an epoch number"), "{err}");
        // ZooKeeper's own files may end with a newline.
        std::fs::write(d.join(ACCEPTED_EPOCH_FILE), "6\n").expect("write");
        assert_eq!(load_epochs(&d, 0).expect("load").accepted, 6);
        let _ = std::fs::remove_dir_all(&d);
    }
}
