//! The scanner (spec, "The scanner"): reads the scan directory and brings the table in line
//! with it.
//!
//! A scan registers new directories (a service, and its `NAME/log` as the service's logger
//! with a pipe that svscan creates), renames known ones (identity is (dev, inode)), and at
//! the end of a *complete* scan turns "seen" into the active/inactive view and forgets
//! inactive entries with no supervisor. A failure abandons the scan and retries it on a
//! timer whose delay depends on the failure; the active/inactive view then stays as it was.
//!
//! # Fewer path lookups, same answers
//! C stats `NAME` and `NAME/log` for every entry on every scan, and nearly all of a rescan's
//! time is the kernel's path lookups. Ours reaches the same answers with fewer, by two proofs
//! that each fall back to the full check whenever their reasoning could break:
//!
//! - **`NAME/log` is as it was** when `NAME`'s change time (ctime) is the one recorded at the
//!   last full check: creating, removing or renaming `log` inside `NAME` changes it (POSIX),
//!   and nothing in user space can set it back. It is only trusted on local file systems
//!   whose times the kernel keeps ([`trusted_fs`]), recorded in whole seconds once it is 2 s
//!   old ([`settled`]: then any later change is stamped in a later second, even on a file
//!   system that keeps whole seconds, or one whose clock ticks coarsely), and never for a
//!   `log` that is a symlink (its target moves without touching `NAME`). What a
//!   mount on `NAME/log` changes touches no ctime: every proof is dropped when the mount
//!   table changes (`/proc/self/mountinfo` polls POLLPRI then; without it, nothing is
//!   trusted), and when the clock steps.
//! - **`NAME` is the known directory** when its directory entry (`getdents64`) is a directory
//!   with the inode number of an entry that holds its directory open (an `O_PATH` fd) and
//!   whose name was, at its last full check, a directory of the scan directory's own file
//!   system (not a symlink, not a mount point): inode numbers are unique on a file system
//!   while the inode lives, which the held fd guarantees, and a new mount there drops every
//!   proof. `fstat` on the held fd then gives what `stat(NAME)` would, without the lookup;
//!   and `log` is looked up from it, one component instead of two. So that a scan would
//!   fail as C's stats would, this needs search permission on the scan directory (checked
//!   once per scan). The held fds are a cache: at most a quarter of the fd limit, half of it
//!   with the pipes, and all given back when svscan needs a descriptor and has none.
//!
//! A steady rescan of a plain fleet then costs one `fstat` per service, and no lookup.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant, SystemTime};

use common::diag::{SysErr, warn_raw, warn_sys};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::{Resource, getrlimit};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, stat};
use nix::sys::statfs::{FsType, fstatfs, statfs};
use nix::unistd::{AccessFlags, faccessat, pipe2};

use common::svscan_socket::Why;

use crate::daemon::{Svscan, earliest};
use crate::table::{DevIno, Entry, LogSeen, Role, Slot};

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

/// Where the kernel says the mount table changed.
const MOUNTINFO: &CStr = c"/proc/self/mountinfo";
/// A clock step larger than this (realtime against monotonic, between two scans) drops
/// every proof. NTP slews far slower.
const CLOCK_STEP: Duration = Duration::from_secs(1);
/// How old a ctime must be to be recorded: more than a second (its recorded precision,
/// and that of file systems that keep whole seconds) plus the kernel's coarse clock tick.
const SETTLE: Duration = Duration::from_secs(2);
/// Descriptors kept free of held directories, besides the pipes.
const FD_RESERVE: u64 = 64;

/// What the scanner keeps between scans.
#[derive(Debug, Default)]
pub struct ScanState {
    /// Scratch buffer for `NAME/log`.
    log_name: Vec<u8>,
    /// `/proc/self/mountinfo`, polled once per scan.
    mounts: Option<OwnedFd>,
    /// Realtime minus monotonic (from `mono_base`) at the last scan, in ns.
    clock_offset: Option<i128>,
    mono_base: Option<Instant>,
    /// The soft fd limit, read at the first scan.
    fd_limit: Option<u64>,
    /// A descriptor was missing once: hold no more directories.
    no_dirs: bool,
}

