//! The workspace board: every plan's releases side by side (newest first, with state, progress
//! and what each needs), the services × environments matrix (the live version in each cell,
//! drift marked, deploys in progress) and the trains as units (members, blocking arrows, gates).
//! Side by side from 140x30, else behind tabs `1`-`3`. Pure: the state and `now`.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::board::{progress_bar, release_symbol};
use super::{block, clip_lines, clip_with, fit, fit_line, wrap_words};
use crate::engine::board::{Cell, Matrix, NeedKind, Row};
use crate::engine::train::TrainView;
use crate::tui::action::Action;
use crate::tui::layout::{self, Layout, MIN_SIZE, WS_TABS, WsPane, clip_window};
use crate::tui::state::UiState;
use crate::tui::theme::Glyph;
use crate::tui::workspace::WsBoard;

/// Draw the board (the overlays are drawn over it by the caller).
pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, ws: &WsBoard, now: DateTime<Utc>) {
    let p = layout::ws_panes(area, ws.focus, ws.matrix_lines());
    if p.layout == Layout::TooSmall {
        let msg = format!("terminal too small (needs {}x{})", MIN_SIZE.0, MIN_SIZE.1);
        let lines: Vec<Line> = wrap_words(&msg, usize::from(area.width))
            .into_iter()
            .take(usize::from(area.height))
            .map(Line::from)
            .collect();
        Paragraph::new(lines).render(area, buf);
        return;
    }
    if let Some(r) = p.header {
        header(buf, r, ui, ws);
    }
    if let Some(r) = p.tabs {
        tabs(buf, r, ui, ws);
    }
    if let Some(r) = p.releases {
        releases(buf, r, ui, ws, now);
    }
    if let Some(r) = p.matrix {
        matrix(buf, r, ui, ws, now);
    }
    if let Some(r) = p.trains {
        trains(buf, r, ui, ws, now);
    }
    if let Some(r) = p.status {
        status(buf, r, ui);
    }
}

/// `commerce · 3 plans · ◐ 2 running · ⏸ 1 paused · ✗ 1 failed    filter: running`.
fn header(buf: &mut Buffer, area: Rect, ui: &UiState, ws: &WsBoard) {
    let b = &ws.board;
    let c = b.counts();
    let t = &ui.theme;
    let mut spans = vec![Span::styled(format!(" {} ", b.workspace), t.selected(true))];
    // The filter first: it explains what the panes leave out.
    if !ws.filter.is_empty() {
        spans.push(Span::styled(format!(" filter: {} ", ws.filter.text()), t.key()));
    }
    let n = b.plans.len();
    spans.push(Span::raw(format!(" {n} plan{}", if n == 1 { "" } else { "s" })));
    for (n, word, sym) in [
        (c.running, "running", Glyph::Running.symbol(0)),
        (c.paused, "paused", Glyph::Gated.symbol(0)),
        (c.failed, "failed", Glyph::Failed.symbol(0)),
    ] {
        if n > 0 {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(format!("{sym} {n} {word}"), t.release_word(word)));
        }
    }
    if c.waiting_on_people > 0 {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            format!("{} waiting on people", c.waiting_on_people),
            t.warn(),
        ));
    }
    if !ws.loaded {
        spans.push(Span::styled("   reading the plans…", t.dim()));
    }
    if let Some(p) = &ws.problem {
        spans.push(Span::styled(format!("   ⚠ {p}"), t.glyph(Glyph::Failed)));
    }
    Paragraph::new(fit_line(Line::from(spans), usize::from(area.width))).render(area, buf);
}

