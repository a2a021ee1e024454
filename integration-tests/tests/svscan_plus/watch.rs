//! `svscan --watch` (`svscan/src/watch.rs`): a change of the scan directory is scanned
//! without `-a`, within 100 ms; removals keep the `-n` semantics; idle stays idle; past the
//! watch limit or without inotify, one warning and the plain behaviour for what is not
//! watched (in a user namespace of svscan's own whose inotify limits are lowered).

use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Outcome, Skip, Svscan, procfs, program, scenario, under_test, wait_until,
};

use crate::support::{
    asleep_forever, ctl_ok, entry, int_of, list, ours, pending, str_of, supervisor_of,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(mkdir_symlink_and_rename_into_the_scan_dir_get_a_supervisor_without_a),
    scenario!(a_log_dir_added_to_an_existing_service_gets_its_logger),
    scenario!(a_removal_makes_the_entry_inactive_and_n_still_decides),
    scenario!(idle_svscan_with_watch_wakes_up_zero_times),
    scenario!(past_the_watch_limit_svscan_warns_once_and_a_log_in_an_unwatched_service_waits_for_a),
    scenario!(without_inotify_svscan_warns_once_and_a_new_service_waits_for_a),
];

/// Waits until svscan supervises `name` and returns how long that took from `since`.
fn supervised_within(svscan: i32, name: &str, since: Instant) -> Duration {
    wait_until(&format!("{name} supervised without -a"), DEADLINE, || {
        supervisor_of(svscan, name).is_some()
    });
    since.elapsed()
}

/// "`mkdir`/`ln -s`/`mv` of a service gets a supervisor within 100 ms with no `-a`". The
/// 100 ms are the issue's; on a loaded 2-core machine a spawn can take longer, so the
/// latency is printed and only the deadline asserted.
fn mkdir_symlink_and_rename_into_the_scan_dir_get_a_supervisor_without_a() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    let sv = fx.svscan().arg("--watch").start();
    let svscan = sv.pid();
    let t = Instant::now();
    fx.service("made");
    let made = supervised_within(svscan, "made", t);

    let outside = fx.tmp().join("elsewhere");
    std::fs::create_dir(&outside).unwrap();
    let t = Instant::now();
    fx.symlink(&outside, "linked");
    let linked = supervised_within(svscan, "linked", t);

    let moved = fx.tmp().join("moved-in");
    std::fs::create_dir(&moved).unwrap();
    let t = Instant::now();
    std::fs::rename(&moved, fx.path("moved")).unwrap();
    let moved = supervised_within(svscan, "moved", t);
    integration_tests::note!("--watch latency: mkdir {made:?}, ln -s {linked:?}, mv {moved:?}");

    // A rename inside the scan dir keeps the supervisor (identity is (dev, inode)).
    let pid = supervisor_of(svscan, "made").unwrap();
    fx.rename("made", "renamed");
    wait_until("the new name listed", DEADLINE, || {
        entry(&list(fx.scandir()), "renamed")
            .is_some_and(|e| int_of(e, "pid") == Some(i64::from(pid)))
    });
    assert!(procfs::is_alive(pid));
    Ok(())
}

/// "(and on each service directory for a `log` appearing or going)": `mkdir svc/log` in a
/// supervised service gets the logger supervised and paired, without `-a`.
fn a_log_dir_added_to_an_existing_service_gets_its_logger() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("svc");
    let mut sv = fx.svscan().arg("--watch").start();
    sv.wait_started("svc");
    let t = Instant::now();
    fx.mkdir("svc/log");
    let took = supervised_within(sv.pid(), "svc/log", t);
    integration_tests::note!("--watch latency: mkdir svc/log {took:?}");
    let listing = list(fx.scandir());
    assert_eq!(
        str_of(entry(&listing, "svc/log").unwrap(), "partner"),
        Some("svc")
    );
    assert_eq!(
        str_of(entry(&listing, "svc").unwrap(), "partner"),
        Some("svc/log")
    );
    Ok(())
}

