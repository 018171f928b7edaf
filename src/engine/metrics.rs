//! DORA delivery metrics of one environment over a window of time (`flightdeck metrics`), from a
//! plan's finished-release index (one [`Summary`] per release, streamed, never all in memory)
//! and its incidents. Pure: the caller hands the summaries and the incidents in; nothing here
//! reads a file or prints.
//!
//! The definitions (after DORA's guide and Google's Four Keys; the README says the same):
//! - a **deployment** to ENV is a finished release that ran something there (a partial release
//!   and a redeploy count; one that never reached ENV does not); it **succeeded** when every
//!   stage's last attempt there succeeded (a release rolled back later still deployed), at the
//!   time its last deploy run there finished;
//! - **deployment frequency**: successful deployments;
//! - **lead time for changes**: for each commit of a successful deployment's journaled range
//!   that no earlier successful deployment to ENV shipped, that deployment's finish minus the
//!   commit's time (never below 0); median and 90th percentile;
//! - **change failure rate**: deployments that failed there, were rolled back (fully or on some
//!   targets, or whose rollback failed), have an incident on ENV naming them, or were followed
//!   on ENV by a hotfix or a redeploy (release type `hotfix` or `rollback`) within the rework
//!   window; over all deployments;
//! - **failed deployment recovery time**: per failure, from the deployment's finish to the next
//!   successful deployment or finished rollback on ENV; for one failing by its incident only,
//!   from the incident's opening to its resolution; median;
//! - **rework rate**: deployments of type `hotfix` or `rollback` (redeploys) over all.
//!
//! Each figure is counted for the window and for the one of the same length before it (the
//! trend), and per bucket (day, week or month) of the window. Times are UTC.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};

use super::history::{EnvOutcome, Summary};
use super::incidents::Incident;
use crate::event::ReleaseType;
use crate::plan::Plan;

/// Most distinct commits followed at once (the two windows together). Lead-time percentiles are
/// exact: every commit's lead time is kept (a few dozen bytes each) and sorted, so memory grows
/// with the commits in the windows, not with the releases; past this many the newest ones read
/// (the index is read newest first) are used and the answer says it is capped.
pub const MAX_TRACKED_COMMITS: usize = 1_000_000;

/// The buckets of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Day,
    /// ISO weeks, from Monday 00:00 UTC.
    Week,
    Month,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Day => "day",
            By::Week => "week",
            By::Month => "month",
        }
    }

    /// The start of the bucket holding `t`.
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let d = t.date_naive();
        let d = match self {
            By::Day => d,
            By::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
            By::Month => d.with_day(1).unwrap_or(d),
        };
        Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    /// The start of the bucket after the one starting at `start`.
    pub fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            By::Day => start + Duration::days(1),
            By::Week => start + Duration::days(7),
            By::Month => start
                .checked_add_months(Months::new(1))
                .unwrap_or(start + Duration::days(31)),
        }
    }
}

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub env: String,
    /// The window: from (included) to (excluded).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: By,
    /// A hotfix or redeploy this soon after a deployment makes that deployment a failure.
    pub rework_window: Duration,
}

impl Query {
    /// The window of the same length just before.
    pub fn previous(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.from - (self.to - self.from), self.from)
    }

    /// The window's length in days.
    pub fn days(&self) -> f64 {
        (self.to - self.from).num_milliseconds() as f64 / 86_400_000.0
    }

    /// The starts of the buckets covering the window, oldest first.
    pub fn bucket_starts(&self) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = self.by.floor(self.from);
        while t < self.to {
            out.push(t);
            t = self.by.next(t);
        }
        out
    }
}

/// DORA's performance bands, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    Low,
    Medium,
    High,
    Elite,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::Elite => "elite",
        }
    }
}

const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: f64 = 24.0 * HOUR_MS;

/// The band thresholds: the boundaries between the clusters of the 2023 Accelerate State of
/// DevOps report (DORA), anything beyond its medium cluster being low (see the README).
pub mod thresholds {
    /// Deployments per day above which deployment frequency is elite (on demand, several a day).
    pub const FREQUENCY_ELITE_PER_DAY: f64 = 1.0;
    /// At least one a week: high.
    pub const FREQUENCY_HIGH_PER_DAY: f64 = 1.0 / 7.0;
    /// At least one a month (30 days): medium.
    pub const FREQUENCY_MEDIUM_PER_DAY: f64 = 1.0 / 30.0;
    /// Lead time below one day: elite; one week: high; one month (30 days): medium.
    pub const LEAD_ELITE_DAYS: f64 = 1.0;
    pub const LEAD_HIGH_DAYS: f64 = 7.0;
    pub const LEAD_MEDIUM_DAYS: f64 = 30.0;
    /// Change failure rate at most 5%: elite; 10%: high; 15%: medium. Rework rate, which DORA
    /// has no clusters for, is banded the same way.
    pub const FAILURE_ELITE: f64 = 0.05;
    pub const FAILURE_HIGH: f64 = 0.10;
    pub const FAILURE_MEDIUM: f64 = 0.15;
    /// Recovery below one hour: elite; one day: high; one week: medium.
    pub const RECOVERY_ELITE_HOURS: f64 = 1.0;
    pub const RECOVERY_HIGH_HOURS: f64 = 24.0;
    pub const RECOVERY_MEDIUM_HOURS: f64 = 24.0 * 7.0;
}

