//! The status bar: release, state, elapsed, driver, what needs a person, and key hints from the
//! keymap.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::{elapsed, fit_line};
use crate::tui::app::UiState;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, now: DateTime<Utc>) {
    let st = &ui.release;
    let word = if st.id.is_empty() {
        "no release"
    } else {
        st.state_word(ui.driver.is_some())
    };
    let driver = match crate::tui::app::shown_driver(st, ui.driver) {
        Some(0) => "driver alive".to_string(),
        Some(pid) => format!("driver pid {pid}"),
        None => "no driver".to_string(),
    };
    let mut left = vec![
        Span::styled(format!(" {} ", st.id), ui.theme.selected(true)),
        Span::raw(" "),
        Span::styled(word.to_string(), ui.theme.release_word(word)),
        Span::raw(format!(
            "  {}  ",
            elapsed(st.created_at, st.finished.as_ref().map(|f| f.at), now)
        )),
        Span::styled(driver, ui.theme.dim()),
    ];
    if let Some(p) = &ui.problem {
        left.push(Span::styled(
            format!("  {p}"),
            ui.theme.glyph(crate::tui::theme::Glyph::Failed),
        ));
    }
    let pending = st.pending_requests().count();
    if pending > 0 {
        left.push(Span::styled(
            format!("  {pending} request(s) pending"),
            ui.theme.warn(),
        ));
    }
    if let Some(g) = st.gates.iter().find(|g| g.reached_by.is_some() && !g.satisfied())
        && st.finished.is_none()
    {
        left.push(Span::styled(
            format!("  gate {} needs a person", g.decl.name),
            ui.theme.warn(),
        ));
    }
    let mut hints = Vec::new();
    for (k, what) in ui.keymap.hints() {
        hints.push(Span::styled(k, ui.theme.key()));
        hints.push(Span::raw(format!(" {what}  ")));
    }
    let width = usize::from(area.width);
    let left_w: usize = left.iter().map(|s| s.content.width()).sum();
    let hints_w: usize = hints.iter().map(|s| s.content.width()).sum();
    let mut spans = left;
    if left_w + 2 + hints_w <= width {
        spans.push(Span::raw(" ".repeat(width - left_w - hints_w)));
        spans.extend(hints);
    } else {
        spans.push(Span::raw("  "));
        spans.extend(hints);
    }
    Paragraph::new(fit_line(Line::from(spans), width)).render(area, buf);
}
