//! The model's rules, one scenario each: operate, cut the power, open the backing
//! directory again, look. No FUSE and no root needed.

use super::*;

use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh backing directory, removed on drop.
struct Disk(PathBuf);

impl Disk {
    fn new() -> Disk {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("lossyfs-model-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create backing dir");
        Disk(dir)
    }

    fn mount(&self) -> Fs {
        Fs::open(&self.0).expect("open backing dir")
    }

    /// Cuts the power and powers on again.
    fn cut(&self, fs: &mut Fs, how: Cut) -> (Fs, CutReport) {
        let report = fs.cut(how);
        (self.mount(), report)
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The inode at `path` ("/a/b"), or the errno of the failing lookup.
fn resolve(fs: &mut Fs, path: &str) -> Result<Ino> {
    let mut ino = ROOT;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        ino = fs.lookup(ino, os(part))?.ino;
    }
    Ok(ino)
}

fn content(fs: &mut Fs, path: &str) -> Result<Vec<u8>> {
    let ino = resolve(fs, path)?;
    let size = fs.getattr(ino)?.size;
    fs.read(ino, 0, size as u32)
}

fn new_file(fs: &mut Fs, parent: Ino, name: &str) -> Ino {
    fs.create(parent, os(name), 0o644, 0, 0)
        .expect("create")
        .ino
}

#[test]
fn a_write_without_fsync_is_lost_and_the_new_name_too() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.write(f, 0, b"hello").unwrap();
    assert_eq!(content(&mut fs, "/a").unwrap(), b"hello");
    let (mut fs, report) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(report.dropped.files, 1);
    assert_eq!(report.dropped.dirs, 1);
    assert_eq!(resolve(&mut fs, "/a"), Err(libc::ENOENT));
}

#[test]
fn fsync_of_a_new_file_keeps_its_data_but_not_its_name() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.write(f, 0, b"hello").unwrap();
    fs.fsync(f).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(resolve(&mut fs, "/a"), Err(libc::ENOENT));
    assert!(
        fs::read_dir(disk.0.join(HIDDEN)).unwrap().next().is_none(),
        "the orphan's backing is cleaned at power-on"
    );
}

#[test]
fn fsync_of_the_file_and_of_its_directory_keeps_both() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.write(f, 0, b"hello").unwrap();
    fs.fsync(f).unwrap();
    fs.fsync(ROOT).unwrap();
    assert!(fs.unsynced().is_empty(), "{:?}", fs.unsynced());
    let (mut fs, report) = disk.cut(&mut fs, Cut::DropAll);
    assert!(report.dropped.is_empty());
    assert_eq!(content(&mut fs, "/a").unwrap(), b"hello");
    assert_eq!(fs::read(disk.0.join("a")).unwrap(), b"hello");
}

#[test]
fn a_durable_name_without_fsynced_data_is_an_empty_file() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.write(f, 0, b"hello").unwrap();
    fs.fsync(ROOT).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/a").unwrap(), b"");
}

#[test]
fn an_unsynced_overwrite_reverts_to_the_synced_bytes() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"0123456789").unwrap();
    let mut fs = disk.mount();
    let f = resolve(&mut fs, "/a").unwrap();
    fs.write(f, 2, b"xy").unwrap();
    fs.write(f, 10, b"tail").unwrap();
    assert_eq!(content(&mut fs, "/a").unwrap(), b"01xy456789tail");
    let (mut fs, report) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(report.dropped.resized_files, 1);
    assert_eq!(content(&mut fs, "/a").unwrap(), b"0123456789");
}

#[test]
fn fdatasync_after_writes_at_many_offsets_keeps_all_of_them() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.fsync(ROOT).unwrap();
    // Across page boundaries, with a gap that must read as zeros.
    fs.write(f, PAGE - 3, b"abcdef").unwrap();
    fs.write(f, 3 * PAGE + 1, b"z").unwrap();
    fs.fsync(f).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    let got = content(&mut fs, "/a").unwrap();
    let mut want = vec![0u8; (3 * PAGE + 2) as usize];
    want[(PAGE - 3) as usize..(PAGE + 3) as usize].copy_from_slice(b"abcdef");
    want[(3 * PAGE + 1) as usize] = b'z';
    assert_eq!(got, want);
}

