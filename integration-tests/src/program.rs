//! A program a scenario runs to its end by hand (a client such as svscanctl, a second
//! svscan, `prlimit`): started with fds 0-2 only, bounded by a deadline, killed by pid if it
//! overruns, its stderr kept for the assertions.

use std::io::{Read, Seek, SeekFrom};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{POLL_INTERVAL, with_std_fds_only};

/// How a program run by [`run`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    /// The exit code, `None` if a signal killed it.
    pub code: Option<i32>,
    /// Everything it wrote to stderr (lossy UTF-8).
    pub stderr: String,
}

/// Runs `cmd` to its end, with stdin and stdout on `/dev/null`.
///
/// # Panics
/// If it cannot be started, or is still running after `within`: it is then killed (by pid,
/// before it is reaped) and reaped first.
pub fn run(cmd: &mut Command, within: Duration) -> Ran {
    let mut err = tempfile::tempfile().expect("tempfile for stderr");
    let mut child = with_std_fds_only(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.try_clone().expect("dup stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            panic!("{cmd:?} still running after {within:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    let mut bytes = Vec::new();
    err.seek(SeekFrom::Start(0))
        .and_then(|_| err.read_to_end(&mut bytes))
        .expect("read stderr file");
    Ran {
        code: status.code(),
        stderr: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
