//! `ReleaseState`: THE reducer. A release's state is `records.fold(ReleaseState::apply)`, nothing
//! else; the driver, `status`, the headless printer and the cockpit all use this one fold.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{Event, FinalState, GateDecl, Outcome, Record, RunKey, RunKind, StageDecl};
use crate::plan::{OnFailure, ReleaseType};

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReleaseState {
    pub id: String,
    pub version: String,
    #[serde(rename = "type")]
    pub rtype: ReleaseType,
    pub plan: String,
    pub plan_path: String,
    pub created_at: Option<DateTime<Utc>>,
    /// Who created the release (the actor of its `release_created`).
    pub created_by: String,
    pub updated_at: Option<DateTime<Utc>>,
    pub stages: Vec<StageState>,
    pub gates: Vec<GateState>,
    /// A partial release (`run --only`, `redeploy`): the stages chosen; empty for a whole one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Pid of the driver according to the journal (started and not stopped). Whether it is alive
    /// is not a journal fact: see [`ReleaseState::state_word`].
    pub driver_pid: Option<u32>,
    /// The machine of the last driver started.
    pub driver_host: Option<String>,
    /// Why the last driver stopped on purpose (e.g. `--no-wait` at a gate).
    pub driver_stopped: Option<String>,
    pub finished: Option<Finished>,
    /// Environments this release holds.
    pub env_holds: BTreeSet<String>,
    pub requests: BTreeMap<u64, Request>,
    /// A cancel (or a rejection) was requested and accepted.
    pub cancelling: bool,
    /// A rejection accepted: the gate, who said no, and why. The release ends `rejected`.
    pub rejected: Option<Rejection>,
    /// Overrides of freeze windows (who, when, why), in order.
    pub freeze_overrides: Vec<Mark>,
    /// `run --at`: nothing starts before then.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// `[[notify]]` messages about this release: (rule, record) -> how its last attempt ended.
    pub notifications: std::collections::BTreeMap<(u32, u64), Delivery>,
    pub rollback: Option<RollbackState>,
    /// A stage failed with `on_failure = "halt"`: nothing new starts.
    pub halted: bool,
    pub last_seq: u64,
    /// The hashes of the lines folded so far but the last (each line names the one before it):
    /// what a signed approval may say its signer saw.
    #[serde(skip)]
    pub line_hashes: std::collections::HashSet<String>,
    /// Approvals that do not count because their signature does not hold (line, why): a gate
    /// that takes signed approvals only, and a line unsigned, signed by someone else, or
    /// altered. `verify` names them.
    pub bad_signatures: Vec<(u64, String)>,
    /// What the release ships, when the plan lives in a git repository.
    pub commits: Option<CommitRange>,
    /// The tag created for this release (`tag_on_success`).
    pub tag: Option<String>,
    /// The train this release is a member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainLink>,
    /// The journal does not chain at some line (file:line and why): the state is the fold of
    /// the lines before it, and the release needs a person's attention. Not a journal fact: set
    /// by the reader ([`ReleaseState::load`], the cockpit's tail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// Stage id -> index in `stages`.
    #[serde(skip)]
    index: std::collections::HashMap<String, usize>,
}

/// A member release's train (its `train_joined`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrainLink {
    pub name: String,
    pub workspace: String,
    /// The `train_started` record's number in the workspace's trains journal.
    pub started: u64,
    pub gates: Vec<crate::event::TrainGateWait>,
}

/// How a `[[notify]]` message's last attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub to: String,
    pub event: String,
    pub attempt: u32,
    /// `delivered`, `retrying` or `given_up`.
    pub outcome: String,
    pub why: String,
    pub at: DateTime<Utc>,
}

impl Delivery {
    /// The (rule, record) a `notify_sent` record is about, and what it says of the attempt;
    /// `None` for any other record.
    pub fn of(rec: &crate::event::Record) -> Option<((u32, u64), Delivery)> {
        let Event::NotifySent {
            rule,
            about,
            to,
            event,
            attempt,
            outcome,
            why,
        } = &rec.event
        else {
            return None;
        };
        let d = Delivery {
            to: to.clone(),
            event: event.clone(),
            attempt: *attempt,
            outcome: outcome.clone(),
            why: why.clone(),
            at: rec.ts,
        };
        Some(((*rule, *about), d))
    }

