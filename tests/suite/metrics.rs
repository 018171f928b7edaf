//! End to end: `flightdeck metrics` on real releases of a real plan in a real git repository.
//! One deployment of each kind reaches prod (a success, a failure, one followed by a hotfix,
//! one followed by a redeploy, one rolled back, one an incident names) and one never does; every
//! figure of `--json` is checked against the hand computation below, made from the times the
//! runs journaled (real runs take milliseconds: the commits are dated hours back instead). Then
//! the text table, and usage errors.

use crate::common;
use crate::git_fixture;

use chrono::{DateTime, Utc};
use common::{Workspace, stderr_of, stdout_of};
use git_fixture::TestRepo;
use serde_json::Value;

/// staging, then prod over two regions. prod's deploy fails while the file `fail` exists. The
/// plan never tags, so every release lists every commit since the first: only those no earlier
/// prod deployment shipped count for lead time.
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
run = "test ! -e fail"
rollback = "true"
"#;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_of(out)))
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

/// When release `id`'s runs on prod of `kind` (`deploy` or `rollback`) last finished, in ms.
fn prod_finish(ws: &Workspace, id: &str, kind: &str) -> i64 {
    ws.events(id, "run_finished")
        .iter()
        .filter(|e| e["stage"] == "prod" && e["run_kind"].as_str().unwrap_or("deploy") == kind)
        .map(|e| time(&e["ts"]).timestamp_millis())
        .max()
        .unwrap_or_else(|| panic!("release {id} has no {kind} run on prod: {:?}", ws.kinds(id)))
}

