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
    // The tab keys share one line (`1-5  focus a pane`, the panes in tab order): room for the rest.
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut tabs: Vec<String> = Vec::new();
    // Pairs share a line too (`n/N  search: next / previous match`), when both are bound in the
    // same layer: the first's entry takes the second's keys and a description of both.
    const PAIRS: [(Action, Action, &str); 3] = [
        (Action::SearchNext, Action::SearchPrev, "next / previous match"),
        (
            Action::Wrap,
            Action::Timestamps,
            "wrap lines / show arrival times",
        ),
        (
            Action::StateFilter,
            Action::EnvFilter,
            "workspace: state/env filter",
        ),
    ];
    let mut firsts: Vec<(Layer, Action, usize)> = Vec::new();
    for (layer, keys, a) in ui.keymap.grouped() {
        let head = |layer: Layer, d: &str| match layer {
            Layer::Global => d.to_string(),
            l => format!("{}: {d}", l.name()),
        };
        if let Some((first, _, both)) = PAIRS.iter().find(|(_, second, _)| *second == a)
            && let Some(i) = firsts.iter().position(|(l, f, _)| *l == layer && f == first)
        {
            let (_, _, at) = firsts.remove(i);
            let (k, d) = &mut entries[at];
            k.push('/');
            k.push_str(&keys);
            *d = head(layer, both);
            continue;
        }
        if PAIRS.iter().any(|(first, _, _)| *first == a) {
            firsts.push((layer, a, entries.len()));
        }
        match (layer, a) {
            (Layer::Global, Action::Tab(_)) => {
                if tabs.is_empty() {
                    entries.push((String::new(), String::new()));
                }
                tabs.push(keys);
            }
            (l, _) => entries.push((keys, head(l, a.describe()))),
        }
    }
    if let Some(slot) = entries.iter_mut().find(|(k, d)| k.is_empty() && d.is_empty()) {
        let keys: Vec<&str> = tabs.iter().map(String::as_str).collect();
        // `1-5` when they are the digits in order (as by default), else each of them.
        let digits: Vec<u32> = keys
            .iter()
            .filter_map(|k| {
                (k.chars().count() == 1)
                    .then(|| k.chars().next()?.to_digit(10))
                    .flatten()
            })
            .collect();
        let in_order = digits.len() == keys.len() && digits.windows(2).all(|w| w[1] == w[0] + 1);
        let label = match (in_order, keys.first(), keys.last()) {
            (true, Some(a), Some(b)) if keys.len() > 1 => format!("{a}-{b}"),
            _ => keys.join("/"),
        };
        *slot = (label, "focus a pane (tab when narrow)".to_string());
    }
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
