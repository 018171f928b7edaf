//! Git awareness through git2 (never the `git` binary): versions resolved to commits, how far
//! apart two commits are, release tags, release notes from conventional commits, the next version
//! and tagging a release.
//!
//! Local repositories only: nothing here fetches, pushes or needs the network.
//!
//! ```no_run
//! # fn demo(plan: &flightdeck::plan::Plan) -> Result<(), flightdeck::git::GitError> {
//! use flightdeck::git::Repo;
//! let repo = Repo::open(plan)?;
//! let notes = repo.notes(None)?; // newest release tag .. HEAD
//! print!("{}", notes.markdown());
//! let next = repo.suggest_next()?;
//! println!("{next}"); // 2.4.0 minor (from v2.3.1: 3 features, 5 fixes)
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use git2::{ErrorCode, Oid, Repository};
use serde::{Serialize, Serializer};

mod walk;

use crate::plan::{GitConfig, Plan, ReleaseType};

/// Length of the abbreviated commit ids shown to people.
pub const SHORT_LEN: usize = 7;

/// The tagger used when the repository has no `user.name`/`user.email`.
const FALLBACK_TAGGER: (&str, &str) = ("flightdeck", "flightdeck@localhost");

/// What can go wrong with git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No repository at or above the path.
    #[error(
        "no git repository at or above {} (set `repo` in [plan] to use another one)",
        .0.display()
    )]
    NoRepository(PathBuf),
    /// The repository exists but cannot be opened (permissions, ownership, corruption).
    #[error("cannot open the git repository at {}: {}", .path.display(), .source.message())]
    Open {
        /// Where the repository was looked for.
        path: PathBuf,
        /// What libgit2 said.
        source: git2::Error,
    },
    /// HEAD points to a branch without commits.
    #[error("the git repository at {} has no commits yet", .0.display())]
    NoCommits(PathBuf),
    /// A range endpoint that is not a tag, a version, a commit or a revision git understands.
    #[error("unknown revision `{0}`: not a tag, a version, a commit (4+ hex digits) or HEAD")]
    UnknownRevision(String),
    /// A range that is not `FROM..TO`.
    #[error("bad range `{0}`: expected FROM..TO, FROM.. or ..TO")]
    BadRange(String),
    /// The tag to create exists already; flightdeck never moves a tag.
    #[error("tag `{name}` already exists (at {short}); flightdeck never moves or overwrites a tag")]
    TagExists {
        /// The tag's name (`v2.4.0`).
        name: String,
        /// The commit it points to, abbreviated.
        short: String,
    },
    /// The version does not make a valid tag name.
    #[error("`{0}` is not a valid git tag name")]
    InvalidTagName(String),
    /// Anything else libgit2 reports (an unreadable object, a broken reference...).
    #[error("git: {}", .0.message())]
    Git(#[from] git2::Error),
}

impl GitError {
    /// Whether the error is about what was asked (no repository, unknown revision, bad range,
    /// existing tag), rather than a broken repository.
    pub fn is_usage(&self) -> bool {
        !matches!(self, GitError::Open { .. } | GitError::Git(_))
    }
}

// ---------------------------------------------------------------------------------------------
// Tag patterns and versions

/// A glob on tag names where `*` matches any text, like `v*`. The literal text before the first
/// `*` is the prefix versions may omit, the text after the last `*` a suffix they may omit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPattern {
    glob: String,
    prefix_len: usize,
    suffix_len: usize,
}

impl TagPattern {
    /// A pattern from its glob; a glob without `*` gets one appended (`v` means `v*`).
    pub fn new(glob: &str) -> TagPattern {
        let glob = if glob.contains('*') {
            glob.to_string()
        } else {
            format!("{glob}*")
        };
        let prefix_len = glob.find('*').unwrap_or(glob.len());
        let suffix_len = glob.len() - glob.rfind('*').map_or(glob.len(), |i| i + 1);
        TagPattern {
            glob,
            prefix_len,
            suffix_len,
        }
    }

    /// The glob as given (`v*`).
    pub fn glob(&self) -> &str {
        &self.glob
    }

    /// The literal text before the first `*` (`v`).
    pub fn prefix(&self) -> &str {
        &self.glob[..self.prefix_len]
    }

    fn suffix(&self) -> &str {
        &self.glob[self.glob.len() - self.suffix_len..]
    }

    /// Whether a tag name matches the glob.
    pub fn matches(&self, name: &str) -> bool {
        glob_match(self.glob.as_bytes(), name.as_bytes())
    }

    /// The version a matching tag stands for: its name without the prefix and suffix
    /// (`v2.3.1` -> `2.3.1`). `None` when the tag does not match.
    pub fn version_of<'a>(&self, tag: &'a str) -> Option<&'a str> {
        if !self.matches(tag) || tag.len() < self.prefix_len + self.suffix_len {
            return None;
        }
        Some(&tag[self.prefix_len..tag.len() - self.suffix_len])
    }

    /// The tag name for a version: the version itself when it already matches (`v2.4.0`), else
    /// prefix + version + suffix (`2.4.0` -> `v2.4.0`).
    pub fn tag_for(&self, version: &str) -> String {
        if self.matches(version)
            && self
                .version_of(version)
                .is_some_and(|v| Version::parse(v).is_some())
        {
            return version.to_string();
        }
        format!("{}{version}{}", self.prefix(), self.suffix())
    }
}