/// "A removal with `-n` semantics unchanged": the watch's scan only makes the entry
/// inactive (its supervisor lives, unsignalled); `-wn` then stops it.
fn a_removal_makes_the_entry_inactive_and_n_still_decides() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("gone").service("kept");
    let mut sv = fx.svscan().arg("--watch").start();
    let gone = sv.wait_started("gone");
    sv.wait_started("kept");
    fx.take_out("gone");
    wait_until("gone listed inactive", DEADLINE, || {
        entry(&list(fx.scandir()), "gone").is_some_and(|e| str_of(e, "state") == Some("inactive"))
    });
    assert!(procfs::is_alive(gone));
    assert!(pending(gone).is_empty());
    assert!(
        sv.events().signals_of(gone).is_empty(),
        "a plain scan signalled it"
    );
    ctl_ok(fx.scandir(), &["-wn"]);
    sv.wait_for("gone's supervisor got SIGTERM", DEADLINE, |e| {
        e.signals_of(gone).contains(&"SIGTERM")
    });
    Ok(())
}

/// Voluntary plus nonvoluntary context switches of `pid` (as the bench's idle row).
fn context_switches(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// "Still zero wake-ups while idle": with `--watch` and supervised services (whose
/// supervisors made their own files in the service directories at start-up), svscan is not
/// scheduled once in an observation window.
fn idle_svscan_with_watch_wakes_up_zero_times() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a").logged("b").service("c");
    let mut sv = fx.svscan().arg("--watch").start();
    sv.wait_for("all started", DEADLINE, |e| {
        ["a", "b", "b/log", "c"]
            .iter()
            .all(|n| e.pid_of(n).is_some())
    });
    // Asleep with no timeout: no debounce or other timer pending.
    wait_until("svscan asleep with no timeout", DEADLINE, || {
        asleep_forever(sv.pid())
    });
    let before = context_switches(sv.pid());
    // An observation window, not a wait for a condition: nothing may happen in it.
    let window = Instant::now() + Duration::from_secs(2);
    while Instant::now() < window {
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(context_switches(sv.pid()), before, "idle svscan woke up");
    }
    // And the watch still works afterwards.
    let t = Instant::now();
    fx.service("late");
    supervised_within(sv.pid(), "late", t);
    Ok(())
}

