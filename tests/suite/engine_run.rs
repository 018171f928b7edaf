//! End to end: `flightdeck run` on real plans with real `sh` commands. Stages, fan-out, failure
//! policies (halt, continue, rollback), retries, timeouts, placeholder quoting, secrets, detached
//! drivers and `logs`.

use crate::common;

use common::{DEADLINE, Workspace, process_gone, run_label, stage, stderr_of, stdout_of, wait_until};
use serde_json::Value;

/// `(label, outcome)` of every `run_finished` of one kind, in journal order.
fn finished_runs(ws: &Workspace, id: &str, kind: &str) -> Vec<(String, u64, String)> {
    ws.events(id, "run_finished")
        .iter()
        .filter(|e| e["run_kind"] == kind)
        .map(|e| {
            (
                run_label(e),
                e["attempt"].as_u64().unwrap(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_multi_stage_release_succeeds_with_prefixed_output_and_an_intact_journal() {
    let ws = Workspace::new(
        r#"
[plan]
name = "shop"

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "build"
run = ["echo building {version}", "echo compiled >&2"]

[[stage]]
id = "test"
needs = ["build"]
run = "echo tests pass for {stage}"

[[stage]]
id = "deploy"
needs = ["test"]
environment = "prod"
concurrency = 2
run = "echo deploying {version} to {target} in {env}"
"#,
    );
    let out = ws.flightdeck(["run", "1.0"]).output().unwrap();
    let stdout = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr_of(&out));

    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "[build] building 1.0",
        "[build] compiled",
        "[test] tests pass for test",
        "[deploy/eu] deploying 1.0 to eu in prod",
        "[deploy/us] deploying 1.0 to us in prod",
    ] {
        assert!(lines.contains(&expected), "no line `{expected}` in:\n{stdout}");
    }
    // The run output of each stage comes after the line saying it started.
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}`:\n{stdout}"))
    };
    assert!(pos("build started") < pos("[build] building 1.0"));
    assert!(pos("[build] building 1.0") < pos("[test] tests pass"));
    assert!(pos("[test] tests pass") < pos("[deploy/eu] deploying"));
    assert!(
        lines.last().unwrap().ends_with("release 1.0 succeeded"),
        "{stdout}"
    );

    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    assert_eq!(st["version"], "1.0");
    assert_eq!(st["type"], "minor");
    assert_eq!(st["driver"], Value::Null);
    let stages = st["stages"].as_array().unwrap();
    assert_eq!(
        stages
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["build", "test", "deploy"]
    );
    for s in stages {
        assert_eq!(s["state"], "succeeded", "{s}");
        assert_eq!(s["attempts"], 1, "{s}");
        for t in s["targets"].as_array().unwrap() {
            assert_eq!(t["state"], "succeeded", "{t}");
            assert_eq!(t["attempts"][0]["outcome"], "succeeded", "{t}");
            let log = ws
                .release_dir("1.0")
                .join(t["attempts"][0]["log"].as_str().unwrap());
            assert!(log.is_file(), "{} missing", log.display());
        }
    }
    let deploy = stage(&st, "deploy");
    let targets: Vec<&str> = deploy["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["eu", "us"]);
    assert_eq!(deploy["targets"][1]["attempts"][0]["log"], "logs/deploy.us.1.log");
    assert!(
        ws.log("1.0", "deploy.us.1.log")
            .contains("o deploying 1.0 to us in prod\n")
    );
    assert!(ws.log("1.0", "build.1.log").contains("e compiled\n"));

    let out = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("intact"), "{}", stdout_of(&out));
}

fn rollback_plan(failing_rollback_target: &str) -> String {
    format!(
        r#"
[plan]
name = "rb"

[environments.prod]
targets = ["t1", "t2", "t3"]

[[stage]]
id = "prep"
run = "echo prepared"
rollback = "echo prep >> undo.log"

[[stage]]
id = "notes"
needs = ["prep"]
run = "echo notes have no rollback"

[[stage]]
id = "migrate"
needs = ["prep"]
run = "echo migrated"
rollback = "echo migrate >> undo.log"

[[stage]]
id = "deploy"
needs = ["migrate", "notes"]
environment = "prod"
concurrency = 1
run = "if [ {{target}} = t3 ]; then echo broken >&2; exit 1; fi; echo deployed {{target}}"
rollback = "if [ {{target}} = {failing_rollback_target} ]; then exit 7; fi; echo deploy-{{target}} >> undo.log"
on_failure = "rollback"
"#
    )
}

#[test]
fn a_failure_rolls_back_completed_work_newest_first_including_the_failing_stages_good_targets() {
    let ws = Workspace::new(&rollback_plan("none"));
    ws.expect(["run", "1.0"], 1);

    let expected = ["deploy/t2", "deploy/t1", "migrate", "prep"];
    let started = ws.events("1.0", "rollback_started");
    assert_eq!(started.len(), 1, "{started:?}");
    let order: Vec<String> = started[0]["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(run_label)
        .collect();
    assert_eq!(order, expected, "rollback_started.order");
    let runs: Vec<String> = ws
        .events("1.0", "run_started")
        .iter()
        .filter(|e| e["run_kind"] == "rollback")
        .map(run_label)
        .collect();
    assert_eq!(runs, expected, "rollback runs in journal order");
    // Every rollback run started after the failing run had finished.
    let journal = ws.journal("1.0");
    let t3_failed = journal
        .iter()
        .position(|e| e["kind"] == "run_finished" && e["target"] == "t3" && e["outcome"] == "failed")
        .expect("t3 failed");
    let first_rb = journal
        .iter()
        .position(|e| e["kind"] == "run_started" && e["run_kind"] == "rollback")
        .unwrap();
    assert!(t3_failed < first_rb);
    assert_eq!(ws.read("undo.log"), "deploy-t2\ndeploy-t1\nmigrate\nprep\n");
    assert!(ws.has_event("1.0", "rollback_finished", |e| e["ok"] == true));
    assert!(ws.has_event("1.0", "release_finished", |e| e["state"] == "rolled_back"));

    let st = ws.status("1.0");
    assert_eq!(st["state"], "rolled_back");
    assert_eq!(stage(&st, "prep")["state"], "rolled_back");
    assert_eq!(stage(&st, "migrate")["state"], "rolled_back");
    assert_eq!(
        stage(&st, "notes")["state"],
        "succeeded",
        "no rollback command: left alone"
    );
    let deploy = stage(&st, "deploy");
    assert_eq!(deploy["targets"][0]["rollbacks"][0]["outcome"], "succeeded");
    assert_eq!(deploy["targets"][1]["rollbacks"][0]["outcome"], "succeeded");
    assert_eq!(
        deploy["targets"][2]["rollbacks"],
        Value::Array(vec![]),
        "t3 never deployed: nothing to undo"
    );
    assert!(
        ws.release_dir("1.0")
            .join("logs/deploy.t2.rollback.1.log")
            .is_file()
    );
    assert!(ws.release_dir("1.0").join("logs/prep.rollback.1.log").is_file());
}

#[test]
fn a_failing_rollback_command_ends_the_release_rollback_failed_after_undoing_the_rest() {
    let ws = Workspace::new(&rollback_plan("t2"));
    let out = ws.expect(["run", "1.0"], 1);
    assert_eq!(
        finished_runs(&ws, "1.0", "rollback"),
        [
            ("deploy/t2".to_string(), 1, "failed".to_string()),
            ("deploy/t1".to_string(), 1, "succeeded".to_string()),
            ("migrate".to_string(), 1, "succeeded".to_string()),
            ("prep".to_string(), 1, "succeeded".to_string()),
        ]
    );
    assert_eq!(ws.read("undo.log"), "deploy-t1\nmigrate\nprep\n");
    assert!(ws.has_event("1.0", "rollback_finished", |e| e["ok"] == false));
    assert!(ws.has_event("1.0", "release_finished", |e| e["state"] == "rollback_failed"));
    let st = ws.status("1.0");
    assert_eq!(st["state"], "rollback_failed");
    assert_eq!(stage(&st, "deploy")["state"], "rollback_failed");
    assert!(stdout_of(&out).contains("ROLLBACK FAILED"), "{}", stdout_of(&out));
}

#[test]
fn a_stage_failing_once_passes_on_its_retry_with_both_attempts_journaled() {
    let ws = Workspace::new(
        r#"
[plan]
name = "retry"

[[stage]]
id = "flaky"
retries = 1
run = "if [ -f tried ]; then echo second try; else touch tried; echo first try; exit 1; fi"

[[stage]]
id = "after"
needs = ["flaky"]
run = "echo after"
"#,
    );
    let out = ws.expect(["run", "1.0"], 0);
    assert_eq!(
        finished_runs(&ws, "1.0", "deploy"),
        [
            ("flaky".to_string(), 1, "failed".to_string()),
            ("flaky".to_string(), 2, "succeeded".to_string()),
            ("after".to_string(), 1, "succeeded".to_string()),
        ]
    );
    assert!(ws.log("1.0", "flaky.1.log").contains("o first try\n"));
    assert!(ws.log("1.0", "flaky.2.log").contains("o second try\n"));
    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    let flaky = stage(&st, "flaky");
    assert_eq!(flaky["state"], "succeeded");
    assert_eq!(flaky["attempts"], 2);
    let outcomes: Vec<&Value> = flaky["targets"][0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["outcome"])
        .collect();
    assert_eq!(outcomes, ["failed", "succeeded"]);
    assert!(
        stdout_of(&out).contains("flaky started (attempt 2)"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn a_stage_exhausting_its_retries_fails_the_release() {
    let ws = Workspace::new(
        r#"
[plan]
name = "retry"

[[stage]]
id = "doomed"
retries = 2
run = "echo nope; exit 3"

[[stage]]
id = "after"
needs = ["doomed"]
run = "touch after.ran"
"#,
    );
    ws.expect(["run", "1.0"], 1);
    assert_eq!(
        finished_runs(&ws, "1.0", "deploy"),
        (1..=3)
            .map(|n| ("doomed".to_string(), n, "failed".to_string()))
            .collect::<Vec<_>>()
    );
    for n in 1..=3 {
        assert!(ws.log("1.0", &format!("doomed.{n}.log")).contains("o nope\n"));
    }
    assert!(!ws.release_dir("1.0").join("logs/doomed.4.log").exists());
    assert!(!ws.exists("after.ran"));
    let st = ws.status("1.0");
    assert_eq!(st["state"], "failed");
    let doomed = stage(&st, "doomed");
    assert_eq!(doomed["state"], "failed");
    assert_eq!(doomed["attempts"], 3);
    assert_eq!(doomed["reason"], "exited with 3 (attempt 3)");
    assert_eq!(doomed["targets"][0]["state"], "failed");
}

#[test]
fn a_timeout_ends_the_whole_process_group_including_a_background_grandchild() {
    let ws = Workspace::new(
        r#"
[plan]
name = "timeout"

[[stage]]
id = "hang"
timeout = "1s"
run = "sleep 1000 & echo $! > bg.pid; wait"
"#,
    );
    ws.expect(["run", "1.0"], 1);
    let pid: i32 = ws
        .read("bg.pid")
        .trim()
        .parse()
        .expect("bg.pid holds the sleep's pid");
    assert!(
        process_gone(pid),
        "the background `sleep 1000` (pid {pid}) outlived its timed-out run"
    );
    assert_eq!(
        finished_runs(&ws, "1.0", "deploy"),
        [("hang".to_string(), 1, "timed_out".to_string())]
    );
    let st = ws.status("1.0");
    assert_eq!(st["state"], "failed");
    let hang = stage(&st, "hang");
    assert_eq!(hang["state"], "failed");
    assert_eq!(hang["reason"], "timed out");
    assert_eq!(hang["targets"][0]["attempts"][0]["outcome"], "timed_out");
    let duration = hang["targets"][0]["attempts"][0]["duration_ms"].as_u64().unwrap();
    assert!(duration >= 1000, "ended after {duration} ms, before its timeout");
    assert!(ws.log("1.0", "hang.1.log").contains("timed out after 1s"));
}

#[test]
fn a_fan_out_runs_exactly_concurrency_targets_at_once() {
    let ws = Workspace::new(
        r#"
[plan]
name = "fleet"

[environments.fleet]
targets = ["n1", "n2", "n3", "n4", "n5", "n6"]

[[stage]]
id = "roll"
environment = "fleet"
concurrency = 2
run = "echo start {target} >> events.log; sleep 0.3; echo end {target} >> events.log"
"#,
    );
    ws.expect(["run", "1.0"], 0);
    let events = ws.read("events.log");
    let mut running = std::collections::BTreeSet::new();
    let (mut max, mut starts, mut ends) = (0, 0, 0);
    for line in events.lines() {
        match line.split_once(' ') {
            Some(("start", t)) => {
                starts += 1;
                assert!(running.insert(t.to_string()), "{t} started twice:\n{events}");
                max = max.max(running.len());
            }
            Some(("end", t)) => {
                ends += 1;
                assert!(running.remove(t), "{t} ended without starting:\n{events}");
            }
            _ => panic!("odd line `{line}` in:\n{events}"),
        }
    }
    assert_eq!((starts, ends), (6, 6), "{events}");
    assert_eq!(
        max, 2,
        "at most `concurrency` targets at once, and actually in parallel:\n{events}"
    );
}

/// `a` fails at once; `slow` (independent) waits until the journal records that failure and then
/// succeeds; `b` needs `a`; `c` needs `slow`, so it could only start after the failure.
fn policy_plan(on_failure: &str) -> String {
    format!(
        r#"
[plan]
name = "policy"

[[stage]]
id = "a"
run = "echo failing; exit 1"
on_failure = "{on_failure}"

[[stage]]
id = "b"
needs = ["a"]
run = "touch b.ran"

[[stage]]
id = "slow"
timeout = "30s"
run = '''until grep -q '"kind":"stage_failed"' @WS@/data/plans/policy/1.0/journal.jsonl; do sleep 0.02; done; echo slow done'''

[[stage]]
id = "c"
needs = ["slow"]
run = "touch c.ran"
"#
    )
}

#[test]
fn on_failure_halt_starts_nothing_new_and_fails_the_release() {
    let ws = Workspace::new(&policy_plan("halt"));
    ws.expect(["run", "1.0"], 1);
    assert!(
        !ws.exists("b.ran") && !ws.exists("c.ran"),
        "a stage started after a halt"
    );
    let started: Vec<String> = ws.events("1.0", "run_started").iter().map(run_label).collect();
    assert_eq!(
        started.iter().filter(|s| *s == "b" || *s == "c").count(),
        0,
        "{started:?}"
    );
    let st = ws.status("1.0");
    assert_eq!(st["state"], "failed");
    assert_eq!(stage(&st, "a")["state"], "failed");
    assert_eq!(
        stage(&st, "slow")["state"],
        "succeeded",
        "what was running finishes"
    );
    assert_eq!(stage(&st, "b")["state"], "pending");
    assert_eq!(stage(&st, "c")["state"], "pending");
    assert!(st["reason"].as_str().unwrap().contains("halted"), "{st}");
}

#[test]
fn on_failure_continue_runs_independent_stages_and_skips_dependents() {
    let ws = Workspace::new(&policy_plan("continue"));
    ws.expect(["run", "1.0"], 1);
    assert!(
        ws.exists("c.ran"),
        "an independent stage did not go on after the failure"
    );
    assert!(!ws.exists("b.ran"), "a dependent of the failed stage ran");
    let st = ws.status("1.0");
    assert_eq!(st["state"], "failed");
    assert_eq!(stage(&st, "a")["state"], "failed");
    assert_eq!(stage(&st, "b")["state"], "skipped");
    assert!(stage(&st, "b")["reason"].as_str().unwrap().contains("needs `a`"));
    assert_eq!(stage(&st, "slow")["state"], "succeeded");
    assert_eq!(stage(&st, "c")["state"], "succeeded");
    // `c` started only after `a` had failed.
    let journal = ws.journal("1.0");
    let failed = journal.iter().position(|e| e["kind"] == "stage_failed").unwrap();
    let c = journal
        .iter()
        .position(|e| e["kind"] == "run_started" && e["stage"] == "c")
        .unwrap();
    assert!(failed < c);
}

#[test]
fn placeholders_are_shell_quoted_so_a_version_cannot_inject_commands() {
    let ws = Workspace::new(
        r#"
[plan]
name = "quote"

[[stage]]
id = "show"
run = '''printf '%s\n' {version} >> seen.txt; printf '%s\n' "$FLIGHTDECK_VERSION" >> env.txt'''
"#,
    );
    let versions = [
        "1.0; touch pwned",
        "$(touch pwned2)",
        "1.0' ; touch pwned3; '",
        "`touch pwned4`",
    ];
    for v in versions {
        let out = ws.flightdeck(["run", v]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{v}: {}{}",
            stdout_of(&out),
            stderr_of(&out)
        );
    }
    for f in ["pwned", "pwned2", "pwned3", "pwned4"] {
        assert!(!ws.exists(f), "a version string ran a command ({f} exists)");
    }
    let expected: String = versions.iter().map(|v| format!("{v}\n")).collect();
    assert_eq!(
        ws.read("seen.txt"),
        expected,
        "the command sees the literal version"
    );
    assert_eq!(ws.read("env.txt"), expected);
}

#[test]
fn secret_values_never_reach_logs_journal_or_output() {
    const SECRET: &str = "hunter22";
    let ws = Workspace::new(
        r#"
[plan]
name = "sec"
secrets = ["DEPLOY_TOKEN"]

[gates.ok]
approvals = 1

[[stage]]
id = "whole"
run = 'echo "token is $DEPLOY_TOKEN"; echo "on stderr $DEPLOY_TOKEN" >&2'

[[stage]]
id = "split"
run = 't="$DEPLOY_TOKEN"; printf "split: %s" "${t%?????}"; sleep 0.3; printf "%s done\n" "${t#???}"'

[[stage]]
id = "after"
needs = ["whole", "split"]
gate = "ok"
run = "echo after"
"#,
    )
    .env("DEPLOY_TOKEN", SECRET);
    let first = ws.flightdeck(["run", "1.0", "--no-wait"]).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(3),
        "{}{}",
        stdout_of(&first),
        stderr_of(&first)
    );
    let approve = ws
        .flightdeck([
            "approve",
            "1.0",
            "ok",
            "--as",
            "alice",
            "--note",
            &format!("checked with {SECRET} myself"),
        ])
        .output()
        .unwrap();
    assert_eq!(approve.status.code(), Some(0), "{}", stderr_of(&approve));
    let resumed = ws.flightdeck(["resume", "1.0"]).output().unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}{}",
        stdout_of(&resumed),
        stderr_of(&resumed)
    );

    let leaks = |what: &str, text: &str| {
        assert!(
            !text.contains(SECRET) && !text.contains("ter22"),
            "{what} leaks the secret:\n{text}"
        );
    };
    for out in [&first, &approve, &resumed] {
        leaks("stdout", &stdout_of(out));
        leaks("stderr", &stderr_of(out));
    }
    let first_out = stdout_of(&first);
    assert!(first_out.contains("[whole] token is ***"), "{first_out}");
    assert!(first_out.contains("[whole] on stderr ***"), "{first_out}");
    assert!(first_out.contains("[split] split: *** done"), "{first_out}");
    let journal = std::fs::read_to_string(ws.journal_path("1.0")).unwrap();
    leaks("the journal", &journal);
    let logs = ws.logs("1.0");
    assert!(logs.len() >= 3, "{logs:?}");
    for (path, text) in &logs {
        leaks(&path.display().to_string(), text);
    }
    assert!(ws.log("1.0", "whole.1.log").contains("token is ***"));
    assert!(ws.log("1.0", "split.1.log").contains("***"));
    let approved = ws.events("1.0", "approved");
    assert_eq!(approved[0]["note"], "checked with *** myself");
    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    assert_eq!(st["gates"][0]["approvals"][0]["note"], "checked with *** myself");
}

#[test]
fn run_detach_prints_the_release_id_and_the_release_finishes_in_the_background() {
    let ws = Workspace::new(
        r#"
[plan]
name = "bg"

[[stage]]
id = "wait-for-go"
timeout = "30s"
run = "until [ -f go ]; do sleep 0.02; done; echo went"
"#,
    );
    let out = ws.expect(["run", "1.0", "--detach"], 0);
    assert_eq!(stdout_of(&out), "1.0\n");
    // `run --detach` returned while the stage is still blocked: the release goes on without it.
    let st = ws.status("1.0");
    assert_eq!(st["state"], "running", "{st}");
    assert!(st["driver"].as_u64().is_some(), "a live driver: {st}");
    ws.touch("go");
    let st = ws.wait_for_state("1.0", "succeeded");
    assert_eq!(stage(&st, "wait-for-go")["state"], "succeeded");
    assert!(ws.log("1.0", "wait-for-go.1.log").contains("o went\n"));
    // The driver lets go of the release once it has finished.
    wait_until(DEADLINE, "the background driver has exited", || {
        ws.status("1.0")["driver"].is_null()
    });
}

#[test]
fn logs_prints_a_runs_output_and_follow_streams_it_until_the_run_ends() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "logs"

[environments.prod]
targets = ["a", "b"]

[[stage]]
id = "deploy"
environment = "prod"
concurrency = 2
run = "echo hello from {target}"

[[stage]]
id = "watchme"
needs = ["deploy"]
timeout = "30s"
run = "echo first; until [ -f go ]; do sleep 0.02; done; echo second"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let log = ws.release_dir("1.0").join("logs/watchme.1.log");
    wait_until(DEADLINE, "watchme printed its first line", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("o first\n"))
    });

    let out = ws.expect(["logs", "1.0", "deploy", "--target", "b"], 0);
    let text = stdout_of(&out);
    assert!(text.lines().any(|l| l == "hello from b"), "{text}");
    assert!(!text.contains("hello from a"), "{text}");
    let out = ws.flightdeck(["logs", "1.0", "deploy"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "several targets and no --target is a usage error"
    );
    assert!(stderr_of(&out).contains("--target"), "{}", stderr_of(&out));

    let mut follow = ws.spawn(["logs", "1.0", "watchme", "--follow"]);
    wait_until(DEADLINE, "logs --follow printed the first line", || {
        follow.stdout().lines().any(|l| l == "first")
    });
    assert!(
        follow.try_exit().is_none(),
        "logs --follow exited while the run goes on\n{}",
        follow.output()
    );
    assert!(
        !follow.stdout().lines().any(|l| l == "second"),
        "{}",
        follow.output()
    );
    ws.touch("go");
    assert_eq!(follow.wait(), 0, "{}", follow.output());
    let text = follow.stdout();
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| *l == "first").unwrap();
    let second = lines
        .iter()
        .position(|l| *l == "second")
        .unwrap_or_else(|| panic!("no `second` line:\n{text}"));
    assert!(first < second, "{text}");
    ws.wait_for_state("1.0", "succeeded");
}

#[test]
fn a_watch_stage_repeats_its_run_over_the_window_and_any_failure_fails_it() {
    let ws = Workspace::new(
        r#"
[plan]
name = "bake"

[[stage]]
id = "bake"
run = "echo tick >> ticks"
watch = { every = "50ms", for = "1s" }

[[stage]]
id = "flaky-bake"
needs = ["bake"]
run = "echo tick >> flaky; [ $(wc -l < flaky) -lt 3 ]"
watch = { every = "50ms", for = "10s" }
"#,
    );
    let out = ws.flightdeck(["run", "1.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    // How many iterations fit depends on the machine's load; that it repeated, and that it ran
    // for its whole window (a lower bound, never flaky), does not.
    let ticks = ws.read("ticks").lines().count();
    assert!(
        ticks >= 3,
        "the bake stage ran {ticks} time(s) in its 1s window at 50ms intervals"
    );
    let bake = ws
        .events("1.0", "run_finished")
        .into_iter()
        .find(|e| e["stage"] == "bake")
        .expect("bake finished");
    assert!(
        bake["duration_ms"].as_u64().unwrap() >= 950,
        "a watch stops only when the next iteration would pass its window: {bake}"
    );
    let st = ws.status("1.0");
    assert_eq!(stage(&st, "bake")["state"], "succeeded");
    assert_eq!(stage(&st, "flaky-bake")["state"], "failed");
    // It stopped at the first failing iteration, long before its 10s window.
    assert_eq!(ws.read("flaky").lines().count(), 3);
    let log = ws.log("1.0", "bake.1.log");
    assert!(log.contains("# watch: iteration 3"), "{log}");
    assert!(
        log.contains(&format!("# watch: passed {ticks} iteration(s)")),
        "{log}"
    );
}

#[test]
fn list_shows_this_plans_releases_newest_first_and_all_shows_every_plan() {
    let ws = Workspace::new("[plan]\nname = \"alpha\"\n\n[[stage]]\nid = \"a\"\nrun = \"true\"\n");
    std::fs::create_dir(ws.file("other")).unwrap();
    std::fs::write(
        ws.file("other/flightdeck.toml"),
        "[plan]\nname = \"beta\"\n\n[[stage]]\nid = \"b\"\nrun = \"false\"\n",
    )
    .unwrap();
    for v in ["1.0", "1.1"] {
        assert_eq!(ws.flightdeck(["run", v]).output().unwrap().status.code(), Some(0));
    }
    let other = ws.file("other/flightdeck.toml");
    let out = ws
        .flightdeck(["--plan", other.to_str().unwrap(), "run", "1.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let out = ws.flightdeck(["list", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1.1", "1.0"], "this plan's, newest first");
    assert_eq!(v[0]["state"], "succeeded");

    let out = ws.flightdeck(["list", "--all", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["plan"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.contains(&("beta".into(), "failed".into())), "{rows:?}");

    let text = stdout_of(&ws.flightdeck(["list"]).output().unwrap());
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("1.1") && first.contains("succeeded"), "{text}");
    // `latest` and an omitted RELEASE mean this plan's newest.
    let st: Value = serde_json::from_slice(
        &ws.flightdeck(["status", "latest", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(st["id"], "1.1");
    // An id that two plans share is ambiguous outside either plan's folder.
    let out = ws.expect(["--plan", "/nonexistent/flightdeck.toml", "status", "1.0"], 2);
    assert!(stderr_of(&out).contains("several plans"), "{}", stderr_of(&out));
}

/// The log of stage `b` is made a link to /dev/full (every write: ENOSPC) before `b` starts. `b`
/// prints plenty and checks that its writes succeeded: the driver keeps reading its output, so
/// `b` is not killed by SIGPIPE and its own exit status counts; the record names the error and
/// the file.
#[test]
fn a_log_on_a_full_disk_is_named_and_the_command_keeps_its_exit_status() {
    let ws = Workspace::new(
        r#"
[plan]
name = "full"

[[stage]]
id = "a"
run = "mkdir -p \"$FLIGHTDECK_RELEASE_DIR/logs\" && ln -s /dev/full \"$FLIGHTDECK_RELEASE_DIR/logs/b.1.log\""

[[stage]]
id = "b"
needs = ["a"]
run = "seq 1 200000 || exit 7; echo 'to stderr' >&2 || exit 8; exit 0"
"#,
    );
    // Detached: an observer would read the link, and /dev/full reads as endless zeros.
    ws.expect(["run", "1.0", "--detach"], 0);
    ws.wait_for_state("1.0", "succeeded");
    let runs = finished_runs(&ws, "1.0", "deploy");
    assert_eq!(
        runs,
        [
            ("a".to_string(), 1, "succeeded".to_string()),
            ("b".to_string(), 1, "succeeded".to_string())
        ]
    );
    let log = ws.release_dir("1.0").join("logs/b.1.log");
    let wanted = format!("no space left on device writing {}", log.display());
    assert!(
        ws.has_event("1.0", "note", |e| e["message"] == wanted.as_str()),
        "no note `{wanted}`: {:?}",
        ws.events("1.0", "note")
    );
    ws.expect(["verify", "1.0"], 0);
}
