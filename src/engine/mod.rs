//! The driver and everything it needs. No UI crate is imported here.

pub mod event;
pub mod output;
pub mod scheduler;
pub mod state;
pub mod driver;
pub mod runner;
