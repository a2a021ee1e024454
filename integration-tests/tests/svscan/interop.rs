//! svscan with real supervisors in place of the stub ("What svscan expects of a supervise
//! program", and the clients that talk to it: `s6-svscanctl`, `s6-svstat`, `s6-svc`,
//! `s6-svlink`, `s6-log`, `s6-instance-*`): each scenario runs with Debian's C s6-supervise
//! and with ours (`supervise`, which svscan runs as `s6-supervise NAME`); against the C
//! s6-svscan (`SVSCAN_UNDER_TEST`), the harness bind-mounts ours over its `s6-supervise`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::program::{Ran, run};
use integration_tests::suite::{Scenario, optional};
use integration_tests::{
    DEADLINE, Fixture, Outcome, Svscan, binary, procfs, real_s6, scenario, wait_until,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(real_s6_supervise_runs_the_service_and_t_brings_it_down),
    scenario!(dropping_the_guard_kills_a_service_outside_svscans_process_group),
    scenario!(real_s6_svscanctl_and_s6_svstat_work_with_our_svscan),
    scenario!(real_s6_log_keeps_every_line_across_a_killed_service),
    scenario!(real_s6_svlink_and_s6_svunlink_work_with_our_svscan),
    scenario!(real_s6_instances_work_under_our_svscan),
];

/// "Started as `s6-supervise NAME` in the scan dir. It supervises the service dir NAME
/// (running `NAME/run` ...)": the real s6-supervise runs the service under svscan, and
/// `t` brings the whole tree down. The supervisor is the program given (the same file, also
/// when the C svscan runs it through the bind mount).
fn real_s6_supervise_runs_the_service_and_t_brings_it_down() -> Outcome {
    use std::os::unix::fs::MetadataExt;
    for supervise in supervisors() {
        let fx = Fixture::new();
        sleeper(&fx, "a");
        let mut sv = fx.svscan().supervise(&supervise).start();
        let service = wait_sleeper(&mut sv, "a");
        let supervisor = find_process(sv.pid(), &["s6-supervise", "a"]).expect("a's supervisor");
        let (exe, given) = (
            std::fs::metadata(format!("/proc/{supervisor}/exe")).expect("its exe"),
            std::fs::metadata(&supervise).expect("the program"),
        );
        assert_eq!(
            (exe.dev(), exe.ino()),
            (given.dev(), given.ino()),
            "{}",
            supervise.display()
        );
        assert!(
            fx.path("a/supervise/status").is_file(),
            "s6-supervise keeps its state in a/supervise"
        );
        sv.ctl("t");
        assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
        sv.wait_until("the service to be gone", DEADLINE, |_| {
            !procfs::is_alive(service)
        });
    }
    Ok(())
}

/// The harness's own promise, checked where it is hardest: s6-supervise runs its service in a
/// session of its own, out of svscan's process group, and the guard still kills it on drop.
fn dropping_the_guard_kills_a_service_outside_svscans_process_group() -> Outcome {
    for supervise in supervisors() {
        let fx = Fixture::new();
        sleeper(&fx, "a");
        let mut sv = fx.svscan().supervise(&supervise).start();
        let service = wait_sleeper(&mut sv, "a");
        let svscan = sv.pid();
        let pgid = std::fs::read_to_string(format!("/proc/{service}/stat")).unwrap();
        assert_ne!(
            pgid.rsplit(')').next().unwrap().split_whitespace().nth(2),
            Some(svscan.to_string().as_str())
        );
        drop(sv);
        wait_until("the service to be gone", DEADLINE, || {
            !procfs::is_alive(service)
        });
    }
    Ok(())
}

