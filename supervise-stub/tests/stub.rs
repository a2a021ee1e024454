//! The stub run by hand, with pipes the test holds: its records and behaviours are what every
//! svscan scenario reads, so they are checked here first, against no svscan at all.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::process::Guard;
use integration_tests::{
    DEADLINE, EventLog, Events, Exit, Fixture, StubControl, binary, poll_until, procfs, signal_pid,
    wait_until, with_std_fds_only,
};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::fstat;
use nix::unistd::pipe2;

/// A stub started by the test as `s6-supervise NAME`, in the harness's guard: killed with
/// its tree (its orphan too) on drop.
struct Stub {
    process: Guard,
    log: EventLog,
}

impl Stub {
    fn start(fx: &Fixture, name: &str, stdin: Stdio, stdout: Stdio) -> Stub {
        Stub::spawn(
            fx,
            Command::new(binary("supervise-stub"))
                .arg0("s6-supervise")
                .arg(name),
            stdin,
            stdout,
        )
    }

    fn spawn(fx: &Fixture, cmd: &mut Command, stdin: Stdio, stdout: Stdio) -> Stub {
        let process = Guard::spawn(
            with_std_fds_only(cmd)
                .current_dir(fx.scandir())
                .env(integration_tests::STUB_EVENTS_ENV, fx.events_path())
                .stdin(stdin)
                .stdout(stdout),
        );
        Stub {
            process,
            log: EventLog::new(fx.events_path()),
        }
    }

    fn pid(&self) -> i32 {
        self.process.pid()
    }

    fn signal(&self, sig: Signal) {
        signal_pid(self.pid(), sig);
    }

    fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Events) -> bool) -> &Events {
        let log = &mut self.log;
        if poll_until(Instant::now() + DEADLINE, || {
            done(log.refresh()).then_some(())
        })
        .is_none()
        {
            panic!("timed out waiting for {what}:\n{}", log.events().dump());
        }
        self.log.events()
    }

    fn wait_exit(&mut self) -> Exit {
        match self.process.wait_exit(DEADLINE) {
            Some(exit) => exit,
            None => panic!("stub still running:\n{}", self.log.refresh().dump()),
        }
    }

    /// The orphan of `stub-spawn-orphan` left the stub's tree: killed as the harness kills
    /// what the records name.
    fn kill_with(&mut self, recorded: &[(i32, i64)]) {
        self.process.kill_tree(recorded);
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    pipe2(OFlag::O_CLOEXEC).expect("pipe2")
}

fn ino(fd: &OwnedFd) -> u64 {
    fstat(fd.as_fd()).expect("fstat").st_ino
}