/// The band of `deployments` successful deployments in `days`.
pub fn frequency_band(deployments: u64, days: f64) -> Band {
    use thresholds::*;
    let per_day = if days > 0.0 {
        deployments as f64 / days
    } else {
        0.0
    };
    if per_day > FREQUENCY_ELITE_PER_DAY {
        Band::Elite
    } else if per_day >= FREQUENCY_HIGH_PER_DAY {
        Band::High
    } else if per_day >= FREQUENCY_MEDIUM_PER_DAY {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a median lead time.
pub fn lead_time_band(median_ms: f64) -> Band {
    use thresholds::*;
    if median_ms < LEAD_ELITE_DAYS * DAY_MS {
        Band::Elite
    } else if median_ms < LEAD_HIGH_DAYS * DAY_MS {
        Band::High
    } else if median_ms < LEAD_MEDIUM_DAYS * DAY_MS {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a change failure rate (or a rework rate), 0 to 1.
pub fn failure_rate_band(rate: f64) -> Band {
    use thresholds::*;
    // A little slack: 1/20 computed in floating point is still 5%.
    let rate = rate - 1e-12;
    if rate <= FAILURE_ELITE {
        Band::Elite
    } else if rate <= FAILURE_HIGH {
        Band::High
    } else if rate <= FAILURE_MEDIUM {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a median recovery time.
pub fn recovery_band(median_ms: f64) -> Band {
    use thresholds::*;
    if median_ms < RECOVERY_ELITE_HOURS * HOUR_MS {
        Band::Elite
    } else if median_ms < RECOVERY_HIGH_HOURS * HOUR_MS {
        Band::High
    } else if median_ms < RECOVERY_MEDIUM_HOURS * HOUR_MS {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The median of sorted values (the mean of the middle two for an even count).
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    })
}

/// The 90th percentile of sorted values, nearest rank: the smallest value at least 90% of them
/// do not exceed.
pub fn p90(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (n * 9).div_ceil(10).max(1);
    Some(sorted[rank - 1])
}

/// Up, down or flat: a figure against the previous window's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Flat,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Flat => "flat",
        }
    }

    /// `now` against `before`; `None` when either is missing.
    pub fn of(now: Option<f64>, before: Option<f64>) -> Option<Trend> {
        let (now, before) = (now?, before?);
        Some(if (now - before).abs() < 1e-9 {
            Trend::Flat
        } else if now > before {
            Trend::Up
        } else {
            Trend::Down
        })
    }
}

/// The figures of a window or a bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Successful deployments.
    pub deployments: u64,
    /// Deployments (successful or not).
    pub total: u64,
    /// Deployments that failed, in the change-failure sense.
    pub failed: u64,
    /// Of the failures, those recovered from (the others have no recovery time yet).
    pub recovered: u64,
    /// Hotfix and redeploy deployments.
    pub rework: u64,
    /// Each new commit's lead time (ms), sorted.
    pub lead_ms: Vec<i64>,
    /// Each recovered failure's recovery time (ms), sorted.
    pub recovery_ms: Vec<i64>,
}

impl Figures {
    pub fn commits(&self) -> u64 {
        self.lead_ms.len() as u64
    }

    pub fn lead_median_ms(&self) -> Option<f64> {
        median(&self.lead_ms)
    }

    pub fn lead_p90_ms(&self) -> Option<i64> {
        p90(&self.lead_ms)
    }

    pub fn failure_rate(&self) -> Option<f64> {
        (self.total > 0).then(|| self.failed as f64 / self.total as f64)
    }

    pub fn recovery_median_ms(&self) -> Option<f64> {
        median(&self.recovery_ms)
    }

    pub fn rework_rate(&self) -> Option<f64> {
        (self.total > 0).then(|| self.rework as f64 / self.total as f64)
    }

    fn sort(&mut self) {
        self.lead_ms.sort_unstable();
        self.recovery_ms.sort_unstable();
    }
}

/// One bucket of the window's series.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub figures: Figures,
}

/// The answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub query: Query,
    pub current: Figures,
    pub previous: Figures,
    /// The window's buckets, oldest first.
    pub buckets: Vec<Bucket>,
    /// More than [`MAX_TRACKED_COMMITS`] commits: lead time is over the newest of them.
    pub capped: bool,
}

/// A release's deployment to the environment, as far as the metrics need it. Times in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deployment {
    /// When its last deploy run there finished.
    finish: i64,
    /// Every deploy run there succeeded.
    ok: bool,
    /// When its rollback there finished (fully or on some targets).
    rolled_back: Option<i64>,
    /// A rollback there was tried and failed.
    rollback_failed: bool,
    /// A hotfix or a redeploy.
    rework: bool,
    /// The first incident on the environment naming it: opened, resolved.
    incident: Option<(i64, Option<i64>)>,
    /// A hotfix or redeploy followed it within the rework window.
    reworked: bool,
}

