//! The shared store on a real PostgreSQL server (started by the test, see `common::pg`):
//! selecting it, its schema (migrated on first use, a newer one refused), `store status`, and
//! `store import` / `store export` keeping every hash chain so that `verify` passes; at the
//! library level, the database's own guards: a line that does not chain is refused, an append
//! with a stale driver epoch is refused, and appends are notified.

use crate::common;

use std::time::Duration;

use common::pg::{PASSWORD, Pg};
use common::{DEADLINE, Workspace, stderr_of, stdout_of, wait_until};
use flightdeck::pgstore::{PgStore, StoreError};

const PLAN: &str = r#"
[plan]
name = "shop"

[environments.staging]

[environments.prod]
targets = ["eu", "us"]

[[stage]]
id = "stage"
environment = "staging"
run = "echo staging {version}"
rollback = "echo undo staging"

[[stage]]
id = "prod"
needs = ["stage"]
environment = "prod"
run = "echo deploying {target}; test ! -f fail-{target}-{version}"
rollback = "echo undo {target}"
"#;

/// A workspace whose commands reach the server's password through PGPASSWORD, as libpq users do.
fn workspace(pg: &Pg) -> Workspace {
    Workspace::new(PLAN)
        .env("PGPASSWORD", PASSWORD)
        .env("FD_TEST_STORE", &pg.url())
}

