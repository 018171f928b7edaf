//! Helpers for the end-to-end tests: the real `flightdeck` binary on real plans with real `sh`, in
//! a temp workspace whose data directory lives inside it.
//!
//! Synchronisation is always "wait until a condition holds, with a generous deadline"
//! ([`wait_until`]); a test never sleeps a fixed time to let something happen. Sleeps appear only
//! inside the plans' shell commands, where a scenario needs a run to take time.
#![allow(dead_code)]

pub mod pg;
pub mod tmux;

use std::fmt::Display;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

/// How long a wait may take before the test fails. Generous: only reached when something is
/// broken (a loaded 2-core machine must never get near it).
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often conditions are re-checked while waiting.
const POLL: Duration = Duration::from_millis(25);

/// Poll `cond` until it holds; panic with `what` (and how long we waited) when `deadline` passes.
#[track_caller]
pub fn wait_until(deadline: Duration, what: impl Display, mut cond: impl FnMut() -> bool) {
    if !poll_until(deadline, &mut cond) {
        panic!("timed out after {deadline:?} waiting until {what}");
    }
}

/// Poll `cond` until it holds or `deadline` passes; whether it held.
pub fn poll_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// With `FLIGHTDECK_TEST_STORE=postgres`, every workspace runs on the shared store: a database of
/// its own, on one PostgreSQL server per test binary (stopped, and its folder removed, when the
/// binary exits), so that the same end-to-end tests run against both stores (`.ci/run` runs them
/// so). The URL of the workspace's database.
fn shared_store_for_tests() -> Option<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    if std::env::var("FLIGHTDECK_TEST_STORE").ok().as_deref() != Some("postgres") {
        return None;
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let pg = SHARED_SERVER
        .get_or_init(|| {
            let pg = pg::Pg::start();
            extern "C" fn stop_at_exit() {
                if let Some(Some(pg)) = SHARED_SERVER.get() {
                    pg.stop_quietly();
                    let _ = std::fs::remove_dir_all(pg.dir.path());
                }
            }
            // SAFETY: registers a plain function run once at process exit.
            unsafe { libc::atexit(stop_at_exit) };
            pg
        })
        .as_ref()?;
    let db = format!("ws{}", NEXT.fetch_add(1, Ordering::SeqCst));
    pg.psql(&format!("CREATE DATABASE {db}"));
    Some(format!("postgres://{}@127.0.0.1:{}/{db}", pg::USER, pg.port))
}

static SHARED_SERVER: std::sync::OnceLock<Option<pg::Pg>> = std::sync::OnceLock::new();

/// Whether the workspaces of this run are on the shared store ([`shared_store_for_tests`]).
pub fn on_shared_store() -> bool {
    std::env::var("FLIGHTDECK_TEST_STORE").ok().as_deref() == Some("postgres")
}

/// The path of a plan fixture under `tests/fixtures/engine/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/engine")
        .join(name)
}

/// A temp folder holding `flightdeck.toml`, the files the plan's commands write, and the data
/// directory (`data/`). Every command gets `FLIGHTDECK_DATA_DIR`, `FLIGHTDECK_GRACE=1s`,
/// `FLIGHTDECK_USER=tester`, `NO_COLOR` and `RUST_LIB_BACKTRACE=0`. Dropping it kills whatever
/// process still carries this workspace's data directory in its environment (only ever reached
/// when a test failed midway).
pub struct Workspace {
    dir: tempfile::TempDir,
    plan_name: String,
    env: Vec<(String, String)>,
    spawned: usize,
}

