//! SUPERVISE.md, "supervise" / "The transition table" (supervise.c:556-573) and the kill
//! letters: each row in the states where it does something observable.

use integration_tests::scenario;
use integration_tests::suite::Scenario;
use std::time::{Duration, Instant};

use integration_tests::DEADLINE;
use integration_tests::service::{
    Observed, ServiceDir, Supervised, Supervisor, Tai64n, alive, each_supervisor, tai_secs_between,
    wait_gone,
};
use nix::sys::signal::Signal;

use crate::{OnTerm, sigs, trapping_run, wait_sig, wait_trapping};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(kill_letters_signal_run_and_change_nothing_else).slow(),
    scenario!(p_stops_run_and_c_continues_it_with_the_paused_flag),
    scenario!(r_sends_the_down_signal_read_at_that_moment),
    scenario!(kill_letters_do_nothing_while_down_or_finishing),
    scenario!(d_stops_run_with_term_and_cont_and_u_starts_it_again),
    scenario!(u_o_and_big_u_start_at_once_inside_the_throttle_and_o_runs_once).slow(),
    scenario!(o_while_up_lets_the_service_run_but_not_restart),
    scenario!(the_down_file_letters_create_and_remove_down),
    scenario!(exit_inputs_while_down_leave_at_once),
    scenario!(x_or_sighup_while_up_exit_after_the_service_dies_with_stdin_and_stdout_closed),
    scenario!(sigterm_while_up_stops_the_service_then_exits),
    scenario!(sigquit_leaves_at_once_and_leaves_the_service_running),
    scenario!(sigint_goes_to_runs_process_group_then_supervise_exits),
    scenario!(sigterm_while_finishing_exits_after_finish),
    scenario!(u_in_lastup_is_recorded_but_there_is_no_restart),
    scenario!(timeout_kill_kills_a_service_that_ignores_the_down_signal),
    scenario!(d_while_dying_rearms_the_kill_deadline).slow(),
    scenario!(timeout_finish_kills_a_hanging_finish),
    scenario!(sigquit_while_finishing_leaves_at_once_and_leaves_finish_running),
    scenario!(sigint_while_finishing_goes_to_finishs_process_group_then_supervise_exits),
    scenario!(x_or_sighup_while_finishing_exit_after_finish_and_lastfinish_only_closes),
    scenario!(in_lastup_sighup_and_x_only_close_and_sigterm_stops_the_service),
    scenario!(d_while_down_or_finishing_is_wantdown_only).slow(),
    scenario!(a_down_file_that_cannot_be_made_or_removed_is_a_warning_and_the_flag_changes),
];

/// A finish that appends each signal it gets to `fsigs`, writes its pid to `fpid` (after its
/// traps) and runs until `release` exists.
fn trapping_finish(dir: &ServiceDir) {
    dir.finish(
        "for s in HUP INT QUIT USR1 USR2 ALRM ABRT WINCH CONT TERM; do trap \"echo $s >> fsigs\" $s; done\n\
         echo $$ > fpid\n\
         while [ ! -e release ]; do sleep 0.05; done",
    );
}

/// Waits until finish runs with its traps set, and returns its pid.
fn wait_trapping_finish(sv: &mut Supervised<'_>) -> i32 {
    let finish = sv.wait_status("finishing", |s| s.finishing).pid();
    sv.wait_until("finish's traps", DEADLINE, |sv| {
        std::fs::read_to_string(sv.dir.path("fpid")).is_ok_and(|p| p.trim() == finish.to_string())
    });
    finish
}

/// Whether fd `fd` of `pid` is `/dev/null` (after "close").
fn on_dev_null(pid: i32, fd: i32) -> bool {
    integration_tests::procfs::fds(pid)
        .iter()
        .any(|(n, to)| *n == fd && to == std::path::Path::new("/dev/null"))
}

/// `x` or SIGHUP (`how`): supervise's "close", seen as its fds 0 and 1 on /dev/null.
fn close_by(sv: &mut Supervised<'_>, how: &str) {
    if how == "x" {
        sv.ctl("x");
    } else {
        sv.signal(Signal::SIGHUP);
    }
    let pid = sv.pid();
    sv.wait_until("fds 0 and 1 on /dev/null", DEADLINE, |_| {
        on_dev_null(pid, 0) && on_dev_null(pid, 1)
    });
}

