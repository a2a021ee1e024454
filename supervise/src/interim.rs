//! INTERIM stand-ins for the `common` modules that other branches are writing (PLAN.md's
//! shared API: `tai`, `status`, `ftrig`, `sig` from "clients"; `control`, `ctldir`, `lock`,
//! `spawn` from "common-core"), with the names fixed there, so that supervise builds and runs
//! before they land. Each goes as soon as the real one is merged; none may stay.

pub mod diag {
    //! supervise's PROG (`NAME-RUN-AS DIR`, which contains a `/` for `svc/log`, so it cannot
    //! go through `common::diag::set_program_name`, which keeps a base name).
    use std::fmt::{self, Write as _};
    use std::sync::RwLock;

    static PROG: RwLock<&'static str> = RwLock::new("supervise");

    pub fn set_prog(prog: &str) {
        if let Ok(mut p) = PROG.write() {
            *p = Box::leak(prog.to_owned().into_boxed_str());
        }
    }

    #[must_use]
    pub fn prog() -> &'static str {
        PROG.read().map_or("supervise", |p| *p)
    }

    struct Line {
        buf: [u8; 4096],
        len: usize,
    }

    impl fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = self.buf.len() - 1 - self.len;
            let n = s.len().min(room);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    fn emit(kind: &str, message: fmt::Arguments<'_>) {
        let mut line = Line {
            buf: [0; 4096],
            len: 0,
        };
        let _ = write!(line, "{}: {kind}: ", prog());
        let _ = line.write_fmt(message);
        line.buf[line.len] = b'\n';
        line.len += 1;
        let _ = nix::unistd::write(std::io::stderr(), &line.buf[..line.len]);
    }

    pub fn warn(message: fmt::Arguments<'_>) {
        emit("warning", message);
    }

    pub fn fatal(code: i32, message: fmt::Arguments<'_>) -> ! {
        emit("fatal", message);
        std::process::exit(code)
    }

    pub fn usage(usage: &str) -> ! {
        emit("usage", format_args!("{usage}"));
        std::process::exit(100)
    }
}

pub mod tai {
    use std::time::{SystemTime, UNIX_EPOCH};

    /// A TAI64N stamp.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Tai64n {
        pub secs: u64,
        pub nanos: u32,
    }

    impl Tai64n {
        #[must_use]
        pub fn now() -> Tai64n {
            let d = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Tai64n {
                secs: (1u64 << 62) + 10 + 27 + d.as_secs(),
                nanos: d.subsec_nanos(),
            }
        }

        #[must_use]
        pub fn pack(self) -> [u8; 12] {
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&self.secs.to_be_bytes());
            b[8..].copy_from_slice(&self.nanos.to_be_bytes());
            b
        }
    }
}

pub mod status {
    use std::os::fd::AsFd;

    use nix::errno::Errno;
    use nix::fcntl::{OFlag, open, renameat};
    use nix::sys::stat::Mode;
    use nix::unistd::{unlink, write};

    use super::tai::Tai64n;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Status {
        pub stamp: Tai64n,
        pub readystamp: Tai64n,
        pub pid: u64,
        pub wstat: u16,
        pub paused: bool,
        pub finishing: bool,
        pub wantup: bool,
        pub ready: bool,
    }

    impl Status {
        pub const ZERO: Status = Status {
            stamp: Tai64n { secs: 0, nanos: 0 },
            readystamp: Tai64n { secs: 0, nanos: 0 },
            pid: 0,
            wstat: 0,
            paused: false,
            finishing: false,
            wantup: true,
            ready: true,
        };

        #[must_use]
        pub fn pack(&self) -> [u8; 35] {
            let mut b = [0u8; 35];
            b[..12].copy_from_slice(&self.stamp.pack());
            b[12..24].copy_from_slice(&self.readystamp.pack());
            b[24..32].copy_from_slice(&self.pid.to_be_bytes());
            b[32..34].copy_from_slice(&self.wstat.to_be_bytes());
            b[34] = u8::from(self.paused)
                | u8::from(self.finishing) << 1
                | u8::from(self.wantup) << 2
                | u8::from(self.ready) << 3;
            b
        }

