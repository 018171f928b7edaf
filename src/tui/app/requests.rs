//! Acting on the release: each action checked against the state (a finished release is
//! read-only but for a rollback, which the driver accepts), confirmed when it is destructive (with the rollback preview, and the protected
//! environment's name to type), then sent as an [`Op`] for the loop to submit.

use super::Effect;
use crate::engine::request::Op;
use crate::engine::scheduler::{Scope, rollback_plan};
use crate::engine::state::{ReleaseState, StageStatus};
use crate::tui::action::Action;
use crate::tui::layout::Focus;
use crate::tui::modal::{Confirm, Modal, Prompt, PromptFor, Then};
use crate::tui::state::UiState;

impl UiState {
    /// The protected environment an op on the release touches, whose name must be typed.
    pub(super) fn protected_env(&self, op: &Op) -> Option<String> {
        let plan = self.plan.as_ref()?;
        let protected = |env: &Option<String>| {
            env.as_ref()
                .filter(|e| plan.environments.get(e.as_str()).is_some_and(|e| e.protected))
                .cloned()
        };
        let st = &self.release;
        match op {
            Op::Approve { gate, .. } | Op::Reject { gate, .. } => st
                .stages
                .iter()
                .filter(|s| s.decl.gates.contains(gate))
                .find_map(|s| protected(&s.decl.environment)),
            Op::Cancel => st
                .stages
                .iter()
                .filter(|s| {
                    s.status == StageStatus::Running
                        || st
                            .env_holds
                            .iter()
                            .any(|e| Some(e) == s.decl.environment.as_ref())
                })
                .find_map(|s| protected(&s.decl.environment)),
            Op::Rollback { stage, targets, .. } => {
                let order = rollback_plan(plan, st, Scope::new(stage.as_deref(), targets));
                order
                    .iter()
                    .find_map(|k| st.stage(&k.stage).and_then(|s| protected(&s.decl.environment)))
            }
            _ => None,
        }
    }

    /// The rollback preview: where a newer release is live that it would roll back, then what
    /// will be rolled back, in which order, on which targets, and what it leaves as it is (runs
    /// of stages without a rollback command). The same function decides what the driver runs
    /// ([`crate::engine::scheduler::rollback_plan`]).
    pub fn rollback_preview(&self, scope: Scope) -> Vec<String> {
        let Some(plan) = &self.plan else {
            return vec!["(the plan is not loaded: the order is the driver's to decide)".into()];
        };
        let order = rollback_plan(plan, &self.release, scope);
        let mut out = Vec::new();
        let newer = crate::engine::envs::newer_on(&self.places, &self.release, &order);
        if !newer.is_empty() {
            out.push(format!(
                "{}; roll back {} there anyway?",
                crate::engine::envs::newer_text(&newer),
                self.release.version
            ));
        }
        let place = |k: &crate::event::RunKey| {
            let env = self
                .release
                .stage(&k.stage)
                .and_then(|s| s.decl.environment.clone())
                .map(|e| format!("  [{e}]"))
                .unwrap_or_default();
            let target = k.target.as_ref().map(|t| format!(" on {t}")).unwrap_or_default();
            format!("{}{target} (attempt {}){env}", k.stage, k.attempt)
        };
        if order.is_empty() {
            out.push("Nothing to roll back: no completed stage with a rollback command.".into());
        } else {
            out.push(format!("In this order (newest first), {} run(s):", order.len()));
            for (i, k) in order.iter().enumerate() {
                out.push(format!("{:>3}. {}", i + 1, place(k)));
            }
        }
        let kept = crate::engine::scheduler::without_rollback(plan, &self.release, scope);
        if !kept.is_empty() {
            out.push(format!(
                "Left as they are (no rollback command), {} run(s):",
                kept.len()
            ));
            for k in &kept {
                out.push(format!("     {}", place(k)));
            }
        }
        out
    }

    /// Refuse (with a notice) what a release cannot take: none is open, or it has finished and
    /// `what` (approve, tick, re-check, cancel, resume) means nothing once it has. The notice
    /// says what can still be done with a finished release: the same as with the CLI.
    pub(super) fn can_act(&mut self, what: &str) -> bool {
        if !self.has_release(what) {
            return false;
        }
        if self.release.finished.is_some() {
            let key = |a: Action| {
                self.keymap
                    .keys(crate::tui::keymap::Layer::Global, a)
                    .first()
                    .map(|k| k.label())
                    .unwrap_or_default()
            };
            self.say(
                format!(
                    "release {} has finished ({}): nothing to {what} any more; {} rolls it back, {} retries a stage, {} starts a new release",
                    self.release.id,
                    self.release.state_word(false),
                    key(Action::Rollback),
                    key(Action::Retry),
                    key(Action::NewRelease),
                ),
                true,
            );
            return false;
        }
        true
    }

