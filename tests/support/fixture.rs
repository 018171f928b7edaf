//! Sample releases for the cockpit's tests and benchmarks: journal records with fixed times, so
//! views render the same every time. Test code: included by the test crates and benches that use it
//! (`#[path = "support/fixture.rs"] mod fixture;`), never part of the shipped library.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};

use flightdeck::event::{Event, FinalState, GateDecl, Outcome, Record, RunKey, RunKind, StageDecl};
use flightdeck::plan::{OnFailure, ReleaseType};
use flightdeck::runlog::{LineKind, LogLineRef};
use flightdeck::tui::app::Msg;
use flightdeck::tui::keymap::Keymap;
use flightdeck::tui::state::{BoardRow, UiState};
use flightdeck::tui::theme::Theme;

/// When the sample release was created.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0)
        .single()
        .expect("valid time")
}

/// The `now` the sample views are rendered at: five minutes after [`t0`].
pub fn now() -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(5)
}

/// Builds records with dense sequence numbers, `secs` after [`t0`].
#[derive(Debug, Default)]
pub struct Journal {
    pub records: Vec<Record>,
}

impl Journal {
    pub fn push(&mut self, secs: i64, actor: &str, event: Event) -> &mut Self {
        self.records.push(Record {
            seq: self.records.len() as u64 + 1,
            ts: t0() + chrono::Duration::seconds(secs),
            actor: actor.to_string(),
            prev: String::new(),
            event,
        });
        self
    }
    fn run(&mut self, secs: i64, stage: &str, target: Option<&str>) -> &mut Self {
        let log = match target {
            Some(t) => format!("logs/{stage}.{t}.1.log"),
            None => format!("logs/{stage}.1.log"),
        };
        self.push(
            secs,
            "driver",
            Event::RunStarted {
                run: key(stage, target),
                run_kind: RunKind::Deploy,
                log,
            },
        )
    }
    fn done(&mut self, secs: i64, stage: &str, target: Option<&str>, outcome: Outcome, ms: u64) -> &mut Self {
        self.push(
            secs,
            "driver",
            Event::RunFinished {
                run: key(stage, target),
                run_kind: RunKind::Deploy,
                outcome,
                duration_ms: ms,
            },
        )
    }
}

fn key(stage: &str, target: Option<&str>) -> RunKey {
    RunKey {
        stage: stage.into(),
        target: target.map(str::to_string),
        attempt: 1,
    }
}

