//! `supervise-stub`: a test double of `s6-supervise` that records what svscan did to it.
//!
//! svscan starts it as `s6-supervise NAME` in the scan directory (spec: "What svscan expects
//! of a supervise program"). It appends one JSON object per line, each with one `write(2)` on
//! an `O_APPEND` file, to the file named by `SUPERVISE_STUB_EVENTS` (no variable: it records
//! nothing but behaves the same), so that records of concurrent stubs never interleave. Every
//! record has `ev`, `name`, `pid`, `mono_ns` (CLOCK_MONOTONIC) and `real_ns` (CLOCK_REALTIME).
//!
//! Records (`ev`):
//! - `start`: `ppid`, `pgid`, `sid`, `starttime` (field 22 of `/proc/self/stat`, to tell a
//!   reused pid from this process), `argv`, `cwd`, `role` (`service` or `logger`), `sigblk`
//!   and `sigign` (the hex masks of `/proc/self/status`, read before Rust's runtime or the
//!   stub change anything), and `fds`: every open fd, as `{"FD": {"kind", "ino", "mode", "target"}}`
//!   with kind `pipe`, `fifo`, `null`, `tty`, `chr`, `file`, `dir`, `socket` or `other`, mode
//!   `r`, `w` or `rw`, target the `/proc/self/fd` link; a closed fd 0, 1 or 2 is
//!   `{"kind": "closed"}`.
//! - `signal`: `sig` (`SIGTERM`), `signo`, `from` (the sender's pid), `lines_written`.
//! - `line`: `text`, a line a logger read from its stdin (without the newline); `partial`:
//!   an unterminated tail it had read when it exited; `eof`: its stdin reached end of file.
//! - `epipe`: a write to stdout failed with EPIPE (SIGPIPE is blocked so that the stub never
//!   dies of it silently); the stub stops writing and keeps running. `error`: `what`, `errno`.
//! - `orphan`: written by the grandchild of `stub-spawn-orphan` itself (`ppid`, `starttime`);
//!   `reaped`: the stub collected a dead child (`child`, `status`).
//! - `exit`: `code`, `why`, `lines_written`; written just before the process exits.
//!
//! A service (NAME without `/`) writes `hello from NAME pid PID\n` to its stdout at start and
//! exits on SIGTERM, SIGHUP, SIGINT or SIGQUIT. A logger (NAME with `/`, or `stub-logger`)
//! reads its stdin and records each line; SIGHUP makes it read on until EOF and then exit, as
//! s6-supervise does for a logger; SIGTERM, SIGINT and SIGQUIT make it exit at once. Every
//! other catchable signal is recorded and otherwise ignored.
//!
//! Control files in the service directory `NAME/` (read once at start):
//! - `stub-exit`: exit right after the start record with the code it contains (default 0);
//! - `stub-exit-after`: exit with code 0 after the milliseconds it contains;
//! - `stub-exit-delay`: on a signal that ends the stub, wait these milliseconds first;
//! - `stub-ignore-term`, `stub-ignore-hup`: record that signal and keep running;
//! - `stub-logger`: behave as a logger whatever the name;
//! - `stub-lines`: write N numbered lines `line K of NAME pid PID` (K from 1) to stdout;
//! - `stub-lines-forever`: write numbered lines until the end, one every N ms (default 1;
//!   `0`: as fast as stdout takes them); `lines_written` in `signal`, `epipe` and `exit`
//!   records is the number of the last line fully written;
//! - `stub-spawn-orphan`: start a child that outlives the stub, living the milliseconds it
//!   contains (default: until killed).
//!
//! No threads: one `poll` over a signalfd, stdin (loggers) and stdout (while there is output
//! to write, so that a full pipe never blocks the stub's reaction to a signal).
#![deny(unsafe_code)]

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{SFlag, stat};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::time::{ClockId, clock_gettime};
use nix::unistd::{getpgrp, getpid, getppid, getsid, read, write};

