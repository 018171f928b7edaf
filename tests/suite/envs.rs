//! End to end: what runs where (`envs`, `envs ENV --history`) after a mix of succeeded, failed
//! and rolled-back releases, compared with expectations written by hand; and the finished-release
//! index those commands read: kept in step when a finished release is rolled back, rebuilt from
//! the journals when it is deleted, never trusted over a journal that grew.

use crate::common;

use common::{Workspace, stdout_of};
use serde_json::Value;

/// staging (one place) and prod (two regions); a deploy fails where a file `fail-<target>-<v>`
/// exists, and prod's failure rolls the release back.
const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "stage"
environment = "staging"
run = "test ! -f fail-staging-{version}"
rollback = "true"

[[stage]]
id = "prod"
needs = ["stage"]
environment = "prod"
run = "test ! -f fail-{target}-{version}"
rollback = "echo rb {target} {version} >> rollbacks.txt"
on_failure = "rollback"
"#;

fn envs(ws: &Workspace) -> Vec<Value> {
    let out = ws.expect(["envs", "--json"], 0);
    serde_json::from_slice(&out.stdout).expect("envs --json prints JSON")
}

/// `(place, live version, previous version, mixed)` for each row.
fn table(rows: &[Value]) -> Vec<(String, Option<String>, Option<String>, bool)> {
    rows.iter()
        .map(|r| {
            let place = match r["target"].as_str() {
                Some(t) => format!("{}/{t}", r["env"].as_str().unwrap()),
                None => r["env"].as_str().unwrap().to_string(),
            };
            let v = |k: &str| r[k]["version"].as_str().map(str::to_string);
            (
                place,
                v("live"),
                v("previous"),
                r["mixed"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn row(
    place: &str,
    live: Option<&str>,
    previous: Option<&str>,
    mixed: bool,
) -> (String, Option<String>, Option<String>, bool) {
    (
        place.to_string(),
        live.map(str::to_string),
        previous.map(str::to_string),
        mixed,
    )
}

fn history(ws: &Workspace, env: &str) -> Vec<(String, String)> {
    let out = ws.expect(["envs", env, "--history", "--json"], 0);
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn envs_and_history_after_succeeded_failed_and_rolled_back_releases() {
    let ws = Workspace::new(PLAN);
    // Nothing released yet: every place is empty.
    assert_eq!(
        table(&envs(&ws)),
        [
            row("staging", None, None, false),
            row("prod", None, None, false),
            row("prod/eu", None, None, false),
            row("prod/us", None, None, false),
        ]
    );
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    // 1.2 fails on prod/us: the whole release is rolled back, staging included.
    ws.touch("fail-us-1.2");
    ws.expect(["run", "1.2"], 1);
    assert_eq!(ws.status("1.2")["state"], "rolled_back");
    // 1.3 fails on staging: it never reaches prod.
    ws.touch("fail-staging-1.3");
    ws.expect(["run", "1.3"], 1);
    assert_eq!(
        table(&envs(&ws)),
        [
            row("staging", Some("1.1"), Some("1.0"), false),
            row("prod", Some("1.1"), Some("1.0"), false),
            row("prod/eu", Some("1.1"), Some("1.0"), false),
            row("prod/us", Some("1.1"), Some("1.0"), false),
        ]
    );
    assert_eq!(
        history(&ws, "prod"),
        [
            ("1.2".to_string(), "rolled back".to_string()),
            ("1.1".to_string(), "succeeded".to_string()),
            ("1.0".to_string(), "succeeded".to_string()),
        ]
    );
    assert_eq!(
        history(&ws, "staging"),
        [
            ("1.3".to_string(), "failed".to_string()),
            ("1.2".to_string(), "rolled back".to_string()),
            ("1.1".to_string(), "succeeded".to_string()),
            ("1.0".to_string(), "succeeded".to_string()),
        ]
    );
    // --limit, and who started it.
    let out = ws.expect(["envs", "prod", "--history", "--limit", "1", "--json"], 0);
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["version"], "1.2");
    assert!(!v[0]["started_by"].as_str().unwrap().is_empty());

    // Rolling back the finished 1.1 puts 1.0 back live on prod: the index follows.
    ws.expect(["rollback", "1.1"], 0);
    ws.wait_for_state("1.1", "rolled_back");
    assert_eq!(
        table(&envs(&ws))[1..],
        [
            row("prod", Some("1.0"), None, false),
            row("prod/eu", Some("1.0"), None, false),
            row("prod/us", Some("1.0"), None, false),
        ]
    );
    // Newest finish first: 1.1's rollback is now the latest thing that happened on prod.
    assert_eq!(
        history(&ws, "prod")[0],
        ("1.1".to_string(), "rolled back".to_string())
    );

    // The text table names every place.
    let text = stdout_of(&ws.expect(["envs"], 0));
    for place in ["staging", "prod", "prod/eu", "prod/us"] {
        assert!(text.contains(place), "{text}");
    }

    // The index deleted: rebuilt from the journals, with the same answers.
    let before = envs(&ws);
    let index = ws.data_dir().join("plans/shop/.index.jsonl");
    assert!(index.is_file());
    std::fs::remove_file(&index).unwrap();
    assert_eq!(envs(&ws), before);
    assert!(index.is_file(), "rebuilt");
    // No release is left marked open once all have finished.
    let open = ws.data_dir().join("plans/shop/.open");
    let marked: Vec<_> = std::fs::read_dir(&open)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(marked.is_empty(), "{marked:?}");
}

#[test]
fn list_shows_the_newest_finished_releases_and_says_when_there_are_more() {
    let ws = Workspace::new(PLAN);
    for v in ["1.0", "1.1", "1.2"] {
        ws.expect(["run", v], 0);
    }
    let out = ws.expect(["list", "--json", "--limit", "2"], 0);
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1.2", "1.1"]);
    let text = stdout_of(&ws.expect(["list", "--limit", "2"], 0));
    assert!(text.contains("older finished releases not shown"), "{text}");
    let out = ws.expect(["list", "--json", "--limit", "0"], 0);
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), 3);
    let text = stdout_of(&ws.expect(["list"], 0));
    assert!(!text.contains("not shown"), "{text}");
}

#[test]
fn a_journal_that_grew_after_it_was_indexed_is_folded_again() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    // An index written by hand with a wrong (stale) entry for 1.1: its journal length differs,
    // so it is not trusted.
    let index = ws.data_dir().join("plans/shop/.index.jsonl");
    let text = std::fs::read_to_string(&index).unwrap();
    let stale: String = text
        .lines()
        .map(|l| {
            if l.contains("\"id\":\"1.1\"") {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v["journal_len"] = 1.into();
                v["version"] = "9.9".into();
                v.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&index, stale).unwrap();
    let rows = table(&envs(&ws));
    assert_eq!(rows[0], row("staging", Some("1.1"), Some("1.0"), false));
}

#[test]
fn unknown_environment_and_history_without_one_are_usage_errors() {
    let ws = Workspace::new(PLAN);
    let out = ws.expect(["envs", "qa"], 2);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("no environment `qa`") && err.contains("staging, prod"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    ws.expect(["envs", "--history"], 2);
}
