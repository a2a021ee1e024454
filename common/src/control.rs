//! The control FIFOs: svscan's `SCANDIR/.s6-svscan/control` and supervise's
//! `SERVICEDIR/supervise/control`, one byte per command (SVSCAN.md "Control FIFO bytes",
//! SUPERVISE.md "The control FIFO"), with one byte enum per program.
//!
//! [`write_control`] is s6's `s6_svc_writectl`, parametrised as it is by the control
//! subdirectory: open the FIFO write-only and non-blocking (so a missing reader is an error,
//! not a hang), then make it blocking and write every byte in one `write`. When the open fails
//! because a path component is missing, it finds out which one, so that the client can tell
//! "nobody is listening" from "the control directory is broken" from a system error. The
//! diagnosis is shared; the wording of the "broken" message differs between s6-svscanctl and
//! s6-svc, so each client names its [`Wording`].

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open, openat};
use nix::sys::stat::Mode;

use crate::diag::SysErr;
use crate::{EXIT_SYSTEM, EXIT_USAGE, write_all};

/// Defines a command enum whose discriminants are the FIFO bytes, with `ALL`, `byte` and
/// `from_byte`.
macro_rules! commands {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $byte:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $byte,)*
        }

        impl $name {
            /// Every command, in the order of the program's usage line.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The byte written to the FIFO (also the client's option letter).
            #[must_use]
            pub const fn byte(self) -> u8 {
                self as u8
            }

            /// The command a FIFO byte or option letter stands for, if any.
            #[must_use]
            pub fn from_byte(byte: u8) -> Option<$name> {
                $name::ALL.iter().copied().find(|c| c.byte() == byte)
            }
        }
    };
}

commands! {
    /// A command of svscan's control FIFO (`.s6-svscan/control`).
    SvscanCommand {
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
}

commands! {
    /// A command of supervise's control FIFO (`supervise/control`): the 21 bytes s6-supervise
    /// 2.12 acts on, in its order (`abqhkti12pcyroduDUxOQ`); it ignores every other byte.
    SuperviseCommand {
        /// `a`: SIGALRM to run.
        Alarm = b'a',
        /// `b`: SIGABRT to run.
        Abort = b'b',
        /// `q`: SIGQUIT to run.
        Quit = b'q',
        /// `h`: SIGHUP to run.
        Hangup = b'h',
        /// `k`: SIGKILL to run.
        Kill = b'k',
        /// `t`: SIGTERM to run.
        Terminate = b't',
        /// `i`: SIGINT to run.
        Interrupt = b'i',
        /// `1`: SIGUSR1 to run.
        Usr1 = b'1',
        /// `2`: SIGUSR2 to run.
        Usr2 = b'2',
        /// `p`: SIGSTOP to run, and mark it paused.
        Pause = b'p',
        /// `c`: SIGCONT to run, and mark it not paused.
        Continue = b'c',
        /// `y`: SIGWINCH to run.
        Winch = b'y',
        /// `r`: the down-signal to run, which is restarted if wanted up.
        Restart = b'r',
        /// `o`: run once: start if down, not restarted when it dies.
        Once = b'o',
        /// `d`: want down, and stop run.
        Down = b'd',
        /// `u`: want up, and start run if down.
        Up = b'u',
        /// `D`: as `d`, and create the `down` file.
        DownWithFile = b'D',
        /// `U`: as `u`, and remove the `down` file.
        UpWithoutFile = b'U',
        /// `x`: exit once the service is down.
        Exit = b'x',
        /// `O`: once at most: want down, without stopping run.
        OnceAtMost = b'O',
        /// `Q`: as `O`, and create the `down` file.
        OnceAtMostWithFile = b'Q',
    }
}

/// Why [`write_control`] could not deliver the commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The FIFO has no reader (ENXIO), or the control subdirectory does not exist.
    NotListening,
    /// The control subdirectory exists but something about it is wrong; the errno of the
    /// failing open.
    BadControlDir(Errno),
    /// Any other failure: the directory itself, permissions, a failed write.
    System(Errno),
}

/// How a client words [`ControlError::BadControlDir`] (the other two are worded alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wording {
    /// s6-svscanctl: `something is wrong with the DIR/SUB directory. errno reported: ERR`.
    ErrnoReported,
    /// s6-svc (skalibs' `strerr_dief3sys`): `something is wrong with the DIR/SUB directory:
    /// ERR`.
    Sys,
}

