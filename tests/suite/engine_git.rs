//! A release in a git repository: `run` without a version takes the suggested one, the journal
//! records the commits it ships, stages get `{commit}` and `{notes_file}`, and `tag_on_success`
//! tags the version at the head commit.

use crate::common;
use crate::git_fixture;

use common::{Workspace, stderr_of, stdout_of};
use git_fixture::TestRepo;

const PLAN: &str = r#"
[plan]
name = "shop"
tag_on_success = true

[[stage]]
id = "ship"
run = ["echo commit={commit}", "cat {notes_file}", "echo env=$FLIGHTDECK_COMMIT"]
"#;

#[test]
fn a_release_from_git_takes_the_next_version_records_its_commits_and_tags_on_success() {
    let ws = Workspace::new(PLAN);
    let mut t = TestRepo::init(ws.path());
    let c0 = t.commit("chore: start", "Ada Lovelace");
    t.tag("v1.4.2", c0);
    let c1 = t.commit("feat(cart): save carts", "Ada Lovelace");
    let c2 = t.commit("fix: rounding of totals", "Grace Hopper");

    let out = ws.expect(["run"], 0);
    assert!(
        stderr_of(&out).contains("releasing 1.5.0 minor"),
        "{}",
        stderr_of(&out)
    );

    let commits = ws.events("1.5.0", "release_commits");
    assert_eq!(commits.len(), 1);
    let ev = &commits[0];
    assert_eq!(ev["head"], c2.to_string());
    assert_eq!(ev["base"], c0.to_string());
    assert_eq!(ev["base_tag"], "v1.4.2");
    let shas: Vec<&str> = ev["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap())
        .collect();
    assert_eq!(
        shas,
        [c2.to_string(), c1.to_string()],
        "newest first, the base excluded"
    );
    assert!(
        ev["commits"][0]["time"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-14T"),
        "{ev}"
    );

    let log = ws.log("1.5.0", "ship.1.log");
    assert!(log.contains(&format!("o commit={c2}")), "{log}");
    assert!(log.contains(&format!("o env={c2}")), "{log}");
    assert!(
        log.contains("o ## Features") && log.contains("o - cart: save carts"),
        "{log}"
    );
    let notes = std::fs::read_to_string(ws.release_dir("1.5.0").join("notes.md")).unwrap();
    assert!(notes.contains("- rounding of totals"), "{notes}");

    let tagged = ws.events("1.5.0", "tag_created");
    assert_eq!(tagged.len(), 1, "{:?}", ws.kinds("1.5.0"));
    assert_eq!(tagged[0]["tag"], "v1.5.0");
    let tag = t.repo.revparse_single("v1.5.0").unwrap();
    assert_eq!(tag.peel_to_commit().unwrap().id(), c2);
    assert!(tag.as_tag().is_some(), "an annotated tag");
    // The tag is part of the release: recorded before it finished.
    common::assert_nothing_after_finish(&ws, "1.5.0");
}

#[test]
fn a_failed_release_is_not_tagged_and_a_plan_outside_git_releases_without_commits() {
    let failing = PLAN.replace("\"echo env=$FLIGHTDECK_COMMIT\"", "\"false\"");
    let ws = Workspace::new(&failing);
    let mut t = TestRepo::init(ws.path());
    t.commit("feat: first", "Ada Lovelace");
    ws.expect(["run", "0.1.0"], 1);
    assert!(ws.events("0.1.0", "tag_created").is_empty());
    common::assert_nothing_after_finish(&ws, "0.1.0");
    assert!(
        t.repo.revparse_single("v0.1.0").is_err(),
        "no tag for a failed release"
    );

    // No repository at all: the release runs, {commit} is empty, nothing is recorded.
    let plain =
        Workspace::new("[plan]\nname = \"plain\"\n\n[[stage]]\nid = \"a\"\nrun = \"echo c=[{commit}]\"\n");
    if git2::Repository::discover(plain.path()).is_ok() {
        return; // The temp dir lies inside some repository on this machine: nothing to check.
    }
    plain.expect(["run", "1.0"], 0);
    assert!(plain.events("1.0", "release_commits").is_empty());
    assert!(plain.log("1.0", "a.1.log").contains("o c=[]"));
    let out = plain.flightdeck(["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("no VERSION given"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn drift_shows_which_commit_each_environment_runs_against_the_baseline() {
    let ws = Workspace::new(
        r#"
[plan]
name = "shop"

[environments.staging]
probe = "echo version=2.4.0; echo pool=20"

[environments.prod]
targets = ["eu", "us"]
probe = "if [ {target} = eu ]; then echo version=v2.3.1; else echo version=rc-unknown; fi; echo pool=20"

[environments.canary]
probe = "echo version=2.4.0; echo pool=20"

[[stage]]
id = "a"
run = "true"
"#,
    );
    let mut t = TestRepo::init(ws.path());
    let c1 = t.commit("feat: one", "Ada Lovelace");
    t.tag("v2.3.1", c1);
    t.commit("fix: two", "Ada Lovelace");
    let c3 = t.commit("feat: three", "Ada Lovelace");
    t.tag("v2.4.0", c3);

    let out = ws.flightdeck(["drift"]).output().unwrap();
    let stdout = stdout_of(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "versions differ: {stdout}{}",
        stderr_of(&out)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" runs ")).collect();
    assert_eq!(
        lines,
        [
            format!("prod/eu runs v2.3.1 ({}), 2 commits behind staging", t.short(c1)),
            "prod/us runs rc-unknown (unknown)".to_string(),
            format!("canary runs v2.4.0 ({}), the same commit as staging", t.short(c3)),
        ],
        "{stdout}"
    );
    let out = ws.flightdeck(["drift", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["versions"][0]["behind"], 2, "{v}");
    assert_eq!(v["versions"][0]["ahead"], 0);
    assert_eq!(v["versions"][1]["resolved"], serde_json::Value::Null);
}
