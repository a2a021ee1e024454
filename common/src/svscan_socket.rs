//! svscan's request socket, beyond s6: `.s6-svscan/socket`, through which `svscanctl -w` waits
//! until its commands have taken effect and `svscanctl -l` reads svscan's table. This module is
//! the protocol both sides speak (the messages and the table's records) and the client's side
//! of it; the server is svscan's `clients` module.
//!
//! Why a socket and not the FIFO: the FIFO cannot tie an answer to the bytes one client wrote
//! (the bytes of concurrent clients interleave, and a broadcast such as the `s` event of
//! `.s6-svscan/event` may come from a scan that began before svscan read the client's `a`).
//! A connection is a channel of one client's own. It is a Unix `SOCK_SEQPACKET` socket: each
//! request and each reply is one message, so neither side needs framing or a buffer per peer.
//!
//! One request per connection, its first byte saying what it is:
//! - [`WAIT`] followed by up to [`MAX_LETTERS`] command letters of svscan's FIFO
//!   (`zabhitqnN`): svscan acts on them exactly as on FIFO bytes, then answers [`DONE`] once
//!   every one has taken effect; a request that holds a letter making svscan leave its loop
//!   (`t i q b`) is answered by the connection's end instead, when svscan releases its lock
//!   (its descriptors are close-on-exec: the lock goes first, then the socket).
//! - [`LIST`]: svscan answers with [`RECORDS`] messages (one byte, then [`Record`]s end to
//!   end), then [`END`].
//!
//! svscan answers [`BUSY`] and closes when it serves as many clients as it can, and closes
//! without answering on a malformed request. Message sizes are bounded by [`MESSAGE_MAX`].

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, recv, send, setsockopt, sockopt,
};
use nix::sys::stat::Mode;
use nix::sys::time::TimeVal;

use crate::control::{ControlError, SvscanCommand, Wording, write_control};
use crate::{CONTROL_DIR, EXIT_SYSTEM, EXIT_USAGE, SVSCAN_SOCKET};

/// A request to act on command letters and answer when they have taken effect.
pub const WAIT: u8 = b'w';
/// A request for the table.
pub const LIST: u8 = b'l';
/// The answer to [`WAIT`]: every command has taken effect.
pub const DONE: u8 = b'k';
/// A message of table records.
pub const RECORDS: u8 = b'r';
/// The end of the table.
pub const END: u8 = b'e';
/// svscan serves as many clients as it can: try again later.
pub const BUSY: u8 = b'B';
/// The most command letters in one [`WAIT`] request (as `s6-svscanctl`'s buffer).
pub const MAX_LETTERS: usize = 64;
/// The longest request.
pub const REQUEST_MAX: usize = 1 + MAX_LETTERS;
/// The longest message svscan sends.
pub const MESSAGE_MAX: usize = 8192;
/// Exit code of a client whose `-T` bound expired (s6's convention, as `s6-svlisten1`).
pub const EXIT_TIMEOUT: i32 = 99;

/// What an entry of the table is to svscan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Seen by the last complete scan: supervised, or to be.
    Active = 1,
    /// Gone from the scan directory; its supervisor is still alive and is not restarted.
    Inactive = 2,
    /// Registered by a scan that was abandoned: it becomes active at the next complete scan.
    New = 3,
    /// Not in the table: the name the last scan stopped at, which it could not register.
    Absent = 4,
}

/// Why an entry has no supervisor, when it has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Why {
    /// It has one, or needs none.
    None = 0,
    /// Within 1 s of its previous start: started again when the throttle ends.
    Throttled = 1,
    /// Its last spawn failed (the record's `errno`); retried when the start pass is.
    SpawnFailed = 2,
    /// Due, behind another entry whose spawn failed and stopped the start pass.
    Queued = 3,
    /// Waits for a complete scan (state [`State::New`]).
    ScanIncomplete = 4,
    /// The table is full (`-C`).
    TooManyServices = 5,
    /// `NAME/log` is still another service's logger (`old service NAME/log still exists`).
    OldLogger = 6,
    /// It could not be `stat`ed.
    StatFailed = 7,
    /// The pipe of its pair could not be created.
    PipeFailed = 8,
    /// The scan directory could not be read.
    ScanDirFailed = 9,
}