/// What one scan knows throughout.
struct Pass {
    /// Realtime at the start of the scan, ns since 1970.
    t0: u128,
    /// Proofs recorded earlier may be used.
    use_proofs: bool,
    /// New proofs may be recorded.
    record_proofs: bool,
    /// The scan directory's device, when directory entries may identify known entries.
    plain_dev: Option<u32>,
    scandir_dev: Option<u32>,
    /// The scan directory's file system keeps trustworthy times.
    scandir_trusted: bool,
}

/// One record of `getdents64`.
struct Dirent<'a> {
    name: &'a CStr,
    ino: u64,
    dtype: u8,
}

/// A top-level entry identified by this scan.
struct Found {
    slot: Slot,
    created: bool,
    /// Its directory's ctime, whole seconds since 1970 (0: not representable).
    ctime: u32,
    /// Its file system keeps ctimes that may be trusted.
    trusted: bool,
}

/// What the lookups of `NAME/log` found.
struct LogStat {
    /// `None`: ENOENT (a dangling symlink included).
    st: Option<FileStat>,
    symlink: bool,
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn is_symlink(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

fn devino(st: &FileStat) -> Result<DevIno, Errno> {
    DevIno::new(st.st_dev, st.st_ino)
}

/// The change time of `st` in whole seconds since 1970; 0 (never trusted) for one before,
/// or after 2106.
fn ctime_secs(st: &FileStat) -> u32 {
    u32::try_from(st.st_ctime).unwrap_or(0)
}

/// File systems whose directory ctimes the local kernel keeps: changed on every entry
/// created, removed or renamed, from the local clock. Not network ones (the server's clock),
/// FUSE (anything), overlayfs (lower layers), FAT (no ctime).
fn trusted_fs(fs: FsType) -> bool {
    const F2FS: FsType = FsType(0xF2F5_2010);
    const RAMFS: FsType = FsType(0x8584_58f6);
    use nix::sys::statfs::{BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC};
    [
        EXT4_SUPER_MAGIC, // ext2 and ext3 too
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        TMPFS_MAGIC,
        F2FS,
        RAMFS,
    ]
    .contains(&fs)
}

/// Whether a ctime of `ctime` whole seconds can be told from any later change: at `t0`, the
/// start of the scan (ns since 1970), the second after it is over by more than a coarse
/// clock tick ([`SETTLE`]), so a change after the check is stamped in a later second.
fn settled(ctime: u32, t0: u128) -> bool {
    ctime != 0 && u128::from(ctime) * 1_000_000_000 + SETTLE.as_nanos() < t0
}

/// Whether the realtime clock was set between two scans, from realtime minus monotonic at
/// each (ns): a change stamped after a step back could carry a recorded stamp.
fn clock_stepped(last: i128, now: i128) -> bool {
    (now - last).unsigned_abs() > CLOCK_STEP.as_nanos()
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

/// `getdents64` records, read into a stack buffer (glibc's `opendir` allocates 32 kB, which
/// stays in the heap's dirty pages).
#[repr(C, align(8))]
struct DirentBuf([u8; 2048]);

/// Calls `f` with each record of `dir`, stopping at the first error `f` returns.
fn for_each_dirent<E>(
    dir: BorrowedFd<'_>,
    mut f: impl FnMut(&Dirent<'_>) -> Result<(), E>,
    readdir_error: impl Fn(Errno) -> E,
) -> Result<(), E> {
    let mut buf = DirentBuf([0; 2048]);
    loop {
        let n = match common::sys::getdents64(dir, &mut buf.0) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(readdir_error(e)),
        };
        let mut records = &buf.0[..n.min(buf.0.len())];
        // linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name (NUL-ended).
        while records.len() >= 19 {
            let reclen = usize::from(u16::from_ne_bytes([records[16], records[17]]));
            if reclen < 19 || reclen > records.len() {
                return Err(readdir_error(Errno::EIO));
            }
            let mut ino = [0u8; 8];
            ino.copy_from_slice(&records[..8]);
            if let Ok(name) = CStr::from_bytes_until_nul(&records[19..reclen]) {
                f(&Dirent {
                    name,
                    ino: u64::from_ne_bytes(ino),
                    dtype: records[18],
                })?;
            }
            records = &records[reclen..];
        }
    }
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
                let newly_active = e.seen() && !e.active() && e.pid().is_none();
                e.set_active(e.seen());
                // **fix**: C 2.12's sweep never ran (seed line 1326); upstream fixed it in
                // 2.15. An inactive entry with no supervisor is forgotten now.
                if !e.active() && e.pid().is_none() {
                    self.table.remove(slot);
                } else if newly_active && let Some(due) = self.table.next_start(slot) {
                    earliest(&mut self.start_deadline, due);
                }
            }
        }
        self.pending.delay_kills = false;
        self.scan_completed();
    }

