//! The simulated disk: the volatile state every operation changes, the durable state
//! only a sync changes, and the power cut that keeps the durable state alone.
//!
//! The durable state *is* the backing directory: a sync writes it there, nothing else
//! does, so after a cut the backing directory is exactly what the disk held. The
//! volatile state lives in this struct: per file, its size and its dirty pages over
//! the backing bytes; per directory, its entries (`name -> inode`) next to the entries
//! its last fsync made durable. The rules are the crate's `//!` block.
//!
//! Backing layout: a durable entry is a real name in the backing tree (files as hard
//! links of one backing inode, so a renamed file keeps its synced bytes). A node whose
//! data is durable but that no durable entry names (a new file fsynced before its
//! directory, or a live file whose last durable name went) keeps its backing under
//! `<backing>/.lossyfs/<inode number>`; [`Fs::open`] deletes that directory, which is
//! what a crash does to such a file (ext4 calls it orphan cleanup). The root's backing
//! is the backing directory itself, durable by definition.
//!
//! The operations here change only the volatile state; syncs, the cut and the
//! backing layout's bookkeeping are in `durable.rs`.
//!
//! Must never: write to the backing directory outside a sync (or a torn cut's kept
//! pages), or answer anything but EIO once the power is cut.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// An inode number as the kernel sees it (FUSE's root is 1).
pub type Ino = u64;
/// The root directory's inode number.
pub const ROOT: Ino = 1;
/// Bytes of a dirty page: the unit the volatile state tracks writes in, and the
/// kernel's page size on x86-64, so an mmap writeback is whole pages.
pub const PAGE: u64 = 4096;
/// The unit a torn page is cut at: the sector size a disk writes atomically.
pub const SECTOR: u64 = 512;
/// The backing directory's entry for nodes no durable name holds. Reserved: the
/// root of the mount refuses to create this name.
pub const HIDDEN: &str = ".lossyfs";
/// Dirty bytes held in memory at most, over all files; a write beyond it fails with
/// ENOSPC (and says so on stderr) rather than grow without bound. A real page cache
/// would write back instead; no workload this tool runs comes near it.
pub const UNSYNCED_BYTES_MAX: u64 = 1 << 30;
/// Longest name, as ext4's.
const NAME_MAX: usize = 255;

/// An errno value, as FUSE replies carry them.
pub type Errno = i32;
/// What every operation returns.
pub type Result<T> = std::result::Result<T, Errno>;

/// What a node is; nothing else (symlinks, devices) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// The attributes of a node, as `stat` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    pub nlink: u32,
    /// Permission bits (`mode & 0o7777`).
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
}

/// How the power goes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Everything not made durable by a sync is lost.
    DropAll,
    /// As `DropAll`, except that each file's dirty pages inside its durable size reach
    /// the disk in ascending order up to a random 512-byte sector (uniform over none
    /// to all of them): the disk was in the middle of an ordered writeback.
    /// Namespace and size changes are still all lost.
    Torn { seed: u64 },
}

/// What the volatile state holds that the durable state does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsynced {
    /// Files with dirty pages or a size change not yet synced.
    pub files: usize,
    /// Bytes of dirty pages (whole pages).
    pub dirty_bytes: u64,
    /// Files whose size (truncate, extension, fallocate) is not yet synced.
    pub resized_files: usize,
    /// Directories whose entries differ from their durable entries.
    pub dirs: usize,
    /// Names added, removed or pointed elsewhere in those directories.
    pub entries: usize,
}

impl Unsynced {
    /// Whether nothing at all is unsynced.
    pub fn is_empty(&self) -> bool {
        self.files == 0 && self.dirs == 0
    }
}

/// What a power cut dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CutReport {
    /// The volatile state just before the cut.
    pub dropped: Unsynced,
    /// Bytes of dirty pages a [`Cut::Torn`] let reach the disk anyway.
    pub torn_bytes_kept: u64,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: Ino,
    pub kind: Kind,
    pub name: OsString,
}

/// What `statfs` reports: the backing file system's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statfs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

#[derive(Debug)]
struct Meta {
    perm: u16,
    uid: u32,
    gid: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
    /// Permission bits or owner changed since the last sync of this node.
    owner_dirty: bool,
}

