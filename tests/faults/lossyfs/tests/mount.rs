//! lossyfs through the kernel: real syscalls, a shared writable mmap, msync, then a
//! cut and a fresh mount. Needs root and /dev/fuse (CI runs as root); without them
//! each test fails saying so, never passes silently.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use lossyfs::{Cut, Mount};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A backing directory and a mount point, removed at the end (the mount first: a
/// `Mount` unmounts when dropped).
struct Rig {
    dir: PathBuf,
    mount: Option<Mount>,
}

impl Rig {
    /// `setup` fills the backing directory (the durable state) before the mount.
    fn new(setup: impl FnOnce(&Path)) -> Rig {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("lossyfs-mount-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("backing")).unwrap();
        fs::create_dir_all(dir.join("mnt")).unwrap();
        setup(&dir.join("backing"));
        let mut rig = Rig { dir, mount: None };
        rig.mount();
        rig
    }

    fn mount(&mut self) {
        let m = Mount::new(&self.dir.join("backing"), &self.dir.join("mnt"))
            .unwrap_or_else(|e| panic!("{e}: these tests need root and /dev/fuse"));
        self.mount = Some(m);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join("mnt").join(name)
    }

    fn mounted(&self) -> &Mount {
        self.mount.as_ref().expect("mounted")
    }

    /// Cuts the power and mounts the disk again.
    fn cut(&mut self, how: Cut) -> lossyfs::CutReport {
        let report = self.mount.take().expect("mounted").cut(how).expect("cut");
        self.mount();
        report
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        drop(self.mount.take());
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn fsync_dir(path: &Path) {
    File::open(path).unwrap().sync_all().unwrap();
}

#[test]
fn writes_without_fsync_are_lost_and_synced_ones_kept() {
    let mut rig = Rig::new(|b| fs::write(b.join("old"), b"durable").unwrap());
    fs::write(rig.path("lost"), b"never synced").unwrap();
    let mut kept = File::create(rig.path("kept")).unwrap();
    kept.write_all(b"synced").unwrap();
    kept.sync_data().unwrap();
    drop(kept);
    OpenOptions::new()
        .write(true)
        .open(rig.path("old"))
        .unwrap()
        .write_all_at(b"DUR", 0)
        .unwrap();
    fsync_dir(&rig.path(""));
    // Read back while powered: the kernel's and lossyfs's caches both hold it.
    assert_eq!(fs::read(rig.path("old")).unwrap(), b"DURable");
    assert_eq!(fs::read(rig.path("lost")).unwrap(), b"never synced");

    let report = rig.cut(Cut::DropAll);
    assert_eq!(report.dropped.files, 2, "{report:?}");
    assert_eq!(fs::read(rig.path("kept")).unwrap(), b"synced");
    // Its name was made durable by the directory fsync, its data never was.
    assert_eq!(fs::read(rig.path("lost")).unwrap(), b"");
    assert_eq!(fs::read(rig.path("old")).unwrap(), b"durable");
}

#[test]
fn a_new_file_without_a_directory_fsync_is_gone() {
    let mut rig = Rig::new(|_| {});
    let mut f = File::create(rig.path("new")).unwrap();
    f.write_all(b"x").unwrap();
    f.sync_all().unwrap();
    drop(f);
    rig.cut(Cut::DropAll);
    assert!(!rig.path("new").exists());
}

#[test]
fn mmap_pages_are_durable_after_msync_and_lost_without() {
    const PAGE: usize = 4096;
    let mut rig = Rig::new(|b| fs::write(b.join("seg"), vec![0u8; 2 * PAGE]).unwrap());
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(rig.path("seg"))
        .unwrap();
    // SAFETY: a fresh shared mapping of a 2-page file nothing else maps or resizes;
    // unmapped below before the file is closed.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        let bytes = std::slice::from_raw_parts_mut(p.cast::<u8>(), 2 * PAGE);
        bytes[..6].copy_from_slice(b"synced");
        assert_eq!(libc::msync(p, PAGE, libc::MS_SYNC), 0);
        bytes[PAGE..PAGE + 4].copy_from_slice(b"lost");
        assert_eq!(libc::munmap(p, 2 * PAGE), 0);
    }
    // close(2) makes FUSE write the dirty page back: lossyfs holds it, unsynced.
    drop(file);
    let unsynced = rig.mounted().unsynced();
    assert_eq!(unsynced.dirty_bytes, PAGE as u64, "{unsynced:?}");
    rig.cut(Cut::DropAll);
    let got = fs::read(rig.path("seg")).unwrap();
    assert_eq!(&got[..6], b"synced");
    assert_eq!(&got[PAGE..PAGE + 4], b"\0\0\0\0");
}

#[test]
fn set_len_and_fallocate_are_durable_only_with_fdatasync() {
    let mut rig = Rig::new(|b| fs::write(b.join("f"), b"").unwrap());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(rig.path("f"))
        .unwrap();
    f.set_len(100).unwrap();
    // SAFETY: plain syscall on an fd we own.
    assert_eq!(unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, 8192) }, 0);
    assert_eq!(f.metadata().unwrap().len(), 8192);
    drop(f);
    rig.cut(Cut::DropAll);
    assert_eq!(fs::metadata(rig.path("f")).unwrap().len(), 0);

