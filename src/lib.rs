//! flightdeck: a terminal release cockpit. See `docs/ARCHITECTURE.md` for the layout and its rules.

pub mod ansi;
pub mod cli;
pub mod demo;
pub mod drift;
pub mod engine;
pub mod event;
pub mod files;
pub mod git;
pub mod headless;
pub mod journal;
pub mod mask;
pub mod pgstore;
pub mod plan;
pub mod procgroup;
pub mod release;
pub mod runlog;
pub mod sign;
pub mod term;
pub mod tui;
