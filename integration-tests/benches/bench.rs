//! Side-by-side benchmark of our svscan, as the README's release build makes it (`make
//! release`: static, non-PIE), against Debian's C `s6-svscan` 2.11 and the C 2.12.0.4
//! reference (when built: `ci/s6-reference/build-s6-reference.sh`), all three running the
//! `supervise-stub` test double on the same scan directories. Each C one runs under `unshare
//! -m` with the stub bind-mounted over its `s6-supervise`, as the harness does; ours runs
//! under the same wrapper (a bind mount of two scratch files), so that the wrapper's few
//! milliseconds count for everyone in the cold-start rows.
//!
//! Run: `cargo bench -p integration-tests` (root, s6 installed; builds what it runs).
//! `BENCH_QUICK=1`: small sizes, one round, short idle window, for development.
//! `BENCH_ROUNDS=n`: rounds (default 3). `BENCH_FLEETS=1000,10000`: the fleet sizes.
//! `BENCH_SVSCAN=PATH`: another build of ours (e.g. `target/release/svscan`, the dynamic
//! one). Every round runs each scenario once per
//! contender, in an order that rotates from round to round; a row's figure is the median of
//! all its samples, shown with their min–max spread, and the ratio is ours over the better
//! (lower) C median. The load average is printed at the start, after each round and at the
//! end: on a shared machine, wall-clock rows move with it, CPU-time rows much less. The
//! start's is the machine's; the later ones count the benchmark's own fleets too (30000
//! supervisors starting push the 1-minute average into the hundreds).
//!
//! Fleets are half logged (`sN` for even N, `sN` with `sN/log` for odd N): N services are
//! 1.5 N supervised entries. Rows:
//! - memory: `Private_Dirty` and `Rss` of svscan (`/proc/PID/smaps_rollup`) once its fleet
//!   is started and it sleeps, at N = 0, 100, 1000 and the larger fleets;
//! - idle: context switches of svscan over a 10 s window with N = 100;
//! - rescan: CPU time of svscan (`/proc/PID/schedstat`) per `a`, from the write into the FIFO
//!   until svscan has read it (FIONREAD 0) and sleeps in poll again. Measured twice per
//!   fleet: right after the cold start ("fresh": the directories were just made), and once
//!   they are 3 s old ("settled": a fleet at rest, the rows with the targets);
//! - cold start: from the launch to the last of the fleet's start records, and svscan's own
//!   CPU time over it;
//! - teardown: from `t` to svscan's exit with 1000 logged pairs;
//! - respawn: the gap between starts of a supervisor that exits at once, and the delay from
//!   the exit of one that ran 1.5 s to its restart.
//!
//! The sizes options: ours `-C` entries, 2.12 `-C` entries, 2.11 `-c` services (its slots
//! hold a service and its logger), each only above its default. Fleets of 10000 and 30000
//! services need more than the usual limits: the benchmark raises its own fd limit to the
//! hard one (every svscan holds 2 fds per logged pair) and its stack limit (C sizes its tables
//! on the stack), which the svscans inherit. A fleet that the fd limit or `kernel.pid_max`
//! cannot hold half logged runs unlogged (its rows say so), or is skipped, with a note.
//!
//! Every process is killed by the harness's guard (by pid and process group); the benchmark
//! makes itself a child subreaper and reaps the killed stubs between runs.

#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::stats::{fmt, median, summary};
use integration_tests::{
    Events, Fixture, Implementation, StubControl, Svscan, UnderTest, now_mono_ns, procfs, real_s6,
    reference,
};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

/// How long a wait for a whole fleet may take before the benchmark gives up.
const FLEET_DEADLINE: Duration = Duration::from_secs(600);
/// How old a fleet's directories are when its settled rescans begin.
const SETTLED: Duration = Duration::from_secs(3);

/// The three svscans, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Ours,
    C211,
    C212,
}

const WHO: [Who; 3] = [Who::Ours, Who::C211, Who::C212];

impl Who {
    fn index(self) -> usize {
        self as usize
    }

