//! The status bar: release, state, elapsed, driver, what needs a person, and key hints from the
//! keymap.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::{elapsed, fit_line};
use crate::tui::state::UiState;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, now: DateTime<Utc>) {
    let st = &ui.release;
    let word = if st.id.is_empty() {
        "no release"
    } else {
        st.state_word(ui.driver.is_some())
    };
    let driver = match crate::tui::state::shown_driver(st, ui.driver) {
        Some(0) => "driver alive".to_string(),
        Some(pid) => format!("driver pid {pid}"),
        None => "no driver".to_string(),
    };
    // Segments with a priority (0 most important): what does not fit is left out, least
    // important first, so what the release needs is never what gets cut.
    let mut segs: Vec<(u8, Span)> = vec![
        (0, Span::styled(format!(" {} ", st.id), ui.theme.selected(true))),
        (0, Span::styled(format!(" {word}"), ui.theme.release_word(word))),
        (4, Span::raw(format!("  {}", when(ui, now)))),
        (3, Span::styled(format!("  {driver}"), ui.theme.dim())),
    ];
    // An open incident about the watched release.
    if let Some(i) = ui
        .incidents
        .iter()
        .rev()
        .find(|i| i.is_open() && !st.id.is_empty() && i.release.as_deref() == Some(st.id.as_str()))
    {
        segs.push((
            0,
            Span::styled(
                format!("  ⚠ incident #{} on {}: {}", i.number, i.env, i.summary),
                ui.theme.glyph(crate::tui::theme::Glyph::Failed),
            ),
        ));
    }
    // Freeze overrides given for the watched release: who let it through, and why.
    if let Some(last) = st.freeze_overrides.last() {
        let mut who: Vec<&str> = Vec::new();
        for m in &st.freeze_overrides {
            if !who.contains(&m.actor.as_str()) {
                who.push(&m.actor);
            }
        }
        segs.push((
            0,
            Span::styled(
                format!("  ❄ freeze overridden by {}: {}", who.join(", "), last.note),
                ui.theme.warn(),
            ),
        ));
    }
    // The shared store out of reach (what is shown is this machine's copy), or not notifying.
    if let Some(h) = &ui.store_health {
        if let Some((since, _)) = &h.away {
            let since = DateTime::<chrono::Local>::from(*since).format("%H:%M:%S");
            segs.push((
                0,
                Span::styled(
                    format!("  ⚠ shared store out of reach since {since} (read-only copy)"),
                    ui.theme.glyph(crate::tui::theme::Glyph::Failed),
                ),
            ));
        } else if matches!(h.notify, Some(Err(_))) {
            segs.push((
                2,
                Span::styled(
                    "  shared store: polling (no notifications here)".to_string(),
                    ui.theme.warn(),
                ),
            ));
        }
    }
    // `[[notify]]` messages of the watched release that did not get through (yet).
    let troubled = st
        .notifications
        .values()
        .filter(|d| d.outcome != "delivered")
        .count();
    if troubled > 0
        && let Some(line) = crate::engine::notify::said(st)
    {
        segs.push((2, Span::styled(format!("  ✉ {line}"), ui.theme.warn())));
    }
    if let Some(p) = &ui.problem {
        segs.push((
            1,
            Span::styled(format!("  {p}"), ui.theme.glyph(crate::tui::theme::Glyph::Failed)),
        ));
    }
    if let Some(e) = super::pipeline::eta(st, &ui.typical, now) {
        segs.push((3, Span::styled(format!("  {}", e.text()), ui.theme.dim())));
    }
    let pending = st.pending_requests().count();
    if pending > 0 {
        segs.push((
            2,
            Span::styled(format!("  {pending} request(s) pending"), ui.theme.warn()),
        ));
    }
    // Opened from the workspace board: how to go back to it.
    if ui.ws.is_some() {
        let back = ui
            .keymap
            .key_of(crate::tui::action::Action::Back)
            .unwrap_or_else(|| ":back".into());
        segs.push((2, Span::styled(format!("  {back} board"), ui.theme.key())));
    }
    if let Some(need) = needed(ui) {
        segs.push((1, Span::styled(format!("  {need}"), ui.theme.warn())));
    }
    if let Some(n) = &ui.notice {
        let style = if n.error {
            ui.theme.glyph(crate::tui::theme::Glyph::Failed)
        } else {
            ui.theme.key()
        };
        let mark = if n.error { "✗ " } else { "› " };
        // A refusal answers what the person just did: it outranks the standing hints.
        segs.push((
            u8::from(!n.error),
            Span::styled(format!("  {mark}{}", n.text), style),
        ));
    }
    if !ui.mouse_capture {
        let k = ui
            .keymap
            .key_of(crate::tui::action::Action::MouseCapture)
            .unwrap_or_else(|| ":mouse-capture".into());
        segs.push((
            1,
            Span::styled(
                format!("  mouse off: select text with the terminal; {k} turns it back on"),
                ui.theme.warn(),
            ),
        ));
    }
    let width = usize::from(area.width);
    let seg_w = |segs: &[(u8, Span)]| segs.iter().map(|(_, s)| s.content.width()).sum::<usize>();
    for drop in [4u8, 3, 2] {
        if seg_w(&segs) <= width {
            break;
        }
        segs.retain(|(p, _)| *p < drop);
    }
    let mut hints = vec![Span::raw("  ")];
    for (k, what) in ui.keymap.hints() {
        hints.push(Span::styled(k, ui.theme.key()));
        hints.push(Span::raw(format!(" {what}  ")));
    }
    let left_w = seg_w(&segs);
    let hints_w: usize = hints.iter().map(|s| s.content.width()).sum();
    let mut spans: Vec<Span> = segs.into_iter().map(|(_, s)| s).collect();
    if left_w + hints_w <= width {
        spans.push(Span::raw(" ".repeat(width - left_w - hints_w)));
    }
    spans.extend(hints);
    Paragraph::new(fit_line(Line::from(spans), width)).render(area, buf);
}

