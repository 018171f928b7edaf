//! `flightdeck notes` over 100,000 commits against `git log --oneline` over the same range, in the
//! same run (the machines are shared and noisy, so only the ratio means anything).
//!
//!     cargo bench --bench notes
//!     BENCH_REPS=11 BENCH_COMMITS=200000 cargo bench --bench notes
//!     BENCH_REPO=/tmp/notes-repo cargo bench --bench notes   # keep (and reuse) the repository
//!
//! The repository is built with `git fast-import` (the `git` binary is used here, never by the
//! library): a first commit tagged `v0.1.0` (annotated), then 100,000 commits on top of it, each
//! changing one file, with a mix of conventional subjects (features, fixes, perf, docs, breaking
//! `!` and footers) and plain ones, each with a body. Both commands print the whole range
//! `v0.1.0..HEAD` into a pipe the bench drains; they alternate, and medians are compared.
//! Goal: flightdeck within 1.5x of git.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::median;

const BIN: &str = env!("CARGO_BIN_EXE_flightdeck");

fn main() {
    let reps: usize = env_number("BENCH_REPS").unwrap_or(7);
    let commits: usize = env_number("BENCH_COMMITS").unwrap_or(100_000);
    println!("flightdeck notes benchmark ({commits} commits, {reps} repetitions each, medians)");

    // BENCH_REPO=DIR keeps the repository there (built when DIR does not exist yet) for profiling.
    let tmp = tempfile::Builder::new()
        .prefix("fd-bench-notes")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let kept = std::env::var_os("BENCH_REPO").map(std::path::PathBuf::from);
    let repo = kept.as_deref().unwrap_or(tmp.path());
    if kept.as_ref().is_none_or(|k| !k.exists()) {
        std::fs::create_dir_all(repo).expect("repository directory");
        let built = Instant::now();
        build_repo(repo, commits);
        println!(
            "built the repository with git fast-import in {:.1} s",
            built.elapsed().as_secs_f64()
        );
    }
    std::fs::write(
        repo.join("flightdeck.toml"),
        "[plan]\nname = \"bench\"\ntag_pattern = \"v*\"\n\n[[stage]]\nid = \"noop\"\nrun = \"true\"\n",
    )
    .expect("write plan");

    let range = "v0.1.0..HEAD";
    let git = ["log", "--oneline", range];
    let fd = ["notes", range];

    // Both see the whole range: one line per commit for git, one entry per commit for flightdeck.
    let (_, git_out) = run(repo, "git", &git);
    let git_lines = git_out.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(git_lines, commits, "git log --oneline lines");
    let (_, json) = run(repo, BIN, &["notes", range, "--format", "json"]);
    let notes: serde_json::Value = serde_json::from_slice(&json).expect("notes JSON");
    let entries: usize = ["breaking", "features", "fixes", "performance", "other"]
        .iter()
        .map(|g| notes[g].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(entries, commits, "flightdeck notes entries");

    // The explicit range, the default range (newest tag..HEAD: the same commits, found through
    // the tags) and JSON, each against git log; the runs alternate.
    let variants: [(&str, &[&str]); 3] = [
        ("notes RANGE", &fd),
        ("notes", &["notes"]),
        ("notes --json", &["notes", range, "--format", "json"]),
    ];
    let mut base = Vec::new();
    let mut ours: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut md_bytes = 0;
    for _ in 0..reps {
        for (i, (_, args)) in variants.iter().enumerate() {
            base.push(run(repo, "git", &git).0);
            let (took, out) = run(repo, BIN, args);
            if i == 0 {
                md_bytes = out.len();
            }
            ours[i].push(took);
        }
    }
    let b = median(base);
    for ((name, _), times) in variants.iter().zip(ours) {
        let f = median(times);
        println!(
            "{name:<13} git log --oneline {:>7.1} ms   flightdeck {:>7.1} ms   ratio {:>5.2}x (goal <= 1.5x)",
            b.as_secs_f64() * 1e3,
            f.as_secs_f64() * 1e3,
            f.as_secs_f64() / b.as_secs_f64()
        );
    }
    println!(
        "              output: git {} lines ({:.1} MiB), flightdeck {:.1} MiB of Markdown",
        git_lines,
        git_out.len() as f64 / (1 << 20) as f64,
        md_bytes as f64 / (1 << 20) as f64
    );
    let _ = std::io::stdout().flush();
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// Run `program args` in `dir` with stdout into a pipe this process drains; (wall time, output).
fn run(dir: &Path, program: &str, args: &[&str]) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_PAGER", "cat")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let mut out = Vec::with_capacity(8 << 20);
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_end(&mut out)
        .expect("read output");
    let status = child.wait().expect("wait");
    let took = t.elapsed();
    assert!(status.success(), "{program} {args:?} failed: {status}");
    (took, out)
}

/// `git init` + `git fast-import`: commit 0 tagged `v0.1.0`, then `commits` more.
fn build_repo(dir: &Path, commits: usize) {
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .expect("run git");
        assert!(st.success(), "git {args:?} failed");
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet", "--done"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, child.stdin.take().expect("stdin"));
        let start: i64 = 1_700_000_000;
        for i in 0..=commits {
            let (subject, body) = message(i);
            let msg = format!("{subject}\n\n{body}\n");
            let content = format!("line {i}\n");
            let who = [
                "Ada Lovelace <ada@example.com>",
                "Grace Hopper <grace@example.com>",
            ][i % 2];
            write!(
                w,
                "commit refs/heads/main\nmark :{}\nauthor {who} {} +0000\ncommitter {who} {} +0000\ndata {}\n{msg}",
                i + 1,
                start + i as i64 * 60,
                start + i as i64 * 60,
                msg.len()
            )
            .and_then(|()| {
                if i > 0 {
                    writeln!(w, "from :{}", i)?;
                }
                write!(w, "M 644 inline src/file{}.txt\ndata {}\n{content}\n", i % 64, content.len())
            })
            .expect("write stream");
            if i == 0 {
                let tag_msg = "Release 0.1.0\n";
                write!(
                    w,
                    "tag v0.1.0\nfrom :1\ntagger Ada Lovelace <ada@example.com> {start} +0000\ndata {}\n{tag_msg}\n",
                    tag_msg.len()
                )
                .expect("write tag");
            }
        }
        w.write_all(b"done\n").expect("write done");
        w.flush().expect("flush stream");
    }
    let st = child.wait().expect("wait fast-import");
    assert!(st.success(), "git fast-import failed");
    git(&["reset", "--quiet", "--hard", "main"]);
}

/// A realistic mix of subjects: mostly conventional, some plain, a few breaking.
fn message(i: usize) -> (String, String) {
    let body = format!("Longer explanation of change {i}.\nIt spans two lines of the body.");
    let subject = match i % 20 {
        0 => format!("feat(api): add endpoint number {i}"),
        1..=5 => format!("fix: handle edge case {i} in the parser"),
        6 => format!("perf(db): faster query {i}"),
        7 | 8 => format!("docs: explain option {i}"),
        9 => format!("refactor(core): simplify module {i}"),
        10 => format!("chore(deps): bump dependency {i}"),
        11 if i % 1000 == 11 => format!("feat(api)!: remove deprecated call {i}"),
        12 if i % 1000 == 12 => {
            return (
                format!("fix: change default {i}"),
                format!("{body}\n\nBREAKING CHANGE: the default changed in {i}"),
            );
        }
        _ => format!("Update component {i} after review"),
    };
    (subject, body)
}
