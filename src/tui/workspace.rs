//! The workspace board's state and its read-only queries: the board as last read (every plan's
//! releases, the matrix, the trains, from [`crate::engine::board`]), which pane has the keys,
//! what is selected in each, and the filter. The reducer (`app/workspace.rs`) writes it; the
//! views (`views/workspace.rs`) read it.

use crate::engine::board::{Board, Filter, Matrix, Row};
use crate::engine::train::TrainView;

pub use super::layout::WsPane;

/// The workspace board.
#[derive(Debug, Clone, Default)]
pub struct WsBoard {
    /// As last read (its plans' names and environments before the first read).
    pub board: Board,
    /// The first read has arrived.
    pub loaded: bool,
    /// The board is on screen (else a release opened from it, which Esc leaves).
    pub shown: bool,
    pub focus: WsPane,
    /// The selected release (plan, id) in the releases pane.
    pub release: Option<(String, String)>,
    /// Its place in the list last time (kept when it goes: the next one is selected).
    pub release_at: usize,
    /// The selected cell of the matrix: row (service) and column (environment).
    pub cell: (usize, usize),
    /// The selected member line of the trains pane (over every shown train's members).
    pub member: usize,
    pub filter: Filter,
    /// Why the last read (of a plan, or of the trains journal) failed.
    pub problem: Option<String>,
    /// What the filter lets through, worked out again whenever the board or the filter changes
    /// ([`WsBoard::reselect`], [`WsBoard::refilter`]): every frame reads it.
    view: Shown,
}

/// The filtered board: the releases (plan, release indexes), the matrix, the trains.
#[derive(Debug, Clone, Default)]
struct Shown {
    rows: Vec<(usize, usize)>,
    matrix: Matrix,
    trains: Vec<usize>,
}

/// One member of a train as the trains pane lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberAt {
    /// Index into the shown trains.
    pub train: usize,
    /// Index into its members.
    pub member: usize,
}

impl WsBoard {
    /// A board of the workspace `name` with these plans (name, environments), not read yet.
    pub fn new(name: &str, plans: &[(String, Vec<String>)], shown: bool) -> WsBoard {
        let plans = plans
            .iter()
            .map(|(p, envs)| crate::engine::board::PlanBoard {
                plan: p.clone(),
                environments: envs.clone(),
                releases: Vec::new(),
                older: false,
                places: Vec::new(),
                drift: Default::default(),
                now: Default::default(),
                error: None,
            })
            .collect();
        let mut ws = WsBoard {
            board: Board::new(name, plans, Vec::new()),
            shown,
            ..WsBoard::default()
        };
        ws.refresh();
        ws
    }

