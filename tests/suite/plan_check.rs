//! Plan loading over the fixtures in `tests/fixtures/plans`:
//! - every `good/*.toml` and `config.example.toml` loads;
//! - every `bad/*.toml` fails with exactly the problems in its sibling `*.expected`, one
//!   `file:line:col: message` per line, the file written as `{file}`.
//!
//! After a deliberate change of messages, `FLIGHTDECK_BLESS=1 cargo test --test suite -- plan_check::` rewrites
//! the `.expected` files; review the diff before committing it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common;

use common::plan_fixtures;
use flightdeck::plan::{OnFailure, PlanError, ReleaseType, Template, Watch, load};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn good_plans_load() {
    let mut plans = plan_fixtures("good");
    assert!(plans.len() >= 2, "expected good fixtures, found {plans:?}");
    plans.push(root().join("config.example.toml"));
    let failures: Vec<String> = plans
        .iter()
        .filter_map(|path| load(path).err().map(|e| format!("{}:\n{e}", path.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "plans that should load:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn bad_plans_report_exactly_the_expected_problems() {
    let plans = plan_fixtures("bad");
    assert!(plans.len() >= 20, "expected bad fixtures, found {}", plans.len());
    let bless = std::env::var_os("FLIGHTDECK_BLESS").is_some();
    let mut mismatches = Vec::new();
    for path in &plans {
        let actual = match load(path) {
            Ok(_) => {
                mismatches.push(format!("{} loaded, but it should not", path.display()));
                continue;
            }
            Err(PlanError::Invalid { problems }) => {
                let file = path.display().to_string();
                problems
                    .iter()
                    .map(|p| p.to_string().replace(&file, "{file}") + "\n")
                    .collect::<String>()
            }
            Err(other) => panic!("{}: {other}", path.display()),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        if actual != expected {
            mismatches.push(format!(
                "{}\n--- expected\n{expected}--- actual\n{actual}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_expected_file_has_its_plan() {
    let dir = root().join("tests/fixtures/plans/bad");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "expected") {
            assert!(
                path.with_extension("toml").is_file(),
                "{} has no .toml",
                path.display()
            );
        }
    }
}

#[test]
fn paths_are_named_as_given_and_resolved_for_the_plan() {
    // Integration tests run in the package root, so these relative paths resolve.
    let relative = Path::new("tests/fixtures/plans/bad/duplicate-id.toml");
    let Err(PlanError::Invalid { problems }) = load(relative) else {
        panic!("duplicate-id.toml should not load");
    };
    assert_eq!(problems[0].file, relative);
    assert_eq!(
        problems[0].to_string(),
        "tests/fixtures/plans/bad/duplicate-id.toml:9:6: duplicate stage id `build` (first defined at line 5)"
    );

    let plan = load(Path::new("tests/fixtures/plans/good/minimal.toml")).unwrap();
    assert_eq!(plan.path, root().join("tests/fixtures/plans/good/minimal.toml"));
    assert_eq!(plan.dir, root().join("tests/fixtures/plans/good"));
}

#[test]
fn a_missing_file_is_an_io_error() {
    let path = root().join("tests/fixtures/plans/does-not-exist.toml");
    assert!(matches!(load(&path), Err(PlanError::Io { .. })));
}

#[test]
fn the_reference_plan_resolves_as_documented() {
    let path = root().join("tests/fixtures/plans/good/full.toml");
    let plan = load(&path).unwrap();
    assert_eq!(plan.path, path);
    assert_eq!(plan.dir, root().join("tests/fixtures/plans/good"));
    assert_eq!(plan.name, "storefront");
    assert_eq!(plan.max_parallel, 8);
    assert_eq!(plan.secrets, ["DEPLOY_TOKEN"]);

    assert_eq!(plan.environments.keys().collect::<Vec<_>>(), ["staging", "prod"]);
    let staging = &plan.environments["staging"];
    assert!(staging.targets.is_empty());
    assert!(!staging.protected);
    assert_eq!(staging.vars["BASE_URL"], "https://staging.example.internal");
    let prod = &plan.environments["prod"];
    assert_eq!(prod.targets, ["eu-west", "us-east", "ap-south"]);
    assert!(prod.protected);

    let ids: Vec<&str> = plan.stages.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["build", "test", "deploy-staging", "deploy-prod", "verify-prod"]
    );
    let build = plan.stage("build").unwrap();
    assert_eq!(build.run, [Template::new("./ops/build.sh {version}")]);
    assert_eq!(build.timeout, Some(Duration::from_secs(600)));
    assert_eq!(
        (build.retries, build.concurrency, build.on_failure),
        (0, 1, OnFailure::Halt)
    );
    assert!(build.needs.is_empty() && build.environment.is_none() && build.rollback.is_empty());
    let test = plan.stage("test").unwrap();
    assert_eq!(test.run.len(), 2);
    assert_eq!(test.retries, 1);
    let deploy = plan.stage("deploy-prod").unwrap();
    assert_eq!(deploy.gates, ["prod-signoff"]);
    assert_eq!(deploy.concurrency, 2);
    assert_eq!(deploy.on_failure, OnFailure::Rollback);
    assert_eq!(
        deploy.rollback,
        [Template::new("./ops/deploy.sh {target} --previous")]
    );
    let verify = plan.stage("verify-prod").unwrap();
    assert_eq!(
        verify.watch,
        Some(Watch {
            every: Duration::from_secs(30),
            window: Duration::from_secs(600)
        })
    );

    assert_eq!(plan.gates.keys().collect::<Vec<_>>(), ["prod-signoff", "cab"]);
    let signoff = &plan.gates["prod-signoff"];
    assert_eq!(signoff.approvals, 2);
    assert_eq!(signoff.required_for, None);
    assert_eq!(signoff.checklist.len(), 3);
    assert_eq!(
        signoff.checklist[2].check,
        Some(Template::new("./ops/error-budget.sh"))
    );
    assert_eq!(signoff.checklist[0].check, None);
    assert_eq!(plan.gates["cab"].required_for, Some(vec![ReleaseType::Major]));
    assert_eq!(plan.gates_for(deploy, ReleaseType::Minor).count(), 1);
}
