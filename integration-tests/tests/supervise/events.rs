//! SUPERVISE.md, "supervise" / "Events published on event/": each byte at its moment, after
//! its status write, and nothing for control letters.

use integration_tests::scenario;
use integration_tests::service::{Observed, ServiceDir, Supervisor, each_supervisor};
use integration_tests::suite::Scenario;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(a_whole_life_publishes_s_u_big_u_d_big_d_x_each_after_its_status),
    scenario!(control_letters_publish_nothing),
    scenario!(the_status_file_is_replaced_never_written_in_place),
];

/// The table: `s` at start-up, `u` at the spawn, `U` at readiness, `d` when finish is
/// spawned, `D` when it dies, `x` at the exit; "after the status write": a subscriber that
/// reads the status file on each event sees the new state.
fn a_whole_life_publishes_s_u_big_u_d_big_d_x_each_after_its_status() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("echo >&3\nwhile [ ! -e stop ]; do sleep 0.02; done")
            .write("notification-fd", "3")
            .finish("true");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        let mut seen = 0;
        let mut check = |events: &mut integration_tests::service::Events, want: &str| {
            let got = events.wait_contains(want);
            let st = dir.status().unwrap();
            match *got.last().unwrap() {
                // Readiness may already have followed.
                b'u' => assert!(st.up(), "u: {st:?}"),
                b'U' => assert!(st.up() && st.ready, "U: {st:?}"),
                b'd' => assert!(st.finishing || st.pid == 0, "d: {st:?}"),
                b'D' => assert!(st.pid == 0 && st.ready, "D: {st:?}"),
                _ => {}
            }
            seen = got.len();
        };
        check(&mut events, "s");
        check(&mut events, "su");
        check(&mut events, "suU");
        sv.ctl("O");
        dir.write("stop", "");
        check(&mut events, "suUd");
        check(&mut events, "suUdD");
        sv.ctl("x");
        assert_eq!(sv.wait_exit(), Some(0));
        assert_eq!(events.text(), "suUdDx");
        assert_eq!(seen, 5);
    });
}

/// "Nothing is published for control letters themselves (`-O`, `-p`, …: status write
/// only)".
fn control_letters_publish_nothing() {
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut events = dir.watch();
        let mut sv = dir.start(sup);
        events.wait_contains("su");
        events.clear();
        sv.ctl("pcOu");
        sv.wait_status("the letters acted on", |s| s.wantup && !s.paused);
        sv.ctl("Q");
        sv.wait_status("Q acted on", |s| !s.wantup);
        assert_eq!(events.text(), "");
    });
}

/// "The status file is written **atomically**: `supervise/status.new` then `rename` (never
/// written in place)": each write is a new file (a new inode), and no `status.new` is left.
fn the_status_file_is_replaced_never_written_in_place() {
    use std::os::unix::fs::MetadataExt;
    each_supervisor(&Supervisor::ALL, |sup| {
        let dir = ServiceDir::new();
        dir.run("exec sleep 1000");
        let mut sv = dir.start(sup);
        sv.wait_up();
        let inode = |d: &ServiceDir| std::fs::metadata(d.path("supervise/status")).unwrap().ino();
        let before = inode(&dir);
        sv.ctl("p");
        sv.wait_status("paused", |s| s.paused);
        assert_ne!(inode(&dir), before, "{sup:?}: written in place");
        assert!(!dir.path("supervise/status.new").exists());
        assert_eq!(
            std::fs::metadata(dir.path("supervise/status"))
                .unwrap()
                .len(),
            35
        );
    });
}
