//! `flightdeck report --format html` of a release fanned out over 1,000 targets (or
//! `REPORT_TARGETS`), against `status --json` of the same release as the baseline, interleaved
//! in one run: the median wall time of each (`BENCH_REPS` repetitions, default 15) and their
//! ratio. The goal: the HTML report in under 200 ms.
//!
//!     cargo bench --bench report
//!     REPORT_TARGETS=5000 BENCH_REPS=5 cargo bench --bench report
//!
//! The release is a journal written through the library (chained like any journal), with the
//! run logs and the plan copy a driver leaves: `build`, then `deploy` over every target of
//! `prod` 50 at a time behind gate `go` (a ticked item, an automatic check with its log, a
//! an approval with a note), each run logging a few lines; one target in a hundred fails
//! its first attempt (40 lines of output, exit 1) and passes its retry; then `verify`. The first
//! command builds the plan's index (timed apart); the timed ones read it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flightdeck::event::{
    Event, FinalState, GateDecl, Outcome, Record, ReleaseType, RunKey, RunKind, StageDecl,
};
use flightdeck::journal::Store;

mod common;

use common::{median, wait_rusage};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).single().unwrap()
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::milliseconds(ms)
}

fn target(i: usize) -> String {
    format!("t{i:04}")
}

fn plan_text(n: usize) -> String {
    let targets: Vec<String> = (0..n).map(|i| format!("\"{}\"", target(i))).collect();
    format!(
        r#"[plan]
name = "fleet"

[environments.prod]
targets = [{}]

[[stage]]
id = "build"
run = "./build.sh {{version}}"

[[stage]]
id = "deploy"
needs = ["build"]
environment = "prod"
gate = "go"
concurrency = 50
retries = 1
run = "./deploy.sh {{target}} {{version}}"

[[stage]]
id = "verify"
needs = ["deploy"]
run = "./verify.sh"

[gates.go]
approvals = 1
checklist = [
  {{ item = "Change ticket open" }},
  {{ item = "Error budget healthy", check = "./budget.sh" }},
]
"#,
        targets.join(", ")
    )
}

/// A run log: the command, a few lines of output, how it ended.
fn log_text(command: &str, lines: usize, ok: bool, ms: u64) -> String {
    let mut s = format!("# $ {command}\n@3\n");
    for k in 0..lines {
        s.push_str(&format!("o step {k} of {command}: \x1b[32mok\x1b[0m\n"));
    }
    if !ok {
        s.push_str("e error: connection refused by <upstream> & gave up\n");
    }
    s.push_str(&format!(
        "@{ms}\n# exit {} after {}s\n",
        if ok { 0 } else { 1 },
        ms / 1000
    ));
    s
}

