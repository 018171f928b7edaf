//! The cockpit's actions through its reducer: every action, the confirmations (rollback preview,
//! typed environment name on protected environments), pending and refused requests, the palette,
//! the new-release form, the resume offer and the bell.

use crate::fixture;
use crate::screen;

use crate::fixture::Journal;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use flightdeck::engine::request::Op;
use flightdeck::event::{Event, FinalState, Outcome, RunKey, RunKind};
use flightdeck::plan::ReleaseType;
use flightdeck::tui::app::{Effect, Msg};
use flightdeck::tui::layout::Focus;
use flightdeck::tui::modal::{Modal, Then};
use flightdeck::tui::state::UiState;
use screen::{code, key, typed};

fn submits(fx: &[Effect]) -> Vec<Op> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::Submit(op) => Some(op.clone()),
            _ => None,
        })
        .collect()
}
fn confirm(ui: &UiState) -> &flightdeck::tui::modal::Confirm {
    match &ui.modal {
        Some(Modal::Confirm(c)) => c,
        other => panic!("expected a confirmation, got {other:?}"),
    }
}
fn notice(ui: &UiState) -> (String, bool) {
    let n = ui.notice.as_ref().expect("a notice");
    (n.text.clone(), n.error)
}

#[test]
fn approve_asks_first_then_submits_as_an_approval() {
    let mut ui = fixture::ui(&fixture::gated(), (160, 48));
    assert!(ui.update(key('a')).is_empty(), "nothing fires on one keystroke");
    let c = confirm(&ui);
    assert_eq!(c.title, "Approve gate signoff?");
    assert!(
        c.body[0].contains("1 of 2 approvals so far (bob)"),
        "{:?}",
        c.body
    );
    // The gate guards `smoke`, which runs in no protected environment: y confirms.
    assert_eq!(c.typed, None);
    let fx = ui.update(key('y'));
    assert_eq!(
        submits(&fx),
        [Op::Approve {
            gate: "signoff".into(),
            note: String::new(),
            signed: None,
        }]
    );
    assert!(ui.modal.is_none());
    // Marks count once appended: "done"; a refusal says why, as an error.
    ui.update(Msg::Submitted {
        op: Op::Approve {
            gate: "signoff".into(),
            note: String::new(),
            signed: None,
        },
        result: Err("carol already approved gate `signoff`; each person's approval counts once".into()),
    });
    let (text, error) = notice(&ui);
    assert!(error);
    assert!(
        text.contains("approve gate signoff refused: carol already approved"),
        "{text}"
    );
}

#[test]
fn n_and_esc_back_out_of_a_confirmation() {
    let mut ui = fixture::ui(&fixture::gated(), (160, 48));
    ui.update(key('a'));
    assert!(ui.update(key('n')).is_empty());
    assert!(ui.modal.is_none());
    ui.update(key('a'));
    assert!(ui.update(code(KeyCode::Esc)).is_empty());
    assert!(ui.modal.is_none());
    // Any other key leaves it open and does nothing.
    ui.update(key('a'));
    assert!(ui.update(key('R')).is_empty());
    assert!(matches!(ui.modal, Some(Modal::Confirm(_))));
    assert_eq!(submits(&ui.update(code(KeyCode::Enter))).len(), 1);
}

#[test]
fn cancel_on_a_protected_environment_needs_its_name_typed() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key('c'));
    let c = confirm(&ui);
    assert_eq!(
        c.typed.as_deref(),
        Some("prod"),
        "deploy-eu runs in prod, which is protected"
    );
    assert!(
        c.body.iter().any(|l| l.contains("deploy-eu/eu-5")),
        "running runs listed: {:?}",
        c.body
    );
    // y is text here, Enter refuses until the name matches.
    assert!(ui.update(key('y')).is_empty());
    assert!(submits(&ui.update(code(KeyCode::Enter))).is_empty());
    assert!(
        confirm(&ui)
            .error
            .as_deref()
            .unwrap()
            .contains("type `prod` exactly")
    );
    ui.update(code(KeyCode::Backspace));
    typed(&mut ui, "pro");
    assert!(
        submits(&ui.update(code(KeyCode::Enter))).is_empty(),
        "a prefix is not the name"
    );
    typed(&mut ui, "d");
    assert_eq!(submits(&ui.update(code(KeyCode::Enter))), [Op::Cancel]);
}