impl Default for TagPattern {
    fn default() -> Self {
        TagPattern::new(GitConfig::DEFAULT_TAG_PATTERN)
    }
}

/// `*` matches any run of bytes (including none); every other byte matches itself.
fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    let (mut g, mut t) = (0, 0);
    // Where to resume after the last `*`: (glob index after it, text index it has taken up to).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && glob[g] == b'*' {
            star = Some((g + 1, t));
            g += 1;
        } else if g < glob.len() && glob[g] == text[t] {
            g += 1;
            t += 1;
        } else if let Some((sg, st)) = star {
            g = sg;
            t = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&b| b == b'*')
}

/// A version compared the semver way, leniently: dot-separated numbers (any count, missing ones
/// are 0, an optional leading `v`), an optional pre-release after `-` (which sorts before the
/// release), build metadata after `+` ignored.
#[derive(Debug, Clone)]
pub struct Version {
    /// The numeric components (at least one).
    pub numbers: Vec<u64>,
    /// The pre-release, without its `-`.
    pub pre: Option<String>,
}

impl Version {
    /// `None` when `text` does not start with a number (after an optional `v`).
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let text = text.split_once('+').map_or(text, |(v, _build)| v);
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) if !pre.is_empty() => (core, Some(pre.to_string())),
            Some(_) => return None,
            None => (text, None),
        };
        let numbers = core
            .split('.')
            .map(|n| {
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                n.parse::<u64>().ok()
            })
            .collect::<Option<Vec<u64>>>()?;
        Some(Version { numbers, pre })
    }

    /// Major, minor and patch (missing ones are 0).
    pub fn triple(&self) -> [u64; 3] {
        let n = |i: usize| self.numbers.get(i).copied().unwrap_or(0);
        [n(0), n(1), n(2)]
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.numbers.len().max(other.numbers.len());
        for i in 0..len {
            let a = self.numbers.get(i).copied().unwrap_or(0);
            let b = other.numbers.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => compare_pre(a, b),
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semver pre-release order: dot-separated identifiers, numeric ones by value and below
/// alphanumeric ones, a shorter list first when it is a prefix of the other.
fn compare_pre(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// A version, tag or revision resolved to a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The commit (tags are peeled).
    #[serde(serialize_with = "hex_oid")]
    pub commit: Oid,
    /// The commit's first 7 hex digits.
    pub short: String,
    /// The tag it was resolved through, if any.
    pub tag: Option<String>,
}

impl Resolved {
    fn new(commit: Oid, tag: Option<String>) -> Resolved {
        Resolved {
            commit,
            short: short_id(commit),
            tag,
        }
    }

    /// The tag when there is one, else the short commit id.
    pub fn label(&self) -> &str {
        self.tag.as_deref().unwrap_or(&self.short)
    }
}

/// A tag matching the plan's pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// The tag's name (`v2.3.1`).
    pub name: String,
    /// The name without the pattern's prefix and suffix (`2.3.1`).
    pub version: String,
    /// The commit it points to (annotated tags peeled).
    #[serde(serialize_with = "hex_oid")]
    pub commit: Oid,
    /// The commit's time.
    pub time: DateTime<Utc>,
}

/// One commit of the release notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The commit's id.
    #[serde(serialize_with = "hex_oid")]
    pub commit: Oid,
    /// The commit's first 7 hex digits.
    pub short: String,
    /// The conventional-commit type, lower case (`feat`, `refactor`...); `None` for a subject
    /// that is not a conventional commit.
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    /// The conventional-commit scope (`api` in `feat(api): ...`).
    pub scope: Option<String>,
    /// The subject without `type(scope)!: ` (the whole subject when not conventional).
    pub subject: String,
    /// `!` after the type, or a `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer.
    pub breaking: bool,
    /// The author's name.
    pub author: String,
    /// The commit (committer) time.
    pub time: DateTime<Utc>,
}

impl Entry {
    /// Which section of the notes this entry belongs to.
    pub fn group(&self) -> Group {
        if self.breaking {
            return Group::Breaking;
        }
        match self.kind {
            Some("feat" | "feature") => Group::Features,
            Some("fix") => Group::Fixes,
            Some("perf") => Group::Performance,
            _ => Group::Other,
        }
    }

    /// The line shown in the notes: `scope: subject`; in "other", conventional entries keep
    /// their type (`docs: readme: subject`).
    pub fn title(&self) -> String {
        let mut out = String::with_capacity(self.subject.len() + 24);
        self.write_title(&mut out);
        out
    }

    fn write_title(&self, out: &mut String) {
        if let Some(kind) = self.kind
            && self.group() == Group::Other
        {
            out.push_str(kind);
            out.push_str(": ");
        }
        if let Some(scope) = &self.scope {
            out.push_str(scope);
            out.push_str(": ");
        }
        if self.subject.is_empty() {
            out.push_str("(no message)");
        } else {
            out.push_str(&self.subject);
        }
    }
}

/// The sections of the notes, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// `!` after the type or a breaking-change footer, whatever the type.
    Breaking,
    /// `feat` (or `feature`).
    Features,
    /// `fix`.
    Fixes,
    /// `perf`.
    Performance,
    /// Every other type, and subjects that are not conventional commits.
    Other,
}

impl Group {
    /// Every group, in display order.
    pub const ALL: [Group; 5] = [
        Group::Breaking,
        Group::Features,
        Group::Fixes,
        Group::Performance,
        Group::Other,
    ];

