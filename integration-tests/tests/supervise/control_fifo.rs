//! SUPERVISE.md, "supervise" / "The control FIFO" and the "most likely to be got wrong"
//! item 6: "supervise keeps the control FIFO open for reading **and** writing (no EOF spin),
//! reads it non-blocking one byte at a time and silently ignores unknown bytes".

use integration_tests::scenario;
use integration_tests::suite::Scenario;
use std::time::{Duration, Instant};

use integration_tests::service::{Observed, ServiceDir, Supervisor, each_supervisor};

use crate::{OnTerm, sigs, trapping_run, wait_trapping};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(every_other_byte_is_ignored_silently),
    scenario!(letters_are_acted_on_in_order),
    scenario!(the_fifo_is_held_open_both_ways_and_a_closed_client_is_no_wake_up).slow(),
];

/// "The bytes supervise acts on (2.12): `a b q h k t i 1 2 p c y r o d u D U x O Q`;
/// anything else is ignored" — silently: every other byte, NUL and 0xff included, changes
/// nothing and prints nothing; a letter after them is obeyed.
fn every_other_byte_is_ignored_silently() {
    let letters = b"abqhkti12pcyroduDUxOQ";
    let garbage: Vec<u8> = (0..=255u8).filter(|b| !letters.contains(b)).collect();
    assert_eq!(garbage.len(), 256 - 21);
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        let before = sv.status();
        for chunk in garbage.chunks(60) {
            sv.ctl(chunk);
        }
        sv.ctl("O");
        let st = sv.wait_status("O after the garbage", |s| !s.wantup);
        assert_eq!((st.pid(), st.stamp, st.paused), (pid, before.stamp, false));
        assert!(sigs(&dir, "sigs").is_empty(), "{:?}", sigs(&dir, "sigs"));
        assert_eq!(sv.stderr(), "");
    });
}

/// "one byte per command, processed in order": `du` stops then wants up again (the service
/// is restarted after its death); `ud` ends down.
fn letters_are_acted_on_in_order() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        trapping_run(&dir, OnTerm::Exit);
        let mut sv = dir.start(sup);
        let pid = wait_trapping(&mut sv);
        sv.ctl("du");
        let st = sv.wait_status("restarted", |s| s.up() && s.pid() != pid);
        assert!(st.wantup);
        let pid = wait_trapping(&mut sv);
        sv.ctl("ud");
        let st = sv.wait_status("down", |s| s.pid == 0);
        assert!(!st.wantup);
        assert!(!integration_tests::service::alive(pid));
    });
}

/// The FIFO is held open for reading and for writing (two fds on it, one of each), so a
/// client that writes and closes never leaves it readable at EOF: afterwards supervise sleeps
/// in poll, its context switches not moving over an observation window.
fn the_fifo_is_held_open_both_ways_and_a_closed_client_is_no_wake_up() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut sv = dir.start(sup);
        sv.wait_up();
        let pid = sv.pid();
        let fifo = dir.path("supervise/control").canonicalize().unwrap();
        let modes: Vec<u32> = integration_tests::procfs::fds(pid)
            .into_iter()
            .filter(|(_, to)| *to == fifo)
            .map(|(fd, _)| flags(pid, fd) & 3)
            .collect();
        let mut sorted = modes.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [0, 1],
            "{sup:?}: O_RDONLY and O_WRONLY on the FIFO: {modes:?}"
        );
        sv.ctl("O");
        sv.wait_status("O", |s| !s.wantup);
        sv.wait_until("asleep", integration_tests::DEADLINE, |_| {
            integration_tests::procfs::in_poll(pid)
        });
        let before = integration_tests::procfs::context_switches(pid);
        let window = Instant::now() + Duration::from_millis(500);
        while Instant::now() < window {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            integration_tests::procfs::context_switches(pid),
            before,
            "{sup:?} woke up with nothing to do"
        );
    });
}

fn flags(pid: i32, fd: i32) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .unwrap_or(u32::MAX)
}
