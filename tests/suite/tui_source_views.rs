//! The cockpit's real source ([`ReleaseSource`]) on real files for the panes' data: the drift
//! summary loaded from a release's `drift-start.json` (and again when `drift-end.json` appears),
//! `D` probing afresh, and typical stage durations from two earlier releases' journals.

use crate::git_fixture;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use flightdeck::drift::compare::{Column, ColumnKind};
use flightdeck::drift::{State, snapshot};
use flightdeck::event::{Event, Outcome, Record, RunKey, RunKind, StageDecl};
use flightdeck::journal::{ReleaseDir, Store};
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::event_loop::Source;
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::source::{NoLauncher, ReleaseSource};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;

const PLAN: &str = r#"
[plan]
name = "p"

[environments.staging]
probe = "echo version=1.0; echo pool=20"

[environments.prod]
targets = ["eu", "us"]
probe = "echo version=0.9; echo pool={target}"

[drift]
baseline = "staging"

[[stage]]
id = "build"
run = "true"

[[stage]]
id = "deploy"
needs = ["build"]
run = "true"
"#;

fn decl(id: &str, needs: &[&str]) -> StageDecl {
    StageDecl {
        id: id.into(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        environment: None,
        targets: vec![],
        gates: vec![],
        has_rollback: false,
        retries: 0,
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap() + chrono::Duration::seconds(secs)
}

/// Write a journal by hand (the times matter): `build` and `deploy` succeeding after
/// `build_s` and `deploy_s` seconds, from `start` seconds.
fn write_release(
    store: &Store,
    plan_dir: &Path,
    version: &str,
    start: i64,
    runs: &[(&str, i64)],
) -> ReleaseDir {
    let rdir = store.create_release("p", version).unwrap();
    std::fs::write(rdir.plan_copy(), PLAN).unwrap();
    let mut events: Vec<(i64, Event)> = vec![(
        start,
        Event::ReleaseCreated {
            id: rdir.id.clone(),
            version: version.into(),
            rtype: Default::default(),
            plan: "p".into(),
            plan_path: plan_dir.join("flightdeck.toml").to_string_lossy().into_owned(),
            stages: vec![decl("build", &[]), decl("deploy", &["build"])],
            gates: vec![],
            only: vec![],
        },
    )];
    let mut t = start + 1;
    for (stage, secs) in runs {
        let run = RunKey {
            stage: stage.to_string(),
            target: None,
            attempt: 1,
        };
        events.push((
            t,
            Event::RunStarted {
                run: run.clone(),
                run_kind: RunKind::Deploy,
                log: format!("logs/{stage}.1.log"),
            },
        ));
        t += secs;
        events.push((
            t,
            Event::RunFinished {
                run,
                run_kind: RunKind::Deploy,
                outcome: Outcome::Succeeded,
                duration_ms: (*secs as u64) * 1000,
            },
        ));
        events.push((
            t,
            Event::StageSucceeded {
                stage: stage.to_string(),
            },
        ));
    }
    // Backdated, so written by hand, but chained like any journal (readers check the chain).
    let mut text = String::new();
    let mut prev = String::new();
    for (i, (secs, event)) in events.into_iter().enumerate() {
        let rec = Record {
            seq: i as u64 + 1,
            ts: at(secs),
            actor: "driver".into(),
            prev,
            event,
        };
        let line = serde_json::to_string(&rec).unwrap();
        prev = flightdeck::journal::line_hash(line.as_bytes());
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(rdir.journal(), text).unwrap();
    rdir
}

fn column(name: &str, pairs: &[(&str, &str)]) -> Column {
    let (env, target) = match name.split_once('/') {
        Some((e, t)) => (e.to_string(), Some(t.to_string())),
        None => (name.to_string(), None),
    };
    Column {
        name: name.into(),
        env,
        target,
        kind: ColumnKind::Probe,
        state: Ok(State::from_pairs(pairs.iter().copied()).unwrap()),
    }
}

fn apply(ui: &mut UiState, src: &mut ReleaseSource, msgs: Vec<Msg>) {
    for m in msgs {
        for fx in ui.update(m) {
            match fx {
                Effect::FollowLog { pane, log } => src.follow(pane, log.as_deref()),
                other => src.perform(other),
            }
        }
    }
}

/// Wait for the source and apply what it sends (performing effects like the loop) until `done`
/// holds, or fail after `deadline`.
async fn pump_until(
    ui: &mut UiState,
    src: &mut ReleaseSource,
    deadline: Duration,
    what: &str,
    done: impl Fn(&UiState) -> bool,
) {
    let end = Instant::now() + deadline;
    loop {
        let msgs = src.poll();
        apply(ui, src, msgs);
        if done(ui) {
            return;
        }
        let left = end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}: {:?}", ui.drift);
        if let Ok(msgs) = tokio::time::timeout(left, src.wait()).await {
            apply(ui, src, msgs);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_from_the_release_snapshot_and_typical_durations_from_earlier_releases() {
    let tmp = tempfile::tempdir().unwrap();
    let plan_dir = tmp.path().join("work");
    std::fs::create_dir_all(&plan_dir).unwrap();
    std::fs::write(plan_dir.join("flightdeck.toml"), PLAN).unwrap();
    // The plan's repository: v0.9, three commits, v1.0.
    let mut repo = git_fixture::TestRepo::init(&plan_dir);
    let old = repo.commit("feat: first", "alice");
    repo.tag("v0.9", old);
    for m in ["fix: a", "fix: b", "feat: c"] {
        repo.commit(m, "bob");
    }
    let new = repo.head().unwrap();
    repo.tag("v1.0", new);
    let store = Store {
        root: tmp.path().join("data"),
    };
    // Two earlier releases: build 10s and 30s (median 20s), deploy 60s and 100s (median 80s).
    write_release(&store, &plan_dir, "0.8", 0, &[("build", 10), ("deploy", 60)]);
    write_release(&store, &plan_dir, "0.9", 1000, &[("build", 30), ("deploy", 100)]);
    // The watched one, later, with its build done in 5s (not a sample of its own).
    let rdir = write_release(&store, &plan_dir, "1.0", 5000, &[("build", 5)]);
    let cols = vec![
        column("staging", &[("version", "1.0"), ("pool", "20")]),
        column("prod/eu", &[("version", "0.9"), ("pool", "20")]),
        column("prod/us", &[("version", "0.9"), ("pool", "30"), ("debug", "on")]),
    ];
    snapshot::write_snapshot(&rdir.path.join(snapshot::START_SNAPSHOT), "p", at(5000), &cols).unwrap();

    let launcher = Arc::new(NoLauncher { actor: "t".into() });
    let mut src = ReleaseSource::new(store.clone(), "p", Some(&rdir), None, launcher);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    pump_until(
        &mut ui,
        &mut src,
        Duration::from_secs(20),
        "drift and typical",
        |ui| ui.drift.overview.is_some() && !ui.typical.stages.is_empty(),
    )
    .await;

    assert_eq!(ui.release.id, "1.0");
    assert_eq!(ui.typical.of("build"), Some(20_000));
    assert_eq!(ui.typical.of("deploy"), Some(80_000));
    assert_eq!(ui.typical.stages["deploy"].1, 2);

    let o = ui.drift.overview.clone().unwrap();
    assert_eq!(o.source, "start of release 1.0");
    assert_eq!(o.baseline.as_deref(), Some("staging"));
    let rows: Vec<(&str, Option<&str>, usize, usize, usize)> = o
        .rows
        .iter()
        .map(|r| {
            (
                r.column.as_str(),
                r.version.as_deref(),
                r.differs,
                r.missing,
                r.extra,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("staging", Some("1.0"), 0, 0, 0),
            ("prod/eu", Some("0.9"), 1, 0, 0),
            ("prod/us", Some("0.9"), 2, 0, 1),
        ]
    );
    assert_eq!(o.rows[2].diffs[0].key, "debug");
    // Versions in git: prod runs v0.9, three commits behind staging and the release (v1.0).
    let eu = &o.rows[1];
    let d = eu.vs_baseline.as_ref().unwrap();
    assert_eq!(d.text(), "3 commits behind staging");
    assert_eq!(
        eu.vs_release.as_ref().unwrap().text(),
        "3 commits behind release 1.0"
    );
    assert!(
        o.rows[0].vs_baseline.is_none(),
        "the baseline is not compared with itself"
    );

    // The release ends: its drift-end.json replaces the start snapshot on screen.
    let cols = vec![
        column("staging", &[("version", "1.0"), ("pool", "20")]),
        column("prod/eu", &[("version", "1.0"), ("pool", "20")]),
        column("prod/us", &[("version", "1.0"), ("pool", "20")]),
    ];
    snapshot::write_snapshot(&rdir.path.join(snapshot::END_SNAPSHOT), "p", at(6000), &cols).unwrap();
    pump_until(
        &mut ui,
        &mut src,
        Duration::from_secs(20),
        "drift-end.json",
        |ui| {
            ui.drift
                .overview
                .as_ref()
                .is_some_and(|o| o.source == "end of release 1.0")
        },
    )
    .await;
    assert!(
        ui.drift.overview.as_ref().unwrap().rows[1..]
            .iter()
            .all(|r| r.in_sync())
    );

    // `D` probes afresh: "probing" until the answer, which is saved as a run of the plan. (The
    // release has no driver: the resume offer is open; just watch.)
    assert!(ui.modal.is_some());
    ui.modal = None;
    let d = Msg::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('D'),
        crossterm::event::KeyModifiers::NONE,
    ));
    apply(&mut ui, &mut src, vec![d]);
    assert!(ui.drift.probing);
    pump_until(&mut ui, &mut src, Duration::from_secs(30), "the probes", |ui| {
        !ui.drift.probing
    })
    .await;
    let o = ui.drift.overview.clone().unwrap();
    assert_eq!(o.source, "probed now", "{:?}", ui.drift.error);
    let us = o.rows.iter().find(|r| r.column == "prod/us").unwrap();
    assert_eq!((us.version.as_deref(), us.differs), (Some("0.9"), 2));
    let runs = snapshot::saved_runs(&store.plan_dir("p").unwrap().join(snapshot::RUNS_DIR));
    assert_eq!(
        runs.len(),
        1,
        "the probe run is saved like `flightdeck drift` does"
    );
}
