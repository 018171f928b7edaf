//! End to end: what survives a crash or an interruption. A SIGKILLed driver and `resume`, Ctrl-C
//! in a driver, a torn journal line, and `verify` catching a tampered journal.

use crate::common;

use common::{Workspace, process_alive, process_gone, stage, stderr_of, stdout_of, wait_for_pid_file};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn resume_after_a_sigkilled_driver_ends_its_strays_and_retries_the_interrupted_run() {
    let ws = Workspace::new(
        r#"
[plan]
name = "crash"

[[stage]]
id = "long"
run = "if [ -f first.done ]; then echo second attempt; else touch first.done; sleep 1000 & echo $! > stray.pid; wait; fi"

[[stage]]
id = "after"
needs = ["long"]
run = "echo after"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let stray = wait_for_pid_file(&ws, "stray.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| e["stage"] == "long");
    let st = ws.status("1.0");
    assert_eq!(st["state"], "running");
    let driver = st["driver"].as_u64().expect("a live driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGKILL).expect("kill -9 the driver");

    let st = ws.wait_for_state("1.0", "interrupted");
    assert!(st["driver"].is_null());
    assert!(
        process_alive(stray),
        "the scenario needs the dead driver's `sleep` to outlive it"
    );

    ws.expect(["resume", "1.0"], 0);
    assert!(
        process_gone(stray),
        "the stray `sleep` (pid {stray}) left by the dead driver is still alive"
    );

    let runs: Vec<(u64, String)> = ws
        .events("1.0", "run_finished")
        .iter()
        .filter(|e| e["stage"] == "long")
        .map(|e| {
            (
                e["attempt"].as_u64().unwrap(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        runs,
        [(1, "interrupted".to_string()), (2, "succeeded".to_string())]
    );
    assert!(ws.has_event("1.0", "note", |e| {
        e["message"].as_str().unwrap().contains("process group")
    }));
    assert_eq!(ws.events("1.0", "driver_started").len(), 2);
    assert!(ws.log("1.0", "long.2.log").contains("o second attempt\n"));
    let st = ws.status("1.0");
    assert_eq!(st["state"], "succeeded");
    let attempts = &stage(&st, "long")["targets"][0]["attempts"];
    assert_eq!(attempts[0]["outcome"], "interrupted");
    assert_eq!(attempts[1]["outcome"], "succeeded");
    assert_eq!(stage(&st, "after")["state"], "succeeded");
    common::assert_nothing_after_finish(&ws, "1.0");
    let verify = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", stdout_of(&verify));
}

#[test]
fn ctrl_c_in_a_driver_cancels_the_release_gracefully() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "ctrlc"

[[stage]]
id = "long"
run = "sleep 1000 & echo $! > long.pid; wait"
"#,
    );
    let mut driver = ws.spawn(["run", "1.0"]);
    let pid = wait_for_pid_file(&ws, "long.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| e["stage"] == "long");
    driver.signal(Signal::SIGINT);
    assert_eq!(driver.wait(), 130, "{}", driver.output());
    assert!(
        process_gone(pid),
        "the sleeping process (pid {pid}) outlived the cancel"
    );
    assert!(ws.has_event("1.0", "cancel_requested", |e| e["actor"] == "tester"));
    assert!(ws.has_event("1.0", "release_finished", |e| e["state"] == "cancelled"));
    assert!(ws.has_event("1.0", "run_finished", |e| e["outcome"] == "cancelled"));
    assert_eq!(ws.status("1.0")["state"], "cancelled");
    common::assert_nothing_after_finish(&ws, "1.0");
    assert!(
        driver.stdout().contains("release 1.0 cancelled"),
        "{}",
        driver.output()
    );
}

#[test]
fn ctrl_c_while_the_watching_run_is_still_starting_its_driver_still_cancels() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "early"

[[stage]]
id = "long"
run = "sleep 1000 & echo $! > long.pid; wait"
"#,
    );
    let mut run = ws.spawn(["run", "1.0"]);
    // The journal is written while the release is created, before its driver is started: the
    // watching `run` is not listening for signals yet. (Watched without a pause between looks,
    // so the signal comes while it is still setting up.)
    let journal = ws.journal_path("1.0");
    let started = std::time::Instant::now();
    while !journal.exists() {
        assert!(
            started.elapsed() < common::DEADLINE,
            "the release was never created"
        );
        std::hint::spin_loop();
    }
    run.signal(Signal::SIGINT);
    assert_eq!(
        run.wait(),
        130,
        "a Ctrl-C during start-up must become a cancel, not kill the observer: {}",
        run.output()
    );
    ws.wait_for_state("1.0", "cancelled");
    assert!(ws.has_event("1.0", "cancel_requested", |e| e["actor"] == "tester"));
    // The stage's sleep is gone: by its pid when the shell wrote it, else (cancelled between
    // creating long.pid and writing it) by looking for a `sleep 1000` running in this workspace.
    match ws.read("long.pid").trim().parse::<i32>() {
        Ok(pid) => assert!(
            process_gone(pid),
            "the stage's sleep (pid {pid}) outlived the cancel"
        ),
        Err(_) => {
            let here = std::fs::canonicalize(ws.path()).unwrap();
            let strays: Vec<String> = std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter(|e| {
                    let p = e.path();
                    std::fs::read(p.join("cmdline")).is_ok_and(|c| c == b"sleep\x001000\x00")
                        && std::fs::read_link(p.join("cwd")).is_ok_and(|d| d == here)
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            assert!(
                strays.is_empty(),
                "the stage's sleep outlived the cancel: {strays:?}"
            );
        }
    }
}

#[test]
fn a_driver_started_by_a_watching_run_still_takes_sigterm_as_a_cancel() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "term"

[[stage]]
id = "long"
run = "sleep 1000 & echo $! > long.pid; wait"
"#,
    );
    // The watching run holds its own ending signals while it starts the driver: the driver
    // must not inherit that.
    let mut run = ws.spawn(["run", "1.0"]);
    let pid = wait_for_pid_file(&ws, "long.pid");
    let driver = ws.status("1.0")["driver"].as_u64().expect("a live driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGTERM).expect("SIGTERM the driver");
    ws.wait_for_state("1.0", "cancelled");
    assert_eq!(run.wait(), 130, "{}", run.output());
    assert!(
        process_gone(pid),
        "the stage's sleep (pid {pid}) outlived the cancel"
    );
}

/// A journal line cut short by a crash mid-write: half a JSON object, no newline.
const TORN: &str = r#"{"seq":99,"ts":"2026-01-01T00:00:00Z","actor":"dri"#;

fn append_torn_line(ws: &Workspace, id: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(ws.journal_path(id))
        .unwrap();
    f.write_all(TORN.as_bytes()).unwrap();
}

#[test]
fn a_torn_last_journal_line_is_tolerated_and_set_aside_by_the_next_append() {
    let ws = Workspace::from_fixture("gated.toml");
    ws.expect(["run", "1.0", "--no-wait"], 3);
    let before = std::fs::read_to_string(ws.journal_path("1.0")).unwrap();
    append_torn_line(&ws, "1.0");

    let out = ws.expect(["status", "1.0"], 0);
    assert!(stdout_of(&out).contains("paused"), "{}", stdout_of(&out));
    // On a shared store, the command's catch-up with the store (a write to the local copy)
    // sets the fragment aside at once; on files, reading only warns.
    if !common::on_shared_store() {
        assert!(
            stderr_of(&out).contains("warning") && stderr_of(&out).contains("torn"),
            "{}",
            stderr_of(&out)
        );
    }
    let out = ws.expect(["status", "1.0", "--json"], 0);
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON despite the torn line");
    assert_eq!(st["state"], "paused");

    ws.expect(["approve", "1.0", "signoff", "--as", "alice"], 0);
    let after = std::fs::read_to_string(ws.journal_path("1.0")).unwrap();
    assert!(!after.contains(TORN), "the torn fragment is still in the journal");
    assert!(
        after.starts_with(&before) && after.ends_with('\n'),
        "history kept, one whole line appended"
    );
    let journal = ws.journal("1.0");
    assert_eq!(journal.len(), before.lines().count() + 1);
    assert_eq!(journal.last().unwrap()["kind"], "approved");
    assert_eq!(
        journal.last().unwrap()["seq"],
        journal.len(),
        "the chain continues from the last whole line"
    );

    let out = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("intact"), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("journal.torn"), "{}", stdout_of(&out));
    let torn = ws.release_dir("1.0").join("journal.torn");
    assert_eq!(
        std::fs::read_to_string(torn).unwrap(),
        format!("{TORN}\n"),
        "set aside, never deleted"
    );
    let out = ws.flightdeck(["status", "1.0"]).output().unwrap();
    assert_eq!(stderr_of(&out), "", "no warning once the torn line is gone");
}

#[test]
fn a_torn_line_after_a_finished_release_still_lets_status_and_verify_work() {
    let ws = Workspace::new(
        r#"
[plan]
name = "torn"

[[stage]]
id = "only"
run = "echo done"
"#,
    );
    ws.flightdeck(["run", "1.0"]).assert().code(0);
    append_torn_line(&ws, "1.0");
    let out = ws.expect(["status", "1.0", "--json"], 0);
    assert!(stderr_of(&out).contains("torn"), "{}", stderr_of(&out));
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["state"], "succeeded");
    // Garbage after the last line is not "intact": verify names it (nothing appends to a finished
    // release, so it is never set aside by itself).
    let n = std::fs::read_to_string(ws.journal_path("1.0"))
        .unwrap()
        .lines()
        .count();
    let out = ws.expect(["verify", "1.0"], 1);
    assert!(
        stdout_of(&out).contains(&format!("journal.jsonl:{n}: torn")),
        "{}",
        stdout_of(&out)
    );
}

/// A finished release of a small plan, and its journal's lines.
fn finished_release() -> (Workspace, Vec<String>) {
    let ws = Workspace::new(
        r#"
[plan]
name = "audit"

[[stage]]
id = "build"
run = "echo built"

[[stage]]
id = "ship"
needs = ["build"]
run = "echo shipped"
"#,
    );
    ws.flightdeck(["run", "1.0"]).assert().code(0);
    let out = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "an untouched journal verifies: {}",
        stdout_of(&out)
    );
    let text = std::fs::read_to_string(ws.journal_path("1.0")).unwrap();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    assert!(lines.len() >= 8, "{text}");
    (ws, lines)
}

fn write_journal(ws: &Workspace, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(ws.journal_path("1.0"), text).unwrap();
}

#[test]
fn verify_names_the_line_whose_value_was_altered() {
    let (ws, mut lines) = finished_release();
    let line3: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(line3["kind"], "run_started", "{}", lines[2]);
    lines[2] = lines[2].replacen(r#""stage":"build""#, r#""stage":"ship""#, 1);
    let still: serde_json::Value = serde_json::from_str(&lines[2]).expect("the altered line is valid JSON");
    assert_eq!(still["stage"], "ship");
    write_journal(&ws, &lines);

    let out = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    assert!(
        stdout_of(&out).contains("journal.jsonl:3:"),
        "verify must name line 3: {}",
        stdout_of(&out)
    );
}

#[test]
fn verify_catches_a_deleted_middle_line() {
    let (ws, mut lines) = finished_release();
    lines.remove(3);
    write_journal(&ws, &lines);
    let out = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    assert!(
        stdout_of(&out).contains("journal.jsonl:4:"),
        "verify must name line 4, where a line is missing: {}",
        stdout_of(&out)
    );
}

#[test]
fn verify_catches_an_altered_last_line() {
    let (ws, mut lines) = finished_release();
    let n = lines.len();
    let last = lines.last_mut().unwrap();
    assert!(last.contains(r#""kind":"release_finished""#), "{last}");
    *last = last.replacen(r#""state":"succeeded""#, r#""state":"failed""#, 1);
    write_journal(&ws, &lines);
    let out = ws.flightdeck(["verify", "1.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
    assert!(
        stdout_of(&out).contains(&format!("journal.jsonl:{n}:")),
        "{}",
        stdout_of(&out)
    );
}

/// A driver killed between `run_started` and the spawn leaves no log (simulated: the driver is
/// SIGKILLed and the run's log removed). `logs` says the run never started and exits 1, with or
/// without `--follow` (which must not wait for a log nobody will write), before and after
/// `resume`. An empty log of a finished run is fine: exit 0, "no output" on stderr.
/// On local files always: on a shared store the driver may have streamed the log's first lines
/// up before it was killed, and the mirror rightly brings them back.
#[test]
fn logs_of_a_run_that_never_started_say_so_and_exit_1() {
    let ws = Workspace::new(
        r#"
[plan]
name = "nolog"

[[stage]]
id = "long"
run = "if [ -f first.done ]; then echo again; else touch first.done; sleep 1000 & echo $! > stray.pid; wait; fi"
"#,
    )
    .on_files();
    ws.expect(["run", "1.0", "--detach"], 0);
    let stray = wait_for_pid_file(&ws, "stray.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| e["stage"] == "long");
    let driver = ws.status("1.0")["driver"].as_u64().expect("a live driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGKILL).expect("kill -9 the driver");
    ws.wait_for_state("1.0", "interrupted");
    let log = ws.release_dir("1.0").join("logs/long.1.log");
    std::fs::remove_file(&log).expect("remove the log");

    let check = |args: &[&str]| {
        let started = std::time::Instant::now();
        let out = ws.expect(args.iter().copied(), 1);
        let err = stderr_of(&out);
        assert!(err.contains("never started"), "{args:?}: {err}");
        assert!(
            !err.contains("Backtrace") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert_eq!(stdout_of(&out), "", "{args:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{args:?}");
    };
    check(&["logs", "1.0", "long"]);
    check(&["logs", "1.0", "long", "--follow"]);

    kill(Pid::from_raw(stray), Signal::SIGKILL).expect("kill the stray");
    ws.expect(["resume", "1.0"], 0);
    assert_eq!(ws.status("1.0")["state"], "succeeded");
    check(&["logs", "1.0", "long", "--attempt", "1"]);
    check(&["logs", "1.0", "long", "--attempt", "1", "--follow"]);

    // An empty log of a finished run: nothing to print, and that is no error.
    std::fs::write(ws.release_dir("1.0").join("logs/long.2.log"), "").unwrap();
    for args in [
        &["logs", "1.0", "long"][..],
        &["logs", "1.0", "long", "--follow"][..],
    ] {
        let out = ws.expect(args.iter().copied(), 0);
        assert_eq!(stdout_of(&out), "");
        assert!(stderr_of(&out).contains("no output"), "{}", stderr_of(&out));
    }
}

/// A stuck driver (here: SIGSTOPped) never answers a cancel. The watching `run` asks for one on
/// SIGTERM, waits the grace period plus a few seconds, then exits 130 saying the driver did not
/// answer. The release itself stays the driver's: once it runs again, it cancels.
fn stuck_driver(grace: &str) -> (Workspace, common::Bg, i32, i32) {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "stuck"

[[stage]]
id = "long"
run = "sleep 1000 & echo $! > long.pid; wait"
"#,
    )
    .env("FLIGHTDECK_GRACE", grace);
    let observer = ws.spawn(["run", "1.0"]);
    let child = wait_for_pid_file(&ws, "long.pid");
    ws.wait_for_event("1.0", "run_spawned", |e| e["stage"] == "long");
    let driver = ws.status("1.0")["driver"].as_u64().expect("a live driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGSTOP).expect("stop the driver");
    common::wait_until(common::DEADLINE, "the driver is stopped", || {
        std::fs::read_to_string(format!("/proc/{driver}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                == Some("T")
        })
    });
    (ws, observer, driver, child)
}

/// The stopped driver runs again, handles the cancel and ends its child.
fn release_the_driver(ws: &Workspace, driver: i32, child: i32) {
    kill(Pid::from_raw(driver), Signal::SIGCONT).expect("continue the driver");
    ws.wait_for_state("1.0", "cancelled");
    common::wait_until(common::DEADLINE, "the driver and its child are gone", || {
        process_gone(driver) && process_gone(child)
    });
}

#[test]
fn a_watching_run_whose_driver_does_not_answer_a_cancel_exits_130() {
    let (ws, mut observer, driver, child) = stuck_driver("1s");
    observer.signal(Signal::SIGTERM);
    let asked = std::time::Instant::now();
    assert_eq!(observer.wait(), 130, "{}", observer.output());
    let took = asked.elapsed();
    assert!(
        took < std::time::Duration::from_secs(15),
        "took {took:?}\n{}",
        observer.output()
    );
    assert!(
        took >= std::time::Duration::from_secs(1),
        "did not wait for the grace period ({took:?})"
    );
    let err = observer.stderr();
    assert!(err.contains("did not answer"), "{err}");
    assert!(process_alive(driver), "the release is the driver's: untouched");
    assert!(ws.has_event("1.0", "cancel_requested", |e| e["actor"] == "tester"));
    release_the_driver(&ws, driver, child);
}

#[test]
fn a_second_signal_ends_a_watching_run_at_once() {
    let (ws, mut observer, driver, child) = stuck_driver("60s");
    observer.signal(Signal::SIGTERM);
    common::wait_until(common::DEADLINE, "the observer asked for a cancel", || {
        observer.stderr().contains("cancelling")
    });
    let second = std::time::Instant::now();
    observer.signal(Signal::SIGINT);
    assert_eq!(observer.wait(), 130, "{}", observer.output());
    assert!(
        second.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        second.elapsed()
    );
    assert!(process_alive(driver));
    release_the_driver(&ws, driver, child);
}