impl State {
    /// The word in listings (`active`, `inactive`, `new`, `absent`).
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Inactive => "inactive",
            State::New => "new",
            State::Absent => "absent",
        }
    }

    fn from_byte(b: u8) -> Option<State> {
        [State::Active, State::Inactive, State::New, State::Absent]
            .into_iter()
            .find(|s| *s as u8 == b)
    }
}

impl Why {
    const ALL: [Why; 10] = [
        Why::None,
        Why::Throttled,
        Why::SpawnFailed,
        Why::Queued,
        Why::ScanIncomplete,
        Why::TooManyServices,
        Why::OldLogger,
        Why::StatFailed,
        Why::PipeFailed,
        Why::ScanDirFailed,
    ];

    /// The machine form's code (`throttled`, `spawn-failed`, ...); `None` has none.
    #[must_use]
    pub fn code(self) -> Option<&'static str> {
        Some(match self {
            Why::None => return None,
            Why::Throttled => "throttled",
            Why::SpawnFailed => "spawn-failed",
            Why::Queued => "queued",
            Why::ScanIncomplete => "scan-incomplete",
            Why::TooManyServices => "too-many-services",
            Why::OldLogger => "waiting-for-old-logger",
            Why::StatFailed => "stat-failed",
            Why::PipeFailed => "pipe-failed",
            Why::ScanDirFailed => "scandir-unreadable",
        })
    }

    fn from_byte(b: u8) -> Option<Why> {
        Why::ALL.into_iter().find(|w| *w as u8 == b)
    }
}

/// One line of the table, as svscan sees it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// `svc` or `svc/log` (any bytes but NUL).
    pub name: &'a [u8],
    /// The other entry of its logged pair (its logger, or its service); empty when unpaired.
    pub partner: &'a [u8],
    /// Its supervisor.
    pub pid: Option<u32>,
    pub state: State,
    /// A logger for the killer (a `/` in its name, or the catch-all `s6-svscan-log`).
    pub logger: bool,
    pub why: Why,
    /// The error of the last spawn ([`Why::SpawnFailed`]), else 0.
    pub errno: i32,
    /// How long its supervisor has run.
    pub up: Option<Duration>,
    /// How long until what `why` says ends: the throttle, the next start pass, the next scan.
    pub until: Option<Duration>,
}

/// The fixed part of an encoded record: total length (u16), state, why, flags, a spare byte,
/// errno (u16), pid (u32, 0 = none), up and until in ms (u64, `u64::MAX` = none), name length
/// (u16); then the name and the partner. Little-endian.
const HEADER: usize = 2 + 1 + 1 + 1 + 1 + 2 + 4 + 8 + 8 + 2;
const LOGGER: u8 = 1;
const NONE_MS: u64 = u64::MAX;

fn ms(d: Option<Duration>) -> u64 {
    d.map_or(NONE_MS, |d| {
        u64::try_from(d.as_millis()).unwrap_or(NONE_MS - 1)
    })
}

fn duration(ms: u64) -> Option<Duration> {
    (ms != NONE_MS).then(|| Duration::from_millis(ms))
}

impl Record<'_> {
    /// Encodes the record into the front of `out`; `None` if it does not fit (the caller
    /// sends what it has and starts a new message).
    #[must_use]
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = HEADER + self.name.len() + self.partner.len();
        let total = u16::try_from(len).ok()?;
        let out = out.get_mut(..len)?;
        let name_len = u16::try_from(self.name.len()).ok()?;
        let errno = u16::try_from(self.errno).unwrap_or(0);
        out[0..2].copy_from_slice(&total.to_le_bytes());
        out[2] = self.state as u8;
        out[3] = self.why as u8;
        out[4] = if self.logger { LOGGER } else { 0 };
        out[5] = 0;
        out[6..8].copy_from_slice(&errno.to_le_bytes());
        out[8..12].copy_from_slice(&self.pid.unwrap_or(0).to_le_bytes());
        out[12..20].copy_from_slice(&ms(self.up).to_le_bytes());
        out[20..28].copy_from_slice(&ms(self.until).to_le_bytes());
        out[28..30].copy_from_slice(&name_len.to_le_bytes());
        let (name, partner) = out[HEADER..].split_at_mut(self.name.len());
        name.copy_from_slice(self.name);
        partner.copy_from_slice(self.partner);
        Some(len)
    }

    /// Decodes the record at the front of `bytes` and returns it with its length.
    ///
    /// # Errors
    /// EPROTO when the bytes are not a record.
    pub fn decode(bytes: &[u8]) -> Result<(Record<'_>, usize), Errno> {
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let u64_at = |i: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(b)
        };
        if bytes.len() < HEADER {
            return Err(Errno::EPROTO);
        }
        let len = usize::from(u16_at(0));
        let name_len = usize::from(u16_at(28));
        if len < HEADER + name_len || len > bytes.len() {
            return Err(Errno::EPROTO);
        }
        let state = State::from_byte(bytes[2]).ok_or(Errno::EPROTO)?;
        let why = Why::from_byte(bytes[3]).ok_or(Errno::EPROTO)?;
        let pid = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let record = Record {
            name: &bytes[HEADER..HEADER + name_len],
            partner: &bytes[HEADER + name_len..len],
            pid: (pid != 0).then_some(pid),
            state,
            logger: bytes[4] & LOGGER != 0,
            why,
            errno: i32::from(u16_at(6)),
            up: duration(u64_at(12)),
            until: duration(u64_at(20)),
        };
        Ok((record, len))
    }
}

