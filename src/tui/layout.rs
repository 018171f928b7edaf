//! Where everything goes: the layouts by terminal size, the panes' rectangles, the output panes'
//! split, the narrow layout's tabs and how a long list is clipped to its rows. Pure geometry over
//! an [`Arrange`] (the few facts of the state that decide it), so the views draw into exactly the
//! rectangles the reducer's mouse handling hit-tests, and neither needs the other.

use ratatui::layout::{Constraint, Direction, Layout as Split, Rect};
use unicode_width::UnicodeWidthStr;

use super::keymap::Layer;

/// The narrow layout's tabs, in number-key order.
pub const TABS: [&str; 5] = ["Board", "Pipeline", "Output", "Drift", "Checklist"];

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
    /// Environments: versions and drift.
    Drift,
    /// The selected gate's checklist and approvals.
    Checklist,
}

impl Focus {
    /// In tab order.
    pub const ALL: [Focus; 5] = [
        Focus::Board,
        Focus::Pipeline,
        Focus::Output,
        Focus::Drift,
        Focus::Checklist,
    ];
    /// Tab order when panes sit side by side: left to right, then the output below.
    pub const SIDE_BY_SIDE: [Focus; 5] = [
        Focus::Board,
        Focus::Pipeline,
        Focus::Drift,
        Focus::Checklist,
        Focus::Output,
    ];
    pub fn index(self) -> usize {
        Focus::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
    /// The keymap layer of the pane.
    pub fn layer(self) -> Layer {
        match self {
            Focus::Board => Layer::Board,
            Focus::Pipeline => Layer::Pipeline,
            Focus::Output => Layer::Output,
            Focus::Drift | Focus::Checklist => Layer::Checklist,
        }
    }
}

/// What of the cockpit's state decides where things go (see `UiState::arrange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrange {
    /// The focused pane (the narrow layout shows only it; the medium one swaps drift in).
    pub focus: Focus,
    /// The focused output pane fills the screen.
    pub zoom: bool,
    /// Output panes open (at least 1).
    pub panes: usize,
    /// The focused output pane.
    pub pane: usize,
}

/// Where each pane goes on a screen of `area` with `focus` (the medium layout shows the drift
/// pane in the checklist's place while it has the focus; the narrow one shows only the focused
/// tab). The one layout computation: the views draw into these rectangles and the reducer's
/// mouse handling hit-tests them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    pub layout: Layout,
    /// The narrow layout's tab row.
    pub tabs: Option<Rect>,
    pub board: Option<Rect>,
    /// The pipeline, or the start screen when no release is open.
    pub pipeline: Option<Rect>,
    pub drift: Option<Rect>,
    pub checklist: Option<Rect>,
    pub output: Option<Rect>,
    pub status: Option<Rect>,
}

impl Panes {
    /// The pane's rectangle, if it is shown.
    pub fn of(&self, focus: Focus) -> Option<Rect> {
        match focus {
            Focus::Board => self.board,
            Focus::Pipeline => self.pipeline,
            Focus::Drift => self.drift,
            Focus::Checklist => self.checklist,
            Focus::Output => self.output,
        }
    }

    /// The pane at cell (`x`, `y`), if any.
    pub fn at(&self, x: u16, y: u16) -> Option<(Focus, Rect)> {
        let p = ratatui::layout::Position::new(x, y);
        Focus::ALL
            .into_iter()
            .find_map(|f| self.of(f).filter(|r| r.contains(p)).map(|r| (f, r)))
    }
}

/// The panes of a screen of `area` with `focus` (pure: the same for the views and the reducer).
pub fn panes(area: Rect, focus: Focus) -> Panes {
    let mut p = Panes {
        layout: Layout::of(area.width, area.height),
        tabs: None,
        board: None,
        pipeline: None,
        drift: None,
        checklist: None,
        output: None,
        status: None,
    };
    match p.layout {
        Layout::TooSmall => {}
        Layout::Wide => {
            let [top, out, bar] = rows(
                area,
                [
                    Constraint::Percentage(45),
                    Constraint::Fill(1),
                    Constraint::Length(1),
                ],
            );
            let [b, m, e] = cols(
                top,
                [
                    Constraint::Percentage(26),
                    Constraint::Percentage(42),
                    Constraint::Percentage(32),
                ],
            );
            let [d, g] = rows(e, [Constraint::Percentage(40), Constraint::Percentage(60)]);
            (p.board, p.pipeline, p.drift, p.checklist) = (Some(b), Some(m), Some(d), Some(g));
            (p.output, p.status) = (Some(out), Some(bar));
        }
        Layout::Medium => {
            let [top, out, bar] = rows(
                area,
                [
                    Constraint::Percentage(50),
                    Constraint::Fill(1),
                    Constraint::Length(1),
                ],
            );
            let [left, m] = cols(top, [Constraint::Percentage(45), Constraint::Percentage(55)]);
            let [b, g] = rows(left, [Constraint::Percentage(50), Constraint::Percentage(50)]);
            (p.board, p.pipeline) = (Some(b), Some(m));
            // Two columns: the drift pane shares the lower left with the checklist.
            if focus == Focus::Drift {
                p.drift = Some(g);
            } else {
                p.checklist = Some(g);
            }
            (p.output, p.status) = (Some(out), Some(bar));
        }
        Layout::Narrow => {
            let [tabs, body, bar] = rows(
                area,
                [Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)],
            );
            (p.tabs, p.status) = (Some(tabs), Some(bar));
            match focus {
                Focus::Board => p.board = Some(body),
                Focus::Pipeline => p.pipeline = Some(body),
                Focus::Output => p.output = Some(body),
                Focus::Drift => p.drift = Some(body),
                Focus::Checklist => p.checklist = Some(body),
            }
        }
    }
    p
}

