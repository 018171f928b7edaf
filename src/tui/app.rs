//! The cockpit's reducer: `UiState::update(Msg) -> Vec<Effect>` over the state of
//! [`super::state`]. Pure: no I/O, no clock; the loop performs the effects.
//!
//! Run output is the one exception to "everything arrives as a message": the loop's tail reads
//! new log bytes straight into the bounded ring of [`OutputPane`] and then sends one
//! [`Msg::OutputGrew`] saying how many lines arrived, so a flood never becomes a flood of messages.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, MouseEvent};

use super::action::Action;
use super::keymap::{Key, Layer};
use super::layout::{Focus, Layout};
use super::modal::{Edit, EnvHistory, MetricsView, Modal, Palette, Prompt, PromptFor, StartForm, Then};
use super::output_pane::{PaneId, RingLine};
use super::state::{Attention, BoardRow, Notice, TargetFilter, Typical, UiState};
use crate::drift::overview::Overview;
use crate::engine::envs::Place;
use crate::engine::request::Op;
use crate::engine::state::StageStatus;
use crate::event::Record;
use crate::plan::{Plan, ReleaseType};
use crate::release::{Redeploy, Scope};

mod mouse;
mod output;
mod panes;
mod redeploy;
mod requests;
mod workspace;

pub use mouse::WHEEL_LINES;
pub use workspace::WsUpdate;

/// Everything the loop tells the state.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// A click or the wheel (other mouse events are not sent).
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// New journal records of the watched release.
    Records(Vec<Record>),
    /// The other releases of the plan (the watched one is taken from its own state).
    Board(Vec<BoardRow>),
    /// What runs where: each environment and target's live release (from the plan's history).
    Places(Arc<Vec<Place>>),
    /// An environment's delivery metrics ([`Effect::Metrics`]).
    Metrics {
        env: String,
        metrics: Result<crate::engine::metrics::Metrics, String>,
    },
    /// An environment's history ([`Effect::EnvHistory`]).
    EnvHistory {
        env: String,
        rows: Result<Vec<(crate::engine::history::Summary, String)>, String>,
    },
    /// Whether a driver holds the watched release's lock (and its pid).
    Driver(Option<u32>),
    /// How the shared store is faring, as this process last saw it (none without one).
    StoreHealth(Option<crate::journal::replica::Health>),
    /// The plan (the watched release's own copy, or the plan in the current directory when no
    /// release is open): protected environments, rollback order, the start screen.
    Plan(Option<Arc<Plan>>),
    /// `lines` new lines were pushed into the ring of output pane `pane` (of the log named).
    OutputGrew {
        pane: PaneId,
        log: String,
        lines: u64,
    },
    /// The answer to [`Effect::ReadLines`]: lines `first..` of the log.
    LinesRead {
        pane: PaneId,
        log: String,
        first: u64,
        lines: Result<Vec<RingLine>, String>,
    },
    /// Progress of [`Effect::Search`]: more matching line numbers (after those reported before),
    /// the first `searched` lines searched.
    SearchFound {
        pane: PaneId,
        generation: u64,
        matches: Vec<u64>,
        searched: u64,
    },
    /// The end of [`Effect::Search`]: the last matching line numbers below its `upto` (and
    /// whether more matched than were kept), or why the search failed.
    SearchDone {
        pane: PaneId,
        generation: u64,
        result: Result<(Vec<u64>, bool), String>,
    },
    /// Something to tell in the status bar (an effect's outcome: the pager failed to start).
    Said {
        text: String,
        error: bool,
    },
    /// The 1 Hz clock while something runs: only elapsed times change.
    Tick,
    /// Reading the journal or a log failed (shown in the status bar; `None`: cleared).
    Problem(Option<String>),
    /// The plan's incidents (reloaded whenever its incidents journal changes), or why they
    /// could not be read.
    Incidents(Result<Vec<crate::engine::incidents::Incident>, String>),
    /// The plan's ad-hoc freezes (reloaded whenever its freezes journal changes), or why they
    /// could not be read.
    Freezes(Result<Vec<crate::engine::freezes::AdHoc>, String>),
    /// The plan's reviews (reloaded whenever its reviews journal changes), or why they could
    /// not be read.
    Reviews(Result<Vec<crate::engine::reviews::Review>, String>),
    /// The answer to [`Effect::OpenIncident`]: its number, or why not.
    IncidentOpened {
        env: String,
        result: Result<u64, String>,
    },
    /// The watched release's journal does not chain at some line (file:line and why): its state
    /// is what came before, and the release needs attention.
    Broken(String),
    /// The answer to [`Effect::Submit`]: the appended event's sequence number, or why nothing
    /// was appended.
    Submitted {
        op: Op,
        result: Result<u64, String>,
    },
    /// The suggested next version (for the new-release form), or why there is none.
    Suggested(Result<(String, ReleaseType), String>),
    /// The answer to [`Effect::StartRelease`] (the new release's id) or [`Effect::Resume`].
    Started(Result<String, String>),
    /// The answer to [`Effect::PlanRedeploy`]: what the redeploy would run, or why there is none.
    RedeployPlan(Result<Redeploy, String>),
    /// The source now watches release `id` (its records follow from the start).
    Opened(String),
    /// The environments' drift for release `release` (empty: no release open): loaded from its
    /// newest snapshot (`Ok(None)`: there is none), or probed afresh (`probed`, the answer to
    /// [`Effect::ProbeDrift`]); `Err`: why it could not be read or probed.
    Drift {
        release: String,
        probed: bool,
        result: Result<Option<Arc<Overview>>, String>,
    },
    /// Typical stage durations from the plan's earlier releases (for release `release`).
    Typical {
        release: String,
        typical: Typical,
    },
    /// The workspace board's plans (and trains) read again.
    Workspace(Box<WsUpdate>),
    /// The answer to [`Effect::Train`]: what was done, or why not.
    TrainActed(Result<String, String>),
    /// The answer to [`Effect::TrainPreview`]: the newer releases rolling train `name` back
    /// would go over (a line each), or why it cannot be rolled back.
    TrainPreview {
        name: String,
        over: Result<Vec<String>, String>,
    },
    /// SIGTERM, SIGHUP, or the input ended.
    Shutdown,
}

