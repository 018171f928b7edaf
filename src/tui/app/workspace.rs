//! The workspace board, in the reducer: keys and the mouse on the board (moving in its three
//! panes, filters, Enter opening a release in the release view), the board's reads arriving,
//! and Esc in the release view going back to it.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Margin, Position, Rect};

use super::Effect;
use crate::engine::board::{Filter, PlanBoard, STATE_FILTERS};
use crate::engine::train::TrainView;
use crate::tui::action::Action;
use crate::tui::layout::{self, WsPane};
use crate::tui::modal::{Modal, Palette, Prompt, PromptFor};
use crate::tui::state::UiState;
use crate::tui::views;

/// What a read of the workspace brings: the plans read again, and the trains when they were.
#[derive(Debug, Clone, Default)]
pub struct WsUpdate {
    pub plans: Vec<PlanBoard>,
    pub trains: Option<Vec<TrainView>>,
    /// Why something could not be read (`None`: everything was).
    pub problem: Option<String>,
    /// The release asked for could not be opened: why (the board comes back). Nothing else is
    /// read then.
    pub not_opened: Option<String>,
}

impl UiState {
    /// Whether the workspace board is on screen (keys and the mouse go to it).
    pub fn ws_shown(&self) -> bool {
        self.ws.as_ref().is_some_and(|w| w.shown)
    }

    /// A read of the workspace arrived.
    pub(super) fn ws_update(&mut self, u: WsUpdate) {
        let Some(ws) = self.ws.as_mut() else { return };
        if let Some(why) = u.not_opened {
            ws.shown = true;
            self.say(why, true);
            return;
        }
        for pb in u.plans {
            ws.board.replace(pb);
        }
        if let Some(t) = u.trains {
            ws.board.trains = t;
        }
        ws.problem = u.problem;
        ws.loaded = true;
        ws.reselect();
    }

    /// Esc in the release view: back to the board (the release goes on in its driver).
    pub(super) fn ws_back(&mut self, fx: &mut Vec<Effect>) -> bool {
        let Some(ws) = self.ws.as_mut() else { return false };
        if ws.shown {
            return false;
        }
        ws.shown = true;
        // The release just left stays selected on the board.
        if !self.release.id.is_empty() {
            ws.release = Some((self.release.plan.clone(), self.release.id.clone()));
        }
        ws.reselect();
        self.modal = None;
        fx.push(Effect::BackToBoard);
        true
    }

