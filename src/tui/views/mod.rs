//! Pure render functions of the cockpit's state and `now`: no clock, no I/O.

mod board;
mod checklist;
mod drift;
mod help;
mod modal;
mod output;
mod pipeline;
mod start;
mod statusbar;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Direction, Layout as Split, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::app::{Focus, Layout, MIN_SIZE, TABS, UiState};

pub use output::styled_line;

/// Draw the whole cockpit.
pub fn render(frame: &mut Frame, ui: &UiState, now: DateTime<Utc>) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    match Layout::of(area.width, area.height) {
        Layout::TooSmall => {
            let msg = format!("terminal too small (needs {}x{})", MIN_SIZE.0, MIN_SIZE.1);
            let lines: Vec<Line> = wrap_words(&msg, usize::from(area.width))
                .into_iter()
                .take(usize::from(area.height))
                .map(Line::from)
                .collect();
            Paragraph::new(lines).render(area, buf);
            return;
        }
        Layout::Wide => {
            let [top, out, bar] = rows(
                area,
                [
                    Constraint::Percentage(45),
                    Constraint::Fill(1),
                    Constraint::Length(1),
                ],
            );
            let [b, p, e] = cols(
                top,
                [
                    Constraint::Percentage(26),
                    Constraint::Percentage(42),
                    Constraint::Percentage(32),
                ],
            );
            let [d, g] = rows(e, [Constraint::Percentage(40), Constraint::Percentage(60)]);
            board::render(buf, b, ui, now, ui.focus == Focus::Board);
            middle(buf, p, ui, now);
            drift::render(buf, d, ui, ui.focus == Focus::Drift);
            checklist::render(buf, g, ui, ui.focus == Focus::Checklist);
            output::render(buf, out, ui, ui.focus == Focus::Output);
            statusbar::render(buf, bar, ui, now);
        }
        Layout::Medium => {
            let [top, out, bar] = rows(
                area,
                [
                    Constraint::Percentage(50),
                    Constraint::Fill(1),
                    Constraint::Length(1),
                ],
            );
            let [left, p] = cols(top, [Constraint::Percentage(45), Constraint::Percentage(55)]);
            let [b, g] = rows(left, [Constraint::Percentage(50), Constraint::Percentage(50)]);
            board::render(buf, b, ui, now, ui.focus == Focus::Board);
            // Two columns: the drift pane shares the lower left with the checklist.
            if ui.focus == Focus::Drift {
                drift::render(buf, g, ui, true);
            } else {
                checklist::render(buf, g, ui, ui.focus == Focus::Checklist);
            }
            middle(buf, p, ui, now);
            output::render(buf, out, ui, ui.focus == Focus::Output);
            statusbar::render(buf, bar, ui, now);
        }
        Layout::Narrow => {
            let [tabs, body, bar] = rows(
                area,
                [Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)],
            );
            render_tabs(buf, tabs, ui);
            match ui.focus {
                Focus::Board => board::render(buf, body, ui, now, true),
                Focus::Pipeline => middle(buf, body, ui, now),
                Focus::Output => output::render(buf, body, ui, true),
                Focus::Drift => drift::render(buf, body, ui, true),
                Focus::Checklist => checklist::render(buf, body, ui, true),
            }
            statusbar::render(buf, bar, ui, now);
        }
    }
    modal::render(buf, area, ui);
}

/// The middle pane: the pipeline, or the start screen when no release is open.
fn middle(buf: &mut Buffer, area: Rect, ui: &UiState, now: DateTime<Utc>) {
    if ui.release.id.is_empty() {
        start::render(buf, area, ui, ui.focus == Focus::Pipeline);
    } else {
        pipeline::render(buf, area, ui, now, ui.focus == Focus::Pipeline);
    }
}

fn rows<const N: usize>(area: Rect, c: [Constraint; N]) -> [Rect; N] {
    Split::default()
        .direction(Direction::Vertical)
        .constraints(c)
        .areas(area)
}

fn cols<const N: usize>(area: Rect, c: [Constraint; N]) -> [Rect; N] {
    Split::default()
        .direction(Direction::Horizontal)
        .constraints(c)
        .areas(area)
}

fn render_tabs(buf: &mut Buffer, area: Rect, ui: &UiState) {
    let mut spans = Vec::new();
    for (i, name) in TABS.iter().enumerate() {
        let style = if ui.focus.index() == i {
            ui.theme.selected(true)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {} {name} ", i + 1), style));
    }
    Paragraph::new(fit_line(Line::from(spans), usize::from(area.width))).render(area, buf);
}

/// A bordered block with a title (the focused pane's border stands out).
fn block<'a>(title: String, ui: &UiState, focused: bool, width: u16) -> Block<'a> {
    let title = fit(&title, usize::from(width.saturating_sub(2)));
    Block::default()
        .borders(Borders::ALL)
        .border_style(ui.theme.border(focused))
        .title(Span::styled(title, ui.theme.border(focused)))
}

/// `text` cut to `width` columns, ending with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > width - 1 {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// A line cut to `width` columns, its last cell `…` when cut (styles kept).
pub fn fit_line(line: Line<'_>, width: usize) -> Line<'_> {
    if line.width() <= width {
        return line;
    }
    let mut spans = Vec::new();
    let mut w = 0;
    let room = width.saturating_sub(1);
    for span in line.spans {
        let sw = span.content.width();
        if w + sw <= room {
            w += sw;
            spans.push(span);
            continue;
        }
        let mut cut = String::new();
        for c in span.content.chars() {
            let cw = c.width().unwrap_or(0);
            if w + cw > room {
                break;
            }
            w += cw;
            cut.push(c);
        }
        spans.push(Span::styled(cut, span.style));
        break;
    }
    if width > 0 {
        spans.push(Span::raw("…"));
    }
    Line::from(spans).style(line.style)
}

/// Greedy word wrap (words longer than the width are cut with `…`).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if candidate.width() <= width {
            cur = candidate;
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur = fit(word, width);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `1h2m`, `3m4s`, `5s` (whole seconds).
pub fn short_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else {
        format!("{sec}s")
    }
}

/// Time between `from` and `to` (or `now` while running).
pub fn elapsed(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match from {
        Some(f) => short_duration((to.unwrap_or(now) - f).num_milliseconds()),
        None => "-".into(),
    }
}