/// Why a client's request to svscan's socket did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// As the FIFO's client: nobody listens, the control dir is broken, a system error.
    Control(ControlError),
    /// A supervisor reads the FIFO but nothing listens on the socket: a C `s6-svscan`.
    Unsupported,
    /// svscan serves as many clients as it can.
    Busy,
    /// svscan left its loop (or dropped the connection) before answering.
    Left,
    /// The caller's deadline passed.
    TimedOut,
}

impl From<Errno> for ClientError {
    fn from(e: Errno) -> Self {
        ClientError::Control(ControlError::System(e))
    }
}

impl ClientError {
    /// 100 for a permanent condition, 111 for a failure, [`EXIT_TIMEOUT`] for a deadline.
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            ClientError::Control(e) => e.exit_code(),
            ClientError::Unsupported => EXIT_USAGE,
            ClientError::Busy | ClientError::Left => EXIT_SYSTEM,
            ClientError::TimedOut => EXIT_TIMEOUT,
        }
    }

    /// The fatal message (without `PROG: fatal: `) for a client of `scandir`.
    pub fn message<'a>(&'a self, scandir: &'a Path) -> impl fmt::Display + 'a {
        ClientMessage {
            error: *self,
            scandir,
        }
    }
}

struct ClientMessage<'a> {
    error: ClientError,
    scandir: &'a Path,
}

impl fmt::Display for ClientMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.scandir.display();
        match self.error {
            ClientError::Control(e) => {
                write!(
                    f,
                    "{}",
                    e.message(self.scandir, CONTROL_DIR, Wording::ErrnoReported)
                )
            }
            ClientError::Unsupported => write!(
                f,
                "unable to control {dir}: supervisor does not take -w or -l \
                 (nothing listens on {dir}/{SVSCAN_SOCKET})"
            ),
            ClientError::Busy => write!(f, "unable to control {dir}: too many clients"),
            ClientError::Left => write!(
                f,
                "unable to control {dir}: supervisor left its loop before answering"
            ),
            ClientError::TimedOut => f.write_str("timed out"),
        }
    }
}

/// Whether `letters` hold a command that makes svscan leave its loop (answered by the
/// connection's end).
#[must_use]
pub fn leaves(letters: &[u8]) -> bool {
    letters.iter().any(|&b| {
        matches!(
            SvscanCommand::from_byte(b),
            Some(
                SvscanCommand::Abort
                    | SvscanCommand::Interrupt
                    | SvscanCommand::Terminate
                    | SvscanCommand::Quit
            )
        )
    })
}

/// A connection to svscan's socket, with the caller's deadline.
#[derive(Debug)]
pub struct Connection {
    fd: OwnedFd,
    deadline: Option<Instant>,
}

/// The time left before `deadline`, at least 1 µs (0 means "forever" to SO_SNDTIMEO).
fn left(deadline: Instant) -> Result<Duration, ClientError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ClientError::TimedOut);
    }
    Ok(left.max(Duration::from_micros(1)))
}

