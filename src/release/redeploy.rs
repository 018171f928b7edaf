//! `redeploy [VERSION] --env ENV`: a release of type `rollback` that runs only the stages on ENV
//! (`run --only` of them) for an earlier version, by default the previous live release there. It
//! is how a team whose deploy scripts have no rollback command goes back: forward, to the last
//! good version.

use color_eyre::eyre::{Result, eyre};

use super::create::{Scope, Source};
use super::{Context, DriveMode, usage};
use crate::ansi::clean;
use crate::engine::envs::{Deployed, places};
use crate::engine::history::History;
use crate::plan::{Plan, ReleaseType};

/// What a redeploy to one environment would be: the stages it runs and the release it deploys
/// again. The one answer for `redeploy` and the cockpit's preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeploy {
    pub env: String,
    pub version: String,
    /// The stages on the environment, in plan order.
    pub stages: Vec<String>,
    /// The release of `version` found in the history (for its commit), if any.
    pub source: Option<Source>,
}

impl Redeploy {
    /// The scope of the release it creates.
    pub fn scope(&self) -> Scope {
        Scope {
            only: self.stages.clone(),
            redeploy_of: self.source.clone(),
            at: None,
            train: None,
        }
    }
}

/// The stages that deploy to `env`, in plan order: exit 2 when `env` is not the plan's, or no
/// stage deploys to it.
pub fn env_stages(plan: &Plan, env: &str) -> Result<Vec<String>> {
    if !plan.environments.contains_key(env) {
        let known: Vec<&str> = plan.environments.keys().map(String::as_str).collect();
        return Err(usage(format!(
            "no environment `{}` in the plan (it has: {})",
            clean(env),
            known.join(", ")
        )));
    }
    let stages: Vec<String> = plan
        .stages
        .iter()
        .filter(|s| s.environment.as_deref() == Some(env))
        .map(|s| s.id.clone())
        .collect();
    if stages.is_empty() {
        return Err(usage(format!("no stage of the plan deploys to {}", clean(env))));
    }
    Ok(stages)
}

/// The previous live release on `env`: its own row's, or, for a fanned-out environment, its
/// targets' when they agree. `Err`: a one-line reason there is none.
pub fn previous_on(plan: &Plan, history: &History, env: &str) -> Result<Deployed, String> {
    let open = history.open_releases().map_err(|e| e.to_string())?;
    let rows = places(plan, history, &open);
    if let Some(d) = rows
        .iter()
        .find(|p| p.env == env && p.target.is_none())
        .and_then(|p| p.previous.clone())
    {
        return Ok(d);
    }
    let targets: Vec<_> = rows
        .iter()
        .filter(|p| p.env == env && p.target.is_some())
        .collect();
    let found: Vec<Option<&Deployed>> = targets.iter().map(|p| p.previous.as_ref()).collect();
    if let Some(Some(first)) = found.first()
        && found.iter().all(|d| d.is_some_and(|d| d.id == first.id))
    {
        return Ok((*first).clone());
    }
    if found.iter().any(Option::is_some) {
        let each: Vec<String> = targets
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    p.target.as_deref().unwrap_or_default(),
                    p.previous.as_ref().map_or("none", |d| d.version.as_str())
                )
            })
            .collect();
        return Err(format!(
            "the targets of {env} have different previous releases ({}); name the VERSION to redeploy",
            each.join(", ")
        ));
    }
    Err(format!(
        "no previous live release on {env} to redeploy (fewer than two releases have succeeded there); name the VERSION to redeploy"
    ))
}

impl Context {
    /// What `redeploy [VERSION] --env ENV` would run.
    pub fn redeploy_plan(&self, version: Option<&str>, env: &str) -> Result<Redeploy> {
        let plan = self.load_plan()?;
        let stages = env_stages(&plan, env)?;
        let store = self.store()?;
        let history = History::open(&store, &plan.name)?;
        let (version, source) = match version {
            Some(v) if v.trim().is_empty() => return Err(usage("VERSION must not be empty")),
            // The newest finished release of that version, for the commit it shipped.
            Some(v) => (
                v.to_string(),
                history.finished().find(|s| s.version == v).map(|s| Source {
                    id: s.id.clone(),
                    commit: s.commit.clone(),
                }),
            ),
            None => {
                let d = previous_on(&plan, &history, env).map_err(|e| eyre!("{}", clean(&e)))?;
                let source = Source {
                    id: d.id,
                    commit: d.commit,
                };
                (d.version, Some(source))
            }
        };
        Ok(Redeploy {
            env: env.to_string(),
            version,
            stages,
            source,
        })
    }

    /// `redeploy [VERSION] --env ENV`: create the release (type `rollback`) and drive it as
    /// `run` does.
    pub fn redeploy(&self, version: Option<&str>, env: &str, flags: DriveMode) -> Result<u8> {
        let r = self.redeploy_plan(version, env)?;
        if r.source.is_none() {
            crate::errln!(
                "flightdeck: warning: no finished release of {} is known, so neither is its commit ({{commit}} is empty)",
                clean(&r.version)
            );
        }
        crate::errln!(
            "flightdeck: redeploying {} to {}: {}",
            clean(&r.version),
            clean(&r.env),
            r.stages.join(", ")
        );
        self.run_scoped(Some(&r.version), Some(ReleaseType::Rollback), &r.scope(), flags)
    }
}
