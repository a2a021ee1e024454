//! The end-to-end harness of supervise: a service directory in a temp dir ([`ServiceDir`]),
//! a supervisor started on it ([`Supervised`]: ours, the C 2.12 reference or Debian's 2.11,
//! [`Supervisor`]), its status file decoded ([`SvStatus`]), a subscriber on its `event`
//! fifodir ([`Events`]), and the real s6 clients run to their end ([`client`]).
//!
//! A scenario builds the directory, starts a supervisor, subscribes to the fifodir **before**
//! acting, acts (the real `s6-svc`, a signal, a file), waits for the status file or the event
//! bytes with a deadline, and asserts; no sleeps. [`each_supervisor`] runs one scenario over
//! every supervisor that is installed, saying which one is running and counting the others
//! as skipped. Dropping the [`Supervised`] guard kills the supervisor and every process of
//! the sessions of its children (run and finish are session leaders, and a forking service
//! leaves its daemon in that session), by pid, checked by start time, and reaps the
//! supervisor.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ftrig::Subscriber;
pub use common::tai::Tai64n;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

use crate::process::Guard;
use crate::program::{self, Ran};
use crate::suite::{Skip, optional};
use crate::{DEADLINE, binary, note, poll_until, procfs, real_s6, reference, with_std_fds_only};

// ------------------------------------------------------------------ the supervisors

/// A supervisor a scenario can run on a service directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervisor {
    /// This workspace's `supervise`.
    Ours,
    /// The C s6-supervise 2.12.0.4 reference (`s6-supervise.real` of [`reference`]): the
    /// contract.
    Reference,
    /// Debian's C s6-supervise 2.11 (`/usr/bin/s6-supervise`).
    Debian,
}

impl Supervisor {
    /// Every supervisor, ours first.
    pub const ALL: [Supervisor; 3] = [Supervisor::Ours, Supervisor::Reference, Supervisor::Debian];

    /// Its program.
    ///
    /// # Errors
    /// A [`Skip::missing`] when it is not installed (a failure under CI).
    pub fn program(self) -> Result<PathBuf, Skip> {
        match self {
            Supervisor::Ours => Ok(binary("supervise")),
            Supervisor::Reference => reference("s6-supervise.real"),
            Supervisor::Debian => real_s6("s6-supervise"),
        }
    }

    /// Whether it is Debian's 2.11 (which differs from 2.12 where SUPERVISE.md's "Interop
    /// facts" say).
    #[must_use]
    pub fn is_2_11(self) -> bool {
        self == Supervisor::Debian
    }
}

/// Runs `scenario` once for each supervisor of `which` that is installed, with a note naming
/// it; one that is missing is a part of the scenario that did not run ([`optional`]: listed
/// in the summary, a failure under CI).
pub fn each_supervisor(which: &[Supervisor], mut scenario: impl FnMut(Supervisor)) {
    for &sup in which {
        if optional(sup.program()).is_some() {
            note!("--- with {sup:?}");
            scenario(sup);
        }
    }
}

/// A set of C client programs of s6: the 2.12 reference's or Debian's (`s6-svc`,
/// `s6-svstat`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clients {
    Reference,
    Debian,
}

impl Clients {
    /// Both sets, the reference first.
    pub const ALL: [Clients; 2] = [Clients::Reference, Clients::Debian];

    /// `program` of this set.
    ///
    /// # Errors
    /// A [`Skip::missing`] when it is not installed.
    pub fn program(self, program: &str) -> Result<PathBuf, Skip> {
        match self {
            Clients::Reference => reference(program),
            Clients::Debian => real_s6(program),
        }
    }
}

/// `program` from each set of clients that has it, the others recorded as parts of the
/// scenario that did not run ([`optional`]).
#[must_use]
pub fn each_client(program: &str) -> Vec<(Clients, PathBuf)> {
    Clients::ALL
        .iter()
        .filter_map(|&c| optional(c.program(program)).map(|p| (c, p)))
        .collect()
}

// ------------------------------------------------------------------ running a client

