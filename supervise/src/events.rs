//! The events supervise publishes on its fifodir `event/` (SUPERVISE.md, "Events published
//! on event/"), for `s6-svwait`, `s6-svlisten1` and `s6-svc -w`: one byte each, or two in
//! one write where the contract says so. Each is published after the status write that goes
//! with it, so a subscriber that reads the status on an event sees the new state.
//! Publication errors are ignored.
#![forbid(unsafe_code)]

use std::path::Path;

use common::ftrig::{self, EVENT_DIR};

/// Start-up, once.
pub const START: &[u8] = b"s";
/// run (or the lock-fd helper) spawned.
pub const UP: &[u8] = b"u";
/// The readiness line received.
pub const READY_UP: &[u8] = b"U";
/// run died and finish was spawned.
pub const DOWN: &[u8] = b"d";
/// run died and there is no finish.
pub const DOWN_AND_READY: &[u8] = b"dD";
/// finish died.
pub const READY: &[u8] = b"D";
/// finish exited 125: a permanent failure.
pub const PERMANENT_FAILURE_AND_READY: &[u8] = b"OD";
/// supervise leaves its loop: the last thing before exit 0.
pub const EXIT: &[u8] = b"x";

/// Publishes `bytes` to every subscriber (one write each).
pub fn publish(bytes: &[u8]) {
    let _ = ftrig::notify(Path::new(EVENT_DIR), bytes);
}
