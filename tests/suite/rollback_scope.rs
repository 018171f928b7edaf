//! End to end: a rollback scoped to targets (one region is broken, the others are fine), the
//! refusal (and `--force`) when a newer release is live where a rollback would undo things, and
//! unknown target names. Rollback commands write a ledger: it proves which ran.

use crate::common;

use common::{Workspace, stderr_of, stdout_of};
use serde_json::Value;

/// build (no environment), staging, prod fanned out to eu and us, and a smoke test on prod
/// without a rollback command.
const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "build"
run = "true"
rollback = "echo rb build {version} >> ledger.txt"

[[stage]]
id = "stage"
needs = ["build"]
environment = "staging"
run = "true"
rollback = "echo rb staging {version} >> ledger.txt"

[[stage]]
id = "prod"
needs = ["stage"]
environment = "prod"
run = "true"
rollback = "echo rb {target} {version} >> ledger.txt"

[[stage]]
id = "smoke"
needs = ["prod"]
environment = "prod"
run = "true"
"#;

/// place -> live version, from `envs --json`.
fn live(ws: &Workspace) -> Vec<(String, Option<String>)> {
    let out = ws.expect(["envs", "--json"], 0);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            let place = match r["target"].as_str() {
                Some(t) => format!("{}/{t}", r["env"].as_str().unwrap()),
                None => r["env"].as_str().unwrap().to_string(),
            };
            (place, r["live"]["version"].as_str().map(str::to_string))
        })
        .collect()
}

fn place(p: &str, v: Option<&str>) -> (String, Option<String>) {
    (p.to_string(), v.map(str::to_string))
}

fn ledger(ws: &Workspace) -> String {
    if ws.exists("ledger.txt") {
        ws.read("ledger.txt")
    } else {
        String::new()
    }
}

#[test]
fn a_rollback_of_one_target_rolls_back_only_its_runs() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    let out = ws.expect(["rollback", "1.1", "--target", "eu"], 0);
    let said = stdout_of(&out);
    assert!(said.contains("accepted"), "{said}");
    assert!(
        said.contains("rolling back 1 run(s)") && said.contains("no rollback command): smoke/eu"),
        "the run without a rollback command is named: {said}"
    );
    let st = ws.wait_for_state("1.1", "partially_rolled_back");
    // Only prod/eu's rollback ran: not build, not staging, not us.
    assert_eq!(ledger(&ws), "rb eu 1.1\n");
    // The journal says which targets were asked for.
    let req = &ws.events("1.1", "rollback_requested")[0];
    assert_eq!(req["targets"], serde_json::json!(["eu"]));
    // Truthful stage statuses: prod still runs 1.1 on us.
    let prod = common::stage(&st, "prod");
    assert_eq!(prod["state"], "succeeded");
    assert_eq!(common::stage(&st, "build")["state"], "succeeded");
    let rollbacks = |t: usize| prod["targets"][t]["rollbacks"].as_array().unwrap().len();
    assert_eq!((rollbacks(0), rollbacks(1)), (1, 0), "{prod}");
    let text = stdout_of(&ws.expect(["status", "1.1"], 0));
    assert!(
        text.contains("partially_rolled_back") && text.contains("2/2 done, rolled back: eu"),
        "{text}"
    );
    // What runs where: eu went back to 1.0, us and staging did not move.
    assert_eq!(
        live(&ws),
        [
            place("staging", Some("1.1")),
            place("prod", None),
            place("prod/eu", Some("1.0")),
            place("prod/us", Some("1.1")),
        ]
    );
    let text = stdout_of(&ws.expect(["envs", "prod", "--history"], 0));
    // After the table's header, the newest first.
    let first = text.lines().nth(1).unwrap_or_default();
    assert!(
        first.contains("1.1") && first.contains("partially rolled back: eu"),
        "{text}"
    );
    // The same target again: nothing left to roll back there (refused by the driver).
    let out = ws.expect(["rollback", "1.1", "--target", "prod/eu"], 1);
    assert!(
        stderr_of(&out).contains("nothing to roll back on prod/eu"),
        "{}",
        stderr_of(&out)
    );
    // The rest of the release, as a whole: us and everything before prod, newest first.
    ws.expect(["rollback", "1.1"], 0);
    ws.wait_for_state("1.1", "rolled_back");
    assert_eq!(
        ledger(&ws),
        "rb eu 1.1\nrb us 1.1\nrb staging 1.1\nrb build 1.1\n"
    );
    assert_eq!(live(&ws)[3], place("prod/us", Some("1.0")));
}

#[test]
fn a_newer_live_release_refuses_the_rollback_unless_forced() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    // Rolling back 1.0 would undo what is no longer there: refused, in one line that names the
    // newer release, where it is live, and how to go ahead anyway.
    let out = ws.expect(["rollback", "1.0"], 1);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for want in ["1.1 is live on", "staging", "prod/eu", "prod/us", "--force"] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(ws.events("1.0", "rollback_requested").is_empty(), "nothing sent");
    // Scoped to one target: only that place is named.
    let out = ws.expect(["rollback", "1.0", "--target", "prod/eu"], 1);
    let err = stderr_of(&out);
    assert!(err.contains("1.1 is live on prod/eu since"), "{err}");
    assert!(!err.contains("prod/us") && !err.contains("staging"), "{err}");
    assert_eq!(ledger(&ws), "");
    // --force: rolled back anyway, only there.
    let out = ws.expect(["rollback", "1.0", "--target", "prod/eu", "--force"], 0);
    assert!(stdout_of(&out).contains("accepted"), "{}", stdout_of(&out));
    ws.wait_for_state("1.0", "partially_rolled_back");
    assert_eq!(ledger(&ws), "rb eu 1.0\n");
    // The journal says what it was forced over (and an unforced request says nothing).
    let asked = ws.events("1.0", "rollback_requested");
    assert_eq!(asked.len(), 1, "{asked:?}");
    let over = asked[0]["forced_over"].as_array().expect("forced_over");
    assert_eq!(over.len(), 1, "{over:?}");
    let over = over[0].as_str().unwrap();
    assert!(over.starts_with("1.1 (1.1) live on prod/eu since "), "{over}");
    // 1.1 is still what runs everywhere: 1.0's rollback finished later, but its deploys are
    // older than 1.1's.
    assert_eq!(
        live(&ws),
        [
            place("staging", Some("1.1")),
            place("prod", Some("1.1")),
            place("prod/eu", Some("1.1")),
            place("prod/us", Some("1.1")),
        ]
    );
}

#[test]
fn an_unknown_target_is_a_usage_error_naming_the_known_ones() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    let out = ws.expect(["rollback", "1.0", "--target", "ap", "--target", "eu"], 2);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("no target `ap`") && err.contains("prod/eu, prod/us"),
        "{err}"
    );
    // Another environment's name for a real target is unknown too.
    let out = ws.expect(["rollback", "1.0", "--target", "staging/eu"], 2);
    assert!(stderr_of(&out).contains("no target `staging/eu`"));
    assert!(ws.events("1.0", "rollback_requested").is_empty());
    assert_eq!(ledger(&ws), "");
}
