//! Every `unsafe` of supervise, each wrapped once: spawning with caller-owned argv arrays,
//! the raw wait status, and the operations on descriptor numbers that no owned type can
//! express (fds 0 and 1 for "close", the lock-fd helper's fd LK, which may be any number).
//!
//! Children are started with `posix_spawn`, never `fork` and never `std::process::Command`,
//! in a new session, with an **empty signal mask and every disposition reset to the default**
//! (SUPERVISE.md, "Starting run", step 3, **fix**: C resets only the mask and caught signals,
//! and the Rust runtime ignores SIGPIPE before `main`).

use std::ffi::{CStr, c_char};
use std::os::fd::RawFd;
use std::ptr;

use nix::errno::Errno;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::{SigHandler, SigSet, Signal, signal};
use nix::unistd::Pid;

unsafe extern "C" {
    /// The process environment, passed to children as is (as C's `environ`).
    static environ: *const *const c_char;
}

/// INTERIM (common::spawn): spawn attributes: new session, empty mask, default dispositions.
pub struct SpawnAttr(PosixSpawnAttr);

impl SpawnAttr {
    /// # Errors
    /// If the C library cannot initialise the attributes (ENOMEM).
    pub fn new() -> Result<Self, Errno> {
        let mut attr = PosixSpawnAttr::init()?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
                | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF
                | PosixSpawnFlags::from_bits_retain(libc::POSIX_SPAWN_SETSID.into()),
        )?;
        attr.set_sigmask(&SigSet::empty())?;
        attr.set_sigdefault(&SigSet::all())?;
        Ok(SpawnAttr(attr))
    }
}

/// INTERIM (common::spawn): the dup2 moves of a child, built once and reused.
pub struct FileActions {
    moves: [(RawFd, RawFd); 1],
    len: usize,
    actions: PosixSpawnFileActions,
}

impl FileActions {
    /// # Errors
    /// If the C library refuses a move (EBADF for a target beyond the fd limit, ENOMEM).
    pub fn new(moves: &[(RawFd, RawFd)]) -> Result<Self, Errno> {
        let mut actions = PosixSpawnFileActions::init()?;
        let mut stored = [(-1, -1); 1];
        for (slot, &(from, to)) in stored.iter_mut().zip(moves) {
            actions.add_dup2(from, to)?;
            *slot = (from, to);
        }
        Ok(FileActions {
            moves: stored,
            len: moves.len().min(1),
            actions,
        })
    }

    #[must_use]
    pub fn is(&self, moves: &[(RawFd, RawFd)]) -> bool {
        self.moves[..self.len] == *moves
    }
}

