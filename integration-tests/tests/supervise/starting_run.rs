//! SUPERVISE.md, "supervise" / "Starting run" (supervise.c:256-359): the spawn itself,
//! what the child gets, lock-fd and notification-fd.

use integration_tests::scenario;
use integration_tests::suite::Scenario;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use integration_tests::DEADLINE;
use integration_tests::service::{Observed, ServiceDir, Supervisor, each_supervisor};
use nix::sys::signal::Signal;

use crate::{fd_numbers, lock_holder, proc_status_hex, sid_pgid, whole_file_lock};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(run_and_finish_get_supervises_argv_exactly),
    scenario!(run_and_finish_are_session_leaders),
    scenario!(children_get_an_empty_mask_default_dispositions_and_only_the_standard_fds),
    scenario!(a_run_that_cannot_be_executed_is_retried_in_60_seconds_or_at_u),
    scenario!(a_failed_spawn_is_not_retried_at_once).slow(),
    scenario!(a_notification_fd_beyond_the_fd_limit_fails_the_spawn),
    scenario!(notification_fd_equal_to_lock_fd_is_not_retried_until_asked),
    scenario!(with_lock_fd_run_holds_a_write_lock_on_that_fd),
    scenario!(with_the_lock_held_elsewhere_the_child_waits_for_it),
    scenario!(a_lock_file_with_contents_is_emptied_with_a_warning),
    scenario!(an_invalid_lock_fd_runs_the_service_without_a_lock),
    scenario!(a_lock_that_cannot_be_taken_is_a_death_of_run),
    scenario!(with_lock_fd_a_missing_run_is_a_death_with_exit_127),
    scenario!(run_and_finish_inherit_supervises_environment),
    scenario!(an_fd_inherited_without_cloexec_reaches_run_and_finish),
];

/// A service directory whose `run` (or `finish`) is `/bin/sh` itself, with `svc` (or the
/// exit code, `3`) as the script it runs: so `/proc/PID/cmdline` shows supervise's argv
/// untouched by the kernel's script handling (which replaces argv[0] by the script's path).
fn cmdline_recorder(dir: &ServiceDir) {
    symlink("/bin/sh", dir.path("run")).unwrap();
    symlink("/bin/sh", dir.path("finish")).unwrap();
    dir.write(
        "svc",
        "tr '\\0' ' ' < /proc/$$/cmdline > run-cmdline\npwd > run-cwd\nexit 3\n",
    );
    dir.write("3", "tr '\\0' ' ' < /proc/$$/cmdline > finish-cmdline\n");
}

/// Step 3: "program `./run` ..., argv `[\"./run\", NAME]` (argv[0] is literally `./run`)";
/// "cwd = the service dir"; and finish: "argv `[\"finish\", EXIT, SIG, NAME]`".
fn run_and_finish_get_supervises_argv_exactly() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        cmdline_recorder(&dir);
        dir.write("down", "");
        let mut sv = dir.start(sup);
        sv.ctl("o");
        sv.wait_until("finish ran", DEADLINE, |sv| {
            sv.dir.path("finish-cmdline").is_file() && sv.dir.status().is_some_and(|s| s.pid == 0)
        });
        let read = |f: &str| std::fs::read_to_string(dir.path(f)).unwrap();
        // 2.11 forks and execs with argv[0] `run` (seen by running it); 2.12 spawns with
        // `./run`, as the spec says.
        let argv0 = if sup.is_2_11() { "run" } else { "./run" };
        assert_eq!(read("run-cmdline"), format!("{argv0} svc "));
        assert_eq!(read("finish-cmdline"), "finish 3 0 svc ");
        assert_eq!(
            std::path::PathBuf::from(read("run-cwd").trim()),
            dir.dir().canonicalize().unwrap()
        );
    });
}

/// Step 3: "**new session** (setsid: pid = pgid = sid)", for run and finish.
fn run_and_finish_are_session_leaders() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        dir.finish("exec sleep 1000");
        let mut sv = dir.start(sup);
        let pid = sv.wait_up();
        becomes_session_leader(pid);
        sv.ctl("k");
        let finish = sv.wait_status("finishing", |s| s.finishing).pid();
        becomes_session_leader(finish);
    });
}

