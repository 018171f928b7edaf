//! The cockpit's state and its read-only queries. The reducer (`app`) is the only writer; the
//! views read it (with [`super::layout`] for where things go) and never import the reducer.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::keymap::Keymap;
use super::layout::{Arrange, Focus, Layout, output_pane_rects};
use super::modal::Modal;
use super::output_pane::{OutputPane, PaneId};
use super::theme::{Glyph, Theme};
use crate::drift::overview::Overview;
use crate::engine::envs::{Place, live_on};
use crate::engine::history::Summary;
use crate::engine::incidents::Incident;
use crate::engine::request::Op;
use crate::engine::state::{ReleaseState, StageStatus, TargetState};
use crate::plan::Plan;
use crate::plan::freeze::{Freeze, Span as FreezeSpan};

/// One release of the plan, as the board lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardRow {
    pub id: String,
    pub version: String,
    pub rtype: String,
    pub state: String,
    pub progress: (usize, usize),
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub driver: Option<u32>,
    /// Where it is live: environments (or `env/target`s) whose live release it is.
    pub live_on: Vec<String>,
    /// `partial: deploy-prod` for a partial release (`run --only`, `redeploy`).
    pub partial: Option<String>,
    /// When it starts, for a release scheduled (`run --at`) and not started yet.
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// The driver to show for a release: none once it has finished (its driver is only on its way
/// out, and a released lock makes no file event to tell us when it is gone).
pub fn shown_driver(st: &ReleaseState, driver: Option<u32>) -> Option<u32> {
    driver.filter(|_| st.finished.is_none())
}

impl BoardRow {
    /// A finished release from the plan's index.
    pub fn of_summary(s: &Summary) -> BoardRow {
        BoardRow {
            id: s.id.clone(),
            version: s.version.clone(),
            rtype: s.rtype.as_str().to_string(),
            state: s.state.as_str().to_string(),
            progress: s.progress,
            created_at: s.created_at,
            finished_at: Some(s.finished_at),
            driver: None,
            live_on: Vec::new(),
            partial: crate::engine::state::partial_text(&s.only),
            scheduled_at: None,
        }
    }

    pub fn of(st: &ReleaseState, driver: Option<u32>) -> BoardRow {
        let driver = shown_driver(st, driver);
        BoardRow {
            id: st.id.clone(),
            version: st.version.clone(),
            rtype: st.rtype.as_str().to_string(),
            state: st.state_word(driver.is_some()).to_string(),
            progress: st.progress(),
            created_at: st.created_at,
            finished_at: st.finished.as_ref().map(|f| f.at),
            driver,
            live_on: Vec::new(),
            partial: st.partial(),
            scheduled_at: st.scheduled_at.filter(|_| st.waiting_for_schedule(Utc::now())),
        }
    }
}

/// A short message in the status bar until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    /// Shown as an error (a refusal, a failure).
    pub error: bool,
}

/// Typical durations of the plan's stages: the median of their earlier successful runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typical {
    /// Stage id -> (median milliseconds, successful runs it is the median of).
    pub stages: BTreeMap<String, (i64, usize)>,
}

impl Typical {
    /// The median of `samples` (milliseconds), by stage; stages without samples are left out.
    pub fn from_samples(samples: BTreeMap<String, Vec<i64>>) -> Typical {
        let stages = samples
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, mut v)| {
                v.sort_unstable();
                let n = v.len();
                let median = if n % 2 == 1 {
                    v[n / 2]
                } else {
                    (v[n / 2 - 1] + v[n / 2]) / 2
                };
                (k, (median, n))
            })
            .collect();
        Typical { stages }
    }

    /// The typical duration of `stage`, in milliseconds.
    pub fn of(&self, stage: &str) -> Option<i64> {
        self.stages.get(stage).map(|(ms, _)| *ms)
    }
}

/// Which targets of a fan-out the pipeline shows (`f`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetFilter {
    /// Failed, timed out, cancelled or failed to roll back.
    Failed,
    /// Running (or waiting for a retry).
    Running,
    /// Names containing this text (case-insensitive).
    Name(String),
}

impl TargetFilter {
    /// `failed`, `running`, or a name fragment; empty: no filter.
    pub fn parse(text: &str) -> Option<TargetFilter> {
        let t = text.trim();
        match t.to_lowercase().as_str() {
            "" => None,
            "failed" => Some(TargetFilter::Failed),
            "running" => Some(TargetFilter::Running),
            _ => Some(TargetFilter::Name(t.to_string())),
        }
    }

