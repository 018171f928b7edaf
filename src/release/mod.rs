//! Release operations, the library under the command line and the demo: who acts
//! ([`Context::identify`]), finding and loading releases, creating one ([`create`]), starting a
//! detached driver and waiting until it took over, or being that driver ([`driver`]), the
//! cockpit's [`Launcher`] ([`launcher`]), watching a driven release from this process
//! ([`observe`]), the read-only commands ([`inspect`]), submitting requests and waiting for the driver's answer ([`request`]), and the
//! errors and exit codes ([`exit`]) that the command line maps outcomes to.
//!
//! `cli` and `demo` both call this module; neither imports the other.

pub mod create;
pub mod driver;
pub mod envs;
pub mod freeze;
pub mod incident;
pub mod inspect;
pub mod launcher;
pub mod metrics;
pub mod observe;
pub mod redeploy;
pub mod report;
pub mod request;
pub mod review;
pub mod rollback;
pub mod store;
pub mod train;
pub mod workspace;

use std::path::PathBuf;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};

use crate::engine::state::ReleaseState;
use crate::journal::{self, ReleaseDir, Store};
use crate::plan::{self, Plan};

/// Exit codes (one table for the whole program).
pub use crate::event::exit;
pub use create::{MAX_VERSION, Scope, Source};
pub use inspect::DriftQuery;
pub use launcher::Launcher;
pub use observe::{DriveMode, hold_ending_signals};
pub use redeploy::Redeploy;
pub use request::Answer;

/// A mistake in what was asked (unknown release, gate, item...): exit 2 with the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The request was understood but refused (e.g. a second approval by the same person): exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A release of this version of the plan is still unfinished: exit 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Duplicate(pub String);

/// A [`UsageError`] as a report.
pub fn usage(msg: impl Into<String>) -> color_eyre::Report {
    UsageError(msg.into()).into()
}

/// A [`Refused`] as a report.
pub fn refused(msg: String) -> color_eyre::Report {
    eyre!(Refused(msg))
}

/// The grace period between SIGTERM and SIGKILL (`FLIGHTDECK_GRACE`, default 5s).
pub fn grace() -> Duration {
    std::env::var("FLIGHTDECK_GRACE")
        .ok()
        .and_then(|s| plan::parse_duration(&s).ok())
        .unwrap_or(Duration::from_secs(5))
}

/// The multi-threaded runtime the driver and the probes run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Where releases are and who acts on them: the command line's global options (`--plan`,
/// `--data-dir`, `--as`), or the demo's own plan and data directory.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The plan file (default: flightdeck.toml in this directory or the nearest parent).
    pub plan: Option<PathBuf>,
    /// Where releases are kept (default: the platform's data directory).
    pub data_dir: Option<PathBuf>,
    /// Who acts (checked by [`Context::identify`]).
    pub actor: Option<String>,
    /// Start a release even while another of the same version is unfinished.
    pub allow_duplicate: bool,
    /// `--store URL` (see [`Context::shared_store`] for the order of the others).
    pub store_url: Option<String>,
    /// `approve --key FILE` (see [`Context::signing_key`] for the order of the others).
    pub signing_key: Option<PathBuf>,
    /// `--workspace FILE` / FLIGHTDECK_WORKSPACE (default: flightdeck-workspace.toml in this
    /// directory or the nearest parent).
    pub workspace: Option<PathBuf>,
}

impl Context {
    /// The same person, on another plan and data directory (the demo's).
    pub fn with_plan(&self, plan: PathBuf, data_dir: PathBuf) -> Context {
        Context {
            plan: Some(plan),
            data_dir: Some(data_dir),
            actor: Some(self.actor()),
            // The demo's own sandbox: it refuses to start over a live demo release by itself,
            // and an interrupted earlier one must not stop a new one.
            allow_duplicate: true,
            // The demo's sandbox is local.
            store_url: None,
            signing_key: None,
            workspace: None,
        }
    }

    /// Check the name given with `--as` (always) and, for commands that act, find out who acts
    /// (`--as`, FLIGHTDECK_USER, git's user.name, $USER): trimmed, printable, not empty.
    pub fn identify(&mut self, acts: bool) -> Result<()> {
        use crate::engine::identity::normalize;
        if let Some(a) = &self.actor {
            self.actor = Some(normalize(a).map_err(|m| usage(format!("--as: {m}")))?);
            return Ok(());
        }
        if !acts {
            return Ok(());
        }
        let (source, raw) = Self::actor_source();
        self.actor = Some(normalize(&raw).map_err(|m| usage(format!("{source}: {m}")))?);
        Ok(())
    }

    /// The name this user goes by, and where it came from.
    fn actor_source() -> (&'static str, String) {
        if let Some(u) = std::env::var_os("FLIGHTDECK_USER")
            && !u.is_empty()
        {
            return ("FLIGHTDECK_USER", u.to_string_lossy().into_owned());
        }
        if let Ok(cfg) = git2::Config::open_default()
            && let Ok(name) = cfg.get_string("user.name")
            && !name.is_empty()
        {
            return ("git's user.name", name);
        }
        match std::env::var_os("USER") {
            Some(u) if !u.is_empty() => ("$USER", u.to_string_lossy().into_owned()),
            _ => ("$USER", "unknown".into()),
        }
    }

