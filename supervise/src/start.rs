//! Starting run (SUPERVISE.md, "Starting run", supervise.c:256-359): `lock-fd`, then
//! `notification-fd`, then the spawn of `./run NAME` in a new session.
//!
//! A failure before or at the spawn leaves the service down and retries in 60 s (or never,
//! for a lock-fd equal to the notification-fd); `u`, `o` and `U` retry at once.
//!
//! lock-fd (**fix**, no upstream fix): the service must hold an fcntl write lock on
//! `supervise/service-lock` on fd LK, acquired blocking **in the child**, for any LK. fcntl
//! locks belong to a process, so supervise cannot take it for the child, and it must never
//! block itself. C 2.12 spawns `s6-setlock -d LK -- ./run NAME` (wrong arguments; fixed
//! upstream in 2ff7dfc), and even the fixed command leaves the service unlocked unless LK
//! happens to be the number `open` returns, because s6-setlock locks first and then moves
//! the fd, and closing the original drops the lock. Ours spawns supervise itself
//! (`/proc/self/exe`) in its lock-fd helper mode (see `lockrun`): it opens the file, puts it
//! on LK, locks LK, waiting if need be, and execs `./run NAME`. The start counts as
//! successful at the spawn (`u` is published while the helper may still be waiting), as
//! with C's s6-setlock.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use common::diag::SysErr;
use common::warn;
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{ftruncate, pipe2};

use crate::daemon::Supervise;
use crate::events;
use crate::files::{self, LOCK_FD, NOTIFICATION_FD};
use crate::lockrun;
use crate::state::State;
use common::lock;
use common::spawn::{FileAction, FileActions, spawn};
use common::tai::Tai64n;

/// After a failed start, the next try is this far away.
pub const SPAWN_RETRY: Duration = Duration::from_secs(60);
/// The service's program; also its `argv[0]`, literally.
pub const RUN: &CStr = c"./run";
/// supervise's own binary, for the lock-fd helper: the running image, whatever its path or
/// name (svscan may have found it in PATH, or it may be bind-mounted over `s6-supervise`).
const SELF_EXE: &CStr = c"/proc/self/exe";
/// The file the service locks on fd LK.
pub const SERVICE_LOCK: &CStr = c"supervise/service-lock";
/// The same, as a path.
const SERVICE_LOCK_PATH: &str = "supervise/service-lock";

/// A decimal number as a NUL-terminated string, in a stack buffer.
pub struct Decimal {
    buf: [u8; 12],
    len: usize,
}

impl Decimal {
    #[must_use]
    pub fn new(mut n: u32) -> Decimal {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut buf = [0u8; 12];
        let len = digits.len() - i;
        buf[..len].copy_from_slice(&digits[i..]);
        Decimal { buf, len }
    }

    #[must_use]
    pub fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"0")
    }
}

impl Supervise {
    /// "start" (`trystart`).
    pub fn start(&mut self) {
        let Ok(lock_fd) = self.check_lock_fd() else {
            return;
        };
        let notification_fd = files::read_uint(NOTIFICATION_FD);
        if let Some(n) = notification_fd {
            if u64::from(n) > self.maxfd {
                // C carries on: the spawn then fails with EBADF and is retried in 60 s.
                warn!("invalid notification-fd");
            }
            if lock_fd == Some(n) {
                self.deadline = None;
                warn!("unable to start service: notification-fd and lock-fd are the same");
                return;
            }
        }
        let pipe = match notification_fd.map(|n| notification_pipe().map(|p| (p, n))) {
            None => None,
            Some(Ok(pipe)) => Some(pipe),
            Some(Err(e)) => {
                self.timeout_in(SPAWN_RETRY);
                warn!(
                    "unable to create notification pipe (waiting 60 seconds): {}",
                    SysErr(e)
                );
                return;
            }
        };
        let write_end = pipe.as_ref().map(|((_, w), n)| (w.as_raw_fd(), *n));
        let spawned = self.spawn_run(lock_fd, write_end);
        let (program, result) = spawned;
        match result {
            Ok(pid) => {
                // The write end is the child's now; keep only the read end.
                self.notification = pipe.map(|((r, _), _)| r);
                self.deadline = None;
                self.throttle.started();
                self.state = State::Up;
                self.status.ready = false;
                self.status.stamp = Tai64n::now();
                self.status.pid = u64::try_from(pid.as_raw()).unwrap_or(0);
                self.announce();
                events::publish(events::UP);
            }
            Err(e) => {
                self.timeout_in(SPAWN_RETRY);
                warn!(
                    "unable to spawn {} (waiting 60 seconds): {}",
                    program.to_str().unwrap_or("?"),
                    SysErr(e)
                );
            }
        }
    }

