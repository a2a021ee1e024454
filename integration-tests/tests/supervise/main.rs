//! supervise end to end (SUPERVISE.md, section "supervise", and the shared formats it
//! writes), one module per section of the spec. Each scenario runs over a list of
//! supervisors ([`integration_tests::service::each_supervisor`]): ours, the C 2.12.0.4
//! reference (the contract) and Debian's 2.11, where the rule is theirs too; where C 2.12 has
//! a bug the spec marks **fix**, the scenario runs on ours (and, where it shows the bug
//! cheaply, asserts it on the reference); where 2.11 differs, the test says why. The real C
//! clients (`s6-svc`, `s6-svstat`, `s6-svwait`, ...) drive and observe ours.

// "Command line": operands, usage, chdir, PROG.
mod command_line;
// "Start-up, in this order": the directories, the lock, the FIFO, the first status.
mod startup;
