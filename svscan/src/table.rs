//! The service table: one entry per supervised directory (a service or a logger), in an
//! index-addressed slab with lookups by (dev, inode) and by supervisor pid.
//!
//! It grows with the load (never sized from `-C` up front) and reuses freed slots, most
//! recently freed first, as C's genset does. Nothing here allocates once the load is steady:
//! a respawn cycle removes and re-inserts a pid in an index that already has the room.
//!
//! An entry is what the memory rows of the benchmark count, so it is packed into 40 bytes
//! (a boolean field each and `Instant`s would make it 80): its name is an offset into one
//! shared store of NUL-terminated names, its start time is milliseconds from the table's
//! epoch (32 bits: the epoch moves forward before they would overflow, see
//! [`Table::ticks`]), the directory's recorded ctime whole seconds, no pid is 0, and the
//! flags share a word with the peer's slot number (slots are below 2^18, since `-C` is at
//! most 160000). With the two indexes ([`SlotIndex`], 4 bytes a bucket) and the name, an
//! entry costs about 55 bytes.

use std::ffi::CStr;
use std::num::NonZeroU32;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::index::{SlotIndex, mix};

/// A slot number in the table.
pub type Slot = u32;

/// The most entries a table may hold (`-C`'s ceiling): slot numbers fit in [`PEER_BITS`].
pub const MAX_ENTRIES: usize = 160_000;

/// What identifies a service directory: renaming it keeps its supervisor.
///
/// `dev` is 32 bits: Linux's `dev_t` is (12-bit major, 20-bit minor) and the C library's
/// 64-bit `st_dev` holds its encoding, which always fits; [`DevIno::new`] refuses one that
/// does not (EOVERFLOW) rather than folding two devices into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevIno {
    pub dev: u32,
    pub ino: u64,
}

impl DevIno {
    /// # Errors
    /// EOVERFLOW if `dev` does not fit in 32 bits (not on Linux).
    pub fn new(dev: u64, ino: u64) -> Result<Self, Errno> {
        let dev = u32::try_from(dev).map_err(|_| Errno::EOVERFLOW)?;
        Ok(DevIno { dev, ino })
    }
}

/// An entry's side of a logged pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Writes into the pipe: gets the write end as fd 1.
    Service,
    /// Reads the pipe: gets the read end as fd 0.
    Logger,
}

/// What the last full check of `NAME/log` found, for a top-level entry (see `scan.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSeen {
    /// Not known (never checked, a symlink, or an outcome that is always checked again).
    Unknown,
    /// ENOENT, and the entry had no logger.
    Absent,
    /// Not a directory.
    NotDir,
    /// The entry's own logger, paired with it.
    Paired,
}

const PEER_BITS: u32 = 18;
const PEER_MASK: u32 = (1 << PEER_BITS) - 1;
const ACTIVE: u32 = 1 << 18;
const SEEN: u32 = 1 << 19;
const SPECIAL: u32 = 1 << 20;
/// The name has a `/`.
const SLASH: u32 = 1 << 21;
const LINKED: u32 = 1 << 22;
/// In a pair, the reading side.
const LOGGER: u32 = 1 << 23;
/// The scan may identify the entry by the inode number of its directory entry.
const PLAIN: u32 = 1 << 24;
const LOG_SHIFT: u32 = 25;
const LOG_MASK: u32 = 3 << LOG_SHIFT;

/// The table's first epoch: a day before it is made, so that a time given just before (as a
/// test does) is kept as it is rather than rounded up to the epoch; less on a clock that
/// cannot go back that far.
fn epoch_before(now: Instant) -> Instant {
    [86_400, 3_600, 60, 1]
        .into_iter()
        .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
        .unwrap_or(now)
}

/// A supervised directory.
#[derive(Debug)]
pub struct Entry {
    ino: u64,
    /// The earliest time the supervisor may be (re)started, in the table's ticks: creation
    /// time, then 1 s after each start.
    next_start: u32,
    /// The change time of the directory (whole seconds since 1970) at the last full check
    /// that may be trusted later, 0 if none (see `scan.rs`).
    stamp: u32,
    dev: u32,
    /// The live supervisor's pid, 0 if none.
    pid: i32,
    /// Where the name is in the table's name store, which begins with an empty name so that
    /// no offset is 0: `Option<Entry>` uses that for `None` (the fds' niches are taken by
    /// their own `Option`s), and stays 48 bytes.
    name: NonZeroU32,
    /// The peer's slot (low bits) and the flags.
    bits: u32,
    /// The pipe end that svscan holds for this side of a pair.
    end: Option<OwnedFd>,
    /// The directory itself (an O_PATH descriptor), held so that a rescan can check it
    /// without a path lookup.
    dir: Option<OwnedFd>,
}

