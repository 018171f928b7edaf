//! The headless observer: turns a release's journal and run logs into lines on a terminal or a
//! pipe, and formats `status`. It reads files only (like every observer), so it works the same for
//! the release this process drives and for one driven elsewhere.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ansi;
use crate::engine::state::{ReleaseState, StageStatus, TargetStatus};
use crate::event::{Event, Outcome, Record, RunKind};
use crate::journal::{ReleaseDir, SyncWaker, Tail};
use crate::plan::format_duration;
use crate::runlog::{LineKind, LogLineRef, LogParser};

/// Longest logical line kept when printing; the rest of a longer line is cut with a marker.
const PRINT_LINE_CAP: usize = 64 * 1024;

struct FollowedLog {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    parser: LogParser,
    prefix: Vec<u8>,
    /// The run is over: drain to the end once more, then drop.
    finished: bool,
}

/// Prints a release as it happens.
pub struct Printer<W: Write> {
    rdir: ReleaseDir,
    tail: Tail,
    pub state: ReleaseState,
    logs: BTreeMap<String, FollowedLog>,
    out: W,
    color: bool,
    /// Print run output (false: only state changes).
    pub output: bool,
    scratch: Vec<u8>,
}

impl<W: Write> Printer<W> {
    pub fn new(rdir: &ReleaseDir, out: W, color: bool) -> Self {
        Printer {
            rdir: rdir.clone(),
            tail: Tail::new(&rdir.journal()),
            state: ReleaseState::default(),
            logs: BTreeMap::new(),
            out,
            color,
            output: true,
            scratch: Vec::with_capacity(64 * 1024),
        }
    }

    /// Take in what the journal holds so far without printing it (for a driver taking over a
    /// release whose history was printed elsewhere); prints a one-line summary instead.
    pub fn skip_history(&mut self) -> io::Result<()> {
        let records = self.tail.poll().map_err(io::Error::other)?;
        for rec in &records {
            self.state.apply(rec);
        }
        if !records.is_empty() {
            let (done, total) = self.state.progress();
            writeln!(
                self.out,
                "release {}: {} {} ({}), {done}/{total} stages done so far ({} journal events)",
                ansi::clean(&self.state.id),
                ansi::clean(&self.state.plan),
                ansi::clean(&self.state.version),
                self.state.rtype,
                records.len()
            )?;
        }
        Ok(())
    }

    /// Print everything new. Call again whenever something changed.
    pub fn poll(&mut self) -> io::Result<()> {
        let records = self.tail.poll().map_err(io::Error::other)?;
        for rec in &records {
            // Output first, so a run's lines come before the line saying it finished.
            if let Event::RunFinished { run, run_kind, .. } = &rec.event {
                let key = self.run_log_key(&run.stage, run.target.as_deref(), run.attempt, *run_kind);
                if let Some(k) = key {
                    self.drain_one(&k, true)?;
                }
            }
            if let Event::CheckFinished { gate, item, .. } = &rec.event
                && let Some(log) = self
                    .state
                    .gate(gate)
                    .and_then(|g| g.checks[*item].as_ref())
                    .map(|c| c.log.clone())
            {
                self.drain_one(&log, true)?;
            }
            self.state.apply(rec);
            self.describe(rec)?;
            match &rec.event {
                Event::RunStarted { run, run_kind, log } if self.output => {
                    let mut prefix = format!("[{}", run.stage);
                    if let Some(t) = &run.target {
                        prefix.push('/');
                        prefix.push_str(t);
                    }
                    if *run_kind == RunKind::Rollback {
                        prefix.push_str(" rollback");
                    }
                    prefix.push_str("] ");
                    self.follow(log, ansi::clean(&prefix).into_owned());
                }
                Event::CheckStarted { gate, item, log } if self.output => {
                    let prefix = format!("[check {gate}#{}] ", item + 1);
                    self.follow(log, ansi::clean(&prefix).into_owned());
                }
                _ => {}
            }
        }
        let keys: Vec<String> = self.logs.keys().cloned().collect();
        for k in keys {
            self.drain_one(&k, false)?;
        }
        self.out.flush()
    }

