//! The service table: one entry per supervised directory (a service or a logger), in an
//! index-addressed slab with lookups by (dev, inode) and by supervisor pid.
//!
//! It grows with the load (never sized from `-C` up front) and reuses freed slots, most
//! recently freed first, as C's genset does. Nothing here allocates once the load is steady:
//! a respawn cycle removes and re-inserts a pid in an index that already has the room. An
//! entry costs its slot (72 bytes), its name and NUL in one shared store, and 5 to 11 bytes of
//! the two indexes ([`SlotIndex`] holds slot numbers only).

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::time::Instant;

use nix::unistd::Pid;

use crate::index::{SlotIndex, mix};
use common::spawn::FileActions;

/// A slot number in the table.
pub type Slot = u32;

/// What identifies a service directory: renaming it keeps its supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DevIno {
    pub dev: u64,
    pub ino: u64,
}

/// An entry's side of a logged pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Writes into the pipe: gets the write end as fd 1.
    Service,
    /// Reads the pipe: gets the read end as fd 0.
    Logger,
}

/// Membership in a logged pair: the peer, this entry's role, and the pipe end that svscan
/// holds for it for as long as both entries are known.
#[derive(Debug)]
pub struct Link {
    pub peer: Slot,
    pub role: Role,
    pub end: OwnedFd,
}

/// A supervised directory.
#[derive(Debug)]
pub struct Entry {
    pub devino: DevIno,
    /// Where the name is in the table's name store ([`Table::name`]).
    name: NameRef,
    /// The name has a `/` (`NAME/log`): a logger for the killer.
    slash: bool,
    /// The live supervisor, if any.
    pub pid: Option<Pid>,
    /// The earliest time the supervisor may be (re)started: creation time, then 1 s after
    /// each start.
    pub next_start: Instant,
    pub link: Option<Link>,
    /// Seen by the last complete scan.
    pub active: bool,
    /// Seen by the scan in progress.
    pub seen: bool,
    /// Created under the top-level name `s6-svscan-log`: the catch-all logger.
    pub special: bool,
    /// The fd moves of the last start, kept for the next one (see `start.rs`). Boxed: only
    /// paired and catch-all entries have any, and inline they would double every slot of the
    /// slab (104 of an entry's 192 bytes).
    pub spawn_actions: Option<Box<FileActions>>,
}

/// A name in the table's store: `len` bytes at `at`, then a NUL.
#[derive(Clone, Copy, Debug, Default)]
struct NameRef {
    at: u32,
    len: u32,
}

impl NameRef {
    fn range(self) -> std::ops::Range<usize> {
        self.at as usize..self.at as usize + self.len as usize
    }

    /// Its bytes in the store, NUL included.
    fn stored(self) -> usize {
        self.len as usize + 1
    }
}

impl Entry {
    /// A new entry, due to start at `now`; [`Table::insert`] names it.
    #[must_use]
    pub fn new(devino: DevIno, now: Instant) -> Self {
        Entry {
            devino,
            name: NameRef::default(),
            slash: false,
            pid: None,
            next_start: now,
            link: None,
            active: false,
            seen: false,
            special: false,
            spawn_actions: None,
        }
    }

    /// A logger for the killer: its name has a `/`, or it is the catch-all logger.
    #[must_use]
    pub fn is_logger(&self) -> bool {
        self.special || self.slash
    }

    /// The role in a logged pair, if paired.
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        self.link.as_ref().map(|l| l.role)
    }

    /// The peer in a logged pair, if paired.
    #[must_use]
    pub fn peer(&self) -> Option<Slot> {
        self.link.as_ref().map(|l| l.peer)
    }
}

fn name_len(name: &[u8]) -> u32 {
    u32::try_from(name.len()).unwrap_or(u32::MAX)
}

fn devino_hash(d: DevIno) -> u64 {
    mix(d.ino ^ mix(d.dev))
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
}

impl Table {
    /// An empty table that will hold at most `max` entries.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            max,
            by_devino: SlotIndex::default(),
            by_pid: SlotIndex::default(),
            names: Vec::new(),
            names_garbage: 0,
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

    /// Adds an entry named `name`, in the most recently freed slot if there is one.
    ///
    /// # Errors
    /// [`Full`] when `max` entries are known.
    pub fn insert(&mut self, mut entry: Entry, name: &[u8]) -> Result<Slot, Full> {
        if self.len >= self.max {
            return Err(Full);
        }
        (entry.name, entry.slash) = self.store_name(name);
        let devino = entry.devino;
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
        let (devino, pid) = self.get(slot).map(|e| (e.devino, e.pid))?;
        // Out of the indexes first: their closures read the keys from the slab.
        let slots = &self.slots;
        self.by_devino
            .remove(devino_hash(devino), slot, |s| Self::hash_devino(slots, s));
        if let Some(pid) = pid {
            self.by_pid
                .remove(pid_hash(pid), slot, |s| Self::hash_pid(slots, s));
        }
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        self.len -= 1;
        self.free.push(slot);
        self.names_garbage += entry.name.stored();
        self.collect_names();
        Some(entry)
    }

