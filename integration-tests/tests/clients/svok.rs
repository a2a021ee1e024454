//! `svok` against C `s6-svok` (SUPERVISE.md, "svok"): 0 when a supervisor holds the lock, 1
//! when not, 111 when the check fails, 100 without an operand; no options.

use std::ffi::OsStr;

use common::status::Status;
use integration_tests::Fixture;
use integration_tests::scenario;
use integration_tests::suite::Scenario;

use crate::support::{SLEEPER, Supervised, c_programs, same_as_c, supervisors};

pub const SCENARIOS: &[Scenario] = &[scenario!(
    svok_answers_as_c_for_running_stopped_and_broken_directories
)];

fn svok_answers_as_c_for_running_stopped_and_broken_directories() {
    for sup in supervisors() {
        let fx = Fixture::new();
        fx.script("svc/run", SLEEPER);
        fx.mkdir("plain");
        fx.write("file", "");
        fx.mkdir("stale/supervise");
        fx.write("stale/supervise/lock", "");
        // `svok -x` checks a directory named `-x`: there is none here.
        let mut sv = Supervised::start(&sup, &fx.path("svc"));
        sv.wait_status("up", Status::is_up);
        let cases = [
            ("svc", 0),
            ("plain", 1),
            ("stale", 1),
            ("missing", 1),
            ("-x", 1),
            ("file", 111),
        ];
        for (origin, c) in c_programs("s6-svok") {
            for (name, code) in cases {
                let dir = if name == "-x" {
                    OsStr::new("-x").to_owned()
                } else {
                    fx.path(name).into_os_string()
                };
                let out = same_as_c(
                    "svok",
                    &c,
                    &[&dir],
                    &format!("{name}, {origin:?}, {}", sup.name),
                );
                assert_eq!(out.code, Some(code), "{name}: {out:?}");
            }
            // No operand: usage; extra operands are ignored.
            let out = same_as_c("svok", &c, &[], "no operand");
            assert_eq!(out.code, Some(100));
            let svc = fx.path("svc");
            same_as_c(
                "svok",
                &c,
                &[svc.as_os_str(), OsStr::new("extra")],
                "extra operand",
            );
        }
        // The supervisor gone (its lock with it): not running.
        crate::support::c_svc(&["-xd"], &fx.path("svc"));
        assert!(sv.wait_exit().success());
        for (origin, c) in c_programs("s6-svok") {
            let svc = fx.path("svc");
            let out = same_as_c(
                "svok",
                &c,
                &[svc.as_os_str()],
                &format!("after exit, {origin:?}"),
            );
            assert_eq!(out.code, Some(1));
        }
    }
}
