//! `flightdeck freeze list [--json]`: the plan's freeze windows in force now and those beginning
//! in the next 30 days, in order.

use color_eyre::eyre::Result;

use super::{Context, exit, refused, usage};
use crate::ansi::clean;
use crate::engine::freezes::{FreezeError, Freezes};
use crate::journal::JournalError;
use crate::plan::freeze::Span;

/// A broken freezes journal refuses (exit 1, one line naming the file and the line).
fn journal_refusal(e: JournalError) -> color_eyre::Report {
    match e {
        j @ JournalError::Broken { .. } => refused(j.to_string()),
        j => j.into(),
    }
}

/// How far ahead `freeze list` looks.
pub const AHEAD_DAYS: i64 = 30;

impl Context {
    /// The plan's ad-hoc freezes journal.
    fn freezes(&self) -> Result<(crate::plan::Plan, Freezes)> {
        let plan = self.load_plan()?;
        let dir = self.store()?.plan_dir(&plan.name)?;
        Ok((plan, Freezes::at(&dir)))
    }

    /// `freeze add --env E... --until TIME --reason T`: until an RFC 3339 time, or a duration
    /// from now (`2h`).
    pub fn freeze_add(&self, envs: &[String], until: &str, reason: &str) -> Result<u8> {
        let (plan, freezes) = self.freezes()?;
        for e in envs {
            if !plan.environments.contains_key(e) {
                let known: Vec<&str> = plan.environments.keys().map(String::as_str).collect();
                return Err(usage(format!(
                    "no environment `{}` in the plan (it has: {})",
                    clean(e),
                    known.join(", ")
                )));
            }
        }
        let now = chrono::Utc::now();
        let until = match chrono::DateTime::parse_from_rfc3339(until.trim()) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(_) => match crate::plan::parse_duration(until.trim()) {
                Ok(d) => now + chrono::Duration::from_std(d)?,
                Err(_) => {
                    return Err(usage(format!(
                        "--until `{}`: give an RFC 3339 time (2026-12-24T08:00:00+01:00) or a duration from now (2h)",
                        clean(until)
                    )));
                }
            },
        };
        if until <= now {
            return Err(usage("--until is not in the future"));
        }
        let reason = super::incident::text_arg("the reason", reason, true)?;
        let masker = std::sync::Arc::new(crate::engine::driver::masker_for(&plan));
        let f = freezes
            .add(masker, &self.actor(), envs, until, &reason)
            .map_err(journal_refusal)?;
        crate::outln!(
            "freeze #{} on {} until {}: {}",
            f.number,
            f.environments.join(", "),
            f.until.format("%a %Y-%m-%d %H:%M UTC"),
            clean(&f.reason)
        );
        Ok(exit::OK)
    }

    /// `freeze remove N`: end ad-hoc freeze N now.
    pub fn freeze_remove(&self, number: u64) -> Result<u8> {
        let (plan, freezes) = self.freezes()?;
        let masker = std::sync::Arc::new(crate::engine::driver::masker_for(&plan));
        match freezes.remove(masker, &self.actor(), number) {
            Ok(f) => {
                crate::outln!("freeze #{} on {} ended", f.number, f.environments.join(", "));
                Ok(exit::OK)
            }
            Err(FreezeError::Journal(j)) => Err(journal_refusal(j)),
            Err(e) => Err(usage(e.to_string())),
        }
    }

    pub fn freeze_list(&self, json: bool) -> Result<u8> {
        let (mut plan, freezes) = self.freezes()?;
        plan.freezes.extend(
            freezes
                .load()
                .map_err(journal_refusal)?
                .iter()
                .map(crate::engine::freezes::AdHoc::as_freeze),
        );
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::days(AHEAD_DAYS);
        let mut rows: Vec<(Span, &crate::plan::freeze::Freeze)> = plan
            .freezes
            .iter()
            .flat_map(|f| f.spans(now, until).into_iter().map(move |s| (s, f)))
            .collect();
        rows.sort_by_key(|(s, _)| (s.start, s.end));
        if json {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|(s, f)| {
                    serde_json::json!({
                        "environments": f.environments,
                        "reason": f.reason,
                        "start": s.start,
                        "end": s.end,
                        "active": s.start <= now && now < s.end,
                    })
                })
                .collect();
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(exit::OK);
        }
        if rows.is_empty() {
            crate::outln!("no freeze window now or in the next {AHEAD_DAYS} days");
            return Ok(exit::OK);
        }
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%a %Y-%m-%d %H:%M UTC").to_string();
        let envs: Vec<String> = rows.iter().map(|(_, f)| f.environments.join(", ")).collect();
        let w = envs.iter().map(|e| e.chars().count()).max().unwrap_or(0);
        for ((s, f), e) in rows.iter().zip(&envs) {
            let when = if s.start <= now {
                format!("now, until {}", fmt(s.end))
            } else {
                format!("{} until {}", fmt(s.start), fmt(s.end))
            };
            crate::outln!("{e:<w$}  {when}  {}", f.reason);
        }
        Ok(exit::OK)
    }
}
