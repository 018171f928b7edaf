//! Redeploying from the environments pane: `P` on an environment's row (or on a release of its
//! history overlay) asks what `flightdeck redeploy [VERSION] --env ENV` would run (the previous
//! live release there, or the version chosen; the stages on it),
//! shows it in a confirmation (the environment's name to type when it is protected), and starts
//! that release as `redeploy --detach` does.

use super::Effect;
use crate::release::Redeploy;
use crate::tui::layout::Focus;
use crate::tui::modal::{Confirm, Modal, Then};
use crate::tui::state::UiState;

impl UiState {
    /// `P`: redeploy the previous live release to the selected environment.
    pub(super) fn redeploy(&mut self, fx: &mut Vec<Effect>) {
        if self.focus != Focus::Drift {
            self.say(
                "select an environment in the environments pane to redeploy to (Tab to it, ↑/↓)",
                true,
            );
            return;
        }
        match self.selected_env() {
            Some(env) => fx.push(Effect::PlanRedeploy { env, version: None }),
            None => self.say("no environment selected to redeploy to", true),
        }
    }

    /// The answer to [`Effect::PlanRedeploy`]: the confirmation, or why not.
    pub(super) fn redeploy_offer(&mut self, r: Result<Redeploy, String>) {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                self.say(format!("cannot redeploy: {e}"), true);
                return;
            }
        };
        let protected = self
            .plan
            .as_ref()
            .and_then(|p| p.environments.get(&r.env))
            .is_some_and(|e| e.protected);
        let mut body = vec![format!(
            "A release of type rollback deploys {} to {} again:",
            r.version, r.env
        )];
        for stage in &r.stages {
            let targets = self
                .plan
                .as_ref()
                .and_then(|p| p.environments.get(&r.env))
                .filter(|e| !e.targets.is_empty())
                .map(|e| format!(" on {}", e.targets.join(", ")))
                .unwrap_or_default();
            body.push(format!("  runs {stage}{targets}"));
        }
        match &r.source {
            Some(s) => {
                let commit = s
                    .commit
                    .as_deref()
                    .map(|c| format!(", commit {}", &c[..c.len().min(7)]))
                    .unwrap_or_default();
                body.push(format!("It ships what release {} shipped{commit}.", s.id));
            }
            None => body.push(format!("No finished release of {} is known.", r.version)),
        }
        body.push("Its other stages do not run; the gates that apply to rollback releases do.".into());
        if !protected {
            body.push("y / Enter: redeploy    n / Esc: cancel".into());
        }
        let title = format!("Redeploy {} to {}?", r.version, r.env);
        let then = Then::Start {
            version: r.version.clone(),
            rtype: crate::plan::ReleaseType::Rollback,
            scope: r.scope(),
        };
        let typed = protected.then(|| r.env.clone());
        self.modal = Some(Modal::Confirm(Confirm::new(title, body, then, typed)));
    }
}
