//! `Action`: the one vocabulary of the cockpit. Keys map to actions (see [`super::keymap`]); the
//! help overlay, the status bar hints, the command palette and the settings file's `[keys]` table
//! are all generated from [`Action::ALL`] and the keymap's bindings of them.

/// Something the user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    // Moving around.
    Up,
    Down,
    Left,
    Right,
    /// Enter: open the selected release (board), the selected stage's output (pipeline).
    Open,
    FocusNext,
    FocusPrev,
    /// Show tab `n` (0-based) in the narrow layout; focus that pane otherwise.
    Tab(u8),
    Help,
    Palette,
    /// Close an overlay, cancel a prompt, clear a search or filter.
    Back,
    Quit,
    /// Ctrl-Z: give the terminal back to the shell until `fg`.
    Suspend,
    // Output panes.
    /// Follow the end of the output again.
    Follow,
    /// Jump to the first line of the log.
    Top,
    PageUp,
    PageDown,
    Search,
    SearchNext,
    SearchPrev,
    Wrap,
    Timestamps,
    /// Copy the current line or search match to the clipboard (OSC 52).
    Copy,
    /// Turn mouse capture off (the terminal's own selection works) and on again.
    MouseCapture,
    /// Open the whole log in `$PAGER`.
    Pager,
    /// Add an output pane (up to 4) showing the selected run.
    SplitPane,
    ClosePane,
    /// Zoom the focused output pane to the whole screen, and back.
    Zoom,
    // Targets.
    /// Filter a fan-out's targets (failed, running, or by name).
    Filter,
    /// Mark the selected target (or unmark it): a rollback then offers the marked set first.
    Mark,
    // Acting on the release.
    Approve,
    /// Say no at the selected gate (a reason, then a confirmation): the release ends rejected.
    Reject,
    Tick,
    Recheck,
    Retry,
    Skip,
    Cancel,
    Rollback,
    NewRelease,
    Resume,
    /// Probe the environments again (drift).
    RefreshDrift,
    /// The releases that reached the selected environment, newest first (an overlay).
    EnvHistory,
    /// Redeploy the previous live release to the selected environment (`flightdeck redeploy`).
    Redeploy,
    /// Open an incident on the environment selected in the environments pane.
    OpenIncident,
    /// The delivery metrics (DORA) of the selected environment (an overlay).
    Metrics,
    // The workspace board.
    /// Show only the releases in a state: running, then paused, then failed, then all again.
    StateFilter,
    /// Show only what concerns one environment: each of the workspace's in turn, then all.
    EnvFilter,
}

impl Action {
    /// Every action once, in help order (tabs as 1..5).
    pub const ALL: [Action; 51] = [
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::Open,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Tab(0),
        Action::Tab(1),
        Action::Tab(2),
        Action::Tab(3),
        Action::Tab(4),
        Action::Help,
        Action::Palette,
        Action::Back,
        Action::Quit,
        Action::Suspend,
        Action::Follow,
        Action::Top,
        Action::PageUp,
        Action::PageDown,
        Action::Search,
        Action::SearchNext,
        Action::SearchPrev,
        Action::Wrap,
        Action::Timestamps,
        Action::Copy,
        Action::MouseCapture,
        Action::Pager,
        Action::SplitPane,
        Action::ClosePane,
        Action::Zoom,
        Action::Filter,
        Action::Mark,
        Action::Approve,
        Action::Reject,
        Action::Tick,
        Action::Recheck,
        Action::Retry,
        Action::Skip,
        Action::Cancel,
        Action::Rollback,
        Action::NewRelease,
        Action::Resume,
        Action::RefreshDrift,
        Action::EnvHistory,
        Action::Redeploy,
        Action::OpenIncident,
        Action::Metrics,
        Action::StateFilter,
        Action::EnvFilter,
    ];

