//! The files of the service directory that supervise reads while it runs (SUPERVISE.md,
//! "Files in the service directory read by supervise"), and the `down` file that `D`, `U`
//! and `Q` create or remove.
//!
//! Each is read afresh when its rule says (at each start, each death, each stop), so a change
//! takes effect without a restart of supervise. A file that is absent gives the default
//! silently; one that cannot be read, or does not hold a valid value, gives a warning and the
//! default. Everything is read into stack buffers: these run in the steady state.
#![forbid(unsafe_code)]

use std::ffi::CStr;

use common::diag::SysErr;
use common::warn;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::{read, unlink};

use common::sig;

/// `lock-fd`: the service's lock on fd N (see `start`).
pub const LOCK_FD: &CStr = c"lock-fd";
/// `notification-fd`: readiness on fd N.
pub const NOTIFICATION_FD: &CStr = c"notification-fd";
/// `timeout-kill`: ms after the down signal before SIGKILL.
pub const TIMEOUT_KILL: &CStr = c"timeout-kill";
/// `timeout-finish`: ms finish may run.
pub const TIMEOUT_FINISH: &CStr = c"timeout-finish";
/// `max-death-tally`: records kept in `supervise/death_tally`.
pub const MAX_DEATH_TALLY: &CStr = c"max-death-tally";
/// `down-signal`: the signal that stops the service.
pub const DOWN_SIGNAL: &CStr = c"down-signal";
/// `down`: the service is normally down.
pub const DOWN: &CStr = c"down";

/// At most this many bytes of a number file are read (skalibs `UINT_FMT`).
const UINT_FMT: usize = 11;
/// At most this many bytes of `down-signal` are read.
const SIGNAL_MAX: usize = 15;

/// Reads at most `buf.len()` bytes of `file` (opened non-blocking, as skalibs'
/// `openreadnclose_nb`) and returns them up to the first newline. `None` when it is absent
/// (silently) or unreadable (with the warning `unable to open FILE: ERR`).
fn read_file<'b>(file: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let result = open(
        file,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .and_then(|fd| {
        let mut len = 0;
        while len < buf.len() {
            match read(&fd, &mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(len)
    });
    match result {
        Ok(len) => {
            let line = buf[..len].split(|&b| b == b'\n').next().unwrap_or(&[]);
            Some(line)
        }
        Err(Errno::ENOENT) => None,
        Err(e) => {
            warn!("unable to open {}: {}", name(file), SysErr(e));
            None
        }
    }
}

/// A file name of this module, for messages (they are all ASCII constants).
fn name(file: &CStr) -> &str {
    file.to_str().unwrap_or("?")
}

/// skalibs `uint0_scan`: the whole of `text` is an unsigned 32-bit decimal (no sign, no
/// spaces, no overflow).
#[must_use]
pub fn uint0_scan(text: &[u8]) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u32, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
        } else {
            None
        }
    })
}

/// A "uint" file: absent → `None` silently; unreadable → warning, `None`; not a number →
/// warning `invalid FILE`, `None`.
#[must_use]
pub fn read_uint(file: &CStr) -> Option<u32> {
    let mut buf = [0u8; UINT_FMT];
    let text = read_file(file, &mut buf)?;
    let value = uint0_scan(text);
    if value.is_none() {
        warn!("invalid {}", name(file));
    }
    value
}

/// The signal that stops the service, read now from `down-signal` (default SIGTERM; a name
/// as skalibs' `sig0_scan` takes it, or a number, not range-checked).
#[must_use]
pub fn down_signal() -> i32 {
    let mut buf = [0u8; SIGNAL_MAX];
    let Some(text) = read_file(DOWN_SIGNAL, &mut buf) else {
        return libc::SIGTERM;
    };
    match std::str::from_utf8(text).ok().and_then(sig::parse) {
        Some(sig) => sig,
        None => {
            warn!("invalid down-signal");
            libc::SIGTERM
        }
    }
}

/// Whether `down` exists (start-up; an error other than ENOENT is the caller's fatal).
///
/// # Errors
/// The errno of `access` other than ENOENT.
pub fn down_exists() -> Result<bool, Errno> {
    match nix::unistd::access(DOWN, nix::unistd::AccessFlags::F_OK) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `D`, `Q`: creates `down`, empty (truncating it if it exists).
pub fn add_down() {
    let r = open(
        DOWN,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    );
    if let Err(e) = r {
        warn!("unable to create ./down file: {}", SysErr(e));
    }
}

/// `U`: removes `down`; its absence is not an error.
pub fn del_down() {
    match unlink(DOWN) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => warn!("unable to unlink ./down file: {}", SysErr(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint0_scan_takes_only_a_whole_unsigned_32_bit_decimal() {
        assert_eq!(uint0_scan(b"0"), Some(0));
        assert_eq!(uint0_scan(b"3"), Some(3));
        assert_eq!(uint0_scan(b"4294967295"), Some(u32::MAX));
        assert_eq!(uint0_scan(b"4294967296"), None);
        assert_eq!(uint0_scan(b""), None);
        assert_eq!(uint0_scan(b" 3"), None);
        assert_eq!(uint0_scan(b"3 "), None);
        assert_eq!(uint0_scan(b"+3"), None);
        assert_eq!(uint0_scan(b"-3"), None);
        assert_eq!(uint0_scan(b"3x"), None);
    }
}
