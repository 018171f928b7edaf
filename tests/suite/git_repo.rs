//! The git library over repositories built with git2 in temp dirs: opening (from a plan too),
//! resolving versions, ahead/behind and version drift, release tags in version order, and
//! creating tags.

use crate::git_fixture;

use flightdeck::git::{GitError, Repo, TagPattern};
use git_fixture::TestRepo;
use git2::Oid;

fn open(t: &TestRepo) -> Repo {
    Repo::open_path(t.path(), "v*").expect("open repo")
}

/// main: c0 (v2.3.0, annotated) - c1 (v2.3.1, lightweight) - c2 - c3 (HEAD)
fn history() -> (TestRepo, [Oid; 4]) {
    let mut t = TestRepo::new();
    let c0 = t.commit("feat: zero", "Ada");
    let c1 = t.commit("fix: one", "Ada");
    let c2 = t.commit("fix: two", "Ada");
    let c3 = t.commit("feat: three", "Ada");
    t.tag("v2.3.0", c0);
    t.lightweight("v2.3.1", c1);
    (t, [c0, c1, c2, c3])
}

#[test]
fn versions_resolve_through_tags_versions_and_sha_prefixes() {
    let (t, [c0, c1, c2, _]) = history();
    let repo = open(&t);
    let r = repo.resolve("v2.3.0").expect("annotated tag");
    assert_eq!((r.commit, r.tag.as_deref()), (c0, Some("v2.3.0")));
    assert_eq!(r.short, t.short(c0));
    let r = repo.resolve("v2.3.1").expect("lightweight tag");
    assert_eq!((r.commit, r.tag.as_deref()), (c1, Some("v2.3.1")));
    let r = repo.resolve("2.3.1").expect("version without the prefix");
    assert_eq!((r.commit, r.tag.as_deref()), (c1, Some("v2.3.1")));
    assert_eq!(repo.resolve(" 2.3.0\n").map(|r| r.commit), Some(c0), "trimmed");
    let hex = c2.to_string();
    for len in [4, 7, 12, 40] {
        let r = repo
            .resolve(&hex[..len])
            .unwrap_or_else(|| panic!("sha prefix of {len}"));
        assert_eq!((r.commit, r.tag), (c2, None));
    }
    assert_eq!(repo.resolve(&hex.to_uppercase()).map(|r| r.commit), Some(c2));
}

#[test]
fn unknown_versions_resolve_to_none() {
    let (t, [c0, ..]) = history();
    let repo = open(&t);
    let short3 = &c0.to_string()[..3];
    for unknown in [
        "2.4.0",
        "v9",
        "",
        "   ",
        short3,
        "deadbeefdeadbeef",
        "not a tag",
        "v2.3.0^{tree}",
        "x..y",
    ] {
        assert_eq!(repo.resolve(unknown), None, "{unknown:?}");
    }
    // A tag on something that is not a commit is not a version.
    let blob = t.repo.blob(b"data").unwrap();
    t.lightweight("v3.0.0", blob);
    assert_eq!(repo.resolve("3.0.0"), None);
    assert_eq!(repo.tags().unwrap().len(), 2, "tags on blobs are left out");
}

#[test]
fn ahead_and_behind_both_ways() {
    let (mut t, [c0, c1, _, c3]) = history();
    let side = t.commit_on("hotfix", c1, "fix: hot", "Ada");
    let repo = open(&t);
    assert_eq!(repo.ahead_behind(c3, c0).unwrap(), (3, 0));
    assert_eq!(repo.ahead_behind(c0, c3).unwrap(), (0, 3));
    assert_eq!(repo.ahead_behind(c3, c3).unwrap(), (0, 0));
    assert_eq!(repo.ahead_behind(side, c3).unwrap(), (1, 2));
    assert_eq!(repo.ahead_behind(c3, side).unwrap(), (2, 1));
}

