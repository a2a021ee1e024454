//! `svscanctl -w`: each letter returns once its effect has happened (README, "svscanctl";
//! `svscan/src/acks.rs`), exactly under concurrency, bounded by `-T`; and `-w`/`-l` against
//! the C s6-svscan fail at once.

use std::time::Duration;

use common::LOCK_FILE;
use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, Outcome, UnderTest, procfs, real_s6, scenario, signal_pid,
    wait_until,
};
use nix::sys::signal::Signal;

use crate::support::{ctl, ctl_background, ctl_ok, ours, pending, supervisor_of};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(wa_returns_once_the_new_service_has_its_supervisor),
    scenario!(wh_returns_once_the_removed_service_has_been_sent_sigterm),
    scenario!(wn_and_wbig_n_return_once_the_kills_of_inactive_supervisors_are_sent),
    scenario!(wz_returns_once_a_reap_pass_has_run),
    scenario!(leaving_letters_return_once_svscan_has_released_its_lock),
    scenario!(connections_are_numbered_above_the_lock_so_it_is_released_first),
    scenario!(eight_concurrent_clients_each_find_their_own_service_supervised),
    scenario!(an_unrelated_scan_finishing_does_not_release_a_waiting_client),
    scenario!(t_bounds_the_wait_and_expiry_is_exit_99_timed_out),
    scenario!(w_and_l_against_the_c_s6_svscan_fail_clearly_and_plain_letters_work),
    scenario!(w_and_l_without_a_supervisor_say_not_listening),
    scenario!(a_client_gone_before_the_answer_still_had_its_commands_run),
];

const SIGHUP: i32 = Signal::SIGHUP as i32;
const SIGTERM: i32 = Signal::SIGTERM as i32;

/// `-wa`: "returns only once a complete scan that began after svscan read the `a` has
/// finished and the start pass after it has run": the new service's supervisor is svscan's
/// child when it returns, with nothing waited for after it.
fn wa_returns_once_the_new_service_has_its_supervisor() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("old");
    let mut sv = fx.start();
    sv.wait_started("old");
    for i in 0..5 {
        let name = format!("new{i}");
        fx.service(&name);
        ctl_ok(fx.scandir(), &["-wa"]);
        assert!(
            supervisor_of(sv.pid(), &name).is_some(),
            "{name} has no supervisor when -wa returns"
        );
    }
    Ok(())
}

/// Stops `pid` so that a signal sent to it stays pending, to be seen in /proc.
fn freeze(pid: i32) {
    signal_pid(pid, Signal::SIGSTOP);
    wait_until("the supervisor stopped", DEADLINE, || {
        procfs::state(pid) == Some('T')
    });
}

/// `-wh`: "the same, and the kills of removed services have been sent": the supervisor of a
/// service taken out has SIGTERM pending (it is stopped, so it stays pending) on return.
fn wh_returns_once_the_removed_service_has_been_sent_sigterm() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("gone").service("stays");
    let mut sv = fx.start();
    let events = sv.wait_for("both started", DEADLINE, |e| {
        e.pid_of("gone").is_some() && e.pid_of("stays").is_some()
    });
    let (gone, stays) = (
        events.pid_of("gone").unwrap(),
        events.pid_of("stays").unwrap(),
    );
    freeze(gone);
    fx.take_out("gone");
    ctl_ok(fx.scandir(), &["-wh"]);
    assert!(
        pending(gone).contains(&SIGTERM),
        "no SIGTERM pending for the removed service's supervisor on return: {:?}",
        pending(gone)
    );
    assert!(pending(stays).is_empty(), "the kept service was signalled");
    signal_pid(gone, Signal::SIGCONT);
    Ok(())
}

