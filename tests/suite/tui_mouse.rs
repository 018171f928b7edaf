//! The mouse in the reducer: a click where the views drew something selects it and focuses its
//! pane; the wheel scrolls the pane under the pointer; `m` turns capture off and on. Positions
//! come from rendering the state (`views::render`) and from `layout::panes`, the same layout the
//! views draw with.

use crate::fixture;
use crate::screen;

use crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use flightdeck::runlog::{LineKind, LogLineRef};
use flightdeck::tui::app::{Effect, Msg, WHEEL_LINES};
use flightdeck::tui::event_loop;
use flightdeck::tui::layout::{Focus, Layout};
use flightdeck::tui::state::UiState;
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use screen::{find_in, text};

fn mouse(kind: MouseEventKind, (x, y): (u16, u16)) -> Msg {
    Msg::Mouse(MouseEvent {
        kind,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    })
}

fn click(at: (u16, u16)) -> Msg {
    mouse(MouseEventKind::Down(MouseButton::Left), at)
}

fn panes(ui: &UiState) -> flightdeck::tui::layout::Panes {
    flightdeck::tui::layout::panes(Rect::new(0, 0, ui.size.0, ui.size.1), ui.focus)
}

#[test]
fn the_layout_function_is_what_the_views_draw() {
    for (w, h, layout) in [
        (160, 48, Layout::Wide),
        (100, 30, Layout::Medium),
        (80, 24, Layout::Narrow),
        (59, 16, Layout::TooSmall),
    ] {
        for focus in Focus::ALL {
            let mut ui = fixture::ui(&fixture::gated(), (w, h));
            ui.focus = focus;
            let p = panes(&ui);
            assert_eq!(p.layout, layout);
            if layout == Layout::TooSmall {
                assert_eq!(p.at(1, 1), None);
                continue;
            }
            // Each shown pane's top-left corner is a border corner of what was drawn.
            let buf = screen::draw(&ui, ui.size.0, ui.size.1);
            for f in Focus::ALL {
                if let Some(r) = p.of(f) {
                    assert_eq!(buf[(r.x, r.y)].symbol(), "┌", "{f:?} at {w}x{h}, focus {focus:?}");
                    assert_eq!(buf[(r.right() - 1, r.bottom() - 1)].symbol(), "┘");
                    assert_eq!(p.at(r.x + 1, r.y + 1).map(|(g, _)| g), Some(f));
                }
            }
            assert!(p.of(focus).is_some(), "the focused pane is shown");
        }
    }
}

#[test]
fn a_click_selects_a_stage_and_a_target_and_focuses_the_pipeline() {
    for size in [(160, 48), (100, 30)] {
        let mut ui = fixture::ui(&fixture::mid_run(), size);
        ui.focus = Focus::Board;
        let buf = screen::draw(&ui, ui.size.0, ui.size.1);
        let pipe = panes(&ui).pipeline.unwrap();
        let fx = ui.update(click(find_in(&buf, pipe, "test ")));
        assert_eq!(ui.focus, Focus::Pipeline);
        assert_eq!(ui.release.stages[ui.stage].decl.id, "test");
        assert!(!ui.auto_select);
        assert_eq!(
            fx,
            vec![Effect::FollowLog {
                pane: 0,
                log: Some("logs/test.1.log".into())
            }]
        );
        // Back to the fan-out; then a target cell of its grid.
        let buf = screen::draw(&ui, ui.size.0, ui.size.1);
        ui.update(click(find_in(&buf, pipe, "deploy-eu ")));
        assert_eq!(ui.release.stages[ui.stage].decl.id, "deploy-eu");
        assert_eq!(ui.target, 0);
        let buf = screen::draw(&ui, ui.size.0, ui.size.1);
        let fx = ui.update(click(find_in(&buf, pipe, "eu-4")));
        let s = &ui.release.stages[ui.stage];
        assert_eq!(s.targets[ui.target].label(), "eu-4", "{size:?}");
        assert_eq!(
            fx,
            vec![Effect::FollowLog {
                pane: 0,
                log: Some("logs/deploy-eu.eu-4.1.log".into())
            }]
        );
        // The status line below the grid selects nothing.
        let stage = ui.stage;
        ui.update(click((pipe.x + 1, pipe.bottom() - 1)));
        assert_eq!(ui.stage, stage);
    }
}

