//! The log view: the visible slice of one output pane, nothing more. Lines are parsed into
//! styled text (child colours kept, every other escape already dropped by [`crate::ansi`]) only
//! when they are on screen.
//!
//! - The line at the bottom of the view is `pane.bottom()`; lines fill upwards from it. At the
//!   top of the log (wrapping can make the first lines taller than the view) they fill
//!   downwards from line 0 instead, line 0 shown from its start.
//! - stderr lines carry a `▌` marker (visible without colour), flightdeck's annotations are dim,
//!   a line cut at [`SCREEN_LINE_CAP`](crate::tui::output_pane::SCREEN_LINE_CAP) ends with a dim `[cut]`, a
//!   binary-looking line shows as a notice.
//! - Timestamps (`T`) are relative to the run's start, `+MM:SS.mmm` (`+H:MM:SS.mmm` after an
//!   hour): the log records milliseconds since the run started, and a relative time reads the
//!   same in every time zone and in snapshots.
//! - Wrapping (`w`) breaks at the pane's width by display columns: a wide character never
//!   straddles two rows. Without it a long line ends with `…` at the edge.
//! - The pane's search term is highlighted wherever it shows (reversed), the current match's
//!   line more strongly (reversed, bold, underlined; yellow when colours are on).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthChar;

use crate::ansi;
use crate::runlog::LineKind;
use crate::tui::output_pane::{Needle, OutputPane, RingLine};
use crate::tui::theme::Theme;
use crate::tui::widgets::text::{fit, fit_line};

/// One output pane's visible lines.
pub struct LogView<'a> {
    pub pane: &'a OutputPane,
    pub theme: &'a Theme,
}

impl Widget for LogView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let rows = self.rows(usize::from(area.width), usize::from(area.height));
        Paragraph::new(rows).render(area, buf);
    }
}

impl LogView<'_> {
    /// The rows of a view `width` x `height`.
    pub fn rows(&self, width: usize, height: usize) -> Vec<Line<'static>> {
        let p = self.pane;
        if width == 0 || height == 0 {
            return Vec::new();
        }
        let Some(bottom) = p.bottom() else {
            return match p.log {
                Some(_) => vec![Line::from(Span::styled(
                    fit("(no output yet)", width),
                    self.theme.dim(),
                ))],
                None => Vec::new(),
            };
        };
        let mut above: Vec<Line<'static>> = Vec::new();
        let mut n = bottom;
        loop {
            let mut rows = self.line_rows(n, width);
            rows.append(&mut above);
            above = rows;
            if above.len() >= height || n == 0 {
                break;
            }
            n -= 1;
        }
        if above.len() >= height && bottom > 0 {
            // The top line may be shown in part: its last rows.
            return above.split_off(above.len() - height);
        }
        // At the top of the log: fill downwards.
        let mut n = bottom + 1;
        while above.len() < height && n < p.total {
            above.extend(self.line_rows(n, width));
            n += 1;
        }
        above.truncate(height);
        above
    }

    /// Line `n` as screen rows (one unless wrapping).
    fn line_rows(&self, n: u64, width: usize) -> Vec<Line<'static>> {
        let theme = self.theme;
        let Some(l) = self.pane.line(n) else {
            let text = format!("… reading line {} …", n + 1);
            return vec![Line::from(Span::styled(fit(&text, width), theme.dim()))];
        };
        let search = self.pane.search.as_ref();
        let current = search.and_then(|s| s.current_line()) == Some(n);
        let needle = search.map(|s| &s.needle);
        let mut prefix: Vec<Span<'static>> = Vec::new();
        if self.pane.timestamps {
            prefix.push(Span::styled(format!("{} ", stamp(l.t_ms)), theme.dim()));
        }
        if l.kind == LineKind::Stderr {
            prefix.push(Span::styled("▌", theme.stderr_mark()));
        }
        let body = body_spans(l, theme, needle, current);
        if !self.pane.wrap {
            let mut spans = prefix;
            spans.extend(body);
            return vec![fit_line(Line::from(spans), width)];
        }
        let prefix_w: usize = prefix.iter().map(|s| s.width()).sum();
        let room = width.saturating_sub(prefix_w).max(1);
        let mut rows = wrap_spans(body, room);
        if rows.is_empty() {
            rows.push(Vec::new());
        }
        // Continuation rows: the timestamp's room blank, the stderr marker again.
        let cont: Vec<Span<'static>> = prefix
            .iter()
            .map(|s| {
                if s.content == "▌" {
                    s.clone()
                } else {
                    Span::raw(" ".repeat(s.width()))
                }
            })
            .collect();
        rows.into_iter()
            .enumerate()
            .map(|(i, row)| {
                let mut spans = if i == 0 { prefix.clone() } else { cont.clone() };
                spans.extend(row);
                fit_line(Line::from(spans), width)
            })
            .collect()
    }
}

