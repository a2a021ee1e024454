//! Leaving the loop: the killer's table for `t`, `i`, `q`, `b` and their signals, the pending
//! flags they combine with, and the finish phase.

use std::time::Duration;

use integration_tests::{
    DEADLINE, Events, Fixture, Implementation, StubControl, implementation, procfs,
};
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

/// Signals: "INT and TERM = `t`" when `.s6-svscan/SIGINT` is absent.
#[test]
fn sigint_to_svscan_acts_as_the_t_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGINT);
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Control bytes: "`i`, `t` | kill all (services TERM, loggers HUP), leave the loop, 'wait
/// for all' on".
#[test]
fn i_command_acts_as_the_t_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("i");
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Killer table: "`q`, SIGQUIT | SIGTERM | SIGTERM | all", then "wait for all" and exit 0: the
/// logger gets SIGTERM too and exits at once, and svscan exits only once all three are gone.
fn assert_terms_everything_and_exits(sv: &mut integration_tests::Svscan<'_>) {
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    for name in ["a", "b", "a/log"] {
        assert_eq!(events.signals_to(name), ["SIGTERM"], "{name}");
        assert!(
            events.running(name).is_empty(),
            "{name} still running when svscan exited"
        );
    }
    let logger_exit = events.find("exit", "a/log").next().unwrap();
    assert_eq!(logger_exit.str("why"), Some("SIGTERM"));
}

#[test]
fn q_command_terms_services_and_loggers_and_exits_once_all_are_gone() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("q");
    assert_terms_everything_and_exits(&mut sv);
}

/// Signals: "QUIT = `q`" when `.s6-svscan/SIGQUIT` is absent.
#[test]
fn sigquit_to_svscan_acts_as_the_q_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGQUIT);
    assert_terms_everything_and_exits(&mut sv);
}

/// Exit: "`b`/SIGABRT leave it with 'wait for all' off (supervisors left as they are)":
/// svscan exits 0 at once, and every supervisor is still running, unsignalled.
fn assert_left_without_killing(sv: &mut integration_tests::Svscan<'_>) {
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events().clone();
    for name in ["a", "b", "a/log"] {
        let pid = events.pid_of(name).unwrap();
        assert!(
            procfs::is_alive(pid),
            "{name} is still running after svscan left"
        );
        assert!(events.signals_to(name).is_empty(), "{name} was signalled");
    }
    // The guard kills the supervisors that svscan left behind.
}

#[test]
fn b_command_leaves_at_once_without_killing_or_waiting() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("b");
    assert_left_without_killing(&mut sv);
}

/// Signals: "SIGABRT | as `b` (fixed)".
#[test]
fn sigabrt_leaves_at_once_without_killing_or_waiting() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.signal(Signal::SIGABRT);
    assert_left_without_killing(&mut sv);
}

/// A logged `a` (slow to die: 2 s after its signal) and an unlogged `b`, all running.
fn start_with_slow_service(fx: &Fixture) -> integration_tests::Svscan<'_> {
    fx.control("a", StubControl::ExitDelay(Duration::from_secs(2)));
    start_pair_and_single(fx)
}

/// Exit: "In one turn the later of `b` and `t`/`q` decides (`-tb`: kill, no wait)": every
/// supervisor gets `t`'s signal, and svscan exits while `a`, slow to die, still runs.
#[test]
fn t_then_b_kills_and_leaves_without_waiting() {
    let fx = Fixture::new();
    let mut sv = start_with_slow_service(&fx);
    sv.ctl("tb");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let slow = sv.events().pid_of("a").unwrap();
    assert!(
        !sv.events().exited(slow) && procfs::is_alive(slow),
        "svscan waited for a"
    );
    sv.wait_for("t's signals received", DEADLINE, |e| {
        e.signals_to("a") == ["SIGTERM"]
            && e.signals_to("b") == ["SIGTERM"]
            && e.signals_to("a/log") == ["SIGHUP"]
    });
}

