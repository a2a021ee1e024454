//! `svscanctl`: a drop-in `s6-svscanctl [ -zabhitqnN ] svscandir` (spec: "svscanctl"), and,
//! beyond s6, `-w`, `-T ms`, `-l` and `-j` (README, "svscanctl").
//!
//! Each command letter is one byte, sent in the order given, in one write to
//! `svscandir/.s6-svscan/control`: the order of the letters is the message. The options are
//! read by `common::getopt`, which does not permute: the first operand ends the options, so
//! `svscanctl DIR -t` sends nothing (spec, item 11). Sending, and the three ways it can fail,
//! are `common::control::write_control`; so plain letters drive the C `s6-svscan` too.
//!
//! Beyond s6, through svscan's request socket (`common::svscan_socket`): `-w` sends the letters
//! there instead and returns once each has taken effect; `-T ms` bounds everything done on the
//! socket (`timed out`, exit 99); `-l` prints svscan's table (after the letters), `-j` as JSON
//! lines ([`listing`]). Against a svscan without the socket (C), these fail at once.
#![deny(unsafe_code)]

mod listing;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use common::CONTROL_DIR;
use common::control::{SvscanCommand as Command, Wording, write_control};
use common::diag::usage;
use common::fatal;
use common::getopt::{Getopt, Key, Opt, unsigned};
use common::svscan_socket::{ClientError, Connection, MAX_LETTERS};

use crate::listing::{Form, Line};

/// s6's line, exactly (spec, "svscanctl"): the options beyond s6 are documented in the README.
const USAGE: &str = "s6-svscanctl [ -zabhitqnN ] svscandir";

/// The most commands sent at once (as s6-svscanctl's buffer).
const MAX_COMMANDS: usize = MAX_LETTERS;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Invocation<'a> {
    commands: Vec<Command>,
    /// `-w`: send the commands through the socket and wait for their effects.
    wait: bool,
    /// `-T`: the bound on everything done through the socket (0: none).
    timeout: Option<Duration>,
    /// `-l`, `-j`: print the table, in this form.
    list: Option<Form>,
    scandir: &'a Path,
}

/// Why the command line was refused.
#[derive(Debug, PartialEq, Eq)]
enum ParseError {
    /// An unknown letter, a long option, a bad `-T`, or no scandir: print the usage line,
    /// exit 100.
    Usage,
    /// A 65th command letter: fatal 100 `too many commands`.
    TooManyCommands,
}

/// Parses the arguments after argv[0] with `common::getopt`, as skalibs' `subgetopt` does for
/// s6-svscanctl: the letters in order (bundled or not), then the scandir; extra operands are
/// ignored. As in C, the count is checked before the letter, so a 65th letter is "too many"
/// even when it is not a command.
fn parse(args: &[OsString]) -> Result<Invocation<'_>, ParseError> {
    let mut commands = Vec::with_capacity(MAX_COMMANDS);
    let mut wait = false;
    let mut timeout = None;
    let mut list = None;
    let mut opts = Getopt::new(args, "zabhitqnNwT:lj", &[]);
    for opt in opts.by_ref() {
        if commands.len() == MAX_COMMANDS {
            return Err(ParseError::TooManyCommands);
        }
        let Ok(Opt {
            key: Key::Short(letter),
            value,
        }) = opt
        else {
            return Err(ParseError::Usage);
        };
        match letter {
            b'w' => wait = true,
            b'T' => {
                let ms = unsigned(value).map_err(|_| ParseError::Usage)?;
                timeout = (ms > 0).then(|| Duration::from_millis(u64::from(ms)));
            }
            b'l' => list = Some(list.unwrap_or(Form::Human)),
            b'j' => list = Some(Form::Json),
            _ => commands.push(Command::from_byte(letter).ok_or(ParseError::Usage)?),
        }
    }
    let scandir = opts.operands().first().ok_or(ParseError::Usage)?;
    Ok(Invocation {
        commands,
        wait,
        timeout,
        list,
        scandir: Path::new(scandir.as_os_str()),
    })
}

