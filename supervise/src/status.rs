//! Writing `supervise/status` (SUPERVISE.md, "supervise/status"): 35 bytes, atomically
//! (`status.new` then rename), at each of the moments the transition table names. A failure
//! is a warning: the service goes on being supervised, and the next write may succeed.
#![forbid(unsafe_code)]

use common::diag::SysErr;
use common::warn;

use crate::daemon::Supervise;

impl Supervise {
    /// Writes the status file (C's `announce`).
    pub fn announce(&self) {
        if let Err(e) = self.status.write_in(nix::fcntl::AT_FDCWD) {
            warn!("unable to write status file: {}", SysErr(e));
        }
    }
}
