//! Release notes and the next version over repositories built with git2 in temp dirs: grouping of
//! conventional commits, breaking changes (`!` and footers), merges, ranges, the default range's
//! base tag, and the walk against plain graph reachability on a messy history.

use crate::git_fixture;

use std::collections::BTreeSet;

use flightdeck::git::{GitError, Group, Notes, Repo, next_version};
use flightdeck::plan::ReleaseType;
use git_fixture::{START, TestRepo};
use git2::Oid;

fn open(t: &TestRepo) -> Repo {
    Repo::open_path(t.path(), "v*").expect("open repo")
}

fn ids(notes: &Notes) -> BTreeSet<Oid> {
    notes.entries().map(|e| e.commit).collect()
}

#[test]
fn conventional_commits_are_grouped_and_rendered() {
    let mut t = TestRepo::new();
    let c0 = t.commit("chore: initial commit", "Ada Lovelace");
    t.tag("v1.0.0", c0);
    let c1 = t.commit("feat(api): add pagination", "Ada Lovelace");
    let c2 = t.commit("fix: handle empty pages", "Grace Hopper");
    let c3 = t.commit("perf(db): batch inserts", "Ada Lovelace");
    let c4 = t.commit("docs(readme): explain pagination", "Grace Hopper");
    let c5 = t.commit("feat(api)!: drop the v1 endpoints", "Ada Lovelace");
    let c6 = t.commit(
        "refactor: rename the config loader\n\nBREAKING CHANGE: `load` is now `read`.\n",
        "Grace Hopper",
    );
    let c7 = t.commit(
        "fix(ui): keep the cursor\n\nSome context.\n\nBREAKING-CHANGE: the cursor API moved\n",
        "Ada Lovelace",
    );
    let c8 = t.commit("Update the deploy script", "Grace Hopper");
    let c9 = t.commit("Fix: typo in the docs", "Ada Lovelace");
    let c10 = t.commit("WIP: parser", "Grace Hopper");
    let c11 = t.commit("", "Ada Lovelace");

    let notes = open(&t).notes(None).unwrap();
    let s = |o| t.short(o);
    let expected = format!(
        "## Breaking changes\n\n\
         - ui: keep the cursor ({}, Ada Lovelace)\n\
         - rename the config loader ({}, Grace Hopper)\n\
         - api: drop the v1 endpoints ({}, Ada Lovelace)\n\
         \n## Features\n\n\
         - api: add pagination ({}, Ada Lovelace)\n\
         \n## Fixes\n\n\
         - typo in the docs ({}, Ada Lovelace)\n\
         - handle empty pages ({}, Grace Hopper)\n\
         \n## Performance\n\n\
         - db: batch inserts ({}, Ada Lovelace)\n\
         \n## Other\n\n\
         - (no message) ({}, Ada Lovelace)\n\
         - WIP: parser ({}, Grace Hopper)\n\
         - Update the deploy script ({}, Grace Hopper)\n\
         - docs: readme: explain pagination ({}, Grace Hopper)\n",
        s(c7),
        s(c6),
        s(c5),
        s(c1),
        s(c9),
        s(c2),
        s(c3),
        s(c11),
        s(c10),
        s(c8),
        s(c4)
    );
    assert_eq!(notes.markdown(), expected);
    assert_eq!(notes.len(), 11);
    assert_eq!(
        notes.summary(),
        "3 breaking changes, 1 feature, 2 fixes, 1 performance change, 4 other changes"
    );

    // Entries keep their type, scope and time for JSON and the journal.
    let breaking: Vec<_> = notes
        .group(Group::Breaking)
        .iter()
        .map(|e| (e.kind, e.scope.as_deref()))
        .collect();
    assert_eq!(
        breaking,
        [
            (Some("fix"), Some("ui")),
            (Some("refactor"), None),
            (Some("feat"), Some("api"))
        ]
    );
    let json = serde_json::to_value(&notes).unwrap();
    let first = &json["breaking"][2];
    assert_eq!(first["commit"], c5.to_string());
    assert_eq!(first["short"], s(c5));
    assert_eq!(first["type"], "feat");
    assert_eq!(first["scope"], "api");
    assert_eq!(first["subject"], "drop the v1 endpoints");
    assert_eq!(first["breaking"], true);
    assert_eq!(first["author"], "Ada Lovelace");
    assert_eq!(first["time"], "2023-11-14T22:18:20Z"); // START + 5 minutes
    assert_eq!(json["other"][2]["type"], serde_json::Value::Null);
    assert_eq!(json["base"]["tag"], "v1.0.0");
    assert_eq!(json["base"]["commit"], c0.to_string());
    assert_eq!(json["head"]["commit"], c11.to_string());
    assert_eq!(
        notes.entries().map(|e| e.time.timestamp()).max(),
        Some(START + 11 * 60)
    );
}