impl Deployment {
    /// What `s` did on `env`; `None` when it never ran there.
    fn of(s: &Summary, env: &str) -> Option<Deployment> {
        let mut d: Option<Deployment> = None;
        for r in s.on_env(env) {
            // Index lines from before `deploy` was recorded: what the outcome tells.
            let (at, ok) = match r.deploy {
                Some(run) => (run.at, run.ok),
                None => (r.at, r.outcome != EnvOutcome::Failed),
            };
            let at = at.timestamp_millis();
            let d = d.get_or_insert(Deployment {
                finish: at,
                ok: true,
                rolled_back: None,
                rollback_failed: false,
                rework: matches!(s.rtype, ReleaseType::Hotfix | ReleaseType::Rollback),
                incident: None,
                reworked: false,
            });
            d.finish = d.finish.max(at);
            d.ok &= ok;
            match r.outcome {
                EnvOutcome::RolledBack => {
                    let t = r.at.timestamp_millis();
                    d.rolled_back = Some(d.rolled_back.map_or(t, |b| b.max(t)));
                }
                // Failed although its deploy run succeeded: its rollback failed.
                EnvOutcome::Failed if ok => d.rollback_failed = true,
                _ => {}
            }
        }
        d
    }

    /// Whether it counts as a change failure.
    fn failed(&self) -> bool {
        !self.ok
            || self.rolled_back.is_some()
            || self.rollback_failed
            || self.incident.is_some()
            || self.reworked
    }
}

/// The metrics of `q` over the summaries `summaries()` yields (a plan's finished releases, in
/// any order; the index's newest-first order needs one pass, another order may need a second,
/// hence a function giving the stream) and the plan's incidents.
pub fn compute<I, F>(q: &Query, mut summaries: F, incidents: &[Incident]) -> Metrics
where
    F: FnMut() -> I,
    I: Iterator<Item = Summary>,
{
    let (prev_from, _) = q.previous();
    let lo = prev_from.timestamp_millis();
    let from = q.from.timestamp_millis();
    let to = q.to.timestamp_millis();
    let horizon = to.saturating_add(q.rework_window.num_milliseconds().max(0));
    let rework_ms = q.rework_window.num_milliseconds();

    // The first incident on the environment naming each release.
    let mut incident_of: HashMap<&str, (i64, Option<i64>)> = HashMap::new();
    for i in incidents.iter().filter(|i| i.env == q.env) {
        let Some(r) = i.release.as_deref() else { continue };
        let this = (
            i.opened_at.timestamp_millis(),
            i.resolved_at.map(|t| t.timestamp_millis()),
        );
        incident_of
            .entry(r)
            .and_modify(|e| {
                if this.0 < e.0 {
                    *e = this
                }
            })
            .or_insert(this);
    }

    // Deployments finishing from the previous window's start to the horizon (a failure in the
    // window may be reworked after it); what ends a failure (successful deployments, finished
    // rollbacks) in that span, and the first one after it.
    let mut deployments: Vec<Deployment> = Vec::new();
    let mut events: Vec<i64> = Vec::new();
    let mut later: Option<i64> = None;
    // Commit key -> (the finish of the first successful deployment shipping it, its time in s),
    // for the commits of successful deployments in the two windows.
    let mut first: HashMap<u64, (i64, i64)> = HashMap::new();
    let mut capped = false;
    // A deployment before the windows was read before one in them shipping a commit not seen
    // yet: that commit may have been shipped before, so the older ones are read again.
    let mut older_seen = false;
    let mut read_again = false;

    for s in summaries() {
        let Some(mut d) = Deployment::of(&s, &q.env) else {
            continue;
        };
        let mut event = |t: i64| {
            if (lo..=horizon).contains(&t) {
                events.push(t);
            } else if t > horizon {
                later = Some(later.map_or(t, |l| l.min(t)));
            }
        };
        if d.ok {
            event(d.finish);
        }
        if let Some(t) = d.rolled_back {
            event(t);
        }
        if (lo..=horizon).contains(&d.finish) {
            d.incident = incident_of.get(s.id.as_str()).copied();
            deployments.push(d);
        }
        if !d.ok || d.finish >= to {
            continue;
        }
        let shipped = s.shipped.as_deref().unwrap_or_default();
        if d.finish >= lo {
            for c in shipped {
                let Some(key) = c.key() else { continue };
                let full = first.len() >= MAX_TRACKED_COMMITS;
                match first.entry(key) {
                    Entry::Occupied(mut e) => {
                        if d.finish < e.get().0 {
                            *e.get_mut() = (d.finish, c.1);
                        }
                    }
                    Entry::Vacant(_) if full => capped = true,
                    Entry::Vacant(e) => {
                        read_again |= older_seen;
                        e.insert((d.finish, c.1));
                    }
                }
            }
        } else if !shipped.is_empty() {
            older_seen = true;
            lower(&mut first, shipped, d.finish);
        }
    }
    if read_again {
        for s in summaries() {
            if let Some(d) = Deployment::of(&s, &q.env)
                && d.ok
                && d.finish < lo
            {
                lower(&mut first, s.shipped.as_deref().unwrap_or_default(), d.finish);
            }
        }
    }

    deployments.sort_by_key(|d| d.finish);
    for i in 1..deployments.len() {
        if deployments[i].rework && deployments[i].finish - deployments[i - 1].finish <= rework_ms {
            deployments[i - 1].reworked = true;
        }
    }
    events.sort_unstable();
    let next_event = |after: i64| -> Option<i64> {
        let i = events.partition_point(|e| *e <= after);
        events.get(i).copied().or(later)
    };

    let starts = q.bucket_starts();
    let bucket_of = |t: i64| -> Option<usize> {
        let i = starts.partition_point(|s| s.timestamp_millis() <= t);
        i.checked_sub(1)
    };
    let mut buckets: Vec<Bucket> = starts
        .iter()
        .map(|s| Bucket {
            start: *s,
            figures: Figures::default(),
        })
        .collect();
    let mut current = Figures::default();
    let mut previous = Figures::default();

    for d in &deployments {
        let in_current = (from..to).contains(&d.finish);
        if !in_current && !(lo..from).contains(&d.finish) {
            continue;
        }
        let recovery = if !d.failed() {
            None
        } else if !d.ok || d.rolled_back.is_some() || d.rollback_failed || d.incident.is_none() {
            // A failed or rolled-back deployment (or one reworked): until the next successful
            // deployment or finished rollback there.
            Some(next_event(d.finish).map(|e| (e - d.finish).max(0)))
        } else {
            // Failing by its incident only: until the incident was resolved.
            d.incident
                .map(|(opened, resolved)| resolved.map(|r| (r - opened).max(0)))
        };
        let add = |f: &mut Figures| {
            f.total += 1;
            f.deployments += u64::from(d.ok);
            f.rework += u64::from(d.rework);
            if let Some(rec) = recovery {
                f.failed += 1;
                if let Some(ms) = rec {
                    f.recovered += 1;
                    f.recovery_ms.push(ms);
                }
            }
        };
        if in_current {
            add(&mut current);
            if let Some(b) = bucket_of(d.finish) {
                add(&mut buckets[b].figures);
            }
        } else {
            add(&mut previous);
        }
    }
    for (finish, time) in first.into_values() {
        let lead = (finish - time.saturating_mul(1000)).max(0);
        if (from..to).contains(&finish) {
            current.lead_ms.push(lead);
            if let Some(b) = bucket_of(finish) {
                buckets[b].figures.lead_ms.push(lead);
            }
        } else if (lo..from).contains(&finish) {
            previous.lead_ms.push(lead);
        }
    }
    current.sort();
    previous.sort();
    for b in &mut buckets {
        b.figures.sort();
    }
    Metrics {
        query: q.clone(),
        current,
        previous,
        buckets,
        capped,
    }
}

