//! `flightdeck report RELEASE [--format md|html|json|junit] [-o FILE]`: everything a release's
//! journal (read with the chain checked, like every reader) and the plan's own journals say
//! about one release, in one document: the summary, the timeline of every run, the gates (ticks,
//! checks with their output, approvals and their signatures), the failed runs with the end of
//! their output, drift before and after, the release notes, the incidents and rollbacks, the
//! post-release review and what the release changed in the delivery metrics.
//!
//! [`gather`] builds a [`Report`] (the JSON format is that value serialised); `md`, `html`
//! (with the SVG Gantt chart of [`gantt`]) and `junit` render it. Text that came from people or
//! children is kept as journaled in the model and made safe by each renderer: sanitised
//! (`ansi::clean`) for Markdown, sanitised then escaped for HTML and XML.

pub mod gantt;
mod html;
mod junit;
mod md;

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::{Context, exit};
use crate::ansi;
use crate::drift::overview;
use crate::drift::snapshot::{self, Change};
use crate::engine::history::History;
use crate::engine::incidents::{Incident, Incidents};
use crate::engine::metrics::{self, By, Figures, Query};
use crate::engine::reviews::Reviews;
use crate::engine::state::{Attempt, ReleaseState, TargetStatus};
use crate::event::{Event, Record, Signed};
use crate::headless::{outcome_text, outcome_word};
use crate::journal::{self, ReleaseDir, Store};
use crate::plan::Plan;
use crate::runlog::{LineKind, LogParser};

/// Lines kept of a failed run's output.
pub const FAILED_TAIL: usize = 20;
/// Lines kept of an automatic check's output.
pub const CHECK_TAIL: usize = 10;
/// Longest line of a tail (a longer one is cut and says so).
const TAIL_LINE_CAP: usize = 2_000;
/// Of a bigger log only its last this many bytes are read for its tail.
const TAIL_READ: u64 = 1024 * 1024;
/// Commits listed (and looked up in git) at most; the rest are counted.
pub const COMMITS_LISTED: usize = 500;
/// Keys listed per drifting column, and changed keys per column.
const DRIFT_KEYS: usize = 20;
/// The length of the metrics window.
pub const METRICS_DAYS: i64 = 90;

/// The report's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Md,
    Html,
    Json,
    Junit,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Html => "html",
            Format::Json => "json",
            Format::Junit => "junit",
        }
    }
}

/// Everything the report says about one release.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub summary: Summary,
    /// Every stage in the plan's order, each target's deploy attempts and rollback runs.
    pub timeline: Vec<StageRow>,
    pub gates: Vec<GateRow>,
    /// Runs that ended other than succeeded, with the end of their output.
    pub failures: Vec<Failure>,
    pub drift: Drift,
    /// The commits the release ships (`None`: its journal names none, no git repository).
    pub notes: Option<NotesSection>,
    pub incidents: Vec<IncidentRow>,
    pub rollbacks: Rollbacks,
    pub review: ReviewSection,
    pub metrics: MetricsSection,
    /// What could not be read (a plan copy, a log, a plan journal): said, never hidden.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub plan: String,
    pub version: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub started_by: String,
    /// The release's state word (`succeeded`, `failed`, `running`...).
    pub state: String,
    /// Why it ended so (or why it needs attention); empty when nothing was said.
    pub reason: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// A partial release: the stages chosen.
    pub only: Vec<String>,
    /// The head commit it ships.
    pub commit: Option<String>,
    pub tag: Option<String>,
    /// The journal does not chain at some line (everything here is the fold of the lines before).
    pub attention: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    pub id: String,
    pub environment: Option<String>,
    pub status: &'static str,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    pub gates: Vec<String>,
    pub targets: Vec<TargetRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetRow {
    /// `None` for a stage that does not fan out.
    pub target: Option<String>,
    pub status: &'static str,
    pub attempts: Vec<Run>,
    pub rollbacks: Vec<Run>,
}

/// One run: a deploy attempt or a rollback run of a stage (on a target).
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub stage: String,
    pub target: Option<String>,
    /// `deploy` or `rollback`.
    pub kind: &'static str,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// `succeeded`, `failed`, `timed_out`, `cancelled`, `interrupted`, `error`; `None` while it
    /// runs.
    pub outcome: Option<&'static str>,
    /// The outcome in words (`failed (exit 3)`).
    pub outcome_text: Option<String>,
    /// Its log, relative to the release folder.
    pub log: String,
}

impl Run {
    /// `deploy/eu`, or `deploy` for a stage that does not fan out.
    pub fn label(&self) -> String {
        crate::headless::run_label(&self.stage, self.target.as_deref())
    }

    /// `deploy/eu attempt 2`, `deploy/eu rollback attempt 1`.
    pub fn name(&self) -> String {
        let kind = if self.kind == "rollback" { " rollback" } else { "" };
        format!("{}{kind} attempt {}", self.label(), self.attempt)
    }

    /// Ended, other than succeeded.
    pub fn failed(&self) -> bool {
        self.outcome.is_some_and(|o| o != "succeeded")
    }

