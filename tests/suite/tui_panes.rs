//! The pipeline's fan-out grid and filter, typical durations and ETA, the environments (drift)
//! pane and the board's rows: reducer tests (layer 1) and `TestBackend` + insta snapshots at
//! 160x48, 100x30 and 80x24 with a fixed clock, colour meaning asserted on cells (layer 2).

use crate::fixture;
use crate::screen;

use screen::{code, draw, find, key, text, typed};
use std::sync::Arc;

use crate::fixture::Journal;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::layout::Focus;
use flightdeck::tui::state::{TargetFilter, UiState};
use flightdeck::tui::theme::Glyph;
use flightdeck::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const SIZES: [(u16, u16); 3] = [(160, 48), (100, 30), (80, 24)];

/// A 300-target fan-out, the rollout stage selected in the pipeline.
fn fanout_ui(size: (u16, u16)) -> UiState {
    let mut ui = fixture::ui(&fixture::fanout(300), size);
    ui.focus = Focus::Pipeline;
    assert_eq!(
        ui.release.stages[ui.stage].decl.id, "rollout",
        "the running stage"
    );
    ui.auto_select = false;
    ui
}

fn label(ui: &UiState) -> String {
    ui.release.stages[ui.stage].targets[ui.target].label().to_string()
}

// ---------------------------------------------------------------------------------------------
// Reducer

