//! skalibs' signal table (src/libstddjb/sig_table.c), as Linux builds it: the names s6 prints
//! (`s6-svstat`'s `down (signal SIGTERM)`, the `signal` field) and accepts (`s6-svc -s`,
//! supervise's `down-signal` file). Names are stored without `SIG`; several names share a
//! number (IOT = ABRT, CLD = CHLD, IO = POLL) and the first one in the table's order wins when
//! naming a number, so 6 is `ABRT`, 17 `CHLD`, 29 `POLL` (SUPERVISE.md, "svstat").

use nix::libc;

/// The table in skalibs' order (the `#ifdef`s resolved for Linux with glibc, which no longer
/// defines SIGUNUSED).
const TABLE: &[(i32, &str)] = &[
    (libc::SIGABRT, "ABRT"),
    (libc::SIGALRM, "ALRM"),
    (libc::SIGBUS, "BUS"),
    (libc::SIGCHLD, "CHLD"),
    (libc::SIGCONT, "CONT"),
    (libc::SIGFPE, "FPE"),
    (libc::SIGHUP, "HUP"),
    (libc::SIGILL, "ILL"),
    (libc::SIGINT, "INT"),
    (libc::SIGKILL, "KILL"),
    (libc::SIGPIPE, "PIPE"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGSEGV, "SEGV"),
    (libc::SIGSTOP, "STOP"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGTSTP, "TSTP"),
    (libc::SIGTTIN, "TTIN"),
    (libc::SIGTTOU, "TTOU"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGPOLL, "POLL"),
    (libc::SIGPROF, "PROF"),
    (libc::SIGSYS, "SYS"),
    (libc::SIGTRAP, "TRAP"),
    (libc::SIGURG, "URG"),
    (libc::SIGVTALRM, "VTALRM"),
    (libc::SIGXCPU, "XCPU"),
    (libc::SIGXFSZ, "XFSZ"),
    (libc::SIGIOT, "IOT"),
    (libc::SIGSTKFLT, "STKFLT"),
    (libc::SIGCHLD, "CLD"),
    (libc::SIGWINCH, "WINCH"),
    (libc::SIGIO, "IO"),
    (libc::SIGPWR, "PWR"),
];

/// The name of a signal number without `SIG` (`sig_name`), the first match in the table;
/// `None` where skalibs prints `???` (0, real-time signals, anything unknown).
pub fn name(signo: i32) -> Option<&'static str> {
    TABLE.iter().find(|&&(n, _)| n == signo).map(|&(_, s)| s)
}

/// The number of a name without `SIG`, case-insensitive (`sig_number`).
pub fn number(name: &str) -> Option<i32> {
    TABLE
        .iter()
        .find(|&&(_, s)| s.eq_ignore_ascii_case(name))
        .map(|&(n, _)| n)
}

/// A signal as s6 reads one (`sig0_scan`): a name from the table or an unsigned decimal number
/// (the whole text, at most 2^32 − 1), either of them optionally after a case-insensitive
/// `SIG`. The number is not range-checked: as in C, it is converted to an `int` (so numbers
/// above 2^31 − 1 wrap negative) and it is the caller's business to reject what it must.
pub fn parse(text: &str) -> Option<i32> {
    parse_bare(text).or_else(|| {
        let prefix = text.get(..3)?;
        if prefix.eq_ignore_ascii_case("SIG") {
            parse_bare(&text[3..])
        } else {
            None
        }
    })
}

fn parse_bare(text: &str) -> Option<i32> {
    number(text).or_else(|| {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // skalibs' uint0_scan: unsigned, decimal, no sign, overflow is an error.
        text.parse::<u32>().ok().map(|u| u as i32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_shared_by_several_names_get_the_first_name() {
        assert_eq!(name(6), Some("ABRT"));
        assert_eq!(name(17), Some("CHLD"));
        assert_eq!(name(29), Some("POLL"));
        assert_eq!(name(15), Some("TERM"));
        assert_eq!(name(16), Some("STKFLT"));
        assert_eq!(name(30), Some("PWR"));
        assert_eq!(name(0), None);
        assert_eq!(name(34), None);
    }

    #[test]
    fn parse_takes_names_in_any_case_with_or_without_sig_and_numbers() {
        assert_eq!(parse("TERM"), Some(15));
        assert_eq!(parse("term"), Some(15));
        assert_eq!(parse("SigTerm"), Some(15));
        assert_eq!(parse("iot"), Some(6));
        assert_eq!(parse("cld"), Some(17));
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("SIG9"), Some(9));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("99999"), Some(99999));
        assert_eq!(parse("4294967295"), Some(-1));
    }

    #[test]
    fn parse_rejects_partial_signed_overflowing_and_doubled_prefixes() {
        for bad in [
            "",
            "SIG",
            "TERMx",
            "15x",
            "+15",
            "-15",
            " 15",
            "4294967296",
            "SIGSIGTERM",
            "S",
            "RTMIN",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_name_parses_back_to_its_number() {
        for &(n, s) in TABLE {
            assert_eq!(parse(s), Some(n));
            assert_eq!(parse(&format!("SIG{s}")), Some(n));
        }
    }
}
