//! Helpers for the cockpit's reducer and view tests: keys as messages, and a state drawn on
//! ratatui's `TestBackend` with a fixed clock, read back as text and searched cell by cell.
#![allow(dead_code)]

use crate::fixture;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::state::UiState;
use flightdeck::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

pub fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Type `text` (each character a key); the effects they asked for.
pub fn typed(ui: &mut UiState, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| ui.update(key(c))).collect()
}

/// `ui` drawn at `w`x`h` at the fixtures' `now`.
pub fn terminal(ui: &UiState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| views::render(f, ui, fixture::now())).unwrap();
    t
}

/// The screen of [`terminal`].
pub fn draw(ui: &UiState, w: u16, h: u16) -> Buffer {
    terminal(ui, w, h).backend().buffer().clone()
}

/// The screen as text, a line per row.
pub fn text(buf: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// The cell where `needle` starts (first occurrence on screen).
pub fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    find_in(buf, buf.area, needle)
}

/// The cell where `needle` starts inside `within` (first occurrence).
pub fn find_in(buf: &Buffer, within: Rect, needle: &str) -> (u16, u16) {
    let chars: Vec<String> = needle.chars().map(|c| c.to_string()).collect();
    for y in within.top()..within.bottom() {
        for x in within.left()..within.right() {
            let hit = chars.iter().enumerate().all(|(i, c)| {
                let cx = x + i as u16;
                cx < within.right() && buf[(cx, y)].symbol() == c
            });
            if hit {
                return (x, y);
            }
        }
    }
    panic!("`{needle}` not in {within:?}:\n{}", text(buf));
}
