//! Stakeholder notifications: the plan's `[[notify]]`s hear of a release's events (a gate
//! waiting for people, a stage failed, a rollback started or finished, the release finished)
//! by webhook (JSON POSTed, with a `text` field Slack-compatible hooks show) or by a command
//! (the same JSON on its stdin).
//!
//! What is due is worked out from the journal, the single source of truth: every record a
//! rule hears of calls for one message, `(rule, about)`, until a `notify_sent` record says it
//! was delivered or given up. A sender process of its own (`flightdeck notify-send`, started by
//! the driver when a record calls for a message, one per release under `notify.lock`) delivers
//! them in order, retrying with exponential backoff, and journals every attempt's outcome. So
//! a slow, failing or hanging endpoint never delays the release (nor the driver's exit), and a
//! sender or driver killed midway loses nothing: the next one finds what is still due.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::state::ReleaseState;
use crate::event::{Event, Record};
use crate::journal::{Journal, JournalError, ReleaseDir};
use crate::mask::Masker;
use crate::plan::{Notify, NotifySink, Plan};

/// Who appends the outcomes.
pub const SENDER: &str = "notify";
/// The sender's lock file in the release folder: one sender per release.
pub const LOCK: &str = "notify.lock";
/// The first retry waits this long; each next one twice as long, at most [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One message a record calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The rule's index in the plan's `[[notify]]`s.
    pub rule: u32,
    /// The record it is about (its sequence number).
    pub about: u64,
    /// What happened, as `on` names it.
    pub event: &'static str,
    /// The environments it is about (empty: none in particular).
    pub envs: Vec<String>,
    /// One line for a person.
    pub text: String,
    /// The JSON sent.
    pub body: Value,
}

/// The environment of stage `id` in `plan`.
fn stage_env(plan: &Plan, id: &str) -> Vec<String> {
    plan.stages
        .iter()
        .find(|s| s.id == id)
        .and_then(|s| s.environment.clone())
        .into_iter()
        .collect()
}

/// The environments the release ran something on.
fn release_envs(st: &ReleaseState) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &st.stages {
        if let Some(env) = &s.decl.environment
            && s.targets.iter().any(|t| !t.attempts.is_empty())
            && !out.contains(env)
        {
            out.push(env.clone());
        }
    }
    out
}

/// What `rec` is, as `[[notify]] on` names it, the environments it is about, and one line
/// saying it (`st`: the release as folded so far, for names and gates).
fn describe(plan: &Plan, st: &ReleaseState, rec: &Record) -> Option<(&'static str, Vec<String>, String)> {
    let who = format!("{} {}", st.plan, st.id);
    Some(match &rec.event {
        Event::GateReached { stage, gate } => {
            let g = plan.gates.get(gate);
            let approvers = match g.map(|g| &g.approvers) {
                Some(a) if !a.is_empty() => {
                    let people = g
                        .and_then(|g| g.eligible.as_ref())
                        .map(|e| format!(" ({})", e.join(", ")))
                        .unwrap_or_default();
                    format!("{}{people}", a.join(", "))
                }
                _ => "anyone but whoever started it".to_string(),
            };
            let needed = g.map_or(1, |g| g.approvals);
            (
                "gate_waiting",
                stage_env(plan, stage),
                format!(
                    "{who} waits at gate {gate} before {stage}: {needed} approval(s) from {approvers}; approve with `flightdeck approve {} {gate}` or `a` in the cockpit",
                    st.id
                ),
            )
        }
        Event::StageFailed { stage, reason, .. } => (
            "stage_failed",
            stage_env(plan, stage),
            format!("{who}: stage {stage} failed: {reason}"),
        ),
        Event::RollbackStarted { reason, order } => {
            let mut envs: Vec<String> = Vec::new();
            for k in order {
                for e in stage_env(plan, &k.stage) {
                    if !envs.contains(&e) {
                        envs.push(e);
                    }
                }
            }
            (
                "rollback_started",
                envs,
                format!(
                    "{who}: rollback started ({} run(s) to undo): {reason}",
                    order.len()
                ),
            )
        }
        Event::RollbackFinished { ok } => (
            "rollback_finished",
            release_envs(st),
            if *ok {
                format!("{who}: rollback finished")
            } else {
                format!("{who}: rollback FAILED: it needs a person")
            },
        ),
        Event::ReleaseFinished { state, reason } => {
            let word = state.as_str().replace('_', " ");
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            (
                "release_finished",
                release_envs(st),
                format!("{who} {word}{reason}"),
            )
        }
        _ => return None,
    })
}