        /// Writes `supervise/status` relative to the cwd, atomically.
        ///
        /// # Errors
        /// The errno of the failed step.
        pub fn write_in_cwd(&self) -> Result<(), Errno> {
            let tmp = c"supervise/status.new";
            let fd = open(
                tmp,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o666),
            )?;
            let r = write(fd.as_fd(), &self.pack());
            drop(fd);
            let r = match r {
                Ok(35) => renameat(
                    nix::fcntl::AT_FDCWD,
                    tmp,
                    nix::fcntl::AT_FDCWD,
                    c"supervise/status",
                ),
                Ok(_) => Err(Errno::EIO),
                Err(e) => Err(e),
            };
            if r.is_err() {
                let _ = unlink(tmp);
            }
            r
        }
    }
}

pub mod ftrig {
    use std::os::fd::AsFd;

    use nix::dir::Dir;
    use nix::errno::Errno;
    use nix::fcntl::{OFlag, openat};
    use nix::sys::stat::Mode;
    use nix::unistd::{UnlinkatFlags, unlinkat, write};

    fn is_subscriber(name: &[u8]) -> bool {
        name.len() == 39 && name.starts_with(b"ftrig1:@")
    }

    /// Publishes `bytes` to every subscriber of `fifodir` (ftrigw_notifyb_nosig).
    pub fn notify(fifodir: &std::ffi::CStr, bytes: &[u8]) {
        let Ok(mut dir) = Dir::open(
            fifodir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            return;
        };
        let dfd = nix::unistd::dup(dir.as_fd());
        let Ok(dfd) = dfd else { return };
        for entry in dir.iter().flatten() {
            let name = entry.file_name();
            if !is_subscriber(name.to_bytes()) {
                continue;
            }
            match openat(
                dfd.as_fd(),
                name,
                OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Err(Errno::ENXIO) => {
                    let _ = unlinkat(dfd.as_fd(), name, UnlinkatFlags::NoRemoveDir);
                }
                Err(_) => {}
                Ok(fd) => match write(fd.as_fd(), bytes) {
                    Ok(n) if n == bytes.len() => {}
                    Err(Errno::EPIPE) => {
                        let _ = unlinkat(dfd.as_fd(), name, UnlinkatFlags::NoRemoveDir);
                    }
                    _ => {}
                },
            }
        }
    }

    /// ftrigw_clean with the 39-character fix.
    ///
    /// # Errors
    /// The errno of opendir/readdir.
    pub fn clean(fifodir: &std::ffi::CStr) -> Result<(), Errno> {
        let mut dir = Dir::open(
            fifodir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let dfd = nix::unistd::dup(dir.as_fd())?;
        for entry in dir.iter() {
            let entry = entry?;
            let name = entry.file_name();
            if !is_subscriber(name.to_bytes()) {
                continue;
            }
            if let Err(Errno::ENXIO) = openat(
                dfd.as_fd(),
                name,
                OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                let _ = unlinkat(dfd.as_fd(), name, UnlinkatFlags::NoRemoveDir);
            }
        }
        Ok(())
    }
}

pub mod sig {
    const TABLE: [(&str, i32); 31] = [
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("ILL", 4),
        ("TRAP", 5),
        ("ABRT", 6),
        ("IOT", 6),
        ("BUS", 7),
        ("FPE", 8),
        ("KILL", 9),
        ("USR1", 10),
        ("SEGV", 11),
        ("USR2", 12),
        ("PIPE", 13),
        ("ALRM", 14),
        ("TERM", 15),
        ("STKFLT", 16),
        ("CHLD", 17),
        ("CONT", 18),
        ("STOP", 19),
        ("TSTP", 20),
        ("TTIN", 21),
        ("TTOU", 22),
        ("URG", 23),
        ("XCPU", 24),
        ("XFSZ", 25),
        ("VTALRM", 26),
        ("PROF", 27),
        ("WINCH", 28),
        ("POLL", 29),
        ("SYS", 31),
    ];

    fn norec(text: &str) -> Option<i32> {
        if let Some(&(_, n)) = TABLE
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
        {
            return Some(n);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse::<u32>().ok().map(u32::cast_signed);
        }
        None
    }

