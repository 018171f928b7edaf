//! What a person can ask of a release, checked against its state before it is appended.
//!
//! The headless commands and the cockpit both go through [`submit`]: the check runs under the
//! journal's lock on the state as of that moment, so two people racing cannot both pass it (the
//! same person approving twice from two terminals is refused once). Marks (approve, tick, unlock)
//! count as soon as they are appended; requests (retry, skip, cancel, roll back, re-check) are
//! answered by the driver, which journals whether it accepted them.

use std::sync::Arc;

use super::state::ReleaseState;
use crate::event::Event;
use crate::journal::{JournalError, ReleaseDir};
use crate::runlog::Masker;

/// One thing a person asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Approve {
        gate: String,
        note: String,
        /// The approver's signature, where the gate takes signed approvals only (the front end
        /// signs: see `crate::release::Context::submit`).
        signed: Option<crate::event::Signed>,
    },
    /// One person's override of the freeze windows in force (a reason is required).
    OverrideFreeze {
        reason: String,
    },
    /// Say no at a gate: the release ends `rejected` (nothing is rolled back).
    Reject {
        gate: String,
        reason: String,
    },
    /// `item` is the 0-based index in the gate's checklist.
    Tick {
        gate: String,
        item: usize,
        note: String,
    },
    Recheck {
        gate: String,
        item: usize,
    },
    Retry {
        stage: String,
        target: Option<String>,
    },
    Skip {
        stage: String,
        reason: String,
    },
    Cancel,
    /// The whole release (`stage: None`) or from a stage on; every target (`targets` empty) or
    /// only those (`eu`, or `prod/eu` for one environment's).
    Rollback {
        stage: Option<String>,
        targets: Vec<String>,
        /// Newer releases live where it rolls back, acknowledged (see
        /// [`crate::engine::envs::Newer::describe`]); journaled with the request.
        forced_over: Vec<String>,
    },
    UnlockEnv {
        env: String,
        reason: String,
    },
}

/// Why an [`Op`] was not appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The op names something the release does not have, or is malformed (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Well-formed but not allowed now (exit 1): e.g. the same person approving twice.
    #[error("{0}")]
    Refused(String),
}

