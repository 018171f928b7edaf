//! The cockpit's reducer (test layer 1): `UiState::update` on messages, asserting state and
//! effects. No terminal, no runtime.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::engine::event::{Event, FinalState};
use flightdeck::engine::output::{LineKind, LogLineRef};
use flightdeck::tui::action::Action;
use flightdeck::tui::app::{Effect, Focus, Msg, RING_LINES, UiState};
use flightdeck::tui::fixture::{self, Journal};
use flightdeck::tui::keymap::{Key, Keymap, Layer};
use flightdeck::tui::theme::Theme;

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}
fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn fresh(size: (u16, u16)) -> UiState {
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    ui.update(Msg::Resize(size.0, size.1));
    ui
}

fn push_lines(ui: &mut UiState, n: usize) {
    for i in 0..n {
        let text = format!("line {i}");
        ui.output.push(LogLineRef {
            t_ms: 0,
            kind: LineKind::Stdout,
            text: text.as_bytes(),
            truncated: false,
        });
    }
}

#[test]
fn records_select_the_running_target_and_follow_its_log() {
    let mut ui = fresh((160, 40));
    let fx = ui.update(Msg::Records(fixture::mid_run().records));
    assert_eq!(ui.release.id, "2.4.0");
    assert_eq!(ui.release.stages[ui.stage].decl.id, "deploy-eu");
    assert_eq!(ui.release.stages[ui.stage].targets[ui.target].label(), "eu-5");
    assert_eq!(
        fx,
        vec![Effect::FollowLog(Some("logs/deploy-eu.eu-5.1.log".into()))]
    );
    assert_eq!(ui.output.log.as_deref(), Some("logs/deploy-eu.eu-5.1.log"));
    // Same selection again: nothing to do.
    assert!(ui.update(Msg::Tick).is_empty());
}

#[test]
fn moving_the_selection_switches_the_log_and_stops_auto_selection() {
    let mut ui = fresh((160, 40));
    ui.update(Msg::Records(fixture::mid_run().records));
    let fx = ui.update(key('k'));
    assert_eq!(ui.release.stages[ui.stage].decl.id, "test");
    assert_eq!(fx, vec![Effect::FollowLog(Some("logs/test.1.log".into()))]);
    assert!(!ui.auto_select);
    // New records no longer move the selection.
    let mut j = Journal::default();
    j.push(
        300,
        "driver",
        Event::StageSucceeded {
            stage: "deploy-eu".into(),
        },
    );
    let mut recs = j.records;
    recs[0].seq = 100;
    ui.update(Msg::Records(recs));
    assert_eq!(ui.release.stages[ui.stage].decl.id, "test");
    // Down twice: deploy-eu, first target; l moves along its targets.
    ui.update(key('j'));
    assert_eq!(ui.release.stages[ui.stage].decl.id, "deploy-eu");
    assert_eq!(ui.target, 0);
    let fx = ui.update(key('l'));
    assert_eq!(ui.target, 1);
    assert_eq!(
        fx,
        vec![Effect::FollowLog(Some("logs/deploy-eu.eu-2.1.log".into()))]
    );
    ui.update(code(KeyCode::Left));
    ui.update(code(KeyCode::Left));
    assert_eq!(ui.target, 0, "stops at the first target");
    // A pending target has no log yet.
    for _ in 0..10 {
        ui.update(key('l'));
    }
    assert_eq!(ui.target, 5, "stops at the last target");
    assert_eq!(ui.output.log, None);
    // Down past the end stays on the last stage.
    for _ in 0..10 {
        ui.update(key('j'));
    }
    assert_eq!(ui.release.stages[ui.stage].decl.id, "promote");
}

