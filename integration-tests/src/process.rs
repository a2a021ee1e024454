//! The one way a test starts a process: [`Guard::spawn`] puts it in a process group of its
//! own, and dropping the guard (at the end of the test, or while a failed one unwinds) kills
//! its whole tree by pid and reaps it. Also what a child gets between fork and exec:
//! [`with_std_fds_only`], and the fd moves of [`Launch`](crate::Launch).
//!
//! The guard looks at the child's exit without reaping it (`WNOWAIT`) until it is dropped:
//! while the child is an unreaped zombie its pid, which names the group, cannot be reused,
//! so the kills can never hit a stranger.

use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, dup2_raw};

use crate::{poll_until, procfs};

/// A process the test started, and everything it starts: killed and reaped on drop.
#[derive(Debug)]
pub struct Guard {
    child: Child,
    pid: Pid,
    /// Its exit, once seen (it stays unreaped until [`Guard::kill_tree`]).
    exit: Option<WaitStatus>,
    reaped: bool,
}

impl Guard {
    /// Starts `cmd` in a process group of its own.
    ///
    /// # Panics
    /// If it cannot be started.
    pub fn spawn(cmd: &mut Command) -> Guard {
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"));
        Guard {
            child,
            pid,
            exit: None,
            reaped: false,
        }
    }

    /// Its pid (also its process group).
    #[must_use]
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The child, for its piped stdio.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// How it exited, if it has (it stays a zombie until the guard is dropped).
    ///
    /// # Panics
    /// If `waitid` fails (the child was reaped behind the guard's back).
    pub fn exit(&mut self) -> Option<Exit> {
        if self.exit.is_none() {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
            match waitid(Id::Pid(self.pid), flags) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => self.exit = Some(status),
                Err(e) => panic!("waitid {}: {e}", self.pid),
            }
        }
        self.exit.map(Exit)
    }

    /// Waits for it to exit; `None` if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<Exit> {
        poll_until(Instant::now() + within, || self.exit())
    }

    /// Kills the tree: stops the group (so that nothing in it forks meanwhile), lists the
    /// child's descendants (a real s6-supervise puts its service in a session of its own,
    /// out of the group), kills the group, then each descendant and each of `also` (pid and
    /// `/proc` start time: processes known from elsewhere, such as the stubs' records, which
    /// may have left the tree) whose start time still matches, so that a reused pid is never
    /// hit; then reaps the child. Never panics: it runs during unwinding too.
    pub fn kill_tree(&mut self, also: &[(i32, i64)]) {
        if self.reaped {
            return;
        }
        let _ = killpg(self.pid, Signal::SIGSTOP);
        let descendants = procfs::descendants(self.pid.as_raw());
        let _ = killpg(self.pid, Signal::SIGKILL);
        for &(pid, start) in descendants.iter().chain(also) {
            if procfs::starttime(pid) == Some(start) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_tree(&[]);
    }
}

/// How a process exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(pub WaitStatus);

impl Exit {
    /// The exit code, if it exited rather than being killed.
    #[must_use]
    pub fn code(self) -> Option<i32> {
        match self.0 {
            WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        }
    }

    /// The signal that killed it, if one did.
    #[must_use]
    pub fn signal(self) -> Option<Signal> {
        match self.0 {
            WaitStatus::Signaled(_, sig, _) => Some(sig),
            _ => None,
        }
    }

    /// Exited with code 0.
    #[must_use]
    pub fn success(self) -> bool {
        self.code() == Some(0)
    }
}

/// Sends `sig` to `pid` (a stub's, from its records).
///
/// # Panics
/// If the process is gone.
pub fn signal_pid(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
}

/// In the child: puts each `(source, target)` fd in place, without CLOEXEC. Sources are first
/// moved above every target, so that a source numbered like another target is not lost.
pub(crate) fn place_fds(plan: &[(RawFd, RawFd)]) -> std::io::Result<()> {
    const PARK: RawFd = 512;
    let err = |e: Errno| std::io::Error::from_raw_os_error(e as i32);
    for (i, (source, _)) in plan.iter().enumerate() {
        // SAFETY: `source` is an fd the parent owns and kept open across the fork.
        let source = unsafe { BorrowedFd::borrow_raw(*source) };
        // SAFETY: PARK + i is above every fd the harness uses; dup2 replaces whatever is there.
        let parked = unsafe { dup2_raw(source, PARK + i as RawFd) }.map_err(err)?;
        let _ = parked.into_raw_fd();
    }
    for (i, (_, target)) in plan.iter().enumerate() {
        // SAFETY: the parked fd was opened above and is closed right after.
        let parked = unsafe { BorrowedFd::borrow_raw(PARK + i as RawFd) };
        // SAFETY: dup2 onto `target` is what the caller asked for; the result is kept open.
        let placed = unsafe { dup2_raw(parked, *target) }.map_err(err)?;
        let _ = placed.into_raw_fd();
    }
    for i in 0..plan.len() {
        nix::unistd::close(PARK + i as RawFd).map_err(err)?;
    }
    close_inherited_fds(|fd| plan.iter().any(|(_, target)| *target == fd));
    Ok(())
}

/// In a child between fork and exec: closes every fd from 3 up that would survive the exec
/// (no FD_CLOEXEC) and that `keep` does not claim, so that the program starts with only what
/// the test gave it, whatever fds the test runner itself inherited. CLOEXEC fds are left to
/// the exec (std's own error-reporting pipe is one of them).
fn close_inherited_fds(keep: impl Fn(RawFd) -> bool) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use nix::sys::resource::{Resource, getrlimit};
    let limit =
        getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft.min(4096)) as RawFd;
    for fd in (3..limit).filter(|fd| !keep(*fd)) {
        // SAFETY: the borrow lasts for this one fcntl, which fails with EBADF on a closed fd;
        // the child has a single thread, so nothing closes or reuses `fd` meanwhile.
        let flags = fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD);
        if flags.is_ok_and(|f| !FdFlag::from_bits_truncate(f).contains(FdFlag::FD_CLOEXEC)) {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// Makes `cmd`'s child start with fds 0, 1 and 2 only (for a program a test runs by hand,
/// as svscan is started by [`Launch::start`](crate::Launch::start)).
pub fn with_std_fds_only(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs between fork and exec and makes only fcntl and close calls,
    // which are async-signal-safe, without allocating.
    unsafe {
        cmd.pre_exec(|| {
            close_inherited_fds(|_| false);
            Ok(())
        })
    }
}
