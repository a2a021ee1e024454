//! The fifodir event protocol (SUPERVISE.md, "ftrig: the fifodir event protocol"): a
//! directory of FIFOs, one per subscriber, named `ftrig1:@<24 hex>:<6 chars>` (39
//! characters). supervise publishes each event byte to every subscriber of `event/`
//! ([`notify`], s6's `ftrigw_notifyb_nosig`, which runs in supervise's steady state and so
//! allocates nothing) and cleans it at start-up ([`clean`], `ftrigw_clean` with the
//! 39-character **fix**); svwait and `svc -w` make the fifodir if needed ([`fifodir_make`],
//! `ftrigw_fifodir_make`) and subscribe ([`Subscriber`], `ftrig1_make` as s6-ftrigrd runs it,
//! with the 0622 **fix**). Both sides interoperate with C's.
//!
//! The subscriber hands over every byte it reads; callers test bytes. Every regular
//! expression s6's clients subscribe with (`[DuUdOx]` for svwait and s6-svlisten1) is a
//! one-byte class, for which s6-ftrigrd's matching reports exactly the listed bytes in order
//! and drops the others; so there is no regex engine here, and the empty-match **fix** (C
//! reads before its buffer and loops on a match of length 0) holds by construction: a byte
//! test cannot match nothing.

use std::ffi::{CStr, OsStr};
use std::hash::{BuildHasher, RandomState};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag, open, openat, renameat};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, fchmod, fchmodat, stat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, chown, mkdir, mkfifo, read, unlink, unlinkat, write};

use crate::sys;
use crate::tai::Tai64n;

/// supervise's fifodir, relative to the service directory (`S6_SUPERVISE_EVENTDIR`).
pub const EVENT_DIR: &str = "event";
/// What every subscriber's FIFO name starts with.
pub const PREFIX: &[u8] = b"ftrig1:@";
/// The length of a subscriber's FIFO name: `ftrig1:@`, 24 hex digits, `:`, 6 characters.
pub const NAME_LEN: usize = 39;
/// The characters of the random suffix (skalibs' `random_name`).
const SUFFIX_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz-_0123456789abcdef";

/// Publishes `bytes` to every subscriber of `fifodir` in one write each, as
/// `ftrigw_notifyb_nosig`: only names of the subscriber shape (`ftrig1:@`, 39 characters) are
/// opened, write-only and non-blocking; a FIFO with no reader (ENXIO) or whose reader went away
/// during the write (EPIPE) is unlinked; any other failure (EAGAIN: that subscriber's FIFO is
/// full) skips that subscriber, which misses the event. Returns how many subscribers got the
/// bytes; an error only when the directory cannot be opened or read. SIGPIPE must not kill
/// the caller (Rust ignores it by default; supervise catches it). No heap allocation.
pub fn notify(fifodir: &Path, bytes: &[u8]) -> Result<usize, Errno> {
    let dir = open_dir(fifodir)?;
    let dir = dir.as_fd();
    let mut count = 0;
    for_each_entry(dir, |name| {
        let n = name.to_bytes();
        if n.len() != NAME_LEN || !n.starts_with(PREFIX) {
            return;
        }
        match openat(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Err(Errno::ENXIO) => {
                let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
            }
            Err(_) => {}
            Ok(fd) => match write(&fd, bytes) {
                Ok(w) if w == bytes.len() => count += 1,
                Err(Errno::EPIPE) => {
                    let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
                }
                _ => {}
            },
        }
    })?;
    Ok(count)
}

/// Removes the FIFOs of dead subscribers (`ftrigw_clean`): each `ftrig1…` entry of the
/// subscriber length is opened write-only and non-blocking, and unlinked if nobody reads it
/// (ENXIO). **fix** 6d0c114: C 2.12 looks for 49-character names and so never cleans anything.
/// Errors: opening or reading the directory, or the last failed unlink.
pub fn clean(fifodir: &Path) -> Result<(), Errno> {
    let dir = open_dir(fifodir)?;
    let dir = dir.as_fd();
    let mut result = Ok(());
    for_each_entry(dir, |name| {
        let n = name.to_bytes();
        if n.len() != NAME_LEN || !n.starts_with(b"ftrig1") {
            return;
        }
        let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        if openat(dir, name, flags, Mode::empty()).err() == Some(Errno::ENXIO)
            && let Err(e) = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
        {
            result = Err(e);
        }
    })?;
    result
}