    /// A signal by name (case-insensitive, with or without `SIG`) or decimal number.
    #[must_use]
    pub fn parse(text: &str) -> Option<i32> {
        norec(text).or_else(|| {
            let head = text.get(..3)?;
            if head.eq_ignore_ascii_case("SIG") {
                norec(&text[3..])
            } else {
                None
            }
        })
    }
}

pub mod control {
    /// A byte of supervise's control FIFO (SUPERVISE.md, "The control FIFO").
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(u8)]
    pub enum SuperviseCommand {
        Alarm = b'a',
        Abort = b'b',
        Quit = b'q',
        Hangup = b'h',
        Kill = b'k',
        Term = b't',
        Interrupt = b'i',
        Usr1 = b'1',
        Usr2 = b'2',
        Pause = b'p',
        Cont = b'c',
        Winch = b'y',
        Restart = b'r',
        Once = b'o',
        Down = b'd',
        Up = b'u',
        DownFile = b'D',
        UpFile = b'U',
        Exit = b'x',
        OnceAtMost = b'O',
        DownFileOnly = b'Q',
    }

    impl SuperviseCommand {
        pub const ALL: [SuperviseCommand; 21] = [
            SuperviseCommand::Alarm,
            SuperviseCommand::Abort,
            SuperviseCommand::Quit,
            SuperviseCommand::Hangup,
            SuperviseCommand::Kill,
            SuperviseCommand::Term,
            SuperviseCommand::Interrupt,
            SuperviseCommand::Usr1,
            SuperviseCommand::Usr2,
            SuperviseCommand::Pause,
            SuperviseCommand::Cont,
            SuperviseCommand::Winch,
            SuperviseCommand::Restart,
            SuperviseCommand::Once,
            SuperviseCommand::Down,
            SuperviseCommand::Up,
            SuperviseCommand::DownFile,
            SuperviseCommand::UpFile,
            SuperviseCommand::Exit,
            SuperviseCommand::OnceAtMost,
            SuperviseCommand::DownFileOnly,
        ];

        #[must_use]
        pub fn from_byte(byte: u8) -> Option<SuperviseCommand> {
            SuperviseCommand::ALL.into_iter().find(|c| *c as u8 == byte)
        }
    }
}

pub mod lock {
    use std::os::fd::BorrowedFd;

    use nix::errno::Errno;
    use nix::fcntl::{FcntlArg, fcntl};

    fn whole(kind: i32) -> libc::flock {
        libc::flock {
            l_type: kind as i16,
            l_whence: libc::SEEK_SET as i16,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        }
    }

    /// F_SETLK F_WRLCK on the whole file; `Ok(false)` when held elsewhere.
    ///
    /// # Errors
    /// Any other fcntl failure.
    pub fn try_lock(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
        match fcntl(fd, FcntlArg::F_SETLK(&whole(libc::F_WRLCK))) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// F_GETLK F_RDLCK on the whole file of an open fd (skalibs fd_islocked).
    ///
    /// # Errors
    /// The fcntl failure.
    pub fn fd_is_locked(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
        let mut fl = whole(libc::F_RDLCK);
        fcntl(fd, FcntlArg::F_GETLK(&mut fl))?;
        Ok(i32::from(fl.l_type) != libc::F_UNLCK)
    }
}

pub mod ctldir {
    //! supervise's control directory (trymkdir, the lock, the FIFO).
    use std::ffi::CStr;
    use std::fmt;
    use std::os::fd::{AsFd, OwnedFd};

    use common::diag::SysErr;
    use nix::errno::Errno;
    use nix::fcntl::{OFlag, open, readlink};
    use nix::sys::stat::{Mode, SFlag, stat, umask};
    use nix::unistd::{Gid, chown, getegid, mkdir, mkfifo};

    #[derive(Debug)]
    #[allow(dead_code)] // held for their effect (lock, no EOF)
    pub struct SuperviseDir {
        pub lock: OwnedFd,
        pub control: OwnedFd,
        pub control_writer: OwnedFd,
    }

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum InitError {
        Mkdir(String, Errno),
        Stat(String, Errno),
        NotADirectory(String),
        Readlink(String, Errno),
        Chown(Errno),
        Chmod(Errno),
        OpenLock(Errno),
        Lock(Errno),
        AlreadyRunning,
        Mkfifo(Errno),
        StatFifo(Errno),
        NotAFifo,
        OpenForReading(Errno),
        OpenForWriting(Errno),
    }

    impl InitError {
        #[must_use]
        pub fn exit_code(&self) -> i32 {
            match self {
                InitError::NotADirectory(_) | InitError::AlreadyRunning | InitError::NotAFifo => {
                    100
                }
                _ => 111,
            }
        }
    }

