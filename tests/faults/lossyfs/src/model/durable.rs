//! The durable side of the model: syncs, the only writers of the backing directory,
//! and the power cut. A file's sync writes its size and dirty pages into its backing
//! file; a directory's sync turns the difference between its entries and its durable
//! entries into links, unlinks and renames in the backing tree (names go before names
//! come); a cut forgets the volatile state. Must never touch the backing directory
//! for anything but a sync, a dead node's cleanup or a torn cut's kept pages.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use super::{
    disk_error, Body, Cut, CutReport, Fs, Ino, Kind, Result, Unsynced, HIDDEN, PAGE, ROOT, SECTOR,
};

/// A small deterministic generator for torn cuts (splitmix64): a seed replays a cut.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant for a test tool).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Fs {
    // ----- syncs: the only writers of the backing directory -----

    /// fsync / fdatasync of a file (its data, size, permission bits and owner) or of
    /// a directory (its entries, permission bits and owner). Not the node's own name
    /// in its parent: that needs the parent's fsync.
    pub fn fsync(&mut self, ino: Ino) -> Result<()> {
        self.check_on()?;
        match self.node(ino)?.kind() {
            Kind::File => self.fsync_file(ino),
            Kind::Dir => self.fsync_dir(ino),
        }
    }

    fn fsync_file(&mut self, ino: Ino) -> Result<()> {
        self.ensure_backing(ino)?;
        let f = self.file_body(ino)?;
        let (size, keep_below, durable_size) = (f.size, f.keep_below, f.durable_size);
        let pages: Vec<(u64, Box<[u8]>)> = f.pages.iter().map(|(i, p)| (*i, p.clone())).collect();
        let Some(path) = self.backing_path(ino) else {
            unreachable!("ensure_backing gave it one");
        };
        let file = self.backing_file(ino)?;
        // Truncated since the last sync: the backing bytes from there on are gone.
        let mut backing_len = durable_size;
        if keep_below < durable_size {
            file.set_len(keep_below)
                .map_err(|e| disk_error("truncate", &path, e))?;
            backing_len = keep_below;
        }
        if size != backing_len {
            file.set_len(size)
                .map_err(|e| disk_error("set_len", &path, e))?;
        }
        for (idx, page) in &pages {
            let start = idx * PAGE;
            if start >= size {
                break;
            }
            let n = (size - start).min(PAGE) as usize;
            file.write_all_at(&page[..n], start)
                .map_err(|e| disk_error("write", &path, e))?;
        }
        self.sync_owner(ino)?;
        let f = self.file_body_mut(ino)?;
        f.durable_size = size;
        f.keep_below = size;
        f.pages.clear();
        self.dirty_bytes -= pages.len() as u64 * PAGE;
        Ok(())
    }

    /// Writes permission bits and owner to the node's backing if they changed.
    fn sync_owner(&mut self, ino: Ino) -> Result<()> {
        let m = &self.node(ino)?.meta;
        if !m.owner_dirty {
            return Ok(());
        }
        let (perm, uid, gid) = (m.perm, m.uid, m.gid);
        let Some(path) = self.backing_path(ino) else {
            return Ok(());
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(u32::from(perm)))
            .map_err(|e| disk_error("chmod", &path, e))?;
        std::os::unix::fs::chown(&path, Some(uid), Some(gid))
            .map_err(|e| disk_error("chown", &path, e))?;
        self.node_mut(ino)?.meta.owner_dirty = false;
        Ok(())
    }

    fn fsync_dir(&mut self, dir: Ino) -> Result<()> {
        self.ensure_backing(dir)?;
        let d = self.dir_body(dir)?;
        let names: BTreeSet<OsString> = d.entries.keys().chain(d.durable.keys()).cloned().collect();
        let changed: Vec<(OsString, Option<Ino>, Option<Ino>)> = names
            .into_iter()
            .filter_map(|n| {
                let cur = d.entries.get(&n).copied();
                let dur = d.durable.get(&n).copied();
                (cur != dur).then_some((n, cur, dur))
            })
            .collect();
        // Names go before names come, so a name that now means another node is free
        // in the backing directory when the new node takes it.
        for (name, _, dur) in &changed {
            if let Some(old) = dur {
                self.unlink_durable(dir, name, *old)?;
            }
        }
        for (name, cur, _) in &changed {
            if let Some(new) = cur {
                self.link_durable(dir, name, *new)?;
            }
        }
        self.sync_owner(dir)
    }

    /// Makes `dir`'s durable entry `name -> ino` true in the backing directory.
    fn link_durable(&mut self, dir: Ino, name: &OsStr, ino: Ino) -> Result<()> {
        let Some(dir_path) = self.backing_path(dir) else {
            unreachable!("fsync_dir gave the directory a backing first");
        };
        let target = dir_path.join(name);
        match self.node(ino)?.kind() {
            Kind::File => {
                match self.backing_path(ino) {
                    Some(src) => {
                        fs::hard_link(&src, &target).map_err(|e| disk_error("link", &target, e))?
                    }
                    None => {
                        // Never synced: the name is durable, the data is not (a crash
                        // leaves an empty file, as on ext4).
                        let perm = self.node(ino)?.meta.perm;
                        let file = OpenOptions::new()
                            .read(true)
                            .write(true)
                            .create_new(true)
                            .mode(u32::from(perm))
                            .open(&target)
                            .map_err(|e| disk_error("create", &target, e))?;
                        self.file_body_mut(ino)?.backing = Some(file);
                    }
                }
                let n = self.node_mut(ino)?;
                n.durable_links.insert((dir, name.to_owned()));
                if std::mem::take(&mut n.orphan) {
                    let orphan = self.orphan_path(ino);
                    fs::remove_file(&orphan).map_err(|e| disk_error("unlink", &orphan, e))?;
                }
            }
            Kind::Dir => {
                let old_link = self.node(ino)?.durable_links.iter().next().cloned();
                if let Some((old_dir, old_name)) = old_link {
                    // A directory has one name: making the new one durable takes the
                    // old one away, as a journal commits a rename whole.
                    let Some(src) = self.backing_path(ino) else {
                        unreachable!("a durably linked directory has a backing path");
                    };
                    if dir_path.starts_with(&src) {
                        eprintln!(
                            "lossyfs: fsync of {} would move {} into itself (a durable \
                             directory cycle); refusing with EIO",
                            dir_path.display(),
                            src.display()
                        );
                        return Err(libc::EIO);
                    }
                    fs::rename(&src, &target).map_err(|e| disk_error("rename", &target, e))?;
                    self.dir_body_mut(old_dir)?.durable.remove(&old_name);
                    self.node_mut(ino)?.durable_links.clear();
                } else if self.node(ino)?.orphan {
                    let orphan = self.orphan_path(ino);
                    fs::rename(&orphan, &target).map_err(|e| disk_error("rename", &target, e))?;
                    self.node_mut(ino)?.orphan = false;
                } else {
                    let perm = self.node(ino)?.meta.perm;
                    fs::create_dir(&target).map_err(|e| disk_error("mkdir", &target, e))?;
                    fs::set_permissions(&target, fs::Permissions::from_mode(u32::from(perm)))
                        .map_err(|e| disk_error("chmod", &target, e))?;
                }
                self.node_mut(ino)?
                    .durable_links
                    .insert((dir, name.to_owned()));
            }
        }
        self.dir_body_mut(dir)?.durable.insert(name.to_owned(), ino);
        Ok(())
    }

    /// Removes `dir`'s durable entry `name -> ino` from the backing directory. A node
    /// still alive that loses its last durable name keeps its backing as an orphan;
    /// a dead one loses it (a dead directory's durable entries go first).
    fn unlink_durable(&mut self, dir: Ino, name: &OsStr, ino: Ino) -> Result<()> {
        let Some(dir_path) = self.backing_path(dir) else {
            unreachable!("a directory with durable entries has a backing path");
        };
        let path = dir_path.join(name);
        let n = self.node(ino)?;
        let live = n.live();
        match n.kind() {
            Kind::File => {
                let n = self.node_mut(ino)?;
                n.durable_links.remove(&(dir, name.to_owned()));
                let last = n.durable_links.is_empty() && !n.orphan;
                if last && live {
                    let orphan = self.orphan_path(ino);
                    fs::hard_link(&path, &orphan).map_err(|e| disk_error("link", &orphan, e))?;
                    self.node_mut(ino)?.orphan = true;
                }
                fs::remove_file(&path).map_err(|e| disk_error("unlink", &path, e))?;
                if last && !live {
                    self.nodes.remove(&ino);
                }
            }
            Kind::Dir if live => {
                let orphan = self.orphan_path(ino);
                fs::rename(&path, &orphan).map_err(|e| disk_error("rename", &orphan, e))?;
                let n = self.node_mut(ino)?;
                n.durable_links.clear();
                n.orphan = true;
            }
            Kind::Dir => {
                let children: Vec<(OsString, Ino)> = self
                    .dir_body(ino)?
                    .durable
                    .iter()
                    .map(|(n, i)| (n.clone(), *i))
                    .collect();
                for (child_name, child) in children {
                    self.unlink_durable(ino, &child_name, child)?;
                }
                fs::remove_dir(&path).map_err(|e| disk_error("rmdir", &path, e))?;
                self.nodes.remove(&ino);
            }
        }
        self.dir_body_mut(dir)?.durable.remove(name);
        Ok(())
    }

    /// The node's backing: its first durable name, or its orphan, or none yet.
    fn backing_path(&self, ino: Ino) -> Option<PathBuf> {
        if ino == ROOT {
            return Some(self.backing.clone());
        }
        let n = self.nodes.get(&ino)?;
        if let Some((dir, name)) = n.durable_links.iter().next() {
            return Some(self.backing_path(*dir)?.join(name));
        }
        n.orphan.then(|| self.orphan_path(ino))
    }

    fn orphan_path(&self, ino: Ino) -> PathBuf {
        self.backing.join(HIDDEN).join(ino.to_string())
    }

    /// Gives a node without a backing one under `.lossyfs`, to sync into.
    fn ensure_backing(&mut self, ino: Ino) -> Result<()> {
        if self.backing_path(ino).is_some() {
            return Ok(());
        }
        let orphan = self.orphan_path(ino);
        let perm = u32::from(self.node(ino)?.meta.perm);
        match self.node(ino)?.kind() {
            Kind::File => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(perm)
                    .open(&orphan)
                    .map_err(|e| disk_error("create", &orphan, e))?;
                self.file_body_mut(ino)?.backing = Some(file);
            }
            Kind::Dir => {
                fs::create_dir(&orphan).map_err(|e| disk_error("mkdir", &orphan, e))?;
                fs::set_permissions(&orphan, fs::Permissions::from_mode(perm))
                    .map_err(|e| disk_error("chmod", &orphan, e))?;
            }
        }
        self.node_mut(ino)?.orphan = true;
        Ok(())
    }

    /// The open backing file of a file node (opened on first use). A file read
    /// before it has a backing reads only dirty pages, so callers ask only below
    /// `keep_below`, which is 0 then.
    pub(super) fn backing_file(&mut self, ino: Ino) -> Result<&File> {
        if self.file_body(ino)?.backing.is_none() {
            let Some(path) = self.backing_path(ino) else {
                unreachable!("backing bytes were asked of a file that has none");
            };
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| disk_error("open", &path, e))?;
            self.file_body_mut(ino)?.backing = Some(file);
        }
        match &self.file_body(ino)?.backing {
            Some(f) => Ok(f),
            None => unreachable!("opened above"),
        }
    }

    /// Drops a node nothing reaches any more: its dirty pages can never be synced;
    /// without a durable name it goes entirely (with its orphan backing).
    pub(super) fn gc(&mut self, ino: Ino) {
        if ino == ROOT {
            return;
        }
        let Some(n) = self.nodes.get_mut(&ino) else {
            return;
        };
        if n.live() {
            return;
        }
        if let Body::File(f) = &mut n.body {
            self.dirty_bytes -= f.pages.len() as u64 * PAGE;
            f.pages.clear();
        }
        if !n.durable_links.is_empty() {
            // Its durable names stay in the backing directory until their
            // directories are fsynced.
            return;
        }
        if let Err(e) = self.drop_orphan(ino) {
            eprintln!("lossyfs: dropping inode {ino}: errno {e}");
        }
    }

    /// Removes a dead node without durable names, and its orphan backing if any.
    fn drop_orphan(&mut self, ino: Ino) -> Result<()> {
        if self.node(ino)?.orphan {
            let orphan = self.orphan_path(ino);
            match self.node(ino)?.kind() {
                Kind::File => {
                    fs::remove_file(&orphan).map_err(|e| disk_error("unlink", &orphan, e))?
                }
                Kind::Dir => {
                    let children: Vec<(OsString, Ino)> = self
                        .dir_body(ino)?
                        .durable
                        .iter()
                        .map(|(n, i)| (n.clone(), *i))
                        .collect();
                    for (name, child) in children {
                        self.unlink_durable(ino, &name, child)?;
                    }
                    fs::remove_dir(&orphan).map_err(|e| disk_error("rmdir", &orphan, e))?;
                }
            }
        }
        self.nodes.remove(&ino);
        Ok(())
    }

    // ----- the whole disk -----

    /// What is volatile now.
    pub fn unsynced(&self) -> Unsynced {
        let mut u = Unsynced::default();
        for n in self.nodes.values() {
            match &n.body {
                Body::File(f) => {
                    let resized = f.size != f.durable_size || f.keep_below != f.durable_size;
                    if resized || !f.pages.is_empty() {
                        u.files += 1;
                    }
                    if resized {
                        u.resized_files += 1;
                    }
                    u.dirty_bytes += f.pages.len() as u64 * PAGE;
                }
                Body::Dir(d) => {
                    let names: BTreeSet<&OsString> =
                        d.entries.keys().chain(d.durable.keys()).collect();
                    let differ = names
                        .into_iter()
                        .filter(|k| d.entries.get(*k) != d.durable.get(*k))
                        .count();
                    if differ > 0 {
                        u.dirs += 1;
                        u.entries += differ;
                    }
                }
            }
        }
        u
    }

    /// A clean shutdown (unmount): syncs every file still reachable, then every
    /// directory, so the backing directory holds the whole current tree.
    pub fn sync_all(&mut self) -> Result<()> {
        self.check_on()?;
        let mut files: Vec<Ino> = Vec::new();
        let mut dirs: Vec<Ino> = Vec::new();
        for (&ino, n) in &self.nodes {
            if n.nlink == 0 {
                continue;
            }
            match n.kind() {
                Kind::File => files.push(ino),
                Kind::Dir => dirs.push(ino),
            }
        }
        files.sort_unstable();
        dirs.sort_unstable();
        for ino in files {
            self.fsync_file(ino)?;
        }
        for ino in dirs {
            self.fsync_dir(ino)?;
        }
        Ok(())
    }

    /// The power goes off: the volatile state is gone (except what a torn cut lets
    /// through), and every later operation answers EIO. Open [`Fs::open`] on the
    /// backing directory again to power on.
    pub fn cut(&mut self, how: Cut) -> CutReport {
        let dropped = self.unsynced();
        let mut torn_bytes_kept = 0;
        if let (Cut::Torn { seed }, false) = (how, self.powered_off) {
            let mut rng = SplitMix(seed);
            let mut files: Vec<Ino> = self
                .nodes
                .iter()
                .filter(|(_, n)| matches!(&n.body, Body::File(f) if !f.pages.is_empty()))
                .map(|(i, _)| *i)
                .collect();
            files.sort_unstable();
            for ino in files {
                match self.tear(ino, &mut rng) {
                    Ok(kept) => torn_bytes_kept += kept,
                    Err(e) => eprintln!("lossyfs: torn cut of inode {ino}: errno {e}"),
                }
            }
        }
        self.powered_off = true;
        self.nodes.clear();
        self.dir_handles.clear();
        self.dirty_bytes = 0;
        CutReport {
            dropped,
            torn_bytes_kept,
        }
    }

    /// Lets a random prefix of the file's dirty pages inside its durable size reach
    /// the backing file: in ascending order, sector by sector, the number of sectors
    /// uniform from none to all (so the cut lands inside the dirty range far more
    /// often than at either end).
    fn tear(&mut self, ino: Ino, rng: &mut SplitMix) -> Result<u64> {
        let f = self.file_body(ino)?;
        let durable_size = f.durable_size;
        let pages: Vec<(u64, Box<[u8]>)> = f
            .pages
            .iter()
            .filter(|(i, _)| **i * PAGE < durable_size)
            .map(|(i, p)| (*i, p.clone()))
            .collect();
        let Some(path) = self.backing_path(ino) else {
            return Ok(0);
        };
        let page_bytes = |idx: u64| (durable_size - idx * PAGE).min(PAGE);
        let sectors: u64 = pages
            .iter()
            .map(|(i, _)| page_bytes(*i).div_ceil(SECTOR))
            .sum();
        let mut left = rng.below(sectors + 1) * SECTOR;
        let file = self.backing_file(ino)?;
        let mut kept = 0;
        for (idx, page) in &pages {
            if left == 0 {
                break;
            }
            let n = page_bytes(*idx).min(left);
            file.write_all_at(&page[..n as usize], idx * PAGE)
                .map_err(|e| disk_error("write", &path, e))?;
            kept += n;
            left = left.saturating_sub(PAGE);
        }
        Ok(kept)
    }
}
