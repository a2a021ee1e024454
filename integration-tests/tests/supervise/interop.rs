//! The real C clients on our supervise (SUPERVISE.md, "Interop facts", and the issue's "Real
//! components it must work with"): Debian's 2.11 and the 2.12 reference's `s6-svstat`,
//! `s6-svok`, `s6-svwait`, `s6-svlisten1` and `s6-svc` (with `-w`) drive and read ours as
//! they do a C s6-supervise. Where a client's output is compared, it is compared with what
//! the same client says about the C supervisors in the same scenario.

use integration_tests::scenario;
use integration_tests::service::{
    Clients, Observed, Running, ServiceDir, Supervised, Supervisor, client, client_started,
    each_client, each_supervisor,
};
use integration_tests::suite::Scenario;
use integration_tests::suite::optional;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(s6_svstat_reads_ours_as_it_reads_c).slow(),
    scenario!(s6_svok_sees_our_lock),
    scenario!(s6_svwait_waits_on_our_events),
    scenario!(s6_svc_w_waits_on_our_events),
    scenario!(s6_svlisten1_sees_our_restart),
    scenario!(s6_svc_controls_ours_and_sees_it_gone),
    scenario!(a_permanent_failure_ends_s6_svwait_with_1),
];

/// `s6-svstat -o` of every field but the times and the pid, from each client set.
fn svstat_fields(sv: &Supervised<'_>) -> Vec<String> {
    each_client("s6-svstat")
        .into_iter()
        .map(|(_, svstat)| {
            let out = client(
                &svstat,
                &[
                    "-o",
                    "up,wantedup,normallyup,ready,paused,exitcode,signal,signum",
                    "svc",
                ],
                sv.dir.tmp(),
            );
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            out.stdout
        })
        .collect()
}

/// "Debian's `s6-svstat` printed byte-identical lines on a 2.12 supervise's directory": the
/// C s6-svstat of both versions reads ours in each state (up and ready, paused, finishing,
/// down by a signal, normally down) exactly as it reads the C supervisors in the same state.
fn s6_svstat_reads_ours_as_it_reads_c() {
    let mut seen: Vec<(Supervisor, Vec<Vec<String>>)> = Vec::new();
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("echo >&3\nexec sleep 1000")
            .write("notification-fd", "3")
            .finish("while [ ! -e go ]; do sleep 0.02; done");
        let mut sv = dir.start(sup);
        let mut states = Vec::new();
        sv.wait_status("up and ready", |s| s.up() && s.ready);
        states.push(svstat_fields(&sv));
        sv.ctl("p");
        sv.wait_status("paused", |s| s.paused);
        states.push(svstat_fields(&sv));
        sv.ctl("d");
        sv.wait_status("finishing", |s| s.finishing);
        states.push(svstat_fields(&sv));
        dir.write("go", "");
        sv.wait_status("down", |s| s.pid == 0);
        states.push(svstat_fields(&sv));
        sv.ctl("D");
        sv.wait_until("the down file", integration_tests::DEADLINE, |sv| {
            sv.dir.path("down").is_file()
        });
        states.push(svstat_fields(&sv));
        seen.push((sup, states));
    });
    let (first, want) = &seen[0];
    assert_eq!(*first, Supervisor::Ours);
    assert_eq!(
        want[0][0], "true true true true false -1 NA -1\n",
        "up and ready, as s6-svstat prints it"
    );
    assert_eq!(want[3][0], "false false true false false -1 SIGTERM 15\n");
    for (sup, states) in &seen[1..] {
        assert_eq!(states, want, "{sup:?} read differently from ours");
    }
}

/// s6-svok: "Exit 0 running, 1 not running (no message)", by the lock, on ours.
fn s6_svok_sees_our_lock() {
    for (clients, svok) in each_client("s6-svok") {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("down", "");
        let mut sv = dir.start(Supervisor::Ours);
        let out = client(&svok, &["svc"], dir.tmp());
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (Some(0), ""),
            "{clients:?}"
        );
        sv.ctl("x");
        assert_eq!(sv.wait_exit(), Some(0));
        let out = client(&svok, &["svc"], dir.tmp());
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (Some(1), ""),
            "{clients:?}"
        );
    }
}

/// s6-svwait subscribes to our fifodir and reads our status: `-U` returns when our `U`
/// comes, `-D` when our `D` comes, `-t` times out with 99, and an `x` (supervise exiting)
/// is "a failure ... exit ... with fatal `some services reported permanent failure or their
/// supervisor died`".
fn s6_svwait_waits_on_our_events() {
    for (clients, svwait) in each_client("s6-svwait") {
        let dir = ServiceDir::new();
        dir.run("echo >&3\nexec sleep 1000")
            .write("notification-fd", "3")
            .write("down", "");
        let mut sv = dir.start(Supervisor::Ours);
        let out = client(&svwait, &["-t", "200", "-u", "svc"], dir.tmp());
        assert_eq!(out.code, Some(99), "{clients:?} {}", out.stderr);

        let up = started_subscribed(&sv, &svwait, &["-U", "svc"]);
        sv.ctl("u");
        let out = up.finish();
        assert_eq!(out.code, Some(0), "{clients:?} -U: {}", out.stderr);
        assert!(sv.status().ready);

        let down = started_subscribed(&sv, &svwait, &["-D", "svc"]);
        sv.ctl("d");
        let out = down.finish();
        assert_eq!(out.code, Some(0), "{clients:?} -D: {}", out.stderr);

        let gone = started_subscribed(&sv, &svwait, &["-u", "svc"]);
        sv.ctl("x");
        assert_eq!(sv.wait_exit(), Some(0));
        let out = gone.finish();
        assert_eq!(out.code, Some(1), "{clients:?} x: {}", out.stderr);
        assert!(
            out.stderr.ends_with(
                "fatal: some services reported permanent failure or their supervisor died\n"
            ),
            "{clients:?}: {}",
            out.stderr
        );
    }
}

