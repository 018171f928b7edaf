//! Colours and symbols. Every state has its own symbol as well as a colour, so the cockpit reads
//! the same under `NO_COLOR` (no colour at all then) or for colour-blind eyes.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::event::Outcome;
use crate::engine::state::{StageState, StageStatus, TargetState, TargetStatus};

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

/// Colours on or off (`NO_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { color: true }
    }
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn glyph(&self, g: Glyph) -> Style {
        let c = match g {
            Glyph::Pending | Glyph::Waiting => Color::DarkGray,
            Glyph::Gated => Color::Yellow,
            Glyph::Running => Color::Cyan,
            Glyph::Retrying => Color::LightYellow,
            Glyph::Succeeded => Color::Green,
            Glyph::Failed => Color::Red,
            Glyph::TimedOut => Color::LightRed,
            Glyph::Cancelled => Color::Magenta,
            Glyph::Skipped => Color::Gray,
            Glyph::RolledBack => Color::Blue,
            Glyph::RollbackFailed => Color::LightMagenta,
        };
        let s = self.fg(c);
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
            "failed" => Glyph::Failed,
            "rolled_back" => Glyph::RolledBack,
            "rollback_failed" => Glyph::RollbackFailed,
            "cancelled" => Glyph::Cancelled,
            "paused" => Glyph::Gated,
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
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::DarkGray)
        }
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn stderr_mark(&self) -> Style {
        self.fg(Color::Red)
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
