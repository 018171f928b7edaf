//! The help overlay, generated from the keymap: every action with its keys, by layer, in as many
//! columns as the screen needs.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::{block, fit_line};
use crate::tui::action::Action;
use crate::tui::keymap::Layer;
use crate::tui::state::UiState;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState) {
    let entries: Vec<(String, String)> = ui
        .keymap
        .grouped()
        .into_iter()
        .map(|(layer, keys, a)| match layer {
            Layer::Global => (keys, a.describe().to_string()),
            l => (keys, format!("{}: {}", l.name(), a.describe())),
        })
        .collect();
    let rows_avail = usize::from(area.height.saturating_sub(2)).max(1);
    let ncols = entries.len().div_ceil(rows_avail).max(1);
    let nrows = entries.len().div_ceil(ncols).max(1);
    // Columns as wide as their keys and descriptions need, shared out when the screen is narrower.
    let chunks: Vec<&[(String, String)]> = entries.chunks(nrows).collect();
    let needs: Vec<usize> = chunks
        .iter()
        .map(|c| {
            let k = c.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
            let d = c.iter().map(|(_, d)| d.chars().count()).max().unwrap_or(0);
            k + 2 + d + 1
        })
        .collect();
    let total: usize = needs.iter().sum::<usize>().max(1);
    let want_w = (total + 2) as u16;
    let w = want_w.min(area.width);
    let h = (nrows as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(rect, buf);
    // The keys that close it, as bound (the settings file may have moved them).
    let closers: Vec<String> = [Action::Back, Action::Help]
        .iter()
        .flat_map(|a| ui.keymap.keys(Layer::Global, *a).first().map(|k| k.label()))
        .collect();
    let b = block(
        format!(" Keys ({} closes) ", closers.join(" or ")),
        ui,
        true,
        rect.width,
    );
    let inner = b.inner(rect);
    b.render(rect, buf);
    let room = usize::from(inner.width);
    let widths = column_widths(&chunks, &needs, room);
    let mut x = inner.x;
    for (chunk, per_col) in chunks.into_iter().zip(widths) {
        let col = Rect {
            x,
            y: inner.y,
            width: (per_col as u16).min(inner.right().saturating_sub(x)),
            height: inner.height,
        };
        x = x.saturating_add(per_col as u16);
        // Each column as wide as its own longest keys: more room for the descriptions.
        let key_w = chunk.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        let lines: Vec<Line> = chunk
            .iter()
            .map(|(k, d)| {
                fit_line(
                    Line::from(vec![
                        Span::styled(format!("{k:<key_w$}  "), ui.theme.key()),
                        Span::raw(d.as_str()),
                    ]),
                    per_col.saturating_sub(1),
                )
            })
            .collect();
        Paragraph::new(lines).render(col, buf);
    }
}

/// How wide each column is: what it needs when all fit; else, for two columns, the split that
/// cuts the fewest descriptions (then the most even one); for more, shares of what each needs.
fn column_widths(chunks: &[&[(String, String)]], needs: &[usize], room: usize) -> Vec<usize> {
    let total: usize = needs.iter().sum();
    if total <= room {
        return needs.to_vec();
    }
    if let [a, b] = chunks {
        let need = |c: &[(String, String)], k: usize| -> Vec<usize> {
            c.iter().map(|(_, d)| k + 2 + d.chars().count() + 1).collect()
        };
        let key_w = |c: &[(String, String)]| c.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        let (na, nb) = (need(a, key_w(a)), need(b, key_w(b)));
        let cut = |w: usize, n: &[usize]| n.iter().filter(|&&x| x > w).count();
        let best = (1..room)
            .min_by_key(|&w| (cut(w, &na) + cut(room - w, &nb), w.abs_diff(room - w)))
            .unwrap_or(room / 2);
        return vec![best, room - best];
    }
    needs.iter().map(|n| n * room / total.max(1)).collect()
}