/// INTERIM (common::spawn): starts `path` with `argv` (at most four arguments), the inherited
/// environment and `actions`. No heap allocation: the argv array lives on the stack.
///
/// # Errors
/// The errno of the failed spawn, exec failures included (glibc reports them).
pub fn spawn(
    attr: &SpawnAttr,
    path: &CStr,
    argv: &[&CStr],
    actions: Option<&FileActions>,
) -> Result<Pid, Errno> {
    let mut args: [*mut c_char; 5] = [ptr::null_mut(); 5];
    for (slot, arg) in args.iter_mut().zip(argv.iter().take(4)) {
        *slot = arg.as_ptr().cast_mut();
    }
    let actions = actions.map_or(ptr::null(), |fa| ptr::from_ref(&fa.actions).cast());
    let mut pid: libc::pid_t = 0;
    // SAFETY: `PosixSpawnAttr` and `PosixSpawnFileActions` are `repr(transparent)` over the
    // libc types and initialised by their constructors (a null file-actions pointer means
    // none); `path` and every `args` entry point to NUL-terminated strings that outlive the
    // call, and `args` ends with a null pointer (five slots, at most four filled); `environ`
    // is the process environment, which nothing in supervise modifies.
    let r = unsafe {
        libc::posix_spawn(
            &raw mut pid,
            path.as_ptr(),
            actions,
            ptr::from_ref(&attr.0).cast(),
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

/// `waitpid(pid, WNOHANG)`: the raw wait status when `pid` has died, `None` while it lives.
/// The raw status is what the status file stores (its low 16 bits) and what finish's
/// arguments are computed from, so it is not decoded into nix's `WaitStatus`.
///
/// # Errors
/// The errno of `waitpid` (ECHILD when `pid` is not a child).
pub fn wait_nohang(pid: Pid) -> Result<Option<i32>, Errno> {
    let mut wstat: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes the status through a valid pointer to a local.
        let r = unsafe { libc::waitpid(pid.as_raw(), &raw mut wstat, libc::WNOHANG) };
        match Errno::result(r) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(wstat)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)`).
#[must_use]
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid fd gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Points the standard descriptor `fd` (0 or 1, for "close") at /dev/null, opened with
/// `flags`, not CLOEXEC (children inherit it). No `OwnedFd` ever owns these numbers.
///
/// # Errors
/// The errno of `open` or `dup2`.
pub fn reopen_dev_null(fd: RawFd, flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: `fd` is 0 or 1, never wrapped in an `OwnedFd`; closing it only frees the number
    // for the open below, which takes the lowest free one.
    unsafe {
        libc::close(fd);
    }
    // SAFETY: the path is a NUL-terminated literal.
    let null = Errno::result(unsafe { libc::open(c"/dev/null".as_ptr(), flags) })?;
    if null != fd {
        // A lower number was free too (only if fd 0 was closed by someone else): put it in
        // place anyway.
        // SAFETY: dup2 onto a standard descriptor supervise owns; `null` is ours to close.
        let r = Errno::result(unsafe { libc::dup2(null, fd) });
        // SAFETY: `null` was opened just above and is not used again.
        unsafe {
            libc::close(null);
        }
        r?;
    }
    Ok(())
}

/// `kill(pid, sig)` with a raw signal number (a numeric `down-signal` is not range-checked,
/// as in C: an invalid one just fails). Errors are ignored, as the table says.
pub fn kill_raw(pid: Pid, sig: libc::c_int) {
    // SAFETY: kill takes plain integers; a bad pid or signal is an error return, nothing else.
    unsafe {
        libc::kill(pid.as_raw(), sig);
    }
}

/// Gives `sig` its default disposition: SIGCHLD at start-up (inherited as ignored, the kernel
/// would reap run behind supervise's back), SIGPIPE in the lock-fd helper before it execs
/// `./run` (the Rust runtime ignores it, and an ignored signal stays ignored across exec).
///
/// # Errors
/// The errno of `sigaction`.
pub fn default_disposition(sig: Signal) -> Result<(), Errno> {
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; supervise is single-threaded.
    unsafe { signal(sig, SigHandler::SigDfl) }.map(drop)
}

/// The lock-fd helper's step: puts `fd` on number `lk` (dup2, which leaves the copy without
/// CLOEXEC) and closes `fd`, unless it already is `lk`, in which case its CLOEXEC is cleared.
/// Done **before** the lock is taken: closing any descriptor of a file drops the process's
/// POSIX locks on it, which is the bug of `s6-setlock -d` that this avoids.
///
/// # Errors
/// The errno of `dup2` or `fcntl`.
pub fn move_fd_to(fd: RawFd, lk: RawFd) -> Result<(), Errno> {
    if fd == lk {
        // SAFETY: F_SETFD with 0 only clears FD_CLOEXEC on a descriptor the helper opened.
        return Errno::result(unsafe { libc::fcntl(lk, libc::F_SETFD, 0) }).map(drop);
    }
    // SAFETY: dup2 onto `lk` replaces whatever the helper has there, which is what lock-fd
    // asks for (as s6-setlock's fd_move); the helper owns both numbers and execs right after.
    Errno::result(unsafe { libc::dup2(fd, lk) })?;
    // SAFETY: `fd` was opened by the helper and is not used again.
    unsafe {
        libc::close(fd);
    }
    Ok(())
}

/// Takes a whole-file POSIX write lock on the raw descriptor `lk`, waiting for it (F_SETLKW).
///
/// # Errors
/// The errno of `fcntl` other than EINTR.
pub fn lock_wait_raw(lk: RawFd) -> Result<(), Errno> {
    let fl = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    loop {
        // SAFETY: F_SETLKW reads a valid flock struct; `lk` is a descriptor of the helper.
        let r = unsafe { libc::fcntl(lk, libc::F_SETLKW, &raw const fl) };
        match Errno::result(r) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}