fn tabs(buf: &mut Buffer, area: Rect, ui: &UiState, ws: &WsBoard) {
    let mut spans = Vec::new();
    for (i, name) in WS_TABS.iter().enumerate() {
        let style = if ws.focus.index() == i {
            ui.theme.selected(true)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {} {name} ", i + 1), style));
    }
    Paragraph::new(fit_line(Line::from(spans), usize::from(area.width))).render(area, buf);
}

/// The releases pane's columns at a width.
struct Cols {
    plan: usize,
    version: usize,
    state: usize,
    /// A bar before the counts.
    bar: bool,
    progress: usize,
    train: usize,
    age: usize,
}

impl Cols {
    fn at(width: usize, trains: bool) -> Cols {
        if width >= 100 {
            Cols {
                plan: 12,
                version: 14,
                state: 12,
                bar: true,
                progress: 13,
                train: if trains { 10 } else { 0 },
                age: 5,
            }
        } else {
            Cols {
                plan: 11,
                version: 10,
                state: 12,
                bar: false,
                progress: 6,
                train: 0,
                age: 5,
            }
        }
    }

    fn needs(&self, width: usize) -> usize {
        width.saturating_sub(self.plan + self.version + self.state + self.progress + self.train + self.age)
    }
}

/// `5s`, `3m`, `2h`, `4d`.
fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let s = (now - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn pad(text: &str, width: usize) -> String {
    let t = fit(text, width.saturating_sub(1));
    let w = t.width();
    format!("{t}{}", " ".repeat(width.saturating_sub(w)))
}

/// The style of what a release needs (a person's or a gate's stands out).
fn need_style(ui: &UiState, r: &Row) -> Style {
    match r.needs.as_ref().map(|n| n.kind) {
        Some(NeedKind::Gate | NeedKind::Person) => ui.theme.warn(),
        Some(NeedKind::Attention | NeedKind::Driver) => ui.theme.glyph(Glyph::Failed),
        Some(NeedKind::Dependency | NeedKind::Freeze | NeedKind::Schedule) => ui.theme.glyph(Glyph::Gated),
        None => ui.theme.dim(),
    }
}

fn releases(buf: &mut Buffer, area: Rect, ui: &UiState, ws: &WsBoard, now: DateTime<Utc>) {
    let focused = ws.focus == WsPane::Releases;
    let rows = ws.rows();
    let all: usize = ws.board.plans.iter().map(|p| p.releases.len()).sum();
    let title = if ws.filter.is_empty() {
        format!(" Releases ({}) ", rows.len())
    } else {
        format!(" Releases ({} of {all}, filtered) ", rows.len())
    };
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let (width, height) = (usize::from(inner.width), usize::from(inner.height));
    if height == 0 {
        return;
    }
    let cols = Cols::at(width, rows.iter().any(|r| r.train.is_some()));
    let t = &ui.theme;
    let mut lines = Vec::new();
    let head = format!(
        "{}{}{}{}{}{}{}",
        pad("PLAN", cols.plan),
        pad("RELEASE", cols.version),
        pad("STATE", cols.state),
        pad(if cols.bar { "PROGRESS" } else { "DONE" }, cols.progress),
        pad("NEEDS / DOING", cols.needs(width)),
        if cols.train > 0 {
            pad("TRAIN", cols.train)
        } else {
            String::new()
        },
        pad("AGE", cols.age),
    );
    lines.push(fit_line(Line::from(Span::styled(head, t.dim())), width));
    if rows.is_empty() {
        let text = if !ws.loaded {
            "reading the plans…".to_string()
        } else if ws.filter.is_empty() {
            "no releases yet in any plan".to_string()
        } else {
            let back = ui.keymap.key_of(Action::Back).unwrap_or_else(|| "Esc".into());
            format!("no release matches the filter ({back} clears it)")
        };
        lines.push(Line::from(Span::styled(fit(&text, width), t.dim())));
    }
    let selected = ws.selected_row();
    // Only the rows that fit are made.
    let row_line = |i: usize| -> Line {
        let r = rows[i];
        let first = i == 0 || rows[i - 1].plan != r.plan;
        let sym = release_symbol(&r.state, now.timestamp());
        let version = if r.id == r.version {
            r.version.clone()
        } else {
            format!("{} ({})", r.version, r.id)
        };
        let progress = if cols.bar {
            format!(
                "{} {}/{}",
                progress_bar(r.stages_done, r.stages, 6),
                r.stages_done,
                r.stages
            )
        } else {
            format!("{}/{}", r.stages_done, r.stages)
        };
        let mut doing = r.doing();
        if let Some(p) = &r.partial {
            doing = if doing.is_empty() {
                p.clone()
            } else {
                format!("{doing}; {p}")
            };
        }
        let age = match (r.scheduled_at, r.created_at) {
            (Some(at), _) => at.format("@%H:%M").to_string(),
            (None, Some(at)) => ago(now, at),
            (None, None) => "—".into(),
        };
        let mut spans = vec![
            Span::styled(
                pad(if first { &r.plan } else { "" }, cols.plan),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("{sym} "), t.release_word(&r.state)),
            Span::raw(pad(&version, cols.version.saturating_sub(2))),
            Span::styled(pad(&r.state, cols.state), t.release_word(&r.state)),
            Span::raw(pad(&progress, cols.progress)),
            Span::styled(pad(&doing, cols.needs(width)), need_style(ui, r)),
        ];
        if cols.train > 0 {
            spans.push(Span::styled(
                pad(r.train.as_deref().unwrap_or(""), cols.train),
                t.dim(),
            ));
        }
        spans.push(Span::styled(age, t.dim()));
        let line = fit_line(Line::from(spans), width);
        if i == selected {
            line.style(t.selected(focused))
        } else {
            line
        }
    };
    let room = height.saturating_sub(lines.len());
    lines.extend(clip_with(rows.len(), room, Some(selected), t.dim(), row_line));
    Paragraph::new(lines).render(inner, buf);
}

/// The matrix's column widths at `width`: the services' column, then which environments show
/// (a window keeping the selected one in view) and how wide each is.
struct MatrixCols {
    service: usize,
    first: usize,
    shown: usize,
    each: usize,
}

impl MatrixCols {
    const MIN_CELL: usize = 12;

    fn at(width: usize, m: &Matrix, selected: usize) -> MatrixCols {
        let longest = m.rows.iter().map(|r| r.plan.width()).max().unwrap_or(0);
        let service = (longest + 2).clamp(9, 18).min(width / 3);
        let n = m.environments.len().max(1);
        let room = width.saturating_sub(service);
        let shown = (room / Self::MIN_CELL).clamp(1, n);
        let first = selected.saturating_sub(shown - 1).min(n - shown);
        MatrixCols {
            service,
            first,
            shown,
            each: room / shown,
        }
    }
}

fn matrix(buf: &mut Buffer, area: Rect, ui: &UiState, ws: &WsBoard, now: DateTime<Utc>) {
    let focused = ws.focus == WsPane::Matrix;
    let m = ws.matrix();
    let width = usize::from(area.width.saturating_sub(2));
    let cols = MatrixCols::at(width, m, ws.cell.1);
    let n = m.environments.len();
    let title = if cols.shown < n {
        format!(
            " Environments: services × environments ({}-{} of {n}, ←/→) ",
            cols.first + 1,
            cols.first + cols.shown
        )
    } else {
        " Environments: services × environments ".to_string()
    };
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let height = usize::from(inner.height);
    if height == 0 {
        return;
    }
    let t = &ui.theme;
    let envs = cols.first..cols.first + cols.shown;
    let mut head = vec![Span::styled(pad("SERVICE", cols.service), t.dim())];
    for (i, e) in m
        .environments
        .iter()
        .enumerate()
        .filter(|(i, _)| envs.contains(i))
    {
        let style = if focused && i == ws.cell.1 {
            t.key()
        } else {
            t.dim()
        };
        head.push(Span::styled(pad(e, cols.each), style));
    }
    let mut lines = vec![fit_line(Line::from(head), width)];
    if m.rows.is_empty() {
        let text = if ws.loaded {
            "no plan matches the filter"
        } else {
            "reading the plans…"
        };
        lines.push(Line::from(Span::styled(text, t.dim())));
    }
    let row_line = |ri: usize| -> Line {
        let row = &m.rows[ri];
        let mut spans = vec![Span::styled(
            pad(&row.plan, cols.service),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        for (ci, cell) in row.cells.iter().enumerate().filter(|(i, _)| envs.contains(i)) {
            let mut cell_spans = cell_spans(ui, cell.as_ref(), cols.each, now);
            if focused && ri == ws.cell.0 && ci == ws.cell.1 {
                for s in &mut cell_spans {
                    s.style = s.style.patch(t.selected(true));
                }
            }
            spans.extend(cell_spans);
        }
        let line = fit_line(Line::from(spans), width);
        if ri == ws.cell.0 && !focused {
            line.style(t.selected(false))
        } else {
            line
        }
    };
    // The selected cell's details under the rows, when there is room for them.
    let details = cell_details(ws, m, now);
    let room = height.saturating_sub(lines.len());
    let spare = room.saturating_sub(m.rows.len());
    lines.extend(clip_with(m.rows.len(), room, Some(ws.cell.0), t.dim(), row_line));
    if spare > details.len() && !details.is_empty() {
        lines.push(Line::default());
        for d in details {
            lines.push(fit_line(Line::from(Span::styled(d, t.dim())), width));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}

/// A cell: the live version (`—` nothing, `mixed`), the drift mark (`≠3`, `!`), what deploys
/// there now (`→ 2.4.0` with its state's symbol); `·` where the plan has no such environment.
fn cell_spans<'a>(ui: &UiState, cell: Option<&Cell>, width: usize, now: DateTime<Utc>) -> Vec<Span<'a>> {
    let t = &ui.theme;
    let Some(c) = cell else {
        return vec![Span::styled(pad("·", width), t.dim())];
    };
    let mut spans: Vec<Span> = Vec::new();
    let version = c.version_text();
    let vstyle = match (&c.live, c.mixed) {
        (_, true) => t.warn(),
        (Some(_), _) => t.glyph(Glyph::Succeeded),
        (None, _) => t.dim(),
    };
    spans.push(Span::styled(version, vstyle));
    if let Some(mark) = c.drift_mark() {
        let style = if mark == "!" {
            t.glyph(Glyph::Failed)
        } else {
            t.warn()
        };
        spans.push(Span::styled(format!(" {mark}"), style));
    }
    if let Some(d) = &c.deploying {
        // Running there, or waiting at its gate (or for what its stage there needs).
        let (sym, style) = match d.state.as_str() {
            "waiting" => (Glyph::Gated.symbol(0), t.warn()),
            word => (release_symbol(word, now.timestamp()), t.release_word(word)),
        };
        spans.push(Span::styled(format!(" → {sym}{}", d.version), style));
    }
    // Cut to the column, then padded to it.
    let line = fit_line(Line::from(spans), width.saturating_sub(1));
    let w = line.width();
    let mut out: Vec<Span> = line.spans;
    out.push(Span::raw(" ".repeat(width.saturating_sub(w))));
    out
}

/// The selected cell in words: what is live there since when, its targets, what deploys there,
/// its drift.
fn cell_details(ws: &WsBoard, m: &Matrix, _now: DateTime<Utc>) -> Vec<String> {
    let (Some(row), Some(env)) = (m.rows.get(ws.cell.0), m.environments.get(ws.cell.1)) else {
        return Vec::new();
    };
    let Some(Some(c)) = row.cells.get(ws.cell.1) else {
        return vec![format!("{} has no environment {env}", row.plan)];
    };
    let mut first = format!("{} on {env}: ", row.plan);
    match (&c.live, c.mixed) {
        (_, true) => first.push_str("its targets run different releases"),
        (Some(l), _) => first.push_str(&format!(
            "{} live since {} by {}{}",
            if l.id == l.version {
                l.version.clone()
            } else {
                format!("{} ({})", l.version, l.id)
            },
            l.at.format("%Y-%m-%d %H:%M UTC"),
            l.started_by,
            if l.finished { "" } else { " (its release goes on)" }
        )),
        (None, _) => first.push_str("nothing live yet"),
    }
    let mut second: Vec<String> = Vec::new();
    if !c.targets.is_empty() {
        second.push(
            c.targets
                .iter()
                .map(|t| format!("{} {}", t.target, t.version.as_deref().unwrap_or("—")))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(d) = &c.deploying {
        second.push(match d.state.as_str() {
            "waiting" => format!("{} waits to deploy here", d.version),
            _ => format!("deploying {} now", d.version),
        });
    }
    if let Some(d) = &c.drift {
        let what = match d.word() {
            "in_sync" => "in sync".to_string(),
            "differs" => format!("{} key(s) drift", d.differs),
            "probe_failed" => "the probe failed".to_string(),
            _ => "not compared".to_string(),
        };
        second.push(format!(
            "drift: {what} (probed {})",
            d.taken_at.format("%m-%d %H:%M UTC")
        ));
    }
    let mut out = vec![first];
    if !second.is_empty() {
        out.push(second.join(" · "));
    }
    out
}

/// What a line of the trains pane is (the selectable ones are members).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrainLine {
    Head,
    Member(usize),
    Other,
}

/// The trains pane's lines, each with what it is.
fn train_lines<'a>(ui: &UiState, trains: &[&TrainView], now: DateTime<Utc>) -> Vec<(TrainLine, Line<'a>)> {
    let t = &ui.theme;
    let mut out = Vec::new();
    let mut member = 0;
    for v in trains {
        let word = v.state.replace('_', " ");
        let mut head = vec![
            Span::styled(
                format!("train {} ", v.name),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(word, t.release_word(&v.state)),
            Span::styled(
                format!("  started {} by {}", v.started_at.format("%H:%M"), v.started_by),
                t.dim(),
            ),
        ];
        if !v.reason.is_empty() {
            head.push(Span::styled(format!("  {}", v.reason), t.dim()));
        }
        out.push((TrainLine::Head, Line::from(head)));
        for m in &v.members {
            let sym = release_symbol(&m.state, now.timestamp());
            let mut spans = vec![
                Span::styled(format!("  {sym} "), t.release_word(&m.state)),
                Span::raw(pad(&m.plan, 14)),
                Span::raw(pad(&m.version, 11)),
                Span::styled(pad(&m.state.replace('_', " "), 13), t.release_word(&m.state)),
                Span::raw(format!("{}/{}", m.stages_done, m.stages)),
            ];
            if let Some(p) = &m.problem {
                spans.push(Span::styled(format!("  {p}"), t.glyph(Glyph::Failed)));
            }
            out.push((TrainLine::Member(member), Line::from(spans)));
            member += 1;
        }
        for g in &v.gates {
            let (mark, style) = if g.open {
                ("✓", t.glyph(Glyph::Succeeded))
            } else {
                ("⏸", t.warn())
            };
            let who = if g.approved_by.is_empty() {
                String::new()
            } else {
                format!("; approved by {}", g.approved_by.join(", "))
            };
            out.push((
                TrainLine::Other,
                Line::from(Span::styled(
                    format!(
                        "  {mark} gate {}: {} ({}){who}",
                        g.name,
                        if g.open { "open" } else { "waiting" },
                        g.progress
                    ),
                    style,
                )),
            ));
        }
        for a in &v.blocking {
            out.push((
                TrainLine::Other,
                Line::from(Span::styled(format!("  ⇢ {}", a.text(now)), t.warn())),
            ));
        }
        if !v.rollback_order.is_empty() {
            out.push((
                TrainLine::Other,
                Line::from(Span::styled(
                    format!("  rollback order: {}", v.rollback_order.join(" → ")),
                    t.dim(),
                )),
            ));
        }
    }
    out
}

fn trains(buf: &mut Buffer, area: Rect, ui: &UiState, ws: &WsBoard, now: DateTime<Utc>) {
    let focused = ws.focus == WsPane::Trains;
    let shown = ws.trains();
    let title = format!(" Trains ({}) ", shown.len());
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let (width, height) = (usize::from(inner.width), usize::from(inner.height));
    if height == 0 {
        return;
    }
    if shown.is_empty() {
        let text = if ws.board.trains.is_empty() {
            "no trains (`flightdeck train start NAME` starts one)"
        } else {
            "no train matches the filter"
        };
        Paragraph::new(Line::from(Span::styled(fit(text, width), ui.theme.dim()))).render(inner, buf);
        return;
    }
    let lines = train_lines(ui, &shown, now);
    let keep = lines.iter().position(|(k, _)| *k == TrainLine::Member(ws.member));
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|(k, l)| {
            let l = fit_line(l, width);
            if k == TrainLine::Member(ws.member) {
                l.style(ui.theme.selected(focused))
            } else {
                l
            }
        })
        .collect();
    Paragraph::new(clip_lines(lines, height, keep, ui.theme.dim())).render(inner, buf);
}

/// The status bar: a notice, else the board's keys.
fn status(buf: &mut Buffer, area: Rect, ui: &UiState) {
    let width = usize::from(area.width);
    let t = &ui.theme;
    let mut spans = Vec::new();
    if let Some(n) = &ui.notice {
        let (mark, style) = if n.error {
            ("✗ ", t.glyph(Glyph::Failed))
        } else {
            ("› ", t.key())
        };
        spans.push(Span::styled(format!(" {mark}{}  ", n.text), style));
    }
    let k = |a: Action| ui.keymap.key_of(a).unwrap_or_else(|| format!(":{}", a.name()));
    // On the trains pane, what can be done to the selected train, in place of the filters (they
    // are in the help): all of it fits in 80 columns.
    let keys: &[(Action, &str)] = if ui.ws.as_ref().is_some_and(|w| w.focus == WsPane::Trains) {
        &[
            (Action::Open, "open"),
            (Action::Approve, "approve"),
            (Action::Cancel, "cancel"),
            (Action::Rollback, "rollback"),
            (Action::FocusNext, "pane"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ]
    } else {
        &[
            (Action::Open, "open"),
            (Action::Filter, "filter"),
            (Action::StateFilter, "state"),
            (Action::EnvFilter, "env"),
            (Action::FocusNext, "pane"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ]
    };
    for &(a, what) in keys {
        spans.push(Span::styled(format!(" {}", k(a)), t.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    Paragraph::new(fit_line(Line::from(spans), width)).render(area, buf);
}

/// What a click inside a pane's area (within its border) points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// A release: its index among the rows shown.
    Release(usize),
    /// A matrix cell: service, environment.
    Cell(usize, usize),
    /// A train member: its index among every shown train's members.
    Member(usize),
}

/// What the pane drew at (`x`, `y`) inside `inner` (as [`render`] lays it out).
pub fn hit(ws: &WsBoard, pane: WsPane, inner: Rect, x: u16, y: u16) -> Option<Hit> {
    let row = usize::from(y.saturating_sub(inner.y));
    let col = usize::from(x.saturating_sub(inner.x));
    let height = usize::from(inner.height);
    match pane {
        WsPane::Releases => {
            // The column titles, then the rows clipped around the selected one.
            let n = ws.rows().len();
            let rows = clip_window(n, height.saturating_sub(1), Some(ws.selected_row()));
            match rows.get(row.checked_sub(1)?) {
                Some(layout::Row::Line(i)) => Some(Hit::Release(*i)),
                _ => None,
            }
        }
        WsPane::Matrix => {
            let m = ws.matrix();
            let cols = MatrixCols::at(usize::from(inner.width), m, ws.cell.1);
            let rows = clip_window(m.rows.len(), height.saturating_sub(1), Some(ws.cell.0));
            let r = match rows.get(row.checked_sub(1)?) {
                Some(layout::Row::Line(i)) => *i,
                _ => return None,
            };
            let c = match col.checked_sub(cols.service) {
                Some(dx) => (cols.first + dx / cols.each.max(1)).min(m.environments.len().saturating_sub(1)),
                None => ws.cell.1,
            };
            Some(Hit::Cell(r, c))
        }
        WsPane::Trains => {
            let trains = ws.trains();
            // Only the kinds of lines matter here, not how they look.
            let kinds: Vec<TrainLine> = {
                let mut out = Vec::new();
                let mut member = 0;
                for v in &trains {
                    out.push(TrainLine::Head);
                    for _ in &v.members {
                        out.push(TrainLine::Member(member));
                        member += 1;
                    }
                    out.extend(std::iter::repeat_n(
                        TrainLine::Other,
                        v.gates.len() + v.blocking.len() + usize::from(!v.rollback_order.is_empty()),
                    ));
                }
                out
            };
            let keep = kinds.iter().position(|k| *k == TrainLine::Member(ws.member));
            match clip_window(kinds.len(), height, keep).get(row) {
                Some(layout::Row::Line(i)) => match kinds.get(*i) {
                    Some(TrainLine::Member(m)) => Some(Hit::Member(*m)),
                    _ => None,
                },
                _ => None,
            }
        }
    }
}
