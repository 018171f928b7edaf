//! Engine benchmarks against baselines measured in the same run (the machines are shared and
//! noisy, so only ratios and differences against a same-run baseline mean anything).
//!
//!     cargo bench --bench engine                 # all
//!     cargo bench --bench engine -- chain        # one of: chain, fanout, stream
//!
//! - chain:  1,000 stages in a chain, each `true`, vs a shell loop running `sh -c true` 1,000 times;
//!   once with the data dir on disk, once on tmpfs (/dev/shm) to separate the fsync cost.
//! - fanout: one stage over 1,000 targets at concurrency 32, vs `xargs -P 32` running the same.
//! - stream: a stage printing 5,000,000 lines (`seq 1 5000000`) through headless `run` with stdout
//!   to /dev/null, vs `seq 1 5000000 | cat > /dev/null`; peak RSS of flightdeck and a check that
//!   the log file is complete.
//!
//! Each case alternates baseline and flightdeck runs and reports medians.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;

use common::{median, sh, time_child};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!("flightdeck engine benchmarks ({reps} repetitions each, medians)");
    if wants("chain") {
        chain(reps, None);
        // The same with the data dir on tmpfs, where fsync is free: the engine's own overhead
        // apart from the one fdatasync per stage that durability costs on a real disk.
        if Path::new("/dev/shm").is_dir() {
            chain(reps, Some(Path::new("/dev/shm")));
        }
    }
    if wants("fanout") {
        fanout(reps);
    }
    if wants("stream") {
        stream(reps.min(3));
    }
}

struct Workspace {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn workspace(plan: &str) -> Workspace {
    workspace_in(plan, None)
}

/// By default on the real disk, not tmpfs: fsync costs are part of what we measure.
fn workspace_in(plan: &str, dir: Option<&Path>) -> Workspace {
    let base = dir.unwrap_or(Path::new(env!("CARGO_TARGET_TMPDIR")));
    let tmp = tempfile::Builder::new()
        .prefix("fd-bench")
        .tempdir_in(base)
        .expect("temp dir");
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("flightdeck.toml"), plan).expect("write plan");
    Workspace { _tmp: tmp, dir }
}

fn run_flightdeck(ws: &Workspace, version: &str) -> (Duration, i64) {
    let (took, status, maxrss_kib) = time_child(
        Command::new(BIN)
            .args(["run", version])
            .current_dir(&ws.dir)
            .env("FLIGHTDECK_DATA_DIR", ws.dir.join("data"))
            .env("FLIGHTDECK_USER", "bench"),
    );
    assert_eq!(status, 0, "flightdeck run failed");
    (took, maxrss_kib)
}

fn report(name: &str, runs: usize, base: Vec<Duration>, fd: Vec<Duration>) {
    let (b, f) = (median(base), median(fd));
    let per_run = (f.as_secs_f64() - b.as_secs_f64()) / runs as f64 * 1e3;
    println!(
        "{name:<12} baseline {:>8.1} ms   flightdeck {:>8.1} ms   ratio {:>5.2}x   overhead {:.3} ms per run",
        b.as_secs_f64() * 1e3,
        f.as_secs_f64() * 1e3,
        f.as_secs_f64() / b.as_secs_f64(),
        per_run
    );
    let _ = std::io::stdout().flush();
}

fn chain(reps: usize, dir: Option<&Path>) {
    const N: usize = 1000;
    let mut plan = String::from("[plan]\nname = \"chain\"\n");
    for i in 0..N {
        plan.push_str(&format!("\n[[stage]]\nid = \"s{i}\"\nrun = \"true\"\n"));
        if i > 0 {
            plan.push_str(&format!("needs = [\"s{}\"]\n", i - 1));
        }
    }
    let ws = workspace_in(&plan, dir);
    let (mut base, mut fd) = (Vec::new(), Vec::new());
    for r in 0..reps {
        base.push(sh(&format!(
            "i=0; while [ $i -lt {N} ]; do sh -c true; i=$((i+1)); done"
        )));
        fd.push(run_flightdeck(&ws, &format!("1.{r}")).0);
    }
    let name = if dir.is_some() { "chain-tmpfs" } else { "chain" };
    report(name, N, base, fd);
}

fn fanout(reps: usize) {
    const N: usize = 1000;
    let targets: Vec<String> = (0..N).map(|i| format!("\"t{i}\"")).collect();
    let plan = format!(
        "[plan]\nname = \"fanout\"\n\n[environments.fleet]\ntargets = [{}]\n\n[[stage]]\nid = \"deploy\"\nenvironment = \"fleet\"\nconcurrency = 32\nrun = \"true\"\n",
        targets.join(", ")
    );
    let ws = workspace(&plan);
    let (mut base, mut fd) = (Vec::new(), Vec::new());
    for r in 0..reps {
        base.push(sh(&format!("seq 1 {N} | xargs -P 32 -I{{}} sh -c true")));
        fd.push(run_flightdeck(&ws, &format!("1.{r}")).0);
    }
    report("fanout", N, base, fd);
}

fn stream(reps: usize) {
    const LINES: u64 = 5_000_000;
    let plan = format!("[plan]\nname = \"stream\"\n\n[[stage]]\nid = \"flood\"\nrun = \"seq 1 {LINES}\"\n");
    let ws = workspace(&plan);
    let (mut base, mut fd, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..reps {
        base.push(sh(&format!("seq 1 {LINES} | cat > /dev/null")));
        let (t, kib) = run_flightdeck(&ws, &format!("1.{r}"));
        fd.push(t);
        rss.push(kib);
        check_log_complete(
            &ws.dir
                .join("data/plans/stream")
                .join(format!("1.{r}"))
                .join("logs/flood.1.log"),
            LINES,
        );
    }
    report("stream", 1, base, fd);
    let peak = rss.iter().max().copied().unwrap_or(0);
    println!(
        "stream   peak RSS of flightdeck {:.1} MiB (goal < 50 MiB); log files complete",
        peak as f64 / 1024.0
    );
}

fn check_log_complete(path: &Path, lines: u64) {
    let mut n = 0u64;
    let mut last = Vec::new();
    flightdeck::runlog::visit_log(path, 1 << 20, |l| {
        if l.kind == flightdeck::runlog::LineKind::Stdout {
            n += 1;
            last.clear();
            last.extend_from_slice(l.text);
        }
    })
    .expect("read log");
    assert_eq!(
        n,
        lines,
        "log {} has {n} output lines, expected {lines}",
        path.display()
    );
    assert_eq!(
        last,
        lines.to_string().into_bytes(),
        "last line of {}",
        path.display()
    );
}
