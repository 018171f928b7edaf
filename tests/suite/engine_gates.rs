//! End to end: gates approved and ticked from other processes, `--no-wait` and `resume`, the one
//! driver per release, environments held by another release, and requests (skip, retry, cancel)
//! answered by a driver that a request starts when none is alive.

use crate::common;

use common::{
    DEADLINE, Workspace, process_gone, run_label, stage, stderr_of, stdout_of, wait_for_pid_file, wait_until,
};

#[test]
fn a_gate_is_passed_by_approvals_ticks_and_checks_from_other_processes() {
    let mut ws = Workspace::from_fixture("gated.toml");
    let mut driver = ws.spawn(["run", "1.0"]);
    let st = ws.wait_for_state("1.0", "paused");
    assert_eq!(stage(&st, "build")["state"], "succeeded");
    assert_eq!(stage(&st, "ship")["state"], "waiting_on_gate");
    // `run` watches; the driver is a process of its own session (so the terminal can go away).
    let driver_pid = st["driver"].as_u64().expect("a live driver");
    assert_ne!(
        driver_pid,
        u64::from(driver.pid()),
        "the driver is not the observing `run`: {st}"
    );
    assert!(
        !process_gone(driver_pid as i32),
        "the driver {driver_pid} is alive"
    );

    let out = ws.expect(["approve", "1.0", "signoff", "--as", "alice"], 0);
    assert!(
        stdout_of(&out).contains("alice approved gate signoff of 1.0 (1/2 approvals)"),
        "{}",
        stdout_of(&out)
    );
    let out = ws
        .flightdeck(["approve", "1.0", "signoff", "--as", "alice"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a second approval by the same person is refused"
    );
    assert!(
        stderr_of(&out).contains("alice already approved gate `signoff`"),
        "{}",
        stderr_of(&out)
    );

    let out = ws.expect(["tick", "1.0", "signoff", "1", "--as", "carol"], 0);
    assert!(
        stdout_of(&out).contains("ticked item 1 \"Release notes reviewed\""),
        "{}",
        stdout_of(&out)
    );
    let out = ws.expect(["tick", "1.0", "signoff", "Rollback", "--as", "carol"], 0);
    assert!(
        stdout_of(&out).contains("ticked item 2 \"Rollback rehearsed on staging\""),
        "{}",
        stdout_of(&out)
    );

    // The automatic item passes by itself (its check ran when the gate was reached).
    wait_until(DEADLINE, "the automatic checklist item is done", || {
        ws.status("1.0")["gates"][0]["checklist"][2]["done"] == true
    });
    assert!(ws.has_event("1.0", "check_finished", |e| e["item"] == 2
        && e["outcome"] == "succeeded"));

    // Everything but the second approval: the driver still waits.
    let st = ws.status("1.0");
    assert_eq!(st["state"], "paused", "{st}");
    assert!(
        driver.try_exit().is_none(),
        "the driver ended before the gate was passed\n{}",
        driver.output()
    );
    assert!(!ws.has_event("1.0", "run_started", |e| e["stage"] == "ship"));

    ws.expect(["approve", "1.0", "signoff", "--as", "bob"], 0);
    assert_eq!(driver.wait(), 0, "{}", driver.output());

    let printed = driver.stdout();
    for expected in [
        "gate signoff: approved by alice",
        "gate signoff: approved by bob",
        "[ship] shipped 1.0",
        "release 1.0 succeeded",
    ] {
        assert!(
            printed.contains(expected),
            "no `{expected}` in the driver's output:\n{printed}"
        );
    }
    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    let gate = &st["gates"][0];
    assert_eq!(gate["satisfied"], true);
    let by: Vec<&str> = gate["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["alice", "bob"]);
    assert_eq!(gate["checklist"][0]["ticked_by"], "carol");
    assert_eq!(gate["checklist"][1]["ticked_by"], "carol");
    assert_eq!(
        ws.events("1.0", "approved").len(),
        2,
        "the refused approval was not journaled"
    );
}

#[test]
fn run_no_wait_stops_at_the_gate_and_resume_continues_after_approvals() {
    let ws = Workspace::from_fixture("gated.toml");
    let out = ws.expect(["run", "1.0", "--no-wait"], 3);
    assert!(
        stderr_of(&out).contains("paused at a gate"),
        "{}",
        stderr_of(&out)
    );
    let st = ws.status("1.0");
    assert_eq!(st["state"], "paused");
    assert!(st["driver"].is_null(), "no driver is left behind: {st}");
    assert_eq!(
        st["gates"][0]["checklist"][2]["done"], true,
        "the check ran before the driver stopped"
    );

    for (who, what) in [
        ("alice", None),
        ("bob", None),
        ("carol", Some("1")),
        ("carol", Some("2")),
    ] {
        let out = match what {
            None => ws
                .flightdeck(["approve", "1.0", "signoff", "--as", who])
                .output()
                .unwrap(),
            Some(item) => ws
                .flightdeck(["tick", "1.0", "signoff", item, "--as", who])
                .output()
                .unwrap(),
        };
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    }
    assert!(
        !ws.has_event("1.0", "run_started", |e| e["stage"] == "ship"),
        "nothing runs without a driver"
    );

    let out = ws.expect(["resume", "1.0"], 0);
    assert!(
        stdout_of(&out).contains("[ship] shipped 1.0"),
        "{}",
        stdout_of(&out)
    );
    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    assert_eq!(stage(&st, "ship")["state"], "succeeded");
}

#[test]
fn a_second_driver_is_refused_while_one_is_alive() {
    let ws = Workspace::from_fixture("gated.toml");
    ws.expect(["run", "1.0", "--detach"], 0);
    let st = ws.wait_for_state("1.0", "paused");
    let pid = st["driver"].as_u64().expect("a live detached driver");

    let out = ws.expect(["resume", "1.0"], 4);
    assert!(
        stderr_of(&out).contains(&format!("driven by another process (pid {pid})")),
        "{}",
        stderr_of(&out)
    );
    let st = ws.status("1.0");
    assert_eq!(st["driver"].as_u64(), Some(pid), "the first driver still drives");
    assert_eq!(
        ws.events("1.0", "driver_started").len(),
        1,
        "the refused driver journaled nothing"
    );

    ws.expect(["cancel", "1.0"], 0);
    ws.wait_for_state("1.0", "cancelled");
}

#[test]
fn an_environment_held_by_another_release_waits_until_it_is_unlocked() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "envs"

[environments.prod]
vars = { WHERE = "prod" }

[gates.late]
approvals = 1
required_for = ["major", "minor"]

[[stage]]
id = "deploy"
environment = "prod"
run = "echo deploying {version} to $WHERE"

[[stage]]
id = "verify"
needs = ["deploy"]
gate = "late"
run = "echo verified"
"#,
    );
    // Release A deploys to prod, then pauses at a gate on a later stage: it still holds prod.
    ws.expect(["run", "1.0", "--no-wait"], 3);
    assert!(ws.has_event("1.0", "env_acquired", |e| e["env"] == "prod"));

    // Release B (a hotfix, which the gate does not apply to) wants prod too.
    let mut b = ws.spawn(["run", "1.1", "--type", "hotfix"]);
    ws.wait_for_event("1.1", "stage_waiting", |e| {
        e["stage"] == "deploy" && e["reason"] == "waiting: prod is held by 1.0"
    });
    let st = ws.status("1.1");
    assert_eq!(stage(&st, "deploy")["waiting"], "waiting: prod is held by 1.0");
    assert_eq!(st["type"], "hotfix");
    wait_until(DEADLINE, "B prints why it waits", || {
        b.stdout().contains("stage deploy waiting: prod is held by 1.0")
    });
    assert!(
        b.try_exit().is_none(),
        "B ended while prod is held\n{}",
        b.output()
    );
    assert!(
        !ws.has_event("1.1", "run_started", |_| true),
        "B started a run on a held environment"
    );

    let out = ws.expect(["unlock-env", "1.0", "prod", "--reason", "hotfix goes first"], 0);
    assert!(
        stdout_of(&out).contains("release 1.0 no longer holds prod"),
        "{}",
        stdout_of(&out)
    );
    assert!(ws.has_event("1.0", "env_unlocked", |e| e["env"] == "prod"
        && e["reason"] == "hotfix goes first"));

    assert_eq!(b.wait(), 0, "{}", b.output());
    assert!(
        b.stdout().contains("[deploy] deploying 1.1 to prod"),
        "{}",
        b.output()
    );
    assert_eq!(ws.status("1.1")["state"], "succeeded");
    assert!(ws.has_event("1.1", "env_acquired", |e| e["env"] == "prod"));
    assert_eq!(
        ws.status("1.0")["state"],
        "paused",
        "A is still waiting at its gate"
    );
}

