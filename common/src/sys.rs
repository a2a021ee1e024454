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

/// What the child of [`spawn_sharing_fds`] reads, and where it writes why it failed: it runs
/// in its parent's memory (CLONE_VM) while the parent waits (CLONE_VFORK).
#[repr(C)]
struct Child {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// Set to SIG_DFL before the exec.
    reset: libc::sigset_t,
    /// The mask the program starts with.
    mask: libc::sigset_t,
    close_from: libc::c_uint,
    setsid: bool,
    /// The errno of the failed step, 0 if the exec happened.
    err: libc::c_int,
}

/// The child: drops the fd table it shares with its parent, keeping only the numbers below
/// `close_from` (`close_range` with CLOSE_RANGE_UNSHARE copies just those), then a new
/// session if asked, the dispositions and the mask, then the exec. Only system calls: it runs
/// on the parent's memory, with the parent's thread-local storage (its errno too, which the
/// parent does not read after the spawn).
extern "C" fn spawned_child(arg: *mut libc::c_void) -> libc::c_int {
    /// Says why in the parent's memory, and exits.
    unsafe fn fail(child: &mut Child) -> ! {
        // SAFETY: errno is this thread's (the parent's, which does not read it after the
        // spawn); `_exit` is async-signal-safe.
        unsafe {
            child.err = *libc::__errno_location();
            libc::_exit(127)
        }
    }
    // SAFETY: `arg` is the `Child` of `spawn_sharing_fds`, alive and not touched by the
    // parent, which is suspended (CLONE_VFORK) until this process execs or exits. Each call
    // is async-signal-safe; the pointers it passes were made by the parent (NUL-terminated
    // strings, a null-terminated argv) and stay valid while the parent waits. Every signal
    // is blocked here (the parent blocked them all around the clone), so no handler of the
    // parent's runs on this stack before the dispositions are reset.
    unsafe {
        let child = &mut *arg.cast::<Child>();
        // Without it (a kernel before 5.9), the exec itself unshares the table and closes the
        // CLOEXEC descriptors: the same result, one descriptor at a time.
        let _ = libc::syscall(
            libc::SYS_close_range,
            child.close_from,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_UNSHARE,
        );
        if child.setsid && libc::setsid() < 0 {
            fail(child);
        }
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=libc::SIGRTMAX() {
            if libc::sigismember(&raw const child.reset, sig) == 1 {
                let _ = libc::sigaction(sig, &raw const dfl, ptr::null_mut());
            }
        }
        // glibc's internal signals 32 and 33, which its sigaction refuses to name or show,
        // may be SIG_IGN here, inherited from a parent that glibc's posix_spawn started:
        // the kernel's rt_sigaction takes them. An all-zero kernel sigaction is SIG_DFL with
        // no flags and an empty mask whatever the architecture's field order; the kernel's
        // sigset is SIGRTMAX bits.
        let kernel_dfl = [0_u64; 4];
        let sigset_size = libc::SIGRTMAX() as usize / 8;
        for sig in [32, 33] {
            let _ = libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                kernel_dfl.as_ptr(),
                ptr::null_mut::<libc::c_void>(),
                sigset_size,
            );
        }
        if libc::sigprocmask(libc::SIG_SETMASK, &raw const child.mask, ptr::null_mut()) < 0 {
            fail(child);
        }
        libc::execve(child.path, child.argv, child.envp);
        fail(child)
    }
}

/// Every signal, glibc's two internal ones (32 and 33) included, which `sigfillset` and
/// `sigaddset` refuse to name: posix_spawn's set of signals to reset to SIG_DFL. glibc's spawn
/// child, which runs with every signal blocked, sets a blocked internal signal that is not in
/// that set to SIG_IGN, and SIG_IGN survives the exec: without the two bits every child would
/// start with signals 32 and 33 ignored (C s6 2.12's do).
pub fn every_signal() -> nix::sys::signal::SigSet {
    let mut set = *nix::sys::signal::SigSet::all().as_ref();
    let bits = libc::c_ulong::BITS as usize;
    let words = std::mem::size_of::<libc::sigset_t>() / std::mem::size_of::<libc::c_ulong>();
    let base = (&raw mut set).cast::<libc::c_ulong>();
    for sig in [32_usize, 33] {
        let (word, bit) = ((sig - 1) / bits, (sig - 1) % bits);
        debug_assert!(word < words);
        // SAFETY: glibc's sigset_t is `unsigned long __val[..]` with signal n at bit n - 1,
        // and `word` is within it (1024 bits); `set` is a local, initialised by the copy.
        unsafe { *base.add(word) |= 1 << bit };
    }
    // SAFETY: `set` is a valid, initialised sigset_t (a copy of a full one, two bits more).
    unsafe { nix::sys::signal::SigSet::from_sigset_t_unchecked(set) }
}

/// The signals whose disposition is not SIG_DFL now (ignored, or with a handler): what a
/// child must reset so that it starts with every disposition at its default (exec itself
/// resets handled ones; SIG_IGN survives it). glibc's internal signals, which it refuses to
/// show, are left out.
pub fn non_default_signals() -> libc::sigset_t {
    // SAFETY: `sigemptyset` initialises the set; each `sigaction` is a query only (a null new
    // action) that writes `old`; `sigaddset` takes a valid signal number.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        for sig in 1..=libc::SIGRTMAX() {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &raw mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
            {
                libc::sigaddset(&raw mut set, sig);
            }
        }
        set
    }
}