impl Workspace {
    /// A workspace with this plan. `@WS@` in the text stands for the workspace's absolute path.
    pub fn new(plan: &str) -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("flightdeck-e2e-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let text = plan.replace("@WS@", &root.display().to_string());
        let table: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("test plan is not TOML: {e}\n{text}"));
        let plan_name = table
            .get("plan")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .expect("test plan has [plan] name")
            .to_string();
        std::fs::write(root.join("flightdeck.toml"), text).expect("write plan");
        std::fs::create_dir(root.join(".io")).expect("io dir");
        let ws = Workspace {
            dir,
            plan_name,
            env: Vec::new(),
            spawned: 0,
        };
        match shared_store_for_tests() {
            Some(url) => ws.env("FLIGHTDECK_STORE", &url).env("PGPASSWORD", pg::PASSWORD),
            None => ws,
        }
    }

    /// A workspace with the plan fixture `tests/fixtures/engine/<name>`.
    pub fn from_fixture(name: &str) -> Workspace {
        let path = fixture(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Workspace::new(&text)
    }

    /// On local files whatever `FLIGHTDECK_TEST_STORE` says: for the tests of the file store's
    /// own files (a journal edited by hand, a torn line); on a shared store the database refuses
    /// such edits itself (`tests/suite/pg_store.rs`).
    pub fn on_files(mut self) -> Workspace {
        self.env
            .retain(|(k, _)| k != "FLIGHTDECK_STORE" && k != "PGPASSWORD");
        self.env("FLIGHTDECK_STORE", "")
    }

    /// The shared store's variables of this workspace as shell assignments (`KEY='value' ...`),
    /// for commands started another way (the cockpit under tmux); empty on local files.
    pub fn store_env(&self) -> String {
        self.env
            .iter()
            .filter(|(k, _)| k == "FLIGHTDECK_STORE" || k == "PGPASSWORD")
            .map(|(k, v)| format!("{k}='{v}' "))
            .collect()
    }

    /// Set an environment variable for every later command of this workspace.
    pub fn env(mut self, key: &str, value: &str) -> Workspace {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.file(name).exists()
    }

    /// The contents of a workspace file ("" when it does not exist yet).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    pub fn touch(&self, name: &str) {
        std::fs::write(self.file(name), "").expect("touch");
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path().join("data")
    }

    pub fn plan_name(&self) -> &str {
        &self.plan_name
    }

    pub fn release_dir(&self, id: &str) -> PathBuf {
        self.data_dir().join("plans").join(&self.plan_name).join(id)
    }

    pub fn journal_path(&self, id: &str) -> PathBuf {
        self.release_dir(id).join("journal.jsonl")
    }

    /// The environment every command of this workspace gets.
    fn vars(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            (
                "FLIGHTDECK_DATA_DIR".to_string(),
                self.data_dir().display().to_string(),
            ),
            ("FLIGHTDECK_GRACE".to_string(), "1s".to_string()),
            ("FLIGHTDECK_USER".to_string(), "tester".to_string()),
            ("NO_COLOR".to_string(), "1".to_string()),
            // The tester's own cockpit settings stay out of the tests.
            ("FLIGHTDECK_SETTINGS".to_string(), String::new()),
            // Expected errors (usage, refusals) are eyre reports; with RUST_BACKTRACE=1 inherited
            // from the test runner each would capture and symbolize a backtrace (~0.5 s in a
            // debug build). Panics keep RUST_BACKTRACE.
            ("RUST_LIB_BACKTRACE".to_string(), "0".to_string()),
        ];
        vars.extend(self.env.iter().cloned());
        vars
    }

    /// `flightdeck ARGS` in the workspace, to run to completion (assert_cmd).
    pub fn flightdeck<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::cargo_bin("flightdeck").expect("the flightdeck binary");
        cmd.current_dir(self.path())
            .env_remove("FLIGHTDECK_PLAN")
            .env_remove("FLIGHTDECK_STORE")
            .envs(self.vars())
            .args(args)
            .timeout(DEADLINE);
        cmd
    }

    /// Run `flightdeck ARGS` to its end and check it exited with `code` (the failure shows both
    /// of its streams); its output, for further checks.
    #[track_caller]
    pub fn expect<I, S>(&self, args: I, code: i32) -> std::process::Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.flightdeck(args).output().expect("flightdeck ran");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}{}",
            stdout_of(&out),
            stderr_of(&out)
        );
        out
    }

    /// `flightdeck ARGS` started in the background; its output goes to files (so a full pipe never
    /// blocks it). Killed on drop if it is still running.
    pub fn spawn<I, S>(&mut self, args: I) -> Bg
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.spawned += 1;
        let out = self.path().join(".io").join(format!("bg{}.out", self.spawned));
        let err = self.path().join(".io").join(format!("bg{}.err", self.spawned));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        cmd.current_dir(self.path())
            .env_remove("FLIGHTDECK_PLAN")
            .env_remove("FLIGHTDECK_STORE")
            .envs(self.vars());
        let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(&err).expect("stderr file"));
        let child = cmd.spawn().expect("spawn flightdeck");
        let what = args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        Bg {
            child,
            out,
            err,
            what: format!("flightdeck {what}"),
            status: None,
        }
    }

    /// The journal of release `id`, one JSON value per complete line (a line being written is
    /// left out).
    pub fn journal(&self, id: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.journal_path(id)).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line is not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// The journal's events of one kind.
    pub fn events(&self, id: &str, kind: &str) -> Vec<Value> {
        self.journal(id)
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// Whether the journal has an event of `kind` for which `matches` holds.
    pub fn has_event(&self, id: &str, kind: &str, matches: impl Fn(&Value) -> bool) -> bool {
        self.events(id, kind).iter().any(matches)
    }

    /// `status ID --json`, which must succeed.
    pub fn status(&self, id: &str) -> Value {
        let out = self
            .flightdeck(["status", id, "--json"])
            .output()
            .expect("run status");
        assert!(
            out.status.success(),
            "status {id} --json failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
    }

    /// `status ID --json` when the release exists and status succeeds.
    pub fn try_status(&self, id: &str) -> Option<Value> {
        if !self.journal_path(id).exists() {
            return None;
        }
        let out = self.flightdeck(["status", id, "--json"]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Wait until `status ID --json` reports release state `state`.
    #[track_caller]
    pub fn wait_for_state(&self, id: &str, state: &str) -> Value {
        let mut last = None;
        let ok = poll_until(DEADLINE, || {
            last = self.try_status(id);
            last.as_ref().is_some_and(|s| s["state"] == state)
        });
        if !ok {
            panic!(
                "timed out after {DEADLINE:?} waiting until release {id} is {state}; last status: {}\njournal kinds: {:?}",
                last.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
                self.kinds(id)
            );
        }
        last.expect("status seen")
    }

    /// `run VERSION --detach`, then wait until the release waits at its gate.
    /// Start a release as `releaser` (so that `tester`, everyone's default identity, may approve
    /// it: nobody approves their own release) and wait until it reaches a gate.
    pub fn run_to_gate(&self, version: &str) {
        self.flightdeck(["run", version, "--detach", "--as", "releaser"])
            .assert()
            .success();
        self.wait_for_event(version, "gate_reached", |_| true);
    }

    /// Wait until the journal of `id` has an event of `kind` for which `matches` holds.
    #[track_caller]
    pub fn wait_for_event(&self, id: &str, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let mut found = None;
        let ok = poll_until(DEADLINE, || {
            found = self.events(id, kind).into_iter().find(|e| matches(e));
            found.is_some()
        });
        if !ok {
            panic!(
                "timed out after {DEADLINE:?} waiting for a `{kind}` event in release {id}; journal kinds: {:?}",
                self.kinds(id)
            );
        }
        found.expect("event seen")
    }

    /// The kinds of the journal's events, in order (for failure messages).
    pub fn kinds(&self, id: &str) -> Vec<String> {
        self.journal(id)
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    /// Every run log of release `id` (path, contents).
    pub fn logs(&self, id: &str) -> Vec<(PathBuf, String)> {
        let dir = self.release_dir(id).join("logs");
        let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .map(|p| {
                        let text =
                            String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).into_owned();
                        (p, text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The contents of `logs/<name>` of release `id` (panics when missing).
    pub fn log(&self, id: &str, name: &str) -> String {
        let path = self.release_dir(id).join("logs").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Pids of live processes that carry this workspace's data directory in their environment:
    /// everything the tests started here (drivers, detached drivers, stage commands).
    fn our_processes(&self) -> Vec<i32> {
        let needle = format!("FLIGHTDECK_DATA_DIR={}", self.data_dir().display());
        let me = std::process::id() as i32;
        let mut pids = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return pids;
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
            if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        for pid in self.our_processes() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// A `flightdeck` process running in the background.
pub struct Bg {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    what: String,
    status: Option<ExitStatus>,
}

impl Bg {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status once it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Wait (up to [`DEADLINE`]) for it to exit by itself; its exit code.
    #[track_caller]
    pub fn wait(&mut self) -> i32 {
        if !poll_until(DEADLINE, || self.try_exit().is_some()) {
            panic!(
                "timed out after {DEADLINE:?} waiting for `{}` to exit\n--- stdout\n{}--- stderr\n{}",
                self.what,
                self.stdout(),
                self.stderr()
            );
        }
        let status = self.status.expect("exited");
        use std::os::unix::process::ExitStatusExt;
        status
            .code()
            .unwrap_or_else(|| panic!("`{}` died of signal {:?}", self.what, status.signal()))
    }

    /// Send `sig` to it.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), sig).expect("signal the child");
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Both outputs, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- stdout of `{}`\n{}--- stderr\n{}",
            self.what,
            self.stdout(),
            self.stderr()
        )
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether process `pid` is gone: no longer in `/proc`, or only a zombie waiting to be reaped
/// (it has exited; a container's init may be slow to reap adopted orphans).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            matches!(state, Some("Z" | "X"))
        }
    }
}

/// Whether process `pid` is alive (exists and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    !process_gone(pid)
}

/// The pid a plan command wrote to `name` in the workspace, once the file is complete.
#[track_caller]
pub fn wait_for_pid_file(ws: &Workspace, name: &str) -> i32 {
    let mut pid = None;
    wait_until(DEADLINE, format!("{name} holds a pid"), || {
        let text = ws.read(name);
        pid = text.strip_suffix('\n').and_then(|t| t.trim().parse::<i32>().ok());
        pid.is_some()
    });
    pid.expect("pid read")
}

/// stdout of a finished assert_cmd output, as text.
pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The stage `id` of a `status --json` object.
#[track_caller]
pub fn stage<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no stage {id} in {status}"))
}

/// The `(stage, target)` of a journal event's run key, as `stage` or `stage/target`.
pub fn run_label(e: &Value) -> String {
    match e["target"].as_str() {
        Some(t) => format!("{}/{t}", e["stage"].as_str().unwrap_or("?")),
        None => e["stage"].as_str().unwrap_or("?").to_string(),
    }
}

/// What may be journaled after a `release_finished`, until a `rollback_started` (or an accepted
/// retry's `stage_retry`) opens the release again: requests (any process may append one), their
/// answers, and the driver started to answer them. Nothing of the finished release itself (no
/// run, check, tag or snapshot).
const AFTER_FINISH: [&str; 9] = [
    "cancel_requested",
    "retry_requested",
    "skip_requested",
    "rollback_requested",
    "recheck_requested",
    "request_handled",
    "driver_started",
    "rollback_started",
    "stage_retry",
];

/// Check the journal of release `id`: nothing but [`AFTER_FINISH`] kinds after a
/// `release_finished` (until a `rollback_started` reopens the release), which must be last, and no
/// request left unanswered.
#[track_caller]
pub fn assert_nothing_after_finish(ws: &Workspace, id: &str) {
    let journal = ws.journal(id);
    let kinds: Vec<&str> = journal
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("?"))
        .collect();
    let mut finished = false;
    for (i, e) in journal.iter().enumerate() {
        let kind = kinds[i];
        if finished && !AFTER_FINISH.contains(&kind) {
            panic!(
                "`{kind}` (seq {}) journaled after release_finished: {kinds:?}",
                e["seq"]
            );
        }
        match kind {
            "release_finished" => finished = true,
            "rollback_started" | "stage_retry" => finished = false,
            _ => {}
        }
    }
    assert!(finished, "release {id} has not finished: {kinds:?}");
    let answered: Vec<u64> = journal
        .iter()
        .filter(|e| e["kind"] == "request_handled")
        .filter_map(|e| e["request"].as_u64())
        .collect();
    for e in &journal {
        let kind = e["kind"].as_str().unwrap_or("?");
        if kind.ends_with("_requested") {
            let seq = e["seq"].as_u64().unwrap_or(0);
            assert!(
                answered.contains(&seq),
                "`{kind}` #{seq} was never answered: {kinds:?}"
            );
        }
    }
}

/// The `*.toml` plan fixtures in `tests/fixtures/plans/<kind>` (`good` or `bad`), sorted.
pub fn plan_fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plans")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}
