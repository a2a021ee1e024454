//! SUPERVISE.md, "Files in the service directory read by supervise": "uint" files and
//! `down-signal`, with their warnings and defaults.

use integration_tests::DEADLINE;
use integration_tests::scenario;
use integration_tests::service::{Observed, ServiceDir, Supervisor, each_supervisor};
use integration_tests::suite::Scenario;

use crate::{OnTerm, sigs, trapping_run, wait_sig, wait_trapping};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(uint_files_are_one_line_of_digits_and_anything_else_is_the_default),
    scenario!(down_signal_names_or_numbers_the_signal_and_anything_else_is_sigterm),
];

/// "\"uint\" = read at most 11 bytes, cut at the first `\\n`, then the whole remainder must be
/// an unsigned 32-bit decimal"; "Unreadable (any open/read error but ENOENT, e.g. a
/// directory): warning `unable to open FILE: ERR`, then the default. Readable but not a
/// valid number: warning `invalid FILE`, then the default."
fn uint_files_are_one_line_of_digits_and_anything_else_is_the_default() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for (content, warning) in [
            (Some("3\ntrailing junk"), None),
            (Some(" 3"), Some("invalid notification-fd")),
            (Some("3x"), Some("invalid notification-fd")),
            (Some("-3"), Some("invalid notification-fd")),
            (Some(""), Some("invalid notification-fd")),
            (Some("99999999999"), Some("invalid notification-fd")),
            (None, Some("unable to open notification-fd: Is a directory")),
        ] {
            let dir = ServiceDir::new();
            dir.run("echo 2>/dev/null >&3\nexec sleep 1000");
            match content {
                Some(c) => {
                    dir.write("notification-fd", c);
                }
                None => std::fs::create_dir(dir.path("notification-fd")).unwrap(),
            }
            let mut sv = dir.start(sup);
            if let Some(warning) = warning {
                let want = format!("s6-supervise svc: warning: {warning}\n");
                sv.wait_until("the warning", DEADLINE, |sv| sv.stderr() == want);
                // The default: no notification pipe, so fd 3 is not open in run (once it is
                // run: 2.11's forked child holds supervise's fds until its exec).
                let pid = sv.wait_up();
                sv.wait_until("run exec'd", DEADLINE, |_| crate::sleeping(pid));
                let fd3 = std::fs::read_link(format!("/proc/{pid}/fd/3"));
                assert!(fd3.is_err(), "{sup:?} {content:?}: fd 3 is {fd3:?}");
                assert!(!sv.status().ready);
            } else {
                sv.wait_status("ready through fd 3", |s| s.up() && s.ready);
                assert_eq!(sv.stderr(), "", "{content:?}");
            }
        }
    });
}

/// `down-signal`: "at most 15 bytes, cut at `\\n`: a signal name (case-insensitive, with or
/// without `SIG`, from skalibs' table) or a decimal number"; "not a signal: warning `invalid
/// down-signal`"; "unreadable: warning `unable to open down-signal: ERR`"; "both then
/// SIGTERM".
fn down_signal_names_or_numbers_the_signal_and_anything_else_is_sigterm() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for (content, sig, warning) in [
            (Some("HUP\n"), "HUP", None),
            (Some("sigusr1"), "USR1", None),
            (Some("SiGuSr2\nx"), "USR2", None),
            (Some("14"), "ALRM", None),
            (Some("SIG28"), "WINCH", None),
            (Some("NOTASIGNAL"), "TERM", Some("invalid down-signal")),
            (
                None,
                "TERM",
                Some("unable to open down-signal: Is a directory"),
            ),
        ] {
            let dir = ServiceDir::new();
            trapping_run(&dir, OnTerm::Ignore);
            match content {
                Some(c) => {
                    dir.write("down-signal", c);
                }
                None => std::fs::create_dir(dir.path("down-signal")).unwrap(),
            }
            let mut sv = dir.start(sup);
            wait_trapping(&mut sv);
            sv.ctl("r");
            wait_sig(&mut sv, "sigs", sig);
            assert_eq!(sigs(&dir, "sigs"), [sig], "{content:?}");
            let want = warning.map_or(String::new(), |w| {
                format!("s6-supervise svc: warning: {w}\n")
            });
            assert_eq!(sv.stderr(), want, "{content:?}");
        }
    });
}