/// svscanctl's contract, from the client side: Debian's `s6-svscanctl` drives ours. With the
/// real s6-supervise, `s6-svstat` reports a service up; `-h` ("scan now, ... then kill
/// inactive") and `-an` bring a removed service and its supervisor down; `-t` ends svscan.
fn real_s6_svscanctl_and_s6_svstat_work_with_our_svscan() -> Outcome {
    for supervise in supervisors() {
        let svscanctl = real_s6("s6-svscanctl")?;
        let svstat = real_s6("s6-svstat")?;
        let fx = Fixture::new();
        for name in ["b", "cc", "ddd"] {
            sleeper(&fx, name);
        }
        let mut sv = fx.svscan().supervise(&supervise).start();
        let svscan = sv.pid();
        let services: Vec<i32> = ["b", "cc", "ddd"]
            .iter()
            .map(|n| wait_sleeper(&mut sv, n))
            .collect();

        let scandir = fx.scandir().as_os_str();
        let b_dir = fx.path("b");
        sv.wait_until("b's supervise/status written", DEADLINE, |_| {
            fx.path("b/supervise/status").is_file()
        });
        let status = run_s6(&svstat, &[b_dir.as_os_str()]).stdout;
        assert!(
            status.starts_with(&format!("up (pid {})", services[0])),
            "s6-svstat b: {status}"
        );

        for (name, how, service) in [("b", "-h", services[0]), ("cc", "-an", services[1])] {
            let supervisor = find_process(svscan, &["s6-supervise", name]).expect("its supervisor");
            fx.rename(name, format!("../removed-{name}"));
            run_s6(&svscanctl, &[OsStr::new(how), scandir]);
            sv.wait_until(
                &format!("{name} brought down by s6-svscanctl {how}"),
                DEADLINE,
                |_| !procfs::is_alive(service) && !procfs::is_alive(supervisor),
            );
        }
        assert!(procfs::is_alive(services[2]), "ddd is still up");

        run_s6(&svscanctl, &[OsStr::new("-t"), scandir]);
        let exit = sv.wait_exit(DEADLINE);
        assert!(exit.success(), "{exit:?}: {}", sv.stderr());
        sv.wait_until("ddd brought down", DEADLINE, |_| {
            !procfs::is_alive(services[2])
        });
    }
    Ok(())
}

/// "A logged pair's pipe is created by svscan and **held by svscan** (both ends) ... so
/// neither side's restart loses a byte", with the real programs: `s6-log` as the logger's
/// run writes every line of the service to `log/main/current`, none lost when `s6-svc -k`
/// kills the service mid-stream. Each run numbers its lines and, after each, appends its
/// number to a file (appended, so that a kill between the open and the write loses nothing
/// already recorded); every line up to the last number recorded must be in the log, in
/// order.
fn real_s6_log_keeps_every_line_across_a_killed_service() -> Outcome {
    for supervise in supervisors() {
        let svc = real_s6("s6-svc")?;
        real_s6("s6-log")?; // run by a/log/run
        let svscanctl = real_s6("s6-svscanctl")?;
        let fx = Fixture::new();
        fx.script(
            "a/run",
            "#!/bin/sh\ni=0\nwhile [ $i -lt 20000 ]; do\n  i=$((i+1))\n  echo \"run $$ line $i\"\n  \
             echo $i >> written.$$\ndone\nexec sleep 1000\n",
        );
        // Archives of 1 MB, 20 kept: two runs of at most 20000 lines never lose one to rotation.
        fx.script(
            "a/log/run",
            "#!/bin/sh\nexec s6-log -- n20 s1000000 ./main\n",
        );
        let mut sv = fx.svscan().supervise(&supervise).start();
        // s6-log rotates `current` into `@TAI64N.s` archives: read them first, in name (time)
        // order, then `current`.
        let logdir = fx.path("a/log/main");
        let log = || {
            let mut files: Vec<_> = std::fs::read_dir(&logdir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with('@'))
                        })
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            files.push(logdir.join("current"));
            files
                .iter()
                .map(|f| std::fs::read_to_string(f).unwrap_or_default())
                .collect::<String>()
        };
        let runs = |text: &str| -> Vec<String> {
            let mut pids: Vec<String> = Vec::new();
            for l in text.lines() {
                if let Some(pid) = l.strip_prefix("run ").and_then(|r| r.split(' ').next())
                    && !pids.iter().any(|p| p == pid)
                {
                    pids.push(pid.to_owned());
                }
            }
            pids
        };
        sv.wait_until("a's lines in log/main/current", DEADLINE, |_| {
            log().lines().count() >= 200
        });
        run_s6(&svc, &[OsStr::new("-k"), fx.path("a").as_os_str()]);
        sv.wait_until("a second run's lines in the log", DEADLINE, |_| {
            runs(&log()).len() >= 2 && log().lines().count() >= 400
        });
        run_s6(&svscanctl, &[OsStr::new("-t"), fx.scandir().as_os_str()]);
        let exit = sv.wait_exit(DEADLINE);
        assert!(exit.success(), "{exit:?}: {}", sv.stderr());
        // svscan waited for a/log's s6-supervise, which waited for s6-log: it read to EOF (svscan
        // closed its pipe ends, the service's writers are dead) and is gone, its log complete.

        let text = log();
        for pid in runs(&text) {
            let prefix = format!("run {pid} line ");
            let got: Vec<u64> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&prefix)?.parse().ok())
                .collect();
            let written: u64 = std::fs::read_to_string(fx.path(format!("a/written.{pid}")))
                .ok()
                .and_then(|s| s.lines().filter_map(|l| l.parse().ok()).next_back())
                .unwrap_or(0);
            assert!(written > 0, "run {pid} recorded what it wrote");
            let expected: Vec<u64> = (1..=got.len() as u64).collect();
            assert!(
                got == expected && got.len() as u64 >= written,
                "run {pid}: wrote {written}, the log has {} lines, first gap after {:?}",
                got.len(),
                got.windows(2).find(|w| w[1] != w[0] + 1)
            );
        }
    }
    Ok(())
}

