//! The command line (spec, "svscan command line"): POSIX getopt semantics over clap.
//!
//! Options come before the operand and are never permuted: the first operand ends them, and
//! everything after it is ignored (as skalibs' `subgetopt`). The last occurrence of an option
//! wins, `-c` and `-C` included (by position). Values are unsigned decimal, consumed whole.
//! Long forms are those of s6 2.15, plus `--supervise`.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, value_parser};

/// The supervised-entries limit when none is given.
pub const DEFAULT_SERVICES_MAX: u32 = 1000;
/// The smallest and largest `-C` after clamping.
pub const SERVICES_MAX_RANGE: (u32, u32) = (4, 160_000);
/// The name limit when none is given.
pub const DEFAULT_NAME_MAX: u32 = 251;
/// The smallest and largest `-L` after clamping.
pub const NAME_MAX_RANGE: (u32, u32) = (11, 1019);

/// What the command line asks for, validated and clamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// At most this many supervised entries (a service and its logger are two).
    pub services_max: u32,
    /// Names in the scan directory longer than this are skipped.
    pub name_max: u32,
    /// Scan also every this often; `None` = only when asked.
    pub rescan: Option<Duration>,
    /// `-d`: write a newline there when ready (the number, not yet checked).
    pub notification_fd: Option<u32>,
    /// `-X`: the console holder (the number, not yet checked).
    pub console_holder: Option<u32>,
    /// The supervise program, as given (looked up in PATH when it has no `/`).
    pub supervise: OsString,
    /// The scan directory to chdir into, if given.
    pub scandir: Option<PathBuf>,
}

/// The usage line, with `prog` as the program name.
#[must_use]
pub fn usage_line(prog: &str) -> String {
    format!(
        "{prog} [ -c services_max | -C services_max ] [ -L name_max ] [ -t timeout ] \
         [ -d notif ] [ -X consoleholder ] [ --supervise prog ] [ dir ]"
    )
}

/// An unsigned decimal number, consumed whole (no sign, no junk, no overflow).
fn unsigned(s: &str) -> Result<u32, &'static str> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not an unsigned decimal number");
    }
    s.parse().map_err(|_| "number too large")
}

fn command() -> clap::Command {
    let number = |id: &'static str, short: char, long: Option<&'static str>| {
        let arg = Arg::new(id)
            .short(short)
            .num_args(1)
            .allow_hyphen_values(true)
            .action(ArgAction::Set)
            .value_parser(unsigned);
        match long {
            Some(long) => arg.long(long),
            None => arg,
        }
    };
    clap::Command::new("svscan")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .arg(number("c", 'c', None))
        .arg(number("C", 'C', Some("services-max")))
        .arg(number("L", 'L', Some("name-max")))
        .arg(number("t", 't', Some("timeout")))
        .arg(number("d", 'd', Some("notification-fd")))
        .arg(number("X", 'X', Some("console-holder")))
        .arg(
            Arg::new("supervise")
                .long("supervise")
                .num_args(1)
                .action(ArgAction::Set)
                .value_parser(value_parser!(OsString)),
        )
        .arg(
            // Always after a "--" (see `getopt_args`).
            Arg::new("operands")
                .num_args(0..)
                .value_parser(value_parser!(OsString)),
        )
}

/// The value of a number option and the position of its last occurrence.
fn last(m: &ArgMatches, id: &str) -> Option<(u32, usize)> {
    let value = *m.get_one::<u32>(id)?;
    Some((value, m.index_of(id).unwrap_or(0)))
}

