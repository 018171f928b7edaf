//! Release trains: a workspace's trains journal (`@<workspace>/.trains/trains.jsonl`, a
//! [`PlanJournal`] beside the plans' folders) and its fold into [`Train`]s, and what a member
//! release's waits outside itself come to ([`wait_status`]): another plan's stage in the same
//! train, or a train gate. Pure over what it reads; the driver journals the outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::plan_journal::PlanJournal;
use super::state::{ReleaseState, StageStatus, TrainLink};
use crate::event::{Event, FinalState, Record, TrainGateDecl};
use crate::journal::{JournalError, ReleaseDir, Store};

/// The trains journal's folder under the workspace's, and its file.
pub const JOURNAL: (&str, &str) = crate::journal::replica::PLAN_JOURNALS[3];

/// The folder (beside the plans') that keeps a workspace's journals: `@NAME` is never a plan
/// name (plan names are letters, digits, `.`, `_` and `-`).
pub fn workspace_folder(workspace: &str) -> String {
    format!("@{workspace}")
}

/// The trains journal of `workspace`.
pub fn journal(store: &Store, workspace: &str) -> Result<PlanJournal, JournalError> {
    Ok(PlanJournal::at(
        &store.plan_dir(&workspace_folder(workspace))?,
        JOURNAL,
    ))
}

