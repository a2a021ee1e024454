//! `svstat` against C `s6-svstat` (SUPERVISE.md, "svstat"): the same states, the same
//! arguments, the same output, byte for byte, except where the spec says **fix**; and the
//! forms for several services (`--multi`, `--scan`, `--json`), which C does not have.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use common::status::Status;
use common::tai::Tai64n;
use integration_tests::scenario;
use integration_tests::suite::Scenario;
use integration_tests::{Fixture, binary};

use crate::support::{
    NOTIFIER, SLEEPER, Supervised, c_programs, c_svc, hold_supervise_lock, run, same_as_c,
    supervisors,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(every_state_of_a_real_supervisor_prints_as_c_prints_it).slow(),
    scenario!(a_service_that_exited_or_notified_readiness_prints_as_c_prints_it),
    scenario!(hand_made_status_files_print_as_c_prints_them),
    scenario!(a_stamp_in_the_future_is_taken_as_now),
    scenario!(a_readystamp_in_the_future_is_zero_seconds_ago_where_c_wraps_around),
    scenario!(field_names_are_exact_where_c_takes_prefixes),
    scenario!(usage_errors_are_cs),
    scenario!(unsupervised_missing_and_broken_directories_exit_as_c),
    scenario!(status_and_down_file_errors_are_cs),
    scenario!(multi_reports_every_operand_with_its_name_first),
    scenario!(scan_reports_each_service_and_logger_of_a_scan_dir_by_name_in_order),
    scenario!(json_prints_one_object_per_service_with_typed_values),
    scenario!(a_failed_write_to_stdout_is_fatal_111_as_in_c),
    scenario!(multi_and_scan_exit_with_the_worst_code_111_and_report_the_rest),
    scenario!(json_goes_with_scan_and_is_the_same_with_n),
];

const ALL_FIELDS: &str = "up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor";

/// The argument sets every state is shown with.
const ARGSETS: &[&[&str]] = &[
    &[],
    &["-n"],
    &["-o", ALL_FIELDS],
    &["-uwNrpest"],
    &["-o", "pid,up", "-n", "-e"],
];

/// Compares ours with every C svstat on `dir` with every argument set.
fn all_argsets_same_as_c(dir: &Path, state: &str) {
    for (origin, c) in c_programs("s6-svstat") {
        for args in ARGSETS {
            let mut argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            argv.push(dir.as_os_str());
            let out = same_as_c("svstat", &c, &argv, &format!("{state}, against {origin:?}"));
            assert_eq!(out.code, Some(0), "{state}: {out:?}");
        }
    }
}

fn every_state_of_a_real_supervisor_prints_as_c_prints_it() {
    for sup in supervisors() {
        let fx = Fixture::new();
        fx.script("svc/run", SLEEPER);
        // finish lasts until killed, so that "finishing" can be looked at.
        fx.write("svc/timeout-finish", "0\n");
        let dir = fx.path("svc");
        let sv = Supervised::start(&sup, &dir);
        let state = |what: &str| format!("{what} ({})", sup.name);

        let up = sv.wait_status("up", Status::is_up);
        all_argsets_same_as_c(&dir, &state("up"));

        c_svc(&["-p"], &dir);
        sv.wait_status("paused", |s| s.paused);
        all_argsets_same_as_c(&dir, &state("up and paused"));
        c_svc(&["-c"], &dir);

        c_svc(&["-O"], &dir);
        sv.wait_status("want down", |s| !s.wantup && !s.paused && s.pid == up.pid);
        all_argsets_same_as_c(&dir, &state("up, wanted down"));

        c_svc(&["-d"], &dir);
        sv.wait_status("down", |s| s.pid == 0 && s.ready);
        all_argsets_same_as_c(&dir, &state("down after SIGTERM"));

        fx.write("svc/down", "");
        all_argsets_same_as_c(&dir, &state("down, normally down"));
        c_svc(&["-u"], &dir);
        sv.wait_status("up again", Status::is_up);
        all_argsets_same_as_c(&dir, &state("up, normally down"));
        fx.remove("svc/down");

        fx.script("svc/finish", SLEEPER);
        c_svc(&["-k"], &dir);
        sv.wait_status("finishing", |s| s.finishing);
        all_argsets_same_as_c(&dir, &state("finishing after SIGKILL"));
    }
}