    pub fn matches(&self, t: &TargetState) -> bool {
        match self {
            TargetFilter::Failed => matches!(
                Glyph::of_target(t),
                Glyph::Failed | Glyph::TimedOut | Glyph::Cancelled | Glyph::RollbackFailed
            ),
            TargetFilter::Running => matches!(Glyph::of_target(t), Glyph::Running | Glyph::Retrying),
            TargetFilter::Name(n) => t.label().to_lowercase().contains(&n.to_lowercase()),
        }
    }

    /// As typed: `failed`, `running`, or the name fragment.
    pub fn text(&self) -> &str {
        match self {
            TargetFilter::Failed => "failed",
            TargetFilter::Running => "running",
            TargetFilter::Name(n) => n,
        }
    }
}

/// The environments pane: the newest drift summary and what is happening to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftPane {
    /// The summary shown (kept while a probe runs or after one fails).
    pub overview: Option<Arc<Overview>>,
    /// The source has answered at least once (until then: loading).
    pub loaded: bool,
    /// `D` was pressed and the probes have not answered yet.
    pub probing: bool,
    /// Why the last load or probe failed.
    pub error: Option<String>,
    /// The selected row (an environment or one of its targets).
    pub selected: usize,
    /// The first of the selected row's drifting keys shown (PgUp/PgDn).
    pub key_scroll: usize,
}

/// What made the cockpit ring last: each new occurrence rings once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Attention {
    pub(crate) gates: usize,
    pub(crate) failed: usize,
    pub(crate) rollback_done: bool,
}

/// The cockpit's state.
#[derive(Debug, Clone)]
pub struct UiState {
    pub release: ReleaseState,
    pub board: Vec<BoardRow>,
    pub board_selected: usize,
    pub driver: Option<u32>,
    pub plan: Option<Arc<Plan>>,
    pub keymap: Keymap,
    pub theme: Theme,
    pub size: (u16, u16),
    pub focus: Focus,
    /// Selected stage (index into `release.stages`) and target (index into its targets).
    pub stage: usize,
    pub target: usize,
    /// Selected gate (index into `release.gates`) and checklist item.
    pub gate: usize,
    pub item: usize,
    /// Until the user moves, the selection follows what runs.
    pub auto_select: bool,
    /// Output pane 0: the selected stage/target's run.
    pub output: OutputPane,
    /// Output panes added with `+`, each on the run selected then.
    pub pinned: Vec<OutputPane>,
    /// The output pane output keys act on: 0 is `output`, `i` is `pinned[i - 1]`.
    pub pane: usize,
    /// The focused output pane fills the screen.
    pub zoom: bool,
    /// The last pane id given out.
    pub(crate) next_pane: PaneId,
    /// The last search generation given out.
    pub(crate) search_gen: u64,
    /// The overlay that has the keyboard.
    pub modal: Option<Modal>,
    /// Requests this cockpit sent, by sequence number, until the driver answers.
    pub sent: BTreeMap<u64, Op>,
    /// Checklist items this cockpit is ticking (gate, item), until the journal shows them ticked
    /// or the tick is refused.
    pub ticking: Vec<(String, usize)>,
    pub notice: Option<Notice>,
    /// Ring the bell when the release needs a person.
    pub bell: bool,
    /// The terminal reports clicks and the wheel (off: it selects text itself).
    pub mouse_capture: bool,
    pub(crate) attention: Attention,
    /// The resume offer was shown (or not needed) for the watched release.
    pub(crate) offered_resume: bool,
    pub exit_when_done: bool,
    /// Set when the cockpit should end, with its exit code.
    pub quit: Option<u8>,
    /// The last failure reading the journal or a log, until a read succeeds again.
    pub problem: Option<String>,
    /// The shared store's health (out of reach, or polling), when there is one.
    pub store_health: Option<crate::journal::replica::Health>,
    /// The pipeline shows only these targets of a fan-out (`f`; Esc clears).
    pub target_filter: Option<TargetFilter>,
    /// Typical stage durations (from the plan's earlier releases).
    pub typical: Typical,
    /// The environments pane.
    pub drift: DriftPane,
    /// What runs where (the environments pane's live column, the board's marks).
    pub places: Arc<Vec<Place>>,
    /// The plan's open incidents (from its incidents journal), oldest first.
    pub incidents: Vec<Incident>,
    /// Targets marked (Space) for a rollback of several, as a rollback names them (`prod/eu`),
    /// in the order marked. A new release watched starts with none.
    pub marked: Vec<String>,
    /// The plan's ad-hoc freezes (from its freezes journal), as windows.
    pub adhoc_freezes: Vec<Freeze>,
    /// Every freeze (the plan's `[[freeze]]`s, then the ad-hoc ones), their windows over 30
    /// days from `freezes_from` (when they were last worked out), in order of start: the
    /// board's freeze line.
    pub freezes: Vec<Freeze>,
    pub freeze_windows: Vec<(FreezeSpan, usize)>,
    pub freezes_from: Option<DateTime<Utc>>,
    /// The plan's open review action items (from its reviews journal), oldest release first.
    pub actions: Vec<crate::engine::reviews::Action>,
    /// The workspace board, when the cockpit opened on a workspace: on screen, or behind the
    /// release opened from it.
    pub ws: Option<super::workspace::WsBoard>,
}

