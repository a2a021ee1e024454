//! TAI64N timestamps as skalibs makes them from the system clock (SUPERVISE.md, "Shared
//! formats"): the label is 2^62 + 10 + unix seconds + the leap seconds inserted so far, the
//! nanoseconds are the clock's. The status file stores two of them and the ftrig subscriber's
//! FIFO name carries one in hex, so a C reader must get the same seconds from ours: the
//! conversion is skalibs' `tai_from_utc` with its leap-second table (`leapsecs_add`, not built
//! with a TAI system clock), 27 leaps since 2017-01-01.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2^62: the TAI64 label of 1970-01-01 00:00:00 TAI (skalibs `TAI_MAGIC`).
const TAI_MAGIC: u64 = 1 << 62;

/// skalibs' `leapsecs_table`: for each inserted leap second, TAI_MAGIC + the unix time of the
/// second after it + the number of leaps before it (src/libstddjb/leapsecs_table.c).
const LEAPSECS: [u64; 27] = [
    TAI_MAGIC + 78796800,
    TAI_MAGIC + 94694401,
    TAI_MAGIC + 126230402,
    TAI_MAGIC + 157766403,
    TAI_MAGIC + 189302404,
    TAI_MAGIC + 220924805,
    TAI_MAGIC + 252460806,
    TAI_MAGIC + 283996807,
    TAI_MAGIC + 315532808,
    TAI_MAGIC + 362793609,
    TAI_MAGIC + 394329610,
    TAI_MAGIC + 425865611,
    TAI_MAGIC + 489024012,
    TAI_MAGIC + 567993613,
    TAI_MAGIC + 631152014,
    TAI_MAGIC + 662688015,
    TAI_MAGIC + 709948816,
    TAI_MAGIC + 741484817,
    TAI_MAGIC + 773020818,
    TAI_MAGIC + 820454419,
    TAI_MAGIC + 867715220,
    TAI_MAGIC + 915148821,
    TAI_MAGIC + 1136073622,
    TAI_MAGIC + 1230768023,
    TAI_MAGIC + 1341100824,
    TAI_MAGIC + 1435708825,
    TAI_MAGIC + 1483228826,
];

/// A TAI64N stamp: `secs` is the TAI64 label (2^62 + TAI seconds), `nanos` < 10^9.
/// Ordered by time (the field order makes the derived order chronological).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tai64n {
    /// The TAI64 label.
    pub secs: u64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Tai64n {
    /// All zeros: what `S6_SVSTATUS_ZERO` holds before the first status write.
    pub const ZERO: Tai64n = Tai64n { secs: 0, nanos: 0 };

    /// The wall clock now (`tain_wallclock_read`). A clock before 1970 gives a stamp before
    /// the unix epoch, as in C.
    pub fn now() -> Tai64n {
        Tai64n::from_system_time(SystemTime::now())
    }

    /// The stamp of a system time (`tain_from_timespec_sysclock`).
    pub fn from_system_time(t: SystemTime) -> Tai64n {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Tai64n::from_unix(d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                // Before the epoch: whole seconds toward minus infinity, positive nanoseconds.
                let d = e.duration();
                let (secs, nanos) = match d.subsec_nanos() {
                    0 => (-(d.as_secs() as i64), 0),
                    n => (-(d.as_secs() as i64) - 1, 1_000_000_000 - n),
                };
                Tai64n::from_unix(secs, nanos)
            }
        }
    }

    /// The stamp of a unix time (seconds since the epoch, leap seconds not counted), as
    /// skalibs' `tai_from_utc`: `leapsecs_add(u, 0)` then + 10.
    pub fn from_unix(secs: i64, nanos: u32) -> Tai64n {
        let mut u = TAI_MAGIC.wrapping_add_signed(secs);
        for leap in LEAPSECS {
            if u < leap {
                break;
            }
            u += 1;
        }
        Tai64n {
            secs: u + 10,
            nanos,
        }
    }

    /// The unix time of this stamp (skalibs' `utc_from_tai`; a stamp that falls on a leap
    /// second gives the second after it, as in C).
    pub fn to_unix(self) -> i64 {
        let t = self.secs.wrapping_sub(10);
        let mut d = 0;
        for leap in LEAPSECS {
            if t < leap {
                break;
            }
            if t != leap {
                d += 1;
            }
        }
        t.wrapping_sub(d).wrapping_sub(TAI_MAGIC) as i64
    }

    /// The 12-byte external form: label then nanoseconds, both big-endian (`tain_pack`).
    pub fn pack(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.secs.to_be_bytes());
        out[8..].copy_from_slice(&self.nanos.to_be_bytes());
        out
    }

    /// The inverse of [`pack`](Self::pack) (`tain_unpack`); the nanoseconds are taken as
    /// stored, unchecked, as in C.
    pub fn unpack(bytes: &[u8; 12]) -> Tai64n {
        let mut secs = [0u8; 8];
        let mut nanos = [0u8; 4];
        secs.copy_from_slice(&bytes[..8]);
        nanos.copy_from_slice(&bytes[8..]);
        Tai64n {
            secs: u64::from_be_bytes(secs),
            nanos: u32::from_be_bytes(nanos),
        }
    }

    /// The packed form in 24 lowercase hex digits (`tain_fmt`), as in ftrig names and
    /// svstat's `updownsince`.
    pub fn hex(self) -> [u8; 24] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 24];
        for (i, b) in self.pack().into_iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 15)];
        }
        out
    }

    /// Whole seconds from `earlier` to `self`, 0 if `earlier` is later (svstat's "S seconds":
    /// the label difference, the nanoseconds borrowing one second when `self`'s are smaller).
    pub fn secs_since(self, earlier: Tai64n) -> u64 {
        if self <= earlier {
            return 0;
        }
        let secs = self.secs - earlier.secs;
        if self.nanos < earlier.nanos {
            secs - 1
        } else {
            secs
        }
    }
}