/// The messages `rec` calls for under the plan's rules.
pub fn messages(plan: &Plan, st: &ReleaseState, rec: &Record) -> Vec<Message> {
    if plan.notify.is_empty() {
        return Vec::new();
    }
    let Some((event, envs, text)) = describe(plan, st, rec) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, rule) in plan.notify.iter().enumerate() {
        if !rule.on.iter().any(|o| o == event) {
            continue;
        }
        if !rule.environments.is_empty() && !envs.iter().any(|e| rule.environments.contains(e)) {
            continue;
        }
        let body = json!({
            "text": text,
            "event": event,
            "plan": st.plan,
            "release": st.id,
            "version": st.version,
            "environments": envs,
            "seq": rec.seq,
            "at": rec.ts,
            "record": rec,
        });
        out.push(Message {
            rule: i as u32,
            about: rec.seq,
            event,
            envs: envs.clone(),
            text: text.clone(),
            body,
        });
    }
    out
}

/// Every message the journal's records call for, in order, with the state they were folded
/// into (what was said about them so far is in its `notifications`).
pub fn all_messages(plan: &Plan, records: &[Record]) -> (Vec<Message>, ReleaseState) {
    let mut st = ReleaseState::default();
    let mut out = Vec::new();
    for rec in records {
        st.apply(rec);
        out.extend(messages(plan, &st, rec));
    }
    (out, st)
}

/// The release's `[[notify]]` messages in one line: how many were delivered, are being retried
/// or were given up, and the last trouble; `None` when there were none.
pub fn said(st: &ReleaseState) -> Option<String> {
    if st.notifications.is_empty() {
        return None;
    }
    let count = |o: &str| st.notifications.values().filter(|d| d.outcome == o).count();
    let mut line = format!(
        "notifications: {} delivered, {} retrying, {} given up",
        count("delivered"),
        count("retrying"),
        count("given_up")
    );
    if let Some(d) = st
        .notifications
        .values()
        .filter(|d| d.outcome != "delivered")
        .max_by_key(|d| d.at)
    {
        line.push_str(&format!(
            " (last: {} {} after attempt {}: {})",
            d.to,
            d.outcome.replace('_', " "),
            d.attempt,
            d.why
        ));
    }
    Some(line)
}

