//! `.s6-svscan/event`, an ftrig fifodir (`svscan/src/events.rs`), with Debian's real s6 tools;
//! and what slow, dead or malicious clients of the events and of the socket cost: nothing.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use common::SVSCAN_EVENT_DIR;
use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, Outcome, program, real_s6, scenario};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags};
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, recv, send, socket,
};
use nix::sys::stat::Mode;

use crate::support::{ctl, ctl_ok, ours, supervisor_of};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(s6_ftrig_listen1_on_s_returns_after_the_rescan_and_its_start_pass),
    scenario!(s6_ftrig_listen1_on_x_returns_when_svscan_leaves),
    scenario!(a_subscriber_that_never_reads_and_a_dead_one_do_not_delay_a_rescan),
    scenario!(garbage_silent_and_surplus_clients_do_not_delay_a_rescan),
    scenario!(a_client_that_does_not_read_its_listing_does_not_delay_a_rescan),
    scenario!(a_connection_that_sends_nothing_is_closed_after_the_request_timeout),
];

/// "`s6-ftrig-listen1 DIR/.s6-svscan/event s s6-svscanctl -a DIR` returns after the rescan":
/// Debian's tools, unchanged; the `s` comes after the start pass, so the new service has its
/// supervisor when it returns.
fn s6_ftrig_listen1_on_s_returns_after_the_rescan_and_its_start_pass() -> Outcome {
    ours()?;
    let listen1 = real_s6("s6-ftrig-listen1")?;
    let c_ctl = real_s6("s6-svscanctl")?;
    let fx = Fixture::new();
    fx.service("old");
    let mut sv = fx.start();
    sv.wait_started("old");
    fx.service("new");
    let ran = program::run(
        std::process::Command::new(listen1)
            .args(["-t", "8000"])
            .arg(fx.path(SVSCAN_EVENT_DIR))
            .arg("s")
            .arg(c_ctl)
            .arg("-a")
            .arg(fx.scandir()),
        DEADLINE,
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "s\n");
    assert!(supervisor_of(sv.pid(), "new").is_some());
    Ok(())
}

/// "`x` when it leaves its loop": `s6-ftrig-listen1 … x svscanctl -t` prints it.
fn s6_ftrig_listen1_on_x_returns_when_svscan_leaves() -> Outcome {
    ours()?;
    let listen1 = real_s6("s6-ftrig-listen1")?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    sv.wait_started("a");
    let ran = program::run(
        std::process::Command::new(listen1)
            .args(["-t", "8000"])
            .arg(fx.path(SVSCAN_EVENT_DIR))
            .arg("x")
            .arg(integration_tests::binary("svscanctl"))
            .arg("-t")
            .arg(fx.scandir()),
        DEADLINE,
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    assert_eq!(ran.stdout, "x\n");
    assert!(sv.wait_exit(DEADLINE).success());
    Ok(())
}

/// "A subscriber that never reads must not block svscan (publishing is non-blocking; dead
/// subscribers' FIFOs are removed as s6 does)": a subscriber whose FIFO is full, and the FIFO
/// of one that died, do not delay a rescan; the dead one's FIFO is removed by it.
fn a_subscriber_that_never_reads_and_a_dead_one_do_not_delay_a_rescan() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    let mut sv = fx.start();
    let dir = fx.path(SVSCAN_EVENT_DIR);
    let stuck = common::ftrig::Subscriber::new(&dir).unwrap();
    // Filled to the brim: svscan's next write to it would block, were it blocking.
    let writer = open(
        stuck.path(),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .unwrap();
    let chunk = [b'?'; 4096];
    while nix::unistd::write(&writer, &chunk).is_ok() {}
    // A dead subscriber's FIFO (the right shape, nobody reading: killed by SIGKILL).
    let dead_path = dir.join("ftrig1:@400000006592123401020304:AAAAAA");
    nix::unistd::mkfifo(&dead_path, Mode::from_bits_truncate(0o600)).unwrap();
    prompt_rescans(&fx, Some(sv.pid()));
    assert!(
        stuck.path().exists(),
        "a live subscriber's FIFO was removed"
    );
    assert!(
        !dead_path.exists(),
        "the dead subscriber's FIFO is still there"
    );
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success());
    Ok(())
}

/// A raw client of `.s6-svscan/socket`.
fn connect_raw(fx: &Fixture) -> OwnedFd {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let addr = UnixAddr::new(&fx.path(common::SVSCAN_SOCKET)).unwrap();
    connect(fd.as_raw_fd(), &addr).unwrap();
    fd
}

/// Three services added, each with `-wa`, which returns promptly; with `svscan`'s pid, each
/// has its supervisor then.
fn prompt_rescans(fx: &Fixture, svscan: Option<i32>) {
    for i in 0..3 {
        let name = format!("new{i}");
        fx.service(&name);
        let (ran, took) = ctl(fx.scandir(), &["-T", "5000", "-wa"]);
        assert_eq!(ran.code, Some(0), "{ran:?}");
        assert!(took < Duration::from_secs(2), "a rescan took {took:?}");
        if let Some(svscan) = svscan {
            assert!(supervisor_of(svscan, &name).is_some(), "{name}");
        }
    }
}

