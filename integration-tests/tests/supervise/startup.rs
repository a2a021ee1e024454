//! SUPERVISE.md, "supervise" / "Start-up, in this order" (and trymkdir).

use integration_tests::scenario;
use integration_tests::suite::Scenario;
use integration_tests::suite::optional;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};

use integration_tests::DEADLINE;
use integration_tests::service::{
    Observed, ServiceDir, Supervisor, Tai64n, client, each_client, each_supervisor, make_fifodir,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(the_control_files_are_made_with_their_modes_whatever_the_umask),
    scenario!(an_existing_fifodir_and_fifo_keep_their_modes),
    scenario!(a_second_supervisor_on_the_same_directory_exits_100),
    scenario!(control_paths_of_the_wrong_type_are_fatal_100),
    scenario!(dangling_symlinks_get_their_targets_made),
    scenario!(symlinks_to_existing_directories_are_used_as_they_are),
    scenario!(a_symlink_to_a_file_is_not_a_directory),
    scenario!(a_symlink_with_a_target_of_512_bytes_is_fatal_111),
    scenario!(the_death_tally_is_emptied_at_start_up_and_its_failure_is_fatal),
    scenario!(a_down_file_that_cannot_be_checked_is_fatal_111),
    scenario!(with_a_down_file_the_first_status_is_down_and_ready_and_nothing_starts),
    scenario!(without_a_down_file_run_starts_at_once),
    scenario!(stale_subscriber_fifos_are_removed_at_start_up),
    scenario!(closed_standard_fds_are_opened_on_dev_null),
    scenario!(sigusr1_is_not_caught),
    scenario!(started_with_sigchld_ignored_ours_still_sees_deaths),
];

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Step 4: "`event` ... only if trymkdir created it: `chown(event, -1, getegid())` and
/// `chmod(event, 03730)`"; "`supervise`, by the same rule (mode 0700 when created)"; the lock
/// "mode 0644"; "`mkfifo supervise/control 0600`" — all under umask 0, whatever supervise's
/// umask; step 7: `death_tally` "0666 minus the restored umask".
fn the_control_files_are_made_with_their_modes_whatever_the_umask() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let sv = dir.launch(sup).umask(0o077).start();
        let event = std::fs::metadata(dir.path("event")).unwrap();
        assert!(event.is_dir());
        assert_eq!(mode(&dir.path("event")), 0o3730);
        assert_eq!(event.gid(), nix::unistd::getegid().as_raw());
        assert_eq!(mode(&dir.path("supervise")), 0o700);
        assert_eq!(mode(&dir.path("supervise/lock")), 0o644);
        let control = std::fs::metadata(dir.path("supervise/control")).unwrap();
        assert!(control.file_type().is_fifo());
        assert_eq!(mode(&dir.path("supervise/control")), 0o600);
        // supervise's own umask (077) is the one restored for what follows.
        assert_eq!(mode(&dir.path("supervise/death_tally")), 0o600);
        assert_eq!(mode(&dir.path("supervise/status")), 0o600);
        drop(sv);
    });
}

/// "An existing `event` directory is left with its owner and mode"; "Existing FIFO modes are
/// kept (s6-svperms may have changed them)".
fn an_existing_fifodir_and_fifo_keep_their_modes() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        std::fs::create_dir(dir.path("event")).unwrap();
        std::fs::set_permissions(dir.path("event"), PermissionsExt::from_mode(0o1733)).unwrap();
        std::fs::create_dir(dir.path("supervise")).unwrap();
        nix::unistd::mkfifo(
            &dir.path("supervise/control"),
            nix::sys::stat::Mode::from_bits_truncate(0o620),
        )
        .unwrap();
        std::fs::set_permissions(
            dir.path("supervise/control"),
            PermissionsExt::from_mode(0o620),
        )
        .unwrap();
        let _sv = dir.start(sup);
        assert_eq!(mode(&dir.path("event")), 0o1733);
        assert_eq!(
            mode(&dir.path("supervise")),
            0o755,
            "created by the test, umask 022"
        );
        assert_eq!(mode(&dir.path("supervise/control")), 0o620);
    });
}