/// A failed [`submit`].
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl Op {
    /// Answered by the driver (the others count once appended).
    pub fn for_driver(&self) -> bool {
        !matches!(
            self,
            Op::Approve { .. } | Op::Tick { .. } | Op::UnlockEnv { .. } | Op::OverrideFreeze { .. }
        )
    }

    /// A short phrase for messages: `approve gate prod-signoff`.
    pub fn describe(&self) -> String {
        match self {
            Op::Approve { gate, .. } => format!("approve gate {gate}"),
            Op::Reject { gate, .. } => format!("reject at gate {gate}"),
            Op::OverrideFreeze { .. } => "override the freeze".into(),
            Op::Tick { gate, item, .. } => format!("tick item {} of gate {gate}", item + 1),
            Op::Recheck { gate, item } => format!("re-check item {} of gate {gate}", item + 1),
            Op::Retry {
                stage,
                target: Some(t),
            } => format!("retry {stage}/{t}"),
            Op::Retry { stage, target: None } => format!("retry {stage}"),
            Op::Skip { stage, .. } => format!("skip {stage}"),
            Op::Cancel => "cancel the release".into(),
            Op::Rollback { stage, targets, .. } => {
                let on = if targets.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", targets.join(", "))
                };
                match stage {
                    None if targets.is_empty() => "roll back the release".into(),
                    None => format!("roll back{on}"),
                    Some(s) => format!("roll back from {s}{on}"),
                }
            }
            Op::UnlockEnv { env, .. } => format!("unlock {env}"),
        }
    }

    /// The event to append when `actor` asks for this, if it makes sense against `st` now.
    pub fn check(&self, st: &ReleaseState, actor: &str) -> Result<Event, OpError> {
        let finished = || {
            st.finished
                .is_some()
                .then(|| OpError::Usage(format!("release {} has already finished", st.id)))
        };
        let gate = |name: &str| {
            st.gate(name).ok_or_else(|| {
                let names: Vec<&str> = st.gates.iter().map(|g| g.decl.name.as_str()).collect();
                OpError::Usage(format!(
                    "release {} has no gate `{name}` (gates: {})",
                    st.id,
                    names.join(", ")
                ))
            })
        };
        let stage = |id: &str| {
            st.stage(id)
                .map(|_| ())
                .ok_or_else(|| OpError::Usage(format!("release {} has no stage `{id}`", st.id)))
        };
        let item = |g: &super::state::GateState, i: usize| {
            g.decl
                .checklist
                .get(i)
                .map(|(t, auto)| (t.clone(), *auto))
                .ok_or_else(|| {
                    OpError::Usage(format!(
                        "gate `{}` has {} checklist items, not {}",
                        g.decl.name,
                        g.decl.checklist.len(),
                        i + 1
                    ))
                })
        };
        match self {
            Op::Approve {
                gate: name,
                note,
                signed,
            } => {
                let g = gate(name)?;
                if let Some(e) = finished() {
                    return Err(e);
                }
                // The gate's policy: who may approve, and not whoever started the release; a
                // signature where it takes signed approvals only (what the signer saw is checked
                // as the line is folded: the journal's last line has no successor yet).
                g.decl
                    .may_approve(actor, &st.created_by, super::identity::same)
                    .map_err(OpError::Refused)?;
                st.check_signed(&g.decl, actor, signed.as_ref(), chrono::Utc::now(), false)
                    .map_err(OpError::Refused)?;
                // Once each; an expired approval may be given again.
                if let Some(a) = g
                    .approvals
                    .iter()
                    .find(|a| super::identity::same(&a.actor, actor) && !g.expired(a))
                {
                    return Err(OpError::Refused(format!(
                        "{actor} already approved gate `{name}` at {}; each person's approval counts once",
                        a.at.format("%Y-%m-%d %H:%M:%S UTC")
                    )));
                }
                Ok(Event::Approved {
                    gate: name.clone(),
                    note: note.clone(),
                    signed: signed.clone(),
                })
            }
            Op::Tick {
                gate: name,
                item: i,
                note,
            } => {
                let g = gate(name)?;
                if let Some(e) = finished() {
                    return Err(e);
                }
                let (text, auto) = item(g, *i)?;
                if auto {
                    return Err(OpError::Usage(format!(
                        "item {} \"{text}\" is an automatic check; `flightdeck recheck {} {name} {}` runs it again",
                        i + 1,
                        st.id,
                        i + 1
                    )));
                }
                if let Some(Some(t)) = g.ticks.get(*i) {
                    return Err(OpError::Refused(format!(
                        "item {} was already ticked by {} at {}",
                        i + 1,
                        t.actor,
                        t.at.format("%H:%M:%S UTC")
                    )));
                }
                Ok(Event::Ticked {
                    gate: name.clone(),
                    item: *i,
                    note: note.clone(),
                })
            }
            Op::Recheck { gate: name, item: i } => {
                let g = gate(name)?;
                let (text, auto) = item(g, *i)?;
                if !auto {
                    return Err(OpError::Usage(format!(
                        "item {} \"{text}\" is ticked by a person, not checked",
                        i + 1
                    )));
                }
                Ok(Event::RecheckRequested {
                    gate: name.clone(),
                    item: *i,
                })
            }
            Op::Retry { stage: s, target } => {
                stage(s)?;
                Ok(Event::RetryRequested {
                    stage: s.clone(),
                    target: target.clone(),
                })
            }
            Op::Skip { stage: s, reason } => {
                stage(s)?;
                if reason.trim().is_empty() {
                    return Err(OpError::Usage("skipping a stage needs a reason".into()));
                }
                Ok(Event::SkipRequested {
                    stage: s.clone(),
                    reason: reason.clone(),
                })
            }
            Op::Cancel => Ok(Event::CancelRequested {}),
            Op::OverrideFreeze { reason } => {
                if let Some(e) = finished() {
                    return Err(e);
                }
                if reason.trim().is_empty() {
                    return Err(OpError::Usage("an override needs a reason (--reason T)".into()));
                }
                if super::identity::same(actor, &st.created_by) {
                    return Err(OpError::Refused(format!(
                        "{actor} started this release: someone else must override the freeze"
                    )));
                }
                Ok(Event::FreezeOverridden {
                    reason: reason.clone(),
                })
            }
            Op::Reject { gate: name, reason } => {
                let g = gate(name)?;
                if let Some(e) = finished() {
                    return Err(e);
                }
                if reason.trim().is_empty() {
                    return Err(OpError::Usage("a rejection needs a reason (--reason T)".into()));
                }
                g.decl
                    .may_approve(actor, &st.created_by, super::identity::same)
                    .map_err(|why| {
                        OpError::Refused(format!(
                            "only someone who may approve gate `{name}` may reject it: {why}"
                        ))
                    })?;
                Ok(Event::RejectRequested {
                    gate: name.clone(),
                    reason: reason.clone(),
                })
            }
            Op::Rollback {
                stage: s,
                targets,
                forced_over,
            } => {
                if let Some(s) = s {
                    stage(s)?;
                }
                super::scheduler::check_targets(st, targets).map_err(OpError::Usage)?;
                Ok(Event::RollbackRequested {
                    stage: s.clone(),
                    targets: targets.clone(),
                    forced_over: forced_over.clone(),
                })
            }
            Op::UnlockEnv { env, reason } => {
                if !st.env_holds.contains(env) {
                    return Err(OpError::Usage(format!(
                        "release {} does not hold environment `{env}`",
                        st.id
                    )));
                }
                Ok(Event::EnvUnlocked {
                    env: env.clone(),
                    reason: reason.clone(),
                })
            }
        }
    }
}

