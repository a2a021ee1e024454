//! The starter (spec, "The starter"), and the respawn throttle: a supervisor is started no
//! sooner than 1 s after its previous **start** (not its death), so one that ran for a while
//! and died is restarted at once and one that dies at once is restarted once a second.
//!
//! A supervisor is spawned as `s6-supervise NAME` in the scan directory, with svscan's fds
//! 0-2 except that a pair's service gets the pipe's write end as fd 1 and its logger the read
//! end as fd 0 (**fix**: by role in the pair, not by name), and the catch-all logger gets the
//! console holder as fd 2.
//!
//! Those moves are made in svscan itself, around the spawn ([`StdioMoves`]): the pipe end is
//! dup2'ed onto svscan's own fd 0, 1 or 2 (which clears CLOEXEC on that number only), the
//! child inherits it, and svscan's own descriptor is put back from a CLOEXEC copy saved at the
//! first move. posix_spawn file actions would do the same in the child, but glibc allocates
//! an array of eight actions for the first one added: kept per entry, so that a respawn
//! allocates nothing, they cost about 400 bytes of heap for each side of every logged pair.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use common::diag::warn_sys;
use nix::errno::Errno;
use nix::unistd::{AccessFlags, Pid, access, dup2_stderr, dup2_stdin, dup2_stdout};

use crate::daemon::{Svscan, earliest};
use crate::sys;
use common::spawn::{SpawnAttr, spawn_sharing_fds};

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
    moves: StdioMoves,
    /// Where the descriptors svscan inherited end: every one from there up is its own, and
    /// CLOEXEC (read at the first spawn).
    close_from: Option<RawFd>,
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
            moves: StdioMoves::default(),
            close_from: None,
        }
    }

    /// The program that will be tried first.
    #[cfg(test)]
    fn first(&self) -> Option<&CStr> {
        self.candidates.get(self.last_good).map(CString::as_c_str)
    }

    /// Spawns the supervise program with execvp's search rules: a candidate that is missing
    /// or not executable is skipped; the error is EACCES if one was found but refused,
    /// else ENOENT. The child shares svscan's fd table until it drops svscan's own
    /// descriptors ([`spawn_sharing_fds`]): a spawn costs the same with two pipe ends per
    /// logged pair and the held directories as with none.
    fn spawn(&mut self, attr: &SpawnAttr, argv: &[&CStr]) -> Result<Pid, Errno> {
        let close_from = *self
            .close_from
            .get_or_insert_with(common::sys::first_fd_above_inherited);
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
            match spawn_sharing_fds(attr, path, argv, close_from) {
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
            if !e.active() || e.pid().is_some() {
                continue;
            }
            let due = self.table.next_start(slot).unwrap_or(now);
            if due > now {
                earliest(&mut self.start_deadline, due);
                continue;
            }
            match self.spawn_supervisor(slot) {
                Ok(pid) => {
                    self.table.set_pid(slot, pid);
                    // **fix** (the throttle counts from each supervisor's own spawn): from
                    // this spawn, not from the pass's `now` (C's loop stamp). Each spawn waits
                    // for its child's exec, so a pass that forks many supervisors takes a
                    // while, and the last one would be allowed back sooner than 1 s after its
                    // own start.
                    self.table
                        .set_next_start(slot, Instant::now() + RESPAWN_THROTTLE);
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
    /// the console holder moved into place for the child (see the module doc).
    fn spawn_supervisor(&mut self, slot: Slot) -> Result<Pid, Errno> {
        let Some((e, name)) = self.table.get_named(slot) else {
            return Err(Errno::ENOENT);
        };
        let argv = [SUPERVISE_ARGV0, name];
        let mut moves = [None; 3];
        if let (Some(role), Some(end)) = (e.role(), e.pipe_end()) {
            let target = match role {
                Role::Service => 1,
                Role::Logger => 0,
            };
            moves[target] = Some(end);
        }
        if e.special()
            && let Some(holder) = &self.console_holder
        {
            moves[2] = Some(holder.as_fd());
        }
        let supervise = &mut self.supervise;
        if moves.iter().all(Option::is_none) {
            return supervise.spawn(&self.spawn_attr, &argv);
        }
        supervise.moves.apply(&moves)?;
        let spawned = supervise.spawn(&self.spawn_attr, &argv);
        supervise.moves.restore(&moves);
        spawned
    }
}

/// svscan's own fds 0, 1 and 2, each saved (a CLOEXEC copy) the first time a child needs
/// another descriptor on that number, so that it can be put back after the spawn.
#[derive(Debug, Default)]
struct StdioMoves {
    saved: [Option<OwnedFd>; 3],
}

/// `dup2(fd, target)` for a standard fd number.
fn dup2_std(fd: BorrowedFd<'_>, target: usize) -> Result<(), Errno> {
    match target {
        0 => dup2_stdin(fd),
        1 => dup2_stdout(fd),
        _ => dup2_stderr(fd),
    }
}

impl StdioMoves {
    /// Puts each given descriptor on its number (the index) in svscan itself. On failure,
    /// whatever was moved is put back.
    fn apply(&mut self, moves: &[Option<BorrowedFd<'_>>; 3]) -> Result<(), Errno> {
        for (target, fd) in moves.iter().enumerate() {
            let Some(fd) = fd else { continue };
            let saved = match self.saved[target].take() {
                Some(saved) => Ok(saved),
                None => sys::save_std_fd(target),
            };
            let moved = saved.and_then(|saved| {
                self.saved[target] = Some(saved);
                dup2_std(*fd, target)
            });
            if let Err(e) = moved {
                let mut done = [None; 3];
                done[..target].copy_from_slice(&moves[..target]);
                self.restore(&done);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Gives svscan its own descriptors back on the numbers that `moves` changed.
    fn restore(&self, moves: &[Option<BorrowedFd<'_>>; 3]) {
        for (target, fd) in moves.iter().enumerate() {
            if fd.is_none() {
                continue;
            }
            if let Some(saved) = &self.saved[target]
                && let Err(e) = dup2_std(saved.as_fd(), target)
            {
                // Cannot happen with a saved copy that svscan holds open; said if it does,
                // since the next unpaired supervisor would inherit the pipe end.
                common::diag::warn_sys(&[b"unable to restore a standard fd after a spawn"], e);
            }
        }
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
        let pid = s.spawn(&attr, &[c"true"]).unwrap();
        nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(s.first().unwrap().to_str().unwrap(), "/bin/true");
        let mut missing = Supervise::new(OsStr::new("no-such-prog-xyz"), Some(OsStr::new("/bin")));
        assert_eq!(missing.spawn(&attr, &[c"x"]), Err(Errno::ENOENT));
    }
}
