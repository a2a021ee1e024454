//! svscan: a drop-in `s6-svscan` 2.12, the root of an s6 supervision tree.
//!
//! It scans a directory of service directories and keeps one `s6-supervise` running per
//! service (and per `NAME/log` logger, with a pipe between the two that it holds open), takes
//! commands on a control FIFO (`svscanctl`, `s6-svscanctl`), and never dies: it is fit to be
//! PID 1. The contract is `spec/SVSCAN.md`; this file is its "svscan command line" and
//! "Start-up" sections: parse into a [`config::Config`], then the start-up steps, which may
//! die with s6's messages and exit codes, then [`daemon::Svscan::run`], which must not.
#![deny(unsafe_code)]

mod acks;
mod clients;
mod config;
mod control;
mod daemon;
mod events;
mod finish;
mod index;
mod kill;
mod listing;
mod reap;
mod scan;
mod signals;
mod start;
#[allow(unsafe_code)]
mod sys;
mod table;
mod watch;

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::Instant;

use common::diag::{self, SysErr};
use common::spawn::{SpawnAttr, SpawnOptions};
use common::{EXIT_SYSTEM, EXIT_USAGE, fatal};

use crate::acks::Progress;
use crate::clients::Clients;
use crate::config::Config;
use crate::daemon::{Pending, Svscan};
use crate::listing::ScanStop;
use crate::start::Supervise;
use crate::table::Table;

fn main() {
    let args = diag::args();
    let config = config::parse(args.get(1..).unwrap_or_default())
        .unwrap_or_else(|_| diag::usage(&config::usage_line(diag::program_name())));
    startup(&config).run()
}

/// A `-d` or `-X` descriptor: at least 3 and open.
fn checked_fd(fd: u32, what: &str) -> RawFd {
    // **fix**: C 2.12 took 0 as "not given"; 2.15 rejects it like 1 and 2.
    if fd < 3 {
        fatal!(EXIT_USAGE, "{what} fd must be 3 or more");
    }
    let raw = RawFd::try_from(fd).unwrap_or(RawFd::MAX);
    if let Err(e) = common::sys::check_fd(raw) {
        fatal!(EXIT_USAGE, "invalid {what} fd: {}", SysErr(e));
    }
    raw
}

/// The start-up steps, in the spec's order. Dies on any failure.
fn startup(config: &Config) -> Svscan {
    let notification = config
        .notification_fd
        .map(|fd| checked_fd(fd, "notification"));
    let mut console_holder = config.console_holder.map(|fd| {
        let raw = checked_fd(fd, "console holder");
        sys::adopt_inherited(raw)
            .unwrap_or_else(|e| fatal!(EXIT_SYSTEM, "unable to coe console holder: {}", SysErr(e)))
    });
    if common::sys::sanitize_standard_fds().is_err() {
        fatal!(EXIT_USAGE, "unable to sanitize standard fds");
    }

    if let Some(dir) = &config.scandir
        && let Err(e) = nix::unistd::chdir(dir.as_path())
    {
        fatal!(EXIT_SYSTEM, "unable to chdir: {}", SysErr(e));
    }
    let control = common::ctldir::init_control_dir(Path::new("."), &common::ctldir::SVSCAN)
        .unwrap_or_else(|e| fatal!(e.exit_code(), "{e}"));
    // Beyond s6, beside the FIFO and under the lock; none of them is fatal: svscan without
    // them is s6-svscan.
    let listener = clients::listen_socket()
        .inspect_err(|e| {
            common::warn!(
                "unable to listen on {}: {}",
                common::SVSCAN_SOCKET,
                SysErr(*e)
            );
        })
        .ok();
    let events = events::make();
    let watch = if config.watch { watch::open() } else { None };
    let lock_fd = control.lock.as_raw_fd();

    let signals = signals::open_signalfd()
        .unwrap_or_else(|e| fatal!(EXIT_SYSTEM, "unable to selfpipe_init: {}", SysErr(e)));
    // SIGPIPE stays ignored, as the Rust runtime set it: a write to a closed stderr or pipe
    // returns EPIPE instead of killing svscan. Children get the default back at spawn.
    // **fix** (SIGCHLD reset at start-up): SIGCHLD is given its default disposition first.
    // Inherited as SIG_IGN (an init script, a container runtime), it makes the kernel reap the
    // supervisors behind svscan's back, so none would be restarted; C's signalfd leaves it in
    // force. The other trapped signals, blocked, are queued whatever their disposition.
    if let Err(e) = sys::default_sigchld().and_then(|()| signals::block()) {
        fatal!(EXIT_SYSTEM, "unable to trap signals: {}", SysErr(e));
    }
    let spawn_attr = SpawnAttr::new(SpawnOptions::default()).unwrap_or_else(|e| {
        fatal!(
            EXIT_SYSTEM,
            "unable to init spawn attributes: {}",
            SysErr(e)
        )
    });

    if let Some(fd) = notification {
        // Written, then closed (dropped); the write's result is ignored, as C: the reader may
        // be gone. `-d` and `-X` naming one fd: C writes and closes it, so no console holder
        // is left (C keeps a dangling number).
        let fd = match console_holder.take_if(|holder| holder.as_raw_fd() == fd) {
            Some(holder) => Ok(holder),
            None => sys::adopt_inherited(fd),
        };
        if let Ok(fd) = fd {
            let _ = nix::unistd::write(&fd, b"\n");
        }
    }

    Svscan {
        table: Table::new(config.services_max as usize),
        name_max: config.name_max as usize,
        rescan: config.rescan,
        console_holder,
        supervise: Supervise::new(&config.supervise, std::env::var_os("PATH").as_deref()),
        spawn_attr,
        // **fix** (the first turn reaps): svscan may have been exec'd (as PID 1, by a stage-1
        // script) with children already dead, whose SIGCHLD went to the image before; C's
        // first turn has nothing to do until some later SIGCHLD.
        pending: Pending {
            reap: true,
            ..Pending::default()
        },
        leave: false,
        wait_all: false,
        // The first turn scans at once.
        scan_deadline: Some(Instant::now()),
        start_deadline: None,
        special_created: false,
        scan: scan::ScanState::default(),
        signals,
        control,
        progress: Progress::default(),
        clients: Clients::new(listener, lock_fd),
        events,
        watch,
        spawn_failure: None,
        scan_stop: ScanStop::new(),
    }
}
