//! "The scanner": which names are supervised, identity by (dev, inode) across renames, the
//! `NAME/log` cases, the retry timers of an abandoned scan, the limits, and the fixes to C's
//! scanner. Each scenario quotes the rule it proves; where Debian's C s6-svscan 2.11 lacks an
//! option or keeps a bug that a **fix** rule corrects, the scenario says so and is skipped
//! there ([`ours_only`]).

use std::time::Duration;

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, Outcome, StubControl, implementation, note, now_mono_ns,
    ours_only, procfs, scenario, signal_pid,
};
use nix::sys::signal::Signal;

use crate::shared::{
    assert_between, assert_only_names_up_to_eleven_bytes_start, outside, pipe_ends, secs,
    supervisors, wait_warning, warning_lines, warnings,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(symlink_to_a_directory_is_supervised_under_the_links_name),
    scenario!(dot_names_plain_files_and_symlinks_to_files_are_skipped),
    scenario!(name_longer_than_name_max_is_skipped_with_a_warning),
    scenario!(dangling_symlink_abandons_the_scan_which_is_retried_four_seconds_later).slow(),
    scenario!(entries_registered_by_an_abandoned_scan_start_after_a_complete_scan),
    scenario!(periodic_scan_comes_before_the_retry_of_an_abandoned_scan),
    scenario!(renamed_service_keeps_its_supervisor_and_its_logger),
    scenario!(moved_logger_is_reported_on_every_scan_until_it_is_forgotten),
    scenario!(another_pairs_logger_moved_to_name_log_makes_the_scan_wait_ten_seconds).slow(),
    scenario!(unpaired_service_moved_to_name_log_keeps_its_supervisor_and_becomes_a_logger),
    scenario!(replaced_log_dir_gets_a_new_pipe_and_the_old_write_end_is_closed),
    scenario!(logged_service_moved_to_name_log_makes_the_scan_wait),
    scenario!(failed_logger_check_is_retried_every_four_seconds_without_spinning).slow(),
    scenario!(logged_service_at_the_limit_is_rolled_back_with_its_logger),
    scenario!(dead_inactive_entry_is_forgotten_by_the_next_complete_scan),
    scenario!(forgotten_logger_unpairs_its_service_which_then_writes_to_svscans_stdout),
];

/// "`stat` (follows symlinks)" and "a new one: takes a slot ... and is due to start now",
/// with argv `["s6-supervise", NAME]`: a symlink in the scan dir to a directory elsewhere is
/// a service, supervised under the link's own name.
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

/// "names longer than name_max: warning `name too long - not spawning service: NAME`,
/// skipped", and the scan goes on: a name of exactly name_max bytes and the others start.
fn name_longer_than_name_max_is_skipped_with_a_warning() -> Outcome {
    ours_only("`-L` is not in s6 2.11")?;
    assert_only_names_up_to_eleven_bytes_start(&["-L", "11"]);
    Ok(())
}

/// "`stat` (follows symlinks). Failure: warning `unable to stat NAME: ERR`, the whole scan is
/// abandoned and retried in 4 s (this covers dangling symlinks in the scan dir)": once the
/// link's target exists, the retry 4 s after the warning starts it, without any command.
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
fn entries_registered_by_an_abandoned_scan_start_after_a_complete_scan() -> Outcome {
    ours_only("fix: C never starts the entries of an abandoned scan (seed line 1221)")?;
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
    Ok(())
}

/// "A scan first sets the next periodic scan (with `-t`: now + timeout; the earliest pending
/// deadline wins)": with `-t 300`, a scan abandoned at a dangling link is retried by the
/// periodic scan 300 ms later, not after the 4 s of a failed stat.
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

/// "Services are identified by (dev, inode): a renamed directory keeps its supervisor", and
/// "a directory already known by (dev, inode): marked seen, its name updated (a rename)",
/// and for `NAME/log`: "known, and it is NAME's logger already: marked seen, its name updated
/// to `NAME/log`". After `a`, nothing is started or signalled; the next starts use the new
/// names, with the pair's pipe unchanged.
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

/// "absent (ENOENT ...): no logger. If NAME still has a logger from before: warning `logger
/// for service NAME has been moved` (repeated on every scan until the old logger entry is
/// forgotten)": the moved logger keeps running, untouched; once it dies (inactive, so
/// forgotten), scans no longer warn.
fn moved_logger_is_reported_on_every_scan_until_it_is_forgotten() -> Outcome {
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
    ours_only("s6 2.11 has no such warning: NAME/log is part of NAME's entry there")?;

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
    Ok(())
}

/// "known as another service's logger, or as a service that has a logger of its own: warning
/// `old service NAME/log still exists, waiting`, abandon, retry in 10 s": b's logger moved to
/// `a/log` is not taken for a's logger while it is b's; nothing is started, and the scan is
/// retried 10 s later (whichever of `a` and `b` comes first in readdir order).
fn another_pairs_logger_moved_to_name_log_makes_the_scan_wait_ten_seconds() -> Outcome {
    ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own")?;
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
    Ok(())
}

