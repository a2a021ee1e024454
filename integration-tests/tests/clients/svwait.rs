//! `svwait` against C `s6-svwait` (SUPERVISE.md, "svwait"): each mode on real supervisors,
//! started before the event it waits for (and, in the race test, at the same time as it),
//! `-a` and `-o` over two services, timeouts, failures and errors.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::status::Status;
use integration_tests::scenario;
use integration_tests::suite::Scenario;
use integration_tests::{DEADLINE, Fixture, wait_until};

use crate::support::{
    Client, GATED_NOTIFIER, NOTIFIER, Origin, Running, SLEEPER, Supervised, c_svc, clients,
    is_subscribed, open_gate, run, supervisors, without_prog,
};

pub const SCENARIOS: &[Scenario] = &[
    scenario!(u_and_capital_u_return_once_the_service_is_up_or_up_and_ready).slow(),
    scenario!(d_and_capital_d_return_once_the_service_is_down_or_down_and_ready),
    scenario!(r_and_capital_r_return_once_the_service_has_restarted).slow(),
    scenario!(r_waits_for_every_service_down_first_even_with_o).slow(),
    scenario!(a_goal_already_reached_returns_at_once),
    scenario!(a_waits_for_all_and_o_for_one_and_timeouts_exit_99).slow(),
    scenario!(a_supervisor_that_leaves_counts_as_a_failure_per_service).slow(),
    scenario!(o_with_capital_u_d_r_returns_once_one_service_is_there_and_ready).slow(),
    scenario!(failures_past_255_exit_255_where_c_exits_their_count_modulo_256),
    scenario!(the_event_may_arrive_while_svwait_is_starting).slow(),
    scenario!(no_service_directory_exits_0_as_2_12),
    scenario!(usage_and_setup_errors_are_cs),
];

/// What one svwait run did; in its messages, the service directories read `DIR`.
#[derive(Debug, PartialEq, Eq)]
struct Waited {
    code: Option<i32>,
    stderr: String,
}

fn waited(out: &integration_tests::program::Ran, fx: &Fixture) -> Waited {
    let stderr = without_prog(&out.stderr).replace(&fx.scandir().display().to_string(), "SCAN");
    Waited {
        code: out.code,
        stderr,
    }
}

/// For every supervisor and every svwait (ours first): a fresh directory of `services`
/// (name, run script, notification-fd?) each under its supervisor, `setup`, then svwait with
/// `args` and the service directories started in the background, `act` once it has
/// subscribed, and its result checked by `check` and compared with ours.
fn each_svwait(
    services: &[(&str, &str, bool)],
    setup: &dyn Fn(&[Supervised]),
    args: &[&str],
    act: &dyn Fn(&[Supervised]),
    check: &dyn Fn(&Waited),
) {
    each_svwait_watched(services, setup, args, &|svs, _| act(svs), check);
}

/// [`each_svwait`] whose `act` is also given the running svwait, to check that it still
/// waits.
fn each_svwait_watched(
    services: &[(&str, &str, bool)],
    setup: &dyn Fn(&[Supervised]),
    args: &[&str],
    act: &dyn Fn(&[Supervised], &mut Running),
    check: &dyn Fn(&Waited),
) {
    for sup in supervisors() {
        let mut ours: Option<Waited> = None;
        for client in clients("svwait", "s6-svwait") {
            let fx = Fixture::new();
            for (name, script, notifies) in services {
                fx.script(format!("{name}/run"), script);
                if *notifies {
                    fx.write(format!("{name}/notification-fd"), "3\n");
                }
            }
            let svs: Vec<Supervised> = services
                .iter()
                .map(|(n, _, _)| Supervised::start(&sup, &fx.path(n)))
                .collect();
            for sv in &svs {
                sv.wait_status("started", |_| true);
            }
            setup(&svs);
            let mut cmd = Command::new(&client.path);
            cmd.args(args)
                .args(services.iter().map(|(n, _, _)| fx.path(n)));
            let mut listener = Running::start(&mut cmd);
            // Every service subscribed to, or svwait already gone (a goal reached at once).
            wait_until("svwait's subscriptions", DEADLINE, || {
                listener.exited() || svs.iter().all(|sv| is_subscribed(&sv.dir))
            });
            act(&svs, &mut listener);
            let got = waited(&listener.wait(), &fx);
            check(&got);
            compare(&mut ours, got, &client, args, sup.name);
        }
    }
}