    /// Runs `f`, and once more after giving back the held directories if it lacked a
    /// descriptor: they are a cache, never a reason for a scan to fail.
    fn with_fd<T>(&mut self, mut f: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
        match f() {
            Err(Errno::EMFILE | Errno::ENFILE) if self.table.dirs_held() > 0 => {
                self.table.drop_dirs();
                self.scan.no_dirs = true;
                f()
            }
            r => r,
        }
    }

    #[inline(never)]
    fn scan_dir(&mut self, now: Instant) -> Result<(), Abandon> {
        for (_, e) in self.table.entries_mut() {
            e.set_seen(false);
        }
        let dir = self
            .with_fd(|| {
                open(
                    ".",
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
            })
            .map_err(|e| {
                common::warn!("unable to opendir .: {}", SysErr(e));
                RETRY_DIR
            })?;
        let pass = self.begin_pass(dir.as_fd());
        let name_max = self.name_max;
        for_each_dirent(
            dir.as_fd(),
            |d| {
                let bytes = d.name.to_bytes();
                if bytes.first() == Some(&b'.') {
                    return Ok(());
                }
                if bytes.len() > name_max {
                    warn_raw(&[b"name too long - not spawning service: ", bytes]);
                    return Ok(());
                }
                self.scan_service(&pass, d, now)
            },
            |e| {
                common::warn!("unable to readdir .: {}", SysErr(e));
                RETRY_DIR
            },
        )
    }

    /// What this scan may trust: the clock and the mount table since the last scan, the
    /// scan directory's device, file system and search permission, the fd budget.
    fn begin_pass(&mut self, dir: BorrowedFd<'_>) -> Pass {
        let t0 = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let base = *self.scan.mono_base.get_or_insert_with(Instant::now);
        let mono = i128::try_from(base.elapsed().as_nanos()).unwrap_or(i128::MAX);
        let offset = i128::try_from(t0).unwrap_or(i128::MAX) - mono;
        if let Some(last) = self.scan.clock_offset.replace(offset)
            && clock_stepped(last, offset)
        {
            self.table.drop_proofs();
        }
        let (use_proofs, record_proofs) = self.poll_mounts();
        let scandir = fstat(dir).ok();
        let scandir_dev = scandir.and_then(|st| devino(&st).ok()).map(|d| d.dev);
        let scandir_trusted =
            record_proofs && fstatfs(dir).is_ok_and(|fs| trusted_fs(fs.filesystem_type()));
        let searchable =
            || faccessat(dir, ".", AccessFlags::X_OK, nix::fcntl::AtFlags::AT_EACCESS).is_ok();
        let plain_dev = scandir_dev.filter(|_| use_proofs && searchable());
        Pass {
            t0,
            use_proofs,
            record_proofs,
            plain_dev,
            scandir_dev,
            scandir_trusted,
        }
    }

    /// Polls the mount table: (proofs may be used, proofs may be recorded). A change, or a
    /// watch just opened, drops every proof recorded before.
    fn poll_mounts(&mut self) -> (bool, bool) {
        let Some(mounts) = &self.scan.mounts else {
            // Not there (no /proc yet, as PID 1 early in boot): retried at every scan.
            // No proof was recorded without a watch: nothing to drop.
            self.scan.mounts =
                open(MOUNTINFO, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).ok();
            return (false, self.scan.mounts.is_some());
        };
        let mut fds = [PollFd::new(mounts.as_fd(), PollFlags::POLLPRI)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => {
                let revents = fds[0].revents().unwrap_or(PollFlags::empty());
                if revents.intersects(PollFlags::POLLPRI | PollFlags::POLLERR) {
                    self.table.drop_proofs();
                    (false, true)
                } else {
                    (true, true)
                }
            }
            Err(_) => {
                self.scan.mounts = None;
                self.table.drop_proofs();
                (false, false)
            }
        }
    }

    /// Whether one more directory may be held: a quarter of the soft fd limit at most, and
    /// with the pipes' ends, half of it.
    fn may_hold_dir(&mut self) -> bool {
        if self.scan.no_dirs {
            return false;
        }
        let limit = *self
            .scan
            .fd_limit
            .get_or_insert_with(|| getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft));
        let held = self.table.dirs_held() as u64;
        let pipes = self.table.pipe_ends() as u64;
        held < limit / 4 && held + pipes + FD_RESERVE < limit / 2
    }

