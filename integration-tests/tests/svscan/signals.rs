//! "Signals": the builtin table (HUP = `h`, INT and TERM = `t`, QUIT = `q`, ALRM = `a`,
//! ABRT = `b`, the others nothing) and `.s6-svscan/SIGNAME` programs run in its place.
//!
//! A signal program here is the stub itself, linked as `.s6-svscan/SIGNAME`: started with
//! argv `[".s6-svscan/SIGNAME"]` it records a `start` under the empty name (its argv, cwd,
//! masks and fds), then runs until SIGTERM.

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Event, Fixture, Implementation, Svscan, implementation, scenario, signal_pid,
};
use nix::sys::signal::Signal;

use crate::shared::{
    PROGRAM, assert_active_untouched_then_exit, assert_gone_pair_killed,
    assert_left_without_killing, assert_terms_everything_and_exits,
    assert_terms_services_hups_loggers_and_exits, install_program, start_gone_and_kept,
    start_pair_and_single,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(sighup_program_runs_instead_of_the_rescan_and_kill),
    scenario!(sigterm_program_runs_and_svscan_does_not_exit),
    scenario!(sigusr1_program_runs),
    scenario!(a_signal_program_that_is_not_executable_leaves_the_builtin_silently),
    scenario!(a_signal_program_whose_interpreter_is_missing_leaves_the_builtin_silently),
    scenario!(a_signal_program_that_cannot_be_executed_is_warned_about_then_the_builtin_runs),
    scenario!(commands_ignore_signal_programs),
    scenario!(usr1_usr2_winch_and_pwr_without_programs_do_nothing),
    scenario!(sighup_rescans_then_kills_a_service_removed_just_before),
    scenario!(sigterm_to_svscan_acts_as_the_t_command),
    scenario!(sigint_to_svscan_acts_as_the_t_command),
    scenario!(sigquit_to_svscan_acts_as_the_q_command),
    scenario!(sigalrm_picks_up_a_new_service),
    scenario!(sigabrt_leaves_at_once_without_killing_or_waiting),
];

/// A logged `gone` (which the test takes out of the scan dir) and an unlogged `kept`, running.
fn start_gone_pair_and_kept(fx: &Fixture) -> Svscan<'_> {
    fx.logged("gone").service("kept");
    let mut sv = fx.start();
    sv.wait_for("gone, gone/log and kept started", DEADLINE, |e| {
        ["gone", "gone/log", "kept"]
            .iter()
            .all(|n| e.pid_of(n).is_some())
    });
    sv
}

/// "argv = its path, cwd = scandir, empty mask" (and, as for supervisors, default
/// dispositions and only fds 0-2).
fn assert_spawned_as_signal_program(start: &Event, fx: &Fixture, svscan: i32, sig: Signal) {
    let path = format!(".s6-svscan/{}", sig.as_str());
    assert_eq!(start.argv(), [path.as_str()], "{start}");
    assert_eq!(start.str("cwd"), Some(fx.scandir().to_str().unwrap()));
    assert_eq!(
        start.int("ppid"),
        Some(i64::from(svscan)),
        "a child of svscan"
    );
    assert_eq!(start.blocked_signals(), [], "empty signal mask");
    assert_eq!(start.ignored_signals(), [], "default dispositions");
    assert_eq!(start.open_fds(), [0, 1, 2], "none of svscan's own fds");
}

/// Signals: "if `.s6-svscan/SIGNAME` ... is executable, **spawn** it (argv = its path, cwd =
/// scandir, empty mask; reaped like any child) instead of the builtin". For SIGHUP the
/// builtin would kill the removed `gone`; for SIGTERM it would end svscan.
fn signal_program_runs_instead_of_the_builtin(sig: Signal) {
    let fx = Fixture::new();
    install_program(&fx, sig);
    let mut sv = start_gone_pair_and_kept(&fx);
    fx.take_out("gone");
    sv.signal(sig);
    let start = sv
        .wait_for("the signal program started", DEADLINE, |e| {
            e.last_start(PROGRAM).is_some()
        })
        .last_start(PROGRAM)
        .unwrap()
        .clone();
    assert_spawned_as_signal_program(&start, &fx, sv.pid(), sig);
    // A barrier: svscan is still up and acting on commands, and has killed nothing.
    sv.rescan("marker");
    assert!(!sv.has_exited(), "svscan left on {sig}");
    let events = sv.events();
    for name in ["gone", "gone/log", "kept"] {
        assert!(events.signals_to(name).is_empty(), "{name} was signalled");
    }
    assert_eq!(events.starts(PROGRAM).len(), 1);
    // It is reaped like any child once it dies.
    signal_pid(start.pid, Signal::SIGTERM);
    let svscan = sv.pid();
    sv.wait_until("the signal program reaped", DEADLINE, |_| {
        !integration_tests::procfs::process_exists(start.pid)
            || integration_tests::procfs::ppid(start.pid) != Some(svscan)
    });
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
}

/// Waits for SIGHUP's builtin (`h`) to have acted: `gone` got SIGTERM and its logger
/// SIGHUP, `kept` nothing, and no signal program ran.
fn assert_builtin_hup_ran(sv: &mut Svscan<'_>) {
    let events = sv.wait_for("gone and gone/log signalled", DEADLINE, |e| {
        !e.signals_to("gone").is_empty() && !e.signals_to("gone/log").is_empty()
    });
    assert_eq!(events.signals_to("gone"), ["SIGTERM"]);
    assert_eq!(events.signals_to("gone/log"), ["SIGHUP"]);
    assert!(events.signals_to("kept").is_empty());
    assert!(events.starts(PROGRAM).is_empty(), "no program ran");
}

