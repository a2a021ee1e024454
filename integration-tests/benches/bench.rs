//! Side-by-side benchmark of our svscan (the release build) and Debian's C `s6-svscan` 2.11,
//! both running the `supervise-stub` test double on the same scan directories (the C one
//! under `unshare -m` with the stub bind-mounted over its `s6-supervise`, as the harness does).
//!
//! Run: `cargo bench -p integration-tests` (root, s6 installed; the release binaries are built
//! by the harness's `binary` if they are not current). `BENCH_QUICK=1`: small N, one round, short idle window, for development.
//! `BENCH_ROUNDS=n`: rounds (default 3). Each round runs every scenario for ours, then for C
//! (the order flips every round), and the table gives, per row, the median with the min–max
//! spread over every sample, and the ratio ours/C of the medians.
//!
//! Rows (the targets of issue 5):
//! - idle: context switches (voluntary + nonvoluntary, `/proc/PID/status`) of svscan over a
//!   10 s window with N=100 services running;
//! - memory: `Private_Dirty` and `Rss` of svscan (`/proc/PID/smaps_rollup`) at N=0, 100, 1000,
//!   10000; ours with the default `-C 1000` (or `-C N` above), C with `-c N` above its
//!   default 500 (2.11's `-c` counts service directories, ours `-C` counts entries);
//! - rescan: CPU time of svscan (`/proc/PID/schedstat`, ns) per `a`, from the write into the
//!   FIFO until svscan has read it (FIONREAD 0) and sleeps in poll again; K per round;
//! - cold start: from svscan's launch (for C that includes `unshare` and `sh`, a few ms) to
//!   the last of the N stubs' start records;
//! - respawn: the gap between starts of a supervisor that exits at once; and the delay from
//!   the exit record of one that ran 1.5 s to its next start;
//! - teardown: from `t` to svscan's exit, N logged pairs, no finish program.
//!
//! Every process is killed by the harness's guard (by pid and process group); the benchmark
//! makes itself a child subreaper and reaps the killed stubs between runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::{
    Events, Fixture, Implementation, StubControl, Svscan, UnderTest, binary, now_mono_ns, procfs,
    real_s6,
};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

/// How long a wait for a whole fleet may take before the benchmark gives up.
const FLEET_DEADLINE: Duration = Duration::from_secs(300);
const C_SVSCAN: &str = "/usr/bin/s6-svscan";
/// C 2.11's default `-c`.
const C_DEFAULT_MAX: usize = 500;
/// Our default `-C`.
const OURS_DEFAULT_MAX: usize = 1000;

/// The sizes of one run of the benchmark.
struct Plan {
    rounds: usize,
    idle_n: usize,
    idle_window: Duration,
    memory_ns: Vec<usize>,
    /// Fleets measured for cold start, memory and rescan.
    fleet_ns: Vec<usize>,
    rescans: usize,
    respawn_gaps: usize,
    long_restarts: usize,
    teardown_pairs: usize,
}

impl Plan {
    fn from_env() -> Plan {
        let quick = std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
        let mut plan = if quick {
            Plan {
                rounds: 1,
                idle_n: 20,
                idle_window: Duration::from_secs(2),
                memory_ns: vec![0, 20],
                fleet_ns: vec![100, 500],
                rescans: 3,
                respawn_gaps: 2,
                long_restarts: 1,
                teardown_pairs: 50,
            }
        } else {
            Plan {
                rounds: 3,
                idle_n: 100,
                idle_window: Duration::from_secs(10),
                memory_ns: vec![0, 100],
                fleet_ns: vec![1000, 10000],
                rescans: 10,
                respawn_gaps: 4,
                long_restarts: 2,
                teardown_pairs: 1000,
            }
        };
        if let Some(r) = std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
        {
            plan.rounds = r;
        }
        plan
    }
}

// ------------------------------------------------------------------ samples and the table

/// One row of the table: its samples for ours and for C.
#[derive(Default)]
struct Row {
    unit: &'static str,
    /// The target of issue 5, as text.
    target: &'static str,
    ours: Vec<f64>,
    c: Vec<f64>,
}

/// Rows by key; the key sorts the table.
#[derive(Default)]
struct Results(BTreeMap<String, Row>);

