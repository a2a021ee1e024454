//! The fault suite of svscan: what it survives and how it recovers. Every scenario is bounded
//! in time, acts on processes by pid, and uses the harness of `integration-tests`.

// The steady state (idle, respawn) allocates nothing on the heap.
pub mod alloc;
// Bursts of supervisor kills: respawns, fds, zombies, log lines.
pub mod kills;
// Arbitrary bytes into the control FIFO; random sequences of commands and signals.
pub mod control_input;
// RLIMIT_NPROC and RLIMIT_NOFILE exhaustion, and recovery.
pub mod exhaustion;
// Permissions of the control dir and FIFO, other users, second instances.
pub mod security;
