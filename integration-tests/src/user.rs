//! Acting as another user: [`root`] (which `setpriv` needs) and [`as_user`].

use std::process::Command;

use crate::suite::{Outcome, Skip};

/// Whether the tests run as root, which acting as another user needs.
///
/// # Errors
/// A [`Skip::missing`] when they do not (a failure under CI, which runs as root).
pub fn root() -> Outcome {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Skip::missing("root, to act as another user"))
    }
}

/// `setpriv` running a program as `uid` (and group `uid`), with no other group.
#[must_use]
pub fn as_user(uid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups");
    cmd
}