fn compare(ours: &mut Option<Waited>, got: Waited, client: &Client, args: &[&str], sup: &str) {
    match ours {
        None => *ours = Some(got),
        Some(o) => assert_eq!(o, &got, "{args:?}: ours and {} on {sup}", client.name()),
    }
}

fn nothing(_: &[Supervised]) {}

fn all_up(svs: &[Supervised]) {
    for sv in svs {
        sv.wait_status("up", Status::is_up);
    }
}

fn all_down(svs: &[Supervised]) {
    for sv in svs {
        c_svc(&["-d"], &sv.dir);
        sv.wait_status("down and ready", |s| s.pid == 0 && s.ready && !s.wantup);
    }
}

fn send(letters: &'static str) -> impl Fn(&[Supervised]) {
    move |svs| {
        for sv in svs {
            c_svc(&[letters], &sv.dir);
        }
    }
}

fn ok(w: &Waited) {
    assert_eq!((w.code, w.stderr.as_str()), (Some(0), ""), "{w:?}");
}

const ONE: &[(&str, &str, bool)] = &[("a", SLEEPER, false)];
const ONE_NOTIFYING: &[(&str, &str, bool)] = &[("a", NOTIFIER, true)];
const TWO: &[(&str, &str, bool)] = &[("a", SLEEPER, false), ("b", SLEEPER, false)];

fn u_and_capital_u_return_once_the_service_is_up_or_up_and_ready() {
    each_svwait(ONE, &all_down, &["-u"], &send("-u"), &ok);
    each_svwait(ONE_NOTIFYING, &all_down, &["-U"], &send("-u"), &ok);
    // The default is -u.
    each_svwait(ONE, &all_down, &[], &send("-u"), &ok);
}

fn d_and_capital_d_return_once_the_service_is_down_or_down_and_ready() {
    each_svwait(ONE, &all_up, &["-d"], &send("-d"), &ok);
    each_svwait(ONE, &all_up, &["-D"], &send("-d"), &ok);
}

fn r_and_capital_r_return_once_the_service_has_restarted() {
    each_svwait(ONE, &all_up, &["-r"], &send("-k"), &ok);
    let up_ready = |svs: &[Supervised]| {
        svs[0].wait_status("up and ready", |s| s.is_up() && s.ready);
    };
    each_svwait(ONE_NOTIFYING, &up_ready, &["-R"], &send("-r"), &ok);
}

fn r_waits_for_every_service_down_first_even_with_o() {
    // Only a restarts; b stays up, so "all down" never holds and -o does not change that.
    let kill_a = |svs: &[Supervised]| c_svc(&["-k"], &svs[0].dir);
    each_svwait(TWO, &all_up, &["-o", "-r", "-t", "800"], &kill_a, &|w| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (Some(99), "fatal: timed out\n")
        );
    });
}

fn a_goal_already_reached_returns_at_once() {
    each_svwait(ONE, &all_up, &["-u", "-t", "5000"], &nothing, &ok);
    each_svwait(ONE, &all_down, &["-D", "-t", "5000"], &nothing, &ok);
}

fn a_waits_for_all_and_o_for_one_and_timeouts_exit_99() {
    let first_up = |svs: &[Supervised]| {
        c_svc(&["-u"], &svs[0].dir);
        svs[0].wait_status("a up", Status::is_up);
    };
    each_svwait(TWO, &all_down, &["-o", "-u", "-t", "10000"], &first_up, &ok);
    each_svwait(
        TWO,
        &all_down,
        &["-o", "-a", "-u", "-t", "500"],
        &first_up,
        &|w| {
            assert_eq!(
                (w.code, w.stderr.as_str()),
                (Some(99), "fatal: timed out\n")
            );
        },
    );
    each_svwait(ONE, &all_up, &["-d", "-t", "300"], &nothing, &|w| {
        assert_eq!(
            (w.code, w.stderr.as_str()),
            (Some(99), "fatal: timed out\n")
        );
    });
}

