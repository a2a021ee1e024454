//! Arbitrary input on the control FIFO, and random sequences of commands and signals mixed
//! with changes to the scan directory: svscan warns about what it does not know, keeps
//! supervising, and ends cleanly. Random choices come from a seeded xorshift generator; the
//! seed is printed (it shows with a failure) and `FAULTS_SEED=N` replays one.

use std::path::PathBuf;

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Event, Events, Fixture, Svscan, note, now_mono_ns, procfs, scenario, signal_pid,
    under_test, wait_until,
};
use nix::errno::Errno;
use nix::sys::signal::Signal;

pub const SCENARIOS: &[Scenario] = &[
    scenario!(random_control_bytes_are_warned_about_and_svscan_keeps_working),
    scenario!(adversarial_control_bytes_are_warned_about_and_svscan_keeps_working),
    scenario!(random_commands_signals_and_directory_changes_keep_the_invariants).slow(),
];

/// The bytes svscan knows; every other byte is an unknown command.
const COMMANDS: &[u8] = b"zabhitqnN";
/// The commands that make svscan leave its loop, kept out of the input until the end.
const LEAVING: &[u8] = b"tiqb";

/// xorshift64*: small, seeded, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0: from the clock); the seed is printed.
    fn new(seed: u64) -> Rng {
        let seed = if seed == 0 {
            now_mono_ns() as u64
        } else {
            seed
        };
        note!("seed {seed} (FAULTS_SEED={seed} replays it)");
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A byte that is not a leaving command.
    fn staying_byte(&mut self) -> u8 {
        loop {
            let b = self.next() as u8;
            if !LEAVING.contains(&b) {
                return b;
            }
        }
    }

    /// A byte svscan does not know, other than a newline (whose warning would take two
    /// lines).
    fn unknown_byte(&mut self) -> u8 {
        loop {
            let b = self.next() as u8;
            if !COMMANDS.contains(&b) && b != b'\n' {
                return b;
            }
        }
    }
}

/// The seeds to run: `FAULTS_SEED` alone if set, else `defaults`.
fn seeds(defaults: &[u64]) -> Vec<u64> {
    match std::env::var("FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => defaults.to_vec(),
    }
}

/// The name svscan's diagnostics start with.
fn prog() -> &'static str {
    under_test().prog()
}

/// The warning svscan writes for the unknown control byte `b`: the byte itself, raw; a NUL
/// prints nothing after the colon and space.
fn unknown_warning(b: u8) -> Vec<u8> {
    let mut w = format!("{}: warning: received unknown control command: ", prog()).into_bytes();
    if b != 0 {
        w.push(b);
    }
    w.push(b'\n');
    w
}

/// Writes `bytes` into the control FIFO in one write, waiting for room if it is full.
fn send(sv: &mut Svscan<'_>, bytes: &[u8]) {
    let mut result = Ok(());
    sv.wait_until("room in the control FIFO", DEADLINE, |sv| {
        result = sv.try_ctl(bytes);
        result != Err(Errno::EAGAIN)
    });
    result.unwrap_or_else(|e| panic!("write {} bytes to the control FIFO: {e}", bytes.len()));
}

/// Whether the process of the `start` record `e` is still running (not dead, not a zombie,
/// and not another process that reused the pid).
fn running(e: &Event) -> bool {
    e.int("starttime").is_some()
        && procfs::starttime(e.pid) == e.int("starttime")
        && procfs::is_alive(e.pid)
}

/// The pids of running supervisors started under any of `names`.
fn running_under(events: &Events, names: &[String]) -> Vec<i32> {
    events
        .iter()
        .filter(|e| e.ev == "start" && names.contains(&e.name) && running(e))
        .map(|e| e.pid)
        .collect()
}

/// The first byte where `got` and `want` differ, for a failure message.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let show = |b: &[u8]| {
        String::from_utf8_lossy(&b[at.min(b.len())..(at + 80).min(b.len())]).into_owned()
    };
    format!(
        "{} bytes, expected {}; first difference at {at}: {:?} instead of {:?}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    )
}

