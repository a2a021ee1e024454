//! svscan's state and its event loop (spec, "The event loop").
//!
//! One thread waits on two sources, the signalfd and the control FIFO, with a timeout equal
//! to the earlier of the scan and start deadlines; with neither pending it sleeps until a
//! signal or a command arrives (zero wake-ups while idle). Each turn reads every pending
//! signal, then every control byte, then scans and starts if due (see [`Svscan::turn`]), then
//! kills, then reaps. From the first turn on, svscan must not die: recoverable errors are
//! warnings and timers; the rest is the crash path.
//!
//! The steps live in their own modules (`scan`, `start`, `reap`, `kill`, `control`,
//! `signals`, `finish`), each an `impl Svscan` block. New event sources (an inotify watch, an
//! event fifodir) are one more entry in [`Svscan::wait`]'s poll set.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use common::ctldir::ControlDir;
use common::deadline::poll_timeout;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signalfd::SignalFd;

use crate::start::Supervise;
use common::spawn::SpawnAttr;

use crate::sys;
use crate::table::Table;

/// Work requested and not yet done, OR-ed together until acted on (C's `what` bits).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Kill every supervisor (`t`, `i`, `q`).
    pub kill_all: bool,
    /// Kill inactive supervisors (`n`, `N`, `h`).
    pub kill_inactive: bool,
    /// Loggers get SIGTERM instead of SIGHUP (`q`, `N`).
    pub term_loggers: bool,
    /// Collect dead children (SIGCHLD, `z`).
    pub reap: bool,
    /// Hold kills back until a requested scan completes (`a`, `h`).
    pub delay_kills: bool,
}

/// The running daemon.
pub struct Svscan {
    pub table: Table,
    pub name_max: usize,
    /// `-t`: the periodic scan interval.
    pub rescan: Option<Duration>,
    /// `-X`: the console holder, given as fd 2 to the catch-all logger.
    pub console_holder: Option<OwnedFd>,
    pub supervise: Supervise,
    pub spawn_attr: SpawnAttr,
    pub pending: Pending,
    /// Leave the loop at the end of this turn.
    pub leave: bool,
    /// After leaving, wait for every supervisor before the finish program.
    pub wait_all: bool,
    /// When the next scan is due; `None` = never.
    pub scan_deadline: Option<Instant>,
    /// When a supervisor may next be started; `None` = nothing to start.
    pub start_deadline: Option<Instant>,
    /// A catch-all logger `s6-svscan-log` was created during this run.
    pub special_created: bool,
    /// Scratch buffer for `NAME/log`, reused by every scan.
    pub log_name: Vec<u8>,
    pub signals: SignalFd,
    /// The control FIFO, lock and kept writer: held for svscan's whole life.
    pub control: ControlDir,
}

/// Moves `deadline` earlier to `at` if `at` comes first (skalibs `tain_earliest1`).
pub fn earliest(deadline: &mut Option<Instant>, at: Instant) {
    if deadline.is_none_or(|d| at < d) {
        *deadline = Some(at);
    }
}

/// Which sources are readable after a wait.
struct Ready {
    signals: bool,
    control: bool,
}

impl Svscan {
    /// The loop: runs until a command or signal asks to leave, then the finish phase.
    pub fn run(mut self) -> ! {
        while !self.leave {
            let ready = self.wait();
            self.turn(&ready);
        }
        self.finish()
    }

    /// One turn after a wait: signals, then commands, then the scan and the start pass if
    /// due (**fix**: whatever woke the wait, not only a timeout), then kills and reaping.
    fn turn(&mut self, ready: &Ready) {
        if ready.signals {
            self.handle_signals();
        }
        if ready.control {
            self.handle_control();
        }
        let now = Instant::now();
        let footprint = self.table.footprint();
        if self.scan_deadline.is_some_and(|d| d <= now) {
            self.scan(now);
        }
        if self.start_deadline.is_some_and(|d| d <= now) {
            self.start(now);
        }
        if self.table.footprint() > footprint {
            sys::release_free_memory();
        }
        self.kill();
        self.reap();
    }

