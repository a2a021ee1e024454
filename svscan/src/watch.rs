//! `svscan --watch` (beyond s6, opt-in): rescan without being asked when the scan directory
//! changes.
//!
//! One inotify instance, one more fd in the loop's poll set: a watch on the scan directory (a
//! name appearing, going or being renamed: `mkdir`, `ln -s`, `mv`) and one on each service
//! directory, added when its entry is created (the watch follows the directory's inode, as
//! the table follows its (dev, inode): a renamed service keeps it), for its `log` appearing
//! or going. Other names in a service directory (`supervise`, `event`, a service's own files)
//! are read and ignored, names starting with `.` in the scan directory too (svscan skips
//! them). A change schedules a scan [`QUIET`] after the last event of a burst, and never later
//! than [`MAX_DELAY`] after its first: a `cp -r` of many services is one scan, and a stream of
//! events cannot postpone it for ever. The scan is a plain one, as a `-t` one: it does not
//! hold kills back, and a removal only makes the entry inactive (`-n` still decides).
//!
//! Nothing changes while idle: the fd is only readable when the directory changes, so idle
//! wake-ups stay 0. Events are read into a stack buffer and parsed in place (nix's reader
//! allocates a `Vec` and an `OsString` per event). Without inotify (`inotify_init` fails) or
//! past the watch limit (`max_user_watches`: ENOSPC), svscan warns once and falls back, for
//! what it cannot watch, to the plain behaviour: rescans when asked or with `-t`.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use common::diag::{SysErr, warn_sys};
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::daemon::{Svscan, earliest};

/// How long the directory must stay quiet before the scan.
pub const QUIET: Duration = Duration::from_millis(15);
/// The longest a change waits for its scan.
pub const MAX_DELAY: Duration = Duration::from_millis(50);

/// The size of `struct inotify_event` before its name.
const EVENT_HEADER: usize = 16;

fn dir_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ONLYDIR
}

/// The inotify instance and the scan it has scheduled.
#[derive(Debug)]
pub struct Watch {
    inotify: Inotify,
    /// The scan directory's watch.
    scandir: i32,
    /// The first event of the current burst, and when its scan is due.
    burst: Option<(Instant, Instant)>,
    /// The watch limit was hit once (warned).
    limited: bool,
}

/// Watches the scan directory (svscan's cwd). A failure is warned about once, and svscan runs
/// without a watch.
#[must_use]
pub fn open() -> Option<Watch> {
    let watch = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).and_then(|inotify| {
        let wd = inotify.add_watch(c".", dir_mask())?;
        Ok(Watch {
            inotify,
            scandir: wd.as_raw(),
            burst: None,
            limited: false,
        })
    });
    match watch {
        Ok(w) => Some(w),
        Err(e) => {
            common::warn!(
                "unable to watch the scan directory: {}; rescanning only when asked",
                SysErr(e)
            );
            None
        }
    }
}

/// Whether an event (watch `wd`, `mask`, `name` without its NUL padding) can change what a
/// scan finds.
fn relevant(scandir: i32, wd: i32, mask: u32, name: &[u8]) -> bool {
    let mask = AddWatchFlags::from_bits_truncate(mask);
    if mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
        return true;
    }
    if mask.contains(AddWatchFlags::IN_IGNORED) || name.is_empty() {
        return false;
    }
    if wd == scandir {
        name.first() != Some(&b'.')
    } else {
        name == b"log"
    }
}

