//! `svc`: a drop-in `s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -s signal |
//! -abqhkti12pcy ] [ -roduDUxOQ ] servicedir` (SUPERVISE.md, "svc", "svc -w", "The control
//! FIFO"). Each letter is one command byte to `servicedir/supervise/control`, sent in the order
//! given in one write (`common::control::write_control`, as `s6_svc_writectl`).
//!
//! `-w X` waits for the commands' effect. C execs `s6-svlisten1` (with letters) or
//! `s6-svwait` (without); ours waits in-process with their conditions (`common::svlisten`):
//! subscribe and read the status, **then** send, then wait, so that no event is missed.
//! **fix** (no upstream fix): when the send fails, C's s6-svlisten1 ignores the exit status of
//! the s6-svc it spawned and waits on; ours exits with the send's code and message.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::control::{SuperviseCommand, Wording, write_control};
use common::diag::{SysErr, usage};
use common::getopt::{self, Getopt, Key};
use common::status::service_path;
use common::svlisten::{Goal, Listener};
use common::{EXIT_SYSTEM, EXIT_USAGE, SUPERVISE_DIR, fatal, sig, warn};

const USAGE: &str = "s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -s signal | -abqhkti12pcy ] [ -roduDUxOQ ] servicedir";

/// The most letters sent at once (s6-svc's 63-byte buffer, one byte kept).
const MAX_COMMANDS: usize = 62;

/// The signals `-s` accepts, with their letters (s6-svc.c's `cmdsig`).
const SIGNAL_LETTERS: &[(i32, SuperviseCommand)] = {
    use SuperviseCommand::*;
    &[
        (nix::libc::SIGALRM, Alarm),
        (nix::libc::SIGABRT, Abort),
        (nix::libc::SIGQUIT, Quit),
        (nix::libc::SIGHUP, Hangup),
        (nix::libc::SIGKILL, Kill),
        (nix::libc::SIGTERM, Terminate),
        (nix::libc::SIGINT, Interrupt),
        (nix::libc::SIGUSR1, Usr1),
        (nix::libc::SIGUSR2, Usr2),
        (nix::libc::SIGSTOP, Pause),
        (nix::libc::SIGCONT, Continue),
        (nix::libc::SIGWINCH, Winch),
    ]
};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Invocation<'a> {
    commands: Vec<SuperviseCommand>,
    /// `-w`'s letter: one of `d D u U r R`.
    wait: Option<u8>,
    /// `-T`; `None` for 0 (no limit).
    timeout: Option<Duration>,
    dir: &'a Path,
    extra_operands: bool,
}

/// Why the command line was refused.
#[derive(Debug, PartialEq, Eq)]
enum ParseError {
    /// The usage line, exit 100.
    Usage,
    /// Fatal 100 with this text.
    Fatal(String),
}

/// The letter for `-s SIG` (s6-svc.c:57-63).
fn signal_letter(text: &OsStr) -> Result<SuperviseCommand, ParseError> {
    let shown = text.to_string_lossy();
    // **fix** (no upstream fix): C indexes a table of NSIG entries with the number unchecked;
    // ours takes a number past the table for an unknown name.
    let signo = text
        .to_str()
        .and_then(sig::parse)
        .filter(|n| (0..65).contains(n))
        .ok_or_else(|| ParseError::Fatal(format!("invalid signal: {shown}")))?;
    SIGNAL_LETTERS
        .iter()
        .find(|(n, _)| *n == signo)
        .map(|&(_, c)| c)
        .ok_or_else(|| {
            ParseError::Fatal(format!(
                "{shown} is not in the list of user-available signals"
            ))
        })
}

/// Parses the arguments after argv[0] as s6-svc's `subgetopt` loop, in order: the first
/// bad option or value decides the error.
fn parse<S: AsRef<OsStr>>(args: &[S]) -> Result<Invocation<'_>, ParseError> {
    let mut commands = Vec::with_capacity(MAX_COMMANDS);
    let mut wait = None;
    let mut timeout = 0;
    let mut opts = Getopt::new(args, "s:abqhkti12pcyroduDUxOQT:w:", &[]);
    for opt in opts.by_ref() {
        let opt = opt.map_err(|_| ParseError::Usage)?;
        let Key::Short(letter) = opt.key else {
            return Err(ParseError::Usage);
        };
        let command = match letter {
            b'T' => {
                timeout = getopt::unsigned(opt.value).map_err(|_| ParseError::Usage)?;
                continue;
            }
            b'w' => {
                let first = opt
                    .value
                    .and_then(|v| v.as_encoded_bytes().first().copied());
                wait = Some(
                    first
                        .filter(|c| b"dDuUrR".contains(c))
                        .ok_or(ParseError::Usage)?,
                );
                continue;
            }
            b's' => signal_letter(opt.value.unwrap_or_default())?,
            _ => SuperviseCommand::from_byte(letter).ok_or(ParseError::Usage)?,
        };
        if commands.len() >= MAX_COMMANDS {
            return Err(ParseError::Fatal("too many commands".into()));
        }
        commands.push(command);
    }
    let operands = opts.operands();
    let dir = Path::new(operands.first().ok_or(ParseError::Usage)?.as_ref());
    Ok(Invocation {
        commands,
        wait,
        timeout: (timeout > 0).then(|| Duration::from_millis(u64::from(timeout))),
        dir,
        extra_operands: operands.len() > 1,
    })
}

