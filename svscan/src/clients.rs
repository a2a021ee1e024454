//! svscan's request socket (beyond s6): `.s6-svscan/socket`, for `svscanctl -w` and `-l`. The
//! protocol is `common::svscan_socket`; this is the server: the listener, made beside the
//! control FIFO at start-up, and a fixed set of connections served by the one loop.
//!
//! A connection is accepted, sends one request, and is then one of: waiting for its letters'
//! effects (see `acks`), answered at the end of the turn that reaches them; leaving (its
//! letters make svscan leave), answered by its end at svscan's exec or exit, after the lock
//! (the kernel closes descriptors in increasing order, and connections are numbered above
//! the lock's); or being sent the table, as much per turn as its socket
//! takes, from a cursor (a slot number), so that a client that does not read costs a
//! non-blocking `send` that fails, and nothing while svscan is idle.
//!
//! What a bad client can do costs svscan nothing: every descriptor is non-blocking and
//! close-on-exec, no write ever blocks, there are at most [`MAX_CLIENTS`] connections in a
//! fixed array (no heap per client; one more is told [`BUSY`] and closed), a malformed request
//! or anything sent after the request closes the connection, a connection that sends no
//! request within [`REQUEST_TIMEOUT`] or takes nothing of its listing for [`STALL_TIMEOUT`] is
//! closed. Those two timers exist only while such a connection does: idle wake-ups stay 0.
//! Letters are acted on exactly as FIFO bytes, after the FIFO's in the same turn.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use common::SVSCAN_SOCKET;
use common::control::SvscanCommand;
use common::svscan_socket::{
    BUSY, DONE, END, LIST, MAX_LETTERS, RECORDS, REQUEST_MAX, WAIT, leaves,
};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, bind, listen, recv, send,
};
use nix::sys::stat::{Mode, SFlag, lstat, umask};

use crate::acks::Awaited;
use crate::daemon::Svscan;
use crate::listing::View;
use crate::sys;

/// The most connections served at once.
pub const MAX_CLIENTS: usize = 32;
/// A connection must send its request this soon.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A listing client must take some of it this often.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// After accept fails for lack of descriptors, the listener rests this long (it stays
/// readable: polling it at once would spin).
const ACCEPT_RETRY: Duration = Duration::from_secs(1);
/// The most listing messages sent to one client in one turn, so that a fast reader of a huge
/// table does not hold the loop.
const LISTING_BURST: usize = 64;
/// The size of a listing message: far below any socket's send buffer (a message larger than
/// the buffer is refused, EMSGSIZE), and above the longest record (two names of `-L` + 4).
const LISTING_MESSAGE: usize = 4096;

/// A connection's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted; its request has not come.
    Connected { deadline: Instant },
    /// Its letters were acted on; answered when these counts are reached.
    Waiting(Awaited),
    /// Its letters make svscan leave: answered by the connection's end.
    Leaving,
    /// Being sent the table: the next slot, whether the scan stop went out, and the last
    /// time the socket took a message.
    Listing {
        cursor: u32,
        stop_sent: bool,
        progress: Instant,
    },
}

#[derive(Debug)]
struct Conn {
    fd: OwnedFd,
    phase: Phase,
    /// What the last poll said of it.
    revents: PollFlags,
}

/// The listener and the connections.
#[derive(Debug)]
pub struct Clients {
    listener: Option<OwnedFd>,
    /// The lock's descriptor: connections are numbered above it (`sys::accept`).
    lock_fd: RawFd,
    /// Set after accept ran out of descriptors: the listener is not polled until then.
    resting: Option<Instant>,
    listener_ready: bool,
    /// The listener reported a condition that accept cannot clear (poll would spin on it).
    listener_broken: bool,
    conns: [Option<Conn>; MAX_CLIENTS],
}

/// Makes the socket `.s6-svscan/socket` (svscan's cwd is the scan directory, and it holds the
/// lock, so an existing socket is a dead svscan's) and listens on it: mode 0600 from birth
/// (bound under umask 0177), non-blocking, close-on-exec.
///
/// # Errors
/// EEXIST when the name is taken by something that is not a socket; the errno of the failing
/// call.
pub fn listen_socket() -> Result<OwnedFd, Errno> {
    match lstat(SVSCAN_SOCKET) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFSOCK => {
            nix::unistd::unlink(SVSCAN_SOCKET)?;
        }
        Ok(_) => return Err(Errno::EEXIST),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let fd = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = UnixAddr::new(SVSCAN_SOCKET)?;
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = bind(fd.as_raw_fd(), &addr);
    umask(old);
    bound?;
    listen(&fd, Backlog::new(MAX_CLIENTS as i32)?)?;
    Ok(fd)
}