fn a_service_that_exited_or_notified_readiness_prints_as_c_prints_it() {
    for sup in supervisors() {
        let fx = Fixture::new();
        fx.script("exits/run", "#!/bin/sh\nexit 3\n");
        fx.write("exits/down", "");
        fx.script("ready/run", NOTIFIER);
        fx.write("ready/notification-fd", "3\n");
        let exits = Supervised::start(&sup, &fx.path("exits"));
        let ready = Supervised::start(&sup, &fx.path("ready"));
        // Never started: the status of a supervisor that found a down file.
        exits.wait_status("started down", |s| s.pid == 0 && !s.wantup);
        all_argsets_same_as_c(&fx.path("exits"), &format!("never started ({})", sup.name));
        c_svc(&["-o"], &fx.path("exits"));
        exits.wait_status("exited 3", |s| s.pid == 0 && s.ready && s.wstat == 3 << 8);
        all_argsets_same_as_c(&fx.path("exits"), &format!("exited 3 ({})", sup.name));
        ready.wait_status("up and ready", |s| s.is_up() && s.ready);
        all_argsets_same_as_c(&fx.path("ready"), &format!("up and ready ({})", sup.name));
    }
}

/// A service directory whose status file the test writes, with the lock held by the test so
/// that the clients take it for supervised.
struct HandMade {
    fx: Fixture,
    _lock: std::os::fd::OwnedFd,
}

impl HandMade {
    fn new() -> HandMade {
        let fx = Fixture::new();
        fx.mkdir("svc");
        let lock = hold_supervise_lock(&fx.path("svc"));
        HandMade { fx, _lock: lock }
    }

    fn dir(&self) -> std::path::PathBuf {
        self.fx.path("svc")
    }
}

fn ago(now: Tai64n, secs: u64) -> Tai64n {
    Tai64n {
        secs: now.secs - secs,
        nanos: now.nanos,
    }
}

fn hand_made_status_files_print_as_c_prints_them() {
    let hm = HandMade::new();
    let now = Tai64n::now();
    let cases = [
        // Up, paused, ready, wanted down.
        Status {
            stamp: ago(now, 100),
            readystamp: ago(now, 50),
            pid: 12345,
            wstat: 0,
            paused: true,
            finishing: false,
            wantup: false,
            ready: true,
        },
        // Down, killed by a signal skalibs has no name for (SIG???), wanted up.
        Status {
            stamp: ago(now, 7),
            readystamp: ago(now, 7),
            pid: 0,
            wstat: 34,
            paused: false,
            finishing: false,
            wantup: true,
            ready: true,
        },
        // Down after a core dump (0x80 | SIGSEGV).
        Status {
            stamp: ago(now, 7),
            readystamp: ago(now, 3),
            pid: 0,
            wstat: 0x80 | 11,
            paused: true,
            finishing: false,
            wantup: false,
            ready: false,
        },
        // Finishing after exit 255: "down", and "ready" for -o since there is a pid.
        Status {
            stamp: ago(now, 2),
            readystamp: ago(now, 90),
            pid: 4242,
            wstat: 255 << 8,
            paused: false,
            finishing: true,
            wantup: true,
            ready: true,
        },
        // A stopped status (0x7f): neither exited nor killed.
        Status {
            stamp: ago(now, 1),
            readystamp: ago(now, 1),
            pid: 0,
            wstat: 0x137f,
            paused: false,
            finishing: false,
            wantup: true,
            ready: false,
        },
        // The zero status (a supervisor that never wrote one).
        Status::ZERO,
    ];
    for (i, status) in cases.iter().enumerate() {
        status.write(&hm.dir()).expect("write the status file");
        all_argsets_same_as_c(&hm.dir(), &format!("case {i}: {status:?}"));
        hm.fx.write("svc/down", "");
        all_argsets_same_as_c(&hm.dir(), &format!("case {i} with a down file"));
        hm.fx.remove("svc/down");
    }
}

fn a_stamp_in_the_future_is_taken_as_now() {
    let hm = HandMade::new();
    let now = Tai64n::now();
    let future = Tai64n {
        secs: now.secs + 1000,
        nanos: 0,
    };
    let status = Status {
        stamp: future,
        readystamp: ago(now, 4),
        pid: 77,
        ready: true,
        ..Status::ZERO
    };
    status.write(&hm.dir()).expect("write the status file");
    let d = hm.dir();
    for (origin, c) in c_programs("s6-svstat") {
        for args in [&[][..], &["-o", "up,updownfor,readyfor"][..]] {
            let mut argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
            argv.push(d.as_os_str());
            same_as_c("svstat", &c, &argv, &format!("{origin:?}"));
        }
    }
    // updownsince is the clamped stamp: now, not the file's.
    let out = run(Command::new(binary("svstat"))
        .args(["-o", "updownsince"])
        .arg(&d));
    let printed = out.stdout.trim().trim_start_matches('@');
    let future_hex = String::from_utf8_lossy(&future.hex()).into_owned();
    assert!(
        printed.len() == 24 && printed < future_hex.as_str(),
        "{out:?}"
    );
}

