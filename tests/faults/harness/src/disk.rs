//! Disk faults on a stopped or running server's files: the newest txn log segment
//! found and walked record by record (ringkeeper's `RKLG` format and ZooKeeper's
//! `ZKLG`), a torn tail appended after its last record, a byte flipped inside a record
//! in the middle, and a small tmpfs for `dataLogDir` that a filler file fills up.
//!
//! Record layouts (big-endian; both files start with a 16-byte header whose first 4
//! bytes are the magic):
//! - ringkeeper: `len u32, crc u32, payload[len]`; `len` 0 ends the log.
//! - ZooKeeper: `crc i64, len i32, payload[len], 0x42`; `len` 0 (or EOF) ends it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const HEADER_BYTES: u64 = 16;

/// Records in a segment: their byte ranges, and where the data ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub path: PathBuf,
    /// `(start, end)` of each record, in order.
    pub records: Vec<(u64, u64)>,
    /// The first byte after the last record.
    pub end: u64,
}

/// The newest segment (highest zxid in its name) under `dir` or `dir/version-2`.
pub fn newest_segment(dir: &Path) -> io::Result<Option<PathBuf>> {
    let mut best: Option<(u64, PathBuf)> = None;
    for d in [dir.to_path_buf(), dir.join("version-2")] {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e?;
            let name = e.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_prefix("log.")) else {
                continue;
            };
            let Ok(zxid) = u64::from_str_radix(hex, 16) else {
                continue;
            };
            if best.as_ref().is_none_or(|(z, _)| zxid > *z) {
                best = Some((zxid, e.path()));
            }
        }
    }
    Ok(best.map(|(_, p)| p))
}

/// Walks the records of the segment at `path`.
pub fn walk(path: &Path) -> io::Result<Segment> {
    let bytes = fs::read(path)?;
    let be32 = |at: u64| -> Option<u32> {
        let at = usize::try_from(at).ok()?;
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let size = bytes.len() as u64;
    let magic = bytes.get(..4).unwrap_or_default();
    let mut records = Vec::new();
    let mut pos = HEADER_BYTES;
    // Each step moves forward at least 8 bytes; bounded by the file's size.
    match magic {
        b"RKLG" => {
            while let Some(len) = be32(pos).filter(|l| *l > 0) {
                let end = pos + 8 + u64::from(len);
                if end > size {
                    break;
                }
                records.push((pos, end));
                pos = end;
            }
        }
        b"ZKLG" => {
            while let Some(len) = be32(pos + 8).filter(|l| *l > 0 && *l < i32::MAX as u32) {
                let end = pos + 12 + u64::from(len) + 1;
                if end > size {
                    break;
                }
                records.push((pos, end));
                pos = end;
            }
        }
        _ => {
            return Err(io::Error::other(format!(
                "{}: magic {magic:02x?} is neither RKLG nor ZKLG",
                path.display()
            )))
        }
    }
    Ok(Segment {
        path: path.to_owned(),
        records,
        end: pos,
    })
}

/// Cuts the file right after the last record (the preallocated zeros beyond go: "cut
/// bytes off the newest segment") and appends `tail` there: what a torn append of a
/// record that was never acknowledged leaves.
pub fn tear(seg: &Segment, tail: &[u8]) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(&seg.path)?;
    f.set_len(seg.end)?;
    f.write_all_at(tail, seg.end)?;
    f.sync_all()
}

/// At most `len` bytes of the last record, always fewer than all of it (so they
/// never form a whole record); empty when there is no record.
pub fn record_prefix(seg: &Segment, len: usize) -> io::Result<Vec<u8>> {
    let Some(&(a, b)) = seg.records.last() else {
        return Ok(Vec::new());
    };
    let n = (len as u64).min(b - a - 1);
    let f = fs::File::open(&seg.path)?;
    let mut buf = vec![0u8; n as usize];
    f.read_exact_at(&mut buf, a)?;
    Ok(buf)
}

/// Flips every bit of the byte at `offset` (inside a record's payload); returns the
/// byte that was there, to put back with [`restore`].
pub fn flip(path: &Path, offset: u64) -> io::Result<u8> {
    let f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset)?;
    f.write_all_at(&[!b[0]], offset)?;
    f.sync_all()?;
    Ok(b[0])
}

/// Writes `byte` back at `offset`.
pub fn restore(path: &Path, offset: u64, byte: u8) -> io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.write_all_at(&[byte], offset)?;
    f.sync_all()
}

/// A tmpfs of `mib` MiB mounted at `dir` (created), unmounted on drop.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    pub fn mount(dir: &Path, mib: u64) -> io::Result<Tmpfs> {
        fs::create_dir_all(dir)?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "mount tmpfs on {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Tmpfs {
            dir: dir.to_owned(),
        })
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("filler")
    }

    /// Writes a filler file until the file system is full; returns its size.
    pub fn fill(&self) -> io::Result<u64> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())?;
        let chunk = vec![0xA5u8; 64 * 1024];
        let mut written = 0u64;
        // Bounded by the file system's size; ENOSPC ends it.
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// Removes the filler.
    pub fn drain(&self) -> io::Result<()> {
        match fs::remove_file(self.filler()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rk_segment(payloads: &[&[u8]], zeros: usize) -> Vec<u8> {
        let mut b = b"RKLG\0\0\0\x01\0\0\0\0\0\0\0\0".to_vec();
        for p in payloads {
            b.extend((p.len() as u32).to_be_bytes());
            b.extend([1, 2, 3, 4]);
            b.extend(*p);
        }
        b.extend(vec![0; zeros]);
        b
    }

    #[test]
    fn walks_tears_and_flips_a_ringkeeper_segment() {
        let dir = std::env::temp_dir().join(format!("rkf-disk-test-{}", std::process::id()));
        fs::create_dir_all(dir.join("version-2")).unwrap();
        let p = dir.join("log.00000000000000ff");
        // A payload ending in zeros: the end is found by walking, not by the last
        // non-zero byte.
        fs::write(&p, rk_segment(&[b"abc", b"de\0\0"], 100)).unwrap();
        fs::write(dir.join("version-2").join("log.1f"), b"ZKLG").unwrap();
        assert_eq!(newest_segment(&dir).unwrap(), Some(p.clone()));
        let seg = walk(&p).unwrap();
        assert_eq!(seg.records, vec![(16, 27), (27, 39)]);
        assert_eq!(seg.end, 39);
        let prefix = record_prefix(&seg, 100).unwrap();
        assert_eq!(prefix, fs::read(&p).unwrap()[27..38].to_vec());
        tear(&seg, &prefix[..5]).unwrap();
        let bytes = fs::read(&p).unwrap();
        assert_eq!(&bytes[39..], &[0, 0, 0, 4, 1]);
        assert_eq!(walk(&p).unwrap().records.len(), 2);
        let old = flip(&p, 24).unwrap();
        assert_eq!(old, b'a');
        restore(&p, 24, old).unwrap();
        assert_eq!(fs::read(&p).unwrap()[24], b'a');
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn walks_a_zookeeper_segment() {
        let dir = std::env::temp_dir().join(format!("rkf-disk-zk-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("log.1");
        let mut b = b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0".to_vec();
        for payload in [&b"xyz"[..], b"12345"] {
            b.extend([0; 8]);
            b.extend((payload.len() as u32).to_be_bytes());
            b.extend(payload);
            b.push(0x42);
        }
        b.extend([0; 50]);
        fs::write(&p, b).unwrap();
        let seg = walk(&p).unwrap();
        assert_eq!(seg.records, vec![(16, 32), (32, 50)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
