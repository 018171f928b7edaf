//! The output panes: up to four, side by side when wide enough, else in a 2x2 grid or stacked;
//! the focused one alone when zoomed. Each shows its run's visible lines through
//! [`LogView`] with a title saying what it shows, whether it follows the end, and its search.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::block;
use crate::tui::layout::pane_rects;
use crate::tui::output_pane::OutputPane;
use crate::tui::output_pane::RingLine;
use crate::tui::state::UiState;
use crate::tui::theme::Theme;
use crate::tui::widgets::log_view::{self, LogView};

/// Draw the output panes into `area`; `focused`: the output has the keyboard.
pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    for (i, (pane, rect)) in ui.panes().zip(pane_rects(area, ui.arrange())).enumerate() {
        if rect.width > 0 && rect.height > 0 {
            render_pane(buf, rect, ui, i, pane, focused && i == ui.pane);
        }
    }
}

fn render_pane(buf: &mut Buffer, area: Rect, ui: &UiState, i: usize, out: &OutputPane, focused: bool) {
    let what = if i == 0 {
        match (ui.release.stages.get(ui.stage), &out.log) {
            (Some(s), Some(_)) => {
                let t = s.targets.get(ui.target).and_then(|t| t.target.as_deref());
                match t {
                    Some(t) => format!("{}/{t}", s.decl.id),
                    None => s.decl.id.clone(),
                }
            }
            (Some(s), None) => format!("{} (not started)", s.decl.id),
            _ => "no run selected".to_string(),
        }
    } else {
        out.label.clone()
    };
    let number = if ui.pane_count() > 1 {
        format!("{} ", i + 1)
    } else {
        String::new()
    };
    let mode = if let Some(p) = out.catching_up {
        format!("reading the log… {p}%")
    } else if out.follow {
        "following".to_string()
    } else if out.unseen > 0 {
        format!("scrolled, {} new line(s), G follows", out.unseen)
    } else {
        "scrolled, G follows".to_string()
    };
    let mut title = format!(" Output {number}{what} — {mode}");
    if let Some(s) = &out.search {
        title.push_str(&format!(" · {}", s.status()));
    }
    if out.wrap {
        title.push_str(" · wrap");
    }
    if out.timestamps {
        title.push_str(" · times");
    }
    if ui.zoom {
        title.push_str(" · zoomed (z)");
    }
    title.push(' ');
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    LogView {
        pane: out,
        theme: &ui.theme,
    }
    .render(inner, buf);
}

/// One ring line as ratatui spans: stderr marked `▌`, annotations dim, a cut line marked.
pub fn styled_line(l: &RingLine, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if l.kind == crate::runlog::LineKind::Stderr {
        spans.push(ratatui::text::Span::styled("▌", theme.stderr_mark()));
    }
    spans.extend(log_view::body_spans(l, theme, None, false));
    Line::from(spans)
}