/// Feeds `chunks` (each one write) to an svscan supervising a logged `a` and a plain `b`,
/// then checks the rule "other: warning `received unknown control command: C` ...; keep
/// going": exactly one warning per unknown byte, in order, and nothing else on stderr; the
/// supervisors untouched (`h`, `n`, `N` kill only inactive ones, and there are none); a
/// killed one started again; a new service picked up after `a`; `t` exits 0.
fn survives_control_bytes(chunks: &[Vec<u8>]) {
    let fx = Fixture::new();
    fx.logged("a");
    fx.service("b");
    let mut sv = fx.start();
    let names = ["a", "a/log", "b"];
    let events = sv.wait_for("a, a/log and b started", DEADLINE, |e| {
        names.iter().all(|n| e.pid_of(n).is_some())
    });
    let pids: Vec<i32> = names.iter().filter_map(|n| events.pid_of(n)).collect();

    assert!(
        !chunks.iter().flatten().any(|b| LEAVING.contains(b)),
        "no leaving command in the input"
    );
    let mut expected = Vec::new();
    for chunk in chunks {
        send(&mut sv, chunk);
        for &b in chunk.iter().filter(|b| !COMMANDS.contains(b)) {
            expected.extend(unknown_warning(b));
        }
    }
    sv.wait_until("a warning for every unknown byte", DEADLINE, |sv| {
        sv.stderr_bytes().len() >= expected.len()
    });
    let stderr = sv.stderr_bytes();
    assert!(
        stderr == expected,
        "stderr: {}",
        first_difference(&stderr, &expected)
    );

    let events = sv.events();
    for (name, pid) in names.iter().zip(&pids) {
        assert_eq!(events.pid_of(name), Some(*pid), "{name} never restarted");
        assert!(procfs::is_alive(*pid), "{name}'s supervisor still running");
        assert!(
            events.signals_of(*pid).is_empty(),
            "{name} never signalled, but: {:?}\n{}",
            events.signals_of(*pid),
            events.dump()
        );
    }
    signal_pid(pids[2], Signal::SIGKILL);
    sv.wait_for("b started again", DEADLINE, |e| {
        e.pid_of("b").is_some_and(|pid| pid != pids[2])
    });
    fx.service("c");
    sv.ctl("a");
    sv.wait_for("c started", DEADLINE, |e| e.pid_of("c").is_some());
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    assert!(
        sv.stderr_bytes() == expected,
        "no warning but the unknown bytes'"
    );
}

/// Random bytes (every value but the leaving commands `t i q b`), in writes of random sizes:
/// one warning per unknown byte and svscan keeps working (see [`survives_control_bytes`]).
fn random_control_bytes_are_warned_about_and_svscan_keeps_working() {
    let mut rng = Rng::new(seeds(&[0])[0]);
    let chunks: Vec<Vec<u8>> = (0..24)
        .map(|_| {
            let len = 1 + rng.below(1024);
            (0..len).map(|_| rng.staying_byte()).collect()
        })
        .collect();
    survives_control_bytes(&chunks);
}

/// Adversarial bytes: a lone NUL and 0xff, 4096-byte runs of NUL, 0xff and `x`, every byte
/// but `t i q b` in both orders, terminal escapes, a broken UTF-8 sequence, and long runs of
/// the commands that stay (`z a h n N`): one warning per unknown byte and svscan keeps working
/// (see [`survives_control_bytes`]).
fn adversarial_control_bytes_are_warned_about_and_svscan_keeps_working() {
    let every: Vec<u8> = (0..=255u8).filter(|b| !LEAVING.contains(b)).collect();
    let chunks = vec![
        vec![0],
        vec![0xff],
        vec![0; 4096],
        vec![0xff; 4096],
        vec![b'x'; 4096],
        every.clone(),
        every.iter().rev().copied().collect(),
        b"\n\r\t \x1b[2J\x1b]0;xyz\x07\x7f\x08".to_vec(),
        "\u{e9}\u{2603}".as_bytes().to_vec(),
        vec![0xc3],
        vec![0x80, 0xbf, 0xfe],
        vec![b'z'; 4096],
        vec![b'a'; 4096],
        vec![b'h'; 4096],
        b"nN".repeat(2048),
        b"azhnN\0".repeat(600),
    ];
    survives_control_bytes(&chunks);
}