impl Entry {
    /// A new entry; [`Table::insert`] names it and says when it is due to start.
    #[must_use]
    pub fn new(devino: DevIno) -> Self {
        Entry {
            ino: devino.ino,
            next_start: 0,
            stamp: 0,
            dev: devino.dev,
            pid: 0,
            name: NonZeroU32::MIN,
            bits: 0,
            end: None,
            dir: None,
        }
    }

    fn flag(&self, f: u32) -> bool {
        self.bits & f != 0
    }

    fn set_flag(&mut self, f: u32, on: bool) {
        if on {
            self.bits |= f;
        } else {
            self.bits &= !f;
        }
    }

    #[must_use]
    pub fn devino(&self) -> DevIno {
        DevIno {
            dev: self.dev,
            ino: self.ino,
        }
    }

    /// The live supervisor, if any.
    #[must_use]
    pub fn pid(&self) -> Option<Pid> {
        (self.pid != 0).then(|| Pid::from_raw(self.pid))
    }

    /// Seen by the last complete scan.
    #[must_use]
    pub fn active(&self) -> bool {
        self.flag(ACTIVE)
    }

    pub fn set_active(&mut self, on: bool) {
        self.set_flag(ACTIVE, on);
    }

    /// Seen by the scan in progress.
    #[must_use]
    pub fn seen(&self) -> bool {
        self.flag(SEEN)
    }

    pub fn set_seen(&mut self, on: bool) {
        self.set_flag(SEEN, on);
    }

    /// Created under the top-level name `s6-svscan-log`: the catch-all logger.
    #[must_use]
    pub fn special(&self) -> bool {
        self.flag(SPECIAL)
    }

    pub fn set_special(&mut self, on: bool) {
        self.set_flag(SPECIAL, on);
    }

    /// A logger for the killer: its name has a `/`, or it is the catch-all logger.
    #[must_use]
    pub fn is_logger(&self) -> bool {
        self.flag(SPECIAL | SLASH)
    }

    /// The role in a logged pair, if paired.
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        self.flag(LINKED).then(|| {
            if self.flag(LOGGER) {
                Role::Logger
            } else {
                Role::Service
            }
        })
    }

    /// The peer in a logged pair, if paired.
    #[must_use]
    pub fn peer(&self) -> Option<Slot> {
        self.flag(LINKED).then_some(self.bits & PEER_MASK)
    }

    /// The pipe end svscan holds for this side of a pair.
    #[must_use]
    pub fn pipe_end(&self) -> Option<BorrowedFd<'_>> {
        self.end.as_ref().map(AsFd::as_fd)
    }

    /// The held directory descriptor, if any.
    #[must_use]
    pub fn dir(&self) -> Option<BorrowedFd<'_>> {
        self.dir.as_ref().map(AsFd::as_fd)
    }

    /// Holds `dir` (or none) as this entry's directory, and says whether the scan may
    /// identify the entry by the inode number of its name (only the table calls it, which
    /// counts the held directories).
    fn set_dir(&mut self, dir: Option<OwnedFd>, plain: bool) {
        self.set_flag(PLAIN, plain && dir.is_some());
        self.dir = dir;
    }

    /// Whether the scan may identify the entry by the inode number of its name (it holds
    /// the directory, and its name was a directory on the scan directory's own file system).
    #[must_use]
    pub fn plain(&self) -> bool {
        self.flag(PLAIN)
    }

    /// The directory's change time at the last trusted full check, and what that check found
    /// of `NAME/log`.
    #[must_use]
    pub fn proof(&self) -> Option<(u32, LogSeen)> {
        let log = match (self.bits & LOG_MASK) >> LOG_SHIFT {
            1 => LogSeen::Absent,
            2 => LogSeen::NotDir,
            3 => LogSeen::Paired,
            _ => LogSeen::Unknown,
        };
        (self.stamp != 0 && log != LogSeen::Unknown).then_some((self.stamp, log))
    }

    /// Records what a full check found (a `stamp` of 0 or [`LogSeen::Unknown`]: nothing to
    /// trust).
    pub fn set_proof(&mut self, stamp: u32, log: LogSeen) {
        let code = match log {
            LogSeen::Unknown => 0,
            LogSeen::Absent => 1,
            LogSeen::NotDir => 2,
            LogSeen::Paired => 3,
        };
        self.stamp = stamp;
        self.bits = (self.bits & !LOG_MASK) | (code << LOG_SHIFT);
    }
}

