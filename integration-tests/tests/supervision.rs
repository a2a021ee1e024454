//! Supervision: the prune commands (`n`, `N`, `h`, SIGHUP) and whom they kill. Only inactive
//! entries (directories gone from the scan dir, as of the last *complete* scan) are killed;
//! active ones get nothing.

use integration_tests::{
    DEADLINE, Events, Fixture, Implementation, StubControl, Svscan, implementation,
};
use nix::sys::signal::Signal;

/// A logged `gone` that the test removes, a logged `kept` and an unlogged `single` that stay.
/// Waits until all five run and both greetings have reached their loggers.
fn start_gone_and_kept(fx: &Fixture) -> Svscan<'_> {
    fx.logged("gone").logged("kept").service("single");
    let mut sv = fx.start();
    sv.wait_for(
        "every supervisor started, greetings logged",
        DEADLINE,
        |e| {
            e.pid_of("single").is_some()
                && ["gone", "kept"].iter().all(|name| {
                    e.pid_of(name).is_some_and(|pid| {
                        e.lines(&format!("{name}/log"))
                            .contains(&Events::greeting(name, pid).as_str())
                    })
                })
        },
    );
    sv
}

/// Waits until `gone` and `gone/log` have exited, then checks the killer's row for them:
/// the service got `service_sig`, the logger `logger_sig`, once each, from svscan.
fn assert_gone_pair_killed(sv: &mut Svscan<'_>, service_sig: &str, logger_sig: &str) {
    let svscan = i64::from(sv.pid());
    let events = sv.wait_for("gone and gone/log exited", DEADLINE, |e| {
        e.find("exit", "gone").next().is_some() && e.find("exit", "gone/log").next().is_some()
    });
    assert_eq!(events.signals_to("gone"), [service_sig]);
    assert_eq!(events.signals_to("gone/log"), [logger_sig]);
    for name in ["gone", "gone/log"] {
        assert!(
            events
                .find("signal", name)
                .all(|s| s.int("from") == Some(svscan)),
            "{name} was signalled by svscan"
        );
    }
    if logger_sig == "SIGHUP" {
        // The logger drains: svscan closed both pipe ends when it forgot the dead service.
        let exit = events.find("exit", "gone/log").next().unwrap();
        assert_eq!(exit.str("why"), Some("SIGHUP then EOF"));
    }
}

/// Sends `t` as a barrier, then checks that the active supervisors were left alone by the
/// prune: each ran once and got nothing but `t`'s signal.
fn assert_active_untouched_then_exit(sv: &mut Svscan<'_>) {
    sv.ctl("t");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    for (name, sig) in [
        ("kept", "SIGTERM"),
        ("kept/log", "SIGHUP"),
        ("single", "SIGTERM"),
    ] {
        assert_eq!(events.starts(name).len(), 1, "{name} was never restarted");
        assert_eq!(events.signals_to(name), [sig], "{name} got only t's signal");
    }
    assert_eq!(
        events.starts("gone").len(),
        1,
        "an inactive supervisor is not restarted"
    );
    assert_eq!(events.starts("gone/log").len(), 1);
}

/// Killer table: "`n`, `h`, SIGHUP | SIGTERM | SIGHUP | inactive only": after a scan that no
/// longer sees `gone`, `n` sends SIGTERM to its service and SIGHUP to its logger, and nothing
/// to the active entries.
#[test]
fn n_terms_inactive_services_hups_their_loggers_and_spares_active_ones() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.rescan("marker");
    assert!(
        sv.events().signals_to("gone").is_empty(),
        "a plain rescan kills nothing"
    );
    sv.ctl("n");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}

/// "`h` | scan now, delay kills until it completes, then kill inactive": a directory removed
/// just before `h` is inactive by the time the kills are sent.
#[test]
fn h_rescans_then_kills_a_service_removed_just_before() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.ctl("h");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}

/// Signals: "HUP = `h`" when `.s6-svscan/SIGHUP` is absent: rescan, then kill inactive.
#[test]
fn sighup_rescans_then_kills_a_service_removed_just_before() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.signal(Signal::SIGHUP);
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}

