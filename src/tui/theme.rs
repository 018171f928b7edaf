//! Colours and symbols. Every state has its own symbol as well as a colour, so the cockpit reads
//! the same under `NO_COLOR` (no colour at all then) or for colour-blind eyes.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::state::{StageState, StageStatus, TargetState, TargetStatus};
use crate::event::Outcome;

/// What a stage or target shows as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Glyph {
    Pending,
    /// Cannot start yet (an environment held by another release).
    Waiting,
    Gated,
    Running,
    Retrying,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Skipped,
    RolledBack,
    RollbackFailed,
}

/// Spinner frames for running things; the frame comes from `now` (views never read the clock).
const SPINNER: [&str; 4] = ["◐", "◓", "◑", "◒"];

impl Glyph {
    pub fn symbol(self, now_secs: i64) -> &'static str {
        match self {
            Glyph::Pending => "·",
            Glyph::Waiting => "…",
            Glyph::Gated => "⏸",
            Glyph::Running => SPINNER[now_secs.rem_euclid(SPINNER.len() as i64) as usize],
            Glyph::Retrying => "↻",
            Glyph::Succeeded => "✓",
            Glyph::Failed => "✗",
            Glyph::TimedOut => "⏱",
            Glyph::Cancelled => "⊘",
            Glyph::Skipped => "↷",
            Glyph::RolledBack => "↶",
            Glyph::RollbackFailed => "↯",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Glyph::Pending => "pending",
            Glyph::Waiting => "waiting",
            Glyph::Gated => "at gate",
            Glyph::Running => "running",
            Glyph::Retrying => "retrying",
            Glyph::Succeeded => "succeeded",
            Glyph::Failed => "failed",
            Glyph::TimedOut => "timed out",
            Glyph::Cancelled => "cancelled",
            Glyph::Skipped => "skipped",
            Glyph::RolledBack => "rolled back",
            Glyph::RollbackFailed => "rollback failed",
        }
    }

    pub fn of_stage(s: &StageState) -> Glyph {
        match s.status {
            StageStatus::Pending if s.waiting.is_some() => Glyph::Waiting,
            StageStatus::Pending => Glyph::Pending,
            StageStatus::Gated => Glyph::Gated,
            StageStatus::Running => Glyph::Running,
            StageStatus::Succeeded => Glyph::Succeeded,
            StageStatus::Failed => {
                let outcomes = || s.targets.iter().filter_map(|t| t.last()?.outcome.as_ref());
                if outcomes().any(|o| *o == Outcome::TimedOut) {
                    Glyph::TimedOut
                } else if outcomes().all(|o| matches!(o, Outcome::Cancelled | Outcome::Succeeded))
                    && outcomes().any(|o| *o == Outcome::Cancelled)
                {
                    Glyph::Cancelled
                } else {
                    Glyph::Failed
                }
            }
            StageStatus::Skipped => Glyph::Skipped,
            StageStatus::RolledBack => Glyph::RolledBack,
            StageStatus::RollbackFailed => Glyph::RollbackFailed,
        }
    }

    pub fn of_target(t: &TargetState) -> Glyph {
        if let Some(rb) = t.rollbacks.last() {
            return match &rb.outcome {
                None => Glyph::Running,
                Some(o) if o.is_success() => Glyph::RolledBack,
                Some(_) => Glyph::RollbackFailed,
            };
        }
        match t.status() {
            TargetStatus::Pending => Glyph::Pending,
            TargetStatus::Running => Glyph::Running,
            TargetStatus::Succeeded => Glyph::Succeeded,
            TargetStatus::Retrying => Glyph::Retrying,
            TargetStatus::Failed => match t.last().and_then(|a| a.outcome.as_ref()) {
                Some(Outcome::TimedOut) => Glyph::TimedOut,
                Some(Outcome::Cancelled) => Glyph::Cancelled,
                _ => Glyph::Failed,
            },
        }
    }
}

/// What a colour is for: the settings file's `[colors]` names (`failed = "red"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Pending,
    Waiting,
    Gated,
    Running,
    Retrying,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Skipped,
    RolledBack,
    RollbackFailed,
    /// The focused pane's border and title.
    BorderFocus,
    /// The other panes' borders.
    Border,
    /// Secondary text (types, "no driver", dependencies).
    Dim,
    /// Keys in help and hints.
    Key,
    /// What needs a person, pending requests.
    Warn,
    /// The mark of stderr lines in output panes.
    Stderr,
}

impl Role {
    pub const ALL: [Role; 18] = [
        Role::Pending,
        Role::Waiting,
        Role::Gated,
        Role::Running,
        Role::Retrying,
        Role::Succeeded,
        Role::Failed,
        Role::TimedOut,
        Role::Cancelled,
        Role::Skipped,
        Role::RolledBack,
        Role::RollbackFailed,
        Role::BorderFocus,
        Role::Border,
        Role::Dim,
        Role::Key,
        Role::Warn,
        Role::Stderr,
    ];