fn main() {
    let argv = common::diag::args();
    let invocation = match parse(argv.get(1..).unwrap_or_default()) {
        Ok(invocation) => invocation,
        Err(ParseError::Usage) => usage(USAGE),
        Err(ParseError::TooManyCommands) => fatal!(common::EXIT_USAGE, "too many commands"),
    };
    let dir = invocation.scandir;
    let deadline = invocation.timeout.map(|t| Instant::now() + t);
    let die = |e: ClientError| -> ! { fatal!(e.exit_code(), "{}", e.message(dir)) };
    let bytes: Vec<u8> = invocation.commands.iter().map(|c| c.byte()).collect();
    if invocation.wait {
        if let Err(e) = Connection::open(dir, deadline).and_then(|c| c.wait(&bytes)) {
            die(e);
        }
    } else if (!bytes.is_empty() || invocation.list.is_none())
        && let Err(e) = write_control(dir, CONTROL_DIR, &bytes)
    {
        let message = e.message(dir, CONTROL_DIR, Wording::ErrnoReported);
        fatal!(e.exit_code(), "{message}");
    }
    if let Some(form) = invocation.list {
        let mut lines = Vec::new();
        if let Err(e) =
            Connection::open(dir, deadline).and_then(|c| c.list(|r| lines.push(Line::from(r))))
        {
            die(e);
        }
        listing::print(&mut lines, form);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<(Vec<u8>, OsString), ParseError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&args).map(|inv| {
            let bytes = inv.commands.iter().map(|c| c.byte()).collect();
            (bytes, inv.scandir.as_os_str().to_owned())
        })
    }

    fn invocation(args: &[&str]) -> (bool, Option<Duration>, Option<Form>) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let inv = parse(&args).unwrap();
        (inv.wait, inv.timeout, inv.list)
    }

    fn sends(args: &[&str], bytes: &[u8], scandir: &str) {
        assert_eq!(
            parse_strs(args),
            Ok((bytes.to_vec(), OsString::from(scandir))),
            "{args:?}"
        );
    }

    #[test]
    fn letters_are_sent_in_the_order_given_bundled_or_not() {
        sends(&["-a", "-N", "-zt", "d"], b"aNzt", "d");
        sends(&["-at", "d"], b"at", "d");
        sends(&["-a", "-t", "d"], b"at", "d");
        sends(&["-ta", "d"], b"ta", "d");
        sends(&["-zabhitqnN", "d"], b"zabhitqnN", "d");
        sends(&["-aaa", "d"], b"aaa", "d");
    }

    #[test]
    fn no_letters_is_an_empty_message() {
        sends(&["d"], b"", "d");
    }

    #[test]
    fn options_come_before_operands_without_permutation() {
        // Spec, item 11: "`svscanctl DIR -t` sends nothing (the `-t` is an ignored extra
        // operand)".
        sends(&["d", "-t"], b"", "d");
        sends(&["-a", "d", "-t", "e"], b"a", "d");
    }

    #[test]
    fn double_dash_ends_the_options_and_is_consumed() {
        sends(&["-a", "--", "-t"], b"a", "-t");
        sends(&["--", "d"], b"", "d");
        sends(&["--", "--", "d"], b"", "--");
    }

    #[test]
    fn a_lone_dash_ends_the_options_and_is_the_scandir() {
        sends(&["-a", "-", "-t"], b"a", "-");
    }

    #[test]
    fn any_other_letter_is_a_usage_error() {
        // Spec: "including `p r s 0 6 7 8`, which C's getopt string lists but its switch
        // rejects".
        for bad in [
            "-p", "-r", "-s", "-0", "-6", "-7", "-8", "-x", "-?", "-ap", "-W", "-L",
        ] {
            assert_eq!(parse_strs(&[bad, "d"]), Err(ParseError::Usage), "{bad}");
        }
    }

    #[test]
    fn long_options_are_usage_errors() {
        assert_eq!(parse_strs(&["--help", "d"]), Err(ParseError::Usage));
        assert_eq!(parse_strs(&["---", "d"]), Err(ParseError::Usage));
    }

    #[test]
    fn no_scandir_is_a_usage_error() {
        assert_eq!(parse_strs(&[]), Err(ParseError::Usage));
        assert_eq!(parse_strs(&["-a"]), Err(ParseError::Usage));
        assert_eq!(parse_strs(&["-a", "--"]), Err(ParseError::Usage));
        assert_eq!(parse_strs(&["-w"]), Err(ParseError::Usage));
    }

    #[test]
    fn up_to_64_commands_are_accepted_and_a_65th_is_too_many() {
        let max = format!("-{}", "a".repeat(MAX_COMMANDS));
        sends(&[&max, "d"], &[b'a'; MAX_COMMANDS], "d");
        let split = ["-", &"a".repeat(MAX_COMMANDS - 1)].concat();
        assert_eq!(
            parse_strs(&[&split, "-t", "-a", "d"]),
            Err(ParseError::TooManyCommands)
        );
        // As C: the count is checked before the letter.
        assert_eq!(
            parse_strs(&[&max, "-x", "d"]),
            Err(ParseError::TooManyCommands)
        );
        assert_eq!(
            parse_strs(&[&max, "-w", "d"]),
            Err(ParseError::TooManyCommands)
        );
    }

    #[test]
    fn a_scandir_that_is_not_utf8_is_kept_as_is() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let args = [OsString::from("-a"), OsString::from_vec(b"d\xff".to_vec())];
        let inv = parse(&args).unwrap();
        assert_eq!(inv.scandir.as_os_str().as_bytes(), b"d\xff");
    }

    #[test]
    fn w_t_l_and_j_are_read_beside_the_letters() {
        assert_eq!(invocation(&["-wa", "d"]), (true, None, None));
        sends(&["-wa", "-T", "500", "-h", "d"], b"ah", "d");
        assert_eq!(
            invocation(&["-wT500", "-a", "d"]),
            (true, Some(Duration::from_millis(500)), None)
        );
        assert_eq!(invocation(&["-T", "0", "-w", "d"]), (true, None, None));
        assert_eq!(invocation(&["-l", "d"]), (false, None, Some(Form::Human)));
        assert_eq!(invocation(&["-lj", "d"]), (false, None, Some(Form::Json)));
        assert_eq!(invocation(&["-jl", "d"]), (false, None, Some(Form::Json)));
        assert_eq!(invocation(&["-j", "d"]), (false, None, Some(Form::Json)));
    }

    #[test]
    fn a_bad_timeout_is_a_usage_error() {
        for bad in [
            &["-T", "d"][..],
            &["-T", "-5", "d"],
            &["-T5s", "d"],
            &["-T"],
        ] {
            assert_eq!(parse_strs(bad), Err(ParseError::Usage), "{bad:?}");
        }
    }
}
