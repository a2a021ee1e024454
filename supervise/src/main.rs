//! supervise: a drop-in `s6-supervise` 2.12, the per-service daemon of an s6 supervision
//! tree.
//!
//! It runs a service directory's `run` as a session leader and restarts it when it dies
//! (after `finish`, at most once a second), takes commands on `supervise/control` (`s6-svc`),
//! keeps `supervise/status` up to date (`s6-svstat`), publishes events on the `event` fifodir
//! (`s6-svwait`), and never dies of a recoverable error. The contract is
//! `spec/SUPERVISE.md`, section "supervise"; this file is its "Command line" and "Start-up"
//! sections: the start-up steps, in the spec's order, may die with s6's messages and exit
//! codes; then [`daemon::Supervise::run`], which must not.
//!
//! The same binary is also the lock-fd helper (see [`lockrun`]), selected by its `argv[0]`.
#![deny(unsafe_code)]

mod control;
mod daemon;
mod death;
mod events;
mod files;
mod lockrun;
mod readiness;
mod signals;
mod start;
mod state;
mod status;
#[allow(unsafe_code)]
mod sys;
mod tally;
mod throttle;

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::time::Instant;

use common::ctldir::{self, Made};
use common::diag::{self, SysErr};
use common::spawn::{SpawnAttr, SpawnOptions};
use common::status::Status;
use common::tai::Tai64n;
use common::{EXIT_SYSTEM, fatal, ftrig, warn};
use nix::fcntl::AT_FDCWD;
use nix::sys::resource::{Resource, getrlimit};
use nix::sys::signal::Signal;
use nix::sys::stat::{FchmodatFlags, Mode, fchmodat};
use nix::unistd::{chown, getegid};

use crate::daemon::Supervise;
use crate::state::State;
use crate::throttle::Throttle;

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("supervise"));
    if argv0.as_bytes() == lockrun::ARGV0.to_bytes() {
        lockrun::main(args);
    }
    let base = base_name(&argv0);
    diag::set_prog(&base);
    let Some(dir) = args.next() else {
        diag::usage(&format!("{base} dir"));
    };
    // Extra operands are ignored, and nothing is an option: `-x` would be a directory.
    if let Err(e) = nix::unistd::chdir(dir.as_os_str()) {
        fatal!(
            EXIT_SYSTEM,
            "unable to chdir to {}: {}",
            dir.to_string_lossy(),
            SysErr(e)
        );
    }
    let prog = format!("{base} {}", dir.to_string_lossy());
    diag::set_prog(&prog);
    startup(dir, &prog).run()
}

/// The base name of `argv0`, which becomes PROG (svscan runs us as `s6-supervise`).
fn base_name(argv0: &OsStr) -> String {
    let bytes = argv0.as_bytes();
    let base = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
    let base = if base.is_empty() { bytes } else { base };
    String::from_utf8_lossy(base).into_owned()
}

/// Step 4.1: `event`, the fifodir, made before `supervise`; only if it was created here, its
/// group is supervise's egid and its mode 03730 (members of the group may subscribe, nobody
/// may list or remove another's FIFO).
fn make_fifodir() {
    match ctldir::trymkdir(Path::new("."), ftrig::EVENT_DIR) {
        Ok(Made::Existing) => {}
        Ok(Made::Created) => {
            let event = Path::new(ftrig::EVENT_DIR);
            if let Err(e) = chown(event, None, Some(getegid())) {
                fatal!(EXIT_SYSTEM, "unable to chown event: {}", SysErr(e));
            }
            let mode = Mode::from_bits_truncate(0o3730);
            if let Err(e) = fchmodat(AT_FDCWD, event, mode, FchmodatFlags::FollowSymlink) {
                fatal!(EXIT_SYSTEM, "unable to chmod event: {}", SysErr(e));
            }
        }
        Err(e) => fatal!(e.exit_code(), "{e}"),
    }
}

/// Start-up steps 2 to 9, in the spec's order (step 1, the chdir, is done). Dies on failure.
fn startup(dir: OsString, prog: &str) -> Supervise {
    // skalibs `fd_sanitize`: no file supervise opens lands on 0, 1 or 2, and every child gets
    // three valid fds.
    if let Err(e) = common::sys::sanitize_standard_fds() {
        fatal!(
            EXIT_SYSTEM,
            "unable to sanitize stdin and stdout: {}",
            SysErr(e)
        );
    }
    let maxfd = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => soft,
        Err(e) => fatal!(EXIT_SYSTEM, "unable to getrlimit: {}", SysErr(e)),
    };
    make_fifodir();
    let supervise_dir = ctldir::init_control_dir(Path::new("."), &ctldir::SUPERVISE)
        .unwrap_or_else(|e| fatal!(e.exit_code(), "{e}"));

    let signals = signals::trap().unwrap_or_else(|(selfpipe, e)| {
        if selfpipe {
            fatal!(EXIT_SYSTEM, "unable to init selfpipe: {}", SysErr(e))
        }
        fatal!(EXIT_SYSTEM, "unable to trap signals: {}", SysErr(e))
    });
    // SIGPIPE stays ignored, as the Rust runtime set it (C installs a no-op handler): a
    // publication to a vanished subscriber is EPIPE, not death. Children get the default
    // back at spawn. SIGCHLD gets its default: inherited as ignored, the kernel would reap
    // run behind supervise's back and its death would never be seen.
    if let Err(e) = sys::default_disposition(Signal::SIGCHLD) {
        fatal!(EXIT_SYSTEM, "unable to trap signals: {}", SysErr(e));
    }
    let spawn_attr = SpawnAttr::new(SpawnOptions { setsid: true }).unwrap_or_else(|e| {
        fatal!(
            EXIT_SYSTEM,
            "unable to init spawn attributes: {}",
            SysErr(e)
        )
    });

    if let Err(e) = ftrig::clean(Path::new(ftrig::EVENT_DIR)) {
        warn!("unable to ftrigw_clean event: {}", SysErr(e));
    }
    if let Err(e) = tally::truncate() {
        fatal!(
            EXIT_SYSTEM,
            "unable to truncate supervise/death_tally: {}",
            SysErr(e)
        );
    }
    let down = files::down_exists()
        .unwrap_or_else(|e| fatal!(EXIT_SYSTEM, "unable to access ./down: {}", SysErr(e)));

    let now = Tai64n::now();
    let status = Status {
        stamp: now,
        readystamp: now,
        wantup: !down,
        ..Status::ZERO
    };
    let supervise = Supervise {
        state: State::Down,
        status,
        // The first turn is a timeout in state DOWN: it starts run if wanted up.
        deadline: Some(Instant::now()),
        throttle: Throttle::default(),
        dying: false,
        leave: false,
        notification: None,
        maxfd,
        name: CString::new(dir.into_vec()).unwrap_or_default(),
        prog: CString::new(prog).unwrap_or_default(),
        spawn_attr,
        run_actions: None,
        signals,
        dir: supervise_dir,
    };
    supervise.announce();
    events::publish(events::START);
    supervise
}
