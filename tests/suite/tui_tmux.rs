//! The cockpit end to end (test layer 5): the real binary under tmux on a real release in a temp
//! dir. It shows the stages, shows an approval given from another terminal, quits by itself with
//! `--exit-when-done` when the release finishes, and leaves the terminal in its normal mode.

use crate::common;

use std::time::Duration;

use common::tmux::{Tmux, assert_restored};
use common::{Workspace, wait_until};

const PLAN: &str = r#"
[plan]
name = "cockpit-e2e"

[gates.signoff]
approvals = 2
checklist = []

[[stage]]
id = "compile"
run = '''printf '\033]0;pwned\007\033[2J\033[32mcompiled\033[0m ok\n' '''

[[stage]]
id = "ship"
needs = ["compile"]
gate = "signoff"
run = "echo shipped {version}"
"#;

#[test]
fn cockpit_shows_a_release_live_and_restores_the_terminal() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("1.0.0");

    let tmux = Tmux {
        socket: common::tmux::socket_name("e2e"),
    };
    tmux.start(&ws, "cockpit --exit-when-done", "", (120, 30));
    let title_before = tmux.pane_title();
    // Each part may arrive in a later frame than the others: wait for each.
    for want in ["ship", "compile", "Pipeline", "signoff", "paused", "compiled ok"] {
        tmux.wait_for(want);
    }
    // The child's title escape never reached the terminal.
    assert_eq!(tmux.pane_title(), title_before);
    assert!(!tmux.pane_title().contains("pwned"));
    // Another terminal approves; the cockpit shows it; a second approval finishes the release
    // and the cockpit quits with run's exit code.
    ws.flightdeck(["approve", "1.0.0", "signoff"]).assert().success();
    tmux.wait_for("approved by tester");
    ws.flightdeck(["approve", "1.0.0", "signoff", "--as", "bob"])
        .assert()
        .success();
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert_restored(&after);
    assert!(
        !after.contains("Pipeline"),
        "still on the alternate screen:\n{after}"
    );
    wait_until(Duration::from_secs(5), "the release succeeded", || {
        ws.status("1.0.0")["state"] == "succeeded"
    });
}

#[test]
fn q_quits_and_the_release_goes_on() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("2.0.0");
    let tmux = Tmux {
        socket: common::tmux::socket_name("e2e-q"),
    };
    // No subcommand: the cockpit on the newest release.
    tmux.start(&ws, "", "", (80, 24));
    let screen = tmux.wait_for("compile");
    assert!(screen.contains("1 Board"), "narrow layout has tabs:\n{screen}");
    tmux.cmd()
        .args(["send-keys", "-t", "cockpit", "q"])
        .status()
        .unwrap();
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(after.contains("goes on in its driver"), "{after}");
    assert_eq!(ws.status("2.0.0")["state"], "paused");
}

// `--debug-panic` exists only in debug builds: a release build lists this test as ignored, with
// the reason, rather than passing it without running it.
#[test]
#[cfg_attr(not(debug_assertions), ignore = "--debug-panic exists only in debug builds")]
fn a_panic_anywhere_restores_the_terminal_then_reports() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("3.0.0");
    // The loop itself, a tokio task, a blocking job (like the source's requests), a thread: each
    // is fatal, after the terminal is back (mouse capture off too) and with the report.
    for (at, what) in [
        ("loop", "in the loop"),
        ("task", "in a tokio task"),
        ("blocking", "in a blocking job"),
        ("thread", "in a thread"),
    ] {
        let tmux = Tmux {
            socket: common::tmux::socket_name(&format!("e2e-panic-{at}")),
        };
        tmux.start(
            &ws,
            &format!("cockpit --debug-panic {at}"),
            "RUST_BACKTRACE=0",
            (100, 30),
        );
        let after = tmux.wait_for("=DONE=");
        assert!(after.contains("EXIT=101"), "{at}: {after}");
        assert!(
            after.contains(&format!("forced panic (--debug-panic) {what}")),
            "{at}: the report is printed:\n{after}"
        );
        assert_restored(&after);
        assert_eq!(tmux.mouse_flags(), "0 0", "{at}: mouse capture left on");
    }
}