#[test]
fn merge_commits_are_skipped_and_what_they_bring_in_is_kept() {
    let mut t = TestRepo::new();
    let c0 = t.commit("chore: start", "Ada");
    t.lightweight("v1.0.0", c0);
    let m1 = t.commit("fix: on main", "Ada");
    let f1 = t.commit_on("feature", c0, "feat: feature one", "Grace");
    let f2 = t.commit_on("feature", c0, "feat: feature two", "Grace");
    let merge = t.merge(f2, "Merge branch 'feature'");
    let m2 = t.commit("docs: after the merge", "Ada");

    let notes = open(&t).notes(None).unwrap();
    assert_eq!(ids(&notes), BTreeSet::from([m1, f1, f2, m2]));
    assert!(!ids(&notes).contains(&merge));
    let features: Vec<Oid> = notes.features.iter().map(|e| e.commit).collect();
    assert_eq!(features, [f2, f1], "newest first");
    assert_eq!(notes.base.as_ref().and_then(|b| b.tag.as_deref()), Some("v1.0.0"));
    assert_eq!(notes.head.commit, m2);

    // From the merge's first parent: only what the merge and after brought.
    let notes = open(&t).notes(Some((&m1.to_string()[..8], "HEAD"))).unwrap();
    assert_eq!(ids(&notes), BTreeSet::from([f1, f2, m2]));
}

#[test]
fn the_default_base_is_the_newest_tag_reachable_from_head() {
    let mut t = TestRepo::new();
    let c0 = t.commit("chore: start", "Ada");
    t.tag("v1.0.0", c0);
    let c1 = t.commit("feat: one", "Ada");
    t.tag("v1.1.0", c1);
    let side = t.commit_on("next", c1, "feat!: the big rewrite", "Grace");
    t.tag("v2.0.0", side);
    t.lightweight("nightly", c1); // does not match v*
    let c2 = t.commit("fix: two", "Ada");

    let repo = open(&t);
    assert_eq!(
        repo.latest_tag().unwrap().map(|t| t.name),
        Some("v2.0.0".to_string())
    );
    let notes = repo.notes(None).unwrap();
    let base = notes.base.clone().expect("a base");
    assert_eq!((base.tag.as_deref(), base.commit), (Some("v1.1.0"), c1));
    assert_eq!(ids(&notes), BTreeSet::from([c2]));
    let next = repo.suggest_next().unwrap();
    assert_eq!(next.to_string(), "1.1.1 patch (from v1.1.0: 1 fix)");
}

#[test]
fn a_tag_on_a_merged_branch_is_a_base() {
    let mut t = TestRepo::new();
    let c0 = t.commit("chore: start", "Ada");
    t.tag("v1.0.0", c0);
    let m1 = t.commit("feat: on main", "Ada");
    let f1 = t.commit_on("release-1.1", c0, "fix: on the release branch", "Grace");
    t.tag("v1.1.0", f1);
    t.merge(f1, "Merge branch 'release-1.1'");
    let m2 = t.commit("fix: after", "Ada");
    let notes = open(&t).notes(None).unwrap();
    assert_eq!(notes.base.as_ref().and_then(|b| b.tag.as_deref()), Some("v1.1.0"));
    assert_eq!(ids(&notes), BTreeSet::from([m1, m2]));
    // From a commit before the merge, v1.1.0 is not an ancestor: v1.0.0 is the base.
    let notes = open(&t).notes_for(Some(&format!("..{m1}"))).unwrap();
    assert_eq!(notes.base.as_ref().and_then(|b| b.tag.as_deref()), Some("v1.0.0"));
    assert_eq!(ids(&notes), BTreeSet::from([m1]));
}

