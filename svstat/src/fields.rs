//! What `svstat` prints from a status file (SUPERVISE.md, "svstat"; s6-svstat.c): the
//! summary line, the `-o` fields, and our machine form (one JSON object per service).
//!
//! A [`View`] is the status as svstat sees it at one instant: the stamp clamped to now when
//! it lies in the future (C does the same), "normally up" from the `down` file. The readystamp
//! is not clamped by C, which then prints about 1.8e19 seconds; **fix** (no upstream fix):
//! ours prints 0 (the seconds saturate).

use std::fmt::Write as _;

use common::sig;
use common::status::Status;
use common::tai::Tai64n;

/// The most fields one command line may ask for (s6-svstat's `MAXFIELDS`).
pub const MAX_FIELDS: usize = 16;

/// One `-o` field, in the order of s6-svstat's table (and of its usage line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Up,
    WantedUp,
    NormallyUp,
    Ready,
    Paused,
    Pid,
    ExitCode,
    Signal,
    Signum,
    UpDownSince,
    ReadySince,
    UpDownFor,
    ReadyFor,
}

impl Field {
    /// Every field, in the table's order (what the machine form prints by default).
    pub const ALL: [Field; 13] = [
        Field::Up,
        Field::WantedUp,
        Field::NormallyUp,
        Field::Ready,
        Field::Paused,
        Field::Pid,
        Field::ExitCode,
        Field::Signal,
        Field::Signum,
        Field::UpDownSince,
        Field::ReadySince,
        Field::UpDownFor,
        Field::ReadyFor,
    ];

    /// The field's name in `-o` lists and in the machine form.
    pub fn name(self) -> &'static str {
        match self {
            Field::Up => "up",
            Field::WantedUp => "wantedup",
            Field::NormallyUp => "normallyup",
            Field::Ready => "ready",
            Field::Paused => "paused",
            Field::Pid => "pid",
            Field::ExitCode => "exitcode",
            Field::Signal => "signal",
            Field::Signum => "signum",
            Field::UpDownSince => "updownsince",
            Field::ReadySince => "readysince",
            Field::UpDownFor => "updownfor",
            Field::ReadyFor => "readyfor",
        }
    }
}

/// Why a `-o` list was refused (fatal 100, with these texts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// `invalid null option field`: an empty name before the end (`,up`, `up,,pid`).
    Null,
    /// `invalid option field: NAME`.
    Unknown(String),
    /// `too many option fields`: more than [`MAX_FIELDS`] in all.
    TooMany,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldError::Null => f.write_str("invalid null option field"),
            FieldError::Unknown(name) => write!(f, "invalid option field: {name}"),
            FieldError::TooMany => f.write_str("too many option fields"),
        }
    }
}

/// Appends one field, refusing a 17th.
pub fn push(fields: &mut Vec<Field>, field: Field) -> Result<(), FieldError> {
    if fields.len() >= MAX_FIELDS {
        return Err(FieldError::TooMany);
    }
    fields.push(field);
    Ok(())
}

/// Appends the fields of a comma-separated `-o` list, in order. A trailing comma is accepted
/// and an empty list adds nothing (s6-svstat's `parse_options`). Names must match exactly:
/// **fix** 15e3e40, C 2.12 takes a prefix (`u` for `up`, `p` for `paused`).
pub fn parse_list(list: &[u8], fields: &mut Vec<Field>) -> Result<(), FieldError> {
    let mut rest = list;
    while !rest.is_empty() {
        let pos = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        if pos == 0 {
            return Err(FieldError::Null);
        }
        let name = &rest[..pos];
        let field = Field::ALL
            .into_iter()
            .find(|f| f.name().as_bytes() == name)
            .ok_or_else(|| FieldError::Unknown(String::from_utf8_lossy(name).into_owned()))?;
        push(fields, field)?;
        rest = rest.get(pos + 1..).unwrap_or_default();
    }
    Ok(())
}

/// One field's value, typed for the machine form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    /// A signal number (`SIG` + skalibs' name, `SIG???` if it has none) or none (`NA`).
    Signal(Option<i32>),
    /// A TAI64N stamp (`@` + 24 hex digits).
    Stamp(Tai64n),
}