/// Step 4.3: "held by another process → fatal 100 `another instance of s6-supervise is
/// already running`"; "Note that a second instance has already done step 4.1 before it
/// dies" (it recreates a removed `event`). The lock is C's: ours and C exclude each other.
fn a_second_supervisor_on_the_same_directory_exits_100() {
    for (first, second) in [
        (Supervisor::Ours, Supervisor::Ours),
        (Supervisor::Ours, Supervisor::Reference),
        (Supervisor::Reference, Supervisor::Ours),
        (Supervisor::Debian, Supervisor::Ours),
        (Supervisor::Ours, Supervisor::Debian),
    ] {
        if optional(first.program()).is_none() || optional(second.program()).is_none() {
            continue;
        }
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut one = dir.start(first);
        one.wait_up();
        std::fs::remove_dir(dir.path("event")).unwrap();
        let mut two = dir.launch(second).no_wait().start();
        assert_eq!(two.wait_exit(), Some(100), "{first:?} then {second:?}");
        assert_eq!(
            two.stderr(),
            "s6-supervise svc: fatal: another instance of s6-supervise is already running\n"
        );
        assert!(dir.path("event").is_dir(), "step 4.1 ran before the lock");
        assert!(!one.has_exited());
    }
}

/// trymkdir: "a non-directory is fatal 100 `S exists and is not a directory`", for `event`
/// (made first) and `supervise`; step 4.4: "not a FIFO → fatal 100 `supervise/control is not
/// a FIFO`".
fn control_paths_of_the_wrong_type_are_fatal_100() {
    each_supervisor(&Supervisor::ALL, |sup| {
        for (path, message) in [
            ("event", "event exists and is not a directory"),
            ("supervise", "supervise exists and is not a directory"),
            ("supervise/control", "supervise/control is not a FIFO"),
        ] {
            let dir = ServiceDir::new();
            if path == "supervise/control" {
                std::fs::create_dir(dir.path("supervise")).unwrap();
            }
            dir.write(path, "");
            let mut sv = dir.launch(sup).no_wait().start();
            assert_eq!(sv.wait_exit(), Some(100), "{path}");
            assert_eq!(sv.stderr(), format!("s6-supervise svc: fatal: {message}\n"));
        }
    });
}

/// trymkdir: "A symlink: `mkdir(TARGET, 0700)` (TARGET as read, relative to the service
/// dir) → \"created\"": a dangling `supervise` or `event` link gets its target made (the
/// tmpfs set-up of s6-linux-init), and `event`'s gets the fifodir mode.
fn dangling_symlinks_get_their_targets_made() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        std::fs::create_dir(dir.tmp().join("run")).unwrap();
        symlink("../run/svc-supervise", dir.path("supervise")).unwrap();
        symlink("../run/svc-event", dir.path("event")).unwrap();
        let _sv = dir.start(sup);
        assert_eq!(mode(&dir.tmp().join("run/svc-supervise")), 0o700);
        assert_eq!(mode(&dir.tmp().join("run/svc-event")), 0o3730);
        assert!(dir.tmp().join("run/svc-supervise/status").is_file());
    });
}

/// trymkdir **fix** (no upstream fix): "when S is a symlink to a directory that already
/// exists (i.e. any restart of supervise on a service whose `supervise` is a symlink into a
/// tmpfs), C dies `unable to mkdir TARGET: File exists` (exit 111); ours uses the existing
/// target directory (\"existing\", so for `event` no chown/chmod)". The reference shows the
/// bug on the same directory.
fn symlinks_to_existing_directories_are_used_as_they_are() {
    let dir = ServiceDir::new();
    dir.run("exec sleep 1000");
    for target in ["run/svc-supervise", "run/svc-event"] {
        std::fs::create_dir_all(dir.tmp().join(target)).unwrap();
    }
    std::fs::set_permissions(
        dir.tmp().join("run/svc-event"),
        PermissionsExt::from_mode(0o1733),
    )
    .unwrap();
    symlink("../run/svc-supervise", dir.path("supervise")).unwrap();
    symlink("../run/svc-event", dir.path("event")).unwrap();
    each_supervisor(&[Supervisor::Reference, Supervisor::Debian], |sup| {
        let mut sv = dir.launch(sup).no_wait().start();
        assert_eq!(sv.wait_exit(), Some(111));
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: fatal: unable to mkdir ../run/svc-event: File exists\n"
        );
    });
    let mut sv = dir.start(Supervisor::Ours);
    sv.wait_up();
    assert_eq!(
        mode(&dir.tmp().join("run/svc-event")),
        0o1733,
        "an existing fifodir is kept"
    );
    assert!(dir.tmp().join("run/svc-supervise/lock").is_file());
    // And once more, as after a reboot of the tree: the same links, the same targets.
    drop(sv);
    let mut again = dir.start(Supervisor::Ours);
    again.wait_up();
}

