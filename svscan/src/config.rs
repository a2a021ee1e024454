//! The command line (spec, "svscan command line"), read by `common::getopt`.
//!
//! Options come before the operand and are never permuted: the first operand ends them, and
//! everything after it is ignored (as skalibs' `subgetopt`). The last occurrence of an option
//! wins, `-c` and `-C` included (by position). Values are unsigned decimal, consumed whole.
//! Long forms are those of s6 2.15, plus `--supervise` and `--watch`.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use common::getopt::{self, Getopt, Key, Long, unsigned};

/// The supervised-entries limit when none is given.
pub const DEFAULT_SERVICES_MAX: u32 = 1000;
/// The smallest and largest `-C` after clamping.
pub const SERVICES_MAX_RANGE: (u32, u32) = (4, 160_000);
/// The supervise program when `--supervise` is not given: `s6-supervise`, looked up in PATH;
/// or the path fixed at build time in `SVSCAN_DEFAULT_SUPERVISE` (`make SUPERVISE_PATH=...`),
/// as s6 built with `--enable-absolute-paths` starts `$bindir/s6-supervise`.
pub const DEFAULT_SUPERVISE: &str = match option_env!("SVSCAN_DEFAULT_SUPERVISE") {
    Some(path) if !path.is_empty() => path,
    _ => "s6-supervise",
};
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
    /// `--watch` (beyond s6): rescan when the scan directory changes (`watch.rs`).
    pub watch: bool,
}

/// The usage line, with `prog` as the program name.
#[must_use]
pub fn usage_line(prog: &str) -> String {
    format!(
        "{prog} [ -c services_max | -C services_max ] [ -L name_max ] [ -t timeout ] \
         [ -d notif ] [ -X consoleholder ] [ --supervise prog ] [ --watch ] [ dir ]"
    )
}

/// The long forms of s6 2.15, plus `--supervise` and `--watch`.
const LONGS: &[Long] = &[
    Long {
        name: "services-max",
        value: true,
    },
    Long {
        name: "name-max",
        value: true,
    },
    Long {
        name: "timeout",
        value: true,
    },
    Long {
        name: "notification-fd",
        value: true,
    },
    Long {
        name: "console-holder",
        value: true,
    },
    Long {
        name: "supervise",
        value: true,
    },
    Long {
        name: "watch",
        value: false,
    },
];

/// Parses the arguments after the program name.
///
/// # Errors
/// Any getopt-level error (unknown option, missing or malformed value): the caller prints the
/// usage line and exits 100.
pub fn parse<S: AsRef<OsStr>>(args: &[S]) -> Result<Config, getopt::Error> {
    // `-c n` doubles (computed in 64 bits, then clamped); the later of -c and -C wins.
    let mut services_max = u64::from(DEFAULT_SERVICES_MAX);
    let mut name_max = DEFAULT_NAME_MAX;
    let mut rescan = 0;
    let mut notification_fd = None;
    let mut console_holder = None;
    let mut supervise = OsStr::new(DEFAULT_SUPERVISE);
    let mut watch = false;
    let mut opts = Getopt::new(args, "c:C:L:t:d:X:", LONGS);
    for opt in opts.by_ref() {
        let opt = opt?;
        match opt.key {
            Key::Short(b'c') => services_max = u64::from(unsigned(opt.value)?) * 2,
            Key::Short(b'C') | Key::Long("services-max") => {
                services_max = u64::from(unsigned(opt.value)?);
            }
            Key::Short(b'L') | Key::Long("name-max") => name_max = unsigned(opt.value)?,
            Key::Short(b't') | Key::Long("timeout") => rescan = unsigned(opt.value)?,
            Key::Short(b'd') | Key::Long("notification-fd") => {
                notification_fd = Some(unsigned(opt.value)?);
            }
            Key::Short(b'X') | Key::Long("console-holder") => {
                console_holder = Some(unsigned(opt.value)?);
            }
            Key::Long("supervise") => supervise = opt.value.ok_or(getopt::Error::BadValue)?,
            Key::Long("watch") => watch = true,
            _ => return Err(getopt::Error::Unknown),
        }
    }
    let services_max = u32::try_from(services_max.clamp(
        u64::from(SERVICES_MAX_RANGE.0),
        u64::from(SERVICES_MAX_RANGE.1),
    ))
    .unwrap_or(SERVICES_MAX_RANGE.1);
    Ok(Config {
        services_max,
        name_max: name_max.clamp(NAME_MAX_RANGE.0, NAME_MAX_RANGE.1),
        rescan: (rescan > 0).then(|| Duration::from_millis(u64::from(rescan))),
        notification_fd,
        console_holder,
        supervise: supervise.to_owned(),
        scandir: opts.operands().first().map(PathBuf::from),
        watch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Config {
        parse(args).unwrap_or_else(|e| panic!("{args:?}: {e:?}"))
    }

    fn bad(args: &[&str]) {
        assert!(parse(args).is_err(), "{args:?} should be a usage error");
    }

    #[test]
    fn defaults_follow_s6() {
        let c = p(&[]);
        assert_eq!(c.services_max, 1000);
        assert_eq!(c.name_max, 251);
        assert_eq!(c.rescan, None);
        assert_eq!(c.notification_fd, None);
        assert_eq!(c.console_holder, None);
        assert_eq!(c.supervise, DEFAULT_SUPERVISE);
        assert_eq!(c.scandir, None);
        assert!(!c.watch);
    }

    #[test]
    fn the_default_supervise_is_s6_supervise_from_path_unless_fixed_at_build_time() {
        match option_env!("SVSCAN_DEFAULT_SUPERVISE") {
            Some(path) if !path.is_empty() => assert_eq!(DEFAULT_SUPERVISE, path),
            _ => assert_eq!(DEFAULT_SUPERVISE, "s6-supervise"),
        }
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
            "--watch",
            "d",
        ]);
        assert_eq!(c.services_max, 20);
        assert_eq!(c.name_max, 40);
        assert_eq!(c.rescan, Some(Duration::from_millis(100)));
        assert_eq!(c.notification_fd, Some(5));
        assert_eq!(c.console_holder, Some(6));
        assert_eq!(c.supervise, "/bin/stub");
        assert!(c.watch);
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
        bad(&["--supervise"]);
        bad(&["--timeout=5x"]);
        bad(&["--watch=1"]);
        // skalibs takes everything after the letter as the value, `=` included (clap did not).
        bad(&["-t=5"]);
    }

    #[test]
    fn a_value_may_look_like_an_option() {
        // getopt takes the next word as the value whatever it is; it then fails as a number.
        bad(&["-d", "-t"]);
        // ...and a value that is a number stays a value even after a lone "-" elsewhere.
        assert_eq!(p(&["-t", "7", "-"]).rescan, Some(Duration::from_millis(7)));
    }
}
