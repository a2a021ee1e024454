//! The respawn throttle (SUPERVISE.md, "Death of finish", "set_down_and_ready"): after the
//! service goes down (after finish), the next start of run is 1 s later, unless readiness
//! was notified during the run, in which case it is 1 s after the readiness (usually already
//! past: the restart is immediate). `u`, `o` and `U` on a down service start it at once,
//! whatever the throttle says. This is the only place that knows the rule.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

/// The least time between the service going down and its next start, or between its
/// readiness and its next start.
pub const THROTTLE: Duration = Duration::from_secs(1);

/// C's `nextstart`: set when the service notifies readiness, cleared when run is started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    after_ready: Option<Instant>,
}

impl Throttle {
    /// run was started: the readiness of the previous run no longer counts.
    pub fn started(&mut self) {
        self.after_ready = None;
    }

    /// The service notified readiness at `now`.
    pub fn ready(&mut self, now: Instant) {
        self.after_ready = Some(now + THROTTLE);
    }

    /// When run may start again, the service having gone down at `now`.
    #[must_use]
    pub fn next_start(&self, now: Instant) -> Instant {
        self.after_ready.unwrap_or(now + THROTTLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_readiness_the_next_start_is_one_second_after_going_down() {
        let mut t = Throttle::default();
        let start = Instant::now();
        t.started();
        let down = start + Duration::from_secs(30);
        assert_eq!(t.next_start(down), down + THROTTLE);
    }

    #[test]
    fn with_readiness_the_next_start_is_one_second_after_it() {
        let mut t = Throttle::default();
        let ready = Instant::now();
        t.ready(ready);
        assert_eq!(
            t.next_start(ready + Duration::from_secs(30)),
            ready + THROTTLE
        );
        t.started();
        let down = ready + Duration::from_secs(40);
        assert_eq!(t.next_start(down), down + THROTTLE, "a new run forgets it");
    }
}
