//! The end-to-end harness of svscan: a scan directory in a temp dir, svscan started on it with
//! the `supervise-stub` test double in place of `s6-supervise`, and the stub's event log to
//! wait on. Every scenario of `tests/tests.rs` is written with it, and the same scenarios run
//! against the C s6-svscan (see "The svscan under test"). It is not a place for assertions
//! about svscan: those live in the scenarios, next to the spec line they prove.
//!
//! # Writing a scenario
//! ```no_run
//! use integration_tests::{DEADLINE, Fixture};
//!
//! let fx = Fixture::new();
//! fx.logged("a"); // a/ and a/log/
//! let mut sv = fx.start(); // svscan -d 3, waits for the readiness newline
//! let events = sv.wait_for("a's greeting read by a/log", DEADLINE, |e| {
//!     e.pid_of("a").is_some_and(|pid| {
//!         e.lines("a/log").contains(&integration_tests::Events::greeting("a", pid).as_str())
//!     })
//! });
//! assert_eq!(events.starts("a").len(), 1);
//! sv.ctl("t");
//! assert!(sv.wait_exit(DEADLINE).success());
//! // Dropping `sv` kills whatever is left, by pid, even when the test panicked.
//! ```
//! A scenario builds its directory ([`Fixture`]), starts svscan ([`Fixture::start`] or
//! [`Fixture::svscan`] for options), acts ([`Svscan::ctl`], [`Svscan::signal`], changes to the
//! directory), waits with a deadline ([`Svscan::wait_for`], [`Svscan::wait_exit`],
//! [`wait_until`]) and asserts. There are no sleeps: every wait polls the event log or `/proc`
//! every few milliseconds until its deadline, and a timeout panics with the records so far and
//! svscan's stderr. Timing rules (the 1 s respawn throttle) are checked on the timestamps of
//! the records (`mono_ns`, [`Event::secs_since`]) with [`assert_delay`]'s tolerance, never by
//! sleeping. Each fixture is its own temp dir, so scenarios run in parallel.
//!
//! The pieces: [`Fixture`] (the directory; [`StubControl`] files), [`Launch`] (options, extra
//! fds, environment), [`Svscan`] (the running daemon and its guard; its stdout and stderr go
//! to files in the temp dir), [`Events`] and [`Event`] (the records, with look-ups such as
//! `starts`, `lines`, `signals_to`, `running`, `line_numbers`), [`procfs`] (zombie children,
//! fd count, existence of a pid), [`with_std_fds_only`] (for a program a test spawns itself),
//! [`program::run`] (such a program run to its end within a deadline, its stderr kept).
//!
//! # The svscan under test
//! By default, ours: the `svscan` binary next to the test executable (`target/debug`), given
//! the stub with `--supervise`. The environment variable `SVSCAN_UNDER_TEST` names another
//! binary (best absolute: cargo runs the tests in the `integration-tests` directory); when its
//! file name starts with `s6-` it is taken for skarnet's C s6-svscan, which
//! hard-codes `s6-supervise` in its own directory: the harness then runs it as `unshare -m
//! --propagation private sh -c 'mount --bind STUB DIR/s6-supervise && exec DIR/s6-svscan
//! ARGS'` (root needed), which keeps the pid svscan's. [`implementation`] tells a scenario
//! which one runs, for the places where the C tool legitimately differs (C 2.11, Debian's, has
//! `-c` but not `-C`, and restarts a dead supervisor 1 s after its death).
//!
//! The binaries (`supervise-stub`, `svscan`, `svscanctl`) are not dependencies of this crate:
//! `cargo test --workspace` builds them; `cargo test -p integration-tests` alone does not, and
//! may run stale ones.
//!
//! # The stub
//! svscan runs it as `s6-supervise NAME` in the scan dir; it appends one JSON record per event
//! to the file named by `SUPERVISE_STUB_EVENTS` (the harness sets it: `Fixture::events_path`).
//! Records: `start` (ppid, argv, cwd, fds, signal masks), `signal`, `line`/`partial`/`eof`
//! (a logger's stdin), `epipe`, `orphan`, `reaped`, `error`, `exit`; each with `ev`, `name`,
//! `pid`, `mono_ns`, `real_ns` ([`Event`]). A service (NAME without `/`) writes
//! `hello from NAME pid PID` to its stdout and exits on SIGTERM or SIGHUP; a logger (NAME with
//! `/`) records every line of its stdin, exits at EOF after a SIGHUP and at once on SIGTERM.
//! Files in `NAME/` change that ([`StubControl`], [`Fixture::control`]): `stub-exit`,
//! `stub-exit-after`, `stub-exit-delay`, `stub-ignore-term`, `stub-ignore-hup`, `stub-logger`,
//! `stub-lines`, `stub-lines-forever`, `stub-spawn-orphan`. The `supervise-stub` crate's doc
//! has the details of each record and file.
//!
//! # Teardown
//! svscan runs in a process group of its own. Dropping the [`Svscan`] guard stops that group
//! while svscan is still unreaped (so the group id cannot have been reused), lists svscan's
//! descendants, kills the group, then kills each descendant and every process of the event log
//! (stubs and orphans, which may have left the group or the tree) whose `/proc` start time
//! still matches, and reaps svscan.

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::stat::Mode;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::time::{ClockId, clock_gettime};
use nix::unistd::{Pid, dup2_raw};