    /// Waits for a signal, a command or the nearest deadline.
    fn wait(&mut self) -> Ready {
        let deadline = match (self.scan_deadline, self.start_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = poll_timeout(deadline, Instant::now());
        let mut fds = [
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.control.control.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => {
                return Ready {
                    signals: false,
                    control: false,
                };
            }
            Err(e) => self.crash("iopause", e),
        }
        let revents = |fd: &PollFd<'_>| fd.revents().unwrap_or(PollFlags::empty());
        let (sig, ctl) = (revents(&fds[0]), revents(&fds[1]));
        let broken = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
        if (sig | ctl).intersects(broken) {
            self.crash("check internal pipes", Errno::EIO);
        }
        Ready {
            signals: sig.contains(PollFlags::POLLIN),
            control: ctl.contains(PollFlags::POLLIN),
        }
    }

    /// The control FIFO's read end.
    pub fn control_fd(&self) -> &OwnedFd {
        &self.control.control
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{DevIno, Entry, Table};
    use nix::sys::wait::{WaitStatus, waitpid};
    use std::ffi::OsStr;

    /// A daemon on a temporary control dir, supervising with `/bin/true`, with nothing due.
    fn daemon(dir: &std::path::Path) -> Svscan {
        Svscan {
            table: Table::new(8),
            name_max: 251,
            rescan: None,
            console_holder: None,
            supervise: Supervise::new(OsStr::new("/bin/true"), None),
            spawn_attr: SpawnAttr::new(common::spawn::SpawnOptions::default()).unwrap(),
            pending: Pending::default(),
            leave: false,
            wait_all: false,
            scan_deadline: None,
            start_deadline: None,
            special_created: false,
            log_name: Vec::new(),
            signals: crate::signals::open_signalfd().unwrap(),
            control: common::ctldir::init_control_dir(dir, &common::ctldir::SVSCAN).unwrap(),
        }
    }

    /// **fix** "scans and starts run when due even on busy turns": a turn woken by a command,
    /// not by the timeout, still starts the supervisor whose time has come (C's loop starts
    /// only on a turn whose wait timed out, so a storm of commands postpones restarts).
    #[test]
    fn a_turn_woken_by_a_command_still_starts_what_is_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut sv = daemon(dir.path());
        let past = Instant::now().checked_sub(Duration::from_secs(2)).unwrap();
        let slot = sv
            .table
            .insert(Entry::new(DevIno { dev: 1, ino: 1 }, past), b"svc")
            .unwrap();
        sv.table.get_mut(slot).unwrap().active = true;
        sv.start_deadline = Some(past);
        // `n` (kill inactive: there are none): a command that neither scans (which would
        // read the test's cwd) nor reaps (which could collect the child before the test).
        nix::unistd::write(&sv.control.control_writer, b"n").unwrap();

        sv.turn(&Ready {
            signals: false,
            control: true,
        });

        let pid = sv.table.get(slot).unwrap().pid;
        let pid = pid.expect("the supervisor was started on a busy turn");
        assert!(matches!(waitpid(pid, None), Ok(WaitStatus::Exited(..))));
        let mut left = [0u8; 1];
        assert_eq!(
            nix::unistd::read(sv.control_fd(), &mut left),
            Err(Errno::EAGAIN),
            "the command was read in the same turn"
        );
    }

    #[test]
    fn earliest_keeps_the_first_deadline() {
        let now = Instant::now();
        let mut d = None;
        earliest(&mut d, now + Duration::from_secs(5));
        earliest(&mut d, now + Duration::from_secs(9));
        assert_eq!(d, Some(now + Duration::from_secs(5)));
        earliest(&mut d, now);
        assert_eq!(d, Some(now));
    }
}
