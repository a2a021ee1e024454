//! "The starter": what a supervisor is given (argv, cwd, fds, the pair's pipe, an empty
//! mask and default dispositions, the console holder for `s6-svscan-log`), and when it is
//! started again: no sooner than 1 s after its previous start, counted per supervisor.

use std::time::Duration;

use integration_tests::suite::Scenario;
use integration_tests::wrapper::IGNORING_SHELL;
use integration_tests::{
    DEADLINE, EARLY_SLACK, Events, Fixture, Implementation, Outcome, StubControl, Svscan,
    assert_delay, implementation, note, ours_only, scenario, signal_pid,
};
use nix::sys::signal::Signal;

use crate::shared::{PROGRAM, install_program, start_with_console_holder};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(logged_pair_is_started_with_the_pipe_svscan_made_between_them),
    scenario!(unlogged_service_writes_to_svscans_stdout),
    scenario!(paired_logger_moved_to_the_top_level_still_reads_the_pipe_on_fd_0),
    scenario!(children_get_default_dispositions_when_svscan_inherited_ignored_signals),
    scenario!(the_catch_all_logger_gets_the_console_holder_as_fd_2),
    scenario!(no_line_is_lost_when_the_logger_restarts),
    scenario!(supervisor_that_dies_at_once_is_restarted_one_second_after_its_start),
    scenario!(supervisor_that_ran_longer_than_a_second_is_restarted_at_once),
    scenario!(services_dying_at_once_are_each_restarted_one_second_after_their_own_start).slow(),
];

/// "spawn the supervise program with argv `["s6-supervise", NAME]` ..., cwd = scandir, ...
/// an empty signal mask, fds 0-2 as svscan has them except: the service of a pair gets the
/// pipe's write end as fd 1; a logger gets the read end as fd 0", and "**fix**: every signal
/// disposition is reset to the default in the child".
fn logged_pair_is_started_with_the_pipe_svscan_made_between_them() {
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    let svscan = i64::from(sv.pid());
    let events = sv.wait_for("a's greeting read by a/log", DEADLINE, |e| {
        e.pid_of("a").is_some_and(|pid| {
            e.lines("a/log")
                .contains(&Events::greeting("a", pid).as_str())
        })
    });
    let (service, logger) = (
        events.last_start("a").unwrap(),
        events.last_start("a/log").unwrap(),
    );
    assert_eq!(service.argv(), ["s6-supervise", "a"]);
    assert_eq!(logger.argv(), ["s6-supervise", "a/log"]);
    for start in [service, logger] {
        assert_eq!(start.int("ppid"), Some(svscan), "{start}");
        assert_eq!(start.str("cwd"), Some(fx.scandir().to_str().unwrap()));
        assert_eq!(
            start.blocked_signals(),
            [],
            "children start with an empty signal mask"
        );
        assert_eq!(
            start.ignored_signals(),
            [],
            "children start with default dispositions"
        );
        assert_eq!(
            start.open_fds(),
            [0, 1, 2],
            "svscan's own fds are all CLOEXEC"
        );
    }
    let (out, inp) = (service.fd(1).unwrap(), logger.fd(0).unwrap());
    assert_eq!((out.kind.as_str(), out.mode.as_str()), ("pipe", "w"));
    assert_eq!((inp.kind.as_str(), inp.mode.as_str()), ("pipe", "r"));
    assert_eq!(out.ino, inp.ino, "one pipe from the service to its logger");
    assert_eq!(events.starts("a").len(), 1);
    assert_eq!(events.starts("a/log").len(), 1);
}

/// "fds 0-2 as svscan has them": an unlogged service writes to svscan's own stdout.
fn unlogged_service_writes_to_svscans_stdout() {
    let fx = Fixture::new();
    fx.service("b");
    let mut sv = fx.start();
    let pid = sv.wait_started("b");
    let greeting = Events::greeting("b", pid);
    sv.wait_until("b's greeting on svscan's stdout", DEADLINE, |sv| {
        sv.stdout().contains(&greeting)
    });
}