#[test]
fn a_click_selects_a_release_on_the_board() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    assert_eq!(ui.board_selected, 0);
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let board = panes(&ui).board.unwrap();
    ui.update(click(find_in(&buf, board, "2.3.0")));
    assert_eq!(ui.focus, Focus::Board);
    assert_eq!(ui.board_rows()[ui.board_selected].id, "2.3.0");
    // Its second line too.
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let (x, y) = find_in(&buf, board, "2.3.1");
    ui.update(click((x, y + 1)));
    assert_eq!(ui.board_rows()[ui.board_selected].id, "2.3.1");
    // Below the last release: nothing changes.
    ui.update(click((board.x + 2, board.bottom() - 2)));
    assert_eq!(ui.board_rows()[ui.board_selected].id, "2.3.1");
}

#[test]
fn a_click_selects_a_checklist_item() {
    let mut ui = fixture::ui(&fixture::gated(), (160, 48));
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let list = panes(&ui).checklist.unwrap();
    ui.update(click(find_in(&buf, list, "Error budget healthy")));
    assert_eq!(ui.focus, Focus::Checklist);
    assert_eq!(ui.item, 1);
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let (x, y) = find_in(&buf, list, "Release notes reviewed");
    // The line under the item (who ticked it) belongs to it too.
    ui.update(click((x, y + 1)));
    assert_eq!(ui.item, 0);
    // `t` now ticks that item.
    ui.update(Msg::Key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::NONE)));
    assert!(ui.modal.is_some());
}

#[test]
fn a_click_on_a_tab_switches_to_it_in_the_narrow_layout() {
    let mut ui = fixture::ui(&fixture::mid_run(), (80, 24));
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let tabs = panes(&ui).tabs.unwrap();
    ui.update(click(find_in(&buf, tabs, "Checklist")));
    assert_eq!(ui.focus, Focus::Checklist);
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    ui.update(click(find_in(&buf, tabs, "Board")));
    assert_eq!(ui.focus, Focus::Board);
}

#[test]
fn the_wheel_scrolls_the_pane_under_the_pointer() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.focus = Focus::Board;
    for i in 0..200 {
        let text = format!("line {i}");
        ui.output.push(LogLineRef {
            t_ms: 0,
            kind: LineKind::Stdout,
            text: text.as_bytes(),
            truncated: false,
        });
    }
    let p = panes(&ui);
    let out = p.output.unwrap();
    let mid = |r: Rect| (r.x + r.width / 2, r.y + r.height / 2);
    ui.update(mouse(MouseEventKind::ScrollUp, mid(out)));
    assert!(!ui.output.follow);
    assert_eq!(ui.output.scroll, WHEEL_LINES);
    assert_eq!(ui.focus, Focus::Board, "the wheel does not move the focus");
    ui.update(mouse(MouseEventKind::ScrollDown, mid(out)));
    assert_eq!(ui.output.scroll, 0);
    // Over the pipeline: the stage selection moves.
    let stage = ui.stage;
    ui.update(mouse(MouseEventKind::ScrollUp, mid(p.pipeline.unwrap())));
    assert_eq!(ui.stage, stage - 1);
    // Over the board: the release selection.
    ui.update(mouse(MouseEventKind::ScrollDown, mid(p.board.unwrap())));
    assert_eq!(ui.board_selected, 1);
}

