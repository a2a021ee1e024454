//! The scanner's rules in depth ("The scanner" and "The starter" in SVSCAN.md): which names
//! are supervised, identity by (dev, inode) across renames, the `NAME/log` cases, the limits,
//! the retry timers of an abandoned scan, periodic scans, and the fixes to C's scanner and
//! starter. Each scenario quotes the rule it proves; where Debian's C s6-svscan 2.11 lacks an
//! option or keeps a bug that a **fix** rule corrects, the scenario says so and stops there.

use std::time::Duration;

use integration_tests::{
    DEADLINE, EARLY_SLACK, Fixture, Implementation, LATE_SLACK, StubControl, Svscan, assert_delay,
    implementation, now_mono_ns, procfs, signal_pid,
};
use nix::sys::signal::Signal;

// ------------------------------------------------------------------ helpers

/// Whether the svscan under test is ours; for the C one, says why the scenario stops.
fn ours_only(why: &str) -> bool {
    if implementation() == Implementation::C {
        eprintln!("skipped against the C s6-svscan: {why}");
        return false;
    }
    true
}

/// How many warnings `text` svscan wrote (`PROG: warning: TEXT`, whatever PROG is).
fn warnings(sv: &Svscan<'_>, text: &str) -> usize {
    let needle = format!(": warning: {text}");
    sv.stderr().lines().filter(|l| l.ends_with(&needle)).count()
}

/// Every warning line svscan wrote.
fn warning_lines(sv: &Svscan<'_>) -> Vec<String> {
    sv.stderr()
        .lines()
        .filter_map(|l| Some(l.split_once(": warning: ")?.1.to_owned()))
        .collect()
}

