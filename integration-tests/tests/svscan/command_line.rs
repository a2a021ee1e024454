//! "svscan command line": the usage line and exit 100 for a malformed one, the checks of
//! `-d` and `-X`, the chdir to `dir`, and what the options do: `-C`, `-c` and `-L` with their
//! clamping, `-t`'s periodic scans.

use std::process::Command;

use integration_tests::program::{Ran, run};
use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, LATE_SLACK, Outcome, implementation, note, now_mono_ns,
    ours_only, scenario, under_test,
};

use crate::shared::{assert_only_names_up_to_eleven_bytes_start, secs, supervisors, warnings};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(malformed_options_print_the_usage_line_and_exit_100),
    scenario!(notification_and_console_fds_below_3_are_refused_including_0),
    scenario!(closed_notification_and_console_fds_are_refused),
    scenario!(a_missing_scan_directory_is_a_chdir_failure),
    scenario!(name_max_below_eleven_is_eleven),
    scenario!(service_beyond_big_c_is_refused_and_a_retries_at_once),
    scenario!(big_c_below_four_is_four),
    scenario!(little_c_two_allows_four_entries),
    scenario!(t_option_scans_periodically_and_without_it_only_on_request),
];

const USAGE: &str = "svscan: usage: svscan [ -c services_max | -C services_max ] [ -L name_max ] [ -t timeout ] [ -d notif ] [ -X consoleholder ] [ --supervise prog ] [ --watch ] [ dir ]\n";

/// The svscan under test run with `args` in an empty directory, with no PATH to find a
/// supervise program in: how it ended.
fn svscan_with(args: &[&str]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    run(
        Command::new(&under_test().path)
            .current_dir(dir.path())
            .args(args)
            .env("PATH", "/nonexistent"),
        DEADLINE,
    )
}

/// Asserts that svscan run with `args` exits `code` with the one diagnostic `PROG: message`.
fn fails_with(args: &[&str], code: i32, message: &str) {
    let prog = under_test().prog();
    assert_eq!(
        svscan_with(args),
        Ran::exited(code, format!("{prog}: {message}\n")),
        "{args:?}"
    );
}

/// "Values are unsigned decimal consumed whole (a sign or junk: usage error, exit 100)", and
/// C 2.12 "has no" long options (`--x` is a usage error): the usage line, exit 100.
fn malformed_options_print_the_usage_line_and_exit_100() {
    for args in [
        &["-x"][..],
        &["--x"],
        &["-t"],
        &["-t", "abc"],
        &["-t", "-1"],
        &["-C", "+5"],
        &["--help"],
        &["-V"],
    ] {
        let ran = svscan_with(args);
        match implementation() {
            Implementation::Ours => assert_eq!(ran, Ran::exited(100, USAGE), "{args:?}"),
            // C's usage line lists its own options (2.11: no -C, -L or long options).
            Implementation::C => {
                assert_eq!(ran.code, Some(100), "{args:?}: {ran:?}");
                assert!(
                    ran.stderr.starts_with("s6-svscan: usage: s6-svscan ")
                        && ran.stderr.lines().count() == 1,
                    "{args:?}: {ran:?}"
                );
            }
        }
    }
}

/// "`-d fd` ... fd ≥ 3, else fatal 100 `notification fd must be 3 or more`", the same for
/// `-X`, and "**fix**: `-d 0` / `-X 0` are rejected like other fds below 3".
fn notification_and_console_fds_below_3_are_refused_including_0() {
    // **fix**: C 2.12 took `-d 0` / `-X 0` as "not given".
    for fd in ["0", "1", "2"] {
        fails_with(&["-d", fd], 100, "fatal: notification fd must be 3 or more");
        fails_with(
            &["-X", fd],
            100,
            "fatal: console holder fd must be 3 or more",
        );
    }
}

/// "not open: fatal 100 `invalid notification fd: ERR`" (and `invalid console holder fd`).
fn closed_notification_and_console_fds_are_refused() {
    fails_with(
        &["-d", "97"],
        100,
        "fatal: invalid notification fd: Bad file descriptor",
    );
    fails_with(
        &["-X", "97"],
        100,
        "fatal: invalid console holder fd: Bad file descriptor",
    );
}

/// "`dir` | chdir there ... | chdir failure: fatal 111 `unable to chdir: ERR`".
fn a_missing_scan_directory_is_a_chdir_failure() {
    fails_with(
        &["/nonexistent/scandir"],
        111,
        "fatal: unable to chdir: No such file or directory",
    );
}

