//! Child processes: each command in its own process group with `/dev/null` as stdin, output pumped
//! to the run's log file, timeouts and cancels ending the whole group (SIGTERM, grace, SIGKILL).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::drift::{CheckOutcome, ProbeOptions};
use crate::event::{Outcome, RunKey, RunKind};
use crate::plan::format_duration;
use crate::plan::{DriftCheck, Plan, Watch};
use crate::procgroup::{group_alive, terminate_group};
use crate::runlog::{LogWriter, Masker, Stream, pump};

/// What the driver runs: a deploy or rollback run of a stage (per target), or an automatic check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Job {
    Run(RunKey, RunKind),
    Check { gate: String, item: usize },
}

/// Everything needed to run one job.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub job: Job,
    /// Rendered commands, run in order with `sh -c`; the first failure ends the job.
    pub commands: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub log_path: PathBuf,
    pub timeout: Option<Duration>,
    pub watch: Option<Watch>,
    pub grace: Duration,
    /// A drift checklist item: probe and compare in process instead of running `commands`.
    pub drift: Option<(Arc<Plan>, DriftCheck)>,
}

/// Reports from running jobs to the driver, in order per job.
#[derive(Debug)]
pub enum JobMsg {
    Spawned {
        job: Job,
        pgid: i32,
        command: usize,
    },
    Finished {
        job: Job,
        outcome: Outcome,
        duration: Duration,
    },
    /// Something the record should say about the job (its log could not be written).
    Note {
        job: Job,
        message: String,
    },
}

/// A handle to stop a job early; dropping it does nothing.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<watch::Sender<Option<Outcome>>>);

impl Stopper {
    /// Ask the job to end its processes; the job then finishes with `why`.
    pub fn stop(&self, why: Outcome) {
        self.0.send_if_modified(|cur| {
            if cur.is_none() {
                *cur = Some(why);
                true
            } else {
                false
            }
        });
    }
}

/// Start a job on the current runtime. Progress arrives on `tx`.
pub fn start(spec: JobSpec, masker: Arc<Masker>, tx: mpsc::UnboundedSender<JobMsg>) -> Stopper {
    let (stop_tx, stop_rx) = watch::channel(None);
    tokio::spawn(async move {
        let started = Instant::now();
        let job = spec.job.clone();
        let result = match spec.drift.clone() {
            Some((plan, check)) => run_drift_check(&spec, &plan, &check, masker, stop_rx).await,
            None => run_job(&spec, masker, &tx, stop_rx).await,
        };
        let outcome = match result {
            Ok(o) => o,
            Err(e) => Outcome::Error {
                message: format!(
                    "{} writing {}",
                    crate::runlog::io_error_text(&e),
                    spec.log_path.display()
                ),
            },
        };
        let _ = tx.send(JobMsg::Finished {
            job,
            outcome,
            duration: started.elapsed(),
        });
    });
    Stopper(Arc::new(stop_tx))
}

/// A drift checklist item: run the probes of the item's environment and its baseline, compare
/// them (after `ignore`), and log the drifting rows. In sync passes; drift fails; a probe that
/// cannot run is an error. A stop (cancel) or the timeout drops the evaluation, which ends the
/// probes' process groups.
async fn run_drift_check(
    spec: &JobSpec,
    plan: &Plan,
    check: &DriftCheck,
    masker: Arc<Masker>,
    mut stop: watch::Receiver<Option<Outcome>>,
) -> std::io::Result<Outcome> {
    let log = Arc::new(Mutex::new(
        LogWriter::create(&spec.log_path, Instant::now())?.with_masker(masker.clone()),
    ));
    let baseline = plan.baseline_for(check).unwrap_or("(no baseline)");
    note(
        &log,
        &format!("drift check: `{}` against `{baseline}`", check.env),
    );
    // A stop or the timeout ends the probes like stage commands (SIGTERM, grace, SIGKILL of each
    // group), and the evaluation is awaited until they are gone.
    let (end_probes, probes_stop) = watch::channel(false);
    let opts = ProbeOptions {
        grace: spec.grace,
        masker,
        stop: Some(probes_stop),
        ..Default::default()
    };
    let timeout = spec.timeout.unwrap_or(Duration::from_secs(300));
    let evaluation = crate::drift::evaluate_check(plan, check, &opts);
    tokio::pin!(evaluation);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ended: Option<Outcome> = None;
    let verdict = loop {
        tokio::select! {
            v = &mut evaluation => break v,
            _ = &mut deadline, if ended.is_none() => {
                note(&log, &format!("timed out after {}", format_duration(timeout)));
                ended = Some(Outcome::TimedOut);
                let _ = end_probes.send(true);
            }
            r = stop.wait_for(|s| s.is_some()), if ended.is_none() => {
                note(&log, "stopped");
                ended = Some(r.map(|s| s.clone().unwrap_or(Outcome::Cancelled)).unwrap_or(Outcome::Cancelled));
                let _ = end_probes.send(true);
            }
        }
    };
    if let Some(outcome) = ended {
        return Ok(outcome);
    }
    for line in verdict.report.lines() {
        note(&log, line);
    }
    note(&log, &verdict.summary);
    Ok(match verdict.outcome {
        CheckOutcome::InSync => Outcome::Succeeded,
        CheckOutcome::Drifted => Outcome::Failed {
            code: Some(1),
            signal: None,
            command: 0,
        },
        CheckOutcome::Error => Outcome::Error {
            message: verdict.summary,
        },
    })
}