    /// One top-level entry of the scan directory, then its `NAME/log`.
    fn scan_service(&mut self, pass: &Pass, d: &Dirent<'_>, now: Instant) -> Result<(), Abandon> {
        let checked = self.check_service(pass, d, now);
        let Some(found) = checked.inspect_err(|_| self.scan_stopped_at(d.name.to_bytes()))? else {
            return Ok(());
        };
        let mut log_name = std::mem::take(&mut self.scan.log_name);
        log_name.clear();
        log_name.extend_from_slice(d.name.to_bytes());
        log_name.extend_from_slice(b"/log\0");
        let log = CStr::from_bytes_with_nul(&log_name).unwrap_or_default();
        let proven = !found.created
            && pass.use_proofs
            && self.apply_proof(found.slot, found.ctime, log.to_bytes());
        let checked = if proven {
            Ok(())
        } else {
            self.check_logger(found.slot, log, now).map(|seen| {
                let trusted = found.trusted && pass.record_proofs;
                let stamp = if trusted && settled(found.ctime, pass.t0) {
                    found.ctime
                } else {
                    0
                };
                if let Some(e) = self.table.get_mut(found.slot) {
                    e.set_proof(stamp, seen);
                }
            })
        };
        if checked.is_err() {
            self.scan_stopped_at(&log_name);
        }
        self.scan.log_name = log_name;
        if checked.is_err() && found.created {
            // **fix**: C 2.12 (seed lines 1307-1312) freed NAME's slot even when NAME was
            // live, and retried at once in a busy loop. Roll back only what this scan made.
            self.table.remove(found.slot);
        }
        checked
    }

    /// What the last full check of `slot`'s `NAME/log` found still holds if `NAME`'s ctime is
    /// the one recorded then and the table agrees with it: applies it (the logger is seen,
    /// and renamed `NAME/log`) and says so.
    fn apply_proof(&mut self, slot: Slot, ctime: u32, log_name: &[u8]) -> bool {
        let Some(e) = self.table.get(slot) else {
            return false;
        };
        let Some((stamp, log)) = e.proof() else {
            return false;
        };
        if stamp != ctime {
            return false;
        }
        match log {
            LogSeen::Absent => e.role().is_none(),
            LogSeen::NotDir => true,
            LogSeen::Paired => {
                let logger = e.peer().filter(|_| e.role() == Some(Role::Service));
                let Some(logger) = logger.filter(|&l| {
                    self.table
                        .get(l)
                        .is_some_and(|l| l.peer() == Some(slot) && l.role() == Some(Role::Logger))
                }) else {
                    return false;
                };
                if let Some(l) = self.table.get_mut(logger) {
                    l.set_seen(true);
                }
                self.table.set_name(logger, log_name);
                true
            }
            LogSeen::Unknown => false,
        }
    }

