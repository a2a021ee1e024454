//! The figures of svscan's features beyond s6 (issue 11, "Done when"), on the release build
//! with the `supervise-stub`: there is no C counterpart to run beside them.
//!
//! Run: `cargo bench -p integration-tests --bench svscan_plus` (root). `BENCH_ROUNDS=n`
//! (default 5): each round takes every sample of every row; the table gives the median and
//! the min–max over all of them.
//!
//! Rows:
//! - `-wa` N=10, N=1000: with N supervised services, a new service directory is made, then
//!   the time from sending `w` `a` on the socket (connect included, in this process) until
//!   the answer, which comes after the scan and the start pass that spawned its supervisor;
//!   and the same through the `svscanctl -wa` program (its fork and exec included, waited
//!   for with a blocking `wait`);
//! - `--watch` mkdir → supervisor, N=10: from `mkdir` until svscan's child `s6-supervise NAME`
//!   exists in `/proc` (polled every 100 µs);
//! - `-l` at 1000 and 10000 entries: svscan's CPU time per listing (`/proc/PID/schedstat`,
//!   from the request until it sleeps in poll again) and the client's wall time to receive
//!   the whole table. The entries have no supervisor (the supervise program is missing, so
//!   no 10000 processes are needed): their records are built and sent as any other's.
//!
//! Every process is killed by the harness's guard; the benchmark makes itself a child
//! subreaper (as `bench.rs`) and reaps the killed stubs between runs.

#![deny(unsafe_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::svscan_socket::Connection;
use integration_tests::{Fixture, Svscan, binary, procfs};
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

const FLEET_DEADLINE: Duration = Duration::from_secs(300);

fn become_subreaper() {
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("bench: warning: PR_SET_CHILD_SUBREAPER: {e}");
    }
}

/// Reaps the killed stubs left by a run, with a deadline.
fn reap_all() {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Err(Errno::ECHILD) => return,
            Ok(WaitStatus::StillAlive) if Instant::now() > deadline => return,
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
            Ok(_) | Err(_) => {}
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A row: its name, unit, samples.
struct Row(&'static str, &'static str, Vec<f64>);

fn print(rows: &mut [Row]) {
    println!("{:<40} {:>12} {:>24}  unit", "row", "median", "min-max");
    for Row(name, unit, v) in rows.iter_mut() {
        let m = median(v);
        let (lo, hi) = (v.first().copied(), v.last().copied());
        let spread = match (lo, hi) {
            (Some(lo), Some(hi)) => format!("{lo:.3}-{hi:.3}"),
            _ => "-".to_owned(),
        };
        println!("{name:<40} {m:>12.3} {spread:>24}  {unit} (n={})", v.len());
    }
}

fn supervisor_of(svscan: i32, name: &str) -> bool {
    let want = format!("s6-supervise\0{name}\0");
    procfs::children(svscan)
        .into_iter()
        .any(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want.as_bytes()))
}

fn fleet<'f>(fx: &'f Fixture, n: usize, args: &[&str]) -> Svscan<'f> {
    for i in 0..n {
        fx.service(&format!("s{i:05}"));
    }
    let mut sv = fx.svscan().args(args).start();
    sv.wait_for(&format!("{n} started"), FLEET_DEADLINE, |e| {
        e.iter().filter(|e| e.ev == "start").count() >= n
    });
    sv
}

fn wait_quiet(sv: &mut Svscan<'_>) {
    let pid = sv.pid();
    sv.wait_until("svscan asleep", FLEET_DEADLINE, |_| procfs::in_poll(pid));
}