#[test]
fn truncate_and_extension_are_volatile_until_fsync() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"0123456789").unwrap();
    let mut fs = disk.mount();
    let f = resolve(&mut fs, "/a").unwrap();
    fs.set_size(f, 4).unwrap();
    fs.set_size(f, 8).unwrap();
    // Truncated bytes do not come back when the file grows again.
    assert_eq!(content(&mut fs, "/a").unwrap(), b"0123\0\0\0\0");
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/a").unwrap(), b"0123456789");

    let f = resolve(&mut fs, "/a").unwrap();
    fs.set_size(f, 4).unwrap();
    fs.set_size(f, 8).unwrap();
    fs.fsync(f).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/a").unwrap(), b"0123\0\0\0\0");
}

#[test]
fn a_truncate_inside_a_dirty_page_zeroes_its_tail() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.write(f, 0, b"abcdefgh").unwrap();
    fs.set_size(f, 3).unwrap();
    fs.set_size(f, 6).unwrap();
    assert_eq!(content(&mut fs, "/a").unwrap(), b"abc\0\0\0");
}

#[test]
fn fallocate_extends_the_size_only_durably_after_fsync() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.fsync(f).unwrap();
    fs.fsync(ROOT).unwrap();
    fs.fallocate(f, 0, 3 * PAGE, 0).unwrap();
    assert_eq!(fs.getattr(f).unwrap().size, 3 * PAGE);
    fs.fallocate(f, 0, 8 * PAGE, libc::FALLOC_FL_KEEP_SIZE)
        .unwrap();
    assert_eq!(fs.getattr(f).unwrap().size, 3 * PAGE);
    let (mut fs, report) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(report.dropped.resized_files, 1);
    let f = resolve(&mut fs, "/a").unwrap();
    assert_eq!(fs.getattr(f).unwrap().size, 0);

    fs.fallocate(f, 0, 3 * PAGE, 0).unwrap();
    fs.fsync(f).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(
        content(&mut fs, "/a").unwrap(),
        vec![0u8; 3 * PAGE as usize]
    );
}

#[test]
fn fallocate_zero_range_and_punch_hole_write_zeros_and_odd_modes_are_refused() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"0123456789").unwrap();
    let mut fs = disk.mount();
    let f = resolve(&mut fs, "/a").unwrap();
    let punch = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    fs.fallocate(f, 2, 2, punch).unwrap();
    fs.fallocate(f, 8, 4, libc::FALLOC_FL_ZERO_RANGE).unwrap();
    let want = [&b"01"[..], &[0; 2], b"4567", &[0; 4]].concat();
    assert_eq!(content(&mut fs, "/a").unwrap(), want);
    assert_eq!(
        fs.fallocate(f, 0, 1, libc::FALLOC_FL_PUNCH_HOLE),
        Err(libc::EOPNOTSUPP)
    );
    assert_eq!(
        fs.fallocate(f, 0, 1, libc::FALLOC_FL_COLLAPSE_RANGE),
        Err(libc::EOPNOTSUPP)
    );
}

#[test]
fn a_rename_without_fsync_of_the_directory_is_undone() {
    let disk = Disk::new();
    fs::write(disk.0.join("tmp"), b"new").unwrap();
    fs::write(disk.0.join("target"), b"old").unwrap();
    let mut fs = disk.mount();
    fs.rename(ROOT, os("tmp"), ROOT, os("target"), false)
        .unwrap();
    assert_eq!(content(&mut fs, "/target").unwrap(), b"new");
    assert_eq!(resolve(&mut fs, "/tmp"), Err(libc::ENOENT));
    let (mut fs, report) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(report.dropped.entries, 2);
    assert_eq!(content(&mut fs, "/target").unwrap(), b"old");
    assert_eq!(content(&mut fs, "/tmp").unwrap(), b"new");
}

