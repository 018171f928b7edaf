//! A tmux server of the tests' own, to run the cockpit in a real terminal: start it in a pane of
//! a given size, send keys, capture the screen, wait for text (with a deadline).

use std::process::Command;

use super::{DEADLINE, Workspace};

/// A socket name no other server of this run has: the test's name, this process, and a count (the
/// tests share one binary, so two of them may pick the same name).
pub fn socket_name(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("fd-{name}-{}-{n}", std::process::id())
}

/// Whether tmux is installed.
pub fn available() -> bool {
    Command::new("tmux").arg("-V").output().is_ok()
}

/// `true`, after saying the test is skipped, when tmux is not installed (the test then returns).
/// Under `CI=true` a missing tmux fails the test instead: CI installs it (`.ci/run`), so a skip
/// there would hide a broken setup and count as a pass.
#[track_caller]
pub fn missing() -> bool {
    let missing = !available();
    if missing {
        if ci() {
            panic!(
                "tmux is not installed, and CI={} requires every end-to-end test to run",
                std::env::var("CI").unwrap_or_default()
            );
        }
        eprintln!("tmux is not installed: SKIPPED (not a pass: install tmux to run this test)");
    }
    missing
}

/// Whether this is a CI run (`CI` set to anything but empty, `0` or `false`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A tmux server of our own (its own socket), killed on drop.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }
    pub fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "cockpit"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn pane_title(&self) -> String {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "cockpit", "#{pane_title}"])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    /// The pane's mouse modes, `"<standard> <sgr>"`: `"1 1"` while the cockpit captures clicks.
    pub fn mouse_flags(&self) -> String {
        let out = self
            .cmd()
            .args([
                "display-message",
                "-p",
                "-t",
                "cockpit",
                "#{mouse_standard_flag} #{mouse_sgr_flag}",
            ])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Pid of the pane's first child (the cockpit under `sh -c`).
    pub fn cockpit_pid(&self) -> i32 {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "cockpit", "#{pane_pid}"])
            .output()
            .expect("tmux display-message");
        let sh = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).unwrap_or_default();
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no child of the pane's shell {sh}"))
    }
    pub fn start(&self, ws: &Workspace, args: &str, env: &str, size: (u16, u16)) {
        let exe = env!("CARGO_BIN_EXE_flightdeck");
        let script = format!(
            // Each marker starts a line of its own (`\r\n`): a cockpit killed outright leaves the
            // terminal raw and its cursor anywhere, where a marker could wrap.
            "cd '{}' && FLIGHTDECK_SETTINGS= {} {env} FLIGHTDECK_DATA_DIR='{}' FLIGHTDECK_USER=tester '{exe}' {args}; \
             code=$?; printf '\\r\\nEXIT=%s\\r\\n' \"$code\"; stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; printf '\\r\\n=DONE=\\r\\n'; sleep 60",
            ws.path().display(),
            ws.store_env(),
            ws.data_dir().display()
        );
        let (w, h) = (size.0.to_string(), size.1.to_string());
        let status = self
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "cockpit",
                "-x",
                &w,
                "-y",
                &h,
                "sh",
                "-c",
                &script,
            ])
            .status()
            .expect("tmux new-session");
        assert!(status.success());
    }
    pub fn wait_for(&self, what: &str) -> String {
        let mut last = String::new();
        let found = super::poll_until(DEADLINE, || {
            last = self.capture();
            last.contains(what)
        });
        assert!(found, "the pane never showed {what:?}; it shows:\n{last}");
        self.settled(last, |s| s.contains(what))
    }

    /// The screen once it stops changing (two captures alike, for at most a second), still
    /// passing `ok`; `first` if it never settles. A frame reaches the terminal in pieces, and a
    /// capture taken while one is being written shows parts of two frames: the text waited for
    /// from the new one, stale rows from the old.
    fn settled(&self, first: String, ok: impl Fn(&str) -> bool) -> String {
        let mut last = first;
        super::poll_until(std::time::Duration::from_secs(1), || {
            let now = self.capture();
            let same = now == last;
            if ok(&now) {
                last = now;
            }
            same
        });
        last
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

impl Tmux {
    /// A server on a socket of its own ([`socket_name`]).
    pub fn new(name: &str) -> Tmux {
        Tmux {
            socket: socket_name(name),
        }
    }

    /// Send tmux key names (`Enter`, `Escape`, `q`) to the cockpit's pane.
    pub fn keys(&self, keys: &[&str]) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "cockpit"]).args(keys);
        assert!(c.status().expect("tmux send-keys").success());
    }

    /// Type `text` literally.
    pub fn type_text(&self, text: &str) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "cockpit", "-l", text]);
        assert!(c.status().expect("tmux send-keys").success());
    }

    /// Wait until the screen no longer shows `what`.
    pub fn wait_gone(&self, what: &str) -> String {
        let mut last = String::new();
        let gone = super::poll_until(DEADLINE, || {
            last = self.capture();
            !last.contains(what)
        });
        assert!(gone, "the pane still shows {what:?}:\n{last}");
        self.settled(last, |s| !s.contains(what))
    }
}

/// The line `stty -a` printed after the cockpit ended shows the terminal's normal mode.
pub fn assert_restored(screen: &str) {
    let modes = screen.lines().find(|l| l.contains("icanon")).unwrap_or_default();
    assert!(
        modes.contains("icanon") && !modes.contains("-icanon") && !modes.contains("-echo"),
        "terminal not restored: {modes:?}\n{screen}"
    );
}