/// Sends the commands, or dies as s6-svc does.
fn send(dir: &Path, commands: &[SuperviseCommand]) {
    let bytes: Vec<u8> = commands.iter().map(|c| c.byte()).collect();
    if let Err(e) = write_control(dir, SUPERVISE_DIR, &bytes) {
        fatal!(
            e.exit_code(),
            "{}",
            e.message(dir, SUPERVISE_DIR, Wording::Sys)
        );
    }
}

/// `-wU`/`-wR` need readiness notification: without `DIR/notification-fd`, s6-svc warns and
/// waits for `u`/`r` instead.
fn readiness_checked(dir: &Path, wait: u8) -> u8 {
    if !matches!(wait, b'U' | b'R') {
        return wait;
    }
    let file = service_path(dir, "notification-fd");
    match nix::unistd::access(&file, nix::unistd::AccessFlags::F_OK) {
        Ok(()) => wait,
        Err(nix::errno::Errno::ENOENT) => {
            warn!(
                "{} not present - ignoring request for readiness notification",
                file.display()
            );
            wait.to_ascii_lowercase()
        }
        Err(e) => fatal!(
            EXIT_SYSTEM,
            "unable to access {}: {}",
            file.display(),
            SysErr(e)
        ),
    }
}

/// `-w` with letters, as `s6-svlisten1 -X [-t T] -- DIR s6-svc -LETTERS -- DIR`; without, as
/// `s6-svwait -X [-t T] -- DIR`.
fn send_and_wait(inv: &Invocation<'_>, wait: u8) {
    let deadline = inv.timeout.map(|t| Instant::now() + t);
    let mut listener = Listener::new(&[inv.dir]).unwrap_or_else(|e| fatal!(e.exit_code(), "{e}"));
    let up = matches!(wait, b'u' | b'U' | b'r' | b'R');
    let ready = wait.is_ascii_uppercase();
    let restart = matches!(wait, b'r' | b'R');
    let mut wait_for = |goal| {
        listener
            .wait(goal, deadline)
            .unwrap_or_else(|e| fatal!(e.exit_code(), "{e}"))
    };
    if inv.commands.is_empty() {
        let failed = |n: u32| {
            if n > 0 {
                let code = i32::try_from(n.min(255)).unwrap_or(255);
                fatal!(
                    code,
                    "some services reported permanent failure or their supervisor died"
                );
            }
        };
        // s6-svwait -r: down (not necessarily ready) first.
        if restart {
            failed(wait_for(Goal {
                up: false,
                ready: false,
                any: false,
            }));
        }
        failed(wait_for(Goal {
            up,
            ready,
            any: false,
        }));
    } else {
        send(inv.dir, &inv.commands);
        let failed = |n: u32| {
            if n > 0 {
                fatal!(
                    1,
                    "{} failed permanently or its supervisor died",
                    inv.dir.display()
                );
            }
        };
        // s6-svlisten1 -r: down and ready first.
        if restart {
            failed(wait_for(Goal {
                up: false,
                ready: true,
                any: true,
            }));
        }
        failed(wait_for(Goal {
            up,
            ready,
            any: true,
        }));
    }
}

