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
    Client, GATED_NOTIFIER, NOTIFIER, Origin, Running, SLEEPER, Supervised, c_programs, c_svc,
    clients, is_subscribed, open_gate, run, same_as_c, supervisors, without_prog,
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
    scenario!(wcapital_r_warns_without_notification_fd_and_waits_for_the_restart).slow(),
    scenario!(wcapital_d_u_r_without_letters_wait_for_readiness_caused_by_someone_else).slow(),
    scenario!(w_with_letters_times_out_with_99).slow(),
    scenario!(w_fails_with_1_when_the_supervisor_leaves_or_finish_says_permanent_failure).slow(),
    scenario!(w_reports_a_missing_directory_or_status_file_before_sending),
    scenario!(w_exits_with_the_send_failure_where_c_waits_on),
    scenario!(wcapital_u_and_r_die_when_notification_fd_cannot_be_checked),
    scenario!(w_cycles_never_miss_the_event_their_own_command_causes).slow(),
    scenario!(every_letter_has_its_effect_on_a_real_supervisor_as_cs).slow(),
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

/// Keeps the first result, ours (`clients` lists ours first), and asserts that each later
/// one, a C client's, is the same.
fn same_as_ours(ours: &mut Option<Waited>, got: Waited, what: std::fmt::Arguments<'_>) {
    match ours {
        None => *ours = Some(got),
        Some(o) => assert_eq!(o, &got, "{what}"),
    }
}

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

/// A fixture with the service `svc`: `run_script` as its `run`, and `files` (name, contents)
/// in it, those whose name ends in `finish` as scripts.
fn service_fixture(run_script: &str, files: &[(&str, &str)]) -> Fixture {
    let fx = Fixture::new();
    fx.script("svc/run", run_script);
    for (name, contents) in files {
        if name.ends_with("finish") {
            fx.script(format!("svc/{name}"), contents);
        } else {
            fx.write(format!("svc/{name}"), contents);
        }
    }
    fx
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
            let fx = service_fixture(run_script, files);
            let dir = fx.path("svc");
            let sv = Supervised::start(&sup, &dir);
            sv.wait_status("started", |_| true);
            setup(&sv);
            let got = svc_w(&client, args, &dir);
            let status = Status::read(&dir).unwrap_or(Status::ZERO);
            check(&got, &status);
            same_as_ours(
                &mut ours,
                got,
                format_args!("{args:?}: ours and {} on {}", client.name(), sup.name),
            );
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
            same_as_ours(&mut ours, got, format_args!("{}", client.name()));
        }
    }
}

/// SUPERVISE.md, "svc -w": "`-wU`/`-wR` first check `DIR/notification-fd`: absent → warning
/// `DIR/notification-fd not present - ignoring request for readiness notification` and use
/// `u`/`r`". `-wR -r` on a service without the file: the warning, then as `-wr -r`.
fn wcapital_r_warns_without_notification_fd_and_waits_for_the_restart() {
    each_svc_w(SLEEPER, &[], &up, &["-wR", "-r"], &|w, s| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (
                Some(0),
                "warning: DIR/notification-fd not present - ignoring request for readiness notification\n"
            )
        );
        assert!(
            s.is_up() && s.wstat == 15,
            "restarted after a SIGTERM: {s:?}"
        );
    });
}

/// For every supervisor and every svc: a fresh service of `run_script` with `files` (and a
/// `gate` FIFO, for a finish script to wait on), `setup`, then `svc ARGS DIR` in the background, `act` once it has
/// subscribed (given it, to check that it still waits), and its result checked by `check`
/// and compared with ours.
fn each_svc_w_in_the_background(
    run_script: &str,
    files: &[(&str, &str)],
    setup: &dyn Fn(&Supervised),
    args: &[&str],
    act: &dyn Fn(&Supervised, &mut Running),
    check: &dyn Fn(&Waited, &Status),
) {
    for sup in supervisors() {
        let mut ours: Option<Waited> = None;
        for client in clients("svc", "s6-svc") {
            let fx = service_fixture(run_script, files);
            let dir = fx.path("svc");
            mkfifo(&dir.join("gate"), Mode::from_bits_truncate(0o600)).expect("mkfifo gate");
            let sv = Supervised::start(&sup, &dir);
            sv.wait_status("started", |_| true);
            setup(&sv);
            let mut listener = Running::start(Command::new(&client.path).args(args).arg(&dir));
            wait_until("svc -w's subscription", DEADLINE, || {
                listener.exited() || is_subscribed(&dir)
            });
            act(&sv, &mut listener);
            let out = listener.wait();
            let got = Waited {
                code: out.code,
                stderr: without_prog(&out.stderr).replace(&dir.display().to_string(), "DIR"),
            };
            check(&got, &Status::read(&dir).unwrap_or(Status::ZERO));
            same_as_ours(
                &mut ours,
                got,
                format_args!("{args:?}: ours and {} on {}", client.name(), sup.name),
            );
        }
    }
}