/// `s6-svlink` and `s6-svunlink` on a scan dir run by our svscan: they send `-a` (or `-an`)
/// through the control FIFO and wait for s6-supervise through its event fifodir, so they
/// return (within their timeout) only if our svscan acted on the command: the linked service
/// comes up, the unlinked one and its supervisor go down.
fn real_s6_svlink_and_s6_svunlink_work_with_our_svscan() -> Outcome {
    for supervise in supervisors() {
        let svlink = real_s6("s6-svlink")?;
        let svunlink = real_s6("s6-svunlink")?;
        let fx = Fixture::new();
        sleeper(&fx, "b");
        let mut sv = fx.svscan().supervise(&supervise).start();
        let svscan = sv.pid();
        wait_sleeper(&mut sv, "b");

        // A service directory outside the scan dir, linked in as `linked`.
        let outside = fx.tmp().join("services/linked");
        std::fs::create_dir_all(&outside).unwrap();
        fx.script(
            "../services/linked/run",
            "#!/bin/sh\nexec sleep 1000 000000\n",
        );
        run_s6(
            &svlink,
            &[
                OsStr::new("-t"),
                OsStr::new("8000"),
                fx.scandir().as_os_str(),
                outside.as_os_str(),
                OsStr::new("linked"),
            ],
        );
        assert!(fx.path("linked").is_symlink());
        let service = wait_sleeper(&mut sv, "linked");
        let supervisor = find_process(svscan, &["s6-supervise", "linked"]).expect("its supervisor");

        run_s6(
            &svunlink,
            &[
                OsStr::new("-t"),
                OsStr::new("8000"),
                fx.scandir().as_os_str(),
                OsStr::new("linked"),
            ],
        );
        assert!(!fx.path("linked").exists());
        sv.wait_until("linked and its supervisor brought down", DEADLINE, |_| {
            !procfs::is_alive(service) && !procfs::is_alive(supervisor)
        });
        sv.ctl("t");
        assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    }
    Ok(())
}

