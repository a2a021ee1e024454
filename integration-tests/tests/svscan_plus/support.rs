//! What the scenarios of svscan's features beyond s6 share: running our `svscanctl`, reading
//! `-lj`, and looking at svscan's children, their pending signals and svscan's sleep in
//! `/proc`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::json::{self, Json};
use integration_tests::process::Guard;
use integration_tests::program::{self, Ran};
use integration_tests::{DEADLINE, Outcome, binary, ours_only, procfs, with_std_fds_only};

/// These features are ours: against the C s6-svscan a scenario is skipped.
pub fn ours() -> Outcome {
    ours_only("svscan's socket, events and --watch are beyond s6")
}

/// `svscanctl ARGS DIR` (our svscanctl).
pub fn ctl_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary("svscanctl"));
    cmd.args(args.iter().map(OsStr::new)).arg(dir);
    cmd
}

/// Runs `svscanctl ARGS DIR` to its end, and how long it took.
pub fn ctl(dir: &Path, args: &[&str]) -> (Ran, Duration) {
    let started = Instant::now();
    let ran = program::run(&mut ctl_command(dir, args), DEADLINE);
    (ran, started.elapsed())
}

/// Runs `svscanctl ARGS DIR`, which must exit 0.
pub fn ctl_ok(dir: &Path, args: &[&str]) -> Ran {
    let (ran, _) = ctl(dir, args);
    assert_eq!(ran.code, Some(0), "svscanctl {args:?}: {ran:?}");
    ran
}

/// Starts `svscanctl ARGS DIR` in the background, its output discarded.
pub fn ctl_background(dir: &Path, args: &[&str]) -> Guard {
    let mut cmd = ctl_command(dir, args);
    Guard::spawn(
        with_std_fds_only(&mut cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
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

/// The signals pending for `pid` (process-wide and its thread's), as numbers.
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
