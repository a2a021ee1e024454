//! "Start-up (in this order)", seen from outside: the control directory and its checks, the
//! lock (the same POSIX record lock as C's: each refuses the other's directory), the FIFO
//! and its modes whatever the umask, the signal dispositions svscan gives itself, and the
//! readiness newline once it listens.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::ctldir::{InitError, SVSCAN, init_control_dir};
use integration_tests::program::{Ran, run};
use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, Outcome, Skip, implementation, procfs, real_s6, scenario,
    signal_pid, under_test,
};
use nix::sys::signal::Signal;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(svscan_writes_the_readiness_newline_once_its_control_fifo_exists),
    scenario!(a_control_dir_that_is_not_a_directory_is_refused),
    scenario!(a_dangling_control_dir_symlink_is_a_stat_failure),
    scenario!(a_control_that_is_not_a_fifo_is_refused),
    scenario!(a_second_instance_exits_100),
    scenario!(the_real_s6_svscan_refuses_a_scandir_locked_by_init_control_dir),
    scenario!(init_control_dir_sees_the_lock_of_a_running_real_s6_svscan),
    scenario!(the_control_dir_lock_and_fifo_are_private_under_umask_000),
    scenario!(supervisors_get_the_umask_svscan_was_started_with),
    scenario!(svscan_started_with_sigchld_ignored_still_restarts_dead_supervisors).slow(),
];

/// Asserts that svscan run on `fx`'s scan dir exits `code` with the one diagnostic
/// `PROG: message`.
fn fails_on(fx: &Fixture, code: i32, message: &str) {
    let ran = run(Command::new(&under_test().path).arg(fx.scandir()), DEADLINE);
    let prog = under_test().prog();
    assert_eq!(ran, Ran::exited(code, format!("{prog}: {message}\n")));
}

/// "If `-d`: write `\n` to it and close it." (the harness waits for that newline), after
/// step 4: "Control FIFO `.s6-svscan/control` (mkfifo 0600 ...)".
fn svscan_writes_the_readiness_newline_once_its_control_fifo_exists() {
    let fx = Fixture::new();
    let mut sv = fx.start();
    let fifo = std::fs::metadata(fx.path(common::CONTROL_FIFO)).expect("stat control FIFO");
    assert!(fifo.file_type().is_fifo());
    assert!(fx.path(common::LOCK_FILE).is_file());
    assert!(procfs::is_alive(sv.pid()), "{}", sv.stderr());
    // An empty scan dir starts nothing.
    assert!(sv.events().is_empty());
    sv.ctl("z");
    // A barrier: svscan has read the `z` (and the `a` after it) by the time the probe runs.
    sv.rescan("probe");
    assert!(procfs::is_alive(sv.pid()));
    assert_eq!(sv.stderr(), "", "z is a command, not an unknown byte");
}

/// "if it exists it must be a directory (else fatal 100 `.s6-svscan exists and is not a
/// directory`)".
fn a_control_dir_that_is_not_a_directory_is_refused() {
    let fx = Fixture::new();
    fx.write(".s6-svscan", "");
    fails_on(&fx, 100, "fatal: .s6-svscan exists and is not a directory");
}

/// "`unable to stat .s6-svscan: ERR` (a dangling symlink named `.s6-svscan` is this case, not
/// the 'not a directory' one)".
fn a_dangling_control_dir_symlink_is_a_stat_failure() {
    let fx = Fixture::new();
    fx.symlink("/nonexistent", ".s6-svscan");
    fails_on(
        &fx,
        111,
        "fatal: unable to stat .s6-svscan: No such file or directory",
    );
}

/// "an existing non-FIFO: fatal 100 `.s6-svscan/control is not a FIFO`".
fn a_control_that_is_not_a_fifo_is_refused() {
    let fx = Fixture::new();
    fx.mkdir(".s6-svscan").write(".s6-svscan/control", "");
    fails_on(&fx, 100, "fatal: .s6-svscan/control is not a FIFO");
}

/// "Held by another process: fatal 100 `another instance of s6-svscan is already running on
/// the same directory`": the lock held by `common`'s control-dir maker, as our svscan holds
/// it.
fn a_second_instance_exits_100() {
    let fx = Fixture::new();
    let _held = init_control_dir(fx.scandir(), &SVSCAN).unwrap();
    fails_on(
        &fx,
        100,
        "fatal: another instance of s6-svscan is already running on the same directory",
    );
}