    fn label(self) -> &'static str {
        match self {
            Who::Ours => "ours",
            Who::C211 => "C 2.11",
            Who::C212 => "C 2.12",
        }
    }

    /// The size options for a fleet of `services` services, `entries` entries.
    fn size_args(self, services: usize, entries: usize) -> Vec<String> {
        let (flag, n, default) = match self {
            Who::Ours | Who::C212 => ("-C", entries, 1000),
            Who::C211 => ("-c", services, 500),
        };
        if n > default {
            vec![flag.into(), n.to_string()]
        } else {
            Vec::new()
        }
    }
}

/// A contender: which svscan, and how it is run.
#[derive(Clone)]
struct Contender {
    who: Who,
    under: UnderTest,
    /// The supervisor it runs: the same stub for all.
    stub: PathBuf,
}

/// The sizes of one run of the benchmark.
struct Plan {
    rounds: usize,
    idle_n: usize,
    idle_window: Duration,
    /// Fleets measured for memory only.
    small_ns: Vec<usize>,
    /// Fleets measured for memory, cold start and rescans.
    fleet_ns: Vec<usize>,
    rescans: usize,
    respawn_gaps: usize,
    long_restarts: usize,
    teardown_pairs: usize,
}

impl Plan {
    fn from_env() -> Plan {
        let mut plan = if integration_tests::stats::quick() {
            Plan {
                rounds: 1,
                idle_n: 20,
                idle_window: Duration::from_secs(2),
                small_ns: vec![0, 20],
                fleet_ns: vec![200, 1000],
                rescans: 5,
                respawn_gaps: 2,
                long_restarts: 1,
                teardown_pairs: 100,
            }
        } else {
            Plan {
                rounds: 3,
                idle_n: 100,
                idle_window: Duration::from_secs(10),
                small_ns: vec![0, 100],
                fleet_ns: vec![1000, 10000, 30000],
                rescans: 10,
                respawn_gaps: 4,
                long_restarts: 2,
                teardown_pairs: 1000,
            }
        };
        if let Some(r) = integration_tests::stats::rounds() {
            plan.rounds = r;
        }
        if let Ok(sizes) = std::env::var("BENCH_FLEETS") {
            plan.fleet_ns = sizes
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect();
        }
        plan
    }
}

// ------------------------------------------------------------------ samples and the table

/// What a row must show for ours.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// At most this times the better C.
    Ratio(f64),
    /// Within this range, in the row's unit.
    Within(f64, f64),
    /// At most this, in the row's unit.
    AtMost(f64),
    /// Shown, not judged.
    None,
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::Ratio(r) => format!("<= {r:.1}x better C"),
            Target::Within(lo, hi) => format!("{} to {}", fmt(lo), fmt(hi)),
            Target::AtMost(x) => format!("<= {}", fmt(x)),
            Target::None => String::new(),
        }
    }

    /// Whether ours (median `ours`, ratio `ratio` to the better C) meets it.
    fn met(self, ours: f64, ratio: Option<f64>) -> Option<bool> {
        match self {
            Target::Ratio(r) => ratio.map(|x| x <= r),
            Target::Within(lo, hi) => Some((lo..=hi).contains(&ours)),
            Target::AtMost(x) => Some(ours <= x),
            Target::None => None,
        }
    }
}

/// One row of the table: its samples for each contender.
struct Row {
    title: String,
    unit: &'static str,
    target: Target,
    samples: [Vec<f64>; 3],
}

/// Rows by key; the key sorts the table.
#[derive(Default)]
struct Results(BTreeMap<String, Row>);

impl Results {
    fn add(
        &mut self,
        key: &str,
        title: &str,
        unit: &'static str,
        target: Target,
        who: Who,
        v: f64,
    ) {
        let row = self.0.entry(key.to_owned()).or_insert_with(|| Row {
            title: title.to_owned(),
            unit,
            target,
            samples: Default::default(),
        });
        row.samples[who.index()].push(v);
        eprintln!("  {title}: {} {} {unit}", who.label(), fmt(v));
    }

