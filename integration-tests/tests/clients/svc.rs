//! `svc` against C `s6-svc` (SUPERVISE.md, "svc", "svc -w", "The control FIFO"): the bytes
//! sent for every option, the exit codes and messages of every failure, and each `-w` wait on
//! real supervisors.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;

use common::status::Status;
use integration_tests::program::Ran;
use integration_tests::scenario;
use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, binary, wait_until};
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;

use crate::support::{
    Client, NOTIFIER, Origin, Running, SLEEPER, Supervised, c_programs, c_svc, clients,
    is_subscribed, run, same_as_c, supervisors, without_prog,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(every_letter_is_sent_in_order_in_one_write_as_c_sends_it),
    scenario!(s_sends_the_letter_of_its_signal_as_c_2_12),
    scenario!(command_line_errors_are_cs),
    scenario!(s_with_a_number_past_the_signal_table_is_an_invalid_signal),
    scenario!(sending_failures_exit_as_c),
    scenario!(wd_and_wcapital_d_return_once_the_service_is_down_and_ready),
    scenario!(wu_returns_once_the_service_is_up),
    scenario!(wcapital_u_waits_for_readiness_or_warns_without_notification_fd),
    scenario!(wr_and_wcapital_r_return_once_the_service_has_restarted).slow(),
    scenario!(w_without_letters_waits_as_svwait_and_times_out_with_99).slow(),
    scenario!(wr_without_letters_waits_for_a_restart_caused_by_someone_else).slow(),
    scenario!(w_with_letters_times_out_with_99).slow(),
    scenario!(w_fails_with_1_when_the_supervisor_leaves_or_finish_says_permanent_failure).slow(),
    scenario!(w_reports_a_missing_directory_or_status_file_before_sending),
    scenario!(w_exits_with_the_send_failure_where_c_waits_on),
    scenario!(w_cycles_never_miss_the_event_their_own_command_causes).slow(),
];

/// A service directory whose control FIFO the test reads in place of a supervisor.
struct FakeSupervisor {
    fx: Fixture,
    reader: OwnedFd,
}

impl FakeSupervisor {
    fn new() -> FakeSupervisor {
        let fx = Fixture::new();
        fx.mkdir("svc/supervise");
        let fifo = fx.path("svc/supervise/control");
        mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let reader = open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .expect("open the FIFO");
        FakeSupervisor { fx, reader }
    }

    fn dir(&self) -> std::path::PathBuf {
        self.fx.path("svc")
    }