/// What the loop must do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Tail this log file (relative to the release folder) into output pane `pane`'s ring, from
    /// its start; `None`: tail nothing for that pane (it closed or its run has no log).
    FollowLog { pane: PaneId, log: Option<String> },
    /// Read lines `first..first + count` of a log back from its file ([`Msg::LinesRead`]).
    ReadLines {
        pane: PaneId,
        log: String,
        first: u64,
        count: u64,
    },
    /// Search lines `0..upto` of a log for `term` (see [`super::output_pane::Needle`]) off the
    /// UI thread ([`Msg::SearchDone`]); a pane has one search at a time.
    Search {
        pane: PaneId,
        log: String,
        term: String,
        generation: u64,
        upto: u64,
    },
    /// Forget pane `pane`'s search (stop it if it still runs).
    StopSearch(PaneId),
    /// Put this text on the clipboard: OSC 52 written to the real terminal by the cockpit.
    Copy(String),
    /// Show this log (relative to the release folder) in `$PAGER`, the cockpit suspended.
    Pager(String),
    /// Leave the cockpit with this exit code.
    Quit(u8),
    /// Give the terminal back (Ctrl-Z) and redraw everything on resume.
    Suspend,
    /// Check and append a request to the watched release's journal as the cockpit's user
    /// (starting a background driver when the request needs one and none is alive).
    Submit(Op),
    /// Ask for the suggested next version ([`Msg::Suggested`]).
    Suggest,
    /// Create a release (of `scope`: the whole plan by default; some stages, or a redeploy) and
    /// start its detached driver ([`Msg::Started`]).
    StartRelease {
        version: String,
        rtype: ReleaseType,
        scope: Scope,
    },
    /// Work out what redeploying `version` (default: the previous live release there) to `env`
    /// would run ([`Msg::RedeployPlan`]).
    PlanRedeploy { env: String, version: Option<String> },
    /// Start a detached driver for the watched release, whose driver is gone.
    Resume,
    /// Watch another release of the plan ([`Msg::Opened`]).
    Open(String),
    /// Open an incident on `env` (about the release live there) as the cockpit's user
    /// ([`Msg::IncidentOpened`]).
    OpenIncident { env: String, summary: String },
    /// Ring the terminal bell: the release needs a person.
    Bell,
    /// Turn the terminal's mouse capture on or off (off: its own text selection works).
    MouseCapture(bool),
    /// Run the plan's drift probes afresh ([`Msg::Drift`] with `probed`).
    ProbeDrift,
    /// Read the releases that reached an environment ([`Msg::EnvHistory`]).
    EnvHistory(String),
    /// Work out an environment's delivery metrics over the last 90 days ([`Msg::Metrics`]).
    Metrics(String),
    /// The workspace board's Enter: watch release `id` of `plan` in the release view.
    OpenFromBoard { plan: String, id: String },
    /// Esc in a release opened from the workspace board: stop watching it, the board again.
    BackToBoard,
    /// Act on a train of the workspace as the cockpit's user ([`Msg::TrainActed`]).
    Train {
        name: String,
        act: crate::release::launcher::TrainAct,
    },
    /// Find what rolling train `name` back would go over, for its confirmation
    /// ([`Msg::TrainPreview`]).
    TrainPreview { name: String },
}

impl UiState {
    /// Work out the freeze windows of the next 30 days again (the plan's and the ad-hoc ones).
    fn refresh_freezes(&mut self, now: chrono::DateTime<chrono::Utc>) {
        self.freezes = self.plan.iter().flat_map(|p| p.freezes.iter().cloned()).collect();
        self.freezes.extend(self.adhoc_freezes.iter().cloned());
        // At most 64 windows of each freeze: a headline needs the first few.
        self.freeze_windows =
            crate::plan::freeze::windows(&self.freezes, now, now + chrono::Duration::days(30), 64);
        self.freezes_from = Some(now);
    }

