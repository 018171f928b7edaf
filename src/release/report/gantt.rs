//! The release's runs as an SVG Gantt chart, for the HTML report: one row per run (a deploy
//! attempt or a rollback run of a stage, on a target), labelled with its name, one bar per run
//! from its start to its end on a time axis with tick labels (time since the first run
//! started), coloured by outcome (the colour is never the only sign: each bar's tooltip and the
//! table beside the chart say the outcome in words). Bars are the chart's only `<rect>`s.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Run, clock, human_ms, push_escaped, shorten};

/// Width of the label column, in SVG units (pixels).
const LABEL_W: f64 = 240.0;
/// Width of the time axis.
const CHART_W: f64 = 730.0;
const RIGHT_PAD: f64 = 30.0;
/// Height of one run's row, and of its bar.
const ROW_H: f64 = 18.0;
const BAR_H: f64 = 12.0;
/// Room above the first row for the tick labels.
const TOP: f64 = 34.0;
const BOTTOM: f64 = 8.0;
/// Narrowest bar drawn (a run of a few milliseconds stays visible).
const MIN_BAR: f64 = 2.0;
/// Longest label, in characters.
const LABEL_CHARS: usize = 38;

/// Tick steps, in milliseconds: the first giving at most [`MAX_TICKS`] intervals is used.
const STEPS: &[i64] = &[
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    172_800_000,
    604_800_000,
];
const MAX_TICKS: i64 = 8;

/// The fill of a bar by its run's outcome (`None`: still running).
pub fn colour(outcome: Option<&str>) -> &'static str {
    match outcome {
        Some("succeeded") => "#2e7d32",
        Some("failed") => "#c62828",
        Some("timed_out") => "#ef6c00",
        Some("error") => "#ad1457",
        Some("interrupted") => "#6a1b9a",
        Some("cancelled") => "#757575",
        Some(_) => "#455a64",
        None => "#1565c0",
    }
}

/// The outcomes of the legend, in order, with their words.
pub const LEGEND: &[(Option<&str>, &str)] = &[
    (Some("succeeded"), "succeeded"),
    (Some("failed"), "failed"),
    (Some("timed_out"), "timed out"),
    (Some("error"), "could not run"),
    (Some("interrupted"), "interrupted"),
    (Some("cancelled"), "cancelled"),
    (None, "running"),
];

/// The tick step for a span of `span_ms`.
fn step_for(span_ms: i64) -> i64 {
    STEPS
        .iter()
        .copied()
        .find(|s| span_ms / s <= MAX_TICKS)
        .unwrap_or_else(|| (span_ms / MAX_TICKS).max(1))
}

/// A tick's label: the time since the first start (`0s`, `30s`, `1m30s`, `2h`).
fn tick_label(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms % 1000 != 0 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if n > 0 {
            let _ = write!(out, "{n}{unit}");
        }
    }
    out
}

