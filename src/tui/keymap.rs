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
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Insert => "Ins".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("C-{base}") } else { base }
    }

    /// A key as the settings file writes it: a character (`a`, `A`, `?`), a name (`Down`,
    /// `PgUp`, `F5`; the arrows `↑` as help shows them) or `C-` and one of those (`C-n`).
    /// Names are case-insensitive; characters are not.
    pub fn parse(text: &str) -> Result<Key, String> {
        let bad = || {
            format!(
                "unparsable key `{text}`: write a character (`a`, `A`, `?`), a name ({KEY_NAMES}) \
                 or C- and one of those (`C-n`)"
            )
        };
        if let Some(rest) = text.strip_prefix("C-").filter(|r| !r.is_empty()) {
            let mut k = Key::parse(rest).map_err(|_| bad())?;
            if k.ctrl {
                return Err(bad());
            }
            if let KeyCode::Char(c) = k.code {
                k.code = KeyCode::Char(c.to_ascii_lowercase());
            }
            k.ctrl = true;
            return Ok(k);
        }
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return match c {
                '↑' => Ok(Key::plain(KeyCode::Up)),
                '↓' => Ok(Key::plain(KeyCode::Down)),
                '←' => Ok(Key::plain(KeyCode::Left)),
                '→' => Ok(Key::plain(KeyCode::Right)),
                c if c.is_control() => Err(bad()),
                c => Ok(Key::ch(c)),
            };
        }
        use KeyCode::*;
        let code = match text.to_ascii_lowercase().as_str() {
            "up" => Up,
            "down" => Down,
            "left" => Left,
            "right" => Right,
            "enter" | "return" => Enter,
            "esc" | "escape" => Esc,
            "tab" => Tab,
            "s-tab" | "backtab" | "shift-tab" => BackTab,
            "space" => Char(' '),
            "backspace" => Backspace,
            "del" | "delete" => Delete,
            "ins" | "insert" => Insert,
            "home" => Home,
            "end" => End,
            "pgup" | "pageup" => PageUp,
            "pgdn" | "pagedown" => PageDown,
            f if f.starts_with('f') => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => F(n),
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        Ok(Key::plain(code))
    }
}

/// The key names [`Key::parse`] knows, for its error message and the example settings file.
pub const KEY_NAMES: &str = "Up, Down, Left, Right, Enter, Esc, Tab, S-Tab, Space, Backspace, Del, Ins, Home, End, PgUp, PgDn, F1..F12";

/// Where a binding applies. Keys are looked up in the active layers, most specific first, then
/// in [`Layer::Global`]: `n` is "next match" while a search is active in the output pane and "new
/// release" everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Global,
    Board,
    Pipeline,
    Output,
    Checklist,
    /// The output pane while a search is active.
    Search,
}

impl Layer {
    pub const ALL: [Layer; 6] = [
        Layer::Global,
        Layer::Board,
        Layer::Pipeline,
        Layer::Output,
        Layer::Checklist,
        Layer::Search,
    ];

    /// The layer's name in the settings file (`[keys.search]`) and in help.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Global => "global",
            Layer::Board => "board",
            Layer::Pipeline => "pipeline",
            Layer::Output => "output",
            Layer::Checklist => "checklist",
            Layer::Search => "search",
        }
    }

    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// One binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub layer: Layer,
    pub key: Key,
    pub action: Action,
}

