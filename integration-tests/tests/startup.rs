//! Start-up, as the spec's "Start-up (in this order)" lists it, seen from outside.

use std::os::unix::fs::FileTypeExt;

use integration_tests::{Fixture, procfs};

/// "If `-d`: write `\n` to it and close it." (the harness waits for that newline), after
/// step 4: "Control FIFO `.s6-svscan/control` (mkfifo 0600 ...)".
#[test]
fn svscan_writes_the_readiness_newline_once_its_control_fifo_exists() {
    let fx = Fixture::new();
    let mut sv = fx.start();
    let fifo = std::fs::metadata(fx.path(common::CONTROL_FIFO)).expect("stat control FIFO");
    assert!(fifo.file_type().is_fifo());
    assert!(fx.path(common::LOCK_FILE).is_file());
    assert!(procfs::is_alive(sv.pid()), "{}", sv.stderr());
    // An empty scan dir starts nothing.
    assert!(sv.events().is_empty());
    sv.ctl("z");
    assert!(procfs::is_alive(sv.pid()));
}
