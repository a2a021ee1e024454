//! The states and the transition table (SUPERVISE.md, "States", "The transition table",
//! supervise.c:556-573): every input in every state, in one `match` laid out as the table's
//! rows, and the small actions the table names ("kill X", "wantup", "stop", "close", ...).
//! The bigger actions have their own modules: "start" (`start`), the deaths (`death`).
#![forbid(unsafe_code)]

use std::time::Duration;

use common::diag::SysErr;
use common::warn;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpgid};

use crate::daemon::Supervise;
use crate::files;
use crate::sys;
use common::control::SuperviseCommand;

/// SIGKILL is repeated this often while the service (or finish) has not died.
pub const KILL_AGAIN: Duration = Duration::from_secs(5);

/// What supervise is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No child; `wantup` decides whether the next timeout starts run.
    Down,
    /// run is alive.
    Up,
    /// run died, finish is alive.
    Finish,
    /// As `Up`, but supervise exits once the service is down.
    LastUp,
    /// As `Finish`, then exit.
    LastFinish,
}

/// The inputs of the table's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The deadline passed.
    Timeout,
    /// The tracked child (run or finish) died, with this raw wait status.
    Death(i32),
    Term,
    Hup,
    Quit,
    Int,
    Command(SuperviseCommand),
}

impl Supervise {
    /// Acts on `input` in the current state.
    // Arms with the same action stay apart where the spec's table has them in different rows.
    #[allow(clippy::match_same_arms)]
    pub fn act(&mut self, input: Input) {
        use State::{Down, Finish, LastFinish, LastUp, Up};
        match (self.state, input) {
            (Down, Input::Timeout) => {
                if self.status.wantup {
                    self.start();
                } else {
                    self.deadline = None;
                }
            }
            (Up | LastUp, Input::Timeout) => self.up_timeout(),
            (Finish | LastFinish, Input::Timeout) => self.finish_timeout(),

            // No child is tracked while down: the signal handler reaps everything instead.
            (Down, Input::Death(_)) => {}
            (Up, Input::Death(wstat)) => {
                if self.run_died(wstat) {
                    self.state = Finish;
                }
            }
            (LastUp, Input::Death(wstat)) => {
                if self.run_died(wstat) {
                    self.state = LastFinish;
                } else {
                    self.bail();
                }
            }
            (Finish, Input::Death(wstat)) => self.finish_died(wstat),
            (LastFinish, Input::Death(wstat)) => {
                self.finish_died(wstat);
                self.bail();
            }

            (Down, Input::Term | Input::Hup | Input::Quit | Input::Int) | (_, Input::Quit) => {
                self.bail();
            }
            (Up, Input::Term) => {
                self.state = LastUp;
                self.stop();
            }
            (LastUp, Input::Term) => self.stop(),
            (Finish, Input::Term | Input::Hup) => {
                self.state = LastFinish;
                self.close();
            }
            (LastFinish, Input::Term) => {}
            (Up, Input::Hup) => {
                self.state = LastUp;
                self.close();
            }
            (LastUp | LastFinish, Input::Hup) => self.close(),
            (_, Input::Int) => self.interrupt(),

            (_, Input::Command(command)) => self.command(command),
        }
    }

    /// The rows of the control letters.
    #[allow(clippy::match_same_arms)]
    fn command(&mut self, command: SuperviseCommand) {
        use State::{Down, Finish, LastFinish, LastUp, Up};
        use SuperviseCommand as C;
        let up = matches!(self.state, Up | LastUp);
        match command {
            C::Alarm if up => self.kill(libc::SIGALRM),
            C::Abort if up => self.kill(libc::SIGABRT),
            C::Quit if up => self.kill(libc::SIGQUIT),
            C::Hangup if up => self.kill(libc::SIGHUP),
            C::Kill if up => self.kill(libc::SIGKILL),
            C::Terminate if up => self.kill(libc::SIGTERM),
            C::Interrupt if up => self.kill(libc::SIGINT),
            C::Usr1 if up => self.kill(libc::SIGUSR1),
            C::Usr2 if up => self.kill(libc::SIGUSR2),
            C::Pause if up => self.pause(),
            C::Continue if up => self.cont(),
            C::Winch if up => self.kill(libc::SIGWINCH),
            C::Restart if up => self.kill(files::down_signal()),
            // Signals to a service that is not running: nothing.
            C::Alarm
            | C::Abort
            | C::Quit
            | C::Hangup
            | C::Kill
            | C::Terminate
            | C::Interrupt
            | C::Usr1
            | C::Usr2
            | C::Pause
            | C::Continue
            | C::Winch
            | C::Restart => {}

            C::Once => {
                self.want(false);
                if self.state == Down {
                    self.start();
                }
            }
            C::Down if up => self.stop(),
            C::Down => self.want(false),
            C::Up => {
                self.want(true);
                if self.state == Down {
                    self.start();
                }
            }
            C::DownWithFile => {
                files::add_down();
                if up {
                    self.stop();
                } else {
                    self.want(false);
                }
            }
            C::UpWithoutFile => {
                files::del_down();
                self.want(true);
                if self.state == Down {
                    self.start();
                }
            }
            C::Exit => match self.state {
                Down => self.bail(),
                Up => {
                    self.state = LastUp;
                    self.close();
                }
                Finish => {
                    self.state = LastFinish;
                    self.close();
                }
                LastUp | LastFinish => self.close(),
            },
            C::OnceAtMost => self.want(false),
            C::OnceAtMostWithFile => {
                files::add_down();
                self.want(false);
            }
        }
    }

