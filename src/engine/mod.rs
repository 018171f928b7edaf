//! The driver and everything it needs. No UI crate is imported here.

pub mod driver;
/// The journal's event types live in the leaf [`crate::event`]; `engine::event` is the same module.
pub use crate::event;
pub mod identity;
pub mod request;
pub mod runner;
pub mod scheduler;
pub mod state;
