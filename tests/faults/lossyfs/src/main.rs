//! `lossyfs BACKING MOUNTPOINT`: serves a lossyfs in the foreground until it is
//! unmounted. `umount MOUNTPOINT` is a clean shutdown (everything synced);
//! `kill -9` of this process is a power cut (then `umount -l MOUNTPOINT`).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [backing, mountpoint] = args.as_slice() else {
        eprintln!("usage: lossyfs BACKING MOUNTPOINT  (root, /dev/fuse)");
        return ExitCode::from(2);
    };
    let (backing, mountpoint) = (Path::new(backing), Path::new(mountpoint));
    eprintln!(
        "lossyfs: serving {} on {} (pid {}); `umount {}` syncs everything and stops, \
         `kill -9 {}` cuts the power",
        backing.display(),
        mountpoint.display(),
        std::process::id(),
        mountpoint.display(),
        std::process::id()
    );
    match lossyfs::serve(backing, mountpoint) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lossyfs: {e}");
            ExitCode::FAILURE
        }
    }
}