/// 2.11 forks, writes the status file and only then does its child call setsid (CI saw
/// finish's pid published while it was still in supervise's group), so the session is
/// awaited, with a deadline, rather than read once; ours and 2.12 spawn it with setsid.
fn becomes_session_leader(pid: i32) {
    let deadline = Instant::now() + DEADLINE;
    let seen = integration_tests::poll_until(deadline, || {
        let ids = sid_pgid(pid);
        (ids == (pid, pid)).then_some(ids)
    });
    assert_eq!(
        seen,
        Some((pid, pid)),
        "pid {pid}: (sid, pgid) is {:?}",
        sid_pgid(pid)
    );
}

/// Step 3: "an empty signal mask, fds 0-2 as supervise has them ...; every fd supervise
/// opened itself is CLOEXEC"; **fix**: "all signal dispositions are the default in the
/// child (C resets only the mask and caught signals, so a SIG_IGN inherited by supervise
/// reaches run)". Shown on the reference too: its run inherits the ignored signals.
fn children_get_an_empty_mask_default_dispositions_and_only_the_standard_fds() {
    let ignored = [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGPIPE,
        Signal::SIGUSR2,
    ];
    let ignored_bits: u64 = ignored.iter().map(|s| 1u64 << (*s as i32 - 1)).sum();
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        dir.finish("exec sleep 1000");
        let mut sv = dir.launch(sup).ignoring(&ignored).start();
        let pid = sv.wait_up();
        let check = |sv: &mut integration_tests::service::Supervised<'_>, who: &str, pid: i32| {
            sv.wait_until(&format!("{who} exec'd sleep"), DEADLINE, |_| {
                crate::sleeping(pid)
            });
            assert_eq!(
                proc_status_hex(pid, "SigBlk"),
                Some(0),
                "{sup:?} {who}: mask"
            );
            assert_eq!(fd_numbers(pid), [0, 1, 2], "{sup:?} {who}: fds");
            let sig_ign = proc_status_hex(pid, "SigIgn").unwrap();
            if sup == Supervisor::Ours {
                assert_eq!(sig_ign, 0, "{who}: dispositions, 1 to 64");
            } else {
                // The C bug the fix is about: every inherited SIG_IGN but SIGPIPE's, which C
                // catches (a no-op handler), and caught signals are reset by exec; and
                // glibc's internal signals 32 and 33, which its posix_spawn child ignores
                // when the set to reset does not name them (sigfillset leaves them out).
                let kept = ignored_bits & !(1 << (Signal::SIGPIPE as i32 - 1));
                let internal = (1 << 31) | (1 << 32);
                assert_eq!(sig_ign, kept | internal, "{sup:?} {who}: C keeps SIG_IGN");
            }
        };
        check(&mut sv, "run", pid);
        sv.ctl("k");
        let finish = sv.wait_status("finishing", |s| s.finishing).pid();
        check(&mut sv, "finish", finish);
    });
}

/// Step 4: "Spawn failure: warning `unable to spawn ./run (waiting 60 seconds): ERR` ...,
/// deadline now + 60 s, stay DOWN. Note: C uses posix_spawn, so a failing exec (ENOENT,
/// EACCES, ENOEXEC) is a spawn failure here, not a death of run"; `u` retries at once.
/// (2.11 forks: its child reports `unable to exec run` and the parent waits 10 s.)
fn a_run_that_cannot_be_executed_is_retried_in_60_seconds_or_at_u() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        for (setup, err) in [
            ("missing", "No such file or directory"),
            ("not executable", "Permission denied"),
            ("not a program", "Exec format error"),
        ] {
            let dir = ServiceDir::new();
            match setup {
                "missing" => {}
                "not executable" => {
                    dir.write("run", "#!/bin/sh\nexec sleep 1000\n");
                }
                _ => {
                    dir.script("run", "");
                    dir.write("run", b"\x7fELF garbage\n");
                }
            }
            let warning = format!(
                "s6-supervise svc: warning: unable to spawn ./run (waiting 60 seconds): {err}\n"
            );
            let mut sv = dir.start(sup);
            sv.wait_until("the first warning", DEADLINE, |sv| sv.stderr() == warning);
            let st = sv.status();
            assert!(
                st.pid == 0 && st.wantup,
                "{setup}: stays down, wanted up: {st:?}"
            );
            sv.ctl("u");
            sv.wait_until("the retry at u", DEADLINE, |sv| {
                sv.stderr() == warning.repeat(2)
            });
        }
    });
}

