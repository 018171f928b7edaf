//! The pipeline: the release's stages in order with symbol and colour, attempt, duration (a
//! running stage against its typical duration), fan-out counts and dependencies; the release's
//! ETA in the title; below, the selected stage's targets: one named cell each, or a compact grid
//! (one symbol per target) when there are too many, filtered with `f`.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::board::progress_bar;
use super::{block, elapsed, fit, fit_line, short_duration};
use crate::engine::state::{ReleaseState, StageState, StageStatus};
use crate::tui::state::{Typical, UiState};
use crate::tui::theme::Glyph;
use crate::tui::widgets::grid::{self, GridCell};

/// More targets than this always show as the compact grid.
const NAMED_MAX: usize = 48;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, now: DateTime<Utc>, focused: bool) {
    let st = &ui.release;
    let (done, total) = st.progress();
    let title = if st.id.is_empty() {
        " Pipeline ".to_string()
    } else {
        let eta = eta(st, &ui.typical, now)
            .map(|e| format!(" · {}", e.text()))
            .unwrap_or_default();
        format!(" Pipeline {} {} ({done}/{total}){eta} ", st.plan, st.version)
    };
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if height == 0 || width == 0 {
        return;
    }
    let lines: Vec<Line> = rows(ui, now, width, height, focused)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

/// What a row of the pipeline shows (for the mouse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Stage(usize),
    /// A row of targets: the first one's position in the visible (filtered) targets, and each
    /// cell's width in columns.
    Targets {
        first: usize,
        cell: usize,
    },
    Other,
}

/// What is at (`row`, `col`) of the pipeline's inside (`width` x `height`): a stage, or a target
/// (its index in the selected stage's targets).
pub fn hit(ui: &UiState, width: u16, height: u16, row: usize, col: usize) -> Option<Hit> {
    let focused = ui.focus == crate::tui::layout::Focus::Pipeline;
    // The clock only changes symbols and times, never where things are.
    let now = ui.release.updated_at.unwrap_or_default();
    let rows = rows(ui, now, usize::from(width), usize::from(height), focused);
    match rows.get(row)?.1 {
        Tag::Stage(i) => Some(Hit::Stage(i)),
        Tag::Targets { first, cell } => {
            let visible = ui.visible_targets();
            let per_row = (usize::from(width) / cell).max(1);
            let c = col / cell;
            (c < per_row).then(|| visible.get(first + c).map(|&t| Hit::Target(t)))?
        }
        Tag::Other => None,
    }
}

/// See [`hit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Stage(usize),
    Target(usize),
}

