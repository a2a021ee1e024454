//! supervise's steady state allocates nothing on the heap (issue 9: "no heap allocation in
//! the steady state (the allocation-counting test extended to supervise: idle and a restart
//! cycle)"), counted by the LD_PRELOAD shim of `integration_tests::alloc`. The start-up does
//! allocate (the command line, PROG), which shows the counter is loaded and can move.

use integration_tests::scenario;
use integration_tests::suite::Scenario;

use integration_tests::DEADLINE;
use integration_tests::alloc::Counter;
use integration_tests::service::{Observed, ServiceDir, Supervised, Supervisor};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(idle_supervise_allocates_nothing).slow(),
    scenario!(restart_cycles_allocate_nothing),
];

fn start<'d>(dir: &'d ServiceDir, counter: &Counter) -> Supervised<'d> {
    let mut launch = dir.launch(Supervisor::Ours);
    for (key, value) in counter.env() {
        launch = launch.env(key, value);
    }
    launch.start()
}

fn wait_quiet(sv: &mut Supervised<'_>) {
    let pid = sv.pid();
    sv.wait_until("supervise asleep in poll", DEADLINE, |_| {
        integration_tests::procfs::in_poll(pid)
    });
}

/// Idle, with the service up and ready and a subscriber on the fifodir: nothing allocated
/// over an observation window (and no wake-up in it: the loop has no timer while up).
fn idle_supervise_allocates_nothing() {
    let dir = ServiceDir::new();
    dir.run("echo >&3\nexec sleep 1000")
        .write("notification-fd", "3");
    let counter = Counter::new(dir.tmp());
    let mut events = dir.watch();
    let mut sv = start(&dir, &counter);
    sv.wait_status("up and ready", |s| s.up() && s.ready);
    events.wait_contains("suU");
    wait_quiet(&mut sv);
    let before = counter.after_start_up();
    counter.assert_idle(before, "supervise");
    wait_quiet(&mut sv);
    assert_eq!(counter.get(), before, "{}", counter.trace_after(before));
}

/// A restart cycle, with everything a cycle touches: `o` starts run (through the lock-fd
/// helper, with a notification pipe), readiness, the death (tally rewrite), finish, the
/// events to a live subscriber, the status writes, and kill letters; after a first cycle (the
/// spawn's file actions are built once), more cycles allocate nothing.
fn restart_cycles_allocate_nothing() {
    let dir = ServiceDir::new();
    dir.run("echo >&3\nexec sleep 1000")
        .write("notification-fd", "3")
        .write("lock-fd", "5")
        .write("down", "")
        .finish("exit 0");
    let counter = Counter::new(dir.tmp());
    let mut events = dir.watch();
    let mut sv = start(&dir, &counter);
    let cycle = |sv: &mut Supervised<'_>, events: &mut integration_tests::service::Events| {
        events.clear();
        sv.ctl("o");
        sv.wait_status("up and ready", |s| s.up() && s.ready);
        sv.ctl("pc");
        sv.wait_status("continued", |s| !s.paused);
        sv.ctl("k");
        events.wait_contains("dD");
        sv.wait_status("down", |s| s.pid == 0 && !s.finishing);
    };
    cycle(&mut sv, &mut events);
    wait_quiet(&mut sv);
    let before = counter.get();
    assert!(before > 0, "the shim counted nothing: is it loaded?");
    for _ in 0..5 {
        cycle(&mut sv, &mut events);
    }
    wait_quiet(&mut sv);
    assert_eq!(
        counter.get(),
        before,
        "5 restart cycles allocated; the shim's trace:\n{}",
        counter.trace_after(before)
    );
}