/// `-wn` and `-wN`: "the kills have been sent": loggers of removed services get SIGHUP
/// with `n` and SIGTERM with `N`, services SIGTERM, and it is pending on return.
fn wn_and_wbig_n_return_once_the_kills_of_inactive_supervisors_are_sent() -> Outcome {
    ours()?;
    for (letter, logger_signal) in [("-wn", SIGHUP), ("-wN", SIGTERM)] {
        let fx = Fixture::new();
        fx.logged("x").service("kept");
        let mut sv = fx.start();
        let names = ["x", "x/log"];
        let events = sv.wait_for("x and x/log started", DEADLINE, |e| {
            names.iter().all(|n| e.pid_of(n).is_some()) && e.pid_of("kept").is_some()
        });
        let pids: Vec<i32> = names.iter().map(|n| events.pid_of(n).unwrap()).collect();
        fx.take_out("x");
        // The plain rescan makes them inactive without a kill.
        ctl_ok(fx.scandir(), &["-wa"]);
        for &p in &pids {
            freeze(p);
            assert!(pending(p).is_empty(), "a plain rescan signalled {p}");
        }
        ctl_ok(fx.scandir(), &[letter]);
        assert!(pending(pids[0]).contains(&SIGTERM), "{letter}: service");
        assert!(
            pending(pids[1]).contains(&logger_signal),
            "{letter}: logger {:?}",
            pending(pids[1])
        );
        for &p in &pids {
            signal_pid(p, Signal::SIGCONT);
        }
    }
    Ok(())
}

/// `-wz`: "a reap pass has run": a supervisor that died while svscan was stopped is a zombie
/// until then, and is gone when `-wz` returns.
fn wz_returns_once_a_reap_pass_has_run() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    let a = sv.wait_started("a");
    sv.signal(Signal::SIGSTOP);
    signal_pid(a, Signal::SIGKILL);
    wait_until("a to be a zombie", DEADLINE, || {
        procfs::zombie_children(sv.pid()).contains(&a)
    });
    // Connected and sent while svscan is stopped: read by its next turn.
    let mut client = ctl_background(fx.scandir(), &["-wz"]);
    sv.signal(Signal::SIGCONT);
    let exit = client.wait_exit(DEADLINE).expect("-wz never returned");
    assert!(exit.success(), "{exit:?}");
    assert!(
        !procfs::zombie_children(sv.pid()).contains(&a),
        "the dead supervisor is still a zombie when -wz returns"
    );
    Ok(())
}

/// `-wt`, `-wi`, `-wq`, `-wb`: "svscan has left its loop and released its lock (finish
/// exec'd, or exited)": the lock is free when the client returns; with `t`, `i`, `q` every
/// supervisor has died first, with `b` they are left running.
fn leaving_letters_return_once_svscan_has_released_its_lock() -> Outcome {
    ours()?;
    for letter in ["t", "i", "q", "b"] {
        let fx = Fixture::new();
        fx.service("a").logged("b");
        if letter == "t" {
            // finish is exec'd: svscan's pid lives on, as the script, without the lock.
            fx.script(".s6-svscan/finish", "#!/bin/sh\nexec sleep 100\n");
        }
        let mut sv = fx.start();
        let names = ["a", "b", "b/log"];
        let events = sv.wait_for("all started", DEADLINE, |e| {
            names.iter().all(|n| e.pid_of(n).is_some())
        });
        let pids: Vec<i32> = names.iter().map(|n| events.pid_of(n).unwrap()).collect();
        assert_eq!(common::lock::is_locked(&fx.path(LOCK_FILE)), Ok(Some(true)));
        ctl_ok(fx.scandir(), &[&format!("-w{letter}")]);
        assert_eq!(
            common::lock::is_locked(&fx.path(LOCK_FILE)),
            Ok(Some(false)),
            "-w{letter} returned with the lock held"
        );
        for p in pids {
            let alive = procfs::is_alive(p);
            assert_eq!(
                alive,
                letter == "b",
                "-w{letter}: supervisor {p} alive: {alive}"
            );
        }
        if letter == "t" {
            assert!(!sv.has_exited(), "finish was not exec'd");
        }
    }
    Ok(())
}