    /// Apply one message; returns what the loop must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            // Keys typed after quitting belong to whatever runs next in the terminal, not to us.
            Msg::Key(_) if self.quit.is_some() => {}
            Msg::Key(ev) => {
                self.notice = None;
                self.key(ev, &mut fx);
            }
            Msg::Mouse(_) if self.quit.is_some() => {}
            Msg::Mouse(ev) => self.mouse(ev),
            Msg::Resize(w, h) => self.size = (w, h),
            Msg::Records(recs) => self.records(&recs, &mut fx),
            Msg::Places(p) => self.places = p,
            Msg::Metrics { env, metrics } => {
                if let Some(Modal::Metrics(v)) = &mut self.modal
                    && v.env == env
                {
                    v.metrics = Some(metrics);
                }
            }
            Msg::EnvHistory { env, rows } => {
                if let Some(Modal::EnvHistory(h)) = &mut self.modal
                    && h.env == env
                {
                    h.rows = Some(rows);
                }
            }
            Msg::Board(rows) => {
                self.board = rows;
                if let Some(i) = self.board_rows().iter().position(|r| r.id == self.release.id) {
                    self.board_selected = i;
                }
            }
            Msg::Driver(d) => {
                self.driver = d;
                // An unfinished release nobody drives (opened so, or its driver died): offer to
                // resume it, once.
                if d.is_none()
                    && !self.offered_resume
                    && !self.release.id.is_empty()
                    && self.release.finished.is_none()
                    && self.release.attention.is_none()
                    && self.problem.is_none()
                    && self.modal.is_none()
                {
                    self.offered_resume = true;
                    self.modal = Some(Self::resume_offer(&self.release));
                }
            }
            Msg::Plan(p) => {
                self.plan = p;
                self.refresh_freezes(chrono::Utc::now());
            }
            Msg::OutputGrew { pane, log, lines } => self.output_grew(pane, &log, lines),
            Msg::LinesRead {
                pane,
                log,
                first,
                lines,
            } => self.lines_read(pane, &log, first, lines),
            Msg::SearchFound {
                pane,
                generation,
                matches,
                searched,
            } => self.search_found(pane, generation, matches, searched),
            Msg::SearchDone {
                pane,
                generation,
                result,
            } => self.search_done(pane, generation, result),
            Msg::Said { text, error } => self.say(text, error),
            Msg::Tick => {
                // The freeze windows are worked out for 30 days ahead: again once a day.
                let now = chrono::Utc::now();
                if self
                    .freezes_from
                    .is_none_or(|t| now - t > chrono::Duration::days(1))
                {
                    self.refresh_freezes(now);
                }
            }
            Msg::Problem(p) => self.problem = p,
            Msg::StoreHealth(h) => self.store_health = h,
            Msg::Incidents(Ok(all)) => {
                // A rollback of the watched release that linked itself to an incident known
                // before: say so.
                for i in &all {
                    let Some(before) = self.incidents.iter().find(|b| b.number == i.number) else {
                        continue;
                    };
                    for l in i.links.iter().skip(before.links.len()) {
                        if l.release == self.release.id {
                            self.say(
                                format!(
                                    "{} of {} linked to incident #{} on {}",
                                    l.kind, l.release, i.number, i.env
                                ),
                                false,
                            );
                        }
                    }
                }
                self.incidents = all;
                if self
                    .problem
                    .as_deref()
                    .is_some_and(|p| p.starts_with("incidents: "))
                {
                    self.problem = None;
                }
            }
            Msg::Incidents(Err(e)) => self.problem = Some(format!("incidents: {e}")),
            Msg::Freezes(Ok(all)) => {
                self.adhoc_freezes = all.iter().map(crate::engine::freezes::AdHoc::as_freeze).collect();
                self.refresh_freezes(chrono::Utc::now());
                if self
                    .problem
                    .as_deref()
                    .is_some_and(|p| p.starts_with("freezes: "))
                {
                    self.problem = None;
                }
            }
            Msg::Freezes(Err(e)) => self.problem = Some(format!("freezes: {e}")),
            Msg::Reviews(Ok(all)) => {
                self.actions = all
                    .into_iter()
                    .flat_map(|r| r.actions)
                    .filter(crate::engine::reviews::Action::is_open)
                    .collect();
                if self
                    .problem
                    .as_deref()
                    .is_some_and(|p| p.starts_with("reviews: "))
                {
                    self.problem = None;
                }
            }
            Msg::Reviews(Err(e)) => self.problem = Some(format!("reviews: {e}")),
            Msg::IncidentOpened { env, result } => match result {
                Ok(n) => self.say(format!("incident #{n} opened on {env}"), false),
                Err(e) => self.say(format!("could not open an incident on {env}: {e}"), true),
            },
            Msg::Broken(why) => self.release.attention = Some(why),
            Msg::Submitted { op, result } => match result {
                Ok(seq) if op.for_driver() => {
                    self.sent.insert(seq, op.clone());
                    self.say(
                        format!("{} sent (#{seq}); waiting for the driver", op.describe()),
                        false,
                    );
                    self.answers();
                }
                Ok(_) => self.say(format!("{}: done", op.describe()), false),
                Err(e) => {
                    if let Op::Tick { gate, item, .. } = &op {
                        self.ticking.retain(|(g, i)| !(g == gate && i == item));
                    }
                    self.say(format!("{} refused: {e}", op.describe()), true)
                }
            },
            Msg::Suggested(s) => {
                if let Some(Modal::Start(f)) = &mut self.modal {
                    match s {
                        Ok((v, t)) => {
                            if f.version.text.is_empty() {
                                f.version.text = v.clone();
                                f.rtype = t;
                            }
                            f.suggestion = Some(format!("suggested by `flightdeck next`: {v} ({t})"));
                        }
                        Err(e) => f.suggestion = Some(format!("no suggestion: {e}")),
                    }
                }
            }
            Msg::Started(r) => match r {
                Ok(id) => {
                    self.modal = None;
                    self.say(format!("release {id} started in a background driver"), false);
                    if id != self.release.id {
                        fx.push(Effect::Open(id));
                    }
                }
                Err(e) => {
                    if let Some(Modal::Start(f)) = &mut self.modal {
                        f.error = Some(e.clone());
                    }
                    self.say(format!("could not start: {e}"), true);
                }
            },
            Msg::RedeployPlan(r) => self.redeploy_offer(r),
            Msg::Opened(id) => self.opened(id),
            Msg::Drift {
                release,
                probed,
                result,
            } => self.drift_answer(release, probed, result),
            Msg::Typical { release, typical } => {
                if self.is_watched(&release) {
                    self.typical = typical;
                }
            }
            Msg::Workspace(u) => self.ws_update(*u),
            Msg::TrainActed(r) => {
                self.modal = None;
                match r {
                    Ok(said) => self.say(said, false),
                    Err(why) => self.say(why, true),
                }
            }
            Msg::TrainPreview { name, over } => self.ws_train_rollback_confirm(&name, over),
            Msg::Shutdown => {
                let code = self
                    .release
                    .finished
                    .as_ref()
                    .filter(|_| !self.ws_shown())
                    .map(|f| f.state.exit_code())
                    .unwrap_or(0);
                self.quit = Some(code);
                fx.push(Effect::Quit(code));
            }
        }
        let log = self.selected_log();
        if log != self.output.log {
            self.output.label = String::new();
            self.output.reset(log.clone());
            fx.push(Effect::FollowLog {
                pane: self.output.id,
                log,
            });
        }
        self.output_fetch(&mut fx);
        fx
    }

    /// Tell the user something in the status bar (until the next key).
    pub(crate) fn say(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
        });
    }

    fn records(&mut self, recs: &[Record], fx: &mut Vec<Effect>) {
        for r in recs {
            self.release.apply(r);
        }
        // Ticks the journal now shows are no longer in flight.
        let release = &self.release;
        self.ticking.retain(|(gate, item)| {
            release
                .gate(gate)
                .is_some_and(|g| g.ticks.get(*item).is_some_and(Option::is_none))
        });
        if self.auto_select {
            self.select_running();
        }
        self.clamp_selection();
        self.fit_target_to_filter();
        self.answers();
        let now = self.attention();
        if self.bell
            && (now.gates > self.attention.gates
                || now.failed > self.attention.failed
                || (now.rollback_done && !self.attention.rollback_done))
        {
            fx.push(Effect::Bell);
        }
        self.attention = now;
        if self.exit_when_done
            && self.quit.is_none()
            && let Some(f) = &self.release.finished
        {
            let code = f.state.exit_code();
            self.quit = Some(code);
            fx.push(Effect::Quit(code));
        }
    }

    /// What needs a person now: gates reached and unsatisfied, failed stages, a finished rollback.
    fn attention(&self) -> Attention {
        let st = &self.release;
        Attention {
            gates: st
                .gates
                .iter()
                .filter(|g| g.reached_by.is_some() && !g.satisfied())
                .count(),
            failed: st
                .stages
                .iter()
                .filter(|s| matches!(s.status, StageStatus::Failed | StageStatus::RollbackFailed))
                .count(),
            rollback_done: st.rollback.as_ref().is_some_and(|r| r.finished.is_some()),
        }
    }

    /// Report the driver's answers to the requests this cockpit sent.
    fn answers(&mut self) {
        let answered: Vec<u64> = self
            .sent
            .keys()
            .copied()
            .filter(|seq| {
                self.release
                    .requests
                    .get(seq)
                    .is_some_and(|r| r.handled.is_some())
            })
            .collect();
        for seq in answered {
            let op = self.sent.remove(&seq).expect("listed");
            if let Some((accepted, msg)) = self.release.requests.get(&seq).and_then(|r| r.handled.clone()) {
                if accepted {
                    self.say(format!("{} (#{seq}) accepted: {msg}", op.describe()), false);
                } else {
                    self.say(format!("{} (#{seq}) refused: {msg}", op.describe()), true);
                }
            }
        }
    }

    /// The source switched to release `id`: start over with its records.
    fn opened(&mut self, id: String) {
        let keep_board = std::mem::take(&mut self.board);
        let (keymap, theme, size, bell, exit, mouse) = (
            self.keymap.clone(),
            self.theme,
            self.size,
            self.bell,
            self.exit_when_done,
            self.mouse_capture,
        );
        let notice = self.notice.take();
        // The workspace board stays behind the release view.
        let ws = self.ws.take();
        // Ids keep counting: an answer still under way for a pane of the old release must not
        // land in a new pane.
        let (next_pane, search_gen) = (self.next_pane, self.search_gen);
        *self = UiState::new(keymap, theme);
        self.next_pane = next_pane;
        self.search_gen = search_gen;
        self.size = size;
        self.bell = bell;
        self.exit_when_done = exit;
        self.mouse_capture = mouse;
        self.board = keep_board;
        self.notice = notice;
        self.ws = ws;
        self.release.id = id;
    }

    fn key(&mut self, ev: KeyEvent, fx: &mut Vec<Effect>) {
        if let Some(modal) = self.modal.take() {
            self.modal_key(modal, ev, fx);
            return;
        }
        let Some(key) = Key::from_event(&ev) else { return };
        if self.ws_shown() {
            if let Some(action) = self.keymap.lookup(&[Layer::Board], key) {
                self.act(action, fx);
            }
            return;
        }
        let mut layers = vec![self.focus.layer()];
        if self.focus == Focus::Output && self.output_search_active() {
            layers.insert(0, Layer::Search);
        }
        if let Some(action) = self.keymap.lookup(&layers, key) {
            self.act(action, fx);
        }
    }

    fn modal_key(&mut self, modal: Modal, ev: KeyEvent, fx: &mut Vec<Effect>) {
        let quit_or_suspend = Key::from_event(&ev).and_then(|k| match self.keymap.lookup(&[], k) {
            Some(a @ (Action::Suspend | Action::Quit)) if k.ctrl => Some(a),
            _ => None,
        });
        if let Some(a) = quit_or_suspend {
            self.modal = Some(modal);
            if a == Action::Suspend {
                fx.push(Effect::Suspend);
            } else {
                self.modal = None;
                self.quit_now(fx);
            }
            return;
        }
        match modal {
            Modal::Metrics(v) => {
                let a = Key::from_event(&ev).and_then(|k| self.keymap.lookup(&[], k));
                match a {
                    Some(Action::Back | Action::Metrics) => {}
                    Some(Action::Quit) => self.quit_now(fx),
                    _ => self.modal = Some(Modal::Metrics(v)),
                }
            }
            Modal::EnvHistory(mut h) => {
                let a = Key::from_event(&ev).and_then(|k| self.keymap.lookup(&[], k));
                let n = h.rows.as_ref().and_then(|r| r.as_ref().ok()).map_or(0, Vec::len);
                match a {
                    Some(Action::Back | Action::EnvHistory) => {}
                    Some(Action::Quit) => self.quit_now(fx),
                    Some(Action::Up) => {
                        h.selected = h.selected.saturating_sub(1);
                        self.modal = Some(Modal::EnvHistory(h));
                    }
                    Some(Action::Down) => {
                        h.selected = (h.selected + 1).min(n.saturating_sub(1));
                        self.modal = Some(Modal::EnvHistory(h));
                    }
                    // Redeploy the selected release's version there: the same confirmation as
                    // from the environment's row.
                    Some(Action::Redeploy) => {
                        let version = h
                            .rows
                            .as_ref()
                            .and_then(|r| r.as_ref().ok())
                            .and_then(|r| r.get(h.selected))
                            .map(|(s, _)| s.version.clone());
                        match version {
                            Some(v) => fx.push(Effect::PlanRedeploy {
                                env: h.env.clone(),
                                version: Some(v),
                            }),
                            None => {
                                self.modal = Some(Modal::EnvHistory(h));
                                self.say("no release selected to redeploy", true);
                            }
                        }
                    }
                    _ => self.modal = Some(Modal::EnvHistory(h)),
                }
            }
            Modal::Help => {
                let a = Key::from_event(&ev).and_then(|k| self.keymap.lookup(&[], k));
                match a {
                    Some(Action::Help | Action::Back) => {}
                    Some(Action::Quit) => {
                        self.modal = Some(Modal::Help);
                        self.quit_now(fx);
                    }
                    _ => self.modal = Some(Modal::Help),
                }
            }
            Modal::Palette(mut p) => match ev.code {
                KeyCode::Up => {
                    p.selected = p.selected.saturating_sub(1);
                    self.modal = Some(Modal::Palette(p));
                }
                KeyCode::Down => {
                    let n = p.matches(&self.keymap).len();
                    p.selected = (p.selected + 1).min(n.saturating_sub(1));
                    self.modal = Some(Modal::Palette(p));
                }
                _ => match p.input.key(&ev) {
                    Edit::Submit => {
                        if let Some((a, _)) = p.matches(&self.keymap).get(p.selected) {
                            self.act(*a, fx);
                        }
                    }
                    Edit::Cancel => {}
                    Edit::Changed => {
                        p.selected = 0;
                        self.modal = Some(Modal::Palette(p));
                    }
                    Edit::Ignored => self.modal = Some(Modal::Palette(p)),
                },
            },
            Modal::Prompt(mut p) => match p.input.key(&ev) {
                Edit::Submit => self.prompt_done(p, fx),
                Edit::Cancel => {}
                Edit::Changed | Edit::Ignored => {
                    p.error = None;
                    self.modal = Some(Modal::Prompt(p));
                }
            },
            Modal::Confirm(c) if ev.code == KeyCode::Tab && !c.others.is_empty() => {
                self.modal = Some(Modal::Confirm(c.next_choice()));
            }
            Modal::Confirm(mut c) => {
                let plain_yes = c.typed.is_none() && matches!(ev.code, KeyCode::Char('y'));
                if plain_yes {
                    self.confirmed(c.then, fx);
                    return;
                }
                let plain_no = c.typed.is_none() && matches!(ev.code, KeyCode::Char('n'));
                if plain_no {
                    return;
                }
                match c.input.key(&ev) {
                    Edit::Submit if c.ready() => self.confirmed(c.then, fx),
                    Edit::Submit => {
                        c.error = Some(format!(
                            "type `{}` exactly to confirm (Esc cancels)",
                            c.typed.as_deref().unwrap_or_default()
                        ));
                        self.modal = Some(Modal::Confirm(c));
                    }
                    Edit::Cancel => {}
                    Edit::Changed | Edit::Ignored => {
                        if c.typed.is_none() {
                            // Nothing to type: keys other than y/Enter/n/Esc do nothing.
                            c.input.text.clear();
                        }
                        c.error = None;
                        self.modal = Some(Modal::Confirm(c));
                    }
                }
            }
            Modal::Start(mut f) => match ev.code {
                KeyCode::Up | KeyCode::BackTab => {
                    f.cycle_type(false);
                    self.modal = Some(Modal::Start(f));
                }
                KeyCode::Down | KeyCode::Tab => {
                    f.cycle_type(true);
                    self.modal = Some(Modal::Start(f));
                }
                _ => match f.version.key(&ev) {
                    Edit::Submit => {
                        let v = f.version.text.trim().to_string();
                        if v.is_empty() {
                            f.error = Some("the version must not be empty".into());
                        } else {
                            f.error = None;
                            fx.push(Effect::StartRelease {
                                version: v,
                                rtype: f.rtype,
                                scope: Scope::default(),
                            });
                        }
                        // Stays open until the release has started (or says why not).
                        self.modal = Some(Modal::Start(f));
                    }
                    Edit::Cancel => {}
                    Edit::Changed | Edit::Ignored => {
                        f.error = None;
                        self.modal = Some(Modal::Start(f));
                    }
                },
            },
        }
    }

    fn prompt_done(&mut self, mut p: Prompt, fx: &mut Vec<Effect>) {
        let text = p.input.text.trim().to_string();
        match p.purpose.clone() {
            PromptFor::Skip { stage } => {
                if text.is_empty() {
                    p.error = Some("a reason is required (it goes in the journal)".into());
                    self.modal = Some(Modal::Prompt(p));
                } else {
                    fx.push(Effect::Submit(Op::Skip { stage, reason: text }));
                }
            }
            PromptFor::Tick { gate, item, .. } => {
                // Until the journal shows it, the next `t` passes this item by.
                self.ticking.push((gate.clone(), item));
                fx.push(Effect::Submit(Op::Tick {
                    gate,
                    item,
                    note: text,
                }))
            }
            PromptFor::Filter => self.set_filter(TargetFilter::parse(&text)),
            PromptFor::WsFilter => self.ws_filter_typed(p),
            PromptFor::Search => self.start_search(text, fx),
            PromptFor::Reject { gate } => {
                if text.is_empty() {
                    p.error = Some("a reason is required (it goes in the journal)".into());
                    self.modal = Some(Modal::Prompt(p));
                } else {
                    self.reject_confirm(gate, text);
                }
            }
            PromptFor::Incident { env } => {
                if text.is_empty() {
                    p.error = Some("a summary is required (it goes in the incidents journal)".into());
                    self.modal = Some(Modal::Prompt(p));
                } else {
                    fx.push(Effect::OpenIncident { env, summary: text });
                }
            }
        }
    }

    fn confirmed(&mut self, then: Then, fx: &mut Vec<Effect>) {
        match then {
            Then::Submit(op) => fx.push(Effect::Submit(op)),
            Then::Resume => fx.push(Effect::Resume),
            Then::Train { name, act } => fx.push(Effect::Train { name, act }),
            Then::Start {
                version,
                rtype,
                scope,
            } => fx.push(Effect::StartRelease {
                version,
                rtype,
                scope,
            }),
        }
    }

    fn act(&mut self, action: Action, fx: &mut Vec<Effect>) {
        if self.ws_shown() {
            self.ws_act(action, fx);
            return;
        }
        let page = usize::from(self.size.1 / 2).max(1);
        match action {
            Action::Quit => self.quit_now(fx),
            Action::Suspend => fx.push(Effect::Suspend),
            Action::Help => self.modal = Some(Modal::Help),
            Action::Palette => self.modal = Some(Modal::Palette(Palette::default())),
            Action::Back => {
                // Esc in the output clears its search (or leaves the zoom); else the filter; else
                // the marks.
                if self.output_back(fx) {
                } else if self.target_filter.is_some() {
                    self.set_filter(None);
                } else if !self.marked.is_empty() {
                    let n = self.marked.len();
                    self.marked.clear();
                    self.say(format!("{n} target(s) unmarked"), false);
                } else {
                    // Opened from the workspace board: back to it.
                    self.ws_back(fx);
                }
            }
            Action::FocusNext | Action::FocusPrev if self.output_focus_step(action == Action::FocusNext) => {}
            Action::FocusNext | Action::FocusPrev => {
                let panes: &[Focus] = if self.layout() == Layout::Narrow {
                    &Focus::ALL
                } else {
                    &Focus::SIDE_BY_SIDE
                };
                let i = panes.iter().position(|f| *f == self.focus).unwrap_or(0);
                let n = panes.len();
                let next = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = panes[next];
                if self.focus == Focus::Output {
                    self.output_focus_entered(action == Action::FocusNext);
                }
            }
            Action::Tab(n) => {
                if let Some(f) = Focus::ALL.get(usize::from(n)) {
                    self.focus = *f;
                }
                // A zoomed output pane gives the screen back when another pane is chosen.
                self.zoom &= self.focus == Focus::Output;
            }
            Action::Open => match self.focus {
                Focus::Board => {
                    if let Some(row) = self.board_rows().get(self.board_selected)
                        && row.id != self.release.id
                    {
                        fx.push(Effect::Open(row.id.clone()));
                    }
                }
                Focus::Pipeline => {
                    self.focus = Focus::Output;
                    self.pane = 0;
                }
                _ => {}
            },
            // The environments pane: page through the selected row's drifting keys.
            Action::PageUp | Action::PageDown if self.focus == Focus::Drift => {
                let n = self
                    .drift
                    .overview
                    .as_ref()
                    .and_then(|o| o.rows.get(self.drift.selected))
                    .map_or(0, |r| r.diffs.len());
                let at = &mut self.drift.key_scroll;
                *at = if action == Action::PageUp {
                    at.saturating_sub(page)
                } else {
                    (*at + page).min(n.saturating_sub(1))
                };
            }
            Action::Up | Action::Down => self.move_vertical(action == Action::Up),
            Action::StateFilter | Action::EnvFilter => {
                let back = self.keymap.key_of(Action::Back).unwrap_or_else(|| "Esc".into());
                let what = if self.ws.is_some() {
                    format!("on the workspace board ({back} goes back to it)")
                } else {
                    "on the workspace board (`flightdeck` in a workspace)".to_string()
                };
                self.say(format!("{}: {what}", action.describe()), true);
            }
            Action::Left | Action::Right => {
                let back = action == Action::Left;
                match self.focus {
                    Focus::Pipeline | Focus::Output => {
                        self.auto_select = false;
                        self.step_target(back);
                    }
                    Focus::Checklist => {
                        self.pin_gate();
                        self.gate = step(self.gate, back, self.release.gates.len());
                        self.item = 0;
                    }
                    _ => {}
                }
            }
            Action::Approve => self.approve(),
            Action::Tick => self.tick(),
            Action::Recheck => self.recheck(fx),
            Action::Retry => self.retry(fx),
            Action::Skip => {
                if let Some(stage) = self.stage_for_action("skip") {
                    self.modal = Some(Modal::Prompt(Prompt::new(PromptFor::Skip { stage }, "")));
                }
            }
            Action::Cancel => self.cancel(),
            Action::Rollback => self.rollback(),
            Action::NewRelease => {
                self.modal = Some(Modal::Start(StartForm::new("", ReleaseType::default(), None)));
                fx.push(Effect::Suggest);
            }
            Action::Resume => self.resume(),
            Action::Mark => self.toggle_mark(),
            Action::Reject => self.reject(),
            Action::Filter => {
                let now = self.target_filter.as_ref().map_or("", TargetFilter::text);
                self.modal = Some(Modal::Prompt(Prompt::new(PromptFor::Filter, now)));
            }
            Action::RefreshDrift => self.refresh_drift(fx),
            // The environment selected in the environments pane; from elsewhere the plan's
            // last (usually prod), as `flightdeck metrics` defaults.
            Action::Metrics => match (self.focus == Focus::Drift)
                .then(|| self.selected_env())
                .flatten()
                .or_else(|| self.plan.as_deref().and_then(crate::engine::metrics::last_env))
                .or_else(|| self.selected_env())
            {
                Some(env) => {
                    fx.push(Effect::Metrics(env.clone()));
                    self.modal = Some(Modal::Metrics(MetricsView { env, metrics: None }));
                }
                None => {
                    self.notice = Some(Notice {
                        text: "no environment to measure: the plan has none".into(),
                        error: true,
                    })
                }
            },
            Action::EnvHistory => match self.selected_env() {
                Some(env) => {
                    fx.push(Effect::EnvHistory(env.clone()));
                    self.modal = Some(Modal::EnvHistory(EnvHistory {
                        env,
                        rows: None,
                        selected: 0,
                    }));
                }
                None => {
                    self.notice = Some(Notice {
                        text: "no environment to show: the plan has none".into(),
                        error: true,
                    })
                }
            },
            Action::Redeploy => self.redeploy(fx),
            Action::OpenIncident => self.open_incident(),
            Action::Search => {
                let term = self.focused_pane().search.as_ref().map(|s| s.term.clone());
                let prompt = Prompt::new(PromptFor::Search, term.as_deref().unwrap_or(""));
                self.modal = Some(Modal::Prompt(prompt));
            }
            Action::MouseCapture => {
                self.mouse_capture = !self.mouse_capture;
                fx.push(Effect::MouseCapture(self.mouse_capture));
                if self.mouse_capture {
                    self.say("mouse on: click selects, the wheel scrolls", false);
                }
            }
            Action::Follow
            | Action::Top
            | Action::PageUp
            | Action::PageDown
            | Action::SearchNext
            | Action::SearchPrev
            | Action::Wrap
            | Action::Timestamps
            | Action::Copy
            | Action::Pager
            | Action::SplitPane
            | Action::ClosePane
            | Action::Zoom => {
                self.output_act(action, fx);
            }
        }
    }

    fn move_vertical(&mut self, up: bool) {
        self.move_in(self.focus, up);
    }

    /// One step up or down in `pane` (keys move in the focused pane, the wheel in the one under
    /// the pointer).
    pub(crate) fn move_in(&mut self, pane: Focus, up: bool) {
        match pane {
            Focus::Board => {
                let n = self.board_rows().len();
                self.board_selected = step(self.board_selected, up, n);
            }
            Focus::Pipeline => self.select_stage(step(self.stage, up, self.release.stages.len())),
            Focus::Checklist => {
                self.pin_gate();
                let n = self
                    .release
                    .gates
                    .get(self.gate)
                    .map_or(0, |g| g.decl.checklist.len());
                self.item = step(self.item, up, n);
            }
            Focus::Drift => {
                let n = self.env_rows().len();
                self.drift.selected = step(self.drift.selected, up, n);
                self.drift.key_scroll = 0;
            }
            Focus::Output => {
                self.output_act(if up { Action::Up } else { Action::Down }, &mut Vec::new());
            }
        }
    }

    /// Moving in the checklist pins the gate it shows.
    fn pin_gate(&mut self) {
        if let Some(g) = self.selected_gate() {
            self.gate = g;
        }
        self.auto_select = false;
    }

    /// `I`: a prompt for the summary of an incident on the environments pane's selected row.
    fn open_incident(&mut self) {
        if self.focus != Focus::Drift {
            let tab = self.keymap.key_of(Action::Tab(3)).unwrap_or_else(|| "4".into());
            self.say(
                format!("select an environment in the environments pane first ({tab}, ↑/↓), then open the incident there"),
                true,
            );
            return;
        }
        match self.selected_env() {
            Some(env) => {
                self.modal = Some(Modal::Prompt(Prompt::new(PromptFor::Incident { env }, "")));
            }
            None => self.say("the plan has no environments to open an incident on", true),
        }
    }

    fn quit_now(&mut self, fx: &mut Vec<Effect>) {
        self.quit = Some(0);
        fx.push(Effect::Quit(0));
    }

    /// Select the stage (and target) that runs now, else the last one that started.
    fn select_running(&mut self) {
        let stages = &self.release.stages;
        let running = stages.iter().position(|s| s.status == StageStatus::Running);
        let last_started = stages
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.started_at.map(|t| (t, i)))
            .max()
            .map(|(_, i)| i);
        if let Some(i) = running.or(last_started) {
            self.stage = i;
            let s = &stages[i];
            self.target = s
                .targets
                .iter()
                .position(|t| t.last().is_some_and(|a| a.running()))
                .or_else(|| {
                    s.targets.iter().position(|t| {
                        t.last()
                            .and_then(|a| a.outcome.as_ref())
                            .is_some_and(|o| !o.is_success())
                    })
                })
                .unwrap_or(0);
        }
        if let Some(g) = self.selected_gate() {
            self.gate = g;
        }
    }

    fn clamp_selection(&mut self) {
        let n = self.release.stages.len();
        self.stage = self.stage.min(n.saturating_sub(1));
        let t = self.release.stages.get(self.stage).map_or(0, |s| s.targets.len());
        self.target = self.target.min(t.saturating_sub(1));
        self.gate = self.gate.min(self.release.gates.len().saturating_sub(1));
        let items = self
            .release
            .gates
            .get(self.gate)
            .map_or(0, |g| g.decl.checklist.len());
        self.item = self.item.min(items.saturating_sub(1));
    }
}

fn step(i: usize, up: bool, n: usize) -> usize {
    if n == 0 {
        0
    } else if up {
        i.saturating_sub(1)
    } else {
        (i + 1).min(n - 1)
    }
}
