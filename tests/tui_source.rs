//! The cockpit's real tail ([`ReleaseSource`]) on real files: journal records arrive as
//! messages, the selected run's log goes into the ring, inotify wakes it, a finished run's
//! unterminated last line is shown.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use flightdeck::engine::event::{Event, Outcome, RunKey, RunKind, StageDecl};
use flightdeck::engine::output::{LineKind, Masker};
use flightdeck::journal::{Journal, Store};
use flightdeck::tui::app::{Effect, Msg, UiState};
use flightdeck::tui::event_loop::{NoLauncher, ReleaseSource, Source};
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::theme::Theme;

fn apply(ui: &mut UiState, src: &mut ReleaseSource, msgs: Vec<Msg>) {
    for m in msgs {
        for fx in ui.update(m) {
            if let Effect::FollowLog(log) = fx {
                src.follow(log.as_deref());
            }
        }
    }
    if let Some(m) = src.read_output(ui) {
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
    let tmp = tempfile::tempdir().unwrap();
    let store = Store {
        root: tmp.path().to_path_buf(),
    };
    let rdir = store.create_release("p", "1.0").unwrap();
    let mut journal = Journal::open(&rdir.journal(), Arc::new(Masker::default())).unwrap();
    let run = RunKey {
        stage: "build".into(),
        target: None,
        attempt: 1,
    };
    journal
        .append(
            "tester",
            vec![
                Event::ReleaseCreated {
                    id: "1.0".into(),
                    version: "1.0".into(),
                    rtype: Default::default(),
                    plan: "p".into(),
                    plan_path: "/nowhere/flightdeck.toml".into(),
                    stages: vec![StageDecl {
                        id: "build".into(),
                        needs: vec![],
                        environment: None,
                        targets: vec![],
                        gates: vec![],
                        has_rollback: false,
                        retries: 0,
                    }],
                    gates: vec![],
                },
                Event::RunStarted {
                    run: run.clone(),
                    run_kind: RunKind::Deploy,
                    log: "logs/build.1.log".into(),
                },
            ],
        )
        .unwrap();
    let log_path = rdir.path.join("logs/build.1.log");
    let mut log = std::fs::File::create(&log_path).unwrap();
    log.write_all(b"@0\no \x1b[32mhello\x1b[0m\n@5\ne oops\n")
        .unwrap();

    let launcher = Arc::new(NoLauncher {
        actor: "tester".into(),
    });
    let mut src = ReleaseSource::new(store.clone(), "p", Some(&rdir), None, launcher);
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

    // Nothing changed: a poll says nothing.
    assert!(src.poll().is_empty());
    assert!(src.read_output(&mut ui).is_none());
}
