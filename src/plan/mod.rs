//! `flightdeck.toml`: types, loading with spans (file:line:col), validation.

pub mod duration;
pub mod freeze;
mod hint;
mod load;
pub mod model;
mod raw;
mod source;
pub mod template;
mod validate;
pub mod workspace;

pub use duration::{format_duration, parse_duration};
pub use hint::did_you_mean;
pub use load::{PlanError, Problem, find_plan_file, load, load_str};
pub use model::*;
