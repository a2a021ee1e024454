//! Starting children with `posix_spawn`, never `fork` from a daemon and never
//! `std::process::Command` (SVSCAN.md "The starter"; SUPERVISE.md "Starting run").
//!
//! Every child starts with an **empty signal mask and every disposition reset to the
//! default** (**fix**, SVSCAN.md "The starter" and SUPERVISE.md "The fix rules": C resets only
//! the mask, so a SIG_IGN the daemon inherited reaches every service; and the Rust runtime
//! ignores SIGPIPE before `main`, which `Command` would pass on along with the daemon's
//! blocked signals). supervise also asks for a new session ([`SpawnOptions::setsid`]).
//!
//! A daemon spawns in its steady state, so a spawn makes no heap allocation: the attributes
//! are built once, a child's fd moves are built once and reused while they stay the same
//! (glibc allocates when actions are added), and the argv array lives on the stack.

use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::libc;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

pub use crate::sys::MAX_ARGS;

/// What differs between the daemons' children.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpawnOptions {
    /// Start the child as the leader of a new session (`POSIX_SPAWN_SETSID`): supervise's
    /// `run` and `finish`, so that a signal to their process group stays theirs.
    pub setsid: bool,
}

/// Spawn attributes shared by every child of a daemon: empty mask, default dispositions,
/// and the [`SpawnOptions`]. Built once.
pub struct SpawnAttr {
    attr: PosixSpawnAttr,
    options: SpawnOptions,
    /// The signals not at their default disposition when the attributes were built, for
    /// [`spawn_sharing_fds`].
    reset: libc::sigset_t,
}

impl SpawnAttr {
    /// # Errors
    /// If the C library cannot initialise the attributes (ENOMEM).
    pub fn new(options: SpawnOptions) -> Result<Self, Errno> {
        let mut flags =
            PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF;
        if options.setsid {
            // nix has no name for it; glibc has had it since 2.26.
            flags |= PosixSpawnFlags::from_bits_retain(libc::c_int::from(libc::POSIX_SPAWN_SETSID));
        }
        let mut attr = PosixSpawnAttr::init()?;
        attr.set_flags(flags)?;
        attr.set_sigmask(&SigSet::empty())?;
        attr.set_sigdefault(&crate::sys::every_signal())?;
        Ok(SpawnAttr {
            attr,
            options,
            reset: crate::sys::non_default_signals(),
        })
    }
}

impl std::fmt::Debug for SpawnAttr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpawnAttr")
    }
}

/// One fd action in the child, applied in order before the exec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileAction {
    /// `dup2(from, to)`: the child gets `from` as its fd `to`, without FD_CLOEXEC (also when
    /// `from == to`: POSIX 2024 and glibc since 2.29 clear the flag then), so a CLOEXEC pipe
    /// end passes to the child under any number.
    Dup2 { from: RawFd, to: RawFd },
    /// `close(fd)` in the child.
    Close(RawFd),
}

/// The fd actions of one child, built once and reused: a supervisor respawned with the same
/// actions costs no allocation. Any number of actions.
pub struct FileActions {
    list: Vec<FileAction>,
    actions: PosixSpawnFileActions,
}

impl FileActions {
    /// # Errors
    /// If the C library cannot record the actions (ENOMEM, or EBADF for a negative fd).
    pub fn new(list: &[FileAction]) -> Result<Self, Errno> {
        let mut actions = PosixSpawnFileActions::init()?;
        for &action in list {
            match action {
                FileAction::Dup2 { from, to } => actions.add_dup2(from, to)?,
                FileAction::Close(fd) => actions.add_close(fd)?,
            }
        }
        Ok(FileActions {
            list: list.to_vec(),
            actions,
        })
    }

    /// Whether these are exactly `list`, so that the caller can reuse them.
    #[must_use]
    pub fn is(&self, list: &[FileAction]) -> bool {
        self.list == list
    }
}

impl std::fmt::Debug for FileActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}

