//! SUPERVISE.md, "supervise" / "Death of run", "Death of finish" (supervise.c:409-465,
//! 533-542), the throttle of "set_down_and_ready", and the shared format
//! "supervise/death_tally".

use integration_tests::DEADLINE;
use integration_tests::scenario;
use integration_tests::service::{
    Observed, ServiceDir, Supervisor, client, each_client, each_supervisor, last_death,
    tai_secs_between,
};
use integration_tests::suite::Scenario;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(finish_gets_the_exit_code_or_256_and_the_signal),
    scenario!(while_finish_runs_the_status_names_finish_and_says_finishing),
    scenario!(finish_exiting_125_is_a_permanent_failure),
    scenario!(a_finish_that_cannot_be_spawned_is_down_and_ready_at_once),
    scenario!(a_service_that_dies_at_once_restarts_one_second_after_finish_ends).slow(),
    scenario!(each_death_is_recorded_and_only_the_last_max_death_tally_are_kept).slow(),
    scenario!(max_death_tally_zero_records_nothing_and_an_invalid_one_is_the_default),
    scenario!(a_damaged_tally_is_restarted_and_an_unwritable_one_is_a_warning),
    scenario!(a_missing_tally_is_created_empty_then_holds_the_death),
    scenario!(the_paused_flag_is_cleared_when_run_dies),
];

/// "spawn `./finish` with argv `[\"finish\", EXIT, SIG, NAME]`: EXIT = the exit status, or
/// `256` if killed by a signal; SIG = the signal number if killed, else `0`"; "wstat := its
/// status" (the raw wait status, in the status file).
fn finish_gets_the_exit_code_or_256_and_the_signal() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for (run, args, wstat) in [
            ("exit 3", "3 0 svc", 0x0300),
            ("kill -KILL $$", "256 9 svc", 9),
            ("kill -USR1 $$", "256 10 svc", 10),
        ] {
            let dir = ServiceDir::new();
            dir.run(run).write("down", "");
            dir.finish("echo \"$@\" > finish-args");
            let mut sv = dir.start(sup);
            sv.ctl("o");
            let st = sv.wait_status("down after finish", |s| {
                s.pid == 0 && s.ready && dir.path("finish-args").is_file()
            });
            assert_eq!(
                std::fs::read_to_string(dir.path("finish-args")).unwrap(),
                format!("{args}\n")
            );
            assert_eq!(st.wstat, wstat, "{run}");
        }
    });
}

/// "finish spawned: ... finishing := 1, pid := finish, status write, publish `d`"; the
/// spec's s6-svstat example "during finish: `down (exitcode 3) 0 seconds, normally up, want
/// up` (no ready)", read by both C s6-svstat on our status file.
fn while_finish_runs_the_status_names_finish_and_says_finishing() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 3").finish("echo $$ > fpid\nexec sleep 1000");
        let mut sv = dir.start(sup);
        let st = sv.wait_status("finishing", |s| s.finishing);
        sv.wait_until("finish's pid", DEADLINE, |sv| sv.dir.has_line("fpid"));
        let fpid = std::fs::read_to_string(dir.path("fpid")).unwrap();
        assert_eq!(st.pid.to_string(), fpid.trim());
        assert!(!st.ready && st.wantup && st.wstat == 0x300, "{st:?}");
        for (clients, svstat) in each_client("s6-svstat") {
            let out = client(&svstat, &["svc"], dir.tmp());
            assert!(
                out.stdout.starts_with("down (exitcode 3) ")
                    && out.stdout.ends_with(" seconds, normally up, want up\n"),
                "{clients:?}: {}",
                out.stdout
            );
        }
    });
}

/// "Exit status 125: wantup := 0, \"down and ready\" with events `OD`" — no restart.
fn finish_exiting_125_is_a_permanent_failure() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 1").finish("exit 125");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let st = sv.wait_status("down for good", |s| s.pid == 0 && !s.wantup);
        assert!(st.ready && !st.finishing);
        assert_eq!(events.wait_contains("sudOD"), b"sudOD");
    });
}

