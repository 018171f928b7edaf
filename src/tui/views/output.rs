//! The selected run's output: the visible slice of the ring, child colours kept (everything else
//! was dropped by [`crate::ansi`]), stderr marked, a follow/scroll indicator in the title.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit, fit_line};
use crate::ansi;
use crate::engine::output::LineKind;
use crate::tui::app::{RingLine, UiState};
use crate::tui::theme::Theme;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    let out = &ui.output;
    let what = match (ui.release.stages.get(ui.stage), &out.log) {
        (Some(s), Some(_)) => {
            let t = s.targets.get(ui.target).and_then(|t| t.target.as_deref());
            match t {
                Some(t) => format!("{}/{t}", s.decl.id),
                None => s.decl.id.clone(),
            }
        }
        (Some(s), None) => format!("{} (not started)", s.decl.id),
        _ => "no run selected".to_string(),
    };
    let mode = if out.follow {
        "following".to_string()
    } else if out.unseen > 0 {
        format!("scrolled, {} new line(s), G follows", out.unseen)
    } else {
        "scrolled, G follows".to_string()
    };
    let b = block(format!(" Output {what} — {mode} "), ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if height == 0 || width == 0 {
        return;
    }
    let len = out.ring.len();
    let scroll = out.scroll.min(len.saturating_sub(height));
    let end = len - scroll;
    let start = end.saturating_sub(height);
    let mut lines: Vec<Line> = Vec::with_capacity(height);
    if out.total > len as u64 && start == 0 {
        lines.push(Line::from(Span::styled(
            fit(
                &format!("({} earlier line(s) not kept in memory)", out.total - len as u64),
                width,
            ),
            ui.theme.dim(),
        )));
    }
    for l in out.ring.range(start..end) {
        lines.push(fit_line(styled_line(l, &ui.theme), width));
    }
    if lines.is_empty() && out.log.is_some() {
        lines.push(Line::from(Span::styled(
            fit("(no output yet)", width),
            ui.theme.dim(),
        )));
    }
    lines.truncate(height);
    Paragraph::new(lines).render(inner, buf);
}

/// One ring line as ratatui spans: stderr marked `▌`, annotations dim, a cut line marked `…`.
pub fn styled_line(l: &RingLine, theme: &Theme) -> Line<'static> {
    let s = ansi::parse_line(&l.text);
    let mut spans = Vec::with_capacity(s.spans.len() + 2);
    match l.kind {
        LineKind::Stderr => spans.push(Span::styled("▌", theme.stderr_mark())),
        LineKind::Note => {}
        LineKind::Stdout => {}
    }
    for (range, style) in &s.spans {
        let mut st = theme.ansi(style);
        if l.kind == LineKind::Note {
            st = st.patch(theme.dim());
        }
        spans.push(Span::styled(s.text[range.clone()].to_string(), st));
    }
    if l.truncated {
        spans.push(Span::styled("…", theme.dim()));
    }
    Line::from(spans)
}
