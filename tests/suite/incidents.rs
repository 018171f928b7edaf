//! End to end: incidents on the real binary. One opened on prod (its release the one live
//! there), a rollback of that release linked to it, resolved with a note, and `incident list
//! --json` showing the recovery time and the link; `envs` showing open incidents; numbers under
//! concurrency; a tampered incidents journal refused; usage errors.

use crate::common;

use common::{Workspace, stderr_of, stdout_of};
use serde_json::Value;

/// staging (one place) and prod (two regions), every stage with a rollback command.
const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "stage"
environment = "staging"
run = "true"
rollback = "true"

[[stage]]
id = "prod"
needs = ["stage"]
environment = "prod"
run = "true"
rollback = "echo rb {target} {version} >> rollbacks.txt"
"#;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(out)))
}

fn incidents(ws: &Workspace, open: bool) -> Vec<Value> {
    let mut args = vec!["incident", "list", "--json"];
    if open {
        args.push("--open");
    }
    json(&ws.expect(args, 0)).as_array().unwrap().clone()
}

/// The `incident` of each `envs --json` row: (place, number).
fn envs_incidents(ws: &Workspace) -> Vec<(String, Option<u64>)> {
    json(&ws.expect(["envs", "--json"], 0))
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let place = match r["target"].as_str() {
                Some(t) => format!("{}/{t}", r["env"].as_str().unwrap()),
                None => r["env"].as_str().unwrap().to_string(),
            };
            (place, r["incident"]["number"].as_u64())
        })
        .collect()
}

fn incidents_journal(ws: &Workspace) -> std::path::PathBuf {
    ws.data_dir().join("plans/shop/.incidents/incidents.jsonl")
}

