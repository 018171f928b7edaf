//! The shared store behind PgBouncer in transaction mode (a real PostgreSQL server and a real
//! PgBouncer in front of it, both started by the test): every transaction may run on another
//! server connection, so LISTEN does not work there and no session state survives a statement.
//! Appends still serialise per journal (their lock is a transaction's), `store status` says that
//! observers poll, and a release driven on one machine is approved from another, its driver
//! hearing of the approval by polling.

use crate::common;

use common::pg::{Bouncer, PASSWORD, Pg};
use common::{Workspace, stdout_of};

const GATED: &str = r#"
[plan]
name = "pooled"

[environments.staging]

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

#[test]
fn behind_pgbouncer_in_transaction_mode_releases_work_and_observers_poll() {
    let Some(pg) = Pg::start() else { return };
    let Some(bouncer) = Bouncer::start(&pg) else {
        return;
    };
    let machine = || {
        Workspace::new(GATED)
            .env("PGPASSWORD", PASSWORD)
            .env("FLIGHTDECK_STORE", &bouncer.url())
    };
    let (mut a, mut b) = (machine(), machine());

    // `store status` finds that a notification never comes back, and says observers poll.
    let status = stdout_of(&a.expect(["store", "status"], 0));
    let live = status
        .lines()
        .find(|l| l.starts_with("live updates"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(
        live.contains("polling") && live.contains("transaction mode"),
        "{status}"
    );

    // Appends from two machines at once serialise per journal: ten incidents, ten numbers.
    let mut bgs: Vec<_> = (0..5)
        .map(|n| a.spawn(["incident", "open", "--env", "staging", &format!("from a {n}")]))
        .collect();
    bgs.extend((0..5).map(|n| b.spawn(["incident", "open", "--env", "staging", &format!("from b {n}")])));
    let mut numbers: Vec<u64> = bgs
        .iter_mut()
        .map(|bg| {
            assert_eq!(bg.wait(), 0, "{}", bg.output());
            let out = bg.stdout();
            let n = out.strip_prefix("incident #").and_then(|r| r.split(' ').next());
            n.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{out}"))
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=10).collect::<Vec<u64>>());
    let text = stdout_of(&b.expect(["verify", "--incidents"], 0));
    assert!(text.contains("intact (10 lines"), "{text}");

    // A release driven on a, approved on b: a's driver cannot be notified, so it polls, and goes
    // on by itself.
    a.expect(["run", "1.0", "--detach", "--as", "releaser"], 0);
    a.wait_for_event("1.0", "gate_reached", |_| true);
    let st = b.status("1.0");
    assert_eq!(st["state"], "paused", "{st}");
    b.expect(["approve", "1.0", "go", "--as", "bob"], 0);
    a.wait_for_state("1.0", "succeeded");
    b.wait_for_state("1.0", "succeeded");
    assert_eq!(a.journal("1.0"), b.journal("1.0"));
    a.expect(["verify", "1.0"], 0);
    b.expect(["verify", "1.0"], 0);
    let log = stdout_of(&b.expect(["logs", "1.0", "deploy"], 0));
    assert!(log.contains("deployed 1.0"), "{log}");
}
