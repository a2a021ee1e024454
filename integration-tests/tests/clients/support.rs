//! What the client scenarios share: the supervisors they run against (a list, so that adding
//! ours is one line), the C clients to compare with and one differential run, a guard for a
//! running supervisor and one for a client left running in the background, and the service
//! scripts.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::status::Status;
use integration_tests::process::{Exit, Guard};
use integration_tests::program::{self, Ran};
use integration_tests::suite::optional;
use integration_tests::{
    DEADLINE, binary, real_s6, reference, wait_until, with_std_fds_only, workspace_root,
};

/// A service that runs until killed.
pub const SLEEPER: &str = "#!/bin/sh\nexec sleep 1000\n";
/// A service that notifies readiness on fd 3 (its `notification-fd`) and runs until killed.
pub const NOTIFIER: &str = "#!/bin/sh\necho >&3\nexec 3>&-\nexec sleep 1000\n";

/// A service that notifies readiness (on fd 3) only once the test lets it through its `gate`
/// FIFO ([`open_gate`]), made by the script if missing; then it runs until killed.
pub const GATED_NOTIFIER: &str =
    "#!/bin/sh\n[ -p gate ] || mkfifo gate\nread x <gate\necho >&3\nexec 3>&-\nexec sleep 1000\n";

/// Lets a script blocked in `read x <gate` (in the service directory `dir`) through once:
/// waits for it to be opening the FIFO (until then a non-blocking open for writing fails),
/// then writes a line.
pub fn open_gate(dir: &Path) {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    let gate = dir.join("gate");
    let mut fd = None;
    wait_until("the script at its gate", DEADLINE, || {
        fd = open(
            &gate,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok();
        fd.is_some()
    });
    let fd = fd.unwrap_or_else(|| unreachable!());
    nix::unistd::write(&fd, b"\n").expect("write to the gate");
}

/// Which s6 a C program comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Debian's s6 2.11 in /usr/bin.
    Debian,
    /// The C 2.12.0.4 reference.
    Reference,
}

/// The C builds of `prog` here: Debian's 2.11 and the 2.12 reference's. One that is missing
/// is a part of the scenario that did not run, listed as such (and a failure under CI).
pub fn c_programs(prog: &str) -> Vec<(Origin, PathBuf)> {
    let mut all = Vec::new();
    if let Some(p) = optional(real_s6(prog)) {
        all.push((Origin::Debian, p));
    }
    if let Some(p) = optional(reference(prog)) {
        all.push((Origin::Reference, p));
    }
    all
}

/// A supervisor the scenarios run against.
#[derive(Clone, Debug)]
pub struct Supervisor {
    pub name: &'static str,
    pub path: PathBuf,
}

/// Every supervisor here: ours (from the moment the `supervise` crate is in the workspace),
/// Debian's C s6-supervise 2.11 and the reference's 2.12 (`s6-supervise.real`:
/// `s6-supervise` there is a wrapper for svscan's tests).
pub fn supervisors() -> Vec<Supervisor> {
    let mut all = Vec::new();
    if workspace_root().join("supervise/Cargo.toml").is_file() {
        all.push(Supervisor {
            name: "supervise (ours)",
            path: binary("supervise"),
        });
    }
    if let Some(path) = optional(real_s6("s6-supervise")) {
        all.push(Supervisor {
            name: "s6-supervise 2.11",
            path,
        });
    }
    if let Some(path) = optional(reference("s6-supervise.real")) {
        all.push(Supervisor {
            name: "s6-supervise 2.12",
            path,
        });
    }
    all
}

/// A running supervisor on a service directory; dropping it kills it and every process it
/// started (service, finish) by pid ([`Guard`]).
pub struct Supervised {
    pub dir: PathBuf,
    pub name: &'static str,
    guard: Guard,
    stderr: PathBuf,
}

impl Supervised {
    /// Starts `sup` on `dir` (stdin and stdout on /dev/null, stderr kept in a file beside
    /// `dir`).
    pub fn start(sup: &Supervisor, dir: &Path) -> Supervised {
        let stderr = dir.with_extension("supervise-stderr");
        let file = File::create(&stderr).expect("create stderr file");
        let guard = Guard::spawn(
            with_std_fds_only(&mut Command::new(&sup.path))
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file),
        );
        Supervised {
            dir: dir.to_owned(),
            name: sup.name,
            guard,
            stderr,
        }
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> i32 {
        self.guard.pid()
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
    ///
    /// # Panics
    /// If it does not within [`DEADLINE`].
    pub fn wait_exit(&mut self) -> Exit {
        let exit = self.guard.wait_exit(DEADLINE);
        exit.unwrap_or_else(|| panic!("{} did not exit: {}", self.name, self.stderr()))
    }

    /// What the supervisor wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// Runs `cmd` to its end (stdin on /dev/null) within [`DEADLINE`], its output kept.
pub fn run(cmd: &mut Command) -> Ran {
    program::run(cmd, DEADLINE)
}

/// Takes the fcntl write lock on `dir/supervise/lock` (creating it) and returns the fd that
/// holds it, so that C clients see "a supervisor is running" on a hand-made status file.
pub fn hold_supervise_lock(dir: &Path) -> OwnedFd {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    std::fs::create_dir_all(dir.join("supervise")).expect("mkdir supervise");
    let fd = open(
        &dir.join("supervise/lock"),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )
    .expect("open supervise/lock");
    assert_eq!(
        common::lock::try_lock(fd.as_fd()),
        Ok(true),
        "lock supervise/lock"
    );
    fd
}

/// A client running in the background (a listener the test acts on while it waits): its
/// stdout and stderr go to files; dropping it kills it by pid if it still runs ([`Guard`]).
pub struct Running {
    guard: Guard,
    out: File,
    err: File,
}

impl Running {
    /// Starts `cmd` (stdin on /dev/null).
    pub fn start(cmd: &mut Command) -> Running {
        let out = tempfile::tempfile().expect("tempfile");
        let err = tempfile::tempfile().expect("tempfile");
        let guard = Guard::spawn(
            with_std_fds_only(cmd)
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("dup"))
                .stderr(err.try_clone().expect("dup")),
        );
        Running { guard, out, err }
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.guard.exit().is_some()
    }

    /// Waits for its end, within [`DEADLINE`].
    ///
    /// # Panics
    /// If it overruns (it is killed by the guard's drop).
    pub fn wait(mut self) -> Ran {
        let exit = self
            .guard
            .wait_exit(DEADLINE)
            .expect("still running after the deadline");
        Ran {
            code: exit.code(),
            stdout: read_all(&mut self.out),
            stderr: read_all(&mut self.err),
        }
    }
}

fn read_all(f: &mut File) -> String {
    let mut s = String::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.read_to_string(&mut s))
        .expect("read output");
    s
}

