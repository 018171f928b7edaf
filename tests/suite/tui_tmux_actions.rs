//! Acting from the cockpit, end to end under tmux on the real binary: ticking and approving a gate
//! until the release finishes, a rollback with its preview and the protected environment's name
//! typed, and starting a release from the start screen.

use crate::common;

use common::tmux::{self, Tmux, assert_restored};
use common::{Workspace, wait_until};

const GATED: &str = r#"
[plan]
name = "cockpit-actions"

[environments.prod]
protected = true

[gates.go]
approvals = 1
checklist = [{ item = "Notes read" }, { item = "Disk ok", check = "true" }]

[[stage]]
id = "deploy"
environment = "prod"
run = "echo deployed {version}"
rollback = "echo rolled back > rolled-back.txt"

[[stage]]
id = "verify"
needs = ["deploy"]
gate = "go"
run = "echo verified"
"#;

#[test]
fn tick_and_approve_from_the_cockpit_until_the_release_finishes() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(GATED);
    ws.run_to_gate("1.0.0");
    let tmux = Tmux::new("approve");
    tmux.start(&ws, "cockpit --exit-when-done", "", (160, 48));
    tmux.wait_for("needs a tick");
    tmux.keys(&["t"]);
    tmux.wait_for("note, optional");
    tmux.type_text("read them twice");
    tmux.keys(&["Enter"]);
    tmux.wait_for("ticked by tester");
    // Approving asks first; the approval goes through the journal as the cockpit's user.
    tmux.keys(&["a"]);
    tmux.wait_for("Approve gate go?");
    tmux.keys(&["y"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert_restored(&after);
    let st = ws.status("1.0.0");
    assert_eq!(st["state"], "succeeded", "{st}");
    let approvals = ws.events("1.0.0", "approved");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["actor"], "tester");
    let ticks = ws.events("1.0.0", "ticked");
    assert_eq!(ticks[0]["note"], "read them twice");
}

#[test]
fn rollback_needs_the_protected_environments_name_typed() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(GATED);
    ws.run_to_gate("2.0.0");
    let tmux = Tmux::new("rollback");
    tmux.start(&ws, "cockpit --exit-when-done", "", (100, 30));
    tmux.wait_for("verify");
    tmux.keys(&["R"]);
    let preview = tmux.wait_for("prod is a protected environment");
    assert!(preview.contains("1. deploy (attempt 1)  [prod]"), "{preview}");
    // The wrong name does nothing.
    tmux.type_text("staging");
    tmux.keys(&["Enter"]);
    tmux.wait_for("type `prod` exactly");
    assert!(ws.events("2.0.0", "rollback_requested").is_empty());
    tmux.keys(&["C-u"]);
    tmux.type_text("prod");
    tmux.keys(&["Enter"]);
    let after = tmux.wait_for("=DONE=");
    assert!(
        after.contains("EXIT=1"),
        "a rolled-back release exits 1 like `run`: {after}"
    );
    wait_until(common::DEADLINE, "the release is rolled back", || {
        ws.status("2.0.0")["state"] == "rolled_back"
    });
    assert_eq!(ws.read("rolled-back.txt").trim(), "rolled back");
    assert_eq!(ws.events("2.0.0", "rollback_requested")[0]["actor"], "tester");
}

#[test]
fn a_release_starts_from_the_start_screen() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(GATED);
    let tmux = Tmux::new("start");
    tmux.start(&ws, "", "", (160, 48));
    tmux.wait_for("No release is open. Press n to start one.");
    tmux.keys(&["n"]);
    // Not a git repository: no suggestion, the version is typed.
    tmux.wait_for("no suggestion");
    tmux.type_text("3.1.0");
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("release 3.1.0 started in a background driver");
    tmux.wait_for("Pipeline cockpit-actions 3.1.0");
    ws.wait_for_event("3.1.0", "gate_reached", |_| true);
    assert_eq!(ws.status("3.1.0")["type"], "patch");
    // The driver it started is its child, and is reaped when it ends (a cockpit left open for
    // days would otherwise collect a zombie per release it started).
    let cockpit = tmux.cockpit_pid();
    let driver = ws.status("3.1.0")["driver"].as_u64().expect("a driver") as i32;
    assert_eq!(parent_of(driver), Some(cockpit));
    ws.flightdeck(["cancel", "3.1.0"]).assert().success();
    wait_until(common::DEADLINE, "the driver is gone, not a zombie", || {
        !std::path::Path::new(&format!("/proc/{driver}")).exists() || parent_of(driver) != Some(cockpit)
    });
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT="), "{after}");
}