/// The environment variable naming the event log.
const EVENTS_ENV: &str = "SUPERVISE_STUB_EVENTS";
/// argv[1] of the grandchild started for `stub-spawn-orphan`.
const ORPHAN_ARG: &str = "--orphan";

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.get(1).map(String::as_str) == Some(ORPHAN_ARG) {
        orphan(&args);
    }
    let status = STATUS_AT_EXEC.get().map_or("", String::as_str);
    let fds = describe_fds();
    let name = args.get(1).cloned().unwrap_or_default();
    let controls = Controls::read(&name);
    let mut log = Log::open(&name);

    let logger = controls.logger || name.contains('/');
    let mut r = log.record("start");
    r.int("ppid", getppid().as_raw().into());
    r.int("pgid", getpgrp().as_raw().into());
    r.int("sid", getsid(None).map_or(-1, |p| p.as_raw().into()));
    r.int("starttime", starttime());
    r.strs("argv", &args);
    let cwd = std::env::current_dir().map_or_else(|_| String::new(), |p| p.display().to_string());
    r.str("cwd", &cwd);
    r.str("role", if logger { "logger" } else { "service" });
    r.str("sigblk", status_field(status, "SigBlk:"));
    r.str("sigign", status_field(status, "SigIgn:"));
    r.raw("fds", &fds);
    r.end();
    log.flush();

    if let Some(code) = controls.exit {
        log.exit(code, "stub-exit", None);
    }
    Stub::new(name, log, controls, logger).run()
}

/// `/proc/self/status` as exec left it. Rust's runtime sets SIGPIPE to SIG_IGN before `main`
/// runs, so a read in `main` would always show SIGPIPE ignored, hiding exactly the bug the
/// record is for (a disposition svscan let through); a constructor runs before that.
static STATUS_AT_EXEC: OnceLock<String> = OnceLock::new();

/// Runs before `main`: reads the status, then blocks the signals the stub takes through its
/// signalfd. Blocking this early means a signal sent as soon as the start record is seen (or
/// even before) is recorded, not a silent death by its default action.
extern "C" fn at_exec() {
    let _ = STATUS_AT_EXEC.set(std::fs::read_to_string("/proc/self/status").unwrap_or_default());
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stub_signals()), None);
}

/// The stub's only `unsafe`: registering [`at_exec`] as a constructor.
#[allow(unsafe_code)]
mod sys {
    // SAFETY: `.init_array` holds `extern "C" fn()` pointers that the dynamic loader calls
    // before `main`, single-threaded; this one reads a file into a `OnceLock` and sets the
    // signal mask, and cannot panic (no unwrap).
    #[used]
    #[unsafe(link_section = ".init_array")]
    static AT_EXEC: extern "C" fn() = super::at_exec;
}

/// Behaviour requested through `NAME/stub-*` files.
#[derive(Default)]
struct Controls {
    exit: Option<i32>,
    exit_after: Option<Duration>,
    exit_delay: Duration,
    ignore_term: bool,
    ignore_hup: bool,
    logger: bool,
    lines: Option<u64>,
    /// Interval between lines of `stub-lines-forever`.
    forever: Option<Duration>,
    /// `Some(None)`: an orphan that lives until killed.
    orphan: Option<Option<Duration>>,
}

impl Controls {
    fn read(name: &str) -> Controls {
        let mut c = Controls::default();
        // One directory read rather than a failed open per possible file: most service
        // directories have no stub file at all.
        if name.is_empty() {
            return c;
        }
        let Ok(dir) = std::fs::read_dir(name) else {
            return c;
        };
        for entry in dir.flatten() {
            let file = entry.file_name();
            let Some(file) = file.to_str().filter(|f| f.starts_with("stub-")) else {
                continue;
            };
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let number = text.trim().parse::<u64>().ok();
            let ms = number.map(Duration::from_millis);
            match file {
                "stub-exit" => c.exit = Some(text.trim().parse().unwrap_or(0)),
                "stub-exit-after" => c.exit_after = Some(ms.unwrap_or_default()),
                "stub-exit-delay" => c.exit_delay = ms.unwrap_or_default(),
                "stub-ignore-term" => c.ignore_term = true,
                "stub-ignore-hup" => c.ignore_hup = true,
                "stub-logger" => c.logger = true,
                "stub-lines" => c.lines = Some(number.unwrap_or(1)),
                "stub-lines-forever" => {
                    c.forever = Some(ms.unwrap_or(Duration::from_millis(1)));
                }
                "stub-spawn-orphan" => c.orphan = Some(ms),
                _ => {}
            }
        }
        c
    }
}

