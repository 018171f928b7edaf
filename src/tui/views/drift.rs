//! The environments pane: per environment (and per target where the probe runs per target) the
//! version it runs, how far that is from the baseline's (and the release's) version, and its
//! drift from the baseline: keys differing, missing, extra, or the probe's failure, each with its
//! own symbol. Focused, ↑/↓ selects a row and its drifting keys are listed (baseline value →
//! its value). Rendered from the [`Overview`] the source summarized; `D` probes afresh.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::{block, fit, fit_line};
use crate::drift::Mark;
use crate::drift::overview::{EnvRow, Overview};
use crate::tui::state::UiState;
use crate::tui::theme::Glyph;

/// How a row reads: symbol, word and style.
fn row_state(r: &EnvRow, ui: &UiState) -> (&'static str, String, Style) {
    let t = &ui.theme;
    if let Some(e) = &r.error {
        return ("!", format!("probe failed: {e}"), t.glyph(Glyph::Failed));
    }
    if r.baseline {
        return ("◆", "baseline".into(), t.key());
    }
    if !r.compared {
        return ("?", "not compared (no baseline)".into(), t.dim());
    }
    if r.drifting() == 0 {
        return ("=", "in sync".into(), t.glyph(Glyph::Succeeded));
    }
    let mut parts = Vec::new();
    if r.differs > 0 {
        let verb = if r.differs == 1 { "differs" } else { "differ" };
        parts.push(format!("{} {verb}", r.differs));
    }
    if r.missing > 0 {
        parts.push(format!("{} missing", r.missing));
    }
    if r.extra > 0 {
        parts.push(format!("{} extra", r.extra));
    }
    ("≠", parts.join(", "), t.warn())
}

/// `↓2` (behind), `↑1` (ahead), `↑1↓2`, `=` (the same commit), `?` (unknown to git).
fn short_distance(d: &crate::drift::overview::Distance) -> String {
    match (d.ahead, d.behind) {
        (Some(0), Some(0)) => "=".into(),
        (Some(0), Some(b)) => format!("↓{b}"),
        (Some(a), Some(0)) => format!("↑{a}"),
        (Some(a), Some(b)) => format!("↑{a}↓{b}"),
        _ => "?".into(),
    }
}

fn mark_symbol(m: Mark) -> &'static str {
    crate::drift::report::symbol(m)
}

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    let pane = &ui.drift;
    let mut title = " Environments ".to_string();
    if let Some(o) = &pane.overview {
        let (d, f) = (o.drifting(), o.failed());
        title = format!(" Environments: {d} drifting, {f} failed ");
    }
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if height == 0 || width == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    // Open incidents first: a banner per environment with one.
    for i in ui.incidents.iter().filter(|i| i.is_open()) {
        let about = i
            .release
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled("⚠ ", ui.theme.glyph(Glyph::Failed)),
            Span::styled(
                format!("incident #{} on {}{about}: {}", i.number, i.env, i.summary),
                ui.theme.glyph(Glyph::Failed),
            ),
            Span::styled(
                format!(" (opened {} by {})", when(i.opened_at), i.opened_by),
                ui.theme.dim(),
            ),
        ]));
    }
    // What is happening: probing, an error, loading.
    if pane.probing {
        lines.push(Line::from(vec![
            Span::styled("◐ ", ui.theme.glyph(Glyph::Running)),
            Span::raw("probing the environments…"),
        ]));
    }
    if let Some(e) = &pane.error {
        lines.push(Line::from(vec![
            Span::styled("! ", ui.theme.glyph(Glyph::Failed)),
            Span::styled(format!("drift: {e}"), ui.theme.glyph(Glyph::Failed)),
        ]));
    }
    match &pane.overview {
        None => {
            let status = if !pane.loaded {
                "loading drift…"
            } else if ui.plan.as_ref().is_some_and(|p| p.drift_baseline().is_none()) {
                "no environment of the plan has a probe"
            } else {
                "no drift snapshot yet: D probes the environments"
            };
            lines.push(Line::from(Span::styled(status, ui.theme.dim())));
            plan_lines(ui, focused, &mut lines);
        }
        Some(o) => overview_lines(o, ui, focused, height.saturating_sub(lines.len()), &mut lines),
    }
    let lines: Vec<Line> = lines.into_iter().map(|l| fit_line(l, width)).collect();
    let lines = super::clip_lines(lines, height, None, ui.theme.dim());
    Paragraph::new(lines).render(inner, buf);
}