    fn run_log_key(&self, stage: &str, target: Option<&str>, attempt: u32, kind: RunKind) -> Option<String> {
        let t = self.state.target(stage, target)?;
        let list = if kind == RunKind::Deploy {
            &t.attempts
        } else {
            &t.rollbacks
        };
        list.iter().find(|a| a.n == attempt).map(|a| a.log.clone())
    }

    fn follow(&mut self, log: &str, prefix: String) {
        // A log outside the release's folder (a hand-edited journal) is not followed.
        let Ok(path) = self.rdir.file(log) else {
            return;
        };
        self.logs.insert(
            log.to_string(),
            FollowedLog {
                path,
                file: None,
                offset: 0,
                parser: LogParser::new(PRINT_LINE_CAP),
                prefix: prefix.into_bytes(),
                finished: false,
            },
        );
    }

    fn drain_one(&mut self, key: &str, finished: bool) -> io::Result<()> {
        let Some(f) = self.logs.get_mut(key) else {
            return Ok(());
        };
        f.finished |= finished;
        if f.file.is_none() {
            match File::open(&f.path) {
                Ok(file) => f.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if f.finished {
                        self.logs.remove(key);
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        let file = f.file.as_mut().expect("opened");
        file.seek(SeekFrom::Start(f.offset))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut sink = LineSink {
            scratch: &mut self.scratch,
            prefix: &f.prefix,
            color: self.color,
        };
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            f.offset += n as u64;
            emit(&mut self.out, &mut f.parser, Some(&buf[..n]), &mut sink)?;
        }
        if f.finished {
            emit(&mut self.out, &mut f.parser, None, &mut sink)?;
        }
        self.out.write_all(&self.scratch)?;
        self.scratch.clear();
        if f.finished {
            self.logs.remove(key);
        }
        Ok(())
    }

    fn describe(&mut self, rec: &Record) -> io::Result<()> {
        let st = &self.state;
        // Every value in these lines came from the journal (names, notes, reasons, messages):
        // each line is cleaned as a whole, so none can style the terminal or fake a line.
        let mut two_lines = false;
        let line = match &rec.event {
            Event::ReleaseCreated {
                id,
                version,
                rtype,
                plan,
                stages,
                only,
                ..
            } => Some(format!(
                "release {id}: {plan} {version} ({rtype}{}), {} stage(s)",
                crate::engine::state::partial_text(only)
                    .map(|p| format!(", {p}"))
                    .unwrap_or_default(),
                stages.len()
            )),
            Event::DriverStarted { pid, .. } => Some(format!("driver started (pid {pid})")),
            Event::DriverStopped { reason, .. } => Some(format!("driver stopped: {reason}")),
            Event::ReleaseFinished { state, reason } => {
                let word = st.state_word(false);
                let _ = state;
                Some(if reason.is_empty() {
                    format!("release {} {word}", st.id)
                } else {
                    format!("release {} {word}: {reason}", st.id)
                })
            }
            Event::StageWaiting { stage, reason, .. } => Some(format!("stage {stage} {reason}")),
            Event::RunStarted { run, run_kind, .. } => {
                let what = if *run_kind == RunKind::Rollback {
                    "rollback started"
                } else {
                    "started"
                };
                let attempt = if run.attempt > 1 {
                    format!(" (attempt {})", run.attempt)
                } else {
                    String::new()
                };
                Some(format!(
                    "{} {what}{attempt}",
                    run_label(&run.stage, run.target.as_deref())
                ))
            }
            Event::RunFinished {
                run,
                run_kind,
                outcome,
                duration_ms,
            } => {
                let d = format_duration(Duration::from_millis(*duration_ms));
                let label = run_label(&run.stage, run.target.as_deref());
                let rb = if *run_kind == RunKind::Rollback {
                    " rollback"
                } else {
                    ""
                };
                let retry = match st.target(&run.stage, run.target.as_deref()) {
                    Some(t) if *run_kind == RunKind::Deploy && t.status() == TargetStatus::Retrying => {
                        format!(
                            "; retrying ({} of {} attempts used)",
                            t.attempts.len(),
                            t.allowed_attempts
                        )
                    }
                    _ => String::new(),
                };
                Some(format!("{label}{rb} {} after {d}{retry}", outcome_text(outcome)))
            }
            Event::StageSucceeded { stage } => Some(format!("stage {stage} succeeded")),
            Event::StageFailed {
                stage,
                on_failure,
                reason,
            } => Some(format!(
                "stage {stage} FAILED: {reason} (on_failure = {})",
                on_failure_word(*on_failure)
            )),
            Event::StageSkipped { stage, reason } => Some(format!("stage {stage} {reason}")),
            Event::StageRetry { stage, targets } => Some(format!(
                "stage {stage}: retry of {}",
                targets
                    .iter()
                    .map(|t| t.as_deref().unwrap_or(stage))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Event::EnvAcquired { env } => Some(format!("environment {env} is now held by release {}", st.id)),
            Event::EnvUnlocked { env, reason } => {
                Some(format!("environment {env} released by {}: {reason}", rec.actor))
            }
            Event::GateReached { stage, gate } => {
                let g = st.gate(gate);
                let missing = g.map(|g| g.missing()).unwrap_or_default();
                if missing.is_empty() {
                    Some(format!("stage {stage} reached gate {gate}: satisfied"))
                } else {
                    two_lines = true;
                    Some(format!(
                        "{}\n{}",
                        ansi::clean(&format!(
                            "stage {stage} waits at gate {gate}; missing: {}",
                            missing.join("; ")
                        )),
                        ansi::clean(&format!(
                            "  approve: flightdeck approve {} {gate}    tick: flightdeck tick {} {gate} ITEM",
                            st.id, st.id
                        ))
                    ))
                }
            }
            Event::CheckStarted { gate, item, .. } => Some(format!(
                "gate {gate}: checking item {} \"{}\"",
                item + 1,
                st.gate(gate)
                    .map(|g| g.decl.checklist[*item].0.as_str())
                    .unwrap_or("")
            )),
            Event::CheckFinished { gate, item, outcome } => Some(format!(
                "gate {gate}: check {} {}{}",
                item + 1,
                outcome_text(outcome),
                gate_tally(st, gate)
            )),
            Event::Approved { gate, .. } => Some(format!(
                "gate {gate}: approved by {}{}",
                rec.actor,
                gate_tally(st, gate)
            )),
            Event::Ticked { gate, item, .. } => Some(format!(
                "gate {gate}: item {} ticked by {}{}",
                item + 1,
                rec.actor,
                gate_tally(st, gate)
            )),
            Event::ReleaseScheduled { at } => Some(format!(
                "scheduled to start at {}",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            Event::FreezeOverridden { reason } => {
                Some(format!("freeze overridden by {}: {reason}", rec.actor))
            }
            Event::ApprovalRefused { gate, asked, reason } => {
                Some(format!("gate {gate}: {asked} by {} refused: {reason}", rec.actor))
            }
            Event::CancelRequested {} => Some(format!("cancel requested by {}", rec.actor)),
            Event::RejectRequested { gate, reason } => Some(format!(
                "gate {gate}: rejection requested by {}: {reason}",
                rec.actor
            )),
            Event::RetryRequested { stage, target } => Some(format!(
                "retry of {} requested by {}",
                run_label(stage, target.as_deref()),
                rec.actor
            )),
            Event::SkipRequested { stage, reason } => {
                Some(format!("skip of {stage} requested by {}: {reason}", rec.actor))
            }
            Event::RollbackRequested {
                stage,
                targets,
                forced_over,
            } => Some(format!(
                "rollback{}{} requested by {}{}",
                stage.as_ref().map(|s| format!(" from {s}")).unwrap_or_default(),
                if targets.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", targets.join(", "))
                },
                rec.actor,
                if forced_over.is_empty() {
                    String::new()
                } else {
                    format!(", forced over {}", forced_over.join("; "))
                }
            )),
            Event::RecheckRequested { gate, item } => Some(format!(
                "re-check of gate {gate} item {} requested by {}",
                item + 1,
                rec.actor
            )),
            Event::RequestHandled {
                request,
                accepted,
                message,
            } => {
                let verdict = if *accepted { "accepted" } else { "REFUSED" };
                Some(format!("request #{request} {verdict}: {message}"))
            }
            Event::RollbackStarted { reason, order } => Some(format!(
                "ROLLBACK ({reason}); order: {}",
                if order.is_empty() {
                    "nothing to roll back".to_string()
                } else {
                    order
                        .iter()
                        .map(|k| run_label(&k.stage, k.target.as_deref()))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )),
            Event::RollbackFinished { ok } => Some(if *ok {
                "rollback finished".to_string()
            } else {
                "ROLLBACK FAILED".to_string()
            }),
            Event::ReleaseCommits {
                base_tag,
                head,
                commits,
                omitted,
                notes,
                ..
            } => Some(format!(
                "ships {} commit(s) from {} to {}; release notes in {}",
                commits.len() + omitted,
                base_tag.as_deref().unwrap_or("the first commit"),
                &head[..head.len().min(7)],
                self.rdir.path.join(notes).display()
            )),
            Event::TagCreated { tag, commit } => Some(format!(
                "tagged {tag} at {} (not pushed)",
                &commit[..commit.len().min(7)]
            )),
            Event::DriftSnapshot {
                at, columns, errors, ..
            } => Some(format!(
                "drift snapshot at the release's {at}: {columns} column(s){}",
                if errors.is_empty() {
                    String::new()
                } else {
                    format!("; failed: {}", errors.join("; "))
                }
            )),
            Event::Note { message } => Some(format!("note: {message}")),
            Event::TrainJoined { train, workspace, .. } => {
                Some(format!("member of train {train} (workspace {workspace})"))
            }
            Event::TrainWaitOver {
                stage,
                need,
                ok: true,
                ..
            } => Some(format!("{stage}: {need} is through; it may start")),
            Event::TrainWaitOver { stage, reason, .. } => Some(format!("{stage}: not run: {reason}")),
            Event::RunSpawned { .. }
            | Event::IncidentOpened { .. }
            | Event::IncidentResolved { .. }
            | Event::IncidentLinked { .. }
            | Event::ReviewNoted { .. }
            | Event::NotifySent { .. }
            | Event::ActionAdded { .. }
            | Event::ActionClosed { .. }
            | Event::FreezeAdded { .. }
            | Event::FreezeRemoved { .. }
            | Event::TrainStarted { .. }
            | Event::TrainMember { .. }
            | Event::TrainApproved { .. }
            | Event::TrainTicked { .. }
            | Event::TrainCancelRequested { .. }
            | Event::TrainRollbackStarted { .. }
            | Event::TrainMemberRolledBack { .. }
            | Event::TrainFinished { .. } => None,
        };
        if let Some(line) = line {
            let line = if two_lines {
                line
            } else {
                ansi::clean(&line).into_owned()
            };
            let ts = rec.ts.format("%H:%M:%S");
            writeln!(self.out, "{ts} {line}")?;
        }
        Ok(())
    }
}

fn gate_tally(st: &ReleaseState, gate: &str) -> String {
    match st.gate(gate) {
        Some(g) => format!(
            " (checklist {}/{}, approvals {}/{})",
            g.items_done(),
            g.decl.checklist.len(),
            g.counted(),
            g.decl.approvals
        ),
        None => String::new(),
    }
}

fn on_failure_word(o: crate::plan::OnFailure) -> &'static str {
    match o {
        crate::plan::OnFailure::Halt => "halt",
        crate::plan::OnFailure::Rollback => "rollback",
        crate::plan::OnFailure::Continue => "continue",
    }
}

pub fn run_label(stage: &str, target: Option<&str>) -> String {
    match target {
        Some(t) => format!("{stage}/{t}"),
        None => stage.to_string(),
    }
}

pub fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Succeeded => "succeeded".into(),
        Outcome::Failed { code: Some(c), .. } => format!("failed (exit {c})"),
        Outcome::Failed { signal: Some(s), .. } => format!("failed (signal {s})"),
        Outcome::Failed { .. } => "failed".into(),
        Outcome::TimedOut => "TIMED OUT".into(),
        Outcome::Cancelled => "cancelled".into(),
        Outcome::Interrupted => "interrupted (driver lost)".into(),
        Outcome::Error { message } => format!("could not run: {message}"),
    }
}

/// Formats log lines for a terminal or pipe into a buffer, flushing it in large writes.
struct LineSink<'a> {
    scratch: &'a mut Vec<u8>,
    prefix: &'a [u8],
    color: bool,
}

impl LineSink<'_> {
    fn line(&mut self, l: LogLineRef<'_>) {
        let s = &mut *self.scratch;
        s.extend_from_slice(self.prefix);
        match l.kind {
            LineKind::Note => {
                s.extend_from_slice(b"# ");
                ansi::sanitize_line(l.text, false, s);
            }
            LineKind::Stdout | LineKind::Stderr => ansi::sanitize_line(l.text, self.color, s),
        }
        if l.truncated {
            s.extend_from_slice(" [line cut]".as_bytes());
        }
        s.push(b'\n');
    }

    fn flush_if_full<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if self.scratch.len() >= 256 * 1024 {
            out.write_all(self.scratch)?;
            self.scratch.clear();
        }
        Ok(())
    }
}

