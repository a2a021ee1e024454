//! The 35-byte `supervise/status` file (SUPERVISE.md, "supervise/status"; s6's
//! `s6_svstatus_pack/unpack/read/write`): two TAI64N stamps, the pid, the raw wait status and
//! four flags, big-endian. Written by supervise at every change, atomically (`status.new`
//! then `rename`), read by svstat, svwait and `svc -w`; C tools read ours and we read theirs,
//! byte for byte.
//!
//! [`Status::write_in`] is on supervise's steady-state path: it allocates nothing (constant
//! relative paths, resolved against a directory fd, [`nix::fcntl::AT_FDCWD`] for supervise
//! which runs in the service directory; a stack buffer for the bytes).

use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, read, unlinkat};

use crate::tai::Tai64n;
use crate::write_all;

/// The size of the file (`S6_SVSTATUS_SIZE`).
pub const SIZE: usize = 35;
/// The status file, relative to the service directory (`S6_SVSTATUS_FILENAME`).
pub const STATUS_FILE: &str = "supervise/status";
/// The temporary name it is written under before the rename (skalibs
/// `openwritenclose_suffix(…, ".new")`).
pub const STATUS_NEW: &str = "supervise/status.new";

const PAUSED: u8 = 1;
const FINISHING: u8 = 2;
const WANTUP: u8 = 4;
const READY: u8 = 8;

/// The contents of `supervise/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// When the current state began (the last up/down change).
    pub stamp: Tai64n,
    /// When the service last became ready (up and ready, or down and ready to start).
    pub readystamp: Tai64n,
    /// run's pid while up, finish's while finishing, 0 when down.
    pub pid: u64,
    /// The raw wait status of run's last death (the low 16 bits of `waitpid`'s).
    pub wstat: u16,
    /// Stopped by `svc -p`.
    pub paused: bool,
    /// finish is running (then `pid` is finish's).
    pub finishing: bool,
    /// supervise wants the service up.
    pub wantup: bool,
    /// The readiness flag: up and ready, or down and ready to be started.
    pub ready: bool,
}

impl Status {
    /// The value before the first write (`S6_SVSTATUS_ZERO`): stamps 0, wantup and ready.
    pub const ZERO: Status = Status {
        stamp: Tai64n::ZERO,
        readystamp: Tai64n::ZERO,
        pid: 0,
        wstat: 0,
        paused: false,
        finishing: false,
        wantup: true,
        ready: true,
    };

    /// The external form (`s6_svstatus_pack`).
    pub fn pack(&self) -> [u8; SIZE] {
        let mut out = [0u8; SIZE];
        out[..12].copy_from_slice(&self.stamp.pack());
        out[12..24].copy_from_slice(&self.readystamp.pack());
        out[24..32].copy_from_slice(&self.pid.to_be_bytes());
        out[32..34].copy_from_slice(&self.wstat.to_be_bytes());
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        out[34] = flag(self.paused, PAUSED)
            | flag(self.finishing, FINISHING)
            | flag(self.wantup, WANTUP)
            | flag(self.ready, READY);
        out
    }

    /// The inverse of [`pack`](Self::pack) (`s6_svstatus_unpack`): the first 35 bytes, the
    /// rest ignored; fewer is `EPIPE` (what `s6_svstatus_read` says of a short file). Flag bits
    /// other than the four are ignored, as in C.
    pub fn unpack(bytes: &[u8]) -> Result<Status, Errno> {
        let b: &[u8; SIZE] = bytes
            .get(..SIZE)
            .and_then(|b| b.try_into().ok())
            .ok_or(Errno::EPIPE)?;
        let mut stamp = [0u8; 12];
        let mut readystamp = [0u8; 12];
        let mut pid = [0u8; 8];
        stamp.copy_from_slice(&b[..12]);
        readystamp.copy_from_slice(&b[12..24]);
        pid.copy_from_slice(&b[24..32]);
        let flags = b[34];
        Ok(Status {
            stamp: Tai64n::unpack(&stamp),
            readystamp: Tai64n::unpack(&readystamp),
            pid: u64::from_be_bytes(pid),
            wstat: u16::from_be_bytes([b[32], b[33]]),
            paused: flags & PAUSED != 0,
            finishing: flags & FINISHING != 0,
            wantup: flags & WANTUP != 0,
            ready: flags & READY != 0,
        })
    }