    /// Checks a top-level name: `None` if it is not a directory, else its slot, whether this
    /// scan created it and its ctime.
    fn check_service(
        &mut self,
        pass: &Pass,
        d: &Dirent<'_>,
        now: Instant,
    ) -> Result<Option<Found>, Abandon> {
        let bytes = d.name.to_bytes();
        if let Some(found) = self.known_plain(pass, d) {
            return Ok(Some(found));
        }
        let (st, held) = self.stat_service(d)?;
        if !is_dir(&st) {
            return Ok(None);
        }
        let id = devino(&st).map_err(|e| {
            warn_stat(bytes, e);
            RETRY_STAT
        })?;
        let plain =
            d.dtype == nix::libc::DT_DIR && pass.scandir_dev == Some(id.dev) && st.st_ino == d.ino;
        let trusted = self.trusted(pass, id.dev, d.name);
        let found = |slot, created| Found {
            slot,
            created,
            ctime: ctime_secs(&st),
            trusted,
        };
        if let Some(slot) = self.table.find_devino(id) {
            if let Some(e) = self.table.get_mut(slot) {
                e.set_seen(true);
            }
            self.table.set_name(slot, bytes);
            if held.is_some() {
                self.table.set_dir(slot, held.filter(|_| plain), plain);
            } else if d.dtype == nix::libc::DT_DIR {
                // Its own directory entry, looked up: whether it is a mount point now.
                self.table.set_plain(slot, plain);
            }
            return Ok(Some(found(slot, false)));
        }
        let mut entry = Entry::new(id);
        entry.set_seen(true);
        let special = bytes == SPECIAL_LOGGER;
        entry.set_special(special);
        let slot = self.table.insert(entry, bytes, now).map_err(|_| {
            warn_too_many(bytes);
            RETRY_TOO_MANY
        })?;
        self.table.set_dir(slot, held.filter(|_| plain), plain);
        self.special_created |= special;
        self.watch_service(d.name);
        earliest(&mut self.start_deadline, now);
        Ok(Some(found(slot, true)))
    }

    /// A known entry identified by its directory entry alone (see the module doc), with the
    /// `fstat` of its held directory.
    fn known_plain(&mut self, pass: &Pass, d: &Dirent<'_>) -> Option<Found> {
        let dev = pass.plain_dev?;
        if d.dtype != nix::libc::DT_DIR {
            return None;
        }
        let slot = self.table.find_devino(DevIno { dev, ino: d.ino })?;
        let e = self.table.get(slot).filter(|e| e.plain())?;
        let st = fstat(e.dir()?).ok().filter(is_dir)?;
        if let Some(e) = self.table.get_mut(slot) {
            e.set_seen(true);
        }
        self.table.set_name(slot, d.name.to_bytes());
        Some(Found {
            slot,
            created: false,
            ctime: ctime_secs(&st),
            trusted: pass.scandir_trusted,
        })
    }

    /// `stat(NAME)`, or for a directory entry that is a directory, an `O_PATH` open that it
    /// may be held by (then `fstat`): the same lookup, the same answer.
    fn stat_service(&mut self, d: &Dirent<'_>) -> Result<(FileStat, Option<OwnedFd>), Abandon> {
        let name = d.name;
        let fail = |e| {
            warn_stat(name.to_bytes(), e);
            RETRY_STAT
        };
        if d.dtype == nix::libc::DT_DIR && self.may_hold_dir() {
            match open(name, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()) {
                Ok(fd) => return fstat(&fd).map(|st| (st, Some(fd))).map_err(fail),
                // No descriptor to spare: the plain stat below.
                Err(Errno::EMFILE | Errno::ENFILE) => self.scan.no_dirs = true,
                Err(e) => return Err(fail(e)),
            }
        }
        stat(name).map(|st| (st, None)).map_err(fail)
    }