#[test]
fn scrolling_up_stops_following_and_counts_new_lines() {
    let mut ui = fresh((160, 40));
    ui.update(Msg::Records(fixture::mid_run().records));
    let log = ui.output.log.clone().unwrap();
    push_lines(&mut ui, 100);
    assert!(ui.output.follow);
    ui.update(code(KeyCode::PageUp));
    assert!(!ui.output.follow);
    assert_eq!(ui.output.scroll, 20);
    push_lines(&mut ui, 7);
    ui.update(Msg::OutputGrew {
        log: log.clone(),
        lines: 7,
    });
    assert_eq!(ui.output.unseen, 7);
    assert_eq!(ui.output.scroll, 27, "the view stays on the same lines");
    // Growth of another log (a stale notice) changes nothing.
    ui.update(Msg::OutputGrew {
        log: "logs/other.log".into(),
        lines: 5,
    });
    assert_eq!(ui.output.unseen, 7);
    ui.update(key('G'));
    assert!(ui.output.follow);
    assert_eq!((ui.output.scroll, ui.output.unseen), (0, 0));
    // While following, growth does not count as unseen.
    ui.update(Msg::OutputGrew { log, lines: 3 });
    assert_eq!(ui.output.unseen, 0);
    // Scrolling down to the end follows again; End too.
    ui.update(code(KeyCode::PageUp));
    ui.update(code(KeyCode::PageDown));
    assert!(ui.output.follow);
    ui.update(code(KeyCode::PageUp));
    ui.update(code(KeyCode::End));
    assert!(ui.output.follow);
    // In the output pane, k scrolls by one line.
    ui.focus = Focus::Output;
    ui.update(key('k'));
    assert_eq!((ui.output.follow, ui.output.scroll), (false, 1));
    ui.update(key('j'));
    assert!(ui.output.follow);
}

#[test]
fn the_ring_is_bounded() {
    let mut ui = fresh((160, 40));
    push_lines(&mut ui, RING_LINES + 250);
    assert_eq!(ui.output.ring.len(), RING_LINES);
    assert_eq!(ui.output.total, (RING_LINES + 250) as u64);
    assert_eq!(ui.output.ring.front().unwrap().text, b"line 250");
    // Scrolling never goes past the oldest line kept.
    for _ in 0..1000 {
        ui.update(code(KeyCode::PageUp));
    }
    assert_eq!(ui.output.scroll, RING_LINES - 1);
}

#[test]
fn quit_help_and_focus() {
    let mut ui = fresh((160, 40));
    ui.update(Msg::Records(fixture::mid_run().records));
    ui.update(key('?'));
    assert!(ui.help());
    let stage = ui.stage;
    ui.update(key('k'));
    assert_eq!(
        ui.stage, stage,
        "keys do not reach the panes under the help overlay"
    );
    ui.update(code(KeyCode::Esc));
    assert!(!ui.help());
    // Tab cycles the panes of the wide layout left to right, then the output; Shift-Tab goes back.
    assert_eq!(ui.focus, Focus::Pipeline);
    ui.update(code(KeyCode::Tab));
    assert_eq!(ui.focus, Focus::Drift);
    ui.update(code(KeyCode::Tab));
    assert_eq!(ui.focus, Focus::Checklist);
    ui.update(code(KeyCode::Tab));
    assert_eq!(ui.focus, Focus::Output);
    ui.update(code(KeyCode::Tab));
    assert_eq!(ui.focus, Focus::Board);
    ui.update(code(KeyCode::BackTab));
    assert_eq!(ui.focus, Focus::Output);
    // Narrow: five tabs, number keys pick one.
    ui.update(Msg::Resize(80, 24));
    ui.update(key('5'));
    assert_eq!(ui.focus, Focus::Checklist);
    ui.update(code(KeyCode::Tab));
    assert_eq!(ui.focus, Focus::Board);
    // Board focus: j/k move among the releases.
    ui.update(Msg::Board(vec![
        flightdeck::tui::app::BoardRow::of(&ui.release, None),
        flightdeck::tui::app::BoardRow {
            id: "older".into(),
            ..flightdeck::tui::app::BoardRow::of(&ui.release, None)
        },
    ]));
    assert_eq!(ui.board_selected, 0);
    ui.update(key('j'));
    assert_eq!(ui.board_selected, 1);
    ui.update(key('j'));
    assert_eq!(ui.board_selected, 1);
    assert_eq!(ui.update(key('q')), vec![Effect::Quit(0)]);
    assert_eq!(ui.quit, Some(0));
    let mut ui = fresh((80, 24));
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(ui.update(ctrl_c), vec![Effect::Quit(0)]);
    let mut ui = fresh((80, 24));
    assert_eq!(ui.update(key('c')), vec![], "plain c is not Ctrl-C");
    assert_eq!(ui.update(Msg::Shutdown), vec![Effect::Quit(0)]);
}