    /// Everything written to the FIFO so far.
    fn take(&self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = nix::unistd::read(&self.reader, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got
    }
}

/// Runs `client` with `args` then the fake's directory, and returns its result with what it
/// wrote.
fn sent(client: &Path, args: &[&str], fake: &FakeSupervisor) -> (Ran, Vec<u8>) {
    let mut out = run(Command::new(client).args(args).arg(fake.dir()));
    out.stderr = without_prog(&out.stderr);
    (out, fake.take())
}

fn every_letter_is_sent_in_order_in_one_write_as_c_sends_it() {
    let fake = FakeSupervisor::new();
    let cases: &[&[&str]] = &[
        &["-u"],
        &["-d"],
        &["-abqhkti12pcyroduDUxOQ"],
        &["-u", "-d", "-uu"],
        &["-T", "5000", "-k"],
        // No letter: the FIFO is opened, nothing is written.
        &[],
    ];
    for args in cases {
        let (ours, ours_bytes) = sent(&binary("svc"), args, &fake);
        let expected: Vec<u8> = args
            .iter()
            .filter(|a| *a != &"5000")
            .flat_map(|a| a.bytes().skip(1))
            .filter(|b| *b != b'T')
            .collect();
        assert_eq!(
            (ours.code, &ours_bytes),
            (Some(0), &expected),
            "{args:?}: {ours:?}"
        );
        for (origin, c) in c_programs("s6-svc") {
            let (theirs, their_bytes) = sent(&c, args, &fake);
            assert_eq!(
                (&ours, &ours_bytes),
                (&theirs, &their_bytes),
                "{args:?} against {origin:?}"
            );
        }
    }
}

fn s_sends_the_letter_of_its_signal_as_c_2_12() {
    let fake = FakeSupervisor::new();
    let cases: &[(&[&str], &[u8])] = &[
        (
            &["-s", "ALRM", "-s", "abrt", "-sSIGQUIT", "-s", "HUP"],
            b"abqh",
        ),
        (
            &[
                "-s", "KILL", "-s", "15", "-s", "SIGINT", "-s", "usr1", "-s", "SigUsr2",
            ],
            b"kti12",
        ),
        (&["-s", "STOP", "-s", "CONT", "-s", "WINCH", "-u"], b"pcyu"),
        // Other names of the same numbers: IOT is ABRT.
        (&["-s", "IOT"], b"b"),
    ];
    for (args, bytes) in cases {
        let (ours, ours_bytes) = sent(&binary("svc"), args, &fake);
        assert_eq!(
            (ours.code, ours_bytes.as_slice()),
            (Some(0), *bytes),
            "{args:?}: {ours:?}"
        );
        for (origin, c) in c_programs("s6-svc") {
            let (theirs, their_bytes) = sent(&c, args, &fake);
            if origin == Origin::Debian {
                // 2.11 has no -s (SUPERVISE.md, "Interop facts"): a usage error.
                assert_eq!((theirs.code, their_bytes.len()), (Some(100), 0), "{args:?}");
                continue;
            }
            assert_eq!(
                (&ours, &ours_bytes),
                (&theirs, &their_bytes),
                "{args:?} against {origin:?}"
            );
        }
    }
}

fn command_line_errors_are_cs() {
    let fake = FakeSupervisor::new();
    let dir = fake.dir();
    let d = dir.as_os_str();
    let o = OsStr::new;
    let sixty_three = format!("-{}", "u".repeat(63));
    let sixty_two = format!("-{}", "u".repeat(62));
    let cases: Vec<(Vec<&OsStr>, bool)> = vec![
        (vec![], false),
        (vec![o("-u")], false),
        (vec![o("-Z"), d], false),
        (vec![o("-T"), o("x"), d], false),
        (vec![o("-T"), o("-5"), d], false),
        (vec![o("-T")], false),
        (vec![o("-w"), o("x"), d], false),
        (vec![o("-w"), o(""), d], false),
        (vec![o("-wo"), d], false),
        (vec![o(&sixty_three), d], false),
        (vec![o(&sixty_two), d], false),
        (vec![o("")], false),
        (vec![o(""), o("more")], false),
        (vec![o("-u"), d, o("more")], false),
        (vec![o("--"), d], false),
        // -s: 2.12 only.
        (vec![o("-s"), o("FOO"), d], true),
        (vec![o("-s"), o("PIPE"), d], true),
        (vec![o("-s"), o("0"), d], true),
        (vec![o("-s"), o("64"), d], true),
        (vec![o("-s"), o("sigterm"), o("-Z"), d], true),
        (vec![o("-s"), o("FOO"), o("-Z"), d], true),
    ];
    for (args, needs_s) in &cases {
        for (origin, c) in c_programs("s6-svc") {
            if origin == Origin::Debian {
                // 2.11 has no -s, and its usage line does not show it: its usage errors are
                // checked by code only.
                let theirs = run(Command::new(&c).args(args));
                fake.take();
                if *needs_s || theirs.stderr.contains(": usage: ") {
                    let ours = run(Command::new(binary("svc")).args(args));
                    fake.take();
                    if !*needs_s {
                        assert_eq!(ours.code, theirs.code, "{args:?}");
                    }
                    continue;
                }
            }
            same_as_c("svc", &c, args, &format!("{origin:?}"));
            fake.take();
        }
    }
}

fn s_with_a_number_past_the_signal_table_is_an_invalid_signal() {
    // **fix** (no upstream fix): C indexes its NSIG table with the number unchecked.
    let fake = FakeSupervisor::new();
    for n in ["65", "99999", "4294967295"] {
        let (out, bytes) = sent(&binary("svc"), &["-s", n], &fake);
        assert_eq!(
            (out.code, out.stderr, bytes),
            (Some(100), format!("fatal: invalid signal: {n}\n"), vec![])
        );
    }
}

fn sending_failures_exit_as_c() {
    let fx = Fixture::new();
    // No reader on the FIFO: not listening.
    fx.mkdir("noreader/supervise");
    mkfifo(
        &fx.path("noreader/supervise/control"),
        Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    fx.mkdir("nosupervise");
    fx.mkdir("filesupervise");
    fx.write("filesupervise/supervise", "");
    fx.mkdir("nocontrol/supervise");
    fx.mkdir("dircontrol/supervise/control");
    fx.write("afile", "");
    let cases = [
        ("noreader", 100),
        ("nosupervise", 100),
        ("filesupervise", 100),
        ("nocontrol", 100),
        ("dircontrol", 100),
        ("missing", 111),
        ("afile", 111),
    ];
    for (name, code) in cases {
        let dir = fx.path(name);
        for (origin, c) in c_programs("s6-svc") {
            let out = same_as_c(
                "svc",
                &c,
                &[OsStr::new("-u"), dir.as_os_str()],
                &format!("{name}, {origin:?}"),
            );
            assert_eq!(out.code, Some(code), "{name}: {out:?}");
        }
    }
}

// ------------------------------------------------------------------ -w

/// What one `svc -w…` run did: its exit code and messages, and the status after it.
#[derive(Debug, PartialEq, Eq)]
struct Waited {
    code: Option<i32>,
    stderr: String,
}

/// Runs `client` with `args` on `dir`; in its messages, `dir` reads `DIR` (each run has a
/// directory of its own).
fn svc_w(client: &Client, args: &[&str], dir: &Path) -> Waited {
    let out = run(Command::new(&client.path).args(args).arg(dir));
    let stderr = without_prog(&out.stderr).replace(&dir.display().to_string(), "DIR");
    Waited {
        code: out.code,
        stderr,
    }
}

/// Runs `args` on a fresh supervisor of `run` (with `files`) for every implementation of svc,
/// after `setup` and checks each result with `check` against ours.
fn each_svc_w(
    run_script: &str,
    files: &[(&str, &str)],
    setup: &dyn Fn(&Supervised),
    args: &[&str],
    check: &dyn Fn(&Waited, &Status),
) {
    for sup in supervisors() {
        let mut ours: Option<Waited> = None;
        for client in clients("svc", "s6-svc") {
            let fx = Fixture::new();
            fx.script("svc/run", run_script);
            for (name, contents) in files {
                if name.ends_with("finish") {
                    fx.script(format!("svc/{name}"), contents);
                } else {
                    fx.write(format!("svc/{name}"), contents);
                }
            }
            let dir = fx.path("svc");
            let sv = Supervised::start(&sup, &dir);
            sv.wait_status("started", |_| true);
            setup(&sv);
            let got = svc_w(&client, args, &dir);
            let status = Status::read(&dir).unwrap_or(Status::ZERO);
            check(&got, &status);
            match &ours {
                None => ours = Some(got),
                Some(o) => assert_eq!(
                    o,
                    &got,
                    "{args:?}: ours and {} on {}",
                    client.name(),
                    sup.name
                ),
            }
        }
    }
}

fn up(sv: &Supervised) {
    sv.wait_status("up", Status::is_up);
}

fn down(sv: &Supervised) {
    c_svc(&["-d"], &sv.dir);
    sv.wait_status("down and ready", |s| s.pid == 0 && s.ready && !s.wantup);
}

fn ok(w: &Waited) {
    assert_eq!((w.code, w.stderr.as_str()), (Some(0), ""), "{w:?}");
}

fn wd_and_wcapital_d_return_once_the_service_is_down_and_ready() {
    each_svc_w(SLEEPER, &[], &up, &["-wd", "-d"], &|w, s| {
        ok(w);
        assert!(!s.is_up() && !s.wantup, "{s:?}");
    });
    each_svc_w(SLEEPER, &[], &up, &["-wD", "-d"], &|w, s| {
        ok(w);
        assert!(s.pid == 0 && s.ready, "{s:?}");
    });
}

fn wu_returns_once_the_service_is_up() {
    each_svc_w(SLEEPER, &[], &down, &["-wu", "-u"], &|w, s| {
        ok(w);
        assert!(s.is_up(), "{s:?}");
    });
}

fn wcapital_u_waits_for_readiness_or_warns_without_notification_fd() {
    each_svc_w(
        NOTIFIER,
        &[("notification-fd", "3\n")],
        &down,
        &["-wU", "-u"],
        &|w, s| {
            ok(w);
            assert!(s.is_up() && s.ready, "{s:?}");
        },
    );
    each_svc_w(SLEEPER, &[], &down, &["-wU", "-u"], &|w, s| {
        assert_eq!(w.code, Some(0));
        assert_eq!(
            w.stderr,
            "warning: DIR/notification-fd not present - ignoring request for readiness notification\n"
        );
        assert!(s.is_up(), "{s:?}");
    });
}

fn wr_and_wcapital_r_return_once_the_service_has_restarted() {
    each_svc_w(SLEEPER, &[], &up, &["-wr", "-r"], &|w, s| {
        ok(w);
        assert!(
            s.is_up() && s.wstat == 15,
            "restarted after a SIGTERM: {s:?}"
        );
    });
    each_svc_w(
        NOTIFIER,
        &[("notification-fd", "3\n")],
        &|sv| {
            sv.wait_status("up and ready", |s| s.is_up() && s.ready);
        },
        &["-wR", "-r"],
        &|w, s| {
            ok(w);
            assert!(s.is_up() && s.ready && s.wstat == 15, "{s:?}");
        },
    );
}

fn w_without_letters_waits_as_svwait_and_times_out_with_99() {
    each_svc_w(SLEEPER, &[], &up, &["-wu"], &|w, _| ok(w));
    each_svc_w(SLEEPER, &[], &up, &["-wd", "-T", "300"], &|w, s| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (Some(99), "fatal: timed out\n")
        );
        assert!(s.is_up());
    });
}

