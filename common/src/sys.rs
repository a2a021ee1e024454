//! Every `unsafe` of `common`, each wrapped once behind a safe function: the `posix_spawn`
//! call with a caller-owned argv array (see [`crate::spawn`]), the C library's error text
//! (`strerror_r`), `getdents64` into a stack buffer (for [`crate::ftrig`]), and the checks on
//! raw descriptor numbers that no owned type can express. Other crates call these; each
//! block says why it is sound.

use std::ffi::{CStr, c_char};
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, RawFd};
use std::ptr;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::libc;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

unsafe extern "C" {
    /// The process environment, passed to children as is (as C's `environ`).
    static environ: *const *const c_char;
}

/// The most arguments [`posix_spawn`] passes (supervise's longest argv is six:
/// `s6-setlock -d LK -- ./run NAME`).
pub const MAX_ARGS: usize = 15;

/// `posix_spawn(path, actions, attr, argv, environ)`: the argv array lives on the stack, so
/// the call makes no heap allocation of its own. `path` is used as is (no PATH search).
///
/// # Errors
/// E2BIG for more than [`MAX_ARGS`] arguments; else the errno of the failed spawn, including
/// exec failures (ENOENT, ENOEXEC, EACCES), which glibc reports through `posix_spawn`'s
/// return value.
pub(crate) fn posix_spawn(
    attr: &PosixSpawnAttr,
    path: &CStr,
    argv: &[&CStr],
    actions: Option<&PosixSpawnFileActions>,
) -> Result<Pid, Errno> {
    if argv.len() > MAX_ARGS {
        return Err(Errno::E2BIG);
    }
    let mut args: [*mut c_char; MAX_ARGS + 1] = [ptr::null_mut(); MAX_ARGS + 1];
    for (slot, arg) in args.iter_mut().zip(argv) {
        *slot = arg.as_ptr().cast_mut();
    }
    let actions = actions.map_or(ptr::null(), |fa| ptr::from_ref(fa).cast());
    let mut pid: libc::pid_t = 0;
    // SAFETY: `PosixSpawnAttr` and `PosixSpawnFileActions` are `repr(transparent)` over the
    // libc types and initialised by their constructors (a null file-actions pointer means
    // none); `path` and every `args` entry point to NUL-terminated strings that outlive the
    // call, and `args` ends with a null pointer (at most MAX_ARGS of its MAX_ARGS + 1 slots
    // are filled); posix_spawn does not write through the argv pointers despite their type;
    // `environ` is the process environment, which only `unsafe` code (`std::env::set_var`)
    // could change concurrently, and none of ours does.
    let r = unsafe {
        libc::posix_spawn(
            &raw mut pid,
            path.as_ptr(),
            actions,
            ptr::from_ref(attr).cast(),
            args.as_ptr(),
            environ.cast(),
        )
    };
    if r == 0 {
        Ok(Pid::from_raw(pid))
    } else {
        Err(Errno::from_raw(r))
    }
}

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)`), with the errno when it is not.
///
/// # Errors
/// EBADF when `fd` is not open.
pub fn check_fd(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_GETFD only reads the descriptor flags of a number; an fd that is not open
    // gives EBADF. No ownership is taken or assumed.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFD) }).map(drop)
}

/// Makes sure fds 0, 1 and 2 are open (skalibs `fd_sanitize`): each closed one becomes
/// `/dev/null`, read-only for 0 and write-only for 1 and 2, so that a daemon's children
/// always get three valid fds and its own opens never land on a standard number.
///
/// # Errors
/// The errno of the `/dev/null` open; EBADF if it did not land on the missing number.
pub fn sanitize_standard_fds() -> Result<(), Errno> {
    for fd in 0..3 {
        if check_fd(fd).is_ok() {
            continue;
        }
        let flags = if fd == 0 {
            OFlag::O_RDONLY
        } else {
            OFlag::O_WRONLY
        };
        // The lowest free number is `fd`, since the ones below it are open. Not CLOEXEC:
        // it is for the children too. It stays open for the process's life, so it is
        // given up as a raw number rather than closed on drop.
        let null = open("/dev/null", flags, Mode::empty())?;
        if null.as_raw_fd() != fd {
            return Err(Errno::EBADF);
        }
        let _ = null.into_raw_fd();
    }
    Ok(())
}

/// Room for any of the C library's error texts (glibc's longest is under 60 bytes).
pub const STRERROR_MAX: usize = 128;

/// The C library's text for `errno` (`strerror_r`: `No such file or directory`, and
/// `Unknown error N` for a number it does not know), written into `buf`: no allocation, so
/// that a daemon's warnings cost none.
pub fn strerror(errno: Errno, buf: &mut [u8; STRERROR_MAX]) -> &str {
    // SAFETY: `buf` is valid for writes of its whole length, which is the length passed;
    // the XSI `strerror_r` (libc binds `__xpg_strerror_r` on glibc) writes a NUL-terminated
    // string of at most that many bytes, and touches nothing else.
    let _ = unsafe { libc::strerror_r(errno as i32, buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    let text = &buf[..len];
    // The C locale's texts are ASCII; keep the valid part of anything else.
    match std::str::from_utf8(text) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or_default(),
    }
}

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
