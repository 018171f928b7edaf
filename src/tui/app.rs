//! The cockpit's state and its reducer: `UiState::update(Msg) -> Vec<Effect>`. Pure: no I/O, no
//! clock; the loop performs the effects.
//!
//! Run output is the one exception to "everything arrives as a message": the loop's tail reads
//! new log bytes straight into the bounded ring of [`OutputPane`] and then sends one
//! [`Msg::OutputGrew`] saying how many lines arrived, so a flood never becomes a flood of messages.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use super::action::Action;
use super::keymap::{Key, Keymap};
use super::theme::Theme;
use crate::engine::event::{FinalState, Record};
use crate::engine::output::{LineKind, LogLineRef};
use crate::engine::state::{ReleaseState, StageStatus};

/// Lines of the selected run kept in memory.
pub const RING_LINES: usize = 10_000;
/// Longest line kept (bytes); longer ones are cut and marked.
pub const LINE_CAP: usize = 4096;

/// The narrow layout's tabs, in number-key order.
pub const TABS: [&str; 4] = ["Board", "Pipeline", "Output", "Gates"];

/// Sizes of the layouts.
pub const MIN_SIZE: (u16, u16) = (60, 16);
pub const WIDE_SIZE: (u16, u16) = (160, 40);
pub const MEDIUM_SIZE: (u16, u16) = (100, 24);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    TooSmall,
    Narrow,
    Medium,
    Wide,
}

impl Layout {
    pub fn of(width: u16, height: u16) -> Layout {
        if width < MIN_SIZE.0 || height < MIN_SIZE.1 {
            Layout::TooSmall
        } else if width >= WIDE_SIZE.0 && height >= WIDE_SIZE.1 {
            Layout::Wide
        } else if width >= MEDIUM_SIZE.0 && height >= MEDIUM_SIZE.1 {
            Layout::Medium
        } else {
            Layout::Narrow
        }
    }
}

/// Which pane keys go to. In the narrow layout it is also the tab shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Board,
    Pipeline,
    Output,
    Gates,
}

impl Focus {
    const ALL: [Focus; 4] = [Focus::Board, Focus::Pipeline, Focus::Output, Focus::Gates];
    pub fn index(self) -> usize {
        Focus::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

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
}

/// The driver to show for a release: none once it has finished (its driver is only on its way
/// out, and a released lock makes no file event to tell us when it is gone).
pub fn shown_driver(st: &ReleaseState, driver: Option<u32>) -> Option<u32> {
    driver.filter(|_| st.finished.is_none())
}

impl BoardRow {
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
        }
    }
}

/// One line of run output, raw (parsed into styled text only when visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingLine {
    pub kind: LineKind,
    pub text: Vec<u8>,
    pub truncated: bool,
}

/// The selected run's output: the last [`RING_LINES`] lines, follow mode and scroll position.
#[derive(Debug, Clone)]
pub struct OutputPane {
    /// Log file (relative to the release folder) the ring holds, if any.
    pub log: Option<String>,
    pub ring: VecDeque<RingLine>,
    /// Lines ever pushed for this log (the ring holds the last of them).
    pub total: u64,
    pub follow: bool,
    /// Lines between the bottom of the view and the end of the ring (0 while following).
    pub scroll: usize,
    /// Lines that arrived since the user scrolled up.
    pub unseen: u64,
}

impl Default for OutputPane {
    fn default() -> Self {
        OutputPane {
            log: None,
            ring: VecDeque::new(),
            total: 0,
            follow: true,
            scroll: 0,
            unseen: 0,
        }
    }
}

impl OutputPane {
    /// Take one parsed line into the ring (called by the loop's tail; see the module docs).
    pub fn push(&mut self, line: LogLineRef<'_>) {
        if self.ring.len() == RING_LINES {
            // Reuse the oldest line's allocation.
            let mut old = self.ring.pop_front().expect("full ring");
            old.text.clear();
            old.text.extend_from_slice(line.text);
            old.kind = line.kind;
            old.truncated = line.truncated;
            self.ring.push_back(old);
        } else {
            self.ring.push_back(RingLine {
                kind: line.kind,
                text: line.text.to_vec(),
                truncated: line.truncated,
            });
        }
        self.total += 1;
    }