#[test]
fn skip_of_a_gated_stage_is_answered_by_a_driver_the_request_starts() {
    let ws = Workspace::from_fixture("gated.toml");
    ws.expect(["run", "1.0", "--no-wait"], 3);

    let out = ws.expect(["skip", "1.0", "ship", "--reason", "not this time"], 0);
    assert!(
        stdout_of(&out).contains("accepted (started a background driver)"),
        "{}",
        stdout_of(&out)
    );
    let st = ws.wait_for_state("1.0", "succeeded");
    let ship = stage(&st, "ship");
    assert_eq!(ship["state"], "skipped");
    assert_eq!(ship["reason"], "skipped: not this time");
    assert!(ws.has_event("1.0", "skip_requested", |e| e["actor"] == "tester"
        && e["reason"] == "not this time"));
    assert!(ws.has_event("1.0", "request_handled", |e| e["accepted"] == true));
    assert!(
        !ws.has_event("1.0", "run_started", |e| e["stage"] == "ship"),
        "a skipped stage ran"
    );

    // A stage that already ran cannot be skipped.
    let out = ws.expect(["skip", "1.0", "build", "--reason", "too late"], 1);
    assert!(stderr_of(&out).contains("refused"), "{}", stderr_of(&out));
}

#[test]
fn retry_of_a_failed_stage_starts_a_driver_and_the_stage_then_succeeds() {
    let ws = Workspace::new(
        r#"
[plan]
name = "requests"

[[stage]]
id = "flaky"
run = "if [ -f fixed ]; then echo fixed now; else echo broken; exit 1; fi"

[[stage]]
id = "after"
needs = ["flaky"]
run = "echo after"
"#,
    );
    ws.expect(["run", "1.0"], 1);
    assert_eq!(ws.status("1.0")["state"], "failed");

    ws.touch("fixed");
    let out = ws.expect(["retry", "1.0", "flaky"], 0);
    assert!(
        stdout_of(&out).contains("accepted (started a background driver)"),
        "{}",
        stdout_of(&out)
    );
    let st = ws.wait_for_state("1.0", "succeeded");
    let flaky = stage(&st, "flaky");
    assert_eq!(flaky["state"], "succeeded");
    assert_eq!(flaky["attempts"], 2);
    assert_eq!(flaky["targets"][0]["attempts"][1]["outcome"], "succeeded");
    assert_eq!(stage(&st, "after")["state"], "succeeded");
    assert!(ws.log("1.0", "flaky.2.log").contains("o fixed now\n"));
    assert!(ws.has_event("1.0", "stage_retry", |e| e["stage"] == "flaky"));
    let finished = ws.events("1.0", "release_finished");
    let states: Vec<&str> = finished.iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        ["failed", "succeeded"],
        "the finished release was reopened"
    );
}

