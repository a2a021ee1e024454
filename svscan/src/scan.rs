//! The scanner (spec, "The scanner"): reads the scan directory and brings the table in line
//! with it.
//!
//! A scan registers new directories (a service, and its `NAME/log` as the service's logger
//! with a pipe that svscan creates), renames known ones (identity is (dev, inode)), and at
//! the end of a *complete* scan turns "seen" into the active/inactive view and forgets
//! inactive entries with no supervisor. A failure abandons the scan and retries it on a
//! timer whose delay depends on the failure; the active/inactive view then stays as it was.

use std::ffi::CStr;
use std::time::{Duration, Instant};

use common::diag::{SysErr, warn_raw, warn_sys};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode, SFlag, stat};
use nix::unistd::pipe2;

use common::svscan_socket::Why;

use crate::daemon::{Svscan, earliest};
use crate::table::{DevIno, Entry, Role, Slot};

/// The name of the catch-all logger's service directory.
pub const SPECIAL_LOGGER: &[u8] = b"s6-svscan-log";

/// Why a scan stopped; retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Abandon(Duration);

const RETRY_DIR: Abandon = Abandon(Duration::from_secs(5));
const RETRY_STAT: Abandon = Abandon(Duration::from_secs(4));
const RETRY_OLD_SERVICE: Abandon = Abandon(Duration::from_secs(10));
const RETRY_TOO_MANY: Abandon = Abandon(Duration::from_secs(60));
const RETRY_PIPE: Abandon = Abandon(Duration::from_secs(3));

impl Abandon {
    /// What `svscanctl -l` says of the name the scan stopped at.
    fn why(self) -> Why {
        match self {
            RETRY_DIR => Why::ScanDirFailed,
            RETRY_OLD_SERVICE => Why::OldLogger,
            RETRY_TOO_MANY => Why::TooManyServices,
            RETRY_PIPE => Why::PipeFailed,
            _ => Why::StatFailed,
        }
    }
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn devino(st: &FileStat) -> DevIno {
    DevIno {
        dev: st.st_dev,
        ino: st.st_ino,
    }
}

/// `PROG: warning: unable to stat NAME: ERR`.
fn warn_stat(name: &[u8], e: Errno) {
    warn_sys(&[b"unable to stat ", name], e);
}

fn warn_too_many(name: &[u8]) {
    warn_raw(&[
        b"unable to start supervisor for ",
        name,
        b": too many services",
    ]);
}

impl Svscan {
    /// Scans now: sets the next periodic scan, reads the directory, and on success updates
    /// the view, forgets dead inactive entries and releases held-back kills.
    pub fn scan(&mut self, now: Instant) {
        self.scan_deadline = self.rescan.map(|every| now + every);
        if let Err(abandon) = self.scan_dir(now) {
            self.scan_abandoned(abandon.why());
            earliest(&mut self.scan_deadline, now + abandon.0);
            return;
        }
        for slot in self.table.slot_range() {
            if let Some(e) = self.table.get_mut(slot) {
                // **fix**: an entry registered by an abandoned scan becomes active only now,
                // after the start pass its creation armed (C never starts it: seed line
                // 1221). Only entries newly active, so that a failed spawn's 10 s wait is
                // not cut short by every scan.
                if e.seen && !e.active && e.pid.is_none() {
                    earliest(&mut self.start_deadline, e.next_start);
                }
                e.active = e.seen;
                // **fix**: C 2.12's sweep never ran (seed line 1326); upstream fixed it in
                // 2.15. An inactive entry with no supervisor is forgotten now.
                if !e.active && e.pid.is_none() {
                    self.table.remove(slot);
                }
            }
        }
        self.pending.delay_kills = false;
        self.scan_completed();
    }

    fn scan_dir(&mut self, now: Instant) -> Result<(), Abandon> {
        for (_, e) in self.table.entries_mut() {
            e.seen = false;
        }
        let mut dir = Dir::open(
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            common::warn!("unable to opendir .: {}", SysErr(e));
            RETRY_DIR
        })?;
        for item in dir.iter() {
            let item = item.map_err(|e| {
                common::warn!("unable to readdir .: {}", SysErr(e));
                RETRY_DIR
            })?;
            let name = item.file_name();
            let bytes = name.to_bytes();
            if bytes.first() == Some(&b'.') {
                continue;
            }
            if bytes.len() > self.name_max {
                warn_raw(&[b"name too long - not spawning service: ", bytes]);
                continue;
            }
            self.scan_service(name, now)?;
        }
        Ok(())
    }