#[test]
fn version_drift_reads_like_a_sentence() {
    let (mut t, [c0, c1, _, c3]) = history();
    let side = t.commit_on("hotfix", c1, "fix: hot", "Ada");
    let repo = open(&t);
    let head = c3.to_string();
    let d = repo.version_drift("prod/eu-west", "2.3.1", "staging", &head);
    assert_eq!(
        d.to_string(),
        format!(
            "prod/eu-west runs v2.3.1 ({}), 2 commits behind staging",
            t.short(c1)
        )
    );
    assert_eq!((d.ahead, d.behind), (Some(0), Some(2)));
    let d = repo.version_drift("staging", &head[..10], "prod", "v2.3.0");
    assert_eq!(
        d.to_string(),
        format!(
            "staging runs {} ({}), 3 commits ahead of prod",
            &head[..10],
            t.short(c3)
        )
    );
    let d = repo.version_drift("prod/us-east", "v2.3.0", "prod/eu-west", "2.3.0");
    assert_eq!(
        d.to_string(),
        format!(
            "prod/us-east runs v2.3.0 ({}), the same commit as prod/eu-west",
            t.short(c0)
        )
    );
    let d = repo.version_drift("canary", &side.to_string()[..7], "staging", &head);
    assert_eq!(
        d.to_string(),
        format!(
            "canary runs {} ({}), 1 commit ahead of and 2 behind staging",
            t.short(side),
            t.short(side)
        )
    );
    let d = repo.version_drift("prod/ap-south", "9.9.9", "staging", &head);
    assert_eq!(d.to_string(), "prod/ap-south runs 9.9.9 (unknown)");
    assert_eq!((d.resolved, d.ahead, d.behind), (None, None, None));
    let d = repo.version_drift("prod", "2.3.0", "staging", "build-77");
    assert_eq!(
        d.to_string(),
        format!(
            "prod runs v2.3.0 ({}), staging runs build-77 (unknown)",
            t.short(c0)
        )
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["resolved"]["commit"], c0.to_string());
    assert_eq!(json["other_resolved"], serde_json::Value::Null);
}

#[test]
fn tags_come_newest_first_by_version() {
    let mut t = TestRepo::new();
    fn commit(t: &mut TestRepo, name: &str) {
        let c = t.commit(&format!("chore: {name}"), "Ada");
        t.tag(name, c);
    }
    // Created in an order where commit time and name order both disagree with versions.
    commit(&mut t, "v1.10.0");
    commit(&mut t, "v1.9.0");
    commit(&mut t, "v2.0.0-rc.1");
    commit(&mut t, "v2.0.0-beta.2");
    commit(&mut t, "v0.9");
    commit(&mut t, "vnext");
    commit(&mut t, "release-5.0.0");
    let repo = open(&t);
    let names: Vec<String> = repo.tags().unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "v2.0.0-rc.1",
            "v2.0.0-beta.2",
            "v1.10.0",
            "v1.9.0",
            "v0.9",
            "vnext"
        ]
    );
    let latest = repo.latest_tag().unwrap().unwrap();
    assert_eq!(
        (latest.name.as_str(), latest.version.as_str()),
        ("v2.0.0-rc.1", "2.0.0-rc.1")
    );

    // Another pattern sees other tags, and versions resolve with its prefix.
    let other = Repo::open_path(t.path(), "release-*").unwrap();
    assert_eq!(
        other.latest_tag().unwrap().map(|t| t.version),
        Some("5.0.0".to_string())
    );
    assert!(other.resolve("5.0.0").is_some());
    assert!(repo.resolve("5.0.0").is_none());
}

#[test]
fn create_tag_makes_an_annotated_tag_and_never_overwrites() {
    let (t, [c0, _, c2, c3]) = history();
    let repo = open(&t);
    let name = repo
        .create_tag("2.4.0", c3, "Release 2.4.0\n\nNotes here.")
        .unwrap();
    assert_eq!(name, "v2.4.0");
    let reference = t.repo.find_reference("refs/tags/v2.4.0").unwrap();
    let tag = reference.peel_to_tag().expect("an annotated tag");
    assert_eq!(tag.target_id(), c3);
    assert_eq!(tag.message().unwrap(), Some("Release 2.4.0\n\nNotes here.\n"));
    let tagger = tag.tagger().unwrap();
    assert_eq!(
        (tagger.name().unwrap(), tagger.email().unwrap()),
        ("Release Bot", "bot@example.com")
    );
    assert_eq!(repo.resolve("2.4.0").map(|r| r.commit), Some(c3));

    // Given with its prefix, the version is not prefixed twice.
    assert_eq!(repo.create_tag("v2.4.1", c3, "Release").unwrap(), "v2.4.1");

    // Existing tags stay where they are, whatever asks.
    for existing in ["2.4.0", "v2.4.0", "2.3.1"] {
        match repo.create_tag(existing, c2, "again") {
            Err(e @ GitError::TagExists { .. }) => {
                assert!(e.to_string().contains("already exists"), "{e}");
                assert!(e.to_string().contains("never moves or overwrites"), "{e}");
            }
            other => panic!("{existing}: expected TagExists, got {other:?}"),
        }
    }
    assert_eq!(repo.resolve("2.4.0").map(|r| r.commit), Some(c3));
    assert_eq!(repo.resolve("2.3.0").map(|r| r.commit), Some(c0));

    assert!(matches!(
        repo.create_tag("2.5 beta", c3, "x"),
        Err(GitError::InvalidTagName(n)) if n == "v2.5 beta"
    ));
}