    fn get(&self, key: &str) -> Option<&Row> {
        self.0.get(key)
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<44} {:>22} {:>22} {:>22} {:>7}  target",
            "row (unit)", "ours (min-max)", "C 2.11 (min-max)", "C 2.12 (min-max)", "ratio"
        );
        for row in self.0.values() {
            let cells: Vec<String> = row.samples.iter().map(|s| summary(s)).collect();
            let ours = median(&row.samples[0]);
            let better_c = [&row.samples[1], &row.samples[2]]
                .into_iter()
                .filter_map(|s| median(s))
                .reduce(f64::min);
            let ratio = match (ours, better_c) {
                (Some(o), Some(c)) if c > 0.0 => Some(o / c),
                (Some(0.0), Some(_)) => Some(1.0),
                _ => None,
            };
            let verdict = match ours.and_then(|o| row.target.met(o, ratio)) {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            };
            let _ = writeln!(
                out,
                "{:<44} {:>22} {:>22} {:>22} {:>7}  {} {verdict}",
                format!("{} ({})", row.title, row.unit),
                cells[0],
                cells[1],
                cells[2],
                ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
                row.target.text(),
            );
        }
        out
    }
}

// ------------------------------------------------------------------ /proc

/// CPU time of `pid`, in seconds.
fn cpu_secs(pid: i32) -> f64 {
    procfs::cpu_time(pid).map_or(0.0, |t| t.as_secs_f64())
}

/// The load average, as `/proc/loadavg` gives it.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

// ------------------------------------------------------------------ processes and limits

/// Makes this process the reaper of every orphan below it, so that the stubs killed after a
/// run become its zombies and are reaped here, whatever PID 1 does.
fn become_subreaper() {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("bench: warning: PR_SET_CHILD_SUBREAPER failed: {e}");
    }
}

/// Reaps every child left (killed stubs) until there is none, with a deadline.
fn reap_all() {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Err(Errno::ECHILD) => return,
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() > deadline {
                    eprintln!("bench: warning: children still alive after 120 s");
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(_) | Err(_) => {}
        }
    }
}

/// Raises the fd limit to the hard one and the stack limit that the svscans inherit (see
/// the module doc); returns the fd limit.
fn raise_limits() -> u64 {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    let fds = if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let stack = 512 << 20;
    let (soft, hard) = getrlimit(Resource::RLIMIT_STACK).unwrap_or((8 << 20, 8 << 20));
    if soft < stack {
        let _ = setrlimit(Resource::RLIMIT_STACK, stack.min(hard), hard);
    }
    fds
}

/// How a fleet of `n` services can run here: half logged (`Some(true)`), unlogged, or not at
/// all, from the fd limit (an svscan holds 2 fds per pair) and `kernel.pid_max` (1.5 n or n
/// processes, besides what already runs); says why when it is not half logged.
fn fleet_shape(n: usize, fd_limit: u64) -> Option<bool> {
    let pid_max: usize = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let running = std::fs::read_dir("/proc").map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .count()
    });
    let pids = |entries: usize| entries + running + 1000 <= pid_max;
    let fds = 2 * (n / 2) as u64 + 256 <= fd_limit;
    if pids(entries(n, true)) && fds {
        return Some(true);
    }
    let why = format!(
        "half logged it needs {} pids (kernel.pid_max is {pid_max}, {running} running) and \
         {} fds (the limit is {fd_limit})",
        entries(n, true),
        2 * (n / 2)
    );
    if pids(n) {
        eprintln!("bench: the fleet of {n} runs unlogged: {why}");
        Some(false)
    } else {
        eprintln!("bench: skipping the fleet of {n}: {why}");
        None
    }
}

// ------------------------------------------------------------------ the contenders

/// Ours and the stub as `make release` builds them; `BENCH_SVSCAN` and `BENCH_STUB` replace
/// either. The stub is the release build because every contender's cold start and teardown
/// include 1.5 N of its starts and exits, on the same 2 cores as svscan: a debug stub's start
/// (0.7 ms each, 10 times svscan's CPU per supervisor) is a floor that hides svscan's share.
fn release_builds() -> (PathBuf, PathBuf) {
    let given = |var: &str| {
        std::env::var_os(var)
            .filter(|p| !p.is_empty())
            .map(|p| std::path::absolute(&p).unwrap_or_else(|_| PathBuf::from(p)))
    };
    let (svscan, stub) = (given("BENCH_SVSCAN"), given("BENCH_STUB"));
    if let (Some(svscan), Some(stub)) = (&svscan, &stub) {
        return (svscan.clone(), stub.clone());
    }
    let dir = integration_tests::release_build(&["svscan", "supervise-stub"]);
    (
        svscan.unwrap_or_else(|| dir.join("svscan")),
        stub.unwrap_or_else(|| dir.join("supervise-stub")),
    )
}

