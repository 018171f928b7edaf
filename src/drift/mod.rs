//! Drift and git awareness.
pub mod git;
