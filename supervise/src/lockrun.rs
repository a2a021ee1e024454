//! The lock-fd helper (SUPERVISE.md, "Starting run", step 1, **fix**): supervise re-executed
//! as `/proc/self/exe` with [`ARGV0`], in the service directory, in run's new session, with
//! run's fds. It opens `supervise/service-lock`, puts it on fd LK, takes an fcntl write lock
//! on LK **waiting** for it (supervise itself never waits), and execs `./run NAME`, which so
//! holds the lock on LK for its whole life (the lock survives exec, and LK is not CLOEXEC).
//!
//! The fd is moved to LK **before** the lock is taken: closing any descriptor of a file drops
//! the process's POSIX locks on it, which is why `s6-setlock -d LK` (lock, then move and close
//! the original) leaves the service unlocked unless LK was the number `open` returned.
//!
//! Failures exit 1 with `unable to open supervise/service-lock: ERR` or `unable to lock
//! supervise/service-lock: ERR`; a failed exec of `./run` exits 127 (ENOENT) or 126, as
//! s6-setlock's exec would: for supervise each is an ordinary death of run.
#![forbid(unsafe_code)]

use std::ffi::{CStr, CString, OsString};
use std::os::fd::{IntoRawFd, RawFd};
use std::os::unix::ffi::OsStringExt;

use common::diag::SysErr;
use common::fatal;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;

use crate::files::uint0_scan;
use crate::start::{RUN, SERVICE_LOCK};
use crate::sys;

/// The `argv[0]` that selects the helper mode: not a name supervise is ever run as.
pub const ARGV0: &CStr = c"s6-supervise (lock-fd)";

/// Exit code when the lock cannot be taken (as `s6-setlock`'s "could not lock").
const EXIT_LOCK: i32 = 1;

/// The helper: `ARGV0 LK PROG NAME`.
pub fn main(mut args: impl Iterator<Item = OsString>) -> ! {
    let lk = args.next().unwrap_or_default();
    let prog = args.next().unwrap_or_default();
    let name = args.next().unwrap_or_default();
    common::diag::set_prog(&prog.to_string_lossy());
    let Some(lk) = uint0_scan(lk.as_encoded_bytes()).and_then(|n| RawFd::try_from(n).ok()) else {
        fatal!(common::EXIT_USAGE, "invalid lock-fd");
    };
    let Ok(name) = CString::new(name.into_vec()) else {
        fatal!(common::EXIT_USAGE, "invalid service name");
    };

    // Not CLOEXEC: the service inherits it.
    let fd = open(
        SERVICE_LOCK,
        OFlag::O_WRONLY | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o666),
    )
    .unwrap_or_else(|e| {
        fatal!(
            EXIT_LOCK,
            "unable to open supervise/service-lock: {}",
            SysErr(e)
        )
    })
    .into_raw_fd();
    if let Err(e) = sys::move_fd_to(fd, lk).and_then(|()| sys::lock_wait_raw(lk)) {
        fatal!(
            EXIT_LOCK,
            "unable to lock supervise/service-lock: {}",
            SysErr(e)
        );
    }

    // The Rust runtime ignored SIGPIPE in this image; the service gets the default back.
    let _ = sys::default_disposition(Signal::SIGPIPE);
    let Err(e) = nix::unistd::execv(RUN, &[RUN, name.as_c_str()]);
    let code = if e == Errno::ENOENT { 127 } else { 126 };
    fatal!(code, "unable to exec ./run: {}", SysErr(e))
}
