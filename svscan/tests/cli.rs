//! svscan's command line, start-up errors and exit paths, run as a user would run the binary
//! (spec: "svscan command line", "Start-up", "Exit"). The scenarios with supervisors are in
//! the `integration-tests` crate.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::CONTROL_DIR;
use common::control::{SvscanCommand as Ctl, write_control};
use predicates::prelude::*;

const USAGE: &str = "svscan: usage: svscan [ -c services_max | -C services_max ] [ -L name_max ] [ -t timeout ] [ -d notif ] [ -X consoleholder ] [ --supervise prog ] [ --watch ] [ dir ]\n";

fn svscan() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("svscan").unwrap()
}

fn fails_with(args: &[&str], code: i32, stderr: &str) {
    let dir = tempfile::tempdir().unwrap();
    svscan()
        .current_dir(dir.path())
        .args(args)
        .env("PATH", "/nonexistent")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(code)
        .stderr(stderr.to_owned());
}

#[test]
fn malformed_options_print_the_usage_line_and_exit_100() {
    for args in [
        &["-x"][..],
        &["--x"],
        &["-t"],
        &["-t", "abc"],
        &["-t", "-1"],
        &["-C", "+5"],
        &["--help"],
        &["-V"],
    ] {
        fails_with(args, 100, USAGE);
    }
}

#[test]
fn notification_and_console_fds_below_3_are_refused_including_0() {
    // **fix**: C 2.12 took `-d 0` / `-X 0` as "not given".
    for fd in ["0", "1", "2"] {
        fails_with(
            &["-d", fd],
            100,
            "svscan: fatal: notification fd must be 3 or more\n",
        );
        fails_with(
            &["-X", fd],
            100,
            "svscan: fatal: console holder fd must be 3 or more\n",
        );
    }
}

#[test]
fn closed_notification_and_console_fds_are_refused() {
    fails_with(
        &["-d", "97"],
        100,
        "svscan: fatal: invalid notification fd: Bad file descriptor\n",
    );
    fails_with(
        &["-X", "97"],
        100,
        "svscan: fatal: invalid console holder fd: Bad file descriptor\n",
    );
}

#[test]
fn a_missing_scan_directory_is_a_chdir_failure() {
    fails_with(
        &["/nonexistent/scandir"],
        111,
        "svscan: fatal: unable to chdir: No such file or directory\n",
    );
}

fn fails_in(setup: impl FnOnce(&Path), code: i32, stderr: &str) {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    svscan()
        .arg(dir.path())
        .timeout(Duration::from_secs(10))
        .assert()
        .code(code)
        .stderr(stderr.to_owned());
}

#[test]
fn a_control_dir_that_is_not_a_directory_is_refused() {
    fails_in(
        |d| fs::write(d.join(".s6-svscan"), "").unwrap(),
        100,
        "svscan: fatal: .s6-svscan exists and is not a directory\n",
    );
}

#[test]
fn a_dangling_control_dir_symlink_is_a_stat_failure() {
    fails_in(
        |d| symlink("/nonexistent", d.join(".s6-svscan")).unwrap(),
        111,
        "svscan: fatal: unable to stat .s6-svscan: No such file or directory\n",
    );
}

#[test]
fn a_control_that_is_not_a_fifo_is_refused() {
    fails_in(
        |d| {
            fs::create_dir(d.join(".s6-svscan")).unwrap();
            fs::write(d.join(".s6-svscan/control"), "").unwrap();
        },
        100,
        "svscan: fatal: .s6-svscan/control is not a FIFO\n",
    );
}

#[test]
fn a_second_instance_exits_100() {
    let dir = tempfile::tempdir().unwrap();
    let _held = common::ctldir::init_control_dir(dir.path(), &common::ctldir::SVSCAN).unwrap();
    svscan()
        .arg(dir.path())
        .timeout(Duration::from_secs(10))
        .assert()
        .code(100)
        .stderr(
            "svscan: fatal: another instance of s6-svscan is already running on the same directory\n",
        );
}

/// A running svscan on `dir` with `-d 3` (through the shell, which owns fd 3 for it).
struct Running {
    child: Child,
}

impl Running {
    fn start(dir: &Path, extra: &[&str]) -> Running {
        let bin = assert_cmd::cargo::cargo_bin("svscan");
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg("exec \"$0\" -d3 \"$@\" 3>&1 1>/dev/null")
            .arg(&bin)
            .args(extra)
            .arg(dir)
            .env("PATH", "/nonexistent")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = [0u8; 1];
        let n = child.stdout.as_mut().unwrap().read(&mut ready).unwrap();
        assert_eq!(&ready[..n], b"\n", "readiness is one newline");
        Running { child }
    }

    /// Waits for the exit; returns the code and stderr (lossy: see `wait_raw`).
    fn wait(self, deadline: Duration) -> (Option<i32>, String) {
        let (code, err) = self.wait_raw(deadline);
        (code, String::from_utf8_lossy(&err).into_owned())
    }

