//! What a train costs: 20 plans of 10 stages each, chained across plans (plan k's first stage
//! needs plan k-1's last: 19 cross-plan dependencies), started with `train start` and timed
//! until `train status` says succeeded, against the same 200 stages as one chained plan run
//! with `run`, in the same run, interleaved (the machines are shared and noisy). Two figures: the
//! hand-off at each cross-plan dependency (from the needed stage's success to the dependant's
//! start, read from the journals) against the same hand-off within one plan, and the whole
//! train against the one plan (what starting 20 releases and drivers costs).
//!
//!     cargo bench --bench train           # BENCH_REPS=5 by default
//!
//! Every stage is `true`: what is measured is flightdeck's own work (drivers, journals, waits).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");
const PLANS: usize = 20;
const STAGES: usize = 10;

fn stages(prefix: &str, n: usize, first_needs: Option<String>) -> String {
    let mut s = String::new();
    for i in 0..n {
        let needs = match (i, &first_needs) {
            (0, Some(n)) => format!("needs = [\"{n}\"]\n"),
            (0, None) => String::new(),
            _ => format!("needs = [\"{prefix}{}\"]\n", i - 1),
        };
        s.push_str(&format!(
            "[[stage]]\nid = \"{prefix}{i}\"\n{needs}run = \"true\"\n\n"
        ));
    }
    s
}

fn setup(root: &Path) {
    // The train's workspace.
    let ws = root.join("ws");
    for p in 0..PLANS {
        let dir = ws.join(format!("p{p:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let first = (p > 0).then(|| format!("p{:02}:s{}", p - 1, STAGES - 1));
        let text = format!("[plan]\nname = \"p{p:02}\"\n\n{}", stages("s", STAGES, first));
        std::fs::write(dir.join("flightdeck.toml"), text).unwrap();
    }
    std::fs::write(
        ws.join("flightdeck-workspace.toml"),
        "[workspace]\nname = \"bench\"\nplans = [\"p*/flightdeck.toml\"]\n",
    )
    .unwrap();
    // The same stages as one plan.
    let one = root.join("one");
    std::fs::create_dir_all(&one).unwrap();
    let text = format!("[plan]\nname = \"one\"\n\n{}", stages("s", PLANS * STAGES, None));
    std::fs::write(one.join("flightdeck.toml"), text).unwrap();
}

fn flightdeck(dir: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN)
        .current_dir(dir)
        .env("FLIGHTDECK_DATA_DIR", data)
        .env("FLIGHTDECK_USER", "releaser")
        .env_remove("FLIGHTDECK_STORE")
        .env_remove("FLIGHTDECK_PLAN")
        .env_remove("FLIGHTDECK_WORKSPACE")
        .args(args)
        .output()
        .expect("flightdeck");
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 3),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(root: &Path, n: usize) -> Duration {
    let ws = root.join("ws");
    let data = root.join("data");
    let name = format!("t{n}");
    let t = Instant::now();
    flightdeck(
        &ws,
        &data,
        &["train", "start", &name, "--version", &format!("1.0.{n}")],
    );
    // Its end is the train's `train_finished` line (read from the file: a command per look
    // would load the machine it measures).
    let journal = data.join("plans/@bench/.trains/trains.jsonl");
    while std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .matches("\"train_finished\"")
        .count()
        <= n
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = t.elapsed();
    let out = flightdeck(&ws, &data, &["train", "status", &name, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "succeeded", "{v:#}");
    took
}

/// The record of `kind` (and `stage`) in a release's journal: its time.
fn at(journal: &Path, kind: &str, stage: &str) -> chrono::DateTime<chrono::Utc> {
    let text = std::fs::read_to_string(journal).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["kind"] == kind && v["stage"] == stage {
            return v["ts"].as_str().unwrap().parse().unwrap();
        }
    }
    panic!("no {kind} of {stage} in {}", journal.display())
}

/// The hand-offs of run `n`: from a stage's success to the start of the stage that needs it,
/// across plans (the train's 19) and within one plan (the same 19 places of the one plan).
fn handoffs(root: &Path, n: usize) -> (Vec<Duration>, Vec<Duration>) {
    let data = root.join("data/plans");
    let v = format!("1.0.{n}");
    let (mut across, mut within) = (Vec::new(), Vec::new());
    for p in 1..PLANS {
        let before = at(
            &data.join(format!("p{:02}", p - 1)).join(&v).join("journal.jsonl"),
            "stage_succeeded",
            &format!("s{}", STAGES - 1),
        );
        let after = at(
            &data.join(format!("p{p:02}")).join(&v).join("journal.jsonl"),
            "run_started",
            "s0",
        );
        across.push((after - before).to_std().unwrap_or_default());
        let one = data.join("one").join(&v).join("journal.jsonl");
        let i = p * STAGES;
        let before = at(&one, "stage_succeeded", &format!("s{}", i - 1));
        let after = at(&one, "run_started", &format!("s{i}"));
        within.push((after - before).to_std().unwrap_or_default());
    }
    (across, within)
}

fn one_plan(root: &Path, n: usize) -> Duration {
    let t = Instant::now();
    flightdeck(
        &root.join("one"),
        &root.join("data"),
        &["run", &format!("1.0.{n}")],
    );
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let root = tempfile::tempdir().unwrap();
    setup(root.path());
    let (mut trains, mut ones) = (Vec::new(), Vec::new());
    for n in 0..reps {
        // Alternate which goes first, so neither always runs on a warmer machine.
        if n % 2 == 0 {
            trains.push(train(root.path(), n));
            ones.push(one_plan(root.path(), n));
        } else {
            ones.push(one_plan(root.path(), n));
            trains.push(train(root.path(), n));
        }
    }
    let (mut across, mut within) = (Vec::new(), Vec::new());
    for n in 0..reps {
        let (a, w) = handoffs(root.path(), n);
        across.extend(a);
        within.extend(w);
    }
    let (a, w) = (median(across), median(within));
    println!(
        "hand-off from a stage's success to the start of the stage that needs it: across plans (a train's \
         driver, woken by the other member's journal) median {:.1} ms; within one plan {:.1} ms; \
         overhead per cross-plan dependency {:.1} ms",
        a.as_secs_f64() * 1e3,
        w.as_secs_f64() * 1e3,
        (a.as_secs_f64() - w.as_secs_f64()) * 1e3
    );
    let (t, o) = (median(trains), median(ones));
    println!(
        "whole: train of {PLANS} plans x {STAGES} stages (from `train start` to its end): median {:.0} ms; the same {} \
         stages in one plan (`run`): {:.0} ms; {:.2}x, {:.1} ms more per member plan ({reps} runs each, interleaved)",
        t.as_secs_f64() * 1e3,
        PLANS * STAGES,
        o.as_secs_f64() * 1e3,
        t.as_secs_f64() / o.as_secs_f64(),
        (t.as_secs_f64() - o.as_secs_f64()) * 1e3 / PLANS as f64
    );
}
