//! The shared store against local files, side by side in one run, interleaved (the machines are
//! shared and noisy): a journal append (one line, durable: the file fsynced, the transaction
//! committed on a server with fsync on), median and p99; and an append seen by a second
//! connection through LISTEN/NOTIFY, median and p99 (the goal: at most 100 ms on loopback), and
//! the same append seen in another machine's mirror (its follower pulls it into the local
//! journal file, where every local observer sees it); and a 2M-line output flood through the real
//! binary on each store, interleaved: the stage's duration against the file store's (goal: at
//! most 3x), and the rows and bytes the streamed output took in the database.
//!
//!     cargo bench --bench store             # STORE_APPENDS=2000, STORE_FLOOD=2000000 by default
//!
//! Needs PostgreSQL (Debian's package): it starts a server of its own, as the tests do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck::event::Event;
use flightdeck::journal::{Journal, line_hash};
use flightdeck::mask::Masker;
use flightdeck::pgstore::{Listener, PgStore};

#[path = "../tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn line(seq: u64, prev: &str) -> String {
    format!(
        r#"{{"seq":{seq},"ts":"2026-12-04T10:00:00Z","actor":"bench","prev":"{prev}","kind":"note","message":"n{seq}"}}"#
    )
}

fn main() {
    let n: usize = std::env::var("STORE_APPENDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let Some(server) = pg::Pg::start_durable() else {
        eprintln!("store bench: PostgreSQL is not installed; nothing measured");
        std::process::exit(1);
    };
    let mut store = PgStore::open(&server.url_with_password()).expect("the store");
    let dir = tempfile::tempdir().unwrap();
    let mut file = Journal::open(
        &dir.path().join("journal.jsonl"),
        Arc::new(Masker::new(Vec::new())),
    )
    .unwrap();

    // Appends, interleaved in rounds of 50.
    let (mut t_file, mut t_pg) = (Vec::new(), Vec::new());
    let mut prev = String::new();
    let mut seq = 0u64;
    while t_pg.len() < n {
        for _ in 0..50 {
            let t = Instant::now();
            file.append(
                "bench",
                vec![Event::Note {
                    message: format!("n{seq}"),
                }],
            )
            .unwrap();
            t_file.push(t.elapsed());
        }
        for _ in 0..50 {
            seq += 1;
            let l = line(seq, &prev);
            let t = Instant::now();
            store
                .append("bench", "r1", None, std::slice::from_ref(&l))
                .unwrap();
            t_pg.push(t.elapsed());
            prev = line_hash(l.as_bytes());
        }
    }
    t_file.sort();
    t_pg.sort();
    println!("append (one line, durable), {n} each, interleaved:");
    println!(
        "  files       median {:.3} ms   p99 {:.3} ms",
        ms(pct(&t_file, 0.5)),
        ms(pct(&t_file, 0.99))
    );
    println!(
        "  postgresql  median {:.3} ms   p99 {:.3} ms   ({:.2}x the files' median)",
        ms(pct(&t_pg, 0.5)),
        ms(pct(&t_pg, 0.99)),
        pct(&t_pg, 0.5).as_secs_f64() / pct(&t_file, 0.5).as_secs_f64()
    );

    // An append seen by a second connection.
    let mut listener = Listener::open(&store).unwrap();
    let mut seen = Vec::new();
    for _ in 0..200 {
        seq += 1;
        let l = line(seq, &prev);
        let t = Instant::now();
        store
            .append("bench", "r1", None, std::slice::from_ref(&l))
            .unwrap();
        loop {
            match listener.recv(Duration::from_secs(5)).unwrap() {
                Some(n) if n.seq == seq => break,
                Some(_) => continue,
                None => panic!("no notification within 5 s"),
            }
        }
        seen.push(t.elapsed());
        prev = line_hash(l.as_bytes());
    }
    seen.sort();
    println!(
        "append seen by a second connection (LISTEN/NOTIFY), 200: median {:.3} ms   p99 {:.3} ms   (goal: 100 ms)",
        ms(pct(&seen, 0.5)),
        ms(pct(&seen, 0.99))
    );

    // The same, seen in another machine's mirror: its follower pulls each appended line into the
    // local journal file. Measured with the bare notification of the same append, side by side.
    let mirror = tempfile::tempdir().unwrap();
    let replica = Arc::new(
        flightdeck::pgstore::replica::PgReplica::open(&server.url_with_password(), "bench").unwrap(),
    );
    flightdeck::journal::replica::install(mirror.path(), replica.clone(), "bench");
    replica.follow();
    let head = mirror.path().join("plans/bench/r1/head");
    let mirrored = |seq: u64| {
        std::fs::read_to_string(&head)
            .ok()
            .and_then(|h| h.split_whitespace().next()?.parse::<u64>().ok())
            .is_some_and(|s| s >= seq)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mirrored(seq) {
        assert!(Instant::now() < deadline, "the mirror never caught up");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut bare, mut in_mirror) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        seq += 1;
        let l = line(seq, &prev);
        let t = Instant::now();
        store
            .append("bench", "r1", None, std::slice::from_ref(&l))
            .unwrap();
        loop {
            match listener.recv(Duration::from_secs(5)).unwrap() {
                Some(n) if n.seq == seq => break,
                Some(_) => continue,
                None => panic!("no notification within 5 s"),
            }
        }
        bare.push(t.elapsed());
        while !mirrored(seq) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "line {seq} never reached the mirror"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        in_mirror.push(t.elapsed());
        prev = line_hash(l.as_bytes());
    }
    bare.sort();
    in_mirror.sort();
    println!(
        "append seen in another machine's mirror, 200: median {:.3} ms   p99 {:.3} ms   (the bare notification: median {:.3} ms; goal: 100 ms)",
        ms(pct(&in_mirror, 0.5)),
        ms(pct(&in_mirror, 0.99)),
        ms(pct(&bare, 0.5))
    );

    flood(&server, &mut store);
    chain(&server);
    observers(&server, &mut store);
}

