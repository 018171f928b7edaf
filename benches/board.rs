//! The workspace board at scale (issue 15: 50 plans × 200 releases must open in under 300 ms and
//! repaint in under 1 ms per frame).
//!
//!     cargo bench --bench board                      # 50 plans × 200 releases
//!     BOARD_PLANS=10 BOARD_RELEASES=50 BENCH_REPS=5 cargo bench --bench board
//!
//! Each plan has 200 finished releases (journals written directly, chained like any journal,
//! backdated; every seventh rolled back on prod) and the finished-release index made from them
//! (each summary folded from its journal, as closing a release does), plus one release still
//! deploying to prod (marked open). What is measured, interleaved with its baseline in the same
//! run (the machines are shared and noisy), medians:
//!
//! - **open**: what the cockpit does before the board's first full frame: load and check the
//!   workspace file and its 50 plans, read every plan's board (its open releases folded, its
//!   newest finished ones from its index, what runs where), the trains, and draw the first
//!   frame at 200x50. Baseline: the same for one plan's board (its plan loaded, its board and
//!   what runs where read as the cockpit's release board does, `source::load_board_and_places`).
//! - **frame**: one frame of the board at 200x50 on ratatui's `TestBackend`, the selection moving
//!   every frame (so the diff has work to do). Baseline: one frame of the release view at 200x50
//!   (`tests/support/fixture.rs`'s release mid-run), drawn the same way.

mod common;
#[path = "../tests/support/fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::at;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::engine::history::Summary;
use flightdeck::engine::state::ReleaseState;
use flightdeck::event::{Event, FinalState, Outcome, RunKey, RunKind, StageDecl};
use flightdeck::journal::Store;
use flightdeck::tui::app::{Msg, WsUpdate};
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;
use flightdeck::tui::views;
use flightdeck::tui::workspace::WsBoard;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const W: u16 = 200;
const H: u16 = 50;

fn decl(id: &str, needs: &[&str], env: &str, targets: &[&str]) -> StageDecl {
    StageDecl {
        id: id.into(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        environment: Some(env.into()),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        gates: vec![],
        has_rollback: true,
        retries: 0,
    }
}

fn key(stage: &str, target: Option<&str>) -> RunKey {
    RunKey {
        stage: stage.into(),
        target: target.map(str::to_string),
        attempt: 1,
    }
}

/// A run of `stage` (on `target`) that succeeds 30 s after it starts, 5 s after `t`; only
/// started when `finish` is false.
fn push_run(
    events: &mut Vec<(i64, Event)>,
    t: &mut i64,
    stage: &str,
    target: Option<&str>,
    kind: RunKind,
    finish: bool,
) {
    *t += 5;
    events.push((
        *t,
        Event::RunStarted {
            run: key(stage, target),
            run_kind: kind,
            log: format!("logs/{stage}.1.log"),
        },
    ));
    if !finish {
        return;
    }
    *t += 30;
    events.push((
        *t,
        Event::RunFinished {
            run: key(stage, target),
            run_kind: kind,
            outcome: Outcome::Succeeded,
            duration_ms: 30_000,
        },
    ));
}

/// Release `n` of `plan` (version `1.<n>`): finished (returns its summary), or, when `open`,
/// deploying to prod.
fn write_release(store: &Store, plan: &str, plan_file: &Path, n: usize, open: bool) -> Option<Summary> {
    let version = format!("1.{n}");
    let rdir = store.create_release(plan, &version).unwrap();
    let start = n as i64 * 600;
    let mut events: Vec<(i64, Event)> = vec![(
        start,
        Event::ReleaseCreated {
            id: rdir.id.clone(),
            version: version.clone(),
            rtype: Default::default(),
            plan: plan.into(),
            plan_path: plan_file.to_string_lossy().into_owned(),
            stages: vec![
                decl("stage", &[], "staging", &[]),
                decl("prod", &["stage"], "prod", &["eu", "us"]),
            ],
            gates: vec![],
            only: vec![],
        },
    )];
    let mut t = start;
    push_run(&mut events, &mut t, "stage", None, RunKind::Deploy, true);
    events.push((
        t,
        Event::StageSucceeded {
            stage: "stage".into(),
        },
    ));
    push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Deploy, !open);
    if !open {
        push_run(&mut events, &mut t, "prod", Some("us"), RunKind::Deploy, true);
        events.push((t, Event::StageSucceeded { stage: "prod".into() }));
        let state = if n % 7 == 6 {
            push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Rollback, true);
            push_run(&mut events, &mut t, "prod", Some("us"), RunKind::Rollback, true);
            FinalState::RolledBack
        } else {
            FinalState::Succeeded
        };
        events.push((
            t + 1,
            Event::ReleaseFinished {
                state,
                reason: String::new(),
            },
        ));
    }
    let (text, records) = common::chained(events.into_iter().map(|(s, e)| (at(s), e)).collect());
    std::fs::write(rdir.journal(), &text).unwrap();
    if open {
        return None;
    }
    // Closed as the driver closes a release: its summary made from what the journal holds.
    rdir.unmark_open().unwrap();
    Summary::of(&ReleaseState::from_records(&records), text.len() as u64)
}

