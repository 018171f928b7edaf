//! What happens next: pure functions of the plan and the folded state. No I/O, no clock. The driver
//! performs the decisions (journal first, then effects) and asks again until nothing is left.

use std::collections::BTreeSet;

use super::state::{ReleaseState, StageStatus, TargetStatus};
use crate::event::{Event, FinalState, RunKey, RunKind};
use crate::plan::{OnFailure, Plan};

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Journal this event (a state transition that needs no process).
    Emit(Event),
    /// Start a run.
    Start { key: RunKey, kind: RunKind },
    /// Run an automatic checklist item.
    RunCheck { gate: String, item: usize },
    /// The stage needs `env`, which this release does not hold yet: the driver asks the other
    /// releases (I/O) and journals `EnvAcquired` or `StageWaiting`.
    Acquire { stage: String, env: String },
    /// The stage waits for something of its train outside the release: another plan's stage
    /// (`plan:stage`) or a train gate (`gate:NAME`); the driver reads it (I/O) and journals
    /// `TrainWaitOver` or `StageWaiting`.
    AwaitTrain { stage: String, need: String },
    /// Stop every run in flight (cancel or rollback): SIGTERM, grace, SIGKILL.
    TerminateAll,
}

/// Decide what to do now. Running the same state twice gives the same answer, so the driver
/// must apply the decisions' events before asking again.
pub fn decide(plan: &Plan, st: &ReleaseState) -> Vec<Decision> {
    let mut out = Vec::new();
    if st.finished.is_some() || st.stages.is_empty() {
        return out;
    }
    let running = st.running_runs();
    // Automatic checks end like runs do: a release never finishes (nor rolls back) with one still
    // running, or it would be journaled after the end.
    let checks_running = st.checks_running();

    if st.cancelling {
        if running.is_empty() && !checks_running {
            out.push(Decision::Emit(match &st.rejected {
                Some(r) => Event::ReleaseFinished {
                    state: FinalState::Rejected,
                    reason: format!("rejected at gate {} by {}: {}", r.gate, r.actor, r.reason),
                },
                None => Event::ReleaseFinished {
                    state: FinalState::Cancelled,
                    reason: "cancelled".into(),
                },
            }));
        } else {
            out.push(Decision::TerminateAll);
        }
        return out;
    }

    if let Some(rb) = &st.rollback
        && rb.finished.is_none()
    {
        if checks_running || running.iter().any(|(_, kind, _)| *kind == RunKind::Deploy) {
            out.push(Decision::TerminateAll);
            return out;
        }
        // Each target of the order in turn, newest first. Only this round's attempts count: an
        // earlier round's failure is what this round is here to retry. An interrupted attempt (its
        // driver died) is run again; a failed one is recorded and the rest still roll back.
        let mut ok = true;
        for key in &rb.order {
            let Some(t) = st.target(&key.stage, key.target.as_deref()) else {
                continue;
            };
            let again = match rb.attempts(t).last() {
                None => true,
                Some(a) if a.running() => return out,
                Some(a) if a.outcome == Some(crate::event::Outcome::Interrupted) => true,
                Some(a) => {
                    ok &= a.outcome.as_ref().is_some_and(|o| o.is_success());
                    false
                }
            };
            if again {
                let key = RunKey {
                    stage: key.stage.clone(),
                    target: key.target.clone(),
                    attempt: t.rollbacks.iter().map(|a| a.n).max().unwrap_or(0) + 1,
                };
                out.push(Decision::Start {
                    key,
                    kind: RunKind::Rollback,
                });
                return out;
            }
        }
        out.push(Decision::Emit(Event::RollbackFinished { ok }));
        let (state, reason) = if ok && st.partially_rolled_back() {
            // Some targets of a stage were rolled back, others still run this release.
            (
                FinalState::PartiallyRolledBack,
                format!("partially rolled back: {}", rb.reason),
            )
        } else if ok {
            (FinalState::RolledBack, format!("rolled back: {}", rb.reason))
        } else {
            (
                FinalState::RollbackFailed,
                format!("ROLLBACK FAILED: {}", rb.reason),
            )
        };
        out.push(Decision::Emit(Event::ReleaseFinished { state, reason }));
        return out;
    }
    let mut stages_running = st
        .stages
        .iter()
        .filter(|s| s.status == StageStatus::Running)
        .count();
    let mut any_failed_rollback = None;

    for (idx, s) in st.stages.iter().enumerate() {
        let ps = match plan.stages.get(idx) {
            Some(p) if p.id == s.decl.id => p,
            _ => match plan.stage(&s.decl.id) {
                Some(p) => p,
                None => continue,
            },
        };
        match s.status {
            StageStatus::Running | StageStatus::Pending | StageStatus::Gated => {}
            _ => continue,
        }
        let started = s.targets.iter().any(|t| !t.attempts.is_empty());
        if !started {
            // Needs.
            let mut blocked_by = None;
            let mut waiting = false;
            for need in &s.decl.needs {
                match st.stage(need).map(|n| n.status) {
                    Some(StageStatus::Succeeded | StageStatus::Skipped) => {}
                    Some(StageStatus::Failed | StageStatus::RolledBack | StageStatus::RollbackFailed) => {
                        blocked_by = Some(need.clone())
                    }
                    _ => waiting = true,
                }
            }
            if let Some(need) = blocked_by {
                if !st.halted {
                    out.push(Decision::Emit(Event::StageSkipped {
                        stage: s.decl.id.clone(),
                        reason: format!("not run: needs `{need}`, which did not succeed"),
                    }));
                }
                continue;
            }
            if waiting || st.halted {
                continue;
            }
            // A train's waits: other plans' stages (`needs = ["plan:stage"]`), train gates on
            // this stage's environment. Outside a train there are none.
            if let Some(train) = &st.train {
                if let Some(why) = &s.train_failed {
                    out.push(Decision::Emit(Event::StageFailed {
                        stage: s.decl.id.clone(),
                        on_failure: OnFailure::Halt,
                        reason: format!("not run: {why}"),
                    }));
                    continue;
                }
                let gates = train
                    .gates
                    .iter()
                    .filter(|g| s.decl.environment.as_ref() == Some(&g.environment))
                    .map(|g| format!("gate:{}", g.gate));
                // One wait at a time, in order: a stage says one reason for waiting, and asking
                // for two at once would have them replace each other's reason without end.
                let mut needs = ps.after.iter().map(|n| n.name()).chain(gates);
                if let Some(need) = needs.find(|n| !s.train_met.contains(n)) {
                    out.push(Decision::AwaitTrain {
                        stage: s.decl.id.clone(),
                        need,
                    });
                    continue;
                }
            }
            // Gates.
            let mut gates_ok = true;
            for g in &s.decl.gates {
                let Some(gs) = st.gate(g) else { continue };
                if s.status == StageStatus::Pending && !(gs.reached_by.is_some() && gs.satisfied()) {
                    out.push(Decision::Emit(Event::GateReached {
                        stage: s.decl.id.clone(),
                        gate: g.clone(),
                    }));
                }
                for (i, (_, auto)) in gs.decl.checklist.iter().enumerate() {
                    let needs_run = match &gs.checks[i] {
                        None => true,
                        Some(c) => c.outcome == Some(crate::event::Outcome::Interrupted),
                    };
                    if *auto && needs_run {
                        out.push(Decision::RunCheck {
                            gate: g.clone(),
                            item: i,
                        });
                    }
                }
                gates_ok &= gs.satisfied();
            }
            if !gates_ok {
                continue;
            }
            if let Some(env) = &s.decl.environment
                && !st.env_holds.contains(env)
            {
                out.push(Decision::Acquire {
                    stage: s.decl.id.clone(),
                    env: env.clone(),
                });
                continue;
            }
            if stages_running >= plan.max_parallel {
                continue;
            }
            stages_running += 1;
        }

        // Targets of a started (or starting) stage.
        let mut run_now = s
            .targets
            .iter()
            .filter(|t| t.status() == TargetStatus::Running)
            .count();
        let mut failed = Vec::new();
        let mut succeeded = 0;
        for t in &s.targets {
            match t.status() {
                TargetStatus::Succeeded => succeeded += 1,
                TargetStatus::Failed => failed.push(t.label().to_string()),
                TargetStatus::Pending | TargetStatus::Retrying | TargetStatus::Running => {}
            }
        }
        let stopping = !failed.is_empty() || st.halted;
        if !stopping {
            for t in &s.targets {
                if run_now >= ps.concurrency {
                    break;
                }
                if matches!(t.status(), TargetStatus::Pending | TargetStatus::Retrying) {
                    let key = RunKey {
                        stage: s.decl.id.clone(),
                        target: t.target.clone(),
                        attempt: t.attempts.len() as u32 + 1,
                    };
                    out.push(Decision::Start {
                        key,
                        kind: RunKind::Deploy,
                    });
                    run_now += 1;
                }
            }
        }
        if succeeded == s.targets.len() {
            out.push(Decision::Emit(Event::StageSucceeded {
                stage: s.decl.id.clone(),
            }));
        } else if !failed.is_empty() && (run_now == 0 || ps.on_failure == OnFailure::Rollback) {
            let reason = if s.targets.len() == 1 && s.targets[0].target.is_none() {
                failure_reason(st, idx)
            } else {
                format!("failed on {}", failed.join(", "))
            };
            out.push(Decision::Emit(Event::StageFailed {
                stage: s.decl.id.clone(),
                on_failure: ps.on_failure,
                reason,
            }));
            if ps.on_failure == OnFailure::Rollback && any_failed_rollback.is_none() {
                any_failed_rollback = Some(s.decl.id.clone());
            }
        }
    }

    if let Some(stage) = any_failed_rollback {
        let order = rollback_order(plan, st, Scope::WHOLE);
        out.push(Decision::Emit(Event::RollbackStarted {
            reason: format!("stage `{stage}` failed"),
            order,
        }));
        return out;
    }

    if out.is_empty() && running.is_empty() {
        let all_terminal = st.stages.iter().all(|s| s.status.is_terminal());
        let failed: Vec<&str> = st
            .stages
            .iter()
            .filter(|s| s.status == StageStatus::Failed)
            .map(|s| s.decl.id.as_str())
            .collect();
        let finish = if st.halted {
            Some((
                FinalState::Failed,
                format!("halted: stage {} failed", failed.join(", ")),
            ))
        } else if !all_terminal {
            None
        } else if failed.is_empty() {
            Some((FinalState::Succeeded, String::new()))
        } else {
            Some((FinalState::Failed, format!("stage {} failed", failed.join(", "))))
        };
        match finish {
            Some(_) if checks_running => out.push(Decision::TerminateAll),
            Some((state, reason)) => out.push(Decision::Emit(Event::ReleaseFinished { state, reason })),
            None => {}
        }
    }
    out
}