fn a_readystamp_in_the_future_is_zero_seconds_ago_where_c_wraps_around() {
    // **fix** (no upstream fix): C does not clamp the readystamp and prints about 1.8e19.
    let hm = HandMade::new();
    let now = Tai64n::now();
    let future = Tai64n {
        secs: now.secs + 1000,
        nanos: 0,
    };
    let status = Status {
        stamp: ago(now, 5),
        readystamp: future,
        pid: 9,
        ready: true,
        ..Status::ZERO
    };
    status.write(&hm.dir()).expect("write the status file");
    let ours = run(Command::new(binary("svstat"))
        .args(["-o", "readyfor"])
        .arg(hm.dir()));
    assert_eq!((ours.code, ours.stdout.as_str()), (Some(0), "0\n"));
    let line = run(Command::new(binary("svstat")).arg(hm.dir())).stdout;
    assert!(line.ends_with(", ready 0 seconds\n"), "{line:?}");
    for (origin, c) in c_programs("s6-svstat") {
        let theirs = run(Command::new(&c).args(["-o", "readyfor"]).arg(hm.dir()));
        let secs: u64 = theirs.stdout.trim().parse().expect("a number");
        assert!(secs > 1 << 63, "{origin:?}: {theirs:?}");
    }
}

fn field_names_are_exact_where_c_takes_prefixes() {
    // **fix** 15e3e40: C 2.12 (and 2.11) take `u` for `up`, `p` for `paused`.
    let hm = HandMade::new();
    Status {
        pid: 5,
        ..Status::ZERO
    }
    .write(&hm.dir())
    .expect("write the status file");
    for prefix in ["u", "p", "updown", "read"] {
        let ours = run(Command::new(binary("svstat"))
            .args(["-o", prefix])
            .arg(hm.dir()));
        assert_eq!(ours.code, Some(100));
        assert_eq!(
            ours.stderr,
            format!("svstat: fatal: invalid option field: {prefix}\n")
        );
        for (origin, c) in c_programs("s6-svstat") {
            let theirs = run(Command::new(&c).args(["-o", prefix]).arg(hm.dir()));
            assert_eq!(
                theirs.code,
                Some(0),
                "{origin:?} takes {prefix} as a prefix"
            );
        }
    }
}

fn usage_errors_are_cs() {
    let hm = HandMade::new();
    Status::ZERO
        .write(&hm.dir())
        .expect("write the status file");
    let dir = hm.dir();
    let d = dir.as_os_str();
    let seventeen: Vec<&OsStr> = std::iter::repeat_n(OsStr::new("-u"), 17)
        .chain([d])
        .collect();
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![],
        vec![OsStr::new("-u")],
        vec![OsStr::new("-x"), d],
        vec![OsStr::new("-o")],
        vec![OsStr::new("-o"), OsStr::new("bogus"), d],
        vec![OsStr::new("-o"), OsStr::new(",up"), d],
        vec![OsStr::new("-o"), OsStr::new("up,,pid"), d],
        vec![OsStr::new("-o"), OsStr::new("bogus"), OsStr::new("-Z"), d],
        seventeen,
        // A trailing comma is fine; an empty list leaves the summary.
        vec![OsStr::new("-o"), OsStr::new("up,"), d],
        vec![OsStr::new("-o"), OsStr::new(""), d],
        // Extra operands are ignored; options end at the first operand.
        vec![d, OsStr::new("-u"), OsStr::new("more")],
        vec![OsStr::new("--"), d],
    ];
    for args in cases {
        for (origin, c) in c_programs("s6-svstat") {
            same_as_c("svstat", &c, &args, &format!("{origin:?}"));
        }
    }
}

