//! The end-to-end harness of the toolset: the runner of every end-to-end target ([`suite`]),
//! the programs they run ([`binary`], [`real_s6`], [`reference`]), one process guard
//! ([`process::Guard`]), one wait ([`poll_until`]), and for svscan's scenarios a scan
//! directory in a temp dir ([`Fixture`]), svscan started on it with the `supervise-stub` test
//! double in place of `s6-supervise` ([`Launch`], [`Svscan`]), and the stub's event log to
//! wait on ([`Events`]). It is not a place for assertions about the programs: those live in
//! the scenarios, next to the spec line they prove.
//!
//! # Targets and scenarios
//! Each end-to-end target is a directory of `tests/` (`tests/svscan/`, `tests/supervise/`,
//! `tests/clients/`) whose modules are named after the sections of its spec, so that a
//! rule's test is found where the rule is. Its scenarios are plain functions, listed; the
//! runner shows each one that did not run as `ignored (REASON)` and lists them all after the
//! `test result:` line, instead of letting an early `return` pass for a success. A target
//! adopts it in three steps:
//!
//! 1. in `Cargo.toml`, its `[[test]]` gets `harness = false`;
//! 2. each module lists its scenarios at its top; a scenario is `fn name()` or
//!    `fn name() -> Outcome` (to skip with `?`):
//!    ```no_run
//!    use integration_tests::suite::{Outcome, Scenario};
//!    use integration_tests::{real_s6, scenario};
//!
//!    pub const SCENARIOS: &[Scenario] = &[
//!        scenario!(svstat_reads_a_status_written_by_the_real_s6_supervise),
//!        scenario!(a_supervisor_is_restarted_after_its_10_s_wait).slow(), // started first
//!    ];
//!
//!    /// "The spec line it proves."
//!    fn svstat_reads_a_status_written_by_the_real_s6_supervise() -> Outcome {
//!        let supervise = real_s6("s6-supervise")?; // missing: skipped, a failure under CI
//!        // ...
//!        # let _ = supervise;
//!        Ok(())
//!    }
//!
//!    /// A scenario that never skips.
//!    fn a_supervisor_is_restarted_after_its_10_s_wait() {
//!        // ...
//!    }
//!    # fn main() { let _ = integration_tests::suite::run(&[SCENARIOS]); }
//!    ```
//! 3. `main.rs` runs them: `fn main() -> ExitCode { integration_tests::suite::run(&[a::SCENARIOS,
//!    b::SCENARIOS]) }`.
//!
//! A function left out of every list is dead code, which the lints reject; a `#[test]` in a
//! listed module (compiled out in a `harness = false` target) stops the run with its
//! location. Skips ([`Skip`]): [`Skip::differs`] where the implementation under test
//! legitimately differs (C 2.11 lacks an option, a **fix**; [`ours_only`] says so for the C
//! svscan), only counted; [`Skip::missing`] where the machine lacks a program, root or a
//! namespace ([`real_s6`], [`reference`], [`user::root`], [`pidns::available`] return it),
//! counted, and a failure under CI (`CI` set). [`suite::optional`] turns one such result into
//! an `Option` for a scenario that runs against whichever of several programs are here,
//! recording the part that did not run. A scenario's [`note!`]s are shown only if it fails.
//! Scenarios run several at a time (twice the cores, at least 4: they mostly wait on timers);
//! `cargo test -p integration-tests --test svscan -- NAME --test-threads 1` as usual.
//!
//! # The programs
//! - [`binary`]`(name)`: a binary of this workspace, rebuilt by `cargo build` if its sources
//!   changed, so that `cargo test -p integration-tests` never tests old code; outside cargo,
//!   a binary older than a source it was built from is a loud failure.
//! - [`real_s6`]`(program)`: Debian's s6 and execline in `/usr/bin`; [`reference`]`(program)`:
//!   the C s6 2.12.0.4 build, `$S6REF/bin/PROGRAM` ([`reference_dir`]). Both `Err(Skip)`
//!   when missing.
//! - [`program::run`]: a program run to its end within a deadline, its output kept.
//! - [`process::Guard`]: any other process a test starts: in a process group of its own,
//!   its whole tree killed by pid and reaped on drop, even when the test panics.
//! - [`user::Uid::claim`]: a uid no process uses and no concurrent scenario holds (per-user
//!   limits such as RLIMIT_NPROC count every process of the uid).
//! - [`poll_until`]`(deadline, f)`: the one wait; [`wait_until`] panics at the deadline.
//!
//! # Writing an svscan scenario
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
//! [`Svscan::rescan`], a barrier) and asserts. There are no sleeps: every wait polls the
//! event log or `/proc` until its deadline, and a timeout panics with the records so far and
//! svscan's stderr. Timing rules (the 1 s respawn throttle) are checked on the timestamps of
//! the records (`mono_ns`, [`Event::secs_since`]) with [`assert_delay`]'s tolerance, never by
//! sleeping. Each fixture is its own temp dir, so scenarios run in parallel.
//!
//! The pieces: [`Fixture`] (the directory; [`StubControl`] files), [`Launch`] (options, extra
//! fds, environment), [`Svscan`] (the running daemon and its guard; its stdout and stderr go
//! to files in the temp dir), [`Events`] and [`Event`] (the records, with look-ups such as
//! `starts`, `lines`, `signals_to`, `running`, `line_numbers`), [`procfs`] (zombie children,
//! fd count, existence of a pid, asleep in poll, CPU time), [`with_std_fds_only`] (for a
//! program a test spawns itself).
//!
//! # The svscan under test
//! By default, ours: the `svscan` binary of this workspace, given the stub with
//! `--supervise`. The environment variable `SVSCAN_UNDER_TEST` names another binary (best
//! absolute: cargo runs the tests in the `integration-tests` directory); when its file name
//! starts with `s6-` it is taken for skarnet's C s6-svscan, which hard-codes `s6-supervise`
//! in its own directory: the harness then runs it as `unshare -m --propagation private sh -c
//! 'mount --bind STUB DIR/s6-supervise && exec DIR/s6-svscan ARGS'` (root needed), which
//! keeps the pid svscan's. [`implementation`] tells a scenario which one runs, for the places
//! where the C tool legitimately differs (C 2.11, Debian's, has `-c` but not `-C`, and
//! restarts a dead supervisor 1 s after its death); [`UnderTest::prog`] is the name its
//! diagnostics start with.
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
//! svscan runs in a process group of its own ([`process::Guard`]). Dropping the [`Svscan`]
//! guard stops that group while svscan is still unreaped (so the group id cannot have been
//! reused), lists svscan's descendants, kills the group, then kills each descendant and every
//! process of the event log (stubs and orphans, which may have left the group or the tree)
//! whose `/proc` start time still matches, and reaps svscan.
#![deny(unsafe_code)]

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