#[test]
fn sigterm_sighup_and_sigint_restore_the_terminal() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("4.0.0");
    use nix::sys::signal::Signal;
    for sig in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT] {
        let tmux = Tmux {
            socket: common::tmux::socket_name(&format!("e2e-{}", sig.as_str())),
        };
        tmux.start(&ws, "cockpit 4.0.0", "", (100, 30));
        tmux.wait_for("ship");
        let pid = tmux.cockpit_pid();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).unwrap();
        let after = tmux.wait_for("=DONE=");
        assert!(after.contains("EXIT=0"), "{sig}: {after}");
        assert_restored(&after);
        assert_eq!(tmux.mouse_flags(), "0 0", "{sig}: mouse capture left on");
    }
    assert_eq!(
        ws.status("4.0.0")["state"],
        "paused",
        "the release is not touched"
    );
}

#[test]
fn ctrl_z_suspends_and_fg_redraws() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(PLAN);
    ws.run_to_gate("5.0.0");
    let tmux = Tmux {
        socket: common::tmux::socket_name("e2e-tstp"),
    };
    // An interactive shell with job control, as a person has.
    let data = format!("FLIGHTDECK_DATA_DIR={}", ws.data_dir().display());
    let dir = ws.path().display().to_string();
    let status = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "cockpit",
            "-x",
            "100",
            "-y",
            "30",
            "-c",
            &dir,
            "-e",
            &data,
        ])
        .args(["bash", "--norc", "--noprofile", "-i"])
        .status()
        .expect("tmux new-session");
    assert!(status.success());
    let keys = |k: &[&str]| {
        tmux.cmd()
            .args(["send-keys", "-t", "cockpit"])
            .args(k)
            .status()
            .unwrap();
    };
    let exe = env!("CARGO_BIN_EXE_flightdeck");
    keys(&[&format!("'{exe}' cockpit 5.0.0"), "Enter"]);
    tmux.wait_for("Pipeline");
    keys(&["C-z"]);
    let stopped = tmux.wait_for("Stopped");
    assert!(
        !stopped.contains("Pipeline"),
        "still on the alternate screen:\n{stopped}"
    );
    assert_eq!(tmux.mouse_flags(), "0 0", "mouse capture left on while suspended");
    keys(&[
        "stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo",
        "Enter",
    ]);
    let modes = tmux.wait_for("icanon echo");
    assert!(modes.lines().any(|l| l.trim() == "icanon echo"), "{modes}");
    keys(&["clear; fg", "Enter"]);
    let screen = tmux.wait_for("Pipeline");
    assert!(screen.contains("ship"), "redrawn in full:\n{screen}");
    assert_eq!(tmux.mouse_flags(), "1 1", "mouse capture back after fg");
    keys(&["q"]);
    tmux.wait_for("reattaches");
    keys(&["echo EX\"\"IT=$?; echo =DO\"\"NE=", "Enter"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
}

const NOISY: &str = r#"
[plan]
name = "cockpit-search"

[gates.signoff]
approvals = 1
checklist = []

[[stage]]
id = "noisy"
run = "echo 'nee''dle one'; seq 1 20000 | sed 's/^/row /'; echo 'nee''dle two'; printf '\\033[2Jsecret\\033]52;c;cHduZWQ=\\007 tail\\n'; seq 1 100 | sed 's/^/end /'"

[[stage]]
id = "ship"
needs = ["noisy"]
gate = "signoff"
run = "echo shipped"
"#;

#[test]
fn search_highlights_and_n_moves_even_above_the_ring() {
    if common::tmux::missing() {
        return;
    }
    let ws = Workspace::new(NOISY);
    ws.run_to_gate("1.0.0");
    let tmux = Tmux::new("e2e-search");
    let pager_out = ws.path().join("pager.out");
    tmux.start(
        &ws,
        "cockpit 1.0.0",
        &format!("PAGER='cat > {}'", pager_out.display()),
        (120, 30),
    );
    tmux.wait_for("end 100");
    tmux.keys(&["/"]);
    tmux.wait_for("Search the log");
    tmux.type_text("needle");
    tmux.keys(&["Enter"]);
    // The whole log was searched: the latest match is shown (and highlighted).
    tmux.wait_for("/needle: match 2/2");
    tmux.wait_for("needle two");
    // Whether `word` is highlighted on the line that shows `rest` (tmux's capture with
    // attributes).
    let styled = |word: &str, rest: &str| -> bool {
        let out = tmux
            .cmd()
            .args(["capture-pane", "-p", "-e", "-t", "cockpit"])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = s
            .lines()
            .find(|l| l.contains(rest))
            .unwrap_or_default()
            .to_string();
        let Some(i) = line.find(word) else { return false };
        // The SGR sequences right before the word: one of them turns "reverse" (7) or a
        // background colour on.
        let mut before = &line[..i];
        let mut reversed = false;
        while before.ends_with('m') {
            let Some(esc) = before.rfind("\x1b[") else { break };
            reversed |= before[esc + 2..before.len() - 1]
                .split(';')
                .any(|p| p == "7" || p == "48" || ("40".."48").contains(&p));
            before = &before[..esc];
        }
        reversed
    };
    wait_until(common::DEADLINE, "the match is highlighted", || {
        styled("needle", " two   ")
    });
    assert!(!styled("row", "row 19999"), "other lines are not");
    // n wraps to the first match, 20000 lines up: above the ring, read back from the log file.
    tmux.keys(&["n"]);
    tmux.wait_for("/needle: match 1/2");
    tmux.wait_for("needle one");
    wait_until(common::DEADLINE, "the first match is highlighted", || {
        styled("needle", " one   ")
    });
    // The child's screen clear and clipboard write did nothing; o pages a plain rendering.
    tmux.keys(&["o"]);
    wait_until(common::DEADLINE, "the pager got the log", || {
        std::fs::read_to_string(&pager_out).is_ok_and(|s| s.contains("end 100"))
    });
    let paged = std::fs::read_to_string(&pager_out).unwrap();
    assert!(
        paged.starts_with("\x1b[2m$ "),
        "annotations dim: {:?}",
        &paged[..40]
    );
    assert!(paged.contains("\nneedle one\n") && paged.contains("\nrow 20000\n"));
    assert!(paged.contains("\nsecret tail\n"), "escapes dropped");
    assert!(!paged.contains("\x1b]") && !paged.contains("\x1b[2J"));
    // The cockpit is back, keys still work.
    tmux.wait_for("/needle: match 1/2");
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert_restored(&after);
}

#[test]
fn without_a_plan_or_with_a_broken_one_the_cockpit_says_why() {
    if common::tmux::missing() {
        return;
    }
    // No plan and no releases: where to start.
    let ws = Workspace::new(PLAN);
    std::fs::remove_file(ws.file("flightdeck.toml")).unwrap();
    let tmux = Tmux::new("e2e-noplan");
    tmux.start(&ws, "", "", (200, 20));
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("no plan here"), "{after}");
    assert!(after.contains("flightdeck demo"), "{after}");
    assert!(after.contains("EXIT=2"), "{after}");
    drop(tmux);
    // A plan that does not load: its error, with file and line.
    let ws =
        Workspace::new("[plan]\nname = \"x\"\n[[stage]]\nid = \"a\"\nrun = \"true\"\nneeds = [\"nope\"]\n");
    let tmux = Tmux::new("e2e-badplan");
    tmux.start(&ws, "", "", (200, 20));
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("flightdeck.toml:6"), "{after}");
    assert!(after.contains("nope"), "{after}");
    assert!(after.contains("EXIT=2"), "{after}");
}