impl std::ops::Add<Duration> for Tai64n {
    type Output = Tai64n;

    /// This stamp plus a duration (saturating at the largest label).
    fn add(self, d: Duration) -> Tai64n {
        let nanos = self.nanos + d.subsec_nanos();
        let (carry, nanos) = if nanos >= 1_000_000_000 {
            (1, nanos - 1_000_000_000)
        } else {
            (0, nanos)
        };
        Tai64n {
            secs: self.secs.saturating_add(d.as_secs()).saturating_add(carry),
            nanos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_is_two_to_the_62_plus_10_plus_unix_plus_27_leaps_since_2017() {
        // 2024-01-01 00:00:00 UTC.
        let t = Tai64n::from_unix(1_704_067_200, 5);
        assert_eq!(t.secs, (1 << 62) + 10 + 1_704_067_200 + 27);
        assert_eq!(t.nanos, 5);
        assert_eq!(t.to_unix(), 1_704_067_200);
    }

    #[test]
    fn leap_seconds_are_counted_only_once_they_have_happened() {
        // 2016-12-31 23:59:59 UTC: 26 leaps; 2017-01-01 00:00:00 UTC: 27.
        assert_eq!(
            Tai64n::from_unix(1_483_228_799, 0).secs,
            (1 << 62) + 10 + 1_483_228_799 + 26
        );
        assert_eq!(
            Tai64n::from_unix(1_483_228_800, 0).secs,
            (1 << 62) + 10 + 1_483_228_800 + 27
        );
        // Before the first leap (1972-07-01), none.
        assert_eq!(Tai64n::from_unix(0, 0).secs, (1 << 62) + 10);
        assert_eq!(
            Tai64n::from_unix(78_796_799, 0).secs,
            (1 << 62) + 10 + 78_796_799
        );
        assert_eq!(
            Tai64n::from_unix(78_796_800, 0).secs,
            (1 << 62) + 10 + 78_796_800 + 1
        );
        for u in [
            0,
            78_796_799,
            78_796_800,
            1_483_228_799,
            1_483_228_800,
            1_900_000_000,
        ] {
            assert_eq!(Tai64n::from_unix(u, 0).to_unix(), u);
        }
    }

    #[test]
    fn system_time_before_the_epoch_borrows_a_second() {
        let t = Tai64n::from_system_time(UNIX_EPOCH - Duration::from_millis(1500));
        assert_eq!(t.secs, (1 << 62) + 10 - 2);
        assert_eq!(t.nanos, 500_000_000);
    }

    #[test]
    fn now_agrees_with_the_system_clock() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = Tai64n::now().to_unix() as u64;
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert!(before <= now && now <= after, "{before} {now} {after}");
    }

    #[test]
    fn pack_is_big_endian_label_then_nanoseconds_and_unpack_inverts_it() {
        let t = Tai64n {
            secs: 0x4000_0000_6592_1234,
            nanos: 0x0102_0304,
        };
        let p = t.pack();
        assert_eq!(p, [0x40, 0, 0, 0, 0x65, 0x92, 0x12, 0x34, 1, 2, 3, 4]);
        assert_eq!(Tai64n::unpack(&p), t);
        assert_eq!(&t.hex(), b"400000006592123401020304");
    }

    #[test]
    fn secs_since_saturates_and_borrows_on_nanoseconds() {
        let a = Tai64n {
            secs: 100,
            nanos: 900,
        };
        assert_eq!(
            Tai64n {
                secs: 105,
                nanos: 899
            }
            .secs_since(a),
            4
        );
        assert_eq!(
            Tai64n {
                secs: 105,
                nanos: 900
            }
            .secs_since(a),
            5
        );
        assert_eq!(Tai64n { secs: 99, nanos: 0 }.secs_since(a), 0);
        assert_eq!(a.secs_since(a), 0);
    }

    #[test]
    fn add_carries_nanoseconds() {
        let t = Tai64n {
            secs: 1,
            nanos: 999_999_999,
        } + Duration::new(2, 2);
        assert_eq!(t, Tai64n { secs: 4, nanos: 1 });
    }
}