    /// Delivered or given up: nothing more is tried.
    pub fn done(&self) -> bool {
        self.outcome != "retrying"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitRange {
    pub base: Option<String>,
    pub base_tag: Option<String>,
    pub head: String,
    pub commits: Vec<crate::event::CommitRef>,
    pub omitted: usize,
    /// Relative to the release folder.
    pub notes_file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finished {
    pub state: FinalState,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub seq: u64,
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(skip)]
    pub event: Event,
    pub kind: &'static str,
    /// `None` while pending; then whether the driver accepted it and what it said.
    pub handled: Option<(bool, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    /// Reached a gate that is not satisfied yet.
    Gated,
    Running,
    Succeeded,
    Failed,
    Skipped,
    RolledBack,
    RollbackFailed,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Gated => "waiting_on_gate",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::RolledBack => "rolled_back",
            Self::RollbackFailed => "rollback_failed",
        }
    }
    /// The stage will not run (again) without a person's retry.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Skipped | Self::RolledBack | Self::RollbackFailed
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StageState {
    #[serde(flatten)]
    pub decl: StageDecl,
    pub status: StageStatus,
    pub targets: Vec<TargetState>,
    /// Why it cannot start (an environment held by another release), until it starts.
    pub waiting: Option<String>,
    /// Since when it waits for its environment (the first `stage_waiting` of this wait): its
    /// place in the environment's first-come-first-served queue.
    pub waiting_since: Option<DateTime<Utc>>,
    /// What it waits for is a freeze window.
    pub frozen: bool,
    /// Its waits outside the release that are over (`plan:stage`, `gate:NAME`: a train's).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub train_met: BTreeSet<String>,
    /// A wait of the train's that can never be met: why (the stage fails without running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_failed: Option<String>,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    pub on_failure: Option<OnFailure>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetState {
    pub target: Option<String>,
    pub attempts: Vec<Attempt>,
    /// Attempts allowed so far: `retries + 1`, plus one per accepted manual retry.
    pub allowed_attempts: u32,
    pub rollbacks: Vec<Attempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub n: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub duration_ms: Option<u64>,
    /// Journal sequence number of its `run_finished` (orders completions, newest first for rollback).
    pub finished_seq: Option<u64>,
    /// Journal sequence number of its `run_started` (a rollback attempt belongs to the rollback
    /// round whose `rollback_started` comes before it).
    pub started_seq: u64,
    pub log: String,
    /// The process groups its commands ran in, each with when its spawn was journaled.
    pub pgids: Vec<(i32, DateTime<Utc>)>,
}

impl Attempt {
    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Pending,
    Running,
    Succeeded,
    /// Failed but has attempts left.
    Retrying,
    Failed,
}

impl TargetState {
    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }
    pub fn status(&self) -> TargetStatus {
        match self.attempts.last() {
            None => TargetStatus::Pending,
            Some(a) => match &a.outcome {
                None => TargetStatus::Running,
                Some(Outcome::Succeeded) => TargetStatus::Succeeded,
                Some(_) if (self.attempts.len() as u32) < self.allowed_attempts => TargetStatus::Retrying,
                Some(_) => TargetStatus::Failed,
            },
        }
    }
    pub fn label(&self) -> &str {
        self.target.as_deref().unwrap_or("")
    }
    /// A deploy of it succeeded and no rollback of it did: the release runs there.
    pub fn live(&self) -> bool {
        self.attempts
            .iter()
            .any(|a| a.outcome.as_ref().is_some_and(Outcome::is_success))
            && !self.rolled_back()
    }
    /// A rollback of it succeeded.
    pub fn rolled_back(&self) -> bool {
        self.rollbacks
            .iter()
            .any(|a| a.outcome.as_ref().is_some_and(Outcome::is_success))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GateState {
    #[serde(flatten)]
    pub decl: GateDecl,
    /// The stage that reached it first, and when.
    pub reached_by: Option<String>,
    pub reached_at: Option<DateTime<Utc>>,
    /// Distinct people, in order.
    pub approvals: Vec<Mark>,
    /// Per checklist item: who ticked it (manual items).
    pub ticks: Vec<Option<Mark>>,
    /// Per checklist item: the latest automatic check (automatic items).
    pub checks: Vec<Option<CheckState>>,
}

/// A gate's rejection ([`Event::RejectRequested`], accepted).
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub gate: String,
    pub actor: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    pub actor: String,
    pub at: DateTime<Utc>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckState {
    pub started_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub log: String,
}

impl GateState {
    pub fn item_done(&self, i: usize) -> bool {
        if self.decl.checklist.get(i).is_some_and(|(_, auto)| *auto) {
            self.checks[i]
                .as_ref()
                .and_then(|c| c.outcome.as_ref())
                .is_some_and(Outcome::is_success)
        } else {
            self.ticks[i].is_some()
        }
    }
    pub fn items_done(&self) -> usize {
        (0..self.decl.checklist.len())
            .filter(|&i| self.item_done(i))
            .count()
    }
    pub fn satisfied(&self) -> bool {
        self.items_done() == self.decl.checklist.len() && self.counted() as u32 >= self.decl.approvals
    }

    /// Whether approval `a` is too old to count: older than the gate's `expires` when it was
    /// reached (before it is reached, none is).
    pub fn expired(&self, a: &Mark) -> bool {
        match (self.decl.expires_secs, self.reached_at) {
            (Some(secs), Some(reached)) => a.at + chrono::Duration::seconds(secs as i64) < reached,
            _ => false,
        }
    }

    /// The approvals that count (not expired).
    pub fn counted(&self) -> usize {
        self.approvals.iter().filter(|a| !self.expired(a)).count()
    }
    /// What is still missing, for people: `2 approvals (have 1)`, `item 3 "Error budget healthy"`.
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (text, auto)) in self.decl.checklist.iter().enumerate() {
            if !self.item_done(i) {
                let how = if *auto {
                    match self.checks[i].as_ref().map(|c| &c.outcome) {
                        None => "check not run yet",
                        Some(None) => "check running",
                        Some(Some(_)) => "check failed; re-run it",
                    }
                } else {
                    "needs a tick"
                };
                out.push(format!("item {} \"{text}\" ({how})", i + 1));
            }
        }
        let have = self.counted() as u32;
        if have < self.decl.approvals {
            let who = if have == 0 {
                String::new()
            } else {
                format!(
                    "; approved by {}",
                    self.approvals
                        .iter()
                        .map(|a| a.actor.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out.push(format!(
                "{} more approval(s) of {}{who}",
                self.decl.approvals - have,
                self.decl.approvals
            ));
        }
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackState {
    pub reason: String,
    pub order: Vec<RunKey>,
    pub finished: Option<bool>,
    /// Journal sequence number of its `rollback_started`: the rollback attempts started after it
    /// are this round's.
    pub started_seq: u64,
}

impl RollbackState {
    /// The attempts of this round on a target, oldest first.
    pub fn attempts<'a>(&self, t: &'a TargetState) -> impl Iterator<Item = &'a Attempt> {
        let since = self.started_seq;
        t.rollbacks.iter().filter(move |a| a.started_seq > since)
    }
    /// Whether this round's latest attempt on `t` succeeded.
    pub fn succeeded_on(&self, t: &TargetState) -> bool {
        self.attempts(t)
            .last()
            .and_then(|a| a.outcome.as_ref())
            .is_some_and(Outcome::is_success)
    }
}

impl ReleaseState {
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a Record>) -> ReleaseState {
        let mut s = ReleaseState::default();
        for r in records {
            s.apply(r);
        }
        s
    }

    /// Fold the journal at `path`, checking its hash chain: the records before the first line
    /// that does not chain, with [`ReleaseState::attention`] set when there is one; and what
    /// the load found (a torn last line, the broken line).
    pub fn load(
        path: &std::path::Path,
    ) -> Result<(ReleaseState, Vec<crate::journal::LoadWarning>), crate::journal::JournalError> {
        let (recs, warnings) = crate::journal::read_journal(path)?;
        let mut st = ReleaseState::from_records(&recs);
        st.attention = crate::journal::attention_reason(path, &warnings);
        Ok((st, warnings))
    }

    pub fn stage(&self, id: &str) -> Option<&StageState> {
        self.index.get(id).map(|&i| &self.stages[i])
    }
    fn stage_mut(&mut self, id: &str) -> Option<&mut StageState> {
        self.index.get(id).map(|&i| &mut self.stages[i])
    }
    pub fn gate(&self, name: &str) -> Option<&GateState> {
        self.gates.iter().find(|g| g.decl.name == name)
    }
    fn gate_mut(&mut self, name: &str) -> Option<&mut GateState> {
        self.gates.iter_mut().find(|g| g.decl.name == name)
    }
    pub fn target(&self, stage: &str, target: Option<&str>) -> Option<&TargetState> {
        self.stage(stage)?
            .targets
            .iter()
            .find(|t| t.target.as_deref() == target)
    }
    fn target_mut(&mut self, stage: &str, target: Option<&str>) -> Option<&mut TargetState> {
        self.stage_mut(stage)?
            .targets
            .iter_mut()
            .find(|t| t.target.as_deref() == target)
    }

    /// Every attempt (deploy or rollback) that has started and not finished.
    pub fn running_runs(&self) -> Vec<(RunKey, RunKind, &Attempt)> {
        let mut out = Vec::new();
        for s in &self.stages {
            for t in &s.targets {
                for (kind, list) in [(RunKind::Deploy, &t.attempts), (RunKind::Rollback, &t.rollbacks)] {
                    for a in list.iter().filter(|a| a.running()) {
                        let key = RunKey {
                            stage: s.decl.id.clone(),
                            target: t.target.clone(),
                            attempt: a.n,
                        };
                        out.push((key, kind, a));
                    }
                }
            }
        }
        out
    }

    /// Whether an automatic checklist check has started and not finished.
    pub fn checks_running(&self) -> bool {
        self.gates
            .iter()
            .any(|g| g.checks.iter().flatten().any(|c| c.outcome.is_none()))
    }

    pub fn pending_requests(&self) -> impl Iterator<Item = &Request> {
        self.requests.values().filter(|r| r.handled.is_none())
    }

    /// The release's state word. `driver_alive` comes from the driver lock, not the journal: an
    /// unfinished release whose driver is gone is `interrupted` (or `paused` when its driver
    /// stopped on purpose at a gate).
    pub fn state_word(&self, driver_alive: bool) -> &'static str {
        // A journal that does not chain outranks everything it says.
        if self.attention.is_some() {
            return "attention";
        }
        if let Some(f) = &self.finished {
            return f.state.as_str();
        }
        if self.waiting_for_schedule(Utc::now()) && !self.cancelling {
            return "scheduled";
        }
        if !driver_alive {
            return if self.driver_stopped.is_some() {
                "paused"
            } else {
                "interrupted"
            };
        }
        let running = self.stages.iter().any(|s| s.status == StageStatus::Running);
        // At a gate, or held by a freeze window: it waits for people (or the clock).
        let gated = self
            .stages
            .iter()
            .any(|s| s.status == StageStatus::Gated || (s.status == StageStatus::Pending && s.frozen));
        if gated && !running && self.rollback.is_none() {
            "paused"
        } else {
            "running"
        }
    }

    /// Whether `signed` is `actor`'s signature, by a key the gate's signers file lists for them,
    /// over a statement naming this plan, release, version and gate, a line of this journal
    /// (`seen`, when `check_seen`), and a time not after `at` (give or take five minutes of
    /// clock skew); why not.
    pub fn check_signed(
        &self,
        decl: &crate::event::GateDecl,
        actor: &str,
        signed: Option<&crate::event::Signed>,
        at: DateTime<Utc>,
        check_seen: bool,
    ) -> Result<(), String> {
        use crate::sign::{AllowedSigners, Statement};
        let Some(text) = &decl.signers else {
            return Ok(());
        };
        let Some(signed) = signed else {
            return Err(format!(
                "unsigned: gate {} takes only approvals signed with a key in its signers file",
                decl.name
            ));
        };
        let st = Statement::parse(&signed.statement)
            .ok_or("the signed text is not a flightdeck approval statement")?;
        let mut wrong = Vec::new();
        if st.plan != self.plan {
            wrong.push(format!("plan {}", st.plan));
        }
        if st.release != self.id || st.version != self.version {
            wrong.push(format!("release {} ({})", st.release, st.version));
        }
        if st.gate != decl.name {
            wrong.push(format!("gate {}", st.gate));
        }
        if !wrong.is_empty() {
            return Err(format!("the signed statement is about {}", wrong.join(", ")));
        }
        if check_seen && !self.line_hashes.contains(&st.seen) {
            return Err("the signed statement names a line this journal does not have".into());
        }
        if st.at > at + chrono::Duration::minutes(5) {
            return Err("the signed statement is dated after the approval".into());
        }
        let signers =
            AllowedSigners::parse(text).map_err(|(line, why)| format!("signers file line {line}: {why}"))?;
        signers.verify(actor, signed.statement.as_bytes(), &signed.signature)
    }

    /// The distinct people who overrode a freeze window spanning `span` (their override given
    /// while it was in force).
    pub fn overrides_of(&self, span: crate::plan::freeze::Span) -> Vec<&str> {
        let mut who: Vec<&str> = Vec::new();
        for m in &self.freeze_overrides {
            if span.start <= m.at
                && m.at < span.end
                && !who.iter().any(|w| super::identity::same(w, &m.actor))
            {
                who.push(&m.actor);
            }
        }
        who
    }

    /// Scheduled (`run --at`) for after `now`, and nothing started yet.
    pub fn waiting_for_schedule(&self, now: DateTime<Utc>) -> bool {
        self.scheduled_at.is_some_and(|at| at > now)
            && self.finished.is_none()
            && self
                .stages
                .iter()
                .all(|s| s.targets.iter().all(|t| t.attempts.is_empty()))
    }

    /// Some targets of a stage were rolled back while others still run this release (a rollback
    /// scoped to targets).
    pub fn partially_rolled_back(&self) -> bool {
        self.stages.iter().any(|s| {
            s.targets.iter().any(TargetState::rolled_back) && s.targets.iter().any(TargetState::live)
        })
    }

    /// `partial: deploy-prod, smoke` for a partial release (`run --only`, `redeploy`).
    pub fn partial(&self) -> Option<String> {
        partial_text(&self.only)
    }

    /// Stages done / total, for progress bars.
    pub fn progress(&self) -> (usize, usize) {
        (
            self.stages.iter().filter(|s| s.status.is_terminal()).count(),
            self.stages.len(),
        )
    }

    /// Apply one record. Pure: no I/O, no clock.
    pub fn apply(&mut self, rec: &Record) {
        self.last_seq = rec.seq;
        if !rec.prev.is_empty() {
            self.line_hashes.insert(rec.prev.clone());
        }
        self.updated_at = Some(rec.ts);
        let at = rec.ts;
        match &rec.event {
            Event::ReleaseCreated {
                id,
                version,
                rtype,
                plan,
                plan_path,
                stages,
                gates,
                only,
            } => {
                self.only = only.clone();
                self.id = id.clone();
                self.version = version.clone();
                self.rtype = *rtype;
                self.plan = plan.clone();
                self.plan_path = plan_path.clone();
                self.created_at = Some(at);
                self.created_by = rec.actor.clone();
                self.stages = stages
                    .iter()
                    .map(|d| StageState {
                        targets: if d.targets.is_empty() {
                            vec![TargetState::new(None, d.retries)]
                        } else {
                            d.targets
                                .iter()
                                .map(|t| TargetState::new(Some(t.clone()), d.retries))
                                .collect()
                        },
                        decl: d.clone(),
                        status: StageStatus::Pending,
                        waiting: None,
                        waiting_since: None,
                        frozen: false,
                        train_met: BTreeSet::new(),
                        train_failed: None,
                        reason: None,
                        on_failure: None,
                        started_at: None,
                        finished_at: None,
                    })
                    .collect();
                self.index = self
                    .stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.decl.id.clone(), i))
                    .collect();
                self.gates = gates
                    .iter()
                    .map(|g| GateState {
                        ticks: vec![None; g.checklist.len()],
                        checks: vec![None; g.checklist.len()],
                        decl: g.clone(),
                        reached_by: None,
                        reached_at: None,
                        approvals: Vec::new(),
                    })
                    .collect();
            }
            Event::DriverStarted { pid, host } => {
                self.driver_pid = Some(*pid);
                self.driver_host = Some(host.clone());
                self.driver_stopped = None;
            }
            Event::DriverStopped { reason, .. } => {
                self.driver_pid = None;
                self.driver_stopped = Some(reason.clone());
            }
            Event::ReleaseFinished { state, reason } => {
                self.finished = Some(Finished {
                    state: *state,
                    reason: reason.clone(),
                    at,
                });
                self.driver_pid = None;
                self.env_holds.clear();
                self.cancelling = false;
            }
            Event::StageWaiting {
                stage,
                reason,
                frozen,
            } => {
                if let Some(s) = self.stage_mut(stage) {
                    if s.waiting.is_none() {
                        s.waiting_since = Some(at);
                    }
                    s.waiting = Some(reason.clone());
                    s.frozen = *frozen;
                    // Only a stage the scheduler tries to start waits: its gate, if any, is
                    // behind it.
                    if s.status == StageStatus::Gated {
                        s.status = StageStatus::Pending;
                    }
                }
            }
            Event::RunStarted { run, run_kind, log } => {
                if let Some(s) = self.stage_mut(&run.stage) {
                    s.waiting = None;
                    s.waiting_since = None;
                    s.frozen = false;
                    if *run_kind == RunKind::Deploy {
                        s.status = StageStatus::Running;
                        s.started_at.get_or_insert(at);
                    }
                }
                if let Some(t) = self.target_mut(&run.stage, run.target.as_deref()) {
                    let a = Attempt {
                        n: run.attempt,
                        started_at: at,
                        finished_at: None,
                        outcome: None,
                        duration_ms: None,
                        finished_seq: None,
                        started_seq: rec.seq,
                        log: log.clone(),
                        pgids: Vec::new(),
                    };
                    match run_kind {
                        RunKind::Deploy => t.attempts.push(a),
                        RunKind::Rollback => t.rollbacks.push(a),
                    }
                }
            }
            Event::RunSpawned {
                run, run_kind, pgid, ..
            } => {
                if let Some(a) = self.attempt_mut(run, *run_kind) {
                    a.pgids.push((*pgid, at));
                }
            }
            Event::RunFinished {
                run,
                run_kind,
                outcome,
                duration_ms,
            } => {
                if *outcome == Outcome::Interrupted
                    && *run_kind == RunKind::Deploy
                    && let Some(t) = self.target_mut(&run.stage, run.target.as_deref())
                {
                    // Its driver died under it: that attempt does not use up the retry budget.
                    t.allowed_attempts += 1;
                }
                if let Some(a) = self.attempt_mut(run, *run_kind) {
                    a.outcome = Some(outcome.clone());
                    a.finished_at = Some(at);
                    a.duration_ms = Some(*duration_ms);
                    a.finished_seq = Some(rec.seq);
                }
                if *run_kind == RunKind::Rollback
                    && let Some(s) = self.stage_mut(&run.stage)
                    && let Some(status) = rollback_status(s)
                {
                    s.status = status;
                }
            }
            Event::StageSucceeded { stage } => self.end_stage(stage, StageStatus::Succeeded, None, at),
            Event::StageFailed {
                stage,
                on_failure,
                reason,
            } => {
                self.end_stage(stage, StageStatus::Failed, Some(reason.clone()), at);
                if let Some(s) = self.stage_mut(stage) {
                    s.on_failure = Some(*on_failure);
                }
                if *on_failure == OnFailure::Halt {
                    self.halted = true;
                }
            }
            Event::StageSkipped { stage, reason } => {
                self.end_stage(stage, StageStatus::Skipped, Some(reason.clone()), at)
            }
            Event::StageRetry { stage, targets } => {
                self.finished = None;
                self.halted = false;
                if let Some(s) = self.stage_mut(stage) {
                    s.status = StageStatus::Pending;
                    s.reason = None;
                    s.finished_at = None;
                    for t in s.targets.iter_mut().filter(|t| targets.contains(&t.target)) {
                        t.allowed_attempts = t.attempts.len() as u32 + 1;
                    }
                }
            }
            Event::EnvAcquired { env } => {
                self.env_holds.insert(env.clone());
                // Its stages no longer wait for it (they may still wait for a free slot).
                for s in &mut self.stages {
                    if s.decl.environment.as_ref() == Some(env) {
                        s.waiting = None;
                        s.waiting_since = None;
                    }
                }
            }
            Event::EnvUnlocked { env, .. } => {
                self.env_holds.remove(env);
            }
            Event::GateReached { stage, gate } => {
                if let Some(g) = self.gate_mut(gate) {
                    g.reached_by.get_or_insert_with(|| stage.clone());
                    g.reached_at.get_or_insert(at);
                }
                if let Some(s) = self.stage_mut(stage)
                    && s.status == StageStatus::Pending
                {
                    s.status = StageStatus::Gated;
                }
            }
            Event::CheckStarted { gate, item, log } => {
                if let Some(c) = self.gate_mut(gate).and_then(|g| g.checks.get_mut(*item)) {
                    *c = Some(CheckState {
                        started_at: at,
                        outcome: None,
                        log: log.clone(),
                    });
                }
            }
            Event::CheckFinished { gate, item, outcome } => {
                if let Some(Some(c)) = self.gate_mut(gate).and_then(|g| g.checks.get_mut(*item)) {
                    c.outcome = Some(outcome.clone());
                }
            }
            Event::Approved { gate, note, signed } => {
                // Each person counts once, however the name was spelled (`bob`, `BOB`, `bob `); a
                // blank name is nobody; someone the gate's policy does not let approve counts for
                // nothing, whoever wrote the line; where the gate takes signed approvals only, one
                // whose signature does not hold counts for nothing either (and is named). A fresh
                // approval replaces an expired one.
                if let Some(g) = self.gate(gate)
                    && g.decl.signers.is_some()
                    && let Err(why) = self.check_signed(&g.decl, &rec.actor, signed.as_ref(), at, true)
                {
                    self.bad_signatures.push((
                        rec.seq,
                        format!("approval of gate {gate} by {}: {why}", rec.actor),
                    ));
                    return;
                }
                let started_by = self.created_by.clone();
                if let Some(g) = self.gate_mut(gate)
                    && !rec.actor.trim().is_empty()
                    && g.decl
                        .may_approve(&rec.actor, &started_by, super::identity::same)
                        .is_ok()
                {
                    let mark = Mark {
                        actor: rec.actor.clone(),
                        at,
                        note: note.clone(),
                    };
                    match g
                        .approvals
                        .iter()
                        .position(|a| super::identity::same(&a.actor, &rec.actor))
                    {
                        None => g.approvals.push(mark),
                        Some(i) if g.expired(&g.approvals[i]) => g.approvals[i] = mark,
                        Some(_) => {}
                    }
                }
            }
            // Evidence only: it changes nothing.
            Event::ApprovalRefused { .. } => {}
            Event::ReleaseScheduled { at: when } => self.scheduled_at = Some(*when),
            // Whoever started the release cannot let it through a freeze by themselves.
            Event::FreezeOverridden { reason } => {
                if !rec.actor.trim().is_empty() && !super::identity::same(&rec.actor, &self.created_by) {
                    self.freeze_overrides.push(Mark {
                        actor: rec.actor.clone(),
                        at,
                        note: reason.clone(),
                    });
                }
            }
            Event::Ticked { gate, item, note } => {
                if let Some(t) = self.gate_mut(gate).and_then(|g| g.ticks.get_mut(*item))
                    && t.is_none()
                {
                    *t = Some(Mark {
                        actor: rec.actor.clone(),
                        at,
                        note: note.clone(),
                    });
                }
            }
            Event::CancelRequested {}
            | Event::RetryRequested { .. }
            | Event::SkipRequested { .. }
            | Event::RollbackRequested { .. }
            | Event::RejectRequested { .. }
            | Event::RecheckRequested { .. } => {
                self.requests.insert(
                    rec.seq,
                    Request {
                        seq: rec.seq,
                        actor: rec.actor.clone(),
                        at,
                        kind: rec.event.kind(),
                        event: rec.event.clone(),
                        handled: None,
                    },
                );
            }
            Event::RequestHandled {
                request,
                accepted,
                message,
            } => {
                if let Some(r) = self.requests.get_mut(request) {
                    r.handled = Some((*accepted, message.clone()));
                    if *accepted && matches!(r.event, Event::CancelRequested {}) {
                        self.cancelling = true;
                    }
                    if *accepted && let Event::RejectRequested { gate, reason } = &r.event {
                        self.cancelling = true;
                        self.rejected = Some(Rejection {
                            gate: gate.clone(),
                            actor: r.actor.clone(),
                            reason: reason.clone(),
                        });
                    }
                }
            }
            Event::RollbackStarted { reason, order } => {
                self.finished = None;
                self.rollback = Some(RollbackState {
                    reason: reason.clone(),
                    order: order.clone(),
                    finished: None,
                    started_seq: rec.seq,
                });
            }
            Event::RollbackFinished { ok } => {
                if let Some(r) = &mut self.rollback {
                    r.finished = Some(*ok);
                }
            }
            Event::ReleaseCommits {
                base,
                base_tag,
                head,
                commits,
                omitted,
                notes,
            } => {
                self.commits = Some(CommitRange {
                    base: base.clone(),
                    base_tag: base_tag.clone(),
                    head: head.clone(),
                    commits: commits.clone(),
                    omitted: *omitted,
                    notes_file: notes.clone(),
                });
            }
            Event::TagCreated { tag, .. } => self.tag = Some(tag.clone()),
            Event::DriftSnapshot { .. } => {}
            Event::Note { .. } => {}
            Event::NotifySent { .. } => {
                if let Some((key, d)) = Delivery::of(rec) {
                    self.notifications.insert(key, d);
                }
            }
            Event::TrainJoined {
                train,
                workspace,
                started,
                gates,
            } => {
                self.train = Some(TrainLink {
                    name: train.clone(),
                    workspace: workspace.clone(),
                    started: *started,
                    gates: gates.clone(),
                });
            }
            Event::TrainWaitOver {
                stage,
                need,
                ok,
                reason,
            } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.waiting = None;
                    s.waiting_since = None;
                    if *ok {
                        s.train_met.insert(need.clone());
                    } else {
                        s.train_failed = Some(reason.clone());
                    }
                }
            }
            // A workspace's trains journal, never a release's (see `engine::train`).
            Event::TrainStarted { .. }
            | Event::TrainMember { .. }
            | Event::TrainApproved { .. }
            | Event::TrainTicked { .. }
            | Event::TrainCancelRequested { .. }
            | Event::TrainRollbackStarted { .. }
            | Event::TrainMemberRolledBack { .. }
            | Event::TrainFinished { .. } => {}
            // A plan's incidents journal, never a release's (see `engine::incidents`).
            Event::IncidentOpened { .. }
            | Event::IncidentResolved { .. }
            | Event::IncidentLinked { .. }
            | Event::ReviewNoted { .. }
            | Event::ActionAdded { .. }
            | Event::ActionClosed { .. }
            | Event::FreezeAdded { .. }
            | Event::FreezeRemoved { .. } => {}
        }
    }

    fn attempt_mut(&mut self, run: &RunKey, kind: RunKind) -> Option<&mut Attempt> {
        let t = self.target_mut(&run.stage, run.target.as_deref())?;
        let list = match kind {
            RunKind::Deploy => &mut t.attempts,
            RunKind::Rollback => &mut t.rollbacks,
        };
        list.iter_mut().rev().find(|a| a.n == run.attempt)
    }

    fn end_stage(&mut self, stage: &str, status: StageStatus, reason: Option<String>, at: DateTime<Utc>) {
        if let Some(s) = self.stage_mut(stage) {
            s.status = status;
            s.reason = reason;
            s.waiting = None;
            s.waiting_since = None;
            s.finished_at = Some(at);
        }
    }
}

