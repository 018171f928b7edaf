//! Process-group control: every command runs as `sh -c` in a process group of its own, so a
//! timeout, a cancel or a new driver can end the whole tree (SIGTERM, a grace period, SIGKILL),
//! and every child carries a marker so a later driver finds what a dead one left. A leaf: it
//! depends on nothing else in the crate.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Every child carries this variable (the release folder), so a later driver can find and end
/// processes that a dead driver started, even ones it had no time to journal.
pub const MARKER_VAR: &str = "FLIGHTDECK_RELEASE_DIR";

/// Whether any process is left in process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    pgid > 0 && killpg(Pid::from_raw(pgid), None).is_ok()
}

/// Whether process `pid` lives: it exists and is not a zombie (a driver killed after its
/// parent went away waits as a zombie until something reaps it; it holds nothing any more).
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 || nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X")
        ),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// SIGTERM to the group, wait up to `grace` for it to empty, then SIGKILL.
pub async fn terminate_group(pgid: i32, grace: Duration, mut leader: Option<&mut tokio::process::Child>) {
    if pgid <= 0 {
        return;
    }
    let pg = Pid::from_raw(pgid);
    let _ = killpg(pg, Signal::SIGTERM);
    let _ = killpg(pg, Signal::SIGCONT);
    let until = Instant::now() + grace;
    loop {
        if let Some(child) = leader.as_deref_mut() {
            // Reap the leader so it does not linger as a zombie member of the group.
            let _ = child.try_wait();
        }
        if !group_alive(pgid) || Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if group_alive(pgid) {
        let _ = killpg(pg, Signal::SIGKILL);
    }
}

/// Blocking version for a driver taking over (no runtime needed).
pub fn terminate_group_blocking(pgid: i32, grace: Duration) {
    if pgid <= 0 || !group_alive(pgid) {
        return;
    }
    let pg = Pid::from_raw(pgid);
    let _ = killpg(pg, Signal::SIGTERM);
    let _ = killpg(pg, Signal::SIGCONT);
    let until = Instant::now() + grace;
    while group_alive(pgid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    if group_alive(pgid) {
        let _ = killpg(pg, Signal::SIGKILL);
    }
}

/// Process groups of live processes that carry `MARKER_VAR=<release_dir>` in their environment:
/// children of a dead driver, journaled or not. Processes of other users are not readable and are
/// skipped.
pub fn marked_groups(release_dir: &std::path::Path) -> Vec<i32> {
    let needle = format!("{MARKER_VAR}={}", release_dir.display());
    let me = std::process::id() as i32;
    let mut groups = std::collections::BTreeSet::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in rd.filter_map(|e| e.ok()) {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
            && let Ok(pgid) = nix::unistd::getpgid(Some(Pid::from_raw(pid)))
            && pgid != nix::unistd::getpgrp()
        {
            groups.insert(pgid.as_raw());
        }
    }
    groups.into_iter().collect()
}
