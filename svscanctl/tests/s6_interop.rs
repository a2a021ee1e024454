//! `svscanctl` and `common`'s control-dir lock against Debian's real `/usr/bin/s6-svscan`
//! (s6 2.11; spec: "svscanctl", and item 1 of the top list: the lock is a POSIX record lock
//! that the C svscan must see and that must see it).
//!
//! Every process a test starts runs in its own process group and is killed and reaped by a
//! guard, even when the test panics. Waits are polls against a deadline, never fixed sleeps.
//! Without `/usr/bin/s6-svscan` the tests are skipped, except under CI, where they fail.

use std::fs;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::ctldir::{InitError, SVSCAN, init_control_dir};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

const S6_SVSCAN: &str = "/usr/bin/s6-svscan";
const SVSCANCTL: &str = env!("CARGO_BIN_EXE_svscanctl");
/// How long any one awaited event may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a guard waits for a polite exit before it kills the whole process group.
const TEARDOWN: Duration = Duration::from_secs(5);
/// How often a polled condition is checked.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Whether the real s6-svscan is there; under CI its absence is a failure, not a skip.
fn have_real_s6() -> bool {
    if Path::new(S6_SVSCAN).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{S6_SVSCAN} is missing: CI must install Debian's s6 (apt-get install -y s6)"
    );
    eprintln!("skipped: {S6_SVSCAN} is not installed (apt-get install s6)");
    false
}

/// A child process in its own process group. Dropping it stops the group (the child and
/// whatever it started there, such as s6-supervise): SIGTERM, then SIGKILL if the child is
/// still there at a deadline; the child is reaped either way.
struct Guard {
    child: Child,
    reaped: bool,
}

impl Guard {
    fn spawn(command: &mut Command) -> Guard {
        let child = command
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        Guard {
            child,
            reaped: false,
        }
    }

    /// Waits for the child to exit; a child still running at the deadline fails the test.
    fn wait_exit(&mut self, deadline: Instant) -> ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.reaped = true;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pid {} still running at the deadline",
                self.child.id()
            );
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn stderr(&mut self) -> String {
        let mut text = String::new();
        self.child
            .stderr
            .take()
            .expect("stderr is piped")
            .read_to_string(&mut text)
            .unwrap();
        text
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Once reaped, the pid (and so the group id) may belong to someone else.
        if self.reaped {
            return;
        }
        let group = Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits in i32"));
        // Politely first: on SIGTERM s6-svscan stops and reaps its supervisors, which would
        // otherwise be left as orphans.
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + TEARDOWN;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => thread::sleep(POLL_INTERVAL),
                Ok(Some(_)) | Err(_) => return,
            }
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Starts the real s6-svscan on `scandir` (no periodic scan) and waits until it is ready: its
/// `-d 3` notification, a newline on fd 3, which `sh` points at our pipe.
fn start_real_svscan(scandir: &Path) -> Guard {
    let mut guard = Guard::spawn(
        Command::new("/bin/sh")
            .args(["-c", r#"exec "$0" -t0 -d3 "$1" 3>&1 >/dev/null"#, S6_SVSCAN])
            .arg(scandir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let ready = guard.child.stdout.take().expect("stdout is piped");
    let line = read_with_deadline(ready, Instant::now() + DEADLINE);
    assert_eq!(line, b"\n", "s6-svscan's readiness notification");
    guard
}

/// Reads one chunk from `pipe`, failing the test if nothing comes before `deadline`.
fn read_with_deadline(mut pipe: ChildStdout, deadline: Instant) -> Vec<u8> {
    let left = deadline.saturating_duration_since(Instant::now());
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::try_from(left).unwrap()).unwrap();
    assert_eq!(ready, 1, "nothing to read before the deadline");
    let mut buf = [0u8; 64];
    let n = pipe.read(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Polls until `path` exists; fails the test at the deadline.
fn wait_for_path(path: &Path, deadline: Instant) {
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear before the deadline",
            path.display()
        );
        thread::sleep(POLL_INTERVAL);
    }
}

/// A service directory that s6-supervise keeps down (a `down` file), so that nothing runs
/// outside the guard's process group; its `supervise/status` appears once s6-supervise runs.
fn make_service(scandir: &Path, name: &str) {
    let dir = scandir.join(name);
    fs::create_dir(&dir).unwrap();
    let run = dir.join("run");
    fs::write(&run, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("down"), b"").unwrap();
}

fn svscanctl(args: &[&str], scandir: &Path) -> std::process::Output {
    Command::new(SVSCANCTL)
        .args(args)
        .arg(scandir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn svscanctl_a_makes_the_real_s6_svscan_rescan() {
    if !have_real_s6() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_service(dir.path(), "first");
    let _svscan = start_real_svscan(dir.path());
    // The first scan is over once its supervisor exists; with `-t0` nothing else rescans.
    wait_for_path(
        &dir.path().join("first/supervise/status"),
        Instant::now() + DEADLINE,
    );
    make_service(dir.path(), "second");
    let out = svscanctl(&["-a"], dir.path());
    assert!(out.status.success(), "{out:?}");
    wait_for_path(
        &dir.path().join("second/supervise/status"),
        Instant::now() + DEADLINE,
    );
}

#[test]
fn svscanctl_t_makes_the_real_s6_svscan_exit() {
    if !have_real_s6() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_service(dir.path(), "svc");
    let mut svscan = start_real_svscan(dir.path());
    wait_for_path(
        &dir.path().join("svc/supervise/status"),
        Instant::now() + DEADLINE,
    );
    let out = svscanctl(&["-t"], dir.path());
    assert!(out.status.success(), "{out:?}");
    let status = svscan.wait_exit(Instant::now() + DEADLINE);
    assert!(status.success(), "s6-svscan exited with {status}");
}

#[test]
fn svscanctl_without_letters_succeeds_against_the_real_s6_svscan() {
    if !have_real_s6() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _svscan = start_real_svscan(dir.path());
    let out = svscanctl(&[], dir.path());
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn the_real_s6_svscan_refuses_a_scandir_locked_by_init_control_dir() {
    // Spec, start-up step 3: "Held by another process: fatal 100 `another instance of
    // s6-svscan is already running on the same directory`".
    if !have_real_s6() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _ctl = init_control_dir(dir.path(), &SVSCAN).unwrap();
    let mut svscan = Guard::spawn(
        Command::new(S6_SVSCAN)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let status = svscan.wait_exit(Instant::now() + DEADLINE);
    assert_eq!(status.code(), Some(100));
    assert_eq!(
        svscan.stderr(),
        "s6-svscan: fatal: another instance of s6-svscan is already running on the same \
         directory\n"
    );
}

#[test]
fn init_control_dir_sees_the_lock_of_a_running_real_s6_svscan() {
    if !have_real_s6() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _svscan = start_real_svscan(dir.path());
    let err = init_control_dir(dir.path(), &SVSCAN).unwrap_err();
    assert_eq!(err, InitError::AlreadyRunning(SVSCAN.already_running));
}