/// Asserts that the listener is still waiting (it must not take the state reached so far
/// for its goal), then lets the script through its gate.
fn still_waiting_then_open_gate(sv: &Supervised, listener: &mut Running) {
    assert!(
        !listener.exited(),
        "returned before readiness ({})",
        sv.name
    );
    open_gate(&sv.dir);
}

/// SUPERVISE.md, "svc -w": "without letters: `s6-svwait -X [-t T] -- DIR`", and "svwait":
/// "`-D` down and ready; `-U` up and ready; `-R` restart and ready", "`-r`/`-R`: first wait
/// until all services are not up, ... then wait for `-u`/`-U`"; with the
/// `notification-fd` warning for `-wU`/`-wR` as with letters. The readiness comes only when
/// the test opens a gate (finish for `D`, the run script's notification for `U`), after it
/// checked that svc still waits.
fn wcapital_d_u_r_without_letters_wait_for_readiness_caused_by_someone_else() {
    // -wD: d at the run's death, D only once finish has passed its gate.
    each_svc_w_in_the_background(
        SLEEPER,
        &[
            ("finish", "#!/bin/sh\nread x <gate\n"),
            ("timeout-finish", "0\n"),
        ],
        &up,
        &["-wD", "-T", "10000"],
        &|sv, listener| {
            c_svc(&["-d"], &sv.dir);
            sv.wait_status("finishing", |s| s.finishing);
            still_waiting_then_open_gate(sv, listener);
        },
        &|w, s| {
            ok(w);
            assert!(s.pid == 0 && s.ready && !s.wantup, "{s:?}");
        },
    );
    // -wU: u at the start, U once the run script has passed its gate.
    let notifier = [("notification-fd", "3\n")];
    each_svc_w_in_the_background(
        GATED_NOTIFIER,
        &notifier,
        &down,
        &["-wU", "-T", "10000"],
        &|sv, listener| {
            c_svc(&["-u"], &sv.dir);
            sv.wait_status("up", Status::is_up);
            still_waiting_then_open_gate(sv, listener);
        },
        &|w, s| {
            ok(w);
            assert!(s.is_up() && s.ready, "{s:?}");
        },
    );
    // -wR: down, then up and ready once the restarted run script has passed its gate.
    let up_ready = |sv: &Supervised| {
        open_gate(&sv.dir);
        sv.wait_status("up and ready", |s| s.is_up() && s.ready);
    };
    each_svc_w_in_the_background(
        GATED_NOTIFIER,
        &notifier,
        &up_ready,
        &["-wR", "-T", "10000"],
        &|sv, listener| {
            let before = Status::read(&sv.dir).expect("status").pid;
            c_svc(&["-k"], &sv.dir);
            sv.wait_status("restarted", |s| s.is_up() && s.pid != before);
            still_waiting_then_open_gate(sv, listener);
        },
        &|w, s| {
            ok(w);
            assert!(s.is_up() && s.ready && s.wstat == 9, "{s:?}");
        },
    );
    // Without notification-fd: the warning, then -wu and -wr.
    let warned = |w: &Waited| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (
                Some(0),
                "warning: DIR/notification-fd not present - ignoring request for readiness notification\n"
            )
        );
    };
    each_svc_w_in_the_background(
        SLEEPER,
        &[],
        &down,
        &["-wU", "-T", "10000"],
        &|sv, _| c_svc(&["-u"], &sv.dir),
        &|w, s| {
            warned(w);
            assert!(s.is_up(), "{s:?}");
        },
    );
    each_svc_w_in_the_background(
        SLEEPER,
        &[],
        &up,
        &["-wR", "-T", "10000"],
        &|sv, _| c_svc(&["-k"], &sv.dir),
        &|w, s| {
            warned(w);
            assert!(s.is_up() && s.wstat == 9, "{s:?}");
        },
    );
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