/// The panes as drawn for `a`: [`panes`], or with the output zoomed (`z`) the output panes on
/// the whole screen above the status bar.
pub fn screen(area: Rect, a: Arrange) -> Panes {
    let p = panes(area, a.focus);
    if !a.zoom || p.layout == Layout::TooSmall {
        return p;
    }
    let [out, bar] = rows(area, [Constraint::Fill(1), Constraint::Length(1)]);
    Panes {
        layout: p.layout,
        tabs: None,
        board: None,
        pipeline: None,
        drift: None,
        checklist: None,
        output: Some(out),
        status: Some(bar),
    }
}

/// Where each output pane goes (its block, border included) on a screen of `area`, as if the
/// output were shown (in the narrow layout it is only while its tab is): the reducer scrolls by
/// the panes' real heights and the mouse finds the pane under the pointer.
pub fn output_pane_rects(area: Rect, a: Arrange) -> Vec<Rect> {
    let p = if a.zoom {
        screen(area, a)
    } else {
        panes(area, Focus::Output)
    };
    p.output.map_or_else(Vec::new, |out| pane_rects(out, a))
}

/// The tab under column `x` of the narrow layout's tab row (as the views draw them).
pub fn tab_at(tabs: Rect, x: u16) -> Option<usize> {
    let mut left = tabs.x;
    for (i, name) in TABS.iter().enumerate() {
        let w = format!(" {} {name} ", i + 1).width() as u16;
        if x >= left && x < left.saturating_add(w) {
            return Some(i);
        }
        left = left.saturating_add(w);
    }
    None
}

/// Narrowest pane worth putting beside another.
const MIN_PANE_WIDTH: u16 = 50;
/// Lowest pane worth putting above another in a grid.
const MIN_PANE_HEIGHT: u16 = 6;

/// Every pane's area within `area` (an empty rect for a pane not shown: zoomed away).
pub fn pane_rects(area: Rect, a: Arrange) -> Vec<Rect> {
    let n = a.panes.max(1);
    if a.zoom {
        return (0..n)
            .map(|i| if i == a.pane { area } else { Rect::default() })
            .collect();
    }
    let even = |dir: Direction, area: Rect, k: usize| -> Vec<Rect> {
        Split::default()
            .direction(dir)
            .constraints(vec![Constraint::Fill(1); k])
            .split(area)
            .to_vec()
    };
    if n == 1 {
        vec![area]
    } else if area.width / n as u16 >= MIN_PANE_WIDTH {
        even(Direction::Horizontal, area, n)
    } else if n == 4 && area.width / 2 >= MIN_PANE_WIDTH && area.height / 2 >= MIN_PANE_HEIGHT {
        let [top, bottom] = [0, 1].map(|i| even(Direction::Vertical, area, 2)[i]);
        let mut out = even(Direction::Horizontal, top, 2);
        out.extend(even(Direction::Horizontal, bottom, 2));
        out
    } else {
        even(Direction::Vertical, area, n)
    }
}

pub fn rows<const N: usize>(area: Rect, c: [Constraint; N]) -> [Rect; N] {
    Split::default()
        .direction(Direction::Vertical)
        .constraints(c)
        .areas(area)
}

pub fn cols<const N: usize>(area: Rect, c: [Constraint; N]) -> [Rect; N] {
    Split::default()
        .direction(Direction::Horizontal)
        .constraints(c)
        .areas(area)
}

/// One row of a clipped list: a line of the list, or a marker counting lines left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Line(usize),
    Above(usize),
    Below(usize),
    /// Every line but the one kept (only when two rows are all there is).
    Others(usize),
    /// Only the count (one row).
    All(usize),
}

