//! The container recipe of the README (`demo/container/`) end to end: its scan directory run
//! as a container runs it, svscan as PID 1 of a new PID namespace (`unshare --pid --fork
//! --mount-proc`), with our programs under their s6 names in PATH as `make install
//! S6_NAMES=1` puts them. What the image build itself does (the Dockerfile) is not run here.
#![deny(unsafe_code)]

use std::process::ExitCode;

// `demo/container/service`: the main service's exit code passes out, and a SIGTERM from
// outside stops the container.
mod recipe;

fn main() -> ExitCode {
    integration_tests::suite::run(&[recipe::SCENARIOS])
}
