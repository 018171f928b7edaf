//! The cockpit end to end (test layer 5): the real binary under tmux on a real release in a temp
//! dir. It shows the stages, shows an approval given from another terminal, quits by itself with
//! `--exit-when-done` when the release finishes, and leaves the terminal in its normal mode.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{DEADLINE, Workspace, wait_until};

const PLAN: &str = r#"
[plan]
name = "cockpit-e2e"

[gates.signoff]
approvals = 2
checklist = []

[[stage]]
id = "compile"
run = "printf '\033[32mcompiled\033[0m ok\n'"

[[stage]]
id = "ship"
needs = ["compile"]
gate = "signoff"
run = "echo shipped {version}"
"#;

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }
    fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "cockpit"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn wait_for(&self, what: &str) -> String {
        let mut last = String::new();
        let found = common::poll_until(DEADLINE, || {
            last = self.capture();
            last.contains(what)
        });
        assert!(found, "the pane never showed {what:?}; it shows:\n{last}");
        last
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn cockpit_shows_a_release_live_and_restores_the_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let ws = Workspace::new(&PLAN.replace("\\033", "\\\\033").replace("\\n'", "\\\\n'"));
    ws.flightdeck(["run", "1.0.0", "--detach"]).assert().success();
    ws.wait_for_event("1.0.0", "gate_reached", |_| true);

    let tmux = Tmux {
        socket: format!("fd-e2e-{}", std::process::id()),
    };
    let exe = env!("CARGO_BIN_EXE_flightdeck");
    let script = format!(
        "cd '{}' && FLIGHTDECK_DATA_DIR='{}' FLIGHTDECK_USER=tester '{exe}' cockpit --exit-when-done; \
         echo \"EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 60",
        ws.path().display(),
        ws.data_dir().display()
    );
    let status = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "cockpit",
            "-x",
            "120",
            "-y",
            "30",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .expect("tmux new-session");
    assert!(status.success());

    let screen = tmux.wait_for("ship");
    for want in ["compile", "Pipeline", "signoff", "paused", "compiled ok"] {
        assert!(screen.contains(want), "missing {want:?}:\n{screen}");
    }
    // Another terminal approves; the cockpit shows it; a second approval finishes the release
    // and the cockpit quits with run's exit code.
    ws.flightdeck(["approve", "1.0.0", "signoff"]).assert().success();
    tmux.wait_for("approved by tester");
    ws.flightdeck(["approve", "1.0.0", "signoff", "--as", "bob"])
        .assert()
        .success();
    let after = tmux.wait_for("EXIT=");
    assert!(after.contains("EXIT=0"), "{after}");
    let modes = after.lines().find(|l| l.contains("icanon")).unwrap_or_default();
    assert!(
        modes.contains("icanon") && !modes.contains("-icanon") && !modes.contains("-echo"),
        "terminal not restored: {modes:?}\n{after}"
    );
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
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let ws = Workspace::new(&PLAN.replace("\\033", "\\\\033").replace("\\n'", "\\\\n'"));
    ws.flightdeck(["run", "2.0.0", "--detach"]).assert().success();
    ws.wait_for_event("2.0.0", "gate_reached", |_| true);
    let tmux = Tmux {
        socket: format!("fd-e2e-q-{}", std::process::id()),
    };
    let exe = env!("CARGO_BIN_EXE_flightdeck");
    // No subcommand: the cockpit on the newest release.
    let script = format!(
        "cd '{}' && FLIGHTDECK_DATA_DIR='{}' '{exe}'; echo \"EXIT=$?\"; sleep 60",
        ws.path().display(),
        ws.data_dir().display()
    );
    tmux.cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "cockpit",
            "-x",
            "80",
            "-y",
            "24",
            "sh",
            "-c",
            &script,
        ])
        .status()
        .expect("tmux new-session");
    let screen = tmux.wait_for("compile");
    assert!(screen.contains("1 Board"), "narrow layout has tabs:\n{screen}");
    tmux.cmd()
        .args(["send-keys", "-t", "cockpit", "q"])
        .status()
        .unwrap();
    let after = tmux.wait_for("EXIT=");
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(after.contains("goes on in its driver"), "{after}");
    assert_eq!(ws.status("2.0.0")["state"], "paused");
}
