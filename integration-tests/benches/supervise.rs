//! Side-by-side benchmark of our supervise (as `make release` builds it: static, non-PIE, what
//! `make install` installs) and the C s6-supervise: the
//! 2.12.0.4 reference (`s6-supervise.real`) and Debian's 2.11, on the same service
//! directories, in one run, with the ratio ours / the better C of each row (issue 9,
//! "Performance").
//!
//! Run: `cargo bench -p integration-tests --bench supervise` (root; s6 and the reference
//! installed; it runs `make release` for supervise and svscan first). `BENCH_QUICK=1`: one
//! round, short windows, 100 services instead of 1000. `BENCH_ROUNDS=n`: rounds (default 3).
//! `BENCH_SUPERVISE=PATH`: one more contender, another build of ours (e.g.
//! `target/release/supervise`, the dynamic one).
//!
//! Rows:
//! - idle memory: `Private_Dirty` and `Rss` (`/proc/PID/smaps_rollup`) of one supervise whose
//!   service is up and ready;
//! - idle wake-ups: context switches of that supervise over a window;
//! - restart after `r` (what `s6-svc -r` writes): from the write into `supervise/control` to
//!   the `u` event of the new run, the service having been ready for more than a second (so
//!   the throttle allows an immediate restart, as for C);
//! - restart after a crash: from a SIGKILL to run to the `u` event;
//! - a tree of N services (1000) under each one's svscan (ours: `svscan --supervise` ours;
//!   C: the same version's s6-svscan and s6-supervise): the total `Private_Dirty` of svscan
//!   and its supervisors, once every service is up.

#![deny(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use integration_tests::service::{
    Events, Observed, ServiceDir, Supervised, Supervisor, Tai64n, tai_secs_between,
};
use integration_tests::stats::{median, summary};
use integration_tests::{Fixture, Implementation, UnderTest, procfs};
use nix::sys::signal::Signal;

/// One contender: a name, the supervise program, and the svscan that runs it in a tree.
#[derive(Clone)]
struct Contender {
    name: &'static str,
    sup: Supervisor,
    program: PathBuf,
    svscan: UnderTest,
    /// The supervise program given to svscan.
    tree_supervise: PathBuf,
}

fn contenders() -> Vec<Contender> {
    let release = integration_tests::release_build(&["supervise", "svscan"]);
    let ours = release.join("supervise");
    let svscan = UnderTest {
        path: release.join("svscan"),
        implementation: Implementation::Ours,
    };
    let mut list = vec![Contender {
        name: "ours",
        sup: Supervisor::Ours,
        program: ours.clone(),
        svscan: svscan.clone(),
        tree_supervise: ours,
    }];
    if let Some(path) = std::env::var_os("BENCH_SUPERVISE").map(PathBuf::from) {
        list.push(Contender {
            name: "ours other",
            sup: Supervisor::Ours,
            program: path.clone(),
            svscan,
            tree_supervise: path,
        });
    }
    let reference = integration_tests::reference_dir();
    list.push(Contender {
        name: "C 2.12",
        sup: Supervisor::Reference,
        program: reference.join("bin/s6-supervise.real"),
        svscan: UnderTest {
            path: reference.join("bin/s6-svscan"),
            implementation: Implementation::C,
        },
        tree_supervise: reference.join("bin/s6-supervise"),
    });
    list.push(Contender {
        name: "C 2.11",
        sup: Supervisor::Debian,
        program: PathBuf::from("/usr/bin/s6-supervise"),
        svscan: UnderTest {
            path: PathBuf::from("/usr/bin/s6-svscan"),
            implementation: Implementation::C,
        },
        tree_supervise: PathBuf::from("/usr/bin/s6-supervise"),
    });
    list
}

struct Plan {
    rounds: usize,
    idle_window: Duration,
    restarts: usize,
    tree_n: usize,
}

impl Plan {
    fn from_env() -> Plan {
        let mut plan = if integration_tests::stats::quick() {
            Plan {
                rounds: 1,
                idle_window: Duration::from_secs(2),
                restarts: 5,
                tree_n: 100,
            }
        } else {
            Plan {
                rounds: 3,
                idle_window: Duration::from_secs(10),
                restarts: 20,
                tree_n: 1000,
            }
        };
        if let Some(r) = integration_tests::stats::rounds() {
            plan.rounds = r;
        }
        plan
    }
}

// ------------------------------------------------------------------ samples and the table