#[test]
fn without_tags_the_notes_start_at_the_first_commit() {
    let mut t = TestRepo::new();
    let c0 = t.commit("Initial commit", "Ada");
    let c1 = t.commit("chore: tooling", "Ada");
    let notes = open(&t).notes(None).unwrap();
    assert_eq!(notes.base, None);
    assert_eq!(ids(&notes), BTreeSet::from([c0, c1]));
    assert_eq!(
        notes.markdown(),
        format!(
            "## Other\n\n- chore: tooling ({}, Ada)\n- Initial commit ({}, Ada)\n",
            t.short(c1),
            t.short(c0)
        )
    );
}

#[test]
fn an_empty_range_says_so() {
    let mut t = TestRepo::new();
    let c0 = t.commit("feat: start", "Ada");
    t.tag("v0.1.0", c0);
    let notes = open(&t).notes(None).unwrap();
    assert!(notes.is_empty());
    assert_eq!(notes.markdown(), "No changes since v0.1.0.\n");
    assert_eq!(notes.summary(), "no changes");
}

#[test]
fn ranges_accept_tags_versions_sha_prefixes_and_head() {
    let mut t = TestRepo::new();
    let c0 = t.commit("chore: start", "Ada");
    t.tag("v1.0.0", c0);
    let c1 = t.commit("feat: one", "Ada");
    let c2 = t.commit("fix: two", "Ada");
    let c3 = t.commit("fix: three", "Ada");
    let repo = open(&t);
    let all = BTreeSet::from([c1, c2, c3]);
    for spec in ["v1.0.0..HEAD", "1.0.0..HEAD", "v1.0.0..", "..HEAD", "1.0.0..main"] {
        assert_eq!(ids(&repo.notes_for(Some(spec)).unwrap()), all, "{spec}");
    }
    let short = |o: Oid| o.to_string()[..6].to_string();
    let spec = format!("{}..{}", short(c1), c3);
    assert_eq!(
        ids(&repo.notes_for(Some(&spec)).unwrap()),
        BTreeSet::from([c2, c3])
    );
    assert_eq!(
        ids(&repo.notes_for(Some("v1.0.0..HEAD~1")).unwrap()),
        BTreeSet::from([c1, c2])
    );
    assert_eq!(ids(&repo.notes(Some(("1.0.0", "HEAD"))).unwrap()), all);

    for bad in ["v1.0.0...HEAD", "v1.0.0", ""] {
        assert!(
            matches!(repo.notes_for(Some(bad)), Err(GitError::BadRange(_))),
            "{bad}"
        );
    }
    match repo.notes_for(Some("nope..HEAD")) {
        Err(e @ GitError::UnknownRevision(_)) => {
            assert_eq!(
                e.to_string(),
                "unknown revision `nope`: not a tag, a version, a commit (4+ hex digits) or HEAD"
            );
            assert!(e.is_usage());
        }
        other => panic!("expected an unknown revision, got {other:?}"),
    }
    assert!(matches!(
        repo.notes_for(Some("v1.0.0..v9.9.9")),
        Err(GitError::UnknownRevision(r)) if r == "v9.9.9"
    ));
}

