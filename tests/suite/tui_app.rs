//! The cockpit's reducer (test layer 1): `UiState::update` on messages, asserting state and
//! effects. No terminal, no runtime.

use crate::fixture;
use crate::screen;

use crate::fixture::Journal;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::event::{Event, FinalState};
use flightdeck::runlog::{LineKind, LogLineRef};
use flightdeck::tui::action::Action;
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::keymap::{Key, Keymap, Layer};
use flightdeck::tui::layout::Focus;
use flightdeck::tui::output_pane::{RING_LINES, RingLine};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;
use screen::{code, key};

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
        vec![Effect::FollowLog {
            pane: 0,
            log: Some("logs/deploy-eu.eu-5.1.log".into())
        }]
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
    assert_eq!(
        fx,
        vec![Effect::FollowLog {
            pane: 0,
            log: Some("logs/test.1.log".into())
        }]
    );
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
        vec![Effect::FollowLog {
            pane: 0,
            log: Some("logs/deploy-eu.eu-2.1.log".into())
        }]
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
    // A page: the pane's height less one line of context (19 rows inside its border at 160x40).
    assert_eq!(ui.pane_height(0), 19);
    assert_eq!(ui.output.scroll, 18);
    push_lines(&mut ui, 7);
    ui.update(Msg::OutputGrew {
        pane: 0,
        log: log.clone(),
        lines: 7,
    });
    assert_eq!(ui.output.unseen, 7);
    assert_eq!(ui.output.scroll, 25, "the view stays on the same lines");
    // Growth of another log (a stale notice) changes nothing.
    ui.update(Msg::OutputGrew {
        pane: 0,
        log: "logs/other.log".into(),
        lines: 5,
    });
    assert_eq!(ui.output.unseen, 7);
    ui.update(key('G'));
    assert!(ui.output.follow);
    assert_eq!((ui.output.scroll, ui.output.unseen), (0, 0));
    // While following, growth does not count as unseen.
    ui.update(Msg::OutputGrew {
        pane: 0,
        log,
        lines: 3,
    });
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
    // Scrolling reaches the first line of the log (the view then starts there).
    for _ in 0..1000 {
        ui.update(code(KeyCode::PageUp));
    }
    let h = ui.pane_height(0);
    assert_eq!(ui.output.scroll, RING_LINES + 250 - h);
    assert_eq!(ui.output.bottom(), Some(h as u64 - 1));
}

