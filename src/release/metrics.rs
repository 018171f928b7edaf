//! `flightdeck metrics`: DORA delivery metrics of a plan (or of every plan) on one environment,
//! over a window of time against the window before it: a table with bands, trends and a
//! sparkline per metric, or JSON. The figures come from `engine::metrics` over the plan's
//! finished-release index, streamed.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, TimeZone, Utc};
use color_eyre::eyre::Result;
use serde_json::{Value, json};

use super::{Context, exit, usage};
use crate::ansi::clean;
use crate::engine::metrics::{self, Band, Bands, By, Metrics, Query, Trend};
use crate::plan::Plan;

/// The window when none is given.
const DEFAULT_SINCE_DAYS: i64 = 90;
/// The longest window (and `--since`) accepted.
const MAX_DAYS: i64 = 100 * 366;
/// The most buckets a series may have.
const MAX_BUCKETS: i64 = 10_000;

/// What `metrics` was asked.
#[derive(Debug, Clone)]
pub struct MetricsArgs {
    /// The environment (default: each plan's last in DAG order).
    pub env: Option<String>,
    /// `--since 90d`: the window ends now.
    pub since: Option<String>,
    /// `--from DATE`, `--to DATE`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub by: By,
    /// `--rework-window 24h`.
    pub rework_window: Option<String>,
    pub json: bool,
    /// Every plan in the store.
    pub all: bool,
}

impl Context {
    /// `metrics [--env ENV] [--since D | --from DATE [--to DATE]] [--by day|week|month]
    /// [--rework-window D] [--json] [--all]`.
    pub fn metrics(&self, args: &MetricsArgs) -> Result<u8> {
        let (from, to) = window(args, Utc::now())?;
        let rework_window = match &args.rework_window {
            Some(text) => span("--rework-window", text)?,
            None => Duration::hours(24),
        };
        let bucket_days = match args.by {
            By::Day => 1,
            By::Week => 7,
            By::Month => 28,
        };
        if (to - from).num_days() / bucket_days > MAX_BUCKETS {
            return Err(usage(format!(
                "--by {}: a window of {} days makes more than {MAX_BUCKETS} buckets; use a longer bucket or a shorter window",
                args.by.as_str(),
                (to - from).num_days()
            )));
        }
        let store = self.store()?;
        let plans = if args.all {
            self.every_plan(&store)?
        } else {
            vec![self.load_plan()?]
        };
        let mut answers: Vec<(String, Metrics)> = Vec::new();
        for plan in &plans {
            let env = match &args.env {
                Some(e) if plan.environments.contains_key(e) => e.clone(),
                Some(e) if args.all => {
                    crate::errln!(
                        "flightdeck: plan {} has no environment {}: left out",
                        clean(&plan.name),
                        clean(e)
                    );
                    continue;
                }
                Some(e) => {
                    let known: Vec<&str> = plan.environments.keys().map(String::as_str).collect();
                    return Err(usage(format!(
                        "--env: no environment `{}` in the plan (it has: {})",
                        clean(e),
                        known.join(", ")
                    )));
                }
                None => match metrics::last_env(plan) {
                    Some(e) => e,
                    None if args.all => continue,
                    None => {
                        return Err(usage(format!(
                            "no stage of plan {} deploys to an environment: nothing to measure",
                            clean(&plan.name)
                        )));
                    }
                },
            };
            let q = Query {
                env,
                from,
                to,
                by: args.by,
                rework_window,
            };
            // A broken incidents journal is said; what chains before the break counts.
            let (m, broken) = metrics::measure(&store, &plan.name, &q)?;
            if let Some(e) = broken {
                crate::errln!("flightdeck: warning: {}", clean(&e.to_string()));
            }
            answers.push((plan.name.clone(), m));
        }
        if args.json {
            let mut v: Vec<Value> = answers.iter().map(|(p, m)| to_json(p, m)).collect();
            match (args.all, v.pop()) {
                (false, Some(one)) => crate::outln!("{one}"),
                (_, last) => {
                    v.extend(last);
                    crate::outln!("{}", Value::Array(v));
                }
            }
            return Ok(exit::OK);
        }
        if answers.is_empty() {
            crate::outln!("no plan to measure");
        }
        for (i, (plan, m)) in answers.iter().enumerate() {
            if i > 0 {
                crate::outln!("");
            }
            print_text(plan, m);
        }
        Ok(exit::OK)
    }

    /// Every plan in the store: this directory's plan as it is now, the others as their newest
    /// release ran them (plans without a release are left out).
    fn every_plan(&self, store: &crate::journal::Store) -> Result<Vec<Plan>> {
        let here = self.load_plan().ok();
        let mut out = Vec::new();
        for name in store.plans()? {
            if let Some(p) = here.as_ref().filter(|p| p.name == name) {
                out.push(p.clone());
                continue;
            }
            let Some(rdir) = store.latest(&name) else {
                continue;
            };
            match self.plan_for(&rdir) {
                Ok(p) => out.push(p),
                Err(e) => crate::errln!(
                    "flightdeck: warning: plan {}: left out: {}",
                    clean(&name),
                    clean(&format!("{e:#}"))
                ),
            }
        }
        Ok(out)
    }
}