    /// Refuse (with a notice) when no release is open.
    fn has_release(&mut self, what: &str) -> bool {
        if self.release.id.is_empty() {
            self.say(format!("no release to {what}: `n` starts one"), true);
            return false;
        }
        true
    }

    /// The selected stage, to retry or skip. A finished release takes these too (a retry of a
    /// failed stage reopens it, as `flightdeck retry` does): the driver answers whether it can.
    pub(super) fn stage_for_action(&mut self, what: &str) -> Option<String> {
        if !self.has_release(what) {
            return None;
        }
        match self.release.stages.get(self.stage) {
            Some(s) => Some(s.decl.id.clone()),
            None => {
                self.say(format!("select a stage to {what}"), true);
                None
            }
        }
    }

    /// `X`: say no at the selected gate. The reason first, then a confirmation (the protected
    /// environment's name typed, as for an approval).
    pub(super) fn reject(&mut self) {
        if !self.can_act("reject") {
            return;
        }
        let Some(gi) = self.selected_gate() else {
            self.say("this release has no gates to reject at", true);
            return;
        };
        let gate = self.release.gates[gi].decl.name.clone();
        self.modal = Some(Modal::Prompt(crate::tui::modal::Prompt::new(
            crate::tui::modal::PromptFor::Reject { gate },
            "",
        )));
    }

    /// The confirmation of a rejection with its reason.
    pub(super) fn reject_confirm(&mut self, gate: String, reason: String) {
        let op = Op::Reject {
            gate: gate.clone(),
            reason: reason.clone(),
        };
        let rollback = self
            .keymap
            .keys(crate::tui::keymap::Layer::Global, Action::Rollback)
            .first()
            .map(|k| k.label())
            .unwrap_or_default();
        let body = vec![
            format!("Reason: {reason}"),
            format!(
                "Release {} ends rejected: its running commands are stopped, no further stage starts.",
                self.release.id
            ),
            format!("Nothing is rolled back; {rollback} rolls it back afterwards, if you decide to."),
        ];
        let typed = self.protected_env(&op);
        let title = format!("Reject release {} at gate {gate}?", self.release.id);
        self.modal = Some(Modal::Confirm(Confirm::new(title, body, Then::Submit(op), typed)));
    }