/// What [`submit`] appended.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// Sequence number of the appended event (a request's id).
    pub seq: u64,
    /// Its event's kind (`approved`, `retry_requested`...).
    pub kind: &'static str,
    /// The release's state including the appended event.
    pub state: ReleaseState,
    /// A rollback request links itself to the incidents open on the environments it rolls back
    /// (see [`super::incidents`]): their numbers, or why linking failed (the request stands).
    pub linked: Result<Vec<u64>, String>,
}

/// Check `op` against the release as of now, under the journal's lock, and append it as `actor`.
pub fn submit(
    rdir: &ReleaseDir,
    masker: Arc<Masker>,
    actor: &str,
    op: &Op,
) -> Result<Submitted, SubmitError> {
    let mut j = rdir.journal_writer(masker)?;
    // An approval or rejection that does not count is refused, and the refusal journaled (as
    // evidence: who tried, why not).
    let mut refusal: Option<String> = None;
    let (written, seen) = j.append_checked(actor, |recs| {
        let st = ReleaseState::from_records(recs);
        match (op.check(&st, actor), op) {
            (Ok(e), _) => Ok::<_, SubmitError>(vec![e]),
            (Err(OpError::Refused(why)), Op::Approve { gate, .. } | Op::Reject { gate, .. }) => {
                refusal = Some(why.clone());
                Ok(vec![Event::ApprovalRefused {
                    gate: gate.clone(),
                    asked: if matches!(op, Op::Approve { .. }) {
                        "approve"
                    } else {
                        "reject"
                    }
                    .into(),
                    reason: why,
                }])
            }
            (Err(e), _) => Err(e.into()),
        }
    })?;
    if let Some(why) = refusal {
        return Err(SubmitError::Op(OpError::Refused(why)));
    }
    let last = written.last().expect("one event appended");
    let linked = match op {
        Op::Rollback { stage, .. } => {
            let before = ReleaseState::from_records(&seen);
            let envs = rollback_envs(&before, stage.as_deref());
            let plan_dir = rdir.path.parent().unwrap_or(std::path::Path::new("."));
            super::incidents::Incidents::at(plan_dir)
                .link(actor, &envs, &rdir.id, "rollback", Some(last.seq))
                .map_err(|e| e.to_string())
        }
        _ => Ok(Vec::new()),
    };
    Ok(Submitted {
        seq: last.seq,
        kind: last.event.kind(),
        state: ReleaseState::from_records(seen.iter().chain(written.iter())),
        linked,
    })
}

/// The environments a rollback of `st` (from `stage` on: it and every stage that needs it,
/// directly or not; or all of it) touches: those where a stage in scope with a rollback command
/// has a successful deploy, as the driver's rollback order counts them.
pub fn rollback_envs(st: &ReleaseState, stage: Option<&str>) -> Vec<String> {
    let mut scope: Option<std::collections::BTreeSet<&str>> = stage.map(|s| [s].into());
    if let Some(set) = scope.as_mut() {
        loop {
            let before = set.len();
            for s in &st.stages {
                if s.decl.needs.iter().any(|n| set.contains(n.as_str())) {
                    set.insert(s.decl.id.as_str());
                }
            }
            if set.len() == before {
                break;
            }
        }
    }
    let mut envs: Vec<String> = Vec::new();
    for s in &st.stages {
        if scope.as_ref().is_some_and(|sc| !sc.contains(s.decl.id.as_str())) || !s.decl.has_rollback {
            continue;
        }
        let deployed = s.targets.iter().any(|t| {
            t.attempts
                .iter()
                .any(|a| a.outcome.as_ref().is_some_and(|o| o.is_success()))
        });
        if let Some(env) = &s.decl.environment
            && deployed
            && !envs.contains(env)
        {
            envs.push(env.clone());
        }
    }
    envs
}
