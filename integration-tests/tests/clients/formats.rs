//! The shared formats against C (SUPERVISE.md, "Shared formats" and "ftrig"): status files
//! written by the real s6-supervise (Debian's 2.11 and the 2.12 reference) read by
//! `common::status`, ours read by C `s6-svstat`; our ftrig publisher waking C
//! `s6-ftrig-listen1`, our subscriber receiving `s6-ftrig-notify`'s bytes and a real
//! s6-supervise's events.

use std::process::Command;
use std::time::Instant;

use common::ftrig::{self, Subscriber};
use common::status::Status;
use common::tai::Tai64n;
use integration_tests::scenario;
use integration_tests::suite::{Outcome, Scenario};
use integration_tests::{DEADLINE, Fixture, procfs, real_s6, wait_until};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Gid;

use crate::support::{Supervised, c_programs, hold_supervise_lock, run, supervisors};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(c_supervise_status_files_are_read_by_ours),
    scenario!(our_status_files_are_read_by_c_svstat),
    scenario!(our_publisher_wakes_c_ftrig_listen1),
    scenario!(our_subscriber_receives_c_ftrig_notify_bytes),
    scenario!(our_subscriber_receives_a_c_supervise_events),
    scenario!(a_publisher_running_as_another_user_reaches_our_0622_subscriber),
];

const SLEEPER: &str = "#!/bin/sh\nexec sleep 1000\n";

