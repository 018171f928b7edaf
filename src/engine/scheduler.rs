//! What happens next: pure functions of the plan and the folded state. No I/O, no clock. The driver
//! performs the decisions (journal first, then effects) and asks again until nothing is left.

use std::collections::BTreeSet;

use super::event::{Event, FinalState, RunKey, RunKind};
use super::state::{ReleaseState, StageStatus, TargetStatus};
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

    if st.cancelling {
        if running.is_empty() {
            out.push(Decision::Emit(Event::ReleaseFinished {
                state: FinalState::Cancelled,
                reason: "cancelled".into(),
            }));
        } else {
            out.push(Decision::TerminateAll);
        }
        return out;
    }

    if let Some(rb) = &st.rollback
        && rb.finished.is_none()
    {
        if running.iter().any(|(_, kind, _)| *kind == RunKind::Deploy) {
            out.push(Decision::TerminateAll);
            return out;
        }
        let mut ok = true;
        for key in &rb.order {
            let Some(t) = st.target(&key.stage, key.target.as_deref()) else {
                continue;
            };
            match t.rollbacks.last() {
                None => {
                    let key = RunKey {
                        stage: key.stage.clone(),
                        target: key.target.clone(),
                        attempt: 1,
                    };
                    out.push(Decision::Start {
                        key,
                        kind: RunKind::Rollback,
                    });
                    return out;
                }
                Some(a) if a.running() => return out,
                Some(a) => ok &= a.outcome.as_ref().is_some_and(|o| o.is_success()),
            }
        }
        out.push(Decision::Emit(Event::RollbackFinished { ok }));
        let (state, reason) = if ok {
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
                        Some(c) => c.outcome == Some(super::event::Outcome::Interrupted),
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
        let order = rollback_order(plan, st, None);
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
        if let Some((state, reason)) = finish {
            out.push(Decision::Emit(Event::ReleaseFinished { state, reason }));
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
    use super::event::Outcome::*;
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

/// What a rollback undoes, newest first: every target whose deploy succeeded, of every stage that
/// has a `rollback`. With `from = Some(stage)`: that stage and every stage that depends on it
/// (directly or not).
pub fn rollback_order(plan: &Plan, st: &ReleaseState, from: Option<&str>) -> Vec<RunKey> {
    let scope: Option<BTreeSet<String>> = from.map(|f| downstream(plan, f));
    let mut done: Vec<(u64, RunKey)> = Vec::new();
    for s in &st.stages {
        if !s.decl.has_rollback || scope.as_ref().is_some_and(|sc| !sc.contains(&s.decl.id)) {
            continue;
        }
        for t in &s.targets {
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
            if st.rollback.is_some() {
                return refuse("the release was rolled back; start a new release instead".into());
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
        Event::RollbackRequested { stage } => {
            if st.rollback.as_ref().is_some_and(|r| r.finished.is_none()) {
                return refuse("a rollback is already in progress".into());
            }
            if let Some(s) = stage
                && plan.stage(s).is_none()
            {
                return refuse(format!("no stage `{s}`"));
            }
            let order = rollback_order(plan, st, stage.as_deref());
            let what = match stage {
                Some(s) => format!("rollback from stage `{s}` requested"),
                None => "rollback of the whole release requested".into(),
            };
            let n = order.len();
            accept(
                vec![Event::RollbackStarted { reason: what, order }],
                format!("rolling back {n} run(s)"),
            )
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
    use crate::engine::event::{Outcome, Record};
    use crate::plan::{ChecklistItem, Environment, Gate, ReleaseType, Stage, Template};

    fn stage(id: &str, needs: &[&str]) -> Stage {
        Stage {
            id: id.into(),
            needs: needs.iter().map(|s| s.to_string()).collect(),
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
                required_for: None,
                checklist: vec![
                    ChecklistItem::manual("notes"),
                    ChecklistItem {
                        item: "budget".into(),
                        check: Some(Template::new("true")),
                        drift: None,
                    },
                ],
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
                if ds.is_empty() {
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
            },
        );
        sim.push(
            "alice",
            Event::Approved {
                gate: "signoff".into(),
                note: String::new(),
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
}
