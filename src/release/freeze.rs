//! `flightdeck freeze list [--json]`: the plan's freeze windows in force now and those beginning
//! in the next 30 days, in order.

use color_eyre::eyre::Result;

use super::{Context, exit, usage};
use crate::ansi::clean;
use crate::engine::freezes::{FreezeError, Freezes};
use crate::plan::freeze::Span;

use super::incident::journal_refusal;

/// A line of `schedule`: when, until when (a window), what, and the same as JSON.
type Entry = (
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
    String,
    serde_json::Value,
);

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

impl Context {
    /// `schedule [--json]`: the plan's scheduled releases and the freeze windows of the next 30
    /// days (the plan's and the ad-hoc ones), in time order.
    pub fn schedule(&self, json: bool, ics: bool) -> Result<u8> {
        let (mut plan, freezes) = self.freezes()?;
        plan.freezes.extend(
            freezes
                .load()
                .map_err(journal_refusal)?
                .iter()
                .map(crate::engine::freezes::AdHoc::as_freeze),
        );
        let store = self.store()?;
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::days(AHEAD_DAYS);
        let mut rows: Vec<Entry> = Vec::new();
        for rdir in store.open_releases(&plan.name)? {
            let Ok((st, _)) = crate::engine::state::ReleaseState::load(&rdir.journal()) else {
                continue;
            };
            if let Some(at) = st.scheduled_at.filter(|_| st.waiting_for_schedule(now)) {
                rows.push((
                    at,
                    None,
                    format!("release {} ({}) starts, by {}", clean(&st.id), clean(&st.version), clean(&st.created_by)),
                    serde_json::json!({"kind": "release", "release": st.id, "version": st.version, "at": at, "by": st.created_by}),
                ));
            }
        }
        for f in &plan.freezes {
            for s in f.spans(now, until) {
                rows.push((
                    s.start,
                    Some(s.end),
                    format!("{} frozen: {}", f.environments.join(", "), clean(&f.reason)),
                    serde_json::json!({"kind": "freeze", "environments": f.environments, "reason": f.reason, "start": s.start, "end": s.end, "active": s.start <= now}),
                ));
            }
        }
        rows.sort_by_key(|(at, end, _, _)| (*at, *end));
        if ics {
            // RFC 5545, for stakeholders' calendars: a release as the moment it starts, a
            // freeze as its window. UIDs are stable, so a calendar re-imported updates itself.
            use icalendar::{Component, EventLike};
            let mut cal = icalendar::Calendar::new();
            cal.name(&format!("flightdeck: {}", plan.name));
            for (at, end, what, v) in &rows {
                let mut e = icalendar::Event::new();
                let uid = match v["kind"].as_str() {
                    Some("release") => format!(
                        "release-{}-{}@flightdeck",
                        plan.name,
                        v["release"].as_str().unwrap_or("")
                    ),
                    _ => format!(
                        "freeze-{}-{}-{}@flightdeck",
                        plan.name,
                        at.timestamp(),
                        v["environments"]
                            .as_array()
                            .map(|e| e.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("+"))
                            .unwrap_or_default()
                    ),
                };
                e.uid(&uid).summary(what).timestamp(now).starts(*at);
                if let Some(end) = end {
                    e.ends(*end);
                }
                cal.push(e.done());
            }
            // Every text in it went through `clean` (release ids, reasons) or is a plan name
            // checked to be a plain folder name: nothing in it can drive a terminal.
            crate::term::die_quietly_on_closed_pipe();
            print!("{}", cal.done());
            return Ok(exit::OK);
        }
        if json {
            let v: Vec<&serde_json::Value> = rows.iter().map(|(_, _, _, v)| v).collect();
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(exit::OK);
        }
        if rows.is_empty() {
            crate::outln!("nothing scheduled and no freeze window in the next {AHEAD_DAYS} days");
        }
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%a %Y-%m-%d %H:%M UTC").to_string();
        for (at, end, what, _) in &rows {
            let when = match end {
                Some(e) if *at <= now => format!("now, until {}", fmt(*e)),
                Some(e) => format!("{} until {}", fmt(*at), fmt(*e)),
                None => fmt(*at),
            };
            crate::outln!("{when}  {what}");
        }
        Ok(exit::OK)
    }
}
