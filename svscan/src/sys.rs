//! Every `unsafe` of svscan, each wrapped once: the few operations on raw descriptor numbers
//! (the `-d`/`-X` fds and the standard fds) that no owned type can express, and the signal
//! dispositions. Spawning is `common::spawn`.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)`), with the errno when it is not.
///
/// # Errors
/// EBADF when `fd` is not open.
pub fn check_fd(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid fd gives EBADF.
    Errno::result(unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) }).map(drop)
}

/// Sets FD_CLOEXEC on a raw descriptor that svscan inherited (`-X`).
///
/// # Errors
/// The errno of `fcntl`.
pub fn set_cloexec(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_SETFD with FD_CLOEXEC changes only that flag of the descriptor.
    Errno::result(unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) })
        .map(drop)
}

/// Takes ownership of an inherited descriptor number (`-d`), so that dropping it closes it.
///
/// The caller must have checked with [`check_fd`] that `fd` is open and at least 3.
#[must_use]
pub fn adopt_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the fd was checked open and is ≥ 3, so it is none of the standard fds that other
    // code uses; svscan holds no other handle to this number (it came from the command line).
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `dup2(from, to)` on raw numbers: for the standard fds and the console holder, which are
/// never wrapped in an `OwnedFd` (dropping one would close fd 0, 1 or 2).
///
/// # Errors
/// The errno of `dup2`.
pub fn dup2_raw(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 only changes the descriptor table; `to` is a standard fd that svscan owns.
    Errno::result(unsafe { nix::libc::dup2(from, to) }).map(drop)
}

/// Closes a raw descriptor number (the console holder after it is moved back to fd 2).
pub fn close_raw(fd: RawFd) {
    // SAFETY: called once for a descriptor that no `OwnedFd` owns.
    unsafe {
        nix::libc::close(fd);
    }
}

/// Restores SIGPIPE's default disposition before svscan execs its finish or crash program
/// (the Rust runtime ignores it, and an ignored signal stays ignored across exec).
pub fn default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; svscan is single-threaded.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Gives SIGCHLD its default disposition. svscan may have been started with it ignored (an
/// ignored signal stays ignored across exec), and then the kernel reaps children by itself
/// and sends no SIGCHLD, even while SIGCHLD is blocked into the signalfd: svscan would never
/// see a supervisor die, nor restart it.
///
/// # Errors
/// The errno of `sigaction`.
pub fn default_sigchld() -> Result<(), Errno> {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; svscan is single-threaded.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.map(drop)
}

/// Gives the heap's free pages back to the kernel. The table grows by doubling, and the
/// blocks it outgrew stay dirty in the heap otherwise: after a scan that grew it, this keeps
/// svscan's resident memory at what its load needs.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointer of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