/// The pane's rows: the stages (clipped around the selected one), then the selected stage's
/// details; each with what it shows.
fn rows<'a>(
    ui: &'a UiState,
    now: DateTime<Utc>,
    width: usize,
    height: usize,
    focused: bool,
) -> Vec<(Line<'a>, Tag)> {
    let st = &ui.release;
    let secs = now.timestamp();
    let id_w = st
        .stages
        .iter()
        .map(|s| s.decl.id.width())
        .max()
        .unwrap_or(0)
        .min(24);
    let mut lines: Vec<Line> = Vec::new();
    if st.stages.is_empty() {
        lines.push(Line::from(fit("no release open", width)));
    }
    for (i, s) in st.stages.iter().enumerate() {
        let g = Glyph::of_stage(s);
        let attempt = s
            .targets
            .iter()
            .filter_map(|t| t.last().map(|a| a.n))
            .max()
            .unwrap_or(0);
        let attempt = if attempt > 1 {
            format!(" #{attempt}")
        } else {
            String::new()
        };
        let dur = match (s.started_at, s.finished_at) {
            (Some(_), _) if s.status == StageStatus::Running => elapsed(s.started_at, None, now),
            (Some(_), Some(_)) => elapsed(s.started_at, s.finished_at, now),
            _ => String::new(),
        };
        let mut spans = vec![
            Span::styled(format!("{} ", g.symbol(secs)), ui.theme.glyph(g)),
            Span::raw(format!("{:<id_w$} ", fit(&s.decl.id, id_w))),
            Span::styled(format!("{:<9}", g.word()), ui.theme.glyph(g)),
            Span::raw(format!("{attempt} {dur:>5} ")),
        ];
        if s.status == StageStatus::Running
            && let (Some(start), Some(typ)) = (s.started_at, ui.typical.of(&s.decl.id))
        {
            spans.extend(typical_progress((now - start).num_milliseconds(), typ, ui));
        }
        if let Some(counts) = fanout_counts(s) {
            spans.push(Span::raw(format!("{counts} ")));
        }
        // Its needs, and in a train the other plans' stages it waits for (`billing:deploy`).
        let mut needs = s.decl.needs.clone();
        if st.train.is_some()
            && let Some(ps) = ui.plan.as_ref().and_then(|p| p.stage(&s.decl.id))
        {
            needs.extend(ps.after.iter().map(|n| n.name()));
        }
        if !needs.is_empty() {
            spans.push(Span::styled(format!("← {}", needs.join(", ")), ui.theme.dim()));
        }
        let mut line = fit_line(Line::from(spans), width);
        if i == ui.stage {
            line = line.style(ui.theme.selected(focused));
        }
        lines.push(line);
    }
    let stage_tags: Vec<Tag> = if st.stages.is_empty() {
        vec![Tag::Other]
    } else {
        (0..st.stages.len()).map(Tag::Stage).collect()
    };
    let mut rows: Vec<(Line, Tag)> = lines.into_iter().zip(stage_tags).collect();
    // Details of the selected stage: at least half the pane, more when the stages leave room.
    if let Some(s) = st.stages.get(ui.stage) {
        let budget = (height / 2).max(height.saturating_sub(rows.len() + 1));
        let details = details(s, ui, secs, width, budget, focused);
        // Stages first; details fill what is left (a selected stage out of view scrolls up).
        let room = height.saturating_sub(details.len().min(height / 2));
        let window = crate::tui::layout::clip_window(rows.len(), room.max(1), Some(ui.stage));
        let lines: Vec<Line> = rows.iter().map(|(l, _)| l.clone()).collect();
        let clipped = super::clip_lines(lines, room.max(1), Some(ui.stage), ui.theme.dim());
        let mut shown: Vec<(Line, Tag)> = clipped
            .into_iter()
            .zip(window)
            .map(|(l, w)| match w {
                crate::tui::layout::Row::Line(i) => (l, rows[i].1),
                _ => (l, Tag::Other),
            })
            .collect();
        if !details.is_empty() && shown.len() < height {
            shown.push((Line::from(""), Tag::Other));
        }
        shown.extend(details);
        rows = shown;
    }
    rows.truncate(height);
    rows
}

/// ` [███░░░] 62% of ~2m00s ` (or ` over ~2m00s ` past it) for a running stage.
fn typical_progress(elapsed_ms: i64, typical_ms: i64, ui: &UiState) -> Vec<Span<'static>> {
    let typ = short_duration(typical_ms);
    if typical_ms <= 0 || elapsed_ms > typical_ms {
        return vec![Span::styled(format!("over ~{typ} "), ui.theme.warn())];
    }
    let pct = (elapsed_ms.max(0) * 100 / typical_ms) as usize;
    vec![Span::raw(format!(
        "{} {pct}% of ~{typ} ",
        progress_bar(pct, 100, 6)
    ))]
}

/// The release's expected remaining time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eta {
    /// Milliseconds until the last stage is expected to end (the DAG's longest remaining path
    /// of typical durations).
    pub ms: i64,
    /// Stages still to run that have no history: the ETA is at least `ms`.
    pub unknown: usize,
    /// A gate still waits for people on the way.
    pub gate: bool,
}

impl Eta {
    /// `ETA 3m10s`, `ETA ≥3m10s`, `ETA 3m10s + gate`.
    pub fn text(&self) -> String {
        let at_least = if self.unknown > 0 { "≥" } else { "" };
        let gate = if self.gate { " + gate" } else { "" };
        format!("ETA {at_least}{}{gate}", short_duration(self.ms))
    }
}