/// One row: its unit, its target, and the samples of each contender.
type Row = (&'static str, &'static str, BTreeMap<&'static str, Vec<f64>>);

/// Samples per row, per contender.
#[derive(Default)]
struct Results(BTreeMap<String, Row>);

impl Results {
    fn add(
        &mut self,
        row: &str,
        unit: &'static str,
        target: &'static str,
        who: &'static str,
        v: f64,
    ) {
        let entry = self
            .0
            .entry(row.to_owned())
            .or_insert_with(|| (unit, target, BTreeMap::new()));
        entry.2.entry(who).or_default().push(v);
        eprintln!("  {row}: {who} {v:.3} {unit}");
    }

    fn table(&self, names: &[&'static str]) -> String {
        let mut out = String::new();
        let _ = write!(out, "{:<40}", "row (unit)");
        for n in names {
            let _ = write!(out, " {n:>24}");
        }
        let _ = writeln!(out, " {:>9}  target", "ours/C");
        for (row, (unit, target, samples)) in &self.0 {
            let _ = write!(out, "{:<40}", format!("{row} ({unit})"));
            for n in names {
                let cell = samples
                    .get(n)
                    .map_or_else(|| "-".to_owned(), |v| summary(v));
                let _ = write!(out, " {cell:>24}");
            }
            let best_c = ["C 2.12", "C 2.11"]
                .iter()
                .filter_map(|n| samples.get(n).and_then(|v| median(v)))
                .fold(f64::INFINITY, f64::min);
            let ours = samples.get("ours").and_then(|v| median(v));
            let ratio = match ours {
                Some(o) if best_c.is_finite() && best_c > 0.0 => format!("{:.2}", o / best_c),
                Some(o) if best_c == 0.0 && o == 0.0 => "0/0".to_owned(),
                _ => "-".to_owned(),
            };
            let _ = writeln!(out, " {ratio:>9}  {target}");
        }
        out
    }
}

fn ready_service() -> ServiceDir {
    let dir = ServiceDir::new();
    dir.run("echo >&3\nexec sleep 100000")
        .write("notification-fd", "3");
    dir
}

fn start<'d>(dir: &'d ServiceDir, who: &Contender) -> Supervised<'d> {
    dir.launch(who.sup).program(&who.program).start()
}

/// Waits for the first event byte in `want` after now; returns the time it took from `t0`.
fn event_after(events: &mut Events, t0: Instant, want: u8) -> f64 {
    events.wait_for("the event", Duration::from_secs(30), |got| {
        got.contains(&want)
    });
    t0.elapsed().as_secs_f64() * 1000.0
}

fn run_idle(plan: &Plan, results: &mut Results, who: &Contender) {
    let dir = ready_service();
    let mut sv = start(&dir, who);
    sv.wait_status("up and ready", |s| s.up() && s.ready);
    let pid = sv.pid();
    sv.wait_until("asleep", Duration::from_secs(30), |_| procfs::in_poll(pid));
    let before = procfs::context_switches(pid);
    std::thread::sleep(plan.idle_window);
    let woke = procfs::context_switches(pid) - before;
    results.add("idle wake-ups", "per window", "0", who.name, woke as f64);
    results.add(
        "idle Private_Dirty",
        "kB",
        "<= 0.8x best C",
        who.name,
        procfs::memory_kb(pid, "Private_Dirty").unwrap_or(0) as f64,
    );
    results.add(
        "idle Rss",
        "kB",
        "<= 1.0x best C",
        who.name,
        procfs::memory_kb(pid, "Rss").unwrap_or(0) as f64,
    );
}

