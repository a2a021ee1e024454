//! supervise end to end (SUPERVISE.md, section "supervise", and the shared formats it
//! writes), one module per section of the spec. Each scenario runs over a list of
//! supervisors ([`integration_tests::service::each_supervisor`]): ours, the C 2.12.0.4
//! reference (the contract) and Debian's 2.11, where the rule is theirs too; where C 2.12 has
//! a bug the spec marks **fix**, the scenario runs on ours (and, where it shows the bug
//! cheaply, asserts it on the reference); where 2.11 differs, the test says why. The real C
//! clients (`s6-svc`, `s6-svstat`, `s6-svwait`, ...) drive and observe ours.
#![deny(unsafe_code)]

// "Command line": operands, usage, chdir, PROG.
mod command_line;
// "Start-up, in this order": the directories, the lock, the FIFO, the first status.
mod startup;
// "The transition table": every input in every state.
mod transitions;
// "Starting run": the spawn, lock-fd, notification-fd, what children get.
mod starting_run;
// "Readiness": the notification pipe.
mod readiness;
// "Death of run", "Death of finish", the throttle, and `supervise/death_tally`.
mod deaths;
// "Events published on event/".
mod events;
// "The control FIFO".
mod control_fifo;
// "Files in the service directory read by supervise".
mod service_files;
// The real C clients (Debian's and the 2.12 reference's) driving and reading ours.
mod interop;
// "As NAME/log (logger) vs plain".
mod logger;
// Zero heap allocation in the steady state.
mod alloc;
// What supervise survives: exhaustion, unwritable files, forking services, long runs.
mod reliability;

use std::process::ExitCode;

use integration_tests::DEADLINE;
use integration_tests::service::{ServiceDir, Supervised};

fn main() -> ExitCode {
    integration_tests::suite::run(&[
        command_line::SCENARIOS,
        startup::SCENARIOS,
        transitions::SCENARIOS,
        starting_run::SCENARIOS,
        readiness::SCENARIOS,
        deaths::SCENARIOS,
        events::SCENARIOS,
        control_fifo::SCENARIOS,
        service_files::SCENARIOS,
        interop::SCENARIOS,
        logger::SCENARIOS,
        alloc::SCENARIOS,
        reliability::SCENARIOS,
    ])
}

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

/// A field of `/proc/PID/status` (`SigIgn`, `SigBlk`, ...), as a number (hex fields).
pub fn proc_status_hex(pid: i32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
}

/// The fd numbers `pid` has open.
pub fn fd_numbers(pid: i32) -> Vec<i32> {
    integration_tests::procfs::fds(pid)
        .into_iter()
        .map(|(fd, _)| fd)
        .collect()
}

/// The session and process group of `pid`.
pub fn sid_pgid(pid: i32) -> (i32, i32) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<i32> = rest
        .split_whitespace()
        .skip(2)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    (
        f.get(1).copied().unwrap_or(0),
        f.first().copied().unwrap_or(0),
    )
}

/// The holder of a write lock on `path`, by F_GETLK: its pid, or `None` if unlocked.
pub fn lock_holder(path: &std::path::Path) -> Option<i32> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
    let fd = open(
        path,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let mut fl = whole_file_lock(nix::libc::F_RDLCK);
    fcntl(&fd, FcntlArg::F_GETLK(&mut fl)).ok()?;
    (i32::from(fl.l_type) == nix::libc::F_WRLCK).then_some(fl.l_pid)
}

/// A whole-file `flock` struct of this type.
pub fn whole_file_lock(kind: i32) -> nix::libc::flock {
    nix::libc::flock {
        l_type: kind as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// Whether `pid` is `sleep` asleep in its system call: past its start-up, which opens (and
/// closes) locale files, so that its fds are the ones it was given.
pub fn sleeping(pid: i32) -> bool {
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    // x86_64: nanosleep, clock_nanosleep.
    cmdline.starts_with("sleep\0")
        && matches!(syscall.split_whitespace().next(), Some("35" | "230"))
}
