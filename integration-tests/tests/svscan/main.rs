//! The end-to-end scenarios of svscan and svscanctl, one module per section of the spec
//! (`spec/SVSCAN.md`), so that a rule's test is found where the rule is; and the fault suite.
//! The harness's crate doc (`integration-tests/src/lib.rs`) tells how to write one, and how
//! they run against the C s6-svscan (`SVSCAN_UNDER_TEST=/usr/bin/s6-svscan`), where a
//! scenario that cannot run says so and is counted as skipped.
#![deny(unsafe_code)]

use std::process::ExitCode;

// "svscan command line": usage, `-d`/`-X` checks, `-C`, `-c`, `-L`, `-t`.
mod command_line;
// "Start-up": the control directory, the lock, the FIFO, the readiness newline.
mod startup;
// "Control FIFO bytes", and the pending flags they OR together.
mod control;
// "Signals": the builtin table and `.s6-svscan/SIGNAME` programs.
mod signals;
// "The scanner": names, identity, `NAME/log`, abandoned scans, limits.
mod scanner;
// "The starter": what a supervisor gets, and the respawn throttle.
mod starter;
// "The reaper": dead children, active and inactive entries.
mod reaper;
// "The killer": who gets which signal, held-back kills, `s6-svscan-log`.
mod killer;
// "Exit": leaving the loop, the finish phase, the crash path.
mod exit;
// "svscanctl": ours against a FIFO the test reads, and against Debian's s6-svscan.
mod svscanctl;
// svscan with Debian's real s6 programs instead of the stub.
mod interop;
// svscan as PID 1 of a PID namespace.
mod pid1;
// What the performance shortcuts (the scanner's proofs, the spawn) must not change.
mod shortcuts;
// What svscan survives and how it recovers: kill bursts, adversarial input, exhaustion.
mod faults;
// Setups and checks several of the sections above share.
mod shared;

fn main() -> ExitCode {
    integration_tests::suite::run(&[
        command_line::SCENARIOS,
        startup::SCENARIOS,
        control::SCENARIOS,
        signals::SCENARIOS,
        scanner::SCENARIOS,
        starter::SCENARIOS,
        reaper::SCENARIOS,
        killer::SCENARIOS,
        exit::SCENARIOS,
        svscanctl::SCENARIOS,
        interop::SCENARIOS,
        pid1::SCENARIOS,
        shortcuts::SCENARIOS,
        faults::alloc::SCENARIOS,
        faults::kills::SCENARIOS,
        faults::control_input::SCENARIOS,
        faults::exhaustion::SCENARIOS,
        faults::security::SCENARIOS,
    ])
}
