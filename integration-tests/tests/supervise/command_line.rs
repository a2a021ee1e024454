//! SUPERVISE.md, "supervise" / "Command line".

use integration_tests::scenario;
use integration_tests::service::{ServiceDir, Supervisor, each_supervisor};
use integration_tests::suite::Scenario;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(no_operand_is_the_usage_line_and_exit_100),
    scenario!(a_directory_that_cannot_be_entered_is_fatal_111),
    scenario!(the_first_operand_is_the_directory_even_when_it_looks_like_an_option),
    scenario!(extra_operands_are_ignored),
    scenario!(warnings_carry_the_name_run_as_and_the_directory),
];

/// "Usage (exact): `s6-supervise dir` (ours: `supervise dir`). Fewer than one operand: usage,
/// exit 100": PROG and the usage line are the name we were run as.
fn no_operand_is_the_usage_line_and_exit_100() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        let mut sv = dir.launch(sup).operand(None).no_wait().start();
        assert_eq!(sv.wait_exit(), Some(100));
        assert_eq!(sv.stderr(), "s6-supervise: usage: s6-supervise dir\n");
    });
    let dir = ServiceDir::new();
    let mut sv = dir
        .launch(Supervisor::Ours)
        .argv0("/usr/local/bin/supervise")
        .operand(None)
        .no_wait()
        .start();
    assert_eq!(sv.wait_exit(), Some(100));
    assert_eq!(sv.stderr(), "supervise: usage: supervise dir\n");
}

/// "`chdir(dir)` failure: fatal 111 `unable to chdir to DIR: ERR`", with the bare PROG
/// (before the chdir).
fn a_directory_that_cannot_be_entered_is_fatal_111() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        let mut sv = dir.launch(sup).operand(Some("nowhere")).no_wait().start();
        assert_eq!(sv.wait_exit(), Some(111));
        assert_eq!(
            sv.stderr(),
            "s6-supervise: fatal: unable to chdir to nowhere: No such file or directory\n"
        );
    });
}

/// "Extra operands are ignored; no options are parsed (`-x` would be a directory name)":
/// `-x` is supervised as a service directory, and run gets it as `$1`.
fn the_first_operand_is_the_directory_even_when_it_looks_like_an_option() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::named("-x");
        dir.run(r#"echo "$1" > arg; exec sleep 1000"#);
        let mut sv = dir.launch(sup).operand(Some("-x")).start();
        sv.wait_up();
        sv.wait_until(
            "run's argument recorded",
            integration_tests::DEADLINE,
            |sv| std::fs::read_to_string(sv.dir.path("arg")).is_ok_and(|a| a == "-x\n"),
        );
    });
}

/// "Extra operands are ignored": `svc extra -x` supervises `svc` alone, run gets `svc` as
/// its only argument, PROG is `s6-supervise svc`, and `extra` (a service directory too) is
/// left alone.
fn extra_operands_are_ignored() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run(r#"echo "$#:$*" > args; exec sleep 1000"#)
            .write("notification-fd", "junk");
        std::fs::create_dir(dir.tmp().join("extra")).unwrap();
        dir.script("../extra/run", "exec sleep 1000");
        let mut sv = dir.launch(sup).extra_operands(&["extra", "-x"]).start();
        sv.wait_up();
        sv.wait_until(
            "run's arguments recorded",
            integration_tests::DEADLINE,
            |sv| sv.dir.has_line("args"),
        );
        assert_eq!(
            std::fs::read_to_string(dir.path("args")).unwrap(),
            "1:svc\n"
        );
        assert_eq!(
            sv.stderr(),
            "s6-supervise svc: warning: invalid notification-fd\n"
        );
        assert!(!dir.tmp().join("extra/supervise").exists());
        assert!(!dir.tmp().join("extra/event").exists());
    });
}

/// "PROG being the name we were run as ... after the chdir it is `NAME-RUN-AS DIR`, so
/// warnings read `supervise foo/log: warning: …`": ours run as `supervise` on `svc/log`.
/// (C hard-codes `s6-supervise` whatever its argv[0], which is how svscan runs it.)
fn warnings_carry_the_name_run_as_and_the_directory() {
    let dir = ServiceDir::named("svc/log");
    let mut sv = dir.launch(Supervisor::Ours).argv0("./supervise").start();
    sv.wait_until("the spawn warning", integration_tests::DEADLINE, |sv| {
        !sv.stderr().is_empty()
    });
    assert_eq!(
        sv.stderr(),
        "supervise svc/log: warning: unable to spawn ./run (waiting 60 seconds): No such file or directory\n"
    );
}