#[test]
fn next_version_follows_the_commits_from_1_0() {
    let mut t = TestRepo::new();
    let c0 = t.commit("feat: start", "Ada");
    t.tag("v1.4.2", c0);
    let next = |t: &TestRepo| {
        let s = open(t).suggest_next().unwrap();
        (s.version.clone(), s.rtype, s.to_string())
    };
    assert_eq!(
        next(&t),
        (
            "1.4.3".into(),
            ReleaseType::Patch,
            "1.4.3 patch (from v1.4.2: no changes)".into()
        )
    );
    t.commit("fix: one", "Ada");
    t.commit("docs: two", "Ada");
    assert_eq!(next(&t).0, "1.4.3");
    t.commit("feat: three", "Ada");
    assert_eq!(
        next(&t),
        (
            "1.5.0".into(),
            ReleaseType::Minor,
            "1.5.0 minor (from v1.4.2: 1 feature, 1 fix, 1 other change)".into()
        )
    );
    t.commit("chore!: drop Python 2", "Ada");
    assert_eq!(next(&t).0, "2.0.0");
    assert_eq!(next(&t).1, ReleaseType::Major);
}

#[test]
fn next_version_below_1_0_bumps_minor_for_breaking_changes() {
    let mut t = TestRepo::new();
    let c0 = t.commit("feat: start", "Ada");
    t.tag("v0.3.1", c0);
    let next = |t: &TestRepo| {
        let s = open(t).suggest_next().unwrap();
        (s.version, s.rtype)
    };
    t.commit("fix: one", "Ada");
    assert_eq!(next(&t), ("0.3.2".into(), ReleaseType::Patch));
    t.commit("feat: two", "Ada");
    assert_eq!(next(&t), ("0.4.0".into(), ReleaseType::Minor));
    t.commit("fix: three\n\nBREAKING CHANGE: new defaults", "Ada");
    assert_eq!(next(&t), ("0.4.0".into(), ReleaseType::Minor));
}

#[test]
fn next_version_without_tags_is_0_1_0() {
    let mut t = TestRepo::new();
    t.commit("feat!: everything", "Ada");
    t.commit("Initial import", "Ada");
    t.lightweight("nightly-2023", t.head().unwrap()); // not a release tag under v*
    let s = open(&t).suggest_next().unwrap();
    assert_eq!(
        (s.version.as_str(), s.rtype, s.from.as_deref()),
        ("0.1.0", ReleaseType::Minor, None)
    );
    assert_eq!(
        s.to_string(),
        "0.1.0 minor (first release: no tag matches v*; 1 breaking change, 1 other change)"
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["version"], "0.1.0");
    assert_eq!(json["type"], "minor");
    assert_eq!(json["from"], serde_json::Value::Null);
    assert_eq!(json["counts"]["breaking"], 1);
}

#[test]
fn next_version_after_a_pre_release_is_its_release() {
    let mut t = TestRepo::new();
    let c0 = t.commit("feat: start", "Ada");
    t.tag("v1.9.0", c0);
    let c1 = t.commit("feat!: new API", "Ada");
    t.tag("v2.0.0-rc.1", c1);
    t.commit("fix: polish", "Ada");
    let s = open(&t).suggest_next().unwrap();
    assert_eq!(s.from.as_deref(), Some("v2.0.0-rc.1"));
    assert_eq!((s.version.as_str(), s.rtype), ("2.0.0", ReleaseType::Major));
}

#[test]
fn next_version_table() {
    let mut t = TestRepo::new();
    let c0 = t.commit("chore: base", "Ada");
    t.tag("v9.9.9", c0);
    t.commit("fix: f", "Ada");
    let fixes = open(&t).notes(None).unwrap();
    t.commit("feat: f", "Ada");
    let features = open(&t).notes(None).unwrap();
    t.commit("perf!: p", "Ada");
    let breaking = open(&t).notes(None).unwrap();
    let empty = open(&t).notes(Some(("HEAD", "HEAD"))).unwrap();
    assert!(empty.is_empty());
    let cases = [
        (Some("1.2.3"), &fixes, "1.2.4", ReleaseType::Patch),
        (Some("1.2.3"), &features, "1.3.0", ReleaseType::Minor),
        (Some("1.2.3"), &breaking, "2.0.0", ReleaseType::Major),
        (Some("0.2.3"), &fixes, "0.2.4", ReleaseType::Patch),
        (Some("0.2.3"), &features, "0.3.0", ReleaseType::Minor),
        (Some("0.2.3"), &breaking, "0.3.0", ReleaseType::Minor),
        (Some("0.0.3"), &breaking, "0.1.0", ReleaseType::Minor),
        (Some("2.3"), &features, "2.4.0", ReleaseType::Minor),
        (Some("v3.1.4"), &empty, "3.1.5", ReleaseType::Patch),
        (Some("1.0.0-rc.2"), &fixes, "1.0.0", ReleaseType::Major),
        (Some("1.4.0-beta"), &breaking, "1.4.0", ReleaseType::Minor),
        (Some("not-a-version"), &features, "0.1.0", ReleaseType::Minor),
        (None, &breaking, "0.1.0", ReleaseType::Minor),
    ];
    for (current, notes, version, rtype) in cases {
        assert_eq!(
            next_version(current, notes),
            (version.to_string(), rtype),
            "{current:?} with {}",
            notes.summary()
        );
    }
}