    /// The lock-fd checks done by supervise itself (it never takes the lock): `Ok(Some(LK))`
    /// to run the service locked, `Ok(None)` without a lock, `Err(())` to give up this start
    /// (the deadline is set).
    fn check_lock_fd(&mut self) -> Result<Option<u32>, ()> {
        let Some(lk) = files::read_uint(LOCK_FD) else {
            return Ok(None);
        };
        if u64::from(lk) > self.maxfd {
            warn!("invalid lock-fd");
            return Ok(None);
        }
        match check_service_lock() {
            Ok(()) => Ok(Some(lk)),
            Err(()) => {
                self.timeout_in(SPAWN_RETRY);
                Err(())
            }
        }
    }

    /// Spawns run (or the lock-fd helper) with the notification pipe's write end moved to
    /// `notification`'s number. Returns the program named in a failure's warning.
    fn spawn_run(
        &mut self,
        lock_fd: Option<u32>,
        notification: Option<(RawFd, u32)>,
    ) -> (&'static CStr, Result<nix::unistd::Pid, Errno>) {
        let program = if lock_fd.is_some() { SELF_EXE } else { RUN };
        let actions = match notification {
            None => None,
            Some((from, to)) => match actions_for(&mut self.run_actions, from, to) {
                Ok(actions) => Some(actions),
                Err(e) => return (program, Err(e)),
            },
        };
        let result = if let Some(lk) = lock_fd {
            let lk = Decimal::new(lk);
            let argv = [
                lockrun::ARGV0,
                lk.as_c_str(),
                self.prog.as_c_str(),
                self.name.as_c_str(),
            ];
            spawn(&self.spawn_attr, SELF_EXE, &argv, actions)
        } else {
            let argv = [RUN, self.name.as_c_str()];
            spawn(&self.spawn_attr, RUN, &argv, actions)
        };
        (program, result)
    }
}

/// The file actions moving the pipe's write end `from` to `to`: the last spawn's when the
/// numbers are the same (they usually are: the same numbers are freed and reused).
fn actions_for(
    cache: &mut Option<FileActions>,
    from: RawFd,
    to: u32,
) -> Result<&FileActions, Errno> {
    // A target beyond any fd number is EBADF, as glibc says for one beyond the limit.
    let to = RawFd::try_from(to).map_err(|_| Errno::EBADF)?;
    let moves = [FileAction::Dup2 { from, to }];
    if !cache.as_ref().is_some_and(|fa| fa.is(&moves)) {
        *cache = None;
        *cache = Some(FileActions::new(&moves)?);
    }
    cache.as_ref().ok_or(Errno::EINVAL)
}

/// The notification pipe, CLOEXEC, its read end non-blocking (**fix**, see `readiness`): the
/// write end, the service's, keeps blocking writes, as C gives it.
fn notification_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC)?;
    fcntl(r.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok((r, w))
}

/// supervise's side of lock-fd: `supervise/service-lock` exists (**fix** a456cc8: created if
/// missing; C 2.12 opened it without O_CREAT, so every start failed), is emptied if a
/// previous service wrote to it, and whether someone holds it is reported. Failures are
/// warnings; `Err` gives up this start.
fn check_service_lock() -> Result<(), ()> {
    let fd: OwnedFd = open(
        SERVICE_LOCK,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )
    .map_err(|e| {
        warn!(
            "unable to open supervise/service-lock for writing (waiting 60 seconds): {}",
            SysErr(e)
        );
    })?;
    let st = fstat(fd.as_fd()).map_err(|e| {
        warn!(
            "unable to stat supervise/service-lock (waiting 60 seconds): {}",
            SysErr(e)
        );
    })?;
    if st.st_size != 0 {
        let _ = ftruncate(&fd, 0);
        warn!("a previous instance of the service wrote to the lock file!");
    }
    // F_GETLK through a second, read-only open, as s6_svc_ok; supervise holds no lock there,
    // so any lock reported is another process's.
    match lock::is_locked(Path::new(SERVICE_LOCK_PATH)).map(|l| l == Some(true)) {
        Err(e) => {
            warn!(
                "unable to read lock state on supervise/service-lock (waiting 60 seconds): {}",
                SysErr(e)
            );
            return Err(());
        }
        Ok(true) => warn!("another instance of the service is already running, child will block"),
        Ok(false) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_formatted_without_allocation() {
        assert_eq!(Decimal::new(0).as_c_str(), c"0");
        assert_eq!(Decimal::new(3).as_c_str(), c"3");
        assert_eq!(Decimal::new(256).as_c_str(), c"256");
        assert_eq!(Decimal::new(u32::MAX).as_c_str(), c"4294967295");
    }
}
