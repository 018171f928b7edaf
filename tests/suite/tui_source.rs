//! The cockpit's real tail ([`ReleaseSource`]) on real files: journal records arrive as
//! messages, the selected run's log goes into the ring, inotify wakes it, a finished run's
//! unterminated last line is shown.

use crate::fixture;
use crate::screen;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use flightdeck::event::{Event, Outcome, RunKey, RunKind, StageDecl};
use flightdeck::journal::{Journal, ReleaseDir, Store};
use flightdeck::runlog::{LineKind, Masker};
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::event_loop::Source;
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::source::{NoLauncher, ReleaseSource};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;

/// A release "1.0" of plan "p" in a temp store whose `stages` each have a run started, logging to
/// `logs/<stage>.1.log`.
fn release_with_runs(stages: &[&str]) -> (tempfile::TempDir, Store, ReleaseDir, Journal) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store {
        root: tmp.path().to_path_buf(),
    };
    let rdir = store.create_release("p", "1.0").unwrap();
    let mut journal = Journal::open(&rdir.journal(), Arc::new(Masker::default())).unwrap();
    let decl = |id: &&str| StageDecl {
        id: id.to_string(),
        needs: vec![],
        environment: None,
        targets: vec![],
        gates: vec![],
        has_rollback: false,
        retries: 0,
    };
    let mut events = vec![Event::ReleaseCreated {
        id: "1.0".into(),
        version: "1.0".into(),
        rtype: Default::default(),
        plan: "p".into(),
        plan_path: "/nowhere/flightdeck.toml".into(),
        stages: stages.iter().map(decl).collect(),
        gates: vec![],
        only: vec![],
    }];
    events.extend(stages.iter().map(|id| Event::RunStarted {
        run: run_key(id),
        run_kind: RunKind::Deploy,
        log: format!("logs/{id}.1.log"),
    }));
    journal.append("tester", events).unwrap();
    (tmp, store, rdir, journal)
}

fn run_key(stage: &str) -> RunKey {
    RunKey {
        stage: stage.into(),
        target: None,
        attempt: 1,
    }
}

/// The cockpit's real source on `rdir`, acting as "tester" (it starts nothing).
fn source(store: &Store, rdir: &ReleaseDir) -> ReleaseSource {
    let launcher = Arc::new(NoLauncher {
        actor: "tester".into(),
    });
    ReleaseSource::new(store.clone(), "p", Some(rdir), None, launcher)
}

fn apply(ui: &mut UiState, src: &mut ReleaseSource, msgs: Vec<Msg>) {
    for m in msgs {
        for fx in ui.update(m) {
            if let Effect::FollowLog { pane, log } = fx {
                src.follow(pane, log.as_deref());
            }
        }
    }
    for m in src.read_output(ui) {
        ui.update(m);
    }
}

fn texts(ui: &UiState) -> Vec<(LineKind, String)> {
    ui.output
        .ring
        .iter()
        .map(|l| (l.kind, String::from_utf8_lossy(&l.text).into_owned()))
        .collect()
}

#[tokio::test]
async fn tails_the_journal_and_the_selected_runs_log() {
    let (_tmp, store, rdir, mut journal) = release_with_runs(&["build"]);
    let run = run_key("build");
    let log_path = rdir.path.join("logs/build.1.log");
    let mut log = std::fs::File::create(&log_path).unwrap();
    log.write_all(b"@0\no \x1b[32mhello\x1b[0m\n@5\ne oops\n")
        .unwrap();

    let mut src = source(&store, &rdir);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    let first = src.poll();
    assert!(first.iter().any(|m| matches!(m, Msg::Records(r) if r.len() == 2)));
    assert!(first.iter().any(|m| matches!(m, Msg::Driver(None))));
    apply(&mut ui, &mut src, first);
    assert_eq!(ui.release.id, "1.0");
    assert_eq!(ui.output.log.as_deref(), Some("logs/build.1.log"));
    assert_eq!(
        texts(&ui),
        [
            (LineKind::Stdout, "\x1b[32mhello\x1b[0m".to_string()),
            (LineKind::Stderr, "oops".to_string())
        ]
    );

    // More output: inotify wakes the source, the new line (and a fragment) arrive.
    log.write_all(b"o world\nO 50%").unwrap();
    log.flush().unwrap();
    tokio::time::timeout(Duration::from_secs(10), src.wait())
        .await
        .expect("woken by the log's change");
    let msgs = src.poll();
    apply(&mut ui, &mut src, msgs);
    assert_eq!(texts(&ui).len(), 3);
    assert_eq!(texts(&ui)[2].1, "world");

    // The run ends: the unterminated fragment is shown once.
    journal
        .append(
            "driver",
            vec![Event::RunFinished {
                run,
                run_kind: RunKind::Deploy,
                outcome: Outcome::Succeeded,
                duration_ms: 10,
            }],
        )
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), src.wait())
        .await
        .expect("woken by the journal's change");
    let msgs = src.poll();
    apply(&mut ui, &mut src, msgs);
    apply(&mut ui, &mut src, Vec::new());
    let t = texts(&ui);
    assert_eq!(t.len(), 4, "{t:?}");
    assert_eq!(t[3], (LineKind::Stdout, "50%".to_string()));
    assert_eq!(ui.output.total, 4);

    // Nothing changed: a poll brings no records and no output. (Answers of work started
    // earlier off the loop, a board reload held back by its rate limit or a drift load, may
    // still arrive: they are not changes of the journal or the log.)
    let late = src.poll();
    assert!(
        !late.iter().any(|m| matches!(
            m,
            Msg::Records(_) | Msg::OutputGrew { .. } | Msg::LinesRead { .. }
        )),
        "{late:?}"
    );
    assert!(src.read_output(&mut ui).is_empty());
}

