//! Cockpit views (test layer 2): `TestBackend` + insta snapshots at fixed sizes with a fixed
//! clock; colour and symbol meaning asserted on cells (display snapshots ignore colour); every
//! small size renders without a panic.

use crate::fixture;
use crate::screen;

use crate::fixture::Journal;
use flightdeck::tui::app::Msg;
use flightdeck::tui::layout::Focus;
use flightdeck::tui::modal::Modal;
use flightdeck::tui::state::UiState;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use screen::{find, terminal, text, typed};

fn snap(name: &str, j: &Journal, w: u16, h: u16, tweak: impl FnOnce(&mut UiState)) -> Buffer {
    let mut ui = fixture::ui(j, (w, h));
    tweak(&mut ui);
    let t = terminal(&ui, w, h);
    insta::assert_snapshot!(name, t.backend());
    t.backend().buffer().clone()
}

#[test]
fn wide_mid_run() {
    let buf = snap("wide_mid_run", &fixture::mid_run(), 160, 48, |_| {});
    let t = text(&buf);
    for want in [
        "deploy-eu",
        "3/6 done, 1 failed, 1 running",
        "2.3.1",
        "no driver",
        "driver pid 4242",
        "q quit",
    ] {
        assert!(t.contains(want), "missing {want:?}:\n{t}");
    }
}

#[test]
fn medium_layout_of_each_state() {
    snap("medium_mid_run", &fixture::mid_run(), 100, 30, |_| {});
    snap("medium_failed", &fixture::failed(), 100, 30, |_| {});
    let buf = snap("medium_gated", &fixture::gated(), 100, 30, |_| {});
    let t = text(&buf);
    assert!(
        t.contains("Checklist"),
        "the checklist shares the left column: {t}"
    );
    assert!(
        t.contains("… 3 more below"),
        "what does not fit is counted, not dropped: {t}"
    );
    snap("narrow_failed", &fixture::failed(), 80, 24, |_| {});
}

#[test]
fn narrow_tabs() {
    let j = fixture::mid_run();
    snap("narrow_pipeline", &j, 80, 24, |_| {});
    snap("narrow_board", &j, 80, 24, |ui| ui.focus = Focus::Board);
    snap("narrow_output", &j, 80, 24, |ui| ui.focus = Focus::Output);
    snap("narrow_checklist", &fixture::gated(), 80, 24, |ui| {
        ui.focus = Focus::Checklist
    });
}

#[test]
fn failed_release_and_gate() {
    snap("wide_failed", &fixture::failed(), 160, 48, |_| {});
    let buf = snap("wide_gated", &fixture::gated(), 160, 48, |_| {});
    let t = text(&buf);
    assert!(t.contains("ticked by alice"), "{t}");
    assert!(t.contains("approved by bob"), "{t}");
    assert!(t.contains("1/2 approvals"), "{t}");
    assert!(t.contains("gate signoff needs a person"), "{t}");
}

#[test]
fn help_overlay_is_generated_from_the_keymap() {
    let buf = snap("help_80x24", &fixture::mid_run(), 80, 24, |ui| {
        ui.modal = Some(Modal::Help)
    });
    for (w, h) in [(160, 48), (100, 30)] {
        snap(&format!("help_{w}x{h}"), &fixture::mid_run(), w, h, |ui| {
            ui.modal = Some(Modal::Help)
        });
    }
    let t = text(&buf);
    let ui = fixture::ui(&fixture::mid_run(), (80, 24));
    // The tab keys share one line.
    assert!(
        t.contains("1-5") && t.contains("focus a pane (tab when narrow)"),
        "{t}"
    );
    // The search's next and previous match share a line too, and so do other pairs.
    assert!(t.contains("n/N    search: next / previous match"), "{t}");
    assert!(t.contains("w/T     wrap lines / show arrival times"), "{t}");
    assert!(t.contains("S/E    workspace: state/env filter"), "{t}");
    for (_, keys, action) in ui.keymap.grouped() {
        use flightdeck::tui::action::Action;
        if matches!(
            action,
            Action::Tab(_)
                | Action::SearchNext
                | Action::SearchPrev
                | Action::Wrap
                | Action::Timestamps
                | Action::StateFilter
                | Action::EnvFilter
        ) {
            continue;
        }
        assert!(t.contains(&keys), "help lacks keys {keys:?}:\n{t}");
        let d = action.describe();
        let head: String = d.chars().take(20).collect();
        assert!(t.contains(&head), "help lacks {d:?}:\n{t}");
    }
}