/// Runs `program args...` in `cwd` to its end (within [`DEADLINE`]), with fds 0-2 only.
///
/// # Panics
/// If it cannot be started or overruns.
pub fn client<S: AsRef<OsStr>>(program: &Path, args: &[S], cwd: &Path) -> Ran {
    program::run(Command::new(program).args(args).current_dir(cwd), DEADLINE)
}

/// A client started by [`client_started`], still running: [`Running::finish`] waits for
/// it; dropping it kills it (its [`Guard`]).
#[derive(Debug)]
pub struct Running {
    guard: Guard,
    out: File,
    err: File,
    name: String,
}

/// Starts `program args...` in `cwd` (fds 0-2 only) and returns at once, for a client that
/// waits for something the scenario does next (`s6-svwait`, `s6-svc -w`).
///
/// # Panics
/// If it cannot be started.
pub fn client_started<S: AsRef<OsStr>>(program: &Path, args: &[S], cwd: &Path) -> Running {
    let out = tempfile::tempfile().expect("tempfile for stdout");
    let err = tempfile::tempfile().expect("tempfile for stderr");
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd);
    let guard = Guard::spawn(
        with_std_fds_only(&mut cmd)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup")),
    );
    let args: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    Running {
        guard,
        out,
        err,
        name: format!("{} {}", program.display(), args.join(" ")),
    }
}

impl Running {
    /// Waits for its end (within [`DEADLINE`]) and returns its output.
    ///
    /// # Panics
    /// If it is still running then.
    pub fn finish(mut self) -> Ran {
        let exit = self.guard.wait_exit(DEADLINE);
        let exit = exit.unwrap_or_else(|| panic!("{} still running after {DEADLINE:?}", self.name));
        Ran {
            code: exit.code(),
            stdout: read_all(&mut self.out),
            stderr: read_all(&mut self.err),
        }
    }
}

fn read_all(f: &mut File) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    let _ = f
        .seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}

// ------------------------------------------------------------------ the status file

/// `supervise/status`, decoded by common's reader (SUPERVISE.md, "supervise/status").
pub type SvStatus = common::status::Status;

/// What the scenarios ask of a status.
pub trait Observed {
    /// Up: a pid and not finishing (as s6-svstat says "up").
    fn up(&self) -> bool;
    /// The pid as an `i32` (0 when down).
    fn pid(&self) -> i32;
}

impl Observed for SvStatus {
    fn up(&self) -> bool {
        self.is_up()
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.pid).unwrap_or(0)
    }
}

/// Seconds from `a` to `b`, as a float (the labels are subtracted exactly first: near 2^62,
/// a float has no room for the difference).
#[must_use]
pub fn tai_secs_between(a: Tai64n, b: Tai64n) -> f64 {
    let secs = i128::from(b.secs) - i128::from(a.secs);
    secs as f64 + (f64::from(b.nanos) - f64::from(a.nanos)) / 1e9
}

/// The stamp of the last record of `supervise/death_tally` (the last death of run).
///
/// # Panics
/// If the tally is empty or unreadable.
#[must_use]
pub fn last_death(dir: &ServiceDir) -> (Tai64n, u8, u8) {
    let tally = std::fs::read(dir.path("supervise/death_tally")).expect("death_tally");
    let rec = &tally[tally.len().checked_sub(14).expect("a death recorded")..];
    let stamp = Tai64n::unpack(rec[..12].try_into().expect("12 bytes"));
    (stamp, rec[12], rec[13])
}

// ------------------------------------------------------------------ the event fifodir

/// A subscriber on `DIR/event` (common's, as s6-ftrigrd makes one), with the bytes received
/// so far.
pub struct Events {
    sub: Subscriber,
    got: Vec<u8>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Events({:?})", String::from_utf8_lossy(&self.got))
    }
}

impl Events {
    /// Subscribes to `fifodir` (which must exist).
    ///
    /// # Panics
    /// If the FIFO cannot be made.
    #[must_use]
    pub fn subscribe(fifodir: &Path) -> Events {
        let sub = Subscriber::new(fifodir)
            .unwrap_or_else(|e| panic!("subscribe to {}: {e}", fifodir.display()));
        Events {
            sub,
            got: Vec::new(),
        }
    }

