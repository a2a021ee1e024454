//! The deaths of the tracked child (SUPERVISE.md, "Death of run", "Death of finish",
//! supervise.c:130-141, 409-465, 533-542): run's death records it, spawns `./finish` with its
//! arguments and a time limit; finish's death, or no finish, brings the service "down and
//! ready" and arms the respawn throttle.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::time::{Duration, Instant};

use common::diag::SysErr;
use common::spawn::spawn;
use common::warn;
use nix::errno::Errno;

use crate::daemon::Supervise;
use crate::events;
use crate::files::{self, TIMEOUT_FINISH};
use crate::start::Decimal;
use crate::state::State;
use crate::tally;
use common::tai::Tai64n;

/// The finish program.
pub const FINISH: &CStr = c"./finish";
/// Its `argv[0]`, literally.
const FINISH_ARGV0: &CStr = c"finish";
/// `timeout-finish` when absent or invalid.
pub const DEFAULT_TIMEOUT_FINISH: Duration = Duration::from_millis(5000);
/// The exit code of finish that means "permanent failure: do not restart".
pub const PERMANENT_FAILURE: i32 = 125;

impl Supervise {
    /// run died with raw status `wstat`. Returns whether finish was spawned (else the service
    /// is down and ready already).
    pub fn run_died(&mut self, wstat: i32) -> bool {
        // The low 16 bits are the whole Linux wait status.
        self.status.wstat = (wstat & 0xffff) as u16;
        self.status.paused = false;
        self.status.ready = false;
        self.dying = false;
        self.status.stamp = Tai64n::now();
        self.notification = None;
        tally::record(self.status.stamp, wstat);

        // EXIT is the exit status, or 256 if killed; SIG the signal, or 0 (WTERMSIG of an
        // exit status is 0 on Linux; the doc says "undefined").
        let (code, sig) = if libc::WIFSIGNALED(wstat) {
            (256, libc::WTERMSIG(wstat))
        } else {
            (libc::WEXITSTATUS(wstat), 0)
        };
        let code = Decimal::new(code.unsigned_abs());
        let sig = Decimal::new(sig.unsigned_abs());
        let argv = [
            FINISH_ARGV0,
            code.as_c_str(),
            sig.as_c_str(),
            self.name.as_c_str(),
        ];
        match spawn(&self.spawn_attr, FINISH, &argv, None) {
            Ok(pid) => {
                self.deadline = match files::read_uint(TIMEOUT_FINISH) {
                    None => Some(Instant::now() + DEFAULT_TIMEOUT_FINISH),
                    Some(0) => None,
                    Some(ms) => Some(Instant::now() + Duration::from_millis(u64::from(ms))),
                };
                self.status.finishing = true;
                self.status.pid = u64::try_from(pid.as_raw()).unwrap_or(0);
                self.announce();
                events::publish(events::DOWN);
                true
            }
            Err(e) => {
                // No finish (or its interpreter is missing): silently.
                if e != Errno::ENOENT {
                    warn!("unable to spawn ./finish: {}", SysErr(e));
                }
                self.down_and_ready(events::DOWN_AND_READY);
                false
            }
        }
    }

    /// finish died with raw status `wstat`: exit 125 means the service must not be
    /// restarted (`O`); anything else, killed by the timeout included, is a plain `D`.
    pub fn finish_died(&mut self, wstat: i32) {
        if libc::WIFEXITED(wstat) && libc::WEXITSTATUS(wstat) == PERMANENT_FAILURE {
            self.status.wantup = false;
            self.down_and_ready(events::PERMANENT_FAILURE_AND_READY);
        } else {
            self.down_and_ready(events::READY);
        }
    }

    /// "Down and ready" (`set_down_and_ready`): no child, ready, the status written, the
    /// events published, and the next start at the throttle's time.
    fn down_and_ready(&mut self, events: &[u8]) {
        self.status.pid = 0;
        self.status.finishing = false;
        self.status.ready = true;
        self.state = State::Down;
        self.deadline = Some(self.throttle.next_start(Instant::now()));
        self.status.readystamp = Tai64n::now();
        self.announce();
        events::publish(events);
    }
}
