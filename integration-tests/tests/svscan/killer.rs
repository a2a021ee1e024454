//! "The killer": whom `n`, `N`, `h`, `t`, `i` and `q` signal with what, kills held back until
//! a requested scan completes (and sent anyway when svscan leaves), and which entry is the
//! special `s6-svscan-log`.

use integration_tests::suite::Scenario;
use integration_tests::{
    DEADLINE, Fixture, Implementation, Outcome, Skip, StubControl, implementation, note, scenario,
    signal_pid,
};
use nix::sys::signal::Signal;

use crate::shared::{
    assert_active_untouched_then_exit, assert_gone_pair_killed, assert_terms_everything_and_exits,
    assert_terms_services_hups_loggers_and_exits, start_gone_and_kept, start_pair_and_single,
    start_with_console_holder,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(n_terms_inactive_services_hups_their_loggers_and_spares_active_ones),
    scenario!(big_n_terms_inactive_services_and_their_loggers),
    scenario!(h_rescans_then_kills_a_service_removed_just_before),
    scenario!(n_alone_acts_on_the_last_scans_view),
    scenario!(h_kills_are_held_back_until_a_requested_scan_completes),
    scenario!(t_command_terms_services_hups_loggers_and_exits_once_all_are_gone),
    scenario!(i_command_acts_as_the_t_command),
    scenario!(q_command_terms_services_and_loggers_and_exits_once_all_are_gone),
    scenario!(a_then_t_terminates_even_while_the_requested_scan_fails),
    scenario!(h_then_t_terminates_even_while_the_requested_scan_fails),
    scenario!(a_new_catch_all_logger_after_the_old_one_was_forgotten_is_special_again),
    scenario!(a_renamed_catch_all_logger_stays_special),
];

/// Killer table: "`n`, `h`, SIGHUP | SIGTERM | SIGHUP | inactive only": after a scan that no
/// longer sees `gone`, `n` sends SIGTERM to its service and SIGHUP to its logger, and nothing
/// to the active entries.
fn n_terms_inactive_services_hups_their_loggers_and_spares_active_ones() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.rescan("marker");
    assert!(
        sv.events().signals_to("gone").is_empty(),
        "a plain rescan kills nothing"
    );
    sv.ctl("n");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}

/// Killer table: "`N` | SIGTERM | SIGTERM | inactive only": inactive loggers get SIGTERM too
/// (they exit at once instead of draining), active ones nothing.
fn big_n_terms_inactive_services_and_their_loggers() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.rescan("marker");
    sv.ctl("N");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGTERM");
    assert_active_untouched_then_exit(&mut sv);
}

/// "`h` | scan now, delay kills until it completes, then kill inactive": a directory removed
/// just before `h` is inactive by the time the kills are sent.
fn h_rescans_then_kills_a_service_removed_just_before() {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.take_out("gone");
    sv.ctl("h");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
}

/// "Kills requested by `h`, `n`, `N` (and SIGHUP) wait until a requested scan has
/// **completed**; `-n` alone acts on the last scan's view": a directory removed and not yet
/// rescanned is still active for `n`, which kills nothing of it; after a scan, `n` kills it.
fn n_alone_acts_on_the_last_scans_view() {
    let fx = Fixture::new();
    // `old` is inactive as of the last scan: n's SIGTERM to it shows that n was acted on.
    fx.service("old");
    fx.control("gone", StubControl::IgnoreTerm);
    let mut sv = fx.start();
    sv.wait_for("old and gone started", DEADLINE, |e| {
        e.pid_of("old").is_some() && e.pid_of("gone").is_some()
    });
    fx.take_out("old");
    sv.rescan("marker1");

    fx.take_out("gone");
    sv.ctl("n");
    sv.wait_for("old got n's SIGTERM", DEADLINE, |e| {
        e.signals_to("old") == ["SIGTERM"]
    });
    sv.rescan("marker2");
    let scanned = sv.events().last_start("marker2").unwrap().mono_ns;
    assert!(
        sv.events().signals_to("gone").is_empty(),
        "n killed a directory that no scan had seen go"
    );

    // Now the last scan's view has `gone` inactive: n kills it (it ignores SIGTERM, so a
    // signal sent by the first n would show up here as a second one).
    sv.ctl("n");
    let events = sv.wait_for("gone got the second n's SIGTERM", DEADLINE, |e| {
        e.find("signal", "gone").any(|s| s.mono_ns > scanned)
    });
    assert_eq!(events.signals_to("gone"), ["SIGTERM"]);
    for name in ["marker1", "marker2"] {
        assert!(events.signals_to(name).is_empty(), "{name} is active");
    }
}