/// Waits for the `n`-th warning `text`, and returns when it was written, as an interval of
/// CLOCK_MONOTONIC nanoseconds: after the start of the last look that did not find it (or
/// `since`, if the first look did) and before the end of the look that found it. Intervals
/// give timing checks that a slow test thread cannot fail: see [`assert_between`].
fn wait_warning(
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
fn assert_between(what: &str, shortest: f64, longest: f64, expected: f64) {
    eprintln!("{what}: between {shortest:.3} s and {longest:.3} s (expected {expected:.3} s)");
    assert!(
        longest >= expected - EARLY_SLACK && shortest <= expected + LATE_SLACK,
        "{what}: between {shortest:.3} s and {longest:.3} s, expected {expected:.3} s \
         (-{EARLY_SLACK}, +{LATE_SLACK})"
    );
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// The NAME argument of each child of svscan, alive or not yet reaped (a zombie has lost
/// its command line: `""`), sorted. Unlike the records, this also counts a supervisor that
/// was spawned but has not yet written its `start` record.
fn supervisors(sv: &Svscan<'_>) -> Vec<String> {
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
fn pipe_ends(pid: i32) -> Vec<(u64, &'static str)> {
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

/// CPU time (user + system) that `pid` has used, in seconds. `/proc` counts it in USER_HZ,
/// which is 100 on Linux whatever the kernel's HZ.
fn cpu_secs(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    let (_, rest) = stat.rsplit_once(')').expect("stat has a command name");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("utime and stime are numbers"))
        .collect();
    (fields[0] + fields[1]) as f64 / 100.0
}

/// A directory of the temp dir, outside the scan dir, for a symlink to point to or a
/// directory to be moved to.
fn outside(fx: &Fixture, name: &str) -> std::path::PathBuf {
    fx.tmp().join(name)
}

// ------------------------------------------------------------------ which names

/// "`stat` (follows symlinks)" and "a new one: takes a slot ... and is due to start now",
/// with argv `["s6-supervise", NAME]`: a symlink in the scan dir to a directory elsewhere is
/// a service, supervised under the link's own name.
#[test]
fn symlink_to_a_directory_is_supervised_under_the_links_name() {
    let fx = Fixture::new();
    std::fs::create_dir(outside(&fx, "elsewhere")).unwrap();
    fx.symlink(outside(&fx, "elsewhere"), "linked");
    let mut sv = fx.start();
    let events = sv.wait_for("linked started", DEADLINE, |e| e.pid_of("linked").is_some());
    let start = events.last_start("linked").unwrap();
    assert_eq!(start.argv(), ["s6-supervise", "linked"]);
    assert_eq!(start.str("cwd"), Some(fx.scandir().to_str().unwrap()));
    assert_eq!(supervisors(&sv), ["linked"]);
}

/// "names beginning with `.` are skipped" and "not a directory: skipped": a dot-directory, a
/// plain file and a symlink to a file get no supervisor, and the service next to them does.
#[test]
fn dot_names_plain_files_and_symlinks_to_files_are_skipped() {
    let fx = Fixture::new();
    fx.service("a").service(".hidden").write("file", "x");
    std::fs::write(outside(&fx, "afile"), "x").unwrap();
    fx.symlink(outside(&fx, "afile"), "filelink");
    let mut sv = fx.start();
    sv.wait_for("a started", DEADLINE, |e| e.pid_of("a").is_some());
    sv.rescan("marker");
    assert_eq!(supervisors(&sv), ["a", "marker"]);
    let mut started: Vec<&str> = sv.events().iter().map(|e| e.name.as_str()).collect();
    started.sort_unstable();
    started.dedup();
    assert_eq!(started, ["a", "marker"]);
}

/// Starts svscan with `args` on `abcdefghijk` (11 bytes), `abcdefghijkl` (12 bytes) and `a`,
/// and checks that the 12-byte name alone is skipped, with "name too long - not spawning
/// service: NAME".
fn assert_only_names_up_to_eleven_bytes_start(args: &[&str]) {
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

/// "names longer than name_max: warning `name too long - not spawning service: NAME`,
/// skipped", and the scan goes on: a name of exactly name_max bytes and the others start.
#[test]
fn name_longer_than_name_max_is_skipped_with_a_warning() {
    if !ours_only("`-L` is not in s6 2.11") {
        return;
    }
    assert_only_names_up_to_eleven_bytes_start(&["-L", "11"]);
}

/// "`-L n` | longest name considered in the scan dir | default 251; clamped to 11..1019":
/// `-L 1` is `-L 11`.
#[test]
fn name_max_below_eleven_is_eleven() {
    if !ours_only("`-L` is not in s6 2.11") {
        return;
    }
    assert_only_names_up_to_eleven_bytes_start(&["-L", "1"]);
}

// ------------------------------------------------------------------ abandoned scans

/// "`stat` (follows symlinks). Failure: warning `unable to stat NAME: ERR`, the whole scan is
/// abandoned and retried in 4 s (this covers dangling symlinks in the scan dir)": once the
/// link's target exists, the retry 4 s after the warning starts it, without any command.
#[test]
fn dangling_symlink_abandons_the_scan_which_is_retried_four_seconds_later() {
    let fx = Fixture::new();
    fx.symlink(outside(&fx, "target"), "c");
    let before = now_mono_ns();
    let mut sv = fx.start();
    let warning = "unable to stat c: No such file or directory";
    let (lo, hi) = wait_warning(&mut sv, warning, 1, before, DEADLINE);
    std::fs::create_dir(outside(&fx, "target")).unwrap();
    let events = sv.wait_for("c started by the retry", DEADLINE, |e| {
        e.pid_of("c").is_some()
    });
    let start = events.last_start("c").unwrap().mono_ns;
    let retry = match implementation() {
        Implementation::Ours => 4.0,
        // s6 2.11 (Debian's) retries a failed stat after 3 s; 2.12, the reference, after 4.
        Implementation::C => 3.0,
    };
    assert_between(
        "from the warning to the retry's start",
        secs(start - hi),
        secs(start - lo),
        retry,
    );
    assert_eq!(warnings(&sv, warning), 1, "the retry found the target");
}

/// "An abandoned scan leaves the active/inactive view as it was ...; entries that it
/// registered before the failure keep their slots and are started once a later complete scan
/// sees them (**fix**: C never starts them ...)". The services are built so that each one
/// comes before the dangling link in readdir order (ext4 returns hash order), so the first
/// scan registers them all and is abandoned; the complete scan after the link is removed
/// creates nothing new, so only the fix starts them.
#[test]
fn entries_registered_by_an_abandoned_scan_start_after_a_complete_scan() {
    if !ours_only("fix: C never starts the entries of an abandoned scan (seed line 1221)") {
        return;
    }
    let fx = Fixture::new();
    fx.symlink(outside(&fx, "nowhere"), "c");
    let order = |fx: &Fixture| -> Vec<String> {
        std::fs::read_dir(fx.scandir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    };
    // Names until a few come before `c` (each does with odds 1 in 2 or so); then every name
    // after `c` goes, so that the complete scan finds nothing new.
    let mut listed = Vec::new();
    for i in 0..256 {
        fx.service(&format!("b{i}"));
        listed = order(&fx);
        if listed.iter().position(|n| n == "c").unwrap() >= 3 {
            break;
        }
    }
    let link = listed.iter().position(|n| n == "c").unwrap();
    assert!(
        link > 0,
        "no name comes before `c` in readdir order: cannot build the case"
    );
    for name in &listed[link + 1..] {
        fx.remove(name);
    }
    let early: Vec<String> = listed[..link].to_vec();
    assert_eq!(order(&fx).last().map(String::as_str), Some("c"));

    let mut sv = fx.start();
    let warning = "unable to stat c: No such file or directory";
    sv.wait_until("the scan abandoned at c", DEADLINE, |sv| {
        warnings(sv, warning) == 1
    });
    fx.remove("c");
    sv.ctl("a");
    let events = sv.wait_for("every early service started", DEADLINE, |e| {
        early.iter().all(|n| e.pid_of(n).is_some())
    });
    for name in &early {
        assert_eq!(events.starts(name).len(), 1, "{name}");
    }
    assert_eq!(warnings(&sv, warning), 1);
}

// ------------------------------------------------------------------ identity

/// "Services are identified by (dev, inode): a renamed directory keeps its supervisor", and
/// "a directory already known by (dev, inode): marked seen, its name updated (a rename)",
/// and for `NAME/log`: "known, and it is NAME's logger already: marked seen, its name updated
/// to `NAME/log`". After `a`, nothing is started or signalled; the next starts use the new
/// names, with the pair's pipe unchanged.
#[test]
fn renamed_service_keeps_its_supervisor_and_its_logger() {
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    let events = sv.wait_for("a and a/log started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("a/log").is_some()
    });
    let (service, logger) = (events.pid_of("a").unwrap(), events.pid_of("a/log").unwrap());
    let pipe = events.last_start("a").unwrap().fd(1).unwrap().ino;
    fx.rename("a", "b");
    sv.rescan("marker");
    let events = sv.events();
    assert_eq!(events.starts("a").len(), 1);
    assert_eq!(events.starts("a/log").len(), 1);
    assert_eq!(events.starts("b").len() + events.starts("b/log").len(), 0);
    assert_eq!(events.signals_of(service), Vec::<&str>::new());
    assert_eq!(events.signals_of(logger), Vec::<&str>::new());
    assert!(procfs::is_alive(service) && procfs::is_alive(logger));

    signal_pid(service, Signal::SIGTERM);
    signal_pid(logger, Signal::SIGTERM);
    let events = sv.wait_for("b and b/log restarted", DEADLINE, |e| {
        e.pid_of("b").is_some() && e.pid_of("b/log").is_some()
    });
    let (b, b_log) = (
        events.last_start("b").unwrap(),
        events.last_start("b/log").unwrap(),
    );
    assert_eq!(b.argv(), ["s6-supervise", "b"]);
    assert_eq!(b_log.argv(), ["s6-supervise", "b/log"]);
    assert_eq!(
        b.fd(1).unwrap().ino,
        pipe,
        "the service keeps the pair's pipe"
    );
    assert_eq!(
        b_log.fd(0).unwrap().ino,
        pipe,
        "the logger keeps the pair's pipe"
    );
}

// ------------------------------------------------------------------ NAME/log

/// "absent (ENOENT ...): no logger. If NAME still has a logger from before: warning `logger
/// for service NAME has been moved` (repeated on every scan until the old logger entry is
/// forgotten)": the moved logger keeps running, untouched; once it dies (inactive, so
/// forgotten), scans no longer warn.
#[test]
fn moved_logger_is_reported_on_every_scan_until_it_is_forgotten() {
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    let logger = sv
        .wait_for("a and a/log started", DEADLINE, |e| {
            e.pid_of("a").is_some() && e.pid_of("a/log").is_some()
        })
        .pid_of("a/log")
        .unwrap();
    std::fs::rename(fx.path("a/log"), outside(&fx, "moved-log")).unwrap();
    let warning = "logger for service a has been moved";
    let ours = implementation() == Implementation::Ours;
    for n in 1..=2 {
        // The warning comes from the scan, before the marker's start.
        sv.rescan(&format!("marker{n}"));
        if ours {
            assert_eq!(warnings(&sv, warning), n, "one warning per scan");
        }
    }
    let events = sv.events();
    assert_eq!(events.signals_of(logger), Vec::<&str>::new());
    assert_eq!(events.starts("a").len() + events.starts("a/log").len(), 2);
    assert!(procfs::is_alive(logger));
    if !ours_only("s6 2.11 has no such warning: NAME/log is part of NAME's entry there") {
        return;
    }

    signal_pid(logger, Signal::SIGTERM);
    sv.wait_until("the old logger reaped", DEADLINE, |_| {
        !procfs::process_exists(logger)
    });
    sv.rescan("marker3");
    assert_eq!(
        warnings(&sv, warning),
        2,
        "a forgotten logger is not reported"
    );
    assert_eq!(sv.events().starts("a/log").len(), 1, "nor restarted");
}

/// "known as another service's logger, or as a service that has a logger of its own: warning
/// `old service NAME/log still exists, waiting`, abandon, retry in 10 s": b's logger moved to
/// `a/log` is not taken for a's logger while it is b's; nothing is started, and the scan is
/// retried 10 s later (whichever of `a` and `b` comes first in readdir order).
#[test]
fn another_pairs_logger_moved_to_name_log_makes_the_scan_wait_ten_seconds() {
    if !ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own") {
        return;
    }
    let fx = Fixture::new();
    fx.service("a").logged("b");
    let mut sv = fx.start();
    let logger = sv
        .wait_for("a, b and b/log started", DEADLINE, |e| {
            ["a", "b", "b/log"].iter().all(|n| e.pid_of(n).is_some())
        })
        .pid_of("b/log")
        .unwrap();
    fx.rename("b/log", "a/log");
    let warning = "old service a/log still exists, waiting";
    let before = now_mono_ns();
    sv.ctl("a");
    let (lo1, hi1) = wait_warning(&mut sv, warning, 1, before, DEADLINE);
    let (lo2, hi2) = wait_warning(&mut sv, warning, 2, hi1, DEADLINE + Duration::from_secs(10));
    assert_between(
        "between the two warnings",
        secs(lo2 - hi1),
        secs(hi2 - lo1),
        10.0,
    );
    let events = sv.events();
    for name in ["a", "b", "b/log"] {
        assert_eq!(events.starts(name).len(), 1, "{name} started once");
    }
    assert_eq!(events.starts("a/log").len(), 0, "no logger started for a");
    assert_eq!(events.signals_of(logger), Vec::<&str>::new());
    assert_eq!(supervisors(&sv), ["a", "b", "b/log"]);
}

/// "known but in no pair (e.g. a logger-less top-level service moved to `NAME/log`): marked
/// seen and renamed `NAME/log`, no pipe, no pairing, no warning; it is a logger for the
/// killer from then on (as in C)": `x` moved to `a/log` keeps its supervisor; restarted, it
/// is `a/log` with svscan's stdin; `a` is not restarted; and `t` sends it SIGHUP.
#[test]
fn unpaired_service_moved_to_name_log_keeps_its_supervisor_and_becomes_a_logger() {
    if !ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own") {
        return;
    }
    let fx = Fixture::new();
    fx.service("a").service("x");
    let mut sv = fx.start();
    let events = sv.wait_for("a and x started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("x").is_some()
    });
    let (a, x) = (events.pid_of("a").unwrap(), events.pid_of("x").unwrap());
    fx.rename("x", "a/log");
    sv.rescan("marker");
    let events = sv.events();
    assert_eq!(events.starts("a/log").len(), 0, "x keeps its supervisor");
    assert_eq!(events.starts("x").len(), 1);
    assert_eq!(events.signals_of(x), Vec::<&str>::new());
    assert!(procfs::is_alive(x));
    assert_eq!(warning_lines(&sv), Vec::<String>::new());

    signal_pid(x, Signal::SIGTERM);
    let events = sv.wait_for("x restarted as a/log", DEADLINE, |e| {
        e.pid_of("a/log").is_some()
    });
    let restarted = events.last_start("a/log").unwrap();
    let stdin = restarted.fd(0).unwrap();
    assert_ne!(stdin.kind, "pipe", "no pipe: {stdin:?}");
    assert_eq!(
        events.starts("a").len(),
        1,
        "a is not restarted to get a pipe"
    );
    let logger = restarted.pid;
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let events = sv.events();
    assert_eq!(
        events.signals_of(logger),
        ["SIGHUP"],
        "a logger for the killer"
    );
    assert_eq!(events.signals_of(a), ["SIGTERM"]);
}

/// "new: takes a slot ... and svscan creates the pair's pipe ... If NAME had an old pipe to
/// an old logger, svscan closes its old write end and unlinks the old logger from NAME
/// (**fix**: C leaks that fd ...). A running service keeps its old fd 1 until its next
/// start." `a/log` replaced by a new directory gets a new logger on a new pipe, which `a`
/// gets at its restart; svscan no longer holds the old pipe's write end, so the old logger
/// reads EOF once the old `a` is gone.
#[test]
fn replaced_log_dir_gets_a_new_pipe_and_the_old_write_end_is_closed() {
    if !ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own") {
        return;
    }
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    let events = sv.wait_for("a and a/log started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("a/log").is_some()
    });
    let (a, old_logger) = (events.pid_of("a").unwrap(), events.pid_of("a/log").unwrap());
    let old_pipe = events.last_start("a").unwrap().fd(1).unwrap().ino;
    fx.rename("a/log", "a/old-log").mkdir("a/log");
    sv.ctl("a");
    let events = sv.wait_for("a new a/log", DEADLINE, |e| e.starts("a/log").len() == 2);
    let new_pipe = events.last_start("a/log").unwrap().fd(0).unwrap().ino;
    assert_ne!(new_pipe, old_pipe, "the new logger reads a new pipe");
    assert_eq!(
        events.starts("a").len(),
        1,
        "a keeps running on the old pipe"
    );

    signal_pid(a, Signal::SIGTERM);
    let events = sv.wait_for("a restarted", DEADLINE, |e| e.starts("a").len() == 2);
    let restarted = events.last_start("a").unwrap();
    assert_eq!(
        restarted.fd(1).unwrap().ino,
        new_pipe,
        "a's next start writes to the new pipe"
    );
    let greeting = integration_tests::Events::greeting("a", restarted.pid);
    sv.wait_for("the new logger reads the new a", DEADLINE, |e| {
        e.lines("a/log").contains(&greeting.as_str())
    });
    let held = pipe_ends(sv.pid());
    assert!(
        !held.contains(&(old_pipe, "w")),
        "svscan still holds the old write end: {held:?}"
    );
    assert!(
        held.contains(&(new_pipe, "r")) && held.contains(&(new_pipe, "w")),
        "{held:?}"
    );
    sv.wait_for("the old logger reads EOF", DEADLINE, |e| {
        e.of_pid(old_logger).any(|r| r.ev == "eof")
    });
}

