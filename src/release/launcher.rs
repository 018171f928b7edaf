//! What the cockpit needs to act ([`Launcher`]), and the real one: a [`Context`], which starts
//! releases and detached drivers the way `run --detach` does.

use color_eyre::eyre::Result;

use super::create::Scope;
use super::redeploy::Redeploy;
use super::{Context, usage};
use crate::journal::{self, ReleaseDir, Store};
use crate::plan::ReleaseType;

/// What the cockpit needs from the program around it to act: who the user is, and how to start
/// a release or a driver (a [`Context`] starts them as `run --detach` does).
/// What the cockpit asks of a train.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrainAct {
    /// One approval of its gate (the only one, or this one).
    Approve(Option<String>),
    Cancel,
    /// Roll it back; `force`: over newer releases on the members' environments too (the
    /// confirmation listed them, [`Launcher::train_rollback_over`]).
    Rollback {
        force: bool,
    },
}

pub trait Launcher: Send + Sync {
    /// The acting person (as the engine defines identity).
    fn actor(&self) -> String;
    /// Create a release of the plan (of `scope`: some stages, or a redeploy; the whole plan by
    /// default) and start its detached driver; returns its folder.
    fn start_release(&self, version: &str, rtype: ReleaseType, scope: &Scope) -> Result<ReleaseDir, String>;
    /// Start a detached driver for an existing release (resume, or a request needing a driver).
    fn start_driver(&self, rdir: &ReleaseDir) -> Result<(), String>;
    /// The suggested next version and type (`flightdeck next`).
    fn suggest(&self) -> Result<(String, ReleaseType), String>;
    /// What redeploying `version` (default: the previous live release there) to `env` would
    /// run (`flightdeck redeploy [VERSION] --env ENV`), or why there is nothing to redeploy.
    fn redeploy_plan(&self, version: Option<&str>, env: &str) -> Result<Redeploy, String>;
    /// Act on the workspace's train `name` (approve its gate, cancel it, roll it back) as the
    /// user; what was done.
    fn train(&self, name: &str, act: &TrainAct) -> Result<String, String> {
        let _ = (name, act);
        Err("trains are a workspace's: open the cockpit in one".into())
    }
    /// The newer releases that rolling back train `name` would roll back over, one line each
    /// (`rollback` refuses those without `--force`), or why it cannot be rolled back.
    fn train_rollback_over(&self, name: &str) -> Result<Vec<String>, String> {
        let _ = name;
        Err("trains are a workspace's: open the cockpit in one".into())
    }
    /// Check a request under the journal lock and append it as the user; its sequence number.
    /// By default unsigned; a [`Context`] signs an approval of a gate that takes signed
    /// approvals only, as `approve` does.
    fn submit(
        &self,
        rdir: &ReleaseDir,
        masker: std::sync::Arc<crate::runlog::Masker>,
        op: &crate::engine::request::Op,
    ) -> Result<u64, String> {
        crate::engine::request::submit(rdir, masker, &self.actor(), op)
            .map(|s| s.seq)
            .map_err(|e| e.to_string())
    }
}

impl Context {
    /// The release the cockpit opens: a new one (`start`: its version and type; its driver
    /// started detached), the one named, or this plan's newest; `None`: the plan has none yet
    /// (its start screen). `Err(code)` inside: the new release's driver could not take over
    /// (another driver: 4).
    pub fn cockpit_release(
        &self,
        store: &Store,
        release: Option<&str>,
        start: Option<(String, Option<ReleaseType>, Vec<String>)>,
    ) -> Result<std::result::Result<Option<ReleaseDir>, u8>> {
        Ok(Ok(match (start, release) {
            (Some((version, rtype, only)), _) => {
                let scope = Scope {
                    only,
                    redeploy_of: None,
                    at: None,
                    train: None,
                };
                let rdir = self.create_scoped(Some(&version), rtype, &scope)?;
                if let Err(code) = self.spawn_driver_detached(&rdir, false)? {
                    return Ok(Err(code));
                }
                Some(rdir)
            }
            (None, Some(r)) => Some(self.find(Some(r))?),
            // The plan's newest release, else its start screen; a plan that does not load says
            // why; with no plan here, the newest release of any plan.
            (None, None) => match self.plan_path() {
                Ok(_) => {
                    let plan = self.load_plan()?;
                    match store.find(Some(&plan.name), None) {
                        Ok(r) => Some(r),
                        Err(journal::JournalError::NotFound(..)) => None,
                        Err(e) => return Err(usage(e.to_string())),
                    }
                }
                Err(_) => match store.find(None, None) {
                    Ok(r) => Some(r),
                    Err(journal::JournalError::NotFound(..)) => {
                        return Err(usage(
                            "no plan here (flightdeck.toml in this directory or a parent, or --plan FILE) \
                             and no releases yet; `flightdeck demo` opens the cockpit on a sample release",
                        ));
                    }
                    Err(e) => return Err(usage(e.to_string())),
                },
            },
        }))
    }
}

/// How the cockpit acts: as this user, starting drivers the way `run --detach` does.
impl Launcher for Context {
    fn actor(&self) -> String {
        Context::actor(self)
    }

    fn train(&self, name: &str, act: &TrainAct) -> Result<String, String> {
        let (ws, t) = self
            .find_train(name)
            .ok_or_else(|| format!("no train {name} in this workspace"))?;
        match act {
            TrainAct::Approve(gate) => self.approve_train_gate(&ws, &t, gate.as_deref(), String::new()),
            TrainAct::Cancel => self.cancel_train(&ws, &t),
            TrainAct::Rollback { force } => self.rollback_train(&ws, &t, *force),
        }
        .map_err(|e| format!("{e:#}"))
    }

    fn train_rollback_over(&self, name: &str) -> Result<Vec<String>, String> {
        let (_, t) = self
            .find_train(name)
            .ok_or_else(|| format!("no train {name} in this workspace"))?;
        self.train_newer_releases(&t).map_err(|e| format!("{e:#}"))
    }

    fn start_release(
        &self,
        version: &str,
        rtype: ReleaseType,
        scope: &Scope,
    ) -> std::result::Result<ReleaseDir, String> {
        let rdir = self
            .create_scoped(Some(version), Some(rtype), scope)
            .map_err(|e| format!("{e:#}"))?;
        self.start_driver(&rdir)?;
        Ok(rdir)
    }

    fn start_driver(&self, rdir: &ReleaseDir) -> std::result::Result<(), String> {
        match self.spawn_driver_detached(rdir, false) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(format!(
                "release {} is driven by another process{}",
                rdir.id,
                rdir.driver_said().map(|d| format!(" ({d})")).unwrap_or_default()
            )),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    fn suggest(&self) -> std::result::Result<(String, ReleaseType), String> {
        let plan = self.load_plan().map_err(|e| format!("{e:#}"))?;
        crate::git::suggest_next(&plan)
            .map(|s| (s.version, s.rtype))
            .map_err(|e| e.to_string())
    }

    fn redeploy_plan(&self, version: Option<&str>, env: &str) -> std::result::Result<Redeploy, String> {
        Context::redeploy_plan(self, version, env).map_err(|e| format!("{e:#}"))
    }

    fn submit(
        &self,
        rdir: &ReleaseDir,
        _: std::sync::Arc<crate::runlog::Masker>,
        op: &crate::engine::request::Op,
    ) -> std::result::Result<u64, String> {
        Context::submit(self, rdir, &Context::actor(self), op)
            .map(|s| s.seq)
            .map_err(|e| e.to_string())
    }
}