#[test]
fn tiny_sizes() {
    let j = fixture::mid_run();
    for (w, h) in [(1, 1), (5, 2), (10, 5)] {
        snap(&format!("tiny_{w}x{h}"), &j, w, h, |_| {});
    }
    let buf = snap("too_small_59x16", &j, 59, 16, |_| {});
    assert!(text(&buf).contains("terminal too small (needs 60x16)"));
}

#[test]
fn every_size_renders_without_panic() {
    let mut states = Vec::new();
    let all: &[&str] = &["", "?", "R", ":ret", "n", "s", "t", "4"];
    for (j, overlays) in [
        (fixture::mid_run(), all),
        (fixture::failed(), all),
        (fixture::gated(), all),
        (fixture::fanout(300), &["", "4"][..]),
    ] {
        // As is, then under each overlay (keys pressed through the reducer); with the
        // environments pane's drift and typical durations (ETA) loaded, targets filtered.
        for keys in overlays {
            let mut ui = fixture::ui_with_drift(&j, (80, 24));
            ui.target_filter = flightdeck::tui::state::TargetFilter::parse("node-1");
            typed(&mut ui, keys);
            states.push(ui);
        }
    }
    let mut start = UiState::new(
        flightdeck::tui::keymap::Keymap::default(),
        flightdeck::tui::theme::Theme::new(false),
    );
    start.update(Msg::Plan(Some(std::sync::Arc::new(fixture::plan()))));
    states.push(start);
    for mut ui in states {
        {
            for w in (1..=200).step_by(11).chain([59, 60, 99, 100, 159, 160, 200]) {
                for h in (1..=60).step_by(5).chain([15, 16, 23, 24, 39, 40]) {
                    ui.update(Msg::Resize(w, h));
                    terminal(&ui, w, h);
                }
            }
        }
    }
}

#[test]
fn states_have_their_own_symbol_and_colour() {
    let ui = fixture::ui(&fixture::failed(), (160, 40));
    let t = terminal(&ui, 160, 40);
    let buf = t.backend().buffer();
    // The failed fan-out: its symbol (a timed-out target makes the stage "timed out").
    let (x, y) = find(buf, "⏱ deploy-eu");
    assert_eq!(buf[(x, y)].fg, Color::LightRed);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    let (x, y) = find(buf, "✓ build");
    assert_eq!(buf[(x, y)].fg, Color::Green);
    let (x, y) = find(buf, "· smoke");
    assert_eq!(buf[(x, y)].fg, Color::DarkGray);
    // The failed target and the timed-out one in the grid.
    let (x, y) = find(buf, "✗ eu-4");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(buf, "⏱ eu-5");
    assert_eq!(buf[(x, y)].fg, Color::LightRed);
    // Child colours are kept in the output pane: "ok" was printed green by the child.
    let (x, y) = find(buf, "ok pulled image");
    assert_eq!(buf[(x, y)].fg, Color::Indexed(2));
    assert_eq!(buf[(x + 3, y)].fg, Color::Reset);
}

#[test]
fn no_color_keeps_symbols_and_drops_colours() {
    let mut ui = fixture::ui(&fixture::failed(), (160, 40));
    ui.theme.color = false;
    let t = terminal(&ui, 160, 40);
    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            assert_eq!(
                (c.fg, c.bg),
                (Color::Reset, Color::Reset),
                "colour at {x},{y}: {c:?}"
            );
        }
    }
    let s = text(buf);
    for sym in ["✓ build", "⏱ deploy-eu", "· smoke", "✗ eu-4"] {
        assert!(s.contains(sym), "missing {sym}:\n{s}");
    }
}

#[test]
fn hostile_output_is_only_text() {
    let ui = fixture::ui(&fixture::mid_run(), (160, 40));
    let t = terminal(&ui, 160, 40);
    let s = text(t.backend().buffer());
    assert!(s.contains("progress 100%"), "{s}");
    assert!(!s.contains("progress 10%\r"));
    assert!(s.contains("waiting for rollout of shop-web"), "{s}");
    assert!(!s.contains("evil title"), "{s}");
}

#[test]
fn truncated_text_ends_with_an_ellipsis() {
    let ui = fixture::ui(&fixture::mid_run(), (60, 16));
    let t = terminal(&ui, 60, 16);
    let s = text(t.backend().buffer());
    assert!(s.contains('…'), "{s}");
}

