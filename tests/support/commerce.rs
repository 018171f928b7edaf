//! The commerce workspace of the workspace board's end-to-end tests (`tests/suite/ws_board.rs`,
//! `tests/suite/tui_tmux_ws.rs`): three small plans and releases run by the real binary.
#![allow(dead_code)]

use serde_json::Value;

use crate::common::{DEADLINE, Workspace, poll_until, stdout_of};

/// billing (at the workspace's root): staging, then prod over two targets; a release with a
/// `hold-VERSION` file in `.io` holds its prod deploy until the file goes. Both environments are
/// probed (from files in `.io`) for drift.
pub const BILLING: &str = r#"
[plan]
name = "billing"

[environments.staging]
probe = "cat @WS@/.io/probe-staging"

[environments.prod]
targets = ["eu", "us"]
probe = "cat @WS@/.io/probe-{target}"

[[stage]]
id = "build"
run = "echo build {version}"

[[stage]]
id = "deploy-staging"
needs = ["build"]
environment = "staging"
run = "echo deploy {version} to {env}"

[[stage]]
id = "deploy-prod"
needs = ["deploy-staging"]
environment = "prod"
run = "while [ -e @WS@/.io/hold-{version} ]; do sleep 0.05; done; echo deploy {version} to {target}"
"#;

/// storefront: its prod deploy waits at a gate.
pub const STOREFRONT: &str = r#"
[plan]
name = "storefront"

[environments.staging]

[environments.prod]

[gates.signoff]
approvals = 1

[[stage]]
id = "build"
run = "echo build"

[[stage]]
id = "deploy-staging"
needs = ["build"]
environment = "staging"
run = "echo deploy staging"

[[stage]]
id = "deploy-prod"
needs = ["deploy-staging"]
environment = "prod"
gate = "signoff"
run = "echo deploy prod"
"#;

/// search: staging only; 0.2.0 fails there.
pub const SEARCH: &str = r#"
[plan]
name = "search"

[environments.staging]

[[stage]]
id = "build"
run = "echo build"

[[stage]]
id = "deploy-staging"
needs = ["build"]
environment = "staging"
run = "test {version} != 0.2.0"
"#;

pub const WORKSPACE: &str = r#"
[workspace]
name = "commerce"
plans = ["flightdeck.toml", "storefront/flightdeck.toml", "search/flightdeck.toml"]
"#;

/// Write `text` (with `@WS@` standing for the workspace's path) to `rel` in the workspace.
pub fn write(ws: &Workspace, rel: &str, text: &str) {
    let path = ws.file(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text.replace("@WS@", &ws.path().display().to_string())).unwrap();
}

/// `flightdeck --plan PLAN ARGS` in the workspace, which must exit with `code`.
#[track_caller]
pub fn on(ws: &Workspace, plan: &str, args: &[&str], code: i32) -> std::process::Output {
    let mut all = vec!["--plan", plan];
    all.extend_from_slice(args);
    ws.expect(all, code)
}

/// Wait until release `id` of the plan at `plan` is in `state`.
#[track_caller]
pub fn wait_state(ws: &Workspace, plan: &str, id: &str, state: &str) {
    let mut last = String::new();
    let ok = poll_until(DEADLINE, || {
        let out = ws
            .flightdeck(["--plan", plan, "status", id, "--json"])
            .output()
            .unwrap();
        last = stdout_of(&out);
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|v| v["state"] == state)
    });
    assert!(ok, "{plan} {id} never became {state}: {last}");
}

/// The commerce workspace: billing 1.0.0 succeeded and 1.1.0 deploying to prod (held there);
/// storefront 2.0.0 succeeded and 2.1.0 paused at its gate; search 0.1.0 succeeded and 0.2.0
/// failed; a drift run saved for billing in which prod/us differs from staging by one key.
pub fn commerce() -> Workspace {
    let ws = Workspace::new(BILLING);
    write(&ws, "storefront/flightdeck.toml", STOREFRONT);
    write(&ws, "search/flightdeck.toml", SEARCH);
    write(&ws, "flightdeck-workspace.toml", WORKSPACE);
    write(&ws, ".io/probe-staging", "flag=a\n");
    write(&ws, ".io/probe-eu", "flag=a\n");
    write(&ws, ".io/probe-us", "flag=b\n");
    let sf = "storefront/flightdeck.toml";
    let se = "search/flightdeck.toml";
    ws.expect(["run", "1.0.0"], 0);
    on(&ws, se, &["run", "0.1.0"], 0);
    on(&ws, se, &["run", "0.2.0"], 1);
    on(&ws, sf, &["run", "2.0.0", "--detach", "--as", "releaser"], 0);
    wait_state(&ws, sf, "2.0.0", "paused");
    on(&ws, sf, &["approve", "2.0.0", "signoff"], 0);
    wait_state(&ws, sf, "2.0.0", "succeeded");
    on(&ws, sf, &["run", "2.1.0", "--detach", "--as", "releaser"], 0);
    wait_state(&ws, sf, "2.1.0", "paused");
    // What runs on billing's environments, probed: prod/us differs from staging (the baseline).
    ws.expect(["drift"], 1);
    ws.touch(".io/hold-1.1.0");
    ws.expect(["run", "1.1.0", "--detach"], 0);
    ws.wait_for_event("1.1.0", "run_started", |e| e["stage"] == "deploy-prod");
    ws
}
