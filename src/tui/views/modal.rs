//! Overlays: confirmations (with the rollback preview and the typed environment name), text
//! prompts, the command palette and the new-release form.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::{block, fit, fit_line};
use crate::tui::modal::{Confirm, EnvHistory, MetricsView, Modal, Palette, Prompt, StartForm};
use crate::tui::state::UiState;
use crate::tui::theme::Glyph;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState) {
    match &ui.modal {
        Some(Modal::Help) => super::help::render(buf, area, ui),
        Some(Modal::Confirm(c)) => confirm(buf, area, ui, c),
        Some(Modal::Prompt(p)) => prompt(buf, area, ui, p),
        Some(Modal::Palette(p)) => palette(buf, area, ui, p),
        Some(Modal::Start(f)) => start(buf, area, ui, f),
        Some(Modal::EnvHistory(h)) => env_history(buf, area, ui, h),
        Some(Modal::Metrics(v)) => metrics(buf, area, ui, v),
        None => {}
    }
}

/// A centred box for `lines` (at most the area).
fn frame(buf: &mut Buffer, area: Rect, ui: &UiState, title: &str, lines: Vec<Line<'_>>, min_w: usize) {
    let want_w = lines
        .iter()
        .map(|l| l.width())
        .max()
        .unwrap_or(0)
        .max(min_w)
        .max(title.len() + 4)
        + 4;
    let w = (want_w as u16).min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(rect, buf);
    let b = block(format!(" {title} "), ui, true, rect.width);
    let inner = b.inner(rect);
    b.render(rect, buf);
    let width = usize::from(inner.width);
    let lines: Vec<Line> = lines.into_iter().map(|l| fit_line(l, width)).collect();
    Paragraph::new(lines).render(inner, buf);
}

fn input_line<'a>(label: &str, text: &str, ui: &UiState) -> Line<'a> {
    Line::from(vec![
        Span::styled(label.to_string(), ui.theme.key()),
        Span::raw(text.to_string()),
        Span::styled("▏", ui.theme.key()),
    ])
}

fn error_line<'a>(e: &str, ui: &UiState) -> Line<'a> {
    Line::from(Span::styled(
        format!("{} {e}", Glyph::Failed.symbol(0)),
        ui.theme.glyph(Glyph::Failed),
    ))
}

fn confirm(buf: &mut Buffer, area: Rect, ui: &UiState, c: &Confirm) {
    let body: Vec<Line> = c.body.iter().map(|l| Line::from(l.clone())).collect();
    // The question and the input always show; a long preview is cut (and says so) instead.
    let tail = 2
        + if c.typed.is_some() { 3 } else { 1 }
        + usize::from(c.error.is_some())
        + usize::from(!c.others.is_empty());
    let room = usize::from(area.height).saturating_sub(tail).max(1);
    let mut lines = super::clip_lines(body, room, None, ui.theme.dim());
    lines.push(Line::from(""));
    match &c.typed {
        Some(env) => {
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", Glyph::Gated.symbol(0)), ui.theme.warn()),
                Span::styled(
                    c.typed_why
                        .clone()
                        .unwrap_or_else(|| format!("{env} is a protected environment.")),
                    ui.theme.warn(),
                ),
            ]));
            lines.push(Line::from(format!(
                "Type `{env}` and press Enter to confirm; Esc cancels."
            )));
            lines.push(input_line("> ", &c.input.text, ui));
        }
        None => lines.push(Line::from(vec![
            Span::styled("y", ui.theme.key()),
            Span::raw("/"),
            Span::styled("Enter", ui.theme.key()),
            Span::raw(" confirm   "),
            Span::styled("n", ui.theme.key()),
            Span::raw("/"),
            Span::styled("Esc", ui.theme.key()),
            Span::raw(" cancel"),
        ])),
    }
    if let Some(other) = c.others.first() {
        lines.push(Line::from(vec![
            Span::styled("Tab", ui.theme.key()),
            Span::raw(format!(" instead: {}", other.title)),
        ]));
    }
    if let Some(e) = &c.error {
        lines.push(error_line(e, ui));
    }
    frame(buf, area, ui, &c.title, lines, 40);
}

