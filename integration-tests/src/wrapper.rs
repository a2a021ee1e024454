//! svscan started through a wrapper program, or with signals ignored, for scenarios about
//! what svscan inherits from whoever starts it: a shell that ignores signals first
//! ([`IGNORING_SHELL`]), `unshare` making it PID 1 of a new PID namespace
//! ([`crate::pidns`]), or a SIG_IGN set just before the exec ([`Launch::start_ignoring`]).
//! [`Launch::start_wrapped`] is [`Launch::start`] with the wrapper's argv put in front of the
//! command line it would run (for the C svscan, in front of its `unshare -m ... mount
//! --bind` wrapper), so everything else (fds, environment, readiness, the guard) is the
//! same.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::pipe2;

use crate::process::Guard;
use crate::{EventLog, Implementation, Launch, STUB_EVENTS_ENV, Svscan, binary, under_test};

/// `sh -c 'trap "" HUP INT PIPE; exec "$0" "$@"'`: starts svscan with SIGHUP, SIGINT and
/// SIGPIPE ignored, as `nohup` or a careless init would (an ignored signal stays ignored
/// across exec).
pub const IGNORING_SHELL: [&str; 3] = ["sh", "-c", r#"trap "" HUP INT PIPE; exec "$0" "$@""#];

impl<'f> Launch<'f> {
    /// As [`Launch::start`], with svscan's command line run by `wrapper` (its argv, to which
    /// the program and its arguments are appended). The guard's pid is the wrapper's: the
    /// same as svscan's when the wrapper execs it, its parent's otherwise (`unshare --fork`).
    ///
    /// # Panics
    /// If it cannot be started, or it is not ready within [`crate::DEADLINE`].
    #[must_use]
    pub fn start_wrapped<S: AsRef<OsStr>>(self, wrapper: &[S]) -> Svscan<'f> {
        self.start_with(wrapper, &[], false)
    }

    /// As [`Launch::start`], with `signals` set to SIG_IGN in svscan's process just before
    /// the exec (an ignored signal stays ignored across exec): for dispositions a shell
    /// cannot set, such as SIGCHLD, which `sh` keeps for itself.
    ///
    /// # Panics
    /// If it cannot be started, or it is not ready within [`crate::DEADLINE`].
    #[must_use]
    pub fn start_ignoring(self, signals: &[Signal]) -> Svscan<'f> {
        self.start_with::<&str>(&[], signals, false)
    }

    /// As [`Launch::start`], with a zombie child already there when svscan starts: the
    /// process that is to become svscan forks a child that exits at once, waits until it is
    /// dead but leaves it unreaped (`WNOWAIT`), then execs svscan. Its SIGCHLD went to the
    /// image before the exec (default disposition: discarded), so svscan has a dead child
    /// and no signal about it, as a PID 1 exec'd by a stage-1 script may have.
    ///
    /// # Panics
    /// If it cannot be started, or it is not ready within [`crate::DEADLINE`].
    #[must_use]
    pub fn start_with_zombie(self) -> Svscan<'f> {
        self.start_with::<&str>(&[], &[], true)
    }

    /// Every start: `wrapper` in front of svscan's command line, `ignored` signals set to
    /// SIG_IGN before the exec, and a zombie child if asked ([`Launch::start`] is the case
    /// with none of them).
    pub(crate) fn start_with<S: AsRef<OsStr>>(
        mut self,
        wrapper: &[S],
        ignored: &[Signal],
        zombie: bool,
    ) -> Svscan<'f> {
        let n = self.fx.launches.get() + 1;
        self.fx.launches.set(n);
        let out_path = self.fx.tmp().join(format!("svscan.{n}.stdout"));
        let err_path = self.fx.tmp().join(format!("svscan.{n}.stderr"));

        let mut args: Vec<OsString> = Vec::new();
        let mut ready = None;
        if self.readiness {
            let (r, w) = pipe2(OFlag::O_CLOEXEC).expect("pipe2");
            args.extend(["-d".into(), "3".into()]);
            self.fds.push((3, w));
            ready = Some(r);
        }
        args.append(&mut self.args);

        let under = self.under.clone().unwrap_or_else(|| under_test().clone());
        let supervise = self
            .supervise
            .clone()
            .unwrap_or_else(|| binary("supervise-stub"));
        let c_supervise = under.path.with_file_name("s6-supervise");
        let mut line: Vec<OsString> = wrapper.iter().map(|a| a.as_ref().to_owned()).collect();
        match under.implementation {
            Implementation::Ours => {
                line.push(under.path.clone().into());
                line.push("--supervise".into());
                line.push(supervise.into());
            }
            Implementation::C if supervise == c_supervise => line.push(under.path.clone().into()),
            Implementation::C => {
                line.extend(
                    ["unshare", "-m", "--propagation", "private", "sh", "-c"].map(Into::into),
                );
                line.push(r#"mount --bind "$0" "$1" && p=$2 && shift 2 && exec "$p" "$@""#.into());
                line.push(supervise.into());
                line.push(c_supervise.into());
                line.push(under.path.clone().into());
            }
        }
        line.append(&mut args);

        let mut cmd = Command::new(&line[0]);
        cmd.args(&line[1..])
            .current_dir(&self.fx.scan)
            .env(STUB_EVENTS_ENV, &self.fx.events)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("create svscan stdout"))
            .stderr(File::create(&err_path).expect("create svscan stderr"));
        let plan: Vec<(RawFd, RawFd)> = self
            .fds
            .iter()
            .map(|(t, fd)| (fd.as_raw_fd(), *t))
            .collect();
        crate::sys::prepare_launch(&mut cmd, plan, ignored.to_vec(), zombie);
        let process = Guard::spawn(&mut cmd);
        drop(self.fds);
        let mut sv = Svscan {
            fx: self.fx,
            process,
            log: EventLog::new(&self.fx.events),
            stdout: out_path,
            stderr: err_path,
        };
        if let Some(r) = ready {
            sv.wait_ready(&r);
        }
        sv
    }
}
