//! `svstat`: a drop-in `s6-svstat [ -uwNrpest | -o FIELDS ] [ -n ] servicedir` (SUPERVISE.md,
//! "svstat"): the state of a supervised service as one line, the summary (`up (pid 123) 5
//! seconds, ready 5 seconds`) or the `-o` fields, byte for byte as s6-svstat prints them
//! ([`fields`]). Exit 0; 1 when no supervisor runs on the directory; 100 usage; 111 system
//! error.
//!
//! Beyond s6, long options only, so that no s6 command line changes meaning:
//! `--multi` reports every operand (s6-svstat ignores all but the first), `--scan` every
//! service of the scan directory given (and its `log`), one line each with the name first
//! (`NAME: LINE`); `--json` prints each service as one JSON object with typed values. A
//! service that cannot be reported among several gets a warning instead of a line, and the exit
//! code is the worst seen (1, then 111).
#![forbid(unsafe_code)]

mod fields;

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use common::ctldir::SUPERVISE;
use common::diag::{SysErr, usage};
use common::getopt::{Getopt, Key, Long};
use common::status::{Status, service_path};
use common::tai::Tai64n;
use common::{EXIT_SYSTEM, EXIT_USAGE, fatal, lock, warn};
use nix::errno::Errno;

use fields::{Field, FieldError, View};

const USAGE: &str = "s6-svstat [ -uwNrpest | -o up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] servicedir";

const LONGS: &[Long] = &[
    Long {
        name: "multi",
        value: false,
    },
    Long {
        name: "scan",
        value: false,
    },
    Long {
        name: "json",
        value: false,
    },
];

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Invocation<'a> {
    fields: Vec<Field>,
    /// `-n`: signal numbers in the summary.
    numeric: bool,
    multi: bool,
    scan: bool,
    json: bool,
    operands: Vec<&'a Path>,
}

/// Why the command line was refused.
#[derive(Debug, PartialEq, Eq)]
enum ParseError {
    Usage,
    Field(FieldError),
}

/// Parses the arguments after argv[0] (`no:uwNrpest` and the long options), in order: the
/// first bad option or field decides the error.
fn parse<S: AsRef<OsStr>>(args: &[S]) -> Result<Invocation<'_>, ParseError> {
    let mut inv = Invocation::default();
    let mut opts = Getopt::new(args, "no:uwNrpest", LONGS);
    for opt in opts.by_ref() {
        let opt = opt.map_err(|_| ParseError::Usage)?;
        let field = match opt.key {
            Key::Long("multi") => {
                inv.multi = true;
                continue;
            }
            Key::Long("scan") => {
                inv.scan = true;
                continue;
            }
            Key::Long("json") => {
                inv.json = true;
                continue;
            }
            Key::Short(b'n') => {
                inv.numeric = true;
                continue;
            }
            Key::Short(b'o') => {
                let list = opt.value.unwrap_or_default().as_encoded_bytes();
                fields::parse_list(list, &mut inv.fields).map_err(ParseError::Field)?;
                continue;
            }
            Key::Short(b'u') => Field::Up,
            Key::Short(b'w') => Field::WantedUp,
            Key::Short(b'N') => Field::NormallyUp,
            Key::Short(b'r') => Field::Ready,
            Key::Short(b'p') => Field::Pid,
            Key::Short(b'e') => Field::ExitCode,
            Key::Short(b's') => Field::Signal,
            Key::Short(b't') => Field::UpDownFor,
            Key::Long(_) | Key::Short(_) => return Err(ParseError::Usage),
        };
        fields::push(&mut inv.fields, field).map_err(ParseError::Field)?;
    }
    inv.operands = opts
        .operands()
        .iter()
        .map(|o| Path::new(o.as_ref()))
        .collect();
    if inv.operands.is_empty() {
        return Err(ParseError::Usage);
    }
    Ok(inv)
}

/// Why a service could not be reported: the message, and the exit code of s6-svstat.
struct Failure {
    code: i32,
    message: String,
}

/// Reads the state of the service in `dir` as s6-svstat does: the supervisor's lock, then the
/// status file, then the clock, then the `down` file.
fn view(dir: &Path) -> Result<View, Failure> {
    let d = dir.display();
    let system = |message| Failure {
        code: EXIT_SYSTEM,
        message,
    };
    match lock::is_locked(&service_path(dir, SUPERVISE.lock)) {
        Ok(Some(true)) => {}
        Ok(Some(false) | None) => {
            return Err(Failure {
                code: 1,
                message: format!("unable to read status for {d}: s6-supervise not running"),
            });
        }
        Err(e) => return Err(system(format!("unable to check {d}: {}", SysErr(e)))),
    }
    let status = Status::read(dir)
        .map_err(|e| system(format!("unable to read status for {d}: {}", SysErr(e))))?;
    let now = Tai64n::now();
    let down = service_path(dir, "down");
    let normally_up = match nix::unistd::access(&down, nix::unistd::AccessFlags::F_OK) {
        Ok(()) => false,
        Err(Errno::ENOENT) => true,
        Err(e) => {
            return Err(system(format!(
                "unable to access {}: {}",
                down.display(),
                SysErr(e)
            )));
        }
    };
    Ok(View::new(status, now, normally_up))
}