/// A stage's status from the latest rollback attempt of each of its targets that has one: any
/// failed -> `rollback_failed`; all succeeded -> `rolled_back` (a later success clears an earlier
/// failure), unless another of its targets still runs the release (a rollback of some targets
/// only: the stage keeps its status, its targets show which were rolled back); otherwise (one
/// interrupted, to be run again, or running) unchanged.
fn rollback_status(s: &StageState) -> Option<StageStatus> {
    let latest: Vec<Option<&Outcome>> = s
        .targets
        .iter()
        .filter_map(|t| t.rollbacks.last())
        .map(|a| a.outcome.as_ref())
        .collect();
    if latest.is_empty() {
        return None;
    }
    if latest
        .iter()
        .any(|o| o.is_some_and(|o| !o.is_success() && *o != Outcome::Interrupted))
    {
        Some(StageStatus::RollbackFailed)
    } else if latest.iter().all(|o| o.is_some_and(Outcome::is_success)) {
        (!s.targets.iter().any(TargetState::live)).then_some(StageStatus::RolledBack)
    } else {
        None
    }
}

impl TargetState {
    fn new(target: Option<String>, retries: u32) -> Self {
        TargetState {
            target,
            attempts: Vec::new(),
            allowed_attempts: retries + 1,
            rollbacks: Vec::new(),
        }
    }
}