impl Value {
    /// As `-o` prints it.
    pub fn write_text(&self, out: &mut String) {
        match self {
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Signal(None) => out.push_str("NA"),
            Value::Signal(Some(n)) => {
                out.push_str("SIG");
                out.push_str(sig::name(*n).unwrap_or("???"));
            }
            Value::Stamp(t) => {
                out.push('@');
                out.push_str(&String::from_utf8_lossy(&t.hex()));
            }
        }
    }

    /// As the machine form prints it: booleans and numbers as JSON's, `NA` as `null`, signal
    /// names and stamps as strings.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Bool(_) | Value::Int(_) => self.write_text(out),
            Value::Signal(None) => out.push_str("null"),
            Value::Signal(Some(_)) | Value::Stamp(_) => {
                out.push('"');
                self.write_text(out);
                out.push('"');
            }
        }
    }
}

/// A status as svstat reports it at one instant.
#[derive(Clone, Copy, Debug)]
pub struct View {
    status: Status,
    now: Tai64n,
    normally_up: bool,
}

impl View {
    /// `status` read at `now`; `normally_up` is "there is no `down` file". A stamp in the
    /// future is taken as now.
    pub fn new(mut status: Status, now: Tai64n, normally_up: bool) -> View {
        if status.stamp > now {
            status.stamp = now;
        }
        View {
            status,
            now,
            normally_up,
        }
    }

    fn is_up(&self) -> bool {
        self.status.is_up()
    }

    /// The signal that killed run, when the service is down and was killed.
    fn killed_by(&self) -> Option<i32> {
        if self.is_up() {
            None
        } else {
            self.status.term_signal()
        }
    }

    /// One field's value (s6-svstat's `pr_*` functions).
    pub fn field(&self, field: Field) -> Value {
        let st = &self.status;
        let up = self.is_up();
        match field {
            Field::Up => Value::Bool(up),
            Field::WantedUp => Value::Bool(st.wantup),
            Field::NormallyUp => Value::Bool(self.normally_up),
            // The pid, not "up": a finishing service with the flag set is "ready" too (C).
            Field::Ready => Value::Bool(st.pid != 0 && st.ready),
            Field::Paused => Value::Bool(st.paused),
            Field::Pid => Value::Int(if up { st.pid as i64 } else { -1 }),
            // WIFEXITED: the low 7 bits are 0 (a stop, 0x7f, is neither exited nor killed).
            Field::ExitCode => Value::Int(if !up && st.wstat & 0x7f == 0 {
                i64::from(st.exit_code())
            } else {
                -1
            }),
            Field::Signal => Value::Signal(self.killed_by()),
            Field::Signum => Value::Int(self.killed_by().map_or(-1, i64::from)),
            Field::UpDownSince => Value::Stamp(st.stamp),
            Field::ReadySince => Value::Stamp(st.readystamp),
            Field::UpDownFor => Value::Int(self.now.secs_since(st.stamp) as i64),
            Field::ReadyFor => Value::Int(self.now.secs_since(st.readystamp) as i64),
        }
    }

    /// The `-o` line: the fields' values joined by spaces (no newline).
    pub fn fields_line(&self, fields: &[Field]) -> String {
        let mut out = String::new();
        for (i, &f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            self.field(f).write_text(&mut out);
        }
        out
    }

    /// The summary line without options (s6-svstat's `legacy`; no newline); `numeric` is `-n`.
    pub fn summary(&self, numeric: bool) -> String {
        let st = &self.status;
        let up = self.is_up();
        let mut out = String::new();
        if up {
            let _ = write!(out, "up (pid {}) ", st.pid);
        } else {
            out.push_str("down (");
            match st.term_signal() {
                Some(n) if numeric => {
                    let _ = write!(out, "signal {n}");
                }
                Some(n) => {
                    let _ = write!(out, "signal SIG{}", sig::name(n).unwrap_or("???"));
                }
                None => {
                    let _ = write!(out, "exitcode {}", st.exit_code());
                }
            }
            out.push_str(") ");
        }
        let _ = write!(out, "{} seconds", self.now.secs_since(st.stamp));
        if up && !self.normally_up {
            out.push_str(", normally down");
        }
        if !up && self.normally_up {
            out.push_str(", normally up");
        }
        if up && st.paused {
            out.push_str(", paused");
        }
        if !up && st.wantup {
            out.push_str(", want up");
        }
        if up && !st.wantup {
            out.push_str(", want down");
        }
        if st.ready {
            let _ = write!(
                out,
                ", ready {} seconds",
                self.now.secs_since(st.readystamp)
            );
        }
        out
    }