    /// Whether `NAME`'s file system keeps ctimes that may be trusted (only asked when
    /// proofs may be recorded).
    fn trusted(&self, pass: &Pass, dev: u32, name: &CStr) -> bool {
        if !pass.record_proofs {
            return false;
        }
        if pass.scandir_dev == Some(dev) {
            pass.scandir_trusted
        } else {
            // A symlink or a mount point to another file system: one more lookup, at full
            // checks only.
            statfs(name).is_ok_and(|fs| trusted_fs(fs.filesystem_type()))
        }
    }

    /// `NAME/log`, as `stat` sees it, with whether it is a symlink: from the held directory
    /// of `service` if it has one.
    fn stat_log(&self, service: Slot, log_name: &CStr) -> Result<LogStat, Errno> {
        let dir = self.table.get(service).and_then(Entry::dir);
        let (at, path) = match dir {
            Some(dir) => (dir, c"log"),
            None => (AT_FDCWD, log_name),
        };
        let nofollow = nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
        match fstatat(at, path, nofollow) {
            Ok(st) if is_symlink(&st) => match fstatat(at, path, nix::fcntl::AtFlags::empty()) {
                Ok(st) => Ok(LogStat {
                    st: Some(st),
                    symlink: true,
                }),
                Err(Errno::ENOENT) => Ok(LogStat {
                    st: None,
                    symlink: true,
                }),
                Err(e) => Err(e),
            },
            Ok(st) => Ok(LogStat {
                st: Some(st),
                symlink: false,
            }),
            Err(Errno::ENOENT) => Ok(LogStat {
                st: None,
                symlink: false,
            }),
            Err(e) => Err(e),
        }
    }

