//! Scheduled releases (`run VERSION --at TIME`) on the real binary: the release waits,
//! `scheduled`, in its background driver, starts at TIME like any other, can be cancelled
//! before, and a driver that died meanwhile is resumed into waiting again.

mod common;

use chrono::{SecondsFormat, Utc};
use common::{Workspace, stderr_of, stdout_of};

const PLAN: &str = r#"
[plan]
name = "sched"

[[stage]]
id = "deploy"
run = "touch deployed-{version}"
"#;

fn in_secs(s: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(s)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[test]
fn a_scheduled_release_waits_then_starts_on_time() {
    let ws = Workspace::new(PLAN);
    let at = in_secs(3);
    let out = ws.expect(["run", "1.0", "--at", &at], 0);
    assert!(
        stderr_of(&out).contains("scheduled to start at"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(ws.status("1.0")["state"], "scheduled");
    let listed = stdout_of(&ws.expect(["list"], 0));
    assert!(listed.contains("scheduled"), "{listed}");
    assert_eq!(ws.events("1.0", "release_scheduled")[0]["at"], at);
    assert!(ws.events("1.0", "run_started").is_empty());
    ws.wait_for_state("1.0", "succeeded");
    let started = ws.wait_for_event("1.0", "run_started", |_| true);
    let started = chrono::DateTime::parse_from_rfc3339(started["ts"].as_str().unwrap()).unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    assert!(started >= at, "started at {started}, scheduled for {at}");
    assert!(ws.exists("deployed-1.0"));
}

#[test]
fn a_scheduled_release_is_cancelled_before_it_starts_and_survives_its_driver() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "2.0", "--at", &in_secs(3600)], 0);
    assert_eq!(ws.status("2.0")["state"], "scheduled");
    // Its driver dies (a reboot, say): `resume` waits again rather than starting it now.
    let pid = ws.status("2.0")["driver"].as_u64().expect("a driver") as i32;
    // SAFETY: a plain signal to the driver this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    common::wait_until(common::DEADLINE, "the driver is gone", || {
        ws.status("2.0")["driver"].is_null()
    });
    ws.expect(["resume", "2.0", "--detach"], 0);
    assert_eq!(ws.status("2.0")["state"], "scheduled");
    // Cancelled before its time: nothing ran.
    ws.expect(["cancel", "2.0"], 0);
    ws.wait_for_state("2.0", "cancelled");
    assert!(ws.events("2.0", "run_started").is_empty());
    assert!(!ws.exists("deployed-2.0"));
}

#[test]
fn at_must_be_a_time_in_the_future() {
    let ws = Workspace::new(PLAN);
    let out = ws.expect(["run", "1.0", "--at", "2001-01-01T00:00:00Z"], 2);
    assert!(stderr_of(&out).contains("is in the past"), "{}", stderr_of(&out));
    let out = ws.expect(["run", "1.0", "--at", "teatime"], 2);
    assert!(
        stderr_of(&out).contains("give an RFC 3339 time"),
        "{}",
        stderr_of(&out)
    );
    assert!(!ws.data_dir().join("plans").join("sched").join("1.0").exists());
}

#[test]
fn hh_mm_is_the_next_such_local_time() {
    use chrono::TimeZone;
    use flightdeck::release::observe::parse_at;
    let now = chrono::Local
        .with_ymd_and_hms(2026, 12, 4, 22, 30, 0)
        .single()
        .unwrap();
    let utc = |l: chrono::DateTime<chrono::Local>| l.with_timezone(&Utc);
    // Later today.
    assert_eq!(
        parse_at("23:15", now).unwrap(),
        utc(chrono::Local
            .with_ymd_and_hms(2026, 12, 4, 23, 15, 0)
            .single()
            .unwrap())
    );
    // Passed today: tomorrow.
    assert_eq!(
        parse_at("06:00", now).unwrap(),
        utc(chrono::Local
            .with_ymd_and_hms(2026, 12, 5, 6, 0, 0)
            .single()
            .unwrap())
    );
    assert!(parse_at("25:00", now).is_err());
}