/// trymkdir: "A symlink to an existing non-directory: fatal 100 `S exists and is not a
/// directory`" (ours; C gets EEXIST from its mkdir and dies 111 as above).
fn a_symlink_to_a_file_is_not_a_directory() {
    let dir = ServiceDir::new();
    dir.write("elsewhere", "");
    symlink("elsewhere", dir.path("supervise")).unwrap();
    let mut sv = dir.launch(Supervisor::Ours).no_wait().start();
    assert_eq!(sv.wait_exit(), Some(100));
    assert_eq!(
        sv.stderr(),
        "s6-supervise svc: fatal: supervise exists and is not a directory\n"
    );
}

/// trymkdir: "A symlink whose target is 512 bytes or more: fatal 111 `unable to readlink S:
/// File name too long`".
fn a_symlink_with_a_target_of_512_bytes_is_fatal_111() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        symlink("x".repeat(512), dir.path("event")).unwrap();
        let mut sv = dir.launch(sup).no_wait().start();
        assert_eq!(sv.wait_exit(), Some(111));
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: fatal: unable to readlink event: File name too long\n"
        );
    });
}

/// Step 7: "Truncate/create `supervise/death_tally` ...; failure: fatal 111 `unable to
/// truncate supervise/death_tally: ERR`"; and a tally left by a previous run is emptied.
fn the_death_tally_is_emptied_at_start_up_and_its_failure_is_fatal() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        std::fs::create_dir(dir.path("supervise")).unwrap();
        dir.write("supervise/death_tally", [7u8; 28]);
        let mut sv = dir.start(sup);
        sv.wait_up();
        assert_eq!(
            std::fs::read(dir.path("supervise/death_tally")).unwrap(),
            b""
        );
        drop(sv);

        let dir = ServiceDir::new();
        std::fs::create_dir_all(dir.path("supervise/death_tally")).unwrap();
        let mut sv = dir.launch(sup).no_wait().start();
        assert_eq!(sv.wait_exit(), Some(111));
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: fatal: unable to truncate supervise/death_tally: Is a directory\n"
        );
    });
}

/// Step 8: "`down` ... `access` error other than ENOENT: fatal 111 `unable to access ./down:
/// ERR`" (a symlink loop).
fn a_down_file_that_cannot_be_checked_is_fatal_111() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        symlink("down", dir.path("down")).unwrap();
        let mut sv = dir.launch(sup).no_wait().start();
        assert_eq!(sv.wait_exit(), Some(111));
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: fatal: unable to access ./down: Too many levels of symbolic links\n"
        );
    });
}

/// Step 9: "status.stamp = status.readystamp = now; write the status file (pid 0, wstat 0,
/// wantup per `down`, ready 1, paused 0, finishing 0); publish `s`"; with `down`, nothing is
/// started, and s6-svstat says so.
fn with_a_down_file_the_first_status_is_down_and_ready_and_nothing_starts() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("down", "");
        let mut events = dir.watch();
        let before = Tai64n::now();
        let sv = dir.start(sup);
        events.wait_contains("s");
        let st = sv.status();
        assert_eq!((st.pid, st.wstat), (0, 0));
        assert!(
            !st.wantup && st.ready && !st.paused && !st.finishing,
            "{st:?}"
        );
        assert_eq!(st.stamp, st.readystamp);
        assert!(st.stamp >= before && st.stamp <= Tai64n::now(), "{st:?}");
        for (clients, svstat) in each_client("s6-svstat") {
            let out = client(&svstat, &["svc"], dir.tmp());
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            assert!(
                out.stdout.starts_with("down (exitcode 0) ")
                    && out.stdout.ends_with(" seconds, ready 0 seconds\n")
                    || out.stdout.ends_with(" seconds, ready 1 seconds\n"),
                "{clients:?}: {}",
                out.stdout
            );
        }
        assert_eq!(events.text(), "s", "nothing started");
    });
}

