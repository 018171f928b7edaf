//! `flightdeck.toml`: types, loading with spans (file:line:col), validation.

mod load;
pub mod model;
pub mod template;

pub use load::{PlanError, Problem, find_plan_file, load, load_str};
pub use model::*;