/// The chart of `runs` (in row order); `now` ends the bars of runs still going.
pub fn svg(runs: &[&Run], now: DateTime<Utc>) -> String {
    let Some(t0) = runs.iter().map(|r| r.started_at).min() else {
        return String::new();
    };
    let end_of = |r: &Run| r.started_at + chrono::Duration::milliseconds(r.ms(now));
    let t1 = runs.iter().map(|r| end_of(r)).max().unwrap_or(t0);
    let span = (t1 - t0).num_milliseconds().max(1);
    let width = LABEL_W + CHART_W + RIGHT_PAD;
    let height = TOP + ROW_H * runs.len() as f64 + BOTTOM;
    let x_of = |ms: i64| LABEL_W + ms as f64 / span as f64 * CHART_W;
    let mut out = String::with_capacity(512 + runs.len() * 420);
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11" role="img" aria-label="Gantt chart: {n} run(s) from {start} UTC, {span}">"##,
        n = runs.len(),
        start = clock(t0),
        span = human_ms(span),
    );
    // The time axis: a line per tick, its label above the rows.
    let step = step_for(span);
    let bottom = height - BOTTOM + 2.0;
    let _ = write!(
        out,
        r##"<text x="4" y="14" fill="#444">time since {} UTC</text>"##,
        clock(t0)
    );
    let _ = write!(
        out,
        r##"<line x1="{LABEL_W}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="#888"/>"##,
        y = TOP - 6.0,
        x2 = LABEL_W + CHART_W
    );
    let mut t = 0;
    while t <= span {
        let x = x_of(t);
        let _ = write!(
            out,
            r##"<line class="tick" x1="{x:.1}" y1="{y1:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#ddd"/><text class="tick-label" x="{x:.1}" y="{ty:.1}" text-anchor="middle" fill="#444">{}</text>"##,
            tick_label(t),
            y1 = TOP - 10.0,
            ty = TOP - 13.0,
        );
        t += step;
    }
    // One row per run: its label, its bar.
    for (i, r) in runs.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let start = (r.started_at - t0).num_milliseconds().max(0);
        let x = x_of(start);
        let w = (r.ms(now) as f64 / span as f64 * CHART_W).max(MIN_BAR);
        let _ = write!(
            out,
            r##"<text class="row-label" x="{lx:.1}" y="{ly:.1}" text-anchor="end" fill="#222">"##,
            lx = LABEL_W - 6.0,
            ly = y + ROW_H / 2.0 + 4.0,
        );
        push_escaped(&mut out, &shorten(&r.name(), LABEL_CHARS));
        out.push_str("</text>");
        let rollback = if r.kind == "rollback" {
            r##" stroke="#000" stroke-dasharray="3 2""##
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<rect class="bar" x="{x:.1}" y="{by:.1}" width="{w:.1}" height="{BAR_H}" rx="2" fill="{fill}"{rollback}><title>"##,
            by = y + (ROW_H - BAR_H) / 2.0,
            fill = colour(r.outcome),
        );
        push_escaped(&mut out, &r.name());
        let _ = write!(
            out,
            ": {}, {} from {}</title></rect>",
            r.outcome_text.as_deref().unwrap_or("running"),
            human_ms(r.ms(now)),
            clock(r.started_at),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stage: &str, target: Option<&str>, start_s: i64, ms: u64, outcome: Option<&'static str>) -> Run {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Run {
            stage: stage.into(),
            target: target.map(str::to_string),
            kind: "deploy",
            attempt: 1,
            started_at: t0 + chrono::Duration::seconds(start_s),
            finished_at: outcome
                .map(|_| t0 + chrono::Duration::seconds(start_s) + chrono::Duration::milliseconds(ms as i64)),
            duration_ms: outcome.map(|_| ms),
            outcome,
            outcome_text: outcome.map(str::to_string),
            log: String::new(),
        }
    }

    #[test]
    fn one_bar_per_run_on_a_labelled_axis() {
        let runs = [
            run("build", None, 0, 2_000, Some("succeeded")),
            run("deploy", Some("<eu>"), 2, 40_000, Some("failed")),
            run("deploy", Some("us"), 3, 0, None),
        ];
        let refs: Vec<&Run> = runs.iter().collect();
        let now = runs[0].started_at + chrono::Duration::seconds(60);
        let svg = svg(&refs, now);
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(svg.contains(">deploy/&lt;eu&gt; attempt 1</text>"), "{svg}");
        assert!(svg.contains(">10s</text>") && svg.contains(">1m</text>"), "{svg}");
        assert!(svg.contains(colour(Some("failed"))) && svg.contains(colour(None)));
    }

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(step_for(60_000), 10_000);
        assert_eq!(step_for(3_600_000), 600_000);
        assert_eq!(tick_label(90_000), "1m30s");
        assert_eq!(tick_label(500), "500ms");
        assert_eq!(tick_label(1_500), "1.5s");
        assert_eq!(step_for(58), 10);
        assert_eq!(tick_label(7_200_000), "2h");
    }
}