#[test]
fn rollback_previews_the_order_and_targets_before_asking() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back release 2.4.0?");
    assert_eq!(c.typed.as_deref(), Some("prod"));
    // Newest first: the fan-out's finished targets (eu-1..3 finished together), then test, build.
    let body = c.body.join("\n");
    assert!(
        body.starts_with("In this order (newest first), 5 run(s):"),
        "{body}"
    );
    let pos = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s} missing from\n{body}"));
    assert!(pos("deploy-eu on eu-3") < pos("2. deploy-eu") || pos("deploy-eu on eu-1") < pos("test"));
    assert!(pos("test (attempt 1)") < pos("build (attempt 1)"), "{body}");
    assert!(body.contains("[prod]"), "environment shown: {body}");
    assert_eq!(
        c.then,
        Then::Submit(Op::Rollback {
            stage: None,
            targets: vec![],
            forced_over: vec![],
        })
    );
    // Esc: nothing happens.
    assert!(ui.update(code(KeyCode::Esc)).is_empty());
    // From a stage chosen in the pipeline: only that stage and what follows it.
    ui.focus = Focus::Pipeline;
    ui.update(key('k'));
    assert_eq!(ui.release.stages[ui.stage].decl.id, "test");
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back from stage test?");
    assert!(!c.body.join("\n").contains("build"), "{:?}", c.body);
    typed(&mut ui, "prod");
    assert_eq!(
        submits(&ui.update(code(KeyCode::Enter))),
        [Op::Rollback {
            stage: Some("test".into()),
            targets: vec![],
            forced_over: vec![],
        }]
    );
}

#[test]
fn tick_asks_for_an_optional_note() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key('t'));
    match &ui.modal {
        Some(Modal::Prompt(p)) => assert_eq!(
            p.title(),
            "Tick item 1: \"Release notes reviewed\" (note, optional)"
        ),
        other => panic!("{other:?}"),
    }
    typed(&mut ui, "read twice");
    assert_eq!(
        submits(&ui.update(code(KeyCode::Enter))),
        [Op::Tick {
            gate: "signoff".into(),
            item: 0,
            note: "read twice".into()
        }]
    );
    // With every manual item ticked, it says so instead.
    let mut ui = fixture::ui(&fixture::gated(), (160, 48));
    ui.update(key('t'));
    assert!(ui.modal.is_none());
    assert!(notice(&ui).0.contains("every manual item is ticked"));
    // In the checklist, the chosen item; an automatic one points to re-check.
    ui.update(key('5'));
    ui.focus = Focus::Checklist;
    ui.update(key('j'));
    ui.update(key('t'));
    assert!(notice(&ui).0.contains("is an automatic check: `e` runs it again"));
    assert_eq!(
        submits(&ui.update(key('e'))),
        [Op::Recheck {
            gate: "signoff".into(),
            item: 1
        }]
    );
}

#[test]
fn skip_requires_a_reason() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key('s'));
    assert!(submits(&ui.update(code(KeyCode::Enter))).is_empty());
    match &ui.modal {
        Some(Modal::Prompt(p)) => assert!(p.error.as_deref().unwrap().contains("a reason is required")),
        other => panic!("{other:?}"),
    }
    typed(&mut ui, "eu-4 is decommissioned");
    assert_eq!(
        submits(&ui.update(code(KeyCode::Enter))),
        [Op::Skip {
            stage: "deploy-eu".into(),
            reason: "eu-4 is decommissioned".into()
        }]
    );
}