/// The median of sorted values (the mean of the middle two for an even count).
fn median(v: &[i64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

#[track_caller]
fn close(got: &Value, want_ms: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("not a number: {got}"));
    assert!(
        (got - want_ms / 1000.0).abs() < 1e-6,
        "{got} s, expected {} s",
        want_ms / 1000.0
    );
}

/// The sum of `key` over a metric's series.
fn series_sum(metric: &Value, key: &str) -> u64 {
    metric["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[key].as_u64().unwrap())
        .sum()
}

#[test]
fn every_metric_matches_the_hand_computation_from_the_journals() {
    let ws = Workspace::new(PLAN);
    let git = TestRepo::init(ws.path());
    let now = Utc::now().timestamp();
    // A commit on main dated `ago` seconds back; its time.
    let commit = |message: &str, ago: i64| -> i64 {
        let parents: Vec<_> = git.head().into_iter().collect();
        git.commit_at(&parents, message, "Ada Lovelace", now - ago, Some("HEAD"));
        now - ago
    };

    // 1.0 succeeds: ships c1 and c2.
    let c1 = commit("feat: one", 5 * 3600);
    let c2 = commit("feat: two", 4 * 3600);
    ws.expect(["run", "1.0"], 0);
    // 1.1 fails on prod (c3 with it).
    let c3 = commit("feat: three", 3 * 3600);
    ws.touch("fail");
    ws.expect(["run", "1.1"], 1);
    std::fs::remove_file(ws.file("fail")).unwrap();
    // 1.2 succeeds: ships c3 again and c4; c1 and c2 (also listed) were shipped by 1.0.
    let c4 = commit("feat: four", 2 * 3600);
    ws.expect(["run", "1.2"], 0);
    // A hotfix right after: 1.2 failed.
    let c5 = commit("fix: five", 90 * 60);
    ws.expect(["run", "1.2.1", "--type", "hotfix"], 0);
    // 1.3, then a redeploy of prod right after: 1.3 failed.
    let c6 = commit("feat: six", 60 * 60);
    ws.expect(["run", "1.3"], 0);
    ws.expect(["redeploy", "--env", "prod"], 0);
    let redeploy = ws.status("latest")["id"].as_str().unwrap().to_string();
    assert_eq!(ws.status(&redeploy)["type"], "rollback");
    // 1.4 succeeds, then is rolled back.
    let c7 = commit("feat: seven", 45 * 60);
    ws.expect(["run", "1.4"], 0);
    ws.expect(["rollback", "1.4"], 0);
    ws.wait_for_state("1.4", "rolled_back");
    // 1.5 succeeds, then an incident names it, and is resolved.
    let c8 = commit("feat: eight", 30 * 60);
    ws.expect(["run", "1.5"], 0);
    ws.expect(
        [
            "incident",
            "open",
            "--env",
            "prod",
            "--release",
            "1.5",
            "checkout errors",
        ],
        0,
    );
    ws.expect(["incident", "resolve", "1"], 0);
    // 1.6 never reaches prod.
    commit("feat: nine", 15 * 60);
    ws.expect(["run", "1.6", "--only", "stage"], 0);

    // The journals hold the commit ranges: without tags, every commit since the first.
    let listed = |id: &str| {
        ws.events(id, "release_commits")[0]["commits"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        (listed("1.0"), listed("1.2"), listed("1.5"), listed(&redeploy)),
        (2, 4, 8, 0)
    );

    let out = ws.expect(["metrics", "--json"], 0);
    let m = json(&out);
    assert_eq!(m["env"], "prod", "the plan's last environment");
    assert_eq!(m["by"], "week");
    let (from, to) = (time(&m["from"]), time(&m["to"]));
    assert_eq!((to - from).num_days(), 90);

    // Deployment frequency: the releases whose prod runs succeeded: 1.0, 1.2, 1.2.1, 1.3, the
    // redeploy and 1.4 (rolled back later, but deployed) and 1.5 = 7. Not 1.1 (failed there),
    // nor 1.6 (never there). 7 in 90 days: at least monthly, not weekly: medium. Nothing in the
    // 90 days before: up from 0.
    let df = &m["deployment_frequency"];
    assert_eq!(df["deployments"], 7, "{df}");
    assert_eq!(df["band"], "medium");
    assert_eq!(df["trend"], "up");
    assert_eq!(df["previous"]["deployments"], 0);
    assert_eq!(series_sum(df, "deployments"), 7);

    // Lead time: each commit from its time to the prod finish of the first successful
    // deployment shipping it: c1, c2 by 1.0; c3, c4 by 1.2 (1.1 failed); c5 by 1.2.1; c6 by
    // 1.3; c7 by 1.4 (its deploy, before the rollback); c8 by 1.5. 8 commits, about 5h, 4h,
    // 3h, 2h, 1h30, 1h, 45m and 30m: median (2h + 1h30) / 2, p90 the 8th of 8 (nearest rank
    // ⌈0.9 × 8⌉): c1's. Under a day: elite.
    let finish = |id: &str| prod_finish(&ws, id, "deploy");
    let lead = |id: &str, commit_s: i64| (finish(id) - commit_s * 1000).max(0);
    let mut leads = vec![
        lead("1.0", c1),
        lead("1.0", c2),
        lead("1.2", c3),
        lead("1.2", c4),
        lead("1.2.1", c5),
        lead("1.3", c6),
        lead("1.4", c7),
        lead("1.5", c8),
    ];
    leads.sort_unstable();
    let lt = &m["lead_time"];
    assert_eq!(lt["commits"], 8, "{lt}");
    close(&lt["median_seconds"], median(&leads));
    let lt_seconds = lt["median_seconds"].as_f64().unwrap();
    close(&lt["p90_seconds"], leads[7] as f64);
    assert_eq!(lt["band"], "elite");
    assert_eq!(lt["trend"], Value::Null, "nothing to compare with");
    assert_eq!(series_sum(lt, "commits"), 8);

    // Change failure rate: deployments to prod: the 7 above and 1.1 = 8. Failed: 1.1 (failed
    // there), 1.2 (a hotfix followed within 24 h), 1.3 (a redeploy followed), 1.4 (rolled
    // back), 1.5 (an incident names it) = 5. Not 1.0 (followed by 1.1, a minor), 1.2.1
    // (followed by 1.3), the redeploy (followed by 1.4). 5/8 = 62.5% > 15%: low.
    let cfr = &m["change_failure_rate"];
    assert_eq!(
        (cfr["failed"].as_u64(), cfr["total"].as_u64()),
        (Some(5), Some(8)),
        "{cfr}"
    );
    assert_eq!(cfr["rate"], 0.625);
    assert_eq!(cfr["band"], "low");
    assert_eq!(cfr["previous"]["total"], 0);
    assert_eq!(cfr["trend"], Value::Null);
    assert_eq!((series_sum(cfr, "failed"), series_sum(cfr, "total")), (5, 8));

    // Recovery: 1.1 until the next successful prod deployment (1.2); 1.2 until 1.2.1; 1.3
    // until the redeploy; 1.4 from its deploy until its rollback finished on prod; 1.5's
    // incident from opened to resolved. Median: the 3rd of 5. Seconds: elite.
    let incident = &json(&ws.expect(["incident", "list", "--json"], 0))[0];
    let incident_ms =
        time(&incident["resolved_at"]).timestamp_millis() - time(&incident["opened_at"]).timestamp_millis();
    let mut recoveries = vec![
        finish("1.2") - finish("1.1"),
        finish("1.2.1") - finish("1.2"),
        finish(&redeploy) - finish("1.3"),
        prod_finish(&ws, "1.4", "rollback") - finish("1.4"),
        incident_ms,
    ];
    recoveries.sort_unstable();
    let rt = &m["recovery_time"];
    assert_eq!(
        (rt["failures"].as_u64(), rt["recovered"].as_u64()),
        (Some(5), Some(5)),
        "{rt}"
    );
    close(&rt["median_seconds"], median(&recoveries));
    assert_eq!(rt["band"], "elite");

    // Rework: the hotfix 1.2.1 and the redeploy (type rollback) of the 8 deployments = 25%:
    // low (banded like change failure rate).
    let rw = &m["rework_rate"];
    assert_eq!(
        (rw["rework"].as_u64(), rw["total"].as_u64()),
        (Some(2), Some(8)),
        "{rw}"
    );
    assert_eq!(rw["rate"], 0.25);
    assert_eq!(rw["band"], "low");
    assert_eq!((series_sum(rw, "rework"), series_sum(rw, "total")), (2, 8));

    // On staging every release but the redeploy (prod only) deployed: 8, 1.1 and 1.6 too; the
    // 9 commits each count at their first staging deployment (c3 at 1.1's, c9 at 1.6's).
    let s = json(&ws.expect(["metrics", "--json", "--env", "staging", "--by", "day"], 0));
    assert_eq!(s["env"], "staging");
    assert_eq!(s["deployment_frequency"]["deployments"], 8, "{s}");
    assert_eq!(s["deployment_frequency"]["series"].as_array().unwrap().len(), 91);
    assert_eq!(s["lead_time"]["commits"], 9);

    // The text: each figure with its counts, band, trend and sparkline.
    let text = stdout_of(&ws.expect(["metrics"], 0));
    let row = |name: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}:\n{text}"))
            .to_string()
    };
    assert!(text.starts_with("DORA metrics of plan shop on prod: "), "{text}");
    let df = row("deployment frequency");
    assert!(
        df.contains("7 deployments / 90 days") && df.contains("medium"),
        "{df}"
    );
    assert!(df.contains("up from 0") && df.ends_with('█'), "{df}");
    let lt = row("lead time for changes");
    assert!(
        lt.contains("8 commits / 7 deployments") && lt.contains("elite"),
        "{lt}"
    );
    // The median as the table writes it: hours and minutes (about 1h45m).
    let med = lt_seconds.round() as i64;
    let want = format!("median {}h{}m", med / 3600, med % 3600 / 60);
    assert!(lt.contains(&want), "{want}: {lt}");
    let cfr = row("change failure rate");
    assert!(
        cfr.contains("62.5%") && cfr.contains("5 failed / 8 deployments") && cfr.contains("low"),
        "{cfr}"
    );
    let rt = row("failed deployment recovery time");
    assert!(
        rt.contains("5 recovered / 5 failures") && rt.contains("elite"),
        "{rt}"
    );
    let rw = row("rework rate");
    assert!(
        rw.contains("25.0%") && rw.contains("2 rework / 8 deployments") && rw.contains("low"),
        "{rw}"
    );
    // 13 or 14 weekly buckets, the last one holding everything.
    let spark: String = df.chars().filter(|c| "▁▂▃▄▅▆▇█".contains(*c)).collect();
    assert!((13..=14).contains(&spark.chars().count()), "{df}");
    assert!(spark.starts_with("▁▁▁▁▁▁▁▁▁▁▁▁"), "{df}");
}

#[test]
fn a_window_with_nothing_in_it_says_so_without_failing() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    // The 30 days that ended a year ago.
    let to = (Utc::now() - chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    let m = json(&ws.expect(["metrics", "--json", "--to", &to, "--by", "month"], 0));
    assert_eq!(m["deployment_frequency"]["deployments"], 0);
    assert_eq!(m["deployment_frequency"]["band"], "low");
    assert_eq!(m["lead_time"]["median_seconds"], Value::Null);
    assert_eq!(m["change_failure_rate"]["rate"], Value::Null);
    assert_eq!(m["change_failure_rate"]["band"], Value::Null);
    let text = stdout_of(&ws.expect(["metrics", "--to", &to], 0));
    let cfr = text
        .lines()
        .find(|l| l.starts_with("change failure rate"))
        .unwrap();
    assert!(
        cfr.contains("0 failed / 0 deployments") && cfr.contains('·'),
        "{text}"
    );
    // --all: every plan of the store, as an array.
    let all = json(&ws.expect(["metrics", "--json", "--all"], 0));
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["plan"], "shop");
    assert_eq!(all[0]["deployment_frequency"]["deployments"], 1);
}

#[test]
fn bad_window_values_are_one_line_naming_the_flag_with_exit_2() {
    let ws = Workspace::new(PLAN);
    for (args, needle) in [
        (
            vec!["metrics", "--since", "ninety"],
            "--since: bad duration `ninety`",
        ),
        (
            vec!["metrics", "--since", "0d"],
            "--since: bad duration `0d`: it must be longer than 0",
        ),
        (
            vec!["metrics", "--from", "yesterday"],
            "--from: bad date `yesterday`",
        ),
        (
            vec!["metrics", "--from", "2025-02-01", "--to", "2025-01-01"],
            "--from: 2025-02-01T00:00:00Z is not before the window's end",
        ),
        (
            vec!["metrics", "--rework-window", "soon"],
            "--rework-window: bad duration",
        ),
        (
            vec!["metrics", "--env", "moon"],
            "--env: no environment `moon` in the plan",
        ),
    ] {
        let out = ws.expect(&args, 2);
        let err = stderr_of(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
