//! `supervise/death_tally` (SUPERVISE.md, "supervise/death_tally"): a record of each death of
//! run, oldest first, at most `max-death-tally` of them, for `s6-svdt` and
//! `s6-permafailon`.
//!
//! A record is 14 bytes: the TAI64N stamp of the death, the exit code (128 + signal if
//! killed) and the signal (0 if not killed). The file is rewritten atomically (through
//! `death_tally.new`) at each death, by streaming the records kept from the old file into
//! the new one through a small stack buffer: the 4096 records allowed would be 57 kB, which
//! C keeps in a stack array and we keep nowhere, and nothing here touches the heap.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;

use common::diag::SysErr;
use common::warn;
use common::write_all;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open, renameat};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::unlink;

use crate::files::{self, MAX_DEATH_TALLY};
use common::tai::Tai64n;

/// The file, relative to the service directory.
pub const DEATH_TALLY: &CStr = c"supervise/death_tally";
/// Where the new version is written before it is renamed over the old one.
const DEATH_TALLY_NEW: &CStr = c"supervise/death_tally.new";
/// The size of a record.
pub const RECORD: usize = 14;
/// `max-death-tally` when absent or invalid.
pub const DEFAULT_MAX: u32 = 100;
/// The largest `max-death-tally` honoured (`S6_MAX_DEATH_TALLY`).
pub const MAX: u32 = 4096;
/// Records copied per read while rewriting.
const CHUNK: usize = 64;

/// The record of a death with raw wait status `wstat` at `stamp`.
#[must_use]
pub fn pack(stamp: Tai64n, wstat: i32) -> [u8; RECORD] {
    let mut record = [0u8; RECORD];
    record[..12].copy_from_slice(&stamp.pack());
    let (code, sig) = if libc::WIFSIGNALED(wstat) {
        let sig = libc::WTERMSIG(wstat);
        (128 + sig, sig)
    } else {
        (libc::WEXITSTATUS(wstat), 0)
    };
    record[12] = (code & 0xff) as u8;
    record[13] = (sig & 0xff) as u8;
    record
}

/// Creates or empties the file (start-up, and a file whose size is not a whole number of
/// records).
///
/// # Errors
/// The errno of `open`.
pub fn truncate() -> Result<(), Errno> {
    open(
        DEATH_TALLY,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )
    .map(drop)
}

/// Why a death could not be recorded: the warning's verb.
enum Failure {
    Read(Errno),
    Write(Errno),
}

/// Appends the record of a death, keeping the last `max-death-tally`; failures are warnings.
pub fn record(stamp: Tai64n, wstat: i32) {
    let max = files::read_uint(MAX_DEATH_TALLY)
        .unwrap_or(DEFAULT_MAX)
        .min(MAX) as usize;
    if max == 0 {
        return;
    }
    match rewrite(max, &pack(stamp, wstat)) {
        Ok(()) => {}
        Err(Failure::Read(e)) => warn!("unable to read supervise/death_tally: {}", SysErr(e)),
        Err(Failure::Write(e)) => warn!("unable to write supervise/death_tally: {}", SysErr(e)),
    }
}

/// The old records to keep, as (file, offset, count): the last ones, so that with the new
/// one there are at most `max` (s6_dtally_read's rules: a missing file or one whose size is
/// not a multiple of a record is emptied and counts as none).
fn kept(max: usize) -> Result<Option<(File, u64, usize)>, Errno> {
    let fd = match open(
        DEATH_TALLY,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return truncate().map(|()| None),
        Err(e) => return Err(e),
    };
    let size = u64::try_from(fstat(fd.as_fd())?.st_size).unwrap_or(0);
    if size % RECORD as u64 != 0 {
        drop(fd);
        return truncate().map(|()| None);
    }
    let records = usize::try_from(size / RECORD as u64).unwrap_or(usize::MAX);
    // With `max` records already, the oldest goes to make room for the new one.
    let count = records.min(max - 1);
    Ok(Some((
        File::from(fd),
        size - (count * RECORD) as u64,
        count,
    )))
}

fn rewrite(max: usize, new: &[u8; RECORD]) -> Result<(), Failure> {
    let old = kept(max).map_err(Failure::Read)?;
    let out = open(
        DEATH_TALLY_NEW,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )
    .map_err(Failure::Write)?;
    let written = copy(old, &out).and_then(|()| write_all(&out, new).map_err(Failure::Write));
    drop(out);
    let renamed = written.and_then(|()| {
        renameat(
            nix::fcntl::AT_FDCWD,
            DEATH_TALLY_NEW,
            nix::fcntl::AT_FDCWD,
            DEATH_TALLY,
        )
        .map_err(Failure::Write)
    });
    if renamed.is_err() {
        let _ = unlink(DEATH_TALLY_NEW);
    }
    renamed
}

/// Copies the kept records into `out`.
fn copy(old: Option<(File, u64, usize)>, out: &OwnedFd) -> Result<(), Failure> {
    let Some((fd, mut offset, count)) = old else {
        return Ok(());
    };
    let mut left = count * RECORD;
    let mut buf = [0u8; CHUNK * RECORD];
    while left > 0 {
        let want = left.min(buf.len());
        let n = match fd
            .read_at(&mut buf[..want], offset)
            .map_err(|e| SysErr::from(&e).0)
        {
            // The file shrank under us: as allread's short count, EPIPE.
            Ok(0) => return Err(Failure::Read(Errno::EPIPE)),
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Failure::Read(e)),
        };
        write_all(out, &buf[..n]).map_err(Failure::Write)?;
        offset += n as u64;
        left -= n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_the_stamp_then_the_exit_code_then_the_signal() {
        let stamp = Tai64n {
            secs: 0x4000_0000_0000_0001,
            nanos: 2,
        };
        let exited = pack(stamp, 3 << 8);
        assert_eq!(&exited[..12], &stamp.pack());
        assert_eq!(exited[12..], [3, 0]);
        let killed = pack(stamp, libc::SIGKILL);
        assert_eq!(killed[12..], [128 + 9, 9]);
    }
}
