//! Who may talk to svscan and who may run in its place: the control directory, FIFO and lock
//! are private whatever the umask, another user cannot send commands, and a second instance
//! on the same directory gives up while the first keeps supervising. (The modes of the
//! control directory, its lock and FIFO are start-up's: `startup.rs`.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use integration_tests::program::{Ran, run};
use integration_tests::suite::{Scenario, optional};
use integration_tests::user::{Uid, as_user};
use integration_tests::{
    DEADLINE, Fixture, Outcome, binary, procfs, real_s6, scenario, signal_pid, under_test, user,
};
use nix::sys::signal::Signal;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(another_user_cannot_send_commands),
    scenario!(a_second_instance_exits_100_and_the_first_keeps_supervising),
];

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// The control FIFO is mode 0600 in a 0700 directory (see "Start-up"): a user other than
/// svscan's cannot send commands. Our svscanctl and Debian's s6-svscanctl, run as another
/// user (one of the scenario's own) with every directory above `.s6-svscan` open to them, fail with exit 111 and "Permission
/// denied" (svscanctl's table: "any other error (e.g. EACCES on the control open itself)"),
/// and svscan receives nothing: a byte written afterwards by root is the first it reads, and
/// its supervisor was never signalled.
fn another_user_cannot_send_commands() -> Outcome {
    user::root()?;
    let other = Uid::claim();
    let fx = Fixture::new();
    fx.service("a");
    chmod(fx.tmp(), 0o755);
    chmod(fx.scandir(), 0o755);
    let mut sv = fx.start();
    let a = sv.wait_started("a");
    let scandir = fx.scandir().display().to_string();
    let mut clients = vec![("svscanctl", binary("svscanctl"))];
    clients.extend(optional(real_s6("s6-svscanctl")).map(|p| ("s6-svscanctl", p)));
    for (name, program) in clients {
        let ran = run(
            as_user(other.get()).arg(&program).args(["-t", &scandir]),
            DEADLINE,
        );
        let expected = Ran::exited(
            111,
            format!("{name}: fatal: unable to control {scandir}: Permission denied\n"),
        );
        assert_eq!(ran, expected, "{name} as uid {}", other.get());
    }
    // FIFO order: a byte sent now is read after anything the clients could have sent.
    sv.ctl("x");
    let prog = under_test().prog();
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
    Ok(())
}

/// "Held by another process: fatal 100 `another instance of s6-svscan is already running on
/// the same directory`": our svscan and the C s6-svscan, started on the directory of a
/// running svscan, both exit 100 with that message; the first keeps running and
/// supervising: a killed supervisor is started again, a new service is picked up after `a`,
/// and `t` ends it normally.
fn a_second_instance_exits_100_and_the_first_keeps_supervising() {
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    let a = sv.wait_started("a");
    let mut seconds = vec![("svscan", binary("svscan"))];
    seconds.extend(optional(real_s6("s6-svscan")).map(|p| ("s6-svscan", p)));
    for (name, program) in seconds {
        let ran = run(
            Command::new(&program)
                .arg(fx.scandir())
                .env("PATH", "/nonexistent"),
            DEADLINE,
        );
        let expected = Ran::exited(
            100,
            format!(
                "{name}: fatal: another instance of s6-svscan is already running on the same \
                 directory\n"
            ),
        );
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