    /// The name of `slot` without its NUL, for messages.
    #[must_use]
    pub fn name_bytes(&self, slot: Slot) -> &[u8] {
        self.get(slot)
            .and_then(|e| self.names.get(e.name.range()))
            .unwrap_or_default()
    }

    /// Renames `slot` (a rename in the scan directory); a scan that finds the same name
    /// writes nothing and allocates nothing.
    pub fn set_name(&mut self, slot: Slot, name: &[u8]) {
        let Some(old) = self.get(slot).map(|e| e.name) else {
            return;
        };
        if self.names.get(old.range()) == Some(name) {
            return;
        }
        let renamed = if name.len() <= old.len as usize {
            // In place: the tail of the old name becomes garbage.
            let at = old.at as usize;
            self.names[at..at + name.len()].copy_from_slice(name);
            self.names[at + name.len()] = 0;
            self.names_garbage += old.len as usize - name.len();
            (
                NameRef {
                    at: old.at,
                    len: name_len(name),
                },
                name.contains(&b'/'),
            )
        } else {
            self.names_garbage += old.stored();
            self.store_name(name)
        };
        if let Some(e) = self.get_mut(slot) {
            (e.name, e.slash) = renamed;
        }
        self.collect_names();
    }

    /// Appends `name` and its NUL to the store.
    fn store_name(&mut self, name: &[u8]) -> (NameRef, bool) {
        // Names are at most -L (1019) + 4 bytes, and the store is compacted when half of it
        // is garbage, so it stays far below 4 GiB with the table's 160000 entries at most.
        let at = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.extend_from_slice(name);
        self.names.push(0);
        (
            NameRef {
                at,
                len: name_len(name),
            },
            name.contains(&b'/'),
        )
    }

    /// Compacts the name store once garbage is half of it (renames and removals only: a
    /// steady load never gets here).
    fn collect_names(&mut self) {
        if self.names_garbage < 4096 || self.names_garbage * 2 < self.names.len() {
            return;
        }
        let mut names = Vec::with_capacity(self.names.len() - self.names_garbage);
        for e in self.slots.iter_mut().flatten() {
            let at = u32::try_from(names.len()).unwrap_or(u32::MAX);
            names.extend_from_slice(self.names.get(e.name.range()).unwrap_or_default());
            names.push(0);
            e.name.at = at;
        }
        self.names = names;
        self.names_garbage = 0;
    }

    /// Breaks the pair of the entry in `slot`, if any, closing both ends svscan holds.
    pub fn unpair(&mut self, slot: Slot) {
        if let Some(link) = self.get_mut(slot).and_then(|e| e.link.take())
            && let Some(peer) = self.get_mut(link.peer)
        {
            peer.link = None;
        }
    }

