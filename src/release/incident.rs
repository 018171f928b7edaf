//! `flightdeck incident open|resolve|list` and `verify --incidents`: a plan's incidents (see
//! `engine::incidents`), journaled in `<data>/plans/<plan>/.incidents/incidents.jsonl`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use color_eyre::eyre::Result;
use serde_json::json;

use super::{Context, exit, refused, usage};
use crate::ansi::clean;
use crate::engine::driver::masker_for;
use crate::engine::incidents::{Incident, IncidentError, Incidents};
use crate::journal::{self, JournalError, Store, Verified};
use crate::plan::Plan;

/// The longest summary or note accepted (characters).
pub const MAX_TEXT: usize = 2000;

impl Context {
    fn incidents(&self) -> Result<(Plan, Store, Incidents)> {
        let plan = self.load_plan()?;
        let store = self.store()?;
        let inc = Incidents::of_plan(&store, &plan.name)?;
        Ok((plan, store, inc))
    }

    /// `incident open --env ENV [--release R] SUMMARY`: R defaults to the release live on ENV.
    pub fn incident_open(&self, env: &str, release: Option<&str>, summary: &str) -> Result<u8> {
        let (plan, store, inc) = self.incidents()?;
        if !plan.environments.contains_key(env) {
            let known: Vec<&str> = plan.environments.keys().map(String::as_str).collect();
            return Err(usage(format!(
                "no environment `{}` in the plan (it has: {})",
                clean(env),
                known.join(", ")
            )));
        }
        let summary = text_arg("the summary", summary, true)?;
        let release = match release {
            Some(r) => match store.release(&plan.name, r) {
                Ok(rdir) if rdir.journal().is_file() => Some(rdir.id),
                _ => {
                    return Err(usage(format!(
                        "release `{}` not found for plan `{}`",
                        clean(r),
                        plan.name
                    )));
                }
            },
            None => crate::engine::incidents::live_release(&store, &plan, env)?,
        };
        let actor = self.actor();
        let i = inc
            .open(
                Arc::new(masker_for(&plan)),
                &actor,
                env,
                release.as_deref(),
                &summary,
            )
            .map_err(journal_refusal)?;
        // Whoever hears of incidents hears of it, from a sender of its own (never this command).
        if plan
            .notify
            .iter()
            .any(|n| n.on.iter().any(|o| o == "incident_opened"))
            && let Err(e) = crate::engine::notify::spawn_incidents_sender(
                inc.path(),
                &plan.path,
                self.data_dir.as_deref(),
            )
        {
            crate::errln!("flightdeck: cannot start the notification sender: {e}");
        }
        let against = match &i.release {
            Some(r) => format!(" against release {}", clean(r)),
            None => " (no release is live there)".to_string(),
        };
        crate::outln!(
            "incident #{} opened on {}{against} by {}: {}",
            i.number,
            clean(&i.env),
            clean(&i.opened_by),
            clean(&i.summary)
        );
        Ok(exit::OK)
    }

    /// `incident resolve N [--note T]`: says how long recovery took.
    pub fn incident_resolve(&self, number: u64, note: &str) -> Result<u8> {
        let (plan, _, inc) = self.incidents()?;
        let note = text_arg("the note", note, false)?;
        let actor = self.actor();
        let i = inc
            .resolve(Arc::new(masker_for(&plan)), &actor, number, &note)
            .map_err(|e| match e {
                IncidentError::Journal(j) => journal_refusal(j),
                e @ IncidentError::Unknown { .. } => usage(e.to_string()),
                e @ IncidentError::AlreadyResolved { .. } => refused(e.to_string()),
            })?;
        let took = i.recovery_ms().map(duration_text).unwrap_or_default();
        let after_link = match (i.links.iter().min_by_key(|l| l.at), i.after_first_link_ms()) {
            (Some(l), Some(ms)) => format!(
                "; {} after the first {} (release {} by {})",
                duration_text(ms),
                l.kind,
                clean(&l.release),
                clean(&l.by)
            ),
            _ => "; no rollback or redeploy was linked to it".to_string(),
        };
        crate::outln!(
            "incident #{} on {} resolved by {}: recovery took {took} (opened {} by {}){after_link}",
            i.number,
            clean(&i.env),
            clean(i.resolved_by.as_deref().unwrap_or(&actor)),
            i.opened_at.format("%Y-%m-%d %H:%M:%S UTC"),
            clean(&i.opened_by)
        );
        Ok(exit::OK)
    }

