//! The client tools (`svc`, `svstat`, `svok`, `svwait`) and the formats they share with s6,
//! against the C programs. Each module is one area of SUPERVISE.md.

/// The status file and the ftrig protocol against C (SUPERVISE.md, "Shared formats", "ftrig").
mod formats;
/// Supervisors, C clients, guards.
mod support;
/// svc against C s6-svc (SUPERVISE.md, "svc", "svc -w", "The control FIFO").
mod svc;
/// svok against C s6-svok (SUPERVISE.md, "svok").
mod svok;
/// svstat against C s6-svstat (SUPERVISE.md, "svstat").
mod svstat;
/// svwait against C s6-svwait (SUPERVISE.md, "svwait").
mod svwait;
