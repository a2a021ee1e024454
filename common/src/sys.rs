//! The only `unsafe` code of `common`: the system calls nix does not wrap in the form we need.
//! Each function is safe to call; each block says why it is sound.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::libc;

/// Fills `buf` with `linux_dirent64` records of the open directory `dir` (getdents64(2)) and
/// returns how many bytes it filled, 0 at the end of the directory. nix's `Dir` copies every
/// name into a `CString`; the ftrig publisher runs in supervise's steady state and must not
/// allocate, so it reads the records itself into a stack buffer.
pub fn getdents64(dir: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable memory of `buf.len()` bytes, exclusively borrowed for the call,
    // and the kernel writes at most that many bytes into it; `dir` is an open descriptor
    // borrowed for the call. The result is either -1 (errno set) or a byte count ≤ buf.len().
    let r = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    Errno::result(r).map(|n| n as usize)
}
