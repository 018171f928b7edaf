//! `flightdeck check` through the real binary over the plan fixtures of `tests/fixtures/plans`:
//! good plans exit 0 with the one-line summary; bad plans exit 2 with exactly the problems in their
//! sibling `*.expected` (the file written as `{file}`) on stderr and nothing on stdout.

use crate::common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::{Workspace, plan_fixtures, stderr_of, stdout_of};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `flightdeck check --plan PLAN`, in `dir`, with no plan or data directory from the environment.
fn check(plan: &Path, dir: &Path) -> std::process::Output {
    Command::cargo_bin("flightdeck")
        .unwrap()
        .current_dir(dir)
        .env_remove("FLIGHTDECK_PLAN")
        .env_remove("FLIGHTDECK_DATA_DIR")
        .env("RUST_LIB_BACKTRACE", "0")
        .args(["check", "--plan"])
        .arg(plan)
        .timeout(common::DEADLINE)
        .output()
        .unwrap()
}

/// The summary line `check` prints for a valid plan.
fn assert_valid(plan: &Path, out: &std::process::Output) {
    let stdout = stdout_of(out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {stdout}{}",
        plan.display(),
        stderr_of(out)
    );
    assert_eq!(stderr_of(out), "", "{}", plan.display());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one summary line: {stdout}");
    let prefix = format!("{}: plan `", plan.display());
    assert!(
        lines[0].starts_with(&prefix) && lines[0].contains("` is valid: "),
        "{stdout}"
    );
}

#[test]
fn good_plans_pass_with_a_one_line_summary() {
    let plans = plan_fixtures("good");
    assert!(plans.len() >= 2, "expected good fixtures, found {plans:?}");
    for plan in &plans {
        assert_valid(plan, &check(plan, &root()));
    }
    let full = root().join("tests/fixtures/plans/good/full.toml");
    let out = check(&full, &root());
    assert_eq!(
        stdout_of(&out),
        format!(
            "{}: plan `storefront` is valid: 5 stage(s), 2 environment(s) (3 target(s)), 2 gate(s)\n",
            full.display()
        )
    );
}

#[test]
fn the_example_config_passes_check() {
    let example = root().join("config.example.toml");
    let out = check(&example, &root());
    assert_valid(&example, &out);
    assert!(
        stdout_of(&out).contains("plan `storefront` is valid"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn bad_plans_exit_2_with_exactly_the_expected_problems() {
    let plans = plan_fixtures("bad");
    assert!(plans.len() >= 20, "expected bad fixtures, found {}", plans.len());
    let mut mismatches = Vec::new();
    for plan in &plans {
        let expected_path = plan.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let out = check(plan, &root());
        let name = plan.file_name().unwrap().to_string_lossy();
        if out.status.code() != Some(2) {
            mismatches.push(format!(
                "{name}: exit {:?}, expected 2\n{}",
                out.status.code(),
                stdout_of(&out)
            ));
            continue;
        }
        if !out.stdout.is_empty() {
            mismatches.push(format!("{name}: printed on stdout:\n{}", stdout_of(&out)));
        }
        let actual = stderr_of(&out).replace(&plan.display().to_string(), "{file}");
        if actual != expected {
            mismatches.push(format!("{name}\n--- expected\n{expected}--- actual\n{actual}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn problems_name_the_plan_file_as_it_was_given() {
    let relative = Path::new("tests/fixtures/plans/bad/cycle.toml");
    let out = check(relative, &root());
    assert_eq!(out.status.code(), Some(2));
    let expected = std::fs::read_to_string(root().join(relative).with_extension("expected")).unwrap();
    assert_eq!(
        stderr_of(&out),
        expected.replace("{file}", "tests/fixtures/plans/bad/cycle.toml")
    );
}

#[test]
fn check_finds_flightdeck_toml_in_the_current_directory_or_a_parent() {
    let ws = Workspace::new(
        r#"
[plan]
name = "found"

[[stage]]
id = "hello"
run = "echo hello"
"#,
    );
    let sub = ws.file("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    let out = ws.flightdeck(["check"]).current_dir(&sub).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        format!(
            "{}: plan `found` is valid: 1 stage(s), 0 environment(s) (0 target(s)), 0 gate(s)\n",
            ws.file("flightdeck.toml").display()
        )
    );
}

#[test]
fn check_without_a_plan_is_a_usage_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("flightdeck")
        .unwrap()
        .current_dir(empty.path())
        .env_remove("FLIGHTDECK_PLAN")
        .env("RUST_LIB_BACKTRACE", "0")
        .arg("check")
        .timeout(common::DEADLINE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout_of(&out));
    assert!(
        stderr_of(&out).contains("no flightdeck.toml"),
        "{}",
        stderr_of(&out)
    );
}
