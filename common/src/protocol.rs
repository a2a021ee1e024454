//! The control-FIFO protocol: one byte per command, written by a client into
//! `SCANDIR/.s6-svscan/control`, read by svscan until the FIFO is empty.
//!
//! [`write_control`] is s6's `s6_svc_writectl`: open the FIFO write-only and non-blocking (so
//! a missing reader is an error, not a hang), then write every byte in one `write`. When the
//! open fails because a path component is missing, it finds out which one, so that the client
//! can tell "nobody is listening" from "the control directory is broken" from a system error.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open, openat};
use nix::sys::stat::Mode;

use crate::diag::SysErr;
use crate::{CONTROL_DIR, CONTROL_FIFO, EXIT_SYSTEM, EXIT_USAGE};

/// The most commands `svscanctl` sends at once (as s6-svscanctl's buffer).
pub const MAX_COMMANDS: usize = 64;

/// A command of the control FIFO, with its byte as the discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// `z`: reap dead children now.
    Reap = b'z',
    /// `a`: scan now (as SIGALRM).
    Alarm = b'a',
    /// `b`: leave the loop without killing or waiting (as SIGABRT).
    Abort = b'b',
    /// `h`: scan, then kill inactive supervisors (as SIGHUP's builtin).
    Hangup = b'h',
    /// `i`: kill all and leave, waiting for the supervisors (as SIGINT's builtin).
    Interrupt = b'i',
    /// `t`: kill all and leave, waiting for the supervisors (as SIGTERM's builtin).
    Terminate = b't',
    /// `q`: kill all with SIGTERM, loggers too, and leave (as SIGQUIT's builtin).
    Quit = b'q',
    /// `n`: kill inactive supervisors (loggers get SIGHUP).
    Nuke = b'n',
    /// `N`: kill inactive supervisors, loggers with SIGTERM too.
    NukeTerm = b'N',
}

impl Command {
    /// Every command, in the order of the usage line `-zabhitqnN`.
    pub const ALL: [Command; 9] = [
        Command::Reap,
        Command::Alarm,
        Command::Abort,
        Command::Hangup,
        Command::Interrupt,
        Command::Terminate,
        Command::Quit,
        Command::Nuke,
        Command::NukeTerm,
    ];

    /// The byte written to the FIFO (also the option letter of `svscanctl`).
    #[must_use]
    pub const fn byte(self) -> u8 {
        self as u8
    }

    /// The command a FIFO byte or option letter stands for, if any.
    #[must_use]
    pub fn from_byte(byte: u8) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.byte() == byte)
    }
}

/// Why [`write_control`] could not deliver the commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The FIFO has no reader (ENXIO), or there is no `.s6-svscan` at all.
    NotListening,
    /// `.s6-svscan` exists but something about it is wrong; the errno of the failing open.
    BadControlDir(Errno),
    /// Any other failure: the scan directory itself, permissions, a failed write.
    System(Errno),
}

impl ControlError {
    /// The exit code s6-svscanctl uses for this outcome.
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            ControlError::NotListening | ControlError::BadControlDir(_) => EXIT_USAGE,
            ControlError::System(_) => EXIT_SYSTEM,
        }
    }

    /// The fatal message for a client that tried to control `scandir`, as s6-svscanctl words
    /// it (without the `PROG: fatal: ` prefix).
    pub fn message<'a>(&'a self, scandir: &'a Path) -> impl fmt::Display + 'a {
        Message {
            error: *self,
            scandir,
        }
    }
}

struct Message<'a> {
    error: ControlError,
    scandir: &'a Path,
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.scandir.display();
        match self.error {
            ControlError::NotListening => {
                write!(f, "unable to control {dir}: supervisor not listening")
            }
            ControlError::BadControlDir(e) => write!(
                f,
                "something is wrong with the {dir}/{CONTROL_DIR} directory. errno reported: {}",
                SysErr(e)
            ),
            ControlError::System(e) => write!(f, "unable to control {dir}: {}", SysErr(e)),
        }
    }
}

/// Sends `commands` to the svscan running on `scandir`, in order, in one `write`.
///
/// With no commands it still opens the FIFO, so a missing listener is still reported.
///
/// # Errors
/// [`ControlError::NotListening`] when nobody reads the FIFO or `.s6-svscan` is missing,
/// [`ControlError::BadControlDir`] when `.s6-svscan` is unusable, [`ControlError::System`]
/// for anything else (including EPIPE if svscan dies between the open and the write).
pub fn write_control(scandir: &Path, commands: &[Command]) -> Result<(), ControlError> {
    let fifo = scandir.join(CONTROL_FIFO);
    let fd = match open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => return Err(ControlError::NotListening),
        Err(e @ (Errno::ENOENT | Errno::ENOTDIR | Errno::EISDIR)) => {
            return Err(diagnose_missing(scandir, e));
        }
        Err(e) => return Err(ControlError::System(e)),
    };
    let bytes: Vec<u8> = commands.iter().map(|c| c.byte()).collect();
    send(&fd, &bytes).map_err(ControlError::System)
}