impl ControlError {
    /// 100 when nobody listens or the control directory is wrong, 111 for a system error
    /// (as s6-svscanctl and s6-svc).
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            ControlError::NotListening | ControlError::BadControlDir(_) => EXIT_USAGE,
            ControlError::System(_) => EXIT_SYSTEM,
        }
    }

    /// The fatal message (without the `PROG: fatal: ` prefix) for a client that tried to
    /// control `dir` through its `ctl_subdir`, worded as `wording` says.
    pub fn message<'a>(
        &'a self,
        dir: &'a Path,
        ctl_subdir: &'a str,
        wording: Wording,
    ) -> impl fmt::Display + 'a {
        Message {
            error: *self,
            dir,
            ctl_subdir,
            wording,
        }
    }
}

struct Message<'a> {
    error: ControlError,
    dir: &'a Path,
    ctl_subdir: &'a str,
    wording: Wording,
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        match self.error {
            ControlError::NotListening => {
                write!(f, "unable to control {dir}: supervisor not listening")
            }
            ControlError::BadControlDir(e) => {
                let sep = match self.wording {
                    Wording::ErrnoReported => ". errno reported: ",
                    Wording::Sys => ": ",
                };
                let sub = self.ctl_subdir;
                write!(
                    f,
                    "something is wrong with the {dir}/{sub} directory{sep}{}",
                    SysErr(e)
                )
            }
            ControlError::System(e) => write!(f, "unable to control {dir}: {}", SysErr(e)),
        }
    }
}

/// Sends `bytes` to the program listening on `dir/ctl_subdir/control`, in one `write`
/// (`s6_svc_writectl(dir, ctl_subdir, bytes)`): svscan with `ctl_subdir` = `.s6-svscan`,
/// supervise with `supervise`.
///
/// With no bytes it still opens the FIFO, so a missing listener is still reported.
///
/// # Errors
/// [`ControlError::NotListening`] when nobody reads the FIFO or `ctl_subdir` is missing,
/// [`ControlError::BadControlDir`] when `ctl_subdir` is unusable, [`ControlError::System`]
/// for anything else (including EPIPE if the listener dies between the open and the write).
pub fn write_control(dir: &Path, ctl_subdir: &str, bytes: &[u8]) -> Result<(), ControlError> {
    let fifo = dir.join(ctl_subdir).join("control");
    let fd = match open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => return Err(ControlError::NotListening),
        Err(e @ (Errno::ENOENT | Errno::ENOTDIR | Errno::EISDIR)) => {
            return Err(diagnose_missing(dir, ctl_subdir, e));
        }
        Err(e) => return Err(ControlError::System(e)),
    };
    send(&fd, bytes).map_err(ControlError::System)
}