/// Bindings, in the order help lists them.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        use KeyCode::*;
        let global = [
            (Key::plain(Up), Action::Up),
            (Key::ch('k'), Action::Up),
            (Key::plain(Down), Action::Down),
            (Key::ch('j'), Action::Down),
            (Key::plain(Left), Action::Left),
            (Key::ch('h'), Action::Left),
            (Key::plain(Right), Action::Right),
            (Key::ch('l'), Action::Right),
            (Key::plain(Enter), Action::Open),
            (Key::plain(Tab), Action::FocusNext),
            (Key::plain(BackTab), Action::FocusPrev),
            (Key::ch('1'), Action::Tab(0)),
            (Key::ch('2'), Action::Tab(1)),
            (Key::ch('3'), Action::Tab(2)),
            (Key::ch('4'), Action::Tab(3)),
            (Key::ch('5'), Action::Tab(4)),
            (Key::ch('?'), Action::Help),
            (Key::ch(':'), Action::Palette),
            (Key::plain(Esc), Action::Back),
            (Key::ch('q'), Action::Quit),
            (Key::ctrl('c'), Action::Quit),
            (Key::ctrl('z'), Action::Suspend),
            (Key::ch('G'), Action::Follow),
            (Key::plain(End), Action::Follow),
            (Key::ch('g'), Action::Top),
            (Key::plain(Home), Action::Top),
            (Key::plain(PageUp), Action::PageUp),
            (Key::plain(PageDown), Action::PageDown),
            (Key::ch('/'), Action::Search),
            (Key::ch('w'), Action::Wrap),
            (Key::ch('T'), Action::Timestamps),
            (Key::ch('y'), Action::Copy),
            (Key::ch('m'), Action::MouseCapture),
            (Key::ch('o'), Action::Pager),
            (Key::ch('+'), Action::SplitPane),
            (Key::ch('x'), Action::ClosePane),
            (Key::ch('z'), Action::Zoom),
            (Key::ch('f'), Action::Filter),
            (Key::ch(' '), Action::Mark),
            (Key::ch('a'), Action::Approve),
            (Key::ch('X'), Action::Reject),
            (Key::ch('t'), Action::Tick),
            (Key::ch('e'), Action::Recheck),
            (Key::ch('r'), Action::Retry),
            (Key::ch('s'), Action::Skip),
            (Key::ch('c'), Action::Cancel),
            (Key::ch('R'), Action::Rollback),
            (Key::ch('n'), Action::NewRelease),
            (Key::ch('u'), Action::Resume),
            (Key::ch('D'), Action::RefreshDrift),
            (Key::ch('H'), Action::EnvHistory),
            (Key::ch('P'), Action::Redeploy),
            (Key::ch('I'), Action::OpenIncident),
            (Key::ch('M'), Action::Metrics),
            (Key::ch('S'), Action::StateFilter),
            (Key::ch('E'), Action::EnvFilter),
        ];
        let search = [
            (Key::ch('n'), Action::SearchNext),
            (Key::ch('N'), Action::SearchPrev),
        ];
        let bindings = global
            .into_iter()
            .map(|(key, action)| Binding {
                layer: Layer::Global,
                key,
                action,
            })
            .chain(search.into_iter().map(|(key, action)| Binding {
                layer: Layer::Search,
                key,
                action,
            }))
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// The action of `key` in the first of `layers` that binds it, else in the global layer.
    pub fn lookup(&self, layers: &[Layer], key: Key) -> Option<Action> {
        layers
            .iter()
            .chain(std::iter::once(&Layer::Global))
            .find_map(|l| {
                self.bindings
                    .iter()
                    .find(|b| b.layer == *l && b.key == key)
                    .map(|b| b.action)
            })
    }

    /// The keys bound to `action` in `layer`, in binding order.
    pub fn keys(&self, layer: Layer, action: Action) -> Vec<Key> {
        self.bindings
            .iter()
            .filter(|b| b.layer == layer && b.action == action)
            .map(|b| b.key)
            .collect()
    }

    /// Bind `action` in `layer` to exactly `keys` (none: unbound there). Its other bindings in
    /// that layer go; the new ones take the place of the first old one (help keeps its order).
    pub fn rebind(&mut self, layer: Layer, action: Action, keys: &[Key]) {
        let at = self
            .bindings
            .iter()
            .position(|b| b.layer == layer && b.action == action)
            .unwrap_or(self.bindings.len());
        // Nothing before the first old binding is removed: `at` stays where it was.
        self.bindings
            .retain(|b| !(b.layer == layer && b.action == action));
        let new = keys.iter().map(|&key| Binding { layer, key, action });
        self.bindings.splice(at..at, new);
    }

    /// The first key bound to `action` (in any layer), as help writes it.
    pub fn key_of(&self, action: Action) -> Option<String> {
        self.bindings
            .iter()
            .find(|b| b.action == action)
            .map(|b| b.key.label())
    }

    /// Every (layer, action) with all its keys, in binding order: `(Global, "↑/k", Up)`.
    pub fn grouped(&self) -> Vec<(Layer, String, Action)> {
        let mut out: Vec<(Layer, Vec<String>, Action)> = Vec::new();
        for b in &self.bindings {
            match out.iter_mut().find(|(l, _, a)| *a == b.action && *l == b.layer) {
                Some((_, keys, _)) => keys.push(b.key.label()),
                None => out.push((b.layer, vec![b.key.label()], b.action)),
            }
        }
        out.into_iter()
            .map(|(l, keys, a)| (l, keys.join("/"), a))
            .collect()
    }

    /// Status bar hints: `q quit  ? help  Tab pane  ↑↓ move  G follow` (the first key of each
    /// hinted global action; actions sharing a hint word share the entry).
    pub fn hints(&self) -> Vec<(String, &'static str)> {
        let mut out: Vec<(String, &'static str, Vec<Action>)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.layer == Layer::Global) {
            let (k, a) = (b.key, b.action);
            let Some(h) = a.hint() else { continue };
            match out.iter_mut().find(|(_, w, _)| *w == h) {
                Some((keys, _, acts)) if !acts.contains(&a) => {
                    keys.push_str(&k.label());
                    acts.push(a);
                }
                Some(_) => {}
                None => out.push((k.label(), h, vec![a])),
            }
        }
        // Most important first.
        let order = [
            "quit", "help", "approve", "rollback", "palette", "pane", "move", "follow",
        ];
        out.sort_by_key(|(_, h, _)| order.iter().position(|o| o == h).unwrap_or(order.len()));
        out.into_iter().map(|(k, h, _)| (k, h)).collect()
    }
}