/// `partial: a, b` for the stages a partial release chose; `None` for a whole release.
pub fn partial_text(only: &[String]) -> Option<String> {
    (!only.is_empty()).then(|| format!("partial: {}", only.join(", ")))
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use crate::event::{GateDecl, ReleaseType};

    fn rec(seq: u64, secs: i64, actor: &str, event: Event) -> Record {
        Record {
            seq,
            ts: chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap(),
            actor: actor.into(),
            prev: String::new(),
            event,
        }
    }

    fn created(gate: GateDecl) -> Record {
        rec(
            1,
            0,
            "sam",
            Event::ReleaseCreated {
                id: "1.0".into(),
                version: "1.0".into(),
                rtype: ReleaseType::Minor,
                plan: "p".into(),
                plan_path: "/p/flightdeck.toml".into(),
                stages: vec![],
                gates: vec![gate],
                only: vec![],
            },
        )
    }

    fn approved(seq: u64, secs: i64, actor: &str) -> Record {
        rec(
            seq,
            secs,
            actor,
            Event::Approved {
                gate: "g".into(),
                note: String::new(),
                signed: None,
            },
        )
    }

    fn gate(eligible: Option<&[&str]>, allow_self: bool, expires: Option<u64>) -> GateDecl {
        GateDecl {
            name: "g".into(),
            approvals: 1,
            checklist: vec![],
            approvers: eligible
                .map(|e| e.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            eligible: eligible.map(|e| e.iter().map(|s| s.to_string()).collect()),
            allow_self_approval: allow_self,
            expires_secs: expires,
            signers: None,
        }
    }

    /// Whatever wrote the line, an approval the policy does not allow counts for nothing.
    #[test]
    fn approvals_the_policy_does_not_allow_never_count() {
        let st = ReleaseState::from_records(&[
            created(gate(Some(&["carol"]), false, None)),
            approved(2, 1, "bob"),
            approved(3, 2, "SAM"),
        ]);
        assert!(st.gate("g").unwrap().approvals.is_empty());
        assert!(!st.gate("g").unwrap().satisfied());
        let st = ReleaseState::from_records(&[
            created(gate(Some(&["carol"]), false, None)),
            approved(2, 1, " Carol "),
        ]);
        assert!(st.gate("g").unwrap().satisfied());
        // Self-approval where the gate allows it.
        let st = ReleaseState::from_records(&[created(gate(None, true, None)), approved(2, 1, "sam")]);
        assert!(st.gate("g").unwrap().satisfied());
        // Journals from before the policy: no field, self-approval allowed as it was.
        let old: GateDecl = serde_json::from_str(r#"{"name":"g","approvals":1,"checklist":[]}"#).unwrap();
        assert!(old.allow_self_approval && old.eligible.is_none());
    }

    #[test]
    fn an_approval_older_than_expires_when_the_gate_is_reached_is_replaced_by_a_fresh_one() {
        let reached = rec(
            3,
            100,
            "driver",
            Event::GateReached {
                stage: "s".into(),
                gate: "g".into(),
            },
        );
        let st = ReleaseState::from_records(&[
            created(gate(None, false, Some(60))),
            approved(2, 10, "carol"),
            reached.clone(),
        ]);
        let g = st.gate("g").unwrap();
        assert_eq!((g.approvals.len(), g.counted()), (1, 0));
        assert!(g.expired(&g.approvals[0]) && !g.satisfied());
        // Exactly `expires` old still counts.
        let st = ReleaseState::from_records(&[
            created(gate(None, false, Some(60))),
            approved(2, 40, "carol"),
            reached.clone(),
        ]);
        assert!(st.gate("g").unwrap().satisfied());
        // A fresh approval by the same person replaces the expired one.
        let st = ReleaseState::from_records(&[
            created(gate(None, false, Some(60))),
            approved(2, 10, "carol"),
            reached,
            approved(4, 120, "carol"),
        ]);
        let g = st.gate("g").unwrap();
        assert_eq!((g.approvals.len(), g.counted()), (1, 1));
    }

    #[test]
    fn freeze_overrides_count_distinct_people_within_the_window_and_never_the_starter() {
        let ov = |seq: u64, secs: i64, actor: &str| {
            rec(
                seq,
                secs,
                actor,
                Event::FreezeOverridden {
                    reason: "outage".into(),
                },
            )
        };
        let st = ReleaseState::from_records(&[
            created(gate(None, false, None)),
            ov(2, 5, "carol"),
            ov(3, 50, "carol"),
            ov(4, 60, " CAROL "),
            ov(5, 70, "sam"),
            ov(6, 200, "dan"),
        ]);
        let at = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let window = crate::plan::freeze::Span {
            start: at(10),
            end: at(100),
        };
        // carol once (her override before the window does not count for it), sam (who started
        // the release) not at all, dan after it ended not.
        assert_eq!(st.overrides_of(window), ["carol"]);
        let later = crate::plan::freeze::Span {
            start: at(150),
            end: at(300),
        };
        assert_eq!(st.overrides_of(later), ["dan"]);
    }
}