/// Makes the fifodir `path` (`ftrigw_fifodir_make`): `mkdir` 0700; when created, or when it
/// exists and `force` is set, its group becomes `gid` with mode 03730 (members may create
/// FIFOs, not list or remove others'), or with no group mode 01733 (public). An existing path
/// must be a directory (else ENOTDIR) owned by the real uid (else EACCES); without `force` it
/// is left as it is.
pub fn fifodir_make(path: &Path, gid: Option<Gid>, force: bool) -> Result<(), Errno> {
    match mkdir(path, Mode::S_IRWXU) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = stat(path)?;
            if st.st_uid != Uid::current().as_raw() {
                return Err(Errno::EACCES);
            }
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if !force {
                return Ok(());
            }
        }
        Err(e) => return Err(e),
    }
    if let Some(gid) = gid {
        chown(path, None, Some(gid))?;
    }
    let mode = if gid.is_some() { 0o3730 } else { 0o1733 };
    fchmodat(
        AT_FDCWD,
        path,
        Mode::from_bits_truncate(mode),
        FchmodatFlags::FollowSymlink,
    )
}

/// A subscription to a fifodir: a FIFO of the subscriber shape, read non-blocking, with a
/// write end held so that the reader never sees end-of-file when a publisher closes. Dropping
/// it unlinks the FIFO (a subscriber killed by SIGKILL leaves it behind for publishers to
/// remove).
#[derive(Debug)]
pub struct Subscriber {
    path: PathBuf,
    fd: OwnedFd,
    _write_end: OwnedFd,
}