    /// An action on the board.
    pub(super) fn ws_act(&mut self, action: Action, fx: &mut Vec<Effect>) {
        let page = usize::from(self.size.1 / 2).max(1);
        match action {
            Action::Quit => self.quit_now(fx),
            Action::Suspend => fx.push(Effect::Suspend),
            Action::Help => self.modal = Some(Modal::Help),
            Action::Palette => self.modal = Some(Modal::Palette(Palette::default())),
            Action::MouseCapture => {
                self.mouse_capture = !self.mouse_capture;
                fx.push(Effect::MouseCapture(self.mouse_capture));
                if self.mouse_capture {
                    self.say("mouse on: click selects, the wheel scrolls", false);
                }
            }
            Action::Back => {
                let Some(ws) = self.ws.as_mut() else { return };
                if !ws.filter.is_empty() {
                    ws.filter = Filter::default();
                    ws.refilter();
                    self.say("filter cleared", false);
                }
            }
            Action::FocusNext | Action::FocusPrev => {
                let Some(ws) = self.ws.as_mut() else { return };
                let n = WsPane::ALL.len();
                let i = ws.focus.index();
                let next = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                ws.focus = WsPane::ALL[next];
            }
            Action::Tab(n) => match WsPane::ALL.get(usize::from(n)) {
                Some(p) => {
                    if let Some(ws) = self.ws.as_mut() {
                        ws.focus = *p;
                    }
                }
                None => self.say(
                    "the workspace board has three panes: 1 releases, 2 matrix, 3 trains",
                    true,
                ),
            },
            Action::Up | Action::Down => self.ws_move(action == Action::Up, 1),
            Action::PageUp | Action::PageDown => self.ws_move(action == Action::PageUp, page),
            Action::Top => self.ws_move(true, usize::MAX),
            Action::Follow => self.ws_move(false, usize::MAX),
            Action::Left | Action::Right => {
                let Some(ws) = self.ws.as_mut() else { return };
                if ws.focus == WsPane::Matrix {
                    let n = ws.matrix().environments.len();
                    ws.cell.1 = super::step(ws.cell.1, action == Action::Left, n);
                }
            }
            Action::Open => self.ws_open(fx),
            Action::Approve | Action::Cancel | Action::Rollback
                if self.ws.as_ref().is_some_and(|w| w.focus == WsPane::Trains) =>
            {
                self.ws_train(action, fx)
            }
            Action::Filter => {
                let now = self.ws.as_ref().map(|w| w.filter.text()).unwrap_or_default();
                self.modal = Some(Modal::Prompt(Prompt::new(PromptFor::WsFilter, &now)));
            }
            Action::StateFilter => {
                let Some(ws) = self.ws.as_mut() else { return };
                // None → running → paused → failed → none (another state typed: back to none).
                let next = match ws.filter.state.as_deref() {
                    None => Some(STATE_FILTERS[0]),
                    Some(s) => STATE_FILTERS
                        .iter()
                        .position(|f| *f == s)
                        .and_then(|i| STATE_FILTERS.get(i + 1))
                        .copied(),
                };
                ws.filter.state = next.map(str::to_string);
                ws.refilter();
                let said = match next {
                    Some(s) => format!("showing {s} releases"),
                    None => "showing releases in every state".into(),
                };
                self.say(said, false);
            }
            Action::EnvFilter => {
                let Some(ws) = self.ws.as_mut() else { return };
                let envs = ws.board.environments.clone();
                let next = match &ws.filter.env {
                    None => envs.first(),
                    Some(e) => envs.iter().position(|x| x == e).and_then(|i| envs.get(i + 1)),
                }
                .cloned();
                ws.filter.env = next.clone();
                ws.refilter();
                let said = match next {
                    Some(e) => format!("showing what concerns {e}"),
                    None if envs.is_empty() => "the workspace has no environments".into(),
                    None => "showing every environment".into(),
                };
                self.say(said, false);
            }
            _ => {
                let open = self.keymap.key_of(Action::Open).unwrap_or_else(|| "Enter".into());
                self.say(
                    format!(
                        "{}: open a release first ({open}); the board itself only shows",
                        action.describe()
                    ),
                    true,
                );
            }
        }
    }

    /// Approve, cancel or roll back the train of the selected member line, after a
    /// confirmation: a rollback first asks what newer releases it would go over
    /// ([`Effect::TrainPreview`]), then shows its order and those, and wants the train's name
    /// typed ([`Self::ws_train_rollback_confirm`]).
    fn ws_train(&mut self, action: Action, fx: &mut Vec<Effect>) {
        use crate::release::launcher::TrainAct;
        use crate::tui::modal::{Confirm, Then};
        let Some(ws) = self.ws.as_ref() else { return };
        let trains = ws.trains();
        let Some(t) = ws
            .members()
            .get(ws.member)
            .and_then(|m| trains.get(m.train))
            .copied()
        else {
            self.say(
                "no train selected: the trains pane lists the workspace's trains",
                true,
            );
            return;
        };
        let name = t.name.clone();
        let then = |act| Then::Train {
            name: name.clone(),
            act,
        };
        let confirm = match action {
            Action::Approve => {
                let Some(g) = t.gates.iter().find(|g| !g.open) else {
                    self.say(format!("train {name} has no gate waiting for approval"), true);
                    return;
                };
                Confirm::new(
                    format!("Approve train gate {} of train {name}?", g.name),
                    vec![
                        format!("{} so far.", g.progress),
                        "One approval here counts for every member release's stages behind it.".into(),
                    ],
                    then(TrainAct::Approve(Some(g.name.clone()))),
                    None,
                )
            }
            Action::Cancel => {
                let open: Vec<String> = t
                    .members
                    .iter()
                    .filter(|m| m.finished_at.is_none())
                    .map(|m| format!("  {} {}", m.plan, m.version))
                    .collect();
                let mut body = vec!["Every unfinished member is cancelled:".to_string()];
                body.extend(open);
                Confirm::new(
                    format!("Cancel train {name}?"),
                    body,
                    then(TrainAct::Cancel),
                    None,
                )
            }
            _ => {
                if !t.members.iter().any(|m| m.state == "succeeded") {
                    self.say(
                        format!("train {name}: no member completed, nothing to roll back"),
                        true,
                    );
                    return;
                }
                fx.push(Effect::TrainPreview { name: name.clone() });
                return;
            }
        };
        self.modal = Some(Modal::Confirm(confirm));
    }