fn sighup_program_runs_instead_of_the_rescan_and_kill() {
    signal_program_runs_instead_of_the_builtin(Signal::SIGHUP);
}

fn sigterm_program_runs_and_svscan_does_not_exit() {
    signal_program_runs_instead_of_the_builtin(Signal::SIGTERM);
}

fn sigusr1_program_runs() {
    signal_program_runs_instead_of_the_builtin(Signal::SIGUSR1);
}

/// "Absent, not executable, or spawn failing with ENOENT (e.g. its interpreter is missing):
/// builtin, silently."
fn a_signal_program_that_is_not_executable_leaves_the_builtin_silently() {
    let fx = Fixture::new();
    fx.mkdir(".s6-svscan")
        .write(".s6-svscan/SIGHUP", "#!/bin/sh\nexit 0\n");
    let mut sv = start_gone_pair_and_kept(&fx);
    fx.take_out("gone");
    sv.signal(Signal::SIGHUP);
    assert_builtin_hup_ran(&mut sv);
    match implementation() {
        Implementation::Ours => assert_eq!(sv.stderr(), "", "no warning"),
        // Debian's C 2.11 tries the spawn without checking access first (2.12, the
        // reference, checks X_OK: seed line 1046).
        Implementation::C => assert!(sv.stderr().contains("Permission denied")),
    }
}

fn a_signal_program_whose_interpreter_is_missing_leaves_the_builtin_silently() {
    let fx = Fixture::new();
    fx.script(".s6-svscan/SIGHUP", "#!/nonexistent/interpreter\nexit 0\n");
    let mut sv = start_gone_pair_and_kept(&fx);
    fx.take_out("gone");
    sv.signal(Signal::SIGHUP);
    assert_builtin_hup_ran(&mut sv);
    assert_eq!(sv.stderr(), "", "no warning");
}

/// "Any other spawn failure (e.g. ENOEXEC): warning `unable to spawn .s6-svscan/SIGNAME:
/// ERR`, then the builtin."
fn a_signal_program_that_cannot_be_executed_is_warned_about_then_the_builtin_runs() {
    let fx = Fixture::new();
    fx.script(".s6-svscan/SIGHUP", "\x01\x02 not a program, no shebang\n");
    let mut sv = start_gone_pair_and_kept(&fx);
    fx.take_out("gone");
    sv.signal(Signal::SIGHUP);
    assert_builtin_hup_ran(&mut sv);
    let stderr = sv.stderr();
    assert!(
        stderr.contains("warning: unable to spawn .s6-svscan/SIGHUP: Exec format error"),
        "{stderr}"
    );
}

/// Signal programs replace the builtin of the *signal* only: the `t` and `h` commands act as
/// ever with `.s6-svscan/SIGTERM` and `.s6-svscan/SIGHUP` present, and run no program.
fn commands_ignore_signal_programs() {
    let fx = Fixture::new();
    install_program(&fx, Signal::SIGHUP);
    install_program(&fx, Signal::SIGTERM);
    let mut sv = start_gone_pair_and_kept(&fx);
    fx.take_out("gone");
    sv.ctl("h");
    assert_builtin_hup_ran(&mut sv);
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_to("kept"), ["SIGTERM"]);
    assert!(events.starts(PROGRAM).is_empty(), "no program ran");
}

/// "the others nothing": SIGUSR1, SIGUSR2, SIGWINCH and SIGPWR without programs neither
/// kill anything nor end svscan, and are not warned about.
fn usr1_usr2_winch_and_pwr_without_programs_do_nothing() {
    let fx = Fixture::new();
    let mut sv = start_gone_pair_and_kept(&fx);
    fx.take_out("gone");
    for sig in [
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGPWR,
    ] {
        sv.signal(sig);
    }
    sv.rescan("marker");
    assert!(!sv.has_exited());
    let events = sv.events();
    for name in ["gone", "gone/log", "kept", "marker"] {
        assert!(events.signals_to(name).is_empty(), "{name} was signalled");
        assert_eq!(events.starts(name).len(), 1, "{name} restarted");
    }
    assert_eq!(sv.stderr(), "");
}

/// Signals: "HUP = `h`" when `.s6-svscan/SIGHUP` is absent: rescan, then kill inactive.
fn sighup_rescans_then_kills_a_service_removed_just_before() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.signal(Signal::SIGHUP);
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}

/// Signals: "INT and TERM = `t`" when `.s6-svscan/SIGTERM` is absent.
fn sigterm_to_svscan_acts_as_the_t_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGTERM);
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Signals: "INT and TERM = `t`" when `.s6-svscan/SIGINT` is absent.
fn sigint_to_svscan_acts_as_the_t_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGINT);
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Signals: "QUIT = `q`" when `.s6-svscan/SIGQUIT` is absent.
fn sigquit_to_svscan_acts_as_the_q_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGQUIT);
    assert_terms_everything_and_exits(&mut sv);
}

/// "SIGALRM | as `a` (fixed)": a directory made after start-up gets its supervisor.
fn sigalrm_picks_up_a_new_service() {
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    sv.wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some());
    fx.service("b");
    sv.signal(Signal::SIGALRM);
    let events = sv.wait_for("b started", DEADLINE, |e| e.pid_of("b").is_some());
    assert_eq!(events.starts("a").len(), 1);
    assert!(events.signals_to("a").is_empty());
}

/// Signals: "SIGABRT | as `b` (fixed)".
fn sigabrt_leaves_at_once_without_killing_or_waiting() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGABRT);
    assert_left_without_killing(&mut sv);
}
