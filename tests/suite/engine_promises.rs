//! What the README promises about processes, environments and identities, each shown through the
//! real binary: SIGKILL after the grace period, leftovers of a successful command, a process that
//! left its group, environment holds released at every end, the identity order, stdin, and the
//! cockpit's bell on a failure and on a finished rollback.

use crate::common;
use crate::fixture;

use crate::fixture::Journal;
use chrono::DateTime;
use common::{DEADLINE, Workspace, process_alive, process_gone, wait_for_pid_file, wait_until};
use flightdeck::event::{Event, FinalState};
use flightdeck::tui::app::{Effect, Msg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn ts(e: &serde_json::Value) -> DateTime<chrono::Utc> {
    e["ts"].as_str().expect("ts").parse().expect("an RFC 3339 time")
}

#[test]
fn a_command_that_ignores_sigterm_gets_sigkill_after_the_grace_period() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "stubborn"

[[stage]]
id = "hang"
run = "trap '' TERM; echo $$ > hang.pid; while :; do sleep 1; done"
"#,
    )
    .env("FLIGHTDECK_GRACE", "2s");
    let mut run = ws.spawn(["run", "1.0"]);
    let pid = wait_for_pid_file(&ws, "hang.pid");
    ws.expect(["cancel", "1.0"], 0);
    assert_eq!(run.wait(), 130, "{}", run.output());
    assert!(
        process_gone(pid),
        "the command that ignored SIGTERM (pid {pid}) is still alive"
    );
    let cancel = &ws.events("1.0", "cancel_requested")[0];
    let finished = ws
        .events("1.0", "run_finished")
        .into_iter()
        .find(|e| e["stage"] == "hang")
        .expect("the run finished");
    assert_eq!(finished["outcome"], "cancelled");
    let waited = ts(&finished) - ts(cancel);
    assert!(
        waited >= chrono::Duration::milliseconds(1900),
        "SIGKILL came {waited} after the cancel; FLIGHTDECK_GRACE=2s asks for the grace period first"
    );
}

#[test]
fn processes_left_behind_by_a_successful_command_end_with_it() {
    let ws = Workspace::new(
        r#"
[plan]
name = "leftovers"

[[stage]]
id = "spawns"
run = "sleep 1000 & echo $! > bg.pid; echo started"

[[stage]]
id = "after"
needs = ["spawns"]
run = "echo after"
"#,
    );
    ws.expect(["run", "1.0"], 0);
    let pid: i32 = ws.read("bg.pid").trim().parse().expect("a pid");
    assert!(
        process_gone(pid),
        "the background `sleep` (pid {pid}) outlived its successful command"
    );
    assert!(
        ws.log("1.0", "spawns.1.log")
            .contains("ending processes left in group")
    );
}

#[test]
fn resume_ends_a_process_that_left_its_group_but_carries_the_release_marker() {
    let ws = Workspace::new(
        r#"
[plan]
name = "escapee"

[[stage]]
id = "escape"
run = "if [ -f first ]; then echo again; else touch first; setsid sleep 1000 & echo $! > esc.pid; sleep 1000; fi"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let escaped = wait_for_pid_file(&ws, "esc.pid");
    wait_until(DEADLINE, "the escaped sleep runs in a session of its own", || {
        nix::unistd::getpgid(Some(Pid::from_raw(escaped))).is_ok_and(|g| g.as_raw() == escaped)
    });
    let driver = ws.status("1.0")["driver"].as_u64().expect("a driver") as i32;
    kill(Pid::from_raw(driver), Signal::SIGKILL).expect("kill -9 the driver");
    ws.wait_for_state("1.0", "interrupted");
    assert!(process_alive(escaped), "the scenario needs the escapee alive");
    ws.expect(["resume", "1.0"], 0);
    assert!(
        process_gone(escaped),
        "the process that left its group (pid {escaped}) survived resume"
    );
}

/// A plan whose `ship` stage holds `prod`; `{mode}` decides how release 1.0 ends.
fn hold_plan() -> &'static str {
    r#"
[plan]
name = "holds"

[environments.prod]

[[stage]]
id = "ship"
environment = "prod"
run = "if [ -f mode.$FLIGHTDECK_VERSION ]; then m=$(cat mode.$FLIGHTDECK_VERSION); else m=ok; fi; case $m in fail) exit 1;; hang) echo $$ > hang.pid; sleep 1000;; esac; echo shipped"
rollback = "echo undone"

[[stage]]
id = "check"
needs = ["ship"]
on_failure = "rollback"
run = "if [ -f rollback.$FLIGHTDECK_VERSION ]; then exit 1; fi"
"#
}