/// A chain of `STORE_CHAIN` stages (default 1,000) of `true`, each needing the one before, through
/// the real binary on each store, twice each, interleaved: the whole run per stage.
fn chain(server: &pg::Pg) {
    let stages: usize = std::env::var("STORE_CHAIN")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut plan = String::from("[plan]\nname = \"chain\"\nmax_parallel = 1\n");
    for i in 0..stages {
        plan.push_str(&format!("\n[[stage]]\nid = \"s{i}\"\nrun = \"true\"\n"));
        if i > 0 {
            plan.push_str(&format!("needs = [\"s{}\"]\n", i - 1));
        }
    }
    let run =
        |store_url: Option<&str>, version: &str| -> Duration { run_release(&plan, store_url, version).0 };
    let (mut files, mut pgs) = (Vec::new(), Vec::new());
    for round in 0..2 {
        files.push(run(None, &format!("1.{round}")));
        pgs.push(run(Some(&server.url()), &format!("2.{round}")));
    }
    files.sort();
    pgs.sort();
    let per = |d: Duration| ms(d) / stages as f64;
    println!("chain of {stages} stages, 2 each, interleaved (best):");
    println!(
        "  files       {:.0} ms   {:.2} ms per stage",
        ms(files[0]),
        per(files[0])
    );
    println!(
        "  postgresql  {:.0} ms   {:.2} ms per stage   (+{:.2} ms per stage, {:.2}x)",
        ms(pgs[0]),
        per(pgs[0]),
        per(pgs[0]) - per(files[0]),
        pgs[0].as_secs_f64() / files[0].as_secs_f64()
    );
}