fn main() {
    let argv = common::diag::args();
    let inv = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(inv) => inv,
        Err(ParseError::Usage) => usage(USAGE),
        Err(ParseError::Fatal(text)) => fatal!(EXIT_USAGE, "{text}"),
    };
    if inv.extra_operands {
        warn!("ignoring extra arguments");
    }
    if inv.dir.as_os_str().is_empty() {
        fatal!(EXIT_USAGE, "invalid service path");
    }
    match inv.wait {
        Some(wait) => send_and_wait(&inv, readiness_checked(inv.dir, wait)),
        None => send(inv.dir, &inv.commands),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(args: &[&str]) -> Result<Vec<u8>, ParseError> {
        parse(args).map(|inv| inv.commands.iter().map(|c| c.byte()).collect())
    }

    #[test]
    fn letters_are_kept_in_order_with_repeats() {
        assert_eq!(
            bytes(&["-ud", "-u", "-abqhkti12pcyroduDUxOQ", "d"]).unwrap(),
            b"uduabqhkti12pcyroduDUxOQ"
        );
        assert_eq!(bytes(&["d"]).unwrap(), b"");
    }

    #[test]
    fn s_takes_a_signal_name_or_number_for_its_letter() {
        assert_eq!(
            bytes(&["-s", "TERM", "-sSIGKILL", "-s", "usr1", "-s", "28", "d"]).unwrap(),
            b"tk1y"
        );
        assert_eq!(
            bytes(&["-s", "sigstop", "-sCONT", "-s14", "-s6", "d"]).unwrap(),
            b"pcab"
        );
    }

    #[test]
    fn s_refuses_unknown_and_unlisted_signals_with_their_messages() {
        let fatal = |args: &[&str]| match parse(args) {
            Err(ParseError::Fatal(t)) => t,
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(fatal(&["-s", "FOO", "d"]), "invalid signal: FOO");
        assert_eq!(
            fatal(&["-s", "PIPE", "d"]),
            "PIPE is not in the list of user-available signals"
        );
        assert_eq!(
            fatal(&["-s", "0", "d"]),
            "0 is not in the list of user-available signals"
        );
        assert_eq!(
            fatal(&["-s", "64", "d"]),
            "64 is not in the list of user-available signals"
        );
        // The fix: past the table, C reads out of bounds.
        assert_eq!(fatal(&["-s", "65", "d"]), "invalid signal: 65");
        assert_eq!(fatal(&["-s", "99999", "d"]), "invalid signal: 99999");
        assert_eq!(
            fatal(&["-s", "4294967295", "d"]),
            "invalid signal: 4294967295"
        );
        // In command-line order: the bad signal comes before the bad option.
        assert_eq!(fatal(&["-s", "FOO", "-Z", "d"]), "invalid signal: FOO");
        assert_eq!(parse(&["-Z", "-s", "FOO", "d"]), Err(ParseError::Usage));
    }

    #[test]
    fn at_most_62_letters() {
        let max = format!("-{}", "u".repeat(MAX_COMMANDS));
        assert_eq!(bytes(&[&max, "d"]).unwrap().len(), 62);
        let over = format!("-{}", "u".repeat(MAX_COMMANDS + 1));
        assert_eq!(
            parse(&[&over, "d"]),
            Err(ParseError::Fatal("too many commands".into()))
        );
        // -T and -w are not commands.
        assert!(parse(&[&max, "-T5", "-wu", "d"]).is_ok());
    }

    #[test]
    fn w_takes_the_first_letter_of_its_value_and_the_last_w_wins() {
        assert_eq!(parse(&["-wu", "d"]).unwrap().wait, Some(b'u'));
        assert_eq!(parse(&["-w", "Rest", "-wD", "d"]).unwrap().wait, Some(b'D'));
        assert_eq!(parse(&["-wdown", "d"]).unwrap().wait, Some(b'd'));
        for bad in ["-wx", "-w", "-wo"] {
            assert_eq!(parse(&[bad, "d"]), Err(ParseError::Usage), "{bad}");
        }
        assert_eq!(parse(&["-w", "", "d"]), Err(ParseError::Usage));
    }

    #[test]
    fn t_is_unsigned_milliseconds_and_zero_means_none() {
        assert_eq!(
            parse(&["-T", "250", "d"]).unwrap().timeout,
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse(&["-T0", "d"]).unwrap().timeout, None);
        assert_eq!(parse(&["-T", "x", "d"]), Err(ParseError::Usage));
        assert_eq!(parse(&["-T", "-1", "d"]), Err(ParseError::Usage));
    }

    #[test]
    fn operands_the_first_is_the_service_and_extras_are_flagged() {
        let inv = parse(&["-u", "a", "b"]).unwrap();
        assert_eq!((inv.dir, inv.extra_operands), (Path::new("a"), true));
        assert_eq!(parse(&["-u"]), Err(ParseError::Usage));
        assert_eq!(parse(&["-u", "--", "-d"]).unwrap().dir, Path::new("-d"));
        // No permutation: the letter after the operand is an operand.
        let inv = parse(&["a", "-d"]).unwrap();
        assert!(inv.commands.is_empty() && inv.extra_operands);
        assert_eq!(parse(&["--up", "d"]), Err(ParseError::Usage));
    }
}
