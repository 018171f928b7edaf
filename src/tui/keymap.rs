//! Keys to [`Action`]s. The default bindings live here once; the help overlay and the status bar
//! hints are generated from them.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

/// One key (code and the modifiers that matter: Ctrl and Alt; Shift is part of the character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }
    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        if ev.kind == KeyEventKind::Release {
            return None;
        }
        let mut code = ev.code;
        // Some terminals report Shift+Tab as Tab with SHIFT.
        if code == KeyCode::Tab && ev.modifiers.contains(KeyModifiers::SHIFT) {
            code = KeyCode::BackTab;
        }
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
        })
    }

    /// How the key is written in help and hints.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::End => "End".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Enter => "Enter".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("C-{base}") } else { base }
    }
}

/// Bindings, in the order help lists them.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        use KeyCode::*;
        let bindings = vec![
            (Key::plain(Up), Action::Up),
            (Key::ch('k'), Action::Up),
            (Key::plain(Down), Action::Down),
            (Key::ch('j'), Action::Down),
            (Key::plain(Left), Action::Left),
            (Key::ch('h'), Action::Left),
            (Key::plain(Right), Action::Right),
            (Key::ch('l'), Action::Right),
            (Key::plain(Tab), Action::FocusNext),
            (Key::plain(BackTab), Action::FocusPrev),
            (Key::ch('G'), Action::Follow),
            (Key::plain(End), Action::Follow),
            (Key::plain(PageUp), Action::PageUp),
            (Key::plain(PageDown), Action::PageDown),
            (Key::ch('1'), Action::Tab(0)),
            (Key::ch('2'), Action::Tab(1)),
            (Key::ch('3'), Action::Tab(2)),
            (Key::ch('4'), Action::Tab(3)),
            (Key::ch('?'), Action::Help),
            (Key::plain(Esc), Action::Back),
            (Key::ch('q'), Action::Quit),
            (Key::ctrl('c'), Action::Quit),
            (Key::ctrl('z'), Action::Suspend),
        ];
        Keymap { bindings }
    }
}

impl Keymap {
    pub fn lookup(&self, key: Key) -> Option<Action> {
        self.bindings.iter().find(|(k, _)| *k == key).map(|(_, a)| *a)
    }

    /// Every action with all its keys, in binding order: `("↑/k", Up)`.
    pub fn grouped(&self) -> Vec<(String, Action)> {
        let mut out: Vec<(Vec<String>, Action)> = Vec::new();
        for (k, a) in &self.bindings {
            match out.iter_mut().find(|(_, b)| b == a) {
                Some((keys, _)) => keys.push(k.label()),
                None => out.push((vec![k.label()], *a)),
            }
        }
        out.into_iter().map(|(keys, a)| (keys.join("/"), a)).collect()
    }

    /// Status bar hints: `q quit  ? help  Tab pane  ↑↓ move  G follow` (the first key of each
    /// hinted action; actions sharing a hint word share the entry).
    pub fn hints(&self) -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, &'static str, Vec<Action>)> = Vec::new();
        for (k, a) in &self.bindings {
            let Some(h) = a.hint() else { continue };
            match out.iter_mut().find(|(_, w, _)| *w == h) {
                Some((keys, _, acts)) if !acts.contains(a) => {
                    keys.push_str(&k.label());
                    acts.push(*a);
                }
                Some(_) => {}
                None => out.push((k.label(), h, vec![*a])),
            }
        }
        // Most important first.
        let order = ["quit", "help", "pane", "move", "follow"];
        out.sort_by_key(|(_, h, _)| order.iter().position(|o| o == h).unwrap_or(order.len()));
        out.into_iter().map(|(k, h, _)| (k, h)).collect()
    }
}