/// Why a single-run stage failed, from its last attempt.
fn failure_reason(st: &ReleaseState, idx: usize) -> String {
    let s = &st.stages[idx];
    let Some(a) = s.targets.first().and_then(|t| t.last()) else {
        return "failed".into();
    };
    use crate::event::Outcome::*;
    let tries = if a.n > 1 {
        format!(" (attempt {})", a.n)
    } else {
        String::new()
    };
    match &a.outcome {
        Some(Failed { code: Some(c), .. }) => format!("exited with {c}{tries}"),
        Some(Failed {
            signal: Some(sig), ..
        }) => format!("killed by signal {sig}{tries}"),
        Some(TimedOut) => format!("timed out{tries}"),
        Some(Cancelled) => "cancelled".into(),
        Some(Interrupted) => "interrupted".into(),
        Some(Error { message }) => message.clone(),
        _ => format!("failed{tries}"),
    }
}

/// What a rollback covers: the whole release, a stage and everything after it (`from`), and
/// only the runs on some targets (`targets`: `eu` names that target in every environment,
/// `prod/eu` only prod's). A target-scoped rollback leaves stages without targets alone: a
/// single-run stage (a build, a migration) is not one region's, so rolling back one region does
/// not undo it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope<'a> {
    pub from: Option<&'a str>,
    pub targets: &'a [String],
}

impl<'a> Scope<'a> {
    /// The whole release.
    pub const WHOLE: Scope<'static> = Scope {
        from: None,
        targets: &[],
    };

    pub fn new(from: Option<&'a str>, targets: &'a [String]) -> Scope<'a> {
        Scope { from, targets }
    }

    /// From a stage on (every target).
    pub fn from(from: Option<&'a str>) -> Scope<'a> {
        Scope { from, targets: &[] }
    }

    pub fn is_whole(&self) -> bool {
        self.from.is_none() && self.targets.is_empty()
    }

    /// Whether a run on `target` of a stage in `env` is in scope (stages are checked apart).
    pub fn covers(&self, env: Option<&str>, target: Option<&str>) -> bool {
        if self.targets.is_empty() {
            return true;
        }
        let Some(t) = target else { return false };
        self.targets
            .iter()
            .any(|n| n == t || (env.is_some() && n.split_once('/') == env.map(|e| (e, t))))
    }

    /// `eu, us` for messages.
    pub fn targets_text(&self) -> String {
        self.targets.join(", ")
    }
}

