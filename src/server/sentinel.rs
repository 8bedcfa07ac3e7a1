//! A sentinel process that stops the listening sockets the moment the server dies.
//!
//! Why: an io_uring request in flight (each core's pending `accept`) holds its own
//! reference to the listening socket. When the server process dies (SIGKILL, a crash),
//! the kernel tears its rings down asynchronously, and for some milliseconds the dead
//! server's listener still completes handshakes: clients that reconnect at once are
//! accepted by nobody and then reset (seen here: up to 126 connections in 12 ms after
//! a SIGKILL). ZooKeeper's sockets close with its process.
//!
//! How: before any thread starts, the server forks this sentinel. It keeps duplicates
//! of the listening sockets and the read end of a pipe whose write end only the
//! server holds; it closes every other descriptor (so it never holds the data-dir
//! lock). When the server dies, for any reason, its end of the pipe closes, the
//! sentinel's read returns, and it shuts the listening sockets down — `shutdown` acts
//! on the socket, not the descriptor, so the kernel stops accepting at once — and
//! exits. The child does nothing but async-signal-safe system calls.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Starts the sentinel for `listeners`. On failure the server runs without one (it
/// only narrows a window after a crash), so the caller logs and goes on.
pub fn spawn(listeners: &[RawFd]) -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut keep: Vec<RawFd> = listeners.to_vec();
    keep.push(read_end.as_raw_fd());
    keep.sort_unstable();
    // SAFETY: fork has no preconditions; the child below calls only async-signal-safe
    // functions (prctl, sigaction via signal, syscall(close_range), read, shutdown,
    // _exit) and never returns into Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => child(read_end.as_raw_fd(), listeners, &keep),
        _ => {
            drop(read_end);
            // The write end stays open for the life of the process: its closing, by
            // the kernel at exit, is the signal.
            std::mem::forget(write_end);
            Ok(())
        }
    }
}

/// The sentinel itself: never returns.
fn child(read_end: RawFd, listeners: &[RawFd], keep: &[RawFd]) -> ! {
    // SAFETY (whole function): only async-signal-safe calls on descriptors this
    // process holds; `keep` and `listeners` were built before the fork.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"rk-sentinel".as_ptr());
        // It outlives the server by a moment only; a terminal's Ctrl-C or a stop
        // signal meant for the server must not end it first.
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        // Close everything but stdio and `keep` (sorted): the lock files above all.
        let mut from: libc::c_uint = 3;
        for &fd in keep {
            let fd = fd as libc::c_uint;
            if fd > from {
                libc::syscall(libc::SYS_close_range, from, fd - 1, 0);
            }
            from = fd + 1;
        }
        libc::syscall(libc::SYS_close_range, from, libc::c_uint::MAX, 0);
        let mut byte = 0u8;
        loop {
            let n = libc::read(read_end, (&mut byte as *mut u8).cast(), 1);
            if n >= 0 || *libc::__errno_location() != libc::EINTR {
                break;
            }
        }
        for &l in listeners {
            libc::shutdown(l, libc::SHUT_RDWR);
        }
        libc::_exit(0)
    }
}