/// What the journals say runs on `env` (or one of its targets): `  live 1.5.0`, `  live mixed`,
/// and `  → 1.6.0 deploying` while a release deploys there.
fn live_spans(ui: &UiState, env: &str, target: Option<&str>) -> Vec<Span<'static>> {
    let Some(p) = ui
        .places
        .iter()
        .find(|p| p.env == env && p.target.as_deref() == target)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let live = match (&p.live, p.mixed) {
        (_, true) => "live: mixed".to_string(),
        (Some(l), _) => format!("live {}", l.version),
        (None, _) => "nothing live".to_string(),
    };
    out.push(Span::styled(format!("  {live}"), ui.theme.dim()));
    if let Some(now) = &p.in_progress {
        out.push(Span::styled(
            format!("  → {} {}", now.version, now.state),
            ui.theme.glyph(Glyph::Running),
        ));
    }
    out
}

/// Without drift data: the plan's environments (protected, held by this release, targets), what
/// runs on each and their open incidents; focused, the selected one is marked (`P`, `I`, `H` act
/// on it).
fn plan_lines(ui: &UiState, focused: bool, lines: &mut Vec<Line<'_>>) {
    let Some(plan) = &ui.plan else { return };
    let sel = ui.drift.selected.min(plan.environments.len().saturating_sub(1));
    for (n, env) in plan.environments.values().enumerate() {
        let mut spans = vec![Span::raw(env.name.clone())];
        if let Some(i) = ui.incident_on(&env.name) {
            spans.push(Span::styled(
                format!(" ⚠ incident #{}", i.number),
                ui.theme.glyph(Glyph::Failed),
            ));
        }
        if env.protected {
            spans.push(Span::styled(" (protected)", ui.theme.warn()));
        }
        if ui.release.env_holds.contains(&env.name) {
            spans.push(Span::styled(" held by this release", ui.theme.dim()));
        }
        spans.extend(live_spans(ui, &env.name, None));
        let mut line = Line::from(spans);
        if focused && n == sel {
            line = line.style(ui.theme.selected(true));
        }
        lines.push(line);
        // Per target when the journals say something about them, else one line naming them.
        let known = ui.places.iter().any(|p| {
            p.env == env.name && p.target.is_some() && (p.live.is_some() || p.in_progress.is_some())
        });
        if known {
            for t in &env.targets {
                let mut spans = vec![Span::styled(format!("  {}/{t}", env.name), ui.theme.dim())];
                spans.extend(live_spans(ui, &env.name, Some(t)));
                lines.push(Line::from(spans));
            }
        } else if !env.targets.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("  targets: {}", env.targets.join(", ")),
                ui.theme.dim(),
            )));
        }
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn overview_lines<'a>(o: &'a Overview, ui: &UiState, focused: bool, room: usize, out: &mut Vec<Line<'a>>) {
    let t = &ui.theme;
    // The source line goes first when there is room for it.
    if room >= 6 || o.rows.is_empty() {
        out.push(Line::from(Span::styled(
            format!(
                "{}, {} UTC; baseline {}",
                o.source,
                when(o.taken_at),
                o.baseline.as_deref().unwrap_or("none")
            ),
            t.dim(),
        )));
    }
    if o.rows.is_empty() {
        out.push(Line::from("the snapshot has no environments"));
        return;
    }
    let avail = if room >= 6 { room - 1 } else { room };
    let sel = ui.drift.selected.min(o.rows.len() - 1);
    let name_w = o.rows.iter().map(|r| r.column.width()).max().unwrap_or(0).min(20);
    let ver_w = o
        .rows
        .iter()
        .map(|r| r.version.as_deref().unwrap_or("-").width())
        .max()
        .unwrap_or(1)
        .clamp(1, 14);
    let dist_w = o
        .rows
        .iter()
        .map(|r| r.vs_baseline.as_ref().map_or(0, |d| short_distance(d).width()))
        .max()
        .unwrap_or(0);
    // The selected row's keys below the rows when focused; unfocused (when everything fits),
    // the first row that drifts or failed.
    let shown = if focused {
        sel
    } else {
        o.rows
            .iter()
            .position(|r| r.drifting() > 0 || r.error.is_some())
            .unwrap_or(sel)
    };
    let detail = detail_lines(&o.rows[shown], ui, focused);
    let blank = usize::from(avail >= 8);
    let need = detail.len() + blank;
    let show_detail = focused || avail >= o.rows.len() + need;
    let rows_shown = if show_detail {
        (avail / 2).min(3).max(avail.saturating_sub(need)).max(1)
    } else {
        avail
    }
    .min(o.rows.len());
    let more = o.rows.len() - rows_shown;
    // Unfocused and cut: the last line says how many rows are not shown.
    let rows_shown = if more > 0 && !show_detail {
        rows_shown.saturating_sub(1).max(1)
    } else {
        rows_shown
    };
    let first = (sel + 1).saturating_sub(rows_shown.max(1));
    for (i, r) in o.rows.iter().enumerate().skip(first).take(rows_shown) {
        let (sym, word, style) = row_state(r, ui);
        let version = r.version.as_deref().unwrap_or("-");
        let dist = r.vs_baseline.as_ref().map(short_distance).unwrap_or_default();
        let mut spans = vec![
            Span::styled(format!("{sym} "), style),
            Span::raw(format!("{:<name_w$} ", fit(&r.column, name_w))),
            Span::raw(format!("{:<ver_w$} ", fit(version, ver_w))),
        ];
        if dist_w > 0 {
            let dstyle = match r.vs_baseline.as_ref().and_then(|d| d.behind.zip(d.ahead)) {
                Some((0, 0)) | None => t.dim(),
                Some(_) => t.warn(),
            };
            spans.push(Span::styled(format!("{dist:<dist_w$} "), dstyle));
        }
        if let Some(inc) = ui.incident_on(&r.env) {
            spans.push(Span::styled(
                format!("⚠ #{} ", inc.number),
                t.glyph(Glyph::Failed),
            ));
        }
        spans.push(Span::styled(word, style));
        spans.extend(live_spans(ui, &r.env, r.target.as_deref()));
        let mut line = Line::from(spans);
        if i == sel && focused {
            line = line.style(t.selected(true));
        }
        out.push(line);
    }
    if !show_detail && o.rows.len() > rows_shown {
        out.push(Line::from(Span::styled(
            format!("… {} more (focus: ↑/↓)", o.rows.len() - rows_shown),
            t.dim(),
        )));
    }
    if show_detail {
        if blank == 1 {
            out.push(Line::from(""));
        }
        out.extend(detail);
    }
}