    /// Reads `service_dir/supervise/status` (`s6_svstatus_read`): open and read errors as
    /// they come (`ENOENT`…), a file shorter than 35 bytes is `EPIPE`.
    pub fn read(service_dir: &Path) -> Result<Status, Errno> {
        let fd = open(
            &service_path(service_dir, STATUS_FILE),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        read_status(&fd)
    }

    /// Reads `supervise/status` relative to the directory `dir` (or the current directory with
    /// [`nix::fcntl::AT_FDCWD`]), without allocating.
    pub fn read_in<Fd: AsFd>(dir: Fd) -> Result<Status, Errno> {
        let fd = openat(
            dir,
            STATUS_FILE,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        read_status(&fd)
    }

    /// Writes `supervise/status` relative to the directory `dir` ([`nix::fcntl::AT_FDCWD`] for the
    /// current one) as `s6_svstatus_write` does: `supervise/status.new` created or truncated
    /// (mode 0666 minus the umask), the 35 bytes, close, `rename` onto `supervise/status`; on
    /// a failure after the create, the `.new` is unlinked. No fsync, no allocation.
    pub fn write_in<Fd: AsFd>(&self, dir: Fd) -> Result<(), Errno> {
        let dir = dir.as_fd();
        let fd = openat(
            dir,
            STATUS_NEW,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )?;
        let bytes = self.pack();
        let written = write_all(&fd, &bytes);
        drop(fd);
        let result = written.and_then(|()| renameat(dir, STATUS_NEW, dir, STATUS_FILE));
        if result.is_err() {
            let _ = unlinkat(dir, STATUS_NEW, UnlinkatFlags::NoRemoveDir);
        }
        result
    }

    /// [`write_in`](Self::write_in) for `service_dir` given as a path.
    pub fn write(&self, service_dir: &Path) -> Result<(), Errno> {
        let dir = open(
            service_dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        self.write_in(&dir)
    }

    /// Up as s6 means it: a pid, and not finish's.
    pub fn is_up(&self) -> bool {
        self.pid != 0 && !self.finishing
    }

    /// The signal that killed run, if it was killed (`WIFSIGNALED`, `WTERMSIG`).
    pub fn term_signal(&self) -> Option<i32> {
        let sig = i32::from(self.wstat & 0x7f);
        // Linux: 0 is an exit, 0x7f a stop; anything else a death by that signal.
        (sig != 0 && sig != 0x7f).then_some(sig)
    }

    /// run's exit code (`WEXITSTATUS`: the second byte, whatever the status).
    pub fn exit_code(&self) -> u8 {
        (self.wstat >> 8) as u8
    }
}

/// `rel` in the service directory `dir`, spelled as C spells it: `DIR/rel`, whatever `DIR`
/// looks like (`Path::join` would make `""` + `down` a relative `down`, where C's `/down` is
/// at the root, and drop the double slash of `dir/` that s6's messages show).
pub fn service_path(dir: &Path, rel: &str) -> std::path::PathBuf {
    let mut path = dir.as_os_str().to_owned();
    path.push("/");
    path.push(rel);
    path.into()
}

fn read_status(fd: &std::os::fd::OwnedFd) -> Result<Status, Errno> {
    let mut buf = [0u8; SIZE];
    let mut len = 0;
    while len < SIZE {
        match read(fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Status::unpack(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> Status {
        Status {
            stamp: Tai64n {
                secs: 0x4000_0000_6592_1234,
                nanos: 0x0102_0304,
            },
            readystamp: Tai64n {
                secs: 0x4000_0000_6592_1235,
                nanos: 7,
            },
            pid: 0x0102_0304_0506_0708,
            wstat: 0x0f00,
            paused: true,
            finishing: false,
            wantup: true,
            ready: false,
        }
    }

    #[test]
    fn pack_lays_out_the_35_bytes_as_s6_svstatus_pack() {
        let p = sample().pack();
        assert_eq!(
            &p[..12],
            &[0x40, 0, 0, 0, 0x65, 0x92, 0x12, 0x34, 1, 2, 3, 4]
        );
        assert_eq!(
            &p[12..24],
            &[0x40, 0, 0, 0, 0x65, 0x92, 0x12, 0x35, 0, 0, 0, 7]
        );
        assert_eq!(&p[24..32], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&p[32..34], &[0x0f, 0x00]);
        assert_eq!(p[34], 1 | 4);
        let all = Status {
            paused: true,
            finishing: true,
            wantup: true,
            ready: true,
            ..sample()
        };
        assert_eq!(all.pack()[34], 15);
        assert_eq!(Status::ZERO.pack()[..34], [0u8; 34]);
        assert_eq!(Status::ZERO.pack()[34], 4 | 8);
    }

    #[test]
    fn unpack_inverts_pack_ignores_extra_bytes_and_bits_and_rejects_short_input() {
        let s = sample();
        assert_eq!(Status::unpack(&s.pack()), Ok(s));
        let mut long = s.pack().to_vec();
        long[34] |= 0xf0;
        long.extend_from_slice(b"trailing");
        assert_eq!(Status::unpack(&long), Ok(s));
        assert_eq!(Status::unpack(&s.pack()[..34]), Err(Errno::EPIPE));
        assert_eq!(Status::unpack(&[]), Err(Errno::EPIPE));
    }

    #[test]
    fn wait_status_helpers_follow_the_linux_encoding() {
        let exited = Status {
            wstat: 3 << 8,
            ..Status::ZERO
        };
        assert_eq!((exited.term_signal(), exited.exit_code()), (None, 3));
        let killed = Status {
            wstat: 15,
            ..Status::ZERO
        };
        assert_eq!(killed.term_signal(), Some(15));
        let cored = Status {
            wstat: 0x80 | 11,
            ..Status::ZERO
        };
        assert_eq!(cored.term_signal(), Some(11));
        assert!(
            !Status {
                pid: 5,
                finishing: true,
                ..Status::ZERO
            }
            .is_up()
        );
        assert!(
            Status {
                pid: 5,
                ..Status::ZERO
            }
            .is_up()
        );
    }

    #[test]
    fn write_renames_a_new_file_into_place_and_read_gets_it_back() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("supervise")).unwrap();
        let s = sample();
        s.write(dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join(STATUS_FILE)).unwrap(), s.pack());
        assert!(!dir.path().join(STATUS_NEW).exists());
        assert_eq!(Status::read(dir.path()), Ok(s));
        let fd = open(
            dir.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        assert_eq!(Status::read_in(&fd), Ok(s));
        // A second write replaces the inode (atomic for readers holding the old one).
        let before = fs::metadata(dir.path().join(STATUS_FILE)).unwrap();
        Status::ZERO.write_in(&fd).unwrap();
        let after = fs::metadata(dir.path().join(STATUS_FILE)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(before.ino(), after.ino());
        assert_eq!(Status::read(dir.path()), Ok(Status::ZERO));
    }

    #[test]
    fn service_paths_are_spelled_as_c_spells_them() {
        assert_eq!(service_path(Path::new("a"), "down"), Path::new("a/down"));
        assert_eq!(service_path(Path::new("a/"), "down").as_os_str(), "a//down");
        assert_eq!(service_path(Path::new(""), "down"), Path::new("/down"));
    }

    #[test]
    fn read_reports_missing_and_short_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Status::read(dir.path()), Err(Errno::ENOENT));
        fs::create_dir(dir.path().join("supervise")).unwrap();
        fs::write(dir.path().join(STATUS_FILE), [0u8; 34]).unwrap();
        assert_eq!(Status::read(dir.path()), Err(Errno::EPIPE));
    }

    #[test]
    fn a_failed_rename_leaves_no_new_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        // supervise/status is a non-empty directory: rename fails with ENOTEMPTY or EISDIR.
        fs::create_dir_all(dir.path().join("supervise/status/x")).unwrap();
        let err = sample().write(dir.path()).unwrap_err();
        assert!(matches!(err, Errno::EISDIR | Errno::ENOTEMPTY), "{err}");
        assert!(!dir.path().join(STATUS_NEW).exists());
    }

    #[test]
    fn the_new_file_is_created_0666_minus_umask() {
        let _serial = crate::umask_serial();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("supervise")).unwrap();
        sample().write(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(STATUS_FILE))
            .unwrap()
            .permissions()
            .mode();
        // The umask from /proc: setting it to read it would race with the other tests.
        let proc = fs::read_to_string("/proc/self/status").unwrap();
        let umask = proc
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .unwrap()
            .trim();
        let umask = u32::from_str_radix(umask, 8).unwrap();
        assert_eq!(mode & 0o777, 0o666 & !umask);
    }
}
