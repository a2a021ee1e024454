//! What svscan's shortcuts must not change (`svscan/src/scan.rs`, "Fewer path lookups, same
//! answers"; `common::spawn::spawn_sharing_fds`): every case where their reasoning could
//! break gives the answer the scanner's rules give, end to end.
//!
//! A rescan of a *settled* service (its directory unchanged for a few seconds, so that svscan
//! has recorded its ctime) skips the lookup of `NAME/log`, and of `NAME` itself when it is a
//! plain directory svscan holds open. So each scenario first settles its fleet ([`settle`]:
//! it waits until the directories are 3 s old, then has svscan scan them once, which records
//! the proofs), then makes the change the proof must not hide, then checks that a rescan sees
//! it. Debian's C s6-svscan 2.11 checks `NAME/log` only when it first finds `NAME`, so the
//! scenarios about a logger appearing later are ours only.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Events, Fixture, Outcome, Skip, Svscan, ours_only, scenario, signal_pid,
};
use nix::sys::signal::Signal;

use crate::shared::{outside, warnings};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(a_log_dir_made_in_a_settled_service_gets_its_logger).slow(),
    scenario!(a_log_dir_made_in_a_settled_service_held_by_no_fd_gets_its_logger).slow(),
    scenario!(a_replaced_log_dir_of_a_settled_service_gets_a_new_logger).slow(),
    scenario!(a_moved_log_dir_of_a_settled_service_is_reported_on_every_scan).slow(),
    scenario!(a_renamed_settled_service_and_its_logger_restart_under_the_new_names).slow(),
    scenario!(a_settled_service_dir_replaced_under_its_name_is_a_new_service).slow(),
    scenario!(a_retargeted_log_symlink_of_a_settled_service_gets_a_new_logger).slow(),
    scenario!(a_log_dir_made_behind_a_settled_service_symlink_gets_its_logger).slow(),
    scenario!(a_bind_mount_on_a_settled_log_dir_gets_a_new_logger).slow(),
    scenario!(a_bind_mount_on_a_settled_service_dir_is_a_new_service).slow(),
    scenario!(a_log_dir_made_in_the_second_of_a_scan_on_a_whole_second_file_system_is_found).slow(),
    scenario!(descriptors_svscan_inherited_without_cloexec_reach_its_supervisors),
];

const NOT_211: &str = "C 2.11 checks NAME/log only when it first finds NAME";
/// How old a directory must be for its ctime to be recorded (svscan: 2 s after its second).
const SETTLE: Duration = Duration::from_secs(3);

/// The ctime of `path` (following symlinks), as a time.
fn ctime(path: &Path) -> SystemTime {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    let secs = u64::try_from(m.ctime()).unwrap_or(0);
    let nanos = u32::try_from(m.ctime_nsec()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

/// Waits until every directory in `root` (and their `log`) was last changed [`SETTLE`] ago,
/// then has svscan scan (it picks up the service `marker`, made in `root`): that scan records
/// the proofs that the next ones may use.
fn settle(sv: &mut Svscan<'_>, root: &Path, marker: &str) {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(root)
        .expect("read the scan dir")
        .flatten()
    {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') || !path.is_dir() {
            continue;
        }
        newest = newest.max(ctime(&path));
        if path.join("log").is_dir() {
            newest = newest.max(ctime(&path.join("log")));
        }
    }
    integration_tests::wait_until("the scan dir's directories settled", DEADLINE, || {
        SystemTime::now().duration_since(newest).unwrap_or_default() > SETTLE
    });
    rescan_in(sv, root, marker);
}

/// `mkdir ROOT/MARKER`, `a` into `ROOT/.s6-svscan/control`, and waits for MARKER's
/// supervisor: a rescan seen to complete.
fn rescan_in(sv: &mut Svscan<'_>, root: &Path, marker: &str) {
    std::fs::create_dir(root.join(marker)).expect("mkdir the marker");
    let control = root.join(common::CONTROL_FIFO);
    let fifo = nix::fcntl::open(
        &control,
        nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", control.display()));
    assert_eq!(nix::unistd::write(&fifo, b"a"), Ok(1), "write a");
    sv.wait_for(&format!("{marker} started"), DEADLINE, |e| {
        e.pid_of(marker).is_some()
    });
}

/// The last start record of `name`.
fn last_start<'e>(events: &'e Events, name: &str) -> &'e integration_tests::Event {
    events
        .last_start(name)
        .unwrap_or_else(|| panic!("no start of {name}"))
}