/// "known, and it is NAME's logger already: marked seen, its name updated" (a rename keeps
/// the pair), and the starter's "a logger gets the read end as fd 0 (**fix**: by the entry's
/// role in the pair, C decides by the name, so a paired logger moved to the top level would
/// get the read end as its fd 1)": `a/log` moved to the top-level `lg` is restarted as `lg`
/// reading the pair's pipe on fd 0, and reads what the restarted `a` writes.
fn paired_logger_moved_to_the_top_level_still_reads_the_pipe_on_fd_0() -> Outcome {
    ours_only("s6 2.11 keeps NAME/log in NAME's entry, and fix: C passes the end by name")?;
    let fx = Fixture::new();
    fx.logged("a");
    // So that the stub, once named `lg`, still behaves as a logger.
    fx.control("a/log", StubControl::Logger);
    let mut sv = fx.start();
    let events = sv.wait_for("a's greeting read by a/log", DEADLINE, |e| {
        e.pid_of("a").is_some_and(|pid| {
            e.lines("a/log")
                .contains(&integration_tests::Events::greeting("a", pid).as_str())
        })
    });
    let (a, logger) = (events.pid_of("a").unwrap(), events.pid_of("a/log").unwrap());
    let pipe = events.last_start("a").unwrap().fd(1).unwrap().ino;
    fx.rename("a/log", "lg");
    sv.rescan("marker");
    assert_eq!(
        sv.events().starts("lg").len(),
        0,
        "the logger keeps its supervisor"
    );

    signal_pid(logger, Signal::SIGTERM);
    let events = sv.wait_for("the logger restarted as lg", DEADLINE, |e| {
        e.pid_of("lg").is_some()
    });
    let lg = events.last_start("lg").unwrap();
    let (stdin, stdout) = (lg.fd(0).unwrap(), lg.fd(1).unwrap());
    assert_eq!((stdin.ino, stdin.mode.as_str()), (pipe, "r"), "{stdin:?}");
    assert_ne!(stdout.ino, pipe, "{stdout:?}");

    signal_pid(a, Signal::SIGTERM);
    let events = sv.wait_for("a restarted", DEADLINE, |e| e.starts("a").len() == 2);
    let restarted = events.last_start("a").unwrap();
    assert_eq!(restarted.fd(1).unwrap().ino, pipe);
    let greeting = integration_tests::Events::greeting("a", restarted.pid);
    sv.wait_for("the new a's greeting read by lg", DEADLINE, |e| {
        e.lines("lg").contains(&greeting.as_str())
    });
    Ok(())
}

/// "**fix**: every signal disposition is reset to the default in the child (C resets only
/// the mask, so a SIG_IGN that svscan inherited reaches every service ...)": svscan started
/// with SIGHUP, SIGINT and SIGPIPE ignored gives its supervisors and signal programs default
/// dispositions; and it still acts on those signals itself (they are blocked into its
/// signalfd, and a blocked signal is never discarded as ignored).
fn children_get_default_dispositions_when_svscan_inherited_ignored_signals() {
    let fx = Fixture::new();
    fx.logged("a");
    install_program(&fx, Signal::SIGUSR1);
    let mut sv = fx.svscan().start_wrapped(&IGNORING_SHELL);
    let ignored = |sv: &Svscan<'_>| {
        std::fs::read_to_string(format!("/proc/{}/status", sv.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:").map(str::trim).map(str::to_owned))
            .and_then(|m| u64::from_str_radix(&m, 16).ok())
            .unwrap_or(0)
    };
    // (Not SIGPIPE: C gives it a handler of its own, which the check would not see.)
    let hup_int = (1 << (Signal::SIGHUP as u32 - 1)) | (1 << (Signal::SIGINT as u32 - 1));
    assert_eq!(
        ignored(&sv) & hup_int,
        hup_int,
        "svscan itself runs with HUP and INT ignored"
    );
    sv.wait_for("a and a/log started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("a/log").is_some()
    });
    sv.signal(Signal::SIGUSR1);
    let events = sv.wait_for("the SIGUSR1 program started", DEADLINE, |e| {
        e.last_start(PROGRAM).is_some()
    });
    for name in ["a", "a/log", PROGRAM] {
        let start = events.last_start(name).unwrap();
        match implementation() {
            // All 64, glibc's internal 32 and 33 too (its posix_spawn would leave them ignored).
            Implementation::Ours => {
                assert_eq!(start.sigign(), 0, "{name:?} got default dispositions");
            }
            // C 2.11 resets the mask only: the inherited SIG_IGN of SIGHUP reaches them.
            Implementation::C => assert!(
                start.ignored_signals().contains(&Signal::SIGHUP),
                "{name:?}: {:?}",
                start.ignored_signals()
            ),
        }
        assert_eq!(start.blocked_signals(), [], "{name:?} got an empty mask");
    }
    let program = events.last_start(PROGRAM).unwrap().pid;
    signal_pid(program, Signal::SIGTERM);
    // SIGINT = `t`, although svscan was started with it ignored.
    sv.signal(Signal::SIGINT);
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    assert_eq!(sv.events().signals_to("a"), ["SIGTERM"]);
}

