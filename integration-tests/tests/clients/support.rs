//! What the client scenarios share: the supervisors they run against (a list, so that adding
//! ours is one line), the C clients to compare with, a guard for a running supervisor, and a
//! client run to its end with its output kept. Kept small on purpose: the harness's own
//! guards and skip counting replace it as they land.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::status::Status;
use integration_tests::{DEADLINE, POLL_INTERVAL, procfs, real_s6, wait_until, with_std_fds_only};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The C s6 2.12.0.4 reference's `prog`: `$S6REF/bin/prog`, `$S6REF` defaulting to
/// `${XDG_CACHE_HOME:-$HOME/.cache}/s6-reference-2.12`. `None` with a note when it is not
/// built (under CI, a failure: `.ci/run` builds it).
pub fn reference(prog: &str) -> Option<PathBuf> {
    let root = std::env::var_os("S6REF").map(PathBuf::from).or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(cache.join("s6-reference-2.12"))
    })?;
    let path = root.join("bin").join(prog);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: .ci/run builds the s6 2.12 reference",
        path.display()
    );
    eprintln!("skipped: {} is not built", path.display());
    None
}

/// Which s6 a program comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Debian's s6 2.11 in /usr/bin.
    Debian,
    /// The C 2.12.0.4 reference.
    Reference,
}

/// A supervisor the scenarios run against.
#[derive(Clone, Debug)]
pub struct Supervisor {
    pub name: &'static str,
    #[allow(dead_code)] // read by the scenarios where 2.11 and 2.12 differ
    pub origin: Origin,
    pub path: PathBuf,
}

/// Every supervisor available here: Debian's C s6-supervise 2.11 and the reference's 2.12
/// (`s6-supervise.real`: `s6-supervise` there is a wrapper for svscan's tests).
pub fn supervisors() -> Vec<Supervisor> {
    let mut all = Vec::new();
    if let Ok(path) = real_s6("s6-supervise") {
        all.push(Supervisor {
            name: "s6-supervise 2.11",
            origin: Origin::Debian,
            path,
        });
    }
    if let Some(path) = reference("s6-supervise.real") {
        all.push(Supervisor {
            name: "s6-supervise 2.12",
            origin: Origin::Reference,
            path,
        });
    }
    all
}

/// A running supervisor on a service directory. Dropping it stops the supervisor, kills it
/// and every process it started (service, finish) by pid, and reaps it.
pub struct Supervised {
    pub dir: PathBuf,
    pub name: &'static str,
    child: Child,
    stderr: PathBuf,
}

impl Supervised {
    /// Starts `sup` on `dir` (stdin and stdout on /dev/null, stderr kept in a file beside
    /// `dir`).
    pub fn start(sup: &Supervisor, dir: &Path) -> Supervised {
        let stderr = dir.with_extension("supervise-stderr");
        let file = File::create(&stderr).expect("create stderr file");
        let child = with_std_fds_only(&mut Command::new(&sup.path))
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", sup.path.display()));
        Supervised {
            dir: dir.to_owned(),
            name: sup.name,
            child,
            stderr,
        }
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until the status file satisfies `done`, and returns it.
    pub fn wait_status(&self, what: &str, mut done: impl FnMut(&Status) -> bool) -> Status {
        let mut last = None;
        wait_until(&format!("{} ({})", what, self.name), DEADLINE, || {
            last = Status::read(&self.dir).ok();
            last.as_ref().is_some_and(&mut done)
        });
        last.unwrap_or(Status::ZERO)
    }

    /// Waits for the supervisor to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// What the supervisor wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.pid());
        if matches!(self.child.try_wait(), Ok(None)) {
            // Stopped, it cannot start anything new while its children are listed and killed.
            let _ = kill(pid, Signal::SIGSTOP);
            for (child, start) in procfs::descendants(self.pid()) {
                if procfs::starttime(child) == Some(start) {
                    let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
                }
            }
            let _ = kill(pid, Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// How a client run by [`run`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The exit code, `None` if a signal killed it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end (stdin on /dev/null), within [`DEADLINE`].
///
/// # Panics
/// If it cannot be started or overruns (it is then killed by pid and reaped).
pub fn run(cmd: &mut Command) -> Output {
    run_within(cmd, DEADLINE)
}

/// [`run`] with another deadline.
pub fn run_within(cmd: &mut Command, within: Duration) -> Output {
    let mut out = tempfile::tempfile().expect("tempfile");
    let mut err = tempfile::tempfile().expect("tempfile");
    let mut child = with_std_fds_only(cmd)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            panic!("{cmd:?} still running after {within:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    Output {
        code: status.code(),
        stdout: read_all(&mut out),
        stderr: read_all(&mut err),
    }
}

/// Takes the fcntl write lock on `dir/supervise/lock` (creating it) and returns the fd that
/// holds it, so that C clients see "a supervisor is running" on a hand-made status file.
pub fn hold_supervise_lock(dir: &Path) -> std::os::fd::OwnedFd {
    use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
    use nix::libc;
    use nix::sys::stat::Mode;
    std::fs::create_dir_all(dir.join("supervise")).expect("mkdir supervise");
    let fd = open(
        &dir.join("supervise/lock"),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .expect("open supervise/lock");
    let lock = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(&fd, FcntlArg::F_SETLK(&lock)).expect("lock supervise/lock");
    fd
}

/// A client running in the background (a listener the test must act on while it waits). Its
/// stdout and stderr go to files; dropping it kills it by pid if it is still running.
pub struct Running {
    child: Child,
    out: File,
    err: File,
}

impl Running {
    /// Starts `cmd` (stdin on /dev/null).
    pub fn start(cmd: &mut Command) -> Running {
        let out = tempfile::tempfile().expect("tempfile");
        let err = tempfile::tempfile().expect("tempfile");
        let child = with_std_fds_only(cmd)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Running { child, out, err }
    }

    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for its end, within [`DEADLINE`].
    ///
    /// # Panics
    /// If it overruns (it is killed by pid and reaped by the drop).
    pub fn wait(mut self) -> Output {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {DEADLINE:?}"
            );
            std::thread::sleep(POLL_INTERVAL);
        };
        Output {
            code: status.code(),
            stdout: read_all(&mut self.out),
            stderr: read_all(&mut self.err),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn read_all(f: &mut File) -> String {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_string(&mut s))
        .expect("read output");
    s
}
