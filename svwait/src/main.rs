//! `svwait`: a drop-in `s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ]
//! servicedir...` (SUPERVISE.md, "svwait"): waits until all (`-a`, the default) or one (`-o`)
//! of the services is up (`-u`, the default), up and ready (`-U`), down (`-d`), down and
//! ready (`-D`), or has restarted (`-r`, `-R`: every one down first, then up, or up and
//! ready). The wait is `common::svlisten`: subscribed before the status is read.
//!
//! Exit: 0 reached; n (at most 255) when n services failed permanently or lost their
//! supervisor on the way; 99 timed out; 100 usage; 111 system error. No servicedir: exit 0 at
//! once (2.12; 2.11 made it a usage error).
#![forbid(unsafe_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use common::diag::usage;
use common::fatal;
use common::getopt::{self, Getopt, Key};
use common::svlisten::{Goal, Listener};

const USAGE: &str =
    "s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir...";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Invocation<'a> {
    goal: Goal,
    /// `-r`, `-R`: every service down first.
    restart: bool,
    /// `-t`; `None` for 0 (no limit).
    timeout: Option<Duration>,
    dirs: Vec<&'a Path>,
}

/// Parses the arguments after argv[0] (`UudDrRaot:`, the last of each kind wins); `None` is a
/// usage error.
fn parse<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<Invocation<'_>> {
    let mut goal = Goal {
        up: true,
        ready: false,
        any: false,
    };
    let mut restart = false;
    let mut timeout = 0;
    let mut opts = Getopt::new(args, "UudDrRaot:", &[]);
    for opt in opts.by_ref() {
        let opt = opt.ok()?;
        let Key::Short(letter) = opt.key else {
            return None;
        };
        match letter {
            b'U' | b'u' | b'd' | b'D' | b'r' | b'R' => {
                goal.up = !matches!(letter, b'd' | b'D');
                goal.ready = letter.is_ascii_uppercase();
                restart = matches!(letter, b'r' | b'R');
            }
            b'a' => goal.any = false,
            b'o' => goal.any = true,
            b't' => timeout = getopt::unsigned(opt.value).ok()?,
            _ => return None,
        }
    }
    let dirs = opts
        .operands()
        .iter()
        .map(|d| Path::new(d.as_ref()))
        .collect();
    let timeout = (timeout > 0).then(|| Duration::from_millis(u64::from(timeout)));
    Some(Invocation {
        goal,
        restart,
        timeout,
        dirs,
    })
}

/// Dies as s6-svwait does when services failed on the way.
fn check_failures(failures: u32) {
    if failures > 0 {
        // **fix**: C exits with the count modulo 256, so 256 failures would exit 0.
        let code = i32::try_from(failures.min(255)).unwrap_or(255);
        fatal!(
            code,
            "some services reported permanent failure or their supervisor died"
        );
    }
}

fn main() {
    let argv = common::diag::args();
    let Some(inv) = parse(argv.get(1..).unwrap_or_default()) else {
        usage(USAGE)
    };
    if inv.dirs.is_empty() {
        return;
    }
    let deadline = inv.timeout.map(|t| Instant::now() + t);
    let mut listener = Listener::new(&inv.dirs).unwrap_or_else(|e| fatal!(e.exit_code(), "{e}"));
    let mut wait = |goal| {
        listener
            .wait(goal, deadline)
            .unwrap_or_else(|e| fatal!(e.exit_code(), "{e}"))
    };
    if inv.restart {
        // Every service down first, whatever -o says (s6-svwait.c).
        check_failures(wait(Goal {
            up: false,
            ready: false,
            any: false,
        }));
    }
    check_failures(wait(inv.goal));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(up: bool, ready: bool, any: bool) -> Goal {
        Goal { up, ready, any }
    }

    #[test]
    fn the_last_state_letter_and_the_last_of_a_and_o_win() {
        let inv = parse(&["-d", "-U", "-o", "-a", "x"]).unwrap();
        assert_eq!((inv.goal, inv.restart), (goal(true, true, false), false));
        let inv = parse(&["-Do", "x", "y"]).unwrap();
        assert_eq!((inv.goal, inv.dirs.len()), (goal(false, true, true), 2));
        let inv = parse(&["-R", "x"]).unwrap();
        assert_eq!((inv.goal, inv.restart), (goal(true, true, false), true));
        let inv = parse(&["-r", "-u", "x"]).unwrap();
        assert!(!inv.restart);
    }

    #[test]
    fn the_default_is_all_up_without_a_timeout() {
        let inv = parse(&["x"]).unwrap();
        assert_eq!(
            (inv.goal, inv.restart, inv.timeout),
            (goal(true, false, false), false, None)
        );
    }

    #[test]
    fn timeouts_are_unsigned_milliseconds_and_zero_is_none() {
        assert_eq!(
            parse(&["-t", "1500", "x"]).unwrap().timeout,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse(&["-t0", "x"]).unwrap().timeout, None);
        for bad in ["-1", "1s", "", "99999999999"] {
            assert!(parse(&["-t", bad, "x"]).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_options_and_missing_values_are_usage_errors_and_no_dir_is_fine() {
        assert!(parse(&["-x", "d"]).is_none());
        assert!(parse(&["-t"]).is_none());
        assert!(parse(&["--up", "d"]).is_none());
        assert!(parse::<&str>(&[]).unwrap().dirs.is_empty());
        // Options end at the first operand.
        assert_eq!(
            parse(&["d", "-d"]).unwrap().dirs,
            [Path::new("d"), Path::new("-d")]
        );
    }
}
