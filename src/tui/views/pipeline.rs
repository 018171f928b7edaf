//! The pipeline: the release's stages in order with symbol and colour, attempt, duration,
//! fan-out counts and dependencies; below, the selected stage's targets (one cell each).

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::{block, elapsed, fit, fit_line};
use crate::engine::state::{StageState, StageStatus};
use crate::tui::app::UiState;
use crate::tui::theme::Glyph;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, now: DateTime<Utc>, focused: bool) {
    let st = &ui.release;
    let (done, total) = st.progress();
    let title = if st.id.is_empty() {
        " Pipeline ".to_string()
    } else {
        format!(" Pipeline {} {} ({done}/{total}) ", st.plan, st.version)
    };
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if height == 0 || width == 0 {
        return;
    }
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
        if let Some(counts) = fanout_counts(s) {
            spans.push(Span::raw(format!("{counts} ")));
        }
        if !s.decl.needs.is_empty() {
            spans.push(Span::styled(
                format!("← {}", s.decl.needs.join(", ")),
                ui.theme.dim(),
            ));
        }
        let mut line = fit_line(Line::from(spans), width);
        if i == ui.stage {
            line = line.style(ui.theme.selected(focused));
        }
        lines.push(line);
    }
    // Details of the selected stage.
    if let Some(s) = st.stages.get(ui.stage) {
        let why = s.reason.as_ref().or(s.waiting.as_ref());
        let mut details: Vec<Line> = Vec::new();
        if let Some(why) = why {
            details.push(fit_line(
                Line::from(Span::styled(format!("{}: {why}", s.decl.id), ui.theme.warn())),
                width,
            ));
        }
        if !s.decl.targets.is_empty() {
            details.push(fit_line(
                Line::from(Span::styled(
                    format!("targets of {} ({}):", s.decl.id, s.targets.len()),
                    ui.theme.dim(),
                )),
                width,
            ));
            details.extend(target_grid(s, ui, secs, width, focused));
        }
        // Stages first; details fill what is left (a selected stage out of view scrolls up).
        let room = height.saturating_sub(details.len().min(height / 2));
        let first = (ui.stage + 1).saturating_sub(room.max(1));
        let mut shown: Vec<Line> = lines.into_iter().skip(first).take(room).collect();
        if !details.is_empty() && shown.len() < height {
            shown.push(Line::from(""));
        }
        shown.extend(details);
        lines = shown;
    }
    lines.truncate(height);
    Paragraph::new(lines).render(inner, buf);
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

fn target_grid<'a>(s: &'a StageState, ui: &UiState, secs: i64, width: usize, focused: bool) -> Vec<Line<'a>> {
    let name_w = s
        .targets
        .iter()
        .map(|t| t.label().width())
        .max()
        .unwrap_or(0)
        .min(20);
    let cell = name_w + 3;
    let per_row = (width / cell).max(1);
    let mut out = Vec::new();
    for (r, chunk) in s.targets.chunks(per_row).enumerate() {
        let mut spans = Vec::new();
        for (c, t) in chunk.iter().enumerate() {
            let g = Glyph::of_target(t);
            let idx = r * per_row + c;
            let name = format!("{:<name_w$} ", fit(t.label(), name_w));
            spans.push(Span::styled(format!("{} ", g.symbol(secs)), ui.theme.glyph(g)));
            if idx == ui.target {
                spans.push(Span::styled(name, ui.theme.selected(focused)));
            } else {
                spans.push(Span::raw(name));
            }
        }
        out.push(fit_line(Line::from(spans), width));
    }
    out
}