/// Why the leaving letters' answer comes after the lock: the kernel closes a process's
/// descriptors in increasing order at exec and exit, and svscan numbers its connections above
/// the lock's descriptor, even when a lower number is free (the readiness fd 3, closed after
/// start-up, is the first free one).
fn connections_are_numbered_above_the_lock_so_it_is_released_first() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    let mut sv = fx.start();
    // The scans fail (a dangling link), so the client waits, connected.
    fx.symlink("nowhere", "dangling");
    let mut client = ctl_background(fx.scandir(), &["-wa"]);
    let svscan = sv.pid();
    let fds = || procfs::fds(svscan);
    let lock = || {
        fds()
            .into_iter()
            .find(|(_, path)| path.ends_with(LOCK_FILE))
            .map(|(fd, _)| fd)
    };
    let sockets = || {
        fds()
            .into_iter()
            .filter(|(_, path)| path.to_string_lossy().starts_with("socket:"))
            .map(|(fd, _)| fd)
            .collect::<Vec<_>>()
    };
    wait_until("the client connected", DEADLINE, || sockets().len() == 2);
    let lock = lock().expect("svscan holds the lock");
    assert!(
        sockets().iter().all(|&fd| fd > lock),
        "a socket below the lock's fd {lock}: {:?}",
        fds()
    );
    assert!(
        !fds().iter().any(|&(fd, _)| fd == 3),
        "fd 3 is free, yet unused"
    );
    fx.remove("dangling");
    sv.ctl("a");
    assert!(client.wait_exit(DEADLINE).is_some_and(|e| e.success()));
    Ok(())
}

/// "It must be exact under concurrency: several clients each adding a service and running
/// `svscanctl -wa` at the same time each find their own service supervised when they
/// return": 8 clients, each several times, while periodic scans (`-t 2`) keep finishing.
fn eight_concurrent_clients_each_find_their_own_service_supervised() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    let sv = fx.svscan().args(["-t", "2"]).start();
    let svscan = sv.pid();
    let dir = fx.scandir().to_owned();
    std::thread::scope(|s| {
        for client in 0..8 {
            let dir = &dir;
            s.spawn(move || {
                for round in 0..4 {
                    let name = format!("c{client}r{round}");
                    std::fs::create_dir(dir.join(&name)).unwrap();
                    ctl_ok(dir, &["-wa"]);
                    assert!(
                        supervisor_of(svscan, &name).is_some(),
                        "{name} has no supervisor when its client's -wa returns"
                    );
                }
            });
        }
    });
    Ok(())
}

/// "An unrelated scan finishing while a client waits must not release it early": svscan is
/// kept busy with slow scans (20000 plain files to stat); each round starts one with the
/// FIFO, then adds a service and runs `-wa` while that scan runs. The scan in progress
/// began before svscan read the client's `a` (and maybe before the directory existed); its
/// end, seen as an `s` event, must not release the client, which must find its service
/// supervised. The rounds also count how often such a scan did finish while the client
/// waited, so that the scenario shows it tested something.
fn an_unrelated_scan_finishing_does_not_release_a_waiting_client() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    for i in 0..20_000 {
        std::fs::write(fx.path(format!("f{i:05}")), b"").unwrap();
    }
    let mut sv = fx.start();
    let svscan = sv.pid();
    let events_dir = fx.path(common::SVSCAN_EVENT_DIR);
    let mut overtaken = 0;
    for round in 0..10 {
        let mut sub = common::ftrig::Subscriber::new(&events_dir).unwrap();
        sv.ctl("a");
        let name = format!("r{round}");
        fx.service(&name);
        let (ran, _) = ctl(fx.scandir(), &["-wa"]);
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(
            supervisor_of(svscan, &name).is_some(),
            "{name} has no supervisor when -wa returns"
        );
        let mut scans = 0;
        sub.read(|b| scans += usize::from(b == b's')).unwrap();
        if scans >= 2 {
            overtaken += 1;
        }
    }
    integration_tests::note!(
        "rounds where another scan finished while the client waited: {overtaken}/10"
    );
    assert!(
        overtaken > 0,
        "no scan finished while a client waited: the scenario tested nothing"
    );
    Ok(())
}