/// "spawn failed: ENOENT (no finish, or its interpreter is missing) silently, anything else
/// warning `unable to spawn ./finish: ERR`; then \"down and ready\" with events `dD` (one
/// write)". (2.11 forks, so its failed exec is a child exiting 127, `d` then `D`: not run.)
fn a_finish_that_cannot_be_spawned_is_down_and_ready_at_once() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        for (setup, warning) in [
            ("none", ""),
            ("missing interpreter", ""),
            (
                "not executable",
                "s6-supervise svc: warning: unable to spawn ./finish: Permission denied\n",
            ),
        ] {
            let dir = ServiceDir::new();
            dir.run("exit 4").write("down", "");
            match setup {
                "none" => {}
                "missing interpreter" => {
                    dir.finish("true");
                    dir.write("finish", "#!/nonexistent/sh\n");
                }
                _ => {
                    dir.write("finish", "#!/bin/sh\n");
                }
            }
            let mut events = dir.watch();
            let sv = dir.start(sup);
            sv.ctl("o");
            assert_eq!(events.wait_contains("dD"), b"sudD", "{setup}");
            let st = sv.status();
            assert!(
                st.pid == 0 && st.ready && !st.finishing && st.wstat == 0x400,
                "{st:?}"
            );
            assert_eq!(sv.stderr(), warning, "{setup}");
        }
    });
}

/// "Deadline (the **throttle**): ... else deadline = now + 1 s": a service that dies at
/// once is restarted once a second, counted from the end of finish, on the status file's own
/// stamps.
fn a_service_that_dies_at_once_restarts_one_second_after_finish_ends() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("echo $$ >> pids\n[ -e started ] && exec sleep 1000\ntouch started\nexit 0")
            .finish("sleep 0.3");
        let mut sv = dir.start(sup);
        let mut second = 0;
        sv.wait_until("the second start", DEADLINE, |sv| {
            let pids = std::fs::read_to_string(sv.dir.path("pids")).unwrap_or_default();
            second = pids
                .lines()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            second != 0 && sv.dir.status().is_some_and(|s| s.pid() == second)
        });
        // The restart's status keeps the readystamp of the going down.
        let up = sv.status();
        let down = up;
        integration_tests::assert_delay(
            "restart after finish",
            tai_secs_between(down.readystamp, up.stamp),
            1.0,
        );
        let (died, _, _) = last_death(&dir);
        let finish_took = tai_secs_between(died, down.readystamp);
        assert!(
            finish_took >= 0.25,
            "finish ran {finish_took:.3} s: the throttle counts from its end"
        );
    });
}

/// death_tally: "A sequence of 14-byte records, oldest first: TAI64N stamp of the death (=
/// `stamp` at the death), then one byte exit code (128 + signal if killed, else the exit
/// status), then one byte signal number"; "keep the last n" with `max-death-tally`.
fn each_death_is_recorded_and_only_the_last_max_death_tally_are_kept() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        // Three deaths: exit 5, exit 6, SIGKILL, then it stays up.
        dir.run(
            "n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count\n\
             case $n in 0) exit 5;; 1) exit 6;; 2) kill -KILL $$;; esac\nexec sleep 1000",
        )
        .write("max-death-tally", "2\n")
        .write("notification-fd", "3");
        // Readiness at once, so the restarts are not throttled... they still are (1 s after
        // readiness): three deaths take about two seconds.
        let mut sv = dir.start(sup);
        sv.wait_until("the fourth start", DEADLINE, |sv| {
            std::fs::read_to_string(sv.dir.path("count")).is_ok_and(|c| c.trim() == "4")
        });
        let st = sv.wait_status("up for good", |s| s.up());
        let tally = std::fs::read(dir.path("supervise/death_tally")).unwrap();
        assert_eq!(tally.len(), 28, "the last two of three");
        assert_eq!(tally[12..14], [6, 0]);
        assert_eq!(tally[26..28], [128 + 9, 9]);
        let (last, _, _) = last_death(&dir);
        assert!(last < st.stamp);
    });
}