#[test]
fn tag_patterns_name_tags_and_versions() {
    let p = TagPattern::new("v*");
    assert_eq!((p.prefix(), p.tag_for("1.2.3")), ("v", "v1.2.3".to_string()));
    assert_eq!(p.version_of("v1.2.3"), Some("1.2.3"));
    let p = TagPattern::new("app/v*-stable");
    assert_eq!(p.tag_for("1.0.0"), "app/v1.0.0-stable");
    assert_eq!(p.version_of("app/v1.0.0-stable"), Some("1.0.0"));
    assert!(!p.matches("app/v1.0.0"));
}

#[test]
fn open_finds_the_repository_or_says_there_is_none() {
    let (t, [.., c3]) = history();
    let sub = t.path().join("deploy/plans");
    std::fs::create_dir_all(&sub).unwrap();
    let repo = Repo::open_path(&sub, "v*").expect("discovered from a subdirectory");
    assert_eq!(repo.head().unwrap().commit, c3);

    let empty = tempfile::tempdir().unwrap();
    match Repo::open_path(empty.path(), "v*") {
        Err(e @ GitError::NoRepository(_)) => {
            assert!(e.is_usage());
            assert_eq!(
                e.to_string(),
                format!(
                    "no git repository at or above {} (set `repo` in [plan] to use another one)",
                    empty.path().display()
                )
            );
        }
        other => panic!("expected NoRepository, got {other:?}"),
    }

    let unborn = TestRepo::new();
    let repo = open(&unborn);
    assert!(matches!(repo.head(), Err(GitError::NoCommits(_))));
    assert!(matches!(repo.notes(None), Err(GitError::NoCommits(_))));
}

#[test]
fn a_plan_finds_its_repository() {
    let (t, [.., c3]) = history();
    // The plan lives in a subdirectory of the repository.
    let dir = t.path().join("ops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("flightdeck.toml"),
        "[plan]\nname = \"p\"\n\n[[stage]]\nid = \"s\"\nrun = \"true\"\n",
    )
    .unwrap();
    let plan = flightdeck::plan::load(&dir.join("flightdeck.toml")).unwrap();
    assert_eq!(plan.git.repo, None);
    assert_eq!(Repo::open(&plan).unwrap().head().unwrap().commit, c3);

    // `repo` relative to the plan's directory, and a pattern of its own.
    let elsewhere = tempfile::tempdir().unwrap();
    let text = format!(
        "[plan]\nname = \"p\"\nrepo = \"{}\"\ntag_pattern = \"release-*\"\n\n[[stage]]\nid = \"s\"\nrun = \"true\"\n",
        pathdiff(elsewhere.path(), t.path())
    );
    std::fs::write(elsewhere.path().join("flightdeck.toml"), text).unwrap();
    let plan = flightdeck::plan::load(&elsewhere.path().join("flightdeck.toml")).unwrap();
    let repo = Repo::open(&plan).unwrap();
    assert_eq!(repo.head().unwrap().commit, c3);
    assert_eq!(repo.pattern().glob(), "release-*");
    assert_eq!(
        flightdeck::git::suggest_next(&plan).unwrap().to_string(),
        "0.1.0 minor (first release: no tag matches release-*; 2 features, 2 fixes)"
    );
}

/// `to` relative to `from` (both absolute): `../x/y`.
fn pathdiff(from: &std::path::Path, to: &std::path::Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
