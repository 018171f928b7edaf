//! `flightdeck rollback RELEASE [--stage S] [--target T]... [--force]`: checked here before it is
//! sent (targets the release has; no newer release live where it would roll back, unless
//! `--force`), then submitted like every request and answered by the driver.

use color_eyre::eyre::Result;

use super::{Answer, Context, load_state, refused, usage};
use crate::engine::envs::{newer_on, newer_text, places_of};
use crate::engine::request::Op;
use crate::engine::scheduler::{Scope, check_targets, rollback_request};

impl Context {
    /// Roll back `release` (default: the newest) from `stage` on, on `targets` (empty: all).
    /// Refused (exit 1) when another release went live since on an environment/target it would
    /// roll back, unless `force`.
    pub fn rollback(
        &self,
        release: Option<&str>,
        stage: Option<String>,
        targets: Vec<String>,
        force: bool,
    ) -> Result<Answer> {
        let rdir = self.find(release)?;
        let st = load_state(&rdir)?;
        check_targets(&st, &targets).map_err(usage)?;
        let plan = self.plan_for(&rdir)?;
        let mut forced_over = Vec::new();
        // What the driver would refuse, it refuses (and journals) itself.
        if let Ok(order) = rollback_request(&plan, &st, Scope::new(stage.as_deref(), &targets)) {
            let newer = newer_on(&places_of(&self.store()?, &plan)?, &st, &order);
            if !newer.is_empty() && !force {
                return Err(refused(format!(
                    "{}, newer than {} there; `flightdeck rollback {} --force` rolls it back anyway",
                    newer_text(&newer),
                    st.version,
                    st.id
                )));
            }
            // Forced: the journal says over what.
            forced_over = newer.iter().map(|n| n.describe()).collect();
        }
        self.request(
            Some(&rdir.id),
            Op::Rollback {
                stage,
                targets,
                forced_over,
            },
        )
    }
}
