//! svscan's steady state allocates nothing on the heap (issue 5; `svscan/src/table.rs`: "Nothing
//! here allocates once the load is steady"; STYLE: "no allocation per loop turn"): neither
//! while idle nor in a respawn cycle (reap, then start), so a long-running root of the
//! supervision tree cannot fragment or grow its heap. Allocations are counted by an
//! `LD_PRELOAD` shim (`alloc_count.c`, built by `integration_tests::alloc`) in a shared
//! counter file; the shim takes itself out of the environment, so the supervisors are not
//! counted. Each scenario
//! also shows the counter moving when svscan does allocate, so that it can fail.

use std::process::Command;
use std::time::Duration;

use integration_tests::alloc::Counter;
use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Events, Fixture, Launch, Outcome, StubControl, Svscan, binary, ours_only, procfs,
    program, scenario,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(idle_svscan_allocates_nothing_and_a_new_service_does),
    scenario!(respawn_cycles_allocate_nothing).slow(),
    scenario!(clients_querying_l_and_w_repeatedly_allocate_nothing),
];

/// svscan with the allocation counter's shim preloaded, to add options to.
fn launch<'f>(counter: &Counter, fx: &'f Fixture) -> Launch<'f> {
    counter
        .env()
        .into_iter()
        .fold(fx.svscan(), |launch, (key, value)| launch.env(key, value))
}

/// svscan with the allocation counter's shim preloaded.
fn start<'f>(counter: &Counter, fx: &'f Fixture) -> Svscan<'f> {
    launch(counter, fx).start()
}

/// Waits until svscan is between two turns of its loop.
fn wait_quiet(sv: &mut Svscan<'_>) {
    sv.wait_until("svscan asleep in poll", DEADLINE, |sv| {
        procfs::in_poll(sv.pid())
    });
}

/// The shim cannot reach the C s6-svscan, which runs behind `unshare` and `sh` (the shim
/// takes itself out of the environment in the first of them); the property is ours.
fn counted_svscan_is_ours() -> Outcome {
    ours_only("the allocation counter reaches only our svscan (C runs behind unshare and sh)")
}

fn all_started(e: &Events, names: &[&str], starts: usize) -> bool {
    names.iter().all(|n| e.starts(n).len() >= starts)
}

/// Issue 5: "svscan's steady state — idle — allocates nothing on the heap", and the loop
/// "sleeps until a signal or a command arrives (zero wake-ups while idle)"; a scan that finds
/// a new service does allocate (its entry), which the counter shows.
fn idle_svscan_allocates_nothing_and_a_new_service_does() -> Outcome {
    counted_svscan_is_ours()?;
    let fx = Fixture::new();
    let names = ["a", "b", "c", "c/log", "d", "d/log"];
    fx.service("a").service("b").logged("c").logged("d");
    let counter = Counter::new(fx.tmp());
    let mut sv = start(&counter, &fx);
    sv.wait_for("every supervisor started", DEADLINE, |e| {
        all_started(e, &names, 1)
    });
    wait_quiet(&mut sv);
    let before = counter.after_start_up();
    counter.assert_idle(before, "svscan");
    wait_quiet(&mut sv);
    assert_eq!(counter.get(), before, "{}", counter.trace_after(before));

    fx.service("new");
    sv.ctl("a");
    sv.wait_for("the new service started", DEADLINE, |e| {
        !e.starts("new").is_empty()
    });
    wait_quiet(&mut sv);
    assert!(
        counter.get() > before,
        "a scan that registered a new service allocated nothing: the counter is blind"
    );
    let events = sv.events();
    for name in names {
        assert_eq!(events.starts(name).len(), 1, "{name} was restarted");
    }
    Ok(())
}