/// "known ... as a service that has a logger of its own: warning `old service NAME/log still
/// exists, waiting`, abandon": the logged service `x` moved to `a/log` (its logger going
/// along as `a/log/log`) is not taken for a's logger; nothing is started or signalled.
#[test]
fn logged_service_moved_to_name_log_makes_the_scan_wait() {
    if !ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own") {
        return;
    }
    let fx = Fixture::new();
    fx.service("a").logged("x");
    let mut sv = fx.start();
    sv.wait_for("a, x and x/log started", DEADLINE, |e| {
        ["a", "x", "x/log"].iter().all(|n| e.pid_of(n).is_some())
    });
    fx.rename("x", "a/log");
    sv.ctl("a");
    sv.wait_until("the waiting warning", DEADLINE, |sv| {
        warnings(sv, "old service a/log still exists, waiting") == 1
    });
    // One more scan, also abandoned: the start pass of the first has long run by then.
    sv.ctl("a");
    sv.wait_until("the waiting warning again", DEADLINE, |sv| {
        warnings(sv, "old service a/log still exists, waiting") == 2
    });
    assert_eq!(supervisors(&sv), ["a", "x", "x/log"]);
    let events = sv.events();
    for name in ["a", "x", "x/log"] {
        assert_eq!(events.starts(name).len(), 1, "{name} started once");
        assert_eq!(events.signals_to(name), Vec::<&str>::new(), "{name}");
    }
    assert_eq!(
        events.starts("a/log").len() + events.starts("a/log/log").len(),
        0
    );
}

