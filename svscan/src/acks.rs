//! What `svscanctl -w` waits for (beyond s6): when each command letter has taken effect,
//! told by counters of the loop's steps.
//!
//! The loop counts the scans it begins, the last complete one, the kill steps that sent what
//! was pending, and the reap passes. A client's letters, read at the start of a turn, each
//! name the count that proves their effect, one more than the count at the read:
//! - `a`: a complete scan that *began* after the read, and the start pass after it (the turn
//!   that completes a scan runs its start pass before the client is answered: every entry the
//!   scan found due has been started then);
//! - `h`: the same, and the kill step that followed it;
//! - `n`, `N`: a kill step that sent the kills (it may be held back by a requested scan);
//! - `z`: a reap pass;
//! - `t`, `i`, `q`, `b`: nothing to count: the client is answered by its connection's end, at
//!   svscan's exec or exit (see `clients`).
//!
//! Because a scan runs inside one turn and the client's letters are read at the start of a
//! turn, no scan that began before the read can satisfy a client: an `s` event or another
//! client's rescan finishing meanwhile does not release it. Counters are `u64`: they never
//! wrap.

use common::control::SvscanCommand as Command;

use crate::daemon::Svscan;

/// How far the loop has got.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Scans begun so far.
    pub scans_begun: u64,
    /// The number (in `scans_begun`) of the last scan that completed.
    pub scans_complete: u64,
    /// Kill steps that sent the pending kills.
    pub kills: u64,
    /// Reap passes.
    pub reaps: u64,
}

/// The counts that prove a client's letters have taken effect.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Awaited {
    scan: u64,
    kills: u64,
    reaps: u64,
}

impl Progress {
    /// What `letters` (valid commands, acted on in this turn) wait for.
    #[must_use]
    pub fn awaited(&self, letters: &[u8]) -> Awaited {
        let mut a = Awaited::default();
        for &b in letters {
            match Command::from_byte(b) {
                Some(Command::Alarm) => a.scan = self.scans_begun + 1,
                Some(Command::Hangup) => {
                    a.scan = self.scans_begun + 1;
                    a.kills = self.kills + 1;
                }
                Some(Command::Nuke | Command::NukeTerm) => a.kills = self.kills + 1,
                Some(Command::Reap) => a.reaps = self.reaps + 1,
                _ => {}
            }
        }
        a
    }

    /// Whether everything `a` waits for has happened.
    #[must_use]
    pub fn reached(&self, a: &Awaited) -> bool {
        self.scans_complete >= a.scan && self.kills >= a.kills && self.reaps >= a.reaps
    }
}

impl Svscan {
    /// The scanner's hook: a scan has completed (`-w`'s `a`, and `-l` forgets the name the
    /// previous scan stopped at).
    pub fn scan_completed(&mut self) {
        self.progress.scans_complete = self.progress.scans_begun;
        self.scan_stop.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waits_for_a_scan_that_begins_after_the_read() {
        let mut p = Progress {
            scans_begun: 5,
            scans_complete: 5,
            ..Progress::default()
        };
        let a = p.awaited(b"a");
        // The scan that completed before the read does not count.
        assert!(!p.reached(&a));
        // A scan that begins and is abandoned does not either.
        p.scans_begun += 1;
        assert!(!p.reached(&a));
        // The next one completes.
        p.scans_begun += 1;
        p.scans_complete = p.scans_begun;
        assert!(p.reached(&a));
    }

    #[test]
    fn h_waits_for_the_scan_and_the_kills_n_for_the_kills_z_for_a_reap() {
        let mut p = Progress::default();
        let h = p.awaited(b"h");
        p.scans_begun = 1;
        p.scans_complete = 1;
        assert!(!p.reached(&h), "the kills are not sent yet");
        p.kills = 1;
        assert!(p.reached(&h));

        let n = p.awaited(b"N");
        assert!(!p.reached(&n));
        p.kills += 1;
        assert!(p.reached(&n));

        let z = p.awaited(b"z");
        assert!(!p.reached(&z));
        p.reaps += 1;
        assert!(p.reached(&z));
    }

    #[test]
    fn letters_wait_for_all_their_effects_and_none_for_nothing() {
        let mut p = Progress::default();
        assert!(p.reached(&p.awaited(b"")));
        let all = p.awaited(b"zan");
        p.reaps = 1;
        p.kills = 1;
        assert!(!p.reached(&all));
        p.scans_begun = 1;
        p.scans_complete = 1;
        assert!(p.reached(&all));
    }
}