// ------------------------------------------------------------------ the property test

/// A service directory of the model: every name it had (the last is the current one).
struct Dir {
    names: Vec<String>,
    logged: bool,
    removed: bool,
}

impl Dir {
    fn current(&self) -> &str {
        self.names.last().map_or("", String::as_str)
    }

    /// The names its service's supervisors may have been started under.
    fn service_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The names its logger's supervisors may have been started under.
    fn logger_names(&self) -> Vec<String> {
        self.names.iter().map(|n| format!("{n}/log")).collect()
    }

    /// The name sets of its entries (one, or two when logged).
    fn entries(&self) -> Vec<Vec<String>> {
        let mut entries = vec![self.service_names()];
        if self.logged {
            entries.push(self.logger_names());
        }
        entries
    }
}

/// The signals of the property test: SIGHUP (as `h`), SIGALRM (as `a`), SIGCHLD (reap) and
/// three that do nothing without a `.s6-svscan/SIGNAME` program.
const SIGNALS: [Signal; 6] = [
    Signal::SIGHUP,
    Signal::SIGALRM,
    Signal::SIGCHLD,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Steps per seed, and the seeds run by default: two fixed ones, and one from the clock
/// (0), so that every run also explores a new sequence (its seed is printed).
const STEPS: usize = 150;
const SEEDS: [u64; 3] = [0x5eed_0001, 0x5eed_0002, 0];

/// One seed's run of the property test.
struct Run<'f> {
    fx: &'f Fixture,
    rng: Rng,
    dirs: Vec<Dir>,
    next_name: usize,
    /// Directories are made here, then renamed into the scan dir, so svscan never sees one
    /// half made; removed ones are renamed to `gone/`, never half deleted.
    staging: PathBuf,
    gone: PathBuf,
    unknown_bytes: usize,
    /// svscan's fds besides the pairs' pipes.
    base_fds: usize,
}

