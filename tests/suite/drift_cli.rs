//! `flightdeck drift` end to end: the real binary, real `sh` probes that `cat` the fixture files of
//! `tests/fixtures/drift` (copied into each workspace), exit codes, the matrix, JSON, saved runs and
//! `--since`.

use crate::common;

use std::path::Path;

use common::{DEADLINE, Workspace, process_gone, stderr_of, stdout_of, wait_until};
use serde_json::Value;

/// staging prints key=value lines, prod JSON per target; `*.updated_at` is ignored. As fixed,
/// prod/us runs `db.pool = 10` against staging's 20: one drifting key.
const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]
probe = "cat staging.kv"

[environments.prod]
targets = ["eu", "us"]
probe = "cat prod-{target}.json"

[drift]
ignore = ["*.updated_at"]

[[stage]]
id = "deploy"
run = "true"
"#;

/// A workspace with `plan` and copies of the drift fixtures.
fn workspace(plan: &str) -> Workspace {
    let ws = Workspace::new(plan);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift");
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("fixture").path();
        std::fs::copy(&path, ws.file(path.file_name().unwrap().to_str().unwrap())).expect("copy fixture");
    }
    ws
}

/// `flightdeck drift ARGS`: (exit code, stdout, stderr).
fn drift(ws: &Workspace, args: &[&str]) -> (i32, String, String) {
    let out = ws
        .flightdeck(std::iter::once("drift").chain(args.iter().copied()))
        .output()
        .expect("run flightdeck drift");
    (out.status.code().unwrap_or(-1), stdout_of(&out), stderr_of(&out))
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

/// The saved runs of the workspace's plan.
fn saved_runs(ws: &Workspace) -> Vec<std::path::PathBuf> {
    let dir = ws.data_dir().join("plans").join(ws.plan_name()).join("drift");
    let mut runs: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    runs.sort();
    runs
}

#[test]
fn a_drifting_key_exits_1_and_shows_the_matrix() {
    let ws = workspace(PLAN);
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err, "");
    let expected = "\
KEY             staging (baseline)  prod/eu  prod/us
app.name        shop                =        =
app.replicas    3                   =        =
app.version     2.4.1               =        =
db.pool         20                  =        ≠ 10
feature.search  on                  =        =
= same as baseline   ≠ differs   ∅ missing   + extra

baseline: staging
prod/eu: in sync
prod/us: 1 differs
";
    assert_eq!(out, expected);
}

#[test]
fn in_sync_exits_0() {
    let ws = workspace(PLAN);
    std::fs::copy(ws.file("prod-eu.json"), ws.file("prod-us.json")).unwrap();
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.ends_with("baseline: staging\nprod/eu: in sync\nprod/us: in sync\n"),
        "{out}"
    );
    assert!(
        out.contains("\ndb.pool         20                  =        =\n"),
        "{out}"
    );
}

#[test]
fn a_failing_probe_is_named_and_the_others_are_shown() {
    let ws = workspace(&PLAN.replace(
        "probe = \"cat prod-{target}.json\"",
        "probe = \"if [ {target} = us ]; then echo 'connection refused' >&2; exit 3; fi; cat prod-{target}.json\"",
    ));
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err, "flightdeck: prod/us: exit 3\n  stderr: connection refused\n");
    // The other columns are still compared and shown; the failed one is marked and named.
    assert!(
        out.starts_with("KEY             staging (baseline)  prod/eu  prod/us\n"),
        "{out}"
    );
    assert!(
        out.contains("\ndb.pool         20                  =        !\n"),
        "{out}"
    );
    assert!(out.contains("! unavailable"), "{out}");
    assert!(
        out.ends_with("prod/eu: in sync\nprod/us: failed: exit 3\n"),
        "{out}"
    );
}

