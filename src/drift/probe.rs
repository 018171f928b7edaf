//! Running probes: `/bin/sh -c COMMAND` in the plan's directory, stdin `/dev/null`, in a process
//! group of its own that is ended as a whole at the timeout (SIGTERM, grace, SIGKILL), when the
//! output grows past the cap, when the probe is dropped half-way, and when the shell exits leaving
//! processes behind. Stdout is captured whole (bounded); of stderr only the last lines are kept.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::compare::ColumnError;
use super::format;
use super::state::State;
use crate::mask::Masker;
use crate::plan::{StateFormat, format_duration};
use crate::procgroup::{group_alive, terminate_group};

/// Lines of a probe's stderr kept for its error.
pub const STDERR_LINES: usize = 20;
/// Longest stderr line kept, in characters.
const STDERR_LINE_CHARS: usize = 300;
/// Bytes of stderr kept while reading (the tail).
const STDERR_KEEP: usize = 32 * 1024;
/// Default cap on a probe's stdout.
pub const DEFAULT_OUTPUT_CAP: usize = 64 << 20;
/// Default number of probes running at once.
pub const DEFAULT_PARALLEL: usize = 8;
/// How long output is still read after the probe's process group has ended.
const DRAIN: Duration = Duration::from_secs(1);

/// How probes run.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Probes running at once (at least 1).
    pub parallel: usize,
    /// Largest stdout accepted, in bytes; more is an error.
    pub output_cap: usize,
    /// Between SIGTERM and SIGKILL when a probe's group is ended.
    pub grace: Duration,
    /// Secret values, replaced by `***` in every value shown or saved (compared by their real
    /// values, see [`State::masked`]).
    pub masker: Arc<Masker>,
    /// When it turns `true` (a cancel), running probes are ended like at their timeout (SIGTERM,
    /// grace, SIGKILL of the group) and fail as "stopped"; probes not started yet do not start.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Resolves once `stop` is `true` (never without one).
pub async fn stopped(stop: Option<tokio::sync::watch::Receiver<bool>>) {
    match stop {
        Some(mut rx) => {
            if rx.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending().await,
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            parallel: DEFAULT_PARALLEL,
            output_cap: DEFAULT_OUTPUT_CAP,
            grace: Duration::from_secs(5),
            masker: Arc::new(Masker::new(Vec::new())),
            stop: None,
        }
    }
}

/// One probe to run: the column it fills and its rendered command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// `env` or `env/target`.
    pub column: String,
    pub env: String,
    pub target: Option<String>,
    /// The command with its placeholders already substituted.
    pub command: String,
    /// Where it runs (the plan's directory).
    pub cwd: PathBuf,
    /// Environment variables set for it (the environment's `vars`, `FLIGHTDECK_ENV`, ...).
    pub vars: Vec<(String, String)>,
    pub timeout: Duration,
    /// Forced output format; `None`: detected.
    pub format: Option<StateFormat>,
}

/// Ends the process group when dropped while armed (a probe abandoned half-way).
struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed && group_alive(self.pgid) {
            let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        }
    }
}

/// stdout went past the cap.
struct TooMuch;