fn contenders() -> Vec<Contender> {
    let (svscan, stub) = release_builds();
    let mut all = vec![Contender {
        who: Who::Ours,
        under: UnderTest {
            path: svscan,
            implementation: Implementation::Ours,
        },
        stub: stub.clone(),
    }];
    match real_s6("s6-svscan") {
        Ok(path) => all.push(Contender {
            who: Who::C211,
            under: UnderTest {
                path,
                implementation: Implementation::C,
            },
            stub: stub.clone(),
        }),
        Err(skip) => eprintln!("bench: no C 2.11: {}", skip.reason()),
    }
    match reference("s6-svscan") {
        Ok(path) => all.push(Contender {
            who: Who::C212,
            under: UnderTest {
                path,
                implementation: Implementation::C,
            },
            stub: stub.clone(),
        }),
        Err(skip) => eprintln!("bench: no C 2.12: {}", skip.reason()),
    }
    for c in &all {
        // A binary just written is dirty in the page cache, which smaps counts as the
        // process's Private_Dirty until writeback: write it back first.
        if let Ok(f) = std::fs::File::open(&c.under.path) {
            let _ = f.sync_all();
        }
    }
    all
}

/// The wrapper that ours runs under, the same as C's (`unshare -m`, a bind mount), between
/// two scratch files of `fx`.
fn our_wrapper(fx: &Fixture) -> Vec<String> {
    let (a, b) = (fx.tmp().join("bind-a"), fx.tmp().join("bind-b"));
    for f in [&a, &b] {
        std::fs::write(f, "").expect("a scratch file for the wrapper's bind mount");
    }
    [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount --bind "$0" "$1" && shift && exec "$@""#,
    ]
    .into_iter()
    .map(String::from)
    .chain([a, b].map(|p| p.display().to_string()))
    .collect()
}

/// Starts `c` on `fx` with `args`.
fn launch<'f>(fx: &'f Fixture, c: &Contender, args: &[String]) -> Svscan<'f> {
    let launch = fx
        .svscan()
        .under(c.under.clone())
        .supervise(&c.stub)
        .args(args);
    match c.who {
        Who::Ours => launch.start_wrapped(&our_wrapper(fx)),
        Who::C211 | Who::C212 => launch.start(),
    }
}

// ------------------------------------------------------------------ runs

fn start_count(events: &Events) -> usize {
    events.iter().filter(|e| e.ev == "start").count()
}

/// A fleet of `n` services, half logged (`1.5 n` entries) or not, and when it was made.
fn fleet_fixture(n: usize, logged: bool) -> (Fixture, Instant) {
    let fx = Fixture::new();
    for i in 0..n {
        let name = format!("s{i}");
        if logged && i % 2 == 1 {
            fx.logged(&name);
        } else {
            fx.service(&name);
        }
    }
    (fx, Instant::now())
}

fn entries(n: usize, logged: bool) -> usize {
    if logged { n + n / 2 } else { n }
}

/// `N=n`, and `unlogged` for a fleet that is.
fn size_label(n: usize, logged: bool) -> String {
    if logged {
        format!("N={n}")
    } else {
        format!("N={n} unlogged")
    }
}

/// Starts `c` on a fleet of `n` and waits for every start record; returns svscan and the
/// time from launch to the last of them, in seconds.
fn start_fleet<'f>(fx: &'f Fixture, c: &Contender, n: usize, logged: bool) -> (Svscan<'f>, f64) {
    let e = entries(n, logged);
    let t0 = now_mono_ns();
    let services = n;
    let mut sv = launch(fx, c, &c.who.size_args(services, e));
    let events = sv.wait_for(&format!("{e} supervisors started"), FLEET_DEADLINE, |ev| {
        start_count(ev) >= e
    });
    let last = events
        .iter()
        .filter(|e| e.ev == "start")
        .map(|e| e.mono_ns)
        .max()
        .unwrap_or(t0);
    (sv, (last - t0) as f64 / 1e9)
}

/// Waits until svscan is asleep in poll with nothing left in its FIFO.
fn wait_quiet(sv: &mut Svscan<'_>, fifo: &OwnedFd) {
    sv.wait_until("svscan asleep in poll", FLEET_DEADLINE, |sv| {
        integration_tests::sys::bytes_waiting(fifo.as_fd()).is_ok_and(|n| n == 0)
            && procfs::in_poll(sv.pid())
    });
}