/// Reads from `r` until `want` lines have come.
fn read_lines(r: OwnedFd, want: usize) -> Vec<String> {
    let mut file = File::from(r);
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text.lines().count() < want {
        let n = file.read(&mut buf).expect("read stub stdout");
        assert!(n > 0, "stub stdout closed after {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text.lines().map(str::to_owned).collect()
}

#[test]
fn service_stub_records_its_start_greets_on_stdout_and_exits_on_sigterm() {
    let fx = Fixture::new();
    fx.service("a");
    let (r, w) = pipe();
    let pipe_ino = ino(&r);
    let mut stub = Stub::start(&fx, "a", Stdio::null(), Stdio::from(w));
    let pid = stub.pid();
    assert_eq!(read_lines(r, 1), [Events::greeting("a", pid)]);

    let events = stub.wait_for("the start record", |e| e.last_start("a").is_some());
    let start = events.last_start("a").unwrap();
    assert_eq!(start.pid, pid);
    assert_eq!(start.int("ppid"), Some(i64::from(std::process::id())));
    assert_eq!(start.argv(), ["s6-supervise", "a"]);
    assert_eq!(start.str("cwd"), Some(fx.scandir().to_str().unwrap()));
    assert_eq!(start.str("role"), Some("service"));
    assert_eq!(start.fd(0).unwrap().kind, "null");
    let fd1 = start.fd(1).unwrap();
    assert_eq!(
        (fd1.kind.as_str(), fd1.ino, fd1.mode.as_str()),
        ("pipe", pipe_ino, "w")
    );
    assert_eq!(start.open_fds(), [0, 1, 2]);
    // std's spawn gives the child an empty mask and SIGPIPE at its default.
    assert_eq!(start.blocked_signals(), []);
    assert_eq!(start.ignored_signals(), []);

    stub.signal(Signal::SIGTERM);
    assert!(stub.wait_exit().success());
    let events = stub.wait_for("the exit record", |e| e.exited(pid));
    assert_eq!(events.signals_of(pid), ["SIGTERM"]);
    let signal = events.find("signal", "a").next().unwrap();
    assert_eq!(signal.int("from"), Some(i64::from(std::process::id())));
    assert_eq!(
        events.find("exit", "a").next().unwrap().str("why"),
        Some("SIGTERM")
    );
}

#[test]
fn start_record_shows_a_sigpipe_ignore_inherited_from_the_parent() {
    // Rust's runtime ignores SIGPIPE before main; the stub reads its masks before that.
    let fx = Fixture::new();
    fx.service("a");
    let stub_path = binary("supervise-stub");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"trap '' PIPE; exec "$0" "$1""#])
        .arg(&stub_path)
        .arg("a");
    let mut stub = Stub::spawn(&fx, &mut cmd, Stdio::null(), Stdio::null());
    let events = stub.wait_for("the start record", |e| e.last_start("a").is_some());
    assert_eq!(
        events.last_start("a").unwrap().ignored_signals(),
        [Signal::SIGPIPE]
    );
}

#[test]
fn logger_stub_records_lines_and_after_sighup_reads_on_until_eof() {
    let fx = Fixture::new();
    fx.logged("a");
    let (r, w) = pipe();
    let mut w = File::from(w);
    let mut stub = Stub::start(&fx, "a/log", Stdio::from(r), Stdio::null());
    let pid = stub.pid();
    w.write_all(b"one\ntwo\n").unwrap();
    stub.wait_for("two lines", |e| e.lines("a/log") == ["one", "two"]);
    assert_eq!(
        stub.log.events().last_start("a/log").unwrap().str("role"),
        Some("logger")
    );

    stub.signal(Signal::SIGHUP);
    stub.wait_for("the SIGHUP record", |e| e.signals_of(pid) == ["SIGHUP"]);
    w.write_all(b"three\nunterminated").unwrap();
    stub.wait_for("the third line", |e| e.lines("a/log").len() == 3);
    assert!(
        procfs::is_alive(pid),
        "a logger must not exit on SIGHUP before EOF"
    );
    drop(w);
    assert!(stub.wait_exit().success());
    let events = stub.wait_for("the exit record", |e| e.exited(pid));
    let kinds: Vec<&str> = events.of_pid(pid).map(|e| e.ev.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "start", "line", "line", "signal", "line", "partial", "eof", "exit"
        ]
    );
    assert_eq!(
        events.find("partial", "a/log").next().unwrap().str("text"),
        Some("unterminated")
    );
    assert_eq!(
        events.find("exit", "a/log").next().unwrap().str("why"),
        Some("SIGHUP then EOF")
    );
}

#[test]
fn logger_stub_exits_at_once_on_sigterm() {
    let fx = Fixture::new();
    fx.logged("a");
    let (r, _w) = pipe();
    let mut stub = Stub::start(&fx, "a/log", Stdio::from(r), Stdio::null());
    stub.wait_for("the start record", |e| e.last_start("a/log").is_some());
    stub.signal(Signal::SIGTERM);
    assert!(stub.wait_exit().success());
}

#[test]
fn stub_exit_file_ends_the_stub_with_its_code_after_the_start_record() {
    let fx = Fixture::new();
    fx.control("a", StubControl::Exit(3));
    let mut stub = Stub::start(&fx, "a", Stdio::null(), Stdio::null());
    assert_eq!(stub.wait_exit().code(), Some(3));
    let pid = stub.pid();
    let events = stub.wait_for("the exit record", |e| e.exited(pid));
    let kinds: Vec<&str> = events.of_pid(pid).map(|e| e.ev.as_str()).collect();
    assert_eq!(kinds, ["start", "exit"]);
    assert_eq!(
        events.find("exit", "a").next().unwrap().int("code"),
        Some(3)
    );
}

#[test]
fn stub_ignore_term_keeps_the_stub_running_and_exit_delay_postpones_the_exit() {
    let fx = Fixture::new();
    fx.control("a", StubControl::IgnoreTerm);
    fx.control("a", StubControl::ExitDelay(Duration::from_millis(200)));
    let mut stub = Stub::start(&fx, "a", Stdio::null(), Stdio::null());
    let pid = stub.pid();
    stub.wait_for("the start record", |e| e.last_start("a").is_some());
    stub.signal(Signal::SIGTERM);
    stub.wait_for("the SIGTERM record", |e| e.signals_of(pid) == ["SIGTERM"]);
    stub.signal(Signal::SIGHUP);
    assert!(stub.wait_exit().success());
    let events = stub.wait_for("the exit record", |e| e.exited(pid));
    let hup = events.find("signal", "a").last().unwrap();
    let exit = events.find("exit", "a").next().unwrap();
    assert!(
        exit.mono_ns - hup.mono_ns >= 200_000_000,
        "{}",
        events.dump()
    );
}

#[test]
fn numbered_lines_are_written_and_counted() {
    let fx = Fixture::new();
    fx.control("a", StubControl::Lines(3));
    let (r, w) = pipe();
    let mut stub = Stub::start(&fx, "a", Stdio::null(), Stdio::from(w));
    let pid = stub.pid();
    let lines = read_lines(r, 4);
    assert_eq!(lines[0], Events::greeting("a", pid));
    assert_eq!(lines[3], format!("line 3 of a pid {pid}"));
    stub.signal(Signal::SIGTERM);
    stub.wait_exit();
    let events = stub.wait_for("the exit record", |e| e.exited(pid));
    assert_eq!(
        events
            .find("exit", "a")
            .next()
            .unwrap()
            .int("lines_written"),
        Some(3)
    );
}

#[test]
fn a_write_to_a_pipe_without_reader_is_recorded_as_epipe_not_a_silent_death() {
    let fx = Fixture::new();
    fx.control("a", StubControl::LinesForever(Duration::ZERO));
    let (r, w) = pipe();
    drop(r);
    let mut stub = Stub::start(&fx, "a", Stdio::null(), Stdio::from(w));
    let pid = stub.pid();
    stub.wait_for("the epipe record", |e| e.count("epipe", "a") == 1);
    assert!(procfs::is_alive(pid), "the stub must survive EPIPE");
    stub.signal(Signal::SIGTERM);
    assert!(stub.wait_exit().success());
}

#[test]
fn spawned_orphan_records_itself_and_outlives_the_stub() {
    let fx = Fixture::new();
    fx.control("a", StubControl::SpawnOrphan(None));
    let mut stub = Stub::start(&fx, "a", Stdio::null(), Stdio::null());
    let pid = stub.pid();
    let events = stub.wait_for("the orphan record", |e| e.count("orphan", "a") == 1);
    let orphan = events.find("orphan", "a").next().unwrap();
    assert_eq!(orphan.int("ppid"), Some(i64::from(pid)));
    let orphan_pid = orphan.pid;
    assert!(
        events
            .processes()
            .contains(&(orphan_pid, procfs::starttime(orphan_pid).unwrap()))
    );
    stub.signal(Signal::SIGTERM);
    stub.wait_exit();
    assert!(procfs::is_alive(orphan_pid));
    let recorded = stub.log.refresh().processes();
    stub.kill_with(&recorded);
    // SIGKILL takes effect a moment after kill(2) returns.
    wait_until("the guard to kill the orphan too", DEADLINE, || {
        !procfs::is_alive(orphan_pid)
    });
}