/// Which of `n` lines show in `height` rows, never silently: a window that keeps line `keep` in
/// view (else the top), with markers counting what is left out above and below. The views draw
/// with it and the mouse maps a clicked row back through it, so both always agree.
pub fn clip_window(n: usize, height: usize, keep: Option<usize>) -> Vec<Row> {
    if n <= height {
        return (0..n).map(Row::Line).collect();
    }
    match height {
        0 => return Vec::new(),
        1 => return vec![Row::All(n)],
        _ => {}
    }
    let k = keep.unwrap_or(0).min(n - 1);
    // The top of the list fits the kept line: no marker above.
    if k < height - 1 {
        let mut out: Vec<Row> = (0..height - 1).map(Row::Line).collect();
        out.push(Row::Below(n - (height - 1)));
        return out;
    }
    // The bottom of the list: no marker below.
    if k >= n - (height - 1) {
        let start = n - (height - 1);
        let mut out = vec![Row::Above(start)];
        out.extend((start..n).map(Row::Line));
        return out;
    }
    if height == 2 {
        return vec![Row::Line(k), Row::Others(n - 1)];
    }
    // In between: the kept line last, markers on both sides.
    let start = k + 1 - (height - 2);
    let mut out = vec![Row::Above(start)];
    out.extend((start..=k).map(Row::Line));
    out.push(Row::Below(n - (k + 1)));
    out
}

// ---------------------------------------------------------------------------------------------
// The workspace board: the releases of every plan, the services × environments matrix and the
// trains; side by side on a big screen, else one at a time behind tabs.

/// The workspace board's tabs, in number-key order.
pub const WS_TABS: [&str; 3] = ["Releases", "Matrix", "Trains"];
/// From this size the workspace board shows its three panes at once.
pub const WS_WIDE_SIZE: (u16, u16) = (140, 30);

/// The workspace board's panes (which has the keys; in the narrow layout, the tab shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WsPane {
    #[default]
    Releases,
    /// Services × environments.
    Matrix,
    Trains,
}

impl WsPane {
    pub const ALL: [WsPane; 3] = [WsPane::Releases, WsPane::Matrix, WsPane::Trains];

    pub fn index(self) -> usize {
        WsPane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// Where the workspace board's parts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsPanes {
    pub layout: Layout,
    /// The workspace, its counts and the filter.
    pub header: Option<Rect>,
    /// The narrow layout's tab row.
    pub tabs: Option<Rect>,
    pub releases: Option<Rect>,
    pub matrix: Option<Rect>,
    pub trains: Option<Rect>,
    pub status: Option<Rect>,
}

impl WsPanes {
    pub fn of(&self, pane: WsPane) -> Option<Rect> {
        match pane {
            WsPane::Releases => self.releases,
            WsPane::Matrix => self.matrix,
            WsPane::Trains => self.trains,
        }
    }

    /// The pane at cell (`x`, `y`), if any.
    pub fn at(&self, x: u16, y: u16) -> Option<(WsPane, Rect)> {
        let p = ratatui::layout::Position::new(x, y);
        WsPane::ALL
            .into_iter()
            .find_map(|f| self.of(f).filter(|r| r.contains(p)).map(|r| (f, r)))
    }
}

/// The workspace board on a screen of `area`: `focus` is the tab shown when narrow; the
/// matrix takes the lines its `matrix_lines` need (at most about half the right column) and the
/// trains the rest.
pub fn ws_panes(area: Rect, focus: WsPane, matrix_lines: usize) -> WsPanes {
    let mut p = WsPanes {
        layout: Layout::of(area.width, area.height),
        header: None,
        tabs: None,
        releases: None,
        matrix: None,
        trains: None,
        status: None,
    };
    if p.layout == Layout::TooSmall {
        return p;
    }
    if area.width >= WS_WIDE_SIZE.0 && area.height >= WS_WIDE_SIZE.1 {
        p.layout = Layout::Wide;
        let [head, body, bar] = rows(
            area,
            [Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)],
        );
        let [left, right] = cols(body, [Constraint::Percentage(60), Constraint::Fill(1)]);
        // The matrix's rows and border, at most 55% of the column; the trains below.
        let want = (matrix_lines + 2) as u16;
        let most = right.height * 55 / 100;
        let [m, t] = rows(
            right,
            [
                Constraint::Length(want.clamp(5, most.max(5))),
                Constraint::Fill(1),
            ],
        );
        (p.header, p.releases, p.matrix, p.trains, p.status) =
            (Some(head), Some(left), Some(m), Some(t), Some(bar));
    } else {
        p.layout = Layout::Narrow;
        let [head, tabs, body, bar] = rows(
            area,
            [
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Fill(1),
                Constraint::Length(1),
            ],
        );
        (p.header, p.tabs, p.status) = (Some(head), Some(tabs), Some(bar));
        match focus {
            WsPane::Releases => p.releases = Some(body),
            WsPane::Matrix => p.matrix = Some(body),
            WsPane::Trains => p.trains = Some(body),
        }
    }
    p
}

/// The workspace board's tab under column `x` of its tab row (as the views draw them).
pub fn ws_tab_at(tabs: Rect, x: u16) -> Option<usize> {
    let mut left = tabs.x;
    for (i, name) in WS_TABS.iter().enumerate() {
        let w = format!(" {} {name} ", i + 1).width() as u16;
        if x >= left && x < left.saturating_add(w) {
            return Some(i);
        }
        left = left.saturating_add(w);
    }
    None
}