/// "`-X fd` | console holder: given to the `s6-svscan-log` supervisor as its fd 2", and in the
/// killer "loggers and `s6-svscan-log`" get SIGHUP on `t`. Other supervisors keep svscan's
/// stderr.
fn the_catch_all_logger_gets_the_console_holder_as_fd_2() {
    let fx = Fixture::new();
    fx.service("s6-svscan-log").service("a");
    let (mut sv, holder_r, ino) = start_with_console_holder(&fx);
    let events = sv.wait_for("s6-svscan-log and a started", DEADLINE, |e| {
        e.pid_of("s6-svscan-log").is_some() && e.pid_of("a").is_some()
    });
    let special = events.last_start("s6-svscan-log").unwrap();
    let fd2 = special.fd(2).unwrap();
    assert_eq!((fd2.kind.as_str(), fd2.ino), ("pipe", ino), "{special}");
    assert_eq!(
        special.open_fds(),
        [0, 1, 2],
        "the holder is not left at fd 4"
    );
    let other = events.last_start("a").unwrap();
    assert_ne!(
        other.fd(2).unwrap().ino,
        ino,
        "only the catch-all logger gets the holder"
    );
    assert_eq!(other.open_fds(), [0, 1, 2], "the holder is made CLOEXEC");
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_to("s6-svscan-log"), ["SIGHUP"]);
    assert_eq!(events.signals_to("a"), ["SIGTERM"]);
    drop(holder_r);
}

/// "A logged pair's pipe is created by svscan and **held by svscan** (both ends) for as long
/// as both entries are known, so neither side's restart loses a byte", and the finish phase
/// closes svscan's ends so the logger reads to EOF: every line the service wrote is read.
fn no_line_is_lost_when_the_logger_restarts() {
    let fx = Fixture::new();
    fx.logged("a");
    fx.control("a", StubControl::LinesForever(Duration::from_millis(1)));
    let mut sv = fx.start();
    let first = sv
        .wait_for("a/log reading lines", DEADLINE, |e| {
            e.line_numbers("a/log", "a").len() >= 50
        })
        .pid_of("a/log")
        .unwrap();
    signal_pid(first, Signal::SIGTERM);
    sv.wait_for("a new a/log reading lines", DEADLINE, |e| {
        e.pid_of("a/log").is_some_and(|pid| {
            pid != first && e.find("line", "a/log").last().is_some_and(|l| l.pid == pid)
        })
    });
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());

    let events = sv.events();
    let written = events
        .find("exit", "a")
        .next()
        .and_then(|e| e.int("lines_written"))
        .expect("a's exit record");
    let read = events.line_numbers("a/log", "a");
    let expected: Vec<u64> = (1..=written as u64).collect();
    assert!(
        read == expected,
        "the loggers read {} lines of {written}, first gap after {:?}",
        read.len(),
        read.windows(2).find(|w| w[1] != w[0] + 1)
    );
    assert_eq!(events.starts("a/log").len(), 2);
}

