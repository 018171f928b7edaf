//! `NO_COLOR` as <https://no-color.org> says, through the binary in a real terminal (tmux): a
//! non-empty value turns colour off, an empty one does not, the same for the CLI and the cockpit.

use crate::common;

use common::Workspace;
use common::tmux::{self, Tmux};

const PLAN: &str = r#"
[plan]
name = "colors"

[[stage]]
id = "paint"
run = '''printf '\033[31mred words\033[0m\n' '''
"#;

/// The screen of `flightdeck ARGS` run with `env` in a terminal, with its colours (SGR codes).
fn screen(ws: &Workspace, name: &str, args: &str, env: &str, until: &str) -> String {
    let t = Tmux::new(name);
    t.start(ws, args, env, (100, 20));
    t.wait_for(until);
    let out = t
        .cmd()
        .args(["capture-pane", "-e", "-p", "-t", "cockpit"])
        .output()
        .expect("tmux capture-pane -e");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_color_with_a_value_turns_colour_off_and_an_empty_one_does_not() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    // `logs` keeps a child's colour on a terminal.
    let coloured = screen(&ws, "nc-empty", "logs 1.0 paint", "NO_COLOR=", "=DONE=");
    assert!(
        coloured.contains("red words") && coloured.contains("\u{1b}[31m"),
        "NO_COLOR='' (empty) keeps colour: {coloured:?}"
    );
    let plain = screen(&ws, "nc-set", "logs 1.0 paint", "NO_COLOR=1", "=DONE=");
    assert!(plain.contains("red words"), "{plain:?}");
    assert!(
        !plain.contains("\u{1b}[31m"),
        "NO_COLOR=1 turns colour off: {plain:?}"
    );
    // The cockpit follows the same rule.
    let cockpit = |name: &str, env: &str| {
        let t = Tmux::new(name);
        t.start(&ws, "cockpit 1.0", env, (100, 30));
        t.wait_for("red words");
        let out = t
            .cmd()
            .args(["capture-pane", "-e", "-p", "-t", "cockpit"])
            .output()
            .expect("tmux capture-pane -e");
        t.keys(&["q"]);
        t.wait_for("=DONE=");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let on = cockpit("nc-cockpit-empty", "NO_COLOR=");
    let off = cockpit("nc-cockpit-set", "NO_COLOR=x");
    assert!(
        sets_foreground(&on),
        "the cockpit with NO_COLOR='' has colour: {on:?}"
    );
    assert!(
        !sets_foreground(&off),
        "the cockpit with NO_COLOR=x has none: {off:?}"
    );
}

/// Whether any SGR sequence of the screen sets a foreground colour (30-37, 90-97, or 38;...),
/// as opposed to resets (39) and attributes (bold, reverse).
fn sets_foreground(s: &str) -> bool {
    s.split('\u{1b}')
        .filter_map(|seq| seq.strip_prefix('['))
        .any(|seq| {
            let Some(params) = seq.split_once('m').map(|(p, _)| p) else {
                return false;
            };
            params.split(';').any(|p| {
                p.parse::<u32>()
                    .is_ok_and(|n| (30..=38).contains(&n) || (90..=97).contains(&n))
            })
        })
}
