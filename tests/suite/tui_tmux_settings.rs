//! The cockpit end to end under tmux with a settings file and the mouse: an override shows in
//! the hints and help and is the key that works; a click (an SGR mouse report written into the
//! pane, as a terminal sends it) selects a stage; `m` hands the mouse back to the terminal.

use crate::common;

use common::Workspace;
use common::tmux::{Tmux, assert_restored};

const PLAN: &str = r#"
[plan]
name = "cockpit-settings"

[gates.signoff]
approvals = 1
checklist = []

[[stage]]
id = "compile"
run = "echo compiled-output-here"

[[stage]]
id = "ship"
needs = ["compile"]
gate = "signoff"
run = "echo shipped {version}"
"#;

#[test]
fn a_settings_override_is_the_key_help_and_hints_show() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("1.0.0");
    let settings = ws.path().join("settings.toml");
    std::fs::write(
        &settings,
        "bell = false\n[keys.global]\nquit = \"Q\"\nhelp = \"F1\"\n",
    )
    .unwrap();
    let tmux = Tmux::new("settings");
    tmux.start(
        &ws,
        "cockpit",
        &format!("FLIGHTDECK_SETTINGS='{}'", settings.display()),
        (160, 40),
    );
    let screen = tmux.wait_for("Q quit");
    assert!(screen.contains("F1 help"), "{screen}");
    tmux.keys(&["F1"]);
    tmux.wait_for("Keys (Esc or F1 closes)");
    let help = tmux.wait_for("quit (the release goes on");
    let quit_line = help.lines().find(|l| l.contains("quit (the release")).unwrap();
    assert!(
        quit_line.contains('Q') && !quit_line.contains("q/"),
        "{quit_line}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_gone("Keys (Esc");
    // `q` is nobody's key now: the cockpit stays; `Q` quits.
    tmux.keys(&["q"]);
    tmux.keys(&["Q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert_restored(&after);
}

#[test]
fn a_click_selects_a_stage_and_m_gives_the_mouse_back() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("2.0.0");
    let tmux = Tmux::new("mouse");
    tmux.start(&ws, "cockpit", "", (200, 40));
    // compile ran last: it is selected and its output shows.
    let screen = tmux.wait_for("compiled-output-here");
    common::poll_until(common::DEADLINE, || tmux.mouse_flags() == "1 1");
    assert_eq!(tmux.mouse_flags(), "1 1", "mouse capture is on");
    let click = |screen: &str, needle: &str, line_has: &str| {
        let (y, line) = screen
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(needle) && l.contains(line_has))
            .unwrap_or_else(|| panic!("no {needle:?} line:\n{screen}"));
        let x = line[..line.find(needle).unwrap()].chars().count();
        // SGR report of a left press and release at 1-based column;row.
        tmux.type_text(&format!(
            "\x1b[<0;{};{}M\x1b[<0;{};{}m",
            x + 1,
            y + 1,
            x + 1,
            y + 1
        ));
    };
    click(&screen, "ship", "at gate");
    tmux.wait_gone("compiled-output-here");
    let screen = tmux.capture();
    click(&screen, "compile", "succeeded");
    tmux.wait_for("compiled-output-here");
    // m: the terminal selects text again, and the status bar says so.
    tmux.keys(&["m"]);
    tmux.wait_for("mouse off: select text with the terminal; m turns it back on");
    assert_eq!(tmux.mouse_flags(), "0 0");
    tmux.keys(&["m"]);
    tmux.wait_gone("mouse off");
    assert_eq!(tmux.mouse_flags(), "1 1");
    // A resize redraws at the new size: the narrow layout's tabs.
    let status = tmux
        .cmd()
        .args(["resize-window", "-t", "cockpit", "-x", "80", "-y", "24"])
        .status()
        .unwrap();
    assert!(status.success());
    tmux.wait_for("1 Board");
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert_restored(&after);
    assert_eq!(tmux.mouse_flags(), "0 0", "mouse capture left on after quitting");
}