#[track_caller]
fn one_line_error(out: &std::process::Output, needle: &str) {
    let err = stderr_of(out);
    assert!(err.contains(needle), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn an_incident_on_prod_linked_to_a_rollback_and_resolved() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    assert_eq!(incidents(&ws, false), Vec::<Value>::new());

    // Opened on prod: the release defaults to the one live there.
    let out = ws.expect(["incident", "open", "--env", "prod", "checkout answers 500"], 0);
    let text = stdout_of(&out);
    assert!(
        text.starts_with("incident #1 opened on prod against release 1.1 by tester"),
        "{text}"
    );
    let all = incidents(&ws, true);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["number"], 1);
    assert_eq!(all[0]["env"], "prod");
    assert_eq!(all[0]["release"], "1.1");
    assert_eq!(all[0]["summary"], "checkout answers 500");
    assert_eq!(all[0]["opened_by"], "tester");
    assert_eq!(all[0]["state"], "open");
    assert!(all[0]["recovery_ms"].is_null());

    // `envs` shows it on prod and its targets, not on staging.
    assert_eq!(
        envs_incidents(&ws),
        [
            ("staging".to_string(), None),
            ("prod".to_string(), Some(1)),
            ("prod/eu".to_string(), Some(1)),
            ("prod/us".to_string(), Some(1)),
        ]
    );
    let text = stdout_of(&ws.expect(["envs"], 0));
    let prod = text
        .lines()
        .find(|l| l.starts_with("! prod"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(prod.contains("#1 checkout answers 500"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("! staging")), "{text}");

    // Rolling back the release links itself to the incident (prod is rolled back).
    let out = ws.expect(["rollback", "1.1"], 0);
    assert!(
        stdout_of(&out).contains("linked to incident #1"),
        "{}",
        stdout_of(&out)
    );
    ws.wait_for_state("1.1", "rolled_back");
    let request = ws.events("1.1", "rollback_requested")[0]["seq"].as_u64().unwrap();

    let out = ws.expect(["incident", "resolve", "1", "--note", "rolled back to 1.0"], 0);
    let text = stdout_of(&out);
    assert!(
        text.contains("incident #1 on prod resolved by tester: recovery took ")
            && text.contains("after the first rollback (release 1.1 by tester)"),
        "{text}"
    );

    let all = incidents(&ws, false);
    let i = &all[0];
    assert_eq!(i["state"], "resolved");
    assert_eq!(i["resolved_by"], "tester");
    assert_eq!(i["note"], "rolled back to 1.0");
    assert_eq!(i["links"].as_array().unwrap().len(), 1);
    assert_eq!(i["links"][0]["release"], "1.1");
    assert_eq!(i["links"][0]["kind"], "rollback");
    assert_eq!(i["links"][0]["request"], request);
    assert_eq!(i["links"][0]["by"], "tester");
    let recovery = i["recovery_ms"].as_i64().unwrap();
    let after_link = i["after_first_link_ms"].as_i64().unwrap();
    assert!(
        recovery >= after_link && after_link >= 0,
        "{recovery} {after_link}"
    );
    let opened: chrono::DateTime<chrono::Utc> = i["opened_at"].as_str().unwrap().parse().unwrap();
    let resolved: chrono::DateTime<chrono::Utc> = i["resolved_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((resolved - opened).num_milliseconds(), recovery);

    // Resolved: no longer open, nowhere shown, not resolved twice.
    assert!(incidents(&ws, true).is_empty());
    assert!(envs_incidents(&ws).iter().all(|(_, n)| n.is_none()));
    let out = ws.expect(["incident", "resolve", "1"], 1);
    one_line_error(&out, "incident #1 was already resolved by tester");
    let out = ws.expect(["incident", "resolve", "7"], 2);
    one_line_error(&out, "no incident #7 (incidents are numbered 1 to 1)");

    // A rollback links only to incidents open on the environments it rolls back: one on
    // staging stays unlinked when only prod is rolled back.
    let out = ws.expect(
        [
            "incident",
            "open",
            "--env",
            "staging",
            "--release",
            "1.0",
            "slow pages",
        ],
        0,
    );
    assert!(stdout_of(&out).contains("incident #2 opened on staging against release 1.0"));
    let out = ws.expect(["rollback", "1.0", "--stage", "prod"], 0);
    assert!(!stdout_of(&out).contains("linked"), "{}", stdout_of(&out));
    ws.wait_for_state("1.0", "rolled_back");
    let open = incidents(&ws, true);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["number"], 2);
    assert_eq!(open[0]["links"], Value::Array(vec![]));

    // The text list names both, and `verify --incidents` checks the chain.
    let text = stdout_of(&ws.expect(["incident", "list"], 0));
    assert!(
        text.contains("#1") && text.contains("resolved") && text.contains("rollback 1.1"),
        "{text}"
    );
    assert!(text.contains("#2") && text.contains("slow pages"), "{text}");
    let text = stdout_of(&ws.expect(["verify", "--incidents"], 0));
    assert!(text.contains("incidents.jsonl: intact (4 lines"), "{text}");
}

#[test]
fn incidents_opened_at_once_get_distinct_numbers() {
    let mut ws = Workspace::new(PLAN);
    let mut bgs: Vec<_> = (0..6)
        .map(|n| {
            let summary = format!("outage {n}");
            ws.spawn(["incident", "open", "--env", "staging", summary.as_str()])
        })
        .collect();
    let mut numbers: Vec<u64> = bgs
        .iter_mut()
        .map(|b| {
            assert_eq!(b.wait(), 0, "{}", b.output());
            let out = b.stdout();
            let n = out
                .strip_prefix("incident #")
                .and_then(|r| r.split(' ').next())
                .unwrap_or_else(|| panic!("{out}"));
            n.parse().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    // No release reached staging: none is named.
    assert!(incidents(&ws, false).iter().all(|i| i["release"].is_null()));
    assert!(
        bgs[0].stdout().contains("(no release is live there)"),
        "{}",
        bgs[0].stdout()
    );
    let text = stdout_of(&ws.expect(["verify", "--incidents"], 0));
    assert!(text.contains("intact (6 lines"), "{text}");
}

#[test]
fn a_tampered_incidents_journal_is_refused_naming_the_file_and_line() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["incident", "open", "--env", "prod", "first"], 0);
    ws.expect(["incident", "open", "--env", "prod", "second"], 0);
    let path = incidents_journal(&ws);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"first\"", "\"FIRST\"")).unwrap();
    let tampered = std::fs::read(&path).unwrap();
    let expected = format!("{}:2:", path.display());
    for args in [
        vec!["incident", "list"],
        vec!["incident", "list", "--json"],
        vec!["incident", "open", "--env", "prod", "third"],
        vec!["incident", "resolve", "1"],
    ] {
        let out = ws.expect(&args, 1);
        one_line_error(&out, &expected);
        assert!(stdout_of(&out).is_empty(), "{args:?}: {}", stdout_of(&out));
    }
    let out = ws.expect(["verify", "--incidents"], 1);
    let text = stdout_of(&out);
    assert!(
        text.starts_with(&format!("{}:1: altered", path.display())),
        "{text}"
    );
    // Nothing was appended to it, nothing "repaired".
    assert_eq!(std::fs::read(&path).unwrap(), tampered);
    // `envs` still answers, saying the incidents journal is broken.
    let out = ws.expect(["envs"], 0);
    one_line_error(&out, &expected);
    // A rollback is never held up by it: it goes ahead with a warning.
    let out = ws.expect(["rollback", "1.0"], 0);
    assert!(
        stderr_of(&out).contains("not linked to the open incidents"),
        "{}",
        stderr_of(&out)
    );
    ws.wait_for_state("1.0", "rolled_back");
    assert_eq!(std::fs::read(&path).unwrap(), tampered);
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    let out = ws.expect(["incident", "open", "--env", "qa", "down"], 2);
    one_line_error(&out, "no environment `qa` in the plan (it has: staging, prod)");
    let out = ws.expect(
        ["incident", "open", "--env", "prod", "--release", "9.9", "down"],
        2,
    );
    one_line_error(&out, "release `9.9` not found for plan `shop`");
    let out = ws.expect(["incident", "open", "--env", "prod", "  "], 2);
    one_line_error(&out, "the summary must not be empty");
    let out = ws.expect(["incident", "open", "--env", "prod", "two\nlines"], 2);
    one_line_error(&out, "control characters");
    let out = ws.expect(["incident", "resolve", "1"], 2);
    one_line_error(&out, "no incident #1 (there are none yet)");
    ws.expect(["incident", "resolve", "one"], 2);
    ws.expect(["incident", "open", "down"], 2);
    ws.expect(["incident"], 2);
    ws.expect(["verify", "--incidents", "1.0"], 2);
    // Nothing was written by any of them.
    assert!(!incidents_journal(&ws).exists());
    let text = stdout_of(&ws.expect(["incident", "list"], 0));
    assert_eq!(text.trim(), "no incidents yet");
    let text = stdout_of(&ws.expect(["verify", "--incidents"], 0));
    assert!(text.contains("no incidents journal yet"), "{text}");
}