#[test]
fn scrolling_above_the_ring_reads_old_lines_back() {
    let mut ui = fresh((160, 40));
    ui.update(Msg::Records(fixture::mid_run().records));
    let log = ui.output.log.clone().unwrap();
    push_lines(&mut ui, RING_LINES + 5000);
    ui.focus = Focus::Output;
    let fx = ui.update(key('g'));
    let h = ui.pane_height(0) as u64;
    let Some(Effect::ReadLines {
        pane: 0,
        log: l,
        first: 0,
        count,
    }) = fx.first().cloned()
    else {
        panic!("{fx:?}")
    };
    assert_eq!(l, log);
    assert!(count >= h && count <= 5000, "{count}");
    assert_eq!(ui.output.reading, Some(0..count));
    // Asked once: moving within the window asks nothing more.
    assert!(ui.update(key('j')).is_empty());
    // The lines arrive and are shown from the window; the ring is untouched.
    let lines: Vec<RingLine> = (0..count)
        .map(|i| RingLine {
            t_ms: i,
            kind: LineKind::Stdout,
            text: format!("line {i}").into_bytes(),
            truncated: false,
        })
        .collect();
    let fx = ui.update(Msg::LinesRead {
        pane: 0,
        log: log.clone(),
        first: 0,
        lines: Ok(lines),
    });
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(ui.output.reading, None);
    assert_eq!(ui.output.line(0).unwrap().text, b"line 0");
    assert_eq!(
        ui.output.line(RING_LINES as u64 + 4999).unwrap().text,
        format!("line {}", RING_LINES + 4999).as_bytes()
    );
    assert_eq!(ui.output.line(4000), None, "between the window and the ring");
    // A stale answer (another log) changes nothing.
    ui.update(Msg::LinesRead {
        pane: 0,
        log: "logs/other.log".into(),
        first: 7,
        lines: Ok(Vec::new()),
    });
    assert_eq!(ui.output.back.first, 0);
    // Paging down past the window asks for the next lines; G follows again and asks nothing.
    let mut asked = Vec::new();
    for _ in 0..40 {
        asked.extend(
            ui.update(code(KeyCode::PageDown))
                .into_iter()
                .filter(|f| matches!(f, Effect::ReadLines { .. })),
        );
        if !asked.is_empty() {
            break;
        }
    }
    assert!(
        matches!(asked[0], Effect::ReadLines { first, .. } if first > 0),
        "{asked:?}"
    );
    assert!(ui.update(key('G')).is_empty());
    assert!(ui.output.follow);
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
        flightdeck::tui::state::BoardRow::of(&ui.release, None),
        flightdeck::tui::state::BoardRow {
            id: "older".into(),
            ..flightdeck::tui::state::BoardRow::of(&ui.release, None)
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

/// A release mid-run with `n` lines in the selected run's pane (every 7th says `error`).
fn with_output(n: usize) -> (UiState, String) {
    let mut ui = fresh((160, 40));
    ui.update(Msg::Records(fixture::mid_run().records));
    let log = ui.output.log.clone().unwrap();
    for i in 0..n {
        let text = if i % 7 == 3 {
            format!("\x1b[31mERROR\x1b[0m at line {i}")
        } else {
            format!("line {i}")
        };
        ui.output.push(LogLineRef {
            t_ms: i as u64,
            kind: LineKind::Stdout,
            text: text.as_bytes(),
            truncated: false,
        });
    }
    (ui, log)
}

fn typed(ui: &mut UiState, text: &str) -> Vec<Effect> {
    let mut fx = Vec::new();
    for c in text.chars() {
        fx.extend(ui.update(key(c)));
    }
    fx.extend(ui.update(code(KeyCode::Enter)));
    fx
}

#[test]
fn search_runs_over_the_whole_log_and_n_wraps() {
    let (mut ui, log) = with_output(100);
    assert!(!ui.output_search_active());
    ui.update(key('/'));
    assert!(matches!(ui.modal, Some(flightdeck::tui::modal::Modal::Prompt(_))));
    let fx = typed(&mut ui, "error");
    assert_eq!(
        fx,
        vec![Effect::Search {
            pane: 0,
            log: log.clone(),
            term: "error".into(),
            generation: 1,
            upto: 100,
        }]
    );
    assert_eq!(ui.focus, Focus::Output, "the search's pane gets the keys");
    assert!(ui.output_search_active());
    let status = |ui: &UiState| ui.output.search.as_ref().unwrap().status();
    assert_eq!(status(&ui), "/error: searching… 0%");
    // A line arriving meanwhile (after the searched part) is matched as it is pushed.
    ui.output.push(LogLineRef {
        t_ms: 0,
        kind: LineKind::Stderr,
        text: b"late Error",
        truncated: false,
    });
    ui.update(Msg::OutputGrew {
        pane: 0,
        log: log.clone(),
        lines: 1,
    });
    // A stale answer (an older search) is ignored; the right one lands before the late match.
    ui.update(Msg::SearchDone {
        pane: 0,
        generation: 0,
        result: Ok((vec![1], false)),
    });
    let found: Vec<u64> = (0..100).filter(|i| i % 7 == 3).collect();
    // The background search reports as it goes, then ends.
    ui.update(Msg::SearchFound {
        pane: 0,
        generation: 1,
        matches: found[..5].to_vec(),
        searched: 40,
    });
    assert_eq!(status(&ui), "/error: 6 match(es), searching… 40%");
    ui.update(Msg::SearchDone {
        pane: 0,
        generation: 1,
        result: Ok((found[5..].to_vec(), false)),
    });
    let s = ui.output.search.clone().unwrap();
    let mut all = found.clone();
    all.push(100);
    assert_eq!(s.matches, all);
    // Following the end: the current match is the last one, already in view.
    assert_eq!(s.current, Some(all.len() - 1));
    assert_eq!(status(&ui), format!("/error: match {n}/{n}", n = all.len()));
    assert!(ui.output.follow);
    // n wraps to the first match (and scrolls to it), N wraps back.
    ui.update(key('n'));
    assert_eq!(ui.output.search.as_ref().unwrap().current_line(), Some(3));
    assert!(!ui.output.follow);
    assert!(ui.notice.as_ref().unwrap().text.contains("wrapped to the top"));
    let b = ui.output.bottom().unwrap();
    let h = ui.pane_height(0) as u64;
    assert!(b >= 3 && b < 3 + h, "match line 3 in view (bottom {b})");
    assert_eq!(status(&ui), format!("/error: match 1/{}", all.len()));
    ui.update(key('n'));
    assert_eq!(ui.output.search.as_ref().unwrap().current_line(), Some(10));
    ui.update(key('N'));
    ui.update(key('N'));
    assert_eq!(ui.output.search.as_ref().unwrap().current_line(), Some(100));
    assert!(ui.notice.as_ref().unwrap().text.contains("wrapped to the bottom"));
    // y copies the current match's line, escapes stripped.
    ui.update(key('n'));
    let fx = ui.update(key('y'));
    assert_eq!(fx, vec![Effect::Copy("ERROR at line 3".into())]);
    // Esc clears the search (and stops it); n is "new release" again.
    let fx = ui.update(code(KeyCode::Esc));
    assert_eq!(fx, vec![Effect::StopSearch(0)]);
    assert!(ui.output.search.is_none());
    assert!(!ui.output_search_active());
    let fx = ui.update(key('n'));
    assert_eq!(fx, vec![Effect::Suggest], "n opens the new-release form");
}

#[test]
fn a_search_without_matches_says_so() {
    let (mut ui, _) = with_output(20);
    typed(&mut ui, "/nothing-here");
    ui.update(Msg::SearchDone {
        pane: 0,
        generation: 1,
        result: Ok((Vec::new(), false)),
    });
    assert_eq!(
        ui.output.search.as_ref().unwrap().status(),
        "/nothing-here: no match"
    );
    ui.update(key('n'));
    let n = ui.notice.clone().unwrap();
    assert!(n.error && n.text.contains("no match"), "{n:?}");
    // The prompt offers the last term; a failed search says why.
    ui.update(key('/'));
    for _ in 0.."nothing-here".len() {
        ui.update(code(KeyCode::Backspace));
    }
    typed(&mut ui, "x");
    ui.update(Msg::SearchDone {
        pane: 0,
        generation: 2,
        result: Err("gone".into()),
    });
    assert_eq!(
        ui.output.search.as_ref().unwrap().status(),
        "/x: search failed: gone"
    );
    // An empty term clears the search.
    ui.update(key('/'));
    ui.update(code(KeyCode::Backspace));
    let fx = ui.update(code(KeyCode::Enter));
    assert_eq!(fx, vec![Effect::StopSearch(0)]);
    assert!(ui.output.search.is_none());
}

#[test]
fn smart_case_search_terms() {
    use flightdeck::tui::output_pane::Needle;
    let n = Needle::new("error");
    assert_eq!(n.ranges("Error ERROR error"), vec![0..5, 6..11, 12..17]);
    let n = Needle::new("Error");
    assert_eq!(n.ranges("Error ERROR error"), vec![0..5]);
    // Byte offsets stay valid next to wide characters.
    let n = Needle::new("é");
    assert_eq!(n.ranges("aéb é"), vec![1..3, 5..7]);
    assert!(Needle::new("").ranges("abc").is_empty());
}

#[test]
fn wrap_timestamps_zoom_and_pager() {
    let (mut ui, log) = with_output(10);
    assert!(!ui.output.wrap && !ui.output.timestamps);
    ui.update(key('w'));
    ui.update(key('T'));
    assert!(ui.output.wrap && ui.output.timestamps);
    ui.update(key('w'));
    assert!(!ui.output.wrap);
    // z zooms the output pane (and gives it the keys); z again or Esc comes back.
    ui.update(key('z'));
    assert!(ui.zoom);
    assert_eq!(ui.focus, Focus::Output);
    ui.update(key('z'));
    assert!(!ui.zoom);
    ui.update(key('z'));
    ui.update(code(KeyCode::Esc));
    assert!(!ui.zoom);
    // o pages the focused pane's whole log.
    assert_eq!(ui.update(key('o')), vec![Effect::Pager(log)]);
    // y without a search copies the bottom line.
    assert_eq!(ui.update(key('y')), vec![Effect::Copy("line 9".into())]);
    assert!(ui.notice.as_ref().unwrap().text.contains("copied line 10"));
}

#[test]
fn copy_is_capped_and_refuses_binary_lines() {
    let (mut ui, _) = with_output(0);
    assert!(ui.update(key('y')).is_empty());
    assert!(ui.notice.as_ref().unwrap().error);
    let long = "é".repeat(40_000);
    ui.output.push(LogLineRef {
        t_ms: 0,
        kind: LineKind::Stdout,
        text: long.as_bytes(),
        truncated: false,
    });
    let fx = ui.update(key('y'));
    let [Effect::Copy(text)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert!(text.len() <= flightdeck::tui::output_pane::COPY_CAP);
    assert!(text.chars().all(|c| c == 'é'));
    ui.output.push(LogLineRef {
        t_ms: 0,
        kind: LineKind::Stdout,
        text: b"\x00\x01\x02ELF\x03\x04",
        truncated: false,
    });
    assert!(ui.update(key('y')).is_empty());
    assert!(ui.notice.as_ref().unwrap().text.contains("binary"));
}

#[test]
fn up_to_four_panes_each_on_its_own_run() {
    let (mut ui, log) = with_output(5);
    // x on the only pane: refused.
    ui.focus = Focus::Output;
    assert!(ui.update(key('x')).is_empty());
    assert!(ui.notice.as_ref().unwrap().error);
    ui.focus = Focus::Pipeline;
    // + pins the selected run (eu-5) in a new pane, focused.
    let fx = ui.update(key('+'));
    assert_eq!(
        fx,
        vec![Effect::FollowLog {
            pane: 1,
            log: Some(log.clone())
        }]
    );
    assert_eq!((ui.focus, ui.pane, ui.pane_count()), (Focus::Output, 1, 2));
    assert_eq!(ui.pinned[0].label, "deploy-eu/eu-5");
    // Another target: pane 0 follows the selection, the pinned pane stays.
    ui.focus = Focus::Pipeline;
    let fx = ui.update(key('h'));
    assert_eq!(ui.pinned[0].log.as_deref(), Some(log.as_str()));
    let Effect::FollowLog {
        pane: 0,
        log: Some(other),
    } = &fx[0]
    else {
        panic!("{fx:?}")
    };
    assert_ne!(other, &log);
    ui.update(key('+'));
    ui.focus = Focus::Pipeline;
    ui.update(key('h'));
    ui.update(key('+'));
    assert_eq!(ui.pane_count(), 4);
    // A fifth is refused.
    assert!(ui.update(key('+')).is_empty());
    assert!(ui.notice.as_ref().unwrap().text.contains("at most 4"));
    // Tab reaches every pane, then leaves the output.
    ui.focus = Focus::Checklist;
    let mut seen = Vec::new();
    for _ in 0..4 {
        ui.update(code(KeyCode::Tab));
        seen.push((ui.focus, ui.pane));
    }
    assert_eq!(
        seen,
        [
            (Focus::Output, 0),
            (Focus::Output, 1),
            (Focus::Output, 2),
            (Focus::Output, 3)
        ]
    );
    ui.update(code(KeyCode::Tab));
    assert_eq!(ui.focus, Focus::Board);
    ui.update(code(KeyCode::BackTab));
    assert_eq!((ui.focus, ui.pane), (Focus::Output, 3));
    // Each pane keeps its own position and switches.
    ui.update(key('w'));
    assert!(ui.pinned[2].wrap && !ui.output.wrap);
    // x closes the focused pane (its tail stops).
    let id = ui.pinned[2].id;
    assert_eq!(
        ui.update(key('x')),
        vec![Effect::FollowLog { pane: id, log: None }]
    );
    assert_eq!((ui.pane_count(), ui.pane), (3, 2));
    // Output for a closed pane is ignored.
    ui.update(Msg::OutputGrew {
        pane: id,
        log: log.clone(),
        lines: 3,
    });
    // Zoomed, Tab cycles among the panes only.
    ui.update(key('z'));
    ui.update(code(KeyCode::Tab));
    assert_eq!((ui.focus, ui.pane), (Focus::Output, 0));
}

#[test]
fn n_works_while_the_search_is_still_running() {
    let (mut ui, _) = with_output(100);
    typed(&mut ui, "/error");
    ui.update(Msg::SearchFound {
        pane: 0,
        generation: 1,
        matches: vec![3, 10],
        searched: 50,
    });
    // n from the end wraps to the first match found so far.
    ui.update(key('n'));
    let s = ui.output.search.clone().unwrap();
    assert_eq!(
        (s.current_line(), s.status()),
        (Some(3), "/error: match 1/2, searching… 50%".to_string())
    );
    ui.update(key('n'));
    assert_eq!(ui.output.search.as_ref().unwrap().current_line(), Some(10));
    // The rest arrives: the current match stays where the person is.
    ui.update(Msg::SearchDone {
        pane: 0,
        generation: 1,
        result: Ok((vec![17, 24], false)),
    });
    let s = ui.output.search.clone().unwrap();
    assert_eq!(s.matches, [3, 10, 17, 24]);
    assert_eq!(
        (s.current_line(), s.status()),
        (Some(10), "/error: match 2/4".to_string())
    );
    // Progress for a finished (or replaced) search is ignored.
    ui.update(Msg::SearchFound {
        pane: 0,
        generation: 1,
        matches: vec![99],
        searched: 99,
    });
    assert_eq!(ui.output.search.as_ref().unwrap().matches, [3, 10, 17, 24]);
}

#[test]
fn the_wheel_and_clicks_reach_the_pane_under_the_pointer() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let (mut ui, _) = with_output(200);
    ui.update(Msg::Resize(160, 48));
    ui.mouse_capture = true;
    ui.focus = Focus::Pipeline;
    ui.update(key('+'));
    for i in 0..200u64 {
        ui.pinned[0].push(LogLineRef {
            t_ms: i,
            kind: LineKind::Stdout,
            text: b"pinned",
            truncated: false,
        });
    }
    let rects =
        flightdeck::tui::layout::output_pane_rects(ratatui::layout::Rect::new(0, 0, 160, 48), ui.arrange());
    assert_eq!(rects.len(), 2);
    assert!(rects[1].x > rects[0].x, "side by side: {rects:?}");
    let at = |kind, r: ratatui::layout::Rect| {
        Msg::Mouse(MouseEvent {
            kind,
            column: r.x + 3,
            row: r.y + 3,
            modifiers: KeyModifiers::NONE,
        })
    };
    // The wheel over the second pane scrolls it, not the first.
    ui.update(at(MouseEventKind::ScrollUp, rects[1]));
    assert_eq!(
        (ui.output.scroll, ui.pinned[0].scroll),
        (0, flightdeck::tui::app::WHEEL_LINES)
    );
    ui.update(at(MouseEventKind::ScrollUp, rects[0]));
    assert_eq!(ui.output.scroll, flightdeck::tui::app::WHEEL_LINES);
    // A click focuses the pane clicked.
    ui.update(at(MouseEventKind::Down(MouseButton::Left), rects[1]));
    assert_eq!((ui.focus, ui.pane), (Focus::Output, 1));
    ui.update(at(MouseEventKind::Down(MouseButton::Left), rects[0]));
    assert_eq!((ui.focus, ui.pane), (Focus::Output, 0));
}
