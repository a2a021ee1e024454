//! A program a scenario runs to its end by hand (a client such as svscanctl or `s6-svstat`,
//! a second svscan, `prlimit`): started with fds 0-2 only, in a [`Guard`], bounded by a
//! deadline, killed with its tree if it overruns, its output kept for the assertions.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::Guard;
use crate::with_std_fds_only;

/// How a program run by [`run`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    /// The exit code, `None` if a signal killed it.
    pub code: Option<i32>,
    /// Everything it wrote to stdout (lossy UTF-8).
    pub stdout: String,
    /// Everything it wrote to stderr (lossy UTF-8).
    pub stderr: String,
}

impl Ran {
    /// A run that exited with `code` and wrote `stderr`, and nothing to stdout.
    #[must_use]
    pub fn exited(code: i32, stderr: impl Into<String>) -> Ran {
        Ran {
            code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }
}

/// Runs `cmd` to its end, with stdin on `/dev/null`.
///
/// # Panics
/// If it cannot be started, or is still running after `within`: it is then killed with
/// its tree and reaped first.
pub fn run(cmd: &mut Command, within: Duration) -> Ran {
    let out = tempfile::tempfile().expect("tempfile for stdout");
    let err = tempfile::tempfile().expect("tempfile for stderr");
    let mut guard = Guard::spawn(
        with_std_fds_only(cmd)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup stdout file"))
            .stderr(err.try_clone().expect("dup stderr file")),
    );
    let Some(exit) = guard.wait_exit(within) else {
        drop(guard);
        panic!("{cmd:?} still running after {within:?}");
    };
    drop(guard);
    Ran {
        code: exit.code(),
        stdout: contents(out),
        stderr: contents(err),
    }
}

fn contents(mut file: File) -> String {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .expect("read an output file");
    String::from_utf8_lossy(&bytes).into_owned()
}