#[test]
fn a_redeploy_links_itself_to_the_incident_open_on_its_environment() {
    // The issue's flow: an incident opened, a redeploy linked to it, the incident resolved.
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    let out = ws.expect(["incident", "open", "--env", "prod", "checkout errors"], 0);
    assert!(stdout_of(&out).contains('1'), "{}", stdout_of(&out));
    // An incident on staging is not about what a prod redeploy touches.
    ws.expect(["incident", "open", "--env", "staging", "slow pages"], 0);
    let out = ws.expect(["redeploy", "--env", "prod"], 0);
    assert!(
        stderr_of(&out).contains("linked to incident #1"),
        "{}",
        stderr_of(&out)
    );
    assert!(!stderr_of(&out).contains("#2"), "{}", stderr_of(&out));
    let redeploy = ws.status("latest");
    assert_eq!(redeploy["type"], "rollback");
    ws.expect(["incident", "resolve", "1", "--note", "back on 1.0"], 0);
    let all = incidents(&ws, false);
    let i = all.iter().find(|i| i["number"] == 1).unwrap();
    let links = i["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{i}");
    assert_eq!(links[0]["kind"], "redeploy");
    assert_eq!(links[0]["release"], redeploy["id"]);
    let staging = all.iter().find(|i| i["number"] == 2).unwrap();
    assert_eq!(staging["links"], Value::Array(vec![]));
    // The journal holds it all: verify passes over the incidents journal.
    ws.expect(["verify", "--incidents"], 0);
}