impl Results {
    fn add(
        &mut self,
        key: &str,
        unit: &'static str,
        target: &'static str,
        who: Implementation,
        value: f64,
    ) {
        let row = self.0.entry(key.to_owned()).or_default();
        row.unit = unit;
        row.target = target;
        match who {
            Implementation::Ours => row.ours.push(value),
            Implementation::C => row.c.push(value),
        }
        eprintln!("  {key}: {} {value:.3} {unit}", name(who));
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<34} {:>26} {:>26} {:>8}  target",
            "row (unit)", "ours median (min-max)", "C 2.11 median (min-max)", "ours/C"
        );
        for (key, row) in &self.0 {
            let (o, c) = (summary(&row.ours), summary(&row.c));
            let ratio = match (median(&row.ours), median(&row.c)) {
                (Some(o), Some(c)) if c != 0.0 => format!("{:.2}", o / c),
                (Some(0.0), Some(_)) => "0/0".to_owned(),
                (Some(_), Some(_)) => "inf".to_owned(),
                _ => "-".to_owned(),
            };
            let _ = writeln!(
                out,
                "{:<34} {o:>26} {c:>26} {ratio:>8}  {}",
                format!("{key} ({})", row.unit),
                row.target
            );
        }
        out
    }
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

fn summary(v: &[f64]) -> String {
    let Some(m) = median(v) else {
        return "-".to_owned();
    };
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}-{})", fmt(m), fmt(min), fmt(max))
}

fn fmt(x: f64) -> String {
    if (x == x.trunc() && x.abs() < 1e9) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn name(who: Implementation) -> &'static str {
    match who {
        Implementation::Ours => "ours",
        Implementation::C => "C",
    }
}

// ------------------------------------------------------------------ /proc

fn proc_file(pid: i32, file: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default()
}

/// A `Key:   value` field of a `/proc` file, as a number (kB for sizes).
fn proc_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Voluntary plus nonvoluntary context switches of `pid`.
fn context_switches(pid: i32) -> u64 {
    let status = proc_file(pid, "status");
    proc_field(&status, "voluntary_ctxt_switches").unwrap_or(0)
        + proc_field(&status, "nonvoluntary_ctxt_switches").unwrap_or(0)
}

/// CPU time of `pid` in ns.
fn cpu_ns(pid: i32) -> u64 {
    procfs::cpu_time(pid).map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
}

/// Bytes waiting in a pipe or FIFO.
fn fionread(fd: &OwnedFd) -> i32 {
    let mut n: nix::libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points to `n`; `fd` is open.
    let r = unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::FIONREAD, &raw mut n) };
    if r < 0 { -1 } else { n }
}

// ------------------------------------------------------------------ processes

/// Makes this process the reaper of every orphan below it, so that the stubs killed after a
/// run become its zombies and are reaped here, whatever PID 1 does.
fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and changes only this process.
    let r = unsafe { nix::libc::prctl(nix::libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if r != 0 {
        eprintln!(
            "bench: warning: PR_SET_CHILD_SUBREAPER failed: {}",
            Errno::last()
        );
    }
}

/// Reaps every child left (killed stubs) until there is none, with a deadline.
fn reap_all() {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Err(Errno::ECHILD) => return,
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() > deadline {
                    eprintln!("bench: warning: children still alive after 60 s");
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(_) | Err(_) => {}
        }
    }
}

// ------------------------------------------------------------------ runs

/// The two svscans.
fn contenders() -> [UnderTest; 2] {
    [
        UnderTest {
            path: binary("svscan"),
            implementation: Implementation::Ours,
        },
        UnderTest {
            path: PathBuf::from(C_SVSCAN),
            implementation: Implementation::C,
        },
    ]
}

/// The table-size option for `services` service directories, `logged` of them with a logger.
fn size_args(who: Implementation, services: usize, logged: bool) -> Vec<String> {
    match who {
        Implementation::Ours => {
            let entries = if logged { services * 2 } else { services };
            if entries > OURS_DEFAULT_MAX {
                vec!["-C".into(), entries.to_string()]
            } else {
                Vec::new()
            }
        }
        Implementation::C if services > C_DEFAULT_MAX => {
            vec!["-c".into(), services.to_string()]
        }
        Implementation::C => Vec::new(),
    }
}

fn start_count(events: &Events) -> usize {
    events.iter().filter(|e| e.ev == "start").count()
}

/// A fixture with `n` plain services `s0`..
fn fleet_fixture(n: usize) -> Fixture {
    let fx = Fixture::new();
    for i in 0..n {
        fx.service(&format!("s{i}"));
    }
    fx
}

