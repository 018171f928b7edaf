//! `flightdeck ws status` and `ws envs`: a workspace's plans side by side.
//! (Being written: see the workspace board work.)

use color_eyre::eyre::Result;

use super::{Context, usage};

impl Context {
    /// `ws status [--json]`.
    pub fn ws_status(&self, _json: bool) -> Result<u8> {
        Err(usage("ws status: not built yet"))
    }

    /// `ws envs [--json]`.
    pub fn ws_envs(&self, _json: bool) -> Result<u8> {
        Err(usage("ws envs: not built yet"))
    }
}
