//! The workspace board: `flightdeck ws status` and `ws envs` (text and JSON) on three small real
//! plans with releases run by the real binary (end to end, test layer 5); the board's model
//! (cells, filters); the reducer on the board (filters, Enter into a release, Esc back); and the
//! board's views at 200x50 and 80x24 (`TestBackend` + insta snapshots, a fixed clock).

use crate::commerce;
use crate::common;
use crate::fixture;
use crate::screen;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::KeyCode;
use flightdeck::engine::board::{Cell, Drift, EnvNow, Filter, Live, Need, NeedKind, PlanBoard, Row};
use flightdeck::engine::envs::{Deployed, InProgress, Place};
use flightdeck::engine::train::{Arrow, GateView, MemberView, TrainView};
use flightdeck::tui::app::{Effect, Msg, WsUpdate};
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::layout::WsPane;
use flightdeck::tui::state::UiState;
use flightdeck::tui::theme::Theme;
use flightdeck::tui::workspace::WsBoard;
use serde_json::Value;

use commerce::{BILLING, SEARCH, STOREFRONT, commerce, on, wait_state, write};
use common::{DEADLINE, Workspace, poll_until, stdout_of};
use screen::{code, key, terminal, text};

// ---------------------------------------------------------------------------------------------
// End to end: three plans, real releases (`support/commerce.rs`).

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout_of(out)))
}

/// The release `id` of `plan` in `ws status --json`.
fn release<'a>(v: &'a Value, plan: &str, id: &str) -> &'a Value {
    let p = v["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plan"] == plan)
        .unwrap_or_else(|| panic!("no plan {plan} in {v}"));
    p["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no release {id} of {plan} in {p}"))
}

