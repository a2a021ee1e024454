//! What the scenarios of svscan's features beyond s6 share: running our `svscanctl` with its
//! output, reading `-lj`, and looking at svscan's children and their pending signals in
//! `/proc`.

use std::ffi::OsStr;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::json::{self, Json};
use integration_tests::{
    DEADLINE, Implementation, binary, implementation, procfs, with_std_fds_only,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// These features are ours: against the C s6-svscan the scenario does not run.
pub fn skipped_for_c() -> bool {
    if implementation() == Implementation::C {
        eprintln!("skipped: svscan's socket, events and --watch are beyond s6");
        return true;
    }
    false
}

/// How a client run by [`run`] ended.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the spawn to the exit.
    pub took: Duration,
}

/// Our `svscanctl` with these arguments.
pub fn svscanctl<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(binary("svscanctl"));
    cmd.args(args);
    cmd
}

/// A client started in the background, its output to files (for [`finish`]).
pub struct Running {
    child: Child,
    started: Instant,
    out: std::fs::File,
    err: std::fs::File,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Starts `cmd` with fds 0-2 only, stdin on /dev/null.
pub fn spawn(cmd: &mut Command) -> Running {
    let out = tempfile::tempfile().expect("tempfile");
    let err = tempfile::tempfile().expect("tempfile");
    let started = Instant::now();
    let child = with_std_fds_only(cmd)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    Running {
        child,
        started,
        out,
        err,
    }
}

fn contents(file: &mut std::fs::File) -> String {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut s))
        .expect("read output");
    s
}

/// Waits for a background client to end, within `within`.
///
/// # Panics
/// If it is still running then (it is killed by the guard).
pub fn finish(mut r: Running, within: Duration) -> Ran {
    let deadline = r.started + within;
    loop {
        if let Some(status) = r.child.try_wait().expect("try_wait") {
            return Ran {
                code: status.code(),
                took: r.started.elapsed(),
                stdout: contents(&mut r.out),
                stderr: contents(&mut r.err),
            };
        }
        assert!(
            Instant::now() < deadline,
            "{:?} still running after {within:?}",
            r.child
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `cmd` to its end within [`DEADLINE`].
pub fn run(cmd: &mut Command) -> Ran {
    finish(spawn(cmd), DEADLINE)
}

/// `svscanctl ARGS DIR`.
pub fn ctl_command(dir: &Path, args: &[&str]) -> Command {
    svscanctl(args.iter().map(OsStr::new).chain([dir.as_os_str()]))
}

/// Runs `svscanctl ARGS DIR` to its end.
pub fn ctl(dir: &Path, args: &[&str]) -> Ran {
    run(&mut ctl_command(dir, args))
}

/// Runs `svscanctl ARGS DIR`, which must exit 0.
pub fn ctl_ok(dir: &Path, args: &[&str]) -> Ran {
    let ran = ctl(dir, args);
    assert_eq!(ran.code, Some(0), "svscanctl {args:?}: {ran:?}");
    ran
}

/// svscan's table, from `svscanctl -lj`.
pub fn list(dir: &Path) -> Vec<Json> {
    ctl_ok(dir, &["-lj"])
        .stdout
        .lines()
        .map(|l| json::parse(l).unwrap_or_else(|e| panic!("-lj line {l:?}: {e:?}")))
        .collect()
}

/// The entry named `name` in a listing.
pub fn entry<'a>(listing: &'a [Json], name: &str) -> Option<&'a Json> {
    listing
        .iter()
        .find(|e| e.get("name").and_then(Json::as_str) == Some(name))
}

/// A string member, `None` for `null` or absent.
pub fn str_of<'a>(e: &'a Json, key: &str) -> Option<&'a str> {
    e.get(key).and_then(Json::as_str)
}

/// An integer member, `None` for `null` or absent.
pub fn int_of(e: &Json, key: &str) -> Option<i64> {
    e.get(key).and_then(Json::as_int)
}

/// The live child of svscan that supervises `name` (`s6-supervise NAME` in its cmdline), as
/// svscan spawned it: posix_spawn returns once the child has exec'd, so it is there as soon
/// as svscan says it is.
pub fn supervisor_of(svscan: i32, name: &str) -> Option<i32> {
    let want = format!("s6-supervise\0{name}\0");
    procfs::children(svscan).into_iter().find(|&p| {
        procfs::state(p).is_some_and(|s| s != 'Z')
            && std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want.as_bytes())
    })
}

/// The signals pending for `pid` (process-wide and its thread's), as a set of numbers.
pub fn pending(pid: i32) -> Vec<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mut mask = 0u64;
    for line in status.lines() {
        if let Some(hex) = line
            .strip_prefix("ShdPnd:")
            .or_else(|| line.strip_prefix("SigPnd:"))
        {
            mask |= u64::from_str_radix(hex.trim(), 16).unwrap_or(0);
        }
    }
    (1..=64).filter(|s| mask & (1 << (s - 1)) != 0).collect()
}

/// Whether `pid` sleeps in a poll-family system call (x86_64: poll, select, epoll_wait,
/// pselect6, ppoll, epoll_pwait, epoll_pwait2): svscan between two turns, a client waiting.
pub fn asleep_in_poll(pid: i32) -> bool {
    const POLLS: [u64; 7] = [7, 23, 232, 270, 271, 281, 441];
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let nr: Option<u64> = syscall
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok());
    procfs::state(pid) == Some('S') && nr.is_some_and(|n| POLLS.contains(&n))
}

/// Whether `pid` sleeps in poll with no timeout (x86_64 `poll` with -1, or `ppoll` with a
/// null timeout): svscan idle, with no timer pending.
pub fn asleep_forever(pid: i32) -> bool {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let f: Vec<&str> = syscall.split_whitespace().collect();
    procfs::state(pid) == Some('S')
        && match f.as_slice() {
            // poll's timeout is an int: -1 shows as its 32 bits.
            ["7", _, _, timeout, ..] => matches!(*timeout, "0xffffffff" | "0xffffffffffffffff"),
            ["271", _, _, timeout, ..] => *timeout == "0x0",
            _ => false,
        }
}
