//! The workspace board end to end (test layer 5): the real binary under tmux at 200x50 and
//! 80x24, on the commerce workspace (`support/commerce.rs`: three plans, real releases). A bare
//! `flightdeck` there opens the board; the filters narrow it; Enter opens a release in the
//! release view and Esc comes back; a change made from another terminal shows; `q` quits and
//! the terminal is restored.

use crate::commerce;
use crate::common;

use common::tmux::{Tmux, assert_restored};

/// Send one key (tmux's name for it). Esc goes alone: followed at once by another key, a
/// terminal reads the two as Alt and that key.
fn key(tmux: &Tmux, k: &str) {
    tmux.keys(&[k]);
}

#[test]
fn the_board_at_200x50_filters_opens_a_release_and_comes_back() {
    if common::tmux::missing() {
        return;
    }
    let ws = commerce::commerce();
    let tmux = Tmux::new("ws-wide");
    // No subcommand, in the workspace's folder: the board.
    tmux.start(&ws, "", "", (200, 50));
    for want in [
        "commerce",
        "3 plans",
        "Releases (6)",
        "Environments: services × environments",
        "Trains (0)",
        "gate signoff: 0/1 approvals",
        "running deploy-prod",
        "failed: ",
        "1.0.0 ≠1 →",
        "Enter open",
    ] {
        tmux.wait_for(want);
    }
    let screen = tmux.capture();
    // Plans side by side in the workspace's order, newest release first.
    let at = |s: &str| screen.find(s).unwrap_or_else(|| panic!("no {s:?}:\n{screen}"));
    assert!(at("1.1.0") < at("1.0.0") && at("1.0.0") < at("2.1.0"), "{screen}");
    assert!(at("2.1.0") < at("2.0.0") && at("2.0.0") < at("0.2.0"), "{screen}");

    // By state: S cycles running, paused, failed; Esc clears.
    key(&tmux, "S");
    tmux.wait_for("filter: running");
    let s = tmux.wait_for("Releases (1 of 6, filtered)");
    assert!(s.contains("1.1.0") && !s.contains("0.2.0"), "{s}");
    key(&tmux, "S");
    tmux.wait_for("filter: paused");
    key(&tmux, "Escape");
    tmux.wait_for("Releases (6)");
    // Typed: a state word.
    key(&tmux, "f");
    tmux.wait_for("Filter: running, paused, failed");
    tmux.type_text("failed");
    key(&tmux, "Enter");
    let s = tmux.wait_for("Releases (1 of 6, filtered)");
    assert!(s.contains("0.2.0") && s.contains("filter: failed"), "{s}");
    key(&tmux, "Escape");
    tmux.wait_for("Releases (6)");
    // By environment: E takes the workspace's environments in turn.
    key(&tmux, "E");
    tmux.wait_for("filter: env:staging");
    key(&tmux, "E");
    let s = tmux.wait_for("filter: env:prod");
    assert!(!s.contains("0.2.0"), "search never reached prod:\n{s}");
    key(&tmux, "Escape");
    tmux.wait_for("Releases (6)");

    // By name, then Enter: the release view of the first row, the board behind it.
    key(&tmux, "f");
    tmux.wait_for("Filter: running, paused, failed");
    tmux.type_text("storefront");
    key(&tmux, "Enter");
    tmux.wait_for("Releases (2 of 6, filtered)");
    key(&tmux, "Enter");
    let s = tmux.wait_for("Pipeline storefront 2.1.0");
    assert!(s.contains("signoff") && s.contains("Esc board"), "{s}");
    key(&tmux, "Escape");
    let s = tmux.wait_for("Releases (2 of 6, filtered)");
    assert!(s.contains("filter: storefront"), "the filter is kept:\n{s}");

    // Another terminal approves the gate: the board shows the release finishing.
    commerce::on(
        &ws,
        "storefront/flightdeck.toml",
        &["approve", "2.1.0", "signoff"],
        0,
    );
    tmux.wait_for("live on staging, prod");
    let s = tmux.capture();
    assert!(!s.contains("gate signoff: 0/1"), "{s}");

    key(&tmux, "q");
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(
        !after.contains("goes on in its driver"),
        "quit from the board:\n{after}"
    );
    assert_restored(&after);
}