/// Parses the arguments after the program name.
///
/// # Errors
/// Any getopt-level error (unknown option, missing or malformed value): the caller prints the
/// usage line and exits 100.
pub fn parse<I, T>(args: I) -> Result<Config, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // getopt ends the options at a lone "-": it is the operand. clap would take it as a value
    // of a preceding option too, so cut there and hand the rest over as operands.
    let m = command().try_get_matches_from(getopt_args(&args))?;

    // `-c n` doubles (computed in 64 bits, then clamped); the later of -c and -C wins.
    let services_max = match (last(&m, "c"), last(&m, "C")) {
        (Some((c, ci)), Some((_, capi))) if ci > capi => u64::from(c) * 2,
        (Some((c, _)), None) => u64::from(c) * 2,
        (_, Some((cap, _))) => u64::from(cap),
        (None, None) => u64::from(DEFAULT_SERVICES_MAX),
    };
    let services_max = u32::try_from(services_max.clamp(
        u64::from(SERVICES_MAX_RANGE.0),
        u64::from(SERVICES_MAX_RANGE.1),
    ))
    .unwrap_or(SERVICES_MAX_RANGE.1);
    let name_max = m
        .get_one::<u32>("L")
        .copied()
        .unwrap_or(DEFAULT_NAME_MAX)
        .clamp(NAME_MAX_RANGE.0, NAME_MAX_RANGE.1);
    let rescan = m
        .get_one::<u32>("t")
        .copied()
        .filter(|&ms| ms > 0)
        .map(|ms| Duration::from_millis(u64::from(ms)));
    let scandir = m
        .get_many::<OsString>("operands")
        .and_then(|mut ops| ops.next())
        .map(PathBuf::from);
    Ok(Config {
        services_max,
        name_max,
        rescan,
        notification_fd: m.get_one::<u32>("d").copied(),
        console_holder: m.get_one::<u32>("X").copied(),
        supervise: m
            .get_one::<OsString>("supervise")
            .cloned()
            .unwrap_or_else(|| OsString::from("s6-supervise")),
        scandir,
    })
}