/// "While a scan requested by `a`, `h`, SIGALRM or SIGHUP has not completed, kills are held
/// back, across turns": with a dangling symlink in the scan dir every scan is abandoned, so
/// `h`'s kill waits, through further failed scans, until the symlink is gone and a scan
/// completes.
fn h_kills_are_held_back_until_a_requested_scan_completes() -> Outcome {
    let fx = Fixture::new();
    let mut sv = start_gone_and_kept(&fx);
    fx.symlink("nowhere", "dangling");
    fx.take_out("gone");
    sv.ctl("h");
    let warning = "unable to stat dangling: No such file or directory";
    sv.wait_until("h's scan abandoned", DEADLINE, |sv| {
        sv.stderr().contains(warning)
    });
    // A second failed scan: anything the first turn did is on record by the time it shows.
    sv.ctl("a");
    sv.wait_until("a's scan abandoned too", DEADLINE, |sv| {
        sv.stderr().matches(warning).count() >= 2
    });
    if implementation() == Implementation::C {
        // Debian's C 2.11 sends h's kills although its scan was abandoned (2.12, the
        // reference, keeps them held back: seed lines 1296-1300 return before clearing the
        // delay at line 1329).
        return Err(Skip::differs(format!(
            "Debian's C 2.11 does not hold h's kills back across failed scans (gone got {:?})",
            sv.events().signals_to("gone")
        )));
    }
    assert!(
        sv.events().signals_to("gone").is_empty(),
        "h killed before its scan completed"
    );
    fx.remove("dangling");
    sv.ctl("a");
    assert_gone_pair_killed(&mut sv, "SIGTERM", "SIGHUP");
    assert_active_untouched_then_exit(&mut sv);
    Ok(())
}

fn t_command_terms_services_hups_loggers_and_exits_once_all_are_gone() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("t");
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

/// Control bytes: "`i`, `t` | kill all (services TERM, loggers HUP), leave the loop, 'wait
/// for all' on".
fn i_command_acts_as_the_t_command() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("i");
    assert_terms_services_hups_loggers_and_exits(&mut sv);
}

fn q_command_terms_services_and_loggers_and_exits_once_all_are_gone() {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    sv.ctl("q");
    assert_terms_everything_and_exits(&mut sv);
}

fn a_then_t_terminates_even_while_the_requested_scan_fails() {
    leaves_when_the_requested_scan_keeps_failing("at");
}

fn h_then_t_terminates_even_while_the_requested_scan_fails() {
    leaves_when_the_requested_scan_keeps_failing("ht");
}

