//! What `svscan` and `svscanctl` share, and nothing else: the names under `.s6-svscan`, the
//! control-FIFO protocol ([`protocol`]), the control directory with its lock and FIFO
//! ([`ctldir`]), and s6-style diagnostics with their exit codes ([`diag`]).
//!
//! This is the Rust counterpart of s6's `libs6` pieces (`s6_svc_writectl`, `s6/supervise.h`)
//! and of skalibs' `strerr`. It is not a place for svscan's own logic: the scanner, the table
//! and the event loop live in the `svscan` crate. Errors are typed (an enum with `Display` and
//! an exit code); the binaries decide how to die.
#![deny(unsafe_code)]

pub mod ctldir;
pub mod diag;
pub mod ftrig;
pub mod protocol;
pub mod sig;
pub mod status;
pub mod svlisten;
#[allow(unsafe_code)]
mod sys;
pub mod tai;

/// Exit code for a usage error or a permanent failure (skalibs convention).
pub const EXIT_USAGE: i32 = 100;
/// Exit code for a failed system call (skalibs convention).
pub const EXIT_SYSTEM: i32 = 111;

/// The control directory, relative to the scan directory.
pub const CONTROL_DIR: &str = ".s6-svscan";
/// The control FIFO, relative to the scan directory.
pub const CONTROL_FIFO: &str = ".s6-svscan/control";
/// The lock file, relative to the scan directory.
pub const LOCK_FILE: &str = ".s6-svscan/lock";
/// The program exec'd when svscan leaves its loop.
pub const FINISH_PROG: &str = ".s6-svscan/finish";
/// The program exec'd when svscan meets an unrecoverable error.
pub const CRASH_PROG: &str = ".s6-svscan/crash";
/// Prefix of the per-signal programs (`.s6-svscan/SIGHUP`, ...).
pub const SIGNAL_PROG_PREFIX: &str = ".s6-svscan/SIG";
