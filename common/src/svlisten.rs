//! Waiting for services to go up or down (s6's `s6_svlisten_init` and `s6_svlisten_loop`,
//! SUPERVISE.md "svwait" and "svc -w"), shared by `svwait` and `svc -w`.
//!
//! [`Listener::new`] subscribes to each service's `event` fifodir (made first if missing)
//! **before** reading its status file, so that no event between the two is lost; then
//! [`Listener::wait`] tests the goal at once and after each event byte (`d D u U` set the
//! service's up and ready flags, `x` and `O` count failures) until it holds or the deadline
//! passes.
//!
//! One difference from C, invisible unless events pile up: when a goal is reached in the
//! middle of a batch of bytes read together, C drops the rest of the batch (s6-ftrigr hands
//! them over at once and the loop returns), so a `-r` wait whose `D` and `u` arrive in one read
//! would then miss the `u`. Here the rest is kept for the next [`wait`](Listener::wait).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Gid;

use crate::EXIT_SYSTEM;
use crate::diag::SysErr;
use crate::ftrig::EVENT_DIR;
use crate::ftrig::{self, Subscriber};
use crate::status::{Status, service_path};

/// Exit code of a wait that timed out (`s6_svlisten_loop`: `strerr_dief1x(99, "timed out")`).
pub const EXIT_TIMED_OUT: i32 = 99;

/// What is waited for: every service (or, with `any`, at least one) up or down, and ready if
/// `ready` (`s6_svlisten_loop`'s `wantup`, `wantready`, `or`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Goal {
    pub up: bool,
    pub ready: bool,
    pub any: bool,
}

/// Why a wait could not be set up or did not end well. The texts are s6's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// `unable to subscribe to events for DIR: ERR` (111).
    Subscribe(PathBuf, Errno),
    /// `unable to s6_svstatus_read: ERR` (111).
    ReadStatus(Errno),
    /// `timed out` (99).
    TimedOut,
    /// `unable to iopause: ERR` (111).
    Poll(Errno),
    /// `unable to ftrigr_check: ERR` (111): reading a subscription failed.
    Check(Errno),
}

impl Error {
    /// The exit code s6 dies with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::TimedOut => EXIT_TIMED_OUT,
            _ => EXIT_SYSTEM,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Subscribe(dir, e) => {
                write!(
                    f,
                    "unable to subscribe to events for {}: {}",
                    dir.display(),
                    SysErr(*e)
                )
            }
            Error::ReadStatus(e) => write!(f, "unable to s6_svstatus_read: {}", SysErr(*e)),
            Error::TimedOut => f.write_str("timed out"),
            Error::Poll(e) => write!(f, "unable to iopause: {}", SysErr(*e)),
            Error::Check(e) => write!(f, "unable to ftrigr_check: {}", SysErr(*e)),
        }
    }
}

/// One watched service: its subscription, what is known of it, and event bytes read but not
/// yet looked at.
#[derive(Debug)]
struct Watched {
    sub: Subscriber,
    up: bool,
    ready: bool,
    pending: Vec<u8>,
}

impl Watched {
    fn meets(&self, goal: Goal) -> bool {
        self.up == goal.up && (!goal.ready || self.ready)
    }

    /// Applies one event byte (`s6_svlisten_loop`); returns whether it is a failure.
    fn apply(&mut self, byte: u8, goal: Goal) -> bool {
        match byte {
            b'x' => {
                let failed = self.up != goal.up || self.ready != goal.ready;
                (self.up, self.ready) = (goal.up, goal.ready);
                failed
            }
            b'O' if goal.up => {
                (self.up, self.ready) = (goal.up, goal.ready);
                true
            }
            b'd' => {
                (self.up, self.ready) = (false, false);
                false
            }
            b'D' => {
                (self.up, self.ready) = (false, true);
                false
            }
            b'u' => {
                (self.up, self.ready) = (true, false);
                false
            }
            b'U' => {
                (self.up, self.ready) = (true, true);
                false
            }
            // `s`, `O` while waiting for down, anything else: not an event of the regex
            // `[DuUdOx]`, or one without effect.
            _ => false,
        }
    }
}

/// Subscriptions to a set of services, with their last known states.
#[derive(Debug)]
pub struct Listener {
    services: Vec<Watched>,
}