#[test]
fn rollback_preview_with_typed_confirmation_at_three_sizes() {
    for (w, h) in [(160, 48), (100, 30), (80, 24)] {
        let buf = snap(
            &format!("rollback_confirm_{w}x{h}"),
            &fixture::mid_run(),
            w,
            h,
            |ui| {
                typed(ui, "Rpro");
            },
        );
        let t = text(&buf);
        assert!(t.contains("Roll back release 2.4.0?"), "{t}");
        assert!(t.contains("prod is a protected environment."), "{t}");
        assert!(t.contains("> pro"), "what was typed shows: {t}");
        // The warning reads without colour too: its own symbol, and yellow with colour.
        let (x, y) = find(&buf, "prod is a protected");
        assert_eq!(buf[(x, y)].fg, Color::Yellow);
        assert_eq!(buf[(x - 2, y)].symbol(), "⏸");
    }
}

#[test]
fn checklist_and_approval_confirmation_at_160x48() {
    let buf = snap("approve_confirm_160x48", &fixture::gated(), 160, 48, |ui| {
        typed(ui, "a");
    });
    let t = text(&buf);
    assert!(t.contains("Approve gate signoff?"), "{t}");
    assert!(t.contains("1 of 2 approvals so far (bob)"), "{t}");
    assert!(t.contains("manual: ticked by alice at 10:04:00"), "{t}");
    assert!(t.contains("1 more approval(s) needed"), "{t}");
}

