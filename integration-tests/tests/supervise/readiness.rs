//! SUPERVISE.md, "supervise" / "Readiness" (supervise.c:581-603), and the throttle's
//! readiness rule ("Death of finish": "if nextstart is set (readiness was notified during
//! this run), deadline = nextstart").

use integration_tests::DEADLINE;
use integration_tests::scenario;
use integration_tests::service::{
    Observed, ServiceDir, Supervisor, client, each_client, each_supervisor, last_death,
    tai_secs_between,
};
use integration_tests::suite::Scenario;

use crate::fd_numbers;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(a_newline_on_the_notification_fd_is_readiness),
    scenario!(a_partial_line_is_not_readiness_and_does_not_freeze_supervise),
    scenario!(eof_before_a_newline_is_no_readiness),
    scenario!(
        a_service_that_was_ready_long_enough_restarts_at_once_and_one_that_was_not_waits_a_second
    )
    .slow(),
    scenario!(a_quick_death_after_readiness_restarts_one_second_after_the_readiness).slow(),
];

/// "a chunk containing `\n` anywhere means ready: ... readystamp := now, ready := 1, status
/// write, publish `U`, close the pipe"; run gets the write end on fd N.
fn a_newline_on_the_notification_fd_is_readiness() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run(
            "while [ ! -e go ]; do sleep 0.02; done\nprintf 'ready\\nmore\\n' >&3\nexec sleep 1000",
        )
        .write("notification-fd", "3\n");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let pid = sv.wait_up();
        assert!(!sv.status().ready);
        let sup_fds = fd_numbers(sv.pid()).len();
        dir.write("go", "");
        let st = sv.wait_status("ready", |s| s.ready);
        assert_eq!(st.pid(), pid);
        assert!(tai_secs_between(st.stamp, st.readystamp) >= 0.0, "{st:?}");
        assert_eq!(events.wait_contains("suU"), b"suU");
        sv.wait_until("the pipe closed", DEADLINE, |sv| {
            fd_numbers(sv.pid()).len() == sup_fds - 1
        });
        for (clients, svstat) in each_client("s6-svstat") {
            let out = client(&svstat, &["svc"], dir.tmp());
            let want = format!("up (pid {pid}) ");
            assert!(
                out.stdout.starts_with(&want) && out.stdout.contains(" seconds, ready "),
                "{clients:?}: {}",
                out.stdout
            );
        }
    });
}

/// "A partial line is never readiness"; **fix** (no upstream fix): "a service that writes
/// bytes without a newline **freezes supervise** (no commands, no signals, no deaths
/// handled) ... Ours makes the read end non-blocking and stops at EAGAIN": `d` is obeyed at
/// once, and a newline later is still readiness.
fn a_partial_line_is_not_readiness_and_does_not_freeze_supervise() {
    let dir = ServiceDir::new();
    dir.run(
        "printf 'not yet' >&3\ntrap 'printf \"\\n\" >&3' USR1\necho $$ > pid\n\
         while :; do sleep 1000 & wait $!; done",
    )
    .write("notification-fd", "3");
    let mut sv = dir.start(Supervisor::Ours);
    let pid = sv.wait_up();
    sv.wait_until("run's trap", DEADLINE, |sv| sv.dir.has_line("pid"));
    sv.ctl("p");
    sv.wait_status("p obeyed", |s| s.paused);
    sv.ctl("c");
    sv.wait_status("c obeyed", |s| !s.paused);
    assert!(!sv.status().ready);
    integration_tests::signal_pid(pid, nix::sys::signal::Signal::SIGUSR1);
    sv.wait_status("the newline is readiness", |s| s.ready && s.pid() == pid);
    sv.ctl("d");
    sv.wait_status("down", |s| s.pid == 0);
}

/// "EOF or a read error before that: close the pipe silently (no readiness)".
fn eof_before_a_newline_is_no_readiness() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run(
            "while [ ! -e go ]; do sleep 0.02; done\nprintf 'half' >&3\nexec 3>&-\nexec sleep 1000",
        )
        .write("notification-fd", "3");
        let mut sv = dir.start(sup);
        sv.wait_up();
        let with_pipe = fd_numbers(sv.pid()).len();
        dir.write("go", "");
        sv.wait_until("the pipe closed", DEADLINE, |sv| {
            fd_numbers(sv.pid()).len() == with_pipe - 1
        });
        let st = sv.status();
        assert!(st.up() && !st.ready, "{st:?}");
        assert!(sv.stderr().is_empty(), "silently: {}", sv.stderr());
    });
}

/// The throttle: "if nextstart is set (readiness was notified during this run), deadline =
/// nextstart (= readiness + 1 s, usually past: restart at once); else deadline = now + 1 s.
/// ... a service without readiness notification always waits 1 s after going down (after
/// finish), however long it ran." Measured on the status file's own stamps (the death's
/// `readystamp` and the restart's `stamp`).
fn a_service_that_was_ready_long_enough_restarts_at_once_and_one_that_was_not_waits_a_second() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for ready in [true, false] {
            let dir = ServiceDir::new();
            // Ready (or not), then alive for 1.2 s, then dead: the next start is due at once
            // (readiness + 1 s is past) or 1 s after the death.
            let notify = if ready { "echo >&3\n" } else { "" };
            dir.run(&format!(
                "[ -e started ] && exec sleep 1000\ntouch started\n{notify}sleep 1.2\nexit 0"
            ))
            .write("notification-fd", "3");
            let mut sv = dir.start(sup);
            let first = sv.wait_up();
            // The down state may last no time at all: the death's stamp is in the tally.
            let up = sv.wait_status("the restart", |s| s.up() && s.pid() != first);
            let (died, _, _) = last_death(&dir);
            let gap = tai_secs_between(died, up.stamp);
            if ready {
                assert!(
                    gap < 0.4,
                    "{sup:?}: restarted {gap:.3} s after a ready run's death"
                );
            } else {
                integration_tests::assert_delay("restart after a never-ready run", gap, 1.0);
            }
        }
    });
}

/// With readiness and a quick death, the next start is 1 s after the readiness, not after
/// the death ("nextstart := now + 1 s" at readiness).
fn a_quick_death_after_readiness_restarts_one_second_after_the_readiness() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("[ -e started ] && exec sleep 1000\ntouch started\necho >&3\nsleep 0.5\nexit 0")
            .write("notification-fd", "3");
        let mut sv = dir.start(sup);
        let first = sv.wait_up();
        let ready = sv.wait_status("ready", |s| s.ready && s.pid() == first);
        let up = sv.wait_status("the restart", |s| s.up() && s.pid() != first);
        let gap = tai_secs_between(ready.readystamp, up.stamp);
        integration_tests::assert_delay("restart after readiness", gap, 1.0);
        let _ = DEADLINE;
    });
}