    impl fmt::Display for InitError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                InitError::Mkdir(s, e) => write!(f, "unable to mkdir {s}: {}", SysErr(*e)),
                InitError::Stat(s, e) => write!(f, "unable to stat {s}: {}", SysErr(*e)),
                InitError::NotADirectory(s) => write!(f, "{s} exists and is not a directory"),
                InitError::Readlink(s, e) => write!(f, "unable to readlink {s}: {}", SysErr(*e)),
                InitError::Chown(e) => write!(f, "unable to chown event: {}", SysErr(*e)),
                InitError::Chmod(e) => write!(f, "unable to chmod event: {}", SysErr(*e)),
                InitError::OpenLock(e) => {
                    write!(f, "unable to open supervise/lock: {}", SysErr(*e))
                }
                InitError::Lock(e) => write!(f, "unable to lock supervise/lock: {}", SysErr(*e)),
                InitError::AlreadyRunning => {
                    f.write_str("another instance of s6-supervise is already running")
                }
                InitError::Mkfifo(e) => {
                    write!(f, "unable to mkfifo supervise/control: {}", SysErr(*e))
                }
                InitError::StatFifo(e) => {
                    write!(f, "unable to stat supervise/control: {}", SysErr(*e))
                }
                InitError::NotAFifo => f.write_str("supervise/control is not a FIFO"),
                InitError::OpenForReading(e) => write!(
                    f,
                    "unable to open supervise/control for reading: {}",
                    SysErr(*e)
                ),
                InitError::OpenForWriting(e) => write!(
                    f,
                    "unable to open supervise/control for writing: {}",
                    SysErr(*e)
                ),
            }
        }
    }

    fn is_dir(path: &CStr) -> Result<bool, Errno> {
        let st = stat(path)?;
        Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
    }

    /// true = created.
    fn trymkdir(s: &CStr) -> Result<bool, InitError> {
        let name = s.to_string_lossy().into_owned();
        match mkdir(s, Mode::S_IRWXU) {
            Ok(()) => return Ok(true),
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(InitError::Mkdir(name, e)),
        }
        match readlink(s) {
            Err(Errno::EINVAL) => {
                if is_dir(s).map_err(|e| InitError::Stat(name.clone(), e))? {
                    Ok(false)
                } else {
                    Err(InitError::NotADirectory(name))
                }
            }
            Err(_) => Err(InitError::Mkdir(name, Errno::EEXIST)),
            Ok(target) if target.len() >= 512 => {
                Err(InitError::Readlink(name, Errno::ENAMETOOLONG))
            }
            Ok(target) => match mkdir(target.as_os_str(), Mode::S_IRWXU) {
                Ok(()) => Ok(true),
                Err(Errno::EEXIST) => match is_dir(s) {
                    Ok(true) => Ok(false),
                    Ok(false) => Err(InitError::NotADirectory(name)),
                    Err(e) => Err(InitError::Stat(name, e)),
                },
                Err(e) => Err(InitError::Mkdir(target.to_string_lossy().into_owned(), e)),
            },
        }
    }

    struct UmaskGuard(Mode);
    impl Drop for UmaskGuard {
        fn drop(&mut self) {
            umask(self.0);
        }
    }

    /// `event`, `supervise`, the lock and the control FIFO, in the cwd.
    ///
    /// # Errors
    /// The failed step.
    pub fn init_supervise_dir() -> Result<SuperviseDir, InitError> {
        let _umask = UmaskGuard(umask(Mode::empty()));
        if trymkdir(c"event")? {
            chown(c"event", None, Some(getegid())).map_err(InitError::Chown)?;
            let _: Option<Gid> = None;
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                c"event",
                Mode::from_bits_truncate(0o3730),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(InitError::Chmod)?;
        }
        trymkdir(c"supervise")?;
        let lock = open(
            c"supervise/lock",
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CREAT | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(InitError::OpenLock)?;
        if !super::lock::try_lock(lock.as_fd()).map_err(InitError::Lock)? {
            return Err(InitError::AlreadyRunning);
        }
        let fifo = c"supervise/control";
        match mkfifo(fifo, Mode::S_IRUSR | Mode::S_IWUSR) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let st = stat(fifo).map_err(InitError::StatFifo)?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
                    return Err(InitError::NotAFifo);
                }
            }
            Err(e) => return Err(InitError::Mkfifo(e)),
        }
        let control = open(
            fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(InitError::OpenForReading)?;
        let control_writer = open(
            fifo,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(InitError::OpenForWriting)?;
        Ok(SuperviseDir {
            lock,
            control,
            control_writer,
        })
    }
}
