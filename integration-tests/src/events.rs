//! The stub's event log as the tests see it: [`Event`] (one record) and [`Events`] (all the
//! records so far, in file order, with the look-ups scenarios need). [`EventLog`] reads the
//! file incrementally, so polling it every few milliseconds costs only the new records.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Deref;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use crate::json::{self, Json};

/// One record of a stub (see the `supervise-stub` crate for the list of records).
#[derive(Clone, Debug)]
pub struct Event {
    /// The record kind: `start`, `signal`, `line`, `partial`, `eof`, `epipe`, `orphan`,
    /// `reaped`, `error` or `exit`.
    pub ev: String,
    /// The stub's NAME argument (`svc` or `svc/log`).
    pub name: String,
    pub pid: i32,
    /// CLOCK_MONOTONIC when the record was made, in nanoseconds.
    pub mono_ns: i64,
    /// CLOCK_REALTIME when the record was made, in nanoseconds.
    pub real_ns: i64,
    /// The whole record.
    pub json: Json,
}

/// What a `start` record says about one of the stub's fds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdInfo {
    /// `pipe`, `fifo`, `null`, `tty`, `chr`, `file`, `dir`, `socket`, `other` or `closed`.
    pub kind: String,
    /// The inode (a pipe's identity); 0 when closed.
    pub ino: u64,
    /// `r`, `w` or `rw`; empty when closed.
    pub mode: String,
    /// The `/proc/self/fd` link (`pipe:[1234]`, `/dev/null`); empty when closed.
    pub target: String,
}

impl Event {
    fn from_json(json: Json) -> Option<Event> {
        Some(Event {
            ev: json.get("ev")?.as_str()?.to_owned(),
            name: json.get("name")?.as_str()?.to_owned(),
            pid: i32::try_from(json.get("pid")?.as_int()?).ok()?,
            mono_ns: json.get("mono_ns")?.as_int()?,
            real_ns: json.get("real_ns")?.as_int()?,
            json,
        })
    }

    /// Seconds from `earlier` to this record (negative if this one came first).
    #[must_use]
    pub fn secs_since(&self, earlier: &Event) -> f64 {
        (self.mono_ns - earlier.mono_ns) as f64 / 1e9
    }

    /// A string member (`text`, `sig`, `why`, `cwd`, ...).
    #[must_use]
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key)?.as_str()
    }

    /// An integer member (`ppid`, `code`, `from`, `lines_written`, ...).
    #[must_use]
    pub fn int(&self, key: &str) -> Option<i64> {
        self.json.get(key)?.as_int()
    }

    /// `argv` of a `start` record.
    #[must_use]
    pub fn argv(&self) -> Vec<&str> {
        self.json
            .get("argv")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default()
    }

    /// What fd `fd` was at start (`start` records); `None` if it was not open (fds 0-2 are
    /// always present, as kind `closed` when not open).
    #[must_use]
    pub fn fd(&self, fd: i32) -> Option<FdInfo> {
        let f = self.json.get("fds")?.get(&fd.to_string())?;
        let s = |k: &str| {
            f.get(k)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Some(FdInfo {
            kind: s("kind"),
            ino: f.get("ino").and_then(Json::as_int).map_or(0, |n| n as u64),
            mode: s("mode"),
            target: s("target"),
        })
    }

    /// Every fd open at start (`start` records), in increasing order, closed ones left out.
    #[must_use]
    pub fn open_fds(&self) -> Vec<i32> {
        self.json
            .get("fds")
            .map(Json::members)
            .unwrap_or_default()
            .iter()
            .filter(|(_, v)| v.get("kind").and_then(Json::as_str) != Some("closed"))
            .filter_map(|(k, _)| k.parse().ok())
            .collect()
    }

    /// The blocked-signal mask at exec (`start` records), bit N-1 for signal N.
    #[must_use]
    pub fn sigblk(&self) -> u64 {
        self.hex("sigblk")
    }

    /// The ignored-signal mask at exec (`start` records), bit N-1 for signal N.
    #[must_use]
    pub fn sigign(&self) -> u64 {
        self.hex("sigign")
    }

    /// The standard signals (1-31) blocked at exec. Signals 32 and 33 are glibc's own
    /// (SIGCANCEL, SIGSETXID: glibc's `posix_spawn` leaves them ignored in the child), not
    /// the application's business, so they are not in this list.
    #[must_use]
    pub fn blocked_signals(&self) -> Vec<Signal> {
        standard_signals(self.sigblk())
    }

    /// The standard signals (1-31) ignored at exec; see [`Event::blocked_signals`].
    #[must_use]
    pub fn ignored_signals(&self) -> Vec<Signal> {
        standard_signals(self.sigign())
    }

    fn hex(&self, key: &str) -> u64 {
        let text = self
            .str(key)
            .unwrap_or_else(|| panic!("no {key} in {self}"));
        u64::from_str_radix(text, 16).unwrap_or_else(|_| panic!("bad {key} in {self}"))
    }
}