/// The running stub: its event log, its pending output and what ends it.
struct Stub {
    name: String,
    log: Log,
    controls: Controls,
    logger: bool,
    signals: SignalFd,
    /// Bytes still to write to stdout (the greeting, then the current numbered line).
    out: Vec<u8>,
    /// Lines fully written, and the number of the line in `out` if any.
    lines_written: u64,
    line_in_out: Option<u64>,
    next_line_at: Instant,
    /// Set after EPIPE: stdout is never written again.
    stdout_dead: bool,
    stdin_open: bool,
    /// Unterminated tail of what the logger read.
    partial: Vec<u8>,
    /// SIGHUP received by a logger: exit at EOF.
    draining: bool,
    /// When and why the stub exits (an ending signal plus `stub-exit-delay`).
    exit_at: Option<(Instant, &'static str)>,
}

impl Stub {
    fn new(name: String, log: Log, controls: Controls, logger: bool) -> Stub {
        // Blocked (since `at_exec`) signals are queued even when their disposition is SIG_IGN
        // (Linux never discards a blocked signal), so an ignored SIGTERM inherited from svscan
        // still shows up here: the start record has already said it was ignored.
        let mut log = log;
        let mask = stub_signals();
        let signals = match sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).and_then(|()| {
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        }) {
            Ok(fd) => fd,
            Err(e) => {
                log.error("signalfd", e);
                log.exit(111, "signalfd", None)
            }
        };
        let now = Instant::now();
        let mut stub = Stub {
            name,
            log,
            logger,
            signals,
            out: Vec::new(),
            lines_written: 0,
            line_in_out: None,
            next_line_at: now,
            stdout_dead: false,
            stdin_open: logger,
            partial: Vec::new(),
            draining: false,
            exit_at: controls.exit_after.map(|d| (now + d, "stub-exit-after")),
            controls,
        };
        if !logger {
            let pid = getpid();
            let _ = writeln!(
                stub_text(&mut stub.out),
                "hello from {} pid {pid}",
                stub.name
            );
        }
        if let Some(life) = stub.controls.orphan {
            stub.spawn_orphan(life);
        }
        stub
    }

    fn writes_lines(&self) -> bool {
        self.controls.lines.is_some() || self.controls.forever.is_some()
    }

