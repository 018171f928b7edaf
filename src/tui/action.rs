//! `Action`: the one vocabulary of the cockpit. Keys map to actions (see [`super::keymap`]); the
//! help overlay and the status bar hints are generated from the keymap's bindings of them.

/// Something the user can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    Left,
    Right,
    FocusNext,
    FocusPrev,
    /// Follow the end of the output again.
    Follow,
    PageUp,
    PageDown,
    /// Show tab `n` (0-based) in the narrow layout.
    Tab(u8),
    Help,
    /// Close an overlay.
    Back,
    Quit,
    /// Ctrl-Z: give the terminal back to the shell until `fg`.
    Suspend,
}

impl Action {
    /// What it does, for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up => "move up (stage, release, or scroll output)",
            Action::Down => "move down",
            Action::Left => "previous target of a fan-out stage",
            Action::Right => "next target of a fan-out stage",
            Action::FocusNext => "next pane (next tab when narrow)",
            Action::FocusPrev => "previous pane",
            Action::Follow => "follow the end of the output",
            Action::PageUp => "scroll output up a page",
            Action::PageDown => "scroll output down a page",
            Action::Tab(0) => "tab: board",
            Action::Tab(1) => "tab: pipeline",
            Action::Tab(2) => "tab: output",
            Action::Tab(_) => "tab: gates",
            Action::Help => "toggle this help",
            Action::Back => "close help",
            Action::Quit => "quit (the release goes on in its driver)",
            Action::Suspend => "suspend (fg resumes)",
        }
    }

    /// A short word for the status bar hints; `None`: not hinted there.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Action::Quit => Some("quit"),
            Action::Help => Some("help"),
            Action::FocusNext => Some("pane"),
            Action::Follow => Some("follow"),
            Action::Up | Action::Down => Some("move"),
            _ => None,
        }
    }
}
