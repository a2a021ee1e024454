//! The test runner of every end-to-end target: scenarios are listed, not `#[test]`s, so that
//! one that does not run says so. A scenario returns [`Outcome`]: `Ok(())` when it ran to its
//! end, `Err(Skip)` when it could not run here, with the reason. The runner (libtest-mimic,
//! which keeps `cargo test`'s output and options: filters, `--exact`, `--skip`, `--list`,
//! `--test-threads`, `--nocapture`) shows a skipped scenario as `ignored (REASON)`, counts it
//! in the `test result:` line, and lists every skip again after it. See the crate doc for how
//! a target adopts it.
//!
//! Two kinds of skip ([`Skip`]): [`Skip::differs`] (the implementation under test
//! legitimately differs: C 2.11 lacks an option, a **fix** of the spec) is only counted;
//! [`Skip::missing`] (the machine lacks a program, root, a namespace) is counted, and under
//! CI (`CI` set), which must provide all of them, it is a failure.
//!
//! Output: a scenario's [`note!`]s and its panic message are kept and shown with its failure
//! only, as libtest does with captured output (`--nocapture` prints them as they come).

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, Once};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// What a scenario returns: `Ok(())` when it ran to its end, `Err(Skip)` when it did not.
pub type Outcome = Result<(), Skip>;

/// Why a scenario did not run (or stopped part way): see the module doc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    kind: SkipKind,
    reason: String,
}

/// The two kinds of [`Skip`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipKind {
    /// The implementation under test legitimately differs: counted, never a failure.
    Differs,
    /// Something the machine lacks and CI provides: counted; a failure under CI.
    Missing,
}

/// Whether this run is CI's (`CI` set and not empty), where nothing may be missing.
#[must_use]
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

impl Skip {
    /// The implementation under test legitimately differs from what the scenario proves
    /// (an option it lacks, a **fix** of the spec): the scenario is counted as skipped.
    #[must_use]
    pub fn differs(reason: impl Into<String>) -> Skip {
        Skip {
            kind: SkipKind::Differs,
            reason: reason.into(),
        }
    }

    /// The machine lacks `what` (a program, root, a PID namespace): the scenario is counted
    /// as skipped.
    ///
    /// # Panics
    /// Under CI (`CI` set), which must provide everything a scenario needs: the scenario
    /// fails there instead, whether or not the caller propagates the skip.
    #[must_use]
    #[track_caller]
    pub fn missing(what: impl Into<String>) -> Skip {
        let reason = what.into();
        assert!(
            !ci(),
            "{reason}, and CI (CI is set) must provide it: see .ci/run"
        );
        Skip {
            kind: SkipKind::Missing,
            reason,
        }
    }

    #[must_use]
    pub fn kind(&self) -> SkipKind {
        self.kind
    }

    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            SkipKind::Differs => "differs",
            SkipKind::Missing => "missing",
        };
        write!(f, "{kind}: {}", self.reason)
    }
}

/// What a scenario function may return: nothing (it never skips) or an [`Outcome`].
pub trait IntoOutcome {
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Ok(())
    }
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

/// One listed scenario; made by [`scenario!`](crate::scenario).
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// `module::function` (the crate's name is left out when it runs, as libtest does).
    pub name: &'static str,
    /// The source file that defines it, checked for stray `#[test]`s.
    pub file: &'static str,
    pub run: fn() -> Outcome,
    /// Started before the others (it takes seconds: a retry timer, a long run).
    pub slow: bool,
}

impl Scenario {
    #[must_use]
    pub const fn new(name: &'static str, file: &'static str, run: fn() -> Outcome) -> Scenario {
        Scenario {
            name,
            file,
            run,
            slow: false,
        }
    }

    /// Marks a scenario that takes seconds, so that it starts first: the run ends sooner
    /// when the long ones do not come last.
    #[must_use]
    pub const fn slow(self) -> Scenario {
        Scenario { slow: true, ..self }
    }
}

/// A [`Scenario`] for the function `$f` of this module (`fn f()` or `fn f() -> Outcome`).
#[macro_export]
macro_rules! scenario {
    ($f:ident) => {
        $crate::suite::Scenario::new(
            concat!(module_path!(), "::", stringify!($f)),
            file!(),
            || $crate::suite::IntoOutcome::into_outcome($f()),
        )
    };
}