    fn reset(&mut self, log: Option<String>) {
        *self = OutputPane {
            log,
            ..OutputPane::default()
        };
    }

    fn scroll_up(&mut self, n: usize) {
        let max = self.ring.len().saturating_sub(1);
        self.scroll = (self.scroll + n).min(max);
        if self.scroll > 0 {
            self.follow = false;
        }
    }

    fn scroll_down(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
        if self.scroll == 0 {
            self.follow_end();
        }
    }

    fn follow_end(&mut self) {
        self.follow = true;
        self.scroll = 0;
        self.unseen = 0;
    }
}

/// Everything the loop tells the state.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// New journal records of the watched release.
    Records(Vec<Record>),
    /// The other releases of the plan (the watched one is taken from its own state).
    Board(Vec<BoardRow>),
    /// Whether a driver holds the watched release's lock (and its pid).
    Driver(Option<u32>),
    /// `lines` new lines were pushed into the output ring (of the log named).
    OutputGrew {
        log: String,
        lines: u64,
    },
    /// The 1 Hz clock while something runs: only elapsed times change.
    Tick,
    /// Reading the journal or a log failed (shown in the status bar; `None`: cleared).
    Problem(Option<String>),
    /// SIGTERM, SIGHUP, or the input ended.
    Shutdown,
}

/// What the loop must do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Tail this log file (relative to the release folder) into the output ring, from its start;
    /// `None`: tail nothing.
    FollowLog(Option<String>),
    /// Leave the cockpit with this exit code.
    Quit(u8),
    /// Give the terminal back (Ctrl-Z) and redraw everything on resume.
    Suspend,
}

/// The cockpit's state.
#[derive(Debug, Clone)]
pub struct UiState {
    pub release: ReleaseState,
    pub board: Vec<BoardRow>,
    pub board_selected: usize,
    pub driver: Option<u32>,
    pub keymap: Keymap,
    pub theme: Theme,
    pub size: (u16, u16),
    pub focus: Focus,
    /// Selected stage (index into `release.stages`) and target (index into its targets).
    pub stage: usize,
    pub target: usize,
    /// Until the user moves, the selection follows what runs.
    pub auto_select: bool,
    pub output: OutputPane,
    pub help: bool,
    pub exit_when_done: bool,
    /// Set when the cockpit should end, with its exit code.
    pub quit: Option<u8>,
    /// The last failure reading the journal or a log, until a read succeeds again.
    pub problem: Option<String>,
}

impl UiState {
    pub fn new(keymap: Keymap, theme: Theme) -> UiState {
        UiState {
            release: ReleaseState::default(),
            board: Vec::new(),
            board_selected: 0,
            driver: None,
            keymap,
            theme,
            size: (80, 24),
            focus: Focus::Pipeline,
            stage: 0,
            target: 0,
            auto_select: true,
            output: OutputPane::default(),
            help: false,
            exit_when_done: false,
            quit: None,
            problem: None,
        }
    }

    pub fn layout(&self) -> Layout {
        Layout::of(self.size.0, self.size.1)
    }