#[test]
fn retry_takes_the_selected_failed_target_and_shows_the_answer() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    // The selection follows what runs (eu-5); eu-4 failed, one to the left.
    assert_eq!(ui.release.stages[ui.stage].decl.id, "deploy-eu");
    ui.update(key('h'));
    let fx = ui.update(key('r'));
    let op = Op::Retry {
        stage: "deploy-eu".into(),
        target: Some("eu-4".into()),
    };
    assert_eq!(submits(&fx), std::slice::from_ref(&op));
    // Pending until the driver answers.
    ui.update(Msg::Submitted {
        op: op.clone(),
        result: Ok(40),
    });
    assert!(ui.sent.contains_key(&40));
    assert!(
        notice(&ui)
            .0
            .contains("retry deploy-eu/eu-4 sent (#40); waiting for the driver")
    );
    let mut j = Journal {
        records: fixture::mid_run().records,
    };
    let n = j.records.len() as i64;
    j.push(
        n,
        "tester",
        Event::RetryRequested {
            stage: "deploy-eu".into(),
            target: Some("eu-4".into()),
        },
    );
    let seq = j.records.last().unwrap().seq;
    j.push(
        n + 1,
        "driver",
        Event::RequestHandled {
            request: seq,
            accepted: false,
            message: "deploy-eu/eu-4 is still running".into(),
        },
    );
    ui.update(Msg::Submitted {
        op: op.clone(),
        result: Ok(seq),
    });
    ui.update(Msg::Records(j.records[j.records.len() - 2..].to_vec()));
    assert!(!ui.sent.contains_key(&seq));
    let (text, error) = notice(&ui);
    assert!(error, "{text}");
    assert_eq!(
        text,
        format!("retry deploy-eu/eu-4 (#{seq}) refused: deploy-eu/eu-4 is still running")
    );
}

#[test]
fn a_finished_release_takes_what_the_cli_takes_and_says_what_to_do_otherwise() {
    let mut ui = fixture::ui(&fixture::failed(), (160, 48));
    // Nothing to approve, tick, re-check, cancel or resume once it has finished: the notice says
    // what can still be done.
    for c in ['a', 't', 'c', 'e', 'u'] {
        assert!(ui.update(key(c)).is_empty(), "{c}");
        assert!(ui.modal.is_none(), "{c}");
        let (text, error) = notice(&ui);
        assert!(error, "{c}: {text}");
        assert!(
            text.contains("has finished (failed): nothing to")
                && text.contains("R rolls it back, r retries a stage, n starts a new release"),
            "{c}: {text}"
        );
    }
    // A retry of the failed stage goes to the driver, as `flightdeck retry` does (it reopens the
    // release); so does a skip, whose answer the driver gives.
    ui.focus = Focus::Pipeline;
    ui.auto_select = false;
    ui.stage = 2;
    ui.target = 4;
    let fx = ui.update(key('r'));
    assert!(
        matches!(&fx[..], [Effect::Submit(Op::Retry { stage, target }), ..]
            if stage == "deploy-eu" && target.as_deref() == Some("eu-5")),
        "{fx:?}"
    );
    ui.update(key('s'));
    assert!(
        matches!(&ui.modal, Some(flightdeck::tui::modal::Modal::Prompt(_))),
        "skip asks for its reason: {:?}",
        ui.modal
    );
    ui.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    // The driver accepts a rollback of a finished release (`flightdeck rollback` does): so does
    // the cockpit, with the preview (the whole release: no stage chosen).
    ui.auto_select = true;
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back release 2.4.0?");
    assert!(
        c.body[0].starts_with("In this order (newest first), 5 run(s):"),
        "{:?}",
        c.body
    );
    assert_eq!(c.typed.as_deref(), Some("prod"));
    assert_eq!(
        c.then,
        Then::Submit(Op::Rollback {
            stage: None,
            targets: vec![],
            forced_over: vec![],
        })
    );
}

fn rb_key(stage: &str, target: Option<&str>, attempt: u32) -> RunKey {
    RunKey {
        stage: stage.into(),
        target: target.map(String::from),
        attempt,
    }
}