/// "known, and it is NAME's logger already: marked seen, its name updated" (a rename keeps
/// the pair), and the starter's "a logger gets the read end as fd 0 (**fix**: by the entry's
/// role in the pair, C decides by the name, so a paired logger moved to the top level would
/// get the read end as its fd 1)": `a/log` moved to the top-level `lg` is restarted as `lg`
/// reading the pair's pipe on fd 0, and reads what the restarted `a` writes.
#[test]
fn paired_logger_moved_to_the_top_level_still_reads_the_pipe_on_fd_0() {
    if !ours_only("s6 2.11 keeps NAME/log in NAME's entry, and fix: C passes the end by name") {
        return;
    }
    let fx = Fixture::new();
    fx.logged("a");
    // So that the stub, once named `lg`, still behaves as a logger.
    fx.control("a/log", StubControl::Logger);
    let mut sv = fx.start();
    let events = sv.wait_for("a's greeting read by a/log", DEADLINE, |e| {
        e.pid_of("a").is_some_and(|pid| {
            e.lines("a/log")
                .contains(&integration_tests::Events::greeting("a", pid).as_str())
        })
    });
    let (a, logger) = (events.pid_of("a").unwrap(), events.pid_of("a/log").unwrap());
    let pipe = events.last_start("a").unwrap().fd(1).unwrap().ino;
    fx.rename("a/log", "lg");
    sv.rescan("marker");
    assert_eq!(
        sv.events().starts("lg").len(),
        0,
        "the logger keeps its supervisor"
    );

    signal_pid(logger, Signal::SIGTERM);
    let events = sv.wait_for("the logger restarted as lg", DEADLINE, |e| {
        e.pid_of("lg").is_some()
    });
    let lg = events.last_start("lg").unwrap();
    let (stdin, stdout) = (lg.fd(0).unwrap(), lg.fd(1).unwrap());
    assert_eq!((stdin.ino, stdin.mode.as_str()), (pipe, "r"), "{stdin:?}");
    assert_ne!(stdout.ino, pipe, "{stdout:?}");

    signal_pid(a, Signal::SIGTERM);
    let events = sv.wait_for("a restarted", DEADLINE, |e| e.starts("a").len() == 2);
    let restarted = events.last_start("a").unwrap();
    assert_eq!(restarted.fd(1).unwrap().ino, pipe);
    let greeting = integration_tests::Events::greeting("a", restarted.pid);
    sv.wait_for("the new a's greeting read by lg", DEADLINE, |e| {
        e.lines("lg").contains(&greeting.as_str())
    });
}