/// The window asked for, from (included) to (excluded).
fn window(args: &MetricsArgs, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, to) = match (&args.since, &args.from, &args.to) {
        (Some(since), _, _) => (now - span("--since", since)?, now),
        (None, Some(from), to) => {
            let to = match to {
                Some(t) => date("--to", t, true)?,
                None => now,
            };
            (date("--from", from, false)?, to)
        }
        (None, None, Some(to)) => {
            let to = date("--to", to, true)?;
            (to - Duration::days(DEFAULT_SINCE_DAYS), to)
        }
        (None, None, None) => (now - Duration::days(DEFAULT_SINCE_DAYS), now),
    };
    if from >= to {
        return Err(usage(format!(
            "--from: {} is not before the window's end {}",
            stamp(from),
            stamp(to)
        )));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(usage(format!(
            "--from: a window of {} days is longer than {MAX_DAYS}",
            (to - from).num_days()
        )));
    }
    Ok((from, to))
}

/// A length of time given to `flag`: `90d`, `12w`, `36h`, `1d12h` (more than 0, at most 100
/// years).
fn span(flag: &str, text: &str) -> Result<Duration> {
    let t = text.trim();
    let weeks = t
        .strip_suffix('w')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let ms: std::result::Result<u64, String> = match weeks {
        Some(n) => n
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(7 * 86_400_000))
            .ok_or_else(|| "it is too large".to_string()),
        None => crate::plan::parse_duration(t).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let ms = ms
        .and_then(|ms| match ms {
            0 => Err("it must be longer than 0 (e.g. 90d, 12w, 36h)".to_string()),
            ms if ms > MAX_DAYS as u64 * 86_400_000 => Err("it is longer than 100 years".to_string()),
            ms => Ok(ms),
        })
        .map_err(|why| usage(format!("{flag}: bad duration `{t}`: {why}")))?;
    Ok(Duration::milliseconds(ms as i64))
}