/// The restart rows, sample by sample in turn over the contenders, the first of each turn
/// rotating, and each sample after the same pause (a contender measured right after a pause
/// meets a machine in another state than one measured right after another's restart).
fn run_restarts(plan: &Plan, results: &mut Results, order: &[Contender]) {
    let dirs: Vec<ServiceDir> = order.iter().map(|_| ready_service()).collect();
    let mut running: Vec<(Events, Supervised<'_>)> = dirs
        .iter()
        .zip(order)
        .map(|(dir, who)| (dir.watch(), start(dir, who)))
        .collect();
    let n = order.len();
    for crash in [false, true] {
        for turn in 0..plan.restarts {
            for k in 0..n {
                let i = (turn + k) % n;
                let (events, sv) = &mut running[i];
                let st = sv.wait_status("up and ready", |s| s.up() && s.ready);
                // Ready for over a second (the throttle then lets the restart come at once),
                // and a pause of at least PAUSE before every sample.
                let ready_for = tai_secs_between(st.readystamp, Tai64n::now());
                std::thread::sleep(Duration::from_secs_f64((1.1 - ready_for).max(PAUSE)));
                events.clear();
                let t0 = Instant::now();
                if crash {
                    integration_tests::signal_pid(st.pid(), Signal::SIGKILL);
                } else {
                    sv.ctl("r");
                }
                let ms = event_after(events, t0, b'u');
                let row = if crash {
                    "restart after a crash"
                } else {
                    "restart after s6-svc -r"
                };
                results.add(row, "ms", "<= C", order[i].name, ms);
            }
        }
    }
}

/// The pause before each restart sample, in seconds.
const PAUSE: f64 = 0.3;

fn run_tree(plan: &Plan, results: &mut Results, who: &Contender) {
    let n = plan.tree_n;
    let fx = Fixture::new();
    for i in 0..n {
        fx.script(format!("s{i}/run"), "#!/bin/sh\nexec sleep 100000\n");
    }
    let mut args = Vec::new();
    match who.svscan.implementation {
        Implementation::Ours if n > 1000 => args.extend(["-C".to_owned(), n.to_string()]),
        Implementation::C if n > 500 => args.extend(["-c".to_owned(), n.to_string()]),
        _ => {}
    }
    let mut sv = fx
        .svscan()
        .under(who.svscan.clone())
        .supervise(&who.tree_supervise)
        .args(&args)
        .start();
    let t0 = Instant::now();
    let up = |fx: &Fixture| {
        (0..n)
            .filter(|i| {
                common::status::Status::read(&fx.path(format!("s{i}"))).is_ok_and(|s| s.is_up())
            })
            .count()
    };
    sv.wait_until(
        &format!("{n} services up"),
        Duration::from_secs(600),
        |_| {
            let all = up(&fx) == n;
            if !all {
                // Not a wait (the condition is): reading 1000 status files every 5 ms would
                // load the two cores whose start-up this row measures.
                std::thread::sleep(Duration::from_millis(200));
            }
            all
        },
    );
    let started = t0.elapsed().as_secs_f64();
    let svscan = sv.pid();
    let supervisors = procfs::children(svscan);
    let total: f64 = std::iter::once(svscan)
        .chain(supervisors.iter().copied())
        .map(|p| procfs::memory_kb(p, "Private_Dirty").unwrap_or(0) as f64)
        .sum();
    results.add(
        &format!("tree of {n}: svscan+supervisors Private_Dirty"),
        "MB",
        "reported",
        who.name,
        total / 1024.0,
    );
    results.add(
        &format!("tree of {n}: per supervisor Private_Dirty"),
        "kB",
        "reported",
        who.name,
        supervisors
            .iter()
            .map(|&p| procfs::memory_kb(p, "Private_Dirty").unwrap_or(0) as f64)
            .sum::<f64>()
            / supervisors.len().max(1) as f64,
    );
    results.add(
        &format!("tree of {n}: all up after"),
        "s",
        "reported",
        who.name,
        started,
    );
}

fn main() {
    let plan = Plan::from_env();
    let list = contenders();
    for c in &list {
        if !c.program.is_file() || !c.svscan.path.is_file() {
            eprintln!(
                "bench: {} or {} is missing: apt-get install s6; ci/s6-reference/build-s6-reference.sh",
                c.program.display(),
                c.svscan.path.display()
            );
            std::process::exit(1);
        }
        // A binary the linker has just written is dirty in the page cache, which smaps
        // counts as the process's Private_Dirty until writeback: write it back first.
        if let Ok(f) = std::fs::File::open(&c.program) {
            let _ = f.sync_all();
        }
    }
    let began = Instant::now();
    let mut results = Results::default();
    for round in 0..plan.rounds {
        eprintln!("round {}/{}", round + 1, plan.rounds);
        let mut order = list.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for who in &order {
            run_idle(&plan, &mut results, who);
        }
        run_restarts(&plan, &mut results, &order);
        for who in &order {
            run_tree(&plan, &mut results, who);
        }
    }
    let names: Vec<&'static str> = list.iter().map(|c| c.name).collect();
    println!(
        "\nsupervise (release) vs C s6-supervise 2.12.0.4 and 2.11 (Debian); {} round(s), {:.0} s\n",
        plan.rounds,
        began.elapsed().as_secs_f64()
    );
    print!("{}", results.table(&names));
}