/// "Forgetting an entry of a pair closes **both** pipe ends svscan holds and unpairs the
/// other entry, which gets svscan's own fd 0/1 at its next start (a writer with no reader
/// gets EPIPE rather than blocking forever)": once a's moved-away logger dies and is
/// forgotten, a's writes fail with EPIPE, and a restarted `a` writes to svscan's stdout.
#[test]
fn forgotten_logger_unpairs_its_service_which_then_writes_to_svscans_stdout() {
    if !ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own") {
        return;
    }
    let fx = Fixture::new();
    fx.logged("a");
    fx.control("a", StubControl::LinesForever(Duration::from_millis(10)));
    let mut sv = fx.start();
    let events = sv.wait_for("a/log reading a's lines", DEADLINE, |e| {
        !e.line_numbers("a/log", "a").is_empty()
    });
    let (a, logger) = (events.pid_of("a").unwrap(), events.pid_of("a/log").unwrap());
    let pipe = events.last_start("a").unwrap().fd(1).unwrap().ino;
    std::fs::rename(fx.path("a/log"), outside(&fx, "moved-log")).unwrap();
    sv.rescan("marker");
    signal_pid(logger, Signal::SIGTERM);
    // svscan's read end kept the pipe writable until then; now nobody reads it.
    sv.wait_for("a's write failing with EPIPE", DEADLINE, |e| {
        e.of_pid(a).any(|r| r.ev == "epipe")
    });
    let held = pipe_ends(sv.pid());
    assert!(
        !held.iter().any(|(ino, _)| *ino == pipe),
        "svscan still holds an end of the forgotten pair's pipe: {held:?}"
    );

    signal_pid(a, Signal::SIGTERM);
    let events = sv.wait_for("a restarted", DEADLINE, |e| e.starts("a").len() == 2);
    let restarted = events.last_start("a").unwrap();
    assert_eq!(
        restarted.fd(1).unwrap().kind,
        "file",
        "svscan's stdout, a file here"
    );
    let greeting = integration_tests::Events::greeting("a", restarted.pid);
    sv.wait_until("the new a's greeting on svscan's stdout", DEADLINE, |sv| {
        sv.stdout().contains(&greeting)
    });
}

