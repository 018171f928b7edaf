//! The environments pane: per environment its targets and whether it is protected or held by
//! this release.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{block, fit, fit_line};
use crate::tui::app::UiState;

pub fn render(buf: &mut Buffer, area: Rect, ui: &UiState, focused: bool) {
    let b = block(" Environments ".into(), ui, focused, area.width);
    let inner = b.inner(area);
    b.render(area, buf);
    let width = usize::from(inner.width);
    if inner.height == 0 || width == 0 {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    match &ui.plan {
        None => lines.push(Line::from(fit("plan not loaded", width))),
        Some(plan) if plan.environments.is_empty() => {
            lines.push(Line::from(fit("the plan declares no environments", width)))
        }
        Some(plan) => {
            for env in plan.environments.values() {
                let mut spans = vec![Span::raw(env.name.clone())];
                if env.protected {
                    spans.push(Span::styled(" (protected)", ui.theme.warn()));
                }
                if ui.release.env_holds.contains(&env.name) {
                    spans.push(Span::styled(" held by this release", ui.theme.dim()));
                }
                lines.push(fit_line(Line::from(spans), width));
                if !env.targets.is_empty() {
                    lines.push(fit_line(
                        Line::from(Span::styled(
                            format!("  targets: {}", env.targets.join(", ")),
                            ui.theme.dim(),
                        )),
                        width,
                    ));
                }
            }
        }
    }
    Paragraph::new(lines).render(inner, buf);
}