    /// How long it ran (so far, at `now`, while it runs).
    pub fn ms(&self, now: DateTime<Utc>) -> i64 {
        match (self.duration_ms, self.finished_at) {
            (Some(ms), _) => ms as i64,
            (None, Some(end)) => (end - self.started_at).num_milliseconds(),
            (None, None) => (now - self.started_at).num_milliseconds(),
        }
        .max(0)
    }
}

/// The end of a log, as `flightdeck logs` prints it (sanitised, annotations as `# ...`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tail {
    pub lines: Vec<String>,
    /// Lines in the whole log (`None`: only its end was read, it is big).
    pub total: Option<usize>,
    /// Why there is no output to show (no log file, unreadable).
    pub missing: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    #[serde(flatten)]
    pub run: Run,
    /// The stage's reason when it failed (or was skipped) after this run.
    pub reason: Option<String>,
    pub tail: Tail,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateRow {
    pub name: String,
    /// The stage that reached it first, and when.
    pub reached_by: Option<String>,
    pub reached_at: Option<DateTime<Utc>>,
    pub satisfied: bool,
    pub approvals_needed: u32,
    /// Who may approve, as the plan wrote it (empty: anyone).
    pub approvers: Vec<String>,
    /// Approvals must be signed by a key in the gate's signers file.
    pub signed: bool,
    pub checklist: Vec<Item>,
    pub approvals: Vec<Approval>,
    /// Approvals (and rejections) that did not count, and why.
    pub refused: Vec<Refusal>,
    /// Approvals whose signature does not hold (`verify` names them too).
    pub bad_signatures: Vec<String>,
    /// Someone said no here.
    pub rejected: Option<Refusal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// 1-based.
    pub number: usize,
    pub text: String,
    pub automatic: bool,
    pub done: bool,
    pub ticked_by: Option<String>,
    pub ticked_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// The automatic check's latest run: its outcome and the end of its output, as evidence.
    pub check: Option<CheckRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    pub started_at: DateTime<Utc>,
    pub outcome: Option<&'static str>,
    pub outcome_text: Option<String>,
    pub log: String,
    pub tail: Tail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: String,
    /// Older than the gate's `expires` when it was reached: it does not count.
    pub expired: bool,
    pub signature: Option<SignatureRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignatureRow {
    /// The signing key's fingerprint (`SHA256:...`).
    pub key: Option<String>,
    /// Checked against the gate's signers file as journaled with the release.
    pub verified: bool,
    /// Why it does not hold, or why it was not checked.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub by: String,
    pub at: Option<DateTime<Utc>>,
    /// `approve` or `reject`.
    pub asked: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Drift {
    /// The snapshot taken when the release started (`None`: no drift snapshot).
    pub before: Option<DriftSide>,
    /// The one taken when it ended.
    pub after: Option<DriftSide>,
    /// What changed in each column from the start snapshot to the end one.
    pub changed: Vec<DriftChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftSide {
    /// `start` or `end`.
    pub at: String,
    pub file: String,
    pub taken_at: Option<DateTime<Utc>>,
    /// The column the others are compared with.
    pub baseline: Option<String>,
    pub keys: usize,
    pub columns: Vec<DriftColumn>,
    /// Probes that failed then (as journaled).
    pub errors: Vec<String>,
    /// Why the snapshot file could not be read.
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftColumn {
    pub name: String,
    pub baseline: bool,
    pub version: Option<String>,
    pub in_sync: bool,
    pub differs: usize,
    pub missing: usize,
    pub extra: usize,
    pub error: Option<String>,
    /// The first drifting keys, with the baseline's value and this column's.
    pub keys: Vec<DriftKey>,
    /// Drifting keys not listed.
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftKey {
    pub key: String,
    /// `differs`, `missing` or `extra`.
    pub mark: &'static str,
    pub baseline: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftChange {
    pub column: String,
    /// `prod/eu: 1 changed, 2 added`, `staging: no changes`.
    pub summary: String,
    pub changes: Vec<Change>,
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotesSection {
    pub base: Option<String>,
    pub base_tag: Option<String>,
    pub head: String,
    /// Newest first, at most [`COMMITS_LISTED`].
    pub commits: Vec<CommitRow>,
    /// Commits of the range not listed.
    pub omitted: usize,
    /// The notes grouped from conventional commits (Markdown).
    pub markdown: Option<String>,
    /// Where subjects and notes came from: `git` (the commits looked up by id), `notes file`
    /// (the release's notes.md as written when it started) or `journal` (ids and times only).
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitRow {
    pub sha: String,
    pub short: String,
    pub time: DateTime<Utc>,
    pub subject: Option<String>,
    pub author: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub scope: Option<String>,
    pub breaking: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    #[serde(flatten)]
    pub incident: Incident,
    /// `about this release`, or the recovery this release was for it (`rollback`, `redeploy`).
    pub relation: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Rollbacks {
    pub requests: Vec<RollbackRequest>,
    /// The latest rollback round the driver ran.
    pub round: Option<RollbackRound>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackRequest {
    pub by: String,
    pub at: DateTime<Utc>,
    pub stage: Option<String>,
    pub targets: Vec<String>,
    pub forced_over: Vec<String>,
    /// `None` while the driver has not answered.
    pub accepted: Option<bool>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackRound {
    pub reason: String,
    /// The order runs are undone in (`stage/target`).
    pub order: Vec<String>,
    /// `None` while it runs.
    pub ok: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReviewSection {
    pub went_well: Vec<Said>,
    pub went_wrong: Vec<Said>,
    pub actions: Vec<ActionRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Said {
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    pub number: u64,
    pub text: String,
    pub owner: String,
    pub due: chrono::NaiveDate,
    pub open: bool,
    pub overdue: bool,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsSection {
    pub env: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// How the figures were computed, in words.
    pub method: String,
    pub figures: Vec<MetricFigure>,
    /// Why there are no figures (unfinished, no environment, no index line).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricFigure {
    pub name: &'static str,
    /// `count`, `ratio` (0 to 1) or `seconds`.
    pub unit: &'static str,
    /// Without this release.
    pub before: Option<f64>,
    /// With it.
    pub after: Option<f64>,
    pub delta: Option<f64>,
}

impl Report {
    /// Every run, stage by stage in the plan's order, each target's deploy attempts then its
    /// rollback runs.
    pub fn runs(&self) -> impl Iterator<Item = &Run> + '_ {
        self.timeline.iter().flat_map(|s| {
            s.targets
                .iter()
                .flat_map(|t| t.attempts.iter().chain(t.rollbacks.iter()))
        })
    }

    /// The failure entry of a run, if it failed.
    pub fn failure_of(&self, run: &Run) -> Option<&Failure> {
        self.failures.iter().find(|f| {
            f.run.stage == run.stage
                && f.run.target == run.target
                && f.run.kind == run.kind
                && f.run.attempt == run.attempt
        })
    }

    /// The document in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Md => md::render(self),
            Format::Html => html::render(self),
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            Format::Junit => junit::render(self),
        }
    }
}

impl Context {
    /// `report RELEASE [--format F] [-o FILE]`.
    pub fn report(&self, release: &str, format: Format, output: Option<&Path>) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let store = self.store()?;
        let report = gather(&store, &rdir, rdir.live_driver().is_some(), Utc::now())?;
        for w in &report.warnings {
            crate::errln!("flightdeck: warning: {}", ansi::clean(w));
        }
        let text = report.render(format);
        match output {
            Some(path) => {
                write_file(path, text.as_bytes())?;
                crate::outln!(
                    "report of release {} written to {} ({}, {} bytes)",
                    ansi::clean(&report.summary.id),
                    path.display(),
                    format.as_str(),
                    text.len()
                );
            }
            None => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                    written => written?,
                }
            }
        }
        Ok(exit::OK)
    }
}

/// Write `bytes` to `path` through a temporary file renamed into place, so a reader never sees
/// half a report.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .wrap_err_with(|| format!("cannot write the report into {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .wrap_err_with(|| format!("cannot write the report to {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .wrap_err_with(|| format!("cannot write the report to {}", path.display()))?;
    Ok(())
}

/// Build the report of the release in `rdir`: its journal read with the chain checked (folded
/// up to the first line that does not chain, which the summary then names), its logs, and the
/// plan's incidents, reviews and finished-release index in `store`.
pub fn gather(store: &Store, rdir: &ReleaseDir, live_driver: bool, now: DateTime<Utc>) -> Result<Report> {
    let path = rdir.journal();
    let (records, loaded) = journal::read_journal(&path)?;
    let mut st = ReleaseState::from_records(&records);
    st.attention = journal::attention_reason(&path, &loaded);
    let mut warnings: Vec<String> = loaded
        .iter()
        .filter(|w| w.broken().is_none())
        .map(|w| format!("{}: {w}", path.display()))
        .collect();
    let plan = match crate::engine::driver::plan_for_release(rdir, &st) {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!("the release's plan copy: {e}"));
            None
        }
    };
    let summary = summary(&st, live_driver);
    let (timeline, failures) = timeline(rdir, &st);
    let gates = gates(rdir, &st, &records);
    let drift = drift(rdir, &st, plan.as_ref(), &records, &mut warnings);
    let notes = notes(rdir, &st, plan.as_ref(), &mut warnings);
    let all_incidents = match Incidents::of_plan(store, &st.plan).and_then(|i| i.load_lenient()) {
        Ok((list, broken)) => {
            if let Some(e) = broken {
                warnings.push(e.to_string());
            }
            list
        }
        Err(e) => {
            warnings.push(format!("incidents: {e}"));
            Vec::new()
        }
    };
    let incidents = incidents_of(&st.id, &all_incidents);
    let rollbacks = rollbacks(&st);
    let review = match Reviews::of_plan(store, &st.plan).and_then(|r| r.of_release(&st.id)) {
        Ok(r) => ReviewSection {
            went_well: r.went_well.iter().map(said).collect(),
            went_wrong: r.went_wrong.iter().map(said).collect(),
            actions: r
                .actions
                .iter()
                .map(|a| ActionRow {
                    number: a.number,
                    text: a.text.clone(),
                    owner: a.owner.clone(),
                    due: a.due,
                    open: a.is_open(),
                    overdue: a.overdue(now),
                    closed_by: a.closed.as_ref().map(|c| c.by.clone()),
                    closed_at: a.closed.as_ref().map(|c| c.at),
                    note: a
                        .closed
                        .as_ref()
                        .map(|c| c.text.clone())
                        .filter(|t| !t.is_empty()),
                })
                .collect(),
        },
        Err(e) => {
            warnings.push(format!("reviews: {e}"));
            ReviewSection::default()
        }
    };
    let metrics = metrics_section(store, &st, plan.as_ref(), &all_incidents, &mut warnings);
    Ok(Report {
        generated_at: now,
        summary,
        timeline,
        gates,
        failures,
        drift,
        notes,
        incidents,
        rollbacks,
        review,
        metrics,
        warnings,
    })
}

fn said(s: &crate::engine::reviews::Said) -> Said {
    Said {
        text: s.text.clone(),
        by: s.by.clone(),
        at: s.at,
    }
}

fn summary(st: &ReleaseState, live_driver: bool) -> Summary {
    let finished_at = st.finished.as_ref().map(|f| f.at);
    let reason = match (&st.attention, &st.finished) {
        (Some(why), _) => why.clone(),
        (None, Some(f)) => f.reason.clone(),
        (None, None) => String::new(),
    };
    Summary {
        id: st.id.clone(),
        plan: st.plan.clone(),
        version: st.version.clone(),
        rtype: st.rtype.as_str().to_string(),
        started_by: st.created_by.clone(),
        state: st.state_word(live_driver).to_string(),
        reason,
        started_at: st.created_at,
        finished_at,
        duration_ms: st
            .created_at
            .zip(finished_at)
            .map(|(a, b)| (b - a).num_milliseconds().max(0)),
        only: st.only.clone(),
        commit: st.commits.as_ref().map(|c| c.head.clone()),
        tag: st.tag.clone(),
        attention: st.attention.clone(),
    }
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

fn run_of(stage: &str, target: Option<&str>, kind: &'static str, a: &Attempt) -> Run {
    Run {
        stage: stage.to_string(),
        target: target.map(str::to_string),
        kind,
        attempt: a.n,
        started_at: a.started_at,
        finished_at: a.finished_at,
        duration_ms: a.duration_ms,
        outcome: a.outcome.as_ref().map(outcome_word),
        outcome_text: a.outcome.as_ref().map(outcome_text),
        log: a.log.clone(),
    }
}

/// The stages with their runs, and the runs that failed with the end of their output.
fn timeline(rdir: &ReleaseDir, st: &ReleaseState) -> (Vec<StageRow>, Vec<Failure>) {
    let mut failures = Vec::new();
    let rows = st
        .stages
        .iter()
        .map(|s| {
            let id = &s.decl.id;
            let targets = s
                .targets
                .iter()
                .map(|t| {
                    let tname = t.target.as_deref();
                    let attempts: Vec<Run> = t
                        .attempts
                        .iter()
                        .map(|a| run_of(id, tname, "deploy", a))
                        .collect();
                    let rollbacks: Vec<Run> = t
                        .rollbacks
                        .iter()
                        .map(|a| run_of(id, tname, "rollback", a))
                        .collect();
                    for (i, run) in attempts.iter().chain(rollbacks.iter()).enumerate() {
                        if run.failed() {
                            // The stage's reason belongs to its last deploy attempt.
                            let last = i + 1 == attempts.len();
                            failures.push(Failure {
                                run: run.clone(),
                                reason: s.reason.clone().filter(|_| last),
                                tail: read_tail(rdir, &run.log, FAILED_TAIL),
                            });
                        }
                    }
                    TargetRow {
                        target: t.target.clone(),
                        status: target_word(t.status()),
                        attempts,
                        rollbacks,
                    }
                })
                .collect();
            StageRow {
                id: id.clone(),
                environment: s.decl.environment.clone(),
                status: s.status.as_str(),
                started_at: s.started_at,
                finished_at: s.finished_at,
                reason: s.reason.clone(),
                gates: s.decl.gates.clone(),
                targets,
            }
        })
        .collect();
    (rows, failures)
}

/// The last `n` lines of the run log `rel` (relative to the release folder), sanitised as
/// `flightdeck logs` prints them. Of a log bigger than [`TAIL_READ`] only its end is read (its
/// first line may then be the end of a longer one).
pub fn read_tail(rdir: &ReleaseDir, rel: &str, n: usize) -> Tail {
    let path = match rdir.file(rel) {
        Ok(p) => p,
        Err(e) => {
            return Tail {
                missing: Some(e.to_string()),
                ..Tail::default()
            };
        }
    };
    match tail_of(&path, n) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tail {
            missing: Some("no output: the run wrote no log".into()),
            ..Tail::default()
        },
        Err(e) => Tail {
            missing: Some(format!("{}: {e}", path.display())),
            ..Tail::default()
        },
    }
}

fn tail_of(path: &Path, n: usize) -> std::io::Result<Tail> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let whole = len <= TAIL_READ;
    let mut bytes = Vec::with_capacity(len.min(TAIL_READ) as usize);
    if !whole {
        file.seek(SeekFrom::Start(len - TAIL_READ))?;
    }
    file.take(TAIL_READ).read_to_end(&mut bytes)?;
    let mut start = 0;
    if !whole {
        // From the first record boundary on.
        start = memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |i| i + 1);
    }
    let mut ring: VecDeque<Vec<u8>> = VecDeque::with_capacity(n + 1);
    let mut total = 0usize;
    let mut push = |kind: LineKind, text: &[u8], truncated: bool| {
        total += 1;
        if n == 0 {
            return;
        }
        let mut line = if ring.len() == n {
            let mut l = ring.pop_front().unwrap_or_default();
            l.clear();
            l
        } else {
            Vec::new()
        };
        if kind == LineKind::Note {
            line.extend_from_slice(b"# ");
        }
        ansi::sanitize_line(text, false, &mut line);
        if truncated {
            line.extend_from_slice(b" [line cut]");
        }
        ring.push_back(line);
    };
    let mut parser = LogParser::new(TAIL_LINE_CAP);
    parser.feed_with(&bytes[start..], |l| push(l.kind, l.text, l.truncated));
    parser.finish_with(|l| push(l.kind, l.text, l.truncated));
    Ok(Tail {
        lines: ring
            .into_iter()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .collect(),
        total: whole.then_some(total),
        missing: None,
    })
}

fn gates(rdir: &ReleaseDir, st: &ReleaseState, records: &[Record]) -> Vec<GateRow> {
    // The signatures and refusals live in the records (the fold keeps who and when).
    let mut signed: HashMap<(&str, &str, DateTime<Utc>), &Signed> = HashMap::new();
    let mut refused: Vec<(&str, Refusal)> = Vec::new();
    for r in records {
        match &r.event {
            Event::Approved {
                gate,
                signed: Some(s),
                ..
            } => {
                signed.insert((gate.as_str(), r.actor.as_str(), r.ts), s);
            }
            Event::ApprovalRefused { gate, asked, reason } => refused.push((
                gate.as_str(),
                Refusal {
                    by: r.actor.clone(),
                    at: Some(r.ts),
                    asked: asked.clone(),
                    reason: reason.clone(),
                },
            )),
            _ => {}
        }
    }
    st.gates
        .iter()
        .map(|g| {
            let name = g.decl.name.as_str();
            let checklist = g
                .decl
                .checklist
                .iter()
                .enumerate()
                .map(|(i, (text, automatic))| {
                    let tick = g.ticks.get(i).and_then(Option::as_ref);
                    let check = g.checks.get(i).and_then(Option::as_ref).map(|c| CheckRun {
                        started_at: c.started_at,
                        outcome: c.outcome.as_ref().map(outcome_word),
                        outcome_text: c.outcome.as_ref().map(outcome_text),
                        log: c.log.clone(),
                        tail: read_tail(rdir, &c.log, CHECK_TAIL),
                    });
                    Item {
                        number: i + 1,
                        text: text.clone(),
                        automatic: *automatic,
                        done: g.item_done(i),
                        ticked_by: tick.map(|t| t.actor.clone()),
                        ticked_at: tick.map(|t| t.at),
                        note: tick.map(|t| t.note.clone()).filter(|n| !n.is_empty()),
                        check,
                    }
                })
                .collect();
            let approvals = g
                .approvals
                .iter()
                .map(|a| {
                    let signature = signed
                        .get(&(name, a.actor.as_str(), a.at))
                        .map(|s| signature_row(st, g, &a.actor, a.at, s));
                    Approval {
                        by: a.actor.clone(),
                        at: a.at,
                        note: a.note.clone(),
                        expired: g.expired(a),
                        signature,
                    }
                })
                .collect();
            let prefix = format!("approval of gate {name} by ");
            GateRow {
                name: name.to_string(),
                reached_by: g.reached_by.clone(),
                reached_at: g.reached_at,
                satisfied: g.satisfied(),
                approvals_needed: g.decl.approvals,
                approvers: g.decl.approvers.clone(),
                signed: g.decl.signers.is_some(),
                checklist,
                approvals,
                refused: refused
                    .iter()
                    .filter(|(gate, _)| *gate == name)
                    .map(|(_, r)| r.clone())
                    .collect(),
                bad_signatures: st
                    .bad_signatures
                    .iter()
                    .filter(|(_, why)| why.starts_with(&prefix))
                    .map(|(line, why)| format!("journal line {line}: {why}"))
                    .collect(),
                rejected: st.rejected.as_ref().filter(|r| r.gate == name).map(|r| Refusal {
                    by: r.actor.clone(),
                    at: None,
                    asked: "reject".into(),
                    reason: r.reason.clone(),
                }),
            }
        })
        .collect()
}

fn signature_row(
    st: &ReleaseState,
    g: &crate::engine::state::GateState,
    actor: &str,
    at: DateTime<Utc>,
    s: &Signed,
) -> SignatureRow {
    let key = crate::sign::signer_fingerprint(&s.signature);
    if g.decl.signers.is_none() {
        return SignatureRow {
            key,
            verified: false,
            problem: Some("not checked: the gate takes unsigned approvals".into()),
        };
    }
    match st.check_signed(&g.decl, actor, Some(s), at, true) {
        Ok(()) => SignatureRow {
            key,
            verified: true,
            problem: None,
        },
        Err(why) => SignatureRow {
            key,
            verified: false,
            problem: Some(why),
        },
    }
}

fn drift(
    rdir: &ReleaseDir,
    st: &ReleaseState,
    plan: Option<&Plan>,
    records: &[Record],
    warnings: &mut Vec<String>,
) -> Drift {
    let mut events: HashMap<&str, (&str, &Vec<String>)> = HashMap::new();
    for r in records {
        if let Event::DriftSnapshot { at, file, errors, .. } = &r.event {
            events.insert(at.as_str(), (file.as_str(), errors));
        }
    }
    let mut loaded: Vec<Option<snapshot::Snapshot>> = Vec::new();
    let mut sides: Vec<Option<DriftSide>> = Vec::new();
    for at in ["start", "end"] {
        let Some((file, errors)) = events.get(at) else {
            loaded.push(None);
            sides.push(None);
            continue;
        };
        let snap = rdir
            .file(file)
            .map_err(|e| e.to_string())
            .and_then(|p| snapshot::load_snapshot(&p).map_err(|e| e.to_string()));
        let side = match &snap {
            Ok(snap) => {
                let o = overview::of_snapshot(plan, snap, Some(&st.version), format!("{file} of {}", st.id));
                DriftSide {
                    at: at.to_string(),
                    file: file.to_string(),
                    taken_at: Some(o.taken_at),
                    baseline: o.baseline.clone(),
                    keys: o.keys,
                    columns: o
                        .rows
                        .iter()
                        .map(|r| DriftColumn {
                            name: r.column.clone(),
                            baseline: r.baseline,
                            version: r.version.clone(),
                            in_sync: r.in_sync(),
                            differs: r.differs,
                            missing: r.missing,
                            extra: r.extra,
                            error: r.error.clone(),
                            keys: r
                                .diffs
                                .iter()
                                .take(DRIFT_KEYS)
                                .map(|k| DriftKey {
                                    key: k.key.clone(),
                                    mark: k.mark.as_str(),
                                    baseline: k.baseline.clone(),
                                    value: k.value.clone(),
                                })
                                .collect(),
                            more: r.more + r.diffs.len().saturating_sub(DRIFT_KEYS),
                        })
                        .collect(),
                    errors: errors.to_vec(),
                    unreadable: None,
                }
            }
            Err(why) => {
                warnings.push(format!("drift snapshot {file}: {why}"));
                DriftSide {
                    at: at.to_string(),
                    file: file.to_string(),
                    taken_at: None,
                    baseline: None,
                    keys: 0,
                    columns: Vec::new(),
                    errors: errors.to_vec(),
                    unreadable: Some(why.clone()),
                }
            }
        };
        loaded.push(snap.ok());
        sides.push(Some(side));
    }
    let changed = match (&loaded[0], &loaded[1]) {
        (Some(start), Some(end)) => {
            let ignore = plan.map(crate::drift::ignore_of).unwrap_or_default();
            snapshot::changes_since(start, &overview::snapshot_columns(end), &ignore)
                .into_iter()
                .map(|c| DriftChange {
                    column: c.column.clone(),
                    summary: c.summary(),
                    more: c.changes.len().saturating_sub(DRIFT_KEYS),
                    changes: c.changes.into_iter().take(DRIFT_KEYS).collect(),
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let after = sides.pop().flatten();
    let before = sides.pop().flatten();
    Drift {
        before,
        after,
        changed,
    }
}

fn notes(
    rdir: &ReleaseDir,
    st: &ReleaseState,
    plan: Option<&Plan>,
    warnings: &mut Vec<String>,
) -> Option<NotesSection> {
    let range = st.commits.as_ref()?;
    let listed = &range.commits[..range.commits.len().min(COMMITS_LISTED)];
    let omitted = range.omitted + (range.commits.len() - listed.len());
    let mut rows: Vec<CommitRow> = listed
        .iter()
        .map(|c| CommitRow {
            short: c.sha.chars().take(crate::git::SHORT_LEN).collect(),
            sha: c.sha.clone(),
            time: c.time,
            subject: None,
            author: None,
            kind: None,
            scope: None,
            breaking: false,
        })
        .collect();
    let notes_file = || -> Option<String> {
        let p = rdir.file(&range.notes_file).ok()?;
        crate::files::read_text_bounded(&p, crate::files::MAX_INPUT).ok()
    };
    let mut source = "journal";
    let mut markdown = None;
    // The commits looked up by id in the plan's repository: subjects, authors, the grouped notes.
    if !listed.is_empty()
        && let Some(plan) = plan
    {
        let shas: Vec<&str> = listed.iter().map(|c| c.sha.as_str()).collect();
        let base = range.base.as_deref().map(|b| (b, range.base_tag.as_deref()));
        match crate::git::Repo::open(plan).and_then(|repo| repo.notes_of_commits(base, &range.head, &shas)) {
            Ok((notes, missing)) => {
                let by_id: HashMap<String, &crate::git::Entry> =
                    notes.entries().map(|e| (e.commit.to_string(), e)).collect();
                for r in &mut rows {
                    if let Some(e) = by_id.get(&r.sha) {
                        r.subject = Some(e.subject.clone());
                        r.author = Some(e.author.clone());
                        r.kind = e.kind.map(str::to_string);
                        r.scope = e.scope.clone();
                        r.breaking = e.breaking;
                    }
                }
                if !missing.is_empty() {
                    warnings.push(format!(
                        "{} commit(s) of the release are not in the plan's git repository",
                        missing.len()
                    ));
                }
                if !notes.is_empty() {
                    markdown = Some(notes.markdown());
                    source = "git";
                }
            }
            Err(e) => warnings.push(format!("release notes: {e} (listing the journal's commits)")),
        }
    }
    if markdown.is_none()
        && let Some(text) = notes_file()
    {
        markdown = Some(text);
        source = "notes file";
    }
    Some(NotesSection {
        base: range.base.clone(),
        base_tag: range.base_tag.clone(),
        head: range.head.clone(),
        commits: rows,
        omitted,
        markdown,
        source,
    })
}

fn incidents_of(id: &str, all: &[Incident]) -> Vec<IncidentRow> {
    all.iter()
        .filter_map(|i| {
            let relation = if i.release.as_deref() == Some(id) {
                "about this release".to_string()
            } else {
                let link = i.links.iter().find(|l| l.release == id)?;
                format!("this release was its {}", link.kind)
            };
            Some(IncidentRow {
                incident: i.clone(),
                relation,
            })
        })
        .collect()
}

fn rollbacks(st: &ReleaseState) -> Rollbacks {
    let requests = st
        .requests
        .values()
        .filter_map(|r| match &r.event {
            Event::RollbackRequested {
                stage,
                targets,
                forced_over,
            } => Some(RollbackRequest {
                by: r.actor.clone(),
                at: r.at,
                stage: stage.clone(),
                targets: targets.clone(),
                forced_over: forced_over.clone(),
                accepted: r.handled.as_ref().map(|h| h.0),
                message: r.handled.as_ref().map(|h| h.1.clone()).filter(|m| !m.is_empty()),
            }),
            _ => None,
        })
        .collect();
    Rollbacks {
        requests,
        round: st.rollback.as_ref().map(|r| RollbackRound {
            reason: r.reason.clone(),
            order: r
                .order
                .iter()
                .map(|k| crate::headless::run_label(&k.stage, k.target.as_deref()))
                .collect(),
            ok: r.finished,
        }),
    }
}

/// The environment whose metrics the release changes: the plan's last in DAG order when the
/// release ran something there, else the last environment (in the plan's order) it ran on.
fn release_env(st: &ReleaseState, plan: Option<&Plan>) -> Option<String> {
    let ran_on = |env: &str| {
        st.stages.iter().any(|s| {
            s.decl.environment.as_deref() == Some(env) && s.targets.iter().any(|t| !t.attempts.is_empty())
        })
    };
    plan.and_then(metrics::last_env)
        .filter(|e| ran_on(e))
        .or_else(|| {
            st.stages
                .iter()
                .rev()
                .filter(|s| s.targets.iter().any(|t| !t.attempts.is_empty()))
                .find_map(|s| s.decl.environment.clone())
        })
}

fn metrics_section(
    store: &Store,
    st: &ReleaseState,
    plan: Option<&Plan>,
    incidents: &[Incident],
    warnings: &mut Vec<String>,
) -> MetricsSection {
    let none = |note: String| MetricsSection {
        note: Some(note),
        ..MetricsSection::default()
    };
    let Some(finished) = &st.finished else {
        return none("the release has not finished: it has changed no metric yet".into());
    };
    let Some(env) = release_env(st, plan) else {
        return none("the release ran nothing on an environment: no delivery metric counts it".into());
    };
    // Every deployment of the release (its last deploy run on the environment) is at or before
    // its finish: the window ends just after it.
    let to = finished.at + Duration::milliseconds(1);
    let from = to - Duration::days(METRICS_DAYS);
    let q = Query {
        env: env.clone(),
        from,
        to,
        by: By::Month,
        rework_window: Duration::hours(24),
    };
    let history = match History::open(store, &st.plan) {
        Ok(h) => h,
        Err(e) => {
            warnings.push(format!("metrics: {e}"));
            return none(format!("the plan's finished-release index cannot be read: {e}"));
        }
    };
    // Releases finished but not indexed yet (this one, while its driver closes it) are indexed
    // on the way, as `metrics` does.
    if let Err(e) = history.open_releases() {
        warnings.push(format!("metrics: {e}"));
    }
    let seen = Cell::new(false);
    let with = metrics::compute(
        &q,
        || {
            history.finished().map(|s| {
                if s.id == st.id {
                    seen.set(true);
                }
                history.complete(s)
            })
        },
        incidents,
    );
    if !seen.get() {
        return none("the release is not in the plan's finished-release index yet".into());
    }
    let without = metrics::compute(
        &q,
        || {
            history
                .finished()
                .filter(|s| s.id != st.id)
                .map(|s| history.complete(s))
        },
        incidents,
    );
    let (b, a) = (&without.current, &with.current);
    let secs = |ms: Option<f64>| ms.map(|v| v / 1000.0);
    let figure = |name, unit, before: Option<f64>, after: Option<f64>| MetricFigure {
        name,
        unit,
        before,
        after,
        delta: before.zip(after).map(|(b, a)| a - b),
    };
    let count = |f: &Figures, g: fn(&Figures) -> u64| Some(g(f) as f64);
    let figures = vec![
        figure(
            "deployments",
            "count",
            count(b, |f| f.total),
            count(a, |f| f.total),
        ),
        figure(
            "successful_deployments",
            "count",
            count(b, |f| f.deployments),
            count(a, |f| f.deployments),
        ),
        figure(
            "deployments_per_week",
            "count",
            Some(b.deployments as f64 * 7.0 / METRICS_DAYS as f64),
            Some(a.deployments as f64 * 7.0 / METRICS_DAYS as f64),
        ),
        figure(
            "lead_time_median",
            "seconds",
            secs(b.lead_median_ms()),
            secs(a.lead_median_ms()),
        ),
        figure(
            "lead_time_p90",
            "seconds",
            secs(b.lead_p90_ms().map(|v| v as f64)),
            secs(a.lead_p90_ms().map(|v| v as f64)),
        ),
        figure("change_failure_rate", "ratio", b.failure_rate(), a.failure_rate()),
        figure(
            "recovery_time_median",
            "seconds",
            secs(b.recovery_median_ms()),
            secs(a.recovery_median_ms()),
        ),
        figure("rework_rate", "ratio", b.rework_rate(), a.rework_rate()),
    ];
    MetricsSection {
        env: Some(env.clone()),
        from: Some(from),
        to: Some(to),
        method: format!(
            "DORA metrics (engine::metrics, as `flightdeck metrics` computes them) of plan {} on {env} \
             over the {METRICS_DAYS} days ending at the release's finish, from the plan's finished \
             releases and incidents: `before` without this release, `after` with it (a hotfix or \
             redeploy within 24h after a deployment makes it a change failure); delta = after - before",
            st.plan
        ),
        figures,
        note: None,
    }
}

// ---------------------------------------------------------------------------------------------
// What the renderers share

/// Append `s` to `out` made safe for HTML and XML (text and attribute values alike): sanitised
/// like everything printed (`ansi::clean`: escape sequences and control characters gone, line
/// breaks as spaces), then `& < > " '` escaped; U+FFFE and U+FFFF, which XML does not allow,
/// become U+FFFD.
pub fn push_escaped(out: &mut String, s: &str) {
    let clean = ansi::clean(s);
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// [`push_escaped`] into a new string.
pub fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_escaped(&mut out, s);
    out
}

/// `s` cut to `max` characters, ending with `…` when cut.
pub fn shorten(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.chars().count() <= max {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    std::borrow::Cow::Owned(out)
}

/// `2025-01-31 12:00:05 UTC`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `HH:MM:SS` of a time.
pub fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S").to_string()
}

/// A duration for people: `850ms`, `12.3s`, `4m05s`, `2h03m`, `3d04h`.
pub fn human_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    if s < 3600 {
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    if s < 86_400 {
        return format!("{}h{:02}m", s / 3600, (s % 3600) / 60);
    }
    format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
}

/// A metric's value for people, by its unit.
pub fn metric_value(unit: &str, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) => match unit {
            "ratio" => format!("{:.1}%", v * 100.0),
            "seconds" => human_ms((v * 1000.0).round() as i64),
            _ if v.fract() == 0.0 => format!("{v:.0}"),
            _ => format!("{v:.2}"),
        },
    }
}

/// A metric's change for people: `+1`, `-2.5%` (points), `+3m10s`, `0`, `–`.
pub fn metric_delta(unit: &str, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.abs() < 1e-9 => "0".into(),
        Some(v) => {
            let sign = if v > 0.0 { "+" } else { "-" };
            match unit {
                "ratio" => format!("{sign}{:.1} pts", v.abs() * 100.0),
                _ => format!("{sign}{}", metric_value(unit, Some(v.abs()))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_and_sanitised() {
        assert_eq!(
            escaped("<b>&\"x'\x1b[31m\u{FFFE}\nnext"),
            "&lt;b&gt;&amp;&quot;x&#39;\u{FFFD} next"
        );
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(12_345), "12.3s");
        assert_eq!(human_ms(245_000), "4m05s");
        assert_eq!(human_ms(7_380_000), "2h03m");
        assert_eq!(human_ms(3 * 86_400_000 + 4 * 3_600_000), "3d04h");
    }

    #[test]
    fn metric_changes_have_signs_and_units() {
        assert_eq!(metric_delta("count", Some(1.0)), "+1");
        assert_eq!(metric_delta("ratio", Some(-0.025)), "-2.5 pts");
        assert_eq!(metric_delta("seconds", Some(190.0)), "+3m10s");
        assert_eq!(metric_delta("count", Some(0.0)), "0");
        assert_eq!(metric_value("ratio", Some(0.5)), "50.0%");
        assert_eq!(metric_value("count", None), "–");
    }

    #[test]
    fn a_tail_keeps_the_last_lines_sanitised() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        let mut text = String::from("# $ ./deploy.sh\n");
        for i in 0..30 {
            text.push_str(&format!("o line {i}\n"));
        }
        text.push_str("e \x1b[31mred\x1b[0m \x1b]0;title\x07bell\n# exit 3 after 1s\n");
        std::fs::write(&p, text).unwrap();
        let t = tail_of(&p, 3).unwrap();
        assert_eq!(t.total, Some(33));
        assert_eq!(t.lines, ["line 29", "red bell", "# exit 3 after 1s"]);
    }
}