// ------------------------------------------------------------------ limits

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

/// "`-C n` | at most n supervised entries": with `-C 4`, a fifth service is refused.
#[test]
fn service_beyond_big_c_is_refused_and_a_retries_at_once() {
    if !ours_only("`-C` is not in s6 2.11") {
        return;
    }
    assert_fifth_service_is_refused(&["-C", "4"]);
}

/// "`-C n` ... below 4 → 4": `-C 1` allows four entries.
#[test]
fn big_c_below_four_is_four() {
    if !ours_only("`-C` is not in s6 2.11") {
        return;
    }
    assert_fifth_service_is_refused(&["-C", "1"]);
}

/// "`-c n` | old form: services_max = 2n": `-c 2` allows four entries, as `-C 4`.
#[test]
fn little_c_two_allows_four_entries() {
    if !ours_only("s6 2.11's `-c` counts services, not entries") {
        return;
    }
    assert_fifth_service_is_refused(&["-c", "2"]);
}

/// "A failed `NAME/log` check: **fix** ... rolls back a NAME created in this scan (slot and
/// (dev, inode) entry) ... So at the services limit a logged service never ends with its
/// logger supervised but not the service." With `-C 4` and three services running, a logged
/// `p` fits but `p/log` does not: neither is started, whatever the scans; once `p/log` is
/// gone, `p` alone fits and starts, with no pipe.
#[test]
fn logged_service_at_the_limit_is_rolled_back_with_its_logger() {
    if !ours_only(
        "`-C` is not in s6 2.11, and fix: C 2.12 frees NAME's slot but keeps its (dev, inode)",
    ) {
        return;
    }
    let fx = Fixture::new();
    fx.service("s1").service("s2").service("s3");
    let mut sv = fx.svscan().args(["-C", "4"]).start();
    sv.wait_for("three services started", DEADLINE, |e| {
        ["s1", "s2", "s3"].iter().all(|n| e.pid_of(n).is_some())
    });
    fx.logged("p");
    let warning = "unable to start supervisor for p/log: too many services";
    sv.ctl("a");
    sv.wait_until("the too-many warning for p/log", DEADLINE, |sv| {
        warnings(sv, warning) == 1
    });
    sv.ctl("a");
    sv.wait_until("the same warning from the next scan", DEADLINE, |sv| {
        warnings(sv, warning) == 2
    });
    assert_eq!(supervisors(&sv), ["s1", "s2", "s3"]);
    assert_eq!(
        sv.events().starts("p").len() + sv.events().starts("p/log").len(),
        0
    );
    assert_eq!(warning_lines(&sv).len(), 2, "{:?}", warning_lines(&sv));

    fx.remove("p/log");
    sv.ctl("a");
    let events = sv.wait_for("p started alone", DEADLINE, |e| e.pid_of("p").is_some());
    assert_ne!(events.last_start("p").unwrap().fd(1).unwrap().kind, "pipe");
    assert_eq!(events.starts("p/log").len(), 0);
    assert_eq!(supervisors(&sv), ["p", "s1", "s2", "s3"]);
}