/// The wrapper that runs svscan in a user namespace of its own (`unshare --user
/// --map-root-user`) with the inotify limit `limit` (a file of `/proc/sys/user`) set to
/// `value` there first: since Linux 5.11 these limits are per user namespace, so only
/// svscan's namespace is limited, not the machine. `&&`: a limit that cannot be set starts
/// no svscan; `exec`: svscan's pid is the guard's.
///
/// # Errors
/// A [`Skip::missing`] when the wrapper fails here (user namespaces not permitted, or a
/// kernel before 5.11); CI, root on Debian, runs it.
#[track_caller]
fn limited_user_namespace(limit: &str, value: u32) -> Result<Vec<String>, Skip> {
    let wrapper: Vec<String> = [
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        &format!(r#"echo {value} > /proc/sys/user/{limit} && exec "$@""#),
        "sh",
    ]
    .map(String::from)
    .into();
    let ran = program::run(
        Command::new(&wrapper[0]).args(&wrapper[1..]).arg("true"),
        DEADLINE,
    );
    if ran.code == Some(0) {
        Ok(wrapper)
    } else {
        Err(Skip::missing(format!(
            "a user namespace with {limit} = {value} (`{} true` failed: {:?}, {})",
            wrapper.join(" "),
            ran.code,
            ran.stderr.trim_end()
        )))
    }
}

/// Checks that svscan has not picked up `name`, made by the test just before: waits until
/// svscan sleeps in poll with no timer pending, then `name` must be neither in its table
/// nor started. A change svscan watches wakes it before the `mkdir` returns (the event is
/// queued then), and from reading it until its scan has run svscan keeps the scan's timer;
/// so once asleep with none, it has scanned the change or never seen it.
fn not_picked_up(fx: &Fixture, sv: &mut Svscan<'_>, name: &str) {
    sv.wait_until("svscan asleep with no timer pending", DEADLINE, |sv| {
        asleep_forever(sv.pid())
    });
    assert!(
        entry(&list(fx.scandir()), name).is_none(),
        "{name} scanned without -a"
    );
    assert_eq!(sv.events().pid_of(name), None, "{name} started without -a");
}

/// "Without inotify, or past the watch limit (`fs.inotify.max_user_watches`), svscan warns
/// once and, for what it cannot watch, rescans only when asked" (svscan(8), `--watch`;
/// `watch.rs`: "past the watch limit (`max_user_watches`: ENOSPC), svscan warns once and
/// falls back, for what it cannot watch, to the plain behaviour"). With 2 watches, the scan
/// directory and `watched` take them: services made later are still picked up without `-a`
/// (the scan directory is watched) but get no watch of their own, which is warned about
/// once, at the first; a `log` made in one of them waits for `-a`, while `watched/log`
/// needs none.
fn past_the_watch_limit_svscan_warns_once_and_a_log_in_an_unwatched_service_waits_for_a() -> Outcome
{
    ours()?;
    let wrapper = limited_user_namespace("max_inotify_watches", 2)?;
    let fx = Fixture::new();
    fx.service("watched");
    let mut sv = fx.svscan().arg("--watch").start_wrapped(&wrapper);
    sv.wait_started("watched");
    assert_eq!(sv.stderr(), "", "a warning with a watch to spare");
    // One at a time, so that `b` is the first one the limit refuses.
    for name in ["b", "c", "d"] {
        let t = Instant::now();
        fx.service(name);
        supervised_within(sv.pid(), name, t);
    }
    let warning = format!(
        "{}: warning: unable to watch b (and maybe others): a log directory appearing there \
         needs a rescan: No space left on device\n",
        under_test().prog()
    );
    assert_eq!(sv.stderr(), warning, "one warning for b, c and d");

    fx.mkdir("b/log");
    not_picked_up(&fx, &mut sv, "b/log");
    sv.ctl("a");
    sv.wait_started("b/log");

    let t = Instant::now();
    fx.mkdir("watched/log");
    supervised_within(sv.pid(), "watched/log", t);
    assert_eq!(sv.stderr(), warning, "still the one warning");
    assert!(!sv.has_exited(), "svscan died");
    Ok(())
}

/// "Without inotify, or past the watch limit, svscan warns once and, for what it cannot
/// watch, rescans only when asked" (svscan(8), `--watch`; `watch.rs`: "Without inotify
/// (`inotify_init` fails) ... svscan warns once and falls back ... to the plain behaviour:
/// rescans when asked or with `-t`"). With no inotify instance allowed, `--watch` svscan
/// warns once at start-up and runs as without it: a new service and a new `log` each wait
/// for `-a`, and svscan stays idle (asleep with no timer).
fn without_inotify_svscan_warns_once_and_a_new_service_waits_for_a() -> Outcome {
    ours()?;
    let wrapper = limited_user_namespace("max_inotify_instances", 0)?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.svscan().arg("--watch").start_wrapped(&wrapper);
    sv.wait_started("a");
    let warning = format!(
        "{}: warning: unable to watch the scan directory: Too many open files; rescanning \
         only when asked\n",
        under_test().prog()
    );
    assert_eq!(sv.stderr(), warning);

    fx.service("late");
    not_picked_up(&fx, &mut sv, "late");
    sv.ctl("a");
    sv.wait_started("late");

    fx.mkdir("a/log");
    not_picked_up(&fx, &mut sv, "a/log");
    sv.ctl("a");
    sv.wait_started("a/log");

    wait_until("svscan idle", DEADLINE, || asleep_forever(sv.pid()));
    assert_eq!(sv.stderr(), warning, "still the one warning");
    assert!(!sv.has_exited(), "svscan died");
    Ok(())
}
