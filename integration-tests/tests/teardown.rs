//! Leaving the loop: the killer's table for `t` and SIGTERM, and the finish phase.

use integration_tests::{DEADLINE, Events, Fixture};
use nix::sys::signal::Signal;

/// Starts a logged `a` and an unlogged `b`, and waits until all three run and a's greeting
/// has reached its logger.
fn start_pair_and_single(fx: &Fixture) -> integration_tests::Svscan<'_> {
    fx.logged("a").service("b");
    let mut sv = fx.start();
    sv.wait_for(
        "a, a/log and b started, a's greeting logged",
        DEADLINE,
        |e| {
            e.pid_of("b").is_some()
                && e.pid_of("a").is_some_and(|pid| {
                    e.lines("a/log")
                        .contains(&Events::greeting("a", pid).as_str())
                })
        },
    );
    sv
}

/// Killer table: "`t`, `i`, SIGTERM, SIGINT | SIGTERM | SIGHUP | all", then the finish phase:
/// pipes closed, so the logger reads to EOF; "wait for all"; no finish script: exit 0.
fn assert_terms_services_hups_loggers_and_exits(sv: &mut integration_tests::Svscan<'_>) {
    let svscan = i64::from(sv.pid());
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_to("a"), ["SIGTERM"]);
    assert_eq!(events.signals_to("b"), ["SIGTERM"]);
    assert_eq!(events.signals_to("a/log"), ["SIGHUP"]);
    assert!(
        events
            .find("signal", "a/log")
            .all(|s| s.int("from") == Some(svscan))
    );
    let logger_exit = events
        .find("exit", "a/log")
        .next()
        .expect("a/log exited before svscan");
    assert_eq!(logger_exit.str("why"), Some("SIGHUP then EOF"));
    for name in ["a", "b", "a/log"] {
        assert!(
            events.running(name).is_empty(),
            "{name} still running when svscan exited"
        );
    }
}

#[test]
fn t_command_terms_services_hups_loggers_and_exits_once_all_are_gone() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("t");
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Signals: "INT and TERM = `t`" when `.s6-svscan/SIGTERM` is absent.
#[test]
fn sigterm_to_svscan_acts_as_the_t_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGTERM);
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}
