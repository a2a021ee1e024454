//! The reaper (spec, "The reaper"): collects every dead child without blocking, including
//! children svscan never started (it may be PID 1 and inherit orphans).
//!
//! A dead supervisor of an active entry is due to start again at its next allowed start; a
//! dead supervisor of an inactive entry means the entry is forgotten.

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use crate::daemon::{Svscan, earliest};

impl Svscan {
    /// Reaps if asked to (SIGCHLD or `z`).
    pub fn reap(&mut self) {
        if !self.pending.reap {
            return;
        }
        self.pending.reap = false;
        loop {
            let pid = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(status) => status.pid(),
                Err(Errno::EINTR) => continue,
                Err(e) => self.crash("wait_nohang", e),
            };
            let Some(slot) = pid.and_then(|pid| self.table.take_pid(pid)) else {
                continue;
            };
            match self.table.get(slot) {
                Some(e) if e.active() => {
                    if let Some(due) = self.table.next_start(slot) {
                        earliest(&mut self.start_deadline, due);
                    }
                }
                Some(_) => {
                    self.table.remove(slot);
                }
                None => {}
            }
        }
    }
}