    pub(super) fn approve(&mut self) {
        if !self.can_act("approve") {
            return;
        }
        let Some(gi) = self.selected_gate() else {
            self.say("this release has no gates to approve", true);
            return;
        };
        let g = &self.release.gates[gi];
        let op = Op::Approve {
            gate: g.decl.name.clone(),
            note: String::new(),
            signed: None,
        };
        let mut body = vec![format!(
            "{} of {} approvals so far{}",
            g.counted(),
            g.decl.approvals,
            if g.approvals.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    g.approvals
                        .iter()
                        .map(|a| a.actor.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )];
        body.push(format!(
            "checklist: {}/{} done",
            g.items_done(),
            g.decl.checklist.len()
        ));
        for m in g.missing() {
            body.push(format!("  still missing: {m}"));
        }
        let typed = self.protected_env(&op);
        let title = format!("Approve gate {}?", g.decl.name);
        self.modal = Some(Modal::Confirm(Confirm::new(title, body, Then::Submit(op), typed)));
    }

    pub(super) fn tick(&mut self) {
        if !self.can_act("tick") {
            return;
        }
        let Some(gi) = self.selected_gate() else {
            self.say("this release has no checklist", true);
            return;
        };
        let g = &self.release.gates[gi];
        let item = if self.focus == Focus::Checklist {
            self.item
        } else {
            // Not chosen in the checklist: the first manual item still open (and not being
            // ticked already: a second `t` right after the first ticks the next item).
            let in_flight = |i: usize| {
                self.ticking
                    .iter()
                    .any(|(gate, item)| *gate == g.decl.name && *item == i)
            };
            match (0..g.decl.checklist.len())
                .find(|&i| !g.decl.checklist[i].1 && g.ticks[i].is_none() && !in_flight(i))
            {
                Some(i) => i,
                None => {
                    let name = g.decl.name.clone();
                    self.say(format!("gate {name}: every manual item is ticked"), false);
                    return;
                }
            }
        };
        match g.decl.checklist.get(item) {
            None => self.say(format!("gate {} has no checklist items", g.decl.name), true),
            Some((text, true)) => self.say(
                format!(
                    "item {} \"{text}\" is an automatic check: `e` runs it again",
                    item + 1
                ),
                true,
            ),
            Some((text, false)) => {
                let purpose = PromptFor::Tick {
                    gate: g.decl.name.clone(),
                    item,
                    text: text.clone(),
                };
                self.modal = Some(Modal::Prompt(Prompt::new(purpose, "")));
            }
        }
    }

    pub(super) fn recheck(&mut self, fx: &mut Vec<Effect>) {
        if !self.can_act("re-check") {
            return;
        }
        let Some(gi) = self.selected_gate() else {
            self.say("this release has no checklist", true);
            return;
        };
        let g = &self.release.gates[gi];
        let auto: Vec<usize> = (0..g.decl.checklist.len())
            .filter(|&i| g.decl.checklist[i].1)
            .collect();
        let item = if auto.contains(&self.item) {
            Some(self.item)
        } else {
            auto.first().copied()
        };
        match item {
            Some(item) => fx.push(Effect::Submit(Op::Recheck {
                gate: g.decl.name.clone(),
                item,
            })),
            None => self.say(format!("gate {} has no automatic checks", g.decl.name), true),
        }
    }

    pub(super) fn retry(&mut self, fx: &mut Vec<Effect>) {
        let Some(stage) = self.stage_for_action("retry") else {
            return;
        };
        let s = &self.release.stages[self.stage];
        let target = if s.decl.targets.is_empty() {
            None
        } else {
            s.targets.get(self.target).and_then(|t| t.target.clone())
        };
        // A fan-out stage: the selected target when it failed, else the whole stage.
        let target = target.filter(|_| {
            s.targets
                .get(self.target)
                .and_then(|t| t.last())
                .and_then(|a| a.outcome.as_ref())
                .is_some_and(|o| !o.is_success())
        });
        fx.push(Effect::Submit(Op::Retry { stage, target }));
    }

    pub(super) fn cancel(&mut self) {
        if !self.can_act("cancel") {
            return;
        }
        let op = Op::Cancel;
        let typed = self.protected_env(&op);
        let running: Vec<String> = self
            .release
            .running_runs()
            .iter()
            .map(|(k, _, _)| match &k.target {
                Some(t) => format!("  {}/{t}", k.stage),
                None => format!("  {}", k.stage),
            })
            .collect();
        let mut body = vec![format!(
            "Cancel release {} ({})?",
            self.release.id, self.release.version
        )];
        if running.is_empty() {
            body.push("Nothing is running; no further stage will start.".into());
        } else {
            body.push("Running now (SIGTERM, a grace period, then SIGKILL):".into());
            body.extend(running);
        }
        self.modal = Some(Modal::Confirm(Confirm::new(
            "Cancel the release?",
            body,
            Then::Submit(op),
            typed,
        )));
    }

    /// Roll back, wherever the driver would accept it ([`crate::engine::scheduler::rollback_request`]):
    /// also on a finished release, as `flightdeck rollback` does; on a `rollback_failed` one it
    /// retries the rollback runs that did not succeed.
    ///
    /// With targets marked (Space): the marked set first. With the pipeline focused on a
    /// fanned-out stage's target: that target (on its environment). Tab offers the others: from
    /// the selected stage on, then the whole release.
    pub(super) fn rollback(&mut self) {
        if self.release.id.is_empty() {
            self.say("no release to roll back: `n` starts one", true);
            return;
        }
        // From the selected stage when the pipeline has the focus and a stage was chosen; the
        // whole release otherwise.
        let chosen = (self.focus == Focus::Pipeline && !self.auto_select)
            .then(|| self.release.stages.get(self.stage))
            .flatten();
        let from = chosen.map(|s| s.decl.id.clone());
        let mut scopes: Vec<(Option<String>, Vec<String>)> = Vec::new();
        if !self.marked.is_empty() {
            scopes.push((None, self.marked.clone()));
        }
        if let Some(t) = self.selected_target_place()
            && (self.marked.len() != 1 || self.marked[0] != t)
        {
            scopes.push((None, vec![t]));
        }
        if from.is_some() {
            scopes.push((from, Vec::new()));
        }
        scopes.push((None, Vec::new()));
        let mut choices: Vec<Confirm> = Vec::new();
        let mut orders = Vec::new();
        for (i, (from, targets)) in scopes.iter().enumerate() {
            let scope = Scope::new(from.as_deref(), targets);
            if let Some(plan) = &self.plan {
                match crate::engine::scheduler::rollback_request(plan, &self.release, scope) {
                    // The first choice is what was asked for: why not is said; the others are
                    // offered only when they can be done, and differ from those before them
                    // (from the first stage is the whole release).
                    Err(why) if i == 0 => {
                        let id = self.release.id.clone();
                        self.say(format!("cannot roll back release {id}: {why}"), true);
                        return;
                    }
                    Err(_) => continue,
                    Ok(order) if orders.contains(&order) => continue,
                    Ok(order) => orders.push(order),
                }
            }
            choices.push(self.rollback_confirm(scope));
        }
        let mut first = choices.remove(0);
        first.others = choices;
        self.modal = Some(Modal::Confirm(first));
    }

    /// Space: mark the selected target of a fanned-out stage, or unmark it.
    pub(super) fn toggle_mark(&mut self) {
        let Some(place) = self.selected_target_place() else {
            self.say(
                "select a target of a fanned-out stage in the pipeline to mark it (←/→)",
                true,
            );
            return;
        };
        let rollback = self
            .keymap
            .keys(crate::tui::keymap::Layer::Global, Action::Rollback)
            .first()
            .map(|k| k.label())
            .unwrap_or_default();
        if let Some(i) = self.marked.iter().position(|m| *m == place) {
            self.marked.remove(i);
            let left = match self.marked.len() {
                0 => "none marked".to_string(),
                n => format!("{n} marked"),
            };
            self.say(format!("{place} unmarked ({left})"), false);
        } else {
            self.marked.push(place.clone());
            self.say(
                format!(
                    "{place} marked ({} marked: {rollback} rolls back the marked targets)",
                    self.marked.len()
                ),
                false,
            );
        }
    }

    /// The confirmation of one rollback choice.
    fn rollback_confirm(&self, scope: Scope) -> Confirm {
        let retrying = scope.is_whole()
            && self.release.finished.is_some()
            && self
                .release
                .rollback
                .as_ref()
                .is_some_and(|r| r.finished != Some(true));
        let forced_over = self
            .plan
            .as_ref()
            .map(|plan| {
                let order = rollback_plan(plan, &self.release, scope);
                crate::engine::envs::newer_on(&self.places, &self.release, &order)
                    .iter()
                    .map(|n| n.describe())
                    .collect()
            })
            .unwrap_or_default();
        let op = Op::Rollback {
            stage: scope.from.map(String::from),
            targets: scope.targets.to_vec(),
            forced_over,
        };
        let typed = self.protected_env(&op);
        let on = scope.targets_text();
        let title = match scope.from {
            Some(s) if !scope.targets.is_empty() => format!("Roll back from stage {s} on {on}?"),
            Some(s) => format!("Roll back from stage {s}?"),
            None if !scope.targets.is_empty() => {
                format!("Roll back {} on {on} only?", self.release.version)
            }
            None if retrying => "Retry the rollback?".to_string(),
            None => format!("Roll back release {}?", self.release.id),
        };
        let mut body = self.rollback_preview(scope);
        if retrying {
            body.insert(
                0,
                "The last rollback did not finish: these runs did not succeed and run again.".into(),
            );
        }
        Confirm::new(title, body, Then::Submit(op), typed)
    }

    pub(super) fn resume(&mut self) {
        if !self.can_act("resume") {
            return;
        }
        if self.driver.is_some() {
            self.say(format!("release {} has a live driver", self.release.id), true);
            return;
        }
        self.modal = Some(Self::resume_offer(&self.release));
    }

    /// The offer to resume a release whose driver is gone.
    pub fn resume_offer(st: &ReleaseState) -> Modal {
        let running = st.running_runs().len();
        let body = vec![
            format!(
                "Release {} ({}) is unfinished and no driver runs it.",
                st.id, st.version
            ),
            if running > 0 {
                format!("{running} run(s) were left running: they are ended and retried as new attempts.")
            } else {
                "Nothing was left running.".into()
            },
            "Resuming starts a background driver (like `flightdeck resume --detach`).".into(),
            "y / Enter: resume    n / Esc: just watch".into(),
        ];
        Modal::Confirm(Confirm::new("Resume this release?", body, Then::Resume, None))
    }
}