    /// The section heading (`Breaking changes`).
    pub fn title(self) -> &'static str {
        match self {
            Group::Breaking => "Breaking changes",
            Group::Features => "Features",
            Group::Fixes => "Fixes",
            Group::Performance => "Performance",
            Group::Other => "Other",
        }
    }

    /// `3 features`, `1 breaking change`...
    fn count(self, n: usize) -> String {
        let (one, many) = match self {
            Group::Breaking => ("breaking change", "breaking changes"),
            Group::Features => ("feature", "features"),
            Group::Fixes => ("fix", "fixes"),
            Group::Performance => ("performance change", "performance changes"),
            Group::Other => ("other change", "other changes"),
        };
        format!("{n} {}", if n == 1 { one } else { many })
    }
}

/// Release notes over a range of commits, merges left out, grouped for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notes {
    /// Where the range starts (excluded): the newest release tag by default; `None` when the
    /// range starts at the first commit.
    pub base: Option<Resolved>,
    /// Where the range ends (included): HEAD by default.
    pub head: Resolved,
    /// Commits with `!` or a breaking footer, whatever their type.
    pub breaking: Vec<Entry>,
    /// `feat`.
    pub features: Vec<Entry>,
    /// `fix`.
    pub fixes: Vec<Entry>,
    /// `perf`.
    pub performance: Vec<Entry>,
    /// Every other type, and subjects that are not conventional commits.
    pub other: Vec<Entry>,
}

impl Notes {
    fn empty(base: Option<Resolved>, head: Resolved) -> Notes {
        Notes {
            base,
            head,
            breaking: Vec::new(),
            features: Vec::new(),
            fixes: Vec::new(),
            performance: Vec::new(),
            other: Vec::new(),
        }
    }

    fn from_entries(base: Option<Resolved>, head: Resolved, entries: Vec<Entry>) -> Notes {
        let mut notes = Notes::empty(base, head);
        for e in entries {
            notes.push(e);
        }
        notes
    }

    fn push(&mut self, entry: Entry) {
        match entry.group() {
            Group::Breaking => self.breaking.push(entry),
            Group::Features => self.features.push(entry),
            Group::Fixes => self.fixes.push(entry),
            Group::Performance => self.performance.push(entry),
            Group::Other => self.other.push(entry),
        }
    }

    /// A group's entries, newest first.
    pub fn group(&self, group: Group) -> &[Entry] {
        match group {
            Group::Breaking => &self.breaking,
            Group::Features => &self.features,
            Group::Fixes => &self.fixes,
            Group::Performance => &self.performance,
            Group::Other => &self.other,
        }
    }

    /// Every entry, group by group (each group newest first).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        Group::ALL.into_iter().flat_map(|g| self.group(g).iter())
    }

    /// How many commits the notes hold (merges are not counted).
    pub fn len(&self) -> usize {
        Group::ALL.iter().map(|&g| self.group(g).len()).sum()
    }

    /// Whether the range has no commits besides merges.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The release type these commits call for: major for a breaking change, minor for a
    /// feature, else patch (before 1.0 see [`next_version`]).
    pub fn bump(&self) -> ReleaseType {
        if !self.breaking.is_empty() {
            ReleaseType::Major
        } else if !self.features.is_empty() {
            ReleaseType::Minor
        } else {
            ReleaseType::Patch
        }
    }

    /// `3 features, 5 fixes` (non-empty groups only), or `no changes`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = Group::ALL
            .iter()
            .filter(|&&g| !self.group(g).is_empty())
            .map(|&g| g.count(self.group(g).len()))
            .collect();
        if parts.is_empty() {
            "no changes".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The notes as Markdown: a `## Heading` per non-empty group, `- subject (abc1234, Author)`
    /// per commit.
    pub fn markdown(&self) -> String {
        let mut out = String::with_capacity(self.len() * 80 + 64);
        for group in Group::ALL {
            let entries = self.group(group);
            if entries.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = writeln!(out, "## {}\n", group.title());
            for e in entries {
                out.push_str("- ");
                e.write_title(&mut out);
                let _ = writeln!(out, " ({}, {})", e.short, e.author);
            }
        }
        if out.is_empty() {
            match &self.base {
                Some(base) => {
                    let _ = writeln!(out, "No changes since {}.", base.label());
                }
                None => out.push_str("No changes.\n"),
            }
        }
        out
    }
}

/// A suggested next release: version, type, and the notes it was derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The version to release (`2.4.0`), without the tag prefix.
    pub version: String,
    /// The release type the commits call for.
    #[serde(rename = "type")]
    pub rtype: ReleaseType,
    /// The release tag the notes start from (`v2.3.1`); `None` for a first release.
    pub from: Option<String>,
    /// That tag's version (`2.3.1`).
    pub current: Option<String>,
    /// The tag pattern in use (`v*`).
    pub tag_pattern: String,
    /// Commits per group.
    pub counts: Counts,
    /// The commits since `from`.
    #[serde(skip)]
    pub notes: Notes,
}

/// How many commits each group of the notes has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Breaking changes.
    pub breaking: usize,
    /// Features.
    pub features: usize,
    /// Fixes.
    pub fixes: usize,
    /// Performance changes.
    pub performance: usize,
    /// Everything else.
    pub other: usize,
}