/// "another stat error [of `NAME/log`]: warning `unable to stat NAME/log: ERR`, abandon,
/// retry in 4 s", and "A failed `NAME/log` check: **fix** (C 2.12 ... the retry is due at
/// once, a busy loop at full CPU ...) — ours ... rolls back a NAME created in this scan ...
/// and retries after the logger check's own delay". `p/log`, a symlink loop, fails with
/// ELOOP: the warning comes every 4 s, svscan stays idle meanwhile, `p` is not started; once
/// the loop is replaced by a directory, `a` starts the pair.
#[test]
fn failed_logger_check_is_retried_every_four_seconds_without_spinning() {
    if !ours_only("fix: C 2.12 retries a failed NAME/log check at once, in a busy loop") {
        return;
    }
    let fx = Fixture::new();
    fx.service("p").symlink("log", "p/log");
    let before = now_mono_ns();
    let mut sv = fx.start();
    let warning = "unable to stat p/log: Too many levels of symbolic links";
    let (lo1, hi1) = wait_warning(&mut sv, warning, 1, before, DEADLINE);
    let cpu1 = cpu_secs(sv.pid());
    let (lo2, hi2) = wait_warning(&mut sv, warning, 2, hi1, DEADLINE);
    let cpu = cpu_secs(sv.pid()) - cpu1;
    eprintln!("svscan's CPU time between the two warnings: {cpu:.2} s");
    assert_between(
        "between the two warnings",
        secs(lo2 - hi1),
        secs(hi2 - lo1),
        4.0,
    );
    assert!(
        cpu < 0.5,
        "svscan used {cpu:.2} s of CPU in {:.1} s",
        secs(hi2 - lo1)
    );
    assert_eq!(warnings(&sv, warning), 2);
    assert_eq!(supervisors(&sv), Vec::<String>::new(), "p is rolled back");
    assert_eq!(sv.events().starts("p").len(), 0);

    fx.remove("p/log").mkdir("p/log");
    sv.ctl("a");
    let events = sv.wait_for("the pair started", DEADLINE, |e| {
        e.pid_of("p").is_some() && e.pid_of("p/log").is_some()
    });
    let (p, log) = (
        events.last_start("p").unwrap(),
        events.last_start("p/log").unwrap(),
    );
    assert_eq!(p.fd(1).unwrap().ino, log.fd(0).unwrap().ino, "one pipe");
}

// ------------------------------------------------------------------ periodic scans

/// "`-t ms` | also scan every ms milliseconds; 0 = never (default)", and "A scan first sets
/// the next periodic scan": with `-t 300` new services are picked up within 300 ms, scan
/// after scan, without any command; a svscan without `-t` beside it has picked up neither
/// until it gets `a`.
#[test]
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
        eprintln!("{name} started {delay:.3} s after it was created (-t 300)");
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

/// "A scan first sets the next periodic scan (with `-t`: now + timeout; the earliest pending
/// deadline wins)": with `-t 300`, a scan abandoned at a dangling link is retried by the
/// periodic scan 300 ms later, not after the 4 s of a failed stat.
#[test]
fn periodic_scan_comes_before_the_retry_of_an_abandoned_scan() {
    let fx = Fixture::new();
    fx.symlink(outside(&fx, "nowhere"), "c");
    let before = now_mono_ns();
    let mut sv = fx.svscan().args(["-t", "300"]).start();
    let warning = "unable to stat c: No such file or directory";
    let (lo1, hi1) = wait_warning(&mut sv, warning, 1, before, DEADLINE);
    let (lo3, hi3) = wait_warning(&mut sv, warning, 3, hi1, DEADLINE);
    assert_between(
        "from the first warning to the third",
        secs(lo3 - hi1),
        secs(hi3 - lo1),
        0.6,
    );
}

// ------------------------------------------------------------------ inactive entries

/// "At the end of a complete scan: ... inactive entries with no live supervisor are forgotten
/// (**fix**: C 2.12's sweep never runs ...)", seen through the slot accounting of `-C 5`: a
/// service whose supervisor is dead (inside its 1 s respawn window) when its directory is
/// moved away is forgotten by the scan, so a new directory of the same name (a new inode: the
/// old one still exists elsewhere) is a fresh entry and fits as the fifth, not a sixth.
///
/// svscan is stopped (SIGSTOP) while the directory is moved and `a` is written, and goes on
/// only once its last supervisor of `d` is dead, reaped, and not yet respawned, so the scan
/// surely sees the entry without a supervisor.
#[test]
fn dead_inactive_entry_is_forgotten_by_the_next_complete_scan() {
    if !ours_only("`-C` is not in s6 2.11, and fix: C 2.12's sweep never runs") {
        return;
    }
    let fx = Fixture::new();
    fx.service("s1").service("s2").service("s3");
    fx.control("d", StubControl::Exit(0));
    let mut sv = fx.svscan().args(["-C", "5"]).start();
    sv.wait_for("s1, s2, s3 and d started", DEADLINE, |e| {
        ["s1", "s2", "s3", "d"]
            .iter()
            .all(|n| e.pid_of(n).is_some())
    });
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 10, "never caught d between two supervisors");
        let last = sv.events().pid_of("d").unwrap();
        sv.wait_until("d's supervisor reaped", DEADLINE, |_| {
            !procfs::process_exists(last)
        });
        sv.signal(Signal::SIGSTOP);
        let pid = sv.pid();
        sv.wait_until("svscan stopped", DEADLINE, |_| {
            procfs::state(pid) == Some('T')
        });
        if supervisors(&sv) == ["s1", "s2", "s3"] && sv.events().pid_of("d") == Some(last) {
            break;
        }
        sv.signal(Signal::SIGCONT);
    }
    let starts_before = sv.events().starts("d").len();
    std::fs::rename(fx.path("d"), outside(&fx, "d-old")).unwrap();
    fx.service("marker");
    sv.try_ctl(b"a")
        .expect("write a to the stopped svscan's FIFO");
    sv.signal(Signal::SIGCONT);
    sv.wait_for("marker started", DEADLINE, |e| e.pid_of("marker").is_some());
    assert_eq!(
        sv.events().starts("d").len(),
        starts_before,
        "d is not respawned"
    );

    fx.service("d");
    sv.ctl("a");
    sv.wait_for("the new d started", DEADLINE, |e| {
        e.starts("d").len() == starts_before + 1
    });
    assert_eq!(supervisors(&sv), ["d", "marker", "s1", "s2", "s3"]);
    assert!(
        warning_lines(&sv)
            .iter()
            .all(|w| !w.contains("too many services")),
        "{:?}",
        warning_lines(&sv)
    );
}

