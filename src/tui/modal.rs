//! Overlays that take the keyboard: help, the command palette, text prompts, confirmations and
//! the new-release form. While one is open, keys go to it (typed text is text, not actions).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;
use super::keymap::Keymap;
use crate::engine::request::Op;
use crate::plan::ReleaseType;
use crate::release::Scope;

/// The overlay that has the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    Help,
    Palette(Palette),
    Prompt(Prompt),
    Confirm(Confirm),
    Start(StartForm),
    EnvHistory(EnvHistory),
    Metrics(MetricsView),
}

/// The delivery metrics (DORA) of one environment over the last 90 days: loading until the
/// source answers.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsView {
    pub env: String,
    /// `None` while loading; the metrics, or why they could not be read.
    pub metrics: Option<Result<crate::engine::metrics::Metrics, String>>,
}

/// The history overlay of one environment: loading until the source answers.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvHistory {
    pub env: String,
    /// `None` while loading; the releases that reached it (newest finish first, with what they
    /// did there), or why they could not be read.
    pub rows: Option<Result<Vec<(crate::engine::history::Summary, String)>, String>>,
    /// The selected row (`P` redeploys its version there); the view keeps it in sight.
    pub selected: usize,
}

/// A line of text being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub text: String,
}

/// What a key did to an [`Input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Changed,
    Submit,
    Cancel,
    Ignored,
}

impl Input {
    pub fn new(text: impl Into<String>) -> Input {
        Input { text: text.into() }
    }

    /// Apply a key: printable characters insert, Backspace deletes, Ctrl-U clears, Ctrl-W
    /// deletes a word, Enter submits, Esc cancels.
    pub fn key(&mut self, ev: &KeyEvent) -> Edit {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match ev.code {
            KeyCode::Enter => Edit::Submit,
            KeyCode::Esc => Edit::Cancel,
            KeyCode::Char('c') if ctrl => Edit::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.text.clear();
                Edit::Changed
            }
            KeyCode::Char('w') if ctrl => {
                let trimmed = self.text.trim_end_matches(' ').len();
                let cut = self.text[..trimmed].rfind(' ').map_or(0, |i| i + 1);
                self.text.truncate(cut);
                Edit::Changed
            }
            KeyCode::Backspace => {
                self.text.pop();
                Edit::Changed
            }
            // Control characters never enter the text (a pasted escape sequence stays out).
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                if self.text.chars().count() < 500 {
                    self.text.push(c);
                }
                Edit::Changed
            }
            _ => Edit::Ignored,
        }
    }
}

/// The command palette: every action, filtered by a fuzzy query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub input: Input,
    pub selected: usize,
}

impl Palette {
    /// Actions matching the query, best first, with their first key: (action, key label).
    pub fn matches(&self, keymap: &Keymap) -> Vec<(Action, Option<String>)> {
        let q = self.input.text.to_lowercase();
        let mut scored: Vec<(i64, usize, Action)> = Action::ALL
            .iter()
            .enumerate()
            .filter(|(_, a)| !matches!(a, Action::Palette))
            .filter_map(|(i, a)| {
                let hay = format!("{} {}", a.name().replace('-', " "), a.describe()).to_lowercase();
                fuzzy_score(&q, &hay).map(|s| (s, i, *a))
            })
            .collect();
        scored.sort_by_key(|(s, i, _)| (std::cmp::Reverse(*s), *i));
        scored
            .into_iter()
            .map(|(_, _, a)| (a, keymap.key_of(a)))
            .collect()
    }
}

/// A subsequence match of `query` in `hay`, scored: consecutive letters and word starts count
/// more; `None` when not every letter of the query is found in order.
pub fn fuzzy_score(query: &str, hay: &str) -> Option<i64> {
    let hay: Vec<char> = hay.chars().collect();
    let mut score = 0i64;
    let mut at = 0usize;
    let mut prev: Option<usize> = None;
    for qc in query.chars().filter(|c| !c.is_whitespace()) {
        let found = (at..hay.len()).find(|&i| hay[i] == qc)?;
        score += 1;
        if prev.is_some_and(|p| p + 1 == found) {
            score += 5;
        }
        if found == 0 || hay[found - 1] == ' ' {
            score += 3;
        }
        score -= (found - at) as i64 / 8;
        prev = Some(found);
        at = found + 1;
    }
    Some(score)
}