#[test]
fn a_rename_with_fsync_of_the_directory_is_kept_with_the_synced_data() {
    let disk = Disk::new();
    fs::write(disk.0.join("target"), b"old").unwrap();
    let mut fs = disk.mount();
    // The snapshot pattern: write a temp file, fsync it, rename, fsync the directory.
    let f = new_file(&mut fs, ROOT, "target.tmp");
    fs.write(f, 0, b"new").unwrap();
    fs.fsync(f).unwrap();
    fs.rename(ROOT, os("target.tmp"), ROOT, os("target"), false)
        .unwrap();
    fs.fsync(ROOT).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/target").unwrap(), b"new");
    assert_eq!(resolve(&mut fs, "/target.tmp"), Err(libc::ENOENT));
}

#[test]
fn data_written_after_a_durable_rename_still_needs_its_own_fsync() {
    let disk = Disk::new();
    fs::write(disk.0.join("spare"), b"").unwrap();
    let mut fs = disk.mount();
    let f = resolve(&mut fs, "/spare").unwrap();
    fs.rename(ROOT, os("spare"), ROOT, os("log.1"), false)
        .unwrap();
    fs.write(f, 0, b"record").unwrap();
    fs.fsync(ROOT).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/log.1").unwrap(), b"");
    assert_eq!(resolve(&mut fs, "/spare"), Err(libc::ENOENT));
}

#[test]
fn rename_no_replace_refuses_an_existing_name() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"a").unwrap();
    fs::write(disk.0.join("b"), b"b").unwrap();
    let mut fs = disk.mount();
    assert_eq!(
        fs.rename(ROOT, os("a"), ROOT, os("b"), true),
        Err(libc::EEXIST)
    );
}

#[test]
fn an_unlink_without_fsync_of_the_directory_comes_back() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"kept").unwrap();
    let mut fs = disk.mount();
    fs.unlink(ROOT, os("a")).unwrap();
    assert_eq!(resolve(&mut fs, "/a"), Err(libc::ENOENT));
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/a").unwrap(), b"kept");

    fs.unlink(ROOT, os("a")).unwrap();
    fs.fsync(ROOT).unwrap();
    assert!(!disk.0.join("a").exists());
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(resolve(&mut fs, "/a"), Err(libc::ENOENT));
}

#[test]
fn an_open_unlinked_file_synced_after_a_durable_unlink_stays_gone() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"x").unwrap();
    let mut fs = disk.mount();
    let f = resolve(&mut fs, "/a").unwrap();
    fs.open_file(f).unwrap();
    fs.unlink(ROOT, os("a")).unwrap();
    fs.fsync(ROOT).unwrap();
    fs.write(f, 0, b"still writing").unwrap();
    fs.fsync(f).unwrap();
    assert_eq!(fs.read(f, 0, 100).unwrap(), b"still writing");
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(resolve(&mut fs, "/a"), Err(libc::ENOENT));
}

#[test]
fn mkdir_needs_the_parent_fsync_and_its_entries_need_its_own() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let d = fs.mkdir(ROOT, os("d"), 0o755, 0, 0).unwrap().ino;
    let f = new_file(&mut fs, d, "f");
    fs.write(f, 0, b"data").unwrap();
    fs.fsync(f).unwrap();
    fs.fsync(d).unwrap();
    // The directory's own entry in the root is not durable: all of it is lost.
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(resolve(&mut fs, "/d"), Err(libc::ENOENT));

    let d = fs.mkdir(ROOT, os("d"), 0o755, 0, 0).unwrap().ino;
    let f = new_file(&mut fs, d, "f");
    fs.write(f, 0, b"data").unwrap();
    fs.fsync(f).unwrap();
    fs.fsync(d).unwrap();
    fs.fsync(ROOT).unwrap();
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/d/f").unwrap(), b"data");
}