#[test]
fn ws_status_and_ws_envs_show_every_plan_side_by_side() {
    let ws = commerce();
    // The workspace is what `check` checks here.
    let out = ws.expect(["check"], 0);
    assert!(stdout_of(&out).contains("workspace `commerce` is valid: 3 plan(s)"));

    // --- ws status: a table of every plan's releases, newest first, and what each needs.
    let out = ws.expect(["ws", "status"], 0);
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("workspace commerce: 3 plan(s) · 1 running · 1 paused · 1 failed"),
        "{text}"
    );
    let line_of = |needle: &str| -> usize {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{text}"))
    };
    let header = line_of("PLAN");
    for col in ["RELEASE", "TYPE", "STATE", "PROGRESS", "NEEDS / DOING", "STARTED"] {
        assert!(lines[header].contains(col), "{text}");
    }
    // Plan by plan in the workspace's order, each plan's newest release first.
    let order: Vec<usize> = ["1.1.0", "1.0.0", "2.1.0", "2.0.0", "0.2.0", "0.1.0"]
        .iter()
        .map(|v| line_of(&format!(" {v} ")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}:\n{text}");
    assert!(lines[order[0]].starts_with("billing "), "{text}");
    assert!(
        lines[order[1]].starts_with("  "),
        "the plan is named once:\n{text}"
    );
    for (v, want) in [
        ("1.1.0", "running deploy-prod"),
        ("1.0.0", "live on prod"),
        ("2.1.0", "gate signoff: 0/1 approvals"),
        // 2.1.0 runs on staging already.
        ("2.0.0", "live on prod"),
        ("0.2.0", "failed: "),
        ("0.1.0", "live on staging"),
    ] {
        let l = lines[line_of(&format!(" {v} "))];
        assert!(l.contains(want), "{v}: {want:?} in {l:?}\n{text}");
    }
    assert!(lines[line_of(" 2.1.0 ")].contains("paused"), "{text}");
    assert!(lines[line_of(" 0.2.0 ")].contains("failed"), "{text}");
    assert!(lines[line_of(" 1.1.0 ")].contains("2/3"), "{text}");
    assert!(
        !text.contains("TRAIN"),
        "no trains, no train column or section:\n{text}"
    );

    // --- ws status --json: the same, with the kinds of need.
    let v = json(&ws.expect(["ws", "status", "--json"], 0));
    assert_eq!(v["workspace"], "commerce");
    let plans: Vec<&str> = v["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plan"].as_str().unwrap())
        .collect();
    assert_eq!(plans, ["billing", "storefront", "search"]);
    assert_eq!(v["counts"]["running"], 1, "{v}");
    assert_eq!(v["counts"]["paused"], 1, "{v}");
    assert_eq!(v["counts"]["failed"], 1, "{v}");
    assert_eq!(v["counts"]["waiting_on_people"], 1, "{v}");
    let ids: Vec<&str> = v["plans"][0]["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1.1.0", "1.0.0"], "newest first");
    let r = release(&v, "billing", "1.1.0");
    assert_eq!(r["state"], "running");
    assert_eq!(r["running"], serde_json::json!(["deploy-prod"]));
    assert_eq!(
        (r["stages_done"].as_u64(), r["stages"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(r["needs"], Value::Null);
    assert_eq!(r["environments"], serde_json::json!(["staging", "prod"]));
    // It runs on staging already (its deploy there succeeded), though it has not finished.
    assert_eq!(r["live_on"], serde_json::json!(["staging"]));
    let r = release(&v, "billing", "1.0.0");
    assert_eq!(r["live_on"], serde_json::json!(["prod"]));
    let r = release(&v, "storefront", "2.1.0");
    assert_eq!(r["state"], "paused");
    assert_eq!(r["needs"]["kind"], "gate");
    assert_eq!(r["needs"]["text"], "gate signoff: 0/1 approvals");
    let r = release(&v, "search", "0.2.0");
    assert_eq!(r["state"], "failed");
    assert_eq!(r["needs"]["kind"], "person");
    assert!(r["finished_at"].is_string());
    assert_eq!(v["trains"], serde_json::json!([]));

    // --- ws envs: services × environments: live versions, drift marked, deploys in progress.
    let out = ws.expect(["ws", "envs"], 0);
    let text = stdout_of(&out);
    let row = |plan: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(&format!("{plan} ")))
            .unwrap_or_else(|| panic!("no row {plan}:\n{text}"))
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let head: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["SERVICE", "staging", "prod"], "{text}");
    assert_eq!(
        row("billing"),
        ["billing", "1.1.0", "1.0.0 ≠1 → 1.1.0 (running)"],
        "{text}"
    );
    assert_eq!(
        row("storefront"),
        ["storefront", "2.1.0", "2.0.0 → 2.1.0 (waiting)"],
        "{text}"
    );
    assert_eq!(row("search"), ["search", "0.1.0", "·"], "{text}");
    assert!(
        text.contains("≠N: N keys drift"),
        "the marks are explained:\n{text}"
    );

    // --- ws envs --json.
    let v = json(&ws.expect(["ws", "envs", "--json"], 0));
    assert_eq!(v["environments"], serde_json::json!(["staging", "prod"]));
    let svc = |plan: &str| -> &Value {
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["plan"] == plan)
            .unwrap()
    };
    let prod = &svc("billing")["environments"]["prod"];
    assert_eq!(prod["live"]["version"], "1.0.0", "{prod}");
    assert_eq!(prod["live"]["finished"], true);
    assert_eq!(prod["deploying"]["version"], "1.1.0");
    assert_eq!(prod["deploying"]["state"], "running");
    assert_eq!(prod["drift"]["differs"], 1, "{prod}");
    assert_eq!(prod["mixed"], false);
    let targets: Vec<(&str, &str)> = prod["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["target"].as_str().unwrap(), t["version"].as_str().unwrap()))
        .collect();
    assert_eq!(targets, [("eu", "1.0.0"), ("us", "1.0.0")]);
    let us = &prod["targets"][1]["drift"];
    assert_eq!(
        (us["differs"].as_u64(), us["compared"].as_bool()),
        (Some(1), Some(true))
    );
    let staging = &svc("billing")["environments"]["staging"];
    assert_eq!(staging["live"]["version"], "1.1.0");
    assert_eq!(staging["live"]["finished"], false, "its release goes on");
    assert_eq!(staging["drift"]["differs"], 0);
    assert_eq!(
        svc("storefront")["environments"]["prod"]["deploying"]["state"],
        "waiting"
    );
    assert_eq!(
        svc("search")["environments"]["prod"],
        Value::Null,
        "search has no prod"
    );

    // --- What changes shows: the gate approved, the hold lifted.
    on(
        &ws,
        "storefront/flightdeck.toml",
        &["approve", "2.1.0", "signoff"],
        0,
    );
    wait_state(&ws, "storefront/flightdeck.toml", "2.1.0", "succeeded");
    std::fs::remove_file(ws.file(".io/hold-1.1.0")).unwrap();
    ws.wait_for_state("1.1.0", "succeeded");
    let out = ws.expect(["ws", "envs"], 0);
    let text = stdout_of(&out);
    let billing = text.lines().find(|l| l.starts_with("billing ")).unwrap();
    assert!(billing.contains("1.1.0") && !billing.contains("→"), "{text}");
    let v = json(&ws.expect(["ws", "status", "--json"], 0));
    assert_eq!(v["counts"]["running"], 0, "{v}");
    assert_eq!(
        release(&v, "storefront", "2.1.0")["live_on"],
        serde_json::json!(["staging", "prod"])
    );
}