/// After the control open failed with `open_err` (ENOENT, ENOTDIR or EISDIR): is it `dir`
/// itself, a missing `ctl_subdir` (not listening), or a broken one?
fn diagnose_missing(dir: &Path, ctl_subdir: &str, open_err: Errno) -> ControlError {
    let dir = match open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(e) => return ControlError::System(e),
    };
    match openat(
        &dir,
        ctl_subdir,
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
    write_all(fd, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    use nix::unistd::mkfifo;

    use crate::{CONTROL_DIR, CONTROL_FIFO, SUPERVISE_DIR};

    /// svscan's FIFO in a new scan directory.
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

    fn open_reader(fifo: &Path) -> OwnedFd {
        open(
            fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    /// `write_control` on svscan's control subdirectory.
    fn svscanctl(dir: &Path, bytes: &[u8]) -> Result<(), ControlError> {
        write_control(dir, CONTROL_DIR, bytes)
    }

    /// The message as s6-svscanctl words it.
    fn svscanctl_message(err: ControlError, dir: &str) -> String {
        err.message(Path::new(dir), CONTROL_DIR, Wording::ErrnoReported)
            .to_string()
    }

    #[test]
    fn every_svscan_command_round_trips_through_its_byte() {
        let letters: Vec<u8> = SvscanCommand::ALL.iter().map(|c| c.byte()).collect();
        assert_eq!(letters, b"zabhitqnN");
        for &c in SvscanCommand::ALL {
            assert_eq!(SvscanCommand::from_byte(c.byte()), Some(c));
        }
        for other in [b'p', b'r', b's', b'0', b'6', b'7', b'8', b'x', 0] {
            assert_eq!(SvscanCommand::from_byte(other), None);
        }
    }

    #[test]
    fn supervise_takes_the_21_letters_of_s6_supervise_2_12() {
        // SUPERVISE.md "The control FIFO": `a b q h k t i 1 2 p c y r o d u D U x O Q`.
        let letters: Vec<u8> = SuperviseCommand::ALL.iter().map(|c| c.byte()).collect();
        assert_eq!(letters, b"abqhkti12pcyroduDUxOQ");
        for &c in SuperviseCommand::ALL {
            assert_eq!(SuperviseCommand::from_byte(c.byte()), Some(c));
        }
        for other in [
            b's', b'T', b'w', b'z', b'n', b'N', b'P', b'C', b'K', b'l', 0,
        ] {
            assert_eq!(SuperviseCommand::from_byte(other), None, "{other}");
        }
    }

    #[test]
    fn commands_arrive_in_order_in_one_write() {
        let dir = scandir_with_fifo();
        let reader = open_reader(&dir.path().join(CONTROL_FIFO));
        svscanctl(dir.path(), b"aNzt").unwrap();
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(&reader, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"aNzt");
    }

    #[test]
    fn the_control_subdirectory_is_a_parameter() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(SUPERVISE_DIR)).unwrap();
        let fifo = dir.path().join(SUPERVISE_DIR).join("control");
        mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        let reader = open_reader(&fifo);
        write_control(dir.path(), SUPERVISE_DIR, b"du").unwrap();
        let mut buf = [0u8; 4];
        let n = nix::unistd::read(&reader, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"du");
        // The same directory has no `.s6-svscan`: nobody listens there.
        assert_eq!(svscanctl(dir.path(), b"a"), Err(ControlError::NotListening));
    }

    #[test]
    fn a_fifo_without_reader_means_not_listening() {
        let dir = scandir_with_fifo();
        assert_eq!(svscanctl(dir.path(), b"a"), Err(ControlError::NotListening));
    }

    #[test]
    fn a_missing_control_dir_means_not_listening() {
        let dir = tempfile::tempdir().unwrap();
        let err = svscanctl(dir.path(), b"a").unwrap_err();
        assert_eq!(err, ControlError::NotListening);
        assert_eq!(err.exit_code(), 100);
        assert_eq!(
            svscanctl_message(err, "/x"),
            "unable to control /x: supervisor not listening"
        );
    }

    #[test]
    fn a_missing_scandir_is_a_system_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = svscanctl(&dir.path().join("nope"), b"").unwrap_err();
        assert_eq!(err, ControlError::System(Errno::ENOENT));
        assert_eq!(err.exit_code(), 111);
        assert_eq!(
            svscanctl_message(err, "nope"),
            "unable to control nope: No such file or directory"
        );
    }

    #[test]
    fn a_control_dir_that_is_a_file_is_a_bad_control_dir() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONTROL_DIR), b"").unwrap();
        let err = svscanctl(dir.path(), b"a").unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::ENOTDIR));
        assert_eq!(err.exit_code(), 100);
        assert_eq!(
            svscanctl_message(err, "s"),
            "something is wrong with the s/.s6-svscan directory. errno reported: Not a directory"
        );
    }

    #[test]
    fn svc_words_a_bad_control_dir_as_strerr_dief3sys() {
        // SUPERVISE.md "svc": `something is wrong with the DIR/supervise directory: ERR`.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(SUPERVISE_DIR)).unwrap();
        let err = write_control(dir.path(), SUPERVISE_DIR, b"u").unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::ENOENT));
        assert_eq!(
            err.message(Path::new("sv"), SUPERVISE_DIR, Wording::Sys)
                .to_string(),
            "something is wrong with the sv/supervise directory: No such file or directory"
        );
        assert_eq!(
            ControlError::NotListening
                .message(Path::new("sv"), SUPERVISE_DIR, Wording::Sys)
                .to_string(),
            "unable to control sv: supervisor not listening"
        );
    }

    #[test]
    fn a_control_dir_without_fifo_reports_the_open_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(CONTROL_DIR)).unwrap();
        let err = svscanctl(dir.path(), b"a").unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::ENOENT));
    }

    #[test]
    fn a_control_that_is_a_directory_is_a_bad_control_dir() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(CONTROL_FIFO)).unwrap();
        let err = svscanctl(dir.path(), b"a").unwrap_err();
        assert_eq!(err, ControlError::BadControlDir(Errno::EISDIR));
    }

    #[test]
    fn a_dangling_control_dir_symlink_means_not_listening() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/nonexistent-target", dir.path().join(CONTROL_DIR)).unwrap();
        let err = svscanctl(dir.path(), b"a").unwrap_err();
        assert_eq!(err, ControlError::NotListening);
    }

    #[test]
    fn a_reader_that_goes_away_after_the_open_is_a_broken_pipe() {
        // The reader closes after the open but before the write: EPIPE, not a SIGPIPE death
        // (the Rust runtime ignores SIGPIPE).
        let dir = scandir_with_fifo();
        let fifo = dir.path().join(CONTROL_FIFO);
        let reader = open_reader(&fifo);
        let fd = open(
            &fifo,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        drop(reader);
        assert_eq!(send(&fd, b"a"), Err(Errno::EPIPE));
        assert_eq!(
            svscanctl_message(ControlError::System(Errno::EPIPE), "d"),
            "unable to control d: Broken pipe"
        );
    }
}