/// The retry is 60 s away, not sooner: after the warning nothing is tried again within a
/// couple of seconds (and 2.11's 10 s is not 2.12's).
fn a_failed_spawn_is_not_retried_at_once() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        let mut sv = dir.start(sup);
        sv.wait_until("the warning", DEADLINE, |sv| !sv.stderr().is_empty());
        dir.run("exec sleep 1000");
        let window = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < window {
            assert_eq!(sv.status().pid, 0, "retried before 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        sv.ctl("u");
        sv.wait_up();
    });
}

/// notification-fd: "N > maxfd: warning `invalid notification-fd`, and C carries on (the
/// spawn then fails with EBADF: warning `unable to spawn ./run (waiting 60 seconds): Bad file
/// descriptor`, 60 s). Ours: the same two warnings and the same 60 s retry."
fn a_notification_fd_beyond_the_fd_limit_fails_the_spawn() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("notification-fd", "100\n");
        let mut sv = dir.launch(sup).nofile(64).start();
        let want = "s6-supervise svc: warning: invalid notification-fd\n\
                    s6-supervise svc: warning: unable to spawn ./run (waiting 60 seconds): Bad file descriptor\n";
        sv.wait_until("both warnings", DEADLINE, |sv| sv.stderr() == want);
        assert_eq!(sv.status().pid, 0);
    });
}

/// notification-fd: "With a valid lock-fd and N = LK: warning `unable to start service:
/// notification-fd and lock-fd are the same`, deadline = **infinite** (retried only on
/// `u`/`o`/`U`)".
fn notification_fd_equal_to_lock_fd_is_not_retried_until_asked() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000")
            .write("notification-fd", "4")
            .write("lock-fd", "4");
        // C 2.12 opens the lock file without O_CREAT: give it one, so that it gets this far.
        std::fs::create_dir(dir.path("supervise")).unwrap();
        dir.write("supervise/service-lock", "");
        let mut sv = dir.start(sup);
        let want = "s6-supervise svc: warning: unable to start service: notification-fd and lock-fd are the same\n";
        sv.wait_until("the warning", DEADLINE, |sv| sv.stderr() == want);
        sv.ctl("u");
        sv.wait_until("the retry at u", DEADLINE, |sv| {
            sv.stderr() == want.repeat(2)
        });
        assert_eq!(sv.status().pid, 0);
    });
}

/// lock-fd **fix** (a456cc8, 2ff7dfc and ours): "The child must end up as `./run NAME`
/// holding an fcntl **write lock** on `supervise/service-lock` on fd LK (not CLOEXEC)";
/// "the service holds the lock on fd LK for **any** LK, not only 3"; "`supervise/service-lock`
/// created if missing". The reference shows 2.12's bug: the file is never created, so the
/// service never starts.
fn with_lock_fd_run_holds_a_write_lock_on_that_fd() {
    for lk in [3, 5, 9] {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("lock-fd", lk.to_string());
        let mut sv = dir.start(Supervisor::Ours);
        let pid = sv.wait_up();
        sv.wait_until("run exec'd with its lock", DEADLINE, |sv| {
            crate::sleeping(pid) && lock_holder(&sv.dir.path("supervise/service-lock")) == Some(pid)
        });
        assert_eq!(fd_numbers(pid), [0, 1, 2, lk], "LK {lk}");
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{lk}")).unwrap();
        assert_eq!(
            target,
            dir.path("supervise/service-lock").canonicalize().unwrap()
        );
        assert!(sv.stderr().is_empty(), "{}", sv.stderr());
    }
    each_supervisor(&[Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("lock-fd", "3");
        let mut sv = dir.start(sup);
        let want = "s6-supervise svc: warning: unable to open supervise/service-lock for writing (waiting 60 seconds): No such file or directory\n";
        sv.wait_until("2.12's warning", DEADLINE, |sv| sv.stderr() == want);
        assert_eq!(sv.status().pid, 0, "2.12 never starts a lock-fd service");
    });
}

