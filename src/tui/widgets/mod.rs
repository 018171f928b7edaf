//! Reusable pieces of the views (pure: state in, cells out; the log view renders only what is
//! visible).

pub mod grid;
pub mod log_view;
pub mod text;
