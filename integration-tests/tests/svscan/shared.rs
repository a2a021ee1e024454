//! What several sections' scenarios share: the scan directories they start from, the checks
//! of the killer's table that go with them, svscan's warnings and children as the scanner
//! scenarios read them, a console holder for `-X`, and the stub as a signal program.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use integration_tests::{
    DEADLINE, EARLY_SLACK, Events, Fixture, LATE_SLACK, StubControl, Svscan, binary, note,
    now_mono_ns, procfs,
};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::pipe2;

// ------------------------------------------------------------------ a logged pair and a single

/// Starts a logged `a` and an unlogged `b`, and waits until all three run and a's greeting
/// has reached its logger.
pub fn start_pair_and_single(fx: &Fixture) -> Svscan<'_> {
    fx.logged("a").service("b");
    let mut sv = fx.start();
    sv.wait_for(
        "a, a/log and b started, a's greeting logged",
        DEADLINE,
        |e| {
            e.pid_of("b").is_some()
                && e.pid_of("a").is_some_and(|pid| {
                    e.lines("a/log")
                        .contains(&Events::greeting("a", pid).as_str())
                })
        },
    );
    sv
}

/// Killer table: "`t`, `i`, SIGTERM, SIGINT | SIGTERM | SIGHUP | all", then the finish phase:
/// pipes closed, so the logger reads to EOF; "wait for all"; no finish script: exit 0.
pub fn assert_terms_services_hups_loggers_and_exits(sv: &mut Svscan<'_>) {
    let svscan = i64::from(sv.pid());
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_to("a"), ["SIGTERM"]);
    assert_eq!(events.signals_to("b"), ["SIGTERM"]);
    assert_eq!(events.signals_to("a/log"), ["SIGHUP"]);
    assert!(
        events
            .find("signal", "a/log")
            .all(|s| s.int("from") == Some(svscan))
    );
    let logger_exit = events
        .find("exit", "a/log")
        .next()
        .expect("a/log exited before svscan");
    assert_eq!(logger_exit.str("why"), Some("SIGHUP then EOF"));
    for name in ["a", "b", "a/log"] {
        assert!(
            events.running(name).is_empty(),
            "{name} still running when svscan exited"
        );
    }
}

/// Killer table: "`q`, SIGQUIT | SIGTERM | SIGTERM | all", then "wait for all" and exit 0: the
/// logger gets SIGTERM too and exits at once, and svscan exits only once all three are gone.
pub fn assert_terms_everything_and_exits(sv: &mut Svscan<'_>) {
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    for name in ["a", "b", "a/log"] {
        assert_eq!(events.signals_to(name), ["SIGTERM"], "{name}");
        assert!(
            events.running(name).is_empty(),
            "{name} still running when svscan exited"
        );
    }
    let logger_exit = events.find("exit", "a/log").next().unwrap();
    assert_eq!(logger_exit.str("why"), Some("SIGTERM"));
}

/// Exit: "`b`/SIGABRT leave it with 'wait for all' off (supervisors left as they are)":
/// svscan exits 0 at once, and every supervisor is still running, unsignalled.
pub fn assert_left_without_killing(sv: &mut Svscan<'_>) {
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events().clone();
    for name in ["a", "b", "a/log"] {
        let pid = events.pid_of(name).unwrap();
        assert!(
            procfs::is_alive(pid),
            "{name} is still running after svscan left"
        );
        assert!(events.signals_to(name).is_empty(), "{name} was signalled");
    }
    // The guard kills the supervisors that svscan left behind.
}

/// A logged `a` (slow to die: 2 s after its signal) and an unlogged `b`, all running.
pub fn start_with_slow_service(fx: &Fixture) -> Svscan<'_> {
    fx.control("a", StubControl::ExitDelay(Duration::from_secs(2)));
    start_pair_and_single(fx)
}

// ------------------------------------------------------------------ a pair to remove, and others

