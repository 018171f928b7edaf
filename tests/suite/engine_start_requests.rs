//! Requests and approvals appended while a new driver takes its start drift snapshot (probes can
//! take a while) are handled once it starts scheduling; none is lost.

use crate::common;

use common::{Workspace, stdout_of};

/// The probe waits until the test creates `go`, so the request lands during the snapshot.
const PLAN: &str = r#"
[plan]
name = "start-requests"

[environments.staging]
probe = "while [ ! -e go ]; do sleep 0.05; done; echo version=1"

[gates.signoff]
approvals = 1

[[stage]]
id = "ship"
environment = "staging"
gate = "signoff"
run = "echo shipped"
"#;

#[test]
fn a_cancel_during_the_start_snapshot_is_handled() {
    let mut ws = Workspace::new(PLAN);
    ws.flightdeck(["run", "1.0", "--detach"]).assert().success();
    let mut cancel = ws.spawn(["cancel", "1.0"]);
    ws.wait_for_event("1.0", "cancel_requested", |_| true);
    assert!(
        ws.events("1.0", "drift_snapshot").is_empty(),
        "the snapshot is still being taken"
    );
    ws.touch("go");
    assert_eq!(cancel.wait(), 0, "{}", cancel.output());
    assert!(cancel.stdout().contains("accepted"), "{}", cancel.output());
    ws.wait_for_state("1.0", "cancelled");
}

#[test]
fn an_approval_during_the_start_snapshot_counts() {
    let ws = Workspace::new(PLAN);
    ws.flightdeck(["run", "1.0", "--detach"]).assert().success();
    let out = ws
        .flightdeck(["approve", "1.0", "signoff", "--as", "approver"])
        .output()
        .expect("approve");
    assert!(out.status.success(), "{}", stdout_of(&out));
    assert!(ws.events("1.0", "drift_snapshot").is_empty());
    ws.touch("go");
    ws.wait_for_state("1.0", "succeeded");
}