/// Kill letters: "`a` SIGALRM, `b` SIGABRT, `q` SIGQUIT, `h` SIGHUP, `t` SIGTERM, `i`
/// SIGINT, `1` SIGUSR1, `2` SIGUSR2, `y` SIGWINCH", sent to run; "Nothing else changes (`t`,
/// `k` do not touch wantup, so the service is restarted if wanted up)".
fn kill_letters_signal_run_and_change_nothing_else() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Ignore);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        for (letter, sig) in [
            ("a", "ALRM"),
            ("b", "ABRT"),
            ("q", "QUIT"),
            ("h", "HUP"),
            ("t", "TERM"),
            ("i", "INT"),
            ("1", "USR1"),
            ("2", "USR2"),
            ("y", "WINCH"),
        ] {
            sv.ctl(letter);
            wait_sig(&mut sv, "sigs", sig);
        }
        let st = sv.status();
        assert_eq!(st.pid(), pid);
        assert!(st.wantup && !st.paused, "{st:?}");
        sv.ctl("k");
        let next = sv.wait_status("restarted after k", |s| s.up() && s.pid() != pid);
        assert!(next.wantup);
        assert_eq!(sv.status().wstat, 9, "killed by SIGKILL");
    });
}

/// "`p` SIGSTOP: paused := 1, status write", "`c` SIGCONT: paused := 0, status write".
fn p_stops_run_and_c_continues_it_with_the_paused_flag() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        sv.ctl("p");
        sv.wait_status("paused", |s| s.paused);
        sv.wait_until("run stopped", DEADLINE, |_| {
            integration_tests::procfs::state(pid) == Some('T')
        });
        sv.ctl("c");
        sv.wait_status("not paused", |s| !s.paused);
        wait_sig(&mut sv, "sigs", "CONT");
        assert_ne!(integration_tests::procfs::state(pid), Some('T'));
    });
}

/// "`r` down-signal (read now): the service dies and is restarted if wanted up"; a
/// `down-signal` of `HUP` makes `r` a SIGHUP (read at each `r`).
fn r_sends_the_down_signal_read_at_that_moment() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        dir.write("down-signal", "sighup\n");
        sv.ctl("r");
        wait_sig(&mut sv, "sigs", "HUP");
        assert_eq!(sv.status().pid(), pid, "HUP does not end it");
        std::fs::remove_file(dir.path("down-signal")).unwrap();
        sv.ctl("r");
        let next = sv.wait_status("restarted after r", |s| s.up() && s.pid() != pid);
        assert!(next.wantup);
        assert!(sigs(&dir, "sigs").contains(&"TERM".to_owned()));
    });
}

/// Kill letters in DOWN and FINISH: "nothing" (and in DOWN no kill of pid 0, which would be
/// supervise's own process group); the letters are taken in order with the rest: the `O`
/// after them is acted on.
fn kill_letters_do_nothing_while_down_or_finishing() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("down", "");
        let mut sv = dir.start(sup);
        sv.ctl("abqhkti12pcyrU");
        sv.wait_up();
        assert!(!sv.has_exited());

        let dir = ServiceDir::new();
        dir.run("exit 3");
        dir.finish(
            "for s in HUP INT QUIT USR1 USR2 ALRM ABRT WINCH CONT TERM; do trap \"echo $s >> fsigs\" $s; done\n\
             echo $$ > fpid\n\
             while [ ! -e release ]; do sleep 0.05; done",
        );
        let mut sv = dir.start(sup);
        let finish = sv.wait_status("finishing", |s| s.finishing).pid();
        sv.wait_until("finish's traps", DEADLINE, |sv| {
            std::fs::read_to_string(sv.dir.path("fpid"))
                .is_ok_and(|p| p.trim() == finish.to_string())
        });
        sv.ctl("abqhkti12pcyrO");
        let st = sv.wait_status("wantdown from O", |s| !s.wantup);
        assert!(st.finishing && st.pid() == finish, "{st:?}");
        assert!(sigs(&dir, "fsigs").is_empty(), "{:?}", sigs(&dir, "fsigs"));
        assert!(!st.paused);
        dir.write("release", "");
        sv.wait_status("down after finish", |s| s.pid == 0);
    });
}