/// `text` with the `PROG: ` that starts each line taken out, so that messages of programs
/// run under different names compare equal.
pub fn without_prog(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once(": ").map_or(l, |(_, rest)| rest))
        .fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
}

/// Debian's 2.11 (its skalibs) prints a stray `: ` in every "unable to" message without an
/// errno (`s6-svc: fatal: : unable to control DIR: supervisor not listening`); 2.12 prints the
/// spec's text. This takes it out of a Debian program's output, so that the rest is compared.
pub fn debian_quirks(c_tool: &Path, mut out: Ran) -> Ran {
    if c_tool.starts_with("/usr/bin") {
        out.stderr = out
            .stderr
            .replace("fatal: : unable to ", "fatal: unable to ");
    }
    out
}

/// Whether `ours` is what C printed in the run `before` or the run `after` it, word by word:
/// every word is the one of `before` or the one of `after` at its place, or a number between
/// theirs. A field counting seconds may tick between the runs (more than once on a loaded
/// machine), and two such fields (`updownfor`, `readyfor`, whose stamps differ by a few ms)
/// may tick at different moments; any other difference still fails.
fn between(ours: &Ran, before: &Ran, after: &Ran) -> bool {
    if ours == before || ours == after {
        return true;
    }
    let same_rest = |c: &Ran| c.code == ours.code && c.stderr == ours.stderr;
    let words = |r: &Ran| r.stdout.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let (o, b, a) = (words(ours), words(before), words(after));
    same_rest(before)
        && same_rest(after)
        && o.len() == b.len()
        && o.len() == a.len()
        && o.iter()
            .zip(b.iter().zip(&a))
            .all(|(o, (b, a))| o == b || o == a || counted_between(o, b, a))
}

/// Whether the word `ours` is a count of seconds between C's `before` and `after`.
fn counted_between(ours: &str, before: &str, after: &str) -> bool {
    let n = |w: &str| w.trim_end().parse::<u64>().ok();
    matches!((n(ours), n(before), n(after)), (Some(o), Some(b), Some(a)) if b <= o && o <= a)
}

/// Runs our `tool` and the C `c_tool` on the same arguments and asserts the same exit code,
/// stdout, and stderr but for the program name. C runs before and after ours, and ours must
/// match them as [`between`] says: a field counting seconds may tick between runs.
pub fn same_as_c(tool: &str, c_tool: &Path, args: &[&OsStr], what: &str) -> Ran {
    let normalise = |mut o: Ran| {
        o.stderr = without_prog(&o.stderr);
        o
    };
    let c_normalise = |o: Ran| debian_quirks(c_tool, normalise(o));
    let before = c_normalise(run(Command::new(c_tool).args(args)));
    let ours = normalise(run(Command::new(binary(tool)).args(args)));
    let after = c_normalise(run(Command::new(c_tool).args(args)));
    assert!(
        between(&ours, &before, &after),
        "{what}: {tool} {args:?}\nours: {ours:?}\nC ({}): {before:?}\nC again: {after:?}",
        c_tool.display()
    );
    ours
}

/// Runs C `s6-svc` (Debian's: it is there whenever a supervisor is) with `args` on `dir`.
pub fn c_svc(args: &[&str], dir: &Path) {
    let svc = real_s6("s6-svc").expect("s6-svc beside s6-supervise");
    let out = run(Command::new(svc).args(args).arg(dir));
    assert_eq!(out.code, Some(0), "s6-svc {args:?}: {}", out.stderr);
}

/// One implementation of a client tool: ours or a C build.
#[derive(Clone, Debug)]
pub struct Client {
    /// `None` for ours.
    pub origin: Option<Origin>,
    pub path: PathBuf,
}

impl Client {
    /// A name for assertion messages.
    pub fn name(&self) -> String {
        match self.origin {
            None => "ours".into(),
            Some(o) => format!("{o:?}'s {}", self.path.display()),
        }
    }
}

/// Our `tool` first, then every C build of `c_tool`.
pub fn clients(tool: &str, c_tool: &str) -> Vec<Client> {
    let mut all = vec![Client {
        origin: None,
        path: binary(tool),
    }];
    all.extend(c_programs(c_tool).into_iter().map(|(o, path)| Client {
        origin: Some(o),
        path,
    }));
    all
}

/// Whether something subscribed to the fifodir `dir/event` (a FIFO of the subscriber shape
/// is there), so that a test sends its command only once a listener listens.
pub fn is_subscribed(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("event")).is_ok_and(|d| {
        d.flatten().any(|e| {
            let n = e.file_name();
            n.len() == common::ftrig::NAME_LEN
                && n.as_encoded_bytes().starts_with(common::ftrig::PREFIX)
        })
    })
}