/// Parse `bytes` and write the complete lines, prefixed, to `out`.
fn emit<W: Write>(
    out: &mut W,
    parser: &mut LogParser,
    bytes: Option<&[u8]>,
    sink: &mut LineSink<'_>,
) -> io::Result<()> {
    match bytes {
        Some(b) => parser.feed_with(b, |l| sink.line(l)),
        None => parser.finish_with(|l| sink.line(l)),
    }
    sink.flush_if_full(out)
}

/// Human-readable status of one release.
pub fn status_text(
    st: &ReleaseState,
    live_driver: Option<u32>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let word = st.state_word(live_driver.is_some());
    let (done, total) = st.progress();
    let elapsed = st
        .created_at
        .map(|c| {
            let end = st.finished.as_ref().map(|f| f.at).unwrap_or(now);
            format_duration((end - c).to_std().unwrap_or_default())
        })
        .unwrap_or_default();
    let driver = match live_driver {
        Some(0) => "driver running".to_string(),
        Some(pid) => format!("driver pid {pid}"),
        None => "no driver".to_string(),
    };
    // Names, reasons and messages come from the journal: each is cleaned (`c`) so none can
    // style the terminal or fake a line.
    let c = |v: &str| ansi::clean(v).into_owned();
    let partial = st.partial().map(|p| format!(", {}", c(&p))).unwrap_or_default();
    let _ = writeln!(
        s,
        "{} {} ({}{partial}) {word}, {done}/{total} stages, {elapsed}, {driver}",
        c(&st.plan),
        c(&st.id),
        st.rtype
    );
    if let Some(why) = &st.attention {
        let _ = writeln!(
            s,
            "  needs attention: {why}; nothing from this line on is acted on (`flightdeck verify` checks the journal)"
        );
    }
    if let Some(f) = &st.finished
        && !f.reason.is_empty()
    {
        let _ = writeln!(s, "  {}", c(&f.reason));
    }
    for stage in &st.stages {
        let mut line = format!("  {:<20} {:<16}", c(&stage.decl.id), stage.status.as_str());
        let fan = stage.targets.len() > 1 || stage.targets.first().is_some_and(|t| t.target.is_some());
        if fan {
            let ok = stage
                .targets
                .iter()
                .filter(|t| t.status() == TargetStatus::Succeeded)
                .count();
            let failed = stage
                .targets
                .iter()
                .filter(|t| t.status() == TargetStatus::Failed)
                .count();
            let running = stage
                .targets
                .iter()
                .filter(|t| t.status() == TargetStatus::Running)
                .count();
            let _ = write!(line, " {ok}/{} done", stage.targets.len());
            if running > 0 {
                let _ = write!(line, ", {running} running");
            }
            if failed > 0 {
                let _ = write!(line, ", {failed} failed");
            }
            // A rollback of some targets: which (the stage keeps its status).
            let rolled: Vec<&str> = stage
                .targets
                .iter()
                .filter(|t| t.rolled_back())
                .map(|t| t.label())
                .collect();
            if !rolled.is_empty() && stage.status != StageStatus::RolledBack {
                let _ = write!(line, ", rolled back: {}", rolled.join(", "));
            }
        } else if let Some(a) = stage.targets.first().and_then(|t| t.last()) {
            match a.duration_ms {
                Some(ms) => {
                    let _ = write!(line, " {}", format_duration(Duration::from_millis(ms)));
                }
                None => {
                    let ran = (now - a.started_at).to_std().unwrap_or_default();
                    let _ = write!(
                        line,
                        " for {}",
                        format_duration(Duration::from_secs(ran.as_secs()))
                    );
                }
            }
            if a.n > 1 {
                let _ = write!(line, " (attempt {})", a.n);
            }
        }
        if let Some(w) = &stage.waiting {
            let _ = write!(line, " {}", c(w));
        }
        if let Some(r) = &stage.reason
            && matches!(stage.status, StageStatus::Failed | StageStatus::Skipped)
        {
            let _ = write!(line, " ({})", c(r));
        }
        let _ = writeln!(s, "{}", line.trim_end());
        for g in &stage.decl.gates {
            if let Some(gs) = st.gate(g)
                && !stage.status.is_terminal()
                && stage.status != StageStatus::Running
            {
                let missing = gs.missing();
                // Who counts, then whose approval expired (it stays in the journal).
                let who: Vec<String> = gs
                    .approvals
                    .iter()
                    .filter(|a| !gs.expired(a))
                    .map(|a| c(&a.actor))
                    .collect();
                let expired: Vec<String> = gs
                    .approvals
                    .iter()
                    .filter(|a| gs.expired(a))
                    .map(|a| c(&a.actor))
                    .collect();
                let missing: Vec<String> = missing.iter().map(|m| c(m)).collect();
                let _ = writeln!(
                    s,
                    "      gate {}: checklist {}/{}, approvals {}/{}{}{}{}",
                    c(g),
                    gs.items_done(),
                    gs.decl.checklist.len(),
                    gs.counted(),
                    gs.decl.approvals,
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", who.join(", "))
                    },
                    if expired.is_empty() {
                        String::new()
                    } else {
                        format!(" (expired: {})", expired.join(", "))
                    },
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!("; missing: {}", missing.join("; "))
                    }
                );
            }
        }
    }
    let pending: Vec<String> = st
        .pending_requests()
        .map(|r| format!("{} by {}", r.kind, c(&r.actor)))
        .collect();
    if !pending.is_empty() {
        let _ = writeln!(s, "  pending requests: {}", pending.join(", "));
    }
    if let Some(line) = crate::engine::notify::said(st) {
        let _ = writeln!(s, "  {}", c(&line));
    }
    s
}