/// How long to wait before attempt `next` (2, 3, ...) of a message.
pub fn backoff(next: u32) -> Duration {
    let doublings = next.saturating_sub(2).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// A message still to deliver: when its next attempt is due, and which one it is.
#[derive(Debug, Clone)]
pub struct Due {
    pub message: Message,
    pub at: DateTime<Utc>,
    pub attempt: u32,
}

/// How each message's last attempt ended, by (rule, about), from a journal's `notify_sent`
/// records.
pub fn outcomes(records: &[Record]) -> std::collections::BTreeMap<(u32, u64), super::state::Delivery> {
    records.iter().filter_map(super::state::Delivery::of).collect()
}

/// Of `messages`, what is still due given how their attempts ended, earliest first.
pub fn still_due(
    messages: Vec<Message>,
    outcomes: &std::collections::BTreeMap<(u32, u64), super::state::Delivery>,
) -> Vec<Due> {
    let mut out: Vec<Due> = messages
        .into_iter()
        .filter_map(|m| match outcomes.get(&(m.rule, m.about)) {
            Some(d) if d.done() => None,
            Some(d) => {
                let next = d.attempt + 1;
                let wait = chrono::Duration::from_std(backoff(next)).unwrap_or_default();
                Some(Due {
                    at: d.at + wait,
                    attempt: next,
                    message: m,
                })
            }
            None => Some(Due {
                at: DateTime::<Utc>::MIN_UTC,
                attempt: 1,
                message: m,
            }),
        })
        .collect();
    out.sort_by_key(|d| (d.at, d.message.about, d.message.rule));
    out
}

/// What is still due for a release, earliest first, and the release as folded.
pub fn due(plan: &Plan, records: &[Record]) -> (Vec<Due>, ReleaseState) {
    let (all, st) = all_messages(plan, records);
    (still_due(all, &st.notifications), st)
}

/// The messages a plan's incidents journal calls for (`incident_opened`).
pub fn incident_messages(plan: &Plan, records: &[Record]) -> Vec<Message> {
    let mut out = Vec::new();
    for rec in records {
        let Event::IncidentOpened {
            number,
            env,
            release,
            summary,
        } = &rec.event
        else {
            continue;
        };
        let about = release
            .as_ref()
            .map(|r| format!(" (release {r})"))
            .unwrap_or_default();
        let text = format!(
            "{}: incident #{number} opened on {env}{about} by {}: {summary}",
            plan.name, rec.actor
        );
        for (i, rule) in plan.notify.iter().enumerate() {
            if !rule.on.iter().any(|o| o == "incident_opened")
                || (!rule.environments.is_empty() && !rule.environments.contains(env))
            {
                continue;
            }
            out.push(Message {
                rule: i as u32,
                about: rec.seq,
                event: "incident_opened",
                envs: vec![env.clone()],
                text: text.clone(),
                body: json!({
                    "text": text,
                    "event": "incident_opened",
                    "plan": plan.name,
                    "release": release,
                    "environments": [env],
                    "seq": rec.seq,
                    "at": rec.ts,
                    "record": rec,
                }),
            });
        }
    }
    out
}

/// The journal a sender works on: a release's, or its plan's incidents journal.
pub enum Source<'a> {
    Release(&'a ReleaseDir),
    /// The incidents journal's path.
    Incidents(&'a Path),
}

impl Source<'_> {
    fn journal(&self) -> std::path::PathBuf {
        match self {
            Source::Release(rdir) => rdir.journal(),
            Source::Incidents(path) => path.to_path_buf(),
        }
    }

    fn folder(&self) -> std::path::PathBuf {
        match self {
            Source::Release(rdir) => rdir.path.clone(),
            Source::Incidents(path) => path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        }
    }

    /// What is due, earliest first.
    fn due(&self, plan: &Plan, records: &[Record]) -> Vec<Due> {
        match self {
            Source::Release(_) => due(plan, records).0,
            Source::Incidents(_) => still_due(incident_messages(plan, records), &outcomes(records)),
        }
    }
}

/// Deliver one message to `rule`'s sink; why not.
pub fn deliver(rule: &Notify, plan_dir: &Path, body: &Value) -> Result<(), String> {
    let text = body.to_string();
    match &rule.sink {
        NotifySink::Webhook(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(rule.timeout))
                .http_status_as_error(false)
                .build()
                .into();
            let resp = agent
                .post(url.as_str())
                .header("content-type", "application/json")
                .send(text.as_bytes())
                .map_err(|e| match e {
                    ureq::Error::Timeout(_) => {
                        format!("no answer within {}", crate::plan::format_duration(rule.timeout))
                    }
                    e => e.to_string(),
                })?;
            let status = resp.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("HTTP {}", status.as_u16()))
            }
        }
        NotifySink::Run(cmd) => run(cmd, plan_dir, rule.timeout, &text),
    }
}