impl Connection {
    /// Connects to `scandir`'s svscan, waiting no later than `deadline` (`None`: as long as
    /// it takes; svscan accepts at once unless it has left its loop).
    ///
    /// # Errors
    /// When the socket is missing or refuses: [`ClientError::Unsupported`] if a supervisor
    /// still reads the FIFO, else the FIFO client's diagnosis ([`ClientError::Control`]);
    /// [`ClientError::TimedOut`]; any other failure as a system error.
    pub fn open(scandir: &Path, deadline: Option<Instant>) -> Result<Connection, ClientError> {
        let fd = nix::sys::socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        if let Some(deadline) = deadline {
            let left = left(deadline)?;
            let tv = TimeVal::new(
                i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                i64::from(left.subsec_micros()),
            );
            setsockopt(&fd, sockopt::SendTimeout, &tv)?;
        }
        let path = scandir.join(SVSCAN_SOCKET);
        let result = match UnixAddr::new(&path) {
            Ok(addr) => connect(fd.as_raw_fd(), &addr),
            // Longer than sun_path: reach it through a descriptor of the scan directory.
            Err(Errno::ENAMETOOLONG) => {
                let dir = open(
                    scandir,
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let short =
                    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(SVSCAN_SOCKET);
                connect(fd.as_raw_fd(), &UnixAddr::new(&short)?)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(Connection { fd, deadline }),
            // SO_SNDTIMEO expired while svscan's backlog was full.
            Err(Errno::EAGAIN) => Err(ClientError::TimedOut),
            Err(Errno::ENOENT | Errno::ECONNREFUSED | Errno::ENOTDIR) => {
                Err(match write_control(scandir, CONTROL_DIR, b"") {
                    Ok(()) => ClientError::Unsupported,
                    Err(e) => ClientError::Control(e),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `letters` in a [`WAIT`] request and returns once svscan says they have all taken
    /// effect, or, if one makes it leave its loop, once it has left and released its lock.
    ///
    /// # Errors
    /// [`ClientError::Left`] if the connection ends first without a leaving letter,
    /// [`ClientError::Busy`], [`ClientError::TimedOut`], or a system error (EPROTO for a reply
    /// that is not one).
    pub fn wait(self, letters: &[u8]) -> Result<(), ClientError> {
        let mut request = [0u8; REQUEST_MAX];
        let request = request
            .get_mut(..=letters.len())
            .ok_or(ClientError::from(Errno::E2BIG))?;
        request[0] = WAIT;
        request[1..].copy_from_slice(letters);
        self.send(request)?;
        let mut buf = [0u8; MESSAGE_MAX];
        match self.recv(&mut buf)? {
            [] if leaves(letters) => Ok(()),
            [] => Err(ClientError::Left),
            [DONE] => Ok(()),
            [BUSY] => Err(ClientError::Busy),
            _ => Err(Errno::EPROTO.into()),
        }
    }

    /// Sends a [`LIST`] request and hands `f` each record of the table as it arrives.
    ///
    /// # Errors
    /// As [`Connection::wait`].
    pub fn list(self, mut f: impl FnMut(Record<'_>)) -> Result<(), ClientError> {
        self.send(&[LIST])?;
        let mut buf = vec![0u8; MESSAGE_MAX];
        loop {
            match self.recv(&mut buf)? {
                [] => return Err(ClientError::Left),
                [END] => return Ok(()),
                [BUSY] => return Err(ClientError::Busy),
                [RECORDS, records @ ..] => {
                    let mut records = records;
                    while !records.is_empty() {
                        let (record, len) = Record::decode(records)?;
                        f(record);
                        records = &records[len..];
                    }
                }
                _ => return Err(Errno::EPROTO.into()),
            }
        }
    }

    fn send(&self, message: &[u8]) -> Result<(), ClientError> {
        match send(self.fd.as_raw_fd(), message, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => Ok(()),
            Err(Errno::EAGAIN) => Err(ClientError::TimedOut),
            // svscan closed the connection before reading it: it said it was busy, or it is
            // leaving.
            Err(Errno::EPIPE | Errno::ECONNRESET) => {
                let mut buf = [0u8; 1];
                match self.recv_queued(&mut buf) {
                    Ok(1) if buf[0] == BUSY => Err(ClientError::Busy),
                    _ => Err(ClientError::Left),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The next message (empty at the connection's end), waiting until the deadline.
    fn recv<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], ClientError> {
        loop {
            let timeout = match self.deadline {
                None => PollTimeout::NONE,
                Some(deadline) => {
                    let ms = left(deadline)?.as_nanos().div_ceil(1_000_000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            match self.recv_queued(buf) {
                Ok(n) => return Ok(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A message already queued (0 at the connection's end). svscan closing a connection
    /// with a request unread (a client told busy) makes the next receive fail once with
    /// ECONNRESET, ahead of what it sent before closing: that is read after it.
    fn recv_queued(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        match recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Err(Errno::ECONNRESET) => {
                match recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
                    Err(Errno::ECONNRESET | Errno::EAGAIN) => Ok(0),
                    other => other,
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(name: &'a [u8], partner: &'a [u8]) -> Record<'a> {
        Record {
            name,
            partner,
            pid: Some(4242),
            state: State::Active,
            logger: false,
            why: Why::None,
            errno: 0,
            up: Some(Duration::from_millis(12_345)),
            until: None,
        }
    }

    #[test]
    fn records_round_trip_end_to_end_in_one_message() {
        let a = record(b"svc", b"svc/log");
        let b = Record {
            name: b"svc/log",
            partner: b"svc",
            pid: None,
            state: State::Active,
            logger: true,
            why: Why::SpawnFailed,
            errno: 2,
            up: None,
            until: Some(Duration::from_millis(9_871)),
        };
        let c = Record {
            name: b"x\xff",
            partner: b"",
            pid: None,
            state: State::Absent,
            logger: false,
            why: Why::TooManyServices,
            errno: 0,
            up: None,
            until: Some(Duration::ZERO),
        };
        let mut buf = [0u8; 256];
        let mut at = 0;
        for r in [a, b, c] {
            at += r.encode(&mut buf[at..]).unwrap();
        }
        let mut got = Vec::new();
        let mut rest = &buf[..at];
        while !rest.is_empty() {
            let (r, len) = Record::decode(rest).unwrap();
            got.push(r);
            rest = &rest[len..];
        }
        assert_eq!(got, [a, b, c]);
    }

    #[test]
    fn a_record_that_does_not_fit_is_not_encoded() {
        let r = record(b"a-long-service-name", b"");
        let mut small = [0u8; HEADER + 3];
        assert_eq!(r.encode(&mut small), None);
        let mut exact = [0u8; HEADER + 19];
        assert_eq!(r.encode(&mut exact), Some(HEADER + 19));
    }

    #[test]
    fn garbage_is_not_a_record() {
        let mut buf = [0u8; 64];
        let len = record(b"svc", b"").encode(&mut buf).unwrap();
        assert_eq!(Record::decode(&buf[..len - 1]), Err(Errno::EPROTO));
        assert_eq!(Record::decode(&buf[..HEADER - 1]), Err(Errno::EPROTO));
        let mut bad = buf;
        bad[2] = 77;
        assert_eq!(Record::decode(&bad[..len]), Err(Errno::EPROTO));
        let mut bad = buf;
        bad[28] = 200;
        assert_eq!(Record::decode(&bad[..len]), Err(Errno::EPROTO));
    }

    #[test]
    fn the_leaving_letters_are_t_i_q_and_b() {
        for l in b"tiqb" {
            assert!(leaves(&[b'a', *l]), "{}", *l as char);
        }
        assert!(!leaves(b"zahnN"));
        assert!(!leaves(b""));
    }

    #[test]
    fn messages_and_exit_codes() {
        let dir = Path::new("/run/service");
        let text = |e: ClientError| e.message(dir).to_string();
        assert_eq!(text(ClientError::TimedOut), "timed out");
        assert_eq!(ClientError::TimedOut.exit_code(), 99);
        assert_eq!(
            text(ClientError::Unsupported),
            "unable to control /run/service: supervisor does not take -w or -l \
             (nothing listens on /run/service/.s6-svscan/socket)"
        );
        assert_eq!(ClientError::Unsupported.exit_code(), 100);
        assert_eq!(
            text(ClientError::Control(ControlError::NotListening)),
            "unable to control /run/service: supervisor not listening"
        );
        assert_eq!(ClientError::Busy.exit_code(), 111);
    }

    #[test]
    fn a_missing_socket_with_nobody_on_the_fifo_is_not_listening() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(CONTROL_DIR)).unwrap();
        nix::unistd::mkfifo(
            &dir.path().join(crate::CONTROL_FIFO),
            Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let err = Connection::open(dir.path(), None).unwrap_err();
        assert_eq!(err, ClientError::Control(ControlError::NotListening));
        // A reader on the FIFO (a C s6-svscan) and no socket: unsupported, at once.
        let _reader = open(
            &dir.path().join(crate::CONTROL_FIFO),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .unwrap();
        let err = Connection::open(dir.path(), None).unwrap_err();
        assert_eq!(err, ClientError::Unsupported);
    }
}
