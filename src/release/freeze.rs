//! `flightdeck freeze list [--json]`: the plan's freeze windows in force now and those beginning
//! in the next 30 days, in order.

use color_eyre::eyre::Result;

use super::{Context, exit};
use crate::plan::freeze::Span;

/// How far ahead `freeze list` looks.
pub const AHEAD_DAYS: i64 = 30;

impl Context {
    pub fn freeze_list(&self, json: bool) -> Result<u8> {
        let plan = self.load_plan()?;
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
