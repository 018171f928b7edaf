//! End to end: a cancel ends everything the driver started (runs, automatic checks, the probes of
//! its drift snapshot), checks have a timeout, nothing is journaled after the release finished,
//! and a driver whose release folder is removed ends its jobs and exits.

use crate::common;

use common::{
    DEADLINE, Workspace, assert_nothing_after_finish, process_gone, stderr_of, stdout_of, wait_for_pid_file,
    wait_until,
};

/// The driver's pid of the release's last `driver_started`.
fn driver_pid(ws: &Workspace, id: &str) -> i32 {
    ws.events(id, "driver_started")
        .last()
        .and_then(|e| e["pid"].as_u64())
        .expect("a driver started") as i32
}

#[test]
fn cancel_ends_a_running_automatic_check_and_the_driver_exits() {
    let ws = Workspace::new(
        r#"
[plan]
name = "cancheck"

[gates.signoff]
approvals = 1
checklist = [{ item = "Slow check", check = "sleep 1000 & echo $! > check.pid; wait" }]

[[stage]]
id = "ship"
gate = "signoff"
run = "echo shipped"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let check = wait_for_pid_file(&ws, "check.pid");
    let driver = driver_pid(&ws, "1.0");
    let out = ws.expect(["cancel", "1.0"], 0);
    assert!(stdout_of(&out).contains("accepted"), "{}", stdout_of(&out));
    ws.wait_for_state("1.0", "cancelled");
    wait_until(DEADLINE, "the driver exits", || process_gone(driver));
    assert!(process_gone(check), "the check's sleep outlived the cancel");
    assert!(ws.has_event("1.0", "check_finished", |e| e["outcome"] == "cancelled"));
    assert_nothing_after_finish(&ws, "1.0");
    // Nothing keeps the release busy: resume says it has finished (not "driven by another").
    let out = ws.expect(["resume", "1.0"], 130);
    assert!(
        stderr_of(&out).contains("already finished"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn cancel_during_the_start_drift_snapshot_ends_its_probes() {
    let ws = Workspace::new(
        r#"
[plan]
name = "canprobe"

[environments.prod]
probe = "sleep 1000 & echo $! > probe.pid; wait"
probe_timeout = "10m"

[[stage]]
id = "ship"
environment = "prod"
run = "echo shipped > shipped"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let probe = wait_for_pid_file(&ws, "probe.pid");
    let driver = driver_pid(&ws, "1.0");
    ws.expect(["cancel", "1.0"], 0);
    ws.wait_for_state("1.0", "cancelled");
    wait_until(DEADLINE, "the driver exits", || process_gone(driver));
    assert!(process_gone(probe), "the probe's sleep outlived the cancel");
    assert!(!ws.exists("shipped"), "nothing ran after the cancel");
    assert_nothing_after_finish(&ws, "1.0");
}

#[test]
fn an_automatic_check_is_ended_at_check_timeout() {
    let ws = Workspace::new(
        r#"
[plan]
name = "checktimeout"
check_timeout = "1s"

[gates.signoff]
approvals = 1
checklist = [{ item = "Hangs", check = "sleep 1000 & echo $! > check.pid; wait" }]

[[stage]]
id = "ship"
gate = "signoff"
run = "echo shipped"
"#,
    );
    ws.expect(["run", "1.0", "--detach"], 0);
    let check = wait_for_pid_file(&ws, "check.pid");
    ws.wait_for_event("1.0", "check_finished", |e| e["outcome"] == "timed_out");
    assert!(process_gone(check), "the check's sleep outlived its timeout");
    let log = ws
        .logs("1.0")
        .into_iter()
        .find(|(p, _)| p.display().to_string().contains("check.signoff"))
        .expect("the check's log")
        .1;
    assert!(log.contains("timed out after 1s"), "{log}");
    ws.expect(["cancel", "1.0"], 0);
    ws.wait_for_state("1.0", "cancelled");
}

#[test]
fn check_timeout_is_validated_with_its_position() {
    for (value, msg) in [
        ("\"0s\"", "check_timeout must be greater than 0"),
        ("\"soon\"", "check_timeout"),
    ] {
        let ws = Workspace::new(&format!(
            "[plan]\nname = \"ct\"\ncheck_timeout = {value}\n\n[[stage]]\nid = \"a\"\nrun = \"true\"\n"
        ));
        let out = ws.expect(["check"], 2);
        let err = stderr_of(&out);
        assert!(err.contains("flightdeck.toml:3:"), "{err}");
        assert!(err.contains(msg), "{err}");
    }
}

#[test]
fn a_release_with_probes_snapshots_its_end_before_it_finishes() {
    let ws = Workspace::new(
        r#"
[plan]
name = "endsnap"

[environments.prod]
probe = "echo version=1"

[[stage]]
id = "ship"
environment = "prod"
run = "echo shipped"
"#,
    );
    ws.expect(["run", "1.0"], 0);
    let snaps: Vec<String> = ws
        .events("1.0", "drift_snapshot")
        .iter()
        .map(|e| e["at"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(snaps, ["start", "end"]);
    assert_nothing_after_finish(&ws, "1.0");
    // A later request on the finished release journals nothing of the release itself.
    ws.expect(["retry", "1.0", "ship"], 1);
    assert_nothing_after_finish(&ws, "1.0");
}

#[test]
fn a_driver_whose_release_folder_is_removed_ends_its_jobs_and_exits() {
    let mut ws = Workspace::new(
        r#"
[plan]
name = "gone"

[gates.signoff]
approvals = 1
checklist = [{ item = "Slow", check = "if [ -f slow ]; then sleep 1000 & echo $! > check.pid; wait; fi" }]

[[stage]]
id = "ship"
gate = "signoff"
run = "echo shipped"
"#,
    );
    ws.expect(["run", "1.0", "--no-wait"], 3);
    let dir = ws.release_dir("1.0");
    let mut driver = ws.spawn(["drive".as_ref(), dir.as_os_str()]);
    ws.wait_for_event("1.0", "driver_started", |e| e["pid"] == driver.pid());
    ws.touch("slow");
    ws.expect(["recheck", "1.0", "signoff", "1"], 0);
    let check = wait_for_pid_file(&ws, "check.pid");
    std::fs::remove_dir_all(&dir).expect("rm -rf the release folder");
    let code = driver.wait();
    assert_ne!(code, 0, "{}", driver.output());
    assert!(driver.stderr().contains("was removed"), "{}", driver.output());
    wait_until(DEADLINE, "the check's sleep ends", || process_gone(check));
}
