//! Incidents in the cockpit: `I` on an environment row prompts for a summary and asks the source
//! to open one; open incidents show as a banner in the environments pane, a marker on their rows
//! and, for the watched release, in the status bar; the real source opens one in the plan's
//! incidents journal and reads it back when it changes.

use crate::fixture;
use crate::screen;

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::KeyCode;
use flightdeck::engine::incidents::{Incident, Incidents};
use flightdeck::journal::Store;
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::event_loop::Source;
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::layout::Focus;
use flightdeck::tui::modal::{Modal, PromptFor};
use flightdeck::tui::source::{NoLauncher, ReleaseSource};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;
use screen::{code, draw, key, text, typed};

fn incident(number: u64, env: &str, release: Option<&str>, open: bool) -> Incident {
    Incident {
        number,
        env: env.into(),
        release: release.map(str::to_string),
        summary: format!("checkout answers 500 ({number})"),
        opened_by: "alice".into(),
        opened_at: fixture::t0(),
        resolved_by: (!open).then(|| "bob".to_string()),
        resolved_at: (!open).then(fixture::t0),
        note: String::new(),
        links: Vec::new(),
    }
}

fn prompt(ui: &UiState) -> (&PromptFor, Option<&str>) {
    match &ui.modal {
        Some(Modal::Prompt(p)) => (&p.purpose, p.error.as_deref()),
        other => panic!("expected a prompt, got {other:?}"),
    }
}

#[test]
fn i_on_an_environment_row_prompts_for_a_summary_and_opens_an_incident() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    // Not on the environments pane: it says where, and opens nothing.
    ui.focus = Focus::Pipeline;
    assert!(ui.update(key('I')).is_empty());
    assert!(ui.modal.is_none());
    let n = ui.notice.as_ref().expect("a notice");
    assert!(n.error && n.text.contains("environments pane"), "{}", n.text);

    // On the pane, the second row is prod/eu-1: the incident is on prod.
    ui.focus = Focus::Drift;
    ui.update(code(KeyCode::Down));
    assert!(ui.update(key('I')).is_empty());
    assert_eq!(prompt(&ui).0, &PromptFor::Incident { env: "prod".into() });
    // A summary is required.
    assert!(ui.update(code(KeyCode::Enter)).is_empty());
    assert!(prompt(&ui).1.unwrap().contains("a summary is required"));
    // Typed keys are text, not actions (`R` does not roll back here).
    assert!(typed(&mut ui, "Rollout broke checkout").is_empty());
    let fx = ui.update(code(KeyCode::Enter));
    assert_eq!(
        fx,
        [Effect::OpenIncident {
            env: "prod".into(),
            summary: "Rollout broke checkout".into()
        }]
    );
    assert!(ui.modal.is_none());
    ui.update(Msg::IncidentOpened {
        env: "prod".into(),
        result: Ok(3),
    });
    let n = ui.notice.as_ref().unwrap();
    assert_eq!((n.text.as_str(), n.error), ("incident #3 opened on prod", false));
    ui.update(Msg::IncidentOpened {
        env: "prod".into(),
        result: Err("journal broken".into()),
    });
    assert!(ui.notice.as_ref().unwrap().error);
}

#[test]
fn without_drift_data_the_pane_selects_among_the_plans_environments() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.focus = Focus::Drift;
    let envs = ui.env_rows();
    assert!(!envs.is_empty());
    ui.update(key('I'));
    assert_eq!(prompt(&ui).0, &PromptFor::Incident { env: envs[0].clone() });
    ui.update(code(KeyCode::Esc));
    assert!(ui.modal.is_none());
}

