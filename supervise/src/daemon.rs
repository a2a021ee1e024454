//! supervise's state and its event loop (SUPERVISE.md, "States" and the loop described
//! after it).
//!
//! One thread waits (poll) on the signalfd, the control FIFO and, while one is open, the
//! notification pipe, with the single deadline as timeout; with no deadline it sleeps until
//! something arrives (zero wake-ups while idle). A wait that times out is the state's
//! `timeout` input; otherwise the notification pipe is read first, then the signals, or, only
//! when no signal was pending, the control bytes (C's order; the other source is served on the
//! next turn). From the first turn on supervise must not die of anything input or the system
//! can do: failures are warnings and retries, as the transition table says.
//!
//! The steps live in their own modules, each an `impl Supervise` block: `state` (the
//! transition table), `start` (spawning run), `death` (run's and finish's deaths),
//! `readiness`, `control`, `signals`, `status` and `events`.
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use common::deadline::poll_timeout;
use common::diag::SysErr;
use common::fatal;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signalfd::SignalFd;

use crate::events;
use crate::state::{Input, State};
use crate::throttle::Throttle;
use common::ctldir::ControlDir;
use common::spawn::{FileActions, SpawnAttr};
use common::status::Status;

/// The running daemon.
pub struct Supervise {
    pub state: State,
    /// What the status file says (written by [`Supervise::announce`]).
    pub status: Status,
    /// When the state's `timeout` input fires; `None` = never.
    pub deadline: Option<Instant>,
    pub throttle: Throttle,
    /// The down signal was sent with a `timeout-kill`: the timeout sends SIGKILL.
    pub dying: bool,
    /// Leave the loop at the end of this turn ("exit" in the table).
    pub leave: bool,
    /// The read end of run's notification pipe, while readiness may still come.
    pub notification: Option<OwnedFd>,
    /// The soft RLIMIT_NOFILE at start-up: the largest valid lock-fd and notification-fd.
    pub maxfd: u64,
    /// DIR exactly as given: run's and finish's last argument.
    pub name: CString,
    /// PROG (`NAME-RUN-AS DIR`), passed to the lock-fd helper for its messages.
    pub prog: CString,
    pub spawn_attr: SpawnAttr,
    /// The file actions of the last spawn of run, reused while the notification pipe lands on
    /// the same numbers (glibc allocates when actions are recorded).
    pub run_actions: Option<FileActions>,
    pub signals: SignalFd,
    /// The lock, the control FIFO and its kept write end: held for supervise's whole life.
    pub dir: ControlDir,
}

/// Which sources are readable after a wait that did not time out.
struct Ready {
    notification: bool,
    signals: bool,
    control: bool,
}

impl Supervise {
    /// The loop; when it is left, publish `x` and exit 0 (the lock goes with the process).
    pub fn run(mut self) -> ! {
        while !self.leave {
            match self.wait() {
                None => self.act(Input::Timeout),
                Some(ready) => {
                    if ready.notification {
                        self.handle_notification();
                    }
                    if ready.signals {
                        self.handle_signals();
                    } else if ready.control {
                        self.handle_control();
                    }
                }
            }
        }
        events::publish(events::EXIT);
        std::process::exit(0)
    }

    /// Sets the deadline `delay` from now.
    pub fn timeout_in(&mut self, delay: Duration) {
        self.deadline = Some(Instant::now() + delay);
    }

    /// Waits for a source or the deadline; `None` when the deadline came first.
    fn wait(&mut self) -> Option<Ready> {
        let timeout = poll_timeout(self.deadline, Instant::now());
        let mut fds = [
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.dir.control.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.dir.control.as_fd(), PollFlags::empty()),
        ];
        let n = if let Some(notification) = &self.notification {
            fds[2] = PollFd::new(notification.as_fd(), PollFlags::POLLIN);
            3
        } else {
            2
        };
        match poll(&mut fds[..n], timeout) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(Errno::EINTR) => {
                return Some(Ready {
                    notification: false,
                    signals: false,
                    control: false,
                });
            }
            Err(e) => fatal!(common::EXIT_SYSTEM, "unable to iopause: {}", SysErr(e)),
        }
        let revents = |fd: &PollFd<'_>| fd.revents().unwrap_or(PollFlags::empty());
        let (sig, ctl) = (revents(&fds[0]), revents(&fds[1]));
        // supervise holds both ends of both, so this cannot happen; C checks it (upstream
        // dropped the check later, 0ae3ef2), and a spin on a broken fd would be worse.
        let broken = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
        if (sig | ctl).intersects(broken) {
            fatal!(common::EXIT_SYSTEM, "unable to iopause: trouble with pipes");
        }
        // A closed writer is POLLHUP: read, to see the EOF (skalibs' IOPAUSE_READ).
        let readable = PollFlags::POLLIN | PollFlags::POLLHUP;
        Some(Ready {
            notification: n == 3 && revents(&fds[2]).intersects(readable | PollFlags::POLLERR),
            signals: sig.contains(PollFlags::POLLIN),
            control: ctl.contains(PollFlags::POLLIN),
        })
    }
}