#[test]
fn a_directory_moved_into_another_is_durable_with_the_new_parent_fsync() {
    let disk = Disk::new();
    fs::create_dir_all(disk.0.join("a/sub")).unwrap();
    fs::write(disk.0.join("a/sub/f"), b"f").unwrap();
    fs::create_dir(disk.0.join("b")).unwrap();
    let mut fs = disk.mount();
    let a = resolve(&mut fs, "/a").unwrap();
    let b = resolve(&mut fs, "/b").unwrap();
    fs.rename(a, os("sub"), b, os("moved"), false).unwrap();
    fs.fsync(b).unwrap();
    // Only the destination was fsynced; the move is durable as a whole.
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/b/moved/f").unwrap(), b"f");
    assert_eq!(resolve(&mut fs, "/a/sub"), Err(libc::ENOENT));
}

#[test]
fn a_directory_moved_out_with_only_the_old_parent_fsynced_is_lost() {
    let disk = Disk::new();
    fs::create_dir_all(disk.0.join("a/sub")).unwrap();
    fs::write(disk.0.join("a/sub/f"), b"f").unwrap();
    fs::create_dir(disk.0.join("b")).unwrap();
    let mut fs = disk.mount();
    let a = resolve(&mut fs, "/a").unwrap();
    let b = resolve(&mut fs, "/b").unwrap();
    fs.rename(a, os("sub"), b, os("moved"), false).unwrap();
    fs.fsync(a).unwrap();
    // Still readable through its current name while the power is on.
    assert_eq!(content(&mut fs, "/b/moved/f").unwrap(), b"f");
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(resolve(&mut fs, "/a/sub"), Err(libc::ENOENT));
    assert_eq!(resolve(&mut fs, "/b/moved"), Err(libc::ENOENT));
}

#[test]
fn rmdir_of_a_directory_with_durable_entries_is_durable_with_the_parent_fsync() {
    let disk = Disk::new();
    fs::create_dir(disk.0.join("d")).unwrap();
    fs::write(disk.0.join("d/f"), b"f").unwrap();
    let mut fs = disk.mount();
    let d = resolve(&mut fs, "/d").unwrap();
    fs.unlink(d, os("f")).unwrap();
    fs.rmdir(ROOT, os("d")).unwrap();
    // The kernel lets go of it too: the directory is dead, not just unnamed.
    fs.forget(d, 1);
    fs.fsync(ROOT).unwrap();
    assert!(!disk.0.join("d").exists());
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(resolve(&mut fs, "/d"), Err(libc::ENOENT));
}

#[test]
fn rmdir_refuses_a_directory_with_entries() {
    let disk = Disk::new();
    fs::create_dir(disk.0.join("d")).unwrap();
    fs::write(disk.0.join("d/f"), b"f").unwrap();
    let mut fs = disk.mount();
    assert_eq!(fs.rmdir(ROOT, os("d")), Err(libc::ENOTEMPTY));
    let d = resolve(&mut fs, "/d").unwrap();
    assert_eq!(
        fs.rename(ROOT, os("d"), d, os("x"), false),
        Err(libc::EINVAL),
        "a directory cannot move below itself"
    );
}

#[test]
fn hard_links_share_data_and_each_name_needs_its_directory_fsync() {
    let disk = Disk::new();
    fs::write(disk.0.join("a"), b"one").unwrap();
    let mut fs = disk.mount();
    let f = resolve(&mut fs, "/a").unwrap();
    fs.link(f, ROOT, os("b")).unwrap();
    fs.write(f, 0, b"two").unwrap();
    fs.fsync(f).unwrap();
    assert_eq!(content(&mut fs, "/b").unwrap(), b"two");
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/a").unwrap(), b"two");
    assert_eq!(resolve(&mut fs, "/b"), Err(libc::ENOENT));
}

#[test]
fn a_clean_sync_all_keeps_everything() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let d = fs.mkdir(ROOT, os("d"), 0o755, 0, 0).unwrap().ino;
    let f = new_file(&mut fs, d, "f");
    fs.write(f, 5, b"data").unwrap();
    fs.sync_all().unwrap();
    assert!(fs.unsynced().is_empty());
    let (mut fs, _) = disk.cut(&mut fs, Cut::DropAll);
    assert_eq!(content(&mut fs, "/d/f").unwrap(), b"\0\0\0\0\0data");
}