impl fmt::Display for Suggestion {
    /// `2.4.0 minor (from v2.3.1: 3 features, 5 fixes)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            Some(tag) => write!(
                f,
                "{} {} (from {tag}: {})",
                self.version,
                self.rtype,
                self.notes.summary()
            ),
            None => write!(
                f,
                "{} {} (first release: no tag matches {}; {})",
                self.version,
                self.rtype,
                self.tag_pattern,
                self.notes.summary()
            ),
        }
    }
}

/// Where one environment's version stands against another's (version drift).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionDrift {
    /// Who runs it (`prod/eu-west`).
    pub who: String,
    /// The version as reported.
    pub version: String,
    /// `None`: unknown to this repository.
    pub resolved: Option<Resolved>,
    /// What it is compared to (`staging`).
    pub other: String,
    /// The version `other` reports.
    pub other_version: String,
    /// `None`: unknown to this repository.
    pub other_resolved: Option<Resolved>,
    /// Commits `who` has that `other` does not; `None` when either side is unknown.
    pub ahead: Option<usize>,
    /// Commits `other` has that `who` does not.
    pub behind: Option<usize>,
}

impl fmt::Display for VersionDrift {
    /// `prod/eu-west runs v2.3.1 (a1b2c3d), 14 commits behind staging`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(mine) = &self.resolved else {
            return write!(f, "{} runs {} (unknown)", self.who, self.version);
        };
        let shown = mine.tag.as_deref().unwrap_or(&self.version);
        write!(f, "{} runs {shown} ({})", self.who, mine.short)?;
        let other = &self.other;
        match (self.ahead, self.behind) {
            _ if self.other_resolved.is_none() => {
                write!(f, ", {other} runs {} (unknown)", self.other_version)
            }
            (Some(0), Some(0)) => write!(f, ", the same commit as {other}"),
            (Some(0), Some(b)) => write!(f, ", {} behind {other}", commits(b)),
            (Some(a), Some(0)) => write!(f, ", {} ahead of {other}", commits(a)),
            (Some(a), Some(b)) => write!(f, ", {} ahead of and {b} behind {other}", commits(a)),
            _ => write!(f, ", not comparable with {other}"),
        }
    }
}

fn commits(n: usize) -> String {
    format!("{n} commit{}", if n == 1 { "" } else { "s" })
}

// ---------------------------------------------------------------------------------------------
// The repository

/// A local git repository with the plan's tag pattern.
///
/// Opening one sets two process-wide libgit2 options, once: the object cache is off (flightdeck
/// reads each object once, so the cache only costs: storing every commit, then freeing them all)
/// and objects are not re-hashed on every read (git does not do that either).
pub struct Repo {
    repo: Repository,
    pattern: TagPattern,
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repo")
            .field("path", &self.repo.path())
            .field("pattern", &self.pattern.glob)
            .finish()
    }
}

impl Repo {
    /// The plan's repository: `[plan] repo`, else the repository containing the plan file.
    pub fn open(plan: &Plan) -> Result<Repo, GitError> {
        let at = plan.git.repo.as_deref().unwrap_or(&plan.dir);
        Repo::open_path(at, &plan.git.tag_pattern)
    }