    /// The role's name in the settings file.
    pub fn name(self) -> &'static str {
        match self {
            Role::Pending => "pending",
            Role::Waiting => "waiting",
            Role::Gated => "gated",
            Role::Running => "running",
            Role::Retrying => "retrying",
            Role::Succeeded => "succeeded",
            Role::Failed => "failed",
            Role::TimedOut => "timed_out",
            Role::Cancelled => "cancelled",
            Role::Skipped => "skipped",
            Role::RolledBack => "rolled_back",
            Role::RollbackFailed => "rollback_failed",
            Role::BorderFocus => "border_focus",
            Role::Border => "border",
            Role::Dim => "dim",
            Role::Key => "key",
            Role::Warn => "warn",
            Role::Stderr => "stderr",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The default colour.
    pub fn default_color(self) -> Color {
        match self {
            Role::Pending | Role::Waiting => Color::DarkGray,
            Role::Gated => Color::Yellow,
            Role::Running => Color::Cyan,
            Role::Retrying => Color::LightYellow,
            Role::Succeeded => Color::Green,
            Role::Failed => Color::Red,
            Role::TimedOut => Color::LightRed,
            Role::Cancelled => Color::Magenta,
            Role::Skipped => Color::Gray,
            Role::RolledBack => Color::Blue,
            Role::RollbackFailed => Color::LightMagenta,
            Role::BorderFocus => Color::Cyan,
            Role::Border | Role::Dim => Color::DarkGray,
            Role::Key | Role::Warn => Color::Yellow,
            Role::Stderr => Color::Red,
        }
    }

    fn index(self) -> usize {
        Role::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// The role of a stage or target state.
    pub fn of_glyph(g: Glyph) -> Role {
        match g {
            Glyph::Pending => Role::Pending,
            Glyph::Waiting => Role::Waiting,
            Glyph::Gated => Role::Gated,
            Glyph::Running => Role::Running,
            Glyph::Retrying => Role::Retrying,
            Glyph::Succeeded => Role::Succeeded,
            Glyph::Failed => Role::Failed,
            Glyph::TimedOut => Role::TimedOut,
            Glyph::Cancelled => Role::Cancelled,
            Glyph::Skipped => Role::Skipped,
            Glyph::RolledBack => Role::RolledBack,
            Glyph::RollbackFailed => Role::RollbackFailed,
        }
    }
}

/// A colour for every [`Role`]: the defaults, with the settings file's `[colors]` over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    colors: [Color; Role::ALL.len()],
}

impl Default for Palette {
    fn default() -> Self {
        Palette {
            colors: Role::ALL.map(Role::default_color),
        }
    }
}

impl Palette {
    pub fn get(&self, role: Role) -> Color {
        self.colors[role.index()]
    }
    pub fn set(&mut self, role: Role, color: Color) {
        self.colors[role.index()] = color;
    }
}

/// Colours on or off (`NO_COLOR`), and which ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub palette: Palette,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::new(true)
    }
}

impl Theme {
    /// The default colours (`color`), or none at all.
    pub fn new(color: bool) -> Theme {
        Theme {
            color,
            palette: Palette::default(),
        }
    }

    /// Colours unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn from_env() -> Theme {
        Theme::new(!crate::ansi::no_color())
    }

    fn fg(&self, role: Role) -> Style {
        if self.color {
            Style::new().fg(self.palette.get(role))
        } else {
            Style::new()
        }
    }

    pub fn glyph(&self, g: Glyph) -> Style {
        let s = self.fg(Role::of_glyph(g));
        if matches!(g, Glyph::Failed | Glyph::TimedOut | Glyph::RollbackFailed) {
            s.add_modifier(Modifier::BOLD)
        } else {
            s
        }
    }

    /// The state word of a release (`running`, `failed`, ...).
    pub fn release_word(&self, word: &str) -> Style {
        let g = match word {
            "succeeded" => Glyph::Succeeded,
            "failed" | "attention" | "rejected" => Glyph::Failed,
            "rolled_back" | "partially_rolled_back" => Glyph::RolledBack,
            "rollback_failed" => Glyph::RollbackFailed,
            "cancelled" => Glyph::Cancelled,
            "paused" => Glyph::Gated,
            "scheduled" => Glyph::Waiting,
            "interrupted" => Glyph::TimedOut,
            _ => Glyph::Running,
        };
        self.glyph(g)
    }

    /// The selected row (reverse video: visible without colour too).
    pub fn selected(&self, focused: bool) -> Style {
        if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Role::BorderFocus).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Role::Border)
        }
    }

    pub fn dim(&self) -> Style {
        self.fg(Role::Dim)
    }

    pub fn key(&self) -> Style {
        self.fg(Role::Key).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Role::Warn)
    }

    pub fn stderr_mark(&self) -> Style {
        self.fg(Role::Stderr)
    }

    /// A child's colour from [`crate::ansi`] (kept as the child asked, or dropped under NO_COLOR).
    pub fn ansi(&self, s: &crate::ansi::Style) -> Style {
        let conv = |c: crate::ansi::Color| match c {
            crate::ansi::Color::Indexed(n) => Color::Indexed(n),
            crate::ansi::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
        };
        let mut out = Style::new();
        if self.color {
            if let Some(c) = s.fg {
                out = out.fg(conv(c));
            }
            if let Some(c) = s.bg {
                out = out.bg(conv(c));
            }
        }
        for (on, m) in [
            (s.bold, Modifier::BOLD),
            (s.dim, Modifier::DIM),
            (s.italic, Modifier::ITALIC),
            (s.underline, Modifier::UNDERLINED),
            (s.reverse, Modifier::REVERSED),
        ] {
            if on {
                out = out.add_modifier(m);
            }
        }
        out
    }
}