fn unsupervised_missing_and_broken_directories_exit_as_c() {
    let fx = Fixture::new();
    fx.mkdir("plain");
    fx.write("file", "");
    fx.mkdir("dead/supervise");
    Status {
        pid: 123,
        ..Status::ZERO
    }
    .write(&fx.path("dead"))
    .expect("stale status");
    fx.write("dead/supervise/lock", "");
    for (name, code) in [("plain", 1), ("missing", 1), ("dead", 1), ("file", 111)] {
        let dir = fx.path(name);
        for (origin, c) in c_programs("s6-svstat") {
            let out = same_as_c(
                "svstat",
                &c,
                &[dir.as_os_str()],
                &format!("{name}, {origin:?}"),
            );
            assert_eq!(out.code, Some(code), "{name}: {out:?}");
        }
    }
    let ours = run(Command::new(binary("svstat")).arg(fx.path("plain")));
    assert_eq!(
        ours.stderr,
        format!(
            "svstat: fatal: unable to read status for {}: s6-supervise not running\n",
            fx.path("plain").display()
        )
    );
}

fn status_and_down_file_errors_are_cs() {
    let hm = HandMade::new();
    let dir = hm.dir();
    // Locked, but no status file yet.
    for (_, c) in c_programs("s6-svstat") {
        let out = same_as_c("svstat", &c, &[dir.as_os_str()], "no status file");
        assert_eq!(out.code, Some(111));
    }
    // A short status file: Broken pipe.
    hm.fx.write("svc/supervise/status", [0u8; 20]);
    for (_, c) in c_programs("s6-svstat") {
        let out = same_as_c("svstat", &c, &[dir.as_os_str()], "short status file");
        assert!(out.stderr.ends_with("Broken pipe\n"), "{out:?}");
    }
    // A down file that cannot be checked: a symlink loop.
    Status::ZERO.write(&dir).expect("write the status file");
    hm.fx.symlink("down", "svc/down");
    for (_, c) in c_programs("s6-svstat") {
        let out = same_as_c("svstat", &c, &[dir.as_os_str()], "down is a loop");
        assert_eq!(out.code, Some(111));
        assert!(
            out.stderr.starts_with("fatal: unable to access "),
            "{out:?}"
        );
    }
}

// ------------------------------------------------------------------ beyond s6

/// What C s6-svstat prints for `dir` with `args`, to build the expected multi-service lines.
fn c_line(args: &[&str], dir: &Path) -> Option<String> {
    let (_, c) = c_programs("s6-svstat").pop()?;
    let out = run(Command::new(c).args(args).arg(dir));
    Some(out.stdout.trim_end().to_owned())
}

fn multi_reports_every_operand_with_its_name_first() {
    let hm = HandMade::new();
    let now = Tai64n::now();
    Status {
        stamp: ago(now, 1000),
        readystamp: ago(now, 1000),
        pid: 7,
        ..Status::ZERO
    }
    .write(&hm.dir())
    .expect("status");
    hm.fx.mkdir("other");
    let (a, b) = (hm.dir(), hm.fx.path("other"));
    let out = run(Command::new(binary("svstat"))
        .args(["--multi", "-o", "up,pid"])
        .arg(&a)
        .arg(&b)
        .arg(&a));
    let Some(expected) = c_line(&["-o", "up,pid"], &a) else {
        return;
    };
    assert_eq!(
        out.stdout,
        format!("{0}: {expected}\n{0}: {expected}\n", a.display())
    );
    // The unsupervised one: a warning with s6's text, and exit 1 at the end.
    assert_eq!(
        out.stderr,
        format!(
            "svstat: warning: unable to read status for {}: s6-supervise not running\n",
            b.display()
        )
    );
    assert_eq!(out.code, Some(1));
    let out = run(Command::new(binary("svstat")).arg("--multi").arg(&a));
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout
            .starts_with(&format!("{}: up (pid 7) ", a.display())),
        "{out:?}"
    );
}

