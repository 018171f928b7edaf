//! History benchmarks: the commands that read a plan's history (`envs`, `envs ENV --history`,
//! `list`, `status`, `run` of one more) over 100 to 10,000 finished releases, against `ls -R` of
//! the data dir measured in the same run, interleaved (the machines are shared and noisy); and the
//! finished-release index rebuilt from the journals after it is deleted.
//!
//!     cargo bench --bench history                 # sizes 100, 1000, 5000, 10000
//!     HISTORY_SIZES=100,5000 cargo bench --bench history
//!
//! The releases are journals written directly (chained like any journal, backdated): each
//! deploys staging, then prod over two regions; every seventh is rolled back on prod.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flightdeck::event::{Event, FinalState, Outcome, RunKey, RunKind, StageDecl};
use flightdeck::journal::Store;

mod common;

use common::{at, median};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

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

/// A run of `stage` (on `target`) that succeeds 30 s after it starts, 5 s after `t`.
fn push_run(events: &mut Vec<(i64, Event)>, t: &mut i64, stage: &str, target: Option<&str>, kind: RunKind) {
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
            outcome: Outcome::Succeeded,
            duration_ms: 30_000,
        },
    ));
}

/// Release `n` (version `1.<n>`), finished, its journal chained by hand.
fn write_release(store: &Store, plan_file: &Path, n: usize) {
    let version = format!("1.{n}");
    let rdir = store.create_release("hist", &version).unwrap();
    let start = n as i64 * 600;
    let mut events: Vec<(i64, Event)> = vec![(
        start,
        Event::ReleaseCreated {
            id: rdir.id.clone(),
            version: version.clone(),
            rtype: Default::default(),
            plan: "hist".into(),
            plan_path: plan_file.to_string_lossy().into_owned(),
            stages: vec![
                decl("stage", &[], "staging", &[]),
                decl("prod", &["stage"], "prod", &["eu", "us"]),
            ],
            gates: vec![],
            only: vec![],
        },
    )];
    let mut t = start;
    push_run(&mut events, &mut t, "stage", None, RunKind::Deploy);
    events.push((
        t,
        Event::StageSucceeded {
            stage: "stage".into(),
        },
    ));
    push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Deploy);
    push_run(&mut events, &mut t, "prod", Some("us"), RunKind::Deploy);
    events.push((t, Event::StageSucceeded { stage: "prod".into() }));
    let state = if n % 7 == 6 {
        push_run(&mut events, &mut t, "prod", Some("eu"), RunKind::Rollback);
        push_run(&mut events, &mut t, "prod", Some("us"), RunKind::Rollback);
        FinalState::RolledBack
    } else {
        FinalState::Succeeded
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
    // Written by hand, so closed by hand: the index is built by the first command (a rebuild).
    rdir.unmark_open().unwrap();
}

fn flightdeck(work: &Path, data: &Path, args: &[&str]) -> Duration {
    let t = std::time::Instant::now();
    let out = Command::new(BIN)
        .args(args)
        .current_dir(work)
        .env("FLIGHTDECK_DATA_DIR", data)
        .env("FLIGHTDECK_USER", "bench")
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "flightdeck {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn ls_r(data: &Path) -> Duration {
    let t = std::time::Instant::now();
    let out = Command::new("ls").arg("-R").arg(data).output().unwrap();
    assert!(out.status.success());
    t.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let sizes: Vec<usize> = std::env::var("HISTORY_SIZES")
        .unwrap_or_else(|_| "100,1000,5000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!(
        "flightdeck history benchmarks ({reps} repetitions each, medians, interleaved with `ls -R` of the data dir)"
    );
    println!(
        "{:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}  envs/ls",
        "releases", "ls -R", "envs", "history", "list", "status", "run", "rebuild"
    );
    for n in sizes {
        let tmp = tempfile::tempdir().unwrap();
        let work: PathBuf = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let plan_file = work.join("flightdeck.toml");
        std::fs::write(&plan_file, common::two_env_plan("hist")).unwrap();
        let data = tmp.path().join("data");
        let store = Store { root: data.clone() };
        for i in 0..n {
            write_release(&store, &plan_file, i);
        }
        let index = data.join("plans/hist/.index.jsonl");
        // The rebuild: the first command finds no index and builds it from every journal.
        let mut rebuild = Vec::new();
        for _ in 0..2 {
            let _ = std::fs::remove_file(&index);
            rebuild.push(flightdeck(&work, &data, &["envs"]));
            assert!(index.is_file(), "the index was rebuilt");
        }
        let (mut ls, mut envs, mut hist, mut list, mut status, mut run) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for r in 0..reps {
            ls.push(ls_r(&data));
            envs.push(flightdeck(&work, &data, &["envs"]));
            hist.push(flightdeck(&work, &data, &["envs", "prod", "--history"]));
            list.push(flightdeck(&work, &data, &["list"]));
            status.push(flightdeck(&work, &data, &["status"]));
            run.push(flightdeck(&work, &data, &["run", &format!("2.{r}")]));
        }
        let (ls, envs) = (median(ls), median(envs));
        println!(
            "{n:>8} {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>9.1}ms  {:.2}x",
            ms(ls),
            ms(envs),
            ms(median(hist)),
            ms(median(list)),
            ms(median(status)),
            ms(median(run)),
            ms(median(rebuild)),
            ms(envs) / ms(ls)
        );
    }
}
