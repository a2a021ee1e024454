//! svscan with Debian's real s6 programs in place of the stub.

use integration_tests::{DEADLINE, Fixture, procfs, real_s6};

/// "Started as `s6-supervise NAME` in the scan dir. It supervises the service dir NAME
/// (running `NAME/run` ...)": the real s6-supervise runs the service under svscan, and
/// `t` brings the whole tree down.
#[test]
fn real_s6_supervise_runs_the_service_and_t_brings_it_down() {
    let Some(supervise) = real_s6("s6-supervise") else {
        return;
    };
    let fx = Fixture::new();
    fx.script("a/run", "#!/bin/sh\nexec sleep 1000\n");
    let mut sv = fx.svscan().supervise(&supervise).start();
    let svscan = sv.pid();
    let mut service = None;
    sv.wait_until("a's run script running under svscan", DEADLINE, |_| {
        service = procfs::descendants(svscan)
            .into_iter()
            .map(|(p, _)| p)
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.starts_with("sleep\0"))
            });
        service.is_some()
    });
    assert!(
        fx.path("a/supervise/status").is_file(),
        "s6-supervise keeps its state in a/supervise"
    );
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let service = service.unwrap();
    sv.wait_until("the service to be gone", DEADLINE, |_| {
        !procfs::is_alive(service)
    });
}

/// The harness's own promise, checked where it is hardest: s6-supervise runs its service in a
/// session of its own, out of svscan's process group, and the guard still kills it on drop.
#[test]
fn dropping_the_guard_kills_a_service_outside_svscans_process_group() {
    let Some(supervise) = real_s6("s6-supervise") else {
        return;
    };
    let fx = Fixture::new();
    fx.script("a/run", "#!/bin/sh\nexec sleep 1000\n");
    let mut sv = fx.svscan().supervise(&supervise).start();
    let svscan = sv.pid();
    let mut service = None;
    sv.wait_until("a's run script running under svscan", DEADLINE, |_| {
        service = procfs::descendants(svscan)
            .into_iter()
            .map(|(p, _)| p)
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.starts_with("sleep\0"))
            });
        service.is_some()
    });
    let service = service.unwrap();
    let pgid = std::fs::read_to_string(format!("/proc/{service}/stat")).unwrap();
    assert_ne!(
        pgid.rsplit(')').next().unwrap().split_whitespace().nth(2),
        Some(svscan.to_string().as_str())
    );
    drop(sv);
    integration_tests::wait_until("the service to be gone", DEADLINE, || {
        !procfs::is_alive(service)
    });
}