pub mod alloc;
pub mod binaries;
pub mod events;
pub mod json;
pub mod pidns;
pub mod process;
pub mod procfs;
pub mod program;
pub mod service;
pub mod stats;
pub mod suite;
#[allow(unsafe_code)]
pub mod sys;
pub mod user;
pub mod wait;
pub mod wrapper;

pub use binaries::{
    Implementation, UNDER_TEST_ENV, UnderTest, binary, implementation, ours_only, real_s6,
    reference, reference_dir, release_build, target_dir, under_test, workspace_root,
};
pub use events::{Event, EventLog, Events, FdInfo};
pub use process::{Exit, signal_pid, with_std_fds_only};
pub use suite::{Outcome, Skip};
pub use wait::{
    DEADLINE, EARLY_SLACK, LATE_SLACK, POLL_INTERVAL, assert_delay, now_mono_ns, poll_until,
    wait_until,
};

/// The environment variable naming the stub's event log.
pub const STUB_EVENTS_ENV: &str = "SUPERVISE_STUB_EVENTS";

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
        let p = self.path(&rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        process::write_executable(&p, contents);
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

    /// A launch of Debian's C s6-svscan with its own s6-supervise, whatever the svscan under
    /// test: for what ours must work with (`svscanctl`, `common`'s lock).
    ///
    /// # Errors
    /// A [`Skip::missing`] when Debian's s6 is not installed.
    #[track_caller]
    pub fn real_svscan(&self) -> Result<Launch<'_>, Skip> {
        let under = UnderTest {
            path: real_s6("s6-svscan")?,
            implementation: Implementation::C,
        };
        Ok(self
            .svscan()
            .under(under)
            .supervise(real_s6("s6-supervise")?))
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

// ------------------------------------------------------------------ the running svscan

/// A running svscan: the guard that talks to it, reads the event log, and kills and reaps
/// everything on drop.
#[derive(Debug)]
pub struct Svscan<'f> {
    fx: &'f Fixture,
    process: process::Guard,
    log: EventLog,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Svscan<'_> {
    /// svscan's pid (also its process group).
    #[must_use]
    pub fn pid(&self) -> i32 {
        self.process.pid()
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
    /// start pass after it has run (so every command sent before has been acted on).
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
        kill(Pid::from_raw(self.pid()), sig).unwrap_or_else(|e| panic!("kill -{sig} svscan: {e}"));
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
        if !self.holds_within(within, &mut done) {
            panic!(
                "timed out after {within:?} waiting for {what}{}",
                self.context()
            );
        }
        self.log.events()
    }

    /// Waits until a supervisor named `name` has started, and returns the pid of the last.
    ///
    /// # Panics
    /// If none starts within [`DEADLINE`].
    pub fn wait_started(&mut self, name: &str) -> i32 {
        self.wait_for(&format!("{name} started"), DEADLINE, |e| {
            e.pid_of(name).is_some()
        })
        .pid_of(name)
        .expect("a start record")
    }

    /// Whether `done` comes to hold for the records within `within` (for a scenario that
    /// must tell another implementation's failure from ours without failing on it).
    pub fn holds_within(&mut self, within: Duration, done: impl FnMut(&Events) -> bool) -> bool {
        let mut done = done;
        let log = &mut self.log;
        poll_until(Instant::now() + within, || {
            done(log.refresh()).then_some(())
        })
        .is_some()
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
        if poll_until(Instant::now() + within, || done(self).then_some(())).is_none() {
            panic!(
                "timed out after {within:?} waiting for {what}{}",
                self.context()
            );
        }
    }

    /// Whether svscan has exited (it stays a zombie until the guard is dropped).
    pub fn has_exited(&mut self) -> bool {
        self.process.exit().is_some()
    }

    /// Waits for svscan to exit and returns how.
    ///
    /// # Panics
    /// If it is still running after `within`: it is killed, and the panic shows the records
    /// and its stderr.
    pub fn wait_exit(&mut self, within: Duration) -> Exit {
        if let Some(exit) = self.process.wait_exit(within) {
            return exit;
        }
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        panic!("svscan still running after {within:?}{}", self.context());
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
        let state = match self.process.exit() {
            Some(exit) => format!("exited: {:?}", exit.0),
            None => "running".to_owned(),
        };
        let events = self.log.refresh().dump();
        format!(
            "\n--- svscan ({}, pid {}): {state}\n--- records:\n{events}--- stderr:\n{}",
            under_test().path.display(),
            self.pid(),
            self.stderr()
        )
    }
}

impl Drop for Svscan<'_> {
    fn drop(&mut self) {
        // Every recorded stub and orphan too: an orphan outlives its stub, so it is no longer
        // a descendant. No panic here: this runs during unwinding too.
        let recorded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.log.refresh().processes()
        }));
        self.process.kill_tree(&recorded.unwrap_or_default());
    }
}
