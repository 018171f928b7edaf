//! The per-user settings file, `settings.toml` in the config directory (`FLIGHTDECK_SETTINGS`
//! names another file; empty: none): the bell, keys per keymap layer and colours per role.
//! Every mistake is reported as `file:line:col: message`, like plan files, and the cockpit does
//! not start with an invalid file. `assets/settings.example.toml` documents every setting.
//!
//! ```toml
//! bell = false
//! [keys.global]
//! approve = "A"                 # replaces the default keys of `approve` in that layer
//! down = ["j", "Down", "C-n"]
//! pager = "none"                # unbound (so is [])
//! [colors]
//! failed = "red"
//! running = "#3399ff"
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::Color;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::action::Action;
use super::keymap::{Binding, Key, Keymap, Layer};
use super::theme::{Palette, Role, Theme};
use crate::plan::{Problem, did_you_mean};

/// The environment variable naming the settings file (empty: no settings file at all).
pub const ENV: &str = "FLIGHTDECK_SETTINGS";

/// What the settings file says, applied over the defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Ring the terminal bell once when the release needs a person.
    pub bell: bool,
    pub keymap: Keymap,
    pub palette: Palette,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            path: None,
            bell: true,
            keymap: Keymap::default(),
            palette: Palette::default(),
        }
    }
}

impl Settings {
    /// The theme: these colours, or none under `NO_COLOR` (which wins).
    pub fn theme(&self) -> Theme {
        Theme {
            palette: self.palette,
            ..Theme::from_env()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Every problem, sorted by position, one `file:line:col: message` per line.
    #[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

/// The settings file to read: `FLIGHTDECK_SETTINGS` (empty: none), else `settings.toml` in the
/// platform's config directory for flightdeck. Whether it was named explicitly.
pub fn path() -> Option<(PathBuf, bool)> {
    match std::env::var_os(ENV) {
        Some(v) if v.is_empty() => None,
        Some(v) => Some((PathBuf::from(v), true)),
        None => directories::ProjectDirs::from("", "", "flightdeck")
            .map(|d| (d.config_dir().join("settings.toml"), false)),
    }
}

/// Read the settings: the defaults when there is no file at the default place; an error when
/// the file is invalid, unreadable, or named by `FLIGHTDECK_SETTINGS` and missing.
pub fn load() -> Result<Settings, SettingsError> {
    match path() {
        None => Ok(Settings::default()),
        Some((p, explicit)) => match crate::files::read_text_bounded(&p, crate::files::MAX_INPUT) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Settings::default()),
            Err(source) => Err(SettingsError::Io { path: p, source }),
            Ok(text) => parse(&text, &p),
        },
    }
}

/// Read and validate the settings file at `path`.
pub fn load_file(path: &Path) -> Result<Settings, SettingsError> {
    let text = crate::files::read_text_bounded(path, crate::files::MAX_INPUT).map_err(|source| {
        SettingsError::Io {
            path: path.to_path_buf(),
            source,
        }
    })?;
    parse(&text, path)
}

/// Validate settings text; `path` names the file in problems.
pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
    let mut issues: Vec<(usize, String)> = Vec::new();
    let (root, errors) = DeTable::parse_recoverable(text);
    let settings = if errors.is_empty() {
        let mut r = Reader {
            issues: &mut issues,
            settings: Settings {
                path: Some(path.to_path_buf()),
                ..Settings::default()
            },
        };
        r.file(root.get_ref());
        r.settings
    } else {
        let mut lines = Vec::new();
        for e in &errors {
            let at = e.span().map_or(0, |s| s.start).min(text.len());
            let line = text[..at].matches('\n').count();
            if !lines.contains(&line) {
                lines.push(line);
                let first = e.message().lines().next().unwrap_or("");
                issues.push((at, format!("invalid TOML: {first}")));
            }
        }
        Settings::default()
    };
    if issues.is_empty() {
        return Ok(settings);
    }
    issues.sort();
    issues.dedup();
    let problems = issues
        .into_iter()
        .map(|(at, message)| {
            let (line, col) = line_col(text, at);
            Problem {
                file: path.to_path_buf(),
                line,
                col,
                message,
            }
        })
        .collect();
    Err(SettingsError::Invalid { problems })
}

/// 1-based line and column (in characters) of byte `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_start = if line_start == 0 && before.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        line_start
    };
    (
        before.matches('\n').count() + 1,
        text[line_start..at].chars().count() + 1,
    )
}

type Entries<'a, 'i> = Vec<(&'a Spanned<std::borrow::Cow<'i, str>>, &'a Spanned<DeValue<'i>>)>;

