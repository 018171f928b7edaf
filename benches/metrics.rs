//! `flightdeck metrics --json` over 10,000 finished releases (or `METRICS_RELEASES`), whose
//! answers are known by construction and asserted; wall time (median of the repetitions) and the
//! command's peak RSS.
//!
//!     cargo bench --bench metrics
//!     METRICS_RELEASES=2000 BENCH_REPS=3 cargo bench --bench metrics
//!
//! The releases are journals written directly (chained like any journal), one every 10 minutes
//! from 2025-01-06: each deploys staging, then prod over two regions, and ships two new commits
//! (made 1 h and 30 min before it starts) besides listing the previous release's two again (a
//! plan that never tags). Of every ten: the 4th fails on prod, the 6th is a hotfix, the 8th is
//! rolled back on prod after it deployed. The first command builds the index from the journals
//! (timed apart); the timed ones read the index.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flightdeck::event::{
    CommitRef, Event, FinalState, OnFailure, Outcome, ReleaseType, RunKey, RunKind, StageDecl,
};
use flightdeck::journal::Store;

mod common;

use common::{median, wait_rusage};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

/// Seconds between two releases' starts.
const EVERY: i64 = 600;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).single().unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn decl(id: &str, needs: &[&str], env: &str, targets: &[&str]) -> StageDecl {
    StageDecl {
        id: id.into(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        environment: Some(env.into()),
        targets: targets.iter().map(|s| s.to_string()).collect(),
        gates: vec![],
        has_rollback: true,
        retries: 0,
    }
}

/// Commit `k` (0 or 1) of release `n`: an id whose first 16 digits differ for every commit.
fn commit(n: usize, k: usize) -> CommitRef {
    let x = ((n * 2 + k) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let start = n as i64 * EVERY;
    CommitRef {
        sha: format!("{x:016x}{:024x}", n * 2 + k),
        time: at(start - if k == 0 { 3600 } else { 1800 }),
    }
}

/// A run of `stage` (on `target`): starts 5 s after `t`, ends 30 s later with `outcome`.
fn push_run(
    events: &mut Vec<(i64, Event)>,
    t: &mut i64,
    stage: &str,
    target: Option<&str>,
    kind: RunKind,
    outcome: Outcome,
) {
    let key = RunKey {
        stage: stage.into(),
        target: target.map(str::to_string),
        attempt: 1,
    };
    *t += 5;
    events.push((
        *t,
        Event::RunStarted {
            run: key.clone(),
            run_kind: kind,
            log: format!("logs/{stage}.1.log"),
        },
    ));
    *t += 30;
    events.push((
        *t,
        Event::RunFinished {
            run: key,
            run_kind: kind,
            outcome,
            duration_ms: 30_000,
        },
    ));
}

/// Release `n` (version `1.<n>`), finished, its journal chained by hand. Its prod deploy ends
/// 105 s after its start (70 s when it fails: eu fails, us never runs); a rollback on prod ends
/// 175 s after.
fn write_release(store: &Store, plan_file: &Path, n: usize) {
    let version = format!("1.{n}");
    let rdir = store.create_release("dora", &version).unwrap();
    let start = n as i64 * EVERY;
    let rtype = if n % 10 == 5 {
        ReleaseType::Hotfix
    } else {
        ReleaseType::Minor
    };
    let mut commits = vec![commit(n, 1), commit(n, 0)];
    if n > 0 {
        commits.extend([commit(n - 1, 1), commit(n - 1, 0)]);
    }
    let mut events: Vec<(i64, Event)> = vec![
        (
            start,
            Event::ReleaseCreated {
                id: rdir.id.clone(),
                version: version.clone(),
                rtype,
                plan: "dora".into(),
                plan_path: plan_file.to_string_lossy().into_owned(),
                stages: vec![
                    decl("stage", &[], "staging", &[]),
                    decl("prod", &["stage"], "prod", &["eu", "us"]),
                ],
                gates: vec![],
                only: vec![],
            },
        ),
        (
            start,
            Event::ReleaseCommits {
                base: None,
                base_tag: None,
                head: commits[0].sha.clone(),
                commits,
                omitted: 0,
                notes: "notes.md".into(),
            },
        ),
    ];
    let mut t = start;
    let ok = || Outcome::Succeeded;
    push_run(&mut events, &mut t, "stage", None, RunKind::Deploy, ok());
    events.push((
        t,
        Event::StageSucceeded {
            stage: "stage".into(),
        },
    ));
    let state = if n % 10 == 3 {
        let failed = Outcome::Failed {
            code: Some(1),
            signal: None,
            command: 0,
        };
        push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Deploy, failed);
        events.push((
            t,
            Event::StageFailed {
                stage: "prod".into(),
                on_failure: OnFailure::Halt,
                reason: "eu failed".into(),
            },
        ));
        FinalState::Failed
    } else {
        push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Deploy, ok());
        push_run(&mut events, &mut t, "prod", Some("us"), RunKind::Deploy, ok());
        events.push((t, Event::StageSucceeded { stage: "prod".into() }));
        if n % 10 == 7 {
            push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Rollback, ok());
            push_run(&mut events, &mut t, "prod", Some("us"), RunKind::Rollback, ok());
            FinalState::RolledBack
        } else {
            FinalState::Succeeded
        }
    };
    events.push((
        t + 1,
        Event::ReleaseFinished {
            state,
            reason: String::new(),
        },
    ));
    let (text, _) = common::chained(events.into_iter().map(|(s, e)| (at(s), e)).collect());
    std::fs::write(rdir.journal(), text).unwrap();
    // Written by hand, so closed by hand: the first command builds the index (a rebuild).
    rdir.unmark_open().unwrap();
}