/// Calls `f` with the watch, mask and name of each complete event in `buf`.
fn parse(buf: &[u8], mut f: impl FnMut(i32, u32, &[u8])) {
    let mut rest = buf;
    while rest.len() >= EVENT_HEADER {
        let word = |i: usize| [rest[i], rest[i + 1], rest[i + 2], rest[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let Some(name) = rest.get(EVENT_HEADER..EVENT_HEADER + len) else {
            return;
        };
        let name = name.split(|&b| b == 0).next().unwrap_or_default();
        f(wd, mask, name);
        rest = &rest[EVENT_HEADER + len..];
    }
}

impl Watch {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// When the scheduled scan is due.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.burst.map(|(_, due)| due)
    }

    /// Notes a change at `now`.
    fn changed(&mut self, now: Instant) {
        let first = self.burst.map_or(now, |(first, _)| first);
        self.burst = Some((first, (now + QUIET).min(first + MAX_DELAY)));
    }

    /// Reads every pending event; `Err` when the instance is broken. Never inlined: its 4 kB
    /// buffer would sit in the loop's frame, whose stack probes dirty it on every svscan,
    /// watching or not.
    #[inline(never)]
    fn read(&mut self, now: Instant) -> Result<(), Errno> {
        // Aligned as struct inotify_event; the kernel never splits an event across reads.
        #[repr(C, align(8))]
        struct Buf([u8; 4096]);
        let mut buf = Buf([0; 4096]);
        loop {
            match nix::unistd::read(&self.inotify, &mut buf.0) {
                Ok(0) | Err(Errno::EAGAIN) => return Ok(()),
                Ok(n) => {
                    let mut any = false;
                    parse(&buf.0[..n], |wd, mask, name| {
                        any |= relevant(self.scandir, wd, mask, name);
                    });
                    if any {
                        self.changed(now);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Watches service directory `name` (relative to the scan directory) for its `log`.
    fn add_service(&mut self, name: &CStr) {
        match self.inotify.add_watch(name, dir_mask()) {
            // Gone already, or not a directory any more: the next scan will tell.
            Ok(_) | Err(Errno::ENOENT | Errno::ENOTDIR) => {}
            Err(e) => {
                if !self.limited {
                    self.limited = true;
                    warn_sys(
                        &[
                            b"unable to watch ",
                            name.to_bytes(),
                            b" (and maybe others): a log directory appearing there needs a rescan",
                        ],
                        e,
                    );
                }
            }
        }
    }
}

impl Svscan {
    /// Reads the watch's events; schedules a scan if they matter. A broken instance is
    /// dropped with a warning (rescans only when asked from then on).
    pub fn handle_watch(&mut self, now: Instant) {
        let Some(watch) = &mut self.watch else { return };
        if let Err(e) = watch.read(now) {
            common::warn!(
                "unable to read inotify events: {}; rescanning only when asked",
                SysErr(e)
            );
            self.watch = None;
        }
    }

    /// Makes the scan that the watch scheduled due now, if its time has come.
    pub fn watch_due(&mut self, now: Instant) {
        if let Some(watch) = &mut self.watch
            && watch.deadline().is_some_and(|d| d <= now)
        {
            watch.burst = None;
            earliest(&mut self.scan_deadline, now);
        }
    }

    /// The scanner's hook: a service directory was registered.
    pub fn watch_service(&mut self, name: &CStr) {
        if let Some(watch) = &mut self.watch {
            watch.add_service(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(wd: i32, mask: AddWatchFlags, name: &[u8], padded: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&wd.to_ne_bytes());
        v.extend_from_slice(&mask.bits().to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&(padded as u32).to_ne_bytes());
        let mut n = name.to_vec();
        n.resize(padded, 0);
        v.extend_from_slice(&n);
        v
    }

    #[test]
    fn events_are_parsed_in_place_and_a_truncated_one_is_left() {
        let mut buf = event(1, AddWatchFlags::IN_CREATE, b"svc", 16);
        buf.extend(event(2, AddWatchFlags::IN_MOVED_TO, b"log", 16));
        buf.extend(event(-1, AddWatchFlags::IN_Q_OVERFLOW, b"", 0));
        let whole = buf.len();
        buf.extend(&event(3, AddWatchFlags::IN_CREATE, b"cut", 16)[..20]);
        let mut got = Vec::new();
        parse(&buf, |wd, mask, name| got.push((wd, mask, name.to_vec())));
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(
            got[0],
            (1, AddWatchFlags::IN_CREATE.bits(), b"svc".to_vec())
        );
        assert_eq!(got[1].2, b"log");
        assert_eq!(got[2].0, -1);
        assert!(whole < buf.len());
    }

    #[test]
    fn names_in_the_scan_dir_and_log_in_a_service_dir_matter_and_nothing_else() {
        let create = AddWatchFlags::IN_CREATE.bits();
        assert!(relevant(1, 1, create, b"svc"));
        assert!(!relevant(1, 1, create, b".s6-svscan"));
        assert!(relevant(1, 2, create, b"log"));
        assert!(!relevant(1, 2, create, b"supervise"));
        assert!(!relevant(1, 2, create, b"event"));
        assert!(!relevant(1, 2, AddWatchFlags::IN_IGNORED.bits(), b""));
        assert!(relevant(1, -1, AddWatchFlags::IN_Q_OVERFLOW.bits(), b""));
    }

    #[test]
    fn a_burst_is_scanned_quiet_after_its_last_event_and_no_later_than_max_after_its_first() {
        let mut w = open().expect("inotify");
        let t0 = Instant::now();
        w.changed(t0);
        assert_eq!(w.deadline(), Some(t0 + QUIET));
        w.changed(t0 + Duration::from_millis(10));
        assert_eq!(w.deadline(), Some(t0 + Duration::from_millis(10) + QUIET));
        w.changed(t0 + Duration::from_millis(45));
        assert_eq!(w.deadline(), Some(t0 + MAX_DELAY));
    }

    #[test]
    fn a_change_in_a_watched_directory_is_read_from_the_fd() {
        let dir = tempfile::tempdir().unwrap();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).unwrap();
        let wd = inotify.add_watch(dir.path(), dir_mask()).unwrap();
        let mut w = Watch {
            inotify,
            scandir: wd.as_raw(),
            burst: None,
            limited: false,
        };
        let now = Instant::now();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        w.read(now).unwrap();
        assert_eq!(w.deadline(), None, "dot-names are skipped");
        std::fs::create_dir(dir.path().join("svc")).unwrap();
        w.read(now).unwrap();
        assert_eq!(w.deadline(), Some(now + QUIET));
    }
}