/// lock-fd: "Locked by someone: warning `another instance of the service is already running,
/// child will block` (and start anyway)"; the lock is "acquired **blocking in the child**,
/// after supervise has already counted the start as successful" — `u` is published, and run
/// proper starts when the lock is released; supervise itself goes on answering meanwhile.
fn with_the_lock_held_elsewhere_the_child_waits_for_it() {
    use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
    let dir = ServiceDir::new();
    dir.run("touch started\nexec sleep 1000")
        .write("lock-fd", "3");
    std::fs::create_dir(dir.path("supervise")).unwrap();
    let holder = open(
        &dir.path("supervise/service-lock"),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    fcntl(
        &holder,
        FcntlArg::F_SETLK(&whole_file_lock(nix::libc::F_WRLCK)),
    )
    .unwrap();
    let mut sv = dir.start(Supervisor::Ours);
    let pid = sv.wait_up();
    sv.wait_until("the warning", DEADLINE, |sv| {
        sv.stderr()
            == "s6-supervise svc: warning: another instance of the service is already running, child will block\n"
    });
    assert!(
        !dir.path("started").exists(),
        "run started without the lock"
    );
    sv.ctl("p");
    sv.wait_status("supervise still answers", |s| s.paused);
    sv.ctl("c");
    sv.wait_status("and again", |s| !s.paused);
    drop(holder);
    sv.wait_until("run started once the lock was free", DEADLINE, |sv| {
        sv.dir.path("started").is_file()
            && lock_holder(&sv.dir.path("supervise/service-lock")) == Some(pid)
    });
}

/// lock-fd: "Nonzero size: truncate it, warning `a previous instance of the service wrote to
/// the lock file!`" (2.12 gets this far when the file exists).
fn a_lock_file_with_contents_is_emptied_with_a_warning() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("lock-fd", "3");
        std::fs::create_dir(dir.path("supervise")).unwrap();
        dir.write("supervise/service-lock", "junk");
        let mut sv = dir.start(sup);
        sv.wait_until("the warning", DEADLINE, |sv| {
            sv.stderr()
                .starts_with("s6-supervise svc: warning: a previous instance of the service wrote to the lock file!\n")
        });
        assert_eq!(
            std::fs::read(dir.path("supervise/service-lock")).unwrap(),
            b""
        );
    });
}

/// lock-fd: "LK > maxfd: warning `invalid lock-fd`; continue without a lock"; an invalid
/// number: "Readable but not a valid number: warning `invalid FILE`, then the default".
fn an_invalid_lock_fd_runs_the_service_without_a_lock() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for (content, limit) in [("100", Some(64)), ("three", None)] {
            // 2.11 does not check LK against the fd limit (it fails later, at the lock).
            if sup.is_2_11() && limit.is_some() {
                continue;
            }
            let dir = ServiceDir::new();
            dir.run("exec sleep 1000").write("lock-fd", content);
            let launch = dir.launch(sup);
            let launch = match limit {
                Some(n) => launch.nofile(n),
                None => launch,
            };
            let mut sv = launch.start();
            let pid = sv.wait_up();
            sv.wait_until("run exec'd", DEADLINE, |_| crate::sleeping(pid));
            assert_eq!(
                sv.stderr(),
                "s6-supervise svc: warning: invalid lock-fd\n",
                "{content}"
            );
            assert_eq!(lock_holder(&dir.path("supervise/service-lock")), None);
        }
    });
}

