//! Freeze windows (`[[freeze]]`): when stages on some environments must not start. A window
//! recurs by cron (in a time zone, lasting `duration` of wall-clock time: `0 16 * * FRI` for 64h
//! ends Monday 08:00 local time, summer or winter) or is fixed (`from`..`to`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// One freeze window of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Freeze {
    pub environments: Vec<String>,
    pub reason: String,
    pub when: When,
}

#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// Starts at every match of `cron` in `timezone` and lasts `duration` of local time.
    Cron {
        cron: String,
        duration: Duration,
        timezone: chrono_tz::Tz,
    },
    /// From `from` (inclusive) to `to` (exclusive).
    Fixed {
        from: DateTime<FixedOffset>,
        to: DateTime<FixedOffset>,
    },
}

/// A window's span: when it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `start + duration` counted on the wall clock of `tz` (a day across a daylight-saving change is
/// still 24 h of wall-clock time); a local time that does not exist is moved past the gap.
fn wall_clock_add(start: DateTime<chrono_tz::Tz>, d: Duration, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let local: NaiveDateTime =
        start.naive_local() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let mut probe = local;
    for _ in 0..180 {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(1);
    }
    tz.from_utc_datetime(&local).with_timezone(&Utc)
}

impl Freeze {
    /// The window in force at `now` (the one ending last, when several overlap), if any.
    pub fn active_at(&self, now: DateTime<Utc>) -> Option<Span> {
        self.spans(now, now)
            .into_iter()
            .filter(|s| s.start <= now && now < s.end)
            .max_by_key(|s| s.end)
    }

    /// The windows that overlap `from..=until`, in order of start.
    pub fn spans(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Span> {
        match &self.when {
            When::Fixed { from: f, to } => {
                let s = Span {
                    start: f.with_timezone(&Utc),
                    end: to.with_timezone(&Utc),
                };
                if s.end > from && s.start <= until {
                    vec![s]
                } else {
                    vec![]
                }
            }
            When::Cron {
                cron,
                duration,
                timezone,
            } => {
                let Ok(c) = croner::Cron::from_str(cron) else {
                    return vec![];
                };
                // A window starting up to `duration` (plus a day of wall-clock slack) before
                // `from` may still be in force.
                let lookback = chrono::Duration::from_std(*duration).unwrap_or(chrono::Duration::zero())
                    + chrono::Duration::days(1);
                let mut t = (from - lookback).with_timezone(timezone);
                let mut out = Vec::new();
                for _ in 0..10_000 {
                    let Ok(start) = c.find_next_occurrence(&t, false) else {
                        break;
                    };
                    if start.with_timezone(&Utc) > until {
                        break;
                    }
                    let end = wall_clock_add(start, *duration, *timezone);
                    if end > from {
                        out.push(Span {
                            start: start.with_timezone(&Utc),
                            end,
                        });
                    }
                    t = start;
                }
                out
            }
        }
    }

    /// `prod frozen until Mon 08:00 (weekend)`: the end in the window's own time zone.
    pub fn describe(&self, env: &str, span: Span, now: DateTime<Utc>) -> String {
        format!(
            "{env} frozen until {} ({})",
            self.local(span.end, now),
            self.reason
        )
    }

    /// `t` on the window's own clock: `Mon 08:00` within six days of `now`, else with the date.
    pub fn local(&self, t: DateTime<Utc>, now: DateTime<Utc>) -> String {
        let fmt = if (t - now).abs() < chrono::Duration::days(6) {
            "%a %H:%M"
        } else {
            "%Y-%m-%d %H:%M"
        };
        match &self.when {
            When::Cron { timezone, .. } => t.with_timezone(timezone).format(fmt).to_string(),
            When::Fixed { to, .. } => t.with_timezone(&to.timezone()).format(fmt).to_string(),
        }
    }
}

/// The windows of `freezes` overlapping `from..=until` (at most `cap` of each freeze), in order
/// of start, each with the index of its freeze.
pub fn windows(
    freezes: &[Freeze],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    cap: usize,
) -> Vec<(Span, usize)> {
    let mut out: Vec<(Span, usize)> = freezes
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.spans(from, until).into_iter().take(cap).map(move |s| (s, i)))
        .collect();
    out.sort_by_key(|(s, i)| (s.start, s.end, *i));
    out
}

/// What to say about freezes at `now`, from [`windows`], as what and when: the window in force
/// that ends last (`prod, staging frozen`, `until Mon 08:00 (weekend)`), else the next to begin
/// (`next freeze: prod`, `Fri 16:00 → Mon 08:00 (weekend)`).
pub fn headline(
    freezes: &[Freeze],
    windows: &[(Span, usize)],
    now: DateTime<Utc>,
) -> Option<(String, String)> {
    let active = windows
        .iter()
        .filter(|(s, _)| s.start <= now && now < s.end)
        .max_by_key(|(s, _)| s.end);
    if let Some((s, i)) = active {
        let f = freezes.get(*i)?;
        return Some((
            format!("{} frozen", f.environments.join(", ")),
            format!("until {} ({})", f.local(s.end, now), f.reason),
        ));
    }
    let (s, i) = windows.iter().find(|(s, _)| s.start > now)?;
    let f = freezes.get(*i)?;
    Some((
        format!("next freeze: {}", f.environments.join(", ")),
        format!(
            "{} → {} ({})",
            f.local(s.start, now),
            f.local(s.end, now),
            f.reason
        ),
    ))
}

/// The next time after `now` at which a window of [`windows`] begins or ends: when what
/// [`headline`] says changes by the clock alone.
pub fn next_change(windows: &[(Span, usize)], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    windows
        .iter()
        .flat_map(|(s, _)| [s.start, s.end])
        .filter(|t| *t > now)
        .min()
}