/// Exit: "`-bt`: kill and wait": svscan exits only once `a`, which takes 2 s to die after its
/// SIGTERM, has died.
#[test]
fn b_then_t_kills_and_waits_for_every_supervisor() {
    let fx = Fixture::new();
    let mut sv = start_with_slow_service(&fx);
    sv.ctl("bt");
    let slow = sv.events().pid_of("a").unwrap();
    sv.wait_for("a got SIGTERM", DEADLINE, |e| {
        e.signals_to("a") == ["SIGTERM"]
    });
    assert!(!sv.has_exited(), "svscan left before a died");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    assert!(
        events.exited(slow),
        "svscan exited before a, which it was to wait for"
    );
    for name in ["b", "a/log"] {
        assert!(events.running(name).is_empty(), "{name} still running");
    }
}

/// "**fix**: when svscan leaves the loop (`t`, `i`, `q` and their signals), the pending kills
/// are sent even if held back (C then waits forever: `-at`, `-ht`, or any `t` while a
/// requested scan keeps failing)". A dangling symlink makes every scan fail ("the whole scan
/// is abandoned and retried in 4 s"), so the scan that `a` or `h` asked for never completes.
/// (Debian's C 2.11 passes: it leaves before it gets to scan.)
fn leaves_when_the_requested_scan_keeps_failing(bytes: &str) {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    fx.symlink("nowhere", "dangling");
    sv.ctl(bytes);
    assert_terms_services_hups_loggers_and_exits(&mut sv);
    if implementation() == Implementation::Ours {
        // (C scans only on a turn whose wait timed out, so it leaves before trying.)
        assert!(
            sv.stderr()
                .contains("unable to stat dangling: No such file or directory"),
            "the requested scan did fail: {}",
            sv.stderr()
        );
    }
}

#[test]
fn a_then_t_terminates_even_while_the_requested_scan_fails() {
    leaves_when_the_requested_scan_keeps_failing("at");
}

#[test]
fn h_then_t_terminates_even_while_the_requested_scan_fails() {
    leaves_when_the_requested_scan_keeps_failing("ht");
}

/// Exit, the finish phase: "if 'wait for all' is on: wait ... until every supervisor still
/// alive has died", then "exec `.s6-svscan/finish`". The finish program, written after the
/// start, finds `a` (2 s slow to die) gone and reaped, and runs after a's exit record.
#[test]
fn finish_runs_only_after_every_supervisor_died() {
    let fx = Fixture::new();
    let mut sv = start_with_slow_service(&fx);
    let pids: Vec<String> = ["a", "a/log", "b"]
        .iter()
        .map(|n| sv.events().pid_of(n).unwrap().to_string())
        .collect();
    let report = fx.tmp().join("finish.out");
    fx.script(
        ".s6-svscan/finish",
        &format!(
            "#!/bin/sh\n{{ date +%s%N; for p in {}; do kill -0 $p 2>/dev/null && echo alive $p; done; }} > {}\nexit 7\n",
            pids.join(" "),
            report.display()
        ),
    );
    sv.ctl("t");
    let exit = sv.wait_exit(DEADLINE);
    assert_eq!(exit.code(), Some(7), "svscan became the finish program");
    let report = std::fs::read_to_string(&report).expect("the finish program's report");
    let mut lines = report.lines();
    let ran_at: i64 = lines.next().and_then(|l| l.parse().ok()).expect("a date");
    let alive: Vec<&str> = lines.collect();
    assert!(alive.is_empty(), "supervisors alive at finish: {alive:?}");
    let events = sv.events();
    for name in ["a", "a/log", "b"] {
        let exit = events.find("exit", name).next().expect("exit record");
        assert!(
            exit.real_ns <= ran_at,
            "{name} exited {} ms after finish ran",
            (exit.real_ns - ran_at) / 1_000_000
        );
    }
}

