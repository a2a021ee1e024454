//! "Control FIFO bytes" and the pending work they add up to: `a` scans, an unknown byte is
//! warned about (raw), and the flags of one turn OR together (`Nt`, `nt`).

use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, Implementation, implementation, scenario, under_test};

use crate::shared::{
    assert_terms_everything_and_exits, assert_terms_services_hups_loggers_and_exits,
    start_pair_and_single,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(a_command_picks_up_a_new_service),
    scenario!(unknown_control_bytes_are_warned_about_and_svscan_keeps_going),
    scenario!(big_n_then_t_gives_loggers_sigterm),
    scenario!(n_then_t_still_gives_loggers_sighup),
];

/// `a`: "scan now": a directory created after start-up gets its supervisor.
fn a_command_picks_up_a_new_service() {
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    sv.wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some());
    fx.service("b");
    sv.ctl("a");
    let events = sv.wait_for("b started", DEADLINE, |e| e.pid_of("b").is_some());
    assert_eq!(
        events.starts("a").len(),
        1,
        "a rescan does not restart a running supervisor"
    );
    assert_eq!(events.starts("b").len(), 1);
}

/// "other | warning `received unknown control command: C` (C is the raw byte; a NUL prints
/// nothing after the colon and space); keep going": the `b` after three unknown bytes is
/// still acted on.
fn unknown_control_bytes_are_warned_about_and_svscan_keeps_going() {
    let fx = Fixture::new();
    let mut sv = fx.start();
    sv.ctl(b"x\0\xffb");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}");
    let warning = format!(
        "{}: warning: received unknown control command: ",
        under_test().prog()
    );
    let mut expected = Vec::new();
    for byte in [&b"x"[..], b"", b"\xff"] {
        expected.extend_from_slice(warning.as_bytes());
        expected.extend_from_slice(byte);
        expected.push(b'\n');
    }
    let err = sv.stderr_bytes();
    assert_eq!(err, expected, "{}", String::from_utf8_lossy(&err));
}

/// "Pending work is a small set of flags, OR-ed together until acted on ... So `-Nt` ...
/// give loggers SIGTERM": `N`'s "loggers get TERM" carries over to `t`'s kill of everyone.
fn big_n_then_t_gives_loggers_sigterm() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("Nt");
    if implementation() == Implementation::C {
        // Debian's C 2.11 lets `t` override N's "loggers get TERM" (2.12, the reference,
        // ORs them, seed lines 1082 and 1101).
        assert_terms_services_hups_loggers_and_exits(&mut sv);
        return;
    }
    assert_terms_everything_and_exits(&mut sv);
}

/// "`n` adds nothing to `t` (loggers still get SIGHUP)".
fn n_then_t_still_gives_loggers_sighup() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("nt");
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}