async fn run_job(
    spec: &JobSpec,
    masker: Arc<Masker>,
    tx: &mpsc::UnboundedSender<JobMsg>,
    mut stop: watch::Receiver<Option<Outcome>>,
) -> std::io::Result<Outcome> {
    let start = Instant::now();
    let log = Arc::new(Mutex::new(
        LogWriter::create(&spec.log_path, start)?.with_masker(masker.clone()),
    ));
    let mut iteration = 0u32;
    loop {
        iteration += 1;
        if spec.watch.is_some() {
            note(
                &log,
                &format!(
                    "watch: iteration {iteration} at {}",
                    format_duration(start.elapsed())
                ),
            );
        }
        for (i, cmd) in spec.commands.iter().enumerate() {
            let outcome = run_command(spec, i, cmd, &masker, &log, tx, &mut stop).await?;
            if !outcome.is_success() {
                return Ok(outcome);
            }
        }
        let Some(w) = spec.watch else {
            return Ok(Outcome::Succeeded);
        };
        let elapsed = start.elapsed();
        if elapsed + w.every > w.window {
            note(
                &log,
                &format!(
                    "watch: passed {iteration} iteration(s) over {}",
                    format_duration(elapsed)
                ),
            );
            return Ok(Outcome::Succeeded);
        }
        tokio::select! {
            _ = tokio::time::sleep(w.every) => {}
            r = stop.wait_for(|s| s.is_some()) => {
                let why = r.map(|s| s.clone().unwrap_or(Outcome::Cancelled)).unwrap_or(Outcome::Cancelled);
                note(&log, "stopped between watch iterations");
                return Ok(why);
            }
        }
    }
}

fn note(log: &Arc<Mutex<LogWriter>>, text: &str) {
    if let Ok(mut w) = log.lock() {
        let _ = w.annotate(text);
    }
}