/// The workspace: `plans` plans of `releases` finished releases each and one deploying, their
/// indexes written; the workspace file.
fn build(root: &Path, plans: usize, releases: usize) -> (PathBuf, Store) {
    let store = Store {
        root: root.join("data"),
    };
    let work = root.join("work");
    for p in 0..plans {
        let name = format!("svc-{p:02}");
        let dir = work.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let plan_file = dir.join("flightdeck.toml");
        std::fs::write(&plan_file, common::two_env_plan(&name)).unwrap();
        let mut summaries: Vec<Summary> = (0..releases)
            .filter_map(|n| write_release(&store, &name, &plan_file, n, false))
            .collect();
        write_release(&store, &name, &plan_file, releases, true);
        summaries.sort_by_key(|s| s.finished_at);
        let mut index = format!(
            "{{\"flightdeck_index\":{},\"plan\":\"{name}\",\"revision\":{}}}\n",
            flightdeck::engine::history::FORMAT,
            flightdeck::engine::history::REVISION
        );
        for s in &summaries {
            index.push_str(&serde_json::to_string(s).unwrap());
            index.push('\n');
        }
        let plan_dir = store.plan_dir(&name).unwrap();
        std::fs::write(flightdeck::engine::history::index_path(&plan_dir), index).unwrap();
    }
    let ws_file = work.join("flightdeck-workspace.toml");
    std::fs::write(
        &ws_file,
        "[workspace]\nname = \"bench\"\nplans = [\"*/flightdeck.toml\"]\n",
    )
    .unwrap();
    (ws_file, store)
}

fn terminal() -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(W, H)).unwrap()
}

/// Open the board: the workspace and its plans loaded and checked, every plan's board read, the
/// first frame drawn. The state, for the frames after.
fn open_board(ws_file: &Path, store: &Store, term: &mut Terminal<TestBackend>) -> UiState {
    let ws = flightdeck::plan::workspace::load_workspace(ws_file).unwrap();
    let plans = flightdeck::plan::workspace::check_workspace(&ws).unwrap();
    let now = Utc::now();
    let board = flightdeck::engine::board::load(store, &ws.name, &plans, now);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    ui.update(Msg::Resize(W, H));
    let shape: Vec<(String, Vec<String>)> = plans
        .iter()
        .map(|p| (p.name.clone(), p.environments.keys().cloned().collect()))
        .collect();
    ui.ws = Some(WsBoard::new(&ws.name, &shape, true));
    ui.update(Msg::Workspace(Box::new(WsUpdate {
        plans: board.plans,
        trains: Some(board.trains),
        ..WsUpdate::default()
    })));
    term.draw(|f| views::render(f, &ui, now)).unwrap();
    ui
}

/// The baseline: one plan's board, as the cockpit's release board reads it.
fn open_one(plan_file: &Path, store: &Store) -> usize {
    let plan = flightdeck::plan::load(plan_file).unwrap();
    let (rows, places) = flightdeck::tui::source::load_board_and_places(store, &plan.name, 50, Some(&plan));
    rows.len() + places.len()
}

fn down(ui: &mut UiState, i: usize) {
    let code = if (i / 40).is_multiple_of(2) {
        KeyCode::Down
    } else {
        KeyCode::Up
    };
    ui.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let var = |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).unwrap_or(d);
    let (plans, releases, reps) = (
        var("BOARD_PLANS", 50),
        var("BOARD_RELEASES", 200),
        var("BENCH_REPS", 15),
    );
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let (ws_file, store) = build(tmp.path(), plans, releases);
    let built = t.elapsed();
    let one_plan = ws_file.parent().unwrap().join("svc-00/flightdeck.toml");
    println!(
        "workspace board: {plans} plans × {releases} finished releases (+1 deploying each); written in {:.1}s",
        built.as_secs_f64()
    );
    // Warm both paths once (the page cache, lazily built statics), then interleave.
    let mut term = terminal();
    let mut ui = open_board(&ws_file, &store, &mut term);
    let rows = ui.ws.as_ref().map_or(0, |w| w.rows().len());
    assert!(
        rows >= plans * 11.min(releases + 1),
        "the board lists {rows} releases"
    );
    open_one(&one_plan, &store);
    let (mut open, mut one) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let mut term = terminal();
        let t = Instant::now();
        let u = open_board(&ws_file, &store, &mut term);
        open.push(t.elapsed());
        std::hint::black_box(u);
        let t = Instant::now();
        std::hint::black_box(open_one(&one_plan, &store));
        one.push(t.elapsed());
    }
    let (open, one) = (median(open), median(one));
    println!(
        "  open (workspace and {plans} plans loaded and checked, every board read, first frame): median {:.1} ms of {reps} (goal < 300 ms)",
        ms(open)
    );
    println!(
        "  baseline, one plan's board read (interleaved): median {:.2} ms; the workspace board {:.1}x that ({:.2}x per plan)",
        ms(one),
        ms(open) / ms(one),
        ms(open) / ms(one) / plans as f64
    );
    // Frames: the board, the selection moving; against the release view's frame, interleaved.
    let mut release = fixture::ui(&fixture::mid_run(), (W, H));
    let mut rterm = terminal();
    let now = fixture::now();
    let frames = 200;
    let (mut board_f, mut release_f) = (Vec::new(), Vec::new());
    for r in 0..reps {
        let t = Instant::now();
        for i in 0..frames {
            down(&mut ui, r * frames + i);
            term.draw(|f| views::render(f, &ui, now)).unwrap();
        }
        board_f.push(t.elapsed() / frames as u32);
        let t = Instant::now();
        for i in 0..frames {
            // The release view's selection moves too (stage by stage).
            down(&mut release, r * frames + i);
            rterm.draw(|f| views::render(f, &release, now)).unwrap();
        }
        release_f.push(t.elapsed() / frames as u32);
    }
    let (board_f, release_f) = (median(board_f), median(release_f));
    println!(
        "  frame at {W}x{H} ({rows} releases listed): median {:.3} ms (goal < 1 ms); the release view's frame {:.3} ms (interleaved): {:.2}x",
        ms(board_f),
        ms(release_f),
        ms(board_f) / ms(release_f)
    );
}
