//! Signals (spec, "Signals"): trapped through a signalfd, so that they arrive in the event
//! loop as one more readable fd and never interrupt anything.
//!
//! SIGCHLD, SIGALRM and SIGABRT have fixed actions. For the others, an executable
//! `.s6-svscan/SIGNAME` is spawned instead of the builtin action.

use std::ffi::CStr;

use common::SIGNAL_PROG_PREFIX;
use common::diag::SysErr;
use common::spawn::spawn;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{AccessFlags, access};

use crate::daemon::Svscan;

/// The signals svscan acts on; every other signal keeps its disposition.
pub const TRAPPED: [Signal; 11] = [
    Signal::SIGCHLD,
    Signal::SIGALRM,
    Signal::SIGABRT,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPWR,
    Signal::SIGWINCH,
];

/// The set of [`TRAPPED`] signals.
#[must_use]
pub fn trapped_set() -> SigSet {
    let mut set = SigSet::empty();
    for sig in TRAPPED {
        set.add(sig);
    }
    set
}

/// Opens the signalfd for the trapped signals (non-blocking, CLOEXEC).
///
/// # Errors
/// The errno of `signalfd`.
pub fn open_signalfd() -> Result<SignalFd, Errno> {
    SignalFd::with_flags(
        &trapped_set(),
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )
}

/// Blocks the trapped signals so that only the signalfd sees them.
///
/// # Errors
/// The errno of `sigprocmask`.
pub fn block() -> Result<(), Errno> {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&trapped_set()), None)
}

/// Empties the signal mask, before exec'ing finish or crash.
pub fn unblock_all() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// `.s6-svscan/SIGNAME` for `sig`, NUL-terminated, in `buf`.
fn program_path(sig: Signal, buf: &mut [u8; 32]) -> Option<&CStr> {
    let prefix = SIGNAL_PROG_PREFIX.as_bytes();
    let name = sig.as_str().strip_prefix("SIG")?.as_bytes();
    let len = prefix.len() + name.len();
    if len >= buf.len() {
        return None;
    }
    buf[..prefix.len()].copy_from_slice(prefix);
    buf[prefix.len()..len].copy_from_slice(name);
    buf[len] = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).ok()
}

impl Svscan {
    /// Reads and acts on every pending signal.
    pub fn handle_signals(&mut self) {
        loop {
            match self.signals.read_signal() {
                Ok(Some(info)) => {
                    if let Ok(sig) = Signal::try_from(info.ssi_signo.cast_signed()) {
                        self.signal(sig);
                    }
                }
                Ok(None) => return,
                Err(Errno::EINTR) => {}
                Err(e) => self.crash("selfpipe_read", e),
            }
        }
    }

    fn signal(&mut self, sig: Signal) {
        match sig {
            Signal::SIGCHLD => self.pending.reap = true,
            Signal::SIGALRM => self.rescan_now(),
            Signal::SIGABRT => self.abort(),
            _ if self.run_signal_program(sig) => {}
            Signal::SIGHUP => self.hangup(),
            Signal::SIGINT | Signal::SIGTERM => self.terminate(),
            Signal::SIGQUIT => self.quit(),
            _ => {}
        }
    }

    /// Spawns `.s6-svscan/SIGNAME` if it is executable; false means "use the builtin".
    fn run_signal_program(&self, sig: Signal) -> bool {
        let mut buf = [0u8; 32];
        let Some(path) = program_path(sig, &mut buf) else {
            return false;
        };
        // Avoids a spawn; the race with a concurrent chmod does not matter (as C).
        if access(path, AccessFlags::X_OK).is_err() {
            return false;
        }
        match spawn(&self.spawn_attr, path, &[path], None) {
            Ok(_) => true,
            // Its interpreter is missing, or it went away: the builtin, silently.
            Err(Errno::ENOENT) => false,
            Err(e) => {
                common::warn!("unable to spawn {}: {}", path.to_string_lossy(), SysErr(e));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_programs_are_named_after_the_signal() {
        let mut buf = [0u8; 32];
        assert_eq!(
            program_path(Signal::SIGHUP, &mut buf).unwrap().to_bytes(),
            b".s6-svscan/SIGHUP"
        );
        assert_eq!(
            program_path(Signal::SIGWINCH, &mut buf).unwrap().to_bytes(),
            b".s6-svscan/SIGWINCH"
        );
    }
}
