//! Acting as another user: [`root`] (which `setpriv` needs), [`as_user`], and [`Uid::claim`],
//! a user no process has, for as long as the scenario runs.
//!
//! A scenario about per-user limits (RLIMIT_NPROC counts every process of the real uid) or
//! permissions must not share its user with anything else: not with a daemon running as
//! `nobody`, and not with the same scenario in a second copy of the suite running at the same
//! time. [`Uid::claim`] picks the first free uid of a range no system account uses, claims it with a POSIX
//! record lock on `/tmp/integration-tests-uid-N.lock` (held until the claim is dropped; the
//! lock dies with the process, so a crashed run frees it) and within this process with a
//! table (record locks do not exclude the process's own threads), and checks that no
//! process has it as any of its uids.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use std::sync::Mutex;

use nix::fcntl::{FcntlArg, fcntl};

use crate::suite::{Outcome, Skip};

/// Whether the tests run as root, which acting as another user needs.
///
/// # Errors
/// A [`Skip::missing`] when they do not (a failure under CI, which runs as root).
#[track_caller]
pub fn root() -> Outcome {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Skip::missing("root, to act as another user"))
    }
}

/// `setpriv` running a program as `uid` (and group `uid`), with no other group.
#[must_use]
pub fn as_user(uid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups");
    cmd
}

/// The uids [`Uid::claim`] picks from: above the ranges of system and login accounts and of
/// the subordinate ids `useradd` hands out from 100000 (65536 per user) for the first users.
const FIRST: u32 = 3_000_000;
const COUNT: u32 = 100_000;

/// A uid of the scenario's own (see the module doc); released on drop, after every process
/// the scenario started as that user is gone (declare it before the guards).
#[derive(Debug)]
pub struct Uid {
    uid: u32,
    /// Closed before the uid leaves [`CLAIMED`]: closing any fd of the file drops this
    /// process's lock, which must not happen to a later claim of the same uid.
    lock: Option<File>,
}

static CLAIMED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

impl Uid {
    /// Claims a uid that no process uses and no other scenario, here or in another copy of
    /// the suite, holds.
    ///
    /// # Panics
    /// If the whole range is taken (a leak: claims are released on drop).
    #[must_use]
    pub fn claim() -> Uid {
        // From the start of the range every time, so that only as many lock files exist as
        // claims were ever held at once (they are never removed: a removed lock file lets two
        // processes lock two files of one name).
        for uid in FIRST..FIRST + COUNT {
            let mut claimed = CLAIMED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if claimed.contains(&uid) {
                continue;
            }
            let Some(lock) = lock_file(uid) else {
                continue;
            };
            if in_use(uid) {
                continue;
            }
            claimed.push(uid);
            return Uid {
                uid,
                lock: Some(lock),
            };
        }
        panic!("no free uid in {FIRST}..{}", FIRST + COUNT);
    }

    #[must_use]
    pub fn get(&self) -> u32 {
        self.uid
    }
}

impl Drop for Uid {
    fn drop(&mut self) {
        drop(self.lock.take());
        CLAIMED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|u| *u != self.uid);
    }
}

/// The claim's lock file, locked (whole file, write lock, without waiting); `None` if
/// another process holds it.
fn lock_file(uid: u32) -> Option<File> {
    // Not $TMPDIR: every copy of the suite must see the same file.
    let path = format!("/tmp/integration-tests-uid-{uid}.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    let whole = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(&file, FcntlArg::F_SETLK(&whole)).ok().map(|_| file)
}

/// Whether any process has `uid` as its real, effective, saved or file-system uid.
fn in_use(uid: u32) -> bool {
    let uid = uid.to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .any(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .is_some_and(|ids| ids.split_whitespace().any(|id| id == uid))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_claims_get_different_uids_and_a_released_one_can_be_claimed_again() {
        let a = Uid::claim();
        let b = Uid::claim();
        assert_ne!(a.get(), b.get());
        assert!(!in_use(a.get()));
        let uid = a.get();
        drop(a);
        assert!(!CLAIMED.lock().unwrap().contains(&uid));
    }
}
