//! The journal is checked wherever it is acted on: a line that does not chain stops the driver,
//! request commands and resume, shows as `attention`, and is never "repaired" away; only a torn
//! write is set aside (kept in `journal.torn`). Secrets are masked in text only, never in the
//! journal's structure, and values too short to mask are refused.

use crate::common;

use common::*;

/// A release that waits for two approvals before `ship`, which leaves a file behind.
/// These tests edit the file store's own files by hand: on local files always (a shared store's
/// database refuses such edits itself, `tests/suite/pg_store.rs`).
fn files_workspace(plan: &str) -> Workspace {
    Workspace::new(plan).on_files()
}

fn files_fixture(name: &str) -> Workspace {
    Workspace::from_fixture(name).on_files()
}

const GATED: &str = r#"
[plan]
name = "forged"

[gates.signoff]
approvals = 2

[[stage]]
id = "build"
run = "echo built"

[[stage]]
id = "ship"
needs = ["build"]
gate = "signoff"
run = "touch @WS@/shipped"
"#;

fn journal_text(ws: &Workspace, id: &str) -> String {
    std::fs::read_to_string(ws.journal_path(id)).unwrap()
}

fn append(ws: &Workspace, id: &str, bytes: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(ws.journal_path(id))
        .unwrap()
        .write_all(bytes.as_bytes())
        .unwrap();
}

/// A hand-made `approved` line that follows the journal's numbering but not its chain (its
/// `prev` is made up); its line number.
fn forge_approval(ws: &Workspace, id: &str, by: &str) -> usize {
    let n = journal_text(ws, id).lines().count();
    let line = serde_json::json!({
        "seq": n + 1,
        "ts": "2026-01-01T00:00:00Z",
        "actor": by,
        "prev": "0".repeat(64),
        "kind": "approved",
        "gate": "signoff",
    });
    append(ws, id, &format!("{line}\n"));
    n + 1
}

fn driver_gone(ws: &Workspace, id: &str) -> bool {
    ws.try_status(id).is_some_and(|s| s["driver"].is_null())
}

