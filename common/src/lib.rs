//! What two or more of the programs share, and nothing else, as s6's `libs6` is for its
//! programs: the control FIFOs and their writer ([`control`], `s6_svc_writectl`), the
//! control-directory maker of svscan and supervise ([`ctldir`]), the daemons' record locks
//! ([`lock`]), `posix_spawn` with an empty mask and default dispositions ([`spawn`]), one
//! POSIX getopt ([`getopt`]), s6-style diagnostics with their exit codes ([`diag`], skalibs'
//! `strerr`), the formats supervise shares with its clients: TAI64N stamps ([`tai`]), the
//! status file ([`status`]), the ftrig fifodir ([`ftrig`]) and the signal names ([`sig`]),
//! and the protocol of svscan's request socket ([`svscan_socket`]), beyond s6.
//!
//! It is not a place for one program's logic: svscan's scanner, table and loop live in the
//! `svscan` crate. Errors are typed (an enum with `Display` and an exit code); the binaries
//! decide how to die. `unsafe` lives in [`sys`] only.
#![deny(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::AsFd;

use nix::errno::Errno;

pub mod control;
pub mod ctldir;
pub mod deadline;
pub mod diag;
pub mod ftrig;
pub mod getopt;
pub mod json;
pub mod lock;
pub mod sig;
pub mod spawn;
pub mod status;
pub mod svlisten;
pub mod svscan_socket;
#[allow(unsafe_code)]
pub mod sys;
pub mod tai;

/// Exit code for a usage error or a permanent failure (skalibs convention).
pub const EXIT_USAGE: i32 = 100;
/// Exit code for a failed system call (skalibs convention).
pub const EXIT_SYSTEM: i32 = 111;

/// svscan's control directory, relative to the scan directory.
pub const CONTROL_DIR: &str = ".s6-svscan";
/// svscan's control FIFO, relative to the scan directory.
pub const CONTROL_FIFO: &str = ".s6-svscan/control";
/// svscan's lock file, relative to the scan directory.
pub const LOCK_FILE: &str = ".s6-svscan/lock";
/// The program svscan execs when it leaves its loop (a C string: it is exec'd as is).
pub const FINISH_PROG: &CStr = c".s6-svscan/finish";
/// The program svscan execs when it meets an unrecoverable error.
pub const CRASH_PROG: &CStr = c".s6-svscan/crash";
/// Prefix of svscan's per-signal programs, followed by the signal's name without `SIG`
/// (`.s6-svscan/SIGHUP`, ...).
pub const SIGNAL_PROG_PREFIX: &str = ".s6-svscan/SIG";
/// svscan's request socket (beyond s6: `svscanctl -w` and `-l`), relative to the scan directory.
pub const SVSCAN_SOCKET: &str = ".s6-svscan/socket";
/// svscan's event fifodir (beyond s6: `s` after each complete scan, `x` when it leaves its
/// loop), relative to the scan directory.
pub const SVSCAN_EVENT_DIR: &str = ".s6-svscan/event";

/// supervise's control directory, relative to the service directory (`S6_SUPERVISE_CTLDIR`).
pub const SUPERVISE_DIR: &str = "supervise";

/// Writes all of `bytes` (skalibs `allwrite`), retrying on EINTR and short writes.
pub fn write_all<Fd: AsFd>(fd: Fd, mut bytes: &[u8]) -> Result<(), Errno> {
    let fd = fd.as_fd();
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The umask is per process and unit tests run in threads: every test that sets it (through
/// [`ctldir`], which works under umask 0) or depends on it takes this lock first.
#[cfg(test)]
pub(crate) fn umask_serial() -> std::sync::MutexGuard<'static, ()> {
    static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    UMASK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
