//! End to end: rollbacks that fail or are interrupted, and how they are run again. The on-call
//! engineer's worst moment: a rollback run must be retried after a crash, and `rollback` on a
//! `rollback_failed` release must re-run what did not succeed, each piece of work done once.

use crate::common;

use common::{
    Workspace, assert_nothing_after_finish, process_alive, process_gone, stage, stderr_of, stdout_of,
    wait_for_pid_file,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `(stage, attempt, outcome)` of the release's finished rollback runs, in journal order.
fn rollback_runs(ws: &Workspace, id: &str) -> Vec<(String, u64, String)> {
    ws.events(id, "run_finished")
        .iter()
        .filter(|e| e["run_kind"] == "rollback")
        .map(|e| {
            (
                common::run_label(e),
                e["attempt"].as_u64().unwrap(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn rollback_on_a_rollback_failed_release_runs_the_failed_rollback_again() {
    let ws = Workspace::new(
        r#"
[plan]
name = "rbretry"

[[stage]]
id = "a"
run = "true"
rollback = "if [ ! -f flag ]; then touch flag; exit 1; fi; echo rb-a >> ledger.txt"

[[stage]]
id = "b"
needs = ["a"]
run = "exit 1"
on_failure = "rollback"
"#,
    );
    let out = ws.expect(["run", "1.0"], 1);
    assert!(stdout_of(&out).contains("ROLLBACK FAILED"), "{}", stdout_of(&out));
    assert_eq!(ws.status("1.0")["state"], "rollback_failed");
    assert_eq!(ws.read("ledger.txt"), "");

    // A retry of the failed stage is refused, and says what to do instead.
    let out = ws.expect(["retry", "1.0", "b"], 1);
    assert!(
        stderr_of(&out).contains("`flightdeck rollback 1.0` retries the rollback"),
        "{}",
        stderr_of(&out)
    );

    let out = ws.expect(["rollback", "1.0"], 0);
    assert!(
        stdout_of(&out).contains("accepted") && stdout_of(&out).contains("1 run(s)"),
        "{}",
        stdout_of(&out)
    );
    let st = ws.wait_for_state("1.0", "rolled_back");
    assert_eq!(
        stage(&st, "a")["state"],
        "rolled_back",
        "the later success clears the failure"
    );
    assert_eq!(ws.read("ledger.txt"), "rb-a\n", "a's rollback work done once");
    assert_eq!(
        rollback_runs(&ws, "1.0"),
        [
            ("a".to_string(), 1, "failed".to_string()),
            ("a".to_string(), 2, "succeeded".to_string())
        ]
    );
    // Each attempt has its own log.
    assert!(ws.release_dir("1.0").join("logs/a.rollback.1.log").is_file());
    assert!(ws.log("1.0", "a.rollback.2.log").contains("rb-a"));
    // `logs --rollback` shows the latest attempt; `--attempt 1` the failed one.
    let out = ws.expect(["logs", "1.0", "a", "--rollback"], 0);
    assert!(stdout_of(&out).contains("exit 0"), "{}", stdout_of(&out));
    let out = ws.expect(["logs", "1.0", "a", "--rollback", "--attempt", "1"], 0);
    assert!(stdout_of(&out).contains("exit 1"), "{}", stdout_of(&out));
    let rounds = ws.events("1.0", "rollback_finished");
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[1]["ok"], true);

    // Nothing is left to roll back; a retry still is not the way.
    let out = ws.expect(["rollback", "1.0"], 1);
    assert!(
        stderr_of(&out).contains("nothing to roll back"),
        "{}",
        stderr_of(&out)
    );
    let out = ws.expect(["retry", "1.0", "b"], 1);
    assert!(
        stderr_of(&out).contains("start a new release"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(ws.status("1.0")["state"], "rolled_back");
    assert_nothing_after_finish(&ws, "1.0");
    ws.expect(["verify", "1.0"], 0);
}

#[test]
fn a_rollback_run_killed_with_its_driver_is_run_again_on_resume_and_each_undo_happens_once() {
    let ws = Workspace::new(
        r#"
[plan]
name = "rbcrash"

[[stage]]
id = "a"
run = "true"
rollback = "if [ ! -f a.began ]; then touch a.began; sleep 1000 & echo $! > rb.pid; wait; fi; echo rb-a >> ledger.txt"

[[stage]]
id = "b"
needs = ["a"]
run = "true"
rollback = "echo rb-b >> ledger.txt"

[[stage]]
id = "c"
needs = ["b"]
run = "exit 1"
on_failure = "rollback"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let sleeper = wait_for_pid_file(&ws, "rb.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| {
        e["stage"] == "a" && e["run_kind"] == "rollback"
    });
    let st = ws.status("1.0");
    let driver = st["driver"].as_u64().expect("a live driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGKILL).expect("kill -9 the driver");
    ws.wait_for_state("1.0", "interrupted");
    assert!(
        process_alive(sleeper),
        "the scenario needs the rollback's sleep to outlive its driver"
    );
    assert_eq!(ws.read("ledger.txt"), "rb-b\n");

    // Resumed: the interrupted rollback run is ended and run again; b's, which succeeded, is not.
    let out = ws.expect(["resume", "1.0"], 1);
    assert!(
        process_gone(sleeper),
        "the dead driver's rollback process is still alive"
    );
    assert_eq!(ws.status("1.0")["state"], "rolled_back", "{}", stdout_of(&out));
    assert_eq!(ws.read("ledger.txt"), "rb-b\nrb-a\n", "each undo exactly once");
    assert_eq!(
        rollback_runs(&ws, "1.0"),
        [
            ("b".to_string(), 1, "succeeded".to_string()),
            ("a".to_string(), 1, "interrupted".to_string()),
            ("a".to_string(), 2, "succeeded".to_string())
        ]
    );
    let st = ws.status("1.0");
    assert_eq!(stage(&st, "a")["state"], "rolled_back");
    assert_eq!(stage(&st, "b")["state"], "rolled_back");
    assert!(ws.has_event("1.0", "rollback_finished", |e| e["ok"] == true));
    assert_nothing_after_finish(&ws, "1.0");
    ws.expect(["verify", "1.0"], 0);
}

#[test]
fn a_requested_rollback_of_a_finished_release_killed_midway_finishes_on_resume() {
    let ws = Workspace::new(
        r#"
[plan]
name = "rbcrash2"

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "deploy"
environment = "prod"
run = "echo deploy {target}"
rollback = "if [ {target} = eu ] && [ ! -f eu.began ]; then touch eu.began; sleep 1000 & echo $! > rb.pid; wait; fi; echo undo-{target} >> ledger.txt"
"#,
    );
    ws.expect(["run", "1.0"], 0);
    ws.expect(["rollback", "1.0"], 0);
    let sleeper = wait_for_pid_file(&ws, "rb.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| {
        e["target"] == "eu" && e["run_kind"] == "rollback"
    });
    let driver = ws.status("1.0")["driver"].as_u64().expect("a live driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGKILL).expect("kill -9 the driver");
    ws.wait_for_state("1.0", "interrupted");
    ws.expect(["resume", "1.0"], 1);
    assert!(process_gone(sleeper));
    assert_eq!(ws.status("1.0")["state"], "rolled_back");
    assert_eq!(ws.read("ledger.txt"), "undo-us\nundo-eu\n");
    assert_nothing_after_finish(&ws, "1.0");
    ws.expect(["verify", "1.0"], 0);
}

#[test]
fn a_rollback_whose_drivers_are_killed_again_and_again_still_undoes_everything_once() {
    // Each rollback command hangs on its first run: every resumed driver is killed in turn.
    let undo = |name: &str| {
        format!(
            "if [ ! -f {name}.began ]; then touch {name}.began; sleep 1000 & echo $! > {name}.pid; wait; fi; echo {name} >> ledger.txt"
        )
    };
    let ws = Workspace::new(&format!(
        r#"
[plan]
name = "rbkills"

[[stage]]
id = "a"
run = "true"
rollback = "{}"

[[stage]]
id = "b"
needs = ["a"]
run = "true"
rollback = "{}"

[[stage]]
id = "c"
needs = ["b"]
run = "true"
rollback = "{}"

[[stage]]
id = "d"
needs = ["c"]
run = "exit 1"
on_failure = "rollback"
"#,
        undo("a"),
        undo("b"),
        undo("c")
    ));
    ws.expect(["run", "1.0", "--detach"], 0);
    for name in ["c", "b", "a"] {
        let sleeper = wait_for_pid_file(&ws, &format!("{name}.pid"));
        ws.wait_for_event("1.0", "run_spawned", |e| {
            e["stage"] == name && e["run_kind"] == "rollback"
        });
        let driver = ws.status("1.0")["driver"].as_u64().expect("a live driver") as i32;
        kill(Pid::from_raw(driver), Signal::SIGKILL).expect("kill -9 the driver");
        ws.wait_for_state("1.0", "interrupted");
        assert!(process_alive(sleeper));
        ws.expect(["resume", "1.0", "--detach"], 0);
    }
    ws.wait_for_state("1.0", "rolled_back");
    assert_eq!(ws.read("ledger.txt"), "c\nb\na\n", "each undo once, newest first");
    let attempts: Vec<(String, u64, String)> = rollback_runs(&ws, "1.0");
    assert_eq!(
        attempts,
        [
            ("c".to_string(), 1, "interrupted".to_string()),
            ("c".to_string(), 2, "succeeded".to_string()),
            ("b".to_string(), 1, "interrupted".to_string()),
            ("b".to_string(), 2, "succeeded".to_string()),
            ("a".to_string(), 1, "interrupted".to_string()),
            ("a".to_string(), 2, "succeeded".to_string()),
        ]
    );
    common::wait_until(common::DEADLINE, "the last driver exits", || {
        ws.try_status("1.0").is_some_and(|s| s["driver"].is_null())
    });
    assert_nothing_after_finish(&ws, "1.0");
    ws.expect(["verify", "1.0"], 0);
}