fn wr_without_letters_waits_for_a_restart_caused_by_someone_else() {
    // As `s6-svwait -r`: down (ready or not) first, then up.
    for sup in supervisors() {
        let mut ours: Option<Waited> = None;
        for client in clients("svc", "s6-svc") {
            let fx = Fixture::new();
            fx.script("svc/run", SLEEPER);
            let dir = fx.path("svc");
            let sv = Supervised::start(&sup, &dir);
            let before = sv.wait_status("up", Status::is_up);
            let mut listener = Running::start(
                Command::new(&client.path)
                    .args(["-wr", "-T", "10000"])
                    .arg(&dir),
            );
            wait_until("svc -wr's subscription", DEADLINE, || {
                listener.exited() || is_subscribed(&dir)
            });
            c_svc(&["-k"], &dir);
            let out = listener.wait();
            let got = Waited {
                code: out.code,
                stderr: without_prog(&out.stderr),
            };
            assert_eq!(
                (got.code, got.stderr.as_str()),
                (Some(0), ""),
                "{}",
                client.name()
            );
            let after = Status::read(&dir).expect("status");
            assert!(
                after.is_up() && after.pid != before.pid && after.wstat == 9,
                "{after:?}"
            );
            match &ours {
                None => ours = Some(got),
                Some(o) => assert_eq!(o, &got, "{}", client.name()),
            }
        }
    }
}

