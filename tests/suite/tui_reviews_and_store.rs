//! The board's open review action items (overdue first and marked, each release's count on its
//! row, closed ones gone), the real source reading the plan's reviews journal back when it
//! changes, and the status bar saying when the shared store is out of reach or cannot notify.

use crate::fixture;
use crate::screen;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use flightdeck::engine::reviews::{Action, Entries, Review, Reviews, Said};
use flightdeck::journal::Store;
use flightdeck::journal::replica::Health;
use flightdeck::tui::app::Msg;
use flightdeck::tui::event_loop::Source;
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::source::{NoLauncher, ReleaseSource};
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;
use screen::{draw, terminal, text};

fn action(release: &str, number: u64, text: &str, owner: &str, due: (i32, u32, u32), open: bool) -> Action {
    Action {
        release: release.into(),
        number,
        text: text.into(),
        owner: owner.into(),
        due: NaiveDate::from_ymd_opt(due.0, due.1, due.2).unwrap(),
        added_by: "alice".into(),
        added_at: fixture::t0(),
        closed: (!open).then(|| Said {
            text: String::new(),
            by: "bob".into(),
            at: fixture::t0(),
        }),
    }
}

#[test]
fn open_action_items_show_on_the_board_overdue_first() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    let watched = ui.release.id.clone();
    let before = text(&draw(&ui, 160, 48));
    assert!(!before.contains('☐'), "{before}");
    // fixture::now() is 2026-01-02: one item is overdue, one due later, one closed.
    ui.update(Msg::Reviews(Ok(vec![Review {
        release: watched.clone(),
        went_well: Vec::new(),
        went_wrong: Vec::new(),
        actions: vec![
            action(&watched, 1, "script the rollback", "carol", (2026, 3, 1), true),
            action(&watched, 2, "tune the alerts", "bob", (2025, 12, 20), true),
            action(&watched, 3, "write it down", "dan", (2025, 12, 1), false),
        ],
    }])));
    let screen = text(&draw(&ui, 160, 48));
    assert!(screen.contains("☐ 2 open review actions, 1 overdue"), "{screen}");
    let overdue = format!("⚠ {watched}#2 Dec 20 bob: tune the alerts");
    let later = format!("· {watched}#1 Mar 1 carol: script the roll…");
    let at = |what: &str| screen.find(what).unwrap_or_else(|| panic!("{what}: {screen}"));
    assert!(at(&overdue) < at(&later), "overdue first: {screen}");
    assert!(!screen.contains("write it down"), "{screen}");
    // The release's own row counts them.
    assert!(
        screen
            .lines()
            .any(|l| l.contains(&format!("{watched} ")) && l.contains("running ☐2")),
        "{screen}"
    );
    insta::assert_snapshot!("board_action_items_120x36", terminal(&ui, 120, 36).backend());
    // A journal that cannot be read is said; read again, the problem goes.
    ui.update(Msg::Reviews(Err("reviews.jsonl:2: broken".into())));
    assert_eq!(ui.problem.as_deref(), Some("reviews: reviews.jsonl:2: broken"));
    ui.update(Msg::Reviews(Ok(Vec::new())));
    assert_eq!(ui.problem, None);
    let after = text(&draw(&ui, 160, 48));
    assert!(!after.contains('☐'), "{after}");
}

#[test]
fn the_status_bar_says_when_the_shared_store_is_away_or_cannot_notify() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    let last = |ui: &UiState| {
        let s = text(&draw(ui, 160, 48));
        s.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string()
    };
    assert!(!last(&ui).contains("shared store"));
    ui.update(Msg::StoreHealth(Some(Health {
        away: None,
        notify: Some(Err("behind a pooler".into())),
    })));
    assert!(
        last(&ui).contains("shared store: polling (no notifications here)"),
        "{}",
        last(&ui)
    );
    let since = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_348_000);
    ui.update(Msg::StoreHealth(Some(Health {
        away: Some((since, "cannot connect: refused".into())),
        notify: Some(Ok(())),
    })));
    let bar = last(&ui);
    let local = chrono::DateTime::<chrono::Local>::from(since)
        .format("%H:%M:%S")
        .to_string();
    assert!(
        bar.contains(&format!(
            "⚠ shared store out of reach since {local} (read-only copy)"
        )),
        "{bar}"
    );
    ui.update(Msg::StoreHealth(Some(Health::default())));
    assert!(!last(&ui).contains("shared store"), "{}", last(&ui));
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
async fn the_source_reads_the_reviews_journal_back_when_it_changes() {
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
    for m in src.poll() {
        ui.update(m);
    }
    assert!(ui.actions.is_empty());
    // Someone records a review elsewhere: the source is woken and reads it.
    let reviews = Reviews::of_plan(&store, "p").unwrap();
    let entries = Entries {
        actions: vec![(
            "tune the alerts".into(),
            "bob".into(),
            NaiveDate::from_ymd_opt(2999, 1, 1).unwrap(),
        )],
        ..Entries::default()
    };
    let masker = Arc::new(flightdeck::mask::Masker::new(Vec::<String>::new()));
    reviews.record(masker, "alice", "1.0", &entries).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ui.actions.is_empty() {
        let mut msgs = tokio::time::timeout_at(deadline, src.wait())
            .await
            .expect("the source woke in time");
        msgs.extend(src.poll());
        for m in msgs {
            ui.update(m);
        }
    }
    assert_eq!(ui.actions.len(), 1);
    assert_eq!((ui.actions[0].number, ui.actions[0].owner.as_str()), (1, "bob"));
}

#[test]
fn the_status_bar_says_when_notifications_do_not_get_through() {
    let mut ui = fixture::ui_with_drift(&fixture::mid_run(), (160, 48));
    let bar = |ui: &UiState| {
        text(&draw(ui, 160, 48))
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string()
    };
    let delivery = |outcome: &str, why: &str| flightdeck::engine::state::Delivery {
        to: "webhook hooks.example.com".into(),
        event: "gate_waiting".into(),
        attempt: 2,
        outcome: outcome.into(),
        why: why.into(),
        at: fixture::t0(),
    };
    // Delivered: nothing to say.
    ui.release.notifications.insert((0, 7), delivery("delivered", ""));
    assert!(!bar(&ui).contains('✉'), "{}", bar(&ui));
    ui.release
        .notifications
        .insert((1, 7), delivery("retrying", "HTTP 500"));
    let said = bar(&ui);
    assert!(
        said.contains("✉ notifications: 1 delivered, 1 retrying, 0 given up (last: webhook hooks.example.com retrying after attempt 2: HTTP 500)"),
        "{said}"
    );
}