#[test]
fn exit_when_done_quits_with_runs_exit_code() {
    for (state, want) in [
        (FinalState::Succeeded, 0),
        (FinalState::Failed, 1),
        (FinalState::RolledBack, 1),
        (FinalState::Cancelled, 130),
    ] {
        let mut ui = fresh((160, 40));
        ui.exit_when_done = true;
        let mut j = fixture::mid_run();
        assert!(
            !ui.update(Msg::Records(j.records.clone()))
                .contains(&Effect::Quit(0))
        );
        assert_eq!(ui.quit, None);
        j.records.clear();
        j.push(
            400,
            "driver",
            Event::ReleaseFinished {
                state,
                reason: String::new(),
            },
        );
        j.records[0].seq = 1000;
        let fx = ui.update(Msg::Records(j.records));
        assert!(fx.contains(&Effect::Quit(want)), "{state:?}: {fx:?}");
        assert_eq!(ui.quit, Some(want));
    }
    // Without the flag, a finished release stays on screen.
    let mut ui = fresh((160, 40));
    ui.update(Msg::Records(fixture::failed().records));
    assert_eq!(ui.quit, None);
}

#[test]
fn the_board_shows_the_watched_release_live() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 40));
    let rows = ui.board_rows();
    assert_eq!(
        rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["2.4.0", "2.3.1", "2.3.0"]
    );
    assert_eq!(rows[0].state, "running");
    assert_eq!(rows[0].driver, Some(4242));
    ui.update(Msg::Driver(None));
    assert_eq!(ui.board_rows()[0].state, "interrupted");

    // A finished release shows no driver, even while its driver's lock is still held.
    let mut ui = fixture::ui(&fixture::failed(), (160, 40));
    ui.update(Msg::Driver(Some(4242)));
    assert_eq!(ui.board_rows()[0].state, "failed");
    assert_eq!(ui.board_rows()[0].driver, None);
}

#[test]
fn hints_and_help_come_from_the_keymap() {
    let km = Keymap::default();
    let hints = km.hints();
    assert_eq!(hints[0], ("q".to_string(), "quit"));
    assert!(hints.iter().any(|(k, h)| k == "↑↓" && *h == "move"));
    // Every hinted key is bound to an action with that hint.
    for (keys, word) in &hints {
        let first = keys.chars().next().unwrap();
        let bound = km
            .bindings
            .iter()
            .find(|b| b.key.label().starts_with(first))
            .map(|b| b.action)
            .unwrap();
        assert_eq!(bound.hint(), Some(*word));
    }
    // Help lists every bound action exactly once, with all its keys.
    let grouped = km.grouped();
    assert!(grouped.contains(&(Layer::Global, "q/C-c".to_string(), Action::Quit)));
    assert!(grouped.contains(&(Layer::Global, "G/End".to_string(), Action::Follow)));
    let mut actions: Vec<(Layer, Action)> = grouped.iter().map(|(l, _, a)| (*l, *a)).collect();
    let n = actions.len();
    actions.sort_by_key(|(l, a)| (l.name(), a.name()));
    actions.dedup();
    assert_eq!(actions.len(), n);
    assert_eq!(km.lookup(&[Layer::Output], Key::ch('j')), Some(Action::Down));
    assert_eq!(km.lookup(&[], Key::ch('Q')), None);
    // Layers: `n` is the next match while searching, a new release elsewhere.
    assert_eq!(
        km.lookup(&[Layer::Search, Layer::Output], Key::ch('n')),
        Some(Action::SearchNext)
    );
    assert_eq!(
        km.lookup(&[Layer::Output], Key::ch('n')),
        Some(Action::NewRelease)
    );
    // Every action has a name that maps back to it (the settings file and the palette use them).
    for a in Action::ALL {
        assert_eq!(Action::from_name(&a.name()), Some(a), "{a:?}");
    }
}

#[test]
fn a_read_problem_is_shown_until_cleared() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 40));
    ui.update(Msg::Problem(Some("journal: torn line".into())));
    assert_eq!(ui.problem.as_deref(), Some("journal: torn line"));
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 40)).unwrap();
    t.draw(|f| flightdeck::tui::views::render(f, &ui, fixture::now()))
        .unwrap();
    let last: String = (0..160)
        .map(|x| t.backend().buffer()[(x, 39)].symbol().to_string())
        .collect();
    assert!(last.contains("journal: torn line"), "{last}");
    ui.update(Msg::Problem(None));
    assert_eq!(ui.problem, None);
}