#[derive(Debug)]
struct FileBody {
    /// The current size.
    size: u64,
    /// The backing file's size (0 while there is none).
    durable_size: u64,
    /// Backing bytes below this offset show through where no page is dirty; above it
    /// the file reads zeros (it was truncated there since the last sync). Invariant:
    /// `keep_below <= min(size, durable_size)`.
    keep_below: u64,
    /// Dirty pages by index, each the page's whole current content; bytes at or past
    /// `size` are zero.
    pages: BTreeMap<u64, Box<[u8]>>,
    /// The backing file, once opened. A backing inode never changes for a node (names
    /// come and go as hard links and renames), so the handle stays valid.
    backing: Option<File>,
}

#[derive(Debug)]
struct DirBody {
    /// The current entries.
    entries: BTreeMap<OsString, Ino>,
    /// The entries the last fsync of this directory made durable; they are the names
    /// in its backing directory.
    durable: BTreeMap<OsString, Ino>,
    /// The current parent (the root is its own).
    parent: Ino,
}

#[derive(Debug)]
enum Body {
    File(FileBody),
    Dir(DirBody),
}

#[derive(Debug)]
struct Node {
    meta: Meta,
    body: Body,
    /// Current names: a file's hard links; a directory's 1, or 0 once removed.
    nlink: u32,
    /// Lookups the kernel holds (FUSE's `nlookup`): the inode number stays valid
    /// until it forgets them.
    lookups: u64,
    /// Open file handles.
    opens: u32,
    /// The `(directory, name)` pairs whose durable entries name this node. Invariant:
    /// `(d, n)` is here exactly when `d`'s durable entries map `n` to this node. A
    /// directory has at most one.
    durable_links: BTreeSet<(Ino, OsString)>,
    /// Its backing is `<backing>/.lossyfs/<ino>` (no durable name holds it).
    orphan: bool,
}

impl Node {
    fn kind(&self) -> Kind {
        match self.body {
            Body::File(_) => Kind::File,
            Body::Dir(_) => Kind::Dir,
        }
    }

    /// Whether anything still reaches it: a current name, the kernel or a handle.
    fn live(&self) -> bool {
        self.nlink > 0 || self.lookups > 0 || self.opens > 0
    }
}

/// The file system: see the module's `//!` block.
#[derive(Debug)]
pub struct Fs {
    backing: PathBuf,
    nodes: HashMap<Ino, Node>,
    next_ino: Ino,
    dir_handles: HashMap<u64, Vec<DirEntry>>,
    next_fh: u64,
    /// Bytes of dirty pages over all files (`UNSYNCED_BYTES_MAX` bounds it).
    dirty_bytes: u64,
    powered_off: bool,
}

/// Logs a backing-directory failure (the simulated disk failed) and answers EIO.
fn disk_error(what: &str, path: &Path, e: io::Error) -> Errno {
    eprintln!("lossyfs: backing {what} {}: {e}", path.display());
    libc::EIO
}

fn now() -> SystemTime {
    SystemTime::now()
}