/// "then `NAME/log` ... new: takes a slot ... and svscan creates the pair's pipe": a `log`
/// directory made in a settled service (the proof recorded without one) gets its logger at
/// the next scan, and the service writes into its pipe from its next start.
fn a_log_dir_made_in_a_settled_service_gets_its_logger() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    let a = sv.wait_started("a");
    settle(&mut sv, fx.scandir(), "m1");
    fx.mkdir("a/log");
    rescan_in(&mut sv, fx.scandir(), "m2");
    let events = sv.wait_for("a/log started", DEADLINE, |e| e.pid_of("a/log").is_some());
    let pipe = last_start(events, "a/log").fd(0).expect("a/log's fd 0").ino;
    signal_pid(a, Signal::SIGTERM);
    let events = sv.wait_for("a restarted", DEADLINE, |e| e.starts("a").len() == 2);
    assert_eq!(last_start(events, "a").fd(1).expect("a's fd 1").ino, pipe);
    Ok(())
}

/// As [`a_log_dir_made_in_a_settled_service_gets_its_logger`], with too few descriptors for
/// svscan to hold any directory (`prlimit --nofile=64`): the proof alone, with `stat(NAME)`.
fn a_log_dir_made_in_a_settled_service_held_by_no_fd_gets_its_logger() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.svscan().start_wrapped(&["prlimit", "--nofile=64:64"]);
    sv.wait_started("a");
    settle(&mut sv, fx.scandir(), "m1");
    let held = integration_tests::procfs::fd_count(sv.pid())
        - integration_tests::procfs::fd_count_without_paths(sv.pid());
    assert_eq!(held, 0, "no directory held under a limit of 64");
    fx.mkdir("a/log");
    rescan_in(&mut sv, fx.scandir(), "m2");
    sv.wait_for("a/log started", DEADLINE, |e| e.pid_of("a/log").is_some());
    Ok(())
}

/// "If NAME had an old pipe to an old logger, svscan closes its old write end and unlinks the
/// old logger from NAME": a settled pair whose `log` is replaced by a new directory gets a new
/// logger on a new pipe.
fn a_replaced_log_dir_of_a_settled_service_gets_a_new_logger() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    sv.wait_started("a/log");
    let old_pipe = last_start(sv.events(), "a/log").fd(0).expect("fd 0").ino;
    settle(&mut sv, fx.scandir(), "m1");
    fx.rename("a/log", "a/old-log").mkdir("a/log");
    rescan_in(&mut sv, fx.scandir(), "m2");
    let events = sv.wait_for("a new a/log", DEADLINE, |e| e.starts("a/log").len() == 2);
    assert_ne!(
        last_start(events, "a/log").fd(0).expect("fd 0").ino,
        old_pipe
    );
    Ok(())
}

/// "absent ...: no logger. If NAME still has a logger from before: warning `logger for
/// service NAME has been moved` (repeated on every scan until the old logger entry is
/// forgotten)": also once the service is settled.
fn a_moved_log_dir_of_a_settled_service_is_reported_on_every_scan() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    sv.wait_started("a/log");
    settle(&mut sv, fx.scandir(), "m1");
    std::fs::rename(fx.path("a/log"), outside(&fx, "moved-log")).expect("move a/log out");
    let warning = "logger for service a has been moved";
    for (i, marker) in ["m2", "m3", "m4"].into_iter().enumerate() {
        rescan_in(&mut sv, fx.scandir(), marker);
        sv.wait_until(&format!("warning #{}", i + 1), DEADLINE, |sv| {
            warnings(sv, warning) == i + 1
        });
    }
    Ok(())
}