impl Clients {
    #[must_use]
    /// The connections of `listener`, numbered above the lock's descriptor `lock_fd`.
    pub fn new(listener: Option<OwnedFd>, lock_fd: RawFd) -> Self {
        Clients {
            listener,
            lock_fd,
            resting: None,
            listener_ready: false,
            listener_broken: false,
            conns: [const { None }; MAX_CLIENTS],
        }
    }

    /// Fills `out` with what to poll (the listener, then each connection) and returns how
    /// many; `out` must hold `1 + MAX_CLIENTS`.
    pub fn poll_fds<'a>(&'a self, out: &mut [PollFd<'a>]) -> usize {
        let mut n = 0;
        if let Some(l) = &self.listener
            && self.resting.is_none()
        {
            out[n] = PollFd::new(l.as_fd(), PollFlags::POLLIN);
            n += 1;
        }
        for c in self.conns.iter().flatten() {
            let events = match c.phase {
                Phase::Listing { .. } => PollFlags::POLLIN | PollFlags::POLLOUT,
                _ => PollFlags::POLLIN,
            };
            out[n] = PollFd::new(c.fd.as_fd(), events);
            n += 1;
        }
        n
    }

    /// Takes the poll's results, in [`Clients::poll_fds`]'s order.
    pub fn set_revents(&mut self, revents: &[PollFlags]) {
        let mut it = revents.iter().copied();
        self.listener_ready = false;
        if self.listener.is_some() && self.resting.is_none() {
            let r = it.next().unwrap_or(PollFlags::empty());
            self.listener_ready = r.intersects(PollFlags::POLLIN | PollFlags::POLLERR);
            self.listener_broken = r.intersects(PollFlags::POLLHUP | PollFlags::POLLNVAL);
        }
        for c in self.conns.iter_mut().flatten() {
            c.revents = it.next().unwrap_or(PollFlags::empty());
        }
    }

    /// The earliest timer of a connection or of the resting listener.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        let conns = self.conns.iter().flatten().filter_map(|c| match c.phase {
            Phase::Connected { deadline } => Some(deadline),
            Phase::Listing { progress, .. } => Some(progress + STALL_TIMEOUT),
            Phase::Waiting(_) | Phase::Leaving => None,
        });
        conns.chain(self.resting).min()
    }

    /// Accepts what is pending: each into a free slot, or told [`BUSY`] and closed.
    fn accept(&mut self, now: Instant) {
        if self.resting.is_some_and(|t| t <= now) {
            self.resting = None;
        }
        if std::mem::take(&mut self.listener_broken) {
            common::warn!("{SVSCAN_SOCKET} hung up: svscanctl -w and -l will not be answered");
            self.listener = None;
            return;
        }
        if !std::mem::take(&mut self.listener_ready) {
            return;
        }
        let Some(listener) = &self.listener else {
            return;
        };
        loop {
            let fd = match sys::accept(listener, self.lock_fd) {
                Ok(fd) => fd,
                Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                Err(Errno::EAGAIN) => return,
                Err(e) => {
                    if matches!(
                        e,
                        Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM
                    ) {
                        common::warn!(
                            "unable to accept a client on {SVSCAN_SOCKET}: {}",
                            common::diag::SysErr(e)
                        );
                    }
                    self.resting = Some(now + ACCEPT_RETRY);
                    return;
                }
            };
            match self.conns.iter_mut().find(|c| c.is_none()) {
                Some(free) => {
                    *free = Some(Conn {
                        fd,
                        phase: Phase::Connected {
                            deadline: now + REQUEST_TIMEOUT,
                        },
                        revents: PollFlags::empty(),
                    });
                }
                None => {
                    let _ = send(fd.as_raw_fd(), &[BUSY], flags());
                }
            }
        }
    }
}

/// Every send is non-blocking and never raises SIGPIPE.
fn flags() -> MsgFlags {
    MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL
}

/// A valid request: `w` and command letters, or `l`.
enum Request<'a> {
    Wait(&'a [u8]),
    List,
}

fn parse(request: &[u8]) -> Option<Request<'_>> {
    match request {
        [WAIT, letters @ ..]
            if letters.len() <= MAX_LETTERS
                && letters
                    .iter()
                    .all(|&b| SvscanCommand::from_byte(b).is_some()) =>
        {
            Some(Request::Wait(letters))
        }
        [LIST] => Some(Request::List),
        _ => None,
    }
}