    /// One top-level entry of the scan directory, then its `NAME/log`.
    fn scan_service(&mut self, name: &CStr, now: Instant) -> Result<(), Abandon> {
        let checked = self.check_service(name, now);
        let Some((service, created)) =
            checked.inspect_err(|_| self.scan_stopped_at(name.to_bytes()))?
        else {
            return Ok(());
        };
        self.log_name.clear();
        self.log_name.extend_from_slice(name.to_bytes());
        self.log_name.extend_from_slice(b"/log\0");
        let log_name = std::mem::take(&mut self.log_name);
        let checked = CStr::from_bytes_with_nul(&log_name)
            .map_err(|_| RETRY_STAT)
            .and_then(|log| self.check_logger(service, log, now))
            .inspect_err(|_| self.scan_stopped_at(&log_name));
        self.log_name = log_name;
        if checked.is_err() && created {
            // **fix**: C 2.12 (seed lines 1307-1312) freed NAME's slot even when NAME was
            // live, and retried at once in a busy loop. Roll back only what this scan made.
            self.table.remove(service);
        }
        checked
    }

    /// Checks a top-level name: `None` if it is not a directory, else its slot and whether
    /// this scan created it.
    fn check_service(
        &mut self,
        name: &CStr,
        now: Instant,
    ) -> Result<Option<(Slot, bool)>, Abandon> {
        let bytes = name.to_bytes();
        let st = stat(name).map_err(|e| {
            warn_stat(bytes, e);
            RETRY_STAT
        })?;
        if !is_dir(&st) {
            return Ok(None);
        }
        if let Some(slot) = self.table.find_devino(devino(&st)) {
            if let Some(e) = self.table.get_mut(slot) {
                e.seen = true;
            }
            self.table.set_name(slot, bytes);
            return Ok(Some((slot, false)));
        }
        let mut entry = Entry::new(devino(&st), now);
        entry.seen = true;
        entry.special = bytes == SPECIAL_LOGGER;
        let special = entry.special;
        let slot = self.table.insert(entry, bytes).map_err(|_| {
            warn_too_many(bytes);
            RETRY_TOO_MANY
        })?;
        self.special_created |= special;
        self.watch_service(name);
        earliest(&mut self.start_deadline, now);
        Ok(Some((slot, true)))
    }

    /// Checks `NAME/log` as the logger of `service`.
    fn check_logger(&mut self, service: Slot, name: &CStr, now: Instant) -> Result<(), Abandon> {
        let bytes = name.to_bytes();
        let st = match stat(name) {
            Ok(st) => st,
            Err(Errno::ENOENT) => {
                if let Some(e) = self.table.get(service)
                    && e.role() == Some(Role::Service)
                {
                    let name = self.table.name_bytes(service);
                    warn_raw(&[b"logger for service ", name, b" has been moved"]);
                }
                return Ok(());
            }
            Err(e) => {
                warn_stat(bytes, e);
                return Err(RETRY_STAT);
            }
        };
        if !is_dir(&st) {
            return Ok(());
        }
        if let Some(slot) = self.table.find_devino(devino(&st)) {
            let Some(e) = self.table.get_mut(slot) else {
                return Ok(());
            };
            if e.peer().is_some_and(|peer| peer != service) {
                warn_raw(&[b"old service ", bytes, b" still exists, waiting"]);
                return Err(RETRY_OLD_SERVICE);
            }
            // Its logger already, or an unpaired service moved under NAME/log (no pipe, as C).
            e.seen = true;
            self.table.set_name(slot, bytes);
            return Ok(());
        }
        let mut entry = Entry::new(devino(&st), now);
        entry.seen = true;
        let logger = self.table.insert(entry, bytes).map_err(|_| {
            warn_too_many(bytes);
            RETRY_TOO_MANY
        })?;
        let (read, write) = match pipe2(OFlag::O_CLOEXEC) {
            Ok(ends) => ends,
            Err(e) => {
                self.table.remove(logger);
                warn_sys(&[b"unable to create pipe for ", bytes], e);
                return Err(RETRY_PIPE);
            }
        };
        // **fix**: a replaced log dir. C leaked the old write end and later closed the new
        // pipe when the old logger was reaped; the old pair is broken here instead. A running
        // service keeps its old fd 1 until its next start.
        self.table.unpair(service);
        self.table.pair(service, logger, read, write);
        earliest(&mut self.start_deadline, now);
        Ok(())
    }
}