/// death_tally: "n = 0: nothing is read or written"; an invalid `max-death-tally` is a
/// warning `invalid max-death-tally` and the default (100).
fn max_death_tally_zero_records_nothing_and_an_invalid_one_is_the_default() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for (content, recorded) in [("0", 0), ("lots", 14)] {
            let dir = ServiceDir::new();
            dir.run("exit 7")
                .write("down", "")
                .write("max-death-tally", content);
            let mut sv = dir.start(sup);
            sv.ctl("o");
            sv.wait_status("dead", |s| s.wstat == 0x700 && s.pid == 0);
            let tally = std::fs::read(dir.path("supervise/death_tally")).unwrap();
            assert_eq!(tally.len(), recorded, "{content}");
            let warned = if content == "lots" {
                "s6-supervise svc: warning: invalid max-death-tally\n"
            } else {
                ""
            };
            assert_eq!(sv.stderr(), warned);
        }
    });
}

/// death_tally: "a size that is not a multiple of 14 ... → truncated/created empty and
/// treated as 0 records"; a write failure: "warning `unable to write supervise/death_tally:
/// ERR`", and supervision goes on.
fn a_damaged_tally_is_restarted_and_an_unwritable_one_is_a_warning() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 7").write("down", "");
        let mut sv = dir.start(sup);
        dir.write("supervise/death_tally", [1u8; 20]);
        sv.ctl("o");
        sv.wait_status("dead", |s| s.wstat == 0x700 && s.pid == 0);
        let tally = std::fs::read(dir.path("supervise/death_tally")).unwrap();
        assert_eq!(tally.len(), 14, "the 20 bytes were dropped");
        std::fs::create_dir(dir.path("supervise/death_tally.new")).unwrap();
        dir.run("exit 8");
        sv.ctl("o");
        sv.wait_status("dead again", |s| s.wstat == 0x800 && s.pid == 0);
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: warning: unable to write supervise/death_tally: Is a directory\n"
        );
        sv.ctl("o");
        sv.wait_status("and it still runs", |s| s.up() || s.pid == 0);
    });
}

/// death_tally: "a missing file → truncated/created empty and treated as 0 records
/// (dtally_read.c:32-38); append the new record": the tally removed under supervise holds
/// this death alone; and when the new version cannot be written (`death_tally.new` a
/// directory), the created empty file is what is left, with the write warning.
fn a_missing_tally_is_created_empty_then_holds_the_death() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 7").write("down", "");
        let mut sv = dir.start(sup);
        std::fs::remove_file(dir.path("supervise/death_tally")).unwrap();
        sv.ctl("o");
        let st = sv.wait_status("dead", |s| s.wstat == 0x700 && s.pid == 0);
        let (stamp, code, sig) = last_death(&dir);
        assert_eq!(
            std::fs::metadata(dir.path("supervise/death_tally"))
                .unwrap()
                .len(),
            14
        );
        assert_eq!((stamp, code, sig), (st.stamp, 7, 0));
        assert_eq!(sv.stderr(), "", "a missing tally is no read error");

        std::fs::remove_file(dir.path("supervise/death_tally")).unwrap();
        std::fs::create_dir(dir.path("supervise/death_tally.new")).unwrap();
        dir.run("exit 8");
        sv.ctl("o");
        sv.wait_status("dead again", |s| s.wstat == 0x800 && s.pid == 0);
        assert_eq!(
            std::fs::read(dir.path("supervise/death_tally")).unwrap(),
            b"",
            "created empty"
        );
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: warning: unable to write supervise/death_tally: Is a directory\n"
        );
    });
}

/// "When run died: ... paused := 0": a service stopped by `p` and then killed from outside
/// is not paused any more in the status written at its death (finish's, here, which hangs
/// so that nothing later rewrites it).
fn the_paused_flag_is_cleared_when_run_dies() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("echo $$ > pid\nexec sleep 1000")
            .finish("exec sleep 1000");
        let mut sv = dir.start(sup);
        let pid = sv.wait_up();
        sv.wait_until("run exec'd", DEADLINE, |_| crate::sleeping(pid));
        sv.ctl("p");
        sv.wait_status("paused", |s| s.paused && s.pid() == pid);
        integration_tests::signal_pid(pid, nix::sys::signal::Signal::SIGKILL);
        let st = sv.wait_status("finishing", |s| s.finishing);
        assert_eq!(st.wstat, 9, "{st:?}");
        assert!(!st.paused, "{sup:?}: {st:?}");
    });
}