#[test]
fn ws_commands_outside_a_workspace_say_so() {
    let ws = Workspace::new(SEARCH);
    let out = ws.expect(["ws", "status"], 2);
    let err = common::stderr_of(&out);
    assert!(err.contains("flightdeck-workspace.toml"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn journal_text_is_printed_sanitised() {
    // A rejection's reason holds escape sequences: they never reach the terminal.
    let ws = Workspace::new(STOREFRONT);
    write(
        &ws,
        "flightdeck-workspace.toml",
        "[workspace]\nname = \"w\"\nplans = [\"flightdeck.toml\"]\n",
    );
    ws.run_to_gate("2.0.0");
    ws.expect(
        [
            "reject",
            "2.0.0",
            "signoff",
            "--reason",
            "no\x1b[2J\x1b]0;pwned\x07 way",
        ],
        0,
    );
    ws.wait_for_state("2.0.0", "rejected");
    let out = ws.expect(["ws", "status"], 0);
    let text = stdout_of(&out);
    assert!(text.contains("rejected: "), "{text}");
    assert!(text.contains("way"), "{text}");
    assert!(!out.stdout.iter().any(|b| *b == 0x1b || *b == 0x07), "{text:?}");
    let v = json(&ws.expect(["ws", "status", "--json"], 0));
    assert_eq!(release(&v, "storefront", "2.0.0")["needs"]["kind"], "person");
}

#[test]
fn trains_show_as_units_in_ws_status() {
    // storefront's prod deploy needs billing's; one train gate for both prod stages.
    let ws = Workspace::new(BILLING);
    write(&ws, ".io/probe-staging", "flag=a\n");
    write(&ws, ".io/probe-eu", "flag=a\n");
    write(&ws, ".io/probe-us", "flag=a\n");
    write(
        &ws,
        "storefront/flightdeck.toml",
        &STOREFRONT.replace("gate = \"signoff\"\n", "").replace(
            "needs = [\"deploy-staging\"]\nenvironment = \"prod\"",
            "needs = [\"deploy-staging\", \"billing:deploy-prod\"]\nenvironment = \"prod\"",
        ),
    );
    write(
        &ws,
        "flightdeck-workspace.toml",
        "[workspace]\nname = \"commerce\"\nplans = [\"flightdeck.toml\", \"storefront/flightdeck.toml\"]\n\n[train.gates.release-board]\napprovals = 1\n",
    );
    ws.expect(["check"], 0);
    ws.expect(
        [
            "train",
            "start",
            "spring",
            "--set",
            "billing=1.0.0",
            "--set",
            "storefront=2.0.0",
        ],
        0,
    );
    // Both members wait: billing for the train gate, storefront for billing and the gate.
    let mut v = Value::Null;
    let ok = poll_until(DEADLINE, || {
        v = json(&ws.expect(["ws", "status", "--json"], 0));
        // (The arrows come from the members' states, their needs from what their drivers
        // journaled: both are there once the drivers said so.)
        v["trains"][0]["blocking"]
            .as_array()
            .is_some_and(|a| a.len() >= 3)
            && !release(&v, "billing", "1.0.0")["needs"].is_null()
            && !release(&v, "storefront", "2.0.0")["needs"].is_null()
    });
    assert!(ok, "{v:#}");
    let t = &v["trains"][0];
    assert_eq!(t["name"], "spring");
    assert_eq!(t["members"].as_array().unwrap().len(), 2);
    assert_eq!(t["gates"][0]["name"], "release-board");
    assert_eq!(t["gates"][0]["open"], false);
    let arrows: Vec<(String, String)> = t["blocking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["from"].as_str().unwrap().to_string(),
                a["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        arrows.contains(&("storefront:deploy-prod".into(), "billing:deploy-prod".into())),
        "{arrows:?}"
    );
    assert!(
        arrows.contains(&("billing:deploy-prod".into(), "gate:release-board".into())),
        "{arrows:?}"
    );
    assert_eq!(release(&v, "billing", "1.0.0")["train"], "spring");
    // (Whichever of its two waits its driver said first.)
    let kind = &release(&v, "storefront", "2.0.0")["needs"]["kind"];
    assert!(kind == "dependency" || kind == "gate", "{kind}");
    assert_eq!(release(&v, "billing", "1.0.0")["needs"]["kind"], "gate");
    // The text: the train column, and the train as a unit under the releases.
    let text = stdout_of(&ws.expect(["ws", "status"], 0));
    let billing = text.lines().find(|l| l.starts_with("billing ")).unwrap();
    assert!(billing.contains("spring"), "{text}");
    assert!(
        billing.contains("deploy-prod waits for train gate release-board"),
        "{text}"
    );
    let trains = text.find("TRAINS").unwrap_or_else(|| panic!("{text}"));
    let tail = &text[trains..];
    for want in [
        "train spring: running",
        "gate release-board: waiting (0/1 approvals)",
        "⇢ storefront:deploy-prod waits for billing:deploy-prod",
        "⇢ billing:deploy-prod waits for train gate release-board",
    ] {
        assert!(tail.contains(want), "{want:?}:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The model, the reducer and the views, on a board made here.

fn now() -> DateTime<Utc> {
    fixture::now()
}

fn ago(mins: i64) -> DateTime<Utc> {
    now() - Duration::minutes(mins)
}

#[allow(clippy::too_many_arguments)]
fn row(
    plan: &str,
    id: &str,
    state: &str,
    done: usize,
    mins: i64,
    needs: Option<(NeedKind, &str)>,
    running: &[&str],
    live: &[&str],
) -> Row {
    let finished = !matches!(state, "running" | "paused" | "interrupted" | "scheduled");
    Row {
        plan: plan.into(),
        id: id.into(),
        version: id.into(),
        rtype: "minor".into(),
        state: state.into(),
        stages_done: done,
        stages: 3,
        created_at: Some(ago(mins)),
        finished_at: finished.then(|| ago(mins - 3)),
        scheduled_at: None,
        needs: needs.map(|(kind, text)| Need {
            kind,
            text: text.into(),
        }),
        running: running.iter().map(|s| s.to_string()).collect(),
        train: None,
        live_on: live.iter().map(|s| s.to_string()).collect(),
        environments: vec!["staging".into(), "prod".into()],
        partial: None,
        driver: None,
    }
}

fn deployed(id: &str, mins: i64) -> Deployed {
    Deployed {
        id: id.into(),
        version: id.into(),
        commit: None,
        at: ago(mins),
        started_by: "alice".into(),
    }
}

fn place(env: &str, target: Option<&str>, live: Option<Deployed>, mixed: bool) -> Place {
    Place {
        env: env.into(),
        target: target.map(str::to_string),
        live,
        previous: None,
        mixed,
        in_progress: None,
    }
}

fn drift(differs: usize) -> Drift {
    Drift {
        taken_at: ago(30),
        differs,
        probe_failed: false,
        compared: true,
    }
}

fn plan_board(plan: &str, envs: &[&str], releases: Vec<Row>, places: Vec<Place>) -> PlanBoard {
    PlanBoard {
        plan: plan.into(),
        environments: envs.iter().map(|e| e.to_string()).collect(),
        releases,
        older: false,
        places,
        drift: BTreeMap::new(),
        now: BTreeMap::new(),
        error: None,
    }
}

/// Four plans: billing deploying 2.4.0 to prod (on staging already) with drift on prod/us;
/// storefront waiting at a gate, its prod targets running different releases; search failed;
/// payments with nothing yet; and the train `spring` of billing and storefront.
fn board() -> (Vec<PlanBoard>, Vec<TrainView>) {
    let mut b1 = row(
        "billing",
        "2.4.0",
        "running",
        2,
        6,
        None,
        &["deploy-prod"],
        &["staging"],
    );
    b1.train = Some("spring".into());
    let mut billing = plan_board(
        "billing",
        &["staging", "prod"],
        vec![
            b1,
            row("billing", "2.3.0", "succeeded", 3, 60 * 26, None, &[], &["prod"]),
            row("billing", "2.2.0", "rolled_back", 3, 60 * 50, None, &[], &[]),
        ],
        vec![
            place("staging", None, Some(deployed("2.3.0", 60 * 25)), false),
            place("prod", None, Some(deployed("2.3.0", 60 * 25)), false),
            place("prod", Some("eu"), Some(deployed("2.3.0", 60 * 25)), false),
            place("prod", Some("us"), Some(deployed("2.3.0", 60 * 25)), false),
        ],
    );
    billing.drift.insert("staging".into(), drift(0));
    billing.drift.insert("prod/eu".into(), drift(0));
    billing.drift.insert("prod/us".into(), drift(2));
    billing.now.insert(
        "staging".into(),
        EnvNow {
            deploying: None,
            arrived: Some(Live {
                id: "2.4.0".into(),
                version: "2.4.0".into(),
                commit: None,
                at: ago(4),
                started_by: "alice".into(),
                finished: false,
            }),
        },
    );
    billing.now.insert(
        "prod".into(),
        EnvNow {
            deploying: Some(InProgress {
                id: "2.4.0".into(),
                version: "2.4.0".into(),
                state: "running".into(),
            }),
            arrived: None,
        },
    );
    let mut s1 = row(
        "storefront",
        "1.9.0",
        "paused",
        2,
        5,
        Some((NeedKind::Gate, "gate signoff: 0/1 approvals")),
        &[],
        &[],
    );
    s1.train = Some("spring".into());
    let mut storefront = plan_board(
        "storefront",
        &["staging", "prod"],
        vec![
            s1,
            row(
                "storefront",
                "1.8.0",
                "succeeded",
                3,
                60 * 30,
                None,
                &[],
                &["staging"],
            ),
        ],
        vec![
            place("staging", None, Some(deployed("1.8.0", 60 * 29)), false),
            place("prod", None, None, true),
            place("prod", Some("a"), Some(deployed("1.8.0", 60 * 29)), false),
            place("prod", Some("b"), Some(deployed("1.7.0", 60 * 90)), false),
        ],
    );
    storefront.now.insert(
        "prod".into(),
        EnvNow {
            deploying: Some(InProgress {
                id: "1.9.0".into(),
                version: "1.9.0".into(),
                state: "waiting".into(),
            }),
            arrived: None,
        },
    );
    let mut search_rows = vec![
        row(
            "search",
            "0.6.0",
            "failed",
            1,
            40,
            Some((NeedKind::Person, "failed: halted: stage deploy-staging failed")),
            &[],
            &[],
        ),
        row(
            "search",
            "0.5.0",
            "succeeded",
            2,
            60 * 72,
            None,
            &[],
            &["staging"],
        ),
    ];
    for r in &mut search_rows {
        r.stages = 2;
        r.environments = vec!["staging".into()];
    }
    let search = plan_board(
        "search",
        &["staging"],
        search_rows,
        vec![place("staging", None, Some(deployed("0.5.0", 60 * 71)), false)],
    );
    let payments = plan_board("payments", &["qa", "prod"], Vec::new(), Vec::new());
    let train = TrainView {
        name: "spring".into(),
        started: 1,
        started_at: ago(6),
        started_by: "alice".into(),
        state: "running".into(),
        reason: String::new(),
        members: vec![
            MemberView {
                plan: "billing".into(),
                version: "2.4.0".into(),
                release: Some("2.4.0".into()),
                state: "running".into(),
                stages_done: 2,
                stages: 3,
                finished_at: None,
                completed_at: None,
                problem: None,
            },
            MemberView {
                plan: "storefront".into(),
                version: "1.9.0".into(),
                release: Some("1.9.0".into()),
                state: "paused".into(),
                stages_done: 2,
                stages: 3,
                finished_at: None,
                completed_at: None,
                problem: None,
            },
        ],
        blocking: vec![
            Arrow {
                from: "storefront:deploy-prod".into(),
                to: "billing:deploy-prod".into(),
                what: "running".into(),
                since: Some(now() - Duration::seconds(40)),
            },
            Arrow {
                from: "storefront:deploy-prod".into(),
                to: "gate:release-board".into(),
                what: "0/1 approvals".into(),
                since: None,
            },
        ],
        gates: vec![GateView {
            name: "release-board".into(),
            open: false,
            progress: "0/1 approvals".into(),
            approved_by: Vec::new(),
            checklist: Vec::new(),
        }],
        rollback_order: Vec::new(),
    };
    (vec![billing, storefront, search, payments], vec![train])
}

/// The cockpit on the board above, at `size`.
fn ui(size: (u16, u16)) -> UiState {
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    ui.update(Msg::Resize(size.0, size.1));
    let (plans, trains) = board();
    let shape: Vec<(String, Vec<String>)> = plans
        .iter()
        .map(|p| (p.plan.clone(), p.environments.clone()))
        .collect();
    ui.ws = Some(WsBoard::new("commerce", &shape, true));
    ui.update(Msg::Workspace(Box::new(WsUpdate {
        plans,
        trains: Some(trains),
        ..WsUpdate::default()
    })));
    ui
}

fn ws(ui: &UiState) -> &WsBoard {
    ui.ws.as_ref().unwrap()
}

#[test]
fn cells_say_what_runs_where() {
    let (plans, _) = board();
    let billing = &plans[0];
    // Staging: the unfinished release that arrived after the finished one runs there.
    let c = billing.cell("staging").unwrap();
    assert_eq!(c.text(), "2.4.0");
    assert!(!c.live.as_ref().unwrap().finished);
    // Prod: live 2.3.0, drift on one target (≠2), 2.4.0 deploying.
    let c = billing.cell("prod").unwrap();
    assert_eq!(c.text(), "2.3.0 ≠2 → 2.4.0 (running)");
    assert!(c.drifted());
    assert_eq!(c.targets.len(), 2);
    // Targets that differ: mixed, and marked.
    let c: Cell = plans[1].cell("prod").unwrap();
    assert_eq!(c.text(), "mixed → 1.9.0 (waiting)");
    assert!(c.drifted());
    assert_eq!(plans[2].cell("prod"), None, "search has no prod");
    assert_eq!(plans[3].cell("qa").unwrap().text(), "—");
    // A failed probe is marked `!`.
    let mut p = plans[2].clone();
    p.drift.insert(
        "staging".into(),
        Drift {
            probe_failed: true,
            ..drift(0)
        },
    );
    assert_eq!(p.cell("staging").unwrap().text(), "0.5.0 !");
    // Where each release runs, as the matrix says.
    assert_eq!(billing.live_on("2.4.0"), ["staging"]);
    assert_eq!(billing.live_on("2.3.0"), ["prod"]);
    assert_eq!(plans[1].live_on("1.8.0"), ["staging", "prod/a"]);
}

#[test]
fn filters_narrow_releases_matrix_and_trains() {
    let u = ui((200, 50));
    let b = &ws(&u).board;
    assert_eq!(b.environments, ["staging", "prod", "qa"]);
    let f = |text: &str| Filter::parse(text, &b.environments).unwrap();
    let ids = |f: &Filter| b.rows(f).map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&Filter::default()),
        ["2.4.0", "2.3.0", "2.2.0", "1.9.0", "1.8.0", "0.6.0", "0.5.0"]
    );
    assert_eq!(ids(&f("running")), ["2.4.0"]);
    assert_eq!(ids(&f("paused")), ["1.9.0"]);
    assert_eq!(ids(&f("failed")), ["0.6.0"]);
    assert_eq!(ids(&f("store")), ["1.9.0", "1.8.0"]);
    assert_eq!(
        ids(&f("SPRING")),
        ["2.4.0", "1.9.0"],
        "a train's name finds its members"
    );
    // By environment: what concerns prod (search deploys to staging only).
    assert_eq!(ids(&f("env:prod")).len(), 5);
    assert!(Filter::parse("env:mars", &b.environments).is_err());
    // The matrix: one environment's column; the plans matching a name; with a state, the plans
    // with a release in it.
    let m = b.matrix(&f("env:prod"));
    assert_eq!(m.environments, ["prod"]);
    assert_eq!(m.rows.len(), 4);
    assert_eq!(b.matrix(&f("pay")).rows.len(), 1);
    let m = b.matrix(&f("failed"));
    assert_eq!(
        m.rows.iter().map(|r| r.plan.as_str()).collect::<Vec<_>>(),
        ["search"]
    );
    // Trains: by name, by a member's plan, by a member's state.
    assert_eq!(b.trains(&f("billing")).count(), 1);
    assert_eq!(b.trains(&f("paused")).count(), 1);
    assert_eq!(b.trains(&f("failed")).count(), 0);
    let c = b.counts();
    assert_eq!((c.running, c.paused, c.failed, c.waiting_on_people), (1, 1, 1, 1));
}

#[test]
fn keys_filter_the_board_open_a_release_and_esc_comes_back() {
    let mut u = ui((200, 50));
    // S cycles the state filter; E the environment.
    u.update(key('S'));
    assert_eq!(ws(&u).filter.state.as_deref(), Some("running"));
    assert_eq!(ws(&u).rows().len(), 1);
    u.update(key('S'));
    u.update(key('S'));
    assert_eq!(ws(&u).filter.state.as_deref(), Some("failed"));
    u.update(key('S'));
    assert_eq!(ws(&u).filter.state, None);
    u.update(key('E'));
    assert_eq!(ws(&u).filter.env.as_deref(), Some("staging"));
    u.update(code(KeyCode::Esc));
    assert!(ws(&u).filter.is_empty(), "Esc clears the filter");
    // f: typed; a mistake is said in the prompt, which stays.
    u.update(key('f'));
    screen::typed(&mut u, "env:mars");
    u.update(code(KeyCode::Enter));
    assert!(u.modal.is_some(), "the prompt stays open on a mistake");
    for _ in 0..8 {
        u.update(code(KeyCode::Backspace));
    }
    screen::typed(&mut u, "store");
    u.update(code(KeyCode::Enter));
    assert!(u.modal.is_none());
    assert_eq!(ws(&u).filter.name.as_deref(), Some("store"));
    // Enter opens the selected release in the release view.
    let fx = u.update(code(KeyCode::Enter));
    assert!(
        fx.contains(&Effect::OpenFromBoard {
            plan: "storefront".into(),
            id: "1.9.0".into()
        }),
        "{fx:?}"
    );
    assert!(!ws(&u).shown);
    assert_eq!(u.release.id, "1.9.0");
    // Acting keys now act on the release; Esc goes back to the board, the release selected.
    let fx = u.update(code(KeyCode::Esc));
    assert!(fx.contains(&Effect::BackToBoard), "{fx:?}");
    assert!(ws(&u).shown);
    assert_eq!(
        ws(&u).release,
        Some(("storefront".to_string(), "1.9.0".to_string()))
    );
    // The matrix: Enter opens what deploys to the selected cell (else what is live there).
    u.update(code(KeyCode::Esc));
    u.update(key('2'));
    assert_eq!(ws(&u).focus, WsPane::Matrix);
    u.update(code(KeyCode::Right));
    let fx = u.update(code(KeyCode::Enter));
    assert!(
        fx.contains(&Effect::OpenFromBoard {
            plan: "billing".into(),
            id: "2.4.0".into()
        }),
        "{fx:?}"
    );
    u.update(code(KeyCode::Esc));
    // The trains: a member's release.
    u.update(key('3'));
    u.update(code(KeyCode::Down));
    let fx = u.update(code(KeyCode::Enter));
    assert!(
        fx.contains(&Effect::OpenFromBoard {
            plan: "storefront".into(),
            id: "1.9.0".into()
        }),
        "{fx:?}"
    );
    u.update(code(KeyCode::Esc));
    // What only a release can do is said, not done (on the releases pane).
    u.update(key('1'));
    let fx = u.update(key('a'));
    assert!(fx.is_empty());
    assert!(u.notice.as_ref().is_some_and(|n| n.error), "{:?}", u.notice);
    // q quits from the board.
    let fx = u.update(key('q'));
    assert!(fx.contains(&Effect::Quit(0)));
}

#[test]
fn a_reload_keeps_the_selection() {
    let mut u = ui((200, 50));
    u.update(code(KeyCode::Down));
    u.update(code(KeyCode::Down));
    u.update(code(KeyCode::Down));
    assert_eq!(ws(&u).release, Some(("storefront".into(), "1.9.0".into())));
    // billing gets a new release: the rows shift, the selection stays on 1.9.0.
    let (mut plans, _) = board();
    let mut billing = plans.remove(0);
    billing
        .releases
        .insert(0, row("billing", "2.5.0", "running", 0, 1, None, &["build"], &[]));
    u.update(Msg::Workspace(Box::new(WsUpdate {
        plans: vec![billing],
        ..WsUpdate::default()
    })));
    assert_eq!(ws(&u).selected_row(), 4);
    assert_eq!(ws(&u).release, Some(("storefront".into(), "1.9.0".into())));
    assert_eq!(ws(&u).board.plans.len(), 4, "the other plans are kept");
}

fn snap(name: &str, u: &UiState, w: u16, h: u16) -> String {
    let t = terminal(u, w, h);
    insta::assert_snapshot!(name, t.backend());
    text(t.backend().buffer())
}

#[test]
fn the_board_at_200x50() {
    let u = ui((200, 50));
    let t = snap("ws_board_200x50", &u, 200, 50);
    for want in [
        "commerce",
        "4 plans",
        "1 running",
        "1 paused",
        "1 failed",
        "Releases (7)",
        "gate signoff: 0/1 approvals",
        "running deploy-prod",
        "Environments",
        "2.3.0 ≠2",
        "mixed",
        "Trains (1)",
        "storefront:deploy-prod waits for billing:deploy-prod, running 40s",
        "gate release-board: waiting (0/1 approvals)",
        "Enter open",
    ] {
        assert!(t.contains(want), "missing {want:?}:\n{t}");
    }
    let mut u = ui((200, 50));
    u.update(key('f'));
    screen::typed(&mut u, "env:prod spring");
    u.update(code(KeyCode::Enter));
    let t = snap("ws_board_filtered_200x50", &u, 200, 50);
    assert!(t.contains("filter: env:prod spring"), "{t}");
    assert!(t.contains("Releases (2 of 7, filtered)"), "{t}");
}

#[test]
fn the_board_at_80x24_one_tab_at_a_time() {
    let mut u = ui((80, 24));
    let t = snap("ws_board_80x24", &u, 80, 24);
    assert!(
        t.contains("1 Releases") && t.contains("2 Matrix") && t.contains("3 Trains"),
        "{t}"
    );
    u.update(key('2'));
    u.update(code(KeyCode::Right));
    let t = snap("ws_matrix_80x24", &u, 80, 24);
    assert!(t.contains("billing on prod: 2.3.0 live since"), "{t}");
    u.update(key('3'));
    let t = snap("ws_trains_80x24", &u, 80, 24);
    assert!(t.contains("train spring"), "{t}");
    // Every small size draws without a panic.
    for (w, h) in [(60, 16), (59, 16), (100, 30), (139, 40), (140, 30), (1, 1)] {
        let _ = terminal(&u, w, h);
    }
}

#[test]
fn the_mouse_selects_on_the_board() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut u = ui((200, 50));
    let buf = screen::draw(&u, 200, 50);
    let click = |u: &mut UiState, (x, y): (u16, u16)| {
        u.update(Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        }));
    };
    click(&mut u, screen::find(&buf, "0.6.0"));
    assert_eq!(ws(&u).release, Some(("search".into(), "0.6.0".into())));
    // A cell of the matrix: storefront on prod.
    click(&mut u, screen::find(&buf, "mixed"));
    assert_eq!(ws(&u).focus, WsPane::Matrix);
    assert_eq!(ws(&u).cell, (1, 1));
    // A train's member.
    let (x, y) = screen::find(&buf, "1.9.0      paused");
    click(&mut u, (x, y));
    assert_eq!(ws(&u).focus, WsPane::Trains);
    assert_eq!(ws(&u).member, 1);
}

/// On the trains pane, a train is approved, cancelled or rolled back after a confirmation; the
/// rollback previews its order (the members that completed, the last completed first) and
/// wants the train's name typed.
#[test]
fn a_train_rolls_back_from_the_board_after_its_preview_and_its_name_typed() {
    use flightdeck::release::launcher::TrainAct;
    use flightdeck::tui::modal::Modal;
    let mut u = ui((200, 50));
    let (plans, mut trains) = board();
    // storefront's stages completed last; billing's release ended last (its end snapshot took
    // long): the stages' completion orders the rollback.
    for (i, m) in trains[0].members.iter_mut().enumerate() {
        m.state = "succeeded".into();
        m.completed_at = Some(now() - Duration::seconds(120 - 10 * i as i64));
        m.finished_at = Some(now() - Duration::seconds(10 + 40 * i as i64));
    }
    u.update(Msg::Workspace(Box::new(WsUpdate {
        plans,
        trains: Some(trains),
        ..WsUpdate::default()
    })));
    u.update(key('3'));
    // First, what it would roll back over: asked of the program around the cockpit.
    let fx = u.update(key('R'));
    assert_eq!(
        fx,
        [Effect::TrainPreview {
            name: "spring".into()
        }]
    );
    assert!(u.modal.is_none(), "{:?}", u.modal);
    u.update(Msg::TrainPreview {
        name: "spring".into(),
        over: Ok(Vec::new()),
    });
    let Some(Modal::Confirm(c)) = &u.modal else {
        panic!("a confirmation: {:?}", u.modal)
    };
    assert!(!c.body.iter().any(|l| l.contains("over")), "{:?}", c.body);
    assert_eq!(c.title, "Roll back train spring?");
    assert_eq!(c.typed.as_deref(), Some("spring"));
    // storefront completed last: it goes first.
    let order: Vec<&String> = c
        .body
        .iter()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        order,
        [
            "  1. storefront 1.9.0 (release 1.9.0)",
            "  2. billing 2.4.0 (release 2.4.0)"
        ]
    );
    // Enter does nothing until the name is typed.
    assert!(u.update(code(KeyCode::Enter)).is_empty());
    for ch in "spring".chars() {
        u.update(key(ch));
    }
    let fx = u.update(code(KeyCode::Enter));
    assert_eq!(
        fx,
        [Effect::Train {
            name: "spring".into(),
            act: TrainAct::Rollback { force: false }
        }]
    );
    // The answer is said.
    u.update(Msg::TrainActed(Ok("train spring: rolling back".into())));
    assert!(u.modal.is_none());
    assert!(
        u.notice
            .as_ref()
            .is_some_and(|n| !n.error && n.text.contains("rolling back")),
        "{:?}",
        u.notice
    );
    // Over newer releases: listed, and the rollback goes over them once the name is typed.
    u.update(key('R'));
    u.update(Msg::TrainPreview {
        name: "spring".into(),
        over: Ok(vec!["billing/2.4.0: 2.5.0 live on prod".into()]),
    });
    let Some(Modal::Confirm(c)) = &u.modal else {
        panic!("a confirmation: {:?}", u.modal)
    };
    assert!(
        c.body.iter().any(|l| l.contains("rolls back over them"))
            && c.body.iter().any(|l| l == "  billing/2.4.0: 2.5.0 live on prod"),
        "{:?}",
        c.body
    );
    assert!(
        c.typed_why
            .as_deref()
            .is_some_and(|w| w.contains("over newer ones"))
    );
    for ch in "spring".chars() {
        u.update(key(ch));
    }
    assert_eq!(
        u.update(code(KeyCode::Enter)),
        [Effect::Train {
            name: "spring".into(),
            act: TrainAct::Rollback { force: true }
        }]
    );
    u.update(Msg::TrainActed(Ok("train spring: rolling back".into())));
    // Why it cannot be rolled back is said, and nothing opens.
    u.update(key('R'));
    u.update(Msg::TrainPreview {
        name: "spring".into(),
        over: Err("train spring is still running: cancel it first".into()),
    });
    assert!(u.modal.is_none(), "{:?}", u.modal);
    assert!(
        u.notice
            .as_ref()
            .is_some_and(|n| n.error && n.text.contains("still running")),
        "{:?}",
        u.notice
    );
    // Approving its gate: one confirmation, no name to type.
    let fx = u.update(key('a'));
    assert!(fx.is_empty());
    let fx = u.update(key('y'));
    assert_eq!(
        fx,
        [Effect::Train {
            name: "spring".into(),
            act: TrainAct::Approve(Some("release-board".into()))
        }]
    );
}
