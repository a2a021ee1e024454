//! The recipe's claims: "svscan runs our supervise as `s6-supervise` from PATH", "the
//! container's exit code is the main service's (128 + the signal when one killed it)", and
//! "a SIGTERM to process 1 from outside, as a container runtime sends it, stops the tree".
//! Each scenario copies `demo/container/service` as it is, except `app/run`, the
//! application's stand-in, which records the program of its supervisor (`/proc/$PPID/exe`).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use integration_tests::process::Guard;
use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Outcome, binary, pidns, procfs, scenario, signal_pid, wait_until, with_std_fds_only,
    workspace_root,
};
use nix::sys::signal::Signal;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(the_main_services_exit_code_is_the_containers),
    scenario!(a_sigterm_from_outside_stops_the_container_with_the_services_code),
];

/// The recipe's scan directory in a temp dir, with `app/run` replaced by `run`, and a bin
/// directory holding our programs under the names the recipe's scripts and svscan call.
struct Container {
    dir: tempfile::TempDir,
}

impl Container {
    fn new(run: &str) -> Container {
        let dir = tempfile::tempdir().expect("a temp dir");
        copy_tree(
            &workspace_root().join("demo/container/service"),
            &dir.path().join("service"),
        );
        let app_run = dir.path().join("service/app/run");
        integration_tests::process::write_executable(&app_run, format!("#!/bin/sh\n{run}"));
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).expect("mkdir bin");
        for (name, program) in [("s6-supervise", "supervise"), ("svscanctl", "svscanctl")] {
            symlink(binary(program), bin.join(name)).expect("symlink");
        }
        Container { dir }
    }

    fn service(&self) -> PathBuf {
        self.dir.path().join("service")
    }

    /// `unshare --pid --fork --mount-proc svscan SERVICE`, as the image's entry point, with
    /// our bin directory first in PATH.
    fn start(&self) -> Guard {
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display());
        let mut cmd = Command::new(pidns::UNSHARE_PID[0]);
        cmd.args(&pidns::UNSHARE_PID[1..])
            .arg(binary("svscan"))
            .arg(self.service())
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Guard::spawn(with_std_fds_only(&mut cmd))
    }

    /// The program that supervised the app, as its run recorded it.
    fn supervisor(&self) -> Option<PathBuf> {
        let text = fs::read_to_string(self.service().join("app/supervisor")).ok()?;
        text.strip_suffix('\n').map(PathBuf::from)
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in fs::read_dir(from).expect("read the recipe") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("its type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            // Every file of the recipe is a script or a program's input: written as an
            // executable, with no fork meanwhile (process::write_executable).
            let contents = fs::read(entry.path()).expect("read a file of the recipe");
            integration_tests::process::write_executable(&target, contents);
        }
    }
}

/// Records the supervisor's program (run is the supervisor's child) with a whole line.
const RECORD_SUPERVISOR: &str =
    "readlink /proc/$PPID/exe >supervisor.new && mv supervisor.new supervisor\n";

/// "The container's exit code is the main service's": app exits 3 by itself, its finish
/// writes 3 and stops the tree, svscan's finish exits 3, and so does process 1's parent,
/// `unshare`, as a container runtime would report it. svscan ran our supervise, found as
/// `s6-supervise` in PATH.
fn the_main_services_exit_code_is_the_containers() -> Outcome {
    pidns::available()?;
    let container = Container::new(&format!("{RECORD_SUPERVISOR}exit 3\n"));
    let mut unshare = container.start();
    let exit = unshare
        .wait_exit(DEADLINE)
        .expect("the container stops once its main service has exited");
    assert_eq!(exit.code(), Some(3), "{exit:?}");
    assert_eq!(
        container.supervisor(),
        Some(fs::canonicalize(binary("supervise")).expect("our supervise")),
        "the app's supervisor is ours"
    );
    Ok(())
}

/// "A SIGTERM to process 1 from outside stops the tree": svscan stops its supervisors, ours
/// stops the app (SIGTERM: 128 + 15 = 143), the app's finish passes that code on, and the
/// container exits with it.
fn a_sigterm_from_outside_stops_the_container_with_the_services_code() -> Outcome {
    pidns::available()?;
    let container = Container::new(&format!("{RECORD_SUPERVISOR}exec sleep 1000\n"));
    let mut unshare = container.start();
    wait_until("the app up", DEADLINE, || container.supervisor().is_some());
    let svscan = procfs::children(unshare.pid())
        .into_iter()
        .find(|p| pidns::nspids(*p).last() == Some(&1))
        .expect("svscan, pid 1 of the namespace, under unshare");
    signal_pid(svscan, Signal::SIGTERM);
    let exit = unshare
        .wait_exit(DEADLINE)
        .expect("the container stops on SIGTERM");
    assert_eq!(exit.code(), Some(143), "{exit:?}");
    Ok(())
}