/// SUPERVISE.md, "svwait": "The condition, over the selected services (all with `-a`, at
/// least one with `-o`)": "`-U` up and ready; ... `-D` not up and ready"; "`-r`/`-R`: first
/// wait until **all** services are not up (... always "all", whatever `-o`), ... then wait
/// for `-u`/`-U` with `-a`/`-o`". Two services, one of which reaches the goal: `-o` returns;
/// readiness comes only when the test opens the service's gate, after it checked that svwait
/// still waits.
fn o_with_capital_u_d_r_returns_once_one_service_is_there_and_ready() {
    let gated: &[(&str, &str, bool)] = &[("a", GATED_NOTIFIER, true), ("b", GATED_NOTIFIER, true)];
    let still_waiting_then_open_gate = |sv: &Supervised, listener: &mut Running| {
        assert!(
            !listener.exited(),
            "returned before readiness ({})",
            sv.name
        );
        open_gate(&sv.dir);
    };
    // -o -U: a up, then ready; b stays down.
    each_svwait_watched(
        gated,
        &all_down,
        &["-o", "-U", "-t", "10000"],
        &|svs, listener| {
            c_svc(&["-u"], &svs[0].dir);
            svs[0].wait_status("a up", Status::is_up);
            still_waiting_then_open_gate(&svs[0], listener);
        },
        &ok,
    );
    // -o -D: a down (and ready: no finish); b stays up.
    each_svwait(
        TWO,
        &all_up,
        &["-o", "-D", "-t", "10000"],
        &send_to_first("-d"),
        &ok,
    );
    // -o -R: both down first, then a up and ready; b up, never ready.
    let up_ready = |svs: &[Supervised]| {
        for sv in svs {
            open_gate(&sv.dir);
            sv.wait_status("up and ready", |s| s.is_up() && s.ready);
        }
    };
    each_svwait_watched(
        gated,
        &up_ready,
        &["-o", "-R", "-t", "10000"],
        &|svs, listener| {
            for sv in svs {
                c_svc(&["-d"], &sv.dir);
                sv.wait_status("down", |s| s.pid == 0);
            }
            for sv in svs {
                c_svc(&["-u"], &sv.dir);
                sv.wait_status("up", Status::is_up);
            }
            still_waiting_then_open_gate(&svs[0], listener);
        },
        &ok,
    );
}

fn send_to_first(letters: &'static str) -> impl Fn(&[Supervised]) {
    move |svs| c_svc(&[letters], &svs[0].dir)
}

/// SUPERVISE.md, "svwait": "condition reached with n failures: 0 if n = 0, else n with fatal
/// `some services reported permanent failure or their supervisor died` (**fix**, no upstream
/// fix: C exits n modulo 256, so 256 failures exit 0; ours caps at 255)". 256 hand-made
/// service directories (a down status file each, no supervisor), waited for up; the test
/// plays their supervisors and publishes an `x` on each one's fifodir: 256 failures, 255 for
/// ours, 0 for C (its message printed all the same).
fn failures_past_255_exit_255_where_c_exits_their_count_modulo_256() {
    const FAILED: &str =
        "fatal: some services reported permanent failure or their supervisor died\n";
    for client in clients("svwait", "s6-svwait") {
        let fx = Fixture::new();
        let dirs: Vec<PathBuf> = (0..256)
            .map(|i| {
                let dir = fx.path(format!("s{i}"));
                fx.mkdir(format!("s{i}/supervise"));
                Status::ZERO.write(&dir).expect("write the status file");
                dir
            })
            .collect();
        let mut listener = Running::start(
            Command::new(&client.path)
                .args(["-u", "-t", "20000"])
                .args(&dirs),
        );
        wait_until("svwait's 256 subscriptions", DEADLINE, || {
            listener.exited() || dirs.iter().all(|d| is_subscribed(d))
        });
        for dir in &dirs {
            assert_eq!(
                common::ftrig::notify(&dir.join("event"), b"x"),
                Ok(1),
                "{}",
                client.name()
            );
        }
        let out = listener.wait();
        let expected = if client.origin.is_none() { 255 } else { 0 };
        assert_eq!(
            (out.code, without_prog(&out.stderr).as_str()),
            (Some(expected), FAILED),
            "{}",
            client.name()
        );
    }
}