/// Issue 5: "a respawn cycle of a supervisor that exits at once allocates nothing on the
/// heap" (`svscan/src/start.rs`: "The entry's file actions are reused when the moves are the
/// same as last time, so a respawn allocates nothing"): both for an unlogged service and for
/// the service of a logged pair, whose spawn moves its pipe end to fd 1.
fn respawn_cycles_allocate_nothing() -> Outcome {
    counted_svscan_is_ours()?;
    let fx = Fixture::new();
    fx.service("idle")
        .control("flap", StubControl::Exit(0))
        .logged("piped")
        .control("piped", StubControl::Exit(0));
    let counter = Counter::new(fx.tmp());
    let mut sv = start(&counter, &fx);
    let flapping = ["flap", "piped"];
    // Start-up and the first start of each (a logged service's file actions) allocate; the
    // count is taken from the first respawn on.
    sv.wait_for("a first respawn of each", DEADLINE, |e| {
        all_started(e, &flapping, 2) && !e.starts("piped/log").is_empty()
    });
    wait_quiet(&mut sv);
    let before = counter.after_start_up();
    let starts = sv
        .events()
        .starts("flap")
        .len()
        .min(sv.events().starts("piped").len());

    let cycles = 3;
    sv.wait_for(
        &format!("{cycles} more respawns of each"),
        DEADLINE + Duration::from_secs(cycles),
        |e| all_started(e, &flapping, starts + cycles as usize),
    );
    wait_quiet(&mut sv);
    assert_eq!(
        counter.get(),
        before,
        "{cycles} respawn cycles allocated; the shim's trace:\n{}",
        counter.trace_after(before)
    );
    let events = sv.events();
    assert_eq!(events.starts("idle").len(), 1);
    assert_eq!(
        events.starts("piped/log").len(),
        1,
        "the logger is not restarted"
    );
    Ok(())
}

/// Runs our `svscanctl ARGS DIR`, which must succeed.
fn svscanctl(fx: &Fixture, args: &[&str]) {
    let ran = program::run(
        Command::new(binary("svscanctl"))
            .args(args)
            .arg(fx.scandir()),
        DEADLINE,
    );
    assert_eq!(ran.code, Some(0), "svscanctl {args:?}: {ran:?}");
}

/// Issue 11: "heap-free steady state still holds (the allocation test extended to a client
/// querying `-l` and `-w` repeatedly)": svscan's request socket serves each client from a
/// fixed array and stack buffers (`svscan/src/clients.rs`), and its events are published
/// without allocating, so listings and acknowledged commands cost no allocation; a rescan
/// asked with `-wa` costs exactly what the FIFO's `a` costs (the scanner's own, if any).
/// svscan runs with `--watch`, so that the inotify descriptor is in its poll set too.
fn clients_querying_l_and_w_repeatedly_allocate_nothing() -> Outcome {
    counted_svscan_is_ours()?;
    let fx = Fixture::new();
    let names = ["a", "b", "c", "c/log"];
    fx.service("a").service("b").logged("c");
    let counter = Counter::new(fx.tmp());
    let mut sv = launch(&counter, &fx).arg("--watch").start();
    sv.wait_for("every supervisor started", DEADLINE, |e| {
        all_started(e, &names, 1)
    });
    wait_quiet(&mut sv);
    let before = counter.after_start_up();
    for _ in 0..10 {
        for args in [&["-l"][..], &["-lj"], &["-wz"], &["-wn"], &["-wN"], &["-w"]] {
            svscanctl(&fx, args);
        }
    }
    wait_quiet(&mut sv);
    assert_eq!(
        counter.get(),
        before,
        "60 clients of -l and -w allocated; the shim's trace:\n{}",
        counter.trace_after(before)
    );

    // Rescans: the FIFO's `a`, each waited for on the `s` event, then as many `-wa`.
    let rounds = 5;
    let mut events = common::ftrig::Subscriber::new(&fx.path(common::SVSCAN_EVENT_DIR))
        .expect("subscribe to svscan's events");
    let base = counter.get();
    for _ in 0..rounds {
        sv.ctl("a");
        let mut scanned = false;
        sv.wait_until("the s event of the rescan", DEADLINE, |_| {
            let _ = events.read(|b| scanned |= b == b's');
            scanned
        });
    }
    wait_quiet(&mut sv);
    let by_fifo = counter.get() - base;
    integration_tests::note!("{rounds} FIFO rescans allocated {by_fifo} times");
    let base = counter.get();
    for _ in 0..rounds {
        svscanctl(&fx, &["-wa"]);
    }
    wait_quiet(&mut sv);
    let by_socket = counter.get() - base;
    assert_eq!(
        by_socket,
        by_fifo,
        "{rounds} rescans through -wa allocated {by_socket} times, through the FIFO \
         {by_fifo}; the shim's trace:\n{}",
        counter.trace_after(base)
    );
    let events = sv.events();
    for name in names {
        assert_eq!(events.starts(name).len(), 1, "{name} was restarted");
    }
    Ok(())
}
