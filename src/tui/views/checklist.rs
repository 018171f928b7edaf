//! The checklist pane: the gates (one line each), then the selected gate's checklist (ticked by
//! whom, the automatic checks' results) and its approvals (who, when, how many still needed).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit, fit_line};
use crate::tui::state::UiState;
use crate::tui::theme::Glyph;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    let st = &ui.release;
    let b = block(
        format!(" Checklist · gates ({}) ", st.gates.len()),
        ui,
        focused,
        area.width,
    );
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    if inner.height == 0 || width == 0 {
        return;
    }
    let body = body(ui, focused, width);
    let lines = super::clip_lines(body.lines, usize::from(inner.height), body.keep, ui.theme.dim());
    Paragraph::new(lines).render(inner, buf);
}

/// What a row of the pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Gate(usize),
    /// A checklist item (index) of the selected gate (both of its lines).
    Item(usize),
    Other,
}

/// The pane's lines before clipping, what each shows, and the line to keep in view.
struct Body<'a> {
    lines: Vec<Line<'a>>,
    tags: Vec<Tag>,
    keep: Option<usize>,
}

/// What row `row` of the pane's inside (`width` x `height`) shows, as drawn when `focused`.
pub fn hit(ui: &UiState, focused: bool, width: u16, height: u16, row: usize) -> Option<Tag> {
    let body = body(ui, focused, usize::from(width));
    match crate::tui::layout::clip_window(body.tags.len(), usize::from(height), body.keep).get(row)? {
        crate::tui::layout::Row::Line(i) => body.tags.get(*i).copied(),
        _ => None,
    }
}

fn body(ui: &UiState, focused: bool, width: usize) -> Body<'_> {
    let st = &ui.release;
    let mut lines: Vec<Line> = Vec::new();
    let mut tags: Vec<Tag> = Vec::new();
    if st.gates.is_empty() {
        lines.push(Line::from(fit("no gates for this release", width)));
        tags.push(Tag::Other);
    }
    let selected = ui.selected_gate();
    // The line to keep in view (the selected item's second line) when the pane is too short.
    let mut keep = None;
    for (gi, g) in st.gates.iter().enumerate() {
        let glyph = if g.satisfied() {
            Glyph::Succeeded
        } else if g.reached_by.is_some() {
            Glyph::Gated
        } else {
            Glyph::Pending
        };
        let reached = match &g.reached_by {
            Some(s) => format!(", reached by {s}"),
            None => String::new(),
        };
        let mut line = Line::from(vec![
            Span::styled(format!("{} ", glyph.symbol(0)), ui.theme.glyph(glyph)),
            Span::raw(format!(
                "{}: {}/{} items, {}/{} approvals{reached}",
                g.decl.name,
                g.items_done(),
                g.decl.checklist.len(),
                g.counted(),
                g.decl.approvals
            )),
        ]);
        if Some(gi) == selected && st.gates.len() > 1 {
            line = line.style(ui.theme.selected(false));
        }
        lines.push(fit_line(line, width));
        tags.push(Tag::Gate(gi));
    }
    if let Some(g) = selected.and_then(|i| st.gates.get(i)) {
        if st.gates.len() > 1 {
            lines.push(Line::from(fit(&format!("── {} ──", g.decl.name), width)));
            tags.push(Tag::Other);
        }
        for (i, (text, auto)) in g.decl.checklist.iter().enumerate() {
            let (mark, who) = if *auto {
                match g.checks[i].as_ref().map(|c| &c.outcome) {
                    None => (Glyph::Pending, "check not run".to_string()),
                    Some(None) => (Glyph::Running, "checking".to_string()),
                    Some(Some(o)) if o.is_success() => (Glyph::Succeeded, "check passed".to_string()),
                    Some(Some(_)) => (Glyph::Failed, "check failed".to_string()),
                }
            } else if let Some(m) = &g.ticks[i] {
                let note = if m.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", m.note)
                };
                (
                    Glyph::Succeeded,
                    format!("ticked by {} at {}{note}", m.actor, m.at.format("%H:%M:%S")),
                )
            } else {
                (Glyph::Pending, "needs a tick".to_string())
            };
            // The item on one line, who/what on the next: both readable in a narrow column.
            let mut line = Line::from(vec![
                Span::raw("  "),
                Span::styled(format!("{} ", mark.symbol(0)), ui.theme.glyph(mark)),
                Span::raw(format!("{}. {text}", i + 1)),
            ]);
            if focused && i == ui.item {
                line = line.style(ui.theme.selected(true));
                keep = Some(lines.len() + 1);
            }
            lines.push(fit_line(line, width));
            let kind = if *auto { "automatic" } else { "manual" };
            let line = Line::from(Span::styled(format!("       {kind}: {who}"), ui.theme.dim()));
            lines.push(fit_line(line, width));
            tags.extend([Tag::Item(i), Tag::Item(i)]);
        }
        for a in &g.approvals {
            let note = if a.note.is_empty() {
                String::new()
            } else {
                format!(": {}", a.note)
            };
            // An expired approval stays in sight, marked, and counts for nothing.
            let (glyph, expired) = if g.expired(a) {
                (Glyph::Skipped, " (expired)")
            } else {
                (Glyph::Succeeded, "")
            };
            lines.push(fit_line(
                Line::from(vec![
                    Span::raw("  "),
                    Span::styled(format!("{} ", glyph.symbol(0)), ui.theme.glyph(glyph)),
                    Span::raw(format!(
                        "approved by {} at {}{note}{expired}",
                        a.actor,
                        a.at.format("%H:%M:%S")
                    )),
                ]),
                width,
            ));
        }
        let still = (g.decl.approvals as usize).saturating_sub(g.counted());
        if still > 0 {
            lines.push(fit_line(
                Line::from(vec![
                    Span::raw("  "),
                    Span::styled(
                        format!("{} ", Glyph::Gated.symbol(0)),
                        ui.theme.glyph(Glyph::Gated),
                    ),
                    Span::raw(format!("{still} more approval(s) needed")),
                ]),
                width,
            ));
        }
    }
    // Approvals and what is still needed: one line each, nothing to click.
    tags.resize(lines.len(), Tag::Other);
    Body { lines, tags, keep }
}