    /// Who acts (checked and trimmed by [`Context::identify`] before any command that acts).
    pub fn actor(&self) -> String {
        match &self.actor {
            Some(a) => a.clone(),
            None => crate::engine::identity::normalize(&Self::actor_source().1)
                .unwrap_or_else(|_| "unknown".into()),
        }
    }

    pub fn plan_path(&self) -> Result<PathBuf> {
        match &self.plan {
            Some(p) => Ok(p.clone()),
            None => Ok(plan::find_plan_file(&std::env::current_dir()?)?),
        }
    }

    /// The workspace file: `--workspace`, else the nearest one up from here.
    pub fn workspace_path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.workspace {
            return Ok(p.clone());
        }
        let here = std::env::current_dir()?;
        match plan::workspace::find_workspace_file(&here) {
            Some((p, _)) => Ok(p),
            None => Err(usage(format!(
                "no {} in {} or any parent directory (use --workspace FILE or FLIGHTDECK_WORKSPACE)",
                plan::workspace::WORKSPACE_FILE,
                here.display()
            ))),
        }
    }

    /// The workspace and every plan of it, all checked (every problem at once, as `file:line:col`).
    pub fn load_workspace(&self) -> Result<(plan::workspace::Workspace, Vec<Plan>)> {
        let ws = plan::workspace::load_workspace(&self.workspace_path()?)?;
        let plans = plan::workspace::check_workspace(&ws)?;
        Ok((ws, plans))
    }

    /// Whether commands that take a plan or a workspace (`check`, the cockpit) mean the
    /// workspace: named with `--workspace`, or, with no `--plan`, a workspace file at least as
    /// near as the nearest plan file.
    pub fn in_workspace(&self) -> bool {
        if self.workspace.is_some() {
            return true;
        }
        if self.plan.is_some() {
            return false;
        }
        let Ok(here) = std::env::current_dir() else {
            return false;
        };
        let Some((_, ws_up)) = plan::workspace::find_workspace_file(&here) else {
            return false;
        };
        let plan_up = here.ancestors().position(|d| d.join("flightdeck.toml").is_file());
        plan_up.is_none_or(|up| ws_up <= up)
    }

    pub fn load_plan(&self) -> Result<Plan> {
        Ok(plan::load(&self.plan_path()?)?)
    }

    pub fn store(&self) -> Result<Store> {
        Ok(Store::locate(self.data_dir.clone())?)
    }

    /// The plan name to scope release lookups to, when a plan is at hand.
    fn plan_scope(&self) -> Option<String> {
        let path = self.plan_path().ok()?;
        plan::load(&path).ok().map(|p| p.name)
    }

    /// A release by id (default: the newest), of this plan first, then of any plan.
    pub fn find(&self, release: Option<&str>) -> Result<ReleaseDir> {
        let store = self.store()?;
        let scope = self.plan_scope();
        match store.find(scope.as_deref(), release) {
            Ok(r) => Ok(r),
            // Not among this plan's releases: try every plan (an id is usually unique).
            Err(journal::JournalError::NotFound(..))
                if scope.is_some() && release.is_some_and(|r| r != "latest") =>
            {
                store.find(None, release).map_err(find_error)
            }
            Err(e) => Err(find_error(e)),
        }
    }

    /// The plan a release runs (its copy, as the driver loads it).
    pub fn plan_for(&self, rdir: &ReleaseDir) -> Result<Plan> {
        let (recs, _) = journal::read_journal(&rdir.journal())?;
        let st = ReleaseState::from_records(&recs);
        Ok(crate::engine::driver::plan_for_release(rdir, &st)?)
    }
}

/// The release's state, folded up to the first line that does not chain (then it needs
/// attention, see [`ReleaseState::attention`]); what the load found is said on stderr.
pub fn load_state(rdir: &ReleaseDir) -> Result<ReleaseState> {
    let (st, warnings) = ReleaseState::load(&rdir.journal())?;
    // A broken chain is part of the state (`attention`, with its reason), not a warning.
    for w in warnings.iter().filter(|w| w.broken().is_none()) {
        crate::errln!("flightdeck: warning: {}: {w}", rdir.journal().display());
    }
    Ok(st)
}

/// Refuse to act on a release whose journal does not chain (exit 1, one line).
pub fn refuse_broken(st: &ReleaseState) -> Result<()> {
    match &st.attention {
        Some(why) => Err(refused(format!(
            "{why}; nothing from this line on is acted on (`flightdeck verify` checks the journal)"
        ))),
        None => Ok(()),
    }
}

/// The exit code of a release as it stands: its final state's, or paused while unfinished.
pub fn end_code(st: &ReleaseState) -> u8 {
    st.finished.as_ref().map_or(exit::PAUSED, |f| f.state.exit_code())
}

/// An unknown or ambiguous release is a usage error (exit 2); a data directory that cannot be
/// read is an environment problem (exit 1, naming the path).
fn find_error(e: journal::JournalError) -> color_eyre::Report {
    match e {
        journal::JournalError::Io { .. } | journal::JournalError::Broken { .. } => e.into(),
        e => usage(e.to_string()),
    }
}