impl Run<'_> {
    fn fresh_name(&mut self) -> String {
        self.next_name += 1;
        format!("s{}", self.next_name)
    }

    fn add(&mut self, logged: bool) {
        let name = self.fresh_name();
        let staged = self.staging.join(&name);
        std::fs::create_dir_all(if logged {
            staged.join("log")
        } else {
            staged.clone()
        })
        .expect("mkdir staged");
        std::fs::rename(&staged, self.fx.path(&name)).expect("rename into the scan dir");
        self.dirs.push(Dir {
            names: vec![name],
            logged,
            removed: false,
        });
    }

    fn existing(&self) -> Vec<usize> {
        (0..self.dirs.len())
            .filter(|i| !self.dirs[*i].removed)
            .collect()
    }

    fn remove(&mut self) {
        let existing = self.existing();
        if existing.is_empty() {
            return;
        }
        let i = *self.rng.pick(&existing);
        let name = self.dirs[i].current().to_owned();
        std::fs::rename(self.fx.path(&name), self.gone.join(&name)).expect("rename out");
        self.dirs[i].removed = true;
    }

    fn rename(&mut self) {
        let existing = self.existing();
        if existing.is_empty() {
            return;
        }
        let i = *self.rng.pick(&existing);
        let to = self.fresh_name();
        self.fx.rename(self.dirs[i].current(), &to);
        self.dirs[i].names.push(to);
    }

    fn kill_a_supervisor(&mut self, sv: &mut Svscan<'_>) {
        let existing = self.existing();
        if existing.is_empty() {
            return;
        }
        let i = *self.rng.pick(&existing);
        let entries = self.dirs[i].entries();
        let names = self.rng.pick(&entries).clone();
        let pids = running_under(sv.events(), &names);
        if let Some(pid) = pids.first() {
            // Running and unreaped, so the pid is still this supervisor's.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }

    fn commands(&mut self, sv: &mut Svscan<'_>) {
        let n = 1 + self.rng.below(4);
        let bytes: Vec<u8> = (0..n)
            .map(|_| {
                if self.rng.below(10) < 7 {
                    *self.rng.pick(b"azhnN")
                } else {
                    self.rng.unknown_byte()
                }
            })
            .collect();
        self.unknown_bytes += bytes.iter().filter(|b| !COMMANDS.contains(b)).count();
        send(sv, &bytes);
    }

    /// After `a`: every existing directory's entries have exactly one running supervisor
    /// each, and svscan holds no more fds than its own and two per pair it may still know.
    fn settle(&mut self, sv: &mut Svscan<'_>, what: &str) {
        send(sv, b"a");
        let entries: Vec<Vec<String>> = self
            .existing()
            .iter()
            .flat_map(|i| self.dirs[*i].entries())
            .collect();
        sv.wait_for(
            &format!("{what}: one running supervisor per existing entry"),
            DEADLINE,
            |e| {
                entries
                    .iter()
                    .all(|names| running_under(e, names).len() == 1)
            },
        );
        let pairs = self.dirs.iter().filter(|d| d.logged).count();
        let fds = procfs::fd_count_without_paths(sv.pid());
        assert!(
            self.base_fds == 0 || fds <= self.base_fds + 2 * pairs + 1,
            "{what}: svscan holds {fds} fds, at most {} expected",
            self.base_fds + 2 * pairs + 1
        );
    }
}

/// Checks one seed: random steps, then the invariants (see the test).
fn property_run(seed: u64) {
    let fx = Fixture::new();
    let staging = fx.tmp().join("staging");
    let gone = fx.tmp().join("gone");
    std::fs::create_dir(&staging).expect("mkdir staging");
    std::fs::create_dir(&gone).expect("mkdir gone");
    let mut run = Run {
        fx: &fx,
        rng: Rng::new(seed),
        dirs: Vec::new(),
        next_name: 0,
        staging,
        gone,
        unknown_bytes: 0,
        base_fds: 0,
    };
    for logged in [false, false, true, false, true] {
        run.add(logged);
    }
    let mut sv = fx.start();
    run.settle(&mut sv, "at start");
    run.base_fds = procfs::fd_count_without_paths(sv.pid()) - 2 * 2;

    for step in 0..STEPS {
        match run.rng.below(100) {
            0..25 => run.commands(&mut sv),
            25..45 => sv.signal(*run.rng.pick(&SIGNALS)),
            45..57 => {
                let logged = run.rng.below(10) < 4;
                run.add(logged);
            }
            57..67 => run.remove(),
            67..79 => run.rename(),
            79..92 => run.kill_a_supervisor(&mut sv),
            _ => run.settle(&mut sv, &format!("step {step}")),
        }
    }
    assert!(!sv.has_exited(), "svscan still running");

    // The final `a`, then `h` to kill what is gone.
    run.settle(&mut sv, "at the end");
    send(&mut sv, b"h");
    let removed: Vec<Vec<String>> = run
        .dirs
        .iter()
        .filter(|d| d.removed)
        .flat_map(Dir::entries)
        .collect();
    let entries: Vec<Vec<String>> = run
        .existing()
        .iter()
        .flat_map(|i| run.dirs[*i].entries())
        .collect();
    let events = sv
        .wait_for("the removed directories' supervisors gone", DEADLINE, |e| {
            removed
                .iter()
                .all(|names| running_under(e, names).is_empty())
                && entries
                    .iter()
                    .all(|names| running_under(e, names).len() == 1)
        })
        .clone();
    let starts_of = |events: &Events, names: &[String]| {
        events
            .iter()
            .filter(|e| e.ev == "start" && names.contains(&e.name))
            .count()
    };
    let removed_starts: Vec<usize> = removed.iter().map(|n| starts_of(&events, n)).collect();
    // A removed entry wrongly restarted would be so at most 1 s after its last start: wait
    // out that window, then make svscan take a turn (a sentinel service picked up).
    let last_start = removed
        .iter()
        .flat_map(|names| {
            events
                .iter()
                .filter(|e| e.ev == "start" && names.contains(&e.name))
        })
        .map(|e| e.mono_ns)
        .max()
        .unwrap_or(0);
    wait_until("the removed ones' 1 s windows over", DEADLINE, || {
        now_mono_ns() > last_start + 1_500_000_000
    });
    fx.service("sentinel");
    send(&mut sv, b"a");
    sv.wait_for("the sentinel started", DEADLINE, |e| {
        e.pid_of("sentinel").is_some()
    });
    let events = sv.events().clone();
    for (names, before) in removed.iter().zip(&removed_starts) {
        assert_eq!(
            starts_of(&events, names),
            *before,
            "a removed entry ({names:?}) was started again"
        );
    }
    sv.wait_until("no zombie child of svscan", DEADLINE, |sv| {
        procfs::zombie_children(sv.pid()).is_empty()
    });
    let pairs = run
        .existing()
        .iter()
        .filter(|i| run.dirs[**i].logged)
        .count();
    sv.wait_until(
        "svscan's fds: its own and the existing pairs' pipes",
        DEADLINE,
        |sv| procfs::fd_count_without_paths(sv.pid()) == run.base_fds + 2 * pairs,
    );

    send(&mut sv, b"t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    let events = sv.events().clone();
    let left: Vec<String> = events
        .iter()
        .filter(|e| e.ev == "start" && running(e))
        .map(ToString::to_string)
        .collect();
    assert!(left.is_empty(), "supervisors left after t: {left:?}");

    // Warnings: one per unknown byte; the others only from scans that met a rename. (Lossy:
    // an unknown byte is printed raw, and is not always UTF-8.)
    let stderr = String::from_utf8_lossy(&sv.stderr_bytes()).into_owned();
    let unknown = format!("{}: warning: received unknown control command: ", prog());
    let raced = [
        format!("{}: warning: unable to stat ", prog()),
        format!("{}: warning: logger for service ", prog()),
    ];
    let mut unknown_seen = 0;
    for line in stderr.split_inclusive('\n') {
        if line.starts_with(&unknown) {
            unknown_seen += 1;
        } else {
            assert!(
                raced.iter().any(|r| line.starts_with(r.as_str())),
                "unexpected warning: {line:?}"
            );
        }
    }
    assert_eq!(
        unknown_seen, run.unknown_bytes,
        "unknown-command warnings:\n{stderr}"
    );
    note!(
        "seed done: {} directories ({} removed), {} starts, {} unknown bytes",
        run.dirs.len(),
        run.dirs.iter().filter(|d| d.removed).count(),
        events.iter().filter(|e| e.ev == "start").count(),
        run.unknown_bytes
    );
}

/// Random sequences of commands (`a z h n N` and unknown bytes) and signals (SIGHUP,
/// SIGALRM, SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH) to svscan, mixed with directories added,
/// removed and renamed and supervisors killed, under several seeds. Invariants: svscan stays
/// up; after `a`, every existing directory has exactly one running supervisor per entry
/// ("Services are identified by (dev, inode): a renamed directory keeps its supervisor");
/// after the final `a` and `h`, no removed one is started again ("Removed ("inactive")
/// supervisors are not killed by a plain rescan and not restarted when they die"); no
/// zombie; svscan's fds are its own plus two per pair it knows, and after the removed ones
/// are forgotten exactly two per existing pair; one warning per unknown byte; `t` exits 0
/// and leaves no supervisor.
fn random_commands_signals_and_directory_changes_keep_the_invariants() {
    for seed in seeds(&SEEDS) {
        property_run(seed);
    }
}