/// Starts `under` on `fx` with `args`, and waits for `n` start records; returns svscan and
/// the time from launch to the last of them, in seconds.
fn start_fleet<'f>(
    fx: &'f Fixture,
    under: &UnderTest,
    args: &[String],
    n: usize,
) -> (Svscan<'f>, f64) {
    let t0 = now_mono_ns();
    let mut sv = fx.svscan().under(under.clone()).args(args).start();
    let events = sv.wait_for(&format!("{n} supervisors started"), FLEET_DEADLINE, |e| {
        start_count(e) >= n
    });
    let last = events
        .iter()
        .filter(|e| e.ev == "start")
        .map(|e| e.mono_ns)
        .max()
        .unwrap_or(t0);
    let secs = (last - t0) as f64 / 1e9;
    (sv, secs)
}

/// svscan's CPU time so far, in seconds.
fn cpu_secs(sv: &Svscan<'_>) -> f64 {
    cpu_ns(sv.pid()) as f64 / 1e9
}

/// Waits until svscan is asleep in poll with nothing left in its FIFO.
fn wait_quiet(sv: &mut Svscan<'_>, fifo: &OwnedFd) {
    let pid = sv.pid();
    sv.wait_until("svscan asleep in poll", FLEET_DEADLINE, |_| {
        fionread(fifo) == 0 && procfs::in_poll(pid)
    });
}

fn memory(results: &mut Results, who: Implementation, pid: i32, n: usize) {
    let rollup = proc_file(pid, "smaps_rollup");
    let dirty = proc_field(&rollup, "Private_Dirty").unwrap_or(0);
    let rss = proc_field(&rollup, "Rss").unwrap_or(0);
    let target = if n == 1000 { "ours <= C" } else { "" };
    results.add(
        &format!("memory N={n:<5} Private_Dirty"),
        "kB",
        target,
        who,
        dirty as f64,
    );
    results.add(&format!("memory N={n:<5} Rss"), "kB", "", who, rss as f64);
}

/// N=0 and N=idle_n: memory; N=idle_n: context switches over the idle window.
fn run_small(plan: &Plan, results: &mut Results, under: &UnderTest, n: usize) {
    let who = under.implementation;
    let fx = fleet_fixture(n);
    let (mut sv, _) = start_fleet(&fx, under, &size_args(who, n, false), n);
    let fifo = open_fifo(&fx);
    wait_quiet(&mut sv, &fifo);
    memory(results, who, sv.pid(), n);
    if n == plan.idle_n {
        let before = context_switches(sv.pid());
        // A measurement window, not a wait for a condition: svscan is left alone for it.
        std::thread::sleep(plan.idle_window);
        let after = context_switches(sv.pid());
        results.add(
            &format!(
                "idle N={n} switches/{}s",
                plan.idle_window.as_secs_f64().round()
            ),
            "count",
            "ours 0",
            who,
            (after - before) as f64,
        );
    }
    drop(sv);
    reap_all();
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

/// A fleet of N: cold start, memory, then the CPU time of rescans.
fn run_fleet(plan: &Plan, results: &mut Results, under: &UnderTest, n: usize) {
    let who = under.implementation;
    let fx = fleet_fixture(n);
    let (mut sv, secs) = start_fleet(&fx, under, &size_args(who, n, false), n);
    let cold_target = if n == plan.fleet_ns[plan.fleet_ns.len() - 1] {
        "ours <= C"
    } else {
        ""
    };
    results.add(&format!("cold start N={n}"), "s", cold_target, who, secs);
    results.add(
        &format!("cold start N={n} svscan cpu"),
        "s",
        "",
        who,
        cpu_secs(&sv),
    );
    let fifo = open_fifo(&fx);
    wait_quiet(&mut sv, &fifo);
    memory(results, who, sv.pid(), n);
    let pid = sv.pid();
    for _ in 0..plan.rescans {
        let before = cpu_ns(pid);
        let written = nix::unistd::write(&fifo, b"a");
        assert_eq!(written, Ok(1), "write a into the FIFO");
        wait_quiet(&mut sv, &fifo);
        let ms = (cpu_ns(pid) - before) as f64 / 1e6;
        let target = if n == plan.fleet_ns[0] {
            ""
        } else {
            "ours <= 12x N small"
        };
        results.add(&format!("rescan N={n} cpu/a"), "ms", target, who, ms);
    }
    assert_eq!(
        start_count(sv.events()),
        n,
        "a rescan started something new"
    );
    drop(sv);
    reap_all();
}

/// A supervisor that exits at once (gap between its starts) and one that runs 1.5 s (delay
/// from its exit to its restart).
fn run_respawn(plan: &Plan, results: &mut Results, under: &UnderTest) {
    let who = under.implementation;
    let fx = Fixture::new();
    fx.control("quick", StubControl::Exit(0));
    fx.control("long", StubControl::ExitAfter(Duration::from_millis(1500)));
    let mut sv = fx.svscan().under(under.clone()).start();
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
        results.add("respawn gap, exits at once", "s", "1.00 +- 0.01", who, g);
    }
    for d in delays {
        results.add(
            "respawn after 1.5 s run, death to start",
            "s",
            "ours ~0 (C 2.11: 1)",
            who,
            d,
        );
    }
}