/// Effects the test's loop performs: tails followed, the rest performed by the source.
fn perform(ui: &mut UiState, src: &mut ReleaseSource, fx: Vec<Effect>) {
    for f in fx {
        match f {
            Effect::FollowLog { pane, log } => src.follow(pane, log.as_deref()),
            other => src.perform(other),
        }
    }
    for m in src.read_output(ui) {
        let fx = ui.update(m);
        perform(ui, src, fx);
    }
}

/// Wait (with a deadline) for the source's answer matching `want`, applying every message.
async fn answer(ui: &mut UiState, src: &mut ReleaseSource, want: impl Fn(&Msg) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let msgs = tokio::time::timeout_at(deadline, src.wait())
            .await
            .expect("the source answered in time");
        let hit = msgs.iter().any(&want);
        for m in msgs {
            let fx = ui.update(m);
            perform(ui, src, fx);
        }
        if hit {
            return;
        }
    }
}

/// What line `i` of the big log says (every 1000th, at 500, is on stderr, written in fragments).
fn big_line(i: u64) -> String {
    if i % 1000 == 500 {
        format!("ERR at {i}")
    } else {
        format!("line {i}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_lines_from_before_the_ring_back_and_searches_the_whole_log() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use flightdeck::tui::layout::Focus;
    use flightdeck::tui::output_pane::RING_LINES;
    let (_tmp, store, rdir, _journal) = release_with_runs(&["build"]);
    // 3 x the ring, with time markers and lines joined from fragments.
    let total = 3 * RING_LINES as u64;
    let mut bytes = Vec::new();
    for i in 0..total {
        if i % 100 == 0 {
            bytes.extend_from_slice(format!("@{i}\n").as_bytes());
        }
        if i % 1000 == 500 {
            bytes.extend_from_slice(format!("E ERR\ne  at {i}\n").as_bytes());
        } else {
            bytes.extend_from_slice(format!("o line {i}\n").as_bytes());
        }
    }
    std::fs::write(rdir.path.join("logs/build.1.log"), &bytes).unwrap();

    let mut src = source(&store, &rdir);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    ui.update(Msg::Resize(160, 40));
    let first = src.poll();
    apply(&mut ui, &mut src, first);
    for _ in 0..10 {
        perform(&mut ui, &mut src, Vec::new());
    }
    assert_eq!(ui.output.total, total);
    assert_eq!(ui.output.ring.len(), RING_LINES);
    assert_eq!(ui.output.ring_start(), total - RING_LINES as u64);

    // To the top: the first lines are read back from the file.
    ui.modal = None; // the offer to resume (no driver runs this release)
    ui.focus = Focus::Output;
    let key = |c: KeyCode| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    let fx = ui.update(key(KeyCode::Char('g')));
    assert!(matches!(fx[..], [Effect::ReadLines { first: 0, .. }]), "{fx:?}");
    perform(&mut ui, &mut src, fx);
    while ui.output.line(0).is_none() {
        answer(&mut ui, &mut src, |m| matches!(m, Msg::LinesRead { .. })).await;
    }
    for i in [0, 1, 100, 500] {
        let l = ui.output.line(i).unwrap_or_else(|| panic!("line {i} read back"));
        assert_eq!(String::from_utf8_lossy(&l.text), big_line(i));
        assert_eq!(l.t_ms, i / 100 * 100, "line {i}'s time");
    }
    assert_eq!(ui.output.line(500).unwrap().kind, LineKind::Stderr);

    // Down into the middle of the log: read from a resume point of the tail's index, the same
    // lines as a parse from the start gives.
    let mut reads = 0;
    while ui.output.bottom().unwrap() < 2 * RING_LINES as u64 - 100 {
        let fx = ui.update(key(KeyCode::PageDown));
        reads += fx
            .iter()
            .filter(|f| matches!(f, Effect::ReadLines { .. }))
            .count();
        perform(&mut ui, &mut src, fx);
        // The view's lines come with the answer to this read-back, or to one already in flight
        // that covers them (answers to older ones are dropped by the reducer).
        while ui.output.bottom().and_then(|b| ui.output.line(b)).is_none() {
            answer(&mut ui, &mut src, |m| matches!(m, Msg::LinesRead { .. })).await;
        }
        let b = ui.output.bottom().unwrap();
        let l = ui.output.line(b).expect("the bottom line is in memory");
        assert_eq!(String::from_utf8_lossy(&l.text), big_line(b));
        assert_eq!(l.t_ms, b / 100 * 100);
    }
    assert!(reads >= 5, "{reads} read-backs");

    // Search the whole log: matches before the ring and in it.
    ui.update(key(KeyCode::Char('/')));
    for c in "err at".chars() {
        ui.update(key(KeyCode::Char(c)));
    }
    let fx = ui.update(key(KeyCode::Enter));
    assert!(
        matches!(fx[..], [Effect::Search { upto, .. }] if upto == total),
        "{fx:?}"
    );
    perform(&mut ui, &mut src, fx);
    answer(&mut ui, &mut src, |m| matches!(m, Msg::SearchDone { .. })).await;
    let s = ui.output.search.clone().unwrap();
    let want: Vec<u64> = (0..total).filter(|i| i % 1000 == 500).collect();
    assert_eq!(s.matches, want);
    assert!(s.done && s.error.is_none());
    // n moves to a match far above the ring: read back, shown, highlighted by the view.
    let fx = ui.update(key(KeyCode::Char('N')));
    let line = ui.output.search.as_ref().unwrap().current_line().unwrap();
    assert!(want.contains(&line));
    perform(&mut ui, &mut src, fx);
    // An earlier read-back may answer first (the reducer drops it): wait for this one's.
    while ui.output.line(line).is_none() {
        answer(&mut ui, &mut src, |m| matches!(m, Msg::LinesRead { .. })).await;
    }
    assert_eq!(
        String::from_utf8_lossy(&ui.output.line(line).unwrap().text),
        big_line(line)
    );
}

#[test]
fn the_pager_gets_a_plain_rendering() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("x.log");
    std::fs::write(
        &log,
        b"# $ ./deploy.sh\n@5\no \x1b[32mok\x1b[0m \x1b]0;title\x07done\ne oops\no \x00\x01\x02\x03bin\n",
    )
    .unwrap();
    let mut out = Vec::new();
    flightdeck::tui::log_tail::write_plain(&log, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "\x1b[2m$ ./deploy.sh\x1b[0m\n\x1b[0;32mok\x1b[0m done\n▌oops\n(binary output, 7 bytes, not shown)\n"
    );
}

#[tokio::test]
async fn a_flooding_log_does_not_starve_the_other_panes() {
    use flightdeck::tui::output_pane::OutputPane;
    let (_tmp, store, rdir, _journal) = release_with_runs(&["quiet", "flood"]);
    // 8 MiB of flood, 10 quiet lines.
    let mut flood = Vec::new();
    let mut i = 0;
    while flood.len() < 8 << 20 {
        flood.extend_from_slice(format!("o flood line {i}\n").as_bytes());
        i += 1;
    }
    std::fs::write(rdir.path.join("logs/flood.1.log"), &flood).unwrap();
    let quiet: String = (0..10).map(|i| format!("o quiet {i}\n")).collect();
    std::fs::write(rdir.path.join("logs/quiet.1.log"), quiet).unwrap();

    let mut src = source(&store, &rdir);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    ui.update(Msg::Resize(160, 40));
    // Pane 0 follows the selection (the quiet run, the first running); a second pane shows the
    // flood.
    let first = src.poll();
    for m in first {
        for fx in ui.update(m) {
            if let Effect::FollowLog { pane, log } = fx {
                src.follow(pane, log.as_deref());
            }
        }
    }
    assert_eq!(ui.output.log.as_deref(), Some("logs/quiet.1.log"));
    ui.pinned.push(OutputPane {
        id: 9,
        log: Some("logs/flood.1.log".into()),
        ..OutputPane::default()
    });
    src.follow(9, Some("logs/flood.1.log"));
    // One read: the flood is taken in a slice (keys and frames get their turn), the quiet pane
    // gets all its lines in the same read.
    let grew = src.read_output(&mut ui);
    assert_eq!(grew.len(), 2, "{grew:?}");
    assert_eq!(ui.output.total, 10);
    let slice = ui.pinned[0].total;
    assert!(slice > 0 && slice < i as u64 / 4, "{slice} of {i}");
    // The flood arrives in full over the next reads; the quiet pane takes nothing more.
    for _ in 0..100 {
        if src.read_output(&mut ui).is_empty() {
            break;
        }
    }
    assert_eq!(ui.pinned[0].total, i as u64);
    assert_eq!(ui.output.total, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_two_million_lines_happens_off_the_ui_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store {
        root: tmp.path().to_path_buf(),
    };
    let rdir = store.create_release("p", "1.0").unwrap();
    let lines = 2_000_000u64;
    let mut bytes = Vec::with_capacity(24 << 20);
    for i in 0..lines {
        if i % 500_000 == 0 {
            bytes.extend_from_slice(format!("@{i}\n").as_bytes());
        }
        // Coloured, so the search looks at the text with escapes applied.
        if i % 100_000 == 7 {
            bytes.extend_from_slice(format!("e \x1b[31mFA\x1b[0mILED at {i}\n").as_bytes());
        } else {
            bytes.extend_from_slice(format!("o row {i}\n").as_bytes());
        }
    }
    std::fs::write(rdir.path.join("logs/big.1.log"), &bytes).unwrap();
    let mut src = source(&store, &rdir);
    let _ = src.poll();
    let started = std::time::Instant::now();
    src.perform(Effect::Search {
        pane: 0,
        log: "logs/big.1.log".into(),
        term: "failed".into(),
        generation: 1,
        upto: lines,
    });
    let handed_over = started.elapsed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    // Progress comes as it goes (found so far, lines searched), then the end.
    let mut found = Vec::new();
    let mut progress = Vec::new();
    let capped = 'done: loop {
        let msgs = tokio::time::timeout_at(deadline, src.wait())
            .await
            .expect("the search answered in time");
        for m in msgs {
            match m {
                Msg::SearchFound {
                    matches, searched, ..
                } => {
                    found.extend(matches);
                    progress.push(searched);
                }
                Msg::SearchDone { result, .. } => {
                    let (last, capped) = result.unwrap();
                    found.extend(last);
                    break 'done capped;
                }
                _ => {}
            }
        }
    };
    let searched = started.elapsed();
    assert_eq!(progress, (1..8).map(|k| k * 250_000).collect::<Vec<u64>>());
    let want: Vec<u64> = (0..lines).filter(|i| i % 100_000 == 7).collect();
    assert_eq!(found, want);
    assert!(!capped);
    // The UI thread only handed the search over: it was free all the while.
    assert!(
        handed_over * 20 < searched,
        "perform took {handed_over:?} of the search's {searched:?}"
    );
}

#[tokio::test]
async fn a_big_log_says_it_is_being_read_until_it_reaches_the_end() {
    let (_tmp, store, rdir, _journal) = release_with_runs(&["big"]);
    let mut bytes = Vec::new();
    let mut i = 0;
    while bytes.len() < 12 << 20 {
        bytes.extend_from_slice(format!("o row {i}\n").as_bytes());
        i += 1;
    }
    std::fs::write(rdir.path.join("logs/big.1.log"), &bytes).unwrap();
    let mut src = source(&store, &rdir);
    let mut ui = UiState::new(Keymap::default(), Theme::new(false));
    ui.update(Msg::Resize(160, 48));
    let first = src.poll();
    apply(&mut ui, &mut src, first);
    // The first read takes a slice: the pane is far from the end and says how far it got.
    let p = ui
        .output
        .catching_up
        .expect("reading a 12 MiB log takes several reads");
    assert!(p < 100, "{p}");
    let screen = screen::text(&screen::draw(&ui, 160, 48));
    assert!(screen.contains(&format!("reading the log… {p}%")), "{screen}");
    assert!(!screen.contains("following"), "{screen}");
    for _ in 0..100 {
        if src.read_output(&mut ui).is_empty() {
            break;
        }
    }
    assert_eq!(ui.output.catching_up, None);
    assert_eq!(ui.output.total, i as u64);
    assert!(screen::text(&screen::draw(&ui, 160, 48)).contains("following"));
}

/// A journal line that does not chain (appended by hand): the cockpit shows the records before
/// it and the release as needing attention, with the line named in the status bar.
#[tokio::test]
async fn a_journal_that_stops_chaining_shows_the_release_as_needing_attention() {
    let (_tmp, store, rdir, _journal) = release_with_runs(&["build"]);
    let forged = serde_json::json!({
        "seq": 3, "ts": "2026-01-01T00:00:00Z", "actor": "mallory", "prev": "0".repeat(64),
        "kind": "run_finished", "stage": "build", "attempt": 1, "outcome": "succeeded", "duration_ms": 1,
    });
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(rdir.journal())
        .unwrap();
    writeln!(f, "{forged}").unwrap();

    let mut src = source(&store, &rdir);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    let msgs = src.poll();
    assert!(
        msgs.iter().any(|m| matches!(m, Msg::Records(r) if r.len() == 2)),
        "{msgs:?}"
    );
    apply(&mut ui, &mut src, msgs);
    assert_eq!(ui.release.state_word(false), "attention");
    assert!(
        ui.release
            .attention
            .as_deref()
            .is_some_and(|a| a.contains("journal.jsonl:3:")),
        "{:?}",
        ui.release.attention
    );
    assert!(
        ui.problem
            .as_deref()
            .is_some_and(|p| p.contains("journal.jsonl:3:")),
        "{:?}",
        ui.problem
    );
    let build = &ui.release.stages[0].targets[0];
    assert!(
        build.attempts[0].running(),
        "the forged end of the run was not folded"
    );
    // Said once.
    assert!(
        src.poll()
            .iter()
            .all(|m| !matches!(m, Msg::Broken(_) | Msg::Problem(_)))
    );
    // The board says so too.
    let rows = flightdeck::tui::source::load_board(&store, "p", 10);
    assert_eq!(rows[0].state, "attention");
}

#[tokio::test]
async fn a_removed_release_folder_is_said_and_not_offered_for_resuming() {
    let (_tmp, store, rdir, _journal) = release_with_runs(&["build"]);
    // A driver holds it while the cockpit loads it.
    let lock = rdir.lock_driver().unwrap().expect("the driver lock is free");
    let mut src = source(&store, &rdir);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    let msgs = src.poll();
    apply(&mut ui, &mut src, msgs);
    assert!(ui.driver.is_some() && !ui.release.id.is_empty());
    // Its folder goes (as a demo's temp folder can), and its driver with it: no resume offer,
    // the removal said instead.
    std::fs::remove_dir_all(&rdir.path).unwrap();
    drop(lock);
    let msgs = src.poll();
    apply(&mut ui, &mut src, msgs);
    assert!(
        ui.problem.as_deref().is_some_and(|p| p.contains("was removed")),
        "{:?}",
        ui.problem
    );
    assert!(
        ui.modal.is_none(),
        "a release whose folder is gone is not offered for resuming: {:?}",
        ui.modal
    );
    // Said once, not again on every poll.
    let again = src.poll();
    assert!(!again.iter().any(|m| matches!(m, Msg::Problem(_))), "{again:?}");
}

/// What runs where comes with the board (the rollback confirmation names newer live releases
/// from it): read from the plan's history on real files.
#[tokio::test]
async fn the_places_come_with_the_board() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store {
        root: tmp.path().to_path_buf(),
    };
    let rdir = store.create_release("shop", "2.4.0").unwrap();
    std::fs::write(rdir.plan_copy(), fixture::PLAN).unwrap();
    let mut journal = Journal::open(&rdir.journal(), Arc::new(Masker::default())).unwrap();
    // The sample release that failed on eu-4 and eu-5: eu-1..3 run it.
    for r in fixture::failed().records {
        journal.append(&r.actor, vec![r.event]).unwrap();
    }
    let launcher = Arc::new(NoLauncher {
        actor: "tester".into(),
    });
    let mut src = ReleaseSource::new(store.clone(), "shop", Some(&rdir), None, launcher);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    let msgs = src.poll();
    assert!(msgs.iter().any(|m| matches!(m, Msg::Places(_))), "{msgs:?}");
    apply(&mut ui, &mut src, msgs);
    let live = |t: &str| {
        ui.places
            .iter()
            .find(|p| p.env == "prod" && p.target.as_deref() == Some(t))
            .and_then(|p| p.live.as_ref())
            .map(|d| d.version.clone())
    };
    assert_eq!(live("eu-1").as_deref(), Some("2.4.0"));
    assert_eq!(live("eu-4"), None, "its deploy failed there");
}