/// "Pending work is a small set of flags, OR-ed together until acted on ... So `-Nt` ...
/// give loggers SIGTERM": `N`'s "loggers get TERM" carries over to `t`'s kill of everyone.
#[test]
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
#[test]
fn n_then_t_still_gives_loggers_sighup() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("nt");
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Stops svscan, sends it `sig` and writes `bytes` to its FIFO, then lets it go on: both are
/// pending when it wakes, so they are acted on in the same turn.
fn signal_and_command_in_one_turn(
    sv: &mut integration_tests::Svscan<'_>,
    sig: Signal,
    bytes: &str,
) {
    let pid = nix::unistd::Pid::from_raw(sv.pid());
    nix::sys::signal::kill(pid, Signal::SIGSTOP).unwrap();
    sv.wait_until("svscan stopped", DEADLINE, |sv| {
        procfs::state(sv.pid()) == Some('T')
    });
    sv.signal(sig);
    sv.ctl(bytes);
    nix::sys::signal::kill(pid, Signal::SIGCONT).unwrap();
}

/// Exit: "signals are read before commands (SIGABRT then a `t` byte: wait)": with both
/// pending in one turn, `t` comes later and decides: kill and wait for `a`, slow to die.
#[test]
fn sigabrt_and_a_t_byte_in_one_turn_kill_and_wait() {
    let fx = Fixture::new();
    let mut sv = start_with_slow_service(&fx);
    let slow = sv.events().pid_of("a").unwrap();
    signal_and_command_in_one_turn(&mut sv, Signal::SIGABRT, "t");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_to("a"), ["SIGTERM"]);
    assert!(
        events.exited(slow),
        "svscan exited before a, which it was to wait for"
    );
}

/// The same the other way round: SIGTERM (= `t`) is read first, then the `b` byte, which
/// decides: kill, and leave without waiting for `a`.
#[test]
fn sigterm_and_a_b_byte_in_one_turn_kill_without_waiting() {
    let fx = Fixture::new();
    let mut sv = start_with_slow_service(&fx);
    let slow = sv.events().pid_of("a").unwrap();
    signal_and_command_in_one_turn(&mut sv, Signal::SIGTERM, "b");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    assert!(
        !sv.events().exited(slow) && procfs::is_alive(slow),
        "svscan waited for a"
    );
    sv.wait_for("a got t's SIGTERM", DEADLINE, |e| {
        e.signals_to("a") == ["SIGTERM"]
    });
}

/// The finish phase: "unblock the signals (empty mask) and exec `.s6-svscan/finish`", with
/// SIGPIPE at its default (C gives SIGPIPE a no-op handler, which exec resets; ours undoes
/// the Rust runtime's SIG_IGN). The finish program is the stub, which records its masks as
/// exec left them (a shell would show its own, changing around each fork); it runs in
/// svscan's place, with svscan's pid, until the test ends it.
#[test]
fn the_finish_program_starts_with_an_empty_mask_and_sigpipe_at_default() {
    let fx = Fixture::new();
    fx.service("a");
    fx.mkdir(".s6-svscan").symlink(
        integration_tests::binary("supervise-stub"),
        ".s6-svscan/finish",
    );
    let mut sv = fx.start();
    sv.wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some());
    sv.ctl("t");
    let svscan = sv.pid();
    let finish = sv
        .wait_for("the finish program started", DEADLINE, |e| {
            e.last_start("").is_some()
        })
        .last_start("")
        .unwrap()
        .clone();
    assert_eq!(finish.pid, svscan, "exec'd in svscan's place");
    assert_eq!(finish.argv(), [".s6-svscan/finish"]);
    assert_eq!(finish.blocked_signals(), [], "{finish}");
    assert!(
        !finish.ignored_signals().contains(&Signal::SIGPIPE),
        "SIGPIPE ignored: {:?}",
        finish.ignored_signals()
    );
    assert!(sv.events().running("a").is_empty(), "a died before finish");
    sv.signal(Signal::SIGTERM);
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
}