/// "`s6-svscan-log` ...: an entry is special when it is created under the top-level name
/// `s6-svscan-log` ... **fix**: C marks a slot, not an entry, once and never resets it, so
/// after that entry is forgotten whatever reuses the slot is treated as special, and a new
/// `s6-svscan-log` directory is not." Here, after the first one is forgotten, a service
/// made next (which takes its freed slot) does not get the holder, and a new
/// `s6-svscan-log` does.
fn a_new_catch_all_logger_after_the_old_one_was_forgotten_is_special_again() {
    let fx = Fixture::new();
    fx.service("s6-svscan-log");
    let (mut sv, holder_r, ino) = start_with_console_holder(&fx);
    let old = sv
        .wait_for("s6-svscan-log started", DEADLINE, |e| {
            e.pid_of("s6-svscan-log").is_some()
        })
        .pid_of("s6-svscan-log")
        .unwrap();
    fx.take_out("s6-svscan-log");
    sv.ctl("h");
    sv.wait_for("the old s6-svscan-log exited", DEADLINE, |e| e.exited(old));
    assert_eq!(sv.events().signals_of(old), ["SIGHUP"]);
    // A barrier, so that its death is reaped and the entry forgotten before `reuser` comes.
    sv.rescan("marker");
    sv.rescan("reuser");
    fx.service("s6-svscan-log");
    sv.ctl("a");
    let events = sv.wait_for("a new s6-svscan-log started", DEADLINE, |e| {
        e.starts("s6-svscan-log").len() == 2
    });
    let reuser = events.last_start("reuser").unwrap().fd(2).unwrap();
    let new = events.last_start("s6-svscan-log").unwrap().fd(2).unwrap();
    match implementation() {
        Implementation::Ours => {
            assert_ne!(reuser.ino, ino, "reuser took the holder");
            assert_eq!(
                (new.kind.as_str(), new.ino),
                ("pipe", ino),
                "new s6-svscan-log"
            );
        }
        Implementation::C => note!(
            "C: reuser's fd 2 {:?}, the new s6-svscan-log's {:?}, holder ino {ino}",
            reuser.target,
            new.target
        ),
    }
    drop(holder_r);
}

/// "`s6-svscan-log` ...: an entry is special when it is created under the top-level name
/// `s6-svscan-log`; a rename keeps it special": renamed, restarted, it still gets the holder,
/// and on `t` still gets a logger's SIGHUP.
fn a_renamed_catch_all_logger_stays_special() {
    let fx = Fixture::new();
    fx.service("s6-svscan-log");
    let (mut sv, holder_r, ino) = start_with_console_holder(&fx);
    let old = sv
        .wait_for("s6-svscan-log started", DEADLINE, |e| {
            e.pid_of("s6-svscan-log").is_some()
        })
        .pid_of("s6-svscan-log")
        .unwrap();
    fx.rename("s6-svscan-log", "catchall");
    sv.rescan("marker");
    signal_pid(old, Signal::SIGTERM);
    let events = sv.wait_for("catchall restarted", DEADLINE, |e| {
        e.pid_of("catchall").is_some()
    });
    let fd2 = events.last_start("catchall").unwrap().fd(2).unwrap();
    assert_eq!((fd2.kind.as_str(), fd2.ino), ("pipe", ino));
    sv.ctl("t");
    assert!(sv.wait_exit(DEADLINE).success(), "{}", sv.stderr());
    assert_eq!(sv.events().signals_to("catchall"), ["SIGHUP"]);
    drop(holder_r);
}

/// "**fix**: when svscan leaves the loop (`t`, `i`, `q` and their signals), the pending kills
/// are sent even if held back (C then waits forever: `-at`, `-ht`, or any `t` while a
/// requested scan keeps failing)". A dangling symlink makes every scan fail ("the whole scan
/// is abandoned and retried in 4 s"), so the scan that `a` or `h` asked for never completes.
/// (Debian's C 2.11 passes: it leaves before it gets to scan.)
fn leaves_when_the_requested_scan_keeps_failing(bytes: &str) {
    let fx = Fixture::new();
    let mut sv = start_pair_and_single(&fx);
    fx.symlink("nowhere", "dangling");
    sv.ctl(bytes);
    assert_terms_services_hups_loggers_and_exits(&mut sv);
    if implementation() == Implementation::Ours {
        // (C scans only on a turn whose wait timed out, so it leaves before trying.)
        assert!(
            sv.stderr()
                .contains("unable to stat dangling: No such file or directory"),
            "the requested scan did fail: {}",
            sv.stderr()
        );
    }
}
