//! Reusable pieces of the views (pure: state in, cells out).

pub mod grid;
