//! s6-style diagnostics, byte for byte as skalibs' `strerr` writes them:
//! `PROG: warning: TEXT`, `PROG: fatal: TEXT`, `PROG: usage: USAGE`.
//!
//! Each message is formatted into a stack buffer and written to fd 2 with one `write`, so two
//! processes sharing a stderr never interleave inside a line and a warning costs no heap
//! allocation. A failed write (a closed or broken stderr) is ignored: a diagnostic must never
//! kill the daemon. System errors print as the C library's text (`No such file or directory`),
//! never Rust's `(os error 2)`: wrap an errno in [`SysErr`], or end a raw message with one
//! ([`warn_sys`]).

use std::fmt::{self, Write as _};
use std::io;
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;

use crate::sys::{STRERROR_MAX, strerror};

/// PROG; `None` until set (then [`program_name`] falls back to the binary's own name).
static PROG: Mutex<Option<&'static str>> = Mutex::new(None);

/// The longest diagnostic written; longer ones are cut (a name can be 1019 bytes).
const MAX_MESSAGE: usize = 4096;

/// The base name of a path, or the path itself if it ends in `/`.
fn base_name(path: &str) -> &str {
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(path)
}

/// Sets PROG, the program name that prefixes every diagnostic, to the base name of `argv0`
/// (`s6-svc` when run as `/usr/bin/s6-svc`).
pub fn set_program_name(argv0: &str) {
    set_prog(base_name(argv0));
}

/// This process's arguments, PROG set from the first ([`set_program_name`]): every program's
/// first step.
#[must_use]
pub fn args() -> Vec<std::ffi::OsString> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(argv0) = argv.first() {
        set_program_name(&argv0.to_string_lossy());
    }
    argv
}

/// Sets PROG to `prog` exactly (supervise's `NAME DIR` after its chdir, whose `DIR` may hold
/// slashes). Each call replaces the previous one; the text is kept for the process's life.
pub fn set_prog(prog: &str) {
    let prog: &'static str = Box::leak(prog.to_owned().into_boxed_str());
    *PROG.lock().unwrap_or_else(PoisonError::into_inner) = Some(prog);
}

/// PROG as set by [`set_program_name`] or [`set_prog`]; before that, the base name of the
/// running binary (`svscan`, `supervise`, ...), so that no program speaks under another's
/// name.
#[must_use]
pub fn program_name() -> &'static str {
    let mut prog = PROG.lock().unwrap_or_else(PoisonError::into_inner);
    prog.get_or_insert_with(|| {
        let exe = std::env::args_os()
            .next()
            .or_else(|| std::env::current_exe().ok().map(Into::into))
            .unwrap_or_default();
        let exe = exe.to_string_lossy();
        Box::leak(base_name(&exe).to_owned().into_boxed_str())
    })
}

/// An errno that displays as the C library's error text, as skalibs' `strerr_*sys` print it;
/// formatting it makes no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysErr(pub Errno);

impl fmt::Display for SysErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // nix's own table differs from the C library's (ENOLCK, ...): ask the C library.
        f.write_str(strerror(self.0, &mut [0; STRERROR_MAX]))
    }
}

impl From<Errno> for SysErr {
    fn from(e: Errno) -> Self {
        SysErr(e)
    }
}

impl From<&io::Error> for SysErr {
    fn from(e: &io::Error) -> Self {
        SysErr(e.raw_os_error().map_or(Errno::EIO, Errno::from_raw))
    }
}

/// A fixed buffer that keeps what fits and silently drops the rest.
struct Line {
    buf: [u8; MAX_MESSAGE],
    len: usize,
}

