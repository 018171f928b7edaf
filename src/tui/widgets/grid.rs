//! A compact grid: one cell per item (a symbol in its colour), wrapped to the width, so hundreds
//! of fan-out targets fit in a few rows. The selected cell is shown in `selected` style and kept
//! in view when the grid is taller than the room.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// One item of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridCell {
    /// One column wide.
    pub symbol: &'static str,
    pub style: Style,
}

/// The rows [`lines`] shows of a grid of `n` cells (row `r` holds cells `r * width ..`).
pub fn window(n: usize, selected: Option<usize>, width: usize, max_rows: usize) -> std::ops::Range<usize> {
    if width == 0 || max_rows == 0 || n == 0 {
        return 0..0;
    }
    let rows = n.div_ceil(width);
    let sel_row = selected.map_or(0, |s| s / width);
    let first = if rows <= max_rows {
        0
    } else {
        (sel_row + 1).saturating_sub(max_rows).min(rows - max_rows)
    };
    first..(first + max_rows).min(rows)
}

/// The grid's lines: `cells` wrapped at `width` columns, at most `max_rows` of them, scrolled so
/// that cell `selected` is visible. A grid cut short ends its first and last shown rows with a
/// dim `…` marker in place of its last cell (nothing is hidden silently).
pub fn lines(
    cells: &[GridCell],
    selected: Option<usize>,
    width: usize,
    max_rows: usize,
    selected_style: Style,
    dim: Style,
) -> Vec<Line<'static>> {
    if width == 0 || max_rows == 0 || cells.is_empty() {
        return Vec::new();
    }
    let rows = cells.len().div_ceil(width);
    let std::ops::Range {
        start: first,
        end: last,
    } = window(cells.len(), selected, width, max_rows);
    let mut out = Vec::with_capacity(last - first);
    for r in first..last {
        let chunk = &cells[r * width..((r + 1) * width).min(cells.len())];
        let mut spans: Vec<Span<'static>> = chunk
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let style = if Some(r * width + c) == selected {
                    cell.style.patch(selected_style)
                } else {
                    cell.style
                };
                Span::styled(cell.symbol, style)
            })
            .collect();
        let cut_above = r == first && first > 0;
        let cut_below = r + 1 == last && last < rows;
        if (cut_above || cut_below) && !spans.is_empty() {
            let at = spans.len() - 1;
            // Never hide the selected cell behind the marker.
            if Some(r * width + at) != selected {
                spans[at] = Span::styled("…", dim);
            }
        }
        out.push(Line::from(spans));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::style::Modifier;
    use ratatui::widgets::{Paragraph, Widget};

    fn cells(n: usize) -> Vec<GridCell> {
        (0..n)
            .map(|i| GridCell {
                symbol: if i % 3 == 0 { "✓" } else { "·" },
                style: Style::new(),
            })
            .collect()
    }

    fn render(lines: Vec<Line<'static>>, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        Paragraph::new(lines).render(buf.area, &mut buf);
        buf
    }

    #[test]
    fn wraps_and_scrolls_to_the_selection() {
        let rev = Style::new().add_modifier(Modifier::REVERSED);
        let l = lines(&cells(10), Some(1), 4, 3, rev, Style::new());
        let mut want = Buffer::with_lines(["✓··✓", "··✓·", "·✓  "]);
        want[(1, 0)].set_style(rev);
        assert_eq!(render(l, 4, 3), want);
        // Two rows of three: the selection (cell 9, row 2) in view, the cut marked.
        let l = lines(&cells(10), Some(9), 4, 2, rev, Style::new());
        let buf = render(l, 4, 2);
        assert_eq!(buf, {
            let mut b = Buffer::with_lines(["··✓…", "·✓  "]);
            b[(1, 1)].set_style(rev);
            b
        });
    }

    #[test]
    fn edge_widths_do_not_panic() {
        for w in 0..3 {
            for h in 0..3 {
                let l = lines(&cells(7), Some(6), w, h, Style::new(), Style::new());
                assert!(l.len() <= h);
            }
        }
        assert!(lines(&[], None, 5, 5, Style::new(), Style::new()).is_empty());
    }
}