/// "a directory already known by (dev, inode): marked seen, its name updated (a rename)":
/// a settled pair renamed keeps its supervisors, which restart under the new names.
fn a_renamed_settled_service_and_its_logger_restart_under_the_new_names() {
    let fx = Fixture::new();
    fx.logged("a");
    let mut sv = fx.start();
    let (a, log) = (sv.wait_started("a"), sv.wait_started("a/log"));
    settle(&mut sv, fx.scandir(), "m1");
    fx.rename("a", "b");
    rescan_in(&mut sv, fx.scandir(), "m2");
    // A second scan, in which b (not changed since the first) may take the shortcut.
    rescan_in(&mut sv, fx.scandir(), "m3");
    assert_eq!(sv.events().starts("b").len(), 0, "no new supervisor for b");
    signal_pid(a, Signal::SIGTERM);
    signal_pid(log, Signal::SIGTERM);
    let events = sv.wait_for("b and b/log restarted", DEADLINE, |e| {
        e.pid_of("b").is_some() && e.pid_of("b/log").is_some()
    });
    assert_eq!(last_start(events, "b").argv(), ["s6-supervise", "b"]);
    assert_eq!(
        last_start(events, "b/log").argv(),
        ["s6-supervise", "b/log"]
    );
}

/// "a directory already known by (dev, inode)" / "a new one": a settled `a` moved to
/// `a.old` and replaced by a new directory `a`: the new one is a new service, the old one
/// keeps its supervisor under its new name.
fn a_settled_service_dir_replaced_under_its_name_is_a_new_service() {
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    let old = sv.wait_started("a");
    settle(&mut sv, fx.scandir(), "m1");
    fx.rename("a", "a.old").service("a");
    rescan_in(&mut sv, fx.scandir(), "m2");
    let events = sv.wait_for("a new a", DEADLINE, |e| e.starts("a").len() == 2);
    assert_ne!(events.pid_of("a"), Some(old));
    signal_pid(old, Signal::SIGTERM);
    let events = sv.wait_for("a.old restarted", DEADLINE, |e| e.pid_of("a.old").is_some());
    assert_eq!(
        last_start(events, "a.old").argv(),
        ["s6-supervise", "a.old"]
    );
}

/// "`stat` (follows symlinks)", for `NAME/log`: a settled service whose `log` is a symlink to
/// a directory elsewhere, which is replaced there (the service directory does not change):
/// the new directory is a new logger.
fn a_retargeted_log_symlink_of_a_settled_service_gets_a_new_logger() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    let target = outside(&fx, "logdir");
    std::fs::create_dir(&target).expect("mkdir the log target");
    fx.service("a").symlink(&target, "a/log");
    let mut sv = fx.start();
    sv.wait_started("a/log");
    settle(&mut sv, fx.scandir(), "m1");
    std::fs::rename(&target, outside(&fx, "logdir.old")).expect("move the target");
    std::fs::create_dir(&target).expect("a new target");
    rescan_in(&mut sv, fx.scandir(), "m2");
    sv.wait_for("a new a/log", DEADLINE, |e| e.starts("a/log").len() == 2);
    Ok(())
}

/// "`stat` (follows symlinks)", for `NAME`: a settled service that is a symlink to a
/// directory elsewhere, in which `log` is made: the logger is started.
fn a_log_dir_made_behind_a_settled_service_symlink_gets_its_logger() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    let target = outside(&fx, "service");
    std::fs::create_dir(&target).expect("mkdir the service target");
    fx.symlink(&target, "s");
    let mut sv = fx.start();
    sv.wait_started("s");
    settle(&mut sv, fx.scandir(), "m1");
    std::fs::create_dir(target.join("log")).expect("mkdir the target's log");
    rescan_in(&mut sv, fx.scandir(), "m2");
    sv.wait_for("s/log started", DEADLINE, |e| e.pid_of("s/log").is_some());
    Ok(())
}

