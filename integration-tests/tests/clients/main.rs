//! The client tools (`svc`, `svstat`, `svok`, `svwait`) and the formats they share with s6,
//! against the C programs (Debian's 2.11, the 2.12 reference), one module per section of
//! SUPERVISE.md. Run by the harness's runner, which counts what did not run.
#![deny(unsafe_code)]

use std::process::ExitCode;

// "Shared formats" and "ftrig": the status file and the fifodir protocol against C.
mod formats;
// Supervisors, C clients, the differential run, guards.
mod support;
// "svc", "svc -w", "The control FIFO": against C s6-svc.
mod svc;
// "svok": against C s6-svok.
mod svok;
// "svstat": against C s6-svstat, and the forms beyond s6.
mod svstat;
// "svwait": against C s6-svwait.
mod svwait;

fn main() -> ExitCode {
    integration_tests::suite::run(&[
        formats::SCENARIOS,
        svc::SCENARIOS,
        svok::SCENARIOS,
        svstat::SCENARIOS,
        svwait::SCENARIOS,
    ])
}