/// Step 9: "The first deadline is \"now\", so the first loop turn is a timeout in state DOWN
/// (→ start if wantup)": `s` then `u` at once.
fn without_a_down_file_run_starts_at_once() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let pid = sv.wait_up();
        assert!(pid > 0);
        let got = events.wait_contains("su");
        assert_eq!(got, b"su");
        let st = sv.status();
        assert!(st.wantup && !st.ready && !st.finishing);
        let _ = DEADLINE;
    });
}

/// Step 6: "Clean the fifodir": a subscriber FIFO left behind by a killed listener (no
/// reader) is removed; other names are left alone.
fn stale_subscriber_fifos_are_removed_at_start_up() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("down", "");
        make_fifodir(&dir.path("event"));
        let stale = dir.path("event/ftrig1:@400000006000000000000000:abcdef");
        nix::unistd::mkfifo(&stale, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let other = dir.path("event/not-a-subscriber");
        nix::unistd::mkfifo(&other, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let _sv = dir.start(sup);
        assert!(!stale.exists(), "stale subscriber left");
        assert!(other.exists());
    });
}

/// Step 2: "Make sure fds 0, 1, 2 are open (/dev/null, read for 0, write for 1 and 2;
/// skalibs `fd_sanitize`)": started with stdout closed, supervise has /dev/null there and so
/// does run.
fn closed_standard_fds_are_opened_on_dev_null() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut sv = dir.launch(sup).closed(&[1]).start();
        let pid = sv.wait_up();
        sv.wait_until("run asleep", DEADLINE, |_| crate::sleeping(pid));
        for who in [sv.pid(), pid] {
            let fd1 = std::fs::read_link(format!("/proc/{who}/fd/1")).unwrap();
            assert_eq!(fd1, std::path::Path::new("/dev/null"), "{sup:?} pid {who}");
        }
    });
}

/// Step 5: "No other signal is caught (SIGUSR1 kills supervise, as in C)".
fn sigusr1_is_not_caught() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000").write("down", "");
        let mut sv = dir.start(sup);
        sv.signal(nix::sys::signal::Signal::SIGUSR1);
        assert_eq!(sv.wait_exit(), None, "{sup:?}: killed, not exited");
    });
}

/// A deliberate difference (the same as svscan's **fix**): started with SIGCHLD ignored (an
/// ignored signal stays ignored across exec), the kernel would reap run behind supervise's
/// back and its death would never be seen; ours gives SIGCHLD its default at start-up and
/// restarts the service. The reference shows the C behaviour: the status still names the
/// dead run.
fn started_with_sigchld_ignored_ours_still_sees_deaths() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("echo $$ >> pids\nexec sleep 1000");
        let mut sv = dir
            .launch(sup)
            .ignoring(&[nix::sys::signal::Signal::SIGCHLD])
            .start();
        let first = sv.wait_up();
        sv.wait_until("run's pid", DEADLINE, |sv| sv.dir.has_line("pids"));
        integration_tests::signal_pid(first, nix::sys::signal::Signal::SIGKILL);
        integration_tests::service::wait_gone(first);
        if sup == Supervisor::Ours {
            let st = sv.wait_status("restarted", |s| s.up() && s.pid() != first);
            assert!(st.wantup);
        } else {
            // C waits for a SIGCHLD whose child the kernel already reaped: still "up".
            let next = std::fs::read_to_string(dir.path("pids")).unwrap();
            assert_eq!(next.lines().count(), 1, "C restarted it");
            assert_eq!(sv.status().pid(), first);
        }
    });
}