#[test]
fn filter_prompt_sets_clears_and_esc_clears() {
    let mut ui = fanout_ui((160, 48));
    ui.update(key('f'));
    assert!(ui.modal.is_some(), "f opens the filter prompt");
    typed(&mut ui, "failed");
    ui.update(code(KeyCode::Enter));
    assert!(ui.modal.is_none());
    assert_eq!(ui.target_filter, Some(TargetFilter::Failed));
    let visible = ui.visible_targets();
    // 200 done, every 37th failed or timed out: 5 of them.
    assert_eq!(visible.len(), 5, "{visible:?}");
    assert!(
        visible.contains(&ui.target),
        "the selection moved into the filter"
    );
    assert_eq!(label(&ui), "node-037");
    assert_eq!(
        Glyph::of_target(&ui.release.stages[ui.stage].targets[ui.target]),
        Glyph::TimedOut
    );

    // A name fragment, case-insensitive; the prompt opens with the current filter.
    ui.update(key('f'));
    for _ in 0.."failed".len() {
        ui.update(code(KeyCode::Backspace));
    }
    typed(&mut ui, "NODE-29");
    ui.update(code(KeyCode::Enter));
    assert_eq!(ui.target_filter, Some(TargetFilter::Name("NODE-29".into())));
    assert_eq!(ui.visible_targets().len(), 10); // node-290..node-299
    assert_eq!(label(&ui), "node-290");

    // Empty clears; Esc clears too.
    ui.update(key('f'));
    ui.update(Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
    ui.update(code(KeyCode::Enter));
    assert_eq!(ui.target_filter, None);
    assert_eq!(ui.visible_targets().len(), 300);
    ui.target_filter = TargetFilter::parse("running");
    assert_eq!(ui.visible_targets().len(), 12);
    ui.update(code(KeyCode::Esc));
    assert_eq!(ui.target_filter, None);
    assert!(TargetFilter::parse("  ").is_none());
}

#[test]
fn left_right_move_within_the_filter() {
    let mut ui = fanout_ui((160, 48));
    ui.update(key('f'));
    typed(&mut ui, "failed");
    ui.update(code(KeyCode::Enter));
    let visible = ui.visible_targets();
    let mut seen = vec![ui.target];
    for _ in 0..10 {
        ui.update(key('l'));
        seen.push(ui.target);
    }
    seen.dedup();
    assert_eq!(
        seen, visible,
        "right walks the filtered targets and stops at the last"
    );
    for _ in 0..10 {
        ui.update(key('h'));
    }
    assert_eq!(ui.target, visible[0]);
    // Without a filter, one step is one target.
    ui.update(code(KeyCode::Esc));
    let at = ui.target;
    ui.update(key('l'));
    assert_eq!(ui.target, at + 1);
    // A filter nothing matches leaves the selection alone.
    ui.target_filter = TargetFilter::parse("no-such-node");
    ui.update(key('l'));
    assert_eq!(ui.target, at + 1);
}

#[test]
fn drift_selection_refresh_and_answers() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    ui.focus = Focus::Drift;
    assert_eq!(ui.drift.selected, 0);
    ui.update(key('j'));
    ui.update(key('j'));
    assert_eq!(ui.drift.selected, 2);
    for _ in 0..10 {
        ui.update(key('j'));
    }
    assert_eq!(ui.drift.selected, 4, "stops at the last row");
    ui.update(key('k'));
    assert_eq!(ui.drift.selected, 3);

    // PgDn/PgUp page through the selected row's keys (reset when the row changes).
    let mut many = fixture::drift_overview();
    many.rows[3].diffs = (0..40)
        .map(|i| flightdeck::drift::overview::KeyDiff {
            key: format!("k{i:02}"),
            mark: flightdeck::drift::Mark::Extra,
            baseline: None,
            value: Some(i.to_string()),
        })
        .collect();
    ui.update(Msg::Drift {
        release: "2.4.0".into(),
        probed: false,
        result: Ok(Some(Arc::new(many))),
    });
    ui.update(code(KeyCode::PageDown));
    assert_eq!(ui.drift.key_scroll, 24);
    ui.update(code(KeyCode::PageDown));
    assert_eq!(ui.drift.key_scroll, 39);
    let t = text(&draw(&ui, 160, 48));
    assert!(t.contains("… 39 keys above (PgUp)"), "{t}");
    assert!(t.contains("+ k39"), "{t}");
    ui.update(code(KeyCode::PageUp));
    assert_eq!(ui.drift.key_scroll, 15);
    ui.update(key('k'));
    ui.update(key('j'));
    assert_eq!((ui.drift.selected, ui.drift.key_scroll), (3, 0));

    // D probes afresh: one effect, "probing" until the answer; a second D does not pile up.
    let fx = ui.update(key('D'));
    assert_eq!(fx, vec![Effect::ProbeDrift]);
    assert!(ui.drift.probing);
    assert!(ui.update(key('D')).is_empty());
    // A file-driven reload meanwhile keeps "probing".
    ui.update(Msg::Drift {
        release: "2.4.0".into(),
        probed: false,
        result: Ok(Some(Arc::new(fixture::drift_overview()))),
    });
    assert!(ui.drift.probing);
    // The probes fail: an error shown as state, the last summary kept.
    ui.update(Msg::Drift {
        release: "2.4.0".into(),
        probed: true,
        result: Err("no environment has a probe".into()),
    });
    assert!(!ui.drift.probing);
    assert_eq!(ui.drift.error.as_deref(), Some("no environment has a probe"));
    assert!(ui.drift.overview.is_some());
    assert!(ui.notice.as_ref().is_some_and(|n| n.error));
    // A smaller answer clamps the selection; an answer about another release is dropped.
    let mut small = fixture::drift_overview();
    small.rows.truncate(2);
    ui.update(Msg::Drift {
        release: "2.4.0".into(),
        probed: false,
        result: Ok(Some(Arc::new(small))),
    });
    assert_eq!(ui.drift.selected, 1);
    assert_eq!(ui.drift.error, None);
    ui.update(Msg::Drift {
        release: "9.9.9".into(),
        probed: false,
        result: Ok(None),
    });
    assert!(ui.drift.overview.is_some());
    ui.update(Msg::Typical {
        release: "9.9.9".into(),
        typical: Default::default(),
    });
    assert!(!ui.typical.stages.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Views

fn snap(name: &str, ui: &UiState, (w, h): (u16, u16)) -> Buffer {
    let buf = draw(ui, w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| views::render(f, ui, fixture::now())).unwrap();
    insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    buf
}

#[test]
fn drift_pane_with_drift() {
    for size in SIZES {
        let mut ui = fixture::ui_with_drift(&fixture::mid_run(), size);
        ui.focus = Focus::Drift;
        ui.drift.selected = 1;
        let buf = snap("drift", &ui, size);
        let t = text(&buf);
        for want in [
            "≠ prod/eu-1 2.3.1 ↓3 1 differs",
            "2.4.0 → 2.3.1",
            "prod/eu-1 runs 2.3.1, 3 commits behind",
        ] {
            assert!(t.contains(want), "{size:?} lacks {want:?}:\n{t}");
        }
        // Drift: yellow AND `≠`; in sync would be `=`.
        let (x, y) = find(&buf, "≠ prod/eu-1");
        assert_eq!(buf[(x, y)].fg, Color::Yellow);
        // A failed probe: red AND its own symbol.
        ui.drift.selected = 4;
        let buf = draw(&ui, size.0, size.1);
        let (x, y) = find(&buf, "! dr");
        assert_eq!(buf[(x, y)].fg, Color::Red);
        assert!(text(&buf).contains("probe failed: exit 3"));
    }
    // The long value of the selected row is cut with `…`.
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (80, 24));
    ui.focus = Focus::Drift;
    ui.drift.selected = 3;
    let buf = snap("drift_long_value", &ui, (80, 24));
    let t = text(&buf);
    assert!(t.contains("db.pool.max_connections"), "{t}");
    assert!(t.contains("20 → 40 # raised"), "{t}");
    let line = t.lines().find(|l| l.contains("20 → 40")).unwrap();
    assert!(line.trim_end_matches('│').trim_end().ends_with('…'), "{line}");
}

#[test]
fn drift_pane_states() {
    let mut ui = fixture::ui(&fixture::mid_run(), (80, 24));
    ui.focus = Focus::Drift;
    assert!(text(&draw(&ui, 80, 24)).contains("loading drift…"));
    ui.update(Msg::Drift {
        release: "2.4.0".into(),
        probed: false,
        result: Ok(None),
    });
    // The sample plan has no probes: the pane says so.
    assert!(text(&draw(&ui, 80, 24)).contains("no environment of the plan has a probe"));
    ui.plan = None;
    assert!(text(&draw(&ui, 80, 24)).contains("no drift snapshot yet: D probes"));
    ui.update(key('D'));
    let t = text(&draw(&ui, 80, 24));
    assert!(t.contains("probing the environments…"), "{t}");
    ui.update(Msg::Drift {
        release: "2.4.0".into(),
        probed: true,
        result: Err("prod: exit 2".into()),
    });
    let buf = draw(&ui, 80, 24);
    let (x, y) = find(&buf, "! drift: prod: exit 2");
    assert_eq!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn fanout_of_300_targets_as_a_compact_grid_and_filtered() {
    for size in SIZES {
        let mut ui = fanout_ui(size);
        let buf = snap("fanout300", &ui, size);
        let t = text(&buf);
        assert!(
            t.contains("targets of rollout (300): 195/300 done, 5 failed"),
            "{t}"
        );
        // One cell per target: a failed cell is red AND has the failed symbol.
        let (x, y) = find(&buf, "✓✓✗");
        assert_eq!(buf[(x + 2, y)].fg, Color::Red);
        assert_eq!(buf[(x, y)].fg, Color::Green);

        // A filter leaving few targets: their names.
        ui.update(key('f'));
        typed(&mut ui, "failed");
        ui.update(code(KeyCode::Enter));
        ui.update(key('l'));
        let buf = snap("fanout300_failed", &ui, size);
        let t = text(&buf);
        assert!(t.contains("\"failed\": 5 of 300 shown (Esc clears)"), "{t}");
        let (x, y) = find(&buf, "⏱ node-037 ✗ node-074");
        assert_eq!(buf[(x, y)].fg, Color::LightRed);
        assert_eq!(buf[(x + 11, y)].fg, Color::Red);
        assert!(
            buf[(x + 13, y)].modifier.contains(Modifier::REVERSED),
            "node-074 selected"
        );

        // A filter leaving many: the compact grid, the selected one spelled out.
        ui.update(key('f'));
        ui.update(Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
        typed(&mut ui, "node-1");
        ui.update(code(KeyCode::Enter));
        assert_eq!(label(&ui), "node-100");
        for _ in 0..11 {
            ui.update(key('l'));
        }
        let buf = snap("fanout300_name", &ui, size);
        let t = text(&buf);
        assert!(t.contains("\"node-1\": 100 of 300 shown"), "{t}");
        assert!(t.contains("▸ node-111 (111/300) ⏱ timed out"), "{t}");
        // node-100..node-110 done, node-111 timed out (selected, reversed), node-112 done.
        let (x, y) = find(&buf, "✓⏱✓");
        assert_eq!(buf[(x, y)].fg, Color::Green);
        assert_eq!(buf[(x + 1, y)].fg, Color::LightRed);
        assert!(buf[(x + 1, y)].modifier.contains(Modifier::REVERSED));
    }
}

#[test]
fn no_color_grid_keeps_its_symbols() {
    let mut ui = fanout_ui((80, 24));
    ui.theme.color = false;
    let buf = draw(&ui, 80, 24);
    let t = text(&buf);
    assert!(t.contains("✓✓✗"), "{t}");
    assert!(t.contains(Glyph::Pending.symbol(0)), "{t}");
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            assert_eq!(buf[(x, y)].fg, Color::Reset);
        }
    }
}

#[test]
fn no_color_drift_pane_keeps_its_symbols() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (80, 24));
    ui.theme.color = false;
    ui.focus = Focus::Drift;
    ui.drift.selected = 1;
    let buf = draw(&ui, 80, 24);
    let t = text(&buf);
    for want in ["◆ staging", "≠ prod/eu-1", "! dr", "≠ version 2.4.0 → 2.3.1"] {
        assert!(t.contains(want), "lacks {want:?}:\n{t}");
    }
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            assert_eq!((buf[(x, y)].fg, buf[(x, y)].bg), (Color::Reset, Color::Reset));
        }
    }
}