/// Spec, start-up step 3: "Held by another process: fatal 100 `another instance of s6-svscan
/// is already running on the same directory`": Debian's C s6-svscan sees the record lock that
/// `common` takes.
fn the_real_s6_svscan_refuses_a_scandir_locked_by_init_control_dir() -> Outcome {
    let s6_svscan = real_s6("s6-svscan")?;
    let fx = Fixture::new();
    let _ctl = init_control_dir(fx.scandir(), &SVSCAN).unwrap();
    let ran = run(Command::new(&s6_svscan).arg(fx.scandir()), DEADLINE);
    assert_eq!(
        ran,
        Ran::exited(
            100,
            "s6-svscan: fatal: another instance of s6-svscan is already running on the same \
             directory\n"
        )
    );
    Ok(())
}

/// And the other way round: `common`'s lock sees the one of a running C s6-svscan.
fn init_control_dir_sees_the_lock_of_a_running_real_s6_svscan() -> Outcome {
    let fx = Fixture::new();
    let _svscan = fx.real_svscan()?.start();
    let err = init_control_dir(fx.scandir(), &SVSCAN).unwrap_err();
    assert_eq!(err, InitError::AlreadyRunning(SVSCAN.already_running));
    Ok(())
}

/// The reaper ("A dead supervisor of an **active** entry is due to start again at its next
/// allowed start time") whatever svscan inherited: started with SIGCHLD ignored, which makes
/// the kernel reap children by itself and send no SIGCHLD, svscan must still see its
/// supervisors die and restart them, and wait for them at the end.
fn svscan_started_with_sigchld_ignored_still_restarts_dead_supervisors() -> Outcome {
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.svscan().start_ignoring(&[Signal::SIGCHLD]);
    let first = sv.wait_started("a");
    signal_pid(first, Signal::SIGTERM);
    let restarted = sv.holds_within(DEADLINE, |e| e.starts("a").len() >= 2);
    if implementation() == Implementation::C && !restarted {
        // Debian's C 2.11 leaves SIGCHLD ignored: its dead supervisors are reaped by the
        // kernel behind its back and never restarted.
        return Err(Skip::differs(
            "fix: Debian's C 2.11 leaves an inherited SIGCHLD ignore in force, and a was \
             not restarted",
        ));
    }
    assert!(restarted, "a was not restarted: {}", sv.stderr());
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    assert_eq!(sv.stderr(), "", "no wait error");
    Ok(())
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The `Umask:` of `/proc/PID/status`.
fn umask_of(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
}

/// svscan started with the umask `mask`, its scan dir holding a service `a`: the modes of
/// `.s6-svscan`, its lock and its FIFO, and the umasks of svscan and of `a`'s supervisor.
fn modes_and_umasks_under(mask: u32) -> ([u32; 3], [Option<u32>; 2]) {
    let fx = Fixture::new();
    fx.service("a");
    let script = format!(r#"umask {mask:03o}; exec "$0" "$@""#);
    let mut sv = fx.svscan().start_wrapped(&["sh", "-c", &script]);
    let a = sv.wait_started("a");
    let modes = [
        mode(&fx.path(".s6-svscan")),
        mode(&fx.path(".s6-svscan/lock")),
        mode(&fx.path(".s6-svscan/control")),
    ];
    let umasks = [umask_of(sv.pid()), umask_of(a)];
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    (modes, umasks)
}

/// "Control dir, under umask 0: `mkdir .s6-svscan` mode 0700", "open/create
/// `.s6-svscan/lock` (0600 ...)", "mkfifo 0600": started with umask 000, which would let
/// any default mode through, svscan makes the directory 0700, the lock and the FIFO 0600.
fn the_control_dir_lock_and_fifo_are_private_under_umask_000() {
    let (modes, _) = modes_and_umasks_under(0o000);
    assert_eq!(modes, [0o700, 0o600, 0o600], ".s6-svscan, lock, control");
}

/// "Restore the umask" (start-up step 4): the umask 0 svscan works under while it makes its
/// control directory is not what its supervisors get; they, and svscan itself afterwards,
/// have the umask svscan was started with (027 here).
fn supervisors_get_the_umask_svscan_was_started_with() {
    let (modes, umasks) = modes_and_umasks_under(0o027);
    assert_eq!(modes, [0o700, 0o600, 0o600], ".s6-svscan, lock, control");
    assert_eq!(
        umasks,
        [Some(0o027); 2],
        "svscan's and a's supervisor's umask"
    );
}
