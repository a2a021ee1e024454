//! A hash index of slot numbers: the table's look-ups by (dev, inode) and by supervisor pid.
//!
//! It stores only `u32` slot numbers (4 bytes a bucket, against 24 for a `HashMap<DevIno,
//! Slot>`): the key of a slot is read back from the slab through a closure, so the index never
//! holds a copy of it. Open addressing with linear probing and backward-shift deletion, so
//! removals leave no tombstones: a table whose supervisors die and respawn forever keeps its
//! size and never allocates; it grows (the only allocation) when its load passes three
//! quarters (about 2.5 probes a successful look-up).
//!
//! Its callers keep two promises it cannot check itself: one slot per key, and a `hash_of`
//! that gives the hash a slot was inserted with. The table (`table.rs`) asserts both in debug
//! builds (a second entry for one directory; an indexed slot with no entry or no pid), so a
//! misuse fails loudly in the tests instead of silently mis-probing. `std`'s `HashMap` would
//! need neither promise, at 25 bytes a bucket against 4: for 1500 entries, 51 + 18 kB against
//! 8 + 8 kB, about a third of the table's whole footprint.

use crate::table::Slot;

const EMPTY: Slot = Slot::MAX;

/// A set of slots, found by the hash of their key.
#[derive(Debug, Default)]
pub struct SlotIndex {
    buckets: Vec<Slot>,
    len: usize,
}

/// A 64-bit mix (splitmix64's finalizer): consecutive inodes and pids spread over the
/// buckets.
#[must_use]
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl SlotIndex {
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// How many buckets it has allocated.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    fn home(&self, hash: u64) -> usize {
        // Truncation is the point: the low bits pick the bucket.
        #[allow(clippy::cast_possible_truncation)]
        let h = hash as usize;
        h & self.mask()
    }

    /// The slot whose key hashes to `hash` and for which `is_key` holds.
    pub fn find(&self, hash: u64, is_key: impl Fn(Slot) -> bool) -> Option<Slot> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut i = self.home(hash);
        loop {
            match self.buckets[i] {
                EMPTY => return None,
                slot if is_key(slot) => return Some(slot),
                _ => i = (i + 1) & self.mask(),
            }
        }
    }

    /// Adds `slot`, whose key hashes to `hash`; `hash_of` gives the hash of any slot already
    /// in the index (to move them when the index grows). The caller makes sure that no other
    /// slot has the same key.
    pub fn insert(&mut self, hash: u64, slot: Slot, hash_of: impl Fn(Slot) -> u64) {
        debug_assert_ne!(slot, EMPTY, "the empty marker is no slot");
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.grow(&hash_of);
        }
        let mut i = self.home(hash);
        while self.buckets[i] != EMPTY {
            i = (i + 1) & self.mask();
        }
        self.buckets[i] = slot;
        self.len += 1;
    }

    fn grow(&mut self, hash_of: &impl Fn(Slot) -> u64) {
        let size = (self.buckets.len() * 2).max(8);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            let mut i = self.home(hash_of(slot));
            while self.buckets[i] != EMPTY {
                i = (i + 1) & self.mask();
            }
            self.buckets[i] = slot;
        }
    }

    /// Removes `slot`, whose key hashes to `hash`; `hash_of` as for [`SlotIndex::insert`].
    /// Returns whether it was there.
    pub fn remove(&mut self, hash: u64, slot: Slot, hash_of: impl Fn(Slot) -> u64) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let mask = self.mask();
        let mut hole = self.home(hash);
        loop {
            match self.buckets[hole] {
                EMPTY => return false,
                s if s == slot => break,
                _ => hole = (hole + 1) & mask,
            }
        }
        // Backward shift: pull each later member of the probe run into the hole unless its
        // home lies cyclically in (hole, j], where it already is reachable.
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.buckets[j];
            if s == EMPTY {
                break;
            }
            let home = self.home(hash_of(s));
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.buckets[hole] = s;
                hole = j;
            }
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys chosen so that many share a home bucket (hash = key), stressing runs that wrap.
    fn check_against_model(keys: &[u64], hash: impl Fn(u64) -> u64 + Copy) {
        // slot i has key keys[i]
        let mut idx = SlotIndex::default();
        let hash_of = |s: Slot| hash(keys[s as usize]);
        let mut present = vec![false; keys.len()];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..5000 {
            state = mix(state);
            let s = usize::try_from(state % keys.len() as u64).unwrap();
            let slot = Slot::try_from(s).unwrap();
            if present[s] {
                assert!(idx.remove(hash_of(slot), slot, hash_of));
                present[s] = false;
            } else {
                idx.insert(hash_of(slot), slot, hash_of);
                present[s] = true;
            }
            assert_eq!(idx.len(), present.iter().filter(|&&p| p).count());
            for (k, &p) in present.iter().enumerate() {
                let found = idx.find(hash(keys[k]), |x| keys[x as usize] == keys[k]);
                let want = p.then(|| Slot::try_from(k).unwrap());
                assert_eq!(found, want, "key {}", keys[k]);
            }
        }
    }

    #[test]
    fn agrees_with_a_model_under_random_inserts_and_removes() {
        let keys: Vec<u64> = (0..200).map(|k| k * 7 + 3).collect();
        check_against_model(&keys, mix);
    }

    #[test]
    fn agrees_with_a_model_when_every_key_collides_and_runs_wrap() {
        let keys: Vec<u64> = (0..60).collect();
        // Every key lands in one of two buckets near the end of the array.
        check_against_model(&keys, |k| u64::MAX - (k % 2));
    }

    #[test]
    fn a_steady_churn_keeps_the_size() {
        let keys: Vec<u64> = (0..64).collect();
        let hash_of = |s: Slot| mix(keys[s as usize]);
        let mut idx = SlotIndex::default();
        for s in 0..32 {
            idx.insert(hash_of(s), s, hash_of);
        }
        let size = idx.buckets.len();
        for round in 0..1000u32 {
            let out = round % 32;
            let into = 32 + round % 32;
            let (out, into) = if round % 64 < 32 {
                (out, into)
            } else {
                (into, out)
            };
            assert!(idx.remove(hash_of(out), out, hash_of));
            idx.insert(hash_of(into), into, hash_of);
        }
        assert_eq!(idx.buckets.len(), size, "no growth without a larger load");
        assert_eq!(idx.len(), 32);
    }

    #[test]
    fn removing_an_absent_slot_changes_nothing() {
        let hash_of = |s: Slot| u64::from(s);
        let mut idx = SlotIndex::default();
        assert!(!idx.remove(5, 5, hash_of));
        idx.insert(1, 1, hash_of);
        assert!(!idx.remove(5, 5, hash_of));
        assert_eq!(idx.len(), 1);
    }
}