/// What a connection said since the last turn.
enum Heard {
    Nothing,
    Request([u8; REQUEST_MAX], usize),
    /// Closed, broken, or not speaking the protocol: drop it.
    Gone,
}

fn hear(c: &Conn) -> Heard {
    let broken = PollFlags::POLLERR | PollFlags::POLLNVAL;
    if c.revents.intersects(broken) {
        return Heard::Gone;
    }
    if !c.revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) {
        return Heard::Nothing;
    }
    let mut buf = [0u8; REQUEST_MAX];
    // MSG_TRUNC: the length of the whole message, so that an oversized one is refused.
    match recv(
        c.fd.as_raw_fd(),
        &mut buf,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
    ) {
        Ok(n) if n > 0 && n <= REQUEST_MAX && matches!(c.phase, Phase::Connected { .. }) => {
            Heard::Request(buf, n)
        }
        Err(Errno::EAGAIN | Errno::EINTR) if !c.revents.contains(PollFlags::POLLHUP) => {
            Heard::Nothing
        }
        // End of file, an error, too long, or more than one request.
        _ => Heard::Gone,
    }
}

impl Svscan {
    /// Accepts connections and acts on the requests that came (the letters as FIFO bytes).
    /// Never inlined, nor [`Svscan::serve_clients`] and [`send_listing`]: their buffers and
    /// the moved connection array would sit in the loop's frame, deepening the stack that
    /// every other step's frames are under (dirty stack pages stay for the process's life).
    #[inline(never)]
    pub fn handle_clients(&mut self, now: Instant) {
        self.clients.accept(now);
        for i in 0..MAX_CLIENTS {
            let Some(c) = &self.clients.conns[i] else {
                continue;
            };
            let heard = hear(c);
            let hung_up = c.revents.contains(PollFlags::POLLHUP);
            let phase = match heard {
                Heard::Nothing => continue,
                Heard::Gone => None,
                Heard::Request(buf, n) => match parse(&buf[..n]) {
                    Some(Request::Wait(letters)) => {
                        for &b in letters {
                            self.command(b);
                        }
                        // A client that wrote and went away still had its commands run, as
                        // a FIFO writer does; only its answer is dropped.
                        (!hung_up).then(|| {
                            if leaves(letters) {
                                Phase::Leaving
                            } else {
                                Phase::Waiting(self.progress.awaited(letters))
                            }
                        })
                    }
                    Some(Request::List) => (!hung_up).then_some(Phase::Listing {
                        cursor: 0,
                        stop_sent: false,
                        progress: now,
                    }),
                    None => None,
                },
            };
            match (phase, &mut self.clients.conns[i]) {
                (Some(phase), Some(c)) => {
                    c.phase = phase;
                    c.revents = PollFlags::empty();
                }
                (_, slot) => *slot = None,
            }
        }
    }

    /// The end of a turn: answers the connections whose letters have taken effect, sends
    /// what the listing ones take, and closes those whose time is up.
    #[inline(never)]
    pub fn serve_clients(&mut self, now: Instant) {
        // Out of `self` while the rest of it is viewed (a move of the fixed array).
        let mut conns = std::mem::replace(&mut self.clients.conns, [const { None }; MAX_CLIENTS]);
        let view = self.view(now);
        for slot in &mut conns {
            let Some(c) = slot else { continue };
            let keep = match &mut c.phase {
                Phase::Connected { deadline } => *deadline > now,
                Phase::Waiting(awaited) => {
                    if self.progress.reached(awaited) {
                        let _ = send(c.fd.as_raw_fd(), &[DONE], flags());
                        false
                    } else {
                        true
                    }
                }
                Phase::Leaving => true,
                Phase::Listing {
                    cursor,
                    stop_sent,
                    progress,
                } => match send_listing(&c.fd, &view, cursor, stop_sent) {
                    Sent::Close => false,
                    Sent::Some => {
                        *progress = now;
                        true
                    }
                    Sent::Nothing => *progress + STALL_TIMEOUT > now,
                },
            };
            if !keep {
                *slot = None;
            }
        }
        self.clients.conns = conns;
    }
}

/// How a listing turn went.
enum Sent {
    /// The end went out, or the connection broke: close it.
    Close,
    /// Some messages went, more are left.
    Some,
    /// The socket took nothing.
    Nothing,
}