/// A deterministic xorshift generator: the same messy history on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The walk uses commit dates to stop early (as git does); clocks skewed by minutes or hours must
/// not make it lose or add commits. (On this history git2's own revwalk gets a range wrong.)
#[test]
fn the_walk_finds_exactly_the_commits_of_the_range_on_a_messy_history() {
    let mut t = TestRepo::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let root = t.commit("chore: root", "Ada");
    let mut all = vec![root];
    let mut tips = vec![root];
    let mut clock = START;
    for i in 0..400 {
        clock += 60;
        // Some commits claim a time before their parents (clock skew), a few by hours.
        let skew = match rng.below(10) {
            0 => -(rng.below(120) as i64) * 60,
            1 => -(rng.below(3) as i64) * 3600,
            _ => 0,
        };
        let when = clock + skew;
        let id = match rng.below(10) {
            // A merge of two tips.
            0 | 1 if tips.len() > 1 => {
                let a = rng.below(tips.len() as u64) as usize;
                let mut b = rng.below(tips.len() as u64) as usize;
                if a == b {
                    b = (b + 1) % tips.len();
                }
                let merge = t.commit_at(&[tips[a], tips[b]], &format!("Merge {i}"), "Bot", when, None);
                tips[a] = merge;
                tips.remove(b);
                merge
            }
            // A new branch from any earlier commit.
            2 => {
                let from = all[rng.below(all.len() as u64) as usize];
                let c = t.commit_at(&[from], &format!("feat: branch {i}"), "Ada", when, None);
                tips.push(c);
                c
            }
            _ => {
                let k = rng.below(tips.len() as u64) as usize;
                let c = t.commit_at(&[tips[k]], &format!("fix: change {i}"), "Grace", when, None);
                tips[k] = c;
                c
            }
        };
        all.push(id);
    }
    let repo = open(&t);
    let git = &t.repo;
    // What is reachable, by graph search alone (no dates involved).
    let reachable = |from: Oid| -> BTreeSet<Oid> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(o) = stack.pop() {
            if seen.insert(o) {
                stack.extend(git.find_commit(o).unwrap().parent_ids());
            }
        }
        seen
    };
    let truth = |head: Oid, base: Option<Oid>| -> BTreeSet<Oid> {
        let hidden = base.map(reachable).unwrap_or_default();
        reachable(head)
            .into_iter()
            .filter(|o| !hidden.contains(o) && git.find_commit(*o).unwrap().parent_count() <= 1)
            .collect()
    };
    let resolved = |o: Oid| repo.resolve(&o.to_string()).unwrap();
    let mut compared = 0;
    for _ in 0..60 {
        let head = all[rng.below(all.len() as u64) as usize];
        let base = match rng.below(6) {
            0 => None,
            _ => Some(all[rng.below(all.len() as u64) as usize]),
        };
        let notes = repo.notes_between(base.map(resolved), resolved(head)).unwrap();
        let want = truth(head, base);
        assert_eq!(ids(&notes), want, "{base:?}..{head}");
        assert_eq!(notes.len(), want.len(), "each commit once");
        compared += want.len();
    }
    assert!(
        compared > 500,
        "the ranges should not all be trivial ({compared} commits)"
    );
}
