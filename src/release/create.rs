//! Creating a release: its folder, the plan copy, the notes and its first events, under the
//! plan's lock so that two releases of one version cannot start at once.

use color_eyre::eyre::Result;

use super::{Context, Duplicate, usage};
use crate::ansi::clean;
use crate::engine::driver;
use crate::engine::history::History;
use crate::journal::{self, ReleaseDir, Store};
use crate::plan::{Plan, ReleaseType};

/// The longest VERSION accepted (it names the release's folder).
pub const MAX_VERSION: usize = 128;

/// What part of the plan a new release runs, and what it deploys again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only these stages (`run --only`, `redeploy`); every stage when empty.
    pub only: Vec<String>,
    /// A redeploy: the earlier release whose version this one deploys again.
    pub redeploy_of: Option<Source>,
    /// `run --at TIME`: the release waits, `scheduled`, until then.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// A member of a train: its `train_joined` (journaled with the release's first events, so
    /// its driver never runs a stage without knowing what it waits for).
    pub train: Option<TrainJoin>,
}

/// The train a member release joins (see `Event::TrainJoined`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainJoin {
    pub train: String,
    pub workspace: String,
    pub started: u64,
    pub gates: Vec<crate::event::TrainGateWait>,
}

/// The release a redeploy deploys again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: String,
    /// The commit it shipped (when the plan lives in git): the redeploy ships it again, so
    /// `{commit}` and FLIGHTDECK_COMMIT name it, not the repository's HEAD.
    pub commit: Option<String>,
}

impl Context {
    /// Create a release of the plan (its folder, plan copy, notes and first events); no driver yet.
    pub fn create_release(&self, version: Option<&str>, rtype: Option<ReleaseType>) -> Result<ReleaseDir> {
        self.create_scoped(version, rtype, &Scope::default())
    }

