//! The end-to-end scenarios of svscan's features beyond s6 (issue 11; README, "svscan" and
//! "svscanctl"): acknowledged commands, the live listing, events, the opt-in watch. They run
//! against our svscan only: under `SVSCAN_UNDER_TEST` naming the C s6-svscan each is counted
//! as skipped, except those about how our svscanctl meets the C one.
#![deny(unsafe_code)]

use std::process::ExitCode;

// `svscanctl -w`: each letter, concurrency, unrelated scans, `-T`, the C s6-svscan.
mod wait;
// `svscanctl -l`: against /proc, inactive, throttled, failing, too many, old logger.
mod listing;
// `.s6-svscan/event` with the real s6 tools; clients and subscribers that do not read.
mod events;
// `svscan --watch`: mkdir, symlink, rename, log, removal, idle; past the watch limit, without inotify.
mod watch;
// Running svscanctl, reading -lj, /proc.
mod support;

fn main() -> ExitCode {
    integration_tests::suite::run(&[
        wait::SCENARIOS,
        listing::SCENARIOS,
        events::SCENARIOS,
        watch::SCENARIOS,
    ])
}
