//! The cockpit's redeploy through its reducer: `P` on an environment's row asks what
//! `redeploy --env ENV` would run, a confirmation shows it (the environment's name typed on a
//! protected one), and confirming starts that release with its scope.

use crate::fixture;
use crate::screen;

use flightdeck::plan::ReleaseType;
use flightdeck::release::{Redeploy, Scope, Source};
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::layout::Focus;
use flightdeck::tui::modal::Modal;
use screen::{code, key, typed};

fn prod_plan() -> Redeploy {
    Redeploy {
        env: "prod".into(),
        version: "2.3.1".into(),
        stages: vec!["deploy-eu".into()],
        source: Some(Source {
            id: "2.3.1".into(),
            commit: Some("abcdef1234567890".into()),
        }),
    }
}

#[test]
fn redeploy_from_an_environment_row_is_previewed_and_needs_the_protected_name() {
    let mut ui = fixture::ui(&fixture::failed(), (160, 48));
    // Only from the environments pane.
    assert_eq!(ui.update(key('P')), []);
    let n = ui.notice.as_ref().expect("a notice");
    assert!(n.error && n.text.contains("environments pane"), "{}", n.text);

    ui.update(key('4'));
    assert_eq!(ui.focus, Focus::Drift);
    assert_eq!(
        ui.update(key('P')),
        [Effect::PlanRedeploy {
            env: "prod".into(),
            version: None
        }]
    );
    ui.update(Msg::RedeployPlan(Ok(prod_plan())));
    let c = match &ui.modal {
        Some(Modal::Confirm(c)) => c.clone(),
        other => panic!("expected a confirmation, got {other:?}"),
    };
    assert_eq!(c.title, "Redeploy 2.3.1 to prod?");
    assert_eq!(c.typed.as_deref(), Some("prod"));
    let body = c.body.join("\n");
    assert!(body.contains("runs deploy-eu on eu-1, eu-2"), "{body}");
    assert!(body.contains("release 2.3.1 shipped, commit abcdef1"), "{body}");
    // Enter alone does not confirm on a protected environment; `y` is just a typed letter.
    assert_eq!(ui.update(code(crossterm::event::KeyCode::Enter)), []);
    assert!(matches!(ui.modal, Some(Modal::Confirm(_))));
    let mut fx = typed(&mut ui, "prod");
    fx.extend(ui.update(code(crossterm::event::KeyCode::Enter)));
    assert_eq!(
        fx,
        [Effect::StartRelease {
            version: "2.3.1".into(),
            rtype: ReleaseType::Rollback,
            scope: Scope {
                only: vec!["deploy-eu".into()],
                redeploy_of: prod_plan().source,
                at: None,
                train: None,
            },
        }]
    );
    // Started: opened like any new release.
    let fx = ui.update(Msg::Started(Ok("2.3.1-2".into())));
    assert_eq!(fx, [Effect::Open("2.3.1-2".into())]);
}

#[test]
fn nothing_to_redeploy_is_said_and_a_drift_row_names_its_environment() {
    let mut ui = fixture::ui_with_drift(&fixture::failed(), (160, 48));
    ui.update(key('4'));
    // The overview's second row is prod/eu-1: its environment is prod.
    ui.update(key('j'));
    assert_eq!(
        ui.update(key('P')),
        [Effect::PlanRedeploy {
            env: "prod".into(),
            version: None
        }]
    );
    ui.update(Msg::RedeployPlan(Err(
        "no previous live release on prod to redeploy".into(),
    )));
    assert!(ui.modal.is_none());
    let n = ui.notice.as_ref().expect("a notice");
    assert!(n.error, "{}", n.text);
    assert_eq!(
        n.text,
        "cannot redeploy: no previous live release on prod to redeploy"
    );
    // The first row is staging.
    ui.update(key('k'));
    assert_eq!(
        ui.update(key('P')),
        [Effect::PlanRedeploy {
            env: "staging".into(),
            version: None
        }]
    );
}
