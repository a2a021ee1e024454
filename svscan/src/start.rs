//! The starter (spec, "The starter"), and the respawn throttle: a supervisor is started no
//! sooner than 1 s after its previous **start** (not its death), so one that ran for a while
//! and died is restarted at once and one that dies at once is restarted once a second.
//!
//! A supervisor is spawned as `s6-supervise NAME` in the scan directory, with svscan's fds
//! 0-2 except that a pair's service gets the pipe's write end as fd 1 and its logger the read
//! end as fd 0 (**fix**: by role in the pair, not by name), and the catch-all logger gets the
//! console holder as fd 2.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use common::diag::warn_sys;
use nix::errno::Errno;
use nix::unistd::{AccessFlags, Pid, access};

use crate::daemon::{Svscan, earliest};
use common::spawn::{FileAction, FileActions, SpawnAttr, spawn};

use crate::table::{Role, Slot};

/// The least time between two starts of the same supervisor.
pub const RESPAWN_THROTTLE: Duration = Duration::from_secs(1);
/// After a failed spawn, the next start pass is this far away: a missing supervise program
/// must never become a busy loop.
pub const SPAWN_RETRY: Duration = Duration::from_secs(10);
/// `argv[0]` of every supervisor, whatever the program's path (as C).
const SUPERVISE_ARGV0: &CStr = c"s6-supervise";
/// Where to look for the supervise program when PATH is unset.
const DEFAULT_PATH: &[u8] = b"/usr/bin:/bin";

/// The supervise program: a path, or the candidates of a PATH search, tried in PATH order
/// with the last one that worked first.
#[derive(Debug)]
pub struct Supervise {
    candidates: Vec<CString>,
    last_good: usize,
}

impl Supervise {
    /// `prog` as given to `--supervise`; without a `/` it is looked up in `path` (PATH).
    #[must_use]
    pub fn new(prog: &OsStr, path: Option<&OsStr>) -> Self {
        let name = prog.as_bytes();
        let candidates = if name.contains(&b'/') || name.is_empty() {
            vec![name.to_vec()]
        } else {
            let path = path.map_or(DEFAULT_PATH, OsStr::as_bytes);
            path.split(|&b| b == b':')
                .map(|dir| {
                    let dir = if dir.is_empty() { b".".as_slice() } else { dir };
                    [dir, b"/", name].concat()
                })
                .collect()
        };
        let candidates = candidates
            .into_iter()
            .filter_map(|c| CString::new(c).ok())
            .collect();
        Supervise {
            candidates,
            last_good: 0,
        }
    }

    /// The program that will be tried first.
    #[cfg(test)]
    fn first(&self) -> Option<&CStr> {
        self.candidates.get(self.last_good).map(CString::as_c_str)
    }

    /// Spawns the supervise program with execvp's search rules: a candidate that is missing
    /// or not executable is skipped; the error is EACCES if one was found but refused,
    /// else ENOENT.
    fn spawn(
        &mut self,
        attr: &SpawnAttr,
        argv: &[&CStr],
        actions: Option<&FileActions>,
    ) -> Result<Pid, Errno> {
        let mut refused = false;
        let order = std::iter::once(self.last_good)
            .chain((0..self.candidates.len()).filter(|&i| i != self.last_good));
        for i in order {
            let Some(path) = self.candidates.get(i) else {
                continue;
            };
            // Cheap check first, so that a PATH search does not cost a failed spawn per
            // directory on every start.
            if i != self.last_good && access(path.as_c_str(), AccessFlags::X_OK).is_err() {
                continue;
            }
            match spawn(attr, path, argv, actions) {
                Ok(pid) => {
                    self.last_good = i;
                    return Ok(pid);
                }
                Err(Errno::ENOENT | Errno::ENOTDIR) => {}
                Err(Errno::EACCES) => refused = true,
                Err(e) => return Err(e),
            }
        }
        Err(if refused {
            Errno::EACCES
        } else {
            Errno::ENOENT
        })
    }
}

