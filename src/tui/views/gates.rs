//! Gates: per gate its checklist (ticked by whom, automatic checks' results) and approvals.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit, fit_line};
use crate::tui::app::UiState;
use crate::tui::theme::Glyph;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    let st = &ui.release;
    let b = block(format!(" Gates ({}) ", st.gates.len()), ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    if inner.height == 0 || width == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    if st.gates.is_empty() {
        lines.push(Line::from(fit("no gates for this release", width)));
    }
    for g in &st.gates {
        let glyph = if g.satisfied() {
            Glyph::Succeeded
        } else if g.reached_by.is_some() {
            Glyph::Gated
        } else {
            Glyph::Pending
        };
        let reached = match &g.reached_by {
            Some(s) => format!(" ({s})"),
            None => String::new(),
        };
        lines.push(fit_line(
            Line::from(vec![
                Span::styled(format!("{} ", glyph.symbol(0)), ui.theme.glyph(glyph)),
                Span::raw(format!(
                    "{}{reached}: {}/{} items, {}/{} approvals",
                    g.decl.name,
                    g.items_done(),
                    g.decl.checklist.len(),
                    g.approvals.len(),
                    g.decl.approvals
                )),
            ]),
            width,
        ));
        for (i, (text, auto)) in g.decl.checklist.iter().enumerate() {
            let (mark, who) = if *auto {
                match g.checks[i].as_ref().map(|c| &c.outcome) {
                    None => (Glyph::Pending, "check not run".to_string()),
                    Some(None) => (Glyph::Running, "checking".to_string()),
                    Some(Some(o)) if o.is_success() => (Glyph::Succeeded, "check passed".to_string()),
                    Some(Some(_)) => (Glyph::Failed, "check failed".to_string()),
                }
            } else if let Some(m) = &g.ticks[i] {
                (Glyph::Succeeded, format!("ticked by {}", m.actor))
            } else {
                (Glyph::Pending, "needs a tick".to_string())
            };
            lines.push(fit_line(
                Line::from(vec![
                    Span::raw("  "),
                    Span::styled(format!("{} ", mark.symbol(0)), ui.theme.glyph(mark)),
                    Span::raw(format!("{}. {text} ", i + 1)),
                    Span::styled(format!("({who})"), ui.theme.dim()),
                ]),
                width,
            ));
        }
        for a in &g.approvals {
            lines.push(fit_line(
                Line::from(vec![
                    Span::raw("  "),
                    Span::styled(
                        format!("{} ", Glyph::Succeeded.symbol(0)),
                        ui.theme.glyph(Glyph::Succeeded),
                    ),
                    Span::raw(format!("approved by {} at {}", a.actor, a.at.format("%H:%M:%S"))),
                ]),
                width,
            ));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}
