//! A cockpit on another machine, end to end: the driver runs on machine a, the cockpit under
//! tmux on machine b (its own data directory, the same PostgreSQL store). b follows the stage's
//! output live and sees the release end, all through the store.

use crate::common;

use common::Workspace;
use common::pg::{PASSWORD, Pg};
use common::tmux::{self, Tmux};

const PLAN: &str = r#"
[plan]
name = "remote"

[[stage]]
id = "work"
run = "for i in 1 2 3; do echo tick $i; done; while [ ! -f go ]; do sleep 0.05; done; echo finished {version}"
"#;

#[test]
fn a_cockpit_on_another_machine_follows_the_release_live() {
    if tmux::missing() {
        return;
    }
    let Some(pg) = Pg::start() else { return };
    let machine = || {
        Workspace::new(PLAN)
            .env("PGPASSWORD", PASSWORD)
            .env("FLIGHTDECK_STORE", &pg.url())
    };
    let (a, b) = (machine(), machine());
    a.expect(["run", "1.0", "--detach"], 0);
    a.wait_for_event("1.0", "run_spawned", |_| true);
    let tmux = Tmux::new("pg-remote");
    let env = format!("PGPASSWORD={PASSWORD} FLIGHTDECK_STORE='{}'", pg.url());
    tmux.start(&b, "cockpit 1.0 --exit-when-done", &env, (120, 30));
    tmux.wait_for("tick 3");
    tmux.wait_for("running");
    // The command on a goes on; b sees its last output and the end.
    std::fs::write(a.file("go"), "").unwrap();
    tmux.wait_for("finished 1.0");
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    b.wait_for_state("1.0", "succeeded");
}

const GATED: &str = r#"
[plan]
name = "remote-gated"

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

/// b approves in its cockpit what a drives; then the store goes away under b's cockpit, which
/// says so (a state, never a crash), and comes back.
#[test]
fn a_cockpit_on_another_machine_approves_and_shows_the_store_going_away() {
    if tmux::missing() {
        return;
    }
    let Some(pg) = Pg::start() else { return };
    let machine = || {
        Workspace::new(GATED)
            .env("PGPASSWORD", PASSWORD)
            .env("FLIGHTDECK_STORE", &pg.url())
    };
    let (a, b) = (machine(), machine());
    a.expect(["run", "1.0", "--detach", "--as", "releaser"], 0);
    a.wait_for_event("1.0", "gate_reached", |_| true);
    let tmux = Tmux::new("pg-approve");
    let env = format!("PGPASSWORD={PASSWORD} FLIGHTDECK_STORE='{}'", pg.url());
    tmux.start(&b, "cockpit 1.0", &env, (140, 32));
    tmux.wait_for("gate go needs a person");
    tmux.keys(&["a"]);
    tmux.wait_for("Approve gate go?");
    tmux.keys(&["y"]);
    // a's driver hears of it and finishes; b's cockpit follows.
    a.wait_for_state("1.0", "succeeded");
    tmux.wait_for("succeeded");
    let approvals = a.events("1.0", "approved");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["actor"], "tester");
    // The store stops: b's cockpit says it shows its own copy, and stays up.
    pg.stop();
    let away = tmux.wait_for("shared store out of reach since");
    assert!(away.contains("succeeded"), "{away}");
    pg.start_again();
    tmux.wait_gone("shared store out of reach");
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
}
