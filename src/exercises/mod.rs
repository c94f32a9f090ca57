pub mod definition;
pub mod log_field_schema;
pub mod logging;
pub mod model;
pub mod recommend;
pub mod routes;
pub mod store;
pub mod translation;
