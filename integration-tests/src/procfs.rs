//! Questions about processes that `/proc` answers without disturbing them: does a pid exist,
//! is it a zombie, whose child is it, how many fds does it hold, is it asleep in `poll`, how
//! much CPU has it used. A pid that vanishes while being read is simply absent from the
//! answer.

use std::path::PathBuf;
use std::time::Duration;

use nix::libc;

/// The fields of `/proc/PID/stat` after the command name, so `fields[0]` is field 3 (state).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The state letter of `pid` (`R`, `S`, `Z`, ...), if it exists.
#[must_use]
pub fn state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

/// Whether `pid` exists at all, zombies included.
#[must_use]
pub fn process_exists(pid: i32) -> bool {
    state(pid).is_some()
}

/// Whether `pid` exists and is not a zombie.
#[must_use]
pub fn is_alive(pid: i32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// The parent of `pid`.
#[must_use]
pub fn ppid(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The start time of `pid` in clock ticks since boot (field 22), which tells a process from a
/// later one that reused its pid; the stub records its own in `start` and `orphan`.
#[must_use]
pub fn starttime(pid: i32) -> Option<i64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The children of `pid` (any state).
#[must_use]
pub fn children(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|p| ppid(*p) == Some(pid))
        .collect()
}

/// Every descendant of `pid` (children, their children, ...) with its start time, from one
/// pass over `/proc`.
#[must_use]
pub fn descendants(pid: i32) -> Vec<(i32, i64)> {
    let table: Vec<(i32, i32, i64)> = all_pids()
        .into_iter()
        .filter_map(|p| {
            let f = stat_fields(p)?;
            Some((p, f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?))
        })
        .collect();
    let mut found: Vec<(i32, i64)> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for &(p, pp, start) in &table {
            if pp == parent && !found.iter().any(|(q, _)| *q == p) {
                found.push((p, start));
                parents.push(p);
            }
        }
    }
    found
}

/// The children of `pid` that are zombies: dead and not yet reaped by it.
#[must_use]
pub fn zombie_children(pid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|p| {
            stat_fields(*p).is_some_and(|f| {
                f.first().map(String::as_str) == Some("Z")
                    && f.get(1).and_then(|pp| pp.parse().ok()) == Some(pid)
            })
        })
        .collect()
}

/// The open fds of `pid` with what they point to (`pipe:[1234]`, `/dev/null`, ...).
#[must_use]
pub fn fds(pid: i32) -> Vec<(i32, PathBuf)> {
    let dir = format!("/proc/{pid}/fd");
    let mut fds: Vec<(i32, PathBuf)> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let fd = e.file_name().to_str()?.parse().ok()?;
                    Some((fd, std::fs::read_link(e.path()).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds
}

/// How many fds `pid` has open.
#[must_use]
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// How many fds `pid` has open that are not `O_PATH` ones (`flags` in `/proc/PID/fdinfo/FD`):
/// our svscan holds its service directories so (a cache, see `svscan/src/scan.rs`), which a
/// count of leaked pipe ends must leave out.
#[must_use]
pub fn fd_count_without_paths(pid: i32) -> usize {
    let flags = |fd: &str| {
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
        let octal = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
        i32::from_str_radix(octal.trim(), 8).ok()
    };
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| {
        dir.flatten()
            .filter(|e| {
                let fd = e.file_name();
                flags(&fd.to_string_lossy()).is_some_and(|f| f & libc::O_PATH == 0)
            })
            .count()
    })
}

/// The poll-family system calls, by this architecture's numbers (the ones it has).
const POLL_CALLS: &[libc::c_long] = &[
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    libc::SYS_poll,
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    libc::SYS_select,
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    libc::SYS_epoll_wait,
];

/// Whether the system call `pid` is in (or was stopped in) is of the poll family (`poll`,
/// `ppoll`, `select`, `epoll_wait` and friends), from `/proc/PID/syscall`. (Reading another
/// process's `syscall` needs ptrace rights: root, or the same user.)
#[must_use]
pub fn in_poll_call(pid: i32) -> bool {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let nr: Option<libc::c_long> = syscall
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok());
    nr.is_some_and(|n| POLL_CALLS.contains(&n))
}

/// Whether `pid` sleeps in a poll-family system call ([`in_poll_call`]): for svscan or a
/// stub, between two turns of its loop.
#[must_use]
pub fn in_poll(pid: i32) -> bool {
    state(pid) == Some('S') && in_poll_call(pid)
}

/// The CPU time `pid` has used so far: the first field of `/proc/PID/schedstat`
/// (nanoseconds), or, without schedstats, utime + stime of its `stat` (in USER_HZ, which is
/// 100 on Linux whatever the kernel's HZ).
#[must_use]
pub fn cpu_time(pid: i32) -> Option<Duration> {
    let schedstat = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok();
    if let Some(ns) = schedstat.and_then(|s| s.split_whitespace().next()?.parse().ok()) {
        return Some(Duration::from_nanos(ns));
    }
    let fields = stat_fields(pid)?;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A `Key:   value` field of `/proc/PID/FILE`, as a number (kB for sizes).
fn proc_field(pid: i32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Voluntary plus nonvoluntary context switches of `pid` so far (`/proc/PID/status`): its
/// wake-ups, for the "zero wake-ups while idle" checks.
#[must_use]
pub fn context_switches(pid: i32) -> u64 {
    proc_field(pid, "status", "voluntary_ctxt_switches").unwrap_or(0)
        + proc_field(pid, "status", "nonvoluntary_ctxt_switches").unwrap_or(0)
}

/// A memory figure of `pid` in kB from `/proc/PID/smaps_rollup` (`Private_Dirty`, `Rss`).
#[must_use]
pub fn memory_kb(pid: i32, key: &str) -> Option<u64> {
    proc_field(pid, "smaps_rollup", key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_blocked_in_poll_is_seen_in_poll() {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let poller = std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::NONE).unwrap();
        });
        let tid = tid_rx.recv().unwrap();
        crate::wait_until("the thread asleep in poll", crate::DEADLINE, || {
            in_poll(tid)
        });
        nix::unistd::write(&w, b"x").unwrap();
        poller.join().unwrap();
        assert!(
            !in_poll(std::process::id() as i32),
            "this thread is not in poll"
        );
    }

    #[test]
    fn sees_this_process_and_its_zombie_child() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        assert!(starttime(me).is_some());
        assert!(fd_count(me) >= 3);
        let before = fd_count_without_paths(me);
        let path = nix::fcntl::open(
            "/",
            nix::fcntl::OFlag::O_PATH,
            nix::sys::stat::Mode::empty(),
        );
        assert_eq!(
            fd_count_without_paths(me),
            before,
            "an O_PATH fd is not counted"
        );
        let dir = std::fs::File::open("/").unwrap();
        assert_eq!(fd_count_without_paths(me), before + 1, "another fd is");
        drop((dir, path));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        assert!(cpu_time(me).is_some_and(|t| t > Duration::ZERO));
        crate::wait_until("the child to be a zombie", crate::DEADLINE, || {
            state(pid) == Some('Z')
        });
        assert!(zombie_children(me).contains(&pid));
        assert!(children(me).contains(&pid));
        assert!(descendants(me).iter().any(|(p, _)| *p == pid));
        assert!(process_exists(pid) && !is_alive(pid));
        child.wait().unwrap();
        assert!(!process_exists(pid));
    }
}
