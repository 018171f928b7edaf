//! The cockpit's view of what runs where, on releases made by the real binary: the environments
//! pane names the live release of each environment and target, the board marks where each
//! release is live, and `H` opens the selected environment's history as an overlay.

use crate::common;
use crate::screen;

use std::sync::Arc;

use common::Workspace;
use flightdeck::engine::envs::env_history;
use flightdeck::engine::history::History;
use flightdeck::journal::Store;
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::modal::Modal;
use flightdeck::tui::source::load_board_and_places;
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;

const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "stage"
environment = "staging"
run = "true"

[[stage]]
id = "prod"
needs = ["stage"]
environment = "prod"
run = "test ! -f fail-{target}-{version}"
"#;

fn cockpit(ws: &Workspace) -> UiState {
    let store = Store { root: ws.data_dir() };
    let plan = flightdeck::plan::load(&ws.file("flightdeck.toml")).unwrap();
    let (rows, places) = load_board_and_places(&store, "shop", 50, Some(&plan));
    let mut ui = UiState::new(Keymap::default(), Theme::new(false));
    ui.plan = Some(Arc::new(plan));
    ui.update(Msg::Resize(160, 48));
    ui.update(Msg::Board(rows));
    ui.update(Msg::Places(Arc::new(places)));
    ui
}

#[test]
fn the_environments_pane_and_the_board_say_what_is_live_where() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    // 1.2 fails on prod/us: eu keeps 1.2, us keeps 1.1 (no rollback here).
    ws.touch("fail-us-1.2");
    ws.expect(["run", "1.2"], 1);
    let ui = cockpit(&ws);
    let text = screen::text(&screen::draw(&ui, 160, 48));
    // The environments pane (no drift snapshot: the plan's environments with their live release).
    assert!(text.contains("staging") && text.contains("live 1.2"), "{text}");
    assert!(text.contains("prod/eu  live 1.2"), "{text}");
    assert!(text.contains("prod  live: mixed"), "{text}");
    assert!(text.contains("prod/us  live 1.1"), "{text}");
    assert!(text.contains("live: mixed"), "{text}");
    // The board: 1.2 is live on staging and prod/eu, 1.1 on prod/us, 1.0 nowhere.
    assert!(text.contains("▲ staging, prod/eu"), "{text}");
    assert!(text.contains("▲ prod/us"), "{text}");
    assert_eq!(text.matches('▲').count(), 2, "{text}");
}

#[test]
fn h_opens_the_selected_environments_history() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.touch("fail-us-1.1");
    ws.expect(["run", "1.1"], 1);
    let mut ui = cockpit(&ws);
    let fx = ui.update(screen::key('H'));
    // No drift snapshot: the plan's first environment.
    assert_eq!(fx, [Effect::EnvHistory("staging".into())]);
    assert!(matches!(&ui.modal, Some(Modal::EnvHistory(h)) if h.rows.is_none()));
    let text = screen::text(&screen::draw(&ui, 160, 48));
    assert!(
        text.contains("History of staging") && text.contains("loading"),
        "{text}"
    );

    // What the source answers (the same function it calls).
    let store = Store { root: ws.data_dir() };
    let h = History::open(&store, "shop").unwrap();
    let rows = env_history(&h, "prod", 200);
    ui.update(Msg::EnvHistory {
        env: "staging".into(),
        rows: Ok(env_history(&h, "staging", 200)),
    });
    let text = screen::text(&screen::draw(&ui, 160, 48));
    // The overlay's rows: a line per release, newest first, with who started it.
    let rows_shown: Vec<&str> = text.lines().filter(|l| l.contains(" by ")).collect();
    assert_eq!(rows_shown.len(), 2, "{text}");
    assert!(
        rows_shown[0].contains("1.1") && rows_shown[0].contains("succeeded"),
        "{text}"
    );
    assert!(
        rows_shown[1].contains("1.0") && rows_shown[1].contains("succeeded"),
        "{text}"
    );
    // An answer for another environment is not shown here.
    ui.update(Msg::EnvHistory {
        env: "prod".into(),
        rows: Ok(rows),
    });
    let text = screen::text(&screen::draw(&ui, 160, 48));
    assert!(text.contains("History of staging"), "{text}");
    assert!(
        !text.lines().any(|l| l.contains(" by ") && l.contains("failed")),
        "{text}"
    );
    assert!(
        text.contains("↑/↓ select, P redeploys the selected version, Esc closes"),
        "{text}"
    );
    // ↓ selects the older release; P offers to redeploy its version there (the same
    // confirmation as from the environment's row follows the source's answer).
    ui.update(screen::code(crossterm::event::KeyCode::Down));
    assert!(matches!(&ui.modal, Some(Modal::EnvHistory(h)) if h.selected == 1));
    ui.update(screen::code(crossterm::event::KeyCode::Down));
    assert!(
        matches!(&ui.modal, Some(Modal::EnvHistory(h)) if h.selected == 1),
        "the selection stays on the last row"
    );
    assert_eq!(
        ui.update(screen::key('P')),
        [Effect::PlanRedeploy {
            env: "staging".into(),
            version: Some("1.0".into())
        }]
    );
    assert!(ui.modal.is_none());
    // Esc closes it.
    ui.update(screen::key('H'));
    assert!(ui.modal.is_some());
    ui.update(screen::code(crossterm::event::KeyCode::Esc));
    assert!(ui.modal.is_none());
}