/// svscan in a mount namespace of its own, so that a scenario can mount over its scan dir:
/// `unshare -m` in front of its command line.
fn start_in_mount_ns(fx: &Fixture) -> Result<Svscan<'_>, Skip> {
    let ok = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(Skip::missing(
            "a mount namespace (`unshare -m true` failed)",
        ));
    }
    Ok(fx
        .svscan()
        .start_wrapped(&["unshare", "-m", "--propagation", "private"]))
}

/// `mount --bind FROM TO` in svscan's mount namespace.
fn bind_in(sv: &Svscan<'_>, from: &Path, to: &Path) {
    let status = Command::new("nsenter")
        .arg("-t")
        .arg(sv.pid().to_string())
        .args(["-m", "mount", "--bind"])
        .args([from, to])
        .status()
        .expect("run nsenter");
    assert!(status.success(), "mount --bind {from:?} {to:?}: {status}");
}

/// "`NAME/log`, checked the same way": a directory bind-mounted over the settled `a/log`
/// (a mount changes no ctime) is what `stat` then finds there, so a new logger.
fn a_bind_mount_on_a_settled_log_dir_gets_a_new_logger() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    fx.logged("a");
    let other = outside(&fx, "other-log");
    std::fs::create_dir(&other).expect("mkdir the mounted dir");
    let mut sv = start_in_mount_ns(&fx)?;
    sv.wait_started("a/log");
    settle(&mut sv, fx.scandir(), "m1");
    bind_in(&sv, &other, &fx.path("a/log"));
    rescan_in(&mut sv, fx.scandir(), "m2");
    let new = sv
        .wait_for("a new a/log", DEADLINE, |e| e.starts("a/log").len() == 2)
        .pid_of("a/log");
    // Scans after the mount, which may take shortcuts again, still see the mounted one.
    rescan_in(&mut sv, fx.scandir(), "m3");
    signal_pid(new.expect("a pid"), Signal::SIGTERM);
    sv.wait_for("the new a/log restarted: active", DEADLINE, |e| {
        e.starts("a/log").len() == 3
    });
    Ok(())
}

/// "a directory already known by (dev, inode)" / "a new one": a directory bind-mounted over
/// the settled (and held open) `a` is a new service under that name.
fn a_bind_mount_on_a_settled_service_dir_is_a_new_service() -> Outcome {
    let fx = Fixture::new();
    fx.service("a");
    let other = outside(&fx, "other-service");
    std::fs::create_dir(&other).expect("mkdir the mounted dir");
    let mut sv = start_in_mount_ns(&fx)?;
    let old = sv.wait_started("a");
    settle(&mut sv, fx.scandir(), "m1");
    bind_in(&sv, &other, &fx.path("a"));
    rescan_in(&mut sv, fx.scandir(), "m2");
    let events = sv.wait_for("a second a", DEADLINE, |e| e.starts("a").len() == 2);
    let new = events.pid_of("a").expect("a pid");
    assert_ne!(new, old);
    // Scans after the mount, which may take shortcuts again (the covered directory has the
    // inode number of `a`'s directory entry), still see the mounted one as `a`.
    rescan_in(&mut sv, fx.scandir(), "m3");
    signal_pid(new, Signal::SIGTERM);
    sv.wait_for("the new a restarted: active", DEADLINE, |e| {
        e.starts("a").len() == 3
    });
    Ok(())
}