/// [`fixture::failed`] rolled back with `outcome` for each rollback run (by the run's label), in
/// `order`; the release ends as the outcomes say.
fn rolled_back(outcomes: &[(&str, Option<&str>, Outcome)]) -> Journal {
    let mut j = fixture::failed();
    let order: Vec<RunKey> = outcomes.iter().map(|(s, t, _)| rb_key(s, *t, 1)).collect();
    j.push(
        300,
        "alice",
        Event::RollbackRequested {
            stage: None,
            targets: vec![],
            forced_over: vec![],
        },
    );
    j.push(
        301,
        "driver",
        Event::RollbackStarted {
            reason: "rollback of the whole release requested".into(),
            order,
        },
    );
    let mut ok = true;
    for (i, (s, t, o)) in outcomes.iter().enumerate() {
        let key = rb_key(s, *t, 1);
        j.push(
            302 + i as i64,
            "driver",
            Event::RunStarted {
                run: key.clone(),
                run_kind: RunKind::Rollback,
                log: String::new(),
            },
        );
        j.push(
            302 + i as i64,
            "driver",
            Event::RunFinished {
                run: key,
                run_kind: RunKind::Rollback,
                outcome: o.clone(),
                duration_ms: 5,
            },
        );
        ok &= o.is_success();
    }
    j.push(400, "driver", Event::RollbackFinished { ok });
    let state = if ok {
        FinalState::RolledBack
    } else {
        FinalState::RollbackFailed
    };
    j.push(
        400,
        "driver",
        Event::ReleaseFinished {
            state,
            reason: String::new(),
        },
    );
    j
}

#[test]
fn rollback_on_a_rollback_failed_release_offers_to_retry_exactly_what_failed() {
    let failed = || Outcome::Failed {
        code: Some(1),
        signal: None,
        command: 0,
    };
    let j = rolled_back(&[
        ("deploy-eu", Some("eu-3"), failed()),
        ("deploy-eu", Some("eu-2"), Outcome::Succeeded),
        ("deploy-eu", Some("eu-1"), failed()),
        ("test", None, Outcome::Succeeded),
        ("build", None, failed()),
    ]);
    let mut ui = fixture::ui(&j, (160, 48));
    assert_eq!(ui.release.state_word(false), "rollback_failed");
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Retry the rollback?");
    let body = c.body.join("\n");
    assert!(
        body.contains("3 run(s)"),
        "only the three that did not succeed: {body}"
    );
    let pos = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s} missing from\n{body}"));
    assert!(pos("deploy-eu on eu-3") < pos("deploy-eu on eu-1"), "{body}");
    assert!(pos("deploy-eu on eu-1") < pos("build"), "{body}");
    assert!(!body.contains("eu-2") && !body.contains("test"), "{body}");
    // The preview is the driver's own answer.
    let plan = fixture::plan();
    let order = flightdeck::engine::scheduler::rollback_plan(
        &plan,
        &ui.release,
        flightdeck::engine::scheduler::Scope::WHOLE,
    );
    assert_eq!(
        order,
        [
            rb_key("deploy-eu", Some("eu-3"), 1),
            rb_key("deploy-eu", Some("eu-1"), 1),
            rb_key("build", None, 1)
        ]
    );
    // prod is protected: its name is typed.
    assert_eq!(c.typed.as_deref(), Some("prod"));
    typed(&mut ui, "prod");
    assert_eq!(
        submits(&ui.update(code(KeyCode::Enter))),
        [Op::Rollback {
            stage: None,
            targets: vec![],
            forced_over: vec![],
        }]
    );

    // Once everything is rolled back there is nothing left: said, not offered.
    let j = rolled_back(&[
        ("deploy-eu", Some("eu-3"), Outcome::Succeeded),
        ("deploy-eu", Some("eu-2"), Outcome::Succeeded),
        ("deploy-eu", Some("eu-1"), Outcome::Succeeded),
        ("test", None, Outcome::Succeeded),
        ("build", None, Outcome::Succeeded),
    ]);
    let mut ui = fixture::ui(&j, (160, 48));
    assert_eq!(ui.release.state_word(false), "rolled_back");
    assert!(ui.update(key('R')).is_empty());
    assert!(ui.modal.is_none());
    let (text, error) = notice(&ui);
    assert!(error && text.contains("nothing to roll back"), "{text}");
}