/// A logged `gone` that the test removes, a logged `kept` and an unlogged `single` that stay.
/// Waits until all five run and both greetings have reached their loggers.
pub fn start_gone_and_kept(fx: &Fixture) -> Svscan<'_> {
    fx.logged("gone").logged("kept").service("single");
    let mut sv = fx.start();
    sv.wait_for(
        "every supervisor started, greetings logged",
        DEADLINE,
        |e| {
            e.pid_of("single").is_some()
                && ["gone", "kept"].iter().all(|name| {
                    e.pid_of(name).is_some_and(|pid| {
                        e.lines(&format!("{name}/log"))
                            .contains(&Events::greeting(name, pid).as_str())
                    })
                })
        },
    );
    sv
}

/// Waits until `gone` and `gone/log` have exited, then checks the killer's row for them:
/// the service got `service_sig`, the logger `logger_sig`, once each, from svscan.
pub fn assert_gone_pair_killed(sv: &mut Svscan<'_>, service_sig: &str, logger_sig: &str) {
    let svscan = i64::from(sv.pid());
    let events = sv.wait_for("gone and gone/log exited", DEADLINE, |e| {
        e.find("exit", "gone").next().is_some() && e.find("exit", "gone/log").next().is_some()
    });
    assert_eq!(events.signals_to("gone"), [service_sig]);
    assert_eq!(events.signals_to("gone/log"), [logger_sig]);
    for name in ["gone", "gone/log"] {
        assert!(
            events
                .find("signal", name)
                .all(|s| s.int("from") == Some(svscan)),
            "{name} was signalled by svscan"
        );
    }
    if logger_sig == "SIGHUP" {
        // The logger drains: svscan closed both pipe ends when it forgot the dead service.
        let exit = events.find("exit", "gone/log").next().unwrap();
        assert_eq!(exit.str("why"), Some("SIGHUP then EOF"));
    }
}

/// Sends `t` as a barrier, then checks that the active supervisors were left alone by the
/// prune: each ran once and got nothing but `t`'s signal.
pub fn assert_active_untouched_then_exit(sv: &mut Svscan<'_>) {
    sv.ctl("t");
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    for (name, sig) in [
        ("kept", "SIGTERM"),
        ("kept/log", "SIGHUP"),
        ("single", "SIGTERM"),
    ] {
        assert_eq!(events.starts(name).len(), 1, "{name} was never restarted");
        assert_eq!(events.signals_to(name), [sig], "{name} got only t's signal");
    }
    assert_eq!(
        events.starts("gone").len(),
        1,
        "an inactive supervisor is not restarted"
    );
    assert_eq!(events.starts("gone/log").len(), 1);
}

// ------------------------------------------------------------------ signal programs, -X

/// The name the stub records when started as a signal program (no NAME argument).
pub const PROGRAM: &str = "";

/// `.s6-svscan/SIGNAME` as the stub.
pub fn install_program(fx: &Fixture, sig: Signal) {
    fx.mkdir(".s6-svscan");
    fx.symlink(
        binary("supervise-stub"),
        Path::new(".s6-svscan").join(sig.as_str()),
    );
}

/// The inode of the pipe `fd` belongs to.
pub fn pipe_ino(fd: impl AsFd) -> u64 {
    nix::sys::stat::fstat(fd).expect("fstat").st_ino
}

/// Starts svscan with `-X 4`, fd 4 the write end of a pipe: returns svscan, the read end
/// (kept open by the test) and the pipe's inode, to recognize the holder in the records.
pub fn start_with_console_holder(fx: &Fixture) -> (Svscan<'_>, OwnedFd, u64) {
    let (holder_r, holder_w) = pipe2(OFlag::O_CLOEXEC).unwrap();
    let ino = pipe_ino(&holder_r);
    let sv = fx.svscan().args(["-X", "4"]).fd(4, holder_w).start();
    (sv, holder_r, ino)
}

// ------------------------------------------------------------------ what the scanner did

/// How many warnings `text` svscan wrote (`PROG: warning: TEXT`, whatever PROG is).
pub fn warnings(sv: &Svscan<'_>, text: &str) -> usize {
    let needle = format!(": warning: {text}");
    sv.stderr().lines().filter(|l| l.ends_with(&needle)).count()
}

/// Every warning line svscan wrote.
pub fn warning_lines(sv: &Svscan<'_>) -> Vec<String> {
    sv.stderr()
        .lines()
        .filter_map(|l| Some(l.split_once(": warning: ")?.1.to_owned()))
        .collect()
}

