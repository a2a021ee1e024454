//! The control FIFO `supervise/control` (SUPERVISE.md, "The control FIFO"): one byte per
//! command, acted on in order, until the FIFO is empty. Bytes that are not one of the 21
//! letters are ignored silently (supervise.c:655-656), as is a letter with nothing to do in
//! the current state. supervise holds a write end of its own FIFO, so a read never returns
//! EOF; if it does, or a read fails, that is C's fatal error.
#![forbid(unsafe_code)]

use common::diag::SysErr;
use common::fatal;
use nix::errno::Errno;
use nix::unistd::read;

use crate::daemon::Supervise;
use crate::state::Input;
use common::control::SuperviseCommand;

impl Supervise {
    /// Reads and acts on every byte in the FIFO.
    pub fn handle_control(&mut self) {
        // C reads one byte per read(2); reading more at once acts on the same bytes in the
        // same order (nothing else is looked at in between).
        let mut buf = [0u8; 64];
        loop {
            match read(&self.dir.control, &mut buf) {
                Ok(0) => fatal!(
                    common::EXIT_SYSTEM,
                    "unable to read supervise/control: {}",
                    SysErr(Errno::EPIPE)
                ),
                Ok(n) => {
                    for &byte in &buf[..n] {
                        if let Some(command) = SuperviseCommand::from_byte(byte) {
                            self.act(Input::Command(command));
                        }
                    }
                }
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => {}
                Err(e) => fatal!(
                    common::EXIT_SYSTEM,
                    "unable to read supervise/control: {}",
                    SysErr(e)
                ),
            }
        }
    }
}
