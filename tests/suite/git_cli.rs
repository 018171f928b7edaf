//! `flightdeck notes` and `flightdeck next` through the real binary, in workspaces whose git
//! repositories are built with git2.

use crate::common;
use crate::git_fixture;

use assert_cmd::Command;
use common::{Workspace, stderr_of, stdout_of};
use git_fixture::TestRepo;

const PLAN: &str = "[plan]\nname = \"shop\"\n\n[[stage]]\nid = \"build\"\nrun = \"true\"\n";

/// A workspace with `plan`, a git repository in it: `chore: start` tagged v1.0.0 (annotated),
/// then a feature, a fix and a merge of a branch with a breaking change.
fn workspace(plan: &str, tag: &str) -> (Workspace, TestRepo, Vec<git2::Oid>) {
    let ws = Workspace::new(plan);
    let mut t = TestRepo::init(ws.path());
    let c0 = t.commit("chore: start", "Ada Lovelace");
    t.tag(tag, c0);
    let c1 = t.commit("feat(cart): save carts", "Ada Lovelace");
    let c2 = t.commit("fix: rounding of totals", "Grace Hopper");
    let b1 = t.commit_on("api", c0, "refactor(api)!: rename endpoints", "Grace Hopper");
    let m = t.merge(b1, "Merge branch 'api'");
    (ws, t, vec![c0, c1, c2, b1, m])
}

#[track_caller]
fn ok(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout_of(out), stderr_of(out));
    assert_eq!(stderr_of(out), "");
    stdout_of(out)
}

#[track_caller]
fn usage_error(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout_of(out), stderr_of(out));
    assert_eq!(stdout_of(out), "");
    stderr_of(out)
}

#[test]
fn notes_print_markdown_and_json() {
    let (ws, t, c) = workspace(PLAN, "v1.0.0");
    let expected = format!(
        "## Breaking changes\n\n- api: rename endpoints ({}, Grace Hopper)\n\n\
         ## Features\n\n- cart: save carts ({}, Ada Lovelace)\n\n\
         ## Fixes\n\n- rounding of totals ({}, Grace Hopper)\n",
        t.short(c[3]),
        t.short(c[1]),
        t.short(c[2])
    );
    let out = ws.flightdeck(["notes"]).output().unwrap();
    assert_eq!(ok(&out), expected);
    for range in [
        "v1.0.0..HEAD",
        "1.0.0..",
        "..main",
        &format!("{}..HEAD", &c[0].to_string()[..7]),
    ] {
        let out = ws.flightdeck(["notes", range]).output().unwrap();
        assert_eq!(ok(&out), expected, "{range}");
    }

    let out = ws.flightdeck(["notes", "--format", "json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(json["base"]["tag"], "v1.0.0");
    assert_eq!(json["head"]["commit"], c[4].to_string());
    assert_eq!(json["breaking"][0]["type"], "refactor");
    assert_eq!(json["breaking"][0]["scope"], "api");
    assert_eq!(json["features"][0]["subject"], "save carts");
    assert_eq!(json["fixes"][0]["author"], "Grace Hopper");
    assert_eq!(json["other"], serde_json::json!([]));

    // A narrower range.
    let out = ws
        .flightdeck(["notes", &format!("{}..{}", c[1], &c[2].to_string()[..9])])
        .output()
        .unwrap();
    assert_eq!(
        ok(&out),
        format!(
            "## Fixes\n\n- rounding of totals ({}, Grace Hopper)\n",
            t.short(c[2])
        )
    );
}

#[test]
fn notes_reject_unknown_revisions_and_bad_ranges_with_exit_2() {
    let (ws, _t, _) = workspace(PLAN, "v1.0.0");
    let out = ws.flightdeck(["notes", "v9.9.9..HEAD"]).output().unwrap();
    assert_eq!(
        usage_error(&out),
        "flightdeck: unknown revision `v9.9.9`: not a tag, a version, a commit (4+ hex digits) or HEAD\n"
    );
    let out = ws.flightdeck(["notes", "v1.0.0"]).output().unwrap();
    assert_eq!(
        usage_error(&out),
        "flightdeck: bad range `v1.0.0`: expected FROM..TO, FROM.. or ..TO\n"
    );
    let out = ws.flightdeck(["notes", "--format", "html"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("invalid value 'html'"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn notes_and_next_without_a_repository_exit_2() {
    let ws = Workspace::new(PLAN);
    for args in [&["notes"][..], &["next"], &["next", "--json"]] {
        let out = ws.flightdeck(args).output().unwrap();
        let err = usage_error(&out);
        assert!(
            err.starts_with("flightdeck: no git repository at or above ")
                && err.ends_with(" (set `repo` in [plan] to use another one)\n"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn next_prints_the_version_and_why() {
    let (ws, _t, _) = workspace(PLAN, "v1.3.2");
    let out = ws.flightdeck(["next"]).output().unwrap();
    assert_eq!(
        ok(&out),
        "2.0.0 major (from v1.3.2: 1 breaking change, 1 feature, 1 fix)\n"
    );
    let out = ws.flightdeck(["next", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "version": "2.0.0",
            "type": "major",
            "from": "v1.3.2",
            "current": "1.3.2",
            "tag_pattern": "v*",
            "counts": { "breaking": 1, "features": 1, "fixes": 1, "performance": 0, "other": 0 }
        })
    );
}

#[test]
fn next_uses_the_plans_tag_pattern() {
    let plan =
        "[plan]\nname = \"shop\"\ntag_pattern = \"shop-*\"\n\n[[stage]]\nid = \"build\"\nrun = \"true\"\n";
    let (ws, _t, _) = workspace(plan, "shop-0.4.1");
    let out = ws.flightdeck(["next"]).output().unwrap();
    assert_eq!(
        ok(&out),
        "0.5.0 minor (from shop-0.4.1: 1 breaking change, 1 feature, 1 fix)\n"
    );

    // A plan named explicitly must load: no silent fallback to the defaults.
    let out = ws
        .flightdeck(["next", "--plan", "/nonexistent/flightdeck.toml"])
        .output()
        .unwrap();
    assert!(usage_error(&out).contains("/nonexistent/flightdeck.toml"));
}

#[test]
fn without_a_plan_the_current_repository_and_v_tags_are_used() {
    let mut t = TestRepo::new();
    let c0 = t.commit("feat: first", "Ada");
    t.tag("v0.1.0", c0);
    let c1 = t.commit("fix: second", "Ada");
    let run = |args: &[&str]| {
        Command::cargo_bin("flightdeck")
            .unwrap()
            .current_dir(t.path())
            .env_remove("FLIGHTDECK_PLAN")
            .env("RUST_LIB_BACKTRACE", "0")
            .args(args)
            .timeout(common::DEADLINE)
            .output()
            .unwrap()
    };
    assert_eq!(ok(&run(&["next"])), "0.1.1 patch (from v0.1.0: 1 fix)\n");
    assert_eq!(
        ok(&run(&["notes"])),
        format!("## Fixes\n\n- second ({}, Ada)\n", t.short(c1))
    );
}