/// `d` in UP: "stop = wantup := 0, kill down-signal, then SIGCONT with paused := 0 and a
/// status write"; then run's death, no restart. `u` in DOWN: "wantup, start".
fn d_stops_run_with_term_and_cont_and_u_starts_it_again() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        wait_trapping(&mut sv);
        sv.ctl("d");
        let st = sv.wait_status("down", |s| s.pid == 0);
        assert!(!st.wantup && st.ready);
        assert_eq!(st.wstat, 0, "exited 0 from its TERM trap");
        assert!(sigs(&dir, "sigs").contains(&"TERM".to_owned()));
        sv.ctl("u");
        let st = sv.wait_status("up again", |s| s.up());
        assert!(st.wantup);
    });
}

/// `u`, `o` and `U` in DOWN start at once, even inside the 1 s throttle ("Consequences worth
/// a test"); `o` is "wantdown, start": it is not restarted after its death.
fn u_o_and_big_u_start_at_once_inside_the_throttle_and_o_runs_once() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for letter in ["u", "o", "U"] {
            let dir = ServiceDir::new();
            // run dies at once after its first start: the next start is 1 s after that.
            dir.run("[ -e started ] && exec sleep 1000\ntouch started\nexit 1");
            let mut sv = dir.start(sup);
            sv.wait_status("first death", |s| s.pid == 0 && s.wstat == 0x100);
            let at = Instant::now();
            sv.ctl(letter);
            sv.wait_status("started by the letter", |s| s.up());
            assert!(
                at.elapsed() < Duration::from_millis(700),
                "{letter}: started after {:?}",
                at.elapsed()
            );
            assert_eq!(sv.status().wantup, letter != "o", "{letter}");
        }
        // `o`: once.
        let dir = ServiceDir::new();
        dir.run("exit 2").write("down", "");
        let mut sv = dir.start(sup);
        sv.ctl("o");
        let st = sv.wait_status("died after o", |s| s.pid == 0 && s.wstat == 0x200);
        assert!(!st.wantup);
    });
}

/// `o` in UP: "wantdown": the service goes on, and is not restarted when it dies.
fn o_while_up_lets_the_service_run_but_not_restart() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        sv.ctl("o");
        sv.wait_status("wantdown", |s| !s.wantup);
        assert!(alive(pid));
        assert!(sigs(&dir, "sigs").is_empty(), "o sends no signal");
        sv.ctl("k");
        let st = sv.wait_status("down", |s| s.pid == 0);
        assert_eq!(st.wstat, 9);
        assert!(!st.wantup);
    });
}

/// `D`: "DOWN file +, stop" in UP, "DOWN file +, wantdown" in DOWN; `U`: "DOWN file −,
/// wantup" (and start in DOWN); `Q`: "DOWN file +, wantdown" whatever the state: the service
/// goes on running; `O`: "wantdown".
fn the_down_file_letters_create_and_remove_down() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        sv.ctl("Q");
        sv.wait_status("wantdown", |s| !s.wantup);
        assert!(dir.path("down").is_file());
        assert!(
            alive(pid) && sigs(&dir, "sigs").is_empty(),
            "Q does not stop it"
        );
        sv.ctl("U");
        sv.wait_status("wantup", |s| s.wantup);
        assert!(!dir.path("down").exists());
        sv.ctl("O");
        sv.wait_status("wantdown", |s| !s.wantup);
        assert!(!dir.path("down").exists());
        sv.ctl("D");
        let st = sv.wait_status("down", |s| s.pid == 0);
        assert!(!st.wantup);
        assert!(dir.path("down").is_file());
        assert!(sigs(&dir, "sigs").contains(&"TERM".to_owned()));
        sv.ctl("U");
        sv.wait_status("started by U", |s| s.up() && s.wantup);
        assert!(!dir.path("down").exists());
    });
}