fn w_with_letters_times_out_with_99() {
    // -u on an up service: it never goes down.
    each_svc_w(SLEEPER, &[], &up, &["-wd", "-T", "300", "-u"], &|w, s| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (Some(99), "fatal: timed out\n")
        );
        assert!(s.is_up());
    });
}

fn w_fails_with_1_when_the_supervisor_leaves_or_finish_says_permanent_failure() {
    each_svc_w(SLEEPER, &[], &down, &["-wu", "-x"], &|w, _| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (
                Some(1),
                "fatal: DIR failed permanently or its supervisor died\n"
            )
        );
    });
    // finish exits 125: "O" while waiting for up and ready (u comes first but is not enough).
    let files = [
        ("notification-fd", "3\n"),
        ("finish", "#!/bin/sh\nexit 125\n"),
    ];
    each_svc_w(
        "#!/bin/sh\nexit 1\n",
        &files,
        &|sv| {
            sv.wait_status("down for good", |s| s.pid == 0 && !s.wantup && s.ready);
        },
        &["-wU", "-T", "5000", "-u"],
        &|w, _| {
            assert_eq!(
                (w.code, w.stderr.as_str()),
                (
                    Some(1),
                    "fatal: DIR failed permanently or its supervisor died\n"
                )
            );
        },
    );
}

