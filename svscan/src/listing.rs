//! `svscanctl -l` (beyond s6): svscan's table as records (`common::svscan_socket::Record`),
//! built from svscan's own state, never from re-reading the scan directory.
//!
//! Each entry says its supervisor, whether it is active, its partner in a logged pair, how long
//! its supervisor has run, and, when it has none, why. Almost all of that is already in the
//! table: a supervisor's spawn time is its entry's next allowed start minus the 1 s throttle
//! (`start.rs` sets one from the other), and an entry without a supervisor is either inside
//! its throttle, behind a failed spawn, or registered by an abandoned scan. Two facts the
//! table does not hold are kept once for the whole daemon, not per entry: the last failed
//! spawn ([`SpawnFailure`]: a start pass stops at the first one, so there is at most one) and
//! the name the last abandoned scan stopped at ([`ScanStop`]: a name that is not in the table,
//! such as one refused for "too many services"). So the listing adds no byte to an entry.

use std::time::{Duration, Instant};

use common::svscan_socket::{Record, State, Why};
use nix::errno::Errno;

use crate::daemon::Svscan;
use crate::start::RESPAWN_THROTTLE;
use crate::table::{DevIno, Slot, Table};

/// The spawn that stopped the last start pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnFailure {
    pub slot: Slot,
    /// Which entry held the slot then (a slot is reused once its entry is forgotten).
    pub devino: DevIno,
    pub errno: Errno,
}

/// The name the last scan stopped at, while no complete scan has followed.
#[derive(Debug, Default)]
pub struct ScanStop {
    /// The scan it belongs to (`Progress::scans_begun` then).
    scan: u64,
    /// Allocated once at start-up (the longest name is `-L` plus `/log`), so recording a name
    /// allocates nothing.
    name: Vec<u8>,
    why: Option<Why>,
}

/// The longest name a scan can stop at: `-L` at most, then `/log`.
const NAME_CAPACITY: usize = crate::config::NAME_MAX_RANGE.1 as usize + 4;

impl ScanStop {
    #[must_use]
    pub fn new() -> Self {
        ScanStop {
            name: Vec::with_capacity(NAME_CAPACITY),
            ..ScanStop::default()
        }
    }

    pub fn clear(&mut self) {
        self.why = None;
    }
}

/// What the records are built from: the table and the loop's deadlines, at one instant.
pub struct View<'a> {
    pub table: &'a Table,
    pub now: Instant,
    pub spawn_failure: Option<SpawnFailure>,
    pub scan_stop: &'a ScanStop,
    pub scan_deadline: Option<Instant>,
    pub start_deadline: Option<Instant>,
}

impl<'a> View<'a> {
    fn until(&self, deadline: Option<Instant>) -> Option<Duration> {
        deadline.map(|d| d.saturating_duration_since(self.now))
    }

    /// The record of the entry in `slot`, if there is one.
    #[must_use]
    pub fn entry(&self, slot: Slot) -> Option<Record<'a>> {
        let e = self.table.get(slot)?;
        let mut r = Record {
            name: self.table.name_bytes(slot),
            partner: e.peer().map_or(&[][..], |p| self.table.name_bytes(p)),
            pid: e.pid().and_then(|p| u32::try_from(p.as_raw()).ok()),
            state: if e.active() {
                State::Active
            } else {
                State::Inactive
            },
            logger: e.is_logger(),
            why: Why::None,
            errno: 0,
            up: None,
            until: None,
        };
        let next_start = self.table.next_start(slot).unwrap_or(self.now);
        if e.pid().is_some() {
            // start.rs: `next_start` is the spawn's instant plus the throttle.
            r.up = next_start
                .checked_sub(RESPAWN_THROTTLE)
                .map(|spawned| self.now.saturating_duration_since(spawned));
        } else if !e.active() {
            r.state = State::New;
            r.why = Why::ScanIncomplete;
            r.until = self.until(self.scan_deadline);
        } else if next_start > self.now {
            r.why = Why::Throttled;
            r.until = self.until(Some(next_start));
        } else {
            match self.spawn_failure {
                Some(f) if f.slot == slot && f.devino == e.devino() => {
                    r.why = Why::SpawnFailed;
                    r.errno = f.errno as i32;
                }
                _ => r.why = Why::Queued,
            }
            r.until = self.until(self.start_deadline);
        }
        Some(r)
    }

    /// The name the last scan stopped at, while no complete scan has followed.
    #[must_use]
    pub fn scan_stop(&self) -> Option<Record<'a>> {
        let why = self.scan_stop.why?;
        Some(Record {
            name: self.scan_stop.name.as_slice(),
            partner: &[],
            pid: None,
            state: State::Absent,
            logger: self.scan_stop.name.contains(&b'/'),
            why,
            errno: 0,
            up: None,
            until: self.until(self.scan_deadline),
        })
    }
}