/// The line for one service (without the newline); `name` is shown first in the forms for
/// several services.
fn line(inv: &Invocation<'_>, v: &View, name: &str, named: bool) -> String {
    if inv.json {
        let fields = if inv.fields.is_empty() {
            &Field::ALL[..]
        } else {
            &inv.fields
        };
        return v.json(name, fields);
    }
    let text = if inv.fields.is_empty() {
        v.summary(inv.numeric)
    } else {
        v.fields_line(&inv.fields)
    };
    if named {
        format!("{name}: {text}")
    } else {
        text
    }
}

/// The services of a scan directory, as svscan would supervise them: every entry not starting
/// with `.` that is a directory (symlinks followed), each followed by its `log` if that is a
/// directory too; sorted by name.
fn scan(scandir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let d = scandir.display();
    let entries = std::fs::read_dir(scandir)
        .map_err(|e| format!("unable to opendir {d}: {}", SysErr(errno(&e))))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("unable to readdir {d}: {}", SysErr(errno(&e))))?;
        let name = entry.file_name();
        if !name.as_encoded_bytes().starts_with(b".") {
            names.push(name);
        }
    }
    names.sort();
    let mut services = Vec::new();
    for name in names {
        let mut path = scandir.as_os_str().to_owned();
        path.push("/");
        path.push(&name);
        let path = PathBuf::from(path);
        if !path.is_dir() {
            continue;
        }
        let log = service_path(&path, "log");
        let shown = name.to_string_lossy().into_owned();
        services.push((shown.clone(), path));
        if log.is_dir() {
            services.push((format!("{shown}/log"), log));
        }
    }
    Ok(services)
}

fn errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// Writes one line to stdout, or dies as s6-svstat does.
fn print(line: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        fatal!(
            EXIT_SYSTEM,
            "unable to write to stdout: {}",
            SysErr(errno(&e))
        );
    }
}

fn main() {
    let argv = common::diag::args();
    let inv = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(inv) => inv,
        Err(ParseError::Usage) => usage(USAGE),
        Err(ParseError::Field(e)) => fatal!(EXIT_USAGE, "{e}"),
    };
    let first = inv.operands[0];
    if !inv.multi && !inv.scan {
        match view(first) {
            Ok(v) => print(&line(&inv, &v, &first.to_string_lossy(), false)),
            Err(f) => fatal!(f.code, "{}", f.message),
        }
        return;
    }
    let services = if inv.scan {
        scan(first).unwrap_or_else(|message| fatal!(EXIT_SYSTEM, "{message}"))
    } else {
        inv.operands
            .iter()
            .map(|d| (d.to_string_lossy().into_owned(), d.to_path_buf()))
            .collect()
    };
    let mut worst = 0;
    for (name, dir) in &services {
        match view(dir) {
            Ok(v) => print(&line(&inv, &v, name, true)),
            Err(f) => {
                warn!("{}", f.message);
                worst = worst.max(f.code);
            }
        }
    }
    std::process::exit(worst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_lists_accumulate_in_order() {
        let inv = parse(&["-u", "-o", "pid,ready", "-pe", "-st", "-wN", "-r", "d"]).unwrap();
        use Field::*;
        assert_eq!(
            inv.fields,
            [
                Up, Pid, Ready, Pid, ExitCode, Signal, UpDownFor, WantedUp, NormallyUp, Ready
            ]
        );
        assert_eq!(inv.operands, [Path::new("d")]);
    }

    #[test]
    fn field_errors_come_in_command_line_order() {
        assert_eq!(
            parse(&["-o", "bogus", "-Z", "d"]),
            Err(ParseError::Field(FieldError::Unknown("bogus".into())))
        );
        assert_eq!(parse(&["-Z", "-o", "bogus", "d"]), Err(ParseError::Usage));
        let sixteen = ["-u"; 16];
        let mut args: Vec<&str> = sixteen.to_vec();
        args.extend(["-p", "d"]);
        assert_eq!(parse(&args), Err(ParseError::Field(FieldError::TooMany)));
    }

    #[test]
    fn no_operand_and_unknown_options_are_usage_errors() {
        assert_eq!(parse(&["-u"]), Err(ParseError::Usage));
        assert_eq!(parse(&["-x", "d"]), Err(ParseError::Usage));
        assert_eq!(parse(&["-o"]), Err(ParseError::Usage));
        assert_eq!(parse(&["--help", "d"]), Err(ParseError::Usage));
        assert_eq!(parse(&["--jso", "d"]), Err(ParseError::Usage));
    }

    #[test]
    fn the_long_options_are_flags_and_extra_operands_are_kept_for_them() {
        let inv = parse(&["--multi", "--json", "-n", "a", "b"]).unwrap();
        assert!(inv.multi && inv.json && inv.numeric && !inv.scan);
        assert_eq!(inv.operands, [Path::new("a"), Path::new("b")]);
        assert!(parse(&["--scan", "s"]).unwrap().scan);
        // No permutation: after the operand, an option is an operand.
        assert_eq!(parse(&["a", "--json"]).unwrap().operands.len(), 2);
        assert!(!parse(&["a", "--json"]).unwrap().json);
    }
}
