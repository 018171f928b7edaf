//! Freeze windows on the real binary, with windows seconds long relative to now: a deploy on a
//! frozen environment does not start, the release waits saying why and until when, and goes on
//! by itself when the window ends; a stage already running when a window begins finishes;
//! other environments are not held back. `check` reports bad windows at their place.

use crate::common;

use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use common::{Workspace, stderr_of};

fn plan(from_secs: i64, to_secs: i64, env: &str) -> String {
    let t = |s: i64| (Utc::now() + chrono::Duration::seconds(s)).to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        r#"
[plan]
name = "frozen"

[environments.staging]
[environments.prod]

[[stage]]
id = "stage"
environment = "staging"
run = "sleep 0.5"

[[stage]]
id = "deploy"
needs = ["stage"]
environment = "prod"
run = "touch deployed"

[[freeze]]
environments = ["{env}"]
from = "{}"
to = "{}"
reason = "a drill"
"#,
        t(from_secs),
        t(to_secs)
    )
}

#[test]
fn a_frozen_environment_holds_its_stage_until_the_window_ends() {
    // From before the window is set (a workspace on a shared store takes a moment to make).
    let started = Instant::now();
    let ws = Workspace::new(&plan(-60, 4, "prod"));
    ws.expect(["run", "1.0", "--detach"], 0);
    // staging is not frozen: its stage runs; prod's waits, saying why and until when.
    let ev = ws.wait_for_event("1.0", "stage_waiting", |e| e["stage"] == "deploy");
    let reason = ev["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("waiting: prod frozen until ") && reason.ends_with(" (a drill)"),
        "{reason}"
    );
    assert!(
        ws.events("1.0", "run_started")
            .iter()
            .all(|e| e["run"]["stage"] != "deploy")
    );
    assert!(!ws.exists("deployed"));
    let text = common::stdout_of(&ws.expect(["status", "1.0"], 0));
    assert!(text.contains("prod frozen until"), "{text}");
    // Once the window is over, it goes on by itself.
    ws.wait_for_state("1.0", "succeeded");
    assert!(ws.exists("deployed"));
    assert!(started.elapsed().as_secs_f64() >= 3.0, "{:?}", started.elapsed());
}

