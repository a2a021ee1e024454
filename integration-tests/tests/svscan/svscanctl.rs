//! "svscanctl": our `svscanctl` against a control FIFO whose reader is the test itself (what
//! reaches the FIFO, in which order, and every exit code and message of the spec's table,
//! byte for byte), and against Debian's real `s6-svscan`.

use std::ffi::OsStr;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;

use integration_tests::program::{Ran, run};
use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, Outcome, Skip, Svscan, binary, scenario};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{mkfifo, read};
use tempfile::TempDir;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(letters_arrive_in_the_order_given),
    scenario!(every_command_letter_is_its_own_byte),
    scenario!(sixty_four_commands_are_sent),
    scenario!(a_65th_command_is_too_many_and_nothing_is_sent),
    scenario!(a_fifo_without_reader_means_not_listening),
    scenario!(a_missing_control_dir_means_not_listening),
    scenario!(no_letters_still_reports_a_missing_listener),
    scenario!(no_letters_with_a_listener_succeeds_and_sends_nothing),
    scenario!(a_missing_scandir_is_a_system_error),
    scenario!(a_scandir_that_is_a_file_is_a_system_error),
    scenario!(a_control_dir_that_is_a_plain_file_is_something_wrong),
    scenario!(a_letter_outside_zabhitqnn_is_a_usage_error_and_nothing_is_sent),
    scenario!(no_scandir_is_a_usage_error),
    scenario!(an_option_after_the_scandir_is_an_ignored_operand),
    scenario!(double_dash_ends_the_options),
    scenario!(the_program_name_is_the_base_name_of_argv0),
    scenario!(svscanctl_a_makes_the_real_s6_svscan_rescan),
    scenario!(svscanctl_t_makes_the_real_s6_svscan_exit),
    scenario!(svscanctl_without_letters_succeeds_against_the_real_s6_svscan),
];

const USAGE_LINE: &str = "svscanctl: usage: s6-svscanctl [ -zabhitqnN ] svscandir\n";

/// Runs our svscanctl with `args` to its end.
fn svscanctl<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Ran {
    run(Command::new(binary("svscanctl")).args(args), DEADLINE)
}

/// A successful run that wrote nothing.
fn sent() -> Ran {
    Ran::exited(0, "")
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

fn not_listening(dir: &Path) -> Ran {
    Ran::exited(
        100,
        format!(
            "svscanctl: fatal: unable to control {}: supervisor not listening\n",
            dir.display()
        ),
    )
}

/// Debian's s6-svscan on `fx` (`-t0`: no periodic scan), with its own s6-supervise, ready.
fn start_real_svscan(fx: &Fixture) -> Result<Svscan<'_>, Skip> {
    Ok(fx.real_svscan()?.arg("-t0").start())
}

/// A service directory that s6-supervise keeps down (a `down` file), so that nothing runs
/// but the supervisor; its `supervise/status` appears once s6-supervise runs.
fn make_service(fx: &Fixture, name: &str) {
    fx.script(format!("{name}/run"), "#!/bin/sh\nexec sleep 1000\n")
        .write(format!("{name}/down"), "");
}

fn letters_arrive_in_the_order_given() {
    // Spec: "Each letter appends its byte, in the order given; the bytes are sent in one
    // write".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    let args = [OsStr::new("-a"), OsStr::new("-N"), OsStr::new("-zt")];
    assert_eq!(
        svscanctl(args.iter().chain([&dir.path().as_os_str()])),
        sent()
    );
    assert_eq!(received(&reader), b"aNzt");
}

fn every_command_letter_is_its_own_byte() {
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    assert_eq!(
        svscanctl([OsStr::new("-zabhitqnN"), dir.path().as_os_str()]),
        sent()
    );
    assert_eq!(received(&reader), b"zabhitqnN");
}

fn sixty_four_commands_are_sent() {
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    let letters = format!("-{}", "a".repeat(64));
    assert_eq!(
        svscanctl([OsStr::new(&letters), dir.path().as_os_str()]),
        sent()
    );
    assert_eq!(received(&reader), [b'a'; 64]);
}

fn a_65th_command_is_too_many_and_nothing_is_sent() {
    // Spec: "Up to 64 commands (a 65th: fatal 100 `too many commands`)".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    let letters = format!("-{}", "a".repeat(64));
    assert_eq!(
        svscanctl([
            OsStr::new(&letters),
            OsStr::new("-t"),
            dir.path().as_os_str()
        ]),
        Ran::exited(100, "svscanctl: fatal: too many commands\n")
    );
    assert_eq!(received(&reader), b"");
}

fn a_fifo_without_reader_means_not_listening() {
    // Spec: "the FIFO has no reader (ENXIO) ... | 100 | `unable to control SCANDIR: supervisor
    // not listening`".
    let dir = scandir_with_fifo();
    assert_eq!(
        svscanctl([OsStr::new("-a"), dir.path().as_os_str()]),
        not_listening(dir.path())
    );
}

fn a_missing_control_dir_means_not_listening() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        svscanctl([OsStr::new("-t"), dir.path().as_os_str()]),
        not_listening(dir.path())
    );
}

fn no_letters_still_reports_a_missing_listener() {
    // Spec: "With no command letter it still opens the FIFO (so it still reports a missing
    // listener) and sends nothing."
    let dir = scandir_with_fifo();
    assert_eq!(svscanctl([dir.path()]), not_listening(dir.path()));
}

fn no_letters_with_a_listener_succeeds_and_sends_nothing() {
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    assert_eq!(svscanctl([dir.path()]), sent());
    assert_eq!(received(&reader), b"");
}