/// After the control open failed with `open_err` (ENOENT, ENOTDIR or EISDIR): is it the scan
/// directory, a missing `.s6-svscan` (not listening), or a broken one?
fn diagnose_missing(scandir: &Path, open_err: Errno) -> ControlError {
    let dir = match open(
        scandir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(e) => return ControlError::System(e),
    };
    match openat(
        &dir,
        CONTROL_DIR,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Err(Errno::ENOENT) => ControlError::NotListening,
        Err(e) => ControlError::BadControlDir(e),
        Ok(_) => ControlError::BadControlDir(open_err),
    }
}

/// Makes `fd` blocking again and writes all of `bytes` (one `write` unless the pipe is full).
fn send(fd: &OwnedFd, bytes: &[u8]) -> Result<(), Errno> {
    let flags = OFlag::from_bits_retain(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    let mut rest = bytes;
    while !rest.is_empty() {
        match nix::unistd::write(fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    use nix::sys::stat::Mode;
    use nix::unistd::mkfifo;

    fn scandir_with_fifo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(CONTROL_DIR)).unwrap();
        mkfifo(
            &dir.path().join(CONTROL_FIFO),
            Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        dir
    }

    fn open_reader(dir: &Path) -> OwnedFd {
        open(
            &dir.join(CONTROL_FIFO),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn every_command_round_trips_through_its_byte() {
        let letters: Vec<u8> = Command::ALL.iter().map(|c| c.byte()).collect();
        assert_eq!(letters, b"zabhitqnN");
        for c in Command::ALL {
            assert_eq!(Command::from_byte(c.byte()), Some(c));
        }
        for other in [b'p', b'r', b's', b'0', b'6', b'7', b'8', b'x', 0] {
            assert_eq!(Command::from_byte(other), None);
        }
    }

    #[test]
    fn commands_arrive_in_order_in_one_write() {
        let dir = scandir_with_fifo();
        let reader = open_reader(dir.path());
        let cmds = [
            Command::Alarm,
            Command::NukeTerm,
            Command::Reap,
            Command::Terminate,
        ];
        write_control(dir.path(), &cmds).unwrap();
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(&reader, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"aNzt");
    }

    #[test]
    fn a_fifo_without_reader_means_not_listening() {
        let dir = scandir_with_fifo();
        assert_eq!(
            write_control(dir.path(), &[Command::Alarm]),
            Err(ControlError::NotListening)
        );
    }

    #[test]
    fn a_missing_control_dir_means_not_listening() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_control(dir.path(), &[Command::Alarm]).unwrap_err();
        assert_eq!(err, ControlError::NotListening);
        assert_eq!(err.exit_code(), 100);
        assert_eq!(
            err.message(Path::new("/x")).to_string(),
            "unable to control /x: supervisor not listening"
        );
    }

    #[test]
    fn a_missing_scandir_is_a_system_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_control(&dir.path().join("nope"), &[]).unwrap_err();
        assert_eq!(err, ControlError::System(Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            err.message(Path::new("nope")).to_string(),
            "unable to control nope: No such file or directory"
        );
    }

    #[test]
    fn a_control_dir_that_is_a_file_is_a_bad_control_dir() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONTROL_DIR), b"").unwrap();
        let err = write_control(dir.path(), &[Command::Alarm]).unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::ENOTDIR));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(
            err.message(Path::new("s")).to_string(),
            "something is wrong with the s/.s6-svscan directory. errno reported: Not a directory"
        );
    }

    #[test]
    fn a_control_dir_without_fifo_reports_the_open_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(CONTROL_DIR)).unwrap();
        let err = write_control(dir.path(), &[Command::Alarm]).unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::ENOENT));
    }

    #[test]
    fn a_control_that_is_a_directory_is_a_bad_control_dir() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(CONTROL_FIFO)).unwrap();
        let err = write_control(dir.path(), &[Command::Alarm]).unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::EISDIR));
    }

    #[test]
    fn a_dangling_control_dir_symlink_means_not_listening() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/nonexistent-target", dir.path().join(CONTROL_DIR)).unwrap();
        let err = write_control(dir.path(), &[Command::Alarm]).unwrap_err();
        assert_eq!(err, ControlError::NotListening);
    }

    #[test]
    fn a_reader_that_goes_away_after_the_open_is_a_broken_pipe() {
        // The reader closes after the open but before the write: EPIPE, not a SIGPIPE death
        // (the Rust runtime ignores SIGPIPE).
        let dir = scandir_with_fifo();
        let reader = open_reader(dir.path());
        let fd = open(
            &dir.path().join(CONTROL_FIFO),
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        drop(reader);
        assert_eq!(send(&fd, b"a"), Err(Errno::EPIPE));
        assert_eq!(
            ControlError::System(Errno::EPIPE)
                .message(Path::new("d"))
                .to_string(),
            "unable to control d: Broken pipe"
        );
    }
}