    /// Every byte received so far.
    pub fn bytes(&mut self) -> &[u8] {
        let got = &mut self.got;
        let _ = self.sub.read(|b| got.push(b));
        &self.got
    }

    /// The bytes received so far, as text.
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Waits until the bytes received so far satisfy `done`, and returns them.
    ///
    /// # Panics
    /// If they do not within `within`.
    pub fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&[u8]) -> bool,
    ) -> Vec<u8> {
        let deadline = Instant::now() + within;
        loop {
            if done(self.bytes()) {
                return self.got.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}: events so far {:?}",
                String::from_utf8_lossy(&self.got)
            );
            let mut fds = [PollFd::new(self.sub.fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(50u16));
        }
    }

    /// Waits until the bytes received so far contain `pattern` (in one piece).
    ///
    /// # Panics
    /// If they do not within [`DEADLINE`].
    pub fn wait_contains(&mut self, pattern: &str) -> Vec<u8> {
        let want = pattern.as_bytes().to_vec();
        self.wait_for(&format!("the events {pattern:?}"), DEADLINE, |got| {
            got.windows(want.len()).any(|w| w == want)
        })
    }

    /// Forgets what was received so far.
    pub fn clear(&mut self) {
        let _ = self.bytes();
        self.got.clear();
    }
}

/// Creates `fifodir` as s6-svwait does before subscribing (`ftrigw_fifodir_make` with the
/// egid), so that a scenario can subscribe before the supervisor starts.
///
/// # Panics
/// If it cannot.
pub fn make_fifodir(fifodir: &Path) {
    common::ftrig::fifodir_make(fifodir, Some(nix::unistd::getegid()), false)
        .unwrap_or_else(|e| panic!("fifodir_make {}: {e}", fifodir.display()));
}

// ------------------------------------------------------------------ the service directory

/// A service directory `svc` (or another name, e.g. `a/log`) in a temp dir; the supervisor
/// runs in the temp dir with the name as its operand, as svscan runs it.
#[derive(Debug)]
pub struct ServiceDir {
    tmp: tempfile::TempDir,
    name: String,
}

impl Default for ServiceDir {
    fn default() -> Self {
        ServiceDir::new()
    }
}

impl ServiceDir {
    /// An empty service directory `svc`.
    #[must_use]
    pub fn new() -> ServiceDir {
        ServiceDir::named("svc")
    }

    /// An empty service directory with this name (relative, e.g. `a/log`).
    ///
    /// # Panics
    /// If it cannot be made.
    #[must_use]
    pub fn named(name: &str) -> ServiceDir {
        let tmp = tempfile::Builder::new()
            .prefix("supervise-test.")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(tmp.path().join(name)).expect("mkdir service dir");
        ServiceDir {
            tmp,
            name: name.to_owned(),
        }
    }