#[test]
fn an_environment_hold_is_released_whatever_way_the_release_ends() {
    for (ending, expected) in [
        ("succeeds", "succeeded"),
        ("fails", "failed"),
        ("is cancelled", "cancelled"),
        ("rolls back", "rolled_back"),
    ] {
        let ws = Workspace::new(hold_plan());
        match ending {
            "fails" => std::fs::write(ws.file("mode.1.0"), "fail").unwrap(),
            "is cancelled" => std::fs::write(ws.file("mode.1.0"), "hang").unwrap(),
            "rolls back" => ws.touch("rollback.1.0"),
            _ => {}
        }
        if ending == "is cancelled" {
            ws.expect(["run", "1.0", "--detach"], 0);
            wait_for_pid_file(&ws, "hang.pid");
            ws.expect(["cancel", "1.0"], 0);
            ws.wait_for_state("1.0", expected);
        } else {
            let code = if expected == "succeeded" { 0 } else { 1 };
            ws.expect(["run", "1.0"], code);
        }
        let st = ws.status("1.0");
        assert_eq!(st["state"], expected, "release 1.0 {ending}");
        assert!(
            st["env_holds"]
                .as_array()
                .expect("status --json lists env_holds")
                .is_empty(),
            "release 1.0 {ending} but still holds {}",
            st["env_holds"]
        );
        // While it ran it held prod (so the check above is not empty by construction).
        assert!(ws.has_event("1.0", "env_acquired", |e| e["env"] == "prod"));
        // The next release takes prod at once.
        ws.expect(["run", "2.0"], 0);
        assert!(
            ws.events("2.0", "stage_waiting").is_empty(),
            "after release 1.0 {ending}, 2.0 waited for prod: {:?}",
            ws.events("2.0", "stage_waiting")
        );
    }
}

#[test]
fn identity_comes_from_as_then_flightdeck_user_then_git_then_user() {
    let ws = Workspace::new(
        r#"
[plan]
name = "who"

[gates.ok]
approvals = 4

[[stage]]
id = "ship"
gate = "ok"
run = "true"
"#,
    );
    ws.run_to_gate("1.0");
    let home = ws.file("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join(".gitconfig"), "[user]\n\tname = Gita Git\n").unwrap();
    let approve = |flags: &[&str], user: Option<&str>, git: bool| {
        let mut cmd = ws.flightdeck(["approve", "1.0", "ok"]);
        cmd.args(flags)
            .env_remove("FLIGHTDECK_USER")
            .env("USER", "unixname");
        if let Some(u) = user {
            cmd.env("FLIGHTDECK_USER", u);
        }
        let empty = ws.file("nohome");
        std::fs::create_dir_all(&empty).unwrap();
        cmd.env("HOME", if git { &home } else { &empty })
            .env("XDG_CONFIG_HOME", &empty)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let approvals = ws.events("1.0", "approved");
        approvals.last().unwrap()["actor"].as_str().unwrap().to_string()
    };
    assert_eq!(approve(&["--as", "asname"], Some("envname"), true), "asname");
    assert_eq!(approve(&[], Some("envname"), true), "envname");
    assert_eq!(approve(&[], None, true), "Gita Git");
    assert_eq!(approve(&[], None, false), "unixname");
}

#[test]
fn commands_read_dev_null_as_stdin() {
    let ws = Workspace::new(
        r#"
[plan]
name = "stdin"

[[stage]]
id = "reads"
run = "readlink /proc/self/fd/0 > stdin.txt; cat; echo read-to-end"
"#,
    );
    // `cat` would wait forever on a terminal or an open pipe; /dev/null ends it at once.
    let out = ws
        .flightdeck(["run", "1.0"])
        .timeout(DEADLINE)
        .write_stdin("typed by someone\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(ws.read("stdin.txt").trim(), "/dev/null");
    let log = ws.log("1.0", "reads.1.log");
    assert!(
        log.contains("o read-to-end\n") && !log.contains("typed by someone"),
        "{log}"
    );
}

#[test]
fn the_bell_rings_on_a_failure_and_on_a_finished_rollback() {
    let mut ui = fixture::ui(&Journal::default(), (160, 48));
    let all = fixture::failed().records;
    let failed = all
        .iter()
        .position(|r| matches!(r.event, Event::StageFailed { .. }))
        .unwrap();
    assert!(
        !ui.update(Msg::Records(all[..failed].to_vec()))
            .contains(&Effect::Bell)
    );
    assert!(
        ui.update(Msg::Records(all[failed..failed + 1].to_vec()))
            .contains(&Effect::Bell),
        "a stage failed"
    );
    // A rollback of that release, finishing.
    let mut j = fixture::failed();
    let n = j.records.len() as i64;
    j.push(
        300 + n,
        "driver",
        Event::RollbackStarted {
            reason: "requested".into(),
            order: vec![],
        },
    );
    j.push(301 + n, "driver", Event::RollbackFinished { ok: true });
    j.push(
        302 + n,
        "driver",
        Event::ReleaseFinished {
            state: FinalState::RolledBack,
            reason: "rolled back".into(),
        },
    );
    let fresh = j.records[all.len()..].to_vec();
    ui.update(Msg::Records(all[failed + 1..].to_vec()));
    let (start, finish) = fresh.split_at(1);
    assert!(!ui.update(Msg::Records(start.to_vec())).contains(&Effect::Bell));
    assert!(
        ui.update(Msg::Records(finish.to_vec())).contains(&Effect::Bell),
        "the rollback finished"
    );
}