/// The selected row in words, then its drifting keys: `≠ key  baseline → value`.
fn detail_lines<'a>(r: &'a EnvRow, ui: &UiState, focused: bool) -> Vec<Line<'a>> {
    let t = &ui.theme;
    let mut out = Vec::new();
    let mut head = format!(
        "{} runs {}",
        r.column,
        r.version.as_deref().unwrap_or("(no version)")
    );
    for d in [&r.vs_baseline, &r.vs_release].into_iter().flatten() {
        head.push_str(&format!(", {}", d.text()));
    }
    out.push(Line::from(Span::styled(head, t.key())));
    if let Some(e) = &r.error {
        out.push(Line::from(Span::styled(
            format!("! the probe failed: {e}"),
            t.glyph(Glyph::Failed),
        )));
        return out;
    }
    if r.diffs.is_empty() {
        let word = if r.baseline {
            "the baseline: every other column is compared with it"
        } else if r.compared {
            "no key drifts"
        } else {
            "not compared"
        };
        out.push(Line::from(Span::styled(word, t.dim())));
        return out;
    }
    let key_w = r.diffs.iter().map(|d| d.key.width()).max().unwrap_or(0).min(28);
    let skip = if focused {
        ui.drift.key_scroll.min(r.diffs.len().saturating_sub(1))
    } else {
        0
    };
    if skip > 0 {
        out.push(Line::from(Span::styled(
            format!("… {skip} keys above (PgUp)"),
            t.dim(),
        )));
    }
    for d in &r.diffs[skip..] {
        let style = match d.mark {
            Mark::Differs => t.warn(),
            Mark::Missing => t.glyph(Glyph::Failed),
            _ => t.glyph(Glyph::Running),
        };
        let base = d.baseline.as_deref().unwrap_or("(absent)");
        let value = d.value.as_deref().unwrap_or("(missing)");
        out.push(Line::from(vec![
            Span::styled(format!("{} ", mark_symbol(d.mark)), style),
            Span::raw(format!("{:<key_w$} ", fit(&d.key, key_w))),
            Span::styled(fit(base, 24), t.dim()),
            Span::raw(" → "),
            Span::styled(value.to_string(), style),
        ]));
    }
    if r.more > 0 {
        out.push(Line::from(Span::styled(
            format!("… and {} more drifting keys", r.more),
            t.dim(),
        )));
    }
    out
}