    /// The operand the supervisor is given.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temp dir holding the service directory (the supervisor's cwd).
    #[must_use]
    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// The service directory (absolute).
    #[must_use]
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join(&self.name)
    }

    /// `rel` in the service directory.
    #[must_use]
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir().join(rel)
    }

    /// Whether `rel` holds at least one whole line: what a wait on a file that a script writes
    /// with `echo ... > FILE` must check, since the shell creates the file before it writes
    /// (a wait on its existence alone can read it empty).
    #[must_use]
    pub fn has_line(&self, rel: impl AsRef<Path>) -> bool {
        std::fs::read(self.path(rel)).is_ok_and(|c| c.ends_with(b"\n"))
    }

    /// A file with these contents.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.path(rel);
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// An executable shell script (mode 0755): `#!/bin/sh` and `body`.
    pub fn script(&self, rel: impl AsRef<Path>, body: &str) -> &Self {
        crate::process::write_executable(&self.path(&rel), format!("#!/bin/sh\n{body}\n"));
        self
    }

    /// `run` as this script.
    pub fn run(&self, body: &str) -> &Self {
        self.script("run", body)
    }

    /// `finish` as this script.
    pub fn finish(&self, body: &str) -> &Self {
        self.script("finish", body)
    }

    /// The status file, decoded, if it exists with 35 bytes.
    #[must_use]
    pub fn status(&self) -> Option<SvStatus> {
        SvStatus::read(&self.dir()).ok()
    }

    /// A subscriber on `event/` (which must exist).
    #[must_use]
    pub fn subscribe(&self) -> Events {
        Events::subscribe(&self.path("event"))
    }

    /// A subscriber on `event/`, made first as s6-svwait would (so before the supervisor
    /// starts: no event can be missed).
    #[must_use]
    pub fn watch(&self) -> Events {
        make_fifodir(&self.path("event"));
        self.subscribe()
    }

    /// A launch of `sup` on this directory, to add to.
    #[must_use]
    pub fn launch(&self, sup: Supervisor) -> Launch<'_> {
        Launch {
            dir: self,
            sup,
            operand: Some(OsString::from(&self.name)),
            extra: Vec::new(),
            argv0: OsString::from("s6-supervise"),
            env: Vec::new(),
            wait: true,
            stdin: None,
            umask: None,
            ignored: Vec::new(),
            nofile: None,
            nproc: None,
            user: None,
            program: None,
            closed: Vec::new(),
            passed: Vec::new(),
        }
    }

    /// `sup` started on this directory, its status file written.
    #[must_use]
    pub fn start(&self, sup: Supervisor) -> Supervised<'_> {
        self.launch(sup).start()
    }
}

/// How a supervisor is to be started.
#[derive(Debug)]
pub struct Launch<'d> {
    dir: &'d ServiceDir,
    sup: Supervisor,
    operand: Option<OsString>,
    extra: Vec<OsString>,
    argv0: OsString,
    env: Vec<(OsString, OsString)>,
    wait: bool,
    stdin: Option<OwnedFd>,
    umask: Option<u32>,
    ignored: Vec<Signal>,
    nofile: Option<u64>,
    nproc: Option<u64>,
    user: Option<u32>,
    program: Option<PathBuf>,
    closed: Vec<i32>,
    passed: Vec<(OwnedFd, i32)>,
}