/// `-wa` with `n` services: in-process and through the svscanctl program, ms.
fn wa(n: usize, samples: usize, socket: &mut Vec<f64>, program_ms: &mut Vec<f64>) {
    let fx = Fixture::new();
    let mut sv = fleet(&fx, n, &["-C", &(n + 2 * samples + 10).to_string()]);
    let dir = fx.scandir();
    let svscanctl = binary("svscanctl");
    for k in 0..samples {
        wait_quiet(&mut sv);
        fx.service(&format!("new{k}"));
        let t = Instant::now();
        Connection::open(dir, None)
            .and_then(|c| c.wait(b"a"))
            .expect("-wa");
        socket.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(supervisor_of(sv.pid(), &format!("new{k}")));
        wait_quiet(&mut sv);
        fx.service(&format!("prog{k}"));
        // A blocking wait, so that the figure is not rounded to a polling interval.
        let t = Instant::now();
        let status = Command::new(&svscanctl).arg("-wa").arg(dir).status();
        program_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(status.is_ok_and(|s| s.success()), "svscanctl -wa failed");
    }
    drop(sv);
    reap_all();
}

/// `--watch`: mkdir → supervisor, ms.
fn watch(samples: usize, out: &mut Vec<f64>) {
    let fx = Fixture::new();
    let mut sv = fleet(&fx, 10, &["--watch"]);
    let pid = sv.pid();
    for k in 0..samples {
        wait_quiet(&mut sv);
        let name = format!("w{k}");
        let t = Instant::now();
        fx.service(&name);
        while !supervisor_of(pid, &name) {
            assert!(t.elapsed() < FLEET_DEADLINE, "{name} never supervised");
            std::thread::sleep(Duration::from_micros(100));
        }
        out.push(t.elapsed().as_secs_f64() * 1e3);
    }
    drop(sv);
    reap_all();
}

/// `-l` at `n` entries: svscan's CPU ms and the client's wall ms per listing.
fn list(n: usize, samples: usize, cpu: &mut Vec<f64>, wall: &mut Vec<f64>) {
    let fx = Fixture::new();
    for i in 0..n {
        fx.service(&format!("s{i:05}"));
    }
    let mut sv = fx
        .svscan()
        .args(["-C", &(n + 10).to_string()])
        .supervise("/nonexistent/s6-supervise")
        .start();
    let dir: &Path = fx.scandir();
    Connection::open(dir, None)
        .and_then(|c| c.wait(b"a"))
        .expect("-wa");
    for _ in 0..samples {
        wait_quiet(&mut sv);
        let before = procfs::cpu_time(sv.pid()).expect("cpu time");
        let t = Instant::now();
        let mut records = 0;
        Connection::open(dir, None)
            .and_then(|c| c.list(|_| records += 1))
            .expect("-l");
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(records, n);
        wait_quiet(&mut sv);
        let after = procfs::cpu_time(sv.pid()).expect("cpu time");
        cpu.push((after - before).as_secs_f64() * 1e3);
    }
}

fn main() {
    become_subreaper();
    let rounds = integration_tests::stats::rounds().unwrap_or(5);
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "bench svscan_plus: {rounds} round(s), load {}",
        load().trim()
    );
    let mut rows = vec![
        Row("-wa N=10 (socket, in process)", "ms", vec![]),
        Row("-wa N=10 (svscanctl -wa)", "ms", vec![]),
        Row("-wa N=1000 (socket, in process)", "ms", vec![]),
        Row("-wa N=1000 (svscanctl -wa)", "ms", vec![]),
        Row("--watch mkdir -> supervisor N=10", "ms", vec![]),
        Row("-l 1000 entries: svscan cpu", "ms", vec![]),
        Row("-l 1000 entries: client wall", "ms", vec![]),
        Row("-l 10000 entries: svscan cpu", "ms", vec![]),
        Row("-l 10000 entries: client wall", "ms", vec![]),
    ];
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let [a, b, c, d, e, f, g, h, i] = &mut rows[..] else {
            unreachable!()
        };
        wa(10, 10, &mut a.2, &mut b.2);
        wa(1000, 10, &mut c.2, &mut d.2);
        watch(10, &mut e.2);
        list(1000, 5, &mut f.2, &mut g.2);
        list(10_000, 5, &mut h.2, &mut i.2);
    }
    println!(
        "\nsvscan beyond s6 (release, supervise-stub), {rounds} round(s); load at end {}",
        load().trim()
    );
    print(&mut rows);
}