/// "known but in no pair (e.g. a logger-less top-level service moved to `NAME/log`): marked
/// seen and renamed `NAME/log`, no pipe, no pairing, no warning; it is a logger for the
/// killer from then on (as in C)": `x` moved to `a/log` keeps its supervisor; restarted, it
/// is `a/log` with svscan's stdin; `a` is not restarted; and `t` sends it SIGHUP.
fn unpaired_service_moved_to_name_log_keeps_its_supervisor_and_becomes_a_logger() -> Outcome {
    ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own")?;
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
    Ok(())
}

/// "new: takes a slot ... and svscan creates the pair's pipe ... If NAME had an old pipe to
/// an old logger, svscan closes its old write end and unlinks the old logger from NAME
/// (**fix**: C leaks that fd ...). A running service keeps its old fd 1 until its next
/// start." `a/log` replaced by a new directory gets a new logger on a new pipe, which `a`
/// gets at its restart; svscan no longer holds the old pipe's write end, so the old logger
/// reads EOF once the old `a` is gone.
fn replaced_log_dir_gets_a_new_pipe_and_the_old_write_end_is_closed() -> Outcome {
    ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own")?;
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
    Ok(())
}

/// "known ... as a service that has a logger of its own: warning `old service NAME/log still
/// exists, waiting`, abandon": the logged service `x` moved to `a/log` (its logger going
/// along as `a/log/log`) is not taken for a's logger; nothing is started or signalled.
fn logged_service_moved_to_name_log_makes_the_scan_wait() -> Outcome {
    ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own")?;
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
    Ok(())
}

/// "another stat error [of `NAME/log`]: warning `unable to stat NAME/log: ERR`, abandon,
/// retry in 4 s", and "A failed `NAME/log` check: **fix** (C 2.12 ... the retry is due at
/// once, a busy loop at full CPU ...) — ours ... rolls back a NAME created in this scan ...
/// and retries after the logger check's own delay". `p/log`, a symlink loop, fails with
/// ELOOP: the warning comes every 4 s, svscan stays idle meanwhile, `p` is not started; once
/// the loop is replaced by a directory, `a` starts the pair.
fn failed_logger_check_is_retried_every_four_seconds_without_spinning() -> Outcome {
    ours_only("fix: C 2.12 retries a failed NAME/log check at once, in a busy loop")?;
    let fx = Fixture::new();
    fx.service("p").symlink("log", "p/log");
    let before = now_mono_ns();
    let mut sv = fx.start();
    let warning = "unable to stat p/log: Too many levels of symbolic links";
    let (lo1, hi1) = wait_warning(&mut sv, warning, 1, before, DEADLINE);
    let cpu_secs = |pid| {
        procfs::cpu_time(pid)
            .expect("svscan's CPU time")
            .as_secs_f64()
    };
    let cpu1 = cpu_secs(sv.pid());
    let (lo2, hi2) = wait_warning(&mut sv, warning, 2, hi1, DEADLINE);
    let cpu = cpu_secs(sv.pid()) - cpu1;
    note!("svscan's CPU time between the two warnings: {cpu:.2} s");
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
    Ok(())
}

/// "A failed `NAME/log` check: **fix** ... rolls back a NAME created in this scan (slot and
/// (dev, inode) entry) ... So at the services limit a logged service never ends with its
/// logger supervised but not the service." With `-C 4` and three services running, a logged
/// `p` fits but `p/log` does not: neither is started, whatever the scans; once `p/log` is
/// gone, `p` alone fits and starts, with no pipe.
fn logged_service_at_the_limit_is_rolled_back_with_its_logger() -> Outcome {
    ours_only(
        "`-C` is not in s6 2.11, and fix: C 2.12 frees NAME's slot but keeps its (dev, inode)",
    )?;
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
    Ok(())
}

/// "At the end of a complete scan: ... inactive entries with no live supervisor are forgotten
/// (**fix**: C 2.12's sweep never runs ...)", seen through the slot accounting of `-C 5`: a
/// service whose supervisor is dead (inside its 1 s respawn window) when its directory is
/// moved away is forgotten by the scan, so a new directory of the same name (a new inode: the
/// old one still exists elsewhere) is a fresh entry and fits as the fifth, not a sixth.
///
/// svscan is stopped (SIGSTOP) while the directory is moved and `a` is written, and goes on
/// only once its last supervisor of `d` is dead, reaped, and not yet respawned, so the scan
/// surely sees the entry without a supervisor.
fn dead_inactive_entry_is_forgotten_by_the_next_complete_scan() -> Outcome {
    ours_only("`-C` is not in s6 2.11, and fix: C 2.12's sweep never runs")?;
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
    Ok(())
}

/// "Forgetting an entry of a pair closes **both** pipe ends svscan holds and unpairs the
/// other entry, which gets svscan's own fd 0/1 at its next start (a writer with no reader
/// gets EPIPE rather than blocking forever)": once a's moved-away logger dies and is
/// forgotten, a's writes fail with EPIPE, and a restarted `a` writes to svscan's stdout.
fn forgotten_logger_unpairs_its_service_which_then_writes_to_svscans_stdout() -> Outcome {
    ours_only("s6 2.11 keeps NAME/log in NAME's entry, not as an entry of its own")?;
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
    Ok(())
}