/// "`-L n` | longest name considered in the scan dir | default 251; clamped to 11..1019":
/// `-L 1` is `-L 11`.
fn name_max_below_eleven_is_eleven() -> Outcome {
    ours_only("`-L` is not in s6 2.11")?;
    assert_only_names_up_to_eleven_bytes_start(&["-L", "1"]);
    Ok(())
}

/// "`-C n` | at most n supervised entries": with `-C 4`, a fifth service is refused.
fn service_beyond_big_c_is_refused_and_a_retries_at_once() -> Outcome {
    ours_only("`-C` is not in s6 2.11")?;
    assert_fifth_service_is_refused(&["-C", "4"]);
    Ok(())
}

/// "`-C n` ... below 4 → 4": `-C 1` allows four entries.
fn big_c_below_four_is_four() -> Outcome {
    ours_only("`-C` is not in s6 2.11")?;
    assert_fifth_service_is_refused(&["-C", "1"]);
    Ok(())
}

/// "`-c n` | old form: services_max = 2n": `-c 2` allows four entries, as `-C 4`.
fn little_c_two_allows_four_entries() -> Outcome {
    ours_only("s6 2.11's `-c` counts services, not entries")?;
    assert_fifth_service_is_refused(&["-c", "2"]);
    Ok(())
}

/// "`-t ms` | also scan every ms milliseconds; 0 = never (default)", and "A scan first sets
/// the next periodic scan": with `-t 300` new services are picked up within 300 ms, scan
/// after scan, without any command; a svscan without `-t` beside it has picked up neither
/// until it gets `a`.
fn t_option_scans_periodically_and_without_it_only_on_request() {
    let (fx_t, fx_plain) = (Fixture::new(), Fixture::new());
    fx_t.service("initial");
    fx_plain.service("initial");
    let mut periodic = fx_t.svscan().args(["-t", "300"]).start();
    let mut plain = fx_plain.start();
    // The readiness newline comes before the first scan: wait for that scan's start pass.
    for sv in [&mut periodic, &mut plain] {
        sv.wait_for("the first scan", DEADLINE, |e| {
            e.pid_of("initial").is_some()
        });
    }
    for name in ["first", "second"] {
        let created = now_mono_ns();
        fx_t.service(name);
        fx_plain.service(name);
        let start = periodic
            .wait_for(
                &format!("{name} picked up by the periodic scan"),
                DEADLINE,
                |e| e.pid_of(name).is_some(),
            )
            .last_start(name)
            .unwrap()
            .mono_ns;
        let delay = secs(start - created);
        note!("{name} started {delay:.3} s after it was created (-t 300)");
        assert!(
            delay <= 0.3 + LATE_SLACK,
            "{name} started {delay:.3} s after it was created, with -t 300"
        );
    }
    assert_eq!(
        supervisors(&plain),
        ["initial"],
        "no -t: no scan on its own"
    );
    assert_eq!(plain.events().len(), 1);
    plain.ctl("a");
    plain.wait_for("both picked up on request", DEADLINE, |e| {
        e.pid_of("first").is_some() && e.pid_of("second").is_some()
    });
}

/// Starts four services under `args` (four entries: the limit), then adds a fifth: "a new
/// one: takes a slot (none left: warning `unable to start supervisor for NAME: too many
/// services`, the scan is abandoned, retry in 60 s)". `a` retries at once, with the same
/// result; the four keep running.
fn assert_fifth_service_is_refused(args: &[&str]) {
    let fx = Fixture::new();
    for name in ["s1", "s2", "s3", "s4"] {
        fx.service(name);
    }
    let mut sv = fx.svscan().args(args).start();
    sv.wait_for("four services started", DEADLINE, |e| {
        ["s1", "s2", "s3", "s4"]
            .iter()
            .all(|n| e.pid_of(n).is_some())
    });
    fx.service("s5");
    let warning = "unable to start supervisor for s5: too many services";
    sv.ctl("a");
    sv.wait_until("the too-many warning", DEADLINE, |sv| {
        warnings(sv, warning) == 1
    });
    sv.ctl("a");
    sv.wait_until("the warning again at once", DEADLINE, |sv| {
        warnings(sv, warning) == 2
    });
    assert_eq!(supervisors(&sv), ["s1", "s2", "s3", "s4"]);
    let events = sv.events();
    assert_eq!(events.starts("s5").len(), 0);
    for name in ["s1", "s2", "s3", "s4"] {
        assert_eq!(events.starts(name).len(), 1, "{name}");
        assert_eq!(events.signals_to(name), Vec::<&str>::new(), "{name}");
    }
}