/// SUPERVISE.md, "svc -w": "`-wU`/`-wR` first check `DIR/notification-fd`: ... another
/// `access` error: fatal 111 `unable to access DIR/notification-fd: ERR`". A symbolic link
/// loop: 111 with ELOOP's text, as C, and nothing sent to the (fake) supervisor.
fn wcapital_u_and_r_die_when_notification_fd_cannot_be_checked() {
    let fake = FakeSupervisor::new();
    fake.fx.symlink("notification-fd", "svc/notification-fd");
    let dir = fake.dir();
    for wait in ["-wU", "-wR"] {
        let mut ours = None;
        for client in clients("svc", "s6-svc") {
            let w = svc_w(&client, &[wait, "-T", "2000", "-u"], &dir);
            assert_eq!(
                (w.code, w.stderr.as_str(), fake.take()),
                (
                    Some(111),
                    "fatal: unable to access DIR/notification-fd: Too many levels of symbolic links\n",
                    vec![]
                ),
                "{wait}, {}",
                client.name()
            );
            match &ours {
                None => ours = Some(w),
                Some(o) => assert_eq!(o, &w, "{wait}, {}", client.name()),
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

// ------------------------------------------------------------------ letters on a supervisor

/// A service that records each signal it can trap (and each start) in `DIR/signals`, one
/// line each, and otherwise blocks in `read` on a FIFO it holds open both ways (a builtin, so
/// that a trapped signal interrupts it, and no child to outlive it).
const SIGNALLER: &str = "#!/bin/sh\n\
    for s in ALRM ABRT QUIT HUP INT USR1 USR2 WINCH; do trap \"echo $s >>signals\" $s; done\n\
    echo start >>signals\n\
    rm -f block; mkfifo block; exec 0<>block; rm block\n\
    while :; do read x; done\n";

/// What a command did to the service, as seen from outside: the status file, the `down`
/// file, the run process's state and what it recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Effect {
    up: bool,
    /// The run process is the one of before the command.
    same_run: bool,
    wstat: u16,
    paused: bool,
    wantup: bool,
    down_file: bool,
    /// The run process is stopped (`T` in /proc).
    stopped: bool,
    /// `DIR/signals`, line by line.
    recorded: Vec<String>,
}

impl Effect {
    fn of(dir: &Path, before: u64) -> Option<Effect> {
        let s = Status::read(dir).ok()?;
        let recorded = std::fs::read_to_string(dir.join("signals"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        let stopped = s.pid != 0
            && i32::try_from(s.pid)
                .ok()
                .and_then(integration_tests::procfs::state)
                == Some('T');
        Some(Effect {
            up: s.is_up(),
            same_run: s.pid == before,
            wstat: s.wstat,
            paused: s.paused,
            wantup: s.wantup,
            down_file: dir.join("down").exists(),
            stopped,
            recorded,
        })
    }

    /// The last line recorded is `what`, after `n` lines.
    fn recorded(&self, n: usize, what: &str) -> bool {
        self.recorded.len() == n + 1 && self.recorded[n] == what
    }
}

/// Whether the effect after a command (second) is the one waited for, given the one before.
type Done = dyn Fn(&Effect, &Effect) -> bool;

/// One command of the letters scenario: its arguments (2.11's s6-svc, without `-s`, gets
/// `for_2_11`), and the effect to wait for, given the effect before it.
struct Step {
    args: &'static [&'static str],
    for_2_11: &'static [&'static str],
    done: Box<Done>,
}

fn step(args: &'static [&'static str], done: impl Fn(&Effect, &Effect) -> bool + 'static) -> Step {
    Step {
        args,
        for_2_11: args,
        done: Box::new(done),
    }
}

/// A kill letter whose signal the service traps and records: the same process, one more line.
fn trapped(args: &'static [&'static str], name: &'static str) -> Step {
    step(args, move |b, e| {
        e.same_run && e.recorded(b.recorded.len(), name)
    })
}

/// The letters scenario's commands, in order, from an up service.
fn letter_steps() -> Vec<Step> {
    let paused = |_: &Effect, e: &Effect| e.same_run && e.paused && e.stopped;
    let continued = |_: &Effect, e: &Effect| e.same_run && !e.paused && !e.stopped;
    vec![
        trapped(&["-a"], "ALRM"),
        trapped(&["-b"], "ABRT"),
        trapped(&["-q"], "QUIT"),
        trapped(&["-h"], "HUP"),
        trapped(&["-i"], "INT"),
        trapped(&["-1"], "USR1"),
        trapped(&["-2"], "USR2"),
        trapped(&["-y"], "WINCH"),
        Step {
            for_2_11: &["-1"],
            ..trapped(&["-s", "SIGUSR1"], "USR1")
        },
        Step {
            for_2_11: &["-y"],
            ..trapped(&["-s", "winch"], "WINCH")
        },
        // p: SIGSTOP, paused := 1; c: SIGCONT, paused := 0.
        step(&["-p"], paused),
        step(&["-c"], continued),
        Step {
            for_2_11: &["-p"],
            ..step(&["-s", "STOP"], paused)
        },
        Step {
            for_2_11: &["-c"],
            ..step(&["-s", "CONT"], continued)
        },
        // o: wantdown while up: it runs on, and is not restarted when it dies.
        step(&["-o"], |_, e| e.same_run && e.up && !e.wantup),
        step(&["-t"], |_, e| !e.up && e.wstat == 15 && !e.wantup),
        step(&["-u"], |b, e| {
            e.up && e.wantup && e.recorded(b.recorded.len(), "start")
        }),
        // k, r: killed, and restarted as wanted up (r with the default down-signal).
        step(&["-k"], |b, e| {
            e.up && !e.same_run && e.wstat == 9 && e.recorded(b.recorded.len(), "start")
        }),
        step(&["-r"], |b, e| {
            e.up && !e.same_run && e.wstat == 15 && e.recorded(b.recorded.len(), "start")
        }),
        step(&["-O"], |_, e| e.same_run && e.up && !e.wantup),
        // D: down file, stop; U: no down file, wantup, start.
        step(&["-D"], |_, e| {
            !e.up && e.down_file && !e.wantup && e.wstat == 15
        }),
        step(&["-U"], |b, e| {
            e.up && !e.down_file && e.wantup && e.recorded(b.recorded.len(), "start")
        }),
        // Q: down file and wantdown, still up.
        step(&["-Q"], |_, e| {
            e.same_run && e.up && e.down_file && !e.wantup
        }),
    ]
}

/// SUPERVISE.md, "The transition table" and "Kill letters": "`a b q h k t i 1 2 p c y r`:
/// kill (table below)" in UP, "`p` SIGSTOP paused := 1, status write; `c` SIGCONT paused :=
/// 0", "`o`: wantdown", "`D`: DOWN file +, stop", "`U`: DOWN file −, wantup, start", "`Q`:
/// DOWN file +, wantdown", "`t`, `k` do not touch wantup, so the service is restarted if
/// wanted up"; and "svc": `-s SIG` "appends `a b q h k t i 1 2 p c y` respectively". Each
/// letter but `d u x` (the `-w` scenarios') from each svc (ours, 2.11, 2.12; `-s` turned into
/// its letter for 2.11) to each supervisor: the effect waited for, and the same sequence of
/// effects as C's s6-svc brings about on the same supervisor.
fn every_letter_has_its_effect_on_a_real_supervisor_as_cs() {
    let steps = letter_steps();
    for sup in supervisors() {
        let mut ours: Option<Vec<Effect>> = None;
        for client in clients("svc", "s6-svc") {
            let fx = Fixture::new();
            fx.script("svc/run", SIGNALLER);
            let dir = fx.path("svc");
            let sv = Supervised::start(&sup, &dir);
            sv.wait_status("up", Status::is_up);
            let mut before = None;
            wait_until(&format!("the first start ({})", sup.name), DEADLINE, || {
                before = Effect::of(&dir, Status::read(&dir).map_or(0, |s| s.pid))
                    .filter(|e| e.recorded.len() == 1);
                before.is_some()
            });
            let mut before = before.unwrap_or_else(|| unreachable!());
            let mut effects = Vec::new();
            for step in &steps {
                let args = if client.origin == Some(Origin::Debian) {
                    step.for_2_11
                } else {
                    step.args
                };
                let pid = Status::read(&dir).expect("status").pid;
                let out = run(Command::new(&client.path).args(args).arg(&dir));
                assert_eq!(
                    (out.code, out.stderr.as_str()),
                    (Some(0), ""),
                    "{args:?}, {}",
                    client.name()
                );
                let mut now = None;
                wait_until(
                    &format!(
                        "the effect of {args:?} from {} on {}",
                        client.name(),
                        sup.name
                    ),
                    DEADLINE,
                    || {
                        now = Effect::of(&dir, pid).filter(|e| (step.done)(&before, e));
                        now.is_some()
                    },
                );
                before = now.unwrap_or_else(|| unreachable!());
                effects.push(before.clone());
            }
            match &ours {
                None => ours = Some(effects),
                Some(o) => assert_eq!(o, &effects, "ours and {} on {}", client.name(), sup.name),
            }
        }
    }
}
