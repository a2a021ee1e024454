//! Every `unsafe` of supervise, each wrapped once: the raw wait status, a kill with a raw
//! signal number, dispositions, and the operations on descriptor numbers that no owned type
//! can express (fds 0 and 1 for "close", the lock-fd helper's fd LK, which may be any
//! number). Spawning is `common::spawn`'s.

use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::unistd::Pid;

/// `waitpid(pid, WNOHANG)`: the raw wait status when `pid` has died, `None` while it lives.
/// The raw status is what the status file stores (its low 16 bits) and what finish's
/// arguments are computed from, so it is not decoded into nix's `WaitStatus`.
///
/// # Errors
/// The errno of `waitpid` (ECHILD when `pid` is not a child).
pub fn wait_nohang(pid: Pid) -> Result<Option<i32>, Errno> {
    let mut wstat: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes the status through a valid pointer to a local.
        let r = unsafe { libc::waitpid(pid.as_raw(), &raw mut wstat, libc::WNOHANG) };
        match Errno::result(r) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(wstat)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Points the standard descriptor `fd` (0 or 1, for "close") at /dev/null, opened with
/// `flags`, not CLOEXEC (children inherit it). No `OwnedFd` ever owns these numbers.
///
/// # Errors
/// The errno of `open` or `dup2`.
pub fn reopen_dev_null(fd: RawFd, flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: `fd` is 0 or 1, never wrapped in an `OwnedFd`; closing it only frees the number
    // for the open below, which takes the lowest free one.
    unsafe {
        libc::close(fd);
    }
    // SAFETY: the path is a NUL-terminated literal.
    let null = Errno::result(unsafe { libc::open(c"/dev/null".as_ptr(), flags) })?;
    if null != fd {
        // A lower number was free too (only if fd 0 was closed by someone else): put it in
        // place anyway.
        // SAFETY: dup2 onto a standard descriptor supervise owns; `null` is ours to close.
        let r = Errno::result(unsafe { libc::dup2(null, fd) });
        // SAFETY: `null` was opened just above and is not used again.
        unsafe {
            libc::close(null);
        }
        r?;
    }
    Ok(())
}

/// `kill(pid, sig)` with a raw signal number (a numeric `down-signal` is not range-checked,
/// as in C: an invalid one just fails). Errors are ignored, as the table says.
pub fn kill_raw(pid: Pid, sig: libc::c_int) {
    // SAFETY: kill takes plain integers; a bad pid or signal is an error return, nothing else.
    unsafe {
        libc::kill(pid.as_raw(), sig);
    }
}

/// Gives `sig` its default disposition: SIGCHLD at start-up (inherited as ignored, the kernel
/// would reap run behind supervise's back), SIGPIPE in the lock-fd helper before it execs
/// `./run` (the Rust runtime ignores it, and an ignored signal stays ignored across exec).
///
/// # Errors
/// The errno of `sigaction`.
pub fn default_disposition(sig: Signal) -> Result<(), Errno> {
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; supervise is single-threaded.
    unsafe { signal(sig, SigHandler::SigDfl) }.map(drop)
}

/// The lock-fd helper's step: puts `fd` on number `lk` (dup2, which leaves the copy without
/// CLOEXEC) and closes `fd`, unless it already is `lk`, in which case its CLOEXEC is cleared.
/// Done **before** the lock is taken: closing any descriptor of a file drops the process's
/// POSIX locks on it, which is the bug of `s6-setlock -d` that this avoids.
///
/// # Errors
/// The errno of `dup2` or `fcntl`.
pub fn move_fd_to(fd: RawFd, lk: RawFd) -> Result<(), Errno> {
    if fd == lk {
        // SAFETY: F_SETFD with 0 only clears FD_CLOEXEC on a descriptor the helper opened.
        return Errno::result(unsafe { libc::fcntl(lk, libc::F_SETFD, 0) }).map(drop);
    }
    // SAFETY: dup2 onto `lk` replaces whatever the helper has there, which is what lock-fd
    // asks for (as s6-setlock's fd_move); the helper owns both numbers and execs right after.
    Errno::result(unsafe { libc::dup2(fd, lk) })?;
    // SAFETY: `fd` was opened by the helper and is not used again.
    unsafe {
        libc::close(fd);
    }
    Ok(())
}

/// Takes a whole-file POSIX write lock on the raw descriptor `lk`, waiting for it (F_SETLKW).
///
/// # Errors
/// The errno of `fcntl` other than EINTR.
pub fn lock_wait_raw(lk: RawFd) -> Result<(), Errno> {
    let fl = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    loop {
        // SAFETY: F_SETLKW reads a valid flock struct; `lk` is a descriptor of the helper.
        let r = unsafe { libc::fcntl(lk, libc::F_SETLKW, &raw const fl) };
        match Errno::result(r) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}