/// `x` in DOWN and SIGTERM, SIGHUP, SIGQUIT, SIGINT in DOWN: "exit", publishing `x`.
fn exit_inputs_while_down_leave_at_once() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for how in ["x", "TERM", "HUP", "QUIT", "INT"] {
            let dir = ServiceDir::new();
            dir.run("exec sleep 1000").write("down", "");
            let sv_events = {
                let mut events = dir.watch();
                let mut sv = dir.start(sup);
                events.wait_contains("s");
                events.clear();
                match how {
                    "x" => sv.ctl("x"),
                    "TERM" => sv.signal(Signal::SIGTERM),
                    "HUP" => sv.signal(Signal::SIGHUP),
                    "QUIT" => sv.signal(Signal::SIGQUIT),
                    _ => sv.signal(Signal::SIGINT),
                }
                assert_eq!(sv.wait_exit(), Some(0), "{how}: {}", sv.stderr());
                events.text()
            };
            assert_eq!(sv_events, "x", "{how}");
        }
    });
}

/// `x` in UP: "→ LASTUP, close": the service goes on, supervise's fds 0 and 1 become
/// /dev/null, and supervise exits once the service is down (after finish); SIGHUP in UP is
/// the same row.
fn x_or_sighup_while_up_exit_after_the_service_dies_with_stdin_and_stdout_closed() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for how in ["x", "HUP"] {
            let dir = ServiceDir::new();
            trapping_run(&dir, OnTerm::Exit);
            dir.finish("echo finish ran > finished");
            let (read, write) = nix::unistd::pipe().unwrap();
            let mut events = dir.watch();
            let mut sv = dir.launch(sup).stdin(read).start();
            drop(write);
            let pid = wait_trapping(&mut sv);
            events.wait_contains("su");
            events.clear();
            close_by(&mut sv, how);
            assert!(
                alive(pid) && !sv.has_exited(),
                "{how}: the service is left running"
            );
            assert!(sigs(&dir, "sigs").is_empty(), "{how}: no signal to run");
            sv.ctl("u");
            sv.ctl("k");
            assert_eq!(sv.wait_exit(), Some(0), "{how}");
            assert!(dir.path("finished").is_file(), "{how}: finish ran first");
            let got = events.text();
            assert!(got.ends_with('x') && got.contains('d'), "{how}: {got}");
            assert_eq!(
                got.matches('u').count(),
                0,
                "{how}: not restarted although u"
            );
        }
    });
}

/// SIGTERM in UP: "→ LASTUP, stop" (down signal, and exit after the death); unlike `x`, no
/// "close" (the doc says "as if s6-svc -xd"; the source differs there).
fn sigterm_while_up_stops_the_service_then_exits() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Ignore);
        let (read, _write) = nix::unistd::pipe().unwrap();
        let mut events = dir.watch();
        let mut sv = dir.launch(sup).stdin(read).start();
        wait_trapping(&mut sv);
        events.wait_contains("su");
        events.clear();
        let pid = sv.pid();
        let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
        sv.signal(Signal::SIGTERM);
        wait_sig(&mut sv, "sigs", "TERM");
        sv.wait_status("the stop's status write", |s| !s.wantup);
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap(),
            stdin,
            "{sup:?}: SIGTERM does not close"
        );
        assert!(!sv.has_exited(), "it waits for the service");
        sv.ctl("k");
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "dDx");
    });
}

/// SIGQUIT in UP: "exit"; "after SIGQUIT the child (run or finish) is left running and the
/// status file is left as it was".
fn sigquit_leaves_at_once_and_leaves_the_service_running() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        let before = sv.status();
        events.wait_contains("su");
        events.clear();
        sv.signal(Signal::SIGQUIT);
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "x");
        assert!(alive(pid));
        assert_eq!(sv.status(), before, "the status file is not rewritten");
        assert!(sigs(&dir, "sigs").is_empty());
    });
}

/// SIGINT in UP: "SIGINT to the child's process group, exit" — run's children in its group
/// get it too.
fn sigint_goes_to_runs_process_group_then_supervise_exits() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        // The child runs in the foreground: sh ignores SIGINT in asynchronous children, and
        // a signal ignored on entry cannot be trapped.
        dir.run(
            "trap 'echo INT >> sigs' INT\necho $$ > pid\n\
             sh -c 'trap \"echo INT >> child-sigs; exit 0\" INT; echo $$ > child; while :; do sleep 1000 & wait $!; done'\n\
             while :; do sleep 1000 & wait $!; done",
        );
        let mut sv = dir.start(sup);
        wait_trapping(&mut sv);
        sv.wait_until("run's child trapping", DEADLINE, |sv| {
            sv.dir.has_line("child")
        });
        sv.signal(Signal::SIGINT);
        assert_eq!(sv.wait_exit(), Some(0));
        wait_sig(&mut sv, "sigs", "INT");
        wait_sig(&mut sv, "child-sigs", "INT");
    });
}