/// The stack that [`spawn_sharing_fds`]'s children run on while their parent waits: mapped
/// once, under a guard page; its pages are given back after each spawn.
const CHILD_STACK: usize = 64 * 1024;

fn child_stack() -> Result<*mut u8, Errno> {
    static STACK: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if let Some(&base) = STACK.get() {
        return Ok(base as *mut u8);
    }
    let page = 4096;
    // SAFETY: an anonymous private mapping at an address of the kernel's choice, then a
    // PROT_NONE guard on its lowest page: neither touches existing memory.
    let base = unsafe {
        let map = libc::mmap(
            ptr::null_mut(),
            CHILD_STACK + page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        );
        if map == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let _ = libc::mprotect(map, page, libc::PROT_NONE);
        map.cast::<u8>().add(page)
    };
    Ok(*STACK.get_or_init(|| base as usize) as *mut u8)
}

/// `posix_spawn` without file actions, for a daemon that holds many descriptors, all of them
/// CLOEXEC from `close_from` up: see [`crate::spawn::spawn_sharing_fds`]. `reset` are the
/// signals the child sets to SIG_DFL, `mask` its signal mask.
///
/// # Errors
/// E2BIG for more than [`MAX_ARGS`] arguments; the errno of `clone`, or of the child's
/// failed step (the exec's ENOENT, ENOEXEC, EACCES).
pub(crate) fn spawn_sharing_fds(
    path: &CStr,
    argv: &[&CStr],
    reset: &libc::sigset_t,
    mask: &libc::sigset_t,
    setsid: bool,
    close_from: RawFd,
) -> Result<Pid, Errno> {
    if argv.len() > MAX_ARGS {
        return Err(Errno::E2BIG);
    }
    let mut args: [*const c_char; MAX_ARGS + 1] = [ptr::null(); MAX_ARGS + 1];
    for (slot, arg) in args.iter_mut().zip(argv) {
        *slot = arg.as_ptr();
    }
    // One child at a time on the one stack (the daemons are single-threaded; a test process
    // is not).
    static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SPAWNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let stack = child_stack()?;
    let mut child = Child {
        path: path.as_ptr(),
        argv: args.as_ptr(),
        // SAFETY: reading the pointer `environ` (see `posix_spawn` above).
        envp: unsafe { environ },
        reset: *reset,
        mask: *mask,
        close_from: libc::c_uint::try_from(close_from.max(0)).unwrap_or(0),
        setsid,
        err: 0,
    };
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD;
    // No handler of this process may run in the child, on its stack and in this memory,
    // before it has reset the dispositions: it starts with every signal blocked.
    let all: libc::sigset_t = *nix::sys::signal::SigSet::all().as_ref();
    let mut old: libc::sigset_t = all;
    // SAFETY: sigprocmask reads `all` and writes the previous mask into `old`.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, &raw const all, &raw mut old);
    }
    // SAFETY: the child runs `spawned_child` on the dedicated stack (its top, 16-byte
    // aligned, `CHILD_STACK` bytes above a guard page), reading `child` and the argv array,
    // which live in this frame until `clone` returns: with CLONE_VFORK that is once the child
    // has exec'd or exited; and no other child runs on that stack meanwhile (callers
    // hold `SPAWNING`, so no other child is on that stack). Sharing the fd table (CLONE_FILES)
    // is sound because the child changes it only after unsharing it.
    let pid = unsafe {
        libc::clone(
            spawned_child,
            stack.add(CHILD_STACK).cast(),
            flags,
            (&raw mut child).cast(),
        )
    };
    let clone_err = Errno::last();
    // SAFETY: `old` is the mask read above.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, &raw const old, ptr::null_mut());
    }
    if pid < 0 {
        return Err(clone_err);
    }
    // SAFETY: the child is gone from this memory (exec'd or exited): its stack pages can be
    // dropped, and `child.err` read; volatile, since the write came from another process.
    let err = unsafe {
        let _ = libc::madvise(stack.cast(), CHILD_STACK, libc::MADV_DONTNEED);
        ptr::read_volatile(&raw const child.err)
    };
    if err != 0 {
        // It has exited (status 127): reap it here, it was never the caller's.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), None);
        return Err(Errno::from_raw(err));
    }
    Ok(Pid::from_raw(pid))
}

/// One more than the highest descriptor of 3 or more that is open without FD_CLOEXEC (3 if
/// none): a daemon whose own descriptors are all CLOEXEC, called before it makes any that is
/// not, learns where what it inherited ends (see [`crate::spawn::spawn_sharing_fds`]). Reads
/// `/proc/self/fd`, or without /proc tries each number up to the soft fd limit.
pub fn first_fd_above_inherited() -> RawFd {
    let inherited = |fd: RawFd| {
        // SAFETY: F_GETFD only reads the descriptor flags of a number; a closed one is EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        flags >= 0 && flags & libc::FD_CLOEXEC == 0
    };
    let mut highest = 2;
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for fd in dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
        {
            if fd > highest && inherited(fd) {
                highest = fd;
            }
        }
    } else {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft.min(1 << 20));
        let limit = RawFd::try_from(limit).unwrap_or(RawFd::MAX);
        for fd in 3..limit {
            if inherited(fd) {
                highest = fd;
            }
        }
    }
    highest + 1
}