/// Run one probe and read its output. Errors name what happened (`exit 3`, `timed out after 30s`,
/// `line 3: expected key=value, found "..."`) with the tail of the probe's stderr.
pub async fn run_probe(spec: &ProbeSpec, opts: &ProbeOptions) -> Result<State, ColumnError> {
    let error = |message: String, stderr: Vec<String>| ColumnError {
        column: spec.column.clone(),
        message,
        stderr,
    };
    if opts.stop.as_ref().is_some_and(|s| *s.borrow()) {
        return Err(error("stopped before it started".into(), Vec::new()));
    }
    let mut command = tokio::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.cwd)
        .envs(spec.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // The shared store's URL (a password may be in it) is flightdeck's, not the command's.
        .env_remove("FLIGHTDECK_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| {
        error(
            format!("could not start `sh -c {}`: {e}", spec.command),
            Vec::new(),
        )
    })?;
    let pgid = child.id().map_or(0, |p| p as i32);
    let mut guard = GroupGuard { pgid, armed: true };
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut out_task = tokio::spawn(read_capped(stdout, opts.output_cap, pgid));
    let mut err_task = tokio::spawn(read_tail(stderr));

    let mut deadline = tokio::time::Instant::now() + spec.timeout;
    let mut was_stopped = false;
    let status = tokio::select! {
        s = child.wait() => Some(s),
        _ = tokio::time::sleep_until(deadline) => None,
        _ = stopped(opts.stop.clone()) => {
            was_stopped = true;
            deadline = tokio::time::Instant::now();
            None
        }
    };
    if status.is_none() {
        terminate_group(pgid, opts.grace, Some(&mut child)).await;
    } else if group_alive(pgid) {
        // The shell is done; what it left in its group ends with it, so the pipes close.
        terminate_group(pgid, opts.grace, None).await;
    }
    guard.armed = group_alive(pgid);
    let status = match status {
        Some(s) => Some(s.map_err(|e| error(format!("waiting for the probe: {e}"), Vec::new()))?),
        None => {
            let _ = child.wait().await;
            None
        }
    };

    // Readers end once every writer is gone; a process that left the group may still hold a
    // pipe, so they get until the deadline (or a short drain after it).
    let drain_until = deadline.max(tokio::time::Instant::now() + DRAIN);
    let stderr_tail = match tokio::time::timeout_at(drain_until, &mut err_task).await {
        Ok(Ok(bytes)) => tail_lines(&opts.masker.mask(&bytes)),
        _ => {
            err_task.abort();
            Vec::new()
        }
    };
    let output = match tokio::time::timeout_at(drain_until, &mut out_task).await {
        Ok(Ok(r)) => Some(r),
        _ => {
            out_task.abort();
            None
        }
    };

    let Some(status) = status else {
        let why = if was_stopped {
            "stopped (the release was cancelled)".to_string()
        } else {
            format!("timed out after {}", format_duration(spec.timeout))
        };
        return Err(error(why, stderr_tail));
    };
    let bytes = match output {
        Some(Ok(Ok(bytes))) => bytes,
        Some(Ok(Err(TooMuch))) => {
            return Err(error(
                format!("printed more than {} on stdout", size(opts.output_cap)),
                stderr_tail,
            ));
        }
        Some(Err(e)) => return Err(error(format!("reading the probe's output: {e}"), stderr_tail)),
        None => {
            return Err(error(
                format!(
                    "timed out after {} (a process it started kept its output open)",
                    format_duration(spec.timeout)
                ),
                stderr_tail,
            ));
        }
    };
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let message = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => match Signal::try_from(sig) {
                Ok(s) => format!("killed by {s}"),
                Err(_) => format!("killed by signal {sig}"),
            },
            (None, None) => "ended abnormally".to_string(),
        };
        return Err(error(message, stderr_tail));
    }

    // Parsed as printed (a secret inside JSON or TOML must not break the syntax), then masked
    // entry by entry: a masked value keeps a seal of the real one, so two environments whose
    // secrets differ do not look the same.
    let forced = spec.format;
    let masker = opts.masker.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let text =
            String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        format::parse(text, forced).map(|(state, _)| state.masked(&masker))
    })
    .await;
    match parsed {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(e)) => {
            let message = match forced {
                Some(f) => format!("{e} (format = \"{f}\")"),
                None => e.to_string(),
            };
            Err(error(opts.masker.mask_str(&message).into_owned(), stderr_tail))
        }
        Err(e) => Err(error(format!("reading the probe's output: {e}"), stderr_tail)),
    }
}

/// Run every probe, at most `opts.parallel` at once; results in the order of `specs`.
pub async fn run_probes(specs: Vec<ProbeSpec>, opts: &ProbeOptions) -> Vec<Result<State, ColumnError>> {
    let limit = Arc::new(Semaphore::new(opts.parallel.max(1)));
    let mut set = JoinSet::new();
    let columns: Vec<String> = specs.iter().map(|s| s.column.clone()).collect();
    for (i, spec) in specs.into_iter().enumerate() {
        let limit = limit.clone();
        let opts = opts.clone();
        set.spawn(async move {
            let _permit = limit
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            (i, run_probe(&spec, &opts).await)
        });
    }
    let mut results: Vec<Option<Result<State, ColumnError>>> = columns.iter().map(|_| None).collect();
    while let Some(done) = set.join_next().await {
        if let Ok((i, r)) = done {
            results[i] = Some(r);
        }
    }
    results
        .into_iter()
        .zip(columns)
        .map(|(r, column)| {
            r.unwrap_or_else(|| {
                Err(ColumnError {
                    column,
                    message: "the probe's task failed".to_string(),
                    stderr: Vec::new(),
                })
            })
        })
        .collect()
}