/// `status --json`: one object per release.
pub fn status_json(st: &ReleaseState, live_driver: Option<u32>) -> serde_json::Value {
    use serde_json::json;
    let stages: Vec<serde_json::Value> = st
        .stages
        .iter()
        .map(|s| {
            let targets: Vec<serde_json::Value> = s
                .targets
                .iter()
                .map(|t| {
                    json!({
                        "target": t.target,
                        "state": target_word(t.status()),
                        "attempts": t.attempts.iter().map(|a| json!({
                            "attempt": a.n,
                            "outcome": a.outcome.as_ref().map(outcome_word),
                            "duration_ms": a.duration_ms,
                            "log": a.log,
                        })).collect::<Vec<_>>(),
                        "rollbacks": t.rollbacks.iter().map(|a| json!({
                            "attempt": a.n,
                            "outcome": a.outcome.as_ref().map(outcome_word),
                            "log": a.log,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "id": s.decl.id,
                "state": s.status.as_str(),
                "attempts": s.targets.iter().map(|t| t.attempts.len()).max().unwrap_or(0),
                "waiting": s.waiting,
                "reason": s.reason,
                "targets": targets,
            })
        })
        .collect();
    let gates: Vec<serde_json::Value> = st
        .gates
        .iter()
        .map(|g| {
            json!({
                "name": g.decl.name,
                "satisfied": g.satisfied(),
                "approvals_needed": g.decl.approvals,
                "approvals": g.approvals.iter().map(|a| json!({"by": a.actor, "at": a.at, "note": a.note, "expired": g.expired(a)})).collect::<Vec<_>>(),
                "checklist": g.decl.checklist.iter().enumerate().map(|(i, (item, auto))| json!({
                    "item": item,
                    "automatic": auto,
                    "done": g.item_done(i),
                    "ticked_by": g.ticks[i].as_ref().map(|t| &t.actor),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "id": st.id,
        "plan": st.plan,
        "version": st.version,
        "type": st.rtype,
        "partial": !st.only.is_empty(),
        "only": st.only,
        "state": st.state_word(live_driver.is_some()),
        "driver": live_driver,
        "created_at": st.created_at,
        "finished_at": st.finished.as_ref().map(|f| f.at),
        "reason": st.attention.clone().or_else(|| st.finished.as_ref().map(|f| f.reason.clone())),
        "attention": st.attention,
        "env_holds": st.env_holds,
        "stages": stages,
        "gates": gates,
        "pending_requests": st.pending_requests().map(|r| json!({"seq": r.seq, "kind": r.kind, "by": r.actor})).collect::<Vec<_>>(),
        "notifications": st.notifications.iter().map(|((rule, about), d)| json!({"rule": rule, "about": about, "to": d.to, "event": d.event, "attempt": d.attempt, "outcome": d.outcome, "why": d.why, "at": d.at})).collect::<Vec<_>>(),
    })
}

fn target_word(s: TargetStatus) -> &'static str {
    match s {
        TargetStatus::Pending => "pending",
        TargetStatus::Running => "running",
        TargetStatus::Succeeded => "succeeded",
        TargetStatus::Retrying => "retrying",
        TargetStatus::Failed => "failed",
    }
}

pub fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed { .. } => "failed",
        Outcome::TimedOut => "timed_out",
        Outcome::Cancelled => "cancelled",
        Outcome::Interrupted => "interrupted",
        Outcome::Error { .. } => "error",
    }
}

/// Print a run log; with `follow`, keep printing appended output until `finished()` says the run
/// is over (then drain once more).
pub fn print_log<W: Write>(
    path: &Path,
    follow: bool,
    out: &mut W,
    color: bool,
    mut finished: impl FnMut() -> Option<bool>,
) -> io::Result<()> {
    let waker = if follow {
        path.parent().map(SyncWaker::watch)
    } else {
        None
    };
    let mut parser = LogParser::new(PRINT_LINE_CAP);
    let mut file: Option<File> = None;
    let mut scratch = Vec::with_capacity(512 * 1024);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let done = !follow || finished().unwrap_or(true);
        if file.is_none() {
            file = File::open(path).ok();
        }
        let mut sink = LineSink {
            scratch: &mut scratch,
            prefix: b"",
            color,
        };
        if let Some(f) = file.as_mut() {
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                emit(out, &mut parser, Some(&buf[..n]), &mut sink)?;
            }
        }
        if done {
            emit(out, &mut parser, None, &mut sink)?;
        }
        out.write_all(&scratch)?;
        scratch.clear();
        out.flush()?;
        if done {
            return Ok(());
        }
        if let Some(w) = &waker {
            w.wait(Duration::from_millis(500));
        }
    }
}