/// The ETA of a release still running, from its stages' typical durations: each stage ends its
/// typical duration after the last of its needs (a running one, its typical duration after it
/// started, at the earliest now). `None` when the release has finished, a stage failed (it
/// waits for a person), or no stage has a history.
pub fn eta(st: &ReleaseState, typical: &Typical, now: DateTime<Utc>) -> Option<Eta> {
    if st.finished.is_some() || st.stages.is_empty() || typical.stages.is_empty() {
        return None;
    }
    if st
        .stages
        .iter()
        .any(|s| matches!(s.status, StageStatus::Failed | StageStatus::RollbackFailed))
    {
        return None;
    }
    let n = st.stages.len();
    let mut end: Vec<Option<i64>> = vec![None; n];
    let mut unknown = 0;
    let mut gate = false;
    // The stages are in DAG order as declared, but do not rely on it: settle in passes.
    for _ in 0..n {
        let mut progressed = false;
        for (i, s) in st.stages.iter().enumerate() {
            if end[i].is_some() {
                continue;
            }
            let needs: Option<Vec<i64>> = s
                .decl
                .needs
                .iter()
                .map(|d| {
                    st.stages
                        .iter()
                        .position(|x| &x.decl.id == d)
                        .map_or(Some(0), |j| end[j])
                })
                .collect();
            let Some(needs) = needs else { continue };
            let after = needs.into_iter().max().unwrap_or(0);
            let typ = typical.of(&s.decl.id);
            let own = match s.status {
                StageStatus::Succeeded | StageStatus::Skipped | StageStatus::RolledBack => 0,
                StageStatus::Running => {
                    let spent = s.started_at.map_or(0, |t| (now - t).num_milliseconds());
                    match typ {
                        Some(t) => (t - spent).max(0),
                        None => {
                            unknown += 1;
                            0
                        }
                    }
                }
                _ => {
                    if s.status == StageStatus::Gated || !s.decl.gates.is_empty() {
                        gate |= s.status == StageStatus::Gated
                            || s.decl.gates.iter().any(|g| {
                                st.gates
                                    .iter()
                                    .find(|x| &x.decl.name == g)
                                    .is_some_and(|x| !x.satisfied())
                            });
                    }
                    match typ {
                        Some(t) => t,
                        None => {
                            unknown += 1;
                            0
                        }
                    }
                }
            };
            end[i] = Some(after + own);
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    let ms = end.iter().flatten().copied().max().unwrap_or(0);
    Some(Eta { ms, unknown, gate })
}

/// `6/12 done, 1 failed, 2 running` for fan-out stages.
pub fn fanout_counts(s: &StageState) -> Option<String> {
    if s.decl.targets.is_empty() {
        return None;
    }
    let mut done = 0;
    let mut failed = 0;
    let mut running = 0;
    for t in &s.targets {
        match Glyph::of_target(t) {
            Glyph::Succeeded | Glyph::RolledBack => done += 1,
            Glyph::Failed | Glyph::TimedOut | Glyph::Cancelled | Glyph::RollbackFailed => failed += 1,
            Glyph::Running | Glyph::Retrying => running += 1,
            _ => {}
        }
    }
    let mut out = format!("{done}/{} done", s.targets.len());
    if failed > 0 {
        out.push_str(&format!(", {failed} failed"));
    }
    if running > 0 {
        out.push_str(&format!(", {running} running"));
    }
    Some(out)
}

/// The selected stage's details: why it waits, its targets (counts, the filter, the grid).
fn details<'a>(
    s: &'a StageState,
    ui: &UiState,
    secs: i64,
    width: usize,
    budget: usize,
    focused: bool,
) -> Vec<(Line<'a>, Tag)> {
    let mut out: Vec<(Line, Tag)> = Vec::new();
    if let Some(why) = s.reason.as_ref().or(s.waiting.as_ref()) {
        out.push((
            fit_line(
                Line::from(Span::styled(format!("{}: {why}", s.decl.id), ui.theme.warn())),
                width,
            ),
            Tag::Other,
        ));
    }
    if s.decl.targets.is_empty() {
        return out;
    }
    let counts = fanout_counts(s).unwrap_or_default();
    out.push((
        fit_line(
            Line::from(Span::styled(
                format!("targets of {} ({}): {counts}", s.decl.id, s.targets.len()),
                ui.theme.dim(),
            )),
            width,
        ),
        Tag::Other,
    ));
    if !ui.marked.is_empty() {
        let rollback = ui
            .keymap
            .keys(
                crate::tui::keymap::Layer::Global,
                crate::tui::action::Action::Rollback,
            )
            .first()
            .map(|k| format!(" ({} rolls them back, Esc clears)", k.label()))
            .unwrap_or_default();
        // The keys first: a long list of names is what gets cut.
        out.push((
            fit_line(
                Line::from(vec![
                    Span::styled(format!("marked{rollback}: "), ui.theme.key()),
                    Span::raw(ui.marked.join(", ")),
                ]),
                width,
            ),
            Tag::Other,
        ));
    }
    let visible = ui.visible_targets();
    if let Some(f) = &ui.target_filter {
        out.push((
            fit_line(
                Line::from(vec![
                    Span::styled("filter ", ui.theme.key()),
                    Span::raw(format!(
                        "\"{}\": {} of {} shown (Esc clears)",
                        f.text(),
                        visible.len(),
                        s.targets.len()
                    )),
                ]),
                width,
            ),
            Tag::Other,
        ));
    }
    if visible.is_empty() {
        out.push((Line::from(fit("no target matches the filter", width)), Tag::Other));
        return out;
    }
    let room = budget.saturating_sub(out.len()).max(1);
    let name_w = visible
        .iter()
        .map(|&i| s.targets[i].label().width())
        .max()
        .unwrap_or(0)
        .min(20);
    let per_row = (width / (name_w + 3)).max(1);
    let named_rows = visible.len().div_ceil(per_row);
    if visible.len() <= NAMED_MAX && named_rows <= room {
        let cell = name_w + 3;
        let grid = named_grid(s, &visible, ui, secs, width, name_w, focused);
        out.extend(grid.into_iter().enumerate().map(|(r, l)| {
            (
                l,
                Tag::Targets {
                    first: r * per_row,
                    cell,
                },
            )
        }));
        return out;
    }
    // The compact grid, one symbol per target, and the selected target spelled out.
    let cells: Vec<GridCell> = visible
        .iter()
        .map(|&i| {
            let g = Glyph::of_target(&s.targets[i]);
            GridCell {
                symbol: g.symbol(secs),
                style: ui.theme.glyph(g),
            }
        })
        .collect();
    let selected = visible.iter().position(|&i| i == ui.target);
    let rows = room.saturating_sub(1).max(1);
    let shown = grid::window(cells.len(), selected, width, rows);
    let lines = grid::lines(
        &cells,
        selected,
        width,
        rows,
        ui.theme.selected(true),
        ui.theme.dim(),
    );
    out.extend(lines.into_iter().zip(shown).map(|(l, r)| {
        (
            l,
            Tag::Targets {
                first: r * width,
                cell: 1,
            },
        )
    }));
    if let Some(t) = s.targets.get(ui.target) {
        let g = Glyph::of_target(t);
        let attempt = t.last().map(|a| a.n).filter(|n| *n > 1);
        let mut spans = vec![
            Span::raw("▸ "),
            Span::styled(t.label().to_string(), ui.theme.selected(focused)),
            Span::raw(format!(" ({}/{}) ", ui.target + 1, s.targets.len())),
            Span::styled(format!("{} {}", g.symbol(secs), g.word()), ui.theme.glyph(g)),
        ];
        if let Some(n) = attempt {
            spans.push(Span::raw(format!(" #{n}")));
        }
        if t.target.as_deref().is_some_and(|n| ui.is_marked(s, n)) {
            spans.push(Span::styled(" marked", ui.theme.key()));
        }
        spans.push(Span::styled("  ←/→ select, f filter", ui.theme.dim()));
        out.push((fit_line(Line::from(spans), width), Tag::Other));
    }
    out
}

/// Targets as named cells (`✓ eu-1  ✗ eu-2 ...`), the selected one highlighted.
fn named_grid<'a>(
    s: &'a StageState,
    visible: &[usize],
    ui: &UiState,
    secs: i64,
    width: usize,
    name_w: usize,
    focused: bool,
) -> Vec<Line<'a>> {
    let per_row = (width / (name_w + 3)).max(1);
    let mut out = Vec::new();
    for chunk in visible.chunks(per_row) {
        let mut spans = Vec::new();
        for &idx in chunk {
            let t = &s.targets[idx];
            let g = Glyph::of_target(t);
            let name = format!("{:<name_w$} ", fit(t.label(), name_w));
            spans.push(Span::styled(format!("{} ", g.symbol(secs)), ui.theme.glyph(g)));
            let marked = t.target.as_deref().is_some_and(|n| ui.is_marked(s, n));
            let style = if idx == ui.target {
                ui.theme.selected(focused)
            } else {
                Style::default()
            };
            // A marked target is underlined (and named in the line below the grid).
            let style = if marked {
                style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
            } else {
                style
            };
            spans.push(Span::styled(name, style));
        }
        out.push(fit_line(Line::from(spans), width));
    }
    out
}