fn devino_hash(d: DevIno) -> u64 {
    mix(d.ino ^ mix(u64::from(d.dev)))
}

fn pid_hash(pid: Pid) -> u64 {
    mix(u64::from(pid.as_raw().unsigned_abs()))
}

/// The table is full (`-C`).
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// The slab of entries and its two indexes.
#[derive(Debug)]
pub struct Table {
    slots: Vec<Option<Entry>>,
    free: Vec<Slot>,
    len: usize,
    max: usize,
    by_devino: SlotIndex,
    by_pid: SlotIndex,
    /// Every entry's name, NUL-terminated, one after the other: a few bytes an entry where a
    /// boxed name would cost a pointer and a 32-byte heap block.
    names: Vec<u8>,
    /// Bytes of `names` that no entry refers to any more (renames and removals).
    names_garbage: usize,
    /// How many entries hold their directory.
    dirs: usize,
    /// How many pipe ends the entries hold.
    ends: usize,
    /// What the entries' start times count from.
    epoch: Instant,
}

impl Table {
    /// An empty table that will hold at most `max` entries (at most [`MAX_ENTRIES`]).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            max: max.min(MAX_ENTRIES),
            by_devino: SlotIndex::default(),
            by_pid: SlotIndex::default(),
            names: Vec::new(),
            names_garbage: 0,
            dirs: 0,
            ends: 0,
            epoch: epoch_before(Instant::now()),
        }
    }

    /// `at` in ticks: whole milliseconds from the epoch, rounded up (`up`: a throttle is
    /// never over early) or down (a creation time: due now is due), 0 for a time before it.
    /// One that would not fit in 32 bits (the epoch 49 days old) first moves the epoch to a
    /// day before `at`: every time stored is then long past and becomes 0, which means the
    /// same, "due".
    fn ticks(&mut self, at: Instant, up: bool) -> u32 {
        let ms = |epoch: Instant| {
            let since = at.saturating_duration_since(epoch).as_nanos();
            if up {
                since.div_ceil(1_000_000)
            } else {
                since / 1_000_000
            }
        };
        if let Ok(t) = u32::try_from(ms(self.epoch)) {
            return t;
        }
        let day = Duration::from_secs(86_400);
        let shift = at.saturating_duration_since(self.epoch).saturating_sub(day);
        let shift_ms = u32::try_from(shift.as_millis()).unwrap_or(u32::MAX);
        for e in self.slots.iter_mut().flatten() {
            e.next_start = e.next_start.saturating_sub(shift_ms);
        }
        // Whole milliseconds, so that the times kept are exactly those shifted.
        self.epoch += Duration::from_millis(shift.as_millis().try_into().unwrap_or(u64::MAX));
        u32::try_from(ms(self.epoch)).unwrap_or(u32::MAX)
    }

    /// The earliest time the supervisor of `slot` may be (re)started.
    #[must_use]
    pub fn next_start(&self, slot: Slot) -> Option<Instant> {
        let e = self.get(slot)?;
        Some(self.epoch + Duration::from_millis(u64::from(e.next_start)))
    }

    pub fn set_next_start(&mut self, slot: Slot, at: Instant) {
        let t = self.ticks(at, true);
        if let Some(e) = self.get_mut(slot) {
            e.next_start = t;
        }
    }

    /// How much the table has allocated, in slots and index buckets: it only grows.
    #[must_use]
    pub fn footprint(&self) -> usize {
        self.slots.capacity()
            + self.by_devino.capacity()
            + self.by_pid.capacity()
            + self.names.capacity()
    }

    /// How many supervisors are alive.
    #[must_use]
    pub fn live(&self) -> usize {
        self.by_pid.len()
    }

    /// Adds an entry named `name`, due to start at `due`, in the most recently freed slot if
    /// there is one.
    ///
    /// # Errors
    /// [`Full`] when `max` entries are known.
    pub fn insert(&mut self, mut entry: Entry, name: &[u8], due: Instant) -> Result<Slot, Full> {
        if self.len >= self.max {
            return Err(Full);
        }
        entry.next_start = self.ticks(due, false);
        debug_assert!(
            self.find_devino(entry.devino()).is_none(),
            "two entries for one directory"
        );
        entry.name = self.store_name(name);
        entry.set_flag(SLASH, name.contains(&b'/'));
        entry.set_flag(LINKED | LOGGER, false);
        let devino = entry.devino();
        self.dirs += usize::from(entry.dir.is_some());
        let slot = if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(entry);
            slot
        } else {
            self.slots.push(Some(entry));
            Slot::try_from(self.slots.len() - 1).map_err(|_| Full)?
        };
        self.len += 1;
        let slots = &self.slots;
        self.by_devino
            .insert(devino_hash(devino), slot, |s| Self::hash_devino(slots, s));
        Ok(slot)
    }

    /// Forgets an entry: its indexes go, and if it was paired, both pipe ends that svscan
    /// held are closed and the peer is unpaired (it gets svscan's own fd 0 or 1 at its next
    /// start, so a writer with no reader gets EPIPE rather than blocking forever).
    pub fn remove(&mut self, slot: Slot) -> Option<Entry> {
        self.unpair(slot);
        let (devino, pid) = self.get(slot).map(|e| (e.devino(), e.pid()))?;
        // Out of the indexes first: their closures read the keys from the slab.
        let slots = &self.slots;
        let indexed = self
            .by_devino
            .remove(devino_hash(devino), slot, |s| Self::hash_devino(slots, s));
        debug_assert!(indexed, "slot {slot} was not in the (dev, inode) index");
        if let Some(pid) = pid {
            let indexed = self
                .by_pid
                .remove(pid_hash(pid), slot, |s| Self::hash_pid(slots, s));
            debug_assert!(indexed, "slot {slot} was not in the pid index");
        }
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        self.len -= 1;
        self.dirs -= usize::from(entry.dir.is_some());
        self.free.push(slot);
        self.names_garbage += self.stored_name(entry.name).len() + 1;
        self.collect_names();
        Some(entry)
    }

    /// The name at `at` in the store, without its NUL.
    fn stored_name(&self, at: NonZeroU32) -> &[u8] {
        let tail = self.names.get(at.get() as usize..).unwrap_or_default();
        let len = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        &tail[..len]
    }

    /// The name of `slot` without its NUL, for messages.
    #[must_use]
    pub fn name_bytes(&self, slot: Slot) -> &[u8] {
        self.get(slot)
            .map(|e| self.stored_name(e.name))
            .unwrap_or_default()
    }

    /// Renames `slot` (a rename in the scan directory); a scan that finds the same name
    /// writes nothing and allocates nothing.
    pub fn set_name(&mut self, slot: Slot, name: &[u8]) {
        let Some(at) = self.get(slot).map(|e| e.name) else {
            return;
        };
        let old = self.stored_name(at).len();
        if self.stored_name(at) == name {
            return;
        }
        let at = if name.len() <= old {
            // In place: the tail of the old name becomes garbage.
            let start = at.get() as usize;
            self.names[start..start + name.len()].copy_from_slice(name);
            self.names[start + name.len()] = 0;
            self.names_garbage += old - name.len();
            at
        } else {
            self.names_garbage += old + 1;
            self.store_name(name)
        };
        if let Some(e) = self.get_mut(slot) {
            e.name = at;
            e.set_flag(SLASH, name.contains(&b'/'));
        }
        self.collect_names();
    }

    /// Appends `name` and its NUL to the store.
    fn store_name(&mut self, name: &[u8]) -> NonZeroU32 {
        if self.names.is_empty() {
            self.names.push(0);
        }
        // Names are at most -L (1019) + 4 bytes, and the store is compacted when half of it
        // is garbage, so it stays far below 4 GiB with the table's 160000 entries at most.
        let at = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.extend_from_slice(name);
        self.names.push(0);
        NonZeroU32::new(at).unwrap_or(NonZeroU32::MAX)
    }

    /// Compacts the name store once garbage is half of it (renames and removals only: a
    /// steady load never gets here).
    fn collect_names(&mut self) {
        if self.names_garbage < 4096 || self.names_garbage * 2 < self.names.len() {
            return;
        }
        let mut names = Vec::with_capacity(self.names.len() - self.names_garbage);
        names.push(0);
        for i in 0..self.slots.len() {
            let Some(at) = self.slots[i].as_ref().map(|e| e.name) else {
                continue;
            };
            let offset = u32::try_from(names.len()).unwrap_or(u32::MAX);
            let new = NonZeroU32::new(offset).unwrap_or(NonZeroU32::MAX);
            names.extend_from_slice(self.stored_name(at));
            names.push(0);
            if let Some(e) = self.slots[i].as_mut() {
                e.name = new;
            }
        }
        self.names = names;
        self.names_garbage = 0;
    }

    /// Breaks the pair of the entry in `slot`, if any, closing both ends svscan holds.
    pub fn unpair(&mut self, slot: Slot) {
        let Some(peer) = self.get(slot).and_then(Entry::peer) else {
            return;
        };
        for s in [slot, peer] {
            if let Some(e) = self.get_mut(s) {
                let had = e.end.take().is_some();
                e.bits &= !(PEER_MASK | LINKED | LOGGER);
                self.ends -= usize::from(had);
            }
        }
    }

    /// Pairs `service` and `logger` with the two ends of a fresh pipe.
    pub fn pair(&mut self, service: Slot, logger: Slot, read: OwnedFd, write: OwnedFd) {
        debug_assert!(service <= PEER_MASK && logger <= PEER_MASK);
        for (slot, peer, role, end) in
            [(service, logger, 0, write), (logger, service, LOGGER, read)]
        {
            if let Some(e) = self.get_mut(slot) {
                e.bits = (e.bits & !(PEER_MASK | LOGGER)) | LINKED | role | (peer & PEER_MASK);
                let had = e.end.replace(end).is_some();
                self.ends = self.ends + 1 - usize::from(had);
            }
        }
    }

    #[must_use]
    pub fn get(&self, slot: Slot) -> Option<&Entry> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// The entry for a directory, if known.
    #[must_use]
    pub fn find_devino(&self, devino: DevIno) -> Option<Slot> {
        self.by_devino.find(devino_hash(devino), |s| {
            self.get(s).is_some_and(|e| e.devino() == devino)
        })
    }

    /// The hash of the key of an indexed slot. Every indexed slot holds an entry (and, for
    /// the pid index, a pid): the callers keep it so, which debug builds check.
    fn hash_devino(slots: &[Option<Entry>], slot: Slot) -> u64 {
        let entry = slots.get(slot as usize).and_then(Option::as_ref);
        debug_assert!(entry.is_some(), "indexed slot {slot} is empty");
        entry.map_or(0, |e| devino_hash(e.devino()))
    }

    fn hash_pid(slots: &[Option<Entry>], slot: Slot) -> u64 {
        let pid = slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .and_then(Entry::pid);
        debug_assert!(pid.is_some(), "slot {slot} in the pid index has no pid");
        pid.map_or(0, pid_hash)
    }

    /// Records the supervisor just started for `slot`.
    pub fn set_pid(&mut self, slot: Slot, pid: Pid) {
        let Some(e) = self.get(slot) else { return };
        let slots = &self.slots;
        if let Some(old) = e.pid() {
            self.by_pid
                .remove(pid_hash(old), slot, |s| Self::hash_pid(slots, s));
        }
        if let Some(e) = self.get_mut(slot) {
            e.pid = pid.as_raw();
        }
        let slots = &self.slots;
        self.by_pid
            .insert(pid_hash(pid), slot, |s| Self::hash_pid(slots, s));
    }

    /// A supervisor died: its entry, which no longer has a supervisor, if it was one of ours.
    pub fn take_pid(&mut self, pid: Pid) -> Option<Slot> {
        let slot = self.by_pid.find(pid_hash(pid), |s| {
            self.get(s).is_some_and(|e| e.pid() == Some(pid))
        })?;
        let slots = &self.slots;
        self.by_pid
            .remove(pid_hash(pid), slot, |s| Self::hash_pid(slots, s));
        if let Some(e) = self.get_mut(slot) {
            e.pid = 0;
        }
        Some(slot)
    }

    /// Holds `dir` as the directory of `slot` (see [`Entry::set_dir`]).
    pub fn set_dir(&mut self, slot: Slot, dir: Option<OwnedFd>, plain: bool) {
        let held = dir.is_some();
        if let Some(e) = self.get_mut(slot) {
            let had = e.dir.is_some();
            e.set_dir(dir, plain);
            self.dirs = self.dirs + usize::from(held) - usize::from(had);
        }
    }

    /// Says whether the scan may identify `slot` by the inode number of its name (see
    /// [`Entry::plain`]); it keeps its directory either way.
    pub fn set_plain(&mut self, slot: Slot, plain: bool) {
        if let Some(e) = self.get_mut(slot) {
            e.set_flag(PLAIN, plain && e.dir.is_some());
        }
    }

    /// How many entries hold their directory.
    #[must_use]
    pub fn dirs_held(&self) -> usize {
        self.dirs
    }

    /// How many pipe ends the entries hold (two a pair).
    #[must_use]
    pub fn pipe_ends(&self) -> usize {
        self.ends
    }

    /// Closes every held directory (to give their descriptors to something that needs one).
    pub fn drop_dirs(&mut self) {
        for e in self.slots.iter_mut().flatten() {
            e.set_dir(None, false);
        }
        self.dirs = 0;
    }

    /// Forgets every recorded proof, and that any entry may be identified by its inode
    /// number (the mount table or the clock changed: a name may now be a mount point).
    pub fn drop_proofs(&mut self) {
        for e in self.slots.iter_mut().flatten() {
            e.set_proof(0, LogSeen::Unknown);
            e.set_flag(PLAIN, false);
        }
    }

    /// Every slot number that may be in use, in table order: a range, so that the caller may
    /// mutate the table while walking it.
    #[must_use]
    pub fn slot_range(&self) -> std::ops::Range<Slot> {
        0..Slot::try_from(self.slots.len()).unwrap_or(Slot::MAX)
    }

    /// Every entry, in table order.
    pub fn entries(&self) -> impl Iterator<Item = (Slot, &Entry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((Slot::try_from(i).ok()?, e.as_ref()?)))
    }

    /// The entry of `slot` with its name as given to `s6-supervise` (`NAME` or `NAME/log`).
    #[must_use]
    pub fn get_named(&self, slot: Slot) -> Option<(&Entry, &CStr)> {
        let e = self.slots.get(slot as usize)?.as_ref()?;
        let name = self
            .names
            .get(e.name.get() as usize..)
            .and_then(|bytes| CStr::from_bytes_until_nul(bytes).ok())
            .unwrap_or_default();
        Some((e, name))
    }

    /// Every entry, mutably, in table order.
    pub fn entries_mut(&mut self) -> impl Iterator<Item = (Slot, &mut Entry)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, e)| Some((Slot::try_from(i).ok()?, e.as_mut()?)))
    }

    /// Drops every pipe end svscan holds (the finish phase, step 1).
    pub fn close_pipes(&mut self) {
        for (_, e) in self.entries_mut() {
            e.end = None;
            e.bits &= !(PEER_MASK | LINKED | LOGGER);
        }
        self.ends = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::OFlag;
    use nix::unistd::pipe2;

    fn entry(ino: u64) -> Entry {
        Entry::new(DevIno { dev: 1, ino })
    }

    #[test]
    fn slots_are_reused_most_recently_freed_first() {
        let mut t = Table::new(10);
        let a = t.insert(entry(1), b"a", Instant::now()).unwrap();
        let b = t.insert(entry(2), b"b", Instant::now()).unwrap();
        let c = t.insert(entry(3), b"c", Instant::now()).unwrap();
        assert_eq!((a, b, c), (0, 1, 2));
        t.remove(a);
        t.remove(c);
        assert_eq!(t.insert(entry(4), b"d", Instant::now()).unwrap(), c);
        assert_eq!(t.insert(entry(5), b"e", Instant::now()).unwrap(), a);
        assert_eq!(t.find_devino(DevIno { dev: 1, ino: 3 }), None);
        assert_eq!(t.find_devino(DevIno { dev: 1, ino: 4 }), Some(c));
    }

    #[test]
    fn the_limit_counts_entries() {
        let mut t = Table::new(2);
        t.insert(entry(1), b"a", Instant::now()).unwrap();
        t.insert(entry(2), b"b", Instant::now()).unwrap();
        assert_eq!(t.insert(entry(3), b"c", Instant::now()), Err(Full));
        t.remove(0);
        assert!(t.insert(entry(3), b"c", Instant::now()).is_ok());
    }

    #[test]
    fn pids_map_back_to_their_entry_once() {
        let mut t = Table::new(4);
        let a = t.insert(entry(1), b"a", Instant::now()).unwrap();
        t.set_pid(a, Pid::from_raw(42));
        assert_eq!(t.live(), 1);
        assert_eq!(t.take_pid(Pid::from_raw(42)), Some(a));
        assert_eq!(t.get(a).unwrap().pid(), None);
        assert_eq!(t.take_pid(Pid::from_raw(42)), None);
        assert_eq!(t.live(), 0);
        t.set_pid(a, Pid::from_raw(7));
        t.set_pid(a, Pid::from_raw(8));
        assert_eq!(t.live(), 1, "a new pid replaces the old one in the index");
        assert_eq!(t.take_pid(Pid::from_raw(7)), None);
        assert_eq!(t.take_pid(Pid::from_raw(8)), Some(a));
    }

    #[test]
    fn forgetting_one_side_of_a_pair_unpairs_the_other() {
        let mut t = Table::new(4);
        let s = t.insert(entry(1), b"s", Instant::now()).unwrap();
        let l = t.insert(entry(2), b"s/log", Instant::now()).unwrap();
        let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
        t.pair(s, l, r, w);
        assert_eq!(t.get(s).unwrap().role(), Some(Role::Service));
        assert_eq!(t.get(l).unwrap().role(), Some(Role::Logger));
        assert_eq!(t.get(l).unwrap().peer(), Some(s));
        assert_eq!(t.get(s).unwrap().peer(), Some(l));
        assert!(t.get(s).unwrap().pipe_end().is_some());
        assert_eq!(t.pipe_ends(), 2);
        t.remove(l);
        assert_eq!(t.get(s).unwrap().role(), None);
        assert!(t.get(s).unwrap().pipe_end().is_none());
        assert_eq!(t.pipe_ends(), 0);
    }

    #[test]
    fn flags_times_and_the_peer_share_a_word_without_mixing() {
        let mut t = Table::new(MAX_ENTRIES);
        let later = Instant::now() + Duration::from_millis(1500);
        let s = t.insert(entry(1), b"s", later).unwrap();
        let peer = PEER_MASK - 1;
        let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
        t.pair(s, peer, r, w);
        let e = t.get_mut(s).unwrap();
        for on in [true, false] {
            e.set_active(on);
            e.set_seen(!on);
            e.set_special(on);
            assert_eq!((e.active(), e.seen(), e.special()), (on, !on, on));
            assert_eq!(e.peer(), Some(peer));
            assert_eq!(e.role(), Some(Role::Service));
        }
        e.set_proof(12345, LogSeen::Paired);
        assert_eq!(e.proof(), Some((12345, LogSeen::Paired)));
        assert_eq!(e.peer(), Some(peer));
        e.set_proof(12345, LogSeen::Unknown);
        assert_eq!(e.proof(), None);
        e.set_proof(0, LogSeen::Absent);
        assert_eq!(e.proof(), None);
        // Inserted: due at the millisecond before; set as a throttle: the one after.
        let due = t.next_start(s).unwrap();
        assert!(
            due <= later && due + Duration::from_millis(1) > later,
            "{due:?} {later:?}"
        );
        t.set_next_start(s, later);
        let due = t.next_start(s).unwrap();
        assert!(
            due >= later && due < later + Duration::from_millis(1),
            "{due:?} {later:?}"
        );
    }

    /// Start times are 32-bit milliseconds: 49 days after the epoch, it moves forward, and
    /// the times stored before stay what they meant (past ones "due", others exact).
    #[test]
    fn the_epoch_moves_before_start_times_overflow() {
        let mut t = Table::new(4);
        let now = Instant::now();
        let Some(old) = now.checked_sub(Duration::from_secs(60 * 86_400)) else {
            return; // a clock that cannot go back 60 days
        };
        t.epoch = old;
        let long_ago = t
            .insert(entry(1), b"a", old + Duration::from_secs(5))
            .unwrap();
        let soon = now + Duration::from_millis(700);
        let b = t.insert(entry(2), b"b", soon).unwrap();
        assert!(t.epoch > old, "the epoch moved");
        let a_due = t.next_start(long_ago).unwrap();
        assert!(a_due < now, "a past start time stays past");
        let b_due = t.next_start(b).unwrap();
        assert!(b_due <= soon && b_due + Duration::from_millis(1) > soon);
        t.set_next_start(long_ago, soon);
        assert!(t.next_start(long_ago).unwrap() >= soon);
    }

    #[test]
    fn renames_and_loggers_are_known_by_name() {
        let mut t = Table::new(4);
        let a = t.insert(entry(1), b"svc", Instant::now()).unwrap();
        let b = t.insert(entry(2), b"b", Instant::now()).unwrap();
        assert!(!t.get(a).unwrap().is_logger());
        t.set_name(a, b"other/log");
        assert_eq!(t.get_named(a).unwrap().1.to_bytes(), b"other/log");
        assert!(t.get(a).unwrap().is_logger());
        t.set_name(a, b"ab");
        assert_eq!(t.name_bytes(a), b"ab");
        assert!(!t.get(a).unwrap().is_logger());
        t.get_mut(a).unwrap().set_special(true);
        assert!(t.get(a).unwrap().is_logger());
        assert_eq!(t.get_named(b).unwrap().1.to_bytes(), b"b");
    }

    #[test]
    fn the_name_store_is_compacted_and_keeps_every_name() {
        let mut t = Table::new(100);
        let long = |i: usize| format!("service-with-a-long-name-{i:04}-{}", "x".repeat(200));
        let slots: Vec<Slot> = (0..50)
            .map(|i| {
                t.insert(entry(i as u64), long(i).as_bytes(), Instant::now())
                    .unwrap()
            })
            .collect();
        let full = t.names.len();
        for &s in &slots[..40] {
            t.remove(s);
        }
        assert!(
            t.names.len() <= full / 2,
            "compacted: {} of {full}",
            t.names.len()
        );
        for (i, &s) in slots.iter().enumerate().skip(40) {
            assert_eq!(t.name_bytes(s), long(i).as_bytes());
            t.set_name(s, format!("{}-renamed", long(i)).as_bytes());
        }
        for (i, &s) in slots.iter().enumerate().skip(40) {
            assert_eq!(
                t.get_named(s).unwrap().1.to_bytes(),
                format!("{}-renamed", long(i)).as_bytes()
            );
        }
    }

    #[test]
    fn held_directories_are_counted_and_given_back() {
        let mut t = Table::new(4);
        let a = t.insert(entry(1), b"a", Instant::now()).unwrap();
        let b = t.insert(entry(2), b"b", Instant::now()).unwrap();
        let dir = || {
            nix::fcntl::open(
                ".",
                OFlag::O_PATH | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
        };
        t.set_dir(a, dir(), true);
        t.set_dir(b, dir(), false);
        assert_eq!(t.dirs_held(), 2);
        assert!(t.get(a).unwrap().plain());
        assert!(!t.get(b).unwrap().plain());
        t.remove(b);
        assert_eq!(t.dirs_held(), 1);
        t.drop_dirs();
        assert_eq!(t.dirs_held(), 0);
        assert!(t.get(a).unwrap().dir().is_none() && !t.get(a).unwrap().plain());
    }

    #[test]
    fn a_device_number_wider_than_linux_dev_t_is_refused() {
        assert_eq!(
            DevIno::new(u64::from(u32::MAX) + 1, 5),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            DevIno::new(0xfe00, 5),
            Ok(DevIno {
                dev: 0xfe00,
                ino: 5
            })
        );
    }

    /// Misuse of the index fails loudly in debug builds: two entries for one directory.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "two entries for one directory")]
    fn a_second_entry_for_one_directory_panics_in_debug_builds() {
        let mut t = Table::new(4);
        t.insert(entry(1), b"a", Instant::now()).unwrap();
        let _ = t.insert(entry(1), b"b", Instant::now());
    }

    /// The slab's slot is most of what an entry costs (the memory bench's rows).
    #[test]
    fn a_slot_is_40_bytes_at_most() {
        assert!(std::mem::size_of::<Option<Entry>>() <= 40);
    }
}
