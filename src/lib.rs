//! flightdeck: a terminal release cockpit. See `ARCHITECTURE.md` for the layout.

pub mod engine;
pub mod plan;
