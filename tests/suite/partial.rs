//! End to end: partial releases (`run --only`) and `redeploy [VERSION] --env ENV`, a release of
//! type `rollback` that runs only an environment's stages for an earlier version (by default the
//! previous live release there), on the real binary with real `sh`.

use crate::common;
use crate::git_fixture;

use common::{Workspace, stage, stderr_of, stdout_of};
use git_fixture::TestRepo;
use serde_json::Value;

/// build -> deploy-staging -> smoke -> deploy-prod (prod has two regions). Every stage appends
/// `{version}` (and where it ran) to a ledger file, so a test sees exactly what ran.
const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[environments.qa]

[gates.bigone]
approvals = 1
required_for = ["major"]

[[stage]]
id = "build"
run = "echo {version} >> build.txt"

[[stage]]
id = "deploy-staging"
needs = ["build"]
environment = "staging"
run = "echo {version} >> staging.txt"

[[stage]]
id = "smoke"
needs = ["deploy-staging"]
run = "echo {version} >> smoke.txt"

[[stage]]
id = "deploy-prod"
needs = ["smoke"]
environment = "prod"
gate = "bigone"
run = "echo {version} {target} commit={commit} >> prod.txt"
"#;

fn lines(ws: &Workspace, file: &str) -> Vec<String> {
    if !ws.exists(file) {
        return Vec::new();
    }
    ws.read(file).lines().map(str::to_string).collect()
}