    /// Something is running (the 1 Hz clock is needed for elapsed times and spinners).
    pub fn needs_clock(&self) -> bool {
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
        let live = BoardRow::of(&self.release, self.driver);
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

    /// Apply one message; returns what the loop must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Key(ev) => {
                if let Some(action) = Key::from_event(&ev).and_then(|k| self.keymap.lookup(k)) {
                    self.act(action, &mut fx);
                }
            }
            Msg::Resize(w, h) => self.size = (w, h),
            Msg::Records(recs) => {
                for r in &recs {
                    self.release.apply(r);
                }
                if self.auto_select {
                    self.select_running();
                }
                self.clamp_selection();
                if self.exit_when_done
                    && self.quit.is_none()
                    && let Some(f) = &self.release.finished
                {
                    let code = exit_code(f.state);
                    self.quit = Some(code);
                    fx.push(Effect::Quit(code));
                }
            }
            Msg::Board(rows) => {
                self.board = rows;
                if let Some(i) = self.board_rows().iter().position(|r| r.id == self.release.id) {
                    self.board_selected = i;
                }
            }
            Msg::Driver(d) => self.driver = d,
            Msg::OutputGrew { log, lines } => {
                if self.output.log.as_deref() == Some(log.as_str()) && !self.output.follow {
                    self.output.unseen += lines;
                    // Keep the view on the same lines while they move up the ring.
                    let max = self.output.ring.len().saturating_sub(1);
                    self.output.scroll = (self.output.scroll + lines as usize).min(max);
                }
            }
            Msg::Tick => {}
            Msg::Problem(p) => self.problem = p,
            Msg::Shutdown => {
                let code = self
                    .release
                    .finished
                    .as_ref()
                    .map(|f| exit_code(f.state))
                    .unwrap_or(0);
                self.quit = Some(code);
                fx.push(Effect::Quit(code));
            }
        }
        let log = self.selected_log();
        if log != self.output.log {
            self.output.reset(log.clone());
            fx.push(Effect::FollowLog(log));
        }
        fx
    }

    fn act(&mut self, action: Action, fx: &mut Vec<Effect>) {
        if self.help {
            match action {
                Action::Help | Action::Back => self.help = false,
                Action::Quit => self.quit_now(fx),
                Action::Suspend => fx.push(Effect::Suspend),
                _ => {}
            }
            return;
        }
        let page = usize::from(self.size.1 / 2).max(1);
        match action {
            Action::Quit => self.quit_now(fx),
            Action::Suspend => fx.push(Effect::Suspend),
            Action::Help => self.help = true,
            Action::Back => {}
            Action::FocusNext | Action::FocusPrev => {
                let panes: &[Focus] = if self.layout() == Layout::Narrow {
                    &Focus::ALL
                } else {
                    &Focus::ALL[..3]
                };
                let i = panes.iter().position(|f| *f == self.focus).unwrap_or(0);
                let n = panes.len();
                let next = if action == Action::FocusNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.focus = panes[next];
            }
            Action::Tab(n) => {
                if let Some(f) = Focus::ALL.get(usize::from(n)) {
                    self.focus = *f;
                }
            }
            Action::Follow => self.output.follow_end(),
            Action::PageUp => self.output.scroll_up(page),
            Action::PageDown => self.output.scroll_down(page),
            Action::Up | Action::Down => {
                let up = action == Action::Up;
                match self.focus {
                    Focus::Board => {
                        let n = self.board_rows().len();
                        self.board_selected = step(self.board_selected, up, n);
                    }
                    Focus::Pipeline | Focus::Gates => {
                        self.auto_select = false;
                        let n = self.release.stages.len();
                        let new = step(self.stage, up, n);
                        if new != self.stage {
                            self.stage = new;
                            self.target = 0;
                        }
                    }
                    Focus::Output => {
                        if up {
                            self.output.scroll_up(1)
                        } else {
                            self.output.scroll_down(1)
                        }
                    }
                }
            }
            Action::Left | Action::Right => {
                if matches!(self.focus, Focus::Pipeline | Focus::Output) {
                    self.auto_select = false;
                    let n = self.release.stages.get(self.stage).map_or(0, |s| s.targets.len());
                    self.target = step(self.target, action == Action::Left, n);
                }
            }
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
    }

    fn clamp_selection(&mut self) {
        let n = self.release.stages.len();
        self.stage = self.stage.min(n.saturating_sub(1));
        let t = self.release.stages.get(self.stage).map_or(0, |s| s.targets.len());
        self.target = self.target.min(t.saturating_sub(1));
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

/// The exit code `run` gives a release that ended this way.
pub fn exit_code(state: FinalState) -> u8 {
    match state {
        FinalState::Succeeded => 0,
        FinalState::Cancelled => 130,
        _ => 1,
    }
}
