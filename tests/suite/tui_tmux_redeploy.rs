//! Redeploying from the cockpit, end to end under tmux on the real binary: `P` on the
//! environments pane's protected `prod` previews the redeploy of the previous live release, the
//! environment's name is typed, and a release of type `rollback` runs prod's stage for it.

use crate::common;

use common::Workspace;
use common::tmux::{self, Tmux};

const PLAN: &str = r#"
[plan]
name = "cockpit-redeploy"

[environments.prod]
protected = true

[[stage]]
id = "build"
run = "echo {version} >> build.txt"

[[stage]]
id = "deploy"
needs = ["build"]
environment = "prod"
run = "echo {version} >> prod.txt"
"#;

#[test]
fn redeploy_the_previous_release_to_a_protected_environment_from_the_cockpit() {
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    ws.expect(["run", "1.1"], 0);
    let tmux = Tmux::new("redeploy");
    tmux.start(&ws, "cockpit", "", (160, 48));
    tmux.wait_for("Pipeline cockpit-redeploy 1.1");
    // The environments pane, prod's row.
    tmux.keys(&["4", "P"]);
    let preview = tmux.wait_for("Redeploy 1.0 to prod?");
    assert!(preview.contains("runs deploy"), "{preview}");
    // The wrong name does nothing.
    tmux.type_text("staging");
    tmux.keys(&["Enter"]);
    tmux.wait_for("type `prod` exactly");
    tmux.keys(&["C-u"]);
    tmux.type_text("prod");
    tmux.keys(&["Enter"]);
    tmux.wait_for("release 1.0-2 started in a background driver");
    let st = ws.wait_for_state("1.0-2", "succeeded");
    assert_eq!(st["type"], "rollback");
    assert_eq!(st["only"], serde_json::json!(["deploy"]));
    assert_eq!(ws.read("prod.txt").lines().last(), Some("1.0"));
    assert_eq!(ws.read("build.txt").lines().count(), 2, "build did not run again");
    tmux.keys(&["q"]);
    tmux.wait_for("=DONE=");
}
