//! What supervise survives (issue 9, "Reliability"; STYLE: daemons never die): fd and
//! process exhaustion (warn and retry as C does), a status file that cannot be written, a
//! service that forks and exits, and a thousand restarts with no fd growth and no zombie.
//! Garbage on the control FIFO, a run that cannot be executed, a hanging finish and a
//! service that ignores SIGTERM are in `control_fifo`, `starting_run` and `transitions`.

use integration_tests::Outcome;
use integration_tests::scenario;
use integration_tests::suite::Scenario;
use integration_tests::user::{Uid, as_user};
use std::process::Command;

use integration_tests::service::{Observed, ServiceDir, Supervisor, each_supervisor};
use integration_tests::{DEADLINE, procfs};

use crate::fd_numbers;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(fd_exhaustion_is_a_warning_and_a_retry),
    scenario!(process_exhaustion_is_a_warning_and_a_retry),
    scenario!(an_unwritable_status_file_is_a_warning_and_supervision_goes_on).slow(),
    scenario!(a_forking_service_is_restarted_and_leaves_no_zombie),
    scenario!(a_thousand_restarts_leave_no_fd_and_no_zombie).slow(),
];

/// Raises the soft limit `what` of a running process (util-linux `prlimit`), as `user`
/// (a process of another user needs CAP_SYS_RESOURCE, which a container may not have).
fn prlimit(pid: i32, what: &str, value: &str, user: Option<u32>) {
    let mut cmd = match user {
        None => Command::new("prlimit"),
        Some(id) => {
            let mut c = as_user(id);
            c.arg("prlimit");
            c
        }
    };
    cmd.args(["--pid", &pid.to_string(), &format!("--{what}={value}:")]);
    let out = integration_tests::process::forking(|| cmd.output()).expect("prlimit");
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// fd exhaustion: with no fd left for the notification pipe, "warning `unable to create
/// notification pipe (waiting 60 seconds): ERR`, 60 s" and the service stays down; once
/// fds are available again, `u` starts it. supervise itself is not hurt.
fn fd_exhaustion_is_a_warning_and_a_retry() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        dir.run("echo >&3\nexec sleep 1000")
            .write("notification-fd", "3");
        // Seven fds open (0-2, lock, the FIFO twice, the signals) and one for a status
        // write: the pipe's two cannot be had.
        let mut sv = dir.launch(sup).nofile(8).start();
        let want = "s6-supervise svc: warning: unable to create notification pipe (waiting 60 seconds): Too many open files\n";
        sv.wait_until("the warning", DEADLINE, |sv| sv.stderr() == want);
        assert_eq!(sv.status().pid, 0);
        prlimit(sv.pid(), "nofile", "64", None);
        sv.ctl("u");
        sv.wait_status("up and ready once fds are back", |s| s.up() && s.ready);
    });
}

/// Process exhaustion: a spawn that fails for lack of processes (EAGAIN under
/// RLIMIT_NPROC, as a non-root user) is "warning `unable to spawn ./run (waiting 60
/// seconds): ERR`"; `u` retries once there is room. Root ignores RLIMIT_NPROC, so the
/// supervisor runs as a uid of the scenario's own, which no other process uses (ours only:
/// the reference's build is under root's home, which another user cannot enter).
fn process_exhaustion_is_a_warning_and_a_retry() -> Outcome {
    integration_tests::user::root()?;
    let uid = Uid::claim();
    let id = uid.get();
    each_supervisor(&[Supervisor::Ours], |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let chown = Command::new("chown")
            .args(["-R", &format!("{id}:{id}")])
            .arg(dir.tmp())
            .status()
            .expect("chown");
        assert!(chown.success());
        let mut sv = dir.launch(sup).as_user(id).nproc(1).start();
        let want = "s6-supervise svc: warning: unable to spawn ./run (waiting 60 seconds): Resource temporarily unavailable\n";
        sv.wait_until("the warning", DEADLINE, |sv| sv.stderr() == want);
        let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NPROC)
            .expect("getrlimit");
        prlimit(sv.pid(), "nproc", &hard.to_string(), Some(id));
        sv.ctl("u");
        sv.wait_up();
    });
    Ok(())
}

/// "`announce`": a status file that cannot be written is a warning (`unable to write status
/// file: ERR`, supervise.c:94) at each write, and supervision goes on: the service is still
/// restarted and controlled, and the file is right again once it can be written.
fn an_unwritable_status_file_is_a_warning_and_supervision_goes_on() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("echo $$ >> pids\nexec sleep 1000");
        let mut sv = dir.start(sup);
        let first = sv.wait_up();
        sv.wait_until("run's first line", DEADLINE, |sv| sv.dir.has_line("pids"));
        std::fs::create_dir(dir.path("supervise/status.new")).unwrap();
        sv.ctl("k");
        let warning = "s6-supervise svc: warning: unable to write status file: Is a directory\n";
        sv.wait_until("two failed writes and a restart", DEADLINE, |sv| {
            sv.stderr().matches(warning).count() >= 2
                && std::fs::read_to_string(sv.dir.path("pids"))
                    .is_ok_and(|p| p.lines().count() == 2)
        });
        assert_eq!(sv.status().pid(), first, "the file is left as it was");
        std::fs::remove_dir(dir.path("supervise/status.new")).unwrap();
        sv.ctl("d");
        let st = sv.wait_status("down, written again", |s| s.pid == 0);
        assert!(!st.wantup);
        assert!(!sv.has_exited());
    });
}

/// A service that forks a daemon and exits: its death is run's death (restart after the
/// throttle), the daemon is not supervise's child, and supervise leaves no zombie.
fn a_forking_service_is_restarted_and_leaves_no_zombie() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("sleep 1000 &\necho $! >> daemons\nexit 0");
        let mut sv = dir.start(sup);
        sv.wait_until("two starts", DEADLINE, |sv| {
            std::fs::read_to_string(sv.dir.path("daemons")).is_ok_and(|p| p.lines().count() >= 2)
        });
        let pid = sv.pid();
        sv.wait_until("no zombie child", DEADLINE, |_| {
            procfs::zombie_children(pid).is_empty()
        });
        let daemons = std::fs::read_to_string(dir.path("daemons")).unwrap();
        for daemon in daemons.lines().filter_map(|l| l.parse::<i32>().ok()) {
            assert_ne!(
                procfs::ppid(daemon),
                Some(pid),
                "the daemon is not supervise's child"
            );
        }
    });
}

/// "No zombie, no fd growth over 1000 restarts": a service that exits at once, started a
/// thousand times with `o` (which ignores the throttle); supervise's fds and children are
/// the same after as before.
fn a_thousand_restarts_leave_no_fd_and_no_zombie() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::new();
        std::os::unix::fs::symlink("/bin/true", dir.path("run")).unwrap();
        dir.write("down", "").write("notification-fd", "3");
        let mut sv = dir.start(sup);
        let pid = sv.pid();
        let fds = fd_numbers(pid);
        let mut last = sv.status().stamp;
        for i in 0..1000 {
            sv.ctl("o");
            let st = sv.wait_status(&format!("run {i} down"), |s| {
                s.pid == 0 && s.ready && s.stamp > last
            });
            last = st.stamp;
        }
        assert_eq!(fd_numbers(pid), fds, "{sup:?}: fds after 1000 runs");
        assert!(procfs::zombie_children(pid).is_empty());
        let tally = std::fs::metadata(dir.path("supervise/death_tally"))
            .unwrap()
            .len();
        assert_eq!(tally, 100 * 14, "the last 100 deaths");
    });
}
