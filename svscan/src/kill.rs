//! The killer (spec, "The killer"): sends the kills that commands and signals asked for.
//!
//! Services always get SIGTERM; loggers (a `/` in the name) and the catch-all logger get
//! SIGHUP, which lets them drain their pipe to EOF, unless SIGTERM for loggers was asked
//! (`q`, `N`). Kills wait while a requested scan has not completed, so that `h` acts on the
//! directory as it is now; **fix**: not when svscan is leaving its loop, where C waited
//! forever for supervisors it never signalled (`-at`).

use nix::sys::signal::{Signal, kill};

use crate::daemon::Svscan;

impl Svscan {
    /// Sends the pending kills, unless held back.
    pub fn kill(&mut self) {
        let p = self.pending;
        if !(p.kill_all || p.kill_inactive) || (p.delay_kills && !self.leave) {
            return;
        }
        for (_, e) in self.table.entries() {
            let Some(pid) = e.pid() else {
                continue;
            };
            if p.kill_all || !e.active() {
                let signal = if e.is_logger() && !p.term_loggers {
                    Signal::SIGHUP
                } else {
                    Signal::SIGTERM
                };
                // A supervisor that died since the last reap is not an error: it will be
                // reaped on the SIGCHLD that is already pending.
                let _ = kill(pid, signal);
            }
        }
        self.pending.kill_all = false;
        self.pending.kill_inactive = false;
        self.pending.term_loggers = false;
    }
}