    /// "exit": leave the loop at the end of this turn.
    pub fn bail(&mut self) {
        self.leave = true;
    }

    /// The tracked child's pid (run's, or finish's while finishing).
    fn child(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.status.pid).unwrap_or(0))
    }

    /// "kill X": `kill(pid, X)`, errors ignored (a number `down-signal` is not range-checked).
    pub fn kill(&self, sig: i32) {
        // pid 0 would be supervise's own process group; no state that kills has no child.
        if self.status.pid != 0 {
            sys::kill_raw(self.child(), sig);
        }
    }

    /// `p`: SIGSTOP, and the paused flag (written even if the kill failed).
    fn pause(&mut self) {
        self.kill(libc::SIGSTOP);
        self.status.paused = true;
        self.announce();
    }

    /// `c`, and after each down signal: SIGCONT, paused cleared, status written.
    pub fn cont(&mut self) {
        self.kill(libc::SIGCONT);
        self.status.paused = false;
        self.announce();
    }

    /// "wantup"/"wantdown": the flag, and the status file rewritten even when unchanged.
    fn want(&mut self, up: bool) {
        self.status.wantup = up;
        self.announce();
    }

    /// "stop" (`up_d`): wantup off, the down signal, SIGCONT, then the `timeout-kill` deadline
    /// if there is one.
    fn stop(&mut self) {
        self.status.wantup = false;
        self.kill(files::down_signal());
        self.cont();
        match files::read_uint(files::TIMEOUT_KILL) {
            Some(ms) if ms > 0 => {
                self.timeout_in(Duration::from_millis(u64::from(ms)));
                self.dying = true;
            }
            _ => self.deadline = None,
        }
    }

    /// The timeout while run is up: only a `timeout-kill` after a stop sets one.
    fn up_timeout(&mut self) {
        if self.dying {
            self.kill(libc::SIGKILL);
            // **fix** 1ed0fd7: SIGCONT follows, and the paused flag goes (a status write).
            self.cont();
            self.timeout_in(KILL_AGAIN);
        } else {
            self.deadline = None;
            warn!("can't happen: timeout while the service is up!");
        }
    }

    /// `timeout-finish` reached: finish is killed.
    fn finish_timeout(&mut self) {
        warn!("finish script lifetime reached maximum value - sending it a SIGKILL");
        self.cont();
        self.kill(libc::SIGKILL);
        self.timeout_in(KILL_AGAIN);
    }

    /// SIGINT while a child runs: SIGINT to its process group, then exit.
    fn interrupt(&mut self) {
        match getpgid(Some(self.child())) {
            Ok(pgid) => {
                let _ = killpg(pgid, Signal::SIGINT);
            }
            Err(e) => warn!("unable to getpgid: {}", SysErr(e)),
        }
        self.bail();
    }

    /// "close": fds 0 and 1 become /dev/null, so that a logger's supervisor drops its copy of
    /// the pipe and the last finish runs with /dev/null as stdin and stdout.
    fn close(&mut self) {
        if let Err(e) = sys::reopen_dev_null(0, libc::O_RDONLY) {
            warn!("unable to open /dev/null for reading: {}", SysErr(e));
        } else if let Err(e) = sys::reopen_dev_null(1, libc::O_WRONLY) {
            warn!("unable to open /dev/null for writing: {}", SysErr(e));
        }
    }
}
