//! Waiting without sleeping blind: every wait of the harness and the scenarios is
//! [`poll_until`] a deadline, which looks at its condition every [`POLL_INTERVAL`]; timing
//! rules are checked on timestamps ([`now_mono_ns`], the records' `mono_ns`) with
//! [`assert_delay`]'s tolerance, never by sleeping.

use std::time::{Duration, Instant};

use nix::time::{ClockId, clock_gettime};

/// The deadline for waits that succeed when things work: long enough for a loaded 2-core CI
/// machine, and only ever reached by a failing test.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// How often waits look at their condition (the event log, `/proc`, a child's exit).
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Calls `f` every [`POLL_INTERVAL`] until it gives a value, and returns it; `None` once
/// `deadline` has passed without one (`f` is called one last time at the deadline).
pub fn poll_until<T>(deadline: Instant, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// Polls `done` until it holds.
///
/// # Panics
/// If it does not hold within `within`, naming `what`.
pub fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    if poll_until(Instant::now() + within, || done().then_some(())).is_none() {
        panic!("timed out after {within:?} waiting for {what}");
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds: the clock of the records' `mono_ns`.
#[must_use]
pub fn now_mono_ns() -> i64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("clock_gettime");
    t.tv_sec() * 1_000_000_000 + t.tv_nsec()
}

/// How much earlier than due a timed record may look: a stub stamps its records after its exec
/// and start-up, which a loaded machine delays by a varying amount, so the gap between two
/// starts can come out shorter than the gap between the two spawns.
pub const EARLY_SLACK: f64 = 0.15;
/// How much later than due a timed record may be: scheduling on a loaded 2-core machine.
pub const LATE_SLACK: f64 = 0.5;

/// Asserts that a delay measured on record stamps (in seconds) is `expected`, within
/// [`EARLY_SLACK`] and [`LATE_SLACK`].
///
/// # Panics
/// If it is not, naming `what`.
pub fn assert_delay(what: &str, secs: f64, expected: f64) {
    assert!(
        (expected - EARLY_SLACK..=expected + LATE_SLACK).contains(&secs),
        "{what}: {secs:.3} s, expected {expected:.3} s (-{EARLY_SLACK}, +{LATE_SLACK})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_until_returns_the_first_value_or_none_at_the_deadline() {
        let mut calls = 0;
        let got = poll_until(Instant::now() + DEADLINE, || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Some(3));
        let start = Instant::now();
        let deadline = start + Duration::from_millis(30);
        assert_eq!(poll_until(deadline, || None::<()>), None);
        assert!(Instant::now() >= deadline);
    }
}