#[test]
fn a_probe_that_hangs_is_killed_at_its_timeout_and_named() {
    let ws = workspace(&PLAN.replace(
        "probe = \"cat prod-{target}.json\"",
        "probe = \"if [ {target} = us ]; then sleep 600 & echo $! > sleep.pid; echo waiting >&2; wait; fi; cat prod-{target}.json\"\nprobe_timeout = \"1s\"",
    ));
    let started = std::time::Instant::now();
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(
        err,
        "flightdeck: prod/us: timed out after 1s\n  stderr: waiting\n"
    );
    assert!(
        out.ends_with("prod/eu: in sync\nprod/us: failed: timed out after 1s\n"),
        "{out}"
    );
    assert!(started.elapsed() < DEADLINE);
    // The probe's whole process group ended with it, the background sleep included.
    let pid: i32 = ws.read("sleep.pid").trim().parse().expect("sleep.pid");
    wait_until(DEADLINE, format!("sleep {pid} is gone"), || process_gone(pid));
}

#[test]
fn garbage_output_names_the_line() {
    let ws = workspace(&PLAN.replace("cat prod-{target}.json", "cat garbage.kv"));
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(
        err,
        "flightdeck: prod/eu: line 3: expected key=value, found \"garbage here\"\n\
         flightdeck: prod/us: line 3: expected key=value, found \"garbage here\"\n"
    );
    assert!(
        out.contains("prod/eu: failed: line 3: expected key=value"),
        "{out}"
    );
}

#[test]
fn json_output_is_machine_readable() {
    let ws = workspace(PLAN);
    let (code, out, err) = drift(&ws, &["--json"]);
    assert_eq!(code, 1, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["baseline"], "staging");
    assert_eq!(v["drift"], true);
    assert_eq!(v["errors_found"], false);
    let columns: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["staging", "prod/eu", "prod/us"]);
    assert_eq!(v["columns"][2]["target"], "us");
    assert_eq!(v["columns"][2]["kind"], "probe");
    let rows = v["rows"].as_array().unwrap();
    let keys: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "app.name",
            "app.replicas",
            "app.version",
            "db.pool",
            "feature.search"
        ]
    );
    assert_eq!(
        rows[3]["cells"],
        serde_json::json!([
            {"value": "20", "mark": "baseline"},
            {"value": "20", "mark": "same"},
            {"value": "10", "mark": "differs"},
        ])
    );
    let summaries: Vec<&str> = v["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["prod/eu: in sync", "prod/us: 1 differs"]);
    assert_eq!(v["summaries"][1]["differs"], 1);
    assert_eq!(v["errors"], serde_json::json!([]));
    // The run was saved where the output says.
    let saved = saved_runs(&ws);
    assert_eq!(saved.len(), 1);
    assert_eq!(v["snapshot"], saved[0].display().to_string());
}

#[test]
fn json_names_failed_probes_too() {
    let ws = workspace(&PLAN.replace("cat prod-{target}.json", "echo oops >&2; exit 7"));
    let (code, out, _) = drift(&ws, &["--json"]);
    assert_eq!(code, 2);
    let v = json(&out);
    assert_eq!(v["errors_found"], true);
    assert_eq!(
        v["errors"][0],
        serde_json::json!({"column": "prod/eu", "message": "exit 7", "stderr": ["oops"]})
    );
    assert_eq!(v["columns"][1]["error"], "exit 7");
    assert_eq!(v["rows"][0]["cells"][1]["mark"], "unavailable");
}

