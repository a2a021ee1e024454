//! The control FIFO (spec, "Control FIFO bytes"), and the actions that commands and signals
//! share: one byte per command, read until the FIFO is empty.
//!
//! svscan holds a write end of its own FIFO, so a read never returns EOF; if it does, or a
//! read fails, that is the crash path.

use std::time::Instant;

use common::control::SvscanCommand as Command;
use common::diag::warn_raw;
use nix::errno::Errno;
use nix::unistd::read;

use crate::daemon::Svscan;

impl Svscan {
    /// Reads and acts on every byte in the FIFO.
    pub fn handle_control(&mut self) {
        let mut buf = [0u8; 256];
        loop {
            match read(self.control_fd(), &mut buf) {
                Ok(0) => self.crash("read control pipe", Errno::EPIPE),
                Ok(n) => {
                    for &byte in &buf[..n] {
                        self.command(byte);
                    }
                }
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => {}
                Err(e) => self.crash("read control pipe", e),
            }
        }
    }

    /// Acts on one command byte, from the FIFO or from a client of the socket (`clients`).
    pub fn command(&mut self, byte: u8) {
        match Command::from_byte(byte) {
            Some(Command::Reap) => self.pending.reap = true,
            Some(Command::Alarm) => self.rescan_now(),
            Some(Command::Abort) => self.abort(),
            Some(Command::Hangup) => self.hangup(),
            Some(Command::Interrupt | Command::Terminate) => self.terminate(),
            Some(Command::Quit) => self.quit(),
            Some(Command::Nuke) => self.pending.kill_inactive = true,
            Some(Command::NukeTerm) => {
                self.pending.kill_inactive = true;
                self.pending.term_loggers = true;
            }
            None => {
                // s6 prints the byte as a C string: a NUL prints nothing.
                let shown: &[u8] = if byte == 0 {
                    &[]
                } else {
                    std::slice::from_ref(&byte)
                };
                warn_raw(&[b"received unknown control command: ", shown]);
            }
        }
    }

    /// `a`, SIGALRM: scan now, and hold kills back until that scan completes.
    pub fn rescan_now(&mut self) {
        self.pending.delay_kills = true;
        self.scan_deadline = Some(Instant::now());
    }

    /// `h`, SIGHUP: scan now, then kill the supervisors of what has gone.
    pub fn hangup(&mut self) {
        self.rescan_now();
        self.pending.kill_inactive = true;
    }

    /// `b`, SIGABRT: leave without killing or waiting.
    pub fn abort(&mut self) {
        self.leave = true;
        self.wait_all = false;
    }

    /// `t`, `i`, SIGTERM, SIGINT: kill everything (loggers drain), leave, wait for all.
    pub fn terminate(&mut self) {
        self.leave = true;
        self.wait_all = true;
        self.pending.kill_all = true;
        self.pending.kill_inactive = true;
    }

    /// `q`, SIGQUIT: as `t`, but loggers get SIGTERM too.
    pub fn quit(&mut self) {
        self.terminate();
        self.pending.term_loggers = true;
    }
}
