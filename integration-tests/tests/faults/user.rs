//! Acting as another user: `setpriv`, and the root that it needs.

use std::process::Command;

/// Whether the tests run as root, which acting as another user needs; when they do not,
/// prints a note so that the scenario can return early (under CI, which runs as root, that
/// is a failure instead).
///
/// # Panics
/// If not root and `CI` is set.
pub fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the tests as root"
    );
    eprintln!("skipped: acting as another user needs root");
    false
}

/// `setpriv` running a program as `uid` (and group `uid`), with no other group.
pub fn as_user(uid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups");
    cmd
}