fn standard_signals(mask: u64) -> Vec<Signal> {
    Signal::iterator()
        .filter(|s| mask & (1 << (*s as u32 - 1)) != 0)
        .collect()
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let extra = match self.ev.as_str() {
            "signal" => format!(
                " {} from {}",
                self.str("sig").unwrap_or("?"),
                self.int("from").unwrap_or(0)
            ),
            "line" | "partial" => format!(" {:?}", self.str("text").unwrap_or_default()),
            "exit" => format!(
                " code {} ({})",
                self.int("code").unwrap_or(-1),
                self.str("why").unwrap_or("?")
            ),
            "start" | "orphan" => format!(" ppid {}", self.int("ppid").unwrap_or(0)),
            "error" => format!(
                " {}: {}",
                self.str("what").unwrap_or("?"),
                self.str("errno").unwrap_or("?")
            ),
            _ => String::new(),
        };
        write!(
            f,
            "[{:.3}] {} {} {}{extra}",
            self.mono_ns as f64 / 1e9,
            self.name,
            self.pid,
            self.ev
        )
    }
}

/// Every record so far, in the order they were appended.
#[derive(Clone, Debug, Default)]
pub struct Events(Vec<Event>);

impl Deref for Events {
    type Target = [Event];
    fn deref(&self) -> &[Event] {
        &self.0
    }
}