impl Svscan {
    /// The table as it is now.
    #[must_use]
    pub fn view(&self, now: Instant) -> View<'_> {
        View {
            table: &self.table,
            now,
            spawn_failure: self.spawn_failure,
            scan_stop: &self.scan_stop,
            scan_deadline: self.scan_deadline,
            start_deadline: self.start_deadline,
        }
    }

    /// The starter's hook: the spawn of `slot` failed with `errno` and stopped the pass.
    pub fn spawn_failed(&mut self, slot: Slot, errno: Errno) {
        if let Some(e) = self.table.get(slot) {
            self.spawn_failure = Some(SpawnFailure {
                slot,
                devino: e.devino(),
                errno,
            });
        }
    }

    /// The scanner's hook: this scan is stopping at `name` (`NAME` or `NAME/log`).
    pub fn scan_stopped_at(&mut self, name: &[u8]) {
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        let stop = &mut self.scan_stop;
        stop.scan = self.progress.scans_begun;
        stop.name.clear();
        // Names are at most -L + 4 bytes, the capacity: this never allocates.
        stop.name.extend_from_slice(name);
    }

    /// The scanner's hook: this scan was abandoned, for `why`. A scan that did not stop at a
    /// name failed on the directory itself (`.`).
    pub fn scan_abandoned(&mut self, why: Why) {
        if self.scan_stop.scan != self.progress.scans_begun {
            self.scan_stopped_at(b".");
        }
        self.scan_stop.why = Some(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Entry;
    use nix::unistd::Pid;

    fn table_with(entries: &[(&[u8], u64)], now: Instant) -> Table {
        let mut t = Table::new(16);
        for &(name, ino) in entries {
            t.insert(Entry::new(DevIno { dev: 1, ino }), name, now)
                .unwrap();
        }
        t
    }

    fn view<'a>(t: &'a Table, stop: &'a ScanStop, now: Instant) -> View<'a> {
        View {
            table: t,
            now,
            spawn_failure: None,
            scan_stop: stop,
            scan_deadline: Some(now + Duration::from_secs(4)),
            start_deadline: Some(now + Duration::from_secs(10)),
        }
    }

    #[test]
    fn a_supervised_entry_has_run_since_its_spawn_which_is_its_next_start_less_the_throttle() {
        let now = Instant::now();
        let mut t = table_with(&[(b"svc", 1)], now);
        t.set_pid(0, Pid::from_raw(4242));
        t.get_mut(0).unwrap().set_active(true);
        t.set_next_start(0, now - Duration::from_secs(5) + RESPAWN_THROTTLE);
        let stop = ScanStop::new();
        let r = view(&t, &stop, now).entry(0).unwrap();
        assert_eq!(r.pid, Some(4242));
        assert_eq!(r.state, State::Active);
        assert_eq!(r.why, Why::None);
        // The table keeps start times in whole milliseconds, rounded up.
        let up = r.up.unwrap();
        assert!(
            up <= Duration::from_secs(5) && up > Duration::from_millis(4999),
            "{up:?}"
        );
        assert_eq!(r.name, b"svc");
    }

    #[test]
    fn entries_without_a_supervisor_say_why() {
        let now = Instant::now();
        let mut t = table_with(
            &[
                (b"throttled", 1),
                (b"failed", 2),
                (b"queued", 3),
                (b"new", 4),
            ],
            now,
        );
        for slot in 0..3 {
            t.get_mut(slot).unwrap().set_active(true);
        }
        t.set_next_start(0, now + Duration::from_millis(400));
        let stop = ScanStop::new();
        let mut v = view(&t, &stop, now);
        v.spawn_failure = Some(SpawnFailure {
            slot: 1,
            devino: DevIno { dev: 1, ino: 2 },
            errno: Errno::ENOENT,
        });
        let r = v.entry(0).unwrap();
        assert_eq!(r.why, Why::Throttled);
        // The table keeps start times in whole milliseconds, rounded up.
        let until = r.until.unwrap();
        assert!(
            until >= Duration::from_millis(400) && until < Duration::from_millis(401),
            "{until:?}"
        );
        let r = v.entry(1).unwrap();
        assert_eq!((r.why, r.errno), (Why::SpawnFailed, Errno::ENOENT as i32));
        assert_eq!(r.until, Some(Duration::from_secs(10)));
        assert_eq!(v.entry(2).unwrap().why, Why::Queued);
        let r = v.entry(3).unwrap();
        assert_eq!((r.state, r.why), (State::New, Why::ScanIncomplete));
        assert_eq!(r.until, Some(Duration::from_secs(4)));
        // A failure recorded for another entry that held the slot before does not apply.
        v.spawn_failure = Some(SpawnFailure {
            slot: 1,
            devino: DevIno { dev: 1, ino: 99 },
            errno: Errno::ENOENT,
        });
        assert_eq!(v.entry(1).unwrap().why, Why::Queued);
    }

    #[test]
    fn a_removed_entry_is_inactive_with_its_supervisor_and_partners_are_named() {
        let now = Instant::now();
        let mut t = table_with(&[(b"svc", 1), (b"svc/log", 2)], now);
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        t.pair(0, 1, r, w);
        t.set_pid(1, Pid::from_raw(77));
        let stop = ScanStop::new();
        let v = view(&t, &stop, now);
        let r = v.entry(1).unwrap();
        assert_eq!(
            (r.state, r.pid, r.logger),
            (State::Inactive, Some(77), true)
        );
        assert_eq!(r.partner, b"svc");
        assert_eq!(v.entry(0).unwrap().partner, b"svc/log");
        assert!(v.entry(2).is_none());
    }

    #[test]
    fn the_scan_stop_is_the_name_or_the_directory_until_a_complete_scan() {
        let dir = tempfile::tempdir().unwrap();
        let mut sv = crate::daemon::tests::daemon(dir.path());
        let now = Instant::now();
        assert!(sv.view(now).scan_stop().is_none());
        sv.progress.scans_begun = 1;
        sv.scan_stopped_at(b"svc/log\0");
        sv.scan_abandoned(Why::OldLogger);
        let v = sv.view(now);
        let r = v.scan_stop().unwrap();
        assert_eq!(
            (r.name, r.state, r.why),
            (&b"svc/log"[..], State::Absent, Why::OldLogger)
        );
        // The next scan fails on the directory: no name was recorded for it.
        sv.progress.scans_begun = 2;
        sv.scan_abandoned(Why::ScanDirFailed);
        assert_eq!(sv.view(now).scan_stop().unwrap().name, b".");
        sv.scan_completed();
        assert!(sv.view(now).scan_stop().is_none());
    }
}