/// The scan dir's content as an ext4 image with 128-byte inodes, whose times are whole
/// seconds, loop-mounted over the scan dir in svscan's own mount namespace; the scenario
/// reaches it through `/proc/PID/cwd`.
fn start_on_whole_seconds(fx: &Fixture) -> Result<(Svscan<'_>, PathBuf), Skip> {
    let image = outside(fx, "seconds.ext4");
    let made = Command::new("mkfs.ext4")
        .args(["-q", "-I", "128", "-d"])
        .arg(fx.scandir())
        .arg(&image)
        .arg("16M")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let probe = outside(fx, "probe");
    std::fs::create_dir(&probe).expect("mkdir the probe mount point");
    let mounts = made
        && Command::new("unshare")
            .args(["-m", "--propagation", "private", "mount", "-o", "loop,ro"])
            .arg(&image)
            .arg(&probe)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !mounts {
        return Err(Skip::missing(
            "mkfs.ext4 -d and a loop mount (e2fsprogs, root, /dev/loop-control)",
        ));
    }
    let mut wrapper: Vec<OsString> = ["unshare", "-m", "--propagation", "private", "sh", "-c"]
        .map(OsString::from)
        .to_vec();
    wrapper.push(r#"mount -o loop "$0" "$1" && cd "$1" && shift && exec "$@""#.into());
    wrapper.push(image.into_os_string());
    wrapper.push(fx.scandir().as_os_str().to_owned());
    let sv = fx.svscan().start_wrapped(&wrapper);
    let root = PathBuf::from(format!("/proc/{}/cwd", sv.pid()));
    Ok((sv, root))
}

/// "then `NAME/log`" on a file system that keeps whole seconds: a `log` made in the same
/// second as the scan before it, and as the service directory's previous change, leaves the
/// directory's ctime as it was; the next scan still finds the logger.
fn a_log_dir_made_in_the_second_of_a_scan_on_a_whole_second_file_system_is_found() -> Outcome {
    ours_only(NOT_211)?;
    let fx = Fixture::new();
    fx.service("a");
    let (mut sv, root) = start_on_whole_seconds(&fx)?;
    sv.wait_started("a");
    let service = root.join("a");
    let mut attempt = 0;
    loop {
        attempt += 1;
        // At the start of a second: a change of a, a scan, and the log, within it.
        integration_tests::wait_until("the start of a second", DEADLINE, || {
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
            now.is_ok_and(|d| d.subsec_millis() < 200)
        });
        let scratch = service.join(format!("x{attempt}"));
        std::fs::create_dir(&scratch).expect("a change of a");
        let before = ctime(&service);
        rescan_in(&mut sv, &root, &format!("m{attempt}"));
        std::fs::create_dir(service.join("log")).expect("mkdir a/log");
        if ctime(&service) == before {
            break;
        }
        // The second ended before the log was made: the ctime moved on; try again.
        std::fs::remove_dir(service.join("log")).expect("rmdir a/log");
        assert!(attempt < 10, "never made a/log within one second");
    }
    rescan_in(&mut sv, &root, "last");
    sv.wait_for("a/log started", DEADLINE, |e| e.pid_of("a/log").is_some());
    Ok(())
}

/// "svscan's own fds are all CLOEXEC; fds that svscan inherited without CLOEXEC pass
/// through, as in C": with supervisors spawned on svscan's shared fd table, an fd svscan was
/// started with reaches them, and none of svscan's own.
fn descriptors_svscan_inherited_without_cloexec_reach_its_supervisors() {
    let fx = Fixture::new();
    fx.logged("a").service("b");
    let inherited = nix::fcntl::open(
        fx.scandir(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open a directory to pass");
    let mut sv = fx.svscan().fd(7, inherited).start();
    let events = sv.wait_for("a, a/log and b started", DEADLINE, |e| {
        ["a", "a/log", "b"].iter().all(|n| e.pid_of(n).is_some())
    });
    for name in ["a", "a/log", "b"] {
        let start = last_start(events, name);
        assert_eq!(start.open_fds(), [0, 1, 2, 7], "{name}: {start}");
        assert_eq!(
            start.fd(7).map(|f| f.kind),
            Some("dir".to_owned()),
            "{name}"
        );
    }
}