/// SIGTERM in FINISH: "→ LASTFINISH, close" (finish is not signalled, supervise exits when it
/// ends); SIGTERM in LASTFINISH: "nothing".
fn sigterm_while_finishing_exits_after_finish() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 3");
        dir.finish("trap 'echo TERM >> fsigs' TERM\necho $$ > fpid\nwhile [ ! -e release ]; do sleep 0.05; done");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let finish = sv.wait_status("finishing", |s| s.finishing).pid();
        sv.wait_until("finish's trap", DEADLINE, |sv| sv.dir.has_line("fpid"));
        events.wait_contains("sud");
        events.clear();
        sv.signal(Signal::SIGTERM);
        sv.signal(Signal::SIGTERM);
        let sup_pid = sv.pid();
        sv.wait_until("fd 1 on /dev/null", DEADLINE, |_| {
            integration_tests::procfs::fds(sup_pid)
                .iter()
                .any(|(fd, to)| *fd == 1 && to == std::path::Path::new("/dev/null"))
        });
        assert!(alive(finish) && !sv.has_exited());
        assert!(sigs(&dir, "fsigs").is_empty(), "finish is not signalled");
        dir.write("release", "");
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "Dx");
    });
}

/// "in LASTUP `u` is accepted but the service is not restarted".
fn u_in_lastup_is_recorded_but_there_is_no_restart() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Ignore);
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        events.wait_contains("su");
        sv.signal(Signal::SIGTERM);
        wait_sig(&mut sv, "sigs", "TERM");
        sv.wait_status("wantdown from the stop", |s| !s.wantup);
        sv.ctl("u");
        sv.wait_status("wantup again", |s| s.wantup);
        sv.ctl("k");
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "sudDx");
        wait_gone(pid);
    });
}

/// `timeout-kill`: "if timeout-kill t > 0: deadline = now + t and \"dying\""; the timeout:
/// "dying ? kill SIGKILL ... deadline = now + 5 s"; "`u` after `d` does not cancel a pending
/// timeout-kill SIGKILL" (and the service, wanted up again, restarts).
fn timeout_kill_kills_a_service_that_ignores_the_down_signal() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Ignore);
        dir.write("timeout-kill", "300\n");
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        let at = Instant::now();
        sv.ctl("d");
        wait_sig(&mut sv, "sigs", "TERM");
        sv.ctl("u");
        let st = sv.wait_status("restarted after the SIGKILL", |s| s.up() && s.pid() != pid);
        let took = at.elapsed();
        assert!(took >= Duration::from_millis(250), "killed after {took:?}");
        assert!(st.wantup);
        assert_eq!(
            std::fs::read(dir.path("supervise/death_tally")).unwrap()[12..14],
            [137, 9]
        );
    });
}

/// "`d` while dying re-arms the kill deadline": the SIGKILL comes `timeout-kill` after the
/// second `d`, not the first.
fn d_while_dying_rearms_the_kill_deadline() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Ignore);
        dir.write("timeout-kill", "800");
        let mut sv = dir.start(sup);
        wait_trapping(&mut sv);
        let first = Instant::now();
        sv.ctl("d");
        wait_sig(&mut sv, "sigs", "TERM");
        // Well inside the first 800 ms.
        while first.elapsed() < Duration::from_millis(400) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let second = Instant::now();
        sv.ctl("d");
        sv.wait_status("killed", |s| s.pid == 0);
        let from_second = second.elapsed();
        assert!(
            from_second >= Duration::from_millis(650),
            "killed {from_second:?} after the second d, {:?} after the first",
            first.elapsed()
        );
        assert_eq!(sv.status().wstat, 9);
    });
}

/// FINISH's timeout: "warning `finish script lifetime reached maximum value - sending it a
/// SIGKILL`; SIGCONT ..., SIGKILL to finish"; then "Anything else (including being killed by
/// the timeout): \"down and ready\" with `D`".
fn timeout_finish_kills_a_hanging_finish() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 3").write("down", "");
        dir.finish("exec sleep 1000");
        dir.write("timeout-finish", "200");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let at = Instant::now();
        sv.ctl("o");
        sv.wait_status("finish killed", |s| {
            s.pid == 0 && !s.finishing && s.wstat == 0x300
        });
        assert!(
            at.elapsed() >= Duration::from_millis(150),
            "{:?}",
            at.elapsed()
        );
        events.wait_contains("udD");
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: warning: finish script lifetime reached maximum value - sending it a SIGKILL\n"
        );
        assert_eq!(sv.status().wstat, 0x300, "wstat stays run's");
    });
}