    fn run(mut self) -> ! {
        loop {
            let now = Instant::now();
            if let Some((at, why)) = self.exit_at
                && now >= at
            {
                self.finish(why);
            }
            self.refill(now);
            let mut deadline = self.exit_at.map(|(at, _)| at);
            if self.out.is_empty() && self.more_lines() && !self.stdout_dead {
                deadline = Some(deadline.map_or(self.next_line_at, |d| d.min(self.next_line_at)));
            }
            let timeout = deadline.map_or(PollTimeout::NONE, |d| {
                let ms = d.saturating_duration_since(now).as_millis() + 1;
                PollTimeout::try_from(ms.min(60_000) as u32).unwrap_or(PollTimeout::MAX)
            });

            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            let stdin_slot = self.stdin_open.then(|| {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let stdout_slot = (!self.out.is_empty() && !self.stdout_dead).then(|| {
                fds.push(PollFd::new(stdout.as_fd(), PollFlags::POLLOUT));
                fds.len() - 1
            });
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => {
                    self.log.error("poll", e);
                    self.finish("poll");
                }
            }
            let ready = |slot: Option<usize>| {
                slot.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let (sig_ready, in_ready, out_ready) =
                (ready(Some(0)), ready(stdin_slot), ready(stdout_slot));
            drop(fds);
            // Signals first: a stub told to exit at once reads no more of its stdin, so the
            // next logger finds the rest in the pipe.
            if sig_ready {
                self.handle_signals();
            }
            if in_ready {
                self.read_stdin();
            }
            if out_ready {
                self.write_stdout();
            }
        }
    }

    fn more_lines(&self) -> bool {
        match (self.controls.lines, self.controls.forever) {
            (_, Some(_)) => true,
            (Some(n), None) => self.lines_written + u64::from(self.line_in_out.is_some()) < n,
            (None, None) => false,
        }
    }

    /// Puts the next numbered line in `out` when the previous output is gone and it is due.
    fn refill(&mut self, now: Instant) {
        if !self.out.is_empty() || self.stdout_dead || !self.more_lines() || now < self.next_line_at
        {
            return;
        }
        let k = self.lines_written + 1;
        let pid = getpid();
        let _ = writeln!(
            stub_text(&mut self.out),
            "line {k} of {} pid {pid}",
            self.name
        );
        self.line_in_out = Some(k);
        if let Some(interval) = self.controls.forever {
            self.next_line_at = now + interval;
        }
    }

    fn write_stdout(&mut self) {
        match write(std::io::stdout(), &self.out) {
            Ok(n) => {
                self.out.drain(..n);
                if self.out.is_empty()
                    && let Some(k) = self.line_in_out.take()
                {
                    self.lines_written = k;
                }
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => {
                self.stdout_dead = true;
                self.out.clear();
                self.line_in_out = None;
                if e == Errno::EPIPE {
                    let lines = self.writes_lines().then_some(self.lines_written);
                    let mut r = self.log.record("epipe");
                    if let Some(n) = lines {
                        r.int("lines_written", n as i64);
                    }
                    r.end();
                    self.log.flush();
                } else {
                    self.log.error("write to stdout", e);
                }
            }
        }
    }

    fn read_stdin(&mut self) {
        let mut buf = [0u8; 65536];
        match read(std::io::stdin(), &mut buf) {
            Ok(0) => {
                self.stdin_open = false;
                self.log_partial();
                self.log.record("eof").end();
                self.log.flush();
                if self.draining {
                    self.finish("SIGHUP then EOF");
                }
            }
            Ok(n) => {
                self.partial.extend_from_slice(&buf[..n]);
                // All the lines of one read go out in one write.
                let mut start = 0;
                while let Some(nl) = self.partial[start..].iter().position(|b| *b == b'\n') {
                    let text =
                        String::from_utf8_lossy(&self.partial[start..start + nl]).into_owned();
                    let mut r = self.log.record("line");
                    r.str("text", &text);
                    r.end();
                    start += nl + 1;
                }
                self.partial.drain(..start);
                self.log.flush();
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => {
                self.stdin_open = false;
                self.log.error("read stdin", e);
            }
        }
    }

    fn log_partial(&mut self) {
        if !self.partial.is_empty() {
            let text = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            let mut r = self.log.record("partial");
            r.str("text", &text);
            r.end();
            self.log.flush();
        }
    }

    fn handle_signals(&mut self) {
        loop {
            let info = match self.signals.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) => return,
                Err(e) => {
                    self.log.error("read signalfd", e);
                    return;
                }
            };
            let signo = info.ssi_signo as i32;
            let sig = Signal::try_from(signo).ok();
            let lines = self.writes_lines().then_some(self.lines_written);
            let mut r = self.log.record("signal");
            r.str("sig", sig.map_or("?", Signal::as_str));
            r.int("signo", signo.into());
            r.int("from", info.ssi_pid.into());
            if let Some(n) = lines {
                r.int("lines_written", n as i64);
            }
            r.end();
            self.log.flush();
            match sig {
                Some(Signal::SIGTERM) if self.controls.ignore_term => {}
                Some(Signal::SIGHUP) if self.controls.ignore_hup => {}
                Some(Signal::SIGHUP) if self.logger => {
                    self.draining = true;
                    if !self.stdin_open {
                        self.begin_exit("SIGHUP then EOF");
                    }
                }
                Some(s @ (Signal::SIGTERM | Signal::SIGHUP | Signal::SIGINT | Signal::SIGQUIT)) => {
                    self.begin_exit(s.as_str());
                }
                Some(Signal::SIGCHLD) => self.reap(),
                _ => {}
            }
        }
    }

    fn begin_exit(&mut self, why: &'static str) {
        if self.exit_at.is_none_or(|(_, w)| w == "stub-exit-after") {
            self.exit_at = Some((Instant::now() + self.controls.exit_delay, why));
        }
    }

    fn reap(&mut self) {
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            let (pid, text) = match status {
                WaitStatus::Exited(pid, code) => (pid, format!("exit {code}")),
                WaitStatus::Signaled(pid, sig, _) => (pid, format!("signal {}", sig.as_str())),
                _ => return,
            };
            let mut r = self.log.record("reaped");
            r.int("child", pid.as_raw().into());
            r.str("status", &text);
            r.end();
            self.log.flush();
        }
    }

    fn spawn_orphan(&mut self, life: Option<Duration>) {
        let ms = life.map_or_else(String::new, |d| d.as_millis().to_string());
        // A fresh exec of ourselves rather than a bare fork, which would need unsafe code.
        if let Err(e) = Command::new("/proc/self/exe")
            .args([ORPHAN_ARG, &self.name, &ms])
            // Not the stub's stdout: an orphan holding a logger's pipe would keep the
            // logger from ever seeing EOF, which no scenario means to test by accident.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            self.log.error(
                "spawn orphan",
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            );
        }
    }

    fn finish(&mut self, why: &str) -> ! {
        self.log_partial();
        let lines = self.writes_lines().then_some(self.lines_written);
        self.log.exit(0, why, lines)
    }
}