fn a_missing_scandir_is_a_system_error() {
    // Spec: "svscandir missing or not a directory ... | 111 | `unable to control SCANDIR: ERR`".
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert_eq!(
        svscanctl([OsStr::new("-a"), missing.as_os_str()]),
        Ran::exited(
            111,
            format!(
                "svscanctl: fatal: unable to control {}: No such file or directory\n",
                missing.display()
            )
        )
    );
}

fn a_scandir_that_is_a_file_is_a_system_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    assert_eq!(
        svscanctl([OsStr::new("-a"), file.as_os_str()]),
        Ran::exited(
            111,
            format!(
                "svscanctl: fatal: unable to control {}: Not a directory\n",
                file.display()
            )
        )
    );
}

fn a_control_dir_that_is_a_plain_file_is_something_wrong() {
    // Spec: "`.s6-svscan` exists but cannot be opened as a directory | 100 | `something is
    // wrong with the SCANDIR/.s6-svscan directory. errno reported: ERRTEXT`".
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".s6-svscan"), b"").unwrap();
    assert_eq!(
        svscanctl([OsStr::new("-a"), dir.path().as_os_str()]),
        Ran::exited(
            100,
            format!(
                "svscanctl: fatal: something is wrong with the {}/.s6-svscan directory. \
                 errno reported: Not a directory\n",
                dir.path().display()
            )
        )
    );
}

fn a_letter_outside_zabhitqnn_is_a_usage_error_and_nothing_is_sent() {
    // Spec: "any other option letter is a usage error (100), including `p r s 0 6 7 8`".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    for bad in ["-p", "-x", "-0", "-8", "-ap", "--foo", "--help"] {
        assert_eq!(
            svscanctl([OsStr::new(bad), dir.path().as_os_str()]),
            Ran::exited(100, USAGE_LINE),
            "{bad}"
        );
    }
    assert_eq!(received(&reader), b"");
}

fn no_scandir_is_a_usage_error() {
    assert_eq!(svscanctl::<&str>([]), Ran::exited(100, USAGE_LINE));
    assert_eq!(svscanctl(["-a"]), Ran::exited(100, USAGE_LINE));
    assert_eq!(svscanctl(["-a", "--"]), Ran::exited(100, USAGE_LINE));
}

fn an_option_after_the_scandir_is_an_ignored_operand() {
    // Spec, item 11: "`svscanctl DIR -t` sends nothing (the `-t` is an ignored extra
    // operand)".
    let dir = scandir_with_fifo();
    let reader = listen(dir.path());
    assert_eq!(
        svscanctl([dir.path().as_os_str(), OsStr::new("-t")]),
        sent()
    );
    let more = ["-t", "more", "operands"].map(OsStr::new);
    let args = [OsStr::new("-a"), dir.path().as_os_str()];
    assert_eq!(svscanctl(args.iter().chain(&more)), sent());
    assert_eq!(received(&reader), b"a");
}

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
    let ran = run(
        Command::new(binary("svscanctl"))
            .current_dir(dir.path())
            .args(["-a", "--", "-t"]),
        DEADLINE,
    );
    assert_eq!(ran, sent());
    assert_eq!(received(&reader), b"a");
}

fn the_program_name_is_the_base_name_of_argv0() {
    // Installed as `s6-svscanctl` (a drop-in), it speaks as s6-svscanctl.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("s6-svscanctl");
    std::os::unix::fs::symlink(binary("svscanctl"), &link).unwrap();
    assert_eq!(
        run(&mut Command::new(&link), DEADLINE),
        Ran::exited(
            100,
            "s6-svscanctl: usage: s6-svscanctl [ -zabhitqnN ] svscandir\n"
        )
    );
}

/// `-a` to Debian's s6-svscan: "scan now".
fn svscanctl_a_makes_the_real_s6_svscan_rescan() -> Outcome {
    let fx = Fixture::new();
    make_service(&fx, "first");
    let mut svscan = start_real_svscan(&fx)?;
    // The first scan is over once its supervisor exists; with `-t0` nothing else rescans.
    svscan.wait_until("first's supervisor running", DEADLINE, |_| {
        fx.path("first/supervise/status").exists()
    });
    make_service(&fx, "second");
    assert_eq!(
        svscanctl([OsStr::new("-a"), fx.scandir().as_os_str()]),
        sent()
    );
    svscan.wait_until("second's supervisor running", DEADLINE, |_| {
        fx.path("second/supervise/status").exists()
    });
    Ok(())
}

/// `-t` to Debian's s6-svscan: it stops its supervisors and exits 0.
fn svscanctl_t_makes_the_real_s6_svscan_exit() -> Outcome {
    let fx = Fixture::new();
    make_service(&fx, "svc");
    let mut svscan = start_real_svscan(&fx)?;
    svscan.wait_until("svc's supervisor running", DEADLINE, |_| {
        fx.path("svc/supervise/status").exists()
    });
    assert_eq!(
        svscanctl([OsStr::new("-t"), fx.scandir().as_os_str()]),
        sent()
    );
    let exit = svscan.wait_exit(DEADLINE);
    assert!(exit.success(), "s6-svscan exited with {exit:?}");
    Ok(())
}

/// "With no command letter it still opens the FIFO ... and sends nothing": against a
/// listening s6-svscan, that succeeds.
fn svscanctl_without_letters_succeeds_against_the_real_s6_svscan() -> Outcome {
    let fx = Fixture::new();
    let _svscan = start_real_svscan(&fx)?;
    assert_eq!(svscanctl([fx.scandir()]), sent());
    Ok(())
}