impl UiState {
    pub fn new(keymap: Keymap, theme: Theme) -> UiState {
        UiState {
            release: ReleaseState::default(),
            board: Vec::new(),
            board_selected: 0,
            driver: None,
            plan: None,
            keymap,
            theme,
            size: (80, 24),
            focus: Focus::Pipeline,
            stage: 0,
            target: 0,
            gate: 0,
            item: 0,
            auto_select: true,
            output: OutputPane::default(),
            pinned: Vec::new(),
            pane: 0,
            zoom: false,
            next_pane: 0,
            search_gen: 0,
            modal: None,
            sent: BTreeMap::new(),
            ticking: Vec::new(),
            notice: None,
            marked: Vec::new(),
            bell: true,
            mouse_capture: true,
            attention: Attention::default(),
            offered_resume: false,
            exit_when_done: false,
            quit: None,
            problem: None,
            store_health: None,
            target_filter: None,
            typical: Typical::default(),
            drift: DriftPane::default(),
            places: Arc::default(),
            incidents: Vec::new(),
            adhoc_freezes: Vec::new(),
            freezes: Vec::new(),
            freeze_windows: Vec::new(),
            freezes_from: None,
            actions: Vec::new(),
            ws: None,
        }
    }

    /// What the board says about freezes at `now`: the window in force, else the next (what,
    /// when).
    pub fn freeze_headline(&self, now: DateTime<Utc>) -> Option<(String, String)> {
        crate::plan::freeze::headline(&self.freezes, &self.freeze_windows, now)
    }