fn stage_ids(st: &Value) -> Vec<String> {
    st["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn live_on(ws: &Workspace, place: &str) -> (Option<String>, Option<String>) {
    let out = ws.expect(["envs", "--json"], 0);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let r = rows
        .iter()
        .find(|r| {
            let p = match r["target"].as_str() {
                Some(t) => format!("{}/{t}", r["env"].as_str().unwrap()),
                None => r["env"].as_str().unwrap().to_string(),
            };
            p == place
        })
        .unwrap_or_else(|| panic!("no row {place}"));
    let v = |k: &str| r[k]["version"].as_str().map(str::to_string);
    (v("live"), v("previous"))
}

#[test]
fn only_runs_the_chosen_stages_in_order_and_is_shown_as_partial() {
    let ws = Workspace::new(PLAN);
    // Chosen out of plan order, with a duplicate: run in the plan's order, once each.
    let out = ws.expect(
        ["run", "1.0", "--only", "deploy-prod,build", "--only", "build"],
        0,
    );
    assert!(
        stdout_of(&out).contains("(minor, partial: build, deploy-prod)"),
        "{}",
        stdout_of(&out)
    );
    assert_eq!(lines(&ws, "build.txt"), ["1.0"]);
    // deploy-prod needs smoke, which needs deploy-staging: not chosen, so met.
    assert!(lines(&ws, "staging.txt").is_empty());
    assert!(lines(&ws, "smoke.txt").is_empty());
    let mut prod = lines(&ws, "prod.txt");
    prod.sort();
    assert_eq!(prod, ["1.0 eu commit=", "1.0 us commit="]);

    // The journal declares the chosen stages only; deploy-prod needs build (through the stages
    // left out), so build ran first.
    let created = &ws.events("1.0", "release_created")[0];
    assert_eq!(created["only"], serde_json::json!(["build", "deploy-prod"]));
    assert_eq!(created["stages"][1]["needs"], serde_json::json!(["build"]));
    let started: Vec<String> = ws
        .events("1.0", "run_started")
        .iter()
        .map(|e| e["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(started[0], "build", "{started:?}");

    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    assert_eq!(st["partial"], true);
    assert_eq!(st["only"], serde_json::json!(["build", "deploy-prod"]));
    assert_eq!(stage_ids(&st), ["build", "deploy-prod"]);
    assert_eq!(stage(&st, "deploy-prod")["state"], "succeeded");
    let text = stdout_of(&ws.expect(["status", "1.0"], 0));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("(minor, partial: build, deploy-prod) succeeded, 2/2 stages"),
        "{text}"
    );
    let list = stdout_of(&ws.expect(["list"], 0));
    assert!(list.contains("partial: build, deploy-prod"), "{list}");
    let hist = stdout_of(&ws.expect(["envs", "prod", "--history"], 0));
    assert!(hist.contains("succeeded (partial: build, deploy-prod)"), "{hist}");
    // Prod is live on 1.0; staging was never reached.
    assert_eq!(live_on(&ws, "prod").0.as_deref(), Some("1.0"));
    assert_eq!(live_on(&ws, "staging").0, None);

    // A whole release is not partial.
    ws.expect(["run", "1.1"], 0);
    let st = ws.status("1.1");
    assert_eq!(st["partial"], false);
    assert_eq!(stage_ids(&st).len(), 4);
    let list = stdout_of(&ws.expect(["list"], 0));
    let line = list.lines().find(|l| l.starts_with("1.1 ")).unwrap();
    assert!(!line.contains("partial"), "{list}");
}

#[test]
fn only_keeps_the_gates_of_its_stages_unless_required_for_excludes_the_type() {
    let ws = Workspace::new(PLAN);
    // A major release: bigone applies to deploy-prod even when only it runs.
    ws.expect(
        [
            "run",
            "2.0",
            "--type",
            "major",
            "--only",
            "deploy-prod",
            "--no-wait",
        ],
        3,
    );
    let st = ws.status("2.0");
    assert_eq!(st["state"], "paused");
    assert_eq!(stage(&st, "deploy-prod")["state"], "waiting_on_gate");
    assert!(lines(&ws, "prod.txt").is_empty());
    ws.expect(["approve", "2.0", "bigone", "--as", "alice"], 0);
    ws.expect(["resume", "2.0"], 0);
    assert_eq!(lines(&ws, "prod.txt").len(), 2);
    // A minor one: bigone is for major releases only.
    ws.expect(["run", "2.1", "--only", "deploy-prod", "--no-wait"], 0);
    assert_eq!(lines(&ws, "prod.txt").len(), 4);
}

#[test]
fn unknown_stages_and_environments_are_usage_errors_naming_the_known_ones() {
    let ws = Workspace::new(PLAN);
    let out = ws.expect(["run", "1.0", "--only", "build,deploy"], 2);
    let err = stderr_of(&out);
    assert!(
        err.contains("no stage `deploy`") && err.contains("build, deploy-staging, smoke, deploy-prod"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Nothing was created.
    ws.expect(["list", "--json"], 0);
    assert_eq!(stdout_of(&ws.expect(["list", "--json"], 0)).trim(), "[]");

    let out = ws.expect(["redeploy", "1.0", "--env", "moon"], 2);
    let err = stderr_of(&out);
    assert!(
        err.contains("no environment `moon`") && err.contains("staging, prod, qa"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // An environment no stage deploys to.
    let out = ws.expect(["redeploy", "1.0", "--env", "qa"], 2);
    assert!(
        stderr_of(&out).contains("no stage of the plan deploys to qa"),
        "{}",
        stderr_of(&out)
    );
    // `rollback` is redeploy's type, not one to choose.
    let out = ws.expect(["run", "1.0", "--type", "rollback"], 2);
    assert!(
        stderr_of(&out).contains("flightdeck redeploy"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn redeploy_finds_the_previous_live_release_and_runs_only_the_environments_stages() {
    let ws = Workspace::new(PLAN);
    // Nothing has been live on prod before: nothing to go back to.
    let out = ws.expect(["redeploy", "--env", "prod"], 1);
    let err = stderr_of(&out);
    assert!(err.contains("no previous live release on prod"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    ws.expect(["run", "1.0"], 0);
    let out = ws.expect(["redeploy", "--env", "prod"], 1);
    assert!(
        stderr_of(&out).contains("no previous live release on prod"),
        "{}",
        stderr_of(&out)
    );
    let list: Vec<Value> = serde_json::from_slice(&ws.expect(["list", "--json"], 0).stdout).unwrap();
    assert_eq!(list.len(), 1, "no release was created");

    ws.expect(["run", "1.1"], 0);
    assert_eq!(live_on(&ws, "prod"), (Some("1.1".into()), Some("1.0".into())));
    let before = |f: &str| lines(&ws, f).len();
    let (b, s, k) = (before("build.txt"), before("staging.txt"), before("smoke.txt"));

    let out = ws.expect(["redeploy", "--env", "prod"], 0);
    assert!(
        stderr_of(&out).contains("redeploying 1.0 to prod: deploy-prod"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stdout_of(&out).contains("release 1.0-2: shop 1.0 (rollback, partial: deploy-prod)"),
        "{}",
        stdout_of(&out)
    );
    // Only prod's stage ran, for 1.0, on both regions.
    assert_eq!(
        (before("build.txt"), before("staging.txt"), before("smoke.txt")),
        (b, s, k)
    );
    let prod = lines(&ws, "prod.txt");
    let mut last: Vec<&str> = prod[prod.len() - 2..].iter().map(String::as_str).collect();
    last.sort();
    assert_eq!(last, ["1.0 eu commit=", "1.0 us commit="]);

    assert!(ws.has_event("1.0-2", "note", |e| e["message"]
        == "redeploy of release 1.0 (1.0)"));
    let st = ws.status("1.0-2");
    assert_eq!(st["type"], "rollback");
    assert_eq!(st["version"], "1.0");
    assert_eq!(st["state"], "succeeded");
    assert_eq!(stage_ids(&st), ["deploy-prod"]);
    // 1.0 is live on prod again (by the redeploy), 1.1 before it; staging keeps 1.1.
    let out = ws.expect(["envs", "--json"], 0);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let prod_row = rows
        .iter()
        .find(|r| r["env"] == "prod" && r["target"].is_null())
        .unwrap();
    assert_eq!(prod_row["live"]["id"], "1.0-2");
    assert_eq!(live_on(&ws, "prod"), (Some("1.0".into()), Some("1.1".into())));
    assert_eq!(live_on(&ws, "prod/us"), (Some("1.0".into()), Some("1.1".into())));
    assert_eq!(live_on(&ws, "staging").0.as_deref(), Some("1.1"));
    let hist = stdout_of(&ws.expect(["envs", "prod", "--history"], 0));
    assert!(
        // The newest, under the table's header.
        hist.lines()
            .nth(1)
            .unwrap()
            .contains("succeeded (rollback; partial: deploy-prod)"),
        "{hist}"
    );
    // And again: the previous live release on prod is now 1.1.
    let out = ws.expect(["redeploy", "--env", "prod", "--detach"], 0);
    assert_eq!(stdout_of(&out).trim(), "1.1-2");
    ws.wait_for_state("1.1-2", "succeeded");
    assert_eq!(live_on(&ws, "prod").0.as_deref(), Some("1.1"));
    // An explicit version.
    ws.expect(["redeploy", "1.0", "--env", "staging"], 0);
    assert_eq!(lines(&ws, "staging.txt").last().map(String::as_str), Some("1.0"));
    assert_eq!(live_on(&ws, "staging"), (Some("1.0".into()), Some("1.1".into())));
}

#[test]
fn a_gate_required_for_rollback_applies_to_redeploys_only() {
    let plan = PLAN.replace(r#"required_for = ["major"]"#, r#"required_for = ["rollback"]"#);
    let ws = Workspace::new(&plan);
    ws.expect(["check"], 0);
    // Releases of other types pass the gate by.
    ws.expect(["run", "1.0", "--no-wait"], 0);
    ws.expect(["run", "1.1", "--no-wait"], 0);
    ws.expect(["redeploy", "--env", "prod", "--no-wait"], 3);
    let st = ws.status("1.0-2");
    assert_eq!(st["state"], "paused");
    assert_eq!(stage(&st, "deploy-prod")["state"], "waiting_on_gate");
    ws.expect(["approve", "1.0-2", "bigone", "--as", "oncall"], 0);
    ws.expect(["resume", "1.0-2"], 0);
    assert_eq!(ws.status("1.0-2")["state"], "succeeded");
    assert_eq!(live_on(&ws, "prod").0.as_deref(), Some("1.0"));
    // A type the plan cannot name is still refused with the list of types.
    let bad = PLAN.replace(r#"required_for = ["major"]"#, r#"required_for = ["rollbak"]"#);
    let ws = Workspace::new(&bad);
    let out = ws.expect(["check"], 2);
    assert!(
        stderr_of(&out).contains("major, minor, patch, hotfix or rollback"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_redeploy_ships_the_commit_of_the_release_it_deploys_again() {
    let ws = Workspace::new(PLAN);
    let mut t = TestRepo::init(ws.path());
    let c1 = t.commit("feat: one", "Ada Lovelace");
    ws.expect(["run", "1.0"], 0);
    let c2 = t.commit("feat: two", "Ada Lovelace");
    ws.expect(["run", "1.1"], 0);
    assert!(
        lines(&ws, "prod.txt")
            .iter()
            .any(|l| l == &format!("1.1 eu commit={c2}"))
    );
    ws.expect(["redeploy", "--env", "prod"], 0);
    let prod = lines(&ws, "prod.txt");
    assert!(
        prod[prod.len() - 2..]
            .iter()
            .all(|l| l.ends_with(&format!("commit={c1}"))),
        "{prod:?}"
    );
    let commits = ws.events("1.0-2", "release_commits");
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0]["head"], c1.to_string());
    assert_eq!(commits[0]["commits"], serde_json::json!([]));
    let out = ws.expect(["envs", "--json"], 0);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let prod_row = rows
        .iter()
        .find(|r| r["env"] == "prod" && r["target"].is_null())
        .unwrap();
    assert_eq!(prod_row["live"]["commit"], c1.to_string());
}
