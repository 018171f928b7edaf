//! `flightdeck envs`: what runs where, per environment and target, and an environment's history.

use chrono::{DateTime, Utc};
use color_eyre::eyre::Result;
use serde_json::json;

use super::{Context, exit, usage};
use crate::ansi::clean;
use crate::drift::{overview, snapshot};
use crate::engine::envs::{Deployed, Place, env_history, places};
use crate::engine::history::History;
use crate::plan::Plan;

impl Context {
    /// `envs [ENV] [--history [--limit N]] [--json]`.
    pub fn envs(&self, env: Option<&str>, history: bool, limit: usize, json: bool) -> Result<u8> {
        let plan = self.load_plan()?;
        if let Some(e) = env
            && !plan.environments.contains_key(e)
        {
            let known: Vec<&str> = plan.environments.keys().map(String::as_str).collect();
            return Err(usage(format!(
                "no environment `{}` in the plan (it has: {})",
                clean(e),
                known.join(", ")
            )));
        }
        let store = self.store()?;
        let h = History::open(&store, &plan.name)?;
        let now = Utc::now();
        if history {
            let Some(env) = env else {
                return Err(usage("--history needs an environment: envs ENV --history"));
            };
            return Ok(print_history(&h, env, limit, json, now));
        }
        let open = h.open_releases()?;
        let mut rows = places(&plan, &h, &open);
        if let Some(e) = env {
            rows.retain(|p| p.env == e);
        }
        let drift = drift_of(&plan, &store, &rows);
        // Open incidents: a broken incidents journal is said, and what chains before it shown.
        let (incidents, broken) = crate::engine::incidents::Incidents::of_plan(&store, &plan.name)?
            .load_lenient()
            .unwrap_or_else(|e| (Vec::new(), Some(e)));
        if let Some(e) = broken {
            crate::errln!("flightdeck: warning: {}", clean(&e.to_string()));
        }
        let open_incident = super::incident::open_by_env(&incidents);
        if json {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .zip(&drift)
                .map(|(p, d)| {
                    let mut o = serde_json::to_value(p).unwrap_or_default();
                    if let Some(m) = o.as_object_mut() {
                        m.insert(
                            "drift".into(),
                            d.as_ref().map_or(serde_json::Value::Null, |d| d.json()),
                        );
                        m.insert(
                            "incident".into(),
                            open_incident
                                .get(p.env.as_str())
                                .map_or(serde_json::Value::Null, |i| super::incident::brief_json(i)),
                        );
                    }
                    o
                })
                .collect();
            crate::outln!("{}", serde_json::Value::Array(v));
            return Ok(exit::OK);
        }
        let with_incidents = !open_incident.is_empty();
        let mut table: Vec<[String; 6]> = vec![[
            "ENVIRONMENT".into(),
            "LIVE".into(),
            "PREVIOUS".into(),
            "DEPLOYING NOW".into(),
            "DRIFT".into(),
            if with_incidents {
                "INCIDENT".into()
            } else {
                String::new()
            },
        ]];
        for (p, d) in rows.iter().zip(&drift) {
            let name = match &p.target {
                Some(t) => format!("  {}/{}", p.env, t),
                None => p.env.clone(),
            };
            let live = match (&p.live, p.mixed) {
                (_, true) => "mixed (see its targets)".to_string(),
                (Some(l), _) => live_text(l, now),
                (None, _) => "—".to_string(),
            };
            let previous = p.previous.as_ref().map_or("—".to_string(), |d| d.version.clone());
            let now_text = p
                .in_progress
                .as_ref()
                .map_or("—".to_string(), |r| format!("{} ({})", r.version, r.state));
            let drift = d.as_ref().map_or("—".to_string(), |d| d.text(now));
            // The incident on the environment's own row; its name marked with `!`.
            let incident = open_incident.get(p.env.as_str()).filter(|_| p.target.is_none());
            let name = if incident.is_some() {
                format!("! {name}")
            } else {
                name
            };
            let incident = incident.map_or(String::new(), |i| {
                format!(
                    "#{} {} (opened {} by {})",
                    i.number,
                    i.summary,
                    ago(now, i.opened_at),
                    i.opened_by
                )
            });
            table.push([name, live, previous, now_text, drift, incident].map(|c| clean(&c).into_owned()));
        }
        print_table(&table);
        Ok(exit::OK)
    }
}

/// Columns padded to their widest cell (in terminal columns), two spaces apart.
pub(super) fn print_table<const N: usize>(rows: &[[String; N]]) {
    use unicode_width::UnicodeWidthStr;
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].width()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.push_str(&" ".repeat(widths[i] - cell.width() + 2));
            }
        }
        crate::outln!("{}", line.trim_end());
    }
}