/// The grandchild of `stub-spawn-orphan`: records itself and lives on.
fn orphan(args: &[String]) -> ! {
    // `at_exec` blocked the stub's signals; the orphan dies of a plain SIGTERM.
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let name = args.get(2).cloned().unwrap_or_default();
    let mut log = Log::open(&name);
    let mut r = log.record("orphan");
    r.int("ppid", getppid().as_raw().into());
    r.int("starttime", starttime());
    r.end();
    log.flush();
    match args.get(3).and_then(|s| s.parse::<u64>().ok()) {
        Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
        // Until a signal ends it: nothing is caught, so pause only returns to loop.
        None => loop {
            nix::unistd::pause();
        },
    }
    log.exit(0, "orphan lifetime over", None)
}

/// Signals the stub takes through its signalfd: all but those that cannot be caught and the
/// synchronous faults.
fn stub_signals() -> SigSet {
    let mut mask = SigSet::empty();
    for sig in Signal::iterator().filter(|s| catchable(*s)) {
        mask.add(sig);
    }
    mask
}

fn catchable(sig: Signal) -> bool {
    !matches!(
        sig,
        Signal::SIGKILL
            | Signal::SIGSTOP
            | Signal::SIGSEGV
            | Signal::SIGBUS
            | Signal::SIGFPE
            | Signal::SIGILL
            | Signal::SIGTRAP
            | Signal::SIGSYS
            | Signal::SIGABRT
    )
}

/// `out` as a `fmt::Write` target (the stub writes only ASCII and the name into it).
fn stub_text(out: &mut Vec<u8>) -> impl std::fmt::Write + '_ {
    struct Bytes<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Bytes<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    Bytes(out)
}

fn status_field<'a>(status: &'a str, field: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map_or("", str::trim)
}

/// Field 22 of `/proc/self/stat`: the start time in clock ticks since boot.
fn starttime() -> i64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|f| f.parse().ok())
        .unwrap_or(-1)
}