#[test]
fn cancel_stops_a_running_release_and_its_processes() {
    let ws = Workspace::new(
        r#"
[plan]
name = "requests"

[[stage]]
id = "long"
run = "sleep 1000 & echo $! > long.pid; wait"

[[stage]]
id = "after"
needs = ["long"]
run = "touch after.ran"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let pid = wait_for_pid_file(&ws, "long.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| e["stage"] == "long");

    let out = ws.expect(["cancel", "1.0"], 0);
    assert!(stdout_of(&out).contains("accepted"), "{}", stdout_of(&out));
    let st = ws.wait_for_state("1.0", "cancelled");
    assert_eq!(
        stage(&st, "long")["targets"][0]["attempts"][0]["outcome"],
        "cancelled"
    );
    assert!(
        process_gone(pid),
        "the cancelled run's `sleep` (pid {pid}) is still alive"
    );
    assert!(!ws.exists("after.ran"));
    let labels: Vec<String> = ws.events("1.0", "run_started").iter().map(run_label).collect();
    assert_eq!(labels, ["long"]);

    let out = ws.flightdeck(["cancel", "1.0"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "cancelling a finished release is refused: {}",
        stdout_of(&out)
    );
}

#[test]
fn rollback_of_a_finished_release_undoes_it_newest_first_and_from_a_stage_only_what_follows() {
    let plan = r#"
[plan]
name = "undo"

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "migrate"
run = "echo migrate"
rollback = "echo migrate >> undone"

[[stage]]
id = "deploy"
needs = ["migrate"]
environment = "prod"
run = "echo deploy {target}"
rollback = "echo deploy/{target} >> undone"

[[stage]]
id = "announce"
needs = ["deploy"]
run = "echo announce"
"#;
    let ws = Workspace::new(plan);
    ws.expect(["run", "1.0"], 0);

    // From a stage: that stage and what depends on it (announce has no rollback), not migrate.
    let out = ws.expect(["rollback", "1.0", "--stage", "deploy"], 0);
    assert!(stdout_of(&out).contains("accepted"), "{}", stdout_of(&out));
    let st = ws.wait_for_state("1.0", "rolled_back");
    assert_eq!(stage(&st, "deploy")["state"], "rolled_back");
    assert_eq!(stage(&st, "migrate")["state"], "succeeded");
    assert_eq!(ws.read("undone"), "deploy/us\ndeploy/eu\n", "newest first");

    // The whole release: what is still live (migrate), nothing twice.
    ws.expect(["rollback", "1.0"], 0);
    wait_until(DEADLINE, "migrate is rolled back", || {
        ws.try_status("1.0")
            .is_some_and(|s| stage(&s, "migrate")["state"] == "rolled_back")
    });
    ws.wait_for_state("1.0", "rolled_back");
    assert_eq!(ws.read("undone"), "deploy/us\ndeploy/eu\nmigrate\n");
    common::assert_nothing_after_finish(&ws, "1.0");
}

#[test]
fn releases_waiting_for_an_environment_get_it_first_come_first_served() {
    let ws = Workspace::new(
        r#"
[plan]
name = "queue"

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "while [ ! -f go-{version} ]; do sleep 0.05; done; echo {version} >> order.txt"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    ws.wait_for_event("1.0", "run_started", |_| true);
    ws.expect(["run", "2.0", "--detach"], 0);
    ws.wait_for_event("2.0", "stage_waiting", |e| {
        e["reason"] == "waiting: prod is held by 1.0"
    });
    ws.expect(["run", "3.0", "--detach"], 0);
    ws.wait_for_event("3.0", "stage_waiting", |e| {
        e["reason"] == "waiting: prod is held by 1.0 (2nd in queue)"
    });
    // The first in line learns that someone waits behind it.
    ws.wait_for_event("2.0", "stage_waiting", |e| {
        e["reason"] == "waiting: prod is held by 1.0 (1st in queue)"
    });
    let out = ws.expect(["status", "3.0"], 0);
    assert!(
        stdout_of(&out).contains("waiting: prod is held by 1.0 (2nd in queue)"),
        "{}",
        stdout_of(&out)
    );
    assert_eq!(
        stage(&ws.status("3.0"), "deploy")["waiting"],
        "waiting: prod is held by 1.0 (2nd in queue)"
    );
    // Both waiters could go at once: prod goes to 2.0, which waited first, then to 3.0.
    ws.touch("go-3.0");
    ws.touch("go-2.0");
    ws.touch("go-1.0");
    for v in ["1.0", "2.0", "3.0"] {
        ws.wait_for_state(v, "succeeded");
    }
    assert_eq!(ws.read("order.txt"), "1.0\n2.0\n3.0\n");
}

#[test]
fn a_halted_release_does_not_keep_its_place_in_an_environment_queue() {
    let ws = Workspace::new(
        r#"
[plan]
name = "haltq"

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "while [ ! -f go-{version} ]; do sleep 0.05; done"

[[stage]]
id = "slow"
run = "if [ {version} = 2.0 ]; then while [ ! -f go-slow ]; do sleep 0.05; done; fi"

[[stage]]
id = "boom"
run = "if [ {version} = 2.0 ]; then while [ ! -f boom ]; do sleep 0.05; done; exit 1; fi"
"#,
    );
    ws.touch("go-3.0");
    ws.expect(["run", "1.0", "--detach"], 0);
    ws.wait_for_event("1.0", "run_started", |e| e["stage"] == "deploy");
    ws.expect(["run", "2.0", "--detach"], 0);
    ws.wait_for_event("2.0", "stage_waiting", |e| e["stage"] == "deploy");
    // 2.0 halts (boom fails) while `slow` still runs: it will never deploy.
    ws.touch("boom");
    ws.wait_for_event("2.0", "stage_failed", |e| e["stage"] == "boom");
    ws.expect(["run", "3.0", "--detach"], 0);
    ws.wait_for_event("3.0", "stage_waiting", |e| e["stage"] == "deploy");
    ws.touch("go-1.0");
    ws.wait_for_state("1.0", "succeeded");
    ws.wait_for_state("3.0", "succeeded");
    assert_eq!(
        ws.status("2.0")["state"],
        "running",
        "2.0 is still running `slow`"
    );
    ws.touch("go-slow");
    ws.wait_for_state("2.0", "failed");
}