#[test]
fn running_stage_against_its_typical_duration_and_eta() {
    for size in SIZES {
        let ui = fixture::ui_with_drift(&fixture::mid_run(), size);
        let buf = snap("typical_eta", &ui, size);
        let t = text(&buf);
        // deploy-eu started 80s in, now is 300s: 3m40s of a typical 4m00s.
        assert!(t.contains("3m40s [█████░] 91% of ~4m00s"), "{size:?}\n{t}");
        // 20s left, then smoke (20s, behind a gate), then promote (30s).
        assert!(t.contains("ETA 1m10s + gate"), "{size:?}\n{t}");
    }
    // Past its typical duration: "over", in the warning colour.
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    let mut typical = fixture::typical();
    typical.stages.insert("deploy-eu".into(), (60_000, 2));
    ui.update(Msg::Typical {
        release: "2.4.0".into(),
        typical,
    });
    let buf = draw(&ui, 160, 48);
    let (x, y) = find(&buf, "over ~1m00s");
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    assert!(text(&buf).contains("ETA 50s + gate"));
}

#[test]
fn board_rows_show_symbol_version_type_progress_elapsed_and_driver() {
    let ui = fixture::ui(&fixture::mid_run(), (160, 48));
    let buf = draw(&ui, 160, 48);
    let t = text(&buf);
    for want in [
        "2.4.0        minor",
        "[██░░░░] 2/5",
        "5m00s",
        "driver pid 4242",
        "no driver",
    ] {
        assert!(t.contains(want), "lacks {want:?}:\n{t}");
    }
    let (x, y) = find(&buf, "✓ 2.3.1");
    assert_eq!(buf[(x, y)].fg, Color::Green);
    let (x, y) = find(&buf, "↶ 2.3.0");
    assert_eq!(buf[(x, y)].fg, Color::Blue);
}

#[test]
fn every_size_renders_my_states_without_panic() {
    let mut states: Vec<UiState> = Vec::new();
    for focus in [Focus::Drift, Focus::Pipeline] {
        let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (80, 24));
        ui.focus = focus;
        ui.drift.selected = 3;
        states.push(ui);
        let mut ui = fanout_ui((80, 24));
        ui.focus = focus;
        ui.target_filter = TargetFilter::parse("node-1");
        states.push(ui);
    }
    let mut probing = fixture::ui(&fixture::fanout(999), (80, 24));
    probing.update(key('D'));
    probing.update(key('4'));
    states.push(probing);
    let empty: Journal = Journal::default();
    states.push(fixture::ui_with_drift(&empty, (80, 24)));
    for mut ui in states {
        for w in (1..=200).step_by(7).chain([59, 60, 99, 100, 159, 160]) {
            for h in (1..=60).step_by(5).chain([15, 16, 23, 24, 39, 40, 48]) {
                ui.update(Msg::Resize(w, h));
                draw(&ui, w, h);
            }
        }
    }
}
