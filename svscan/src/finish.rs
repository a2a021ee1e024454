//! Leaving (spec, "Exit"): the finish phase after the loop, and the crash path for errors
//! svscan cannot recover from.
//!
//! The finish phase closes svscan's pipe ends **before** waiting for the supervisors: a
//! logger drains its pipe to EOF before it exits, and EOF comes only once every writer,
//! svscan included, is gone; the other order deadlocks.

use common::diag::SysErr;
use common::{CRASH_PROG, FINISH_PROG, fatal};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{dup2_stderr, dup2_stdout, execv};

use crate::daemon::Svscan;
use crate::{signals, sys};

impl Svscan {
    /// The finish phase, then exec `.s6-svscan/finish` (exit 0 if there is none).
    pub fn finish(mut self) -> ! {
        self.table.close_pipes();
        if self.special_created {
            // The catch-all logger reads svscan's own output, and it is going away.
            silence_stdout_stderr();
        }
        self.restore_console();
        if self.wait_all {
            self.wait_for_all();
        }
        self.drop_pending_signals();
        signals::unblock_all();
        sys::default_sigpipe();
        match execv(FINISH_PROG, &[FINISH_PROG]) {
            Err(Errno::ENOENT) => std::process::exit(0),
            Err(e) => crash_exec(
                format_args!("exec finish script {}", FINISH_PROG.to_string_lossy()),
                e,
            ),
        }
    }

    /// The crash path: restore the console and the signals, then exec `.s6-svscan/crash`.
    pub fn crash(&mut self, step: &str, e: Errno) -> ! {
        self.publish(crate::events::LEAVING);
        self.drop_pending_signals();
        signals::unblock_all();
        self.restore_console();
        crash_exec(format_args!("{step}"), e)
    }

    /// Gives fd 2 back to the console holder and makes fd 1 a copy of it (`-X`).
    fn restore_console(&mut self) {
        // The holder is closed (dropped) once fd 2 is a copy of it.
        if let Some(holder) = self.console_holder.take() {
            if let Err(e) = dup2_stderr(&holder) {
                common::warn!("unable to restore console: {}", SysErr(e));
            }
            drop(holder);
            if let Err(e) = dup2_stdout(std::io::stderr()) {
                common::warn!("unable to restore stdout: {}", SysErr(e));
            }
        }
    }

    /// Waits until every supervisor still alive has died. Commands and signals are no longer
    /// acted on.
    fn wait_for_all(&mut self) {
        while self.table.live() > 0 {
            match waitpid(None, None) {
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        self.table.take_pid(pid);
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    common::warn!(
                        "unable to wait for all s6-supervise processes: {}",
                        SysErr(e)
                    );
                    return;
                }
            }
        }
    }

    /// Consumes the signals that arrived while they were blocked, so that unblocking them
    /// before the exec does not deliver, say, a pending SIGTERM with its default action.
    fn drop_pending_signals(&mut self) {
        while let Ok(Some(_)) = self.signals.read_signal() {}
    }
}

/// Points fds 1 and 2 at /dev/null; failures are warnings.
fn silence_stdout_stderr() {
    match open(
        "/dev/null",
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(null) => {
            if let Err(e) = dup2_stdout(&null) {
                common::warn!("unable to redirect stdout to /dev/null: {}", SysErr(e));
            }
            if let Err(e) = dup2_stderr(&null) {
                common::warn!("unable to redirect stderr to /dev/null: {}", SysErr(e));
            }
        }
        Err(e) => common::warn!("unable to open /dev/null: {}", SysErr(e)),
    }
}

/// `unable to STEP: ERR`, `executing into .s6-svscan/crash`, then the exec; if that fails,
/// exit 127 (ENOENT) or 126.
fn crash_exec(step: std::fmt::Arguments<'_>, e: Errno) -> ! {
    common::warn!("unable to {step}: {}", SysErr(e));
    common::warn!("executing into {}", CRASH_PROG.to_string_lossy());
    sys::default_sigpipe();
    let Err(e) = execv(CRASH_PROG, &[CRASH_PROG]);
    let code = if e == Errno::ENOENT { 127 } else { 126 };
    fatal!(
        code,
        "unable to exec {}: {}",
        CRASH_PROG.to_string_lossy(),
        SysErr(e)
    )
}
