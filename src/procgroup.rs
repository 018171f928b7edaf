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

/// Whether live process group `pgid`, journaled as spawned at `spawned`, is still the one that
/// was spawned. A group's number is its leader's pid, and pids are handed out again once free
/// (they wrap at `pid_max`, 32768 by default), so a number journaled by a driver that died hours
/// ago may name another program's group now; ending that would kill a stranger. It is still ours
/// when one of its processes carries this release's marker (`marked`, from [`marked_groups`]);
/// when its leader is gone (the number cannot be handed out while the group has members); or when
/// its leader started no later than a few seconds after the spawn was journaled (a pid freed and
/// handed out again within them would need every other pid used meanwhile).
pub fn still_ours(pgid: i32, spawned: std::time::SystemTime, marked: &[i32]) -> bool {
    if !group_alive(pgid) {
        return false;
    }
    if marked.contains(&pgid) {
        return true;
    }
    match process_started(pgid) {
        None => true,
        Some(started) => started <= spawned + Duration::from_secs(5),
    }
}

/// When process `pid` started, on the wall clock (to the second: the boot time is whole seconds),
/// if it exists.
pub fn process_started(pid: i32) -> Option<std::time::SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name start at the third (the state); the start
    // time, in clock ticks after boot, is the 22nd.
    let ticks: u64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|h| *h > 0)?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(boot) + Duration::from_millis(ticks * 1000 / hz))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::SystemTime;

    /// A process group of its own: `sleep` as its leader.
    fn group() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("sleep")
    }

    #[test]
    fn a_group_started_after_its_spawn_was_journaled_is_someone_elses() {
        let mut child = group();
        let pgid = child.id() as i32;
        let now = SystemTime::now();
        let started = process_started(pgid).expect("its start time");
        assert!(started <= now + Duration::from_secs(1) && started + Duration::from_secs(5) >= now);
        // Journaled a minute before this leader started: the number was handed out again.
        assert!(!still_ours(pgid, now - Duration::from_secs(60), &[]));
        // ... unless one of its processes carries the release's marker.
        assert!(still_ours(pgid, now - Duration::from_secs(60), &[pgid]));
        // Journaled as it was spawned: the same group.
        assert!(still_ours(pgid, now, &[]));
        let _ = child.kill();
        let _ = child.wait();
        // Gone: nothing to end, whoever it was.
        assert!(!still_ours(pgid, now, &[pgid]));
    }

    #[test]
    fn a_group_whose_leader_is_gone_is_still_the_one_spawned() {
        // The leader exits at once, leaving a `sleep` in its group: the number stays the group's.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & exit 0"])
            .process_group(0)
            .spawn()
            .expect("sh");
        let pgid = leader.id() as i32;
        leader.wait().expect("the leader exits");
        assert!(process_started(pgid).is_none());
        assert!(still_ours(pgid, SystemTime::now() - Duration::from_secs(60), &[]));
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}