fn a_supervisor_that_leaves_counts_as_a_failure_per_service() {
    let failure = |n: i32| {
        move |w: &Waited| {
            assert_eq!(
                (w.code, w.stderr.as_str()),
                (
                    Some(n),
                    "fatal: some services reported permanent failure or their supervisor died\n"
                )
            );
        }
    };
    each_svwait(ONE, &all_down, &["-u"], &send("-x"), &failure(1));
    each_svwait(TWO, &all_down, &["-u"], &send("-x"), &failure(2));
    // x from a service already in the wanted (up, ready) pair is no failure: a is down and
    // ready, -D wants that; then b goes down and ready.
    let a_down = |svs: &[Supervised]| all_down(&svs[..1]);
    let x_a_then_b_down = |svs: &[Supervised]| {
        c_svc(&["-x"], &svs[0].dir);
        c_svc(&["-d"], &svs[1].dir);
    };
    each_svwait(TWO, &a_down, &["-D"], &x_a_then_b_down, &ok);
    // -d wants (down, not ready): the same x from a down and ready service is a failure, as
    // C compares the ready flag too.
    each_svwait(TWO, &a_down, &["-d"], &x_a_then_b_down, &failure(1));
}

fn the_event_may_arrive_while_svwait_is_starting() {
    // svwait subscribes before reading the status: whether the u comes before the
    // subscription (then the status says up) or after (then the event says so), it returns.
    for sup in supervisors() {
        for client in clients("svwait", "s6-svwait") {
            let fx = Fixture::new();
            fx.script("a/run", NOTIFIER);
            fx.write("a/notification-fd", "3\n");
            let dir = fx.path("a");
            let sv = Supervised::start(&sup, &dir);
            sv.wait_status("up", Status::is_up);
            for round in 0..5 {
                c_svc(&["-d"], &dir);
                sv.wait_status("down", |s| s.pid == 0 && s.ready);
                let listener = Running::start(
                    Command::new(&client.path)
                        .args(["-U", "-t", "10000"])
                        .arg(&dir),
                );
                c_svc(&["-u"], &dir);
                let out = listener.wait();
                assert_eq!(
                    (out.code, out.stderr.as_str()),
                    (Some(0), ""),
                    "round {round}, {}, {}",
                    client.name(),
                    sup.name
                );
            }
        }
    }
}

fn no_service_directory_exits_0_as_2_12() {
    for client in clients("svwait", "s6-svwait") {
        let out = run(Command::new(&client.path).args(["-u", "-t", "1000"]));
        let expected = if client.origin == Some(Origin::Debian) {
            // 2.11 made it a usage error (SUPERVISE.md, "Interop facts").
            Some(100)
        } else {
            Some(0)
        };
        assert_eq!(out.code, expected, "{}: {out:?}", client.name());
    }
}

fn usage_and_setup_errors_are_cs() {
    let fx = Fixture::new();
    fx.mkdir("fresh");
    let o = OsStr::new;
    let missing = fx.path("missing");
    let fresh = fx.path("fresh");
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![o("-x"), fresh.as_os_str()],
        vec![o("-t"), o("soon"), fresh.as_os_str()],
        vec![o("-t")],
        vec![o("--up"), fresh.as_os_str()],
        vec![missing.as_os_str()],
        vec![fresh.as_os_str()],
        vec![o("-t"), o("1000"), o("--"), missing.as_os_str()],
    ];
    for args in &cases {
        let mut ours = None;
        for client in clients("svwait", "s6-svwait") {
            let out = run(Command::new(&client.path).args(args));
            let got = waited(&out, &fx);
            if client.origin == Some(Origin::Debian) && got.stderr.starts_with("usage: ") {
                // 2.11's usage line is its own; the code is the same.
                assert_eq!(got.code, Some(100));
                continue;
            }
            compare(&mut ours, got, &client, &[], &format!("{args:?}"));
        }
        let ours = ours.expect("ours ran");
        assert!(matches!(ours.code, Some(100 | 111)), "{args:?}: {ours:?}");
    }
    // The fifodir of a directory without one is made before subscribing, as C does.
    assert!(Path::new(&fresh).join("event").is_dir());
}
