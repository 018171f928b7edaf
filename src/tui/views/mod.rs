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

/// Where each pane goes on a screen of `area` with `focus` (the medium layout shows the drift
/// pane in the checklist's place while it has the focus; the narrow one shows only the focused
/// tab). The one layout computation: [`render`] draws into these rectangles and the reducer's
/// mouse handling hit-tests them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    pub layout: Layout,
    /// The narrow layout's tab row.
    pub tabs: Option<Rect>,
    pub board: Option<Rect>,
    /// The pipeline, or the start screen when no release is open.
    pub pipeline: Option<Rect>,
    pub drift: Option<Rect>,
    pub checklist: Option<Rect>,
    pub output: Option<Rect>,
    pub status: Option<Rect>,
}

impl Panes {
    /// The pane's rectangle, if it is shown.
    pub fn of(&self, focus: Focus) -> Option<Rect> {
        match focus {
            Focus::Board => self.board,
            Focus::Pipeline => self.pipeline,
            Focus::Drift => self.drift,
            Focus::Checklist => self.checklist,
            Focus::Output => self.output,
        }
    }

    /// The pane at cell (`x`, `y`), if any.
    pub fn at(&self, x: u16, y: u16) -> Option<(Focus, Rect)> {
        let p = ratatui::layout::Position::new(x, y);
        Focus::ALL
            .into_iter()
            .find_map(|f| self.of(f).filter(|r| r.contains(p)).map(|r| (f, r)))
    }
}

/// The panes of a screen of `area` with `focus` (pure: the same for the views and the reducer).
pub fn panes(area: Rect, focus: Focus) -> Panes {
    let mut p = Panes {
        layout: Layout::of(area.width, area.height),
        tabs: None,
        board: None,
        pipeline: None,
        drift: None,
        checklist: None,
        output: None,
        status: None,
    };
    match p.layout {
        Layout::TooSmall => {}
        Layout::Wide => {
            let [top, out, bar] = rows(
                area,
                [
                    Constraint::Percentage(45),
                    Constraint::Fill(1),
                    Constraint::Length(1),
                ],
            );
            let [b, m, e] = cols(
                top,
                [
                    Constraint::Percentage(26),
                    Constraint::Percentage(42),
                    Constraint::Percentage(32),
                ],
            );
            let [d, g] = rows(e, [Constraint::Percentage(40), Constraint::Percentage(60)]);
            (p.board, p.pipeline, p.drift, p.checklist) = (Some(b), Some(m), Some(d), Some(g));
            (p.output, p.status) = (Some(out), Some(bar));
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
            let [left, m] = cols(top, [Constraint::Percentage(45), Constraint::Percentage(55)]);
            let [b, g] = rows(left, [Constraint::Percentage(50), Constraint::Percentage(50)]);
            (p.board, p.pipeline) = (Some(b), Some(m));
            // Two columns: the drift pane shares the lower left with the checklist.
            if focus == Focus::Drift {
                p.drift = Some(g);
            } else {
                p.checklist = Some(g);
            }
            (p.output, p.status) = (Some(out), Some(bar));
        }
        Layout::Narrow => {
            let [tabs, body, bar] = rows(
                area,
                [Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)],
            );
            (p.tabs, p.status) = (Some(tabs), Some(bar));
            match focus {
                Focus::Board => p.board = Some(body),
                Focus::Pipeline => p.pipeline = Some(body),
                Focus::Output => p.output = Some(body),
                Focus::Drift => p.drift = Some(body),
                Focus::Checklist => p.checklist = Some(body),
            }
        }
    }
    p
}

/// The panes as drawn for `ui`: [`panes`], or with the output zoomed (`z`) the output panes on
/// the whole screen above the status bar.
pub fn screen(area: Rect, ui: &UiState) -> Panes {
    let p = panes(area, ui.focus);
    if !ui.zoom || p.layout == Layout::TooSmall {
        return p;
    }
    let [out, bar] = rows(area, [Constraint::Fill(1), Constraint::Length(1)]);
    Panes {
        layout: p.layout,
        tabs: None,
        board: None,
        pipeline: None,
        drift: None,
        checklist: None,
        output: Some(out),
        status: Some(bar),
    }
}

/// Where each output pane goes (its block, border included) on a screen of `area`, as if the
/// output were shown (in the narrow layout it is only while its tab is): the reducer scrolls by
/// the panes' real heights and the mouse finds the pane under the pointer.
pub fn output_pane_rects(ui: &UiState, area: Rect) -> Vec<Rect> {
    let p = if ui.zoom {
        screen(area, ui)
    } else {
        panes(area, Focus::Output)
    };
    p.output.map_or_else(Vec::new, |out| output::pane_rects(ui, out))
}

/// The tab under column `x` of the narrow layout's tab row (as [`render_tabs`] draws them).
pub fn tab_at(tabs: Rect, x: u16) -> Option<usize> {
    let mut left = tabs.x;
    for (i, name) in TABS.iter().enumerate() {
        let w = format!(" {} {name} ", i + 1).width() as u16;
        if x >= left && x < left.saturating_add(w) {
            return Some(i);
        }
        left = left.saturating_add(w);
    }
    None
}

/// Draw the whole cockpit.
pub fn render(frame: &mut Frame, ui: &UiState, now: DateTime<Utc>) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    let p = screen(area, ui);
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

/// One row of a clipped list: a line of the list, or a marker counting lines left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Line(usize),
    Above(usize),
    Below(usize),
    /// Every line but the one kept (only when two rows are all there is).
    Others(usize),
    /// Only the count (one row).
    All(usize),
}

/// Which of `n` lines show in `height` rows, never silently: a window that keeps line `keep` in
/// view (else the top), with markers counting what is left out above and below. The views draw
/// with it and the mouse maps a clicked row back through it, so both always agree.
pub fn clip_window(n: usize, height: usize, keep: Option<usize>) -> Vec<Row> {
    if n <= height {
        return (0..n).map(Row::Line).collect();
    }
    match height {
        0 => return Vec::new(),
        1 => return vec![Row::All(n)],
        _ => {}
    }
    let k = keep.unwrap_or(0).min(n - 1);
    // The top of the list fits the kept line: no marker above.
    if k < height - 1 {
        let mut out: Vec<Row> = (0..height - 1).map(Row::Line).collect();
        out.push(Row::Below(n - (height - 1)));
        return out;
    }
    // The bottom of the list: no marker below.
    if k >= n - (height - 1) {
        let start = n - (height - 1);
        let mut out = vec![Row::Above(start)];
        out.extend((start..n).map(Row::Line));
        return out;
    }
    if height == 2 {
        return vec![Row::Line(k), Row::Others(n - 1)];
    }
    // In between: the kept line last, markers on both sides.
    let start = k + 1 - (height - 2);
    let mut out = vec![Row::Above(start)];
    out.extend((start..=k).map(Row::Line));
    out.push(Row::Below(n - (k + 1)));
    out
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
