//! The only `unsafe` code of the harness (its tests and benches included): what a test's
//! child runs between fork and exec (`Command::pre_exec`), where only async-signal-safe calls
//! are allowed and nothing may allocate, and the one ioctl nix does not wrap. Each function
//! is safe to call; each block says why it is sound.

use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::{ForkResult, dup2_raw, fork};

fn io_err(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// Makes `cmd`'s child start with fds 0, 1 and 2 only (for a program a test runs by hand,
/// as svscan is started by [`Launch::start`](crate::Launch::start)).
pub fn with_std_fds_only(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs between fork and exec and makes only fcntl and close calls,
    // which are async-signal-safe, without allocating.
    unsafe {
        cmd.pre_exec(|| {
            close_inherited_fds(|_| false);
            Ok(())
        })
    }
}

/// What svscan's process does before its exec ([`Launch`](crate::Launch)): the fds of `plan`
/// (`(source, target)`) put in place and every other inherited fd closed, `ignored` signals
/// set to SIG_IGN, and with `zombie` a child forked that exits at once and is left unreaped.
pub(crate) fn prepare_launch(
    cmd: &mut Command,
    plan: Vec<(RawFd, RawFd)>,
    ignored: Vec<Signal>,
    zombie: bool,
) {
    // SAFETY: the closure runs in the child between fork and exec: only dup2, close,
    // sigaction, fork, _exit and waitid, which are async-signal-safe, reading `plan` and
    // `ignored` without allocating; installing SIG_IGN runs no handler code. The child forked
    // here (single-threaded, as its parent is between fork and exec) only calls _exit.
    unsafe {
        cmd.pre_exec(move || {
            place_fds(&plan)?;
            for sig in &ignored {
                signal(*sig, SigHandler::SigIgn).map_err(io_err)?;
            }
            if zombie {
                match fork().map_err(io_err)? {
                    ForkResult::Child => nix::libc::_exit(0),
                    ForkResult::Parent { child } => {
                        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
                        waitid(Id::Pid(child), flags).map_err(io_err)?;
                    }
                }
            }
            Ok(())
        });
    }
}

/// In the child: puts each `(source, target)` fd in place, without CLOEXEC. Sources are first
/// moved above every target, so that a source numbered like another target is not lost.
/// What a supervisor's process sets up before its exec, in this order (the fd limit last but
/// one, so that the runner's own limit applies to [`with_std_fds_only`]'s closing).
pub(crate) struct ChildSetup {
    pub nproc: Option<u64>,
    /// Acts as this uid and gid, with no supplementary groups.
    pub user: Option<u32>,
    pub nofile: Option<u64>,
    pub umask: Option<u32>,
    pub closed: Vec<RawFd>,
    pub ignored: Vec<Signal>,
    /// `(source, target)`: fds put in place without CLOEXEC (the sources are CLOEXEC).
    pub passed: Vec<(RawFd, RawFd)>,
}

/// Applies `setup` in `cmd`'s child between fork and exec.
pub(crate) fn prepare_child(cmd: &mut Command, setup: ChildSetup) {
    // SAFETY: the closure runs between fork and exec and makes only getrlimit, setrlimit,
    // setgroups, setgid, setuid, umask, dup2, fcntl, close and sigaction calls, which are
    // async-signal-safe, reading `setup` without allocating; SIG_IGN runs no handler code.
    unsafe {
        cmd.pre_exec(move || {
            use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
            if !setup.passed.is_empty() {
                place_fds(&setup.passed)?;
            }
            if let Some(limit) = setup.nproc {
                soft_limit(Resource::RLIMIT_NPROC, limit)?;
            }
            if let Some(id) = setup.user {
                setgroups(&[])?;
                setgid(Gid::from_raw(id))?;
                setuid(Uid::from_raw(id))?;
            }
            if let Some(limit) = setup.nofile {
                soft_limit(Resource::RLIMIT_NOFILE, limit)?;
            }
            if let Some(mask) = setup.umask {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
            }
            for &fd in &setup.closed {
                let _ = nix::unistd::close(fd);
            }
            for &sig in &setup.ignored {
                let _ = signal(sig, SigHandler::SigIgn);
            }
            Ok(())
        });
    }
}

/// Lowers `resource`'s soft limit to `soft` (at most the hard limit).
fn soft_limit(resource: Resource, soft: u64) -> std::io::Result<()> {
    let (_, hard) = getrlimit(resource)?;
    setrlimit(resource, soft.min(hard), hard)?;
    Ok(())
}

fn place_fds(plan: &[(RawFd, RawFd)]) -> std::io::Result<()> {
    const PARK: RawFd = 512;
    for (i, (source, _)) in plan.iter().enumerate() {
        // SAFETY: `source` is an fd the parent owns and kept open across the fork.
        let source = unsafe { BorrowedFd::borrow_raw(*source) };
        // SAFETY: PARK + i is above every fd the harness uses; dup2 replaces whatever is there.
        let parked = unsafe { dup2_raw(source, PARK + i as RawFd) }.map_err(io_err)?;
        let _ = parked.into_raw_fd();
    }
    for (i, (_, target)) in plan.iter().enumerate() {
        // SAFETY: the parked fd was opened above and is closed right after.
        let parked = unsafe { BorrowedFd::borrow_raw(PARK + i as RawFd) };
        // SAFETY: dup2 onto `target` is what the caller asked for; the result is kept open.
        let placed = unsafe { dup2_raw(parked, *target) }.map_err(io_err)?;
        let _ = placed.into_raw_fd();
    }
    for i in 0..plan.len() {
        nix::unistd::close(PARK + i as RawFd).map_err(io_err)?;
    }
    close_inherited_fds(|fd| plan.iter().any(|(_, target)| *target == fd));
    Ok(())
}

/// In a child between fork and exec: closes every fd from 3 up that would survive the exec
/// (no FD_CLOEXEC) and that `keep` does not claim, so that the program starts with only what
/// the test gave it, whatever fds the test runner itself inherited. CLOEXEC fds are left to
/// the exec (std's own error-reporting pipe is one of them).
fn close_inherited_fds(keep: impl Fn(RawFd) -> bool) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use nix::sys::resource::{Resource, getrlimit};
    let limit =
        getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft.min(4096)) as RawFd;
    for fd in (3..limit).filter(|fd| !keep(*fd)) {
        // SAFETY: the borrow lasts for this one fcntl, which fails with EBADF on a closed fd;
        // the child has a single thread, so nothing closes or reuses `fd` meanwhile.
        let flags = fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD);
        if flags.is_ok_and(|f| !FdFlag::from_bits_truncate(f).contains(FdFlag::FD_CLOEXEC)) {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// The number of bytes waiting to be read in the pipe or FIFO `fd` (FIONREAD).
///
/// # Errors
/// The ioctl's, for instance ENOTTY when `fd` is not a pipe, FIFO, socket or terminal.
pub fn bytes_waiting(fd: BorrowedFd<'_>) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut n: nix::libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points to `n`, alive for
    // the call; `fd` is borrowed, so open.
    let r = unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::FIONREAD, &raw mut n) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}