/// The parent of process `pid`, if it lives (or lingers as a zombie).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_driver_dying_at_a_gate_is_noticed_and_the_release_resumed() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(GATED);
    ws.run_to_gate("4.0.0");
    let pid = ws.status("4.0.0")["driver"].as_u64().expect("a driver pid") as i32;
    let tmux = Tmux::new("resume");
    tmux.start(&ws, "cockpit --exit-when-done", "", (160, 48));
    tmux.wait_for(&format!("driver pid {pid}"));
    // Killed outright: no journal record says so, only its lock file closing.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    tmux.wait_for("Resume this release?");
    tmux.keys(&["y"]);
    tmux.wait_gone("Resume this release?");
    wait_until(common::DEADLINE, "a new driver", || {
        ws.status("4.0.0")["driver"]
            .as_u64()
            .is_some_and(|p| p as i32 != pid)
    });
    // The resumed release goes on: approving finishes it.
    ws.flightdeck(["tick", "4.0.0", "go", "1"]).assert().success();
    ws.flightdeck(["approve", "4.0.0", "go", "--as", "approver"])
        .assert()
        .success();
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
}

#[test]
fn a_cockpit_killed_outright_loses_nothing() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(GATED);
    let tmux = Tmux::new("sigkill");
    // Started from the cockpit, so the cockpit is the only terminal that ever saw it.
    tmux.start(&ws, "cockpit --start 5.0.0", "", (160, 48));
    tmux.wait_for("Pipeline cockpit-actions 5.0.0");
    ws.wait_for_event("5.0.0", "gate_reached", |_| true);
    let cockpit = tmux.cockpit_pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cockpit),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tmux.wait_for("=DONE=");
    // The release waits at its gate in its own driver; approving from elsewhere finishes it.
    let st = ws.status("5.0.0");
    assert_eq!(st["state"], "paused", "{st}");
    assert!(st["driver"].as_u64().is_some(), "its driver is alive: {st}");
    ws.flightdeck(["tick", "5.0.0", "go", "1"]).assert().success();
    ws.flightdeck(["approve", "5.0.0", "go", "--as", "approver"])
        .assert()
        .success();
    ws.wait_for_state("5.0.0", "succeeded");
}

#[test]
fn a_finished_release_is_rolled_back_from_the_cockpit_with_the_protected_name_typed() {
    if tmux::missing() {
        return;
    }
    // The on-call case: the release succeeded a while ago, and prod is failing.
    let ws = Workspace::new(
        r#"
[plan]
name = "oncall"

[environments.prod]
protected = true

[[stage]]
id = "deploy"
environment = "prod"
run = "echo deployed {version}"
rollback = "echo rolled back {version} >> rollbacks.txt"
"#,
    );
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    let tmux = Tmux::new("oncall");
    tmux.start(&ws, "cockpit 1.1", "", (160, 48));
    // The environments pane and the board say what is live where.
    tmux.wait_for("live 1.1");
    tmux.wait_for("▲ prod");
    tmux.keys(&["R"]);
    let preview = tmux.wait_for("prod is a protected environment");
    assert!(preview.contains("deploy"), "{preview}");
    tmux.type_text("prod");
    tmux.keys(&["Enter"]);
    wait_until(common::DEADLINE, "the finished release is rolled back", || {
        ws.status("1.1")["state"] == "rolled_back"
    });
    assert_eq!(ws.read("rollbacks.txt"), "rolled back 1.1\n");
    assert_eq!(ws.events("1.1", "rollback_requested")[0]["actor"], "tester");
    // The cockpit follows: 1.0 is live on prod again.
    tmux.wait_for("live 1.0");
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert_restored(&after);
    let envs: serde_json::Value = serde_json::from_slice(&ws.expect(["envs", "--json"], 0).stdout).unwrap();
    assert_eq!(envs[0]["live"]["version"], "1.0", "{envs}");
}
