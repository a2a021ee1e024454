//! `svscanctl -l`: svscan's table, one line per entry, sorted by name, for a person (`-l`)
//! or as JSON lines (`-j`); the records come from svscan itself (`common::svscan_socket`).
//!
//! The human form is columns, then the reason in words:
//! `NAME PID STATE PARTNER UP WHY...`, with `-` for what an entry lacks (no supervisor, no
//! partner), so that `awk '{ print $1, $2 }'` gets names and pids. A person reads the rest:
//! ```text
//! a       4242  active    a/log  63s
//! a/log   4243  active    a      63s
//! b       -     active    -      -    throttled, starts in 0.412s
//! c       -     active    -      -    spawn failed: No such file or directory, retry in 9.871s
//! old     4100  inactive  -      80s  removed (svscanctl -n stops it)
//! z       -     absent    -      -    too many services, next scan in 59.802s
//! ```
//! The JSON form has one object per line with every key, `null` for what does not apply:
//! `name`, `pid`, `state` (`active`, `inactive`, `new`, `absent`), `logger`, `partner`,
//! `up_ms`, `why` (`throttled`, `spawn-failed`, `queued`, `scan-incomplete`,
//! `too-many-services`, `waiting-for-old-logger`, `stat-failed`, `pipe-failed`,
//! `scandir-unreadable`), `until_ms` (how long until what `why` says ends), `errno` and
//! `error` (a failed spawn's). A name that is not UTF-8 is given lossily, with its exact bytes
//! in `name_hex` (and `partner_hex`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use common::diag::SysErr;
use common::svscan_socket::{Record, State, Why};
use nix::errno::Errno;

/// How the table is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Human,
    Json,
}

/// A record, owned (the messages it came in are reused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    name: Vec<u8>,
    partner: Vec<u8>,
    pid: Option<u32>,
    state: State,
    logger: bool,
    why: Why,
    errno: i32,
    up: Option<Duration>,
    until: Option<Duration>,
}

impl From<Record<'_>> for Line {
    fn from(r: Record<'_>) -> Self {
        Line {
            name: r.name.to_vec(),
            partner: r.partner.to_vec(),
            pid: r.pid,
            state: r.state,
            logger: r.logger,
            why: r.why,
            errno: r.errno,
            up: r.up,
            until: r.until,
        }
    }
}

/// The bytes as text: as they are when UTF-8, else each invalid byte as `\xHH`.
fn text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

fn error_text(errno: i32) -> String {
    SysErr(Errno::from_raw(errno)).to_string()
}

