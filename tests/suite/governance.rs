//! Approval policies on the real binary: whoever started a release cannot approve it (by
//! default), only the gate's approvers count (teams expanded), an approval older than `expires`
//! when the gate is reached counts for nothing, every refusal is journaled, and `reject` ends a
//! release `rejected` with nothing rolled back; `check` reports a policy that can never be met.

use crate::common;

use common::{Workspace, stderr_of, stdout_of};

const PLAN: &str = r#"
[plan]
name = "gov"

[teams]
cab = ["carol", "dan"]

[environments.prod]
protected = false

[[stage]]
id = "build"
run = "sleep 0.2"
rollback = "touch rolled-back-build"

[[stage]]
id = "deploy"
needs = ["build"]
environment = "prod"
gates = ["signoff"]
run = "true"
rollback = "touch rolled-back-deploy"

[gates.signoff]
approvals = 1
approvers = ["@cab", "lead"]
"#;

/// Start a release in the background and wait until it waits at its gate.
fn at_gate(ws: &Workspace, version: &str) {
    ws.expect(["run", version, "--detach"], 0);
    ws.wait_for_state(version, "paused");
}

#[test]
fn the_starter_and_non_approvers_are_refused_and_the_refusals_journaled() {
    let ws = Workspace::new(PLAN);
    at_gate(&ws, "1.0");
    // FLIGHTDECK_USER=tester started it; tester is not an approver either, but is told the
    // first reason that applies.
    let out = ws.expect(["approve", "1.0", "signoff", "--as", "bob"], 1);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("refused: bob is not in approvers: @cab, lead"),
        "{err}"
    );
    let refused = ws.events("1.0", "approval_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["actor"], "bob");
    assert_eq!(refused[0]["asked"], "approve");
    assert_eq!(refused[0]["reason"], "bob is not in approvers: @cab, lead");
    assert!(ws.events("1.0", "approved").is_empty());
    assert_eq!(ws.status("1.0")["state"], "paused");
    // A member of @cab counts; the release goes on.
    let out = ws.expect(["approve", "1.0", "signoff", "--as", "Carol"], 0);
    assert!(stdout_of(&out).contains("(1/1 approvals)"), "{}", stdout_of(&out));
    ws.wait_for_state("1.0", "succeeded");
}

#[test]
fn whoever_started_a_release_cannot_approve_it_unless_the_gate_allows_it() {
    let plan = PLAN.replace("approvers = [\"@cab\", \"lead\"]\n", "");
    let ws = Workspace::new(&plan);
    at_gate(&ws, "1.0");
    let out = ws.expect(["approve", "1.0", "signoff"], 1);
    assert!(
        stderr_of(&out).contains("refused: tester started this release"),
        "{}",
        stderr_of(&out)
    );
    // However the name is spelled.
    let out = ws.expect(["approve", "1.0", "signoff", "--as", " TESTER "], 1);
    assert!(
        stderr_of(&out).contains("started this release"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(ws.events("1.0", "approval_refused").len(), 2);
    ws.expect(["approve", "1.0", "signoff", "--as", "bob"], 0);
    ws.wait_for_state("1.0", "succeeded");

    let plan = plan.replace("approvals = 1\n", "approvals = 1\nallow_self_approval = true\n");
    let ws = Workspace::new(&plan);
    at_gate(&ws, "2.0");
    ws.expect(["approve", "2.0", "signoff"], 0);
    ws.wait_for_state("2.0", "succeeded");
}

#[test]
fn an_approval_older_than_expires_when_the_gate_is_reached_does_not_count() {
    // The gate is reached after build's 3 s; an approval given at its start is older than 1 s
    // by then.
    let plan = PLAN
        .replace("run = \"sleep 0.2\"", "run = \"sleep 3\"")
        .replace("approvals = 1\n", "approvals = 1\nexpires = \"1s\"\n");
    let ws = Workspace::new(&plan);
    ws.expect(["run", "1.0", "--detach"], 0);
    ws.wait_for_event("1.0", "run_started", |e| e["stage"] == "build");
    ws.expect(["approve", "1.0", "signoff", "--as", "dan"], 0);
    let st = ws.wait_for_state("1.0", "paused");
    let text = stdout_of(&ws.expect(["status", "1.0"], 0));
    assert!(text.contains("approvals 0/1 (expired: dan)"), "{text}");
    assert_eq!(st["state"], "paused");
    // The approval stays in the journal; a fresh one from the same person counts.
    assert_eq!(ws.events("1.0", "approved").len(), 1);
    ws.expect(["approve", "1.0", "signoff", "--as", "dan"], 0);
    ws.wait_for_state("1.0", "succeeded");
}

#[test]
fn a_rejection_ends_the_release_rejected_and_rolls_nothing_back() {
    let ws = Workspace::new(PLAN);
    at_gate(&ws, "1.0");
    // Only someone who may approve may reject: refused (and journaled) for the others.
    let out = ws.expect(["reject", "1.0", "signoff", "--reason", "no", "--as", "bob"], 1);
    assert!(
        stderr_of(&out)
            .contains("only someone who may approve gate `signoff` may reject it: bob is not in approvers"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(ws.events("1.0", "approval_refused")[0]["asked"], "reject");
    // A reason is required.
    ws.expect(["reject", "1.0", "signoff", "--reason", " ", "--as", "lead"], 2);
    let out = ws.expect(
        [
            "reject",
            "1.0",
            "signoff",
            "--reason",
            "error budget exhausted",
            "--as",
            "lead",
        ],
        0,
    );
    assert!(stdout_of(&out).contains("accepted"), "{}", stdout_of(&out));
    let st = ws.wait_for_state("1.0", "rejected");
    assert_eq!(st["state"], "rejected");
    let finished = ws.events("1.0", "release_finished");
    assert_eq!(
        finished[0]["reason"],
        "rejected at gate signoff by lead: error budget exhausted"
    );
    // Nothing rolled back, nothing more ran.
    assert!(!ws.exists("rolled-back-build") && !ws.exists("rolled-back-deploy"));
    assert!(ws.events("1.0", "rollback_started").is_empty());
    let text = stdout_of(&ws.expect(["status", "1.0"], 0));
    assert!(
        text.contains("rejected")
            && text.contains("rejected at gate signoff by lead: error budget exhausted"),
        "{text}"
    );
    // The rollback is a separate, explicit decision.
    ws.expect(["rollback", "1.0"], 0);
    ws.wait_for_state("1.0", "rolled_back");
    assert!(ws.exists("rolled-back-build"));
}

#[test]
fn check_reports_a_policy_that_can_never_be_met_at_its_place() {
    let plan = PLAN.replace("approvals = 1\n", "approvals = 4\n").replace(
        "approvers = [\"@cab\", \"lead\"]",
        "approvers = [\"@cab\", \"lead\", \"@sre\"]",
    );
    let ws = Workspace::new(&plan);
    let out = ws.expect(["check"], 2);
    let err = stderr_of(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains(
            "flightdeck.toml:26:30: unknown team `@sre` in approvers of gate `signoff` (teams: cab)"
        )),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.contains("flightdeck.toml:25:13: gate `signoff` needs 4 approvals but only 3 people may approve it (@cab, lead, @sre): it could never open")),
        "{err}"
    );
    let plan = PLAN.replace("approvers = [\"@cab\", \"lead\"]", "approvers = []");
    let out = Workspace::new(&plan).expect(["check"], 2);
    assert!(
        stderr_of(&out).contains("approvers of gate `signoff` is empty, so nobody could approve it"),
        "{}",
        stderr_of(&out)
    );
}
