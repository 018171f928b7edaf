//! Git repositories for the git tests, built with git2 in temp dirs (never the `git` binary):
//! commits with fixed authors and times (one minute apart, in order of creation unless given),
//! annotated and lightweight tags, branches and merges.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use git2::{Oid, Repository, Signature, Time};

/// The time of the first commit; each later one is a minute later.
pub const START: i64 = 1_700_000_000;

pub struct TestRepo {
    /// The temp dir the repository lives in, when it owns one.
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
    pub repo: Repository,
    clock: i64,
    empty_tree: Oid,
}

impl TestRepo {
    /// An empty repository (branch `main`, identity "Release Bot <bot@example.com>") in a new
    /// temp dir.
    pub fn new() -> TestRepo {
        let dir = tempfile::Builder::new()
            .prefix("flightdeck-git-")
            .tempdir()
            .expect("temp dir");
        let mut t = TestRepo::init(dir.path());
        t._dir = Some(dir);
        t
    }

    /// An empty repository in the existing directory `path`.
    pub fn init(path: &Path) -> TestRepo {
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(path, &opts).expect("git init");
        {
            let mut cfg = repo.config().expect("config");
            cfg.set_str("user.name", "Release Bot").expect("user.name");
            cfg.set_str("user.email", "bot@example.com").expect("user.email");
        }
        let empty_tree = repo
            .treebuilder(None)
            .and_then(|t| t.write())
            .expect("empty tree");
        TestRepo {
            _dir: None,
            path: path.to_path_buf(),
            repo,
            clock: START,
            empty_tree,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next commit time (a minute after the previous one).
    pub fn tick(&mut self) -> i64 {
        let t = self.clock;
        self.clock += 60;
        t
    }

    /// A commit on `main` (HEAD) by `author` (`Name` or `Name <email>`).
    pub fn commit(&mut self, message: &str, author: &str) -> Oid {
        let parents: Vec<Oid> = self.head().into_iter().collect();
        let t = self.tick();
        self.commit_at(&parents, message, author, t, Some("HEAD"))
    }

    /// A commit with these parents at time `t`, updating `refname` when given.
    pub fn commit_at(
        &self,
        parents: &[Oid],
        message: &str,
        author: &str,
        t: i64,
        refname: Option<&str>,
    ) -> Oid {
        let (name, email) = match author.split_once(" <") {
            Some((n, e)) => (n.to_string(), e.trim_end_matches('>').to_string()),
            None => (
                author.to_string(),
                format!("{}@example.com", author.to_lowercase().replace(' ', ".")),
            ),
        };
        let sig = Signature::new(&name, &email, &Time::new(t, 0)).expect("signature");
        let tree = self.repo.find_tree(self.empty_tree).expect("tree");
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).expect("parent"))
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(refname, &sig, &sig, message, &tree, &refs)
            .expect("commit")
    }

    /// A commit on branch `branch` (created at `from` when new).
    pub fn commit_on(&mut self, branch: &str, from: Oid, message: &str, author: &str) -> Oid {
        let refname = format!("refs/heads/{branch}");
        let parent = self.repo.refname_to_id(&refname).unwrap_or(from);
        let t = self.tick();
        self.commit_at(&[parent], message, author, t, Some(&refname))
    }

    /// Merge `other` into `main` (a merge commit with two parents).
    pub fn merge(&mut self, other: Oid, message: &str) -> Oid {
        let head = self.head().expect("HEAD to merge into");
        let t = self.tick();
        self.commit_at(&[head, other], message, "Release Bot", t, Some("HEAD"))
    }

    pub fn head(&self) -> Option<Oid> {
        self.repo.head().ok().and_then(|h| h.target())
    }

    /// An annotated tag.
    pub fn tag(&self, name: &str, target: Oid) -> Oid {
        let object = self.repo.find_object(target, None).expect("target");
        let sig = Signature::new("Release Bot", "bot@example.com", &Time::new(START, 0)).expect("sig");
        self.repo
            .tag(name, &object, &sig, &format!("Release {name}\n"), false)
            .expect("annotated tag")
    }

    /// A lightweight tag.
    pub fn lightweight(&self, name: &str, target: Oid) {
        let object = self.repo.find_object(target, None).expect("target");
        self.repo
            .tag_lightweight(name, &object, false)
            .expect("lightweight tag");
    }

    /// The first 7 hex digits of a commit id.
    pub fn short(&self, oid: Oid) -> String {
        oid.to_string()[..7].to_string()
    }
}
