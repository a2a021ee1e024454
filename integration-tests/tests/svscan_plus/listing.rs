//! `svscanctl -l`: svscan's own table (README, "svscanctl"; `svscan/src/listing.rs`), checked
//! against `/proc` and against what the scenario did to the scan directory.

use std::collections::BTreeSet;

use integration_tests::json::Json;
use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, Outcome, StubControl, procfs, scenario, wait_until};

use crate::support::{ctl_ok, entry, int_of, list, ours, str_of};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(every_listed_pid_is_a_live_child_of_svscan),
    scenario!(a_removed_entry_shows_inactive_until_its_supervisor_dies),
    scenario!(a_throttled_entry_says_how_long_until_its_restart),
    scenario!(a_failing_spawn_says_its_error_and_the_others_are_queued_behind_it),
    scenario!(a_service_refused_for_too_many_services_is_listed_absent_with_the_reason),
    scenario!(a_log_dir_still_another_services_logger_is_listed_as_waiting_for_old_logger),
];

/// "Every listed pid is a live child of svscan", with the names and partners of the scan
/// directory: a logged pair names each other, an unpaired service has no partner.
fn every_listed_pid_is_a_live_child_of_svscan() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a").logged("b").logged("c");
    let mut sv = fx.start();
    let names = ["a", "b", "b/log", "c", "c/log"];
    sv.wait_for("all started", DEADLINE, |e| {
        names.iter().all(|n| e.pid_of(n).is_some())
    });
    let listing = list(fx.scandir());
    let listed: BTreeSet<&str> = listing.iter().filter_map(|e| str_of(e, "name")).collect();
    assert_eq!(listed, names.into_iter().collect(), "{listing:?}");
    for e in &listing {
        let pid = int_of(e, "pid").expect("a supervised entry has a pid") as i32;
        assert_eq!(
            procfs::ppid(pid),
            Some(sv.pid()),
            "{e:?} is not svscan's child"
        );
        assert_ne!(procfs::state(pid), Some('Z'), "{e:?} is dead");
        assert_eq!(str_of(e, "state"), Some("active"));
        assert!(int_of(e, "up_ms").is_some(), "{e:?}");
        assert_eq!(e.get("why"), Some(&Json::Null));
    }
    let partner = |n| str_of(entry(&listing, n).unwrap(), "partner");
    assert_eq!(partner("a"), None);
    assert_eq!(partner("b"), Some("b/log"));
    assert_eq!(partner("b/log"), Some("b"));
    assert_eq!(
        entry(&listing, "c/log").unwrap().get("logger"),
        Some(&Json::Bool(true))
    );
    // The human form: the name, then the pid, as /proc has them.
    let human = ctl_ok(fx.scandir(), &["-l"]).stdout;
    for line in human.lines() {
        let mut fields = line.split_whitespace();
        let (name, pid) = (fields.next().unwrap(), fields.next().unwrap());
        let e = entry(&listing, name).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(pid, int_of(e, "pid").unwrap().to_string(), "{line}");
        assert_eq!(fields.next(), Some("active"), "{line}");
    }
    assert_eq!(human.lines().count(), names.len());
    Ok(())
}

/// "A removed entry shows inactive": taken out and rescanned, its supervisor lives on (a
/// plain rescan kills nothing) and the listing says so; after `-wn` it is gone.
fn a_removed_entry_shows_inactive_until_its_supervisor_dies() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("gone").service("kept");
    let mut sv = fx.start();
    let gone = sv.wait_started("gone");
    sv.wait_started("kept");
    fx.take_out("gone");
    ctl_ok(fx.scandir(), &["-wa"]);
    let listing = list(fx.scandir());
    let e = entry(&listing, "gone").expect("the removed entry is listed");
    assert_eq!(str_of(e, "state"), Some("inactive"));
    assert_eq!(int_of(e, "pid"), Some(i64::from(gone)));
    assert!(procfs::is_alive(gone));
    let human = ctl_ok(fx.scandir(), &["-l"]).stdout;
    let line = human.lines().find(|l| l.starts_with("gone ")).unwrap();
    assert!(line.contains(" inactive "), "{line}");
    ctl_ok(fx.scandir(), &["-wn"]);
    sv.wait_for("the removed supervisor's exit", DEADLINE, |e| {
        e.exited(gone)
    });
    wait_until("the entry forgotten", DEADLINE, || {
        entry(&list(fx.scandir()), "gone").is_none()
    });
    Ok(())
}

