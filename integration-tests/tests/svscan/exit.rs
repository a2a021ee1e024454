//! "Exit": `b` leaves without killing or waiting, `t` kills and waits, the later of them
//! decides in one turn, and the finish phase in its order: pipes closed, the console restored,
//! every supervisor waited for, then `.s6-svscan/finish` exec'd with an empty mask, or the
//! crash path.

use std::path::Path;

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, Outcome, Skip, Svscan, implementation, procfs, scenario,
    under_test,
};
use nix::sys::signal::Signal;

use crate::shared::{
    assert_left_without_killing, start_pair_and_single, start_with_console_holder,
    start_with_slow_service,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(b_command_leaves_at_once_without_killing_or_waiting),
    scenario!(t_then_b_kills_and_leaves_without_waiting),
    scenario!(b_then_t_kills_and_waits_for_every_supervisor),
    scenario!(sigabrt_and_a_t_byte_in_one_turn_kill_and_wait),
    scenario!(sigterm_and_a_b_byte_in_one_turn_kill_without_waiting),
    scenario!(readiness_then_abort_exits_0_without_a_finish_program),
    scenario!(finish_runs_only_after_every_supervisor_died),
    scenario!(the_finish_program_is_execed_in_place_of_svscan),
    scenario!(the_finish_program_starts_with_an_empty_mask_and_sigpipe_at_default),
    scenario!(with_a_console_holder_finish_gets_it_as_stdout_and_stderr),
    scenario!(without_a_console_holder_finish_gets_dev_null_after_a_catch_all_logger),
    scenario!(a_finish_program_that_cannot_run_leads_to_the_crash_path),
    scenario!(a_crash_program_that_cannot_run_exits_126),
    scenario!(the_crash_program_is_execed_when_finish_fails),
];

/// Stops svscan, sends it `sig` and writes `bytes` to its FIFO, then lets it go on: both are
/// pending when it wakes, so they are acted on in the same turn.
fn signal_and_command_in_one_turn(sv: &mut Svscan<'_>, sig: Signal, bytes: &str) {
    let pid = nix::unistd::Pid::from_raw(sv.pid());
    nix::sys::signal::kill(pid, Signal::SIGSTOP).unwrap();
    sv.wait_until("svscan stopped", DEADLINE, |sv| {
        procfs::state(sv.pid()) == Some('T')
    });
    sv.signal(sig);
    sv.ctl(bytes);
    nix::sys::signal::kill(pid, Signal::SIGCONT).unwrap();
}

/// A finish program that writes where its fds 1 and 2 point (svscan's own, since it is
/// exec'd in svscan's place) to `report`.
fn fd_reporting_finish(fx: &Fixture, report: &Path) {
    fx.script(
        ".s6-svscan/finish",
        &format!(
            "#!/bin/sh\no=$(readlink /proc/$$/fd/1)\ne=$(readlink /proc/$$/fd/2)\n\
             printf '%s\\n%s\\n' \"$o\" \"$e\" > {}\n",
            report.display()
        ),
    );
}

fn b_command_leaves_at_once_without_killing_or_waiting() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("b");
    assert_left_without_killing(&mut sv);
}

/// Exit: "In one turn the later of `b` and `t`/`q` decides (`-tb`: kill, no wait)": every
/// supervisor gets `t`'s signal, and svscan exits while `a`, slow to die, still runs.
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

/// Exit: "signals are read before commands (SIGABRT then a `t` byte: wait)": with both
/// pending in one turn, `t` comes later and decides: kill and wait for `a`, slow to die.
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

/// "exec `.s6-svscan/finish` ... ENOENT (absent ...): exit 0".
fn readiness_then_abort_exits_0_without_a_finish_program() {
    let fx = Fixture::new();
    let mut sv = fx.start();
    sv.ctl("b");
    assert_eq!(sv.wait_exit(DEADLINE).code(), Some(0));
    assert_eq!(sv.stderr(), "");
}

/// Exit, the finish phase: "if 'wait for all' is on: wait ... until every supervisor still
/// alive has died", then "exec `.s6-svscan/finish`". The finish program, written after the
/// start, finds `a` (2 s slow to die) gone and reaped, and runs after a's exit record.
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

/// "exec `.s6-svscan/finish` (argv = its path)".
fn the_finish_program_is_execed_in_place_of_svscan() {
    let fx = Fixture::new();
    let mut sv = fx.start();
    let pid = sv.pid();
    fx.script(
        ".s6-svscan/finish",
        "#!/bin/sh\necho \"$$ $0\" > finish-ran\nexit 7\n",
    );
    sv.ctl("t");
    assert_eq!(sv.wait_exit(DEADLINE).code(), Some(7));
    // Same pid: exec'd, not spawned; argv[0] is its path; cwd is the scan dir.
    let ran = std::fs::read_to_string(fx.path("finish-ran")).unwrap();
    assert_eq!(ran, format!("{pid} .s6-svscan/finish\n"));
}