/// `+MM:SS.mmm`, or `+H:MM:SS.mmm` after an hour: time since the run started.
pub fn stamp(t_ms: u64) -> String {
    let (ms, s) = (t_ms % 1000, t_ms / 1000);
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("+{h}:{m:02}:{s:02}.{ms:03}")
    } else {
        format!("+{m:02}:{s:02}.{ms:03}")
    }
}

/// How a search match is highlighted (`current`: the match `n`/`N` moved to).
pub fn match_style(theme: &Theme, current: bool) -> Style {
    let base = Style::new().add_modifier(Modifier::REVERSED);
    match (current, theme.color) {
        (false, _) => base,
        (true, false) => base.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        (true, true) => Style::new()
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    }
}

/// A line's text as styled spans, without markers: child colours, annotations dim, matches of
/// `needle` highlighted, a binary line as a notice, a cut line marked.
pub fn body_spans(l: &RingLine, theme: &Theme, needle: Option<&Needle>, current: bool) -> Vec<Span<'static>> {
    if ansi::is_probably_binary(&l.text) {
        return vec![Span::styled(
            format!("(binary output, {} bytes, not shown)", l.text.len()),
            theme.dim().add_modifier(Modifier::ITALIC),
        )];
    }
    let s = ansi::parse_line(&l.text);
    let hits = needle.map(|n| n.ranges(&s.text)).unwrap_or_default();
    let hit_style = match_style(theme, current);
    let mut spans = Vec::with_capacity(s.spans.len() + 2 * hits.len() + 1);
    for (range, style) in &s.spans {
        let mut st = theme.ansi(style);
        if l.kind == LineKind::Note {
            st = st.patch(theme.dim());
        }
        // Cut the run at the matches' edges.
        let mut at = range.start;
        for h in hits.iter().filter(|h| h.start < range.end && h.end > range.start) {
            let (hs, he) = (h.start.max(range.start), h.end.min(range.end));
            if hs > at {
                spans.push(Span::styled(s.text[at..hs].to_string(), st));
            }
            spans.push(Span::styled(s.text[hs..he].to_string(), st.patch(hit_style)));
            at = he;
        }
        if at < range.end {
            spans.push(Span::styled(s.text[at..range.end].to_string(), st));
        }
    }
    if l.truncated {
        spans.push(Span::styled(" [cut]", theme.dim()));
    }
    spans
}

