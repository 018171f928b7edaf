//! Freezes in the cockpit, end to end under tmux on the real binary: the board names the next
//! freeze window, then (with nothing running, so no clock ticking, and no key pressed) the one
//! in force once it begins; an ad-hoc freeze added from another terminal shows at once; a stage
//! held by the freeze shows why; and an override shows as a banner while the release goes on.

use crate::common;

use chrono::{SecondsFormat, Utc};
use common::Workspace;
use common::tmux::{self, Tmux};

fn at(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[test]
fn the_board_follows_freezes_and_the_cockpit_shows_an_override() {
    if tmux::missing() {
        return;
    }
    let plan = format!(
        r#"
[plan]
name = "cockpit-freeze"

[environments.prod]

[gates.go]
approvals = 1
allow_self_approval = true

[[freeze]]
environments = ["prod"]
from = "{}"
to = "{}"
reason = "year-end"

[[stage]]
id = "build"
run = "echo built"

[[stage]]
id = "ship"
needs = ["build"]
gate = "go"
environment = "prod"
run = "echo shipped {{version}}"
"#,
        at(6),
        at(3600)
    );
    let ws = Workspace::new(&plan);
    ws.run_to_gate("1.0");
    let tmux = Tmux {
        socket: common::tmux::socket_name("e2e-freeze"),
    };
    tmux.start(&ws, "", "", (160, 40));
    tmux.wait_for("next freeze: prod");
    // The window begins: the cockpit wakes for it by itself.
    tmux.wait_for("prod frozen");
    // An ad-hoc freeze, from another terminal, ending later: it is the one named now.
    ws.expect(
        [
            "freeze",
            "add",
            "--env",
            "prod",
            "--until",
            &at(7200),
            "--reason",
            "incident-42",
        ],
        0,
    );
    tmux.wait_for("(incident-42");
    // Through the gate, the stage on prod waits for the freeze, and says so.
    ws.expect(["approve", "1.0", "go"], 0);
    tmux.wait_for("prod frozen until");
    ws.wait_for_event("1.0", "stage_waiting", |e| e["stage"] == "ship");
    // Someone else overrides it: the banner names them and why, and the release goes on.
    ws.expect(
        ["override-freeze", "1.0", "--reason", "hotfix", "--as", "carol"],
        0,
    );
    tmux.wait_for("freeze overridden by carol: hotfix");
    ws.wait_for_state("1.0", "succeeded");
    tmux.wait_for("succeeded");
}
