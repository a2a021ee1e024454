//! "The reaper": every dead child is collected, including ones svscan did not start; an
//! active entry's dead supervisor is due again, an inactive one's is forgotten.

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, Outcome, Skip, StubControl, Svscan, implementation, procfs,
    scenario, signal_pid,
};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::shared::{outside, start_gone_and_kept, supervisors};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(a_zombie_inherited_at_exec_is_reaped_at_once),
    scenario!(an_inactive_supervisor_that_dies_is_not_restarted),
    scenario!(inactive_supervisor_is_not_killed_by_a_rescan_nor_restarted_when_it_dies).slow(),
];

/// The reaper: "Collect every dead child without blocking, including ones svscan did not
/// start (it may be PID 1)". A PID 1 exec'd by a stage-1 script can start with children of
/// that script already dead and no SIGCHLD to come about them: svscan reaps them at once,
/// not only when some later child dies (with no service at all, none ever does).
fn a_zombie_inherited_at_exec_is_reaped_at_once() -> Outcome {
    let fx = Fixture::new();
    let mut sv = fx.svscan().start_with_zombie();
    let svscan = sv.pid();
    let reaped = |_: &Svscan<'_>| procfs::zombie_children(svscan).is_empty();
    if implementation() == Implementation::C {
        // C 2.12 starts with nothing to do (`what = 0`, seed line 1511) and reaps only on a
        // SIGCHLD; the C wrapper's shell may have reaped the zombie itself anyway.
        return Err(Skip::differs(format!(
            "fix: C's first turn does not reap (zombie children at start: {:?})",
            procfs::zombie_children(svscan)
        )));
    }
    sv.wait_until("the inherited zombie reaped", DEADLINE, reaped);
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    Ok(())
}

/// "A dead supervisor of an inactive entry: the entry is forgotten", and "Removed
/// ("inactive") supervisors are not killed by a plain rescan and not restarted when they
/// die": an inactive supervisor killed from outside stays dead, while svscan goes on.
fn an_inactive_supervisor_that_dies_is_not_restarted() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.rescan("marker1");
    let pid = sv.events().pid_of("gone").unwrap();
    signal_pid(pid, Signal::SIGTERM);
    sv.wait_for("gone exited", DEADLINE, |e| e.exited(pid));
    // marker1 killed from outside is restarted (its 1 s throttle is over by then), which
    // shows that a start pass ran after gone's death; then one more scan as a barrier.
    let marker = sv.events().pid_of("marker1").unwrap();
    signal_pid(marker, Signal::SIGTERM);
    sv.wait_for("marker1 restarted", DEADLINE, |e| {
        e.starts("marker1").len() == 2
    });
    sv.rescan("marker2");
    let events = sv.events();
    assert_eq!(events.starts("gone").len(), 1, "gone was restarted");
    assert_eq!(events.starts("gone/log").len(), 1);
}

/// "Removed ("inactive") supervisors are not killed by a plain rescan and not restarted when
/// they die": `r`, whose directory is removed, gets no signal, and when it exits on its own
/// it stays dead, while its twin `w`, started with it and exiting with it, is restarted.
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
