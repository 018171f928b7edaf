//! `Event`: the journal record. Everything that can happen to a release is one of these; the
//! release's state is the fold of its events through `engine::state::ReleaseState::apply`.
//!
//! A leaf module: it depends on nothing else in the crate, so the journal (storage), the engine
//! and every reader share one vocabulary without depending on each other.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1-based, dense.
    pub seq: u64,
    pub ts: DateTime<Utc>,
    /// Who caused it: a person's identity for requests, `driver` for the driver's own decisions.
    pub actor: String,
    /// SHA-256 (hex) of the previous line's bytes (without its newline); empty for the first line.
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}

/// Identifies one run: a stage, optionally on one target, one attempt (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunKey {
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub attempt: u32,
}

/// What a run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    #[default]
    Deploy,
    Rollback,
}

/// A stage as declared when the release was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDecl {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Fan-out targets; empty for a single run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Gates that apply to this release's type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
    #[serde(default)]
    pub has_rollback: bool,
    #[serde(default)]
    pub retries: u32,
}

/// A gate as declared when the release was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateDecl {
    pub name: String,
    pub approvals: u32,
    /// Item texts; `true` where the item is an automatic check.
    pub checklist: Vec<(String, bool)>,
    /// Who may approve, as the plan wrote it (`@cab`, `lead`): for messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// The people who may approve (teams expanded when the release was created); `None`:
    /// anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible: Option<Vec<String>>,
    /// Whoever started the release may approve it. Journals written before the policy existed
    /// have no such field: they allowed it.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub allow_self_approval: bool,
    /// An approval older than this (seconds) when the gate is reached no longer counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_secs: Option<u64>,
    /// Approvals must be signed by a key listed here: the gate's `allowed_signers` file (public
    /// keys) as it was when the release was created, so anyone holding the journal can check
    /// every signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signers: Option<String>,
}

/// An approval's signature: the statement signed (see `crate::sign::Statement`) and the
/// armored SSH signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub statement: String,
    pub signature: String,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl GateDecl {
    /// Whether `actor` may approve (or reject) this gate of a release `started_by` started; why
    /// not, in words (`carol is not in approvers: @cab, lead`, `sam started this release`).
    pub fn may_approve(
        &self,
        actor: &str,
        started_by: &str,
        same: impl Fn(&str, &str) -> bool,
    ) -> Result<(), String> {
        if let Some(people) = &self.eligible
            && !people.iter().any(|p| same(p, actor))
        {
            return Err(format!(
                "{actor} is not in approvers: {}",
                self.approvers.join(", ")
            ));
        }
        if !self.allow_self_approval && !started_by.trim().is_empty() && same(actor, started_by) {
            return Err(format!("{actor} started this release"));
        }
        Ok(())
    }
}

/// One commit of a release's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRef {
    pub sha: String,
    pub time: DateTime<Utc>,
}

/// How a run (or one automatic check) ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// A command exited non-zero (or died of a signal it did not get from us).
    Failed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Which command of the stage's list failed (0-based).
        #[serde(default)]
        command: usize,
    },
    TimedOut,
    /// Ended by a cancel.
    Cancelled,
    /// Its driver died; ended (or found gone) by the next driver.
    Interrupted,
    /// Could not be started at all (e.g. `sh` missing, log file not writable).
    Error {
        message: String,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded)
    }
}

/// Final states of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalState {
    Succeeded,
    Failed,
    RolledBack,
    /// A rollback of some targets succeeded while other targets of the same stages still run
    /// this release.
    PartiallyRolledBack,
    RollbackFailed,
    Cancelled,
    /// Someone who may approve a gate said no (`reject`): nothing was rolled back.
    Rejected,
}

/// flightdeck's process exit codes, in one place: `run`, `resume`, the cockpit with
/// `--exit-when-done` and every other command use these.
pub mod exit {
    pub const OK: u8 = 0;
    /// The release failed, a request was refused, a file could not be read or written.
    pub const FAILED: u8 = 1;
    /// A mistake in what was asked, or a plan problem.
    pub const USAGE: u8 = 2;
    /// Stopped at a gate (`--no-wait`), or not finished yet.
    pub const PAUSED: u8 = 3;
    /// The release is driven by another process, or a release of that version is unfinished.
    pub const LOCKED: u8 = 4;
    pub const CANCELLED: u8 = 130;
}