/// A date given to `flag`: `YYYY-MM-DD` (UTC; for the window's end, the end of that day) or an
/// RFC 3339 time.
fn date(flag: &str, text: &str, end: bool) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
        usage(format!(
            "{flag}: bad date `{t}`: expected YYYY-MM-DD or an RFC 3339 time (2025-01-31T12:00:00Z)"
        ))
    })?;
    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
    Ok(Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Milliseconds as seconds.
fn secs(ms: Option<f64>) -> Value {
    ms.map_or(Value::Null, |ms| json!(ms / 1000.0))
}

fn band(b: Option<Band>) -> Value {
    b.map_or(Value::Null, |b| json!(b.as_str()))
}

fn trend(t: Option<Trend>) -> Value {
    t.map_or(Value::Null, |t| json!(t.as_str()))
}

fn rate(r: Option<f64>) -> Value {
    r.map_or(Value::Null, |r| json!(r))
}

/// The `--json` answer for one plan.
fn to_json(plan: &str, m: &Metrics) -> Value {
    let q = &m.query;
    let (c, p) = (&m.current, &m.previous);
    let days = q.days();
    let bands = Bands::of(c, days);
    let (prev_from, prev_to) = q.previous();
    let start = |b: &metrics::Bucket| stamp(b.start);
    json!({
        "plan": plan,
        "env": q.env,
        "from": stamp(q.from),
        "to": stamp(q.to),
        "by": q.by.as_str(),
        "days": days,
        "rework_window_seconds": q.rework_window.num_seconds(),
        "previous_window": { "from": stamp(prev_from), "to": stamp(prev_to) },
        "deployment_frequency": {
            "deployments": c.deployments,
            "days": days,
            "per_day": c.deployments as f64 / days,
            "per_week": c.deployments as f64 * 7.0 / days,
            "band": bands.frequency.as_str(),
            "trend": trend(Trend::of(Some(c.deployments as f64), Some(p.deployments as f64))),
            "previous": { "deployments": p.deployments, "per_day": p.deployments as f64 / days },
            "series": m.buckets.iter().map(|b| json!({
                "start": start(b),
                "deployments": b.figures.deployments,
            })).collect::<Vec<_>>(),
        },
        "lead_time": {
            "median_seconds": secs(c.lead_median_ms()),
            "p90_seconds": secs(c.lead_p90_ms().map(|v| v as f64)),
            "commits": c.commits(),
            "deployments": c.deployments,
            "capped": m.capped,
            "band": band(bands.lead),
            "trend": trend(Trend::of(c.lead_median_ms(), p.lead_median_ms())),
            "previous": {
                "median_seconds": secs(p.lead_median_ms()),
                "p90_seconds": secs(p.lead_p90_ms().map(|v| v as f64)),
                "commits": p.commits(),
            },
            "series": m.buckets.iter().map(|b| json!({
                "start": start(b),
                "median_seconds": secs(b.figures.lead_median_ms()),
                "commits": b.figures.commits(),
            })).collect::<Vec<_>>(),
        },
        "change_failure_rate": {
            "failed": c.failed,
            "total": c.total,
            "rate": rate(c.failure_rate()),
            "band": band(bands.failure),
            "trend": trend(Trend::of(c.failure_rate(), p.failure_rate())),
            "previous": { "failed": p.failed, "total": p.total, "rate": rate(p.failure_rate()) },
            "series": m.buckets.iter().map(|b| json!({
                "start": start(b),
                "failed": b.figures.failed,
                "total": b.figures.total,
                "rate": rate(b.figures.failure_rate()),
            })).collect::<Vec<_>>(),
        },
        "recovery_time": {
            "median_seconds": secs(c.recovery_median_ms()),
            "failures": c.failed,
            "recovered": c.recovered,
            "band": band(bands.recovery),
            "trend": trend(Trend::of(c.recovery_median_ms(), p.recovery_median_ms())),
            "previous": {
                "median_seconds": secs(p.recovery_median_ms()),
                "failures": p.failed,
                "recovered": p.recovered,
            },
            "series": m.buckets.iter().map(|b| json!({
                "start": start(b),
                "median_seconds": secs(b.figures.recovery_median_ms()),
                "failures": b.figures.failed,
                "recovered": b.figures.recovered,
            })).collect::<Vec<_>>(),
        },
        "rework_rate": {
            "rework": c.rework,
            "total": c.total,
            "rate": rate(c.rework_rate()),
            "band": band(bands.rework),
            "trend": trend(Trend::of(c.rework_rate(), p.rework_rate())),
            "previous": { "rework": p.rework, "total": p.total, "rate": rate(p.rework_rate()) },
            "series": m.buckets.iter().map(|b| json!({
                "start": start(b),
                "rework": b.figures.rework,
                "total": b.figures.total,
                "rate": rate(b.figures.rework_rate()),
            })).collect::<Vec<_>>(),
        },
    })
}

/// The table for one plan.
fn print_text(plan: &str, m: &Metrics) {
    let q = &m.query;
    let days = q.days();
    crate::outln!(
        "DORA metrics of plan {} on {}: {} to {} ({} days, by {}), against the {} days before",
        clean(plan),
        clean(&q.env),
        q.from.format("%Y-%m-%d %H:%M UTC"),
        q.to.format("%Y-%m-%d %H:%M UTC"),
        days.round(),
        q.by.as_str(),
        days.round()
    );
    crate::outln!("");
    let mut rows: Vec<[String; 6]> = vec![[
        "METRIC".into(),
        "FIGURE".into(),
        "COUNTS".into(),
        "BAND".into(),
        "TREND".into(),
        format!("BY {}", q.by.as_str().to_uppercase()),
    ]];
    rows.extend(metrics::table(m).into_iter().map(|r| {
        [
            r.metric.to_string(),
            r.figure,
            r.counts,
            r.band.map_or("—".to_string(), |b| b.as_str().to_string()),
            r.trend,
            r.series,
        ]
    }));
    super::envs::print_table(&rows);
    crate::outln!("");
    crate::outln!(
        "bands: DORA's 2023 State of DevOps clusters (rework rate: the change failure thresholds); a failure is a deployment that failed, was rolled back, has an incident, or was followed by a hotfix or redeploy within {}",
        crate::plan::format_duration(q.rework_window.to_std().unwrap_or_default())
    );
    if m.capped {
        crate::outln!(
            "lead time is over the newest {} commits only",
            metrics::MAX_TRACKED_COMMITS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_dates_name_their_flag() {
        assert_eq!(span("--since", "90d").unwrap(), Duration::days(90));
        assert_eq!(span("--since", "2w").unwrap(), Duration::days(14));
        assert_eq!(span("--since", "36h").unwrap(), Duration::hours(36));
        for bad in ["", "ninety", "0d", "90x", "-3d", "99999999d"] {
            let e = span("--since", bad).unwrap_err().to_string();
            assert!(e.starts_with("--since: bad duration"), "{bad}: {e}");
        }
        let to = date("--to", "2025-03-31", true).unwrap();
        assert_eq!(to, Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap());
        let from = date("--from", "2025-03-01T12:00:00+02:00", false).unwrap();
        assert_eq!(from, Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap());
        let e = date("--from", "yesterday", false).unwrap_err().to_string();
        assert!(e.starts_with("--from: bad date `yesterday`"), "{e}");
    }
}
