//! The mouse, in the reducer: a click focuses the pane under the pointer and selects what it
//! points at (a release on the board, a stage or a target cell in the pipeline, a gate or an item
//! in the checklist, a tab in the narrow layout); the wheel scrolls the pane under the pointer.
//!
//! Panes are hit-tested with [`views::panes`], the rectangles the views draw into. Rows inside a
//! pane follow the views' own arithmetic (two lines per release on the board; stages, then the
//! selected stage's details and target grid in the pipeline; gates, then two lines per checklist
//! item); `tests/suite/tui_mouse.rs` clicks where the rendered text is, so the two cannot drift apart.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Margin, Position, Rect};

use crate::tui::layout::{self, Focus};
use crate::tui::state::UiState;
use crate::tui::views;

/// Lines the wheel scrolls an output pane per notch.
pub const WHEEL_LINES: usize = 3;

impl UiState {
    pub(super) fn mouse(&mut self, ev: MouseEvent) {
        // Overlays take the keyboard and the pointer alike; without capture nothing arrives.
        if self.modal.is_some() || !self.mouse_capture {
            return;
        }
        if self.ws_shown() {
            self.ws_mouse(ev);
            return;
        }
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let panes = layout::screen(area, self.arrange());
        let (x, y) = (ev.column, ev.row);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(tabs) = panes.tabs.filter(|r| r.contains(Position::new(x, y))) {
                    if let Some(f) = layout::tab_at(tabs, x).and_then(|i| Focus::ALL.get(i)) {
                        self.focus = *f;
                    }
                    return;
                }
                if let Some((pane, rect)) = panes.at(x, y) {
                    self.click(pane, rect.inner(Margin::new(1, 1)), x, y);
                    if pane == Focus::Output {
                        self.pane = self.output_pane_at(x, y).unwrap_or(self.pane);
                    }
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if let Some((pane, _)) = panes.at(x, y) {
                    let up = ev.kind == MouseEventKind::ScrollUp;
                    match pane {
                        Focus::Output => self.output_wheel(x, y, up, WHEEL_LINES),
                        _ => self.move_in(pane, up),
                    }
                }
            }
            _ => {}
        }
    }

    /// Select stage `i` (by key, wheel or click): the selection stops following what runs.
    pub(crate) fn select_stage(&mut self, i: usize) {
        self.auto_select = false;
        if i != self.stage {
            self.stage = i;
            self.target = 0;
            self.fit_target_to_filter();
        }
    }

    /// A click at (`x`, `y`) inside `inner`, the pane's area within its border.
    fn click(&mut self, pane: Focus, inner: Rect, x: u16, y: u16) {
        let inside = inner.contains(Position::new(x, y));
        let (row, col) = (
            usize::from(y.saturating_sub(inner.y)),
            usize::from(x.saturating_sub(inner.x)),
        );
        match pane {
            Focus::Board if inside => {
                // Two lines a release, clipped as the board draws them.
                let n = self.board_rows().len();
                let rows = layout::clip_window(
                    2 * n,
                    usize::from(inner.height),
                    Some(self.board_selected * 2 + 1),
                );
                if let Some(layout::Row::Line(i)) = rows.get(row) {
                    self.board_selected = i / 2;
                }
            }
            Focus::Pipeline if inside && !self.release.id.is_empty() => self.click_pipeline(inner, row, col),
            Focus::Checklist if inside => {
                // What the pane showed before this click decided the focus.
                let focused = self.focus == Focus::Checklist;
                let shown = self.selected_gate();
                match views::checklist::hit(self, focused, inner.width, inner.height, row) {
                    Some(views::checklist::Tag::Gate(g)) => {
                        self.gate = g;
                        self.item = 0;
                        self.auto_select = false;
                    }
                    Some(views::checklist::Tag::Item(i)) => {
                        if let Some(g) = shown {
                            self.gate = g;
                        }
                        self.item = i;
                        self.auto_select = false;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        self.focus = pane;
    }

    /// What the pipeline drew at the clicked row: a stage, or one of the selected stage's targets.
    fn click_pipeline(&mut self, inner: Rect, row: usize, col: usize) {
        match views::pipeline::hit(self, inner.width, inner.height, row, col) {
            Some(views::pipeline::Hit::Stage(i)) => self.select_stage(i),
            Some(views::pipeline::Hit::Target(t)) => {
                self.auto_select = false;
                self.target = t;
            }
            None => {}
        }
    }
}