impl Subscriber {
    /// Subscribes to `fifodir` as `ftrig1_make`: the FIFO is made under a dot-name (never
    /// written to by publishers, which only open full-length `ftrig1:@` names), opened for
    /// reading then for writing, and only then renamed to its final name, so that no
    /// publisher can find it before it is read. Mode **0622** (**fix** 6d0c114, C: 0600): a
    /// publisher running as another user can still open it. Any failure unlinks the FIFO and
    /// is returned (a missing fifodir: ENOENT).
    pub fn new(fifodir: &Path) -> Result<Subscriber, Errno> {
        let hasher = RandomState::new();
        let mut attempt: u32 = 0;
        loop {
            let mut name = [0u8; NAME_LEN + 1];
            name[0] = b'.';
            name[1..9].copy_from_slice(PREFIX);
            let now = Tai64n::now();
            name[9..33].copy_from_slice(&now.hex());
            name[33] = b':';
            let mut r = hasher.hash_one((std::process::id(), now, attempt));
            for c in &mut name[34..] {
                *c = SUFFIX_CHARS[(r & 63) as usize];
                r >>= 6;
            }
            let temp = fifodir.join(OsStr::from_bytes(&name));
            match mkfifo(&temp, Mode::from_bits_truncate(0o622)) {
                Ok(()) => {}
                Err(Errno::EEXIST) if attempt < 100 => {
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            }
            let path = fifodir.join(OsStr::from_bytes(&name[1..]));
            return Subscriber::open(&temp, path).inspect_err(|_| {
                let _ = unlink(&temp);
            });
        }
    }

    fn open(temp: &Path, path: PathBuf) -> Result<Subscriber, Errno> {
        let fd = open(
            temp,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let write_end = open(
            temp,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        // mkfifo's mode went through the umask; the FIFO must be exactly 0622.
        fchmod(&fd, Mode::from_bits_truncate(0o622))?;
        renameat(AT_FDCWD, temp, AT_FDCWD, &path)?;
        Ok(Subscriber {
            path,
            fd,
            _write_end: write_end,
        })
    }

    /// The FIFO's read end, to poll for input.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The FIFO's path in the fifodir.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what has arrived, without blocking, and hands `f` each byte in order. Reads at
    /// most 32 chunks per call (as s6-ftrigrd) so that a flooding publisher cannot hold the
    /// caller; poll is level-triggered, so the rest is read on the next call. A read error is
    /// returned and ends the subscription's usefulness.
    pub fn read(&mut self, mut f: impl FnMut(u8)) -> Result<(), Errno> {
        let mut buf = [0u8; 64];
        for _ in 0..32 {
            match read(&self.fd, &mut buf) {
                // Cannot happen while we hold a write end; nothing more to read anyway.
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => buf[..n].iter().for_each(|&b| f(b)),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = unlink(&self.path);
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Calls `f` with the name of each entry of `dir` (`.` and `..` included), reading the
/// records into a stack buffer: no allocation.
fn for_each_entry(dir: BorrowedFd<'_>, mut f: impl FnMut(&CStr)) -> Result<(), Errno> {
    #[repr(C, align(8))]
    struct Buf([u8; 2048]);
    let mut buf = Buf([0; 2048]);
    loop {
        let n = match sys::getdents64(dir, &mut buf.0) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        };
        let mut records = &buf.0[..n.min(buf.0.len())];
        // linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name (NUL-ended).
        while records.len() >= 19 {
            let reclen = usize::from(u16::from_ne_bytes([records[16], records[17]]));
            if reclen < 19 || reclen > records.len() {
                return Err(Errno::EIO);
            }
            if let Ok(name) = CStr::from_bytes_until_nul(&records[19..reclen]) {
                f(name);
            }
            records = &records[reclen..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn drain(s: &mut Subscriber) -> Vec<u8> {
        let mut got = Vec::new();
        s.read(|b| got.push(b)).unwrap();
        got
    }

    #[test]
    fn a_subscriber_is_a_0622_fifo_named_ftrig1_at_24_hex_colon_6_chars() {
        let dir = tempfile::tempdir().unwrap();
        let s = Subscriber::new(dir.path()).unwrap();
        let listed = names(dir.path());
        assert_eq!(listed.len(), 1, "{listed:?}");
        let name = &listed[0];
        assert_eq!(name.len(), NAME_LEN);
        assert!(name.starts_with("ftrig1:@"));
        assert!(
            name[8..32]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(&name[32..33], ":");
        assert!(name[33..].bytes().all(|b| SUFFIX_CHARS.contains(&b)));
        assert_eq!(s.path(), dir.path().join(name));
        let meta = fs::metadata(s.path()).unwrap();
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o622);
        // The stamp is now's: within a few seconds of the wall clock.
        let mut packed = [0u8; 12];
        for (i, p) in packed.iter_mut().enumerate() {
            *p = u8::from_str_radix(&name[8 + 2 * i..10 + 2 * i], 16).unwrap();
        }
        let stamp = Tai64n::unpack(&packed);
        assert!(Tai64n::now().secs_since(stamp) < 5);
        drop(s);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn subscribing_to_a_missing_fifodir_is_enoent_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let err = Subscriber::new(&dir.path().join("nope")).unwrap_err();
        assert_eq!(err, Errno::ENOENT);
    }

    #[test]
    fn notify_reaches_every_subscriber_in_one_write_and_read_delivers_bytes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Subscriber::new(dir.path()).unwrap();
        let mut b = Subscriber::new(dir.path()).unwrap();
        assert!(drain(&mut a).is_empty());
        assert_eq!(notify(dir.path(), b"s"), Ok(2));
        assert_eq!(notify(dir.path(), b"dD"), Ok(2));
        assert_eq!(drain(&mut a), b"sdD");
        assert_eq!(drain(&mut b), b"sdD");
        // After the publisher closed, the held write end keeps EOF away: nothing, no error.
        assert!(drain(&mut a).is_empty());
    }

    #[test]
    fn notify_skips_other_names_and_unlinks_readerless_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        // A dead subscriber's FIFO (right shape, nobody reads it): unlinked.
        let dead = p.join("ftrig1:@400000006592123401020304:AAAAAA");
        mkfifo(&dead, Mode::from_bits_truncate(0o600)).unwrap();
        // A temporary dot-name and a wrong-length name: left alone, never written.
        let dot = p.join(".ftrig1:@400000006592123401020304:BBBBBB");
        mkfifo(&dot, Mode::from_bits_truncate(0o600)).unwrap();
        let long = p.join("ftrig1:@400000006592123401020304:CCCCCCC");
        mkfifo(&long, Mode::from_bits_truncate(0o600)).unwrap();
        fs::write(p.join("ftrig1:@40000000659212340102030x:regular"), b"").unwrap();
        let mut live = Subscriber::new(p).unwrap();
        assert_eq!(notify(p, b"u"), Ok(1));
        assert_eq!(drain(&mut live), b"u");
        assert!(!dead.exists());
        assert!(dot.exists() && long.exists());
    }

    #[test]
    fn notify_on_a_missing_fifodir_fails_quietly() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(notify(&dir.path().join("nope"), b"x"), Err(Errno::ENOENT));
    }

    #[test]
    fn a_full_subscriber_misses_events_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Subscriber::new(dir.path()).unwrap();
        let chunk = [b'u'; 4096];
        let mut sent = 0;
        while notify(dir.path(), &chunk) == Ok(1) {
            sent += 1;
            assert!(sent < 10_000, "the FIFO never filled");
        }
        assert_eq!(notify(dir.path(), b"d"), Ok(0));
        assert!(s.path().exists());
        let mut total = 0;
        let mut last = 0;
        loop {
            let before = total;
            s.read(|b| {
                total += 1;
                last = b;
            })
            .unwrap();
            if total == before {
                break;
            }
        }
        assert_eq!(total, sent * chunk.len());
        assert_eq!(last, b'u');
    }

    #[test]
    fn clean_unlinks_readerless_39_character_fifos_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let dead = p.join("ftrig1:@400000006592123401020304:AAAAAA");
        mkfifo(&dead, Mode::from_bits_truncate(0o600)).unwrap();
        // The 49-character shape C 2.12 looked for: not a subscriber name, left alone.
        let c212 = p.join("ftrig1:@400000006592123401020304:AAAAAAAAAAAAAAAA");
        mkfifo(&c212, Mode::from_bits_truncate(0o600)).unwrap();
        let live = Subscriber::new(p).unwrap();
        clean(p).unwrap();
        assert!(!dead.exists());
        assert!(c212.exists());
        assert!(live.path().exists());
        assert_eq!(clean(&p.join("nope")), Err(Errno::ENOENT));
    }

    #[test]
    fn many_entries_are_all_seen_across_several_getdents_calls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for i in 0..300 {
            fs::write(
                p.join(format!("filler-with-a-long-name-to-fill-the-buffer-{i:04}")),
                b"",
            )
            .unwrap();
        }
        let mut subs: Vec<Subscriber> = (0..5).map(|_| Subscriber::new(p).unwrap()).collect();
        assert_eq!(notify(p, b"U"), Ok(5));
        for s in &mut subs {
            assert_eq!(drain(s), b"U");
        }
        let fd = open_dir(p).unwrap();
        let mut n = 0;
        for_each_entry(fd.as_fd(), |_| n += 1).unwrap();
        assert_eq!(n, 300 + 5 + 2);
    }

    #[test]
    fn fifodir_make_creates_03730_with_a_group_or_01733_without() {
        let dir = tempfile::tempdir().unwrap();
        let with = dir.path().join("with");
        let gid = Gid::effective();
        fifodir_make(&with, Some(gid), false).unwrap();
        let meta = fs::metadata(&with).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o3730);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.gid(), gid.as_raw());
        let without = dir.path().join("without");
        fifodir_make(&without, None, false).unwrap();
        assert_eq!(
            fs::metadata(&without).unwrap().permissions().mode() & 0o7777,
            0o1733
        );
        // Existing: left as is without force, redone with it.
        fs::set_permissions(&with, fs::Permissions::from_mode(0o755)).unwrap();
        fifodir_make(&with, Some(gid), false).unwrap();
        assert_eq!(
            fs::metadata(&with).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        fifodir_make(&with, Some(gid), true).unwrap();
        assert_eq!(
            fs::metadata(&with).unwrap().permissions().mode() & 0o7777,
            0o3730
        );
        // Not a directory.
        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        assert_eq!(fifodir_make(&file, None, false), Err(Errno::ENOTDIR));
        assert_eq!(
            fifodir_make(&dir.path().join("no/such"), None, false),
            Err(Errno::ENOENT)
        );
    }
}