/// Records a line for the running scenario, shown only if it fails (or at once with
/// `--nocapture`); `eprintln!` would print it in the middle of other scenarios' results.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::suite::note_line(&format!($($arg)*))
    };
}

thread_local! {
    /// The running scenario's notes and panic message; `None` outside a scenario.
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether `--nocapture` was given: notes go to stderr as they come.
static NOCAPTURE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The implementation of [`note!`].
pub fn note_line(line: &str) {
    if NOCAPTURE.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{line}");
        return;
    }
    let kept = CAPTURE.with(|c| {
        c.borrow_mut().as_mut().map(|buf| {
            buf.push_str(line);
            buf.push('\n');
        })
    });
    if kept.is_none() {
        eprintln!("{line}");
    }
}

/// A scenario's result for the summary.
struct Skipped {
    name: String,
    skip: Skip,
    /// The scenario ran to its end without this part ([`optional`]).
    partly: bool,
}

static SKIPPED: Mutex<Vec<Skipped>> = Mutex::new(Vec::new());
/// The name of the scenario each worker thread runs, for [`optional`].
static RUNNING: Mutex<Vec<(std::thread::ThreadId, &'static str)>> = Mutex::new(Vec::new());

fn record(name: &str, skip: Skip, partly: bool) {
    SKIPPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(Skipped {
            name: name.to_owned(),
            skip,
            partly,
        });
}

/// For a scenario that runs against whichever of several programs are here (Debian's s6 and
/// the 2.12 reference, say): the value, or `None` with the skip recorded as a part of the
/// running scenario that did not run, listed in the summary. (A [`Skip::missing`] has
/// already failed the scenario under CI.)
pub fn optional<T>(found: Result<T, Skip>) -> Option<T> {
    match found {
        Ok(v) => Some(v),
        Err(skip) => {
            let me = std::thread::current().id();
            let name = RUNNING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(t, _)| *t == me)
                .map_or("(outside a scenario)", |(_, n)| n);
            note_line(&format!("part skipped: {skip}"));
            record(display_name(name), skip, true);
            None
        }
    }
}

/// The name as libtest would show it: without the crate (the test target's) name.
fn display_name(name: &str) -> &str {
    name.split_once("::").map_or(name, |(_, rest)| rest)
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)")
}

/// Installs, once, a panic hook that keeps a scenario's panic (message and location) with
/// its notes instead of printing it among the other scenarios' results.
fn capture_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|c| {
                c.borrow_mut().as_mut().map(|buf| {
                    let at = info
                        .location()
                        .map(|l| format!(" at {}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    let _ = writeln!(buf, "panicked{at}:\n{}", panic_text(info.payload()));
                })
            });
            if captured.is_none() || NOCAPTURE.load(std::sync::atomic::Ordering::Relaxed) {
                default(info);
            }
        }));
    });
}

/// Runs one scenario: its outcome as libtest-mimic takes it.
fn run_one(scenario: &Scenario) -> Result<Completion, Failed> {
    let name = display_name(scenario.name);
    let me = std::thread::current().id();
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((me, scenario.name));
    CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
    let result = std::panic::catch_unwind(scenario.run);
    let notes = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .retain(|(t, _)| *t != me);
    match result {
        Ok(Ok(())) => Ok(Completion::Completed),
        Ok(Err(skip)) => {
            let reason = skip.to_string();
            record(name, skip, false);
            Ok(Completion::ignored_with(reason))
        }
        // The hook put the message and its location in the notes.
        Err(_) => Err(Failed::from(notes.trim_end())),
    }
}

/// Finds `#[test]` attributes in the scenarios' source files: in a `harness = false` target
/// they are silently compiled out, so such a test would never run.
fn stray_tests(scenarios: &[&[Scenario]]) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    let mut files: Vec<&str> = scenarios
        .iter()
        .flat_map(|s| s.iter().map(|s| s.file))
        .collect();
    files.sort_unstable();
    files.dedup();
    let mut found = Vec::new();
    for file in files {
        let path = [root.join(file), PathBuf::from(file)]
            .into_iter()
            .find(|p| p.is_file());
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[test]") {
                found.push(format!("{file}:{}", i + 1));
            }
        }
    }
    found
}

