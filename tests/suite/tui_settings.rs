//! The settings file: the example documents everything and loads to the defaults; every mistake
//! is reported as `file:line:col: message`; overrides reach the keymap, help and hints, and the
//! colours; the binary refuses to start the cockpit on an invalid file (exit 2).

use crate::common;

use std::path::{Path, PathBuf};

use crossterm::event::KeyCode;
use flightdeck::tui::action::Action;
use flightdeck::tui::app::Msg;
use flightdeck::tui::keymap::{Key, Keymap, Layer};
use flightdeck::tui::settings::{self, Settings, SettingsError};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::{Palette, Role};
use ratatui::style::Color;

/// The whole screen as text, drawn with a fixed clock.
fn render_text(ui: &UiState, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| flightdeck::tui::views::render(f, ui, crate::fixture::now()))
        .unwrap();
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/settings.example.toml")
}

#[test]
fn the_example_loads_to_exactly_the_defaults() {
    let s = settings::load_file(&example_path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.bell);
    assert_eq!(s.keymap.bindings, Keymap::default().bindings);
    assert_eq!(s.palette, Palette::default());
}

#[test]
fn the_example_mentions_every_action_layer_and_colour() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let has = |word: &str| {
        text.lines()
            .any(|l| l.trim_start_matches(['#', ' ']).starts_with(&format!("{word} =")))
    };
    for a in Action::ALL {
        assert!(has(&a.name()), "the example does not bind `{}`", a.name());
    }
    for l in Layer::ALL {
        assert!(
            text.contains(&format!("[keys.{}]", l.name())),
            "the example has no [keys.{}]",
            l.name()
        );
    }
    for r in Role::ALL {
        assert!(
            has(r.name()),
            "the example does not set the colour `{}`",
            r.name()
        );
    }
}

/// Write `text` as a settings file and return the problems, `{file}` standing for its path.
fn problems(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, text).unwrap();
    match settings::load_file(&path) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e @ SettingsError::Invalid { .. }) => {
            e.to_string().replace(&path.display().to_string(), "{file}")
        }
        Err(e) => panic!("{e}"),
    }
}

