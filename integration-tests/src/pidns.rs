//! svscan as PID 1 of a new PID namespace: `unshare --pid --fork --mount-proc` in front of
//! its command line ([`Launch::start_wrapped`](crate::Launch::start_wrapped) with
//! [`UNSHARE_PID`]). Inside, svscan is pid 1 and the stubs record the namespace's pids; the
//! test sees the outer ones in its `/proc`, and [`outer_pid`] maps one to the other through
//! the `NSpid` line of `/proc/PID/status`.
//!
//! The guard's pid is `unshare`'s, which waits for svscan and exits as it did; its process
//! group holds svscan and the stubs, and when svscan, the namespace's init, dies, the kernel
//! kills whatever is left in the namespace.

use std::process::{Command, Stdio};

use crate::procfs;
use crate::suite::{Outcome, Skip};

/// The wrapper: a new PID namespace (and mount namespace, with its own `/proc`), svscan
/// forked into it as pid 1.
pub const UNSHARE_PID: [&str; 4] = ["unshare", "--pid", "--fork", "--mount-proc"];

/// Whether this machine lets us make a PID namespace (root, and no seccomp policy against
/// it).
///
/// # Errors
/// A [`Skip::missing`] when it does not (a failure under CI, which runs as root).
#[track_caller]
pub fn available() -> Outcome {
    let ok = crate::process::forking(|| {
        Command::new(UNSHARE_PID[0])
            .args(&UNSHARE_PID[1..])
            .arg("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    })
    .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(Skip::missing(
            "a PID namespace (`unshare --pid --fork --mount-proc true` failed: not root?)",
        ))
    }
}

/// The pids of `pid` (an outer pid) in each PID namespace it belongs to, outermost first:
/// the `NSpid` line of its status.
#[must_use]
pub fn nspids(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("NSpid:")).map(|l| {
                l.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The outer pid of the descendant of `root` whose pid in the innermost namespace is `inner`.
#[must_use]
pub fn outer_pid(root: i32, inner: i32) -> Option<i32> {
    procfs::descendants(root)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| {
            let ns = nspids(*p);
            ns.len() > 1 && ns.last() == Some(&inner)
        })
}
