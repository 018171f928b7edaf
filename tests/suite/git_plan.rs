//! The plan's git fields: `[plan] repo`, `tag_pattern`, `tag_on_success` (defaults, values,
//! paths relative to the plan). Their mistakes are in `tests/fixtures/plans/bad/git*.toml`,
//! checked by `plan_check`.

use std::path::PathBuf;

use flightdeck::plan::{GitConfig, load, load_str};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plans")
        .join(path)
}

#[test]
fn plans_without_git_fields_get_the_defaults() {
    let plan = load(&fixture("good/minimal.toml")).unwrap();
    assert_eq!(plan.git, GitConfig::default());
    assert_eq!(
        (
            plan.git.repo,
            plan.git.tag_pattern.as_str(),
            plan.git.tag_on_success
        ),
        (None, "v*", false)
    );
}

#[test]
fn git_fields_are_read_and_repo_is_relative_to_the_plan() {
    let plan = load(&fixture("good/git.toml")).unwrap();
    assert_eq!(plan.git.repo, Some(fixture("good").join("..")));
    assert_eq!(plan.git.tag_pattern, "release-*");
    assert!(plan.git.tag_on_success);

    let text = "[plan]\nname = \"p\"\nrepo = \"/srv/repo\"\ntag_on_success = false\n\n[[stage]]\nid = \"s\"\nrun = \"true\"\n";
    let plan = load_str(text, &fixture("elsewhere/flightdeck.toml")).unwrap();
    assert_eq!(
        plan.git.repo,
        Some(PathBuf::from("/srv/repo")),
        "absolute paths stay"
    );
    assert_eq!(plan.git.tag_pattern, "v*");
    assert!(!plan.git.tag_on_success);
}