/// Writes release 1.0 of `fleet` over `n` targets; the number of runs it holds.
fn write_release(store: &Store, plan_file: &Path, plan: &str, n: usize) -> usize {
    let rdir = store.create_release("fleet", "1.0").unwrap();
    std::fs::write(rdir.plan_copy(), plan).unwrap();
    std::fs::create_dir_all(rdir.path.join("logs")).unwrap();
    let mut events: Vec<(i64, &str, Event)> = Vec::new();
    let mut runs = 0;
    events.push((
        0,
        "releaser",
        Event::ReleaseCreated {
            id: rdir.id.clone(),
            version: "1.0".into(),
            rtype: ReleaseType::Minor,
            plan: "fleet".into(),
            plan_path: plan_file.to_string_lossy().into_owned(),
            stages: vec![
                StageDecl {
                    id: "build".into(),
                    needs: vec![],
                    environment: None,
                    targets: vec![],
                    gates: vec![],
                    has_rollback: false,
                    retries: 0,
                },
                StageDecl {
                    id: "deploy".into(),
                    needs: vec!["build".into()],
                    environment: Some("prod".into()),
                    targets: (0..n).map(target).collect(),
                    gates: vec!["go".into()],
                    has_rollback: false,
                    retries: 1,
                },
                StageDecl {
                    id: "verify".into(),
                    needs: vec!["deploy".into()],
                    environment: None,
                    targets: vec![],
                    gates: vec![],
                    has_rollback: false,
                    retries: 0,
                },
            ],
            gates: vec![GateDecl {
                name: "go".into(),
                approvals: 1,
                checklist: vec![
                    ("Change ticket open".into(), false),
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
    ));
    events.push((
        1,
        "driver",
        Event::DriverStarted {
            pid: 1,
            host: "bench".into(),
        },
    ));
    let mut run = |events: &mut Vec<(i64, &str, Event)>,
                   stage: &str,
                   tgt: Option<String>,
                   attempt: u32,
                   start: i64,
                   ms: u64,
                   ok: bool| {
        let key = RunKey {
            stage: stage.into(),
            target: tgt.clone(),
            attempt,
        };
        let name = match &tgt {
            Some(t) => format!("{stage}.{t}.{attempt}.log"),
            None => format!("{stage}.{attempt}.log"),
        };
        let log = format!("logs/{name}");
        let command = format!("./{stage}.sh {}", tgt.as_deref().unwrap_or("1.0"));
        std::fs::write(
            rdir.path.join(&log),
            log_text(&command, if ok { 4 } else { 40 }, ok, ms),
        )
        .unwrap();
        events.push((
            start,
            "driver",
            Event::RunStarted {
                run: key.clone(),
                run_kind: RunKind::Deploy,
                log,
            },
        ));
        events.push((
            start + ms as i64,
            "driver",
            Event::RunFinished {
                run: key,
                run_kind: RunKind::Deploy,
                outcome: if ok {
                    Outcome::Succeeded
                } else {
                    Outcome::Failed {
                        code: Some(1),
                        signal: None,
                        command: 0,
                    }
                },
                duration_ms: ms,
            },
        ));
        runs += 1;
    };
    run(&mut events, "build", None, 1, 1_000, 40_000, true);
    events.push((
        41_000,
        "driver",
        Event::StageSucceeded {
            stage: "build".into(),
        },
    ));
    events.push((
        41_000,
        "driver",
        Event::GateReached {
            stage: "deploy".into(),
            gate: "go".into(),
        },
    ));
    std::fs::write(
        rdir.path.join("logs/check.go.2.log"),
        log_text("./budget.sh", 3, true, 900),
    )
    .unwrap();
    events.push((
        41_000,
        "driver",
        Event::CheckStarted {
            gate: "go".into(),
            item: 1,
            log: "logs/check.go.2.log".into(),
        },
    ));
    events.push((
        41_900,
        "driver",
        Event::CheckFinished {
            gate: "go".into(),
            item: 1,
            outcome: Outcome::Succeeded,
        },
    ));
    events.push((
        60_000,
        "carol",
        Event::Ticked {
            gate: "go".into(),
            item: 0,
            note: "CHG-1234".into(),
        },
    ));
    events.push((
        90_000,
        "alice",
        Event::Approved {
            gate: "go".into(),
            note: "ship it".into(),
            signed: None,
        },
    ));
    // 50 targets at a time, 20 s each; one in a hundred fails first (10 s) and is retried.
    let deploy_start = 91_000;
    let mut end = deploy_start;
    for i in 0..n {
        let start = deploy_start + (i / 50) as i64 * 21_000 + (i % 50) as i64 * 10;
        if i % 100 == 7 {
            run(&mut events, "deploy", Some(target(i)), 1, start, 10_000, false);
            run(
                &mut events,
                "deploy",
                Some(target(i)),
                2,
                start + 10_500,
                9_000,
                true,
            );
        } else {
            run(&mut events, "deploy", Some(target(i)), 1, start, 20_000, true);
        }
        end = end.max(start + 20_000);
    }
    events.push((
        end,
        "driver",
        Event::StageSucceeded {
            stage: "deploy".into(),
        },
    ));
    run(&mut events, "verify", None, 1, end + 100, 5_000, true);
    events.push((
        end + 5_100,
        "driver",
        Event::StageSucceeded {
            stage: "verify".into(),
        },
    ));
    events.push((
        end + 5_200,
        "driver",
        Event::ReleaseFinished {
            state: FinalState::Succeeded,
            reason: String::new(),
        },
    ));
    events.sort_by_key(|e| e.0);
    let mut text = String::new();
    let mut prev = String::new();
    for (i, (ms, actor, event)) in events.into_iter().enumerate() {
        let rec = Record {
            seq: i as u64 + 1,
            ts: at_ms(ms),
            actor: actor.into(),
            prev,
            event,
        };
        let line = serde_json::to_string(&rec).unwrap();
        prev = flightdeck::journal::line_hash(line.as_bytes());
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(rdir.journal(), text).unwrap();
    // Written by hand, so closed by hand: the first command indexes it.
    rdir.unmark_open().unwrap();
    runs
}

/// `flightdeck ARGS` in `work`: wall time and peak RSS (KiB).
// The child is reaped by `wait_rusage` (wait4), which std's Child does not know about.
#[allow(clippy::zombie_processes)]
fn flightdeck(work: &Path, data: &Path, args: &[&str]) -> (Duration, i64) {
    let t = std::time::Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .current_dir(work)
        .env("FLIGHTDECK_DATA_DIR", data)
        .env("FLIGHTDECK_USER", "bench")
        .env_remove("FLIGHTDECK_STORE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (code, rss) = wait_rusage(child.id() as i32);
    let d = t.elapsed();
    assert_eq!(code, 0, "flightdeck {args:?} failed");
    (d, rss)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::var("REPORT_TARGETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let plan = plan_text(n);
    let plan_file = work.join("flightdeck.toml");
    std::fs::write(&plan_file, &plan).unwrap();
    let data = tmp.path().join("data");
    let store = Store { root: data.clone() };
    let runs = write_release(&store, &plan_file, &plan, n);
    let html = work.join("report.html");
    let html_arg = html.to_str().unwrap();
    let report = ["report", "1.0", "--format", "html", "-o", html_arg];
    let status = ["status", "1.0", "--json"];
    // The first command builds the plan's index from the journal.
    let (first, _) = flightdeck(&work, &data, &report);
    let text = std::fs::read_to_string(&html).unwrap();
    assert_eq!(text.matches("<rect").count(), runs, "one bar per run");
    assert_eq!(
        text.matches("<div class=\"failure\">").count(),
        (0..n).filter(|i| i % 100 == 7).count(),
        "one failure per hundred targets"
    );
    let (mut report_times, mut status_times) = (Vec::new(), Vec::new());
    let mut peak = 0;
    for _ in 0..reps {
        let (d, rss) = flightdeck(&work, &data, &report);
        report_times.push(d);
        peak = peak.max(rss);
        status_times.push(flightdeck(&work, &data, &status).0);
    }
    let (r, s) = (median(report_times), median(status_times));
    println!(
        "report --format html of a release over {n} targets ({runs} runs, {} journal lines, HTML {:.1} KiB):",
        std::fs::read_to_string(store.release("fleet", "1.0").unwrap().journal())
            .unwrap()
            .lines()
            .count(),
        text.len() as f64 / 1024.0
    );
    println!(
        "  median of {reps}: report {:.1} ms (peak RSS {:.1} MiB), status --json {:.1} ms; ratio {:.2}x; first run (index built) {:.1} ms",
        ms(r),
        peak as f64 / 1024.0,
        ms(s),
        ms(r) / ms(s),
        ms(first)
    );
    println!(
        "  goal: under 200 ms: {}",
        if ms(r) < 200.0 { "met" } else { "NOT MET" }
    );
}