#[test]
fn the_board_at_80x24_one_pane_at_a_time() {
    if common::tmux::missing() {
        return;
    }
    let ws = commerce::commerce();
    let tmux = Tmux::new("ws-narrow");
    tmux.start(&ws, "", "", (80, 24));
    for want in [
        "1 Releases",
        "2 Matrix",
        "3 Trains",
        "Releases (6)",
        "billing",
        "search",
    ] {
        tmux.wait_for(want);
    }
    key(&tmux, "2");
    let s = tmux.wait_for("SERVICE");
    assert!(s.contains("staging") && s.contains("prod"), "{s}");
    assert!(
        s.contains("billing on staging:"),
        "the selected cell in words:\n{s}"
    );
    key(&tmux, "3");
    tmux.wait_for("no trains");
    key(&tmux, "1");
    tmux.wait_for("Releases (6)");
    // The failed release, opened and left.
    key(&tmux, "f");
    tmux.wait_for("Filter:");
    tmux.type_text("0.2");
    key(&tmux, "Enter");
    tmux.wait_for("Releases (1 of 6, filtered)");
    key(&tmux, "Enter");
    let s = tmux.wait_for("Pipeline search 0.2.0");
    assert!(s.contains("deploy-staging"), "{s}");
    key(&tmux, "Escape");
    tmux.wait_for("Releases (1 of 6, filtered)");
    // `cockpit RELEASE` in a workspace: the release, with the board behind it.
    key(&tmux, "q");
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert_restored(&after);
    let tmux = Tmux::new("ws-narrow-release");
    tmux.start(&ws, "cockpit 1.1.0", "", (80, 24));
    tmux.wait_for("Pipeline billing 1.1.0");
    key(&tmux, "Escape");
    tmux.wait_for("Releases (6)");
    key(&tmux, "q");
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
}

/// Drift runs saved while the board is open show on it, the plan's first ones too (their folder
/// did not exist when the board started watching).
#[test]
fn drift_runs_saved_while_the_board_is_open_show_on_it_the_first_ones_too() {
    if common::tmux::missing() {
        return;
    }
    let ws = common::Workspace::new(commerce::BILLING);
    commerce::write(
        &ws,
        "flightdeck-workspace.toml",
        "[workspace]\nname = \"solo\"\nplans = [\"flightdeck.toml\"]\n",
    );
    commerce::write(&ws, ".io/probe-staging", "flag=a\n");
    commerce::write(&ws, ".io/probe-eu", "flag=a\n");
    // In sync when the release ran (its own snapshots say so).
    commerce::write(&ws, ".io/probe-us", "flag=a\n");
    ws.expect(["run", "1.0.0"], 0);
    assert!(
        !ws.data_dir().join("plans/billing/drift").exists(),
        "no drift run saved yet"
    );
    let tmux = Tmux::new("ws-drift");
    tmux.start(&ws, "", "", (200, 50));
    let s = tmux.wait_for("Releases (1)");
    assert!(!s.contains('≠'), "no drift known yet:\n{s}");
    // prod/us changes by hand; `drift` finds it and saves the plan's first drift run.
    commerce::write(&ws, ".io/probe-us", "flag=b\n");
    ws.expect(["drift"], 1);
    tmux.wait_for("≠1");
    // And the next run, saved in the folder the first one made: back in sync.
    commerce::write(&ws, ".io/probe-us", "flag=a\n");
    ws.expect(["drift"], 0);
    tmux.wait_gone("≠1");
    key(&tmux, "q");
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
}