/// SIGQUIT in FINISH: "exit"; "after SIGQUIT the child (run or finish) is left running and
/// the status file is left as it was".
fn sigquit_while_finishing_leaves_at_once_and_leaves_finish_running() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 3");
        trapping_finish(&dir);
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let finish = wait_trapping_finish(&mut sv);
        events.wait_contains("sud");
        events.clear();
        let before = sv.status();
        sv.signal(Signal::SIGQUIT);
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "x");
        assert!(alive(finish), "finish is left running");
        assert_eq!(sv.status(), before, "the status file is not rewritten");
        // Once finish has ended, any trap it had to run has run.
        dir.write("release", "");
        wait_gone(finish);
        assert!(sigs(&dir, "fsigs").is_empty(), "{:?}", sigs(&dir, "fsigs"));
    });
}

/// SIGINT in FINISH: "same (finish's group)" as UP's "SIGINT to the child's process group,
/// exit".
fn sigint_while_finishing_goes_to_finishs_process_group_then_supervise_exits() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exit 3");
        trapping_finish(&dir);
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        wait_trapping_finish(&mut sv);
        events.wait_contains("sud");
        events.clear();
        sv.signal(Signal::SIGINT);
        assert_eq!(sv.wait_exit(), Some(0));
        wait_sig(&mut sv, "fsigs", "INT");
        assert_eq!(events.text(), "x");
    });
}

/// `x` and SIGHUP in FINISH: "→ LASTFINISH, close" (supervise's fds 0 and 1 become
/// /dev/null, finish is not signalled, supervise exits once finish ends); in LASTFINISH, `x`
/// and SIGHUP: "close", SIGTERM: "nothing" — no exit before finish's death, no signal to it,
/// and the letters still act (`O`: "wantdown").
fn x_or_sighup_while_finishing_exit_after_finish_and_lastfinish_only_closes() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for how in ["x", "HUP"] {
            let dir = ServiceDir::new();
            dir.run("exit 3");
            trapping_finish(&dir);
            let (read, write) = nix::unistd::pipe().unwrap();
            let mut events = dir.watch();
            let mut sv = dir.launch(sup).stdin(read).start();
            drop(write);
            let finish = wait_trapping_finish(&mut sv);
            events.wait_contains("sud");
            events.clear();
            close_by(&mut sv, how);
            assert!(alive(finish) && !sv.has_exited(), "{how}");
            sv.ctl("x");
            sv.signal(Signal::SIGHUP);
            sv.signal(Signal::SIGTERM);
            sv.ctl("O");
            sv.wait_status("O taken in LASTFINISH", |s| !s.wantup);
            assert!(alive(finish), "{how}");
            dir.write("release", "");
            assert_eq!(sv.wait_exit(), Some(0), "{how}");
            assert_eq!(events.text(), "Dx", "{how}: exit after finish's death");
            assert!(
                sigs(&dir, "fsigs").is_empty(),
                "{how}: {:?}",
                sigs(&dir, "fsigs")
            );
        }
    });
}

/// LASTUP (after `x`): SIGHUP and `x`: "close" (no exit while the service runs, no signal to
/// it); SIGTERM: "stop" (the down signal), then "run's death → ... exit if no finish".
fn in_lastup_sighup_and_x_only_close_and_sigterm_stops_the_service() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        events.wait_contains("su");
        events.clear();
        sv.ctl("x");
        let sup_pid = sv.pid();
        sv.wait_until("fd 1 on /dev/null", DEADLINE, |_| on_dev_null(sup_pid, 1));
        sv.signal(Signal::SIGHUP);
        sv.ctl("x");
        sv.ctl("O");
        sv.wait_status("O taken in LASTUP", |s| !s.wantup);
        assert!(
            alive(pid) && sigs(&dir, "sigs").is_empty(),
            "{:?}",
            sigs(&dir, "sigs")
        );
        sv.signal(Signal::SIGTERM);
        wait_sig(&mut sv, "sigs", "TERM");
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "dDx");
        assert!(!sigs(&dir, "sigs").contains(&"HUP".to_owned()));
    });
}