/// One train, folded from the trains journal.
#[derive(Debug, Clone, Serialize)]
pub struct Train {
    pub name: String,
    /// Its `train_started` record's number: the train's identity in the journal.
    pub started: u64,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub members: Vec<Member>,
    pub gates: Vec<GateState>,
    pub rollback_on_failure: bool,
    pub cancel_requested: bool,
    pub rollback: Option<TrainRollback>,
    pub finished: Option<TrainEnd>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub plan: String,
    pub version: String,
    pub file: String,
    /// Its release, once created.
    pub release: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateState {
    #[serde(flatten)]
    pub decl: TrainGateDecl,
    /// Who approved, when, with what note (each person once).
    pub approvals: Vec<Mark>,
    /// Ticked checklist items (0-based) and by whom.
    pub ticked: BTreeMap<usize, Mark>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    pub actor: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl GateState {
    /// Enough approvals and every item ticked.
    pub fn open(&self) -> bool {
        self.approvals.len() as u32 >= self.decl.approvals && self.ticked.len() >= self.decl.checklist.len()
    }

    /// `0/1 approvals, 1 of 2 items ticked`.
    pub fn progress(&self) -> String {
        let mut s = format!("{}/{} approvals", self.approvals.len(), self.decl.approvals);
        if !self.decl.checklist.is_empty() {
            s.push_str(&format!(
                ", {} of {} items ticked",
                self.ticked.len(),
                self.decl.checklist.len()
            ));
        }
        s
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainRollback {
    /// `plan/release`, the last completed first.
    pub order: Vec<String>,
    pub reason: String,
    pub force: bool,
    /// Members whose rollback ended: whether it went well, and why not.
    pub done: Vec<(String, Result<(), String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainEnd {
    pub state: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl Train {
    pub fn member(&self, plan: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.plan == plan)
    }

    pub fn gate(&self, name: &str) -> Option<&GateState> {
        self.gates.iter().find(|g| g.decl.name == name)
    }
}

/// Every train of the journal's records, in the order they started.
pub fn fold(records: &[Record]) -> Vec<Train> {
    let mut trains: Vec<Train> = Vec::new();
    let by = |trains: &mut Vec<Train>, started: u64| -> Option<usize> {
        trains.iter().position(|t| t.started == started)
    };
    for rec in records {
        let mark = || Mark {
            actor: rec.actor.clone(),
            at: rec.ts,
            note: String::new(),
        };
        match &rec.event {
            Event::TrainStarted {
                train,
                members,
                gates,
                rollback_on_failure,
            } => trains.push(Train {
                name: train.clone(),
                started: rec.seq,
                started_at: rec.ts,
                started_by: rec.actor.clone(),
                members: members
                    .iter()
                    .map(|m| Member {
                        plan: m.plan.clone(),
                        version: m.version.clone(),
                        file: m.file.clone(),
                        release: None,
                    })
                    .collect(),
                gates: gates
                    .iter()
                    .map(|g| GateState {
                        decl: g.clone(),
                        approvals: Vec::new(),
                        ticked: BTreeMap::new(),
                    })
                    .collect(),
                rollback_on_failure: *rollback_on_failure,
                cancel_requested: false,
                rollback: None,
                finished: None,
            }),
            Event::TrainMember {
                started,
                plan,
                release,
            } => {
                if let Some(i) = by(&mut trains, *started)
                    && let Some(m) = trains[i].members.iter_mut().find(|m| &m.plan == plan)
                {
                    m.release = Some(release.clone());
                }
            }
            Event::TrainApproved { started, gate, note } => {
                if let Some(i) = by(&mut trains, *started)
                    && let Some(g) = trains[i].gates.iter_mut().find(|g| &g.decl.name == gate)
                    && !g.approvals.iter().any(|a| a.actor == rec.actor)
                {
                    g.approvals.push(Mark {
                        note: note.clone(),
                        ..mark()
                    });
                }
            }
            Event::TrainTicked {
                started,
                gate,
                item,
                note,
            } => {
                if let Some(i) = by(&mut trains, *started)
                    && let Some(g) = trains[i].gates.iter_mut().find(|g| &g.decl.name == gate)
                    && *item < g.decl.checklist.len()
                {
                    g.ticked.entry(*item).or_insert(Mark {
                        note: note.clone(),
                        ..mark()
                    });
                }
            }
            Event::TrainCancelRequested { started } => {
                if let Some(i) = by(&mut trains, *started) {
                    trains[i].cancel_requested = true;
                }
            }
            Event::TrainRollbackStarted {
                started,
                order,
                reason,
                force,
            } => {
                if let Some(i) = by(&mut trains, *started) {
                    // A rollback reopens a finished train.
                    trains[i].finished = None;
                    trains[i].rollback = Some(TrainRollback {
                        order: order.clone(),
                        reason: reason.clone(),
                        force: *force,
                        done: Vec::new(),
                    });
                }
            }
            Event::TrainMemberRolledBack {
                started,
                member,
                ok,
                why,
            } => {
                if let Some(i) = by(&mut trains, *started)
                    && let Some(r) = &mut trains[i].rollback
                    && !r.done.iter().any(|(m, _)| m == member)
                {
                    r.done
                        .push((member.clone(), if *ok { Ok(()) } else { Err(why.clone()) }));
                }
            }
            Event::TrainFinished {
                started,
                state,
                reason,
            } => {
                if let Some(i) = by(&mut trains, *started) {
                    trains[i].finished = Some(TrainEnd {
                        state: state.clone(),
                        reason: reason.clone(),
                        at: rec.ts,
                    });
                }
            }
            _ => {}
        }
    }
    trains
}

/// The newest train called `name`.
pub fn find<'t>(trains: &'t [Train], name: &str) -> Option<&'t Train> {
    trains.iter().rev().find(|t| t.name == name)
}

/// The trains of `workspace`, read with the chain checked (none before the first).
pub fn load(store: &Store, workspace: &str) -> Result<Vec<Train>, JournalError> {
    Ok(fold(&journal(store, workspace)?.records()?))
}

/// What a wait outside the release comes to now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// Met: the stage may go on (why, when it is not plainly met: not in this train...).
    Met(String),
    /// Never met: the stage fails without running.
    Never(String),
    /// Not yet: why (stable text, journaled when it changes).
    Waiting(String),
}

/// A member's release folder and its state (the chain checked: a broken journal is waited on,
/// never taken as an outcome).
pub fn member_state(store: &Store, plan: &str, release: &str) -> Result<(ReleaseDir, ReleaseState), String> {
    let rdir = store.release(plan, release).map_err(|e| e.to_string())?;
    let (st, _) = ReleaseState::load(&rdir.journal()).map_err(|e| e.to_string())?;
    if let Some(why) = &st.attention {
        return Err(format!("its journal needs attention: {why}"));
    }
    Ok((rdir, st))
}

/// What a member release's driver should watch for its waits: the trains journal's folder (its
/// gates, a cancel) and the release folders of the members whose stages it needs (`needed`:
/// the plans its stages' cross-plan needs name). Only those: every member watching every
/// other would wake all of them at each line any of them writes.
pub fn watch_paths(store: &Store, link: &TrainLink, needed: &[&str]) -> Vec<PathBuf> {
    let Ok(j) = journal(store, &link.workspace) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = j.path().parent().map(PathBuf::from).into_iter().collect();
    if let Ok(trains) = load(store, &link.workspace)
        && let Some(t) = trains.iter().find(|t| t.started == link.started)
    {
        for m in &t.members {
            if !needed.contains(&m.plan.as_str()) {
                continue;
            }
            if let Some(r) = &m.release
                && let Ok(rdir) = store.release(&m.plan, r)
            {
                out.push(rdir.path);
            }
        }
    }
    out
}

/// Whether `need` of a stage of a member release of `link`'s train is met: `plan:stage` (that
/// stage in that plan's member release) or `gate:NAME` (the train gate).
pub fn wait_status(store: &Store, link: &TrainLink, need: &str) -> Wait {
    let trains = match load(store, &link.workspace) {
        Ok(t) => t,
        Err(e) => return Wait::Waiting(format!("the train's journal cannot be read: {e}")),
    };
    let Some(train) = trains.iter().find(|t| t.started == link.started) else {
        return Wait::Waiting(format!("train {} is not in the workspace's journal", link.name));
    };
    // A cancelled train cancels its members (its driver asks each): until then they wait,
    // and end cancelled rather than failed.
    if train.cancel_requested {
        return Wait::Waiting(format!("train {} to be cancelled", train.name));
    }
    if let Some(gate) = need.strip_prefix("gate:") {
        let Some(g) = train.gate(gate) else {
            return Wait::Met(format!("train {} has no gate {gate}", train.name));
        };
        return if g.open() {
            Wait::Met(String::new())
        } else {
            Wait::Waiting(format!("train gate {gate} ({})", g.progress()))
        };
    }
    let Some((plan, stage)) = need.split_once(':') else {
        return Wait::Met(String::new());
    };
    let Some(member) = train.member(plan) else {
        return Wait::Met(format!("{plan} is not in train {}", train.name));
    };
    let Some(release) = &member.release else {
        return Wait::Waiting(format!("{need}: the release of {plan} is not created yet"));
    };
    let st = match member_state(store, plan, release) {
        Ok((_, st)) => st,
        Err(e) => return Wait::Waiting(format!("{need}: release {plan}/{release}: {e}")),
    };
    let Some(s) = st.stage(stage) else {
        // The member runs only some stages (`--only`): nothing of that stage to wait for.
        return Wait::Met(format!("release {plan}/{release} does not run {stage}"));
    };
    match s.status {
        StageStatus::Succeeded | StageStatus::Skipped => Wait::Met(String::new()),
        StageStatus::Failed | StageStatus::RolledBack | StageStatus::RollbackFailed => Wait::Never(format!(
            "needs {need}, which did not succeed (release {plan}/{release})"
        )),
        _ if st.finished.is_some() || st.cancelling || st.halted => Wait::Never(format!(
            "needs {need}, which will not run: release {plan}/{release} is {}",
            st.finished
                .as_ref()
                .map_or(if st.cancelling { "cancelling" } else { "halted" }, |f| f
                    .state
                    .as_str())
        )),
        StageStatus::Running => Wait::Waiting(format!("{need} (running)")),
        StageStatus::Gated => Wait::Waiting(format!("{need} (at its gate)")),
        _ => Wait::Waiting(format!("{need} (pending)")),
    }
}

/// A member release's word for the train: how it ended, or where it is.
pub fn member_word(st: &ReleaseState, live: bool) -> &'static str {
    match &st.finished {
        Some(f) => f.state.as_str(),
        None => st.state_word(live),
    }
}

/// Whether a member's release ended well (succeeded).
pub fn succeeded(st: &ReleaseState) -> bool {
    st.finished
        .as_ref()
        .is_some_and(|f| f.state == FinalState::Succeeded)
}

/// A train as people see it: its members where they are, the cross-plan waits that block, its
/// gates. Built by [`view`] for `train status`, `ws status` and the workspace board alike.
#[derive(Debug, Clone, Serialize)]
pub struct TrainView {
    pub name: String,
    pub started: u64,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    /// `running`, `succeeded`, `failed`, `cancelling`, `cancelled`, `rolling_back`,
    /// `rolled_back`, `rollback_failed`.
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub members: Vec<MemberView>,
    /// What waits on what across plans (or on a train gate), now.
    pub blocking: Vec<Arrow>,
    pub gates: Vec<GateView>,
    /// The rollback's order (`plan/release`, the last completed first), when it rolls back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollback_order: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub plan: String,
    pub version: String,
    pub release: Option<String>,
    /// The release's state word (`running`, `paused`, `succeeded`...), `not_created`, or
    /// `unreadable` (with `problem`).
    pub state: String,
    pub stages_done: usize,
    pub stages: usize,
    pub finished_at: Option<DateTime<Utc>>,
    /// For a release that succeeded, when its work completed ([`completed_at`]): what a train's
    /// rollback orders by, the last completed first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// When a member release that succeeded completed: when its last stage did. Its own end (the
/// end snapshot, the index) may come after a dependant's end, though the dependant's stages
/// started only once this one's were through; ordering by stages keeps a train's rollback
/// undoing dependants before what they needed. None unless it succeeded.
pub fn completed_at(st: &ReleaseState) -> Option<DateTime<Utc>> {
    let f = st
        .finished
        .as_ref()
        .filter(|f| f.state == crate::event::FinalState::Succeeded)?;
    Some(
        st.stages
            .iter()
            .filter_map(|s| s.finished_at)
            .max()
            .unwrap_or(f.at),
    )
}

/// `storefront:deploy-prod waits for billing:deploy-prod (running since ...)`.
#[derive(Debug, Clone, Serialize)]
pub struct Arrow {
    /// `plan:stage` that waits.
    pub from: String,
    /// `plan:stage`, or `gate:NAME`.
    pub to: String,
    /// Where `to` is: a stage status word, or the gate's progress.
    pub what: String,
    /// Since when `to` has been running, when it runs.
    pub since: Option<DateTime<Utc>>,
}

impl Arrow {
    /// One line: `storefront:deploy-prod waits for billing:deploy-prod, running 40s`.
    pub fn text(&self, now: DateTime<Utc>) -> String {
        let to = match self.to.strip_prefix("gate:") {
            Some(g) => format!("train gate {g}"),
            None => self.to.clone(),
        };
        let since = self
            .since
            .map(|s| {
                let secs = (now - s).num_seconds().max(0) as u64;
                format!(
                    " {}",
                    crate::plan::format_duration(std::time::Duration::from_secs(secs))
                )
            })
            .unwrap_or_default();
        format!("{} waits for {to}, {}{since}", self.from, self.what)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct GateView {
    pub name: String,
    pub open: bool,
    pub progress: String,
    pub approved_by: Vec<String>,
    pub checklist: Vec<(String, bool)>,
}

/// The view of `train`, reading its members' journals (and plan copies) from `store`.
pub fn view(store: &Store, train: &Train) -> TrainView {
    let mut members = Vec::new();
    let mut states: BTreeMap<String, ReleaseState> = BTreeMap::new();
    let mut plans: BTreeMap<String, crate::plan::Plan> = BTreeMap::new();
    for m in &train.members {
        let mut mv = MemberView {
            plan: m.plan.clone(),
            version: m.version.clone(),
            release: m.release.clone(),
            state: "not_created".into(),
            stages_done: 0,
            stages: 0,
            finished_at: None,
            completed_at: None,
            problem: None,
        };
        if let Some(r) = &m.release {
            match member_state(store, &m.plan, r) {
                Ok((rdir, st)) => {
                    mv.state = member_word(&st, rdir.live_driver().is_some()).to_string();
                    mv.stages = st.stages.len();
                    mv.stages_done = st.stages.iter().filter(|s| s.status.is_terminal()).count();
                    mv.finished_at = st.finished.as_ref().map(|f| f.at);
                    mv.completed_at = completed_at(&st);
                    if let Ok(p) = crate::engine::driver::plan_for_release(&rdir, &st) {
                        plans.insert(m.plan.clone(), p);
                    }
                    states.insert(m.plan.clone(), st);
                }
                Err(e) => {
                    mv.state = "unreadable".into();
                    mv.problem = Some(e);
                }
            }
        }
        members.push(mv);
    }
    let mut blocking = Vec::new();
    for (plan_name, st) in &states {
        if st.finished.is_some() {
            continue;
        }
        let Some(plan) = plans.get(plan_name) else {
            continue;
        };
        for s in &st.stages {
            let started = s.targets.iter().any(|t| !t.attempts.is_empty());
            if started || s.status.is_terminal() {
                continue;
            }
            let from = format!("{plan_name}:{}", s.decl.id);
            let after = plan
                .stage(&s.decl.id)
                .map(|p| p.after.clone())
                .unwrap_or_default();
            for need in after {
                let name = need.name();
                if s.train_met.contains(&name) {
                    continue;
                }
                let (what, since) = match states.get(&need.plan).and_then(|o| o.stage(&need.stage)) {
                    // Met, only not asked yet: nothing blocks.
                    Some(o) if matches!(o.status, StageStatus::Succeeded | StageStatus::Skipped) => continue,
                    Some(o) => (
                        o.status.as_str().replace('_', " "),
                        (o.status == StageStatus::Running)
                            .then_some(o.started_at)
                            .flatten(),
                    ),
                    None if train.member(&need.plan).is_none() => continue,
                    None => ("not started".into(), None),
                };
                blocking.push(Arrow {
                    from: from.clone(),
                    to: name,
                    what,
                    since,
                });
            }
            if let Some(link) = &st.train {
                for g in link
                    .gates
                    .iter()
                    .filter(|g| s.decl.environment.as_ref() == Some(&g.environment))
                {
                    let to = format!("gate:{}", g.gate);
                    if s.train_met.contains(&to) {
                        continue;
                    }
                    let Some(gate) = train.gate(&g.gate) else { continue };
                    // Open, only not asked yet: nothing blocks.
                    if gate.open() {
                        continue;
                    }
                    let what = gate.progress();
                    blocking.push(Arrow {
                        from: from.clone(),
                        to,
                        what,
                        since: None,
                    });
                }
            }
        }
    }
    let gates = train
        .gates
        .iter()
        .map(|g| GateView {
            name: g.decl.name.clone(),
            open: g.open(),
            progress: g.progress(),
            approved_by: g.approvals.iter().map(|a| a.actor.clone()).collect(),
            checklist: g
                .decl
                .checklist
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), g.ticked.contains_key(&i)))
                .collect(),
        })
        .collect();
    let (state, reason) = match (&train.finished, &train.rollback) {
        (Some(end), _) => (end.state.clone(), end.reason.clone()),
        (None, Some(rb)) => ("rolling_back".to_string(), rb.reason.clone()),
        (None, None) if train.cancel_requested => ("cancelling".to_string(), String::new()),
        (None, None) => ("running".to_string(), String::new()),
    };
    TrainView {
        name: train.name.clone(),
        started: train.started,
        started_at: train.started_at,
        started_by: train.started_by.clone(),
        state,
        reason,
        members,
        blocking,
        gates,
        rollback_order: train
            .rollback
            .as_ref()
            .map(|r| r.order.clone())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TrainPlan;

    fn rec(seq: u64, actor: &str, event: Event) -> Record {
        Record {
            seq,
            ts: Utc::now(),
            actor: actor.into(),
            prev: String::new(),
            event,
        }
    }

    fn started(name: &str) -> Event {
        Event::TrainStarted {
            train: name.into(),
            members: vec![TrainPlan {
                plan: "billing".into(),
                version: "1.0".into(),
                file: "/w/billing/flightdeck.toml".into(),
            }],
            gates: vec![TrainGateDecl {
                name: "board".into(),
                environment: None,
                approvals: 2,
                checklist: vec!["ticket".into()],
                approvers: vec![],
            }],
            rollback_on_failure: true,
        }
    }

    #[test]
    fn the_fold_counts_each_person_once_and_a_rollback_reopens_a_finished_train() {
        let approve = |seq, who: &str| {
            rec(
                seq,
                who,
                Event::TrainApproved {
                    started: 1,
                    gate: "board".into(),
                    note: String::new(),
                },
            )
        };
        let mut recs = vec![
            rec(1, "ann", started("w1")),
            rec(
                2,
                "ann",
                Event::TrainMember {
                    started: 1,
                    plan: "billing".into(),
                    release: "1.0".into(),
                },
            ),
            approve(3, "ann"),
            approve(4, "ann"),
            // Another train's approval is its own.
            rec(5, "bob", started("w2")),
            rec(
                6,
                "bob",
                Event::TrainApproved {
                    started: 5,
                    gate: "board".into(),
                    note: String::new(),
                },
            ),
        ];
        let trains = fold(&recs);
        let w1 = find(&trains, "w1").unwrap();
        assert_eq!(w1.member("billing").unwrap().release.as_deref(), Some("1.0"));
        let g = w1.gate("board").unwrap();
        assert_eq!(g.approvals.len(), 1);
        assert!(!g.open());
        assert_eq!(g.progress(), "1/2 approvals, 0 of 1 items ticked");
        recs.push(approve(7, "bob"));
        recs.push(rec(
            8,
            "bob",
            Event::TrainTicked {
                started: 1,
                gate: "board".into(),
                item: 0,
                note: String::new(),
            },
        ));
        recs.push(rec(
            9,
            "driver",
            Event::TrainFinished {
                started: 1,
                state: "failed".into(),
                reason: "member billing failed".into(),
            },
        ));
        let trains = fold(&recs);
        let w1 = find(&trains, "w1").unwrap();
        assert!(w1.gate("board").unwrap().open());
        assert_eq!(w1.finished.as_ref().unwrap().state, "failed");
        recs.push(rec(
            10,
            "ann",
            Event::TrainRollbackStarted {
                started: 1,
                order: vec!["billing/1.0".into()],
                reason: "by ann".into(),
                force: false,
            },
        ));
        let trains = fold(&recs);
        let w1 = find(&trains, "w1").unwrap();
        assert!(w1.finished.is_none(), "a rollback reopens the train");
        assert_eq!(w1.rollback.as_ref().unwrap().order, ["billing/1.0"]);
        // The newest train of a name is the one found.
        recs.push(rec(11, "ann", started("w1")));
        assert_eq!(find(&fold(&recs), "w1").unwrap().started, 11);
    }

    #[test]
    fn an_arrow_reads_as_a_sentence() {
        let now = Utc::now();
        let a = Arrow {
            from: "storefront:deploy-prod".into(),
            to: "billing:deploy-prod".into(),
            what: "running".into(),
            since: Some(now - chrono::Duration::seconds(40)),
        };
        assert_eq!(
            a.text(now),
            "storefront:deploy-prod waits for billing:deploy-prod, running 40s"
        );
        let g = Arrow {
            from: "search:deploy".into(),
            to: "gate:board".into(),
            what: "0/1 approvals".into(),
            since: None,
        };
        assert_eq!(
            g.text(now),
            "search:deploy waits for train gate board, 0/1 approvals"
        );
    }
}