#[test]
fn rollback_during_a_rollback_is_refused_like_the_driver_does() {
    let mut j = fixture::failed();
    j.push(
        300,
        "alice",
        Event::RollbackRequested {
            stage: None,
            targets: vec![],
            forced_over: vec![],
        },
    );
    j.push(
        300,
        "driver",
        Event::DriverStarted {
            pid: 4343,
            host: "ci".into(),
        },
    );
    j.push(
        301,
        "driver",
        Event::RollbackStarted {
            reason: "x".into(),
            order: vec![rb_key("build", None, 1)],
        },
    );
    let mut ui = fixture::ui(&j, (160, 48));
    assert!(ui.modal.is_none(), "{:?}", ui.modal);
    assert!(ui.update(key('R')).is_empty());
    assert!(ui.modal.is_none(), "{:?}", ui.modal);
    let (text, error) = notice(&ui);
    assert!(
        error && text.contains("a rollback is already in progress"),
        "{text}"
    );
}

#[test]
fn the_palette_finds_actions_fuzzily_and_runs_them() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key(':'));
    typed(&mut ui, "rlbk");
    match &ui.modal {
        Some(Modal::Palette(p)) => {
            let m = p.matches(&ui.keymap);
            assert_eq!(m[0].0, flightdeck::tui::action::Action::Rollback, "{m:?}");
            assert_eq!(m[0].1.as_deref(), Some("R"));
        }
        other => panic!("{other:?}"),
    }
    ui.update(code(KeyCode::Enter));
    assert_eq!(confirm(&ui).title, "Roll back release 2.4.0?");
    // Down/Up choose; Esc closes.
    ui.update(code(KeyCode::Esc));
    ui.update(key(':'));
    typed(&mut ui, "zzzzqqq");
    match &ui.modal {
        Some(Modal::Palette(p)) => assert!(p.matches(&ui.keymap).is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(ui.update(code(KeyCode::Enter)).is_empty());
    assert!(ui.modal.is_none());
}

#[test]
fn a_new_release_is_prefilled_with_the_suggestion_and_opened_once_started() {
    let mut ui = fixture::ui(&fixture::failed(), (160, 48));
    let fx = ui.update(key('n'));
    assert_eq!(fx, [Effect::Suggest]);
    ui.update(Msg::Suggested(Ok(("2.5.0".into(), ReleaseType::Minor))));
    ui.update(code(KeyCode::Down));
    let fx = ui.update(code(KeyCode::Enter));
    assert_eq!(
        fx,
        [Effect::StartRelease {
            version: "2.5.0".into(),
            rtype: ReleaseType::Patch,
            scope: Default::default(),
        }]
    );
    ui.update(Msg::Started(Err("release 2.5.0 exists".into())));
    match &ui.modal {
        Some(Modal::Start(f)) => assert_eq!(f.error.as_deref(), Some("release 2.5.0 exists")),
        other => panic!("{other:?}"),
    }
    // An empty version is refused in place.
    ui.update(Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)));
    assert!(ui.update(code(KeyCode::Enter)).is_empty());
    typed(&mut ui, "2.5.1");
    ui.update(code(KeyCode::Enter));
    let fx = ui.update(Msg::Started(Ok("2.5.1".into())));
    assert_eq!(fx, [Effect::Open("2.5.1".into())]);
    assert!(ui.modal.is_none());
    // The source switched: everything about the old release is gone, the board kept.
    ui.update(Msg::Opened("2.5.1".into()));
    assert_eq!(ui.release.id, "2.5.1");
    assert!(ui.release.stages.is_empty());
    assert_eq!(ui.board.len(), 2);
}

#[test]
fn an_unfinished_release_without_a_driver_offers_to_resume() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    assert!(ui.modal.is_none(), "its driver is alive");
    ui.update(Msg::Driver(None));
    let c = confirm(&ui);
    assert_eq!(c.then, Then::Resume);
    assert!(c.body[1].contains("1 run(s) were left running"), "{:?}", c.body);
    assert_eq!(ui.update(key('y')), [Effect::Resume]);
    // Offered once; `u` offers again.
    ui.update(Msg::Driver(Some(1)));
    ui.update(Msg::Driver(None));
    assert!(ui.modal.is_none());
    ui.update(key('u'));
    assert_eq!(confirm(&ui).then, Then::Resume);
}

