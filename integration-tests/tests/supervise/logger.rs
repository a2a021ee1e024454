//! SUPERVISE.md, "supervise" / "As `NAME/log` (logger) vs plain": "supervise makes **no**
//! distinction: a logger is just supervised with DIR = `NAME/log`, which appears in PROG and
//! as run's and finish's argument. The differences come from svscan (fd 0 of a logger's
//! supervise is the pipe) and from what svscan sends: SIGHUP (exit when the service next
//! dies, having dropped its fd 0/1)".

use integration_tests::scenario;
use integration_tests::suite::Scenario;
use integration_tests::{Outcome, real_s6};
use std::io::Write as _;

use integration_tests::DEADLINE;
use integration_tests::service::{ServiceDir, Supervisor, each_supervisor};
use nix::sys::signal::Signal;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(a_logger_drains_its_pipe_and_its_supervisor_exits_after_sighup),
    scenario!(a_loggers_warnings_name_its_directory),
];

/// A logger `svc/log` running Debian's s6-log on the pipe svscan would give its supervisor:
/// lines reach `main/current`; on SIGHUP supervise drops its copy of the pipe, so that when
/// the service side closes, s6-log sees EOF, writes everything and exits, and supervise
/// exits after it.
fn a_logger_drains_its_pipe_and_its_supervisor_exits_after_sighup() -> Outcome {
    let s6_log = real_s6("s6-log")?;
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::named("svc/log");
        dir.run(&format!(
            "echo \"$1\" > arg\nexec {} -- ./main",
            s6_log.display()
        ));
        let (read, write) = nix::unistd::pipe().unwrap();
        let mut sv = dir.launch(sup).stdin(read).start();
        let mut events = dir.subscribe();
        let mut writer = std::fs::File::from(write);
        writeln!(writer, "first line").unwrap();
        sv.wait_until("the line logged", DEADLINE, |sv| {
            std::fs::read_to_string(sv.dir.path("main/current"))
                .is_ok_and(|c| c.contains("first line"))
        });
        assert_eq!(
            std::fs::read_to_string(dir.path("arg")).unwrap(),
            "svc/log\n"
        );
        sv.signal(Signal::SIGHUP);
        let pid = sv.pid();
        sv.wait_until("fd 0 on /dev/null", DEADLINE, |_| {
            std::fs::read_link(format!("/proc/{pid}/fd/0"))
                .is_ok_and(|p| p == std::path::Path::new("/dev/null"))
        });
        writeln!(writer, "last line").unwrap();
        drop(writer);
        assert_eq!(sv.wait_exit(), Some(0));
        let current = std::fs::read_to_string(dir.path("main/current")).unwrap();
        assert_eq!(current, "first line\nlast line\n");
        assert!(events.text().ends_with("dDx"), "{}", events.text());
    });
    Ok(())
}

/// PROG is `NAME-RUN-AS DIR` with DIR `svc/log`: `s6-supervise svc/log: warning: ...`.
fn a_loggers_warnings_name_its_directory() {
    each_supervisor(&[Supervisor::Ours, Supervisor::Reference], |sup| {
        let dir = ServiceDir::named("svc/log");
        dir.write("timeout-kill", "soon")
            .script("run", "exec sleep 1000");
        let mut sv = dir.start(sup);
        sv.wait_up();
        sv.ctl("d");
        sv.wait_until("the warning", DEADLINE, |sv| {
            sv.stderr() == "s6-supervise svc/log: warning: invalid timeout-kill\n"
        });
    });
}