#[test]
fn only_diff_shows_only_drifting_keys() {
    let ws = workspace(PLAN);
    let (code, out, _) = drift(&ws, &["--only-diff"]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("KEY      staging (baseline)  prod/eu  prod/us\ndb.pool  20                  =        ≠ 10\n= same"),
        "{out}"
    );
    let (_, out, _) = drift(&ws, &["--only-diff", "--json"]);
    let v = json(&out);
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(v["rows"][0]["key"], "db.pool");

    std::fs::copy(ws.file("prod-eu.json"), ws.file("prod-us.json")).unwrap();
    let (code, out, _) = drift(&ws, &["--only-diff"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("no key drifts\n\nbaseline: staging\n"), "{out}");
}

#[test]
fn env_and_baseline_choose_the_columns() {
    let ws = workspace(PLAN);
    // prod/us compared with prod/eu: staging is not probed at all.
    std::fs::remove_file(ws.file("staging.kv")).unwrap();
    let (code, out, err) = drift(&ws, &["--env", "prod/us", "--baseline", "prod/eu", "--only-diff"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("KEY      prod/eu (baseline)  prod/us\ndb.pool  20                  ≠ 10\n"),
        "{out}"
    );

    let (code, _, err) = drift(&ws, &["--env", "prdo"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "flightdeck: --env `prdo` is not an environment of plan `shop`; did you mean `prod`?\n"
    );
    let (code, _, err) = drift(&ws, &["--baseline", "prod/asia"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "flightdeck: baseline `prod/asia`: environment `prod` has no target `asia`\n"
    );
}

#[test]
fn a_plan_without_probes_is_a_usage_error() {
    let ws =
        workspace("[plan]\nname = \"bare\"\n[environments.prod]\n[[stage]]\nid = \"s\"\nrun = \"true\"\n");
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "flightdeck: no environment of plan `bare` has a probe or an expect file \
         (add `probe = \"...\"` to an [environments.NAME] table)\n"
    );
}

#[test]
fn the_desired_state_is_a_column_of_its_own() {
    let ws = workspace(&PLAN.replace(
        "probe = \"cat prod-{target}.json\"",
        "probe = \"cat prod-{target}.json\"\nexpect = \"prod.toml\"",
    ));
    let (code, out, _) = drift(&ws, &["--only-diff"]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(
            "KEY          staging (baseline)  prod/eu  prod/us  prod (expected)\n\
             app.version  2.4.1               =        =        ≠ 2.5.0\n\
             db.pool      20                  =        ≠ 10     =\n"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("prod/us: 1 differs\nprod (expected): 1 differs\n"),
        "{out}"
    );
}

#[test]
fn probe_output_cannot_reach_the_terminal() {
    // Escape sequences on stdout (as a value) and on stderr (in the error's tail).
    let ws = workspace(&PLAN.replace(
        "probe = \"cat prod-{target}.json\"",
        r#"probe = 'printf "app.name=\033[2J\033]0;owned\007\n"; printf "evil\033[31m\n" >&2; [ {target} = eu ]'"#,
    ));
    let (code, out, err) = drift(&ws, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains('\u{1b}') && !err.contains('\u{1b}'), "{out}{err}");
    assert!(out.contains("≠ \\u{1b}[2J\\u{1b}]0;own…"), "{out}");
    assert!(err.contains("stderr: evil\\u{1b}[31m"), "{err}");
}

#[test]
fn every_run_is_saved_and_since_shows_what_changed_since_a_release_started() {
    let ws = workspace(PLAN);
    let (code, _, err) = drift(&ws, &[]);
    assert_eq!(code, 1, "{err}");
    let saved = saved_runs(&ws);
    assert_eq!(saved.len(), 1);
    let name = saved[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.ends_with("Z.json") && name.len() == "20250131T120000.123Z.json".len(),
        "{name}"
    );
    let snap: Value = serde_json::from_str(&std::fs::read_to_string(&saved[0]).unwrap()).unwrap();
    assert_eq!(snap["plan"], "shop");
    assert_eq!(snap["columns"][2]["name"], "prod/us");
    // The full state, ignored keys included.
    assert_eq!(snap["columns"][2]["state"]["db.pool"], "10");
    assert_eq!(
        snap["columns"][0]["state"]["db.updated_at"],
        "2025-01-30T10:00:00Z"
    );

    // A release records a start snapshot; for a fixed reference, replace it with that run.
    let run = ws.flightdeck(["run", "1.0"]).output().unwrap();
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert!(
        ws.release_dir("1.0").join("drift-start.json").is_file(),
        "the engine snapshots at the start"
    );
    std::fs::copy(&saved[0], ws.release_dir("1.0").join("drift-start.json")).unwrap();

    // Nothing changed yet.
    let (code, out, err) = drift(&ws, &["--since", "1.0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("since release 1.0 started ("), "{out}");
    assert!(
        out.ends_with("staging: no changes\nprod/eu: no changes\nprod/us: no changes\n"),
        "{out}"
    );

    // Then someone changes staging by hand.
    std::fs::write(
        ws.file("staging.kv"),
        "app.name=shop\napp.replicas=4\napp.version=2.4.1\ndb.updated_at=now\nfeature.search=on\nfeature.beta=yes\n",
    )
    .unwrap();
    let (code, out, err) = drift(&ws, &["--since", "1.0"]);
    assert_eq!(code, 1, "{out}{err}");
    let body: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        body,
        [
            "staging: 1 changed, 1 added, 1 removed",
            "  ≠ app.replicas: 3 -> 4",
            "  - db.pool: 20",
            "  + feature.beta: yes",
            "prod/eu: no changes",
            "prod/us: no changes",
        ]
    );
    let (code, out, _) = drift(&ws, &["--since", "1.0", "--json"]);
    assert_eq!(code, 1);
    let v = json(&out);
    assert_eq!(v["since"]["release"], "1.0");
    assert_eq!(v["changed"], true);
    assert_eq!(v["columns"][0]["status"], "compared");
    assert_eq!(
        v["columns"][0]["changes"][0],
        serde_json::json!({"key": "app.replicas", "old": "3", "new": "4"})
    );
    // Every run was saved.
    assert_eq!(saved_runs(&ws).len(), 4);

    // A release without a snapshot (one from before its plan had probes, say).
    let run = ws.flightdeck(["run", "1.1"]).output().unwrap();
    assert!(run.status.success());
    std::fs::remove_file(ws.release_dir("1.1").join("drift-start.json")).unwrap();
    let (code, _, err) = drift(&ws, &["--since", "1.1"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("flightdeck: release 1.1 has no drift snapshot ("),
        "{err}"
    );
}

#[test]
fn a_million_keys() {
    // Two probes of 1,000,000 `key=value` lines each; prod's last line changes one of them.
    let lines = "seq 0 999999 | sed 's/.*/key.&=value-&/'";
    let ws = workspace(&format!(
        "[plan]\nname = \"million\"\n\
         [environments.staging]\nprobe = \"{lines}\"\n\
         [environments.prod]\nprobe = \"{lines}; echo key.777777=changed\"\n\
         [[stage]]\nid = \"s\"\nrun = \"true\"\n"
    ));
    let (code, out, err) = drift(&ws, &["--only-diff"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out,
        "KEY         staging (baseline)  prod\n\
         key.777777  value-777777        ≠ changed\n\
         = same as baseline   ≠ differs   ∅ missing   + extra\n\n\
         baseline: staging\nprod: 1 differs\n"
    );
    let saved = saved_runs(&ws);
    assert_eq!(saved.len(), 1);
    assert!(std::fs::metadata(&saved[0]).unwrap().len() > 50_000_000);
}

#[test]
fn a_drift_checklist_item_holds_a_release_until_the_environment_matches_and_snapshots_frame_it() {
    let plan = PLAN.replace(
        "[[stage]]\nid = \"deploy\"\nrun = \"true\"\n",
        r#"[[stage]]
id = "deploy"
gate = "signoff"
run = "true"

[gates.signoff]
checklist = [{ item = "prod matches staging", drift = { env = "prod", baseline = "staging" } }]
"#,
    );
    let ws = workspace(&plan);
    let out = ws.flightdeck(["run", "1.0", "--no-wait"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "paused at the gate: {}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    let finished = ws.events("1.0", "check_finished");
    assert_eq!(finished.len(), 1, "{:?}", ws.kinds("1.0"));
    assert_eq!(
        finished[0]["outcome"], "failed",
        "prod/us drifts: {}",
        finished[0]
    );
    let logs = ws.logs("1.0");
    let check_log = &logs
        .iter()
        .find(|(p, _)| p.to_string_lossy().contains("check.signoff.1"))
        .unwrap()
        .1;
    assert!(
        check_log.contains("db.pool"),
        "the log names the drifting key: {check_log}"
    );
    let starts = ws.events("1.0", "drift_snapshot");
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["at"], "start");
    assert!(ws.release_dir("1.0").join("drift-start.json").is_file());

    // Someone fixes prod/us; re-running the check passes it, and the release goes on.
    std::fs::copy(ws.file("prod-eu.json"), ws.file("prod-us.json")).unwrap();
    ws.expect(["recheck", "1.0", "signoff", "1"], 0);
    let st = ws.wait_for_state("1.0", "succeeded");
    assert_eq!(st["gates"][0]["checklist"][0]["done"], true, "{st}");
    wait_until(DEADLINE, "the end snapshot is journaled", || {
        ws.events("1.0", "drift_snapshot")
            .iter()
            .any(|e| e["at"] == "end")
    });
    assert!(ws.release_dir("1.0").join("drift-end.json").is_file());

    // What changed in each environment since the release started: prod/us's pool.
    let (code, stdout, stderr) = drift(&ws, &["--since", "1.0"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("db.pool") && stdout.contains("10") && stdout.contains("20"),
        "{stdout}"
    );
}

/// Three environments print their database password (a `[plan] secrets` variable each) in
/// key=value, JSON and inside a longer value; an `expect` file holds one too.
const SECRET_PLAN: &str = r#"
[plan]
name = "vault"
secrets = ["STAGING_PW", "PROD_PW", "QA_PW"]

[environments.staging]
probe = "echo \"db.password=$STAGING_PW\"; echo \"db.url=postgres://app:$STAGING_PW@db\"; echo region=x"

[environments.prod]
probe = "printf '{\"db\": {\"password\": \"%s\", \"url\": \"postgres://app:%s@db\"}, \"region\": \"x\"}' \"$PROD_PW\" \"$PROD_PW\""

[environments.qa]
probe = "echo \"db.password=$QA_PW\"; echo \"db.url=postgres://app:$QA_PW@db\"; echo region=x"
expect = "qa.kv"

[drift]
baseline = "staging"

[[stage]]
id = "deploy"
run = "true"
"#;

/// Secrets are compared by their real values: staging and prod hold different passwords (drift,
/// shown `≠ ***`), staging and qa the same one (`=`). No output and no saved run holds a value.
#[test]
fn secrets_that_differ_are_drift_and_stay_masked() {
    let ws = workspace(SECRET_PLAN)
        .env("STAGING_PW", "s3cret-staging")
        .env("PROD_PW", "s3cret-prod-other")
        .env("QA_PW", "s3cret-staging");
    std::fs::write(ws.file("qa.kv"), "db.password=s3cret-prod-other\nregion=x\n").unwrap();
    let secrets = ["s3cret-staging", "s3cret-prod-other"];
    let (code, out, err) = drift(&ws, &["--env", "prod", "--env", "qa"]);
    assert_eq!(code, 1, "{out}{err}");
    for s in secrets {
        assert!(
            !out.contains(s) && !err.contains(s),
            "secret {s} shown:\n{out}{err}"
        );
    }
    let row = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no row {key}:\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Columns: staging (baseline), prod, qa, qa (expected).
    assert_eq!(row("db.password"), "db.password *** ≠ *** = ≠ ***", "{out}");
    assert_eq!(
        row("db.url"),
        "db.url postgres://app:***@db ≠ postgres://app:***@db = ∅",
        "{out}"
    );
    assert_eq!(row("region"), "region x = = =", "{out}");

    let (code, out, err) = drift(&ws, &["--json", "--env", "prod", "--env", "qa"]);
    assert_eq!(code, 1, "{out}{err}");
    let v = json(&out);
    let marks = |key: &str| -> Vec<(String, String)> {
        let row = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no row {key}: {out}"));
        row["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["mark"].as_str().unwrap().to_string(),
                    c["value"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect()
    };
    let pw = marks("db.password");
    let m: Vec<&str> = pw.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(m, ["baseline", "differs", "same", "differs"], "{out}");
    assert!(pw.iter().all(|(_, v)| v == "***"), "{out}");
    assert_eq!(v["summaries"][0]["differs"], 2, "{out}");
    for s in secrets {
        assert!(!out.contains(s), "secret {s} in the JSON:\n{out}");
    }
    let saved = saved_runs(&ws);
    assert_eq!(saved.len(), 2);
    for run in saved {
        let text = std::fs::read_to_string(&run).unwrap();
        assert!(text.contains("***"), "{text}");
        for s in secrets {
            assert!(
                !text.contains(s),
                "secret {s} saved in {}:\n{text}",
                run.display()
            );
        }
    }
}