/// All of `reader`, unless it grows past `cap` bytes: then the probe's group is killed.
async fn read_capped<R: AsyncRead + Unpin>(
    mut reader: R,
    cap: usize,
    pgid: i32,
) -> std::io::Result<Result<Vec<u8>, TooMuch>> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        if buf.capacity() - buf.len() < 64 * 1024 {
            buf.reserve(buf.len().clamp(64 * 1024, 8 << 20));
        }
        let n = reader.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(Ok(buf));
        }
        if buf.len() > cap {
            if pgid > 0 {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
            return Ok(Err(TooMuch));
        }
    }
}

/// The last [`STDERR_KEEP`] bytes of `reader`.
async fn read_tail<R: AsyncRead + Unpin>(mut reader: R) -> Vec<u8> {
    let mut keep: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return keep,
            Ok(n) => {
                keep.extend_from_slice(&chunk[..n]);
                if keep.len() > 2 * STDERR_KEEP {
                    keep.drain(..keep.len() - STDERR_KEEP);
                }
            }
        }
    }
}

/// The last [`STDERR_LINES`] non-empty lines of `bytes`, each at most [`STDERR_LINE_CHARS`].
fn tail_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text
        .lines()
        .rev()
        .map(|l| l.trim_end())
        .filter(|l| !l.is_empty())
        .take(STDERR_LINES)
        .map(|l| {
            let mut s: String = l.chars().take(STDERR_LINE_CHARS).collect();
            if s.len() < l.len() {
                s.push('…');
            }
            s
        })
        .collect();
    lines.reverse();
    lines
}

