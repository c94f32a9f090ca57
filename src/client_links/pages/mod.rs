//! The HTML pages a client link opens: server-rendered, no script, in the
//! client's language.

pub mod forms;
pub mod routes;
pub mod text;
pub mod views;
pub mod visit;