/// The names a target-scoped rollback of `st` may use: `env/target` for every target of its
/// stages (a bare `target` names it in every environment).
pub fn target_names(st: &ReleaseState) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in &st.stages {
        for t in s.targets.iter().filter_map(|t| t.target.as_deref()) {
            let name = match &s.decl.environment {
                Some(e) => format!("{e}/{t}"),
                None => t.to_string(),
            };
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The target names of `targets` that name no target of `st`'s stages, with the message that
/// says so (naming the known ones); `Ok` when all are known.
pub fn check_targets(st: &ReleaseState, targets: &[String]) -> Result<(), String> {
    let known = target_names(st);
    let unknown: Vec<&str> = targets
        .iter()
        .filter(|n| {
            !known
                .iter()
                .any(|k| k == *n || k.rsplit_once('/').is_some_and(|(_, t)| t == n.as_str()))
        })
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let which = unknown
        .iter()
        .map(|u| format!("`{u}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(if known.is_empty() {
        format!(
            "release {} has no target {which}: none of its stages fans out to targets",
            st.id
        )
    } else {
        format!(
            "release {} has no target {which} (its targets: {})",
            st.id,
            known.join(", ")
        )
    })
}

/// The runs of `st` that are live (their deploy succeeded, no rollback of them did), in scope,
/// with when they finished, newest first: `with_rollback` picks the stages that have a rollback
/// command (what a rollback undoes) or those that have none (what it leaves as it is).
fn live_runs(plan: &Plan, st: &ReleaseState, scope: Scope, with_rollback: bool) -> Vec<RunKey> {
    let in_from: Option<BTreeSet<String>> = scope.from.map(|f| downstream(plan, f));
    let mut done: Vec<(u64, RunKey)> = Vec::new();
    for s in &st.stages {
        if s.decl.has_rollback != with_rollback || in_from.as_ref().is_some_and(|sc| !sc.contains(&s.decl.id))
        {
            continue;
        }
        for t in &s.targets {
            if !scope.covers(s.decl.environment.as_deref(), t.target.as_deref()) {
                continue;
            }
            // The newest successful deploy attempt (the one that is live), if any.
            if let Some(a) = t
                .attempts
                .iter()
                .rev()
                .find(|a| a.outcome.as_ref().is_some_and(|o| o.is_success()))
                && t.rollbacks
                    .iter()
                    .all(|r| !r.outcome.as_ref().is_some_and(|o| o.is_success()))
            {
                done.push((
                    a.finished_seq.unwrap_or(0),
                    RunKey {
                        stage: s.decl.id.clone(),
                        target: t.target.clone(),
                        attempt: a.n,
                    },
                ));
            }
        }
    }
    done.sort_by_key(|d| std::cmp::Reverse(d.0));
    done.into_iter().map(|(_, k)| k).collect()
}

/// What a rollback undoes, newest first: every target whose deploy succeeded (and was not rolled
/// back), of every stage in `scope` that has a `rollback`.
pub fn rollback_order(plan: &Plan, st: &ReleaseState, scope: Scope) -> Vec<RunKey> {
    live_runs(plan, st, scope, true)
}

/// The live runs in `scope` of stages without a rollback command: a rollback leaves them as they
/// are, and the preview (and the driver's answer) says so.
pub fn without_rollback(plan: &Plan, st: &ReleaseState, scope: Scope) -> Vec<RunKey> {
    live_runs(plan, st, scope, false)
}

/// What a rollback requested now would run, in order: the one answer for the driver (which
/// journals it as `rollback_started.order`) and the cockpit's preview.
///
/// For the whole release after a rollback round that did not end well (a run failed, or a
/// cancel cut it short): exactly that round's runs that did not succeed, in its order.
/// Otherwise [`rollback_order`].
pub fn rollback_plan(plan: &Plan, st: &ReleaseState, scope: Scope) -> Vec<RunKey> {
    if scope.is_whole()
        && let Some(rb) = &st.rollback
        && rb.finished != Some(true)
    {
        return rb
            .order
            .iter()
            .filter(|k| {
                st.target(&k.stage, k.target.as_deref())
                    .is_some_and(|t| !rb.succeeded_on(t))
            })
            .cloned()
            .collect();
    }
    rollback_order(plan, st, scope)
}

/// Whether a rollback (of the whole release, from a stage, on some targets) would be accepted
/// now: the runs it would make, in order ([`rollback_plan`]), or why not. The driver answers
/// requests with it and the cockpit asks it before offering one, so both front ends agree.
pub fn rollback_request(plan: &Plan, st: &ReleaseState, scope: Scope) -> Result<Vec<RunKey>, String> {
    if st.finished.is_none() && st.rollback.as_ref().is_some_and(|r| r.finished.is_none()) {
        return Err("a rollback is already in progress".into());
    }
    if let Some(s) = scope.from
        && plan.stage(s).is_none()
    {
        return Err(format!("no stage `{s}`"));
    }
    check_targets(st, scope.targets)?;
    let order = rollback_plan(plan, st, scope);
    // An unfinished release with nothing to undo yet still stops its running deploys.
    if order.is_empty() && st.finished.is_some() {
        let on = if scope.targets.is_empty() {
            String::new()
        } else {
            format!(" on {}", scope.targets_text())
        };
        return Err(match scope.from {
            Some(s) => format!(
                "nothing to roll back from stage `{s}`{on}: no completed stage with a rollback command that is not rolled back already"
            ),
            None => format!(
                "nothing to roll back{on}: no completed stage with a rollback command that is not rolled back already"
            ),
        });
    }
    Ok(order)
}

/// `build, deploy/eu-1` for messages.
pub fn runs_text(keys: &[RunKey]) -> String {
    keys.iter()
        .map(|k| match &k.target {
            Some(t) => format!("{}/{t}", k.stage),
            None => k.stage.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `stage` and every stage that transitively needs it.
pub fn downstream(plan: &Plan, stage: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::from([stage.to_string()]);
    loop {
        let before = set.len();
        for s in &plan.stages {
            if s.needs.iter().any(|n| set.contains(n)) {
                set.insert(s.id.clone());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// The driver's answer to a request: events to journal (always ending with `RequestHandled`).
pub fn handle_request(plan: &Plan, st: &ReleaseState, seq: u64, event: &Event) -> Vec<Event> {
    let refuse = |msg: String| {
        vec![Event::RequestHandled {
            request: seq,
            accepted: false,
            message: msg,
        }]
    };
    let accept = |mut evs: Vec<Event>, msg: String| {
        evs.push(Event::RequestHandled {
            request: seq,
            accepted: true,
            message: msg,
        });
        evs
    };
    let finished = st.finished.is_some();
    match event {
        Event::RejectRequested { gate, .. } => {
            let who = st.requests.get(&seq).map(|r| r.actor.as_str()).unwrap_or("");
            if finished {
                refuse("the release has already finished".into())
            } else if st.cancelling {
                refuse("the release is being cancelled".into())
            } else if st.rollback.is_some() {
                refuse("the release is rolling back".into())
            } else {
                match st.gate(gate) {
                    None => refuse(format!("no gate `{gate}`")),
                    // Checked when it was asked; checked again here, against the journal.
                    Some(g) => match g.decl.may_approve(who, &st.created_by, super::identity::same) {
                        Err(why) => refuse(format!(
                            "only someone who may approve gate `{gate}` may reject it: {why}"
                        )),
                        Ok(()) => accept(
                            vec![],
                            format!(
                                "rejected at gate `{gate}`: running commands are stopped; nothing is rolled back"
                            ),
                        ),
                    },
                }
            }
        }
        Event::CancelRequested {} => {
            if finished {
                refuse("the release has already finished".into())
            } else {
                accept(
                    vec![],
                    "cancelling: running commands get SIGTERM, then SIGKILL after the grace period".into(),
                )
            }
        }
        Event::SkipRequested { stage, reason } => match st.stage(stage) {
            None => refuse(format!("no stage `{stage}`")),
            Some(s) if s.status == StageStatus::Running => refuse(format!(
                "stage `{stage}` is running; cancel the release or wait for it"
            )),
            Some(s) if s.status.is_terminal() => {
                refuse(format!("stage `{stage}` is already {}", s.status.as_str()))
            }
            Some(_) if finished => refuse("the release has already finished".into()),
            Some(_) => accept(
                vec![Event::StageSkipped {
                    stage: stage.clone(),
                    reason: format!("skipped: {reason}"),
                }],
                format!("stage `{stage}` skipped"),
            ),
        },
        Event::RetryRequested { stage, target } => {
            let Some(s) = st.stage(stage) else {
                return refuse(format!("no stage `{stage}`"));
            };
            if let Some(rb) = &st.rollback {
                let done_ok = rb.finished == Some(true);
                return refuse(if st.finished.is_none() && rb.finished.is_none() {
                    "a rollback is in progress; a stage cannot be retried during it".into()
                } else if done_ok {
                    format!("release {} was rolled back; start a new release instead", st.id)
                } else {
                    format!(
                        "release {} did not finish rolling back; `flightdeck rollback {}` retries the rollback (a stage cannot be retried after a rollback)",
                        st.id, st.id
                    )
                });
            }
            if st.cancelling
                || st
                    .finished
                    .as_ref()
                    .is_some_and(|f| f.state == FinalState::Cancelled)
            {
                return refuse("the release was cancelled".into());
            }
            let targets: Vec<Option<String>> = match target {
                Some(t) => match s.targets.iter().find(|x| x.target.as_deref() == Some(t.as_str())) {
                    None => return refuse(format!("stage `{stage}` has no target `{t}`")),
                    Some(x) if x.status() == TargetStatus::Running => {
                        return refuse(format!("`{stage}/{t}` is running"));
                    }
                    Some(x) if x.status() == TargetStatus::Failed => vec![x.target.clone()],
                    Some(_) if s.status == StageStatus::Failed => vec![Some(t.clone())],
                    Some(_) => return refuse(format!("`{stage}/{t}` has not failed")),
                },
                None => s
                    .targets
                    .iter()
                    .filter(|t| t.status() == TargetStatus::Failed)
                    .map(|t| t.target.clone())
                    .collect(),
            };
            if targets.is_empty() || !matches!(s.status, StageStatus::Failed | StageStatus::Running) {
                return refuse(format!(
                    "stage `{stage}` has nothing to retry (it is {})",
                    s.status.as_str()
                ));
            }
            let what = targets
                .iter()
                .map(|t| t.as_deref().unwrap_or(stage))
                .collect::<Vec<_>>()
                .join(", ");
            accept(
                vec![Event::StageRetry {
                    stage: stage.clone(),
                    targets,
                }],
                format!("retrying {what}"),
            )
        }
        Event::RollbackRequested {
            stage,
            targets,
            forced_over,
        } => {
            let scope = Scope::new(stage.as_deref(), targets);
            let order = match rollback_request(plan, st, scope) {
                Ok(order) => order,
                Err(msg) => return refuse(msg),
            };
            let retrying = scope.is_whole() && st.rollback.as_ref().is_some_and(|r| r.finished != Some(true));
            let on = if targets.is_empty() {
                String::new()
            } else {
                format!(" on {}", scope.targets_text())
            };
            let mut what = match stage {
                Some(s) => format!("rollback from stage `{s}`{on} requested"),
                None if retrying => "retry of the rollback requested".into(),
                None if !targets.is_empty() => format!("rollback{on} requested"),
                None => "rollback of the whole release requested".into(),
            };
            if !forced_over.is_empty() {
                what.push_str(&format!(", forced over {}", forced_over.join("; ")));
            }
            let n = order.len();
            let mut msg = if retrying {
                format!("retrying the rollback: {n} run(s) that did not succeed")
            } else {
                format!("rolling back {n} run(s)")
            };
            let kept = without_rollback(plan, st, scope);
            if !retrying && !kept.is_empty() {
                msg.push_str(&format!(
                    "; left as they are (no rollback command): {}",
                    runs_text(&kept)
                ));
            }
            accept(vec![Event::RollbackStarted { reason: what, order }], msg)
        }
        Event::RecheckRequested { .. } if finished => refuse("the release has already finished".into()),
        Event::RecheckRequested { .. } if st.cancelling => refuse("the release is being cancelled".into()),
        Event::RecheckRequested { .. } if st.rollback.is_some() => {
            refuse("the release is rolling back; its gates no longer matter".into())
        }
        Event::RecheckRequested { gate, item } => match st.gate(gate) {
            Some(g) if g.decl.checklist.get(*item).is_some_and(|(_, auto)| *auto) => {
                if g.checks[*item].as_ref().is_some_and(|c| c.outcome.is_none()) {
                    refuse("that check is running".into())
                } else {
                    accept(vec![], format!("re-running check {} of gate `{gate}`", item + 1))
                }
            }
            Some(_) => refuse(format!(
                "item {} of gate `{gate}` is not an automatic check",
                item + 1
            )),
            None => refuse(format!("no gate `{gate}` in this release")),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use chrono::Utc;

    use super::*;
    use crate::engine::driver::release_created;
    use crate::event::{Outcome, Record};
    use crate::plan::{ChecklistItem, Environment, Gate, ReleaseType, Stage, Template};

    fn stage(id: &str, needs: &[&str]) -> Stage {
        Stage {
            id: id.into(),
            needs: needs.iter().map(|s| s.to_string()).collect(),
            after: vec![],
            environment: None,
            run: vec![Template::new("true")],
            rollback: vec![Template::new("undo")],
            timeout: None,
            retries: 0,
            gates: vec![],
            concurrency: 1,
            on_failure: OnFailure::Halt,
            watch: None,
        }
    }

    fn plan(stages: Vec<Stage>) -> Plan {
        let mut environments = indexmap::IndexMap::new();
        environments.insert(
            "prod".to_string(),
            Environment {
                name: "prod".into(),
                targets: ["t1", "t2", "t3", "t4", "t5"].map(String::from).to_vec(),
                ..Default::default()
            },
        );
        let mut gates = indexmap::IndexMap::new();
        gates.insert(
            "signoff".to_string(),
            Gate {
                name: "signoff".into(),
                approvals: 2,
                allow_self_approval: true,
                required_for: None,
                checklist: vec![
                    ChecklistItem::manual("notes"),
                    ChecklistItem {
                        item: "budget".into(),
                        check: Some(Template::new("true")),
                        drift: None,
                    },
                ],
                ..Default::default()
            },
        );
        Plan {
            path: PathBuf::from("/p/flightdeck.toml"),
            dir: PathBuf::from("/p"),
            name: "p".into(),
            max_parallel: 8,
            secrets: vec![],
            secret_locations: vec![],
            environments,
            stages,
            gates,
            git: Default::default(),
            drift: Default::default(),
            check_timeout: Plan::DEFAULT_CHECK_TIMEOUT,
            store: None,
            teams: Default::default(),
            freezes: Vec::new(),
            freeze_override_approvals: 1,
            notify: Vec::new(),
        }
    }

    struct Sim {
        plan: Plan,
        st: ReleaseState,
        log: Vec<Event>,
        seq: u64,
    }

    impl Sim {
        fn new(plan: Plan) -> Sim {
            let mut s = Sim {
                st: ReleaseState::default(),
                plan,
                log: vec![],
                seq: 0,
            };
            let ev = release_created(&s.plan, "1.0", "1.0", ReleaseType::Minor);
            s.push("ci", ev);
            s
        }
        fn push(&mut self, actor: &str, event: Event) {
            self.seq += 1;
            let rec = Record {
                seq: self.seq,
                ts: Utc::now(),
                actor: actor.into(),
                prev: String::new(),
                event,
            };
            self.st.apply(&rec);
            self.log.push(rec.event);
        }
        /// Run decisions to a fixpoint; every run finishes at once with `outcome(key)`.
        fn run(&mut self, outcome: impl Fn(&RunKey, RunKind) -> Outcome) {
            for _ in 0..1000 {
                let ds = decide(&self.plan, &self.st);
                // Nothing but stopping what runs: the driver would wait for the jobs to end.
                if ds.iter().all(|d| *d == Decision::TerminateAll) {
                    return;
                }
                let mut started = Vec::new();
                for d in ds {
                    match d {
                        Decision::Emit(e) => self.push("driver", e),
                        Decision::Start { key, kind } => {
                            self.push(
                                "driver",
                                Event::RunStarted {
                                    run: key.clone(),
                                    run_kind: kind,
                                    log: String::new(),
                                },
                            );
                            started.push((key, kind));
                        }
                        Decision::RunCheck { gate, item } => {
                            self.push(
                                "driver",
                                Event::CheckStarted {
                                    gate: gate.clone(),
                                    item,
                                    log: String::new(),
                                },
                            );
                            self.push(
                                "driver",
                                Event::CheckFinished {
                                    gate,
                                    item,
                                    outcome: Outcome::Succeeded,
                                },
                            );
                        }
                        Decision::Acquire { env, .. } => self.push("driver", Event::EnvAcquired { env }),
                        Decision::AwaitTrain { stage, need } => self.push(
                            "driver",
                            Event::TrainWaitOver {
                                stage,
                                need,
                                ok: true,
                                reason: String::new(),
                            },
                        ),
                        Decision::TerminateAll => {}
                    }
                }
                for (key, kind) in started {
                    let o = outcome(&key, kind);
                    self.push(
                        "driver",
                        Event::RunFinished {
                            run: key,
                            run_kind: kind,
                            outcome: o,
                            duration_ms: 1,
                        },
                    );
                }
            }
            panic!("no fixpoint");
        }
        fn starts(&self, kind: RunKind) -> Vec<String> {
            self.log
                .iter()
                .filter_map(|e| match e {
                    Event::RunStarted { run, run_kind, .. } if *run_kind == kind => Some(format!(
                        "{}{}#{}",
                        run.stage,
                        run.target.as_ref().map(|t| format!("/{t}")).unwrap_or_default(),
                        run.attempt
                    )),
                    _ => None,
                })
                .collect()
        }
        fn finished(&self) -> Option<FinalState> {
            self.st.finished.as_ref().map(|f| f.state)
        }
    }

    fn fail() -> Outcome {
        Outcome::Failed {
            code: Some(1),
            signal: None,
            command: 0,
        }
    }

    #[test]
    fn chain_runs_in_dependency_order_and_succeeds() {
        let p = plan(vec![stage("c", &["b"]), stage("a", &[]), stage("b", &["a"])]);
        let mut sim = Sim::new(p);
        assert_eq!(
            decide(&sim.plan, &sim.st),
            vec![Decision::Start {
                key: RunKey {
                    stage: "a".into(),
                    target: None,
                    attempt: 1
                },
                kind: RunKind::Deploy
            }]
        );
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.starts(RunKind::Deploy), ["a#1", "b#1", "c#1"]);
        assert_eq!(sim.finished(), Some(FinalState::Succeeded));
    }

    #[test]
    fn fan_out_respects_concurrency_and_max_parallel() {
        let mut fan = stage("deploy", &[]);
        fan.environment = Some("prod".into());
        fan.concurrency = 2;
        let mut p = plan(vec![fan, stage("other", &[]), stage("third", &[])]);
        p.max_parallel = 2;
        let sim = Sim::new(p);
        let ds = decide(&sim.plan, &sim.st);
        // Acquire for the fan-out stage first; the two plain stages fill max_parallel.
        assert!(matches!(&ds[0], Decision::Acquire { env, .. } if env == "prod"));
        let starts: Vec<_> = ds
            .iter()
            .filter(|d| matches!(d, Decision::Start { .. }))
            .collect();
        assert_eq!(starts.len(), 2, "{ds:?}");
        let mut sim = sim;
        sim.push("driver", Event::EnvAcquired { env: "prod".into() });
        let ds = decide(&sim.plan, &sim.st);
        let fan_starts = ds
            .iter()
            .filter(|d| matches!(d, Decision::Start { key, .. } if key.stage == "deploy"))
            .count();
        assert_eq!(fan_starts, 2);
    }

    #[test]
    fn retries_then_success() {
        let mut s = stage("flaky", &[]);
        s.retries = 2;
        let mut sim = Sim::new(plan(vec![s]));
        sim.run(|k, _| if k.attempt < 3 { fail() } else { Outcome::Succeeded });
        assert_eq!(sim.starts(RunKind::Deploy), ["flaky#1", "flaky#2", "flaky#3"]);
        assert_eq!(sim.finished(), Some(FinalState::Succeeded));
    }

    #[test]
    fn rollback_undoes_completed_work_newest_first_including_succeeded_targets() {
        let a = stage("a", &[]);
        let mut b = stage("b", &["a"]);
        b.environment = Some("prod".into());
        b.on_failure = OnFailure::Rollback;
        let mut no_rb = stage("n", &["a"]);
        no_rb.rollback = vec![];
        let mut sim = Sim::new(plan(vec![a, no_rb, b]));
        sim.run(|k, kind| match (k.target.as_deref(), kind) {
            (Some("t3"), RunKind::Deploy) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.starts(RunKind::Rollback), ["b/t2#1", "b/t1#1", "a#1"]);
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
        assert_eq!(sim.st.stage("a").unwrap().status, StageStatus::RolledBack);
    }

    #[test]
    fn a_failed_rollback_is_loud_and_the_rest_still_rolls_back() {
        let a = stage("a", &[]);
        let b = stage("b", &["a"]);
        let mut c = stage("c", &["b"]);
        c.on_failure = OnFailure::Rollback;
        let mut sim = Sim::new(plan(vec![a, b, c]));
        sim.run(|k, kind| match (k.stage.as_str(), kind) {
            ("c", RunKind::Deploy) | ("b", RunKind::Rollback) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.starts(RunKind::Rollback), ["b#1", "a#1"]);
        assert_eq!(sim.finished(), Some(FinalState::RollbackFailed));
    }

    #[test]
    fn halt_starts_nothing_new() {
        let a = stage("a", &[]);
        let b = stage("b", &["a"]);
        let mut sim = Sim::new(plan(vec![a, b]));
        sim.run(|k, _| {
            if k.stage == "a" {
                fail()
            } else {
                Outcome::Succeeded
            }
        });
        assert_eq!(sim.starts(RunKind::Deploy), ["a#1"]);
        assert_eq!(sim.finished(), Some(FinalState::Failed));
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::Pending);
    }

    #[test]
    fn continue_skips_dependents_and_runs_the_rest() {
        let mut a = stage("a", &[]);
        a.on_failure = OnFailure::Continue;
        let b = stage("b", &["a"]);
        let c = stage("c", &[]);
        let mut sim = Sim::new(plan(vec![a, b, c]));
        sim.run(|k, _| {
            if k.stage == "a" {
                fail()
            } else {
                Outcome::Succeeded
            }
        });
        assert_eq!(sim.starts(RunKind::Deploy), ["a#1", "c#1"]);
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::Skipped);
        assert_eq!(sim.finished(), Some(FinalState::Failed));
    }

    #[test]
    fn gate_waits_for_checks_ticks_and_distinct_approvals() {
        let mut s = stage("deploy", &[]);
        s.gates = vec!["signoff".into()];
        let mut sim = Sim::new(plan(vec![s]));
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.st.stage("deploy").unwrap().status, StageStatus::Gated);
        assert_eq!(sim.st.state_word(true), "paused");
        let g = sim.st.gate("signoff").unwrap();
        assert!(g.item_done(1), "the automatic check ran and passed");
        assert!(!g.item_done(0));
        sim.push(
            "alice",
            Event::Approved {
                gate: "signoff".into(),
                note: String::new(),
                signed: None,
            },
        );
        sim.push(
            "alice",
            Event::Approved {
                gate: "signoff".into(),
                note: String::new(),
                signed: None,
            },
        );
        sim.push(
            "alice",
            Event::Ticked {
                gate: "signoff".into(),
                item: 0,
                note: String::new(),
            },
        );
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(
            sim.st.gate("signoff").unwrap().approvals.len(),
            1,
            "alice counts once"
        );
        assert!(sim.finished().is_none());
        sim.push(
            "bob",
            Event::Approved {
                gate: "signoff".into(),
                note: String::new(),
                signed: None,
            },
        );
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.finished(), Some(FinalState::Succeeded));
    }

    #[test]
    fn interrupted_attempts_do_not_use_up_retries() {
        let mut sim = Sim::new(plan(vec![stage("a", &[])]));
        sim.run(|k, _| {
            if k.attempt == 1 {
                Outcome::Interrupted
            } else {
                Outcome::Succeeded
            }
        });
        assert_eq!(
            sim.starts(RunKind::Deploy),
            ["a#1", "a#2"],
            "attempt 2 although retries = 0"
        );
        assert_eq!(sim.finished(), Some(FinalState::Succeeded));
    }

    #[test]
    fn requests_are_checked_against_state() {
        let mut sim = Sim::new(plan(vec![stage("a", &[]), stage("b", &["a"])]));
        sim.run(|k, _| {
            if k.stage == "a" {
                fail()
            } else {
                Outcome::Succeeded
            }
        });
        let retry = Event::RetryRequested {
            stage: "a".into(),
            target: None,
        };
        let evs = handle_request(&sim.plan, &sim.st, 99, &retry);
        assert!(
            matches!(evs.last(), Some(Event::RequestHandled { accepted: true, .. })),
            "{evs:?}"
        );
        let skip = Event::SkipRequested {
            stage: "a".into(),
            reason: "x".into(),
        };
        let evs = handle_request(&sim.plan, &sim.st, 100, &skip);
        assert!(
            matches!(evs.last(), Some(Event::RequestHandled { accepted: false, .. })),
            "{evs:?}"
        );
        for e in handle_request(&sim.plan, &sim.st, 99, &retry) {
            sim.push("driver", e);
        }
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.starts(RunKind::Deploy), ["a#1", "a#2", "b#1"]);
        assert_eq!(sim.finished(), Some(FinalState::Succeeded));
    }
    /// Answer a request the way the driver does: journal the request, then its handling.
    fn request(sim: &mut Sim, actor: &str, ev: Event) -> (bool, String) {
        sim.push(actor, ev.clone());
        let seq = sim.seq;
        let evs = handle_request(&sim.plan, &sim.st, seq, &ev);
        let mut answer = (false, String::new());
        for e in evs {
            if let Event::RequestHandled {
                accepted, message, ..
            } = &e
            {
                answer = (*accepted, message.clone());
            }
            sim.push("driver", e);
        }
        answer
    }

    /// a <- b <- c, and d (needs c) fails with on_failure = rollback: rollbacks run c, b, a.
    fn chain_failing_at_d() -> Plan {
        let a = stage("a", &[]);
        let b = stage("b", &["a"]);
        let c = stage("c", &["b"]);
        let mut d = stage("d", &["c"]);
        d.on_failure = OnFailure::Rollback;
        plan(vec![a, b, c, d])
    }

    #[test]
    fn an_interrupted_rollback_run_is_run_again_and_does_not_count_as_a_failure() {
        let mut sim = Sim::new(chain_failing_at_d());
        sim.run(|k, kind| match (k.stage.as_str(), kind, k.attempt) {
            ("d", RunKind::Deploy, _) => fail(),
            ("b", RunKind::Rollback, 1) => Outcome::Interrupted,
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.starts(RunKind::Rollback), ["c#1", "b#1", "b#2", "a#1"]);
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
        for s in ["a", "b", "c"] {
            assert_eq!(sim.st.stage(s).unwrap().status, StageStatus::RolledBack, "{s}");
        }
    }

    #[test]
    fn a_rollback_interrupted_again_and_again_is_retried_each_time() {
        let mut sim = Sim::new(chain_failing_at_d());
        sim.run(|k, kind| match (k.stage.as_str(), kind, k.attempt) {
            ("d", RunKind::Deploy, _) => fail(),
            ("a", RunKind::Rollback, n) if n < 4 => Outcome::Interrupted,
            _ => Outcome::Succeeded,
        });
        assert_eq!(
            sim.starts(RunKind::Rollback),
            ["c#1", "b#1", "a#1", "a#2", "a#3", "a#4"]
        );
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
    }

    #[test]
    fn rollback_on_a_rollback_failed_release_reruns_exactly_what_did_not_succeed_in_order() {
        let mut sim = Sim::new(chain_failing_at_d());
        // c's and a's rollbacks fail the first time; b's succeeds.
        sim.run(|k, kind| match (k.stage.as_str(), kind, k.attempt) {
            ("d", RunKind::Deploy, _) => fail(),
            ("c" | "a", RunKind::Rollback, 1) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.starts(RunKind::Rollback), ["c#1", "b#1", "a#1"]);
        assert_eq!(sim.finished(), Some(FinalState::RollbackFailed));
        assert_eq!(sim.st.stage("c").unwrap().status, StageStatus::RollbackFailed);
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::RolledBack);

        let order: Vec<String> = rollback_plan(&sim.plan, &sim.st, Scope::WHOLE)
            .iter()
            .map(|k| k.stage.clone())
            .collect();
        assert_eq!(order, ["c", "a"], "what the preview shows is what runs");
        let (ok, msg) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(ok, "{msg}");
        assert!(msg.contains("2 run(s)"), "{msg}");
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(
            sim.starts(RunKind::Rollback),
            ["c#1", "b#1", "a#1", "c#2", "a#2"],
            "only c and a again, in the same order, with new attempt numbers"
        );
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
        for s in ["a", "b", "c"] {
            assert_eq!(
                sim.st.stage(s).unwrap().status,
                StageStatus::RolledBack,
                "{s}: a later success clears rollback_failed"
            );
        }
        // Nothing left to undo now.
        let (ok, msg) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(!ok, "{msg}");
        assert!(msg.contains("nothing to roll back"), "{msg}");
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
    }

    #[test]
    fn a_rollback_that_fails_again_runs_and_ends_rollback_failed_again() {
        let mut sim = Sim::new(chain_failing_at_d());
        sim.run(|k, kind| match (k.stage.as_str(), kind) {
            ("d", RunKind::Deploy) | ("b", RunKind::Rollback) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.finished(), Some(FinalState::RollbackFailed));
        let (ok, _) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(ok);
        assert!(sim.finished().is_none(), "the release is rolling back again");
        sim.run(|k, kind| match (k.stage.as_str(), kind) {
            ("b", RunKind::Rollback) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.starts(RunKind::Rollback), ["c#1", "b#1", "a#1", "b#2"]);
        assert_eq!(sim.finished(), Some(FinalState::RollbackFailed));
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::RollbackFailed);
        let rollbacks_finished = sim
            .log
            .iter()
            .filter(|e| matches!(e, Event::RollbackFinished { .. }))
            .count();
        assert_eq!(rollbacks_finished, 2);
    }

    #[test]
    fn a_fan_out_rollback_retry_keeps_the_order_of_the_failed_targets() {
        let a = stage("a", &[]);
        let mut b = stage("b", &["a"]);
        b.environment = Some("prod".into());
        let mut c = stage("c", &["b"]);
        c.on_failure = OnFailure::Rollback;
        let mut sim = Sim::new(plan(vec![a, b, c]));
        sim.run(|k, kind| match (k.stage.as_str(), k.target.as_deref(), kind) {
            ("c", _, RunKind::Deploy) => fail(),
            ("b", Some("t2" | "t4"), RunKind::Rollback) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.finished(), Some(FinalState::RollbackFailed));
        let first: Vec<String> = sim.starts(RunKind::Rollback);
        assert_eq!(first.len(), 6, "{first:?}");
        let failed_order: Vec<String> = first
            .iter()
            .filter(|s| s.starts_with("b/t2") || s.starts_with("b/t4"))
            .map(|s| s.replace("#1", "#2"))
            .collect();
        let (ok, _) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(ok);
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.starts(RunKind::Rollback)[6..], failed_order[..]);
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::RolledBack);
    }

    #[test]
    fn a_rollback_scoped_to_targets_undoes_only_their_runs_and_ends_partially_rolled_back() {
        // a (single run) -> b (prod, five targets) -> c (prod, five targets, no rollback command).
        let a = stage("a", &[]);
        let mut b = stage("b", &["a"]);
        b.environment = Some("prod".into());
        let mut c = stage("c", &["b"]);
        c.environment = Some("prod".into());
        c.rollback = vec![];
        let mut sim = Sim::new(plan(vec![a, b, c]));
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.finished(), Some(FinalState::Succeeded));

        // Journals from before targets existed read as every target; none written when empty.
        let old: Event = serde_json::from_str(r#"{"kind":"rollback_requested","stage":"b"}"#).unwrap();
        assert_eq!(
            old,
            Event::RollbackRequested {
                stage: Some("b".into()),
                targets: vec![],
                forced_over: vec![],
            }
        );
        assert!(!serde_json::to_string(&old).unwrap().contains("targets"));
        // Unknown names are refused, naming the known ones.
        let bad = ["t9".to_string()];
        let err = rollback_request(&sim.plan, &sim.st, Scope::new(None, &bad)).unwrap_err();
        assert!(err.contains("no target `t9`") && err.contains("prod/t1"), "{err}");
        let (ok, msg) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: bad.to_vec(),
                forced_over: vec![],
            },
        );
        assert!(!ok && msg.contains("no target `t9`"), "{msg}");

        // A bare name and an env/target name; newest first; the single-run stage is left alone;
        // the stage without a rollback command is listed, not silently skipped.
        let two = ["t2".to_string(), "prod/t4".to_string()];
        let scope = Scope::new(None, &two);
        let keys = |v: Vec<RunKey>| runs_text(&v);
        assert_eq!(keys(rollback_plan(&sim.plan, &sim.st, scope)), "b/t4, b/t2");
        assert_eq!(keys(without_rollback(&sim.plan, &sim.st, scope)), "c/t4, c/t2");
        // Another environment's name for the same target matches nothing here.
        let other = ["staging/t2".to_string()];
        assert!(rollback_request(&sim.plan, &sim.st, Scope::new(None, &other)).is_err());
        // From a stage on, on targets: only the stages from there.
        let one = ["t1".to_string()];
        assert_eq!(
            keys(rollback_plan(&sim.plan, &sim.st, Scope::new(Some("c"), &one))),
            ""
        );
        assert_eq!(
            keys(rollback_plan(&sim.plan, &sim.st, Scope::new(Some("b"), &one))),
            "b/t1"
        );

        let (ok, msg) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: two.to_vec(),
                forced_over: vec![],
            },
        );
        assert!(ok, "{msg}");
        assert!(
            msg.contains("rolling back 2 run(s)")
                && msg.contains("left as they are (no rollback command): c/t4, c/t2"),
            "{msg}"
        );
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.starts(RunKind::Rollback), ["b/t4#1", "b/t2#1"]);
        // Truthful: the release still runs on t1, t3, t5.
        assert_eq!(sim.finished(), Some(FinalState::PartiallyRolledBack));
        assert!(sim.st.partially_rolled_back());
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::Succeeded);
        assert_eq!(sim.st.stage("a").unwrap().status, StageStatus::Succeeded);
        assert!(sim.st.target("b", Some("t2")).unwrap().rolled_back());
        assert!(sim.st.target("b", Some("t1")).unwrap().live());
        // The same targets again: nothing left there.
        let err = rollback_request(&sim.plan, &sim.st, scope).unwrap_err();
        assert!(err.contains("nothing to roll back on t2, prod/t4"), "{err}");

        // The rest of the release: what is still live, then rolled back as a whole.
        assert_eq!(
            keys(rollback_plan(&sim.plan, &sim.st, Scope::WHOLE)),
            "b/t5, b/t3, b/t1, a"
        );
        let (ok, _) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(ok);
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
        assert_eq!(sim.st.stage("b").unwrap().status, StageStatus::RolledBack);
        assert!(!sim.st.partially_rolled_back());
    }

    #[test]
    fn retry_after_a_rollback_is_refused_with_what_to_do() {
        let mut sim = Sim::new(chain_failing_at_d());
        sim.run(|k, kind| match (k.stage.as_str(), kind) {
            ("d", RunKind::Deploy) | ("a", RunKind::Rollback) => fail(),
            _ => Outcome::Succeeded,
        });
        assert_eq!(sim.finished(), Some(FinalState::RollbackFailed));
        let retry = Event::RetryRequested {
            stage: "d".into(),
            target: None,
        };
        let (ok, msg) = request(&mut sim, "alice", retry.clone());
        assert!(!ok);
        assert!(msg.contains("flightdeck rollback 1.0"), "{msg}");
        let (ok, _) = request(
            &mut sim,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(ok);
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.finished(), Some(FinalState::RolledBack));
        let (ok, msg) = request(&mut sim, "alice", retry);
        assert!(!ok);
        assert!(
            msg.contains("rolled back") && msg.contains("new release"),
            "{msg}"
        );
    }

    #[test]
    fn a_rollback_cut_short_by_a_cancel_can_be_asked_for_again() {
        let mut sim = Sim::new(chain_failing_at_d());
        // Stop at the first rollback run: c's rollback is running when the cancel comes.
        sim.run(|k, kind| match (k.stage.as_str(), kind) {
            ("d", RunKind::Deploy) => fail(),
            _ => Outcome::Succeeded,
        });
        // Rebuild: the same release, cancelled while c's rollback ran.
        let mut sim2 = Sim::new(chain_failing_at_d());
        for e in sim.log.iter().skip(1) {
            sim2.push("driver", e.clone());
            if matches!(
                e,
                Event::RunStarted {
                    run_kind: RunKind::Rollback,
                    ..
                }
            ) {
                break;
            }
        }
        let (ok, _) = request(&mut sim2, "alice", Event::CancelRequested {});
        assert!(ok);
        sim2.push(
            "driver",
            Event::RunFinished {
                run: RunKey {
                    stage: "c".into(),
                    target: None,
                    attempt: 1,
                },
                run_kind: RunKind::Rollback,
                outcome: Outcome::Succeeded,
                duration_ms: 1,
            },
        );
        sim2.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim2.finished(), Some(FinalState::Cancelled));
        let (ok, msg) = request(
            &mut sim2,
            "alice",
            Event::RollbackRequested {
                stage: None,
                targets: vec![],
                forced_over: vec![],
            },
        );
        assert!(ok, "{msg}");
        sim2.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim2.starts(RunKind::Rollback), ["c#1", "b#1", "a#1"]);
        assert_eq!(sim2.finished(), Some(FinalState::RolledBack));
    }

    /// A release gated on `signoff` whose automatic check is running.
    fn check_running() -> Sim {
        let mut s = stage("deploy", &[]);
        s.gates = vec!["signoff".into()];
        let mut sim = Sim::new(plan(vec![stage("first", &[]), s]));
        sim.push(
            "driver",
            Event::GateReached {
                stage: "deploy".into(),
                gate: "signoff".into(),
            },
        );
        sim.push(
            "driver",
            Event::CheckStarted {
                gate: "signoff".into(),
                item: 1,
                log: String::new(),
            },
        );
        sim
    }

    #[test]
    fn a_cancel_ends_running_checks_before_the_release_finishes() {
        let mut sim = check_running();
        let (ok, _) = request(&mut sim, "alice", Event::CancelRequested {});
        assert!(ok);
        assert_eq!(decide(&sim.plan, &sim.st), [Decision::TerminateAll]);
        sim.push(
            "driver",
            Event::CheckFinished {
                gate: "signoff".into(),
                item: 1,
                outcome: Outcome::Cancelled,
            },
        );
        assert!(matches!(
            &decide(&sim.plan, &sim.st)[..],
            [Decision::Emit(Event::ReleaseFinished {
                state: FinalState::Cancelled,
                ..
            })]
        ));
    }

    #[test]
    fn a_halted_release_ends_its_running_checks_before_it_finishes() {
        let mut sim = check_running();
        sim.run(|k, _| {
            if k.stage == "first" {
                fail()
            } else {
                Outcome::Succeeded
            }
        });
        assert!(sim.st.halted);
        assert!(sim.finished().is_none(), "not finished while a check runs");
        assert_eq!(decide(&sim.plan, &sim.st), [Decision::TerminateAll]);
    }

    #[test]
    fn no_recheck_once_the_release_has_finished_or_is_ending() {
        let mut sim = Sim::new(plan(vec![stage("a", &[])]));
        sim.run(|_, _| Outcome::Succeeded);
        let recheck = Event::RecheckRequested {
            gate: "signoff".into(),
            item: 1,
        };
        let (ok, msg) = request(&mut sim, "alice", recheck.clone());
        assert!(!ok && msg.contains("finished"), "{msg}");
        let mut sim = check_running();
        sim.push(
            "driver",
            Event::CheckFinished {
                gate: "signoff".into(),
                item: 1,
                outcome: Outcome::Succeeded,
            },
        );
        let (ok, _) = request(&mut sim, "alice", Event::CancelRequested {});
        assert!(ok);
        let (ok, msg) = request(&mut sim, "alice", recheck);
        assert!(!ok && msg.contains("cancel"), "{msg}");
    }

    fn train_member(stages: Vec<Stage>, gates: &[(&str, &str)]) -> Sim {
        let mut sim = Sim::new(plan(stages));
        sim.push(
            "ci",
            Event::TrainJoined {
                train: "w1".into(),
                workspace: "shop".into(),
                started: 1,
                gates: gates
                    .iter()
                    .map(|(g, e)| crate::event::TrainGateWait {
                        gate: g.to_string(),
                        environment: e.to_string(),
                    })
                    .collect(),
            },
        );
        sim
    }

    fn awaited(sim: &Sim) -> Vec<(String, String)> {
        decide(&sim.plan, &sim.st)
            .into_iter()
            .filter_map(|d| match d {
                Decision::AwaitTrain { stage, need } => Some((stage, need)),
                _ => None,
            })
            .collect()
    }

    /// A member's stage waits for its cross-plan needs, then its train gates, one at a time;
    /// each met need is journaled, and the stage starts once all are.
    #[test]
    fn a_train_members_stage_waits_for_one_thing_at_a_time() {
        let mut deploy = stage("deploy", &[]);
        deploy.environment = Some("prod".into());
        deploy.after = vec![crate::plan::CrossNeed {
            plan: "billing".into(),
            stage: "migrate".into(),
            line: 1,
            col: 1,
        }];
        let mut sim = train_member(vec![deploy], &[("board", "prod")]);
        assert_eq!(
            awaited(&sim),
            [("deploy".to_string(), "billing:migrate".to_string())]
        );
        let over = |need: &str| Event::TrainWaitOver {
            stage: "deploy".into(),
            need: need.into(),
            ok: true,
            reason: String::new(),
        };
        sim.push("driver", over("billing:migrate"));
        assert_eq!(awaited(&sim), [("deploy".to_string(), "gate:board".to_string())]);
        sim.push("driver", over("gate:board"));
        assert!(awaited(&sim).is_empty());
        assert!(
            decide(&sim.plan, &sim.st)
                .iter()
                .any(|d| matches!(d, Decision::Acquire { .. } | Decision::Start { .. }))
        );
    }

    /// A need that will never be met fails the stage without running it, and halts the release.
    #[test]
    fn a_train_need_never_met_fails_the_stage_unrun() {
        let mut a = stage("a", &[]);
        a.after = vec![crate::plan::CrossNeed {
            plan: "billing".into(),
            stage: "migrate".into(),
            line: 1,
            col: 1,
        }];
        let mut sim = train_member(vec![a, stage("b", &["a"])], &[]);
        sim.push(
            "driver",
            Event::TrainWaitOver {
                stage: "a".into(),
                need: "billing:migrate".into(),
                ok: false,
                reason: "needs billing:migrate, which did not succeed".into(),
            },
        );
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.st.stage("a").unwrap().status, StageStatus::Failed);
        assert!(sim.st.stage("a").unwrap().targets[0].attempts.is_empty());
        // Halted: nothing after it starts.
        assert!(sim.st.stage("b").unwrap().targets[0].attempts.is_empty());
        assert_eq!(sim.st.finished.as_ref().unwrap().state, FinalState::Failed);
    }

    /// Outside a train, cross-plan needs are no wait.
    #[test]
    fn cross_plan_needs_outside_a_train_are_met() {
        let mut a = stage("a", &[]);
        a.after = vec![crate::plan::CrossNeed {
            plan: "billing".into(),
            stage: "migrate".into(),
            line: 1,
            col: 1,
        }];
        let mut sim = Sim::new(plan(vec![a]));
        assert!(awaited(&sim).is_empty());
        sim.run(|_, _| Outcome::Succeeded);
        assert_eq!(sim.st.finished.as_ref().unwrap().state, FinalState::Succeeded);
    }
}