/// `64 MiB`, `512 KiB`, `100 bytes`.
fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &str) -> ProbeSpec {
        ProbeSpec {
            column: "prod/eu".into(),
            env: "prod".into(),
            target: Some("eu".into()),
            command: command.into(),
            cwd: std::env::temp_dir(),
            vars: vec![("FLIGHTDECK_TARGET".into(), "eu".into())],
            timeout: Duration::from_secs(20),
            format: None,
        }
    }

    fn opts() -> ProbeOptions {
        ProbeOptions {
            grace: Duration::from_millis(200),
            ..ProbeOptions::default()
        }
    }

    fn run(spec: &ProbeSpec, opts: &ProbeOptions) -> Result<State, ColumnError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_probe(spec, opts))
    }

    #[test]
    fn reads_the_output_with_the_variables_set() {
        let state = run(&spec("echo \"target=$FLIGHTDECK_TARGET\"; echo 'a.b=1'"), &opts()).unwrap();
        assert_eq!(state.iter().collect::<Vec<_>>(), [("target", "eu"), ("a.b", "1")]);
    }

    #[test]
    fn a_failure_names_the_exit_code_and_keeps_the_stderr_tail() {
        let e = run(
            &spec("for i in $(seq 1 30); do echo \"line $i\" >&2; done; exit 3"),
            &opts(),
        )
        .unwrap_err();
        assert_eq!(e.message, "exit 3");
        assert_eq!(e.stderr.len(), STDERR_LINES);
        assert_eq!(e.stderr[0], "line 11");
        assert_eq!(e.stderr[19], "line 30");
    }

    #[test]
    fn a_timeout_ends_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut s = spec(&format!(
            "sleep 600 & echo $! > {}; echo started >&2; wait",
            pidfile.display()
        ));
        // Generous: the shell must have written the pid file and its line before the timeout,
        // even on a loaded machine.
        s.timeout = Duration::from_secs(3);
        let e = run(&s, &opts()).unwrap_err();
        assert_eq!(e.message, "timed out after 3s");
        assert_eq!(e.stderr, ["started"]);
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The background sleep was in the probe's group: gone (or a zombie awaiting its reaper).
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        assert!(
            matches!(state, None | Some("Z" | "X")),
            "sleep {pid} still runs: {stat}"
        );
    }

    #[test]
    fn a_stop_ends_the_whole_group_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let s = spec(&format!("sleep 600 & echo $! > {}; wait", pidfile.display()));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let o = ProbeOptions {
            stop: Some(rx),
            ..opts()
        };
        let started = std::time::Instant::now();
        let e = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let probe = run_probe(&s, &o);
                tokio::pin!(probe);
                loop {
                    tokio::select! {
                        r = &mut probe => break r,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {
                            if pidfile.exists() {
                                let _ = tx.send(true);
                            }
                        }
                    }
                }
            })
            .unwrap_err();
        assert!(e.message.starts_with("stopped"), "{}", e.message);
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        assert!(
            matches!(state, None | Some("Z" | "X")),
            "sleep {pid} still runs: {stat}"
        );
    }

    #[test]
    fn leftover_processes_do_not_hold_the_output_open() {
        let s = spec("sleep 600 & echo a=1");
        let started = std::time::Instant::now();
        let state = run(&s, &opts()).unwrap();
        assert_eq!(state.get("a"), Some("1"));
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    #[test]
    fn output_past_the_cap_is_an_error() {
        let o = ProbeOptions {
            output_cap: 100 << 10,
            ..opts()
        };
        let e = run(&spec("yes a=1"), &o).unwrap_err();
        assert_eq!(e.message, "printed more than 100 KiB on stdout");
    }

    #[test]
    fn garbage_names_the_line() {
        let e = run(
            &spec("printf 'a=1\\nb=2\\ngarbage here\\n'; echo oops >&2"),
            &opts(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "prod/eu: line 3: expected key=value, found \"garbage here\"\n  stderr: oops"
        );
        let mut forced = spec("echo a=1");
        forced.format = Some(StateFormat::Json);
        let e = run(&forced, &opts()).unwrap_err();
        assert_eq!(
            e.message,
            "line 1: expected a JSON object, found `a=1` (format = \"json\")"
        );
    }

    #[test]
    fn secrets_are_masked() {
        let o = ProbeOptions {
            masker: Arc::new(Masker::new(vec!["hunter2".to_string()])),
            ..opts()
        };
        let state = run(&spec("echo password=hunter2"), &o).unwrap();
        assert_eq!(state.get("password"), Some("***"));
    }

    #[test]
    fn secrets_are_masked_after_parsing_and_sealed() {
        let o = ProbeOptions {
            masker: Arc::new(Masker::new(vec!["4815162342".to_string(), "hunter2".to_string()])),
            ..opts()
        };
        // A secret as a JSON number: masking the text first would break the JSON.
        let state = run(
            &spec(r#"echo '{"pin": 4815162342, "user": "hunter2-x", "a": 1}'"#),
            &o,
        )
        .unwrap();
        assert_eq!(
            state.iter().collect::<Vec<_>>(),
            [("pin", "***"), ("user", "***-x"), ("a", "1")]
        );
        assert_eq!(state.seal(0), Some(crate::drift::state::seal_of("4815162342")));
        assert_eq!(state.seal(1), Some(crate::drift::state::seal_of("hunter2-x")));
        assert_eq!(state.seal(2), None);
        // An error quoting the output does not quote the secret.
        let e = run(&spec("echo 'hunter2 here'"), &o).unwrap_err();
        assert!(
            !e.message.contains("hunter2") && e.message.contains("***"),
            "{}",
            e.message
        );
    }

    #[test]
    fn secrets_equal_to_structure_are_masked_in_values_only() {
        // A secret that also spells a key, a JSON word or digits must not break the parse: the
        // output is read first, then keys and values are masked entry by entry.
        let o = ProbeOptions {
            masker: Arc::new(Masker::new(vec!["version".to_string(), "1234".to_string()])),
            ..opts()
        };
        let state = run(
            &spec(r#"echo '{"version": "v1234-x", "replicas": 12345, "note": "version"}'"#),
            &o,
        )
        .unwrap();
        assert_eq!(
            state.iter().collect::<Vec<_>>(),
            [("***", "v***-x"), ("replicas", "***5"), ("note", "***")]
        );
        let o = ProbeOptions {
            masker: Arc::new(Masker::new(vec!["true".to_string()])),
            ..opts()
        };
        let state = run(&spec(r#"echo '{"on": true, "off": false}'"#), &o).unwrap();
        assert_eq!(
            state.iter().collect::<Vec<_>>(),
            [("on", "***"), ("off", "false")]
        );
    }

    #[test]
    fn many_probes_keep_their_order() {
        let specs: Vec<ProbeSpec> = (0..12)
            .map(|i| ProbeSpec {
                column: format!("c{i}"),
                ..spec(&format!("echo n={i}"))
            })
            .collect();
        let results = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_probes(
                specs,
                &ProbeOptions {
                    parallel: 3,
                    ..opts()
                },
            ));
        let values: Vec<String> = results
            .iter()
            .map(|r| r.as_ref().unwrap().get("n").unwrap().to_string())
            .collect();
        assert_eq!(values, (0..12).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(64 << 20), "64 MiB");
        assert_eq!(size(100 << 10), "100 KiB");
        assert_eq!(size(100), "100 bytes");
    }
}
