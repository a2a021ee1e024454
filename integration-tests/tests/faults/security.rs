//! Who may talk to svscan and who may run in its place: the control directory, FIFO and lock
//! are private whatever the umask, another user cannot send commands, and a second instance
//! on the same directory gives up while the first keeps supervising. (The modes of the
//! directory and the FIFO alone are in `svscan/tests/cli.rs`; here, the whole tree.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use integration_tests::program::{Ran, run};
use integration_tests::{
    DEADLINE, Fixture, Implementation, binary, implementation, procfs, real_s6, signal_pid,
};
use nix::sys::signal::Signal;

use crate::user::{as_user, root_or_skip};

/// The unprivileged user the scenarios act as.
const NOBODY: u32 = 65534;

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
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
    let a = sv
        .wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some())
        .pid_of("a")
        .unwrap();
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
#[test]
fn the_control_dir_lock_and_fifo_are_private_under_umask_000() {
    let (modes, _) = modes_and_umasks_under(0o000);
    assert_eq!(modes, [0o700, 0o600, 0o600], ".s6-svscan, lock, control");
}

/// "Restore the umask" (start-up step 4): the umask 0 svscan works under while it makes its
/// control directory is not what its supervisors get; they, and svscan itself afterwards,
/// have the umask svscan was started with (027 here).
#[test]
fn supervisors_get_the_umask_svscan_was_started_with() {
    let (modes, umasks) = modes_and_umasks_under(0o027);
    assert_eq!(modes, [0o700, 0o600, 0o600], ".s6-svscan, lock, control");
    assert_eq!(
        umasks,
        [Some(0o027); 2],
        "svscan's and a's supervisor's umask"
    );
}

/// The control FIFO is mode 0600 in a 0700 directory (see "Start-up"): a user other than
/// svscan's cannot send commands. Our svscanctl and Debian's s6-svscanctl, run as `nobody`
/// with every directory above `.s6-svscan` open to them, fail with exit 111 and "Permission
/// denied" (svscanctl's table: "any other error (e.g. EACCES on the control open itself)"),
/// and svscan receives nothing: a byte written afterwards by root is the first it reads, and
/// its supervisor was never signalled.
#[test]
fn another_user_cannot_send_commands() {
    if !root_or_skip() {
        return;
    }
    let fx = Fixture::new();
    fx.service("a");
    chmod(fx.tmp(), 0o755);
    chmod(fx.scandir(), 0o755);
    let mut sv = fx.start();
    let a = sv
        .wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some())
        .pid_of("a")
        .unwrap();
    let scandir = fx.scandir().display().to_string();
    let mut clients = vec![("svscanctl", binary("svscanctl"))];
    clients.extend(real_s6("s6-svscanctl").map(|p| ("s6-svscanctl", p)));
    for (name, program) in clients {
        let ran = run(
            as_user(NOBODY).arg(&program).args(["-t", &scandir]),
            DEADLINE,
        );
        let expected = Ran {
            code: Some(111),
            stderr: format!("{name}: fatal: unable to control {scandir}: Permission denied\n"),
        };
        assert_eq!(ran, expected, "{name} as nobody");
    }
    // FIFO order: a byte sent now is read after anything the clients could have sent.
    sv.ctl("x");
    let prog = match implementation() {
        Implementation::Ours => "svscan",
        Implementation::C => "s6-svscan",
    };
    let expected = format!("{prog}: warning: received unknown control command: x\n");
    sv.wait_until("svscan's warning about x", DEADLINE, |sv| {
        sv.stderr().len() >= expected.len()
    });
    assert_eq!(sv.stderr(), expected, "svscan read nothing before the x");
    assert!(!sv.has_exited(), "svscan still running");
    assert!(procfs::is_alive(a), "a's supervisor still running");
    assert!(
        sv.events().signals_of(a).is_empty(),
        "a was never signalled"
    );
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
}

/// "Held by another process: fatal 100 `another instance of s6-svscan is already running on
/// the same directory`": our svscan and the C s6-svscan, started on the directory of a
/// running svscan, both exit 100 with that message; the first keeps running and
/// supervising: a killed supervisor is started again, a new service is picked up after `a`,
/// and `t` ends it normally.
#[test]
fn a_second_instance_exits_100_and_the_first_keeps_supervising() {
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    let a = sv
        .wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some())
        .pid_of("a")
        .unwrap();
    let mut seconds = vec![("svscan", binary("svscan"))];
    seconds.extend(real_s6("s6-svscan").map(|p| ("s6-svscan", p)));
    for (name, program) in seconds {
        let ran = run(
            Command::new(&program)
                .arg(fx.scandir())
                .env("PATH", "/nonexistent"),
            DEADLINE,
        );
        let expected = Ran {
            code: Some(100),
            stderr: format!(
                "{name}: fatal: another instance of s6-svscan is already running on the same \
                 directory\n"
            ),
        };
        assert_eq!(ran, expected, "a second {name}");
    }
    assert!(!sv.has_exited(), "the first svscan still running");
    signal_pid(a, Signal::SIGKILL);
    sv.wait_for("a started again", DEADLINE, |e| {
        e.pid_of("a").is_some_and(|pid| pid != a)
    });
    fx.service("b");
    sv.ctl("a");
    sv.wait_for("b started", DEADLINE, |e| e.pid_of("b").is_some());
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    assert_eq!(sv.stderr(), "", "the first svscan warned about nothing");
}
