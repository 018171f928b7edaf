//! Incidents from the cockpit, end to end under tmux on the real binary: `I` on the environment's
//! row opens one (the banner shows it), and a rollback from the cockpit (`R`, the protected
//! environment's name typed) links itself to it.

use crate::common;

use common::tmux::{self, Tmux};
use common::{Workspace, wait_until};
use serde_json::Value;

const PLAN: &str = r#"
[plan]
name = "cockpit-incidents"

[environments.prod]
protected = true

[gates.go]
approvals = 1

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

fn incidents(ws: &Workspace) -> Vec<Value> {
    let out = ws.expect(["incident", "list", "--json"], 0);
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn an_incident_opened_from_the_cockpit_and_a_rollback_linked_to_it() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("1.0.0");
    let tmux = Tmux::new("incident");
    tmux.start(&ws, "cockpit --exit-when-done", "", (160, 48));
    tmux.wait_for("verify");
    // Anywhere but the environments pane, `I` says where to press it.
    tmux.keys(&["I"]);
    tmux.wait_for("select an environment in the environments pane first");
    tmux.keys(&["4", "I"]);
    tmux.wait_for("Open an incident on prod");
    tmux.type_text("checkout answers 500");
    tmux.keys(&["Enter"]);
    tmux.wait_for("incident #1 opened on prod");
    tmux.wait_for("⚠ incident #1 on prod: checkout answers 500");
    let all = incidents(&ws);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["env"], "prod");
    assert_eq!(all[0]["opened_by"], "tester");
    assert_eq!(all[0]["summary"], "checkout answers 500");
    assert_eq!(all[0]["state"], "open");

    // Rolling back from the cockpit links the rollback to the incident open on prod.
    tmux.keys(&["R"]);
    tmux.wait_for("prod is a protected environment");
    tmux.type_text("prod");
    tmux.keys(&["Enter"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=1"), "a rolled-back release exits 1: {after}");
    wait_until(common::DEADLINE, "the release is rolled back", || {
        ws.status("1.0.0")["state"] == "rolled_back"
    });
    let request = ws.events("1.0.0", "rollback_requested")[0]["seq"].clone();
    let all = incidents(&ws);
    let links = all[0]["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{all:?}");
    assert_eq!(links[0]["release"], "1.0.0");
    assert_eq!(links[0]["kind"], "rollback");
    assert_eq!(links[0]["request"], request);
    assert_eq!(links[0]["by"], "tester");

    let out = ws.expect(["incident", "resolve", "1", "--note", "rolled back"], 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("after the first rollback (release 1.0.0 by tester)"),
        "{text}"
    );
}