/// `sh -c cmd` in `dir`, in a process group of its own, `input` on its stdin; it must exit 0
/// within `timeout` (else its group is ended).
fn run(cmd: &str, dir: &Path, timeout: Duration, input: &str) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .env_remove("FLIGHTDECK_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine.
        let _ = stdin.write_all(input.as_bytes());
    }
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("it exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                return Err(format!(
                    "it did not end within {}",
                    crate::plan::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Deliver what is due for `source` until nothing is: each
/// attempt's outcome journaled (`notify_sent`), retried with backoff, given up after the rule's
/// retries. Returns at once when another sender holds the journal's lock.
pub fn send(source: Source<'_>, plan: &Plan, masker: Arc<Masker>) -> Result<(), JournalError> {
    let folder = source.folder();
    let lock_path = folder.join(LOCK);
    let lock = open_lock(&folder).map_err(crate::journal::io_error(&lock_path))?;
    if lock.try_lock().is_err() {
        return Ok(());
    }
    let path = source.journal();
    let waker = crate::journal::SyncWaker::watch(&folder);
    let mut journal = Journal::open(&path, masker)?;
    loop {
        let (records, warnings) = crate::journal::read_journal(&path)?;
        if let Some((line, reason)) = warnings.iter().find_map(crate::journal::LoadWarning::broken) {
            return Err(JournalError::Broken {
                path: path.clone(),
                line,
                reason: reason.to_string(),
            });
        }
        let due = source.due(plan, &records);
        let now = Utc::now();
        let Some(first) = due.first() else {
            // Nothing due: end, rather than idle while a release waits at a gate for days. A
            // record committed meanwhile is not lost: its driver starts a sender when it finds
            // the lock free, and while the lock was still held, this re-read after letting it go
            // sees the record.
            lock.unlock().map_err(crate::journal::io_error(&lock_path))?;
            let (records, _) = crate::journal::read_journal(&path)?;
            if source.due(plan, &records).is_empty() || lock.try_lock().is_err() {
                return Ok(());
            }
            continue;
        };
        if first.at > now {
            let wait = (first.at - now).to_std().unwrap_or_default();
            waker.wait(wait.min(Duration::from_secs(30)));
            continue;
        }
        let d = first.clone();
        // Messages come from the same plan's rules: never missing.
        let Some(rule) = plan.notify.get(d.message.rule as usize) else {
            return Ok(());
        };
        let outcome = deliver(rule, &plan.dir, &d.message.body);
        let (word, why) = match outcome {
            Ok(()) => ("delivered", String::new()),
            Err(why) if d.attempt > rule.retries => ("given_up", why),
            Err(why) => ("retrying", why),
        };
        journal.append(
            SENDER,
            vec![Event::NotifySent {
                rule: d.message.rule,
                about: d.message.about,
                to: rule.label(),
                event: d.message.event.to_string(),
                attempt: d.attempt,
                outcome: word.to_string(),
                why,
            }],
        )?;
    }
}

/// Whether the journal's records call for a message not delivered or given up yet.
pub fn pending(plan: &Plan, records: &[Record]) -> bool {
    !plan.notify.is_empty() && !due(plan, records).0.is_empty()
}

/// Start a sender for the release in `rdir` (in its own session, its output in the driver's
/// log) unless one holds the release's lock already.
pub fn spawn_sender(rdir: &ReleaseDir) -> std::io::Result<()> {
    let Some(mut cmd) = sender_command(&rdir.path)? else {
        return Ok(());
    };
    cmd.arg(&rdir.path);
    // The data directory the release lives in: `<data>/plans/<plan>/<release>`.
    if let Some(root) = rdir.path.ancestors().nth(3) {
        cmd.arg("--data-dir").arg(root);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(rdir.driver_log())?;
    cmd.stdout(log.try_clone()?).stderr(log);
    cmd.spawn().map(drop)
}

/// Start a sender for a plan's incidents journal (`incidents`: its path; `plan_file`: the plan
/// whose `[[notify]]`s it follows), unless one holds its lock already.
pub fn spawn_incidents_sender(
    incidents: &Path,
    plan_file: &Path,
    data_dir: Option<&Path>,
) -> std::io::Result<()> {
    let folder = incidents.parent().unwrap_or(Path::new("."));
    let Some(mut cmd) = sender_command(folder)? else {
        return Ok(());
    };
    cmd.arg("--incidents").arg(incidents).arg("--plan").arg(plan_file);
    if let Some(d) = data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.spawn().map(drop)
}

/// The sender's lock file in `folder`, opened (made when missing) but not locked.
fn open_lock(folder: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(folder.join(LOCK))
}

/// `flightdeck notify-send` detached (its own process group, no stdin); `None` when a sender
/// holds `folder`'s lock already.
fn sender_command(folder: &Path) -> std::io::Result<Option<std::process::Command>> {
    use std::os::unix::process::CommandExt;
    let busy = open_lock(folder).is_ok_and(|f| f.try_lock().is_err());
    if busy {
        return Ok(None);
    }
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("notify-send").stdin(Stdio::null()).process_group(0);
    Ok(Some(cmd))
}