    /// The action's name in the settings file and the palette: `approve`, `tab-3`.
    pub fn name(self) -> String {
        let s = match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::Left => "left",
            Action::Right => "right",
            Action::Open => "open",
            Action::FocusNext => "focus-next",
            Action::FocusPrev => "focus-prev",
            Action::Tab(n) => return format!("tab-{}", n + 1),
            Action::Help => "help",
            Action::Palette => "palette",
            Action::Back => "back",
            Action::Quit => "quit",
            Action::Suspend => "suspend",
            Action::Follow => "follow",
            Action::Top => "top",
            Action::PageUp => "page-up",
            Action::PageDown => "page-down",
            Action::Search => "search",
            Action::SearchNext => "search-next",
            Action::SearchPrev => "search-prev",
            Action::Wrap => "wrap",
            Action::Timestamps => "timestamps",
            Action::Copy => "copy",
            Action::MouseCapture => "mouse-capture",
            Action::Pager => "pager",
            Action::SplitPane => "split-pane",
            Action::ClosePane => "close-pane",
            Action::Zoom => "zoom",
            Action::Filter => "filter",
            Action::Mark => "mark",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Tick => "tick",
            Action::Recheck => "recheck",
            Action::Retry => "retry",
            Action::Skip => "skip",
            Action::Cancel => "cancel",
            Action::Rollback => "rollback",
            Action::NewRelease => "new-release",
            Action::Resume => "resume",
            Action::RefreshDrift => "refresh-drift",
            Action::EnvHistory => "env-history",
            Action::Redeploy => "redeploy",
            Action::OpenIncident => "open-incident",
            Action::Metrics => "metrics",
            Action::StateFilter => "state-filter",
            Action::EnvFilter => "env-filter",
        };
        s.to_string()
    }

    /// The action named `name` (see [`Action::name`]).
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// What it does, for the help overlay and the palette.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up => "move up (or scroll the output)",
            Action::Down => "move down",
            Action::Left => "previous target (fan-out)",
            Action::Right => "next target (fan-out)",
            Action::Open => "open release / run's output",
            Action::FocusNext => "next pane (or tab)",
            Action::FocusPrev => "previous pane",
            Action::Tab(0) => "tab: board",
            Action::Tab(1) => "tab: pipeline",
            Action::Tab(2) => "tab: output",
            Action::Tab(3) => "tab: drift",
            Action::Tab(_) => "tab: checklist",
            Action::Help => "toggle this help",
            Action::Palette => "palette: search every action",
            Action::Back => "close; clear search/filter/marks",
            Action::Quit => "quit (the release goes on)",
            Action::Suspend => "suspend (fg resumes)",
            Action::Follow => "follow the end of the output",
            Action::Top => "first line of the log",
            Action::PageUp => "scroll output up a page",
            Action::PageDown => "scroll output down a page",
            Action::Search => "search the whole log",
            Action::SearchNext => "next match",
            Action::SearchPrev => "previous match",
            Action::Wrap => "wrap long lines on/off",
            Action::Timestamps => "show when each line arrived",
            Action::Copy => "copy line or match (OSC 52)",
            Action::MouseCapture => "mouse off/on (off: select text)",
            Action::Pager => "open the whole log in $PAGER",
            Action::SplitPane => "add an output pane (up to 4)",
            Action::ClosePane => "close the focused output pane",
            Action::Zoom => "zoom the output pane",
            Action::Filter => "filter targets by state, name",
            Action::Mark => "mark targets to roll back",
            Action::Approve => "approve the selected gate",
            Action::Reject => "reject at the selected gate",
            Action::Tick => "tick an item (with a note)",
            Action::Recheck => "re-run the selected check",
            Action::Retry => "retry selected stage/target",
            Action::Skip => "skip a stage (with a reason)",
            Action::Cancel => "cancel the release",
            Action::Rollback => "roll back (preview first)",
            Action::NewRelease => "start a new release",
            Action::Resume => "resume a driverless release",
            Action::RefreshDrift => "probe the environments again",
            Action::EnvHistory => "history of the selected env",
            Action::Redeploy => "redeploy to the selected env",
            Action::OpenIncident => "open an incident on the env",
            Action::Metrics => "delivery metrics of the env",
            Action::StateFilter => "workspace: filter by state",
            Action::EnvFilter => "workspace: filter by env",
        }
    }

    /// A short word for the status bar hints; `None`: not hinted there.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Action::Quit => Some("quit"),
            Action::Help => Some("help"),
            Action::Palette => Some("palette"),
            Action::FocusNext => Some("pane"),
            Action::Follow => Some("follow"),
            Action::Up | Action::Down => Some("move"),
            Action::Approve => Some("approve"),
            Action::Rollback => Some("rollback"),
            _ => None,
        }
    }
}