impl Line {
    fn new(kind: &str) -> Self {
        let mut line = Line {
            buf: [0; MAX_MESSAGE],
            len: 0,
        };
        line.push(program_name().as_bytes());
        line.push(b": ");
        line.push(kind.as_bytes());
        line.push(b": ");
        line
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_MESSAGE - 1 - self.len; // keep one byte for the newline
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Ends the line and writes it to fd 2 in one `write`, ignoring failure.
    fn send(mut self) {
        self.buf[self.len] = b'\n';
        self.len += 1;
        let _ = crate::write_all(io::stderr(), &self.buf[..self.len]);
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Formats `PROG: KIND: MESSAGE\n` and writes it to fd 2 in one `write`, ignoring failure.
// Never inlined: the line's 4 kB buffer would otherwise sit in the frame of every caller,
// and a daemon's nested steps (supervise's loop → transition → start → file read) would each
// carry one, dirtying stack pages that stay dirty for the process's life.
#[cold]
#[inline(never)]
fn emit(kind: &str, message: fmt::Arguments<'_>) {
    let mut line = Line::new(kind);
    let _ = line.write_fmt(message);
    line.send();
}

/// `PROG: warning: ` followed by `parts` as raw bytes: for file names and control bytes,
/// which s6 prints as they are, valid UTF-8 or not.
#[cold]
#[inline(never)]
pub fn warn_raw(parts: &[&[u8]]) {
    let mut line = Line::new("warning");
    for part in parts {
        line.push(part);
    }
    line.send();
}

/// `PROG: warning: PARTS: ERR`: [`warn_raw`] ended by the C library's text for `e`, as
/// skalibs' `strerr_warnwu*sys` (the errno text always comes last).
#[cold]
#[inline(never)]
pub fn warn_sys(parts: &[&[u8]], e: Errno) {
    let mut line = Line::new("warning");
    for part in parts {
        line.push(part);
    }
    line.push(b": ");
    line.push(strerror(e, &mut [0; STRERROR_MAX]).as_bytes());
    line.send();
}

/// `PROG: warning: MESSAGE`.
pub fn warn(message: fmt::Arguments<'_>) {
    emit("warning", message);
}

/// `PROG: fatal: MESSAGE`, then exit with `code`.
pub fn fatal(code: i32, message: fmt::Arguments<'_>) -> ! {
    emit("fatal", message);
    std::process::exit(code)
}

/// `PROG: usage: USAGE`, then exit 100.
pub fn usage(usage: &str) -> ! {
    emit("usage", format_args!("{usage}"));
    std::process::exit(crate::EXIT_USAGE)
}

/// `PROG: warning: MESSAGE`, formatted like `format!`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::diag::warn(::std::format_args!($($arg)*)) };
}

/// `PROG: fatal: MESSAGE`, then exit with the code given first.
#[macro_export]
macro_rules! fatal {
    ($code:expr, $($arg:tt)*) => { $crate::diag::fatal($code, ::std::format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_err_prints_the_c_library_text_without_the_rust_suffix() {
        assert_eq!(
            SysErr(Errno::ENOENT).to_string(),
            "No such file or directory"
        );
        assert_eq!(SysErr(Errno::EPIPE).to_string(), "Broken pipe");
        assert_eq!(SysErr(Errno::ENOLCK).to_string(), "No locks available");
        let io = io::Error::from_raw_os_error(Errno::ENXIO as i32);
        assert_eq!(SysErr::from(&io).to_string(), "No such device or address");
    }

    #[test]
    fn strerror_gives_the_same_text_as_std_without_its_suffix() {
        for errno in [Errno::EACCES, Errno::EAGAIN, Errno::ENOEXEC, Errno::E2BIG] {
            let std = io::Error::from_raw_os_error(errno as i32).to_string();
            let ours = SysErr(errno).to_string();
            assert_eq!(std, format!("{ours} (os error {})", errno as i32));
        }
    }

    #[test]
    fn the_program_name_is_the_base_name() {
        assert_eq!(base_name("/usr/bin/s6-svc"), "s6-svc");
        assert_eq!(base_name("svscan"), "svscan");
        assert_eq!(base_name("dir/"), "dir/");
    }

    #[test]
    fn without_a_set_name_the_fallback_is_this_binary_and_not_another_program() {
        // Only this test reads PROG, and none here sets it (the unit-test binary is
        // `common-HASH`).
        let name = program_name();
        assert!(name.starts_with("common"), "{name}");
    }

    #[test]
    fn an_overlong_message_is_cut_and_still_ends_with_a_newline() {
        let mut line = Line::new("warning");
        let long = "x".repeat(3 * MAX_MESSAGE);
        let _ = write!(line, "{long}");
        assert_eq!(line.len, MAX_MESSAGE - 1);
        let prefix = format!("{}: warning: xxx", program_name());
        assert!(line.buf.starts_with(prefix.as_bytes()));
    }
}
