//! Logged pairs: the pipe svscan holds between a service and its logger.

use std::time::Duration;

use integration_tests::{DEADLINE, Fixture, StubControl, signal_pid};
use nix::sys::signal::Signal;

/// "A logged pair's pipe is created by svscan and **held by svscan** (both ends) for as long
/// as both entries are known, so neither side's restart loses a byte", and the finish phase
/// closes svscan's ends so the logger reads to EOF: every line the service wrote is read.
#[test]
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
