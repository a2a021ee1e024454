//! The control directory of a daemon: svscan's `.s6-svscan` and supervise's `supervise`, each
//! with its lock and its control FIFO (SVSCAN.md "Start-up" steps 2 to 4; SUPERVISE.md
//! "Start-up" step 4, C's `control_init`).
//!
//! Both are made the same way, under umask 0 so that the modes are exact: the directory
//! (mode 0700 when created), then the lock file (opened write-only, its record lock taken
//! without waiting: a running C daemon excludes ours and ours excludes it), then the FIFO
//! (mode 0600 when created; an existing one is reused with its mode), opened for reading and
//! also for writing, so that a client closing its end never makes it readable at EOF. Every
//! fd is CLOEXEC: the lock is released when the daemon execs something else. What differs is
//! a [`Layout`]: the names, the lock's mode, the "already running" text, and how the
//! directory is made ([`DirRule`]: svscan's plain mkdir, or supervise's [`trymkdir`], which
//! follows a symlink to create its target).

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, readlink};
use nix::sys::stat::{Mode, SFlag, stat, umask};
use nix::unistd::{mkdir, mkfifo};

use crate::diag::SysErr;
use crate::lock::try_lock;
use crate::{CONTROL_DIR, CONTROL_FIFO, EXIT_SYSTEM, EXIT_USAGE, LOCK_FILE, SUPERVISE_DIR};

/// How a control directory is made when it may already exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirRule {
    /// svscan: `mkdir`; an existing name must `stat` (following symlinks) as a directory,
    /// so a dangling symlink is a `stat` error.
    Plain,
    /// supervise: [`trymkdir`], which creates a symlink's missing target.
    Trymkdir,
}

/// The names and modes of one daemon's control directory, relative to its working directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub dir: &'static str,
    pub lock: &'static str,
    pub fifo: &'static str,
    /// The lock file's mode when created.
    pub lock_mode: u32,
    pub rule: DirRule,
    /// The fatal message when another process holds the lock.
    pub already_running: &'static str,
}

/// svscan's `.s6-svscan`, in the scan directory.
pub const SVSCAN: Layout = Layout {
    dir: CONTROL_DIR,
    lock: LOCK_FILE,
    fifo: CONTROL_FIFO,
    lock_mode: 0o600,
    rule: DirRule::Plain,
    already_running: "another instance of s6-svscan is already running on the same directory",
};

/// supervise's `supervise`, in the service directory (`S6_SUPERVISE_CTLDIR`).
pub const SUPERVISE: Layout = Layout {
    dir: SUPERVISE_DIR,
    lock: "supervise/lock",
    fifo: "supervise/control",
    lock_mode: 0o644,
    rule: DirRule::Trymkdir,
    // Exactly this text, without C svscan's "on the same directory" (supervise.c:707).
    already_running: "another instance of s6-supervise is already running",
};

/// The open control directory of a running daemon. Dropping it releases the lock.
#[derive(Debug)]
pub struct ControlDir {
    /// Holds the record lock for as long as it is open.
    pub lock: OwnedFd,
    /// The read end of the control FIFO, non-blocking.
    pub control: OwnedFd,
    /// A write end that the daemon keeps so that the FIFO never reads EOF.
    pub control_writer: OwnedFd,
}

/// Whether [`trymkdir`] made the directory, or found it there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    Created,
    Existing,
}

