//! flightdeck: a terminal release cockpit. See `ARCHITECTURE.md` for the layout.

pub mod ansi;
pub mod cli;
pub mod demo;
pub mod drift;
pub mod engine;
pub mod files;
pub mod headless;
pub mod journal;
pub mod plan;
pub mod release;
pub mod term;
pub mod tui;
