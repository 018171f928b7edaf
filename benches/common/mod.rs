//! What the bench scripts share: timing a shell baseline, a child's peak RSS, medians.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// waitpid with rusage: (exit code, peak RSS in KiB) of exactly that child (and the children it
/// reaped, such as a background driver).
pub fn wait_rusage(pid: i32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: plain syscall on our own child with valid out-pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4");
    (libc::WEXITSTATUS(status), ru.ru_maxrss)
}

/// Run `cmd` (stdin and stdout to /dev/null, stderr inherited): (wall time, exit code, peak RSS
/// in KiB of it and the children it reaped).
// The child is reaped by `wait_rusage` (wait4), which std's Child does not know about.
#[allow(clippy::zombie_processes)]
pub fn time_child(cmd: &mut Command) -> (Duration, i32, i64) {
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the benchmarked command");
    let (status, maxrss_kib) = wait_rusage(child.id() as i32);
    (t.elapsed(), status, maxrss_kib)
}

/// Run a shell baseline; its wall time.
pub fn sh(script: &str) -> Duration {
    let t = Instant::now();
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .status()
        .expect("sh");
    assert!(st.success(), "baseline failed: {script}");
    t.elapsed()
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A journal's text of `events` (time, event), chained as the journal writes it (each line's
/// `prev` the hash of the line before), as written by `bench`; and its records.
pub fn chained(
    events: Vec<(chrono::DateTime<chrono::Utc>, flightdeck::event::Event)>,
) -> (String, Vec<flightdeck::event::Record>) {
    let mut text = String::new();
    let mut prev = String::new();
    let mut records = Vec::with_capacity(events.len());
    for (i, (ts, event)) in events.into_iter().enumerate() {
        let rec = flightdeck::event::Record {
            seq: i as u64 + 1,
            ts,
            actor: "bench".into(),
            prev,
            event,
        };
        let line = serde_json::to_string(&rec).unwrap();
        prev = flightdeck::journal::line_hash(line.as_bytes());
        text.push_str(&line);
        text.push('\n');
        records.push(rec);
    }
    (text, records)
}

/// The plan the release-history benches write for plan `name`: staging, then prod over two
/// targets, every stage with a rollback.
pub fn two_env_plan(name: &str) -> String {
    format!(
        r#"
[plan]
name = "{name}"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "stage"
environment = "staging"
run = "true"
rollback = "true"

[[stage]]
id = "prod"
needs = ["stage"]
environment = "prod"
run = "true"
rollback = "true"
"#
    )
}

/// `secs` seconds after 2025-01-01 00:00 UTC: the benches' fixed clock.
pub fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap()
        + chrono::Duration::seconds(secs)
}
