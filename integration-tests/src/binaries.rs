//! The programs the scenarios run: this workspace's binaries, never stale ([`binary`]);
//! Debian's s6 ([`real_s6`]) and the C 2.12 reference ([`reference`]), a [`Skip`] when
//! missing; and the svscan under test ([`under_test`], chosen by `SVSCAN_UNDER_TEST`).
//!
//! # Why [`binary`] builds
//! The workspace's binaries are not dependencies of this crate (cargo cannot make a binary
//! of another package a dependency on stable), so `cargo test -p integration-tests` alone
//! builds none of them, and a scenario would run whatever an earlier build left in
//! `target/`. So the first [`binary`] call for a name runs `$CARGO build --workspace --bin
//! NAME` (cargo sets `CARGO` for the tests it runs and does not hold the build directory's
//! lock while they run); under `cargo test --workspace` that build finds everything fresh
//! and costs a few milliseconds (`--workspace` resolves features as that command does, so it
//! shares its artifacts). Then, with or without cargo, the binary is checked against the
//! sources cargo lists in its dep-info file (`target/debug/NAME.d`): one newer than the
//! binary, or gone, is a loud failure rather than a test of old code.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::poll_until;
use crate::process::Guard;
use crate::suite::{Outcome, Skip};

/// The environment variable choosing the svscan binary.
pub const UNDER_TEST_ENV: &str = "SVSCAN_UNDER_TEST";

/// The directory of the workspace's binaries: the test executable lives in `target/debug/deps`
/// (or `target/release/deps` for the benchmark).
#[must_use]
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("test executable has a directory");
    match dir.file_name() {
        Some(n) if n == "deps" => dir.parent().unwrap_or(dir).to_owned(),
        _ => dir.to_owned(),
    }
}

/// The workspace's root directory (this crate's parent).
#[must_use]
pub fn workspace_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest)
}

/// The directory of `make release`'s binaries (static glibc, non-PIE: what `make install`
/// installs), after building `crates` (package names) there: for the benchmarks, which
/// measure that build.
///
/// # Panics
/// If `make release` fails.
#[must_use]
pub fn release_build(crates: &[&str]) -> PathBuf {
    let root = workspace_root();
    let make = |args: &[&str]| {
        let mut cmd = std::process::Command::new("make");
        cmd.arg("-s").arg("-C").arg(root).args(args);
        if let Some(cargo) = std::env::var_os("CARGO") {
            cmd.env("CARGO", cargo);
        }
        cmd
    };
    let packages: Vec<String> = crates.iter().map(|c| format!("-p {c}")).collect();
    let crates = format!("CRATES={}", packages.join(" "));
    let built = make(&["release", &crates]).status();
    assert!(
        built.as_ref().is_ok_and(std::process::ExitStatus::success),
        "make release {crates} failed: {built:?}"
    );
    let dir = make(&["release-dir"]).output().expect("make release-dir");
    root.join(String::from_utf8_lossy(&dir.stdout).trim())
}

/// A binary of this workspace (`svscan`, `svscanctl`, `supervise-stub`, `supervise`, `svc`,
/// ...: each crate builds one binary named as the crate), built from the current sources:
/// see the module doc.
///
/// # Panics
/// If it cannot be built, or it is older than one of its sources (outside cargo, which
/// would have rebuilt it).
#[must_use]
pub fn binary(name: &str) -> PathBuf {
    static CHECKED: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    // Held while building, so that concurrent scenarios wait for one build.
    let mut checked = CHECKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, path)) = checked.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let dir = target_dir();
    let path = dir.join(name);
    if let Some(cargo) = std::env::var_os("CARGO") {
        cargo_build(&cargo, &dir, name);
    }
    if let Err(why) = fresh(&path) {
        panic!(
            "{why}: run `cargo build --workspace` (`cargo test` rebuilds it when it runs the \
             tests; a test binary run by hand does not)"
        );
    }
    checked.push((name.to_owned(), path.clone()));
    path
}