/// lock-fd: "If the helper cannot lock it exits 1 (`unable to lock supervise/service-lock:
/// ERR`), which is then an ordinary death of run" (LK = the fd limit itself: valid for
/// supervise, which only rejects LK > maxfd, but no descriptor can have that number).
fn a_lock_that_cannot_be_taken_is_a_death_of_run() {
    let dir = ServiceDir::new();
    dir.run("exec sleep 1000")
        .write("lock-fd", "64")
        .write("down", "");
    dir.finish("echo \"$@\" > finish-args");
    let mut sv = dir.launch(Supervisor::Ours).nofile(64).start();
    sv.ctl("o");
    sv.wait_until("finish ran", DEADLINE, |sv| sv.dir.has_line("finish-args"));
    assert_eq!(
        std::fs::read_to_string(dir.path("finish-args")).unwrap(),
        "1 0 svc\n"
    );
    assert_eq!(
        sv.stderr(),
        "s6-supervise svc: fatal: unable to lock supervise/service-lock: Bad file descriptor\n"
    );
}

/// With lock-fd, a missing `./run` is the helper's failed exec: an exit 127 with `unable to
/// exec ./run: ...`, so a death of run (as with upstream's fixed `s6-setlock` command), not a
/// spawn failure.
fn with_lock_fd_a_missing_run_is_a_death_with_exit_127() {
    let dir = ServiceDir::new();
    dir.write("lock-fd", "3").write("down", "");
    dir.finish("echo \"$@\" > finish-args");
    let mut sv = dir.start(Supervisor::Ours);
    sv.ctl("o");
    sv.wait_until("finish ran", DEADLINE, |sv| sv.dir.has_line("finish-args"));
    assert_eq!(
        std::fs::read_to_string(dir.path("finish-args")).unwrap(),
        "127 0 svc\n"
    );
    assert_eq!(
        sv.stderr(),
        "s6-supervise svc: fatal: unable to exec ./run: No such file or directory\n"
    );
}

/// Step 3: "the environment inherited" (and finish: "same environment ... as run"):
/// a variable supervise was started with reaches both.
fn run_and_finish_inherit_supervises_environment() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run(r#"echo "$SUPERVISE_TEST_VAR" > run-env; exit 3"#)
            .finish(r#"echo "$SUPERVISE_TEST_VAR" > finish-env"#)
            .write("down", "");
        let mut sv = dir
            .launch(sup)
            .env("SUPERVISE_TEST_VAR", "from the parent")
            .start();
        sv.ctl("o");
        sv.wait_status("down after finish", |s| s.pid == 0 && s.wstat == 0x300);
        for file in ["run-env", "finish-env"] {
            assert_eq!(
                std::fs::read_to_string(dir.path(file)).unwrap(),
                "from the parent\n",
                "{sup:?} {file}"
            );
        }
    });
}

/// Step 3: "every fd supervise opened itself is CLOEXEC (fds inherited from its parent
/// without CLOEXEC pass through, as in C)": a pipe's write end given to supervise on fd 7
/// is fd 7 of run and of finish, which write into it.
fn an_fd_inherited_without_cloexec_reaches_run_and_finish() {
    use std::io::Read;
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("echo run >&7; exit 3")
            .finish("echo finish >&7")
            .write("down", "");
        let (read, write) = nix::unistd::pipe().unwrap();
        let mut sv = dir.launch(sup).pass_fd(write, 7).start();
        sv.ctl("o");
        sv.wait_status("down after finish", |s| s.pid == 0 && s.wstat == 0x300);
        // Supervise's own copy keeps the pipe open: read what is there, no EOF to wait for.
        nix::fcntl::fcntl(
            &read,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut got = Vec::new();
        // Ends with EAGAIN, the bytes read so far kept.
        let _ = std::fs::File::from(read).read_to_end(&mut got);
        assert_eq!(got, b"run\nfinish\n", "{sup:?}: {}", sv.stderr());
        assert!(fd_numbers(sv.pid()).contains(&7), "supervise keeps it too");
    });
}