    /// When the screen changes by the clock alone, with nothing running (a freeze window
    /// begins or ends): the event loop wakes then, and not before.
    pub fn wake_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        crate::plan::freeze::next_change(&self.freeze_windows, now)
    }

    /// The newest open incident on `env`.
    pub fn incident_on(&self, env: &str) -> Option<&Incident> {
        self.incidents.iter().rev().find(|i| i.is_open() && i.env == env)
    }

    /// The rows of the environments pane: the drift overview's (an environment or one of its
    /// targets), else the plan's environments.
    pub fn env_rows(&self) -> Vec<String> {
        match self.drift.overview.as_ref().filter(|o| !o.rows.is_empty()) {
            Some(o) => o.rows.iter().map(|r| r.env.clone()).collect(),
            None => self
                .plan
                .as_ref()
                .map(|p| p.environments.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// The target selected in the pipeline, as a rollback names it (`prod/eu`, or `eu` for a
    /// stage without an environment): when a fanned-out stage and one of its targets are chosen.
    pub fn selected_target_place(&self) -> Option<String> {
        if self.focus != Focus::Pipeline || self.auto_select {
            return None;
        }
        let s = self.release.stages.get(self.stage)?;
        if s.decl.targets.is_empty() {
            return None;
        }
        let t = s.targets.get(self.target)?.target.as_deref()?;
        Some(match &s.decl.environment {
            Some(e) => format!("{e}/{t}"),
            None => t.to_string(),
        })
    }

    /// Whether target `t` of stage `stage` is marked.
    pub fn is_marked(&self, stage: &crate::engine::state::StageState, t: &str) -> bool {
        self.marked.iter().any(|m| match &stage.decl.environment {
            Some(e) => m.strip_prefix(e.as_str()).and_then(|r| r.strip_prefix('/')) == Some(t),
            None => m == t,
        })
    }

    /// The environment of the environments pane's selected row.
    pub fn selected_env(&self) -> Option<String> {
        let rows = self.env_rows();
        rows.get(self.drift.selected.min(rows.len().saturating_sub(1)))
            .cloned()
    }

    pub fn layout(&self) -> Layout {
        Layout::of(self.size.0, self.size.1)
    }

    /// Whether the help overlay is open.
    pub fn help(&self) -> bool {
        matches!(self.modal, Some(Modal::Help))
    }

    /// Something is running (the 1 Hz clock is needed for elapsed times and spinners).
    pub fn needs_clock(&self) -> bool {
        if let Some(ws) = self.ws.as_ref().filter(|w| w.shown) {
            return ws.running();
        }
        self.release.finished.is_none()
            && self.release.stages.iter().any(|s| {
                s.status == StageStatus::Running
                    || s.targets
                        .iter()
                        .any(|t| t.rollbacks.last().is_some_and(|a| a.running()))
            })
    }

    /// The log of the selected stage/target: its latest rollback run if it has one after its
    /// latest attempt, else its latest attempt.
    pub fn selected_log(&self) -> Option<String> {
        let s = self.release.stages.get(self.stage)?;
        let t = s.targets.get(self.target)?;
        let deploy = t.attempts.last();
        let rollback = t.rollbacks.last();
        match (deploy, rollback) {
            (Some(d), Some(r)) if r.started_at >= d.started_at => Some(r.log.clone()),
            (Some(d), _) => Some(d.log.clone()),
            (None, Some(r)) => Some(r.log.clone()),
            (None, None) => None,
        }
    }

    /// The board's rows: the watched release's live row in place of its stored one.
    pub fn board_rows(&self) -> Vec<BoardRow> {
        let mut live = BoardRow::of(&self.release, self.driver);
        live.live_on = live_on(&self.places, &live.id);
        let mut rows: Vec<BoardRow> = self.board.iter().filter(|r| r.id != live.id).cloned().collect();
        if !self.release.id.is_empty() {
            let at = self
                .board
                .iter()
                .position(|r| r.id == live.id)
                .unwrap_or(0)
                .min(rows.len());
            rows.insert(at, live);
        }
        rows
    }

    /// The gate the checklist pane shows and `a` approves: the one chosen in the checklist pane,
    /// else the first gate of the selected stage, else the first one waiting for people.
    pub fn selected_gate(&self) -> Option<usize> {
        let gates = &self.release.gates;
        if gates.is_empty() {
            return None;
        }
        if !self.auto_select || self.focus == Focus::Checklist {
            return Some(self.gate.min(gates.len() - 1));
        }
        let of_stage = self.release.stages.get(self.stage).and_then(|s| {
            s.decl
                .gates
                .iter()
                .find_map(|name| gates.iter().position(|g| &g.decl.name == name))
        });
        let waiting = gates
            .iter()
            .position(|g| g.reached_by.is_some() && !g.satisfied());
        waiting.or(of_stage).or(Some(self.gate.min(gates.len() - 1)))
    }

    /// What of this state decides where things go on screen.
    pub fn arrange(&self) -> Arrange {
        Arrange {
            focus: self.focus,
            zoom: self.zoom,
            panes: self.pane_count(),
            pane: self.pane,
        }
    }

    /// Every output pane, pane 0 (following the selection) first.
    pub fn panes(&self) -> impl Iterator<Item = &OutputPane> {
        std::iter::once(&self.output).chain(&self.pinned)
    }

    pub fn pane_count(&self) -> usize {
        1 + self.pinned.len()
    }

    /// The pane output keys act on (the focused one when the output has the focus).
    pub fn focused_pane(&self) -> &OutputPane {
        self.pane_at(self.pane)
    }

    pub fn pane_at(&self, i: usize) -> &OutputPane {
        match i {
            0 => &self.output,
            i => self.pinned.get(i - 1).unwrap_or(&self.output),
        }
    }

    /// The pane with this id.
    pub fn pane_mut(&mut self, id: PaneId) -> Option<&mut OutputPane> {
        if self.output.id == id {
            return Some(&mut self.output);
        }
        self.pinned.iter_mut().find(|p| p.id == id)
    }

    /// Lines of text pane `i` shows (its inner height in the current layout).
    pub fn pane_height(&self, i: usize) -> usize {
        let area = ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1);
        output_pane_rects(area, self.arrange())
            .get(i)
            .map_or(1, |r| usize::from(r.height.saturating_sub(2)).max(1))
    }

    /// Whether the focused output pane has an active search (its `n`/`N` move between matches).
    pub fn output_search_active(&self) -> bool {
        self.focus == Focus::Output && self.focused_pane().search.is_some()
    }
}
