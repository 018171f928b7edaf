//! A signed approval against an unsigned one, in the same run, interleaved (the machines are
//! shared and noisy): the wall time of `flightdeck approve` from the request to its answer (the
//! approval journaled and counted), median and p90 over BENCH_REPS of each. The goal: a signed
//! approval accepted within 50 ms, median.
//!
//!     cargo bench --bench approve          # BENCH_REPS=100 by default
//!
//! One release waits at a stage behind two gates that never open (10,000 approvals needed):
//! `signed` takes approvals signed by a key its signers file lists for everyone (`*`), `plain`
//! takes any. Each approval is by another name, so the journal grows alike for both.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

const PLAN: &str = r#"
[plan]
name = "bench-approve"

[[stage]]
id = "deploy"
gates = ["signed", "plain"]
run = "true"

[gates.signed]
approvals = 10000
signers = "allowed_signers"

[gates.plain]
approvals = 10000
"#;

fn flightdeck(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .env("FLIGHTDECK_DATA_DIR", dir.join("data"))
        .env("FLIGHTDECK_USER", "releaser")
        .env_remove("FLIGHTDECK_STORE")
        .args(args)
        .output()
        .expect("flightdeck")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("flightdeck.toml"), PLAN).unwrap();
    let key = d.join("key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(d.join("allowed_signers"), format!("* {}", public.trim())).unwrap();
    let out = flightdeck(d, &["run", "1.0", "--no-wait"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = key.to_str().unwrap().to_string();
    let (mut signed, mut plain) = (Vec::new(), Vec::new());
    for i in 0..reps {
        let who = format!("s{i}");
        let t = Instant::now();
        let out = flightdeck(d, &["approve", "1.0", "signed", "--as", &who, "--key", &key]);
        signed.push(t.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let who = format!("p{i}");
        let t = Instant::now();
        let out = flightdeck(d, &["approve", "1.0", "plain", "--as", &who]);
        plain.push(t.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    signed.sort();
    plain.sort();
    println!(
        "approve, {reps} each, interleaved (journal growing to {} approvals):",
        2 * reps
    );
    println!(
        "  unsigned  median {:.1} ms   p90 {:.1} ms",
        ms(pct(&plain, 0.5)),
        ms(pct(&plain, 0.9))
    );
    println!(
        "  signed    median {:.1} ms   p90 {:.1} ms   ({:.2}x the unsigned median; goal: 50 ms)",
        ms(pct(&signed, 0.5)),
        ms(pct(&signed, 0.9)),
        pct(&signed, 0.5).as_secs_f64() / pct(&plain, 0.5).as_secs_f64()
    );
}