/// Reads `sub` until `done` holds for what it got, within [`DEADLINE`].
fn read_until(sub: &mut Subscriber, what: &str, mut done: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while !done(&got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        let mut fds = [PollFd::new(sub.fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        poll(&mut fds, PollTimeout::from(ms)).expect("poll");
        sub.read(|b| got.push(b)).expect("read the subscriber FIFO");
    }
    got
}

fn c_supervise_status_files_are_read_by_ours() {
    for sup in supervisors() {
        let fx = Fixture::new();
        fx.script("svc/run", SLEEPER);
        let before = Tai64n::now();
        let sv = Supervised::start(&sup, &fx.path("svc"));
        let up = sv.wait_status("run up", Status::is_up);
        assert_eq!(
            procfs::ppid(up.pid as i32),
            Some(sv.pid()),
            "{}: pid is run's",
            sup.name
        );
        // Same wall clock, same TAI conversion (leap seconds included): C's stamp falls
        // between ours taken before the start and ours taken now.
        assert!(
            before <= up.stamp && up.stamp <= Tai64n::now(),
            "{}: {up:?}",
            sup.name
        );
        assert!(
            up.wantup && !up.ready && !up.paused && !up.finishing,
            "{}: {up:?}",
            sup.name
        );
        assert_eq!(up.wstat, 0);

        // The C readers print the same stamps and pid from the same bytes.
        for (origin, svstat) in c_programs("s6-svstat") {
            let out = run(Command::new(&svstat)
                .args(["-o", "pid,updownsince,readysince"])
                .arg(&sv.dir));
            let hex = |t: Tai64n| String::from_utf8_lossy(&t.hex()).into_owned();
            let expected = format!("{} @{} @{}\n", up.pid, hex(up.stamp), hex(up.readystamp));
            assert_eq!(
                (out.code, out.stdout.as_str()),
                (Some(0), expected.as_str()),
                "{} read by {origin:?}",
                sup.name
            );
        }

        let svc = real_s6("s6-svc").expect("s6-svc beside s6-supervise");
        assert_eq!(run(Command::new(&svc).arg("-p").arg(&sv.dir)).code, Some(0));
        sv.wait_status("paused", |s| s.paused && s.pid == up.pid);
        assert_eq!(run(Command::new(&svc).arg("-c").arg(&sv.dir)).code, Some(0));
        sv.wait_status("continued", |s| !s.paused && s.pid == up.pid);

        assert_eq!(run(Command::new(&svc).arg("-d").arg(&sv.dir)).code, Some(0));
        let down = sv.wait_status("down and ready", |s| s.pid == 0 && !s.finishing && s.ready);
        assert_eq!(
            down.term_signal(),
            Some(15),
            "{}: the raw wait status of a SIGTERM death",
            sup.name
        );
        assert_eq!(down.wstat, 15);
        assert!(!down.wantup && !down.paused);
        // The stamp is taken at run's death, the readystamp at "down and ready" (2.12: the
        // same turn; 2.11: when its forked finish exited).
        assert!(
            up.stamp <= down.stamp && down.stamp <= down.readystamp,
            "{}: {down:?}",
            sup.name
        );
    }
}

fn our_status_files_are_read_by_c_svstat() {
    let svstats = c_programs("s6-svstat");
    let fx = Fixture::new();
    fx.mkdir("svc");
    let dir = fx.path("svc");
    let _lock = hold_supervise_lock(&dir);
    let now = Tai64n::now();
    let ago = |s: u64| Tai64n {
        secs: now.secs - s,
        nanos: now.nanos,
    };
    let cases = [
        // up, paused, wanted down, ready: every flag that is set shows.
        Status {
            stamp: ago(100),
            readystamp: ago(50),
            pid: 12345,
            wstat: 0,
            paused: true,
            finishing: false,
            wantup: false,
            ready: true,
        },
        // down, killed by SIGKILL, wanted up.
        Status {
            stamp: ago(7),
            readystamp: ago(7),
            pid: 0,
            wstat: 9,
            paused: false,
            finishing: false,
            wantup: true,
            ready: true,
        },
        // finishing after exit 3: pid is finish's, so "down".
        Status {
            stamp: ago(2),
            readystamp: ago(90),
            pid: 4242,
            wstat: 3 << 8,
            paused: false,
            finishing: true,
            wantup: true,
            ready: false,
        },
    ];
    let fields = "up,wantedup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince";
    let expected_fields = [
        "true false true true 12345 -1 NA -1",
        "false true false false -1 -1 SIGKILL 9",
        "false true false false -1 3 NA -1",
    ];
    // The seconds are C's now minus our stamp: as written, plus `d`, the whole seconds
    // elapsed since `now`.
    let expected_lines = [
        |d: u64| {
            format!(
                "up (pid 12345) {} seconds, paused, want down, ready {} seconds\n",
                100 + d,
                50 + d
            )
        },
        |d: u64| {
            format!(
                "down (signal SIGKILL) {} seconds, normally up, want up, ready {} seconds\n",
                7 + d,
                7 + d
            )
        },
        |d: u64| {
            format!(
                "down (exitcode 3) {} seconds, normally up, want up\n",
                2 + d
            )
        },
    ];
    for ((status, fields_out), line) in cases.iter().zip(expected_fields).zip(expected_lines) {
        status.write(&dir).expect("write the status file");
        for (origin, svstat) in &svstats {
            let out = run(Command::new(svstat).args(["-o", fields]).arg(&dir));
            let hex = |t: Tai64n| String::from_utf8_lossy(&t.hex()).into_owned();
            let expected = format!(
                "{fields_out} @{} @{}\n",
                hex(status.stamp),
                hex(status.readystamp)
            );
            assert_eq!(
                (out.code, out.stdout),
                (Some(0), expected),
                "{origin:?} on {status:?}"
            );

            // The stamps are `now` less whole seconds, so C prints that many plus the whole
            // seconds elapsed since `now` when it read the clock: between the two readings
            // taken around its run (a loaded machine may take seconds over the cases).
            let elapsed = || Tai64n::now().secs_since(now);
            let early = elapsed();
            let out = run(Command::new(svstat).arg(&dir));
            let late = elapsed();
            assert_eq!(out.code, Some(0), "{origin:?}: {}", out.stderr);
            assert!(
                (early..=late).any(|d| out.stdout == line(d)),
                "{origin:?} on {status:?}: {:?}",
                out.stdout
            );
        }
    }
}

fn our_publisher_wakes_c_ftrig_listen1() {
    for (origin, listen1) in c_programs("s6-ftrig-listen1") {
        let fx = Fixture::new();
        let fifodir = fx.path("fifodir");
        ftrig::fifodir_make(&fifodir, Some(Gid::effective()), false).expect("fifodir");
        let marker = fx.path("subscribed");
        // listen1 subscribes, then spawns its program, then waits: the marker means its FIFO
        // is in place.
        let mut cmd = Command::new(&listen1);
        cmd.args(["-t", "10000"])
            .arg(&fifodir)
            .arg("[u]")
            .arg("touch")
            .arg(&marker);
        let listener = crate::support::Running::start(&mut cmd);
        wait_until("s6-ftrig-listen1's program", DEADLINE, || marker.exists());
        // Exactly one subscriber: C's FIFO has the name shape our publisher looks for.
        assert_eq!(ftrig::notify(&fifodir, b"su"), Ok(1), "{origin:?}");
        let out = listener.wait();
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "u\n"),
            "{origin:?}: {}",
            out.stderr
        );
        // The C subscriber removed its FIFO on its way out; nothing is left to clean.
        ftrig::clean(&fifodir).expect("clean");
        assert_eq!(
            std::fs::read_dir(&fifodir).map(Iterator::count).ok(),
            Some(0)
        );
    }
}