/// "`-T ms` bounds the wait: on expiry `PROG: fatal: timed out`, exit 99": a dangling
/// symlink abandons every scan (retried every 4 s), so `-wa` cannot be answered.
fn t_bounds_the_wait_and_expiry_is_exit_99_timed_out() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    sv.wait_started("a");
    fx.symlink("nowhere", "dangling");
    let (ran, took) = ctl(fx.scandir(), &["-T", "300", "-wa"]);
    assert_eq!(ran.code, Some(99), "{ran:?}");
    assert_eq!(ran.stderr, "svscanctl: fatal: timed out\n");
    assert!(
        took >= Duration::from_millis(300),
        "expired early: {took:?}"
    );
    // Once the link is gone the next scan (4 s later) completes: the same wait succeeds.
    fx.remove("dangling");
    let (ran, _) = ctl(fx.scandir(), &["-T", "8000", "-wa"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    // -T also bounds -l against a svscan that does not answer.
    sv.signal(Signal::SIGSTOP);
    let (ran, _) = ctl(fx.scandir(), &["-T", "200", "-l"]);
    sv.signal(Signal::SIGCONT);
    assert_eq!(ran.code, Some(99), "{ran:?}");
    Ok(())
}

/// "Our `svscanctl`'s plain letters keep driving the C `s6-svscan`, and `-w`/`-l` against it
/// fail with a clear error, not a hang": Debian's s6-svscan has no socket.
fn w_and_l_against_the_c_s6_svscan_fail_clearly_and_plain_letters_work() -> Outcome {
    let c = real_s6("s6-svscan")?;
    let fx = Fixture::new();
    let mut sv = fx
        .svscan()
        .under(UnderTest {
            path: c,
            implementation: Implementation::C,
        })
        .start();
    let dir = fx.scandir();
    let refused = format!(
        "svscanctl: fatal: unable to control {d}: supervisor does not take -w or -l \
         (nothing listens on {d}/.s6-svscan/socket)\n",
        d = dir.display()
    );
    for args in [&["-wa"][..], &["-l"], &["-lj"], &["-w"]] {
        // A hang fails too: `ctl` panics when svscanctl outlives DEADLINE.
        let (ran, _) = ctl(dir, args);
        assert_eq!(
            (ran.code, ran.stderr.as_str()),
            (Some(100), refused.as_str()),
            "{args:?}"
        );
    }
    fx.service("new");
    ctl_ok(dir, &["-a"]);
    sv.wait_for("C started the new service", DEADLINE, |e| {
        e.pid_of("new").is_some()
    });
    ctl_ok(dir, &["-t"]);
    assert!(sv.wait_exit(DEADLINE).success());
    Ok(())
}

/// With nobody listening, `-w` and `-l` say so as the FIFO client does (exit 100): no
/// `.s6-svscan` at all, or a FIFO without a reader (a dead svscan's, with its socket).
fn w_and_l_without_a_supervisor_say_not_listening() -> Outcome {
    let fx = Fixture::new();
    let dir = fx.scandir();
    let not_listening = format!(
        "svscanctl: fatal: unable to control {}: supervisor not listening\n",
        dir.display()
    );
    let check = || {
        for args in [&["-wa"][..], &["-l"]] {
            let (ran, _) = ctl(dir, args);
            assert_eq!(ran.code, Some(100), "{ran:?}");
            assert_eq!(ran.stderr, not_listening);
        }
    };
    check();
    ours()?;
    let mut sv = fx.start();
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success());
    assert!(
        fx.path(common::SVSCAN_SOCKET).exists(),
        "the dead svscan's socket"
    );
    check();
    Ok(())
}

/// A client that wrote `-wa` and was killed before the answer still had its rescan done, as
/// a FIFO writer would: the commands are svscan's once read.
fn a_client_gone_before_the_answer_still_had_its_commands_run() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    sv.wait_started("a");
    sv.signal(Signal::SIGSTOP);
    fx.service("b");
    let client = ctl_background(fx.scandir(), &["-wa"]);
    // Its request is in svscan's socket once it has connected and sent; kill it then.
    wait_until("the client waiting for its answer", DEADLINE, || {
        procfs::in_poll(client.pid())
    });
    drop(client);
    sv.signal(Signal::SIGCONT);
    sv.wait_started("b");
    Ok(())
}