#[test]
fn the_bell_rings_once_when_the_release_needs_a_person() {
    let mut ui = fixture::ui(&Journal::default(), (160, 48));
    let all = fixture::gated().records;
    let reached = all
        .iter()
        .position(|r| matches!(r.event, Event::GateReached { .. }))
        .unwrap();
    let fx = ui.update(Msg::Records(all[..reached].to_vec()));
    assert!(!fx.contains(&Effect::Bell));
    let fx = ui.update(Msg::Records(all[reached..reached + 1].to_vec()));
    assert!(fx.contains(&Effect::Bell), "gate reached");
    let fx = ui.update(Msg::Records(all[reached + 1..].to_vec()));
    assert!(!fx.contains(&Effect::Bell), "once");
    // Off in the settings: silent.
    let mut ui = fixture::ui(&Journal::default(), (160, 48));
    ui.bell = false;
    assert!(!ui.update(Msg::Records(all)).contains(&Effect::Bell));
}

#[test]
fn enter_on_the_board_opens_another_release() {
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key('1'));
    assert_eq!(ui.focus, Focus::Board);
    ui.update(key('j'));
    assert_eq!(ui.update(code(KeyCode::Enter)), [Effect::Open("2.3.1".into())]);
    // Enter on the watched release does nothing.
    ui.update(key('k'));
    assert!(ui.update(code(KeyCode::Enter)).is_empty());
}

fn place(target: &str, live: &str, at: chrono::DateTime<chrono::Utc>) -> flightdeck::engine::envs::Place {
    flightdeck::engine::envs::Place {
        env: "prod".into(),
        target: Some(target.into()),
        live: Some(flightdeck::engine::envs::Deployed {
            id: live.into(),
            version: live.into(),
            commit: None,
            at,
            started_by: "carol".into(),
        }),
        previous: None,
        mixed: false,
        in_progress: None,
    }
}

#[test]
fn rollback_of_the_selected_target_says_where_a_newer_release_is_live() {
    let mut ui = fixture::ui(&fixture::failed(), (160, 48));
    // What runs where: 2.5.0 went live on prod/eu-2 after 2.4.0; eu-1 still runs 2.4.0.
    let later = fixture::t0() + chrono::Duration::seconds(3600);
    ui.update(Msg::Places(std::sync::Arc::new(vec![
        place("eu-1", "2.4.0", fixture::t0() + chrono::Duration::seconds(120)),
        place("eu-2", "2.5.0", later),
    ])));
    // The pipeline, on deploy-eu's second target.
    ui.focus = Focus::Pipeline;
    ui.auto_select = false;
    ui.stage = 2;
    ui.target = 1;
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back 2.4.0 on prod/eu-2 only?");
    // What the journal will say it was forced over, once confirmed.
    let over = format!(
        "2.5.0 (2.5.0) live on prod/eu-2 since {}",
        later.format("%Y-%m-%d %H:%M UTC")
    );
    assert_eq!(
        c.body[0],
        format!(
            "2.5.0 is live on prod/eu-2 since {}; roll back 2.4.0 there anyway?",
            later.format("%Y-%m-%d %H:%M UTC")
        )
    );
    let body = c.body.join("\n");
    assert!(body.contains("In this order (newest first), 1 run(s):"), "{body}");
    assert!(body.contains("deploy-eu on eu-2 (attempt 1)  [prod]"), "{body}");
    assert!(!body.contains("eu-1") && !body.contains("build"), "{body}");
    // prod is protected: its name is typed, whichever the scope.
    assert_eq!(c.typed.as_deref(), Some("prod"));
    assert_eq!(
        c.then,
        Then::Submit(Op::Rollback {
            stage: None,
            targets: vec!["prod/eu-2".into()],
            forced_over: vec![over.clone()],
        })
    );
    // The other choices, a Tab away: from the stage, then the whole release.
    let others: Vec<&str> = c.others.iter().map(|o| o.title.as_str()).collect();
    assert_eq!(
        others,
        ["Roll back from stage deploy-eu?", "Roll back release 2.4.0?"]
    );
    let text = screen::text(&screen::draw(&ui, 160, 48));
    assert!(
        text.contains("Tab instead: Roll back from stage deploy-eu?"),
        "{text}"
    );
    ui.update(code(KeyCode::Tab));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back from stage deploy-eu?");
    assert!(
        c.body[0].starts_with("2.5.0 is live on prod/eu-2"),
        "{:?}",
        c.body
    );
    assert!(c.body.join("\n").contains("deploy-eu on eu-1"), "{:?}", c.body);
    ui.update(code(KeyCode::Tab));
    assert_eq!(confirm(&ui).title, "Roll back release 2.4.0?");
    ui.update(code(KeyCode::Tab));
    assert_eq!(confirm(&ui).title, "Roll back 2.4.0 on prod/eu-2 only?");
    // Enter without the name does nothing; with it, the target-scoped request is sent.
    assert!(submits(&ui.update(code(KeyCode::Enter))).is_empty());
    typed(&mut ui, "prod");
    assert_eq!(
        submits(&ui.update(code(KeyCode::Enter))),
        [Op::Rollback {
            stage: None,
            targets: vec!["prod/eu-2".into()],
            forced_over: vec![over.clone()],
        }]
    );
    // Sent, then answered (the existing machinery).
    ui.update(Msg::Submitted {
        op: Op::Rollback {
            stage: None,
            targets: vec!["prod/eu-2".into()],
            forced_over: vec![],
        },
        result: Ok(500),
    });
    assert!(
        notice(&ui).0.contains("roll back on prod/eu-2 sent (#500)"),
        "{:?}",
        ui.notice
    );

    // From the first stage is the whole release: offered once.
    ui.stage = 0;
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back from stage build?");
    assert!(c.others.is_empty(), "{:?}", c.others);
    ui.update(code(KeyCode::Esc));
    ui.stage = 2;

    // A target whose deploy failed has nothing to roll back: said, with why.
    ui.target = 3;
    assert!(submits(&ui.update(key('R'))).is_empty());
    assert!(ui.modal.is_none());
    let (text, error) = notice(&ui);
    assert!(
        error && text.contains("nothing to roll back on prod/eu-4"),
        "{text}"
    );
}