fn scan_reports_each_service_and_logger_of_a_scan_dir_by_name_in_order() {
    for sup in supervisors().into_iter().take(1) {
        let fx = Fixture::new();
        fx.script("b/run", SLEEPER);
        fx.script("b/log/run", SLEEPER);
        fx.script("a/run", SLEEPER);
        fx.mkdir("c"); // not supervised
        fx.mkdir(".hidden");
        fx.write("notadir", "");
        let scan = fx.scandir();
        let guards: Vec<Supervised> = ["a", "b", "b/log"]
            .iter()
            .map(|n| Supervised::start(&sup, &fx.path(n)))
            .collect();
        for g in &guards {
            g.wait_status("up", Status::is_up);
        }
        let out = run(Command::new(binary("svstat"))
            .args(["--scan", "-o", "up,pid"])
            .arg(scan));
        let mut expected = String::new();
        for n in ["a", "b", "b/log"] {
            let Some(line) = c_line(&["-o", "up,pid"], &fx.path(n)) else {
                return;
            };
            expected.push_str(&format!("{n}: {line}\n"));
        }
        assert_eq!(out.stdout, expected);
        assert_eq!(
            out.stderr,
            format!(
                "svstat: warning: unable to read status for {}: s6-supervise not running\n",
                fx.path("c").display()
            )
        );
        assert_eq!(out.code, Some(1));
        let missing = run(Command::new(binary("svstat"))
            .arg("--scan")
            .arg(fx.path("nope")));
        assert_eq!(
            (missing.code, missing.stderr),
            (
                Some(111),
                format!(
                    "svstat: fatal: unable to opendir {}: No such file or directory\n",
                    fx.path("nope").display()
                )
            )
        );
    }
}

fn json_prints_one_object_per_service_with_typed_values() {
    let hm = HandMade::new();
    let now = Tai64n::now();
    let status = Status {
        stamp: ago(now, 1000),
        readystamp: ago(now, 1000),
        pid: 0,
        wstat: 15,
        wantup: true,
        ready: true,
        ..Status::ZERO
    };
    status.write(&hm.dir()).expect("status");
    let hex = String::from_utf8_lossy(&status.stamp.hex()).into_owned();
    let out = run(Command::new(binary("svstat"))
        .args(["--json", "-o", "up,pid,signal,signum,exitcode,updownsince"])
        .arg(hm.dir()));
    let name = hm.dir().display().to_string();
    assert_eq!(
        out.stdout,
        format!(
            "{{\"name\":\"{name}\",\"up\":false,\"pid\":-1,\"signal\":\"SIGTERM\",\"signum\":15,\"exitcode\":-1,\"updownsince\":\"@{hex}\"}}\n"
        )
    );
    let all = run(Command::new(binary("svstat"))
        .args(["--json", "--multi"])
        .arg(hm.dir())
        .arg(hm.dir()));
    let lines: Vec<&str> = all.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    let parsed = integration_tests::json::parse(lines[0]).expect("valid JSON");
    let keys: Vec<&str> = parsed.members().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "name",
            "up",
            "wantedup",
            "normallyup",
            "ready",
            "paused",
            "pid",
            "exitcode",
            "signal",
            "signum",
            "updownsince",
            "readysince",
            "updownfor",
            "readyfor"
        ]
    );
    let secs = parsed
        .get("updownfor")
        .and_then(integration_tests::json::Json::as_int)
        .expect("a number");
    assert!((1000..1010).contains(&secs), "{secs}");
}

/// A directory of hand-made services under `fx`: `NAME/supervise/status` saying up with
/// `pid` (killed by SIGTERM and down when `pid` is 0), its lock held by the returned fd.
fn hand_made(fx: &Fixture, name: &str, pid: u64) -> std::os::fd::OwnedFd {
    let now = Tai64n::now();
    let lock = hold_supervise_lock(&fx.path(name));
    Status {
        stamp: ago(now, 1000),
        readystamp: ago(now, 1000),
        pid,
        wstat: if pid == 0 { 15 } else { 0 },
        ..Status::ZERO
    }
    .write(&fx.path(name))
    .expect("status");
    lock
}