fn our_subscriber_receives_c_ftrig_notify_bytes() {
    for (origin, notify) in c_programs("s6-ftrig-notify") {
        let fx = Fixture::new();
        let fifodir = fx.path("fifodir");
        ftrig::fifodir_make(&fifodir, Some(Gid::effective()), false).expect("fifodir");
        let mut sub = Subscriber::new(&fifodir).expect("subscribe");
        let out = run(Command::new(&notify).arg(&fifodir).arg("udUDOx"));
        assert_eq!(out.code, Some(0), "{origin:?}: {}", out.stderr);
        assert_eq!(
            read_until(&mut sub, "the bytes", |b| b.len() >= 6),
            b"udUDOx",
            "{origin:?}"
        );
    }
}

fn our_subscriber_receives_a_c_supervise_events() {
    for sup in supervisors() {
        let fx = Fixture::new();
        fx.script("svc/run", SLEEPER);
        // Made first, as svwait does; supervise's trymkdir takes it as it is.
        let event = fx.path("svc/event");
        ftrig::fifodir_make(&event, Some(Gid::effective()), false).expect("fifodir");
        let mut sub = Subscriber::new(&event).expect("subscribe");
        let mut sv = Supervised::start(&sup, &fx.path("svc"));
        let got = read_until(&mut sub, "s then u", |b| b.len() >= 2);
        assert_eq!(got, b"su", "{}", sup.name);
        let svc = real_s6("s6-svc").expect("s6-svc beside s6-supervise");
        assert_eq!(run(Command::new(&svc).arg("-d").arg(&sv.dir)).code, Some(0));
        // 2.12 publishes "dD" in one write when there is no finish; 2.11 forks a finish that
        // exits 127 and publishes "d" then "D": the same bytes either way.
        assert_eq!(
            read_until(&mut sub, "d then D", |b| b.len() >= 2),
            b"dD",
            "{}",
            sup.name
        );
        assert_eq!(run(Command::new(&svc).arg("-x").arg(&sv.dir)).code, Some(0));
        assert_eq!(
            read_until(&mut sub, "x", |b| !b.is_empty()),
            b"x",
            "{}",
            sup.name
        );
        assert!(sv.wait_exit().success(), "{}: {}", sup.name, sv.stderr());
    }
}

fn a_publisher_running_as_another_user_reaches_our_0622_subscriber() -> Outcome {
    integration_tests::user::root()?;
    for (origin, notify) in c_programs("s6-ftrig-notify") {
        let fx = Fixture::new();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fx.tmp(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // The publisher (a supervise running as another user) owns its fifodir and lists it;
        // the subscriber (a root svwait) creates its FIFO there, which the publisher must open.
        let uid = integration_tests::user::Uid::claim();
        let fifodir = fx.path("fifodir");
        ftrig::fifodir_make(&fifodir, Some(Gid::from_raw(uid.get())), false).expect("fifodir");
        nix::unistd::chown(&fifodir, Some(nix::unistd::Uid::from_raw(uid.get())), None)
            .expect("chown");
        let mut sub = Subscriber::new(&fifodir).expect("subscribe");
        let out = run(integration_tests::user::as_user(uid.get())
            .arg(&notify)
            .arg(&fifodir)
            .arg("U"));
        assert_eq!(out.code, Some(0), "{origin:?}: {}", out.stderr);
        // With C's 0600 the publisher's open fails with EACCES and the event is lost.
        assert_eq!(
            read_until(&mut sub, "U", |b| !b.is_empty()),
            b"U",
            "{origin:?}"
        );
    }
    Ok(())
}