#[test]
fn after_the_cut_everything_answers_eio() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    let f = new_file(&mut fs, ROOT, "a");
    fs.cut(Cut::DropAll);
    assert_eq!(fs.write(f, 0, b"x"), Err(libc::EIO));
    assert_eq!(fs.fsync(f), Err(libc::EIO));
    assert_eq!(fs.getattr(ROOT), Err(libc::EIO));
    assert_eq!(fs.lookup(ROOT, os("a")), Err(libc::EIO));
}

#[test]
fn a_torn_cut_keeps_a_prefix_of_the_dirty_pages_in_order() {
    let pages = 16u64;
    let mut seen = BTreeSet::new();
    for seed in 0..40 {
        let disk = Disk::new();
        fs::write(disk.0.join("log"), vec![0u8; (pages * PAGE) as usize]).unwrap();
        let mut fs = disk.mount();
        let f = resolve(&mut fs, "/log").unwrap();
        fs.write(f, 0, &vec![0xabu8; (pages * PAGE) as usize])
            .unwrap();
        // Past the durable size: a size change the cut drops, so never kept.
        fs.write(f, pages * PAGE, b"beyond").unwrap();
        let (mut fs, report) = disk.cut(&mut fs, Cut::Torn { seed });
        let got = content(&mut fs, "/log").unwrap();
        assert_eq!(got.len() as u64, pages * PAGE);
        let kept = got.iter().take_while(|b| **b == 0xab).count() as u64;
        assert!(
            got[kept as usize..].iter().all(|b| *b == 0),
            "seed {seed}: a byte after the first lost one was kept"
        );
        assert_eq!(kept % SECTOR, 0, "seed {seed}: tears at sector boundaries");
        assert_eq!(kept, report.torn_bytes_kept, "seed {seed}");
        seen.insert(kept);
        // The same seed tears the same way.
        let disk2 = Disk::new();
        fs::write(disk2.0.join("log"), vec![0u8; (pages * PAGE) as usize]).unwrap();
        let mut fs2 = disk2.mount();
        let f2 = resolve(&mut fs2, "/log").unwrap();
        fs2.write(f2, 0, &vec![0xabu8; (pages * PAGE) as usize])
            .unwrap();
        let (_, report2) = disk2.cut(&mut fs2, Cut::Torn { seed });
        assert_eq!(report2.torn_bytes_kept, kept, "seed {seed} replays");
    }
    assert!(
        seen.len() >= 10,
        "40 seeds tore in only {} ways",
        seen.len()
    );
}

#[test]
fn readdir_lists_the_current_entries_with_dot_and_dotdot() {
    let disk = Disk::new();
    fs::write(disk.0.join("durable"), b"").unwrap();
    let mut fs = disk.mount();
    new_file(&mut fs, ROOT, "volatile");
    let fh = fs.opendir(ROOT).unwrap();
    let names: Vec<OsString> = fs
        .readdir(fh, 0)
        .unwrap()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, [".", "..", "durable", "volatile"]);
    assert_eq!(fs.readdir(fh, 3).unwrap().len(), 1);
    fs.releasedir(fh);
    assert_eq!(fs.readdir(fh, 0).map(|_| ()), Err(libc::EBADF));
}

#[test]
fn the_hidden_name_is_reserved_in_the_root() {
    let disk = Disk::new();
    let mut fs = disk.mount();
    assert_eq!(
        fs.create(ROOT, os(HIDDEN), 0o644, 0, 0).map(|_| ()),
        Err(libc::EPERM)
    );
    assert_eq!(resolve(&mut fs, &format!("/{HIDDEN}")), Err(libc::ENOENT));
}

#[test]
fn power_on_refuses_what_it_cannot_keep() {
    let disk = Disk::new();
    std::os::unix::fs::symlink("x", disk.0.join("link")).unwrap();
    let err = Fs::open(&disk.0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}