/// `cargo build --workspace --bin NAME`, in the profile of `dir` (`target/debug`: dev).
///
/// # Panics
/// If the build fails.
fn cargo_build(cargo: &OsStr, dir: &Path, name: &str) {
    let log = tempfile::NamedTempFile::new().expect("a temp file for cargo's output");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--workspace", "--bin", name])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("reopen cargo's log"));
    match dir.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => {}
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
    }
    let mut build = Guard::spawn(&mut cmd);
    let output = || std::fs::read_to_string(log.path()).unwrap_or_default();
    // A cargo that kept the lock while running the tests (older than this project's) would
    // wait for itself: give up on the build then, and let the freshness check decide.
    let began = Instant::now();
    let blocked = || {
        began.elapsed() > Duration::from_secs(30)
            && output().contains("Blocking waiting for file lock")
    };
    let exit = poll_until(began + Duration::from_secs(600), || {
        build.exit().map(Some).or_else(|| blocked().then_some(None))
    });
    match exit {
        Some(Some(exit)) if exit.success() => {}
        Some(Some(exit)) => panic!("cargo build --bin {name} failed ({exit:?}):\n{}", output()),
        Some(None) => crate::note!("cargo build --bin {name} is blocked: checking timestamps"),
        None => panic!(
            "cargo build --bin {name} still running after 600 s:\n{}",
            output()
        ),
    }
}

/// Whether the binary at `path` is at least as new as every source cargo built it from.
fn fresh(path: &Path) -> Result<(), String> {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified());
    let built = mtime(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let depinfo = path.with_extension("d");
    let text = std::fs::read_to_string(&depinfo).map_err(|e| {
        format!(
            "cannot tell whether {} is current: {}: {e}",
            path.display(),
            depinfo.display()
        )
    })?;
    for source in depinfo_sources(&text) {
        match mtime(&source) {
            Ok(t) if t <= built => {}
            Ok(t) => {
                let newer = t.duration_since(built).unwrap_or_default();
                return Err(format!(
                    "{} is older than its source {} (by {:.1} s)",
                    path.display(),
                    source.display(),
                    newer.as_secs_f64()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "{} was built from {}, which is gone ({e})",
                    path.display(),
                    source.display()
                ));
            }
        }
    }
    Ok(())
}

/// The prerequisites of a make-style dep-info file (`TARGET: SRC SRC ...`, spaces in names
/// escaped with a backslash).
fn depinfo_sources(text: &str) -> Vec<PathBuf> {
    let Some(line) = text.lines().next() else {
        return Vec::new();
    };
    let Some((_, deps)) = line.split_once(": ") else {
        return Vec::new();
    };
    let mut sources = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            ' ' => {
                if !current.is_empty() {
                    sources.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        sources.push(PathBuf::from(current));
    }
    sources
}

/// A program of Debian's `s6` or `execline` packages in `/usr/bin` (`s6-supervise`,
/// `s6-svstat`, `execlineb`, ...), for interop scenarios.
///
/// # Errors
/// A [`Skip::missing`] when it is not installed (which fails the scenario under CI).
#[track_caller]
pub fn real_s6(program: &str) -> Result<PathBuf, Skip> {
    let path = Path::new("/usr/bin").join(program);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Skip::missing(format!(
            "{} is not installed (apt-get install s6 execline)",
            path.display()
        )))
    }
}

/// Where the C s6 2.12.0.4 reference is built: `$S6REF`, by default
/// `${XDG_CACHE_HOME:-$HOME/.cache}/s6-reference-2.12` (`.ci/run` builds it there).
#[must_use]
pub fn reference_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("S6REF").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    cache.join("s6-reference-2.12")
}

/// A program of the C s6 2.12.0.4 reference, `REFERENCE/bin/PROGRAM` (see
/// [`reference_dir`]; `s6-supervise.real` is the real supervisor, `s6-supervise` a wrapper
/// that execs `$SVSCAN_SUPERVISE` when set).
///
/// # Errors
/// A [`Skip::missing`] when it is not built (which fails the scenario under CI).
#[track_caller]
pub fn reference(program: &str) -> Result<PathBuf, Skip> {
    let path = reference_dir().join("bin").join(program);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Skip::missing(format!(
            "{} is not built (ci/s6-reference/build-s6-reference.sh DIR, with S6REF=DIR)",
            path.display()
        )))
    }
}

