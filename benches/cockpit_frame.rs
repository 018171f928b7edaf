//! Drawing one cockpit frame at 200x50 with four output panes full of coloured lines (issue 5,
//! benchmarks: goal under 1 ms at the median), into ratatui's `TestBackend`. Once with the panes
//! following the end, once with each pane wrapped, timestamped and searching.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::engine::output::{LineKind, LogLineRef};
use flightdeck::tui::app::{Focus, Msg, UiState};
use flightdeck::tui::fixture;
use flightdeck::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn press(ui: &mut UiState, keys: &str) {
    for c in keys.chars() {
        let code = if c == '\n' {
            KeyCode::Enter
        } else {
            KeyCode::Char(c)
        };
        ui.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

/// The mid-run fixture at 200x50 with four panes of 10,000 coloured lines each.
fn four_panes() -> UiState {
    let mut ui = fixture::ui(&fixture::mid_run(), (200, 50));
    ui.modal = None;
    for _ in 0..3 {
        ui.focus = Focus::Pipeline;
        press(&mut ui, "+h");
    }
    let panes = ui.pane_count();
    for p in 0..panes {
        for i in 0..10_000u64 {
            let text = format!(
                "\x1b[3{}m{p}\x1b[0m line {i} \x1b[1;33mwarn\x1b[0m some text that is long enough to reach the edge of a pane, and then some more",
                i % 7 + 1
            );
            let line = LogLineRef {
                t_ms: i * 3,
                kind: if i % 9 == 0 {
                    LineKind::Stderr
                } else {
                    LineKind::Stdout
                },
                text: text.as_bytes(),
                truncated: false,
            };
            match p {
                0 => ui.output.push(line),
                p => ui.pinned[p - 1].push(line),
            }
        }
    }
    ui.focus = Focus::Output;
    ui
}

fn frame(c: &mut Criterion) {
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let now = fixture::now();
    let ui = four_panes();
    c.bench_function("frame 200x50, four panes", |b| {
        b.iter(|| {
            term.draw(|f| views::render(f, black_box(&ui), now)).unwrap();
        })
    });
    let mut ui = four_panes();
    for p in 0..ui.pane_count() {
        ui.pane = p;
        press(&mut ui, "wT/warn\n");
    }
    c.bench_function("frame 200x50, four panes wrapped, timestamped, searching", |b| {
        b.iter(|| {
            term.draw(|f| views::render(f, black_box(&ui), now)).unwrap();
        })
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
