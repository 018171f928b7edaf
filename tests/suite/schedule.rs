//! Scheduled releases (`run VERSION --at TIME`) on the real binary: the release waits,
//! `scheduled`, in its background driver, starts at TIME like any other, can be cancelled
//! before, and a driver that died meanwhile is resumed into waiting again.

use crate::common;

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

#[test]
fn schedule_lists_scheduled_releases_and_freeze_windows_in_time_order() {
    let plan = format!(
        "{PLAN}\n[[freeze]]\nenvironments = [\"prod\"]\nfrom = \"{}\"\nto = \"{}\"\nreason = \"holiday\"\n",
        in_secs(7200),
        in_secs(10800)
    )
    .replace("[[stage]]", "[environments.prod]\n\n[[stage]]");
    let ws = Workspace::new(&plan);
    let out = ws.expect(["schedule"], 0);
    assert!(
        stdout_of(&out).contains("prod frozen: holiday"),
        "{}",
        stdout_of(&out)
    );
    ws.expect(["run", "3.0", "--at", &in_secs(3600)], 0);
    let text = stdout_of(&ws.expect(["schedule"], 0));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].ends_with("release 3.0 (3.0) starts, by tester"),
        "{text}"
    );
    assert!(
        lines[1].contains("until") && lines[1].ends_with("prod frozen: holiday"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&stdout_of(&ws.expect(["schedule", "--json"], 0))).unwrap();
    assert_eq!(v[0]["kind"], "release");
    assert_eq!(v[1]["kind"], "freeze");
    ws.expect(["cancel", "3.0"], 0);
}

/// The `.ics` read back by an independent parser (Python's `icalendar`).
#[test]
fn schedule_ics_is_a_calendar_an_independent_parser_reads() {
    let python_has_it = std::process::Command::new("python3")
        .args(["-c", "import icalendar"])
        .status()
        .is_ok_and(|s| s.success());
    if !python_has_it {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("Python's icalendar package is missing: .ci/run installs it (pip install icalendar)");
        }
        eprintln!("\n*** SKIPPED: Python's icalendar package is not installed (pip install icalendar) ***\n");
        return;
    }
    let plan = format!(
        "{PLAN}\n[[freeze]]\nenvironments = [\"prod\"]\nfrom = \"{}\"\nto = \"{}\"\nreason = \"holiday, with a comma; and more\"\n",
        in_secs(7200),
        in_secs(10800)
    )
    .replace("[[stage]]", "[environments.prod]\n\n[[stage]]");
    let ws = Workspace::new(&plan);
    let at = in_secs(3600);
    ws.expect(["run", "4.0", "--at", &at], 0);
    let ics = stdout_of(&ws.expect(["schedule", "--ics"], 0));
    std::fs::write(ws.file("s.ics"), &ics).unwrap();
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for e in cal.walk('VEVENT'):
    end = e.get('DTEND')
    print(e['UID'], '|', e['SUMMARY'], '|', e['DTSTART'].dt.isoformat(), '|', end.dt.isoformat() if end else '-')
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(ws.file("s.ics"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{ics}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let start = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    assert!(
        lines[0].starts_with("release-sched-4.0@flightdeck | release 4.0 (4.0) starts, by tester | ")
            && lines[0].contains(&start.format("%Y-%m-%dT%H:%M:%S").to_string()),
        "{text}"
    );
    assert!(
        lines[1].contains("| prod frozen: holiday, with a comma; and more |"),
        "{text}"
    );
    ws.expect(["cancel", "4.0"], 0);
}

/// The driver's threads as (voluntary context switches, all asleep): each switch is a thread going
/// to sleep after a wake-up.
fn wakeups(pid: i32) -> (u64, bool) {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the driver lives");
    let statuses: Vec<String> = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .collect();
    let field = |s: &str, name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let switches = statuses
        .iter()
        .map(|s| field(s, "voluntary_ctxt_switches:").parse::<u64>().unwrap())
        .sum();
    let asleep = statuses.iter().all(|s| field(s, "State:").starts_with('S'));
    (switches, asleep)
}

#[test]
fn a_waiting_scheduled_driver_makes_no_wake_ups_yet_hears_a_cancel() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "3.0", "--at", &in_secs(3600)], 0);
    let pid = ws.status("3.0")["driver"].as_u64().expect("a driver") as i32;
    // Once it has settled (every thread asleep, and still so with no wake-up a second later: a
    // driver still busy starting up is running, not asleep), a two-second window of waiting wakes
    // it not once: no polling, no periodic fallback.
    let mut last = wakeups(pid);
    common::wait_until(common::DEADLINE, "the driver settles", || {
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let now = wakeups(pid);
        let settled = last.1 && now == last;
        last = now;
        settled
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(wakeups(pid).0, last.0, "the waiting driver woke up");
    // Yet it is listening: a cancel ends it at once.
    ws.expect(["cancel", "3.0"], 0);
    ws.wait_for_state("3.0", "cancelled");
}