/// Commits also shipped by a successful deployment finishing at `finish`: first shipped then, if
/// that is earlier.
fn lower(first: &mut HashMap<u64, (i64, i64)>, shipped: &[super::history::ShippedCommit], finish: i64) {
    for c in shipped {
        if let Some(e) = c.key().and_then(|k| first.get_mut(&k))
            && finish < e.0
        {
            e.0 = finish;
        }
    }
}

/// The plan's last environment in DAG order (stages ordered by their needs, ties in file
/// order; environments by the first stage deploying to each): usually prod. `None` when no
/// stage deploys anywhere.
pub fn last_env(plan: &Plan) -> Option<String> {
    let n = plan.stages.len();
    let index: HashMap<&str, usize> = plan
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut waiting: Vec<usize> = plan.stages.iter().map(|s| s.needs.len()).collect();
    let mut done = vec![false; n];
    let mut order: Vec<usize> = Vec::with_capacity(n);
    while order.len() < n {
        // The first stage in file order whose needs are all placed (a valid plan has no cycle;
        // should one slip through, the rest follow in file order).
        let next = (0..n)
            .find(|&i| !done[i] && waiting[i] == 0)
            .or_else(|| (0..n).find(|&i| !done[i]));
        let Some(i) = next else { break };
        done[i] = true;
        order.push(i);
        for (j, s) in plan.stages.iter().enumerate() {
            if !done[j] && s.needs.iter().any(|need| index.get(need.as_str()) == Some(&i)) {
                waiting[j] = waiting[j].saturating_sub(1);
            }
        }
    }
    let mut envs: Vec<&str> = Vec::new();
    for i in order {
        if let Some(e) = plan.stages[i].environment.as_deref()
            && !envs.contains(&e)
        {
            envs.push(e);
        }
    }
    envs.last().map(|e| e.to_string())
}

/// The bands of one window's figures.
pub struct Bands {
    pub frequency: Band,
    pub lead: Option<Band>,
    pub failure: Option<Band>,
    pub recovery: Option<Band>,
    pub rework: Option<Band>,
}

impl Bands {
    pub fn of(f: &Figures, days: f64) -> Bands {
        Bands {
            frequency: frequency_band(f.deployments, days),
            lead: f.lead_median_ms().map(lead_time_band),
            failure: f.failure_rate().map(failure_rate_band),
            recovery: f.recovery_median_ms().map(recovery_band),
            // DORA has no clusters for rework rate: banded like change failure rate.
            rework: f.rework_rate().map(failure_rate_band),
        }
    }
}