#[test]
fn m_turns_capture_off_and_on_and_off_means_no_mouse() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    let m = || Msg::Key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE));
    let fx = ui.update(m());
    assert_eq!(fx, vec![Effect::MouseCapture(false)]);
    assert!(!ui.mouse_capture);
    let screen = text(&screen::draw(&ui, ui.size.0, ui.size.1));
    assert!(
        screen.contains("mouse off: select text with the terminal; m turns it back on"),
        "{screen}"
    );
    // Nothing the terminal might still send moves anything.
    let board = panes(&ui).board.unwrap();
    ui.update(click((board.x + 2, board.y + 3)));
    assert_eq!(ui.focus, Focus::Pipeline);
    let fx = ui.update(m());
    assert_eq!(fx, vec![Effect::MouseCapture(true)]);
    assert!(!text(&screen::draw(&ui, ui.size.0, ui.size.1)).contains("mouse off"));
    ui.update(click((board.x + 2, board.y + 3)));
    assert_eq!(ui.focus, Focus::Board);
}

#[test]
fn modals_keep_the_pointer_out() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(Msg::Key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE)));
    let board = panes(&ui).board.unwrap();
    ui.update(click((board.x + 2, board.y + 3)));
    assert_eq!(ui.focus, Focus::Pipeline);
    assert!(ui.help());
}

/// A source with nothing to say that records the effects it is asked to perform.
#[derive(Default)]
struct Quiet {
    performed: Vec<Effect>,
}

impl event_loop::Source for Quiet {
    async fn wait(&mut self) -> Vec<Msg> {
        std::future::pending().await
    }
    fn poll(&mut self) -> Vec<Msg> {
        Vec::new()
    }
    fn read_output(&mut self, _ui: &mut UiState) -> Vec<Msg> {
        Vec::new()
    }
    fn follow(&mut self, _pane: u32, _log: Option<&str>) {}
    fn perform(&mut self, effect: Effect) {
        self.performed.push(effect);
    }
}

/// Run the loop over `events` (then silence) for half a second of paused time (before the 1 Hz
/// clock of a running stage ticks).
async fn run_loop(ui: &mut UiState, events: Vec<TermEvent>) -> (event_loop::LoopStats, Quiet) {
    let mut term = Terminal::new(TestBackend::new(ui.size.0, ui.size.1)).unwrap();
    let mut input = futures::stream::iter(events.into_iter().map(Ok::<_, std::io::Error>))
        .chain(futures::stream::pending());
    let mut source = Quiet::default();
    let mut stats = event_loop::LoopStats::default();
    let clock = event_loop::FixedClock(fixture::now());
    let run = event_loop::run(
        &mut term,
        &mut input,
        &mut source,
        &clock,
        ui,
        event_loop::LoopConfig::default(),
        &mut stats,
    );
    let ended = tokio::time::timeout(std::time::Duration::from_millis(500), run).await;
    assert!(ended.is_err(), "the loop ended");
    (stats, source)
}

#[tokio::test(start_paused = true)]
async fn pointer_moves_never_wake_a_redraw() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    let moves = (0..500)
        .map(|i| {
            TermEvent::Mouse(MouseEvent {
                kind: if i % 2 == 0 {
                    MouseEventKind::Moved
                } else {
                    MouseEventKind::Drag(MouseButton::Left)
                },
                column: (i % 160) as u16,
                row: 10,
                modifiers: KeyModifiers::NONE,
            })
        })
        .collect();
    let (stats, _) = run_loop(&mut ui, moves).await;
    assert_eq!(stats.draws, 1, "only the first frame");
}

#[tokio::test(start_paused = true)]
async fn the_loop_hands_clicks_to_the_reducer_and_capture_to_the_source() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    let board = panes(&ui).board.unwrap();
    let events = vec![
        TermEvent::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: board.x + 2,
            row: board.y + 3,
            modifiers: KeyModifiers::NONE,
        }),
        TermEvent::Key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE)),
    ];
    let (_, source) = run_loop(&mut ui, events).await;
    assert_eq!(ui.focus, Focus::Board);
    assert_eq!(source.performed, vec![Effect::MouseCapture(false)]);
}