/// What the release needs a person for now, with the keys that do it.
fn needed(ui: &UiState) -> Option<String> {
    use crate::tui::action::Action;
    let st = &ui.release;
    let k = |a: Action| ui.keymap.key_of(a).unwrap_or_else(|| format!(":{}", a.name()));
    if st.id.is_empty() {
        return Some(format!("{} starts a release", k(Action::NewRelease)));
    }
    if let Some(f) = &st.finished {
        if f.state == crate::event::FinalState::RollbackFailed {
            return Some(format!(
                "ended: {}  {} retries the rollback",
                f.reason,
                k(Action::Rollback)
            ));
        }
        // Rejected: nothing was rolled back by itself; the rollback is the person's call.
        if f.state == crate::event::FinalState::Rejected {
            return Some(format!(
                "ended: {}  {} rolls back what it deployed",
                f.reason,
                k(Action::Rollback)
            ));
        }
        return (f.state != crate::event::FinalState::Succeeded).then(|| format!("ended: {}", f.reason));
    }
    if ui.driver.is_none() {
        return Some(format!("nobody drives it: {} resumes", k(Action::Resume)));
    }
    if let Some(s) = st
        .stages
        .iter()
        .find(|s| s.status == crate::engine::state::StageStatus::Failed)
        && st.rollback.is_none()
    {
        return Some(format!(
            "stage {} failed: {} retry  {} skip  {} roll back",
            s.decl.id,
            k(Action::Retry),
            k(Action::Skip),
            k(Action::Rollback)
        ));
    }
    if let Some(g) = st.gates.iter().find(|g| g.reached_by.is_some() && !g.satisfied()) {
        return Some(format!(
            "gate {} needs a person: {} tick  {} approve",
            g.decl.name,
            k(Action::Tick),
            k(Action::Approve)
        ));
    }
    // Held by a freeze window: what holds it, and how it goes on before the window ends.
    if let Some(s) = st.stages.iter().find(|s| s.frozen && s.waiting.is_some()) {
        return Some(format!(
            "{} {}; `flightdeck override-freeze` lets it through",
            s.decl.id,
            s.waiting.as_deref().unwrap_or_default()
        ));
    }
    // A train's member waiting for another plan's stage or the train's gate: for what.
    if st.train.is_some()
        && let Some(s) = st.stages.iter().find(|s| !s.frozen && s.waiting.is_some())
    {
        return Some(format!(
            "{} {}",
            s.decl.id,
            s.waiting.as_deref().unwrap_or_default()
        ));
    }
    None
}

/// How long the release has run. While nothing runs the cockpit draws only on change (no clock
/// wakes it), so a ticking counter would go stale: it says since when it waits instead.
fn when(ui: &UiState, now: DateTime<Utc>) -> String {
    let st = &ui.release;
    match (&st.finished, st.updated_at) {
        (None, Some(since)) if !st.id.is_empty() && !ui.needs_clock() => {
            format!("waiting since {}", since.format("%H:%M:%S"))
        }
        _ => elapsed(st.created_at, st.finished.as_ref().map(|f| f.at), now),
    }
}