impl FinalState {
    /// The word for it everywhere (`status`, `list`, JSON, the cockpit).
    pub fn as_str(self) -> &'static str {
        match self {
            FinalState::Succeeded => "succeeded",
            FinalState::Failed => "failed",
            FinalState::RolledBack => "rolled_back",
            FinalState::PartiallyRolledBack => "partially_rolled_back",
            FinalState::RollbackFailed => "rollback_failed",
            FinalState::Cancelled => "cancelled",
            FinalState::Rejected => "rejected",
        }
    }

    /// The exit code `run` (and the cockpit with `--exit-when-done`) gives a release that ended
    /// this way.
    pub fn exit_code(self) -> u8 {
        match self {
            FinalState::Succeeded => exit::OK,
            FinalState::Cancelled => exit::CANCELLED,
            FinalState::Failed
            | FinalState::RolledBack
            | FinalState::PartiallyRolledBack
            | FinalState::RollbackFailed
            | FinalState::Rejected => exit::FAILED,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    // ---- lifecycle (driver) ----
    ReleaseCreated {
        id: String,
        version: String,
        #[serde(rename = "type")]
        rtype: ReleaseType,
        plan: String,
        plan_path: String,
        /// The plan's shape as it was when the release started, so the journal alone describes
        /// the release even after the plan file changes.
        stages: Vec<StageDecl>,
        gates: Vec<GateDecl>,
        /// A partial release (`run --only`, `redeploy`): the stages chosen, in plan order. Only
        /// those are declared in `stages` (their `needs` narrowed to the chosen stages they
        /// depend on, directly or through stages left out); empty for a whole release.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        only: Vec<String>,
    },
    DriverStarted {
        pid: u32,
        #[serde(default)]
        host: String,
    },
    /// The driver stopped on purpose without finishing the release (`--no-wait` at a gate).
    DriverStopped {
        pid: u32,
        reason: String,
    },
    ReleaseFinished {
        state: FinalState,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },

    // ---- stages and runs (driver) ----
    /// A stage cannot start yet for a reason outside this journal (an environment held by another
    /// release). Written when the reason appears or changes.
    StageWaiting {
        stage: String,
        reason: String,
        /// The wait is a freeze window (the release is paused by it), not another release.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        frozen: bool,
    },
    RunStarted {
        #[serde(flatten)]
        run: RunKey,
        #[serde(default)]
        run_kind: RunKind,
        /// Log file, relative to the release folder.
        log: String,
    },
    /// A command of the run started in its own process group (each command of a list, each
    /// iteration of a watch). Written right after the spawn; a driver that dies before writing it
    /// is covered by the environment marker every child carries (see `runner`).
    RunSpawned {
        #[serde(flatten)]
        run: RunKey,
        #[serde(default)]
        run_kind: RunKind,
        pgid: i32,
        #[serde(default)]
        command: usize,
    },
    RunFinished {
        #[serde(flatten)]
        run: RunKey,
        #[serde(default)]
        run_kind: RunKind,
        #[serde(flatten)]
        outcome: Outcome,
        duration_ms: u64,
    },
    StageSucceeded {
        stage: String,
    },
    StageFailed {
        stage: String,
        on_failure: OnFailure,
        reason: String,
    },
    StageSkipped {
        stage: String,
        reason: String,
    },
    /// A person's retry was accepted: these targets (`None`: the stage's only run) get another
    /// attempt, and a finished release is reopened.
    StageRetry {
        stage: String,
        targets: Vec<Option<String>>,
    },
    /// The environment is now held by this release (first stage started on it).
    EnvAcquired {
        env: String,
    },

    // ---- gates (driver and people) ----
    GateReached {
        stage: String,
        gate: String,
    },
    CheckStarted {
        gate: String,
        item: usize,
        log: String,
    },
    CheckFinished {
        gate: String,
        item: usize,
        #[serde(flatten)]
        outcome: Outcome,
    },
    Approved {
        gate: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
        /// Where the gate takes signed approvals only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed: Option<Signed>,
    },
    Ticked {
        gate: String,
        item: usize,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    /// One person's override of the freeze windows in force now, for this release (`reason`
    /// required). Enough distinct people (`freeze_override_approvals`) let its stages through.
    FreezeOverridden {
        reason: String,
    },
    /// An approval (or rejection) that does not count, and why (not an approver, self-approval,
    /// already approved): journaled by whoever asked, as evidence.
    ApprovalRefused {
        gate: String,
        /// `approve` or `reject`.
        asked: String,
        reason: String,
    },

    // ---- requests (any process), handled by the driver ----
    CancelRequested {},
    /// A decision not to go on, at a gate, by someone who may approve it: the release ends
    /// `rejected` (running commands are stopped as for a cancel); nothing is rolled back.
    RejectRequested {
        gate: String,
        reason: String,
    },
    RetryRequested {
        stage: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    SkipRequested {
        stage: String,
        reason: String,
    },
    RollbackRequested {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        /// Only the runs on these targets (`eu`, or `prod/eu` for one environment's); empty: every
        /// run. Stages without targets are not rolled back by a target-scoped rollback.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        targets: Vec<String>,
        /// Newer releases live (or deploying) where it rolls back, which whoever asked was
        /// shown and chose to roll back over (`--force`, or the cockpit's confirmation of its
        /// warning): `2.5.0 (2.5.0) live on prod/eu since 2026-12-04 20:50 UTC`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        forced_over: Vec<String>,
    },
    RecheckRequested {
        gate: String,
        item: usize,
    },
    /// The driver's answer to a request (by sequence number).
    RequestHandled {
        request: u64,
        accepted: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
    EnvUnlocked {
        env: String,
        reason: String,
    },

    // ---- rollback (driver) ----
    RollbackStarted {
        reason: String,
        /// The order the driver will undo things in: (stage, target), newest first.
        order: Vec<RunKey>,
    },
    RollbackFinished {
        ok: bool,
    },
    /// The commits this release ships, from the plan's git repository: the range from the base
    /// release tag (excluded) to the head commit (included), each commit's time (lead time for
    /// changes is measured from it), and the release notes file written into the release folder.
    ReleaseCommits {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_tag: Option<String>,
        head: String,
        commits: Vec<CommitRef>,
        /// Commits in the range beyond the ones listed (the list is capped).
        #[serde(default)]
        omitted: usize,
        /// The notes file, relative to the release folder.
        notes: String,
    },
    /// `tag_on_success`: the release's version was tagged at its head commit (never pushed).
    TagCreated {
        tag: String,
        commit: String,
    },
    /// The environments' probed state, saved into the release folder at its start or end
    /// (`drift --since RELEASE` compares against the start).
    DriftSnapshot {
        /// `start` or `end`.
        at: String,
        /// Relative to the release folder.
        file: String,
        columns: usize,
        /// Probes that failed (named, with why).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        errors: Vec<String>,
    },
    /// Free text the driver wants on the record (e.g. a stray process killed on resume).
    Note {
        message: String,
    },

    // ---- incidents (a plan's incidents journal, `<plan>/.incidents/incidents.jsonl`) ----
    /// Someone opened incident `number` on `env` (against `release`, the one live there then).
    IncidentOpened {
        number: u64,
        env: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release: Option<String>,
        summary: String,
    },
    /// `run --at`: the release waits (`scheduled`) until `at`, then starts like any other.
    ReleaseScheduled {
        at: DateTime<Utc>,
    },
    /// An ad-hoc freeze (a plan's freezes journal, `<plan>/.freezes/freezes.jsonl`): deploys on
    /// `environments` do not start until `until` (or until it is removed).
    FreezeAdded {
        number: u64,
        environments: Vec<String>,
        until: DateTime<Utc>,
        reason: String,
    },
    /// Ad-hoc freeze `number` was ended early.
    FreezeRemoved {
        number: u64,
    },
    /// Incident `number` was resolved.
    IncidentResolved {
        number: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    /// A message of `[[notify]]` number `rule` (0-based, in plan order) about the record `about`
    /// (its sequence number): attempt `attempt` (1-based) ended `outcome` (`delivered`,
    /// `retrying`, or `given_up`), and why when it did not deliver. `to` names where, never a
    /// webhook's URL (its host only).
    NotifySent {
        rule: u32,
        about: u64,
        to: String,
        event: String,
        attempt: u32,
        outcome: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        why: String,
    },
    // ---- post-release reviews (a plan's reviews journal, `<plan>/.reviews/reviews.jsonl`) ----
    /// What went well and what did not in `release`, as one person recorded it.
    ReviewNoted {
        release: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        went_well: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        went_wrong: Vec<String>,
    },
    /// Action item `number` of `release`'s review (numbered per release), for `owner` by `due`.
    ActionAdded {
        release: String,
        number: u64,
        text: String,
        owner: String,
        due: chrono::NaiveDate,
    },
    /// Action item `number` of `release`'s review was closed.
    ActionClosed {
        release: String,
        number: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    // ---- release trains ----
    /// This release is a member of train `train` of workspace `workspace` (its `train_started`
    /// is record `started` of the workspace's trains journal); its stages on each gate's
    /// environment wait for that train gate.
    TrainJoined {
        train: String,
        workspace: String,
        started: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        gates: Vec<TrainGateWait>,
    },
    /// A stage's wait on something outside its release is over: another plan's stage in the
    /// train (`need` = `plan:stage`) or a train gate (`need` = `gate:NAME`). Not `ok`: it will
    /// never be met, and the stage fails without running.
    TrainWaitOver {
        stage: String,
        need: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// (The workspace's trains journal, `@<workspace>/.trains/trains.jsonl`.) Train `train`
    /// starts: one release per plan.
    TrainStarted {
        train: String,
        members: Vec<TrainPlan>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        gates: Vec<TrainGateDecl>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        rollback_on_failure: bool,
    },
    /// The release of one member plan of the train started at record `started` was created.
    TrainMember {
        started: u64,
        plan: String,
        release: String,
    },
    /// One person's approval of a train gate.
    TrainApproved {
        started: u64,
        gate: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    /// A train gate's checklist item (0-based) was ticked.
    TrainTicked {
        started: u64,
        gate: String,
        item: usize,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    /// Someone cancelled the train: every unfinished member is cancelled.
    TrainCancelRequested {
        started: u64,
    },
    /// The train rolls back the members that completed, in this order (`plan/release`, the
    /// last completed first).
    TrainRollbackStarted {
        started: u64,
        order: Vec<String>,
        reason: String,
        /// Each member rolled back even over a newer release live or deploying there.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        force: bool,
    },
    /// One member's rollback (`plan/release`) ended; when not `ok`, why.
    TrainMemberRolledBack {
        started: u64,
        member: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        why: String,
    },
    /// The train ended: `succeeded`, `failed`, `cancelled`, `rolled_back` or `rollback_failed`.
    TrainFinished {
        started: u64,
        state: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// A recovery (`rollback` request or `redeploy` release) started while incident `number` was
    /// open on an environment it touches.
    IncidentLinked {
        number: u64,
        release: String,
        /// How: `rollback` or `redeploy` (`kind` names the event itself).
        recovery: String,
        /// The release journal's request sequence number, for a rollback request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u64>,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ReleaseCreated { .. } => "release_created",
            Event::DriverStarted { .. } => "driver_started",
            Event::DriverStopped { .. } => "driver_stopped",
            Event::ReleaseFinished { .. } => "release_finished",
            Event::StageWaiting { .. } => "stage_waiting",
            Event::RunStarted { .. } => "run_started",
            Event::RunSpawned { .. } => "run_spawned",
            Event::RunFinished { .. } => "run_finished",
            Event::StageSucceeded { .. } => "stage_succeeded",
            Event::StageFailed { .. } => "stage_failed",
            Event::StageSkipped { .. } => "stage_skipped",
            Event::StageRetry { .. } => "stage_retry",
            Event::EnvAcquired { .. } => "env_acquired",
            Event::GateReached { .. } => "gate_reached",
            Event::CheckStarted { .. } => "check_started",
            Event::CheckFinished { .. } => "check_finished",
            Event::Approved { .. } => "approved",
            Event::Ticked { .. } => "ticked",
            Event::ApprovalRefused { .. } => "approval_refused",
            Event::FreezeOverridden { .. } => "freeze_overridden",
            Event::CancelRequested { .. } => "cancel_requested",
            Event::RejectRequested { .. } => "reject_requested",
            Event::RetryRequested { .. } => "retry_requested",
            Event::SkipRequested { .. } => "skip_requested",
            Event::RollbackRequested { .. } => "rollback_requested",
            Event::RecheckRequested { .. } => "recheck_requested",
            Event::RequestHandled { .. } => "request_handled",
            Event::EnvUnlocked { .. } => "env_unlocked",
            Event::RollbackStarted { .. } => "rollback_started",
            Event::RollbackFinished { .. } => "rollback_finished",
            Event::ReleaseCommits { .. } => "release_commits",
            Event::TagCreated { .. } => "tag_created",
            Event::DriftSnapshot { .. } => "drift_snapshot",
            Event::Note { .. } => "note",
            Event::IncidentOpened { .. } => "incident_opened",
            Event::IncidentResolved { .. } => "incident_resolved",
            Event::FreezeAdded { .. } => "freeze_added",
            Event::ReleaseScheduled { .. } => "release_scheduled",
            Event::FreezeRemoved { .. } => "freeze_removed",
            Event::IncidentLinked { .. } => "incident_linked",
            Event::TrainJoined { .. } => "train_joined",
            Event::TrainWaitOver { .. } => "train_wait_over",
            Event::TrainStarted { .. } => "train_started",
            Event::TrainMember { .. } => "train_member",
            Event::TrainApproved { .. } => "train_approved",
            Event::TrainTicked { .. } => "train_ticked",
            Event::TrainCancelRequested { .. } => "train_cancel_requested",
            Event::TrainRollbackStarted { .. } => "train_rollback_started",
            Event::TrainMemberRolledBack { .. } => "train_member_rolled_back",
            Event::TrainFinished { .. } => "train_finished",
            Event::ReviewNoted { .. } => "review_noted",
            Event::NotifySent { .. } => "notify_sent",
            Event::ActionAdded { .. } => "action_added",
            Event::ActionClosed { .. } => "action_closed",
        }
    }

    /// Visit every free-text field of the event: the strings that carry a person's or a child's
    /// words (notes, reasons, messages, error messages, probe errors). THE list of such fields:
    /// the journal masks secrets in exactly these before it serialises a record, and never
    /// touches anything else (kinds, ids, names, numbers, hashes). A new free-text field must be
    /// added here.
    pub fn visit_text_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        fn outcome(o: &mut Outcome, f: &mut dyn FnMut(&mut String)) {
            match o {
                Outcome::Error { message } => f(message),
                Outcome::Succeeded
                | Outcome::Failed { .. }
                | Outcome::TimedOut
                | Outcome::Cancelled
                | Outcome::Interrupted => {}
            }
        }
        match self {
            Event::DriverStopped { reason, .. }
            | Event::ReleaseFinished { reason, .. }
            | Event::StageFailed { reason, .. }
            | Event::StageSkipped { reason, .. }
            | Event::SkipRequested { reason, .. }
            | Event::RejectRequested { reason, .. }
            | Event::ApprovalRefused { reason, .. }
            | Event::FreezeOverridden { reason }
            | Event::FreezeAdded { reason, .. }
            | Event::EnvUnlocked { reason, .. }
            | Event::RollbackStarted { reason, .. }
            | Event::TrainWaitOver { reason, .. }
            | Event::TrainRollbackStarted { reason, .. }
            | Event::TrainMemberRolledBack { why: reason, .. }
            | Event::TrainFinished { reason, .. } => f(reason),
            Event::Approved { note, .. }
            | Event::Ticked { note, .. }
            | Event::TrainApproved { note, .. }
            | Event::TrainTicked { note, .. } => f(note),
            Event::RequestHandled { message, .. } | Event::Note { message } => f(message),
            Event::IncidentOpened { summary, .. } => f(summary),
            Event::IncidentResolved { note, .. } | Event::ActionClosed { note, .. } => f(note),
            Event::ReviewNoted {
                went_well,
                went_wrong,
                ..
            } => went_well.iter_mut().chain(went_wrong.iter_mut()).for_each(f),
            // The owner is a person's name, as an actor is: not masked.
            Event::ActionAdded { text, .. } => f(text),
            Event::NotifySent { to, why, .. } => {
                f(to);
                f(why)
            }
            Event::RunFinished { outcome: o, .. } | Event::CheckFinished { outcome: o, .. } => outcome(o, f),
            Event::DriftSnapshot { errors, .. } => errors.iter_mut().for_each(f),
            // Made of ids, names, numbers and hashes only (`stage_waiting`'s reason is composed of
            // an environment name and a release id by the driver).
            Event::ReleaseCreated { .. }
            | Event::DriverStarted { .. }
            | Event::StageWaiting { .. }
            | Event::RunStarted { .. }
            | Event::RunSpawned { .. }
            | Event::StageSucceeded { .. }
            | Event::StageRetry { .. }
            | Event::EnvAcquired { .. }
            | Event::GateReached { .. }
            | Event::CheckStarted { .. }
            | Event::CancelRequested {}
            | Event::RetryRequested { .. }
            | Event::RollbackRequested { .. }
            | Event::RecheckRequested { .. }
            | Event::RollbackFinished { .. }
            | Event::ReleaseCommits { .. }
            | Event::TagCreated { .. }
            | Event::IncidentLinked { .. }
            | Event::FreezeRemoved { .. }
            | Event::TrainJoined { .. }
            | Event::TrainStarted { .. }
            | Event::TrainMember { .. }
            | Event::TrainCancelRequested { .. }
            | Event::ReleaseScheduled { .. } => {}
        }
    }

    /// Requests are appended by any process and need the driver to act.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Event::CancelRequested {}
                | Event::RejectRequested { .. }
                | Event::RetryRequested { .. }
                | Event::SkipRequested { .. }
                | Event::RollbackRequested { .. }
                | Event::RecheckRequested { .. }
        )
    }
}

/// A member plan of a train as it started: its plan file and the version it releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainPlan {
    pub plan: String,
    pub version: String,
    /// The plan file (absolute).
    pub file: String,
}

/// A train gate as the train started with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainGateDecl {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub approvals: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
}

/// A train gate a member's stages on `environment` wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainGateWait {
    pub gate: String,
    pub environment: String,
}

/// What a failing stage does to the rest of the release (`on_failure` in the plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Halt,
    Rollback,
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseType {
    Major,
    #[default]
    Minor,
    Patch,
    Hotfix,
    /// A redeploy of an earlier version to one environment (`flightdeck redeploy`): never chosen
    /// with `--type`, but a gate's `required_for` can name it.
    Rollback,
}

impl ReleaseType {
    /// The types a person chooses for a new release (`run --type`, the cockpit's start form).
    pub const ALL: [ReleaseType; 4] = [Self::Major, Self::Minor, Self::Patch, Self::Hotfix];
    /// Every type, as a gate's `required_for` can name them.
    pub const EVERY: [ReleaseType; 5] = [
        Self::Major,
        Self::Minor,
        Self::Patch,
        Self::Hotfix,
        Self::Rollback,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
            Self::Hotfix => "hotfix",
            Self::Rollback => "rollback",
        }
    }

    /// Any type by its name, `rollback` included (a plan's `required_for`).
    pub fn named(s: &str) -> Option<ReleaseType> {
        Self::EVERY.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for ReleaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReleaseType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == Self::Rollback.as_str() {
            return Err(
                "`rollback` is the type of `flightdeck redeploy`; choose major, minor, patch or hotfix"
                    .into(),
            );
        }
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown release type `{s}` (expected major, minor, patch or hotfix)"))
    }
}
