//! Text cut to a width in terminal columns (wide characters counted as two), marked with `…`.

use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

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