impl Fs {
    /// The file system over `backing` as the disk holds it: every file and directory
    /// in it (hard links kept as one node), nothing volatile. Deletes
    /// `<backing>/.lossyfs`, whose nodes had no durable name (see the module's `//!`).
    pub fn open(backing: &Path) -> io::Result<Fs> {
        let backing = backing.canonicalize()?;
        let md = fs::metadata(&backing)?;
        if !md.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", backing.display()),
            ));
        }
        let hidden = backing.join(HIDDEN);
        match fs::remove_dir_all(&hidden) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        fs::create_dir(&hidden)?;
        let mut me = Fs {
            backing: backing.clone(),
            nodes: HashMap::new(),
            next_ino: ROOT + 1,
            dir_handles: HashMap::new(),
            next_fh: 1,
            dirty_bytes: 0,
            powered_off: false,
        };
        let root = Node {
            meta: meta_from(&md),
            body: Body::Dir(DirBody {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
                parent: ROOT,
            }),
            nlink: 1,
            lookups: 0,
            opens: 0,
            durable_links: BTreeSet::new(),
            orphan: false,
        };
        me.nodes.insert(ROOT, root);
        let mut seen = HashMap::new();
        me.load_dir(ROOT, &backing, &mut seen)?;
        Ok(me)
    }

    /// Adds the backing directory `path`'s entries under `dir`, recursively.
    fn load_dir(
        &mut self,
        dir: Ino,
        path: &Path,
        seen: &mut HashMap<(u64, u64), Ino>,
    ) -> io::Result<()> {
        let mut listed = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            let name = entry.file_name();
            if dir == ROOT && name == HIDDEN {
                continue;
            }
            listed.push((name, entry.path()));
        }
        listed.sort();
        for (name, p) in listed {
            let md = fs::symlink_metadata(&p)?;
            let ft = md.file_type();
            let ino = if ft.is_file() {
                if let Some(&ino) = seen.get(&(md.dev(), md.ino())) {
                    if let Some(n) = self.nodes.get_mut(&ino) {
                        n.nlink += 1;
                    }
                    ino
                } else {
                    let ino = self.alloc_ino();
                    let body = Body::File(FileBody {
                        size: md.len(),
                        durable_size: md.len(),
                        keep_below: md.len(),
                        pages: BTreeMap::new(),
                        backing: None,
                    });
                    self.nodes.insert(ino, new_node(meta_from(&md), body));
                    seen.insert((md.dev(), md.ino()), ino);
                    ino
                }
            } else if ft.is_dir() {
                let ino = self.alloc_ino();
                let body = Body::Dir(DirBody {
                    entries: BTreeMap::new(),
                    durable: BTreeMap::new(),
                    parent: dir,
                });
                self.nodes.insert(ino, new_node(meta_from(&md), body));
                self.load_dir(ino, &p, seen)?;
                ino
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "lossyfs keeps only files and directories; {} is neither",
                        p.display()
                    ),
                ));
            };
            if let Some(n) = self.nodes.get_mut(&ino) {
                n.durable_links.insert((dir, name.clone()));
            }
            let d = self
                .dir_body_mut(dir)
                .map_err(io::Error::from_raw_os_error)?;
            d.entries.insert(name.clone(), ino);
            d.durable.insert(name, ino);
        }
        Ok(())
    }

    fn alloc_ino(&mut self) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    // ----- lookups of the in-memory state -----

    fn check_on(&self) -> Result<()> {
        if self.powered_off {
            Err(libc::EIO)
        } else {
            Ok(())
        }
    }

    fn node(&self, ino: Ino) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn node_mut(&mut self, ino: Ino) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn dir_body(&self, ino: Ino) -> Result<&DirBody> {
        match &self.node(ino)?.body {
            Body::Dir(d) => Ok(d),
            Body::File(_) => Err(libc::ENOTDIR),
        }
    }

    fn dir_body_mut(&mut self, ino: Ino) -> Result<&mut DirBody> {
        match &mut self.node_mut(ino)?.body {
            Body::Dir(d) => Ok(d),
            Body::File(_) => Err(libc::ENOTDIR),
        }
    }

    fn file_body(&self, ino: Ino) -> Result<&FileBody> {
        match &self.node(ino)?.body {
            Body::File(f) => Ok(f),
            Body::Dir(_) => Err(libc::EISDIR),
        }
    }

    fn file_body_mut(&mut self, ino: Ino) -> Result<&mut FileBody> {
        match &mut self.node_mut(ino)?.body {
            Body::File(f) => Ok(f),
            Body::Dir(_) => Err(libc::EISDIR),
        }
    }

    fn entry(&self, parent: Ino, name: &OsStr) -> Result<Ino> {
        self.dir_body(parent)?
            .entries
            .get(name)
            .copied()
            .ok_or(libc::ENOENT)
    }

    /// A name may be created in `parent`: a live directory, a valid name.
    fn check_new_name(&self, parent: Ino, name: &OsStr) -> Result<()> {
        let b = name.as_bytes();
        if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') || b.contains(&0) {
            return Err(libc::EINVAL);
        }
        if b.len() > NAME_MAX {
            return Err(libc::ENAMETOOLONG);
        }
        if parent == ROOT && name == HIDDEN {
            return Err(libc::EPERM);
        }
        let p = self.node(parent)?;
        if p.kind() != Kind::Dir {
            return Err(libc::ENOTDIR);
        }
        if p.nlink == 0 {
            return Err(libc::ENOENT);
        }
        Ok(())
    }

    fn touch_dir(&mut self, dir: Ino) {
        if let Some(n) = self.nodes.get_mut(&dir) {
            let t = now();
            n.meta.mtime = t;
            n.meta.ctime = t;
        }
    }

    // ----- the operations FUSE asks for -----

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        self.check_on()?;
        let n = self.node(ino)?;
        let (kind, size, nlink) = match &n.body {
            Body::File(f) => (Kind::File, f.size, n.nlink),
            // "." and the entry in the parent; subdirectories' ".." are not counted,
            // which `find` and friends accept (btrfs reports 1 for every directory).
            Body::Dir(_) => (Kind::Dir, 0, if n.nlink == 0 { 0 } else { 2 }),
        };
        Ok(Attr {
            ino,
            kind,
            size,
            nlink,
            perm: n.meta.perm,
            uid: n.meta.uid,
            gid: n.meta.gid,
            atime: n.meta.atime,
            mtime: n.meta.mtime,
            ctime: n.meta.ctime,
        })
    }

    /// Looks `name` up in `parent`; the kernel now holds one more lookup of it.
    pub fn lookup(&mut self, parent: Ino, name: &OsStr) -> Result<Attr> {
        self.check_on()?;
        let ino = self.entry(parent, name)?;
        self.node_mut(ino)?.lookups += 1;
        self.getattr(ino)
    }

    /// The kernel dropped `n` lookups of `ino`.
    pub fn forget(&mut self, ino: Ino, n: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
        }
        self.gc(ino);
    }

    /// Creates an empty file (one lookup held by the kernel).
    pub fn create(
        &mut self,
        parent: Ino,
        name: &OsStr,
        perm: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Attr> {
        let body = Body::File(FileBody {
            size: 0,
            durable_size: 0,
            keep_below: 0,
            pages: BTreeMap::new(),
            backing: None,
        });
        self.add_node(parent, name, body, perm, uid, gid)
    }

    /// Creates an empty directory (one lookup held by the kernel).
    pub fn mkdir(
        &mut self,
        parent: Ino,
        name: &OsStr,
        perm: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Attr> {
        let body = Body::Dir(DirBody {
            entries: BTreeMap::new(),
            durable: BTreeMap::new(),
            parent,
        });
        self.add_node(parent, name, body, perm, uid, gid)
    }

    fn add_node(
        &mut self,
        parent: Ino,
        name: &OsStr,
        body: Body,
        perm: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Attr> {
        self.check_on()?;
        self.check_new_name(parent, name)?;
        if self.dir_body(parent)?.entries.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let t = now();
        let meta = Meta {
            perm: (perm & 0o7777) as u16,
            uid,
            gid,
            atime: t,
            mtime: t,
            ctime: t,
            owner_dirty: false,
        };
        let ino = self.alloc_ino();
        let mut node = new_node(meta, body);
        node.lookups = 1;
        self.nodes.insert(ino, node);
        self.dir_body_mut(parent)?
            .entries
            .insert(name.to_owned(), ino);
        self.touch_dir(parent);
        self.getattr(ino)
    }

    /// Removes the file name `name` from `parent`.
    pub fn unlink(&mut self, parent: Ino, name: &OsStr) -> Result<()> {
        self.check_on()?;
        let ino = self.entry(parent, name)?;
        if self.node(ino)?.kind() == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.dir_body_mut(parent)?.entries.remove(name);
        self.touch_dir(parent);
        let n = self.node_mut(ino)?;
        n.nlink -= 1;
        n.meta.ctime = now();
        self.gc(ino);
        Ok(())
    }

    /// Removes the empty directory `name` from `parent`.
    pub fn rmdir(&mut self, parent: Ino, name: &OsStr) -> Result<()> {
        self.check_on()?;
        let ino = self.entry(parent, name)?;
        if !self.dir_body(ino)?.entries.is_empty() {
            return Err(libc::ENOTEMPTY);
        }
        self.dir_body_mut(parent)?.entries.remove(name);
        self.touch_dir(parent);
        self.node_mut(ino)?.nlink = 0;
        self.gc(ino);
        Ok(())
    }

    /// `rename(2)` / `renameat2(2)` with `RENAME_NOREPLACE` or no flag.
    pub fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        new_parent: Ino,
        new_name: &OsStr,
        no_replace: bool,
    ) -> Result<()> {
        self.check_on()?;
        let src = self.entry(parent, name)?;
        self.check_new_name(new_parent, new_name)?;
        let dst = self.dir_body(new_parent)?.entries.get(new_name).copied();
        if parent == new_parent && name == new_name {
            return Ok(());
        }
        if dst.is_some() && no_replace {
            return Err(libc::EEXIST);
        }
        let src_kind = self.node(src)?.kind();
        if src_kind == Kind::Dir {
            // A directory cannot move below itself.
            let mut at = new_parent;
            loop {
                if at == src {
                    return Err(libc::EINVAL);
                }
                if at == ROOT {
                    break;
                }
                at = self.dir_body(at)?.parent;
            }
        }
        if let Some(dst) = dst {
            if dst == src {
                // Two names of one file: POSIX says do nothing.
                return Ok(());
            }
            match (src_kind, self.node(dst)?.kind()) {
                (Kind::Dir, Kind::Dir) => {
                    if !self.dir_body(dst)?.entries.is_empty() {
                        return Err(libc::ENOTEMPTY);
                    }
                }
                (Kind::Dir, Kind::File) => return Err(libc::ENOTDIR),
                (Kind::File, Kind::Dir) => return Err(libc::EISDIR),
                (Kind::File, Kind::File) => {}
            }
        }
        self.dir_body_mut(parent)?.entries.remove(name);
        self.dir_body_mut(new_parent)?
            .entries
            .insert(new_name.to_owned(), src);
        if let Body::Dir(d) = &mut self.node_mut(src)?.body {
            d.parent = new_parent;
        }
        self.node_mut(src)?.meta.ctime = now();
        self.touch_dir(parent);
        self.touch_dir(new_parent);
        if let Some(dst) = dst {
            let n = self.node_mut(dst)?;
            n.nlink = if n.kind() == Kind::Dir {
                0
            } else {
                n.nlink - 1
            };
            self.gc(dst);
        }
        Ok(())
    }

    /// A new name for the file `ino` (one lookup held by the kernel).
    pub fn link(&mut self, ino: Ino, new_parent: Ino, new_name: &OsStr) -> Result<Attr> {
        self.check_on()?;
        if self.node(ino)?.kind() == Kind::Dir {
            return Err(libc::EPERM);
        }
        self.check_new_name(new_parent, new_name)?;
        if self.dir_body(new_parent)?.entries.contains_key(new_name) {
            return Err(libc::EEXIST);
        }
        self.dir_body_mut(new_parent)?
            .entries
            .insert(new_name.to_owned(), ino);
        self.touch_dir(new_parent);
        let n = self.node_mut(ino)?;
        n.nlink += 1;
        n.lookups += 1;
        n.meta.ctime = now();
        self.getattr(ino)
    }

    /// A file handle was opened on `ino`.
    pub fn open_file(&mut self, ino: Ino) -> Result<()> {
        self.check_on()?;
        if self.node(ino)?.kind() == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.node_mut(ino)?.opens += 1;
        Ok(())
    }

    /// A file handle of `ino` was closed (the last close; no sync implied).
    pub fn release_file(&mut self, ino: Ino) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.opens = n.opens.saturating_sub(1);
        }
        self.gc(ino);
    }

    /// Up to `len` bytes of `ino` from `offset`: dirty pages over the backing bytes
    /// that still show, zeros elsewhere.
    pub fn read(&mut self, ino: Ino, offset: u64, len: u32) -> Result<Vec<u8>> {
        self.check_on()?;
        let f = self.file_body(ino)?;
        if offset >= f.size || len == 0 {
            return Ok(Vec::new());
        }
        let end = f.size.min(offset.saturating_add(u64::from(len)));
        let mut out = vec![0u8; (end - offset) as usize];
        let from_backing = end.min(f.keep_below);
        if offset < from_backing {
            let n = (from_backing - offset) as usize;
            self.read_backing(ino, offset, &mut out[..n])?;
        }
        let f = self.file_body(ino)?;
        for (idx, page) in f.pages.range(offset / PAGE..=(end - 1) / PAGE) {
            let page_start = idx * PAGE;
            let from = offset.max(page_start);
            let to = end.min(page_start + PAGE);
            out[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&page[(from - page_start) as usize..(to - page_start) as usize]);
        }
        Ok(out)
    }

    /// Writes `data` at `offset` into the volatile state (dirty pages).
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<u32> {
        self.check_on()?;
        self.file_body(ino)?;
        if data.is_empty() {
            return Ok(0);
        }
        let len = u32::try_from(data.len()).map_err(|_| libc::EINVAL)?;
        let end = offset.checked_add(data.len() as u64).ok_or(libc::EFBIG)?;
        let (first, last) = (offset / PAGE, (end - 1) / PAGE);
        let f = self.file_body(ino)?;
        let new_pages = (first..=last).filter(|i| !f.pages.contains_key(i)).count() as u64;
        if self.dirty_bytes + new_pages * PAGE > UNSYNCED_BYTES_MAX {
            eprintln!(
                "lossyfs: more than {UNSYNCED_BYTES_MAX} unsynced bytes; refusing a write (ENOSPC)"
            );
            return Err(libc::ENOSPC);
        }
        for idx in first..=last {
            if !self.file_body(ino)?.pages.contains_key(&idx) {
                let page = self.visible_page(ino, idx)?;
                self.file_body_mut(ino)?.pages.insert(idx, page);
                self.dirty_bytes += PAGE;
            }
            let page_start = idx * PAGE;
            let from = offset.max(page_start);
            let to = end.min(page_start + PAGE);
            let f = self.file_body_mut(ino)?;
            let Some(page) = f.pages.get_mut(&idx) else {
                unreachable!("the page was just made dirty");
            };
            page[(from - page_start) as usize..(to - page_start) as usize]
                .copy_from_slice(&data[(from - offset) as usize..(to - offset) as usize]);
        }
        let f = self.file_body_mut(ino)?;
        f.size = f.size.max(end);
        let n = self.node_mut(ino)?;
        let t = now();
        n.meta.mtime = t;
        n.meta.ctime = t;
        Ok(len)
    }

    /// The current content of page `idx` when it is not dirty.
    fn visible_page(&mut self, ino: Ino, idx: u64) -> Result<Box<[u8]>> {
        let mut page = vec![0u8; PAGE as usize].into_boxed_slice();
        let start = idx * PAGE;
        let keep_below = self.file_body(ino)?.keep_below;
        if start < keep_below {
            let n = (keep_below - start).min(PAGE) as usize;
            self.read_backing(ino, start, &mut page[..n])?;
        }
        Ok(page)
    }

    /// Reads backing bytes (zeros past the backing file's end).
    fn read_backing(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<()> {
        let file = self.backing_file(ino)?;
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(disk_error("read of inode", Path::new(&ino.to_string()), e)),
            }
        }
        buf[done..].fill(0);
        Ok(())
    }

    /// Sets the size (ftruncate, or O_TRUNC): volatile until the file is synced.
    pub fn set_size(&mut self, ino: Ino, size: u64) -> Result<()> {
        self.check_on()?;
        let f = self.file_body_mut(ino)?;
        if size < f.size {
            let kept = f.pages.split_off(&size.div_ceil(PAGE));
            let dropped = kept.len() as u64 * PAGE;
            if size % PAGE != 0 {
                if let Some(page) = f.pages.get_mut(&(size / PAGE)) {
                    page[(size % PAGE) as usize..].fill(0);
                }
            }
            f.keep_below = f.keep_below.min(size);
            self.dirty_bytes -= dropped;
        }
        let f = self.file_body_mut(ino)?;
        f.size = size;
        let n = self.node_mut(ino)?;
        let t = now();
        n.meta.mtime = t;
        n.meta.ctime = t;
        Ok(())
    }

    /// Permission bits, owner and times. Times are kept in memory only; permission
    /// bits and owner become durable with the node's next sync.
    pub fn set_meta(
        &mut self,
        ino: Ino,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        atime: Option<SystemTime>,
        mtime: Option<SystemTime>,
    ) -> Result<()> {
        self.check_on()?;
        let m = &mut self.node_mut(ino)?.meta;
        if let Some(mode) = mode {
            m.perm = (mode & 0o7777) as u16;
            m.owner_dirty = true;
        }
        if let Some(uid) = uid {
            m.uid = uid;
            m.owner_dirty = true;
        }
        if let Some(gid) = gid {
            m.gid = gid;
            m.owner_dirty = true;
        }
        if let Some(t) = atime {
            m.atime = t;
        }
        if let Some(t) = mtime {
            m.mtime = t;
        }
        m.ctime = now();
        Ok(())
    }

    /// `fallocate(2)`: mode 0 and `FALLOC_FL_KEEP_SIZE` reserve nothing here (the
    /// backing file system allocates at sync) and mode 0 extends the size like
    /// `ftruncate`; `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` and
    /// `FALLOC_FL_ZERO_RANGE` write zeros. All of it volatile until the file is
    /// synced. Other modes: EOPNOTSUPP.
    pub fn fallocate(&mut self, ino: Ino, offset: u64, len: u64, mode: i32) -> Result<()> {
        self.check_on()?;
        self.file_body(ino)?;
        if len == 0 {
            return Err(libc::EINVAL);
        }
        let end = offset.checked_add(len).ok_or(libc::EFBIG)?;
        let keep_size = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
        let size = self.file_body(ino)?.size;
        match mode & !libc::FALLOC_FL_KEEP_SIZE {
            0 => {
                if !keep_size && end > size {
                    self.set_size(ino, end)?;
                }
                Ok(())
            }
            libc::FALLOC_FL_PUNCH_HOLE if keep_size => self.write_zeros(ino, offset, end.min(size)),
            libc::FALLOC_FL_ZERO_RANGE => {
                let to = if keep_size { end.min(size) } else { end };
                self.write_zeros(ino, offset, to)
            }
            _ => Err(libc::EOPNOTSUPP),
        }
    }

    fn write_zeros(&mut self, ino: Ino, from: u64, to: u64) -> Result<()> {
        let zeros = [0u8; PAGE as usize];
        let mut at = from;
        while at < to {
            let n = (to - at).min(PAGE - at % PAGE);
            self.write(ino, at, &zeros[..n as usize])?;
            at += n;
        }
        Ok(())
    }

    /// Lists `ino` as of now ("." and ".." first); read it with [`Fs::readdir`].
    pub fn opendir(&mut self, ino: Ino) -> Result<u64> {
        self.check_on()?;
        let d = self.dir_body(ino)?;
        let mut list = vec![
            DirEntry {
                ino,
                kind: Kind::Dir,
                name: ".".into(),
            },
            DirEntry {
                ino: d.parent,
                kind: Kind::Dir,
                name: "..".into(),
            },
        ];
        for (name, &child) in &d.entries {
            list.push(DirEntry {
                ino: child,
                kind: self.node(child)?.kind(),
                name: name.clone(),
            });
        }
        let fh = self.next_fh;
        self.next_fh += 1;
        self.dir_handles.insert(fh, list);
        Ok(fh)
    }

    /// The listing of handle `fh` from entry `offset` on.
    pub fn readdir(&self, fh: u64, offset: u64) -> Result<&[DirEntry]> {
        self.check_on()?;
        let list = self.dir_handles.get(&fh).ok_or(libc::EBADF)?;
        let from = usize::try_from(offset).map_or(list.len(), |o| o.min(list.len()));
        Ok(&list[from..])
    }

    /// Forgets the listing of handle `fh`.
    pub fn releasedir(&mut self, fh: u64) {
        self.dir_handles.remove(&fh);
    }

    /// The backing file system's numbers.
    pub fn statfs(&self) -> Result<Statfs> {
        self.check_on()?;
        let path = std::ffi::CString::new(self.backing.as_os_str().as_bytes())
            .map_err(|_| libc::EINVAL)?;
        // SAFETY: statvfs writes only into `st`, which is large enough; `path` is a
        // valid NUL-terminated string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
        if rc != 0 {
            return Err(disk_error(
                "statvfs",
                &self.backing,
                io::Error::last_os_error(),
            ));
        }
        Ok(Statfs {
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            bsize: st.f_bsize as u32,
            namelen: st.f_namemax as u32,
            frsize: st.f_frsize as u32,
        })
    }
}

fn new_node(meta: Meta, body: Body) -> Node {
    Node {
        meta,
        body,
        nlink: 1,
        lookups: 0,
        opens: 0,
        durable_links: BTreeSet::new(),
        orphan: false,
    }
}

fn meta_from(md: &fs::Metadata) -> Meta {
    let t = |r: io::Result<SystemTime>| r.unwrap_or(SystemTime::UNIX_EPOCH);
    Meta {
        perm: (md.mode() & 0o7777) as u16,
        uid: md.uid(),
        gid: md.gid(),
        atime: t(md.accessed()),
        mtime: t(md.modified()),
        ctime: SystemTime::UNIX_EPOCH
            + std::time::Duration::new(md.ctime().max(0) as u64, md.ctime_nsec() as u32),
        owner_dirty: false,
    }
}

mod durable;
#[cfg(test)]
mod tests;