async fn run_command(
    spec: &JobSpec,
    index: usize,
    cmd: &str,
    masker: &Arc<Masker>,
    log: &Arc<Mutex<LogWriter>>,
    tx: &mpsc::UnboundedSender<JobMsg>,
    stop: &mut watch::Receiver<Option<Outcome>>,
) -> std::io::Result<Outcome> {
    if stop.borrow().is_some() {
        return Ok(stop.borrow().clone().unwrap_or(Outcome::Cancelled));
    }
    note(log, &format!("$ {cmd}"));
    let began = Instant::now();
    let mut command = tokio::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // The shared store's URL (a password may be in it) is flightdeck's, not the command's.
        .env_remove("FLIGHTDECK_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    // Its own process group, so a timeout or cancel ends the whole tree. (The driver runs in a
    // session of its own with no controlling terminal, so children cannot reach a terminal
    // either; without a pre_exec hook std can use posix_spawn, much cheaper than fork here.)
    command.process_group(0);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            note(log, &format!("could not start sh: {e}"));
            return Ok(Outcome::Error {
                message: format!("could not start `sh -c {cmd}`: {e}"),
            });
        }
    };
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    let _ = tx.send(JobMsg::Spawned {
        job: spec.job.clone(),
        pgid,
        command: index,
    });
    let out = tokio::spawn(pump(
        child.stdout.take().expect("piped"),
        Stream::Stdout,
        log.clone(),
        masker.clone(),
    ));
    let err = tokio::spawn(pump(
        child.stderr.take().expect("piped"),
        Stream::Stderr,
        log.clone(),
        masker.clone(),
    ));

    let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
    let sleep_until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let mut ended_by: Option<Outcome> = None;
    let status = tokio::select! {
        s = child.wait() => Some(s?),
        _ = sleep_until => { ended_by = Some(Outcome::TimedOut); None }
        r = stop.wait_for(|s| s.is_some()) => {
            ended_by = Some(r.map(|s| s.clone().unwrap_or(Outcome::Cancelled)).unwrap_or(Outcome::Cancelled));
            None
        }
    };
    let status = match status {
        Some(s) => s,
        None => {
            let why = ended_by.clone().unwrap_or(Outcome::Cancelled);
            let what = if why == Outcome::TimedOut {
                format!(
                    "timed out after {}",
                    format_duration(spec.timeout.unwrap_or_default())
                )
            } else {
                "stopping".to_string()
            };
            note(log, &format!("{what}: SIGTERM to process group {pgid}"));
            terminate_group(pgid, spec.grace, Some(&mut child)).await;
            child.wait().await?
        }
    };
    // The command is over; anything it left in its group (`sleep 1000 &`) ends with it, so no
    // process outlives its run and the output pipes reach end of file.
    if group_alive(pgid) {
        note(log, &format!("ending processes left in group {pgid}"));
        terminate_group(pgid, spec.grace, None).await;
    }
    let _ = out.await;
    let _ = err.await;
    // A log that could not be written (a full disk, EIO, a quota) is named on the record: the
    // run's output is incomplete, though its outcome is the command's own.
    let failure = log.lock().ok().and_then(|mut w| w.take_failure());
    if let Some(message) = failure {
        eprintln!("flightdeck driver: {message}");
        let _ = tx.send(JobMsg::Note {
            job: spec.job.clone(),
            message,
        });
    }

    use std::os::unix::process::ExitStatusExt;
    let took = format_duration(began.elapsed());
    let outcome = if let Some(why) = ended_by {
        why
    } else if status.success() {
        Outcome::Succeeded
    } else {
        Outcome::Failed {
            code: status.code(),
            signal: status.signal(),
            command: index,
        }
    };
    let summary = match (&outcome, status.code(), status.signal()) {
        (Outcome::Succeeded, _, _) => format!("exit 0 after {took}"),
        (Outcome::Failed { .. }, Some(c), _) => format!("exit {c} after {took}"),
        (Outcome::Failed { .. }, None, Some(s)) => format!("killed by signal {s} after {took}"),
        (Outcome::TimedOut, _, _) => format!("timed out after {took}"),
        (_, _, _) => format!("stopped after {took}"),
    };
    note(log, &summary);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `command` as a deploy run logging to `log_path`; every message until it finishes.
    fn run_to_end(command: &str, log_path: &std::path::Path) -> Vec<JobMsg> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let spec = JobSpec {
                job: Job::Run(
                    RunKey {
                        stage: "a".into(),
                        target: None,
                        attempt: 1,
                    },
                    RunKind::Deploy,
                ),
                commands: vec![command.to_string()],
                env: Vec::new(),
                cwd: std::env::temp_dir(),
                log_path: log_path.to_path_buf(),
                timeout: Some(Duration::from_secs(60)),
                watch: None,
                grace: Duration::from_millis(200),
                drift: None,
            };
            let _stopper = start(spec, Arc::new(Masker::default()), tx);
            let mut msgs = Vec::new();
            while let Some(m) = rx.recv().await {
                let done = matches!(m, JobMsg::Finished { .. });
                msgs.push(m);
                if done {
                    break;
                }
            }
            msgs
        })
    }

    #[test]
    fn a_full_log_disk_is_named_and_the_exit_status_kept() {
        let msgs = run_to_end(
            "seq 1 200000 || exit 7; echo done >&2; exit 3",
            std::path::Path::new("/dev/full"),
        );
        let notes: Vec<&str> = msgs
            .iter()
            .filter_map(|m| match m {
                JobMsg::Note { message, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(notes, ["no space left on device writing /dev/full"], "{msgs:?}");
        match msgs.last() {
            Some(JobMsg::Finished { outcome, .. }) => assert_eq!(
                *outcome,
                Outcome::Failed {
                    code: Some(3),
                    signal: None,
                    command: 0
                }
            ),
            other => panic!("{other:?}"),
        }
        // A run whose log was fine says nothing.
        let dir = tempfile::tempdir().unwrap();
        let msgs = run_to_end("seq 1 1000", &dir.path().join("a.log"));
        assert!(!msgs.iter().any(|m| matches!(m, JobMsg::Note { .. })), "{msgs:?}");
        assert!(matches!(
            msgs.last(),
            Some(JobMsg::Finished {
                outcome: Outcome::Succeeded,
                ..
            })
        ));
    }
}