/// `flightdeck ARGS` in `work`: wall time, peak RSS (KiB) and stdout.
// The child is reaped by `wait_rusage` (wait4), which std's Child does not know about.
#[allow(clippy::zombie_processes)]
fn flightdeck(work: &Path, data: &Path, args: &[&str]) -> (Duration, i64, String) {
    let out_path = work.join(".out");
    let out = std::fs::File::create(&out_path).unwrap();
    let t = std::time::Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .current_dir(work)
        .env("FLIGHTDECK_DATA_DIR", data)
        .env("FLIGHTDECK_USER", "bench")
        .env_remove("FLIGHTDECK_STORE")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .spawn()
        .unwrap();
    let (code, rss) = wait_rusage(child.id() as i32);
    let d = t.elapsed();
    assert_eq!(code, 0, "flightdeck {args:?} failed");
    (d, rss, std::fs::read_to_string(&out_path).unwrap())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The answers, by construction (n releases; n a multiple of 10).
fn check(m: &serde_json::Value, n: u64) {
    let tens = n / 10;
    // Every release reached prod; all but the failing one of each ten deployed there.
    assert_eq!(m["deployment_frequency"]["deployments"], 9 * tens, "{m}");
    // Failed: the failing one, the rolled-back one, and the one before each hotfix (10 min
    // before, within 24 h).
    assert_eq!(m["change_failure_rate"]["failed"], 3 * tens);
    assert_eq!(m["change_failure_rate"]["total"], n);
    assert_eq!(m["rework_rate"]["rework"], tens);
    assert_eq!(m["rework_rate"]["total"], n);
    // Two new commits per release (the two listed again were shipped already): 1 h and 30 min
    // before a start whose prod deploy ends 105 s later: 3,705 s and 1,905 s; those of a failing
    // release are shipped by the next one, 600 s later: 4,305 s and 2,505 s. Sorted: 9 × 1,905,
    // 1 × 2,505, 9 × 3,705, 1 × 4,305 per ten: the median is (2,505 + 3,705) / 2, the 90th
    // percentile (rank 18 of 20) 3,705.
    let lt = &m["lead_time"];
    assert_eq!(lt["commits"], 2 * n);
    assert_eq!(lt["median_seconds"], 3105.0);
    assert_eq!(lt["p90_seconds"], 3705.0);
    assert_eq!(lt["band"], "elite");
    // Recovery: a failed deploy (70 s) until the next one's (705 s): 635 s; a rolled-back one
    // (105 s) until its rollback (175 s): 70 s; a hotfixed one (105 s) until the hotfix's
    // (705 s): 600 s. Median of equal thirds: 600 s.
    let rt = &m["recovery_time"];
    assert_eq!(rt["failures"], 3 * tens);
    assert_eq!(rt["recovered"], 3 * tens);
    assert_eq!(rt["median_seconds"], 600.0);
}

fn main() {
    let n: usize = std::env::var("METRICS_RELEASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    assert!(
        n.is_multiple_of(10) && n > 0,
        "METRICS_RELEASES must be a multiple of 10"
    );
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let plan_file = work.join("flightdeck.toml");
    std::fs::write(&plan_file, common::two_env_plan("dora")).unwrap();
    let data = tmp.path().join("data");
    let store = Store { root: data.clone() };
    let t = std::time::Instant::now();
    for i in 0..n {
        write_release(&store, &plan_file, i);
    }
    let written = t.elapsed();
    // The window: from the first release's start to an hour after the last one's.
    let from = t0().to_rfc3339();
    let to = at(n as i64 * EVERY + 3600).to_rfc3339();
    let args = ["metrics", "--json", "--from", &from, "--to", &to];
    let index = data.join("plans/dora/.index.jsonl");
    let (rebuild, rebuild_rss, out) = flightdeck(&work, &data, &args);
    assert!(index.is_file(), "the index was built");
    check(&serde_json::from_str(&out).unwrap(), n as u64);
    let index_mib = std::fs::metadata(&index).unwrap().len() as f64 / 1048576.0;
    let mut times = Vec::new();
    let mut peak = 0;
    // The baseline, interleaved: another reader of the same index that prints every release
    // that reached prod (`envs prod --history --limit 0 --json`).
    let baseline_args = ["envs", "prod", "--history", "--limit", "0", "--json"];
    let mut baseline = Vec::new();
    for _ in 0..reps {
        let (d, rss, out) = flightdeck(&work, &data, &args);
        check(&serde_json::from_str(&out).unwrap(), n as u64);
        times.push(d);
        peak = peak.max(rss);
        baseline.push(flightdeck(&work, &data, &baseline_args).0);
    }
    let (metrics_ms, baseline_ms) = (ms(median(times.clone())), ms(median(baseline)));
    let text = flightdeck(&work, &data, &["metrics", "--from", &from, "--to", &to]);
    println!(
        "flightdeck metrics over {n} finished releases ({:.1} MiB index; journals written in {:.1}s)",
        index_mib,
        written.as_secs_f64()
    );
    println!(
        "  metrics --json (index built from the journals first): {:.0} ms, peak RSS {:.1} MiB",
        ms(rebuild),
        rebuild_rss as f64 / 1024.0
    );
    println!(
        "  metrics --json (index read): median {:.0} ms of {reps}, peak RSS {:.1} MiB; text: {:.0} ms",
        ms(median(times)),
        peak as f64 / 1024.0,
        ms(text.0)
    );
    println!(
        "  against `envs prod --history --limit 0 --json` over the same index, interleaved: median {baseline_ms:.0} ms; metrics {:.2}x",
        metrics_ms / baseline_ms
    );
    println!("  answers checked: deployments, failures, rework, lead time median/p90, recovery median");
}