    /// Work out what the filter lets through again.
    fn refresh(&mut self) {
        let f = &self.filter;
        let rows = self
            .board
            .plans
            .iter()
            .enumerate()
            .flat_map(|(p, pb)| {
                pb.releases
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| f.matches(r))
                    .map(move |(i, _)| (p, i))
            })
            .collect();
        let trains = self
            .board
            .trains
            .iter()
            .enumerate()
            .filter(|(_, t)| f.matches_train(t))
            .map(|(i, _)| i)
            .collect();
        self.view = Shown {
            rows,
            matrix: self.board.matrix(f),
            trains,
        };
    }

    /// The releases the filter lets through, plan by plan, each plan's newest first.
    pub fn rows(&self) -> Vec<&Row> {
        self.view
            .rows
            .iter()
            .filter_map(|(p, i)| self.board.plans.get(*p)?.releases.get(*i))
            .collect()
    }

    /// The index of the selected release among [`WsBoard::rows`].
    pub fn selected_row(&self) -> usize {
        let rows = self.rows();
        self.release
            .as_ref()
            .and_then(|(p, id)| rows.iter().position(|r| &r.plan == p && &r.id == id))
            .unwrap_or(self.release_at)
            .min(rows.len().saturating_sub(1))
    }

    /// Select row `i` of [`WsBoard::rows`].
    pub fn select_row(&mut self, i: usize) {
        let key = self.rows().get(i).map(|r| (r.plan.clone(), r.id.clone()));
        self.release_at = i;
        self.release = key;
    }

    /// Keep the selected release selected after the rows changed (a reload, a filter); when it
    /// went, the row now in its place (after a reload) or the first row (after a filter).
    pub fn reselect(&mut self) {
        self.reselect_or(false);
    }

    /// [`WsBoard::reselect`] after the filter changed.
    pub fn refilter(&mut self) {
        self.reselect_or(true);
    }

    fn reselect_or(&mut self, first: bool) {
        self.refresh();
        let rows = self.rows();
        let kept = self
            .release
            .as_ref()
            .is_some_and(|(p, id)| rows.iter().any(|r| &r.plan == p && &r.id == id));
        if first && !kept {
            self.release_at = 0;
            self.release = None;
            self.cell = (0, 0);
            self.member = 0;
        }
        let i = self.selected_row();
        self.select_row(i);
        let m = self.matrix();
        let cols = m.environments.len();
        self.cell = (
            self.cell.0.min(m.rows.len().saturating_sub(1)),
            self.cell.1.min(cols.saturating_sub(1)),
        );
        self.member = self.member.min(self.members().len().saturating_sub(1));
    }

    pub fn matrix(&self) -> &Matrix {
        &self.view.matrix
    }

    pub fn trains(&self) -> Vec<&TrainView> {
        self.view
            .trains
            .iter()
            .filter_map(|i| self.board.trains.get(*i))
            .collect()
    }

    /// Every member of the shown trains, in order.
    pub fn members(&self) -> Vec<MemberAt> {
        self.trains()
            .iter()
            .enumerate()
            .flat_map(|(t, v)| (0..v.members.len()).map(move |m| MemberAt { train: t, member: m }))
            .collect()
    }

    /// The release Enter opens from the focused pane: the selected release; in the matrix, the
    /// release deploying to the selected cell, else the one live there; in the trains pane, the
    /// selected member's release.
    pub fn target(&self) -> Option<(String, String)> {
        match self.focus {
            WsPane::Releases => {
                let rows = self.rows();
                rows.get(self.selected_row())
                    .map(|r| (r.plan.clone(), r.id.clone()))
            }
            WsPane::Matrix => {
                let m = self.matrix();
                let row = m.rows.get(self.cell.0)?;
                let cell = row.cells.get(self.cell.1)?.as_ref()?;
                let id = cell
                    .deploying
                    .as_ref()
                    .map(|d| d.id.clone())
                    .or_else(|| cell.live.as_ref().map(|l| l.id.clone()))
                    .or_else(|| {
                        // Its targets run different releases: the first target's.
                        let p = self.board.plan(&row.plan)?;
                        let env = m.environments.get(self.cell.1)?;
                        p.places
                            .iter()
                            .find(|pl| &pl.env == env && pl.target.is_some() && pl.live.is_some())
                            .and_then(|pl| pl.live.as_ref().map(|l| l.id.clone()))
                    })?;
                Some((row.plan.clone(), id))
            }
            WsPane::Trains => {
                let at = *self.members().get(self.member)?;
                let trains = self.trains();
                let m = trains.get(at.train)?.members.get(at.member)?;
                Some((m.plan.clone(), m.release.clone()?))
            }
        }
    }

    /// Lines the matrix pane would like (its header, a row per service, the selected cell's
    /// details): the wide layout sizes it by them.
    pub fn matrix_lines(&self) -> usize {
        1 + self.matrix().rows.len().max(1) + 3
    }

    /// Something on the board runs: its elapsed times and spinners want the 1 Hz clock.
    pub fn running(&self) -> bool {
        self.board
            .plans
            .iter()
            .flat_map(|p| &p.releases)
            .any(|r| r.state == "running")
    }
}