fn load(text: &str) -> Settings {
    settings::parse(text, Path::new("settings.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn unknown_names_are_reported_with_a_did_you_mean() {
    let got = problems(
        "bel = true\n\
         [keys.globl]\n\
         approve = \"A\"\n\
         [keys.global]\n\
         aprove = \"A\"\n\
         frobnicate = \"x\"\n\
         [colors]\n\
         faild = \"red\"\n\
         running = \"reddish\"\n",
    );
    assert_eq!(
        got,
        "{file}:1:1: unknown key `bel` at top level; did you mean `bell`?\n\
         {file}:2:7: unknown layer `globl` in [keys]; did you mean `global`?\n\
         {file}:5:1: unknown action `aprove` in [keys.global]; did you mean `approve`?\n\
         {file}:6:1: unknown action `frobnicate` in [keys.global]\n\
         {file}:8:1: unknown colour role `faild` in [colors]; did you mean `failed`?\n\
         {file}:9:11: unknown colour `reddish` for `running`: use a name (red, light_blue, dark_gray, ...), \
         \"#rrggbb\" or a number 0-255; did you mean `red`?"
    );
}

#[test]
fn bad_keys_and_types_are_reported() {
    let got = problems(
        "bell = \"yes\"\n\
         [keys.global]\n\
         approve = \"Ctrl+a\"\n\
         down = [\"j\", 3]\n\
         up = 5\n\
         [colors]\n\
         failed = 300\n",
    );
    assert_eq!(
        got,
        "{file}:1:8: bell: expected true or false, found string \"yes\"\n\
         {file}:3:11: unparsable key `Ctrl+a`: write a character (`a`, `A`, `?`), a name (Up, Down, Left, \
         Right, Enter, Esc, Tab, S-Tab, Space, Backspace, Del, Ins, Home, End, PgUp, PgDn, F1..F12) or C- and \
         one of those (`C-n`) (for `approve` in [keys.global])\n\
         {file}:4:14: keys.global.down: expected a key, found integer 3\n\
         {file}:5:6: keys.global.up: expected a key or a list of keys, found integer 5\n\
         {file}:7:10: unknown colour 300 for `failed`: colour numbers go from 0 to 255"
    );
}

#[test]
fn invalid_toml_is_reported_like_plans() {
    assert_eq!(
        problems("[keys.global]\napprove = \"A\nbell = true\n"),
        "{file}:2:13: invalid TOML: invalid basic string, expected `\"`"
    );
}

#[test]
fn a_key_bound_twice_in_a_layer_is_refused() {
    let got = problems(
        "[keys.global]\n\
         approve = \"n\"\n\
         [keys.output]\n\
         follow = \"x\"\n\
         zoom = [\"Z\", \"x\"]\n",
    );
    assert_eq!(
        got,
        "{file}:2:11: `n` is bound to both `new-release` (its default key) and `approve` in [keys.global]: \
         bind one of them to another key or \"none\"\n\
         {file}:5:14: `x` is bound to both `follow` and `zoom` in [keys.output]: bind one of them to another \
         key or \"none\""
    );
    // The same key in two layers is fine: the pane's layer comes first.
    let s = load("[keys.output]\nfollow = \"n\"\n");
    assert_eq!(
        s.keymap.lookup(&[Layer::Output], Key::ch('n')),
        Some(Action::Follow)
    );
    assert_eq!(
        s.keymap.lookup(&[Layer::Board], Key::ch('n')),
        Some(Action::NewRelease)
    );
}

#[test]
fn a_way_to_quit_and_to_close_help_must_remain() {
    assert_eq!(
        problems("[keys.global]\nquit = \"none\"\n"),
        "{file}:2:8: `quit` needs a key in [keys.global]: without one nothing quits the cockpit"
    );
    assert_eq!(
        problems("[keys.global]\nquit = []\n"),
        "{file}:2:8: `quit` needs a key in [keys.global]: without one nothing quits the cockpit"
    );
    assert_eq!(
        problems("[keys.global]\nback = \"none\"\nhelp = []\n"),
        "{file}:3:8: `back` and `help` cannot both be unbound in [keys.global]: no key would close the help \
         overlay"
    );
    assert_eq!(
        problems("[keys.global]\nquit = \"Q\"\n[keys.board]\nopen = \"Q\"\n"),
        "{file}:4:8: `Q` in [keys.board] hides `quit`: no key would quit while the board has the focus"
    );
    assert_eq!(
        problems("[keys.search]\nsearch-next = [\"q\", \"n\"]\nsearch-prev = [\"C-c\", \"N\"]\n"),
        "{file}:3:16: `C-c` in [keys.search] hides `quit`: no key would quit while an output pane searches"
    );
    // One of them is enough.
    load("[keys.global]\nback = \"none\"\n");
    load("[keys.board]\nopen = \"q\"\n");
    // A pane that binds `quit` itself keeps a way out.
    load("[keys.board]\nopen = [\"q\", \"C-c\"]\nquit = \"x\"\n");
}

#[test]
fn overrides_replace_the_keys_of_an_action_in_its_layer() {
    let s = load(
        "bell = false\n\
         [keys.global]\n\
         approve = \"A\"\n\
         down = [\"j\", \"Down\", \"C-n\"]\n\
         pager = \"none\"\n\
         quit = \"Q\"\n\
         [colors]\n\
         failed = \"#3399ff\"\n\
         running = 42\n\
         border_focus = \"light blue\"\n",
    );
    assert!(!s.bell);
    let km = &s.keymap;
    assert_eq!(km.keys(Layer::Global, Action::Approve), vec![Key::ch('A')]);
    assert_eq!(km.lookup(&[], Key::ch('a')), None);
    assert_eq!(
        km.keys(Layer::Global, Action::Down),
        vec![Key::ch('j'), Key::plain(KeyCode::Down), Key::ctrl('n')]
    );
    assert!(km.keys(Layer::Global, Action::Pager).is_empty());
    assert_eq!(km.lookup(&[], Key::ch('q')), None);
    assert_eq!(km.lookup(&[], Key::ch('Q')), Some(Action::Quit));
    // Help keeps its order: approve where it was.
    let order: Vec<Action> = km.grouped().into_iter().map(|(_, _, a)| a).collect();
    let default: Vec<Action> = Keymap::default()
        .grouped()
        .into_iter()
        .map(|(_, _, a)| a)
        .filter(|a| *a != Action::Pager)
        .collect();
    assert_eq!(order, default);
    assert_eq!(s.palette.get(Role::Failed), Color::Rgb(0x33, 0x99, 0xff));
    assert_eq!(s.palette.get(Role::Running), Color::Indexed(42));
    assert_eq!(s.palette.get(Role::BorderFocus), Color::LightBlue);
    assert_eq!(s.palette.get(Role::Succeeded), Color::Green);
}

#[test]
fn keys_parse_as_help_writes_them() {
    for (text, key) in [
        ("a", Key::ch('a')),
        ("A", Key::ch('A')),
        ("?", Key::ch('?')),
        ("Space", Key::ch(' ')),
        ("down", Key::plain(KeyCode::Down)),
        ("↑", Key::plain(KeyCode::Up)),
        ("PgDn", Key::plain(KeyCode::PageDown)),
        ("PageUp", Key::plain(KeyCode::PageUp)),
        ("S-Tab", Key::plain(KeyCode::BackTab)),
        ("F5", Key::plain(KeyCode::F(5))),
        ("C-n", Key::ctrl('n')),
        ("C-N", Key::ctrl('n')),
        ("Esc", Key::plain(KeyCode::Esc)),
    ] {
        assert_eq!(Key::parse(text), Ok(key), "{text}");
    }
    for bad in ["", "Ctrl+a", "C-", "C-C-a", "F13", "ab", "\u{7}"] {
        assert!(Key::parse(bad).is_err(), "{bad:?} parsed");
    }
    // Every label help shows parses back to its key.
    for b in Keymap::default().bindings {
        assert_eq!(Key::parse(&b.key.label()), Ok(b.key), "{}", b.key.label());
    }
}

#[test]
fn no_color_wins_over_colours() {
    let s = load("[colors]\nfailed = \"blue\"\n");
    let theme = s.theme();
    // `theme()` honours NO_COLOR from the environment; here the colour choice itself.
    let mut plain = theme;
    plain.color = false;
    let g = flightdeck::tui::theme::Glyph::Failed;
    assert_eq!(plain.glyph(g).fg, None);
    let mut colored = theme;
    colored.color = true;
    assert_eq!(colored.glyph(g).fg, Some(Color::Blue));
}

#[test]
fn help_and_hints_show_overridden_keys() {
    let s = load("[keys.global]\nquit = \"Q\"\napprove = [\"A\", \"C-a\"]\n");
    let theme = s.theme();
    let mut ui = UiState::new(s.keymap, theme);
    ui.update(Msg::Resize(160, 40));
    let hints = ui.keymap.hints();
    assert!(hints.contains(&("Q".to_string(), "quit")), "{hints:?}");
    assert!(hints.contains(&("A".to_string(), "approve")), "{hints:?}");
    let screen = render_text(&ui, 160, 40);
    let bar = screen.lines().last().unwrap();
    assert!(bar.contains("Q quit"), "{bar}");
    assert!(bar.contains("A approve"), "{bar}");
    ui.update(Msg::Key(crossterm::event::KeyEvent::from(KeyCode::Char('?'))));
    let help = render_text(&ui, 160, 40);
    assert!(help.contains("A/C-a"), "{help}");
    assert!(help.contains("approve the selected gate"), "{help}");
    assert!(!help.contains("q/C-c"), "{help}");
    // `q` does nothing now; `Q` quits.
    ui.update(Msg::Key(crossterm::event::KeyEvent::from(KeyCode::Esc)));
    ui.update(Msg::Key(crossterm::event::KeyEvent::from(KeyCode::Char('q'))));
    assert_eq!(ui.quit, None);
    ui.update(Msg::Key(crossterm::event::KeyEvent::from(KeyCode::Char('Q'))));
    assert_eq!(ui.quit, Some(0));
}

#[test]
fn the_cockpit_refuses_an_invalid_settings_file() {
    let ws = common::Workspace::new("[plan]\nname = \"s\"\n\n[[stage]]\nid = \"a\"\nrun = \"true\"\n");
    let file = ws.path().join("my-settings.toml");
    std::fs::write(&file, "[keys.global]\nquit = \"none\"\n").unwrap();
    let out = ws
        .flightdeck(["cockpit"])
        .env(settings::ENV, &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}:2:8: `quit` needs a key in [keys.global]: without one nothing quits the cockpit\n",
            file.display()
        )
    );
    // A file named explicitly must exist.
    let missing = ws.path().join("nope.toml");
    let out = ws
        .flightdeck(["cockpit"])
        .env(settings::ENV, &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!("{}: ", missing.display())),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
