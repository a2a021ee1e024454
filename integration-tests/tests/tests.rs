//! The end-to-end scenarios of svscan, one module per area. See the harness's crate doc
//! (`integration-tests/src/lib.rs`) for how to write one, and for running them against the C
//! s6-svscan (`SVSCAN_UNDER_TEST=/usr/bin/s6-svscan`). The stub's own checks live in the
//! `supervise-stub` crate; the fault suite is the `faults` test target.

// Start-up: readiness notification, control directory.
mod startup;
// The scanner and the starter: pairs, their pipe, what a supervisor is given, rescans.
mod scan;
// The scanner's rules in depth: names, links, identity, limits, retries, the fixes.
mod scan_rules;
// Logged pairs: the pipe svscan holds across restarts.
mod logger;
// Supervision: respawn, inactive entries, the prune commands.
mod supervision;
// Leaving the loop: who is killed with what, and svscan's exit.
mod teardown;
// Signals: the builtin table, `.s6-svscan/SIG*` programs, finish and crash.
mod signals;
// svscan as PID 1 of a PID namespace.
mod pid1;
// With Debian's real s6 programs instead of the stub.
mod interop;
