//! Drift benchmark: 50 environments x 20,000 keys, each probe `cat`-ing a prepared `key=value` file
//! (~0.9 MB each), against a baseline measured in the same run (the machines are shared and noisy,
//! so only differences against a same-run baseline mean anything).
//!
//!     cargo bench --bench drift
//!     BENCH_REPS=9 cargo bench --bench drift
//!
//! - baseline: `for f in ...; do cat $f > /dev/null; done`: the 50 probes' own work, in one shell.
//! - flightdeck: `flightdeck drift --json > /dev/null` (runs the 50 probes, at most 8 at once,
//!   parses, compares, prints the JSON matrix and saves the run in the data dir), with its peak RSS.
//! - in-process: the same through the library, timed per phase (probes, matrix, JSON, snapshot).
//!
//! Goal: flightdeck's time beyond running the probes under 200 ms. Each case alternates baseline
//! and flightdeck runs and reports medians.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flightdeck::drift::{self, Matrix, ProbeOptions, Selection, report, snapshot};

mod common;

use common::{median, sh, time_child};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");
const ENVS: usize = 50;
const KEYS: usize = 20_000;

fn main() {
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::Builder::new()
        .prefix("fd-drift-bench")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let dir = tmp.path();
    let files = prepare(dir);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "flightdeck drift benchmark: {ENVS} environments x {KEYS} keys ({:.1} MB of probe output), {reps} repetitions, medians",
        bytes as f64 / 1e6
    );

    let loop_script = format!(
        "for f in {}; do cat \"$f\" > /dev/null; done",
        files
            .iter()
            .map(|f| format!("'{}'", f.display()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (mut base, mut fd, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        base.push(sh(&loop_script));
        let (t, kib) = run_flightdeck(dir);
        fd.push(t);
        rss.push(kib);
    }
    let (b, f) = (median(base), median(fd));
    let beyond = f.as_secs_f64() - b.as_secs_f64();
    println!(
        "cli         baseline (50 x cat) {:>7.1} ms   flightdeck drift --json {:>7.1} ms   beyond the probes {:>7.1} ms (goal < 200 ms)",
        ms(b),
        ms(f),
        beyond * 1e3
    );
    println!(
        "cli         peak RSS of flightdeck {:.1} MiB",
        rss.iter().max().copied().unwrap_or(0) as f64 / 1024.0
    );
    in_process(dir, reps);
}

/// `envNN.kv` files: the same keys everywhere, each environment with 20 values of its own.
fn prepare(dir: &Path) -> Vec<PathBuf> {
    let mut plan = String::from("[plan]\nname = \"drift-bench\"\n\n");
    let mut files = Vec::new();
    for e in 0..ENVS {
        let path = dir.join(format!("env{e:02}.kv"));
        let mut w = BufWriter::new(std::fs::File::create(&path).expect("create"));
        for k in 0..KEYS {
            let value = if k % 1000 == e {
                format!("drifted-{e}")
            } else {
                format!("value-{k}")
            };
            writeln!(w, "svc{}.component{}.setting{k}={value}", k % 40, k % 7).expect("write");
        }
        w.flush().expect("flush");
        plan.push_str(&format!(
            "[environments.env{e:02}]\nprobe = \"cat {}\"\n\n",
            path.display()
        ));
        files.push(path);
    }
    plan.push_str("[[stage]]\nid = \"noop\"\nrun = \"true\"\n");
    std::fs::write(dir.join("flightdeck.toml"), plan).expect("plan");
    files
}

fn run_flightdeck(dir: &Path) -> (Duration, i64) {
    let (took, status, maxrss_kib) = time_child(
        Command::new(BIN)
            .args(["drift", "--json"])
            .current_dir(dir)
            .env("FLIGHTDECK_DATA_DIR", dir.join("data")),
    );
    assert!(
        status == 0 || status == 1,
        "flightdeck drift failed (exit {status})"
    );
    (took, maxrss_kib)
}

/// The library path, phase by phase.
fn in_process(dir: &Path, reps: usize) {
    let plan = flightdeck::plan::load(&dir.join("flightdeck.toml")).expect("plan");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let opts = ProbeOptions::default();
    let layout = drift::layout(&plan, &Selection::default()).expect("layout");
    let (mut probes, mut build, mut json, mut save) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 0..reps {
        let t = Instant::now();
        let columns = rt.block_on(drift::collect(&layout, &opts));
        probes.push(t.elapsed());
        assert!(columns.iter().all(|c| c.state.is_ok()), "a probe failed");

        let t = Instant::now();
        let matrix = Matrix::build(columns, Some(layout.baseline), &drift::ignore_of(&plan));
        build.push(t.elapsed());
        assert_eq!(matrix.row_count(), KEYS);

        let t = Instant::now();
        let mut sink = BufWriter::with_capacity(256 * 1024, std::io::sink());
        report::write_matrix_json(&mut sink, &matrix, false, None, &[]).expect("json");
        sink.flush().expect("flush");
        json.push(t.elapsed());

        let t = Instant::now();
        let path = dir.join(format!("snap{r}.json"));
        snapshot::write_snapshot(&path, &plan.name, chrono::Utc::now(), matrix.columns()).expect("snapshot");
        save.push(t.elapsed());
        let _ = std::fs::remove_file(&path);
    }
    println!(
        "in-process  probes (run + parse) {:>7.1} ms   matrix {:>6.1} ms   JSON {:>6.1} ms   snapshot {:>6.1} ms",
        ms(median(probes)),
        ms(median(build)),
        ms(median(json)),
        ms(median(save))
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