/// Waits for the `n`-th warning `text`, and returns when it was written, as an interval of
/// CLOCK_MONOTONIC nanoseconds: after the start of the last look that did not find it (or
/// `since`, if the first look did) and before the end of the look that found it. Intervals
/// give timing checks that a slow test thread cannot fail: see [`assert_between`].
pub fn wait_warning(
    sv: &mut Svscan<'_>,
    text: &str,
    n: usize,
    since: i64,
    within: Duration,
) -> (i64, i64) {
    let (mut lo, mut hi) = (since, 0);
    sv.wait_until(&format!("warning #{n} `{text}`"), within, |sv| {
        let before = now_mono_ns();
        if warnings(sv, text) >= n {
            hi = now_mono_ns();
            true
        } else {
            lo = before;
            false
        }
    });
    (lo, hi)
}

/// Asserts that a delay known to lie in `[shortest, longest]` seconds (from the intervals of
/// [`wait_warning`] and record stamps) may be `expected` within [`assert_delay`]'s tolerance:
/// the longest possible delay is not too short, the shortest possible not too long.
pub fn assert_between(what: &str, shortest: f64, longest: f64, expected: f64) {
    note!("{what}: between {shortest:.3} s and {longest:.3} s (expected {expected:.3} s)");
    assert!(
        longest >= expected - EARLY_SLACK && shortest <= expected + LATE_SLACK,
        "{what}: between {shortest:.3} s and {longest:.3} s, expected {expected:.3} s \
         (-{EARLY_SLACK}, +{LATE_SLACK})"
    );
}

pub fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// The NAME argument of each child of svscan, alive or not yet reaped (a zombie has lost
/// its command line: `""`), sorted. Unlike the records, this also counts a supervisor that
/// was spawned but has not yet written its `start` record.
pub fn supervisors(sv: &Svscan<'_>) -> Vec<String> {
    let mut names: Vec<String> = procfs::children(sv.pid())
        .into_iter()
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            Some(String::from_utf8_lossy(argv.get(1).copied().unwrap_or_default()).into_owned())
        })
        .collect();
    names.sort();
    names
}

/// The pipes `pid` holds an end of: (inode, `r` or `w`), from `/proc/PID/fd` and the access
/// mode in `/proc/PID/fdinfo`.
pub fn pipe_ends(pid: i32) -> Vec<(u64, &'static str)> {
    procfs::fds(pid)
        .into_iter()
        .filter_map(|(fd, target)| {
            let target = target.to_str()?;
            let ino = target
                .strip_prefix("pipe:[")?
                .strip_suffix(']')?
                .parse()
                .ok()?;
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim();
            let mode = match u32::from_str_radix(flags, 8).ok()? & 3 {
                0 => "r",
                1 => "w",
                _ => "rw",
            };
            Some((ino, mode))
        })
        .collect()
}

/// A directory of the temp dir, outside the scan dir, for a symlink to point to or a
/// directory to be moved to.
pub fn outside(fx: &Fixture, name: &str) -> std::path::PathBuf {
    fx.tmp().join(name)
}

/// Starts svscan with `args` on `abcdefghijk` (11 bytes), `abcdefghijkl` (12 bytes) and `a`,
/// and checks that the 12-byte name alone is skipped, with "name too long - not spawning
/// service: NAME".
pub fn assert_only_names_up_to_eleven_bytes_start(args: &[&str]) {
    let fx = Fixture::new();
    fx.service("abcdefghijk")
        .service("abcdefghijkl")
        .service("a");
    let mut sv = fx.svscan().args(args).start();
    sv.wait_until("the name-too-long warning", DEADLINE, |sv| {
        warnings(sv, "name too long - not spawning service: abcdefghijkl") == 1
    });
    sv.wait_for("the others started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("abcdefghijk").is_some()
    });
    sv.rescan("marker");
    assert_eq!(supervisors(&sv), ["a", "abcdefghijk", "marker"]);
    assert_eq!(sv.events().starts("abcdefghijkl").len(), 0);
}