impl Listener {
    /// For each directory in order (`s6_svlisten_init`): make `DIR/event` if missing
    /// (`ftrigw_fifodir_make` with the effective gid; errors ignored), subscribe to it, then
    /// read `DIR/supervise/status` (up = a pid and not finishing; ready = the ready flag). No
    /// lock check: a stale status file with no supervisor makes the wait go on.
    pub fn new<P: AsRef<Path>>(dirs: &[P]) -> Result<Listener, Error> {
        let gid = Gid::effective();
        let mut services = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let dir = dir.as_ref();
            let event = service_path(dir, EVENT_DIR);
            let _ = ftrig::fifodir_make(&event, Some(gid), false);
            let sub = Subscriber::new(&event).map_err(|e| Error::Subscribe(dir.to_owned(), e))?;
            let status = Status::read(dir).map_err(Error::ReadStatus)?;
            services.push(Watched {
                sub,
                up: status.is_up(),
                ready: status.ready,
                pending: Vec::new(),
            });
        }
        Ok(Listener { services })
    }

    fn reached(&self, goal: Goal) -> bool {
        if goal.any {
            self.services.iter().any(|s| s.meets(goal))
        } else {
            self.services.iter().all(|s| s.meets(goal))
        }
    }

    /// Waits until `goal` holds, testing it now and after each event byte; returns how many
    /// failures were seen on the way (an `x` from a service not in the wanted state, an `O`
    /// while waiting for up). `deadline` `None` waits forever.
    pub fn wait(&mut self, goal: Goal, deadline: Option<Instant>) -> Result<u32, Error> {
        let mut failures: u32 = 0;
        if self.reached(goal) {
            return Ok(0);
        }
        for i in 0..self.services.len() {
            let pending = std::mem::take(&mut self.services[i].pending);
            if self.feed(i, &pending, goal, &mut failures) {
                return Ok(failures);
            }
        }
        let mut batch = Vec::new();
        loop {
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::TimedOut);
                    }
                    // Rounded up, so as not to spin through the last fraction of a millisecond.
                    let ms = left.as_micros().div_ceil(1000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds: Vec<PollFd<'_>> = self
                .services
                .iter()
                .map(|s| PollFd::new(s.sub.fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, timeout) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(Error::Poll(e)),
            }
            let ready: Vec<bool> = fds.iter().map(|p| p.any().unwrap_or(false)).collect();
            drop(fds);
            for (i, readable) in ready.into_iter().enumerate() {
                if !readable {
                    continue;
                }
                batch.clear();
                self.services[i]
                    .sub
                    .read(|b| batch.push(b))
                    .map_err(Error::Check)?;
                if self.feed(i, &batch, goal, &mut failures) {
                    return Ok(failures);
                }
            }
        }
    }

    /// Applies `bytes` to service `i` one by one, testing the goal after each; when it holds,
    /// keeps the rest for the next wait and returns true.
    fn feed(&mut self, i: usize, bytes: &[u8], goal: Goal, failures: &mut u32) -> bool {
        for (n, &b) in bytes.iter().enumerate() {
            if self.services[i].apply(b, goal) {
                *failures = failures.saturating_add(1);
            }
            if matches!(b, b'd' | b'D' | b'u' | b'U' | b'O' | b'x') && self.reached(goal) {
                self.services[i].pending.extend_from_slice(&bytes[n + 1..]);
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    const UP: Goal = Goal {
        up: true,
        ready: false,
        any: false,
    };
    const UP_READY: Goal = Goal {
        up: true,
        ready: true,
        any: false,
    };
    const DOWN: Goal = Goal {
        up: false,
        ready: false,
        any: false,
    };
    const DOWN_READY: Goal = Goal {
        up: false,
        ready: true,
        any: false,
    };

    /// A service directory with a status file saying up (pid 1) or down.
    fn service(root: &Path, name: &str, up: bool) -> PathBuf {
        let dir = root.join(name);
        fs::create_dir_all(dir.join("supervise")).unwrap();
        let status = Status {
            pid: if up { 1 } else { 0 },
            ready: !up,
            ..Status::ZERO
        };
        status.write(&dir).unwrap();
        dir
    }

    fn publish(dir: &Path, bytes: &[u8]) {
        assert_eq!(ftrig::notify(&dir.join(EVENT_DIR), bytes), Ok(1));
    }

    fn soon() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(10))
    }

    #[test]
    fn a_goal_already_met_returns_at_once_without_events() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", true);
        let mut l = Listener::new(&[&a]).unwrap();
        assert_eq!(l.wait(UP, Some(Instant::now())), Ok(0));
        assert_eq!(l.wait(DOWN, Some(Instant::now())), Err(Error::TimedOut));
    }

    #[test]
    fn subscribing_makes_the_fifodir_first_and_reads_the_status_after() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        let l = Listener::new(&[&a]).unwrap();
        assert!(a.join(EVENT_DIR).is_dir());
        drop(l);
        let missing = root.path().join("nope");
        let err = Listener::new(&[&missing]).unwrap_err();
        assert_eq!(err, Error::Subscribe(missing.clone(), Errno::ENOENT));
        assert_eq!(
            err.to_string(),
            format!(
                "unable to subscribe to events for {}: No such file or directory",
                missing.display()
            )
        );
        let no_status = root.path().join("fresh");
        fs::create_dir(&no_status).unwrap();
        let err = Listener::new(&[&no_status]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to s6_svstatus_read: No such file or directory"
        );
        assert_eq!(err.exit_code(), 111);
    }

    #[test]
    fn events_move_the_state_and_ready_needs_the_capital_letter() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        let mut l = Listener::new(&[&a]).unwrap();
        publish(&a, b"su");
        assert_eq!(l.wait(UP, soon()), Ok(0));
        publish(&a, b"U");
        assert_eq!(l.wait(UP_READY, soon()), Ok(0));
        publish(&a, b"d");
        assert_eq!(l.wait(DOWN, soon()), Ok(0));
        assert_eq!(
            l.wait(DOWN_READY, Some(Instant::now() + Duration::from_millis(50))),
            Err(Error::TimedOut)
        );
        publish(&a, b"D");
        assert_eq!(l.wait(DOWN_READY, soon()), Ok(0));
    }

    #[test]
    fn all_waits_for_every_service_and_any_for_one() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        let b = service(root.path(), "b", false);
        let mut l = Listener::new(&[&a, &b]).unwrap();
        publish(&a, b"u");
        assert_eq!(l.wait(Goal { any: true, ..UP }, soon()), Ok(0));
        assert_eq!(
            l.wait(UP, Some(Instant::now() + Duration::from_millis(50))),
            Err(Error::TimedOut)
        );
        publish(&b, b"u");
        assert_eq!(l.wait(UP, soon()), Ok(0));
    }

    #[test]
    fn x_from_a_service_not_in_the_wanted_state_is_a_failure_that_stops_blocking() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        let b = service(root.path(), "b", false);
        let mut l = Listener::new(&[&a, &b]).unwrap();
        publish(&a, b"x");
        publish(&b, b"u");
        assert_eq!(l.wait(UP, soon()), Ok(1));
    }

    #[test]
    fn x_from_a_service_already_in_the_wanted_state_is_no_failure() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        // Up and not ready: exactly the (up, ready) pair that UP wants.
        let b = service(root.path(), "b", true);
        let mut l = Listener::new(&[&a, &b]).unwrap();
        publish(&b, b"x");
        publish(&a, b"u");
        assert_eq!(l.wait(UP, soon()), Ok(0));
    }

    #[test]
    fn o_is_a_failure_while_waiting_for_up_and_ignored_while_waiting_for_down() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        let mut l = Listener::new(&[&a]).unwrap();
        publish(&a, b"O");
        assert_eq!(l.wait(UP, soon()), Ok(1));
        publish(&a, b"Od");
        assert_eq!(l.wait(DOWN, soon()), Ok(0));
    }

    #[test]
    fn bytes_after_the_one_that_reached_the_goal_are_kept_for_the_next_wait() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", true);
        let mut l = Listener::new(&[&a]).unwrap();
        // One write: the restart's D and u arrive in one read.
        publish(&a, b"dDu");
        assert_eq!(l.wait(DOWN_READY, soon()), Ok(0));
        assert_eq!(
            l.wait(UP, Some(Instant::now() + Duration::from_millis(200))),
            Ok(0)
        );
    }

    #[test]
    fn a_deadline_in_the_past_times_out_with_99() {
        let root = tempfile::tempdir().unwrap();
        let a = service(root.path(), "a", false);
        let mut l = Listener::new(&[&a]).unwrap();
        let err = l.wait(UP, Some(Instant::now())).unwrap_err();
        assert_eq!(
            (err.exit_code(), err.to_string()),
            (99, "timed out".to_owned())
        );
    }
}