/// The freeze in force on `env` at `now`, if any: the one that ends last, and its description.
pub fn frozen(freezes: &[Freeze], env: &str, now: DateTime<Utc>) -> Option<(Span, String)> {
    freezes
        .iter()
        .filter(|f| f.environments.iter().any(|e| e == env))
        .filter_map(|f| f.active_at(now).map(|s| (s, f)))
        .max_by_key(|(s, _)| s.end)
        .map(|(s, f)| (s, f.describe(env, s, now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekend() -> Freeze {
        Freeze {
            environments: vec!["prod".into()],
            reason: "weekend".into(),
            when: When::Cron {
                cron: "0 16 * * FRI".into(),
                duration: Duration::from_secs(64 * 3600),
                timezone: chrono_tz::Europe::Berlin,
            },
        }
    }

    #[test]
    fn a_weekend_window_ends_monday_08_00_local_time_across_a_daylight_saving_change() {
        let f = weekend();
        // An ordinary weekend (CEST): Friday 16:00 = 14:00 UTC, Monday 08:00 = 06:00 UTC.
        let s = f.active_at(utc("2026-10-17T12:00:00Z")).unwrap();
        assert_eq!(
            (s.start, s.end),
            (utc("2026-10-16T14:00:00Z"), utc("2026-10-19T06:00:00Z"))
        );
        // The weekend summer time ends (Sunday 25 October 03:00 CEST -> 02:00 CET): Friday 16:00
        // CEST, Monday 08:00 CET = 07:00 UTC: 65 hours, as the wall clock says.
        let s = f.active_at(utc("2026-10-25T12:00:00Z")).unwrap();
        assert_eq!(
            (s.start, s.end),
            (utc("2026-10-23T14:00:00Z"), utc("2026-10-26T07:00:00Z"))
        );
        assert_eq!(
            f.describe("prod", s, utc("2026-10-25T12:00:00Z")),
            "prod frozen until Mon 08:00 (weekend)"
        );
        // And the one summer time begins (Sunday 29 March 02:00 CET -> 03:00 CEST): Monday
        // 08:00 CEST = 06:00 UTC.
        let s = f.active_at(utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(
            (s.start, s.end),
            (utc("2026-03-27T15:00:00Z"), utc("2026-03-30T06:00:00Z"))
        );
        // Outside: Monday 09:00, Friday 15:59 local.
        assert!(f.active_at(utc("2026-10-26T08:00:00Z")).is_none());
        assert!(f.active_at(utc("2026-10-30T14:59:00Z")).is_none());
        assert_eq!(
            f.spans(utc("2026-10-26T08:00:00Z"), utc("2026-11-09T08:00:00Z"))
                .len(),
            2
        );
    }

    #[test]
    fn a_fixed_window_and_which_freeze_applies() {
        let holidays = Freeze {
            environments: vec!["prod".into(), "staging".into()],
            reason: "holiday freeze".into(),
            when: When::Fixed {
                from: DateTime::parse_from_rfc3339("2026-12-20T00:00:00+01:00").unwrap(),
                to: DateTime::parse_from_rfc3339("2027-01-04T08:00:00+01:00").unwrap(),
            },
        };
        let all = [weekend(), holidays];
        let now = utc("2026-12-26T12:00:00Z");
        let (span, why) = frozen(&all, "staging", now).unwrap();
        assert_eq!(span.end, utc("2027-01-04T07:00:00Z"));
        assert_eq!(why, "staging frozen until 2027-01-04 08:00 (holiday freeze)");
        // Both apply on prod: the later end wins.
        assert!(frozen(&all, "prod", now).unwrap().1.contains("holiday freeze"));
        assert!(frozen(&all, "qa", now).is_none());
        assert!(frozen(&all, "staging", utc("2027-01-04T07:00:00Z")).is_none());
    }

    #[test]
    fn the_headline_names_the_window_in_force_else_the_next_and_when_it_changes() {
        let holidays = Freeze {
            environments: vec!["prod".into(), "staging".into()],
            reason: "holiday freeze".into(),
            when: When::Fixed {
                from: DateTime::parse_from_rfc3339("2026-12-20T00:00:00+01:00").unwrap(),
                to: DateTime::parse_from_rfc3339("2027-01-04T08:00:00+01:00").unwrap(),
            },
        };
        let all = [weekend(), holidays];
        // Thursday 3 December: the weekend comes first.
        let now = utc("2026-12-03T10:00:00Z");
        let w = windows(&all, now, now + chrono::Duration::days(30), 64);
        let said = |now| headline(&all, &w, now).map(|(what, when)| format!("{what} {when}"));
        assert_eq!(
            said(now).unwrap(),
            "next freeze: prod Fri 16:00 → Mon 08:00 (weekend)"
        );
        assert_eq!(next_change(&w, now), Some(utc("2026-12-04T15:00:00Z")));
        // In force: until when, on the window's clock; then it ends.
        let now = utc("2026-12-05T10:00:00Z");
        assert_eq!(said(now).unwrap(), "prod frozen until Mon 08:00 (weekend)");
        assert_eq!(next_change(&w, now), Some(utc("2026-12-07T07:00:00Z")));
        // During the holidays both are in force on prod: the one ending last is named.
        let now = utc("2026-12-26T12:00:00Z");
        let w = windows(&all, now, now + chrono::Duration::days(30), 64);
        let (what, when) = headline(&all, &w, now).unwrap();
        assert_eq!(what, "prod, staging frozen");
        assert_eq!(when, "until 2027-01-04 08:00 (holiday freeze)");
        assert!(headline(&all, &[], now).is_none());
    }
}