    /// The machine form: one JSON object with `name` first, then the fields.
    pub fn json(&self, name: &str, fields: &[Field]) -> String {
        let mut out = String::from("{\"name\":");
        common::json::push_string(&mut out, name);
        for &f in fields {
            out.push_str(",\"");
            out.push_str(f.name());
            out.push_str("\":");
            self.field(f).write_json(&mut out);
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Tai64n = Tai64n {
        secs: (1 << 62) + 1_000_000,
        nanos: 500,
    };

    fn ago(secs: u64) -> Tai64n {
        Tai64n {
            secs: NOW.secs - secs,
            nanos: NOW.nanos,
        }
    }

    fn view(status: Status, normally_up: bool) -> View {
        View::new(status, NOW, normally_up)
    }

    fn up(pid: u64) -> Status {
        Status {
            stamp: ago(5),
            readystamp: ago(5),
            pid,
            ready: false,
            ..Status::ZERO
        }
    }

    #[test]
    fn summaries_of_the_specs_examples() {
        assert_eq!(view(up(123), true).summary(false), "up (pid 123) 5 seconds");
        let ready = Status {
            ready: true,
            stamp: NOW,
            readystamp: NOW,
            ..up(123)
        };
        assert_eq!(
            view(ready, true).summary(false),
            "up (pid 123) 0 seconds, ready 0 seconds"
        );
        let killed = Status {
            stamp: ago(3),
            readystamp: ago(3),
            pid: 0,
            wstat: 15,
            wantup: false,
            ready: true,
            ..Status::ZERO
        };
        assert_eq!(
            view(killed, true).summary(false),
            "down (signal SIGTERM) 3 seconds, normally up, ready 3 seconds"
        );
        assert_eq!(
            view(killed, true).summary(true),
            "down (signal 15) 3 seconds, normally up, ready 3 seconds"
        );
        let throttled = Status {
            stamp: NOW,
            readystamp: NOW,
            ..Status::ZERO
        };
        assert_eq!(
            view(throttled, true).summary(false),
            "down (exitcode 0) 0 seconds, normally up, want up, ready 0 seconds"
        );
        let finishing = Status {
            stamp: NOW,
            pid: 77,
            finishing: true,
            wstat: 3 << 8,
            ready: false,
            ..Status::ZERO
        };
        assert_eq!(
            view(finishing, true).summary(false),
            "down (exitcode 3) 0 seconds, normally up, want up"
        );
    }

    #[test]
    fn summary_flags_depend_on_up_or_down() {
        let st = Status {
            paused: true,
            wantup: false,
            ..up(9)
        };
        assert_eq!(
            view(st, false).summary(false),
            "up (pid 9) 5 seconds, normally down, paused, want down"
        );
        // Down: paused and "want down" are not shown, "normally down" neither.
        let st = Status {
            pid: 0,
            paused: true,
            wantup: false,
            ..up(9)
        };
        assert_eq!(
            view(st, false).summary(false),
            "down (exitcode 0) 5 seconds"
        );
    }

    #[test]
    fn a_signal_without_a_name_prints_question_marks() {
        let st = Status {
            wstat: 34,
            ..Status::ZERO
        };
        assert!(
            view(st, true)
                .summary(false)
                .starts_with("down (signal SIG???) ")
        );
        assert_eq!(
            view(st, true).fields_line(&[Field::Signal, Field::Signum]),
            "SIG??? 34"
        );
    }

    #[test]
    fn stamps_in_the_future_count_as_now_and_readystamps_saturate_to_zero() {
        let future = Tai64n {
            secs: NOW.secs + 100,
            nanos: 0,
        };
        let st = Status {
            stamp: future,
            readystamp: future,
            ready: true,
            ..up(1)
        };
        let v = view(st, true);
        assert_eq!(v.summary(false), "up (pid 1) 0 seconds, ready 0 seconds");
        assert_eq!(v.field(Field::UpDownSince), Value::Stamp(NOW));
        // The readystamp itself is printed as stored.
        assert_eq!(v.field(Field::ReadySince), Value::Stamp(future));
        assert_eq!(v.field(Field::ReadyFor), Value::Int(0));
    }

    #[test]
    fn fields_follow_the_c_rules() {
        let v = view(
            Status {
                wstat: 9,
                pid: 0,
                ready: true,
                ..Status::ZERO
            },
            false,
        );
        assert_eq!(
            v.fields_line(&Field::ALL[..9]),
            "false true false false false -1 -1 SIGKILL 9"
        );
        let v = view(
            Status {
                wstat: 2 << 8,
                pid: 0,
                ..Status::ZERO
            },
            true,
        );
        assert_eq!(
            v.fields_line(&[Field::ExitCode, Field::Signal, Field::Signum]),
            "2 NA -1"
        );
        let v = view(
            Status {
                ready: true,
                ..up(42)
            },
            true,
        );
        assert_eq!(
            v.fields_line(&[
                Field::Up,
                Field::Ready,
                Field::Pid,
                Field::ExitCode,
                Field::Signal
            ]),
            "true true 42 -1 NA"
        );
        // Ready needs a pid, not "up": finishing with the flag set says true.
        let v = view(
            Status {
                pid: 5,
                finishing: true,
                ready: true,
                ..Status::ZERO
            },
            true,
        );
        assert_eq!(
            v.fields_line(&[Field::Up, Field::Ready, Field::Pid]),
            "false true -1"
        );
        // A stopped status (0x7f): neither exited nor killed.
        let v = view(
            Status {
                wstat: 0x137f,
                stamp: NOW,
                readystamp: NOW,
                ..Status::ZERO
            },
            true,
        );
        assert_eq!(v.fields_line(&[Field::ExitCode, Field::Signum]), "-1 -1");
        assert_eq!(
            v.summary(false),
            "down (exitcode 19) 0 seconds, normally up, want up, ready 0 seconds"
        );
        let v = view(
            Status {
                stamp: ago(3),
                readystamp: ago(2),
                ..up(1)
            },
            true,
        );
        assert_eq!(v.fields_line(&[Field::UpDownFor, Field::ReadyFor]), "3 2");
        let hex = String::from_utf8_lossy(&ago(3).hex()).into_owned();
        assert_eq!(v.fields_line(&[Field::UpDownSince]), format!("@{hex}"));
    }

    #[test]
    fn lists_are_exact_names_with_a_trailing_comma_allowed() {
        let mut f = Vec::new();
        parse_list(b"up,pid,", &mut f).unwrap();
        assert_eq!(f, [Field::Up, Field::Pid]);
        parse_list(b"", &mut f).unwrap();
        assert_eq!(f.len(), 2);
        for bad in [&b",up"[..], b"up,,pid"] {
            assert_eq!(parse_list(bad, &mut Vec::new()), Err(FieldError::Null));
        }
        // C 2.12 took these as prefixes of up, paused, updownsince, ready.
        for prefix in ["u", "p", "updown", "read"] {
            let err = parse_list(prefix.as_bytes(), &mut Vec::new()).unwrap_err();
            assert_eq!(err.to_string(), format!("invalid option field: {prefix}"));
        }
        let err = parse_list(b"up,bogus,pid", &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "invalid option field: bogus");
    }

    #[test]
    fn at_most_sixteen_fields() {
        let mut f = Vec::new();
        parse_list(b"up,up,up,up,up,up,up,up,up,up,up,up,up,up,up,up", &mut f).unwrap();
        assert_eq!(parse_list(b"up", &mut f), Err(FieldError::TooMany));
        assert_eq!(push(&mut f, Field::Pid), Err(FieldError::TooMany));
        assert_eq!(FieldError::TooMany.to_string(), "too many option fields");
    }

    #[test]
    fn the_machine_form_is_one_json_object_with_typed_values() {
        let v = view(
            Status {
                wstat: 15,
                pid: 0,
                ready: true,
                ..Status::ZERO
            },
            true,
        );
        assert_eq!(
            v.json(
                "a \"b\"\\",
                &[Field::Up, Field::Pid, Field::Signal, Field::ExitCode]
            ),
            r#"{"name":"a \"b\"\\","up":false,"pid":-1,"signal":"SIGTERM","exitcode":-1}"#
        );
        let v = view(up(3), true);
        let hex = String::from_utf8_lossy(&ago(5).hex()).into_owned();
        assert_eq!(
            v.json("x", &[Field::Signal, Field::UpDownSince, Field::UpDownFor]),
            format!(r#"{{"name":"x","signal":null,"updownsince":"@{hex}","updownfor":5}}"#)
        );
    }
}