/// How many scenarios run at once unless `--test-threads` says otherwise. Scenarios spend
/// their time waiting on svscan's timers (the 1 s throttle, 3 to 10 s retries), not on the
/// CPU, so more of them than cores keeps the run short.
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .saturating_mul(2)
        .max(4)
}

/// `cargo test`'s arguments as libtest-mimic takes them, and the filters when there are
/// several (libtest runs the tests that match any of them; libtest-mimic takes one).
fn arguments() -> (Arguments, Vec<String>) {
    const WITH_VALUE: [&str; 6] = [
        "--test-threads",
        "--logfile",
        "--skip",
        "--color",
        "--format",
        "-Z",
    ];
    let all: Vec<String> = std::env::args().collect();
    let mut rest = Vec::new();
    let mut filters = Vec::new();
    let mut args = all.iter().skip(1);
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            rest.push(arg.clone());
            rest.extend(args.next().cloned());
        } else if arg.starts_with('-') {
            rest.push(arg.clone());
        } else {
            filters.push(arg.clone());
        }
    }
    if filters.len() < 2 {
        return (Arguments::from_args(), Vec::new());
    }
    let program = all.first().cloned().unwrap_or_default();
    (
        Arguments::from_iter(std::iter::once(program).chain(rest)),
        filters,
    )
}

/// The `main` of an end-to-end target: runs `scenarios` (one slice per module, in the order
/// given; [`Scenario::slow`] ones first) with `cargo test`'s arguments, then lists the
/// skipped ones.
#[must_use]
pub fn run(scenarios: &[&[Scenario]]) -> ExitCode {
    let (mut args, filters) = arguments();
    NOCAPTURE.store(args.nocapture, std::sync::atomic::Ordering::Relaxed);
    args.test_threads.get_or_insert_with(default_threads);
    let stray = stray_tests(scenarios);
    if !stray.is_empty() {
        eprintln!(
            "error: #[test] does nothing in this target (harness = false): list the function \
             in its module's SCENARIOS with scenario!(NAME) instead:"
        );
        for at in stray {
            eprintln!("    {at}");
        }
        return ExitCode::from(101);
    }
    capture_panics();
    let mut all: Vec<Scenario> = scenarios.iter().flat_map(|s| s.iter().copied()).collect();
    let listed = all.len();
    if !filters.is_empty() {
        all.retain(|s| {
            let name = display_name(s.name);
            filters.iter().any(|f| {
                if args.exact {
                    name == f
                } else {
                    name.contains(f.as_str())
                }
            })
        });
        println!("filters {filters:?}: {} of {listed} scenarios", all.len());
    }
    // Stable: the listed order otherwise.
    all.sort_by_key(|s| !s.slow);
    let trials = all
        .into_iter()
        .map(|s| Trial::ignorable_test(display_name(s.name), move || run_one(&s)))
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if !args.list {
        print_skipped();
    }
    conclusion.exit_code()
}

/// The skip summary, after libtest-mimic's own.
fn print_skipped() {
    let mut skipped = SKIPPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if skipped.is_empty() {
        return;
    }
    skipped.sort_by(|a, b| (a.partly, &a.name).cmp(&(b.partly, &b.name)));
    let whole = skipped.iter().filter(|s| !s.partly).count();
    let parts = skipped.len() - whole;
    let missing = skipped
        .iter()
        .filter(|s| s.skip.kind == SkipKind::Missing)
        .count();
    let parts = if parts == 0 {
        String::new()
    } else {
        format!(", and {parts} parts of others")
    };
    let scenarios = if whole == 1 { "scenario" } else { "scenarios" };
    println!(
        "skipped: {whole} {scenarios} (the ignored ones){parts}; {missing} of these skips for \
         something missing here:"
    );
    for s in skipped.iter() {
        let part = if s.partly { " (a part)" } else { "" };
        println!("    {}{part}: {}", s.name, s.skip);
    }
    println!();
}