fn stage(id: &str, needs: &[&str], targets: &[&str], gates: &[&str]) -> StageDecl {
    StageDecl {
        id: id.into(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        environment: (!targets.is_empty()).then(|| "prod".to_string()),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        gates: gates.iter().map(|s| s.to_string()).collect(),
        has_rollback: true,
        retries: 0,
    }
}

pub const TARGETS: [&str; 6] = ["eu-1", "eu-2", "eu-3", "eu-4", "eu-5", "eu-6"];

/// A release mid-run: build and test done, a fan-out over 6 targets with 3 done, 1 failed, 1
/// running and 1 pending; a gated stage and one more after it.
pub fn mid_run() -> Journal {
    let mut j = start();
    j.done(
        130,
        "deploy-eu",
        Some("eu-4"),
        Outcome::Failed {
            code: Some(2),
            signal: None,
            command: 0,
        },
        50_000,
    );
    j
}

/// Up to the fan-out: build and test done, 5 of 6 targets started, 3 of them done.
fn start() -> Journal {
    let mut j = Journal::default();
    j.push(
        0,
        "alice",
        Event::ReleaseCreated {
            id: "2.4.0".into(),
            version: "2.4.0".into(),
            rtype: ReleaseType::Minor,
            plan: "shop".into(),
            plan_path: "/srv/shop/flightdeck.toml".into(),
            stages: vec![
                stage("build", &[], &[], &[]),
                stage("test", &["build"], &[], &[]),
                stage("deploy-eu", &["test"], &TARGETS, &[]),
                stage("smoke", &["deploy-eu"], &[], &["signoff"]),
                stage("promote", &["smoke"], &[], &[]),
            ],
            gates: vec![GateDecl {
                name: "signoff".into(),
                approvals: 2,
                checklist: vec![
                    ("Release notes reviewed".into(), false),
                    ("Error budget healthy".into(), true),
                ],
                approvers: vec![],
                eligible: None,
                allow_self_approval: false,
                expires_secs: None,
                signers: None,
            }],
            only: vec![],
        },
    );
    j.push(
        1,
        "driver",
        Event::DriverStarted {
            pid: 4242,
            host: "ci".into(),
        },
    );
    j.run(2, "build", None)
        .done(14, "build", None, Outcome::Succeeded, 12_000);
    j.push(
        14,
        "driver",
        Event::StageSucceeded {
            stage: "build".into(),
        },
    );
    j.run(15, "test", None)
        .done(75, "test", None, Outcome::Succeeded, 60_000);
    j.push(75, "driver", Event::StageSucceeded { stage: "test".into() });
    for (i, t) in TARGETS.iter().take(5).enumerate() {
        j.run(80 + i as i64, "deploy-eu", Some(t));
    }
    for t in &TARGETS[..3] {
        j.done(120, "deploy-eu", Some(t), Outcome::Succeeded, 40_000);
    }
    j
}

/// [`mid_run`] finished badly: the fan-out failed, the release failed.
pub fn failed() -> Journal {
    let mut j = mid_run();
    j.done(200, "deploy-eu", Some("eu-5"), Outcome::TimedOut, 120_000);
    j.push(
        201,
        "driver",
        Event::StageFailed {
            stage: "deploy-eu".into(),
            on_failure: OnFailure::Halt,
            reason: "2 of 6 targets failed".into(),
        },
    );
    j.push(
        202,
        "driver",
        Event::ReleaseFinished {
            state: FinalState::Failed,
            reason: "stage deploy-eu failed".into(),
        },
    );
    j
}

/// The fan-out gone well up to the gate: waiting at `signoff` with one item ticked, the check
/// passed and one of two approvals.
pub fn gated() -> Journal {
    let mut j = start();
    j.done(130, "deploy-eu", Some("eu-4"), Outcome::Succeeded, 50_000);
    j.done(150, "deploy-eu", Some("eu-5"), Outcome::Succeeded, 70_000);
    j.run(151, "deploy-eu", Some("eu-6"))
        .done(190, "deploy-eu", Some("eu-6"), Outcome::Succeeded, 39_000);
    j.push(
        191,
        "driver",
        Event::StageSucceeded {
            stage: "deploy-eu".into(),
        },
    );
    j.push(
        200,
        "driver",
        Event::GateReached {
            stage: "smoke".into(),
            gate: "signoff".into(),
        },
    );
    j.push(
        201,
        "driver",
        Event::CheckStarted {
            gate: "signoff".into(),
            item: 1,
            log: "logs/check.signoff.2.log".into(),
        },
    );
    j.push(
        203,
        "driver",
        Event::CheckFinished {
            gate: "signoff".into(),
            item: 1,
            outcome: Outcome::Succeeded,
        },
    );
    j.push(
        240,
        "alice",
        Event::Ticked {
            gate: "signoff".into(),
            item: 0,
            note: String::new(),
        },
    );
    j.push(
        250,
        "bob",
        Event::Approved {
            gate: "signoff".into(),
            note: String::new(),
            signed: None,
        },
    );
    j
}

/// The plan of the sample releases: `prod` (the fan-out's environment) is protected.
pub const PLAN: &str = r#"
[plan]
name = "shop"

[environments.prod]
targets = ["eu-1", "eu-2", "eu-3", "eu-4", "eu-5", "eu-6"]
protected = true

[gates.signoff]
approvals = 2
checklist = [
  { item = "Release notes reviewed" },
  { item = "Error budget healthy", check = "true" },
]

[[stage]]
id = "build"
run = "make"
rollback = "true"

[[stage]]
id = "test"
needs = ["build"]
run = "make test"
rollback = "true"

[[stage]]
id = "deploy-eu"
needs = ["test"]
environment = "prod"
run = "./deploy.sh {target}"
rollback = "./deploy.sh {target} --previous"

[[stage]]
id = "smoke"
needs = ["deploy-eu"]
gate = "signoff"
run = "./smoke.sh"
rollback = "true"

[[stage]]
id = "promote"
needs = ["smoke"]
run = "./promote.sh"
rollback = "true"
"#;

/// [`PLAN`], loaded.
pub fn plan() -> flightdeck::plan::Plan {
    flightdeck::plan::load_str(PLAN, std::path::Path::new("/srv/shop/flightdeck.toml"))
        .expect("the sample plan is valid")
}

/// A UI state holding `journal`, the plan's two earlier releases on the board, colours on, and
/// some output (colours, stderr, an annotation, a long line) in the selected run's ring.
pub fn ui(journal: &Journal, size: (u16, u16)) -> UiState {
    let mut ui = UiState::new(Keymap::default(), Theme::new(true));
    ui.update(Msg::Resize(size.0, size.1));
    ui.update(Msg::Board(vec![
        BoardRow {
            id: "2.3.1".into(),
            version: "2.3.1".into(),
            rtype: "patch".into(),
            state: "succeeded".into(),
            progress: (5, 5),
            created_at: Some(t0() - chrono::Duration::days(2)),
            finished_at: Some(t0() - chrono::Duration::days(2) + chrono::Duration::seconds(754)),
            driver: None,
            live_on: Vec::new(),
            partial: None,
            scheduled_at: None,
        },
        BoardRow {
            id: "2.3.0".into(),
            version: "2.3.0".into(),
            rtype: "minor".into(),
            state: "rolled_back".into(),
            progress: (5, 5),
            created_at: Some(t0() - chrono::Duration::days(9)),
            finished_at: Some(t0() - chrono::Duration::days(9) + chrono::Duration::seconds(1980)),
            driver: None,
            live_on: Vec::new(),
            partial: None,
            scheduled_at: None,
        },
    ]));
    let live = journal
        .records
        .iter()
        .rev()
        .find_map(|r| match (&r.event, r.seq) {
            (Event::ReleaseFinished { .. }, _) => Some(None),
            (Event::DriverStarted { pid, .. }, _) => Some(Some(*pid)),
            _ => None,
        });
    ui.update(Msg::Plan(Some(std::sync::Arc::new(plan()))));
    ui.update(Msg::Records(journal.records.clone()));
    ui.update(Msg::Driver(live.flatten()));
    let lines: [(LineKind, &[u8]); 5] = [
        (LineKind::Note, b"$ ./deploy.sh eu-5"),
        (LineKind::Stdout, b"\x1b[32mok\x1b[0m pulled image shop:2.4.0"),
        (LineKind::Stderr, b"\x1b[33mwarn\x1b[0m slow health check (2.1s)"),
        (LineKind::Stdout, b"progress 10%\rprogress 100%"),
        (
            LineKind::Stdout,
            b"\x1b]0;evil title\x07waiting for rollout \x1b[2Jof shop-web",
        ),
    ];
    for (kind, text) in lines {
        ui.output.push(LogLineRef {
            t_ms: 0,
            kind,
            text,
            truncated: false,
        });
    }
    ui
}

/// Typical durations for [`mid_run`]'s stages, as if from earlier releases: the fan-out
/// typically takes 4 minutes (it has run 3m40s at [`now`]), the gated smoke test 20s.
pub fn typical() -> flightdeck::tui::state::Typical {
    let ms = |s: i64| s * 1000;
    flightdeck::tui::state::Typical {
        stages: [
            ("build", ms(10), 3),
            ("test", ms(50), 3),
            ("deploy-eu", ms(240), 3),
            ("smoke", ms(20), 2),
            ("promote", ms(30), 2),
        ]
        .into_iter()
        .map(|(k, v, n)| (k.to_string(), (v, n)))
        .collect(),
    }
}

/// The names of [`fanout`]'s targets: `node-001` ...
pub fn fanout_target(i: usize) -> String {
    format!("node-{:03}", i + 1)
}

/// A release fanning out over `n` targets (at most 999): 2/3 of them done, every 37th failed
/// (every 74th of those timed out), the next 12 running, the rest pending.
pub fn fanout(n: usize) -> Journal {
    let names: Vec<String> = (0..n).map(fanout_target).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut j = Journal::default();
    j.push(
        0,
        "alice",
        Event::ReleaseCreated {
            id: "3.0.0".into(),
            version: "3.0.0".into(),
            rtype: ReleaseType::Major,
            plan: "fleet".into(),
            plan_path: "/srv/fleet/flightdeck.toml".into(),
            stages: vec![
                stage("build", &[], &[], &[]),
                stage("rollout", &["build"], &refs, &[]),
                stage("verify", &["rollout"], &[], &[]),
            ],
            gates: vec![],
            only: vec![],
        },
    );
    j.push(
        1,
        "driver",
        Event::DriverStarted {
            pid: 777,
            host: "ci".into(),
        },
    );
    j.run(2, "build", None)
        .done(30, "build", None, Outcome::Succeeded, 28_000);
    j.push(
        30,
        "driver",
        Event::StageSucceeded {
            stage: "build".into(),
        },
    );
    let done = n * 2 / 3;
    for (i, t) in refs.iter().enumerate().take((done + 12).min(n)) {
        j.run(31, "rollout", Some(t));
        if i < done {
            let outcome = if i % 74 == 36 {
                Outcome::TimedOut
            } else if i % 37 == 36 {
                Outcome::Failed {
                    code: Some(1),
                    signal: None,
                    command: 0,
                }
            } else {
                Outcome::Succeeded
            };
            j.done(100, "rollout", Some(t), outcome, 69_000);
        }
    }
    j
}

/// A drift summary as the source would send it: `staging` the baseline at 2.4.0, both targets
/// of `prod` a version behind (3 commits; the version key their one drifting key), `qa` at the
/// baseline's version with one drifting key (a long value, shortened on screen), and a failed
/// probe on `dr`.
pub fn drift_overview() -> flightdeck::drift::overview::Overview {
    use flightdeck::drift::Mark;
    use flightdeck::drift::overview::{Distance, EnvRow, KeyDiff, Overview};
    let row = |column: &str, version: Option<&str>| {
        let (env, target) = match column.split_once('/') {
            Some((e, t)) => (e.to_string(), Some(t.to_string())),
            None => (column.to_string(), None),
        };
        EnvRow {
            column: column.into(),
            env,
            target,
            baseline: false,
            version: version.map(str::to_string),
            vs_baseline: version.map(|v| Distance {
                other: "staging".into(),
                ahead: Some(0),
                behind: Some(if v == "2.4.0" { 0 } else { 3 }),
            }),
            vs_release: None,
            differs: 0,
            missing: 0,
            extra: 0,
            error: None,
            compared: true,
            diffs: Vec::new(),
            more: 0,
        }
    };
    let mut staging = row("staging", Some("2.4.0"));
    staging.baseline = true;
    staging.vs_baseline = None;
    let behind = |column: &str| {
        let mut r = row(column, Some("2.3.1"));
        r.differs = 1;
        r.diffs = vec![KeyDiff {
            key: "version".into(),
            mark: Mark::Differs,
            baseline: Some("2.4.0".into()),
            value: Some("2.3.1".into()),
        }];
        r
    };
    let mut qa = row("qa", Some("2.4.0"));
    qa.differs = 1;
    qa.diffs = vec![KeyDiff {
        key: "db.pool.max_connections".into(),
        mark: Mark::Differs,
        baseline: Some("20".into()),
        value: Some(format!(
            "40 # raised during incident INC-4411, {}",
            "see runbook ".repeat(6)
        )),
    }];
    let mut dr = row("dr", None);
    dr.error = Some("exit 3".into());
    dr.compared = false;
    Overview {
        source: "start of release 2.4.0".into(),
        taken_at: t0(),
        baseline: Some("staging".into()),
        version_key: "version".into(),
        keys: 42,
        rows: vec![staging, behind("prod/eu-1"), behind("prod/eu-2"), qa, dr],
    }
}

/// [`ui`] with [`drift_overview`] loaded (as the source sends it) and [`typical`] durations.
pub fn ui_with_drift(journal: &Journal, size: (u16, u16)) -> UiState {
    let mut ui = ui(journal, size);
    ui.update(Msg::Drift {
        release: ui.release.id.clone(),
        probed: false,
        result: Ok(Some(std::sync::Arc::new(drift_overview()))),
    });
    ui.update(Msg::Typical {
        release: ui.release.id.clone(),
        typical: typical(),
    });
    ui
}