    /// [`Context::create_release`] of only some stages (`scope.only`), or a redeploy.
    pub fn create_scoped(
        &self,
        version: Option<&str>,
        rtype: Option<ReleaseType>,
        scope: &Scope,
    ) -> Result<ReleaseDir> {
        let plan = self.load_plan()?;
        let only = check_only(&plan, &scope.only)?;
        // A secret that cannot be masked safely is refused before anything exists.
        plan.check_secrets_in_env()?;
        // The commits this release ships (when the plan lives in a git repository), and the
        // suggested version when none was given.
        let (version, rtype, notes) = match version {
            Some(v) if v.trim().is_empty() => return Err(usage("VERSION must not be empty")),
            // A redeploy ships what its source shipped: no notes of the commits since the tag.
            Some(v) if scope.redeploy_of.is_some() || rtype == Some(ReleaseType::Rollback) => {
                (v.to_string(), rtype.unwrap_or_default(), None)
            }
            Some(v) => (v.to_string(), rtype.unwrap_or_default(), release_notes(&plan)),
            None => {
                let s = crate::git::suggest_next(&plan)
                    .map_err(|e| usage(format!("no VERSION given and none can be suggested: {e}")))?;
                crate::errln!("flightdeck: releasing {s}");
                (s.version.clone(), rtype.unwrap_or(s.rtype), Some(s.notes))
            }
        };
        check_version(&version)?;
        let version = version.as_str();
        let store = self.store()?;
        let plan_dir = store.plan_dir(&plan.name)?;
        std::fs::create_dir_all(&plan_dir).map_err(journal::io_error(&plan_dir))?;
        // Looking for an unfinished release of this version and creating this one happen under
        // one lock of the plan's folder, so two `run 5.0` at once cannot both start one.
        let lock_path = plan_dir.join("releases.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(journal::io_error(&lock_path))?;
        lock.lock().map_err(journal::io_error(&lock_path))?;
        if !self.allow_duplicate
            && let Some((other, word)) = unfinished_release(&store, &plan.name, version)?
        {
            return Err(Duplicate(format!(
                "release {} of plan {} is still running ({word}); finish or cancel it, or pass --allow-duplicate",
                clean(&other),
                clean(&plan.name),
            ))
            .into());
        }
        let rdir = store.create_release(&plan.name, version)?;
        let text = crate::files::read_bounded(&plan.path, crate::files::MAX_INPUT)
            .map_err(journal::io_error(&plan.path))?;
        let copy = rdir.plan_copy();
        std::fs::write(&copy, text).map_err(journal::io_error(&copy))?;
        let masker = std::sync::Arc::new(driver::masker_for(&plan));
        let mut journal = rdir.journal_writer(masker)?;
        let mut events = vec![driver::release_created_only(
            &plan, &rdir.id, version, rtype, &only,
        )];
        if let Some(notes) = notes {
            let path = rdir.path.join("notes.md");
            std::fs::write(&path, notes.markdown()).map_err(journal::io_error(&path))?;
            events.push(driver::release_commits(&notes, "notes.md"));
        }
        if let Some(src) = &scope.redeploy_of {
            events.push(crate::event::Event::Note {
                message: format!("redeploy of release {} ({version})", src.id),
            });
        }
        if let Some(Source {
            id,
            commit: Some(commit),
        }) = &scope.redeploy_of
        {
            let path = rdir.path.join("notes.md");
            let text = format!("Redeploy of {version} (release {id}, commit {commit}): no new commits.\n");
            std::fs::write(&path, text).map_err(journal::io_error(&path))?;
            events.push(crate::event::Event::ReleaseCommits {
                base: Some(commit.clone()),
                base_tag: None,
                head: commit.clone(),
                commits: Vec::new(),
                omitted: 0,
                notes: "notes.md".into(),
            });
        }
        if let Some(at) = scope.at {
            events.push(crate::event::Event::ReleaseScheduled { at });
        }
        if let Some(j) = &scope.train {
            events.push(crate::event::Event::TrainJoined {
                train: j.train.clone(),
                workspace: j.workspace.clone(),
                started: j.started,
                gates: j.gates.clone(),
            });
        }
        journal.append(&self.actor(), events)?;
        drop(lock);
        // A release going back (a redeploy, type rollback) links itself to the incidents open on
        // the environments it deploys to: their recovery. A broken incidents journal only warns.
        if rtype == ReleaseType::Rollback {
            let envs: Vec<String> = plan
                .stages
                .iter()
                .filter(|s| only.is_empty() || only.contains(&s.id))
                .filter_map(|s| s.environment.clone())
                .collect();
            match crate::engine::incidents::link_open_incidents(
                &store,
                &plan.name,
                &envs,
                &rdir.id,
                "redeploy",
                &self.actor(),
            ) {
                Ok(numbers) => {
                    for n in numbers {
                        crate::errln!(
                            "flightdeck: linked to incident #{n}, open on an environment this redeploys"
                        );
                    }
                }
                Err(e) => crate::errln!("flightdeck: warning: not linked to the open incidents: {e}"),
            }
        }
        Ok(rdir)
    }
}

/// The stages chosen with `--only`, checked against the plan and put in its order (duplicates
/// dropped): exit 2 naming the plan's stages when one is unknown.
pub fn check_only(plan: &Plan, only: &[String]) -> Result<Vec<String>> {
    let known = || {
        plan.stages
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in only {
        if name.trim().is_empty() {
            return Err(usage(format!(
                "--only names an empty stage (the plan has: {})",
                clean(&known())
            )));
        }
        if plan.stage(name).is_none() {
            return Err(usage(format!(
                "--only: no stage `{}` in the plan (it has: {})",
                clean(name),
                clean(&known())
            )));
        }
    }
    Ok(plan
        .stages
        .iter()
        .filter(|s| only.contains(&s.id))
        .map(|s| s.id.clone())
        .collect())
}

/// A version must be printable and short enough to be a folder name: exit 2 otherwise.
pub fn check_version(version: &str) -> Result<()> {
    if version.chars().any(char::is_control) {
        return Err(usage(format!(
            "VERSION \"{}\" holds control characters (escape sequences, newlines, tabs); use a plain version",
            version.escape_debug()
        )));
    }
    let n = version.chars().count();
    if n > MAX_VERSION {
        return Err(usage(format!(
            "VERSION is too long ({n} characters; at most {MAX_VERSION})"
        )));
    }
    Ok(())
}

/// An unfinished release of `version` of `plan` (its id and state word), if there is one.
pub fn unfinished_release(store: &Store, plan: &str, version: &str) -> Result<Option<(String, String)>> {
    // Only releases marked open can be unfinished: the finished ones are never read.
    let stem = journal::store::sanitize_id(version);
    let dash = format!("{stem}-");
    for open in History::open(store, plan)?.open_releases()? {
        let (rdir, st) = (open.rdir, open.state);
        if rdir.id != stem && !rdir.id.starts_with(&dash) {
            continue;
        }
        if st.version == version && st.finished.is_none() {
            let word = st.state_word(rdir.live_driver().is_some());
            return Ok(Some((rdir.id, word.to_string())));
        }
    }
    Ok(None)
}

/// The notes from the last release tag to HEAD, when the plan lives in a git repository. A plan
/// outside git releases without them; a broken repository is reported and the release goes on.
pub fn release_notes(plan: &Plan) -> Option<crate::git::Notes> {
    use crate::git::{GitError, Repo};
    let notes = Repo::open(plan).and_then(|repo| {
        let head = repo.head()?;
        repo.notes_since_tag(head)
    });
    match notes {
        Ok(n) => Some(n),
        Err(GitError::NoRepository(_) | GitError::NoCommits(_)) => None,
        Err(e) => {
            crate::errln!("flightdeck: warning: the release records no commits: {e}");
            None
        }
    }
}