/// Sends the table from `cursor` in messages of whole records, as many as the socket takes
/// (at most [`LISTING_BURST`]), then the scan stop and the end. The cursor moves only past
/// what was sent.
#[inline(never)]
fn send_listing(fd: &OwnedFd, view: &View<'_>, cursor: &mut u32, stop_sent: &mut bool) -> Sent {
    let mut buf = [0u8; LISTING_MESSAGE];
    let end = view.table.slot_range().end;
    let mut sent_any = false;
    for _ in 0..LISTING_BURST {
        buf[0] = RECORDS;
        let mut len = 1;
        let mut next = *cursor;
        while next < end {
            if let Some(r) = view.entry(next) {
                let Some(n) = r.encode(&mut buf[len..]) else {
                    break;
                };
                len += n;
            }
            next += 1;
        }
        let mut stop = *stop_sent;
        if next == end && !stop {
            match view.scan_stop() {
                None => stop = true,
                Some(r) => {
                    if let Some(n) = r.encode(&mut buf[len..]) {
                        len += n;
                        stop = true;
                    }
                }
            }
        }
        let message: &[u8] = if len > 1 {
            &buf[..len]
        } else if next == end && stop {
            &[END]
        } else {
            // Cannot happen: records are shorter than a message, so an empty buffer takes
            // the next one.
            return Sent::Close;
        };
        match send(fd.as_raw_fd(), message, flags()) {
            Ok(_) if message == [END] => return Sent::Close,
            Ok(_) => {
                sent_any = true;
                *cursor = next;
                *stop_sent = stop;
            }
            Err(Errno::EAGAIN | Errno::ENOBUFS) => break,
            Err(Errno::EINTR) => {}
            Err(_) => return Sent::Close,
        }
    }
    if sent_any { Sent::Some } else { Sent::Nothing }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::svscan_socket::{MESSAGE_MAX, Record, State};
    use nix::sys::socket::socketpair;

    fn pair() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )
        .unwrap()
    }

    fn recv_all(fd: &OwnedFd) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; MESSAGE_MAX];
        while let Ok(n) = recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            if n == 0 {
                break;
            }
            out.push(buf[..n].to_vec());
        }
        out
    }

    #[test]
    fn requests_are_w_with_command_letters_or_l() {
        assert!(matches!(parse(b"wazn"), Some(Request::Wait(b"azn"))));
        assert!(matches!(parse(b"w"), Some(Request::Wait(b""))));
        assert!(matches!(parse(b"l"), Some(Request::List)));
        assert!(parse(b"wx").is_none());
        assert!(parse(b"la").is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"?").is_none());
        let mut long = vec![WAIT];
        long.extend([b'a'; MAX_LETTERS + 1]);
        assert!(parse(&long).is_none());
    }

    #[test]
    fn a_listing_goes_out_in_whole_records_then_the_end_and_waits_for_a_full_socket() {
        use crate::table::{DevIno, Entry, Table};
        let now = Instant::now();
        let mut table = Table::new(1000);
        for i in 0..600u64 {
            let name = format!("service-with-a-longish-name-{i:04}");
            table
                .insert(Entry::new(DevIno { dev: 1, ino: i }), name.as_bytes(), now)
                .unwrap();
        }
        let stop = crate::listing::ScanStop::new();
        let view = View {
            table: &table,
            now,
            spawn_failure: None,
            scan_stop: &stop,
            scan_deadline: None,
            start_deadline: None,
        };
        let (ours, theirs) = pair();
        // A small send buffer, so that the listing does not fit at once.
        nix::sys::socket::setsockopt(&ours, nix::sys::socket::sockopt::SndBuf, &16384).unwrap();
        let (mut cursor, mut stop_sent) = (0, false);
        let mut names = Vec::new();
        let mut ended = false;
        let mut turns = 0;
        for _ in 0..1000 {
            turns += 1;
            let _ = send_listing(&ours, &view, &mut cursor, &mut stop_sent);
            for m in recv_all(&theirs) {
                if m == [END] {
                    ended = true;
                    continue;
                }
                assert_eq!(m[0], RECORDS);
                let mut rest = &m[1..];
                while !rest.is_empty() {
                    let (r, len): (Record<'_>, usize) = Record::decode(rest).unwrap();
                    assert_eq!(r.state, State::New);
                    names.push(String::from_utf8(r.name.to_vec()).unwrap());
                    rest = &rest[len..];
                }
            }
            if ended {
                break;
            }
        }
        assert!(ended, "the listing never ended");
        assert!(
            turns > 1,
            "the socket took the whole listing at once: the test is blind"
        );
        assert_eq!(names.len(), 600);
        assert_eq!(names[599], "service-with-a-longish-name-0599");
    }
}