/// `STORE_OBSERVERS` (default 50) observers of one running release, each a real `flightdeck logs
/// --follow` process with a mirror of its own: the delay until the last of them has a new line
/// in its mirror, the server's connections while they watch, and the server's CPU over the
/// window.
fn observers(server: &pg::Pg, store: &mut PgStore) {
    let n: usize = std::env::var("STORE_OBSERVERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let exe = env!("CARGO_BIN_EXE_flightdeck");
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("flightdeck.toml"),
        "[plan]\nname = \"watched\"\n\n[[stage]]\nid = \"work\"\nrun = \"while [ ! -f stop ]; do sleep 0.1; done\"\n",
    )
    .unwrap();
    let flightdeck = |dir: &std::path::Path| {
        let mut c = std::process::Command::new(exe);
        c.current_dir(ws.path())
            .env("FLIGHTDECK_DATA_DIR", dir)
            .env("FLIGHTDECK_USER", "bench")
            .env("FLIGHTDECK_STORE", server.url())
            .env("PGPASSWORD", pg::PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let driver_dir = ws.path().join("data");
    assert!(
        flightdeck(&driver_dir)
            .args(["run", "1.0", "--detach"])
            .status()
            .unwrap()
            .success()
    );
    let mirrors: Vec<std::path::PathBuf> = (0..n).map(|i| ws.path().join(format!("m{i}"))).collect();
    let mut children: Vec<std::process::Child> = mirrors
        .iter()
        .map(|m| {
            flightdeck(m)
                .args(["logs", "1.0", "work", "--follow"])
                .spawn()
                .unwrap()
        })
        .collect();
    let head = |m: &std::path::Path| {
        std::fs::read_to_string(m.join("plans/watched/1.0/head"))
            .ok()
            .and_then(|h| h.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (last, _) = store.last("watched", "1.0").unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while mirrors.iter().any(|m| head(m) < last) {
        assert!(Instant::now() < deadline, "the observers never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let connections: i64 = store.count_connections().unwrap();
    let cpu_before = postgres_cpu();
    let t0 = Instant::now();
    let mut delays = Vec::new();
    for _ in 0..20 {
        let (seq, prev) = store.last("watched", "1.0").unwrap().unwrap();
        let l = line(seq + 1, &prev);
        let t = Instant::now();
        store
            .append("watched", "1.0", None, std::slice::from_ref(&l))
            .unwrap();
        while mirrors.iter().any(|m| head(m) < seq + 1) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "an observer never saw line {}",
                seq + 1
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        delays.push(t.elapsed());
    }
    let window = t0.elapsed();
    let cpu = postgres_cpu() - cpu_before;
    delays.sort();
    println!("{n} observers (`logs --follow`, a mirror each) of one release, 20 new lines:");
    println!(
        "  delay to the last observer: median {:.1} ms   max {:.1} ms   (goal: 100 ms)",
        ms(pct(&delays, 0.5)),
        ms(pct(&delays, 1.0))
    );
    println!(
        "  the server: {connections} connections while they watch; {:.0} ms of CPU over {:.1} s ({:.1}%)",
        cpu * 1000.0,
        window.as_secs_f64(),
        100.0 * cpu / window.as_secs_f64()
    );
    std::fs::write(ws.path().join("stop"), "").unwrap();
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// CPU seconds used so far by every PostgreSQL process (the server and its backends).
fn postgres_cpu() -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
            continue;
        };
        if comm.trim() != "postgres" {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) {
            let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = after.split_whitespace().collect();
            let (u, s): (f64, f64) = (
                f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0),
                f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0),
            );
            total += (u + s) / tick;
        }
    }
    total
}

/// `flightdeck run VERSION` of `plan` in a new workspace, on the store at `store_url` (else on
/// files), to its end: how long it took, and the workspace.
fn run_release(plan: &str, store_url: Option<&str>, version: &str) -> (Duration, tempfile::TempDir) {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("flightdeck.toml"), plan).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.current_dir(ws.path())
        .args(["run", version])
        .env("FLIGHTDECK_DATA_DIR", ws.path().join("data"))
        .env("FLIGHTDECK_USER", "bench")
        .env_remove("FLIGHTDECK_STORE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(url) = store_url {
        cmd.env("FLIGHTDECK_STORE", url).env("PGPASSWORD", pg::PASSWORD);
    }
    let t = Instant::now();
    assert!(cmd.status().unwrap().success(), "the release {version} failed");
    (t.elapsed(), ws)
}

/// A stage printing `STORE_FLOOD` lines (`seq 1 N`), through the real binary, three times on each
/// store, interleaved: the stage's duration as journaled, the whole `run`, and what the streamed
/// output took in the database.
fn flood(server: &pg::Pg, store: &mut PgStore) {
    let lines: u64 = std::env::var("STORE_FLOOD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let plan = format!("[plan]\nname = \"flood\"\n\n[[stage]]\nid = \"flood\"\nrun = \"seq 1 {lines}\"\n");
    let run = |store_url: Option<&str>, version: &str| -> (Duration, Duration) {
        let (wall, ws) = run_release(&plan, store_url, version);
        let journal = std::fs::read_to_string(
            ws.path()
                .join("data/plans/flood")
                .join(version)
                .join("journal.jsonl"),
        )
        .unwrap();
        let ms: u64 = journal
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["kind"] == "run_finished")
            .and_then(|v| v["duration_ms"].as_u64())
            .expect("the stage finished");
        (Duration::from_millis(ms), wall)
    };
    let (mut files, mut pgs) = (Vec::new(), Vec::new());
    for round in 0..3 {
        files.push(run(None, &format!("1.{round}")));
        pgs.push(run(Some(&server.url()), &format!("2.{round}")));
    }
    let median = |v: &mut Vec<(Duration, Duration)>| {
        v.sort();
        v[v.len() / 2]
    };
    let (f, p) = (median(&mut files), median(&mut pgs));
    let held = store.output_held("flood", "2.0").unwrap();
    let (bytes, rows) = held
        .values()
        .fold((0u64, 0i64), |(b, r), (bb, rr)| (b + bb, r + rr));
    println!("{lines}-line flood, 3 each, interleaved (medians):");
    println!(
        "  files       stage {:.0} ms   whole run {:.0} ms",
        ms(f.0),
        ms(f.1)
    );
    println!(
        "  postgresql  stage {:.0} ms   whole run {:.0} ms   ({:.2}x the files' stage; goal: 3x)",
        ms(p.0),
        ms(p.1),
        p.0.as_secs_f64() / f.0.as_secs_f64()
    );
    println!(
        "  the streamed output of one run: {rows} rows, {:.1} MiB in fd_chunks",
        bytes as f64 / (1024.0 * 1024.0)
    );
}