fn w_reports_a_missing_directory_or_status_file_before_sending() {
    let fx = Fixture::new();
    fx.mkdir("fresh");
    for (name, expected) in [
        (
            "missing",
            "fatal: unable to subscribe to events for DIR: No such file or directory\n",
        ),
        (
            "fresh",
            "fatal: unable to s6_svstatus_read: No such file or directory\n",
        ),
    ] {
        let dir = fx.path(name);
        let mut ours = None;
        for client in clients("svc", "s6-svc") {
            let w = svc_w(&client, &["-wu", "-T", "2000", "-u"], &dir);
            assert_eq!(
                (w.code, w.stderr.as_str()),
                (Some(111), expected),
                "{}",
                client.name()
            );
            match &ours {
                None => ours = Some(w),
                Some(o) => assert_eq!(o, &w, "{}", client.name()),
            }
        }
    }
}

fn w_exits_with_the_send_failure_where_c_waits_on() {
    // **fix** (no upstream fix): a stale status file and no supervisor. C's s6-svlisten1
    // ignores the exit status of the s6-svc it spawned, prints its error and waits on, here
    // until -T; ours exits with the send's code and message.
    let fx = Fixture::new();
    fx.mkdir("svc/supervise");
    mkfifo(
        &fx.path("svc/supervise/control"),
        Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    Status {
        pid: 0,
        ..Status::ZERO
    }
    .write(&fx.path("svc"))
    .expect("stale status");
    let dir = fx.path("svc");
    let ours = svc_w(
        &clients("svc", "s6-svc")[0],
        &["-wu", "-T", "5000", "-u"],
        &dir,
    );
    let not_listening = format!(
        "fatal: unable to control {}: supervisor not listening\n",
        dir.display()
    );
    assert_eq!(
        (ours.code, ours.stderr.as_str()),
        (
            Some(100),
            "fatal: unable to control DIR: supervisor not listening\n"
        )
    );
    for (origin, c) in c_programs("s6-svc") {
        let theirs = run(Command::new(&c).args(["-wu", "-T", "300", "-u"]).arg(&dir));
        assert_eq!(theirs.code, Some(99), "{origin:?}: {theirs:?}");
        let theirs = crate::support::debian_quirks(&c, theirs);
        assert_eq!(
            without_prog(&theirs.stderr),
            format!("{not_listening}fatal: timed out\n"),
            "{origin:?}"
        );
    }
}

fn w_cycles_never_miss_the_event_their_own_command_causes() {
    // Subscribed before sending: each command's event arrives while svc is already listening.
    for sup in supervisors() {
        let fx = Fixture::new();
        fx.script("svc/run", NOTIFIER);
        fx.write("svc/notification-fd", "3\n");
        let dir = fx.path("svc");
        let sv = Supervised::start(&sup, &dir);
        sv.wait_status("up", Status::is_up);
        for i in 0..10 {
            for args in [
                &["-wD", "-T", "5000", "-d"][..],
                &["-wU", "-T", "5000", "-u"][..],
            ] {
                let out = run(Command::new(binary("svc")).args(args).arg(&dir));
                assert_eq!(
                    (out.code, out.stderr.as_str()),
                    (Some(0), ""),
                    "round {i}, {args:?}, {}",
                    sup.name
                );
            }
        }
    }
}
