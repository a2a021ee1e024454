//! Every `unsafe` of svscan, each wrapped once behind a safe function: taking ownership of
//! the descriptors named on the command line (`-d`, `-X`) and of accepted connections,
//! saving a standard fd, and the signal dispositions. Spawning and the raw fd checks are
//! `common::spawn` and `common::sys`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Takes ownership of a descriptor that svscan inherited and was given by number on its
/// command line (`-d`, `-X`), and makes it CLOEXEC, so that no supervisor inherits it.
///
/// Sound for any number: it refuses (EBADF) one that is not open, one below 3 (the standard
/// fds stay raw numbers: dropping an owner would close them), and one that is already
/// CLOEXEC. Every descriptor svscan opens is CLOEXEC from birth (`pipe2`, `O_CLOEXEC`), and
/// none that came through the exec is (the exec closed those), so an open fd of 3 or more
/// without FD_CLOEXEC is one that nothing in svscan owns; setting the flag marks it owned, and
/// adopting the same number again is refused.
///
/// # Errors
/// EBADF as above; the errno of `fcntl`.
pub fn adopt_inherited(fd: RawFd) -> Result<OwnedFd, Errno> {
    if fd < 3 {
        return Err(Errno::EBADF);
    }
    // SAFETY: F_GETFD only reads the descriptor flags of a number; a closed one gives EBADF.
    let flags = Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    if flags & libc::FD_CLOEXEC != 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: F_SETFD with the flags read above plus FD_CLOEXEC changes only that flag.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
    // SAFETY: `fd` is open, at least 3 and was not CLOEXEC, so (see above) nothing in svscan
    // owns it; svscan is single-threaded, so nothing opened or closed it since the checks.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Accepts a connection on `listener`, non-blocking and close-on-exec from birth (nix's
/// `accept4` returns a raw number), numbered above `above`: the kernel closes a process's
/// descriptors in increasing order at exec and exit, and a client waiting for svscan to leave
/// must see its connection end only after the lock (`above`) is released.
///
/// # Errors
/// The errno of `accept4` (EAGAIN when none is pending) or of the `fcntl` that moves it.
pub fn accept(listener: &OwnedFd, above: RawFd) -> Result<OwnedFd, Errno> {
    use nix::sys::socket::{SockFlag, accept4};
    let fd = accept4(
        listener.as_raw_fd(),
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )?;
    // SAFETY: accept4 just returned this descriptor, new and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if fd.as_raw_fd() > above {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor for the same open socket (O_NONBLOCK is
    // the socket's, so it is kept) at the lowest free number above `above`; it reads no
    // memory of ours. The original is closed when `fd` drops.
    let moved =
        Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above + 1) })?;
    // SAFETY: fcntl just returned this descriptor, new and owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// Restores SIGPIPE's default disposition before svscan execs its finish or crash program
/// (the Rust runtime ignores it, and an ignored signal stays ignored across exec).
pub fn default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; svscan is single-threaded.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Gives SIGCHLD its default disposition (start-up step 5, in `main.rs`).
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

/// A CLOEXEC copy of svscan's own standard fd `fd` (0, 1 or 2), numbered 3 or more, so that
/// the number can be given to one child and then restored (see `start.rs`).
///
/// # Errors
/// EBADF for a number above 2; the errno of `fcntl` (EMFILE).
pub fn save_std_fd(fd: usize) -> Result<OwnedFd, Errno> {
    let fd = match fd {
        0..=2 => fd as RawFd,
        _ => return Err(Errno::EBADF),
    };
    // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor; fds 0-2 are always open
    // (sanitized at start-up).
    let copy = Errno::result(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: `copy` was just created by the fcntl above and nothing else knows its number.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}
