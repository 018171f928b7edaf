//! The pipeline's target filter and the environments pane's drift data.

use std::sync::Arc;

use super::{Effect, step};
use crate::drift::overview::Overview;
use crate::tui::state::{TargetFilter, UiState};

impl UiState {
    /// The indexes of the selected stage's targets that the filter lets through, in order.
    pub fn visible_targets(&self) -> Vec<usize> {
        let Some(s) = self.release.stages.get(self.stage) else {
            return Vec::new();
        };
        s.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| self.target_filter.as_ref().is_none_or(|f| f.matches(t)))
            .map(|(i, _)| i)
            .collect()
    }

    /// Move the target selection within the filtered targets.
    pub(super) fn step_target(&mut self, back: bool) {
        let visible = self.visible_targets();
        if visible.is_empty() {
            return;
        }
        self.target = match visible.iter().position(|&i| i == self.target) {
            Some(p) => visible[step(p, back, visible.len())],
            // The selected target is filtered out: the nearest one the filter shows.
            None if back => visible
                .iter()
                .rev()
                .find(|&&i| i < self.target)
                .copied()
                .unwrap_or(visible[0]),
            None => visible
                .iter()
                .find(|&&i| i > self.target)
                .copied()
                .unwrap_or(visible[visible.len() - 1]),
        };
    }

    /// Keep the selected target among the filtered ones (when any matches).
    pub(super) fn fit_target_to_filter(&mut self) {
        if self.target_filter.is_none() {
            return;
        }
        let visible = self.visible_targets();
        if !visible.is_empty() && !visible.contains(&self.target) {
            self.target = visible[0];
        }
    }

    pub(super) fn set_filter(&mut self, filter: Option<TargetFilter>) {
        self.target_filter = filter;
        match &self.target_filter {
            None => self.say("target filter cleared", false),
            Some(f) => {
                let n = self.visible_targets().len();
                self.say(
                    format!("targets filtered by \"{}\": {n} shown (Esc clears)", f.text()),
                    false,
                );
            }
        }
        self.fit_target_to_filter();
    }

    /// Whether an answer about `release` is about the watched one (before its first records
    /// arrive, any is).
    pub(super) fn is_watched(&self, release: &str) -> bool {
        self.release.id.is_empty() || self.release.id == release
    }

    pub(super) fn refresh_drift(&mut self, fx: &mut Vec<Effect>) {
        if self.drift.probing {
            self.say("the drift probes are running already", false);
            return;
        }
        self.drift.probing = true;
        fx.push(Effect::ProbeDrift);
    }

    pub(super) fn drift_answer(
        &mut self,
        release: String,
        probed: bool,
        result: Result<Option<Arc<Overview>>, String>,
    ) {
        if !self.is_watched(&release) {
            return;
        }
        if probed {
            self.drift.probing = false;
        }
        self.drift.loaded = true;
        match result {
            Ok(o) => {
                self.drift.error = None;
                if o.is_some() || !probed {
                    self.drift.overview = o;
                }
            }
            Err(e) => {
                if probed {
                    self.say(format!("drift probes failed: {e}"), true);
                }
                self.drift.error = Some(e);
            }
        }
        let n = self.drift.overview.as_ref().map_or(0, |o| o.rows.len());
        self.drift.selected = self.drift.selected.min(n.saturating_sub(1));
        self.drift.key_scroll = 0;
    }
}