/// A table's entries in file order.
fn entries<'a, 'i>(t: &'a DeTable<'i>) -> Entries<'a, 'i> {
    let mut v: Entries = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("string {s:?}"),
        DeValue::Integer(i) => format!("integer {i}"),
        DeValue::Float(_) => "float".into(),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(_) => "date-time".into(),
        DeValue::Array(_) => "array".into(),
        DeValue::Table(_) => "table".into(),
    }
}

fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// One user binding, for conflict reports.
struct UserKey {
    layer: Layer,
    action: Action,
    key: Key,
    at: usize,
}

struct Reader<'a> {
    issues: &'a mut Vec<(usize, String)>,
    settings: Settings,
}

impl Reader<'_> {
    fn report(&mut self, at: usize, message: impl Into<String>) {
        self.issues.push((at, message.into()));
    }

    fn file(&mut self, root: &DeTable<'_>) {
        for (k, v) in entries(root) {
            let at = v.span().start;
            match k.get_ref().as_ref() {
                "bell" => match v.get_ref() {
                    DeValue::Boolean(b) => self.settings.bell = *b,
                    other => self.report(
                        at,
                        format!("bell: expected true or false, found {}", describe(other)),
                    ),
                },
                "keys" => match v.get_ref() {
                    DeValue::Table(t) => self.keys(t),
                    other => self.report(at, format!("keys: expected a table, found {}", describe(other))),
                },
                "colors" => match v.get_ref() {
                    DeValue::Table(t) => self.colors(t),
                    other => self.report(at, format!("colors: expected a table, found {}", describe(other))),
                },
                name => {
                    let h = hint(name, ["bell", "keys", "colors"]);
                    self.report(k.span().start, format!("unknown key `{name}` at top level{h}"));
                }
            }
        }
    }

    fn keys(&mut self, keys: &DeTable<'_>) {
        let mut user: Vec<UserKey> = Vec::new();
        // Where each (layer, action) was set, for "no way to quit" reports.
        let mut set_at: HashMap<(Layer, Action), usize> = HashMap::new();
        for (lk, lv) in entries(keys) {
            let lname = lk.get_ref().as_ref();
            let Some(layer) = Layer::from_name(lname) else {
                let h = hint(lname, Layer::ALL.map(Layer::name));
                self.report(lk.span().start, format!("unknown layer `{lname}` in [keys]{h}"));
                continue;
            };
            let DeValue::Table(t) = lv.get_ref() else {
                let found = describe(lv.get_ref());
                self.report(
                    lv.span().start,
                    format!("keys.{lname}: expected a table of action = key(s), found {found}"),
                );
                continue;
            };
            for (ak, av) in entries(t) {
                let aname = ak.get_ref().as_ref();
                let Some(action) = Action::from_name(aname) else {
                    let names: Vec<String> = Action::ALL.iter().map(|a| a.name()).collect();
                    let h = hint(aname, names.iter().map(String::as_str));
                    self.report(
                        ak.span().start,
                        format!("unknown action `{aname}` in [keys.{lname}]{h}"),
                    );
                    continue;
                };
                let values: Vec<&Spanned<DeValue>> = match av.get_ref() {
                    DeValue::String(s) if s == "none" => Vec::new(),
                    DeValue::String(_) => vec![av],
                    DeValue::Array(a) => a.iter().collect(),
                    other => {
                        let found = describe(other);
                        self.report(
                            av.span().start,
                            format!("keys.{lname}.{aname}: expected a key or a list of keys, found {found}"),
                        );
                        continue;
                    }
                };
                let mut bound: Vec<Key> = Vec::new();
                let mut ok = true;
                for v in values {
                    let DeValue::String(s) = v.get_ref() else {
                        let found = describe(v.get_ref());
                        self.report(
                            v.span().start,
                            format!("keys.{lname}.{aname}: expected a key, found {found}"),
                        );
                        ok = false;
                        continue;
                    };
                    match Key::parse(s) {
                        Ok(k) => {
                            if !bound.contains(&k) {
                                bound.push(k);
                                user.push(UserKey {
                                    layer,
                                    action,
                                    key: k,
                                    at: v.span().start,
                                });
                            }
                        }
                        Err(e) => {
                            self.report(v.span().start, format!("{e} (for `{aname}` in [keys.{lname}])"));
                            ok = false;
                        }
                    }
                }
                if ok {
                    set_at.insert((layer, action), av.span().start);
                    self.settings.keymap.rebind(layer, action, &bound);
                }
            }
        }
        self.conflicts(&user);
        self.escapes(&user, &set_at);
    }

    /// A key bound to two actions in one layer.
    fn conflicts(&mut self, user: &[UserKey]) {
        let km = &self.settings.keymap;
        let mut found = Vec::new();
        for (i, u) in user.iter().enumerate() {
            let others: Vec<Action> = km
                .bindings
                .iter()
                .filter(|b| b.layer == u.layer && b.key == u.key && b.action != u.action)
                .map(|b| b.action)
                .collect();
            for other in others {
                // Between two bindings of the file: reported once, at the later one.
                let earlier = user[..i]
                    .iter()
                    .any(|e| e.layer == u.layer && e.key == u.key && e.action == other);
                let later = user[i + 1..]
                    .iter()
                    .any(|e| e.layer == u.layer && e.key == u.key && e.action == other);
                if later {
                    continue;
                }
                let whose = if earlier { "" } else { " (its default key)" };
                found.push((
                    u.at,
                    format!(
                        "`{}` is bound to both `{}`{whose} and `{}` in [keys.{}]: bind one of them to another key or \"none\"",
                        u.key.label(),
                        other.name(),
                        u.action.name(),
                        u.layer.name()
                    ),
                ));
            }
        }
        for (at, m) in found {
            self.report(at, m);
        }
    }

    /// Some key must still quit in every pane, and close the help overlay.
    fn escapes(&mut self, user: &[UserKey], set_at: &HashMap<(Layer, Action), usize>) {
        let km = self.settings.keymap.clone();
        let quit = km.keys(Layer::Global, Action::Quit);
        if quit.is_empty() {
            let at = set_at.get(&(Layer::Global, Action::Quit)).copied().unwrap_or(0);
            self.report(
                at,
                "`quit` needs a key in [keys.global]: without one nothing quits the cockpit",
            );
        } else {
            let panes = [
                (vec![Layer::Board], "the board has the focus"),
                (vec![Layer::Pipeline], "the pipeline has the focus"),
                (vec![Layer::Output], "an output pane has the focus"),
                (
                    vec![Layer::Checklist],
                    "the checklist or drift pane has the focus",
                ),
                (vec![Layer::Search, Layer::Output], "an output pane searches"),
            ];
            for (layers, when) in panes {
                let ours = |b: &&Binding| layers.contains(&b.layer);
                // A pane layer may bind `quit` itself; else some global quit key must get through.
                let quits_itself = km.bindings.iter().filter(ours).any(|b| b.action == Action::Quit);
                let hidden = |k: &Key| {
                    km.bindings
                        .iter()
                        .filter(ours)
                        .any(|b| b.key == *k && b.action != Action::Quit)
                };
                if !quits_itself && quit.iter().all(hidden) {
                    let last = user
                        .iter()
                        .filter(|u| layers.contains(&u.layer) && quit.contains(&u.key))
                        .max_by_key(|u| u.at);
                    if let Some(u) = last {
                        self.report(
                            u.at,
                            format!(
                                "`{}` in [keys.{}] hides `quit`: no key would quit while {when}",
                                u.key.label(),
                                u.layer.name()
                            ),
                        );
                    }
                }
            }
        }
        let closes = [Action::Back, Action::Help];
        if closes.iter().all(|a| km.keys(Layer::Global, *a).is_empty()) {
            let at = closes
                .iter()
                .filter_map(|a| set_at.get(&(Layer::Global, *a)))
                .max()
                .copied()
                .unwrap_or(0);
            self.report(
                at,
                "`back` and `help` cannot both be unbound in [keys.global]: no key would close the help overlay",
            );
        }
    }

    fn colors(&mut self, colors: &DeTable<'_>) {
        for (k, v) in entries(colors) {
            let name = k.get_ref().as_ref();
            let Some(role) = Role::from_name(name) else {
                let h = hint(name, Role::ALL.map(Role::name));
                self.report(
                    k.span().start,
                    format!("unknown colour role `{name}` in [colors]{h}"),
                );
                continue;
            };
            let color = match v.get_ref() {
                DeValue::String(s) => Color::from_str(s).map_err(|_| {
                    let h = hint(s, COLOR_NAMES.iter().copied());
                    format!(
                        "unknown colour `{s}` for `{name}`: use a name (red, light_blue, dark_gray, ...), \
                         \"#rrggbb\" or a number 0-255{h}"
                    )
                }),
                DeValue::Integer(i) => i
                    .as_str()
                    .parse::<u8>()
                    .ok()
                    .filter(|_| i.radix() == 10)
                    .map(Color::Indexed)
                    .ok_or_else(|| {
                        format!("unknown colour {i} for `{name}`: colour numbers go from 0 to 255")
                    }),
                other => Err(format!(
                    "colors.{name}: expected a colour name, \"#rrggbb\" or a number 0-255, found {}",
                    describe(other)
                )),
            };
            match color {
                Ok(c) => self.settings.palette.set(role, c),
                Err(m) => self.report(v.span().start, m),
            }
        }
    }
}

/// Colour names, for did-you-mean (ratatui also takes `light red`, `lightred`, `grey`, ...).
pub const COLOR_NAMES: [&str; 17] = [
    "reset",
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "dark_gray",
    "light_red",
    "light_green",
    "light_yellow",
    "light_blue",
    "light_magenta",
    "light_cyan",
    "white",
];