    /// Checks `NAME/log` as the logger of `service`, and says what it found (for the proof).
    fn check_logger(
        &mut self,
        service: Slot,
        name: &CStr,
        now: Instant,
    ) -> Result<LogSeen, Abandon> {
        let bytes = name.to_bytes();
        let found = self.stat_log(service, name).map_err(|e| {
            warn_stat(bytes, e);
            RETRY_STAT
        })?;
        let trust = |seen| {
            if found.symlink {
                LogSeen::Unknown
            } else {
                seen
            }
        };
        let Some(st) = found.st else {
            if let Some(e) = self.table.get(service)
                && e.role().is_some()
            {
                if e.role() == Some(Role::Service) {
                    let name = self.table.name_bytes(service);
                    warn_raw(&[b"logger for service ", name, b" has been moved"]);
                }
                return Ok(LogSeen::Unknown);
            }
            return Ok(trust(LogSeen::Absent));
        };
        if !is_dir(&st) {
            return Ok(trust(LogSeen::NotDir));
        }
        let id = devino(&st).map_err(|e| {
            warn_stat(bytes, e);
            RETRY_STAT
        })?;
        if let Some(slot) = self.table.find_devino(id) {
            let Some(e) = self.table.get_mut(slot) else {
                return Ok(LogSeen::Unknown);
            };
            if e.peer().is_some_and(|peer| peer != service) {
                warn_raw(&[b"old service ", bytes, b" still exists, waiting"]);
                return Err(RETRY_OLD_SERVICE);
            }
            // Its logger already, or an unpaired service moved under NAME/log (no pipe, as C).
            e.set_seen(true);
            let own = e.peer() == Some(service);
            self.table.set_name(slot, bytes);
            return Ok(trust(if own {
                LogSeen::Paired
            } else {
                LogSeen::Unknown
            }));
        }
        let mut entry = Entry::new(id);
        entry.set_seen(true);
        let logger = self.table.insert(entry, bytes, now).map_err(|_| {
            warn_too_many(bytes);
            RETRY_TOO_MANY
        })?;
        let (read, write) = match self.with_fd(|| pipe2(OFlag::O_CLOEXEC)) {
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
        Ok(trust(LogSeen::Paired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_with_ctime(secs: i64) -> FileStat {
        let mut st = stat(".").unwrap();
        st.st_ctime = secs;
        st
    }

    #[test]
    fn a_ctime_is_trusted_only_once_its_second_is_well_over() {
        let t0 = 1_000 * 1_000_000_000u128;
        // Stamped in second 999: a change at 999.9 s would carry the same stamp on a file
        // system that keeps whole seconds, or in the same coarse tick.
        assert!(!settled(999, t0));
        // Second 998 ended 1 s before t0: not yet more than the margin.
        assert!(!settled(998, t0 - 1));
        assert!(settled(997, t0));
        // In the future (a skewed clock) or unknown: never.
        assert!(!settled(1_001, t0));
        assert!(!settled(0, t0));
    }

    #[test]
    fn a_clock_step_either_way_is_seen_and_a_slew_is_not() {
        let offset = 1_700_000_000_000_000_000i128;
        assert!(!clock_stepped(offset, offset + 5_000_000), "5 ms of slew");
        assert!(
            clock_stepped(offset, offset - 3_600_000_000_000),
            "an hour back"
        );
        assert!(clock_stepped(offset, offset + 2_000_000_000), "2 s forward");
    }

    #[test]
    fn a_time_before_1970_or_after_2106_is_no_stamp() {
        assert_eq!(ctime_secs(&stat_with_ctime(-5)), 0);
        assert_eq!(ctime_secs(&stat_with_ctime(1 << 33)), 0);
        assert_eq!(ctime_secs(&stat_with_ctime(1_700_000_000)), 1_700_000_000);
    }

    #[test]
    fn only_local_file_systems_keep_trusted_times() {
        use nix::sys::statfs::{EXT4_SUPER_MAGIC, NFS_SUPER_MAGIC, TMPFS_MAGIC};
        assert!(trusted_fs(EXT4_SUPER_MAGIC) && trusted_fs(TMPFS_MAGIC));
        assert!(!trusted_fs(NFS_SUPER_MAGIC));
        assert!(!trusted_fs(FsType(0x6573_5546))); // FUSE
        assert!(!trusted_fs(FsType(0x794c_7630))); // overlayfs
        assert!(!trusted_fs(FsType(0x4d44))); // FAT
    }

    #[test]
    fn directory_records_give_every_name_with_its_inode_and_type() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        std::os::unix::fs::symlink("d", dir.path().join("l")).unwrap();
        for i in 0..300 {
            // Enough records to take several reads of the 4 kB buffer.
            std::fs::create_dir(dir.path().join(format!("many-{i:03}-{}", "x".repeat(40))))
                .unwrap();
        }
        let fd = open(
            dir.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        let mut seen = Vec::new();
        for_each_dirent(
            fd.as_fd(),
            |d| {
                seen.push((d.name.to_str().unwrap().to_owned(), d.ino, d.dtype));
                Ok::<(), Errno>(())
            },
            |e| e,
        )
        .unwrap();
        assert_eq!(
            seen.len(),
            2 + 3 + 300,
            "every record once, . and .. included"
        );
        let get = |n: &str| seen.iter().find(|s| s.0 == n).unwrap();
        let ino = |n: &str| stat(&dir.path().join(n)).unwrap().st_ino;
        assert_eq!((get("d").1, get("d").2), (ino("d"), nix::libc::DT_DIR));
        assert_eq!(get("f").2, nix::libc::DT_REG);
        assert_eq!(get("l").2, nix::libc::DT_LNK);
    }
}