impl Events {
    /// The records of kind `ev` made by stubs named `name`.
    pub fn find<'a: 'b, 'b>(
        &'a self,
        ev: &'b str,
        name: &'b str,
    ) -> impl Iterator<Item = &'a Event> + 'b {
        self.0.iter().filter(move |e| e.ev == ev && e.name == name)
    }

    /// The records of stubs named `name`, whatever their kind.
    pub fn of<'a: 'b, 'b>(&'a self, name: &'b str) -> impl Iterator<Item = &'a Event> + 'b {
        self.0.iter().filter(move |e| e.name == name)
    }

    /// The records of the process `pid`.
    pub fn of_pid(&self, pid: i32) -> impl Iterator<Item = &Event> + '_ {
        self.0.iter().filter(move |e| e.pid == pid)
    }

    /// How many records of kind `ev` stubs named `name` made.
    #[must_use]
    pub fn count(&self, ev: &str, name: &str) -> usize {
        self.find(ev, name).count()
    }

    /// Every `start` of `name`, oldest first.
    #[must_use]
    pub fn starts(&self, name: &str) -> Vec<&Event> {
        self.find("start", name).collect()
    }

    /// The most recent `start` of `name`.
    #[must_use]
    pub fn last_start(&self, name: &str) -> Option<&Event> {
        self.find("start", name).last()
    }

    /// The pid of the most recent `start` of `name`.
    #[must_use]
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        self.last_start(name).map(|e| e.pid)
    }

    /// Whether the process `pid` has recorded its `exit`.
    #[must_use]
    pub fn exited(&self, pid: i32) -> bool {
        self.of_pid(pid).any(|e| e.ev == "exit")
    }

    /// Pids of stubs named `name` that started and have not recorded an exit (a stub killed
    /// by SIGKILL never does).
    #[must_use]
    pub fn running(&self, name: &str) -> Vec<i32> {
        self.find("start", name)
            .map(|e| e.pid)
            .filter(|p| !self.exited(*p))
            .collect()
    }

    /// The names of the signals the process `pid` received, in order (`"SIGTERM"`).
    #[must_use]
    pub fn signals_of(&self, pid: i32) -> Vec<&str> {
        self.of_pid(pid)
            .filter(|e| e.ev == "signal")
            .filter_map(|e| e.str("sig"))
            .collect()
    }

    /// The signals every stub named `name` received, in order.
    #[must_use]
    pub fn signals_to(&self, name: &str) -> Vec<&str> {
        self.find("signal", name)
            .filter_map(|e| e.str("sig"))
            .collect()
    }

    /// The lines loggers named `name` read, in order, across all their instances.
    #[must_use]
    pub fn lines(&self, name: &str) -> Vec<&str> {
        self.find("line", name)
            .filter_map(|e| e.str("text"))
            .collect()
    }

    /// The numbers K of the lines `line K of SERVICE pid PID` that loggers named `logger`
    /// read from the service `service`, in order.
    #[must_use]
    pub fn line_numbers(&self, logger: &str, service: &str) -> Vec<u64> {
        let needle = format!(" of {service} pid ");
        self.lines(logger)
            .into_iter()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| l.strip_prefix("line ")?.split(' ').next()?.parse().ok())
            .collect()
    }

    /// The greeting a service stub `pid` named `name` writes at start.
    #[must_use]
    pub fn greeting(name: &str, pid: i32) -> String {
        format!("hello from {name} pid {pid}")
    }

    /// Every `(pid, starttime)` of a process that recorded itself (`start` and `orphan`).
    #[must_use]
    pub fn processes(&self) -> Vec<(i32, i64)> {
        self.0
            .iter()
            .filter(|e| e.ev == "start" || e.ev == "orphan")
            .filter_map(|e| Some((e.pid, e.int("starttime")?)))
            .collect()
    }

    /// The records as text, one a line, for failure messages.
    #[must_use]
    pub fn dump(&self) -> String {
        let skip = self.0.len().saturating_sub(200);
        let mut out = if skip > 0 {
            format!("({skip} earlier records left out)\n")
        } else {
            String::new()
        };
        for e in &self.0[skip..] {
            out.push_str(&e.to_string());
            out.push('\n');
        }
        out
    }
}

/// Incremental reader of an event log file.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    offset: u64,
    /// An unterminated last line (a record being appended while we read).
    tail: Vec<u8>,
    events: Events,
}

impl EventLog {
    #[must_use]
    pub fn new(path: &Path) -> EventLog {
        EventLog {
            path: path.to_owned(),
            offset: 0,
            tail: Vec::new(),
            events: Events::default(),
        }
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last call, and returns every record so far.
    ///
    /// # Panics
    /// If a record is not what the stub writes (a bug in the stub or the harness).
    pub fn refresh(&mut self) -> &Events {
        let mut new = Vec::new();
        if let Ok(mut f) = File::open(&self.path)
            && f.seek(SeekFrom::Start(self.offset)).is_ok()
        {
            let _ = f.read_to_end(&mut new);
        }
        self.offset += new.len() as u64;
        self.tail.extend_from_slice(&new);
        let Some(end) = self.tail.iter().rposition(|b| *b == b'\n') else {
            return &self.events;
        };
        for line in self.tail[..end].split(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(line);
            let event = json::parse(&text)
                .ok()
                .and_then(Event::from_json)
                .unwrap_or_else(|| panic!("not a stub record in {}: {text}", self.path.display()));
            self.events.0.push(event);
        }
        self.tail.drain(..=end);
        &self.events
    }

    /// The records read by the last [`EventLog::refresh`].
    #[must_use]
    pub fn events(&self) -> &Events {
        &self.events
    }
}