    /// The confirmation of train `name`'s rollback, once what it would go over is known
    /// (`over`: a line per member with newer releases where it would be rolled back). The order
    /// is the members that completed, the last completed first; the train's name is typed; over
    /// newer releases it goes on as `rollback --force` would, and says so.
    pub(super) fn ws_train_rollback_confirm(&mut self, name: &str, over: Result<Vec<String>, String>) {
        use crate::release::launcher::TrainAct;
        use crate::tui::modal::{Confirm, Then};
        let over = match over {
            Ok(over) => over,
            Err(why) => return self.say(why, true),
        };
        // Asked from the board, answered now: only onto the board as it still is.
        if self.modal.is_some() || !self.ws_shown() {
            return;
        }
        let Some(ws) = self.ws.as_ref() else { return };
        let Some(t) = ws.trains().into_iter().find(|t| t.name == name) else {
            return self.say(format!("train {name} is no longer on the board"), true);
        };
        let mut done: Vec<&crate::engine::train::MemberView> =
            t.members.iter().filter(|m| m.state == "succeeded").collect();
        done.sort_by_key(|m| std::cmp::Reverse(m.completed_at.or(m.finished_at)));
        if done.is_empty() {
            return self.say(
                format!("train {name}: no member completed, nothing to roll back"),
                true,
            );
        }
        let mut body = vec!["One after another, the last completed first:".to_string()];
        for (i, m) in done.iter().enumerate() {
            body.push(format!(
                "  {}. {} {} (release {})",
                i + 1,
                m.plan,
                m.version,
                m.release.as_deref().unwrap_or("?")
            ));
        }
        body.push("Each is rolled back as `flightdeck rollback` would: its runs newest first.".into());
        let n = done.len();
        let mut why = format!("This rolls back {n} release(s) across plans.");
        if !over.is_empty() {
            body.push("Newer releases are live or deploying there; it rolls back over them:".into());
            body.extend(over.iter().map(|l| format!("  {l}")));
            why = format!("This rolls back {n} release(s) across plans, over newer ones.");
        }
        let mut c = Confirm::new(
            format!("Roll back train {name}?"),
            body,
            Then::Train {
                name: name.to_string(),
                act: TrainAct::Rollback {
                    force: !over.is_empty(),
                },
            },
            Some(name.to_string()),
        );
        c.typed_why = Some(why);
        self.modal = Some(Modal::Confirm(c));
    }