#[test]
fn clicks_on_clipped_lists_land_where_the_views_drew() {
    // A board longer than its pane: a marker counts what is above, clicks map through it.
    let mut ui = fixture::ui(&fixture::mid_run(), (100, 30));
    let mut rows = ui.board.clone();
    for i in 0..20 {
        let mut r = rows[0].clone();
        r.id = format!("1.{i}.0");
        r.version = r.id.clone();
        rows.push(r);
    }
    ui.update(Msg::Board(rows));
    ui.focus = Focus::Board;
    for _ in 0..15 {
        ui.update(screen::key('j'));
    }
    let board = panes(&ui).board.unwrap();
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let screen_text = screen::text(&buf);
    assert!(screen_text.contains("more above"), "{screen_text}");
    // The marker row does nothing; a release's row selects that release.
    let marker = find_in(&buf, board, "more above");
    let before = ui.board_selected;
    ui.update(click(marker));
    assert_eq!(ui.board_selected, before);
    let id = &ui.board_rows()[before - 1].version.clone();
    let at = find_in(&buf, board, id);
    ui.update(click(at));
    assert_eq!(ui.board_rows()[ui.board_selected].version, *id);

    // A checklist longer than its pane (100x30): the items still map to themselves.
    let mut ui = fixture::ui(&fixture::gated(), (100, 30));
    ui.focus = Focus::Checklist;
    let chk = panes(&ui).checklist.unwrap();
    // Item 2 selected: the pane scrolls to it, a marker counting the lines above.
    ui.update(screen::key('j'));
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    assert!(text(&buf).contains("… 3 more above"), "{}", text(&buf));
    let marker = find_in(&buf, chk, "… 3 more above");
    ui.update(click(marker));
    assert_eq!(ui.item, 1, "a marker selects nothing");
    // Item 1 selected: the top again, a marker counting the lines below; a click on item 2
    // (the row above that marker) selects it.
    ui.update(screen::key('k'));
    assert_eq!(ui.item, 0);
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let marker = find_in(&buf, chk, "… 3 more below");
    ui.update(click(marker));
    assert_eq!(ui.item, 0, "a marker selects nothing");
    let at = find_in(&buf, chk, "Error budget healthy");
    ui.update(click(at));
    assert_eq!(ui.item, 1, "{}", text(&buf));
}

#[test]
fn a_click_on_the_compact_grid_selects_that_target() {
    // 300 targets: one symbol a target; the selected one is spelled out below the grid.
    let mut ui = fixture::ui(&fixture::fanout(300), (160, 48));
    ui.focus = Focus::Pipeline;
    // A click on the second grid row: the row's first target is the width of the grid on.
    let width = usize::from(panes(&ui).pipeline.unwrap().width - 2);
    let pipe = panes(&ui).pipeline.unwrap();
    let inner = pipe.inner(ratatui::layout::Margin::new(1, 1));
    let buf = screen::draw(&ui, ui.size.0, ui.size.1);
    let t = text(&buf);
    assert!(t.contains("targets of rollout (300)"), "{t}");
    // The grid's first row starts right under the "targets of" line.
    let (_, y) = find_in(&buf, pipe, "targets of rollout (300)");
    let row = y + 1;
    for col in [0u16, 7, 36] {
        ui.update(click((inner.x + col, row)));
        assert_eq!(ui.target, usize::from(col), "column {col} of the first grid row");
        let buf = screen::draw(&ui, ui.size.0, ui.size.1);
        let want = format!("▸ {} ({}/300)", fixture::fanout_target(usize::from(col)), col + 1);
        assert!(text(&buf).contains(&want), "{want}:\n{}", text(&buf));
    }
    ui.update(click((inner.x + 3, row + 1)));
    assert_eq!(ui.target, width + 3, "the second row");
}