/// `1.5.0 (a1b2c3d) 2h ago by alice`.
fn live_text(d: &Deployed, now: DateTime<Utc>) -> String {
    let commit = d
        .commit
        .as_ref()
        .map(|c| format!(" ({})", &c[..c.len().min(7)]))
        .unwrap_or_default();
    format!("{}{commit} {} by {}", d.version, ago(now, d.at), d.started_by)
}

fn print_history(h: &History, env: &str, limit: usize, json: bool, now: DateTime<Utc>) -> u8 {
    let rows = env_history(h, env, limit);
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, outcome)| {
                json!({
                    "id": s.id,
                    "version": s.version,
                    "type": s.rtype,
                    "only": s.only,
                    "outcome": outcome,
                    "state": s.state.as_str(),
                    "started_by": s.started_by,
                    "approved_by": s.approvers,
                    "created_at": s.created_at,
                    "finished_at": s.finished_at,
                    "duration_ms": s.duration_ms(),
                    "commit": s.commit,
                })
            })
            .collect();
        crate::outln!("{}", serde_json::Value::Array(v));
        return exit::OK;
    }
    if rows.is_empty() {
        crate::outln!("no release has reached {} yet", clean(env));
        return exit::OK;
    }
    let mut table: Vec<[String; 6]> = vec![[
        "RELEASE".into(),
        "OUTCOME".into(),
        "STARTED BY".into(),
        "APPROVED BY".into(),
        "TOOK".into(),
        "FINISHED".into(),
    ]];
    for (s, outcome) in &rows {
        // The release id is the version, unless the version ran more than once (`1.2-2`).
        let name = if s.id == s.version {
            s.version.clone()
        } else {
            format!("{} ({})", s.version, s.id)
        };
        let approved = if s.approvers.is_empty() {
            "—".to_string()
        } else {
            s.approvers.join(", ")
        };
        let took = s.duration_ms().map(duration_text).unwrap_or_default();
        // A redeploy or a partial release says so: `succeeded (rollback; partial: deploy-prod)`.
        let what = match (
            s.rtype == crate::plan::ReleaseType::Rollback,
            crate::engine::state::partial_text(&s.only),
        ) {
            (true, Some(p)) => format!("{outcome} (rollback; {p})"),
            (true, None) => format!("{outcome} (rollback)"),
            (false, Some(p)) => format!("{outcome} ({p})"),
            (false, None) => outcome.clone(),
        };
        table.push(
            [
                name,
                what,
                s.started_by.clone(),
                approved,
                took,
                ago(now, s.finished_at),
            ]
            .map(|c| clean(&c).into_owned()),
        );
    }
    print_table(&table);
    exit::OK
}

/// The newest drift summary of each place: from the plan's newest saved probe run or the newest
/// release's start/end snapshot, whichever is newer.
struct DriftCell {
    taken_at: DateTime<Utc>,
    error: Option<String>,
    drifting: usize,
    compared: bool,
}

impl DriftCell {
    fn text(&self, now: DateTime<Utc>) -> String {
        let what = match (&self.error, self.compared, self.drifting) {
            (Some(_), _, _) => "probe failed".to_string(),
            (None, false, _) => "not compared".to_string(),
            (None, true, 0) => "in sync".to_string(),
            (None, true, 1) => "1 key differs".to_string(),
            (None, true, n) => format!("{n} keys differ"),
        };
        format!("{what} ({})", ago(now, self.taken_at))
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "taken_at": self.taken_at,
            "in_sync": self.error.is_none() && self.compared && self.drifting == 0,
            "drifting_keys": self.drifting,
            "error": self.error,
        })
    }
}

fn drift_of(plan: &Plan, store: &crate::journal::Store, rows: &[Place]) -> Vec<Option<DriftCell>> {
    let none = || rows.iter().map(|_| None).collect();
    let Ok(dir) = store.plan_dir(&plan.name) else {
        return none();
    };
    let runs = dir.join(snapshot::RUNS_DIR);
    let latest = store.latest(&plan.name);
    let candidates = [
        overview::newest_snapshot(None, &runs),
        latest.and_then(|r| overview::newest_snapshot(Some(&r.path), std::path::Path::new(""))),
    ];
    let newest = candidates
        .into_iter()
        .flatten()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let Some(path) = newest else {
        return none();
    };
    let Ok(snap) = snapshot::load_snapshot(&path) else {
        return none();
    };
    let o = overview::of_snapshot(Some(plan), &snap, None, String::new());
    rows.iter()
        .map(|p| {
            let row = o.rows.iter().find(|r| r.env == p.env && r.target == p.target)?;
            Some(DriftCell {
                taken_at: o.taken_at,
                error: row.error.clone(),
                drifting: row.drifting(),
                compared: row.compared,
            })
        })
        .collect()
}

/// `5s ago`, `3m ago`, `2h ago`, `4d ago`.
pub fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// `1h2m`, `3m4s`, `5s`.
fn duration_text(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}
