//! The one way a test starts a process: [`Guard::spawn`] puts it in a process group of its
//! own, and dropping the guard (at the end of the test, or while a failed one unwinds) kills
//! its whole tree by pid and reaps it. What a child gets between fork and exec
//! ([`with_std_fds_only`], the fd moves of [`Launch`](crate::Launch)) is in `sys`, the
//! crate's only unsafe code.
//!
//! The guard looks at the child's exit without reaping it (`WNOWAIT`) until it is dropped:
//! while the child is an unreaped zombie its pid, which names the group, cannot be reused,
//! so the kills can never hit a stranger.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

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
        let child = forking(|| cmd.process_group(0).spawn())
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

pub use crate::sys::with_std_fds_only;

/// Held for reading while this process forks a child, for writing while it writes an
/// executable: a child forked by another test thread while a script's file is open for
/// writing inherits that descriptor until its own exec closes it, and an exec of the script
/// meanwhile (by svscan, supervise, anyone) fails with ETXTBSY ("Text file busy") instead of
/// running it. std's `spawn` returns once the child has exec'd, so holding this around it
/// covers the whole window.
static FORKS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Runs `fork` (a `spawn`, `output` or `status` of a `Command`) with no executable being
/// written by another thread of the test process. Every child the harness starts goes
/// through it ([`Guard::spawn`] does).
pub fn forking<T>(fork: impl FnOnce() -> T) -> T {
    let _no_writer = FORKS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    fork()
}

/// Writes `contents` to `path` with mode 0755, with no child being forked meanwhile (see
/// [`forking`]), so that the file can be exec'd at once.
///
/// # Panics
/// If it cannot be written.
pub fn write_executable(path: &std::path::Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    let _no_fork = FORKS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}