/// A series as a line of block characters, one per bucket: `▁` for 0, `▂` to `█` in
/// proportion to the largest value, `·` where there is nothing to measure (no deployment, no
/// commit, no failure).
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().flatten().fold(0.0_f64, |a, &b| a.max(b));
    values
        .iter()
        .map(|v| match v {
            None => '·',
            Some(v) if *v <= 0.0 || max <= 0.0 => BARS[0],
            Some(v) => BARS[1 + ((v / max) * 6.0).round().clamp(0.0, 6.0) as usize],
        })
        .collect()
}

/// `250ms`, `12s`, `3m4s`, `5h6m`, `2d3h`.
pub fn span_text(ms: f64) -> String {
    if ms < 999.5 {
        return format!("{}ms", ms.round() as i64);
    }
    let s = (ms / 1000.0).round() as i64;
    match s {
        ..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn percent(r: f64) -> String {
    format!("{:.1}%", r * 100.0)
}

/// How often: `2.3 a day`, `1.5 a week`, `0.8 a month`.
pub fn frequency_text(deployments: u64, days: f64) -> String {
    let per_day = deployments as f64 / days;
    if per_day >= 1.0 {
        format!("{per_day:.1} a day")
    } else if per_day * 7.0 >= 1.0 {
        format!("{:.1} a week", per_day * 7.0)
    } else {
        format!("{:.1} a month", per_day * 30.0)
    }
}

/// `up from 3`, `down from 20.0%`, `flat (3)`, `—` (nothing to compare with).
pub fn trend_text(t: Option<Trend>, before: Option<String>) -> String {
    match (t, before) {
        (Some(Trend::Flat), Some(b)) => format!("flat ({b})"),
        (Some(t), Some(b)) => format!("{} from {b}", t.as_str()),
        _ => "—".to_string(),
    }
}

/// One metric of a window as a person reads it: what it is, the figure, the counts behind it,
/// its band, its trend against the window before, and its series as a sparkline. The terminal
/// table (`flightdeck metrics`) and the cockpit's Metrics view both show these.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: &'static str,
    pub figure: String,
    pub counts: String,
    pub band: Option<Band>,
    pub trend: String,
    pub series: String,
}

/// The five rows of `m`.
pub fn table(m: &Metrics) -> Vec<Row> {
    let q = &m.query;
    let (c, p) = (&m.current, &m.previous);
    let days = q.days();
    let bands = Bands::of(c, days);
    let series = |f: &dyn Fn(&Figures) -> Option<f64>| -> String {
        let v: Vec<Option<f64>> = m.buckets.iter().map(|b| f(&b.figures)).collect();
        sparkline(&v)
    };
    let rate_or_dash = |r: Option<f64>| r.map_or("—".to_string(), percent);
    vec![
        Row {
            metric: "deployment frequency",
            figure: frequency_text(c.deployments, days),
            counts: format!("{} deployments / {} days", c.deployments, days.round()),
            band: Some(bands.frequency),
            trend: trend_text(
                Trend::of(Some(c.deployments as f64), Some(p.deployments as f64)),
                Some(p.deployments.to_string()),
            ),
            series: series(&|f| Some(f.deployments as f64)),
        },
        Row {
            metric: "lead time for changes",
            figure: match (c.lead_median_ms(), c.lead_p90_ms()) {
                (Some(med), Some(p90)) => format!("median {}, p90 {}", span_text(med), span_text(p90 as f64)),
                _ => "—".into(),
            },
            counts: format!("{} commits / {} deployments", c.commits(), c.deployments),
            band: bands.lead,
            trend: trend_text(
                Trend::of(c.lead_median_ms(), p.lead_median_ms()),
                p.lead_median_ms().map(span_text),
            ),
            series: series(&|f| f.lead_median_ms()),
        },
        Row {
            metric: "change failure rate",
            figure: rate_or_dash(c.failure_rate()),
            counts: format!("{} failed / {} deployments", c.failed, c.total),
            band: bands.failure,
            trend: trend_text(
                Trend::of(c.failure_rate(), p.failure_rate()),
                p.failure_rate().map(percent),
            ),
            series: series(&|f| f.failure_rate()),
        },
        Row {
            metric: "failed deployment recovery time",
            figure: c
                .recovery_median_ms()
                .map_or("—".to_string(), |ms| format!("median {}", span_text(ms))),
            counts: format!("{} recovered / {} failures", c.recovered, c.failed),
            band: bands.recovery,
            trend: trend_text(
                Trend::of(c.recovery_median_ms(), p.recovery_median_ms()),
                p.recovery_median_ms().map(span_text),
            ),
            series: series(&|f| f.recovery_median_ms()),
        },
        Row {
            metric: "rework rate",
            figure: rate_or_dash(c.rework_rate()),
            counts: format!("{} rework / {} deployments", c.rework, c.total),
            band: bands.rework,
            trend: trend_text(
                Trend::of(c.rework_rate(), p.rework_rate()),
                p.rework_rate().map(percent),
            ),
            series: series(&|f| f.rework_rate()),
        },
    ]
}

/// The metrics of plan `plan` in `store` for `q`: its finished-release index streamed (releases
/// finished but not indexed yet are indexed on the way) and its incidents. A broken incidents
/// journal is returned beside the answer: what chains before the break counts.
pub fn measure(
    store: &crate::journal::Store,
    plan: &str,
    q: &Query,
) -> Result<(Metrics, Option<crate::journal::JournalError>), crate::journal::JournalError> {
    let history = super::history::History::open(store, plan)?;
    history.open_releases()?;
    let (incidents, broken) = super::incidents::Incidents::of_plan(store, plan)?
        .load_lenient()
        .unwrap_or_else(|e| (Vec::new(), Some(e)));
    let m = compute(q, || history.finished().map(|s| history.complete(s)), &incidents);
    Ok((m, broken))
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_largest_value() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(1.0), Some(2.0), None, Some(4.0)]),
            "▁▄▅·█"
        );
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)]), "▁▁");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(span_text(12_400.0), "12s");
        assert_eq!(span_text(240.4), "240ms");
        assert_eq!(span_text(3_726_000.0), "1h2m");
        assert_eq!(span_text(90_000_000.0), "1d1h");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::history::{DeployRun, EnvResult, ShippedCommit};
    use crate::event::FinalState;

    /// 2025-03-03 (a Monday) plus `h` hours.
    fn at(h: f64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 3, 0, 0, 0).unwrap() + Duration::milliseconds((h * HOUR_MS) as i64)
    }

    fn commit(n: u64, hours: f64) -> ShippedCommit {
        ShippedCommit(format!("{n:016x}"), at(hours).timestamp())
    }

    /// A release on prod: `outcome` there at hour `h` (a rollback, if any, an hour later).
    fn release(
        id: &str,
        rtype: ReleaseType,
        h: f64,
        outcome: EnvOutcome,
        shipped: Vec<ShippedCommit>,
    ) -> Summary {
        let (at_, deploy) = match outcome {
            EnvOutcome::Deployed => (at(h), DeployRun { at: at(h), ok: true }),
            EnvOutcome::Failed => (at(h), DeployRun { at: at(h), ok: false }),
            EnvOutcome::RolledBack => (at(h + 1.0), DeployRun { at: at(h), ok: true }),
        };
        Summary {
            id: id.into(),
            version: id.into(),
            rtype,
            state: FinalState::Succeeded,
            reason: String::new(),
            created_at: Some(at(h - 0.1)),
            finished_at: at_,
            started_by: "ada".into(),
            approvers: vec![],
            progress: (1, 1),
            commit: None,
            envs: vec![
                EnvResult {
                    env: "staging".into(),
                    target: None,
                    outcome: EnvOutcome::Deployed,
                    at: at(h - 0.05),
                    deploy: Some(DeployRun {
                        at: at(h - 0.05),
                        ok: true,
                    }),
                },
                EnvResult {
                    env: "prod".into(),
                    target: None,
                    outcome,
                    at: at_,
                    deploy: Some(deploy),
                },
            ],
            only: vec![],
            stage_ms: Default::default(),
            journal_len: 0,
            shipped: Some(shipped),
        }
    }

    fn staging_only(id: &str, h: f64) -> Summary {
        let mut s = release(
            id,
            ReleaseType::Minor,
            h,
            EnvOutcome::Deployed,
            vec![commit(99, h - 1.0)],
        );
        s.envs.retain(|e| e.env == "staging");
        s
    }

    fn query(from_h: f64, to_h: f64, by: By) -> Query {
        Query {
            env: "prod".into(),
            from: at(from_h),
            to: at(to_h),
            by,
            rework_window: Duration::hours(24),
        }
    }

    fn incident(release: &str, opened_h: f64, resolved_h: Option<f64>) -> Incident {
        Incident {
            number: 1,
            env: "prod".into(),
            release: Some(release.into()),
            summary: "down".into(),
            opened_by: "bob".into(),
            opened_at: at(opened_h),
            resolved_by: resolved_h.map(|_| "bob".into()),
            resolved_at: resolved_h.map(at),
            note: String::new(),
            links: vec![],
        }
    }

    const H: i64 = 3_600_000;

    #[test]
    fn every_kind_of_deployment_counts_as_defined() {
        use EnvOutcome::*;
        use ReleaseType::*;
        // Hours from Monday 2025-03-03; the window is that week and the next (336 h).
        let all = vec![
            // Before both windows: ships commit 10, which 1.4 ships again.
            release("0.1", Minor, -400.0, Deployed, vec![commit(10, -405.0)]),
            // Before the window (the previous one): ships commits 1 and 2.
            release(
                "0.9",
                Minor,
                -30.0,
                Deployed,
                vec![commit(1, -40.0), commit(2, -35.0)],
            ),
            // Ships 2 again (not new) and 3.
            release(
                "1.0",
                Minor,
                10.0,
                Deployed,
                vec![commit(2, -35.0), commit(3, 4.0)],
            ),
            // Failed on prod: its commit 4 is shipped by the next one.
            release("1.1", Minor, 20.0, Failed, vec![commit(4, 15.0)]),
            release(
                "1.2",
                Minor,
                30.0,
                Deployed,
                vec![commit(4, 15.0), commit(5, 28.0)],
            ),
            // A hotfix 10 h after 1.2: 1.2 failed.
            release("1.2.1", Hotfix, 40.0, Deployed, vec![commit(6, 39.0)]),
            // Deployed, then rolled back an hour later.
            release("1.3", Minor, 100.0, RolledBack, vec![commit(7, 90.0)]),
            // An incident names it, opened at 130 h, resolved at 133 h.
            release(
                "1.4",
                Minor,
                120.0,
                Deployed,
                vec![commit(8, 110.0), commit(10, -405.0)],
            ),
            // A redeploy 50 h later: outside the 24 h window, 1.4 is not reworked by it.
            release("1.4-2", Rollback, 170.0, Deployed, vec![]),
            // Never reached prod.
            staging_only("1.5", 200.0),
        ];
        let incidents = vec![incident("1.4", 130.0, Some(133.0))];
        let q = query(0.0, 336.0, By::Week);
        let m = compute(&q, || all.clone().into_iter(), &incidents);
        let c = &m.current;
        // Deployments to prod: 1.0 1.1 1.2 1.2.1 1.3 1.4 1.4-2; successful: all but 1.1.
        assert_eq!((c.deployments, c.total), (6, 7));
        // Failed: 1.1 (failed), 1.2 (hotfix after it), 1.3 (rolled back), 1.4 (incident).
        assert_eq!(c.failed, 4);
        assert_eq!(c.rework, 2);
        // New commits: 3 (1.0 at 10 h, made at 4 h: 6 h), 4 and 5 (1.2 at 30 h: 15 h, 2 h), 6
        // (1 h), 7 (10 h), 8 (10 h). Commit 2 was shipped in the previous window, 10 before
        // both.
        assert_eq!(c.lead_ms, [H, 2 * H, 6 * H, 10 * H, 10 * H, 15 * H]);
        assert_eq!(c.lead_median_ms(), Some(8.0 * H as f64));
        assert_eq!(c.lead_p90_ms(), Some(15 * H));
        // Recovery: 1.1 (20 h) until 1.2 (30 h): 10 h; 1.2 (30 h) until 1.2.1 (40 h): 10 h;
        // 1.3 (100 h) until its rollback (101 h): 1 h; 1.4's incident: 3 h.
        assert_eq!(c.recovery_ms, [H, 3 * H, 10 * H, 10 * H]);
        assert_eq!(c.recovered, 4);
        assert_eq!(c.recovery_median_ms(), Some(6.5 * H as f64));
        // The previous window: 0.9 only, its two commits.
        assert_eq!(
            (m.previous.deployments, m.previous.total, m.previous.failed),
            (1, 1, 0)
        );
        assert_eq!(m.previous.lead_ms, [5 * H, 10 * H]);
        // Two weekly buckets: 1.0 .. 1.4 in the first, 1.4-2 in the second.
        assert_eq!(m.buckets.len(), 2);
        assert_eq!(m.buckets[0].start, at(0.0));
        assert_eq!(
            (m.buckets[0].figures.deployments, m.buckets[0].figures.total),
            (5, 6)
        );
        assert_eq!(
            (m.buckets[1].figures.deployments, m.buckets[1].figures.rework),
            (1, 1)
        );
        assert!(!m.capped);

        // The same answers whatever the order the summaries come in (oldest first here: 0.1,
        // before both windows, is read before 1.4 ships its commit again: a second pass).
        let reversed = compute(&q, || all.clone().into_iter().rev(), &incidents);
        assert_eq!(reversed, m);

        // A redeploy within 24 h of 1.4 makes it reworked (it failed already: counted once).
        let mut more = all.clone();
        more.push(release("1.4-3", Rollback, 125.0, Deployed, vec![]));
        let m2 = compute(&q, || more.clone().into_iter(), &incidents);
        assert_eq!(
            (m2.current.failed, m2.current.total, m2.current.rework),
            (4, 8, 3)
        );
    }

    #[test]
    fn an_unresolved_incident_and_a_failure_not_recovered_have_no_recovery_time() {
        use EnvOutcome::*;
        let all = vec![
            release("1.0", ReleaseType::Minor, 10.0, Deployed, vec![]),
            release("1.1", ReleaseType::Minor, 20.0, Failed, vec![]),
        ];
        let q = query(0.0, 48.0, By::Day);
        let m = compute(&q, || all.clone().into_iter(), &[incident("1.0", 12.0, None)]);
        assert_eq!((m.current.failed, m.current.recovered), (2, 0));
        assert_eq!(m.current.recovery_median_ms(), None);
        // A success after the window still ends the failure in it.
        let mut later = all.clone();
        later.push(release("1.2", ReleaseType::Minor, 200.0, Deployed, vec![]));
        let m = compute(&q, || later.clone().into_iter(), &[]);
        assert_eq!(m.current.recovery_ms, [180 * H]);
        assert_eq!(m.buckets.len(), 2);
        assert_eq!(m.current.total, 2, "1.2 is after the window");
    }

    #[test]
    fn lead_time_is_never_negative_and_a_commit_counts_once() {
        let all = vec![
            // A commit dated after its deployment (a skewed clock).
            release(
                "1.0",
                ReleaseType::Minor,
                10.0,
                EnvOutcome::Deployed,
                vec![commit(1, 12.0)],
            ),
            release(
                "1.1",
                ReleaseType::Minor,
                20.0,
                EnvOutcome::Deployed,
                vec![commit(1, 12.0)],
            ),
        ];
        let m = compute(&query(0.0, 48.0, By::Day), || all.clone().into_iter(), &[]);
        assert_eq!(m.current.lead_ms, [0]);
    }

    #[test]
    fn an_index_line_from_before_metrics_still_counts() {
        // No `deploy`, no `shipped`: what the outcome says.
        let line = r#"{"id":"1.0","version":"1.0","type":"minor","state":"succeeded","reason":"","created_at":"2025-03-03T09:00:00Z","finished_at":"2025-03-03T10:00:00Z","started_by":"ada","approvers":[],"progress":[1,1],"envs":[{"env":"prod","outcome":"deployed","at":"2025-03-03T10:00:00Z"}],"stage_ms":{},"journal_len":10}"#;
        let s: Summary = serde_json::from_str(line).unwrap();
        assert_eq!(s.shipped, None);
        assert_eq!(s.envs[0].deploy, None);
        let m = compute(&query(0.0, 48.0, By::Day), || std::iter::once(s.clone()), &[]);
        assert_eq!(
            (m.current.deployments, m.current.total, m.current.commits()),
            (1, 1, 0)
        );
    }

    #[test]
    fn percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5.0));
        assert_eq!(median(&[1, 2, 3, 10]), Some(2.5));
        assert_eq!(p90(&[7]), Some(7));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(p90(&v), Some(9));
        let v: Vec<i64> = (1..=11).collect();
        assert_eq!(p90(&v), Some(10));
    }

    #[test]
    fn bands_follow_the_thresholds() {
        assert_eq!(frequency_band(91, 90.0), Band::Elite);
        assert_eq!(frequency_band(90, 90.0), Band::High);
        assert_eq!(frequency_band(13, 90.0), Band::High);
        assert_eq!(frequency_band(12, 90.0), Band::Medium);
        assert_eq!(frequency_band(3, 90.0), Band::Medium);
        assert_eq!(frequency_band(2, 90.0), Band::Low);
        assert_eq!(frequency_band(0, 90.0), Band::Low);
        assert_eq!(lead_time_band(23.0 * HOUR_MS), Band::Elite);
        assert_eq!(lead_time_band(DAY_MS), Band::High);
        assert_eq!(lead_time_band(7.0 * DAY_MS), Band::Medium);
        assert_eq!(lead_time_band(30.0 * DAY_MS), Band::Low);
        assert_eq!(failure_rate_band(1.0 / 20.0), Band::Elite);
        assert_eq!(failure_rate_band(0.1), Band::High);
        assert_eq!(failure_rate_band(0.15), Band::Medium);
        assert_eq!(failure_rate_band(0.151), Band::Low);
        assert_eq!(recovery_band(59.0 * 60_000.0), Band::Elite);
        assert_eq!(recovery_band(HOUR_MS), Band::High);
        assert_eq!(recovery_band(DAY_MS), Band::Medium);
        assert_eq!(recovery_band(7.0 * DAY_MS), Band::Low);
        assert_eq!(Trend::of(Some(2.0), Some(1.0)), Some(Trend::Up));
        assert_eq!(Trend::of(Some(1.0), Some(1.0)), Some(Trend::Flat));
        assert_eq!(Trend::of(Some(0.0), Some(1.0)), Some(Trend::Down));
        assert_eq!(Trend::of(Some(0.0), None), None);
    }

    #[test]
    fn buckets_start_on_days_mondays_and_months() {
        let t = Utc.with_ymd_and_hms(2025, 3, 5, 13, 30, 0).unwrap();
        assert_eq!(
            By::Day.floor(t),
            Utc.with_ymd_and_hms(2025, 3, 5, 0, 0, 0).unwrap()
        );
        assert_eq!(
            By::Week.floor(t),
            Utc.with_ymd_and_hms(2025, 3, 3, 0, 0, 0).unwrap()
        );
        assert_eq!(
            By::Month.floor(t),
            Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
        );
        let jan31 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            By::Month.next(jan31),
            Utc.with_ymd_and_hms(2025, 2, 1, 0, 0, 0).unwrap()
        );
        let q = Query {
            env: "prod".into(),
            from: t,
            to: t + Duration::days(90),
            by: By::Month,
            rework_window: Duration::hours(24),
        };
        let starts = q.bucket_starts();
        assert_eq!(starts.len(), 4, "March to June");
        assert_eq!(starts[0], By::Month.floor(t));
    }

    #[test]
    fn the_last_environment_in_dag_order_is_the_default() {
        // prod's stage comes first in the file but needs staging's.
        let plan = crate::plan::load_str(
            r#"
[plan]
name = "p"
[environments.prod]
[environments.staging]
[[stage]]
id = "deploy-prod"
needs = ["deploy-staging"]
environment = "prod"
run = "true"
[[stage]]
id = "deploy-staging"
environment = "staging"
run = "true"
[[stage]]
id = "announce"
needs = ["deploy-prod"]
run = "true"
"#,
            std::path::Path::new("/nowhere/flightdeck.toml"),
        )
        .unwrap();
        assert_eq!(last_env(&plan).as_deref(), Some("prod"));
    }
}