/// "Kills requested by `h`, `n`, `N` (and SIGHUP) wait until a requested scan has
/// **completed**; `-n` alone acts on the last scan's view": a directory removed and not yet
/// rescanned is still active for `n`, which kills nothing of it; after a scan, `n` kills it.
#[test]
fn n_alone_acts_on_the_last_scans_view() {
    let fx = Fixture::new();
    // `old` is inactive as of the last scan: n's SIGTERM to it shows that n was acted on.
    fx.service("old");
    fx.control("gone", StubControl::IgnoreTerm);
    let mut sv = fx.start();
    sv.wait_for("old and gone started", DEADLINE, |e| {
        e.pid_of("old").is_some() && e.pid_of("gone").is_some()
    });
    fx.take_out("old");
    sv.rescan("marker1");

    fx.take_out("gone");
    sv.ctl("n");
    sv.wait_for("old got n's SIGTERM", DEADLINE, |e| {
        e.signals_to("old") == ["SIGTERM"]
    });
    sv.rescan("marker2");
    let scanned = sv.events().last_start("marker2").unwrap().mono_ns;
    assert!(
        sv.events().signals_to("gone").is_empty(),
        "n killed a directory that no scan had seen go"
    );

    // Now the last scan's view has `gone` inactive: n kills it (it ignores SIGTERM, so a
    // signal sent by the first n would show up here as a second one).
    sv.ctl("n");
    let events = sv.wait_for("gone got the second n's SIGTERM", DEADLINE, |e| {
        e.find("signal", "gone").any(|s| s.mono_ns > scanned)
    });
    assert_eq!(events.signals_to("gone"), ["SIGTERM"]);
    for name in ["marker1", "marker2"] {
        assert!(events.signals_to(name).is_empty(), "{name} is active");
    }
}

/// Killer table: "`N` | SIGTERM | SIGTERM | inactive only": inactive loggers get SIGTERM too
/// (they exit at once instead of draining), active ones nothing.
#[test]
fn big_n_terms_inactive_services_and_their_loggers() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.rescan("marker");
    sv.ctl("N");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGTERM");
    assert_active_untouched_then_exit(&mut sv);
}

/// "A dead supervisor of an inactive entry: the entry is forgotten", and "Removed
/// ("inactive") supervisors are not killed by a plain rescan and not restarted when they
/// die": an inactive supervisor killed from outside stays dead, while svscan goes on.
#[test]
fn an_inactive_supervisor_that_dies_is_not_restarted() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.rescan("marker1");
    let pid = sv.events().pid_of("gone").unwrap();
    integration_tests::signal_pid(pid, Signal::SIGTERM);
    sv.wait_for("gone exited", DEADLINE, |e| e.exited(pid));
    // marker1 killed from outside is restarted (its 1 s throttle is over by then), which
    // shows that a start pass ran after gone's death; then one more scan as a barrier.
    let marker = sv.events().pid_of("marker1").unwrap();
    integration_tests::signal_pid(marker, Signal::SIGTERM);
    sv.wait_for("marker1 restarted", DEADLINE, |e| {
        e.starts("marker1").len() == 2
    });
    sv.rescan("marker2");
    let events = sv.events();
    assert_eq!(events.starts("gone").len(), 1, "gone was restarted");
    assert_eq!(events.starts("gone/log").len(), 1);
}

/// "While a scan requested by `a`, `h`, SIGALRM or SIGHUP has not completed, kills are held
/// back, across turns": with a dangling symlink in the scan dir every scan is abandoned, so
/// `h`'s kill waits, through further failed scans, until the symlink is gone and a scan
/// completes.
#[test]
fn h_kills_are_held_back_until_a_requested_scan_completes() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.symlink("nowhere", "dangling");
    fx.take_out("gone");
    sv.ctl("h");
    let warning = "unable to stat dangling: No such file or directory";
    sv.wait_until("h's scan abandoned", DEADLINE, |sv| {
        sv.stderr().contains(warning)
    });
    // A second failed scan: anything the first turn did is on record by the time it shows.
    sv.ctl("a");
    sv.wait_until("a's scan abandoned too", DEADLINE, |sv| {
        sv.stderr().matches(warning).count() >= 2
    });
    if implementation() == Implementation::C {
        // Debian's C 2.11 sends h's kills although its scan was abandoned (2.12, the
        // reference, keeps them held back: seed lines 1296-1300 return before clearing the
        // delay at line 1329).
        eprintln!(
            "C: gone got {:?} after failed scans",
            sv.events().signals_to("gone")
        );
        return;
    }
    assert!(
        sv.events().signals_to("gone").is_empty(),
        "h killed before its scan completed"
    );
    fx.remove("dangling");
    sv.ctl("a");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}
