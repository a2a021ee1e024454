//! The locks that say "a daemon runs here": svscan's `.s6-svscan/lock` and supervise's
//! `supervise/lock` (SVSCAN.md "Start-up" step 3; SUPERVISE.md item 1 of its traps).
//!
//! They are POSIX record locks (`fcntl`), whole file, never `flock`: on Linux the two kinds
//! do not see each other, and seeing the C programs' locks (and being seen by them) is part
//! of the contract. The daemon takes a write lock ([`try_lock`], skalibs `fd_lock(fd, 1, 1)`);
//! a client asks whether anyone holds one ([`is_locked`], skalibs `fd_islocked` as
//! `s6_svc_ok` uses it) without taking it.

use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
use nix::libc;
use nix::sys::stat::Mode;

/// A whole-file lock request of `kind` (F_WRLCK, F_RDLCK).
fn whole_file(kind: libc::c_int) -> libc::flock {
    libc::flock {
        // The lock types and SEEK_SET are small constants; the casts cannot truncate.
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// Takes a whole-file POSIX write lock on `fd` without waiting (skalibs `fd_lock(fd, 1, 1)`).
///
/// Returns `Ok(false)` when another process holds a conflicting lock.
///
/// # Errors
/// Any other `fcntl` failure.
pub fn try_lock(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    let lock = whole_file(libc::F_WRLCK);
    loop {
        match fcntl(fd, FcntlArg::F_SETLK(&lock)) {
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN | Errno::EACCES) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// Whether some process holds a lock on the file at `path` (`s6_svc_ok`): opened read-only
/// and non-blocking, then `F_GETLK` for a whole-file read lock. `None` when the file does not
/// exist (the daemon never ran there).
///
/// The caller's own locks never count: `F_GETLK` reports only other processes' locks.
///
/// # Errors
/// The errno of the open (other than ENOENT) or of `fcntl`.
pub fn is_locked(path: &Path) -> Result<Option<bool>, Errno> {
    let fd = match open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut lock = whole_file(libc::F_RDLCK);
    fcntl(&fd, FcntlArg::F_GETLK(&mut lock))?;
    Ok(Some(lock.l_type != libc::F_UNLCK as libc::c_short))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::fd::{AsFd, OwnedFd};

    fn open_write(path: &Path) -> OwnedFd {
        open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty()).unwrap()
    }

    /// A lock that conflicts with this process's own record locks, as another process's
    /// does: an open-file-description lock (`F_OFD_SETLK`; fcntl(2): OFD locks and
    /// traditional record locks conflict even within one process). Released when the
    /// returned fd is closed.
    pub(crate) fn lock_as_another_process(path: &Path) -> OwnedFd {
        let fd = open_write(path);
        let lock = whole_file(libc::F_WRLCK);
        fcntl(&fd, FcntlArg::F_OFD_SETLK(&lock)).unwrap();
        fd
    }

    #[test]
    fn a_missing_lock_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(is_locked(&dir.path().join("lock")), Ok(None));
    }

    #[test]
    fn an_unlocked_file_is_not_locked_and_our_own_lock_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(is_locked(&path), Ok(Some(false)));
        let fd = open_write(&path);
        assert_eq!(try_lock(fd.as_fd()), Ok(true));
        assert_eq!(is_locked(&path), Ok(Some(false)));
    }

    #[test]
    fn a_lock_held_elsewhere_is_seen_refused_and_free_again_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, b"").unwrap();
        let holder = lock_as_another_process(&path);
        assert_eq!(is_locked(&path), Ok(Some(true)));
        let fd = open_write(&path);
        assert_eq!(try_lock(fd.as_fd()), Ok(false));
        drop(holder);
        assert_eq!(is_locked(&path), Ok(Some(false)));
        assert_eq!(try_lock(fd.as_fd()), Ok(true));
    }

    #[test]
    fn a_path_through_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert_eq!(is_locked(&file.join("lock")), Err(Errno::ENOTDIR));
    }
}