/// "Removed ("inactive") supervisors are not killed by a plain rescan and not restarted when
/// they die": `r`, whose directory is removed, gets no signal, and when it exits on its own
/// it stays dead, while its twin `w`, started with it and exiting with it, is restarted.
#[test]
fn inactive_supervisor_is_not_killed_by_a_rescan_nor_restarted_when_it_dies() {
    let fx = Fixture::new();
    let life = Duration::from_secs(3);
    fx.control("r", StubControl::ExitAfter(life));
    fx.control("w", StubControl::ExitAfter(life));
    let mut sv = fx.start();
    let r = sv
        .wait_for("r and w started", DEADLINE, |e| {
            e.pid_of("r").is_some() && e.pid_of("w").is_some()
        })
        .pid_of("r")
        .unwrap();
    // Moved, not deleted: a new directory could reuse a deleted one's inode, and be taken
    // for it ("Services are identified by (dev, inode)").
    std::fs::rename(fx.path("r"), outside(&fx, "r-gone")).unwrap();
    sv.rescan("marker");
    assert!(
        !sv.events().exited(r),
        "the machine is too slow: r exited before the rescan made it inactive\n{}",
        sv.events().dump()
    );
    let events = sv.wait_for("r exited and w restarted", DEADLINE, |e| {
        e.exited(r) && e.starts("w").len() == 2
    });
    let exit = events.find("exit", "r").next().unwrap();
    assert_eq!(exit.str("why"), Some("stub-exit-after"), "r was not killed");
    assert_eq!(events.signals_of(r), Vec::<&str>::new());
    sv.wait_until("r reaped", DEADLINE, |_| !procfs::process_exists(r));
    sv.rescan("marker2");
    assert_eq!(sv.events().starts("r").len(), 1, "r is not restarted");
    assert!(!supervisors(&sv).contains(&"r".to_owned()));
}

// ------------------------------------------------------------------ the starter

/// "Its next allowed start is 1 s after this start. After a pass that visited every entry,
/// the start deadline is the earliest next-allowed start among active entries with no
/// supervisor. **fix**: C forgets entries still inside their 1 s window when another entry
/// is started first": `a` and `b`, which die at once, are each restarted 1 s after their own
/// previous start, three times, with no command. `b` is added about 0.7 s after `a` (once
/// `clock`, started with `a`, has exited after 700 ms), so the pass that starts `b` comes
/// while `a` is inside its window, and every later pass of `a` while `b` is inside its own.
#[test]
fn services_dying_at_once_are_each_restarted_one_second_after_their_own_start() {
    if !ours_only("C 2.11 restarts 1 s after the death, and fix: C forgets entries in their window")
    {
        return;
    }
    let fx = Fixture::new();
    fx.control("a", StubControl::Exit(0));
    fx.control("clock", StubControl::ExitAfter(Duration::from_millis(700)));
    let mut sv = fx.start();
    sv.wait_for("clock's first exit", DEADLINE, |e| {
        e.find("exit", "clock").next().is_some()
    });
    fx.control("b", StubControl::Exit(0));
    sv.ctl("a");
    let events = sv.wait_for("a and b started four times each", DEADLINE, |e| {
        e.starts("a").len() >= 4 && e.starts("b").len() >= 4
    });
    for name in ["a", "b"] {
        let starts = events.starts(name);
        let gaps: Vec<String> = starts
            .windows(2)
            .take(3)
            .map(|p| format!("{:.3}", p[1].secs_since(p[0])))
            .collect();
        eprintln!("{name}'s restart gaps: {gaps:?} s");
        for pair in starts.windows(2).take(3) {
            assert_delay(
                &format!("{name}'s restart after its previous start"),
                pair[1].secs_since(pair[0]),
                1.0,
            );
        }
    }
    let offset = events.starts("b")[0].secs_since(events.starts("a")[0]);
    eprintln!("b's first start came {offset:.3} s after a's");
    assert!(
        offset >= 0.3 - EARLY_SLACK,
        "b started {offset:.3} s after a"
    );
}