    /// `incident list [--open] [--json]`, oldest first.
    pub fn incident_list(&self, open_only: bool, json: bool) -> Result<u8> {
        let (_, _, inc) = self.incidents()?;
        let mut all = inc.load().map_err(journal_refusal)?;
        if open_only {
            all.retain(Incident::is_open);
        }
        if json {
            let v: Vec<serde_json::Value> = all.iter().map(incident_json).collect();
            crate::outln!("{}", serde_json::Value::Array(v));
            return Ok(exit::OK);
        }
        if all.is_empty() {
            crate::outln!(
                "{}",
                if open_only {
                    "no open incidents"
                } else {
                    "no incidents yet"
                }
            );
            return Ok(exit::OK);
        }
        let now = Utc::now();
        crate::outln!(
            "{:<5} {:<9} {:<12} {:<12} {:<28} {:<26} {:<20} SUMMARY",
            "#",
            "STATE",
            "ENV",
            "RELEASE",
            "OPENED",
            "RESOLVED (RECOVERY)",
            "LINKED"
        );
        for i in &all {
            let opened = format!("{} by {}", super::envs::ago(now, i.opened_at), i.opened_by);
            let resolved = match (&i.resolved_by, i.recovery_ms()) {
                (Some(by), Some(ms)) => format!("by {by} ({})", duration_text(ms)),
                _ => "—".to_string(),
            };
            let linked = if i.links.is_empty() {
                "—".to_string()
            } else {
                i.links
                    .iter()
                    .map(|l| format!("{} {}", l.kind, l.release))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            crate::outln!(
                "{:<5} {:<9} {:<12} {:<12} {:<28} {:<26} {:<20} {}",
                format!("#{}", i.number),
                if i.is_open() { "open" } else { "resolved" },
                clean(&i.env),
                clean(i.release.as_deref().unwrap_or("—")),
                clean(&opened),
                clean(&resolved),
                clean(&linked),
                clean(&i.summary)
            );
        }
        Ok(exit::OK)
    }

    /// `verify --incidents`: the plan's incidents journal's hash chain.
    pub fn verify_incidents(&self) -> Result<u8> {
        let (_, _, inc) = self.incidents()?;
        let path = inc.path();
        if !path.exists() {
            crate::outln!(
                "{}: no incidents journal yet (no incident was opened)",
                path.display()
            );
            return Ok(exit::OK);
        }
        let head = std::fs::read_to_string(inc.head()).ok();
        let code = match journal::verify(path, head.as_deref())? {
            Verified::Intact { lines } => {
                crate::outln!("{}: intact ({lines} lines, hash chain verified)", path.display());
                exit::OK
            }
            Verified::Altered { line, reason } => {
                crate::outln!("{}:{line}: altered: {}", path.display(), clean(&reason));
                exit::FAILED
            }
            Verified::Torn { line, bytes } => {
                crate::outln!(
                    "{}:{line}: torn: an unterminated last line of {bytes} byte(s) that is not a record; the lines before it chain",
                    path.display()
                );
                exit::FAILED
            }
        };
        Ok(code)
    }
}

/// A summary or note as given: trimmed; refused when (required and) empty, too long, or
/// spanning lines.
pub(super) fn text_arg(what: &str, text: &str, required: bool) -> Result<String> {
    let t = text.trim();
    if required && t.is_empty() {
        return Err(usage(format!("{what} must not be empty")));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(usage(format!("{what} may have at most {MAX_TEXT} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(usage(format!(
            "{what} holds control characters (newlines, tabs, escape sequences); write it on one line"
        )));
    }
    Ok(t.to_string())
}

/// A broken plan-level journal (incidents, freezes) refuses (exit 1, one line naming the file
/// and the line).
pub(super) fn journal_refusal(e: JournalError) -> color_eyre::Report {
    match e {
        j @ JournalError::Broken { .. } => refused(j.to_string()),
        j => j.into(),
    }
}

/// One incident as `incident list --json` prints it.
pub fn incident_json(i: &Incident) -> serde_json::Value {
    json!({
        "number": i.number,
        "state": if i.is_open() { "open" } else { "resolved" },
        "env": i.env,
        "release": i.release,
        "summary": i.summary,
        "opened_by": i.opened_by,
        "opened_at": i.opened_at,
        "resolved_by": i.resolved_by,
        "resolved_at": i.resolved_at,
        "note": i.note,
        "recovery_ms": i.recovery_ms(),
        "after_first_link_ms": i.after_first_link_ms(),
        "links": i.links,
    })
}

/// The newest open incident of each environment, by name.
pub fn open_by_env(incidents: &[Incident]) -> std::collections::BTreeMap<&str, &Incident> {
    let mut out = std::collections::BTreeMap::new();
    for i in incidents.iter().filter(|i| i.is_open()) {
        out.insert(i.env.as_str(), i);
    }
    out
}

/// `1h2m`, `3m4s`, `5s`, `0.4s`.
pub fn duration_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0 => format!("{:.1}s", ms.max(0) as f64 / 1000.0),
        1..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// `opened_at` as `envs --json` shows it.
pub fn brief_json(i: &Incident) -> serde_json::Value {
    let at: DateTime<Utc> = i.opened_at;
    json!({ "number": i.number, "summary": i.summary, "opened_at": at, "opened_by": i.opened_by })
}