/// N logged pairs: from `t` to svscan's exit.
fn run_teardown(plan: &Plan, results: &mut Results, under: &UnderTest) {
    let who = under.implementation;
    let n = plan.teardown_pairs;
    let fx = Fixture::new();
    for i in 0..n {
        fx.logged(&format!("s{i}"));
    }
    let (mut sv, _) = start_fleet(&fx, under, &size_args(who, n, true), 2 * n);
    let fifo = open_fifo(&fx);
    wait_quiet(&mut sv, &fifo);
    let t0 = Instant::now();
    sv.ctl("t");
    let exit = sv.wait_exit(FLEET_DEADLINE);
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    assert!(exit.code().is_some(), "svscan did not exit: {exit:?}");
    drop(sv);
    reap_all();
    results.add(
        &format!("teardown N={n} pairs, t to exit"),
        "ms",
        "ours <= C",
        who,
        ms,
    );
}

/// Builds ours (release: `cargo bench` runs in `target/release`) and checks for C's.
fn check_binaries() {
    // A binary the linker has just written is dirty in the page cache, which smaps counts as
    // the process's Private_Dirty until writeback: write them back first.
    for bin in ["svscan", "supervise-stub"] {
        if let Ok(f) = std::fs::File::open(binary(bin)) {
            let _ = f.sync_all();
        }
    }
    if let Err(skip) = real_s6("s6-svscan") {
        eprintln!("bench: {}", skip.reason());
        std::process::exit(1);
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or other flags are not supported.
    check_binaries();
    become_subreaper();
    let plan = Plan::from_env();
    let began = Instant::now();
    eprintln!(
        "bench: {} round(s), load {}, ours {}",
        plan.rounds,
        loadavg(),
        binary("svscan").display()
    );
    let mut results = Results::default();
    // A first fleet of the largest size makes the kernel grow its caches (task structs, page
    // tables, dentries); neither contender should pay for that in its samples.
    if let Some(&n) = plan.fleet_ns.last() {
        eprintln!("warm-up: a fleet of {n}, not counted");
        run_fleet(&plan, &mut Results::default(), &contenders()[1], n);
    }
    for round in 0..plan.rounds {
        let mut order = contenders();
        if round % 2 == 1 {
            order.reverse();
        }
        eprintln!("round {}/{}", round + 1, plan.rounds);
        let mut each = |f: &mut dyn FnMut(&mut Results, &UnderTest)| {
            for under in &order {
                f(&mut results, under);
            }
        };
        for &n in &plan.memory_ns {
            each(&mut |r, u| run_small(&plan, r, u, n));
        }
        if !plan.memory_ns.contains(&plan.idle_n) {
            each(&mut |r, u| run_small(&plan, r, u, plan.idle_n));
        }
        for &n in &plan.fleet_ns {
            each(&mut |r, u| run_fleet(&plan, r, u, n));
        }
        each(&mut |r, u| run_respawn(&plan, r, u));
        each(&mut |r, u| run_teardown(&plan, r, u));
    }
    println!(
        "\nsvscan (release) vs Debian's s6-svscan 2.11, same stub and directories; {} round(s), \
         {:.0} s, load at end {}\n",
        plan.rounds,
        began.elapsed().as_secs_f64(),
        loadavg()
    );
    print!("{}", results.table());
    if let [small, .., big] = plan.fleet_ns[..] {
        let row = |n: usize| results.0.get(&format!("rescan N={n} cpu/a"));
        if let (Some(s), Some(b)) = (row(small), row(big)) {
            let scale = |s: &[f64], b: &[f64]| match (median(s), median(b)) {
                (Some(s), Some(b)) if s > 0.0 => format!("{:.1}x", b / s),
                _ => "-".to_owned(),
            };
            println!(
                "rescan N={big} over N={small} (medians): ours {}, C {} (target: ours <= 12x)",
                scale(&s.ours, &b.ours),
                scale(&s.c, &b.c)
            );
        }
    }
}