impl Svscan {
    /// A start pass: starts every active entry with no supervisor whose time has come, and
    /// sets the start deadline to the earliest of those still in their 1 s window.
    pub fn start(&mut self, now: Instant) {
        // **fix**: C reset the deadline and only re-armed it from starts (seed lines
        // 1350-1352, 1381), forgetting entries still inside their window.
        self.start_deadline = None;
        for slot in self.table.slot_range() {
            let Some(e) = self.table.get(slot) else {
                continue;
            };
            if !e.active || e.pid.is_some() {
                continue;
            }
            if e.next_start > now {
                earliest(&mut self.start_deadline, e.next_start);
                continue;
            }
            match self.spawn_supervisor(slot) {
                Ok(pid) => {
                    self.table.set_pid(slot, pid);
                    if let Some(e) = self.table.get_mut(slot) {
                        // **fix** (the throttle counts from each supervisor's own spawn):
                        // from this spawn, not from the pass's `now` (C's loop stamp). Each
                        // spawn waits for its child's exec, so a pass that forks many
                        // supervisors takes a while, and the last one would be allowed back
                        // sooner than 1 s after its own start.
                        e.next_start = Instant::now() + RESPAWN_THROTTLE;
                    }
                }
                Err(err) => {
                    let name = self.table.name_bytes(slot);
                    warn_sys(&[b"unable to spawn s6-supervise for ", name], err);
                    self.spawn_failed(slot, err);
                    // The failed entry's start time is not advanced; only a reaped death or
                    // a new entry arms an earlier pass.
                    self.start_deadline = Some(now + SPAWN_RETRY);
                    return;
                }
            }
        }
    }

    /// Spawns the supervisor of `slot`: `s6-supervise NAME`, with the pair's pipe end and
    /// the console holder moved into place. The entry's file actions are reused when the
    /// moves are the same as last time, so a respawn allocates nothing.
    fn spawn_supervisor(&mut self, slot: Slot) -> Result<Pid, Errno> {
        let Some((e, name)) = self.table.get_mut_named(slot) else {
            return Err(Errno::ENOENT);
        };
        let mut moves = [FileAction::Close(-1); 2];
        let mut n = 0;
        if let Some(link) = &e.link {
            let target = match link.role {
                Role::Service => 1,
                Role::Logger => 0,
            };
            moves[n] = FileAction::Dup2 {
                from: link.end.as_raw_fd(),
                to: target,
            };
            n += 1;
        }
        if e.special
            && let Some(holder) = &self.console_holder
        {
            moves[n] = FileAction::Dup2 {
                from: holder.as_raw_fd(),
                to: 2,
            };
            n += 1;
        }
        let moves = &moves[..n];
        if moves.is_empty() {
            e.spawn_actions = None;
        } else if !e.spawn_actions.as_ref().is_some_and(|fa| fa.is(moves)) {
            e.spawn_actions = Some(Box::new(FileActions::new(moves)?));
        }
        let argv = [SUPERVISE_ARGV0, name];
        self.supervise
            .spawn(&self.spawn_attr, &argv, e.spawn_actions.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Supervise) -> Vec<&str> {
        s.candidates.iter().map(|c| c.to_str().unwrap()).collect()
    }

    #[test]
    fn a_name_is_looked_up_in_path_in_order() {
        let s = Supervise::new(OsStr::new("s6-supervise"), Some(OsStr::new("/a:/b/c::/d")));
        assert_eq!(
            names(&s),
            [
                "/a/s6-supervise",
                "/b/c/s6-supervise",
                "./s6-supervise",
                "/d/s6-supervise"
            ]
        );
    }

    #[test]
    fn without_path_the_default_is_usr_bin_then_bin() {
        let s = Supervise::new(OsStr::new("s6-supervise"), None);
        assert_eq!(names(&s), ["/usr/bin/s6-supervise", "/bin/s6-supervise"]);
    }

    #[test]
    fn a_path_with_a_slash_is_used_as_is() {
        let s = Supervise::new(OsStr::new("./bin/stub"), Some(OsStr::new("/a")));
        assert_eq!(names(&s), ["./bin/stub"]);
    }

    #[test]
    fn a_missing_program_is_enoent_and_a_found_one_is_remembered() {
        let attr = SpawnAttr::new(common::spawn::SpawnOptions::default()).unwrap();
        let mut s = Supervise::new(OsStr::new("true"), Some(OsStr::new("/nonexistent:/bin")));
        let pid = s.spawn(&attr, &[c"true"], None).unwrap();
        nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(s.first().unwrap().to_str().unwrap(), "/bin/true");
        let mut missing = Supervise::new(OsStr::new("no-such-prog-xyz"), Some(OsStr::new("/bin")));
        assert_eq!(missing.spawn(&attr, &[c"x"], None), Err(Errno::ENOENT));
    }
}
