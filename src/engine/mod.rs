//! The driver and everything it needs. No UI crate is imported here.

pub mod driver;
pub mod event;
pub mod identity;
pub mod output;
pub mod request;
pub mod runner;
pub mod scheduler;
pub mod state;
