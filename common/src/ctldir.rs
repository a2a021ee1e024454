//! The control directory `.s6-svscan`: its creation, the scan-dir lock and the control FIFO
//! (spec: "Start-up", steps 2 to 4).
//!
//! The lock is a POSIX record lock (`fcntl` F_SETLK, F_WRLCK, whole file), never `flock`: on
//! Linux the two kinds do not see each other, and excluding a running C s6-svscan is part of
//! the contract. svscan opens the FIFO for reading and keeps a write end too, so that a client
//! closing its end never makes the FIFO readable at EOF. Every fd is CLOEXEC: the lock is
//! released when svscan execs its finish or crash program.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, SFlag, stat, umask};
use nix::unistd::{mkdir as nix_mkdir, mkfifo};

use crate::diag::SysErr;
use crate::lock::try_lock;
use crate::{CONTROL_DIR, CONTROL_FIFO, EXIT_SYSTEM, EXIT_USAGE, LOCK_FILE};

/// The open control directory of a running svscan. Dropping it releases the lock.
#[derive(Debug)]
pub struct ControlDir {
    /// Holds the record lock for as long as it is open.
    pub lock: OwnedFd,
    /// The read end of the control FIFO, non-blocking.
    pub control: OwnedFd,
    /// A write end that svscan keeps so that the FIFO never reads EOF.
    pub control_writer: OwnedFd,
}

/// Why the control directory could not be set up; `Display` is the fatal message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitError {
    Mkdir(Errno),
    Stat(Errno),
    NotADirectory,
    OpenLock(Errno),
    Lock(Errno),
    AlreadyRunning,
    Mkfifo(Errno),
    StatFifo(Errno),
    NotAFifo,
    OpenForReading(Errno),
    OpenForWriting(Errno),
}

impl InitError {
    /// 100 for a permanent condition, 111 for a failed system call (as s6-svscan).
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            InitError::NotADirectory | InitError::AlreadyRunning | InitError::NotAFifo => {
                EXIT_USAGE
            }
            _ => EXIT_SYSTEM,
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InitError::Mkdir(e) => write!(f, "unable to mkdir {CONTROL_DIR}: {}", SysErr(e)),
            InitError::Stat(e) => write!(f, "unable to stat {CONTROL_DIR}: {}", SysErr(e)),
            InitError::NotADirectory => write!(f, "{CONTROL_DIR} exists and is not a directory"),
            InitError::OpenLock(e) => write!(f, "unable to open {LOCK_FILE}: {}", SysErr(e)),
            InitError::Lock(e) => write!(f, "unable to lock {LOCK_FILE}: {}", SysErr(e)),
            InitError::AlreadyRunning => f.write_str(
                "another instance of s6-svscan is already running on the same directory",
            ),
            InitError::Mkfifo(e) => write!(f, "unable to mkfifo {CONTROL_FIFO}: {}", SysErr(e)),
            InitError::StatFifo(e) => write!(f, "unable to stat {CONTROL_FIFO}: {}", SysErr(e)),
            InitError::NotAFifo => write!(f, "{CONTROL_FIFO} is not a FIFO"),
            InitError::OpenForReading(e) => {
                write!(
                    f,
                    "unable to open {CONTROL_FIFO} for reading: {}",
                    SysErr(e)
                )
            }
            InitError::OpenForWriting(e) => {
                write!(
                    f,
                    "unable to open {CONTROL_FIFO} for writing: {}",
                    SysErr(e)
                )
            }
        }
    }
}

/// Restores the umask when dropped, whichever way set-up ends.
struct UmaskGuard(Mode);

impl Drop for UmaskGuard {
    fn drop(&mut self) {
        umask(self.0);
    }
}