    /// The repository at or above `path`, with a tag pattern like `v*`.
    pub fn open_path(path: &Path, tag_pattern: &str) -> Result<Repo, GitError> {
        static TUNED: std::sync::Once = std::sync::Once::new();
        TUNED.call_once(|| {
            git2::opts::enable_caching(false);
            git2::opts::strict_hash_verification(false);
        });
        let repo = Repository::discover(path).map_err(|e| match e.code() {
            ErrorCode::NotFound => GitError::NoRepository(path.to_path_buf()),
            _ => GitError::Open {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        Ok(Repo {
            repo,
            pattern: TagPattern::new(tag_pattern),
        })
    }

    /// The underlying git2 repository.
    pub fn git2(&self) -> &Repository {
        &self.repo
    }

    /// The tag pattern in use.
    pub fn pattern(&self) -> &TagPattern {
        &self.pattern
    }

    /// The working directory (the `.git` directory for a bare repository).
    pub fn path(&self) -> &Path {
        self.repo.workdir().unwrap_or_else(|| self.repo.path())
    }

    /// The commit HEAD points to.
    pub fn head(&self) -> Result<Resolved, GitError> {
        let head = self.repo.head().map_err(|e| match e.code() {
            ErrorCode::UnbornBranch | ErrorCode::NotFound => GitError::NoCommits(self.path().to_path_buf()),
            _ => GitError::Git(e),
        })?;
        Ok(Resolved::new(head.peel_to_commit()?.id(), None))
    }

    /// A version to its commit: a tag name as given (`v2.3.1`, annotated or lightweight), the
    /// pattern's prefix + the version (`2.3.1` -> `v2.3.1`), or a commit id prefix of at least 4
    /// hex digits. `None` when nothing (or more than one commit) matches: an unknown version is
    /// shown as unknown, never an error.
    pub fn resolve(&self, version: &str) -> Option<Resolved> {
        let version = version.trim();
        if version.is_empty() {
            return None;
        }
        let tagged = self.pattern.tag_for(version);
        for name in [version, tagged.as_str()] {
            if let Some(commit) = self.tag_commit(name) {
                return Some(Resolved::new(commit, Some(name.to_string())));
            }
        }
        if version.len() >= 4 && version.len() <= 40 && version.bytes().all(|b| b.is_ascii_hexdigit()) {
            let object = self.repo.find_object_by_prefix(version, None).ok()?;
            return Some(Resolved::new(object.peel_to_commit().ok()?.id(), None));
        }
        None
    }

    /// The commit a tag points to, peeled; `None` when there is no such tag or it is not on a
    /// commit.
    fn tag_commit(&self, name: &str) -> Option<Oid> {
        let full = format!("refs/tags/{name}");
        if !git2::Reference::is_valid_name(&full) {
            return None;
        }
        let reference = self.repo.find_reference(&full).ok()?;
        reference.peel_to_commit().ok().map(|c| c.id())
    }

    /// A range endpoint: what [`Repo::resolve`] accepts, or any revision git understands
    /// (`HEAD`, a branch, `HEAD~3`).
    pub fn resolve_rev(&self, rev: &str) -> Result<Resolved, GitError> {
        if let Some(r) = self.resolve(rev) {
            return Ok(r);
        }
        if rev.trim() == "HEAD" {
            return self.head();
        }
        let object = self
            .repo
            .revparse_single(rev.trim())
            .map_err(|_| GitError::UnknownRevision(rev.to_string()))?;
        let commit = object
            .peel_to_commit()
            .map_err(|_| GitError::UnknownRevision(rev.to_string()))?;
        Ok(Resolved::new(commit.id(), None))
    }

    /// `(ahead, behind)`: commits `a` has that `b` does not, and the other way round.
    pub fn ahead_behind(&self, a: Oid, b: Oid) -> Result<(usize, usize), GitError> {
        Ok(self.repo.graph_ahead_behind(a, b)?)
    }

    /// `who` running `version` compared to `other` running `other_version`: resolved, and how
    /// many commits apart. Unresolvable versions are reported as unknown, never as errors.
    pub fn version_drift(&self, who: &str, version: &str, other: &str, other_version: &str) -> VersionDrift {
        let resolved = self.resolve(version);
        let other_resolved = self.resolve(other_version);
        let counts = match (&resolved, &other_resolved) {
            (Some(a), Some(b)) => self.ahead_behind(a.commit, b.commit).ok(),
            _ => None,
        };
        VersionDrift {
            who: who.to_string(),
            version: version.to_string(),
            resolved,
            other: other.to_string(),
            other_version: other_version.to_string(),
            other_resolved,
            ahead: counts.map(|c| c.0),
            behind: counts.map(|c| c.1),
        }
    }

    /// The tags matching the pattern, newest first: by version (the part after the prefix, see
    /// [`Version`]); tags that are not versions come after all that are; ties by commit time,
    /// then name. Tags not on a commit are left out.
    pub fn tags(&self) -> Result<Vec<Tag>, GitError> {
        let mut found: Vec<(String, Oid)> = Vec::new();
        self.repo.tag_foreach(|oid, name| {
            if let Some(name) = std::str::from_utf8(name)
                .ok()
                .and_then(|n| n.strip_prefix("refs/tags/"))
                && self.pattern.matches(name)
            {
                found.push((name.to_string(), oid));
            }
            true
        })?;
        let mut tags: Vec<(Option<Version>, Tag)> = Vec::with_capacity(found.len());
        for (name, oid) in found {
            let Ok(commit) = self.repo.find_object(oid, None).and_then(|o| o.peel_to_commit()) else {
                continue;
            };
            let version = self.pattern.version_of(&name).unwrap_or("").to_string();
            let tag = Tag {
                time: to_utc(commit.time().seconds()),
                commit: commit.id(),
                version,
                name,
            };
            tags.push((Version::parse(&tag.version), tag));
        }
        tags.sort_by(|(va, a), (vb, b)| {
            vb.cmp(va)
                .then_with(|| b.time.cmp(&a.time))
                .then_with(|| b.name.cmp(&a.name))
        });
        Ok(tags.into_iter().map(|(_, t)| t).collect())
    }

    /// The newest tag matching the pattern (see [`Repo::tags`] for the order).
    pub fn latest_tag(&self) -> Result<Option<Tag>, GitError> {
        Ok(self.tags()?.into_iter().next())
    }

    /// Release notes. `None`: from the newest release tag on HEAD or among its ancestors (see
    /// [`Repo::notes_since_tag`]) to HEAD. `Some((from, to))`: the commits reachable from `to`
    /// but not from `from`, each resolved with [`Repo::resolve_rev`].
    pub fn notes(&self, range: Option<(&str, &str)>) -> Result<Notes, GitError> {
        match range {
            None => self.notes_since_tag(self.head()?),
            Some((from, to)) => {
                let to = self.resolve_rev(to)?;
                let from = self.resolve_rev(from)?;
                self.notes_between(Some(from), to)
            }
        }
    }

    /// Release notes for a range written `FROM..TO`: an empty `FROM` is the newest release tag
    /// reachable from `TO`, an empty `TO` is HEAD. `None` is the default range.
    pub fn notes_for(&self, range: Option<&str>) -> Result<Notes, GitError> {
        let Some(spec) = range else {
            return self.notes(None);
        };
        let (from, to) = match spec.split_once("..") {
            Some((from, to)) if !to.starts_with('.') => (from.trim(), to.trim()),
            _ => return Err(GitError::BadRange(spec.to_string())),
        };
        let to = if to.is_empty() {
            self.head()?
        } else {
            self.resolve_rev(to)?
        };
        if from.is_empty() {
            return self.notes_since_tag(to);
        }
        self.notes_between(Some(self.resolve_rev(from)?), to)
    }

    /// Release notes from the newest matching tag (in [`Repo::tags`] order) on `head` or among
    /// its ancestors, to `head`; from the first commit when there is no such tag. A newer tag on
    /// another branch (v3.0.0 while `head` is on the 2.x branch) is not the base of `head`'s
    /// release.
    ///
    /// Whether a tag is an ancestor comes out of the walk over the range itself (the tag is the
    /// parent of a commit in the range), so the usual case costs one walk, and no separate
    /// ancestry check walks the history down to the tag again.
    pub fn notes_since_tag(&self, head: Resolved) -> Result<Notes, GitError> {
        let odb = self.repo.odb()?;
        for tag in self.tags()? {
            let base = Resolved::new(tag.commit, Some(tag.name));
            if tag.commit == head.commit {
                return Ok(Notes::empty(Some(base), head));
            }
            let walked = walk::commits(&odb, head.commit, Some(tag.commit), entry)?;
            if walked.base_reached {
                return Ok(Notes::from_entries(Some(base), head, walked.commits));
            }
        }
        let walked = walk::commits(&odb, head.commit, None, entry)?;
        Ok(Notes::from_entries(None, head, walked.commits))
    }

    /// Release notes for the commits reachable from `head` but not from `base` (every commit
    /// reachable from `head` when `base` is `None`), newest first, merge commits left out (the
    /// commits they bring in are included).
    pub fn notes_between(&self, base: Option<Resolved>, head: Resolved) -> Result<Notes, GitError> {
        let odb = self.repo.odb()?;
        let walked = walk::commits(&odb, head.commit, base.as_ref().map(|b| b.commit), entry)?;
        Ok(Notes::from_entries(base, head, walked.commits))
    }

    /// Release notes of commits named by id, as a release's journal lists them: each commit
    /// read from the object database (no walk), grouped as [`Repo::notes_between`] groups
    /// them. `base` and `head` are commit ids (`base_tag` names the base's tag). The ids the
    /// repository does not hold (or that are not commit ids) come back apart, in order.
    pub fn notes_of_commits(
        &self,
        base: Option<(&str, Option<&str>)>,
        head: &str,
        commits: &[&str],
    ) -> Result<(Notes, Vec<String>), GitError> {
        let oid = |s: &str| Oid::from_str(s).map_err(|_| GitError::UnknownRevision(s.to_string()));
        let base = match base {
            Some((id, tag)) => Some(Resolved::new(oid(id)?, tag.map(str::to_string))),
            None => None,
        };
        let head = Resolved::new(oid(head)?, None);
        let mut entries = Vec::with_capacity(commits.len());
        let mut missing = Vec::new();
        for id in commits {
            match Oid::from_str(id).ok().and_then(|o| self.repo.find_commit(o).ok()) {
                Some(c) => entries.push(entry_of(
                    c.id(),
                    c.message_bytes(),
                    c.author().name_bytes(),
                    c.time().seconds(),
                )),
                None => missing.push((*id).to_string()),
            }
        }
        Ok((Notes::from_entries(base, head, entries), missing))
    }

    /// The suggested next version and release type from the commits since the newest release
    /// tag reachable from HEAD (see [`next_version`]).
    pub fn suggest_next(&self) -> Result<Suggestion, GitError> {
        let notes = self.notes(None)?;
        let from = notes.base.as_ref().and_then(|b| b.tag.clone());
        let current = from
            .as_deref()
            .and_then(|t| self.pattern.version_of(t))
            .map(str::to_string);
        let (version, rtype) = next_version(current.as_deref(), &notes);
        Ok(Suggestion {
            version,
            rtype,
            from,
            current,
            tag_pattern: self.pattern.glob.clone(),
            counts: Counts {
                breaking: notes.breaking.len(),
                features: notes.features.len(),
                fixes: notes.fixes.len(),
                performance: notes.performance.len(),
                other: notes.other.len(),
            },
            notes,
        })
    }

    /// Create the annotated tag for `version` (prefix + version, see [`TagPattern::tag_for`]) at
    /// `commit`, signed by the repository's configured identity (else
    /// `flightdeck <flightdeck@localhost>`). Never overwrites an existing tag, never pushes.
    /// Returns the tag's name.
    pub fn create_tag(&self, version: &str, commit: Oid, message: &str) -> Result<String, GitError> {
        let name = self.pattern.tag_for(version.trim());
        if !git2::Reference::is_valid_name(&format!("refs/tags/{name}")) {
            return Err(GitError::InvalidTagName(name));
        }
        if let Some(existing) = self.tag_commit(&name) {
            return Err(GitError::TagExists {
                name,
                short: short_id(existing),
            });
        }
        let target = self.repo.find_object(commit, None)?.peel_to_commit()?;
        let tagger = match self.repo.signature() {
            Ok(sig) => sig,
            Err(_) => git2::Signature::now(FALLBACK_TAGGER.0, FALLBACK_TAGGER.1)?,
        };
        let mut message = message.trim_end().to_string();
        message.push('\n');
        match self.repo.tag(&name, target.as_object(), &tagger, &message, false) {
            Ok(_) => Ok(name),
            Err(e) if e.code() == ErrorCode::Exists => {
                let short = self.tag_commit(&name).map(short_id).unwrap_or_default();
                Err(GitError::TagExists { name, short })
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The suggested next version of the plan's repository (for `flightdeck next` and `run` without
/// a version).
pub fn suggest_next(plan: &Plan) -> Result<Suggestion, GitError> {
    Repo::open(plan)?.suggest_next()
}

/// The next version after `current` (a version without the tag prefix; `None` when nothing has
/// been released) given the commits since it:
/// - a breaking change: major (`2.3.1` -> `3.0.0`), but minor below 1.0 (`0.4.2` -> `0.5.0`);
/// - else a feature: minor (`2.3.1` -> `2.4.0`);
/// - else patch (`2.3.1` -> `2.3.2`).
///
/// No current version: `0.1.0`, minor. A pre-release current version (`2.4.0-rc.1`) is followed
/// by its release (`2.4.0`), typed by the component it raises. A current version that is not a
/// version at all counts as none.
pub fn next_version(current: Option<&str>, notes: &Notes) -> (String, ReleaseType) {
    let Some(v) = current.and_then(Version::parse) else {
        return ("0.1.0".to_string(), ReleaseType::Minor);
    };
    let [major, minor, patch] = v.triple();
    if v.pre.is_some() {
        let rtype = match (minor, patch) {
            (0, 0) if major > 0 => ReleaseType::Major,
            (_, 0) => ReleaseType::Minor,
            _ => ReleaseType::Patch,
        };
        return (format!("{major}.{minor}.{patch}"), rtype);
    }
    match notes.bump() {
        ReleaseType::Major if major == 0 => (format!("0.{}.0", minor + 1), ReleaseType::Minor),
        ReleaseType::Major => (format!("{}.0.0", major + 1), ReleaseType::Major),
        ReleaseType::Minor => (format!("{major}.{}.0", minor + 1), ReleaseType::Minor),
        _ => (format!("{major}.{minor}.{}", patch + 1), ReleaseType::Patch),
    }
}

// ---------------------------------------------------------------------------------------------
// Commits

/// A commit as a notes entry.
fn entry(raw: &walk::RawCommit<'_>) -> Entry {
    entry_of(raw.id, raw.message, raw.author, raw.time)
}

/// A commit's id, raw message, author name and time (seconds) as a notes entry.
fn entry_of(id: Oid, message: &[u8], author: &[u8], time: i64) -> Entry {
    let summary = summary(message);
    let summary = String::from_utf8_lossy(&summary);
    let (kind, scope, subject, bang) = match parse_subject(&summary) {
        Some(c) => (
            Some(c.kind),
            c.scope.map(str::to_string),
            c.subject.to_string(),
            c.bang,
        ),
        None => (None, None, summary.into_owned(), false),
    };
    Entry {
        commit: id,
        short: short_id(id),
        kind,
        scope,
        subject,
        breaking: bang || breaking_footer(message),
        author: String::from_utf8_lossy(author).into_owned(),
        time: to_utc(time),
    }
}

/// A message's subject as git shows it (`%s`): its first paragraph, lines trimmed and joined
/// with spaces.
fn summary(message: &[u8]) -> Cow<'_, [u8]> {
    let mut lines = message
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return Cow::Borrowed(b"");
    };
    let Some(second) = lines.next() else {
        return Cow::Borrowed(first);
    };
    let mut joined = Vec::with_capacity(first.len() + second.len() + 1);
    joined.extend_from_slice(first);
    for line in std::iter::once(second).chain(lines) {
        joined.push(b' ');
        joined.extend_from_slice(line);
    }
    Cow::Owned(joined)
}

/// The parts of a conventional-commit subject `type(scope)!: subject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Conventional<'a> {
    /// The type as listed in [`TYPES`] (lower case).
    kind: &'static str,
    scope: Option<&'a str>,
    bang: bool,
    subject: &'a str,
}

/// The conventional-commit types recognised (in any case). Other words before a colon
/// (`parser: fix a crash`, kernel style) are not types: such subjects are kept whole.
pub const TYPES: &[&str] = &[
    "feat", "feature", "fix", "perf", "refactor", "docs", "doc", "chore", "build", "ci", "test", "tests",
    "style", "revert", "deps",
];

/// `type(scope)!: subject` -> its parts; `None` when the subject is not a conventional commit.
/// The type is one of [`TYPES`]; the scope is optional (an empty one counts as none); `:` must be
/// followed by white space and a non-empty subject.
fn parse_subject(s: &str) -> Option<Conventional<'_>> {
    let bytes = s.as_bytes();
    let mut i = bytes.iter().position(|b| !b.is_ascii_alphabetic())?;
    let kind = TYPES.iter().find(|t| t.eq_ignore_ascii_case(&s[..i]))?;
    let mut scope = None;
    if bytes[i] == b'(' {
        let close = i + 1 + bytes[i + 1..].iter().position(|&b| b == b')')?;
        let inner = s[i + 1..close].trim();
        if inner.contains('(') {
            return None;
        }
        scope = (!inner.is_empty()).then_some(inner);
        i = close + 1;
    }
    let bang = bytes.get(i) == Some(&b'!');
    if bang {
        i += 1;
    }
    if bytes.get(i) != Some(&b':') || !bytes.get(i + 1)?.is_ascii_whitespace() {
        return None;
    }
    let subject = s[i + 1..].trim();
    if subject.is_empty() {
        return None;
    }
    Some(Conventional {
        kind,
        scope,
        bang,
        subject,
    })
}

/// Whether a line after the subject starts with `BREAKING CHANGE:` or `BREAKING-CHANGE:`.
fn breaking_footer(message: &[u8]) -> bool {
    let Some(first_newline) = memchr::memchr(b'\n', message) else {
        return false;
    };
    let body = &message[first_newline..];
    memchr::memmem::find_iter(body, b"\nBREAKING").any(|at| {
        let rest = &body[at + "\nBREAKING".len()..];
        rest.starts_with(b" CHANGE:") || rest.starts_with(b"-CHANGE:")
    })
}

/// The first [`SHORT_LEN`] hex digits of a commit id.
pub fn short_id(oid: Oid) -> String {
    let mut hex = hex::encode(&oid.as_bytes()[..SHORT_LEN.div_ceil(2)]);
    hex.truncate(SHORT_LEN);
    hex
}

fn to_utc(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn hex_oid<S: Serializer>(oid: &Oid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(oid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_with_stars_only() {
        assert!(glob_match(b"v*", b"v2.3.1"));
        assert!(glob_match(b"v*", b"v"));
        assert!(!glob_match(b"v*", b"2.3.1"));
        assert!(glob_match(b"release-*-final", b"release-1.2-final"));
        assert!(!glob_match(b"release-*-final", b"release-1.2-finals"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"axxbyybzc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
    }

    #[test]
    fn patterns_split_prefix_and_suffix() {
        let p = TagPattern::new("v*");
        assert_eq!(p.prefix(), "v");
        assert_eq!(p.version_of("v2.3.1"), Some("2.3.1"));
        assert_eq!(p.version_of("2.3.1"), None);
        assert_eq!(p.tag_for("2.4.0"), "v2.4.0");
        assert_eq!(p.tag_for("v2.4.0"), "v2.4.0");
        let p = TagPattern::new("release-*-final");
        assert_eq!(p.version_of("release-1.2-final"), Some("1.2"));
        assert_eq!(p.tag_for("1.3"), "release-1.3-final");
        let p = TagPattern::new("*");
        assert_eq!(p.prefix(), "");
        assert_eq!(p.tag_for("1.0.0"), "1.0.0");
        assert_eq!(TagPattern::new("v").glob(), "v*");
    }

    #[test]
    fn versions_order_the_semver_way() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"));
        assert!(v("2.10.0") > v("2.9.9"));
        assert!(v("2.3") == v("2.3.0"));
        assert!(v("1.0.0") > v("1.0.0-rc.2"));
        assert!(v("1.0.0-rc.10") > v("1.0.0-rc.2"));
        assert!(v("1.0.0-beta") > v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") > v("1.0.0-alpha"));
        assert!(v("1.0.0-alpha.beta") > v("1.0.0-alpha.1"));
        assert_eq!(v("v1.2.3+build.5"), v("1.2.3"));
        assert_eq!(v("1.2.3").triple(), [1, 2, 3]);
        assert_eq!(v("7").triple(), [7, 0, 0]);
        for bad in ["", "next", "1..2", "1.x", "1.2.3-", "v"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn conventional_subjects_are_parsed() {
        let c = parse_subject("feat(api)!: drop v1").unwrap();
        assert_eq!(
            c,
            Conventional {
                kind: "feat",
                scope: Some("api"),
                bang: true,
                subject: "drop v1"
            }
        );
        let c = parse_subject("Fix: crash on empty input").unwrap();
        assert_eq!(
            (c.kind, c.scope, c.bang, c.subject),
            ("fix", None, false, "crash on empty input")
        );
        let c = parse_subject("docs( readme ): typo").unwrap();
        assert_eq!(c.scope, Some("readme"));
        assert_eq!(parse_subject("chore(): x").unwrap().scope, None);
        for not in [
            "Merge branch 'main'",
            "fix:no space",
            "feat: ",
            "update README",
            "(scope): x",
            "feat(a(b)): x",
            "feat(unclosed: x",
            "1fix: x",
            "parser: fix a crash",
            "WIP: stuff",
            "",
        ] {
            assert_eq!(parse_subject(not), None, "{not:?}");
        }
    }

    #[test]
    fn breaking_footers_are_found_after_the_subject_only() {
        assert!(breaking_footer(b"feat: x\n\nBREAKING CHANGE: the API changed\n"));
        assert!(breaking_footer(b"feat: x\n\nbody\n\nBREAKING-CHANGE: gone"));
        assert!(!breaking_footer(b"BREAKING CHANGE: in the subject\n\nbody"));
        assert!(!breaking_footer(b"feat: x\n\nnot BREAKING CHANGE: mid-line\n"));
        assert!(!breaking_footer(b"feat: x\n\nBREAKING CHANGES are fun\n"));
        assert!(!breaking_footer(b"feat: x"));
    }

    #[test]
    fn summaries_are_the_first_paragraph_on_one_line() {
        let s = |m: &str| String::from_utf8(summary(m.as_bytes()).into_owned()).unwrap();
        assert_eq!(s("feat: x\n\nbody"), "feat: x");
        assert_eq!(
            s("\n\n  fix: wrapped\n  over two lines  \n\nbody\n"),
            "fix: wrapped over two lines"
        );
        assert_eq!(s(""), "");
        assert_eq!(s("\n \n"), "");
    }

    #[test]
    fn short_ids_have_seven_digits() {
        let oid = Oid::from_str("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678").unwrap();
        assert_eq!(short_id(oid), "a1b2c3d");
    }
}