#[test]
fn palette_and_new_release_form() {
    let buf = snap("palette_100x30", &fixture::mid_run(), 100, 30, |ui| {
        typed(ui, ":retr");
    });
    let t = text(&buf);
    assert!(t.contains(": retr"), "{t}");
    assert!(t.contains("retry selected stage/target"), "{t}");
    let buf = snap("new_release_80x24", &fixture::failed(), 80, 24, |ui| {
        typed(ui, "n");
        ui.update(Msg::Suggested(Ok((
            "2.5.0".into(),
            flightdeck::plan::ReleaseType::Minor,
        ))));
    });
    let t = text(&buf);
    assert!(t.contains("version: 2.5.0"), "{t}");
    assert!(t.contains("suggested by `flightdeck next`: 2.5.0 (minor)"), "{t}");
    // The chosen type is in reverse video (readable without colour).
    let (x, y) = find(&buf, " minor ");
    assert!(buf[(x + 1, y)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn start_screen_without_releases() {
    for (w, h) in [(160, 48), (80, 24)] {
        let mut ui = UiState::new(
            flightdeck::tui::keymap::Keymap::default(),
            flightdeck::tui::theme::Theme::new(true),
        );
        ui.update(Msg::Resize(w, h));
        ui.update(Msg::Plan(Some(std::sync::Arc::new(fixture::plan()))));
        let t = terminal(&ui, w, h);
        insta::assert_snapshot!(format!("start_screen_{w}x{h}"), t.backend());
        let s = text(t.backend().buffer());
        assert!(s.contains("No release is open. Press n to start one."), "{s}");
        assert!(s.contains("deploy-eu  [prod]  needs test"), "{s}");
        assert!(s.contains("prod (protected): eu-1, eu-2"), "{s}");
        assert!(s.contains("signoff: 2 approval(s), 2 checklist item(s)"), "{s}");
    }
}

/// The screen as text, a wide character's second cell left out (as a terminal shows it).
fn shown(buf: &Buffer) -> String {
    use unicode_width::UnicodeWidthStr;
    let mut s = String::new();
    for y in 0..buf.area.height {
        let mut x = 0;
        while x < buf.area.width {
            let sym = buf[(x, y)].symbol();
            s.push_str(sym);
            x += sym.width().max(1) as u16;
        }
        s.push('\n');
    }
    s
}

fn push(
    ui: &mut UiState,
    pane: usize,
    t_ms: u64,
    kind: flightdeck::runlog::LineKind,
    text: &[u8],
    truncated: bool,
) {
    let line = flightdeck::runlog::LogLineRef {
        t_ms,
        kind,
        text,
        truncated,
    };
    match pane {
        0 => ui.output.push(line),
        i => ui.pinned[i - 1].push(line),
    }
}

fn keys(ui: &mut UiState, keys: &str) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            c => KeyCode::Char(c),
        };
        ui.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

#[test]
fn output_search_highlights_matches() {
    let j = fixture::mid_run();
    let buf = snap("output_search_100x30", &j, 100, 30, |ui| {
        ui.modal = None;
        keys(ui, "/shop\n");
        ui.update(Msg::SearchDone {
            pane: 0,
            generation: 1,
            result: Ok((vec![1, 4], false)),
        });
    });
    let t = text(&buf);
    assert!(t.contains("/shop: match 2/2"), "{t}");
    // Every match is reversed; the current one (the latest) stands out in yellow, underlined.
    let (x, y) = find(&buf, "shop:2.4.0");
    for dx in 0..4 {
        assert!(buf[(x + dx, y)].modifier.contains(Modifier::REVERSED), "{dx}");
        assert!(!buf[(x + dx, y)].modifier.contains(Modifier::UNDERLINED));
    }
    assert!(
        !buf[(x + 4, y)].modifier.contains(Modifier::REVERSED),
        "only the match"
    );
    let (x, y) = find(&buf, "shop-web");
    for dx in 0..4 {
        let c = &buf[(x + dx, y)];
        assert_eq!(c.bg, Color::Yellow);
        assert!(c.modifier.contains(Modifier::UNDERLINED | Modifier::BOLD));
    }
    // The child's colour is kept under the other match's highlight: "ok" stays green.
    let (x, y) = find(&buf, "ok pulled");
    assert_eq!(buf[(x, y)].fg, Color::Indexed(2));
}

#[test]
fn output_wrapped_with_timestamps() {
    use flightdeck::runlog::LineKind::*;
    let j = fixture::mid_run();
    let buf = snap("output_wrap_times_80x24", &j, 80, 24, |ui| {
        ui.modal = None;
        ui.focus = Focus::Output;
        let long = format!("{}end", "長い行です、".repeat(12));
        push(ui, 0, 1_250, Stdout, long.as_bytes(), false);
        push(
            ui,
            0,
            61_002,
            Stderr,
            format!("\x1b[31m{}\x1b[0m!", "e".repeat(150)).as_bytes(),
            false,
        );
        push(ui, 0, 3_723_004, Stdout, b"after an hour", false);
        keys(ui, "wT");
    });
    let t = shown(&buf);
    for want in [
        "+00:01.250 長い行です",
        "+01:01.002 ▌eeee",
        "+1:02:03.004 after an hour",
        "end",
        "e!",
    ] {
        assert!(t.contains(want), "missing {want:?}:\n{t}");
    }
    assert!(t.contains("wrap · times"), "{t}");
    // The stderr marker stays visible on the continuation rows (without colour too).
    let (x, y) = find(&buf, "+01:01.002 ▌");
    let mark = x + 11;
    assert_eq!(buf[(mark, y)].symbol(), "▌");
    assert_eq!(buf[(mark, y + 1)].symbol(), "▌");
    assert_eq!(buf[(mark, y + 1)].fg, Color::Red);
    // No wide character is split at the right edge: every row of the long line ends on a whole
    // character (the border follows it directly or after one blank cell).
    let (_, y0) = find(&buf, "+00:01.250");
    for y in y0..y0 + 3 {
        let right = buf.area.width - 2;
        let s = buf[(right, y)].symbol();
        assert!(
            s == " " || s == "、" || s.chars().all(|c| c.len_utf8() == 3) || s.is_empty(),
            "row {y}: {s:?}"
        );
    }
}

#[test]
fn four_panes_at_160x48() {
    use flightdeck::runlog::LineKind::*;
    let j = fixture::mid_run();
    let buf = snap("four_panes_160x48", &j, 160, 48, |ui| {
        ui.modal = None;
        for _ in 0..3 {
            ui.focus = Focus::Pipeline;
            keys(ui, "+h");
        }
        for p in 1..4 {
            for i in 0..30u64 {
                let text = format!("\x1b[3{}mpane {p}\x1b[0m line {i}", p + 1);
                push(
                    ui,
                    p,
                    i * 10,
                    if i % 10 == 9 { Stderr } else { Stdout },
                    text.as_bytes(),
                    false,
                );
            }
        }
        ui.focus = Focus::Output;
        ui.pane = 2;
    });
    let t = text(&buf);
    for want in [
        "Output 1 deploy-eu/eu-2",
        "Output 2 deploy-eu/eu-5",
        "Output 3 deploy-eu/eu-4",
        "Output 4 deploy-eu/eu-3",
        "pane 3 line 29",
    ] {
        assert!(t.contains(want), "missing {want:?}:\n{t}");
    }
    // A 2x2 grid; only the focused pane's border stands out.
    let (x1, y1) = find(&buf, "Output 1");
    let (x2, y2) = find(&buf, "Output 2");
    let (x3, y3) = find(&buf, "Output 3");
    assert_eq!(y1, y2);
    assert!(
        x2 > x1 && y3 > y1 && x3 == x1,
        "{:?}",
        [(x1, y1), (x2, y2), (x3, y3)]
    );
    assert_eq!(buf[(x3, y3)].fg, Color::Cyan);
    assert_eq!(buf[(x1, y1)].fg, Color::DarkGray);
    // Each pane's child colours are its own.
    let (x, y) = find(&buf, "pane 2 line 29");
    assert_eq!(buf[(x, y)].fg, Color::Indexed(3));
}

#[test]
fn zoomed_pane_fills_the_screen() {
    let j = fixture::mid_run();
    let buf = snap("output_zoomed_100x30", &j, 100, 30, |ui| {
        ui.modal = None;
        keys(ui, "z");
    });
    let t = text(&buf);
    assert!(t.contains("zoomed (z)"), "{t}");
    assert!(!t.contains("Pipeline"), "{t}");
    assert_eq!(find(&buf, "Output").1, 0);
}

#[test]
fn hostile_output_in_the_view() {
    use flightdeck::runlog::LineKind::*;
    let j = fixture::mid_run();
    let mut ui = fixture::ui(&j, (100, 30));
    ui.modal = None;
    ui.update(Msg::Resize(100, 30));
    let long = "x".repeat(200);
    let lines: [(&[u8], bool); 9] = [
        (b"tab\there", false),
        (b"10%\r55%\r100% done", false),
        (b"bad \xff\xfe utf8", false),
        (b"\x00\x01\x02\x03\x04\x05 bin", false),
        (long.as_bytes(), true),
        (b"\x1b]52;c;cHduZWQ=\x07clip \x1b[?1049halt \x1b[2J\x1b[Hclear \x1b[5Aup \x1b]8;;http://x\x07link\x1b]8;;\x07", false),
        ("wide 漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字".as_bytes(), false),
        (b"\x1b[1;4;38;2;255;0;0mtrue\x1b[0m plain", false),
        (b"bell\x07 and \x1bPq#0;2;0;0;0#1~~@@vv@@~~$\x1b\\ dcs", false),
    ];
    for (text, cut) in lines {
        push(&mut ui, 0, 0, Stdout, text, cut);
    }
    keys(&mut ui, "z");
    let t = terminal(&ui, 100, 30);
    let buf = t.backend().buffer();
    let s = text(buf);
    for want in [
        "tab     here",
        "100% done",
        "bad �� utf8",
        "(binary output, 10 bytes, not shown)",
        "clip alt clear up link",
        "true plain",
        "bell and  dcs",
    ] {
        assert!(s.contains(want), "missing {want:?}:\n{s}");
    }
    assert!(!s.contains("10%"), "{s}");
    // The over-long line: cut by the parser (marked) and at the pane's edge (…).
    let (x, y) = find(buf, "xxxx");
    assert_eq!(buf[(buf.area.width - 2, y)].symbol(), "…");
    assert_eq!(x, 1);
    keys(&mut ui, "w");
    let s = text(terminal(&ui, 100, 30).backend().buffer());
    assert!(s.contains("xx [cut]"), "{s}");
    // Wide characters are whole at the pane's edge, in a narrow pane too.
    for w in [60u16, 61, 62, 63] {
        ui.update(Msg::Resize(w, 20));
        let t = terminal(&ui, w, 20);
        let buf = t.backend().buffer();
        let (_, y) = find(buf, "wide");
        let row = shown(buf).lines().nth(usize::from(y)).unwrap().to_string();
        assert!(row.contains("漢字"), "{row}");
        assert!(!row.contains('\u{fffd}'), "{row}");
    }
    // The binary line is a dim notice; the truecolour SGR kept.
    let t = terminal(&ui, 63, 20);
    let buf = t.backend().buffer();
    let (x, y) = find(buf, "true");
    assert_eq!(buf[(x, y)].fg, Color::Rgb(255, 0, 0));
    assert!(
        buf[(x, y)]
            .modifier
            .contains(Modifier::BOLD | Modifier::UNDERLINED)
    );
}

#[test]
fn eta_is_unknown_or_partial_without_history() {
    use flightdeck::tui::views::pipeline::eta;
    let st = &fixture::ui(&fixture::mid_run(), (80, 24)).release;
    assert_eq!(eta(st, &Default::default(), fixture::now()), None);
    let e = eta(st, &fixture::typical(), fixture::now()).unwrap();
    assert_eq!((e.ms, e.unknown, e.gate), (70_000, 0, true));
    let mut typical = fixture::typical();
    typical.stages.remove("promote");
    let e = eta(st, &typical, fixture::now()).unwrap();
    assert_eq!((e.ms, e.unknown, e.gate), (40_000, 1, true));
    assert_eq!(e.text(), "ETA ≥40s + gate");
    let failed = &fixture::ui(&fixture::failed(), (80, 24)).release;
    assert_eq!(eta(failed, &fixture::typical(), fixture::now()), None);
    let gated = &fixture::ui(&fixture::gated(), (80, 24)).release;
    assert_eq!(
        eta(gated, &fixture::typical(), fixture::now()).unwrap().text(),
        "ETA 50s + gate"
    );
}

#[test]
fn the_board_shows_the_freeze_in_force_a_scheduled_release_and_the_overrides_banner() {
    use flightdeck::plan::freeze::{Freeze, When};
    let t0 = fixture::t0();
    let buf = snap("board_freeze_scheduled", &fixture::mid_run(), 160, 48, |ui| {
        let mut rows = ui.board.clone();
        rows.insert(
            0,
            flightdeck::tui::state::BoardRow {
                id: "2.5.0".into(),
                version: "2.5.0".into(),
                state: "scheduled".into(),
                progress: (0, 5),
                finished_at: None,
                scheduled_at: Some(t0 + chrono::Duration::hours(3)),
                ..rows[0].clone()
            },
        );
        ui.update(Msg::Board(rows));
        ui.freezes = vec![Freeze {
            environments: vec!["prod".into()],
            reason: "year-end \x1b[31mfreeze".into(),
            when: When::Fixed {
                from: (t0 - chrono::Duration::hours(1)).fixed_offset(),
                to: (t0 + chrono::Duration::hours(30)).fixed_offset(),
            },
        }];
        ui.freeze_windows =
            flightdeck::plan::freeze::windows(&ui.freezes, t0, t0 + chrono::Duration::days(30), 64);
        for who in ["carol", "dan", "carol"] {
            ui.release.freeze_overrides.push(flightdeck::engine::state::Mark {
                actor: who.into(),
                at: t0,
                note: "hotfix for the checkout outage".into(),
            });
        }
    });
    let t = text(&buf);
    // Control characters never reach the screen.
    assert!(t.contains("❄ prod frozen "), "{t}");
    assert!(t.contains("  until Sat 16:00 (year-end [31mfreeze)"), "{t}");
    assert!(!t.contains('\x1b'), "{t}");
    assert!(t.contains("starts Fri 13:00 UTC"), "{t}");
    assert!(
        t.contains("❄ freeze overridden by carol, dan: hotfix for the checkout outage"),
        "{t}"
    );
}

/// A train's member: the pipeline lists the other plans' stages a stage needs, and the status
/// bar says what the waiting stage waits for.
#[test]
fn a_train_members_release_view_says_what_it_waits_for_across_plans() {
    let j = fixture::mid_run();
    let mut ui = fixture::ui(&j, (160, 48));
    let text_plan = fixture::PLAN.replacen(
        "needs = [\"deploy-eu\"]",
        "needs = [\"deploy-eu\", \"billing:deploy-prod\"]",
        1,
    );
    let plan =
        flightdeck::plan::load_str(&text_plan, std::path::Path::new("/srv/shop/flightdeck.toml")).unwrap();
    ui.plan = Some(std::sync::Arc::new(plan));
    ui.release.train = Some(flightdeck::engine::state::TrainLink {
        name: "spring".into(),
        workspace: "commerce".into(),
        started: 1,
        gates: Vec::new(),
    });
    let smoke = ui
        .release
        .stages
        .iter_mut()
        .find(|s| s.decl.id == "smoke")
        .unwrap();
    smoke.waiting = Some("waiting for billing:deploy-prod (running)".into());
    let t = terminal(&ui, 160, 48);
    let screen = text(t.backend().buffer());
    assert!(screen.contains("← deploy-eu, billing:deploy-prod"), "{screen}");
    assert!(
        screen.contains("smoke waiting for billing:deploy-prod (running)"),
        "{screen}"
    );
}