/// Whether `fd` has something to read (or its end) within `ms` milliseconds.
fn readable(fd: &OwnedFd, ms: u16) -> bool {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    nix::poll::poll(&mut fds, ms).unwrap() == 1
}

/// Waits (with a deadline) for what svscan sends, or the end of the connection (empty).
fn answer(fd: &OwnedFd) -> Vec<u8> {
    let ms = u16::try_from(DEADLINE.as_millis()).unwrap_or(u16::MAX);
    assert!(readable(fd, ms), "svscan never answered");
    let mut buf = [0u8; 64];
    match recv(fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        Ok(n) => buf[..n].to_vec(),
        Err(Errno::ECONNRESET) => Vec::new(),
        Err(e) => panic!("recv: {e}"),
    }
}

/// "A slow, dead or malicious client (a non-reading socket, garbage requests ...) costs
/// svscan nothing and cannot stall it": garbage and a second request close the connection,
/// a client that never sends holds a slot and nothing else, and clients beyond the fixed
/// maximum are told busy; rescans go on meanwhile.
fn garbage_silent_and_surplus_clients_do_not_delay_a_rescan() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    fx.service("a");
    let mut sv = fx.start();
    sv.wait_started("a");
    for garbage in [&b"x"[..], b"wx", b"la", b"", &[b'w'; 80]] {
        let c = connect_raw(&fx);
        send(c.as_raw_fd(), garbage, MsgFlags::empty()).unwrap();
        assert_eq!(answer(&c), b"", "{garbage:?} was answered");
    }
    let twice = connect_raw(&fx);
    send(twice.as_raw_fd(), b"w", MsgFlags::empty()).unwrap();
    // svscan may have answered and closed already (EPIPE).
    let _ = send(twice.as_raw_fd(), b"w", MsgFlags::MSG_NOSIGNAL);
    let got = answer(&twice);
    assert!(got.is_empty() || got == b"k", "{got:?}");
    let silent = connect_raw(&fx);
    prompt_rescans(&fx, Some(sv.pid()));
    // Fill the other slots: the one beyond them is told busy.
    let mut held = vec![silent];
    let busy = loop {
        let c = connect_raw(&fx);
        if readable(&c, 100) {
            break answer(&c);
        }
        held.push(c);
        assert!(held.len() <= 64, "never told busy");
    };
    assert_eq!(busy, b"B");
    assert_eq!(held.len(), 32, "the fixed maximum of clients");
    let (ran, _) = ctl(fx.scandir(), &["-wa"]);
    assert_eq!(ran.code, Some(111), "{ran:?}");
    assert!(ran.stderr.ends_with(": too many clients\n"), "{ran:?}");
    drop(held);
    // The slots come back as the clients go (svscan sees them hang up).
    integration_tests::wait_until("a slot free again", DEADLINE, || {
        ctl(fx.scandir(), &["-wa"]).0.code == Some(0)
    });
    Ok(())
}

/// A client that asks for the listing and does not read it stalls only its own listing:
/// with 2000 long-named entries (more than a socket's buffer holds; no supervisor is
/// spawned: the supervise program is missing), rescans and other listings go on, and the
/// slow reader gets the whole table, entries added meanwhile included, once it reads.
fn a_client_that_does_not_read_its_listing_does_not_delay_a_rescan() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    let n = 2000;
    for i in 0..n {
        fx.service(&format!("{i:04}{}", "-".repeat(240)));
    }
    let _sv = fx
        .svscan()
        .args(["-C", "4000"])
        .supervise("/nonexistent/s6-supervise")
        .start();
    ctl_ok(fx.scandir(), &["-wa"]);
    let reader = connect_raw(&fx);
    send(reader.as_raw_fd(), b"l", MsgFlags::empty()).unwrap();
    prompt_rescans(&fx, None);
    let others = ctl_ok(fx.scandir(), &["-l"]).stdout;
    assert_eq!(others.lines().count(), n + 3);
    let mut listed = 0;
    let mut buf = vec![0u8; common::svscan_socket::MESSAGE_MAX];
    loop {
        assert!(readable(&reader, 10_000), "listing stalled");
        let len = recv(reader.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        match &buf[..len] {
            [b'e'] => break,
            [b'r', records @ ..] => {
                let mut records = records;
                while !records.is_empty() {
                    let (_, len) = common::svscan_socket::Record::decode(records).unwrap();
                    records = &records[len..];
                    listed += 1;
                }
            }
            other => panic!("unexpected message {other:?}"),
        }
    }
    // Appended after the cursor while the listing was stalled: so it did stall.
    assert_eq!(listed, n + 3);
    Ok(())
}

/// "Garbage and slow clients dropped": a connection that sends no request is closed after
/// svscan's request timeout (10 s), freeing its slot, without a wake-up before it.
fn a_connection_that_sends_nothing_is_closed_after_the_request_timeout() -> Outcome {
    ours()?;
    let fx = Fixture::new();
    let _sv = fx.start();
    let started = std::time::Instant::now();
    let silent = connect_raw(&fx);
    assert!(readable(&silent, 15_000), "never closed");
    assert_eq!(answer(&silent), b"");
    let took = started.elapsed();
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(14)).contains(&took),
        "closed after {took:?}"
    );
    Ok(())
}
