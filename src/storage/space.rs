//! Free space on the file system of a data directory (`statvfs`), for the messages
//! that tell an operator how much to free. Reads only; decides nothing.

use std::path::Path;

/// What `statvfs` says about the file system holding a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeSpace {
    /// Bytes an unprivileged process may still allocate (`f_bavail`).
    pub available_bytes: u64,
    /// Bytes free, the blocks reserved for root included (`f_bfree`).
    pub free_bytes: u64,
}

impl FreeSpace {
    /// The space of the file system holding `dir`, or `None` if `statvfs` fails (the
    /// messages then go without the figure).
    pub fn of(dir: &Path) -> Option<FreeSpace> {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: `st` is a plain C struct that statvfs fills; `c` is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        let frsize = st.f_frsize as u64;
        Some(FreeSpace {
            available_bytes: (st.f_bavail as u64).saturating_mul(frsize),
            free_bytes: (st.f_bfree as u64).saturating_mul(frsize),
        })
    }
}

/// `bytes` in KiB, rounded down (zoo.cfg's `preAllocSize` unit).
pub fn kib(bytes: u64) -> u64 {
    bytes >> 10
}

/// `bytes` as MiB with one decimal, for messages.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}
