//! Pure render functions of the cockpit's state and `now`: no clock, no I/O.

mod board;
pub mod checklist;
mod drift;
mod help;
mod modal;
mod output;
pub mod pipeline;
mod start;
mod statusbar;
pub mod workspace;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::layout::{Focus, Layout, MIN_SIZE, Row, TABS, clip_window, screen};
use super::state::UiState;

pub use crate::tui::widgets::text::{fit, fit_line};
pub use output::styled_line;

/// Draw the whole cockpit.
pub fn render(frame: &mut Frame, ui: &UiState, now: DateTime<Utc>) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    // The workspace board, when it is on screen (a release opened from it is drawn as usual).
    if let Some(ws) = ui.ws.as_ref().filter(|w| w.shown) {
        workspace::render(buf, area, ui, ws, now);
        modal::render(buf, area, ui);
        return;
    }
    let p = screen(area, ui.arrange());
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
    // In the narrow layout the one pane shown is focused.
    let focused = |f: Focus| ui.focus == f;
    if let Some(r) = p.tabs {
        render_tabs(buf, r, ui);
    }
    if let Some(r) = p.board {
        board::render(buf, r, ui, now, focused(Focus::Board));
    }
    if let Some(r) = p.drift {
        drift::render(buf, r, ui, focused(Focus::Drift));
    }
    if let Some(r) = p.checklist {
        checklist::render(buf, r, ui, focused(Focus::Checklist));
    }
    if let Some(r) = p.pipeline {
        middle(buf, r, ui, now);
    }
    if let Some(r) = p.output {
        output::render(buf, r, ui, focused(Focus::Output));
    }
    if let Some(r) = p.status {
        statusbar::render(buf, r, ui, now);
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

/// `lines` cut to `height` rows as [`clip_window`] says, the markers written out (`… N more
/// above`, `… N more below`).
pub fn clip_lines<'a>(lines: Vec<Line<'a>>, height: usize, keep: Option<usize>, dim: Style) -> Vec<Line<'a>> {
    if lines.len() <= height || height == 0 {
        return lines;
    }
    let window = clip_window(lines.len(), height, keep);
    let mut lines: Vec<Option<Line>> = lines.into_iter().map(Some).collect();
    let marker = |text: String| Line::from(Span::styled(text, dim));
    window
        .into_iter()
        .map(|r| match r {
            Row::Line(i) => lines[i].take().unwrap_or_default(),
            Row::Above(n) => marker(format!("… {n} more above")),
            Row::Below(n) => marker(format!("… {n} more below")),
            Row::Others(n) => marker(format!("… {n} more")),
            Row::All(n) => marker(format!("… {n} lines")),
        })
        .collect()
}

/// [`clip_lines`] of `n` lines made by `line` only for those shown: for long lists, where making
/// every line would cost more than drawing the ones that fit.
pub fn clip_with<'a>(
    n: usize,
    height: usize,
    keep: Option<usize>,
    dim: Style,
    mut line: impl FnMut(usize) -> Line<'a>,
) -> Vec<Line<'a>> {
    if n <= height || height == 0 {
        return (0..n).map(line).collect();
    }
    let marker = |text: String| Line::from(Span::styled(text, dim));
    clip_window(n, height, keep)
        .into_iter()
        .map(|r| match r {
            Row::Line(i) => line(i),
            Row::Above(k) => marker(format!("… {k} more above")),
            Row::Below(k) => marker(format!("… {k} more below")),
            Row::Others(k) => marker(format!("… {k} more")),
            Row::All(k) => marker(format!("… {k} lines")),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    fn numbered(n: usize) -> Vec<Line<'static>> {
        (0..n).map(|i| Line::from(format!("{i}"))).collect()
    }

    #[test]
    fn clipping_says_what_was_left_out() {
        let dim = Style::new();
        assert_eq!(texts(clip_lines(numbered(3), 3, None, dim)), ["0", "1", "2"]);
        assert_eq!(
            texts(clip_lines(numbered(5), 3, None, dim)),
            ["0", "1", "… 3 more below"]
        );
        // The kept line stays in view, with markers on both sides when needed.
        assert_eq!(
            texts(clip_lines(numbered(10), 4, Some(5), dim)),
            ["… 4 more above", "4", "5", "… 4 more below"]
        );
        assert_eq!(
            texts(clip_lines(numbered(10), 4, Some(9), dim)),
            ["… 7 more above", "7", "8", "9"]
        );
        assert_eq!(texts(clip_lines(numbered(10), 1, Some(9), dim)), ["… 10 lines"]);
        // Every line is either shown or counted.
        for n in 1..30 {
            for h in 2..12 {
                for k in 0..n {
                    let out = texts(clip_lines(numbered(n), h, Some(k), dim));
                    assert!(out.len() <= h, "{n} {h} {k}: {out:?}");
                    assert!(out.contains(&k.to_string()), "{n} {h} {k}: {out:?}");
                    let shown = out.iter().filter(|l| !l.starts_with('…')).count();
                    let counted: usize = out
                        .iter()
                        .filter_map(|l| l.strip_prefix("… ")?.split(' ').next()?.parse::<usize>().ok())
                        .sum();
                    assert_eq!(shown + counted, n, "{n} {h} {k}: {out:?}");
                }
            }
        }
    }
}