    /// Waits for the exit; returns the code and stderr as bytes.
    fn wait_raw(mut self, deadline: Duration) -> (Option<i32>, Vec<u8>) {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = Vec::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_end(&mut err)
                    .unwrap();
                return (status.code(), err);
            }
            assert!(Instant::now() < end, "svscan did not exit in time");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn readiness_then_abort_exits_0_without_a_finish_program() {
    let dir = tempfile::tempdir().unwrap();
    let svscan = Running::start(dir.path(), &[]);
    write_control(dir.path(), CONTROL_DIR, &[Ctl::Abort.byte()]).unwrap();
    let (code, err) = svscan.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(err, "");
}

fn script(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_finish_program_is_execed_in_place_of_svscan() {
    let dir = tempfile::tempdir().unwrap();
    let svscan = Running::start(dir.path(), &[]);
    let pid = svscan.child.id();
    script(
        &dir.path().join(".s6-svscan/finish"),
        "#!/bin/sh\necho \"$$ $0\" > finish-ran\nexit 7\n",
    );
    write_control(dir.path(), CONTROL_DIR, &[Ctl::Terminate.byte()]).unwrap();
    let (code, _) = svscan.wait(Duration::from_secs(10));
    assert_eq!(code, Some(7));
    // Same pid: exec'd, not spawned; argv[0] is its path; cwd is the scan dir.
    let ran = fs::read_to_string(dir.path().join("finish-ran")).unwrap();
    assert_eq!(ran, format!("{pid} .s6-svscan/finish\n"));
}

#[test]
fn a_finish_program_that_cannot_run_leads_to_the_crash_path() {
    let dir = tempfile::tempdir().unwrap();
    let svscan = Running::start(dir.path(), &[]);
    script(&dir.path().join(".s6-svscan/finish"), "\x7fELF-not-really");
    write_control(dir.path(), CONTROL_DIR, &[Ctl::Abort.byte()]).unwrap();
    let (code, err) = svscan.wait(Duration::from_secs(10));
    assert_eq!(code, Some(127));
    assert_eq!(
        err,
        "svscan: warning: unable to exec finish script .s6-svscan/finish: Exec format error\n\
         svscan: warning: executing into .s6-svscan/crash\n\
         svscan: fatal: unable to exec .s6-svscan/crash: No such file or directory\n"
    );
}

#[test]
fn a_crash_program_that_cannot_run_exits_126() {
    let dir = tempfile::tempdir().unwrap();
    let svscan = Running::start(dir.path(), &[]);
    script(&dir.path().join(".s6-svscan/finish"), "\x7fELF-not-really");
    script(&dir.path().join(".s6-svscan/crash"), "\x7fELF-not-really");
    write_control(dir.path(), CONTROL_DIR, &[Ctl::Abort.byte()]).unwrap();
    let (code, err) = svscan.wait(Duration::from_secs(10));
    assert_eq!(code, Some(126));
    let tail = predicate::str::ends_with(
        "svscan: fatal: unable to exec .s6-svscan/crash: Exec format error\n",
    );
    assert!(tail.eval(&err), "{err}");
}

#[test]
fn the_crash_program_is_execed_when_finish_fails() {
    let dir = tempfile::tempdir().unwrap();
    let svscan = Running::start(dir.path(), &[]);
    script(&dir.path().join(".s6-svscan/finish"), "\x7fELF-not-really");
    script(&dir.path().join(".s6-svscan/crash"), "#!/bin/sh\nexit 42\n");
    write_control(dir.path(), CONTROL_DIR, &[Ctl::Abort.byte()]).unwrap();
    let (code, _) = svscan.wait(Duration::from_secs(10));
    assert_eq!(code, Some(42));
}

#[test]
fn unknown_control_bytes_are_warned_about_and_svscan_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let svscan = Running::start(dir.path(), &[]);
    let fifo = dir.path().join(".s6-svscan/control");
    fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x\0\xffb"))
        .unwrap();
    let (code, err) = svscan.wait_raw(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    // The byte itself, raw; a NUL prints nothing after the colon and space.
    let expected: &[u8] = b"svscan: warning: received unknown control command: x\n\
        svscan: warning: received unknown control command: \n\
        svscan: warning: received unknown control command: \xff\n";
    assert_eq!(err, expected, "{}", String::from_utf8_lossy(&err));
}

#[test]
fn the_control_dir_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let mut svscan = Command::new("/bin/sh");
    svscan
        .arg("-c")
        .arg("umask 0; exec \"$0\" \"$1\"")
        .arg(assert_cmd::cargo::cargo_bin("svscan"))
        .arg(dir.path());
    let mut child = svscan.stderr(Stdio::null()).spawn().unwrap();
    let fifo = dir.path().join(".s6-svscan/control");
    let end = Instant::now() + Duration::from_secs(10);
    while write_control(dir.path(), CONTROL_DIR, &[]).is_err() {
        assert!(Instant::now() < end, "svscan never listened");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir.path().join(".s6-svscan")), 0o700);
    assert_eq!(mode(&fifo), 0o600);
    write_control(dir.path(), CONTROL_DIR, &[Ctl::Abort.byte()]).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
}
