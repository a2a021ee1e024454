//! Counting a daemon's heap allocations from outside: an `LD_PRELOAD` shim
//! (`tests/svscan/faults/alloc_count.c`, built here with `cc`) that adds one to a counter in a
//! shared file at each allocating call of glibc's malloc family, and takes itself out of the
//! environment so that the daemon's children are not counted. The zero-allocation scenarios
//! of svscan and supervise start their daemon with [`Counter::env`], wait until it is
//! quiet, and compare [`Counter::get`] over what must not allocate.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The shim's source.
pub const SHIM_SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/svscan/faults/alloc_count.c"
);

/// The allocation counter of one daemon: the shim, its counter file and its trace.
#[derive(Debug)]
pub struct Counter {
    shim: PathBuf,
    count: PathBuf,
    trace: PathBuf,
}

impl Counter {
    /// Builds the shim into `dir` and creates a zeroed counter file there.
    ///
    /// # Panics
    /// If `cc` is missing or fails.
    #[must_use]
    pub fn new(dir: &Path) -> Counter {
        let shim = dir.join("alloc_count.so");
        let out = crate::process::forking(|| {
            Command::new("cc")
                .args(["-shared", "-fPIC", "-O2", "-o"])
                .arg(&shim)
                .arg(SHIM_SOURCE)
                .output()
        })
        .unwrap_or_else(|e| panic!("cc (needed to build {SHIM_SOURCE}): {e}"));
        assert!(
            out.status.success(),
            "cc {SHIM_SOURCE}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let count = dir.join("alloc.count");
        std::fs::write(&count, [0u8; 4096]).expect("create the counter file");
        Counter {
            shim,
            count,
            trace: dir.join("alloc.trace"),
        }
    }

    /// The environment that loads the shim into the daemon.
    #[must_use]
    pub fn env(&self) -> [(&'static str, &Path); 3] {
        [
            ("LD_PRELOAD", &self.shim),
            ("ALLOC_COUNT_FILE", &self.count),
            ("ALLOC_TRACE_FILE", &self.trace),
        ]
    }

    /// Allocations so far (the file shares its pages with the shim's mapping).
    ///
    /// # Panics
    /// If the counter file cannot be read.
    #[must_use]
    pub fn get(&self) -> u64 {
        let bytes = std::fs::read(&self.count).expect("read the counter file");
        u64::from_ne_bytes(bytes[..8].try_into().expect("8 bytes"))
    }

    /// The count once the daemon is quiet after its start-up, which must have allocated
    /// (the command line, its tables): zero means the shim is not loaded.
    ///
    /// # Panics
    /// If nothing was counted.
    #[must_use]
    pub fn after_start_up(&self) -> u64 {
        let n = self.get();
        assert!(n > 0, "the shim counted nothing at start-up: is it loaded?");
        n
    }

    /// Asserts that the count stays `before` over a one-second observation window (not a
    /// wait for a condition: the counter must not move in it), naming `who` otherwise.
    ///
    /// # Panics
    /// If it moves, with the shim's trace of the allocations.
    pub fn assert_idle(&self, before: u64, who: &str) {
        let window = Instant::now() + Duration::from_secs(1);
        while Instant::now() < window {
            assert_eq!(
                self.get(),
                before,
                "idle {who} allocated:\n{}",
                self.trace_after(before)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The shim's trace of the allocations after the `n`th, for failure messages.
    #[must_use]
    pub fn trace_after(&self, n: u64) -> String {
        let trace = std::fs::read_to_string(&self.trace).unwrap_or_default();
        let from = format!("#{} ", n + 1);
        trace.find(&from).map_or_else(String::new, |at| {
            trace[at..].lines().take(80).collect::<Vec<_>>().join("\n")
        })
    }
}