/// Creates (or reuses) `.s6-svscan` in `scandir`, takes the lock and opens the FIFO.
///
/// Runs under umask 0 so that the modes are exactly 0700 and 0600; the old umask is restored
/// before returning.
///
/// # Errors
/// An [`InitError`] naming the step that failed; [`InitError::AlreadyRunning`] when another
/// process (ours or the C s6-svscan) holds the lock.
pub fn init_control_dir(scandir: &Path) -> Result<ControlDir, InitError> {
    let _umask = UmaskGuard(umask(Mode::empty()));
    let ctldir = scandir.join(CONTROL_DIR);
    match nix_mkdir(&ctldir, Mode::S_IRWXU) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = stat(&ctldir).map_err(InitError::Stat)?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                return Err(InitError::NotADirectory);
            }
        }
        Err(e) => return Err(InitError::Mkdir(e)),
    }

    let lock = open(
        &scandir.join(LOCK_FILE),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )
    .map_err(InitError::OpenLock)?;
    if !try_lock(lock.as_fd()).map_err(InitError::Lock)? {
        return Err(InitError::AlreadyRunning);
    }

    let fifo = scandir.join(CONTROL_FIFO);
    match mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = stat(&fifo).map_err(InitError::StatFifo)?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
                return Err(InitError::NotAFifo);
            }
        }
        Err(e) => return Err(InitError::Mkfifo(e)),
    }
    let control = open(
        &fifo,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(InitError::OpenForReading)?;
    let control_writer = open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(InitError::OpenForWriting)?;
    Ok(ControlDir {
        lock,
        control,
        control_writer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt, symlink};

    use nix::fcntl::{FcntlArg, fcntl};

    #[test]
    fn creates_the_dir_0700_and_the_fifo_0600_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let old = umask(Mode::empty());
        let ctl = init_control_dir(dir.path());
        umask(old);
        let _ctl = ctl.unwrap();
        let meta = fs::metadata(dir.path().join(CONTROL_DIR)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
        let fifo = fs::metadata(dir.path().join(CONTROL_FIFO)).unwrap();
        assert!(fifo.file_type().is_fifo());
        assert_eq!(fifo.permissions().mode() & 0o7777, 0o600);
        let lock = fs::metadata(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(lock.permissions().mode() & 0o7777, 0o600);
    }

    #[test]
    fn every_fd_is_cloexec_and_the_reader_is_non_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let ctl = init_control_dir(dir.path()).unwrap();
        for fd in [&ctl.lock, &ctl.control, &ctl.control_writer] {
            let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFD).unwrap();
            assert_ne!(flags & nix::libc::FD_CLOEXEC, 0);
        }
        let mut buf = [0u8; 1];
        // The kept write end means "empty", not EOF.
        assert_eq!(
            nix::unistd::read(&ctl.control, &mut buf),
            Err(Errno::EAGAIN)
        );
    }

    #[test]
    fn an_existing_control_dir_and_fifo_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        drop(init_control_dir(dir.path()).unwrap());
        let again = init_control_dir(dir.path());
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn a_control_dir_that_is_a_file_is_refused_with_100() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONTROL_DIR), b"").unwrap();
        let err = init_control_dir(dir.path()).unwrap_err();
        assert_eq!(err, InitError::NotADirectory);
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), ".s6-svscan exists and is not a directory");
    }

    #[test]
    fn a_dangling_control_dir_symlink_is_a_stat_error() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/nonexistent-target", dir.path().join(CONTROL_DIR)).unwrap();
        let err = init_control_dir(dir.path()).unwrap_err();
        assert_eq!(err, InitError::Stat(Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.to_string(),
            "unable to stat .s6-svscan: No such file or directory"
        );
    }

    #[test]
    fn a_control_that_is_not_a_fifo_is_refused_with_100() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(CONTROL_DIR)).unwrap();
        fs::write(dir.path().join(CONTROL_FIFO), b"").unwrap();
        let err = init_control_dir(dir.path()).unwrap_err();
        assert_eq!(err, InitError::NotAFifo);
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), ".s6-svscan/control is not a FIFO");
    }

    #[test]
    fn a_missing_scandir_is_a_mkdir_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = init_control_dir(&dir.path().join("nope")).unwrap_err();
        assert_eq!(err, InitError::Mkdir(Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
    }

    #[test]
    fn the_messages_match_s6_svscan() {
        assert_eq!(
            InitError::AlreadyRunning.to_string(),
            "another instance of s6-svscan is already running on the same directory"
        );
        assert_eq!(InitError::AlreadyRunning.exit_code(), 100);
        assert_eq!(
            InitError::OpenForReading(Errno::EACCES).to_string(),
            "unable to open .s6-svscan/control for reading: Permission denied"
        );
        assert_eq!(
            InitError::Lock(Errno::ENOLCK).to_string(),
            "unable to lock .s6-svscan/lock: No locks available"
        );
    }
}
