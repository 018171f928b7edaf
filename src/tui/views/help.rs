//! The help overlay, generated from the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::{block, fit_line};
use crate::tui::app::UiState;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState) {
    let keys = ui.keymap.grouped();
    let key_w = keys.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let want_w = (key_w + 2 + 50 + 2) as u16;
    let want_h = (keys.len() + 2) as u16;
    let w = want_w.min(area.width);
    let h = want_h.min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(rect, buf);
    let b = block(" Keys (Esc or ? closes) ".into(), ui, true, rect.width);
    let inner = b.inner(rect);
    b.render(rect, buf);
    let width = usize::from(inner.width);
    let lines: Vec<Line> = keys
        .iter()
        .map(|(k, a)| {
            fit_line(
                Line::from(vec![
                    Span::styled(format!("{k:<key_w$}  "), ui.theme.key()),
                    Span::raw(a.describe()),
                ]),
                width,
            )
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