    /// Pairs `service` and `logger` with the two ends of a fresh pipe.
    pub fn pair(&mut self, service: Slot, logger: Slot, read: OwnedFd, write: OwnedFd) {
        if let Some(s) = self.get_mut(service) {
            s.link = Some(Link {
                peer: logger,
                role: Role::Service,
                end: write,
            });
        }
        if let Some(l) = self.get_mut(logger) {
            l.link = Some(Link {
                peer: service,
                role: Role::Logger,
                end: read,
            });
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
            self.get(s).is_some_and(|e| e.devino == devino)
        })
    }

    /// The hash of the key of an indexed slot (every indexed slot holds an entry).
    fn hash_devino(slots: &[Option<Entry>], slot: Slot) -> u64 {
        slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .map_or(0, |e| devino_hash(e.devino))
    }

    fn hash_pid(slots: &[Option<Entry>], slot: Slot) -> u64 {
        slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .and_then(|e| e.pid)
            .map_or(0, pid_hash)
    }

    /// Records the supervisor just started for `slot`.
    pub fn set_pid(&mut self, slot: Slot, pid: Pid) {
        let Some(e) = self.get_mut(slot) else { return };
        let old = e.pid.replace(pid);
        let slots = &self.slots;
        if let Some(old) = old {
            self.by_pid
                .remove(pid_hash(old), slot, |s| Self::hash_pid(slots, s));
        }
        self.by_pid
            .insert(pid_hash(pid), slot, |s| Self::hash_pid(slots, s));
    }

    /// A supervisor died: its entry, which no longer has a supervisor, if it was one of ours.
    pub fn take_pid(&mut self, pid: Pid) -> Option<Slot> {
        let slot = self.by_pid.find(pid_hash(pid), |s| {
            self.get(s).is_some_and(|e| e.pid == Some(pid))
        })?;
        let slots = &self.slots;
        self.by_pid
            .remove(pid_hash(pid), slot, |s| Self::hash_pid(slots, s));
        if let Some(e) = self.get_mut(slot) {
            e.pid = None;
        }
        Some(slot)
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

    /// The entry of `slot`, mutably, with its name as given to `s6-supervise` (`NAME` or
    /// `NAME/log`).
    pub fn get_mut_named(&mut self, slot: Slot) -> Option<(&mut Entry, &CStr)> {
        let e = self.slots.get_mut(slot as usize)?.as_mut()?;
        let name = self
            .names
            .get(e.name.at as usize..)
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
            e.link = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::OFlag;
    use nix::unistd::pipe2;

    fn entry(ino: u64) -> Entry {
        Entry::new(DevIno { dev: 1, ino }, Instant::now())
    }

    #[test]
    fn slots_are_reused_most_recently_freed_first() {
        let mut t = Table::new(10);
        let a = t.insert(entry(1), b"a").unwrap();
        let b = t.insert(entry(2), b"b").unwrap();
        let c = t.insert(entry(3), b"c").unwrap();
        assert_eq!((a, b, c), (0, 1, 2));
        t.remove(a);
        t.remove(c);
        assert_eq!(t.insert(entry(4), b"d").unwrap(), c);
        assert_eq!(t.insert(entry(5), b"e").unwrap(), a);
        assert_eq!(t.find_devino(DevIno { dev: 1, ino: 3 }), None);
        assert_eq!(t.find_devino(DevIno { dev: 1, ino: 4 }), Some(c));
    }

    #[test]
    fn the_limit_counts_entries() {
        let mut t = Table::new(2);
        t.insert(entry(1), b"a").unwrap();
        t.insert(entry(2), b"b").unwrap();
        assert_eq!(t.insert(entry(3), b"c"), Err(Full));
        t.remove(0);
        assert!(t.insert(entry(3), b"c").is_ok());
    }

    #[test]
    fn pids_map_back_to_their_entry_once() {
        let mut t = Table::new(4);
        let a = t.insert(entry(1), b"a").unwrap();
        t.set_pid(a, Pid::from_raw(42));
        assert_eq!(t.live(), 1);
        assert_eq!(t.take_pid(Pid::from_raw(42)), Some(a));
        assert_eq!(t.get(a).unwrap().pid, None);
        assert_eq!(t.take_pid(Pid::from_raw(42)), None);
        assert_eq!(t.live(), 0);
    }

    #[test]
    fn forgetting_one_side_of_a_pair_unpairs_the_other() {
        let mut t = Table::new(4);
        let s = t.insert(entry(1), b"s").unwrap();
        let l = t.insert(entry(2), b"s/log").unwrap();
        let (r, w) = pipe2(OFlag::O_CLOEXEC).unwrap();
        t.pair(s, l, r, w);
        assert_eq!(t.get(s).unwrap().role(), Some(Role::Service));
        assert_eq!(t.get(l).unwrap().role(), Some(Role::Logger));
        assert_eq!(t.get(l).unwrap().peer(), Some(s));
        t.remove(l);
        assert!(t.get(s).unwrap().link.is_none());
    }

    #[test]
    fn renames_and_loggers_are_known_by_name() {
        let mut t = Table::new(4);
        let a = t.insert(entry(1), b"svc").unwrap();
        let b = t.insert(entry(2), b"b").unwrap();
        assert!(!t.get(a).unwrap().is_logger());
        t.set_name(a, b"other/log");
        assert_eq!(t.get_mut_named(a).unwrap().1.to_bytes(), b"other/log");
        assert!(t.get(a).unwrap().is_logger());
        t.set_name(a, b"ab");
        assert_eq!(t.name_bytes(a), b"ab");
        assert!(!t.get(a).unwrap().is_logger());
        t.get_mut(a).unwrap().special = true;
        assert!(t.get(a).unwrap().is_logger());
        assert_eq!(t.get_mut_named(b).unwrap().1.to_bytes(), b"b");
    }

    #[test]
    fn the_name_store_is_compacted_and_keeps_every_name() {
        let mut t = Table::new(100);
        let long = |i: usize| format!("service-with-a-long-name-{i:04}-{}", "x".repeat(200));
        let slots: Vec<Slot> = (0..50)
            .map(|i| t.insert(entry(i as u64), long(i).as_bytes()).unwrap())
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
                t.get_mut_named(s).unwrap().1.to_bytes(),
                format!("{}-renamed", long(i)).as_bytes()
            );
        }
    }

    /// The slab's slot is most of what an entry costs (the memory bench's rows).
    #[test]
    fn a_slot_is_72_bytes_at_most() {
        assert!(std::mem::size_of::<Option<Entry>>() <= 72);
    }
}
