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
//! `signals`, `finish`), each an `impl Svscan` block. Beyond s6, the same loop serves the
//! request socket (`clients`: `svscanctl -w`, whose rule is `acks`, and `-l`, built by
//! `listing`), publishes events (`events`) and, with `--watch`, reads an inotify watch
//! (`watch`): each is one more entry of [`Svscan::wait`]'s poll set and a step of the turn,
//! and none has a timer while svscan is idle.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use common::ctldir::ControlDir;
use common::deadline::poll_timeout;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signalfd::SignalFd;

use crate::scan::ScanState;
use crate::start::Supervise;
use common::spawn::SpawnAttr;

use crate::acks::Progress;
use crate::clients::{Clients, MAX_CLIENTS};
use crate::listing::{ScanStop, SpawnFailure};
use crate::table::Table;
use crate::watch::Watch;
use crate::{events, sys};

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
    /// What the scanner keeps between scans.
    pub scan: ScanState,
    pub signals: SignalFd,
    /// The control FIFO, lock and kept writer: held for svscan's whole life.
    pub control: ControlDir,
    /// How far the loop has got, for `svscanctl -w` (`acks`).
    pub progress: Progress,
    /// The request socket and its connections (`clients`).
    pub clients: Clients,
    /// `.s6-svscan/event` was made: events are published there (`events`).
    pub events: bool,
    /// `--watch`: the inotify watch (`watch`).
    pub watch: Option<Watch>,
    /// The spawn that stopped the last start pass, for `svscanctl -l` (`listing`).
    pub spawn_failure: Option<SpawnFailure>,
    /// The name the last abandoned scan stopped at, for `svscanctl -l` (`listing`).
    pub scan_stop: ScanStop,
}

/// Moves `deadline` earlier to `at` if `at` comes first (skalibs `tain_earliest1`).
pub fn earliest(deadline: &mut Option<Instant>, at: Instant) {
    if deadline.is_none_or(|d| at < d) {
        *deadline = Some(at);
    }
}

/// Which sources are readable after a wait (the connections keep their own results).
struct Ready {
    signals: bool,
    control: bool,
    watch: bool,
}

/// The most descriptors polled: signals, control FIFO, watch, listener, connections.
const POLL_MAX: usize = 4 + MAX_CLIENTS;

impl Svscan {
    /// The loop: runs until a command or signal asks to leave, then the finish phase.
    pub fn run(mut self) -> ! {
        while !self.leave {
            let ready = self.wait();
            self.turn(&ready);
        }
        self.publish(events::LEAVING);
        self.finish()
    }

    /// One turn after a wait: signals, then commands (the FIFO's, then the socket's), then
    /// the scan and the start pass if due (**fix**: whatever woke the wait, not only a
    /// timeout), then kills and reaping; then what the turn did is told: the `s` event, the
    /// answers to `svscanctl -w`, the listings.
    fn turn(&mut self, ready: &Ready) {
        if ready.signals {
            self.handle_signals();
        }
        if ready.control {
            self.handle_control();
        }
        let now = Instant::now();
        self.handle_clients(now);
        if ready.watch {
            self.handle_watch(now);
        }
        self.watch_due(now);
        let footprint = self.table.footprint();
        let complete = self.progress.scans_complete;
        if self.scan_deadline.is_some_and(|d| d <= now) {
            self.progress.scans_begun += 1;
            self.scan(now);
        }
        if self.start_deadline.is_some_and(|d| d <= now) {
            // Every pass tries a failed entry again first (it stays due), so a pass that
            // records no failure has none left.
            self.spawn_failure = None;
            self.start(now);
        }
        if self.table.footprint() > footprint {
            sys::release_free_memory();
        }
        let kills_asked = self.pending.kill_all || self.pending.kill_inactive;
        self.kill();
        if kills_asked && !(self.pending.kill_all || self.pending.kill_inactive) {
            self.progress.kills += 1;
        }
        let reaping = self.pending.reap;
        self.reap();
        if reaping {
            self.progress.reaps += 1;
        }
        if self.progress.scans_complete != complete {
            self.publish(events::SCANNED);
        }
        self.serve_clients(Instant::now());
    }

    /// Waits for a signal, a command, a client, a change of the watched directory or the
    /// nearest deadline.
    fn wait(&mut self) -> Ready {
        let deadline = [
            self.scan_deadline,
            self.start_deadline,
            self.watch.as_ref().and_then(Watch::deadline),
            self.clients.deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = poll_timeout(deadline, Instant::now());
        // Unused entries are never passed to poll; they only fill the array.
        let mut fds: [PollFd<'_>; POLL_MAX] =
            std::array::from_fn(|_| PollFd::new(self.signals.as_fd(), PollFlags::empty()));
        fds[0] = PollFd::new(self.signals.as_fd(), PollFlags::POLLIN);
        fds[1] = PollFd::new(self.control.control.as_fd(), PollFlags::POLLIN);
        let mut n = 2;
        let watch_at = self.watch.as_ref().map(|w| {
            fds[n] = PollFd::new(w.fd(), PollFlags::POLLIN);
            n += 1;
            n - 1
        });
        let clients_at = n;
        n += self.clients.poll_fds(&mut fds[n..]);
        match poll(&mut fds[..n], timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => {
                self.clients.set_revents(&[]);
                return Ready {
                    signals: false,
                    control: false,
                    watch: false,
                };
            }
            Err(e) => self.crash("iopause", e),
        }
        let mut revents = [PollFlags::empty(); POLL_MAX];
        for (r, fd) in revents.iter_mut().zip(&fds[..n]) {
            *r = fd.revents().unwrap_or(PollFlags::empty());
        }
        let (sig, ctl) = (revents[0], revents[1]);
        let broken = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
        if (sig | ctl).intersects(broken) {
            self.crash("check internal pipes", Errno::EIO);
        }
        self.clients.set_revents(&revents[clients_at..n]);
        Ready {
            signals: sig.contains(PollFlags::POLLIN),
            control: ctl.contains(PollFlags::POLLIN),
            // An error condition is read too: the read fails and drops the watch.
            watch: watch_at.is_some_and(|i| !revents[i].is_empty()),
        }
    }

    /// The control FIFO's read end.
    pub fn control_fd(&self) -> &OwnedFd {
        &self.control.control
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::table::{DevIno, Entry, Table};
    use nix::sys::wait::{WaitStatus, waitpid};
    use std::ffi::OsStr;

    /// A daemon on a temporary control dir, supervising with `/bin/true`, with nothing due.
    pub(crate) fn daemon(dir: &std::path::Path) -> Svscan {
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
            scan: ScanState::default(),
            signals: crate::signals::open_signalfd().unwrap(),
            control: common::ctldir::init_control_dir(dir, &common::ctldir::SVSCAN).unwrap(),
            progress: Progress::default(),
            clients: Clients::new(None, 2),
            events: false,
            watch: None,
            spawn_failure: None,
            scan_stop: ScanStop::new(),
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
            .insert(Entry::new(DevIno { dev: 1, ino: 1 }), b"svc", past)
            .unwrap();
        sv.table.get_mut(slot).unwrap().set_active(true);
        sv.start_deadline = Some(past);
        // `n` (kill inactive: there are none): a command that neither scans (which would
        // read the test's cwd) nor reaps (which could collect the child before the test).
        nix::unistd::write(&sv.control.control_writer, b"n").unwrap();

        sv.turn(&Ready {
            signals: false,
            control: true,
            watch: false,
        });

        let pid = sv.table.get(slot).unwrap().pid();
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
