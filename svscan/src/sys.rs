//! Every `unsafe` of svscan, each wrapped once: spawning with caller-owned argv arrays, and
//! the few operations on raw descriptor numbers (the `-d`/`-X` fds and the standard fds) that
//! no owned type can express.
//!
//! Children are started with `posix_spawn`, never `fork` from the daemon and never
//! `std::process::Command`, with an **empty signal mask and every disposition reset to the
//! default** (spec, "The starter", **fix**: C resets only the mask, and the Rust runtime
//! ignores SIGPIPE before `main`).

use std::ffi::{CStr, c_char};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;

use nix::errno::Errno;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

unsafe extern "C" {
    /// The process environment, passed to children as is (as C's `environ`).
    static environ: *const *const c_char;
}

/// Spawn attributes shared by every child: empty mask, default dispositions. Built once.
pub struct SpawnAttr(PosixSpawnAttr);

impl SpawnAttr {
    /// # Errors
    /// If the C library cannot initialise the attributes (ENOMEM).
    pub fn new() -> Result<Self, Errno> {
        let mut attr = PosixSpawnAttr::init()?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
        )?;
        attr.set_sigmask(&SigSet::empty())?;
        attr.set_sigdefault(&SigSet::all())?;
        Ok(SpawnAttr(attr))
    }
}

/// The fd moves of one child (dup2 pairs `(from, to)`), built once and reused: glibc
/// allocates when actions are added, so a supervisor that respawns with the same moves costs
/// no allocation.
pub struct FileActions {
    moves: [(RawFd, RawFd); 2],
    len: usize,
    actions: PosixSpawnFileActions,
}

impl FileActions {
    /// At most two moves (a pipe end, the console holder).
    ///
    /// # Errors
    /// If the C library cannot record the actions (ENOMEM).
    pub fn new(moves: &[(RawFd, RawFd)]) -> Result<Self, Errno> {
        let mut actions = PosixSpawnFileActions::init()?;
        let mut stored = [(-1, -1); 2];
        for (slot, &(from, to)) in stored.iter_mut().zip(moves) {
            actions.add_dup2(from, to)?;
            *slot = (from, to);
        }
        Ok(FileActions {
            moves: stored,
            len: moves.len().min(2),
            actions,
        })
    }

    /// Whether these are exactly `moves`.
    #[must_use]
    pub fn is(&self, moves: &[(RawFd, RawFd)]) -> bool {
        self.moves[..self.len] == *moves
    }
}

impl std::fmt::Debug for FileActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.moves[..self.len]).finish()
    }
}

/// Starts `path` with `argv` (at most two arguments), the inherited environment and the
/// fd moves `actions`. `path` is used as is (no PATH search).
///
/// Makes no heap allocation of its own: the argv array lives on the stack.
///
/// # Errors
/// The errno of the failed spawn, including exec failures (ENOENT, ENOEXEC, EACCES), which
/// glibc reports through `posix_spawn`'s return value.
pub fn spawn(
    attr: &SpawnAttr,
    path: &CStr,
    argv: &[&CStr],
    actions: Option<&FileActions>,
) -> Result<Pid, Errno> {
    let mut args: [*mut c_char; 3] = [ptr::null_mut(); 3];
    for (slot, arg) in args.iter_mut().zip(argv.iter().take(2)) {
        *slot = arg.as_ptr().cast_mut();
    }
    let actions = actions.map_or(ptr::null(), |fa| ptr::from_ref(&fa.actions).cast());
    let mut pid: nix::libc::pid_t = 0;
    // SAFETY: `PosixSpawnAttr` and `PosixSpawnFileActions` are `repr(transparent)` over the
    // libc types and initialised by their constructors (a null file-actions pointer means
    // none); `path` and every `args` entry point to NUL-terminated strings that outlive the
    // call, and `args` ends with a null pointer (three slots, at most two filled); `environ`
    // is the process environment, which nothing in svscan modifies.
    let r = unsafe {
        nix::libc::posix_spawn(
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

/// Whether `fd` is an open descriptor (`fcntl(F_GETFD)`), with the errno when it is not.
///
/// # Errors
/// EBADF when `fd` is not open.
pub fn check_fd(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid fd gives EBADF.
    Errno::result(unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) }).map(drop)
}

/// Sets FD_CLOEXEC on a raw descriptor that svscan inherited (`-X`).
///
/// # Errors
/// The errno of `fcntl`.
pub fn set_cloexec(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: F_SETFD with FD_CLOEXEC changes only that flag of the descriptor.
    Errno::result(unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) })
        .map(drop)
}

/// Takes ownership of an inherited descriptor number (`-d`), so that dropping it closes it.
///
/// The caller must have checked with [`check_fd`] that `fd` is open and at least 3.
#[must_use]
pub fn adopt_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the fd was checked open and is ≥ 3, so it is none of the standard fds that other
    // code uses; svscan holds no other handle to this number (it came from the command line).
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `dup2(from, to)` on raw numbers: for the standard fds and the console holder, which are
/// never wrapped in an `OwnedFd` (dropping one would close fd 0, 1 or 2).
///
/// # Errors
/// The errno of `dup2`.
pub fn dup2_raw(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 only changes the descriptor table; `to` is a standard fd that svscan owns.
    Errno::result(unsafe { nix::libc::dup2(from, to) }).map(drop)
}

/// Closes a raw descriptor number (the console holder after it is moved back to fd 2).
pub fn close_raw(fd: RawFd) {
    // SAFETY: called once for a descriptor that no `OwnedFd` owns.
    unsafe {
        nix::libc::close(fd);
    }
}

/// Restores SIGPIPE's default disposition before svscan execs its finish or crash program
/// (the Rust runtime ignores it, and an ignored signal stays ignored across exec).
pub fn default_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; svscan is single-threaded.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// Gives SIGCHLD its default disposition. svscan may have been started with it ignored (an
/// ignored signal stays ignored across exec), and then the kernel reaps children by itself
/// and sends no SIGCHLD, even while SIGCHLD is blocked into the signalfd: svscan would never
/// see a supervisor die, nor restart it.
///
/// # Errors
/// The errno of `sigaction`.
pub fn default_sigchld() -> Result<(), Errno> {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_DFL runs no handler code, so no async-signal-safety question
    // arises; svscan is single-threaded.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.map(drop)
}

/// Gives the heap's free pages back to the kernel. The table grows by doubling, and the
/// blocks it outgrew stay dirty in the heap otherwise: after a scan that grew it, this keeps
/// svscan's resident memory at what its load needs.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointer of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
