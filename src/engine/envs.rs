//! What runs where: for each environment of a plan, and each target of a fanned-out one, the
//! live release (the newest whose runs there succeeded and were not rolled back), the one before
//! it, and what is deploying there now. Derived from the plan's history (its open releases and
//! its finished-release index), read newest first and only as far back as needed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::history::{EnvOutcome, History, OpenRelease, Summary};
use super::state::StageStatus;
use crate::plan::Plan;

/// A release as it stands on one environment or target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployed {
    pub id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// When its runs there finished.
    pub at: DateTime<Utc>,
    pub started_by: String,
}

impl Deployed {
    fn of(s: &Summary, at: DateTime<Utc>) -> Deployed {
        Deployed {
            id: s.id.clone(),
            version: s.version.clone(),
            commit: s.commit.clone(),
            at,
            started_by: s.started_by.clone(),
        }
    }
}

/// A release deploying to an environment now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InProgress {
    pub id: String,
    pub version: String,
    /// Its state word (`running`, `paused`...).
    pub state: String,
}

/// One environment, or one target of a fanned-out environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub env: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub live: Option<Deployed>,
    pub previous: Option<Deployed>,
    /// Its targets run different releases (only on an environment's own row).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mixed: bool,
    pub in_progress: Option<InProgress>,
}

/// Every environment of `plan` in plan order, each followed by its targets.
pub fn places(plan: &Plan, history: &History, open: &[OpenRelease]) -> Vec<Place> {
    let mut out: Vec<Place> = Vec::new();
    for (name, env) in &plan.environments {
        let in_progress = open
            .iter()
            .find(|o| {
                o.state.finished.is_none()
                    && (o.state.env_holds.contains(name)
                        || o.state.stages.iter().any(|s| {
                            s.decl.environment.as_deref() == Some(name.as_str())
                                && s.status == StageStatus::Running
                        }))
            })
            .map(|o| InProgress {
                id: o.state.id.clone(),
                version: o.state.version.clone(),
                state: o.state.state_word(o.rdir.live_driver().is_some()).to_string(),
            });
        out.push(Place {
            env: name.clone(),
            target: None,
            live: None,
            previous: None,
            mixed: false,
            in_progress: in_progress.clone(),
        });
        for t in &env.targets {
            out.push(Place {
                env: name.clone(),
                target: Some(t.clone()),
                live: None,
                previous: None,
                mixed: false,
                in_progress: in_progress.clone(),
            });
        }
    }
    // Newest finished first; stop once every place with runs of its own has its live and
    // previous release (a fanned-out environment's own row is made from its targets below).
    let own: Vec<bool> = out
        .iter()
        .map(|p| p.target.is_some() || !has_targets(plan, &p.env))
        .collect();
    for s in history.finished() {
        if out.iter().zip(&own).all(|(p, own)| !own || p.previous.is_some()) {
            break;
        }
        for p in out.iter_mut().filter(|p| p.previous.is_none()) {
            let Some(r) = s.envs.iter().find(|r| r.env == p.env && r.target == p.target) else {
                continue;
            };
            if r.outcome != EnvOutcome::Deployed {
                continue;
            }
            let d = Deployed::of(&s, r.at);
            if p.live.is_none() {
                p.live = Some(d);
            } else {
                p.previous = Some(d);
            }
        }
    }
    // A fanned-out environment's own row: its targets' live release when they agree.
    for i in 0..out.len() {
        if out[i].target.is_some() || !has_targets(plan, &out[i].env) {
            continue;
        }
        let env = out[i].env.clone();
        let targets: Vec<&Place> = out
            .iter()
            .filter(|p| p.env == env && p.target.is_some())
            .collect();
        let ids: std::collections::BTreeSet<Option<&str>> = targets
            .iter()
            .map(|p| p.live.as_ref().map(|d| d.id.as_str()))
            .collect();
        let (live, previous, mixed) = if ids.len() == 1 {
            let newest = |f: fn(&Place) -> Option<&Deployed>| {
                targets.iter().filter_map(|p| f(p)).max_by_key(|d| d.at).cloned()
            };
            (
                newest(|p| p.live.as_ref()),
                newest(|p| p.previous.as_ref()),
                false,
            )
        } else {
            (None, None, true)
        };
        out[i].live = live;
        out[i].previous = previous;
        out[i].mixed = mixed;
    }
    out
}

/// Where release `id` is live: an environment's name when it is live on the whole of it, else
/// each `env/target` it is live on.
pub fn live_on(places: &[Place], id: &str) -> Vec<String> {
    let is = |p: &Place| p.live.as_ref().is_some_and(|l| l.id == id);
    let mut out = Vec::new();
    for p in places.iter().filter(|p| p.target.is_none()) {
        if is(p) {
            out.push(p.env.clone());
            continue;
        }
        for t in places.iter().filter(|t| t.env == p.env && t.target.is_some()) {
            if is(t) {
                out.push(format!("{}/{}", t.env, t.target.as_deref().unwrap_or_default()));
            }
        }
    }
    out
}

fn has_targets(plan: &Plan, env: &str) -> bool {
    plan.environments.get(env).is_some_and(|e| !e.targets.is_empty())
}

/// What a release did on one environment, in words: `succeeded`, `failed`, `rolled back`
/// (nothing of it is left there), or `partially rolled back: eu-1, us-2` (the targets rolled
/// back, while others keep it).
pub fn outcome_on(s: &Summary, env: &str) -> Option<String> {
    let results: Vec<_> = s.on_env(env).collect();
    if results.is_empty() {
        return None;
    }
    let rolled: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome == EnvOutcome::RolledBack)
        .map(|r| r.target.as_deref().unwrap_or(env))
        .collect();
    let kept = results.iter().any(|r| r.outcome == EnvOutcome::Deployed);
    // Rolled back where it had got to (a run that failed left nothing to roll back there).
    Some(if !rolled.is_empty() && !kept {
        "rolled back".to_string()
    } else if !rolled.is_empty() {
        format!("partially rolled back: {}", rolled.join(", "))
    } else if results.iter().any(|r| r.outcome == EnvOutcome::Failed) {
        "failed".to_string()
    } else {
        "succeeded".to_string()
    })
}

/// The finished releases that reached `env`, newest first, at most `limit` (0: all).
pub fn env_history(history: &History, env: &str, limit: usize) -> Vec<(Summary, String)> {
    let mut out = Vec::new();
    for s in history.finished() {
        if limit != 0 && out.len() == limit {
            break;
        }
        if let Some(o) = outcome_on(&s, env) {
            out.push((s, o));
        }
    }
    out
}
