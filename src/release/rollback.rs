//! `flightdeck rollback RELEASE [--stage S] [--target T]... [--force]`: checked here before it is
//! sent (targets the release has; no newer release live where it would roll back, unless
//! `--force`), then submitted like every request and answered by the driver.

use color_eyre::eyre::Result;

use super::{Answer, Context, load_state, refused, usage};
use crate::engine::envs::{Newer, newer_on, newer_text, places_of};
use crate::engine::request::Op;
use crate::engine::scheduler::{Scope, check_targets, rollback_request};
use crate::engine::state::ReleaseState;
use crate::journal::ReleaseDir;

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
        let newer = self.newer_there(&rdir, &st, stage.as_deref(), &targets)?;
        if !newer.is_empty() && !force {
            return Err(refused(over_newer(&newer, &st)));
        }
        self.request(
            Some(&rdir.id),
            Op::Rollback {
                stage,
                targets,
                // Forced: the journal says over what.
                forced_over: newer.iter().map(|n| n.describe()).collect(),
            },
        )
    }

    /// The newer releases live or deploying where rolling `rdir` back (from `stage`, on
    /// `targets`) would roll back. What the driver would refuse for other reasons, it refuses
    /// (and journals) itself.
    pub fn newer_there(
        &self,
        rdir: &ReleaseDir,
        st: &ReleaseState,
        stage: Option<&str>,
        targets: &[String],
    ) -> Result<Vec<Newer>> {
        let plan = self.plan_for(rdir)?;
        Ok(match rollback_request(&plan, st, Scope::new(stage, targets)) {
            Ok(order) => newer_on(&places_of(&self.store()?, &plan)?, st, &order),
            Err(_) => Vec::new(),
        })
    }
}

/// Why a rollback over `newer` is refused, and how to do it anyway.
pub fn over_newer(newer: &[Newer], st: &ReleaseState) -> String {
    format!(
        "{}, newer than {} there; `flightdeck rollback {} --force` rolls it back anyway",
        newer_text(newer),
        st.version,
        st.id
    )
}
