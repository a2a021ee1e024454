//! The daemons' one timer: each loop waits in `poll` with the time left until its nearest
//! deadline (skalibs' `iopause` with an absolute deadline), or forever when there is none,
//! so that an idle daemon never wakes up.

use std::time::Instant;

use nix::poll::PollTimeout;

/// The poll timeout until `deadline`: infinite without one; rounded **up** to the
/// millisecond, so that the wait never ends before the deadline and the loop never spins on a
/// zero timeout before its time.
#[must_use]
pub fn poll_timeout(deadline: Option<Instant>, now: Instant) -> PollTimeout {
    let Some(deadline) = deadline else {
        return PollTimeout::NONE;
    };
    let left = deadline.saturating_duration_since(now);
    let ms = left.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_timeout_is_infinite_without_deadline_and_never_early() {
        let now = Instant::now();
        assert_eq!(poll_timeout(None, now), PollTimeout::NONE);
        assert_eq!(poll_timeout(Some(now), now), PollTimeout::ZERO);
        let t = poll_timeout(Some(now + Duration::from_micros(1500)), now);
        assert_eq!(t, PollTimeout::try_from(2u32).unwrap());
        let past = poll_timeout(Some(now), now + Duration::from_secs(1));
        assert_eq!(past, PollTimeout::ZERO);
    }
}
