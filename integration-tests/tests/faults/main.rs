//! The fault suite of svscan: what it survives and how it recovers. Every scenario is bounded
//! in time, acts on processes by pid, and uses the harness of `integration-tests`.

// The steady state (idle, respawn) allocates nothing on the heap.
mod alloc;
// Bursts of supervisor kills: respawns, fds, zombies, log lines.
mod kills;
// Arbitrary bytes into the control FIFO; random sequences of commands and signals.
mod control_input;
// RLIMIT_NPROC and RLIMIT_NOFILE exhaustion, and recovery.
mod exhaustion;
// Permissions of the control dir and FIFO, other users, second instances.
mod security;
// Acting as another user (setpriv), for the two above.
mod user;