fn open_fifo(fx: &Fixture) -> OwnedFd {
    let path = fx.path(common::CONTROL_FIFO);
    open(
        &path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn memory(results: &mut Results, who: Who, pid: i32, n: usize, logged: bool) {
    let dirty = procfs::memory_kb(pid, "Private_Dirty").unwrap_or(0) as f64;
    let rss = procfs::memory_kb(pid, "Rss").unwrap_or(0) as f64;
    let (dirty_target, rss_target) = match n {
        0 | 1000 => (Target::Ratio(0.8), Target::Ratio(1.0)),
        100 => (Target::Ratio(0.8), Target::None),
        _ => (Target::None, Target::None),
    };
    let size = size_label(n, logged);
    results.add(
        &format!("1 memory dirty {n:06}"),
        &format!("Private_Dirty, {size}"),
        "kB",
        dirty_target,
        who,
        dirty,
    );
    results.add(
        &format!("2 memory rss {n:06}"),
        &format!("Rss, {size}"),
        "kB",
        rss_target,
        who,
        rss,
    );
}

/// A small fleet: memory; at N = idle_n, context switches over the idle window.
fn run_small(plan: &Plan, results: &mut Results, c: &Contender, n: usize) {
    let (fx, _) = fleet_fixture(n, true);
    let (mut sv, _) = start_fleet(&fx, c, n, true);
    let fifo = open_fifo(&fx);
    wait_quiet(&mut sv, &fifo);
    memory(results, c.who, sv.pid(), n, true);
    if n == plan.idle_n {
        let before = procfs::context_switches(sv.pid());
        // A measurement window, not a wait for a condition: svscan is left alone for it.
        std::thread::sleep(plan.idle_window);
        let after = procfs::context_switches(sv.pid());
        results.add(
            "3 idle",
            &format!(
                "idle switches in {:.0} s, N={n}",
                plan.idle_window.as_secs_f64()
            ),
            "count",
            Target::AtMost(0.0),
            c.who,
            (after - before) as f64,
        );
    }
    drop(sv);
    reap_all();
}

/// `count` rescans: the CPU time of each, in ms.
fn rescans(sv: &mut Svscan<'_>, fifo: &OwnedFd, count: usize) -> Vec<f64> {
    let pid = sv.pid();
    (0..count)
        .map(|_| {
            let before = cpu_secs(pid);
            let written = nix::unistd::write(fifo, b"a");
            assert_eq!(written, Ok(1), "write a into the FIFO");
            wait_quiet(sv, fifo);
            (cpu_secs(pid) - before) * 1e3
        })
        .collect()
}

/// A fleet of N: cold start, memory, then the CPU time of rescans, fresh and settled.
fn run_fleet(plan: &Plan, results: &mut Results, c: &Contender, (n, logged): (usize, bool)) {
    let who = c.who;
    let size = size_label(n, logged);
    let (fx, made) = fleet_fixture(n, logged);
    let (mut sv, secs) = start_fleet(&fx, c, n, logged);
    let target = |small: f64| match n {
        1000 | 10000 => Target::Ratio(small),
        _ => Target::None,
    };
    results.add(
        &format!("4 cold {n:06}"),
        &format!("cold start, {size}"),
        "s",
        target(0.9),
        who,
        secs,
    );
    results.add(
        &format!("5 cold cpu {n:06}"),
        &format!("cold start, svscan's CPU, {size}"),
        "s",
        Target::None,
        who,
        cpu_secs(sv.pid()),
    );
    // What the supervisors' own starts cost (exec included: the kernel counts it to the
    // child), and the floor it puts under the cold start: every CPU second of svscan and of
    // its fleet shared by the machine's cores. A cold start near its floor is CPU-bound, and
    // svscan can win only its own share.
    let fleet_cpu: f64 = procfs::children(sv.pid()).into_iter().map(cpu_secs).sum();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    results.add(
        &format!("5 cold fleet cpu {n:06}"),
        &format!("cold start, the supervisors' CPU, {size}"),
        "s",
        Target::None,
        who,
        fleet_cpu,
    );
    results.add(
        &format!("5 cold floor {n:06}"),
        &format!("cold start, floor: all that CPU / {cores} cores, {size}"),
        "s",
        Target::None,
        who,
        (fleet_cpu + cpu_secs(sv.pid())) / cores as f64,
    );
    let fifo = open_fifo(&fx);
    wait_quiet(&mut sv, &fifo);
    memory(results, who, sv.pid(), n, logged);
    for ms in rescans(&mut sv, &fifo, plan.rescans) {
        results.add(
            &format!("7 rescan fresh {n:06}"),
            &format!("rescan CPU, fresh fleet, {size}"),
            "ms",
            Target::None,
            who,
            ms,
        );
    }
    integration_tests::wait_until("the fleet's directories settled", FLEET_DEADLINE, || {
        made.elapsed() >= SETTLED
    });
    for ms in rescans(&mut sv, &fifo, plan.rescans) {
        results.add(
            &format!("6 rescan {n:06}"),
            &format!("rescan CPU, {size}"),
            "ms",
            target(0.8),
            who,
            ms,
        );
    }
    assert_eq!(
        start_count(sv.events()),
        entries(n, logged),
        "a rescan started something new"
    );
    drop(sv);
    reap_all();
}

/// A supervisor that exits at once (gap between its starts) and one that runs 1.5 s (delay
/// from its exit to its restart).
fn run_respawn(plan: &Plan, results: &mut Results, c: &Contender) {
    let fx = Fixture::new();
    fx.control("quick", StubControl::Exit(0));
    fx.control("long", StubControl::ExitAfter(Duration::from_millis(1500)));
    let mut sv = launch(&fx, c, &[]);
    let (gaps, restarts) = (plan.respawn_gaps, plan.long_restarts);
    let within = Duration::from_secs(30 + 3 * (gaps + restarts) as u64);
    let events = sv.wait_for("the respawns", within, |e| {
        e.starts("quick").len() > gaps && e.starts("long").len() > restarts
    });
    let quick = events.starts("quick");
    let gaps: Vec<f64> = quick
        .windows(2)
        .take(gaps)
        .map(|w| w[1].secs_since(w[0]))
        .collect();
    let long = events.starts("long");
    let mut delays = Vec::new();
    for w in long.windows(2).take(restarts) {
        let exit = events
            .of_pid(w[0].pid)
            .find(|e| e.ev == "exit")
            .unwrap_or_else(|| panic!("no exit record of {}", w[0].pid));
        delays.push(w[1].secs_since(exit));
    }
    drop(sv);
    reap_all();
    for g in gaps {
        results.add(
            "8 respawn gap",
            "respawn gap, exits at once",
            "s",
            Target::Within(0.99, 1.01),
            c.who,
            g,
        );
    }
    for d in delays {
        results.add(
            "8 respawn long",
            "restart after a 1.5 s run, exit to start",
            "s",
            Target::AtMost(0.005),
            c.who,
            d,
        );
    }
}

/// N logged pairs: from `t` to svscan's exit.
fn run_teardown(plan: &Plan, results: &mut Results, c: &Contender) {
    let n = plan.teardown_pairs;
    let fx = Fixture::new();
    for i in 0..n {
        fx.logged(&format!("s{i}"));
    }
    let mut sv = launch(&fx, c, &c.who.size_args(n, 2 * n));
    sv.wait_for("every supervisor started", FLEET_DEADLINE, |e| {
        start_count(e) >= 2 * n
    });
    let fifo = open_fifo(&fx);
    wait_quiet(&mut sv, &fifo);
    let t0 = Instant::now();
    let t0_ns = now_mono_ns();
    sv.ctl("t");
    let exit = sv.wait_exit(FLEET_DEADLINE);
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let exited_ns = now_mono_ns();
    assert!(exit.code().is_some(), "svscan did not exit: {exit:?}");
    // Where the time goes: until the last supervisor has exited (the fleet's exits, the
    // signals sent before them), and from there to svscan's exit (its last reaps, its own
    // exit): only the latter is svscan's alone.
    let last_exit = sv
        .events()
        .iter()
        .filter(|e| e.ev == "exit")
        .map(|e| e.mono_ns)
        .max()
        .unwrap_or(exited_ns);
    drop(sv);
    reap_all();
    results.add(
        "9 teardown",
        &format!("teardown, {n} logged pairs, t to exit"),
        "ms",
        Target::Ratio(0.9),
        c.who,
        ms,
    );
    results.add(
        "9 teardown fleet",
        &format!("teardown, {n} logged pairs, t to the last supervisor's exit"),
        "ms",
        Target::None,
        c.who,
        (last_exit - t0_ns) as f64 / 1e6,
    );
    results.add(
        "9 teardown tail",
        &format!("teardown, {n} logged pairs, that exit to svscan's"),
        "ms",
        Target::None,
        c.who,
        (exited_ns - last_exit) as f64 / 1e6,
    );
}

/// The cost per service of the rescans and cold starts at each fleet size, to show that it
/// stays flat (linear cost).
fn per_service(results: &Results, plan: &Plan) -> String {
    let mut out = String::new();
    for (what, key, scale, unit) in [
        ("rescan CPU per service", "6 rescan", 1e3, "us"),
        ("cold start per service", "4 cold", 1e6, "us"),
    ] {
        let _ = write!(out, "{what} ({unit}):");
        for &n in &plan.fleet_ns {
            let Some(row) = results.get(&format!("{key} {n:06}")) else {
                continue;
            };
            let cells: Vec<String> = WHO
                .iter()
                .map(|w| {
                    median(&row.samples[w.index()])
                        .map_or_else(|| "-".to_owned(), |m| fmt(m * scale / n as f64))
                })
                .collect();
            let _ = write!(out, "  N={n}: {}", cells.join(" / "));
        }
        out.push('\n');
    }
    out.push_str("(ours / C 2.11 / C 2.12)\n");
    out
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or other flags are not supported.
    become_subreaper();
    let plan = Plan::from_env();
    let fd_limit = raise_limits();
    let fleets: Vec<(usize, bool)> = plan
        .fleet_ns
        .iter()
        .filter_map(|&n| Some((n, fleet_shape(n, fd_limit)?)))
        .collect();
    let contenders = contenders();
    let began = Instant::now();
    let load_start = loadavg();
    eprintln!(
        "bench: {} round(s), load {load_start}; {}",
        plan.rounds,
        contenders
            .iter()
            .map(|c| format!("{}: {}", c.who.label(), c.under.path.display()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut results = Results::default();
    // A first fleet of the largest size makes the kernel grow its caches (task structs, page
    // tables, dentries); no contender should pay for that in its samples.
    if let (Some(&fleet), Some(c)) = (fleets.last(), contenders.last()) {
        eprintln!("warm-up: a fleet of {}, not counted", fleet.0);
        run_fleet(&plan, &mut Results::default(), c, fleet);
    }
    let mut loads = Vec::new();
    for round in 0..plan.rounds {
        let mut order = contenders.clone();
        let len = order.len().max(1);
        order.rotate_left(round % len);
        eprintln!(
            "round {}/{}: {}",
            round + 1,
            plan.rounds,
            order
                .iter()
                .map(|c| c.who.label())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut each = |f: &mut dyn FnMut(&mut Results, &Contender)| {
            for c in &order {
                f(&mut results, c);
            }
        };
        for &n in &plan.small_ns {
            each(&mut |r, c| run_small(&plan, r, c, n));
        }
        if !plan.small_ns.contains(&plan.idle_n) {
            each(&mut |r, c| run_small(&plan, r, c, plan.idle_n));
        }
        for &fleet in &fleets {
            each(&mut |r, c| run_fleet(&plan, r, c, fleet));
        }
        each(&mut |r, c| run_respawn(&plan, r, c));
        each(&mut |r, c| run_teardown(&plan, r, c));
        loads.push(loadavg());
        eprintln!("round {} done, load {}", round + 1, loads[round]);
    }
    println!(
        "\nsvscan ({}) vs C s6-svscan 2.11 (Debian) and 2.12.0.4 (reference), same stub and \
         directories, half-logged fleets; {} round(s), {:.0} s\nload: start {load_start}; \
         after each round {}\n",
        contenders
            .first()
            .map_or_else(String::new, |c| c.under.path.display().to_string()),
        plan.rounds,
        began.elapsed().as_secs_f64(),
        loads.join("; "),
    );
    print!("{}", results.table());
    print!("{}", per_service(&results, &plan));
}
