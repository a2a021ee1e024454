//! The scanner and the starter: what is started for each directory, with which argv, cwd,
//! fds and signal state, and rescans.

use std::time::Duration;

use integration_tests::{
    DEADLINE, Events, Fixture, Implementation, StubControl, assert_delay, implementation,
};

/// "spawn the supervise program with argv `["s6-supervise", NAME]` ..., cwd = scandir, ...
/// an empty signal mask, fds 0-2 as svscan has them except: the service of a pair gets the
/// pipe's write end as fd 1; a logger gets the read end as fd 0", and "**fix**: every signal
/// disposition is reset to the default in the child".
#[test]
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
#[test]
fn unlogged_service_writes_to_svscans_stdout() {
    let fx = Fixture::new();
    fx.service("b");
    let mut sv = fx.start();
    let pid = sv
        .wait_for("b started", DEADLINE, |e| e.pid_of("b").is_some())
        .pid_of("b")
        .unwrap();
    let greeting = Events::greeting("b", pid);
    sv.wait_until("b's greeting on svscan's stdout", DEADLINE, |sv| {
        sv.stdout().contains(&greeting)
    });
}

/// `a`: "scan now": a directory created after start-up gets its supervisor.
#[test]
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

/// "The respawn throttle is 'no sooner than 1 s after the previous **start**'": a supervisor
/// that dies at once is restarted about every second, no sooner.
#[test]
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
#[test]
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
