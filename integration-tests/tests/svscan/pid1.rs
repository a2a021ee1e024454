//! svscan as PID 1 of a PID namespace (`unshare --pid --fork --mount-proc`): it inherits the
//! namespace's orphans and must reap them, and it must still tear down cleanly on SIGTERM,
//! sent from outside or from inside. The stubs record the namespace's pids; the test maps
//! them to its own with `pidns::outer_pid`.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Outcome, StubControl, pidns, procfs, scenario, signal_pid,
};
use nix::sys::signal::Signal;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(as_pid_1_svscan_reaps_an_orphaned_grandchild_and_sigterm_tears_down).slow(),
    scenario!(as_pid_1_a_sigterm_from_inside_the_namespace_tears_down),
];

/// The reaper: "Collect every dead child without blocking, including ones svscan did not
/// start (it may be PID 1)"; and SIGTERM = `t` there too ("wait for all", exit 0). `a`
/// starts a grandchild that outlives it: orphaned, it is reparented to svscan, and when it
/// dies svscan reaps it, so no zombie is left in the namespace.
fn as_pid_1_svscan_reaps_an_orphaned_grandchild_and_sigterm_tears_down() -> Outcome {
    pidns::available()?;
    let fx = Fixture::new();
    fx.service("a").service("b");
    fx.control(
        "a",
        StubControl::SpawnOrphan(Some(Duration::from_millis(4000))),
    );
    fx.control("a", StubControl::ExitAfter(Duration::from_millis(300)));
    let mut sv = fx.svscan().start_wrapped(&pidns::UNSHARE_PID);
    let unshare = sv.pid();

    let events = sv.wait_for("a, its orphan and b started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("b").is_some() && e.find("orphan", "a").count() > 0
    });
    let first_a = events.starts("a")[0].pid;
    let orphan = events.find("orphan", "a").next().unwrap().clone();
    for name in ["a", "b"] {
        assert_eq!(
            events.last_start(name).unwrap().int("ppid"),
            Some(1),
            "{name} is a child of svscan, pid 1 in the namespace"
        );
    }
    assert_eq!(orphan.int("ppid"), Some(i64::from(first_a)));
    // The restarts of `a` are plain stubs.
    fx.remove("a/stub-spawn-orphan").remove("a/stub-exit-after");

    let svscan = procfs::children(unshare)
        .into_iter()
        .find(|p| pidns::nspids(*p).last() == Some(&1))
        .expect("svscan, pid 1 of the namespace, under unshare");
    let orphan_outer =
        pidns::outer_pid(unshare, orphan.pid).expect("the orphan, seen from outside");

    sv.wait_for("a's first supervisor exited", DEADLINE, |e| {
        e.exited(first_a)
    });
    sv.wait_until("the orphan reparented to svscan", DEADLINE, |_| {
        procfs::ppid(orphan_outer) == Some(svscan)
    });
    sv.wait_for("the orphan's life over", DEADLINE, |e| e.exited(orphan.pid));
    sv.wait_until("the orphan reaped by svscan", DEADLINE, |_| {
        !procfs::process_exists(orphan_outer)
    });
    assert_eq!(procfs::zombie_children(svscan), [] as [i32; 0]);

    let b = sv.events().pid_of("b").unwrap();
    signal_pid(svscan, Signal::SIGTERM);
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_of(b), ["SIGTERM"]);
    for name in ["a", "b"] {
        assert!(
            events.running(name).is_empty(),
            "svscan waited for every supervisor of {name}"
        );
    }
    Ok(())
}

/// As PID 1, signals from inside the namespace reach svscan too (the kernel drops a signal
/// to a namespace's init only when init leaves it at its default action, which a signal
/// svscan traps is not): `kill -TERM 1` from a process in the namespace is `t`.
fn as_pid_1_a_sigterm_from_inside_the_namespace_tears_down() -> Outcome {
    pidns::available()?;
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.svscan().start_wrapped(&pidns::UNSHARE_PID);
    let unshare = sv.pid();
    sv.wait_for("a and a/log started", DEADLINE, |e| {
        e.pid_of("a").is_some() && e.pid_of("a/log").is_some()
    });
    let svscan = procfs::children(unshare)
        .into_iter()
        .find(|p| pidns::nspids(*p).last() == Some(&1))
        .expect("svscan, pid 1 of the namespace, under unshare");
    let status = std::process::Command::new("nsenter")
        .args(["--target", &svscan.to_string(), "--pid", "--mount", "--"])
        .args(["kill", "-TERM", "1"])
        .status()
        .expect("nsenter");
    // The kill may be killed itself: when svscan, the namespace's init, is quick to exit,
    // the kernel kills whatever is left in the namespace with SIGKILL.
    assert!(
        status.success() || status.signal() == Some(Signal::SIGKILL as i32),
        "nsenter ... kill -TERM 1: {status:?}"
    );
    let exit = sv.wait_exit(DEADLINE);
    assert!(exit.success(), "{exit:?}: {}", sv.stderr());
    let events = sv.events();
    assert_eq!(events.signals_to("a"), ["SIGTERM"]);
    assert_eq!(events.signals_to("a/log"), ["SIGHUP"]);
    for name in ["a", "a/log"] {
        assert!(events.running(name).is_empty(), "{name} still running");
    }
    Ok(())
}