    /// Move the selection of the focused pane `by` lines.
    fn ws_move(&mut self, up: bool, by: usize) {
        let Some(ws) = self.ws.as_mut() else { return };
        let go = |i: usize, n: usize| -> usize {
            if n == 0 {
                0
            } else if up {
                i.saturating_sub(by)
            } else {
                i.saturating_add(by).min(n - 1)
            }
        };
        match ws.focus {
            WsPane::Releases => {
                let n = ws.rows().len();
                let i = go(ws.selected_row(), n);
                ws.select_row(i);
            }
            WsPane::Matrix => {
                let n = ws.matrix().rows.len();
                ws.cell.0 = go(ws.cell.0, n);
            }
            WsPane::Trains => {
                let n = ws.members().len();
                ws.member = go(ws.member, n);
            }
        }
    }

    /// Enter: open the focused pane's release in the release view.
    fn ws_open(&mut self, fx: &mut Vec<Effect>) {
        let Some(ws) = self.ws.as_ref() else { return };
        let Some((plan, id)) = ws.target() else {
            let what = match ws.focus {
                WsPane::Releases => "no release selected",
                WsPane::Matrix => "nothing runs or deploys there: no release to open",
                WsPane::Trains => "no member release selected (or it is not created yet)",
            };
            self.say(what, true);
            return;
        };
        // The release view starts over on the release (the board is kept behind it).
        self.opened(id.clone());
        self.release.plan = plan.clone();
        if let Some(ws) = self.ws.as_mut() {
            ws.shown = false;
            if ws.focus == WsPane::Releases {
                ws.release = Some((plan.clone(), id.clone()));
            }
        }
        fx.push(Effect::OpenFromBoard { plan, id });
    }

    /// `f` on the board: what was typed.
    pub(super) fn ws_filter_typed(&mut self, mut p: Prompt) {
        let Some(ws) = self.ws.as_mut() else { return };
        match Filter::parse(&p.input.text, &ws.board.environments) {
            Ok(f) => {
                ws.filter = f;
                ws.refilter();
                let n = ws.rows().len();
                let text = ws.filter.text();
                if text.is_empty() {
                    self.say("filter cleared", false);
                } else {
                    self.say(format!("filter {text}: {n} release(s)"), false);
                }
            }
            Err(e) => {
                p.error = Some(e);
                self.modal = Some(Modal::Prompt(p));
            }
        }
    }

    /// The mouse on the board: a click selects a tab, a pane and what it points at; the wheel
    /// moves the selection of the pane under the pointer.
    pub(super) fn ws_mouse(&mut self, ev: MouseEvent) {
        let Some(ws) = self.ws.as_ref() else { return };
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let panes = layout::ws_panes(area, ws.focus, ws.matrix_lines());
        let (x, y) = (ev.column, ev.row);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(tabs) = panes.tabs.filter(|r| r.contains(Position::new(x, y))) {
                    if let Some(p) = layout::ws_tab_at(tabs, x).and_then(|i| WsPane::ALL.get(i))
                        && let Some(ws) = self.ws.as_mut()
                    {
                        ws.focus = *p;
                    }
                    return;
                }
                let Some((pane, rect)) = panes.at(x, y) else {
                    return;
                };
                let inner = rect.inner(Margin::new(1, 1));
                let hit = inner
                    .contains(Position::new(x, y))
                    .then(|| views::workspace::hit(ws, pane, inner, x, y))
                    .flatten();
                let Some(ws) = self.ws.as_mut() else { return };
                ws.focus = pane;
                match hit {
                    Some(views::workspace::Hit::Release(i)) => ws.select_row(i),
                    Some(views::workspace::Hit::Cell(r, c)) => ws.cell = (r, c),
                    Some(views::workspace::Hit::Member(m)) => ws.member = m,
                    None => {}
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                if let Some((pane, _)) = panes.at(x, y) {
                    let keep = ws.focus;
                    if let Some(ws) = self.ws.as_mut() {
                        ws.focus = pane;
                    }
                    self.ws_move(ev.kind == MouseEventKind::ScrollUp, 1);
                    if let Some(ws) = self.ws.as_mut() {
                        ws.focus = keep;
                    }
                }
            }
            _ => {}
        }
    }
}