/// "The respawn throttle is 'no sooner than 1 s after the previous **start**'": a supervisor
/// that dies at once is restarted about every second, no sooner.
fn supervisor_that_dies_at_once_is_restarted_one_second_after_its_start() {
    let fx = Fixture::new();
    fx.control("a", StubControl::Exit(0));
    let mut sv = fx.start();
    let events = sv.wait_for("a started three times", DEADLINE, |e| {
        e.starts("a").len() >= 3
    });
    let starts = events.starts("a");
    for pair in starts.windows(2).take(2) {
        assert_delay(
            "restart after the previous start",
            pair[1].secs_since(pair[0]),
            1.0,
        );
    }
}

/// "a supervisor that ran 5 s and died is restarted at once" (here 1.5 s): the 1 s since its
/// start are over when it dies.
fn supervisor_that_ran_longer_than_a_second_is_restarted_at_once() {
    let fx = Fixture::new();
    fx.control("a", StubControl::ExitAfter(Duration::from_millis(1500)));
    let mut sv = fx.start();
    let events = sv.wait_for("a restarted", DEADLINE, |e| e.starts("a").len() >= 2);
    let death = events.find("exit", "a").next().expect("a's exit record");
    let restart = events.starts("a")[1];
    let delay = restart.secs_since(death);
    match implementation() {
        Implementation::Ours => assert_delay("restart after the death", delay, 0.0),
        // C 2.11 (Debian's) throttles from the death, not the start: 1 s after it.
        Implementation::C => assert_delay("restart after the death", delay, 1.0),
    }
}

/// "Its next allowed start is 1 s after this start. After a pass that visited every entry,
/// the start deadline is the earliest next-allowed start among active entries with no
/// supervisor. **fix**: C forgets entries still inside their 1 s window when another entry
/// is started first": `a` and `b`, which die at once, are each restarted 1 s after their own
/// previous start, three times, with no command. `b` is added about 0.7 s after `a` (once
/// `clock`, started with `a`, has exited after 700 ms), so the pass that starts `b` comes
/// while `a` is inside its window, and every later pass of `a` while `b` is inside its own.
fn services_dying_at_once_are_each_restarted_one_second_after_their_own_start() -> Outcome {
    ours_only("C 2.11 restarts 1 s after the death, and fix: C forgets entries in their window")?;
    let fx = Fixture::new();
    fx.control("a", StubControl::Exit(0));
    fx.control("clock", StubControl::ExitAfter(Duration::from_millis(700)));
    let mut sv = fx.start();
    sv.wait_for("clock's first exit", DEADLINE, |e| {
        e.find("exit", "clock").next().is_some()
    });
    fx.control("b", StubControl::Exit(0));
    sv.ctl("a");
    let events = sv.wait_for("a and b started four times each", DEADLINE, |e| {
        e.starts("a").len() >= 4 && e.starts("b").len() >= 4
    });
    for name in ["a", "b"] {
        let starts = events.starts(name);
        let gaps: Vec<String> = starts
            .windows(2)
            .take(3)
            .map(|p| format!("{:.3}", p[1].secs_since(p[0])))
            .collect();
        note!("{name}'s restart gaps: {gaps:?} s");
        for pair in starts.windows(2).take(3) {
            assert_delay(
                &format!("{name}'s restart after its previous start"),
                pair[1].secs_since(pair[0]),
                1.0,
            );
        }
    }
    let offset = events.starts("b")[0].secs_since(events.starts("a")[0]);
    note!("b's first start came {offset:.3} s after a's");
    assert!(
        offset >= 0.3 - EARLY_SLACK,
        "b started {offset:.3} s after a"
    );
    Ok(())
}
