//! `flightdeck demo` end to end: the embedded plan is valid; without a terminal `demo --dir D`
//! writes the demo, makes its git repository (checked with git2), starts the release and leaves it
//! running to the gate, with a fan-out over six targets in colour, a flaky stage passing on retry
//! and drift at the start; in a terminal (tmux) it opens the cockpit on it, and `q` cancels the
//! release, ends its driver and removes the temp folder.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::tmux::{self, Tmux};
use common::{DEADLINE, Workspace, poll_until, process_gone, stage, stderr_of, stdout_of, wait_until};
use serde_json::Value;

/// The workspace's own plan: never used by `demo`, which writes and uses its own.
const HOST_PLAN: &str = r#"
[plan]
name = "host"

[[stage]]
id = "noop"
run = "true"
"#;

/// `flightdeck --data-dir D/data --plan D/flightdeck.toml ARGS`: commands on the demo in `dir`
/// (a sandbox on local files, whatever store the workspace is on).
fn on_demo(ws: &Workspace, dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = ws.flightdeck(["--data-dir"]);
    cmd.env("FLIGHTDECK_STORE", "")
        .arg(dir.join("data"))
        .arg("--plan")
        .arg(dir.join("flightdeck.toml"))
        .args(args);
    cmd
}

fn demo_status(ws: &Workspace, dir: &Path, id: &str) -> Option<Value> {
    let out = on_demo(ws, dir, &["status", id, "--json"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

#[track_caller]
fn wait_for_demo_state(ws: &Workspace, dir: &Path, id: &str, state: &str) -> Value {
    let mut last = None;
    let ok = poll_until(DEADLINE, || {
        last = demo_status(ws, dir, id);
        last.as_ref().is_some_and(|s| s["state"] == state)
    });
    assert!(ok, "release {id} never became {state}; last status: {last:?}");
    last.expect("status seen")
}

fn journal(dir: &Path, id: &str) -> Vec<Value> {
    let path = dir
        .join("data/plans/storefront-demo")
        .join(id)
        .join("journal.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn the_embedded_demo_plan_passes_check() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("demo");
    flightdeck::demo::write(&dir, 1_700_000_000).expect("write the demo");
    let ws = Workspace::new(HOST_PLAN);
    let out = ws
        .flightdeck(["check", "--plan"])
        .arg(dir.join("flightdeck.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains(
            "plan `storefront-demo` is valid: 7 stage(s), 4 environment(s) (6 target(s)), 1 gate(s)"
        ),
        "{}",
        stdout_of(&out)
    );
}

/// The scripts the release runs only after its gate (and the rollback) work under plain `sh`, and
/// every script parses; the end-to-end test below reaches the gate only.
#[test]
fn the_scripts_after_the_gate_run_under_sh() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("demo");
    flightdeck::demo::write(&dir, 1_700_000_000).expect("write the demo");
    for f in flightdeck::demo::FILES.iter().filter(|f| f.path.ends_with(".sh")) {
        let st = std::process::Command::new("sh")
            .arg("-n")
            .arg(f.path)
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "{} does not parse", f.path);
    }
    std::fs::write(
        dir.join("notes.md"),
        "## Features\n\n- checkout: pay with a saved card\n",
    )
    .unwrap();
    for (script, args, want) in [
        ("./ops/deploy.sh", &["prod", "1.5.0"][..], "prod now runs 1.5.0"),
        ("./ops/deploy.sh", &["prod", "--previous"][..], "rolled back"),
        ("./ops/bake.sh", &["prod"][..], "within budget"),
        (
            "./ops/announce.sh",
            &["1.5.0", "notes.md"][..],
            "pay with a saved card",
        ),
    ] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{script} {}", args.join(" ")))
            .current_dir(&dir)
            .output()
            .unwrap();
        let text = stdout_of(&out);
        assert!(out.status.success(), "{script} {args:?}: {}", stderr_of(&out));
        assert!(text.contains(want), "{script} {args:?}:\n{text}");
        assert!(text.contains("\x1b["), "{script} prints SGR colours");
    }
}

#[test]
fn demo_without_a_terminal_writes_a_repository_and_runs_to_the_gate() {
    let ws = Workspace::new(HOST_PLAN);
    let dir = ws.file("demo");
    let out = ws.flightdeck(["demo", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    for want in [
        dir.display().to_string().as_str(),
        "Release 1.5.0 runs in the background",
        "flightdeck --data-dir data status 1.5.0",
        "flightdeck --data-dir data approve 1.5.0 prod-signoff",
        "flightdeck --data-dir data cancel 1.5.0",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // The files, scripts executable.
    assert_eq!(
        std::fs::read(dir.join("flightdeck.toml")).unwrap(),
        flightdeck::demo::plan_text()
    );
    for f in flightdeck::demo::FILES {
        let meta = std::fs::metadata(dir.join(f.path)).unwrap_or_else(|e| panic!("{}: {e}", f.path));
        assert_eq!(meta.permissions().mode() & 0o111 != 0, f.executable, "{}", f.path);
    }

    // The repository: conventional commits, two annotated release tags, three commits since.
    let repo = git2::Repository::open(&dir).expect("a git repository");
    let tag_commit = |name: &str| {
        let tag = repo
            .find_reference(&format!("refs/tags/{name}"))
            .and_then(|r| r.peel_to_tag())
            .unwrap_or_else(|e| panic!("annotated tag {name}: {e}"));
        tag.target_id()
    };
    let (v13, v14) = (tag_commit("v1.3.0"), tag_commit("v1.4.0"));
    let head = repo.head().unwrap().peel_to_commit().unwrap().id();
    let mut walk = repo.revwalk().unwrap();
    walk.push(head).unwrap();
    let messages: Vec<(git2::Oid, String)> = walk
        .map(|id| {
            let id = id.unwrap();
            (
                id,
                String::from_utf8_lossy(repo.find_commit(id).unwrap().message_bytes()).into_owned(),
            )
        })
        .collect();
    let since = messages
        .iter()
        .position(|(id, _)| *id == v14)
        .expect("v1.4.0 is an ancestor");
    assert_eq!(since, 3, "commits after v1.4.0: {messages:?}");
    assert!(messages.iter().any(|(id, _)| *id == v13));
    assert!(messages.iter().any(|(_, m)| m.starts_with("feat")));
    assert!(messages.iter().any(|(_, m)| m.starts_with("fix")));
    assert!(
        repo.statuses(None)
            .unwrap()
            .iter()
            .all(|s| s.status().is_ignored()),
        "the work tree is clean (data/ and state/ are ignored)"
    );

    // The release reaches the gate.
    let st = wait_for_demo_state(&ws, &dir, "1.5.0", "paused");
    let driver = st["driver"].as_i64().expect("a live driver") as i32;
    assert_eq!(stage(&st, "deploy-prod")["state"], "waiting_on_gate", "{st}");
    let gate = &st["gates"][0];
    assert_eq!(gate["name"], "prod-signoff");
    assert_eq!(gate["approvals_needed"], 1);
    let items = gate["checklist"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["automatic"], true);
    // The automatic check passes (it may still be running when the gate is reached).
    wait_until(DEADLINE, "the gate's automatic check passed", || {
        demo_status(&ws, &dir, "1.5.0").is_some_and(|s| s["gates"][0]["checklist"][0]["done"] == true)
    });
    assert!(
        items[1..]
            .iter()
            .all(|i| i["automatic"] == false && i["done"] == false)
    );

    // Fan-out: six targets, all succeeded, in colour with progress lines.
    let package = stage(&st, "package");
    let targets = package["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 6);
    assert!(targets.iter().all(|t| t["state"] == "succeeded"), "{package}");
    let release = dir.join("data/plans/storefront-demo/1.5.0");
    for t in targets {
        let log = release.join(t["attempts"][0]["log"].as_str().unwrap());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("\x1b[32m"), "no SGR colour in {}", log.display());
        assert!(text.contains("100%"), "no progress in {}", log.display());
    }
    // concurrency = 3: never more than three targets running at once.
    let mut running = 0;
    let mut peak = 0;
    for e in journal(&dir, "1.5.0") {
        if e["stage"] == "package" {
            match e["kind"].as_str() {
                Some("run_started") => running += 1,
                Some("run_finished") => running -= 1,
                _ => {}
            }
            peak = peak.max(running);
        }
    }
    assert_eq!(peak, 3);

    // The flaky stage failed once, then passed.
    let tests = stage(&st, "unit-tests");
    assert_eq!(tests["state"], "succeeded");
    let attempts = tests["targets"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{tests}");
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(attempts[1]["outcome"], "succeeded");

    // Drift at the start: three environments, canary differs on one key, prod a version behind.
    let events = journal(&dir, "1.5.0");
    let snap = events
        .iter()
        .find(|e| e["kind"] == "drift_snapshot" && e["at"] == "start")
        .expect("a drift snapshot at the start");
    assert_eq!(snap["columns"], 3);
    assert!(snap.get("errors").is_none(), "{snap}");
    let snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(release.join("drift-start.json")).unwrap()).unwrap();
    let state_of = |env: &str| {
        snapshot["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["env"] == env)
            .unwrap_or_else(|| panic!("no column {env} in {snapshot}"))["state"]
            .clone()
    };
    assert_eq!(state_of("staging")["app.version"], "1.4.0");
    assert_eq!(state_of("prod")["app.version"], "1.3.0");
    assert_eq!(state_of("canary")["config.cache_ttl_seconds"], "30");
    assert_eq!(state_of("staging")["config.cache_ttl_seconds"], "300");
    // The release notes: the three commits since v1.4.0.
    let commits = events
        .iter()
        .find(|e| e["kind"] == "release_commits")
        .expect("release commits");
    assert_eq!(commits["base_tag"], "v1.4.0");
    assert_eq!(commits["commits"].as_array().unwrap().len(), 3);
    let notes = std::fs::read_to_string(release.join("notes.md")).unwrap();
    assert!(notes.contains("pay with a saved card"), "{notes}");

    // A second demo in the same folder while the first still runs: refused (it would wait on
    // the environments the first one holds).
    let again = ws.flightdeck(["demo", "--dir"]).arg(&dir).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", stdout_of(&again));
    assert!(
        stderr_of(&again).contains("still runs release 1.5.0"),
        "{}",
        stderr_of(&again)
    );

    // Cancel: the driver ends.
    on_demo(&ws, &dir, &["cancel", "1.5.0"]).assert().success();
    wait_for_demo_state(&ws, &dir, "1.5.0", "cancelled");
    wait_until(DEADLINE, "the demo's driver is gone", || process_gone(driver));

    // Once it has ended, the folder is reused for another release.
    let out = ws.flightdeck(["demo", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).contains("reused the demo in"),
        "{}",
        stdout_of(&out)
    );
    assert!(
        stdout_of(&out).contains("Release 1.5.0-2 runs"),
        "{}",
        stdout_of(&out)
    );
    on_demo(&ws, &dir, &["cancel", "1.5.0-2"]).assert().success();
    wait_for_demo_state(&ws, &dir, "1.5.0-2", "cancelled");
    wait_until(DEADLINE, "the second release's driver is gone", || {
        demo_status(&ws, &dir, "1.5.0-2").is_some_and(|s| s["driver"].is_null())
    });
}

#[test]
fn demo_refuses_a_folder_that_is_not_empty() {
    let ws = Workspace::new(HOST_PLAN);
    // The workspace itself holds a plan (and no demo).
    let out = ws.flightdeck(["demo", "--dir"]).arg(ws.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("is not empty"), "{}", stderr_of(&out));
    assert!(!ws.exists(".git"));
}

/// Processes whose command line or working directory mentions `needle` (a path of the test's
/// own): the demo's driver names its folder, the stage commands run in it.
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| *pid != me && !process_gone(*pid))
                .filter(|pid| {
                    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
                    String::from_utf8_lossy(&cmdline).contains(needle)
                        || cwd.display().to_string().contains(needle)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_in_a_terminal_shows_the_fan_out_and_q_cancels_and_cleans_up() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(HOST_PLAN);
    // The demo's temp folder is made under TMPDIR: here, inside the workspace.
    let tmp: PathBuf = ws.file("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmux = Tmux::new("demo");
    let env = format!("TMPDIR='{}' FLIGHTDECK_GRACE=1s", tmp.display());
    tmux.start(&ws, "demo", &env, (200, 50));
    // The pipeline shows the fan-out stage with its targets' progress (`3/6 done, 3 running`).
    let screen = tmux.wait_for("/6 done");
    let row = screen
        .lines()
        .find(|l| l.contains("/6 done"))
        .expect("a row with the fan-out's counts");
    assert!(row.contains("package"), "{row}\n{screen}");
    assert!(screen.contains("storefront-demo"), "{screen}");
    let demo_dir = std::fs::read_dir(&tmp)
        .unwrap()
        .next()
        .expect("the demo's temp folder")
        .unwrap()
        .path();
    assert!(demo_dir.join("flightdeck.toml").is_file());
    let needle = demo_dir.display().to_string();
    assert!(
        !processes_mentioning(&needle).is_empty(),
        "the demo's driver runs (its command line names the folder)"
    );

    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(after.contains("cancelling release 1.5.0"), "{after}");
    assert!(after.contains("removed"), "{after}");
    assert!(!demo_dir.exists(), "the temp folder is removed");
    assert_eq!(
        processes_mentioning(&needle),
        Vec::<i32>::new(),
        "nothing of the demo is left running"
    );
}

/// The demo in the cockpit at `size`: tick the gate's two manual items, approve it (prod is
/// protected: its name is typed), and see the release finish on screen.
fn approve_the_demo_gate_from_the_cockpit(name: &str, size: (u16, u16)) {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(HOST_PLAN);
    let dir = ws.file("demo");
    let tmux = Tmux::new(name);
    tmux.start(&ws, &format!("demo --dir '{}'", dir.display()), "", size);
    tmux.wait_for("gate prod-signoff needs a person");
    assert_eq!(
        wait_for_demo_state(&ws, &dir, "1.5.0", "paused")["state"],
        "paused"
    );
    // The second `t` follows at once: the cockpit ticks the next item, not the one whose tick
    // is still on its way.
    for _ in 0..2 {
        tmux.keys(&["t"]);
        tmux.wait_for("note, optional");
        tmux.keys(&["Enter"]);
        tmux.wait_gone("note, optional");
    }
    tmux.keys(&["a"]);
    tmux.wait_for("prod is a protected environment");
    tmux.type_text("prod");
    tmux.keys(&["Enter"]);
    // The rest runs (deploy, bake, announce) and the cockpit shows the end.
    tmux.wait_for("succeeded  ");
    let st = wait_for_demo_state(&ws, &dir, "1.5.0", "succeeded");
    assert_eq!(st["state"], "succeeded");
    let j = journal(&dir, "1.5.0");
    let by = |kind: &str| -> Vec<String> {
        j.iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["actor"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(by("approved"), ["tester"]);
    assert_eq!(by("ticked"), ["tester", "tester"]);
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(dir.join("flightdeck.toml").is_file(), "a --dir folder is kept");
}

#[test]
fn the_demo_gate_is_approved_from_the_cockpit_at_200x50() {
    approve_the_demo_gate_from_the_cockpit("demo-wide", (200, 50));
}

#[test]
fn the_demo_gate_is_approved_from_the_cockpit_at_80x24() {
    approve_the_demo_gate_from_the_cockpit("demo-narrow", (80, 24));
}

/// The demo started in tmux with its temp folder under the workspace, once the cockpit shows
/// `shown`: (workspace, tmux, the demo's folder).
fn demo_in_tmux(name: &str, shown: &str) -> (Workspace, Tmux, PathBuf) {
    let ws = Workspace::new(HOST_PLAN);
    let tmp: PathBuf = ws.file("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmux = Tmux::new(name);
    let env = format!("TMPDIR='{}' FLIGHTDECK_GRACE=1s", tmp.display());
    tmux.start(&ws, "demo", &env, (200, 50));
    tmux.wait_for(shown);
    let demo_dir = std::fs::read_dir(&tmp)
        .unwrap()
        .next()
        .expect("the demo's temp folder")
        .unwrap()
        .path();
    assert!(
        !processes_mentioning(&demo_dir.display().to_string()).is_empty(),
        "the demo's driver runs"
    );
    (ws, tmux, demo_dir)
}

/// Nothing of the demo is left: no process names or works in its folder, and the folder is gone.
#[track_caller]
fn demo_ended_and_cleaned_up(demo_dir: &Path) {
    let needle = demo_dir.display().to_string();
    let mut left = Vec::new();
    let ended = poll_until(DEADLINE, || {
        left = processes_mentioning(&needle);
        left.is_empty() && !demo_dir.exists()
    });
    let shown: Vec<String> = left
        .iter()
        .map(|p| {
            String::from_utf8_lossy(&std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default())
                .replace('\0', " ")
        })
        .collect();
    // Whatever the outcome, leave nothing behind for the other tests.
    for p in &left {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), nix::sys::signal::Signal::SIGKILL);
    }
    assert!(
        ended,
        "the demo outlived its cockpit: folder exists: {}, processes: {shown:?}",
        demo_dir.exists()
    );
}

/// The release waits at its gate (its driver idles until a person acts).
const GATE_SHOWN: &str = "gate prod-signoff needs a person";

#[test]
fn closing_the_demos_terminal_ends_its_release_and_removes_its_folder() {
    if tmux::missing() {
        return;
    }
    let (_ws, tmux, demo_dir) = demo_in_tmux("demo-hup", GATE_SHOWN);
    // The terminal goes away: every process of the pane gets SIGHUP.
    let _ = tmux.cmd().arg("kill-server").output();
    demo_ended_and_cleaned_up(&demo_dir);
}

#[test]
fn sigterm_or_sigint_to_the_demo_ends_its_release_and_removes_its_folder() {
    if tmux::missing() {
        return;
    }
    for (name, sig) in [
        ("demo-term", nix::sys::signal::Signal::SIGTERM),
        ("demo-int", nix::sys::signal::Signal::SIGINT),
    ] {
        let (_ws, tmux, demo_dir) = demo_in_tmux(name, "/6 done");
        let pid = tmux.cockpit_pid();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).expect("signal the demo");
        let after = tmux.wait_for("=DONE=");
        tmux::assert_restored(&after);
        demo_ended_and_cleaned_up(&demo_dir);
    }
}

#[test]
fn a_demo_whose_folder_was_deleted_still_ends_its_release_on_quit() {
    if tmux::missing() {
        return;
    }
    let (_ws, tmux, demo_dir) = demo_in_tmux("demo-rm", GATE_SHOWN);
    std::fs::remove_dir_all(&demo_dir).expect("delete the demo's folder");
    tmux.keys(&["q"]);
    tmux.wait_for("=DONE=");
    demo_ended_and_cleaned_up(&demo_dir);
}

#[test]
fn a_panic_in_the_demos_cockpit_still_ends_its_release_and_removes_its_folder() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(HOST_PLAN);
    let tmp: PathBuf = ws.file("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let tmux = Tmux::new("demo-panic");
    let env = format!("TMPDIR='{}' FLIGHTDECK_GRACE=1s", tmp.display());
    tmux.start(&ws, "demo --debug-panic task", &env, (200, 50));
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=101"), "{after}");
    tmux::assert_restored(&after);
    // The folder (under `tmp`) is gone, and no process names or works in it.
    let needle = tmp.join("flightdeck-demo-").display().to_string();
    let mut left = Vec::new();
    let ended = poll_until(DEADLINE, || {
        left = processes_mentioning(&needle);
        left.is_empty() && std::fs::read_dir(&tmp).unwrap().next().is_none()
    });
    for p in &left {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), nix::sys::signal::Signal::SIGKILL);
    }
    assert!(ended, "the demo outlived its panic: processes {left:?}\n{after}");
    assert!(after.contains("removed"), "{after}");
}
