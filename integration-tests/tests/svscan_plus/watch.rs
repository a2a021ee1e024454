//! `svscan --watch` (`svscan/src/watch.rs`): a change of the scan directory is scanned
//! without `-a`, within 100 ms; removals keep the `-n` semantics; idle stays idle.

use std::time::{Duration, Instant};

use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, Outcome, procfs, scenario, wait_until};

use crate::support::{
    asleep_forever, ctl_ok, entry, int_of, list, ours, pending, str_of, supervisor_of,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(mkdir_symlink_and_rename_into_the_scan_dir_get_a_supervisor_without_a),
    scenario!(a_log_dir_added_to_an_existing_service_gets_its_logger),
    scenario!(a_removal_makes_the_entry_inactive_and_n_still_decides),
    scenario!(idle_svscan_with_watch_wakes_up_zero_times),
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
