//! The driver and everything it needs. No UI crate is imported here.

pub mod event;
