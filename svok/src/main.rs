//! `svok`: a drop-in `s6-svok servicedir` (SUPERVISE.md, "svok"): exit 0 if a supervisor
//! holds the lock of `servicedir/supervise/lock`, 1 if not (or there is no such file), 111 if
//! the check fails. No options are parsed, as in C: `svok -x` checks a directory named `-x`.
#![forbid(unsafe_code)]

use std::path::Path;

use common::ctldir::SUPERVISE;
use common::diag::{SysErr, usage};
use common::status::service_path;
use common::{EXIT_SYSTEM, fatal, lock};

const USAGE: &str = "s6-svok servicedir";

fn main() {
    let argv = common::diag::args();
    let Some(dir) = argv.get(1).map(Path::new) else {
        usage(USAGE)
    };
    match lock::is_locked(&service_path(dir, SUPERVISE.lock)) {
        Ok(Some(true)) => {}
        Ok(Some(false) | None) => std::process::exit(1),
        Err(e) => fatal!(
            EXIT_SYSTEM,
            "unable to check {}: {}",
            dir.display(),
            SysErr(e)
        ),
    }
}
