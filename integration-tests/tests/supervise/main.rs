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
// "The transition table": every input in every state.
mod transitions;

use integration_tests::DEADLINE;
use integration_tests::service::{ServiceDir, Supervised};

/// What a [`trapping_run`] service does on SIGTERM.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnTerm {
    Exit,
    Ignore,
}

/// A run script that writes its pid to `pid`, appends the name of each signal it gets to
/// `sigs` (one per line) and keeps running; on SIGTERM it exits 0 or carries on.
pub fn trapping_run(dir: &ServiceDir, on_term: OnTerm) {
    let term = match on_term {
        OnTerm::Exit => "trap 'echo TERM >> sigs; exit 0' TERM",
        OnTerm::Ignore => "trap 'echo TERM >> sigs' TERM",
    };
    dir.run(&format!(
        "for s in HUP INT QUIT USR1 USR2 ALRM ABRT WINCH CONT; do trap \"echo $s >> sigs\" $s; done\n\
         {term}\n\
         echo $$ > pid\n\
         while :; do sleep 1000 & wait $!; done"
    ));
}

/// The signals a [`trapping_run`] service recorded.
pub fn sigs(dir: &ServiceDir, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.path(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until the service recorded `sig` in `file` (`sigs`, or `fsigs` for finish).
pub fn wait_sig(sv: &mut Supervised<'_>, file: &str, sig: &str) {
    let dir = sv.dir;
    sv.wait_until(&format!("{sig} recorded in {file}"), DEADLINE, |_| {
        sigs(dir, file).iter().any(|s| s == sig)
    });
}

/// Waits until a [`trapping_run`] service has set its traps (it writes `pid` after them).
pub fn wait_trapping(sv: &mut Supervised<'_>) -> i32 {
    let pid = sv.wait_up();
    let dir = sv.dir;
    sv.wait_until("run's traps set", DEADLINE, |_| {
        std::fs::read_to_string(dir.path("pid")).is_ok_and(|p| p.trim() == pid.to_string())
    });
    pid
}