    let f = OpenOptions::new().write(true).open(rig.path("f")).unwrap();
    assert_eq!(unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, 8192) }, 0);
    f.write_all_at(b"end", 8189).unwrap();
    f.sync_data().unwrap();
    drop(f);
    rig.cut(Cut::DropAll);
    let got = fs::read(rig.path("f")).unwrap();
    assert_eq!(got.len(), 8192);
    assert_eq!(&got[8189..], b"end");
}

#[test]
fn rename_is_undone_without_the_directory_fsync_and_kept_with_it() {
    let mut rig = Rig::new(|b| {
        fs::create_dir(b.join("d")).unwrap();
        fs::write(b.join("d/snap"), b"old").unwrap();
    });
    let write_tmp = |rig: &Rig, data: &[u8]| {
        let mut f = File::create(rig.path("d/snap.tmp")).unwrap();
        f.write_all(data).unwrap();
        f.sync_all().unwrap();
    };
    write_tmp(&rig, b"new");
    fs::rename(rig.path("d/snap.tmp"), rig.path("d/snap")).unwrap();
    rig.cut(Cut::DropAll);
    assert_eq!(fs::read(rig.path("d/snap")).unwrap(), b"old");
    assert!(!rig.path("d/snap.tmp").exists());

    write_tmp(&rig, b"new");
    fs::rename(rig.path("d/snap.tmp"), rig.path("d/snap")).unwrap();
    fsync_dir(&rig.path("d"));
    rig.cut(Cut::DropAll);
    assert_eq!(fs::read(rig.path("d/snap")).unwrap(), b"new");
    assert!(!rig.path("d/snap.tmp").exists());
}

#[test]
fn an_unlink_is_undone_without_the_directory_fsync() {
    let mut rig = Rig::new(|b| fs::write(b.join("f"), b"back").unwrap());
    fs::remove_file(rig.path("f")).unwrap();
    assert!(!rig.path("f").exists());
    rig.cut(Cut::DropAll);
    assert_eq!(fs::read(rig.path("f")).unwrap(), b"back");
}

#[test]
fn a_clean_unmount_keeps_everything() {
    let mut rig = Rig::new(|_| {});
    fs::create_dir(rig.path("d")).unwrap();
    fs::write(rig.path("d/f"), b"all of it").unwrap();
    let names: Vec<_> = fs::read_dir(rig.path("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["f"]);
    rig.mount
        .take()
        .expect("mounted")
        .unmount()
        .expect("clean unmount");
    rig.mount();
    assert_eq!(fs::read(rig.path("d/f")).unwrap(), b"all of it");
}

#[test]
fn statfs_reports_the_backing_file_system() {
    let rig = Rig::new(|_| {});
    let path = std::ffi::CString::new(rig.path("").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: statvfs writes only into `st`; `path` is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut st) }, 0);
    assert!(
        st.f_blocks > 0 && st.f_bsize > 0,
        "{} {}",
        st.f_blocks,
        st.f_bsize
    );
}