impl<'d> Launch<'d> {
    /// The supervisor's umask (else the test runner's).
    #[must_use]
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }

    /// The supervisor's soft RLIMIT_NOFILE (the hard one is left, so that `prlimit` can raise
    /// it again), e.g. to make a notification-fd invalid or the fd table run out.
    #[must_use]
    pub fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    /// These standard fds closed when the supervisor starts (as a careless parent leaves them).
    #[must_use]
    pub fn closed(mut self, fds: &[i32]) -> Self {
        self.closed.extend_from_slice(fds);
        self
    }

    /// Another build of the supervisor's program (the benchmark's static build of ours).
    #[must_use]
    pub fn program(mut self, path: &Path) -> Self {
        self.program = Some(path.to_owned());
        self
    }

    /// The supervisor's soft RLIMIT_NPROC (root ignores it, see [`Launch::as_user`]).
    #[must_use]
    pub fn nproc(mut self, limit: u64) -> Self {
        self.nproc = Some(limit);
        self
    }

    /// Runs the supervisor as this uid (and gid of the same number, no supplementary
    /// groups); the service directory must be writable by it.
    #[must_use]
    pub fn as_user(mut self, uid: u32) -> Self {
        self.user = Some(uid);
        self
    }

    /// These signals ignored in the supervisor (an ignored signal stays ignored across exec),
    /// as a careless parent would leave them.
    #[must_use]
    pub fn ignoring(mut self, signals: &[Signal]) -> Self {
        self.ignored.extend_from_slice(signals);
        self
    }

    /// Another operand than the directory's name (`None`: no operand at all).
    #[must_use]
    pub fn operand(mut self, operand: Option<&str>) -> Self {
        self.operand = operand.map(OsString::from);
        self
    }

    /// More operands after the directory.
    #[must_use]
    pub fn extra_operands(mut self, more: &[&str]) -> Self {
        self.extra.extend(more.iter().map(OsString::from));
        self
    }

    /// `fd` passed to the supervisor on fd `target`, without CLOEXEC (as a parent leaves an
    /// fd open across its exec); every other fd from 3 up is closed.
    ///
    /// # Panics
    /// If `fd` cannot be made CLOEXEC here (so that only the child's copy is inherited).
    #[must_use]
    pub fn pass_fd(mut self, fd: OwnedFd, target: i32) -> Self {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("FD_CLOEXEC");
        self.passed.push((fd, target));
        self
    }

    /// Another `argv[0]` than `s6-supervise`.
    #[must_use]
    pub fn argv0(mut self, argv0: &str) -> Self {
        self.argv0 = OsString::from(argv0);
        self
    }

    /// An environment variable.
    #[must_use]
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.into(), value.as_ref().to_owned()));
        self
    }

    /// This fd as the supervisor's stdin (a logger's pipe).
    #[must_use]
    pub fn stdin(mut self, fd: OwnedFd) -> Self {
        self.stdin = Some(fd);
        self
    }

    /// Do not wait for the status file (start-ups expected to fail).
    #[must_use]
    pub fn no_wait(mut self) -> Self {
        self.wait = false;
        self
    }

    /// Starts it; unless [`Launch::no_wait`], waits until the status file exists.
    ///
    /// # Panics
    /// If it cannot be started, or writes no status file within [`DEADLINE`].
    #[must_use]
    pub fn start(self) -> Supervised<'d> {
        use std::os::unix::process::CommandExt;
        let program = self
            .program
            .clone()
            .or_else(|| self.sup.program().ok())
            .expect("supervisor installed (see each_supervisor)");
        let stdout = self.dir.tmp().join("supervisor.stdout");
        let stderr = self.dir.tmp().join("supervisor.stderr");
        let mut cmd = Command::new(&program);
        cmd.arg0(&self.argv0)
            .args(self.operand.iter())
            .args(self.extra.iter())
            .current_dir(self.dir.tmp())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(File::create(&stdout).expect("create stdout file"))
            .stderr(File::create(&stderr).expect("create stderr file"))
            .stdin(self.stdin.map_or_else(Stdio::null, Stdio::from));
        // First, while the fd limit is still the runner's: only fds 0-2 go through.
        with_std_fds_only(&mut cmd);
        crate::sys::prepare_child(
            &mut cmd,
            crate::sys::ChildSetup {
                umask: self.umask,
                ignored: self.ignored.clone(),
                nofile: self.nofile,
                nproc: self.nproc,
                user: self.user,
                closed: self.closed.clone(),
                passed: self
                    .passed
                    .iter()
                    .map(|(fd, target)| (fd.as_raw_fd(), *target))
                    .collect(),
            },
        );
        let guard = Guard::spawn(&mut cmd);
        let mut sv = Supervised {
            dir: self.dir,
            sup: self.sup,
            pid: guard.pid(),
            guard,
            stdout,
            stderr,
        };
        if self.wait {
            sv.wait_until("the status file", DEADLINE, |sv| sv.dir.status().is_some());
        }
        sv
    }
}

// ------------------------------------------------------------------ the running supervisor

