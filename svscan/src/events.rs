//! svscan's events (beyond s6): `.s6-svscan/event` is an ftrig fifodir, as `SERVICE/event` is
//! s6-supervise's (SUPERVISE.md "ftrig"), and svscan publishes one byte per event: `s` at the
//! end of a turn that completed a scan (its start pass has run by then), `x` when it leaves its
//! loop. So the real s6 tools listen to it unchanged:
//! `s6-ftrig-listen1 DIR/.s6-svscan/event s s6-svscanctl -a DIR` returns after the rescan.
//!
//! Publishing is `common::ftrig::notify`: non-blocking, so a subscriber that never reads only
//! misses events; one whose reader is gone has its FIFO removed; nothing is allocated. A
//! broadcast cannot say which request a scan answered: `svscanctl -w` is the exact way.

use std::path::Path;

use common::SVSCAN_EVENT_DIR;
use common::diag::SysErr;
use common::ftrig;
use nix::unistd::Gid;

use crate::daemon::Svscan;

/// A complete scan and its start pass.
pub const SCANNED: u8 = b's';
/// svscan leaves its loop.
pub const LEAVING: u8 = b'x';

fn dir() -> &'static Path {
    Path::new(SVSCAN_EVENT_DIR)
}

/// Makes the fifodir (mode 03730, svscan's group, as s6-supervise's `event`) and removes the
/// FIFOs of subscribers that died with a previous svscan. Failures are warnings: svscan then
/// runs without events.
#[must_use]
pub fn make() -> bool {
    if let Err(e) = ftrig::fifodir_make(dir(), Some(Gid::effective()), false) {
        common::warn!("unable to make {SVSCAN_EVENT_DIR}: {}", SysErr(e));
        return false;
    }
    if let Err(e) = ftrig::clean(dir()) {
        common::warn!("unable to ftrigw_clean {SVSCAN_EVENT_DIR}: {}", SysErr(e));
    }
    true
}

impl Svscan {
    /// Publishes `event` to every subscriber of `.s6-svscan/event`.
    pub fn publish(&self, event: u8) {
        if self.events {
            // Nothing to do about a failure: a missing fifodir has no subscribers.
            let _ = ftrig::notify(dir(), &[event]);
        }
    }
}