/// What a text prompt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptFor {
    /// Skip a stage: the reason is required.
    Skip { stage: String },
    /// Tick a checklist item: the note is optional.
    Tick { gate: String, item: usize, text: String },
    /// Search the output pane's log.
    Search,
    /// Filter a fan-out's targets: `failed`, `running`, or part of a name.
    Filter,
    /// Open an incident on an environment: the summary is required.
    Incident { env: String },
    /// Reject a release at a gate: the reason is required.
    Reject { gate: String },
    /// Filter the workspace board: a state word, `env:NAME`, part of a name.
    WsFilter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub purpose: PromptFor,
    pub input: Input,
    /// Why the last Enter was not accepted.
    pub error: Option<String>,
}

impl Prompt {
    pub fn new(purpose: PromptFor, text: &str) -> Prompt {
        Prompt {
            purpose,
            input: Input::new(text),
            error: None,
        }
    }

    pub fn title(&self) -> String {
        match &self.purpose {
            PromptFor::Skip { stage } => format!("Skip {stage}: reason (required)"),
            PromptFor::Tick { item, text, .. } => {
                format!("Tick item {}: \"{text}\" (note, optional)", item + 1)
            }
            PromptFor::Search => "Search the log".into(),
            PromptFor::Filter => "Filter targets: failed, running, or a name (empty: all)".into(),
            PromptFor::Incident { env } => format!("Open an incident on {env}: what is wrong (required)"),
            PromptFor::Reject { gate } => format!("Reject at gate {gate}: why (required)"),
            PromptFor::WsFilter => {
                "Filter: running, paused, failed (any state), env:NAME, part of a name (empty: all)".into()
            }
        }
    }
}

/// What a confirmation does when confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    Submit(Op),
    /// Start a driver for the watched release (its driver is gone).
    Resume,
    /// Act on the workspace's train `name` (from the workspace board).
    Train {
        name: String,
        act: crate::release::launcher::TrainAct,
    },
    /// Create a release of this scope and start its driver (a redeploy).
    Start {
        version: String,
        rtype: ReleaseType,
        scope: Scope,
    },
}

/// "Are you sure?", with what will happen, and on a protected environment the environment's
/// name to type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub title: String,
    /// What will happen (the rollback preview: order and targets).
    pub body: Vec<String>,
    pub then: Then,
    /// The protected environment whose name must be typed, if any (or a train's name).
    pub typed: Option<String>,
    /// Why the name must be typed, when it is not a protected environment's.
    pub typed_why: Option<String>,
    pub input: Input,
    pub error: Option<String>,
    /// The other choices (Tab shows the next one): a rollback of the selected target, from the
    /// selected stage, or of the whole release.
    pub others: Vec<Confirm>,
}

impl Confirm {
    pub fn new(title: impl Into<String>, body: Vec<String>, then: Then, typed: Option<String>) -> Confirm {
        Confirm {
            title: title.into(),
            body,
            then,
            typed,
            typed_why: None,
            input: Input::default(),
            error: None,
            others: Vec::new(),
        }
    }

    /// Show the next choice (this one becomes the last).
    pub fn next_choice(self) -> Confirm {
        let mut others = self.others.clone();
        if others.is_empty() {
            return self;
        }
        let mut next = others.remove(0);
        others.push(Confirm {
            others: Vec::new(),
            input: Input::default(),
            error: None,
            ..self
        });
        next.others = others;
        next
    }

    /// Whether Enter confirms now (the typed name matches, when one is required).
    pub fn ready(&self) -> bool {
        self.typed.as_deref().is_none_or(|t| self.input.text == t)
    }
}

/// The new-release form: version (prefilled with `flightdeck next`) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartForm {
    pub version: Input,
    pub rtype: ReleaseType,
    pub error: Option<String>,
    /// Where the suggested version came from (or why there is none).
    pub suggestion: Option<String>,
}

impl StartForm {
    pub fn new(version: &str, rtype: ReleaseType, suggestion: Option<String>) -> StartForm {
        StartForm {
            version: Input::new(version),
            rtype,
            error: None,
            suggestion,
        }
    }

    /// Up/Down (and Tab) cycle the release type.
    pub fn cycle_type(&mut self, forward: bool) {
        let all = ReleaseType::ALL;
        let i = all.iter().position(|t| *t == self.rtype).unwrap_or(0);
        let n = all.len();
        self.rtype = all[if forward { (i + 1) % n } else { (i + n - 1) % n }];
    }
}