fn secs(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

impl Line {
    /// The human form's reason.
    fn why_text(&self) -> String {
        let (what, when) = match self.why {
            Why::None if self.state == State::Inactive => {
                return "removed (svscanctl -n stops it)".to_owned();
            }
            Why::None => return String::new(),
            Why::Throttled => ("throttled".to_owned(), "starts in"),
            Why::SpawnFailed => (
                format!("spawn failed: {}", error_text(self.errno)),
                "retry in",
            ),
            Why::Queued => ("queued behind a failed spawn".to_owned(), "retry in"),
            Why::ScanIncomplete => ("waiting for a complete scan".to_owned(), "next scan in"),
            Why::TooManyServices => ("too many services".to_owned(), "next scan in"),
            Why::OldLogger => ("waiting for old logger".to_owned(), "next scan in"),
            Why::StatFailed => ("unable to stat".to_owned(), "next scan in"),
            Why::PipeFailed => ("unable to create its pipe".to_owned(), "next scan in"),
            Why::ScanDirFailed => (
                "unable to read the scan directory".to_owned(),
                "next scan in",
            ),
        };
        match self.until {
            Some(until) => format!("{what}, {when} {}", secs(until)),
            None => what,
        }
    }

    /// The human form's columns before the reason.
    fn columns(&self) -> [String; 5] {
        let dash = || "-".to_owned();
        [
            text(&self.name),
            self.pid.map_or_else(dash, |p| p.to_string()),
            self.state.word().to_owned(),
            if self.partner.is_empty() {
                dash()
            } else {
                text(&self.partner)
            },
            self.up.map_or_else(dash, |d| format!("{}s", d.as_secs())),
        ]
    }

    /// The JSON form: one object, every key.
    fn json(&self) -> String {
        let mut o = String::from("{");
        json_name(&mut o, "name", &self.name);
        o.push(',');
        let _ = write!(o, "\"pid\":{}", opt(self.pid));
        let _ = write!(o, ",\"state\":\"{}\"", self.state.word());
        let _ = write!(o, ",\"logger\":{}", self.logger);
        o.push(',');
        if self.partner.is_empty() {
            o.push_str("\"partner\":null");
        } else {
            json_name(&mut o, "partner", &self.partner);
        }
        let ms = |d: Option<Duration>| opt(d.map(|d| d.as_millis()));
        let _ = write!(o, ",\"up_ms\":{}", ms(self.up));
        match self.why.code() {
            Some(code) => {
                let _ = write!(o, ",\"why\":\"{code}\"");
            }
            None => o.push_str(",\"why\":null"),
        }
        let _ = write!(o, ",\"until_ms\":{}", ms(self.until));
        if self.why == Why::SpawnFailed {
            let _ = write!(o, ",\"errno\":{},\"error\":", self.errno);
            common::json::push_string(&mut o, &error_text(self.errno));
        } else {
            o.push_str(",\"errno\":null,\"error\":null");
        }
        o.push('}');
        o
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

/// `"key":"name"`, and `"key_hex":"..."` when the name is not UTF-8.
fn json_name(out: &mut String, key: &str, name: &[u8]) {
    let _ = write!(out, "\"{key}\":");
    common::json::push_string(out, &String::from_utf8_lossy(name));
    if std::str::from_utf8(name).is_err() {
        let _ = write!(out, ",\"{key}_hex\":\"");
        for b in name {
            let _ = write!(out, "{b:02x}");
        }
        out.push('"');
    }
}

/// The whole listing, sorted by name, as text.
pub fn render(lines: &mut [Line], form: Form) -> String {
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    match form {
        Form::Json => {
            for l in lines.iter() {
                out.push_str(&l.json());
                out.push('\n');
            }
        }
        Form::Human => {
            let rows: Vec<([String; 5], String)> =
                lines.iter().map(|l| (l.columns(), l.why_text())).collect();
            let mut widths = [0usize; 5];
            for (cols, _) in &rows {
                for (w, c) in widths.iter_mut().zip(cols) {
                    *w = (*w).max(c.chars().count());
                }
            }
            for (cols, why) in rows {
                let mut line = String::new();
                for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
                    if i > 0 {
                        line.push_str("  ");
                    }
                    let _ = write!(line, "{c:<w$}");
                }
                if why.is_empty() {
                    line.truncate(line.trim_end().len());
                } else {
                    line.push_str("  ");
                    line.push_str(&why);
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

/// Prints the listing on stdout; a failed write (a closed pipe) is fatal, as for any s6 tool
/// that prints.
pub fn print(lines: &mut [Line], form: Form) {
    let out = render(lines, form);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        common::fatal!(
            common::EXIT_SYSTEM,
            "unable to write to stdout: {}",
            SysErr::from(&e)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &[u8], pid: Option<u32>, state: State, why: Why) -> Line {
        Line {
            name: name.to_vec(),
            partner: Vec::new(),
            pid,
            state,
            logger: name.contains(&b'/'),
            why,
            errno: 0,
            up: pid.map(|_| Duration::from_secs(63)),
            until: None,
        }
    }

    #[test]
    fn the_human_form_is_sorted_columns_then_the_reason() {
        let mut a = line(b"a", Some(4242), State::Active, Why::None);
        a.partner = b"a/log".to_vec();
        let mut c = line(b"c", None, State::Active, Why::SpawnFailed);
        c.errno = Errno::ENOENT as i32;
        c.until = Some(Duration::from_millis(9871));
        let mut b = line(b"b", None, State::Active, Why::Throttled);
        b.until = Some(Duration::from_millis(412));
        let old = line(b"old", Some(4100), State::Inactive, Why::None);
        let mut lines = vec![c, old, b, a];
        let out = render(&mut lines, Form::Human);
        assert_eq!(
            out,
            "a    4242  active    a/log  63s\n\
             b    -     active    -      -    throttled, starts in 0.412s\n\
             c    -     active    -      -    spawn failed: No such file or directory, retry in 9.871s\n\
             old  4100  inactive  -      63s  removed (svscanctl -n stops it)\n"
        );
        let first: Vec<&str> = out
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        assert_eq!(first, ["4242", "-", "-", "4100"]);
    }

    #[test]
    fn the_json_form_has_every_key_and_escapes_names() {
        let mut c = line(b"c\"d", None, State::Active, Why::SpawnFailed);
        c.errno = Errno::EACCES as i32;
        c.until = Some(Duration::from_millis(5));
        let mut l = line(b"x\xff", Some(7), State::Active, Why::None);
        l.partner = b"x".to_vec();
        let mut lines = vec![l, c];
        let out = render(&mut lines, Form::Json);
        assert_eq!(
            out,
            "{\"name\":\"c\\\"d\",\"pid\":null,\"state\":\"active\",\"logger\":false,\
             \"partner\":null,\"up_ms\":null,\"why\":\"spawn-failed\",\"until_ms\":5,\
             \"errno\":13,\"error\":\"Permission denied\"}\n\
             {\"name\":\"x\u{fffd}\",\"name_hex\":\"78ff\",\"pid\":7,\"state\":\"active\",\
             \"logger\":false,\"partner\":\"x\",\"up_ms\":63000,\"why\":null,\"until_ms\":null,\
             \"errno\":null,\"error\":null}\n"
        );
    }

    #[test]
    fn names_that_are_not_utf8_show_their_bytes() {
        assert_eq!(text(b"svc/log"), "svc/log");
        assert_eq!(text(b"a\xffb"), "a\\xffb");
    }
}