/// `d` in DOWN and FINISH: "wantdown" = "set the flag and **rewrite the status file**
/// (always, even when unchanged)", nothing else: in DOWN the status file is replaced even
/// though it said "want down" already, and a death's 1 s throttle then starts nothing; in
/// FINISH finish is not signalled, and nothing starts after it. "Nothing starts" is checked
/// once the status's own `readystamp` is 2 s old: past the throttle's 1 s (and its slack).
fn d_while_down_or_finishing_is_wantdown_only() {
    use std::os::unix::fs::MetadataExt;
    let starts = |dir: &ServiceDir| {
        std::fs::read_to_string(dir.path("starts"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let wait_past_throttle = |sv: &mut Supervised<'_>| {
        let down = sv.status();
        sv.wait_until("2 s after the going down", DEADLINE, |_| {
            tai_secs_between(down.readystamp, Tai64n::now()) > 2.0
        });
    };
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("down", "");
        let mut sv = dir.start(sup);
        let inode = |dir: &ServiceDir| {
            std::fs::metadata(dir.path("supervise/status"))
                .unwrap()
                .ino()
        };
        let before = inode(&dir);
        sv.ctl("d");
        sv.wait_until("the status file rewritten", DEADLINE, |sv| {
            inode(sv.dir) != before
        });
        let st = sv.status();
        assert!(!st.wantup && st.pid == 0, "{st:?}");

        let dir = ServiceDir::new();
        dir.run("echo >> starts\nexit 1");
        let mut sv = dir.start(sup);
        sv.wait_status("the first death", |s| s.pid == 0 && s.wstat == 0x100);
        sv.ctl("d");
        sv.wait_status("wantdown", |s| !s.wantup);
        assert_eq!(starts(&dir), 1, "{sup:?}: d came after the restart");
        wait_past_throttle(&mut sv);
        assert_eq!(starts(&dir), 1, "{sup:?}: restarted after d in DOWN");
        assert_eq!(sv.status().pid, 0);

        let dir = ServiceDir::new();
        dir.run("echo >> starts\nexit 3");
        trapping_finish(&dir);
        let mut sv = dir.start(sup);
        let finish = wait_trapping_finish(&mut sv);
        sv.ctl("d");
        let st = sv.wait_status("wantdown", |s| !s.wantup);
        assert!(st.finishing && st.pid() == finish, "{st:?}");
        dir.write("release", "");
        sv.wait_status("down after finish", |s| s.pid == 0 && !s.finishing);
        // finish has ended, so any trap it had to run has run.
        assert!(sigs(&dir, "fsigs").is_empty(), "{:?}", sigs(&dir, "fsigs"));
        wait_past_throttle(&mut sv);
        assert_eq!(starts(&dir), 1, "{sup:?}: restarted after d in FINISH");
        assert_eq!(sv.status().pid, 0);
    });
}

/// "DOWN file +\"/\"−\" = create (`down`, empty, truncating) / unlink `down` first (warnings
/// `unable to create ./down file: ERR` / `unable to unlink ./down file: ERR` ...; the flag
/// change happens anyway)": with `down` a directory, `D` warns and wants down, `U` warns,
/// wants up and starts run.
fn a_down_file_that_cannot_be_made_or_removed_is_a_warning_and_the_flag_changes() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        std::fs::create_dir(dir.path("down")).unwrap();
        let mut sv = dir.start(sup);
        sv.ctl("u");
        sv.wait_status("up by u", |s| s.up() && s.wantup);
        sv.ctl("D");
        sv.wait_status("down by D", |s| s.pid == 0 && !s.wantup);
        let create = "s6-supervise svc: warning: unable to create ./down file: Is a directory\n";
        assert_eq!(sv.stderr(), create);
        sv.ctl("U");
        sv.wait_status("up by U", |s| s.up() && s.wantup);
        assert_eq!(
            sv.stderr(),
            format!(
                "{create}s6-supervise svc: warning: unable to unlink ./down file: Is a directory\n"
            )
        );
        assert!(dir.path("down").is_dir());
    });
}
