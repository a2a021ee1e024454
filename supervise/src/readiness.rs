//! Readiness notification (SUPERVISE.md, "Readiness", supervise.c:581-603): with a
//! `notification-fd`, run gets a pipe's write end on that fd, and the first newline written
//! there means "ready": the ready flag and stamp, a status write, `U`, and the throttle
//! counted from now. A partial line is never readiness; EOF or a read error before a newline
//! closes the pipe silently; nothing after the first newline is read.
//!
//! **fix** (no upstream fix): the read end is non-blocking. C's is blocking and its loop reads
//! until a read returns nothing, so a service that writes bytes without a newline freezes it
//! (no commands, no signals, no deaths) until the service writes again or dies. Here reads
//! stop at EAGAIN and the pipe stays polled.
#![forbid(unsafe_code)]

use std::time::Instant;

use nix::errno::Errno;
use nix::unistd::read;

use crate::daemon::Supervise;
use crate::events;
use common::tai::Tai64n;

/// Bytes read from the pipe at a time.
const CHUNK: usize = 512;

/// What reading the pipe found.
enum Found {
    /// A newline: ready.
    Ready,
    /// EOF or an error: no readiness will come.
    Closed,
    /// Nothing more for now (EAGAIN).
    Pending,
}

impl Supervise {
    /// Reads what the service wrote on its notification fd.
    pub fn handle_notification(&mut self) {
        let Some(fd) = &self.notification else {
            return;
        };
        let mut buf = [0u8; CHUNK];
        let found = loop {
            match read(fd, &mut buf) {
                Ok(0) => break Found::Closed,
                Ok(n) if buf[..n].contains(&b'\n') => break Found::Ready,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break Found::Pending,
                Err(_) => break Found::Closed,
            }
        };
        match found {
            Found::Pending => {}
            Found::Closed => self.notification = None,
            Found::Ready => {
                self.notification = None;
                self.throttle.ready(Instant::now());
                self.status.readystamp = Tai64n::now();
                self.status.ready = true;
                self.announce();
                events::publish(events::READY_UP);
            }
        }
    }
}
