//! The end-to-end scenarios of svscan, one module per area. See the harness's crate doc
//! (`integration-tests/src/lib.rs`) for how to write one, and for running them against the C
//! s6-svscan (`SVSCAN_UNDER_TEST=/usr/bin/s6-svscan`).

// Start-up: readiness notification, control directory.
mod startup;
// The scanner and the starter: pairs, their pipe, what a supervisor is given, rescans.
mod scan;
// Logged pairs: the pipe svscan holds across restarts.
mod logger;
// Leaving the loop: who is killed with what, and svscan's exit.
mod teardown;
// With Debian's real s6 programs instead of the stub.
mod interop;