#[test]
fn an_open_incident_shows_on_its_environment_and_in_the_status_bar() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    let watched = ui.release.id.clone();
    let screen = text(&draw(&ui, 160, 48));
    assert!(!screen.contains("incident #"), "{screen}");

    // A resolved incident shows nowhere; an open one on prod about the watched release does.
    ui.update(Msg::Incidents(Ok(vec![
        incident(1, "qa", None, false),
        incident(2, "prod", Some(&watched), true),
    ])));
    let screen = text(&draw(&ui, 160, 48));
    assert!(!screen.contains("incident #1"), "{screen}");
    assert!(
        screen.contains(&format!("⚠ incident #2 on prod ({watched}): checkout")),
        "{screen}"
    );
    // The prod rows carry the marker, the others do not; so does the release's row on the board.
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("⚠ #2")).collect();
    assert_eq!(rows.len(), 3, "{screen}");
    assert_eq!(
        rows.iter().filter(|l| l.contains("prod/eu-")).count(),
        2,
        "{screen}"
    );
    assert!(
        rows.iter()
            .any(|l| l.starts_with(&format!("│◐ {watched}")) && l.contains("running ⚠ #2")),
        "{screen}"
    );
    let status = screen.lines().last().unwrap_or_default().to_string();
    let status = if status.trim().is_empty() {
        screen.lines().rev().nth(1).unwrap().to_string()
    } else {
        status
    };
    assert!(status.contains("⚠ incident #2 on prod"), "{status}");

    // About another release: the environments pane shows it, the status bar does not.
    ui.update(Msg::Incidents(Ok(vec![incident(2, "prod", Some("0.9"), true)])));
    let screen = text(&draw(&ui, 160, 48));
    assert!(screen.contains("⚠ incident #2 on prod (0.9)"), "{screen}");
    assert_eq!(screen.matches("incident #2").count(), 1, "{screen}");

    // A rollback of the watched release linking itself to it is said.
    let mut linked = incident(2, "prod", Some("0.9"), true);
    linked.links.push(flightdeck::engine::incidents::Link {
        release: watched.clone(),
        kind: "rollback".into(),
        request: Some(40),
        by: "tester".into(),
        at: fixture::now(),
    });
    ui.update(Msg::Incidents(Ok(vec![linked.clone()])));
    let n = ui.notice.as_ref().expect("a notice");
    assert_eq!(
        n.text,
        format!("rollback of {watched} linked to incident #2 on prod")
    );
    // Said once: the same list again says nothing new.
    ui.notice = None;
    ui.update(Msg::Incidents(Ok(vec![linked])));
    assert!(ui.notice.is_none());

    // A journal that cannot be read is said in the status bar.
    ui.update(Msg::Incidents(Err("incidents.jsonl:2: broken".into())));
    assert_eq!(
        ui.problem.as_deref(),
        Some("incidents: incidents.jsonl:2: broken")
    );
    ui.update(Msg::Incidents(Ok(Vec::new())));
    assert_eq!(ui.problem, None);
}

const PLAN: &str = r#"
[plan]
name = "p"

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "true"
"#;

#[tokio::test]
async fn the_source_opens_the_incident_and_reads_the_journal_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store {
        root: tmp.path().to_path_buf(),
    };
    let plan = flightdeck::plan::load_str(PLAN, std::path::Path::new("/nowhere/flightdeck.toml")).unwrap();
    let launcher = Arc::new(NoLauncher {
        actor: "tester".into(),
    });
    let mut src = ReleaseSource::new(store.clone(), "p", None, Some(Arc::new(plan)), launcher);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    let mut incidents = None;
    let mut opened = None;
    src.perform(Effect::OpenIncident {
        env: "prod".into(),
        summary: "down".into(),
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while opened.is_none() || incidents.as_ref().is_none_or(|v: &Vec<Incident>| v.is_empty()) {
        let mut msgs = tokio::time::timeout_at(deadline, src.wait())
            .await
            .expect("the source answered in time");
        // As the event loop does: a poll right after every wake.
        msgs.extend(src.poll());
        for m in msgs {
            match &m {
                Msg::IncidentOpened { result, .. } => opened = Some(result.clone()),
                Msg::Incidents(Ok(v)) => incidents = Some(v.clone()),
                _ => {}
            }
            ui.update(m);
        }
    }
    assert_eq!(opened, Some(Ok(1)));
    let all = incidents.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].env.as_str(), all[0].opened_by.as_str()),
        ("prod", "tester")
    );
    // No release is live on prod yet: the incident names none.
    assert_eq!(all[0].release, None);
    assert_eq!(ui.incident_on("prod").map(|i| i.number), Some(1));
    // What the source wrote is the plan's incidents journal, chain intact.
    let on_disk = Incidents::of_plan(&store, "p").unwrap().load().unwrap();
    assert_eq!(on_disk, all);
}