#[test]
fn a_stage_running_when_a_window_begins_finishes() {
    // staging's window begins 3 s from now, while its stage (4 s) runs: it finishes, nothing is
    // killed; prod is not frozen.
    let t = |s: i64| (Utc::now() + chrono::Duration::seconds(s)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (begin, end) = (t(3), t(15));
    let text = plan(0, 1, "staging")
        .replace("sleep 0.5", "sleep 4")
        .lines()
        .map(|l| {
            if l.starts_with("from = ") {
                format!("from = \"{begin}\"")
            } else if l.starts_with("to = ") {
                format!("to = \"{end}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let ws = Workspace::new(&text);
    ws.expect(["run", "1.0", "--detach"], 0);
    ws.wait_for_state("1.0", "succeeded");
    let ts = |kind: &str| {
        let e = ws.wait_for_event("1.0", kind, |e| e["stage"] == "stage");
        chrono::DateTime::parse_from_rfc3339(e["ts"].as_str().unwrap()).unwrap()
    };
    let begin = chrono::DateTime::parse_from_rfc3339(&begin).unwrap();
    assert!(
        ts("run_started") < begin,
        "the stage started after the window began"
    );
    assert!(
        ts("stage_succeeded") > begin,
        "the stage ended before the window began"
    );
    assert!(ws.events("1.0", "stage_waiting").is_empty());
    assert!(ws.exists("deployed"));
}

#[test]
fn check_reports_bad_windows_at_their_place() {
    let bad = r#"
[plan]
name = "frozen"

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "true"

[[freeze]]
environments = ["prd"]
cron = "0 16 * * FRIDAY-ish"
duration = "64h"
timezone = "Europe/Berln"
reason = "weekend"

[[freeze]]
environments = ["prod"]
from = "2026-12-20T00:00:00+01:00"
to = "2026-12-19T00:00:00+01:00"
reason = ""

[[freeze]]
environments = ["prod"]
cron = "0 16 * * FRI"
reason = "no duration"
"#;
    let ws = Workspace::new(bad);
    let out = ws.expect(["check"], 2);
    let err = stderr_of(&out);
    for want in [
        "flightdeck.toml:13:17: unknown environment `prd` in freeze 1; did you mean `prod`?",
        "flightdeck.toml:14:8: bad cron expression `0 16 * * FRIDAY-ish`",
        "flightdeck.toml:16:12: unknown time zone `Europe/Berln`",
        "flightdeck.toml:22:6: freeze 2 ends before it starts",
        "flightdeck.toml:23:10: a freeze's reason must not be empty",
        "flightdeck.toml:27:8: freeze 3 has a `cron` but no `duration`",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

#[test]
fn freeze_list_shows_the_window_in_force_and_those_coming() {
    let weekly = r#"
[[freeze]]
environments = ["prod"]
cron = "0 16 * * FRI"
duration = "64h"
timezone = "Europe/Berlin"
reason = "weekend"
"#;
    let ws = Workspace::new(&(plan(-60, 3600, "staging") + weekly));
    let out = ws.expect(["freeze", "list"], 0);
    let text = common::stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("staging  now, until ") && l.ends_with("a drill")),
        "{text}"
    );
    // Four or five weekends begin in the next 30 days (and one may be in force now, whatever
    // day the test runs), each Friday 16:00 to Monday 08:00 Berlin time.
    let weekends: Vec<&&str> = lines.iter().filter(|l| l.ends_with("weekend")).collect();
    assert!((4..=6).contains(&weekends.len()), "{text}");
    assert!(
        weekends
            .iter()
            .all(|l| (l.contains("Fri ") || l.contains("now, until")) && l.contains("until Mon ")),
        "{text}"
    );
    // Sorted by start: what is in force first.
    let v: serde_json::Value =
        serde_json::from_str(&common::stdout_of(&ws.expect(["freeze", "list", "--json"], 0))).unwrap();
    let all = v.as_array().unwrap();
    let drill = all.iter().find(|w| w["reason"] == "a drill").unwrap();
    assert_eq!(drill["active"], true);
    assert_eq!(drill["environments"][0], "staging");
    assert!(
        all.windows(2)
            .all(|w| w[0]["start"].as_str() <= w[1]["start"].as_str())
    );
}

#[test]
fn two_people_override_a_freeze_and_the_stage_proceeds() {
    let text = plan(-60, 3600, "prod").replace(
        "name = \"frozen\"",
        "name = \"frozen\"\nfreeze_override_approvals = 2",
    );
    let ws = Workspace::new(&text);
    ws.expect(["run", "1.0", "--detach"], 0);
    ws.wait_for_event("1.0", "stage_waiting", |e| e["stage"] == "deploy");
    // Whoever started the release cannot override it alone; a reason is required.
    let out = ws.expect(["override-freeze", "1.0", "--reason", "hotfix for an outage"], 1);
    assert!(
        stderr_of(&out).contains("tester started this release: someone else must override the freeze"),
        "{}",
        stderr_of(&out)
    );
    ws.expect(["override-freeze", "1.0", "--reason", " ", "--as", "carol"], 2);
    // One override: not enough yet, and said so.
    let out = ws.expect(
        ["override-freeze", "1.0", "--reason", "outage", "--as", "carol"],
        0,
    );
    let said = common::stdout_of(&out);
    assert!(
        said.contains("prod frozen until") && said.contains("overridden by carol (1/2 needed)"),
        "{said}"
    );
    ws.wait_for_event("1.0", "stage_waiting", |e| {
        e["stage"] == "deploy"
            && e["reason"]
                .as_str()
                .unwrap()
                .ends_with("; overridden by carol (1/2)")
    });
    assert!(!ws.exists("deployed"));
    // The same person again does not count twice (the fold's unit tests show it in full); a
    // second person lets it through.
    let out = ws.expect(
        ["override-freeze", "1.0", "--reason", "outage", "--as", "CAROL"],
        0,
    );
    assert!(
        common::stdout_of(&out).contains("(1/2 needed)"),
        "{}",
        common::stdout_of(&out)
    );
    ws.expect(["override-freeze", "1.0", "--reason", "agreed", "--as", "dan"], 0);
    ws.wait_for_state("1.0", "succeeded");
    assert!(ws.exists("deployed"));
    let overrides = ws.events("1.0", "freeze_overridden");
    assert_eq!(overrides.len(), 3);
    assert_eq!(overrides[2]["reason"], "agreed");
}

#[test]
fn an_ad_hoc_freeze_holds_deploys_until_it_is_removed() {
    // The plan's own window is over already; the ad-hoc freeze is what holds prod.
    let ws = Workspace::new(&plan(-120, -60, "prod"));
    let out = ws.expect(
        [
            "freeze",
            "add",
            "--env",
            "prod",
            "--until",
            "2h",
            "--reason",
            "incident #7 in progress",
        ],
        0,
    );
    let said = common::stdout_of(&out);
    assert!(said.starts_with("freeze #1 on prod until "), "{said}");
    ws.expect(
        ["freeze", "add", "--env", "qa", "--until", "2h", "--reason", "x"],
        2,
    );
    ws.expect(
        [
            "freeze",
            "add",
            "--env",
            "prod",
            "--until",
            "yesterday",
            "--reason",
            "x",
        ],
        2,
    );
    let listed = common::stdout_of(&ws.expect(["freeze", "list"], 0));
    assert!(
        listed.contains("prod  now, until ")
            && listed.contains("incident #7 in progress (ad-hoc freeze #1 by tester)"),
        "{listed}"
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let ev = ws.wait_for_event("1.0", "stage_waiting", |e| e["stage"] == "deploy");
    assert!(
        ev["reason"]
            .as_str()
            .unwrap()
            .contains("(incident #7 in progress (ad-hoc freeze #1 by tester))"),
        "{ev}"
    );
    assert!(!ws.exists("deployed"));
    // Ended early: the deploy goes on by itself.
    let out = ws.expect(["freeze", "remove", "1", "--as", "carol"], 0);
    assert!(common::stdout_of(&out).contains("freeze #1 on prod ended"));
    ws.wait_for_state("1.0", "succeeded");
    assert!(ws.exists("deployed"));
    let out = ws.expect(["freeze", "remove", "1"], 2);
    assert!(
        stderr_of(&out).contains("already ended by carol"),
        "{}",
        stderr_of(&out)
    );
    ws.expect(["freeze", "remove", "9"], 2);
    // The journal is a chained journal like a release's.
    let journal = ws.data_dir().join("plans/frozen/.freezes/freezes.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count(), 2);
}

#[test]
fn a_freezes_journal_that_does_not_chain_holds_every_deploy() {
    let ws = Workspace::new(&plan(-120, -60, "prod"));
    ws.expect(
        [
            "freeze", "add", "--env", "prod", "--until", "1h", "--reason", "careful",
        ],
        0,
    );
    ws.expect(
        [
            "freeze", "add", "--env", "prod", "--until", "1h", "--reason", "second",
        ],
        0,
    );
    // Someone edits the first line: a freeze must not be lost to it.
    let journal = ws.data_dir().join("plans/frozen/.freezes/freezes.jsonl");
    let text = std::fs::read_to_string(&journal)
        .unwrap()
        .replacen("careful", "CAREFUL", 1);
    std::fs::write(&journal, text).unwrap();
    ws.expect(["run", "1.0", "--detach"], 0);
    // Which environments it froze cannot be known any more: every deploy is held, staging's too.
    let ev = ws.wait_for_event("1.0", "stage_waiting", |e| e["stage"] == "stage");
    let reason = ev["reason"].as_str().unwrap();
    assert!(
        reason.contains("staging: deploys are held: ") && reason.contains("freezes.jsonl:2"),
        "{reason}"
    );
    assert!(ws.events("1.0", "run_started").is_empty());
    let out = ws.expect(["freeze", "list"], 1);
    assert!(
        stderr_of(&out).contains("hash chain is broken"),
        "{}",
        stderr_of(&out)
    );
    ws.expect(["cancel", "1.0"], 0);
}