/// Which svscan the scenarios run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// This workspace's `svscan`.
    Ours,
    /// skarnet's C s6-svscan (Debian's is 2.11).
    C,
}

/// The svscan binary under test and what it is.
#[derive(Clone, Debug)]
pub struct UnderTest {
    pub path: PathBuf,
    pub implementation: Implementation,
}

impl UnderTest {
    /// The name it writes at the start of its diagnostics (`svscan: warning: ...`): the base
    /// name it was run as.
    #[must_use]
    pub fn prog(&self) -> &str {
        self.path
            .file_name()
            .and_then(OsStr::to_str)
            .unwrap_or("svscan")
    }
}

/// The svscan under test: `SVSCAN_UNDER_TEST` if set (a file name starting with `s6-` is
/// taken for skarnet's C s6-svscan), else our `svscan`.
///
/// # Panics
/// If `SVSCAN_UNDER_TEST` is not a file, or ours cannot be built.
pub fn under_test() -> &'static UnderTest {
    static UNDER_TEST: OnceLock<UnderTest> = OnceLock::new();
    UNDER_TEST.get_or_init(|| match std::env::var_os(UNDER_TEST_ENV) {
        Some(path) if !path.is_empty() => {
            // svscan runs in the scan dir: a relative path must not be taken from there.
            let path = std::path::absolute(&path).unwrap_or_else(|_| PathBuf::from(path));
            assert!(
                path.is_file(),
                "{UNDER_TEST_ENV}={} is not a file (a relative path is taken from the \
                 integration-tests directory, where cargo runs the tests)",
                path.display()
            );
            let is_c = path
                .file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("s6-"));
            let implementation = if is_c {
                Implementation::C
            } else {
                Implementation::Ours
            };
            UnderTest {
                path,
                implementation,
            }
        }
        _ => UnderTest {
            path: binary("svscan"),
            implementation: Implementation::Ours,
        },
    })
}

/// Which implementation the scenarios run against.
pub fn implementation() -> Implementation {
    under_test().implementation
}

/// For a scenario (or its rest) that proves what only ours does (an option C 2.11 lacks, a
/// **fix**): against the C svscan, a [`Skip::differs`] saying `why`.
///
/// # Errors
/// That skip, when the svscan under test is C.
pub fn ours_only(why: &str) -> Outcome {
    match implementation() {
        Implementation::Ours => Ok(()),
        Implementation::C => Err(Skip::differs(format!(
            "{}: {why}",
            under_test().path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn depinfo_sources_are_the_prerequisites_with_escaped_spaces() {
        let text = "/t/debug/svscan: /w/svscan/src/main.rs /w/a\\ b.rs /w/common/src/lib.rs\n\n\
                    /w/svscan/src/main.rs:\n";
        assert_eq!(
            depinfo_sources(text),
            ["/w/svscan/src/main.rs", "/w/a b.rs", "/w/common/src/lib.rs"].map(PathBuf::from)
        );
    }

    #[test]
    fn a_binary_older_than_a_source_is_stale_and_one_newer_is_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, src) = (dir.path().join("prog"), dir.path().join("main.rs"));
        std::fs::write(&src, "").unwrap();
        std::fs::write(&bin, "").unwrap();
        let deps = format!("{}: {}\n", bin.display(), src.display());
        std::fs::write(bin.with_extension("d"), deps).unwrap();
        let set = |p: &Path, t: SystemTime| {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        let now = SystemTime::now();
        set(&src, now);
        set(&bin, now + Duration::from_secs(1));
        assert_eq!(fresh(&bin), Ok(()));
        set(&bin, now - Duration::from_secs(1));
        assert!(
            fresh(&bin)
                .unwrap_err()
                .contains("is older than its source")
        );
        std::fs::remove_file(&src).unwrap();
        assert!(fresh(&bin).unwrap_err().contains("which is gone"));
    }
}