/// The subscriber FIFOs in our fifodir now.
fn subscribers(sv: &Supervised<'_>) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(sv.dir.path("event"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| n.len() == 39 && n.to_string_lossy().starts_with("ftrig1:@"))
                .collect()
        })
        .unwrap_or_default()
}

/// Starts `args` of `program` and waits until it has subscribed: a FIFO that was not there
/// before appears (a previous client's may linger a moment: its s6-ftrigrd removes it after
/// the client is gone), so that an event sent next is not missed.
fn started_subscribed(sv: &Supervised<'_>, program: &std::path::Path, args: &[&str]) -> Running {
    let before = subscribers(sv);
    let running = client_started(program, args, sv.dir.tmp());
    integration_tests::wait_until("the client subscribed", integration_tests::DEADLINE, || {
        subscribers(sv).iter().any(|n| !before.contains(n))
    });
    running
}

/// s6-svc with `-w` (which execs s6-svlisten1): "`-wU`/`-wR` first check
/// `DIR/notification-fd`", then wait for our events: `-wU -u` returns once ours says ready,
/// `-wD -d` once down and ready; `-T` times out with 99 ("the source exits 99").
fn s6_svc_w_waits_on_our_events() {
    for (clients, svc) in each_client("s6-svc") {
        let dir = ServiceDir::new();
        dir.run("echo >&3\nexec sleep 1000")
            .write("notification-fd", "3")
            .write("down", "");
        let mut sv = dir.start(Supervisor::Ours);
        let out = client(&svc, &["-wU", "-u", "svc"], dir.tmp());
        assert_eq!(out.code, Some(0), "{clients:?} -wU -u: {}", out.stderr);
        assert!(sv.status().ready && sv.status().up());
        let out = client(&svc, &["-wD", "-d", "svc"], dir.tmp());
        assert_eq!(out.code, Some(0), "{clients:?} -wD -d: {}", out.stderr);
        assert_eq!(sv.status().pid, 0);
        let out = client(&svc, &["-T", "200", "-wu", "-O", "svc"], dir.tmp());
        assert_eq!(
            out.code,
            Some(99),
            "{clients:?} -T 200 -wu -O: {}",
            out.stderr
        );
        let _ = &mut sv;
    }
}

/// s6-svlisten1: "`-r` first \"down and ready\" ... then up": it runs s6-svc after
/// subscribing, and returns when our service has restarted.
fn s6_svlisten1_sees_our_restart() {
    for (clients, svlisten1) in each_client("s6-svlisten1") {
        let Some(svc) = optional(clients.program("s6-svc")) else {
            continue;
        };
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut sv = dir.start(Supervisor::Ours);
        let first = sv.wait_up();
        let svc = svc.to_string_lossy().into_owned();
        let out = client(&svlisten1, &["-r", "svc", &svc, "-r", "svc"], dir.tmp());
        assert_eq!(out.code, Some(0), "{clients:?}: {}", out.stderr);
        let st = sv.status();
        assert!(st.up() && st.pid() != first, "{clients:?}: {st:?}");
    }
}

/// s6-svc: "open gives ENXIO (no reader) ... → 100 `unable to control DIR: supervisor not
/// listening`" once ours has exited; every letter it sends while ours runs is taken (the
/// kill letters reach run as the FIFO scenarios show; here the exit codes).
fn s6_svc_controls_ours_and_sees_it_gone() {
    each_supervisor(&[Supervisor::Ours], |sup| {
        for (clients, svc) in each_client("s6-svc") {
            let dir = ServiceDir::new();
            dir.run("exec sleep 1000");
            let mut sv = dir.start(sup);
            sv.wait_up();
            let out = client(&svc, &["-p", "svc"], dir.tmp());
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            sv.wait_status("paused by s6-svc -p", |s| s.paused);
            let out = client(&svc, &["-c", "-O", "svc"], dir.tmp());
            assert_eq!(out.code, Some(0));
            sv.wait_status("s6-svc -cO", |s| !s.paused && !s.wantup);
            let out = client(&svc, &["-x", "-d", "svc"], dir.tmp());
            assert_eq!(out.code, Some(0));
            assert_eq!(sv.wait_exit(), Some(0));
            let out = client(&svc, &["-u", "svc"], dir.tmp());
            assert_eq!(out.code, Some(100), "{clients:?}");
            // Debian's 2.11 prints an empty field before its text (seen by running it).
            let prefix = if clients == Clients::Debian { ": " } else { "" };
            assert_eq!(
                out.stderr,
                format!("s6-svc: fatal: {prefix}unable to control svc: supervisor not listening\n")
            );
        }
    });
}

/// "`O` → only when waiting for up ...: count a failure": a finish exiting 125 ends a
/// `s6-svwait -u` with exit 1 (our `OD`).
fn a_permanent_failure_ends_s6_svwait_with_1() {
    for (clients, svwait) in each_client("s6-svwait") {
        let dir = ServiceDir::new();
        dir.run("exit 1").finish("exit 125").write("down", "");
        let sv = dir.start(Supervisor::Ours);
        // Up first, then the failure: svwait -U waits past the `u` for readiness that never
        // comes, and the `O` ends it.
        let waiting = started_subscribed(&sv, &svwait, &["-U", "svc"]);
        sv.ctl("o");
        let out = waiting.finish();
        assert_eq!(out.code, Some(1), "{clients:?}: {}", out.stderr);
    }
}
