//! The `svscanctl` binary against a control FIFO whose reader is the test itself (spec:
//! "svscanctl"): what reaches the FIFO, in which order, and every exit code and message of the
//! spec's table, byte for byte.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;

use assert_cmd::Command;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, read};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_svscanctl");
const USAGE_LINE: &str = "svscanctl: usage: s6-svscanctl [ -zabhitqnN ] svscandir\n";

fn svscanctl() -> Command {
    Command::new(BIN)
}

/// A scan dir with `.s6-svscan/control` made as a FIFO, and nobody reading it yet.
fn scandir_with_fifo() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".s6-svscan")).unwrap();
    mkfifo(
        &dir.path().join(".s6-svscan/control"),
        Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    dir
}

/// Opens the FIFO for reading, as svscan does: non-blocking, so the open never waits.
fn listen(dir: &Path) -> OwnedFd {
    open(
        &dir.join(".s6-svscan/control"),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

/// Everything written to the FIFO so far (stops at "empty" or at "no writer left").
fn received(reader: &OwnedFd) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match read(reader, &mut buf) {
            Ok(0) | Err(Errno::EAGAIN) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read from the control FIFO: {e}"),
        }
    }
}

fn not_listening(dir: &Path) -> String {
    format!(
        "svscanctl: fatal: unable to control {}: supervisor not listening\n",
        dir.display()
    )
}

#[test]
fn letters_arrive_in_the_order_given() {
    // Spec: "Each letter appends its byte, in the order given; the bytes are sent in one
    // write".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    svscanctl()
        .args(["-a", "-N", "-zt"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout("")
        .stderr("");
    assert_eq!(received(&reader), b"aNzt");
}

#[test]
fn every_command_letter_is_its_own_byte() {
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    svscanctl()
        .arg("-zabhitqnN")
        .arg(dir.path())
        .assert()
        .success();
    assert_eq!(received(&reader), b"zabhitqnN");
}

#[test]
fn sixty_four_commands_are_sent() {
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    svscanctl()
        .arg(format!("-{}", "a".repeat(64)))
        .arg(dir.path())
        .assert()
        .success();
    assert_eq!(received(&reader), [b'a'; 64]);
}

#[test]
fn a_65th_command_is_too_many_and_nothing_is_sent() {
    // Spec: "Up to 64 commands (a 65th: fatal 100 `too many commands`)".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    svscanctl()
        .arg(format!("-{}", "a".repeat(64)))
        .arg("-t")
        .arg(dir.path())
        .assert()
        .code(100)
        .stderr("svscanctl: fatal: too many commands\n");
    assert_eq!(received(&reader), b"");
}

#[test]
fn a_fifo_without_reader_means_not_listening() {
    // Spec: "the FIFO has no reader (ENXIO) ... | 100 | `unable to control SCANDIR: supervisor
    // not listening`".
    let dir = scandir_with_fifo();
    svscanctl()
        .arg("-a")
        .arg(dir.path())
        .assert()
        .code(100)
        .stderr(not_listening(dir.path()));
}

#[test]
fn a_missing_control_dir_means_not_listening() {
    let dir = tempfile::tempdir().unwrap();
    svscanctl()
        .arg("-t")
        .arg(dir.path())
        .assert()
        .code(100)
        .stderr(not_listening(dir.path()));
}

#[test]
fn no_letters_still_reports_a_missing_listener() {
    // Spec: "With no command letter it still opens the FIFO (so it still reports a missing
    // listener) and sends nothing."
    let dir = scandir_with_fifo();
    svscanctl()
        .arg(dir.path())
        .assert()
        .code(100)
        .stderr(not_listening(dir.path()));
}

#[test]
fn no_letters_with_a_listener_succeeds_and_sends_nothing() {
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    svscanctl().arg(dir.path()).assert().success().stderr("");
    assert_eq!(received(&reader), b"");
}

#[test]
fn a_missing_scandir_is_a_system_error() {
    // Spec: "svscandir missing or not a directory ... | 111 | `unable to control SCANDIR: ERR`".
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    svscanctl()
        .arg("-a")
        .arg(&missing)
        .assert()
        .code(111)
        .stderr(format!(
            "svscanctl: fatal: unable to control {}: No such file or directory\n",
            missing.display()
        ));
}

#[test]
fn a_scandir_that_is_a_file_is_a_system_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    svscanctl()
        .arg("-a")
        .arg(&file)
        .assert()
        .code(111)
        .stderr(format!(
            "svscanctl: fatal: unable to control {}: Not a directory\n",
            file.display()
        ));
}

#[test]
fn a_control_dir_that_is_a_plain_file_is_something_wrong() {
    // Spec: "`.s6-svscan` exists but cannot be opened as a directory | 100 | `something is
    // wrong with the SCANDIR/.s6-svscan directory. errno reported: ERRTEXT`".
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".s6-svscan"), b"").unwrap();
    svscanctl()
        .arg("-a")
        .arg(dir.path())
        .assert()
        .code(100)
        .stderr(format!(
            "svscanctl: fatal: something is wrong with the {}/.s6-svscan directory. \
             errno reported: Not a directory\n",
            dir.path().display()
        ));
}

#[test]
fn a_letter_outside_zabhitqnn_is_a_usage_error_and_nothing_is_sent() {
    // Spec: "any other option letter is a usage error (100), including `p r s 0 6 7 8`".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    for bad in ["-p", "-x", "-0", "-8", "-ap", "--foo", "--help"] {
        svscanctl()
            .arg(bad)
            .arg(dir.path())
            .assert()
            .code(100)
            .stdout("")
            .stderr(USAGE_LINE);
    }
    assert_eq!(received(&reader), b"");
}

#[test]
fn no_scandir_is_a_usage_error() {
    svscanctl().assert().code(100).stderr(USAGE_LINE);
    svscanctl().arg("-a").assert().code(100).stderr(USAGE_LINE);
    svscanctl()
        .args(["-a", "--"])
        .assert()
        .code(100)
        .stderr(USAGE_LINE);
}

#[test]
fn an_option_after_the_scandir_is_an_ignored_operand() {
    // Spec, item 11: "`svscanctl DIR -t` sends nothing (the `-t` is an ignored extra
    // operand)".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    svscanctl()
        .arg(dir.path())
        .arg("-t")
        .assert()
        .success()
        .stderr("");
    svscanctl()
        .arg("-a")
        .arg(dir.path())
        .args(["-t", "more", "operands"])
        .assert()
        .success();
    assert_eq!(received(&reader), b"a");
}

#[test]
fn double_dash_ends_the_options() {
    // A scan dir whose name looks like an option, reached after `--`.
    let dir = tempfile::tempdir().unwrap();
    let scandir = dir.path().join("-t");
    fs::create_dir(&scandir).unwrap();
    fs::create_dir(scandir.join(".s6-svscan")).unwrap();
    mkfifo(
        &scandir.join(".s6-svscan/control"),
        Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let reader = listen(&scandir);
    svscanctl()
        .current_dir(dir.path())
        .args(["-a", "--", "-t"])
        .assert()
        .success();
    assert_eq!(received(&reader), b"a");
}

#[test]
fn the_program_name_is_the_base_name_of_argv0() {
    // Installed as `s6-svscanctl` (a drop-in), it speaks as s6-svscanctl.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("s6-svscanctl");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    Command::new(&link)
        .assert()
        .code(100)
        .stderr("s6-svscanctl: usage: s6-svscanctl [ -zabhitqnN ] svscandir\n");
}