#[test]
fn marked_targets_are_rolled_back_together() {
    let mut ui = fixture::ui(&fixture::failed(), (160, 48));
    // Nothing selected to mark: said how.
    ui.update(key(' '));
    let (text, error) = notice(&ui);
    assert!(
        error && text.contains("select a target of a fanned-out stage"),
        "{text}"
    );
    ui.focus = Focus::Pipeline;
    ui.auto_select = false;
    // A stage without targets has none to mark.
    ui.stage = 0;
    ui.update(key(' '));
    assert!(notice(&ui).1);
    assert!(ui.marked.is_empty());
    // deploy-eu: mark eu-1 and eu-3, mark and unmark eu-2.
    ui.stage = 2;
    for t in [0, 1, 1, 2] {
        ui.target = t;
        ui.update(key(' '));
    }
    assert_eq!(ui.marked, ["prod/eu-1", "prod/eu-3"]);
    assert_eq!(
        notice(&ui).0,
        "prod/eu-3 marked (2 marked: R rolls back the marked targets)"
    );
    let text = screen::text(&screen::draw(&ui, 160, 48));
    assert!(
        text.contains("marked (R rolls them back, Esc clears): prod/eu-1, prod/eu-3"),
        "{text}"
    );
    // R offers the marked set first, then the selected target, the stage, the whole release.
    ui.update(key('R'));
    let c = confirm(&ui);
    assert_eq!(c.title, "Roll back 2.4.0 on prod/eu-1, prod/eu-3 only?");
    let body = c.body.join("\n");
    assert!(body.contains("In this order (newest first), 2 run(s):"), "{body}");
    assert!(
        body.contains("deploy-eu on eu-1") && body.contains("deploy-eu on eu-3"),
        "{body}"
    );
    assert!(!body.contains("eu-2") && !body.contains("eu-5"), "{body}");
    let others: Vec<&str> = c.others.iter().map(|o| o.title.as_str()).collect();
    assert_eq!(
        others,
        [
            "Roll back 2.4.0 on prod/eu-3 only?",
            "Roll back from stage deploy-eu?",
            "Roll back release 2.4.0?"
        ]
    );
    typed(&mut ui, "prod");
    assert_eq!(
        submits(&ui.update(code(KeyCode::Enter))),
        [Op::Rollback {
            stage: None,
            targets: vec!["prod/eu-1".into(), "prod/eu-3".into()],
            forced_over: vec![],
        }]
    );
    // Esc clears the marks (a filter first, when there is one).
    ui.update(code(KeyCode::Esc));
    assert!(ui.marked.is_empty());
    assert_eq!(notice(&ui).0, "2 target(s) unmarked");
    // A release opened anew starts with none.
    ui.update(key(' '));
    assert_eq!(ui.marked.len(), 1);
    ui.update(Msg::Opened("2.5.0".into()));
    assert!(ui.marked.is_empty());
}