/// Every open fd as a JSON object keyed by fd number; fds 0-2 always appear.
fn describe_fds() -> String {
    let mut listed: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    listed.sort_unstable();
    let mut json = String::from("{");
    for fd in 0..3 {
        if !listed.contains(&fd) {
            listed.insert(fd as usize, fd);
        }
    }
    let mut first = true;
    for fd in listed {
        let link = format!("/proc/self/fd/{fd}");
        // The directory stream's own fd is listed too, and is closed by now.
        let Ok(target) = std::fs::read_link(&link) else {
            if fd <= 2 {
                let _ = write!(
                    json,
                    "{}\"{fd}\":{{\"kind\":\"closed\"}}",
                    if first { "" } else { "," }
                );
                first = false;
            }
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let st = stat(link.as_str()).ok();
        let kind = st.map_or("other", |st| {
            let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            match fmt {
                SFlag::S_IFIFO if target.starts_with("pipe:") => "pipe",
                SFlag::S_IFIFO => "fifo",
                SFlag::S_IFCHR if target == "/dev/null" => "null",
                SFlag::S_IFCHR
                    if ["/dev/pts/", "/dev/tty", "/dev/console"]
                        .iter()
                        .any(|p| target.starts_with(p)) =>
                {
                    "tty"
                }
                SFlag::S_IFCHR => "chr",
                SFlag::S_IFREG => "file",
                SFlag::S_IFDIR => "dir",
                SFlag::S_IFSOCK => "socket",
                _ => "other",
            }
        });
        let ino = st.map_or(0, |st| st.st_ino);
        let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        let flags = u32::from_str_radix(status_field(&flags, "flags:"), 8).unwrap_or(0);
        let mode = match flags & 3 {
            0 => "r",
            1 => "w",
            _ => "rw",
        };
        let _ = write!(
            json,
            "{}\"{fd}\":{{\"kind\":\"{kind}\",\"ino\":{ino},\"mode\":\"{mode}\",\"target\":",
            if first { "" } else { "," }
        );
        push_json_str(&mut json, &target);
        json.push('}');
        first = false;
    }
    json.push('}');
    json
}

/// The event log: records are built in `pending` and written with one `write`.
struct Log {
    file: Option<File>,
    name: String,
    pending: String,
}

impl Log {
    fn open(name: &str) -> Log {
        let file = std::env::var_os(EVENTS_ENV)
            .and_then(|path| OpenOptions::new().append(true).create(true).open(path).ok());
        Log {
            file,
            name: name.to_owned(),
            pending: String::with_capacity(1024),
        }
    }

    /// Starts a record with the fields every record has; `Record::end` closes it.
    fn record(&mut self, ev: &str) -> Record<'_> {
        let mono = nanos(ClockId::CLOCK_MONOTONIC);
        let real = nanos(ClockId::CLOCK_REALTIME);
        let mut r = Record {
            out: &mut self.pending,
        };
        r.out.push('{');
        r.str("ev", ev);
        r.str("name", &self.name);
        r.int("pid", getpid().as_raw().into());
        r.int("mono_ns", mono);
        r.int("real_ns", real);
        r
    }

    fn error(&mut self, what: &str, e: Errno) {
        let mut r = self.record("error");
        r.str("what", what);
        r.str("errno", e.desc());
        r.end();
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            // A regular file opened O_APPEND: one write is one atomic append.
            let _ = file.write_all(self.pending.as_bytes());
        }
        self.pending.clear();
    }

    fn exit(&mut self, code: i32, why: &str, lines_written: Option<u64>) -> ! {
        let mut r = self.record("exit");
        r.int("code", code.into());
        r.str("why", why);
        if let Some(n) = lines_written {
            r.int("lines_written", n as i64);
        }
        r.end();
        self.flush();
        std::process::exit(code)
    }
}

/// One JSON object under construction.
struct Record<'a> {
    out: &'a mut String,
}

impl Record<'_> {
    fn key(&mut self, key: &str) {
        if !self.out.ends_with('{') {
            self.out.push(',');
        }
        let _ = write!(self.out, "\"{key}\":");
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_str(self.out, value);
    }

    fn int(&mut self, key: &str, value: i64) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    fn strs(&mut self, key: &str, values: &[String]) {
        self.key(key);
        self.out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_json_str(self.out, v);
        }
        self.out.push(']');
    }

    /// A value that is already JSON.
    fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.out.push_str(json);
    }

    fn end(self) {
        self.out.push_str("}\n");
    }
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn nanos(clock: ClockId) -> i64 {
    clock_gettime(clock).map_or(0, |t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
}
