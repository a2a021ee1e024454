//! SUPERVISE.md, "Files in the service directory read by supervise": "uint" files and
//! `down-signal`, with their warnings and defaults.

use integration_tests::scenario;
use integration_tests::service::{
    Observed, ServiceDir, Supervisor, Tai64n, alive, each_supervisor, tai_secs_between,
};
use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, assert_delay};

use crate::{OnTerm, sigs, trapping_run, wait_sig, wait_trapping};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(uint_files_are_one_line_of_digits_and_anything_else_is_the_default),
    scenario!(down_signal_names_or_numbers_the_signal_and_anything_else_is_sigterm),
    scenario!(timeout_kill_zero_never_kills),
    scenario!(timeout_finish_absent_or_invalid_is_five_seconds).slow(),
    scenario!(timeout_finish_zero_lets_finish_run_past_five_seconds).slow(),
    scenario!(max_death_tally_above_4096_keeps_4096),
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

/// `timeout-kill`: "0 or absent: never SIGKILL" (up_d: "if timeout-kill t > 0: deadline =
/// now + t and \"dying\", else deadline = infinite"): a service that ignores the down signal
/// is still alive, and still up, a second after it, when it says so itself.
fn timeout_kill_zero_never_kills() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run(
            "trap 'echo TERM >> sigs; sleep 1; echo survived >> sigs' TERM\n\
             echo $$ > pid\n\
             while :; do sleep 1000 & wait $!; done",
        )
        .write("timeout-kill", "0\n");
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        sv.ctl("d");
        sv.wait_status("wantdown from the stop", |s| !s.wantup);
        wait_sig(&mut sv, "sigs", "survived");
        let st = sv.status();
        assert!(st.up() && st.pid() == pid && alive(pid), "{st:?}");
        assert_eq!(sigs(&dir, "sigs"), ["TERM", "survived"]);
        assert_eq!(sv.stderr(), "");
    });
}

/// `timeout-finish`: "absent/invalid: 5000" (an invalid one with the warning `invalid
/// timeout-finish`): a hanging finish is killed 5 s after it was spawned, measured on the
/// status file's own stamps (`stamp` at run's death, `readystamp` at finish's). Both cases
/// run side by side.
fn timeout_finish_absent_or_invalid_is_five_seconds() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let cases = [None, Some("5 s")];
        let dirs = cases.map(|content| {
            let dir = ServiceDir::new();
            dir.run("exit 3")
                .finish("exec sleep 1000")
                .write("down", "");
            if let Some(c) = content {
                dir.write("timeout-finish", c);
            }
            dir
        });
        let mut svs: Vec<_> = dirs.iter().map(|d| d.start(sup)).collect();
        for sv in &svs {
            sv.ctl("o");
        }
        for (sv, content) in svs.iter_mut().zip(cases) {
            let st = sv.wait_status("finish killed", |s| {
                s.pid == 0 && !s.finishing && s.wstat == 0x300
            });
            assert_delay(
                &format!("{sup:?} {content:?}: finish killed"),
                tai_secs_between(st.stamp, st.readystamp),
                5.0,
            );
            let invalid = if content.is_some() {
                "s6-supervise svc: warning: invalid timeout-finish\n"
            } else {
                ""
            };
            assert_eq!(
                sv.stderr(),
                format!(
                    "{invalid}s6-supervise svc: warning: finish script lifetime reached maximum value - sending it a SIGKILL\n"
                )
            );
        }
    });
}

/// `timeout-finish`: "0: no limit" (supervise.c:456-459): finish is still finish, unkilled,
/// when it says that 6 s have passed (past the default's 5 s), and goes on until it ends.
fn timeout_finish_zero_lets_finish_run_past_five_seconds() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 3")
            .finish("sleep 6\necho > slept\nwhile [ ! -e release ]; do sleep 0.05; done")
            .write("down", "")
            .write("timeout-finish", "0");
        let mut sv = dir.start(sup);
        sv.ctl("o");
        let finish = sv.wait_status("finishing", |s| s.finishing).pid();
        sv.wait_until("finish's 6 s", DEADLINE, |sv| sv.dir.has_line("slept"));
        let st = sv.status();
        assert!(st.finishing && st.pid() == finish, "{st:?}");
        assert!(tai_secs_between(st.stamp, Tai64n::now()) >= 6.0);
        dir.write("release", "");
        let st = sv.wait_status("down after finish", |s| s.pid == 0);
        assert!(!st.finishing && st.wstat == 0x300, "{st:?}");
        assert_eq!(sv.stderr(), "", "no kill warning");
    });
}

/// `max-death-tally`: "above 4096: 4096" (supervise.c:429-430): with 5000 asked and 4096
/// records already there, a death keeps 4096, the oldest dropped.
fn max_death_tally_above_4096_keeps_4096() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 7")
            .write("down", "")
            .write("max-death-tally", "5000");
        let mut sv = dir.start(sup);
        // After the start-up's truncation: 4096 records, each numbered in its exit code byte.
        let old: Vec<u8> = (0..4096u32)
            .flat_map(|i| {
                let mut rec = [0u8; 14];
                rec[..12].copy_from_slice(&Tai64n::now().pack());
                rec[12] = (i % 256) as u8;
                rec
            })
            .collect();
        dir.write("supervise/death_tally", &old);
        sv.ctl("o");
        sv.wait_status("dead", |s| s.wstat == 0x700 && s.pid == 0);
        let tally = std::fs::read(dir.path("supervise/death_tally")).unwrap();
        assert_eq!(tally.len(), 4096 * 14, "{sup:?}");
        assert_eq!(tally[..4095 * 14], old[14..], "the oldest dropped");
        assert_eq!(tally[4095 * 14 + 12..], [7, 0]);
        assert_eq!(sv.stderr(), "");
    });
}
