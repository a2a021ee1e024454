//! Signals (SUPERVISE.md, "Start-up" step 5 and the table's signal rows): SIGCHLD, SIGTERM,
//! SIGHUP, SIGQUIT and SIGINT arrive through a signalfd, as one more readable fd of the loop.
//! The signal mask is set to exactly these (as skalibs' `selfpipe_trapset`); no other signal
//! is caught, so SIGUSR1 kills supervise, as it kills C's.
//!
//! On SIGCHLD with a tracked child, only that pid is waited for: its death is the table's
//! "child death" input. With none (down), every dead child is reaped and nothing else
//! happens.
#![forbid(unsafe_code)]

use common::diag::SysErr;
use common::fatal;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::daemon::Supervise;
use crate::state::Input;
use crate::sys;

/// The signals supervise acts on.
pub const TRAPPED: [Signal; 5] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGINT,
];

fn trapped_set() -> SigSet {
    let mut set = SigSet::empty();
    for sig in TRAPPED {
        set.add(sig);
    }
    set
}

/// Opens the signalfd and sets the mask to the trapped signals.
///
/// # Errors
/// `Err(true)` for the signalfd (C: `unable to init selfpipe`), `Err(false)` for the mask
/// (`unable to trap signals`), with the errno.
pub fn trap() -> Result<SignalFd, (bool, Errno)> {
    let set = trapped_set();
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| (true, e))?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&set), None).map_err(|e| (false, e))?;
    Ok(fd)
}

impl Supervise {
    /// Reads and acts on every pending signal.
    pub fn handle_signals(&mut self) {
        loop {
            let signo = match self.signals.read_signal() {
                Ok(Some(info)) => info.ssi_signo.cast_signed(),
                Ok(None) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => fatal!(
                    common::EXIT_SYSTEM,
                    "unable to selfpipe_read: {}",
                    SysErr(e)
                ),
            };
            match Signal::try_from(signo) {
                Ok(Signal::SIGCHLD) => self.child_died(),
                Ok(Signal::SIGTERM) => self.act(Input::Term),
                Ok(Signal::SIGHUP) => self.act(Input::Hup),
                Ok(Signal::SIGQUIT) => self.act(Input::Quit),
                Ok(Signal::SIGINT) => self.act(Input::Int),
                _ => {}
            }
        }
    }

    fn child_died(&mut self) {
        if self.status.pid == 0 {
            reap_all();
            return;
        }
        let pid = Pid::from_raw(i32::try_from(self.status.pid).unwrap_or(0));
        match sys::wait_nohang(pid) {
            Ok(Some(wstat)) => self.act(Input::Death(wstat)),
            Ok(None) | Err(Errno::ECHILD) => {}
            Err(e) => fatal!(
                common::EXIT_SYSTEM,
                "unable to wait_pid_nohang: {}",
                SysErr(e)
            ),
        }
    }
}

/// Reaps every dead child without blocking (skalibs `wait_reap`).
fn reap_all() {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