/// man/svstat.1: "With `--multi` or `--scan`, a service that cannot be reported gets s6's
/// message as a warning on standard error instead of a line, and the exit status is the worst
/// seen"; SUPERVISE.md, "svstat": not locked: "**exit 1** `unable to read status for DIR:
/// s6-supervise not running`", no status file: "fatal 111 `unable to read status for DIR:
/// ERR`". A 111 wins over a 1 wherever it comes, and the others are still reported.
fn multi_and_scan_exit_with_the_worst_code_111_and_report_the_rest() {
    let fx = Fixture::new();
    let _a = hand_made(&fx, "a", 7);
    fx.mkdir("b"); // not supervised: 1
    let _c = hold_supervise_lock(&fx.path("c")); // locked, no status file: 111
    let scan = fx.scandir();
    let [a, b, c] = ["a", "b", "c"].map(|n| fx.path(n));
    let not_running = format!(
        "svstat: warning: unable to read status for {}: s6-supervise not running\n",
        b.display()
    );
    let no_status = format!(
        "svstat: warning: unable to read status for {}: No such file or directory\n",
        c.display()
    );
    for order in [[&a, &b, &c], [&c, &b, &a], [&b, &c, &a]] {
        let out = run(Command::new(binary("svstat"))
            .args(["--multi", "-o", "up,pid"])
            .args(order));
        assert_eq!(out.code, Some(111), "{order:?}: {out:?}");
        assert_eq!(
            out.stdout,
            format!("{}: true 7\n", a.display()),
            "{order:?}"
        );
        let mut warnings: Vec<&str> = out.stderr.split_inclusive('\n').collect();
        warnings.sort_unstable();
        assert_eq!(
            warnings,
            [not_running.as_str(), no_status.as_str()],
            "{order:?}"
        );
    }
    let out = run(Command::new(binary("svstat"))
        .args(["--scan", "-o", "up,pid"])
        .arg(scan));
    assert_eq!(
        (out.code, out.stdout, out.stderr),
        (
            Some(111),
            "a: true 7\n".to_owned(),
            format!("{not_running}{no_status}")
        )
    );
}

/// man/svstat.1: "`--json`: One JSON object per service and line: `"name"` first, then the
/// `-o` fields asked for (all 13 without `-o`)"; with `--scan` the name is "NAME" (NAME/log
/// for a logger), as in its lines; `-n` is "Signal numbers instead of names in the
/// summary": JSON has no summary, so it changes nothing there (`signal` stays a name,
/// `signum` is the number).
fn json_goes_with_scan_and_is_the_same_with_n() {
    let fx = Fixture::new();
    let _a = hand_made(&fx, "a", 7);
    let _b = hand_made(&fx, "b", 0);
    let _log = hand_made(&fx, "b/log", 9);
    let scan = fx.scandir();
    let out = run(Command::new(binary("svstat"))
        .args(["--scan", "--json", "-o", "up,pid,signal,signum"])
        .arg(scan));
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            Some(0),
            "{\"name\":\"a\",\"up\":true,\"pid\":7,\"signal\":null,\"signum\":-1}\n\
             {\"name\":\"b\",\"up\":false,\"pid\":-1,\"signal\":\"SIGTERM\",\"signum\":15}\n\
             {\"name\":\"b/log\",\"up\":true,\"pid\":9,\"signal\":null,\"signum\":-1}\n",
            ""
        )
    );
    let b = fx.path("b");
    for fields in [&["-o", "up,signal,signum"][..], &[]] {
        let plain = run(Command::new(binary("svstat"))
            .arg("--json")
            .args(fields)
            .arg(&b));
        let numeric = run(Command::new(binary("svstat"))
            .args(["--json", "-n"])
            .args(fields)
            .arg(&b));
        assert_eq!(plain.code, Some(0), "{plain:?}");
        assert_eq!(plain, numeric, "{fields:?}");
        let parsed = integration_tests::json::parse(plain.stdout.trim_end()).expect("JSON");
        assert_eq!(
            parsed
                .get("signal")
                .and_then(integration_tests::json::Json::as_str),
            Some("SIGTERM"),
            "{plain:?}"
        );
        // One operand alone, without --multi: its name as given.
        assert_eq!(
            parsed
                .get("name")
                .and_then(integration_tests::json::Json::as_str),
            Some(b.to_str().expect("UTF-8 path")),
        );
        let keys = parsed.members().len();
        assert_eq!(keys, if fields.is_empty() { 14 } else { 4 }, "{plain:?}");
    }
}

fn a_failed_write_to_stdout_is_fatal_111_as_in_c() {
    let hm = HandMade::new();
    Status {
        pid: 3,
        ..Status::ZERO
    }
    .write(&hm.dir())
    .expect("status");
    // The shell puts stdout on /dev/full, then execs the client.
    let full = |prog: &Path| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exec \"$0\" \"$1\" >/dev/full"])
            .arg(prog)
            .arg(hm.dir());
        let out = run(&mut cmd);
        (out.code, crate::support::without_prog(&out.stderr))
    };
    let ours = full(&binary("svstat"));
    assert_eq!(
        ours,
        (
            Some(111),
            "fatal: unable to write to stdout: No space left on device\n".to_owned()
        )
    );
    for (origin, c) in c_programs("s6-svstat") {
        assert_eq!(full(&c), ours, "{origin:?}");
    }
}
