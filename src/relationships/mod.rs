//! Relationships: clients linked for joint work (typically a couple), and
//! the profile that sets the members' leans side by side.

pub mod model;
pub mod patterns;
pub mod routes;
pub mod store;