/// Rewrites the arguments so that clap sees getopt's view: everything from the first operand
/// on (a lone `-` included) is placed after a `--`, so that clap never takes an option that
/// follows an operand.
fn getopt_args(args: &[OsString]) -> Vec<OsString> {
    let takes_value = |a: &OsStr| {
        let b = a.as_bytes();
        // A short option cluster whose last letter takes a separate value: "-t", "-ct"...
        // Every short option of svscan takes a value, so only a lone letter (`-t`) does.
        (b.len() == 2 && b[0] == b'-' && b[1] != b'-')
            || matches!(
                b,
                b"--services-max"
                    | b"--name-max"
                    | b"--timeout"
                    | b"--notification-fd"
                    | b"--console-holder"
                    | b"--supervise"
            )
    };
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_os_str();
        let b = a.as_bytes();
        if b == b"--" {
            out.extend(args[i..].iter().cloned());
            return out;
        }
        if b.len() < 2 || b[0] != b'-' {
            out.push(OsString::from("--"));
            out.extend(args[i..].iter().cloned());
            return out;
        }
        out.push(a.to_owned());
        if takes_value(a)
            && let Some(value) = args.get(i + 1)
        {
            out.push(value.clone());
            i += 1;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Config {
        parse(args.iter().copied()).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn bad(args: &[&str]) {
        assert!(
            parse(args.iter().copied()).is_err(),
            "{args:?} should be a usage error"
        );
    }

    #[test]
    fn defaults_follow_s6() {
        let c = p(&[]);
        assert_eq!(c.services_max, 1000);
        assert_eq!(c.name_max, 251);
        assert_eq!(c.rescan, None);
        assert_eq!(c.notification_fd, None);
        assert_eq!(c.console_holder, None);
        assert_eq!(c.supervise, "s6-supervise");
        assert_eq!(c.scandir, None);
    }

    #[test]
    fn values_may_be_attached_or_separate() {
        let c = p(&["-t5000", "-C", "50", "-d3", "-X", "4", "/run/service"]);
        assert_eq!(c.rescan, Some(Duration::from_millis(5000)));
        assert_eq!(c.services_max, 50);
        assert_eq!(c.notification_fd, Some(3));
        assert_eq!(c.console_holder, Some(4));
        assert_eq!(c.scandir, Some(PathBuf::from("/run/service")));
    }

    #[test]
    fn little_c_doubles_and_the_last_of_c_and_big_c_wins() {
        assert_eq!(p(&["-c", "100"]).services_max, 200);
        assert_eq!(p(&["-c", "1"]).services_max, 4);
        assert_eq!(p(&["-c", "5", "-C", "7"]).services_max, 7);
        assert_eq!(p(&["-C", "7", "-c", "5"]).services_max, 10);
        assert_eq!(p(&["-C", "7", "-C", "9"]).services_max, 9);
    }

    #[test]
    fn little_c_does_not_wrap_for_large_values() {
        // C 2.12 shifts a uint32: 2^31 << 1 wraps to 0, then clamps to 4.
        assert_eq!(p(&["-c", "2147483648"]).services_max, 160_000);
        assert_eq!(p(&["-c", "4294967295"]).services_max, 160_000);
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(p(&["-C", "0"]).services_max, 4);
        assert_eq!(p(&["-C", "999999"]).services_max, 160_000);
        assert_eq!(p(&["-L", "1"]).name_max, 11);
        assert_eq!(p(&["-L", "5000"]).name_max, 1019);
        assert_eq!(p(&["-t", "0"]).rescan, None);
    }

    #[test]
    fn double_dash_ends_options_as_s6_overlay_uses_it() {
        let c = p(&["-d4", "--", "/run/service"]);
        assert_eq!(c.notification_fd, Some(4));
        assert_eq!(c.scandir, Some(PathBuf::from("/run/service")));
        assert_eq!(p(&["--", "-t"]).scandir, Some(PathBuf::from("-t")));
    }

    #[test]
    fn options_after_the_operand_are_ignored_operands() {
        let c = p(&["dir", "-t", "5", "-Z"]);
        assert_eq!(c.scandir, Some(PathBuf::from("dir")));
        assert_eq!(c.rescan, None);
    }

    #[test]
    fn a_lone_dash_is_the_operand() {
        let c = p(&["-", "-t", "5"]);
        assert_eq!(c.scandir, Some(PathBuf::from("-")));
        assert_eq!(c.rescan, None);
    }

    #[test]
    fn long_forms_of_s6_2_15_are_accepted() {
        let c = p(&[
            "--services-max",
            "20",
            "--name-max=40",
            "--timeout",
            "100",
            "--notification-fd",
            "5",
            "--console-holder",
            "6",
            "--supervise",
            "/bin/stub",
            "d",
        ]);
        assert_eq!(c.services_max, 20);
        assert_eq!(c.name_max, 40);
        assert_eq!(c.rescan, Some(Duration::from_millis(100)));
        assert_eq!(c.notification_fd, Some(5));
        assert_eq!(c.console_holder, Some(6));
        assert_eq!(c.supervise, "/bin/stub");
        assert_eq!(c.scandir, Some(PathBuf::from("d")));
    }

    #[test]
    fn malformed_input_is_a_usage_error() {
        bad(&["-x"]);
        bad(&["--x"]);
        bad(&["-t"]);
        bad(&["-t", "-5"]);
        bad(&["-t", "+5"]);
        bad(&["-t", "5s"]);
        bad(&["-t", ""]);
        bad(&["-C", "4294967296"]);
        bad(&["-h"]);
        bad(&["--help"]);
        bad(&["--version"]);
    }

    #[test]
    fn a_value_may_look_like_an_option() {
        // getopt takes the next word as the value whatever it is; it then fails as a number.
        bad(&["-d", "-t"]);
        // ...and a value that is a number stays a value even after a lone "-" elsewhere.
        assert_eq!(p(&["-t", "7", "-"]).rescan, Some(Duration::from_millis(7)));
    }
}
