//! What runs where: for each environment of a plan, and each target of a fanned-out one, the
//! live release (the newest whose runs there succeeded and were not rolled back), the one before
//! it, and what is deploying there now. Derived from the plan's history (its open releases and
//! its finished-release index), read newest first and only as far back as needed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::history::{EnvOutcome, History, OpenRelease, Summary};
use super::state::StageStatus;
use crate::event::RunKey;
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
    // Newest finished first; per place the two newest deploys by when they happened there (a
    // release reopened later, say to roll back one of its targets, finishes again after newer
    // ones but its other targets' deploys keep their time). A run finishes before its release,
    // so once a summary finished before a place's previous deploy, nothing older can beat it:
    // stop when that holds for every place with runs of its own (a fanned-out environment's own
    // row is made from its targets below).
    let own: Vec<bool> = out
        .iter()
        .map(|p| p.target.is_some() || !has_targets(plan, &p.env))
        .collect();
    for s in history.finished() {
        let settled = |p: &Place| p.previous.as_ref().is_some_and(|d| s.finished_at < d.at);
        if out.iter().zip(&own).all(|(p, own)| !own || settled(p)) {
            break;
        }
        for p in out.iter_mut() {
            let Some(r) = s.envs.iter().find(|r| r.env == p.env && r.target == p.target) else {
                continue;
            };
            if r.outcome != EnvOutcome::Deployed {
                continue;
            }
            let d = Deployed::of(&s, r.at);
            match (&p.live, &p.previous) {
                (None, _) => p.live = Some(d),
                (Some(l), _) if d.at > l.at => p.previous = p.live.replace(d),
                (Some(_), None) => p.previous = Some(d),
                (Some(_), Some(prev)) if d.at > prev.at => p.previous = Some(d),
                _ => {}
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

/// [`places`] of `plan`, read from its history in `store`.
pub fn places_of(
    store: &crate::journal::Store,
    plan: &Plan,
) -> Result<Vec<Place>, crate::journal::JournalError> {
    let h = History::open(store, &plan.name)?;
    let open = h.open_releases()?;
    Ok(places(plan, &h, &open))
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

/// A place a rollback would touch where another release is live now (newer there than the one
/// being rolled back), or deploying now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Newer {
    pub env: String,
    pub target: Option<String>,
    pub id: String,
    pub version: String,
    /// Live there since (`None`: deploying there now).
    pub since: Option<DateTime<Utc>>,
}

impl Newer {
    /// `2.5.0 (2.5.0-2) live on prod/eu since 2026-12-04 20:50 UTC`, or `2.5.0 (…) deploying
    /// to prod/eu`: what a forced rollback journals it was forced over.
    pub fn describe(&self) -> String {
        match self.since {
            Some(at) => format!(
                "{} ({}) live on {} since {}",
                self.version,
                self.id,
                self.place(),
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("{} ({}) deploying to {}", self.version, self.id, self.place()),
        }
    }

    /// `prod/eu`, or `prod`.
    pub fn place(&self) -> String {
        match &self.target {
            Some(t) => format!("{}/{t}", self.env),
            None => self.env.clone(),
        }
    }
}

/// Where rolling back `order` (runs of `st`) would undo something that is no longer there: a
/// different release went live on that environment/target after `st`'s run there (or is
/// deploying there now). From [`places`].
pub fn newer_on(places: &[Place], st: &crate::engine::state::ReleaseState, order: &[RunKey]) -> Vec<Newer> {
    let mut out: Vec<Newer> = Vec::new();
    for k in order {
        let Some(s) = st.stage(&k.stage) else { continue };
        let Some(env) = s.decl.environment.as_deref() else {
            continue;
        };
        let Some(p) = places.iter().find(|p| p.env == env && p.target == k.target) else {
            continue;
        };
        if out.iter().any(|n| n.env == p.env && n.target == p.target) {
            continue;
        }
        let ran_at = st
            .target(&k.stage, k.target.as_deref())
            .and_then(|t| t.attempts.iter().find(|a| a.n == k.attempt))
            .and_then(|a| a.finished_at);
        if let Some(l) = &p.live
            && l.id != st.id
            && ran_at.is_none_or(|r| l.at > r)
        {
            out.push(Newer {
                env: p.env.clone(),
                target: p.target.clone(),
                id: l.id.clone(),
                version: l.version.clone(),
                since: Some(l.at),
            });
        } else if let Some(d) = &p.in_progress
            && d.id != st.id
        {
            out.push(Newer {
                env: p.env.clone(),
                target: p.target.clone(),
                id: d.id.clone(),
                version: d.version.clone(),
                since: None,
            });
        }
    }
    out
}

/// `2.4.0 is live on prod/eu, prod/us since 2026-12-04 20:50 UTC; 2.5.0 is deploying to prod/ap
/// now`: one clause per release.
pub fn newer_text(newer: &[Newer]) -> String {
    let mut clauses: Vec<String> = Vec::new();
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for n in newer {
        let key = (n.id.as_str(), n.since.is_some());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let same: Vec<&Newer> = newer
            .iter()
            .filter(|m| m.id == n.id && m.since.is_some() == n.since.is_some())
            .collect();
        let places = same.iter().map(|m| m.place()).collect::<Vec<_>>().join(", ");
        clauses.push(match same.iter().filter_map(|m| m.since).max() {
            Some(at) => format!(
                "{} is live on {places} since {}",
                n.version,
                at.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!("{} is deploying to {places} now", n.version),
        });
    }
    clauses.join("; ")
}