#[test]
fn reject_asks_why_then_confirms_then_submits() {
    let mut ui = fixture::ui(&fixture::gated(), (160, 48));
    ui.update(key('X'));
    match &ui.modal {
        Some(Modal::Prompt(p)) => assert_eq!(p.title(), "Reject at gate signoff: why (required)"),
        other => panic!("{other:?}"),
    }
    // No reason, no rejection.
    assert!(submits(&ui.update(code(KeyCode::Enter))).is_empty());
    match &ui.modal {
        Some(Modal::Prompt(p)) => assert!(p.error.as_deref().unwrap().contains("a reason is required")),
        other => panic!("{other:?}"),
    }
    typed(&mut ui, "error budget exhausted");
    assert!(submits(&ui.update(code(KeyCode::Enter))).is_empty());
    let c = confirm(&ui);
    assert_eq!(c.title, "Reject release 2.4.0 at gate signoff?");
    let body = c.body.join("\n");
    assert!(body.contains("Reason: error budget exhausted"), "{body}");
    assert!(body.contains("ends rejected"), "{body}");
    assert!(
        body.contains("Nothing is rolled back; R rolls it back afterwards"),
        "{body}"
    );
    let protected = c.typed.clone();
    if let Some(env) = &protected {
        typed(&mut ui, env);
    }
    let fx = if protected.is_some() {
        ui.update(code(KeyCode::Enter))
    } else {
        ui.update(key('y'))
    };
    assert_eq!(
        submits(&fx),
        [Op::Reject {
            gate: "signoff".into(),
            reason: "error budget exhausted".into()
        }]
    );
    // The driver's refusal shows like any refused request.
    ui.update(Msg::Submitted {
        op: Op::Reject {
            gate: "signoff".into(),
            reason: "x".into(),
        },
        result: Err(
            "only someone who may approve gate `signoff` may reject it: bob is not in approvers: @cab".into(),
        ),
    });
    let (text, error) = notice(&ui);
    assert!(error && text.contains("bob is not in approvers: @cab"), "{text}");
}

#[test]
fn a_rejected_release_offers_its_rollback_in_the_status_bar() {
    let mut j = fixture::gated();
    j.push(
        300,
        "driver",
        Event::ReleaseFinished {
            state: FinalState::Rejected,
            reason: "rejected at gate signoff by carol: error budget exhausted".into(),
        },
    );
    let ui = fixture::ui(&j, (160, 48));
    let t = screen::text(screen::terminal(&ui, 160, 48).backend().buffer());
    assert!(t.contains("rejected"), "{t}");
    assert!(t.contains("R rolls back what it deployed"), "{t}");
}

#[test]
fn a_second_tick_right_after_the_first_passes_its_item_by() {
    // The fixture's gate has one manual item (then an automatic one).
    let mut ui = fixture::ui(&fixture::mid_run(), (160, 48));
    ui.update(key('t'));
    let first = submits(&ui.update(code(KeyCode::Enter)));
    assert!(
        matches!(first.as_slice(), [Op::Tick { item: 0, .. }]),
        "{first:?}"
    );
    // Its record has not arrived yet: `t` does not offer the same item again.
    ui.update(key('t'));
    assert!(ui.modal.is_none());
    assert!(notice(&ui).0.contains("every manual item is ticked"));
    // A refused tick is no longer on its way: `t` offers that item again.
    ui.update(Msg::Submitted {
        op: first[0].clone(),
        result: Err("refused".into()),
    });
    ui.update(key('t'));
    match &ui.modal {
        Some(Modal::Prompt(p)) => assert!(p.title().starts_with("Tick item 1:"), "{}", p.title()),
        other => panic!("{other:?}"),
    }
}
