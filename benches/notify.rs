//! What a hanging webhook costs a release: the wall time of `flightdeck run` (the release from
//! its start to its end, the command returning) on a plan whose every event is told to an
//! endpoint that accepts connections and never answers, against the same plan without
//! `[[notify]]`, in the same run, interleaved (the machines are shared and noisy). Goal: under
//! 1% more.
//!
//!     cargo bench --bench notify           # BENCH_REPS=20 by default
//!
//! The release is three stages of `sleep 0.3`; with `[[notify]]` its end calls for a message, so
//! the driver starts a sender, which then hangs on the endpoint (30 s timeout) after the release.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn plan(name: &str, notify: Option<u16>) -> String {
    let mut p = format!(
        r#"
[plan]
name = "{name}"

[environments.prod]

[[stage]]
id = "build"
run = "sleep 0.3"

[[stage]]
id = "deploy"
needs = ["build"]
environment = "prod"
run = "sleep 0.3"

[[stage]]
id = "verify"
needs = ["deploy"]
environment = "prod"
run = "sleep 0.3"
"#
    );
    if let Some(port) = notify {
        p.push_str(&format!(
            r#"
[[notify]]
webhook = "http://127.0.0.1:{port}/hang"
on = ["gate_waiting", "stage_failed", "rollback_started", "rollback_finished", "release_finished"]
timeout = "30s"
"#
        ));
    }
    p
}

fn run(dir: &Path, version: &str) -> Duration {
    let t = Instant::now();
    let out = Command::new(BIN)
        .current_dir(dir)
        .env("FLIGHTDECK_DATA_DIR", dir.join("data"))
        .env("FLIGHTDECK_USER", "releaser")
        .env_remove("FLIGHTDECK_STORE")
        .args(["run", version])
        .output()
        .expect("flightdeck");
    let took = t.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // An endpoint that accepts every connection and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let (plain, told) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(plain.path().join("flightdeck.toml"), plan("plain", None)).unwrap();
    std::fs::write(told.path().join("flightdeck.toml"), plan("told", Some(port))).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..reps {
        let v = format!("1.0.{i}");
        // Interleaved, alternating which goes first.
        if i % 2 == 0 {
            a.push(run(plain.path(), &v));
            b.push(run(told.path(), &v));
        } else {
            b.push(run(told.path(), &v));
            a.push(run(plain.path(), &v));
        }
    }
    let (a, b) = (median(a), median(b));
    println!(
        "run of a 3-stage release (median of {reps}): without [[notify]] {:.1} ms, with a hanging webhook on every event {:.1} ms: {:+.2}%",
        a.as_secs_f64() * 1000.0,
        b.as_secs_f64() * 1000.0,
        (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0
    );
    // The senders still hang on the endpoint: end them (theirs is the only command line naming
    // this temporary folder).
    let _ = Command::new("pkill")
        .arg("-f")
        .arg(told.path().to_string_lossy().as_ref())
        .status();
}