/// The finish phase: "unblock the signals (empty mask) and exec `.s6-svscan/finish`", with
/// SIGPIPE at its default (C gives SIGPIPE a no-op handler, which exec resets; ours undoes
/// the Rust runtime's SIG_IGN). The finish program is the stub, which records its masks as
/// exec left them (a shell would show its own, changing around each fork); it runs in
/// svscan's place, with svscan's pid, until the test ends it.
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

/// The finish phase: "if a special `s6-svscan-log` entry was created during this run, point
/// stdout and stderr at /dev/null ...; if `-X` gave a console holder, it becomes fd 2 again
/// and fd 1 a copy of it": the finish program sees the holder as both.
fn with_a_console_holder_finish_gets_it_as_stdout_and_stderr() {
    let fx = Fixture::new();
    fx.service("s6-svscan-log");
    let report = fx.tmp().join("finish.out");
    fd_reporting_finish(&fx, &report);
    let (mut sv, holder_r, ino) = start_with_console_holder(&fx);
    sv.wait_for("s6-svscan-log started", DEADLINE, |e| {
        e.pid_of("s6-svscan-log").is_some()
    });
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let report = std::fs::read_to_string(&report).expect("the finish program's report");
    let pipe = format!("pipe:[{ino}]");
    assert_eq!(report.lines().collect::<Vec<_>>(), [&pipe, &pipe]);
    drop(holder_r);
}

/// Without `-X`, a run that created `s6-svscan-log` leaves finish with stdout and stderr on
/// /dev/null ("its logger is going away").
fn without_a_console_holder_finish_gets_dev_null_after_a_catch_all_logger() {
    let fx = Fixture::new();
    fx.service("s6-svscan-log");
    let report = fx.tmp().join("finish.out");
    fd_reporting_finish(&fx, &report);
    let mut sv = fx.start();
    sv.wait_for("s6-svscan-log started", DEADLINE, |e| {
        e.pid_of("s6-svscan-log").is_some()
    });
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let report = std::fs::read_to_string(&report).expect("the finish program's report");
    let lines: Vec<&str> = report.lines().collect();
    match implementation() {
        Implementation::Ours => assert_eq!(lines, ["/dev/null", "/dev/null"]),
        // Debian's C 2.11 points only stdout at /dev/null (2.12, the reference, copies it
        // to stderr too: seed lines 944-950).
        Implementation::C => assert_eq!(lines[0], "/dev/null"),
    }
}

/// "Any other failure: warning `unable to exec finish script .s6-svscan/finish: ERR`, then
/// the crash path", whose exec "fails: fatal `unable to exec .s6-svscan/crash: ERR`, exit 127
/// on ENOENT".
fn a_finish_program_that_cannot_run_leads_to_the_crash_path() -> Outcome {
    let fx = Fixture::new();
    let mut sv = fx.start();
    fx.script(".s6-svscan/finish", "\x7fELF-not-really");
    sv.ctl("b");
    let code = sv.wait_exit(DEADLINE).code();
    let prog = under_test().prog();
    assert_eq!(
        sv.stderr(),
        format!(
            "{prog}: warning: unable to exec finish script .s6-svscan/finish: Exec format \
             error\n{prog}: warning: executing into .s6-svscan/crash\n{prog}: fatal: unable \
             to exec .s6-svscan/crash: No such file or directory\n"
        )
    );
    crash_exit_code_is_the_spec_s(code, 127)
}

/// The exit code of a failed crash exec, which C 2.11 does not tell apart.
fn crash_exit_code_is_the_spec_s(code: Option<i32>, expected: i32) -> Outcome {
    if implementation() == Implementation::C && code == Some(111) {
        return Err(Skip::differs(format!(
            "the rest: Debian's C 2.11 exits 111 when it cannot exec .s6-svscan/crash (2.12: \
             {expected})"
        )));
    }
    assert_eq!(code, Some(expected));
    Ok(())
}

/// The crash path: "if that fails: fatal `unable to exec .s6-svscan/crash: ERR`, exit 127 on
/// ENOENT, else 126".
fn a_crash_program_that_cannot_run_exits_126() -> Outcome {
    let fx = Fixture::new();
    let mut sv = fx.start();
    fx.script(".s6-svscan/finish", "\x7fELF-not-really");
    fx.script(".s6-svscan/crash", "\x7fELF-not-really");
    sv.ctl("b");
    let code = sv.wait_exit(DEADLINE).code();
    let tail = format!(
        "{}: fatal: unable to exec .s6-svscan/crash: Exec format error\n",
        under_test().prog()
    );
    assert!(sv.stderr().ends_with(&tail), "{}", sv.stderr());
    crash_exit_code_is_the_spec_s(code, 126)
}

/// The crash path: "warning `executing into .s6-svscan/crash`, exec it".
fn the_crash_program_is_execed_when_finish_fails() {
    let fx = Fixture::new();
    let mut sv = fx.start();
    fx.script(".s6-svscan/finish", "\x7fELF-not-really");
    fx.script(".s6-svscan/crash", "#!/bin/sh\nexit 42\n");
    sv.ctl("b");
    assert_eq!(sv.wait_exit(DEADLINE).code(), Some(42));
}