#[test]
fn a_forged_approval_is_not_obeyed_and_the_release_needs_attention() {
    let ws = files_workspace(GATED);
    ws.run_to_gate("1.0");
    ws.expect(["approve", "1.0", "signoff", "--as", "alice"], 0);
    let line = forge_approval(&ws, "1.0", "bob");
    let at = format!("journal.jsonl:{line}:");

    wait_until(DEADLINE, "the driver stops", || driver_gone(&ws, "1.0"));
    assert!(!ws.exists("shipped"), "the forged approval was obeyed");
    let text = journal_text(&ws, "1.0");
    assert!(
        !text.contains(r#""stage":"ship","attempt""#),
        "nothing ran after the forged line:\n{text}"
    );
    assert_eq!(
        text.lines().count(),
        line,
        "nothing was appended after the forged line"
    );
    let log = std::fs::read_to_string(ws.release_dir("1.0").join("driver.log")).unwrap();
    assert!(log.contains(&at) && log.contains("hash chain is broken"), "{log}");
    assert!(
        !log.contains("stack backtrace") && !log.contains("Location:"),
        "{log}"
    );

    // Shown as needing attention, with the reason.
    let st = ws.status("1.0");
    assert_eq!(st["state"], "attention", "{st}");
    assert!(st["attention"].as_str().unwrap().contains(&at), "{st}");
    assert!(st["reason"].as_str().unwrap().contains(&at), "{st}");
    let out = ws.expect(["status", "1.0"], 0);
    assert!(stdout_of(&out).contains(" attention,"), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains("needs attention"), "{}", stdout_of(&out));
    assert!(stdout_of(&out).contains(&at), "{}", stdout_of(&out));
    let out = ws.expect(["list"], 0);
    assert!(stdout_of(&out).contains("attention"), "{}", stdout_of(&out));

    // Nothing acts on it: requests and resume refuse with one line naming the line.
    for args in [
        vec!["approve", "1.0", "signoff", "--as", "carol"],
        vec!["cancel", "1.0"],
        vec!["resume", "1.0"],
    ] {
        let out = ws.expect(&args, 1);
        let err = stderr_of(&out);
        assert!(err.contains(&at), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    // The driver itself refuses to start on it (exit 1, one line).
    let dir = ws.release_dir("1.0");
    let out = ws.expect([std::ffi::OsStr::new("drive"), dir.as_os_str()], 1);
    assert!(stderr_of(&out).contains(&at), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("Location:"), "{}", stderr_of(&out));
    assert_eq!(journal_text(&ws, "1.0"), text, "refused requests append nothing");
    assert!(!ws.exists("shipped"));

    let out = ws.expect(["verify", "1.0"], 1);
    assert!(
        stdout_of(&out).contains(&at),
        "verify names the forged line: {}",
        stdout_of(&out)
    );
}

#[test]
fn a_driver_finding_a_broken_chain_mid_run_ends_its_jobs_and_exits_1() {
    let mut ws = files_workspace(
        r#"
[plan]
name = "midrun"

[[stage]]
id = "slow"
run = "echo $$ > @WS@/pid; sleep 60"

[[stage]]
id = "after"
needs = ["slow"]
run = "touch @WS@/after"
"#,
    );
    let mut run = ws.spawn(["run", "1.0"]);
    let pid = wait_for_pid_file(&ws, "pid");
    let n = journal_text(&ws, "1.0").lines().count();
    append(
        &ws,
        "1.0",
        &format!(
            "{}\n",
            serde_json::json!({"seq": n + 1, "ts": "2026-01-01T00:00:00Z", "actor": "x",
                "prev": "f".repeat(64), "kind": "note", "message": "forged"})
        ),
    );
    assert_eq!(run.wait(), 1, "{}", run.output());
    assert!(
        run.stderr().contains(&format!("journal.jsonl:{}:", n + 1)) && run.stderr().contains("attention"),
        "{}",
        run.output()
    );
    wait_until(DEADLINE, "the running job is ended", || process_gone(pid));
    assert!(!ws.exists("after"));
    let text = journal_text(&ws, "1.0");
    assert_eq!(
        text.lines().count(),
        n + 1,
        "nothing journaled after the broken line:\n{text}"
    );
    assert_eq!(ws.status("1.0")["state"], "attention");
}

#[test]
fn a_whole_line_that_breaks_the_chain_is_never_deleted_by_the_next_append() {
    for junk in [None, Some("{\"kind\":\"approved\",\"gate\":\"signoff\"}\n")] {
        let ws = files_workspace(GATED);
        ws.expect(["run", "1.0", "--no-wait"], 3);
        let line = match junk {
            None => forge_approval(&ws, "1.0", "bob"),
            Some(j) => {
                append(&ws, "1.0", j);
                journal_text(&ws, "1.0").lines().count()
            }
        };
        let before = journal_text(&ws, "1.0");
        let at = format!("journal.jsonl:{line}:");
        let out = ws.expect(["verify", "1.0"], 1);
        assert!(stdout_of(&out).contains(&at), "{}", stdout_of(&out));

        let out = ws.expect(["approve", "1.0", "signoff", "--as", "alice"], 1);
        assert!(stderr_of(&out).contains(&at), "{}", stderr_of(&out));
        assert_eq!(
            journal_text(&ws, "1.0"),
            before,
            "the line that breaks the chain was removed"
        );
        assert!(!ws.release_dir("1.0").join("journal.torn").exists());
        let out = ws.expect(["verify", "1.0"], 1);
        assert!(stdout_of(&out).contains(&at), "{}", stdout_of(&out));
        assert_eq!(ws.status("1.0")["state"], "attention");
    }
}

/// A journal line cut short by a crash mid-write: half a JSON object, no newline.
const TORN: &str = r#"{"seq":99,"ts":"2026-01-01T00:00:00Z","actor":"dri"#;

#[test]
fn garbage_without_a_newline_fails_verify_until_set_aside_then_verify_reports_it() {
    let ws = files_fixture("gated.toml");
    ws.expect(["run", "1.0", "--no-wait"], 3);
    let n = journal_text(&ws, "1.0").lines().count();
    append(&ws, "1.0", TORN);

    let out = ws.expect(["verify", "1.0"], 1);
    let said = stdout_of(&out);
    assert!(
        said.contains(&format!("journal.jsonl:{}:", n + 1)) && said.contains("torn"),
        "{said}"
    );
    assert!(!said.contains("intact"), "{said}");

    // The next append sets it aside, never deletes it.
    ws.expect(["approve", "1.0", "signoff", "--as", "alice"], 0);
    let torn = ws.release_dir("1.0").join("journal.torn");
    assert_eq!(std::fs::read_to_string(&torn).unwrap(), format!("{TORN}\n"));
    assert!(!journal_text(&ws, "1.0").contains(TORN));
    let out = ws.expect(["verify", "1.0"], 0);
    let said = stdout_of(&out);
    assert!(said.contains("intact"), "{said}");
    assert!(
        said.contains("journal.torn") && said.contains(&format!("{} byte(s)", TORN.len() + 1)),
        "verify reports what was set aside: {said}"
    );
}

const SECRET_PLAN: &str = r#"
[plan]
name = "secret"
secrets = ["TOK"]

[gates.signoff]
approvals = 1

[[stage]]
id = "build"
run = "echo built"

[[stage]]
id = "ship"
needs = ["build"]
gate = "signoff"
run = "echo shipped"
"#;

#[test]
fn secrets_too_short_to_mask_are_refused_by_check_and_run() {
    for value in ["", "o", "abc"] {
        let ws = files_workspace(SECRET_PLAN).env("TOK", value);
        for args in [vec!["check"], vec!["run", "1.0"], vec!["run", "1.0", "--detach"]] {
            let out = ws.expect(&args, 2);
            let err = stderr_of(&out);
            assert!(
                err.contains("flightdeck.toml:4:12: secret `TOK`") && err.contains("at least 4 bytes"),
                "{value:?} {args:?}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        assert!(!ws.journal_path("1.0").exists(), "no release was started");
    }
    // Unset: nothing to mask, fine.
    let ws = files_workspace(SECRET_PLAN);
    ws.expect(["check"], 0);
    // A release started without it is not resumed, nor driven, with a short one.
    ws.expect(["run", "1.0", "--no-wait"], 3);
    let dir = ws.release_dir("1.0");
    for args in [
        vec!["resume".into(), "1.0".into()],
        vec!["drive".into(), dir.clone().into_os_string()],
    ] {
        let out = ws.flightdeck(&args).env("TOK", "ab").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("secret `TOK` is only 2 byte(s) long"),
            "{}",
            stderr_of(&out)
        );
    }
    assert!(
        ws.try_status("1.0")
            .is_some_and(|s| s["driver"].is_null() && s["state"] == "paused")
    );
}

#[test]
fn secrets_spelling_journal_words_leave_the_journal_whole() {
    for secret in ["actor", "release_created", "signoff", "2026", "approved"] {
        let ws = files_workspace(SECRET_PLAN).env("TOK", secret);
        ws.expect(["run", "1.0", "--no-wait"], 3);
        ws.expect(
            [
                "approve",
                "1.0",
                "signoff",
                "--as",
                "alice",
                "--note",
                &format!("ok {secret} ok"),
            ],
            0,
        );
        ws.expect(["resume", "1.0"], 0);
        let journal = ws.journal("1.0");
        assert_eq!(journal[0]["kind"], "release_created", "{secret}");
        assert_eq!(journal[0]["actor"], "tester", "{secret}");
        let approved = ws.events("1.0", "approved");
        assert_eq!(approved[0]["note"], "ok *** ok", "{secret}");
        assert_eq!(approved[0]["gate"], "signoff", "{secret}");
        assert_eq!(ws.status("1.0")["state"], "succeeded", "{secret}");
        let out = ws.expect(["verify", "1.0"], 0);
        assert!(
            stdout_of(&out).contains("intact"),
            "{secret}: {}",
            stdout_of(&out)
        );
    }
}