/// A running supervisor in its [`Guard`], which kills and reaps everything on drop.
#[derive(Debug)]
pub struct Supervised<'d> {
    pub dir: &'d ServiceDir,
    pub sup: Supervisor,
    guard: Guard,
    pid: i32,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Supervised<'_> {
    /// The supervisor's pid.
    #[must_use]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// What it wrote to its stderr so far.
    #[must_use]
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What it (and its children, whose stdout is its own) wrote to stdout so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The status file now.
    ///
    /// # Panics
    /// If it is missing or short.
    #[must_use]
    pub fn status(&self) -> SvStatus {
        self.dir.status().expect("a 35-byte status file")
    }

    /// Waits until the status file satisfies `done`, and returns it.
    ///
    /// # Panics
    /// If it does not within [`DEADLINE`].
    pub fn wait_status(&mut self, what: &str, mut done: impl FnMut(&SvStatus) -> bool) -> SvStatus {
        let mut last = None;
        self.wait_until(what, DEADLINE, |sv| {
            last = sv.dir.status();
            last.as_ref().is_some_and(&mut done)
        });
        last.expect("status")
    }

    /// Waits until run is up, and returns its pid.
    pub fn wait_up(&mut self) -> i32 {
        self.wait_status("the service up", |s| s.up()).pid()
    }

    /// Waits until `done` holds.
    ///
    /// # Panics
    /// If it does not within `within`, with the supervisor's stderr.
    pub fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) {
        if poll_until(Instant::now() + within, || done(self).then_some(())).is_none() {
            panic!(
                "timed out after {within:?} waiting for {what} ({:?}, status {:?}, exited {:?})\n--- stderr:\n{}",
                self.sup,
                self.dir.status(),
                self.guard.exit(),
                self.stderr()
            );
        }
    }

    /// Writes `bytes` into `supervise/control` in one write, as s6-svc does.
    ///
    /// # Panics
    /// If that fails.
    pub fn ctl(&self, bytes: impl AsRef<[u8]>) {
        let fd = open(
            &self.dir.path("supervise/control"),
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap_or_else(|e| panic!("open supervise/control: {e}"));
        let n = nix::unistd::write(&fd, bytes.as_ref()).expect("write supervise/control");
        assert_eq!(n, bytes.as_ref().len());
    }

    /// Sends `sig` to the supervisor.
    ///
    /// # Panics
    /// If it is gone.
    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid), sig)
            .unwrap_or_else(|e| panic!("kill -{sig} supervisor: {e}"));
    }

    /// Whether it has exited (it stays unreaped until the guard is dropped).
    pub fn has_exited(&mut self) -> bool {
        self.guard.exit().is_some()
    }

    /// Waits for it to exit and returns its exit code (`None`: killed by a signal).
    ///
    /// # Panics
    /// If it is still running after [`DEADLINE`].
    pub fn wait_exit(&mut self) -> Option<i32> {
        self.wait_until("the supervisor to exit", DEADLINE, Supervised::has_exited);
        self.guard.exit().and_then(|e| e.code())
    }
}

/// The session id of `pid` (field 6 of `/proc/PID/stat`).
#[must_use]
pub fn session_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(3)?.parse().ok()
}

/// Every process (pid, start time) whose session is one of `sessions`.
#[must_use]
pub fn in_sessions(sessions: &[i32]) -> Vec<(i32, i64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| session_of(*p).is_some_and(|s| sessions.contains(&s)))
        .filter_map(|p| Some((p, procfs::starttime(p)?)))
        .collect()
}

impl Drop for Supervised<'_> {
    fn drop(&mut self) {
        // Stopped first, so that it spawns nothing while its children's sessions are listed:
        // run and finish lead sessions of their own, and what they forked stays there even
        // once reparented, out of the guard's tree. The status file names the last child,
        // which may have outlived the supervisor (SIGQUIT).
        let alive = self.guard.exit().is_none();
        if alive {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGSTOP);
        }
        let mut leaders: Vec<i32> = if alive {
            procfs::descendants(self.pid)
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        } else {
            Vec::new()
        };
        if let Some(pid) = self.dir.status().map(|s| s.pid()).filter(|p| *p > 0) {
            leaders.push(pid);
        }
        let victims = in_sessions(&leaders);
        self.guard.kill_tree(&victims);
    }
}

/// Whether `pid` is still a process and not a zombie (a service we expect gone).
#[must_use]
pub fn alive(pid: i32) -> bool {
    procfs::is_alive(pid)
}

/// Waits until `pid` is gone (or a zombie).
///
/// # Panics
/// If it is not within [`DEADLINE`].
pub fn wait_gone(pid: i32) {
    crate::wait_until(&format!("pid {pid} gone"), DEADLINE, || !alive(pid));
}