pub mod alloc;
pub mod events;
pub mod json;
pub mod pidns;
pub mod procfs;
pub mod program;
pub mod service;
pub mod wrapper;

pub use events::{Event, EventLog, Events, FdInfo};

/// The deadline for waits that succeed when things work: long enough for a loaded 2-core CI
/// machine, and only ever reached by a failing test.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// How often waits look at the event log or `/proc`.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// The environment variable choosing the svscan binary.
pub const UNDER_TEST_ENV: &str = "SVSCAN_UNDER_TEST";
/// The environment variable naming the stub's event log.
pub const STUB_EVENTS_ENV: &str = "SUPERVISE_STUB_EVENTS";

// ------------------------------------------------------------------ binaries

/// The directory of the workspace's binaries: the test executable lives in `target/debug/deps`.
#[must_use]
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("test executable has a directory");
    match dir.file_name() {
        Some(n) if n == "deps" => dir.parent().unwrap_or(dir).to_owned(),
        _ => dir.to_owned(),
    }
}

/// A binary of this workspace (`supervise-stub`, `svscan`, `svscanctl`) next to the tests.
///
/// # Panics
/// If it has not been built.
#[must_use]
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` (or `cargo test --workspace`, which builds it)",
        path.display()
    );
    path
}

/// A program of Debian's `s6` package (`s6-supervise`, `s6-svstat`, ...) for interop
/// scenarios: `None`, with a note, when it is not installed, so the scenario can return early;
/// under CI (`CI` set) its absence is a failure instead.
///
/// # Panics
/// If it is missing and `CI` is set.
#[must_use]
pub fn real_s6(program: &str) -> Option<PathBuf> {
    let path = Path::new("/usr/bin").join(program);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: CI must install Debian's s6 (apt-get install -y s6)",
        path.display()
    );
    eprintln!(
        "skipped: {} is not installed (apt-get install s6)",
        path.display()
    );
    None
}

/// Which svscan the scenarios run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// This workspace's `svscan`.
    Ours,
    /// skarnet's C s6-svscan (Debian's is 2.11).
    C,
}

/// The svscan binary under test and what it is.
#[derive(Clone, Debug)]
pub struct UnderTest {
    pub path: PathBuf,
    pub implementation: Implementation,
}

/// The svscan under test: `SVSCAN_UNDER_TEST` if set, else our `svscan` next to the tests.
///
/// # Panics
/// If our binary is chosen and has not been built.
pub fn under_test() -> &'static UnderTest {
    static UNDER_TEST: OnceLock<UnderTest> = OnceLock::new();
    UNDER_TEST.get_or_init(|| match std::env::var_os(UNDER_TEST_ENV) {
        Some(path) if !path.is_empty() => {
            // svscan runs in the scan dir: a relative path must not be taken from there.
            let path = std::path::absolute(&path).unwrap_or_else(|_| PathBuf::from(path));
            assert!(
                path.is_file(),
                "{UNDER_TEST_ENV}={} is not a file (a relative path is taken from the \
                 integration-tests directory, where cargo runs the tests)",
                path.display()
            );
            let is_c = path
                .file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("s6-"));
            let implementation = if is_c {
                Implementation::C
            } else {
                Implementation::Ours
            };
            UnderTest {
                path,
                implementation,
            }
        }
        _ => UnderTest {
            path: binary("svscan"),
            implementation: Implementation::Ours,
        },
    })
}

/// Which implementation the scenarios run against.
pub fn implementation() -> Implementation {
    under_test().implementation
}

// ------------------------------------------------------------------ waiting

/// CLOCK_MONOTONIC now, in nanoseconds: the clock of the records' `mono_ns`.
#[must_use]
pub fn now_mono_ns() -> i64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("clock_gettime");
    t.tv_sec() * 1_000_000_000 + t.tv_nsec()
}

/// How much earlier than due a timed record may look: a stub stamps its records after its exec
/// and start-up, which a loaded machine delays by a varying amount, so the gap between two
/// starts can come out shorter than the gap between the two spawns.
pub const EARLY_SLACK: f64 = 0.15;
/// How much later than due a timed record may be: scheduling on a loaded 2-core machine.
pub const LATE_SLACK: f64 = 0.5;

/// Asserts that a delay measured on record stamps (in seconds) is `expected`, within
/// [`EARLY_SLACK`] and [`LATE_SLACK`].
///
/// # Panics
/// If it is not, naming `what`.
pub fn assert_delay(what: &str, secs: f64, expected: f64) {
    assert!(
        (expected - EARLY_SLACK..=expected + LATE_SLACK).contains(&secs),
        "{what}: {secs:.3} s, expected {expected:.3} s (-{EARLY_SLACK}, +{LATE_SLACK})"
    );
}

/// Sends `sig` to `pid` (a stub's, from its records).
///
/// # Panics
/// If the process is gone.
pub fn signal_pid(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
}

/// Polls `done` every [`POLL_INTERVAL`] until it holds.
///
/// # Panics
/// If it does not hold within `within`.
pub fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

// ------------------------------------------------------------------ the scan directory

/// A behaviour of the stub, asked for by a file in its service directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubControl {
    /// `stub-exit`: exit with this code right after the start record.
    Exit(i32),
    /// `stub-exit-after`: exit 0 after this long.
    ExitAfter(Duration),
    /// `stub-exit-delay`: on a signal that ends it, linger this long first.
    ExitDelay(Duration),
    /// `stub-ignore-term`: record SIGTERM and keep running.
    IgnoreTerm,
    /// `stub-ignore-hup`: record SIGHUP and keep running.
    IgnoreHup,
    /// `stub-logger`: read stdin and behave as a logger whatever the name.
    Logger,
    /// `stub-lines`: write this many numbered lines to stdout, then keep running.
    Lines(u64),
    /// `stub-lines-forever`: write numbered lines until the end, one per interval (zero: as
    /// fast as stdout takes them).
    LinesForever(Duration),
    /// `stub-spawn-orphan`: start a child that outlives the stub, for this long (`None`:
    /// until killed).
    SpawnOrphan(Option<Duration>),
}

impl StubControl {
    /// The file name in the service directory.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            StubControl::Exit(_) => "stub-exit",
            StubControl::ExitAfter(_) => "stub-exit-after",
            StubControl::ExitDelay(_) => "stub-exit-delay",
            StubControl::IgnoreTerm => "stub-ignore-term",
            StubControl::IgnoreHup => "stub-ignore-hup",
            StubControl::Logger => "stub-logger",
            StubControl::Lines(_) => "stub-lines",
            StubControl::LinesForever(_) => "stub-lines-forever",
            StubControl::SpawnOrphan(_) => "stub-spawn-orphan",
        }
    }

    /// The file's contents.
    #[must_use]
    pub fn contents(self) -> String {
        match self {
            StubControl::Exit(code) => code.to_string(),
            StubControl::ExitAfter(d)
            | StubControl::ExitDelay(d)
            | StubControl::LinesForever(d)
            | StubControl::SpawnOrphan(Some(d)) => d.as_millis().to_string(),
            StubControl::Lines(n) => n.to_string(),
            StubControl::IgnoreTerm
            | StubControl::IgnoreHup
            | StubControl::Logger
            | StubControl::SpawnOrphan(None) => String::new(),
        }
    }
}

/// A temp dir holding the scan dir (`scan/`), the stub's event log and svscan's output.
/// Path arguments of its methods are relative to the scan dir. Every method panics on failure.
#[derive(Debug)]
pub struct Fixture {
    tmp: tempfile::TempDir,
    scan: PathBuf,
    events: PathBuf,
    launches: Cell<u32>,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Fixture {
    /// An empty scan dir.
    #[must_use]
    pub fn new() -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("svscan-test.")
            .tempdir()
            .expect("tempdir");
        let scan = tmp.path().join("scan");
        std::fs::create_dir(&scan).expect("mkdir scan");
        let events = tmp.path().join("events.jsonl");
        File::create(&events).expect("create event log");
        Fixture {
            tmp,
            scan,
            events,
            launches: Cell::new(0),
        }
    }

    /// The temp dir around the scan dir (for files that must not be in the scan dir).
    #[must_use]
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// The scan dir (absolute).
    #[must_use]
    pub fn scandir(&self) -> &Path {
        &self.scan
    }

    /// `rel` in the scan dir.
    #[must_use]
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.scan.join(rel)
    }

    /// The stub's event log.
    #[must_use]
    pub fn events_path(&self) -> &Path {
        &self.events
    }

    /// A service directory without a logger.
    pub fn service(&self, name: &str) -> &Self {
        self.mkdir(name)
    }

    /// A service directory with a logger (`name/log`).
    pub fn logged(&self, name: &str) -> &Self {
        self.mkdir(Path::new(name).join("log"))
    }

    /// A directory (and its parents).
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        self
    }

    /// A file with these contents.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.path(rel);
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// An executable script (mode 0755), e.g. `.s6-svscan/finish`.
    pub fn script(&self, rel: impl AsRef<Path>, contents: &str) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(&rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        self.write(&rel, contents);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
        self
    }

    /// A symbolic link `rel` pointing to `target` (taken as is: relative to `rel`'s directory
    /// unless absolute).
    pub fn symlink(&self, target: impl AsRef<Path>, rel: impl AsRef<Path>) -> &Self {
        let p = self.path(rel);
        std::os::unix::fs::symlink(target.as_ref(), &p)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", p.display()));
        self
    }

    /// Renames `from` to `to`.
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> &Self {
        let (from, to) = (self.path(from), self.path(to));
        std::fs::rename(&from, &to)
            .unwrap_or_else(|e| panic!("rename {} to {}: {e}", from.display(), to.display()));
        self
    }

    /// Takes service `name` out of the scan dir: moved beside it, not deleted, because a
    /// deleted directory's inode could be reused at once by the next one the test makes,
    /// which svscan would take for `name` renamed ("Services are identified by (dev, inode)").
    pub fn take_out(&self, name: &str) -> &Self {
        self.rename(name, format!("../removed-{name}"))
    }

    /// Removes a file, a symlink, or a directory with its contents.
    pub fn remove(&self, rel: impl AsRef<Path>) -> &Self {
        let p = self.path(rel);
        let meta =
            std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
        let result = if meta.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        result.unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
        self
    }

    /// Asks the stub started for `name` (`svc` or `svc/log`) for a behaviour; takes effect at
    /// its next start.
    pub fn control(&self, name: &str, control: StubControl) -> &Self {
        self.mkdir(name);
        self.write(
            Path::new(name).join(control.file_name()),
            control.contents(),
        )
    }

    /// A launch of the svscan under test, to add options to.
    #[must_use]
    pub fn svscan(&self) -> Launch<'_> {
        Launch {
            fx: self,
            args: Vec::new(),
            env: Vec::new(),
            fds: Vec::new(),
            readiness: true,
            supervise: None,
            under: None,
        }
    }

    /// svscan with no option but `-d 3`, ready for commands.
    #[must_use]
    pub fn start(&self) -> Svscan<'_> {
        self.svscan().start()
    }
}

// ------------------------------------------------------------------ starting svscan

/// How svscan is to be started: options, environment, extra fds.
#[derive(Debug)]
pub struct Launch<'f> {
    fx: &'f Fixture,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    fds: Vec<(RawFd, OwnedFd)>,
    readiness: bool,
    supervise: Option<PathBuf>,
    under: Option<UnderTest>,
}

impl<'f> Launch<'f> {
    /// An argument, after the harness's own (`-d 3`); svscan's cwd is the scan dir, so no
    /// operand is needed.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable for svscan (and so for the stubs).
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Gives svscan `fd` as its fd `target` (e.g. a console holder for `-X 4`).
    #[must_use]
    pub fn fd(mut self, target: RawFd, fd: OwnedFd) -> Self {
        self.fds.push((target, fd));
        self
    }

    /// Another supervise program instead of the stub (e.g. the real `/usr/bin/s6-supervise`,
    /// for interop scenarios); the C s6-svscan gets it bind-mounted over its own
    /// `s6-supervise`, or runs as it is when that is the one given.
    #[must_use]
    pub fn supervise(mut self, program: impl AsRef<Path>) -> Self {
        self.supervise = Some(program.as_ref().to_owned());
        self
    }

    /// This svscan instead of [`under_test`]'s, for a program that runs both (the benchmark).
    #[must_use]
    pub fn under(mut self, under: UnderTest) -> Self {
        self.under = Some(under);
        self
    }

    /// No `-d 3` and no wait: for start-ups expected to fail, or a `-d` of the test's own.
    #[must_use]
    pub fn without_readiness(mut self) -> Self {
        self.readiness = false;
        self
    }

    /// Starts svscan and, unless [`Launch::without_readiness`], waits for its readiness
    /// newline.
    ///
    /// # Panics
    /// If it cannot be started, or it is not ready within [`DEADLINE`].
    #[must_use]
    pub fn start(self) -> Svscan<'f> {
        self.start_with::<&str>(&[], &[], false)
    }
}

/// In the child: puts each `(source, target)` fd in place, without CLOEXEC. Sources are first
/// moved above every target, so that a source numbered like another target is not lost.
fn place_fds(plan: &[(RawFd, RawFd)]) -> std::io::Result<()> {
    const PARK: RawFd = 512;
    let err = |e: Errno| std::io::Error::from_raw_os_error(e as i32);
    for (i, (source, _)) in plan.iter().enumerate() {
        // SAFETY: `source` is an fd the parent owns and kept open across the fork.
        let source = unsafe { BorrowedFd::borrow_raw(*source) };
        // SAFETY: PARK + i is above every fd the harness uses; dup2 replaces whatever is there.
        let parked = unsafe { dup2_raw(source, PARK + i as RawFd) }.map_err(err)?;
        let _ = parked.into_raw_fd();
    }
    for (i, (_, target)) in plan.iter().enumerate() {
        // SAFETY: the parked fd was opened above and is closed right after.
        let parked = unsafe { BorrowedFd::borrow_raw(PARK + i as RawFd) };
        // SAFETY: dup2 onto `target` is what the caller asked for; the result is kept open.
        let placed = unsafe { dup2_raw(parked, *target) }.map_err(err)?;
        let _ = placed.into_raw_fd();
    }
    for i in 0..plan.len() {
        nix::unistd::close(PARK + i as RawFd).map_err(err)?;
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

/// Makes `cmd`'s child start with fds 0, 1 and 2 only (for tests that spawn a program by
/// hand, as svscan is spawned by [`Launch::start`]).
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

// ------------------------------------------------------------------ the running svscan

/// A running svscan: the guard that talks to it, reads the event log, and kills and reaps
/// everything on drop.
#[derive(Debug)]
pub struct Svscan<'f> {
    fx: &'f Fixture,
    child: Child,
    pid: Pid,
    log: EventLog,
    stdout: PathBuf,
    stderr: PathBuf,
    /// Its exit, once seen (svscan stays unreaped until drop).
    exit: Option<WaitStatus>,
}

impl Svscan<'_> {
    /// svscan's pid (also its process group).
    #[must_use]
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// What svscan wrote to its stderr so far.
    #[must_use]
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What svscan wrote to its stderr so far, byte for byte (a warning may show a raw byte).
    #[must_use]
    pub fn stderr_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.stderr).unwrap_or_default()
    }

    /// What svscan and the stubs writing to its stdout (unlogged services) wrote so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Creates service `marker`, sends `a` and waits for its supervisor: a barrier after
    /// which a scan requested after everything the test did before has completed, and the
    /// start pass after it has run.
    ///
    /// # Panics
    /// If `marker` is not started within [`DEADLINE`].
    pub fn rescan(&mut self, marker: &str) {
        self.fx.service(marker);
        self.ctl("a");
        self.wait_for(&format!("{marker} started by the rescan"), DEADLINE, |e| {
            e.pid_of(marker).is_some()
        });
    }

    /// Writes `bytes` into the control FIFO in one write, as svscanctl does.
    ///
    /// # Panics
    /// If that fails (nobody listening: ENXIO).
    pub fn ctl(&mut self, bytes: impl AsRef<[u8]>) {
        self.try_ctl(bytes.as_ref()).unwrap_or_else(|e| {
            panic!(
                "write {:?} to the control FIFO: {e}{}",
                bytes.as_ref(),
                self.context()
            )
        });
    }

    /// [`Svscan::ctl`] that returns the error instead.
    pub fn try_ctl(&self, bytes: &[u8]) -> nix::Result<()> {
        let fifo = self.fx.path(common::CONTROL_FIFO);
        let fd = open(
            &fifo,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let n = nix::unistd::write(&fd, bytes)?;
        if n == bytes.len() {
            Ok(())
        } else {
            Err(Errno::EAGAIN)
        }
    }

    /// Sends `sig` to svscan.
    ///
    /// # Panics
    /// If svscan is gone.
    pub fn signal(&self, sig: Signal) {
        kill(self.pid, sig).unwrap_or_else(|e| panic!("kill -{sig} svscan: {e}"));
    }

    /// Every record so far.
    pub fn events(&mut self) -> &Events {
        self.log.refresh()
    }

    /// Waits until `done` holds for the records, and returns them.
    ///
    /// # Panics
    /// If it does not hold within `within`: with the records and svscan's stderr.
    pub fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&Events) -> bool,
    ) -> &Events {
        let deadline = Instant::now() + within;
        loop {
            if done(self.log.refresh()) {
                return self.log.events();
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {within:?} waiting for {what}{}",
                    self.context()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until `done` holds (a `/proc` condition, svscan's output), then returns.
    ///
    /// # Panics
    /// If it does not hold within `within`: with the records and svscan's stderr.
    pub fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(self) {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {within:?} waiting for {what}{}",
                    self.context()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether svscan has exited (it stays a zombie until the guard is dropped).
    pub fn has_exited(&mut self) -> bool {
        self.poll_exit().is_some()
    }

    fn poll_exit(&mut self) -> Option<WaitStatus> {
        if self.exit.is_none() {
            // WNOWAIT: look without reaping, so that the pid and the process group stay ours
            // until drop has killed the group.
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
            match waitid(Id::Pid(self.pid), flags) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => self.exit = Some(status),
                Err(e) => panic!("waitid svscan: {e}"),
            }
        }
        self.exit
    }

    /// Waits for svscan to exit and returns how.
    ///
    /// # Panics
    /// If it is still running after `within`: it is killed, and the panic shows the records
    /// and its stderr.
    pub fn wait_exit(&mut self, within: Duration) -> Exit {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.poll_exit() {
                return Exit(status);
            }
            if Instant::now() >= deadline {
                let _ = killpg(self.pid, Signal::SIGKILL);
                panic!("svscan still running after {within:?}{}", self.context());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Reads the readiness pipe until the newline.
    fn wait_ready(&mut self, r: &OwnedFd) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "svscan not ready after {DEADLINE:?}{}",
                self.context()
            );
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => panic!("poll readiness pipe: {e}"),
            }
            let mut buf = [0u8; 16];
            match nix::unistd::read(r, &mut buf) {
                Ok(0) => panic!(
                    "svscan closed its readiness fd without a newline{}",
                    self.context()
                ),
                Ok(n) if buf[..n].contains(&b'\n') => return,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => panic!("read readiness pipe: {e}"),
            }
        }
    }

    /// svscan's state, records and stderr, for failure messages.
    fn context(&mut self) -> String {
        let state = match self.poll_exit() {
            Some(status) => format!("exited: {status:?}"),
            None => "running".to_owned(),
        };
        let events = self.log.refresh().dump();
        format!(
            "\n--- svscan ({}, pid {}): {state}\n--- records:\n{events}--- stderr:\n{}",
            under_test().path.display(),
            self.pid,
            self.stderr()
        )
    }
}

impl Drop for Svscan<'_> {
    fn drop(&mut self) {
        // svscan is unreaped, so its pid, which names the group, cannot have been reused.
        // Stopped first, so that nothing in the group forks while the descendants are listed:
        // a real s6-supervise puts its service in a session of its own, and a killed parent
        // would leave it reparented, out of reach.
        let _ = killpg(self.pid, Signal::SIGSTOP);
        let descendants = procfs::descendants(self.pid.as_raw());
        let _ = killpg(self.pid, Signal::SIGKILL);
        // Then every recorded stub and orphan (an orphan outlives its stub, so it is no
        // longer a descendant), identified by pid and start time so that a reused pid is
        // never hit. No panic here: this runs during unwinding too.
        let recorded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.log.refresh().processes()
        }));
        for (pid, start) in descendants.into_iter().chain(recorded.unwrap_or_default()) {
            if procfs::starttime(pid) == Some(start) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// How svscan exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(pub WaitStatus);

impl Exit {
    /// The exit code, if it exited rather than being killed.
    #[must_use]
    pub fn code(self) -> Option<i32> {
        match self.0 {
            WaitStatus::Exited(_, code) => Some(code),
            _ => None,
        }
    }

    /// The signal that killed it, if one did.
    #[must_use]
    pub fn signal(self) -> Option<Signal> {
        match self.0 {
            WaitStatus::Signaled(_, sig, _) => Some(sig),
            _ => None,
        }
    }

    /// Exited with code 0.
    #[must_use]
    pub fn success(self) -> bool {
        self.code() == Some(0)
    }
}