/// An instanced service (`s6-instance-maker`) under our svscan: its run is a C s6-svscan on
/// its `instance/` dir, supervised by the real s6-supervise that ours started;
/// `s6-instance-create` brings an instance up under it and `s6-instance-delete` takes it
/// down; `t` to ours brings the whole subtree down.
fn real_s6_instances_work_under_our_svscan() -> Outcome {
    for supervise in supervisors() {
        let maker = real_s6("s6-instance-maker")?;
        let create = real_s6("s6-instance-create")?;
        let delete = real_s6("s6-instance-delete")?;
        real_s6("execlineb")?; // run by the instances' scripts
        let fx = Fixture::new();
        let template = fx.tmp().join("template");
        std::fs::create_dir(&template).unwrap();
        fx.script(
            "../template/run",
            &format!("#!/bin/sh\nexec sleep 1000{}\n", sleep_tag("instance")),
        );
        let inst = fx.path("inst");
        run_s6(&maker, &[template.as_os_str(), inst.as_os_str()]);
        let mut sv = fx.svscan().supervise(&supervise).start();
        sv.wait_until("the instances' s6-svscan listening", DEADLINE, |_| {
            fx.path("inst/instance/.s6-svscan/control").exists()
        });
        let timeout = [OsStr::new("-t"), OsStr::new("8000")];
        run_s6(
            &create,
            &[timeout[0], timeout[1], inst.as_os_str(), OsStr::new("one")],
        );
        let instance = wait_sleeper(&mut sv, "instance");
        run_s6(
            &delete,
            &[timeout[0], timeout[1], inst.as_os_str(), OsStr::new("one")],
        );
        sv.wait_until("the instance brought down", DEADLINE, |_| {
            !procfs::is_alive(instance)
        });
        let svscan = sv.pid();
        let inner =
            find_process(svscan, &["/usr/bin/s6-svscan"]).expect("the instances' s6-svscan");
        sv.ctl("t");
        assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
        sv.wait_until("the instances' s6-svscan gone", DEADLINE, |_| {
            !procfs::is_alive(inner)
        });
    }
    Ok(())
}

/// The outer pid of a descendant of `root` whose command line starts with `args`.
/// The supervisors each scenario runs with: Debian's (when installed; a part skipped
/// otherwise) and ours.
fn supervisors() -> Vec<PathBuf> {
    optional(real_s6("s6-supervise"))
        .into_iter()
        .chain(std::iter::once(binary("supervise")))
        .collect()
}

fn find_process(root: i32, args: &[&str]) -> Option<i32> {
    let want: String = args.iter().map(|a| format!("{a}\0")).collect();
    procfs::descendants(root)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with(&want))
        })
}

/// Runs one of Debian's s6 programs to its end within [`DEADLINE`], so that a wait of theirs
/// that our svscan never satisfies fails the test instead of hanging it; it must succeed.
fn run_s6(program: &Path, args: &[&OsStr]) -> Ran {
    let ran = run(Command::new(program).args(args), DEADLINE);
    assert_eq!(ran.code, Some(0), "{} {args:?}: {ran:?}", program.display());
    ran
}

/// A service whose run script is `exec sleep 1000` with the given tag as argument, so that
/// each service's process can be found.
fn sleeper(fx: &Fixture, name: &str) {
    fx.script(
        format!("{name}/run"),
        &format!("#!/bin/sh\nexec sleep 1000{}\n", sleep_tag(name)),
    );
}

/// `sleep 1000 1000 ...`: one more `1000` per letter of the name keeps each service's sleep
/// distinct on its command line and sleeping as long.
fn sleep_tag(name: &str) -> String {
    format!(" {}", (0..name.len()).map(|_| "0").collect::<String>())
}

/// Waits for `name`'s service (its sleep) under svscan and returns its pid.
fn wait_sleeper(sv: &mut Svscan<'_>, name: &str) -> i32 {
    let svscan = sv.pid();
    let tag = sleep_tag(name);
    let mut found = None;
    sv.wait_until(&format!("{name}'s sleep running"), DEADLINE, |_| {
        found = find_process(svscan, &["sleep", "1000", tag.trim()]);
        found.is_some()
    });
    found.unwrap()
}