/// "A throttled or failing entry says why": a supervisor that exits at once is throttled
/// until 1 s after its start, and the listing says how long is left.
fn a_throttled_entry_says_how_long_until_its_restart() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.control("flap", StubControl::Exit(0));
    let mut sv = fx.start();
    sv.wait_for("flap started", DEADLINE, |e| !e.starts("flap").is_empty());
    let mut seen = None;
    wait_until("flap listed as throttled", DEADLINE, || {
        let listing = list(fx.scandir());
        let e = entry(&listing, "flap").cloned();
        seen = e.filter(|e| str_of(e, "why") == Some("throttled"));
        seen.is_some()
    });
    let e = seen.unwrap();
    assert_eq!(e.get("pid"), Some(&Json::Null));
    assert_eq!(str_of(&e, "state"), Some("active"));
    let until = int_of(&e, "until_ms").expect("until_ms");
    assert!((0..=1000).contains(&until), "throttled for {until} ms");
    Ok(())
}

/// A failing spawn says its error: with a supervise program that does not exist, the first
/// entry of the pass reports the spawn's errno, the others wait behind it.
fn a_failing_spawn_says_its_error_and_the_others_are_queued_behind_it() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a").service("b").service("c");
    let mut sv = fx.svscan().supervise("/nonexistent/s6-supervise").start();
    sv.wait_until("the spawn failure warned", DEADLINE, |sv| {
        sv.stderr().contains("unable to spawn s6-supervise for ")
    });
    let listing = list(fx.scandir());
    assert_eq!(listing.len(), 3, "{listing:?}");
    let failed: Vec<&Json> = listing
        .iter()
        .filter(|e| str_of(e, "why") == Some("spawn-failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{listing:?}");
    assert_eq!(
        str_of(failed[0], "error"),
        Some("No such file or directory")
    );
    assert_eq!(int_of(failed[0], "errno"), Some(2));
    let until = int_of(failed[0], "until_ms").unwrap();
    assert!((0..=10_000).contains(&until), "retry in {until} ms");
    let queued = listing
        .iter()
        .filter(|e| str_of(e, "why") == Some("queued"))
        .count();
    assert_eq!(queued, 2, "{listing:?}");
    let human = ctl_ok(fx.scandir(), &["-l"]).stdout;
    assert!(
        human.contains("spawn failed: No such file or directory, retry in "),
        "{human}"
    );
    Ok(())
}

/// "Too many services": with `-C 4` (the least) and five services, the one the scan stopped
/// at is listed as absent, with the reason.
fn a_service_refused_for_too_many_services_is_listed_absent_with_the_reason() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    for n in ["a", "b", "c", "d", "e"] {
        fx.service(n);
    }
    let mut sv = fx.svscan().args(["-C", "4"]).start();
    sv.wait_until("too many services warned", DEADLINE, |sv| {
        sv.stderr().contains("too many services")
    });
    let listing = list(fx.scandir());
    let absent: Vec<&Json> = listing
        .iter()
        .filter(|e| str_of(e, "state") == Some("absent"))
        .collect();
    assert_eq!(absent.len(), 1, "{listing:?}");
    assert_eq!(str_of(absent[0], "why"), Some("too-many-services"));
    let name = str_of(absent[0], "name").unwrap();
    assert!(
        sv.stderr()
            .contains(&format!("supervisor for {name}: too many"))
    );
    // The entries that got a slot: found by an incomplete scan, waiting for a complete one.
    let new = listing
        .iter()
        .filter(|e| str_of(e, "state") == Some("new"))
        .count();
    assert_eq!(new, 4, "{listing:?}");
    let human = ctl_ok(fx.scandir(), &["-l"]).stdout;
    assert!(
        human.contains("too many services, next scan in "),
        "{human}"
    );
    Ok(())
}

/// "Waiting for old logger": a logger moved under another service is still the first
/// service's logger; the scan stops at the new `NAME/log` and the listing names it.
fn a_log_dir_still_another_services_logger_is_listed_as_waiting_for_old_logger() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.logged("x").service("y");
    let mut sv = fx.start();
    sv.wait_for("x, x/log, y started", DEADLINE, |e| {
        ["x", "x/log", "y"].iter().all(|n| e.pid_of(n).is_some())
    });
    fx.rename("x/log", "y/log");
    sv.ctl("a");
    sv.wait_until("the old logger warning", DEADLINE, |sv| {
        sv.stderr()
            .contains("old service y/log still exists, waiting")
    });
    let listing = list(fx.scandir());
    let e = entry(&listing, "y/log").expect("y/log listed");
    assert_eq!(str_of(e, "state"), Some("absent"));
    assert_eq!(str_of(e, "why"), Some("waiting-for-old-logger"));
    // The old pair is still as it was: x/log is x's logger, supervised.
    let old = entry(&listing, "x/log").unwrap();
    assert_eq!(str_of(old, "partner"), Some("x"));
    assert!(int_of(old, "pid").is_some());
    Ok(())
}
