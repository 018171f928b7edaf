//! The shared store against local files, side by side in one run, interleaved (the machines are
//! shared and noisy): a journal append (one line, durable: the file fsynced, the transaction
//! committed on a server with fsync on), median and p99; and an append seen by a second
//! connection through LISTEN/NOTIFY, median and p99 (the goal: at most 100 ms on loopback).
//!
//!     cargo bench --bench store             # STORE_APPENDS=2000 by default
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
}
