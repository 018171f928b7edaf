//! The board: the plan's releases, the watched one first among equals, the selected one
//! highlighted.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, elapsed, fit, fit_line};
use crate::tui::state::UiState;
use crate::tui::theme::Glyph;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, now: DateTime<Utc>, focused: bool) {
    let rows = ui.board_rows();
    let title = format!(" Releases ({}) ", rows.len());
    let b = block(title, ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    if height == 0 {
        return;
    }
    let mut lines = Vec::new();
    // The freeze in force, else the next one: what holds the releases below (or will).
    let headline = ui.freeze_headline(now);
    if let Some((what, when)) = &headline {
        for text in [format!("❄ {what}"), format!("  {when}")] {
            lines.push(fit_line(Line::from(Span::styled(text, ui.theme.warn())), width));
        }
    }
    // Open action items of post-release reviews: how many (and overdue), then a few of them,
    // overdue first, then by due date.
    let mut actions: Vec<&crate::engine::reviews::Action> = ui.actions.iter().collect();
    actions.sort_by_key(|a| (!a.overdue(now), a.due, a.release.clone(), a.number));
    let overdue = actions.iter().filter(|a| a.overdue(now)).count();
    if !actions.is_empty() {
        let head = match overdue {
            0 => format!("☐ {} open review actions", actions.len()),
            n => format!("☐ {} open review actions, {n} overdue", actions.len()),
        };
        lines.push(fit_line(Line::from(Span::styled(head, ui.theme.warn())), width));
    }
    // The items themselves only in room the releases do not need (at most three).
    let spare = height.saturating_sub(lines.len() + 2 * rows.len().max(1));
    let shown = spare.min(3).min(actions.len());
    for a in actions.iter().take(shown) {
        let (mark, style) = if a.overdue(now) {
            ("⚠", ui.theme.glyph(Glyph::Failed))
        } else {
            ("·", ui.theme.dim())
        };
        // What is cut when narrow is the end of the text.
        let text = format!(
            " {mark} {}#{} {} {}: {}",
            a.release,
            a.number,
            a.due.format("%b %-d"),
            a.owner,
            a.text
        );
        lines.push(fit_line(Line::from(Span::styled(text, style)), width));
    }
    if actions.len() > shown && spare > shown {
        let more = format!("   +{} more: `flightdeck review RELEASE`", actions.len() - shown);
        lines.push(fit_line(Line::from(Span::styled(more, ui.theme.dim())), width));
    }
    let above = lines.len();
    if rows.is_empty() {
        lines.push(Line::from(fit("no releases yet", width)));
    }
    // Two lines per release; the selected one kept in view, the others counted when cut.
    for (i, r) in rows.iter().enumerate() {
        let (done, total) = r.progress;
        let bar = progress_bar(done, total, 6);
        let driver = match r.driver {
            Some(0) => "driver".to_string(),
            Some(pid) => format!("driver {pid}"),
            None => "no driver".to_string(),
        };
        // Elapsed while the cockpit's clock ticks for it; otherwise (nothing wakes the cockpit to
        // redraw it) when it started.
        let ticking = r.id == ui.release.id && ui.needs_clock();
        let when = match (r.scheduled_at, r.finished_at, r.created_at) {
            // Scheduled: when it starts.
            (Some(at), ..) => format!("starts {}", at.format("%a %H:%M UTC")),
            (None, None, Some(at)) if !ticking => format!("since {}", at.format("%H:%M")),
            _ => elapsed(r.created_at, r.finished_at, now),
        };
        let sym = release_symbol(&r.state, now.timestamp());
        let mut head = vec![
            Span::styled(format!("{sym} "), ui.theme.release_word(&r.state)),
            Span::raw(format!("{:<12} ", fit(&r.version, 12))),
            Span::styled(format!("{:<7} ", fit(&r.rtype, 8)), ui.theme.dim()),
            Span::styled(r.state.clone(), ui.theme.release_word(&r.state)),
        ];
        // The open incidents about it.
        for inc in ui
            .incidents
            .iter()
            .filter(|inc| inc.is_open() && inc.release.as_deref() == Some(r.id.as_str()))
        {
            head.push(Span::styled(
                format!(" ⚠ #{}", inc.number),
                ui.theme.glyph(Glyph::Failed),
            ));
        }
        // Its review's open action items.
        let open = ui.actions.iter().filter(|a| a.release == r.id).count();
        if open > 0 {
            head.push(Span::styled(format!(" ☐{open}"), ui.theme.warn()));
        }
        let head = Line::from(head);
        // Where it is live (▲), in place of "no driver" (the usual case then: it has finished).
        let tail = match (r.driver, r.live_on.is_empty()) {
            (None, false) => Span::styled(
                format!("▲ {}", r.live_on.join(", ")),
                ui.theme.glyph(Glyph::Succeeded),
            ),
            _ => Span::styled(driver, ui.theme.dim()),
        };
        let mut detail = vec![Span::raw(format!("  {bar} {done}/{total}  {when}  ")), tail];
        if let Some(p) = &r.partial {
            detail.push(Span::styled(format!("  {p}"), ui.theme.dim()));
        }
        let detail = Line::from(detail);
        for line in [head, detail] {
            let mut line = fit_line(line, width);
            if i == ui.board_selected {
                line = line.style(ui.theme.selected(focused));
            }
            lines.push(line);
        }
    }
    let keep = ui.board_selected * 2 + 1 + above;
    let lines = super::clip_lines(lines, height, Some(keep), ui.theme.dim());
    Paragraph::new(lines).render(inner, buf);
}

/// The symbol of a release's state word: its own for each, so the board reads without colour.
pub(super) fn release_symbol(word: &str, secs: i64) -> &'static str {
    match word {
        "succeeded" => Glyph::Succeeded.symbol(secs),
        "failed" => Glyph::Failed.symbol(secs),
        "rolled_back" | "partially_rolled_back" => Glyph::RolledBack.symbol(secs),
        "rollback_failed" => Glyph::RollbackFailed.symbol(secs),
        "cancelled" => Glyph::Cancelled.symbol(secs),
        // Someone said no at a gate.
        "rejected" => "⊠",
        "paused" => Glyph::Gated.symbol(secs),
        // `run --at`: waiting for its time.
        "scheduled" => Glyph::Waiting.symbol(secs),
        // The driver is gone mid-run.
        "interrupted" => "⊗",
        _ => Glyph::Running.symbol(secs),
    }
}

/// `[███░░░░░]` with `width` cells inside.
pub fn progress_bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0).min(width);
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}