fn prompt(buf: &mut Buffer, area: Rect, ui: &UiState, p: &Prompt) {
    let mut lines = vec![input_line("> ", &p.input.text, ui)];
    lines.push(Line::from(Span::styled(
        "Enter: done   Esc: cancel",
        ui.theme.dim(),
    )));
    if let Some(e) = &p.error {
        lines.push(error_line(e, ui));
    }
    frame(buf, area, ui, &p.title(), lines, 50);
}

fn palette(buf: &mut Buffer, area: Rect, ui: &UiState, p: &Palette) {
    let matches = p.matches(&ui.keymap);
    let room = usize::from(area.height.saturating_sub(4)).clamp(1, 16);
    let first = p.selected.saturating_sub(room - 1);
    let mut lines = vec![input_line(": ", &p.input.text, ui)];
    if matches.is_empty() {
        lines.push(Line::from(Span::styled("no action matches", ui.theme.dim())));
    }
    for (i, (a, key)) in matches.iter().enumerate().skip(first).take(room) {
        let mut line = Line::from(vec![
            Span::styled(format!("{:<8}", key.clone().unwrap_or_default()), ui.theme.key()),
            Span::raw(format!("{:<16} ", a.name())),
            Span::styled(a.describe(), ui.theme.dim()),
        ]);
        if i == p.selected {
            line = line.style(ui.theme.selected(true));
        }
        lines.push(line);
    }
    frame(
        buf,
        area,
        ui,
        "Command palette (↑↓ choose, Enter run, Esc close)",
        lines,
        70,
    );
}

fn start(buf: &mut Buffer, area: Rect, ui: &UiState, f: &StartForm) {
    let mut lines = vec![input_line("version: ", &f.version.text, ui)];
    let mut types = vec![Span::styled("type:    ", ui.theme.key())];
    for t in crate::plan::ReleaseType::ALL {
        let style = if t == f.rtype {
            ui.theme.selected(true)
        } else {
            ui.theme.dim()
        };
        types.push(Span::styled(format!(" {t} "), style));
        types.push(Span::raw(" "));
    }
    lines.push(Line::from(types));
    lines.push(Line::from(Span::styled(
        fit(f.suggestion.as_deref().unwrap_or("asking `flightdeck next`…"), 70),
        ui.theme.dim(),
    )));
    lines.push(Line::from(Span::styled(
        "Enter: start (detached driver)   ↑↓/Tab: type   Esc: cancel",
        ui.theme.dim(),
    )));
    if let Some(e) = &f.error {
        lines.push(error_line(e, ui));
    }
    frame(buf, area, ui, "New release", lines, 60);
}

