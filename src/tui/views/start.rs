//! The start screen, shown when no release is open: the plan (stages, environments, gates) and
//! how to start a release.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit, fit_line};
use crate::tui::state::UiState;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    let Some(plan) = &ui.plan else {
        let b = block(" No release ".into(), ui, focused, area.width);
        let inner = b.inner(area);
        b.render(area, buf);
        Paragraph::new(fit(
            "no plan here: run flightdeck in a directory with flightdeck.toml",
            usize::from(inner.width),
        ))
        .render(inner, buf);
        return;
    };
    let b = block(format!(" Plan {} ", plan.name), ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    let key = ui
        .keymap
        .key_of(crate::tui::action::Action::NewRelease)
        .unwrap_or_else(|| "n".into());
    let mut lines = vec![
        fit_line(
            Line::from(vec![
                Span::raw("No release is open. Press "),
                Span::styled(key, ui.theme.key()),
                Span::raw(" to start one."),
            ]),
            width,
        ),
        Line::from(fit(&format!("{}", plan.path.display()), width)),
        Line::from(""),
        Line::from(Span::styled(
            format!("Stages ({})", plan.stages.len()),
            ui.theme.key(),
        )),
    ];
    for s in &plan.stages {
        let mut text = format!("  {}", s.id);
        if let Some(env) = &s.environment {
            text.push_str(&format!("  [{env}]"));
        }
        if !s.needs.is_empty() {
            text.push_str(&format!("  needs {}", s.needs.join(", ")));
        }
        if !s.gates.is_empty() {
            text.push_str(&format!("  gate {}", s.gates.join(", ")));
        }
        lines.push(Line::from(fit(&text, width)));
    }
    lines.push(Line::from(Span::styled(
        format!("Environments ({})", plan.environments.len()),
        ui.theme.key(),
    )));
    for e in plan.environments.values() {
        let prot = if e.protected { " (protected)" } else { "" };
        let targets = if e.targets.is_empty() {
            String::new()
        } else {
            format!(": {}", e.targets.join(", "))
        };
        lines.push(Line::from(fit(&format!("  {}{prot}{targets}", e.name), width)));
    }
    lines.push(Line::from(Span::styled(
        format!("Gates ({})", plan.gates.len()),
        ui.theme.key(),
    )));
    for g in plan.gates.values() {
        lines.push(Line::from(fit(
            &format!(
                "  {}: {} approval(s), {} checklist item(s)",
                g.name,
                g.approvals,
                g.checklist.len()
            ),
            width,
        )));
    }
    let lines = super::clip_lines(lines, usize::from(inner.height), None, ui.theme.dim());
    Paragraph::new(lines).render(inner, buf);
}
