//! The cockpit's Metrics view: `M` opens the delivery metrics (DORA) of the environment
//! selected in the environments pane, else the plan's last one; the source works them out from
//! the plan's finished-release index on a blocking thread; the overlay shows each metric's
//! figure, band, trend, counts and weekly sparkline; Esc closes it.

use crate::fixture;
use crate::screen;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use flightdeck::engine::metrics::{Bucket, By, Figures, Metrics, Query};
use flightdeck::journal::Store;
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::event_loop::Source;
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::layout::Focus;
use flightdeck::tui::modal::Modal;
use flightdeck::tui::source::{NoLauncher, ReleaseSource};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;
use screen::{code, key, terminal, text};

fn sample() -> Metrics {
    let to = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    let q = Query {
        env: "prod".into(),
        from: to - chrono::Duration::days(90),
        to,
        by: By::Week,
        rework_window: chrono::Duration::hours(24),
    };
    let current = Figures {
        deployments: 12,
        total: 13,
        failed: 2,
        recovered: 2,
        rework: 1,
        lead_ms: vec![3_600_000, 7_200_000, 90_000_000],
        recovery_ms: vec![600_000, 1_800_000],
    };
    let previous = Figures {
        deployments: 6,
        total: 8,
        failed: 2,
        recovered: 1,
        rework: 2,
        lead_ms: vec![200_000_000],
        recovery_ms: vec![7_200_000],
    };
    let buckets = q
        .bucket_starts()
        .into_iter()
        .enumerate()
        .map(|(i, start)| Bucket {
            start,
            figures: Figures {
                deployments: (i % 3) as u64,
                total: (i % 3) as u64,
                ..Figures::default()
            },
        })
        .collect();
    Metrics {
        query: q,
        current,
        previous,
        buckets,
        capped: false,
    }
}

#[test]
fn m_opens_the_metrics_of_the_plans_last_environment_and_esc_closes_it() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    ui.focus = Focus::Pipeline;
    let fx = ui.update(key('M'));
    assert_eq!(fx, [Effect::Metrics("prod".into())]);
    match &ui.modal {
        Some(Modal::Metrics(v)) => assert!(v.env == "prod" && v.metrics.is_none()),
        other => panic!("expected the metrics view, got {other:?}"),
    }
    let loading = text(&terminal(&ui, 160, 48).backend().buffer().clone());
    assert!(
        loading.contains("Delivery metrics of prod") && loading.contains("working it out…"),
        "{loading}"
    );
    // An answer for another environment is not this view's.
    ui.update(Msg::Metrics {
        env: "staging".into(),
        metrics: Ok(sample()),
    });
    assert!(matches!(&ui.modal, Some(Modal::Metrics(v)) if v.metrics.is_none()));
    ui.update(Msg::Metrics {
        env: "prod".into(),
        metrics: Ok(sample()),
    });
    let screen = text(&terminal(&ui, 160, 48).backend().buffer().clone());
    for want in [
        "2025-10-04 to 2026-01-02, by week, against the 90 days before",
        "deployment frequency",
        "4.0 a month",
        "12 deployments / 90 days",
        "up from 6",
        "lead time for changes",
        "median 2h0m, p90 1d1h",
        "3 commits / 12 deployments",
        "elite",
        "change failure rate",
        "15.4%",
        "2 failed / 13 deployments",
        "down from 25.0%",
        "failed deployment recovery time",
        "2 recovered / 2 failures",
        "rework rate",
        "1 rework / 13 deployments",
    ] {
        assert!(screen.contains(want), "{want}: {screen}");
    }
    assert!(
        screen.contains('▁') && screen.contains('█'),
        "a sparkline: {screen}"
    );
    insta::assert_snapshot!("metrics_view_120x40", terminal(&ui, 120, 40).backend());
    // Esc closes it; an error is shown as such.
    ui.update(code(crossterm::event::KeyCode::Esc));
    assert!(ui.modal.is_none());
    ui.update(key('M'));
    ui.update(Msg::Metrics {
        env: "prod".into(),
        metrics: Err("index.jsonl:3: broken".into()),
    });
    let screen = text(&terminal(&ui, 160, 48).backend().buffer().clone());
    assert!(screen.contains("index.jsonl:3: broken"), "{screen}");
}

#[test]
fn on_the_environments_pane_m_measures_the_selected_environment() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    ui.focus = Focus::Drift;
    let env = ui.selected_env().expect("an environment row");
    assert_eq!(ui.update(key('M')), [Effect::Metrics(env)]);
}

const PLAN: &str = r#"
[plan]
name = "measured"

[environments.staging]

[environments.prod]

[[stage]]
id = "stage"
environment = "staging"
run = "true"

[[stage]]
id = "deploy"
needs = ["stage"]
environment = "prod"
run = "true"
"#;

#[tokio::test]
async fn the_source_works_the_metrics_out_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flightdeck.toml"), PLAN).unwrap();
    let data = dir.path().join("data");
    for version in ["1.0", "1.1"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["run", version])
            .current_dir(dir.path())
            .env("FLIGHTDECK_DATA_DIR", &data)
            .env("FLIGHTDECK_STORE", "")
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let store = Store { root: data };
    let plan = flightdeck::plan::load_str(PLAN, &dir.path().join("flightdeck.toml")).unwrap();
    let launcher = Arc::new(NoLauncher {
        actor: "tester".into(),
    });
    let mut src = ReleaseSource::new(store, "measured", None, Some(Arc::new(plan)), launcher);
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    for m in src.poll() {
        ui.update(m);
    }
    for fx in ui.update(key('M')) {
        src.perform(fx);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let m = loop {
        if let Some(Modal::Metrics(v)) = &ui.modal
            && let Some(m) = &v.metrics
        {
            break m.clone();
        }
        let mut msgs = tokio::time::timeout_at(deadline, src.wait())
            .await
            .expect("the source answered in time");
        msgs.extend(src.poll());
        for m in msgs {
            ui.update(m);
        }
    };
    let m = m.expect("the metrics");
    assert_eq!(m.query.env, "prod");
    assert_eq!(
        (m.current.deployments, m.current.total, m.current.failed),
        (2, 2, 0)
    );
}
