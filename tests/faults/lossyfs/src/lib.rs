//! lossyfs: a FUSE file system over a backing directory that keeps everything not
//! yet made durable in memory, and loses it when the power is cut. It tests that a
//! program acknowledges only what it synced: SIGKILL alone cannot, because the
//! kernel's page cache survives the process.
//!
//! # The durability model (POSIX's minimum; stricter than ext4)
//!
//! The backing directory is the disk. Every operation changes only the volatile
//! state in memory; a sync writes the durable state into the backing directory;
//! [`Mount::cut`] (or killing the `lossyfs` process) throws the volatile state away.
//!
//! - **File data** (`write`, `pwrite`, dirty pages of a shared writable mmap) is
//!   durable after `fsync` or `fdatasync` of that file (`msync(MS_SYNC)` and io_uring's
//!   `IORING_OP_FSYNC` reach FUSE as the same FSYNC). Closing a file syncs nothing.
//! - **Size changes** (`ftruncate`/`set_len`, writes past the end, `fallocate` mode 0)
//!   are part of the file's data: durable with its next `fsync` or `fdatasync`
//!   (`fdatasync` must persist the size when a read needs it; here both do the same).
//!   Until then a cut restores the durable size, and bytes truncated away and not
//!   rewritten come back.
//! - **`fallocate`**: mode 0 and `FALLOC_FL_KEEP_SIZE` reserve no blocks (the backing
//!   file system allocates at sync), so a full disk shows at sync, not at fallocate;
//!   `FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE` and `FALLOC_FL_ZERO_RANGE` write zeros.
//!   Other modes answer EOPNOTSUPP.
//! - **Directory entries** (create, mkdir, rename, unlink, rmdir, link) are durable
//!   after `fsync` of the directory that holds the entry. `fsync` of a file does not
//!   make its name durable, nor `fsync` of a directory its own name in its parent.
//!   A rename touches two entries: the new name is durable with the new directory's
//!   fsync, the old name's removal with the old directory's. So a file renamed to
//!   another directory may, after a cut, be under both names or neither. A directory
//!   has one name: making its new name durable removes the old one (as a journal
//!   commits a rename whole).
//! - **A durable name whose file's data never was** is an empty file after a cut
//!   (ext4 shows the same); a file whose data was synced but whose name never was is
//!   gone.
//! - **Permission bits and owner** are durable with the node's next sync; **times**
//!   are not modelled (after a cut they are the backing files' own).
//! - A **torn cut** ([`Cut::Torn`]) also lets each file's dirty pages inside its
//!   durable size reach the disk in ascending order, up to a random 512-byte sector
//!   (uniform over none to all of them): a disk in the middle of an ordered writeback,
//!   the last write torn. A seed replays it.
//!
//! ext4 (data=ordered) keeps more: its `fsync` of a file commits the whole journal,
//! which usually makes the file's new name and earlier renames durable too. A program
//! that passes here does not rely on that.
//!
//! # The kernel in between
//!
//! - No `FUSE_WRITEBACK_CACHE`: every `write(2)` reaches lossyfs before it returns.
//!   Dirty pages of a shared writable mmap stay in the kernel until writeback, msync,
//!   fsync or close (FUSE's flush writes them back), then arrive as WRITE requests;
//!   the kernel sends them before each FSYNC, so an fsync covers them.
//! - No `FOPEN_DIRECT_IO` (a shared writable mmap needs the page cache) and no
//!   `FOPEN_KEEP_CACHE`.
//! - A cut unmounts the file system: its page cache, which may hold bytes the
//!   simulated disk dropped, goes with it, and the next mount reads the backing
//!   directory afresh. Requests that arrive between the cut and the unmount (the
//!   kernel writing back at unmount) answer EIO: the disk is off.
//!
//! # Using it
//!
//! In a test: [`Mount::new`], run the program on the mount, stop it, [`Mount::cut`],
//! [`Mount::new`] on the same backing directory again. By hand: `lossyfs BACKING
//! MOUNTPOINT` runs in the foreground; `umount MOUNTPOINT` is a clean shutdown (all
//! synced), `kill -9` of lossyfs is a power cut (then `umount -l MOUNTPOINT`). Needs
//! root and /dev/fuse. Keeps regular files and directories only (no symlinks,
//! devices or xattrs).

mod fuse;
pub mod model;
mod mount;

pub use model::{Cut, CutReport, Unsynced};
pub use mount::Mount;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Mounts a lossyfs over `backing` at `mountpoint` and serves it on this thread
/// until it is unmounted (a clean unmount syncs everything first).
pub fn serve(backing: &Path, mountpoint: &Path) -> io::Result<()> {
    let fs = model::Fs::open(backing)?;
    let session = fuser::Session::new(
        fuse::LossyFs {
            fs: Arc::new(Mutex::new(fs)),
        },
        mountpoint,
        &fuse::config(),
    )?;
    session.run()
}
