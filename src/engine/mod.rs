//! The driver and everything it needs. No UI crate is imported here.

pub mod board;
pub mod driver;
pub mod envs;
pub mod freezes;
pub mod history;
pub mod identity;
pub mod incidents;
pub mod metrics;
pub mod notify;
pub mod plan_journal;
pub mod request;
pub mod reviews;
pub mod runner;
pub mod scheduler;
pub mod state;
pub mod train;
