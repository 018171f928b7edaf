//! What the cockpit needs to act ([`Launcher`]), and the real one: a [`Context`], which starts
//! releases and detached drivers the way `run --detach` does.

use super::Context;
use crate::journal::ReleaseDir;
use crate::plan::ReleaseType;

/// What the cockpit needs from the program around it to act: who the user is, and how to start
/// a release or a driver (a [`Context`] starts them as `run --detach` does).
pub trait Launcher: Send + Sync {
    /// The acting person (as the engine defines identity).
    fn actor(&self) -> String;
    /// Create a release of the plan and start its detached driver; returns its folder.
    fn start_release(&self, version: &str, rtype: ReleaseType) -> Result<ReleaseDir, String>;
    /// Start a detached driver for an existing release (resume, or a request needing a driver).
    fn start_driver(&self, rdir: &ReleaseDir) -> Result<(), String>;
    /// The suggested next version and type (`flightdeck next`).
    fn suggest(&self) -> Result<(String, ReleaseType), String>;
}

/// How the cockpit acts: as this user, starting drivers the way `run --detach` does.
impl Launcher for Context {
    fn actor(&self) -> String {
        Context::actor(self)
    }

    fn start_release(&self, version: &str, rtype: ReleaseType) -> std::result::Result<ReleaseDir, String> {
        let rdir = self
            .create_release(Some(version), Some(rtype))
            .map_err(|e| format!("{e:#}"))?;
        self.start_driver(&rdir)?;
        Ok(rdir)
    }

    fn start_driver(&self, rdir: &ReleaseDir) -> std::result::Result<(), String> {
        match self.spawn_driver(rdir, false) {
            Ok(Ok(_child)) => Ok(()),
            Ok(Err(_)) => Err(format!("release {} is driven by another process", rdir.id)),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    fn suggest(&self) -> std::result::Result<(String, ReleaseType), String> {
        let plan = self.load_plan().map_err(|e| format!("{e:#}"))?;
        crate::drift::git::suggest_next(&plan)
            .map(|s| (s.version, s.rtype))
            .map_err(|e| e.to_string())
    }
}