/// Spans broken into rows of at most `width` columns (a wide character moves to the next row
/// whole).
pub fn wrap_spans(spans: Vec<Span<'static>>, width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows: Vec<Vec<Span<'static>>> = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in spans {
        let mut cur = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !cur.is_empty() {
                    row.push(Span::styled(std::mem::take(&mut cur), span.style));
                }
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            cur.push(c);
            used += w;
        }
        if !cur.is_empty() {
            row.push(Span::styled(cur, span.style));
        }
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[Vec<Span<'static>>]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_by_columns_and_keeps_wide_characters_whole() {
        let rows = wrap_spans(vec![Span::raw("ab漢字cd")], 3);
        assert_eq!(text(&rows), ["ab", "漢", "字c", "d"]);
        let rows = wrap_spans(vec![Span::raw("abc"), Span::raw("def")], 4);
        assert_eq!(text(&rows), ["abcd", "ef"]);
        assert!(wrap_spans(Vec::new(), 5).is_empty());
        // Narrower than a wide character: it gets a row of its own.
        assert_eq!(text(&wrap_spans(vec![Span::raw("漢字")], 1)), ["漢", "字"]);
    }

    #[test]
    fn stamps_are_relative_to_the_run_start() {
        assert_eq!(stamp(0), "+00:00.000");
        assert_eq!(stamp(62_345), "+01:02.345");
        assert_eq!(stamp(3_723_004), "+1:02:03.004");
    }

    fn pane(lines: &[(&str, LineKind)]) -> OutputPane {
        let mut p = OutputPane {
            log: Some("logs/x.log".into()),
            ..OutputPane::default()
        };
        for (i, (text, kind)) in lines.iter().enumerate() {
            p.push(crate::runlog::LogLineRef {
                t_ms: i as u64 * 1500,
                kind: *kind,
                text: text.as_bytes(),
                truncated: false,
            });
        }
        p
    }

    /// `Buffer::with_lines` at width `w` (rows padded).
    fn lines<const N: usize>(w: usize, rows: [&str; N]) -> Buffer {
        use unicode_width::UnicodeWidthStr;
        Buffer::with_lines(rows.map(|r| format!("{r}{}", " ".repeat(w - r.width()))))
    }

    fn render(p: &OutputPane, w: u16, h: u16) -> Buffer {
        let theme = Theme::new(false);
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        LogView {
            pane: p,
            theme: &theme,
        }
        .render(area, &mut buf);
        buf
    }

    #[test]
    fn renders_the_visible_slice_at_edge_widths() {
        let p = pane(&[
            ("one", LineKind::Stdout),
            ("two", LineKind::Stderr),
            ("three", LineKind::Stdout),
        ]);
        assert_eq!(render(&p, 0, 2), Buffer::empty(Rect::new(0, 0, 0, 2)));
        assert_eq!(render(&p, 1, 2), lines(1, ["…", "…"]));
        assert_eq!(render(&p, 2, 2), lines(2, ["▌…", "t…"]));
        assert_eq!(render(&p, 3, 2), lines(3, ["▌t…", "th…"]));
        // Taller than the log: the view starts at its first line.
        assert_eq!(render(&p, 6, 4), lines(6, ["one", "▌two", "three", ""]));
        // Scrolled up by one: the bottom line is "two".
        let mut q = p.clone();
        q.scroll = 1;
        q.follow = false;
        assert_eq!(render(&q, 6, 1), lines(6, ["▌two"]));
    }

    #[test]
    fn wraps_with_timestamps_and_marks_stderr_on_every_row() {
        let mut p = pane(&[("abcdefgh", LineKind::Stderr)]);
        p.wrap = true;
        p.timestamps = true;
        // "+00:00.000 " is 11 columns, the marker one: 3 columns of text per row.
        assert_eq!(
            render(&p, 15, 3),
            lines(15, ["+00:00.000 ▌abc", "           ▌def", "           ▌gh"])
        );
        // At the top of a log whose first line wraps past the view: its first rows, then more.
        let mut p = pane(&[("abcdefgh", LineKind::Stdout), ("x", LineKind::Stdout)]);
        p.wrap = true;
        p.scroll = 1;
        p.follow = false;
        assert_eq!(render(&p, 3, 2), lines(3, ["abc", "def"]));
        p.scroll = 0;
        assert_eq!(render(&p, 3, 2), lines(3, ["gh", "x"]));
    }

    #[test]
    fn lines_not_in_memory_show_as_being_read() {
        let mut p = pane(&[]);
        for i in 0..crate::tui::output_pane::RING_LINES + 5 {
            p.push(crate::runlog::LogLineRef {
                t_ms: 0,
                kind: LineKind::Stdout,
                text: format!("l{i}").as_bytes(),
                truncated: false,
            });
        }
        p.scroll = crate::tui::output_pane::RING_LINES + 2;
        p.follow = false;
        let buf = render(&p, 24, 4);
        assert_eq!(
            buf,
            lines(
                24,
                [
                    "… reading line 1 …",
                    "… reading line 2 …",
                    "… reading line 3 …",
                    "… reading line 4 …"
                ]
            )
        );
    }
}