fn with_store(pg: &Pg, args: &[&str]) -> Vec<String> {
    let mut v = vec!["--store".to_string(), pg.url()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

#[test]
fn without_a_store_the_store_commands_say_how_to_choose_one() {
    let ws = Workspace::new(PLAN);
    let out = ws.expect(["store", "status"], 2);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("no shared store selected: give --store URL, set FLIGHTDECK_STORE"),
        "{err}"
    );
    // Not a PostgreSQL URL: said, with the password never shown.
    let out = ws.expect(["--store", "mysql://u:pw@db/x", "store", "status"], 2);
    let err = stderr_of(&out);
    assert!(
        err.contains("is not a PostgreSQL URL") && !err.contains("pw@"),
        "{err}"
    );
}

#[test]
fn a_plan_naming_a_store_with_a_password_is_refused_at_its_line() {
    let plan = PLAN.replace(
        "name = \"shop\"",
        "name = \"shop\"\nstore = \"postgres://ops:hunter2@db.internal/flightdeck\"",
    );
    let ws = Workspace::new(&plan);
    let out = ws.expect(["check"], 2);
    let err = stderr_of(&out);
    assert!(err.contains("flightdeck.toml:4:9"), "{err}");
    assert!(err.contains("store must not hold a password"), "{err}");
    let plan = PLAN.replace("name = \"shop\"", "name = \"shop\"\nstore = \"db.internal\"");
    let out = Workspace::new(&plan).expect(["check"], 2);
    assert!(
        stderr_of(&out).contains("flightdeck.toml:4:9: store `db.internal` is not a PostgreSQL URL"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn an_unreachable_store_is_one_line_and_nothing_is_written_locally() {
    let ws = Workspace::new(PLAN);
    for args in [vec!["list"], vec!["run", "1.0"], vec!["status"]] {
        let mut full = vec!["--store", "postgres://ops:hunter2@db.invalid/flightdeck"];
        full.extend(args.iter());
        let out = ws.expect(&full, 1);
        let err = stderr_of(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("postgres://ops:***@db.invalid/flightdeck: cannot connect"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert!(
        !ws.data_dir().join("plans").exists(),
        "nothing was written locally"
    );
}

const GATED: &str = r#"
[plan]
name = "shared"

[environments.prod]

[gates.go]
approvals = 1

[[stage]]
id = "build"
run = "echo built {version}"

[[stage]]
id = "deploy"
needs = ["build"]
gate = "go"
environment = "prod"
run = "echo deployed {version}"
"#;

/// One operator's machine: its own checkout of the plan and its own data directory (the local
/// mirror), the store selected by FLIGHTDECK_STORE, the password from PGPASSWORD.
fn machine(pg: &Pg) -> Workspace {
    Workspace::new(GATED)
        .env("PGPASSWORD", PASSWORD)
        .env("FLIGHTDECK_STORE", &pg.url())
}

#[test]
fn two_machines_share_one_release_through_the_store() {
    let Some(pg) = Pg::start() else { return };
    let (a, b) = (machine(&pg), machine(&pg));
    // The driver runs on a.
    a.expect(["run", "1.0", "--detach", "--as", "releaser"], 0);
    a.wait_for_event("1.0", "gate_reached", |_| true);
    // b sees it, paused at its gate and driven (by a's lease), and approves it.
    let listed = stdout_of(&b.expect(["list"], 0));
    assert!(listed.contains("1.0") && listed.contains("paused"), "{listed}");
    let st = b.status("1.0");
    assert_eq!(st["state"], "paused", "{st}");
    assert!(st["driver"].is_number(), "{st}");
    let out = b.expect(["approve", "1.0", "go", "--as", "bob"], 0);
    let said = stdout_of(&out);
    assert!(
        said.contains("bob approved gate go of 1.0 (1/1 approvals)"),
        "{said}"
    );
    assert!(!said.contains("started a background driver"), "{said}");
    // a's driver goes on by itself; both machines see the end, and the same journal.
    a.wait_for_state("1.0", "succeeded");
    b.wait_for_state("1.0", "succeeded");
    assert_eq!(a.journal("1.0"), b.journal("1.0"));
    assert_eq!(b.events("1.0", "approved")[0]["actor"], "bob");
    b.expect(["verify", "1.0"], 0);
    // The run logs came too, streamed by a's driver.
    let log = stdout_of(&b.expect(["logs", "1.0", "deploy"], 0));
    assert!(log.contains("deployed 1.0"), "{log}");
    // No driver was started on b: a's lease said one lives.
    let release = |ws: &Workspace| ws.data_dir().join("plans").join("shared").join("1.0");
    assert!(release(&a).join("driver.log").exists());
    assert!(!release(&b).join("driver.log").exists());
    // A data directory mirrors one store only.
    let other = b.expect(["--store", "postgres://elsewhere.invalid/x", "list"], 2);
    assert!(
        stderr_of(&other).contains("this data directory mirrors the store"),
        "{}",
        stderr_of(&other)
    );
}

#[test]
fn migrate_and_status_over_a_real_server_with_the_password_from_pgpassword() {
    let Some(pg) = Pg::start() else { return };
    let ws = workspace(&pg);
    let out = ws.expect(with_store(&pg, &["store", "migrate"]), 0);
    assert!(
        stdout_of(&out).contains("schema migrated from version 0 to 2"),
        "{}",
        stdout_of(&out)
    );
    let out = ws.expect(with_store(&pg, &["store", "migrate"]), 0);
    assert!(
        stdout_of(&out).contains("schema version 2 is current"),
        "{}",
        stdout_of(&out)
    );

    let out = ws.expect(with_store(&pg, &["store", "status"]), 0);
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!("store         {} (from --store)", pg.url())),
        "{text}"
    );
    assert!(
        text.contains("schema        version 2 (this flightdeck: 2)"),
        "{text}"
    );
    assert!(text.contains("0 plan(s), 0 release(s), 0 event(s)"), "{text}");
    assert!(
        text.contains("live updates  LISTEN/NOTIFY: a notification came back in"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");

    // FLIGHTDECK_STORE, with the password in the URL: never shown.
    let ws2 = Workspace::new(PLAN).env("FLIGHTDECK_STORE", &pg.url_with_password());
    let out = ws2.expect(["store", "status", "--json"], 0);
    let text = stdout_of(&out);
    assert!(!text.contains(PASSWORD), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["source"], "FLIGHTDECK_STORE");
    assert_eq!(v["schema"], 2);
    assert_eq!(
        v["url"],
        format!("postgres://flightdeck:***@127.0.0.1:{}/postgres", pg.port)
    );
    assert_eq!(v["notify"]["listen"], true);
    assert!(v["round_trip_ms"].as_f64().unwrap() > 0.0);

    // Without the password: one line naming the store and the cause.
    let ws3 = Workspace::new(PLAN);
    let out = ws3.expect(with_store(&pg, &["store", "status"]), 1);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{}: cannot connect", pg.url())), "{err}");

    // The plan's own choice, when neither --store nor FLIGHTDECK_STORE says.
    let plan = PLAN.replace(
        "name = \"shop\"",
        &format!("name = \"shop\"\nstore = \"{}\"", pg.url()),
    );
    let ws4 = Workspace::new(&plan).env("PGPASSWORD", PASSWORD);
    let out = ws4.expect(["store", "status"], 0);
    assert!(
        stdout_of(&out).contains("(from [plan] store in "),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn a_schema_newer_than_the_binary_is_refused_and_left_alone() {
    let Some(pg) = Pg::start() else { return };
    let ws = workspace(&pg);
    ws.expect(with_store(&pg, &["store", "migrate"]), 0);
    pg.psql("UPDATE fd_meta SET value = '7' WHERE key = 'schema_version'");
    for cmd in [["store", "status"], ["store", "migrate"]] {
        let out = ws.expect(with_store(&pg, &cmd), 1);
        let err = stderr_of(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!(
                "the store's schema is version 7, newer than this flightdeck knows ({})",
                flightdeck::pgstore::SCHEMA_VERSION
            )),
            "{err}"
        );
    }
    assert_eq!(
        pg.psql("SELECT value FROM fd_meta WHERE key = 'schema_version'"),
        "7"
    );
}

/// Every file under `dir`, relative, with its bytes; derived files and locks left out.
fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != ".open" {
                    todo.push(p);
                }
            } else if !name.ends_with(".lock") && name != ".index.jsonl" && name != ".latest" {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn import_then_export_keeps_every_chain_and_verify_passes() {
    let Some(pg) = Pg::start() else { return };
    let ws = workspace(&pg);
    ws.expect(["run", "1.0"], 0);
    ws.touch("fail-us-1.1");
    ws.expect(["run", "1.1"], 1);
    ws.expect(["rollback", "1.1"], 0);
    ws.wait_for_state("1.1", "rolled_back");
    ws.expect(["incident", "open", "--env", "prod", "prod is slow"], 0);
    ws.expect(
        [
            "freeze",
            "add",
            "--env",
            "prod",
            "--until",
            "2h",
            "--reason",
            "an incident",
        ],
        0,
    );
    let local = tree(&ws.data_dir());

    let out = ws.expect(
        with_store(&pg, &["store", "import", ws.data_dir().to_str().unwrap()]),
        0,
    );
    let text = stdout_of(&out);
    assert!(
        text.contains("imported ") && text.contains(": 4 journal(s)"),
        "{text}"
    );
    assert_eq!(pg.psql("SELECT count(*) FROM fd_releases"), "2");
    // The two releases' journals, the incident's line and the freeze's.
    let lines: usize = ws.journal("1.0").len() + ws.journal("1.1").len() + 2;
    assert_eq!(pg.psql("SELECT count(*) FROM fd_events"), lines.to_string());

    // Again: nothing new.
    let out = ws.expect(
        with_store(&pg, &["store", "import", ws.data_dir().to_str().unwrap()]),
        0,
    );
    assert!(
        stdout_of(&out).contains("0 journal(s), 0 line(s) (4 already up to date)"),
        "{}",
        stdout_of(&out)
    );

    // Export into a new data dir: the same journals, heads, logs and files, byte for byte.
    let back = ws.path().join("back");
    ws.expect(with_store(&pg, &["store", "export", back.to_str().unwrap()]), 0);
    assert_eq!(tree(&back), local);
    // verify accepts it, and the commands read it (the index is rebuilt from the journals).
    for id in ["1.0", "1.1"] {
        let out = ws.expect(["--data-dir", back.to_str().unwrap(), "verify", id], 0);
        assert!(stdout_of(&out).contains("intact"), "{}", stdout_of(&out));
    }
    ws.expect(["--data-dir", back.to_str().unwrap(), "verify", "--incidents"], 0);
    let out = ws.expect(["--data-dir", back.to_str().unwrap(), "list"], 0);
    assert!(stdout_of(&out).contains("rolled_back"), "{}", stdout_of(&out));
    let out = ws.expect(["--data-dir", back.to_str().unwrap(), "freeze", "list"], 0);
    assert!(stdout_of(&out).contains("an incident"), "{}", stdout_of(&out));

    // Export never writes over a data directory.
    let out = ws.expect(with_store(&pg, &["store", "export", back.to_str().unwrap()]), 1);
    assert!(stderr_of(&out).contains("not empty"), "{}", stderr_of(&out));
}

#[test]
fn import_refuses_an_altered_journal_by_its_line_and_imports_the_rest() {
    let Some(pg) = Pg::start() else { return };
    let ws = workspace(&pg);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    // Change line 2 of 1.0's journal (its time).
    let path = ws.journal_path("1.0");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert!(lines[1].contains(r#""ts":"20"#), "{}", lines[1]);
    lines[1] = lines[1].replacen(r#""ts":"20"#, r#""ts":"19"#, 1);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = ws.expect(
        with_store(&pg, &["store", "import", ws.data_dir().to_str().unwrap()]),
        1,
    );
    let err = stderr_of(&out);
    assert!(err.contains(&format!("{}:2: altered", path.display())), "{err}");
    assert!(err.contains("not imported"), "{err}");
    assert_eq!(pg.psql("SELECT string_agg(id, ',') FROM fd_releases"), "1.1");
}

fn record(seq: u64, prev: &str, actor: &str) -> String {
    format!(
        r#"{{"seq":{seq},"ts":"2026-12-04T10:00:00Z","actor":"{actor}","prev":"{prev}","kind":"note","text":"n{seq}"}}"#
    )
}

fn hash(line: &str) -> String {
    flightdeck::journal::line_hash(line.as_bytes())
}

#[test]
fn the_database_refuses_lines_that_do_not_chain_and_never_changes_one() {
    let Some(pg) = Pg::start() else { return };
    let mut s = PgStore::open(&pg.url_with_password()).unwrap();
    let l1 = record(1, "", "a");
    let l2 = record(2, &hash(&l1), "a");
    s.append("shop", "1.0", None, &[l1.clone(), l2.clone()]).unwrap();
    assert_eq!(s.last("shop", "1.0").unwrap(), Some((2, hash(&l2))));
    // A line naming another line before it, a gap, a repeated number: refused, nothing added.
    for bad in [
        record(3, &hash(&l1), "a"),
        record(4, &hash(&l2), "a"),
        record(2, &hash(&l1), "a"),
    ] {
        match s.append("shop", "1.0", None, std::slice::from_ref(&bad)) {
            Err(StoreError::Chain { cause, .. }) => {
                assert!(cause.contains("journal shop/1.0: line 3"), "{cause}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(s.read_after("shop", "1.0", 0, 100).unwrap().len(), 2);
    // Lines are never updated or deleted, even by hand.
    let out = std::panic::catch_unwind(|| pg.psql("DELETE FROM fd_events"));
    assert!(out.is_err(), "a DELETE must be refused");
    assert_eq!(pg.psql("SELECT count(*) FROM fd_events"), "2");
}

#[test]
fn a_driver_whose_lease_was_taken_over_can_never_append_again() {
    let Some(pg) = Pg::start() else { return };
    let mut a = PgStore::open(&pg.url_with_password()).unwrap();
    let mut b = PgStore::open(&pg.url_with_password()).unwrap();
    let ttl = Duration::from_millis(300);
    let mut lease_a = a
        .acquire_lease("shop", "1.0", "driver-a", "host-a", 10, ttl)
        .unwrap()
        .unwrap();
    assert_eq!(lease_a.epoch, 1);
    let l1 = record(1, "", "driver");
    a.append("shop", "1.0", Some(1), std::slice::from_ref(&l1))
        .unwrap();
    // Held: the other driver is told by whom.
    let held = b
        .acquire_lease("shop", "1.0", "driver-b", "host-b", 20, ttl)
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (held.holder.as_str(), held.host.as_str(), held.epoch),
        ("driver-a", "host-a", 1)
    );
    // A stops renewing (paused, cut off): once the lease expired, B takes it over with epoch 2.
    let mut lease_b = None;
    wait_until(DEADLINE, "driver B takes the expired lease over", || {
        lease_b = b
            .acquire_lease("shop", "1.0", "driver-b", "host-b", 20, ttl)
            .unwrap()
            .ok();
        lease_b.is_some()
    });
    let lease_b = lease_b.unwrap();
    assert_eq!(lease_b.epoch, 2);
    // A wakes up and tries to go on: every append of epoch 1 is refused by the database.
    let l2 = record(2, &hash(&l1), "driver");
    match a.append("shop", "1.0", Some(1), std::slice::from_ref(&l2)) {
        Err(StoreError::Fenced { cause, .. }) => assert!(
            cause.contains("an append with driver epoch 1 was refused: the lease is at epoch 2"),
            "{cause}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!a.renew_lease(&mut lease_a, ttl).unwrap(), "A's lease is gone");
    b.append("shop", "1.0", Some(2), &[l2]).unwrap();
    // Given up, the lease is free, and the next epoch is 3 (never 1 again).
    b.release_lease(&lease_b).unwrap();
    let c = a
        .acquire_lease("shop", "1.0", "driver-c", "host-c", 30, ttl)
        .unwrap()
        .unwrap();
    assert_eq!(c.epoch, 3);
}

#[test]
fn an_append_is_notified_with_its_plan_journal_and_sequence_number() {
    let Some(pg) = Pg::start() else { return };
    let mut s = PgStore::open(&pg.url_with_password()).unwrap();
    let mut l = flightdeck::pgstore::Listener::open(&s).unwrap();
    let l1 = record(1, "", "a");
    s.append("shop", "1.0", None, &[l1]).unwrap();
    let mut got = None;
    wait_until(DEADLINE, "the notification arrives", || {
        got = l.recv(Duration::from_millis(200)).unwrap();
        got.is_some()
    });
    let n = got.unwrap();
    assert_eq!((n.plan.as_str(), n.journal.as_str(), n.seq), ("shop", "1.0", 1));
}

#[test]
fn tls_require_and_verify_full_against_the_servers_own_ca() {
    let Some(pg) = Pg::start_tls() else { return };
    let ws = Workspace::new(PLAN).env("PGPASSWORD", PASSWORD);
    let status = |url: &str, code: i32| ws.expect(["--store", url, "store", "status"], code);
    // The server takes TLS connections only: without TLS, turned away.
    let url = format!(
        "postgres://flightdeck@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let out = status(&url, 1);
    assert!(stderr_of(&out).contains("cannot connect"), "{}", stderr_of(&out));
    // Encrypted without checking the certificate (libpq's `require`).
    let url = format!(
        "postgres://flightdeck@127.0.0.1:{}/postgres?sslmode=require",
        pg.port
    );
    status(&url, 0);
    // The certificate checked against the CA, and the host name against it.
    let ca = pg.ca();
    let url = format!(
        "postgres://flightdeck@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        ca.display()
    );
    let out = status(&url, 0);
    assert!(
        stdout_of(&out).contains("schema        version 2"),
        "{}",
        stdout_of(&out)
    );
    // A CA that did not sign it: refused, in one line naming the store.
    let other = pg.path().join("other-ca.crt");
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(pg.path().join("other.key"))
        .arg("-out")
        .arg(&other)
        .args(["-subj", "/CN=someone else", "-days", "2"])
        .output()
        .unwrap();
    assert!(made.status.success());
    let url = format!(
        "postgres://flightdeck@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        other.display()
    );
    let out = status(&url, 1);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process (group, when negative) exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: a plain signal to a process this test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

#[test]
fn a_stopped_drivers_release_is_taken_over_elsewhere_and_it_never_writes_again() {
    let Some(pg) = Pg::start() else { return };
    let plan = r#"
[plan]
name = "takeover"

[[stage]]
id = "work"
run = "sleep 60"
"#;
    // Two machines by name; leases of 6 s (long enough that the first resume below comes while
    // the lease holds, even on a loaded machine).
    let machine = |host: &str| {
        Workspace::new(plan)
            .env("PGPASSWORD", PASSWORD)
            .env("FLIGHTDECK_STORE", &pg.url())
            .env("FLIGHTDECK_LEASE_TTL", "6")
            .env("FLIGHTDECK_HOSTNAME", host)
    };
    let (a, b) = (machine("host-a"), machine("host-b"));
    a.expect(["run", "1.0", "--detach"], 0);
    let pgid = a.wait_for_event("1.0", "run_spawned", |_| true)["pgid"]
        .as_i64()
        .unwrap() as i32;
    let driver = a.status("1.0")["driver"].as_u64().unwrap() as i32;
    // a's driver stops answering (paused, cut off): its lease runs out.
    signal(driver, libc::SIGSTOP);
    b.expect(["list"], 0);
    let held = b.expect(["resume", "1.0", "--detach"], 4);
    assert!(
        stderr_of(&held).contains("host-a"),
        "while the lease holds: {}",
        stderr_of(&held)
    );
    wait_until(DEADLINE, "b takes the release over", || {
        b.flightdeck(["resume", "1.0", "--detach"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    b.wait_for_event("1.0", "driver_started", |e| e["host"] == "host-b");
    // The run a started is not b's to end (its process group is host-a's): said, and left.
    assert!(b.has_event("1.0", "note", |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("the previous driver ran on host-a"))
    }));
    assert!(alive(-pgid), "b ended a process of another machine");
    // b runs the work again (a's run counts as interrupted), and then waits for it.
    b.wait_for_event("1.0", "run_spawned", |e| e["pgid"] != pgid);
    // a wakes up: its lease is gone. It ends its own job and exits, writing nothing.
    let lines_before = b.journal("1.0").len();
    signal(driver, libc::SIGCONT);
    wait_until(DEADLINE, "a's driver exits", || !alive(driver));
    wait_until(DEADLINE, "a's job ends with it", || !alive(-pgid));
    let log = std::fs::read_to_string(
        a.data_dir()
            .join("plans")
            .join("takeover")
            .join("1.0")
            .join("driver.log"),
    )
    .unwrap();
    assert!(log.contains("its lease on the shared store was lost"), "{log}");
    // Nothing reached the store from a after the takeover.
    b.expect(["list"], 0);
    assert_eq!(b.journal("1.0").len(), lines_before, "{:?}", b.journal("1.0"));
    b.expect(["cancel", "1.0"], 0);
    b.wait_for_state("1.0", "cancelled");
    b.expect(["verify", "1.0"], 0);
}

#[test]
fn a_killed_drivers_release_is_resumed_on_another_machine_once_its_lease_expired() {
    let Some(pg) = Pg::start() else { return };
    let shared = tempfile::tempdir().unwrap();
    let mark = shared.path().join("started");
    // The first run (a's) marks that it began and hangs; the second (b's) finishes.
    let plan = format!(
        r#"
[plan]
name = "killed"

[[stage]]
id = "work"
run = "if [ -f '{m}' ]; then echo second run; else touch '{m}'; sleep 60; fi"

[[stage]]
id = "after"
needs = ["work"]
run = "echo after {{version}}"
"#,
        m = mark.display()
    );
    let machine = |host: &str| {
        Workspace::new(&plan)
            .env("PGPASSWORD", PASSWORD)
            .env("FLIGHTDECK_STORE", &pg.url())
            .env("FLIGHTDECK_LEASE_TTL", "6")
            .env("FLIGHTDECK_HOSTNAME", host)
    };
    let (a, b) = (machine("host-a"), machine("host-b"));
    a.expect(["run", "1.0", "--detach"], 0);
    let pgid = a.wait_for_event("1.0", "run_spawned", |_| true)["pgid"]
        .as_i64()
        .unwrap() as i32;
    let driver = a.status("1.0")["driver"].as_u64().unwrap() as i32;
    signal(driver, libc::SIGKILL);
    wait_until(DEADLINE, "a's driver is gone", || !alive(driver));
    // On b the lease still names a's driver until it expires: resume is refused, naming it.
    let held = b.expect(["resume", "1.0", "--detach"], 4);
    assert!(stderr_of(&held).contains("host-a"), "{}", stderr_of(&held));
    wait_until(DEADLINE, "b resumes once the lease expired", || {
        b.flightdeck(["resume", "1.0", "--detach"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    b.wait_for_event("1.0", "driver_started", |e| e["host"] == "host-b");
    b.wait_for_state("1.0", "succeeded");
    let log = stdout_of(&b.expect(["logs", "1.0", "work"], 0));
    assert!(log.contains("second run"), "{log}");
    a.wait_for_state("1.0", "succeeded");
    assert_eq!(a.journal("1.0"), b.journal("1.0"));
    a.expect(["verify", "1.0"], 0);
    // a's orphaned first run was host-a's to end, not b's.
    assert!(alive(-pgid));
    signal(-pgid, libc::SIGKILL);
}

#[test]
fn the_database_stopped_mid_release_loses_nothing_and_holds_new_work_past_the_lease() {
    let Some(pg) = Pg::start() else { return };
    let plan = r#"
[plan]
name = "outage"

[[stage]]
id = "one"
run = "while [ ! -f step1 ]; do sleep 0.05; done; echo one"

[[stage]]
id = "two"
needs = ["one"]
run = "echo two"
"#;
    let machine = || {
        Workspace::new(plan)
            .env("PGPASSWORD", PASSWORD)
            .env("FLIGHTDECK_STORE", &pg.url())
            .env("FLIGHTDECK_LEASE_TTL", "1")
    };
    let (a, b) = (machine(), machine());
    a.expect(["run", "1.0", "--detach"], 0);
    a.wait_for_event("1.0", "run_spawned", |e| e["stage"] == "one");
    let driver = a.status("1.0")["driver"].as_u64().unwrap() as i32;
    // The database goes away. Past the lease, the driver starts nothing new; what runs goes
    // on, and what it journals meanwhile is kept here, fsynced, in order.
    pg.stop();
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(a.file("step1"), "").unwrap();
    a.wait_for_event("1.0", "stage_succeeded", |e| e["stage"] == "one");
    a.wait_for_event("1.0", "stage_waiting", |e| {
        e["stage"] == "two"
            && e["reason"]
                .as_str()
                .is_some_and(|r| r.contains("the shared store has been out of reach"))
    });
    assert!(alive(driver), "the driver crashed with the store away");
    assert!(!a.has_event("1.0", "run_started", |e| e["stage"] == "two"));
    // Looking is still possible: this machine's copy, said to be one.
    let out = a.expect(["status", "1.0"], 0);
    assert!(
        stderr_of(&out).contains("the shared store is out of reach"),
        "{}",
        stderr_of(&out)
    );
    // It comes back: the lease is renewed (nobody took it), the lines written meanwhile go up
    // first, in order, and the release goes on.
    pg.start_again();
    a.wait_for_state("1.0", "succeeded");
    b.expect(["list"], 0);
    b.wait_for_state("1.0", "succeeded");
    assert_eq!(a.journal("1.0"), b.journal("1.0"));
    b.expect(["verify", "1.0"], 0);
    assert!(
        !a.data_dir().join("plans/outage/1.0/journal.unsent").exists(),
        "nothing was refused"
    );
}

#[test]
fn a_workspaces_trains_journal_goes_to_the_store_and_back() {
    let Some(pg) = Pg::start() else { return };
    let ws = workspace(&pg);
    std::fs::write(
        ws.file("flightdeck-workspace.toml"),
        "[workspace]\nname = \"mall\"\nplans = [\"flightdeck.toml\"]\n",
    )
    .unwrap();
    ws.expect(["train", "start", "t1", "--version", "3.0"], 0);
    wait_until(DEADLINE, "the train succeeded", || {
        let out = ws
            .flightdeck(["train", "status", "t1", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok_and(|v| v["state"] == "succeeded")
    });
    let trains = "plans/@mall/.trains/trains.jsonl";
    let local = std::fs::read(ws.data_dir().join(trains)).unwrap();
    ws.expect(
        with_store(&pg, &["store", "import", ws.data_dir().to_str().unwrap()]),
        0,
    );
    let lines = String::from_utf8_lossy(&local).lines().count();
    assert_eq!(
        pg.psql("SELECT count(*) FROM fd_events WHERE plan = '@mall' AND journal = '.trains'"),
        lines.to_string()
    );
    let back = ws.path().join("back");
    ws.expect(with_store(&pg, &["store", "export", back.to_str().unwrap()]), 0);
    assert_eq!(std::fs::read(back.join(trains)).unwrap(), local);
    let out = ws.expect(["--data-dir", back.to_str().unwrap(), "train", "status", "t1"], 0);
    assert!(
        stdout_of(&out).contains("train t1: succeeded"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn a_workspace_uses_the_store_its_plans_name_and_refuses_two() {
    let Some(pg) = Pg::start() else { return };
    let ws = workspace(&pg);
    let with_store = format!(
        "{}\n",
        PLAN.replacen(
            "name = \"shop\"",
            &format!("name = \"shop\"\nstore = \"{}\"", pg.url()),
            1
        )
    );
    std::fs::create_dir_all(ws.file("svc")).unwrap();
    std::fs::write(ws.file("svc/flightdeck.toml"), &with_store).unwrap();
    std::fs::write(
        ws.file("flightdeck-workspace.toml"),
        "[workspace]\nname = \"mall\"\nplans = [\"svc/flightdeck.toml\"]\n",
    )
    .unwrap();
    // From the workspace's folder (no --store, no FLIGHTDECK_STORE): the plans' store.
    ws.expect(
        [
            "--workspace",
            "flightdeck-workspace.toml",
            "train",
            "start",
            "t1",
            "--version",
            "5.0",
        ],
        0,
    );
    assert_eq!(
        pg.psql("SELECT count(*) > 0 FROM fd_events WHERE plan = '@mall' AND journal = '.trains'"),
        "t"
    );
    // Two plans naming different stores: refused, naming both.
    std::fs::create_dir_all(ws.file("other")).unwrap();
    std::fs::write(
        ws.file("other/flightdeck.toml"),
        with_store
            .replacen("name = \"shop\"", "name = \"other\"", 1)
            .replace(&pg.url(), "postgres://elsewhere/db"),
    )
    .unwrap();
    std::fs::write(
        ws.file("flightdeck-workspace.toml"),
        "[workspace]\nname = \"mall\"\nplans = [\"svc/flightdeck.toml\", \"other/flightdeck.toml\"]\n",
    )
    .unwrap();
    let out = ws.expect(["--workspace", "flightdeck-workspace.toml", "train", "list"], 2);
    assert!(
        stderr_of(&out).contains("name different stores (shop: ")
            && stderr_of(&out).contains("other: postgres://elsewhere/db"),
        "{}",
        stderr_of(&out)
    );
}