/// Starts `path` with `argv` (at most [`MAX_ARGS`]), the inherited environment and the fd
/// `actions`. `path` is used as is (no PATH search). Makes no heap allocation.
///
/// # Errors
/// E2BIG for too many arguments; the errno of the failed spawn, including exec failures
/// (ENOENT, ENOEXEC, EACCES), which glibc reports through `posix_spawn`'s return value.
pub fn spawn(
    attr: &SpawnAttr,
    path: &CStr,
    argv: &[&CStr],
    actions: Option<&FileActions>,
) -> Result<Pid, Errno> {
    crate::sys::posix_spawn(&attr.attr, path, argv, actions.map(|fa| &fa.actions))
}

/// As [`spawn`] with no fd actions, for a daemon that holds many descriptors, every one from
/// `close_from` up CLOEXEC: the child starts with none of those, like after the exec of
/// [`spawn`], and the same mask, dispositions and session; but the spawn costs nothing per
/// descriptor held. posix_spawn copies the whole fd table into the child, whose exec then
/// closes each CLOEXEC descriptor: twice the descriptors' count in work on every spawn, which
/// made a cold start quadratic (svscan holds two pipe ends per logged pair). Here the child
/// shares the parent's table (CLONE_VFORK with CLONE_FILES) until it unshares it keeping only
/// the numbers below `close_from` (`close_range` with CLOSE_RANGE_UNSHARE); no descriptor is
/// moved, so what the child gets on fds 0-2 is what the parent has there.
///
/// The child resets the dispositions that were not the default when `attr` was built (exec
/// resets handlers; SIG_IGN stays): so build `attr` once the daemon's dispositions are final.
///
/// # Errors
/// E2BIG for too many arguments; the errno of the failed spawn (ENOENT, ENOEXEC, EACCES from
/// the exec, which happened in the child).
pub fn spawn_sharing_fds(
    attr: &SpawnAttr,
    path: &CStr,
    argv: &[&CStr],
    close_from: RawFd,
) -> Result<Pid, Errno> {
    let empty = SigSet::empty();
    crate::sys::spawn_sharing_fds(
        path,
        argv,
        &attr.reset,
        empty.as_ref(),
        attr.options.setsid,
        close_from,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, OwnedFd};

    use nix::fcntl::OFlag;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::pipe2;

    /// Runs the argv and actions that `setup(w)` gives for `w`, the write end of a pipe, and
    /// returns the child's pid and what it wrote there, once it exited 0.
    fn run(
        options: SpawnOptions,
        setup: impl FnOnce(RawFd) -> (Vec<CString>, Vec<FileAction>),
    ) -> (Pid, String) {
        let (read, write): (OwnedFd, OwnedFd) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let (argv, list) = setup(write.as_raw_fd());
        let argv: Vec<&CStr> = argv.iter().map(CString::as_c_str).collect();
        let actions = FileActions::new(&list).unwrap();
        assert!(actions.is(&list));
        let attr = SpawnAttr::new(options).unwrap();
        let pid = spawn(&attr, argv[0], &argv, Some(&actions)).unwrap();
        drop(write);
        let out = std::io::read_to_string(std::fs::File::from(read)).unwrap();
        assert_eq!(waitpid(pid, None), Ok(WaitStatus::Exited(pid, 0)));
        (pid, out)
    }

    /// [`run`] with the pipe as stdout and as each of `extra`.
    fn output(options: SpawnOptions, argv: &[&CStr], extra: &[RawFd]) -> (Pid, String) {
        run(options, |w| {
            let argv = argv.iter().map(|&a| a.to_owned()).collect();
            let moves = std::iter::once(1)
                .chain(extra.iter().copied())
                .map(|to| FileAction::Dup2 { from: w, to })
                .collect();
            (argv, moves)
        })
    }

    fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
    }

    #[test]
    fn children_start_with_an_empty_mask_and_no_ignored_signal() {
        // This test process ignores SIGPIPE (the Rust runtime does): the child must not.
        let (_, status) = output(
            SpawnOptions::default(),
            &[c"/bin/cat", c"/proc/self/status"],
            &[],
        );
        assert_eq!(status_field(&status, "SigBlk:"), "0000000000000000");
        // glibc's internal signals 32 and 33 included: its posix_spawn child ignores them
        // unless the set to reset names them (sys::every_signal).
        assert_eq!(status_field(&status, "SigIgn:"), "0000000000000000");
    }

    /// The session id of the process whose `/proc/PID/stat` is `stat` (field 6).
    fn session(stat: &str) -> i32 {
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        after_comm.split(' ').nth(3).unwrap().parse().unwrap()
    }

    #[test]
    fn setsid_makes_the_child_a_session_leader_and_only_when_asked() {
        let argv = [c"/bin/cat", c"/proc/self/stat"];
        let (pid, stat) = output(SpawnOptions { setsid: true }, &argv, &[]);
        assert_eq!(session(&stat), pid.as_raw());
        let (pid, stat) = output(SpawnOptions { setsid: false }, &argv, &[]);
        assert_ne!(session(&stat), pid.as_raw());
        assert_eq!(session(&stat), nix::unistd::getsid(None).unwrap().as_raw());
    }

    #[test]
    fn any_number_of_moves_reach_the_child_on_the_numbers_asked() {
        let script = c"echo one; echo five >&5; echo eight >&8; echo nine >&9";
        let argv = [c"/bin/sh", c"-c", script];
        let (_, out) = output(SpawnOptions::default(), &argv, &[5, 8, 9]);
        assert_eq!(out, "one\nfive\neight\nnine\n");
    }

    #[test]
    fn a_cloexec_fd_moved_onto_its_own_number_is_inherited() {
        // supervise's notification fd may be any number, the pipe end's own included. The
        // pipe is the child's only way out: its stdout is not moved.
        let (_, out) = run(SpawnOptions::default(), |w| {
            // Through /dev/fd: `sh` takes one digit after `>&`, and a test run may hold more fds.
            let script = CString::new(format!("echo ready >/dev/fd/{w}")).unwrap();
            let argv = vec![c"/bin/sh".into(), c"-c".into(), script];
            (argv, vec![FileAction::Dup2 { from: w, to: w }])
        });
        assert_eq!(out, "ready\n");
    }

    #[test]
    fn a_close_action_closes_in_the_child_only() {
        let script = c"echo out; { echo seven >&7; } 2>/dev/null; true";
        let (_, out) = run(SpawnOptions::default(), |w| {
            let argv = vec![c"/bin/sh".into(), c"-c".into(), script.into()];
            let actions = vec![
                FileAction::Dup2 { from: w, to: 1 },
                FileAction::Dup2 { from: w, to: 7 },
                FileAction::Close(7),
            ];
            (argv, actions)
        });
        assert_eq!(out, "out\n");
    }

    #[test]
    fn file_actions_are_the_same_only_for_the_same_list_in_the_same_order() {
        let a = FileAction::Dup2 { from: 5, to: 1 };
        let b = FileAction::Dup2 { from: 6, to: 0 };
        let actions = FileActions::new(&[a, b]).unwrap();
        assert!(actions.is(&[a, b]));
        assert!(!actions.is(&[b, a]));
        assert!(!actions.is(&[a]));
        assert!(!actions.is(&[a, b, FileAction::Close(5)]));
    }

    /// Runs `script` with `sh -c` through [`spawn_sharing_fds`], with the write end of a pipe
    /// inherited (not CLOEXEC) as fd `$W`, below `close_from` (written through `/dev/fd/$W`:
    /// `sh` takes one digit after `>&`); returns its pid and output.
    fn run_sharing(options: SpawnOptions, script: &str, extra_cloexec: usize) -> (Pid, String) {
        let (read, write): (OwnedFd, OwnedFd) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let inherited = nix::unistd::dup(&write).unwrap();
        drop(write);
        let w = inherited.as_raw_fd();
        // CLOEXEC descriptors above it, as a daemon holds: none may reach the child.
        let held: Vec<OwnedFd> = (0..extra_cloexec)
            .map(|_| {
                nix::fcntl::open(
                    "/",
                    OFlag::O_PATH | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .unwrap()
            })
            .collect();
        let script = CString::new(script.replace("$W", &w.to_string())).unwrap();
        let argv = [c"/bin/sh", c"-c", script.as_c_str()];
        let attr = SpawnAttr::new(options).unwrap();
        let pid = spawn_sharing_fds(&attr, argv[0], &argv, w + 1).unwrap();
        drop(inherited);
        let out = std::io::read_to_string(std::fs::File::from(read)).unwrap();
        assert_eq!(waitpid(pid, None), Ok(WaitStatus::Exited(pid, 0)));
        for fd in &held {
            assert!(
                crate::sys::check_fd(fd.as_raw_fd()).is_ok(),
                "the parent keeps its fds"
            );
        }
        (pid, out)
    }

    #[test]
    fn a_child_sharing_the_fd_table_starts_clean_and_leaves_the_parent_as_it_was() {
        let (_, status) = run_sharing(
            SpawnOptions::default(),
            "cat /proc/self/status >/dev/fd/$W; ls /proc/self/fd >/dev/fd/$W",
            200,
        );
        assert_eq!(status_field(&status, "SigBlk:"), "0000000000000000");
        // glibc's internal signals 32 and 33 included, which this test process may have
        // inherited ignored (cargo starts it with glibc's posix_spawn).
        assert_eq!(status_field(&status, "SigIgn:"), "0000000000000000");
        let fds: Vec<i32> = status
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        // 0-2, the inherited pipe end, and ls's own directory fd: nothing held above.
        assert!(fds.iter().all(|&fd| fd < 64), "{fds:?}");
    }

    #[test]
    fn a_child_sharing_the_fd_table_gets_its_session_when_asked() {
        let (pid, stat) = run_sharing(
            SpawnOptions { setsid: true },
            "cat /proc/self/stat >/dev/fd/$W",
            0,
        );
        assert_eq!(session(&stat), pid.as_raw());
        let (pid, stat) = run_sharing(
            SpawnOptions::default(),
            "cat /proc/self/stat >/dev/fd/$W",
            0,
        );
        assert_ne!(session(&stat), pid.as_raw());
    }

    #[test]
    fn a_child_sharing_the_fd_table_reports_a_failed_exec_and_is_reaped() {
        let attr = SpawnAttr::new(SpawnOptions::default()).unwrap();
        let mask = nix::sys::signal::SigSet::thread_get_mask().unwrap();
        let missing = c"/nonexistent/program";
        assert_eq!(
            spawn_sharing_fds(&attr, missing, &[missing], 3),
            Err(Errno::ENOENT)
        );
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, "\x7fELF-not-really").unwrap();
        let garbage = CString::new(garbage.into_os_string().into_encoded_bytes()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |m| std::fs::set_permissions(garbage.to_str().unwrap(), PermissionsExt::from_mode(m));
        mode(0o755).unwrap();
        assert_eq!(
            spawn_sharing_fds(&attr, &garbage, &[&garbage], 3),
            Err(Errno::ENOEXEC)
        );
        assert_eq!(
            nix::sys::signal::SigSet::thread_get_mask().unwrap(),
            mask,
            "the parent's mask is restored"
        );
        let argv = [c"/bin/true"; MAX_ARGS + 1];
        assert_eq!(
            spawn_sharing_fds(&attr, argv[0], &argv, 3),
            Err(Errno::E2BIG)
        );
    }

    #[test]
    fn the_inherited_descriptors_end_below_every_cloexec_one() {
        let from = crate::sys::first_fd_above_inherited();
        let plain = nix::unistd::dup(std::io::stderr()).unwrap();
        assert!(crate::sys::first_fd_above_inherited() > plain.as_raw_fd());
        drop(plain);
        assert!(from >= 3);
    }

    #[test]
    fn a_missing_program_is_enoent_and_too_many_arguments_e2big() {
        let attr = SpawnAttr::new(SpawnOptions::default()).unwrap();
        let missing = c"/nonexistent/program";
        assert_eq!(spawn(&attr, missing, &[missing], None), Err(Errno::ENOENT));
        let argv = [c"/bin/true"; MAX_ARGS + 1];
        assert_eq!(spawn(&attr, argv[0], &argv, None), Err(Errno::E2BIG));
        let pid = spawn(&attr, argv[0], &argv[..MAX_ARGS], None).unwrap();
        assert_eq!(waitpid(pid, None), Ok(WaitStatus::Exited(pid, 0)));
    }
}