/// Why a control directory could not be set up; `Display` is the fatal message, each naming
/// what it failed on as the daemon's C counterpart does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitError {
    /// `unable to mkdir NAME: ERR`; NAME is the directory, or the target of its symlink.
    Mkdir(PathBuf, Errno),
    /// `unable to readlink NAME: ERR` (a symlink target of 512 bytes or more).
    Readlink(&'static str, Errno),
    Stat(&'static str, Errno),
    NotADirectory(&'static str),
    OpenLock(&'static str, Errno),
    Lock(&'static str, Errno),
    /// Another process holds the lock; the layout's text.
    AlreadyRunning(&'static str),
    Mkfifo(&'static str, Errno),
    StatFifo(&'static str, Errno),
    NotAFifo(&'static str),
    OpenForReading(&'static str, Errno),
    OpenForWriting(&'static str, Errno),
}

impl InitError {
    /// 100 for a permanent condition, 111 for a failed system call (as s6-svscan and
    /// s6-supervise).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            InitError::NotADirectory(_) | InitError::AlreadyRunning(_) | InitError::NotAFifo(_) => {
                EXIT_USAGE
            }
            _ => EXIT_SYSTEM,
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Mkdir(name, e) => {
                write!(f, "unable to mkdir {}: {}", name.display(), SysErr(*e))
            }
            InitError::Readlink(name, e) => write!(f, "unable to readlink {name}: {}", SysErr(*e)),
            InitError::Stat(name, e) | InitError::StatFifo(name, e) => {
                write!(f, "unable to stat {name}: {}", SysErr(*e))
            }
            InitError::NotADirectory(name) => write!(f, "{name} exists and is not a directory"),
            InitError::OpenLock(name, e) => write!(f, "unable to open {name}: {}", SysErr(*e)),
            InitError::Lock(name, e) => write!(f, "unable to lock {name}: {}", SysErr(*e)),
            InitError::AlreadyRunning(text) => f.write_str(text),
            InitError::Mkfifo(name, e) => write!(f, "unable to mkfifo {name}: {}", SysErr(*e)),
            InitError::NotAFifo(name) => write!(f, "{name} is not a FIFO"),
            InitError::OpenForReading(name, e) => {
                write!(f, "unable to open {name} for reading: {}", SysErr(*e))
            }
            InitError::OpenForWriting(name, e) => {
                write!(f, "unable to open {name} for writing: {}", SysErr(*e))
            }
        }
    }
}

/// Sets umask 0 and restores the old one when dropped, whichever way set-up ends.
struct Umask0(Mode);

impl Umask0 {
    fn set() -> Self {
        Umask0(umask(Mode::empty()))
    }
}

impl Drop for Umask0 {
    fn drop(&mut self) {
        umask(self.0);
    }
}

fn is(path: &Path, kind: SFlag) -> Result<bool, Errno> {
    let st = stat(path)?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == kind)
}

/// An existing `name` (at `path`) is used if it is a directory, following symlinks.
fn existing_dir(path: &Path, name: &'static str) -> Result<Made, InitError> {
    match is(path, SFlag::S_IFDIR) {
        Ok(true) => Ok(Made::Existing),
        Ok(false) => Err(InitError::NotADirectory(name)),
        Err(e) => Err(InitError::Stat(name, e)),
    }
}

/// The longest symlink target trymkdir follows, plus one (C's `S6_PATH_MAX` buffer).
const PATH_MAX: usize = 512;

/// supervise's "trymkdir" (supervise.c:661-694) for `name` in `base`, under umask 0:
/// `mkdir(name, 0700)`; if `name` exists and is not a symlink, it must be a directory; if it
/// is a symlink, its target is made with `mkdir(target, 0700)` (relative to `base`). supervise
/// makes `event` with it (and chowns and chmods it only if [`Made::Created`]), then
/// `supervise` through [`init_control_dir`].
///
/// **fix** (no upstream fix): a symlink whose target directory already exists (a restart of
/// supervise with `supervise` linked into a tmpfs) is used as [`Made::Existing`]; C dies with
/// `unable to mkdir TARGET: File exists`. A symlink to an existing non-directory is
/// `NAME exists and is not a directory`, as for a plain file.
///
/// # Errors
/// An [`InitError`] with C's message: `unable to mkdir NAME: ERR`, `unable to stat NAME: ERR`,
/// `NAME exists and is not a directory` (100), `unable to mkdir NAME: File exists` (a
/// `readlink` error other than "not a symlink"), `unable to readlink NAME: File name too long`
/// (a target of 512 bytes or more), `unable to mkdir TARGET: ERR`.
pub fn trymkdir(base: &Path, name: &'static str) -> Result<Made, InitError> {
    let _umask = Umask0::set();
    let path = base.join(name);
    match mkdir(&path, Mode::S_IRWXU) {
        Ok(()) => return Ok(Made::Created),
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(InitError::Mkdir(name.into(), e)),
    }
    let target = match readlink(&path) {
        Ok(target) => target,
        Err(Errno::EINVAL) => return existing_dir(&path, name),
        // As C, which reports the mkdir's EEXIST, not readlink's own errno.
        Err(_) => return Err(InitError::Mkdir(name.into(), Errno::EEXIST)),
    };
    if target.len() >= PATH_MAX {
        return Err(InitError::Readlink(name, Errno::ENAMETOOLONG));
    }
    match mkdir(&base.join(&target), Mode::S_IRWXU) {
        Ok(()) => Ok(Made::Created),
        Err(Errno::EEXIST) => existing_dir(&path, name),
        Err(e) => Err(InitError::Mkdir(
            Path::new(OsStr::from_bytes(target.as_bytes())).to_owned(),
            e,
        )),
    }
}

/// svscan's rule: `mkdir(name, 0700)`, or an existing directory (following symlinks).
fn plain_mkdir(base: &Path, name: &'static str) -> Result<Made, InitError> {
    let path = base.join(name);
    match mkdir(&path, Mode::S_IRWXU) {
        Ok(()) => Ok(Made::Created),
        Err(Errno::EEXIST) => existing_dir(&path, name),
        Err(e) => Err(InitError::Mkdir(name.into(), e)),
    }
}

/// Makes (or reuses) the control directory of `layout` in `base`, takes its lock and opens
/// its FIFO, under umask 0 (restored before returning).
///
/// # Errors
/// An [`InitError`] naming the step that failed; [`InitError::AlreadyRunning`] when another
/// process (ours or the C daemon) holds the lock.
pub fn init_control_dir(base: &Path, layout: &Layout) -> Result<ControlDir, InitError> {
    let _umask = Umask0::set();
    match layout.rule {
        DirRule::Plain => plain_mkdir(base, layout.dir)?,
        DirRule::Trymkdir => trymkdir(base, layout.dir)?,
    };

    let lock = open(
        &base.join(layout.lock),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(layout.lock_mode),
    )
    .map_err(|e| InitError::OpenLock(layout.lock, e))?;
    if !try_lock(lock.as_fd()).map_err(|e| InitError::Lock(layout.lock, e))? {
        return Err(InitError::AlreadyRunning(layout.already_running));
    }

    let fifo = base.join(layout.fifo);
    match mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR) {
        Ok(()) => {}
        Err(Errno::EEXIST) => match is(&fifo, SFlag::S_IFIFO) {
            Ok(true) => {}
            Ok(false) => return Err(InitError::NotAFifo(layout.fifo)),
            Err(e) => return Err(InitError::StatFifo(layout.fifo, e)),
        },
        Err(e) => return Err(InitError::Mkfifo(layout.fifo, e)),
    }
    let control = open(
        &fifo,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::OpenForReading(layout.fifo, e))?;
    let control_writer = open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| InitError::OpenForWriting(layout.fifo, e))?;
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

    use crate::lock::tests::lock_as_another_process;

    /// Each error exits 111 with its message.
    fn assert_system_errors(cases: &[(InitError, &str)]) {
        for (err, text) in cases {
            assert_eq!(err.exit_code(), 111, "{text}");
            assert_eq!(err.to_string(), *text);
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    /// Runs `f` under `mask`, restoring the test process's umask after.
    fn under_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
        let old = umask(Mode::from_bits_truncate(mask));
        let out = f();
        umask(old);
        out
    }

    // svscan (`.s6-svscan`): SVSCAN.md "Start-up" steps 2 to 4.

    #[test]
    fn svscan_creates_the_dir_0700_the_lock_0600_and_the_fifo_0600_whatever_the_umask() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let _ctl = under_umask(0o277, || init_control_dir(dir.path(), &SVSCAN)).unwrap();
        assert_eq!(mode(&dir.path().join(CONTROL_DIR)), 0o700);
        assert!(
            fs::metadata(dir.path().join(CONTROL_FIFO))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(mode(&dir.path().join(CONTROL_FIFO)), 0o600);
        assert_eq!(mode(&dir.path().join(LOCK_FILE)), 0o600);
    }

    #[test]
    fn the_umask_is_restored() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let after = under_umask(0o027, || {
            let _ = init_control_dir(dir.path(), &SVSCAN);
            let _ = trymkdir(dir.path(), "event");
            umask(Mode::from_bits_truncate(0o027))
        });
        assert_eq!(after.bits(), 0o027);
    }

    #[test]
    fn every_fd_is_cloexec_and_the_reader_is_non_blocking() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let ctl = init_control_dir(dir.path(), &SVSCAN).unwrap();
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
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        drop(init_control_dir(dir.path(), &SVSCAN).unwrap());
        let again = init_control_dir(dir.path(), &SVSCAN);
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn a_control_dir_that_is_a_file_is_refused_with_100() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONTROL_DIR), b"").unwrap();
        let err = init_control_dir(dir.path(), &SVSCAN).unwrap_err();
        assert_eq!(err, InitError::NotADirectory(CONTROL_DIR));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), ".s6-svscan exists and is not a directory");
    }

    #[test]
    fn a_dangling_control_dir_symlink_is_a_stat_error_for_svscan() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        symlink("/nonexistent-target", dir.path().join(CONTROL_DIR)).unwrap();
        let err = init_control_dir(dir.path(), &SVSCAN).unwrap_err();
        assert_eq!(err, InitError::Stat(CONTROL_DIR, Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.to_string(),
            "unable to stat .s6-svscan: No such file or directory"
        );
    }

    #[test]
    fn a_control_that_is_not_a_fifo_is_refused_with_100() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(CONTROL_DIR)).unwrap();
        fs::write(dir.path().join(CONTROL_FIFO), b"").unwrap();
        let err = init_control_dir(dir.path(), &SVSCAN).unwrap_err();
        assert_eq!(err, InitError::NotAFifo(CONTROL_FIFO));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), ".s6-svscan/control is not a FIFO");
    }

    #[test]
    fn a_missing_scandir_is_a_mkdir_error() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let err = init_control_dir(&dir.path().join("nope"), &SVSCAN).unwrap_err();
        assert_eq!(err, InitError::Mkdir(CONTROL_DIR.into(), Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.to_string(),
            "unable to mkdir .s6-svscan: No such file or directory"
        );
    }

    #[test]
    fn a_lock_held_elsewhere_means_another_svscan_is_running() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        drop(init_control_dir(dir.path(), &SVSCAN).unwrap());
        let _holder = lock_as_another_process(&dir.path().join(LOCK_FILE));
        let err = init_control_dir(dir.path(), &SVSCAN).unwrap_err();
        assert_eq!(err.exit_code(), 100);
        assert_eq!(
            err.to_string(),
            "another instance of s6-svscan is already running on the same directory"
        );
    }

    #[test]
    fn the_messages_match_s6_svscan() {
        let _serial = crate::umask_serial();
        let cases = [
            (
                InitError::OpenForReading(CONTROL_FIFO, Errno::EACCES),
                "unable to open .s6-svscan/control for reading: Permission denied",
            ),
            (
                InitError::OpenForWriting(CONTROL_FIFO, Errno::ENXIO),
                "unable to open .s6-svscan/control for writing: No such device or address",
            ),
            (
                InitError::Lock(LOCK_FILE, Errno::ENOLCK),
                "unable to lock .s6-svscan/lock: No locks available",
            ),
            (
                InitError::OpenLock(LOCK_FILE, Errno::EROFS),
                "unable to open .s6-svscan/lock: Read-only file system",
            ),
            (
                InitError::Mkfifo(CONTROL_FIFO, Errno::EROFS),
                "unable to mkfifo .s6-svscan/control: Read-only file system",
            ),
            (
                InitError::StatFifo(CONTROL_FIFO, Errno::ELOOP),
                "unable to stat .s6-svscan/control: Too many levels of symbolic links",
            ),
        ];
        assert_system_errors(&cases);
    }

    // supervise (`supervise`, and `event` through trymkdir): SUPERVISE.md "Start-up" step 4.

    #[test]
    fn supervise_creates_the_dir_0700_the_lock_0644_and_the_fifo_0600_whatever_the_umask() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let _ctl = under_umask(0o277, || init_control_dir(dir.path(), &SUPERVISE)).unwrap();
        assert_eq!(mode(&dir.path().join("supervise")), 0o700);
        assert_eq!(mode(&dir.path().join("supervise/lock")), 0o644);
        let fifo = dir.path().join("supervise/control");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(mode(&fifo), 0o600);
    }

    #[test]
    fn supervise_keeps_the_mode_of_an_existing_fifo() {
        let _serial = crate::umask_serial();
        // s6-svperms may have changed it.
        let dir = tempfile::tempdir().unwrap();
        drop(init_control_dir(dir.path(), &SUPERVISE).unwrap());
        let fifo = dir.path().join("supervise/control");
        fs::set_permissions(&fifo, fs::Permissions::from_mode(0o620)).unwrap();
        drop(init_control_dir(dir.path(), &SUPERVISE).unwrap());
        assert_eq!(mode(&fifo), 0o620);
    }

    #[test]
    fn a_lock_held_elsewhere_means_another_supervise_is_running() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        drop(init_control_dir(dir.path(), &SUPERVISE).unwrap());
        let _holder = lock_as_another_process(&dir.path().join("supervise/lock"));
        let err = init_control_dir(dir.path(), &SUPERVISE).unwrap_err();
        assert_eq!(err, InitError::AlreadyRunning(SUPERVISE.already_running));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(
            err.to_string(),
            "another instance of s6-supervise is already running"
        );
    }

    #[test]
    fn supervise_messages_name_supervise() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("supervise")).unwrap();
        fs::write(dir.path().join("supervise/control"), b"").unwrap();
        let err = init_control_dir(dir.path(), &SUPERVISE).unwrap_err();
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), "supervise/control is not a FIFO");
        let cases = [
            (
                InitError::OpenLock(SUPERVISE.lock, Errno::EACCES),
                "unable to open supervise/lock: Permission denied",
            ),
            (
                InitError::Lock(SUPERVISE.lock, Errno::ENOLCK),
                "unable to lock supervise/lock: No locks available",
            ),
            (
                InitError::Mkfifo(SUPERVISE.fifo, Errno::EROFS),
                "unable to mkfifo supervise/control: Read-only file system",
            ),
            (
                InitError::StatFifo(SUPERVISE.fifo, Errno::EACCES),
                "unable to stat supervise/control: Permission denied",
            ),
            (
                InitError::OpenForReading(SUPERVISE.fifo, Errno::EACCES),
                "unable to open supervise/control for reading: Permission denied",
            ),
            (
                InitError::OpenForWriting(SUPERVISE.fifo, Errno::EACCES),
                "unable to open supervise/control for writing: Permission denied",
            ),
        ];
        assert_system_errors(&cases);
    }

    #[test]
    fn supervise_follows_a_dangling_supervise_symlink_and_creates_its_target() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let tmpfs = tempfile::tempdir().unwrap();
        let target = tmpfs.path().join("svc-supervise");
        symlink(&target, dir.path().join("supervise")).unwrap();
        drop(init_control_dir(dir.path(), &SUPERVISE).unwrap());
        assert_eq!(mode(&target), 0o700);
        assert!(target.join("lock").is_file());
        // **fix**: the next start finds the target there and uses it (C: `unable to mkdir
        // TARGET: File exists`).
        drop(init_control_dir(dir.path(), &SUPERVISE).unwrap());
    }

    #[test]
    fn trymkdir_creates_a_missing_directory_0700_whatever_the_umask() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let made = under_umask(0o277, || trymkdir(dir.path(), "event"));
        assert_eq!(made, Ok(Made::Created));
        assert_eq!(mode(&dir.path().join("event")), 0o700);
    }

    #[test]
    fn trymkdir_uses_an_existing_directory_as_it_is() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event");
        fs::create_dir(&event).unwrap();
        fs::set_permissions(&event, fs::Permissions::from_mode(0o3730)).unwrap();
        assert_eq!(trymkdir(dir.path(), "event"), Ok(Made::Existing));
        assert_eq!(mode(&event), 0o3730);
    }

    #[test]
    fn trymkdir_refuses_a_file_with_100() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("event"), b"").unwrap();
        let err = trymkdir(dir.path(), "event").unwrap_err();
        assert_eq!(err, InitError::NotADirectory("event"));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), "event exists and is not a directory");
    }

    #[test]
    fn trymkdir_creates_the_target_of_a_dangling_symlink_relative_to_the_base() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        symlink("real-event", dir.path().join("event")).unwrap();
        assert_eq!(trymkdir(dir.path(), "event"), Ok(Made::Created));
        assert_eq!(mode(&dir.path().join("real-event")), 0o700);
    }

    #[test]
    fn trymkdir_uses_the_existing_directory_a_symlink_points_to() {
        let _serial = crate::umask_serial();
        // **fix** (no upstream fix): C dies `unable to mkdir TARGET: File exists` (111).
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real-event")).unwrap();
        symlink("real-event", dir.path().join("event")).unwrap();
        assert_eq!(trymkdir(dir.path(), "event"), Ok(Made::Existing));
    }

    #[test]
    fn trymkdir_refuses_a_symlink_to_a_file_with_100() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), b"").unwrap();
        symlink("file", dir.path().join("supervise")).unwrap();
        let err = trymkdir(dir.path(), "supervise").unwrap_err();
        assert_eq!(err, InitError::NotADirectory("supervise"));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(err.to_string(), "supervise exists and is not a directory");
    }

    #[test]
    fn trymkdir_reports_a_target_it_cannot_make_by_the_target_name() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        symlink("missing/parent", dir.path().join("supervise")).unwrap();
        let err = trymkdir(dir.path(), "supervise").unwrap_err();
        assert_eq!(
            err,
            InitError::Mkdir("missing/parent".into(), Errno::ENOENT)
        );
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.to_string(),
            "unable to mkdir missing/parent: No such file or directory"
        );
    }

    #[test]
    fn trymkdir_refuses_a_symlink_target_of_512_bytes_or_more() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let long = "x/".repeat(255) + "xy"; // 512 bytes
        symlink(&long, dir.path().join("supervise")).unwrap();
        let err = trymkdir(dir.path(), "supervise").unwrap_err();
        assert_eq!(err, InitError::Readlink("supervise", Errno::ENAMETOOLONG));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.to_string(),
            "unable to readlink supervise: File name too long"
        );
        // One byte shorter is followed (and fails on its missing parents, by name).
        let dir = tempfile::tempdir().unwrap();
        symlink(&long[1..], dir.path().join("supervise")).unwrap();
        let err = trymkdir(dir.path(), "supervise").unwrap_err();
        assert!(matches!(err, InitError::Mkdir(_, Errno::ENOENT)), "{err:?}");
    }

    #[test]
    fn trymkdir_in_a_missing_base_is_a_mkdir_error() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        let err = trymkdir(&dir.path().join("nope"), "event").unwrap_err();
        assert_eq!(err, InitError::Mkdir("event".into(), Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.to_string(),
            "unable to mkdir event: No such file or directory"
        );
    }

    #[test]
    fn trymkdir_messages_for_stat_and_readlink_failures() {
        let _serial = crate::umask_serial();
        // A readlink error other than EINVAL is reported as the mkdir's EEXIST, as C does.
        assert_eq!(
            InitError::Mkdir("supervise".into(), Errno::EEXIST).to_string(),
            "unable to mkdir supervise: File exists"
        );
        assert_eq!(
            InitError::Stat("event", Errno::EACCES).to_string(),
            "unable to stat event: Permission denied"
        );
    }
}