/// The releases that reached an environment, newest finish first: version, what it did there,
/// who started and approved it, how long it took, when it finished.
fn env_history(buf: &mut Buffer, area: Rect, ui: &UiState, h: &EnvHistory) {
    let t = &ui.theme;
    let mut lines: Vec<Line> = Vec::new();
    let room = usize::from(area.height.saturating_sub(4)).max(1);
    match &h.rows {
        None => lines.push(Line::from(Span::styled("loading…", t.dim()))),
        Some(Err(e)) => lines.push(error_line(e, ui)),
        Some(Ok(rows)) if rows.is_empty() => lines.push(Line::from(Span::styled(
            format!("no release has reached {} yet", h.env),
            t.dim(),
        ))),
        Some(Ok(rows)) => {
            let selected = h.selected.min(rows.len().saturating_sub(1));
            // A window of rows that holds the selected one: room for the two "more" lines
            // whenever there is more than fits.
            let shown = if rows.len() <= room {
                rows.len()
            } else {
                room.saturating_sub(2).max(1)
            };
            let first = selected.saturating_sub(shown - 1);
            if first > 0 {
                lines.push(Line::from(Span::styled(format!("… {first} newer (↑)"), t.dim())));
            }
            for (i, (s, outcome)) in rows.iter().enumerate().skip(first).take(shown) {
                let style = match outcome.as_str() {
                    "succeeded" => t.glyph(Glyph::Succeeded),
                    "failed" => t.glyph(Glyph::Failed),
                    _ => t.glyph(Glyph::RolledBack),
                };
                let approved = if s.approvers.is_empty() {
                    String::new()
                } else {
                    format!(", approved by {}", s.approvers.join(", "))
                };
                let took = s
                    .duration_ms()
                    .map(|ms| format!("  took {}", super::short_duration(ms)))
                    .unwrap_or_default();
                let version = format!("{:<12} ", fit(&s.version, 12));
                lines.push(Line::from(vec![
                    if i == selected {
                        Span::styled(version, t.selected(true))
                    } else {
                        Span::raw(version)
                    },
                    Span::styled(format!("{outcome:<12} "), style),
                    Span::raw(format!("by {}{approved}{took}  ", s.started_by)),
                    Span::styled(s.finished_at.format("%Y-%m-%d %H:%M").to_string(), t.dim()),
                ]));
            }
            let below = rows.len().saturating_sub(first + shown);
            if below > 0 {
                lines.push(Line::from(Span::styled(format!("… {below} older (↓)"), t.dim())));
            }
        }
    }
    let redeploy = ui
        .keymap
        .keys(
            crate::tui::keymap::Layer::Global,
            crate::tui::action::Action::Redeploy,
        )
        .first()
        .map(|k| format!("{} redeploys the selected version, ", k.label()))
        .unwrap_or_default();
    lines.push(Line::from(Span::styled(
        format!("↑/↓ select, {redeploy}Esc closes"),
        t.dim(),
    )));
    frame(buf, area, ui, &format!("History of {}", h.env), lines, 50);
}

/// The delivery metrics (DORA) of one environment over the last 90 days against the 90 before:
/// per metric its figure, band and trend, then the counts behind it and its weekly sparkline.
fn metrics(buf: &mut Buffer, area: Rect, ui: &UiState, v: &MetricsView) {
    use crate::engine::metrics::Band;
    let t = &ui.theme;
    let mut lines: Vec<Line> = Vec::new();
    match &v.metrics {
        None => lines.push(Line::from(Span::styled("working it out…", t.dim()))),
        Some(Err(e)) => lines.push(error_line(e, ui)),
        Some(Ok(m)) => {
            lines.push(Line::from(Span::styled(
                format!(
                    "{} to {}, by week, against the 90 days before",
                    m.query.from.format("%Y-%m-%d"),
                    m.query.to.format("%Y-%m-%d")
                ),
                t.dim(),
            )));
            for row in crate::engine::metrics::table(m) {
                let (word, style) = match row.band {
                    Some(Band::Elite) => ("elite", t.glyph(Glyph::Succeeded)),
                    Some(Band::High) => ("high", t.key()),
                    Some(Band::Medium) => ("medium", t.warn()),
                    Some(Band::Low) => ("low", t.glyph(Glyph::Failed)),
                    None => ("—", t.dim()),
                };
                lines.push(Line::from(""));
                lines.push(Line::from(vec![
                    Span::raw(format!("{:<32}", row.metric)),
                    Span::raw(format!("{:<26} ", row.figure)),
                    Span::styled(format!("{word:<7} "), style),
                    Span::styled(row.trend, t.dim()),
                ]));
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<30}", row.counts), t.dim()),
                    Span::raw(row.series),
                ]));
            }
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "bands: DORA 2023; `flightdeck metrics --env ENV` for other windows; Esc closes",
        t.dim(),
    )));
    frame(
        buf,
        area,
        ui,
        &format!("Delivery metrics of {}", v.env),
        lines,
        60,
    );
}
